//! PHP's exact lexer (see [`super`] for the contract), for a file that is PHP code from its
//! first bytes to its end: it must start with `<?php` and a space or line break, and hold no
//! other `<?` and no `?>` anywhere (text outside the tags is HTML, and `?>` ends a `#` or `//`
//! comment). Modelled: `#` and `//` comments, `/* */` comments (not nested), `#[` attributes
//! (code in brackets), single-quoted strings, double-quoted strings with simple `$name`
//! interpolation, `$` variables. Refused: heredoc and nowdoc (`<<<`), backticks,
//! `{$`/`${`/`$name[` in a double-quoted string, a quote right after a name (`b"…"`),
//! `__halt_compiler` (the rest of the file is data), `\` outside strings other than in a name
//! (`App\Models`).

use super::{Cursor, hash_comment};
use crate::lang::lexical::RawComment;

pub(super) fn scan(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    if !b.starts_with(b"<?php") || !matches!(b.get(5), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    if memchr::memmem::find(b, b"?>").is_some() || memchr::memmem::find(&b[2..], b"<?").is_some() {
        return None;
    }
    let mut cx = Cursor::new(b);
    cx.i = 5;
    while cx.i < b.len() {
        let c = b[cx.i];
        match c {
            b'\n' | b' ' | b'\t' | b'\r' | b'\x0c' => cx.i += 1,
            b'#' if cx.at(1) == b'[' => cx.open(b'[', 2)?,
            b'#' => {
                let (comment, end) = hash_comment(b, cx.i);
                cx.out.push(comment);
                cx.i = end;
            }
            b'/' if cx.at(1) == b'/' => cx.line_comment(),
            b'/' if cx.at(1) == b'*' => cx.block_comment(false)?,
            b'\'' => single_quoted(&mut cx)?,
            b'"' => double_quoted(&mut cx)?,
            b'<' if cx.rest().starts_with(b"<<<") => return None,
            b'`' => return None,
            b'(' | b'[' | b'{' => cx.open(c, 1)?,
            b')' | b']' | b'}' => cx.close(c)?,
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let name = cx.name(false)?;
                if name.eq_ignore_ascii_case(b"__halt_compiler") || matches!(cx.at(0), b'"' | b'\'')
                {
                    return None;
                }
            }
            b'\\' if cx.at(1).is_ascii_alphabetic() || cx.at(1) == b'_' => cx.i += 1,
            b'\\' => return None,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => cx.i += 1,
        }
    }
    cx.finish()
}

/// `'…'`: `\\` and `\'` are its only escapes; it may span lines.
fn single_quoted(cx: &mut Cursor) -> Option<()> {
    let start = cx.i;
    let mut i = cx.i + 1;
    loop {
        match *cx.b.get(i)? {
            b'\\' => i += 2,
            b'\'' => break,
            _ => i += 1,
        }
    }
    cx.i = i + 1;
    cx.quiet(start, 1)
}

/// `"…"`: backslash escapes and `$name` (`$name->prop`) interpolation; it may span lines.
fn double_quoted(cx: &mut Cursor) -> Option<()> {
    let start = cx.i;
    let mut i = cx.i + 1;
    loop {
        match *cx.b.get(i)? {
            b'\\' => i += 2,
            b'"' => break,
            b'{' if cx.b.get(i + 1) == Some(&b'$') => return None,
            b'$' => {
                i += 1;
                match cx.b.get(i) {
                    Some(b'{') => return None,
                    Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                        while cx
                            .b
                            .get(i)
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                        {
                            i += 1;
                        }
                        if cx.b.get(i) == Some(&b'[') {
                            return None;
                        }
                    }
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
    cx.i = i + 1;
    cx.quiet(start, 1)
}
