//! Path rules for a git tree, matching what the work-tree walk (the `ignore` crate) does, so that
//! a scan of a clean checkout and a scan of `--rev HEAD` yield the same model.
//!
//! Precedence, as in `ignore`: `include`/`exclude` globs first; then `.threatmarkignore` files,
//! the deepest folder's first; then `.gitignore` files, the deepest first. A folder that is
//! ignored hides everything below it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::{Override, OverrideBuilder};

use crate::config::ScanConfig;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::fs::{IGNORE_FILE, WalkError};

/// The `include`/`exclude` globs of the configuration as an `ignore` override set, rooted at
/// `root`. Shared by the work-tree walk and the tree filter.
pub fn overrides(root: &Path, config: &ScanConfig) -> Result<Override, WalkError> {
    let mut b = OverrideBuilder::new(root);
    for glob in &config.include {
        // `src` means the folder and everything in it, as in .gitignore.
        for g in [glob.clone(), format!("{}/**", glob.trim_end_matches('/'))] {
            b.add(&g).map_err(|e| WalkError::Glob {
                field: "include",
                message: e.to_string(),
            })?;
        }
    }
    for glob in &config.exclude {
        b.add(&format!("!{}", glob.trim_start_matches('!')))
            .map_err(|e| WalkError::Glob {
                field: "exclude",
                message: e.to_string(),
            })?;
    }
    b.build().map_err(|e| WalkError::Glob {
        field: "include/exclude",
        message: e.to_string(),
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
pub struct TreeFilter {
    overrides: Override,
    hidden: bool,
    /// Folder (relative, `""` for the root) → matcher.
    custom: BTreeMap<String, Gitignore>,
    git: BTreeMap<String, Gitignore>,
}

impl TreeFilter {
    /// `ignore_files` are `(path, contents)` of every `.gitignore` and `.threatmarkignore` in the
    /// tree. Unparsable lines become diagnostics, as in the walk.
    pub fn new(
        config: &ScanConfig,
        ignore_files: &[(String, Vec<u8>)],
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Self, WalkError> {
        let mut custom = BTreeMap::new();
        let mut git = BTreeMap::new();
        for (path, bytes) in ignore_files {
            let (dir, name) = match path.rsplit_once('/') {
                Some((d, n)) => (d.to_string(), n),
                None => (String::new(), path.as_str()),
            };
            let mut b = GitignoreBuilder::new(virtual_path(&dir));
            for (i, line) in ignore_lines(bytes).into_iter().enumerate() {
                if let Err(e) = b.add_line(None, line) {
                    // Worded as the walk words it, so both scans print the same diagnostic.
                    diags.push(
                        Diagnostic::new(Code::IgnoreFileError, format!("line {}: {e}", i + 1))
                            .in_file(path),
                    );
                }
            }
            match b.build() {
                Ok(gi) => {
                    let target = if name == IGNORE_FILE {
                        &mut custom
                    } else {
                        &mut git
                    };
                    target.insert(dir, gi);
                }
                Err(e) => diags.push(
                    Diagnostic::new(Code::IgnoreFileError, format!("{path}: {e}")).in_file(path),
                ),
            }
        }
        Ok(Self {
            overrides: overrides(Path::new(ROOT), config)?,
            hidden: config.hidden,
            custom,
            git,
        })
    }

    /// Is the file at `rel` left out?
    pub fn is_ignored(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        (1..=parts.len()).any(|depth| {
            let sub = parts[..depth].join("/");
            self.entry_ignored(&sub, depth < parts.len())
        })
    }

    fn entry_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let path = virtual_path(rel);
        match self.overrides.matched(&path, is_dir) {
            Match::Whitelist(_) => return false,
            Match::Ignore(_) => return true,
            Match::None => {}
        }
        for set in [&self.custom, &self.git] {
            // Deepest folder first: a nested ignore file overrides its parents.
            for (dir, gi) in set.iter().rev() {
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
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        !self.hidden && name.starts_with('.')
    }
}

/// The lines of an ignore file exactly as the work-tree walk reads them (`ignore`'s
/// `GitignoreBuilder::add`, which uses `BufRead::lines`): split at `\n` with a `\r` before it
/// dropped, a UTF-8 byte order mark removed from the first line, and reading stopped at the first
/// line that is not UTF-8 (the walk drops that error silently, so no diagnostic here either).
fn ignore_lines(bytes: &[u8]) -> Vec<&str> {
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

/// Is this path an ignore file whose rules the tree filter needs?
pub fn is_ignore_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == ".gitignore" || name == IGNORE_FILE
}

#[cfg(test)]
mod tests {
    use super::*;

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
                (".gitignore", "gen/\n*.log\n"),
                ("src/.gitignore", "!keep.log\nlocal/\n"),
                (".threatmarkignore", "vendor/\n"),
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

    #[test]
    fn ignore_files_are_read_like_the_walk_reads_them() {
        let files = vec![
            (
                ".gitignore".to_string(),
                b"\xEF\xBB\xBFgen/\r\n*.log".to_vec(),
            ),
            (
                "sub/.gitignore".to_string(),
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
