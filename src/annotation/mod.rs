//! The annotation language: comment lines in, annotations and diagnostics out.
//!
//! This is a pure function of its input (no files, no printing), so it is unit-tested line by
//! line and fuzzed on arbitrary bytes. The grammar is a strict superset of Threatspec 0.5.0's
//! (see docs/annotations.md): its tags and keyword patterns, its slug rule for ids, its YAML
//! bodies, plus attributes, boundaries, actors and `: ` descriptions.
//!
//! @component Threatmark:Annotation parser (#parser) in #process [type: process]
//! @threat Crash on malformed annotations (#parser_crash) [stride: D; likelihood: likely; impact: moderate; cwe: 20; actor: #malicious_contributor]:
//! a panic on odd input would let one file stop every scan in CI
//! @control No panics on user input (#no_panics): spans are clamped to char boundaries, every malformed line becomes a diagnostic, and the parser is fuzzed
//! @mitigates #parser against #parser_crash with #no_panics
//! @threat Spoofed annotation with invisible characters (#invisible_spoof) [stride: S,T; likelihood: possible; impact: major; actor: #malicious_contributor]:
//! a zero-width space or soft hyphen in a tag turns an annotation into prose nobody sees in review, and one in an id makes it look like another
//! @control Invisible characters are named (#invisible_named): format characters (Unicode Cf) before or inside a tag are skipped so the annotation is still read, and every one on an annotation's first line is reported (TM029) by code point and name; the prefilter lets such files through
//! @mitigates #parser against #invisible_spoof with #invisible_named
//! @connects #parser to #builder with annotations

mod ast;
mod attrs;
pub(crate) mod gal;
pub mod invisible;
mod parser;
pub mod xthreatspec;

pub use ast::{Annotation, Body, EntityRef, Kind, Tag};
pub use parser::{is_tag_line, near_miss_tag, parse_comment};

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::{Location, Source};
use crate::text::LineIndex;

/// One line of comment text with the comment markers removed. `text` is a slice of the file's
/// decoded text starting at byte `offset`, so every span maps back to the file exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentLine<'a> {
    pub text: &'a str,
    pub offset: usize,
}

/// Turns byte offsets in one file into locations. Pure data: a path, the text, its line index.
#[derive(Debug, Clone, Copy)]
pub struct Locator<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub index: &'a LineIndex,
}

impl<'a> Locator<'a> {
    pub fn new(path: &'a str, text: &'a str, index: &'a LineIndex) -> Self {
        Self { path, text, index }
    }

    pub fn location(&self, offset: usize) -> Location {
        let (line, column) = self.index.position(self.text, offset);
        Location::new(self.path, line, column)
    }

    pub fn source(&self, offset: usize, annotation: &str) -> Source {
        let (line, column) = self.index.position(self.text, offset);
        Source {
            path: self.path.to_string(),
            line,
            column,
            annotation: annotation.to_string(),
        }
    }

    pub fn diag(&self, code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::new(code, message)
            .at(self.location(span.start))
            .at_span(span)
    }
}

/// Parse a standalone piece of text as one comment (each line a comment line). Used by tests,
/// `debug`, and the fuzzer.
pub fn parse_text(path: &str, text: &str) -> (Vec<Annotation>, Vec<Diagnostic>) {
    let index = LineIndex::new(text);
    let loc = Locator::new(path, text, &index);
    let mut out = Vec::new();
    let mut diags = Vec::new();
    parse_whole(&loc, &mut out, &mut diags);
    (out, diags)
}

/// Every line of a file as a comment line: GuardLink's `.gal` sidecars have no comment markers.
pub fn whole_lines<'a>(loc: &Locator<'a>) -> Vec<CommentLine<'a>> {
    (0..loc.index.line_count())
        .map(|line| {
            let r = loc.index.line_range(loc.text, line);
            CommentLine {
                text: &loc.text[r.clone()],
                offset: r.start,
            }
        })
        .collect()
}

/// Read a whole file as one comment, every line a comment line.
pub fn parse_whole(loc: &Locator<'_>, out: &mut Vec<Annotation>, diags: &mut Vec<Diagnostic>) {
    parse_comment(&whole_lines(loc), loc, out, diags);
}
