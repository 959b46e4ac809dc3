//! Walking a work tree in parallel with the `ignore` crate (ripgrep's walker).
//!
//! Path rules, chosen so that the same commit gives the same model on every machine:
//! - `.gitignore` files inside the tree and `.threatmarkignore` files apply, even outside a git
//!   repository; the user's global gitignore and `.git/info/exclude` do not (they are not part
//!   of the repository), and neither do ignore files above the scan root;
//! - hidden files and folders are walked (`.github/workflows` matters); `.git/` never is;
//! - `include`/`exclude` globs from threatmark.toml apply on top;
//! - symbolic links are not followed unless configured, so a link out of the repository is never
//!   read.
//!
//! @component Threatmark:Walker (#walker) in #process [type: process]: parallel directory walk
//! @threat Path escape through symbolic links (#path_escape) [stride: I; likelihood: possible; impact: major; cwe: 59; actor: #malicious_contributor]:
//! a link in the repository points at ~/.ssh or /etc, and its content ends up in a published model
//! @threat Endless walk through a symlink loop (#symlink_loop) [stride: D; likelihood: possible; impact: minor; cwe: 835; actor: #malicious_contributor]
//! @control Symbolic links are not followed (#no_follow_symlinks): links are skipped unless configured, and loops are detected when they are followed
//! @mitigates #walker against #path_escape with #no_follow_symlinks
//! @mitigates #walker against #symlink_loop with #no_follow_symlinks
//! @connects #walker to #scanner with file paths

use std::path::{Path, PathBuf};

use ignore::{WalkBuilder, WalkState};

use crate::config::ScanConfig;
use crate::diagnostic::{Code, Diagnostic};

/// Ignore files with our own name.
pub const IGNORE_FILE: &str = ".threatmarkignore";

/// A file the walk found.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub path: PathBuf,
    /// Relative to the root, `/`-separated.
    pub rel: String,
    pub size: u64,
}

/// What the walk reports: files, or problems that name a path.
#[derive(Debug)]
pub enum Found {
    File(FoundFile),
    Problem(Diagnostic),
}

/// Errors that stop the walk before it starts (bad globs in the configuration).
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("invalid glob in [scan] {field}: {message}")]
    Glob {
        field: &'static str,
        message: String,
    },
    #[error("cannot scan {path}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `path` relative to `root`, with `/` separators.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for (i, part) in rel.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    out
}

/// Walk `root` with `threads` threads, calling `visit` for every file and problem. `visit` runs
/// on the walker threads, so heavy per-file work belongs in it.
pub fn walk(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    visit: &(dyn Fn(Found) + Sync),
) -> Result<(), WalkError> {
    let meta = std::fs::metadata(root).map_err(|source| WalkError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(WalkError::Root {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
        });
    }
    let overrides = crate::source::filter::overrides(root, config)?;

    let mut builder = WalkBuilder::new(root);
    builder
        .threads(threads.max(1))
        .hidden(!config.hidden)
        .parents(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .ignore(false)
        .follow_links(config.follow_symlinks)
        .add_custom_ignore_filename(IGNORE_FILE)
        .overrides(overrides)
        .filter_entry(|e| e.file_name() != ".git");

    let root_buf = root.to_path_buf();
    builder.build_parallel().run(|| {
        let root = root_buf.clone();
        Box::new(move |result| {
            match result {
                Ok(entry) => {
                    if let Some(err) = entry.error() {
                        problem(&root, err, visit);
                    }
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if !is_file {
                        return WalkState::Continue;
                    }
                    let path = entry.path().to_path_buf();
                    let rel = relative(&root, &path);
                    match entry.metadata() {
                        Ok(m) => visit(Found::File(FoundFile {
                            path,
                            rel,
                            size: m.len(),
                        })),
                        Err(e) => problem(&root, &e, visit),
                    }
                }
                Err(err) => problem(&root, &err, visit),
            }
            WalkState::Continue
        })
    });
    Ok(())
}

fn problem(root: &Path, err: &ignore::Error, visit: &(dyn Fn(Found) + Sync)) {
    match err {
        ignore::Error::Partial(errs) => {
            for e in errs {
                problem(root, e, visit);
            }
        }
        ignore::Error::WithDepth { err, .. } => problem(root, err, visit),
        ignore::Error::Loop { ancestor, child } => {
            let child = relative(root, child);
            visit(Found::Problem(
                Diagnostic::new(
                    Code::SymlinkLoop,
                    format!(
                        "symbolic link loop: `{child}` leads back to `{}`",
                        relative(root, ancestor)
                    ),
                )
                .in_file(&child)
                .help("the link was not followed"),
            ))
        }
        ignore::Error::WithPath { path, err } => {
            let rel = relative(root, path);
            match err.as_ref() {
                ignore::Error::Glob { .. } | ignore::Error::WithLineNumber { .. } => {
                    visit(Found::Problem(
                        Diagnostic::new(Code::IgnoreFileError, err.to_string()).in_file(&rel),
                    ))
                }
                ignore::Error::Loop { .. } | ignore::Error::Partial(_) => problem(root, err, visit),
                other => visit(Found::Problem(
                    Diagnostic::new(Code::IoError, format!("cannot read `{rel}`: {other}"))
                        .in_file(&rel)
                        .help("check the permissions; the rest of the scan went on"),
                )),
            }
        }
        ignore::Error::Glob { .. } | ignore::Error::WithLineNumber { .. } => visit(Found::Problem(
            Diagnostic::new(Code::IgnoreFileError, err.to_string()),
        )),
        other => visit(Found::Problem(Diagnostic::new(
            Code::IoError,
            other.to_string(),
        ))),
    }
}
