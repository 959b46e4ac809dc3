//! `threatmark report`, `threatmark site` and `threatmark templates export`: the IO around the
//! pure renderers in `render::report` and `render::site`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};

use super::RootArgs;
use super::scan::scan_root;
use crate::analysis;
use crate::annotation::is_valid_date;
use crate::config::Config;
use crate::render::report::{self, Format};
use crate::render::site;
use crate::render::templates::{BUILTINS, TemplateSet};
use crate::render::view::{Options, SourceUrl};
use crate::source::git::GitRepo;
use crate::{exit, output};

/// Options shared by `report` and `site`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// A folder whose files override the built-in templates by file name (default:
    /// `[report] templates` in threatmark.toml).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Check acceptance expiry against this date (YYYY-MM-DD). Without it the report has no
    /// date in it and is identical on every day.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// What `{rev}` in `[report] source_url` becomes (default: the commit checked out).
    #[arg(long, value_name = "REV")]
    pub source_rev: Option<String>,
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// GitHub/GitLab Markdown with a Mermaid diagram.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// The data-flow diagram as Mermaid source.
    Mermaid,
    /// The data-flow diagram as Graphviz DOT.
    Dot,
    /// One row per threat, for issue trackers.
    Csv,
    /// The template view model (docs/templates.md).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The folder to write the site into. It must be new, empty, or a site threatmark wrote
    /// before; `--force` allows another non-empty folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a non-empty folder that threatmark did not create (files with the same
    /// names are replaced; nothing else is touched).
    #[arg(long)]
    pub force: bool,
    /// Add a timeline chart from `threatmark history` (needs a git repository).
    #[arg(long)]
    pub history: bool,
    /// At most this many commits in the timeline.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub history_max: usize,
    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Write the built-in templates into DIR, as a starting point for `--templates DIR`.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub dir: PathBuf,
    /// Replace files that exist and differ.
    #[arg(long)]
    pub force: bool,
}

/// The file that marks a folder as a site threatmark wrote, with the files it wrote.
pub const SITE_MARKER: &str = ".threatmark-site";
const MARKER_HEADER: &str = "# threatmark site: files written by `threatmark site`";

fn load_templates(args: &RenderArgs, root: &Path, config: &Config) -> anyhow::Result<TemplateSet> {
    let dir = match (&args.templates, &config.report.templates) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(d)) => Some(root.join(d)),
        (None, None) => None,
    };
    Ok(match dir {
        Some(d) => TemplateSet::with_overrides(&d)?,
        None => TemplateSet::builtin(),
    })
}

/// Render options from the configuration and the command line.
fn options(args: &RenderArgs, root: &Path, config: &Config) -> anyhow::Result<Options> {
    let source_url = match &config.report.source_url {
        Some(u) => {
            Some(SourceUrl::parse(u).map_err(|e| anyhow::anyhow!("[report] source_url: {e}"))?)
        }
        None => None,
    };
    let mut rev = args.source_rev.clone().unwrap_or_else(|| "HEAD".into());
    let mut path_prefix = String::new();
    if source_url.is_some()
        && let Ok(git) = GitRepo::discover(root)
    {
        if args.source_rev.is_none()
            && let Ok(id) = git.reader().resolve_commit("HEAD")
        {
            rev = id.to_string();
        }
        if let (Some(wd), Ok(here)) = (git.workdir(), std::fs::canonicalize(root))
            && let Ok(wd) = std::fs::canonicalize(wd)
            && let Ok(rel) = here.strip_prefix(&wd)
        {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if !parts.is_empty() {
                path_prefix = format!("{}/", parts.join("/"));
            }
        }
    }
    Ok(Options {
        source_url,
        rev,
        path_prefix,
        ..Options::default()
    })
}

fn date(args: &RenderArgs) -> anyhow::Result<Option<String>> {
    match &args.today {
        Some(d) if is_valid_date(d) => Ok(Some(d.clone())),
        Some(d) => bail!("--today `{d}` is not a date written YYYY-MM-DD"),
        None => Ok(None),
    }
}

pub fn run_report(args: ReportArgs) -> anyhow::Result<u8> {
    let today = date(&args.render)?;
    let (config, result) = scan_root(&args.root, args.render.threads, true)?;
    let templates = load_templates(&args.render, &args.root.path, &config)?;
    let opts = options(&args.render, &args.root.path, &config)?;
    let analysis = analysis::analyze(&result.model, &config.risk, today.as_deref());
    let format = match args.format {
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Html => Format::Html,
        ReportFormat::Mermaid => Format::Mermaid,
        ReportFormat::Dot => Format::Dot,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Json => Format::Json,
    };
    let text = report::render(
        format,
        &result.model,
        &analysis,
        &config.risk,
        &opts,
        &templates,
    )?;
    match &args.out {
        Some(path) => output::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing the report to stdout")?;
        }
    }
    Ok(exit::OK)
}

/// An absolute, normalised form of `p` (the folder may not exist yet).
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Ok(c);
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    // The path does not exist yet. `missing/..` must not survive lexically just because
    // `missing` does not exist: once the site creates `missing`, it *is* the parent.
    let mut norm = PathBuf::new();
    for part in abs.components() {
        match part {
            std::path::Component::ParentDir => {
                norm.pop();
            }
            std::path::Component::CurDir => {}
            other => norm.push(other),
        }
    }
    // Canonicalise the longest existing ancestor (links resolved), then append the rest.
    let mut existing = norm.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    for part in rest.iter().rev() {
        out.push(part);
    }
    Ok(out)
}

/// Refuse output folders whose loss would hurt: `/`, the home folder, the repository (or
/// scan) root and any folder that contains one of them.
fn check_site_dir(out: &Path, root: &Path) -> anyhow::Result<()> {
    let out_abs = absolute(out)?;
    let mut precious: Vec<(PathBuf, &str)> = vec![(PathBuf::from("/"), "the file system root")];
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        precious.push((absolute(Path::new(&home))?, "your home folder"));
    }
    precious.push((absolute(root)?, "the scan root"));
    if let Ok(git) = GitRepo::discover(root)
        && let Some(wd) = git.workdir()
    {
        precious.push((absolute(&wd)?, "the repository root"));
    }
    for (p, what) in precious {
        if p.starts_with(&out_abs) {
            bail!(
                "refusing to write the site into {}: it is {what} or contains it; choose a folder of its own, such as target/site",
                out.display()
            );
        }
    }
    Ok(())
}

/// The files a previous run listed in the marker, when they are plain relative paths.
fn previous_files(marker: &str) -> Vec<String> {
    marker
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| {
            let p = Path::new(l);
            !p.is_absolute()
                && !l.contains('\\')
                && p.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        })
        .map(str::to_string)
        .collect()
}

/// No folder between `dir` and a file we write may be a symbolic link: a link would send the
/// write outside `dir`.
fn ensure_no_links(dir: &Path, rel: &str) -> anyhow::Result<()> {
    let mut cur = dir.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        cur.push(part);
        if let Ok(meta) = std::fs::symlink_metadata(&cur)
            && !meta.is_dir()
        {
            bail!(
                "{} is not a plain folder (a symbolic link?); refusing to write through it",
                cur.display()
            );
        }
    }
    Ok(())
}

pub fn run_site(args: SiteArgs) -> anyhow::Result<u8> {
    let today = date(&args.render)?;
    let out = args.out.clone();
    check_site_dir(&out, &args.root.path)?;
    if let Ok(meta) = std::fs::symlink_metadata(&out)
        && !meta.is_dir()
    {
        bail!("{} exists and is not a folder", out.display());
    }
    let marker_path = out.join(SITE_MARKER);
    let previous = match std::fs::read_to_string(&marker_path) {
        Ok(text) if text.starts_with(MARKER_HEADER) => Some(previous_files(&text)),
        _ => None,
    };
    if previous.is_none() && out.exists() {
        let non_empty = std::fs::read_dir(&out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !args.force {
            bail!(
                "{} is not empty and was not written by `threatmark site`; choose another folder, or pass --force to write into it anyway",
                out.display()
            );
        }
    }

    let (config, result) = scan_root(&args.root, args.render.threads, true)?;
    let templates = load_templates(&args.render, &args.root.path, &config)?;
    let mut opts = options(&args.render, &args.root.path, &config)?;
    if args.history {
        let repo = super::revs::Repo::open(
            &args.root.path,
            args.render.threads,
            args.root.config.clone(),
        );
        let mut pts = super::history::points(&repo, "HEAD", None, args.history_max)?;
        pts.reverse();
        opts.timeline = Some(pts.into_iter().map(|p| p.status).collect());
    }
    let analysis = analysis::analyze(&result.model, &config.risk, today.as_deref());
    let files = site::render(&result.model, &analysis, &config.risk, &opts, &templates)?;

    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut manifest = String::from(MARKER_HEADER);
    manifest.push('\n');
    // Claim the folder before writing into it, so an interrupted run can be repeated.
    if previous.is_none() {
        output::write_atomic(&marker_path, manifest.as_bytes())
            .with_context(|| format!("writing {}", marker_path.display()))?;
    }
    for f in &files {
        ensure_no_links(&out, &f.path)?;
        let target = out.join(&f.path);
        output::write_atomic(&target, f.contents.as_bytes())
            .with_context(|| format!("writing {}", target.display()))?;
        manifest.push_str(&f.path);
        manifest.push('\n');
    }
    // Remove pages of elements that no longer exist: only files this command wrote before,
    // only inside the folder.
    let mut removed = 0;
    for old in previous.unwrap_or_default() {
        if files.iter().any(|f| f.path == old) {
            continue;
        }
        if ensure_no_links(&out, &old).is_err() {
            continue;
        }
        let target = out.join(&old);
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_file())
            && std::fs::remove_file(&target).is_ok()
        {
            removed += 1;
        }
    }
    output::write_atomic(&marker_path, manifest.as_bytes())
        .with_context(|| format!("writing {}", marker_path.display()))?;
    eprintln!(
        "threatmark: wrote {} files to {}{}",
        files.len(),
        out.display(),
        if removed > 0 {
            format!(" (removed {removed} stale pages)")
        } else {
            String::new()
        }
    );
    Ok(exit::OK)
}

pub fn run_templates(cmd: TemplatesCommand) -> anyhow::Result<u8> {
    match cmd {
        TemplatesCommand::Export(args) => {
            let mut conflicts = Vec::new();
            for (file, text) in BUILTINS {
                let target = args.dir.join(file);
                if let Ok(old) = std::fs::read_to_string(&target)
                    && old != *text
                    && !args.force
                {
                    conflicts.push(target.display().to_string());
                }
            }
            if !conflicts.is_empty() {
                bail!(
                    "these files exist and differ from the built-in templates (pass --force to replace them):\n  {}",
                    conflicts.join("\n  ")
                );
            }
            for (file, text) in BUILTINS {
                let target = args.dir.join(file);
                output::write_atomic(&target, text.as_bytes())
                    .with_context(|| format!("writing {}", target.display()))?;
            }
            eprintln!(
                "threatmark: wrote {} templates to {}; edit them and pass --templates {} (or set [report] templates)",
                BUILTINS.len(),
                args.dir.display(),
                args.dir.display()
            );
            Ok(exit::OK)
        }
    }
}
