//! Kotlin's exact lexer (see [`super`] for the contract): `//` comments, nested `/* */`
//! comments, strings with `$name` and `${…}` templates (the template's code lexed on the
//! bracket stack, on the string's line), `"""` raw strings without templates in braces, char
//! literals and backquoted names.

use super::{Cursor, simple_char};
use crate::lang::lexical::RawComment;

/// An open `${` on the bracket stack: its `}` resumes the string.
const TEMPLATE: u8 = b'$';

pub(super) fn scan(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    let mut cx = Cursor::new(b);
    while cx.i < b.len() {
        let c = b[cx.i];
        match c {
            b'\n' => {
                // A template's code stays on its string's line.
                if cx.stack.contains(&TEMPLATE) {
                    return None;
                }
                cx.i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => cx.i += 1,
            b'/' if cx.at(1) == b'/' => cx.line_comment(),
            b'/' if cx.at(1) == b'*' => cx.block_comment(true)?,
            b'"' if cx.rest().starts_with(b"\"\"\"") => raw_string(&mut cx)?,
            b'"' => {
                cx.i += 1;
                string(&mut cx)?;
            }
            b'\'' => cx.i = simple_char(b, cx.i)?,
            b'`' => cx.backquoted()?,
            b'(' | b'[' | b'{' => cx.open(c, 1)?,
            b'}' if cx.stack.last() == Some(&TEMPLATE) => {
                cx.stack.pop();
                cx.i += 1;
                string(&mut cx)?;
            }
            b')' | b']' | b'}' => cx.close(c)?,
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                cx.name(false)?;
                if matches!(cx.at(0), b'"' | b'\'') {
                    return None;
                }
            }
            // `#!` lines, `\` and anything not ASCII or not printable are not modelled.
            b'#' | b'\\' => return None,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => cx.i += 1,
        }
    }
    cx.finish()
}

/// The rest of a one-line string from `i` (after its quote, or after a template's `}`): to
/// its closing quote, or into a `${` template.
fn string(cx: &mut Cursor) -> Option<()> {
    loop {
        match *cx.b.get(cx.i)? {
            b'\\' => {
                if super::escapes_line_end(cx.b, cx.i) {
                    return None;
                }
                cx.i += 2;
            }
            b'\n' | b'\r' => return None,
            b'"' => {
                cx.i += 1;
                return Some(());
            }
            b'$' if cx.at(1) == b'{' => return cx.open(TEMPLATE, 2),
            _ => cx.i += 1,
        }
    }
}

/// A `"""` raw string: no escapes; it ends at the first `"""`, refused when more quotes
/// follow that (the grammar gives them to the string) or when it holds a `${` template.
fn raw_string(cx: &mut Cursor) -> Option<()> {
    let start = cx.i;
    let body = cx.i + 3;
    let len = memchr::memmem::find(&cx.b[body..], b"\"\"\"")?;
    let end = body + len + 3;
    if cx.b.get(end) == Some(&b'"') || memchr::memmem::find(&cx.b[body..end], b"${").is_some() {
        return None;
    }
    cx.i = end;
    cx.quiet(start, 3)
}
