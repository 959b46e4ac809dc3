//! `threatmark history`: how the model evolved, commit by commit (first parent), as counts of
//! threats by residual status and by risk band. A commit whose own configuration is invalid is
//! skipped with a warning naming it.

use std::io::Write;
use std::path::PathBuf;

use super::revs::Repo;
use crate::analysis::{self, Residual};
use crate::date::Date;
use crate::exit;
use crate::render::history::{self, Point};
use crate::render::timeline::TimelinePoint;
use clap::ValueEnum;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark history                  the last 50 commits, as a table
  $ threatmark history --since v1.0 --format csv
  $ threatmark history -C ../service --max 10")]
pub struct HistoryArgs {
    /// The repository (or a folder in it).
    #[arg(short = 'C', long = "repo", value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Use this configuration file instead of the repository's threatmark.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stop at this revision (exclusive).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// At most this many commits, newest first.
    #[arg(long, default_value_t = 50)]
    pub max: usize,
    /// Start from this revision.
    #[arg(long, default_value = "HEAD")]
    pub from: String,
    /// `table` for people, `json` or `csv` for charts and scripts.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Table,
    Json,
    Csv,
}

/// Compute the history points (newest first). Unchanged files are parsed once for all commits.
pub(crate) fn points(
    repo: &Repo,
    from: &str,
    since: Option<&str>,
    max: usize,
) -> anyhow::Result<Vec<Point>> {
    let git = repo.git()?;
    let reader = git.reader();
    let tip = reader.resolve_commit(from)?;
    let stop = match since {
        Some(s) => Some(reader.resolve_commit(s)?),
        None => None,
    };
    let mut out = Vec::new();
    for c in reader.first_parent_history(tip, stop, max)? {
        let id = c.id.to_string();
        let short = reader.short_id(c.id);
        let (config, result) = match repo.scan_rev(&id) {
            Ok(scanned) => scanned,
            // One commit with a broken threatmark.toml must not end the history for good.
            Err(e) if invalid_config(&e) => {
                eprintln!(
                    "threatmark: warning: skipping commit {short} ({}): {}",
                    crate::render::escape::printable(&c.summary),
                    crate::render::escape::printable(&format!("{e:#}"))
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let a = analysis::analyze(&result.model, &config.risk, None);
        let status = |r: Residual| a.summary.by_status.get(r.as_str()).copied().unwrap_or(0);
        let band = |b: &str| a.summary.open_by_band.get(b).copied().unwrap_or(0);
        out.push(Point {
            status: TimelinePoint {
                commit: short,
                // A commit time outside years 0000-9999 has no day to show.
                date: Date::from_unix(c.time)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                subject: c.summary,
                threats: a.summary.threats,
                exposed: status(Residual::Exposed),
                open: status(Residual::Open),
                accepted: status(Residual::Accepted),
                transferred: status(Residual::Transferred),
                mitigated: status(Residual::Mitigated),
            },
            critical: band("critical"),
            high: band("high"),
            medium: band("medium"),
            low: band("low"),
            very_low: band("very-low"),
            unrated: band("unrated"),
        });
    }
    Ok(out)
}

/// The commit's own configuration is invalid (not the `--config` file, which is the same for
/// every commit and fails the command).
fn invalid_config(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::scan::ScanError>(),
            Some(crate::scan::ScanError::Config(_))
        )
    })
}

pub(super) fn run(args: HistoryArgs) -> anyhow::Result<u8> {
    let repo = Repo::open(&args.repo, args.threads, args.config.clone());
    let pts = points(&repo, &args.from, args.since.as_deref(), args.max)?;
    repo.save_cache();
    let text = match args.format {
        HistoryFormat::Json => history::json(&pts)?,
        HistoryFormat::Csv => history::csv(&pts),
        HistoryFormat::Table => history::table(&pts),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(exit::OK)
}
