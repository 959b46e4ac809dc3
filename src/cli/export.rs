//! `threatmark export`, `threatmark import threatspec` and `threatmark merge`: the model in
//! other tools' formats, Threatspec's committed output as our model, and several repositories'
//! models as one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;

use super::RootArgs;
use crate::analysis::RiskMatrix;
use crate::config::Config;
use crate::export::{self, Format};
use crate::import::threatspec;
use crate::model::{self, ThreatModel};
use crate::{exit, output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// OWASP Threat Dragon v2 model (JSON the application opens).
    ThreatDragon,
    /// Open Threat Model 0.2.0.
    Otm,
    /// OWASP Threat Model Library TM-BOM 1.0.2.
    TmBom,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Format {
        match f {
            ExportFormat::ThreatDragon => Format::ThreatDragon,
            ExportFormat::Otm => Format::Otm,
            ExportFormat::TmBom => Format::TmBom,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark export --format otm -o threatmodel.otm.json
  $ threatmark export --format threat-dragon --model threatmodel.json")]
pub struct ExportArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write here (atomically) instead of to stdout.
    #[arg(long = "output", short = 'o', alias = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Export this model file (threatmodel.json, a merged model, ...) instead of scanning the repository.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
#[command(after_help = "Examples:
  $ threatmark import threatspec ../legacy -o threatmodel.json
  $ threatmark import threatspec ../legacy/threatmodel > threatmodel.json")]
pub enum ImportCommand {
    /// Read a Threatspec project's committed output (threatmodel/threatmodel.json, threats.json,
    /// controls.json, components.json) into a threatmark model.
    Threatspec(ImportThreatspecArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark import threatspec ../legacy -o threatmodel.json
  $ threatmark import threatspec ../legacy/threatmodel")]
pub struct ImportThreatspecArgs {
    /// The Threatspec project folder (or its threatmodel/ folder).
    pub dir: PathBuf,
    /// Write the model here (atomically) instead of to stdout.
    #[arg(long = "output", short = 'o', alias = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark merge ../api ../web -o merged.json
  $ threatmark merge a.json b.json --name Platform --config threatmark.toml")]
pub struct MergeArgs {
    /// Model files (threatmodel.json of each repository), folders holding one, or Threatspec
    /// project folders.
    #[arg(required = true, num_args = 1.., value_name = "MODEL")]
    pub models: Vec<PathBuf>,
    /// Write the merged model here (atomically) instead of to stdout.
    #[arg(long = "output", short = 'o', alias = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Name of the merged project (default: the projects' names joined with ` + `).
    #[arg(long)]
    pub name: Option<String>,
    /// Description of the merged project.
    #[arg(long)]
    pub description: Option<String>,
    /// A threatmark.toml whose `[risk]` matrix rates the merged model (default: the standard
    /// matrix).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Write to `out` atomically, or to stdout.
fn emit(text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => output::write_output(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing to stdout")
        }
    }
}

/// A model file named on the command line: anywhere, but a regular file of bounded size.
fn read_model(path: &Path) -> anyhow::Result<ThreatModel> {
    let text = crate::input::read_string(path, &threatspec::CLI_RULES)?;
    model::from_json(&text).with_context(|| format!("{} is not a threatmark model", path.display()))
}

pub(super) fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let (model, matrix) = match &args.model {
        Some(path) => {
            let matrix = match &args.root.config {
                Some(c) => Config::load(args.root.dir(), Some(c))?.risk,
                None => RiskMatrix::default(),
            };
            (read_model(path)?, matrix)
        }
        None => {
            let (config, result) = super::scan::scan_root(&args.root, None, true)?;
            (result.model, config.risk)
        }
    };
    let text = export::export(&model, &matrix, args.format.into());
    emit(&text, args.out.as_deref())?;
    Ok(exit::OK)
}

pub(super) fn import(cmd: ImportCommand) -> anyhow::Result<u8> {
    match cmd {
        ImportCommand::Threatspec(args) => {
            let imported = threatspec::load_dir(&args.dir)
                .with_context(|| format!("importing {}", args.dir.display()))?;
            let mut m = imported.model;
            m.analysis = Some(crate::analysis::analyze(&m, &RiskMatrix::default(), None));
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            emit(&model::to_json(&m), args.out.as_deref())?;
            Ok(exit::OK)
        }
    }
}

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<u8> {
    let matrix = match &args.config {
        Some(c) => Config::load(Path::new("."), Some(c))?.risk,
        None => RiskMatrix::default(),
    };
    let mut models = Vec::new();
    for p in &args.models {
        models
            .push(threatspec::load_import(p).with_context(|| format!("reading {}", p.display()))?);
    }
    let mut merged = crate::merge::merge(&models, &matrix);
    if let Some(n) = &args.name {
        merged.project.name = n.clone();
    }
    if let Some(d) = &args.description {
        merged.project.description = d.clone();
    }
    emit(&model::to_json(&merged), args.out.as_deref())?;
    Ok(exit::OK)
}
