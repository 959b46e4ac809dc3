//! Diagnostics rendered like rustc and ruff: `error[TM003]: ...`, `--> file:line:col`, the
//! source line and a caret, then a help line. Uses annotate-snippets, rustc's own renderer.
//!
//! @threat Terminal escape injection (#terminal_injection) [stride: T; likelihood: possible; impact: minor; cwe: 150; actor: #malicious_contributor]:
//! annotation text with ANSI escape sequences rewrites a developer's terminal when diagnostics are printed
//! @control Control characters are neutralised (#escape_control_chars): user text goes through annotate-snippets' normalisation before it reaches a terminal
//! @mitigates #cli against #terminal_injection with #escape_control_chars

use std::collections::BTreeMap;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::diagnostic::{Diagnostic, Severity};
use crate::text::LineIndex;

/// Lines longer than this are not shown (a minified file would flood the terminal); the
/// location is still printed.
const MAX_SNIPPET: usize = 400;

/// Render every diagnostic. `sources` holds the decoded text of files with spans.
pub fn render(diags: &[Diagnostic], sources: &BTreeMap<String, Arc<str>>, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut indexes: BTreeMap<&str, LineIndex> = BTreeMap::new();
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Note => Level::NOTE,
        };
        let title = level
            .primary_title(normalize_untrusted_str(&d.message))
            .id(d.code.as_str());
        let mut group = Group::with_title(title);
        let snippet = d.location.as_ref().zip(d.span).and_then(|(loc, span)| {
            let text = sources.get(&loc.path)?;
            let index = indexes
                .entry(loc.path.as_str())
                .or_insert_with(|| LineIndex::new(text));
            let first = index.line_of(span.start);
            let last = index.line_of(span.end.saturating_sub(1).max(span.start));
            let start = index.line_start(first);
            let end = index.line_range(text, last).end;
            if end < start || end - start > MAX_SNIPPET || span.end > end.max(span.start) + 1 {
                return None;
            }
            // On character boundaries: a span found by search (an escaped `x-threatspec`
            // value) may not fall on one.
            let line = &text[start..end];
            let floor = |mut i: usize| {
                while !line.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let local = floor(span.start - start)..floor(span.end.min(end) - start);
            let mut ann = AnnotationKind::Primary.span(local);
            if let Some(label) = &d.label {
                ann = ann.label(normalize_untrusted_str(label));
            }
            Some(
                Snippet::source(&text[start..end])
                    .line_start(first + 1)
                    .path(normalize_untrusted_str(&loc.path))
                    .annotation(ann),
            )
        });
        match (snippet, &d.location) {
            (Some(s), _) => group = group.element(s),
            (None, Some(loc)) => {
                let mut origin = Origin::path(normalize_untrusted_str(&loc.path));
                if loc.line > 0 {
                    origin = origin
                        .line(loc.line as usize)
                        .char_column(loc.column as usize);
                }
                group = group.element(origin);
            }
            (None, None) => {}
        }
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(normalize_untrusted_str(help)));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// `text` with annotate-snippets' normalisation of untrusted text (control and bidirectional
/// characters replaced by visible ones). Printable ASCII is left as it is (tested), so the common
/// case copies the text instead of looking up each character in the crate's table.
fn normalize_untrusted_str(text: &str) -> String {
    if text.bytes().all(|b| matches!(b, b' '..=b'~')) {
        text.to_string()
    } else {
        annotate_snippets::normalize_untrusted_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Code, Span};
    use crate::model::Location;

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        let d = Diagnostic::new(Code::UnknownTag, "`@thr\u{1b}[2Jeat` is not a tag")
            .at(Location::new("a\u{1b}]0;x\u{7}.rs", 1, 1))
            .help("\u{1b}[31mred");
        let out = render(&[d], &BTreeMap::new(), false);
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }

    /// The shortcut of [`normalize_untrusted_str`] holds: annotate-snippets leaves every
    /// printable ASCII character as it is, and the rest still goes through the crate.
    #[test]
    fn printable_ascii_is_what_annotate_snippets_leaves_alone() {
        for b in 0..=0x7f_u8 {
            let c = char::from(b).to_string();
            let theirs = annotate_snippets::normalize_untrusted_str(&c);
            if (b' '..=b'~').contains(&b) {
                assert_eq!(theirs, c, "{b:#04x}");
            }
            assert_eq!(normalize_untrusted_str(&c), theirs, "{b:#04x}");
        }
        for text in [
            "a\u{1b}[2Jb",
            "tab\there",
            "\u{202e}evil",
            "é",
            "x\u{200d}y",
            "plain text",
        ] {
            assert_eq!(
                normalize_untrusted_str(text),
                annotate_snippets::normalize_untrusted_str(text)
            );
        }
    }

    #[test]
    fn renders_caret_and_location() {
        let text: Arc<str> = Arc::from("x\n// @mitigates A against B\n");
        let d = Diagnostic::new(Code::MissingClause, "`@mitigates` is missing `with`")
            .at(Location::new("src/a.rs", 2, 4))
            .at_span(Span::new(5, 27))
            .label("expected `with` here")
            .help("the form is `@mitigates COMPONENT against THREAT with CONTROL`");
        let sources = BTreeMap::from([("src/a.rs".to_string(), text)]);
        let out = render(&[d], &sources, false);
        assert!(out.contains("error[TM001]"), "{out}");
        assert!(out.contains("src/a.rs:2:4"), "{out}");
        assert!(out.contains("^^^"), "{out}");
        assert!(out.contains("help: the form is"), "{out}");
    }
}
