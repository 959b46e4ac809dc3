//! Lexical comment finding from a table of comment tokens, for files with no grammar (.env,
//! INI, SQL, Makefile, ...), for files whose parse ran out of time, and for recovering block
//! comments that are never closed.
//!
//! It knows line comments, block comments, single-line `"`/`'` strings and the language's
//! multi-line strings (`"""`, Lua's `[[`, PowerShell's `@"`); that is tokei's level of
//! understanding, and it is linear in the file size whatever the input. Block tokens that start
//! with `=` (Perl's POD, Ruby's `=begin`) only count at the start of a line, as in those
//! languages, so `$x =pod` is code.

use std::ops::Range;

use super::{Language, LexicalRules};

/// A comment found in the text: byte range, and whether it is a block comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawComment {
    pub start: usize,
    pub end: usize,
    pub block: bool,
    /// For block comments: the closing token was never found.
    pub unterminated: bool,
}

/// Find every comment in `text` using the language's comment and string tokens.
pub fn scan(lang: &Language, text: &str) -> Vec<RawComment> {
    scan_range(lang, text, 0, text.len())
}

/// The comments that start in `from..until`, scanning from `from` as if a line (and no string
/// or comment) started there; a comment or string that starts before `until` is followed to its
/// end. Used to read the part of a file a syntax error hides from tree-sitter.
pub fn scan_range(lang: &Language, text: &str, from: usize, until: usize) -> Vec<RawComment> {
    scan_inner(&Tokens::of(lang), text, (from, until), None)
}

/// [`scan`], and the tokens it skipped whole (strings, block comments, heredocs, block
/// scalars), in order: a scan that resumes at a line start strictly inside one of them reads
/// differently from this one, and one that resumes anywhere else reads the same from there.
pub(crate) fn scan_with_spans(lang: &Language, text: &str) -> (Vec<RawComment>, Vec<Range<usize>>) {
    let mut spans = Vec::new();
    let comments = scan_inner(&Tokens::of(lang), text, (0, text.len()), Some(&mut spans));
    (comments, spans)
}

/// [`scan`] with explicit tokens and no multi-line strings.
pub fn scan_tokens(line: &[&str], block: &[(&str, &str)], text: &str) -> Vec<RawComment> {
    scan_with_strings(line, block, &[], text)
}

/// [`scan`] with explicit tokens.
pub fn scan_with_strings(
    line: &[&str],
    block: &[(&str, &str)],
    strings: &[(&str, &str)],
    text: &str,
) -> Vec<RawComment> {
    scan_inner(
        &Tokens {
            line,
            block,
            strings,
            rules: LexicalRules::default(),
        },
        text,
        (0, text.len()),
        None,
    )
}

/// The token columns of a table row.
struct Tokens<'t> {
    line: &'t [&'t str],
    block: &'t [(&'t str, &'t str)],
    strings: &'t [(&'t str, &'t str)],
    rules: LexicalRules,
}

impl Tokens<'static> {
    fn of(lang: &Language) -> Self {
        Tokens {
            line: lang.line_comments,
            block: lang.block_comments,
            strings: lang.multiline_strings,
            rules: lang.lexical_rules(),
        }
    }
}

/// The scan; `spans`, when given, collects the tokens skipped whole (see [`scan_with_spans`]).
fn scan_inner(
    tokens: &Tokens<'_>,
    text: &str,
    (from, until): (usize, usize),
    mut spans: Option<&mut Vec<Range<usize>>>,
) -> Vec<RawComment> {
    let mut span = |r: Range<usize>| {
        if let Some(spans) = spans.as_deref_mut() {
            spans.push(r);
        }
    };
    let Tokens {
        line,
        block,
        strings,
        rules,
    } = *tokens;
    let bytes = text.as_bytes();
    let until = until.min(bytes.len());
    // Bytes that can start something (a comment or string token, a quote). Any other byte only
    // moves the scan on by one, so the scan jumps from one of these to the next: the same
    // result, without matching every token at every byte (the fallback for pathological files
    // must be fast, even in a debug build).
    let mut starts = [false; 256];
    for token in line
        .iter()
        .chain(block.iter().map(|(o, _)| o))
        .chain(strings.iter().map(|(o, _)| o))
    {
        if let Some(&first) = token.as_bytes().first() {
            starts[usize::from(first)] = true;
        }
    }
    starts[usize::from(b'"')] = true;
    starts[usize::from(b'\'')] = true;
    if rules.slash_regex {
        starts[usize::from(b'/')] = true;
    }
    for opener in rules.heredocs {
        starts[usize::from(opener.as_bytes()[0])] = true;
    }
    if rules.block_scalars {
        starts[usize::from(b'|')] = true;
        starts[usize::from(b'>')] = true;
    }
    let mut out = Vec::new();
    let mut i = from;
    let mut quote: Option<u8> = None;
    let mut quote_start = 0;
    while i < until {
        if let Some(q) = quote {
            // Inside a quoted string only a backslash, the closing quote or a line end matter.
            let Some(p) = memchr::memchr3(b'\\', q, b'\n', &bytes[i..]) else {
                break;
            };
            i += p;
            if bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            quote = None;
            i += 1;
            span(quote_start..i);
            continue;
        }
        match bytes[i..until].iter().position(|&b| starts[usize::from(b)]) {
            Some(p) => i += p,
            None => break,
        }
        let b = bytes[i];
        let rest = &bytes[i..];
        let line_start = i == 0 || bytes[i - 1] == b'\n';
        if let Some((open, close)) = block.iter().find(|(o, _)| {
            rest.starts_with(o.as_bytes())
                && (line_start || !o.starts_with('='))
                && !line.contains(o)
        }) {
            // First token of its line (after indentation)? Only asked of a block opener.
            // A string prefix (`r` in `r"""`) may come before it.
            let first_on_line = || {
                bytes[..i]
                    .iter()
                    .rev()
                    .take_while(|&&b| b != b'\n')
                    .skip_while(|b| b"rRbBuUfF".contains(b))
                    .all(|b| *b == b' ' || *b == b'\t')
            };
            if rules.statement_blocks && !first_on_line() {
                // `x = """...` is a string, not a docstring.
                let body_start = i + open.len();
                let start = i;
                i = memchr::memmem::find(&bytes[body_start..], close.as_bytes())
                    .map_or(bytes.len(), |p| body_start + p + close.len());
                span(start..i);
                continue;
            }
            let body_start = i + open.len();
            let found = if open.starts_with('=') {
                // `=cut` and `=end` close only at the start of a line, too.
                find_at_line_start(&bytes[body_start..], close.as_bytes())
            } else {
                memchr::memmem::find(&bytes[body_start..], close.as_bytes())
            };
            let (end, unterminated) = match found {
                Some(p) => (body_start + p + close.len(), false),
                None => (bytes.len(), true),
            };
            out.push(RawComment {
                start: i,
                end,
                block: true,
                unterminated,
            });
            span(i..end);
            i = end;
            continue;
        }
        let at_boundary = i == 0 || bytes[i - 1].is_ascii_whitespace();
        // `//` after a statement's end (`f();// x`) is a comment too; `#` after `$` or `{` is
        // shell syntax (`$#`, `${#a}`), and `//` after `:` is a URL, so only these count.
        let after_code = i > 0
            && b == b'/'
            && matches!(bytes[i - 1], b';' | b')' | b'}' | b']' | b',' | b'(' | b'{');
        if (at_boundary || after_code) && line.iter().any(|t| rest.starts_with(t.as_bytes())) {
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
        if let Some((open, close)) = strings.iter().find(|(o, _)| rest.starts_with(o.as_bytes())) {
            let body_start = i + open.len();
            // An unterminated string runs to the end of the file, as it does for the compiler.
            let start = i;
            i = memchr::memmem::find(&bytes[body_start..], close.as_bytes())
                .map_or(bytes.len(), |p| body_start + p + close.len());
            span(start..i);
            continue;
        }
        if rules.slash_regex && b == b'/' && operand_expected(bytes, i) {
            i = regex_end(bytes, i);
            continue;
        }
        if let Some(end) = heredoc_end(rules.heredocs, bytes, i) {
            // The rest of the opener's line is code; the body lines are text.
            let eol = memchr::memchr(b'\n', rest).map_or(bytes.len(), |p| i + p);
            out.extend(scan_inner(tokens, text, (i + 2, eol), None));
            span(i..end.max(eol));
            i = end.max(eol);
            continue;
        }
        if rules.block_scalars
            && let Some(end) = block_scalar_end(bytes, i)
        {
            let eol = memchr::memchr(b'\n', rest).map_or(bytes.len(), |p| i + p);
            out.extend(scan_inner(tokens, text, (i + 1, eol), None));
            span(i..end.max(eol));
            i = end.max(eol);
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            quote_start = i;
        }
        i += 1;
    }
    if quote.is_some() {
        span(quote_start..bytes.len());
    }
    out
}

/// Does a `/` at `at` start a regular expression literal rather than divide? It does where an
/// operand is expected: at the start, after an operator or opening punctuation, and after a
/// keyword such as `return`; not after a name, a number, `)` or `]`. (ECMAScript decides by
/// grammar; this is the usual lexer approximation, and a wrong guess costs one line at most,
/// since a literal never spans lines.)
fn operand_expected(bytes: &[u8], at: usize) -> bool {
    let before = &bytes[..at];
    let Some(end) = before.iter().rposition(|b| !b.is_ascii_whitespace()) else {
        return true;
    };
    let prev = before[end];
    if !(prev.is_ascii_alphanumeric()
        || matches!(prev, b'_' | b'$' | b')' | b']' | b'"' | b'\'' | b'`'))
    {
        return true;
    }
    let start = before[..=end]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$')))
        .map_or(0, |p| p + 1);
    REGEX_KEYWORDS.contains(&&before[start..=end])
}

/// JavaScript keywords after which a `/` starts a regular expression literal (the exact lexer
/// adds `extends`, where it refuses a regular expression rather than guess).
pub(crate) const REGEX_KEYWORDS: &[&[u8]] = &[
    b"return",
    b"typeof",
    b"instanceof",
    b"in",
    b"of",
    b"new",
    b"delete",
    b"void",
    b"throw",
    b"case",
    b"do",
    b"else",
    b"yield",
    b"await",
];

/// The end of the regular expression literal that starts at `at` (after its closing `/`; its
/// flags are ordinary letters). A `/` inside a class `[...]` or after `\` does not close it;
/// a line end does (the literal was a division after all).
fn regex_end(bytes: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    let mut class = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 1,
            b'\n' => return i,
            b'[' => class = true,
            b']' => class = false,
            b'/' if !class => return i + 1,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The end of the heredoc whose opener (one of `openers`) is at `at`: after the line that
/// holds only its identifier (indented, and followed by `;`, `,` or `)` in PHP), or the end of
/// the text. `None` when no heredoc starts there (`x << 2`, `<<<` in bash, `<<<<<<< HEAD`,
/// `<< eof` with a lower-case unquoted word, which is too often a shift).
fn heredoc_end(openers: &[&str], bytes: &[u8], at: usize) -> Option<usize> {
    let rest = &bytes[at..];
    if at > 0 && bytes[at - 1] == b'<' {
        return None; // inside a longer run of `<` (a conflict marker)
    }
    let opener = openers.iter().find(|o| rest.starts_with(o.as_bytes()))?;
    let mut i = at + opener.len();
    if bytes.get(i) == Some(&b'<') {
        return None; // bash's here-string `<<<`
    }
    let spaced = bytes.get(i) == Some(&b' ');
    if spaced {
        i += 1;
    }
    let quote = bytes.get(i).copied().filter(|b| matches!(b, b'\'' | b'"'));
    if quote.is_some() {
        i += 1;
    }
    let id_start = i;
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        i += 1;
    }
    let id = &bytes[id_start..i];
    if id.is_empty() || id[0].is_ascii_digit() {
        return None;
    }
    if spaced && quote.is_none() && id.iter().any(u8::is_ascii_lowercase) {
        return None;
    }
    if let Some(q) = quote
        && bytes.get(i) != Some(&q)
    {
        return None;
    }
    let mut line = memchr::memchr(b'\n', &bytes[i..]).map(|p| i + p + 1)?;
    while line < bytes.len() {
        let next = memchr::memchr(b'\n', &bytes[line..]).map_or(bytes.len(), |p| line + p + 1);
        let content = bytes[line..next].trim_ascii();
        if let Some(after) = content.strip_prefix(id)
            && after.iter().all(|b| matches!(b, b';' | b',' | b')'))
        {
            return Some(next);
        }
        line = next;
    }
    Some(bytes.len())
}

/// The end of the YAML block scalar whose indicator (`|`, `>`, with chomping and indentation
/// indicators) is at `at`, after `: ` or `- `: the following lines that are blank or more
/// indented than the indicator's line are text. `None` when `at` is no indicator.
fn block_scalar_end(bytes: &[u8], at: usize) -> Option<usize> {
    let before = bytes[..at].strip_suffix(b" ")?;
    if !(before.ends_with(b":") || before.ends_with(b"-")) {
        return None;
    }
    let mut i = at + 1;
    while bytes
        .get(i)
        .is_some_and(|b| matches!(b, b'+' | b'-' | b'0'..=b'9'))
    {
        i += 1;
    }
    let eol = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |p| i + p);
    let tail = bytes[i..eol].trim_ascii();
    if !(tail.is_empty() || tail.starts_with(b"#")) {
        return None;
    }
    let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
    let indent = |from: usize| bytes[from..].iter().take_while(|b| **b == b' ').count();
    let parent = indent(line_start);
    let mut line = (eol + 1).min(bytes.len());
    while line < bytes.len() {
        let next = memchr::memchr(b'\n', &bytes[line..]).map_or(bytes.len(), |p| line + p + 1);
        let blank = bytes[line..next].trim_ascii().is_empty();
        if !blank && indent(line) <= parent {
            return Some(line);
        }
        line = next;
    }
    Some(bytes.len())
}

/// Offset of the first `token` in `hay` that starts a line (a `\n` before it, or `hay`'s start).
fn find_at_line_start(hay: &[u8], token: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&hay[from..], token) {
        let at = from + p;
        if at == 0 || hay[at - 1] == b'\n' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The merge-conflict marker that `line` (the text from a line's start on) starts with, as git
/// writes them: seven `<`, `=` or `>`, then a space or the line's end (`=======` then the
/// line's end). The exact lexers refuse a literal that spans such a line, because the
/// comments' recovery (`comments::conflicts`) makes it an error region.
pub(crate) fn conflict_marker(line: &[u8]) -> Option<u8> {
    let c = *line.first()?;
    let ok = matches!(c, b'<' | b'=' | b'>')
        && line.len() >= 7
        && line[..7].iter().all(|&b| b == c)
        && match line.get(7) {
            None | Some(b'\n' | b'\r') => true,
            Some(b' ') => c != b'=',
            _ => false,
        };
    ok.then_some(c)
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

    #[test]
    fn multiline_strings_hide_comment_tokens() {
        let text = "s = \"\"\"\n# not a comment\n\"\"\" # real\nt = [[\n-- no\n]] -- yes\n";
        let found = scan_with_strings(
            &["#", "--"],
            &[],
            &[("\"\"\"", "\"\"\""), ("[[", "]]")],
            text,
        );
        let texts: Vec<&str> = found.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(texts, ["# real", "-- yes"]);
    }

    #[test]
    fn equals_sign_blocks_only_at_line_start() {
        let text = "my $x =pod;\n=head1 NAME\n\nx =cut y\n=cut\nprint 1; # done\n";
        let found = scan_tokens(&["#"], &[("=pod", "=cut"), ("=head1", "=cut")], text);
        let texts: Vec<&str> = found.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(texts, ["=head1 NAME\n\nx =cut y\n=cut", "# done"]);
    }

    #[test]
    fn regex_literals_do_not_hide_comments() {
        let js = crate::lang::by_name("javascript").expect("javascript");
        for (text, comments) in [
            ("x = /[/*]/; // real\n/* b */", &["// real", "/* b */"][..]),
            ("x = /\\/*/; // real\n", &["// real"]),
            ("if (/[/]/.test(s)) return /a\\/b/g; /* c */", &["/* c */"]),
            (
                "y = a / b / c; // d\nz = f(x) / 2 /* e */",
                &["// d", "/* e */"],
            ),
            ("return /'/.test(s) // q\n", &["// q"]),
            ("f();// tight\n", &["// tight"]),
            ("x = 1 / /* z */ 2;\n", &["/* z */"]),
        ] {
            let found = scan(js, text);
            let texts: Vec<&str> = found.iter().map(|c| &text[c.start..c.end]).collect();
            assert_eq!(texts, comments, "{text}");
        }
        // Only languages whose grammar has regular expression literals read them.
        let c = crate::lang::by_name("c").expect("c");
        let text = "x = 1 /[/*]/ 2;";
        assert_eq!(scan(c, text).len(), 1);
    }

    fn texts(lang: &str, text: &str) -> Vec<String> {
        let lang = crate::lang::by_name(lang).expect("language");
        scan(lang, text)
            .iter()
            .map(|c| text[c.start..c.end].to_string())
            .collect()
    }

    #[test]
    fn heredocs_block_scalars_and_assigned_strings_are_text() {
        let sh = "cat <<'NOTE' # real\n# fake\nNOTE\necho $((1 << 2)) # two\ncat << EOF\n# fake\n  EOF\n# three\n";
        assert_eq!(texts("bash", sh), ["# real", "# two", "# three"]);
        let conflict = "<<<<<<< HEAD\n# ours\n=======\n# theirs\n>>>>>>> x\n";
        assert_eq!(texts("bash", conflict), ["# ours", "# theirs"]);
        let rb = "T = <<~TEXT\n  # fake\n  TEXT\n# real\n";
        assert_eq!(texts("ruby", rb), ["# real"]);
        let php = "$h = <<<'TXT'\n// fake\nTXT;\n// real\n";
        assert_eq!(texts("php", php), ["// real"]);
        let tf = "user_data = <<-EOT\n  # fake\n  EOT\n# real\n";
        assert_eq!(texts("hcl", tf), ["# real"]);
        let yaml = "run: | # real\n  # fake\n  make\n- >-\n   # fake\n# also real\nx: a | b # c\n";
        assert_eq!(texts("yaml", yaml), ["# real", "# also real", "# c"]);
        let py = "HELP = \"\"\"\n# fake\n\"\"\"\ndef f():\n    r\"\"\"doc\"\"\"\n# real\n";
        assert_eq!(
            texts("python", py),
            ["r\"\"\"doc\"\"\"".trim_start_matches('r'), "# real"]
        );
        let js = "<!-- a\nvar s = \"<!-- no\"; <!-- b -->\n";
        assert_eq!(texts("javascript", js), ["<!-- a", "<!-- b -->"]);
    }

    #[test]
    fn string_openers_are_not_comment_tokens() {
        // The multi-line string column is consulted after comments, so a row whose string
        // opener is also a comment token would hide its comments; none does.
        for lang in crate::lang::LANGUAGES {
            for (open, _) in lang.multiline_strings {
                assert!(
                    !lang.line_comments.iter().any(|t| open.starts_with(t)),
                    "{}: string opener {open} starts with a line comment token",
                    lang.name
                );
            }
        }
    }
}
