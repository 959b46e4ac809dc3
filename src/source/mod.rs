//! Where file contents come from: the work tree (`fs`). Both give `(relative path, bytes)` to the
//! same pure per-file pipeline in `scan`, so the same path rules hold everywhere.

pub mod fs;
