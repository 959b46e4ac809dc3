//! The in-memory incremental workspace that the editor and agent servers (`threatmark lsp` and
//! `threatmark mcp`) keep open: the per-file outcome of every file of a repository, the model
//! assembled from them, and the diagnostics by file.
//!
//! A scan reads every file each time; a server sees one file change at a time. So the workspace
//! keeps each file's [`FileOutcome`] (the pure per-file pipeline, `scan::process_file`), loads
//! them once with the scan cache (a file whose stat is cached is not read), and on a change runs
//! the pipeline on that one file only, then assembles the model again from the kept outcomes and
//! re-runs the analysis: model diagnostics that land in other files (a `@mitigates ... with #c`
//! whose control was just deleted) come and go with it. The text of an open document overlays
//! the file on disk. The configuration applies as in a scan: include/exclude and ignore files
//! (through the same walk), the size limit (also on an open document's text), `[diagnostics]`
//! and `threatmark: ignore[...]` comments.
//!
//! The model and the diagnostics are `scan`'s: a rebuild (`Workspace::rebuild`, the one place
//! the model is assembled) completes the assembly with `scan::finish` (Threatspec `imports`,
//! TM049; the configuration is refused when linked out of the repository, as in a scan) and
//! selects with `scan::selection`, the functions `threatmark scan` calls. [`Workspace::refresh`]
//! catches up with files changed outside (an agent's writes, a `git checkout`): a walk, a stat
//! per file, and a read of the changed ones only. A configuration that does not load leaves
//! the servers running with an empty model and TM050 on the configuration file.
//!
//! @component Threatmark:Workspace (#workspace) in #process [type: process]: the in-memory model the editor servers keep, updated one file at a time
//! @threat Editor text floods the server (#editor_flood) [stride: D; likelihood: possible; impact: minor; cwe: 400; actor: #malicious_contributor]:
//! a document of hundreds of megabytes, opened or pasted in an editor (or sent by a hostile client), is parsed on every keystroke
//! @control Open documents obey the size limit (#overlay_size_limit): a document over `max_file_size` is not parsed; it gets TM022 as a file on disk would
//! @mitigates #workspace against #editor_flood with #overlay_size_limit
//! @mitigates #workspace against #huge_files with #size_limit
//! @mitigates #workspace against #linked_reads with #no_linked_inputs
//! @connects #workspace to #scanner with file text

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::model::{Attributes, Project, Source, ThreatModel};
use crate::scan::finish::Imports;
use crate::scan::{FileOptions, FileOutcome, ScanResult, Stats};
use crate::source::fs::Found;
use crate::store::scan_cache::{self, FileStat, Hit};

/// Why a workspace cannot be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkspaceError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
    #[error(transparent)]
    Linked(#[from] crate::scan::finish::LinkedConfig),
}

/// One element of the model (component, boundary, actor, threat or control), borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'m> {
    pub kind: &'static str,
    pub id: &'m str,
    pub name: &'m str,
    pub description: &'m str,
    pub declared: bool,
    pub attributes: &'m Attributes,
    pub sources: &'m [Source],
}

/// A place in a file: its path relative to the root and a byte range of its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Place {
    pub path: String,
    pub start: usize,
    pub end: usize,
}

/// A repository held in memory. See the module documentation.
#[derive(Debug)]
pub(crate) struct Workspace {
    root: PathBuf,
    /// `--config`, when given (then no linked-configuration refusal and no TM049, as in a scan).
    explicit: Option<PathBuf>,
    threads: usize,
    config: Config,
    /// `scan::config_key` of `config`: a refresh that loads another configuration starts over.
    key: u64,
    opts: FileOptions,
    project: Project,
    /// Outcomes of the files that contribute something (annotations, diagnostics), by path.
    outcomes: BTreeMap<String, Arc<FileOutcome>>,
    /// Every file of the workspace (the walk's, and documents opened since), with its stat when
    /// it was last read (`None`: read it again at the next refresh).
    files: BTreeMap<String, Option<FileStat>>,
    /// Problems of the last walk (ignore files, links...).
    walk_problems: Vec<Diagnostic>,
    /// Size-limit and IO diagnostics of a file read, by path (a file re-read replaces its own).
    read_problems: BTreeMap<String, Diagnostic>,
    /// Texts of open documents, which win over the disk.
    overlays: BTreeMap<String, Arc<str>>,
    /// The project merges Threatspec `imports`, which a refresh cannot see change: it rebuilds.
    imports: bool,
    /// How many times the model was rebuilt (a cache key for what is derived from it).
    generation: u64,
    /// The configuration did not load (or its globs do not compile): why. The workspace is
    /// then empty but for TM050 at the configuration file, until a refresh loads it.
    broken: Option<String>,
    result: ScanResult,
    /// The diagnostics as `scan` prints them, sorted.
    shown: Vec<Diagnostic>,
    by_file: BTreeMap<String, Vec<Diagnostic>>,
}

/// A candidate file the walk found, with its stat before any read.
struct Walked {
    rel: String,
    path: PathBuf,
    stat: Option<FileStat>,
}

impl Workspace {
    /// Load the configuration of `root` (or `explicit`) and every file, reusing the scan cache.
    #[cfg(test)]
    pub(crate) fn open(root: &Path, explicit: Option<&Path>) -> Result<Self, WorkspaceError> {
        Self::open_with(root, explicit, None)
    }

    /// [`Workspace::open`] with `threads` walker threads (default: one per core).
    pub(crate) fn open_with(
        root: &Path,
        explicit: Option<&Path>,
        threads: Option<usize>,
    ) -> Result<Self, WorkspaceError> {
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let config = load_config(root, explicit)?;
        let opts = FileOptions::from_config(&config);
        let key = crate::scan::config_key(&config);
        let cache = scan_cache::location(root)
            .as_deref()
            .and_then(scan_cache::load)
            .filter(|c| c.config_key == key);
        let outcomes: Mutex<Vec<Arc<FileOutcome>>> = Mutex::new(Vec::new());
        let files: Mutex<Vec<(String, Option<FileStat>)>> = Mutex::new(Vec::new());
        let problems: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
        let visit = |file: Walked| {
            crate::scan::lock(&files).push((file.rel.clone(), file.stat));
            match (cache.as_ref().and_then(|c| c.lookup(&file.rel)), file.stat) {
                (Some(Hit::File(hit)), Some(stat))
                    if stat == hit.stat && hit.stat.size <= opts.max_file_size =>
                {
                    if let Some(outcome) = hit.outcome.as_ref().and_then(|o| o.decode().ok()) {
                        crate::scan::lock(&outcomes).push(outcome);
                    }
                    return;
                }
                // The last scan found nothing in it, and it has not changed since.
                (Some(Hit::Plain(hit)), Some(stat))
                    if scan_cache::fingerprint(&file.rel, &stat) == hit.fingerprint =>
                {
                    return;
                }
                _ => {}
            }
            match read_file(&file.path, &file.rel, &opts) {
                Ok(outcome) => {
                    if contributes(&outcome) {
                        crate::scan::lock(&outcomes).push(Arc::new(outcome));
                    }
                }
                Err(d) => crate::scan::lock(&problems).push(*d),
            }
        };
        let walk_problems = walk(root, &config, &opts, threads, &visit)?;
        let mut ws = Workspace::empty(root, explicit, threads, config, key);
        ws.opts = opts;
        ws.files = files
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .collect();
        ws.walk_problems = walk_problems;
        for o in outcomes.into_inner().unwrap_or_else(|e| e.into_inner()) {
            ws.outcomes.insert(o.path.clone(), o);
        }
        for d in problems.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let path = d
                .location
                .as_ref()
                .map(|l| l.path.clone())
                .unwrap_or_default();
            ws.read_problems.insert(path, d);
        }
        ws.rebuild();
        Ok(ws)
    }

    /// A workspace with no files yet, configured by `config` (`key`: its scan-cache key).
    fn empty(
        root: &Path,
        explicit: Option<&Path>,
        threads: usize,
        config: Config,
        key: u64,
    ) -> Self {
        Workspace {
            root: root.to_path_buf(),
            explicit: explicit.map(Path::to_path_buf),
            threads,
            project: crate::scan::project_for(root, &config),
            opts: FileOptions::from_config(&config),
            key,
            outcomes: BTreeMap::new(),
            files: BTreeMap::new(),
            walk_problems: Vec::new(),
            read_problems: BTreeMap::new(),
            overlays: BTreeMap::new(),
            imports: false,
            generation: 0,
            broken: None,
            result: empty_result(),
            shown: Vec::new(),
            by_file: BTreeMap::new(),
            config,
        }
    }

    /// [`Workspace::open_with`] for a server that must keep running: a configuration that does
    /// not load gives an empty workspace whose one diagnostic is TM050 at the configuration
    /// file (see [`Workspace::broken`]); a refresh tries again.
    pub(crate) fn open_or_report(
        root: &Path,
        explicit: Option<&Path>,
        threads: Option<usize>,
    ) -> Self {
        match Self::open_with(root, explicit, threads) {
            Ok(ws) => ws,
            Err(e) => {
                let threads = threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
                let mut ws = Workspace::empty(root, explicit, threads, Config::default(), 0);
                ws.break_with(e.to_string());
                ws
            }
        }
    }

    /// Why the configuration does not load, when it does not.
    pub(crate) fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Become empty but for TM050 (open documents are kept for later). False when it was
    /// broken for that reason already.
    fn break_with(&mut self, why: String) -> bool {
        if self.broken.as_deref() == Some(why.as_str()) {
            return false;
        }
        self.broken = Some(why);
        self.key = 0;
        self.files.clear();
        self.outcomes.clear();
        self.walk_problems.clear();
        self.read_problems.clear();
        self.rebuild();
        true
    }

    /// The configuration file, relative to the root: the one given, else the first of
    /// threatmark.toml, threatspec.yaml and GuardLink's that exists (threatmark.toml if none).
    pub(crate) fn config_file(&self) -> String {
        if let Some(given) = &self.explicit {
            let path = if given.is_absolute() {
                given.clone()
            } else {
                std::env::current_dir().unwrap_or_default().join(given)
            };
            let inside = path
                .strip_prefix(&self.root)
                .ok()
                .map(Path::to_path_buf)
                .or_else(|| {
                    let root = std::fs::canonicalize(&self.root).ok()?;
                    let real = std::fs::canonicalize(&path).ok()?;
                    real.strip_prefix(&root).ok().map(Path::to_path_buf)
                })
                .map(|rel| crate::source::fs::relative(Path::new(""), &rel));
            if let Some(rel) = inside.filter(|r| !r.is_empty()) {
                return rel;
            }
        }
        [
            crate::config::FILE_NAME,
            crate::import::threatspec::CONFIG_FILE,
            crate::import::guardlink::CONFIG_FILE,
        ]
        .into_iter()
        .find(|name| self.root.join(name).is_file())
        .unwrap_or(crate::config::FILE_NAME)
        .to_string()
    }

    /// Catch up with the disk: walk again (so ignore files and include/exclude decide about
    /// files that appeared since), re-read only the files whose stat changed or that are new,
    /// forget the files that are gone, and rebuild once if anything changed. Open documents
    /// keep overlaying the disk. A changed configuration reloads everything. True when the
    /// model was rebuilt.
    pub(crate) fn refresh(&mut self) -> Result<bool, WorkspaceError> {
        let config = match load_config(&self.root, self.explicit.as_deref()) {
            Ok(config) => config,
            Err(e) => return Ok(self.break_with(e.to_string())),
        };
        if crate::scan::config_key(&config) != self.key || self.broken.is_some() {
            let overlays = std::mem::take(&mut self.overlays);
            match Workspace::open_with(&self.root, self.explicit.as_deref(), Some(self.threads)) {
                Ok(ws) => *self = ws,
                Err(e) => {
                    self.overlays = overlays;
                    return Ok(self.break_with(e.to_string()));
                }
            }
            for (rel, text) in overlays {
                self.overlay(&rel, &text);
            }
            self.rebuild();
            return Ok(true);
        }
        let found: Mutex<Vec<Walked>> = Mutex::new(Vec::new());
        let walked = walk(
            &self.root,
            &self.config,
            &self.opts,
            self.threads,
            &|file| {
                crate::scan::lock(&found).push(file);
            },
        );
        let problems = match walked {
            Ok(problems) => problems,
            Err(e) => return Ok(self.break_with(e.to_string())),
        };
        let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        let mut changed = problems != self.walk_problems;
        self.walk_problems = problems;
        let mut seen = BTreeSet::new();
        for file in found {
            seen.insert(file.rel.clone());
            if self.overlays.contains_key(&file.rel) {
                continue;
            }
            let known = self.files.get(&file.rel).copied().flatten();
            if file.stat.is_some() && known == file.stat {
                continue;
            }
            changed = true;
            self.files.insert(file.rel.clone(), file.stat);
            self.read(&file.rel, &file.path);
        }
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|rel| !seen.contains(*rel) && !self.overlays.contains_key(*rel))
            .cloned()
            .collect();
        for rel in gone {
            changed = true;
            self.files.remove(&rel);
            self.outcomes.remove(&rel);
            self.read_problems.remove(&rel);
        }
        if changed || self.imports {
            self.rebuild();
        }
        Ok(changed || self.imports)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Is `rel` a file of this workspace: seen by the walk, or (a file that appeared since) a
    /// candidate that include/exclude do not leave out?
    pub(crate) fn covers(&self, rel: &str) -> bool {
        if self.files.contains_key(rel) {
            return true;
        }
        if rel.is_empty() || !crate::scan::is_candidate(rel, &self.opts) {
            return false;
        }
        let Ok(globs) = crate::source::filter::overrides(&self.root, &self.config.scan) else {
            return false;
        };
        !globs
            .matched(&self.root.join(rel), false, || rel.to_string())
            .is_ignore()
    }

    /// A file changed: `Some(text)` is an open document's text, `None` means "read it from
    /// disk again" (a document closed or a file saved, created or deleted). Only that file's
    /// pipeline runs; the model and the diagnostics are rebuilt. False when `rel` is not a file
    /// of the workspace (nothing changed).
    pub(crate) fn update(&mut self, rel: &str, text: Option<&str>) -> bool {
        if !self.covers(rel) {
            return false;
        }
        match text {
            Some(text) => self.overlay(rel, text),
            None => {
                self.overlays.remove(rel);
                let path = self.root.join(rel);
                let stat = std::fs::metadata(&path)
                    .ok()
                    .and_then(|meta| FileStat::of(&meta));
                if stat.is_some() {
                    self.files.insert(rel.to_string(), stat);
                    self.read(rel, &path);
                } else {
                    self.files.remove(rel);
                    self.outcomes.remove(rel);
                    self.read_problems.remove(rel);
                }
            }
        }
        self.rebuild();
        true
    }

    /// Put an open document's text over the file (without rebuilding).
    fn overlay(&mut self, rel: &str, text: &str) {
        self.files.entry(rel.to_string()).or_insert(None);
        self.overlays.insert(rel.to_string(), Arc::from(text));
        self.read_problems.remove(rel);
        let size = text.len() as u64;
        let outcome = if size > self.opts.max_file_size {
            let d = crate::scan::pipeline::too_large(rel, size, self.opts.max_file_size);
            self.read_problems.insert(rel.to_string(), d);
            None
        } else {
            Some(crate::scan::process_file(rel, text.as_bytes(), &self.opts))
        };
        self.keep(rel, outcome);
    }

    /// Read a file from disk again (without rebuilding).
    fn read(&mut self, rel: &str, path: &Path) {
        self.read_problems.remove(rel);
        let outcome = match read_file(path, rel, &self.opts) {
            Ok(o) => Some(o),
            Err(d) => {
                self.read_problems.insert(rel.to_string(), *d);
                None
            }
        };
        self.keep(rel, outcome);
    }

    fn keep(&mut self, rel: &str, outcome: Option<FileOutcome>) {
        match outcome.filter(contributes) {
            Some(o) => self.outcomes.insert(rel.to_string(), Arc::new(o)),
            None => self.outcomes.remove(rel),
        };
    }

    /// Assemble the model from the kept outcomes, analyse it, complete it as `scan` does
    /// (`scan::finish`: imports, TM049) and select the diagnostics as `scan` prints them
    /// (`scan::selection`). The one place the model is rebuilt.
    fn rebuild(&mut self) {
        let outcomes: Vec<&FileOutcome> = self.outcomes.values().map(|o| &**o).collect();
        let mut stats = Stats::default();
        let mut result = crate::scan::assemble(
            self.project.clone(),
            &outcomes,
            &self.config.risk,
            self.config.model.limits(),
            &mut stats,
        );
        result
            .diagnostics
            .extend(self.walk_problems.iter().cloned());
        result
            .diagnostics
            .extend(self.read_problems.values().cloned());
        diagnostic::normalize(&mut result.diagnostics);
        let finished = crate::scan::finish::finish(
            &self.root,
            self.explicit.as_deref(),
            &self.config,
            &mut result,
            Imports::Merge,
            None,
        );
        if let Err(e) = finished {
            // `scan` stops here (exit 2); a server keeps the model without the imports and
            // says why at the configuration.
            let name = crate::import::threatspec::CONFIG_FILE;
            result.diagnostics.push(
                Diagnostic::new(
                    Code::IoError,
                    format!("the imports of `{name}` were not merged: {e:#}"),
                )
                .in_file(name)
                .help("`threatmark scan` fails on this; fix or remove the import"),
            );
            diagnostic::normalize(&mut result.diagnostics);
        }
        if let Some(why) = &self.broken {
            result.diagnostics.push(
                Diagnostic::new(Code::ConfigurationUnreadable, why.clone())
                    .in_file(&self.config_file())
                    .help("`threatmark scan` stops on this (exit 2); the model stays empty until the configuration loads"),
            );
        }
        self.imports = crate::scan::finish::names_imports(&self.root, &self.config, None);
        let shown = match crate::scan::selection::scan_diagnostics(&self.config, &result) {
            Ok(selected) => selected.diagnostics,
            Err(_) => result.diagnostics.clone(),
        };
        let mut by_file: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
        for d in &shown {
            let path = d
                .location
                .as_ref()
                .map(|l| l.path.clone())
                .unwrap_or_default();
            by_file.entry(path).or_default().push(d.clone());
        }
        // The old model of a huge repository takes milliseconds to free: not before publishing
        // (where no thread can be started, it is freed here).
        let old = std::mem::replace(&mut self.result, result);
        let _ = std::thread::Builder::new().spawn(move || drop(old));
        self.shown = shown;
        self.by_file = by_file;
        self.generation += 1;
    }

    /// Changes whenever the model is rebuilt.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The diagnostics as `scan` prints them.
    pub(crate) fn diagnostics(&self) -> &[Diagnostic] {
        &self.shown
    }

    pub(crate) fn file_options(&self) -> &FileOptions {
        &self.opts
    }

    /// The outcomes of the files that contribute to the model, by path.
    pub(crate) fn outcomes(&self) -> impl Iterator<Item = &FileOutcome> {
        self.outcomes.values().map(|o| &**o)
    }

    pub(crate) fn model(&self) -> &ThreatModel {
        &self.result.model
    }

    pub(crate) fn analysis(&self) -> Option<&crate::analysis::Analysis> {
        self.result.model.analysis.as_ref()
    }

    /// The shown diagnostics by file path (`""`: those of no file).
    pub(crate) fn diagnostics_by_file(&self) -> &BTreeMap<String, Vec<Diagnostic>> {
        &self.by_file
    }

    /// The current text of a file: its open document, else what the pipeline kept, else the
    /// disk (within the size limit, decoded as the scan decodes it).
    pub(crate) fn text(&self, rel: &str) -> Option<Arc<str>> {
        if let Some(t) = self.overlays.get(rel) {
            return Some(Arc::clone(t));
        }
        if let Some(t) = self.outcomes.get(rel).and_then(|o| o.text.clone()) {
            return Some(t);
        }
        let path = self.root.join(rel);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > self.opts.max_file_size {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        Some(Arc::from(crate::text::decode(&bytes).text.as_ref()))
    }

    /// Paths of the files that hold annotations, in order.
    pub(crate) fn annotated_files(&self) -> impl Iterator<Item = &str> {
        self.outcomes
            .values()
            .filter(|o| !o.annotations.is_empty())
            .map(|o| o.path.as_str())
    }

    /// Every element of the model, components first, each list in the model's order.
    pub(crate) fn elements(&self) -> Vec<Element<'_>> {
        let m = &self.result.model;
        let mut out = Vec::new();
        macro_rules! push {
            ($list:expr, $kind:expr) => {
                for e in &$list {
                    out.push(Element {
                        kind: $kind,
                        id: &e.id,
                        name: &e.name,
                        description: &e.description,
                        declared: e.declared,
                        attributes: &e.attributes,
                        sources: &e.sources,
                    });
                }
            };
        }
        push!(m.components, "component");
        push!(m.boundaries, "boundary");
        push!(m.actors, "actor");
        push!(m.threats, "threat");
        push!(m.controls, "control");
        out
    }

    /// The element with this id (a declared one first).
    pub(crate) fn element(&self, id: &str) -> Option<Element<'_>> {
        let all = self.elements();
        let found = all.iter().filter(|e| e.id == id);
        found
            .clone()
            .find(|e| e.declared)
            .or_else(|| found.clone().next())
            .copied()
    }

    /// Where an element is declared, as a place in its file's text (the annotation's line,
    /// from its column to the end of the line).
    pub(crate) fn declaration(&self, id: &str) -> Option<Place> {
        let e = self.element(id).filter(|e| e.declared)?;
        // The annotation that declares it (`@control Name (#id)`), else its first source.
        let tag = format!("@{}", e.kind);
        let s = e
            .sources
            .iter()
            .find(|s| s.annotation.starts_with(&tag))
            .or(e.sources.first())?;
        let text = self.text(&s.path)?;
        let index = crate::text::LineIndex::new(&text);
        let line = (s.line as usize).checked_sub(1)?;
        if line >= index.line_count() {
            return None;
        }
        let range = index.line_range(&text, line);
        let start = text[range.clone()]
            .char_indices()
            .nth((s.column as usize).saturating_sub(1))
            .map_or(range.start, |(i, _)| range.start + i);
        Some(Place {
            path: s.path.clone(),
            start,
            end: range.end,
        })
    }

    /// Every `#id` in the annotated files (the `#` included in the place), in path order.
    pub(crate) fn references(&self, id: &str) -> Vec<Place> {
        self.occurrences(&format!("#{id}"), |b, _, end| {
            !b.get(end).is_some_and(|c| is_id_byte(*c))
        })
    }

    /// Every whole-word occurrence of an element's name on an annotation line (one holding
    /// an `@`) of the annotated files.
    pub(crate) fn name_references(&self, name: &str) -> Vec<Place> {
        if name.trim().is_empty() {
            return Vec::new();
        }
        self.occurrences(name, |b, start, end| {
            let word = |i: Option<&u8>| i.is_some_and(|c| c.is_ascii_alphanumeric());
            if word(start.checked_sub(1).and_then(|i| b.get(i))) || word(b.get(end)) {
                return false;
            }
            let line_start = b[..start]
                .iter()
                .rposition(|c| *c == b'\n')
                .map_or(0, |i| i + 1);
            let line_end = memchr::memchr(b'\n', &b[end..]).map_or(b.len(), |i| end + i);
            b[line_start..line_end].contains(&b'@')
        })
    }

    /// The places of `needle` in the annotated files that `keep(text, start, end)` accepts.
    fn occurrences(&self, needle: &str, keep: impl Fn(&[u8], usize, usize) -> bool) -> Vec<Place> {
        let mut out = Vec::new();
        for path in self.annotated_files() {
            let Some(text) = self.text(path) else {
                continue;
            };
            let b = text.as_bytes();
            for start in memchr::memmem::find_iter(b, needle.as_bytes()) {
                let end = start + needle.len();
                if keep(b, start, end) {
                    out.push(Place {
                        path: path.to_string(),
                        start,
                        end,
                    });
                }
            }
        }
        out
    }
}

/// Can this byte continue an id (`is_valid_id`'s characters)?
pub(crate) fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

/// The configuration of `root` as a scan loads it: a configuration linked out of the
/// repository is refused unless given explicitly.
fn load_config(root: &Path, explicit: Option<&Path>) -> Result<Config, WorkspaceError> {
    if explicit.is_none() {
        crate::scan::finish::refuse_linked_config(root)?;
    }
    Ok(Config::load(root, explicit)?)
}

/// Walk `root` as a scan does (ignore files, include/exclude, links), calling `visit` on the
/// walker threads for each file a language reads, with its stat; returns the walk's problems.
fn walk(
    root: &Path,
    config: &Config,
    opts: &FileOptions,
    threads: usize,
    visit: &(dyn Fn(Walked) + Sync),
) -> Result<Vec<Diagnostic>, WorkspaceError> {
    let problems: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
    let each = |found: Found| match found {
        Found::Problem(d) => crate::scan::lock(&problems).push(d),
        Found::File(file) => {
            if !crate::scan::is_candidate(&file.rel, opts) {
                return;
            }
            let stat = std::fs::metadata(&file.path)
                .ok()
                .and_then(|meta| FileStat::of(&meta));
            visit(Walked {
                rel: file.rel,
                path: file.path,
                stat,
            });
        }
    };
    crate::source::fs::walk(root, &config.scan, threads, &each)
        .map_err(crate::scan::ScanError::from)?;
    let mut problems = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    diagnostic::normalize(&mut problems);
    Ok(problems)
}

/// Does the outcome add anything to the model or the diagnostics?
fn contributes(o: &FileOutcome) -> bool {
    !o.annotations.is_empty() || !o.diagnostics.is_empty() || !o.suppressions.is_empty()
}

/// Read a file within the size limit and run the pipeline on it; a file too large or
/// unreadable is a diagnostic, as in a scan.
fn read_file(path: &Path, rel: &str, opts: &FileOptions) -> Result<FileOutcome, Box<Diagnostic>> {
    use std::io::Read;
    let io = |e: std::io::Error| {
        Box::new(
            Diagnostic::new(Code::IoError, format!("cannot read `{rel}`: {e}"))
                .in_file(rel)
                .help("check the permissions; the rest of the scan went on"),
        )
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > opts.max_file_size {
        return Err(Box::new(crate::scan::pipeline::too_large(
            rel,
            size,
            opts.max_file_size,
        )));
    }
    let mut bytes = Vec::new();
    file.take(opts.max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > opts.max_file_size {
        return Err(Box::new(crate::scan::pipeline::too_large(
            rel,
            bytes.len() as u64,
            opts.max_file_size,
        )));
    }
    Ok(crate::scan::process_file(rel, &bytes, opts))
}

fn empty_result() -> ScanResult {
    ScanResult {
        model: ThreatModel::default(),
        diagnostics: Vec::new(),
        sources: BTreeMap::new(),
        suppressions: Vec::new(),
        stats: Stats::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, text) in files {
            let path = dir.path().join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn codes(ws: &Workspace, path: &str) -> Vec<&'static str> {
        ws.diagnostics_by_file()
            .get(path)
            .map(|ds| ds.iter().map(|d| d.code.as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_change_in_one_file_breaks_and_fixes_another() {
        let dir = repo(&[
            (
                "controls.py",
                "# @control Input validation (#val): checked\n",
            ),
            (
                "api.py",
                "# @component Orders API (#api)\n# @threat Injection (#inj) [stride: T]\n# @mitigates #api against #inj with #val\n",
            ),
        ]);
        let mut ws = Workspace::open(dir.path(), None).expect("open");
        assert!(
            codes(&ws, "api.py").is_empty(),
            "{:?}",
            ws.diagnostics_by_file()
        );
        assert!(ws.update("controls.py", Some("# nothing here any more\n")));
        assert!(
            !codes(&ws, "api.py").is_empty(),
            "a dangling #val is reported in api.py"
        );
        assert!(ws.update("controls.py", None), "back to the disk");
        assert!(
            codes(&ws, "api.py").is_empty(),
            "{:?}",
            ws.diagnostics_by_file()
        );
        assert_eq!(ws.references("val").len(), 2);
        assert_eq!(
            ws.declaration("val").map(|p| p.path).as_deref(),
            Some("controls.py")
        );
        assert_eq!(ws.name_references("Orders API").len(), 1);
    }

    #[test]
    fn excluded_and_oversized_documents_are_not_parsed() {
        let dir = repo(&[
            (
                "threatmark.toml",
                "[scan]\nexclude = [\"vendor/**\"]\nmax_file_size = 100\n",
            ),
            ("a.py", "# @threat A (#a)\n"),
        ]);
        let mut ws = Workspace::open(dir.path(), None).expect("open");
        assert!(!ws.update("vendor/x.py", Some("# @threat X (#x)\n")));
        assert!(ws.model().threat("x").is_none());
        let big = format!("# @threat Big (#big)\n{}", "x = 1\n".repeat(100));
        assert!(ws.update("a.py", Some(&big)));
        assert!(ws.model().threat("big").is_none());
        assert_eq!(codes(&ws, "a.py"), ["TM022"]);
    }

    #[test]
    fn diagnostics_config_and_ignore_comments_apply() {
        let dir = repo(&[
            ("threatmark.toml", "[diagnostics]\nignore = [\"TM002\"]\n"),
            (
                "a.py",
                "# @component A (#a)\n# @threat T (#t) [likelihood: sometimes]\n",
            ),
        ]);
        let mut ws = Workspace::open(dir.path(), None).expect("open");
        assert!(
            codes(&ws, "a.py").is_empty(),
            "{:?}",
            ws.diagnostics_by_file()
        );
        let text = "# @component A (#a)\n# @mitigates #a against #t with #c\n";
        assert!(ws.update("a.py", Some(text)));
        assert_eq!(codes(&ws, "a.py"), ["TM036", "TM036"]);
        let ignored = "# @component A (#a)\n# threatmark: ignore[TM036] fine\n# @mitigates #a against #t with #c\n";
        assert!(ws.update("a.py", Some(ignored)));
        assert!(
            codes(&ws, "a.py").is_empty(),
            "{:?}",
            ws.diagnostics_by_file()
        );
    }

    #[test]
    fn refresh_reads_what_changed_and_walks_for_new_files() {
        let dir = repo(&[
            (".gitignore", "build/\n"),
            ("a.py", "# @threat A (#a)\n"),
            ("b.py", "# @threat B (#b)\n"),
        ]);
        let mut ws = Workspace::open(dir.path(), None).expect("open");
        let generation = ws.generation();
        assert!(!ws.refresh().expect("refresh"), "nothing changed");
        assert_eq!(ws.generation(), generation, "and nothing was rebuilt");
        std::fs::write(dir.path().join("c.py"), "# @threat C (#c)\n").expect("write");
        std::fs::create_dir_all(dir.path().join("build")).expect("mkdir");
        std::fs::write(dir.path().join("build/d.py"), "# @threat D (#d)\n").expect("write");
        std::fs::remove_file(dir.path().join("b.py")).expect("rm");
        assert!(ws.refresh().expect("refresh"));
        assert_eq!(ws.generation(), generation + 1, "one rebuild");
        assert!(ws.model().threat("c").is_some(), "a new file is read");
        assert!(
            ws.model().threat("d").is_none(),
            ".gitignore applies to new files"
        );
        assert!(
            ws.model().threat("b").is_none(),
            "a deleted file is forgotten"
        );
        // An open document keeps overlaying the disk through a refresh.
        assert!(ws.update("a.py", Some("# @threat Typed (#typed)\n")));
        std::fs::write(
            dir.path().join("a.py"),
            "# @threat Saved (#saved) [stride: T]\n",
        )
        .expect("write");
        ws.refresh().expect("refresh");
        assert!(ws.model().threat("typed").is_some());
        assert!(ws.model().threat("saved").is_none());
        // A configuration that stops loading: TM050, and the model back once it loads.
        std::fs::write(dir.path().join("threatmark.toml"), "[scan]\nnope = 1\n").expect("write");
        assert!(ws.refresh().expect("refresh"));
        assert_eq!(codes(&ws, "threatmark.toml"), ["TM050"]);
        assert!(ws.model().threat("c").is_none());
        std::fs::write(dir.path().join("threatmark.toml"), "").expect("write");
        assert!(ws.refresh().expect("refresh"));
        assert!(codes(&ws, "threatmark.toml").is_empty());
        assert!(ws.model().threat("c").is_some());
        assert!(
            ws.model().threat("typed").is_some(),
            "the open document is kept"
        );
    }
}
