//! threatmark: threat modeling as code.
//!
//! Annotations in ordinary comments (`@threat`, `@mitigates`, `@boundary`, ...) are found with
//! tree-sitter, parsed, and assembled into a deterministic, git-diffable threat model.
//!
//! The crate is layered so that the interesting parts are pure functions:
//!
//! - [`annotation`] parses comment text into annotations (pure);
//! - [`model`] builds and validates the model from annotations (pure);
//! - [`lang`] and [`comments`] find comments in source text with tree-sitter (pure, CPU only);
//! - [`source`], [`scan`], [`render`] and [`cli`] are the IO shell around them.
//!
//! `main.rs` only calls [`cli::main`].
//!
//! Threatmark's own threat model lives in these annotations (see docs/security.md).
//!
//! @boundary Scanned repository (#repo): files written by anyone who can open a pull request
//! @boundary threatmark process (#process): the scanner running on a developer's or CI machine
//! @boundary Model consumers (#consumers): people and pipelines that read what threatmark writes
//! @actor Malicious contributor (#malicious_contributor): plants hostile files or annotations in a repository that is later scanned
//! @actor Careless maintainer (#careless_maintainer): commits huge, binary or broken files without malice
//! @component Threatmark:CLI (#cli) in #process [type: process]: argument parsing, exit codes, output paths
//! @component Repository files (#repo_files) in #repo [type: store]: source files, ignore files and threatmark.toml
//! @component Model file (#model_file) in #consumers [type: store]: threatmodel.json, committed and diffed
//! @component CI pipeline (#ci) in #consumers [type: external]: gates merges on the model
//! @connects #repo_files to #walker with file reads
//! @connects #model_file to #ci with threatmodel.json

/// What the caches under `.git/threatmark/` are keyed by besides their own format: the version
/// and a hash of the sources and locked grammars (see `build.rs`), so that a cache written by
/// another build is never trusted.
pub const BUILD_ID: &str = env!("THREATMARK_BUILD_ID");

pub mod analysis;
pub mod annotation;
pub mod cli;
pub mod comments;
pub mod config;
pub mod date;
pub mod diagnostic;
pub(crate) mod diff;
pub(crate) mod exit;
pub mod export;
pub(crate) mod gate;
pub mod import;
pub(crate) mod input;
pub mod lang;
pub mod merge;
pub mod model;
pub(crate) mod output;
pub(crate) mod prefilter;
pub mod render;
pub mod scan;
pub(crate) mod source;
pub(crate) mod source_url;
pub(crate) mod store;
pub mod suppress;
pub mod text;
pub(crate) mod timings;
pub(crate) mod workspace;
