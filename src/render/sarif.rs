//! SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
//!
//! One rule per diagnostic or finding code; results sit at the annotation's file and line;
//! `partialFingerprints` come from the stable ids of the elements involved, so an alert
//! survives when an annotation moves; levels follow the severity (which, for unmitigated
//! exposures, follows the risk band).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::Finding;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::model::Location;

/// A result that is neither a diagnostic nor a finding: a failed `check` policy.
#[derive(Debug, Clone)]
pub struct PolicyResult {
    pub policy: String,
    pub message: String,
    pub location: Option<Location>,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn location(loc: &Location) -> Value {
    let mut physical = json!({
        "artifactLocation": { "uri": uri(&loc.path), "uriBaseId": "%SRCROOT%" }
    });
    if loc.line > 0 {
        physical["region"] = json!({ "startLine": loc.line, "startColumn": loc.column.max(1) });
    }
    json!({ "physicalLocation": physical })
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
        "help": { "text": code.explanation() },
        "properties": { "tags": ["security", "threat-model"] }
    })
}

/// Build the SARIF log.
pub fn sarif(
    diagnostics: &[Diagnostic],
    findings: &[Finding],
    policies: &[PolicyResult],
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
        rules.push(json!({
            "id": format!("policy/{name}"),
            "name": name,
            "shortDescription": { "text": format!("threatmark check policy `{name}` failed") },
            "defaultConfiguration": { "level": "error" },
            "properties": { "tags": ["security", "threat-model", "policy"] }
        }));
    }

    let mut results = Vec::new();
    for f in findings {
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
        let mut r = json!({
            "ruleId": f.code.as_str(),
            "ruleIndex": index.get(f.code.as_str()).copied().unwrap_or(0),
            "level": level(f.severity),
            "message": { "text": f.message },
            "locations": f.locations.iter().take(1).map(location).collect::<Vec<_>>(),
            "partialFingerprints": { "threatmarkElements/v1": format!("{}|{fingerprint}", f.code) },
        });
        if let Some(risk) = &f.risk {
            r["properties"] = json!({ "risk": risk.score, "band": risk.band.as_str() });
        }
        results.push(r);
    }
    for d in diagnostics.iter().filter(|d| d.severity != Severity::Note) {
        let path = d.location.as_ref().map_or("", |l| l.path.as_str());
        results.push(json!({
            "ruleId": d.code.as_str(),
            "ruleIndex": index.get(d.code.as_str()).copied().unwrap_or(0),
            "level": level(d.severity),
            "message": { "text": d.message },
            "locations": d.location.iter().map(location).collect::<Vec<_>>(),
            "partialFingerprints": { "threatmarkDiagnostic/v1": format!("{}|{path}|{}", d.code, d.message) },
        }));
    }
    for p in policies {
        results.push(json!({
            "ruleId": format!("policy/{}", p.policy),
            "ruleIndex": policy_index.get(&p.policy).copied().unwrap_or(0),
            "level": "error",
            "message": { "text": p.message },
            "locations": p.location.iter().map(location).collect::<Vec<_>>(),
            "partialFingerprints": { "threatmarkPolicy/v1": format!("{}|{}", p.policy, p.message) },
        }));
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "threatmark",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/threatmark/threatmark",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
