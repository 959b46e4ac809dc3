//! Whether a short `read` is the end of a file, so that a cold scan reads a small file with one
//! `read` instead of two (`open`, `read`, `close`: a quarter of the system calls per file fewer,
//! the second `read` having only returned 0).
//!
//! A `read` of a regular file through the page cache of a local file system returns fewer bytes
//! than asked only at the end of the file, or when an I/O error stops it at a page boundary (the
//! next `read` would report the error). That does not hold everywhere: FUSE (`direct_io`), 9p,
//! network file systems, `/proc` and `sysfs` can return short reads in the middle of a file, and
//! an overlay passes reads to layers that may be any of them. So a walk trusts a short read only
//! when its root is on a file system of a kind listed here, no file system is mounted below the
//! root (every file the walk opens is on the root's), and links are not followed; and then only
//! for a read that did not end on a 4 KiB boundary (every page size is a multiple of it), so an
//! error cannot pass for an end. Anything else is read until `read` returns 0. A file appended to
//! while it is read is seen as it was a moment earlier, as with any read.

use std::path::Path;

/// A short read that ends on a multiple of this may have been stopped by an error at a page
/// boundary: it is not taken as the end.
pub(crate) const PAGE: usize = 4096;

/// Do short reads end the files of a walk of `root`? See the module's documentation.
pub(crate) fn short_reads_end_files(root: &Path, follow_links: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        if follow_links {
            return false;
        }
        let local = rustix::fs::statfs(root).is_ok_and(|fs| {
            // The field's integer type differs between targets.
            #[allow(clippy::unnecessary_cast)]
            let kind = fs.f_type as i64;
            LOCAL.contains(&kind)
        });
        if !local {
            return false;
        }
        let Ok(canonical) = std::fs::canonicalize(root) else {
            return false;
        };
        // Its size reads as 0: room for a usual table, so it takes two `read`s, not eight.
        let mut mounts = Vec::with_capacity(16 * 1024);
        let read = std::fs::File::open("/proc/self/mountinfo")
            .and_then(|mut file| std::io::Read::read_to_end(&mut file, &mut mounts));
        read.is_ok() && !mounts_below(&mounts, canonical.as_os_str().as_bytes())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, follow_links);
        false
    }
}

/// `statfs` kinds whose regular files are read through the page cache: ext2/3/4, XFS, Btrfs,
/// tmpfs, F2FS.
#[cfg(target_os = "linux")]
const LOCAL: [i64; 5] = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0xF2F5_2010];

/// Is a file system mounted strictly below the folder `root` (an absolute path with its links
/// resolved), by `/proc/self/mountinfo`'s lines? Also `true` when a line cannot be read, so a
/// caller that does not understand the table trusts nothing.
#[cfg(any(target_os = "linux", test))]
pub(crate) fn mounts_below(mountinfo: &[u8], root: &[u8]) -> bool {
    let root = root.strip_suffix(b"/").unwrap_or(root);
    mountinfo
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .any(|line| {
            // The mount point is the fifth field; blanks in it are written as octal escapes.
            let Some(point) = line.split(|b| *b == b' ').nth(4).and_then(unescape) else {
                return true;
            };
            point
                .strip_prefix(root)
                .is_some_and(|rest| rest.len() > 1 && rest[0] == b'/')
        })
}

/// A mountinfo field with its `\ooo` escapes (of a blank, tab, newline or `\`) decoded; `None`
/// when an escape is malformed.
#[cfg(any(target_os = "linux", test))]
fn unescape(field: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'\\' {
            out.push(b);
            rest = tail;
            continue;
        }
        let digits = tail.get(..3)?;
        let mut value = 0u16;
        for d in digits {
            if !(b'0'..=b'7').contains(d) {
                return None;
            }
            value = value * 8 + u16::from(d - b'0');
        }
        out.push(u8::try_from(value).ok()?);
        rest = &tail[3..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mount strictly below the root is found, however its path is escaped; the root's own
    /// mount, mounts beside it (a longer name that starts with the root's) and above it are not;
    /// a table it cannot read counts as one that has such a mount.
    #[test]
    fn mounts_below_the_root_are_found() {
        let line = |point: &str| format!("36 35 98:0 / {point} rw,noatime - ext4 /dev/sda1 rw\n");
        let table = |points: &[&str]| points.iter().map(|p| line(p)).collect::<String>();
        let plain = table(&["/", "/work", "/work/repo", "/work/repository", "/proc"]);
        assert!(!mounts_below(plain.as_bytes(), b"/work/repo"));
        assert!(!mounts_below(plain.as_bytes(), b"/work/repo/"));
        assert!(mounts_below(plain.as_bytes(), b"/work"));
        assert!(mounts_below(plain.as_bytes(), b"/"));
        let spaced = table(&["/", "/work/my\\040repo/fuse"]);
        assert!(mounts_below(spaced.as_bytes(), b"/work/my repo"));
        assert!(!mounts_below(spaced.as_bytes(), b"/work/my"));
        assert!(mounts_below(b"36 35 98:0 /\n", b"/work"));
        assert!(mounts_below(line("/x\\04").as_bytes(), b"/work"));
        assert!(!mounts_below(b"", b"/work"));
    }

    /// A walk that follows links, or of a root that is not a listed file system (`/proc`) or
    /// has file systems mounted below it (`/`), does not trust short reads.
    #[cfg(target_os = "linux")]
    #[test]
    fn short_reads_are_trusted_only_on_listed_file_systems() {
        let dir = tempfile::tempdir().expect("temporary folder");
        assert!(!short_reads_end_files(dir.path(), true));
        assert!(!short_reads_end_files(Path::new("/proc/self"), false));
        assert!(!short_reads_end_files(Path::new("/"), false));
        assert!(!short_reads_end_files(&dir.path().join("missing"), false));
    }
}
