//! `threatmark report`: one document in one format. Pure: model, analysis, matrix, options
//! and templates in, a string out.

use serde::Serialize;

use super::templates::{self, Escaping, TemplateError, TemplateSet};
use super::view::{self, LinkMode, Options, ReportView};
use super::{csv, dot, mermaid};
use crate::analysis::{Analysis, RiskMatrix};
use crate::model::ThreatModel;

/// The formats of `threatmark report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Markdown,
    Html,
    Mermaid,
    Dot,
    Csv,
    Json,
}

/// The root context of the report templates: the view model plus `base` (always `""`, so
/// that partials shared with the site can write `{{@root.base}}{{href}}`).
#[derive(Debug, Serialize)]
pub(crate) struct ReportContext<'a> {
    pub base: &'static str,
    #[serde(flatten)]
    pub view: &'a ReportView,
}

/// Collapse runs of blank lines (templates are easier to read with spare ones).
fn tidy_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Render a report.
pub(crate) fn render(
    format: Format,
    model: &ThreatModel,
    analysis: &Analysis,
    matrix: &RiskMatrix,
    opts: &Options,
    templates: &TemplateSet,
) -> Result<String, TemplateError> {
    let opts = Options {
        links: LinkMode::Anchors,
        ..opts.clone()
    };
    Ok(match format {
        Format::Mermaid => mermaid::render(model, analysis),
        Format::Dot => dot::render(model, analysis),
        Format::Csv => csv::threats(&view::build(model, analysis, matrix, &opts)),
        Format::Json => {
            let v = view::build(model, analysis, matrix, &opts);
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Markdown => {
            let v = view::build(model, analysis, matrix, &opts);
            let hb = templates.registry(Escaping::Markdown)?;
            let ctx = ReportContext { base: "", view: &v };
            tidy_markdown(&templates::render(&hb, "report.md", &ctx)?)
        }
        Format::Html => {
            let v = view::build(model, analysis, matrix, &opts);
            let hb = templates.registry(Escaping::Html)?;
            let ctx = ReportContext { base: "", view: &v };
            templates::render(&hb, "report.html", &ctx)?
        }
    })
}
