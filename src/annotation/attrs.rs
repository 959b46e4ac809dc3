//! The `[key: value; ...]` attribute block, and the typed keys it shares with YAML bodies.

use std::collections::BTreeSet;

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::{Attributes, Band, ElementType, Impact, Likelihood, Status, Stride};

/// Parse the inside of `[...]`; `offset` is the byte offset of the first character after `[`.
pub(crate) fn parse_block(
    inner: &str,
    offset: usize,
    attrs: &mut Attributes,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen = BTreeSet::new();
    let mut start = 0;
    for entry in inner.split(';') {
        let entry_offset = offset + start;
        start += entry.len() + 1;
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            continue;
        }
        let lead = entry.len() - entry.trim_start().len();
        let span = Span::new(entry_offset + lead, entry_offset + lead + trimmed.len());
        let Some((key, value)) = trimmed.split_once(':') else {
            diags.push(
                loc.diag(
                    Code::MalformedAttributes,
                    format!("attribute `{trimmed}` has no value"),
                    span,
                )
                .label("expected `key: value`")
                .help("separate entries with `;` and give each one `key: value`"),
            );
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            diags.push(
                loc.diag(Code::MalformedAttributes, "attribute without a key", span)
                    .label("expected `key: value`"),
            );
            continue;
        }
        if !seen.insert(key.clone()) {
            diags.push(
                loc.diag(
                    Code::MalformedAttributes,
                    format!("attribute `{key}` is given twice"),
                    span,
                )
                .label("the first value is kept"),
            );
            continue;
        }
        apply(&key, value.trim(), span, attrs, loc, diags);
    }
}

/// Store one `key: value` into `attrs`, validating known keys.
pub(crate) fn apply(
    key: &str,
    value: &str,
    span: Span,
    attrs: &mut Attributes,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let invalid = |expected: String| {
        loc.diag(
            Code::InvalidAttribute,
            format!("invalid value `{value}` for attribute `{key}`"),
            span,
        )
        .label(format!("expected {expected}"))
        .help(format!(
            "run `threatmark explain TM002` for every attribute and its scale; the attribute `{key}` was dropped"
        ))
    };
    let key = key.replace('-', "_");
    match key.as_str() {
        "stride" | "category" | "categories" => {
            let mut out = Vec::new();
            for item in split_list(value) {
                let compact =
                    item.len() <= 6 && item.len() > 1 && item.chars().all(|c| "STRIDE".contains(c));
                if compact {
                    out.extend(item.chars().filter_map(Stride::from_letter));
                } else if let Some(s) = Stride::parse(item) {
                    out.push(s);
                } else {
                    diags.push(invalid(
                        "STRIDE letters (S,T,R,I,D,E) or category names".into(),
                    ));
                    return;
                }
            }
            out.sort();
            out.dedup();
            attrs.stride = out;
        }
        "severity" | "priority" => match Band::parse(value) {
            Some(v) => attrs.severity = Some(v),
            None => diags.push(invalid(Band::words())),
        },
        "likelihood" | "probability" => match Likelihood::parse(value) {
            Some(v) => attrs.likelihood = Some(v),
            None => diags.push(invalid(Likelihood::words())),
        },
        "impact" => match Impact::parse(value) {
            Some(v) => attrs.impact = Some(v),
            None => diags.push(invalid(Impact::words())),
        },
        "status" => match Status::parse(value) {
            Some(v) => attrs.status = Some(v),
            None => diags.push(invalid(Status::words())),
        },
        "type" | "kind" => match ElementType::parse(value) {
            Some(v) => attrs.element_type = Some(v),
            None => diags.push(invalid(ElementType::words())),
        },
        "expires" | "expiry" | "until" => {
            if is_valid_date(value) {
                attrs.expires = Some(value.to_string());
            } else {
                diags.push(invalid("a date written YYYY-MM-DD".into()));
            }
        }
        "owner" | "owners" => non_empty(value, &mut attrs.owner),
        "ticket" | "issue" => non_empty(value, &mut attrs.ticket),
        "cwe" | "cwes" => match prefixed_ids(value, "CWE") {
            Some(v) => attrs.cwe = v,
            None => diags.push(invalid("CWE-<number>, comma separated".into())),
        },
        "capec" => match prefixed_ids(value, "CAPEC") {
            Some(v) => attrs.capec = v,
            None => diags.push(invalid("CAPEC-<number>, comma separated".into())),
        },
        "actor" => {
            let id = value.trim().trim_start_matches('#');
            if crate::model::ids::is_valid_id(id) {
                attrs.actor = Some(id.to_string());
            } else {
                diags.push(invalid("an actor reference such as `#outsider`".into()));
            }
        }
        _ => {
            attrs.custom.insert(key, value.to_string());
        }
    }
}

fn non_empty(value: &str, slot: &mut Option<String>) {
    if !value.is_empty() {
        *slot = Some(value.to_string());
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', '/'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `89, CWE-79` → `["CWE-79", "CWE-89"]`, sorted by number.
fn prefixed_ids(value: &str, prefix: &str) -> Option<Vec<String>> {
    let mut nums = Vec::new();
    for item in split_list(value) {
        let digits = match item.get(..prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(prefix) => {
                item[prefix.len()..].trim_start_matches(['-', ' ', '_'])
            }
            _ => item,
        };
        nums.push(digits.parse::<u32>().ok()?);
    }
    if nums.is_empty() {
        return None;
    }
    nums.sort_unstable();
    nums.dedup();
    Some(nums.into_iter().map(|n| format!("{prefix}-{n}")).collect())
}

/// A real calendar date written `YYYY-MM-DD`.
pub fn is_valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    if !s[0..4].bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2023-13-01"));
        assert!(!is_valid_date("2023-1-01"));
        assert!(!is_valid_date("+023-01-01"));
        assert!(is_valid_date("2000-02-29"));
        assert!(!is_valid_date("1900-02-29"));
    }

    #[test]
    fn prefixed() {
        assert_eq!(
            prefixed_ids("89, CWE-79,cwe 20", "CWE"),
            Some(vec!["CWE-20".into(), "CWE-79".into(), "CWE-89".into()])
        );
        assert_eq!(prefixed_ids("CWE-x", "CWE"), None);
    }
}
