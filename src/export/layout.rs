//! Positions for the exported diagrams. The boxes of boundaries and components are exactly the
//! ones of the site's SVG diagram ([`crate::render::layout`]), so both pictures agree; threat
//! actors, which that diagram does not draw, go in a row below it.

use std::collections::BTreeMap;

use crate::analysis::Analysis;
use crate::model::ThreatModel;
use crate::render::layout as site;

pub use site::Rect;

/// Width and height of a threat actor's box.
pub const ACTOR_W: i32 = 150;
pub const ACTOR_H: i32 = 60;
const ACTOR_GAP: i32 = 30;
const ACTOR_TOP_GAP: i32 = 50;
const MARGIN: i32 = 12;

/// Where everything goes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Positions {
    pub width: i32,
    pub height: i32,
    pub boundaries: BTreeMap<String, Rect>,
    /// Boundary id → nesting depth (0 for an outermost boundary).
    pub depth: BTreeMap<String, usize>,
    pub components: BTreeMap<String, Rect>,
    pub actors: BTreeMap<String, Rect>,
}

/// Lay out the model: the site diagram, then the threat actors in a row below it.
pub fn positions(model: &ThreatModel, analysis: &Analysis) -> Positions {
    let lay = site::layout(model, analysis);
    let mut out = Positions {
        width: lay.width,
        height: lay.height,
        ..Positions::default()
    };
    for b in lay.boundaries {
        out.depth.insert(b.id.clone(), b.depth);
        out.boundaries.insert(b.id, b.rect);
    }
    for n in lay.nodes {
        out.components.insert(n.id, n.rect);
    }
    let top = if model.components.is_empty() && model.boundaries.is_empty() {
        MARGIN
    } else {
        lay.height + ACTOR_TOP_GAP
    };
    let mut x = MARGIN;
    for a in &model.actors {
        out.actors.insert(
            a.id.clone(),
            Rect {
                x,
                y: top,
                w: ACTOR_W,
                h: ACTOR_H,
            },
        );
        x += ACTOR_W + ACTOR_GAP;
    }
    if !model.actors.is_empty() {
        out.width = out.width.max(x - ACTOR_GAP + MARGIN);
        out.height = top + ACTOR_H + MARGIN;
    }
    out
}
