//! Swift's exact lexer (see [`super`] for the contract): `//` comments, nested `/* */`
//! comments, one-line strings with `\(…)` interpolation (its code lexed on the bracket stack,
//! on the string's line), `"""` multi-line strings without interpolation, backquoted names.
//! Refused: `#` (raw strings `#"…"#`, `#if` directives, `#selector`), `'`, a `/` that is not a
//! comment and not followed by a space (regular expression literals, `/=`), a comment glued to
//! an operator (`+//`), `\(` in a multi-line string, and `/*` in any string or `/` first in a
//! string's text (tree-sitter-swift's scanner reads a comment there: `"/* a */"`).

use super::{Cursor, operator_char};
use crate::lang::lexical::RawComment;

/// An open `\(` on the bracket stack: its `)` resumes the string.
const INTERPOLATION: u8 = b'\\';

pub(super) fn scan(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    let mut cx = Cursor::new(b);
    while cx.i < b.len() {
        let c = b[cx.i];
        match c {
            b'\n' => {
                if cx.stack.contains(&INTERPOLATION) {
                    return None;
                }
                cx.i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => cx.i += 1,
            b'/' if matches!(cx.at(1), b'/' | b'*') => {
                if cx.i > 0 && operator_char(b[cx.i - 1]) {
                    return None;
                }
                if cx.at(1) == b'/' {
                    cx.line_comment();
                } else {
                    cx.block_comment(true)?;
                }
            }
            b'/' if cx.at(1) == b' ' => cx.i += 1,
            b'/' => return None,
            b'"' if cx.rest().starts_with(b"\"\"\"") => multi_line(&mut cx)?,
            b'"' => {
                cx.i += 1;
                string(&mut cx)?;
            }
            b'`' => cx.backquoted()?,
            b'(' | b'[' | b'{' => cx.open(c, 1)?,
            b')' if cx.stack.last() == Some(&INTERPOLATION) => {
                cx.stack.pop();
                cx.i += 1;
                string(&mut cx)?;
            }
            b')' | b']' | b'}' => cx.close(c)?,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => {
                cx.name(true)?;
                if matches!(cx.at(0), b'"' | b'\'') {
                    return None;
                }
            }
            b'#' | b'\'' => return None,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => cx.i += 1,
        }
    }
    cx.finish()
}

/// The rest of a one-line string from `i` (after its quote, or after an interpolation's
/// `)`): to its closing quote, or into a `\(` interpolation.
fn string(cx: &mut Cursor) -> Option<()> {
    // The grammar's scanner reads a comment at the start of a string's text.
    if cx.at(0) == b'/' {
        return None;
    }
    loop {
        match *cx.b.get(cx.i)? {
            b'\\' if cx.at(1) == b'(' => return cx.open(INTERPOLATION, 2),
            b'\\' => {
                if super::escapes_line_end(cx.b, cx.i) {
                    return None;
                }
                cx.i += 2;
            }
            b'\n' | b'\r' => return None,
            b'/' if cx.at(1) == b'*' => return None,
            b'"' => {
                cx.i += 1;
                return Some(());
            }
            _ => cx.i += 1,
        }
    }
}

/// A `"""` string, whose opening delimiter ends its line; escapes, no interpolation. Refused
/// when its closing `"""` is followed by another quote.
fn multi_line(cx: &mut Cursor) -> Option<()> {
    let start = cx.i;
    let mut i = cx.i + 3;
    if cx.b.get(i) == Some(&b'\r') {
        i += 1;
    }
    if cx.b.get(i) != Some(&b'\n') {
        return None;
    }
    loop {
        match *cx.b.get(i)? {
            b'\\' => {
                if cx.b.get(i + 1) == Some(&b'(') {
                    return None;
                }
                i += 2;
            }
            b'"' if cx.b[i..].starts_with(b"\"\"\"") => break,
            b'/' if cx.b.get(i + 1) == Some(&b'*') => return None,
            _ => i += 1,
        }
    }
    if cx.b.get(i + 3) == Some(&b'"') {
        return None;
    }
    cx.i = i + 3;
    cx.quiet(start, 3)
}
