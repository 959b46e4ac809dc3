//! `threatmark report`, `threatmark site` and `threatmark templates export`: the IO around the
//! pure renderers in `render::report` and `render::site`.
//!
//! `site --out DIR` refreshes a folder it wrote before, which may be a folder of the repository
//! (`docs/` for GitHub Pages) and so may hold files the pull request planted, a manifest
//! included. The manifest (`.threatmark-site`) records the SHA-256 of every page written; a
//! page is deleted or replaced only when its bytes are still the ones recorded, and only when
//! its path has the shape of a page threatmark writes. Nothing else is ever deleted, and a file
//! the manifest does not vouch for is replaced only with `--force`.
//!
//! @threat Site refresh deletes files it did not write (#site_clobber) [stride: T; likelihood: possible; impact: major; cwe: 73; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a `.threatmark-site` marker planted in the published folder lists `CNAME`, a deploy script or hand-written pages, and the next `threatmark site` deletes or overwrites them
//! @control Hashed site manifest (#site_manifest): only pages of the site's own shape whose current SHA-256 matches the manifest are deleted or replaced; entries outside the folder or through links are ignored; other files need --force to be replaced and are never deleted
//! @mitigates #cli against #site_clobber with #site_manifest

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};

use super::RootArgs;
use super::scan::scan_root;
use crate::analysis;
use crate::config::Config;
use crate::date::Date;
use crate::render::report::{self, Format};
use crate::render::site;
use crate::render::templates::{BUILTINS, TemplateSet};
use crate::render::view::Options;
use crate::source::git::GitRepo;
use crate::source_url::SourceUrl;
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
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark report -o THREATMODEL.md
  $ threatmark report --format html -o threatmodel.html
  $ threatmark report --format dot | dot -Tsvg > flows.svg")]
pub struct ReportArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// What to write.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Write to this file instead of stdout (`--out` is the old spelling).
    #[arg(long = "output", short = 'o', alias = "out", value_name = "FILE")]
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
#[command(after_help = "Examples:
  $ threatmark site -o public/threatmodel
  $ threatmark site -o site --history --today 2025-01-31")]
pub struct SiteArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The folder to write the site into. It must be new, empty, or a site threatmark wrote
    /// before; `--force` allows another non-empty folder (`--out` is the old spelling).
    #[arg(long = "output", short = 'o', alias = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a non-empty folder that threatmark did not create, and replace pages there
    /// that threatmark did not write or that changed since (nothing else is touched, and
    /// nothing it did not write is ever deleted).
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
#[command(after_help = "Examples:
  $ threatmark templates export -o templates
  $ threatmark report --templates templates")]
pub enum TemplatesCommand {
    /// Write the built-in templates into DIR, as a starting point for `--templates DIR`.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark templates export -o templates
  $ threatmark report --templates templates -o THREATMODEL.md")]
pub struct ExportArgs {
    /// The folder to write the templates into.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR",
        required_unless_present = "dir"
    )]
    pub output: Option<PathBuf>,
    /// The old spelling of `-o DIR`.
    #[arg(value_name = "DIR", hide = true, conflicts_with = "output")]
    pub dir: Option<PathBuf>,
    /// Replace files that exist and differ.
    #[arg(long)]
    pub force: bool,
}

/// The file that marks a folder as a site threatmark wrote, with the files it wrote.
pub(super) const SITE_MARKER: &str = ".threatmark-site";
const MARKER_HEADER: &str = "# threatmark site: files written by `threatmark site`";

fn load_templates(args: &RenderArgs, root: &Path, config: &Config) -> anyhow::Result<TemplateSet> {
    // `--templates` is the user's own choice; `[report] templates` comes from the repository
    // and must stay inside the scan root.
    Ok(match (&args.templates, &config.report.templates) {
        (Some(d), _) => TemplateSet::with_overrides(d)?,
        (None, Some(d)) => TemplateSet::with_overrides_in(&root.join(d), root)?,
        (None, None) => TemplateSet::builtin(),
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

fn date(args: &RenderArgs) -> anyhow::Result<Option<Date>> {
    super::today_arg(args.today.as_deref())
}

pub(super) fn run_report(args: ReportArgs) -> anyhow::Result<u8> {
    let today = date(&args.render)?;
    let (config, result) = scan_root(&args.root, args.render.threads, true)?;
    let templates = load_templates(&args.render, args.root.dir(), &config)?;
    let mut opts = options(&args.render, args.root.dir(), &config)?;
    opts.suggested = super::suggest::items(args.root.dir(), &config, &result.model);
    let analysis = analysis::analyze(&result.model, &config.risk, today);
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
        Some(path) => output::write_output(path, text.as_bytes())
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
/// scan) root and any folder that contains one of them; and any folder inside a git directory.
fn check_site_dir(out: &Path, root: &Path) -> anyhow::Result<()> {
    output::refuse_git_dir(out)?;
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

/// The largest manifest read back (a site of 100,000 pages needs about 10 MB).
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// What the manifest of a previous run vouches for: each page threatmark wrote, with the
/// SHA-256 of the bytes it wrote (several while a run was under way). Only plain relative
/// paths of the shape of a site page count ([`site::is_site_path`]); anything else in a
/// manifest (a planted one included) is ignored. Lines of older versions, without a hash,
/// vouch for nothing.
#[derive(Debug, Default)]
struct Manifest {
    files: BTreeMap<String, BTreeSet<String>>,
}

impl Manifest {
    fn parse(text: &str) -> Self {
        let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((hash, path)) = line.split_once("  ") else {
                continue;
            };
            let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            if hex && site::is_site_path(path) {
                files
                    .entry(path.to_string())
                    .or_default()
                    .insert(hash.to_ascii_lowercase());
            }
        }
        Self { files }
    }

    /// Whether `hash` is what threatmark wrote to `path`.
    fn vouches(&self, path: &str, hash: &str) -> bool {
        self.files.get(path).is_some_and(|h| h.contains(hash))
    }

    fn render(&self) -> String {
        let mut out = format!("{MARKER_HEADER}\n");
        for (path, hashes) in &self.files {
            for hash in hashes {
                out.push_str(&format!("{hash}  {path}\n"));
            }
        }
        out
    }
}

/// The lowercase hex SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the plain file at `path` (streamed), or `None` for anything else.
fn file_sha256(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

/// The manifest in `out`, when there is one (a plain file that starts with the header).
fn read_manifest(marker: &Path) -> anyhow::Result<Option<Manifest>> {
    let Ok(meta) = std::fs::symlink_metadata(marker) else {
        return Ok(None);
    };
    if !meta.is_file() {
        bail!(
            "{} is not a plain file (a symbolic link?); remove it",
            marker.display()
        );
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        bail!(
            "{} is larger than {} MiB; remove it",
            marker.display(),
            MAX_MANIFEST_BYTES >> 20
        );
    }
    let text = std::fs::read(marker).with_context(|| format!("reading {}", marker.display()))?;
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .starts_with(MARKER_HEADER)
        .then(|| Manifest::parse(&text)))
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

pub(super) fn run_site(args: SiteArgs) -> anyhow::Result<u8> {
    let today = date(&args.render)?;
    let out = args.out.clone();
    check_site_dir(&out, args.root.dir())?;
    if let Ok(meta) = std::fs::symlink_metadata(&out)
        && !meta.is_dir()
    {
        bail!("{} exists and is not a folder", out.display());
    }
    let marker_path = out.join(SITE_MARKER);
    let previous = read_manifest(&marker_path)?;
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
    let previous = previous.unwrap_or_default();

    let (config, result) = scan_root(&args.root, args.render.threads, true)?;
    let templates = load_templates(&args.render, args.root.dir(), &config)?;
    let mut opts = options(&args.render, args.root.dir(), &config)?;
    opts.suggested = super::suggest::items(args.root.dir(), &config, &result.model);
    if args.history {
        let repo = super::revs::Repo::open(
            args.root.dir(),
            args.render.threads,
            args.root.config.clone(),
        );
        let mut pts = super::history::points(&repo, "HEAD", None, args.history_max)?;
        pts.reverse();
        opts.timeline = Some(pts.into_iter().map(|p| p.status).collect());
    }
    let analysis = analysis::analyze(&result.model, &config.risk, today);
    let threads = args.render.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let files = site::render(
        &result.model,
        &analysis,
        &config.risk,
        &opts,
        &templates,
        threads,
    )?;

    // Before writing anything: no link on the way, and no file replaced that the manifest does
    // not vouch for (a hand-written page, or one changed since), unless --force.
    let mut conflicts = Vec::new();
    let mut next = Manifest::default();
    for f in &files {
        ensure_no_links(&out, &f.path)?;
        let target = out.join(&f.path);
        let new_hash = sha256(f.contents.as_bytes());
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.is_dir() {
                bail!(
                    "{} is a folder; threatmark site writes a page there",
                    target.display()
                );
            }
            let old_hash = file_sha256(&target);
            let ours = old_hash
                .as_deref()
                .is_some_and(|h| h == new_hash || previous.vouches(&f.path, h));
            if !ours {
                conflicts.push(crate::render::escape::printable(&f.path));
            }
            // Until this run ends, the old bytes are still ours: an interrupted run can be
            // repeated.
            if let Some(h) = old_hash.filter(|h| previous.vouches(&f.path, h)) {
                next.files.entry(f.path.clone()).or_default().insert(h);
            }
        }
        next.files
            .entry(f.path.clone())
            .or_default()
            .insert(new_hash);
    }
    if !conflicts.is_empty() && !args.force {
        let shown = conflicts.len().min(20);
        bail!(
            "{} holds {} file(s) that threatmark site would replace but did not write (or that changed since): {}{}; move them away, or pass --force to replace them",
            out.display(),
            conflicts.len(),
            conflicts[..shown].join(", "),
            if conflicts.len() > shown { ", ..." } else { "" }
        );
    }

    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // Claim the folder (with old and new hashes) before writing into it.
    output::write_atomic(&marker_path, next.render().as_bytes())
        .with_context(|| format!("writing {}", marker_path.display()))?;
    for f in &files {
        ensure_no_links(&out, &f.path)?;
        let target = out.join(&f.path);
        output::write_atomic(&target, f.contents.as_bytes())
            .with_context(|| format!("writing {}", target.display()))?;
        let new_hash = sha256(f.contents.as_bytes());
        next.files
            .insert(f.path.clone(), BTreeSet::from([new_hash]));
    }
    // Remove pages of elements that no longer exist: only pages this command wrote, still
    // holding the bytes it wrote, inside the folder and not through a link. A page changed
    // since is left where it is, said by name, and no longer ours.
    let mut removed = 0;
    for (old, hashes) in &previous.files {
        if next.files.contains_key(old) {
            continue;
        }
        let target = out.join(old);
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            continue;
        };
        let shown = crate::render::escape::printable(old);
        let unchanged = ensure_no_links(&out, old).is_ok()
            && meta.is_file()
            && file_sha256(&target).is_some_and(|h| hashes.contains(&h));
        if !unchanged {
            eprintln!(
                "threatmark: left {shown} in {}: it changed since threatmark wrote it (delete it yourself if it is stale)",
                out.display()
            );
            continue;
        }
        match std::fs::remove_file(&target) {
            Ok(()) => removed += 1,
            Err(e) => eprintln!("threatmark: could not remove stale page {shown}: {e}"),
        }
    }
    output::write_atomic(&marker_path, next.render().as_bytes())
        .with_context(|| format!("writing {}", marker_path.display()))?;
    eprintln!(
        "threatmark: wrote {} {} to {}{}",
        files.len(),
        crate::render::summary::plural(files.len(), "file"),
        out.display(),
        if removed > 0 {
            format!(
                " (removed {removed} stale {})",
                crate::render::summary::plural(removed, "page")
            )
        } else {
            String::new()
        }
    );
    Ok(exit::OK)
}

pub(super) fn run_templates(cmd: TemplatesCommand) -> anyhow::Result<u8> {
    match cmd {
        TemplatesCommand::Export(args) => {
            let Some(dir) = args.output.as_deref().or(args.dir.as_deref()) else {
                bail!("say where to write the templates: `threatmark templates export -o DIR`");
            };
            let mut conflicts = Vec::new();
            for (file, text) in BUILTINS {
                let target = dir.join(file);
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
                let target = dir.join(file);
                output::write_atomic(&target, text.as_bytes())
                    .with_context(|| format!("writing {}", target.display()))?;
            }
            eprintln!(
                "threatmark: wrote {} templates to {}; edit them and pass --templates {} (or set [report] templates)",
                BUILTINS.len(),
                dir.display(),
                dir.display()
            );
            Ok(exit::OK)
        }
    }
}
