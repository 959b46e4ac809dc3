//! Where file contents come from: the work tree (`fs`) or a git revision (`git`, with the
//! path rules of `filter`). Both give `(relative path, bytes)` to the
//! same pure per-file pipeline in `scan`, so the same path rules hold everywhere.

pub(crate) mod at;
pub(crate) mod eof;
pub(crate) mod filter;
pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod listing;
