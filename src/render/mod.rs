//! Turning models and diagnostics into text for people and machines. One file per format.

pub mod analysis;
pub(crate) mod check;
pub mod csv;
pub mod diagnostic_formats;
pub mod diagnostics;
pub mod diff;
pub mod dot;
pub mod escape;
pub(crate) mod history;
pub mod layout;
pub mod mermaid;
pub mod report;
pub mod sarif;
pub mod site;
pub mod summary;
pub mod svg;
pub mod templates;
pub mod timeline;
pub mod view;
