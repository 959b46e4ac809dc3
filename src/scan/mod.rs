//! The scan: walk, prefilter, extract comments, parse annotations, build the model.
//!
//! Three rooms of one pipeline: [`pipeline`] is the pure per-file pipeline ([`process_file`])
//! and the model assembly ([`assemble`]), shared by [`worktree`] (a parallel walk of a folder
//! on disk, [`scan_dir`]) and [`revision`] (a commit read from git, [`scan_rev`]).
//!
//! @component Threatmark:Scanner (#scanner) in #process [type: process]: reads files and runs the per-file pipeline
//! @threat Resource exhaustion by huge files (#huge_files) [stride: D; likelihood: likely; impact: moderate; cwe: 400; actor: #careless_maintainer]:
//! a 2 GB log or a vendored bundle makes the scan run out of memory or time
//! @threat Silent loss of annotations in unreadable files (#silent_loss) [stride: R; likelihood: likely; impact: major; actor: #careless_maintainer]:
//! a binary, mis-encoded or unreadable file drops its threats from the model and nobody notices
//! @control File size limit (#size_limit): files over max_file_size are skipped with TM022
//! @control Every bad file becomes a diagnostic (#diagnose_bad_input): binary, encoding, IO and size problems are reported with the file name, and the scan goes on
//! @control Keyword prefilter (#prefilter): only files containing an annotation keyword reach tree-sitter
//! @mitigates #scanner against #huge_files with #size_limit
//! @mitigates #scanner against #huge_files with #prefilter
//! @mitigates #scanner against #silent_loss with #diagnose_bad_input
//! @connects #scanner to #extractor with file text

use std::hash::BuildHasher;
use std::sync::Mutex;

use crate::config::Config;
use crate::source::filter::WalkError;
use crate::source::git::GitError;

pub(crate) mod finish;
pub(crate) mod pipeline;
pub(crate) mod revision;
pub(crate) mod selection;
pub(crate) mod stats;
pub(crate) mod worktree;

pub use crate::store::snapshot::{Damaged, Origin, Snapshot, Stored};
pub use pipeline::{FileOptions, FileOutcome, ScanResult, assemble, is_candidate, process_file};
pub use revision::{Reuse, RevScan, RevTarget, same_model_by_change, scan_rev};
pub use stats::Stats;
pub(crate) use worktree::walk_watching;
pub use worktree::{ForCache, project_for, scan_dir, scan_dir_cached};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A record of the scan cache does not decode (its checksum makes this all but impossible).
    #[error(transparent)]
    Cache(#[from] Damaged),
}
/// A fingerprint of everything in a configuration (and the build identity). Every field is
/// formatted but `include`, whose paths (thousands, in a Threatspec project that names every
/// file) are hashed as they are; the pattern names every field, so a new one cannot be missed.
pub fn config_key(config: &Config) -> u64 {
    let Config {
        project,
        scan,
        languages,
        risk,
        check,
        report,
        model,
        diagnostics,
        library,
        suggest,
    } = config;
    let crate::config::ScanConfig {
        include,
        exclude,
        output,
        max_file_size,
        parse_timeout_ms,
        follow_symlinks,
        hidden,
        keep,
    } = scan;
    let paths = foldhash::quality::FixedState::with_seed(0x7468_7265_6174_6d6b).hash_one(include);
    let text = format!(
        "{} {project:?} {paths:016x} {exclude:?} {output:?} {max_file_size} {parse_timeout_ms} {follow_symlinks} {hidden} {keep:?} {languages:?} {risk:?} {check:?} {report:?} {model:?} {diagnostics:?} {library:?} {suggest:?}",
        crate::BUILD_ID
    );
    crate::text::fnv1a(text.as_bytes())
}
/// A poisoned lock only means another worker panicked; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key tells configurations apart by their `include` paths (hashed, not formatted) as
    /// by every other field.
    #[test]
    fn the_configuration_key_covers_the_include_paths() {
        let mut a = Config::default();
        a.scan.include = (0..4000).map(|i| format!("src/f{i}.py")).collect();
        let b = a.clone();
        assert_eq!(config_key(&a), config_key(&b));
        let mut changed = a.clone();
        changed.scan.include[3999] = "src/f3999.pyi".into();
        assert_ne!(config_key(&a), config_key(&changed));
        let mut moved = a.clone();
        moved.scan.include.swap(0, 1);
        assert_ne!(config_key(&a), config_key(&moved));
        let mut joined = Config::default();
        joined.scan.include = vec!["a".into(), "b".into()];
        let mut split = Config::default();
        split.scan.include = vec!["ab".into()];
        assert_ne!(config_key(&joined), config_key(&split));
        let mut excluded = a.clone();
        excluded.scan.exclude = vec!["src/f1.py".into()];
        assert_ne!(config_key(&a), config_key(&excluded));
        let mut mapped = a.clone();
        mapped
            .languages
            .extensions
            .insert("tpl".into(), "python".into());
        assert_ne!(config_key(&a), config_key(&mapped));
    }
}
