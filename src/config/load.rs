//! Loading the configuration of a scan root: `threatmark.toml`, else a Threatspec project's
//! `threatspec.yaml` (converted by the importer, and reused from the scan cache while the folders
//! it was resolved from are unchanged), else a GuardLink project's config, else the defaults. It
//! sits above the importers and the store it uses; the schema below them ([`super`]) stays pure.

use std::path::Path;
use std::sync::Arc;

use super::{Config, ConfigError, FILE_NAME};
use crate::import::threatspec::{Derived, Unchecked, Witness};
use crate::source::fs::Watch;
use crate::store::scan_cache::CachedThreatspec;

impl Config {
    /// Load the configuration of `root`: `explicit` if given (a `.yaml`/`.yml` file is read as a
    /// `threatspec.yaml`), else `threatmark.toml`, else a Threatspec project's
    /// `threatspec.yaml`, else a GuardLink project's `.guardlink/config.json`, else the
    /// defaults.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_reusing(root, explicit, &|_| None).map(|(config, _)| config)
    }

    /// [`Config::load`], with `reuse` giving what a `threatspec.yaml` text set before, as this
    /// function saved it (used while the folders it was resolved from are unchanged). Also returns the text and what it
    /// set (for the next run), and whether that was reused.
    pub fn load_reusing(
        root: &Path,
        explicit: Option<&Path>,
        reuse: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<(Config, Option<(CachedThreatspec, bool)>), ConfigError> {
        let (config, threatspec) = Config::load_deferring(root, explicit, reuse, false)?;
        let record = threatspec.map(|t| (t.record(&config), t.reused));
        Ok((config, record))
    }

    /// [`Config::load_reusing`]; with `defer`, what a `threatspec.yaml`'s `mime` paths are is
    /// partly left to the walk of the scan that follows (see
    /// [`crate::import::threatspec::Unchecked`]): the scan walks with
    /// [`Threatspec::watch`] and then calls [`Threatspec::settle`].
    pub(crate) fn load_deferring(
        root: &Path,
        explicit: Option<&Path>,
        reuse: &dyn Fn(&str) -> Option<Vec<u8>>,
        defer: bool,
    ) -> Result<(Config, Option<Threatspec>), ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = root.join(FILE_NAME);
                let ts = root.join(crate::import::threatspec::CONFIG_FILE);
                let gl = root.join(crate::import::guardlink::CONFIG_FILE);
                if p.is_file() {
                    p
                } else if ts.is_file() {
                    ts
                } else if gl.is_file() {
                    // GuardLink reads the name only; an unreadable file still marks the project.
                    let text = std::fs::read_to_string(&gl).unwrap_or_default();
                    return Ok((crate::import::guardlink::config_from(&text), None));
                } else {
                    return Ok((Config::default(), None));
                }
            }
        };
        let yaml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        // A `threatspec.yaml`'s own inode and times, taken before it is read: settings kept
        // from an earlier run are only reused for this very file (a fresh checkout, or a copy
        // that ships a forged cache, has new ones).
        let own = yaml
            .then(|| std::path::absolute(&path).ok())
            .flatten()
            .map(|abs| {
                let seen = crate::import::threatspec::Witness::of(&abs);
                (abs.to_string_lossy().into_owned(), seen)
            });
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        if yaml {
            // Reused only when the kept settings name this very file, unchanged, among their
            // witnesses.
            let kept = reuse(&text)
                .and_then(|saved| serde_json::from_slice::<Derived>(&saved).ok())
                .filter(|d| {
                    own.as_ref()
                        .is_some_and(|(p, _)| d.witnesses.iter().any(|(w, _)| w == p))
                        && d.still_holds(root)
                });
            let (mut derived, reused, unchecked) = match kept {
                Some(derived) => (derived, true, None),
                None => {
                    let ts = crate::import::threatspec::parse_config(&text).map_err(|message| {
                        ConfigError::Parse {
                            path: path.clone(),
                            message,
                        }
                    })?;
                    crate::timings::mark("threatspec.yaml parsed");
                    let absolute = ts.has_absolute_paths();
                    let (mut derived, unchecked) =
                        crate::import::threatspec::derive_config_deferring(ts, root, defer);
                    crate::timings::mark("threatspec paths resolved");
                    // Without its own witness, what the file set is never reused: so for an
                    // absolute path entry too, which resolves through links nothing witnesses.
                    if let Some(own) = own.filter(|_| !absolute) {
                        derived.witnesses.push(own);
                        derived.witnesses.sort();
                    }
                    (derived, false, unchecked)
                }
            };
            let witnesses = std::mem::take(&mut derived.witnesses);
            let loaded = Threatspec {
                yaml: text,
                witnesses,
                reused,
                unchecked,
            };
            return Ok((derived.into_config(), Some(loaded)));
        }
        Config::parse(&text, &path).map(|c| (c, None))
    }

    /// The configuration a Threatspec project's `threatspec.yaml` means, for a scan rooted at
    /// `root`: see [`crate::import::threatspec::config_from`]. `path` is only used in messages.
    pub fn from_threatspec(text: &str, path: &Path, root: &Path) -> Result<Config, ConfigError> {
        let ts = crate::import::threatspec::parse_config(text).map_err(|message| {
            ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            }
        })?;
        Ok(crate::import::threatspec::config_from(ts, root))
    }
}

/// A `threatspec.yaml` as [`Config::load_deferring`] loaded it: its text and what it set, for
/// the scan cache.
#[derive(Debug)]
pub(crate) struct Threatspec {
    yaml: String,
    /// What was read to set it (the rest of what it set is in the configuration).
    witnesses: Vec<(String, Option<Witness>)>,
    /// Taken from the scan cache rather than derived.
    pub(crate) reused: bool,
    /// `mime` paths that the walk is to check.
    unchecked: Option<Unchecked>,
}

impl Threatspec {
    /// The file's text, as it was read.
    pub(crate) fn text(&self) -> &str {
        &self.yaml
    }

    /// What the walk is to record, when some `mime` paths were left to it.
    pub(crate) fn watch(&self) -> Option<Arc<Watch>> {
        self.unchecked.as_ref().map(Unchecked::watch)
    }

    /// After the walk with [`Threatspec::watch`]: `false` when a `mime` path left to the walk
    /// is a folder, whose unknown extensions the configuration did not map; then load it again
    /// without deferring and scan again. `true`: the configuration is the one loading without
    /// deferring gives, and the witnesses are complete.
    pub(crate) fn settle(&mut self, root: &Path) -> bool {
        let Some(unchecked) = self.unchecked.take() else {
            return true;
        };
        if !unchecked.holds(root, &mut self.witnesses) {
            return false;
        }
        self.witnesses.sort();
        self.witnesses.dedup();
        true
    }

    /// The record of the scan cache (settled first), with `config`, what it set. Made only
    /// when a cache is written: a scan without one does not serialise thousands of paths.
    pub(crate) fn record(&self, config: &Config) -> CachedThreatspec {
        let derived = Derived {
            name: config.project.name.clone(),
            description: config.project.description.clone(),
            include: config.scan.include.clone(),
            exclude: config.scan.exclude.clone(),
            extensions: config.languages.extensions.clone(),
            witnesses: self.witnesses.clone(),
        };
        CachedThreatspec {
            yaml: self.yaml.clone(),
            // An unsaved record is never reused: it is derived again.
            derived: serde_json::to_vec(&derived).unwrap_or_default(),
            read: self
                .witnesses
                .iter()
                .filter_map(|(_, seen)| seen.map(|w| (w.mtime, w.ctime)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings kept from an earlier run of a `threatspec.yaml` are only reused for that very
    /// file: not when the kept record does not name it (a forged cache), nor when the file was
    /// replaced by one with the same text (a fresh checkout).
    #[test]
    fn kept_threatspec_settings_need_the_same_file() {
        let dir = tempfile::tempdir().expect("dir");
        let yaml = dir.path().join("threatspec.yaml");
        let text = "project:\n  name: ts\npaths:\n  - src\n";
        std::fs::write(&yaml, text).expect("write");
        let load = |kept: Option<Derived>| {
            let saved = kept.map(|d| serde_json::to_vec(&d).expect("saved"));
            let (_, cached) =
                Config::load_reusing(dir.path(), None, &|_| saved.clone()).expect("loads");
            let (record, reused) = cached.expect("a threatspec.yaml");
            let derived: Derived = serde_json::from_slice(&record.derived).expect("a record");
            (derived, reused)
        };
        let (first, reused) = load(None);
        assert!(!reused);
        assert!(
            first
                .witnesses
                .iter()
                .any(|(p, _)| p.ends_with("threatspec.yaml")),
            "the file witnesses itself"
        );
        let (_, reused) = load(Some(first.clone()));
        assert!(reused, "the same file, unchanged");

        let mut forged = first.clone();
        forged.witnesses.clear();
        forged.exclude = vec!["**".into()];
        let (again, reused) = load(Some(forged));
        assert!(!reused, "a record that does not name the file");
        assert_eq!(again, first);

        let copy = dir.path().join("copy.yaml");
        std::fs::write(&copy, text).expect("write");
        std::fs::rename(&copy, &yaml).expect("rename");
        let (_, reused) = load(Some(first.clone()));
        assert!(!reused, "a new file with the same text");
    }
}
