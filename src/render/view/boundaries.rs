//! The boundary section, the outline of the nesting, the diagram and the timeline.

use std::collections::BTreeSet;

use super::*;
use crate::render::escape::printable;
use crate::render::{layout, mermaid, svg};

impl Builder<'_> {
    /// Every boundary with its path, what sits inside it and the flows that cross it.
    pub(super) fn boundaries(&self, flows: &[FlowView]) -> Vec<BoundaryView> {
        let (model, b) = (self.model, self);
        model
            .boundaries
            .iter()
            .map(|bd| {
                let path: Vec<ItemRef> = b
                    .boundary_ancestors(&bd.id)
                    .iter()
                    .map(|x| b.boundary(x))
                    .collect();
                let inside: Vec<ItemRef> = model
                    .components
                    .iter()
                    .filter(|c| {
                        c.extra.boundary.as_deref().is_some_and(|x| {
                            x == bd.id || b.nesting.ancestors(x).any(|a| a == bd.id)
                        })
                    })
                    .map(|c| b.component(&c.id))
                    .collect();
                let mut direct: Vec<&str> =
                    bd.extra.components.iter().map(String::as_str).collect();
                direct.extend(
                    model
                        .components
                        .iter()
                        .filter(|c| c.extra.boundary.as_deref() == Some(bd.id.as_str()))
                        .map(|c| c.id.as_str()),
                );
                let direct: BTreeSet<&str> = direct.into_iter().collect();
                BoundaryView {
                    item: b.boundary(&bd.id),
                    description: printable(&bd.description),
                    parent: bd.extra.parent.as_deref().map(|p| b.boundary(p)),
                    depth: path.len(),
                    path,
                    boundaries: model
                        .boundaries
                        .iter()
                        .filter(|x| x.extra.parent.as_deref() == Some(bd.id.as_str()))
                        .map(|x| b.boundary(&x.id))
                        .collect(),
                    components: direct.into_iter().map(|c| b.component(c)).collect(),
                    all_components: inside,
                    crossings: flows
                        .iter()
                        .filter(|f| f.crosses.iter().any(|x| x.id == bd.id))
                        .cloned()
                        .collect(),
                    sources: b.sources(&bd.sources),
                }
            })
            .collect()
    }

    /// The nesting as the diagram draws it, as indented rows; loose components last.
    pub(super) fn outline(&self) -> Vec<OutlineRow> {
        let (model, b) = (self.model, self);
        let mut outline = Vec::new();
        fn walk(g: &layout::Group, depth: usize, b: &Builder<'_>, out: &mut Vec<OutlineRow>) {
            for sub in &g.groups {
                if let Some(id) = &sub.boundary {
                    let mut comps = sub.components.clone();
                    comps.sort();
                    out.push(OutlineRow {
                        depth,
                        indent: "  ".repeat(depth),
                        boundary: Some(b.boundary(id)),
                        components: comps.iter().map(|c| b.component(c)).collect(),
                    });
                    walk(sub, depth + 1, b, out);
                }
            }
        }
        let tree = layout::containment(model);
        walk(&tree, 0, b, &mut outline);
        if !tree.components.is_empty() {
            let mut comps = tree.components.clone();
            comps.sort();
            outline.push(OutlineRow {
                depth: 0,
                indent: String::new(),
                boundary: None,
                components: comps.iter().map(|c| b.component(c)).collect(),
            });
        }
        outline
    }

    pub(super) fn diagram(&self) -> DiagramView {
        let (model, analysis, opts) = (self.model, self.analysis, self.opts);
        let lay = layout::layout(model, analysis);
        let svg_links = match opts.links {
            LinkMode::Anchors => svg::Links::Anchors,
            LinkMode::Site => svg::Links::Site,
        };
        DiagramView {
            mermaid: mermaid::render(model, analysis),
            svg: svg::diagram(&lay, svg_links),
            boundaries: lay.boundaries.len(),
        }
    }

    pub(super) fn timeline(&self) -> Option<TimelineView> {
        self.opts.timeline.as_ref().map(|points| TimelineView {
            svg: svg::timeline(points),
            points: points
                .iter()
                .map(|p| TimelinePoint {
                    subject: printable(&p.subject),
                    commit: printable(&p.commit),
                    date: printable(&p.date),
                    ..p.clone()
                })
                .collect(),
        })
    }
}
