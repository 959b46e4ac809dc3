//! `threatmark scan`: build the model and write it, or print it with `--format json`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;

use super::RootArgs;
use crate::config::Config;
use crate::diagnostic::Counts;
use crate::{exit, model, output, render, scan};

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Write the model here instead of `[scan] output` (default threatmodel.json at the root).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Build the model of this git revision from the object database (no checkout). The model
    /// goes to stdout unless `--output` is given.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// `json` prints the model on stdout and writes no file.
    #[arg(long, value_enum)]
    pub format: Option<ScanFormat>,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Exit with code 1 when any error diagnostic was found.
    #[arg(long)]
    pub strict: bool,
    /// Print only diagnostics, no summary and no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Json,
}

/// Load the configuration and scan, with a progress bar on a terminal. Shared by the commands
/// that need a fresh model.
pub fn scan_root(
    root: &RootArgs,
    threads: Option<usize>,
    quiet: bool,
) -> anyhow::Result<(Config, scan::ScanResult)> {
    let config = Config::load(&root.path, root.config.as_deref())?;
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} scanning: {pos} files {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let tick = || {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    };
    let mut result = scan::scan_dir(&root.path, &config, threads, &tick)
        .with_context(|| format!("scanning {}", root.path.display()))?;
    // A Threatspec project's `imports` are other projects' models, merged in.
    result.model = crate::import::threatspec::with_imports(&root.path, result.model, &config.risk)?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok((config, result))
}

pub fn run(args: ScanArgs, color: bool) -> anyhow::Result<u8> {
    let root = &args.root.path;
    let (config, result) = match &args.rev {
        Some(rev) => {
            let repo = super::revs::Repo::open(root, args.threads, args.root.config.clone());
            let scanned = repo.scan_rev(rev)?;
            repo.save_cache();
            scanned
        }
        None => scan_root(&args.root, args.threads, args.quiet)?,
    };
    let to_stdout =
        args.format == Some(ScanFormat::Json) || (args.rev.is_some() && args.output.is_none());

    let json = model::to_json(&result.model);
    let wrote = match to_stdout {
        true => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(json.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing the model to stdout")?;
            None
        }
        false => {
            let target = args
                .output
                .clone()
                .unwrap_or_else(|| root.join(&config.scan.output));
            output::write_atomic(&target, json.as_bytes())
                .with_context(|| format!("writing {}", target.display()))?;
            Some(target.display().to_string())
        }
    };

    let counts = Counts::of(&result.diagnostics);
    let mut stderr = std::io::stderr().lock();
    let rendered = render::diagnostics::render(&result.diagnostics, &result.sources, color);
    // A closed stderr must not turn a finished scan into a failure.
    let _ = stderr.write_all(rendered.as_bytes());
    if !args.quiet {
        let summary =
            render::summary::scan_summary(&result.model, &result.stats, counts, wrote.as_deref());
        let _ = stderr.write_all(summary.as_bytes());
    }
    Ok(if args.strict && counts.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
