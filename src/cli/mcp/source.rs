//! The MCP server's only door to the threat model. Every tool asks [`Source::current`] for the
//! model, its dated analysis and its diagnostics, and [`Source::validate`] for a snippet's
//! diagnostics; nothing else in `cli::mcp` scans. Today it re-runs the work-tree scan on each
//! call: the scan cache (`store::scan_cache`) makes that a stat of every file plus the model
//! assembly when nothing changed, and always current when something did (an agent that just
//! wrote a file sees it). An in-memory incremental workspace can replace this type without
//! touching the tools.

use std::collections::HashMap;
use std::sync::Arc;

use crate::analysis::Analysis;
use crate::cli::RootArgs;
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::scan::{self, FileOptions, FileOutcome};

/// A snapshot of the repository's model.
#[derive(Debug)]
pub(crate) struct Current {
    pub(crate) config: Config,
    pub(crate) result: scan::ScanResult,
    /// Dated with today, so expired acceptances count as open.
    pub(crate) analysis: Analysis,
    /// The scan's diagnostics after `[diagnostics]` and `threatmark: ignore` comments.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// What a snippet would add.
#[derive(Debug)]
pub(crate) struct Validation {
    /// The repository path the snippet was read as (its language decides the comment syntax).
    pub(crate) path: String,
    /// How many annotations were found in it.
    pub(crate) annotations: usize,
    /// Diagnostics that the model with the snippet has and the model without it has not.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The snippet's text, for carets.
    pub(crate) sources: std::collections::BTreeMap<String, Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct Source {
    root: RootArgs,
    threads: Option<usize>,
    /// The outcomes of the annotated files, re-read from their text for validations, kept
    /// while the text is the same.
    outcomes: HashMap<String, (Arc<str>, FileOutcome)>,
}

impl Source {
    pub(crate) fn new(root: RootArgs, threads: Option<usize>) -> Self {
        Self {
            root,
            threads,
            outcomes: HashMap::new(),
        }
    }

    /// The model as the files are now.
    pub(crate) fn current(&mut self) -> anyhow::Result<Arc<Current>> {
        let (config, result) = crate::cli::scan::scan_root(&self.root, self.threads, true)?;
        let analysis = crate::analysis::analyze(
            &result.model,
            &config.risk,
            Some(crate::date::Date::today()),
        );
        let diagnostics = crate::cli::scan::select(&config, &result)?.diagnostics;
        Ok(Arc::new(Current {
            config,
            result,
            analysis,
            diagnostics,
        }))
    }

    /// The diagnostics `snippet` would bring if it were written into `path` (a repository
    /// path; it decides the language, so the snippet is written with that language's comment
    /// markers), in the context of every other annotation of the repository. Without a path
    /// the snippet is bare annotation text (one annotation per line, no comment markers).
    /// Nothing is written.
    pub(crate) fn validate(
        &mut self,
        snippet: &str,
        path: Option<&str>,
    ) -> anyhow::Result<Validation> {
        let current = self.current()?;
        let opts = FileOptions::from_config(&current.config);
        // The annotated files' outcomes, from the text the scan kept for them.
        let texts = &current.result.sources;
        self.outcomes.retain(|path, _| texts.contains_key(path));
        for (path, text) in texts {
            let fresh = self
                .outcomes
                .get(path)
                .is_some_and(|(kept, _)| kept == text);
            if !fresh {
                let outcome = scan::process_file(path, text.as_bytes(), &opts);
                self.outcomes
                    .insert(path.clone(), (Arc::clone(text), outcome));
            }
        }
        let rel = match path.map(normalise).filter(|p| !p.is_empty()) {
            Some(p) => p,
            None => SNIPPET.to_string(),
        };
        let added = scan::process_file(&rel, snippet.as_bytes(), &opts);
        let mut others: Vec<&FileOutcome> = self.outcomes.values().map(|(_, o)| o).collect();
        let project = current.result.model.project.clone();
        let limits = current.config.model.limits();
        let assemble = |outcomes: &[&FileOutcome]| {
            let mut stats = scan::Stats::default();
            scan::assemble(
                project.clone(),
                outcomes,
                &current.config.risk,
                limits,
                &mut stats,
            )
            .diagnostics
        };
        let before = assemble(&others);
        others.push(&added);
        let mut after = assemble(&others);
        // What is new: each diagnostic of `after` not matched by one of `before`.
        let mut unmatched = before;
        after.retain(|d| match unmatched.iter().position(|b| b == d) {
            Some(i) => {
                unmatched.swap_remove(i);
                false
            }
            None => true,
        });
        let selected = crate::cli::selection::select(&current.config, &[], after, &[])?;
        let mut sources = std::collections::BTreeMap::new();
        sources.insert(rel.clone(), Arc::<str>::from(snippet));
        Ok(Validation {
            path: rel,
            annotations: added.annotations.len(),
            diagnostics: selected.diagnostics,
            sources,
        })
    }
}

/// The name a snippet without a path is read under: design text, the whole of it annotation
/// lines.
const SNIPPET: &str = "snippet.txt";

/// A path as the scan writes them: `/` separators, no leading `./`.
fn normalise(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.trim_start_matches('/').to_string()
}
