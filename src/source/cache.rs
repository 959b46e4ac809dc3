//! The optional on-disk parse cache under `.git/threatmark/`, so that `diff`, `check` and
//! `history` do not re-parse blobs that an earlier run already parsed.
//!
//! The file is a header line and a JSON body. The header carries the format version, the tool
//! version and a checksum of the body; anything that does not match (a truncated write, a bit
//! flip, another threatmark version) means the cache is ignored and rebuilt, never trusted.
//! Writes are atomic.
//!
//! @component Threatmark:Parse cache (#parse_cache) in #process [type: store]: .git/threatmark/cache-v1
//! @threat Poisoned parse cache (#cache_poisoning) [stride: T; likelihood: rare; impact: major; owner: @threatmark-maintainers]:
//! a stale or tampered cache makes diff and check report a model the code does not have
//! @control Checksummed, versioned cache (#checksummed_cache): header with format, tool version, length and checksum; any mismatch discards the cache
//! @mitigates #parse_cache against #cache_poisoning with #checksummed_cache
//! @accepts #cache_poisoning to #parse_cache with whoever can write .git can already rewrite the repository itself

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scan::{BlobCache, CacheKey, FileOutcome};
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
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
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

fn parse(bytes: &[u8]) -> Result<Vec<(CacheKey, FileOutcome)>, String> {
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
    let mut out = format!(
        "{MAGIC} {FORMAT} {} {} {}\n",
        env!("CARGO_PKG_VERSION"),
        checksum(&body),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    crate::output::write_atomic(path, &out)
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
