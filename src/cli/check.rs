//! `threatmark check`: the CI gate. Exit 0 when every policy passes, 1 when one fails, 2 on
//! error (and when no base revision can be found: the gate fails closed). Each failure says
//! which policy and where.
//!
//! Only IO lives here: find the base, scan the work tree and the base, read the committed
//! model, render. What passes is decided by the pure src/gate.rs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::analyze::findings_as_diagnostics;
use super::revs::Repo;
use crate::analysis::Finding;
use crate::date::Date;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::gate::{self, State};
use crate::model::{self, Band};
use crate::render::sarif::{self, PolicyResult};
use crate::{exit, output, render};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark check                    the CI gate against the merge base
  $ threatmark check --base origin/main --fail-on medium
  $ threatmark check --format sarif -o threatmark.sarif")]
pub struct CheckArgs {
    /// The repository (or a folder in it).
    #[arg(short = 'C', long = "repo", value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Use this configuration file instead of the repository's threatmark.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Compare with this revision (default: merge-base of the default branch and HEAD).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Check acceptance expiry against this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// `text` for people, `json` or `sarif` (GitHub code scanning) for machines.
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
    /// Go on when no base revision can be found (shallow clone, orphan branch, no default
    /// branch, not a git repository): new-unmitigated is then skipped, not passed.
    #[arg(long)]
    pub allow_missing_base: bool,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
    /// SARIF: leave out results below this level.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = MinLevel::Note)]
    pub min_level: MinLevel,
}

/// The lowest level a SARIF result may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MinLevel {
    Note,
    Warning,
    Error,
}

impl MinLevel {
    fn severity(self) -> Severity {
        match self {
            MinLevel::Note => Severity::Note,
            MinLevel::Warning => Severity::Warning,
            MinLevel::Error => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
}

pub(super) fn run(args: CheckArgs, color: bool) -> anyhow::Result<u8> {
    let date = super::today_arg(args.today.as_deref())?.unwrap_or_else(Date::today);
    let fail_on = match &args.fail_on {
        Some(word) => match crate::config::threshold(word) {
            Some(t) => Some(t),
            None => bail!(
                "--fail-on `{word}` is not a band ({} | none)",
                Band::words()
            ),
        },
        None => None,
    };
    let flags = gate::Flags {
        fail_on,
        allow_errors: args.allow_errors,
        allow_expired: args.allow_expired,
        allow_unguarded: args.allow_unguarded,
        allow_stale: args.allow_stale,
    };
    let repo = Repo::open(&args.repo, args.threads, args.config.clone());
    let (mut config, result) = repo.scan_worktree()?;

    // The base: named, or the merge base with the default branch. Without one the gate fails
    // closed (exit 2), unless the CI owner switched the policy off or allowed that.
    let base: Result<String, String> = match &args.base {
        Some(b) => {
            repo.resolve(b).map_err(|e| repo.shallow_hint(e))?;
            Ok(b.clone())
        }
        None => match default_base(&repo) {
            Ok(b) => Ok(b),
            Err(why) => {
                let relieved = fail_on == Some(None)
                    // Outside git there is no change whose own configuration could say `none`.
                    || (!repo.has_git() && fail_on.is_none()
                        && config.check.fail_on_new_unmitigated.is_none());
                if !relieved && !args.allow_missing_base {
                    bail!("{}", missing_base(&why));
                }
                Err(format!("{why}; allowed by --allow-missing-base"))
            }
        },
    };
    // Scanned by its full id; named as git names it in messages ("against 1a2b3c4").
    let scanned = match &base {
        Ok(rev) => Some((repo.short_label(rev), repo.scan_rev(rev)?)),
        Err(_) => None,
    };
    if base.is_err() && repo.has_git() {
        // No base to read the policy from, and the scanned threatmark.toml may be the change's
        // own: its `fail_on_* = false` cannot switch a policy off (the CI owner's `--allow-*`
        // flags still can).
        let strict = crate::config::CheckConfig::default();
        let own = &mut config.check;
        own.fail_on_errors |= strict.fail_on_errors;
        own.fail_on_expired |= strict.fail_on_expired;
        own.fail_on_unguarded |= strict.fail_on_unguarded;
        own.fail_on_stale |= strict.fail_on_stale;
    }

    // Confined to the scan root like `scan` writes it: the value comes from the repository.
    let model_path = super::scan::model_path(&repo.root, &config.scan.output)?;
    // Read like any repository file: confined, regular, bounded (a committed
    // `threatmodel.json -> /dev/zero` must not spin).
    let fresh = model::to_json(&result.model);
    let rules = crate::input::Rules {
        confine: Some(&repo.root),
        limit: (fresh.len() as u64).max(config.scan.max_file_size),
        setting: "[scan] max_file_size",
    };
    let committed = match crate::input::read(&model_path, &rules) {
        Ok(bytes) if bytes == fresh.as_bytes() => gate::Committed::Fresh,
        Ok(_) => gate::Committed::Differs,
        Err(_) if std::fs::symlink_metadata(&model_path).is_ok() => gate::Committed::Differs,
        Err(_) => gate::Committed::Missing,
    };
    // The gate reads each revision's configuration as a policy.
    let policy = config.policy();
    let compared = scanned.as_ref().map(|(label, (base_config, base_result))| {
        (label.as_str(), &base_result.model, base_config.policy())
    });
    let mut verdict = gate::evaluate(&gate::Input {
        model: &result.model,
        diagnostics: &result.diagnostics,
        policy: &policy,
        base: match (&compared, &base) {
            (Some((label, model, policy)), _) => Ok(gate::Base {
                label,
                model,
                policy,
            }),
            (None, Err(why)) => Err(why.as_str()),
            (None, Ok(_)) => Err("not scanned"),
        },
        flags: &flags,
        date,
        committed: &committed,
    });
    repo.save_cache();
    if let Some((_, (base_config, base_result))) = &scanned {
        verdict
            .policy_changes
            .extend(silenced(&repo, &config, base_config, base_result, &result));
        verdict.policy_changes.extend(ignore_changes(&repo));
    }

    let outcomes = &verdict.outcomes;
    let failed = verdict.failed();
    // Suppression never reaches the verdict above: it only thins the SARIF results, and the
    // text report lists what it hid and where.
    let finding_diags = findings_as_diagnostics(&verdict.analysis.findings, &result.sources);
    let everything: Vec<_> = result
        .diagnostics
        .iter()
        .chain(&finding_diags)
        .cloned()
        .collect();
    let hidden = super::selection::hidden(&config, &result.suppressions, &everything)?;
    let (hidden_diags, hidden_findings) = hidden.split_at(result.diagnostics.len());
    let report = match args.format {
        CheckFormat::Text => {
            let selected =
                super::selection::select(&config, &result.suppressions, everything, &[])?;
            render::check::text(&verdict) + &super::selection::check_list(&selected.suppressed)
        }
        CheckFormat::Json => render::check::json(&verdict, date)?,
        CheckFormat::Sarif => {
            let policies: Vec<PolicyResult> = outcomes
                .iter()
                .filter(|o| o.state == State::Failed && o.policy == "stale-model")
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
                    o.state == State::Failed
                        && matches!(
                            (o.policy, code),
                            ("unguarded-crossings", Code::UnguardedCrossing)
                                | ("expired-acceptances", Code::ExpiredAcceptance)
                        )
                })
            };
            let failed_gate: std::collections::BTreeSet<_> = verdict
                .failing
                .iter()
                .map(|g| (g.code, g.elements.as_slice()))
                .collect();
            let findings: Vec<Finding> = verdict
                .analysis
                .findings
                .iter()
                .cloned()
                .map(|mut f| {
                    // The new exposures that failed the gate, too: a failing run must not look
                    // clean under `--min-level error`.
                    let failed_the_gate = failed_gate.contains(&(f.code, f.elements.as_slice()));
                    if failing(f.code) || failed_the_gate {
                        f.severity = Severity::Error;
                    }
                    f
                })
                .zip(hidden_findings)
                // What fails the gate stays, suppressed or not.
                .filter(|(f, hidden)| !**hidden || f.severity == Severity::Error)
                .map(|(f, _)| f)
                .collect();
            let opts = sarif::Options {
                prefix: repo.prefix_slash(),
                min_level: args.min_level.severity(),
                fallback_path: config.scan.output.clone(),
                notifications: render::check::notifications(&verdict),
                ..sarif::Options::new(&config.risk)
            };
            // What fails the gate stays, suppressed or not.
            let diagnostics: Vec<Diagnostic> = result
                .diagnostics
                .iter()
                .zip(hidden_diags)
                .filter(|(d, hidden)| {
                    !**hidden || (verdict.errors_failed && d.severity == Severity::Error)
                })
                .map(|(d, _)| d.clone())
                .collect();
            sarif::sarif(&diagnostics, &findings, &policies, &opts)
        }
    };
    match &args.output {
        Some(path) => output::write_output(path, report.as_bytes())
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
            .filter(|d| verdict.errors_failed && d.severity == Severity::Error)
            .cloned()
            .collect();
        diags.extend(findings_as_diagnostics(&verdict.failing, &result.sources));
        let rendered = render::diagnostics::render(&diags, &result.sources, color);
        let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
    }
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

/// The merge base with the default branch, or why there is none (without the folder's path:
/// the reason is part of the report).
fn default_base(repo: &Repo) -> Result<String, String> {
    if repo.has_git() {
        repo.default_base().map_err(|e| format!("{e:#}"))
    } else {
        Err("not a git repository".into())
    }
}

/// Why `check` stops without a base, and how to give it one.
fn missing_base(why: &str) -> String {
    format!(
        "no base revision to compare with: {why}.\n\
         `threatmark check` compares the change with its base and reads the policy from there, \
         so it fails closed without one. Fetch the base (GitHub: `actions/checkout` with \
         `fetch-depth: 0`; elsewhere `git fetch origin <branch>`) or name it with `--base REV`; \
         `--fail-on none` switches the comparison off, and `--allow-missing-base` runs without \
         it (the new-unmitigated policy is then reported as skipped)"
    )
}

/// Files annotated in the base that the head's scan no longer reads although they are still
/// there and still look annotated: listed as a change of what is scanned (the reviewer sees
/// why a threat vanished), like a changed `[scan]` setting.
fn silenced(
    repo: &Repo,
    config: &crate::config::Config,
    base_config: &crate::config::Config,
    base: &crate::scan::ScanResult,
    head: &crate::scan::ScanResult,
) -> Vec<gate::PolicyChange> {
    let rules = crate::input::Rules {
        confine: Some(&repo.root),
        limit: config
            .scan
            .max_file_size
            .max(base_config.scan.max_file_size),
        setting: "[scan] max_file_size",
    };
    gate::silenced_files(&base.model, &head.model, &head.diagnostics)
        .into_iter()
        .filter(|path| {
            crate::input::read(&repo.root.join(path), &rules)
                .is_ok_and(|bytes| crate::prefilter::may_contain_annotations(&bytes))
        })
        .map(|path| gate::PolicyChange {
            key: format!("scanned file {path}"),
            base: "read".into(),
            head: "not read".into(),
            effect: "its annotations are left out of this change's model",
        })
        .collect()
}

/// `.threatmarkignore` files the change added, removed or edited (the base's from its
/// snapshot, the head's from the index and the work tree): what they leave out is not in this
/// change's model, so a reviewer is told, whatever files they hide. Untracked ignore files are
/// not compared (a CI checkout has none).
fn ignore_changes(repo: &Repo) -> Vec<gate::PolicyChange> {
    use crate::source::filter::IGNORE_FILE;
    let Ok(git) = repo.git() else {
        return Vec::new();
    };
    let is_ignore_file = |rel: &str| rel.rsplit('/').next() == Some(IGNORE_FILE);
    let base: std::collections::BTreeMap<String, String> = repo
        .last_ignore_files()
        .into_iter()
        .filter(|(rel, _)| is_ignore_file(rel))
        .collect();
    let prefix = repo.prefix_slash();
    let head: std::collections::BTreeSet<String> = git
        .tracked_paths()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let p = String::from_utf8_lossy(p);
            let rel = p.strip_prefix(prefix.as_str())?;
            is_ignore_file(rel).then(|| rel.to_string())
        })
        .collect();
    let reader = git.reader();
    let limit = crate::source::filter::MAX_IGNORE_FILE_BYTES;
    let rules = crate::input::Rules {
        confine: Some(&repo.root),
        limit,
        setting: "the ignore-file limit",
    };
    let paths: std::collections::BTreeSet<&String> = base.keys().chain(head.iter()).collect();
    paths
        .into_iter()
        .filter_map(|rel| {
            let before = base
                .get(rel)
                .and_then(|id| crate::source::git::ObjectId::from_hex(id.as_bytes()).ok())
                .and_then(|id| reader.blob(id).ok());
            let after = head
                .contains(rel)
                .then(|| crate::input::read(&repo.root.join(rel), &rules).ok())
                .flatten();
            let (b, h) = match (&before, &after) {
                (Some(b), Some(h)) if b == h => return None,
                (None, None) => return None,
                (Some(_), Some(_)) => ("present", "edited"),
                (None, Some(_)) => ("absent", "added"),
                (Some(_), None) => ("present", "removed"),
            };
            Some(gate::PolicyChange {
                key: format!("ignore file {rel}"),
                base: b.into(),
                head: h.into(),
                effect: "what it leaves out is not in this change's model",
            })
        })
        .collect()
}
