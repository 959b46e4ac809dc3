//! The command line: argument parsing and dispatch. Each command lives in its own file and
//! returns an exit code; errors become exit code 2 here, at the edge (anyhow).
//!
//! @threat Thread exhaustion through -j (#thread_exhaustion) [stride: D; likelihood: possible; impact: minor; cwe: 770; actor: #malicious_contributor]:
//! a workflow or script passes `-j 100000` (thousands of threads) or `-j 18446744073709551615` (a panic, exit 101)
//! @control Thread count validated (#bounded_threads): every `-j/--threads` accepts 1 to 256 only; anything else is a usage error (exit 2)
//! @mitigates #cli against #thread_exhaustion with #bounded_threads

mod analyze;
mod check;
mod completions;
mod debug;
mod diff;
mod export;
mod history;
mod info;
mod lsp;
mod mcp;
mod output_format;
mod report;
mod revs;
mod scan;
mod selection;
mod suggest;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::date::Date;
use crate::exit;

/// Threat modeling as code: a living threat model built from annotations in your comments.
#[derive(Debug, Parser)]
#[command(name = "threatmark", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to use colour in diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Colour for stdout output: `auto` means a terminal and no `NO_COLOR`.
    pub fn stdout(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }

    /// Colour for stderr output: `auto` means a terminal and no `NO_COLOR`.
    pub fn stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find every annotation and write the living threat model (threatmodel.json).
    Scan(scan::ScanArgs),
    /// Risk, residual status, boundary crossings, STRIDE coverage, findings and the ranked
    /// remediation plan.
    Analyze(analyze::AnalyzeArgs),
    /// Candidate threats the threat library proposes for the model's elements, ranked by risk.
    Suggest(suggest::SuggestArgs),
    /// The threat library's rules: `list` them or `show` one.
    #[command(
        subcommand,
        after_help = "Examples:
  $ threatmark library list
  $ threatmark library show datastore.injection"
    )]
    Library(suggest::LibraryCommand),
    /// The semantic diff of the threat model between two commits (or model files).
    Diff(diff::DiffArgs),
    /// The CI gate: fail when a change makes the threat model worse or leaves it stale.
    Check(check::CheckArgs),
    /// How the threat model evolved, commit by commit: threats by status and risk band.
    History(history::HistoryArgs),
    /// The threat model as a report: Markdown (with a Mermaid diagram), HTML, Mermaid, DOT, CSV
    /// or the template view model as JSON.
    Report(report::ReportArgs),
    /// A static, self-contained, multi-page HTML site of the threat model.
    Site(report::SiteArgs),
    /// Work with the report and site templates.
    #[command(subcommand)]
    Templates(report::TemplatesCommand),
    /// Print the long explanation of a diagnostic code (TM001...).
    Explain(info::ExplainArgs),
    /// List the supported languages and how their comments are found.
    #[command(after_help = "Examples:
  $ threatmark languages
  $ threatmark languages | grep -i terraform")]
    Languages,
    /// Write a commented default threatmark.toml.
    Init(info::InitArgs),
    /// Print the JSON Schema of threatmodel.json.
    #[command(after_help = "Examples:
  $ threatmark schema > threatmodel.schema.json
  $ threatmark schema | jq .properties")]
    Schema,
    /// Write the threat model as Threat Dragon, OTM or TM-BOM JSON.
    Export(export::ExportArgs),
    /// Read another tool's threat model into threatmark's format.
    #[command(subcommand)]
    Import(export::ImportCommand),
    /// Merge the models of several repositories into one.
    Merge(export::MergeArgs),
    /// Tools for looking inside the scanner.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
    /// Print the shell completion script for bash, zsh, fish, PowerShell or Elvish.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), or write one page per subcommand with -o DIR.
    Man(completions::ManArgs),
    /// Serve the threat model to coding agents: a Model Context Protocol server on stdio.
    Mcp(mcp::McpArgs),
    /// A Language Server over stdio: diagnostics as you type, go to definition, references,
    /// hover, completion, rename (docs/editors.md).
    Lsp(lsp::LspArgs),
}

/// Where threatmark.toml is looked up and what the scan root is. The repository is given as
/// `-C/--repo DIR` on every command, as git does (and as `diff`, `check` and `history` always
/// did: their positional arguments are revisions). The positional `PATH` of the first versions
/// is kept as a hidden alias.
#[derive(Debug, Clone, clap::Args)]
pub struct RootArgs {
    /// The repository (or project folder): where threatmark.toml is and what is scanned
    /// [default: .].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// The old spelling of `-C DIR`.
    #[arg(value_name = "PATH", hide = true, conflicts_with = "repo")]
    pub path: Option<PathBuf>,
    /// Use this configuration file instead of `<DIR>/threatmark.toml`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl RootArgs {
    /// The repository folder: `-C DIR`, else the old positional `PATH`, else `.`.
    pub fn dir(&self) -> &std::path::Path {
        self.repo
            .as_deref()
            .or(self.path.as_deref())
            .unwrap_or(std::path::Path::new("."))
    }
}

/// The most worker threads `-j` accepts. The work is IO and parsing on a few cores; more
/// threads than this only cost memory (a stack and read buffers each), and `-j 100000` must
/// not start 100,000 threads because a CI configuration said so.
pub(crate) const MAX_THREADS: usize = 256;

/// The value parser of every `-j/--threads`: 1 to [`MAX_THREADS`], so a bad value is a usage
/// error (exit 2) from clap, never a panic. `0` is refused rather than meaning "auto": leaving
/// `-j` out already means one thread per core.
pub(crate) fn threads(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{value}` is not a thread count: give 1 to {MAX_THREADS} (leave -j out for one thread per core)"
        )),
    }
}

/// The date of `--today` (on `analyze`, `report`, `site` and `check`), checked in one place:
/// `YYYY-MM-DD` and a real day, else a usage error. `None` when the flag is absent.
pub(crate) fn today_arg(today: Option<&str>) -> anyhow::Result<Option<Date>> {
    match today {
        Some(d) => match Date::parse(d) {
            Some(date) => Ok(Some(date)),
            None => anyhow::bail!("--today `{d}` is not a date written YYYY-MM-DD"),
        },
        None => Ok(None),
    }
}

/// Parse arguments, run the command, map errors to exit code 2.
pub fn main() -> ExitCode {
    crate::timings::start();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    let outcome = run(cli);
    crate::store::scan_cache::wait_for_saves();
    crate::timings::mark("done");
    match outcome {
        Ok(code) => exit::code(code),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            exit::code(exit::ERROR)
        }
    }
}

/// The error and its causes on one line, as `{:#}` prints them, but without a cause that the
/// text before it already says: `cannot read x.toml: No such file or directory (os error 2)`
/// once, not twice (a library error that shows its source, and anyhow that shows it again).
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) || out.contains(&format!("{text}: ")) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let color = cli.color.stderr();
    match cli.command {
        Command::Scan(args) => scan::run(args, color),
        Command::Analyze(args) => analyze::run(args, color),
        Command::Suggest(args) => suggest::run(args, color),
        Command::Library(cmd) => suggest::library(cmd, color),
        Command::Diff(args) => diff::run(args, cli.color.stdout()),
        Command::Check(args) => check::run(args, color),
        Command::History(args) => history::run(args),
        Command::Report(args) => report::run_report(args),
        Command::Site(args) => report::run_site(args),
        Command::Templates(cmd) => report::run_templates(cmd),
        Command::Explain(args) => info::explain(args),
        Command::Languages => info::languages(),
        Command::Init(args) => info::init(args),
        Command::Schema => {
            to_stdout(crate::model::json_schema().as_bytes())?;
            Ok(exit::OK)
        }
        Command::Debug(cmd) => debug::run(cmd, color),
        Command::Export(args) => export::export(args),
        Command::Import(cmd) => export::import(cmd),
        Command::Merge(args) => export::merge(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
        Command::Mcp(args) => mcp::run(args),
        Command::Lsp(args) => lsp::run(args),
    }
}

/// Write a command's output to stdout: a closed pipe (`| head`) is an error that names
/// stdout (exit 2), not a panic as with `print!`.
fn to_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(io).context("cannot read x.toml: No such file");
        assert_eq!(super::error_text(&e), "cannot read x.toml: No such file");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(super::error_text(&e), "outer: inner");
    }

    #[test]
    fn today_is_a_real_day_or_a_usage_error() {
        assert_eq!(
            super::today_arg(Some("2024-02-29"))
                .ok()
                .flatten()
                .map(|d| d.to_string())
                .as_deref(),
            Some("2024-02-29")
        );
        assert!(matches!(super::today_arg(None), Ok(None)));
        let err = super::today_arg(Some("2023-02-29")).expect_err("no such day");
        assert_eq!(
            err.to_string(),
            "--today `2023-02-29` is not a date written YYYY-MM-DD"
        );
    }
}
