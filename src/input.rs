//! Reading the files that a configuration names by path — threatspec.yaml `imports` and
//! `[report] templates` — rather than the files a scan walks (those go through `source`).
//!
//! The configuration comes from the repository, so each such read is confined to the scan root
//! after resolving links, and every read (the user's own `--templates` or `merge` inputs too)
//! is of a regular file only — never a FIFO that blocks forever or a device that never ends —
//! and bounded: the size is checked before the first byte is read, and the read itself stops
//! one byte past the limit for files that report no size (`/proc/self/pagemap` is a "regular
//! file" of length 0 that yields gigabytes). Refusals are errors that name the file; the
//! commands end with exit 2.
//!
//! @threat Configured inputs read from anywhere (#import_escape) [stride: I; likelihood: possible; impact: major; cwe: 22; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a pull request's threatspec.yaml imports `/proc/self/pagemap` (3 GB read in 3 s) or a model outside the repository, which is merged into ours; a template folder or file links out of the repository and publishes what it reads
//! @control Confined, regular, bounded inputs (#confined_inputs): imports and configured templates must resolve inside the scan root; only regular files are read, and only up to a limit checked before reading
//! @mitigates #cli against #import_escape with #confined_inputs

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file named by the configuration was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{path} is outside the scan root {root} (after resolving links); refusing to read it")]
    Outside { path: String, root: String },
    #[error("{path} is not a regular file ({kind}); refusing to read it")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {limit} bytes ({setting}); refusing to read it")]
    TooBig {
        path: String,
        limit: u64,
        setting: &'static str,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// How a file may be read.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The folder the file must resolve into, for paths that come from the repository.
    pub confine: Option<&'a Path>,
    /// The most bytes read.
    pub limit: u64,
    /// Where the limit comes from, for the message (`[scan] max_file_size`).
    pub setting: &'static str,
}

/// A path for a message: control characters cannot drive the terminal.
fn shown(path: &Path) -> String {
    crate::render::escape::printable(&path.display().to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: shown(path),
        source,
    }
}

/// `path` with links resolved, which must be inside `root` (also resolved).
pub(crate) fn confined(path: &Path, root: &Path) -> Result<PathBuf, ReadError> {
    let root_real = std::fs::canonicalize(root).map_err(io(root))?;
    let real = std::fs::canonicalize(path).map_err(io(path))?;
    if real.starts_with(&root_real) {
        Ok(real)
    } else {
        Err(ReadError::Outside {
            path: shown(path),
            root: shown(&root_real),
        })
    }
}

/// What kind of file, when it is not a regular one.
fn kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
    }
    Some("a special file")
}

/// Check `path` against `rules` without reading it: where it resolves, its kind and size.
pub(crate) fn check(path: &Path, rules: &Rules<'_>) -> Result<(), ReadError> {
    if let Some(root) = rules.confine {
        confined(path, root)?;
    }
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if let Some(kind) = kind(&meta) {
        return Err(ReadError::NotRegular {
            path: shown(path),
            kind,
        });
    }
    if meta.len() > rules.limit {
        return Err(ReadError::TooBig {
            path: shown(path),
            limit: rules.limit,
            setting: rules.setting,
        });
    }
    Ok(())
}

/// The bytes of `path`, under `rules`.
pub(crate) fn read(path: &Path, rules: &Rules<'_>) -> Result<Vec<u8>, ReadError> {
    check(path, rules)?;
    // A FIFO swapped in between the check and the open would block here; the window is one
    // system call, and what is opened is checked again before it is read.
    let file = std::fs::File::open(path).map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    if let Some(kind) = kind(&meta) {
        return Err(ReadError::NotRegular {
            path: shown(path),
            kind,
        });
    }
    let too_big = || ReadError::TooBig {
        path: shown(path),
        limit: rules.limit,
        setting: rules.setting,
    };
    if meta.len() > rules.limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(rules.limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > rules.limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), under `rules`.
pub(crate) fn read_string(path: &Path, rules: &Rules<'_>) -> Result<String, ReadError> {
    String::from_utf8(read(path, rules)?).map_err(|e| ReadError::Io {
        path: shown(path),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules<'static> = Rules {
        confine: None,
        limit: 10,
        setting: "test",
    };

    #[test]
    fn reads_within_the_limit_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        std::fs::write(&p, "0123456789").expect("write");
        assert_eq!(read(&p, &RULES).expect("read"), b"0123456789");
        std::fs::write(&p, "0123456789a").expect("write");
        assert!(matches!(read(&p, &RULES), Err(ReadError::TooBig { .. })));
        assert!(matches!(
            read(dir.path(), &RULES),
            Err(ReadError::NotRegular { .. })
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn files_without_a_size_are_cut_off_and_devices_refused() {
        // procfs reports 0 bytes for files that yield far more.
        let err = read(Path::new("/proc/self/maps"), &Rules { limit: 1, ..RULES });
        assert!(matches!(err, Err(ReadError::TooBig { .. })), "{err:?}");
        let err = read(Path::new("/dev/zero"), &RULES);
        assert!(matches!(err, Err(ReadError::NotRegular { .. })), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn confinement_resolves_links() {
        let outer = tempfile::tempdir().expect("tempdir");
        let root = outer.path().join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::write(outer.path().join("secret"), "s").expect("write");
        std::fs::write(root.join("mine"), "m").expect("write");
        std::os::unix::fs::symlink(outer.path().join("secret"), root.join("link"))
            .expect("symlink");
        std::os::unix::fs::symlink("mine", root.join("inner")).expect("symlink");
        let rules = Rules {
            confine: Some(&root),
            ..RULES
        };
        assert_eq!(read(&root.join("inner"), &rules).expect("inside"), b"m");
        for bad in [root.join("link"), root.join("../secret")] {
            assert!(
                matches!(read(&bad, &rules), Err(ReadError::Outside { .. })),
                "{}",
                bad.display()
            );
        }
    }
}
