//! `threatmark diff [BASE [HEAD]]`: what a change did to the threat model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;

use super::revs::{Repo, Side, parse_range};
use crate::analysis::RiskMatrix;
use crate::{diff, exit, render};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark diff                     merge base of the default branch against the work tree
  $ threatmark diff main..HEAD --format markdown
  $ threatmark diff old.json new.json   two model files")]
pub struct DiffArgs {
    /// `BASE..HEAD`, `BASE...HEAD` (from their merge base), `BASE HEAD`, `BASE` (against the
    /// work tree), or two model JSON files.
    /// Without any: merge-base(default branch, HEAD) against the work tree.
    pub revs: Vec<String>,
    /// The repository (or a folder in it).
    #[arg(short = 'C', long = "repo", value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Use this configuration file instead of the repository's threatmark.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `text` for a terminal, `markdown` for a pull-request comment, `json` for machines.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

pub(super) fn run(args: DiffArgs, color: bool) -> anyhow::Result<u8> {
    let repo = Repo::open(&args.repo, args.threads, args.config.clone());
    let revs = args
        .revs
        .iter()
        .map(|r| repo.expand_three_dot(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (base, head) = parse_range(&revs)?;
    let base = match base {
        Some(b) => b,
        None => Side::Rev(
            repo.default_base()
                .context("name a base revision (`threatmark diff BASE`)")?,
        ),
    };
    let d = match (&base, &head) {
        (Side::Rev(a), Side::Rev(b)) => diff_revs(&repo, a, b)?,
        (Side::Rev(a), Side::WorkTree)
            if std::env::var_os("THREATMARK_DIFF_FULL").is_none() && repo.no_snapshot_for(a)? =>
        {
            // A fresh clone: the base is built from the work tree's outcomes where it can be.
            let (old, head_config, new) = repo.rev_and_worktree(a)?;
            diff::diff(&old, &new, &base.label(), &head.label(), &head_config.risk)
        }
        _ => {
            let (_, old) = repo.model(&base)?;
            let (head_config, new) = repo.model(&head)?;
            let matrix = head_config
                .map(|c| c.risk)
                .unwrap_or_else(RiskMatrix::default);
            diff::diff(&old, &new, &base.label(), &head.label(), &matrix)
        }
    };
    crate::timings::mark("diffed");
    repo.save_cache();
    crate::timings::mark("caches saved");
    let mut d = d;
    if args.format != DiffFormat::Json {
        d.base = repo.short_label(&d.base);
        d.head = repo.short_label(&d.head);
    }
    let text = match args.format {
        DiffFormat::Text => render::diff::text(&d, color),
        DiffFormat::Markdown => render::diff::markdown(&d),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&d)?;
            s.push('\n');
            s
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(exit::OK)
}

/// Two revisions: when their annotated files hold the same annotations (most commits touch no
/// annotation), the models are equal and neither is built. Otherwise both are built, side by
/// side.
fn diff_revs(repo: &Repo, a: &str, b: &str) -> anyhow::Result<diff::ModelDiff> {
    // No snapshot to follow (a fresh clone): the changed files alone may show that the models
    // are equal, without reading the rest of either tree.
    if std::env::var_os("THREATMARK_DIFF_FULL").is_none()
        && repo.no_snapshot_for(a)?
        && repo.same_model_by_change(a, b)? == Some(true)
    {
        return Ok(diff::unchanged(a, b));
    }
    let (config_a, scan_a) = repo.rev_scan(a)?;
    let (config_b, scan_b) = repo.rev_scan(b)?;
    if scan_a.project == scan_b.project
        && scan_a
            .snapshot
            .same_model_input(&scan_b.snapshot)
            .unwrap_or(false)
    {
        return Ok(diff::unchanged(a, b));
    }
    let threads = repo.threads;
    let (old, new) = match scan_a.snapshot.decode_both(&scan_b.snapshot, threads) {
        Ok((outcomes_a, outcomes_b)) => std::thread::scope(|s| {
            let old = s.spawn(|| scan_a.result_from(&config_a, &outcomes_a).model);
            let new = scan_b.result_from(&config_b, &outcomes_b).model;
            (old.join(), new)
        }),
        // A snapshot record that does not decode: both sides again from the trees.
        Err(_) => (Ok(repo.scan_rev(a)?.1.model), repo.scan_rev(b)?.1.model),
    };
    let old = match old {
        Ok(model) => model,
        Err(_) => repo.scan_rev(a)?.1.model,
    };
    crate::timings::mark("both models");
    let d = diff::diff(&old, &new, a, b, &config_b.risk);
    // The process ends after printing the diff: freeing two large models node by node would
    // cost it more than the diff itself (about 10 ms for 3,800 annotations each).
    std::mem::forget((old, new, scan_a, scan_b));
    Ok(d)
}
