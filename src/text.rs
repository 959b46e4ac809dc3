//! Turning file bytes into text we can slice, and byte offsets into `line:col`.
//!
//! Repositories hold UTF-8, UTF-8 with a BOM, UTF-16 with a BOM, CRLF and lone-CR files, and plain
//! garbage. Everything downstream (comment extraction, the annotation parser, diagnostics) works on
//! `&str` with byte spans, so the one place that decides how bytes become text is here. It is pure:
//! bytes in, text and a list of what was lossy out.

use std::borrow::Cow;

/// How a file's bytes were turned into text; anything but `Utf8` is worth a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Valid UTF-8 (a leading BOM, if any, was dropped).
    Utf8,
    /// UTF-16 (little or big endian) announced by a BOM, converted.
    Utf16,
    /// Invalid UTF-8 sequences were replaced with U+FFFD.
    Lossy,
}

/// Decoded text of one file.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub decoding: Decoding,
}

/// Decode bytes as UTF-8 (BOM stripped), or UTF-16 when a UTF-16 BOM says so; invalid UTF-8 is
/// replaced rather than rejected so that one bad byte never hides a whole file's annotations.
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    decode_utf8(bytes)
}

fn decode_utf8(bytes: &[u8]) -> Decoded<'_> {
    // `from_utf8` validates much faster than the lossy decoder, and almost every file is valid.
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Decoded {
            text: Cow::Borrowed(s),
            decoding: Decoding::Utf8,
        };
    }
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => Decoded {
            text: Cow::Borrowed(s),
            decoding: Decoding::Utf8,
        },
        Cow::Owned(s) => Decoded {
            text: Cow::Owned(s),
            decoding: Decoding::Lossy,
        },
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Decoded<'static> {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let mut lossy = bytes.len() % 2 != 0;
    let text: String = char::decode_utf16(units)
        .map(|r| {
            r.unwrap_or_else(|_| {
                lossy = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    Decoded {
        text: Cow::Owned(text),
        decoding: if lossy {
            Decoding::Lossy
        } else {
            Decoding::Utf16
        },
    }
}

/// FNV-1a, 64 bits: stable across platforms, runs and versions (unlike `std`'s hashers), so it
/// can name things that are stored (ids, cache keys, checksums).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Heuristic used by git and ripgrep: a NUL byte in the first 8 KiB means binary.
/// UTF-16 text has NULs too, so a UTF-16 BOM wins.
pub fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return false;
    }
    let head = &bytes[..bytes.len().min(8192)];
    memchr::memchr(0, head).is_some()
}

/// `text` with every lone `\r` (one not followed by `\n`) replaced by `\n`. The result has the
/// same length, so byte offsets into it are byte offsets into `text`. [`LineIndex`], editors and
/// most languages end a line at a lone `\r` (classic Mac OS files), but tree-sitter grammars
/// and the lexical scanner end line comments at `\n` only: without this, the comment on the
/// first line of such a file would swallow every following line, and their annotations.
pub fn lone_cr_as_lf(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let lone = |i: usize| bytes.get(i + 1) != Some(&b'\n');
    if !memchr::memchr_iter(b'\r', bytes).any(lone) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..pos]);
        let crlf = rest.as_bytes().get(pos + 1) == Some(&b'\n');
        out.push(if crlf { '\r' } else { '\n' });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Maps byte offsets to 1-based line and character column. Lines end at `\n`, `\r\n` or a lone
/// `\r`, so old Mac files get real line numbers too.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', &bytes[i..]) {
            let at = i + pos;
            let next = if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
                at + 2
            } else {
                at + 1
            };
            starts.push(next);
            i = next;
            if i >= bytes.len() {
                break;
            }
        }
        Self {
            starts,
            len: bytes.len(),
        }
    }

    /// 0-based line number containing `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset.min(self.len)) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// Byte offset where 0-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.starts.get(line).copied().unwrap_or(self.len)
    }

    /// Byte range of 0-based `line`, without its terminator.
    pub fn line_range(&self, text: &str, line: usize) -> std::ops::Range<usize> {
        let start = self.line_start(line);
        let mut end = self.line_start(line + 1).min(text.len());
        let bytes = text.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        start..end
    }

    /// 1-based line and 1-based character column of `offset` in `text`.
    pub fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let start = self.line_start(line).min(offset);
        let col = text[start..offset].chars().count() + 1;
        (to_u32(line + 1), to_u32(col))
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The largest char boundary at or below `i` (stable `str::floor_char_boundary` is newer than our
/// MSRV).
pub fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_bom_and_utf16() {
        assert_eq!(decode(b"\xEF\xBB\xBFhi").text, "hi");
        let le: Vec<u8> = [0xFF, 0xFE, b'h', 0, b'i', 0].to_vec();
        let d = decode(&le);
        assert_eq!(d.text, "hi");
        assert_eq!(d.decoding, Decoding::Utf16);
        let be: Vec<u8> = [0xFE, 0xFF, 0, b'h', 0, b'i'].to_vec();
        assert_eq!(decode(&be).text, "hi");
        let bad = decode(b"a\xFFb");
        assert_eq!(bad.decoding, Decoding::Lossy);
        assert_eq!(bad.text, "a\u{FFFD}b");
    }

    #[test]
    fn binary_detection() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary(b"plain text"));
        assert!(!looks_binary(&[0xFF, 0xFE, b'a', 0]));
    }

    #[test]
    fn line_index_handles_all_line_endings() {
        let text = "a\nbb\r\nccc\rd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        assert_eq!(idx.position(text, 0), (1, 1));
        assert_eq!(idx.position(text, 3), (2, 2));
        assert_eq!(idx.position(text, 6), (3, 1));
        assert_eq!(idx.position(text, 10), (4, 1));
        assert_eq!(&text[idx.line_range(text, 1)], "bb");
        assert_eq!(&text[idx.line_range(text, 2)], "ccc");
    }

    #[test]
    fn lone_cr_becomes_lf_and_offsets_stay() {
        assert!(matches!(lone_cr_as_lf("a\r\nb\n"), Cow::Borrowed(_)));
        let t = "a\rb\r\nc\ré\r";
        let n = lone_cr_as_lf(t);
        assert_eq!(n, "a\nb\r\nc\né\n");
        assert_eq!(n.len(), t.len());
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        let text = "é@x";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 2), (1, 2));
    }
}
