//! The gate's decisions: which `check` policies pass, fail, are off or were skipped.
//!
//! Pure: the head's model, diagnostics and [`Policy`] (what its configuration asks, built by
//! `Config::policy`: the gate does not know the configuration's schema), the base's (when there
//! is one), the command-line flags and the state of the committed model file in; a [`Verdict`]
//! out. The CLI (src/cli/check.rs) only finds the base, scans, calls [`evaluate`] and renders.
//!
//! `check` runs on pull requests from strangers, so the pull request is the attacker: its own
//! threatmark.toml must not relax the gate. With a base, `[check]` and `[risk]` are read from
//! both revisions and the stricter applies per key (a lower threshold band, `true` over `false`,
//! the higher band of each exposure under either matrix); what the change did to them (and to
//! `[scan]`, which decides what is read) is listed as a policy change. Flags come from the CI
//! owner's workflow file, not from the repository, so they still apply.
//!
//! An exposure is new at the threshold unless the base had the same exposure (same component
//! and threat ids) unmitigated *at or above the threshold* too: an exposure re-rated into the
//! failing band is new, and a renamed one (a new id) is new.
//!
//! @component Threatmark:Gate (#gate) in #process [type: process]: `threatmark check`, the CI gate
//! @threat Gate fails open (#gate_fail_open) [stride: T,E; likelihood: likely; impact: major; cwe: 636; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a pull request makes `check` pass without comparing it with anything: a shallow checkout or an orphan branch leaves no base, and the policy was silently skipped
//! @threat Pull request relaxes its own policy (#policy_from_pr) [stride: T,E; likelihood: likely; impact: major; cwe: 807; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! the change sets `fail_on_new_unmitigated = "none"`, `fail_on_* = false` or new `[risk]` band edges in its own threatmark.toml, or re-rates an existing exposure, and passes with a new critical exposure
//! @control No base, no pass (#fail_closed_base): without a base revision `check` exits 2 and says how to fetch one, unless `--allow-missing-base` (then the policy is reported skipped, never passed); SHA-256 repositories are read, not mistaken for "no repository"
//! @control Policy from the base (#base_policy): `[check]` and `[risk]` of the base apply, the stricter of base and head per key, and the change's own edits to them are reported
//! @control A risk raised into the failing band is new (#risk_raised_is_new): exposures are compared by component, threat and band at the threshold; a lowered rating is listed by `diff` and `check`
//! @mitigates #gate against #gate_fail_open with #fail_closed_base
//! @mitigates #gate against #policy_from_pr with #base_policy
//! @mitigates #gate against #policy_from_pr with #risk_raised_is_new
//! @connects #gate to #ci with exit code and SARIF

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analysis::{self, Analysis, ElementKind, Finding, RiskMatrix};
use crate::date::Date;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::diff::RiskChange;
use crate::model::{Band, Location, ThreatModel};

/// What became of one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Passed,
    Failed,
    /// Switched off by the configuration or a flag.
    Off,
    /// Could not be evaluated (no base), and the user allowed that: never a pass.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Violation {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The outcome of one policy.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub policy: &'static str,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub violations: Vec<Violation>,
}

impl Outcome {
    fn new(policy: &'static str, enabled: bool, violations: Vec<Violation>) -> Self {
        Outcome {
            policy,
            state: match (enabled, violations.is_empty()) {
                (false, _) => State::Off,
                (true, true) => State::Passed,
                (true, false) => State::Failed,
            },
            note: None,
            violations: if enabled { violations } else { Vec::new() },
        }
    }
}

/// A setting that differs between the base's configuration and the head's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PolicyChange {
    /// `check.fail_on_new_unmitigated`, `risk.band_edges`, `scan.exclude`, ...
    pub key: String,
    pub base: String,
    pub head: String,
    /// What the gate did with it.
    pub effect: &'static str,
}

/// `--fail-on` (`Some(None)` is `--fail-on none`) and the `--allow-*` switches: the CI owner's
/// choices, from the workflow file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flags {
    pub fail_on: Option<Option<Band>>,
    pub allow_errors: bool,
    pub allow_expired: bool,
    pub allow_unguarded: bool,
    pub allow_stale: bool,
}

/// The committed model file against what the code yields (read by the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Committed {
    Fresh,
    Differs,
    Missing,
}

/// What one revision's configuration asks of the gate. Built from `threatmark.toml` by the
/// caller (`Config::policy`), so the gate does not depend on the configuration's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `[check] fail_on_new_unmitigated`: `None` is `none`.
    pub fail_on_new_unmitigated: Option<Band>,
    pub fail_on_errors: bool,
    pub fail_on_expired: bool,
    pub fail_on_unguarded: bool,
    pub fail_on_stale: bool,
    /// `[risk]`.
    pub risk: RiskMatrix,
    /// `[scan] output`: the committed model file.
    pub output: String,
    /// Every setting but `[project]`'s (a name is no policy) as `section.key` and its value as
    /// TOML writes it: compared base against head, so that a setting added later cannot be
    /// changed by a pull request without a word.
    pub settings: BTreeMap<String, String>,
}

/// The revision compared with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Base<'a> {
    pub label: &'a str,
    pub model: &'a ThreatModel,
    pub policy: &'a Policy,
}

/// Everything the gate decides on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    pub model: &'a ThreatModel,
    pub diagnostics: &'a [Diagnostic],
    pub policy: &'a Policy,
    /// `Err(why)`: no base, and the caller was allowed to go on without one.
    pub base: Result<Base<'a>, &'a str>,
    pub flags: &'a Flags,
    pub date: Date,
    pub committed: &'a Committed,
}

/// The gate's answer.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub outcomes: Vec<Outcome>,
    /// The findings behind failed policies (shown with carets).
    pub failing: Vec<Finding>,
    /// Whether the error-diagnostics policy failed (its diagnostics get carets).
    pub errors_failed: bool,
    /// The head's analysis, each exposure rated with the stricter matrix.
    pub analysis: Analysis,
    pub policy_changes: Vec<PolicyChange>,
    /// Threats whose rating the change lowered (or removed).
    pub risk_lowered: Vec<RiskChange>,
}

impl Verdict {
    pub(crate) fn failed(&self) -> usize {
        self.count(State::Failed)
    }

    pub(crate) fn count(&self, state: State) -> usize {
        self.outcomes.iter().filter(|o| o.state == state).count()
    }
}

/// The stricter of two thresholds: a lower band, and any band over `none`.
fn stricter(a: Option<Band>, b: Option<Band>) -> Option<Band> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn exposure_of(f: &Finding) -> Option<&str> {
    f.elements
        .iter()
        .find(|e| e.kind == ElementKind::Exposure)
        .map(|e| e.id.as_str())
}

/// A threat the change re-rated downward keeps its base rating for the gate: an exposure of it
/// (old or new) is judged by the higher of the two, so lowering a rating in the same change
/// that adds an exposure does not slip it under the bar. `diff` and `check` list the lowering.
fn rated_at_least_as_before(head: &mut Analysis, base: &Analysis) {
    let before: BTreeMap<&str, &analysis::Risk> = base
        .threats
        .iter()
        .filter_map(|t| t.risk.as_ref().map(|r| (t.threat.as_str(), r)))
        .collect();
    let rank = |r: &analysis::Risk| (r.band, r.score);
    for f in head
        .findings
        .iter_mut()
        .filter(|f| f.code == Code::UnmitigatedExposure)
    {
        let threat = f
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Threat)
            .and_then(|e| before.get(e.id.as_str()));
        if let Some(old) = threat
            && f.risk.as_ref().is_none_or(|now| rank(old) > rank(now))
        {
            f.risk = Some((*old).clone());
            f.severity = analysis::exposure_severity(f.risk.as_ref());
        }
    }
}

/// The model analysed with `own` and, when `other` differs, with `other` too: each unmitigated
/// exposure keeps the rating with the higher band (then score).
fn strictest(model: &ThreatModel, own: &RiskMatrix, other: &RiskMatrix, date: Date) -> Analysis {
    let mut a = analysis::analyze(model, own, Some(date));
    if own == other {
        return a;
    }
    let b = analysis::analyze(model, other, Some(date));
    let higher: BTreeMap<(Code, &[analysis::ElementRef]), &Finding> = b
        .findings
        .iter()
        .filter(|f| f.code == Code::UnmitigatedExposure)
        .map(|f| ((f.code, f.elements.as_slice()), f))
        .collect();
    let rank = |f: &Finding| f.risk.as_ref().map(|r| (r.band, r.score));
    for f in &mut a.findings {
        if let Some(other) = higher.get(&(f.code, f.elements.as_slice()))
            && rank(other) > rank(f)
        {
            *f = (*other).clone();
        }
    }
    a
}

/// Decide every policy.
pub(crate) fn evaluate<'a>(input: &Input<'a>) -> Verdict {
    let head = input.policy;
    let base = input.base.ok();
    let base_policy = base.map(|b| b.policy);
    // Per key, the stricter of the base's and the head's setting.
    let either = |f: fn(&Policy) -> bool| f(head) || base_policy.is_some_and(f);
    let configured = |c: &Policy| c.fail_on_new_unmitigated;
    let threshold = match input.flags.fail_on {
        Some(flag) => flag,
        None => match base_policy {
            Some(b) => stricter(configured(head), configured(b)),
            None => configured(head),
        },
    };
    let base_risk = base_policy.map_or(&head.risk, |c| &c.risk);
    let mut a = strictest(input.model, &head.risk, base_risk, input.date);
    let base_a = base.map(|b| strictest(b.model, &b.policy.risk, &head.risk, input.date));
    if let Some(base_a) = &base_a {
        rated_at_least_as_before(&mut a, base_a);
    }
    let by_code =
        |code: Code| -> Vec<&Finding> { a.findings.iter().filter(|f| f.code == code).collect() };

    let mut outcomes = Vec::new();
    let mut failing: Vec<Finding> = Vec::new();
    let mut risk_lowered = Vec::new();

    let mut new_unmitigated = Outcome::new("new-unmitigated", false, Vec::new());
    if let Some(band) = threshold {
        match (input.base, &base_a) {
            (Ok(base), Some(base_a)) => {
                // The same exposure, already failing the bar before the change.
                let before: BTreeSet<&str> = base_a
                    .findings
                    .iter()
                    .filter(|f| f.code == Code::UnmitigatedExposure)
                    .filter(|f| f.risk.as_ref().is_some_and(|r| r.band >= band))
                    .filter_map(exposure_of)
                    .collect();
                let new: Vec<&Finding> = by_code(Code::UnmitigatedExposure)
                    .into_iter()
                    .filter(|f| f.risk.as_ref().is_some_and(|r| r.band >= band))
                    .filter(|f| exposure_of(f).is_some_and(|e| !before.contains(e)))
                    .collect();
                new_unmitigated = Outcome::new("new-unmitigated", true, violations_of(&new));
                if new_unmitigated.state == State::Failed {
                    failing.extend(new.into_iter().cloned());
                }
                new_unmitigated.note = Some(format!("at or above {band}, against {}", base.label));
            }
            (Err(_), _) | (Ok(_), None) => {
                let why = input.base.err().unwrap_or("not analysed");
                new_unmitigated.state = State::Skipped;
                new_unmitigated.note = Some(format!("no base revision: {why}"));
            }
        }
    }
    outcomes.push(new_unmitigated);
    if let Some(base) = base {
        // Each side rated with its own matrix: what a reader of either model sees (the scan
        // embeds that date-free analysis in the model).
        let own = |m: &'a ThreatModel, risk: &RiskMatrix| match &m.analysis {
            Some(a) => std::borrow::Cow::Borrowed(a),
            None => std::borrow::Cow::Owned(analysis::analyze(m, risk, None)),
        };
        let (base_a, head_a) = (
            own(base.model, &base.policy.risk),
            own(input.model, &head.risk),
        );
        let name = |id: &str| {
            input
                .model
                .threat(id)
                .map(|t| t.name.clone())
                .unwrap_or_default()
        };
        risk_lowered = crate::diff::risk_changes(&base_a, &head_a, name)
            .into_iter()
            .filter(|r| r.direction != "up")
            .collect();
    }

    let errors: Vec<Violation> = input
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| Violation {
            message: format!("{}: {}", d.code, d.message),
            location: d.location.clone(),
        })
        .collect();
    let errors = Outcome::new(
        "errors",
        either(|c| c.fail_on_errors) && !input.flags.allow_errors,
        errors,
    );
    let errors_failed = errors.state == State::Failed;
    outcomes.push(errors);
    for (name, enabled, code) in [
        (
            "expired-acceptances",
            either(|c| c.fail_on_expired) && !input.flags.allow_expired,
            Code::ExpiredAcceptance,
        ),
        (
            "unguarded-crossings",
            either(|c| c.fail_on_unguarded) && !input.flags.allow_unguarded,
            Code::UnguardedCrossing,
        ),
    ] {
        let found = by_code(code);
        let o = Outcome::new(name, enabled, violations_of(&found));
        if o.state == State::Failed {
            failing.extend(found.into_iter().cloned());
        }
        outcomes.push(o);
    }

    let output = &head.output;
    // Line 1, so that code scanning can show the alert.
    let at = || Some(Location::new(output.clone(), 1, 1));
    let stale = match input.committed {
        Committed::Fresh => Vec::new(),
        Committed::Differs => vec![Violation {
            message: format!(
                "{output} differs from what the code yields: run `threatmark scan` and commit it"
            ),
            location: at(),
        }],
        Committed::Missing => vec![Violation {
            message: format!("{output} is missing: run `threatmark scan` and commit it"),
            location: at(),
        }],
    };
    outcomes.push(Outcome::new(
        "stale-model",
        either(|c| c.fail_on_stale) && !input.flags.allow_stale,
        stale,
    ));

    Verdict {
        outcomes,
        failing,
        errors_failed,
        analysis: a,
        policy_changes: base_policy.map_or_else(Vec::new, |b| policy_changes(b, head)),
        risk_lowered,
    }
}

fn violations_of(findings: &[&Finding]) -> Vec<Violation> {
    findings
        .iter()
        .map(|f| Violation {
            message: f.message.clone(),
            location: f.locations.first().cloned(),
        })
        .collect()
}

/// The settings that decide the gate or what is scanned, base against head.
pub(crate) fn policy_changes(base: &Policy, head: &Policy) -> Vec<PolicyChange> {
    let (before, after) = (&base.settings, &head.settings);
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let none = "null".to_string();
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (
                before.get(key).unwrap_or(&none),
                after.get(key).unwrap_or(&none),
            );
            (a != b).then(|| PolicyChange {
                key: key.clone(),
                base: a.clone(),
                head: b.clone(),
                effect: effect_of(key),
            })
        })
        .collect()
}

/// Files that held annotations in the base and contribute nothing to the head: neither an
/// element, a relation nor a diagnostic. The caller keeps those that are still there and still
/// look annotated: a change that stops a file from being read (`.threatmarkignore`, `exclude`,
/// `include`, `[languages]`) hides its annotations, and says so nowhere else.
pub(crate) fn silenced_files<'m>(
    base: &'m ThreatModel,
    head: &ThreatModel,
    head_diagnostics: &[Diagnostic],
) -> Vec<&'m str> {
    let head_files: std::collections::BTreeSet<&str> = annotated_files(head)
        .chain(
            head_diagnostics
                .iter()
                .filter_map(|d| d.location.as_ref())
                .map(|l| l.path.as_str()),
        )
        .collect();
    let base_files: std::collections::BTreeSet<&str> = annotated_files(base).collect();
    base_files
        .into_iter()
        .filter(|path| !head_files.contains(path))
        .collect()
}

/// Every file a source of the model points at.
fn annotated_files(m: &ThreatModel) -> impl Iterator<Item = &str> {
    let entities = m
        .components
        .iter()
        .map(|e| &e.sources)
        .chain(m.boundaries.iter().map(|e| &e.sources))
        .chain(m.actors.iter().map(|e| &e.sources))
        .chain(m.threats.iter().map(|e| &e.sources))
        .chain(m.controls.iter().map(|e| &e.sources));
    let relations = m
        .mitigations
        .iter()
        .map(|r| &r.sources)
        .chain(m.exposures.iter().map(|r| &r.sources))
        .chain(m.acceptances.iter().map(|r| &r.sources))
        .chain(m.transfers.iter().map(|r| &r.sources))
        .chain(m.flows.iter().map(|r| &r.sources))
        .chain(m.reviews.iter().map(|r| &r.sources))
        .chain(m.tests.iter().map(|r| &r.sources))
        .chain(m.entitlements.iter().map(|r| &r.sources))
        .chain(m.assumptions.iter().map(|r| &r.sources))
        .chain(m.features.iter().map(|r| &r.sources));
    entities
        .chain(relations)
        .flatten()
        .map(|source| source.path.as_str())
}

/// What the gate does with a changed setting.
fn effect_of(key: &str) -> &'static str {
    match key.split_once('.').map_or(key, |(section, _)| section) {
        "check" | "risk" => "the stricter of the two applies",
        _ if key == "scan.output" => "the head's is checked for staleness",
        "scan" | "languages" | "model" => "each side is scanned with its own",
        _ => "the head's is used",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::parse_text;
    use crate::model::{FileAnnotations, Project, build};

    fn model(text: &str) -> ThreatModel {
        let files = vec![FileAnnotations {
            path: "a.py".into(),
            annotations: parse_text("a.py", text).0,
        }];
        build(Project::default(), &files).0
    }

    /// The defaults of `threatmark.toml` as the gate sees them (`Config::policy` is tested with
    /// the configuration), with `edit` applied.
    fn policy(edit: impl FnOnce(&mut Policy)) -> Policy {
        let mut p = Policy {
            fail_on_new_unmitigated: Some(Band::High),
            fail_on_errors: true,
            fail_on_expired: true,
            fail_on_unguarded: true,
            fail_on_stale: true,
            risk: RiskMatrix::default(),
            output: "threatmodel.json".into(),
            settings: BTreeMap::new(),
        };
        edit(&mut p);
        p
    }

    fn defaults(_: &mut Policy) {}

    const LOW: &str = "@component Api (#api)\n@threat X (#x) [likelihood: rare; impact: minor]\n@exposes #api to #x\n";
    const CRITICAL: &str = "@component Api (#api)\n@threat X (#x) [likelihood: likely; impact: severe]\n@exposes #api to #x\n";

    fn verdict(
        base: (&str, fn(&mut Policy)),
        head: (&str, fn(&mut Policy)),
        flags: &Flags,
    ) -> Verdict {
        let (bm, bc) = (model(base.0), policy(base.1));
        let (hm, hc) = (model(head.0), policy(head.1));
        evaluate(&Input {
            model: &hm,
            diagnostics: &[],
            policy: &hc,
            base: Ok(Base {
                label: "main",
                model: &bm,
                policy: &bc,
            }),
            flags,
            date: Date::parse("2026-12-06").expect("a day"),
            committed: &Committed::Fresh,
        })
    }

    fn state(v: &Verdict, policy: &str) -> State {
        v.outcomes
            .iter()
            .find(|o| o.policy == policy)
            .map(|o| o.state)
            .expect("policy")
    }

    #[test]
    fn the_stricter_threshold_applies() {
        assert_eq!(stricter(Some(Band::High), None), Some(Band::High));
        assert_eq!(stricter(None, Some(Band::Low)), Some(Band::Low));
        assert_eq!(stricter(Some(Band::High), Some(Band::Low)), Some(Band::Low));
        assert_eq!(stricter(None, None), None);
        let off = |p: &mut Policy| {
            p.fail_on_new_unmitigated = None;
            p.settings
                .insert("check.fail_on_new_unmitigated".into(), "\"none\"".into());
        };
        let v = verdict(("", defaults), (CRITICAL, off), &Flags::default());
        assert_eq!(state(&v, "new-unmitigated"), State::Failed);
        assert_eq!(v.policy_changes[0].key, "check.fail_on_new_unmitigated");
        // The flag is the CI owner's: it decides.
        let flags = Flags {
            fail_on: Some(None),
            ..Flags::default()
        };
        let v = verdict(("", defaults), (CRITICAL, off), &flags);
        assert_eq!(state(&v, "new-unmitigated"), State::Off);
    }

    #[test]
    fn either_matrix_can_raise_a_band() {
        let edges = |p: &mut Policy| p.risk.band_edges = [1, 2, 3, 99, 100];
        let v = verdict(("", defaults), (CRITICAL, edges), &Flags::default());
        assert_eq!(state(&v, "new-unmitigated"), State::Failed);
        // A stricter matrix in the change does not make old exposures new.
        let strict = |p: &mut Policy| p.risk.band_edges = [1, 2, 3, 4, 5];
        let v = verdict((LOW, defaults), (LOW, strict), &Flags::default());
        assert_eq!(state(&v, "new-unmitigated"), State::Passed);
    }

    #[test]
    fn an_exposure_raised_into_the_band_is_new() {
        let v = verdict((LOW, defaults), (CRITICAL, defaults), &Flags::default());
        assert_eq!(state(&v, "new-unmitigated"), State::Failed);
        let v = verdict(
            (CRITICAL, defaults),
            (CRITICAL, defaults),
            &Flags::default(),
        );
        assert_eq!(state(&v, "new-unmitigated"), State::Passed);
        let v = verdict((CRITICAL, defaults), (LOW, defaults), &Flags::default());
        assert_eq!(state(&v, "new-unmitigated"), State::Passed);
        assert_eq!(v.risk_lowered.len(), 1);
        assert_eq!(v.risk_lowered[0].direction, "down");
    }

    #[test]
    fn files_whose_annotations_vanished_are_named() {
        let files = |list: &[(&str, &str)]| -> Vec<FileAnnotations> {
            list.iter()
                .map(|(path, text)| FileAnnotations {
                    path: (*path).into(),
                    annotations: parse_text(path, text).0,
                })
                .collect()
        };
        let base = build(
            Project::default(),
            &files(&[("a.py", "@threat A (#a)\n"), ("b.py", "@threat B (#b)\n")]),
        )
        .0;
        let head = build(Project::default(), &files(&[("a.py", "@threat A (#a)\n")])).0;
        assert_eq!(silenced_files(&base, &head, &[]), vec!["b.py"]);
        assert!(silenced_files(&base, &base, &[]).is_empty());
        // A file that holds only GuardLink's assumptions and features counts too.
        let gal = build(
            Project::default(),
            &files(&[
                ("a.py", "@threat A (#a)\n@asset A.B (#x)\n"),
                (
                    "c.ts",
                    "@assumes #x -- \"TLS ends at the proxy\"\n@feature \"Login\"\n",
                ),
            ]),
        )
        .0;
        assert_eq!(silenced_files(&gal, &head, &[]), vec!["c.ts"]);
    }

    #[test]
    fn booleans_take_true_over_false() {
        let off = |p: &mut Policy| p.fail_on_stale = false;
        let (m, base, head) = (model(LOW), policy(defaults), policy(off));
        let (flags, committed) = (Flags::default(), Committed::Missing);
        let input = |base| Input {
            model: &m,
            diagnostics: &[],
            policy: &head,
            base,
            flags: &flags,
            date: Date::parse("2026-12-06").expect("a day"),
            committed: &committed,
        };
        let with_base = evaluate(&input(Ok(Base {
            label: "main",
            model: &m,
            policy: &base,
        })));
        assert_eq!(state(&with_base, "stale-model"), State::Failed);
        let without = evaluate(&input(Err("not a git repository")));
        assert_eq!(state(&without, "stale-model"), State::Off);
        assert_eq!(state(&without, "new-unmitigated"), State::Skipped);
        assert!(without.policy_changes.is_empty());
    }
}
