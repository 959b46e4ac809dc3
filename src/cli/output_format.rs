//! `--output-format` of `scan` and `analyze`: how diagnostics are printed. They always go to
//! stderr, whatever the format, so stdout stays the command's product (a model, a table) and
//! the two never mix; GitHub Actions reads workflow commands on stderr too.

use std::collections::BTreeMap;
use std::sync::Arc;

use clap::ValueEnum;

use crate::analysis::{Finding, RiskMatrix};
use crate::diagnostic::Diagnostic;
use crate::render;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// Like rustc: the source line, a caret under the annotation and a help line.
    #[default]
    Full,
    /// One line each: `path:line:col: severity[TMxxx] message`.
    Concise,
    /// One JSON object per line (docs/output-formats.md describes the fields).
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
    /// A SARIF 2.1.0 log, for code scanning.
    Sarif,
}

impl DiagnosticFormat {
    /// A format for programs: no summary and no progress bar around it on stderr.
    pub fn is_machine(self) -> bool {
        matches!(self, Self::Json | Self::Sarif | Self::Github)
    }

    /// Is the rendering of a list the rendering of each diagnostic, one after the other? Then a
    /// list may be rendered in pieces, on several threads, and the pieces joined in order.
    /// SARIF is one document.
    pub(crate) fn renders_each(self) -> bool {
        !matches!(self, Self::Sarif)
    }

    /// The diagnostics (and, for `analyze`, the findings) in this format. `findings_as` turns
    /// findings into diagnostics for every format but SARIF, which rates them natively.
    pub fn render(
        self,
        diagnostics: &[Diagnostic],
        findings: &[Finding],
        sources: &BTreeMap<String, Arc<str>>,
        matrix: &RiskMatrix,
        color: bool,
    ) -> String {
        let all = || {
            let mut all = diagnostics.to_vec();
            all.extend(super::analyze::findings_as_diagnostics(findings, sources));
            all
        };
        match self {
            Self::Full => render::diagnostics::render(&all(), sources, color),
            Self::Concise => render::diagnostic_formats::concise(&all(), sources),
            Self::Json => render::diagnostic_formats::json_lines(&all(), sources),
            Self::Github => render::diagnostic_formats::github(&all(), sources),
            Self::Sarif => {
                let opts = render::sarif::Options::new(matrix);
                render::sarif::sarif(diagnostics, findings, &[], &opts)
            }
        }
    }
}
