//! Ruby's exact lexer (see [`super`] for the contract): `#` comments, `=begin`/`=end` blocks at
//! the start of a line, strings (with `#{}` nesting modelled), regular expressions told from
//! division as tree-sitter-ruby's scanner tells them, symbols and heredocs whose bodies hold no
//! quote or comment marker.

use super::{hash_comment, push_frame, quiet_literal};
use crate::lang::lexical::RawComment;

/// Keywords after which an operand is expected (a `/` there starts a regular expression).
const OPERATOR_KEYWORDS: &[&[u8]] = &[
    b"alias",
    b"and",
    b"begin",
    b"break",
    b"case",
    b"class",
    b"def",
    b"defined?",
    b"do",
    b"else",
    b"elsif",
    b"ensure",
    b"for",
    b"if",
    b"in",
    b"module",
    b"next",
    b"not",
    b"or",
    b"redo",
    b"rescue",
    b"retry",
    b"return",
    b"super",
    b"then",
    b"undef",
    b"unless",
    b"until",
    b"when",
    b"while",
    b"yield",
    b"BEGIN",
    b"END",
];

/// Interpolation frames on the bracket stack: `#{` inside a `"` string.
const INTERPOLATION: u8 = b'#';

pub(super) fn scan(b: &[u8]) -> Option<Vec<RawComment>> {
    Ruby {
        b,
        i: 0,
        out: Vec::new(),
        stack: Vec::new(),
        operand: false,
        space_before: true,
        line_start: true,
        heredocs: Vec::new(),
    }
    .run()
}

struct Ruby<'t> {
    b: &'t [u8],
    i: usize,
    out: Vec<RawComment>,
    /// Open `(`, `[`, `{` and [`INTERPOLATION`].
    stack: Vec<u8>,
    /// The last token ends an operand (a name, a literal, `)`, `]`, `}`).
    operand: bool,
    /// Whitespace comes right before `i`.
    space_before: bool,
    /// No token yet on this line.
    line_start: bool,
    /// Heredocs opened on this line: identifier, and whether it may be indented.
    heredocs: Vec<(&'t [u8], bool)>,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'t> Ruby<'t> {
    fn at(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    fn run(mut self) -> Option<Vec<RawComment>> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b'\n' => {
                    if self.stack.contains(&INTERPOLATION) {
                        return None;
                    }
                    self.i += 1;
                    self.heredoc_bodies()?;
                    self.line_start = true;
                    self.space_before = true;
                    self.operand = false;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    self.i += 1;
                    self.space_before = true;
                    continue;
                }
                _ => {}
            }
            let line_start = std::mem::replace(&mut self.line_start, false);
            match c {
                b'#' => {
                    if self.stack.contains(&INTERPOLATION) {
                        return None;
                    }
                    let (comment, end) = hash_comment(self.b, self.i);
                    self.out.push(comment);
                    self.i = end;
                    // The line's end (or the file's) follows.
                    continue;
                }
                b'=' if self.b[self.i..].starts_with(b"=begin") => {
                    if !(line_start && (self.i == 0 || self.b[self.i - 1] == b'\n')) {
                        return None;
                    }
                    self.block_comment()?;
                    continue;
                }
                b'\\' => {
                    // A line continuation; the next line may not start with a comment or `=`.
                    let skip = match (self.at(1), self.at(2)) {
                        (b'\n', _) => 2,
                        (b'\r', b'\n') => 3,
                        _ => return None,
                    };
                    self.i += skip;
                    let rest = &self.b[self.i..];
                    let first = rest.iter().find(|c| !matches!(c, b' ' | b'\t'));
                    if matches!(first, None | Some(b'#' | b'=' | b'\n' | b'\r')) {
                        return None;
                    }
                    self.space_before = true;
                    continue;
                }
                b'"' => {
                    self.i += 1;
                    self.string()?;
                }
                b'\'' => self.single_quoted()?,
                b':' => {
                    let next = self.at(1);
                    if next == b'"' {
                        self.i += 2;
                        self.string()?;
                    } else if next == b'\'' {
                        self.i += 1;
                        self.single_quoted()?;
                    } else if is_ident(next)
                        || matches!(
                            next,
                            b':' | b'@'
                                | b'$'
                                | b' '
                                | b'\t'
                                | b'\n'
                                | b'\r'
                                | b'('
                                | b'['
                                | b'{'
                                | 0
                        )
                    {
                        self.i += 1;
                        self.operand = false;
                    } else {
                        // `:/`, `:%`, `:<<`, `` :` `` and other operator symbols.
                        return None;
                    }
                }
                b'?' => {
                    // A `?` right after a name is read with the name; here it is either the
                    // ternary operator (before a space) or a character literal (`?#`).
                    if !matches!(self.at(1), b' ' | b'\t' | b'\n' | b'\r') {
                        return None;
                    }
                    self.i += 1;
                    self.operand = false;
                }
                b'$' => {
                    if !is_ident(self.at(1)) {
                        // `$"`, `$'`, `` $` ``, `$/`, `$#`: punctuation globals.
                        return None;
                    }
                    self.i += 1;
                    self.word(line_start)?;
                }
                b'@' => {
                    let at = if self.at(1) == b'@' { 2 } else { 1 };
                    if !is_ident(self.at(at)) || self.at(at).is_ascii_digit() {
                        return None;
                    }
                    self.i += at;
                    self.word(line_start)?;
                }
                b'%' => {
                    // The modulo operator; `%w[...]`, `%q(...)` and the other literals are
                    // refused.
                    if !(self.operand && matches!(self.at(1), b' ' | b'=')) {
                        return None;
                    }
                    self.i += 1;
                    self.operand = false;
                }
                b'/' => {
                    if line_start {
                        return None;
                    }
                    if self.operand {
                        // tree-sitter-ruby reads a regular expression after a space when the
                        // next byte is neither a space nor `=` (`puts /x/`); refused.
                        if self.space_before && !matches!(self.at(1), b' ' | b'\t' | b'=') {
                            return None;
                        }
                        self.i += 1;
                        self.operand = false;
                    } else {
                        self.regex()?;
                    }
                }
                b'<' if self.at(1) == b'<' => {
                    // `<< x` and `<<=` are operators (`class << self` too); `<<ID` after an
                    // operand is ambiguous (`puts <<X`, `a <<b`), and refused.
                    if matches!(self.at(2), b' ' | b'\t' | b'=') {
                        self.i += 2;
                        self.operand = false;
                    } else if self.operand {
                        return None;
                    } else {
                        self.heredoc_opener()?;
                    }
                }
                b'`' => return None,
                b'(' | b'[' | b'{' => {
                    push_frame(&mut self.stack, c)?;
                    self.i += 1;
                    self.operand = false;
                }
                b')' | b']' | b'}' => {
                    let open = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    match self.stack.pop() {
                        Some(INTERPOLATION) if c == b'}' => {
                            self.i += 1;
                            self.string()?;
                        }
                        Some(o) if o == open => {
                            self.i += 1;
                            self.operand = true;
                        }
                        _ => return None,
                    }
                }
                c if is_ident(c) => self.word(line_start)?,
                c if !(0x20..0x7f).contains(&c) => return None,
                _ => {
                    self.i += 1;
                    self.operand = false;
                }
            }
            self.space_before = false;
        }
        (self.stack.is_empty() && self.heredocs.is_empty()).then_some(self.out)
    }

    /// A name, keyword, number, instance or global variable (its sigil already read).
    fn word(&mut self, line_start: bool) -> Option<()> {
        let start = self.i;
        while self.i < self.b.len() && is_ident(self.b[self.i]) {
            self.i += 1;
        }
        if matches!(self.at(0), b'?' | b'!') && !matches!(self.at(1), b'=' | b'~') {
            self.i += 1;
            // `a?#x`, `a?'x'`: a name with a suffix, or a name and a character literal.
            if matches!(
                self.at(0),
                b'#' | b'\'' | b'"' | b':' | b'?' | b'/' | b'%' | b'<' | b'`' | b'$' | b'@'
            ) {
                return None;
            }
        }
        let word = &self.b[start..self.i];
        if line_start && word == b"__END__" {
            // What follows is data, which tree-sitter does not read.
            return None;
        }
        self.operand = !OPERATOR_KEYWORDS.contains(&word);
        Some(())
    }

    /// The rest of a `"` string (its opening quote read), up to its end or to a `#{`, where
    /// the string is left on the stack and code resumes. One line only.
    fn string(&mut self) -> Option<()> {
        loop {
            match *self.b.get(self.i)? {
                b'\\' => {
                    if super::escapes_line_end(self.b, self.i) {
                        return None;
                    }
                    self.i += 2;
                }
                b'\n' | b'\r' => return None,
                b'"' => {
                    self.i += 1;
                    self.operand = true;
                    return Some(());
                }
                b'#' if self.at(1) == b'{' => {
                    push_frame(&mut self.stack, INTERPOLATION)?;
                    self.i += 2;
                    self.operand = false;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }

    /// A `'` string, on one line.
    fn single_quoted(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        loop {
            match *self.b.get(i)? {
                b'\\' => {
                    if super::escapes_line_end(self.b, i) {
                        return None;
                    }
                    i += 2;
                }
                b'\n' | b'\r' => return None,
                b'\'' => break,
                _ => i += 1,
            }
        }
        self.i = i + 1;
        self.operand = true;
        Some(())
    }

    /// A regular expression literal on one line, without interpolation or an unclosed class.
    fn regex(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        let mut class = false;
        loop {
            match *self.b.get(i)? {
                b'\\' => {
                    if super::escapes_line_end(self.b, i) {
                        return None;
                    }
                    i += 2;
                    continue;
                }
                b'\n' | b'\r' | b'#' => return None,
                b'[' => class = true,
                b']' => class = false,
                b'/' => break,
                _ => {}
            }
            i += 1;
        }
        if class {
            return None;
        }
        self.i = i + 1;
        while self.at(0).is_ascii_alphabetic() {
            self.i += 1;
        }
        self.operand = true;
        Some(())
    }

    /// `<<ID`, `<<~ID`, `<<-ID`, with `'` or `"` around ID; the body is read at the line's end.
    fn heredoc_opener(&mut self) -> Option<()> {
        if self.stack.contains(&INTERPOLATION) {
            return None;
        }
        let mut i = self.i + 2;
        let indent = matches!(self.b.get(i), Some(b'~' | b'-'));
        if indent {
            i += 1;
        }
        let quote = self.b.get(i).copied().filter(|c| matches!(c, b'\'' | b'"'));
        if quote.is_some() {
            i += 1;
        }
        let start = i;
        while self.b.get(i).copied().is_some_and(is_ident) {
            i += 1;
        }
        let id = &self.b[start..i];
        if id.is_empty() || id[0].is_ascii_digit() {
            return None;
        }
        if let Some(q) = quote {
            if self.b.get(i) != Some(&q) {
                return None;
            }
            i += 1;
        }
        self.heredocs.push((id, indent));
        self.i = i;
        self.operand = true;
        Some(())
    }

    /// After a line break: the bodies of the heredocs opened on the line before, in order.
    /// Each body must be quiet (see [`quiet_literal`]) and end at a line that holds only its
    /// identifier; a line that starts with the identifier and holds more is refused (the
    /// grammar's scanner and Ruby disagree there).
    fn heredoc_bodies(&mut self) -> Option<()> {
        for (id, indent) in std::mem::take(&mut self.heredocs) {
            let body_start = self.i;
            let mut line = self.i;
            loop {
                if line >= self.b.len() {
                    return None;
                }
                let next =
                    memchr::memchr(b'\n', &self.b[line..]).map_or(self.b.len(), |p| line + p);
                let content = &self.b[line..next];
                let trimmed = content.trim_ascii_start();
                if let Some(rest) = trimmed.strip_prefix(id) {
                    let exact = rest.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'))
                        && (indent || trimmed.len() == content.len());
                    if !exact {
                        return None;
                    }
                    if !quiet_literal(self.b, (body_start - 1, line, line), b"\"'`#/<=", |_| false)
                    {
                        return None;
                    }
                    self.i = (next + 1).min(self.b.len());
                    break;
                }
                line = next + 1;
            }
        }
        Some(())
    }

    /// `=begin` at the start of a line, to the end of the line of the first `=end` (which must
    /// start a line and end a word, as Ruby requires; the grammar takes any `=end`).
    fn block_comment(&mut self) -> Option<()> {
        let start = self.i;
        if !matches!(self.at(6), b' ' | b'\t' | b'\n' | b'\r') {
            return None;
        }
        let first_nl = memchr::memchr(b'\n', &self.b[start..])? + start;
        let at = memchr::memmem::find(&self.b[first_nl..], b"=end")? + first_nl;
        if self.b[at - 1] != b'\n' {
            return None;
        }
        let end = at + 4;
        // The lexical scanner ends the comment right after `=end`, the grammar at the line's
        // end: only a bare `=end` line is answered.
        if !matches!(self.b.get(end), None | Some(b'\n')) {
            return None;
        }
        self.out.push(RawComment {
            start,
            end,
            block: true,
            unterminated: false,
        });
        self.i = end;
        Some(())
    }
}
