//! The work-tree scan: a parallel walk of a folder on disk, each file read with a size limit
//! and run through the per-file pipeline (or taken from the scan cache when its stat is
//! unchanged), the outcomes sorted by path before the model is built, so the model is
//! byte-identical whatever the thread count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::config::Config;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::model::Project;
use crate::source::fs::{self, Found, FoundFile};
use crate::source::{at, eof};
use crate::store::scan_cache::{self, CachedFile, FileStat, Hit, Plain, ScanCache};
use crate::store::snapshot::Stored;

use super::pipeline::{
    FileOptions, FileOutcome, ScanResult, assemble, is_candidate, process_file, project_named,
    too_large,
};
use super::{ScanError, Stats, lock};

/// Scan a directory on disk. `on_file` is called once per file seen (for progress bars).
pub fn scan_dir(
    root: &Path,
    config: &Config,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
) -> Result<ScanResult, ScanError> {
    scan_dir_cached(root, config, threads, on_file, None, false).map(|(result, _)| result)
}

/// Files smaller than this that contribute nothing are not kept in the scan cache one by one,
/// only in their folder's fingerprint.
const MIN_CACHED_SIZE: u64 = 512;

/// The folders' sums, by folder key.
type Folders = HashMap<u64, FolderSum, foldhash::fast::RandomState>;

/// How many locks the folders' sums are split over during a walk.
const FOLDER_SHARDS: usize = 16;

/// One folder's files that contribute nothing and are settled, as one scan finds them: the
/// wrapping sum of their `scan_cache::folder_entry` hashes and their count.
#[derive(Default)]
struct FolderSum {
    sum: u64,
    count: u64,
    /// Files not read yet: read only when the folder's fingerprint is not the cached one.
    pending: Pending,
}

/// A folder's files that a warm scan defers to its fingerprint: each file in a folder the last
/// scan fingerprinted that has no entry with its path and is settled. Kept compact (a warm
/// scan of a million small files defers most of them): the folder's path once, the names one
/// after another, each ended by a `/` (which no name holds), and the sum, count and total size
/// of their entries.
#[derive(Default)]
struct Pending {
    dir: Option<PathBuf>,
    /// The folder below the scanned one, as bytes (what its key was taken from).
    folder: Vec<u8>,
    /// Files under [`MIN_CACHED_SIZE`] (no entry of their own in the cache).
    names: Vec<u8>,
    /// The others, in the order of `kept`.
    large: Vec<u8>,
    /// What the cache keeps of each of `large` when it still holds nothing: its [`Plain`]
    /// (found after the walk only if the folder changed, instead of a lookup per file), its
    /// `folder_entry` and size.
    kept: Vec<(Plain, u64, u64)>,
    sum: u64,
    count: u64,
    bytes: u64,
}

impl Pending {
    /// The files named in `names`, as the walk found them.
    fn files(&self, root: &Path, names: &[u8]) -> impl Iterator<Item = FoundFile> {
        let dir = self.dir.clone().unwrap_or_default();
        let root = root.to_path_buf();
        let names: Vec<PathBuf> = names
            .split(|b| *b == b'/')
            .filter(|n| !n.is_empty())
            .map(name_of)
            .collect();
        names.into_iter().map(move |name| {
            let path = dir.join(name);
            let rel = fs::relative(&root, &path);
            FoundFile { path, rel }
        })
    }
}

/// A relative path's folder and name, as bytes: split at its last `/`.
fn folder_and_name(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(at) => (&rel[..at], &rel[at + 1..]),
        None => (&[], rel),
    }
}

/// Whether a file of this name can wait for its folder's fingerprint: `name_of` must turn its
/// bytes back into the name (on unix any name; elsewhere only one that is Unicode, as a lone
/// surrogate would come back as U+FFFD), and it must be a name, not `.` or `..` (which a path
/// of another spelling than the walker's could end with). Other files are read.
fn deferrable(name: &[u8]) -> bool {
    !matches!(name, b"" | b"." | b"..") && (cfg!(unix) || std::str::from_utf8(name).is_ok())
}

/// A file name from its raw bytes.
fn name_of(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// The key of a file's folder and the file's path below `root`, as raw bytes (two names that
/// are not UTF-8 stay two).
fn place<'a>(root: &Path, path: &'a Path) -> (u64, &'a [u8]) {
    let (folder, rel) = split_place(root, path);
    (scan_cache::folder_key(folder), rel)
}

/// The folder and the path of [`place`]: `path.strip_prefix(root)` and its parent, as bytes.
/// A walker's path is split at its last `/` instead: parsing components for every file of a
/// scan that writes the cache was 4% of its CPU on 50,000 files.
fn split_place<'a>(root: &Path, path: &'a Path) -> (&'a [u8], &'a [u8]) {
    if let Some(rel) = fs::below(root, path) {
        let folder = rel.iter().rposition(|b| *b == b'/').unwrap_or(0);
        return (&rel[..folder], rel);
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    let folder = rel.parent().unwrap_or(Path::new(""));
    (
        folder.as_os_str().as_encoded_bytes(),
        rel.as_os_str().as_encoded_bytes(),
    )
}

/// What a scan found for the next scan's cache.
#[derive(Debug)]
pub struct ForCache {
    /// Every file read or reused that contributes something, with its stat.
    pub files: Vec<CachedFile>,
    /// Every other file worth an entry, as a fingerprint; only files settled at `started`.
    pub plain: Vec<Plain>,
    /// Each folder's fingerprint of its files that contribute nothing and are settled.
    pub folders: Vec<Plain>,
    /// Files read and kept for the cache although a cache was given (new, changed, or not
    /// cached before): the cache on disk is out of date when there is any.
    pub misses: usize,
    /// When the scan started, before any file was read: the time of the racy-entry rule.
    pub started: std::time::SystemTime,
    /// What the walk kept of each folder (`None` when links are followed).
    pub(crate) listings: Option<crate::source::listing::Listings>,
    /// The outcome of every file that contributes something, sorted by path (`diff` builds
    /// its base revision from them).
    pub outcomes: Vec<Stored>,
    /// Files read (or found unreadable, or over the size limit) and problems the walk met,
    /// cache or not: none when every file came from the cache, and only then do the entries
    /// name everything the result depends on (see [`ForCache::identity`]).
    pub(crate) fresh: usize,
}

impl ForCache {
    /// How many files it holds.
    pub fn entries(&self) -> usize {
        self.files.len() + self.plain.len() + self.folders.len()
    }

    /// What the cache keeps (entries, fingerprints, listings, counters), moved out; the
    /// outcomes stay here for the model's build, so the cache can be written beside it.
    pub(crate) fn take_entries(&mut self) -> ForCache {
        ForCache {
            files: std::mem::take(&mut self.files),
            plain: std::mem::take(&mut self.plain),
            folders: std::mem::take(&mut self.folders),
            misses: self.misses,
            started: self.started,
            listings: self.listings.take(),
            outcomes: Vec::new(),
            fresh: self.fresh,
        }
    }

    /// Every file the walk kept, as a 128-bit fingerprint: the path and stat of each file that
    /// contributes something, each other file's fingerprint and each folder's (paths and
    /// stats too). Wrapping sums of per-entry hashes (and the counts), so the walker threads'
    /// order does not matter. When nothing was [`fresh`](Self::fresh), every outcome came
    /// from a settled cache entry of that path and stat, so two walks with one identity have
    /// the same outcomes (the `scan` command's memo of its results rests on this).
    pub(crate) fn identity(&self) -> [u64; 2] {
        use std::hash::BuildHasher;
        let seeds = [0x6964_656e_7469_7479_u64, 0x6d65_6d6f_6b65_7973];
        seeds.map(|seed| {
            let state = foldhash::quality::FixedState::with_seed(seed);
            let files = self.files.iter().fold(0u64, |sum, f| {
                let s = f.stat;
                sum.wrapping_add(state.hash_one((&f.rel, s.ino, s.size, s.mtime, s.ctime)))
            });
            let pairs = |list: &[Plain], tag: u8| {
                list.iter().fold(0u64, |sum, p| {
                    sum.wrapping_add(state.hash_one((tag, p.key, p.fingerprint)))
                })
            };
            state.hash_one((
                files,
                self.files.len(),
                pairs(&self.plain, 1),
                self.plain.len(),
                pairs(&self.folders, 2),
                self.folders.len(),
            ))
        })
    }
}

/// What a walk found, before the model is built from it ([`Walked::assemble`]): a caller that
/// can tell from [`ForCache`] alone that it knows the result (see [`ForCache::identity`])
/// skips decoding the outcomes and building the model.
pub(crate) struct Walked {
    pub(crate) found: ForCache,
    problems: Vec<Diagnostic>,
    stats: Stats,
    started: Instant,
}

impl Walked {
    /// What the walk keeps for the cache, and its counters (files seen and read, bytes read)
    /// timed to now, for a caller that needs no model.
    pub(crate) fn into_found_and_stats(self) -> (ForCache, Stats) {
        let stats = Stats {
            elapsed: self.started.elapsed(),
            ..self.stats
        };
        (self.found, stats)
    }

    /// Decode the outcomes and build the model, as [`scan_dir_cached`] returns it.
    pub(crate) fn assemble(
        self,
        root: &Path,
        config: &Config,
    ) -> Result<(ScanResult, ForCache), ScanError> {
        let Walked {
            found,
            problems: mut diagnostics,
            mut stats,
            started,
        } = self;
        let decoded = found
            .outcomes
            .iter()
            .map(Stored::decode)
            .collect::<Result<Vec<_>, _>>()?;
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
        Ok((result, found))
    }
}

/// [`scan_dir`] with the last scan's cache (of the same configuration: see [`config_key`](super::config_key)): a
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
    walk_watching(root, config, threads, on_file, cache, record, None)?.assemble(root, config)
}

/// The walk of [`scan_dir_cached`], without building the model ([`Walked::assemble`]),
/// recording in `watch` what the paths watched are (see [`fs::Watch`]).
pub(crate) fn walk_watching(
    root: &Path,
    config: &Config,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
    cache: Option<&ScanCache>,
    record: bool,
    watch: Option<std::sync::Arc<fs::Watch>>,
) -> Result<Walked, ScanError> {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let opts = FileOptions::from_config(config);
    // Each outcome with the path it was read from: two names that are not UTF-8 can map to one
    // lossy `rel`, and the real path then keeps their order independent of thread timing.
    let outcomes: Mutex<Vec<(PathBuf, Stored)>> = Mutex::new(Vec::new());
    let problems: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
    let cached: Mutex<Vec<CachedFile>> = Mutex::new(Vec::new());
    let plain: Mutex<Vec<Plain>> = Mutex::new(Vec::new());
    let misses = AtomicUsize::new(0);
    let fresh = AtomicUsize::new(0);
    let seen = AtomicUsize::new(0);
    let read = AtomicUsize::new(0);
    let bytes_read = AtomicU64::new(0);

    // Each folder's files that contribute nothing, with settled times: what the cache keeps
    // of small ones (see `ScanCache::folder`), tracked when a cache is read or written.
    let track = record || cache.is_some();
    // The walkers' spelling of the root, which their paths start with (see `place`).
    let walk_root = fs::without_trailing_separators(root);
    // In shards by key: the walker threads are mostly in different folders, and a deferred
    // file grows its folder's lists under the lock (one shared map made them wait on each
    // other: ten times the `futex` calls).
    let folders: [Mutex<Folders>; FOLDER_SHARDS] = Default::default();
    let shard = |key: u64| lock(&folders[(key % FOLDER_SHARDS as u64) as usize]);
    let add = |place: &Option<(u64, &[u8])>, stat: &FileStat| {
        if let Some((key, rel)) = place
            && stat.settled(started_at)
        {
            let entry = scan_cache::folder_entry(rel, stat);
            let mut folders = shard(*key);
            let folder = folders.entry(*key).or_default();
            folder.sum = folder.sum.wrapping_add(entry);
            folder.count += 1;
        }
    };

    // Asked on the first file read: a warm walk that reads nothing pays no `statfs`.
    let short_is_end = std::sync::OnceLock::new();
    let short_is_end = || {
        *short_is_end.get_or_init(|| eof::short_reads_end_files(root, config.scan.follow_symlinks))
    };
    let read_one = |file: FoundFile| {
        fresh.fetch_add(1, Ordering::Relaxed);
        let place = track.then(|| place(&walk_root, &file.path));
        READ_BUFFER.with_borrow_mut(|buffer| match read_limited(&file.path, opts.max_file_size, buffer, record, short_is_end()) {
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
            Ok((Limited::Read(len), stat)) => {
                read.fetch_add(1, Ordering::Relaxed);
                bytes_read.fetch_add(len as u64, Ordering::Relaxed);
                let outcome = process_file(&file.rel, &buffer[..len], &opts);
                let outcome = (outcome.matched || outcome.binary || !outcome.diagnostics.is_empty())
                    .then(|| Stored::new(outcome));
                // Not a tiny file that holds nothing: reading it again costs about what its
                // entry would (a tree of a million one-line files made a 110 MB cache). Only
                // a file whose size is what was read is cached. A tiny one counts in its
                // folder's fingerprint.
                let worth = (outcome.is_some() || len as u64 >= MIN_CACHED_SIZE)
                    && !outcome.as_ref().is_some_and(Stored::timed_out);
                let stat = stat
                    .filter(|_| worth || (outcome.is_none() && place.is_some()))
                    .and_then(FileStat::of_stat)
                    .filter(|s| s.size == len as u64);
                if outcome.is_none()
                    && let Some(stat) = &stat
                {
                    add(&place, stat);
                }
                if let Some(stat) = stat.filter(|_| worth) {
                    misses.fetch_add(1, Ordering::Relaxed);
                    match &outcome {
                        Some(outcome) => lock(&cached).push(CachedFile {
                            rel: file.rel.clone(),
                            stat,
                            outcome: Some(Box::new(outcome.clone())),
                        }),
                        None if stat.settled(started_at) => {
                            lock(&plain).push(Plain::new(&file.rel, &stat))
                        }
                        None => {}
                    }
                }
                if let Some(outcome) = outcome {
                    lock(&outcomes).push((file.path.clone(), outcome));
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
    };

    let visit = |found: Found| match found {
        Found::Problem(d) => {
            fresh.fetch_add(1, Ordering::Relaxed);
            lock(&problems).push(d);
        }
        Found::File(file) => {
            seen.fetch_add(1, Ordering::Relaxed);
            on_file();
            if !is_candidate(&file.rel, &opts) {
                return;
            }
            // Unchanged since the last scan: its outcome, without reading it.
            let kept = cache.and_then(|c| c.get(&file.rel));
            // Only a cache's folders need it here (`read_one` finds it again for itself).
            let place = cache.is_some().then(|| place(&walk_root, &file.path));
            // A file that held nothing, in a folder the last scan fingerprinted: read only if
            // the folder's fingerprint changed (decided after the walk, where a larger file's
            // own entry is looked up only then: the lookup is a cache miss per file).
            let in_folder =
                kept.is_none() && place.and_then(|(key, _)| cache?.folder(key)).is_some();
            let hit = match (kept, in_folder) {
                (Some(kept), _) => Some(Hit::File(kept)),
                (None, true) => None,
                (None, false) => cache.and_then(|c| c.plain_entry(&file.rel)).map(Hit::Plain),
            };
            let now = (hit.is_some() || in_folder)
                .then(|| at::stat(&file.path).ok())
                .flatten()
                .and_then(FileStat::of_stat)
                .filter(|stat| stat.size <= opts.max_file_size);
            match (hit, now) {
                (Some(Hit::File(hit)), Some(stat)) if stat == hit.stat => {
                    read.fetch_add(1, Ordering::Relaxed);
                    bytes_read.fetch_add(stat.size, Ordering::Relaxed);
                    if let Some(outcome) = &hit.outcome {
                        lock(&outcomes).push((file.path.clone(), Stored::clone(outcome)));
                    }
                    lock(&cached).push(hit.clone());
                    return;
                }
                (Some(Hit::Plain(hit)), Some(stat))
                    if scan_cache::fingerprint(&file.rel, &stat) == hit.fingerprint =>
                {
                    read.fetch_add(1, Ordering::Relaxed);
                    bytes_read.fetch_add(stat.size, Ordering::Relaxed);
                    lock(&plain).push(hit);
                    add(&place, &stat);
                    return;
                }
                (_, Some(stat)) if in_folder && stat.settled(started_at) => {
                    // The folder and the name from the bytes `place` split off (parsing the
                    // path's components again ran for every file of a warm scan).
                    let split = place.map(|(key, rel)| (key, rel, folder_and_name(rel)));
                    if let Some((key, rel, (folder, name))) = split
                        && deferrable(name)
                    {
                        let entry = scan_cache::folder_entry(rel, &stat);
                        // A name that is not UTF-8 may share its lossy path, and so its key,
                        // with another, which the cache keeps for neither: recalling its entry
                        // would count one the cache cannot hold and rewrite it every run.
                        let large = (stat.size >= MIN_CACHED_SIZE
                            && std::str::from_utf8(name).is_ok())
                        .then(|| (Plain::new(&file.rel, &stat), entry, stat.size));
                        let mut folders = shard(key);
                        let pending = &mut folders.entry(key).or_default().pending;
                        if pending.dir.is_none() {
                            pending.dir = file.path.parent().map(Path::to_path_buf);
                            pending.folder = folder.to_vec();
                        }
                        // One folder key for two folders (a collision): not deferred.
                        if pending.folder == folder {
                            let names = match large {
                                None => &mut pending.names,
                                Some(large) => {
                                    pending.kept.push(large);
                                    &mut pending.large
                                }
                            };
                            names.extend_from_slice(name);
                            names.push(b'/');
                            pending.sum = pending.sum.wrapping_add(entry);
                            pending.count += 1;
                            pending.bytes += stat.size;
                            return;
                        }
                    }
                }
                _ => {}
            }
            read_one(file);
        }
    };
    // The listing cache is written by a scan that read a scan cache, and read by the next: a
    // cold scan and the first one (which writes the scan cache) walk recording nothing, as
    // `stat`ing every folder to record it made the first run 10% slower on 22,600 folders.
    let walked = match cache.is_some() {
        true => fs::walk_listed(
            root,
            &config.scan,
            threads,
            &visit,
            cache.and_then(|c| c.listings.as_ref()),
            started_at,
            watch,
        )?,
        false => {
            fs::walk_watching(root, &config.scan, threads, watch, &visit)?;
            None
        }
    };
    crate::timings::mark("walk done");
    if walked.as_ref().is_some_and(|w| w.changed) && cache.is_some() {
        misses.fetch_add(1, Ordering::Relaxed);
    }

    // The deferred files: none is read in a folder whose fingerprint is the cached one (the
    // same paths with the same stats, all settled, all contributing nothing then), and the
    // larger ones keep their entries; in one whose fingerprint changed, a larger file whose
    // own entry holds is taken from it, and the others are read.
    let mut again = Vec::new();
    let mut recalled = Vec::new();
    for shard in &folders {
        for (key, folder) in lock(shard).iter_mut() {
            let pending = std::mem::take(&mut folder.pending);
            if pending.count == 0 {
                continue;
            }
            let sum = folder.sum.wrapping_add(pending.sum);
            let count = folder.count + pending.count;
            if cache.and_then(|c| c.folder(*key))
                == Some(scan_cache::folder_fingerprint(sum, count))
            {
                read.fetch_add(pending.count as usize, Ordering::Relaxed);
                bytes_read.fetch_add(pending.bytes, Ordering::Relaxed);
                (folder.sum, folder.count) = (sum, count);
                recalled.extend(pending.kept.iter().map(|(plain, _, _)| *plain));
                continue;
            }
            again.extend(pending.files(root, &pending.names));
            let large = pending.files(root, &pending.large).zip(&pending.kept);
            for (file, (now, entry, size)) in large {
                let was = cache.and_then(|c| c.plain_entry(&file.rel));
                if was.is_some_and(|was| was.fingerprint == now.fingerprint) {
                    read.fetch_add(1, Ordering::Relaxed);
                    bytes_read.fetch_add(*size, Ordering::Relaxed);
                    recalled.push(*now);
                    folder.sum = folder.sum.wrapping_add(*entry);
                    folder.count += 1;
                } else {
                    again.push(file);
                }
            }
        }
    }
    if !again.is_empty() {
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads.clamp(1, again.len()) {
                s.spawn(|| {
                    while let Some(file) = again.get(next.fetch_add(1, Ordering::Relaxed)) {
                        read_one(file.clone());
                    }
                });
            }
        });
    }
    let folders: Vec<Plain> = (folders.into_iter())
        .flat_map(|shard| shard.into_inner().unwrap_or_else(|e| e.into_inner()))
        .filter(|(_, f)| f.count > 0)
        .map(|(key, f)| Plain {
            key,
            fingerprint: scan_cache::folder_fingerprint(f.sum, f.count),
        })
        .collect();
    if let Some(cache) = cache {
        let changed = folders
            .iter()
            .filter(|f| cache.folder(f.key) != Some(f.fingerprint));
        misses.fetch_add(changed.count(), Ordering::Relaxed);
    }

    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let stored: Vec<Stored> = outcomes.into_iter().map(|(_, o)| o).collect();
    let stats = Stats {
        files_seen: seen.into_inner(),
        files_read: read.into_inner(),
        bytes_read: bytes_read.into_inner(),
        ..Stats::default()
    };
    let found = ForCache {
        files: cached.into_inner().unwrap_or_else(|e| e.into_inner()),
        plain: {
            let mut plain = plain.into_inner().unwrap_or_else(|e| e.into_inner());
            plain.append(&mut recalled);
            plain
        },
        folders,
        misses: misses.into_inner(),
        started: started_at,
        listings: walked.map(|w| w.listings),
        outcomes: stored,
        fresh: fresh.into_inner(),
    };
    Ok(Walked {
        found,
        problems: problems.into_inner().unwrap_or_else(|e| e.into_inner()),
        stats,
        started,
    })
}
/// The first `n` bytes of the buffer are the file, or it is over the limit (`None`: its size is
/// unknown, but it held more bytes than the limit).
enum Limited {
    Read(usize),
    TooLarge(Option<u64>),
}

/// Size of the first read: most source files fit, so they cost `open`, one `read` and `close`
/// where a short read is their end (see [`eof`]), else two `read`s as in ripgrep; no `stat`.
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
/// With `keep`, the file's stat is returned too, for the scan cache (a stat taken after the
/// read is safe there: a change after the scan started moves the change time past the
/// racy-entry limit, so the entry is dropped). It is taken after the first read that returns
/// bytes: a regular file whose size is what was read is then whole without the read that
/// returns its end, so a scan that writes the cache makes the system calls of one that does
/// not (`open`, `read`, `fstat`, `close` against `open`, `read`, `read`, `close`). Without
/// `keep` and with `short_is_end` (the walk's root is where [`eof::short_reads_end_files`]
/// holds), a short first read not on a page boundary is the end: `open`, `read`, `close`.
fn read_limited(
    path: &Path,
    limit: u64,
    buffer: &mut Vec<u8>,
    keep: bool,
    short_is_end: bool,
) -> std::io::Result<(Limited, Option<at::Stat>)> {
    use std::io::Read;
    let mut file = at::open(path)?;
    let stat = |file: &std::fs::File| keep.then(|| at::fstat(file).ok()).flatten();
    let first = usize::try_from(limit.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(FIRST_READ);
    if buffer.len() < first {
        buffer.resize(first, 0);
    }
    let mut filled = 0;
    let mut ask = keep;
    while filled < first {
        match file.read(&mut buffer[filled..first]) {
            Ok(0) => return Ok((Limited::Read(filled), stat(&file))),
            Ok(n) => {
                filled += n;
                // Without a stat to keep, a short read is the end where `eof` says so.
                if !keep && short_is_end && filled < first && filled % eof::PAGE != 0 {
                    return Ok((Limited::Read(filled), None));
                }
                // Once: a file that is not what the stat says is read to its end as before.
                if std::mem::take(&mut ask)
                    && filled < first
                    && let Some(now) = stat(&file).filter(|s| s.is_file && s.size == filled as u64)
                {
                    return Ok((Limited::Read(filled), Some(now)));
                }
            }
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
    Ok((Limited::Read(buffer.len()), stat(&file)))
}

/// The project name: from the configuration, else the root folder's name.
pub fn project_for(root: &Path, config: &Config) -> Project {
    project_named(config, &fs::folder_name(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threats(root: &Path, cache: Option<&ScanCache>) -> (Vec<String>, ForCache) {
        let (result, found) =
            scan_dir_cached(root, &Config::default(), 2, &|| {}, cache, true).expect("scan");
        let ids = result.model.threats.iter().map(|t| t.id.clone()).collect();
        (ids, found)
    }

    /// The walker's paths split at their last `/` give the bytes that parsing components gives,
    /// for roots and paths of every shape (joined or spelled out, `.` and empty components,
    /// trailing separators, names that are not UTF-8, paths not below the root).
    #[test]
    fn split_place_is_strip_prefix_and_parent() {
        // `|`-separated: the empty root is one of them.
        let roots = "/|/tmp/small|/tmp/small/|.|./|x|x/|x/.|./x|x//|x/./y||a/b|..|../x";
        let rels = "a|a/b|a/b/c.rs|é/ü.py|.hidden/x|a..b|..|a/..|./a|a/./b|a//b|a/|a/.|.";
        let mut paths: Vec<(PathBuf, PathBuf)> = Vec::new();
        for root in roots.split('|') {
            for rel in rels.split('|') {
                paths.push((root.into(), Path::new(root).join(rel)));
                paths.push((root.into(), format!("{root}/{rel}").into()));
                paths.push((root.into(), format!("{root}{rel}").into()));
                paths.push((root.into(), format!("y/{rel}").into()));
            }
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                let name = std::ffi::OsStr::from_bytes(b"n\xff/\xfe.rs");
                paths.push((root.into(), Path::new(root).join(name)));
            }
        }
        for (root, path) in &paths {
            let rel = path.strip_prefix(root).unwrap_or(path);
            let folder = rel.parent().unwrap_or(Path::new(""));
            let expected = (
                folder.as_os_str().as_encoded_bytes(),
                rel.as_os_str().as_encoded_bytes(),
            );
            assert_eq!(split_place(root, path), expected, "{root:?} {path:?}");
        }
    }

    /// With the stat kept for the cache, a file is read to the same bytes as without it, and its
    /// stat is the one std gives: at every size around the first read and the limit, for a
    /// limit below the first read (a file one byte over it is too large, not cut), and for a
    /// file whose size says nothing of its contents.
    #[cfg(unix)]
    #[test]
    fn reading_with_the_stat_reads_what_reading_to_the_end_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sizes = vec![0, 1, 99, 100, 101, 511, 512, 4095, 4096, 4097, 8192];
        sizes.extend([
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            3 * FIRST_READ + 7,
        ]);
        let of = |limited: &Limited| match limited {
            Limited::Read(n) => Some(*n),
            Limited::TooLarge(_) => None,
        };
        for size in sizes {
            let path = dir.path().join(format!("f{size}"));
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &bytes).expect("write");
            let meta = at::of(&std::fs::metadata(&path).expect("metadata")).expect("stat");
            for limit in [100, 1 << 20] {
                let (mut a, mut b) = (vec![0; FIRST_READ], vec![0; FIRST_READ]);
                let mut c = vec![0; FIRST_READ];
                let (plain, none) = read_limited(&path, limit, &mut a, false, false).expect("read");
                let (short, _) = read_limited(&path, limit, &mut c, false, true).expect("read");
                let (kept, stat) = read_limited(&path, limit, &mut b, true, true).expect("read");
                assert_eq!(of(&plain), of(&kept), "size {size}, limit {limit}");
                assert_eq!(of(&plain), of(&short), "size {size}, limit {limit}");
                if let Some(n) = of(&short) {
                    assert_eq!(&c[..n], &bytes[..], "size {size}");
                }
                assert!(none.is_none());
                if let Some(n) = of(&kept) {
                    assert_eq!((&a[..n], &b[..n]), (&bytes[..], &bytes[..]), "size {size}");
                    assert_eq!(stat, Some(meta), "size {size}, limit {limit}");
                } else {
                    assert!(size as u64 > limit, "size {size}, limit {limit}");
                }
            }
        }
        // A size of 0 and some text: read to its end.
        #[cfg(target_os = "linux")]
        {
            let mut buffer = vec![0; FIRST_READ];
            let (read, stat) = read_limited(
                Path::new("/proc/self/status"),
                1 << 20,
                &mut buffer,
                true,
                false,
            )
            .expect("read");
            assert!(of(&read).is_some_and(|n| n > 100), "read whole");
            assert_eq!(stat.map(|s| s.size), Some(0));
        }
    }

    /// Where short reads are trusted, bytes fewer than the first read asked for are the whole
    /// file, read with one `read`: a pipe whose writer wrote them and stays open gives them
    /// without an end, and a second `read` would wait for the writer to close it. Bytes that
    /// end on a page boundary are read to the end (the writer closes it after a while).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_short_read_is_the_end_only_where_trusted_and_off_a_page_boundary() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let page = eof::PAGE;
        for (size, trusted, one_read) in [
            (100, true, true),
            (page - 1, true, true),
            (3 * page + 1, true, true),
            (page, true, false),
            (3 * page, true, false),
            (100, false, false),
        ] {
            let path = dir.path().join(format!("fifo{size}{trusted}"));
            let mode = rustix::fs::Mode::from_raw_mode(0o600);
            rustix::fs::mknodat(rustix::fs::CWD, &path, rustix::fs::FileType::Fifo, mode, 0)
                .expect("fifo");
            let (done, wait) = std::sync::mpsc::channel::<()>();
            let writer = std::thread::spawn({
                let path = path.clone();
                move || {
                    let mut pipe = std::fs::File::options()
                        .write(true)
                        .open(&path)
                        .expect("fifo");
                    pipe.write_all(&vec![b'x'; size]).expect("write");
                    // Open until the reader is done; where a second read is expected it waits
                    // for this close, so give up soon there and late elsewhere (a loaded machine).
                    let patience = if one_read { 60 } else { 1 };
                    wait.recv_timeout(std::time::Duration::from_secs(patience))
                        .is_ok()
                }
            });
            let mut buffer = vec![0; FIRST_READ];
            let (read, _) =
                read_limited(&path, 1 << 20, &mut buffer, false, trusted).expect("read");
            let _ = done.send(());
            let open_at_the_end = writer.join().expect("writer");
            assert!(matches!(read, Limited::Read(n) if n == size), "{size}");
            assert_eq!(open_at_the_end, one_read, "{size} {trusted}");
        }
    }

    /// The cache the next scan reads, as saving and loading it gives it (entries sorted by key).
    fn cache_of(mut found: ForCache) -> ScanCache {
        found.plain.sort();
        ScanCache::new(0, found.files, found.plain).with_folders(found.folders)
    }

    /// A tree whose folder `a` holds an annotated `t.py` and `count` files `p0.py`, … of `text`.
    #[cfg(unix)]
    fn annotated_folder(count: usize, text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).expect("mkdir");
        std::fs::write(root.join("a/t.py"), "# @threat T (#t)\n").expect("write");
        for i in 0..count {
            std::fs::write(root.join(format!("a/p{i}.py")), text).expect("write");
        }
        dir
    }

    /// Small files that held nothing are not read while their folder's fingerprint is the
    /// cached one, and are read when it changed: a cache forged with the fingerprint of the
    /// edited folder hides the edit (so the skip is taken), the honest one does not.
    #[cfg(unix)]
    #[test]
    fn small_plain_files_are_read_only_when_their_folder_changed() {
        let dir = annotated_folder(5, "x = 1  # nothing here\n");
        let root = dir.path();
        let settle = || std::thread::sleep(SETTLE_WAIT);
        settle();
        let (first, found) = threats(root, None);
        assert_eq!(first, ["t"]);
        assert_eq!(found.folders.len(), 1, "one folder of small plain files");
        assert!(
            found.plain.is_empty(),
            "small files are not kept one by one"
        );
        let honest = cache_of(found);

        // A same-size edit that adds a threat, then settled.
        std::fs::write(root.join("a/p3.py"), "# @threat Hid (#h)  \n").expect("write");
        settle();
        let (seen, _) = threats(root, Some(&honest));
        assert_eq!(seen, ["h", "t"], "the edit was not seen");

        // The same cache with the fingerprint the folder's small files have now, as if they
        // still held nothing: the edited file is not read (what a forged cache could do; the
        // cache never lives in the scanned folder).
        let mut sum = 0u64;
        for i in 0..5 {
            let rel = format!("a/p{i}.py");
            let stat = at::stat(&root.join(&rel))
                .ok()
                .and_then(FileStat::of_stat)
                .expect("stat");
            sum = sum.wrapping_add(scan_cache::folder_entry(rel.as_bytes(), &stat));
        }
        let mut forged = honest.clone();
        forged.folders = vec![Plain {
            key: scan_cache::folder_key(b"a"),
            fingerprint: scan_cache::folder_fingerprint(sum, 5),
        }];
        let (hidden, _) = threats(root, Some(&forged));
        assert_eq!(
            hidden,
            ["t"],
            "the folder's files were read although it matched"
        );
    }

    /// Larger files that held nothing are decided by their folder's fingerprint too: while it
    /// is the cached one their entries are kept without being looked up (a cache that lost
    /// them gets them back, and the walk's identity is the first scan's); once it changed,
    /// each is taken from its own entry when that holds, and only the edited one is read.
    #[cfg(unix)]
    #[test]
    fn larger_plain_files_wait_for_their_folders_fingerprint() {
        let body = "x = 1  # nothing here\n".repeat(40);
        let dir = annotated_folder(4, &body);
        let root = dir.path();
        std::fs::write(root.join("a/small.py"), "x = 1\n").expect("write");
        let settle = || std::thread::sleep(SETTLE_WAIT);
        settle();
        let (_, first) = threats(root, None);
        let sorted = |found: &ForCache| {
            let mut plain = found.plain.clone();
            plain.sort();
            plain
        };
        assert_eq!(first.plain.len(), 4, "one entry per larger file");
        let identity = first.identity();
        let expected = sorted(&first);
        let honest = cache_of(first);

        // The entries gone, the fingerprints kept: the folder vouches for the files.
        let mut stripped = honest.clone();
        stripped.plain.clear();
        let (ids, found) = threats(root, Some(&stripped));
        assert_eq!(ids, ["t"]);
        assert_eq!(sorted(&found), expected, "the entries were not kept");
        assert_eq!(found.identity(), identity);
        assert_eq!(found.fresh, 0, "a file was read");

        // One larger file edited: the folder changed, the other three keep their entries.
        let mut edited = body.clone();
        edited.push_str("# @threat New (#n)\n");
        std::fs::write(root.join("a/p2.py"), edited).expect("write");
        settle();
        let (ids, found) = threats(root, Some(&honest));
        assert_eq!(ids, ["n", "t"], "the edit was not seen");
        assert_eq!(
            found.fresh, 2,
            "only the edited file and the small one are read"
        );
        assert_eq!(found.plain.len(), 3);
    }

    /// How long a test waits for files to be settled.
    const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(2200);
}
