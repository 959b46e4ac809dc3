//! The `scan` command's memo: what the last scan of a folder produced (the model's bytes, the
//! selected diagnostics as data, the texts their snippets quote, the counts of the summary),
//! under a key of everything it was produced from. A scan whose key is the stored one writes
//! the stored model and renders the stored diagnostics, without decoding the cached outcomes,
//! building the model or analysing it: on a tree of 50,000 small files that is most of what a
//! warm scan does after its walk.
//!
//! It also keeps the diagnostics as the scan that wrote it rendered them (one format and
//! colour setting, named by the caller): a recall that asks for the same rendering reads that
//! text and neither decodes the diagnostics nor reads the texts they quote, and nothing is
//! rendered again (841 warnings of the small tree took ~5 ms on two threads). Any other
//! rendering is made afresh from the diagnostics, as before.
//!
//! And it keeps the model file as it stood, settled, after the scan that stored it wrote or
//! confirmed it (path and stat, as the scan cache keeps a file): a recall whose model file
//! still has that stat does not read the model's bytes, and writes nothing. Any write since
//! moves the change time (git's racy rule, as for the scan cache), so an edited, replaced or
//! removed file is written again.
//!
//! The key is the caller's (`cli::scan`): the build, the resolved configuration and the files
//! it came from, the root, and the walk's identity of every file (`ForCache::identity`), taken
//! only when every file came from the scan cache. This module keeps the bytes and checks them:
//! a missing, truncated, damaged or foreign memo (another build, another key) is `None`, a
//! miss, never a wrong answer. It lives beside the scan cache (`memo-<folder>`), where the
//! same ownership rule applies.
//!
//! @control Memo keyed by every input (#memo_key): the build, the resolved configuration and the bytes of its files, the root, and the walk's identity of every file (path, inode, size, mtime, ctime), taken only when every file came from a settled scan-cache entry; any other state is a miss and the scan is computed
//! @mitigates #parse_cache against #stale_scan_cache with #memo_key
//! @mitigates #parse_cache against #cache_poisoning with #checksummed_cache

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::store::scan_cache::FileStat;
use crate::store::snapshot::Records;

const MAGIC: &str = "threatmark-scan-memo";
const FORMAT: u32 = 3;

/// How many memos a cache folder keeps (one per scanned folder, as scan caches).
const KEEP_MEMOS: usize = 64;

/// What a scan produced, as `scan` prints and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Memo {
    /// The model as written (`threatmodel.json`'s bytes); `None` when loaded for a model file
    /// that is as `written` says.
    pub(crate) model: Option<Vec<u8>>,
    /// The model file (its path as given) and its stat, settled,
    /// after the scan wrote the model or found it there.
    pub(crate) written: Option<(String, FileStat)>,
    /// The diagnostics shown, after `[diagnostics]` and `threatmark: ignore` comments. Empty
    /// (with `sources`) in a memo loaded with its stored `rendered` text.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// How many of the diagnostics shown are errors, warnings and notes.
    pub(crate) severities: [usize; 3],
    /// The diagnostics rendered: which rendering (the caller's name for a format and colour
    /// setting) and its text. Loaded only when the same rendering is asked for.
    pub(crate) rendered: Option<(String, String)>,
    /// The summary's line of what was suppressed, if anything was.
    pub(crate) suppressed: Option<String>,
    /// The texts the diagnostics' snippets quote, by path.
    pub(crate) sources: BTreeMap<String, Arc<str>>,
    /// The model's counts by kind, as the summary prints them.
    pub(crate) kinds: Vec<(String, usize)>,
    /// The scan's counters that the model build sets: files matched, files annotated, binary
    /// files skipped, annotations.
    pub(crate) counters: [usize; 4],
}

/// A record of the file: where it starts (after the index), its length and CRC-32.
type Saved = (u64, usize, u32);

#[derive(Serialize, Deserialize)]
struct Index {
    key: [u64; 2],
    model: Saved,
    written: Option<(String, FileStat)>,
    diagnostics: Saved,
    sources: Vec<(String, Saved)>,
    severities: [usize; 3],
    rendered: Option<(String, Saved)>,
    suppressed: Option<String>,
    kinds: Vec<(String, usize)>,
    counters: [usize; 4],
}

/// Where the memo of the folder whose scan cache is at `cache` lives.
pub(crate) fn beside(cache: &Path) -> Option<PathBuf> {
    let name = cache.file_name()?.to_str()?;
    let folder = name.strip_prefix("scan-")?;
    Some(cache.with_file_name(format!("memo-{folder}")))
}

/// The memo at `path` if it was stored under `key` by this build and every record it needs
/// checks out: with its rendered diagnostics when they are the `rendering` asked for (then
/// without the diagnostics as data and the texts they quote), else with those; without the
/// model's bytes when `unchanged` says its model file is as it was `written`.
pub(crate) fn load(
    path: &Path,
    key: [u64; 2],
    rendering: &str,
    unchanged: impl FnOnce(&(String, FileStat)) -> bool,
) -> Option<Memo> {
    let (index, records) = super::cache::read_index(path, MAGIC, FORMAT)?;
    // The key first: a memo of another state is not decoded.
    let index: Index = serde_json::from_slice(&index).ok()?;
    if index.key != key {
        return None;
    }
    let size = records.size();
    let read = |(at, len, crc): Saved| -> Option<Vec<u8>> {
        if at.checked_add(len as u64)? > size {
            return None;
        }
        let mut buf = vec![0; len];
        records.read_at(at, &mut buf).ok()?;
        (crc32fast::hash(&buf) == crc).then_some(buf)
    };
    let model = match index.written.as_ref().is_some_and(unchanged) {
        true => None,
        false => Some(read(index.model)?),
    };
    let (diagnostics, sources, rendered) = match index.rendered {
        Some((name, saved)) if name == rendering => {
            let text = String::from_utf8(read(saved)?).ok()?;
            (Vec::new(), BTreeMap::new(), Some((name, text)))
        }
        _ => {
            let diagnostics = serde_json::from_slice(&read(index.diagnostics)?).ok()?;
            let mut sources = BTreeMap::new();
            for (path, saved) in index.sources {
                let text = String::from_utf8(read(saved)?).ok()?;
                sources.insert(path, Arc::from(text));
            }
            (diagnostics, sources, None)
        }
    };
    Some(Memo {
        model,
        written: index.written,
        diagnostics,
        severities: index.severities,
        rendered,
        suppressed: index.suppressed,
        sources,
        kinds: index.kinds,
        counters: index.counters,
    })
}

/// Store `memo` under `key` at `path` (atomically), and prune the least recently used memos of
/// the folder. Failing to save costs the next scan its shortcut only.
pub(crate) fn save(path: &Path, key: [u64; 2], memo: &Memo) -> std::io::Result<()> {
    // A memo loaded without its model is never stored again: the next recall would write it.
    let Some(model) = memo.model.as_deref() else {
        return Err(std::io::Error::other("a memo without its model"));
    };
    let diagnostics = serde_json::to_vec(&memo.diagnostics).map_err(std::io::Error::other)?;
    let mut at = 0u64;
    let mut place = |bytes: &[u8]| {
        let saved = (at, bytes.len(), crc32fast::hash(bytes));
        at += bytes.len() as u64;
        saved
    };
    let index = Index {
        key,
        model: place(model),
        written: memo.written.clone(),
        diagnostics: place(&diagnostics),
        sources: memo
            .sources
            .iter()
            .map(|(path, text)| (path.clone(), place(text.as_bytes())))
            .collect(),
        severities: memo.severities,
        rendered: (memo.rendered.as_ref())
            .map(|(name, text)| (name.clone(), place(text.as_bytes()))),
        suppressed: memo.suppressed.clone(),
        kinds: memo.kinds.clone(),
        counters: memo.counters,
    };
    let index = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    super::cache::write_indexed_with(path, MAGIC, FORMAT, &index, |out| {
        out.write_all(model)?;
        out.write_all(&diagnostics)?;
        memo.sources
            .values()
            .try_for_each(|text| out.write_all(text.as_bytes()))?;
        match &memo.rendered {
            Some((_, text)) => out.write_all(text.as_bytes()),
            None => Ok(()),
        }
    })?;
    if let Some(dir) = path.parent() {
        super::cache::prune(dir, "memo-", KEEP_MEMOS);
    }
    Ok(())
}

/// Mark the memo at `path` as just used, so that pruning keeps the memos used most.
pub(crate) fn touch(path: &Path) {
    super::cache::touch(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Code, Span};
    use crate::model::Location;

    fn stat() -> FileStat {
        FileStat {
            ino: 1,
            size: 17,
            mtime: 2,
            ctime: 3,
        }
    }

    fn memo() -> Memo {
        let text = "# @threat T (#t)\n# @threat U (#t)\n";
        Memo {
            model: Some(b"{\"threats\": []}\n".to_vec()),
            written: Some(("m.json".into(), stat())),
            diagnostics: vec![
                Diagnostic::new(Code::UndeclaredReference, "dangling")
                    .at(Location::new("a.py", 2, 3))
                    .at_span(Span::new(19, 22))
                    .label("here")
                    .help("declare it"),
                Diagnostic::new(Code::UndeclaredReference, "no file"),
            ],
            severities: [0, 2, 0],
            rendered: Some((
                "full".into(),
                "warning: dangling\nwarning: no file\n".into(),
            )),
            suppressed: Some("1 diagnostic suppressed\n".into()),
            sources: BTreeMap::from([("a.py".to_string(), Arc::from(text))]),
            kinds: vec![("threats".into(), 1)],
            counters: [1, 1, 0, 2],
        }
    }

    /// A memo reads back as it was stored, only under its own key: with its rendered text
    /// (and not the diagnostics as data) for the rendering it was stored with, with the
    /// diagnostics and the texts they quote for any other; any byte of it changed, or the file
    /// cut short in a record that is read, is a miss and never a panic or another memo.
    #[test]
    fn a_memo_reads_back_only_whole_and_under_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("memo-0123");
        let key = [7, 9];
        let as_text = Memo {
            diagnostics: Vec::new(),
            sources: BTreeMap::new(),
            ..memo()
        };
        let as_data = Memo {
            rendered: None,
            ..memo()
        };
        save(&path, key, &memo()).expect("save");
        assert_eq!(load(&path, key, "full", |_| false), Some(as_text.clone()));
        assert_eq!(
            load(&path, key, "concise", |_| false),
            Some(as_data.clone())
        );
        assert_eq!(load(&path, [7, 8], "full", |_| false), None, "another key");
        assert_eq!(
            load(&dir.path().join("memo-none"), key, "full", |_| false),
            None
        );
        let unread = Memo {
            model: None,
            ..as_text.clone()
        };
        let as_written = |w: &(String, FileStat)| w == &("m.json".to_string(), stat());
        assert_eq!(load(&path, key, "full", as_written), Some(unread));
        let unrendered = dir.path().join("memo-4567");
        save(&unrendered, key, &as_data).expect("save");
        assert_eq!(
            load(&unrendered, key, "full", |_| false),
            Some(as_data.clone())
        );
        let bytes = std::fs::read(&path).expect("read");
        let rendering_starts = bytes.len() - memo().rendered.map_or(0, |(_, text)| text.len());
        for cut in 0..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).expect("write");
            assert_eq!(load(&path, key, "full", |_| false), None, "cut at {cut}");
            // The rendering is the last record: a cut in it leaves what another one reads.
            let loaded = load(&path, key, "concise", |_| false);
            assert!(
                loaded.is_none() || (loaded == Some(as_data.clone()) && cut >= rendering_starts),
                "cut at {cut}"
            );
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            std::fs::write(&path, &damaged).expect("write");
            for (rendering, whole) in [("full", &as_text), ("concise", &as_data)] {
                let loaded = load(&path, key, rendering, |_| false);
                assert!(
                    loaded.is_none() || loaded.as_ref() == Some(whole),
                    "byte {at} changed gave another memo for {rendering}"
                );
            }
        }
    }

    #[test]
    fn the_memo_sits_beside_its_scan_cache() {
        assert_eq!(
            beside(Path::new("/x/threatmark/scan-00ff")),
            Some(PathBuf::from("/x/threatmark/memo-00ff"))
        );
        assert_eq!(beside(Path::new("/x/other")), None);
    }
}
