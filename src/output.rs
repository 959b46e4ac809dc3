//! Writing files so that a crash never leaves half a file behind: write a temporary file in the
//! same folder, flush it to disk, then rename it over the target (rename is atomic on POSIX).
//!
//! @component Threatmark:Writer (#writer) in #process [type: process]
//! @threat Torn model file (#torn_write) [stride: T; likelihood: unlikely; impact: moderate]:
//! a crash or a full disk halfway through leaves a truncated threatmodel.json that CI then trusts
//! @control Atomic writes (#atomic_write): temp file in the same folder, fsync, rename
//! @mitigates #writer against #torn_write with #atomic_write
//! @connects #writer to #model_file with atomic rename

use std::io::Write;
use std::path::Path;

/// Atomically replace `path` with `contents`. Unchanged contents leave the file untouched, so
/// its modification time (and any build system watching it) is not disturbed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    replace(path, contents, true)
}

/// Replace a cache file: atomically (temp file, rename), but without waiting for the disk. A
/// cache that a crash leaves short fails its checksum and is rebuilt, so durability is not
/// worth an fsync of several megabytes on every run.
pub fn write_cache(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    replace(path, contents, false)
}

/// Write a temporary file next to `path` and rename it over `path`. A `published` file gets
/// an ordinary mode and is flushed to disk before the rename; a cache stays private (0600).
fn replace(path: &Path, contents: &[u8], published: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".threatmark-").suffix(".tmp");
    // Temp files are private (0600); the files we publish are ordinary files. Keep an existing
    // file's mode, otherwise 0644 less the umask.
    #[cfg(unix)]
    if published {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(contents)?;
    if published {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(
                mode & 0o044,
                0o044,
                "published files are readable by others: {mode:o}"
            );
        }
    }
}
