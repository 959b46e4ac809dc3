//! The revision scan: a commit read from the object database (no checkout), its configuration
//! and ignore files from that commit, each blob through the per-file pipeline (or the blob
//! cache), and a snapshot the next scan of a descendant revision starts from.
//!
//! In a fresh clone (no snapshot), `diff` asks less of it: two revisions whose changed files
//! hold the same annotations have the same model ([`same_model_by_change`]), and a revision
//! compared with the work tree takes the work tree's outcome for each file that the index proves
//! to be the same blob ([`Reuse`]).
//!
//! @threat A diff computed from the wrong bytes (#diff_wrong_base) [stride: T,R; likelihood: unlikely; impact: major]:
//!   a base built from work-tree files that are not its blobs, or a shortcut that misses a change, would hide a change from the review
//! @control Reuse only what is proven the same (#proven_same): a work-tree outcome stands for a blob only when the index entry names that blob and its stat matches to the nanosecond, is not racy, and no attribute converts the bytes at checkout; any other ignore file, configuration or unread file means every blob is read; tests compare the output with the full computation
//! @mitigates #scanner against #diff_wrong_base with #proven_same

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Config;
use crate::diagnostic::{self, Diagnostic};
use crate::model::Project;
use crate::source::filter::TreeFilter;
use crate::source::git::{CleanIndex, EntryKind, GitError, GitRepo, ObjectId, Reader, TreeEntry};
use crate::store::cache::BlobCache;
use crate::store::snapshot::{Damaged, Origin, Snapshot, Stored};

use super::pipeline::{
    FileOptions, FileOutcome, ScanResult, assemble, is_candidate, process_file, project_named,
    too_large,
};
use super::{ScanError, Stats, config_key, lock};

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

/// The outcomes of a scan of the work tree, for a scan of a revision to take instead of reading
/// the blobs that the work tree's files provably are (`diff BASE` in a fresh clone: the work
/// tree is scanned for the head anyway, and most of the base's files are the same bytes).
pub struct Reuse<'a> {
    /// The configuration key of the work-tree scan: nothing is reused under another one.
    pub config_key: u64,
    /// The outcome of every work-tree file that contributes something.
    pub outcomes: &'a [Stored],
    /// Which work-tree files are which blobs.
    pub index: &'a CleanIndex,
}

impl std::fmt::Debug for Reuse<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reuse")
            .field("config_key", &self.config_key)
            .finish_non_exhaustive()
    }
}

/// Below this many folders, a revision's ignore-file probes run on one thread.
const PARALLEL_PROBES: usize = 512;

impl Reuse<'_> {
    /// Whether the work-tree walk reads the files of the revision as its tree filter does: each
    /// `.threatmarkignore` of the revision is in the work tree unchanged, and no folder that
    /// holds a file of the revision has another one (untracked, or added since).
    fn same_rules(
        &self,
        reader: &Reader,
        entries: &[(String, TreeEntry)],
        ignore: &[(String, ObjectId)],
        prefix: &str,
        threads: usize,
    ) -> bool {
        let at = |rel: &str| join(prefix, rel);
        if !ignore
            .iter()
            .all(|(rel, id)| self.same_blob(reader, &at(rel), *id))
        {
            return false;
        }
        let known: HashSet<&str> = ignore.iter().map(|(rel, _)| rel.as_str()).collect();
        let mut dirs: HashSet<&str> = HashSet::new();
        dirs.insert("");
        for (rel, _) in entries {
            let mut rest = rel.as_str();
            while let Some(i) = rest.rfind('/') {
                rest = &rest[..i];
                if !dirs.insert(rest) {
                    break;
                }
            }
        }
        // One `lstat` per folder of the tree (13,000 in babel), on every thread when there are
        // enough of them to pay for starting one.
        let threads = if dirs.len() < PARALLEL_PROBES {
            1
        } else {
            threads
        };
        let mut dirs: Vec<&str> = dirs.into_iter().collect();
        dirs.sort_unstable();
        let other = AtomicBool::new(false);
        let absent = |part: &[&str]| {
            for dir in part {
                let file = join(dir, crate::source::filter::IGNORE_FILE);
                if other.load(Ordering::Relaxed)
                    || !known.contains(file.as_str()) && self.index.exists(&at(&file))
                {
                    other.store(true, Ordering::Relaxed);
                    return;
                }
            }
        };
        let chunk = dirs.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            let mut parts = dirs.chunks(chunk);
            let first = parts.next();
            for part in parts {
                s.spawn(|| absent(part));
            }
            absent(first.unwrap_or_default());
        });
        !other.into_inner()
    }

    /// The work-tree file at `path` (from the repository's root) is the blob `id`.
    fn same_blob(&self, reader: &Reader, path: &str, id: ObjectId) -> bool {
        use crate::source::git::Conversion;
        match self.index.clean_blob(path, id) {
            Some(size) => match self.index.conversion {
                Conversion::None => true,
                Conversion::LineEnds => reader.blob_size(id).is_ok_and(|b| b == size),
                Conversion::Unknown => false,
            },
            _ => false,
        }
    }

    /// The files of `files` whose work-tree file is the same blob, with the work tree's outcome
    /// of each (for those that contribute something), and the files left to read.
    fn split<'f>(
        &self,
        repo: &GitRepo,
        files: &[(&'f str, ObjectId)],
        prefix: &str,
        opts: &FileOptions,
        threads: usize,
    ) -> (Vec<Stored>, Vec<(&'f str, ObjectId)>) {
        let outcomes: HashMap<&str, &Stored> =
            self.outcomes.iter().map(|o| (o.path.as_str(), o)).collect();
        let chunk = files.len().div_ceil(threads.max(1)).max(1);
        type Part<'f> = (Vec<Stored>, Vec<(&'f str, ObjectId)>);
        let parts: Vec<Part<'f>> = std::thread::scope(|s| {
            let workers: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    let outcomes = &outcomes;
                    s.spawn(move || {
                        let reader = repo.reader();
                        let mut reused = Vec::new();
                        let mut read = Vec::new();
                        for &(rel, id) in part {
                            // A file the scan does not read needs no proof (nor a `stat`). A
                            // lossy name may stand for two files of the work tree.
                            let same = is_candidate(rel, opts)
                                && !rel.contains('\u{FFFD}')
                                && self.same_blob(&reader, &join(prefix, rel), id);
                            match (same, outcomes.get(rel)) {
                                (true, Some(o)) => reused.push(Stored::clone(o)),
                                (true, None) => {}
                                (false, _) => read.push((rel, id)),
                            }
                        }
                        (reused, read)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let mut reused = Vec::new();
        let mut read = Vec::new();
        for (r, f) in parts {
            reused.extend(r);
            read.extend(f);
        }
        (reused, read)
    }
}

/// `prefix/rel`, or `rel` at the top.
fn join(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
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
    reuse: Option<&Reuse<'_>>,
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
    crate::timings::mark("tree listed");
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
    let reuse = reuse.filter(|r| {
        r.config_key == key
            && r.index.conversion != crate::source::git::Conversion::Unknown
            && r.same_rules(&reader, &entries, &listed, &target.prefix, threads)
    });
    crate::timings::mark("same rules");
    let (reused, unread) = match reuse {
        Some(r) => r.split(target.repo, &files, &target.prefix, &opts, threads),
        None => (Vec::new(), files.clone()),
    };
    crate::timings::mark("work-tree outcomes reused");
    let mut batch = read_blobs(target.repo, &unread, &opts, cache, threads)?;
    let mut outcomes: Vec<Stored> = std::mem::take(&mut batch.outcomes)
        .into_iter()
        .map(Stored::new)
        .chain(reused)
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

/// Whether two revisions have the same model, told from the files that differ between their
/// trees alone (`diff A..B` with no snapshot, as in a fresh clone): with the same configuration
/// and the same ignore files, every other file is the same blob with the same outcome, so the
/// models are equal when each changed file holds the same annotations on both sides (what
/// [`Snapshot::same_model_input`] would find from two full snapshots). `None` when this cannot
/// be told cheaply (the configuration or an ignore file changed, an ignore file is over its
/// limit): then both are scanned.
pub fn same_model_by_change(
    a: &RevTarget<'_>,
    b: &RevTarget<'_>,
    config: Option<&Config>,
    threads: usize,
    cache: &BlobCache,
) -> Result<Option<bool>, ScanError> {
    let reader = a.repo.reader();
    let (tree_a, tree_b) = (reader.tree_of(a.commit)?, reader.tree_of(b.commit)?);
    let config_a = rev_config(&reader, a, tree_a, config)?;
    let config_b = rev_config(&reader, b, tree_b, config)?;
    if config_key(&config_a) != config_key(&config_b) || a.prefix != b.prefix {
        return Ok(None);
    }
    crate::timings::mark("rev configs");
    let under = |p: &str| -> Option<String> {
        if a.prefix.is_empty() {
            Some(p.to_string())
        } else {
            p.strip_prefix(&format!("{}/", a.prefix))
                .map(str::to_string)
        }
    };
    let changes: Vec<(String, crate::source::git::Change)> = reader
        .changes(tree_a, tree_b)?
        .into_iter()
        .filter_map(|c| under(&c.path).map(|rel| (rel, c)))
        .collect();
    crate::timings::mark("tree diff");
    if changes
        .iter()
        .any(|(rel, _)| crate::source::filter::is_ignore_file(rel))
    {
        return Ok(None);
    }
    // The ignore files that decide whether a changed path is scanned: those of its folders
    // (the same in both trees, none changed).
    let mut dirs: HashSet<String> = HashSet::new();
    for (rel, _) in &changes {
        let mut rest = rel.as_str();
        dirs.insert(String::new());
        while let Some(i) = rest.rfind('/') {
            rest = &rest[..i];
            if !dirs.insert(rest.to_string()) {
                break;
            }
        }
    }
    let mut dirs: Vec<String> = dirs.into_iter().collect();
    dirs.sort();
    let folders: Vec<String> = dirs
        .iter()
        .map(|dir| match dir.is_empty() {
            true => a.prefix.to_string(),
            false => join(&a.prefix, dir),
        })
        .collect();
    let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
    let mut ignore_files = Vec::new();
    for (i, id) in reader.blobs_in_folders(tree_a, &folders, crate::source::filter::IGNORE_FILE)? {
        if reader.blob_size(id)? > crate::source::filter::MAX_IGNORE_FILE_BYTES {
            return Ok(None);
        }
        let rel = join(&dirs[i], crate::source::filter::IGNORE_FILE);
        ignore_files.push((rel, reader.blob(id)?));
    }
    crate::timings::mark("ignore files read");
    let mut problems = Vec::new();
    let filter = TreeFilter::new(&config_a.scan, &ignore_files, &mut problems)?;
    if !problems.is_empty() {
        return Ok(None);
    }
    let scanned = |rel: &str, side: Option<(ObjectId, EntryKind)>| match side {
        Some((id, EntryKind::File)) if !filter.is_ignored(rel) => Some(id),
        _ => None,
    };
    let opts = FileOptions::from_config(&config_a);
    let paths: Vec<(&str, Option<ObjectId>, Option<ObjectId>)> = changes
        .iter()
        .map(|(rel, c)| (rel.as_str(), scanned(rel, c.old), scanned(rel, c.new)))
        .filter(|(_, old, new)| old.is_some() || new.is_some())
        .collect();
    if !same_annotations(a.repo, &paths, &opts, cache, threads)? {
        crate::timings::mark("a changed annotation found");
        return Ok(Some(false));
    }
    crate::timings::mark("changed blobs read");
    Ok(Some(true))
}

/// Whether each changed path holds the same annotations on both sides (a missing side, a file
/// not scanned or over the size limit holds none). One pool of threads takes the paths in
/// turn, both sides of a path on the same thread, and the first path that differs stops them
/// all: then both trees are scanned in full, and what was read here is in `cache`.
fn same_annotations(
    repo: &GitRepo,
    paths: &[(&str, Option<ObjectId>, Option<ObjectId>)],
    opts: &FileOptions,
    cache: &BlobCache,
    threads: usize,
) -> Result<bool, GitError> {
    let next = AtomicUsize::new(0);
    let differs = AtomicBool::new(false);
    let failure: Mutex<Option<GitError>> = Mutex::default();
    let work = || {
        let reader = repo.reader();
        let side = |rel: &str, id: Option<ObjectId>| match id {
            Some(id) => rev_file(&reader, rel, id, opts, cache).map(|file| match file {
                RevFile::Done(outcome, _) => outcome.annotations,
                RevFile::Skipped | RevFile::TooLarge(_) => Vec::new(),
            }),
            None => Ok(Vec::new()),
        };
        while !differs.load(Ordering::Relaxed)
            && lock(&failure).is_none()
            && let Some(&(rel, old, new)) = paths.get(next.fetch_add(1, Ordering::Relaxed))
        {
            // The new version is parsed as an edit of the old one where tree-sitter parses.
            let same = crate::comments::with_prior_parse(|| {
                side(rel, old).and_then(|old| Ok(old == side(rel, new)?))
            });
            match same {
                Ok(true) => {}
                Ok(false) => differs.store(true, Ordering::Relaxed),
                Err(e) => {
                    lock(&failure).get_or_insert(e);
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.clamp(1, paths.len().max(1)) {
            s.spawn(work);
        }
        work();
    });
    match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(!differs.into_inner()),
    }
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
