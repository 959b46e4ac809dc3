//! Writing the files users see, and only where writing them cannot hurt.
//!
//! Every user-facing output (`scan -o`, `[scan] output`, `check -o`, `report --out`, `site
//! --out`, `export`, `import`, `merge`, `templates export`, `init`) goes through
//! [`write_atomic`], which first asks [`refuse_git_dir`]: nothing is ever written inside a git
//! directory, whatever the path is or how it reaches there. A hook there (`.git/hooks/
//! pre-commit`) is run by git on the next commit, and `.git/config` can name programs
//! (`core.fsmonitor`), so one write there is code execution for whoever made us write it: the
//! pull request's threatmark.toml, or a link it plants. Threatmark's own caches under
//! `.git/threatmark/` are written with [`write_cache_with`], which is not a user-facing path.
//!
//! Writing so that a crash never leaves half a file behind: write a temporary file in the same
//! folder, flush it to disk, then rename it over the target (rename is atomic on POSIX). The
//! new file always gets an ordinary mode (0644 less the umask): it never inherits the mode of
//! the file it replaces, so an executable target does not stay executable.
//!
//! @component Threatmark:Writer (#writer) in #process [type: process]
//! @threat Torn model file (#torn_write) [stride: T; likelihood: unlikely; impact: moderate]:
//! a crash or a full disk halfway through leaves a truncated threatmodel.json that CI then trusts
//! @control Atomic writes (#atomic_write): temp file in the same folder, fsync, rename
//! @mitigates #writer against #torn_write with #atomic_write
//! @connects #writer to #model_file with atomic rename
//! @threat Git hook planted through an output path (#hook_plant) [stride: E; likelihood: likely; impact: critical; cwe: 73; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a pull request sets `[scan] output = ".git/hooks/pre-commit"` (or links an output folder into the git directory) and the scan replaces the executable hook with its own text, which git runs on the next commit
//! @control No writes inside a git directory (#no_git_dir_writes): every user-facing write refuses a path with a `.git` component (case-insensitively, with the spellings NTFS and HFS+ treat alike) or inside any git directory (found by its HEAD, objects and refs, so a gitfile's target, `GIT_DIR`, worktree and common dirs are covered) after resolving links
//! @control Ordinary modes (#ordinary_mode): a written file gets 0644 less the umask, never the mode of the file it replaces
//! @mitigates #writer against #hook_plant with #no_git_dir_writes
//! @mitigates #writer against #hook_plant with #ordinary_mode

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Why a user-facing write did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The path is inside a git directory (see [`refuse_git_dir`]).
    #[error(
        "refused: {why}; git runs programs it finds in a git directory (hooks, `core.fsmonitor`), so threatmark never writes inside one. Choose a path outside it"
    )]
    GitDir { path: String, why: String },
    /// The path is a FIFO, socket, block device or folder: neither a file to replace nor a
    /// character device to write to.
    #[error("refused: it is {what}, not a regular file")]
    NotAFile { path: String, what: &'static str },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Atomically replace `path` with `contents`, unless `path` is inside a git directory. A file
/// with the same contents and an ordinary mode is left untouched, so its modification time (and
/// any build system watching it) is not disturbed.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    refuse_git_dir(path)?;
    // Looked at before anything is read (reading a FIFO blocks, `/dev/zero` never ends), and
    // without following a link: a link is replaced, never written or read through, so a
    // repository's `threatmodel.json -> /dev/mem` is harmless.
    match std::fs::symlink_metadata(path).map(|m| special(&m)) {
        Ok(Special::No) | Err(_) => {}
        Ok(Special::Device(what) | Special::Other(what)) => {
            return Err(WriteError::NotAFile {
                path: crate::render::escape::printable(&path.display().to_string()),
                what,
            });
        }
    }
    if same_contents(path, contents) && !unusual_mode(path) {
        return Ok(());
    }
    replace(path, contents, true)?;
    Ok(())
}

/// A path the user typed (`-o`, `--out`): as [`write_atomic`], except that a character device
/// or FIFO it names, through links too, is written to rather than replaced: `-o /dev/null`,
/// `-o /dev/stdout` into a pipe. A rename would swap the device for a regular file (as root,
/// the machine's `/dev/null`).
pub(crate) fn write_output(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    refuse_git_dir(path)?;
    if let Ok(meta) = std::fs::metadata(path)
        && matches!(
            special(&meta),
            Special::Device("a character device" | "a FIFO")
        )
    {
        let mut device = std::fs::OpenOptions::new().write(true).open(path)?;
        device.write_all(contents)?;
        return Ok(());
    }
    write_atomic(path, contents)
}

/// Is `path` a plain file (not a link: a link is replaced, never read through) that already
/// holds exactly `contents`? Only a file of the same length is read, so a link to
/// `/proc/self/pagemap` or a huge file costs nothing.
fn same_contents(path: &Path, contents: &[u8]) -> bool {
    let plain = |m: &std::fs::Metadata| m.is_file() && m.len() == contents.len() as u64;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| plain(&m)) {
        return false;
    }
    // The path may be swapped between the two looks: opened without following a link and
    // without blocking (a FIFO put in its place would hang the open), then checked by handle.
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        open.custom_flags(flags.bits() as i32);
    }
    open.open(path)
        .is_ok_and(|file| file.metadata().is_ok_and(|m| plain(&m)) && reads_as(file, contents))
}

/// Does `reader` hold exactly `contents`? Compared a block at a time: a 6 MB model is not read
/// into a second 6 MB buffer, and a difference early on stops the reading.
fn reads_as(mut reader: impl std::io::Read, mut contents: &[u8]) -> bool {
    let mut block = vec![0; 64 * 1024];
    loop {
        let n = match reader.read(&mut block) {
            Ok(0) => return contents.is_empty(),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        match contents.split_at_checked(n) {
            Some((head, rest)) if head == &block[..n] => contents = rest,
            _ => return false,
        }
    }
}

/// What is at an output path.
enum Special {
    /// A regular file or a link: replaced by rename.
    No,
    /// A character device or FIFO: only a path the user typed is written through.
    Device(&'static str),
    Other(&'static str),
}

fn special(meta: &std::fs::Metadata) -> Special {
    let kind = meta.file_type();
    if kind.is_file() || kind.is_symlink() {
        return Special::No;
    }
    if kind.is_dir() {
        return Special::Other("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return Special::Device("a character device");
        }
        if kind.is_fifo() {
            return Special::Device("a FIFO");
        }
        if kind.is_socket() {
            return Special::Other("a socket");
        }
        if kind.is_block_device() {
            return Special::Other("a block device");
        }
    }
    Special::Other("a special file")
}

/// An executable, setuid/setgid or sticky file: replaced even when its contents are ours.
fn unusual_mode(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path)
            .is_ok_and(|m| !m.is_file() || m.permissions().mode() & 0o7111 != 0)
    }
    #[cfg(not(unix))]
    {
        std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file())
    }
}

/// Refuse a path inside a git directory: one with a `.git` component (however NTFS or HFS+
/// would spell it), or below any folder that is a git directory (a `.git` gitfile's target,
/// `GIT_DIR`, a bare repository, a worktree's private dir, the common dir). Links in the part
/// of the path that exists are resolved first, so a link into `.git/hooks` is caught too.
pub(crate) fn refuse_git_dir(path: &Path) -> Result<(), WriteError> {
    let shown = || crate::render::escape::printable(&path.display().to_string());
    let refuse = |why: String| WriteError::GitDir { path: shown(), why };
    if let Some(name) = path.components().find_map(dot_git_component) {
        return Err(refuse(format!(
            "`{}` is a git directory",
            crate::render::escape::printable(&name.to_string_lossy())
        )));
    }
    let real = resolve(path);
    if let Some(name) = real.components().find_map(dot_git_component) {
        return Err(refuse(format!(
            "it resolves to {}, inside the git directory `{}`",
            crate::render::escape::printable(&real.display().to_string()),
            crate::render::escape::printable(&name.to_string_lossy())
        )));
    }
    // Git directories named by the environment, whether or not they look like one.
    for var in ["GIT_DIR", "GIT_COMMON_DIR"] {
        if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let dir = resolve(Path::new(&dir));
            if real.starts_with(&dir) {
                return Err(refuse(format!(
                    "it is inside {}, the git directory named by {var}",
                    crate::render::escape::printable(&dir.display().to_string())
                )));
            }
        }
    }
    for dir in real.ancestors() {
        if is_git_dir(dir) {
            return Err(refuse(format!(
                "it is inside the git directory {}",
                crate::render::escape::printable(&dir.display().to_string())
            )));
        }
    }
    Ok(())
}

/// `.git` as the file systems that ignore case, trailing dots and spaces (NTFS), a stream
/// suffix (`.git::$INDEX_ALLOCATION`) or ignorable code points (HFS+) would read it.
fn dot_git_component(c: Component<'_>) -> Option<&OsStr> {
    let Component::Normal(name) = c else {
        return None;
    };
    let text = name.to_string_lossy();
    let text = text.split(':').next().unwrap_or_default();
    let folded: String = text
        .chars()
        .filter(|c| !hfs_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let folded = folded.trim_end_matches(['.', ' ']);
    (folded == ".git" || (cfg!(windows) && folded == "git~1")).then_some(name)
}

/// The code points HFS+ drops when it compares names (git's `is_hfs_dotgit` list).
fn hfs_ignorable(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// A folder git would open as a repository's git directory (HEAD, objects, refs).
fn is_git_dir(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && gix::discover::is_git(dir).is_ok()
}

/// The absolute path `path` names, with links resolved in the part that exists; the rest (to
/// be created) is appended with `.` and `..` applied. A dangling link is followed by hand, up
/// to a bound, so that it cannot hide where a created folder would land.
fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
    };
    // Still to walk, last first; a dangling link pushes its target's parts.
    let mut todo: Vec<PathBuf> = abs
        .components()
        .rev()
        .map(|c| c.as_os_str().into())
        .collect();
    let mut out = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        match part.components().next() {
            Some(Component::Prefix(_) | Component::RootDir) => out.push(&part),
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::Normal(name)) => {
                out.push(name);
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                } else if hops < 40
                    && let Ok(target) = std::fs::read_link(&out)
                {
                    hops += 1;
                    out.pop();
                    todo.extend(target.components().rev().map(|c| c.as_os_str().into()));
                }
            }
            Some(Component::CurDir) | None => {}
        }
    }
    out
}

/// Replace a cache file with what `write` streams in pieces: atomically (temp file, rename),
/// but without waiting for the disk. A cache that a crash leaves short fails its checksum and
/// is rebuilt, so durability is not worth an fsync of several megabytes on every run; and a
/// cache is never held whole in memory beside what it is made of (issue 20: the first scan's
/// peak memory).
pub(crate) fn write_cache_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    replace_with(path, false, |file| {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
        write(&mut out)?;
        out.flush()
    })
}

/// Write a temporary file next to `path` and rename it over `path`. A `published` file gets
/// an ordinary mode and is flushed to disk before the rename; a cache stays private (0600).
fn replace(path: &Path, contents: &[u8], published: bool) -> std::io::Result<()> {
    replace_with(path, published, |file| file.write_all(contents))
}

/// [`replace`], the temporary file's contents written by `write`.
fn replace_with(
    path: &Path,
    published: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".threatmark-").suffix(".tmp");
    // Temp files are private (0600); the files we publish are ordinary files: 0644 less the
    // umask (the mode is given to open(2)), never the mode of the file they replace, which
    // may be an executable hook or a setuid binary.
    #[cfg(unix)]
    if published {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    write(tmp.as_file_mut())?;
    if published {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes a call, as a pipe or a slow disk may.
    struct Trickle<'a> {
        left: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.left.len());
            buf[..n].copy_from_slice(&self.left[..n]);
            self.left = &self.left[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_as_is_byte_equality_whatever_the_reads_return() {
        let long: Vec<u8> = (0..200_001_u32).map(|i| (i % 251) as u8).collect();
        for len in [0, 1, 7, 65_536, 65_537, 200_000] {
            let contents = &long[..len];
            for step in [1, 3, 65_536, usize::MAX] {
                let same = |old: &[u8]| reads_as(Trickle { left: old, step }, contents);
                if step > 1 || len < 70_000 {
                    assert!(same(contents), "{len} {step}");
                }
                assert!(!same(&long[..len + 1]), "longer {len} {step}");
                if len > 0 {
                    assert!(!same(&long[..len - 1]), "shorter {len} {step}");
                    let mut changed = contents.to_vec();
                    changed[len / 2] ^= 1;
                    assert!(!same(&changed), "changed {len} {step}");
                }
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_to_and_fifos_refused() {
        // /dev/null stays a character device (a rename used to replace it with a file).
        write_output(Path::new("/dev/null"), b"model").expect("write /dev/null");
        // Only a path the user typed is written through: a repository's path is refused.
        assert!(write_atomic(Path::new("/dev/null"), b"model").is_err());
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::metadata("/dev/null").expect("meta");
        assert!(meta.file_type().is_char_device());
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            // Must return at once, neither blocking on the FIFO nor replacing it.
            let err = write_atomic(&fifo, b"x").expect_err("a FIFO is refused");
            // A link to a device in a repository is replaced, never written through.
            let link = dir.path().join("model.json");
            std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
            write_atomic(&link, b"x").expect("the link is replaced");
            assert_eq!(std::fs::read(&link).expect("read"), b"x");
            assert!(err.to_string().contains("a FIFO"), "{err}");
            assert!(
                std::fs::symlink_metadata(&fifo)
                    .expect("meta")
                    .file_type()
                    .is_fifo()
            );
        }
        let err = write_atomic(dir.path(), b"x").expect_err("a folder is refused");
        assert!(err.to_string().contains("a folder"), "{err}");
    }

    #[test]
    fn every_spelling_of_dot_git_is_a_git_directory() {
        for name in [
            ".git",
            ".GIT",
            ".Git",
            ".git.",
            ".git ",
            ".git. .",
            ".git::$INDEX_ALLOCATION",
            ".g\u{200c}it",
            "\u{feff}.git",
            ".gi\u{206f}t",
        ] {
            let p = Path::new("repo").join(name).join("hooks/pre-commit");
            assert!(
                p.components().any(|c| dot_git_component(c).is_some()),
                "{name:?}"
            );
            assert!(
                matches!(refuse_git_dir(&p), Err(WriteError::GitDir { .. })),
                "{name:?}"
            );
        }
        for name in [
            ".github",
            ".gitignore",
            "git",
            "x.git",
            ".gitx",
            "a.git.json",
        ] {
            let p = Path::new(name).join("out.json");
            assert!(
                !p.components().any(|c| dot_git_component(c).is_some()),
                "{name:?}"
            );
        }
    }

    #[test]
    fn a_git_directory_is_found_by_its_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("store");
        for sub in ["objects", "refs"] {
            std::fs::create_dir_all(store.join(sub)).expect("mkdir");
        }
        std::fs::write(store.join("HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        let err = write_atomic(&store.join("hooks/pre-commit"), b"x").expect_err("refused");
        assert!(err.to_string().contains("git directory"), "{err}");
        assert!(!store.join("hooks").exists());
        // Beside it, and in a folder that only looks a little like one, is fine.
        write_atomic(&dir.path().join("model.json"), b"x").expect("beside");
        std::fs::write(dir.path().join("HEAD"), "not a ref").expect("HEAD");
        write_atomic(&dir.path().join("sub/model.json"), b"x").expect("not a git dir");
    }

    #[cfg(unix)]
    #[test]
    fn resolve_follows_links_and_dangling_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(dir.path()).expect("real");
        std::fs::create_dir_all(real.join(".git/hooks")).expect("mkdir");
        std::os::unix::fs::symlink(real.join(".git/hooks"), real.join("h")).expect("link");
        std::os::unix::fs::symlink(real.join(".git/new"), real.join("d")).expect("dangling");
        std::os::unix::fs::symlink("d", real.join("dd")).expect("chain");
        assert_eq!(resolve(&real.join("h/x")), real.join(".git/hooks/x"));
        assert_eq!(resolve(&real.join("dd/y")), real.join(".git/new/y"));
        assert_eq!(resolve(&real.join("a/../b/./c")), real.join("b/c"));
        for p in ["h/x", "dd/y", "d"] {
            assert!(refuse_git_dir(&real.join(p)).is_err(), "{p}");
        }
        // A loop of links ends.
        std::os::unix::fs::symlink("loop2", real.join("loop1")).expect("loop");
        std::os::unix::fs::symlink("loop1", real.join("loop2")).expect("loop");
        let _ = resolve(&real.join("loop1/x"));
    }

    #[cfg(unix)]
    #[test]
    fn an_executable_with_our_contents_is_replaced_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("out.json");
        std::fs::write(&p, b"same").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        write_atomic(&p, b"same").expect("write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o111, 0, "{mode:o}");
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub/out.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            // 0644 less the umask, as any file the user creates: compared with one made so,
            // not with 0644, so a runner with umask 027 passes too.
            let reference = dir.path().join("sub/reference");
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&reference)
                .expect("reference");
            let mode = |p: &std::path::Path| {
                std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
            };
            assert_eq!(
                mode(&p),
                mode(&reference),
                "published files are 0644 less the umask"
            );
        }
    }
}
