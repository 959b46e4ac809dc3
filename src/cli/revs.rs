//! Turning what the user typed (`main..HEAD`, a sha, a model file, nothing) into models.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::model::{self, ThreatModel};
use crate::scan::{self, RevScan, RevTarget, ScanResult, Snapshot};
use crate::source::git::{GitRepo, ObjectId};
use crate::store::cache::BlobCache;

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Side {
    /// The files on disk.
    WorkTree,
    /// A git revision.
    Rev(String),
    /// A model JSON file written earlier.
    File(PathBuf),
}

impl Side {
    pub(super) fn label(&self) -> String {
        match self {
            Side::WorkTree => "work tree".into(),
            Side::Rev(r) => r.clone(),
            Side::File(p) => p.display().to_string(),
        }
    }
}

/// Parse `[BASE [HEAD]]` as `diff` accepts it.
pub(super) fn parse_range(args: &[String]) -> anyhow::Result<(Option<Side>, Side)> {
    let side = |s: &str| -> Side {
        let p = Path::new(s);
        if s.ends_with(".json") && p.is_file() {
            Side::File(p.to_path_buf())
        } else {
            Side::Rev(s.to_string())
        }
    };
    Ok(match args {
        [] => (None, Side::WorkTree),
        // A model file first: `../old/threatmodel.json` is a path, not a range.
        [one] if matches!(side(one), Side::File(_)) => (Some(side(one)), Side::WorkTree),
        [one] => match one.split_once("..") {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !one.contains("...") => {
                (Some(side(a)), side(b))
            }
            Some(_) => bail!("`{one}`: write a range as BASE..HEAD"),
            None => (Some(side(one)), Side::WorkTree),
        },
        [a, b] => (Some(side(a)), side(b)),
        _ => bail!("give at most two revisions or model files"),
    })
}

/// Everything needed to build models of one repository at several points.
pub(super) struct Repo {
    pub root: PathBuf,
    git: Option<GitRepo>,
    /// Why there is no repository: `None` when the folder is simply not in one, the reason when
    /// one was found but cannot be read (an object format this build does not read).
    git_error: Option<String>,
    prefix: String,
    /// Loaded on first use: a scan that follows a snapshot does not need it.
    cache: std::sync::OnceLock<BlobCache>,
    /// Snapshots of the revisions scanned in this run (the last two), and whether each one
    /// still has to be saved.
    snapshots: std::cell::RefCell<Vec<(Snapshot, bool)>>,
    pub threads: usize,
    config_override: Option<PathBuf>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Repo {
    pub(super) fn open(root: &Path, threads: Option<usize>, config: Option<PathBuf>) -> Self {
        let (git, git_error) = match GitRepo::discover(root) {
            Ok(g) => (Some(g), None),
            Err(crate::source::git::GitError::NotARepository { .. }) => (None, None),
            Err(e) => (None, Some(e.to_string())),
        };
        let prefix = git
            .as_ref()
            .and_then(|g| g.workdir())
            .and_then(|wd| {
                let wd = std::fs::canonicalize(wd).ok()?;
                let here = std::fs::canonicalize(root).ok()?;
                here.strip_prefix(&wd)
                    .ok()
                    .map(|p| crate::source::fs::relative(Path::new(""), p))
            })
            .unwrap_or_default();
        Self {
            root: root.to_path_buf(),
            git,
            git_error,
            prefix,
            cache: std::sync::OnceLock::new(),
            snapshots: std::cell::RefCell::default(),
            threads: threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(1)
            }),
            config_override: config,
        }
    }

    pub(super) fn git(&self) -> anyhow::Result<&GitRepo> {
        match (&self.git, &self.git_error) {
            (Some(g), _) => Ok(g),
            (None, Some(why)) => bail!("{why}"),
            (None, None) => bail!("{} is not inside a git repository", self.root.display()),
        }
    }

    fn caching(&self) -> Option<&GitRepo> {
        self.git
            .as_ref()
            .filter(|_| std::env::var_os("THREATMARK_NO_CACHE").is_none())
    }

    /// The parse cache, read from disk on first use.
    fn cache(&self) -> &BlobCache {
        self.cache.get_or_init(|| {
            let cache = BlobCache::default();
            if let Some(g) = self.caching()
                && let crate::store::cache::Loaded::Corrupt(why) =
                    crate::store::cache::load(&crate::store::cache::path_in(&g.git_dir()), &cache)
            {
                eprintln!("threatmark: ignoring the parse cache ({why}); it will be rebuilt");
            }
            cache
        })
    }

    /// Write the parse cache back (entries used in this run) and the new snapshots. Failing to
    /// write a cache is not an error worth failing a command for.
    pub(super) fn save_cache(&self) {
        let Some(g) = self.caching() else {
            return;
        };
        if let Some(cache) = self.cache.get()
            && cache.added.load(std::sync::atomic::Ordering::Relaxed) > 0
        {
            let _ = crate::store::cache::save(&crate::store::cache::path_in(&g.git_dir()), cache);
        }
        let dir = crate::store::cache::snapshot_dir(&g.git_dir());
        for (snapshot, unsaved) in self.snapshots.borrow_mut().iter_mut() {
            // A snapshot with an outcome that ran out of time would keep it for good.
            if *unsaved
                && !snapshot
                    .outcomes
                    .iter()
                    .any(crate::store::snapshot::Stored::timed_out)
            {
                let _ = crate::store::cache::save_snapshot(&dir, snapshot);
                *unsaved = false;
            }
        }
    }

    /// The snapshot to start a scan of `commit` from: one of its own tree, else the last one
    /// of this run, else the newest on disk.
    fn base_snapshot(&self, git: &GitRepo, commit: ObjectId) -> Option<(Snapshot, bool)> {
        let tree = git.reader().tree_of(commit).ok()?.to_string();
        let dir = self
            .caching()
            .map(|g| crate::store::cache::snapshot_dir(&g.git_dir()));
        let known = self
            .snapshots
            .borrow()
            .iter()
            .rev()
            .find(|(s, _)| s.tree == tree)
            .map(|(s, _)| (s.clone(), true));
        known
            .or_else(|| {
                dir.as_deref()
                    .and_then(|d| crate::store::cache::load_snapshot(d, &tree))
                    .map(|s| (s, true))
            })
            .or_else(|| {
                self.snapshots
                    .borrow()
                    .last()
                    .map(|(s, _)| (s.clone(), false))
            })
            .or_else(|| {
                dir.as_deref()
                    .and_then(crate::store::cache::newest_snapshot)
                    .map(|s| (s, false))
            })
    }

    /// The scan root's folder in the work tree, with a trailing `/` (`""` at the top or
    /// outside git): what makes a path of the model relative to the repository.
    pub(super) fn prefix_slash(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The ignore files of the revision scanned last: relative path and blob id (hex).
    pub(super) fn last_ignore_files(&self) -> Vec<(String, String)> {
        self.snapshots
            .borrow()
            .last()
            .map(|(s, _)| s.ignore_files.clone())
            .unwrap_or_default()
    }

    /// A repository was found (even one this build cannot read).
    pub(super) fn has_git(&self) -> bool {
        self.git.is_some() || self.git_error.is_some()
    }

    /// A failed lookup in a shallow clone: say that the object may simply not have been
    /// fetched, and how to fetch it.
    pub(super) fn shallow_hint(&self, e: anyhow::Error) -> anyhow::Error {
        if self.git.as_ref().is_some_and(GitRepo::is_shallow) {
            e.context(
                "this clone is shallow: the revision may not have been fetched (fetch it, e.g. `git fetch --deepen` or `actions/checkout` with `fetch-depth: 0`)",
            )
        } else {
            e
        }
    }

    /// A full commit id as git abbreviates it for people (7 digits or more, unique); any other
    /// label (`main`, `HEAD~1`, a file) as it is. Machine output keeps the full id.
    pub(super) fn short_label(&self, label: &str) -> String {
        let full = matches!(label.len(), 40 | 64) && label.bytes().all(|b| b.is_ascii_hexdigit());
        let git = self.git.as_ref().filter(|_| full);
        match git.and_then(|g| ObjectId::from_hex(label.as_bytes()).ok().map(|id| (g, id))) {
            Some((git, id)) => git.reader().short_id(id),
            None => label.to_string(),
        }
    }

    pub(super) fn resolve(&self, rev: &str) -> anyhow::Result<ObjectId> {
        Ok(self.git()?.reader().resolve_commit(rev)?)
    }

    /// `A...B` (as in git) means `merge-base(A, B)..B`; other arguments pass through.
    pub(super) fn expand_three_dot(&self, arg: &str) -> anyhow::Result<String> {
        let Some((a, b)) = arg.split_once("...") else {
            return Ok(arg.to_string());
        };
        let reader = self.git()?.reader();
        let (ia, ib) = (reader.resolve_commit(a)?, reader.resolve_commit(b)?);
        match reader.merge_base(ia, ib)? {
            Some(base) => Ok(format!("{base}..{b}")),
            None => bail!("`{a}` and `{b}` have no common ancestor"),
        }
    }

    /// `merge-base(default branch, HEAD)`: the default branch is `origin/HEAD`, else
    /// `origin/main`, `origin/master`, `main`, `master`.
    pub(super) fn default_base(&self) -> anyhow::Result<String> {
        let git = self.git()?;
        let reader = git.reader();
        let head = reader.resolve_commit("HEAD")?;
        let mut unrelated = Vec::new();
        for candidate in [
            "origin/HEAD",
            "origin/main",
            "origin/master",
            "main",
            "master",
        ] {
            if let Ok(id) = reader.resolve_commit(candidate) {
                // An error here is a commit missing from a shallow clone's history.
                match reader.merge_base(id, head) {
                    Ok(Some(base)) => return Ok(base.to_string()),
                    Ok(None) | Err(_) => unrelated.push(candidate),
                }
            }
        }
        let shallow = git.is_shallow();
        match unrelated.first() {
            Some(branch) => bail!(
                "`{branch}` and HEAD have no common ancestor here{}",
                if shallow {
                    " (this clone is shallow: the history that joins them was not fetched)"
                } else {
                    ""
                }
            ),
            None => bail!(
                "no default branch (origin/HEAD, origin/main, origin/master, main or master) to compare with{}",
                if shallow {
                    " (this clone is shallow and may hold only the branch checked out)"
                } else {
                    ""
                }
            ),
        }
    }

    fn explicit_config(&self) -> anyhow::Result<Option<Config>> {
        match &self.config_override {
            Some(p) => Ok(Some(Config::load(&self.root, Some(p))?)),
            None => Ok(None),
        }
    }

    /// Scan a revision from the object database and build its model.
    pub(super) fn scan_rev(&self, rev: &str) -> anyhow::Result<(Config, ScanResult)> {
        let (config, scanned) = self.rev_scan(rev)?;
        let result = self.result(rev, &config, &scanned)?;
        Ok((config, result))
    }

    /// The model of a scanned revision. A snapshot record that does not decode (which its
    /// checksum makes all but impossible) means the revision is scanned again in full.
    fn result(&self, rev: &str, config: &Config, scanned: &RevScan) -> anyhow::Result<ScanResult> {
        match scanned.result(config) {
            Ok(result) => Ok(result),
            Err(damaged) => {
                eprintln!("threatmark: ignoring a snapshot ({damaged}); reading `{rev}` in full");
                let (config, fresh) = self.scan_rev_from(rev, None, None)?;
                Ok(fresh.result(&config)?)
            }
        }
    }

    /// Scan a revision from the object database, without building its model yet.
    pub(super) fn rev_scan(&self, rev: &str) -> anyhow::Result<(Config, RevScan)> {
        let git = self.git()?;
        let commit = self.resolve(rev)?;
        crate::timings::mark("revision resolved");
        let base = self.base_snapshot(git, commit);
        crate::timings::mark("base snapshot found");
        self.scan_rev_from(rev, base, None)
    }

    /// No snapshot to start a scan of `rev` from: a fresh clone, or a cache that was cleared.
    pub(super) fn no_snapshot_for(&self, rev: &str) -> anyhow::Result<bool> {
        let git = self.git()?;
        let commit = self.resolve(rev)?;
        Ok(self.base_snapshot(git, commit).is_none())
    }

    /// Whether revisions `a` and `b` have the same model, told from the files that differ
    /// between them (`None`: not cheaply; see [`scan::same_model_by_change`]).
    pub(super) fn same_model_by_change(&self, a: &str, b: &str) -> anyhow::Result<Option<bool>> {
        let git = self.git()?;
        let target = |commit| RevTarget {
            repo: git,
            commit,
            prefix: self.prefix.clone(),
            default_name: crate::source::fs::folder_name(&self.root),
        };
        let (ta, tb) = (target(self.resolve(a)?), target(self.resolve(b)?));
        let explicit = self.explicit_config()?;
        scan::same_model_by_change(&ta, &tb, explicit.as_ref(), self.threads, self.cache())
            .with_context(|| format!("comparing `{a}` and `{b}`"))
    }

    /// The model of `rev` and of the work tree, in a fresh clone. The work tree is scanned
    /// first, and the revision's files that the index proves to be the work tree's bytes take
    /// the work tree's outcomes: only the files that differ are read from git. What the walk
    /// could not read (TM005, TM017, a link or ignore-file problem) means every blob is read.
    pub(super) fn rev_and_worktree(
        &self,
        rev: &str,
    ) -> anyhow::Result<(ThreatModel, Config, ThreatModel)> {
        use crate::diagnostic::Code;
        let git = self.git()?;
        self.resolve(rev)?;
        let (head_config, head, outcomes) = super::scan::scan_folder_keeping(
            &self.root,
            self.config_override.as_deref(),
            self.threads,
            &|| {},
            crate::scan::finish::Imports::Leave,
        )?;
        crate::timings::mark("work tree scanned");
        let unread = head.diagnostics.iter().any(|d| {
            matches!(
                d.code,
                Code::FileTooLarge
                    | Code::IoError
                    | Code::LinkOutOfRoot
                    | Code::SymlinkLoop
                    | Code::IgnoreFileError
                    | Code::GitIndexUnreadable
            )
        });
        let index = if unread { None } else { git.clean_index().ok() };
        crate::timings::mark("index read");
        let reuse = index.as_ref().map(|index| scan::Reuse {
            config_key: scan::config_key(&head_config),
            outcomes: &outcomes,
            index,
        });
        let (config, scanned) = self.scan_rev_from(rev, None, reuse.as_ref())?;
        let base = self.result(rev, &config, &scanned)?;
        Ok((base.model, head_config, head.model))
    }

    fn scan_rev_from(
        &self,
        rev: &str,
        base: Option<(Snapshot, bool)>,
        reuse: Option<&scan::Reuse<'_>>,
    ) -> anyhow::Result<(Config, RevScan)> {
        let git = self.git()?;
        let commit = self.resolve(rev)?;
        let target = RevTarget {
            repo: git,
            commit,
            prefix: self.prefix.clone(),
            default_name: crate::source::fs::folder_name(&self.root),
        };
        let explicit = self.explicit_config()?;
        // A scan that follows a snapshot reads few blobs: the parse cache is not worth loading.
        let fresh = BlobCache::default();
        let cache = if base.is_some() { &fresh } else { self.cache() };
        let (config, scanned) = scan::scan_rev(
            &target,
            explicit.as_ref(),
            self.threads,
            cache,
            base.as_ref().map(|(s, _)| s),
            reuse,
        )
        .with_context(|| format!("scanning revision `{rev}`"))?;
        // A snapshot of the same tree and configuration is already on disk.
        let saved = base.is_some_and(|(b, same_tree)| {
            same_tree
                && b.config_key == scanned.snapshot.config_key
                && b.tree == scanned.snapshot.tree
        });
        let mut snapshots = self.snapshots.borrow_mut();
        snapshots.push((scanned.snapshot.clone(), !saved));
        if snapshots.len() > 2 {
            // Keep the unsaved ones of a long `history` run from piling up: only the last two
            // revisions are saved.
            snapshots.remove(0);
        }
        Ok((config, scanned))
    }

    /// Scan the work tree.
    pub(super) fn scan_worktree(&self) -> anyhow::Result<(Config, ScanResult)> {
        super::scan::scan_folder(
            &self.root,
            self.config_override.as_deref(),
            self.threads,
            &|| {},
            crate::scan::finish::Imports::Leave,
        )
    }

    /// The model of one side (and its configuration, when it was scanned).
    pub(super) fn model(&self, side: &Side) -> anyhow::Result<(Option<Config>, ThreatModel)> {
        match side {
            Side::WorkTree => {
                let (c, r) = self.scan_worktree()?;
                Ok((Some(c), r.model))
            }
            Side::Rev(rev) => {
                let (c, r) = self.scan_rev(rev)?;
                Ok((Some(c), r.model))
            }
            Side::File(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                let m = model::from_json(&text)
                    .with_context(|| format!("{} is not a threatmark model", p.display()))?;
                Ok((None, m))
            }
        }
    }
}
