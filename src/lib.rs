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

pub mod annotation;
pub mod cli;
pub mod comments;
pub mod config;
pub mod diagnostic;
pub mod exit;
pub mod lang;
pub mod model;
pub mod output;
pub mod prefilter;
pub mod render;
pub mod scan;
pub mod source;
pub mod text;
