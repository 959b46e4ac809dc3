//! HCL's exact lexer (tree-sitter-hcl's reading, Terraform and Nomad files; see [`super`] for
//! the contract): `#` and `//` comments to the line's end, `/* */` comments that do not nest,
//! quoted templates with `${…}` interpolations and `%{…}` directives (whose code may hold
//! strings of its own, on the string's line), and heredocs (`<<ID`, `<<-ID`) whose bodies are
//! template text up to a line that holds only the identifier.

use super::Cursor;
use crate::lang::lexical::RawComment;

/// Stack frames beside the brackets: a quoted template, a heredoc, and the code of a `${…}`
/// interpolation or a `%{…}` directive (whose `}` resumes the template around it).
const QUOTED: u8 = b'"';
const HEREDOC: u8 = b'H';
const INTERPOLATION: u8 = b'$';
const DIRECTIVE: u8 = b'%';

pub(super) fn scan(b: &[u8]) -> Option<Vec<RawComment>> {
    let mut cx = Cursor::new(b);
    // The identifiers of the open heredocs, innermost last.
    let mut heredocs: Vec<&[u8]> = Vec::new();
    while cx.i < b.len() {
        match cx.stack.last() {
            Some(&QUOTED) => quoted(&mut cx)?,
            Some(&HEREDOC) => {
                let id = *heredocs.last()?;
                if heredoc(&mut cx, id)? {
                    heredocs.pop();
                }
            }
            _ => {
                if let Some(id) = code(&mut cx)? {
                    heredocs.push(id);
                }
            }
        }
    }
    cx.finish().map(|(out, _)| out)
}

/// Right inside a template's code (an interpolation or a directive), whose `}` ends it.
fn in_template(cx: &Cursor) -> bool {
    matches!(cx.stack.last(), Some(&(INTERPOLATION | DIRECTIVE)))
}

/// Anywhere inside a template's code, also in brackets there: it stays on its line and holds
/// no comment (which would run over the template's end) and no heredoc.
fn within_template(cx: &Cursor) -> bool {
    cx.stack
        .iter()
        .any(|f| matches!(*f, INTERPOLATION | DIRECTIVE))
}

/// One token of code at `i`; a heredoc's identifier when one opens.
fn code<'t>(cx: &mut Cursor<'t>) -> Option<Option<&'t [u8]>> {
    let c = cx.b[cx.i];
    match c {
        b'\n' if within_template(cx) => return None,
        b' ' | b'\t' | b'\r' | b'\n' => cx.i += 1,
        b'#' | b'/' if within_template(cx) && (c == b'#' || matches!(cx.at(1), b'/' | b'*')) => {
            return None;
        }
        b'#' => cx.line_comment(),
        b'/' if cx.at(1) == b'/' => cx.line_comment(),
        b'/' if cx.at(1) == b'*' => cx.block_comment(false)?,
        b'"' => cx.open(QUOTED, 1)?,
        b'<' if cx.at(1) == b'<' => return heredoc_opener(cx).map(Some),
        b'(' | b'[' | b'{' => cx.open(c, 1)?,
        b'}' if in_template(cx) => {
            cx.stack.pop();
            cx.i += 1;
        }
        b')' | b']' | b'}' => cx.close(c)?,
        // `~` is a strip marker next to a template's braces.
        b'~' if in_template(cx) => cx.i += 1,
        c if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'_' | b'-'
                    | b'.'
                    | b','
                    | b'='
                    | b':'
                    | b'?'
                    | b'!'
                    | b'&'
                    | b'|'
                    | b'+'
                    | b'*'
                    | b'/'
                    | b'%'
                    | b'<'
                    | b'>'
            ) =>
        {
            cx.i += 1;
        }
        // Anything else (`'`, `$`, `\`, `;`, a control or non-ASCII character) is not HCL's,
        // or is a name tree-sitter reads by Unicode classes.
        _ => return None,
    }
    Some(None)
}

/// `<<ID` or `<<-ID` at `i`, followed by its line's end: the body starts on the next line.
/// A space before the identifier, one that starts with a digit or `-`, and anything after it
/// on its line are refused (tree-sitter-hcl reads the rest of the line as template text).
fn heredoc_opener<'t>(cx: &mut Cursor<'t>) -> Option<&'t [u8]> {
    if within_template(cx) {
        return None;
    }
    let mut i = cx.i + 2;
    if cx.b.get(i) == Some(&b'-') {
        i += 1;
    }
    let start = i;
    if !cx
        .b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    while cx
        .b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
    {
        i += 1;
    }
    let id = &cx.b[start..i];
    if cx.b.get(i) == Some(&b'\r') {
        i += 1;
    }
    if cx.b.get(i) != Some(&b'\n') {
        return None;
    }
    cx.open(HEREDOC, 0)?;
    cx.i = i + 1;
    Some(id)
}

/// A quoted template from `i` (after its quote, or after an interpolation's `}`): to its
/// closing quote, or into an interpolation or directive. Only the escapes tree-sitter-hcl
/// accepts; a line break is refused (the grammar reads on, HCL does not).
fn quoted(cx: &mut Cursor) -> Option<()> {
    loop {
        match *cx.b.get(cx.i)? {
            b'"' => {
                cx.stack.pop();
                cx.i += 1;
                return Some(());
            }
            b'\\' => {
                let digits = match cx.at(1) {
                    b'"' | b'n' | b'r' | b't' | b'\\' => 0,
                    b'u' => 4,
                    b'U' => 8,
                    _ => return None,
                };
                let hex = cx.b.get(cx.i + 2..cx.i + 2 + digits)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                cx.i += 2 + digits;
            }
            b'\n' | b'\r' => return None,
            b'$' | b'%' => {
                if template_start(cx)? {
                    return Some(());
                }
            }
            _ => cx.i += 1,
        }
    }
}

/// `$` or `%` at `i` in template text: `${` and `%{` open an interpolation or a directive
/// (true), `$${` and `%%{` are the literal text, and any other `$` or `%` is text.
fn template_start(cx: &mut Cursor) -> Option<bool> {
    let c = cx.at(0);
    if cx.at(1) == b'{' {
        let frame = if c == b'$' { INTERPOLATION } else { DIRECTIVE };
        cx.open(frame, 2)?;
        return Some(true);
    }
    cx.i += if cx.at(1) == c && cx.at(2) == b'{' {
        3
    } else if cx.at(1) == c {
        2
    } else {
        1
    };
    Some(false)
}

/// A heredoc's body from `i` (a line's start, or after an interpolation's `}`): its lines up
/// to the closing one (true), or into an interpolation (false). A body line must read as
/// nothing to the lexical scanner, which reads it as code when a syntax error makes it resume
/// there ([`quiet_line`]); a line that starts with the identifier and holds more is refused
/// (the grammar reads it as text, but not as a line that merely starts with the identifier).
fn heredoc(cx: &mut Cursor, id: &[u8]) -> Option<bool> {
    loop {
        let line_start = cx.i == 0 || cx.b[cx.i - 1] == b'\n';
        let end = memchr::memchr(b'\n', cx.rest()).map(|p| cx.i + p)?;
        if line_start {
            let line = &cx.b[cx.i..end];
            if !quiet_line(line) {
                return None;
            }
            let content = line.trim_ascii_start();
            if let Some(after) = content.strip_prefix(id) {
                if after.trim_ascii().is_empty() {
                    cx.stack.pop();
                    cx.i = end;
                    return Some(true);
                }
                // `EOFX` is text to both readers; `EOF x`, `EOF;` or `EOF${x}` is not
                // modelled.
                if !after[0].is_ascii_alphanumeric() && !matches!(after[0], b'_' | b'-') {
                    return None;
                }
            }
        }
        while cx.i < end {
            match cx.b[cx.i] {
                b'$' | b'%' => {
                    if template_start(cx)? {
                        return Some(false);
                    }
                }
                _ => cx.i += 1,
            }
        }
        cx.i = end + 1;
    }
}

/// A line the lexical scanner, starting there, reads as no comment and leaves between tokens:
/// outside its `"` and `'` strings no `#`, no `//` or `/*` and no `<<`; no control character
/// but a tab or `\r`.
fn quiet_line(line: &[u8]) -> bool {
    let mut quote = None;
    let mut i = 0;
    while let Some(&c) = line.get(i) {
        if c < 0x20 && c != b'\t' && c != b'\r' {
            // Whitespace the two readers may trim differently (`\x0b`).
            return false;
        }
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'#' => return false,
                b'/' | b'<' if matches!(line.get(i + 1), Some(b'/' | b'*' | b'<')) => {
                    return false;
                }
                _ => {}
            },
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    fn texts(text: &str) -> Option<Vec<&str>> {
        super::scan(text.as_bytes()).map(|v| v.iter().map(|c| &text[c.start..c.end]).collect())
    }

    #[test]
    fn comments_strings_and_templates() {
        let tf = "# a\nresource \"x\" \"y\" { // b\n  n = \"#no ${var.a[\"//\"]} %{if x}/*no*/%{endif}\" /* c */\n  m = a / b\n}\n";
        assert_eq!(texts(tf), Some(vec!["# a", "// b", "/* c */"]));
        assert_eq!(texts("x = \"$${#no} %%{//no} \\\" # no\"\n"), Some(vec![]));
        assert_eq!(texts("x = \"\\u00e9 é\" # c\r\n"), Some(vec!["# c"]));
    }

    #[test]
    fn heredoc_bodies_are_text() {
        let tf =
            "a = <<EOF\n{\"k\": \"arn:x/*\"}\n  EOFX\nEOF\n# real\nb = <<-X\n  ${f(\"a\")}\n  X\n";
        assert_eq!(texts(tf), Some(vec!["# real"]));
    }

    #[test]
    fn what_is_not_modelled_is_refused() {
        for text in [
            // A body line the lexical scanner would read a comment on.
            "a = <<EOF\n#!/bin/sh\nEOF\n",
            "a = <<EOF\nx // y\nEOF\n",
            // Its identifier with more on the line, a heredoc never closed, one that ends the file.
            "a = <<EOF\nEOF x\nEOF\n",
            "a = <<EOF\nEOF${x}\nEOF\n",
            "a = <<EOF\nx\n",
            "a = <<EOF\nx\nEOF",
            // Text after the opener, a space before the identifier.
            "a = <<EOF x\nEOF\n",
            "a = << EOF\nEOF\n",
            // A comment or a line break inside an interpolation, an unknown escape, a line break.
            "a = \"${x # c\n}\"\n",
            "a = \"${x /* c */}\"\n",
            "a = \"${x\n}\"\n",
            "a = \"${f(# c\n)}\"\n",
            "a = \"\\q\"\n",
            "a = \"a\nb\"\n",
            // Brackets that do not match, an unclosed block comment, characters HCL has not.
            "a = [1, 2)\n",
            "/* a\n",
            "a = 'x'\n",
            "é = 1\n",
        ] {
            assert_eq!(texts(text), None, "{text:?}");
        }
    }
}
