//! `threatmark scan --watch`: scan, then scan again whenever the repository changes, until
//! Ctrl-C (exit 0).
//!
//! The watcher is the `notify` crate (inotify, FSEvents, ReadDirectoryChangesW), recursive on
//! the scan root, set up before the first scan so that no change between the first scan and
//! the watch is lost. Events are debounced: after the first, the loop waits until nothing has
//! happened for [`QUIET`] (at most [`MAX_WAIT`]), so an editor's burst of saves or a `git
//! checkout` is one scan. Events that cannot change the model are dropped ([`Filter`]): the
//! git directory (where the scan cache lives), the model file and the temporary files of its
//! atomic write (else every scan would trigger the next), files `exclude`d by threatmark.toml
//! or by the root's `.gitignore`/`.threatmarkignore`, and files no language reads. The scan
//! cache makes each scan cost a stat per unchanged file, and the model file is rewritten
//! (atomically, `output::write_atomic`) only when it changed.
//!
//! A repository with more folders than the OS lets one process watch (Linux:
//! `fs.inotify.max_user_watches`) is refused with a clear message and exit 2 rather than
//! watched in part.
//!
//! @threat Watcher follows links out of the repository (#watch_links) [stride: I; likelihood: possible; impact: moderate; cwe: 59; actor: #malicious_contributor]:
//! a link in the repository to / or ~ makes the watcher register every folder of the machine and react to files that are not the repository's
//! @control Watches do not follow links (#watch_no_links): the watcher is told not to follow symbolic links, as the scan does not by default
//! @mitigates #watcher against #watch_links with #watch_no_links
//! @threat Endless re-scans (#watch_loop) [stride: D; likelihood: likely; impact: moderate; cwe: 835; actor: #careless_maintainer]:
//! the watcher reacts to its own model file, to the scan cache or to a build writing thousands of files, and scans forever
//! @control Debounced, filtered events (#watch_debounce): a burst of events is one scan; the model file, its temp files, the git directory and ignored or unreadable files trigger none; the model is rewritten only when it changed
//! @mitigates #watcher against #watch_loop with #watch_debounce
//! @threat Watch limit silently exceeded (#watch_limit) [stride: D; likelihood: possible; impact: minor; actor: #careless_maintainer]:
//! a repository with more folders than the OS watch limit is watched in part, and changes in the rest are silently missed
//! @control Watch limit reported (#watch_limit_reported): hitting the OS limit stops the watch with a message naming the limit, exit 2
//! @mitigates #watcher against #watch_limit with #watch_limit_reported
//! @component Threatmark:Watcher (#watcher) in #process [type: process]: `scan --watch`, re-scans on file changes
//! @connects #repo_files to #watcher with file-system events
//! @connects #watcher to #scanner with scan requests

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::Watcher;

use super::scan::{ScanArgs, once};
use crate::config::Config;
use crate::render::escape::printable;
use crate::scan::FileOptions;
use crate::source::filter::PathGlobs;
use crate::{exit, scan};

/// A burst ends when nothing happened for this long.
const QUIET: Duration = Duration::from_millis(250);
/// A burst that never ends (a build writing into the tree) is scanned after this long anyway.
const MAX_WAIT: Duration = Duration::from_secs(3);

enum Signal {
    Fs(notify::Result<notify::Event>),
    Stop,
}

pub(super) fn run(args: &ScanArgs, color: bool) -> anyhow::Result<u8> {
    let root = args.root.dir();
    let root = std::fs::canonicalize(root)
        .with_context(|| format!("cannot watch {}", printable(&root.display().to_string())))?;
    let (tx, rx) = mpsc::channel::<Signal>();
    let stop = tx.clone();
    ctrlc::set_handler(move || {
        let _ = stop.send(Signal::Stop);
    })
    .context("cannot install the Ctrl-C handler")?;
    let events = tx;
    let mut watcher = notify::RecommendedWatcher::new(
        move |event| {
            let _ = events.send(Signal::Fs(event));
        },
        notify::Config::default().with_follow_symlinks(false),
    )
    .map_err(|e| watch_error(&root, e))?;
    watcher
        .watch(&root, notify::RecursiveMode::Recursive)
        .map_err(|e| watch_error(&root, e))?;

    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "threatmark: watching {} for changes (Ctrl-C to stop)",
        printable(&root.display().to_string())
    );
    let mut filter = Filter::permissive(&root);
    scan_again(args, color, &root, &mut filter);
    loop {
        // Wait for the first event of a burst, then until it settles.
        let mut changed: Vec<PathBuf> = Vec::new();
        match rx.recv() {
            Ok(Signal::Stop) | Err(_) => return Ok(exit::OK),
            Ok(Signal::Fs(event)) => take(event, &root, &mut changed)?,
        }
        let started = Instant::now();
        loop {
            let left = MAX_WAIT.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(QUIET.min(left)) {
                Ok(Signal::Stop) => return Ok(exit::OK),
                Ok(Signal::Fs(event)) => take(event, &root, &mut changed)?,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(exit::OK),
            }
        }
        changed.sort();
        changed.dedup();
        changed.retain(|p| filter.relevant(p));
        let Some(first) = changed.first() else {
            continue;
        };
        let shown = first
            .strip_prefix(&root)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let more = match changed.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        let _ = writeln!(
            stderr,
            "\nthreatmark: {}{more} changed; scanning again",
            printable(&shown)
        );
        scan_again(args, color, &root, &mut filter);
    }
}

/// One scan; a failure (a broken threatmark.toml while it is being edited) is printed and the
/// watch goes on.
fn scan_again(args: &ScanArgs, color: bool, root: &Path, filter: &mut Filter) {
    match once(args, color) {
        Ok(scanned) => *filter = Filter::new(root, &scanned.config, scanned.written.as_deref()),
        Err(e) => eprintln!(
            "error: {}\nthreatmark: still watching; fix it and save",
            super::error_text(&e)
        ),
    }
}

/// Collect an event's paths; the watch limit ends the watch (exit 2).
fn take(
    event: notify::Result<notify::Event>,
    root: &Path,
    into: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    match event {
        Ok(event) => {
            if !matches!(event.kind, notify::EventKind::Access(_)) {
                into.extend(event.paths);
            }
            Ok(())
        }
        Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => Err(watch_error(root, e)),
        Err(e) => {
            // A lost event (the kernel's queue overflowed): scan again to be sure.
            eprintln!("threatmark: watch: {}", printable(&e.to_string()));
            into.push(root.to_path_buf());
            Ok(())
        }
    }
}

/// The watcher's errors, the OS limits said plainly.
fn watch_error(root: &Path, e: notify::Error) -> anyhow::Error {
    let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&e.kind, notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24));
    if limit {
        let setting = linux_limit()
            .map(|(name, value)| format!(" ({name} = {value})"))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{} has more folders than the operating system lets one program watch{setting}: --watch cannot see every change. Raise the limit (Linux: `sysctl fs.inotify.max_user_watches=524288`), watch a smaller folder with -C DIR, or run `threatmark scan` when needed",
            printable(&root.display().to_string())
        )
    } else {
        anyhow::anyhow!(
            "cannot watch {}: {}",
            printable(&root.display().to_string()),
            printable(&e.to_string())
        )
    }
}

fn linux_limit() -> Option<(&'static str, String)> {
    let name = "fs.inotify.max_user_watches";
    let value = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches").ok()?;
    Some((name, value.trim().to_string()))
}

/// Which changed paths can change the model.
struct Filter {
    root: PathBuf,
    model: Option<PathBuf>,
    globs: Option<PathGlobs>,
    ignores: Option<Gitignore>,
    opts: FileOptions,
}

impl Filter {
    /// Before the first successful scan: everything but the git directory.
    fn permissive(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            model: None,
            globs: None,
            ignores: None,
            opts: FileOptions::default(),
        }
    }

    fn new(root: &Path, config: &Config, model: Option<&Path>) -> Self {
        let mut ignores = GitignoreBuilder::new(root);
        for name in [".gitignore", crate::source::filter::IGNORE_FILE] {
            let path = root.join(name);
            if path.is_file() {
                // A bad line only makes the filter let more through.
                let _ = ignores.add(path);
            }
        }
        // The model path as the events name it: its folder resolved like the root.
        let model = model.map(|m| {
            let folder = m.parent().filter(|p| !p.as_os_str().is_empty());
            match (folder.map(std::fs::canonicalize), m.file_name()) {
                (Some(Ok(dir)), Some(name)) => dir.join(name),
                (None, Some(name)) => std::env::current_dir()
                    .and_then(std::fs::canonicalize)
                    .map(|d| d.join(name))
                    .unwrap_or_else(|_| m.to_path_buf()),
                _ => m.to_path_buf(),
            }
        });
        Self {
            root: root.to_path_buf(),
            model,
            globs: crate::source::filter::overrides(root, &config.scan).ok(),
            ignores: ignores.build().ok(),
            opts: FileOptions::from_config(config),
        }
    }

    fn relevant(&self, path: &Path) -> bool {
        if path == self.root {
            return true; // A lost event: see `take`.
        }
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        if rel.components().any(|c| c.as_os_str() == ".git") {
            return false;
        }
        if self.model.as_deref() == Some(path) {
            return false;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        // `output::write_atomic`'s temporary files.
        if name.starts_with(".threatmark-") && name.ends_with(".tmp") {
            return false;
        }
        let rel_text = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        // What decides what is read: always worth a scan.
        if rel.parent() == Some(Path::new(""))
            && [
                crate::config::FILE_NAME,
                crate::import::threatspec::CONFIG_FILE,
                crate::import::guardlink::CONFIG_FILE,
            ]
            .contains(&name.as_ref())
            || crate::source::filter::is_ignore_file(&rel_text)
            || name == ".gitignore"
        {
            return true;
        }
        let is_dir = path.is_dir();
        if let Some(globs) = &self.globs
            && globs.matched(path, is_dir, || rel_text.clone()).is_ignore()
        {
            return false;
        }
        if let Some(ignores) = &self.ignores
            && ignores.matched_path_or_any_parents(rel, is_dir).is_ignore()
        {
            return false;
        }
        is_dir || scan::is_candidate(&rel_text, &self.opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_drops_what_cannot_change_the_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::write(root.join(".gitignore"), "target/\n").expect("write");
        std::fs::create_dir(root.join("src")).expect("mkdir");
        let mut config = Config::default();
        config.scan.exclude = vec!["vendor/**".into()];
        let model = root.join("threatmodel.json");
        let filter = Filter::new(&root, &config, Some(&model));
        for (rel, relevant) in [
            ("src/main.rs", true),
            ("src", true),
            ("threatmark.toml", true),
            (".gitignore", true),
            ("threatmodel.json", false),
            (".threatmark-a1b2.tmp", false),
            (".git/index", false),
            (".git/threatmark/scan-1", false),
            ("target/debug/x.rs", false),
            ("vendor/lib.rs", false),
            ("logo.png", false),
        ] {
            assert_eq!(filter.relevant(&root.join(rel)), relevant, "{rel}");
        }
        assert!(!filter.relevant(Path::new("/elsewhere/x.rs")));
    }

    #[test]
    fn the_watch_limit_is_named() {
        let e = watch_error(
            Path::new("/repo"),
            notify::Error::new(notify::ErrorKind::MaxFilesWatch),
        );
        assert!(
            e.to_string()
                .contains("more folders than the operating system"),
            "{e}"
        );
    }
}
