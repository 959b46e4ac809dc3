//! The listing cache (git's "untracked cache" in spirit): what the walk kept of each folder
//! last time, so that a warm scan of an unchanged folder neither lists it nor probes it for
//! ignore files, and only `stat`s its files.
//!
//! A folder's names change only through its own entries (a file created, removed or renamed,
//! a folder made or removed), and every such change moves the folder's modification time; a
//! permission change moves its change time. So a folder whose inode and both times are the ones
//! recorded, and whose times were settled (older than the recording scan by more than the
//! scan cache's settle time, git's racy rule), has the same names. What the walk made of the
//! names also depends on the ignore files of the folder and of the folders above it (their
//! content moves no folder time) and, for names a `.gitignore` rejects, on git's index. So:
//! - a folder whose listing consulted the index (an entry `.gitignore` rejects) keeps no names;
//! - a folder with an ignore file keeps no names either: it is listed and its ignore files are
//!   read on every scan, and the `stat` of its ignore files is kept;
//! - names below it are trusted only while that `stat` is the recorded one (and settled, and
//!   the files were read without any diagnostic), at every level up to the scan root;
//! - a folder whose listing gave any problem keeps no names.
//!
//! File systems that do not move a folder's modification time when an entry is added or
//! removed (some network and FUSE file systems), that keep no real change time (vfat, exfat,
//! some FUSE: `cp -p` into a folder can put its time back), or whose clients cache a folder's
//! attributes (NFS, up to a minute) would hide new files from a warm scan; git's untracked
//! cache has the same limit (`git update-index --test-untracked-cache`).
//! `THREATMARK_NO_CACHE=1` turns every cache off.
//!
//! Names read back are checked as a listing would give them (one path component each, in
//! order, none twice): the cache is the first that puts paths into the walk.
//!
//! @control Listings kept only while their folder's stat holds (#listing_stat): a folder's kept names are used only while its inode, mtime and ctime are the recorded, settled ones and the ignore files above it are unchanged; otherwise it is listed
//! @mitigates #parse_cache against #stale_scan_cache with #listing_stat
//! @control Kept names are single path components (#listing_names_checked): names read back from the listing cache must each be one component (no `/`, NUL, `.` or `..`), strictly increasing, or the cache is refused, so a forged cache cannot lead the walk out of its folder
//! @mitigates #walker against #path_escape with #listing_names_checked

use std::collections::HashMap;
use std::sync::Arc;

/// The inode and both times of a folder (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStat {
    pub(crate) ino: u64,
    pub(crate) mtime: i64,
    pub(crate) ctime: i64,
}

impl From<crate::source::at::Stat> for DirStat {
    fn from(st: crate::source::at::Stat) -> Self {
        DirStat {
            ino: st.ino,
            mtime: st.mtime,
            ctime: st.ctime,
        }
    }
}

/// Files and folders touched this recently before a scan are not cached by it.
pub(crate) const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Both times are older than `started` by more than [`SETTLE`]: a change in the same clock tick as the recording scan cannot hide.
pub(crate) fn settled(stat: DirStat, started: std::time::SystemTime) -> bool {
    settled_times(stat.mtime, stat.ctime, started)
}

/// Git's racy rule, in one place for files and folders: both times (nanoseconds since the
/// epoch) at least [`SETTLE`] before `started`.
pub(crate) fn settled_times(mtime: i64, ctime: i64, started: std::time::SystemTime) -> bool {
    let Ok(since) = started.duration_since(std::time::UNIX_EPOCH) else {
        return false;
    };
    let limit = i64::try_from(since.saturating_sub(SETTLE).as_nanos()).unwrap_or(i64::MAX);
    mtime < limit && ctime < limit
}

/// One folder as the walk last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) stat: DirStat,
    /// A fingerprint of the `stat` of the folder's ignore files, 0 when it has none.
    pub(crate) ignores: u64,
    /// The entries the walk kept ([`encode_names`]), when the folder's names can be trusted
    /// while its stat holds.
    pub(crate) names: Option<Box<[u8]>>,
}

/// A folder's kept entries, sorted by name and front-coded (a tree of generated names shares
/// long prefixes): per entry a kind byte (1 for a folder, 0 for a file), how many bytes it
/// shares with the name before, how many follow, and those bytes. `None` when a name is longer
/// than 255 bytes (then the folder is listed every time).
pub(crate) fn encode_names(entries: &mut [(bool, &[u8])]) -> Option<Box<[u8]>> {
    entries.sort_unstable_by(|a, b| a.1.cmp(b.1));
    let mut out = Vec::with_capacity(entries.len() * 8);
    let mut before: &[u8] = &[];
    for (is_dir, name) in entries.iter() {
        let shared = before
            .iter()
            .zip(name.iter())
            .take(255)
            .take_while(|(a, b)| a == b)
            .count();
        let rest = &name[shared..];
        out.push(u8::from(*is_dir));
        out.push(u8::try_from(shared).ok()?);
        out.push(u8::try_from(rest.len()).ok()?);
        out.extend_from_slice(rest);
        before = name;
    }
    Some(out.into_boxed_slice())
}

/// How many entries [`encode_names`]' bytes hold (a hint: damaged bytes are found by
/// [`each_name`]).
pub(crate) fn count_names(names: &[u8]) -> usize {
    let (mut count, mut rest) = (0, names);
    while let [_, _, len, tail @ ..] = rest {
        count += 1;
        rest = tail.get(usize::from(*len)..).unwrap_or_default();
    }
    count
}

/// Call `each(is_dir, name)` for the entries of [`encode_names`]' bytes; `false` when they are
/// damaged (then some entries may have been given). Only what a listing can hold passes: one
/// path component (no `/`, no NUL, not `.` or `..`), each name after the one before, so a forged
/// cache cannot send the walk out of its folder or to one file twice.
pub(crate) fn each_name(names: &[u8], mut each: impl FnMut(bool, &[u8])) -> bool {
    let mut name: Vec<u8> = Vec::with_capacity(64);
    let mut before: Vec<u8> = Vec::with_capacity(64);
    let mut first = true;
    let mut rest = names;
    while let [kind, shared, len, tail @ ..] = rest {
        let (shared, len) = (usize::from(*shared), usize::from(*len));
        if *kind > 1 || shared > name.len() || len > tail.len() || shared + len == 0 {
            return false;
        }
        name.truncate(shared);
        name.extend_from_slice(&tail[..len]);
        let component = !name.contains(&b'/')
            && !name.contains(&0)
            && name.as_slice() != b"."
            && name.as_slice() != b"..";
        if !component || (!first && name <= before) {
            return false;
        }
        each(*kind == 1, &name);
        before.clear();
        before.extend_from_slice(&name);
        first = false;
        rest = &tail[len..];
    }
    rest.is_empty()
}

/// Every folder's [`Listed`], by the hash of its path below the scan root (`folder_key`: raw
/// bytes, `/`-separated); the inode and times compared on use make a collision harmless, and
/// a key met twice is not kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listings {
    pub(crate) folders: HashMap<u64, Arc<Listed>, foldhash::fast::RandomState>,
}

/// The key of a folder's path below the scan root (FNV-1a of its bytes).
pub(crate) fn folder_key(rel: &[u8]) -> u64 {
    crate::text::fnv1a(rel)
}

impl Listings {
    pub(crate) fn get(&self, key: u64) -> Option<&Arc<Listed>> {
        self.folders.get(&key)
    }

    pub(crate) fn len(&self) -> usize {
        self.folders.len()
    }

    /// The record the scan cache keeps: per folder, by key, the key, the inode and both times,
    /// the ignore fingerprint, and the names' length (`u32::MAX` when none are kept) and
    /// bytes; numbers little-endian.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut keys: Vec<u64> = self.folders.keys().copied().collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for key in keys {
            let listed = &self.folders[&key];
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&listed.stat.ino.to_le_bytes());
            out.extend_from_slice(&listed.stat.mtime.to_le_bytes());
            out.extend_from_slice(&listed.stat.ctime.to_le_bytes());
            out.extend_from_slice(&listed.ignores.to_le_bytes());
            match listed
                .names
                .as_deref()
                .and_then(|n| u32::try_from(n.len()).ok().filter(|l| *l != u32::MAX))
            {
                Some(len) => {
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(listed.names.as_deref().unwrap_or_default());
                }
                None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        out
    }

    /// The listings of a record [`encode`](Self::encode) wrote; `None` when it is damaged.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Listings> {
        let mut rest = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let mut folders = HashMap::default();
        // Bytes of whole folders read: a record cut inside a key is damaged too.
        let mut used = 0usize;
        let u32_of = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
        let u64_of = |b: &[u8]| b.try_into().ok().map(u64::from_le_bytes);
        while let Some(key) = take(8) {
            let key = u64_of(key)?;
            let ino = u64_of(take(8)?)?;
            let mtime = u64_of(take(8)?)? as i64;
            let ctime = u64_of(take(8)?)? as i64;
            let ignores = u64_of(take(8)?)?;
            used += 44;
            let names = match u32_of(take(4)?)? {
                u32::MAX => None,
                n => {
                    let names = take(usize::try_from(n).ok()?)?;
                    used += names.len();
                    if !each_name(names, |_, _| {}) {
                        return None;
                    }
                    Some(names.to_vec().into_boxed_slice())
                }
            };
            let listed = Listed {
                stat: DirStat { ino, mtime, ctime },
                ignores,
                names,
            };
            if folders.insert(key, Arc::new(listed)).is_some() {
                return None;
            }
        }
        (used == bytes.len()).then_some(Listings { folders })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_survive_their_record() {
        let mut listings = Listings::default();
        let stat = DirStat {
            ino: 7,
            mtime: -3,
            ctime: 1 << 62,
        };
        let long = vec![b'n'; 255];
        let mut entries: Vec<(bool, &[u8])> = vec![
            (false, b"a.rs"),
            (true, b"sub"),
            (false, b"\xff.py"),
            (false, b"a.rs.bak"),
            (false, &long),
        ];
        let names = encode_names(&mut entries).expect("names fit");
        listings.folders.insert(
            1,
            Arc::new(Listed {
                stat,
                ignores: 0,
                names: Some(names),
            }),
        );
        listings.folders.insert(
            2,
            Arc::new(Listed {
                stat,
                ignores: 99,
                names: None,
            }),
        );
        listings.folders.insert(
            3,
            Arc::new(Listed {
                stat,
                ignores: 0,
                names: Some(Box::default()),
            }),
        );
        let bytes = listings.encode();
        let back = Listings::decode(&bytes).expect("decodes");
        assert_eq!(back.folders, listings.folders);
        let mut seen = Vec::new();
        let names = back.get(1).and_then(|l| l.names.as_deref()).expect("names");
        assert!(each_name(names, |d, n| seen.push((d, n.to_vec()))));
        let mut expected: Vec<(bool, Vec<u8>)> =
            entries.iter().map(|(d, n)| (*d, n.to_vec())).collect();
        expected.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(seen, expected);
        let too_long = vec![b'n'; 256];
        assert!(encode_names(&mut [(false, &too_long[..])]).is_none());
        // A record cut anywhere but between folders is damaged (even inside a key).
        let mut whole = 0;
        for cut in 1..bytes.len() {
            if let Some(short) = Listings::decode(&bytes[..cut]) {
                assert!(short.len() < 3, "cut at {cut}");
                whole += 1;
            }
        }
        assert_eq!(whole, 2, "only the two cuts between folders decode");
    }

    /// Names a listing never holds are refused, so a forged cache cannot lead the walk out of
    /// its folder (`..`, `/etc`, `a/b`) or to one file twice.
    #[test]
    fn names_a_listing_cannot_hold_are_refused() {
        let name = |n: &[u8]| [&[0u8, 0, n.len() as u8][..], n].concat();
        for bad in [&b"/"[..], b"..", b".", b"/etc", b"a/b", b"a\0b"] {
            assert!(!each_name(&name(bad), |_, _| ()), "{bad:?} passed");
        }
        // The same name twice, and names out of order.
        let twice = [name(b"a.rs"), vec![0, 4, 0]].concat();
        assert!(!each_name(&twice, |_, _| ()));
        let unsorted = [name(b"b.rs"), name(b"a.rs")].concat();
        assert!(!each_name(&unsorted, |_, _| ()));
        let sorted = [name(b"a.rs"), name(b"b.rs")].concat();
        assert!(each_name(&sorted, |_, _| ()));
    }
}
