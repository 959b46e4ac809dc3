//! `threatmark check`'s report: the verdict of src/gate.rs as text (for the terminal), JSON
//! (for scripts) and the notifications a SARIF run carries besides its results. Policy notes,
//! violation messages and policy changes hold repository text: they go through [`printable`].

use super::escape::printable;
use crate::date::Date;
use crate::diff::RiskChange;
use crate::gate::{PolicyChange, State, Verdict};
use crate::model::Band;

/// The JSON report: `passed` follows the exit code; `complete: false` and `skipped` when a
/// policy could not run.
pub(crate) fn json(verdict: &Verdict, date: Date) -> serde_json::Result<String> {
    let outcomes = &verdict.outcomes;
    let mut report = serde_json::json!({
        "passed": verdict.failed() == 0,
        "date": date,
        "policies": outcomes,
    });
    let skipped: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.state == State::Skipped)
        .map(|o| o.policy)
        .collect();
    if !skipped.is_empty() {
        // `passed` follows the exit code (the skip was allowed); `complete` says that
        // not every policy ran, so no reader takes it for a full pass.
        report["complete"] = serde_json::json!(false);
        report["skipped"] = serde_json::json!(skipped);
    }
    if !verdict.policy_changes.is_empty() {
        report["policy_changes"] = serde_json::json!(verdict.policy_changes);
    }
    if !verdict.risk_lowered.is_empty() {
        report["risk_lowered"] = serde_json::json!(verdict.risk_lowered);
    }
    let mut s = serde_json::to_string_pretty(&report)?;
    s.push('\n');
    Ok(s)
}

/// What a SARIF viewer should know besides the results: skipped policies, and the change's own
/// edits to its policy and ratings.
pub(crate) fn notifications(verdict: &Verdict) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for o in verdict
        .outcomes
        .iter()
        .filter(|o| o.state == State::Skipped)
    {
        out.push((
            format!("policy/{}", o.policy),
            format!(
                "policy {} skipped: {}",
                o.policy,
                o.note.as_deref().unwrap_or_default()
            ),
        ));
    }
    for c in &verdict.policy_changes {
        out.push(("policy-changed".into(), policy_change_line(c)));
    }
    for r in &verdict.risk_lowered {
        out.push(("risk-lowered".into(), risk_lowered_line(r)));
    }
    out
}

fn policy_change_line(c: &PolicyChange) -> String {
    format!(
        "policy changed in this change: {} {} -> {} ({})",
        c.key, c.base, c.head, c.effect
    )
}

fn risk_lowered_line(r: &RiskChange) -> String {
    let rating = |score: Option<u8>, band: Option<Band>| match (score, band) {
        (Some(s), Some(b)) => format!("{s} {b}"),
        _ => "unrated".into(),
    };
    format!(
        "risk lowered in this change: {} `{}` {} -> {}",
        r.threat,
        r.name,
        rating(r.from_score, r.from_band),
        rating(r.to_score, r.to_band)
    )
}

/// `1 policy`, `5 policies`.
fn policies(n: usize) -> String {
    format!("{n} {}", if n == 1 { "policy" } else { "policies" })
}

pub(crate) fn text(verdict: &Verdict) -> String {
    let outcomes = &verdict.outcomes;
    let (failed, skipped) = (verdict.failed(), verdict.count(State::Skipped));
    let mut out = match (failed, skipped) {
        (0, 0) => "threatmark check: passed\n".to_string(),
        (0, s) => format!(
            "threatmark check: not fully checked: {s} of {} skipped, none failed\n",
            policies(outcomes.len())
        ),
        (f, 0) => format!(
            "threatmark check: FAILED ({f} of {})\n",
            policies(outcomes.len())
        ),
        (f, s) => format!(
            "threatmark check: FAILED ({f} of {}; {s} skipped)\n",
            policies(outcomes.len())
        ),
    };
    for o in outcomes {
        let mark = match o.state {
            State::Passed => "ok  ",
            State::Failed => "FAIL",
            State::Skipped => "skip",
            State::Off => "off ",
        };
        out.push_str(&format!("  {mark} {}", o.policy));
        if let Some(note) = &o.note {
            out.push_str(&format!(" ({})", printable(note)));
        }
        out.push('\n');
        for v in &o.violations {
            let at = v
                .location
                .as_ref()
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            out.push_str(&format!("       {at}{}\n", printable(&v.message)));
        }
    }
    let lines = verdict
        .policy_changes
        .iter()
        .map(policy_change_line)
        .chain(verdict.risk_lowered.iter().map(risk_lowered_line));
    for line in lines {
        out.push_str(&format!("  {}\n", printable(&line)));
    }
    out
}
