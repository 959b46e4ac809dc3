//! Reading a repository at any revision, straight from the object database (gix, pure Rust).
//!
//! Nothing here checks out, writes the index or touches the work tree: a model of `HEAD~3` is
//! built from blobs. The interface is deliberately small (resolve, list a tree, read a blob,
//! changed paths, merge base, history) so the rest of threatmark never sees gix types except
//! `ObjectId`.
//!
//! @component Threatmark:Git reader (#git_reader) in #process [type: process]: reads commits, trees and blobs with gix
//! @threat Hostile git objects (#hostile_objects) [stride: D,T; likelihood: unlikely; impact: moderate; cwe: 20; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a corrupt or crafted object database (truncated packs, giant blobs) crashes or stalls diff, check and history
//! @control Checked object access (#checked_objects): every object read returns an error that ends the command with exit 2; blob sizes are read from headers before inflating and checked against max_file_size
//! @mitigates #git_reader against #hostile_objects with #checked_objects
//! @connects #repo_files to #git_reader with git objects

use std::path::{Path, PathBuf};

pub(crate) use gix::ObjectId;

/// Why a git operation failed. All of these are exit code 2 at the CLI.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not inside a git repository")]
    NotARepository {
        path: PathBuf,
        #[source]
        source: Box<gix::Error>,
    },
    #[error("cannot resolve revision `{rev}`")]
    Revision {
        rev: String,
        #[source]
        source: Box<gix::Error>,
    },
    /// A name that is no ref and no object: said in words, not as gix's `NotFound`.
    #[error(
        "`{rev}` is not a branch, tag or commit of this repository; check the spelling (`git branch -a`, `git tag`), or fetch it first (`git fetch origin {rev}`): a CI checkout often holds one branch and a shallow history"
    )]
    UnknownRevision { rev: String },
    /// `HEAD~50` in a history of 10 commits (or a shallow clone of 1).
    #[error(
        "`{rev}` goes back further than the history of this clone; name a commit that exists, or fetch more history (`git fetch --deepen`, or `actions/checkout` with `fetch-depth: 0`)"
    )]
    BeyondHistory { rev: String },
    #[error("cannot read git object {id} (the repository may be corrupt)")]
    Object {
        id: String,
        #[source]
        source: Box<gix::Error>,
    },
    #[error("{0}")]
    Other(String),
}

fn object_err(id: impl std::fmt::Display) -> impl FnOnce(gix::Error) -> GitError {
    let id = id.to_string();
    move |source| GitError::Object {
        id,
        source: Box::new(source),
    }
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular or executable file.
    File,
    /// A symbolic link: never followed at a revision.
    Link,
    /// A submodule commit: its contents are another repository.
    Submodule,
}

/// One file of a tree, with its path relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    pub id: ObjectId,
    pub kind: EntryKind,
}

/// Pack cache per thread: reading every blob of a large repository was 1.7× slower with gix's
/// default (design notes, section 5).
const PACK_CACHE_BYTES: usize = 96 * 1024 * 1024;
const OBJECT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A path that differs between two trees: the file (blob id and kind) on each side, `None`
/// where there is no file (absent, or a folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub old: Option<(ObjectId, EntryKind)>,
    pub new: Option<(ObjectId, EntryKind)>,
}

/// A repository opened for reading.
#[derive(Debug, Clone)]
pub struct GitRepo {
    sync: gix::ThreadSafeRepository,
}

/// A thread-local handle with caches; cheap to make once per worker thread.
pub struct Reader {
    repo: gix::Repository,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl GitRepo {
    /// Find the repository that contains `path`.
    pub fn discover(path: &Path) -> Result<Self, GitError> {
        let repo = gix::discover(path).map_err(|source| {
            // A repository in an object format this build cannot read is no reason to act as
            // if there were no repository (a gate would then skip its base): say so.
            let chain =
                std::iter::successors(Some(&source as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .map(|e| e.to_string().to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(": ");
            if chain.contains("sha256") || chain.contains("objectformat") {
                GitError::Other(format!(
                    "{}: SHA-256 repositories are not supported by this build ({chain})",
                    path.display()
                ))
            } else {
                GitError::NotARepository {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                }
            }
        })?;
        Ok(Self {
            sync: repo.into_sync(),
        })
    }

    /// The work tree root, if the repository has one.
    pub fn workdir(&self) -> Option<PathBuf> {
        self.sync.work_dir().map(Path::to_path_buf)
    }

    /// A shallow clone: history beyond its `.git/shallow` commits was not fetched.
    pub fn is_shallow(&self) -> bool {
        self.sync.to_thread_local().is_shallow().unwrap_or(false)
    }

    /// The `.git` folder (for caches).
    pub fn git_dir(&self) -> PathBuf {
        self.sync.git_dir().to_path_buf()
    }

    /// The paths git tracks: the files and symbolic links of the index (not submodules, nor
    /// the folders of a sparse index), relative to the work tree, `/`-separated. A repository
    /// without an index tracks nothing.
    pub fn tracked_paths(&self) -> Result<Vec<Vec<u8>>, GitError> {
        use gix::index::entry::Mode;
        let repo = self.sync.to_thread_local();
        let index = repo
            .index_or_empty()
            .map_err(|e| GitError::Other(format!("cannot read the git index: {e}")))?;
        Ok(index
            .entries()
            .iter()
            .filter(|e| {
                e.mode == Mode::FILE || e.mode == Mode::FILE_EXECUTABLE || e.mode == Mode::SYMLINK
            })
            .map(|e| e.path(&index).to_vec())
            .collect())
    }

    /// The index, to tell which work-tree files are, by their stat, the blobs it names
    /// (`diff BASE` in a fresh clone builds the base from the work tree's outcomes).
    pub fn clean_index(&self) -> Result<CleanIndex, GitError> {
        let repo = self.sync.to_thread_local();
        let index = repo
            .index_or_empty()
            .map_err(|e| GitError::Other(format!("cannot read the git index: {e}")))?;
        // What checking a file out may have changed in its bytes: `.gitattributes` files (the
        // tracked ones, `.git/info/attributes`, the user's) and `core.autocrlf`/`core.eol`.
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let reader = self.reader();
        for e in index.entries() {
            let path = e.path(&index);
            if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
                texts.push(reader.blob(e.id)?);
            }
        }
        texts.extend(std::fs::read(self.git_dir().join("info/attributes")).ok());
        let config = repo.config_snapshot();
        let mut conversion = Conversion::None;
        if config.string("core.attributesFile").is_some() {
            conversion = Conversion::Unknown;
        } else if let Some(home) = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        {
            texts.extend(std::fs::read(home.join("git/attributes")).ok());
        }
        let autocrlf = config
            .string("core.autocrlf")
            .is_some_and(|v| !v.eq_ignore_ascii_case(b"false"));
        if autocrlf || config.string("core.eol").is_some() {
            conversion = conversion.max(Conversion::LineEnds);
        }
        for text in &texts {
            conversion = conversion.max(Conversion::of(text));
        }
        Ok(CleanIndex {
            workdir: self.workdir(),
            index,
            conversion,
        })
    }

    /// A reader for single lookups and tree walks. Without caches: a tree diff reads each tree
    /// once, and copying every object into a cache cost more than it saved (21 ms against
    /// 23–27 ms for the trees of a 50,000-file repository, docs/performance.md).
    pub fn reader(&self) -> Reader {
        let mut repo = self.sync.to_thread_local();
        repo.object_cache_size(0);
        repo.objects.unset_pack_cache();
        Reader { repo }
    }

    /// A reader for many blobs or a whole tree, with a pack cache for the delta bases they
    /// share.
    pub fn bulk_reader(&self) -> Reader {
        let mut repo = self.sync.to_thread_local();
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                PACK_CACHE_BYTES,
            ))
        });
        Reader { repo }
    }
}

impl Reader {
    /// Resolve any revision (`main`, `v1.2`, a sha, `HEAD~3`) to a commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<ObjectId, GitError> {
        let rev_err = |source: gix::Error| {
            let rev = crate::render::escape::printable(rev);
            // gix says `Reference "x" could not be found: NotFound`; the user needs to know
            // what to do about it.
            let chain =
                std::iter::successors(Some(&source as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            if chain.contains("could not be found") || chain.contains("NotFound") {
                GitError::UnknownRevision { rev }
            } else if chain.contains("out of range") {
                GitError::BeyondHistory { rev }
            } else {
                GitError::Revision {
                    rev,
                    source: Box::new(source),
                }
            }
        };
        let id = self.repo.rev_parse_single(rev).map_err(rev_err)?;
        let object = id.object().map_err(object_err(id))?;
        let commit = object
            .peel_to_commit()
            .map_err(|source| GitError::Revision {
                rev: rev.to_string(),
                source: Box::new(source),
            })?;
        Ok(commit.id)
    }

    /// A commit id as git abbreviates it: 7 hex digits, or more where that is not unique.
    pub fn short_id(&self, id: ObjectId) -> String {
        use gix::prelude::ObjectIdExt;
        id.attach(&self.repo).shorten_or_id().to_string()
    }

    /// The root tree of a commit.
    pub fn tree_of(&self, commit: ObjectId) -> Result<ObjectId, GitError> {
        let c = self.repo.find_commit(commit).map_err(object_err(commit))?;
        let tree = c.tree_id().map_err(object_err(commit))?;
        Ok(tree.detach())
    }

    /// Every file in a tree, recursively, sorted by path (byte order, like the work-tree scan).
    pub fn list(&self, tree: ObjectId) -> Result<Vec<TreeEntry>, GitError> {
        let mut out = Vec::new();
        self.list_into(tree, "", &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn entries(
        &self,
        tree: ObjectId,
    ) -> Result<Vec<(String, ObjectId, gix::object::tree::EntryMode)>, GitError> {
        let t = self.repo.find_tree(tree).map_err(object_err(tree))?;
        let decoded = t.decode().map_err(object_err(tree))?;
        Ok(decoded
            .entries
            .iter()
            .map(|e| (e.filename.to_string(), e.oid.to_owned(), e.mode))
            .collect())
    }

    fn list_into(
        &self,
        tree: ObjectId,
        prefix: &str,
        out: &mut Vec<TreeEntry>,
    ) -> Result<(), GitError> {
        for (name, id, mode) in self.entries(tree)? {
            let path = join(prefix, &name);
            if mode.is_tree() {
                self.list_into(id, &path, out)?;
            } else {
                out.push(TreeEntry {
                    path,
                    id,
                    kind: kind_of(mode),
                });
            }
        }
        Ok(())
    }

    /// The bytes of a blob.
    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>, GitError> {
        let mut blob = self.repo.find_blob(id).map_err(object_err(id))?;
        Ok(blob.take_data())
    }

    /// The size of a blob without inflating it.
    pub fn blob_size(&self, id: ObjectId) -> Result<u64, GitError> {
        let header = self.repo.find_header(id).map_err(object_err(id))?;
        Ok(header.size())
    }

    /// The blob at `path` in `tree`, if there is a file there.
    pub fn file_at(&self, tree: ObjectId, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let mut current = tree;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let found = self
                .entries(current)?
                .into_iter()
                .find(|(name, _, _)| name == part);
            match found {
                Some((_, id, mode)) if parts.peek().is_none() => {
                    return if mode.is_blob() {
                        self.blob(id).map(Some)
                    } else {
                        Ok(None)
                    };
                }
                Some((_, id, mode)) if mode.is_tree() => current = id,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The blob named `name` in each of `folders` (paths from `tree`'s root, `""` for the
    /// root) that holds one, as `(index in folders, blob)`, in the order of `folders`. Each
    /// folder's tree, and each of its parents', is decoded once, below its parent: looking the
    /// folders up one by one from the root ([`Reader::file_at`]) decodes the trees near the
    /// root once per folder, which for the hundreds of folders of a large change was most of
    /// a `diff` in a fresh clone.
    pub fn blobs_in_folders(
        &self,
        tree: ObjectId,
        folders: &[&str],
        name: &str,
    ) -> Result<Vec<(usize, ObjectId)>, GitError> {
        use std::collections::{BTreeSet, HashMap};
        // Every folder and its parents; sorted, a parent comes before its children.
        let mut all: BTreeSet<&str> = BTreeSet::new();
        for folder in folders {
            let mut rest = *folder;
            while all.insert(rest) && !rest.is_empty() {
                rest = rest.rfind('/').map_or("", |i| &rest[..i]);
            }
        }
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for folder in all.iter().filter(|f| !f.is_empty()) {
            let (parent, child) = folder.rsplit_once('/').unwrap_or(("", folder));
            children.entry(parent).or_default().push(child);
        }
        let mut trees: HashMap<&str, ObjectId> = HashMap::from([("", tree)]);
        let mut found: HashMap<&str, ObjectId> = HashMap::new();
        for folder in &all {
            let Some(&id) = trees.get(folder) else {
                continue; // not a folder in this tree
            };
            let wanted = children.get(folder).map_or(&[][..], Vec::as_slice);
            let t = self.repo.find_tree(id).map_err(object_err(id))?;
            for entry in t.iter() {
                let entry = entry.map_err(object_err(id))?;
                let filename = entry.filename();
                if entry.mode().is_blob() && filename == name {
                    found.insert(folder, entry.object_id());
                } else if entry.mode().is_tree()
                    && let Some(child) = wanted.iter().find(|c| filename == **c)
                    && let Some(path) = all.get(join(folder, child).as_str())
                {
                    trees.insert(path, entry.object_id());
                }
            }
        }
        Ok(folders
            .iter()
            .enumerate()
            .filter_map(|(i, f)| found.get(f).map(|id| (i, *id)))
            .collect())
    }

    /// Paths whose content or kind differs between two trees, sorted, with the file on each
    /// side. Identical subtrees are skipped by id, so the cost follows the size of the change,
    /// not of the repository (gix-diff's walk, which reuses two buffers for every tree).
    pub fn changes(&self, a: ObjectId, b: ObjectId) -> Result<Vec<Change>, GitError> {
        self.changes_with(a, b, &mut |_| {})
    }

    /// [`Reader::changes`], and each change as soon as the walk finds it (in walk order).
    pub fn changes_with(
        &self,
        a: ObjectId,
        b: ObjectId,
        on_change: &mut dyn FnMut(&Change),
    ) -> Result<Vec<Change>, GitError> {
        use gix::objs::FindExt;
        let (mut buf_a, mut buf_b) = (Vec::new(), Vec::new());
        let lhs = self
            .repo
            .objects
            .find_tree_iter(&a, &mut buf_a)
            .map_err(|e| GitError::Other(format!("cannot read tree {a}: {e}")))?;
        let rhs = self
            .repo
            .objects
            .find_tree_iter(&b, &mut buf_b)
            .map_err(|e| GitError::Other(format!("cannot read tree {b}: {e}")))?;
        let mut walk = Streaming {
            recorder: gix_diff::tree::Recorder::default(),
            changes: Vec::new(),
            on_change,
        };
        gix_diff::tree(
            lhs,
            rhs,
            gix_diff::tree::State::default(),
            &self.repo.objects,
            &mut walk,
        )
        .map_err(|e| GitError::Other(format!("cannot compare trees {a} and {b}: {e}")))?;
        let mut out = walk.changes;
        out.sort_by(|x, y| x.path.cmp(&y.path));
        Ok(out)
    }

    /// The best common ancestor of two commits.
    pub fn merge_base(&self, a: ObjectId, b: ObjectId) -> Result<Option<ObjectId>, GitError> {
        match self.repo.merge_base(a, b) {
            Ok(id) => Ok(id.map(|i| i.detach())),
            Err(e) => Err(GitError::Other(format!(
                "cannot compute the merge base: {e}"
            ))),
        }
    }

    /// First-parent history from `tip` (newest first), stopping before `stop` or after `max`.
    pub fn first_parent_history(
        &self,
        tip: ObjectId,
        stop: Option<ObjectId>,
        max: usize,
    ) -> Result<Vec<CommitInfo>, GitError> {
        let mut out = Vec::new();
        let mut cur = Some(tip);
        while let Some(id) = cur {
            if Some(id) == stop || out.len() >= max {
                break;
            }
            let c = self.repo.find_commit(id).map_err(object_err(id))?;
            let decoded = c.decode().map_err(object_err(id))?;
            let summary = decoded.message().summary().to_string();
            let time = decoded.committer().map(|s| s.seconds()).unwrap_or_default();
            let parent = decoded.parents().next();
            out.push(CommitInfo { id, summary, time });
            cur = parent;
        }
        Ok(out)
    }
}

/// A tree-diff delegate that keeps the file-level changes (a folder is not a file: what is in
/// an added or deleted folder is reported entry by entry) and hands each one on at once.
struct Streaming<'a> {
    /// Tracks the path; its records are taken as soon as it makes them.
    recorder: gix_diff::tree::Recorder,
    changes: Vec<Change>,
    on_change: &'a mut dyn FnMut(&Change),
}

impl gix_diff::tree::Visit for Streaming<'_> {
    fn pop_front_tracked_path_and_set_current(&mut self) {
        self.recorder.pop_front_tracked_path_and_set_current();
    }

    fn push_back_tracked_path_component(&mut self, component: &gix::bstr::BStr) {
        self.recorder.push_back_tracked_path_component(component);
    }

    fn push_path_component(&mut self, component: &gix::bstr::BStr) {
        self.recorder.push_path_component(component);
    }

    fn pop_path_component(&mut self) {
        self.recorder.pop_path_component();
    }

    fn visit(&mut self, change: gix_diff::tree::visit::Change) -> gix_diff::tree::visit::Action {
        use gix::bstr::ByteSlice;
        use gix_diff::tree::recorder::Change as Record;
        let action = self.recorder.visit(change);
        let file = |mode: gix::object::tree::EntryMode, id: ObjectId| {
            (!mode.is_tree()).then(|| (id, kind_of(mode)))
        };
        for record in self.recorder.records.drain(..) {
            let (path, old, new) = match record {
                Record::Addition {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (path, None, file(entry_mode, oid)),
                Record::Deletion {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (path, file(entry_mode, oid), None),
                Record::Modification {
                    previous_entry_mode,
                    previous_oid,
                    entry_mode,
                    oid,
                    path,
                } => (
                    path,
                    file(previous_entry_mode, previous_oid),
                    file(entry_mode, oid),
                ),
            };
            if old != new {
                let change = Change {
                    path: path.to_str_lossy().into_owned(),
                    old,
                    new,
                };
                (self.on_change)(&change);
                self.changes.push(change);
            }
        }
        action
    }
}

/// A commit in a history listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: ObjectId,
    pub summary: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
}

fn kind_of(mode: gix::object::tree::EntryMode) -> EntryKind {
    if mode.is_link() {
        EntryKind::Link
    } else if mode.is_commit() {
        EntryKind::Submodule
    } else {
        EntryKind::File
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The index of a repository with its work tree: which files are unchanged since git wrote them.
pub struct CleanIndex {
    workdir: Option<PathBuf>,
    index: gix::worktree::Index,
    /// What a checkout may have done to a blob's bytes.
    pub conversion: Conversion,
}

/// What a checkout may do to the bytes of a blob, from the attributes and configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conversion {
    /// Nothing: the work-tree file is the blob, byte for byte.
    None,
    /// Line ends only (`text`, `eol`, `crlf`, `core.autocrlf`): a file of the blob's size is
    /// the blob (turning LF into CRLF adds a byte per line).
    LineEnds,
    /// Anything (`filter`, `ident`, `working-tree-encoding`, macros, an attributes file
    /// elsewhere): the work tree says nothing about the blob.
    Unknown,
}

impl Conversion {
    fn of(attributes: &[u8]) -> Self {
        let has = |word: &[u8]| attributes.windows(word.len()).any(|w| w == word);
        if [&b"filter"[..], b"ident", b"encoding", b"[attr]"]
            .iter()
            .any(|w| has(w))
        {
            Conversion::Unknown
        } else if [&b"text"[..], b"eol", b"crlf"].iter().any(|w| has(w)) {
            Conversion::LineEnds
        } else {
            Conversion::None
        }
    }
}

impl std::fmt::Debug for CleanIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanIndex").finish_non_exhaustive()
    }
}

impl CleanIndex {
    /// The size of the work-tree file `rel` when it is the blob `id`: its index entry says so
    /// and its stat proves it: a regular file at stage 0 whose `lstat` matches the entry in
    /// every field (nanoseconds, inode, ctime), and which is not racy (written before the
    /// index, to the nanosecond). This is git's own rule for skipping a file's content, made
    /// stricter; anything else is `None` (read the blob). The entry is checked before the file
    /// is `stat`ed: a file the change touched costs no system call.
    pub fn clean_blob(&self, rel: &str, id: ObjectId) -> Option<u64> {
        use gix::index::entry::{Mode, Stage, stat::Options};
        let entry = self
            .index
            .entry_by_path_and_stage(rel.as_bytes().into(), Stage::Unconflicted)?;
        if !(entry.mode == Mode::FILE || entry.mode == Mode::FILE_EXECUTABLE)
            || entry.flags.intersects(
                gix::index::entry::Flags::INTENT_TO_ADD
                    | gix::index::entry::Flags::SKIP_WORKTREE
                    | gix::index::entry::Flags::ASSUME_VALID,
            )
            || entry.id != id
        {
            return None;
        }
        let path = self.workdir.as_ref()?.join(rel);
        let meta = gix::index::fs::Metadata::from_path_no_follow(&path).ok()?;
        if meta.is_dir() {
            return None;
        }
        let now = gix::index::entry::Stat::from_fs(&meta).ok()?;
        let strict = Options {
            trust_ctime: true,
            check_stat: true,
            use_nsec: true,
            use_stdev: true,
        };
        (entry.stat.matches(&now, strict) && !entry.stat.is_racy(self.index.timestamp(), strict))
            .then_some(meta.len())
    }

    /// Whether a file (tracked or not) exists at this work-tree path.
    pub fn exists(&self, rel: &str) -> bool {
        self.workdir
            .as_ref()
            .is_some_and(|w| std::fs::symlink_metadata(w.join(rel)).is_ok())
    }
}
