//! Small informational commands: `explain`, `languages`, `init`.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::{DEFAULT_TOML, FILE_NAME};
use crate::diagnostic::{self, Code};
use crate::{exit, lang, output};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark explain TM003
  $ threatmark explain undefined-reference
  $ threatmark explain --all > docs/diagnostics.md")]
pub struct ExplainArgs {
    /// A code such as TM003, or its name (undefined-reference).
    #[arg(required_unless_present = "all")]
    pub code: Option<String>,
    /// Print the reference of every code, as Markdown (docs/diagnostics.md).
    #[arg(long)]
    pub all: bool,
}

pub(super) fn explain(args: ExplainArgs) -> anyhow::Result<u8> {
    if args.all {
        super::to_stdout(diagnostic::reference_markdown().as_bytes())?;
        return Ok(exit::OK);
    }
    let raw = args.code.unwrap_or_default();
    let Ok(code) = raw.parse::<Code>() else {
        bail!("unknown diagnostic code `{raw}`; `threatmark explain --all` lists them");
    };
    super::to_stdout(format!("{}\n", code.explain_text()).as_bytes())?;
    Ok(exit::OK)
}

pub(super) fn languages() -> anyhow::Result<u8> {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<11} {:<40} FILES",
        "NAME", "COMMENTS", "TITLE"
    );
    for l in lang::LANGUAGES {
        let how = if l.grammar.is_some() {
            "tree-sitter"
        } else {
            "lexical"
        };
        let mut files: Vec<String> = l.extensions.iter().map(|e| format!("*.{e}")).collect();
        files.extend(l.filenames.iter().map(|f| {
            if f.ends_with('.') {
                format!("{f}*")
            } else {
                (*f).to_string()
            }
        }));
        let _ = writeln!(
            out,
            "{:<12} {:<11} {:<40} {}",
            l.name,
            how,
            l.title,
            files.join(" ")
        );
    }
    // Not a language (no comment markers): the whole file is annotation text.
    let _ = writeln!(
        out,
        "{:<12} {:<11} {:<40} *.{}",
        crate::lang::design_text::NAME,
        "whole file",
        "Design text (Threatspec's .txt files)",
        crate::lang::design_text::EXTENSION
    );
    super::to_stdout(out.as_bytes())?;
    Ok(exit::OK)
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark init
  $ threatmark init -C services/api --force")]
pub struct InitArgs {
    /// The repository to write threatmark.toml into [default: .].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// The old spelling of `-C DIR`.
    #[arg(value_name = "PATH", hide = true, conflicts_with = "repo")]
    pub path: Option<PathBuf>,
    /// Overwrite an existing threatmark.toml.
    #[arg(long)]
    pub force: bool,
}

pub(super) fn init(args: InitArgs) -> anyhow::Result<u8> {
    let dir = args
        .repo
        .as_deref()
        .or(args.path.as_deref())
        .unwrap_or(std::path::Path::new("."));
    let target = dir.join(FILE_NAME);
    if target.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            target.display()
        );
    }
    output::write_atomic(&target, DEFAULT_TOML.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
    eprintln!("wrote {}", target.display());
    Ok(exit::OK)
}
