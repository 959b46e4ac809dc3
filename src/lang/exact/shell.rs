//! The shell's exact lexer (tree-sitter-bash's reading; see [`super`] for the contract): `#`
//! starts a comment only at the start of a word, after whitespace or a line's start; inside a
//! plain word (`a#b`, `x=#y`) and in `$#` or `${#x}` it is text. Quotes, `$'…'`, `${…}`,
//! `$(…)`, `$((…))` (also inside `"…"`), backticks, here-strings, `case` statements (whose
//! patterns end in a `)` that closes no bracket) and heredocs (`<<EOF`, `<<-'EOF'`, `<<\EOF`)
//! whose bodies hold no quote or comment marker are modelled.

use super::{hash_comment, push_frame, quiet_literal};
use crate::lang::lexical::RawComment;

/// Stack frames: `(` for `(`, `$(`, `<(` and `>(`; [`ARITHMETIC`] for `((` and `$((`;
/// [`CASE`] from `case` to `esac`; [`QUOTE`] for a `"…"` string.
const ARITHMETIC: u8 = b'A';
/// A `case` statement, whose patterns end in a `)` that closes no bracket. Inside it (and
/// nothing else) comments and heredocs are read as at the top level.
const CASE: u8 = b'C';
/// A `"…"` string, which a `$(…)` or `$((…))` inside interrupts until its `)` closes.
const QUOTE: u8 = b'"';

/// The comments, and the line starts inside strings that span lines at which the lexical
/// scanner must be between tokens (see [`super::scan`]).
pub(super) fn scan(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    Shell {
        b,
        i: 0,
        out: Vec::new(),
        stack: Vec::new(),
        word_start: true,
        glued: false,
        heredoc: None,
        in_test: false,
        resumes: Vec::new(),
    }
    .run()
}

struct Shell<'t> {
    b: &'t [u8],
    i: usize,
    out: Vec<RawComment>,
    stack: Vec<u8>,
    /// An unescaped space, tab or line break (or the file's start) comes right before `i`.
    word_start: bool,
    /// The byte before `i` is a plain word character, so a `#` there continues the word.
    glued: bool,
    /// A heredoc opened on this line: its delimiter and whether leading tabs are stripped.
    heredoc: Option<(&'t [u8], bool)>,
    /// Inside `[ … ]` or `[[ … ]]` (until `]` or `;`, or the line's end).
    in_test: bool,
    /// The starts of the last lines of `'…'` strings that span lines, and of every line after
    /// the first of `"…"` strings that span lines.
    resumes: Vec<usize>,
}

/// Bytes that make up plain words (tree-sitter-bash's word: anything but its special characters
/// and whitespace; `#` only inside).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'.'
                | b'/'
                | b'-'
                | b'='
                | b':'
                | b','
                | b'+'
                | b'@'
                | b'%'
                | b'!'
                | b'*'
                | b'?'
                | b'~'
                | b'^'
        )
}

/// `line` starts with a merge-conflict marker (an error region wherever it is).
fn conflict_marker(line: &[u8]) -> bool {
    crate::lang::lexical::conflict_marker(line).is_some()
}

impl<'t> Shell<'t> {
    fn at(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    /// A token that is neither whitespace nor a plain word character was read.
    fn special(&mut self, len: usize) {
        self.i += len;
        self.word_start = false;
        self.glued = false;
    }

    fn push(&mut self, frame: u8, len: usize) -> Option<()> {
        push_frame(&mut self.stack, frame)?;
        self.special(len);
        Some(())
    }

    /// Outside brackets and strings (inside `case` statements only).
    fn at_top_level(&self) -> bool {
        self.stack.iter().all(|&f| f == CASE)
    }

    /// The word at `start` begins a command: first on its line or after `;`, `&`, `|`, a
    /// bracket or a `case` pattern's `)` (a `case` elsewhere is an argument, `echo case`).
    fn command_position(&self, start: usize) -> bool {
        let mut k = start;
        while k > 0 && matches!(self.b[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        match k.checked_sub(1).map(|j| self.b[j]) {
            None => true,
            // Not after a line continuation.
            Some(b'\n') => k < 2 || self.b[k - 2] != b'\\',
            Some(c) => matches!(c, b';' | b'&' | b'|' | b'(' | b'{' | b')'),
        }
    }

    fn run(mut self) -> Option<(Vec<RawComment>, Vec<usize>)> {
        while self.i < self.b.len() {
            if self.stack.last() == Some(&QUOTE) {
                self.double_quoted()?;
                continue;
            }
            let c = self.b[self.i];
            match c {
                b'\n' => {
                    // A `"…"` string that spans lines, here through a `$(…)` inside it.
                    if self.stack.last() == Some(&ARITHMETIC) || self.stack.contains(&QUOTE) {
                        return None;
                    }
                    self.i += 1;
                    self.heredoc_body()?;
                    self.in_test = false;
                    self.word_start = true;
                    self.glued = false;
                }
                b' ' | b'\t' => {
                    self.i += 1;
                    self.word_start = true;
                    self.glued = false;
                }
                b'#' => {
                    if self.in_test {
                        // `[[ $x == #* ]]`: a pattern or a comment, by rules not modelled.
                        return None;
                    }
                    if self.word_start {
                        if !self.at_top_level() {
                            return None;
                        }
                        let (comment, end) = hash_comment(self.b, self.i);
                        self.out.push(comment);
                        self.i = end;
                    } else if self.glued
                        && (self.stack.last() != Some(&ARITHMETIC) || self.in_based_number())
                    {
                        self.i += 1;
                        self.word_start = false;
                    } else {
                        // After a quote, an expansion or an operator (`"a"#b`, `$x#`, `;#`).
                        return None;
                    }
                }
                b'\\' => match self.at(1) {
                    b'\n' => {
                        // A line continuation; the next line must not start a word at once.
                        if !matches!(self.at(2), b' ' | b'\t') {
                            return None;
                        }
                        self.i += 2;
                    }
                    c if (0x21..0x7f).contains(&c) => {
                        self.i += 2;
                        self.word_start = false;
                        self.glued = true;
                    }
                    _ => return None,
                },
                b'\'' => {
                    let end = memchr::memchr(b'\'', &self.b[self.i + 1..])? + self.i + 1;
                    if let Some(last) = memchr::memrchr(b'\n', &self.b[self.i..end]) {
                        if self.stack.contains(&QUOTE) {
                            return None;
                        }
                        // A merge-conflict marker line is an error region wherever it is.
                        if self.b[self.i..end]
                            .split(|&c| c == b'\n')
                            .skip(1)
                            .any(conflict_marker)
                        {
                            return None;
                        }
                        self.resumes.push(self.i + last + 1);
                    }
                    self.special(end + 1 - self.i);
                }
                b'"' => self.push(QUOTE, 1)?,
                b'$' => self.dollar()?,
                b'`' => {
                    let end = memchr::memchr(b'`', &self.b[self.i + 1..])? + self.i + 1;
                    let body = &self.b[self.i + 1..end];
                    if body.iter().any(|c| {
                        matches!(c, b'#' | b'\'' | b'"' | b'\\' | b'\n' | b'<' | b'$' | b'(')
                    }) {
                        return None;
                    }
                    self.special(end + 1 - self.i);
                }
                b'(' => {
                    if self.word_start && self.at(1) == b'(' {
                        self.push(ARITHMETIC, 2)?;
                    } else {
                        self.push(b'(', 1)?;
                    }
                }
                b')' => match self.stack.last() {
                    Some(&ARITHMETIC) if self.at(1) == b')' => {
                        self.stack.pop();
                        self.special(2);
                    }
                    Some(b'(') => {
                        self.stack.pop();
                        self.special(1);
                    }
                    // The end of a `case` pattern (`a)`, `*)`).
                    Some(&CASE) => self.special(1),
                    _ => return None,
                },
                b'<' | b'>' if self.at(1) == b'(' => self.push(b'(', 2)?,
                b'<' if self.b[self.i..].starts_with(b"<<<") => self.special(3),
                b'<' if self.at(1) == b'<' => {
                    if self.stack.last() == Some(&ARITHMETIC) {
                        self.special(2);
                    } else {
                        self.heredoc_opener()?;
                    }
                }
                b'[' => {
                    // A test (`[ … ]`, `[[ … ]]`, also right after a word: tree-sitter-bash
                    // reads `$#[[ … ]]` as one), whose words may be patterns; or a subscript.
                    self.in_test = true;
                    self.special(1);
                }
                b']' | b';' => {
                    self.in_test = false;
                    self.special(1);
                }
                b'{' | b'}' | b'&' | b'|' | b'<' | b'>' => self.special(1),
                c if is_word(c) => {
                    let start = self.i;
                    while self.i < self.b.len() && is_word(self.b[self.i]) {
                        self.i += 1;
                    }
                    let word = &self.b[start..self.i];
                    // `case` inside brackets, and `=~` (a regular expression in `[[ ]]`, whose
                    // text the grammar reads by other rules).
                    if word == b"case" && !self.at_top_level()
                        || word.windows(2).any(|w| w == b"=~")
                    {
                        return None;
                    }
                    if word == b"case" && self.command_position(start) {
                        push_frame(&mut self.stack, CASE)?;
                    } else if word == b"esac" && self.stack.last() == Some(&CASE) {
                        // The grammar takes `esac` for the keyword wherever a `case` can end.
                        self.stack.pop();
                    }
                    self.word_start = false;
                    // `#` continues a word after these; after `!`, `*`, `?`, `~` or `^`
                    // (negation, globs) it is refused.
                    let last = self.b[self.i - 1];
                    self.glued = last.is_ascii_alphanumeric()
                        || matches!(
                            last,
                            b'_' | b'.' | b'/' | b'-' | b'=' | b':' | b',' | b'+' | b'@' | b'%'
                        );
                }
                // `\r`, other control characters, non-ASCII.
                _ => return None,
            }
        }
        (self.stack.is_empty() && self.heredoc.is_none()).then_some((self.out, self.resumes))
    }

    /// The rest of a `"` string (the [`QUOTE`] frame on top): to its closing quote, or to a
    /// `$(` or `$((` that the main loop reads (on one line) until its `)` returns here.
    /// Backticks inside are refused.
    fn double_quoted(&mut self) -> Option<()> {
        loop {
            match *self.b.get(self.i)? {
                b'\\' => {
                    if super::escapes_line_end(self.b, self.i) {
                        return None;
                    }
                    self.i += 2;
                }
                b'"' => {
                    self.stack.pop();
                    self.special(1);
                    return Some(());
                }
                b'\n' => {
                    // A string that spans lines: an error region may start at any of its
                    // lines (its expansions are nodes), where the lexical scanner must be
                    // between tokens as well (see [`super::scan`]). Not with a heredoc
                    // pending, nor across a conflict marker (an error region wherever it is).
                    self.i += 1;
                    if self.heredoc.is_some() || conflict_marker(&self.b[self.i..]) {
                        return None;
                    }
                    self.resumes.push(self.i);
                }
                b'`' => return None,
                b'$' if self.at(1) == b'(' && self.at(2) == b'(' => {
                    return self.push(ARITHMETIC, 3);
                }
                b'$' if self.at(1) == b'(' => return self.push(b'(', 2),
                b'$' if self.at(1) == b'{' => self.braces()?,
                _ => self.i += 1,
            }
        }
    }

    /// `${…}` on one line, without quotes, nesting or substitutions inside.
    fn braces(&mut self) -> Option<()> {
        let close = memchr::memchr(b'}', &self.b[self.i..])? + self.i;
        let body = &self.b[self.i + 2..close];
        if body.is_empty()
            || body
                .iter()
                .any(|c| matches!(c, b'"' | b'\'' | b'`' | b'$' | b'{' | b'\n' | b'\\'))
        {
            return None;
        }
        self.i = close + 1;
        Some(())
    }

    fn dollar(&mut self) -> Option<()> {
        match self.at(1) {
            b'\'' => {
                // `$'…'`, with backslash escapes.
                let mut i = self.i + 2;
                loop {
                    match *self.b.get(i)? {
                        b'\\' => i += 2,
                        b'\n' => return None,
                        b'\'' => break,
                        _ => i += 1,
                    }
                }
                self.special(i + 1 - self.i);
            }
            b'"' => self.push(QUOTE, 2)?,
            b'(' if self.at(2) == b'(' => self.push(ARITHMETIC, 3)?,
            b'(' => self.push(b'(', 2)?,
            b'{' => {
                self.braces()?;
                self.word_start = false;
                self.glued = false;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                self.i += 1;
                while self.at(0).is_ascii_alphanumeric() || self.at(0) == b'_' {
                    self.i += 1;
                }
                self.word_start = false;
                self.glued = false;
            }
            b'#' | b'?' | b'$' | b'!' | b'@' | b'*' | b'-' | b'0'..=b'9' => self.special(2),
            _ => return None,
        }
        Some(())
    }

    /// In arithmetic, is the glued `#` at `self.i` inside a number with a base (`16#ff`)?
    /// tree-sitter-bash's number token is `-?(0x)?[0-9]+(#[0-9A-Za-z@_]+)?`: after anything
    /// else (`a#`, `0x1#`, `16#f#`, `$1#`) the `#` starts a comment, which is refused.
    fn in_based_number(&self) -> bool {
        let word = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'@' | b'#');
        let start = self.b[..self.i]
            .iter()
            .rposition(|c| !word(c))
            .map_or(0, |p| p + 1);
        let digits = &self.b[start..self.i];
        !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && start > 0
            && matches!(
                self.b[start - 1],
                b' ' | b'\t'
                    | b'('
                    | b'+'
                    | b'-'
                    | b'*'
                    | b'/'
                    | b'%'
                    | b'='
                    | b','
                    | b'<'
                    | b'>'
                    | b'!'
                    | b'&'
                    | b'|'
                    | b'^'
                    | b'~'
                    | b'?'
                    | b':'
            )
            && (self.b.get(self.i + 1))
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'_'))
    }

    /// `<<ID`, `<<-ID`, `<< ID`, with `'`, `"` or a `\` before ID; the body is read at the
    /// line's end.
    fn heredoc_opener(&mut self) -> Option<()> {
        if !self.at_top_level() || self.heredoc.is_some() {
            return None;
        }
        let mut i = self.i + 2;
        let strip_tabs = self.b.get(i) == Some(&b'-');
        if strip_tabs {
            i += 1;
        }
        while matches!(self.b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        // `<<\EOF` quotes the delimiter as `<<'EOF'` does (the lexical scanner takes it for no
        // heredoc and reads the body as code, which a quiet body makes the same).
        let quote = self
            .b
            .get(i)
            .copied()
            .filter(|c| matches!(c, b'\'' | b'"' | b'\\'));
        if quote.is_some() {
            i += 1;
        }
        let start = i;
        while self
            .b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            i += 1;
        }
        let id = &self.b[start..i];
        if id.is_empty() {
            return None;
        }
        if let Some(q) = quote.filter(|&q| q != b'\\') {
            if self.b.get(i) != Some(&q) {
                return None;
            }
            i += 1;
        }
        // tree-sitter-bash reads an unquoted (or `\`-quoted) delimiter up to the next blank
        // (`<<EOF;` ends at a line `EOF;`); a quoted one ends at its closing quote.
        let quoted = quote.is_some_and(|q| q != b'\\');
        match self.b.get(i) {
            None | Some(b' ' | b'\t' | b'\n') => {}
            Some(b';' | b'|' | b'&' | b')' | b'>') if quoted => {}
            _ => return None,
        }
        self.heredoc = Some((id, strip_tabs));
        self.special(i - self.i);
        Some(())
    }

    /// After a line break: the body of the heredoc opened on the line before, which must be
    /// quiet (see [`quiet_literal`]) and end at a line that is exactly its delimiter (after
    /// leading tabs, for `<<-`). A line that starts with the delimiter and holds more is
    /// refused (the grammar's scanner ends the body there, the shell does not).
    fn heredoc_body(&mut self) -> Option<()> {
        let Some((id, strip_tabs)) = self.heredoc.take() else {
            return Some(());
        };
        let body_start = self.i;
        let mut line = self.i;
        loop {
            if line >= self.b.len() {
                return None;
            }
            let next = memchr::memchr(b'\n', &self.b[line..]).map_or(self.b.len(), |p| line + p);
            let content = &self.b[line..next];
            let tabs = content.iter().take_while(|c| **c == b'\t').count();
            let content_after_tabs = if strip_tabs {
                &content[tabs..]
            } else {
                content
            };
            if content_after_tabs == id {
                if !quiet_literal(self.b, (body_start - 1, line, line), b"\"'`#<", |_| false) {
                    return None;
                }
                self.i = (next + 1).min(self.b.len());
                return Some(());
            }
            if content.trim_ascii_start().starts_with(id) {
                return None;
            }
            line = next + 1;
        }
    }
}
