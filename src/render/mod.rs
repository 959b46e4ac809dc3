//! Turning models and diagnostics into text for people and machines. One file per format.

pub(crate) mod analysis;
pub(crate) mod check;
pub(crate) mod csv;
pub(crate) mod diagnostic_formats;
pub mod diagnostics;
pub(crate) mod diff;
pub(crate) mod dot;
pub(crate) mod escape;
pub(crate) mod history;
pub(crate) mod layout;
pub(crate) mod mermaid;
pub(crate) mod report;
pub(crate) mod sarif;
pub(crate) mod site;
pub(crate) mod suggest;
pub(crate) mod summary;
pub(crate) mod svg;
pub(crate) mod templates;
pub(crate) mod timeline;
pub(crate) mod view;

/// The overview data-flow diagram of a model as inline SVG: layout, routing and drawing, the
/// work `site` and `report` do per diagram. Public for benches/diagram.rs.
#[doc(hidden)]
pub fn diagram_svg(
    model: &crate::model::ThreatModel,
    analysis: &crate::analysis::Analysis,
) -> String {
    svg::diagram(&layout::layout(model, analysis), svg::Links::Site)
}
