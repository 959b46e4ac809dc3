//! What a scan counted, for the summary line: its own file so that render, which prints the
//! summary, depends on these counters and not on the scan itself.

use std::time::Duration;

/// Counters for the summary line.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub files_seen: usize,
    pub files_read: usize,
    pub files_matched: usize,
    pub files_annotated: usize,
    pub binary_skipped: usize,
    pub bytes_read: u64,
    pub annotations: usize,
    pub elapsed: Duration,
}
