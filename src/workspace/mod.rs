//! The in-memory incremental workspace that the editor servers (`threatmark lsp`, and later
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
//! @component Threatmark:Workspace (#workspace) in #process [type: process]: the in-memory model the editor servers keep, updated one file at a time
//! @threat Editor text floods the server (#editor_flood) [stride: D; likelihood: possible; impact: minor; cwe: 400; actor: #malicious_contributor]:
//! a document of hundreds of megabytes, opened or pasted in an editor (or sent by a hostile client), is parsed on every keystroke
//! @control Open documents obey the size limit (#overlay_size_limit): a document over `max_file_size` is not parsed; it gets TM022 as a file on disk would
//! @mitigates #workspace against #editor_flood with #overlay_size_limit
//! @mitigates #workspace against #huge_files with #size_limit
//! @connects #workspace to #scanner with file text

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::model::{Attributes, Project, Source, ThreatModel};
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
    config: Config,
    opts: FileOptions,
    project: Project,
    /// Outcomes of the files that contribute something (annotations, diagnostics), by path.
    outcomes: BTreeMap<String, Arc<FileOutcome>>,
    /// Every file the walk accepted (for a file that appears later: include/exclude decide).
    known: BTreeSet<String>,
    /// Walk problems and size-limit diagnostics, by path (a file re-read replaces its own).
    problems: BTreeMap<String, Vec<Diagnostic>>,
    /// Problems of no file (an ignore file that does not parse, say).
    general: Vec<Diagnostic>,
    /// Texts of open documents, which win over the disk.
    overlays: BTreeMap<String, Arc<str>>,
    result: ScanResult,
    by_file: BTreeMap<String, Vec<Diagnostic>>,
}

impl Workspace {
    /// Load the configuration of `root` (or `explicit`) and every file, reusing the scan cache.
    pub(crate) fn open(root: &Path, explicit: Option<&Path>) -> Result<Self, WorkspaceError> {
        let config = Config::load(root, explicit)?;
        let opts = FileOptions::from_config(&config);
        let cache = scan_cache::location(root)
            .as_deref()
            .and_then(scan_cache::load)
            .filter(|c| c.config_key == crate::scan::config_key(&config));
        let outcomes: Mutex<Vec<Arc<FileOutcome>>> = Mutex::new(Vec::new());
        let known: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let problems: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
        let visit = |found: Found| match found {
            Found::Problem(d) => crate::scan::lock(&problems).push(d),
            Found::File(file) => {
                if !crate::scan::is_candidate(&file.rel, &opts) {
                    return;
                }
                crate::scan::lock(&known).push(file.rel.clone());
                let stat = std::fs::metadata(&file.path)
                    .ok()
                    .and_then(|meta| FileStat::of(&meta));
                match (cache.as_ref().and_then(|c| c.lookup(&file.rel)), stat) {
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
            }
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        crate::source::fs::walk(root, &config.scan, threads, &visit)
            .map_err(crate::scan::ScanError::from)?;
        let mut ws = Workspace {
            root: root.to_path_buf(),
            project: crate::scan::project_for(root, &config),
            opts,
            outcomes: BTreeMap::new(),
            known: known
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .into_iter()
                .collect(),
            problems: BTreeMap::new(),
            general: Vec::new(),
            overlays: BTreeMap::new(),
            result: empty_result(),
            by_file: BTreeMap::new(),
            config,
        };
        for o in outcomes.into_inner().unwrap_or_else(|e| e.into_inner()) {
            ws.outcomes.insert(o.path.clone(), o);
        }
        for d in problems.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match &d.location {
                Some(l) => ws.problems.entry(l.path.clone()).or_default().push(d),
                None => ws.general.push(d),
            }
        }
        ws.rebuild();
        Ok(ws)
    }

    // The root and configuration are for the MCP server (issue 19), which answers with paths.
    #[allow(dead_code)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    #[allow(dead_code)]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Is `rel` a file of this workspace: seen by the walk, or (a file that appeared since) a
    /// candidate that include/exclude do not leave out?
    pub(crate) fn covers(&self, rel: &str) -> bool {
        if self.known.contains(rel) {
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
        self.known.insert(rel.to_string());
        self.problems.remove(rel);
        let outcome = match text {
            Some(text) => {
                self.overlays.insert(rel.to_string(), Arc::from(text));
                let size = text.len() as u64;
                if size > self.opts.max_file_size {
                    let d = crate::scan::pipeline::too_large(rel, size, self.opts.max_file_size);
                    self.problems.insert(rel.to_string(), vec![d]);
                    None
                } else {
                    Some(crate::scan::process_file(rel, text.as_bytes(), &self.opts))
                }
            }
            None => {
                self.overlays.remove(rel);
                let path = self.root.join(rel);
                if path.is_file() {
                    match read_file(&path, rel, &self.opts) {
                        Ok(o) => Some(o),
                        Err(d) => {
                            self.problems.insert(rel.to_string(), vec![*d]);
                            None
                        }
                    }
                } else {
                    self.known.remove(rel);
                    None
                }
            }
        };
        match outcome.filter(contributes) {
            Some(o) => self.outcomes.insert(rel.to_string(), Arc::new(o)),
            None => self.outcomes.remove(rel),
        };
        self.rebuild();
        true
    }

    /// Assemble the model from the kept outcomes, analyse it, and select the diagnostics.
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
            .extend(self.problems.values().flatten().cloned());
        result.diagnostics.extend(self.general.iter().cloned());
        diagnostic::normalize(&mut result.diagnostics);
        let shown = self.select(&result);
        let mut by_file: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
        for d in shown {
            let path = d
                .location
                .as_ref()
                .map(|l| l.path.clone())
                .unwrap_or_default();
            by_file.entry(path).or_default().push(d);
        }
        // The old model of a huge repository takes milliseconds to free: not before publishing
        // (where no thread can be started, it is freed here).
        let old = std::mem::replace(&mut self.result, result);
        let _ = std::thread::Builder::new().spawn(move || drop(old));
        self.by_file = by_file;
    }

    /// `[diagnostics]` rules and `threatmark: ignore` comments, as `scan` applies them (a
    /// comment for an analysis finding counts as used).
    fn select(&self, result: &ScanResult) -> Vec<Diagnostic> {
        let Ok(rules) = self.config.diagnostics.rules() else {
            return result.diagnostics.clone();
        };
        if rules.is_default() && result.suppressions.is_empty() {
            return result.diagnostics.clone();
        }
        let n = result.diagnostics.len();
        let mut all = result.diagnostics.clone();
        if !result.suppressions.is_empty() {
            let today = Some(crate::date::Date::today());
            let findings = crate::analysis::analyze(&result.model, &self.config.risk, today);
            all.extend(findings.findings.into_iter().map(|f| {
                let mut d = Diagnostic::new(f.code, f.message);
                if let Some(l) = f.locations.into_iter().next() {
                    d = d.at(l);
                }
                d
            }));
        }
        let applied = crate::suppress::apply(&rules, &result.suppressions, &all);
        let mut shown: Vec<Diagnostic> = all
            .into_iter()
            .take(n)
            .enumerate()
            .filter(|(i, _)| applied.shown(*i))
            .map(|(_, d)| d)
            .collect();
        shown.extend(applied.unused);
        diagnostic::normalize(&mut shown);
        shown
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
}
