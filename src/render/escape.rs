//! Escaping and encoding for the report formats, in one place so that every format treats
//! repository text (names, descriptions, paths: anything an annotation author wrote) the same
//! way: as untrusted input.
//!
//! - [`printable`]: text for any format: control characters, line breaks and Unicode
//!   bidirectional overrides are neutralised, so a name cannot reorder or hide what follows it.
//! - [`html`]: text and quoted attribute values in HTML and SVG.
//! - [`markdown`]: text in GitHub/GitLab Markdown, including table cells.
//! - [`slug`]: a file-name- and fragment-safe form of an id.
//! - [`percent_encode_segment`]: one URL path segment.
//! - [`sha256`] and [`base64`]: the Content-Security-Policy hash of the site's inline script.
//!
//! @component Threatmark:Renderer (#renderer) in #process [type: process]: reports, site, PR comments and SARIF from the model
//! @threat PR comment pings or links where an attacker chose (#markdown_ping) [stride: S; likelihood: likely; impact: minor; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a name or description with `@org/team`, `#123` or `https://evil.example` becomes, in a Markdown diff or report posted as a pull-request comment, a notification to people the attacker picked or a link under the project's name
//! @control Mentions, references and bare URLs in code spans (#markdown_neutralised): [`markdown`] puts every word GitHub would autolink in a code span; link targets threatmark writes go through [`markdown_url`]
//! @mitigates #renderer against #markdown_ping with #markdown_neutralised

/// Replace what must never reach a report verbatim: C0/C1 control characters (a line break or
/// tab becomes a space), Unicode bidirectional controls and invisible formatting characters
/// (shown as U+FFFD, so a reviewer sees that something was there).
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// HTML/XML escaping for text and double- or single-quoted attribute values (the same set
/// handlebars escapes).
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#x27;"),
            '`' => out.push_str("&#x60;"),
            '=' => out.push_str("&#x3D;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown escaping for inline text, table cells included: HTML is entity-encoded (GitHub and
/// GitLab render inline HTML), and every character that could start a link, an image, emphasis,
/// code, a heading, math, a footnote or a table cell boundary is backslash-escaped. `_` between
/// two letters or digits cannot start emphasis and is kept, so `shop_db` stays readable.
/// Line breaks become spaces, so a value never starts a block of its own.
///
/// Words that GitHub would turn into a notification or a link are put in code spans (see
/// [`autolinks`]): `@octocat`, `@org/team`, `#123`, `GH-123`, `owner/repo#123`,
/// `https://…`, `www.…` and `user@host`. Escaping does not stop them: GitHub finds mentions,
/// issue references and bare URLs in the rendered text, after backslash escapes and entities
/// (`\@`, `&#64;`) are decoded, and skips only code and existing links. A code span is what
/// GitHub's own documentation and renderer leave alone, it shows the text exactly as written,
/// and it needs no invisible character (a zero-width joiner, the usual trick, is itself what
/// reviewers and linters flag). Link targets that threatmark writes go through
/// [`markdown_url`] instead.
pub(crate) fn markdown(s: &str) -> String {
    let chars: Vec<char> = printable(s).chars().collect();
    let mut out = String::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        // A word that GitHub would autolink goes whole into a code span.
        if is_word_char(chars[i]) && (i == 0 || !is_word_char(chars[i - 1])) {
            let end = (i..chars.len())
                .find(|&j| !is_word_char(chars[j]))
                .unwrap_or(chars.len());
            if autolinks(&chars[i..end]) {
                out.push('`');
                out.extend(&chars[i..end]);
                out.push('`');
                i = end;
                continue;
            }
        }
        let c = chars[i];
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '_' => {
                let alnum = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                if alnum(i.checked_sub(1)) && alnum(Some(i + 1)) {
                    out.push('_');
                } else {
                    out.push_str("\\_");
                }
            }
            '\\' | '`' | '*' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// [`markdown`] for text that marks code with single backticks (a rule's rationale writes a
/// boundary as `` `aws` ``): each pair of backticks is kept as a code span, everything between
/// pairs goes through [`markdown`]. A code span is inert (no HTML, links, mentions or emphasis),
/// so text from a hostile rule file gains nothing by writing one; an unpaired or doubled
/// backtick is escaped, and so is a pair around `<`, `>` or `&` (no raw HTML is ever written,
/// as in [`markdown`]). In a table cell (`table`) a `|` inside a span is escaped as GFM wants.
pub(crate) fn markdown_with_code(s: &str, table: bool) -> String {
    let text = printable(s);
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close)
                if close > 0
                    && !after[..close].trim().is_empty()
                    && !after[..close].contains(['<', '>', '&']) =>
            {
                out.push_str(&markdown(&rest[..open]));
                let code = &after[..close];
                out.push('`');
                if table {
                    out.push_str(&code.replace('|', "\\|"));
                } else {
                    out.push_str(code);
                }
                out.push('`');
                rest = &after[close + 1..];
            }
            _ => {
                // `` ` `` alone or ``` `` ```: escaped, and the search goes on after it.
                out.push_str(&markdown(&rest[..=open]));
                rest = after;
            }
        }
    }
    out.push_str(&markdown(rest));
    out
}

/// HTML for text that marks code with single backticks, as [`markdown_with_code`]: each pair
/// becomes `<code>`, everything else is [`html`]-escaped.
pub(crate) fn html_with_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close) if close > 0 && !after[..close].trim().is_empty() => {
                out.push_str(&html(&rest[..open]));
                out.push_str("<code>");
                out.push_str(&html(&after[..close]));
                out.push_str("</code>");
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&html(&rest[..=open]));
                rest = after;
            }
        }
    }
    out.push_str(&html(rest));
    out
}

/// What may sit in a code span of [`markdown`]: not white space (a span never starts or ends
/// with it), not a backtick (it would end the span), not `|` (a table cell ends there even in
/// a code span) and not `<`, `>` or `&` (entity-encoded outside, so no raw HTML is ever written,
/// while a code span would show an entity as typed).
fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '`' | '|' | '<' | '>' | '&')
}

/// Whether GitHub would make a mention, an issue reference or a link of something in `word`:
/// `@` before a letter or digit (mentions, teams, e-mail addresses, `user@sha`), `#` before a
/// digit (`#123`, `owner/repo#123`), `GH-` before a digit (at the start or after punctuation
/// that does not join words), a `scheme://`, `www.` at the start
/// or after punctuation, `mailto:` and `xmpp:`.
fn autolinks(word: &[char]) -> bool {
    let lower: String = word.iter().flat_map(|c| c.to_lowercase()).collect();
    let l: Vec<char> = lower.chars().collect();
    let digit_at = |j: usize| l.get(j).is_some_and(char::is_ascii_digit);
    (0..l.len()).any(|j| match l[j] {
        '@' => l.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric()),
        '#' => digit_at(j + 1),
        // Not inside a slug such as `threat-gh-1`, which anchors are made of.
        'g' => {
            l[j..].starts_with(&['g', 'h', '-'])
                && digit_at(j + 3)
                && (j == 0 || !(l[j - 1].is_alphanumeric() || matches!(l[j - 1], '-' | '_' | '#')))
        }
        ':' => l[j..].starts_with(&[':', '/', '/']),
        'w' => l[j..].starts_with(&['w', 'w', 'w', '.']) && (j == 0 || !l[j - 1].is_alphanumeric()),
        _ => false,
    }) || lower.contains("mailto:")
        || lower.contains("xmpp:")
}

/// A link destination in Markdown (`[text](HERE)`), for URLs threatmark builds (the
/// `source_url` links): white space percent-encoded, `&` entity-encoded, and every character
/// that could end the destination, the link or a table cell backslash-escaped. Not for
/// repository prose: a URL here is meant to be a link.
pub(crate) fn markdown_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in printable(s).chars() {
        match c {
            ' ' => out.push_str("%20"),
            '&' => out.push_str("&amp;"),
            '\\' | '(' | ')' | '<' | '>' | '[' | ']' | '`' | '|' | '"' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A safe name for a file or a URL fragment: `[a-z0-9]` words joined by single `-` or `_`, at
/// most 48 characters. An id that is already of that form is kept; any other id (upper case,
/// `.`, `:`, `..`, `/`, non-ASCII, too long) is mapped to its cleaned form plus a short stable
/// hash of the original, so two ids never share a slug.
pub(crate) fn slug(id: &str) -> String {
    const MAX: usize = 48;
    let mut base = String::new();
    let mut sep: Option<char> = None;
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            if let Some(s) = sep.take()
                && !base.is_empty()
            {
                base.push(s);
            }
            base.push(c.to_ascii_lowercase());
        } else if sep.is_none() {
            sep = Some(if c == '_' { '_' } else { '-' });
        }
    }
    let exact = base == id && !base.is_empty() && base.len() <= MAX;
    if exact {
        return base;
    }
    let mut cut: String = base.chars().take(MAX - 9).collect();
    while cut.ends_with(['-', '_']) {
        cut.pop();
    }
    let hash = format!("{:08x}", crate::text::fnv1a(id.as_bytes()) as u32);
    if cut.is_empty() {
        format!("x-{hash}")
    } else {
        format!("{cut}-{hash}")
    }
}

/// Percent-encode one URL path segment (RFC 3986 unreserved characters are kept).
pub(crate) fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode a `/`-separated path segment by segment; `.` and `..` segments are encoded so
/// that a URL never climbs out of the folder the template points at.
pub(crate) fn percent_encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "." => "%2E".to_string(),
            ".." => "%2E%2E".to_string(),
            s => percent_encode_segment(s),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `'sha256-...'` source expression of a Content-Security-Policy for an inline script or
/// style with exactly this text.
pub(crate) fn csp_hash(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hash_matches_known_value() {
        // echo -n 'abc' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_hash("abc"),
            "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='"
        );
    }

    #[test]
    fn slugs_are_safe_and_distinct() {
        assert_eq!(slug("shop_db"), "shop_db");
        assert_eq!(slug("checkout-api"), "checkout-api");
        for hostile in [
            "..",
            "../etc/passwd",
            "a/b",
            "A",
            "a.b",
            "a:b",
            "",
            "日本",
            "a\\b",
        ] {
            let s = slug(hostile);
            assert!(!s.is_empty(), "{hostile}");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'_'),
                "{hostile} -> {s}"
            );
            assert!(!s.starts_with(['-', '_']), "{hostile} -> {s}");
        }
        assert_ne!(slug("a.b"), slug("a:b"));
        assert_ne!(slug("A"), slug("a"));
        assert!(slug(&"x".repeat(200)).len() <= 48);
        // A slug is unchanged by Markdown escaping, so it can sit in an HTML attribute there.
        for id in ["shop_db", "a.b", "x__y", "_lead"] {
            assert_eq!(markdown(&slug(id)), slug(id));
        }
    }

    #[test]
    fn markdown_neutralises_links_html_and_tables() {
        let m = markdown("[x](javascript:alert(1)) <img src=x onerror=alert(1)> | a_b _c_");
        assert!(!m.contains('<'));
        assert!(!m.contains("]("));
        assert!(m.contains("\\|"));
        assert!(m.contains("a_b"));
        assert!(m.contains("\\_c\\_"));
        assert_eq!(markdown("a\nb"), "a b");
    }

    #[test]
    fn markdown_puts_mentions_references_and_urls_in_code_spans() {
        for (text, want) in [
            ("ping @octocat now", "ping `@octocat` now"),
            ("team @acme/security.", "team `@acme/security.`"),
            ("fixes #123", "fixes `#123`"),
            ("see GH-45", "see `GH-45`"),
            ("see gh-45", "see `gh-45`"),
            ("in acme/app#7", "in `acme/app#7`"),
            (
                "go https://evil.example/x?a=1",
                "go `https://evil.example/x?a=1`",
            ),
            ("go www.evil.example", "go `www.evil.example`"),
            ("mail eve@evil.example", "mail `eve@evil.example`"),
            ("mailto:eve", "`mailto:eve`"),
            ("[x](https://e)", "`[x](https://e)`"),
            // Ends at what a code span must not hold.
            ("a|https://e<b>", "a\\|`https://e`&lt;b&gt;"),
            ("`@x`", "\\``@x`\\`"),
        ] {
            assert_eq!(markdown(text), want, "{text}");
        }
        // What GitHub does not link stays ordinary escaped text.
        for (text, want) in [
            ("threat #sqli", "threat \\#sqli"),
            ("@ alone, a @-sign", "@ alone, a @-sign"),
            ("C# and x#1y", "C\\# and `x#1y`"),
            ("fight-12", "fight-12"),
            ("awww.x", "awww.x"),
            ("#threat-gh-1", "\\#threat-gh-1"),
        ] {
            assert_eq!(markdown(text), want, "{text}");
        }
        // Anchors threatmark links to are unchanged in meaning.
        for id in ["gh-1", "www", "123", "a.b"] {
            let href = format!("#threat-{}", slug(id));
            assert!(!markdown(&href).contains('`'), "{href}");
        }
    }

    #[test]
    fn markdown_keeps_paired_backticks_as_code_spans() {
        assert_eq!(
            markdown_with_code("crosses `aws`, `k8s`", false),
            "crosses `aws`, `k8s`"
        );
        // Hostile text: HTML, links and mentions outside spans are neutralised; a span stays
        // a span (inert); an odd backtick is escaped; a pipe never ends a table cell.
        let m = markdown_with_code("<img src=x> `a|b` [x](http://e) @eve ` | ``", true);
        assert_eq!(
            m,
            "&lt;img src=x&gt; `a\\|b` `[x](http://e)` `@eve` ` \\| `\\`"
        );
        assert_eq!(markdown_with_code("`<b>`", false), "\\`&lt;b&gt;\\`");
    }

    #[test]
    fn markdown_urls_stay_links_and_cannot_break_out() {
        assert_eq!(
            markdown_url("https://e.example/a b/(x)|[y]&z#L3"),
            "https://e.example/a%20b/\\(x\\)\\|\\[y\\]&amp;z#L3"
        );
    }

    #[test]
    fn printable_shows_bidi_and_controls() {
        assert_eq!(printable("a\u{202E}b\u{7}c\td"), "a\u{FFFD}b\u{FFFD}c d");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(
            percent_encode_path("a b/../c?d#e"),
            "a%20b/%2E%2E/c%3Fd%23e"
        );
        assert_eq!(percent_encode_segment("ü"), "%C3%BC");
    }
}
