//! Walking a work tree in parallel: with the walk of the listing cache (`OwnWalk`, which records
//! nothing when no cache is written), and with the `ignore` crate's (ripgrep's walker) where
//! links are followed (its loop checks) and off unix.
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
use crate::source::listing::{DirStat, Listed, Listings};

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
    if let Some(text) = below(root, path).and_then(|rel| std::str::from_utf8(rel).ok()) {
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

/// The bytes of `path` after `root` and its separator, when they are already the component-wise
/// relative path (plain names joined by single `/`s), as the walker's paths (the root joined
/// with names) are; `None` otherwise, and on targets whose paths are not bytes. Runs several
/// times per file: `Path::strip_prefix` and `parent` parse components one by one.
pub(crate) fn below<'a>(root: &Path, path: &'a Path) -> Option<&'a [u8]> {
    #[cfg(unix)]
    {
        crate::source::at::below_bytes(
            root.as_os_str().as_encoded_bytes(),
            path.as_os_str().as_encoded_bytes(),
        )
    }
    #[cfg(not(unix))]
    {
        let _ = (root, path);
        None
    }
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
        let root = without_trailing_separators(root);
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
///
/// A walk that keeps nothing for the next scan: the listing cache's walk ([`OwnWalk`]) without
/// its records (no folder `stat`, no ignore-file probe beyond reading the rules), since it
/// keeps the calling thread busy as one of the walkers and idle walkers wait on a condition
/// variable (the `ignore` crate's poll in 1 ms sleeps); the crate's walk where the own walk
/// does not go: with `follow_symlinks` (its loop checks) and off unix.
pub(crate) fn walk_watching(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    watch: Option<Arc<Watch>>,
    visit: &(dyn Fn(Found) + Sync),
) -> Result<(), WalkError> {
    if config.follow_symlinks || !cfg!(unix) {
        return crate_walk(root, config, threads, watch, visit);
    }
    own_walk(root, config, threads, watch, visit, None).map(|_| ())
}

/// The `ignore` crate's parallel walk, with threatmark's [`Rules`].
fn crate_walk(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    watch: Option<Arc<Watch>>,
    visit: &(dyn Fn(Found) + Sync),
) -> Result<(), WalkError> {
    check_root(root)?;
    // As in `walk_listed`: the paths handed out, and a `Watch`'s prefix, start with this root.
    let root = &without_trailing_separators(root);
    crate::source::at::new_walk();
    let rules = Arc::new(Rules::new(root, config, watch)?);

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
        .filter_entry(move |e| {
            e.depth() == 0
                || !filter.is_ignored(
                    e.path(),
                    e.file_name(),
                    e.file_type().is_some_and(|t| t.is_dir()),
                    e.path_is_symlink(),
                    e.depth(),
                    &mut false,
                )
        });

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
    rules.report(visit);
    Ok(())
}

/// `path` without trailing separators (`repo/` and `repo//` are `repo`), its components as
/// they are: the one spelling of a scan root that both walkers and a [`Watch`] start paths
/// with, so that `scan repo//` finds its watched paths and folder keys as `scan repo` does.
pub(crate) fn without_trailing_separators(path: &Path) -> PathBuf {
    path.components().collect()
}

/// The scan root must be a folder.
fn check_root(root: &Path) -> Result<(), WalkError> {
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
    Ok(())
}

/// What [`walk_listed`] kept of the folders for the next scan.
#[derive(Debug)]
pub(crate) struct Walked {
    pub(crate) listings: Listings,
    /// Some folder's entry differs from the one given (or one is new or gone).
    pub(crate) changed: bool,
}

/// [`walk`] with the listing cache (see [`crate::source::listing`]): a folder whose stat is the
/// one `previous` kept, under ignore files that are unchanged, is not listed again; its kept
/// names are visited. Returns what the next scan can keep (folders settled at `started`), or
/// `None` when links are followed: then the `ignore` crate's walk runs, for its loop checks,
/// and nothing is kept. Gives the same files and problems as [`walk`].
pub(crate) fn walk_listed(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    visit: &(dyn Fn(Found) + Sync),
    previous: Option<&Listings>,
    started: std::time::SystemTime,
    watch: Option<Arc<Watch>>,
) -> Result<Option<Walked>, WalkError> {
    if config.follow_symlinks || !cfg!(unix) {
        return crate_walk(root, config, threads, watch, visit).map(|()| None);
    }
    own_walk(
        root,
        config,
        threads,
        watch,
        visit,
        Some((previous, started)),
    )
}

/// The own walk, recording the listings (`record`: the previous scan's, and when this one
/// started) or not; `None` when it recorded nothing.
fn own_walk(
    root: &Path,
    config: &ScanConfig,
    threads: usize,
    watch: Option<Arc<Watch>>,
    visit: &(dyn Fn(Found) + Sync),
    record: Option<(Option<&Listings>, std::time::SystemTime)>,
) -> Result<Option<Walked>, WalkError> {
    check_root(root)?;
    // `repo/` and `repo` name one folder, but only the second is the parent of its children's
    // paths, by which the rules' folders are found.
    let root = &without_trailing_separators(root);
    crate::source::at::new_walk();
    let rules = Rules::new(root, config, watch)?;
    let own = OwnWalk {
        root,
        rules: &rules,
        visit,
        previous: record.and_then(|(previous, _)| previous),
        started: record.map(|(_, started)| started),
        kept: Mutex::default(),
        guarded: Mutex::default(),
        big_names: std::sync::atomic::AtomicUsize::new(MAX_BIG_NAMES_BYTES),
    };
    own.run(threads);
    rules.report(visit);
    if !own.records() {
        return Ok(None);
    }
    let mut kept = own.kept.into_inner().unwrap_or_else(|e| e.into_inner());
    // A folder's ignore files vouch for what is below it only when they were read without a
    // problem (the problem is reported when the folder is listed; below, names are trusted).
    let dirs = rules.dirs.read().unwrap_or_else(|e| e.into_inner());
    for (key, path) in own.guarded.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let clean = dirs
            .get(path.as_os_str().as_encoded_bytes())
            .is_some_and(|c| !c.troubled);
        if !clean {
            kept.folders.remove(&key);
        }
    }
    // Two folders with one key: neither is kept.
    kept.folders.retain(|_, l| !Arc::ptr_eq(l, &*COLLIDED));
    let changed = own.previous.is_none_or(|p| {
        p.len() != kept.len()
            || kept.folders.iter().any(|(rel, now)| {
                p.get(*rel)
                    .is_none_or(|was| !Arc::ptr_eq(was, now) && **was != **now)
            })
    });
    Ok(Some(Walked {
        listings: kept,
        changed,
    }))
}

/// The entry of a key two folders share while a walk runs (removed at its end).
static COLLIDED: std::sync::LazyLock<Arc<Listed>> = std::sync::LazyLock::new(|| {
    Arc::new(Listed {
        stat: DirStat {
            ino: 0,
            mtime: 0,
            ctime: 0,
        },
        ignores: 0,
        names: None,
    })
});

/// A folder of at most this many entries always keeps its names; a bigger one keeps them
/// only while [`MAX_BIG_NAMES_BYTES`] lasts: without a bound the names make the cache grow
/// with every file (a million generated names took 22 MB, and the run that kept them 262 MB).
const MAX_KEPT_NAMES: usize = 64;

/// The encoded names one walk keeps of folders over [`MAX_KEPT_NAMES`] entries, in all: the
/// 50,000 names of the small tree's 264 folders take 1.0 MB, and a tree of a million files
/// keeps about a fifth of its folders (the first walked) and lists the rest.
const MAX_BIG_NAMES_BYTES: usize = 4 << 20;

/// Files handed out as one piece of work: a folder's files are visited in chunks, so that one
/// folder of 10,000 files still keeps every thread busy.
const FILE_CHUNK: usize = 64;

/// The work [`OwnWalk`]'s threads share.
struct Shared {
    work: Vec<Work>,
    /// Threads waiting for work.
    waiting: usize,
    /// Every thread waited with no work left: the walk is over.
    done: bool,
}

/// Held by each of [`OwnWalk`]'s threads: one that panics (in a visit, a lexer, …) ends the
/// walk for all, so that the panic goes on through the threads' scope instead of the others
/// waiting for it forever.
struct Quit<'a> {
    shared: &'a Mutex<Shared>,
    ready: &'a std::sync::Condvar,
}

impl Drop for Quit<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            s.done = true;
            s.work.clear();
            drop(s);
            self.ready.notify_all();
        }
    }
}

/// Work for [`OwnWalk`]'s threads.
enum Work {
    /// A folder to list.
    Dir(Dir),
    /// Files of one folder that passed the rules.
    Files(Vec<PathBuf>),
}

/// A folder for [`OwnWalk`] to list.
struct Dir {
    path: PathBuf,
    /// Its path below the root.
    rel: Vec<u8>,
    depth: usize,
    /// The ignore files of every folder above it are the ones the previous scan saw.
    trusted: bool,
    /// The descriptor of the folder above it, to look up its name alone.
    parent: Option<crate::source::at::Folder>,
}

/// A folder of at most this many kept entries opens no descriptor of its own (see `OwnWalk::folder`).
const FEW_ENTRIES: usize = 8;

/// Folders this deep hand no descriptor to their subfolders, which look their paths up whole:
/// the descriptors held by folders waiting to be listed stay below the process's limit (the
/// walk is depth first, so they are about the folders above the one being listed).
const MAX_PARENT_DEPTH: usize = 32;

/// The walk with the listing cache: the `ignore` crate's walk, rule for rule (`read_dir`, each
/// entry through [`Rules::is_ignored`] with its type from the listing, folders that pass
/// listed, regular files that pass visited, listing errors worded by [`problem`] as the
/// crate's), except that a folder the previous scan kept is not listed.
struct OwnWalk<'a> {
    root: &'a Path,
    rules: &'a Rules,
    visit: &'a (dyn Fn(Found) + Sync),
    previous: Option<&'a Listings>,
    /// When this scan started, if it records listings for the next one; else the walk keeps
    /// nothing and spends no call on it (no folder `stat` or descriptor, no ignore-file probe,
    /// no names).
    started: Option<std::time::SystemTime>,
    /// What the next scan may use.
    kept: Mutex<Listings>,
    /// Folders with ignore files that were kept: (key, path).
    guarded: Mutex<Vec<(u64, PathBuf)>>,
    /// What is left of [`MAX_BIG_NAMES_BYTES`] in this walk.
    big_names: std::sync::atomic::AtomicUsize,
}

impl OwnWalk<'_> {
    /// Whether listings are recorded for the next scan.
    fn records(&self) -> bool {
        self.started.is_some()
    }

    /// Each thread works depth first on a stack of its own and hands the oldest half of it
    /// (the folders nearest the root: the most work) to the shared one when another thread is
    /// waiting for work, so that a thread stays in one part of the tree, where the folder
    /// descriptor it keeps (`at`) serves its next folders and files.
    fn run(&self, threads: usize) {
        use std::sync::Condvar;
        let threads = threads.max(1);
        let first = Work::Dir(Dir {
            path: self.root.to_path_buf(),
            rel: Vec::new(),
            depth: 0,
            trusted: true,
            parent: None,
        });
        let shared = Mutex::new(Shared {
            work: vec![first],
            waiting: 0,
            done: false,
        });
        let ready = Condvar::new();
        let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
        // The next piece of work, or `None` once every thread waits and none is left.
        let take = |own: &mut Vec<Work>| {
            if let Some(work) = own.pop() {
                return Some(work);
            }
            let mut s = lock();
            loop {
                if let Some(work) = s.work.pop() {
                    return Some(work);
                }
                if s.done {
                    return None;
                }
                s.waiting += 1;
                if s.waiting == threads {
                    s.done = true;
                    drop(s);
                    ready.notify_all();
                    return None;
                }
                s = ready.wait(s).unwrap_or_else(|e| e.into_inner());
                s.waiting -= 1;
            }
        };
        let worker = || {
            let _ends_the_walk_if_it_panics = Quit {
                shared: &shared,
                ready: &ready,
            };
            let mut own = Vec::new();
            while let Some(work) = take(&mut own) {
                let mut more = Vec::new();
                match work {
                    Work::Dir(dir) => self.folder(dir, &mut more),
                    Work::Files(files) => self.files(files),
                }
                own.append(&mut more);
                if own.len() > 1 {
                    let mut s = lock();
                    if s.waiting > 0 && s.work.is_empty() {
                        s.work.extend(own.drain(..own.len() / 2));
                        drop(s);
                        ready.notify_all();
                    }
                }
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(worker);
            }
            worker();
        });
    }

    fn files(&self, files: Vec<PathBuf>) {
        for path in files {
            let rel = relative(self.root, &path);
            (self.visit)(Found::File(FoundFile { path, rel }));
        }
    }

    /// List one folder, or take its kept names: subfolders and all but one chunk of its files
    /// go to `more`; that chunk is visited here.
    fn folder(&self, work: Dir, more: &mut Vec<Work>) {
        let Dir {
            path: dir,
            rel,
            depth,
            trusted,
            parent,
        } = work;
        let dir = dir.as_path();
        let child = |rel: &[u8], name: &[u8]| {
            let mut child = Vec::with_capacity(rel.len() + name.len() + 1);
            if !rel.is_empty() {
                child.extend_from_slice(rel);
                child.push(b'/');
            }
            child.extend_from_slice(name);
            child
        };
        let key = crate::source::listing::folder_key(&rel);
        let was = self.previous.and_then(|p| p.get(key));
        // The root may be given as a link to a folder; below it, links are not walked.
        // A folder the last scan saw with a few entries is `stat`ed below the descriptor
        // handed down, without a descriptor of its own (two calls fewer); its entries are
        // looked up below that one too.
        let kept_count = was
            .and_then(|w| w.names.as_deref())
            .map(crate::source::listing::count_names);
        let open = kept_count.is_none_or(|count| count > FEW_ENTRIES);
        let kept_count = kept_count.unwrap_or(0);
        let (stat, handle) = match self.records() {
            true => crate::source::at::folder(dir, parent.as_ref(), depth == 0, open),
            false => (None, None),
        };
        // Listed as a folder but no longer one (swapped for a link since): not listed through
        // whatever it is now, since links below the root are not walked. (Unchecked when not
        // recording, as the `ignore` crate's walk does not check it.)
        if self.records()
            && depth > 0
            && stat.is_none()
            && std::fs::symlink_metadata(dir).is_ok_and(|meta| !meta.is_dir())
        {
            return;
        }
        let stat = stat.map(DirStat::from);
        let handle = handle.or(parent).filter(|_| depth < MAX_PARENT_DEPTH);
        let sub = |path: PathBuf, rel: Vec<u8>, trusted: bool| {
            Work::Dir(Dir {
                path,
                rel,
                depth: depth + 1,
                trusted,
                parent: handle.clone(),
            })
        };
        let mut files = Vec::new();
        if let Some(was) = was.filter(|w| trusted && w.ignores == 0 && Some(w.stat) == stat)
            && let Some(names) = was.names.as_deref()
        {
            let whole = crate::source::listing::each_name(names, |is_dir, name| {
                let path = joined(dir, name);
                // The folder's stat holds, so each kept entry is what its listing said it was.
                if let Some(watch) = &self.rules.watch {
                    watch.saw(&path, is_dir);
                }
                match is_dir {
                    true => more.push(sub(path, child(&rel, name), true)),
                    false => files.push(path),
                }
            });
            // `decode` checked the names; a damaged list here would be a bug, not a user's.
            debug_assert!(whole);
            let again = match kept_count > MAX_KEPT_NAMES && !self.take_big(names.len()) {
                true => Arc::new(Listed {
                    names: None,
                    ..**was
                }),
                false => Arc::clone(was),
            };
            self.keep(key, again);
            self.chunks(files, more);
            return;
        }
        let with_path = |path: PathBuf, err: std::io::Error| ignore::Error::WithPath {
            path,
            err: Box::new(ignore::Error::Io(err)),
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return problem(self.root, &with_path(dir.to_path_buf(), e), self.visit),
        };
        let mut errors = Vec::new();
        let mut troubled = false;
        let mut consulted = false;
        let mut names: Vec<(bool, std::ffi::OsString)> = Vec::new();
        let mut dirs = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    errors.push(with_path(dir.to_path_buf(), e));
                    continue;
                }
            };
            let path = entry.path();
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) => {
                    troubled = true;
                    problem(self.root, &with_path(path, e), self.visit);
                    continue;
                }
            };
            let name = entry.file_name();
            if self.rules.is_ignored(
                &path,
                &name,
                kind.is_dir(),
                kind.is_symlink(),
                depth + 1,
                &mut consulted,
            ) {
                continue;
            }
            if kind.is_dir() {
                let sub = match self.records() {
                    true => child(&rel, name.as_encoded_bytes()),
                    false => Vec::new(),
                };
                dirs.push((path, sub));
                if self.records() {
                    names.push((true, name));
                }
            } else if kind.is_file() {
                files.push(path);
                if self.records() {
                    names.push((false, name));
                }
            }
        }
        troubled |= !errors.is_empty();
        // Probed, not told by the listing's names: a case-insensitive file system opens
        // `.GitIgnore` as `.gitignore`. A troubled listing vouches for nothing below it.
        let ignores = match (troubled, self.started) {
            (false, Some(started)) => ignore_stat(dir, started),
            _ => None,
        };
        // The same folder (a key two folders share must not vouch for the other's children).
        let below = trusted
            && was.is_some_and(|w| {
                Some(w.ignores) == ignores && stat.is_some_and(|s| s.ino == w.stat.ino)
            });
        for (path, rel) in dirs {
            more.push(sub(path, rel, below));
        }
        for err in &errors {
            problem(self.root, err, self.visit);
        }
        if let (Some(stat), Some(ignores), Some(started)) = (stat, ignores, self.started) {
            let settled = crate::source::listing::settled(stat, started);
            let names = (settled && ignores == 0 && !consulted && !troubled)
                .then(|| {
                    let mut raw: Vec<(bool, &[u8])> = names
                        .iter()
                        .map(|(d, n)| (*d, n.as_encoded_bytes()))
                        .collect();
                    crate::source::listing::encode_names(&mut raw)
                })
                .flatten()
                .filter(|kept| names.len() <= MAX_KEPT_NAMES || self.take_big(kept.len()));
            let now = Listed {
                stat,
                ignores,
                names,
            };
            if ignores != 0 {
                self.guarded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((key, dir.to_path_buf()));
            }
            let now = match was {
                Some(was) if **was == now => Arc::clone(was),
                _ => Arc::new(now),
            };
            self.keep(key, now);
        }
        self.chunks(files, more);
    }

    /// Takes `bytes` of the names of big folders this walk may keep, if that many are left.
    fn take_big(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.big_names
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    /// Keep a folder's entry for the next scan; two folders with one key keep neither.
    fn keep(&self, key: u64, listed: Arc<Listed>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.folders.insert(key, listed).is_some() {
            kept.folders.insert(key, Arc::clone(&*COLLIDED));
        }
    }

    fn chunks(&self, mut files: Vec<PathBuf>, more: &mut Vec<Work>) {
        while files.len() > FILE_CHUNK {
            more.push(Work::Files(files.split_off(files.len() - FILE_CHUNK)));
        }
        self.files(files);
    }
}

/// A fingerprint of the `stat` (not following links) of a folder's two ignore files: 0 when it
/// has neither, `None` when one is not settled at `started` or cannot be `stat`ed.
fn ignore_stat(dir: &Path, started: std::time::SystemTime) -> Option<u64> {
    let mut print = 0u64;
    let mut found = false;
    for name in [IGNORE_FILE, ".gitignore"] {
        let path = dir.join(name);
        match crate::source::at::lstat(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return None,
            Ok(st) => {
                if !crate::source::listing::settled(DirStat::from(st), started) {
                    return None;
                }
                let mut bytes = Vec::with_capacity(64);
                bytes.extend_from_slice(name.as_bytes());
                for n in [st.ino as i64, st.size as i64, st.mtime, st.ctime] {
                    bytes.extend_from_slice(&n.to_le_bytes());
                }
                bytes.push(u8::from(st.is_file));
                found = true;
                print = print
                    .wrapping_mul(31)
                    .wrapping_add(crate::text::fnv1a(&bytes) | 1);
            }
        }
    }
    // Never 0 (no ignore file) when there is one, whatever the sum wrapped to.
    Some(if found { print | 1 } else { 0 })
}

/// `dir` joined with a file name from its raw bytes (as the walk listed them), in one
/// allocation: `Path::join` copies `dir` and grows the copy, and this runs for every kept name
/// of a warm walk.
fn joined(dir: &Path, name: &[u8]) -> PathBuf {
    // On unix any bytes are a name (the listing cache is kept on unix only).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
        path.push(dir);
        path.push(std::ffi::OsStr::from_bytes(name));
        path
    }
    #[cfg(not(unix))]
    {
        dir.join(String::from_utf8_lossy(name).as_ref())
    }
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
    /// Reading the folder's own ignore files gave a problem (a link, a special file, a limit,
    /// a bad pattern): the listing cache does not trust what is below it.
    troubled: bool,
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
    fn new(
        root: &Path,
        config: &ScanConfig,
        watch: Option<Arc<Watch>>,
    ) -> Result<Rules, WalkError> {
        Ok(Rules {
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
        })
    }

    /// Hand the problems met with ignore files and links to `visit`.
    fn report(&self, visit: &(dyn Fn(Found) + Sync)) {
        let errors = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()));
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
    }

    /// Is the entry at `path` (named `name`, `depth` below the root) left out? `is_symlink`:
    /// it is a link, followed or not; `is_dir`: it is a folder (a link that is not followed is
    /// not one). `consulted` is set when a `.gitignore` rejected it, so that git's index decided
    /// (what a listing kept for the next scan must not depend on).
    fn is_ignored(
        &self,
        path: &Path,
        name: &std::ffi::OsStr,
        is_dir: bool,
        is_symlink: bool,
        depth: usize,
        consulted: &mut bool,
    ) -> bool {
        // Every entry of a listed folder comes here first, whatever is left out below.
        if let Some(watch) = &self.watch {
            watch.saw(path, is_dir);
        }
        if name == ".git" {
            return true;
        }
        if is_symlink && self.leaves_root(path) {
            let rel = relative(&self.root, path);
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
        let chain = self.chain(parent, depth.saturating_sub(1));
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
            *consulted = true;
            if !self.is_tracked(path, is_dir) {
                return true;
            }
            if is_dir {
                let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
                kept.insert(path.as_os_str().as_encoded_bytes().to_vec());
            }
        }
        !self.hidden && name.as_encoded_bytes().starts_with(b".")
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
        for ((own, troubled), list) in [
            (self.read(dir, IGNORE_FILE), &mut chain.custom),
            (self.read(dir, ".gitignore"), &mut chain.git),
        ] {
            chain.troubled |= troubled;
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
    /// With whether it gave any problem.
    fn read(&self, dir: &Path, name: &str) -> (Gitignore, bool) {
        let mut errors = Vec::new();
        let gi = self.read_file(&dir.join(name), dir, &mut errors);
        let troubled = !errors.is_empty();
        if troubled {
            let mut all = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(errors);
        }
        (gi, troubled)
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

    type Listing = (Vec<String>, Vec<String>);

    /// What a walk gives: every file (real path and relative path) and every problem, sorted;
    /// with the listing cache when `previous` is given (`Some(None)`: recording only), else
    /// the `ignore` crate's walk.
    fn listing(
        root: &Path,
        config: &ScanConfig,
        previous: Option<Option<&Listings>>,
    ) -> (Listing, Option<Walked>) {
        walked_by(root, config, previous, false)
    }

    /// [`listing`], or the walk that records nothing ([`walk`]) when `cold`.
    fn walked_by(
        root: &Path,
        config: &ScanConfig,
        previous: Option<Option<&Listings>>,
        cold: bool,
    ) -> (Listing, Option<Walked>) {
        let files = Mutex::new(Vec::new());
        let problems = Mutex::new(Vec::new());
        let visit = |found: Found| match found {
            Found::File(f) => files
                .lock()
                .expect("test setup")
                .push(format!("{:?} {}", f.path, f.rel)),
            Found::Problem(d) => problems.lock().expect("test setup").push(d),
        };
        // Everything counts as settled: the scan "started" in a minute.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let walked = match previous {
            Some(previous) => {
                walk_listed(root, config, 2, &visit, previous, later, None).expect("test setup")
            }
            None if cold => {
                walk(root, config, 2, &visit).expect("test setup");
                None
            }
            None => {
                crate_walk(root, config, 2, None, &visit).expect("test setup");
                None
            }
        };
        let mut files = files.into_inner().expect("test setup");
        files.sort();
        let mut problems = problems.into_inner().expect("test setup");
        crate::diagnostic::normalize(&mut problems);
        let problems = problems.iter().map(|d| format!("{d:?}")).collect();
        ((files, problems), walked)
    }

    /// The own walk lists what the `ignore` crate's walk lists, with the same problems, when
    /// it records nothing, when it records the listings and when it uses them.
    fn assert_same_walk(root: &Path, config: &ScanConfig) {
        let (crate_walk, _) = listing(root, config, None);
        let (cold, _) = walked_by(root, config, None, true);
        let (first, walked) = listing(root, config, Some(None));
        let kept = walked.map(|w| w.listings);
        let (warm, again) = listing(root, config, Some(kept.as_ref()));
        for (what, own) in [("cold", cold), ("recording", first), ("warm", warm)] {
            assert_eq!(
                own.1,
                crate_walk.1,
                "problems under {}, {what}",
                root.display()
            );
            if own.0 != crate_walk.0 {
                let only_own: Vec<_> = own.0.iter().filter(|f| !crate_walk.0.contains(f)).collect();
                let only_crate: Vec<_> =
                    crate_walk.0.iter().filter(|f| !own.0.contains(f)).collect();
                panic!(
                    "files under {}, {what}: only the own walk: {only_own:?}; only the crate's: {only_crate:?}",
                    root.display()
                );
            }
        }
        assert!(
            !again.is_some_and(|w| w.changed),
            "an unchanged tree changed the listings"
        );
    }

    /// An adversarial tree: nested `.gitignore` and `.threatmarkignore` files with negations and
    /// anchored patterns, hidden files and folders, `.git`, links to files, folders and nowhere,
    /// a link loop, ignore files that are links, folders or FIFOs, an ignore file over the
    /// size limit, an unreadable folder, names that are not UTF-8, a folder of more files than
    /// a work chunk, a chain of folders deeper than [`MAX_PARENT_DEPTH`], and a git repository
    /// whose index tracks ignored files.
    fn adversarial_tree(root: &Path) {
        let w = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().expect("test setup")).expect("test setup");
            std::fs::write(path, text).expect("test setup");
        };
        w(
            ".gitignore",
            "*.log\nbuild/\n!keep.log\n/top_only.rs\ndeep/**/gen_*\n",
        );
        w(".threatmarkignore", "vendor/\n!vendor/ours/\n*.min.js\n");
        w("a.rs", "// @threat A (#a)\n");
        w("x.log", "");
        w("keep.log", "");
        w("top_only.rs", "");
        w("sub/top_only.rs", "");
        w("build/out.rs", "");
        w("sub/build/out.rs", "");
        w("sub/.gitignore", "!*.log\n*.py\n!keep.py\n");
        w("sub/x.log", "");
        w("sub/y.py", "");
        w("sub/keep.py", "");
        w("sub/deeper/.threatmarkignore", "!*.py\n");
        w("sub/deeper/z.py", "");
        w("deep/a/b/gen_x.rs", "");
        w("deep/a/b/real.rs", "");
        w("vendor/lib.js", "");
        w("vendor/ours/lib.js", "");
        w("app.min.js", "");
        w(".hidden.rs", "");
        w(".github/workflows/ci.yml", "");
        w(".git/config", "");
        w("sub/.git/HEAD", "");
        w("big/.gitignore", &"x\n".repeat(600_000));
        w("big/x", "");
        w("big/y.rs", "");
        for i in 0..150 {
            w(&format!("flat/f{i:03}.go"), "");
        }
        // Deeper than the folders that hand their descriptor down.
        w(&format!("{}leaf.rs", "d/".repeat(MAX_PARENT_DEPTH + 8)), "");
        w("locked/secret.rs", "");
        w("ignorefolder/.gitignore/inner", "");
        w("ignorefolder/a.rs", "");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            use std::os::unix::fs::{PermissionsExt, symlink};
            symlink("a.rs", root.join("link_to_file.rs")).expect("test setup");
            symlink("sub", root.join("link_to_dir")).expect("test setup");
            symlink("nowhere", root.join("dangling.rs")).expect("test setup");
            symlink(".", root.join("sub/loop")).expect("test setup");
            std::fs::create_dir_all(root.join("linkedignore")).expect("test setup");
            symlink("../.gitignore", root.join("linkedignore/.gitignore")).expect("test setup");
            w("linkedignore/x.log", "");
            let bad = std::ffi::OsStr::from_bytes(b"bad\xff\xfe.rs");
            std::fs::write(root.join("sub").join(bad), "").expect("test setup");
            let bad_dir = std::ffi::OsStr::from_bytes(b"dir\xff");
            std::fs::create_dir_all(root.join(bad_dir)).expect("test setup");
            std::fs::write(root.join(bad_dir).join("in.rs"), "").expect("test setup");
            std::fs::create_dir_all(root.join("fifo")).expect("test setup");
            let _ = std::process::Command::new("mkfifo")
                .arg(root.join("fifo/.gitignore"))
                .status();
            let _ = std::process::Command::new("mkfifo")
                .arg(root.join("fifo/pipe.rs"))
                .status();
            std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000))
                .expect("test setup");
        }
    }

    #[test]
    fn the_listing_walk_equals_the_ignore_walk() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        adversarial_tree(root);
        let configs = [
            ScanConfig::default(),
            ScanConfig {
                hidden: false,
                ..ScanConfig::default()
            },
            ScanConfig {
                include: vec!["sub/**".into()],
                ..ScanConfig::default()
            },
            ScanConfig {
                include: vec!["sub/**".into(), "*.rs".into()],
                exclude: vec!["**/deeper/**".into(), "flat/f1*".into()],
                ..ScanConfig::default()
            },
            ScanConfig {
                exclude: vec!["!*.rs".into(), "vendor".into()],
                ..ScanConfig::default()
            },
        ];
        for config in &configs {
            assert_same_walk(root, config);
            assert_same_walk(&root.join("sub"), config);
        }
        // In a git repository, tracked files pass `.gitignore` (the index is read on demand).
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(root)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
        };
        std::fs::remove_dir_all(root.join(".git")).expect("test setup");
        if git(&["init", "-q"]).is_ok_and(|o| o.status.success()) {
            git(&["add", "-f", "x.log", "build/out.rs", "sub/y.py"]).expect("test setup");
            for config in &configs {
                assert_same_walk(root, config);
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(root.join("locked"), open).expect("test setup");
        }
    }

    /// A walk that keeps nothing needs no thread of its own with one thread: the calling
    /// thread walks (the `ignore` crate's walk spawns its walkers and waits for them).
    #[cfg(unix)]
    #[test]
    fn a_walk_that_keeps_nothing_walks_on_the_calling_thread() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("test setup");
        std::fs::write(root.join("a/b/x.rs"), "// x\n").expect("test setup");
        std::fs::write(root.join("y.rs"), "// y\n").expect("test setup");
        let here = std::thread::current().id();
        let elsewhere = Mutex::new(Vec::new());
        walk(root, &ScanConfig::default(), 1, &|found| {
            if let Found::File(f) = found
                && std::thread::current().id() != here
            {
                elsewhere.lock().expect("test setup").push(f.rel);
            }
        })
        .expect("test setup");
        let elsewhere = elsewhere.into_inner().expect("test setup");
        assert!(
            elsewhere.is_empty(),
            "visited on another thread: {elsewhere:?}"
        );
    }

    /// A visit that panics on one file ends the walk with that panic, whichever thread it
    /// runs on; the others do not wait for it forever.
    #[cfg(unix)]
    #[test]
    fn a_panic_in_a_visit_ends_the_walk() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path().to_path_buf();
        for i in 0..40 {
            let folder = root.join(format!("d{i}"));
            std::fs::create_dir_all(&folder).expect("test setup");
            std::fs::write(folder.join("x.rs"), "// x\n").expect("test setup");
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let walked = std::panic::catch_unwind(|| {
                walk(&root, &ScanConfig::default(), 2, &|found| {
                    if let Found::File(f) = found
                        && f.rel == "d17/x.rs"
                    {
                        panic!("a visit that fails");
                    }
                })
            });
            let _ = tx.send(walked.is_err());
        });
        let panicked = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the walk ends");
        assert!(panicked, "the visit's panic goes on");
    }

    /// A root given as `repo/` keeps its listing like `repo`: the rules find its ignore files by
    /// the children's parent path, which has no trailing `/`.
    #[cfg(unix)]
    #[test]
    fn a_root_with_a_trailing_separator_keeps_its_listing() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).expect("test setup");
        std::fs::write(root.join(".gitignore"), "*.log\n").expect("test setup");
        std::fs::write(root.join("a/x.rs"), "// x\n").expect("test setup");
        let config = ScanConfig::default();
        let slashed = PathBuf::from(format!("{}/", root.display()));
        let (plain, _) = listing(root, &config, None);
        let (first, walked) = listing(&slashed, &config, Some(None));
        assert_eq!(first, plain);
        let kept = walked.expect("listings kept").listings;
        let top = kept
            .get(crate::source::listing::folder_key(b""))
            .expect("the root's entry is kept");
        assert_ne!(top.ignores, 0, "the root's ignore file is in its entry");
        let (again, walked) = listing(&slashed, &config, Some(Some(&kept)));
        assert_eq!(again, plain);
        assert!(!walked.expect("listings kept").changed);
    }

    /// A root spelled with trailing separators (`scan repo//`) is the root without them, for
    /// a [`Watch`] too: both walkers, recording listings and using them, type its paths.
    #[cfg(unix)]
    #[test]
    fn a_watch_under_a_root_with_trailing_separators_sees_its_paths() {
        let dir = tempfile::tempdir().expect("test setup");
        std::fs::create_dir_all(dir.path().join("src/views.py")).expect("test setup");
        std::fs::write(dir.path().join("src/app.py"), "# a\n").expect("test setup");
        let config = ScanConfig::default();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let mut kept = None;
        for slashes in ["/", "//", "///"] {
            let root = PathBuf::from(format!("{}{slashes}", dir.path().display()));
            for run in ["crate", "cold", "recording", "warm"] {
                let rels = ["src/app.py", "src/views.py"].map(String::from);
                let watch = Arc::new(Watch::new(&root, rels.into_iter()));
                let watching = Some(Arc::clone(&watch));
                match run {
                    "crate" => crate_walk(&root, &config, 2, watching, &|_| {}),
                    "cold" => walk_watching(&root, &config, 2, watching, &|_| {}),
                    _ => walk_listed(&root, &config, 2, &|_| {}, kept.as_ref(), later, watching)
                        .map(|walked| kept = walked.map(|w| w.listings)),
                }
                .expect("test setup");
                let seen: std::collections::BTreeMap<&str, Option<bool>> = watch.seen().collect();
                assert_eq!(seen["src/app.py"], Some(false), "{slashes} {run}");
                assert_eq!(seen["src/views.py"], Some(true), "{slashes} {run}");
            }
        }
    }

    /// Entries of a folder whose kept listing is reused are typed for a [`Watch`] as its
    /// listing typed them (the folder's stat holds); a path in no listing stays unseen.
    #[cfg(unix)]
    #[test]
    fn kept_listings_type_watched_paths() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/views.py")).expect("test setup");
        std::fs::write(root.join("src/app.py"), "# a\n").expect("test setup");
        let config = ScanConfig::default();
        let (_, walked) = listing(root, &config, Some(None));
        let mut kept = walked.expect("listings kept").listings;
        // A name only the kept listing has: it is typed only when the kept listing is used.
        let key = crate::source::listing::folder_key(b"src");
        let was = kept.get(key).expect("src is kept").as_ref().clone();
        let mut names: Vec<(bool, &[u8])> = vec![
            (false, b"app.py"),
            (true, b"views.py"),
            (false, b"forged.py"),
        ];
        let names = crate::source::listing::encode_names(&mut names);
        kept.folders.insert(
            key,
            Arc::new(crate::source::listing::Listed { names, ..was }),
        );
        let rels = [
            "src/app.py",
            "src/views.py",
            "src/forged.py",
            "src/missing.py",
        ];
        let watch = Arc::new(Watch::new(root, rels.iter().map(|r| r.to_string())));
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        walk_listed(
            root,
            &config,
            2,
            &|_| {},
            Some(&kept),
            later,
            Some(Arc::clone(&watch)),
        )
        .expect("test setup");
        let seen: std::collections::BTreeMap<&str, Option<bool>> = watch.seen().collect();
        assert_eq!(seen["src/app.py"], Some(false));
        assert_eq!(seen["src/views.py"], Some(true));
        assert_eq!(
            seen["src/forged.py"],
            Some(false),
            "the kept listing was not used"
        );
        assert_eq!(seen["src/missing.py"], None);
    }

    /// A kept listing is used while the folder's stat holds (a forged name in it is visited),
    /// and not once the folder changed, nor below an ignore file whose stat changed.
    #[cfg(unix)]
    #[test]
    fn a_kept_listing_is_used_only_while_its_folder_and_ignore_files_hold() {
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("test setup");
        std::fs::write(root.join("a/.gitignore"), "*.log\n").expect("test setup");
        std::fs::write(root.join("a/b/x.rs"), "").expect("test setup");
        let config = ScanConfig::default();
        let (_, walked) = listing(root, &config, Some(None));
        let mut kept = walked.expect("test setup").listings;
        let forge = |kept: &mut Listings| {
            let key = crate::source::listing::folder_key(b"a/b");
            let was = kept.get(key).expect("test setup").as_ref().clone();
            let mut entries: Vec<(bool, &[u8])> = vec![(false, b"x.rs"), (false, b"forged.rs")];
            let names = crate::source::listing::encode_names(&mut entries);
            kept.folders.insert(key, Arc::new(Listed { names, ..was }));
        };
        forge(&mut kept);
        let forged = |files: &[String]| files.iter().any(|f| f.ends_with(" a/b/forged.rs"));
        let ((files, _), _) = listing(root, &config, Some(Some(&kept)));
        assert!(forged(&files), "the kept listing was not used");

        // The ignore file above, edited in place to the same size with its old times put back
        // but for the change time: below it, nothing kept is trusted.
        let path = root.join("a/.gitignore");
        let mtime = std::fs::metadata(&path)
            .expect("test setup")
            .modified()
            .expect("test setup");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "*.rs\n\n").expect("test setup");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("test setup")
            .set_modified(mtime)
            .expect("test setup");
        let ((files, _), _) = listing(root, &config, Some(Some(&kept)));
        assert!(
            !forged(&files),
            "a listing below a changed ignore file was used"
        );
        assert!(
            !files.iter().any(|f| f.ends_with(" a/b/x.rs")),
            "*.rs applies"
        );

        // Kept again; then the folder itself changes.
        let (_, walked) = listing(root, &config, Some(None));
        let mut kept = walked.expect("test setup").listings;
        forge(&mut kept);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("a/b/y.py"), "").expect("test setup");
        let ((files, _), _) = listing(root, &config, Some(Some(&kept)));
        assert!(!forged(&files), "the listing of a changed folder was used");
        assert!(files.iter().any(|f| f.ends_with(" a/b/y.py")));
    }

    /// A folder of more than [`MAX_KEPT_NAMES`] entries keeps its names too (a forged one is
    /// visited while the folder holds), and is listed again once its modification time or its
    /// change time moved.
    #[cfg(unix)]
    #[test]
    fn a_big_folder_keeps_its_listing_only_while_its_times_hold() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("test setup");
        let root = dir.path();
        std::fs::create_dir_all(root.join("big")).expect("test setup");
        for i in 0..MAX_KEPT_NAMES + 36 {
            std::fs::write(root.join(format!("big/f{i:03}.rs")), "").expect("test setup");
        }
        let config = ScanConfig::default();
        let key = crate::source::listing::folder_key(b"big");
        let forged_listing = || {
            let (_, walked) = listing(root, &config, Some(None));
            let mut kept = walked.expect("test setup").listings;
            let was = kept.get(key).expect("test setup").as_ref().clone();
            let names = was.names.as_deref().expect("a big folder keeps its names");
            let mut entries = Vec::new();
            assert!(crate::source::listing::each_name(names, |d, n| {
                entries.push((d, n.to_vec()))
            }));
            assert!(entries.len() > MAX_KEPT_NAMES);
            entries.push((false, b"forged.rs".to_vec()));
            let mut raw: Vec<(bool, &[u8])> = entries.iter().map(|(d, n)| (*d, &n[..])).collect();
            let names = crate::source::listing::encode_names(&mut raw);
            kept.folders.insert(key, Arc::new(Listed { names, ..was }));
            kept
        };
        let forged = |files: &[String]| files.iter().any(|f| f.ends_with(" big/forged.rs"));
        let kept = forged_listing();
        let ((files, _), again) = listing(root, &config, Some(Some(&kept)));
        assert!(forged(&files), "the kept listing was not used");
        assert!(
            again
                .expect("test setup")
                .listings
                .get(key)
                .is_some_and(|l| l.names.is_some()),
            "a used listing is kept again"
        );

        // A file added: the modification time moves.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("big/new.rs"), "").expect("test setup");
        let ((files, _), _) = listing(root, &config, Some(Some(&kept)));
        assert!(!forged(&files), "the listing of a changed folder was used");
        assert!(files.iter().any(|f| f.ends_with(" big/new.rs")));

        // Its permissions changed and put back: only the change time moves.
        let kept = forged_listing();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let path = root.join("big");
        let mode = std::fs::metadata(&path).expect("test setup").permissions();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .expect("test setup");
        std::fs::set_permissions(&path, mode).expect("test setup");
        let ((files, _), _) = listing(root, &config, Some(Some(&kept)));
        assert!(
            !forged(&files),
            "the listing of a folder whose ctime moved was used"
        );
    }

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
