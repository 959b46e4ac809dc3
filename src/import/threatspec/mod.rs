//! Threatspec 0.5.0 projects, unchanged: their configuration (`threatspec.yaml`) and the
//! output they committed (`threatmodel/threatmodel.json`, `threats.json`, `controls.json`,
//! `components.json`). docs/migrating-from-threatspec.md is the user's side of this.
//!
//! This file holds the configuration side (`threatspec.yaml` read and turned into ours); the
//! recorded output is converted by [`convert`] (convert.rs: pure, the JSON documents in, our
//! model out) and read by [`load_dir`] (load.rs: the IO shell that also turns Threatspec's
//! absolute file names and comment-relative line numbers into repository paths and real lines, by reading the annotated files when they are there).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component as PathPart, Path, PathBuf};

use serde::{Deserialize, Serialize};

mod convert;
mod load;

use crate::config::Config;
use crate::model::{self, Project, ThreatModel};
use crate::source::filter::is_plain_relative;
pub use convert::{Imported, Locate, Outputs, convert, keep_paths, our_id};
pub use load::{load_dir, load_dir_with, output_dir};

/// The configuration file Threatspec reads.
pub const CONFIG_FILE: &str = "threatspec.yaml";
/// The folder Threatspec writes its output to.
pub const OUTPUT_DIR: &str = "threatmodel";

// ---------------------------------------------------------------------------------------------
// threatspec.yaml

/// `threatspec.yaml` (data/config_schema.json of Threatspec 0.5.0; extra keys are allowed
/// everywhere, as there).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ThreatspecConfig {
    #[serde(default)]
    pub project: ThreatspecProject,
    #[serde(default)]
    pub imports: Vec<PathEntry>,
    #[serde(default)]
    pub paths: Vec<PathEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ThreatspecProject {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `'src'` or `{path: 'src', ignore: [...], mime: '...'}`. Deserialized by hand rather than
/// as an untagged enum, which buffers every entry before trying each variant: a
/// `threatspec.yaml` that lists 4,000 files took twice as long to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PathEntry {
    Plain(String),
    Detailed {
        path: String,
        ignore: Option<OneOrMany>,
        mime: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for PathEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = PathEntry;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a path, or a map with `path` and optional `ignore` and `mime`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<PathEntry, E> {
                Ok(PathEntry::Plain(v.to_string()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<PathEntry, E> {
                Ok(PathEntry::Plain(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathEntry, A::Error> {
                let (mut path, mut ignore, mut mime) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "path" if path.is_some() => return Err(de::Error::duplicate_field("path")),
                        "path" => path = Some(map.next_value::<String>()?),
                        "ignore" if ignore.is_some() => {
                            return Err(de::Error::duplicate_field("ignore"));
                        }
                        "ignore" => ignore = Some(map.next_value::<Option<OneOrMany>>()?),
                        "mime" if mime.is_some() => return Err(de::Error::duplicate_field("mime")),
                        "mime" => mime = Some(map.next_value::<Option<String>>()?),
                        // Extra keys are allowed, as in Threatspec's schema.
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(PathEntry::Detailed {
                    path: path.ok_or_else(|| de::Error::missing_field("path"))?,
                    ignore: ignore.flatten(),
                    mime: mime.flatten(),
                })
            }
        }
        d.deserialize_any(Entry)
    }
}

impl ThreatspecConfig {
    /// A `paths` entry is an absolute path: resolving it follows links that no witness covers.
    pub fn has_absolute_paths(&self) -> bool {
        self.paths
            .iter()
            .any(|e| Path::new(e.path().trim()).is_absolute())
    }
}

impl PathEntry {
    pub fn path(&self) -> &str {
        match self {
            PathEntry::Plain(p) | PathEntry::Detailed { path: p, .. } => p,
        }
    }

    pub fn ignore(&self) -> Vec<&str> {
        match self {
            PathEntry::Detailed {
                ignore: Some(OneOrMany::One(s)),
                ..
            } => vec![s.as_str()],
            PathEntry::Detailed {
                ignore: Some(OneOrMany::Many(v)),
                ..
            } => v.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    pub fn mime(&self) -> Option<&str> {
        match self {
            PathEntry::Detailed { mime: Some(m), .. } => Some(m.as_str()),
            _ => None,
        }
    }
}

/// Parse `threatspec.yaml`. The plain layout that tools and people write (block maps and
/// lists, quoted or simple plain scalars, whole-line comments) is read line by line; anything
/// else, and every error, by the YAML parser. A file that forces a `mime` per file lists
/// thousands of entries: the line reader takes a fraction of the YAML parser's time on them.
pub fn parse_config(text: &str) -> Result<ThreatspecConfig, String> {
    if let Some(config) = plain::parse(text) {
        return Ok(config);
    }
    serde_saphyr::from_str::<ThreatspecConfig>(text).map_err(|e| e.to_string())
}

/// The line reader of [`parse_config`]: `None` for anything outside its subset, never a
/// different reading than the YAML parser's (a test compares the two).
mod plain {
    use super::{PathEntry, ThreatspecConfig};

    /// One meaningful line: its indentation and its text (without the indentation).
    struct Line<'a> {
        indent: usize,
        text: &'a str,
    }

    /// The bytes that make a document fall outside the subset: one table lookup a byte, as a
    /// `threatspec.yaml` that lists every file is a few hundred kilobytes.
    static OUTSIDE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 0x20 {
            table[b] = b != b'\n' as usize;
            b += 1;
        }
        // DEL is not printable in YAML either: the parser refuses it.
        table[0x7f] = true;
        let special = b"\t\r{[&*!|>%\"\\`@";
        let mut i = 0;
        while i < special.len() {
            table[special[i] as usize] = true;
            i += 1;
        }
        table
    };

    pub(super) fn parse(text: &str) -> Option<ThreatspecConfig> {
        // Characters that start YAML syntax beyond the subset anywhere on a line (flow
        // collections, anchors, aliases, tags, block scalars, directives, escapes, tabs), and
        // line breaks, marks and characters YAML does not print (only in non-ASCII text).
        if text.bytes().any(|b| OUTSIDE[usize::from(b)])
            || (!text.is_ascii()
                && text.chars().any(|c| {
                    matches!(
                        c,
                        '\u{80}'
                            ..='\u{9f}'
                                | '\u{feff}'
                                | '\u{2028}'
                                | '\u{2029}'
                                | '\u{fffe}'
                                | '\u{ffff}'
                    )
                }))
        {
            return None;
        }
        let mut lines = Vec::new();
        // The lines as `split('\n')` gives them (the last one too, even if empty), found by a
        // byte search: its per-line overhead counts on a file of thousands of short lines.
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
        for end in ends {
            let raw = &text[start..end];
            start = end + 1;
            let body = raw.trim_start_matches(' ');
            if body.trim().is_empty() || body.starts_with('#') {
                continue;
            }
            if body.starts_with("---") || body.starts_with("...") {
                return None;
            }
            lines.push(Line {
                indent: raw.len() - body.len(),
                text: body.trim_end_matches(' '),
            });
        }
        if lines.is_empty() {
            return None;
        }
        let mut config = ThreatspecConfig::default();
        let (mut project, mut imports, mut paths) = (false, false, false);
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            if line.indent != 0 {
                return None;
            }
            i += 1;
            match line.text {
                "project:" if !project => {
                    project = true;
                    let (mut name, mut description) = (false, false);
                    while i < lines.len() && lines[i].indent == 2 {
                        let (key, value) = key_value(lines[i].text)?;
                        let value = scalar(value?)?;
                        match key {
                            "name" if !name => (name, config.project.name) = (true, value),
                            "description" if !description => {
                                (description, config.project.description) = (true, value);
                            }
                            _ => return None,
                        }
                        i += 1;
                    }
                    if !name && !description {
                        return None;
                    }
                }
                "imports:" if !imports => {
                    imports = true;
                    config.imports = entries(&lines, &mut i)?;
                }
                "paths:" if !paths => {
                    paths = true;
                    config.paths = entries(&lines, &mut i)?;
                }
                _ => return None,
            }
        }
        Some(config)
    }

    /// The items of a block list under a top-level key: at indentation 0 or 2, each a path
    /// (`- 'src'`) or a map of `path`, `mime` and `ignore` (one value) on lines of their own.
    fn entries(lines: &[Line<'_>], i: &mut usize) -> Option<Vec<PathEntry>> {
        let first = lines.get(*i)?;
        let dash = first.indent;
        if dash > 2 {
            return None;
        }
        let mut out = Vec::new();
        while let Some(line) = lines.get(*i) {
            if line.indent == 0 && dash == 0 && !line.text.starts_with("- ") || line.indent < dash {
                break;
            }
            let item = line
                .text
                .strip_prefix("- ")
                .filter(|_| line.indent == dash)?;
            *i += 1;
            let Some((key, value)) = key_value(item) else {
                out.push(PathEntry::Plain(scalar(item)?));
                continue;
            };
            let (mut path, mut ignore, mut mime) = (None, None, None);
            let mut set = |key: &str, value: String| -> Option<()> {
                let slot = match key {
                    "path" => &mut path,
                    "mime" => &mut mime,
                    "ignore" => &mut ignore,
                    _ => return None,
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(value);
                Some(())
            };
            set(key, scalar(value?)?)?;
            while let Some(more) = lines.get(*i).filter(|l| l.indent == dash + 2) {
                let (key, value) = key_value(more.text)?;
                set(key, scalar(value?)?)?;
                *i += 1;
            }
            out.push(PathEntry::Detailed {
                path: path?,
                ignore: ignore.map(super::OneOrMany::One),
                mime,
            });
        }
        (!out.is_empty()).then_some(out)
    }

    /// `key: value` (the value `None` when the line ends after the colon), for a simple key.
    fn key_value(text: &str) -> Option<(&str, Option<&str>)> {
        let colon = memchr::memchr(b':', text.as_bytes())?;
        let (key, rest) = (&text[..colon], &text[colon + 1..]);
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        match rest.strip_prefix(' ') {
            Some(value) => Some((key, Some(value.trim_start_matches(' ')))),
            None if rest.is_empty() => Some((key, None)),
            None => None,
        }
    }

    /// A single-quoted scalar (optionally followed by a comment), or a plain one made of
    /// letters, digits and `_./-` (and inner spaces) that YAML reads as a string.
    fn scalar(text: &str) -> Option<String> {
        if let Some(rest) = text.strip_prefix('\'') {
            // Copied a run at a time, between quotes (`''` is one quote).
            let mut out = String::with_capacity(rest.len());
            let mut from = 0;
            loop {
                let at = from + memchr::memchr(b'\'', &rest.as_bytes()[from..])?;
                out.push_str(&rest[from..at]);
                let after = &rest[at + 1..];
                if after.starts_with('\'') {
                    out.push('\'');
                    from = at + 2;
                    continue;
                }
                let comment = after.trim_start_matches(' ');
                return (after.is_empty() || (after.starts_with(' ') && comment.starts_with('#')))
                    .then_some(out);
            }
        }
        let plain = text
            .split(" #")
            .next()
            .unwrap_or(text)
            .trim_end_matches(' ');
        let simple = !plain.is_empty()
            && plain.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-' | b' ')
            })
            && plain
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'.' || b == b'/' || b == b'_')
            && !plain.contains("  ")
            && !matches!(
                plain.to_ascii_lowercase().as_str(),
                "true"
                    | "false"
                    | "yes"
                    | "no"
                    | "on"
                    | "off"
                    | "y"
                    | "n"
                    | "null"
                    | ".nan"
                    | ".inf"
                    | "nan"
                    | "inf"
            )
            && plain != "."
            && plain.parse::<f64>().is_err()
            && !plain.starts_with("..")
            && !plain.contains('#');
        simple.then(|| plain.to_string())
    }
}

/// Our language for a MIME type Threatspec's comment parser knows (comment_parser 1.2.4's
/// `MIME_MAP`). `text/plain` and everything else map to nothing.
pub fn language_for_mime(mime: &str) -> Option<&'static str> {
    // Lower-cased in place (one `mime` a path, thousands of paths): no type is longer.
    let mime = mime.trim().as_bytes();
    let mut lower = [0u8; 24];
    let lower = lower.get_mut(..mime.len())?;
    lower.copy_from_slice(mime);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"application/javascript" | b"text/x-javascript" => "javascript",
        b"text/x-c" => "c",
        b"text/x-c++" => "cpp",
        b"text/x-java" | b"text/x-java-source" => "java",
        b"text/x-go" => "go",
        b"text/x-python" | b"text/x-script.python" => "python",
        b"text/x-ruby" => "ruby",
        b"text/x-shellscript" => "bash",
        b"text/html" | b"text/xml" => "html",
        _ => return None,
    })
}

/// A path of `threatspec.yaml`, relative to the folder of the file, as a path relative to
/// `root` with `/` separators: `""` for the root itself, `None` when it leaves the root.
pub fn relative_to_root(entry: &str, root: &Path) -> Option<String> {
    let entry = entry.trim();
    // Most entries are already plain relative paths (`src/app.py`): nothing to normalize. (No
    // empty, `.` or `..` part also rules out a leading or trailing `/`.)
    if is_plain_relative(entry.as_bytes()) {
        return Some(entry.to_string());
    }
    let p = Path::new(entry);
    let rel: PathBuf = if p.is_absolute() {
        let abs_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        abs.strip_prefix(&abs_root).ok()?.to_path_buf()
    } else {
        p.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for part in rel.components() {
        match part {
            PathPart::CurDir => {}
            PathPart::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            PathPart::ParentDir => {
                parts.pop()?;
            }
            PathPart::RootDir | PathPart::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// [`relative_to_root`] of an entry the caller owns: a plain relative path (most entries) is
/// the result itself, not a copy of it.
fn relative_to_root_owned(entry: String, root: &Path) -> Option<String> {
    if entry.trim().len() == entry.len() && is_plain_relative(entry.as_bytes()) {
        return Some(entry);
    }
    relative_to_root(&entry, root)
}

/// A Threatspec `ignore` string (a substring of the absolute path) under the configured path
/// `under` as a gitignore glob. Scoped to the path entry and to the repository: a substring of
/// the folders above the repository matches nothing here.
pub fn ignore_glob(under: &str, ignore: &str) -> Option<String> {
    let core = ignore.trim().trim_matches('/');
    if core.is_empty() {
        return None;
    }
    let start = if ignore.trim().starts_with('/') {
        ""
    } else {
        "*"
    };
    let end = if ignore.trim().ends_with('/') {
        ""
    } else {
        "*"
    };
    let prefix = if under.is_empty() {
        "**".to_string()
    } else {
        format!("{under}/**")
    };
    Some(format!("{prefix}/{start}{core}{end}"))
}

/// The configuration a Threatspec project means, for a scan rooted at `root` (the folder of
/// `threatspec.yaml`):
///
/// - `project` names the model;
/// - `paths` become `include` globs (`./` means everything); paths outside the repository are
///   left out (merge the other repository's model instead);
/// - `ignore` strings become `exclude` globs under their path;
/// - a `mime` names a language: the extensions under that path that threatmark does not know
///   are mapped to it (known extensions keep their own, more precise, parser);
/// - `.txt` files are design text, read whole as by Threatspec's TextFileParser (as in any
///   project), unless a `mime` maps them to a language;
/// - `imports` are not scan settings: see [`import_dirs`].
pub fn config_from(ts: ThreatspecConfig, root: &Path) -> Config {
    derive_config(ts, root).config()
}

/// What a `threatspec.yaml` sets, with what was seen on disk to set it: the `mime`
/// extensions depend on the files under the mime paths, so the folders that were read are kept
/// as witnesses. While none of them changed, the same `threatspec.yaml` means the same settings
/// (the scan cache keeps them, so that a large one is neither parsed nor resolved again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    pub name: Option<String>,
    pub description: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub extensions: BTreeMap<String, String>,
    /// Each folder read (or path looked at) relative to the root, and the `threatspec.yaml`
    /// itself (absolute), with what each looked like.
    pub witnesses: Vec<(String, Option<Witness>)>,
}

/// A folder's (or path's) inode and times: a folder's change as soon as an entry is added,
/// removed or renamed in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Witness {
    pub ino: u64,
    pub kind: u8,
    pub mtime: i64,
    pub ctime: i64,
}

impl Witness {
    /// What `path` looks like now (without following a link); `None` when it is not there.
    pub fn of(path: &Path) -> Option<Witness> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        let kind = match meta.file_type() {
            t if t.is_dir() => 1,
            t if t.is_file() => 2,
            t if t.is_symlink() => 3,
            _ => 4,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (mtime, ctime) = crate::source::at::times_ns(&meta);
            Some(Witness {
                ino: meta.ino(),
                kind,
                mtime,
                ctime,
            })
        }
        #[cfg(not(unix))]
        {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            Some(Witness {
                ino: 0,
                kind,
                mtime,
                ctime: mtime,
            })
        }
    }
}

impl Derived {
    /// The configuration: the defaults with what `threatspec.yaml` set.
    pub fn config(&self) -> Config {
        self.clone().into_config()
    }

    /// [`Derived::config`], without copying the (possibly thousands of) paths.
    pub fn into_config(self) -> Config {
        let mut config = Config::default();
        config.project.name = self.name;
        config.project.description = self.description;
        config.scan.include = self.include;
        config.scan.exclude = self.exclude;
        config.languages.extensions = self.extensions;
        // Threatspec creates whatever a bare `#id` names, near-typos included.
        config.model.strict_ids = false;
        config
    }

    /// Every witness under `root` still looks as it did.
    pub fn still_holds(&self, root: &Path) -> bool {
        self.witnesses
            .iter()
            .all(|(rel, seen)| Witness::of(&root.join(rel)) == *seen)
    }
}

/// [`config_from`], with the witnesses of what it read on disk.
pub fn derive_config(ts: ThreatspecConfig, root: &Path) -> Derived {
    derive_config_deferring(ts, root, false).0
}

/// `mime` paths named like a file of a language of ours (`a.py`), whose folder nothing else
/// needed listing: what they set depends only on whether one is a folder (a file with a known
/// name maps nothing; a link or a missing path maps nothing either; a folder maps the unknown
/// extensions under it). They are taken for non-folders, and the walk that follows, which lists
/// their folders anyway, tells ([`Unchecked::holds`]); the folders are not listed twice.
#[derive(Debug)]
pub(crate) struct Unchecked {
    /// The paths, relative to the root, and what the walk saw of them.
    watch: std::sync::Arc<crate::source::fs::Watch>,
}

impl Unchecked {
    /// What the walk is to record.
    pub(crate) fn watch(&self) -> std::sync::Arc<crate::source::fs::Watch> {
        std::sync::Arc::clone(&self.watch)
    }

    /// After the walk: `true` when none of the paths is a folder, so that the settings derived
    /// without them are the ones a listing of their folders beforehand gives, `witnesses` with
    /// them. A path the walk did not list (its folder left out, unreadable, a link; the path not
    /// there) is looked at as [`derive_config`] looks at it: in a listing of its folder, else by
    /// itself, witnessed. `false`: derive the settings again with [`derive_config`].
    pub(crate) fn holds(
        &self,
        root: &Path,
        witnesses: &mut Vec<(String, Option<Witness>)>,
    ) -> bool {
        use std::collections::HashSet;
        let mut unseen: BTreeMap<&str, HashSet<&str, Fast>> = BTreeMap::new();
        for (rel, seen) in self.watch.seen() {
            match seen {
                Some(true) => return false,
                Some(false) => {}
                None => {
                    let (parent, name) = parent_and_name(rel);
                    unseen.entry(parent).or_default().insert(name);
                }
            }
        }
        for (parent, names) in &unseen {
            let listed = list_types(&root.join(parent), names);
            for name in names {
                let rel = if parent.is_empty() {
                    name.to_string()
                } else {
                    format!("{parent}/{name}")
                };
                let kind = listed
                    .as_ref()
                    .and_then(|l| l.get(name).copied())
                    .or_else(|| {
                        witnesses.push((rel.clone(), Witness::of(&root.join(&rel))));
                        std::fs::symlink_metadata(root.join(&rel))
                            .ok()
                            .map(|m| m.file_type())
                    });
                if kind.is_some_and(|k| k.is_dir()) {
                    return false;
                }
            }
        }
        true
    }
}

/// A relative path's folder (`""` for the root) and name.
fn parent_and_name(rel: &str) -> (&str, &str) {
    match rel.bytes().rposition(|b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

/// [`derive_config`]; with `defer`, the `mime` paths of [`Unchecked`] are left to the walk.
pub(crate) fn derive_config_deferring(
    ts: ThreatspecConfig,
    root: &Path,
    defer: bool,
) -> (Derived, Option<Unchecked>) {
    let name = Some(ts.project.name.trim().to_string()).filter(|n| !n.is_empty());
    let description = ts.project.description.trim().to_string();
    let mut everything = ts.paths.is_empty();
    // Each entry's path once (a file that lists every file has thousands): the includes and
    // the `mime` paths refer to it by index; sorted and deduplicated at the end, as a set.
    let mut rels: Vec<String> = Vec::with_capacity(ts.paths.len());
    let mut exclude = BTreeSet::new();
    let mut mimes: Vec<(usize, &'static str)> = Vec::new();
    for entry in ts.paths {
        let (path, ignore, mime) = match entry {
            PathEntry::Plain(path) => (path, None, None),
            PathEntry::Detailed { path, ignore, mime } => (path, ignore, mime),
        };
        let Some(rel) = relative_to_root_owned(path, root) else {
            continue;
        };
        everything |= rel.is_empty();
        match &ignore {
            Some(OneOrMany::One(i)) => exclude.extend(ignore_glob(&rel, i)),
            Some(OneOrMany::Many(all)) => {
                exclude.extend(all.iter().filter_map(|i| ignore_glob(&rel, i)));
            }
            None => {}
        }
        if let Some(lang) = mime.as_deref().and_then(language_for_mime) {
            mimes.push((rels.len(), lang));
        }
        rels.push(rel);
    }
    let mime_rels: Vec<&str> = mimes.iter().map(|&(i, _)| rels[i].as_str()).collect();
    let mut witnesses = Vec::new();
    let mut extensions = BTreeMap::new();
    let (found, deferred) = unknown_extensions(root, &mime_rels, defer, &mut witnesses);
    for (exts, (_, lang)) in found.into_iter().zip(&mimes) {
        for ext in exts {
            extensions.entry(ext).or_insert_with(|| lang.to_string());
        }
    }
    witnesses.sort();
    witnesses.dedup();
    let unchecked = (!deferred.is_empty()).then(|| {
        let rels = deferred.iter().map(|&i| mime_rels[i].to_string());
        Unchecked {
            watch: std::sync::Arc::new(crate::source::fs::Watch::new(root, rels)),
        }
    });
    let include = if everything {
        Vec::new()
    } else {
        rels.retain(|r| !r.is_empty());
        // A stable sort: a generated file lists each folder's files in order, and runs of
        // sorted entries are merged rather than sorted again.
        rels.sort();
        rels.dedup();
        rels
    };
    let derived = Derived {
        name,
        description,
        include,
        exclude: exclude.into_iter().collect(),
        extensions,
        witnesses,
    };
    (derived, unchecked)
}

/// A fast hash for the maps of one resolution (file names of one project, not chosen to
/// collide with anything that matters: a collision costs time, never a wrong answer).
type Fast = foldhash::fast::RandomState;

/// For each path (relative to `root`, `/`-separated), the extensions (lower case) of the files
/// under it (or of the path itself) that no language of ours claims. Hidden entries and symbolic
/// links are skipped; the walk under one path stops after 20,000 entries.
///
/// A `threatspec.yaml` that forces a `mime` per file lists thousands of files: what each path
/// is (a file, a folder, a link, nothing) is read from one listing of its parent folder (on
/// every core), not from a `stat` per path. With `defer`, a folder whose wanted names are all
/// names of files of a known language is not listed (only witnessed): the numbers of those
/// paths are returned, with nothing found for them, for the walk to check (see [`Unchecked`]).
fn unknown_extensions(
    root: &Path,
    rels: &[&str],
    defer: bool,
    witnesses: &mut Vec<(String, Option<Witness>)>,
) -> (Vec<BTreeSet<String>>, Vec<usize>) {
    use std::collections::{HashMap, HashSet};
    let deferrable = |name: &str| defer && !name.is_empty() && crate::lang::is_known_name(name);
    // The names wanted from each parent folder, and whether it is to be listed.
    let mut wanted: HashMap<&str, (HashSet<&str, Fast>, bool), Fast> = HashMap::default();
    for rel in rels {
        let (parent, name) = parent_and_name(rel);
        if !name.is_empty() {
            let (names, list) = wanted.entry(parent).or_default();
            names.insert(name);
            *list |= !deferrable(name);
        }
    }
    let wanted: Vec<Wanted<'_>> = wanted.into_iter().collect();
    let listing = wanted.iter().any(|(_, (_, list))| *list);
    let listed: Vec<Listed<'_>> = if listing {
        // Asked only here: the question reads the cgroup's files.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = wanted.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = wanted
                .chunks(chunk)
                .map(|part| s.spawn(move || look(root, part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        })
    } else {
        // Only witnesses to take: not worth a thread.
        look(root, &wanted)
    };
    let deferred_dirs: HashSet<&str, Fast> = wanted
        .iter()
        .filter(|(_, (_, list))| !*list)
        .map(|(dir, _)| *dir)
        .collect();
    let mut listings: HashMap<&str, Types<'_>, Fast> = HashMap::default();
    for (dir, seen, types) in listed {
        witnesses.push((dir.to_string(), seen));
        if let Some(types) = types {
            listings.insert(dir, types);
        }
    }
    let mut deferred = Vec::new();
    let found = rels
        .iter()
        .enumerate()
        .map(|(i, rel)| {
            let (parent, name) = parent_and_name(rel);
            let listing = listings.get(parent);
            // A folder is left unlisted only when each name wanted from it is deferrable.
            if listing.is_none() && !name.is_empty() && deferred_dirs.contains(parent) {
                deferred.push(i);
                return BTreeSet::new();
            }
            // Not in a listing (the root, a folder that cannot be read): ask directly.
            let listed = listing.and_then(|l| l.get(name).copied());
            let kind = listed.or_else(|| {
                witnesses.push((rel.to_string(), Witness::of(&root.join(rel))));
                std::fs::symlink_metadata(root.join(rel))
                    .ok()
                    .map(|m| m.file_type())
            });
            match kind {
                Some(k) if k.is_dir() => unknown_extensions_under(root, rel, witnesses),
                Some(k) if k.is_file() => unknown_extension(name).into_iter().collect(),
                _ => BTreeSet::new(),
            }
        })
        .collect();
    (found, deferred)
}

/// A folder, the names wanted from it, and whether it is to be listed.
type Wanted<'a> = (&'a str, (std::collections::HashSet<&'a str, Fast>, bool));
/// A folder, what it looked like, and the types of the names wanted from it if it was listed.
type Listed<'a> = (&'a str, Option<Witness>, Option<Types<'a>>);

/// Witness each folder of `part`, and list those to be listed.
fn look<'a>(root: &Path, part: &[Wanted<'a>]) -> Vec<Listed<'a>> {
    part.iter()
        .map(|(dir, (names, list))| {
            // The folder's times before its listing: a change during it shows.
            let path = root.join(dir);
            let seen = Witness::of(&path);
            (*dir, seen, list.then(|| list_types(&path, names)).flatten())
        })
        .collect()
}

/// The types of some entries of one folder, by name.
type Types<'a> = std::collections::HashMap<&'a str, std::fs::FileType, Fast>;

/// The types of the entries `names` of a folder (from the listing itself where the file
/// system gives them, as `d_type`).
fn list_types<'a>(
    dir: &Path,
    names: &std::collections::HashSet<&'a str, Fast>,
) -> Option<Types<'a>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let name = *names.get(name.to_str()?)?;
                Some((name, e.file_type().ok()?))
            })
            .collect(),
    )
}

/// The extension of a file name, if no language of ours claims the name.
fn unknown_extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !crate::lang::is_known_name(name)).then(|| ext.to_ascii_lowercase())
}

fn unknown_extensions_under(
    root: &Path,
    rel: &str,
    witnesses: &mut Vec<(String, Option<Witness>)>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.join(rel)];
    let mut budget = 20_000usize;
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let under = p.strip_prefix(root).map_or_else(
                |_| p.to_string_lossy().into_owned(),
                |r| r.to_string_lossy().into_owned(),
            );
            witnesses.push((under, Witness::of(&p)));
            let Ok(entries) = std::fs::read_dir(&p) else {
                continue;
            };
            for e in entries.flatten() {
                budget = budget.saturating_sub(1);
                if budget == 0 {
                    return out;
                }
                if !e.file_name().to_string_lossy().starts_with('.') {
                    stack.push(e.path());
                }
            }
        } else if meta.is_file() {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            out.extend(name.as_deref().and_then(unknown_extension));
        }
    }
    out
}

/// The folders of `imports`, relative to `root`, without the root itself. Each holds a
/// Threatspec output folder (`threatmodel/`) or a threatmark model (`threatmodel.json`).
pub fn import_dirs(ts: &ThreatspecConfig, root: &Path) -> Vec<PathBuf> {
    let abs_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut out = Vec::new();
    for entry in &ts.imports {
        let p = root.join(entry.path().trim());
        let abs = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
        if abs != abs_root && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The largest file read for a model named on the command line (`merge`, `import
/// threatspec`): the user's own choice, but still bounded.
pub const CLI_MODEL_LIMIT: u64 = 1024 * 1024 * 1024;

/// How files named on the command line are read: anywhere, regular files, bounded.
pub const CLI_RULES: crate::input::Rules<'static> = crate::input::Rules {
    confine: None,
    limit: CLI_MODEL_LIMIT,
    setting: "the 1 GiB limit of model files",
};

/// Read the model of an import: a threatmark model file, a folder holding one
/// (`threatmodel.json`), or a Threatspec project or output folder.
pub fn load_import(path: &Path) -> anyhow::Result<ThreatModel> {
    load_import_with(path, &CLI_RULES)
}

/// [`load_import`], reading every file under `rules`.
pub fn load_import_with(
    path: &Path,
    rules: &crate::input::Rules<'_>,
) -> anyhow::Result<ThreatModel> {
    use anyhow::Context;
    let read = |f: &Path| -> anyhow::Result<String> { Ok(crate::input::read_string(f, rules)?) };
    if let Some(root) = rules.confine {
        crate::input::confined(path, root)?;
    }
    if !path.is_dir() {
        return model::from_json(&read(path)?)
            .with_context(|| format!("{} is not a threatmark model", path.display()));
    }
    // A threatmark model in the folder, else Threatspec's output.
    let f = path.join("threatmodel.json");
    if std::fs::symlink_metadata(&f).is_ok()
        && let Ok(m) = model::from_json(&read(&f)?)
    {
        return Ok(m);
    }
    Ok(load_dir_with(path, rules)?.model)
}

/// The model of the root's Threatspec project with the models of its `imports` merged in
/// (see [`crate::merge`]). Without a `threatspec.yaml` (or with a threatmark.toml, which takes
/// precedence), or without imports, the model is returned as it is.
///
/// The imports come from the repository: each must resolve inside `root` (links resolved),
/// and every file read for it must be a regular file of at most `max_file_size` bytes. A model
/// from elsewhere is merged with `threatmark merge`, the user's explicit choice.
pub fn with_imports(
    root: &Path,
    model: ThreatModel,
    matrix: &crate::analysis::RiskMatrix,
    max_file_size: u64,
) -> anyhow::Result<ThreatModel> {
    let file = root.join(CONFIG_FILE);
    if root.join(crate::config::FILE_NAME).is_file() || !file.is_file() {
        return Ok(model);
    }
    let rules = crate::input::Rules {
        confine: Some(root),
        limit: max_file_size,
        setting: "[scan] max_file_size",
    };
    let text = crate::input::read_string(&file, &rules)?;
    // The configuration was parsed already; a file without the key has nothing to import, and
    // parsing a few thousand `paths` entries again costs more than the rest of a small scan.
    if !text.contains("imports") {
        return Ok(model);
    }
    let ts = parse_config(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let dirs = import_dirs(&ts, root);
    if dirs.is_empty() {
        return Ok(model);
    }
    let name = model.project.name.clone();
    let description = model.project.description.clone();
    let mut models = vec![model];
    for d in dirs {
        let shown = crate::render::escape::printable(&d.display().to_string());
        let imported = load_import_with(&d, &rules).map_err(|e| {
            let outside = matches!(
                e.downcast_ref::<crate::input::ReadError>(),
                Some(crate::input::ReadError::Outside { .. })
            );
            let hint = if outside {
                " (imports must be inside the scan root; `threatmark merge` combines models from elsewhere)"
            } else {
                ""
            };
            e.context(format!("{CONFIG_FILE} imports {shown}{hint}"))
        })?;
        models.push(imported);
    }
    let mut merged = crate::merge::merge(&models, matrix);
    merged.project = Project { name, description };
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_entries() {
        let yaml = "project:\n  name: x\n  description: y\nimports:\n  - './'\n  - path: ../lib\npaths:\n  - './'\n  - path: 'src/js'\n    ignore: node_modules\n    mime: 'application/javascript'\n  - path: docs\n    ignore: ['a', 'b/']\n";
        let c = parse_config(yaml).expect("parses");
        assert_eq!(c.project.name, "x");
        assert_eq!(c.paths.len(), 3);
        assert_eq!(c.paths[1].ignore(), vec!["node_modules"]);
        assert_eq!(c.paths[1].mime(), Some("application/javascript"));
        assert_eq!(c.paths[2].ignore(), vec!["a", "b/"]);
        assert_eq!(c.imports[1].path(), "../lib");
    }

    /// The byte searches of `is_plain_relative` answer as a test of each byte does.
    #[test]
    fn plain_relative_paths_are_told_as_byte_by_byte() {
        let slow = |path: &str| {
            !path.contains('\\') && path.split('/').all(|seg| !matches!(seg, "" | "." | ".."))
        };
        let parts = ["a", "", ".", "..", "b.c", "e\\f", "..h", "i.", " "];
        for path in &crate::source::filter::paths_of(&parts) {
            assert_eq!(is_plain_relative(path.as_bytes()), slow(path), "{path:?}");
        }
    }

    #[test]
    fn paths_and_ignores() {
        let root = Path::new("/nonexistent/repo");
        assert_eq!(relative_to_root("./", root).as_deref(), Some(""));
        assert_eq!(
            relative_to_root("./src/js/", root).as_deref(),
            Some("src/js")
        );
        assert_eq!(relative_to_root("a/../b", root).as_deref(), Some("b"));
        assert_eq!(relative_to_root("../other", root), None);
        assert_eq!(
            ignore_glob("src/js", "node_modules").as_deref(),
            Some("src/js/**/*node_modules*")
        );
        assert_eq!(ignore_glob("", "/vendor/").as_deref(), Some("**/vendor"));
        assert_eq!(ignore_glob("", "  "), None);
    }

    /// The line reader reads what the YAML parser reads, or declines.
    #[test]
    fn the_line_reader_agrees_with_the_yaml_parser() {
        let yaml = |t: &str| serde_saphyr::from_str::<ThreatspecConfig>(t).ok();
        let mut read = 0;
        let cases = [
            "project:\n  name: bench\n  description: bench\npaths:\n  - path: 'svc000/a.py'\n    mime: 'text/x-python'\n  - path: 'b c/it''s.go'\n    mime: 'text/x-go'\n",
            "project:\n  name: x\n  description: y\nimports:\n  - './'\n  - path: ../lib\npaths:\n  - './'\n  - path: 'src/js'\n    ignore: node_modules\n    mime: 'application/javascript'\n",
            "# a comment\n\nproject:\n  name: 'My project'   # trailing\n  description: A plain text\npaths:\n- './app'\n- path: 'x'\n  mime: 'text/x-c'\n",
            "paths:\n  - path: src\n    ignore: vendor\n",
            "project:\n  name: yes\npaths:\n  - './'\n",
            "project:\n  name: 123\npaths:\n  - './'\n",
            "project:\n  name: null\n",
            "project:\n  name: ~\n",
            "project:\n  name: a: b\n",
            "project:\n  name: 'open\n",
            "paths:\n  - path: a\n    path: b\n",
            "paths:\n  - path: a\n    ignore:\n      - x\n",
            "paths:\n  - path: a\n     mime: b\n",
            "paths:\n",
            "paths:\n  - a\n - b\n",
            "project:\n  name: x\nproject:\n  name: y\n",
            "project:\n  name: x\n  extra: 1\n",
            "other: 1\npaths:\n  - a\n",
            "paths:\n  - path: 'a'x\n",
            "paths:\n  - path: 'a' # c\n    mime: 'text/x-c' #c\n",
            "paths: ['a']\n",
            "project:\n  name: \"q\"\n",
            "project:\n  name: -x\n",
            "project:\n  name: a  b\n",
            "paths:\n  - 'a'\n  - path: 'b'\n  - c d\n",
            "paths:\n  -  'a'\n",
            "paths:\n  - path:\n",
            "project:\n  description: only\n",
            "project:\n  name: .hidden\n",
            "project:\n  name: /abs/path\n",
            "project:\n  name: 1.5\n",
            "project:\n  name: x # y\n",
            "project:\n  name: x#y\n",
            "project:\n  name: .5\n",
            "project:\n  name: .Inf\n",
            "",
        ];
        for case in cases {
            if let Some(fast) = plain::parse(case) {
                read += 1;
                assert_eq!(Some(fast), yaml(case), "{case:?}");
            }
        }
        assert!(read >= 8, "the line reader read {read} of the cases");
        // Every real threatspec.yaml of the fixtures and examples.
        for dir in ["tests/fixtures", "docs/examples"] {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut stack = vec![root];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.file_name().is_some_and(|n| n == CONFIG_FILE) {
                        let text = std::fs::read_to_string(&p).unwrap_or_default();
                        if let Some(fast) = plain::parse(&text) {
                            assert_eq!(Some(fast), yaml(&text), "{}", p.display());
                        }
                    }
                }
            }
        }
    }

    /// Every byte in a few places of a document: whatever the line reader accepts, it reads
    /// as the YAML parser does (the byte table and the quoted-scalar copy are fast paths of it).
    #[test]
    fn the_line_reader_agrees_on_every_byte() {
        let templates = [
            "project:\n  name: 'a{}b'\npaths:\n  - path: 'x{}.py'\n    mime: 'text/x-python'\n",
            "project:\n  name: a{}b\npaths:\n  - src{}/a\n",
            "paths:\n  - path: 'it''s{}'  # c{}\n",
            "paths:\n{}  - 'a'\n  -{} 'b'\n",
            "project:\n  name: ''''{}''\n  description: '{}'\n",
        ];
        let mut read = 0;
        let others = [
            '\u{80}',
            '\u{85}',
            '\u{9f}',
            '\u{a0}',
            '\u{e9}',
            '\u{feff}',
            '\u{2028}',
            '\u{3000}',
            '\u{fffe}',
            '\u{1f600}',
        ];
        for template in templates {
            for c in (0u8..0x80).map(char::from).chain(others) {
                let text = template.replace("{}", &c.to_string());
                if let Some(fast) = plain::parse(&text) {
                    read += 1;
                    let yaml = serde_saphyr::from_str::<ThreatspecConfig>(&text).ok();
                    assert_eq!(Some(fast), yaml, "{text:?}");
                }
            }
        }
        assert!(read > 150, "the line reader read {read} documents");
        for (text, want) in [
            ("paths:\n  - 'it''s'\n", Some("it's")),
            ("paths:\n  - ''''\n", Some("'")),
            ("paths:\n  - 'a''''b' # c\n", Some("a''b")),
            ("paths:\n  - 'a'#c\n", None),
            ("paths:\n  - 'a''\n", None),
            ("paths:\n  - 'a' b\n", None),
        ] {
            let got = plain::parse(text).map(|c| c.paths[0].path().to_string());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }

    /// `mime` paths left to the walk (named like source files, in folders nothing else needed
    /// listed) give, once the walk has typed them, the settings and witnesses of a listing
    /// beforehand: also for a path that is missing, a link, under a link to a folder, in a
    /// hidden or an excluded folder (none listed by the walk). One that is a folder, seen by the
    /// walk or not, makes the deferred reading void.
    #[cfg(unix)]
    #[test]
    fn deferred_mime_paths_give_what_a_listing_beforehand_gives() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        for rel in [
            "src/a.py",
            "src/b.go",
            "src/c.tpl",
            "src/dir.py/q.tpl2",
            "skip/inner/s.py",
            "skip/inner/deep.py/r.tpl3",
            ".hid/h.py",
            "top.rs",
        ] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, "# @threat X (#x)\n").expect("write");
        }
        std::os::unix::fs::symlink(root.join("src/a.py"), root.join("src/link.py")).expect("link");
        std::os::unix::fs::symlink(root.join("src"), root.join("linkdir")).expect("link");
        let entry = |rel: &str| format!("  - path: '{rel}'\n    mime: 'text/x-c'\n");
        let yaml = |extra: &[&str]| {
            let mut y = String::from(
                "project:\n  name: p\npaths:\n  - path: 'skip'\n    ignore: 'inner'\n",
            );
            for rel in [
                "src/a.py",
                "src/b.go",
                "src/a.py",
                "src/gone.py",
                "src/link.py",
                "linkdir/b.go",
                "skip/inner/s.py",
                ".hid/h.py",
                "top.rs",
                "nowhere/n.py",
            ]
            .iter()
            .chain(extra)
            {
                y.push_str(&entry(rel));
            }
            y
        };
        let deferred = |yaml: &str| {
            let ts = parse_config(yaml).expect("parses");
            let eager = derive_config(ts.clone(), root);
            let (mut derived, unchecked) = derive_config_deferring(ts, root, true);
            let unchecked = unchecked.expect("paths left to the walk");
            let config = derived.config();
            crate::source::fs::walk_watching(
                root,
                &config.scan,
                2,
                Some(unchecked.watch()),
                &|_| {},
            )
            .expect("walks");
            let holds = unchecked.holds(root, &mut derived.witnesses);
            derived.witnesses.sort();
            derived.witnesses.dedup();
            (eager, holds.then_some(derived))
        };

        let (eager, derived) = deferred(&yaml(&[]));
        assert_eq!(derived.as_ref(), Some(&eager));
        assert!(
            eager
                .witnesses
                .iter()
                .any(|(w, seen)| w == "src/gone.py" && seen.is_none()),
            "a missing path is witnessed: {:?}",
            eager.witnesses
        );
        assert!(eager.extensions.is_empty());

        // A folder named like a file, which the walk lists.
        let (eager, derived) = deferred(&yaml(&["src/dir.py"]));
        assert_eq!(derived, None);
        assert_eq!(eager.extensions.keys().collect::<Vec<_>>(), ["tpl2"]);
        // One in a folder the walk leaves out.
        let (eager, derived) = deferred(&yaml(&["skip/inner/deep.py"]));
        assert_eq!(derived, None);
        assert_eq!(eager.extensions.keys().collect::<Vec<_>>(), ["tpl3"]);
        // Next to a path that is not named like a file, its folder is listed beforehand.
        let ts = parse_config(&yaml(&["src/dir.py", "src/c.tpl"])).expect("parses");
        let (derived, unchecked) = derive_config_deferring(ts, root, true);
        assert_eq!(
            derived.extensions.keys().collect::<Vec<_>>(),
            ["tpl", "tpl2"]
        );
        let unchecked = unchecked.expect("other folders");
        let left: Vec<&str> = unchecked.watch.seen().map(|(rel, _)| rel).collect();
        assert!(left.contains(&"top.rs"), "{left:?}");
        assert!(!left.iter().any(|r| r.starts_with("src/")), "{left:?}");
    }

    /// What a `threatspec.yaml` sets, against a plain reading of the rules (a set of paths, a
    /// `stat` per `mime` path), on a project with globbed and plain paths, repeats, paths
    /// inside other paths, `ignore`s, missing paths, links, folders named like files and
    /// unknown extensions.
    #[cfg(unix)]
    #[test]
    fn derived_settings_match_a_plain_reading() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let write = |rel: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, "# @threat X (#x)\n").expect("write");
        };
        for rel in [
            "src/a.py",
            "src/b.tpl",
            "src/c.PHTML",
            "lib/x.rs",
            "lib/deep/y.vue2",
            "lib/.hidden/z.hid",
            "named.py/inner.jinja",
            "other/q.go",
            "CMakeLists.txt",
        ] {
            write(rel);
        }
        std::os::unix::fs::symlink(root.join("src/b.tpl"), root.join("src/link.tpl"))
            .expect("link");
        std::os::unix::fs::symlink(root.join("lib"), root.join("linked")).expect("link");
        let yaml = "project:\n  name: p\npaths:\n  - 'src/a.py'\n  - path: 'src/b.tpl'\n    mime: 'text/x-python'\n  - path: 'src/c.PHTML'\n    mime: 'text/x-c'\n  - path: 'src/a.py'\n    mime: 'text/x-go'\n  - path: 'lib'\n    mime: 'text/x-ruby'\n    ignore: 'deep'\n  - path: 'lib/x.rs'\n    mime: 'text/x-java'\n  - path: 'named.py'\n    mime: 'text/x-shellscript'\n  - path: 'missing/m.zz'\n    mime: 'text/x-c'\n  - path: 'src/link.tpl'\n    mime: 'text/x-c'\n  - path: 'linked'\n    mime: 'text/x-c'\n  - 'src/*.py'\n  - './other/'\n  - 'a/../src/a.py'\n  - '../outside'\n  - path: 'CMakeLists.txt'\n    mime: 'text/x-c'\n  - path: 'src/c.PHTML'\n    mime: 'text/x-java'\n";
        let ts = parse_config(yaml).expect("parses");
        let derived = derive_config(ts.clone(), root);

        // The plain reading.
        let mut include = BTreeSet::new();
        let mut exclude = BTreeSet::new();
        let mut extensions: BTreeMap<String, String> = BTreeMap::new();
        for entry in &ts.paths {
            let Some(rel) = relative_to_root(entry.path(), root) else {
                continue;
            };
            for i in entry.ignore() {
                exclude.extend(ignore_glob(&rel, i));
            }
            include.insert(rel.clone());
            let Some(lang) = entry.mime().and_then(language_for_mime) else {
                continue;
            };
            let Ok(meta) = std::fs::symlink_metadata(root.join(&rel)) else {
                continue;
            };
            let found = if meta.is_dir() {
                unknown_extensions_under(root, &rel, &mut Vec::new())
            } else if meta.is_file() {
                let name = rel.rsplit('/').next().unwrap_or(&rel);
                unknown_extension(name).into_iter().collect()
            } else {
                BTreeSet::new()
            };
            for ext in found {
                extensions.entry(ext).or_insert_with(|| lang.to_string());
            }
        }
        let include: Vec<String> = include.into_iter().collect();
        let exclude: Vec<String> = exclude.into_iter().collect();
        assert_eq!(derived.include, include);
        assert_eq!(derived.exclude, exclude);
        assert_eq!(derived.extensions, extensions);
        assert_eq!(
            extensions.keys().map(String::as_str).collect::<Vec<_>>(),
            ["jinja", "tpl", "vue2"],
            "unknown extensions of files, of folders, and of folders named like files"
        );
        // The fast path of each entry's normalisation gives what the component-wise one does.
        for entry in [
            "src/a.py", "./src", "src/", "a//b", "a/./b", "a/../b", ".", "x/..", "..a/b", "a\\b",
            "/abs", "a/.../b",
        ] {
            let slow = {
                let mut parts: Vec<&str> = Vec::new();
                let mut ok = !Path::new(entry).is_absolute();
                for part in Path::new(entry).components() {
                    match part {
                        PathPart::CurDir => {}
                        PathPart::Normal(s) => parts.push(s.to_str().expect("utf-8")),
                        PathPart::ParentDir => ok &= parts.pop().is_some(),
                        _ => ok = false,
                    }
                }
                ok.then(|| parts.join("/"))
            };
            assert_eq!(relative_to_root(entry, root), slow, "{entry}");
        }
    }

    #[test]
    fn ids_and_mimes() {
        assert_eq!(our_id("#sqli"), "sqli");
        assert_eq!(our_id("#SQLi"), "SQLi");
        assert_eq!(our_id("#a b"), "a_b");
        assert_eq!(language_for_mime("text/x-python"), Some("python"));
        assert_eq!(language_for_mime("text/plain"), None);
        // Case and surrounding spaces do not matter; what is longer than every type is none.
        assert_eq!(
            language_for_mime(" Application/JavaScript "),
            Some("javascript")
        );
        assert_eq!(language_for_mime("TEXT/X-SCRIPT.PYTHON"), Some("python"));
        assert_eq!(language_for_mime("application/javascript-x"), None);
        assert_eq!(language_for_mime("application/javascript-and-more"), None);
        assert_eq!(language_for_mime("téxt/x-c"), None);
        // The plain form of a path, tested in one pass, is what splitting it says.
        for path in [
            "a", "a/b", "", "/", "a/", "/a", "a//b", ".", "..", "a/.", "a/../b", ".a/..b", "a\\b",
            "...", "./a",
        ] {
            let split = !path.is_empty()
                && !path.contains('\\')
                && path.split('/').all(|p| !matches!(p, "" | "." | ".."));
            assert_eq!(is_plain_relative(path.as_bytes()), split, "{path:?}");
        }
    }
}
