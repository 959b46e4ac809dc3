//! Turning models and diagnostics into text for people and machines. One file per format.

pub mod analysis;
pub mod diagnostics;
pub mod diff;
pub mod sarif;
pub mod summary;
