//! Diagnostics as one line each, for tools rather than eyes: `concise` (`path:line:col:
//! severity[TMxxx] message`, what editors and `grep` understand), `json` (one stable JSON
//! object per line, documented in docs/output-formats.md) and `github` (workflow commands, so a
//! GitHub Actions run annotates the pull request without code scanning). The rustc-like
//! rendering is in `diagnostics`, SARIF in `sarif`. Each is a function of the final list of
//! diagnostics: whatever filtered them did so before.
//!
//! @threat Workflow command injection (#workflow_command_injection) [stride: T; likelihood: possible; impact: moderate; cwe: 93; actor: #malicious_contributor]:
//! an annotation whose text holds a newline and `::add-mask::`, `::stop-commands::` or a second `::error` makes a GitHub Actions run obey a command the repository wrote
//! @control Workflow command escaping (#workflow_command_escaping): `--output-format github` escapes `%`, CR and LF in the message and also `:` and `,` in properties, as GitHub's own toolkit does, so every diagnostic is exactly one command
//! @mitigates #cli against #workflow_command_injection with #workflow_command_escaping

use serde::Serialize;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::escape::printable;
use crate::diagnostic::{Diagnostic, Severity};
use crate::text::LineIndex;

/// Where a diagnostic points: the start (and end) of its caret when the file's text is known,
/// as the full rendering's `-->` line says, else its recorded location. A caret may sit on a
/// later line of an annotation than where the annotation starts.
struct Places<'a> {
    sources: &'a BTreeMap<String, Arc<str>>,
    indexes: BTreeMap<&'a str, LineIndex>,
}

/// 1-based line and column of a diagnostic's start, and of its end when it has a caret.
type Place = ((u32, u32), Option<(u32, u32)>);

impl<'a> Places<'a> {
    fn new(sources: &'a BTreeMap<String, Arc<str>>) -> Self {
        Places {
            sources,
            indexes: BTreeMap::new(),
        }
    }

    fn of(&mut self, d: &Diagnostic) -> Option<Place> {
        let loc = d.location.as_ref().filter(|l| l.line > 0)?;
        let recorded = ((loc.line, loc.column.max(1)), None);
        let (Some(span), Some((path, text))) = (d.span, self.sources.get_key_value(&loc.path))
        else {
            return Some(recorded);
        };
        if span.start > text.len() {
            return Some(recorded);
        }
        let index = self
            .indexes
            .entry(path.as_str())
            .or_insert_with(|| LineIndex::new(text));
        let start = index.position(text, span.start);
        let end = index.position(text, span.end.max(span.start));
        Some((start, Some(end)))
    }
}

/// `path:line:col: severity[TMxxx] message`, one line per diagnostic. A diagnostic about a
/// whole file has no `line:col`, one without a file no `path:`.
pub(crate) fn concise(diags: &[Diagnostic], sources: &BTreeMap<String, Arc<str>>) -> String {
    let mut places = Places::new(sources);
    let mut out = String::new();
    for d in diags {
        if let Some(loc) = &d.location {
            out.push_str(&printable(&loc.path));
            if let Some(((line, column), _)) = places.of(d) {
                out.push_str(&format!(":{line}:{column}"));
            }
            out.push_str(": ");
        }
        out.push_str(&format!(
            "{}[{}] {}\n",
            d.severity.as_str(),
            d.code.as_str(),
            printable(&d.message)
        ));
    }
    out
}

/// One line of `--output-format json`. The fields, their order and their meaning are stable
/// (docs/output-formats.md): a field is added only at the end, never renamed or removed.
#[derive(Serialize)]
struct JsonLine<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    message: &'a str,
    path: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    label: Option<&'a str>,
    help: Option<&'a str>,
    end_line: Option<u32>,
    end_column: Option<u32>,
}

/// One JSON object per line (JSON Lines). Strings are JSON-escaped, not cleaned: a consumer
/// gets the text as written.
pub(crate) fn json_lines(diags: &[Diagnostic], sources: &BTreeMap<String, Arc<str>>) -> String {
    let mut places = Places::new(sources);
    let mut out = String::new();
    for d in diags {
        let at = d.location.as_ref();
        let place = places.of(d);
        let line = JsonLine {
            code: d.code.as_str(),
            name: d.code.name(),
            severity: d.severity.as_str(),
            message: &d.message,
            path: at.map(|l| l.path.as_str()),
            line: place.map(|((line, _), _)| line),
            column: place.map(|((_, column), _)| column),
            label: d.label.as_deref(),
            help: d.help.as_deref(),
            end_line: place.and_then(|(_, end)| end).map(|(line, _)| line),
            end_column: place.and_then(|(_, end)| end).map(|(_, column)| column),
        };
        // A struct of strings and numbers always serialises.
        if let Ok(text) = serde_json::to_string(&line) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

/// GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=TMxxx::message`.
/// Notes become `::notice`.
pub(crate) fn github(diags: &[Diagnostic], sources: &BTreeMap<String, Arc<str>>) -> String {
    let mut places = Places::new(sources);
    let mut out = String::new();
    for d in diags {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut props = Vec::new();
        if let Some(loc) = &d.location {
            props.push(format!("file={}", github_property(&loc.path)));
            if let Some(((line, column), end)) = places.of(d) {
                props.push(format!("line={line}"));
                props.push(format!("col={column}"));
                // GitHub takes an end column only on a one-line range.
                if let Some((end_line, end_column)) = end.filter(|(l, _)| *l == line) {
                    props.push(format!("endLine={end_line}"));
                    props.push(format!("endColumn={end_column}"));
                }
            }
        }
        props.push(format!(
            "title={}",
            github_property(&format!("{} ({})", d.code.as_str(), d.code.name()))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            props.join(","),
            github_data(&message)
        ));
    }
    out
}

/// The escaping of a workflow command's message (`escapeData` in @actions/core): `%`, CR and
/// LF, so the message stays on its line. Other control characters are shown, not sent.
fn github_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The escaping of a property value (`escapeProperty`): also `:` and `,`, which end a value.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;
    use crate::model::Location;

    fn hostile() -> Diagnostic {
        Diagnostic::new(
            Code::UnknownTag,
            "100% bad\n::add-mask::secret\r\n::error::forged",
        )
        .at(Location::new("a,b:c%.rs", 3, 0))
    }

    #[test]
    fn github_commands_cannot_be_injected() {
        let out = github(&[hostile()], &BTreeMap::new());
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(
            out,
            "::notice file=a%2Cb%3Ac%25.rs,line=3,col=1,title=TM005 (unknown-tag)::100%25 bad%0A::add-mask::secret%0D%0A::error::forged\n"
        );
    }

    #[test]
    fn concise_and_json_are_one_line_each() {
        let d = hostile();
        let concise = concise(std::slice::from_ref(&d), &BTreeMap::new());
        assert_eq!(concise.lines().count(), 1, "{concise}");
        assert!(concise.starts_with("a,b:c%.rs:3:1: note[TM005] 100% bad "));
        let json = json_lines(
            &[d, Diagnostic::new(Code::UnknownTag, "no place")],
            &BTreeMap::new(),
        );
        assert_eq!(json.lines().count(), 2, "{json}");
        let first: serde_json::Value =
            serde_json::from_str(json.lines().next().unwrap_or("")).unwrap_or_default();
        assert_eq!(
            first["message"],
            "100% bad\n::add-mask::secret\r\n::error::forged"
        );
        assert_eq!(first["line"], 3);
        assert!(json.lines().nth(1).unwrap_or("").contains("\"path\":null"));
    }

    /// The one-line formats point where the full rendering's caret does: a caret on the second
    /// line of an annotation that starts on line 1 is at line 2, and it has an end.
    #[test]
    fn one_line_formats_point_at_the_caret() {
        let text = "# @threat A (#a)\n#   [impact: hgih]\n";
        let at = text.find("hgih").unwrap_or(0);
        let d = Diagnostic::new(Code::UnknownTag, "bad")
            .at(Location::new("a.py", 1, 3))
            .at_span(crate::diagnostic::Span::new(at, at + 4));
        let sources = BTreeMap::from([("a.py".to_string(), Arc::from(text))]);
        let one = std::slice::from_ref(&d);
        assert!(
            concise(one, &sources).starts_with("a.py:2:14: "),
            "{}",
            concise(one, &sources)
        );
        let json: serde_json::Value =
            serde_json::from_str(json_lines(one, &sources).trim()).unwrap_or_default();
        assert_eq!(
            (
                &json["line"],
                &json["column"],
                &json["end_line"],
                &json["end_column"]
            ),
            (&2.into(), &14.into(), &2.into(), &18.into())
        );
        assert!(
            github(one, &sources).contains("line=2,col=14,endLine=2,endColumn=18,"),
            "{}",
            github(one, &sources)
        );
        // Without the text, the recorded place.
        assert!(concise(one, &BTreeMap::new()).starts_with("a.py:1:3: "));
    }
}
