//! Lexical comment finding from a table of comment tokens, for files with no grammar (.env,
//! INI, SQL, Makefile, ...), for files whose parse ran out of time, and for recovering block
//! comments that are never closed.
//!
//! It knows line comments, block comments and single-line `"`/`'` strings; that is tokei's
//! level of understanding, and it is linear in the file size whatever the input.

use super::Language;

/// A comment found in the text: byte range, and whether it is a block comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawComment {
    pub start: usize,
    pub end: usize,
    pub block: bool,
    /// For block comments: the closing token was never found.
    pub unterminated: bool,
}

/// Find every comment in `text` using the language's comment tokens.
pub fn scan(lang: &Language, text: &str) -> Vec<RawComment> {
    scan_tokens(lang.line_comments, lang.block_comments, text)
}

pub fn scan_tokens(line: &[&str], block: &[(&str, &str)], text: &str) -> Vec<RawComment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q || b == b'\n' {
                quote = None;
            }
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if let Some((open, close)) = block.iter().find(|(o, _)| rest.starts_with(o.as_bytes())) {
            let body_start = i + open.len();
            let (end, unterminated) = match memchr::memmem::find(&bytes[body_start..], close.as_bytes()) {
                Some(p) => (body_start + p + close.len(), false),
                None => (bytes.len(), true),
            };
            out.push(RawComment {
                start: i,
                end,
                block: true,
                unterminated,
            });
            i = end;
            continue;
        }
        let at_boundary = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if at_boundary && line.iter().any(|t| rest.starts_with(t.as_bytes())) {
            let end = memchr::memchr(b'\n', rest).map_or(bytes.len(), |p| i + p);
            out.push(RawComment {
                start: i,
                end,
                block: false,
                unterminated: false,
            });
            i = end;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_line_and_block_comments() {
        let text = "a = 1 # one\n/* two\n */ b = \"# not\" -- x\n";
        let found = scan_tokens(&["#", "--"], &[("/*", "*/")], text);
        let texts: Vec<&str> = found.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(texts, ["# one", "/* two\n */", "-- x"]);
    }

    #[test]
    fn unterminated_block_runs_to_the_end() {
        let text = "x /* open\n@threat T";
        let found = scan_tokens(&[], &[("/*", "*/")], text);
        assert_eq!(found.len(), 1);
        assert!(found[0].unterminated);
        assert_eq!(found[0].end, text.len());
    }

    #[test]
    fn url_is_not_a_comment() {
        let found = scan_tokens(&["//"], &[], "x = http://example.com");
        assert!(found.is_empty());
    }
}
