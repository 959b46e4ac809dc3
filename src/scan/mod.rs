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
/// A fingerprint of everything in a configuration (and the build identity).
pub fn config_key(config: &Config) -> u64 {
    crate::text::fnv1a(format!("{} {config:?}", crate::BUILD_ID).as_bytes())
}
/// A poisoned lock only means another worker panicked; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
