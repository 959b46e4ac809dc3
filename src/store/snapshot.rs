//! Snapshots of scanned revisions: the per-file outcomes a model is built from, kept so that
//! the scan of a nearby revision follows the change instead of reading the whole tree again.
//!
//! A snapshot is usually loaded to serve a scan that changes a handful of files. So only its
//! index (paths, and where each record is) is read when it is loaded; a record is read and
//! decoded when something needs it, and checked against its own CRC-32 then. Two snapshots
//! whose annotated records are the same records give the same model, which `diff` knows without
//! building either (see [`Snapshot::same_model_input`]).
//!
//! A snapshot that follows another one by a small change is saved as a delta of the last full
//! snapshot it descends from (its records of the changed paths, and which paths changed), so a
//! `diff` writes kilobytes, not the whole repository's records. Deltas never chain: a delta of a
//! delta is a delta of the same full snapshot.
//!
//! Pure: bytes in, bytes out. `store::cache` reads and writes the files (through [`Records`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::store::record::FileOutcome;

/// What a revision scan keeps: the outcomes of the files that contribute annotations or
/// diagnostics, and what decides which files are scanned.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The commit's root tree, hex.
    pub tree: String,
    pub prefix: String,
    /// See `scan::config_key`: the snapshot only serves scans with the same configuration.
    pub config_key: u64,
    /// Ignore files under the prefix: relative path and blob id (hex).
    pub ignore_files: Vec<(String, String)>,
    pub files_seen: usize,
    /// Problems of the path rules (unreadable ignore files).
    pub problems: Vec<Diagnostic>,
    /// Sorted by path.
    pub outcomes: Vec<Stored>,
    /// The full snapshot this one is a change of, when it was made by following one.
    pub origin: Option<Origin>,
}

/// This snapshot is the full snapshot of `tree` with the records of `changed` paths replaced
/// (by this snapshot's records of those paths, or by none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub tree: String,
    pub changed: BTreeSet<String>,
}

/// Where the saved records of a snapshot are read from: its file, or bytes in memory.
pub trait Records: Send + Sync {
    /// How many bytes there are.
    fn size(&self) -> u64;
    /// Fill `buf` with the bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

impl Records for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// One file's outcome, decoded or still saved.
#[derive(Clone)]
pub struct Stored {
    pub path: String,
    /// It holds annotations, so it is part of the model's input.
    pub annotated: bool,
    form: Form,
}

#[derive(Clone)]
enum Form {
    Decoded(Arc<FileOutcome>),
    /// The record at `at`: the outcome's JSON (`outcome` bytes), then the file's text when it
    /// was kept (`text` bytes); `crc` covers both.
    Saved {
        records: Arc<dyn Records>,
        at: u64,
        outcome: usize,
        text: Option<usize>,
        crc: u32,
    },
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("path", &self.path)
            .field("annotated", &self.annotated)
            .field("decoded", &matches!(self.form, Form::Decoded(_)))
            .finish()
    }
}

/// A record that cannot be read or does not decode: the snapshot must not be used.
#[derive(Debug, thiserror::Error)]
#[error("the saved record of `{path}` is unusable: {why}")]
pub struct Damaged {
    pub path: String,
    pub why: String,
}

/// Where one record is among saved records, and its CRC-32 (see [`encode_records`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub at: u64,
    /// Bytes of the outcome's JSON.
    pub outcome: usize,
    /// Bytes of the file's text after it, when it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<usize>,
    pub crc: u32,
}

/// Append the records of `items` to `out` (saved ones copied, decoded ones encoded), and
/// where each one is: [`Parts`] gathered into one buffer (a snapshot's).
pub(crate) fn encode_records<'a>(
    items: impl Iterator<Item = &'a Stored>,
    out: &mut Vec<u8>,
) -> Result<Vec<RecordRef>, Damaged> {
    let mut parts = Parts {
        pieces: Vec::new(),
        len: out.len() as u64,
    };
    let refs = parts.records(items)?;
    for piece in &parts.pieces {
        out.extend_from_slice(piece.bytes());
    }
    Ok(refs)
}

/// The encoder before issue 20's fourth round, one buffer for all records: the reference the
/// streamed scan-cache writer is tested against (`store::scan_cache`'s tests).
#[cfg(test)]
pub(crate) fn encode_records_whole<'a>(
    items: impl Iterator<Item = &'a Stored>,
    out: &mut Vec<u8>,
) -> Result<Vec<RecordRef>, Damaged> {
    let mut refs = Vec::new();
    for stored in items {
        let start = out.len();
        let (outcome, text) = match &stored.form {
            Form::Saved { outcome, text, .. } => {
                let bytes = stored.bytes()?.unwrap_or_default();
                out.extend_from_slice(&bytes);
                (*outcome, *text)
            }
            Form::Decoded(o) => {
                serde_json::to_writer(&mut *out, &**o).map_err(|e| stored.damaged(e))?;
                let outcome = out.len() - start;
                let text = o.text.as_deref().map(|t| {
                    out.extend_from_slice(t.as_bytes());
                    t.len()
                });
                (outcome, text)
            }
        };
        refs.push(RecordRef {
            at: start as u64,
            outcome,
            text,
            crc: crc32fast::hash(&out[start..]),
        });
    }
    Ok(refs)
}

/// Records (each an outcome's JSON, then the file's text when it is kept), without gathering
/// them into one buffer: each outcome's JSON in a buffer of its own size, the texts shared with the outcomes
/// that hold them, written piece by piece with [`Parts::write_to`]. A scan cache's records are
/// mostly JSON and texts (2.2 and 2.0 of 5.1 MB on issue 20's tree), and one growing buffer of
/// them, copied again beside the header, was most of the first scan's extra memory.
#[derive(Default)]
pub(crate) struct Parts {
    pieces: Vec<Piece>,
    len: u64,
}

enum Piece {
    Owned(Vec<u8>),
    Text(Arc<str>),
}

impl Parts {
    /// Append the outcomes of `items` as records; where each is, as [`encode_records`] gives.
    pub(crate) fn records<'a>(
        &mut self,
        items: impl Iterator<Item = &'a Stored>,
    ) -> Result<Vec<RecordRef>, Damaged> {
        let mut refs = Vec::new();
        let mut json = Vec::new();
        for stored in items {
            let at = self.len;
            match &stored.form {
                // A saved record is copied whole, outcome and text.
                Form::Saved { outcome, text, .. } => {
                    let bytes = stored.bytes()?.unwrap_or_default();
                    refs.push(RecordRef {
                        at,
                        outcome: *outcome,
                        text: *text,
                        crc: crc32fast::hash(&bytes),
                    });
                    self.push(Piece::Owned(bytes));
                }
                Form::Decoded(o) => {
                    json.clear();
                    serde_json::to_writer(&mut json, &**o).map_err(|e| stored.damaged(e))?;
                    let mut crc = crc32fast::Hasher::new();
                    crc.update(&json);
                    if let Some(t) = &o.text {
                        crc.update(t.as_bytes());
                    }
                    refs.push(RecordRef {
                        at,
                        outcome: json.len(),
                        text: o.text.as_ref().map(|t| t.len()),
                        crc: crc.finalize(),
                    });
                    self.push(Piece::Owned(json.as_slice().to_vec()));
                    if let Some(t) = &o.text {
                        self.push(Piece::Text(Arc::clone(t)));
                    }
                }
            }
        }
        Ok(refs)
    }

    /// Append `bytes` as a record of their own: where it is, its length and CRC-32.
    pub(crate) fn raw(&mut self, bytes: Vec<u8>) -> (u64, usize, u32) {
        let (at, len, crc) = (self.len, bytes.len(), crc32fast::hash(&bytes));
        self.push(Piece::Owned(bytes));
        (at, len, crc)
    }

    fn push(&mut self, piece: Piece) {
        self.len += piece.bytes().len() as u64;
        self.pieces.push(piece);
    }

    /// Write the records, in order.
    pub(crate) fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for piece in &self.pieces {
            out.write_all(piece.bytes())?;
        }
        Ok(())
    }
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Owned(bytes) => bytes,
            Piece::Text(text) => text.as_bytes(),
        }
    }
}

impl Stored {
    /// A record saved in `records` at `at`, read when it is needed.
    pub fn saved(path: String, annotated: bool, records: Arc<dyn Records>, at: &RecordRef) -> Self {
        Stored {
            path,
            annotated,
            form: Form::Saved {
                records,
                at: at.at,
                outcome: at.outcome,
                text: at.text,
                crc: at.crc,
            },
        }
    }

    /// The record fits in `size` bytes of records.
    pub fn fits(at: &RecordRef, size: u64) -> bool {
        let len = (at.outcome as u64).checked_add(at.text.unwrap_or(0) as u64);
        len.and_then(|l| at.at.checked_add(l))
            .is_some_and(|end| end <= size)
    }

    /// tree-sitter ran out of time on this file in this run (see `FileOutcome::timed_out`);
    /// a saved record never did.
    pub fn timed_out(&self) -> bool {
        matches!(&self.form, Form::Decoded(o) if o.timed_out)
    }

    pub fn new(outcome: FileOutcome) -> Self {
        Stored {
            path: outcome.path.clone(),
            annotated: !outcome.annotations.is_empty(),
            form: Form::Decoded(Arc::new(outcome)),
        }
    }

    fn damaged(&self, why: impl std::fmt::Display) -> Damaged {
        Damaged {
            path: self.path.clone(),
            why: why.to_string(),
        }
    }

    /// The saved record's bytes (outcome, then text), checked against its CRC.
    fn bytes(&self) -> Result<Option<Vec<u8>>, Damaged> {
        let Form::Saved {
            records,
            at,
            outcome,
            text,
            crc,
        } = &self.form
        else {
            return Ok(None);
        };
        let mut buf = vec![0; outcome + text.unwrap_or(0)];
        records
            .read_at(*at, &mut buf)
            .map_err(|e| self.damaged(e))?;
        self.check(&buf, *crc)?;
        Ok(Some(buf))
    }

    fn check(&self, bytes: &[u8], crc: u32) -> Result<(), Damaged> {
        if crc32fast::hash(bytes) != crc {
            return Err(self.damaged("checksum mismatch"));
        }
        Ok(())
    }

    /// What identifies the record: its source and place, or the decoded outcome itself.
    fn record_key(&self) -> (usize, u64) {
        match &self.form {
            Form::Saved { records, at, .. } => (source_key(records), *at),
            Form::Decoded(d) => (Arc::as_ptr(d) as usize, u64::MAX),
        }
    }

    /// Decode a saved record from its bytes.
    fn decode_bytes(&self, bytes: &[u8]) -> Result<Arc<FileOutcome>, Damaged> {
        let (outcome_len, text_len) = match &self.form {
            Form::Saved { outcome, text, .. } => (*outcome, *text),
            Form::Decoded(o) => return Ok(Arc::clone(o)),
        };
        let (json, text) = bytes.split_at(outcome_len.min(bytes.len()));
        let mut decoded: FileOutcome = serde_json::from_slice(json).map_err(|e| self.damaged(e))?;
        if decoded.path != self.path {
            return Err(self.damaged(format_args!("it holds `{}`", decoded.path)));
        }
        if text_len.is_some() {
            let text = std::str::from_utf8(text).map_err(|e| self.damaged(e))?;
            decoded.text = Some(Arc::from(text));
        }
        Ok(Arc::new(decoded))
    }

    /// The outcome, read and decoded if it is still saved.
    pub fn decode(&self) -> Result<Arc<FileOutcome>, Damaged> {
        match self.bytes()? {
            Some(bytes) => self.decode_bytes(&bytes),
            None => self.decode_bytes(&[]),
        }
    }

    /// Both are the same record: the same decoded outcome, the same saved record, or saved
    /// records of the same outcome (compared byte for byte, never by checksum).
    fn same_record(&self, other: &Stored) -> Result<bool, Damaged> {
        Ok(match (&self.form, &other.form) {
            (Form::Decoded(a), Form::Decoded(b)) => Arc::ptr_eq(a, b),
            (
                Form::Saved {
                    records: ra, at: a, ..
                },
                Form::Saved {
                    records: rb, at: b, ..
                },
            ) if Arc::ptr_eq(ra, rb) && a == b => true,
            (Form::Saved { outcome: a, .. }, Form::Saved { outcome: b, .. }) => {
                let (x, y) = (self.bytes()?, other.bytes()?);
                x.as_deref().and_then(|x| x.get(..*a)) == y.as_deref().and_then(|y| y.get(..*b))
            }
            _ => false,
        })
    }
}

/// Decoded outcomes, shared between the snapshots that hold the same records.
pub(crate) type Outcomes = Vec<Arc<FileOutcome>>;

/// Which [`Records`] a record is in (the address of the shared source).
fn source_key(records: &Arc<dyn Records>) -> usize {
    Arc::as_ptr(records).cast::<()>() as usize
}

/// The index at the start of a saved snapshot; the records follow it.
#[derive(Serialize, Deserialize)]
struct Index {
    tree: String,
    prefix: String,
    config_key: u64,
    ignore_files: Vec<(String, String)>,
    files_seen: usize,
    problems: Vec<Diagnostic>,
    entries: Vec<Entry>,
    /// A delta: the full snapshot of this tree (same configuration) with the records of
    /// `changed` replaced by `entries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changed: Vec<String>,
}

/// Where a record is among the records, and its CRC-32.
#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    annotated: bool,
    at: u64,
    outcome: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<usize>,
    crc: u32,
}

/// A snapshot saved by [`Snapshot::encode`]: the index line, and the records after it.
#[derive(Debug)]
pub struct Encoded {
    pub index: Vec<u8>,
    pub records: Vec<u8>,
}

/// What a saved snapshot holds: everything, or a change of a full one.
#[derive(Debug)]
pub enum Decoded {
    Full(Snapshot),
    /// Apply it to the full snapshot of `base` with [`Snapshot::apply`].
    Delta {
        base: String,
        delta: Snapshot,
    },
}

impl Snapshot {
    /// Every outcome, decoded. The saved records of each source are read in one piece.
    pub fn decode_all(&self) -> Result<Vec<Arc<FileOutcome>>, Damaged> {
        self.decode_all_on(1)
    }

    /// [`Snapshot::decode_all`], decoding on `threads` threads.
    pub fn decode_all_on(&self, threads: usize) -> Result<Vec<Arc<FileOutcome>>, Damaged> {
        let mut spans: Vec<(usize, &Arc<dyn Records>, u64, u64)> = Vec::new();
        for o in &self.outcomes {
            if let Form::Saved {
                records,
                at,
                outcome,
                text,
                ..
            } = &o.form
            {
                let end = at + (outcome + text.unwrap_or(0)) as u64;
                let key = source_key(records);
                match spans.iter_mut().find(|s| s.0 == key) {
                    Some(s) => {
                        s.2 = s.2.min(*at);
                        s.3 = s.3.max(end);
                    }
                    None => spans.push((key, records, *at, end)),
                }
            }
        }
        let mut read: Vec<(usize, u64, Vec<u8>)> = Vec::with_capacity(spans.len());
        for (key, records, start, end) in spans {
            let len = usize::try_from(end - start).unwrap_or(usize::MAX);
            let mut buf = vec![0; len];
            records.read_at(start, &mut buf).map_err(|e| Damaged {
                path: String::new(),
                why: e.to_string(),
            })?;
            read.push((key, start, buf));
        }
        let decode = |o: &Stored| match &o.form {
            Form::Decoded(d) => Ok(Arc::clone(d)),
            Form::Saved {
                records,
                at,
                outcome,
                text,
                crc,
            } => {
                let key = source_key(records);
                let (_, start, buf) = read
                    .iter()
                    .find(|r| r.0 == key)
                    .ok_or_else(|| o.damaged("not read"))?;
                let from = usize::try_from(at - start).map_err(|e| o.damaged(e))?;
                let bytes = buf
                    .get(from..from + outcome + text.unwrap_or(0))
                    .ok_or_else(|| o.damaged("out of bounds"))?;
                o.check(bytes, *crc)?;
                o.decode_bytes(bytes)
            }
        };
        let chunk = self.outcomes.len().div_ceil(threads.max(1)).max(256);
        std::thread::scope(|s| {
            let parts: Vec<_> = self
                .outcomes
                .chunks(chunk)
                .map(|part| s.spawn(|| part.iter().map(decode).collect::<Vec<_>>()))
                .collect();
            let mut out = Vec::with_capacity(self.outcomes.len());
            for part in parts {
                let decoded = part.join().map_err(|_| Damaged {
                    path: String::new(),
                    why: "a decoding thread panicked".into(),
                })?;
                for d in decoded {
                    out.push(d?);
                }
            }
            Ok(out)
        })
    }

    /// The outcomes of `self` and of `other`: the records `other` shares with `self` (all but
    /// the changed files, when one follows the other) are decoded once.
    pub fn decode_both(
        &self,
        other: &Snapshot,
        threads: usize,
    ) -> Result<(Outcomes, Outcomes), Damaged> {
        let mine = self.decode_all_on(threads)?;
        let known: std::collections::HashMap<(usize, u64), &Arc<FileOutcome>> = self
            .outcomes
            .iter()
            .zip(&mine)
            .map(|(o, d)| (o.record_key(), d))
            .collect();
        let theirs = other
            .outcomes
            .iter()
            .map(|o| match known.get(&o.record_key()) {
                Some(d) => Ok(Arc::clone(d)),
                None => o.decode(),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((mine, theirs))
    }

    /// Is the model built from `other` (with the same configuration and project) the one built
    /// from `self`? True when the annotated files are the same files with the same
    /// annotations; records shared by both are not even read.
    pub fn same_model_input(&self, other: &Snapshot) -> Result<bool, Damaged> {
        if self.config_key != other.config_key || self.prefix != other.prefix {
            return Ok(false);
        }
        let mut mine = self.outcomes.iter().filter(|o| o.annotated);
        let mut theirs = other.outcomes.iter().filter(|o| o.annotated);
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return Ok(true),
                (Some(a), Some(b)) if a.path == b.path => {
                    if !a.same_record(b)? && a.decode()?.annotations != b.decode()?.annotations {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
        }
    }

    /// The saved form: the index as one line of JSON, and the records. Saved records are
    /// copied, not encoded again.
    pub fn encode(&self) -> Result<Encoded, Damaged> {
        self.encode_with(|_| true, None)
    }

    /// The saved form of a delta of the full snapshot this one follows, if it follows one.
    pub fn encode_delta(&self) -> Option<Result<Encoded, Damaged>> {
        let origin = self.origin.as_ref()?;
        Some(self.encode_with(|path| origin.changed.contains(path), Some(origin)))
    }

    fn encode_with(
        &self,
        keep: impl Fn(&str) -> bool,
        delta: Option<&Origin>,
    ) -> Result<Encoded, Damaged> {
        let kept: Vec<&Stored> = self.outcomes.iter().filter(|o| keep(&o.path)).collect();
        let mut records = Vec::new();
        let refs = encode_records(kept.iter().copied(), &mut records)?;
        let entries = kept
            .iter()
            .zip(refs)
            .map(|(stored, r)| Entry {
                path: stored.path.clone(),
                annotated: stored.annotated,
                at: r.at,
                outcome: r.outcome,
                text: r.text,
                crc: r.crc,
            })
            .collect();
        let index = Index {
            tree: self.tree.clone(),
            prefix: self.prefix.clone(),
            config_key: self.config_key,
            ignore_files: self.ignore_files.clone(),
            files_seen: self.files_seen,
            problems: self.problems.clone(),
            entries,
            base: delta.map(|o| o.tree.clone()),
            changed: delta
                .map(|o| o.changed.iter().cloned().collect())
                .unwrap_or_default(),
        };
        let index = serde_json::to_vec(&index).map_err(|e| Damaged {
            path: String::new(),
            why: e.to_string(),
        })?;
        Ok(Encoded { index, records })
    }

    /// Read the index of a saved snapshot (see [`Snapshot::encode`]) whose records are in
    /// `records`. The records are only checked to lie inside it.
    pub fn decode(index: &[u8], records: Arc<dyn Records>) -> Result<Decoded, String> {
        let index: Index =
            serde_json::from_slice(index).map_err(|e| format!("unreadable index: {e}"))?;
        let size = records.size();
        let mut outcomes = Vec::with_capacity(index.entries.len());
        for e in index.entries {
            let at = RecordRef {
                at: e.at,
                outcome: e.outcome,
                text: e.text,
                crc: e.crc,
            };
            if !Stored::fits(&at, size) {
                return Err("a record lies outside the file".into());
            }
            outcomes.push(Stored::saved(
                e.path,
                e.annotated,
                Arc::clone(&records),
                &at,
            ));
        }
        if !outcomes.windows(2).all(|w| w[0].path < w[1].path) {
            return Err("records are not sorted by path".into());
        }
        let origin = index.base.as_ref().map(|tree| Origin {
            tree: tree.clone(),
            changed: index.changed.into_iter().collect(),
        });
        let snapshot = Snapshot {
            tree: index.tree,
            prefix: index.prefix,
            config_key: index.config_key,
            ignore_files: index.ignore_files,
            files_seen: index.files_seen,
            problems: index.problems,
            outcomes,
            origin,
        };
        Ok(match index.base {
            Some(base) => Decoded::Delta {
                base,
                delta: snapshot,
            },
            None => Decoded::Full(snapshot),
        })
    }

    /// This snapshot, a delta, applied to `base`, the full snapshot it names.
    pub fn apply(self, base: &Snapshot, base_tree: &str) -> Result<Snapshot, String> {
        let origin = self.origin.ok_or("not a delta")?;
        if base.tree != base_tree
            || base.origin.is_some()
            || base.config_key != self.config_key
            || base.prefix != self.prefix
        {
            return Err("the delta's base does not match".into());
        }
        if self
            .outcomes
            .iter()
            .any(|o| !origin.changed.contains(&o.path))
        {
            return Err("a delta record of an unchanged path".into());
        }
        let mut outcomes: Vec<Stored> = base
            .outcomes
            .iter()
            .filter(|o| !origin.changed.contains(&o.path))
            .cloned()
            .chain(self.outcomes)
            .collect();
        outcomes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Snapshot {
            outcomes,
            origin: Some(origin),
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(path: &str, text: &str) -> FileOutcome {
        crate::store::record::parsed(path, text)
    }

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        let mut outcomes: Vec<Stored> = files
            .iter()
            .map(|(p, t)| Stored::new(outcome(p, t)))
            .collect();
        outcomes.sort_by(|a, b| a.path.cmp(&b.path));
        Snapshot {
            tree: "t".into(),
            prefix: String::new(),
            config_key: 7,
            ignore_files: vec![(".gitignore".into(), "abc".into())],
            files_seen: 3,
            problems: Vec::new(),
            outcomes,
            origin: None,
        }
    }

    fn load(e: Encoded) -> Decoded {
        Snapshot::decode(&e.index, Arc::new(e.records)).expect("decode")
    }

    fn full(d: Decoded) -> Snapshot {
        match d {
            Decoded::Full(s) => s,
            Decoded::Delta { .. } => panic!("a delta"),
        }
    }

    fn reload(s: &Snapshot) -> Snapshot {
        full(load(s.encode().expect("encode")))
    }

    /// An outcome whose parse ran out of time depends on the machine's load: it is marked (the
    /// pipeline's test, in scan/pipeline.rs, shows it is), so that no cache keeps it, and a saved
    /// record never carries the mark.
    #[test]
    fn an_outcome_that_ran_out_of_time_is_never_saved_as_such() {
        let slow = FileOutcome {
            timed_out: true,
            ..outcome("slow.py", "# @threat Slow (#slow)\n")
        };
        let stored = Stored::new(slow);
        assert!(stored.timed_out());
        let s = Snapshot {
            outcomes: vec![stored],
            ..snapshot(&[])
        };
        assert!(!reload(&s).outcomes[0].timed_out());
        assert!(!Stored::new(outcome("a.py", "# @threat A (#a)\n")).timed_out());
    }

    #[test]
    fn round_trip_keeps_outcomes_and_texts() {
        let s = snapshot(&[
            (
                "b.py",
                "# @threat B (#b)\n# @mitigates #x against #b with #k\n",
            ),
            ("a.rs", "// @component A (#a)\n"),
            ("bin.rs", "\0\0 @threat"),
        ]);
        let back = reload(&s);
        assert_eq!(back.tree, "t");
        assert_eq!(back.ignore_files, s.ignore_files);
        let (old, new) = (
            s.decode_all().expect("old"),
            back.decode_all().expect("new"),
        );
        assert_eq!(old.len(), new.len());
        for (i, (o, n)) in old.iter().zip(&new).enumerate() {
            assert_eq!(o.path, n.path);
            assert_eq!(o.annotations, n.annotations);
            assert_eq!(o.diagnostics, n.diagnostics);
            assert_eq!(o.text, n.text);
            assert_eq!((o.matched, o.binary), (n.matched, n.binary));
            // One by one, as in bulk.
            assert_eq!(
                back.outcomes[i].decode().expect("one").annotations,
                n.annotations
            );
        }
        // Copied records, encoded again, are the same bytes.
        let (a, b) = (
            reload(&back).encode().expect("encode"),
            s.encode().expect("encode"),
        );
        assert_eq!((a.index, a.records), (b.index, b.records));
    }

    #[test]
    fn same_model_input_looks_at_annotated_records_only() {
        let a = snapshot(&[
            ("a.rs", "// @component A (#a)\n"),
            ("bin.rs", "\0\0 @threat"),
        ]);
        let saved = reload(&a);
        assert!(a.same_model_input(&saved).expect("compare"));
        assert!(saved.same_model_input(&reload(&a)).expect("compare"));
        // A changed binary file does not change the model; a changed annotation does.
        let b = snapshot(&[
            ("a.rs", "// @component A (#a)\n"),
            ("bin.rs", "\0\0\0 @threat"),
        ]);
        assert!(saved.same_model_input(&b).expect("compare"));
        let c = snapshot(&[
            ("a.rs", "// @component A2 (#a)\n"),
            ("bin.rs", "\0\0 @threat"),
        ]);
        assert!(!saved.same_model_input(&c).expect("compare"));
        assert!(!saved.same_model_input(&reload(&c)).expect("compare"));
        let d = snapshot(&[
            ("a.rs", "// @component A (#a)\n"),
            ("b.rs", "// @threat T\n"),
        ]);
        assert!(!saved.same_model_input(&d).expect("compare"));
        let mut e = snapshot(&[("a.rs", "// @component A (#a)\n")]);
        e.config_key = 8;
        assert!(!a.same_model_input(&e).expect("compare"));
        // The same annotations after an edit elsewhere in the file: the same model.
        let f = snapshot(&[("a.rs", "// @component A (#a)\nfn main() {}\n")]);
        assert!(a.same_model_input(&f).expect("compare"));
        assert!(saved.same_model_input(&reload(&f)).expect("compare"));
    }

    #[test]
    fn damaged_indexes_and_records_are_refused() {
        let s = snapshot(&[("a.rs", "// @component A (#a)\n")]);
        let Encoded { index, records } = s.encode().expect("encode");
        // A record that reaches past the end of the records.
        let mut short = records.clone();
        short.truncate(records.len() - 2);
        assert!(Snapshot::decode(&index, Arc::new(short)).is_err());
        // A flipped byte fails the record's checksum, one by one and in bulk; no panic.
        let mut bad = records.clone();
        bad[3] ^= 0x20;
        let loaded = full(Snapshot::decode(&index, Arc::new(bad)).expect("the index is intact"));
        assert!(loaded.decode_all().is_err());
        assert!(loaded.outcomes[0].decode().is_err());
        assert!(Snapshot::decode(b"{}", Arc::new(Vec::new())).is_err());
    }

    #[test]
    fn a_delta_applied_to_its_base_is_the_snapshot() {
        let base = reload(&snapshot(&[
            ("a.rs", "// @component A (#a)\n"),
            ("b.rs", "// @component B (#b)\n"),
            ("c.rs", "// @component C (#c)\n"),
        ]));
        // b.rs changed, c.rs was deleted, d.rs added.
        let mut next = snapshot(&[
            ("b.rs", "// @component B2 (#b)\n"),
            ("d.rs", "// @component D (#d)\n"),
        ]);
        next.outcomes.insert(0, base.outcomes[0].clone());
        next.tree = "u".into();
        next.origin = Some(Origin {
            tree: "t".into(),
            changed: ["b.rs", "c.rs", "d.rs"].map(String::from).into(),
        });
        let delta = next.encode_delta().expect("a delta").expect("encode");
        assert!(delta.records.len() < next.encode().expect("encode").records.len());
        let Decoded::Delta { base: named, delta } = load(delta) else {
            panic!("not a delta")
        };
        assert_eq!(named, "t");
        assert_eq!(
            delta.outcomes.len(),
            2,
            "only the changed records are saved"
        );
        let applied = delta.apply(&base, "t").expect("apply");
        let paths: Vec<&str> = applied.outcomes.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["a.rs", "b.rs", "d.rs"]);
        assert_eq!(applied.origin, next.origin);
        let bodies: Vec<String> = applied
            .decode_all()
            .expect("decode")
            .iter()
            .map(|o| format!("{:?}", o.annotations[0].body))
            .collect();
        assert!(bodies[1].contains("B2"), "{bodies:?}");
        assert!(applied.same_model_input(&next).expect("compare"));
        // A delta is only applied to the full snapshot it names.
        let mut other = base.clone();
        other.tree = "x".into();
        let Decoded::Delta { delta, .. } =
            load(next.encode_delta().expect("delta").expect("encode"))
        else {
            panic!("not a delta")
        };
        assert!(delta.apply(&other, "t").is_err());
    }
}
