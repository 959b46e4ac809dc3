//! The record the stores keep for one file: what the per-file pipeline produced. It lives with
//! the store, below the scan, so the blob cache, the revision snapshots and the work-tree scan
//! cache can persist it without knowing how it is produced (the scan fills them).

use std::sync::Arc;

use crate::annotation::Annotation;
use crate::diagnostic::Diagnostic;

/// What one file contributed.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FileOutcome {
    pub path: String,
    pub annotations: Vec<Annotation>,
    pub diagnostics: Vec<Diagnostic>,
    /// Its `threatmark: ignore[...]` comments (applied by the commands, not the scan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<crate::suppress::Suppression>,
    /// The decoded text, kept only when a diagnostic may point into it (for the caret).
    #[serde(skip)]
    pub text: Option<Arc<str>>,
    /// The file passed the prefilter.
    pub matched: bool,
    pub binary: bool,
    /// tree-sitter ran out of time on it: never cached (the next run, on a quieter machine,
    /// may parse it). A saved outcome never has it.
    #[serde(skip)]
    pub timed_out: bool,
}

/// A record for tests of the stores, without the per-file pipeline: `text`'s lines parsed as
/// comment lines once their `#` or `//` marker is blanked (offsets kept); NUL bytes make it a
/// binary file, as the pipeline would.
#[cfg(test)]
pub(crate) fn parsed(path: &str, text: &str) -> FileOutcome {
    if text.contains('\0') {
        return FileOutcome {
            path: path.to_string(),
            binary: true,
            ..FileOutcome::default()
        };
    }
    let blanked: String = text
        .split_inclusive('\n')
        .map(|line| {
            let marker = ["// ", "# "].iter().find(|m| line.starts_with(**m));
            match marker {
                Some(m) => format!("{}{}", " ".repeat(m.len()), &line[m.len()..]),
                None => {
                    " ".repeat(line.trim_end_matches('\n').len())
                        + if line.ends_with('\n') { "\n" } else { "" }
                }
            }
        })
        .collect();
    let (annotations, diagnostics) = crate::annotation::parse_text(path, &blanked);
    let keep = !annotations.is_empty() || diagnostics.iter().any(|d| d.span.is_some());
    FileOutcome {
        path: path.to_string(),
        text: keep.then(|| Arc::from(text)),
        annotations,
        diagnostics,
        matched: true,
        ..FileOutcome::default()
    }
}
