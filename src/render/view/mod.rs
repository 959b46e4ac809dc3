//! The report view model: what templates receive, documented in docs/templates.md.
//!
//! It is a public interface of its own, separate from `threatmodel.json`: templates see these
//! types, never the internal ones, so the model can evolve without breaking users' templates.
//! [`VIEW_VERSION`] is bumped when a field changes meaning or disappears; adding fields does not
//! bump it. Every field is always present (absent values are `null`, empty lists `[]`), so
//! templates work in handlebars' strict mode. Every list has a fixed order.
//!
//! Strings come out of [`printable`] (no control or bidirectional characters) but are
//! otherwise raw: the template engine escapes them for the output format. The only markup in
//! the view is what threatmark itself generated (`diagram.svg`, `timeline.svg`,
//! `diagram.mermaid`), with every repository string inside it already escaped.
//!
//! The view is built in steps, one file per concern: `types` (what templates see), `refs`
//! (references, source links, risks and findings: the pieces every section is made of),
//! `summary` (counts, heat map, plan), `threats` (threats, controls, actors and their
//! relations), `components` (components and flows) and `boundaries` (boundaries, the outline,
//! the diagram and the timeline).

mod boundaries;
mod components;
mod refs;
mod summary;
#[cfg(test)]
mod tests;
mod threats;
mod types;

pub(crate) use types::*;

use super::escape::printable;
pub(crate) use super::timeline::TimelinePoint;
use crate::analysis::{Analysis, RiskMatrix};
use crate::model::{Nesting, ThreatModel};
use crate::source_url::SourceUrl;

/// Bumped when a field of the view model changes meaning or disappears.
pub(crate) const VIEW_VERSION: u32 = 1;

/// Where links in the view point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LinkMode {
    /// One document: `#anchor`.
    #[default]
    Anchors,
    /// The static site: pages relative to the site root (`threats/sqli.html`).
    Site,
}

/// How to build the view.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// Link template for sources; `None` renders `path:line` only.
    pub source_url: Option<SourceUrl>,
    /// What `{rev}` becomes.
    pub rev: String,
    /// Prepended to every path in `{path}`: the scan root's place in the repository (`""` or
    /// `docs/examples/shop/`).
    pub path_prefix: String,
    pub links: LinkMode,
    /// History points, oldest first; `None` leaves `timeline` null.
    pub timeline: Option<Vec<TimelinePoint>>,
    /// `threatmark suggest`'s suggestions, shown apart from threats on component pages.
    pub suggested: Vec<crate::analysis::suggest::Suggestion>,
}

/// What every step reads: the model, its analysis and the options.
struct Builder<'a> {
    model: &'a ThreatModel,
    /// The boundaries' nesting, shared with the diagram so both agree on a cycle.
    nesting: Nesting<'a>,
    analysis: &'a Analysis,
    matrix: &'a RiskMatrix,
    opts: &'a Options,
}

/// Build the view of a model and its analysis.
pub(crate) fn build(
    model: &ThreatModel,
    analysis: &Analysis,
    matrix: &RiskMatrix,
    opts: &Options,
) -> ReportView {
    let b = Builder {
        model,
        nesting: model.boundary_nesting(),
        analysis,
        matrix,
        opts,
    };
    let flows = b.flows();
    ReportView {
        view_version: VIEW_VERSION,
        project: ProjectView {
            name: printable(&model.project.name),
            description: printable(&model.project.description),
        },
        analysis_date: analysis.date.map(|d| d.to_string()),
        source_links: opts.source_url.is_some(),
        summary: b.summary(),
        matrix: b.heat_map(),
        plan: b.plan(),
        threats: b.threats(),
        controls: b.controls(),
        components: b.components(&flows),
        boundaries: b.boundaries(&flows),
        outline: b.outline(),
        actors: b.actors(),
        flows,
        findings: analysis.findings.iter().map(|f| b.finding(f)).collect(),
        coverage: analysis.coverage.iter().map(|c| b.coverage(c)).collect(),
        diagram: b.diagram(),
        timeline: b.timeline(),
        entitlements: model
            .entitlements
            .iter()
            .map(|e| b.entitlement(e))
            .collect(),
        assumptions: model.assumptions.iter().map(|a| b.assumption(a)).collect(),
        features: model
            .features
            .iter()
            .map(|f| FeatureView {
                name: printable(&f.link.name),
                description: printable(&f.description),
                sources: b.sources(&f.sources),
            })
            .collect(),
    }
}
