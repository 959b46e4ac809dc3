//! Path rules for a git tree, matching what the work-tree walk (the `ignore` crate) does, so that
//! a scan of a clean checkout and a scan of `--rev HEAD` yield the same model.
//!
//! Precedence, as in `ignore`: `include`/`exclude` globs first; then `.threatmarkignore` files,
//! the deepest folder's first. A folder that is ignored hides everything below it. `.gitignore`
//! files play no part at a revision: every file of a commit is tracked, and git never ignores a
//! tracked file (the work-tree walk lets tracked files through `.gitignore` for the same
//! reason, see `fs`).
//!
//! Ignore files are bounded ([`MAX_IGNORE_FILE_BYTES`], [`MAX_IGNORE_PATTERNS`]): one over a
//! limit is skipped whole with TM032, which scans more, never less.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::{Override, OverrideBuilder};

use crate::config::ScanConfig;
use crate::diagnostic::{Code, Diagnostic};

/// Ignore files with our own name.
pub(crate) const IGNORE_FILE: &str = ".threatmarkignore";

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

/// The `include`/`exclude` globs of the configuration, with `ignore`'s override semantics,
/// rooted at `root`. Shared by the work-tree walk and the tree filter.
///
/// Includes that are plain paths (`src/api/handler.py`) are looked up in a set, with their
/// folders, instead of becoming globs: a Threatspec project that lists 4,000 files would
/// otherwise compile 8,000 globs into one regex set (0.4 s before the walk starts) and run it
/// on every entry.
#[derive(Debug)]
pub(crate) struct PathGlobs {
    includes: Override,
    excludes: Override,
    /// `keep` globs: included whatever the excludes say.
    keep: Override,
    /// With a fast hash: looked up for every entry of the walk, and its folders.
    literal: HashSet<String, foldhash::fast::RandomState>,
}

impl PathGlobs {
    /// `Whitelist`: included (and then no ignore file applies); `Ignore`: excluded, or not
    /// included while includes exist (folders are never left out for that); `None`: neither.
    /// `rel` gives the path relative to the root; it is only asked for when there are
    /// plain-path includes.
    pub(crate) fn matched(
        &self,
        path: &Path,
        is_dir: bool,
        rel: impl FnOnce() -> String,
    ) -> Match<()> {
        if self.keep.num_whitelists() > 0 && self.keep.matched(path, is_dir).is_whitelist() {
            return Match::Whitelist(());
        }
        if self.excludes.matched(path, is_dir).is_ignore() {
            return Match::Ignore(());
        }
        if self.includes.matched(path, is_dir).is_whitelist()
            || (!self.literal.is_empty() && self.literal_hit(&rel()))
        {
            return Match::Whitelist(());
        }
        let any_include = self.includes.num_whitelists() > 0 || !self.literal.is_empty();
        if any_include && !is_dir {
            Match::Ignore(())
        } else {
            Match::None
        }
    }

    /// `rel` or a folder above it is a plain-path include.
    fn literal_hit(&self, rel: &str) -> bool {
        if self.literal.is_empty() {
            return false;
        }
        let mut end = rel.len();
        loop {
            if self.literal.contains(&rel[..end]) {
                return true;
            }
            match rel[..end].rfind('/') {
                Some(i) => end = i,
                None => return false,
            }
        }
    }
}

/// A path that `.gitignore` syntax would match only as itself (and, as an include, everything
/// under it): it has a `/` inside (so it is anchored at the root), no glob characters, and no
/// empty, `.` or `..` segment.
///
/// Byte searches rather than a loop over each byte: a `threatspec.yaml` that lists every
/// file gives thousands of paths, each with a few `/`.
fn is_plain_path(glob: &str) -> bool {
    let bytes = glob.as_bytes();
    memchr::memchr3(b'*', b'?', b'[', bytes).is_none()
        && memchr::memchr3(b']', b'{', b'}', bytes).is_none()
        && memchr::memchr(b'!', bytes).is_none()
        && memchr::memchr(b'/', bytes).is_some()
        && is_plain_relative(bytes)
}

/// Not empty, no `\\`, and no empty, `.` or `..` part. A byte search for each (thousands of
/// paths in a `threatspec.yaml` that lists every file, each with a few `/`).
pub(crate) fn is_plain_relative(path: &[u8]) -> bool {
    if memchr::memchr(b'\\', path).is_some() {
        return false;
    }
    let mut start = 0;
    for i in memchr::memchr_iter(b'/', path) {
        if matches!(&path[start..i], b"" | b"." | b"..") {
            return false;
        }
        start = i + 1;
    }
    !matches!(&path[start..], b"" | b"." | b"..")
}

pub(crate) fn overrides(root: &Path, config: &ScanConfig) -> Result<PathGlobs, WalkError> {
    let mut includes = OverrideBuilder::new(root);
    // Sized up front: a `threatspec.yaml` that lists every file gives thousands of paths, and
    // growing the set rehashes them again and again.
    let mut literal = HashSet::with_capacity_and_hasher(config.include.len(), Default::default());
    for glob in &config.include {
        if is_plain_path(glob) {
            literal.insert(glob.clone());
            continue;
        }
        // `src` means the folder and everything in it, as in .gitignore.
        for g in [glob.clone(), format!("{}/**", glob.trim_end_matches('/'))] {
            includes.add(&g).map_err(|e| WalkError::Glob {
                field: "include",
                message: e.to_string(),
            })?;
        }
    }
    let mut excludes = OverrideBuilder::new(root);
    for glob in &config.exclude {
        excludes
            .add(&format!("!{}", glob.trim_start_matches('!')))
            .map_err(|e| WalkError::Glob {
                field: "exclude",
                message: e.to_string(),
            })?;
    }
    let mut keep = OverrideBuilder::new(root);
    for glob in &config.keep {
        keep.add(glob).map_err(|e| WalkError::Glob {
            field: "keep",
            message: e.to_string(),
        })?;
    }
    let build = |b: &OverrideBuilder| {
        b.build().map_err(|e| WalkError::Glob {
            field: "include/exclude",
            message: e.to_string(),
        })
    };
    Ok(PathGlobs {
        includes: build(&includes)?,
        excludes: build(&excludes)?,
        keep: build(&keep)?,
        literal,
    })
}

/// Ignore files larger than this are not read (TM032): compiling patterns costs hundreds of
/// bytes per byte (a 4.5 MB `.gitignore` took 1.76 GB), and no hand-written file comes near it.
pub(crate) const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// Ignore files with more patterns than this are skipped (TM032). The largest real ones are a
/// few thousand lines (generated lists of vendored files).
pub(crate) const MAX_IGNORE_PATTERNS: usize = 10_000;

/// TM032 for an ignore file over the byte limit; `size` is `None` when it is unknown (the file
/// held more than its listed size).
pub(crate) fn too_large(rel: &str, size: Option<u64>) -> Diagnostic {
    let what = match size {
        Some(size) => format!("`{rel}` is {size} bytes"),
        None => format!("`{rel}` holds more bytes"),
    };
    Diagnostic::new(
        Code::IgnoreFileTooLarge,
        format!("{what}, over the {MAX_IGNORE_FILE_BYTES}-byte limit for ignore files; its rules were not applied"),
    )
    .in_file(rel)
    .help("the files it would have left out were scanned; shorten it, or use `[scan] exclude`")
}

/// One ignore file's rules, rooted at `dir` (the folder that holds it, as the matcher sees
/// it), from its bytes (at most [`MAX_IGNORE_FILE_BYTES`]). Lines that are not globs become
/// TM027; more than [`MAX_IGNORE_PATTERNS`] patterns make the file TM032 and no rules. Shared by
/// the work-tree walk and the tree filter, so both read an ignore file the same way.
pub(crate) fn compile_ignore(
    dir: &Path,
    rel: &str,
    bytes: &[u8],
    diags: &mut Vec<Diagnostic>,
) -> Gitignore {
    let lines = ignore_lines(bytes);
    let patterns = lines
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    if patterns > MAX_IGNORE_PATTERNS {
        diags.push(
            Diagnostic::new(
                Code::IgnoreFileTooLarge,
                format!("`{rel}` has {patterns} patterns, over the limit of {MAX_IGNORE_PATTERNS} per ignore file; its rules were not applied"),
            )
            .in_file(rel)
            .help("the files it would have left out were scanned; shorten it (a folder pattern replaces a line per file), or use `[scan] exclude`"),
        );
        return Gitignore::empty();
    }
    let mut b = GitignoreBuilder::new(dir);
    for (i, line) in lines.into_iter().enumerate() {
        if let Err(e) = b.add_line(None, line) {
            diags.push(
                Diagnostic::new(Code::IgnoreFileError, format!("line {}: {e}", i + 1)).in_file(rel),
            );
        }
    }
    b.build().unwrap_or_else(|e| {
        diags.push(Diagnostic::new(Code::IgnoreFileError, format!("{rel}: {e}")).in_file(rel));
        Gitignore::empty()
    })
}

/// A virtual absolute root: `ignore` strips it from paths before matching.
const ROOT: &str = "/r";

fn virtual_path(rel: &str) -> PathBuf {
    if rel.is_empty() {
        PathBuf::from(ROOT)
    } else {
        PathBuf::from(format!("{ROOT}/{rel}"))
    }
}

/// Ignore rules of one tree.
#[derive(Debug)]
pub(crate) struct TreeFilter {
    overrides: PathGlobs,
    hidden: bool,
    /// Folder (relative, `""` for the root) → its `.threatmarkignore`.
    custom: BTreeMap<String, Gitignore>,
}

impl TreeFilter {
    /// `ignore_files` are `(path, contents)` of the `.threatmarkignore` files in the tree
    /// ([`is_ignore_file`]), each within [`MAX_IGNORE_FILE_BYTES`]. Unparsable lines and files
    /// over the pattern limit become diagnostics, as in the walk.
    pub(crate) fn new(
        config: &ScanConfig,
        ignore_files: &[(String, Vec<u8>)],
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Self, WalkError> {
        let mut custom = BTreeMap::new();
        for (path, bytes) in ignore_files {
            let dir = match path.rsplit_once('/') {
                Some((d, _)) => d.to_string(),
                None => String::new(),
            };
            let gi = compile_ignore(&virtual_path(&dir), path, bytes, diags);
            if !gi.is_empty() {
                custom.insert(dir, gi);
            }
        }
        Ok(Self {
            overrides: overrides(Path::new(ROOT), config)?,
            hidden: config.hidden,
            custom,
        })
    }

    /// Is the file at `rel` left out?
    pub(crate) fn is_ignored(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        (1..=parts.len()).any(|depth| {
            let sub = parts[..depth].join("/");
            self.entry_ignored(&sub, depth < parts.len())
        })
    }

    fn entry_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let path = virtual_path(rel);
        match self.overrides.matched(&path, is_dir, || rel.to_string()) {
            Match::Whitelist(_) => return false,
            Match::Ignore(_) => return true,
            Match::None => {}
        }
        // Deepest folder first: a nested ignore file overrides its parents.
        for (dir, gi) in self.custom.iter().rev() {
            let applies = dir.is_empty() || rel.starts_with(&format!("{dir}/"));
            if !applies {
                continue;
            }
            match gi.matched(&path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        !self.hidden && name.starts_with('.')
    }
}

/// The lines of an ignore file exactly as the work-tree walk reads them (`ignore`'s
/// `GitignoreBuilder::add`, which uses `BufRead::lines`): split at `\n` with a `\r` before it
/// dropped, a UTF-8 byte order mark removed from the first line, and reading stopped at the first
/// line that is not UTF-8 (the walk drops that error silently, so no diagnostic here either).
pub(crate) fn ignore_lines(bytes: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let line = match raw.strip_suffix(b"\n") {
            Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
            None => raw,
        };
        let Ok(line) = std::str::from_utf8(line) else {
            break;
        };
        out.push(if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        });
    }
    out
}

/// Is this path an ignore file whose rules the tree filter needs? Only `.threatmarkignore`:
/// at a revision every file is tracked, and `.gitignore` never leaves out a tracked file.
pub(crate) fn is_ignore_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == IGNORE_FILE
}

/// The empty path and every path of one to three of `parts`, for tests of path predicates.
#[cfg(test)]
pub(crate) fn paths_of(parts: &[&str]) -> Vec<String> {
    let mut paths = vec![String::new()];
    for a in parts {
        paths.push(a.to_string());
        for b in parts {
            paths.push(format!("{a}/{b}"));
            for c in parts {
                paths.push(format!("{a}/{b}/{c}"));
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte searches of `is_plain_path` answer as a test of each byte and segment does.
    #[test]
    fn plain_paths_are_told_as_byte_by_byte() {
        let slow = |glob: &str| {
            glob.contains('/')
                && !glob
                    .bytes()
                    .any(|b| matches!(b, b'*' | b'?' | b'[' | b']' | b'{' | b'}' | b'\\' | b'!'))
                && glob.split('/').all(|seg| !matches!(seg, "" | "." | ".."))
        };
        let parts = [
            "a", "", ".", "..", "b.c", "d*", "?", "[x]", "{a,b}", "e\\f", "!g", "..h", "i.",
        ];
        for glob in &paths_of(&parts) {
            assert_eq!(is_plain_path(glob), slow(glob), "{glob:?}");
        }
    }

    /// Plain-path includes answer exactly as the globs they replace would.
    #[test]
    fn plain_path_includes_match_like_globs() {
        let include: Vec<String> = ["src/a.py", "lib", "docs/*.md", "x/y", "deep/er/z.rs", "t/"]
            .map(String::from)
            .to_vec();
        let exclude = vec!["**/skip.py".to_string(), "x/y/no.py".to_string()];
        let config = ScanConfig {
            include: include.clone(),
            exclude: exclude.clone(),
            ..ScanConfig::default()
        };
        let globs = overrides(Path::new(ROOT), &config).expect("globs");
        assert!(globs.literal.len() == 3, "{:?}", globs.literal);
        let mut old = OverrideBuilder::new(ROOT);
        for g in &include {
            old.add(g).expect("glob");
            old.add(&format!("{}/**", g.trim_end_matches('/')))
                .expect("glob");
        }
        for g in &exclude {
            old.add(&format!("!{g}")).expect("glob");
        }
        let old = old.build().expect("build");
        for rel in [
            "src",
            "src/a.py",
            "src/a.pyc",
            "src/a.py/inner.rs",
            "src/b.py",
            "lib",
            "lib/x.py",
            "lib/skip.py",
            "libx/a.py",
            "docs/r.md",
            "docs/sub/r.md",
            "x",
            "x/y",
            "x/y/a.py",
            "x/y/no.py",
            "x/yz.py",
            "deep/er/z.rs",
            "deep/er",
            "t",
            "t/u.py",
            "other.py",
            "a/src/a.py",
        ] {
            for is_dir in [false, true] {
                let path = virtual_path(rel);
                let want = match old.matched(&path, is_dir) {
                    Match::Whitelist(_) => "whitelist",
                    Match::Ignore(_) => "ignore",
                    Match::None => "none",
                };
                let got = match globs.matched(&path, is_dir, || rel.to_string()) {
                    Match::Whitelist(()) => "whitelist",
                    Match::Ignore(()) => "ignore",
                    Match::None => "none",
                };
                assert_eq!(got, want, "{rel} (dir: {is_dir})");
            }
        }
    }

    fn filter(files: &[(&str, &str)], config: ScanConfig) -> TreeFilter {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, c)| ((*p).to_string(), c.as_bytes().to_vec()))
            .collect();
        TreeFilter::new(&config, &files, &mut Vec::new()).expect("filter")
    }

    #[test]
    fn nested_ignore_files() {
        let f = filter(
            &[
                (".threatmarkignore", "gen/\n*.log\nvendor/\n"),
                ("src/.threatmarkignore", "!keep.log\nlocal/\n"),
            ],
            ScanConfig::default(),
        );
        assert!(f.is_ignored("gen/a.js"));
        assert!(f.is_ignored("x.log"));
        assert!(!f.is_ignored("src/keep.log"));
        assert!(f.is_ignored("src/local/a.py"));
        assert!(f.is_ignored("vendor/lib.js"));
        assert!(!f.is_ignored("src/main.rs"));
        assert!(!f.is_ignored(".github/workflows/ci.yml"));
    }

    /// Only `.threatmarkignore` files are read at a revision; one over the pattern limit is
    /// skipped whole (TM032), so nothing it lists is left out.
    #[test]
    fn ignore_files_over_the_pattern_limit_are_skipped() {
        assert!(is_ignore_file("a/.threatmarkignore"));
        assert!(!is_ignore_file("a/.gitignore"));
        let many: String = (0..=MAX_IGNORE_PATTERNS)
            .map(|i| format!("p{i}\n"))
            .collect();
        let just: String = (1..MAX_IGNORE_PATTERNS)
            .map(|i| format!("p{i}\n# note\n\n"))
            .collect();
        let files = vec![
            (".threatmarkignore".to_string(), many.into_bytes()),
            (
                "ok/.threatmarkignore".to_string(),
                format!("p0\n{just}").into_bytes(),
            ),
        ];
        let mut diags = Vec::new();
        let f = TreeFilter::new(&ScanConfig::default(), &files, &mut diags).expect("filter");
        assert!(!f.is_ignored("p0"));
        assert!(f.is_ignored("ok/p0"));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, Code::IgnoreFileTooLarge);
    }

    #[test]
    fn ignore_files_are_read_like_the_walk_reads_them() {
        let files = vec![
            (
                ".threatmarkignore".to_string(),
                b"\xEF\xBB\xBFgen/\r\n*.log".to_vec(),
            ),
            (
                "sub/.threatmarkignore".to_string(),
                b"a.py\nbad\xFF\nb.py\n".to_vec(),
            ),
        ];
        let f = TreeFilter::new(&ScanConfig::default(), &files, &mut Vec::new()).expect("filter");
        assert!(
            f.is_ignored("gen/a.py"),
            "a byte order mark is not part of the pattern"
        );
        assert!(f.is_ignored("x.log"));
        assert!(f.is_ignored("sub/a.py"));
        // The walk stops reading at the first line that is not UTF-8.
        assert!(!f.is_ignored("sub/b.py"));
    }

    #[test]
    fn include_and_exclude() {
        let config = ScanConfig {
            include: vec!["src".into()],
            exclude: vec!["src/tests/**".into()],
            ..ScanConfig::default()
        };
        let f = filter(&[], config);
        assert!(!f.is_ignored("src/a.rs"));
        assert!(f.is_ignored("docs/a.rs"));
        assert!(f.is_ignored("src/tests/t.rs"));
    }
}
