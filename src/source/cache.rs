//! The optional on-disk parse cache under `.git/threatmark/`, so that `diff`, `check` and
//! `history` do not re-parse blobs that an earlier run already parsed, and the snapshots of
//! scanned revisions (`snapshots/<tree>-<config>`), from which the scan of a nearby revision
//! reads only the files that changed.
//!
//! The file is a header line and a JSON body. The header carries the format version, the tool
//! version and a checksum of the body; anything that does not match (a truncated write, a bit
//! flip, another threatmark version) means the cache is ignored and rebuilt, never trusted.
//! Writes are atomic.
//!
//! @component Threatmark:Parse cache (#parse_cache) in #process [type: store]: .git/threatmark/cache-v1 and .git/threatmark/snapshots/
//! @threat Poisoned parse cache (#cache_poisoning) [stride: T; likelihood: rare; impact: major; owner: @threatmark-maintainers]:
//! a stale or tampered cache or snapshot makes diff and check report a model the code does not have
//! @control Checksummed, versioned cache (#checksummed_cache): header with format, tool version, length and checksum; any mismatch discards the cache
//! @mitigates #parse_cache against #cache_poisoning with #checksummed_cache
//! @accepts #cache_poisoning to #parse_cache with whoever can write .git can already rewrite the repository itself

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scan::{BlobCache, CacheKey, FileOutcome, Snapshot};
use crate::source::git::ObjectId;

const MAGIC: &str = "threatmark-cache";
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    id: String,
    fingerprint: u64,
    outcome: FileOutcome,
}

/// What loading found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Missing,
    Loaded(usize),
    /// The file exists but failed a check; it was ignored and will be rewritten.
    Corrupt(String),
}

pub fn path_in(git_dir: &Path) -> PathBuf {
    git_dir.join("threatmark").join("cache-v1")
}

fn checksum(body: &[u8]) -> String {
    format!("{:016x}", crate::text::fnv1a(body))
}

/// Load the cache file into `cache`.
pub fn load(path: &Path, cache: &BlobCache) -> Loaded {
    let Ok(bytes) = std::fs::read(path) else {
        return Loaded::Missing;
    };
    match parse(&bytes) {
        Ok(entries) => {
            let n = entries.len();
            cache.preload(entries);
            Loaded::Loaded(n)
        }
        Err(why) => Loaded::Corrupt(why),
    }
}

/// The body of a file written by [`with_header`], if its header checks out.
fn checked_body(bytes: &[u8]) -> Result<&[u8], String> {
    let nl = memchr::memchr(b'\n', bytes).ok_or("no header")?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| "header is not text")?;
    let body = &bytes[nl + 1..];
    let fields: Vec<&str> = header.split(' ').collect();
    let [magic, format, version, sum, len] = fields[..] else {
        return Err("malformed header".into());
    };
    if magic != MAGIC || format != FORMAT.to_string() {
        return Err("unknown format".into());
    }
    if version != env!("CARGO_PKG_VERSION") {
        return Err(format!("written by threatmark {version}"));
    }
    if len != body.len().to_string() || sum != checksum(body) {
        return Err("checksum mismatch".into());
    }
    Ok(body)
}

fn with_header(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{MAGIC} {FORMAT} {} {} {}\n",
        env!("CARGO_PKG_VERSION"),
        checksum(body),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
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

/// Save the entries used in this run.
pub fn save(path: &Path, cache: &BlobCache) -> std::io::Result<()> {
    let entries: Vec<Entry> = cache
        .used()
        .into_iter()
        .map(|((path, id, fingerprint), outcome)| Entry {
            path,
            id: id.to_string(),
            fingerprint,
            outcome,
        })
        .collect();
    let body = serde_json::to_vec(&entries).map_err(std::io::Error::other)?;
    crate::output::write_cache(path, &with_header(&body))
}

/// How many snapshots are kept; the oldest are removed.
const KEEP_SNAPSHOTS: usize = 8;

pub fn snapshot_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("threatmark").join("snapshots")
}

/// A snapshot of the tree `tree` (hex), if one was saved and is intact.
pub fn load_snapshot(dir: &Path, tree: &str) -> Option<Snapshot> {
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
pub fn newest_snapshot(dir: &Path) -> Option<Snapshot> {
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

/// A snapshot on disk, with the text of the files whose diagnostics may need a caret
/// (`FileOutcome::text` is not serialised).
#[derive(Deserialize)]
struct StoredSnapshot {
    snapshot: Snapshot,
    texts: Vec<(String, String)>,
}

fn read_snapshot(path: &Path) -> Option<Snapshot> {
    let bytes = std::fs::read(path).ok()?;
    let stored: StoredSnapshot = serde_json::from_slice(checked_body(&bytes).ok()?).ok()?;
    let mut snapshot = stored.snapshot;
    let texts: std::collections::BTreeMap<String, String> = stored.texts.into_iter().collect();
    for o in &mut snapshot.outcomes {
        o.text = texts.get(&o.path).map(|t| std::sync::Arc::from(t.as_str()));
    }
    Some(snapshot)
}

/// Save a snapshot and remove the oldest ones beyond [`KEEP_SNAPSHOTS`].
pub fn save_snapshot(dir: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        snapshot: &'a Snapshot,
        texts: Vec<(&'a str, &'a str)>,
    }
    let stored = Borrowed {
        texts: snapshot
            .outcomes
            .iter()
            .filter_map(|o| Some((o.path.as_str(), o.text.as_deref()?)))
            .collect(),
        snapshot,
    };
    let body = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
    let name = format!("{}-{:016x}", snapshot.tree, snapshot.config_key);
    crate::output::write_cache(&dir.join(name), &with_header(&body))?;
    let files = oldest_first(dir)?;
    let excess = files.len().saturating_sub(KEEP_SNAPSHOTS);
    for path in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cache");
        let cache = BlobCache::default();
        let outcome = crate::scan::process_file("a.py", b"# @threat T (#t)\n", &Default::default());
        cache.preload([(
            ("a.py".to_string(), ObjectId::null(gix::hash::Kind::Sha1), 7),
            outcome,
        )]);
        // Preloaded entries are unused until a scan touches them: nothing to save yet.
        save(&p, &cache).expect("save");
        assert_eq!(load(&p, &BlobCache::default()), Loaded::Loaded(0));

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
