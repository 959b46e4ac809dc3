//! The MCP server's only door to the threat model. Every tool asks [`Source::current`] for the
//! model, its dated analysis and its diagnostics, and [`Source::validate`] for a snippet's
//! diagnostics; nothing else in `cli::mcp` reads the repository. It holds the editor servers'
//! in-memory [`Workspace`] (the one `threatmark lsp` keeps): opened at the first call, and
//! refreshed at each later one (a walk and a stat per file; only changed files are read
//! again, and the model is rebuilt only when something changed), so an agent that just wrote
//! a file sees it. The workspace completes and selects as `scan` does (`scan::finish`,
//! `scan::selection`), so the model is the one `scan -o` writes, byte for byte.

use std::sync::Arc;

use crate::analysis::Analysis;
use crate::cli::RootArgs;
use crate::date::Date;
use crate::diagnostic::Diagnostic;
use crate::model::ThreatModel;
use crate::scan::{self, FileOutcome};
use crate::workspace::Workspace;

/// The repository's model as the files are now, borrowed from the workspace.
#[derive(Debug)]
pub(crate) struct Current<'w> {
    pub(crate) model: &'w ThreatModel,
    /// Dated with today, so expired acceptances count as open.
    pub(crate) analysis: Arc<Analysis>,
    /// The scan's diagnostics after `[diagnostics]` and `threatmark: ignore` comments.
    pub(crate) diagnostics: &'w [Diagnostic],
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
    workspace: Option<Workspace>,
    /// The dated analysis of a workspace generation, kept while the model and the day are the
    /// same.
    analysis: Option<(u64, Date, Arc<Analysis>)>,
}

impl Source {
    pub(crate) fn new(root: RootArgs, threads: Option<usize>) -> Self {
        Self {
            root,
            threads,
            workspace: None,
            analysis: None,
        }
    }

    /// The workspace, opened at the first call and brought up to date with the disk at each.
    fn workspace(&mut self) -> anyhow::Result<&Workspace> {
        let ws = match self.workspace.take() {
            Some(mut ws) => {
                ws.refresh()?;
                ws
            }
            None => {
                Workspace::open_with(self.root.dir(), self.root.config.as_deref(), self.threads)?
            }
        };
        let ws = self.workspace.insert(ws);
        if let Some(why) = ws.broken() {
            anyhow::bail!("{why}");
        }
        Ok(ws)
    }

    /// The model as the files are now.
    pub(crate) fn current(&mut self) -> anyhow::Result<Current<'_>> {
        let kept = self.analysis.clone();
        let ws = self.workspace()?;
        let today = Date::today();
        let analysis = match kept {
            Some((generation, day, a)) if generation == ws.generation() && day == today => a,
            _ => Arc::new(crate::analysis::analyze(
                ws.model(),
                &ws.config().risk,
                Some(today),
            )),
        };
        let generation = ws.generation();
        // Reborrow after the cache update: the workspace is not changed any more.
        self.analysis = Some((generation, today, Arc::clone(&analysis)));
        let ws = self
            .workspace
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the workspace is not open"))?;
        Ok(Current {
            model: ws.model(),
            analysis,
            diagnostics: ws.diagnostics(),
        })
    }

    /// The diagnostics `snippet` would bring if it were written into `path` (a repository
    /// path; it decides the language, so the snippet is written with that language's comment
    /// markers), in the context of every other annotation of the repository. Without a path
    /// the snippet is bare annotation text (one annotation per line, no comment markers).
    /// Nothing is written, and the workspace is not changed: the snippet is assembled with
    /// the workspace's outcomes as one more file.
    pub(crate) fn validate(
        &mut self,
        snippet: &str,
        path: Option<&str>,
    ) -> anyhow::Result<Validation> {
        let ws = self.workspace()?;
        let opts = ws.file_options();
        let rel = match path.map(normalise).filter(|p| !p.is_empty()) {
            Some(p) => p,
            None => SNIPPET.to_string(),
        };
        let added = scan::process_file(&rel, snippet.as_bytes(), opts);
        let mut others: Vec<&FileOutcome> = ws.outcomes().collect();
        let project = ws.model().project.clone();
        let config = ws.config();
        let limits = config.model.limits();
        let assemble = |outcomes: &[&FileOutcome]| {
            let mut stats = scan::Stats::default();
            scan::assemble(project.clone(), outcomes, &config.risk, limits, &mut stats).diagnostics
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
        let selected = scan::selection::select(config, &[], after, &[])?;
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
