//! SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
//!
//! One rule per diagnostic or finding code; results sit at the annotation's file and line;
//! `partialFingerprints` come from the stable ids of the elements involved, so an alert
//! survives when an annotation moves; levels follow the severity (which, for unmitigated
//! exposures, follows the risk band).
//!
//! What GitHub needs beyond the schema, and why each piece is here:
//! - `security-severity` (a number 0.0-10.0 as a string, in `properties`) on every rule and
//!   result, or code scanning cannot rank the alerts ([`security_severity`] has the table).
//! - `shortDescription`, `fullDescription` and `help` (text and Markdown) on every rule, the
//!   `policy/*` rules included (SARIF Multitool's GitHub rule GH2012).
//! - A region on every result (GitHub drops results without one): a file-level result is at
//!   line 1, and a result without a place at all is put on the model file.
//! - URIs relative to the repository root: with `check -C sub` the model's paths are relative
//!   to `sub/`, so the scan root's folder in the repository is put in front ([`Options::prefix`]).
//! - At most 25,000 results per run (GitHub rejects more): the most severe are kept and a
//!   tool notification says how many were left out. Locations per result (1 here, limit
//!   1,000), rules per run (one per code, limit 25,000) and tags per rule (3, limit 20) are far
//!   below GitHub's limits whatever the repository holds.
//! - Messages are plain text in which `[text](target)` is an embedded link (SARIF 3.11.6):
//!   repository text has its brackets escaped, its control and bidi characters shown, and is
//!   cut at [`MAX_MESSAGE_CHARS`].
//!
//! @threat Code scanning alerts misplaced, unranked or dropped (#sarif_misranked) [stride: R; likelihood: likely; impact: moderate; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! alerts that point at the wrong files (`check -C sub`), carry no security severity, or exceed GitHub's limits so that the whole upload is rejected, hide what a change introduced
//! @control SARIF shaped for GitHub (#sarif_for_github): security-severity from the risk band, described rules, a region on every result, repository-relative URIs, the 25,000-result cap keeping the most severe, escaped messages
//! @mitigates #renderer against #sarif_misranked with #sarif_for_github

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::{Finding, RiskMatrix};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::model::{Band, Location};

/// GitHub code scanning rejects a run with more results than this.
pub(crate) const MAX_RESULTS: usize = 25_000;

/// Messages longer than this (in characters) are cut: GitHub shows them as alert titles, and a
/// run of 25,000 results must stay well under its 10 MB upload limit.
pub(crate) const MAX_MESSAGE_CHARS: usize = 1_000;

/// A result that is neither a diagnostic nor a finding: a failed `check` policy.
#[derive(Debug, Clone)]
pub(crate) struct PolicyResult {
    pub policy: String,
    pub message: String,
    pub location: Option<Location>,
}

/// How the log is written.
#[derive(Debug, Clone)]
pub(crate) struct Options<'a> {
    /// The scan root's folder in the repository (`""`, or `sub/dir/` with the slash), put in
    /// front of every path so that URIs are relative to the repository root.
    pub prefix: String,
    /// Results below this level are left out (`Severity` orders error < warning < note).
    pub min_level: Severity,
    /// At most this many results ([`MAX_RESULTS`] for GitHub).
    pub max_results: usize,
    /// The matrix the risks were rated on: places a score within its band.
    pub matrix: &'a RiskMatrix,
    /// Where a result without any location is put (the model file, relative to the scan root).
    pub fallback_path: String,
    /// `(id, text)` warnings about the run itself (a skipped policy, a policy changed by the
    /// change under review): tool notifications, since none is a result to triage.
    pub notifications: Vec<(String, String)>,
}

impl<'a> Options<'a> {
    pub(crate) fn new(matrix: &'a RiskMatrix) -> Self {
        Self {
            prefix: String::new(),
            min_level: Severity::Note,
            max_results: MAX_RESULTS,
            matrix,
            fallback_path: "threatmodel.json".into(),
            notifications: Vec::new(),
        }
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// GitHub's `security-severity` for a risk: its band's range on GitHub's scale (critical
/// 9.0-10.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9; threatmark's very-low is the lower
/// part of GitHub's low), the score placed linearly between the lowest and the highest score
/// of the band in the matrix in use.
///
/// | band | security-severity |
/// |---|---|
/// | critical | 9.0-10.0 |
/// | high | 7.0-8.9 |
/// | medium | 4.0-6.9 |
/// | low | 2.0-3.9 |
/// | very-low | 0.1-1.9 |
///
/// Without a risk (diagnostics, policies, findings about unrated elements) the level decides:
/// error 7.0 (high), warning 4.0 (medium), note 1.0 (low).
pub(crate) fn security_severity(
    risk: Option<(u8, Band)>,
    severity: Severity,
    m: &RiskMatrix,
) -> f64 {
    let Some((score, band)) = risk else {
        return match severity {
            Severity::Error => 7.0,
            Severity::Warning => 4.0,
            Severity::Note => 1.0,
        };
    };
    let (low, high) = match band {
        Band::Critical => (9.0, 10.0),
        Band::High => (7.0, 8.9),
        Band::Medium => (4.0, 6.9),
        Band::Low => (2.0, 3.9),
        Band::VeryLow => (0.1, 1.9),
    };
    let i = usize::from(band.rank() - 1);
    let first = f64::from(m.band_edges[i]);
    let top = m.scores[4][4].max(m.band_edges[4]);
    let last = f64::from(match m.band_edges.get(i + 1) {
        Some(next) => next.saturating_sub(1),
        None => top,
    });
    let t = if last > first {
        ((f64::from(score) - first) / (last - first)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    // One decimal, as GitHub shows it.
    ((low + t * (high - low)) * 10.0).round() / 10.0
}

fn severity_text(v: f64) -> String {
    format!("{v:.1}")
}

/// Plain text for a SARIF message: control and bidi characters shown, `\`, `[` and `]`
/// escaped (no embedded links), at most [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn message_text(s: &str) -> String {
    let cleaned = super::escape::printable(s);
    let mut out = String::with_capacity(cleaned.len() + 8);
    for (n, c) in cleaned.chars().enumerate() {
        if n == MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        if matches!(c, '\\' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Percent-encode what a relative URI reference cannot hold as is.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rule(code: Code) -> Value {
    json!({
        "id": code.as_str(),
        "name": code.name(),
        "shortDescription": { "text": code.summary() },
        "fullDescription": { "text": code.explanation() },
        "defaultConfiguration": { "level": level(code.default_severity()) },
        "help": {
            "text": code.explanation(),
            "markdown": format!(
                "**{} {}**: {}\n\n{}\n\n`threatmark explain {}` prints this text.",
                code.as_str(),
                code.name(),
                code.summary(),
                code.explanation(),
                code.as_str()
            ),
        },
        "properties": { "tags": ["security", "threat-model"] }
    })
}

/// What each `check` policy guards, for its rule's descriptions.
fn policy_text(name: &str) -> (&'static str, &'static str) {
    match name {
        "new-unmitigated" => (
            "the change adds an unmitigated exposure at or above the failing risk band",
            "An `@exposes` that is new against the base revision, at or above the band set by `--fail-on` or `[check] fail_on_new_unmitigated`, and that nothing mitigates, accepts or transfers.\n\nFix: add a control (`@mitigates`), or accept the risk with an owner and an expiry date.",
        ),
        "errors" => (
            "the threat model has error diagnostics",
            "An annotation that does not parse, a reference to an element that does not exist, or another error diagnostic makes the model incomplete, so the gate fails on it (`[check] fail_on_errors`, `--allow-errors`).\n\nFix: correct the annotation; `threatmark explain CODE` describes each diagnostic.",
        ),
        "expired-acceptances" => (
            "a risk acceptance has passed its expiry date",
            "An `@accepts` with an `expires` date before the date of the check no longer covers its exposure (`[check] fail_on_expired`, `--allow-expired`).\n\nFix: review the risk and renew the acceptance with a new date, or mitigate it.",
        ),
        "unguarded-crossings" => (
            "a data flow crosses a trust boundary and no control guards it",
            "A `@connects` flow between components in different trust boundaries has no control on it (`[check] fail_on_unguarded`, `--allow-unguarded`).\n\nFix: name the control that guards the flow, or move the components.",
        ),
        "stale-model" => (
            "the committed model file differs from what the annotations yield",
            "The committed threat model file is missing or out of date, so reviewers read a model that is not the code's (`[check] fail_on_stale`, `--allow-stale`).\n\nFix: run `threatmark scan` and commit the model file.",
        ),
        _ => (
            "a threatmark check policy failed",
            "A policy of `threatmark check` failed; the message says what and where.\n\nFix: see `threatmark check --help` and docs/ci.md.",
        ),
    }
}

fn policy_rule(name: &str) -> Value {
    let (short, full) = policy_text(name);
    json!({
        "id": format!("policy/{name}"),
        "name": name,
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "defaultConfiguration": { "level": "error" },
        "help": {
            "text": full,
            "markdown": format!("**threatmark check policy `{name}`**: {short}\n\n{full}"),
        },
        "properties": { "tags": ["security", "threat-model", "policy"] }
    })
}

/// A result before it is written: what the cap and the rule severities need. Its JSON is made
/// only for the results kept, so a repository with 100,000 diagnostics costs 25,000 objects.
struct Pending<'r> {
    rule: usize,
    severity: Severity,
    security: f64,
    what: What<'r>,
}

enum What<'r> {
    Finding(&'r Finding),
    Diagnostic(&'r Diagnostic),
    Policy(&'r PolicyResult),
}

/// Build the SARIF log.
pub(crate) fn sarif(
    diagnostics: &[Diagnostic],
    findings: &[Finding],
    policies: &[PolicyResult],
    opts: &Options<'_>,
) -> String {
    let mut codes: Vec<Code> = diagnostics
        .iter()
        .map(|d| d.code)
        .chain(findings.iter().map(|f| f.code))
        .collect();
    codes.sort();
    codes.dedup();
    let mut rules: Vec<Value> = codes.iter().map(|c| rule(*c)).collect();
    let index: BTreeMap<String, usize> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str().to_string(), i))
        .collect();
    let mut policy_names: Vec<&str> = policies.iter().map(|p| p.policy.as_str()).collect();
    policy_names.sort_unstable();
    policy_names.dedup();
    let mut policy_index = BTreeMap::new();
    for name in policy_names {
        policy_index.insert(name.to_string(), rules.len());
        rules.push(policy_rule(name));
    }

    let fallback = Location::file(&opts.fallback_path);
    let location = |loc: Option<&Location>| -> Value {
        let loc = loc.unwrap_or(&fallback);
        let mut physical = json!({
            "artifactLocation": {
                "uri": uri(&format!("{}{}", opts.prefix, loc.path)),
                "uriBaseId": "%SRCROOT%"
            }
        });
        // GitHub drops a result without a region: a whole file is its first line.
        physical["region"] = if loc.line > 0 {
            json!({ "startLine": loc.line, "startColumn": loc.column.max(1) })
        } else {
            json!({ "startLine": 1 })
        };
        json!([{ "physicalLocation": physical }])
    };

    let mut pending: Vec<Pending> = Vec::new();
    for f in findings.iter().filter(|f| f.severity <= opts.min_level) {
        pending.push(Pending {
            rule: index.get(f.code.as_str()).copied().unwrap_or(0),
            severity: f.severity,
            security: security_severity(
                f.risk.as_ref().map(|r| (r.score, r.band)),
                f.severity,
                opts.matrix,
            ),
            what: What::Finding(f),
        });
    }
    for d in diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note && d.severity <= opts.min_level)
    {
        pending.push(Pending {
            rule: index.get(d.code.as_str()).copied().unwrap_or(0),
            severity: d.severity,
            security: security_severity(None, d.severity, opts.matrix),
            what: What::Diagnostic(d),
        });
    }
    for p in policies {
        pending.push(Pending {
            rule: policy_index.get(&p.policy).copied().unwrap_or(0),
            severity: Severity::Error,
            security: security_severity(None, Severity::Error, opts.matrix),
            what: What::Policy(p),
        });
    }
    let result = |p: &Pending<'_>| -> Value {
        let (rule, security) = (p.rule, p.security);
        match p.what {
            What::Finding(f) => {
                let fingerprint = f
                    .elements
                    .iter()
                    .map(|e| {
                        format!(
                            "{}:{}",
                            serde_json::to_value(e.kind)
                                .unwrap_or(Value::Null)
                                .as_str()
                                .unwrap_or(""),
                            e.id
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let mut properties = json!({ "security-severity": severity_text(security) });
                if let Some(risk) = &f.risk {
                    properties["risk"] = json!(risk.score);
                    properties["band"] = json!(risk.band.as_str());
                    if risk.exposure {
                        properties["rated-on"] = json!("exposure");
                    }
                }
                json!({
                    "ruleId": f.code.as_str(),
                    "ruleIndex": rule,
                    "level": level(f.severity),
                    "message": { "text": message_text(&f.message) },
                    "locations": location(f.locations.first()),
                    "partialFingerprints": { "threatmarkElements/v1": format!("{}|{fingerprint}", f.code) },
                    "properties": properties,
                })
            }
            What::Diagnostic(d) => {
                let path = d.location.as_ref().map_or("", |l| l.path.as_str());
                json!({
                    "ruleId": d.code.as_str(),
                    "ruleIndex": rule,
                    "level": level(d.severity),
                    "message": { "text": message_text(&d.message) },
                    "locations": location(d.location.as_ref()),
                    "partialFingerprints": { "threatmarkDiagnostic/v1": format!("{}|{path}|{}", d.code, d.message) },
                    "properties": { "security-severity": severity_text(security) },
                })
            }
            What::Policy(p) => json!({
                "ruleId": format!("policy/{}", p.policy),
                "ruleIndex": rule,
                "level": "error",
                "message": { "text": message_text(&p.message) },
                "locations": location(p.location.as_ref()),
                "partialFingerprints": { "threatmarkPolicy/v1": format!("{}|{}", p.policy, p.message) },
                "properties": { "security-severity": severity_text(security) },
            }),
        }
    };

    // Over the cap: keep the most severe (by level, then security-severity, then the order
    // above), and write them in the order above.
    let dropped = pending.len().saturating_sub(opts.max_results);
    if dropped > 0 {
        let mut order: Vec<usize> = (0..pending.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&pending[a], &pending[b]);
            x.severity
                .cmp(&y.severity)
                .then(y.security.total_cmp(&x.security))
                .then(a.cmp(&b))
        });
        let mut keep = vec![false; pending.len()];
        for &i in order.iter().take(opts.max_results) {
            keep[i] = true;
        }
        let mut n = 0;
        pending.retain(|_| {
            n += 1;
            keep[n - 1]
        });
    }

    // A rule ranks as its most severe result; a rule without results by its default level.
    let mut rule_security: Vec<Option<f64>> = vec![None; rules.len()];
    for p in &pending {
        if let Some(s) = rule_security.get_mut(p.rule) {
            *s = Some(s.map_or(p.security, |old: f64| old.max(p.security)));
        }
    }
    for (i, r) in rules.iter_mut().enumerate() {
        let default = match r["defaultConfiguration"]["level"].as_str() {
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            _ => Severity::Note,
        };
        let s = rule_security
            .get(i)
            .copied()
            .flatten()
            .unwrap_or_else(|| security_severity(None, default, opts.matrix));
        r["properties"]["security-severity"] = json!(severity_text(s));
    }

    let results: Vec<Value> = pending.iter().map(result).collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "threatmark",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://github.com/threatmark/threatmark",
            "rules": rules,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    let mut notifications: Vec<Value> = opts
        .notifications
        .iter()
        .map(|(id, text)| {
            json!({
                "level": "warning",
                "descriptor": { "id": id },
                "message": { "text": crate::render::escape::printable(text) },
            })
        })
        .collect();
    if dropped > 0 {
        notifications.push(json!({
            "level": "warning",
            "descriptor": { "id": "results-capped" },
            "message": { "text": format!(
                "{dropped} results were left out: GitHub code scanning accepts at most {} results per run, so the most severe {} were kept",
                opts.max_results, opts.max_results
            ) },
        }));
    }
    if !notifications.is_empty() {
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "toolExecutionNotifications": notifications,
        }]);
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ElementKind, ElementRef};

    fn finding(n: usize, severity: Severity, risk: Option<(u8, Band)>) -> Finding {
        Finding {
            code: if risk.is_some() {
                Code::UnmitigatedExposure
            } else {
                Code::UnusedControl
            },
            severity,
            message: format!("finding {n}"),
            elements: vec![ElementRef {
                kind: ElementKind::Control,
                id: format!("c{n}"),
            }],
            risk: risk.map(|(score, band)| crate::analysis::Risk {
                score,
                band,
                likelihood: None,
                impact: None,
                basis: crate::analysis::Basis::Severity,
                exposure: false,
            }),
            locations: vec![Location::new("a.py", n as u32 + 1, 1)],
        }
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn security_severity_follows_githubs_bands() {
        let m = RiskMatrix::default();
        let s = |score: u8| security_severity(Some((score, m.band(score))), Severity::Note, &m);
        assert_eq!(s(25), 10.0);
        assert_eq!(s(20), 9.0);
        assert_eq!(s(12), 7.0);
        assert_eq!(s(19), 8.9);
        assert_eq!(s(6), 4.0);
        assert_eq!(s(3), 2.0);
        assert_eq!(s(1), 0.1);
        // Monotonic in the score.
        for score in 1..25 {
            assert!(s(score) <= s(score + 1), "{score}");
        }
        assert_eq!(security_severity(None, Severity::Error, &m), 7.0);
        assert_eq!(security_severity(None, Severity::Warning, &m), 4.0);
        assert_eq!(security_severity(None, Severity::Note, &m), 1.0);
        // A score outside the band (another matrix) stays inside the band's range.
        assert_eq!(
            security_severity(Some((200, Band::Low)), Severity::Note, &m),
            3.9
        );
    }

    #[test]
    fn the_cap_keeps_the_most_severe_and_says_how_many_were_dropped() {
        let m = RiskMatrix::default();
        let mut findings: Vec<Finding> = (0..30_000)
            .map(|n| finding(n, Severity::Note, None))
            .collect();
        findings.insert(
            12_345,
            finding(99_999, Severity::Error, Some((25, Band::Critical))),
        );
        findings.insert(
            29_000,
            finding(99_998, Severity::Warning, Some((8, Band::Medium))),
        );
        let opts = Options::new(&m);
        let out = sarif(&[], &findings, &[], &opts);
        let log = parse(&out);
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), MAX_RESULTS);
        assert_eq!(results[0]["message"]["text"], "finding 0");
        let texts: Vec<&str> = results
            .iter()
            .map(|r| r["message"]["text"].as_str().expect("text"))
            .collect();
        assert!(texts.contains(&"finding 99999"));
        assert!(texts.contains(&"finding 99998"));
        // The notes dropped are the last ones, deterministically.
        assert!(texts.contains(&"finding 24997"));
        assert!(!texts.contains(&"finding 24998"));
        let note = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
        assert!(
            note["message"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("5002 results were left out")),
            "{note}"
        );
        assert_eq!(out, sarif(&[], &findings, &[], &opts), "deterministic");
        // Under the cap: no notification.
        let small = parse(&sarif(&[], &findings[..10], &[], &opts));
        assert!(small["runs"][0].get("invocations").is_none());
    }

    #[test]
    fn min_level_and_prefix() {
        let m = RiskMatrix::default();
        let findings = vec![
            finding(1, Severity::Note, None),
            finding(2, Severity::Error, Some((20, Band::Critical))),
        ];
        let mut opts = Options::new(&m);
        opts.min_level = Severity::Warning;
        opts.prefix = "sub/dir/".into();
        let log = parse(&sarif(&[], &findings, &[], &opts));
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "sub/dir/a.py"
        );
        // The note's rule is still described, and ranked by its default level.
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        let unused = rules
            .iter()
            .find(|r| r["id"] == Code::UnusedControl.as_str())
            .expect("rule");
        assert_eq!(unused["properties"]["security-severity"], "1.0");
    }

    #[test]
    fn messages_are_plain_text_without_links() {
        assert_eq!(message_text("[x](https://e)"), "\\[x\\](https://e)");
        assert_eq!(message_text("a\\b\u{202E}"), "a\\\\b\u{FFFD}");
        let long = message_text(&"x".repeat(5000));
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
