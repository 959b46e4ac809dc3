//! The `[key: value; ...]` attribute block, and the typed keys it shares with YAML bodies.

use std::collections::BTreeSet;

use super::Locator;
use super::ast::Tag;
use crate::diagnostic::{Code, Diagnostic, Severity, Span};
use crate::model::{Attributes, Band, ElementType, Impact, Likelihood, Linddun, Status, Stride};

/// Parse the inside of `[...]` of a `tag` line; `offset` is the byte offset of the first
/// character after `[`.
pub(crate) fn parse_block(
    tag: Tag,
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
        if !seen.insert(canonical_key(&key)) {
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
        apply(tag, &key, value.trim(), span, attrs, loc, diags);
    }
}

/// The key an entry sets, whatever alias or spelling it was written with (`priority` and
/// `severity`, `data-class` and `data_class`): what "given twice" compares.
pub(crate) fn canonical_key(key: &str) -> String {
    let key = key.to_ascii_lowercase().replace('-', "_");
    let canonical = match key.as_str() {
        "category" | "categories" => "stride",
        "priority" => "severity",
        "probability" => "likelihood",
        "kind" => "type",
        "expiry" | "until" => "expires",
        "owners" => "owner",
        "issue" => "ticket",
        "cwes" => "cwe",
        _ => return key,
    };
    canonical.to_string()
}

/// Store one `key: value` of a `tag` line into `attrs`, validating known keys. `key` is already
/// lower case.
///
/// One rule for empty values, whatever the key: an empty value sets nothing and draws a TM002
/// warning (`[owner: ]`, `[severity: ]`, a YAML `impact:` with no value).
pub(crate) fn apply(
    tag: Tag,
    key: &str,
    value: &str,
    span: Span,
    attrs: &mut Attributes,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let value = value.trim();
    let invalid_near = |expected: String, guess: Option<&str>| {
        let help = match guess {
            Some(g) => format!("did you mean `{g}`? The attribute `{key}` was dropped"),
            None => format!(
                "run `threatmark explain TM002` for every attribute and its scale; the attribute `{key}` was dropped"
            ),
        };
        loc.diag(
            Code::InvalidAttribute,
            format!("invalid value `{value}` for attribute `{key}`"),
            span,
        )
        .label(format!("expected {expected}"))
        .help(help)
    };
    let invalid = |expected: String| invalid_near(expected, None);
    let near = |expected: String, spellings: &[&'static str]| {
        invalid_near(expected, did_you_mean(value, spellings))
    };
    let warning = |message: String, help: String| {
        let mut d = loc.diag(Code::InvalidAttribute, message, span).help(help);
        d.severity = Severity::Warning;
        d
    };
    let key = key.replace('-', "_");
    if value.is_empty() {
        diags.push(
            warning(
                format!("attribute `{key}` has no value"),
                "an empty value sets nothing; give a value or remove the entry".into(),
            )
            .label("expected `key: value`"),
        );
        return;
    }
    let canonical = canonical_key(&key);
    if matches!(canonical.as_str(), "likelihood" | "impact" | "severity") && !rated(tag) {
        diags.push(
            warning(
                format!(
                    "attribute `{key}` rates nothing on `@{}`; only a threat or an exposure is rated",
                    tag.as_str()
                ),
                format!(
                    "the attribute `{key}` was dropped; rate the threat (`@threat`) or the exposure (`@exposes COMPONENT to THREAT [{key}: ...]`)"
                ),
            )
            .label("not rated here"),
        );
        return;
    }
    match canonical.as_str() {
        "stride" => {
            let mut out = Vec::new();
            for item in split_list(value) {
                let compact =
                    item.len() <= 6 && item.len() > 1 && item.chars().all(|c| "STRIDE".contains(c));
                if compact {
                    out.extend(item.chars().filter_map(Stride::from_letter));
                } else if let Some(s) = Stride::parse(item) {
                    out.push(s);
                } else {
                    diags.push(invalid_near(
                        "STRIDE letters (S,T,R,I,D,E) or category names".into(),
                        did_you_mean(item, STRIDE_WORDS),
                    ));
                    return;
                }
            }
            if out.is_empty() {
                diags.push(invalid(
                    "STRIDE letters (S,T,R,I,D,E) or category names".into(),
                ));
                return;
            }
            out.sort();
            out.dedup();
            attrs.stride = out;
        }
        "linddun" => match Linddun::parse_list(value) {
            Some(v) if !v.is_empty() => attrs.linddun = v,
            _ => diags.push(invalid(
                "LINDDUN letters (L, I, Nr, De, Dd, U, Nc) or category names".into(),
            )),
        },
        "severity" => match Band::parse(value) {
            Some(v) => attrs.severity = Some(v),
            None => diags.push(near(Band::words(), Band::SPELLINGS)),
        },
        "likelihood" => match Likelihood::parse(value) {
            Some(v) => attrs.likelihood = Some(v),
            None => diags.push(near(Likelihood::words(), Likelihood::SPELLINGS)),
        },
        "impact" => match Impact::parse(value) {
            Some(v) => attrs.impact = Some(v),
            None => diags.push(near(Impact::words(), Impact::SPELLINGS)),
        },
        // Status and type are not ordered scales: words only, no digits.
        "status" => match Status::parse_word(value) {
            Some(v) => attrs.status = Some(v),
            None => diags.push(near(Status::words(), Status::SPELLINGS)),
        },
        "type" if !matches!(tag, Tag::Component | Tag::Actor) => diags.push(
            warning(
                format!(
                    "attribute `{key}` only applies to components and actors, not to `@{}`",
                    tag.as_str()
                ),
                format!("the attribute `{key}` was dropped; use another key for a custom field"),
            )
            .label("not a component or actor"),
        ),
        "type" => match ElementType::parse_word(value) {
            Some(v) => attrs.element_type = Some(v),
            None => diags.push(near(ElementType::words(), ElementType::SPELLINGS)),
        },
        "expires" => {
            if let Some(day) = crate::date::Date::parse(value) {
                attrs.expires = Some(crate::date::Expiry::Day(day));
            } else {
                diags.push(invalid("a date written YYYY-MM-DD".into()));
            }
        }
        "owner" => attrs.owner = Some(value.to_string()),
        "ticket" => attrs.ticket = Some(value.to_string()),
        "cwe" => match prefixed_ids(value, "CWE") {
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
            if key.chars().count() >= 4
                && let Some(known) = did_you_mean(&key, KNOWN_KEYS)
            {
                diags.push(
                    loc.diag(
                        Code::MisspeltAttributeKey,
                        format!("attribute `{key}` is not a known key; it was kept as a custom field"),
                        span,
                    )
                    .label("custom field")
                    .help(format!(
                        "did you mean `{known}`? Known keys are validated and used; custom fields are only shown"
                    )),
                );
            }
            attrs.custom.insert(key, value.to_string());
        }
    }
}

/// Every key (and alias) with a meaning, for a did-you-mean on a misspelt one.
const KNOWN_KEYS: &[&str] = &[
    "stride",
    "linddun",
    "category",
    "categories",
    "severity",
    "priority",
    "likelihood",
    "probability",
    "impact",
    "status",
    "type",
    "kind",
    "expires",
    "expiry",
    "until",
    "owner",
    "ticket",
    "issue",
    "cwe",
    "capec",
    "actor",
];

/// Whether a rating (`likelihood`, `impact`, `severity`) means something on `tag`: on threats
/// and exposures it rates them; on the other relations nothing reads it, so it is a warning
/// instead of a silent no-op. Entities other than threats keep it as before (Threatspec
/// projects rate components and controls for their own reports).
fn rated(tag: Tag) -> bool {
    !matches!(
        tag,
        Tag::Mitigates | Tag::Accepts | Tag::Transfers | Tag::Connects | Tag::Review | Tag::Tests
    )
}

/// The STRIDE categories in words, for a did-you-mean.
const STRIDE_WORDS: &[&str] = &[
    "spoofing",
    "tampering",
    "repudiation",
    "information-disclosure",
    "denial-of-service",
    "elevation-of-privilege",
];

/// The spelling a misspelt `value` is closest to, when it is close enough to be a typo: an
/// optimal-string-alignment distance (a swap of two letters counts one) of 1 for words of up to
/// 5 letters and 2 for longer ones, case, `_` and spaces ignored (the near-miss rule of tags).
pub(crate) fn did_you_mean(value: &str, spellings: &[&'static str]) -> Option<&'static str> {
    let norm: String = value
        .trim()
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let limit = match norm.chars().count() {
        0..=2 => return None,
        3..=5 => 1,
        _ => 2,
    };
    spellings
        .iter()
        .enumerate()
        .map(|(i, w)| (strsim::osa_distance(&norm, w), i, *w))
        .filter(|(d, _, _)| (1..=limit).contains(d))
        .min()
        .map(|(_, _, w)| w)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The help of the TM002 on the first line of `text`.
    fn help_of(text: &str) -> String {
        let (_, diags) = crate::annotation::parse_text("a.py", text);
        let d = diags
            .iter()
            .find(|d| d.code == Code::InvalidAttribute)
            .unwrap_or_else(|| panic!("no TM002 for {text}: {diags:?}"));
        d.help.clone().unwrap_or_default()
    }

    #[test]
    fn misspelt_values_of_typed_keys_get_a_did_you_mean() {
        for (text, want) in [
            ("@threat T [impact: hgih]", "did you mean `high`?"),
            ("@threat T [likelihood: likley]", "did you mean `likely`?"),
            (
                "@threat T [probability: unlikly]",
                "did you mean `unlikely`?",
            ),
            ("@threat T [severity: critcal]", "did you mean `critical`?"),
            ("@threat T [priority: meduim]", "did you mean `medium`?"),
            ("@threat T [status: mitigatd]", "did you mean `mitigated`?"),
            ("@component C [type: proccess]", "did you mean `process`?"),
            (
                "@threat T [stride: S, tampring]",
                "did you mean `tampering`?",
            ),
            ("@threat T [impact: Sever]", "did you mean `severe`?"),
        ] {
            let help = help_of(text);
            assert!(help.contains(want), "{text}: {help}");
        }
        // Nothing close: no guess, the scale is named instead.
        let help = help_of("@threat T [impact: banana]");
        assert!(!help.contains("did you mean"), "{help}");
        assert!(help.contains("explain TM002"), "{help}");
    }

    #[test]
    fn misspelt_keys_are_named_and_kept_as_custom_fields() {
        for (text, want) in [
            ("@threat T [likelyhood: likely]", "likelihood"),
            ("@threat T [impcat: severe]", "impact"),
            ("@threat T [serverity: high]", "severity"),
            ("@control C [ownr: appsec]", "owner"),
        ] {
            let (out, diags) = crate::annotation::parse_text("a.py", text);
            let d = diags
                .iter()
                .find(|d| d.code == Code::MisspeltAttributeKey)
                .unwrap_or_else(|| panic!("no TM045 for {text}: {diags:?}"));
            let help = d.help.clone().unwrap_or_default();
            assert!(help.contains(&format!("did you mean `{want}`?")), "{help}");
            assert_eq!(out[0].attributes.custom.len(), 1, "{text}");
        }
        for text in [
            "@threat T [cve: CVE-2021-44228]",
            "@threat T [state: draft]",
            "@threat T [team: web]",
            "@threat T [impact: major; source: pentest]",
        ] {
            let (_, diags) = crate::annotation::parse_text("a.py", text);
            assert!(diags.is_empty(), "{text}: {diags:?}");
        }
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
