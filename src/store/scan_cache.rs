//! The work-tree scan cache: what the last scan of a folder found in each file, with the file's
//! inode, size, modification and change times. A scan that finds a file with the same four
//! reads nothing and parses nothing: a pre-commit hook on a large repository `stat`s its files
//! instead of reading them, as git does with its index.
//!
//! Trust rules, git's in spirit ("racy git"): an entry is only written for a file whose
//! modification and change times are both more than [`SETTLE`](crate::source::listing::SETTLE) older than the start of the scan
//! that read it, so an edit in the same clock tick as the scan cannot hide behind equal times.
//! The change time cannot be set by a user; any write moves it. The cache also carries the
//! configuration's key and the build's identity (`BUILD_ID`: the version and a hash of the
//! sources), and what a project's `threatspec.yaml` set is reused only for the same bytes in the
//! same file (its inode and times are among the witnesses), so a copy of a tree that ships a
//! cache matches nothing in it.
//!
//! Small files (under 512 bytes) that contribute nothing have no entry of their own: each
//! folder has one fingerprint of all its such files (a sum of hashes of each one's path and
//! stat, and their count). A warm scan `stat`s them and reads none while the sum is the same,
//! and all of them when it is not: 16 bytes a folder instead of a read of each file.
//!
//! It lives in the repository's git folder (`.git/threatmark/scan-…`) when there is one that
//! belongs to the scanned folder's owner, else in the user's cache folder
//! (`$XDG_CACHE_HOME/threatmark/`, `~/.cache/threatmark/`), never in the scanned folder itself: a
//! repository could ship a forged one. `THREATMARK_NO_CACHE=1` turns it off.
//!
//! @control Caches only in folders of the scanned folder's owner (#cache_owner): a `.git` folder that another user owns is never used for caches
//! @mitigates #parse_cache against #cache_poisoning with #cache_owner
//!
//! @threat Stale scan cache (#stale_scan_cache) [stride: T,R; likelihood: unlikely; impact: major; owner: @threatmark-maintainers]:
//! a file edited without its times changing keeps its old annotations in the model, and a threat added to it goes unseen
//! @control Racy-entry rule and change times (#racy_rule): entries are keyed by inode, size, mtime and ctime (which no user can set), and files touched within two seconds of the scan are never cached
//! @mitigates #parse_cache against #stale_scan_cache with #racy_rule
//! @control Folder fingerprints over paths and stats (#folder_fingerprint): small files that contribute nothing are skipped only when the fingerprint of every settled such file of their folder (path, inode, size, mtime, ctime) is the cached one; any added, removed, renamed or touched file changes it and all of them are read
//! @mitigates #parse_cache against #stale_scan_cache with #folder_fingerprint
//! @mitigates #parse_cache against #cache_poisoning with #checksummed_cache
//! @control Diagnostics cached whole (#cached_diagnostics): a file's diagnostics are saved with their spans and its text, so a warm-cache scan prints the snippets, carets and labels the first scan printed, byte for byte
//! @mitigates #parse_cache against #nondeterminism with #cached_diagnostics

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::source::listing::Listings;
use crate::store::snapshot::{Parts, RecordRef, Records, Stored};

const MAGIC: &str = "threatmark-scan-cache";
/// 2: files that contribute nothing are fingerprints in one binary record, not index entries.
/// 3: and each folder's files that contribute nothing have one fingerprint together.
/// 4: and the walk's listing of each folder (`source::listing`).
const FORMAT: u32 = 4;

/// How many work-tree caches a cache folder keeps (one per scanned folder).
const KEEP_CACHES: usize = 64;

/// What a file looked like when it was read. Saved as a four-number array: a cache holds one
/// per file of the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "[i64; 4]", try_from = "[i64; 4]")]
pub struct FileStat {
    pub ino: u64,
    pub size: u64,
    /// Nanoseconds since the epoch.
    pub mtime: i64,
    pub ctime: i64,
}

impl From<FileStat> for [i64; 4] {
    fn from(s: FileStat) -> Self {
        // Inodes and sizes above i64::MAX do not occur; they would only make an entry miss.
        [s.ino as i64, s.size as i64, s.mtime, s.ctime]
    }
}

impl TryFrom<[i64; 4]> for FileStat {
    type Error = &'static str;

    fn try_from([ino, size, mtime, ctime]: [i64; 4]) -> Result<Self, Self::Error> {
        Ok(FileStat {
            ino: u64::try_from(ino).map_err(|_| "negative inode")?,
            size: u64::try_from(size).map_err(|_| "negative size")?,
            mtime,
            ctime,
        })
    }
}

impl FileStat {
    /// The stat of a regular file; `None` for anything else, or where the platform does not
    /// give inodes and change times (the file is then always read).
    pub fn of(meta: &std::fs::Metadata) -> Option<FileStat> {
        crate::source::at::of(meta).ok().and_then(FileStat::of_stat)
    }

    /// The stat of a regular file, from the walk's `stat` relative to its folder.
    pub(crate) fn of_stat(stat: crate::source::at::Stat) -> Option<FileStat> {
        (cfg!(unix) && stat.is_file).then_some(FileStat {
            ino: stat.ino,
            size: stat.size,
            mtime: stat.mtime,
            ctime: stat.ctime,
        })
    }

    /// Both times are older than `started` by more than [`SETTLE`](crate::source::listing::SETTLE).
    pub(crate) fn settled(&self, started: SystemTime) -> bool {
        crate::source::listing::settled_times(self.mtime, self.ctime, started)
    }
}

/// One file of the last scan.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub rel: String,
    pub stat: FileStat,
    /// What the file contributed; `None` for the many files that contribute nothing (boxed:
    /// few files have one).
    pub outcome: Option<Box<Stored>>,
}

/// A project's `threatspec.yaml` and what it set: parsing and resolving a large one costs more
/// than the rest of a cached scan. The store keeps what it set as its loader wrote it (the
/// loader's record, opaque here), with the times of what was read to set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedThreatspec {
    pub yaml: String,
    /// What it set, serialised by the configuration loader.
    pub derived: Vec<u8>,
    /// The modification and change times (nanoseconds) of each path read to set it that was
    /// there: the record is kept only when all of them are settled, as for files.
    pub read: Vec<(i64, i64)>,
}

/// A file that contributes nothing, as two hashes: of its path (the key), and of its path and
/// stat together. Most files of a repository are such files: 16 bytes each, instead of an index
/// entry with the path's text (about 100 bytes), keeps the cache and the memory of a scan that
/// writes it proportional to what files contribute (issue 20: a million one-line files made a
/// 159 MB cache). A wrong match would need two 64-bit hashes of the same path to collide for a
/// changed stat, whose inode and change time no repository chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Plain {
    pub key: u64,
    pub fingerprint: u64,
}

impl Plain {
    pub fn new(rel: &str, stat: &FileStat) -> Plain {
        Plain {
            key: path_key(rel),
            fingerprint: fingerprint(rel, stat),
        }
    }
}

/// The hashes of [`Plain`]: seeded, and the same in every process of one build (the cache's
/// header names the build).
fn path_key(rel: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x7468_7265_6174_6d6b).hash_one(rel)
}

pub(crate) fn fingerprint(rel: &str, stat: &FileStat) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6669_6e67_6572_7072)
        .hash_one((rel, stat.ino, stat.size, stat.mtime, stat.ctime))
}

/// One file of a folder's fingerprint ([`ScanCache::folder`]): its path (relative to the
/// scanned folder, as raw bytes) and stat. The full path, not the name: two folders whose keys
/// collide then share one set of distinct entries.
pub(crate) fn folder_entry(rel: &[u8], stat: &FileStat) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x666f_6c64_6572_656e)
        .hash_one((rel, stat.ino, stat.size, stat.mtime, stat.ctime))
}

/// The key of a folder (its path relative to the scanned folder, as raw bytes).
pub(crate) fn folder_key(rel: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x666f_6c64_6572_6b79).hash_one(rel)
}

/// A folder's fingerprint from the wrapping sum of its entries' [`folder_entry`] hashes and
/// their count: the sum makes it independent of the order the walker threads saw them in.
pub(crate) fn folder_fingerprint(sum: u64, count: u64) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x666f_6c64_6572_6670).hash_one((sum, count))
}

/// The first entry of `sorted` (sorted by key) with `key`, as a binary search finds it. The
/// keys are hashes, spread evenly over the 64-bit range, so the search starts where `key` sits
/// in an even spread and widens until it brackets it: a few probes close together, where a
/// binary search of a warm scan's tens of thousands of entries jumps across the whole array
/// (a cache miss a step) for every file.
fn find_key(sorted: &[Plain], key: u64) -> Option<Plain> {
    let n = sorted.len();
    // Below `n`: the product is less than `n << 64`.
    let guess = usize::try_from((u128::from(key) * n as u128) >> 64).unwrap_or(0);
    let (mut lo, mut hi, mut step) = (guess.min(n), guess.min(n), 8);
    // Every entry before `lo` is below `key`, and every entry from `hi` on is not.
    while lo > 0 && sorted[lo - 1].key >= key {
        lo = lo.saturating_sub(step);
        step *= 2;
    }
    step = 8;
    while hi < n && sorted[hi].key < key {
        hi = (hi + step).min(n);
        step *= 2;
    }
    let at = lo + sorted[lo..hi].partition_point(|p| p.key < key);
    sorted.get(at).filter(|p| p.key == key).copied()
}

/// What the last scan kept of a file.
#[derive(Debug, Clone, Copy)]
pub enum Hit<'a> {
    /// A file with an outcome (or saved by an older build of this format), with its stat.
    File(&'a CachedFile),
    /// A file that contributed nothing: the fingerprint its path and stat had.
    Plain(Plain),
}

/// The cache of one scanned folder.
#[derive(Clone, Default)]
pub struct ScanCache {
    /// The `threatspec.yaml` it was scanned with, read from the cache on demand.
    threatspec: Option<(Arc<dyn Records>, RecordRef, RecordRef)>,
    /// `scan::config_key` of the configuration the files were scanned with.
    pub config_key: u64,
    /// Files kept with their path, sorted by path: those that contribute something.
    pub files: Vec<CachedFile>,
    /// Files that contributed nothing, sorted by key.
    pub plain: Vec<Plain>,
    /// Folders whose files that contribute nothing were all settled, by [`folder_key`], with
    /// the [`folder_fingerprint`] of those files, sorted by key.
    pub folders: Vec<Plain>,
    /// What the walk kept of each folder, to skip listing the unchanged ones.
    pub(crate) listings: Option<Listings>,
    /// Where each path is in `files` (filled on load: a scan looks up every file).
    by_path: std::collections::HashMap<String, usize, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for ScanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanCache")
            .field("config_key", &self.config_key)
            .field("files", &self.files.len())
            .field("plain", &self.plain.len())
            .field("folders", &self.folders.len())
            .finish_non_exhaustive()
    }
}

impl ScanCache {
    /// A cache of these files, scanned with this configuration (and this `threatspec.yaml`).
    pub fn new(config_key: u64, files: Vec<CachedFile>, plain: Vec<Plain>) -> Self {
        ScanCache {
            threatspec: None,
            config_key,
            files,
            plain,
            folders: Vec::new(),
            listings: None,
            by_path: Default::default(),
        }
    }

    /// The same, with the walk's listings.
    pub(crate) fn with_listings(mut self, listings: Option<Listings>) -> Self {
        self.listings = listings;
        self
    }

    /// The same, with the fingerprints of folders (any order).
    pub fn with_folders(mut self, folders: Vec<Plain>) -> Self {
        self.folders = folders;
        self
    }

    /// How many files and folders it holds.
    pub fn entries(&self) -> usize {
        self.files.len() + self.plain.len() + self.folders.len()
    }

    /// The fingerprint the last scan gave the files of the folder with this [`folder_key`]
    /// that contribute nothing, when all of them were settled.
    pub(crate) fn folder(&self, key: u64) -> Option<u64> {
        find_key(&self.folders, key).map(|p| p.fingerprint)
    }

    /// What the last scan kept of `rel`, if anything.
    pub fn lookup(&self, rel: &str) -> Option<Hit<'_>> {
        if let Some(file) = self.get(rel) {
            return Some(Hit::File(file));
        }
        self.plain_entry(rel).map(Hit::Plain)
    }

    /// The fingerprint the last scan kept of `rel` as a file that contributed nothing, if any
    /// (what [`lookup`](Self::lookup) finds when `rel` has no entry with its path).
    pub(crate) fn plain_entry(&self, rel: &str) -> Option<Plain> {
        if self.plain.is_empty() {
            return None;
        }
        find_key(&self.plain, path_key(rel))
    }

    /// What `threatspec.yaml` set for the last scan, as the loader saved it, if `yaml` is still
    /// its text (whether the folders it looked at are unchanged is the loader's question).
    pub fn threatspec(&self, yaml: &str) -> Option<Vec<u8>> {
        let (records, text, parsed) = self.threatspec.as_ref()?;
        if text.outcome != yaml.len() {
            return None;
        }
        let read = |r: &RecordRef| -> Option<Vec<u8>> {
            let mut buf = vec![0; r.outcome];
            records.read_at(r.at, &mut buf).ok()?;
            (crc32fast::hash(&buf) == r.crc).then_some(buf)
        };
        if read(text)? != yaml.as_bytes() {
            return None;
        }
        read(parsed)
    }

    /// The entry of `rel`, if the last scan cached it.
    pub fn get(&self, rel: &str) -> Option<&CachedFile> {
        match self.by_path.is_empty() {
            false => self.by_path.get(rel).map(|i| &self.files[*i]),
            true => self
                .files
                .binary_search_by(|f| f.rel.as_str().cmp(rel))
                .ok()
                .map(|i| &self.files[i]),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Index {
    config_key: u64,
    /// The `threatspec.yaml` text and its parse (JSON), as two records: read only to compare
    /// with the file and, when it is the same, to be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threatspec: Option<(Saved, Saved)>,
    /// In path order: the files that contribute something.
    files: Vec<IndexedFile>,
    /// The record of the [`Plain`] fingerprints: 16 bytes each (key, then fingerprint, little
    /// endian), sorted by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plain: Option<Saved>,
    /// The record of the folders' fingerprints, as `plain`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folders: Option<Saved>,
    /// The record of the walk's listings (`Listings::encode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listings: Option<Saved>,
}

/// `(path, stat, (annotated, record))`: the record only for files that contribute something.
type IndexedFile = (String, FileStat, Option<(bool, Saved)>);

/// A record as `[at, outcome length, text length or -1, crc]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Saved(u64, usize, i64, u32);

impl From<RecordRef> for Saved {
    fn from(r: RecordRef) -> Self {
        Saved(r.at, r.outcome, r.text.map_or(-1, |t| t as i64), r.crc)
    }
}

impl From<Saved> for RecordRef {
    fn from(Saved(at, outcome, text, crc): Saved) -> Self {
        RecordRef {
            at,
            outcome,
            text: usize::try_from(text).ok(),
            crc,
        }
    }
}

/// Where the cache of the folder `root` lives, unless caching is off or there is no place for
/// it.
pub(crate) fn location(root: &Path) -> Option<PathBuf> {
    if std::env::var_os("THREATMARK_NO_CACHE").is_some() {
        return None;
    }
    let abs = std::fs::canonicalize(root).ok()?;
    let name = format!(
        "scan-{:016x}",
        crate::text::fnv1a(abs.to_string_lossy().as_bytes())
    );
    if let Some(git_dir) = git_dir_of(&abs).filter(|g| same_owner(g, &abs)) {
        return Some(git_dir.join("threatmark").join(name));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("threatmark").join(name))
}

/// `git_dir` belongs to whoever owns the scanned folder (git's `safe.directory` rule in spirit):
/// a `.git` that another user planted above the folder (`/tmp/.git` for a scan of `/tmp/x`)
/// must not hold, nor give, what the scan trusts.
fn same_owner(git_dir: &Path, scanned: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(git_dir), std::fs::metadata(scanned)) {
            (Ok(g), Ok(s)) => g.uid() == s.uid(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (git_dir, scanned);
        true
    }
}

/// The git folder of the repository that holds `dir`: `.git` itself, or where a `.git` file
/// (a linked work tree, a submodule) points.
fn git_dir_of(dir: &Path) -> Option<PathBuf> {
    for folder in dir.ancestors().take(128) {
        let dot_git = folder.join(".git");
        let Ok(meta) = std::fs::symlink_metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        if meta.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            let target = folder.join(target);
            return target.is_dir().then_some(target);
        }
    }
    None
}

/// Load the cache at `path`; a missing, damaged or foreign one is `None`.
pub(crate) fn load(path: &Path) -> Option<ScanCache> {
    let (index, records) = super::cache::read_index(path, MAGIC, FORMAT)?;
    let index: Index = serde_json::from_slice(&index).ok()?;
    let size = records.size();
    let records: Arc<dyn Records> = Arc::new(records);
    let mut files = Vec::with_capacity(index.files.len());
    for (rel, stat, record) in index.files {
        let outcome = match record {
            Some((annotated, at)) => {
                let at = RecordRef::from(at);
                if !Stored::fits(&at, size) {
                    return None;
                }
                Some(Box::new(Stored::saved(
                    rel.clone(),
                    annotated,
                    Arc::clone(&records),
                    &at,
                )))
            }
            None => None,
        };
        files.push(CachedFile { rel, stat, outcome });
    }
    if !files.windows(2).all(|w| w[0].rel < w[1].rel) {
        return None;
    }
    let plain = pairs(index.plain, records.as_ref(), size)?;
    let folders = pairs(index.folders, records.as_ref(), size)?;
    let listings = match index.listings {
        Some(saved) => {
            let at = RecordRef::from(saved);
            if !Stored::fits(&at, size) {
                return None;
            }
            let mut bytes = vec![0; at.outcome];
            records.read_at(at.at, &mut bytes).ok()?;
            if crc32fast::hash(&bytes) != at.crc {
                return None;
            }
            Some(Listings::decode(&bytes)?)
        }
        None => None,
    };
    let threatspec = match index.threatspec {
        Some((text, parsed)) => {
            let (text, parsed) = (RecordRef::from(text), RecordRef::from(parsed));
            if !Stored::fits(&text, size) || !Stored::fits(&parsed, size) {
                return None;
            }
            Some((records, text, parsed))
        }
        None => None,
    };
    let by_path = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.rel.clone(), i))
        .collect();
    Some(ScanCache {
        threatspec,
        config_key: index.config_key,
        files,
        plain,
        folders,
        listings,
        by_path,
    })
}

/// A record of 16-byte (key, fingerprint) pairs, little endian, sorted by key; `None` when it is
/// damaged.
fn pairs(saved: Option<Saved>, records: &dyn Records, size: u64) -> Option<Vec<Plain>> {
    let Some(saved) = saved else {
        return Some(Vec::new());
    };
    let at = RecordRef::from(saved);
    if !Stored::fits(&at, size) || at.outcome % 16 != 0 {
        return None;
    }
    let mut bytes = vec![0; at.outcome];
    records.read_at(at.at, &mut bytes).ok()?;
    if crc32fast::hash(&bytes) != at.crc {
        return None;
    }
    let pairs: Vec<Plain> = bytes
        .chunks_exact(16)
        .map(|c| {
            let (key, fp) = c.split_at(8);
            Plain {
                key: u64::from_le_bytes(key.try_into().unwrap_or_default()),
                fingerprint: u64::from_le_bytes(fp.try_into().unwrap_or_default()),
            }
        })
        .collect();
    pairs.windows(2).all(|w| w[0] <= w[1]).then_some(pairs)
}

/// Save `cache` (its files in any order) for a scan that started at `started`: files touched
/// too close to it are left out (see [`SETTLE`](crate::source::listing::SETTLE); the caller leaves out [`Plain`] files that
/// were not settled, as only it knows their stat). Failing to save is not an error worth
/// failing a scan for, so callers may ignore the result.
pub(crate) fn save(
    path: &Path,
    cache: ScanCache,
    threatspec: Option<&CachedThreatspec>,
    started: SystemTime,
) -> std::io::Result<()> {
    let (index, records) = encode(cache, threatspec, started)?;
    // Streamed: the records are not gathered into one buffer, nor the file into another.
    super::cache::write_indexed_with(path, MAGIC, FORMAT, &index, |out| records.write_to(out))?;
    // One cache per scanned folder piles up (in the user's cache folder, or in a repository
    // whose subfolders are scanned one by one): the least recently used go.
    if let Some(dir) = path.parent() {
        super::cache::prune(dir, "scan-", KEEP_CACHES);
    }
    Ok(())
}

/// The index and the records of the cache file [`save`] writes.
fn encode(
    mut cache: ScanCache,
    threatspec: Option<&CachedThreatspec>,
    started: SystemTime,
) -> std::io::Result<(Vec<u8>, Parts)> {
    cache.files.retain(|f| f.stat.settled(started));
    // A file without an outcome is a fingerprint.
    let (files, plain): (Vec<CachedFile>, Vec<CachedFile>) =
        cache.files.into_iter().partition(|f| f.outcome.is_some());
    cache.files = files;
    cache
        .plain
        .extend(plain.iter().map(|f| Plain::new(&f.rel, &f.stat)));
    cache.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    cache.files.dedup_by(|a, b| a.rel == b.rel);
    // Two paths with one key: neither is kept (a lookup finds one fingerprint per key).
    let plain = one_per_key(&mut cache.plain);
    drop(std::mem::take(&mut cache.plain));
    let mut records = Parts::default();
    let refs = records
        .records(cache.files.iter().filter_map(|f| f.outcome.as_deref()))
        .map_err(std::io::Error::other)?;
    let mut refs = refs.into_iter();
    let files = cache
        .files
        .iter()
        .map(|f| {
            let record = f
                .outcome
                .as_ref()
                .and_then(|o| Some((o.annotated, Saved::from(refs.next()?))));
            (f.rel.clone(), f.stat, record)
        })
        .collect();
    let mut raw = |bytes: Vec<u8>| {
        let (at, len, crc) = records.raw(bytes);
        Saved(at, len, -1, crc)
    };
    // Settings resolved from folders that changed just before the scan are not kept (the
    // same rule as for files).
    let settled = |&(mtime, ctime): &(i64, i64)| {
        FileStat {
            ino: 0,
            size: 0,
            mtime,
            ctime,
        }
        .settled(started)
    };
    let threatspec = threatspec
        .filter(|t| t.read.iter().all(settled))
        .map(|ts| (raw(ts.yaml.as_bytes().to_vec()), raw(ts.derived.clone())));
    let plain = pair_bytes(&plain).map(&mut raw);
    // Two folders with one key: neither is kept.
    let folders = pair_bytes(&one_per_key(&mut cache.folders)).map(&mut raw);
    let listings = cache.listings.take().map(|l| raw(l.encode()));
    let index = Index {
        config_key: cache.config_key,
        threatspec,
        files,
        plain,
        folders,
        listings,
    };
    let index = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    Ok((index, records))
}

/// The fingerprints sorted, each key once: a key given with two fingerprints (two paths or
/// folders whose keys collide) is dropped, since a lookup finds one fingerprint per key.
fn one_per_key(list: &mut [Plain]) -> Vec<Plain> {
    list.sort_unstable();
    let mut out = Vec::with_capacity(list.len());
    for run in list.chunk_by(|a, b| a.key == b.key) {
        if run.iter().all(|p| *p == run[0]) {
            out.push(run[0]);
        }
    }
    out
}

/// The bytes of a fingerprints record (key and fingerprint, little-endian), if any.
fn pair_bytes(pairs: &[Plain]) -> Option<Vec<u8>> {
    (!pairs.is_empty()).then(|| {
        let mut bytes = Vec::with_capacity(pairs.len() * 16);
        for p in pairs {
            bytes.extend_from_slice(&p.key.to_le_bytes());
            bytes.extend_from_slice(&p.fingerprint.to_le_bytes());
        }
        bytes
    })
}

/// Saves still being written, joined before the process exits.
static SAVING: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// [`save`] on a thread of its own: the command goes on serialising and writing its output
/// while the cache is encoded and written (issue 20: the first scan of a tree, which writes
/// the cache, took up to 1.9 times as long as a scan without it). An earlier save still running
/// is waited for first, so saves of one folder land in order. [`wait_for_saves`] must run
/// before the process exits.
pub(crate) fn save_in_background(
    path: PathBuf,
    cache: ScanCache,
    threatspec: Option<CachedThreatspec>,
    started: SystemTime,
) {
    wait_for_saves();
    let job = move || {
        let _ = save(&path, cache, threatspec.as_ref(), started);
    };
    // A thread that cannot be started loses this save only: the next scan writes it.
    if let Ok(handle) = std::thread::Builder::new()
        .name("scan-cache".into())
        .spawn(job)
    {
        SAVING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }
}

/// Wait until every cache save started by [`save_in_background`] is on disk.
pub(crate) fn wait_for_saves() {
    let pending = std::mem::take(&mut *SAVING.lock().unwrap_or_else(|e| e.into_inner()));
    for handle in pending {
        let _ = handle.join();
    }
}

/// Mark the cache at `path` as just used, when a scan found it current and did not rewrite it:
/// pruning must not take the cache used most.
pub(crate) fn touch(path: &Path) {
    super::cache::touch(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`find_key`] finds what a binary search of the whole slice finds: keys spread evenly
    /// and bunched at either end, repeated keys, keys absent below, between and above.
    #[test]
    fn find_key_is_a_binary_search() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..400 {
            let n = next() as usize % 300;
            let mut keys: Vec<u64> = (0..n)
                .map(|_| match round % 4 {
                    0 => next(),
                    1 => next() % 50,
                    2 => u64::MAX - next() % 50,
                    _ => next() % 7 * (u64::MAX / 7),
                })
                .collect();
            keys.sort_unstable();
            let sorted: Vec<Plain> = keys
                .iter()
                .enumerate()
                .map(|(i, &key)| Plain {
                    key,
                    fingerprint: i as u64,
                })
                .collect();
            let mut probes: Vec<u64> = keys.clone();
            probes.extend([0, 1, u64::MAX, u64::MAX - 1, u64::MAX / 2]);
            probes.extend(keys.iter().map(|k| k.wrapping_add(1)));
            probes.extend((0..20).map(|_| next()));
            for key in probes {
                let at = sorted.partition_point(|p| p.key < key);
                let slow = sorted.get(at).filter(|p| p.key == key).copied();
                assert_eq!(find_key(&sorted, key), slow, "{key} in {keys:?}");
            }
        }
    }

    fn stat_at(now: SystemTime, age_secs: u64) -> FileStat {
        let t = now - std::time::Duration::from_secs(age_secs);
        let ns = i64::try_from(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after the epoch")
                .as_nanos(),
        )
        .expect("fits");
        FileStat {
            ino: 1,
            size: 2,
            mtime: ns,
            ctime: ns,
        }
    }

    #[test]
    fn round_trip_drops_racy_files_and_keeps_outcomes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".git/threatmark/scan-x");
        let outcome = crate::store::record::parsed("a.py", "# @threat T (#t)\n");
        // One clock reading for the stats and the save: "just now" stays just now on a slow machine.
        let now = SystemTime::now();
        let old = stat_at(now, 60);
        let cache = ScanCache::new(
            9,
            vec![
                CachedFile {
                    rel: "b.py".into(),
                    stat: old,
                    outcome: None,
                },
                CachedFile {
                    rel: "a.py".into(),
                    stat: stat_at(now, 60),
                    outcome: Some(Box::new(Stored::new(outcome.clone()))),
                },
                CachedFile {
                    rel: "new.py".into(),
                    stat: stat_at(now, 0),
                    outcome: None,
                },
            ],
            Vec::new(),
        );
        let yaml = "paths:\n  - 'src'\n".to_string();
        let ts = CachedThreatspec {
            derived: b"{\"include\":[\"src\"]}".to_vec(),
            yaml: yaml.clone(),
            read: Vec::new(),
        };
        save(&path, cache, Some(&ts), now).expect("save");
        let back = load(&path).expect("load");
        assert_eq!(back.config_key, 9);
        let rels: Vec<&str> = back.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            ["a.py"],
            "files that contribute nothing are fingerprints"
        );
        assert_eq!(back.entries(), 2, "the file touched just now is not cached");
        assert!(back.lookup("new.py").is_none());
        let a = back
            .get("a.py")
            .and_then(|f| f.outcome.as_ref())
            .expect("a.py");
        assert_eq!(a.decode().expect("decode").annotations, outcome.annotations);
        match back.lookup("b.py") {
            Some(Hit::Plain(p)) => assert_eq!(p, Plain::new("b.py", &old)),
            other => panic!("b.py: {other:?}"),
        }
        let touched = FileStat {
            ctime: old.ctime + 1,
            ..old
        };
        assert_ne!(Plain::new("b.py", &touched), Plain::new("b.py", &old));
        assert_ne!(
            Plain::new("c.py", &old).fingerprint,
            Plain::new("b.py", &old).fingerprint
        );
        assert_eq!(back.threatspec(&yaml), Some(ts.derived.clone()));
        assert_eq!(back.threatspec("paths:\n  - 'lib'\n"), None);

        // A flipped byte in a record fails the record's checksum; in the index, the index's.
        let mut bytes = std::fs::read(&path).expect("read");
        let records = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .map(|(i, _)| i + 1)
            .expect("header and index lines");
        let at = records
            + bytes[records..]
                .windows(4)
                .position(|w| w == b"a.py")
                .expect("the record of a.py");
        bytes[at] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let damaged = load(&path).expect("the index is intact");
        let a = damaged
            .get("a.py")
            .and_then(|f| f.outcome.as_ref())
            .expect("a.py");
        assert!(a.decode().is_err());
        bytes[40] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(load(&path).is_none());
    }

    /// The writer before issue 20's fourth round, kept as the reference: every record encoded
    /// into one buffer, then header, index and records copied into another and written.
    fn save_whole(
        path: &Path,
        mut cache: ScanCache,
        threatspec: Option<&CachedThreatspec>,
        started: SystemTime,
    ) {
        cache.files.retain(|f| f.stat.settled(started));
        let (files, plain): (Vec<CachedFile>, Vec<CachedFile>) =
            cache.files.into_iter().partition(|f| f.outcome.is_some());
        cache.files = files;
        cache
            .plain
            .extend(plain.iter().map(|f| Plain::new(&f.rel, &f.stat)));
        cache.files.sort_by(|a, b| a.rel.cmp(&b.rel));
        cache.files.dedup_by(|a, b| a.rel == b.rel);
        let plain = one_per_key(&mut cache.plain);
        let mut records = Vec::new();
        let refs = crate::store::snapshot::encode_records_whole(
            cache.files.iter().filter_map(|f| f.outcome.as_deref()),
            &mut records,
        )
        .expect("encode");
        let mut refs = refs.into_iter();
        let files = cache
            .files
            .iter()
            .map(|f| {
                let record = f
                    .outcome
                    .as_ref()
                    .and_then(|o| Some((o.annotated, Saved::from(refs.next()?))));
                (f.rel.clone(), f.stat, record)
            })
            .collect();
        let mut raw = |bytes: &[u8]| {
            let at = records.len();
            records.extend_from_slice(bytes);
            Saved(at as u64, bytes.len(), -1, crc32fast::hash(bytes))
        };
        let settled = |&(mtime, ctime): &(i64, i64)| {
            FileStat {
                ino: 0,
                size: 0,
                mtime,
                ctime,
            }
            .settled(started)
        };
        let threatspec = threatspec
            .filter(|t| t.read.iter().all(settled))
            .map(|ts| (raw(ts.yaml.as_bytes()), raw(&ts.derived)));
        let plain = pair_bytes(&plain).map(|b| raw(&b));
        let folders = pair_bytes(&one_per_key(&mut cache.folders)).map(|b| raw(&b));
        let listings = cache.listings.take().map(|l| raw(&l.encode()));
        let index = Index {
            config_key: cache.config_key,
            threatspec,
            files,
            plain,
            folders,
            listings,
        };
        let index = serde_json::to_vec(&index).expect("index");
        crate::store::cache::write_indexed(path, MAGIC, FORMAT, &index, &records).expect("write");
    }

    /// A seeded mix of what a scan hands the writer: annotated files (their text kept), files
    /// with diagnostics only, binary files, files that contribute nothing, racy files, repeated
    /// paths, paths out of order and beyond ASCII.
    fn mixed_cache(now: SystemTime, seed: u64, files: usize) -> Vec<CachedFile> {
        let mut state = seed;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let texts = [
            "# @threat Spoofing (#spoof)\n",
            "// @control Ç \"quoted\" \\ (#c)\n// @mitigates #a against #spoof with #c\n",
            "# @threat\n",
            "x = 1\n# @exposes #a to #spoof with a\ttab\n",
            "bin\0ary",
            "# @boundary between #a and #b\n",
            "",
        ];
        (0..files)
            .map(|i| {
                let rel = match next(4) {
                    0 => format!("dir/ü{}.py", next(files as u64)),
                    1 => format!("z{i}.rs"),
                    _ => format!("a/{}/f{i}.py", next(9)),
                };
                let stat = stat_at(now, if next(7) == 0 { 0 } else { 60 + next(100) });
                let outcome = match next(3) {
                    0 => None,
                    _ => {
                        let text = texts[next(texts.len() as u64) as usize];
                        Some(Box::new(Stored::new(crate::store::record::parsed(
                            &rel, text,
                        ))))
                    }
                };
                CachedFile { rel, stat, outcome }
            })
            .collect()
    }

    /// The streamed writer writes the bytes the whole-buffer writer wrote, for outcomes still
    /// decoded (a first scan) and for records reused from a loaded cache (a later scan).
    #[test]
    fn the_streamed_writer_writes_what_the_whole_buffer_writer_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = SystemTime::now();
        let ts = CachedThreatspec {
            yaml: "paths:\n  - 'src'\n".into(),
            derived: b"{\"include\":[\"src\"]}".to_vec(),
            read: vec![(0, 0)],
        };
        for seed in 0..24u64 {
            let files = mixed_cache(started, seed, [0, 1, 5, 40, 300][seed as usize % 5]);
            let plain: Vec<Plain> = (0..seed * 3)
                .map(|i| Plain::new(&format!("p{i}"), &stat_at(started, 90)))
                .collect();
            let threatspec = (seed % 3 != 0).then_some(&ts);
            // Folders' fingerprints, one key given twice with two fingerprints (neither kept).
            let mut folders: Vec<Plain> = (0..seed % 7)
                .map(|i| Plain::new(&format!("d{i}"), &stat_at(started, 70 + i)))
                .collect();
            if seed % 4 == 1 {
                folders.push(Plain::new("d0", &stat_at(started, 71)));
            }
            // The walk's listings, for every other seed.
            let listings = (seed % 2 == 0).then(|| {
                let mut l = crate::source::listing::Listings::default();
                for i in 0..seed {
                    let listed = crate::source::listing::Listed {
                        stat: crate::source::listing::DirStat {
                            ino: i,
                            mtime: 5,
                            ctime: 6,
                        },
                        ignores: i % 3,
                        names: (i % 4 != 1)
                            .then(|| {
                                let name = format!("f{i}");
                                let mut entries = vec![(false, name.as_bytes()), (true, b"d")];
                                crate::source::listing::encode_names(&mut entries)
                            })
                            .flatten(),
                    };
                    l.folders.insert(i * 7, Arc::new(listed));
                }
                l
            });
            let cache = ScanCache::new(seed, files, plain)
                .with_folders(folders)
                .with_listings(listings.clone());
            let (new, old) = (dir.path().join("new"), dir.path().join("old"));
            save(&new, cache.clone(), threatspec, started).expect("save");
            save_whole(&old, cache, threatspec, started);
            let written = std::fs::read(&new).expect("read");
            assert_eq!(written, std::fs::read(&old).expect("read"), "seed {seed}");

            // The next scan keeps the loaded records it did not read again, beside new ones.
            let loaded = load(&new).expect("load");
            assert_eq!(
                loaded.listings.as_ref().map(|l| &l.folders),
                listings.as_ref().map(|l| &l.folders),
                "seed {seed}: listings"
            );
            let mut files = loaded.files.clone();
            files.extend(mixed_cache(started, seed + 100, 20));
            let plain = loaded.plain.clone();
            let again = ScanCache::new(seed, files, plain).with_folders(loaded.folders.clone());
            save(&new, again.clone(), threatspec, started).expect("save");
            save_whole(&old, again, threatspec, started);
            assert_eq!(
                std::fs::read(&new).expect("read"),
                std::fs::read(&old).expect("read"),
                "seed {seed}, second scan"
            );
        }
    }

    #[test]
    fn the_cache_never_lives_in_the_scanned_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let at = location(&root.join("sub")).expect("a location");
        assert!(at.starts_with(std::fs::canonicalize(root.join(".git")).expect("canon")));
    }
}
