//! Scala's exact lexer (see [`super`] for the contract): `//` comments, nested `/* */`
//! comments, strings, `"""` strings, interpolated strings (`s"…"`, `f"""…"""`) with `$name`,
//! `$$` and one-line `${…}` (its code lexed on the bracket stack), char literals and
//! backquoted names. Refused: symbols (`'sym`) and any other `'` that is not a plain char
//! literal, `<` before a letter, `!`, `?` or `_` (XML literals, whose `<!-- -->` comments the
//! query captures), `#`, `\` outside strings, a backslash or `$"` in an interpolated string,
//! `${` in an interpolated `"""` string, a closing `"""` followed by more quotes, a comment
//! glued to an operator (`+//`), and anything but spaces after a block comment on its line
//! (tree-sitter-scala then stretches the comment: `/* b */ // c` is one comment).

use super::{Cursor, operator_char, simple_char};
use crate::lang::lexical::RawComment;

/// An open `${` on the bracket stack: its `}` resumes the interpolated string.
const SPLICE: u8 = b'$';

pub(super) fn scan(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    let mut cx = Cursor::new(b);
    while cx.i < b.len() {
        let c = b[cx.i];
        match c {
            b'\n' => {
                if cx.stack.contains(&SPLICE) {
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
                    // tree-sitter-scala's scanner, looking for a line end after a block
                    // comment, can stretch the comment over what follows it on its line.
                    let line =
                        &cx.rest()[..memchr::memchr(b'\n', cx.rest()).unwrap_or(cx.rest().len())];
                    if !line.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')) {
                        return None;
                    }
                }
            }
            b'"' if cx.rest().starts_with(b"\"\"\"") => triple(&mut cx, false)?,
            b'"' => string(&mut cx)?,
            b'\'' => cx.i = simple_char(b, cx.i)?,
            b'`' => cx.backquoted()?,
            b'<' if matches!(cx.at(1), b'!' | b'?' | b'_') || cx.at(1).is_ascii_alphabetic() => {
                return None;
            }
            b'(' | b'[' | b'{' => cx.open(c, 1)?,
            b'}' if cx.stack.last() == Some(&SPLICE) => {
                cx.stack.pop();
                cx.i += 1;
                interpolated(&mut cx)?;
            }
            b')' | b']' | b'}' => cx.close(c)?,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => {
                cx.name(true)?;
                match cx.at(0) {
                    b'"' if cx.rest().starts_with(b"\"\"\"") => triple(&mut cx, true)?,
                    b'"' => {
                        cx.i += 1;
                        interpolated(&mut cx)?;
                    }
                    b'\'' => return None,
                    _ => {}
                }
            }
            b'#' | b'\\' => return None,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => cx.i += 1,
        }
    }
    cx.finish()
}

/// A one-line string with escapes.
fn string(cx: &mut Cursor) -> Option<()> {
    let mut i = cx.i + 1;
    loop {
        match *cx.b.get(i)? {
            b'\\' => {
                if super::escapes_line_end(cx.b, i) {
                    return None;
                }
                i += 2;
            }
            b'\n' | b'\r' => return None,
            b'"' => break,
            _ => i += 1,
        }
    }
    cx.i = i + 1;
    Some(())
}

/// The rest of a one-line interpolated string from `i` (after its quote, or after a
/// splice's `}`): to its closing quote, or into a `${` splice.
fn interpolated(cx: &mut Cursor) -> Option<()> {
    loop {
        match *cx.b.get(cx.i)? {
            b'\\' | b'\n' | b'\r' => return None,
            b'$' => match cx.at(1) {
                b'{' => return cx.open(SPLICE, 2),
                b'"' => return None,
                _ => cx.i += if cx.at(1) == b'$' { 2 } else { 1 },
            },
            b'"' => {
                cx.i += 1;
                return Some(());
            }
            _ => cx.i += 1,
        }
    }
}

/// A `"""` string (`interpolated` after a name): no escapes; it ends at the first `"""`,
/// refused when more quotes follow that, and in an interpolated one at a `${` or `$"`.
fn triple(cx: &mut Cursor, interpolated: bool) -> Option<()> {
    let start = cx.i;
    let body = cx.i + 3;
    let len = memchr::memmem::find(&cx.b[body..], b"\"\"\"")?;
    let end = body + len + 3;
    if cx.b.get(end) == Some(&b'"') {
        return None;
    }
    if interpolated {
        let text = &cx.b[body..end - 3];
        let mut k = 0;
        while let Some(p) = memchr::memchr(b'$', &text[k..]) {
            match text.get(k + p + 1) {
                Some(b'{' | b'"') | None => return None,
                Some(b'$') => k += p + 2,
                _ => k += p + 1,
            }
        }
    }
    cx.i = end;
    cx.quiet(start, 3)
}
