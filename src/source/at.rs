//! Opening and `stat`ing the walk's files relative to their folder's descriptor.
//!
//! A call on a full path makes the kernel look up every component again (`link_path_walk`,
//! `__d_lookup_rcu`: a fifth of a warm scan's samples). The walker hands out a folder's entries
//! together, so each walker thread keeps the descriptor of the last folder it used (an `O_PATH`
//! descriptor: no permission on the folder itself is needed, as for a path lookup) and opens or
//! `stat`s the name alone, with `openat`/`fstatat`. The result is what the full path gives:
//! links are followed the same way, and when the folder cannot be opened the full path is used.
//! A descriptor serves one walk only ([`new_walk`]): a folder renamed between two scans of one
//! process (`scan --watch`) is looked up again, so the second scan cannot `stat` the old one.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The walk the descriptors belong to.
static WALK: AtomicU64 = AtomicU64::new(0);

/// Start a walk: no descriptor kept by an earlier one is used again.
pub(crate) fn new_walk() {
    WALK.fetch_add(1, Ordering::Relaxed);
}

/// What the scan cache compares: a regular file's inode, size and times in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) is_file: bool,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) ctime: i64,
}

#[cfg(target_os = "linux")]
thread_local! {
    /// The folder this thread used last (its descriptor and path) and the walk it was opened
    /// in: what is below it is opened or `stat`ed by the path below it.
    static FOLDER: std::cell::RefCell<Option<(u64, Folder)>> =
        const { std::cell::RefCell::new(None) };
}

/// A folder's descriptor, to open or `stat` what is below it without looking its path up
/// again. An empty stand-in where there are no descriptors.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    #[cfg(target_os = "linux")]
    fd: std::sync::Arc<Held>,
    /// The path it was opened by.
    #[cfg(target_os = "linux")]
    path: std::sync::Arc<[u8]>,
}

/// A folder's descriptor, counted while it is open (see [`may_open`]).
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct Held(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
static HELD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(target_os = "linux")]
impl Held {
    fn new(fd: std::os::fd::OwnedFd) -> std::sync::Arc<Self> {
        HELD.fetch_add(1, Ordering::Relaxed);
        std::sync::Arc::new(Self(fd))
    }
}

#[cfg(target_os = "linux")]
impl Drop for Held {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether the walk may open one more folder descriptor to keep. Each folder waiting to be
/// listed keeps its parent's, so a deep and bushy tree walked by many threads would hold
/// about depth × threads of them, and the files and listings opened beside them could fail
/// for want of descriptors (EMFILE). A quarter of the process's limit, at most 256, is theirs;
/// past it, folders are looked up by path as before.
#[cfg(target_os = "linux")]
fn may_open() -> bool {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let budget = *BUDGET.get_or_init(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        limit.map_or(256, |n| usize::try_from(n / 4).unwrap_or(256).min(256))
    });
    HELD.load(Ordering::Relaxed) < budget
}

/// A path below a folder's descriptor is looked up from it when it is at most this many names
/// long: each name costs a lookup, so a deep path opens a descriptor nearer to it.
#[cfg(target_os = "linux")]
const MAX_NAMES_BELOW: usize = 4;

/// `fs::below` on `/`-separated bytes: `path` after `root` and its separator when that is plain
/// names joined by single `/`s (no empty part, no `.`); also a folder descriptor's `below`.
#[cfg(unix)]
pub(crate) fn below_bytes<'a>(root: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    let rest = path.strip_prefix(root)?;
    let text = match root.last()? {
        b'/' => rest,
        _ => rest.strip_prefix(b"/")?,
    };
    // No empty part (a leading, trailing or doubled `/`, or nothing) and no `.`.
    let plain = text
        .split(|b| *b == b'/')
        .all(|part| !part.is_empty() && part != b".");
    plain.then_some(text)
}

/// `path` below `folder`, as plain names (none empty, `.` or `..`), at most
/// [`MAX_NAMES_BELOW`] of them, and how many.
#[cfg(target_os = "linux")]
fn below<'a>(folder: &Folder, path: &'a [u8]) -> Option<(&'a [u8], usize)> {
    let rest = below_bytes(&folder.path, path)?;
    let mut names = 0;
    for name in rest.split(|b| *b == b'/') {
        names += 1;
        if name == b".." || names > MAX_NAMES_BELOW {
            return None;
        }
    }
    Some((rest, names))
}

/// Run `f` with a descriptor of a folder above `path` and `path` below it: the folder this
/// thread used last when `path` is below it, else `path`'s parent, opened by path. `None`
/// when there is none to use (no parent or name, or the folder does not open).
#[cfg(target_os = "linux")]
fn in_folder<R>(
    path: &Path,
    f: impl FnOnce(std::os::fd::BorrowedFd<'_>, &std::ffi::OsStr) -> R,
) -> Option<R> {
    use std::ffi::OsStr;
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let walk = WALK.load(Ordering::Relaxed);
    FOLDER.with_borrow_mut(|folder| {
        if let Some((w, last)) = folder.as_ref()
            && *w == walk
            && let Some((rest, _)) = below(last, bytes)
        {
            return Some(f(last.fd.0.as_fd(), OsStr::from_bytes(rest)));
        }
        // Split at the last separator, by bytes: `Path::parent` and `file_name` parse
        // components, and this runs for every file of a warm scan. A name that is empty, `.`
        // or `..` (which `file_name` would not give as the name) takes the full path.
        let at = bytes.iter().rposition(|b| *b == b'/')?;
        let (parent, name) = (&bytes[..at.max(1)], &bytes[at + 1..]);
        if matches!(name, b"" | b"." | b"..") {
            return None;
        }
        use rustix::fs::{CWD, Mode, OFlags};
        let fd = rustix::fs::openat(
            CWD,
            OsStr::from_bytes(parent),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        *folder = fd.ok().map(|fd| {
            (
                walk,
                Folder {
                    fd: Held::new(fd),
                    path: parent.into(),
                },
            )
        });
        let (_, handle) = folder.as_ref()?;
        Some(f(handle.fd.0.as_fd(), OsStr::from_bytes(name)))
    })
}

/// `File::open(path)`, relative to the folder's descriptor.
pub(crate) fn open(path: &Path) -> std::io::Result<std::fs::File> {
    #[cfg(target_os = "linux")]
    if let Some(opened) = in_folder(path, |dir, name| {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
    }) {
        return opened.map(std::fs::File::from).map_err(Into::into);
    }
    std::fs::File::open(path)
}

/// `std::fs::metadata(path)` (links followed), relative to the folder's descriptor.
pub(crate) fn stat(path: &Path) -> std::io::Result<Stat> {
    stat_with(path, true)
}

/// `std::fs::symlink_metadata(path)` (a link's own stat), relative to the folder's descriptor.
pub(crate) fn lstat(path: &Path) -> std::io::Result<Stat> {
    stat_with(path, false)
}

/// [`Stat`] from the kernel's, and whether it is a folder.
#[cfg(target_os = "linux")]
fn of_raw(st: &rustix::fs::Stat) -> (Stat, bool) {
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
    // The fields' integer types differ between targets.
    #[allow(clippy::unnecessary_cast)]
    let stat = Stat {
        is_file: kind == rustix::fs::FileType::RegularFile,
        ino: st.st_ino as u64,
        size: st.st_size as u64,
        mtime: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctime: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
    };
    (stat, kind == rustix::fs::FileType::Directory)
}

/// The stat of the folder `dir` (a link's own unless `follow`), `None` when it is not a folder
/// or cannot be `stat`ed, and its descriptor if one was opened. With `above`, a descriptor of a
/// folder above `dir`, only the names below it are looked up. With `open`, `dir` is opened
/// (`openat` and `fstat` instead of a `statx` by path) and its descriptor kept by this thread
/// for what is below it; else one `fstatat` below `above` (when `dir` is close enough below
/// it), and this thread keeps `above` for `dir`'s entries: a folder of a few files costs one
/// call for its own stat, and its files one more name to look up each.
pub(crate) fn folder(
    dir: &Path,
    above: Option<&Folder>,
    follow: bool,
    open: bool,
) -> (Option<Stat>, Option<Folder>) {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{AtFlags, CWD, Mode, OFlags};
        use std::os::unix::ffi::OsStrExt;
        let bytes = dir.as_os_str().as_bytes();
        let walk = WALK.load(Ordering::Relaxed);
        let below = above.and_then(|above| Some((above, below(above, bytes)?)));
        // Its entries are one name further below `above`.
        let close = below.is_some_and(|(_, (_, names))| names < MAX_NAMES_BELOW);
        let rest = below.map(|(above, (rest, _))| (above, rest));
        // Past the budget, no descriptor is opened: below `above` or by path.
        let may_open = may_open();
        if (!open || !may_open)
            && close
            && let Some((above, rest)) = rest
        {
            let flags = match follow {
                true => AtFlags::empty(),
                false => AtFlags::SYMLINK_NOFOLLOW,
            };
            if let Ok(st) =
                rustix::fs::statat(&above.fd.0, std::ffi::OsStr::from_bytes(rest), flags)
            {
                let (stat, is_dir) = of_raw(&st);
                if is_dir {
                    FOLDER.with_borrow_mut(|folder| *folder = Some((walk, above.clone())));
                }
                return (is_dir.then_some(stat), None);
            }
        } else if may_open {
            // Without `O_DIRECTORY`: a link's own descriptor when it is not followed, as `lstat`.
            let flags = match follow {
                true => OFlags::PATH | OFlags::CLOEXEC,
                false => OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            };
            let opened = match rest {
                Some((above, rest)) => rustix::fs::openat(
                    &above.fd.0,
                    std::ffi::OsStr::from_bytes(rest),
                    flags,
                    Mode::empty(),
                ),
                None => rustix::fs::openat(CWD, dir, flags, Mode::empty()),
            };
            if let Ok(fd) = opened
                && let Ok(st) = rustix::fs::fstat(&fd)
            {
                let (stat, is_dir) = of_raw(&st);
                if !is_dir {
                    return (None, None);
                }
                let handle = Folder {
                    fd: Held::new(fd),
                    path: bytes.into(),
                };
                FOLDER.with_borrow_mut(|folder| *folder = Some((walk, handle.clone())));
                return (Some(stat), Some(handle));
            }
        }
    }
    let _ = (above, open);
    let stat = match follow {
        true => std::fs::metadata(dir),
        false => std::fs::symlink_metadata(dir),
    }
    .ok()
    .filter(|meta| meta.is_dir())
    .and_then(|meta| of(&meta).ok());
    (stat, None)
}

fn stat_with(path: &Path, follow: bool) -> std::io::Result<Stat> {
    #[cfg(target_os = "linux")]
    if let Some(found) = in_folder(path, |dir, name| {
        let flags = match follow {
            true => rustix::fs::AtFlags::empty(),
            false => rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        };
        rustix::fs::statat(dir, name, flags)
    }) {
        return Ok(of_raw(&found?).0);
    }
    of(&match follow {
        true => std::fs::metadata(path)?,
        false => std::fs::symlink_metadata(path)?,
    })
}

/// `file.metadata()` as a [`Stat`]: on Linux with `fstat` (std asks `statx` for every field).
pub(crate) fn fstat(file: &std::fs::File) -> std::io::Result<Stat> {
    #[cfg(target_os = "linux")]
    {
        Ok(of_raw(&rustix::fs::fstat(file)?).0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        of(&file.metadata()?)
    }
}

/// `path` names nothing, not even a dangling link: the walk's probe for ignore files, which
/// most folders do not have (two failing lookups per folder of a warm scan; relative to the
/// folder's descriptor, the kernel does not walk the whole path again). `false` when unsure.
pub(crate) fn absent(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(found) = in_folder(path, |dir, name| {
        rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
    }) {
        return matches!(found, Err(rustix::io::Errno::NOENT));
    }
    let _ = path;
    false
}

/// Seconds and nanoseconds as one count of nanoseconds since the epoch (saturating: some file
/// systems allow times past 2262), as the scan cache and the Threatspec settings keep them.
#[cfg(unix)]
fn ns(secs: i64, nanos: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// A file's modification and change times in nanoseconds.
#[cfg(unix)]
pub(crate) fn times_ns(meta: &std::fs::Metadata) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    )
}

/// [`Stat`] from std's metadata (the fallback, and the reference the tests compare with).
pub(crate) fn of(meta: &std::fs::Metadata) -> std::io::Result<Stat> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (mtime, ctime) = times_ns(meta);
        Ok(Stat {
            is_file: meta.is_file(),
            ino: meta.ino(),
            size: meta.size(),
            mtime,
            ctime,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Err(std::io::Error::other("no inodes on this platform"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder's stat through its descriptor, looked up by path or by name in its parent's,
    /// is what `std` gives for the path (a link's own stat unless followed: then no folder),
    /// and the files below it are then `stat`ed as by path.
    #[test]
    fn folder_stats_equal_path_stats() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("test tree");
        std::fs::write(root.join("a/b/x.rs"), "x").expect("test tree");
        std::fs::write(root.join("a/file"), "f").expect("test tree");
        #[cfg(unix)]
        std::os::unix::fs::symlink("b", root.join("a/link")).expect("test tree");
        new_walk();
        let (top, parent) = folder(&root.join("a"), None, false, true);
        let expected = |rel: &str, follow: bool| {
            let path = root.join(rel);
            match follow {
                true => std::fs::metadata(&path),
                false => std::fs::symlink_metadata(&path),
            }
            .ok()
            .filter(|m| m.is_dir())
            .and_then(|m| of(&m).ok())
        };
        assert_eq!(top, expected("a", false));
        #[cfg(target_os = "linux")]
        assert!(parent.is_some(), "no descriptor for a folder");
        for (rel, follow) in [
            ("a/b", false),
            ("a/b", true),
            ("a/link", false),
            ("a/link", true),
            ("a/file", false),
            ("a/missing", false),
        ] {
            for parent in [None, parent.as_ref()] {
                for open in [false, true] {
                    let (stat, _) = folder(&root.join(rel), parent, follow, open);
                    assert_eq!(stat, expected(rel, follow), "{rel} {follow} {open}");
                }
            }
        }
        // The files below, through the folder's descriptor or the one above it.
        for open in [false, true] {
            let (_, _) = folder(&root.join("a/b"), parent.as_ref(), false, open);
            let file = root.join("a/b/x.rs");
            let by_path = std::fs::metadata(&file).and_then(|m| of(&m));
            assert_eq!(stat(&file).ok(), by_path.ok(), "{open}");
        }
    }

    /// Relative to the folder's descriptor, `open` and `stat` give what the full path gives:
    /// for files in turn in different folders, links to files and folders, missing names,
    /// folders, a file replaced after its folder was opened, and a folder that was renamed.
    #[test]
    fn relative_calls_equal_full_path_calls() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("test tree");
        std::fs::create_dir_all(root.join("c")).expect("test tree");
        std::fs::write(root.join("a/one.rs"), "one").expect("test tree");
        std::fs::write(root.join("a/b/two.rs"), "two two").expect("test tree");
        std::fs::write(root.join("c/three.rs"), "three").expect("test tree");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("../a/one.rs", root.join("c/link.rs")).expect("test tree");
            std::os::unix::fs::symlink("../a", root.join("c/dirlink")).expect("test tree");
            std::os::unix::fs::symlink("nowhere", root.join("c/dangling")).expect("test tree");
        }
        let check = |rel: &str| {
            use std::io::Read;
            let path = root.join(rel);
            let slow = std::fs::metadata(&path).and_then(|m| of(&m));
            let fast = stat(&path);
            match (&slow, &fast) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{rel}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{rel}"),
                _ => panic!("{rel}: {slow:?} against {fast:?}"),
            }
            let read = |f: std::io::Result<std::fs::File>| {
                f.and_then(|mut f| {
                    let mut s = String::new();
                    f.read_to_string(&mut s).map(|_| s)
                })
                .map_err(|e| e.to_string())
            };
            assert_eq!(read(std::fs::File::open(&path)), read(open(&path)), "{rel}");
            if absent(&path) {
                assert!(std::fs::symlink_metadata(&path).is_err(), "{rel} is there");
            }
        };
        #[cfg(target_os = "linux")]
        for (rel, gone) in [
            ("c/missing.rs", true),
            ("missing/x.rs", false),
            ("c/dangling", false),
            ("c/link.rs", false),
            ("a/one.rs", false),
            ("a/one.rs/x", false),
        ] {
            assert_eq!(absent(&root.join(rel)), gone, "{rel}");
        }
        for rel in [
            "a/one.rs",
            "a/b/two.rs",
            "a/one.rs",
            "c/three.rs",
            "c/link.rs",
            "c/dirlink/one.rs",
            "c/dirlink/b/two.rs",
            "c/dangling",
            "c/missing.rs",
            "a/b",
            "missing/x.rs",
        ] {
            check(rel);
        }
        // The cached descriptor is the folder's: a file replaced under it is the new file.
        check("a/one.rs");
        std::fs::remove_file(root.join("a/one.rs")).expect("test tree");
        std::fs::write(root.join("a/one.rs"), "replaced").expect("test tree");
        check("a/one.rs");
        // A folder renamed away between two walks: the next walk looks its path up again.
        check("a/b/two.rs");
        std::fs::rename(root.join("a/b"), root.join("a/moved")).expect("test tree");
        std::fs::create_dir_all(root.join("a/b")).expect("test tree");
        std::fs::write(root.join("a/b/two.rs"), "new").expect("test tree");
        new_walk();
        check("a/b/two.rs");
    }
}
