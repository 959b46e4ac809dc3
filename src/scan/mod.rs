//! The scan: walk, prefilter, extract comments, parse annotations, build the model.
//!
//! [`process_file`] is the per-file pipeline and is pure (bytes in, annotations and diagnostics
//! out), so a work-tree scan and a scan of a git revision share it. [`scan_dir`] is the IO shell:
//! a parallel walk whose results are collected and sorted by path before anything is built, so
//! the model is byte-identical whatever the thread count.
//!
//! @component Threatmark:Scanner (#scanner) in #process [type: process]: reads files and runs the per-file pipeline
//! @threat Resource exhaustion by huge files (#huge_files) [stride: D; likelihood: likely; impact: moderate; cwe: 400; actor: #careless_maintainer]:
//! a 2 GB log or a vendored bundle makes the scan run out of memory or time
//! @threat Silent loss of annotations in unreadable files (#silent_loss) [stride: R; likelihood: likely; impact: major; actor: #careless_maintainer]:
//! a binary, mis-encoded or unreadable file drops its threats from the model and nobody notices
//! @control File size limit (#size_limit): files over max_file_size are skipped with TM022
//! @control Every bad file becomes a diagnostic (#diagnose_bad_input): binary, encoding, IO and size problems are reported with the file name, and the scan goes on
//! @control Keyword prefilter (#prefilter): only files containing an annotation keyword reach tree-sitter
//! @mitigates #scanner against #huge_files with #size_limit
//! @mitigates #scanner against #huge_files with #prefilter
//! @mitigates #scanner against #silent_loss with #diagnose_bad_input
//! @connects #scanner to #extractor with file text

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::annotation::{self, Annotation, Locator};
use crate::comments::{self, Options};
use crate::config::Config;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::lang::{self, Language};
use crate::model::{self, Project, ThreatModel};
use crate::source::filter::TreeFilter;
use crate::source::fs::{self, Found, WalkError};
use crate::source::git::{EntryKind, GitError, GitRepo, ObjectId, Reader};
use crate::store::cache::BlobCache;
use crate::store::scan_cache::{CachedFile, FileStat, ScanCache};
use crate::text::{self, Decoding, LineIndex};

pub mod stats;
pub use stats::Stats;

/// Per-file limits and overrides, from the configuration.
#[derive(Debug, Clone)]
pub struct FileOptions {
    pub max_file_size: u64,
    pub extract: Options,
    pub extensions: BTreeMap<String, String>,
}

impl FileOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_file_size: config.scan.max_file_size,
            extract: Options {
                parse_timeout: (config.scan.parse_timeout_ms > 0)
                    .then(|| Duration::from_millis(config.scan.parse_timeout_ms)),
            },
            extensions: config.languages.extensions.clone(),
        }
    }

    /// What distinguishes two configurations for parsing purposes (FNV-1a of the extension map
    /// and the build identity): cached outcomes are only reused under the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        // Each piece ends with 0xff, a byte UTF-8 never contains, so pieces cannot run together.
        let mut bytes = Vec::new();
        let pieces = self
            .extensions
            .iter()
            .flat_map(|(ext, lang)| [ext.as_str(), lang.as_str()]);
        for piece in std::iter::once(crate::BUILD_ID).chain(pieces) {
            bytes.extend_from_slice(piece.as_bytes());
            bytes.push(0xff);
        }
        crate::text::fnv1a(&bytes)
    }

    /// Is the file read whole as annotation text? `.txt` files are, unless `[languages]`
    /// maps `txt` to a language, and so is any extension mapped to `text`. (A file name a
    /// language claims, such as `CMakeLists.txt`, is that language's.)
    pub fn design_text(&self, file_name: &str) -> bool {
        file_name
            .rsplit_once('.')
            .filter(|(stem, _)| !stem.is_empty())
            .is_some_and(|(_, ext)| {
                let ext = ext.to_ascii_lowercase();
                match self.extensions.get(&ext) {
                    Some(lang) => lang == crate::source::design_text::NAME,
                    None => ext == crate::source::design_text::EXTENSION,
                }
            })
    }

    /// Language of a file from its name alone; `None` when its first bytes must decide.
    pub fn language_by_name(&self, rel: &str) -> Option<&'static Language> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        lang::detect(name, b"", |ext| {
            self.extensions.get(ext).map(String::as_str)
        })
    }
}

impl Default for FileOptions {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

/// What one file contributed.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FileOutcome {
    pub path: String,
    pub annotations: Vec<Annotation>,
    pub diagnostics: Vec<Diagnostic>,
    /// The decoded text, kept only when a diagnostic may point into it (for the caret).
    #[serde(skip)]
    pub text: Option<Arc<str>>,
    /// The file passed the prefilter.
    pub matched: bool,
    pub binary: bool,
    /// tree-sitter ran out of time on it: never cached (the next run, on a quieter machine,
    /// may parse it). A saved outcome never has it.
    #[serde(skip)]
    pub timed_out: bool,
}

/// Could the file at `rel` be a source file? Files with an unknown extension are not even read.
pub fn is_candidate(rel: &str, opts: &FileOptions) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if opts.language_by_name(rel).is_some()
        || name.ends_with(".json")
        || opts.design_text(name)
        || is_gal_file(name)
    {
        return true;
    }
    // No extension: a `#!` line may still name the language.
    !name.contains('.') || name.starts_with('.') && !name[1..].contains('.')
}

/// GuardLink's `.gal` sidecars: annotation lines with no comment markers.
fn is_gal_file(name: &str) -> bool {
    name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".gal"))
}

/// The per-file pipeline. Pure: `rel` is only used in locations.
pub fn process_file(rel: &str, bytes: &[u8], opts: &FileOptions) -> FileOutcome {
    let mut out = FileOutcome {
        path: rel.to_string(),
        ..FileOutcome::default()
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lang = lang::detect(name, bytes, |ext| {
        opts.extensions.get(ext).map(String::as_str)
    });
    if text::looks_binary(bytes) {
        out.binary = true;
        // Reported when its own extension names a language, or it holds annotation-like
        // text; not for a language only a mapping gave it (`.pyc` under a Threatspec
        // `mime: text/x-python` path is compiled Python, which Threatspec skips too).
        let builtin = lang::detect(name, bytes, |_| None).is_some();
        if builtin || crate::prefilter::may_contain_annotations(bytes) {
            out.diagnostics.push(
                Diagnostic::new(
                    Code::BinaryFile,
                    format!("`{rel}` looks binary (it contains NUL bytes) and was not scanned"),
                )
                .in_file(rel)
                .help("if it is text, save it as UTF-8 or UTF-16 with a byte order mark"),
            );
        }
        return out;
    }
    let Some(lang) = lang else {
        if opts.design_text(name) {
            read_design_text(bytes, &mut out);
            return out;
        }
        // GuardLink's `.gal` sidecars are annotation lines with no comment markers.
        if is_gal_file(name) {
            let decoded = text::decode(bytes);
            let text = decoded.text.as_ref();
            let index = LineIndex::new(text);
            let loc = Locator::new(rel, text, &index);
            out.matched = true;
            annotation::parse_whole(&loc, &mut out.annotations, &mut out.diagnostics);
            if !out.annotations.is_empty() || out.diagnostics.iter().any(|d| d.span.is_some()) {
                out.text = Some(Arc::from(text));
            }
            return out;
        }
        // Threatspec reads `x-threatspec` keys in JSON documents (OpenAPI) too.
        if name.ends_with(".json") && memchr::memmem::find(bytes, b"x-threatspec").is_some() {
            let decoded = text::decode(bytes);
            let text = decoded.text.as_ref();
            let index = LineIndex::new(text);
            let loc = Locator::new(rel, text, &index);
            out.matched = true;
            annotation::xthreatspec::extract(&loc, &mut out.annotations, &mut out.diagnostics);
            if !out.annotations.is_empty() {
                out.text = Some(Arc::from(text));
            }
        }
        return out;
    };
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    // An `x-threatspec` value may spell its tag with an escape (`"\u0040threat ..."`), which
    // the prefilter cannot see.
    let x_threatspec =
        lang.name == "yaml" && memchr::memmem::find(bytes, b"x-threatspec").is_some();
    if !utf16 && !x_threatspec && !crate::prefilter::may_contain_annotations(bytes) {
        return out;
    }
    let decoded = text::decode(bytes);
    if utf16 && !crate::prefilter::may_contain_annotations(decoded.text.as_bytes()) {
        return out;
    }
    out.matched = true;
    let text = decoded.text.as_ref();
    if decoded.decoding == Decoding::Lossy {
        out.diagnostics.push(
            Diagnostic::new(
                Code::InvalidEncoding,
                format!("`{rel}` is not valid UTF-8; invalid bytes were replaced"),
            )
            .in_file(rel)
            .help("annotations were still read; save the file as UTF-8 to silence this"),
        );
    }
    let index = LineIndex::new(text);
    let loc = Locator::new(rel, text, &index);
    let extracted = comments::extract(lang, &loc, &opts.extract);
    out.diagnostics.extend(extracted.diagnostics);
    out.timed_out = extracted.timed_out;
    for comment in &extracted.comments {
        annotation::parse_comment(comment, &loc, &mut out.annotations, &mut out.diagnostics);
    }
    if lang.name == "yaml" {
        annotation::xthreatspec::extract(&loc, &mut out.annotations, &mut out.diagnostics);
    }
    // Kept for carets: per-file diagnostics, and model diagnostics that point at annotations.
    if !out.annotations.is_empty() || out.diagnostics.iter().any(|d| d.span.is_some()) {
        out.text = Some(Arc::from(text));
    }
    out
}

/// A design text file (Threatspec's `.txt`): the whole file is one comment.
fn read_design_text(bytes: &[u8], out: &mut FileOutcome) {
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    if !utf16 && !crate::prefilter::may_contain_annotations(bytes) {
        return;
    }
    let decoded = text::decode(bytes);
    let text = decoded.text.as_ref();
    if !crate::prefilter::may_contain_annotations(text.as_bytes()) {
        return;
    }
    out.matched = true;
    let rel = out.path.clone();
    if decoded.decoding == Decoding::Lossy {
        out.diagnostics.push(
            Diagnostic::new(
                Code::InvalidEncoding,
                format!("`{rel}` is not valid UTF-8; invalid bytes were replaced"),
            )
            .in_file(&rel)
            .help("annotations were still read; save the file as UTF-8 to silence this"),
        );
    }
    let index = LineIndex::new(text);
    let loc = Locator::new(&rel, text, &index);
    let lines = crate::source::design_text::lines(text, &index);
    annotation::parse_comment(&lines, &loc, &mut out.annotations, &mut out.diagnostics);
    if !out.annotations.is_empty() || out.diagnostics.iter().any(|d| d.span.is_some()) {
        out.text = Some(Arc::from(text));
    }
}

/// Everything a scan produced.
#[derive(Debug)]
pub struct ScanResult {
    pub model: ThreatModel,
    pub diagnostics: Vec<Diagnostic>,
    /// Decoded text of files that have diagnostics with spans, for rendering carets.
    pub sources: BTreeMap<String, Arc<str>>,
    pub stats: Stats,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A record of the scan cache does not decode (its checksum makes this all but impossible).
    #[error(transparent)]
    Cache(#[from] Damaged),
}

/// A revision to scan: the repository, the commit, and the folder inside the repository that
/// plays the role of the scan root (`""` for the repository root).
#[derive(Debug, Clone)]
pub struct RevTarget<'a> {
    pub repo: &'a GitRepo,
    pub commit: ObjectId,
    pub prefix: String,
    /// Name used when threatmark.toml gives none (the work-tree folder's name).
    pub default_name: String,
}

pub use crate::store::snapshot::{Damaged, Origin, Snapshot, Stored};

/// A fingerprint of everything in a configuration (and the build identity).
pub fn config_key(config: &Config) -> u64 {
    crate::text::fnv1a(format!("{} {config:?}", crate::BUILD_ID).as_bytes())
}

/// The configuration of a revision scan: `config` when given, else the revision's
/// threatmark.toml, else its threatspec.yaml, else its `.guardlink/config.json`, else the
/// defaults.
fn rev_config(
    reader: &Reader,
    target: &RevTarget<'_>,
    tree: ObjectId,
    config: Option<&Config>,
) -> Result<Config, ScanError> {
    if let Some(c) = config {
        return Ok(c.clone());
    }
    let path = if target.prefix.is_empty() {
        crate::config::FILE_NAME.to_string()
    } else {
        format!("{}/{}", target.prefix, crate::config::FILE_NAME)
    };
    let ts_path = path.replace(
        crate::config::FILE_NAME,
        crate::import::threatspec::CONFIG_FILE,
    );
    Ok(match reader.file_at(tree, &path)? {
        Some(bytes) => Config::parse(
            &String::from_utf8_lossy(&bytes),
            Path::new(&format!("{path} (at {})", target.commit)),
        )?,
        // A Threatspec project, as in a work-tree scan. Its `mime` overrides look at the
        // work tree's files, the only IO a revision scan does outside git.
        None => match reader.file_at(tree, &ts_path)? {
            Some(bytes) => {
                let root = target
                    .repo
                    .workdir()
                    .map(|w| w.join(&target.prefix))
                    .unwrap_or_default();
                Config::from_threatspec(
                    &String::from_utf8_lossy(&bytes),
                    Path::new(&format!("{ts_path} (at {})", target.commit)),
                    &root,
                )?
            }
            // A GuardLink project, as in a work-tree scan.
            None => {
                let gl_path = if target.prefix.is_empty() {
                    crate::import::guardlink::CONFIG_FILE.to_string()
                } else {
                    format!(
                        "{}/{}",
                        target.prefix,
                        crate::import::guardlink::CONFIG_FILE
                    )
                };
                match reader.file_at(tree, &gl_path)? {
                    Some(bytes) => {
                        crate::import::guardlink::config_from(&String::from_utf8_lossy(&bytes))
                    }
                    None => Config::default(),
                }
            }
        },
    })
}

/// A scanned revision whose model is not built yet: `diff` can tell from two snapshots that
/// the models are equal without building either.
#[derive(Debug)]
pub struct RevScan {
    pub snapshot: Snapshot,
    pub project: Project,
    read: usize,
    bytes: u64,
    started: Instant,
}

impl RevScan {
    /// Build the model (and its date-free analysis) from the snapshot.
    pub fn result(&self, config: &Config) -> Result<ScanResult, Damaged> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let outcomes = self.snapshot.decode_all_on(threads)?;
        Ok(self.result_from(config, &outcomes))
    }

    /// [`RevScan::result`] from the snapshot's outcomes, decoded already
    /// ([`Snapshot::decode_both`] decodes two snapshots' shared records once).
    pub fn result_from(&self, config: &Config, outcomes: &[Arc<FileOutcome>]) -> ScanResult {
        let mut stats = Stats {
            files_seen: self.snapshot.files_seen,
            files_read: self.read,
            bytes_read: self.bytes,
            ..Stats::default()
        };
        let outcomes: Vec<&FileOutcome> = outcomes.iter().map(|o| &**o).collect();
        let mut result = assemble(
            self.project.clone(),
            &outcomes,
            &config.risk,
            config.model.limits(),
            &mut stats,
        );
        let mut diagnostics = self.snapshot.problems.clone();
        diagnostics.append(&mut result.diagnostics);
        diagnostic::normalize(&mut diagnostics);
        result.diagnostics = diagnostics;
        stats.elapsed = self.started.elapsed();
        result.stats = stats;
        result
    }
}

/// Scan a commit from the object database. The configuration and ignore files are read from that
/// commit unless `config` is given.
///
/// With a `base` snapshot of another revision (same prefix and configuration, same ignore
/// files), only the paths that differ between the two trees are read: the cost follows the
/// change, not the repository. Otherwise every file of the tree is listed and read (each blob
/// once per run, and not at all when `cache` has it).
pub fn scan_rev(
    target: &RevTarget<'_>,
    config: Option<&Config>,
    threads: usize,
    cache: &BlobCache,
    base: Option<&Snapshot>,
) -> Result<(Config, RevScan), ScanError> {
    let started = Instant::now();
    let reader = target.repo.reader();
    let tree = reader.tree_of(target.commit)?;
    let config = rev_config(&reader, target, tree, config)?;
    let opts = FileOptions::from_config(&config);
    let key = config_key(&config);
    let project = project_named(&config, &target.default_name);
    let done = |snapshot: Snapshot, batch: &Batch| RevScan {
        snapshot,
        project: project.clone(),
        read: batch.read,
        bytes: batch.bytes,
        started,
    };
    let under = |p: &str| -> Option<String> {
        if target.prefix.is_empty() {
            Some(p.to_string())
        } else {
            p.strip_prefix(&format!("{}/", target.prefix))
                .map(str::to_string)
        }
    };
    if let Some(base) = base.filter(|b| b.prefix == target.prefix && b.config_key == key)
        && let Ok(base_tree) = ObjectId::from_hex(base.tree.as_bytes())
    {
        crate::timings::mark("rev config");
        let mut listed = Vec::new();
        for (rel, id) in &base.ignore_files {
            let id = ObjectId::from_hex(id.as_bytes())
                .map_err(|_| GitError::Other(format!("bad object id `{id}` in a snapshot")))?;
            listed.push((rel.clone(), id));
        }
        let mut problems = Vec::new();
        let ignore_files = read_ignore_files(&reader, &listed, &mut problems)?;
        let filter = TreeFilter::new(&config.scan, &ignore_files, &mut problems)?;
        let scanned = |rel: &str, side: Option<(ObjectId, EntryKind)>| match side {
            Some((id, EntryKind::File)) if !filter.is_ignored(rel) => Some(id),
            _ => None,
        };
        // The changed files are read while the trees are still being compared.
        let (changes, mut batch) = read_blobs_while(target.repo, &opts, cache, threads, |read| {
            reader.changes_with(base_tree, tree, &mut |c| {
                if let Some(rel) = under(&c.path)
                    && let Some(id) = scanned(&rel, c.new)
                {
                    read(rel, id);
                }
            })
        })?;
        let changes: Vec<(String, crate::source::git::Change)> = changes?
            .into_iter()
            .filter_map(|c| under(&c.path).map(|rel| (rel, c)))
            .collect();
        // New ignore rules can change which unchanged files are scanned: read everything.
        if !changes
            .iter()
            .any(|(rel, _)| crate::source::filter::is_ignore_file(rel))
        {
            let mut seen = base.files_seen;
            for (rel, change) in &changes {
                if scanned(rel, change.old).is_some() {
                    seen = seen.saturating_sub(1);
                }
                if scanned(rel, change.new).is_some() {
                    seen += 1;
                }
            }
            crate::timings::mark("changed blobs read");
            // The base's records of unchanged paths are kept as they are (not decoded).
            let changed: std::collections::HashSet<&str> =
                changes.iter().map(|(rel, _)| rel.as_str()).collect();
            let fresh: Vec<Stored> = std::mem::take(&mut batch.outcomes)
                .into_iter()
                .map(Stored::new)
                .collect();
            // What changed, from the full snapshot this one descends from: the paths whose
            // record changed now or before.
            let mut origin = base.origin.clone().unwrap_or_else(|| Origin {
                tree: base.tree.clone(),
                changed: Default::default(),
            });
            origin.changed.extend(
                base.outcomes
                    .iter()
                    .filter(|o| changed.contains(o.path.as_str()))
                    .chain(&fresh)
                    .map(|o| o.path.clone()),
            );
            let mut outcomes: Vec<Stored> = base
                .outcomes
                .iter()
                .filter(|o| !changed.contains(o.path.as_str()))
                .cloned()
                .chain(fresh)
                .collect();
            outcomes.sort_by(|a, b| a.path.cmp(&b.path));
            let snapshot = Snapshot {
                tree: tree.to_string(),
                prefix: target.prefix.clone(),
                config_key: key,
                ignore_files: base.ignore_files.clone(),
                files_seen: seen,
                problems,
                outcomes,
                origin: Some(origin),
            };
            let scanned = done(snapshot, &batch);
            return Ok((config, scanned));
        }
    }

    let entries: Vec<(String, crate::source::git::TreeEntry)> = target
        .repo
        .bulk_reader()
        .list(tree)?
        .into_iter()
        .filter_map(|e| under(&e.path).map(|rel| (rel, e)))
        .collect();
    let mut problems = Vec::new();
    let listed: Vec<(String, ObjectId)> = entries
        .iter()
        .filter(|(rel, e)| crate::source::filter::is_ignore_file(rel) && e.kind == EntryKind::File)
        .map(|(rel, e)| (rel.clone(), e.id))
        .collect();
    let ignore_ids = listed
        .iter()
        .map(|(rel, id)| (rel.clone(), id.to_string()))
        .collect();
    let ignore_files = read_ignore_files(&reader, &listed, &mut problems)?;
    let filter = TreeFilter::new(&config.scan, &ignore_files, &mut problems)?;
    let files: Vec<(&str, ObjectId)> = entries
        .iter()
        .filter(|(rel, e)| e.kind == EntryKind::File && !filter.is_ignored(rel))
        .map(|(rel, e)| (rel.as_str(), e.id))
        .collect();
    let mut batch = read_blobs(target.repo, &files, &opts, cache, threads)?;
    let mut outcomes: Vec<Stored> = std::mem::take(&mut batch.outcomes)
        .into_iter()
        .map(Stored::new)
        .collect();
    outcomes.sort_by(|a, b| a.path.cmp(&b.path));
    let snapshot = Snapshot {
        tree: tree.to_string(),
        prefix: target.prefix.clone(),
        config_key: key,
        ignore_files: ignore_ids,
        files_seen: files.len(),
        problems,
        outcomes,
        origin: None,
    };
    let scanned = done(snapshot, &batch);
    Ok((config, scanned))
}

/// The ignore files of a tree, read unless they are over the size limit (their header says so
/// before anything is inflated): those are TM032, and their rules do not apply, as in the walk.
fn read_ignore_files(
    reader: &Reader,
    listed: &[(String, ObjectId)],
    problems: &mut Vec<Diagnostic>,
) -> Result<Vec<(String, Vec<u8>)>, GitError> {
    use crate::source::filter::{MAX_IGNORE_FILE_BYTES, too_large};
    let mut out = Vec::new();
    for (rel, id) in listed {
        let size = reader.blob_size(*id)?;
        if size > MAX_IGNORE_FILE_BYTES {
            problems.push(too_large(rel, Some(size)));
        } else {
            out.push((rel.clone(), reader.blob(*id)?));
        }
    }
    Ok(out)
}

/// What reading a list of blobs produced.
struct Batch {
    /// The files that contributed annotations or diagnostics, in no particular order.
    outcomes: Vec<FileOutcome>,
    read: usize,
    bytes: u64,
}

/// What the workers reading blobs share.
#[derive(Default)]
struct Collected {
    read: AtomicUsize,
    bytes: AtomicU64,
    outcomes: Mutex<Vec<FileOutcome>>,
    failure: Mutex<Option<GitError>>,
}

impl Collected {
    /// Read and process one blob; false once a read has failed (the batch is lost anyway).
    fn take(
        &self,
        reader: &Reader,
        rel: &str,
        id: ObjectId,
        opts: &FileOptions,
        cache: &BlobCache,
    ) -> bool {
        if lock(&self.failure).is_some() {
            return false;
        }
        match rev_file(reader, rel, id, opts, cache) {
            Ok(RevFile::Skipped) => {}
            Ok(RevFile::TooLarge(size)) => lock(&self.outcomes).push(FileOutcome {
                path: rel.to_string(),
                diagnostics: vec![too_large(rel, size, opts.max_file_size)],
                ..FileOutcome::default()
            }),
            Ok(RevFile::Done(outcome, size)) => {
                self.read.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(size, Ordering::Relaxed);
                if outcome.matched || outcome.binary || !outcome.diagnostics.is_empty() {
                    lock(&self.outcomes).push(outcome);
                }
            }
            Err(e) => {
                lock(&self.failure).get_or_insert(e);
                return false;
            }
        }
        true
    }

    fn finish(self) -> Result<Batch, GitError> {
        if let Some(e) = self.failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        Ok(Batch {
            outcomes: self
                .outcomes
                .into_inner()
                .unwrap_or_else(|e| e.into_inner()),
            read: self.read.into_inner(),
            bytes: self.bytes.into_inner(),
        })
    }
}

/// From this many blobs on, a pack cache pays for itself (a change of 500 files was read in
/// 13 ms without one and 20 ms with one; a whole tree 1.7× faster with one).
const BULK_READ: usize = 5_000;

/// Read and process blobs on `threads` threads.
fn read_blobs(
    repo: &GitRepo,
    files: &[(&str, ObjectId)],
    opts: &FileOptions,
    cache: &BlobCache,
    threads: usize,
) -> Result<Batch, GitError> {
    let next = AtomicUsize::new(0);
    let collected = Collected::default();
    let threads = threads.clamp(1, files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let reader = if files.len() > BULK_READ {
                    repo.bulk_reader()
                } else {
                    repo.reader()
                };
                while let Some((rel, id)) = files.get(next.fetch_add(1, Ordering::Relaxed))
                    && collected.take(&reader, rel, *id, opts, cache)
                {}
            });
        }
    });
    collected.finish()
}

/// Read and process blobs while `produce` (a tree diff) is still finding them: the other
/// threads take them from a channel as they come, and the producing thread joins them when it
/// is done. The tree diff and the reads overlap instead of following each other.
fn read_blobs_while<R>(
    repo: &GitRepo,
    opts: &FileOptions,
    cache: &BlobCache,
    threads: usize,
    produce: impl FnOnce(&mut dyn FnMut(String, ObjectId)) -> R,
) -> Result<(R, Batch), GitError> {
    let (tx, rx) = std::sync::mpsc::channel::<(String, ObjectId)>();
    let rx = Mutex::new(rx);
    let collected = Collected::default();
    let work = |reader: &Reader| {
        // The lock is held while waiting: one thread waits for the next blob, the others for it.
        while let Ok((rel, id)) = lock(&rx).recv()
            && collected.take(reader, &rel, id, opts, cache)
        {}
    };
    let produced = std::thread::scope(|s| {
        for _ in 1..threads.max(1) {
            s.spawn(|| work(&repo.reader()));
        }
        let produced = produce(&mut |rel, id| {
            let _ = tx.send((rel, id));
        });
        drop(tx);
        work(&repo.reader());
        produced
    });
    Ok((produced, collected.finish()?))
}

enum RevFile {
    Skipped,
    TooLarge(u64),
    Done(FileOutcome, u64),
}

fn rev_file(
    reader: &Reader,
    rel: &str,
    id: ObjectId,
    opts: &FileOptions,
    cache: &BlobCache,
) -> Result<RevFile, GitError> {
    if !is_candidate(rel, opts) {
        return Ok(RevFile::Skipped);
    }
    let key = (rel.to_string(), id, opts.fingerprint());
    if let Some(hit) = cache.get(&key) {
        return Ok(RevFile::Done(hit, 0));
    }
    let size = reader.blob_size(id)?;
    if size > opts.max_file_size {
        return Ok(RevFile::TooLarge(size));
    }
    let bytes = reader.blob(id)?;
    let outcome = process_file(rel, &bytes, opts);
    cache.put(key, &outcome);
    Ok(RevFile::Done(outcome, size))
}

/// Scan a directory on disk. `on_file` is called once per file seen (for progress bars).
pub fn scan_dir(
    root: &Path,
    config: &Config,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
) -> Result<ScanResult, ScanError> {
    scan_dir_cached(root, config, threads, on_file, None, false).map(|(result, _)| result)
}

/// Files smaller than this that contribute nothing are not kept in the scan cache.
const MIN_CACHED_SIZE: u64 = 512;

/// What a scan found for the next scan's cache.
#[derive(Debug, Default)]
pub struct ForCache {
    /// Every file read or reused, with its stat.
    pub files: Vec<CachedFile>,
    /// Files read and kept for the cache although a cache was given (new, changed, or not
    /// cached before): the cache on disk is out of date when there is any.
    pub misses: usize,
}

/// [`scan_dir`] with the last scan's cache (of the same configuration: see [`config_key`]): a
/// file whose stat is the one cached is not read. With `record`, also returns what the next
/// scan's cache holds. The result is the same as without a cache, byte for byte.
pub fn scan_dir_cached(
    root: &Path,
    config: &Config,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
    cache: Option<&ScanCache>,
    record: bool,
) -> Result<(ScanResult, ForCache), ScanError> {
    let started = Instant::now();
    let opts = FileOptions::from_config(config);
    // Each outcome with the path it was read from: two names that are not UTF-8 can map to one
    // lossy `rel`, and the real path then keeps their order independent of thread timing.
    let outcomes: Mutex<Vec<(PathBuf, Stored)>> = Mutex::new(Vec::new());
    let problems: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
    let cached: Mutex<Vec<CachedFile>> = Mutex::new(Vec::new());
    let misses = AtomicUsize::new(0);
    let seen = AtomicUsize::new(0);
    let read = AtomicUsize::new(0);
    let bytes_read = AtomicU64::new(0);

    let visit = |found: Found| match found {
        Found::Problem(d) => lock(&problems).push(d),
        Found::File(file) => {
            seen.fetch_add(1, Ordering::Relaxed);
            on_file();
            if !is_candidate(&file.rel, &opts) {
                return;
            }
            // Unchanged since the last scan: its outcome, without reading it.
            if let Some(hit) = cache.and_then(|c| c.get(&file.rel))
                && let Ok(meta) = std::fs::metadata(&file.path)
                && FileStat::of(&meta) == Some(hit.stat)
                && hit.stat.size <= opts.max_file_size
            {
                read.fetch_add(1, Ordering::Relaxed);
                bytes_read.fetch_add(hit.stat.size, Ordering::Relaxed);
                if let Some(outcome) = &hit.outcome {
                    lock(&outcomes).push((file.path.clone(), Stored::clone(outcome)));
                }
                lock(&cached).push(hit.clone());
                return;
            }
            READ_BUFFER.with_borrow_mut(|buffer| match read_limited(&file.path, opts.max_file_size, buffer, record) {
                Ok((Limited::TooLarge(size), _)) => {
                    let d = match size {
                        Some(size) => too_large(&file.rel, size, opts.max_file_size),
                        None => Diagnostic::new(
                            Code::FileTooLarge,
                            format!(
                                "`{}` holds more than the {}-byte limit (its listed size was smaller); it was skipped",
                                file.rel, opts.max_file_size
                            ),
                        )
                        .in_file(&file.rel)
                        .help("a file that grows while it is scanned, or a special file reached through a link, is cut off at `max_file_size`"),
                    };
                    lock(&problems).push(d);
                }
                Ok((Limited::Read(len), open)) => {
                    read.fetch_add(1, Ordering::Relaxed);
                    bytes_read.fetch_add(len as u64, Ordering::Relaxed);
                    let outcome = process_file(&file.rel, &buffer[..len], &opts);
                    let outcome = (outcome.matched || outcome.binary || !outcome.diagnostics.is_empty())
                        .then(|| Stored::new(outcome));
                    // Not a tiny file that holds nothing: reading it again costs about what its
                    // entry would (a tree of a million one-line files made a 110 MB cache). Only
                    // a file whose size is what was read is cached.
                    let worth = (outcome.is_some() || len as u64 >= MIN_CACHED_SIZE)
                        && !outcome.as_ref().is_some_and(Stored::timed_out);
                    if let Some(stat) = open
                        .filter(|_| worth)
                        .and_then(|f| FileStat::of(&f.metadata().ok()?))
                        .filter(|s| s.size == len as u64)
                    {
                        misses.fetch_add(1, Ordering::Relaxed);
                        lock(&cached).push(CachedFile {
                            rel: file.rel.clone(),
                            stat,
                            outcome: outcome.clone().map(Box::new),
                        });
                    }
                    if let Some(outcome) = outcome {
                        lock(&outcomes).push((file.path, outcome));
                    }
                }
                Err(e) => lock(&problems).push(
                    Diagnostic::new(Code::IoError, format!("cannot read `{}`: {e}", file.rel))
                        .in_file(&file.rel)
                        .help("check the permissions; the rest of the scan went on"),
                ),
            });
            // One huge file must not pin its size in every thread for the rest of the scan.
            READ_BUFFER.with_borrow_mut(|buffer| {
                if buffer.capacity() > KEEP_BUFFER {
                    *buffer = vec![0; FIRST_READ];
                }
            });
        }
    };
    fs::walk(root, &config.scan, threads, &visit)?;
    crate::timings::mark("walk done");

    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let stored: Vec<Stored> = outcomes.into_iter().map(|(_, o)| o).collect();
    let decoded = stored
        .iter()
        .map(Stored::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let mut diagnostics = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats {
        files_seen: seen.into_inner(),
        files_read: read.into_inner(),
        bytes_read: bytes_read.into_inner(),
        ..Stats::default()
    };
    let project = project_for(root, config);
    let outcomes: Vec<&FileOutcome> = decoded.iter().map(|o| &**o).collect();
    let mut result = assemble(
        project,
        &outcomes,
        &config.risk,
        config.model.limits(),
        &mut stats,
    );
    diagnostics.append(&mut result.diagnostics);
    diagnostic::normalize(&mut diagnostics);
    result.diagnostics = diagnostics;
    stats.elapsed = started.elapsed();
    result.stats = stats;
    let for_cache = ForCache {
        files: cached.into_inner().unwrap_or_else(|e| e.into_inner()),
        misses: misses.into_inner(),
    };
    Ok((result, for_cache))
}

/// Sort per-file outcomes by path, build the model and embed its date-free analysis. Pure.
pub fn assemble(
    project: Project,
    outcomes: &[&FileOutcome],
    matrix: &crate::analysis::RiskMatrix,
    limits: model::Limits,
    stats: &mut Stats,
) -> ScanResult {
    let mut outcomes = outcomes.to_vec();
    outcomes.sort_by(|a, b| a.path.cmp(&b.path));
    let mut diagnostics = Vec::new();
    let mut sources = BTreeMap::new();
    for o in &outcomes {
        stats.files_matched += usize::from(o.matched);
        stats.binary_skipped += usize::from(o.binary);
        stats.files_annotated += usize::from(!o.annotations.is_empty());
        stats.annotations += o.annotations.len();
        diagnostics.extend_from_slice(&o.diagnostics);
        if let Some(text) = &o.text {
            sources.insert(o.path.clone(), Arc::clone(text));
        }
    }
    crate::timings::mark("outcomes collected");
    let annotations = outcomes.iter().flat_map(|o| o.annotations.iter());
    let (mut model, mut build_diags) = model::build_limited(project, annotations, limits);
    crate::timings::mark("model built");
    model.analysis = Some(crate::analysis::analyze(&model, matrix, None));
    crate::timings::mark("model analysed");
    diagnostics.append(&mut build_diags);
    diagnostic::normalize(&mut diagnostics);
    ScanResult {
        model,
        diagnostics,
        sources,
        stats: stats.clone(),
    }
}

/// The first `n` bytes of the buffer are the file, or it is over the limit (`None`: its size is
/// unknown, but it held more bytes than the limit).
enum Limited {
    Read(usize),
    TooLarge(Option<u64>),
}

/// Size of the first read: most source files fit, so they cost `open`, two `read`s and `close`,
/// as in ripgrep, with no `stat`.
const FIRST_READ: usize = 64 * 1024;
/// A worker's buffer that grew past this for one large file is given back afterwards.
const KEEP_BUFFER: usize = 1024 * 1024;

thread_local! {
    /// One read buffer per walker thread, reused for every file. It is never cleared, so the
    /// first read needs no zeroing.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; FIRST_READ]);
}

/// Read at most `limit` bytes of `path` into `buffer`. A file that fills the first read is
/// `stat`ed, so a 2 GB log is refused without reading it. The size alone is not enough either: a
/// file can grow after it was listed, and with `follow_symlinks = true` a link can lead to a file
/// whose size says nothing about its contents (`/proc/self/pagemap` reports 0 bytes and reads
/// without end), which `std::fs::read` would read until memory runs out.
///
/// With `keep`, the open file is returned too, for the scan cache to `fstat` it after the read
/// when the file is worth an entry (a stat taken after the read is safe there: a change after
/// the scan started moves the change time past the racy-entry limit, so the entry is dropped).
fn read_limited(
    path: &Path,
    limit: u64,
    buffer: &mut Vec<u8>,
    keep: bool,
) -> std::io::Result<(Limited, Option<std::fs::File>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let first = usize::try_from(limit.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(FIRST_READ);
    if buffer.len() < first {
        buffer.resize(first, 0);
    }
    let mut filled = 0;
    while filled < first {
        match file.read(&mut buffer[filled..first]) {
            Ok(0) => return Ok((Limited::Read(filled), keep.then_some(file))),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > limit {
        return Ok((Limited::TooLarge(Some(size)), None));
    }
    buffer.truncate(filled);
    buffer.reserve(usize::try_from(size.saturating_sub(filled as u64)).unwrap_or(0));
    let rest = limit.saturating_add(1).saturating_sub(filled as u64);
    (&mut file).take(rest).read_to_end(buffer)?;
    if buffer.len() as u64 > limit {
        return Ok((Limited::TooLarge(None), None));
    }
    Ok((Limited::Read(buffer.len()), keep.then_some(file)))
}

fn too_large(rel: &str, size: u64, limit: u64) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        format!("`{rel}` is {size} bytes, over the {limit}-byte limit; it was skipped"),
    )
    .in_file(rel)
    .help("raise `max_file_size` in threatmark.toml, or exclude the file")
}

/// The project name: from the configuration, else the root folder's name.
pub fn project_for(root: &Path, config: &Config) -> Project {
    project_named(config, &folder_name(root))
}

/// The name of a folder, as the default project name.
pub fn folder_name(root: &Path) -> String {
    let abs: PathBuf = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "threat model".into())
}

fn project_named(config: &Config, default_name: &str) -> Project {
    Project {
        name: config
            .project
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        description: config.project.description.clone(),
    }
}

/// A poisoned lock only means another worker panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
