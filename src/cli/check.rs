//! `threatmark check`: the CI gate. Exit 0 when every policy passes, 1 when one fails, 2 on
//! error. Each failure says which policy and where.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::analyze::{findings_as_diagnostics, today};
use super::revs::Repo;
use crate::analysis::{self, ElementKind, Finding};
use crate::annotation::is_valid_date;
use crate::diagnostic::{Code, Severity};
use crate::model::{self, Band, Location};
use crate::render::sarif::{PolicyResult, sarif};
use crate::{exit, output, render};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The repository (or a folder in it).
    #[arg(short = 'C', long = "repo", default_value = ".")]
    pub repo: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Compare with this revision (default: merge-base of the default branch and HEAD).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Check acceptance expiry against this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Write the report (e.g. SARIF) to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail on new unmitigated exposures at or above this band (`none` switches it off).
    #[arg(long, value_name = "BAND")]
    pub fail_on: Option<String>,
    /// Do not fail on error diagnostics.
    #[arg(long)]
    pub allow_errors: bool,
    /// Do not fail on expired acceptances.
    #[arg(long)]
    pub allow_expired: bool,
    /// Do not fail on unguarded boundary crossings.
    #[arg(long)]
    pub allow_unguarded: bool,
    /// Do not fail when the committed model is stale.
    #[arg(long)]
    pub allow_stale: bool,
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
}

/// The outcome of one policy.
#[derive(Debug, Clone, serde::Serialize)]
struct Outcome {
    policy: &'static str,
    /// `passed`, `failed`, `off` or `skipped`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    violations: Vec<Violation>,
}

#[derive(Debug, Clone, serde::Serialize)]
struct Violation {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
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

fn outcome(policy: &'static str, enabled: bool, violations: Vec<Violation>) -> Outcome {
    Outcome {
        policy,
        state: match (enabled, violations.is_empty()) {
            (false, _) => "off",
            (true, true) => "passed",
            (true, false) => "failed",
        },
        note: None,
        violations: if enabled { violations } else { Vec::new() },
    }
}

pub fn run(args: CheckArgs, color: bool) -> anyhow::Result<u8> {
    let date = match &args.today {
        Some(d) if is_valid_date(d) => d.clone(),
        Some(d) => bail!("--today `{d}` is not a date written YYYY-MM-DD"),
        None => today(),
    };
    let repo = Repo::open(&args.repo, args.threads, args.config.clone());
    let (config, result) = repo.scan_worktree()?;
    let policy = &config.check;
    let threshold = args
        .fail_on
        .clone()
        .unwrap_or_else(|| policy.fail_on_new_unmitigated.clone());
    let threshold: Option<Band> = match threshold.as_str() {
        "none" => None,
        b => match Band::parse(b) {
            Some(b) => Some(b),
            None => bail!("--fail-on `{b}` is not a band ({} | none)", Band::words()),
        },
    };
    let a = analysis::analyze(&result.model, &config.risk, Some(&date));
    let by_code =
        |code: Code| -> Vec<&Finding> { a.findings.iter().filter(|f| f.code == code).collect() };

    let mut outcomes = Vec::new();
    // The findings behind failed policies, shown with carets on stderr.
    let mut failing: Vec<Finding> = Vec::new();

    // New unmitigated exposures at or above the threshold, against the base.
    let mut new_unmitigated = Outcome {
        policy: "new-unmitigated",
        state: "off",
        note: None,
        violations: Vec::new(),
    };
    if let Some(band) = threshold {
        let base = match &args.base {
            Some(b) => Some(b.clone()),
            None if repo.has_git() => repo.default_base().ok(),
            None => None,
        };
        match base {
            Some(base) => {
                let (base_config, base_result) = repo.scan_rev(&base)?;
                let base_a = analysis::analyze(&base_result.model, &base_config.risk, Some(&date));
                let exposure = |f: &Finding| {
                    f.elements
                        .iter()
                        .find(|e| e.kind == ElementKind::Exposure)
                        .map(|e| e.id.clone())
                };
                let before: Vec<String> = base_a
                    .findings
                    .iter()
                    .filter(|f| f.code == Code::UnmitigatedExposure)
                    .filter_map(exposure)
                    .collect();
                let new: Vec<&Finding> = by_code(Code::UnmitigatedExposure)
                    .into_iter()
                    .filter(|f| f.risk.as_ref().is_some_and(|r| r.band >= band))
                    .filter(|f| exposure(f).is_some_and(|e| !before.contains(&e)))
                    .collect();
                new_unmitigated = outcome("new-unmitigated", true, violations_of(&new));
                if new_unmitigated.state == "failed" {
                    failing.extend(new.into_iter().cloned());
                }
                new_unmitigated.note = Some(format!("at or above {band}, against {base}"));
            }
            None => {
                new_unmitigated.state = "skipped";
                new_unmitigated.note = Some(
                    "no base revision (not a git repository, or no default branch); pass --base"
                        .into(),
                );
            }
        }
    }
    outcomes.push(new_unmitigated);

    let errors: Vec<Violation> = result
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| Violation {
            message: format!("{}: {}", d.code, d.message),
            location: d.location.clone(),
        })
        .collect();
    let errors = outcome(
        "errors",
        policy.fail_on_errors && !args.allow_errors,
        errors,
    );
    let errors_failed = errors.state == "failed";
    outcomes.push(errors);
    for (name, enabled, code) in [
        (
            "expired-acceptances",
            policy.fail_on_expired && !args.allow_expired,
            Code::ExpiredAcceptance,
        ),
        (
            "unguarded-crossings",
            policy.fail_on_unguarded && !args.allow_unguarded,
            Code::UnguardedCrossing,
        ),
    ] {
        let found = by_code(code);
        let o = outcome(name, enabled, violations_of(&found));
        if o.state == "failed" {
            failing.extend(found.into_iter().cloned());
        }
        outcomes.push(o);
    }

    // Confined to the scan root like `scan` writes it: the value comes from the repository.
    let model_path = super::scan::model_path(&repo.root, &config.scan.output)?;
    let fresh = model::to_json(&result.model);
    let stale = match std::fs::read_to_string(&model_path) {
        Ok(committed) if committed == fresh => Vec::new(),
        Ok(_) => vec![Violation {
            message: format!(
                "{} differs from what the code yields: run `threatmark scan` and commit it",
                config.scan.output
            ),
            // Line 1, so that code scanning can show the alert.
            location: Some(Location::new(config.scan.output.clone(), 1, 1)),
        }],
        Err(_) => vec![Violation {
            message: format!(
                "{} is missing: run `threatmark scan` and commit it",
                config.scan.output
            ),
            location: Some(Location::new(config.scan.output.clone(), 1, 1)),
        }],
    };
    outcomes.push(outcome(
        "stale-model",
        policy.fail_on_stale && !args.allow_stale,
        stale,
    ));

    let failed = outcomes.iter().filter(|o| o.state == "failed").count();
    let report = match args.format {
        CheckFormat::Text => text(&outcomes, failed),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "passed": failed == 0,
                "date": date,
                "policies": outcomes,
            }))?;
            s.push('\n');
            s
        }
        CheckFormat::Sarif => {
            let policies: Vec<PolicyResult> = outcomes
                .iter()
                .filter(|o| o.state == "failed" && o.policy == "stale-model")
                .flat_map(|o| {
                    o.violations.iter().map(|v| PolicyResult {
                        policy: o.policy.into(),
                        message: v.message.clone(),
                        location: v.location.clone(),
                    })
                })
                .collect();
            // Findings that fail an enabled policy are errors, whatever their default level.
            let failing = |code: Code| {
                outcomes.iter().any(|o| {
                    o.state == "failed"
                        && matches!(
                            (o.policy, code),
                            ("unguarded-crossings", Code::UnguardedCrossing)
                                | ("expired-acceptances", Code::ExpiredAcceptance)
                        )
                })
            };
            let findings: Vec<Finding> = a
                .findings
                .iter()
                .cloned()
                .map(|mut f| {
                    if failing(f.code) {
                        f.severity = Severity::Error;
                    }
                    f
                })
                .collect();
            sarif(&result.diagnostics, &findings, &policies)
        }
    };
    match &args.output {
        Some(path) => output::write_atomic(path, report.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(report.as_bytes())?;
            out.flush()?;
        }
    }
    if args.format == CheckFormat::Text {
        // Carets for what failed (and only that: an allowed or old problem is no failure), on
        // stderr.
        let mut diags: Vec<_> = result
            .diagnostics
            .iter()
            .filter(|d| errors_failed && d.severity == Severity::Error)
            .cloned()
            .collect();
        diags.extend(findings_as_diagnostics(&failing, &result.sources));
        let rendered = render::diagnostics::render(&diags, &result.sources, color);
        let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
    }
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

fn text(outcomes: &[Outcome], failed: usize) -> String {
    let mut out = if failed == 0 {
        "threatmark check: passed\n".to_string()
    } else {
        format!(
            "threatmark check: FAILED ({failed} of {} policies)\n",
            outcomes.len()
        )
    };
    for o in outcomes {
        let mark = match o.state {
            "passed" => "ok  ",
            "failed" => "FAIL",
            "skipped" => "skip",
            _ => "off ",
        };
        out.push_str(&format!("  {mark} {}", o.policy));
        if let Some(note) = &o.note {
            out.push_str(&format!(" ({note})"));
        }
        out.push('\n');
        for v in &o.violations {
            let at = v
                .location
                .as_ref()
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            out.push_str(&format!(
                "       {at}{}\n",
                annotate_snippets::normalize_untrusted_str(&v.message)
            ));
        }
    }
    out
}
