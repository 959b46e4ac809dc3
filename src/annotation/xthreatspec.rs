//! Threatspec's `x-threatspec` keys in YAML and JSON files (OpenAPI documents, mostly).
//!
//! Threatspec reads annotations from the values of `x-threatspec` keys anywhere in a YAML or JSON
//! document: a string, a list of strings, or a mapping from annotation to a body whose keys
//! (`description`, custom fields) extend it. We accept the same three forms, and locate each
//! annotation at its real line (Threatspec reports line 0). A value written with escapes or
//! folded is found too, and a value that is not read is named (TM044), never skipped.
//!
//! @control Every x-threatspec value is read or named (#x_threatspec_named): escaped, quoted and folded values are located and read; a document that does not parse, a non-string value and a string that is no annotation are TM044 warnings
//! @mitigates #parser against #silent_loss with #x_threatspec_named

use serde_json::Value;

use super::{Annotation, CommentLine, Locator, attrs, parse_comment};
use crate::diagnostic::{Code, Diagnostic, Span};

/// The key Threatspec looks for.
pub const KEY: &str = "x-threatspec";

/// One value found under a key: an annotation (with its body), or something that cannot be one.
enum Found {
    Annotation(String, Option<Value>),
    /// What it is, and a piece of its text to find it by.
    Invalid(String, String),
}

/// Annotations from every `x-threatspec` key of a YAML or JSON document. Every value that is
/// not read as an annotation is named in a diagnostic (TM044): a document that does not parse,
/// a value that is not a string, a string that is no annotation.
pub fn extract(loc: &Locator<'_>, out: &mut Vec<Annotation>, diags: &mut Vec<Diagnostic>) {
    let text = loc.text;
    let Some(first_key) = text.find(KEY) else {
        return;
    };
    let key_span = Span::new(first_key, first_key + KEY.len());
    let doc = match serde_saphyr::from_str::<Value>(text) {
        Ok(doc) => doc,
        Err(e) => {
            let why = e.to_string();
            let why = why.lines().next().unwrap_or_default();
            diags.push(
                loc.diag(
                    Code::InvalidXThreatspec,
                    format!(
                        "the `{KEY}` keys of this file were not read: it does not parse ({why})"
                    ),
                    key_span,
                )
                .label("not read")
                .help("fix the syntax of the document; Threatspec cannot read it either"),
            );
            return;
        }
    };
    let mut found = Vec::new();
    collect(&doc, &mut found);
    // Map order is not file order: place every value, then go through them by position.
    let mut used = Vec::new();
    let mut placed: Vec<(usize, Found)> = found
        .into_iter()
        .map(|f| {
            let at = match &f {
                Found::Annotation(a, _) => anchor(text, a, &mut used),
                Found::Invalid(_, hint) => anchor(text, hint, &mut used),
            };
            (at.unwrap_or(first_key), f)
        })
        .collect();
    placed.sort_by_key(|(at, _)| *at);
    for (at, found) in placed {
        let (annotation, body) = match found {
            Found::Annotation(a, body) => (a, body),
            Found::Invalid(what, _) => {
                diags.push(invalid(
                    loc,
                    at,
                    text,
                    format!("`{KEY}` value {what} is not an annotation"),
                ));
                continue;
            }
        };
        let lines = value_lines(text, &annotation, at);
        let comment: Vec<CommentLine<'_>> = lines
            .iter()
            .map(|(t, offset)| CommentLine {
                text: t,
                offset: *offset,
            })
            .collect();
        let (before, diags_before) = (out.len(), diags.len());
        parse_comment(&comment, loc, out, diags);
        if out.len() == before && diags.len() == diags_before {
            let shown: String = annotation.trim().chars().take(60).collect();
            diags.push(invalid(
                loc,
                at,
                text,
                format!("`{KEY}` value `{shown}` is not an annotation"),
            ));
            continue;
        }
        if let (Some(Value::Object(body)), Some(a)) = (body, out.get_mut(before)) {
            let span = a.span;
            for (key, value) in body {
                let value = match value {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                if key.eq_ignore_ascii_case("description") {
                    if !a.description.is_empty() {
                        a.description.push('\n');
                    }
                    a.description.push_str(value.trim());
                } else {
                    let tag = a.tag;
                    attrs::apply(
                        tag,
                        &key.to_ascii_lowercase(),
                        value.trim(),
                        span,
                        &mut a.attributes,
                        loc,
                        diags,
                    );
                }
            }
        }
    }
}

/// TM044 at the line of `at`.
fn invalid(loc: &Locator<'_>, at: usize, text: &str, message: String) -> Diagnostic {
    let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
    loc.diag(Code::InvalidXThreatspec, message, Span::new(at, end))
        .label("not read")
        .help(format!(
            "an `{KEY}` value is an annotation (`@threat Name (#id)`), a list of them, or a mapping from one to its fields"
        ))
}

fn collect(v: &Value, out: &mut Vec<Found>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k == KEY {
                    match val {
                        Value::String(s) => out.push(Found::Annotation(s.clone(), None)),
                        Value::Array(items) => {
                            for item in items {
                                match item {
                                    Value::String(s) => {
                                        out.push(Found::Annotation(s.clone(), None))
                                    }
                                    other => out.push(invalid_value(other)),
                                }
                            }
                        }
                        Value::Object(m) => {
                            out.extend(
                                m.iter().map(|(a, body)| {
                                    Found::Annotation(a.clone(), Some(body.clone()))
                                }),
                            );
                        }
                        other => out.push(invalid_value(other)),
                    }
                } else {
                    collect(val, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// A value that cannot be an annotation, with a piece of its text to find it by.
fn invalid_value(v: &Value) -> Found {
    let hint = match v {
        Value::Object(m) => m.keys().next().cloned().unwrap_or_else(|| KEY.to_string()),
        Value::Array(_) => KEY.to_string(),
        Value::Null => KEY.to_string(),
        other => other.to_string(),
    };
    let what = match v {
        Value::Null => "(empty)".to_string(),
        Value::Object(_) => "(a mapping)".to_string(),
        Value::Array(_) => "(a nested list)".to_string(),
        other => format!("`{other}`"),
    };
    Found::Invalid(what, hint)
}

/// Where a value stands in the file (its first occurrence not already taken): written out as
/// it is; else as a quoted string whose escapes decode to it (`"\u0040threat ..."` in JSON,
/// `"... \"Q\" ..."` in YAML); else where the longest run of its first words is (a folded
/// YAML scalar, whose lines were joined).
fn anchor(text: &str, value: &str, used: &mut Vec<usize>) -> Option<usize> {
    let needle = value.trim();
    let first = needle.lines().next().unwrap_or_default().trim();
    if first.is_empty() {
        return None;
    }
    let found = {
        let free = |i: &usize| !used.contains(i);
        text.match_indices(first)
            .map(|(i, _)| i)
            .find(free)
            .or_else(|| quoted(text, needle).into_iter().find(free))
            .or_else(|| {
                let words: Vec<&str> = first.split_whitespace().collect();
                (2..words.len()).rev().find_map(|n| {
                    let prefix = words[..n].join(" ");
                    text.match_indices(prefix.as_str())
                        .map(|(i, _)| i)
                        .find(free)
                })
            })
    };
    if let Some(at) = found {
        used.push(at);
    }
    found
}

/// Offsets just inside the double-quoted strings of `text` that decode to `value`.
fn quoted(text: &str, value: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = memchr::memchr(b'"', &bytes[i..]).map(|n| i + n) {
        let mut j = open + 1;
        while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        if j >= bytes.len() || bytes[j] != b'"' {
            i = open + 1;
            continue;
        }
        if text[open + 1..j].contains('\\')
            && serde_json::from_str::<String>(&text[open..=j]).is_ok_and(|s| s.trim() == value)
        {
            out.push(open + 1);
        }
        i = j + 1;
    }
    out
}

/// The lines of a value, each with the offset it is read at: its own place in the file when it
/// is written out there after `at` (a literal block), else `at`.
fn value_lines(text: &str, value: &str, at: usize) -> Vec<(String, usize)> {
    let mut from = at;
    value
        .trim()
        .lines()
        .map(|line| {
            let t = line.trim();
            let offset = match text.get(from..).and_then(|rest| rest.find(t)) {
                Some(n) if !t.is_empty() => from + n,
                _ => from,
            };
            from = offset;
            (t.to_string(), offset)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LineIndex;

    #[test]
    fn three_forms_at_real_lines() {
        let text = "openapi: 3.0.0\nx-threatspec: \"@component Shop:API (#api)\"\npaths:\n  /o:\n    get:\n      x-threatspec:\n        - \"@exposes #api to Leak (#leak) with listing\"\n    post:\n      x-threatspec:\n        \"@mitigates #api against #leak with Scoping\":\n          description: scoped by user\n          ticket: SEC-7\n";
        let index = LineIndex::new(text);
        let loc = Locator::new("api.yaml", text, &index);
        let mut out = Vec::new();
        let mut diags = Vec::new();
        extract(&loc, &mut out, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let lines: Vec<u32> = out.iter().map(|a| a.source.line).collect();
        assert_eq!(lines, [2, 7, 10]);
        assert_eq!(out[2].description, "scoped by user");
        assert_eq!(out[2].attributes.ticket.as_deref(), Some("SEC-7"));
    }

    fn run(path: &str, text: &str) -> (Vec<Annotation>, Vec<Diagnostic>) {
        let index = LineIndex::new(text);
        let loc = Locator::new(path, text, &index);
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        extract(&loc, &mut out, &mut diags);
        (out, diags)
    }

    #[test]
    fn escaped_folded_and_quoted_values_are_read_at_their_lines() {
        let json = "{\n  \"openapi\": \"3.0.0\",\n  \"x-threatspec\": \"\\u0040threat Escaped (#esc)\"\n}\n";
        let (out, diags) = run("api.json", json);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].source.line, 3);
        assert_eq!(out[0].source.annotation, "@threat Escaped (#esc)");

        let yaml = "paths:\n  /a:\n    x-threatspec: >-\n      @threat Folded\n      name (#fold)\n  /b:\n    x-threatspec: \"@threat Quoted \\\"Q\\\" (#q)\"\n";
        let (out, diags) = run("api.yaml", yaml);
        assert!(diags.is_empty(), "{diags:?}");
        let found: Vec<(String, u32)> = out
            .iter()
            .map(|a| (a.source.annotation.clone(), a.source.line))
            .collect();
        assert_eq!(
            found,
            [
                ("@threat Folded name (#fold)".to_string(), 4),
                ("@threat Quoted \"Q\" (#q)".to_string(), 7)
            ]
        );
    }

    #[test]
    fn values_that_are_not_annotations_are_reported() {
        let yaml = "a:\n  x-threatspec: 42\nb:\n  x-threatspec:\n    - just words\n    - {k: v}\n";
        let (out, diags) = run("api.yaml", yaml);
        assert!(out.is_empty(), "{out:?}");
        let codes: Vec<(Code, u32)> = diags
            .iter()
            .map(|d| (d.code, d.location.as_ref().map_or(0, |l| l.line)))
            .collect();
        assert_eq!(
            codes,
            [
                (Code::InvalidXThreatspec, 2),
                (Code::InvalidXThreatspec, 5),
                (Code::InvalidXThreatspec, 6)
            ],
            "{diags:?}"
        );
        let (_, diags) = run("bad.yaml", "x-threatspec: \"@threat Broken (#b)\n  : [\n");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, Code::InvalidXThreatspec);
    }
}
