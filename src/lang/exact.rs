//! Exact comment lexers: for the languages listed in [`covers`], a hand-written lexer that
//! finds the comments tree-sitter's query (grammars/<lang>.scm) finds, without building a syntax
//! tree. Parsing a file with tree-sitter costs about 40× reading it; most files that reach the
//! extractor are ordinary source whose comments a lexer can find exactly.
//!
//! Exactness is bought by refusing: [`scan`] returns `None`, and tree-sitter decides, for
//! anything the lexer does not model. Refused everywhere: a string, comment or char literal
//! that is never closed; a bracket that does not match (the likeliest sign of a syntax error,
//! after which tree-sitter's recovery, not the token rules, decides what a comment is); a
//! control character or non-ASCII character outside strings and comments; a line comment that
//! ends in `\` except in Go and Rust (C continues it). Per language, refused:
//! - C, C++: a quote right after an identifier or number (`L"`, `u8R"(` raw strings, `1'000`
//!   digit separators; in C only `'` and a `"` after a number), a line continuation in
//!   `#include` and the conditionals. C++: any preprocessor line other than `#include`,
//!   `#ifdef`, `#ifndef`, `#else`, `#endif`. C
//!   (`#define` values and other directives' arguments are one `preproc_arg` token up to a
//!   `/*` or the line break): `//` in such a line, a `/` before its line break, whitespace
//!   right before its line break after a name or comment (`#define X \n`, a syntax error),
//!   `#if(`, `#elifdef`, a name that only starts like a known one (`#include_next`).
//! - C#: any `#` directive, `@"` and `$"` strings, `"""` raw strings.
//! - Go: only literals that span lines, below (backtick raw strings and runes are modelled).
//! - Java: only the literals that span lines below (text blocks `"""` are modelled).
//! - Go, Java, JavaScript, TypeScript, Python (literals that span lines): a comment or quote
//!   after the first line break, a comment after it on its last line, and a rest of the file
//!   that a scan from the start of that line reads differently (see [`scan`]); in Python
//!   only quotes or `#` in a string that is not a statement on its own, and no scan for a
//!   docstring.
//! - JavaScript, TypeScript: a `/` that tree-sitter reads by context (after `)`, `}`, `.`,
//!   `++`, `--`, a string or template, a regular expression, `of`, `yield`, `await`,
//!   `extends`, and in TypeScript after `!` and a `>` not in `=>`; a `/` after a name that is
//!   not a keyword, a number or `]` is a division, after an opening bracket, another operator,
//!   a keyword such as `return` or the start a regular expression), a regular expression that
//!   holds a line break or a non-ASCII character or has flags other than lower-case letters,
//!   a comment inside a template's `${…}`, `<!--` and `-->` (HTML-like comments), a `#!` line;
//!   in JavaScript also every `<` before a letter, `/`, `>` or `!` (JSX).
//! - Rust (strings that span lines): on the last line a comment, `/*`, `r#` or a `\` at its
//!   end; in a string the lexical scanner reads as code (all but `r#"…"#` and `r##"…"##`)
//!   also a comment marker (`//`, `/*`) or `r#` after the first line break and a `\` before
//!   the last one (see [`scan`]).
//! - Python: f-strings whose `{…}` holds `#`, `\\`, the f-string's own quote, a string
//!   in the other quote that holds a brace, `#` or `\\`, or a line break, or opens after
//!   the f-string's first line, `{…}` inside a format specification, `\\` before a brace or
//!   `N`, a lone `}`; a `\\` outside a string other than a line continuation, a string
//!   after a line continuation or after a `:` at the end of a line's code (`if x: "doc"`), a
//!   `;` after a string that starts a statement, `$`, `?` and backticks, a line that ends
//!   where tree-sitter-python ends no statement (`x =`, `x.`, `not`), a decorator with no
//!   definition after it. A string that is a statement on its own is a docstring (`@doc`).
//! - Rust: a quote after an identifier other than the string prefixes `b`, `c`, `r`, `br`,
//!   `cr` (raw strings `r#"…"#` and nested block comments are modelled); a `'` that is neither
//!   a char literal nor a lifetime.
//! - Ruby ([`ruby`]): a string or regular expression that spans lines (also through `#{}`),
//!   a comment inside `#{}`, `%` literals (`%w[]`, `%q()`), backticks, `?x` character
//!   literals, punctuation globals (`$"`, `$#`), operator symbols (`:/`, `:%`), a `/` that
//!   tree-sitter-ruby could read either way (`puts /x/`, or first on a line), a regular
//!   expression with `#` or an unclosed `[`, `<<ID` right after an operand (`puts <<X`), a
//!   heredoc body that holds a quote, `#`, `/`, `<` or `=`, or a line that starts with its
//!   identifier and holds more (`EOS x`: the grammar ends the body there), `=begin` not at
//!   a line's start or not followed by a space, an `=end` that is not a bare line (the grammar
//!   ends the comment at any `=end`), `__END__`, a line continuation before `#` or `=`.
//! - Shell ([`shell`], tree-sitter-bash, which also reads zsh and ksh files): `#` right after
//!   a quote, an expansion or an operator (`"a"#b`, `$x#`, `;#`, `!#`), any `#` after a `[`
//!   on its line (until `]` or `;`: tests, whose words may be patterns), a comment inside `(…)`,
//!   `$(…)` or `$((…))`, a line break in a `$(…)` in `"…"`, a string that spans lines across
//!   whose closing line's start (any line's start, for `"…"`) the lexical scanner reads a
//!   heredoc or a quote continued by `\` (see [`scan`]) or holding a conflict marker, backticks
//!   in `"…"`, `${…}` holding quotes, `$` or nesting, a backtick body with `#`, quotes, `$` or
//!   `(`, `=~`, a `)` that closes no bracket outside a `case`, `case` in brackets, `\r`, an
//!   escaped space, two heredocs on a line, a heredoc in brackets, a heredoc body holding a
//!   quote, `#`, `<` or a backtick, or a line that starts with its delimiter and holds more.
//! - PHP ([`php`]): a file that does not start with `<?php` and a space, or holds `?>` or a
//!   second `<?` anywhere; heredoc and nowdoc (`<<<`), backticks, `{$`, `${` and `$name[` in
//!   a `"…"` string, a quote after a name (`b"…"`), `__halt_compiler`, a `\` not before a name.
//! - Kotlin ([`kotlin`]): `#` (`#!` lines), `\` outside strings, a `${…}` template that spans
//!   lines, `${` in a `"""` string or more quotes after its closing `"""`, a char literal other
//!   than `'x'`, `'\n'`, `'\u0041'`.
//! - Swift ([`swift`]): `#` (raw strings, `#if`, `#selector`), `'`, a `/` that is not a comment
//!   and not followed by a space (regular expression literals), a comment glued to an operator
//!   (`+//`), `\(…)` that spans lines or sits in a `"""` string, and `/*` in a string or `/`
//!   first in one (tree-sitter-swift's scanner reads a comment there).
//! - Scala ([`scala`]): symbols (`'sym`) and any `'` that is not a plain char literal, `<`
//!   before a letter, `!`, `?` or `_` (XML literals), `#`, `\` outside strings and inside an
//!   interpolated one, `$"`, a `${…}` that spans lines or sits in a `"""` string, more quotes
//!   after a closing `"""`, a comment glued to an operator, and anything but spaces after a block
//!   comment on its line (tree-sitter-scala then stretches the comment over it).
//! - HCL ([`hcl`], Terraform): a line break, a comment or a heredoc inside a template's
//!   `${…}` or `%{…}` (or inside `"…"`), an escape tree-sitter-hcl does not know (`\q`), `'`,
//!   `$`, `\` or `;` outside strings, a heredoc opener with a space before its identifier
//!   or anything after it on its line, a heredoc body line that holds `#`, `//`, `/*` or `<<`
//!   outside quotes or a control character (the lexical scanner reads a body line as code when
//!   it resumes there), or that starts with the identifier and then a character that cannot
//!   continue one (`EOF x`), and a heredoc closed by the file's last line with no line break.
//! - YAML ([`yaml`]): a quoted scalar or flow collection that spans lines, a line indented
//!   more than the key or `-` that holds a value unless it goes on with a plain scalar (not
//!   after a comment; no indicator first, no `: `), `%` directives, `?` complex keys, an
//!   indentation indicator (`|2`), a line between a block scalar's parent and its body's
//!   indentation (`- k: |` then a line indented by 2), a tab in indentation, a `#` right after
//!   a quote, Helm's `{{` where a node starts, `-` in flow collections, text after `---`, a BOM.
//!
//! Kotlin, Swift and Scala nest block comments (`/* /* */ */`), PHP does not. For a string
//! that spans lines in these four, and in Go, Java, JavaScript, TypeScript and Python, the
//! lexical scanner, resuming at the start of the string's last line, would read its closing
//! delimiter as an opening one: [`scan`] also requires a lexical scan of the rest of the file
//! from there to agree.
//!
//! Every other language stays on tree-sitter. `tests/exact_lexer.rs` runs both on every
//! fixture, on an adversarial corpus and on inputs with syntax errors inserted; the fuzz
//! target `exact_lexer` compares them on arbitrary input; `tests/exact_lexer.rs`'s ignored
//! test runs them over every file of a directory tree (`THREATMARK_EXACT_TREE`).
//!
//! @threat Exact lexer diverges from the grammar (#lexer_divergence) [stride: T; likelihood: unlikely; impact: moderate; cwe: 697]:
//! a construct the hand-written lexer reads differently from tree-sitter hides an annotation
//! in code or takes one out of a string, so the model depends on which path read the file
//! @control Refusing exact lexer (#exact_lexer): the lexer answers only for input it models
//! completely (balanced brackets, every literal closed, no unmodelled construct) and hands the
//! rest to tree-sitter; a differential test and a fuzz target compare the two
//! @mitigates #extractor against #lexer_divergence with #exact_lexer

mod hcl;
mod kotlin;
mod php;
mod ruby;
mod scala;
mod shell;
mod swift;
mod yaml;

use super::Language;
use super::lexical::RawComment;

/// The lexer's dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    C,
    Cpp,
    CSharp,
    Go,
    Java,
    JavaScript,
    TypeScript,
    Rust,
    Python,
    Ruby,
    Shell,
    Php,
    Kotlin,
    Swift,
    Scala,
    Hcl,
    Yaml,
}

fn dialect(name: &str) -> Option<Dialect> {
    Some(match name {
        "c" => Dialect::C,
        "cpp" => Dialect::Cpp,
        "csharp" => Dialect::CSharp,
        "go" => Dialect::Go,
        "java" => Dialect::Java,
        "javascript" => Dialect::JavaScript,
        "typescript" => Dialect::TypeScript,
        "rust" => Dialect::Rust,
        "python" => Dialect::Python,
        "ruby" => Dialect::Ruby,
        "bash" => Dialect::Shell,
        "php" => Dialect::Php,
        "kotlin" => Dialect::Kotlin,
        "swift" => Dialect::Swift,
        "scala" => Dialect::Scala,
        "hcl" => Dialect::Hcl,
        "yaml" => Dialect::Yaml,
        _ => return None,
    })
}

/// Whether the language (a table row's name) has an exact lexer.
pub fn covers(name: &str) -> bool {
    dialect(name).is_some()
}

/// The comments tree-sitter's query would find in `text`, or `None` when the language has no
/// exact lexer or the text holds something the lexer does not model.
///
/// The lexer cannot see a syntax error that keeps brackets balanced (`x x // c`), and there
/// tree-sitter's path reads the lines around the error with the lexical scanner
/// ([`super::lexical`]). So the answer also requires that the lexical scanner, run over the
/// whole file, finds the same comments: then the error lines give the same comments either way.
/// (The lexical scanner resumes at the start of an error's line; a string that spans lines is
/// therefore refused when a quote or comment marker follows its first line break, except in
/// Rust, where the scan from its last line is compared on that line alone, and in shell, where
/// the lexical scanner ends a quote at the line's end and is between tokens at the start of a
/// `'…'` string's closing line unless it skips a heredoc or continued quote across it. Where the
/// lexical scanner reads the closing delimiter of such a string as an opening one (`"""`), the
/// lexers of Go, Java, JavaScript, TypeScript, Python (not for a docstring), PHP, Kotlin,
/// Swift and Scala name the start of its line, and a scan of the rest of the file from there
/// must find the same comments too.)
pub fn scan(lang: &Language, text: &str) -> Option<Vec<RawComment>> {
    let (exact, resumes) = scan_exact_resuming(lang.name, text)?;
    let same = |from: usize, until: usize, lexical: &[RawComment]| {
        let exact = &exact[exact.partition_point(|c| c.start < from)..];
        let exact = &exact[..exact.partition_point(|c| c.start < until)];
        exact.len() == lexical.len()
            && exact.iter().zip(lexical).all(|(e, l)| {
                e.start == l.start
                    && e.block == l.block
                    && !l.unterminated
                    && (e.end == l.end || (!e.block && text[e.end..l.end].trim().is_empty()))
            })
    };
    if lang.name == "bash" {
        // A `'…'` string that spans lines is one token to tree-sitter-bash, so no error region
        // starts inside it; the lexical scanner ends a quote at the line's end and reads its
        // other lines as code (compared with the rest), and its closing `'` as an opening one.
        // A scan that resumes at the start of the closing line reads what the whole-file scan
        // reads from there when that scan skips no token across that line start (a heredoc or
        // a quote continued by `\` in the body): then both are between tokens there. A `"…"`
        // string's expansions are nodes, so a region may start at any of its lines: the lexer
        // names each, and each is checked the same way.
        let (lexical, spans) = super::lexical::scan_with_spans(lang, text);
        let between_tokens = |at: usize| {
            let k = spans.partition_point(|s| s.start < at);
            k == 0 || spans[k - 1].end <= at
        };
        return (same(0, text.len(), &lexical) && resumes.iter().all(|&at| between_tokens(at)))
            .then_some(exact);
    }
    if !same(0, text.len(), &super::lexical::scan(lang, text)) {
        return None;
    }
    if lang.name == "rust" {
        // A Rust string's last line: the scan that resumes there reads its closing quote as
        // an opening one, to the line's end. When that line opens nothing that spans lines
        // (`/*`, `r#"`, a `\` at its end), that scan and the one over the whole file are both
        // between tokens at the next line's start, and read the same from there on: the line
        // alone is compared.
        return resumes
            .iter()
            .all(|&from| {
                let line = &text.as_bytes()[from..];
                let until = memchr::memchr(b'\n', line).map_or(text.len(), |p| from + p + 1);
                let line = &text.as_bytes()[from..until];
                let body = line.strip_suffix(b"\n").unwrap_or(line);
                memchr::memmem::find(line, b"/*").is_none()
                    && memchr::memmem::find(line, b"r#").is_none()
                    && !body.strip_suffix(b"\r").unwrap_or(body).ends_with(b"\\")
                    && same(
                        from,
                        until,
                        &super::lexical::scan_range(lang, text, from, until),
                    )
            })
            .then_some(exact);
    }
    if resumes.len() > MAX_RESUMES {
        return None;
    }
    resumes
        .iter()
        .all(|&from| {
            same(
                from,
                text.len(),
                &super::lexical::scan_range(lang, text, from, text.len()),
            )
        })
        .then_some(exact)
}

/// More strings that span lines than this, each costing a scan of the rest of the file, are
/// left to tree-sitter.
const MAX_RESUMES: usize = 32;

/// [`scan`] without the comparison with the lexical scanner.
pub fn scan_exact(name: &str, text: &str) -> Option<Vec<RawComment>> {
    scan_exact_resuming(name, text).map(|(comments, _)| comments)
}

/// [`scan_exact`], and the line starts from which a lexical scan must also agree (see [`scan`]).
fn scan_exact_resuming(name: &str, text: &str) -> Option<(Vec<RawComment>, Vec<usize>)> {
    let d = dialect(name)?;
    if memchr::memchr(0, text.as_bytes()).is_some() {
        // Tree-sitter's lexers read a NUL as the end of the input.
        return None;
    }
    let b = text.as_bytes();
    let comments = match d {
        Dialect::Python => return python(b),
        Dialect::Ruby => ruby::scan(b),
        Dialect::Shell => return shell::scan(b),
        Dialect::Hcl => hcl::scan(b),
        Dialect::Yaml => yaml::scan(b),
        Dialect::Php => return php::scan(b),
        Dialect::Kotlin => return kotlin::scan(b),
        Dialect::Swift => return swift::scan(b),
        Dialect::Scala => return scala::scan(b),
        _ => {
            return Lexer {
                d,
                b,
                i: 0,
                out: Vec::new(),
                stack: Vec::new(),
                prev: Prev::Operator,
                templates: Vec::new(),
                resumes: Vec::new(),
            }
            .run();
        }
    };
    comments.map(|c| (c, Vec::new()))
}

/// A `#` comment from `at` to its line's end (a `\r` before the `\n` left out), and where
/// its line ends.
fn hash_comment(b: &[u8], at: usize) -> (RawComment, usize) {
    let end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |p| at + p);
    let body = b[at..end].strip_suffix(b"\r").unwrap_or(&b[at..end]);
    let comment = RawComment {
        start: at,
        end: at + body.len(),
        block: false,
        unterminated: false,
    };
    (comment, end)
}

/// A literal `start..end` with its body ending at `body_end`: when it spans lines, nothing
/// after its first line break may be one of `markers` (what the lexical scanner reads as a
/// quote or a comment when it resumes at a line start inside the literal, see [`scan`]), nor
/// may the rest of its last line hold a comment (`comment_after`).
fn quiet_literal(
    b: &[u8],
    (start, body_end, end): (usize, usize, usize),
    markers: &[u8],
    comment_after: impl Fn(&[u8]) -> bool,
) -> bool {
    let lit = &b[start..body_end];
    let Some(nl) = memchr::memchr(b'\n', lit) else {
        return true;
    };
    let line_end = memchr::memchr(b'\n', &b[end..]).map_or(b.len(), |p| end + p);
    !lit[nl..].iter().any(|c| markers.contains(c)) && !comment_after(&b[end..line_end])
}

/// The start of the last line of the literal `start..end`, when it spans lines: a scan that
/// resumes there reads its closing delimiter as an opening one (see [`scan`]).
fn last_line(b: &[u8], start: usize, end: usize) -> Option<usize> {
    memchr::memrchr(b'\n', &b[start..end]).map(|p| start + p + 1)
}

/// The block comment that opens at `start` (`/*`) and its end; `nest` when `/*` inside it
/// opens another level (Rust, Kotlin, Swift, Scala). Elsewhere the first `*/` closes it, also
/// the one in `/*/`. None when it is never closed or nests deeper than [`MAX_DEPTH`] (left to
/// tree-sitter).
fn block_comment(b: &[u8], start: usize, nest: bool) -> Option<(RawComment, usize)> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        let rest = b.get(i..)?;
        if rest.starts_with(b"/*") && (nest || depth == 0) {
            depth += 1;
            if depth > MAX_DEPTH {
                return None;
            }
            i += 2;
        } else if rest.starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else if rest.is_empty() {
            return None;
        } else {
            i += 1;
        }
    }
    let comment = RawComment {
        start,
        end: i,
        block: true,
        unterminated: false,
    };
    Some((comment, i))
}

/// The state the PHP, Kotlin, Swift and Scala lexers share: the text, the position, the
/// comments found and the open brackets (and string interpolations, as frames of the
/// language's choosing).
struct Cursor<'t> {
    b: &'t [u8],
    i: usize,
    out: Vec<RawComment>,
    stack: Vec<u8>,
    /// The starts of the last lines of literals that span lines (see [`scan`]).
    resumes: Vec<usize>,
}

impl<'t> Cursor<'t> {
    fn new(b: &'t [u8]) -> Self {
        Cursor {
            b,
            i: 0,
            out: Vec::new(),
            stack: Vec::new(),
            resumes: Vec::new(),
        }
    }

    fn at(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    fn rest(&self) -> &'t [u8] {
        &self.b[self.i..]
    }

    /// A line comment at `i`, to its line's end (a `\r` before the `\n` left out).
    fn line_comment(&mut self) {
        let (comment, end) = hash_comment(self.b, self.i);
        self.out.push(comment);
        self.i = end;
    }

    /// A block comment at `i`; `nest` when `/*` inside it opens another level.
    fn block_comment(&mut self, nest: bool) -> Option<()> {
        let (comment, end) = block_comment(self.b, self.i, nest)?;
        self.out.push(comment);
        self.i = end;
        Some(())
    }

    /// An opening bracket (or an interpolation frame) at `i`, `len` bytes long.
    fn open(&mut self, frame: u8, len: usize) -> Option<()> {
        push_frame(&mut self.stack, frame)?;
        self.i += len;
        Some(())
    }

    /// A closing bracket at `i`, which must match the innermost open one.
    fn close(&mut self, c: u8) -> Option<()> {
        let open = match c {
            b')' => b'(',
            b']' => b'[',
            _ => b'{',
        };
        (self.stack.pop() == Some(open)).then_some(())?;
        self.i += 1;
        Some(())
    }

    /// A literal from `start` to `i` whose closing delimiter is `close` bytes long: see
    /// [`quiet_literal`].
    fn quiet(&mut self, start: usize, close: usize) -> Option<()> {
        let body_end = self.i - close;
        quiet_literal(self.b, (start, body_end, self.i), b"\"'`#/<=>", |after| {
            after.windows(2).any(|w| w == b"//" || w == b"/*") || after.contains(&b'#')
        })
        .then_some(())?;
        self.resumes.extend(last_line(self.b, start, body_end));
        Some(())
    }

    /// An ASCII name at `i` (letters, digits, `_`, and `$` where `dollar`); `None` for a
    /// non-ASCII letter. Returns the name.
    fn name(&mut self, dollar: bool) -> Option<&'t [u8]> {
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            if c.is_ascii_alphanumeric() || c == b'_' || (dollar && c == b'$') {
                self.i += 1;
            } else if c >= 0x80 {
                return None;
            } else {
                break;
            }
        }
        Some(&self.b[start..self.i])
    }

    /// A backquoted name at `i`, on one line.
    fn backquoted(&mut self) -> Option<()> {
        let len = self.b[self.i + 1..]
            .iter()
            .position(|&c| matches!(c, b'`' | b'\n' | b'\r'))?;
        (self.b[self.i + 1 + len] == b'`' && len > 0).then_some(())?;
        self.i += len + 2;
        Some(())
    }

    /// The comments, when every bracket and interpolation was closed.
    fn finish(self) -> Option<(Vec<RawComment>, Vec<usize>)> {
        self.stack.is_empty().then_some((self.out, self.resumes))
    }
}

/// A char literal at `i` as Kotlin and Scala write it: `'x'` (one printable ASCII character),
/// `'\n'` (a one-letter escape) or `'\u0041'`; returns where it ends. Anything else is
/// refused (a Scala symbol `'sym`, a non-ASCII character).
fn simple_char(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i + 1)? {
        b'\\' => {
            let e = *b.get(i + 2)?;
            if e == b'u' {
                let hex = b.get(i + 3..i + 7)?;
                (hex.iter().all(u8::is_ascii_hexdigit) && b.get(i + 7) == Some(&b'\''))
                    .then_some(i + 8)
            } else {
                (b"tbnr'\"\\".contains(&e) && b.get(i + 3) == Some(&b'\'')).then_some(i + 4)
            }
        }
        c if (0x20..0x7f).contains(&c) && c != b'\'' => {
            (b.get(i + 2) == Some(&b'\'')).then_some(i + 3)
        }
        _ => None,
    }
}

/// Whether `c` may be part of an operator in Swift or Scala, where `+//` could be read as
/// one operator rather than `+` and a comment: such a glued comment start is refused.
fn operator_char(c: u8) -> bool {
    b"!#%&*+-/:<=>?@\\^|~.".contains(&c)
}

/// Deeper nesting is left to tree-sitter, so that a pathological file meets the parse budget
/// (TM025) as it did before the lexer existed: the diagnostics stay the same.
const MAX_DEPTH: usize = 256;

/// Push an opening bracket (or an interpolation frame) on `stack`: `None` past [`MAX_DEPTH`].
fn push_frame(stack: &mut Vec<u8>, frame: u8) -> Option<()> {
    (stack.len() < MAX_DEPTH).then(|| stack.push(frame))
}

/// The last significant token, for telling a division from a regular expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// The start of the text, an opening bracket, an operator or a keyword after which only
    /// an operand can follow: a `/` starts a regular expression.
    Operator,
    /// A name that is not a keyword, or a number.
    Operand,
    /// `]`
    Close,
    /// Anything after which either reading could be right (`)`, `}`, `++`, a string, a
    /// keyword that may be a name, TypeScript's `x!` and `>`): a `/` is refused.
    Other,
}

struct Lexer<'t> {
    d: Dialect,
    b: &'t [u8],
    i: usize,
    out: Vec<RawComment>,
    stack: Vec<u8>,
    prev: Prev,
    /// The starts of the templates whose `${…}` substitutions are open, innermost last.
    templates: Vec<usize>,
    /// The starts of the last lines of literals that span lines (see [`scan`]).
    resumes: Vec<usize>,
}

/// Keywords after which a `/` starts a regular expression in JavaScript: the lexical scanner's,
/// less those that may also be names (`of`, `yield`, `await`: `let of = 4; of / 2`).
fn js_regex_keyword(word: &[u8]) -> bool {
    super::lexical::REGEX_KEYWORDS.contains(&word) && !matches!(word, b"of" | b"yield" | b"await")
}

/// Words after which a `/` is refused: those that may be a keyword or a name, and `extends`
/// (`class A extends /x/.constructor`, which tree-sitter reads by context).
fn js_ambiguous_word(word: &[u8]) -> bool {
    matches!(word, b"of" | b"yield" | b"await" | b"extends")
}

/// What a `/` after the operator `c` (at `b[i]`) is, in JavaScript and TypeScript: a regular
/// expression where only an operand can follow. Refused after `++`, `--` and `.` (`1./2`,
/// `x++ / 2`), and in TypeScript after `!` (`x! / 2`, a non-null assertion) and a `>` that
/// is not part of `=>` (it may close type arguments: `f<T> / 2`).
fn js_after_operator(b: &[u8], i: usize, ts: bool) -> Prev {
    let c = b[i];
    let before = i.checked_sub(1).map_or(0, |k| b[k]);
    match c {
        b'+' | b'-' if before == c => Prev::Other,
        b'!' if ts => Prev::Other,
        b'>' if ts && before != b'=' => Prev::Other,
        b',' | b'=' | b':' | b'!' | b'&' | b'|' | b'?' | b';' | b'+' | b'-' | b'*' | b'%'
        | b'<' | b'>' | b'~' | b'^' => Prev::Operator,
        _ => Prev::Other,
    }
}

/// A backslash at `i` that escapes a line break or the end of the text: every lexer refuses
/// it inside a one-line literal. (A NUL byte was refused before any lexer ran, so 0 is the end.)
fn escapes_line_end(b: &[u8], i: usize) -> bool {
    matches!(b.get(i + 1), Some(b'\n' | b'\r') | None)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl Lexer<'_> {
    fn at(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    /// A literal from `start` to `self.i` that spans lines: nothing after its first line break
    /// may look like a quote or a comment to a scan that starts there (see [`scan`]), nor may
    /// the rest of its last line hold a comment. A scan that resumes at the start of its last
    /// line reads its closing delimiter as an opening one: that line start is one of the
    /// resumes [`scan`] checks.
    fn multi_line_ok(&mut self, start: usize, close: usize) -> Option<()> {
        if self.d == Dialect::Rust {
            return self.rust_multi_line(start, close, true);
        }
        let body_end = self.i - close;
        quiet_literal(self.b, (start, body_end, self.i), b"\"'`#/<=>", |after| {
            after.windows(2).any(|w| w == b"//" || w == b"/*")
        })
        .then_some(())?;
        self.resumes.extend(last_line(self.b, start, body_end));
        Some(())
    }

    /// Rust: a literal from `start` to `self.i` that spans lines. A scan that resumes at the
    /// start of its last line (the line of the token after it) must agree with this lexer, which
    /// [`scan`] checks on that line. Where the lexical scanner reads the literal as code
    /// (`"…"`, `r"…"`, `r###"…"###`; `body`), a scan that starts on an earlier line inside it
    /// (after an escape, the only node that starts there) must meet no comment and nothing that
    /// spans lines before that line: no `//`, `/*` or `r#` after its first line break, and no
    /// `\` before its last one (it continues a lexical string). The lexical scanner reads
    /// `r#"…"#` and `r##"…"##` as tree-sitter does, and no node starts inside them.
    fn rust_multi_line(&mut self, start: usize, close: usize, body: bool) -> Option<()> {
        let lit = &self.b[start..self.i - close];
        let Some(first) = memchr::memchr(b'\n', lit) else {
            return Some(());
        };
        let last = memchr::memrchr(b'\n', lit).map_or(0, |p| p + 1);
        if body
            && ([&b"//"[..], b"/*", b"r#"]
                .iter()
                .any(|m| memchr::memmem::find(&lit[first..], m).is_some())
                || lit[..last]
                    .strip_suffix(b"\n")
                    .is_some_and(|l| l.strip_suffix(b"\r").unwrap_or(l).ends_with(b"\\")))
        {
            return None;
        }
        self.resumes.push(start + last);
        Some(())
    }

    fn run(mut self) -> Option<(Vec<RawComment>, Vec<usize>)> {
        let d = self.d;
        let js = matches!(d, Dialect::JavaScript | Dialect::TypeScript);
        if js && self.b.starts_with(b"#!") {
            return None;
        }
        let mut line_start = true;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b'\n' => {
                    line_start = true;
                    self.i += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' | b'\x0c' => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            let was_line_start = std::mem::replace(&mut line_start, false);
            match c {
                // tree-sitter finds a comment inside `${…}`, the lexical scanner may not.
                b'/' if matches!(self.at(1), b'/' | b'*') && !self.templates.is_empty() => {
                    return None;
                }
                b'/' if self.at(1) == b'/' => self.line_comment()?,
                b'/' if self.at(1) == b'*' => self.block_comment()?,
                b'/' if js => match self.prev {
                    Prev::Operand | Prev::Close => {
                        self.i += 1;
                        self.prev = Prev::Operator;
                    }
                    Prev::Operator => self.regex()?,
                    Prev::Other => return None,
                },
                b'"' => {
                    if matches!(d, Dialect::Java) && self.b[self.i..].starts_with(b"\"\"\"") {
                        self.text_block()?;
                    } else if matches!(d, Dialect::CSharp)
                        && self.b[self.i..].starts_with(b"\"\"\"")
                    {
                        return None;
                    } else {
                        self.string(b'"')?;
                    }
                    self.prev = Prev::Other;
                }
                b'\'' => {
                    match d {
                        Dialect::Rust => self.rust_quote()?,
                        Dialect::JavaScript | Dialect::TypeScript => self.string(b'\'')?,
                        _ => self.char_literal()?,
                    }
                    self.prev = Prev::Other;
                }
                b'`' => {
                    match d {
                        Dialect::Go => {
                            // Three tokens to tree-sitter-go, whose error recovery can pair
                            // the backticks otherwise: the body and the closing line are checked.
                            let end = memchr::memchr(b'`', &self.b[self.i + 1..])?;
                            let start = self.i;
                            self.i += end + 2;
                            self.multi_line_ok(start, 1)?;
                        }
                        Dialect::JavaScript | Dialect::TypeScript => self.template()?,
                        _ => return None,
                    }
                    self.prev = Prev::Other;
                }
                b'#' => match d {
                    Dialect::C | Dialect::Cpp if was_line_start => self.directive()?,
                    Dialect::Rust | Dialect::JavaScript | Dialect::TypeScript => {
                        self.i += 1;
                        self.prev = Prev::Other;
                    }
                    _ => return None,
                },
                b'(' | b'[' | b'{' => {
                    push_frame(&mut self.stack, c)?;
                    self.i += 1;
                    self.prev = Prev::Operator;
                }
                b'}' if self.stack.last() == Some(&b'$') => {
                    // The end of a template's `${…}`: the template goes on.
                    self.stack.pop();
                    let start = self.templates.pop()?;
                    self.template_from(start, self.i + 1)?;
                }
                b')' | b']' | b'}' => {
                    let open = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if self.stack.pop() != Some(open) {
                        return None;
                    }
                    self.i += 1;
                    self.prev = if c == b']' { Prev::Close } else { Prev::Other };
                }
                b'<' if js && self.b[self.i..].starts_with(b"<!--") => return None,
                b'<' if d == Dialect::JavaScript
                    && (self.at(1).is_ascii_alphabetic()
                        || matches!(self.at(1), b'/' | b'>' | b'!')) =>
                {
                    return None;
                }
                b'-' if js && self.b[self.i..].starts_with(b"-->") => return None,
                b'@' | b'$' if d == Dialect::CSharp && matches!(self.at(1), b'"' | b'@' | b'$') => {
                    return None;
                }
                c if is_ident(c) => self.word()?,
                c if c < 0x20 || c == 0x7f => return None,
                _ => {
                    self.prev = if js {
                        js_after_operator(self.b, self.i, d == Dialect::TypeScript)
                    } else {
                        Prev::Other
                    };
                    self.i += 1;
                }
            }
        }
        self.stack.is_empty().then_some((self.out, self.resumes))
    }

    /// A name or number; a quote right after it is a string prefix or a digit separator.
    fn word(&mut self) -> Option<()> {
        let start = self.i;
        while self.i < self.b.len() && is_ident(self.b[self.i]) {
            if self.b[self.i] >= 0x80 {
                return None;
            }
            self.i += 1;
        }
        let word = &self.b[start..self.i];
        // A keyword after `.` is a property name (`x.return / 2`).
        let property = self.b[..start]
            .iter()
            .rev()
            .find(|c| !c.is_ascii_whitespace())
            == Some(&b'.');
        self.prev = if property {
            Prev::Operand
        } else if js_regex_keyword(word) {
            Prev::Operator
        } else if js_ambiguous_word(word) {
            Prev::Other
        } else {
            Prev::Operand
        };
        let next = self.at(0);
        if self.d == Dialect::Rust {
            match (word, next) {
                (b"r" | b"br" | b"cr", b'"' | b'#') => {
                    if next == b'#' && is_ident(self.at(1)) && self.at(1) < 0x80 && word == b"r" {
                        // A raw identifier, `r#type`.
                        self.i += 1;
                        return Some(());
                    }
                    return self.raw_string();
                }
                (b"b" | b"c", b'"') => {
                    self.string(b'"')?;
                    self.prev = Prev::Other;
                }
                (b"b", b'\'') => {
                    self.rust_quote()?;
                    self.prev = Prev::Other;
                }
                (_, b'"' | b'\'') => return None,
                _ => {}
            }
            return Some(());
        }
        // C: a name before a string (`"%"PRIuMAX"\n"`, `L"x"`) is a macro or a prefix that
        // leaves the string as it is; C++ has raw strings (`R"(…)"`) and literal suffixes.
        let c_macro = self.d == Dialect::C && next == b'"' && !word[0].is_ascii_digit();
        if matches!(next, b'"' | b'\'')
            && !matches!(self.d, Dialect::JavaScript | Dialect::TypeScript)
            && !c_macro
        {
            return None;
        }
        Some(())
    }

    fn line_comment(&mut self) -> Option<()> {
        let start = self.i;
        let end = memchr::memchr(b'\n', &self.b[start..]).map_or(self.b.len(), |p| start + p);
        let body = self.b[start..end]
            .strip_suffix(b"\r")
            .unwrap_or(&self.b[start..end]);
        // C continues a line comment after a `\`; tree-sitter-go and -rust do not.
        if body.ends_with(b"\\") && !matches!(self.d, Dialect::Go | Dialect::Rust) {
            return None;
        }
        self.out.push(RawComment {
            start,
            end: start + body.len(),
            block: false,
            unterminated: false,
        });
        self.i = end;
        Some(())
    }

    /// A block comment at `i`: only Rust's nest.
    fn block_comment(&mut self) -> Option<()> {
        let (comment, end) = block_comment(self.b, self.i, self.d == Dialect::Rust)?;
        self.out.push(comment);
        self.i = end;
        Some(())
    }

    /// A string closed by `quote`, with backslash escapes. Only Rust strings span lines.
    fn string(&mut self, quote: u8) -> Option<()> {
        let mut i = self.i + 1;
        loop {
            match *self.b.get(i)? {
                b'\\' => {
                    if matches!(self.b.get(i + 1), Some(b'\r' | b'\n')) && self.d != Dialect::Rust {
                        return None;
                    }
                    i += 2;
                }
                b'\n' if self.d != Dialect::Rust => return None,
                c if c == quote => break,
                _ => i += 1,
            }
        }
        let start = self.i;
        self.i = i + 1;
        self.multi_line_ok(start, 1)
    }

    /// A char literal: at most a few bytes, on one line.
    fn char_literal(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        loop {
            match *self.b.get(i)? {
                b'\\' => i += 2,
                b'\n' | b'\r' => return None,
                b'\'' => break,
                _ => i += 1,
            }
            if i > self.i + 12 {
                return None;
            }
        }
        if i == self.i + 1 {
            return None;
        }
        self.i = i + 1;
        Some(())
    }

    /// Rust: a char literal (`'x'`, `'\n'`, `'é'`) or a lifetime (`'a`).
    fn rust_quote(&mut self) -> Option<()> {
        let next = self.at(1);
        if next == b'\\' {
            return self.char_literal();
        }
        let rest = std::str::from_utf8(&self.b[self.i + 1..]).ok();
        let ch = rest.and_then(|r| r.chars().next())?;
        let len = ch.len_utf8();
        if ch != '\'' && ch != '\n' && ch != '\r' && self.b.get(self.i + 1 + len) == Some(&b'\'') {
            self.i += len + 2;
            return Some(());
        }
        if next.is_ascii_alphabetic() || next == b'_' {
            self.i += 1;
            while self.i < self.b.len() && is_ident(self.b[self.i]) {
                if self.b[self.i] >= 0x80 || self.b[self.i] == b'$' {
                    return None;
                }
                self.i += 1;
            }
            if self.at(0) == b'\'' {
                return None;
            }
            return Some(());
        }
        None
    }

    /// Rust: `r"…"`, `r#"…"#` (the prefix already read).
    fn raw_string(&mut self) -> Option<()> {
        let mut hashes = 0;
        while self.at(hashes) == b'#' {
            hashes += 1;
        }
        if self.at(hashes) != b'"' {
            return None;
        }
        let mut i = self.i + hashes + 1;
        loop {
            let p = memchr::memchr(b'"', self.b.get(i..)?)?;
            i += p + 1;
            if (0..hashes).all(|k| self.b.get(i + k) == Some(&b'#')) {
                let start = self.i;
                self.i = i + hashes;
                self.prev = Prev::Other;
                // The lexical scanner's raw strings (the Rust row's `r#"` and `r##"`).
                let lexical = matches!(hashes, 1 | 2);
                return self.rust_multi_line(start, hashes + 1, !lexical);
            }
        }
    }

    /// Java: a text block `"""…"""`.
    fn text_block(&mut self) -> Option<()> {
        let mut i = self.i + 3;
        loop {
            match *self.b.get(i)? {
                b'\\' => i += 2,
                b'"' if self.b[i..].starts_with(b"\"\"\"") => break,
                _ => i += 1,
            }
        }
        let start = self.i;
        self.i = i + 3;
        self.multi_line_ok(start, 3)
    }

    /// JavaScript: a template literal at `i`.
    fn template(&mut self) -> Option<()> {
        self.template_from(self.i, self.i + 1)
    }

    /// The rest of the template that starts at `start`, from `i`: to its closing backtick, or
    /// into a `${…}` substitution, whose code the main loop reads (its closing `}` comes back
    /// here). A template that spans lines is checked as a whole, substitutions included.
    fn template_from(&mut self, start: usize, mut i: usize) -> Option<()> {
        loop {
            match *self.b.get(i)? {
                b'\\' => i += 2,
                b'$' if self.b.get(i + 1) == Some(&b'{') => {
                    push_frame(&mut self.stack, b'$')?;
                    self.templates.push(start);
                    self.i = i + 2;
                    self.prev = Prev::Operator;
                    return Some(());
                }
                b'`' => break,
                _ => i += 1,
            }
        }
        self.i = i + 1;
        self.prev = Prev::Other;
        self.multi_line_ok(start, 1)
    }

    /// JavaScript: a regular expression literal at `i` (`/`, a body with escapes and classes
    /// `[…]` in which `/` does not close it, `/`, lower-case flags), on one line and in ASCII.
    fn regex(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        let mut class = false;
        loop {
            match *self.b.get(i)? {
                b'\\' => {
                    let e = *self.b.get(i + 1)?;
                    if !(0x20..0x7f).contains(&e) {
                        return None;
                    }
                    i += 2;
                    continue;
                }
                b'[' => class = true,
                b']' => class = false,
                b'/' if !class => break,
                c if !(0x20..0x7f).contains(&c) => return None,
                _ => {}
            }
            i += 1;
        }
        i += 1;
        while self.b.get(i).is_some_and(u8::is_ascii_lowercase) {
            i += 1;
        }
        if self.b.get(i).is_some_and(|&c| is_ident(c)) {
            return None;
        }
        self.i = i;
        self.prev = Prev::Other;
        Some(())
    }

    /// C and C++: a preprocessor line. The rest of `#include`, `#ifdef`, `#ifndef`, `#else`,
    /// `#endif`, `#if` and `#elif` is ordinary tokens (the main loop reads it); `#define`'s
    /// value and the argument of any other directive (`#undef`, `#pragma`, `#error`) are
    /// tree-sitter-c's `preproc_arg` ([`Self::preproc_arg`]).
    fn directive(&mut self) -> Option<()> {
        let mut i = self.i + 1;
        while matches!(self.b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let start = i;
        while self.b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let name = &self.b[start..i];
        // The grammar's directive token is `#[ \t]*[a-zA-Z0-9]\w*`: a longer name
        // (`#include_next`, `#1`) or one that merely starts like a directive it knows
        // (`#iffy`) is read by rules not modelled.
        if name.is_empty() || self.b.get(i).is_some_and(|&c| is_ident(c)) {
            return None;
        }
        const KNOWN: &[&[u8]] = &[
            b"include",
            b"define",
            b"if",
            b"ifdef",
            b"ifndef",
            b"elif",
            b"elifdef",
            b"elifndef",
            b"else",
            b"endif",
        ];
        if !KNOWN.contains(&name) && KNOWN.iter().any(|k| name.starts_with(k)) {
            return None;
        }
        let line_end = memchr::memchr(b'\n', &self.b[i..]).map_or(self.b.len(), |p| i + p);
        let line = self.b[i..line_end]
            .strip_suffix(b"\r")
            .unwrap_or(&self.b[i..line_end]);
        // tree-sitter-cpp's directives were not compared: C++ keeps the older rules.
        let c = self.d == Dialect::C;
        match name {
            b"define" if c => return self.define(i),
            b"elifdef" | b"elifndef" => return None,
            _ if line.ends_with(b"\\") => return None,
            b"include" => {
                while matches!(self.b.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                match self.b.get(i) {
                    Some(b'<') => {
                        let close = memchr::memchr(b'>', &self.b[i..line_end])?;
                        self.i = i + close + 1;
                    }
                    Some(b'"') => {
                        self.i = i;
                        self.string(b'"')?;
                    }
                    _ => return None,
                }
            }
            // `#if(x)`: the condition glued to the name is left to tree-sitter.
            b"if" | b"elif" if !c || !matches!(self.b.get(i), Some(b' ' | b'\t')) => {
                return None;
            }
            b"ifdef" | b"ifndef" | b"else" | b"endif" | b"if" | b"elif" => self.i = i,
            _ if c && !KNOWN.contains(&name) => return self.preproc_arg(i),
            _ => return None,
        }
        self.prev = Prev::Other;
        Some(())
    }

    /// C: `#define NAME` and `#define NAME(a, b, ...)` at `i` (after `define`), then
    /// its value.
    fn define(&mut self, mut i: usize) -> Option<()> {
        let spaces = i;
        while matches!(self.b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if i == spaces
            || !self
                .b
                .get(i)
                .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
        {
            return None;
        }
        while self
            .b
            .get(i)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        {
            i += 1;
        }
        if self.b.get(i) == Some(&b'(') {
            // The parameters (`token.immediate('(')`): names, `...` and commas.
            let close = memchr::memchr(b')', &self.b[i..])? + i;
            let params = &self.b[i + 1..close];
            if !params
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b',' | b'.' | b' '))
            {
                return None;
            }
            i = close + 1;
        }
        self.preproc_arg(i)
    }

    /// C: the rest of a directive line from `i`, as tree-sitter-c reads it: block comments,
    /// line continuations (skipped like spaces) and `preproc_arg` tokens
    /// (`\S([^/\n]|\/[^*]|\\\r?\n)*`, which run over quotes, `//` and line continuations and
    /// stop before `/*`), to the line break, which must follow a token at once (`#define X \n`
    /// is a syntax error after which tree-sitter loses the next line's comments). Refused:
    /// `//` (a comment where a token starts, text inside a `preproc_arg`), a `/` before a line
    /// break (the token runs on over it), control characters and non-ASCII.
    fn preproc_arg(&mut self, mut i: usize) -> Option<()> {
        loop {
            let spaces = i;
            while matches!(self.b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            match *self.b.get(i)? {
                // A line continuation between tokens is skipped like a space.
                b'\\' if self.b.get(i + 1) == Some(&b'\n') => i += 2,
                b'\\' if self.b.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
                b'\n' if i == spaces => break,
                b'\r' if i == spaces && self.b.get(i + 1) == Some(&b'\n') => break,
                b'\n' | b'\r' | b'\\' => return None,
                b'/' if self.b.get(i + 1) == Some(&b'*') => {
                    let (comment, end) = block_comment(self.b, i, false)?;
                    self.out.push(comment);
                    i = end;
                }
                _ => {
                    // A `preproc_arg`: to the line break or the next `/*`.
                    loop {
                        match *self.b.get(i)? {
                            b'\n' => break,
                            b'\r' if self.b.get(i + 1) == Some(&b'\n') => break,
                            b'\\' if self.b.get(i + 1) == Some(&b'\n') => i += 2,
                            b'\\' if self.b.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
                            b'/' if self.b.get(i + 1) == Some(&b'*') => break,
                            b'/' if matches!(self.b.get(i + 1), Some(b'/' | b'\n' | b'\r')) => {
                                return None;
                            }
                            b'\t' => i += 1,
                            c if !(0x20..0x7f).contains(&c) => return None,
                            _ => i += 1,
                        }
                    }
                    if self.b[i] != b'/' {
                        break;
                    }
                }
            }
        }
        self.i = i;
        self.prev = Prev::Other;
        Some(())
    }
}

/// Python's keywords after which tree-sitter-python's scanner ends no statement at a line
/// break (the grammar wants more: `not`, `import`, `else` without its `:`); `pass`, `return`,
/// `True` and the like may end one.
const PY_OPEN_KEYWORDS: &[&[u8]] = &[
    b"and",
    b"as",
    b"assert",
    b"async",
    b"await",
    b"class",
    b"def",
    b"del",
    b"elif",
    b"else",
    b"except",
    b"finally",
    b"for",
    b"from",
    b"global",
    b"if",
    b"import",
    b"in",
    b"is",
    b"lambda",
    b"nonlocal",
    b"not",
    b"or",
    b"try",
    b"while",
    b"with",
];

/// The keywords that open a compound statement, whose header ends in `:`.
const PY_COMPOUND: &[&[u8]] = &[
    b"if", b"elif", b"else", b"while", b"for", b"try", b"except", b"finally", b"with", b"def",
    b"class", b"async", b"match", b"case",
];

/// Python: `#` comments, and strings that are statements on their own (docstrings); and the
/// starts of the last lines of other strings that span lines (see [`scan`]).
///
/// tree-sitter-python's scanner ends a statement at a line break only where the grammar allows
/// one. After an operator or a keyword that wants more (`x =`, `x.`, `not`, `lambda:`) it reads
/// the next line as part of the same statement where Python sees a syntax error, and a string
/// first on that line is no docstring to it (`x =⏎"""s"""` is an assignment), nor after a
/// decorator that no `def` or `class` follows: such files are refused.
fn python(b: &[u8]) -> Option<(Vec<RawComment>, Vec<usize>)> {
    let mut out = Vec::new();
    let mut resumes = Vec::new();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    // No token yet on this logical line (a line ending in `\` continues it).
    let mut line_start = true;
    // The last significant byte of code on this logical line.
    let mut last: u8 = 0;
    // This line's code so far ends where tree-sitter-python may end a statement.
    let mut ends = true;
    // This line starts with a compound statement's keyword; the last word was `import`.
    let mut header = false;
    let mut after_import = false;
    // This line starts with `@`; the previous one did, so this one must be a definition.
    let mut decorator = false;
    let mut definition = false;
    while i < b.len() {
        let c = b[i];
        if definition && line_start && !matches!(c, b'\n' | b' ' | b'\t' | b'\r' | b'\x0c' | b'#') {
            let word = &b[i..];
            let word = &word[..word
                .iter()
                .position(|&x| !(x.is_ascii_alphanumeric() || x == b'_'))
                .unwrap_or(word.len())];
            if !(c == b'@' || matches!(word, b"def" | b"class" | b"async")) {
                return None;
            }
            definition = false;
        }
        match c {
            b'\n' => {
                if stack.is_empty() {
                    if !line_start {
                        if !ends {
                            return None;
                        }
                        definition = decorator;
                    }
                    line_start = true;
                    last = 0;
                    header = false;
                    decorator = false;
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => i += 1,
            b'\\' => {
                // A line continuation: the next line continues this statement.
                match b.get(i + 1) {
                    Some(b'\n') => i += 2,
                    Some(b'\r') if b.get(i + 2) == Some(&b'\n') => i += 3,
                    _ => return None,
                }
                if line_start {
                    return None;
                }
                last = b'\\';
            }
            b'#' => {
                let (comment, end) = hash_comment(b, i);
                out.push(comment);
                i = end;
            }
            b'(' | b'[' | b'{' => {
                push_frame(&mut stack, c)?;
                line_start = false;
                last = c;
                ends = false;
                after_import = false;
                i += 1;
            }
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if stack.pop() != Some(open) {
                    return None;
                }
                line_start = false;
                last = c;
                ends = true;
                after_import = false;
                i += 1;
            }
            b'"' | b'\'' => {
                let start = i;
                i = py_string(b, i)?;
                let top = stack.is_empty();
                resumes.extend(py_statement(b, start, i, line_start, last, top, &mut out)?);
                line_start = false;
                last = b'"';
                ends = true;
                after_import = false;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &b[start..i];
                if matches!(b.get(i), Some(b'"' | b'\'')) {
                    let prefix = word.to_ascii_lowercase();
                    i = match &prefix[..] {
                        b"r" | b"u" | b"b" | b"br" | b"rb" => py_string(b, i)?,
                        b"f" | b"fr" | b"rf" => py_fstring(b, i)?,
                        _ => return None,
                    };
                    let top = stack.is_empty();
                    resumes.extend(py_statement(b, start, i, line_start, last, top, &mut out)?);
                    last = b'"';
                    ends = true;
                    after_import = false;
                } else {
                    let open = PY_OPEN_KEYWORDS.contains(&word);
                    if line_start {
                        header = PY_COMPOUND.contains(&word);
                    }
                    header &= word != b"lambda";
                    ends = !open;
                    after_import = word == b"import";
                    last = b'a';
                }
                line_start = false;
            }
            b'$' | b'?' | b'`' => return None,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => {
                decorator |= line_start && c == b'@';
                ends = match c {
                    b':' => header && stack.is_empty(),
                    b';' | b',' => true,
                    b'*' => after_import,
                    // `...`, the ellipsis (`def f(): ...`).
                    b'.' => b[..i].ends_with(b".."),
                    _ => false,
                };
                after_import = false;
                line_start = false;
                last = c;
                i += 1;
            }
        }
    }
    stack.is_empty().then_some((out, resumes))
}

/// The end of the Python string whose quote is at `i`; `None` if it is never closed or a
/// one-quote string meets a line end.
fn py_string(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    let triple = b.get(i..i + 3).is_some_and(|t| t.iter().all(|&c| c == q));
    let mut j = if triple { i + 3 } else { i + 1 };
    loop {
        let c = *b.get(j)?;
        if c == b'\\' {
            if !triple && matches!(b.get(j + 1), Some(b'\n' | b'\r')) {
                return None;
            }
            j += 2;
            continue;
        }
        if c == q {
            if !triple {
                return Some(j + 1);
            }
            if b.get(j..j + 3).is_some_and(|t| t.iter().all(|&x| x == q)) {
                return Some(j + 3);
            }
        }
        if !triple && (c == b'\n' || c == b'\r') {
            return None;
        }
        j += 1;
    }
}

/// The end of the Python f-string whose quote is at `i` (after its prefix), when it is one
/// the lexer models: tree-sitter-python reads each `{…}` as code, whose quotes start strings
/// and whose `#` starts a comment, and the lexical scanner reads the whole f-string as one
/// string. So an interpolation must hold neither `#`, `\\`, nor the f-string's own quote
/// (Python 3.12 nests those), may hold strings in the other quote on its line, and must
/// close on the line where it opens, which is the f-string's first line; `\\` before a brace
/// or `N` (`\\N{…}`), and a lone `}` are refused too.
fn py_fstring(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    let triple = b.get(i..i + 3).is_some_and(|t| t.iter().all(|&c| c == q));
    let mut j = if triple { i + 3 } else { i + 1 };
    let mut first_line = true;
    loop {
        let c = *b.get(j)?;
        match c {
            b'\\' => {
                let e = *b.get(j + 1)?;
                if matches!(e, b'{' | b'}' | b'N' | b'\n' | b'\r') && !(triple && e == b'\n') {
                    return None;
                }
                first_line &= e != b'\n';
                j += 2;
                continue;
            }
            b'{' | b'}' if b.get(j + 1) == Some(&c) => {
                j += 2;
                continue;
            }
            b'}' => return None,
            b'{' => {
                if !first_line {
                    return None;
                }
                j = py_interpolation(b, j + 1, q)?;
                continue;
            }
            b'\n' | b'\r' if !triple => return None,
            b'\n' => first_line = false,
            _ => {}
        }
        if c == q {
            if !triple {
                return Some(j + 1);
            }
            if b.get(j..j + 3).is_some_and(|t| t.iter().all(|&x| x == q)) {
                return Some(j + 3);
            }
        }
        j += 1;
    }
}

/// The end of an f-string's `{…}` whose code starts at `j` (see [`py_fstring`]), after its
/// closing `}`.
fn py_interpolation(b: &[u8], mut j: usize, q: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut spec = false;
    loop {
        let c = *b.get(j)?;
        match c {
            b'#' | b'\\' | b'\n' | b'\r' => return None,
            _ if c == q => return None,
            b'}' if depth == 0 => return Some(j + 1),
            // A nested `{…}` in a format specification is another interpolation.
            b'{' if spec => return None,
            _ if spec => {}
            b'"' | b'\'' => {
                // A string in the other quote, on this line, with nothing that opens.
                if b[..j].last().is_some_and(|p| p.is_ascii_alphanumeric()) {
                    return None;
                }
                let close = memchr::memchr(c, &b[j + 1..])? + j + 1;
                if b[j + 1..close]
                    .iter()
                    .any(|x| matches!(x, b'\n' | b'\r' | b'\\' | b'{' | b'}' | b'#'))
                {
                    return None;
                }
                j = close;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            b':' if depth == 0 => spec = true,
            c if !(0x20..0x7f).contains(&c) => return None,
            _ => {}
        }
        j += 1;
    }
}

/// A string from `start` to `end`: a docstring when it is a statement on its own. Returns the
/// start of its last line when it spans lines and is not a docstring: a scan that resumes
/// there (after a syntax error on that line) reads its closing quotes as opening ones, and
/// [`scan`] checks that it agrees. (No node starts on a docstring's last line after it.)
fn py_statement(
    b: &[u8],
    start: usize,
    end: usize,
    line_start: bool,
    last: u8,
    top: bool,
    out: &mut Vec<RawComment>,
) -> Option<Option<usize>> {
    let lit = &b[start..end];
    let resume = last_line(b, start, end);
    // A string that spans lines and is not a docstring: the lexical scanner, resuming at a
    // line start inside it (after a syntax error), must see nothing there (see [`scan`]).
    if let Some(nl) = memchr::memchr(b'\n', lit) {
        let body = &lit[nl..lit.len().saturating_sub(3)];
        let line_end = memchr::memchr(b'\n', &b[end..]).map_or(b.len(), |p| end + p);
        let quiet = !body.iter().any(|c| matches!(c, b'"' | b'\'' | b'#'))
            && !b[end..line_end].contains(&b'#');
        if !(quiet || top && line_start) {
            return None;
        }
    }
    if !top {
        return Some(resume);
    }
    // What follows on the line: nothing (or a comment) makes the string the whole statement.
    let mut k = end;
    while matches!(b.get(k), Some(b' ' | b'\t')) {
        k += 1;
    }
    let alone = matches!(b.get(k), None | Some(b'\n' | b'\r' | b'#'));
    if line_start {
        if alone {
            out.push(RawComment {
                start,
                end,
                block: true,
                unterminated: false,
            });
            return Some(None);
        } else if matches!(b.get(k), Some(b';' | b'\\')) {
            return None;
        }
    } else if alone && matches!(last, b':' | b'\\') {
        // `if x: "doc"` is a statement on its own too.
        return None;
    }
    Some(resume)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(name: &str, text: &str) -> Option<Vec<(usize, usize, bool)>> {
        scan_exact(name, text).map(|v| v.iter().map(|c| (c.start, c.end, c.block)).collect())
    }

    #[test]
    fn strings_hide_comment_markers_and_unknown_constructs_are_refused() {
        assert_eq!(
            spans("rust", "let s = \"// no\"; // yes\n/* a /* b */ c */"),
            Some(vec![(17, 23, false), (24, 41, true)])
        );
        assert_eq!(
            spans("rust", "let s = r#\"\"// no\"#; 'a'; &'b x"),
            Some(vec![])
        );
        assert_eq!(
            spans("go", "x := `// no` // yes"),
            Some(vec![(13, 19, false)])
        );
        // After a syntax error the lexical scanner may resume inside a literal that spans lines.
        assert_eq!(spans("go", "x := `a\n` + y"), Some(vec![]));
        assert_eq!(spans("go", "x := `a\n\"` + y"), None);
        assert_eq!(spans("go", "x := `a\n` // yes"), None);
        assert_eq!(
            spans("javascript", "a = b / c; // d"),
            Some(vec![(11, 15, false)])
        );
        assert_eq!(spans("javascript", "f(a) /re/; // d"), None);
        assert_eq!(spans("c", "#define X '\n"), Some(vec![]));
        assert_eq!(spans("cpp", "#define X 1\n"), None);
        assert_eq!(
            spans("c", "f(\"%\"PRIuMAX\" // no\", L\"/*\"); // c"),
            Some(vec![(30, 34, false)])
        );
        assert_eq!(spans("cpp", "f(R\"(x)\");"), None);
        assert_eq!(spans("c", "/* open"), None);
        assert_eq!(spans("java", "f(\"x);"), None);
        assert_eq!(spans("java", "f());"), None);
        assert_eq!(spans("php", "# x"), None);
        assert_eq!(
            spans("python", "\"\"\"d\"\"\"\nx = '#' # c\nf(\"\"\"\n\"\"\")"),
            Some(vec![(0, 7, true), (16, 19, false)])
        );
    }

    #[test]
    fn js_templates_with_substitutions_nest_and_a_comment_inside_one_is_refused() {
        for lang in ["javascript", "typescript"] {
            assert_eq!(
                spans(lang, "a = `x ${b + `y ${c} //`} // z`; // d"),
                Some(vec![(33, 37, false)]),
                "{lang}"
            );
            assert_eq!(
                spans(lang, "a = `${ {b: `}`} }`; // d"),
                Some(vec![(21, 25, false)])
            );
            for refused in [
                "a = `${b // c\n}`",
                "a = `${b /* c */}`",
                "a = `${b`",
                "a = `${b)}`",
                "a = `x\n${\"y\"}`",
            ] {
                assert_eq!(spans(lang, refused), None, "{lang}: {refused}");
            }
        }
    }

    #[test]
    fn js_regular_expressions_after_tokens_that_make_them_certain() {
        for lang in ["javascript", "typescript"] {
            assert_eq!(
                spans(lang, "/a/.test(x); f(/[/*]\\//g, b ? /x/ : /y/); // c"),
                Some(vec![(42, 46, false)]),
                "{lang}"
            );
            assert_eq!(
                spans(
                    lang,
                    "if (x && /^#/.test(l) && x.return / 2) return /y/i; // c"
                ),
                Some(vec![(52, 56, false)]),
                "{lang}"
            );
            for refused in [
                "f() /x/",
                "} /x/",
                "x++ /x/",
                "of /x/",
                "1./x/",
                "a = /x\n/",
                "a = /x/Q",
                "a = /é/",
                "`a` /x/",
            ] {
                assert_eq!(spans(lang, refused), None, "{lang}: {refused}");
            }
        }
        // TypeScript: `x!` is a non-null assertion and `>` may close type arguments.
        assert_eq!(spans("javascript", "a = !/x/"), Some(vec![]));
        assert_eq!(spans("typescript", "a = x! / y"), None);
        assert_eq!(spans("typescript", "a = f<T> / y"), None);
        assert_eq!(spans("typescript", "a = () => /x/"), Some(vec![]));
    }

    #[test]
    fn rust_strings_that_span_lines_answer_when_their_last_line_agrees() {
        let snapshot = "f(str![[r#\"\n{\"a\": \"[ROOT]/foo\"}\n\"#]]);\n// c\n";
        assert_eq!(
            scan(rust(), snapshot).map(|v| v.iter().map(|c| (c.start, c.end)).collect()),
            Some(vec![(39, 43)])
        );
        assert_eq!(
            scan(rust(), "let s = \"a\nx \\\"b\\\" y\";\n// c\n").map(|v| v.len()),
            Some(1)
        );
        // The lexical scanner reads `r#"…"#` as tree-sitter does: its lines may hold anything.
        assert_eq!(
            scan(rust(), "f(r#\"\n// no /* r#\" \\\n\"#);\n// c\n")
                .map(|v| v.iter().map(|c| c.start).collect()),
            Some(vec![26])
        );
        assert_eq!(
            scan(rust(), "f(r###\"\n// no\n\"###);\n").map(|v| v.len()),
            None
        );
        for refused in [
            // A comment after the string on its last line: a scan resuming there hides it.
            "let s = \"a\nb\"; // c\n",
            // After the first line break: a comment marker, a raw string, a continued line.
            "let s = \"a\nhttp://x\";\n",
            "let s = \"a\n/* x\";\n",
            "let s = \"a\nr#\";\n",
            "let s = \"a\n\"\\\nb\";\n",
            // The last line opens something that spans lines.
            "let s = \"a\nb\"; let t = r#\"\nc\"#;\n",
        ] {
            assert_eq!(scan(rust(), refused).map(|v| v.len()), None, "{refused}");
        }
    }

    fn rust() -> &'static Language {
        super::super::LANGUAGES
            .iter()
            .find(|l| l.name == "rust")
            .expect("rust is a language")
    }

    #[test]
    fn a_block_comment_ends_at_its_first_star_slash_unless_it_nests() {
        // Outside Rust `/*/` inside a comment closes it (the `*/` is read, not a second `/*`).
        for c in ["c", "java", "go", "javascript"] {
            assert_eq!(
                spans(c, "/* a /*/ x; // c"),
                Some(vec![(0, 8, true), (12, 16, false)]),
                "{c}"
            );
        }
        // Rust reads `/*/` as a second level.
        assert_eq!(
            spans("rust", "/* a /*/ */ */ x; // c"),
            Some(vec![(0, 14, true), (18, 22, false)])
        );
        // Nesting deeper than the bound is left to tree-sitter, in every language that nests.
        let deep = format!(
            "{}{}",
            "/*".repeat(MAX_DEPTH + 1),
            "*/".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(spans("rust", &deep), None);
        assert_eq!(spans("kotlin", &deep), None);
    }

    #[test]
    fn ruby_strings_heredocs_and_blocks() {
        assert_eq!(
            spans("ruby", "x = \"#{\"#{1}\"}\" # c\n=begin\n# b\n=end\n"),
            Some(vec![(16, 19, false), (20, 35, true)])
        );
        assert_eq!(
            spans("ruby", "x = foo(<<~A, <<~B) # c\n  a\nA\n  b\nB\n# d\n"),
            Some(vec![(20, 23, false), (36, 39, false)])
        );
        assert_eq!(spans("ruby", "x = a / b # c"), Some(vec![(10, 13, false)]));
        // Read either way by tree-sitter-ruby, or not modelled.
        for refused in [
            "x = a /b # c",
            "x = ?# # c",
            "p $# # c",
            "x = %w[# a]",
            "y = \"a#{b # c}\"",
            "x = <<~A\n  # not\nA\n",
            "x = <<~A\nA x\nA\n",
            "=begin\na =end\n=end\n",
            "x\n__END__\n# d\n",
        ] {
            assert_eq!(spans("ruby", refused), None, "{refused}");
        }
    }

    #[test]
    fn shell_words_expansions_and_heredocs() {
        assert_eq!(
            spans(
                "bash",
                "#!/bin/sh\necho a#b $# ${#x} ${x#y} \"#\" '#' $'#' # c\n"
            ),
            Some(vec![(0, 9, false), (48, 51, false)])
        );
        assert_eq!(
            spans(
                "bash",
                "cat <<-'X' # c\n\tbody\n\tX\necho $(( 16#ff )) # d\n"
            ),
            Some(vec![(11, 14, false), (42, 45, false)])
        );
        assert_eq!(
            spans("bash", "case x in a#b) ;; esac # c"),
            Some(vec![(23, 26, false)])
        );
        for refused in [
            "echo a;# c",
            "echo \"a\"#b",
            "echo $x#y",
            "x=(1 # c\n2)",
            "case x in a)# c\n;; esac",
            "echo case a) # c",
            "cat <<EOF\n# not\nEOF\n",
            "cat <<EOF\nEOFX\nEOF\n",
            "[[ $x =~ ^#a ]]",
            "[[ $x == #* ]]",
        ] {
            assert_eq!(spans("bash", refused), None, "{refused}");
        }
    }

    #[test]
    fn php_kotlin_swift_and_scala_strings_templates_and_nesting() {
        assert_eq!(
            spans("php", "<?php\n$a = \"// $x\"; # c\n#[A] /* d */"),
            Some(vec![(20, 23, false), (29, 36, true)])
        );
        assert_eq!(
            spans("kotlin", "val s = \"${\"//\"}\" // c\n/* a /* b */ */"),
            Some(vec![(18, 22, false), (23, 38, true)])
        );
        assert_eq!(
            spans("swift", "let s = \"\\(f(\"a\"))\" // c"),
            Some(vec![(20, 24, false)])
        );
        assert_eq!(
            spans("scala", "val s = s\"$$x${\"//\"}\" // c\nval c = '/'"),
            Some(vec![(22, 26, false)])
        );
        for (lang, refused) in [
            ("php", "<p>html</p><?php // c"),
            ("php", "<?php // a ?> b"),
            ("php", "<?php $x = <<<EOT\n# no\nEOT;\n"),
            ("php", "<?php $x = \"{$a} // no\";"),
            ("kotlin", "val s = \"\"\"${x}\"\"\""),
            ("kotlin", "val s = \"\"\"a\"\"\"\""),
            ("swift", "let s = #\"// no\"#"),
            ("swift", "let r = /a/"),
            ("swift", "let s = \"/* no */\""),
            ("scala", "val s = 'sym"),
            ("scala", "val x = <a><!-- c --></a>"),
            ("scala", "val a = 1\n/* b */ // c\n"),
        ] {
            assert_eq!(spans(lang, refused), None, "{lang}: {refused}");
        }
    }
}
