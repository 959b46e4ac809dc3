//! The per-file pipeline and the model assembly: bytes in, annotations and diagnostics out, then
//! one model from the sorted outcomes. Pure (no filesystem, no git), so the work-tree scan and the
//! revision scan share it and it can be tested on bytes alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::annotation::{self, Locator};
use crate::comments::{self, Options};
use crate::config::Config;
use crate::diagnostic::{self, Code, Diagnostic};
use crate::lang::{self, Language};
use crate::model::{self, Project, ThreatModel};
use crate::suppress;
use crate::text::{self, Decoding, LineIndex};

use super::Stats;

/// Per-file limits and overrides, from the configuration.
#[derive(Debug, Clone)]
pub struct FileOptions {
    pub max_file_size: u64,
    pub extract: Options,
    pub extensions: BTreeMap<String, String>,
}

impl FileOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_file_size: config.scan.max_file_size,
            extract: Options {
                parse_timeout: (config.scan.parse_timeout_ms > 0)
                    .then(|| Duration::from_millis(config.scan.parse_timeout_ms)),
                ..Options::default()
            },
            extensions: config.languages.extensions.clone(),
        }
    }

    /// What distinguishes two configurations for parsing purposes (FNV-1a of the extension map
    /// and the build identity): cached outcomes are only reused under the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        // Each piece ends with 0xff, a byte UTF-8 never contains, so pieces cannot run together.
        let mut bytes = Vec::new();
        let pieces = self
            .extensions
            .iter()
            .flat_map(|(ext, lang)| [ext.as_str(), lang.as_str()]);
        for piece in std::iter::once(crate::BUILD_ID).chain(pieces) {
            bytes.extend_from_slice(piece.as_bytes());
            bytes.push(0xff);
        }
        crate::text::fnv1a(&bytes)
    }

    /// Is the file read whole as annotation text? `.txt` files are, unless `[languages]`
    /// maps `txt` to a language, and so is any extension mapped to `text`. (A file name a
    /// language claims, such as `CMakeLists.txt`, is that language's.)
    pub fn design_text(&self, file_name: &str) -> bool {
        file_name
            .rsplit_once('.')
            .filter(|(stem, _)| !stem.is_empty())
            .is_some_and(|(_, ext)| {
                let ext = ext.to_ascii_lowercase();
                match self.extensions.get(&ext) {
                    Some(lang) => lang == crate::lang::design_text::NAME,
                    None => ext == crate::lang::design_text::EXTENSION,
                }
            })
    }

    /// Language of a file from its name alone; `None` when its first bytes must decide.
    pub fn language_by_name(&self, rel: &str) -> Option<&'static Language> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        lang::detect(name, b"", |ext| {
            self.extensions.get(ext).map(String::as_str)
        })
    }
}

impl Default for FileOptions {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

pub use crate::store::record::FileOutcome;

/// Could the file at `rel` be a source file? Files with an unknown extension are not even read.
pub fn is_candidate(rel: &str, opts: &FileOptions) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if opts.language_by_name(rel).is_some()
        || name.ends_with(".json")
        || opts.design_text(name)
        || is_gal_file(name)
    {
        return true;
    }
    // No extension: a `#!` line may still name the language.
    !name.contains('.') || name.starts_with('.') && !name[1..].contains('.')
}

/// GuardLink's `.gal` sidecars: annotation lines with no comment markers.
fn is_gal_file(name: &str) -> bool {
    name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".gal"))
}

/// The per-file pipeline. Pure: `rel` is only used in locations.
pub fn process_file(rel: &str, bytes: &[u8], opts: &FileOptions) -> FileOutcome {
    let mut out = FileOutcome {
        path: rel.to_string(),
        ..FileOutcome::default()
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lang = lang::detect(name, bytes, |ext| {
        opts.extensions.get(ext).map(String::as_str)
    });
    if text::looks_binary(bytes) {
        out.binary = true;
        // Reported when its own extension names a language, or it holds annotation-like
        // text; not for a language only a mapping gave it (`.pyc` under a Threatspec
        // `mime: text/x-python` path is compiled Python, which Threatspec skips too).
        let builtin = lang::detect(name, bytes, |_| None).is_some();
        if builtin || crate::prefilter::may_contain_annotations(bytes) {
            out.diagnostics.push(
                Diagnostic::new(
                    Code::BinaryFile,
                    format!("`{rel}` looks binary (it contains NUL bytes) and was not scanned"),
                )
                .in_file(rel)
                .help("if it is text, save it as UTF-8 or UTF-16 with a byte order mark"),
            );
        }
        return out;
    }
    let Some(lang) = lang else {
        if opts.design_text(name) {
            read_whole(bytes, Whole::DesignText, &mut out);
            return out;
        }
        // GuardLink's `.gal` sidecars are annotation lines with no comment markers.
        if is_gal_file(name) {
            read_whole(bytes, Whole::Gal, &mut out);
            return out;
        }
        // Threatspec reads `x-threatspec` keys in JSON documents (OpenAPI) too.
        if name.ends_with(".json") && memchr::memmem::find(bytes, b"x-threatspec").is_some() {
            let decoded = text::decode(bytes);
            let text = decoded.text.as_ref();
            let index = LineIndex::new(text);
            let loc = Locator::new(rel, text, &index);
            out.matched = true;
            annotation::xthreatspec::extract(&loc, &mut out.annotations, &mut out.diagnostics);
            if !out.annotations.is_empty() {
                out.text = Some(Arc::from(text));
            }
        }
        return out;
    };
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    // An `x-threatspec` value may spell its tag with an escape (`"\u0040threat ..."`), which
    // the prefilter cannot see.
    let x_threatspec =
        lang.name == "yaml" && memchr::memmem::find(bytes, b"x-threatspec").is_some();
    if !utf16 && !x_threatspec && !crate::prefilter::may_contain_annotations(bytes) {
        return out;
    }
    let decoded = text::decode(bytes);
    if utf16 && !crate::prefilter::may_contain_annotations(decoded.text.as_bytes()) {
        return out;
    }
    out.matched = true;
    let text = decoded.text.as_ref();
    if decoded.decoding == Decoding::Lossy {
        out.diagnostics.push(invalid_encoding(rel));
    }
    let index = LineIndex::new(text);
    let loc = Locator::new(rel, text, &index);
    let extracted = comments::extract(lang, &loc, &opts.extract);
    out.diagnostics.extend(extracted.diagnostics);
    out.timed_out = extracted.timed_out;
    for comment in &extracted.comments {
        parse_lines(comment, &loc, &mut out);
    }
    if lang.name == "yaml" {
        annotation::xthreatspec::extract(&loc, &mut out.annotations, &mut out.diagnostics);
    }
    // Kept for carets: per-file diagnostics, and model diagnostics that point at annotations.
    if keeps_text(&out) {
        out.text = Some(Arc::from(text));
    }
    out
}

/// The decoded text is kept for carets: of per-file diagnostics, of model diagnostics that point
/// at annotations, and of unused suppressions.
fn keeps_text(out: &FileOutcome) -> bool {
    !out.annotations.is_empty()
        || !out.suppressions.is_empty()
        || out.diagnostics.iter().any(|d| d.span.is_some())
}

/// One comment's annotations and `threatmark: ignore` directives (cut off before the annotation
/// parser reads the lines).
fn parse_lines(lines: &[annotation::CommentLine<'_>], loc: &Locator<'_>, out: &mut FileOutcome) {
    let stripped = suppress::strip_directives(lines);
    annotation::parse_comment(&stripped, loc, &mut out.annotations, &mut out.diagnostics);
    suppress::parse_comment(lines, loc, &mut out.suppressions, &mut out.diagnostics);
}

/// TM021: the file was decoded with invalid bytes replaced.
fn invalid_encoding(rel: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidEncoding,
        format!("`{rel}` is not valid UTF-8; invalid bytes were replaced"),
    )
    .in_file(rel)
    .help("annotations were still read; save the file as UTF-8 to silence this")
}

/// A file read whole as annotation text, without comment markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    /// Threatspec's design text (`.txt`): the whole file is one comment. Every `.txt` of any
    /// project is one, so the prefilter first skips those that hold no annotation.
    DesignText,
    /// A GuardLink `.gal` sidecar: GAL lines, read whatever they hold.
    Gal,
}

/// The reader of files read whole: one, so that a design text file and a `.gal` sidecar are
/// decoded alike (a byte order mark, TM021 for invalid UTF-8) and keep their text for carets.
fn read_whole(bytes: &[u8], whole: Whole, out: &mut FileOutcome) {
    let filtered = whole == Whole::DesignText;
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    if filtered && !utf16 && !crate::prefilter::may_contain_annotations(bytes) {
        return;
    }
    let decoded = text::decode(bytes);
    let text = decoded.text.as_ref();
    if filtered && !crate::prefilter::may_contain_annotations(text.as_bytes()) {
        return;
    }
    out.matched = true;
    let rel = out.path.clone();
    if decoded.decoding == Decoding::Lossy {
        out.diagnostics.push(invalid_encoding(&rel));
    }
    let index = LineIndex::new(text);
    let loc = Locator::new(&rel, text, &index);
    match whole {
        Whole::DesignText => {
            let lines = crate::lang::design_text::lines(text, &index);
            parse_lines(&lines, &loc, out);
        }
        Whole::Gal => {
            let lines = annotation::whole_lines(&loc);
            parse_lines(&lines, &loc, out);
        }
    }
    if keeps_text(out) {
        out.text = Some(Arc::from(text));
    }
}

/// Everything a scan produced.
#[derive(Debug)]
pub struct ScanResult {
    pub model: ThreatModel,
    pub diagnostics: Vec<Diagnostic>,
    /// Decoded text of files that have diagnostics with spans, for rendering carets.
    pub sources: BTreeMap<String, Arc<str>>,
    /// `threatmark: ignore[...]` comments, in path order (the commands apply them).
    pub suppressions: Vec<crate::suppress::Suppression>,
    pub stats: Stats,
}

/// Sort per-file outcomes by path, build the model and embed its date-free analysis. Pure.
pub fn assemble(
    project: Project,
    outcomes: &[&FileOutcome],
    matrix: &crate::analysis::RiskMatrix,
    limits: model::Limits,
    stats: &mut Stats,
) -> ScanResult {
    let mut outcomes = outcomes.to_vec();
    outcomes.sort_by(|a, b| a.path.cmp(&b.path));
    let mut diagnostics = Vec::new();
    let mut sources = BTreeMap::new();
    let mut suppressions = Vec::new();
    for o in &outcomes {
        stats.files_matched += usize::from(o.matched);
        stats.binary_skipped += usize::from(o.binary);
        stats.files_annotated += usize::from(!o.annotations.is_empty());
        stats.annotations += o.annotations.len();
        diagnostics.extend_from_slice(&o.diagnostics);
        suppressions.extend_from_slice(&o.suppressions);
        if let Some(text) = &o.text {
            sources.insert(o.path.clone(), Arc::clone(text));
        }
    }
    crate::timings::mark("outcomes collected");
    let annotations = outcomes.iter().flat_map(|o| o.annotations.iter());
    let (mut model, mut build_diags) = model::build_limited(project, annotations, limits);
    crate::timings::mark("model built");
    model.analysis = Some(crate::analysis::analyze(&model, matrix, None));
    crate::timings::mark("model analysed");
    diagnostics.append(&mut build_diags);
    diagnostic::normalize(&mut diagnostics);
    ScanResult {
        model,
        diagnostics,
        sources,
        suppressions,
        stats: stats.clone(),
    }
}
pub(crate) fn too_large(rel: &str, size: u64, limit: u64) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        format!(
            "`{rel}` is {} ({size} bytes), over the {} limit; it was skipped",
            human_size(size),
            human_size(limit)
        ),
    )
    .in_file(rel)
    .help("raise `max_file_size` in threatmark.toml, or exclude the file")
}
/// A size as people read it: `512 bytes`, `4 KiB`, `12.3 MiB` (one decimal, none when whole).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} {}", if bytes == 1 { "byte" } else { "bytes" });
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

pub(crate) fn project_named(config: &Config, default_name: &str) -> Project {
    Project {
        name: config
            .project
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        description: config.project.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_gives_sizes_in_human_units() {
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(4 * 1024 * 1024), "4 MiB");
        let d = too_large("big.js", 12_897_485, 4 * 1024 * 1024);
        assert_eq!(
            d.message,
            "`big.js` is 12.3 MiB (12897485 bytes), over the 4 MiB limit; it was skipped"
        );
    }

    /// An outcome whose parse ran out of time depends on the machine's load: it is marked, so
    /// that no cache keeps it (store/snapshot.rs shows a saved record never carries the mark).
    #[test]
    fn an_outcome_that_ran_out_of_time_is_marked() {
        let mut text = String::from("# @threat Slow (#slow)\n");
        for i in 0..20_000 {
            text.push_str(&format!("x{i} = [({i}, {{'k': [{i}]}})]\n"));
        }
        let opts = FileOptions {
            extract: Options {
                parse_timeout: Some(Duration::from_nanos(1)),
                // Python has an exact lexer, which needs no budget: tree-sitter alone here.
                exact_lexer: false,
            },
            ..Default::default()
        };
        let slow = process_file("slow.py", text.as_bytes(), &opts);
        assert!(slow.timed_out, "{:?}", slow.diagnostics);
        assert_eq!(slow.annotations.len(), 1, "found lexically all the same");
        assert!(!process_file("a.py", b"# @threat A (#a)\n", &FileOptions::default()).timed_out);
    }
}
