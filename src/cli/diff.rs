//! `threatmark diff [BASE [HEAD]]`: what a change did to the threat model.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;

use super::revs::{Repo, Side, parse_range};
use crate::analysis::RiskMatrix;
use crate::{diff, exit, render};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// `BASE..HEAD`, `BASE...HEAD` (from their merge base), `BASE HEAD`, `BASE` (against the
    /// work tree), or two model JSON files.
    /// Without any: merge-base(default branch, HEAD) against the work tree.
    pub revs: Vec<String>,
    /// The repository (or a folder in it).
    #[arg(short = 'C', long = "repo", default_value = ".")]
    pub repo: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

pub fn run(args: DiffArgs, color: bool) -> anyhow::Result<u8> {
    let repo = Repo::open(&args.repo, args.threads, args.config.clone());
    let revs = args
        .revs
        .iter()
        .map(|r| repo.expand_three_dot(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (base, head) = parse_range(&revs)?;
    let base = match base {
        Some(b) => b,
        None => Side::Rev(repo.default_base()?),
    };
    let (_, old) = repo.model(&base)?;
    let (head_config, new) = repo.model(&head)?;
    let matrix = head_config
        .map(|c| c.risk)
        .unwrap_or_else(RiskMatrix::default);
    let d = diff::diff(&old, &new, &base.label(), &head.label(), &matrix);
    repo.save_cache();
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
