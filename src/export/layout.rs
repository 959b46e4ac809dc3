//! Positions for the exported diagrams. The boxes of boundaries and components are exactly the
//! ones of the site's SVG diagram ([`crate::render::layout`]), so both pictures agree; threat
//! actors, which that diagram does not draw, go in a row below it.
//!
//! Threat Dragon never wraps a name and draws a process as a circle, so its export grows each
//! shape to hold its name (`node_size`), stretches the picture to make room (`stretch`) and
//! moves flow labels off the shapes (`label_offsets`).
//!
//! @control Bounded export layout (#bounded_export_layout): a name makes its Threat Dragon shape at most 1,000 px wide, and a flow label tries at most 153 places, each against only the shapes and labels within reach, so a hostile model can neither stretch the export without bound nor make label placement cost flows times shapes
//! @mitigates #cli against #structural_exhaustion with #bounded_export_layout

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

/// The size in px Threat Dragon (AntV X6) draws node and flow labels in.
pub(crate) const FONT_SIZE: f64 = 14.0;
/// Room between a label and its shape's outline, each side.
const LABEL_PAD: i32 = 12;
/// How far a flow label keeps from a node's box and from another label.
const LABEL_CLEARANCE: i32 = 4;
/// The widest a name makes its shape (about 110 characters): a name longer than that overflows
/// its shape rather than stretching the whole picture without bound.
const MAX_LABEL_W: i32 = 1000;

/// The width of `text` in px at `size` px, estimated from its characters (no font is read, so
/// the answer is the same everywhere): 0.6 em a character, 1 em for a wide one (CJK, emoji).
pub(crate) fn text_width(text: &str, size: f64) -> i32 {
    let ems: f64 = text
        .chars()
        .map(|c| if u32::from(c) >= 0x2E80 { 1.0 } else { 0.6 })
        .sum();
    // At most a few thousand px: far below `i32::MAX` whatever the name.
    (ems * size).ceil().min(1e6) as i32
}

/// The height of one line of text at `size` px.
pub(crate) fn text_height(size: f64) -> i32 {
    (size * 1.2).ceil() as i32
}

/// The box a node needs for its label on one line: a circle (a process) needs a square the
/// label fits across, a box the label's width; neither shrinks below `rect`.
pub(crate) fn node_size(label: &str, round: bool, rect: Rect) -> (i32, i32) {
    let w = text_width(label, FONT_SIZE).min(MAX_LABEL_W) + 2 * LABEL_PAD;
    if round {
        let d = w.max(rect.h).max(rect.w.min(w));
        (d, d)
    } else {
        (
            w.max(rect.w),
            (text_height(FONT_SIZE) + 2 * LABEL_PAD).max(rect.h),
        )
    }
}

/// The picture stretched so that each component and actor gets the size `size` asks for, in
/// the place it had: every coordinate is scaled (x and y by their own factor, the smallest
/// that lets every grown box fit inside its scaled old one) and each grown box is centred in
/// its scaled old one. Boxes that did not overlap still do not, and a box inside a boundary
/// stays inside it.
pub(crate) fn stretch(pos: &Positions, size: impl Fn(&str, bool, Rect) -> (i32, i32)) -> Positions {
    let components: BTreeMap<&str, (i32, i32)> = pos
        .components
        .iter()
        .map(|(id, r)| (id.as_str(), size(id, false, *r)))
        .collect();
    let actors: BTreeMap<&str, (i32, i32)> = pos
        .actors
        .iter()
        .map(|(id, r)| (id.as_str(), size(id, true, *r)))
        .collect();
    let (mut sx, mut sy) = (1.0f64, 1.0f64);
    for (rect, (w, h)) in pos
        .components
        .values()
        .zip(components.values())
        .chain(pos.actors.values().zip(actors.values()))
    {
        sx = sx.max(f64::from(*w) / f64::from(rect.w.max(1)));
        sy = sy.max(f64::from(*h) / f64::from(rect.h.max(1)));
    }
    let at = |v: i32, s: f64| (f64::from(v) * s).round() as i32;
    let scale = |r: Rect| {
        let (x, y) = (at(r.x, sx), at(r.y, sy));
        Rect {
            x,
            y,
            w: at(r.x + r.w, sx) - x,
            h: at(r.y + r.h, sy) - y,
        }
    };
    let grow = |r: Rect, (w, h): (i32, i32)| {
        let s = scale(r);
        Rect {
            x: s.x + (s.w - w) / 2,
            y: s.y + (s.h - h) / 2,
            w,
            h,
        }
    };
    Positions {
        width: at(pos.width, sx),
        height: at(pos.height, sy),
        boundaries: pos
            .boundaries
            .iter()
            .map(|(id, r)| (id.clone(), scale(*r)))
            .collect(),
        depth: pos.depth.clone(),
        components: pos
            .components
            .iter()
            .map(|(id, r)| (id.clone(), grow(*r, components[id.as_str()])))
            .collect(),
        actors: pos
            .actors
            .iter()
            .map(|(id, r)| (id.clone(), grow(*r, actors[id.as_str()])))
            .collect(),
    }
}

/// A node as a flow sees it: its box, and whether it is drawn as the circle inside the box.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub rect: Rect,
    pub round: bool,
}

/// A point.
type Point = (f64, f64);

/// Where the line from the centre of `node` towards `to` leaves its outline (a circle of the
/// box's smaller side, or the box): where Threat Dragon starts or ends the flow.
fn exit(node: Node, to: Point) -> Point {
    let (cx, cy) = node.rect.center();
    let (vx, vy) = (to.0 - cx, to.1 - cy);
    let len = vx.hypot(vy);
    if len < 1e-9 {
        return (cx, cy);
    }
    let s = if node.round {
        f64::from(node.rect.w.min(node.rect.h)) / 2.0 / len
    } else {
        let sx = f64::from(node.rect.w) / 2.0 / vx.abs();
        let sy = f64::from(node.rect.h) / 2.0 / vy.abs();
        sx.min(sy)
    };
    let s = s.min(1.0);
    (cx + vx * s, cy + vy * s)
}

/// The two ends of a flow from `a` to `b` and their midpoint, which is where the middle of
/// Threat Dragon's `smooth` curve is (the curve is symmetric about it).
pub(crate) fn flow_ends(a: Node, b: Node) -> (Point, Point, Point) {
    let p = exit(a, b.rect.center());
    let q = exit(b, a.rect.center());
    (p, q, ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0))
}

/// The box of a flow label `text` centred on `at`.
pub(crate) fn label_box(text: &str, at: Point) -> Rect {
    let w = text_width(text, FONT_SIZE) + 8;
    let h = text_height(FONT_SIZE) + 4;
    Rect {
        x: (at.0 - f64::from(w) / 2.0).round() as i32,
        y: (at.1 - f64::from(h) / 2.0).round() as i32,
        w,
        h,
    }
}

fn overlaps(a: Rect, b: Rect, clearance: i32) -> bool {
    a.x < b.x + b.w + clearance
        && b.x < a.x + a.w + clearance
        && a.y < b.y + b.h + clearance
        && b.y < a.y + a.h + clearance
}

/// An offset for each flow's label from the middle of its flow (`flows` holds the two ends'
/// ids and the label), chosen in order so that no label covers a node or an earlier label:
/// the nearest free place along the flow, then beside it. A flow with an end that is not in
/// `nodes` gets no offset; so does one with no free place near it.
pub(crate) fn label_offsets(
    nodes: &BTreeMap<String, Node>,
    flows: &[(&str, &str, &str)],
) -> Vec<(i32, i32)> {
    const ALONG: [f64; 9] = [0.0, -0.08, 0.08, -0.16, 0.16, -0.24, 0.24, -0.32, 0.32];
    const BESIDE: i32 = 8;
    const STEP: f64 = 14.0;
    let mut placed: Vec<Rect> = Vec::new();
    let mut out = Vec::with_capacity(flows.len());
    for (source, target, text) in flows {
        let (Some(a), Some(b)) = (nodes.get(*source), nodes.get(*target)) else {
            out.push((0, 0));
            continue;
        };
        let (p, q, mid) = flow_ends(*a, *b);
        let len = (q.0 - p.0).hypot(q.1 - p.1);
        let (ux, uy) = if len < 1e-9 {
            (1.0, 0.0)
        } else {
            ((q.0 - p.0) / len, (q.1 - p.1) / len)
        };
        let mut candidates: Vec<(f64, (i32, i32))> = Vec::new();
        for t in ALONG {
            for k in -BESIDE..=BESIDE {
                let along = t * len;
                let beside = f64::from(k) * STEP;
                let dx = (along * ux - beside * uy).round() as i32;
                let dy = (along * uy + beside * ux).round() as i32;
                candidates.push((along.abs() + beside.abs(), (dx, dy)));
            }
        }
        // A stable sort: equal costs keep the order above, so the choice is deterministic.
        candidates.sort_by(|x, y| x.0.total_cmp(&y.0));
        // Only what a candidate can reach is tested, so a big diagram costs what its
        // neighbourhoods cost, not flows x candidates x shapes.
        let reach = {
            let (lo_x, hi_x) = candidates
                .iter()
                .fold((0, 0), |(lo, hi), c| (lo.min(c.1.0), hi.max(c.1.0)));
            let (lo_y, hi_y) = candidates
                .iter()
                .fold((0, 0), |(lo, hi), c| (lo.min(c.1.1), hi.max(c.1.1)));
            let middle = label_box(text, mid);
            Rect {
                x: middle.x.saturating_add(lo_x),
                y: middle.y.saturating_add(lo_y),
                w: middle.w.saturating_add(hi_x - lo_x),
                h: middle.h.saturating_add(hi_y - lo_y),
            }
        };
        let near_nodes: Vec<Rect> = nodes
            .values()
            .map(|n| n.rect)
            .filter(|r| overlaps(reach, *r, LABEL_CLEARANCE))
            .collect();
        let near_labels: Vec<Rect> = placed
            .iter()
            .copied()
            .filter(|r| overlaps(reach, *r, LABEL_CLEARANCE))
            .collect();
        let free = |(dx, dy): (i32, i32)| {
            let r = label_box(text, (mid.0 + f64::from(dx), mid.1 + f64::from(dy)));
            r.x >= 0
                && r.y >= 0
                && near_nodes.iter().all(|n| !overlaps(r, *n, LABEL_CLEARANCE))
                && near_labels
                    .iter()
                    .all(|l| !overlaps(r, *l, LABEL_CLEARANCE))
        };
        let offset = candidates
            .iter()
            .map(|c| c.1)
            .find(|o| free(*o))
            .unwrap_or((0, 0));
        placed.push(label_box(
            text,
            (mid.0 + f64::from(offset.0), mid.1 + f64::from(offset.1)),
        ));
        out.push(offset);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    // @tests #bounded_export_layout for #cli
    #[test]
    fn text_width_counts_characters() {
        assert_eq!(text_width("", FONT_SIZE), 0);
        assert_eq!(text_width("abcde", 10.0), 30);
        assert_eq!(text_width("数据", 10.0), 20);
        // A huge name makes a big shape, not an unbounded one.
        let (w, h) = node_size(&"x".repeat(100_000), true, rect(0, 0, 100, 56));
        assert_eq!(
            (w, h),
            (MAX_LABEL_W + 2 * LABEL_PAD, MAX_LABEL_W + 2 * LABEL_PAD)
        );
    }

    #[test]
    fn stretch_grows_boxes_in_place_without_overlap() {
        let mut pos = Positions {
            width: 400,
            height: 200,
            ..Positions::default()
        };
        pos.boundaries.insert("b".into(), rect(10, 10, 300, 100));
        pos.components.insert("a".into(), rect(30, 40, 100, 50));
        pos.components.insert("c".into(), rect(150, 40, 100, 50));
        let out = stretch(
            &pos,
            |id, _, r| if id == "a" { (200, 200) } else { (r.w, r.h) },
        );
        let (a, c, b) = (
            out.components["a"],
            out.components["c"],
            out.boundaries["b"],
        );
        assert_eq!((a.w, a.h), (200, 200));
        assert!(a.x + a.w <= c.x, "{a:?} overlaps {c:?}");
        for r in [a, c] {
            assert!(r.x >= b.x && r.y >= b.y && r.x + r.w <= b.x + b.w && r.y + r.h <= b.y + b.h);
        }
    }

    #[test]
    fn labels_leave_the_middle_only_when_it_is_covered() {
        let node = |r, round| Node { rect: r, round };
        let mut nodes = BTreeMap::new();
        nodes.insert("a".to_string(), node(rect(0, 100, 60, 60), true));
        nodes.insert("b".to_string(), node(rect(600, 100, 60, 60), false));
        let clear = label_offsets(&nodes, &[("a", "b", "x")]);
        assert_eq!(clear, vec![(0, 0)]);
        // A box in the middle of the flow: the label moves off it.
        nodes.insert("m".to_string(), node(rect(300, 110, 60, 40), false));
        let moved = label_offsets(&nodes, &[("a", "b", "x")]);
        assert_ne!(moved, vec![(0, 0)]);
        let (_, _, mid) = flow_ends(nodes["a"], nodes["b"]);
        let at = (mid.0 + f64::from(moved[0].0), mid.1 + f64::from(moved[0].1));
        assert!(!overlaps(label_box("x", at), nodes["m"].rect, 0));
        // Two flows on the same line: the second label does not cover the first.
        let two = label_offsets(&nodes, &[("a", "b", "x"), ("a", "b", "x")]);
        assert_ne!(two[0], two[1]);
    }
}
