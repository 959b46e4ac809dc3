//! Walking a work tree in parallel with the `ignore` crate (ripgrep's walker).
//!
//! Path rules, chosen so that the same commit gives the same model on every machine:
//! - `.gitignore` files inside the tree and `.threatmarkignore` files apply, even outside a git
//!   repository; the user's global gitignore and `.git/info/exclude` do not (they are not part
//!   of the repository), and neither do ignore files above the scan root;
//! - a file git tracks (it is in the index) is scanned even when a `.gitignore` pattern matches
//!   it or a folder above it, as git itself treats it, and as a scan of a revision does (every
//!   file of a commit is tracked). Otherwise a pull request that adds `*.py` to `.gitignore`
//!   hides every Python annotation from the work-tree scan. `.threatmarkignore` and
//!   `include`/`exclude` still apply to tracked files: they are threatmark's own configuration;
//! - ignore files over 1 MiB or 10,000 patterns are skipped with TM032 (see `filter`);
//! - hidden files and folders are walked (`.github/workflows` matters); `.git/` never is;
//! - `include`/`exclude` globs from threatmark.toml apply on top;
//! - symbolic links are not followed unless configured, so a link out of the repository is never
//!   read.
//!
//! @component Threatmark:Walker (#walker) in #process [type: process]: parallel directory walk
//! @threat Path escape through symbolic links (#path_escape) [stride: I; likelihood: possible; impact: major; cwe: 59; actor: #malicious_contributor]:
//! a link in the repository points at ~/.ssh or /etc, and its content ends up in a published model
//! @threat Endless walk through a symlink loop (#symlink_loop) [stride: D; likelihood: possible; impact: minor; cwe: 835; actor: #malicious_contributor]
//! @control Symbolic links are not followed (#no_follow_symlinks): links are skipped unless configured; when they are followed, only inside the scanned folder (TM034), and loops are detected
//! @mitigates #walker against #path_escape with #no_follow_symlinks
//! @mitigates #walker against #symlink_loop with #no_follow_symlinks
//! @threat Annotations hidden by a .gitignore in the pull request (#ignore_hiding) [stride: T,R; likelihood: likely; impact: major; actor: #malicious_contributor]:
//! a change adds `*.py` or a folder to .gitignore, and the work-tree scan (the gate's head) silently loses the annotations of committed files
//! @control Tracked files are scanned (#tracked_files_scanned): files in the git index pass .gitignore rules, so the work tree and `--rev` agree
//! @mitigates #walker against #ignore_hiding with #tracked_files_scanned
//! @control Bounded ignore files (#bounded_ignore_files): ignore files over 1 MiB or 10,000 patterns are skipped whole with TM032, which scans more, never less
//! @mitigates #walker against #structural_exhaustion with #bounded_ignore_files
//! @connects #walker to #scanner with file paths

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use ignore::gitignore::Gitignore;
use ignore::{Match, WalkBuilder, WalkState};

use crate::config::ScanConfig;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::filter::{
    IGNORE_FILE, MAX_IGNORE_FILE_BYTES, WalkError, compile_ignore, too_large,
};

/// A file the walk found. Its size is not known yet: asking for it costs a `statx` per file,
/// and most files are either never read (unknown extension) or small; the reader checks it.
#[derive(Debug, Clone)]
pub(crate) struct FoundFile {
    pub path: PathBuf,
    /// Relative to the root, `/`-separated.
    pub rel: String,
}

/// What the walk reports: files, or problems that name a path.
#[derive(Debug)]
pub(crate) enum Found {
    File(FoundFile),
    Problem(Diagnostic),
}

/// `path` relative to `root`, with `/` separators.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    // The walker's paths are the root joined with plain names: as text they are already what
    // the component-wise form below gives, and this runs several times per file.
    #[cfg(unix)]
    if let (Some(root), Some(path)) = (root.to_str(), path.to_str())
        && let Some(text) = path
            .strip_prefix(root)
            .and_then(|rest| match root.ends_with('/') {
                true => Some(rest),
                false => rest.strip_prefix('/'),
            })
        && !root.is_empty()
        && !text.is_empty()
        && !text.starts_with('/')
        && !text.ends_with('/')
        && !text.contains("//")
        && !text.split('/').any(|part| part == ".")
    {
        return text.to_string();
    }
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

/// Paths whose type a caller wants to learn from the walk's own listings instead of listing
/// their folders once more before it (a `threatspec.yaml` that gives a `mime` to each of
/// thousands of files: see `import::threatspec::Unchecked`). The walk records what each entry it
/// lists is, from the listing (`d_type`), as a listing by `std::fs::read_dir` gives it; a path
/// it never lists (its folder is left out or unreadable, or the path is not there) stays
/// unseen, and the caller looks at it itself.
#[derive(Debug)]
pub(crate) struct Watch {
    /// What the walker puts before a relative path: the root and a separator.
    prefix: Vec<u8>,
    /// Each path, relative to the root, with what the walk saw of it: [`UNSEEN`],
    /// [`NOT_A_FOLDER`] or [`A_FOLDER`].
    paths: HashMap<String, std::sync::atomic::AtomicU8, foldhash::fast::RandomState>,
}

const UNSEEN: u8 = 0;
const NOT_A_FOLDER: u8 = 1;
const A_FOLDER: u8 = 2;

impl Watch {
    /// Watch `rels` (relative to `root`, `/`-separated, normalised as the walker spells paths).
    pub(crate) fn new(root: &Path, rels: impl ExactSizeIterator<Item = String>) -> Self {
        let mut prefix = root.join("x").into_os_string().into_encoded_bytes();
        prefix.pop();
        let mut paths = HashMap::with_capacity_and_hasher(rels.len(), Default::default());
        for rel in rels {
            paths.insert(rel, std::sync::atomic::AtomicU8::new(UNSEEN));
        }
        Watch { prefix, paths }
    }

    fn saw(&self, path: &Path, is_dir: bool) {
        let seen = path
            .as_os_str()
            .as_encoded_bytes()
            .strip_prefix(self.prefix.as_slice())
            .and_then(|rel| std::str::from_utf8(rel).ok())
            .and_then(|rel| self.paths.get(rel));
        if let Some(seen) = seen {
            let what = if is_dir { A_FOLDER } else { NOT_A_FOLDER };
            seen.store(what, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Each path (each once), with whether the walk listed it as a folder (`Some(true)`) or
    /// as anything else (`Some(false)`: a file, a link, a special file), or `None` when it
    /// never listed it. Read after the walk.
    pub(crate) fn seen(&self) -> impl Iterator<Item = (&str, Option<bool>)> {
        self.paths.iter().map(|(rel, seen)| {
            let seen = match seen.load(std::sync::atomic::Ordering::Relaxed) {
                A_FOLDER => Some(true),
                NOT_A_FOLDER => Some(false),
                _ => None,
            };
            (rel.as_str(), seen)
        })
    }
}

/// Walk `root` with `threads` threads, calling `visit` for every file and problem. `visit` runs
/// on the walker threads, so heavy per-file work belongs in it.
pub(crate) fn walk(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    visit: &(dyn Fn(Found) + Sync),
) -> Result<(), WalkError> {
    walk_watching(root, config, threads, None, visit)
}

/// [`walk`], recording in `watch` what the listings say the watched paths are. Links are typed
/// as links only when they are not followed: with `follow_symlinks` nothing is recorded.
pub(crate) fn walk_watching(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    watch: Option<Arc<Watch>>,
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
    crate::source::at::new_walk();
    let rules = Arc::new(Rules {
        root: root.to_path_buf(),
        overrides: crate::source::filter::overrides(root, config)?,
        hidden: config.hidden,
        follow_symlinks: config.follow_symlinks,
        root_real: config
            .follow_symlinks
            .then(|| std::fs::canonicalize(root).ok())
            .flatten(),
        dirs: RwLock::default(),
        errors: Mutex::default(),
        tracked: OnceLock::new(),
        kept: RwLock::default(),
        watch: watch.filter(|_| !config.follow_symlinks),
    });

    // Every ignore rule (globs, ignore files, hidden files) is applied by `Rules` in
    // `filter_entry`, with the crate's precedence; the crate itself reads no ignore file.
    let mut builder = WalkBuilder::new(root);
    let filter = Arc::clone(&rules);
    builder
        .threads(threads.max(1))
        .hidden(false)
        .parents(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .ignore(false)
        .follow_links(config.follow_symlinks)
        .filter_entry(move |e| e.depth() == 0 || !filter.is_ignored(e));

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
                    let path = entry.into_path();
                    let rel = relative(&root, &path);
                    visit(Found::File(FoundFile { path, rel }));
                }
                Err(err) => problem(&root, &err, visit),
            }
            WalkState::Continue
        })
    });
    let errors = std::mem::take(&mut *rules.errors.lock().unwrap_or_else(|e| e.into_inner()));
    for err in errors {
        match err {
            RuleError::Linked(rel) => visit(Found::Problem(
                Diagnostic::new(
                    Code::IgnoreFileError,
                    format!("`{rel}` is a symbolic link; it was not read"),
                )
                .in_file(&rel)
                .help("ignore files must be part of the repository: replace the link with a copy, or set `follow_symlinks = true`"),
            )),
            RuleError::Special(rel) => visit(Found::Problem(
                Diagnostic::new(
                    Code::IgnoreFileError,
                    format!("`{rel}` is not a regular file; it was not read"),
                )
                .in_file(&rel),
            )),
            RuleError::Diagnostic(d) => visit(Found::Problem(d)),
        }
    }
    Ok(())
}

/// The ignore files that apply in one folder, its own and those above it up to the root, the
/// deepest first.
#[derive(Debug, Default)]
struct Chain {
    custom: Vec<Arc<Gitignore>>,
    git: Vec<Arc<Gitignore>>,
    /// The folder is ignored by `.gitignore` and walked only for the tracked files in it: its
    /// untracked entries are ignored whatever the patterns say (git cannot re-include a file
    /// whose folder is excluded).
    ignored: bool,
}

/// What git tracks below the scan root, relative to it, as path bytes: the files of the index
/// and every folder above one. Read once, on the first entry a `.gitignore` rejects.
#[derive(Debug, Default)]
struct Tracked {
    files: HashSet<Vec<u8>, foldhash::fast::RandomState>,
    dirs: HashSet<Vec<u8>, foldhash::fast::RandomState>,
}

impl Tracked {
    /// The tracked paths under `root`, or `None` when `root` is in no git work tree (then
    /// `.gitignore` applies to every file, as it always did outside git). An index that
    /// exists but cannot be read is TM033.
    fn load(root: &Path, errors: &Mutex<Vec<RuleError>>) -> Option<Tracked> {
        let repo = crate::source::git::GitRepo::discover(root).ok()?;
        let workdir = std::fs::canonicalize(repo.workdir()?).ok()?;
        let here = std::fs::canonicalize(root).ok()?;
        let prefix = here.strip_prefix(&workdir).ok()?;
        let mut prefix = relative(Path::new(""), prefix).into_bytes();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        let paths = match repo.tracked_paths() {
            Ok(paths) => paths,
            Err(e) => {
                let d = Diagnostic::new(Code::GitIndexUnreadable, e.to_string())
                    .help("`.gitignore` was applied to tracked files too; `git status` or `git reset` rebuilds the index");
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(RuleError::Diagnostic(d));
                return None;
            }
        };
        let mut tracked = Tracked::default();
        for path in paths {
            let Some(rel) = path.strip_prefix(prefix.as_slice()) else {
                continue;
            };
            for (i, &b) in rel.iter().enumerate() {
                if b == b'/' {
                    tracked.dirs.insert(rel[..i].to_vec());
                }
            }
            tracked.files.insert(rel.to_vec());
        }
        Some(tracked)
    }
}

#[derive(Debug)]
enum RuleError {
    /// A problem already worded (ignore files over a limit, an unreadable git index).
    Diagnostic(Diagnostic),
    /// An ignore file is a symbolic link and links are not followed: relative path.
    Linked(String),
    /// An ignore file is a FIFO, a socket or a device: relative path.
    Special(String),
}

/// Symbolic links are not followed unless configured, and that includes ignore files: the
/// `ignore` crate opens `.gitignore` with `File::open`, which follows a link, so threatmark reads
/// ignore files itself and skips linked ones with a TM027 warning. Otherwise a committed
/// `.gitignore -> ~/.aws/credentials` would decide what is scanned, and its lines that are not
/// valid globs would be echoed in diagnostics (and in SARIF uploads).
///
/// What the walk leaves out, with the precedence of the `ignore` crate (and of
/// `filter::TreeFilter`, which a `--rev` scan uses): `include`/`exclude` globs first; then
/// `.threatmarkignore` files, the deepest folder's first; then `.gitignore` files, the deepest
/// first; then hidden files when `hidden = false`. A folder that is left out is not walked, so
/// only an entry's own match matters. Ignore files are read once per folder, on first use.
#[derive(Debug)]
struct Rules {
    root: PathBuf,
    overrides: crate::source::filter::PathGlobs,
    hidden: bool,
    follow_symlinks: bool,
    /// The scan root with its links resolved, when links are followed: they may not leave it.
    root_real: Option<PathBuf>,
    /// Keyed by the folder's path as bytes, with a fast hash: one lookup per entry of the
    /// tree, and `Path`'s own hash goes component by component.
    dirs: RwLock<HashMap<Vec<u8>, Arc<Chain>, foldhash::fast::RandomState>>,
    errors: Mutex<Vec<RuleError>>,
    /// What git tracks, read on first need; `None` outside a git work tree.
    tracked: OnceLock<Option<Tracked>>,
    /// Folders `.gitignore` rejects that are walked for their tracked files (paths as bytes).
    kept: RwLock<HashSet<Vec<u8>, foldhash::fast::RandomState>>,
    /// Paths whose type is recorded as their folder is listed (see [`Watch`]).
    watch: Option<Arc<Watch>>,
}

impl Rules {
    fn is_ignored(&self, entry: &ignore::DirEntry) -> bool {
        // Every entry of a listed folder comes here first, whatever is left out below.
        if let Some(watch) = &self.watch {
            watch.saw(entry.path(), entry.file_type().is_some_and(|t| t.is_dir()));
        }
        if entry.file_name() == ".git" {
            return true;
        }
        if entry.path_is_symlink() && self.leaves_root(entry.path()) {
            let rel = relative(&self.root, entry.path());
            let diag = Diagnostic::new(
                Code::LinkOutOfRoot,
                format!(
                    "`{rel}` is a symbolic link out of the scanned folder; it was not followed"
                ),
            )
            .in_file(&rel)
            .help("links are followed only inside the scanned folder");
            let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            errors.push(RuleError::Diagnostic(diag));
            return true;
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        match self
            .overrides
            .matched(path, is_dir, || relative(&self.root, path))
        {
            Match::Whitelist(_) => return false,
            Match::Ignore(_) => return true,
            Match::None => {}
        }
        let Some(parent) = path.parent() else {
            return false;
        };
        // `.threatmarkignore` files outrank `.gitignore` files at any depth; the deepest first.
        let chain = self.chain(parent, entry.depth().saturating_sub(1));
        for gi in chain.custom.iter() {
            match gi.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        let git_ignored = chain.ignored
            || chain
                .git
                .iter()
                .find_map(|gi| match gi.matched(path, is_dir) {
                    Match::Ignore(_) => Some(true),
                    Match::Whitelist(_) => Some(false),
                    Match::None => None,
                })
                .unwrap_or(false);
        // Git never ignores what it tracks; the index is only consulted for rejected entries.
        if git_ignored {
            if !self.is_tracked(path, is_dir) {
                return true;
            }
            if is_dir {
                let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
                kept.insert(path.as_os_str().as_encoded_bytes().to_vec());
            }
        }
        !self.hidden && entry.file_name().as_encoded_bytes().starts_with(b".")
    }

    /// Is `path` (a file, or a folder holding one) tracked by git?
    fn is_tracked(&self, path: &Path, is_dir: bool) -> bool {
        let Some(tracked) = self
            .tracked
            .get_or_init(|| Tracked::load(&self.root, &self.errors))
        else {
            return false;
        };
        // The index holds raw bytes, `/`-separated.
        #[cfg(unix)]
        let rel = path
            .strip_prefix(&self.root)
            .map(|p| p.as_os_str().as_encoded_bytes().to_vec())
            .unwrap_or_default();
        #[cfg(not(unix))]
        let rel = relative(&self.root, path).into_bytes();
        if is_dir {
            tracked.dirs.contains(&rel)
        } else {
            tracked.files.contains(&rel)
        }
    }

    /// The ignore files that apply to the entries of `dir` (at `depth` below the root), read on
    /// first use and cached per folder, so an entry costs one lookup however deep it is. Only
    /// non-empty files are kept: in most trees every chain is empty.
    fn chain(&self, dir: &Path, depth: usize) -> Arc<Chain> {
        let key = dir.as_os_str().as_encoded_bytes();
        if let Some(c) = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Arc::clone(c);
        }
        let mut chain = Chain {
            ignored: self
                .kept
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(key),
            ..Chain::default()
        };
        for (own, list) in [
            (self.read(dir, IGNORE_FILE), &mut chain.custom),
            (self.read(dir, ".gitignore"), &mut chain.git),
        ] {
            if !own.is_empty() {
                list.push(Arc::new(own));
            }
        }
        if depth > 0
            && let Some(parent) = dir.parent()
        {
            let above = self.chain(parent, depth - 1);
            chain.custom.extend(above.custom.iter().cloned());
            chain.git.extend(above.git.iter().cloned());
        }
        // Two threads may read the same folder at once; the first insert wins and duplicate
        // diagnostics are removed when diagnostics are normalised.
        let mut map = self.dirs.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(key.to_vec()).or_insert(Arc::new(chain)))
    }

    /// Does a followed link at `path` resolve out of the scan root? (A dangling link does not:
    /// the walk reports it.)
    fn leaves_root(&self, path: &Path) -> bool {
        self.root_real.as_ref().is_some_and(|root| {
            std::fs::canonicalize(path).is_ok_and(|real| !real.starts_with(root))
        })
    }

    /// One ignore file, read as the `ignore` crate reads it (`GitignoreBuilder::add`: a byte
    /// order mark dropped, reading stopped at the first line that is not UTF-8, an error that
    /// is only an I/O error dropped), except that a symbolic link is not followed unless links
    /// are, and that at most [`MAX_IGNORE_FILE_BYTES`] are read (over it: TM032, no rules).
    fn read(&self, dir: &Path, name: &str) -> Gitignore {
        let mut errors = Vec::new();
        let gi = self.read_file(&dir.join(name), dir, &mut errors);
        if !errors.is_empty() {
            let mut all = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(errors);
        }
        gi
    }

    fn read_file(&self, path: &Path, dir: &Path, errors: &mut Vec<RuleError>) -> Gitignore {
        use std::io::Read;
        if crate::source::at::absent(path) {
            return Gitignore::empty();
        }
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Gitignore::empty();
        };
        let linked = meta.file_type().is_symlink();
        if linked && (!self.follow_symlinks || self.leaves_root(path)) {
            errors.push(RuleError::Linked(relative(&self.root, path)));
            return Gitignore::empty();
        }
        // Only regular files: opening a FIFO named `.gitignore` would block the walk forever.
        let meta = if linked {
            std::fs::metadata(path).unwrap_or(meta)
        } else {
            meta
        };
        if !meta.is_file() {
            // A folder (or a dangling link) named like an ignore file is no ignore file.
            if !meta.is_dir() && !meta.file_type().is_symlink() {
                errors.push(RuleError::Special(relative(&self.root, path)));
            }
            return Gitignore::empty();
        }
        let rel = relative(&self.root, path);
        if meta.len() > MAX_IGNORE_FILE_BYTES {
            errors.push(RuleError::Diagnostic(too_large(&rel, Some(meta.len()))));
            return Gitignore::empty();
        }
        // The listed size may lie (a file that grows, a link to a special file): read one
        // byte past the limit at most.
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path)
            .and_then(|f| f.take(MAX_IGNORE_FILE_BYTES + 1).read_to_end(&mut bytes));
        if read.is_err() {
            return Gitignore::empty();
        }
        if bytes.len() as u64 > MAX_IGNORE_FILE_BYTES {
            errors.push(RuleError::Diagnostic(too_large(&rel, None)));
            return Gitignore::empty();
        }
        let mut diags = Vec::new();
        let gi = compile_ignore(dir, &rel, &bytes, &mut diags);
        errors.extend(diags.into_iter().map(RuleError::Diagnostic));
        gi
    }
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
            // A loop back to the root would otherwise read "leads back to ``".
            let target = match relative(root, ancestor) {
                rel if rel.is_empty() => "the scan root".to_string(),
                rel => format!("`{rel}`"),
            };
            visit(Found::Problem(
                Diagnostic::new(
                    Code::SymlinkLoop,
                    format!("symbolic link loop: `{child}` leads back to {target}"),
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

/// The name of a folder, as the default project name (of a scan, and of a Threatspec
/// project's imported model).
pub(crate) fn folder_name(root: &Path) -> String {
    let abs: PathBuf = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "threat model".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text fast path of [`relative`] gives what the component-wise form gives.
    #[test]
    fn relative_paths_are_normalized_the_same_way() {
        let slow = |root: &Path, path: &Path| {
            let rel = path.strip_prefix(root).unwrap_or(path);
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        };
        let root = Path::new("/repo");
        for p in [
            "/repo/a",
            "/repo/a/b.rs",
            "/repo/./a",
            "/repo/a/./b",
            "/repo/a//b",
            "/repo/a/",
            "/repo/../x",
            "/repo/a/../b",
            "/elsewhere/a",
            "/repo",
            "/repo/.hidden/.x",
            "/repo/a b/ü.py",
            "/repo/.../x",
        ] {
            let path = Path::new(p);
            assert_eq!(relative(root, path), slow(root, path), "{p}");
        }
        assert_eq!(
            relative(Path::new("."), Path::new("./src/a.rs")),
            "src/a.rs"
        );
        for (root, path) in [
            (".", "./src/a.rs"),
            ("./", "./src/a.rs"),
            ("/", "/etc/x"),
            ("/repo/", "/repo/a"),
            ("/repo", "/repository/a"),
            ("repo", "repo"),
            ("", "a/b"),
            ("/repo/./x", "/repo/./x/y"),
        ] {
            let (root, path) = (Path::new(root), Path::new(path));
            assert_eq!(relative(root, path), slow(root, path), "{root:?} {path:?}");
        }
    }
}
