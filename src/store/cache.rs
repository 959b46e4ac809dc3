//! The optional on-disk parse cache under `.git/threatmark/`, so that `diff`, `check` and
//! `history` do not re-parse blobs that an earlier run already parsed, and the snapshots of
//! scanned revisions (`snapshots/<tree>-<config>`), from which the scan of a nearby revision
//! reads only the files that changed.
//!
//! Each file starts with a header line: the format version, the build identity
//! (`BUILD_ID`: the version and a hash of the sources), a CRC-32 and a length. The parse
//! cache's CRC covers its JSON body. A snapshot's covers its index, and each
//! record carries its own CRC, checked when the record is read: a snapshot serves a scan that
//! reads a few records, so loading one reads the index and nothing else. Anything that does not
//! match (a truncated write, a bit flip, another threatmark build) means the file is ignored
//! and rebuilt, never trusted. Writes are atomic.
//!
//! @component Threatmark:Parse cache (#parse_cache) in #process [type: store]: .git/threatmark/ (cache-v1, snapshots/, scan-*, memo-*) and the user cache folder
//! @threat Poisoned parse cache (#cache_poisoning) [stride: T; likelihood: rare; impact: major; owner: @threatmark-maintainers]:
//! a stale or tampered cache or snapshot makes diff and check report a model the code does not have
//! @control Checksummed, versioned cache (#checksummed_cache): header with format, build identity (version and a hash of the sources), length and checksum; any mismatch discards the cache
//! @mitigates #parse_cache against #cache_poisoning with #checksummed_cache
//! @accepts #cache_poisoning to #parse_cache with whoever can write .git can already rewrite the repository itself

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::source::git::ObjectId;
use crate::store::record::FileOutcome;
use crate::store::snapshot::{Decoded, Records, Snapshot};

/// Per-file outcomes keyed by path, blob id and the options that shape parsing: a file unchanged
/// between two revisions is parsed once. It can be loaded from and saved to disk (see [`load`]
/// and [`save`]), and only the entries used in this run are saved again.
#[derive(Debug, Default)]
pub struct BlobCache {
    map: Mutex<HashMap<CacheKey, (FileOutcome, bool)>>,
    pub hits: AtomicUsize,
    /// Something was parsed in this run that the cache did not have.
    pub added: AtomicUsize,
}

/// `(path, blob id, options fingerprint)`.
pub(crate) type CacheKey = (String, ObjectId, u64);

impl BlobCache {
    pub(crate) fn get(&self, key: &CacheKey) -> Option<FileOutcome> {
        let mut map = lock(&self.map);
        let entry = map.get_mut(key)?;
        entry.1 = true;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry.0.clone())
    }

    pub(crate) fn put(&self, key: CacheKey, outcome: &FileOutcome) {
        self.added.fetch_add(1, Ordering::Relaxed);
        lock(&self.map).insert(key, (outcome.clone(), true));
    }

    /// Add entries read from disk (not yet used in this run).
    pub fn preload(&self, entries: impl IntoIterator<Item = (CacheKey, FileOutcome)>) {
        let mut map = lock(&self.map);
        for (k, v) in entries {
            map.entry(k).or_insert((v, false));
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const MAGIC: &str = "threatmark-cache";
/// 2: CRC-32 checksums.
const FORMAT: u32 = 2;
const SNAPSHOT_MAGIC: &str = "threatmark-snapshot";
/// 3: an index with a CRC, records with their own.
const SNAPSHOT_FORMAT: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    id: String,
    fingerprint: u64,
    outcome: FileOutcome,
}

/// What loading found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loaded {
    Missing,
    Read(usize),
    /// The file exists but failed a check; it was ignored and will be rewritten.
    Corrupt(String),
}

pub(crate) fn path_in(git_dir: &Path) -> PathBuf {
    git_dir.join("threatmark").join("cache-v1")
}

/// CRC-32 (with SIMD where the CPU has it): megabytes are checked in well under a millisecond.
fn checksum(body: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(body))
}

/// Load the cache file into `cache`.
pub(crate) fn load(path: &Path, cache: &BlobCache) -> Loaded {
    let Ok(bytes) = std::fs::read(path) else {
        return Loaded::Missing;
    };
    match parse(&bytes) {
        Ok(entries) => {
            let n = entries.len();
            cache.preload(entries);
            Loaded::Read(n)
        }
        Err(why) => Loaded::Corrupt(why),
    }
}

/// The body of a file written by [`save`], if its header checks out.
fn checked_body(bytes: &[u8]) -> Result<&[u8], String> {
    let nl = memchr::memchr(b'\n', bytes).ok_or("no header")?;
    let (sum, len) = checked_header(&bytes[..nl], MAGIC, FORMAT)?;
    let body = &bytes[nl + 1..];
    if len != body.len() || sum != checksum(body) {
        return Err("checksum mismatch".into());
    }
    Ok(body)
}

/// The checksum and length a header line gives, if it is of this format and build.
fn checked_header(line: &[u8], magic: &str, format: u32) -> Result<(String, usize), String> {
    let header = std::str::from_utf8(line).map_err(|_| "header is not text")?;
    let fields: Vec<&str> = header.split(' ').collect();
    let [found, version_of_format, version, sum, len] = fields[..] else {
        return Err("malformed header".into());
    };
    if found != magic || version_of_format != format.to_string() {
        return Err("unknown format".into());
    }
    if version != crate::BUILD_ID {
        return Err(format!("written by threatmark {version}"));
    }
    let len = len.parse().map_err(|_| "malformed length")?;
    Ok((sum.to_string(), len))
}

fn header(magic: &str, format: u32, checked: &[u8]) -> Vec<u8> {
    format!(
        "{magic} {format} {} {} {}\n",
        crate::BUILD_ID,
        checksum(checked),
        checked.len()
    )
    .into_bytes()
}

fn parse(bytes: &[u8]) -> Result<Vec<(CacheKey, FileOutcome)>, String> {
    let body = checked_body(bytes)?;
    let entries: Vec<Entry> =
        serde_json::from_slice(body).map_err(|e| format!("unreadable body: {e}"))?;
    entries
        .into_iter()
        .map(|e| {
            let id =
                ObjectId::from_hex(e.id.as_bytes()).map_err(|_| "bad object id".to_string())?;
            Ok(((e.path, id, e.fingerprint), e.outcome))
        })
        .collect()
}

/// An entry as [`save`] writes it: [`Entry`]'s fields, borrowed from the cache (a copy of
/// every outcome used to be made only to be encoded, then the encoding copied behind the
/// header).
#[derive(Serialize)]
struct EntryRef<'a> {
    path: &'a str,
    id: String,
    fingerprint: u64,
    outcome: &'a FileOutcome,
}

/// Save the entries used in this run, sorted.
pub(crate) fn save(path: &Path, cache: &BlobCache) -> std::io::Result<()> {
    let map = lock(&cache.map);
    let mut used: Vec<(&CacheKey, &FileOutcome)> = map
        .iter()
        .filter(|(_, (outcome, used))| *used && !outcome.timed_out)
        .map(|(k, (v, _))| (k, v))
        .collect();
    used.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let entries: Vec<EntryRef<'_>> = used
        .into_iter()
        .map(|((path, id, fingerprint), outcome)| EntryRef {
            path,
            id: id.to_string(),
            fingerprint: *fingerprint,
            outcome,
        })
        .collect();
    let body = serde_json::to_vec(&entries).map_err(std::io::Error::other)?;
    drop(entries);
    drop(map);
    crate::output::write_cache_with(path, |out| {
        out.write_all(&header(MAGIC, FORMAT, &body))?;
        out.write_all(&body)
    })
}

/// How many snapshots are kept; the oldest are removed.
const KEEP_SNAPSHOTS: usize = 8;

pub(crate) fn snapshot_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("threatmark").join("snapshots")
}

/// A snapshot of the tree `tree` (hex), if one was saved and is intact.
pub(crate) fn load_snapshot(dir: &Path, tree: &str) -> Option<Snapshot> {
    let prefix = format!("{tree}-");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names.iter().find_map(|n| read_snapshot(&dir.join(n)))
}

/// The most recently saved intact snapshot.
pub(crate) fn newest_snapshot(dir: &Path) -> Option<Snapshot> {
    oldest_first(dir)
        .ok()?
        .iter()
        .rev()
        .find_map(|p| read_snapshot(p))
}

/// The snapshot files in `dir`, the oldest first. Temporary files of a write in progress (named
/// `.threatmark-…`) are not snapshots.
fn oldest_first(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

fn snapshot_name(tree: &str, config_key: u64) -> String {
    format!("{tree}-{config_key:016x}")
}

/// The records of a file written by [`write_indexed`] (a snapshot, a scan cache), read where
/// and when they are needed.
pub(crate) struct FileRecords {
    file: std::fs::File,
    /// Where the records start in the file.
    start: u64,
    size: u64,
}

impl Records for FileRecords {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        if offset.saturating_add(buf.len() as u64) > self.size {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        read_exact_at(&self.file, buf, self.start + offset)
    }
}

#[cfg(unix)]
pub(crate) fn read_exact_at(
    file: &std::fs::File,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Elsewhere, through a cloned handle: a `&File` seeks its one shared cursor.
#[cfg(not(unix))]
pub(crate) fn read_exact_at(
    file: &std::fs::File,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let mut file = file.try_clone()?;
    file.seek(std::io::SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// A snapshot file, whole (a delta is applied to the full snapshot it names).
fn read_snapshot(path: &Path) -> Option<Snapshot> {
    match read_decoded(path)? {
        Decoded::Full(s) => Some(s),
        Decoded::Delta { base, delta } => {
            let dir = path.parent()?;
            let Decoded::Full(full) =
                read_decoded(&dir.join(snapshot_name(&base, delta.config_key)))?
            else {
                return None;
            };
            delta.apply(&full, &base).ok()
        }
    }
}

/// The header and index of a snapshot file; its records stay in the file.
fn read_decoded(path: &Path) -> Option<Decoded> {
    let (index, records) = read_index(path, SNAPSHOT_MAGIC, SNAPSHOT_FORMAT)?;
    Snapshot::decode(&index, std::sync::Arc::new(records)).ok()
}

/// A file written by [`write_indexed`]: its checked index, and its records. Only the header and
/// the index are read.
pub(crate) fn read_index(path: &Path, magic: &str, format: u32) -> Option<(Vec<u8>, FileRecords)> {
    let file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    // The header and, in most files, the whole index.
    let mut head = vec![0; usize::try_from(size.min(256 * 1024)).ok()?];
    read_exact_at(&file, &mut head, 0).ok()?;
    let nl = memchr::memchr(b'\n', &head)?;
    let (sum, len) = checked_header(&head[..nl], magic, format).ok()?;
    // The index, then a newline, then the records.
    let index_end = (nl + 1).checked_add(len)?;
    if index_end as u64 >= size {
        return None;
    }
    if head.len() <= index_end {
        let have = head.len();
        head.resize(index_end + 1, 0);
        read_exact_at(&file, &mut head[have..], have as u64).ok()?;
    }
    if head[index_end] != b'\n' || checksum(&head[nl + 1..index_end]) != sum {
        return None;
    }
    let start = index_end as u64 + 1;
    head.truncate(index_end);
    head.drain(..nl + 1);
    let records = FileRecords {
        file,
        start,
        size: size - start,
    };
    Some((head, records))
}

/// Write a header (with the index's checksum), the index, a newline and the records.
pub(crate) fn write_indexed(
    path: &Path,
    magic: &str,
    format: u32,
    index: &[u8],
    records: &[u8],
) -> std::io::Result<()> {
    write_indexed_with(path, magic, format, index, |out| out.write_all(records))
}

/// [`write_indexed`], the records written by `records` straight to the file (the one place
/// that lays out header, index and records): a scan cache's
/// records are mostly the texts its outcomes already hold, and are not copied into one buffer
/// (issue 20: the first scan's peak memory).
pub(crate) fn write_indexed_with(
    path: &Path,
    magic: &str,
    format: u32,
    index: &[u8],
    records: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    crate::output::write_cache_with(path, |out| {
        out.write_all(&header(magic, format, index))?;
        out.write_all(index)?;
        out.write_all(b"\n")?;
        records(out)
    })
}

/// Remove the oldest files of `dir` whose names start with `prefix`, beyond `keep`.
pub(crate) fn prune(dir: &Path, prefix: &str, keep: usize) {
    let Ok(files) = oldest_first(dir) else {
        return;
    };
    let ours: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    let excess = ours.len().saturating_sub(keep);
    for path in ours.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

/// Mark a cache file as just used: [`prune`] goes by modification time. A file that cannot be
/// touched is simply pruned earlier.
pub(crate) fn touch(path: &Path) {
    let _ = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
}

/// Save a snapshot and remove the oldest ones beyond [`KEEP_SNAPSHOTS`]. A snapshot that
/// follows a full one on disk by a small change is saved as a delta of it (and the full one is
/// touched, so that pruning keeps it as long as its deltas).
pub(crate) fn save_snapshot(dir: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let base = snapshot.origin.as_ref().and_then(|o| {
        let small = o.changed.len() <= (snapshot.outcomes.len() / 4).max(64);
        let path = dir.join(snapshot_name(&o.tree, snapshot.config_key));
        (small && path.is_file()).then_some(path)
    });
    let encoded = match base.as_ref().and_then(|_| snapshot.encode_delta()) {
        Some(delta) => delta,
        None => snapshot.encode(),
    }
    .map_err(std::io::Error::other)?;
    if let Some(base) = &base {
        touch(base);
    }
    let name = snapshot_name(&snapshot.tree, snapshot.config_key);
    write_indexed(
        &dir.join(name),
        SNAPSHOT_MAGIC,
        SNAPSHOT_FORMAT,
        &encoded.index,
        &encoded.records,
    )?;
    prune(dir, "", KEEP_SNAPSHOTS);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `save` writes from the cache's own entries (borrowed, not copied) is what `load`
    /// reads back: the used entries only, every field, in key order.
    #[test]
    fn used_entries_round_trip_in_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cache");
        let cache = BlobCache::default();
        let id = |b: u8| ObjectId::from_bytes_or_panic(&[b; 20]);
        let outcome = |path: &str| crate::store::record::parsed(path, "# @threat T (#t)\n");
        for (path, b) in [("z.py", 1), ("a.py", 2), ("a.py", 1)] {
            cache.put((path.to_string(), id(b), 7), &outcome(path));
        }
        cache.preload([(("unused.py".to_string(), id(3), 7), outcome("unused.py"))]);
        save(&p, &cache).expect("save");
        let bytes = std::fs::read(&p).expect("read");
        let entries = parse(&bytes).expect("parse");
        let keys: Vec<(&str, ObjectId)> = entries
            .iter()
            .map(|((path, id, _), _)| (path.as_str(), *id))
            .collect();
        assert_eq!(keys, [("a.py", id(1)), ("a.py", id(2)), ("z.py", id(1))]);
        for ((path, _, fingerprint), read) in &entries {
            assert_eq!(*fingerprint, 7);
            let written = outcome(path);
            assert_eq!(read.path, written.path);
            assert_eq!(read.annotations, written.annotations);
            assert!(read.matched);
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cache");
        let cache = BlobCache::default();
        let outcome = crate::store::record::parsed("a.py", "# @threat T (#t)\n");
        cache.preload([(
            ("a.py".to_string(), ObjectId::null(gix::hash::Kind::Sha1), 7),
            outcome,
        )]);
        // Preloaded entries are unused until a scan touches them: nothing to save yet.
        save(&p, &cache).expect("save");
        assert_eq!(load(&p, &BlobCache::default()), Loaded::Read(0));

        let mut bytes = std::fs::read(&p).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&p, &bytes).expect("write");
        assert!(matches!(
            load(&p, &BlobCache::default()),
            Loaded::Corrupt(_)
        ));
        std::fs::write(&p, b"garbage").expect("write");
        assert!(matches!(
            load(&p, &BlobCache::default()),
            Loaded::Corrupt(_)
        ));
    }
}
