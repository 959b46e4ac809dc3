//! `threatmark suggest` and `threatmark library list|show`: the IO around the threat library
//! (reading `[library] paths`, printing diagnostics); the matching is pure
//! (`analysis::suggest`).
//!
//! @threat Rule file outside the repository (#library_path_escape) [stride: I; likelihood: unlikely; impact: moderate]: `[library] paths` in a scanned repository's threatmark.toml names `/etc/passwd` or `../../secrets.toml`, and parts of it are echoed in a TOML error message
//! @control Library paths inside the root (#library_paths_inside): a rule file must resolve (links followed) inside the repository and be at most 1 MiB of UTF-8; otherwise it is TM058 and not read
//! @mitigates #cli against #library_path_escape with #library_paths_inside

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;

use super::RootArgs;
use super::scan::scan_root;
use crate::analysis::suggest::{self, Library};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Location;
use crate::{exit, render};

/// The largest rule file read.
const MAX_RULE_FILE: u64 = 1 << 20;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark suggest -C docs/examples/shop
  $ threatmark suggest --format markdown > suggested.md
  $ threatmark suggest --format json | jq '.suggestions[0]'")]
pub struct SuggestArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// `table` for people, `json` for machines, `markdown` for a pull request or a wiki.
    #[arg(long, value_enum, default_value_t = SuggestFormat::Table)]
    pub format: SuggestFormat,
    /// Worker threads for the scan (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuggestFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, clap::Subcommand)]
pub enum LibraryCommand {
    /// List the rules in use (builtin and `[library] paths`), by family.
    #[command(after_help = "Examples:
  $ threatmark library list
  $ threatmark library list -C docs/examples/shop")]
    List {
        #[command(flatten)]
        root: RootArgs,
    },
    /// Print one rule as TOML, with where it was read from.
    #[command(after_help = "Examples:
  $ threatmark library show flow.replay
  $ threatmark library show -C docs/examples/shop shop.orders_export")]
    Show {
        /// The rule id (`datastore.injection`).
        rule: String,
        #[command(flatten)]
        root: RootArgs,
    },
}

/// The builtin rules and the repository's own (`[library] paths`), with problems as TM058.
pub(super) fn load(root: &Path, config: &Config) -> (Library, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    let base = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for rel in &config.library.paths {
        let problem = |why: String| {
            Diagnostic::new(Code::InvalidLibraryRule, why).at(Location::file(rel.as_str()))
        };
        let Ok(path) = std::fs::canonicalize(base.join(rel)) else {
            diags.push(problem(
                "the rule file named in `[library] paths` cannot be found".into(),
            ));
            continue;
        };
        if !path.starts_with(&base) {
            diags.push(problem(
                "the rule file is outside the repository; it is not read".into(),
            ));
            continue;
        }
        let too_big = std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_RULE_FILE);
        match std::fs::read(&path) {
            _ if too_big => diags.push(problem(format!(
                "the rule file is not a file of at most {MAX_RULE_FILE} bytes; it is not read"
            ))),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => files.push((rel.clone(), text)),
                Err(_) => diags.push(problem("the rule file is not UTF-8".into())),
            },
            Err(e) => diags.push(problem(format!("the rule file cannot be read: {e}"))),
        }
    }
    let (library, more) = Library::with_user(&files);
    diags.extend(more);
    (library, diags)
}

fn print_diagnostics(diags: &[Diagnostic], color: bool) {
    if diags.is_empty() {
        return;
    }
    let text = render::diagnostics::render(diags, &Default::default(), color);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub(super) fn run(args: SuggestArgs, color: bool) -> anyhow::Result<u8> {
    let (config, result) = scan_root(&args.root, args.threads, true)?;
    let (library, mut diags) = load(args.root.dir(), &config);
    let found = suggest::suggest(
        &result.model,
        &library,
        &config.risk,
        &config.suggest.dismiss,
    );
    diags.extend(found.diagnostics.iter().cloned());
    let text = match args.format {
        SuggestFormat::Table => render::suggest::table(&found),
        SuggestFormat::Json => render::suggest::json(&found),
        SuggestFormat::Markdown => render::suggest::markdown(&found),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush().context("writing to stdout")?;
    print_diagnostics(&diags, color);
    Ok(exit::OK)
}

/// Every suggestion, for the report's and the site's "Suggested" sections (library problems
/// are `suggest`'s to print).
pub(super) fn items(
    root: &Path,
    config: &Config,
    model: &crate::model::ThreatModel,
) -> Vec<suggest::Suggestion> {
    let (library, _) = load(root, config);
    suggest::suggest(model, &library, &config.risk, &config.suggest.dismiss).items
}

/// How many suggestions are open, for the line `analyze` prints.
pub(super) fn count(root: &Path, config: &Config, model: &crate::model::ThreatModel) -> usize {
    let (library, _) = load(root, config);
    suggest::suggest(model, &library, &config.risk, &config.suggest.dismiss).open()
}

pub(super) fn library(cmd: LibraryCommand, color: bool) -> anyhow::Result<u8> {
    let root = match &cmd {
        LibraryCommand::List { root } | LibraryCommand::Show { root, .. } => root,
    };
    let config = Config::load(root.dir(), root.config.as_deref())?;
    let (library, diags) = load(root.dir(), &config);
    print_diagnostics(&diags, color);
    let mut stdout = std::io::stdout().lock();
    match &cmd {
        LibraryCommand::List { .. } => {
            stdout.write_all(render::suggest::list(&library).as_bytes())?
        }
        LibraryCommand::Show { rule, .. } => match library.rule(rule) {
            Some(r) => stdout.write_all(render::suggest::show(r).as_bytes())?,
            None => {
                eprintln!(
                    "error: no rule `{}` in the library; `threatmark library list` prints the ids",
                    crate::render::escape::printable(rule)
                );
                return Ok(exit::ERROR);
            }
        },
    }
    stdout.flush().context("writing to stdout")?;
    Ok(exit::OK)
}
