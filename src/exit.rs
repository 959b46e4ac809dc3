//! Exit codes are part of the CLI contract: CI pipelines branch on them.

use std::process::ExitCode;

/// Everything went fine (diagnostics may still have been printed).
pub(crate) const OK: u8 = 0;
/// A policy or check failed: `--strict` with errors, a failing `check`.
pub(crate) const FAILED: u8 = 1;
/// Usage error or IO error: bad flags, unreadable config, unwritable output.
pub(crate) const ERROR: u8 = 2;

pub(crate) fn code(n: u8) -> ExitCode {
    ExitCode::from(n)
}
