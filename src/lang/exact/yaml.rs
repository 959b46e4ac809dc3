//! YAML's exact lexer (tree-sitter-yaml's reading; see [`super`] for the contract), line by
//! line: a `#` is a comment at a line's start or after a space or tab, outside quoted scalars
//! and outside block scalar bodies (`|`, `>`). A plain scalar goes on over the lines indented
//! more than the key or `-` entry that holds it, which are text up to a comment. What else
//! YAML makes depend on more than the line (quoted scalars and flow collections that span
//! lines, directives, complex keys) is refused.

use super::hash_comment;
use crate::lang::lexical::RawComment;

pub(super) fn scan(b: &[u8]) -> Option<Vec<RawComment>> {
    if b.starts_with("\u{feff}".as_bytes()) {
        return None;
    }
    let mut out = Vec::new();
    // The last line with content: its indentation and what it ended in. A line indented more
    // than the node that holds its value continues a plain scalar, or is an error.
    let mut last: Option<(usize, Line)> = None;
    let mut i = 0;
    while i < b.len() {
        let (end, indent, rest) = line_at(b, i);
        if rest.iter().all(|c| matches!(c, b' ' | b'\t')) {
            i = end + 1;
            continue;
        }
        if rest.first() == Some(&b'\t') {
            return None;
        }
        if rest[0] == b'#' {
            let (comment, _) = hash_comment(b, i + indent);
            out.push(comment);
            // A comment ends a plain scalar: a line that would continue it is an error.
            if let Some((_, line)) = &mut last {
                line.plain = false;
            }
            i = end + 1;
            continue;
        }
        if let Some((at, line)) = &mut last {
            if line.value && indent > line.owner {
                if !line.plain {
                    return None;
                }
                // More of the plain scalar: text, up to a comment that ends it.
                line.plain = !continuation(b, i + indent, rest.len(), &mut out)?;
                i = end + 1;
                continue;
            }
            // A bare scalar's parent node does not show on its line (the top level's column
            // is -1): any line but a less indented one after it is refused, and any line at
            // all unless the line before it opened a node for it (a key or `-` with no value).
            if line.bare && (indent > 0 || *at == 0 || !line.opened) {
                return None;
            }
        }
        let mut read = read_line(b, i, indent, indent + rest.len(), &mut out)?;
        read.opened = matches!(&last, Some((at, l)) if l.opens && *at < indent);
        let block_scalar = read.block_scalar;
        last = Some((indent, read));
        i = end + 1;
        if block_scalar {
            i = block_scalar_body(b, i, indent, indent + owner_column(rest))?;
        }
    }
    Some(out)
}

/// What a line of content ended in.
struct Line {
    /// A value (a scalar or an alias), not `:`, `-` or a block scalar indicator.
    value: bool,
    /// A block scalar indicator: its body follows.
    block_scalar: bool,
    /// A scalar with no key and no `-` before it on the line: a plain scalar there may go on
    /// over the following lines.
    bare: bool,
    /// The column of the node that holds the value: its key's, or its `-` entry's. A line
    /// indented more goes on with the value.
    owner: usize,
    /// The value is a plain scalar that a more indented line continues (no flow collection,
    /// anchor, tag or comment on the line).
    plain: bool,
    /// A key or `-` entry with no value on the line: a more indented line is its node.
    opens: bool,
    /// The line before this one opened a node for it (set by [`scan`]).
    opened: bool,
}

/// The line at `start` (`len` bytes without its line break), its indentation `indent`
/// already read: its comment goes to `out`.
fn read_line(
    b: &[u8],
    start: usize,
    indent: usize,
    len: usize,
    out: &mut Vec<RawComment>,
) -> Option<Line> {
    let line = &b[start..start + len];
    if indent == 0
        && (line.starts_with(b"%") || line.starts_with(b"---") || line.starts_with(b"..."))
    {
        // Directives are refused; a document marker alone on its line (or before a comment).
        if line.starts_with(b"%") {
            return None;
        }
        let after = &line[3..];
        let body = after.trim_ascii_start();
        if !(body.is_empty() || (body.starts_with(b"#") && body.len() < after.len())) {
            return None;
        }
        if body.starts_with(b"#") {
            let (comment, _) = hash_comment(b, start + (len - body.len()));
            out.push(comment);
        }
        return Some(Line {
            value: false,
            block_scalar: false,
            bare: false,
            owner: 0,
            plain: false,
            opens: false,
            opened: false,
        });
    }
    let mut k = indent;
    // At the start of a node, where a quote opens a quoted scalar and `[`, `{`, `|`, `>`,
    // `&`, `!` are indicators.
    let mut node_start = true;
    let mut flow = 0usize;
    let mut value = false;
    let mut block_scalar = false;
    // A key, a `-` entry or a flow collection seen on the line.
    let mut structure = false;
    // Where the node being read started, and the column of the node that holds a value.
    let (mut node, mut owner) = (indent, indent);
    // A flow collection, an anchor, a tag or a comment seen on the line; the last value read
    // a plain scalar.
    let (mut decorated, mut plain) = (false, false);
    while k < len {
        let c = line[k];
        let spaced = k == 0 || matches!(line[k - 1], b' ' | b'\t');
        if node_start && !matches!(c, b' ' | b'\t') {
            node = k;
        }
        match c {
            b' ' | b'\t' => {
                k += 1;
                continue;
            }
            b'#' if spaced => {
                let (comment, _) = hash_comment(b, start + k);
                out.push(comment);
                decorated = true;
                break;
            }
            c if c < 0x20 => return None,
            b'"' | b'\'' if node_start => {
                k = quoted(line, k)?;
                if line.get(k) == Some(&b'#') {
                    return None;
                }
                node_start = false;
                value = true;
                plain = false;
                continue;
            }
            b'[' | b'{' if node_start || flow > 0 => {
                if line.get(k + 1) == Some(&b'{') || flow >= super::MAX_DEPTH {
                    // Helm's `{{ }}` templates: not YAML.
                    return None;
                }
                flow += 1;
                structure = true;
                decorated = true;
                k += 1;
                node_start = true;
                value = false;
                continue;
            }
            b']' | b'}' if flow > 0 => {
                flow -= 1;
                value = true;
                plain = false;
                node_start = false;
            }
            b',' if flow > 0 => {
                node_start = true;
                value = false;
            }
            b'|' | b'>' if node_start && flow == 0 => {
                // The body's parent is the node that holds the line, which does not show on a
                // line with no key and no `-` (the top level's column is -1): refused.
                if !structure {
                    return None;
                }
                // `|`, `>`, with a chomping indicator; an indentation indicator is refused.
                let mut j = k + 1;
                if matches!(line.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                let tail = &line[j..];
                let body = tail.trim_ascii_start();
                if body.is_empty() {
                } else if body.starts_with(b"#") && body.len() < tail.len() {
                    let (comment, _) = hash_comment(b, start + len - body.len());
                    out.push(comment);
                } else {
                    return None;
                }
                block_scalar = true;
                value = false;
                break;
            }
            b'&' | b'!' if node_start => {
                // An anchor or a tag: a node still follows.
                decorated = true;
                while k < len && !matches!(line[k], b' ' | b'\t') {
                    k += 1;
                }
                continue;
            }
            // Complex keys, and characters that cannot start a plain scalar.
            b'?' | b'%' | b'@' | b'`' if node_start => return None,
            b'-' if node_start && matches!(line.get(k + 1), None | Some(b' ' | b'\t')) => {
                if flow > 0 {
                    return None;
                }
                structure = true;
                value = false;
                owner = k;
            }
            b':' if matches!(line.get(k + 1), None | Some(b' ' | b'\t')) => {
                // tree-sitter-yaml measures from the first node of the line after its `- `
                // entries, which is not the key after an anchor, a tag or a flow collection:
                // then every more indented line is refused, as the line's own indentation
                // makes it (a value's line is no plain scalar there).
                owner = if decorated { indent } else { node };
                node_start = true;
                structure = true;
                value = false;
                k += 1;
                continue;
            }
            b':' if flow > 0 => return None,
            _ => {
                // An alias (`*a`) is no scalar: nothing continues it.
                plain = !(node_start && c == b'*') && (plain || node_start);
                node_start = false;
                value = true;
            }
        }
        k += 1;
    }
    (flow == 0).then_some(Line {
        value,
        block_scalar,
        bare: value && !structure,
        owner,
        plain: value && plain && !decorated,
        opens: structure && !value && !block_scalar,
        opened: false,
    })
}

/// A line at `start` (`len` bytes, its indentation read) that continues a plain scalar: text
/// up to a `#` after a space, a comment that ends the scalar (then `true`). `None` for a line
/// that starts with an indicator, or holds `: ` (an error in a plain scalar) or a control
/// character.
fn continuation(b: &[u8], start: usize, len: usize, out: &mut Vec<RawComment>) -> Option<bool> {
    let line = &b[start..start + len];
    if matches!(
        line[0],
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    ) {
        return None;
    }
    for (k, &c) in line.iter().enumerate() {
        match c {
            b'#' if k > 0 && matches!(line[k - 1], b' ' | b'\t') => {
                out.push(hash_comment(b, start + k).0);
                return Some(true);
            }
            b':' if matches!(line.get(k + 1), None | Some(b' ' | b'\t')) => return None,
            b'\t' => {}
            c if c < 0x20 => return None,
            _ => {}
        }
    }
    Some(false)
}

/// A quoted scalar at `k` of `line`, closed on the same line; where it ends.
fn quoted(line: &[u8], k: usize) -> Option<usize> {
    let q = line[k];
    let mut j = k + 1;
    loop {
        let c = *line.get(j)?;
        if q == b'"' && c == b'\\' {
            j += 2;
        } else if c == q {
            if q == b'\'' && line.get(j + 1) == Some(&b'\'') {
                j += 2;
            } else {
                return Some(j + 1);
            }
        } else {
            j += 1;
        }
    }
}

/// The body of a block scalar whose indicator sits on a line indented `parent` spaces, from
/// the next line's start `i`: its lines are text. Returns where the first line after it
/// starts. The body's indentation is its first non-blank line's; a line after it indented
/// more than `parent` but less than the body is refused (the lexical scanner would read it
/// as text, YAML as the next node or an error), and so is a tab in a body line's indentation
/// and a blank line before the first that is indented more than it. tree-sitter-yaml ends
/// the scalar at a line indented no more than the column of the node that holds it (`owner`:
/// after the line's `- ` entries), the lexical scanner at one indented no more than the line:
/// a first body line between the two is refused.
fn block_scalar_body(b: &[u8], mut i: usize, parent: usize, owner: usize) -> Option<usize> {
    let mut body: Option<usize> = None;
    let mut widest_blank = 0;
    while i < b.len() {
        let (end, indent, rest) = line_at(b, i);
        if rest.iter().any(|c| *c < 0x20 && *c != b'\t') {
            return None;
        }
        if rest.is_empty() {
            if body.is_none() {
                widest_blank = widest_blank.max(indent);
            }
            i = end + 1;
            continue;
        }
        if rest[0] == b'\t' {
            return None;
        }
        if body.is_none() && indent > parent && indent <= owner {
            return None;
        }
        let n = *body.get_or_insert(indent);
        if indent <= parent {
            return Some(i);
        }
        if indent < n || widest_blank > n {
            return None;
        }
        i = end + 1;
    }
    Some(i)
}

/// The column, after the indentation, of the node that holds a block scalar on a line whose
/// content is `rest`: the key's, after the line's `- ` entries, or the last entry's `-` when
/// the scalar is that entry (`- |`).
fn owner_column(rest: &[u8]) -> usize {
    let (mut k, mut dash) = (0, 0);
    while rest.get(k) == Some(&b'-') && matches!(rest.get(k + 1), Some(b' ' | b'\t')) {
        dash = k;
        k += 1;
        while matches!(rest.get(k), Some(b' ' | b'\t')) {
            k += 1;
        }
    }
    match rest.get(k) {
        Some(b'|' | b'>') if k > 0 => dash,
        _ => k,
    }
}

/// The line that starts at `i`: where it ends (its `\n` or the end of the text), its
/// indentation in spaces, and what follows the indentation, without a `\r` at its end.
fn line_at(b: &[u8], i: usize) -> (usize, usize, &[u8]) {
    let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p);
    let line = &b[i..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let indent = line.iter().take_while(|c| **c == b' ').count();
    (end, indent, &line[indent..])
}

#[cfg(test)]
mod tests {
    fn texts(text: &str) -> Option<Vec<&str>> {
        super::scan(text.as_bytes()).map(|v| v.iter().map(|c| &text[c.start..c.end]).collect())
    }

    #[test]
    fn comments_quotes_and_block_scalars() {
        let yaml = "# a\nk: v # b\nq: \"x # no\" # c\ns: 'it''s # no'\nu: a#b\nrun: | # d\n  # no\n  make\n# e\n- >-\n  # no\n- [a, \"# no\"] # f\n";
        assert_eq!(
            texts(yaml),
            Some(vec!["# a", "# b", "# c", "# d", "# e", "# f"])
        );
        assert_eq!(texts("---\nx: &a it's # c\ny: *a\n"), Some(vec!["# c"]));
    }

    #[test]
    fn plain_scalars_that_span_lines() {
        // Indented more than the key or `-` that holds the value: more of the scalar, whose
        // `#` after a space starts a comment; as deep as the key: the mapping goes on.
        let yaml = "- k: a\n    b#c 'd' # e\n  j: 1 # f\n- x\n  y # g\n";
        assert_eq!(texts(yaml), Some(vec!["# e", "# f", "# g"]));
        // Inside a plain scalar, `{{` is text (Helm's templates start a node: refused).
        assert_eq!(texts("k: a-{{ b }} # c\n"), Some(vec!["# c"]));
    }

    #[test]
    fn what_is_not_modelled_is_refused() {
        for text in [
            // Quoted scalars and flow collections that span lines, and lines that cannot
            // continue a plain scalar: after a comment, a quoted scalar or an alias, or starting
            // with an indicator or holding `: `.
            "k: a # c\n  b\n",
            "k: a\n  # c\n  b\n",
            "k: \"a\"\n  b\n",
            "k: *a\n  b\n",
            "k: a\n  - b\n",
            "k: a\n  b: c\n",
            "k: \"a\n  b\"\n",
            "k: [a,\n  b]\n",
            // A directive, a complex key, an indentation indicator, Helm's templates.
            "%YAML 1.2\n---\n",
            "? a\n: b\n",
            "k: |2\n   x\n",
            "k: {{ .Values.x }}\n",
            // A line between the block scalar's parent and its body.
            "- k: |\n    x\n  # c\n",
            // A first body line no deeper than the key or entry that holds the scalar
            // (tree-sitter ends the scalar there; the lexical scanner does not).
            "- k: |\n  # c\n",
            "  - run: |\n    # note\n",
            "- - |\n  # c\n",
            // A bare scalar goes on over the next lines (the top level's column is -1).
            "a\n'x # y'\n",
            "k:\n  a\n  'x # y'\n",
            // A `#` right after a quote, a tab in indentation, a byte-order mark.
            "k: \"a\"#b\n",
            "k:\n\t- a\n",
            "\u{feff}# a\n",
        ] {
            assert_eq!(texts(text), None, "{text:?}");
        }
    }
}
