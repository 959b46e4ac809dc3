//! Threatspec's `x-threatspec` keys in YAML and JSON files (OpenAPI documents, mostly).
//!
//! Threatspec reads annotations from the values of `x-threatspec` keys anywhere in a YAML or JSON
//! document: a string, a list of strings, or a mapping from annotation to a body whose keys
//! (`description`, custom fields) extend it. We accept the same three forms, and locate each
//! annotation at its real line (Threatspec reports line 0).

use serde_json::Value;

use super::{Annotation, CommentLine, Locator, attrs, parse_comment};
use crate::diagnostic::{Diagnostic, Span};

/// The key Threatspec looks for.
pub const KEY: &str = "x-threatspec";

/// Annotations from every `x-threatspec` key of a YAML or JSON document.
pub fn extract(loc: &Locator<'_>, out: &mut Vec<Annotation>, diags: &mut Vec<Diagnostic>) {
    let text = loc.text;
    if !text.contains(KEY) {
        return;
    }
    // Not our job to report YAML syntax errors: a file that does not parse has no keys.
    let Ok(doc) = serde_saphyr::from_str::<Value>(text) else {
        return;
    };
    let mut found = Vec::new();
    collect(&doc, &mut found);
    // Map order is not file order: place every annotation, then go through them by position.
    let mut used = Vec::new();
    let mut placed: Vec<(CommentLine<'_>, Option<Value>)> = found
        .into_iter()
        .filter_map(|(annotation, body)| locate(text, &annotation, &mut used).map(|l| (l, body)))
        .collect();
    placed.sort_by_key(|(l, _)| l.offset);
    for (line, body) in placed {
        let before = out.len();
        parse_comment(&[line], loc, out, diags);
        if let (Some(Value::Object(body)), Some(a)) = (body, out.get_mut(before)) {
            let span = Span::new(line.offset, line.offset + line.text.len());
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

fn collect(v: &Value, out: &mut Vec<(String, Option<Value>)>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k == KEY {
                    match val {
                        Value::String(s) => out.push((s.clone(), None)),
                        Value::Array(items) => {
                            out.extend(
                                items
                                    .iter()
                                    .filter_map(|i| i.as_str())
                                    .map(|s| (s.to_string(), None)),
                            );
                        }
                        Value::Object(m) => {
                            out.extend(m.iter().map(|(a, body)| (a.clone(), Some(body.clone()))));
                        }
                        _ => {}
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

/// The annotation as it stands in the file: its first occurrence not already taken by an equal
/// annotation. Quoted strings with escapes are not found verbatim and are skipped.
fn locate<'a>(text: &'a str, annotation: &str, used: &mut Vec<usize>) -> Option<CommentLine<'a>> {
    let needle = annotation.trim();
    if needle.is_empty() {
        return None;
    }
    let at = text
        .match_indices(needle)
        .map(|(i, _)| i)
        .find(|i| !used.contains(i))?;
    used.push(at);
    Some(CommentLine {
        text: &text[at..at + needle.len()],
        offset: at,
    })
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
}
