//! What persists between runs, under `.git/threatmark/`: the blob cache and revision snapshots
//! (`cache`), the work-tree scan cache (`scan_cache`) and the `scan` command's memo of its results (`memo`) and the record format they share
//! (`snapshot`), and the record each of them keeps for a file (`record`). It reads git through `source` and never the other way round: `source` only
//! reads the repository and knows nothing of what is kept.

pub(crate) mod cache;
pub(crate) mod memo;
pub(crate) mod record;
pub(crate) mod scan_cache;
pub(crate) mod snapshot;
