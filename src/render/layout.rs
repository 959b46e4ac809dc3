//! The data-flow diagram's geometry, computed by threatmark itself (no Graphviz, no
//! JavaScript): trust boundaries as nested boxes, components inside them, flows as straight
//! arrows between component borders.
//!
//! Pure and deterministic: integer box coordinates, children ordered by their place in the
//! flow graph (sources left, sinks right) then by id. The SVG renderer draws a [`Layout`]; an
//! exporter that needs positions (a Threat Dragon diagram) can reuse it as is.
//!
//! The algorithm is a recursive shelf packing: each boundary lays out its members (components
//! as fixed-size nodes, nested boundaries as the boxes their own layout produced) in rows, with
//! the number of members per row chosen so that the box's shape is close to a target aspect
//! ratio. Flows are then drawn between the nodes' centres, clipped to their borders.
//!
//! Cost: the flow ranks that order members relax at most [`RANK_BUDGET`] edges, so a site of
//! 2,000 components in flow cycles no longer spends seconds per diagram on them (34 s for the
//! whole site before, 18 s after, debug build); the rest is linear in the model.
//!
//! Above [`OVERVIEW_COMPONENTS`] components or [`OVERVIEW_FLOWS`] flows, boundaries that hold
//! no focus are collapsed and each group shows at most [`GROUP_CAP`] components (the busiest;
//! [`CONTEXT_CAP`] around an element's page) plus one "more" box: the router then always has a
//! few dozen boxes, and finds a route around them for every arrow.
//!
//! @control Bounded diagram layout (#bounded_layout): flow ranks relax at most 4 million edges, so the diagram costs linear time in the model
//! @mitigates #cli against #structural_exhaustion with #bounded_layout

use std::collections::BTreeMap;

mod route;

use crate::analysis::Analysis;
use crate::model::{ElementType, ThreatModel};

/// An axis-aligned rectangle; `x`, `y` is the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub fn center(&self) -> (f64, f64) {
        (
            f64::from(self.x) + f64::from(self.w) / 2.0,
            f64::from(self.y) + f64::from(self.h) / 2.0,
        )
    }
}

/// A trust boundary's box.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoundaryBox {
    pub id: String,
    pub name: String,
    /// 0 for an outermost boundary.
    pub depth: usize,
    pub rect: Rect,
    /// In a diagram too big to draw whole, a boundary is one box: the number of components
    /// it holds (directly or nested).
    pub collapsed: Option<usize>,
    /// A box that stands for the components of a group beyond [`GROUP_CAP`] (collapsed holds
    /// their number); `id` is the group's boundary, or empty outside every boundary.
    pub more: bool,
}

/// A component's box.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeBox {
    pub id: String,
    pub name: String,
    /// The name wrapped to at most two lines (the second may end with `…`).
    pub lines: Vec<String>,
    pub element_type: Option<ElementType>,
    pub declared: bool,
    pub rect: Rect,
}

/// A flow's arrow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EdgePath {
    pub flow: String,
    /// 1-based position of the flow in the model (the number on the diagram).
    pub number: usize,
    pub label: String,
    pub source: String,
    pub target: String,
    pub bidirectional: bool,
    pub crossing: bool,
    /// False for a crossing that no control guards.
    pub guarded: bool,
    pub start: (f64, f64),
    pub end: (f64, f64),
    /// The orthogonal route from `start` to `end`, corners included (at least two points).
    pub points: Vec<(f64, f64)>,
    /// Where the number badge goes: on the route, clear of boxes, titles and other badges.
    pub mid: (f64, f64),
    /// How many flows the arrow stands for: more than one only between collapsed boxes.
    pub count: usize,
    /// The collapsed boundary an arrow of several flows leads to or from (its page lists them).
    pub group: Option<String>,
}

/// The whole diagram.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Layout {
    pub width: i32,
    pub height: i32,
    /// Outer boxes before inner ones, so that drawing in order nests correctly.
    pub boundaries: Vec<BoundaryBox>,
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<EdgePath>,
}

/// A boundary and what sits directly inside it; the root group has no boundary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Group {
    pub boundary: Option<String>,
    pub groups: Vec<Group>,
    pub components: Vec<String>,
}

pub(crate) const NODE_H: i32 = 56;
const CHAR_W: f64 = 7.3;
const LINE_CHARS: usize = 22;
const PAD: i32 = 18;
const HEADER: i32 = 30;
const GAP: i32 = 34;
const MARGIN: i32 = 12;

/// At most this many edge relaxations (and at least [`MIN_RANK_PASSES`] passes over the
/// flows) go into [`flow_ranks`]. A flow graph with a cycle climbs until the pass cap, so the
/// relaxation cost passes × flows: 2,000 components in cycles took seconds, three times per
/// site. Below the budget (every model of a few hundred flows) the ranks are exactly what an
/// uncapped run gives.
const RANK_BUDGET: usize = 4_000_000;
const MIN_RANK_PASSES: usize = 64;

/// Longest-path layers of the flow graph, capped so that cycles terminate: passes over the
/// flows in model order, each raising a target to one more than its source, until nothing
/// changes, for at most one pass per component (and at most [`RANK_BUDGET`] relaxations).
pub(crate) fn flow_ranks(model: &ThreatModel) -> BTreeMap<&str, usize> {
    let cap = model.components.len();
    let index = |id: &str| {
        model
            .components
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
    };
    // Components are sorted by id; flows become pairs of indices once.
    let edges: Vec<(usize, usize)> = model
        .flows
        .iter()
        .filter(|f| f.link.source != f.link.target)
        .filter_map(|f| Some((index(&f.link.source)?, index(&f.link.target)?)))
        .collect();
    let passes = cap.min((RANK_BUDGET / edges.len().max(1)).max(MIN_RANK_PASSES));
    let mut rank = vec![0usize; cap];
    for _ in 0..passes {
        let mut changed = false;
        for &(s, t) in &edges {
            let rs = rank[s];
            if rank[t] < rs + 1 && rs < cap {
                rank[t] = rs + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    model
        .components
        .iter()
        .map(|c| c.id.as_str())
        .zip(rank)
        .collect()
}

/// Boundaries and components as a tree, members in flow order (then by id).
pub(crate) fn containment(model: &ThreatModel) -> Group {
    // Cycles and dangling parents cut as everywhere else: such a boundary is outermost.
    let nesting = model.boundary_nesting();
    let ranks = flow_ranks(model);
    let mut child_groups: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for b in &model.boundaries {
        child_groups
            .entry(nesting.parent(&b.id))
            .or_default()
            .push(b.id.as_str());
    }
    let mut members: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for c in &model.components {
        let b = c
            .extra
            .boundary
            .as_deref()
            .filter(|b| model.boundary(b).is_some());
        members.entry(b).or_default().push(c.id.as_str());
    }

    fn build<'m>(
        at: Option<&'m str>,
        child_groups: &BTreeMap<Option<&'m str>, Vec<&'m str>>,
        members: &BTreeMap<Option<&'m str>, Vec<&'m str>>,
        ranks: &BTreeMap<&str, usize>,
        depth: usize,
    ) -> Group {
        let mut groups: Vec<Group> = if depth > 64 {
            Vec::new()
        } else {
            child_groups
                .get(&at)
                .map(|v| {
                    v.iter()
                        .map(|b| build(Some(b), child_groups, members, ranks, depth + 1))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut components: Vec<String> = members
            .get(&at)
            .map(|v| v.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        components.sort_by(|a, b| (ranks.get(a.as_str()), a).cmp(&(ranks.get(b.as_str()), b)));
        groups.sort_by(|a, b| {
            (group_rank(a, ranks), &a.boundary).cmp(&(group_rank(b, ranks), &b.boundary))
        });
        Group {
            boundary: at.map(str::to_string),
            groups,
            components,
        }
    }
    build(None, &child_groups, &members, &ranks, 0)
}

/// The mean flow rank of the components in a group (x1000, integer), for ordering.
fn group_rank(g: &Group, ranks: &BTreeMap<&str, usize>) -> usize {
    fn collect(g: &Group, ranks: &BTreeMap<&str, usize>, out: &mut Vec<usize>) {
        out.extend(g.components.iter().filter_map(|c| ranks.get(c.as_str())));
        for sub in &g.groups {
            collect(sub, ranks, out);
        }
    }
    let mut v = Vec::new();
    collect(g, ranks, &mut v);
    if v.is_empty() {
        usize::MAX
    } else {
        v.iter().sum::<usize>() * 1000 / v.len()
    }
}

/// Word-wrap a name into at most two lines of about [`LINE_CHARS`] characters.
pub(crate) fn wrap(name: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in name.split_whitespace() {
        let fits = cur.chars().count() + 1 + word.chars().count() <= LINE_CHARS;
        if cur.is_empty() {
            cur = word.to_string();
        } else if fits {
            cur.push(' ');
            cur.push_str(word);
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = word.to_string();
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    let truncate = |s: &str| -> String {
        if s.chars().count() > LINE_CHARS + 4 {
            let mut t: String = s.chars().take(LINE_CHARS + 2).collect();
            t.push('…');
            t
        } else {
            s.to_string()
        }
    };
    let mut out: Vec<String> = lines.iter().take(2).map(|l| truncate(l)).collect();
    if lines.len() > 2
        && let Some(last) = out.last_mut()
        && !last.ends_with('…')
    {
        last.push('…');
    }
    out
}

fn text_width(chars: usize) -> i32 {
    (chars as f64 * CHAR_W).ceil() as i32
}

/// A laid-out subtree, positions relative to its own top-left corner.
struct Placed {
    w: i32,
    h: i32,
    /// (id, depth, rect) of the boundary boxes inside, this one first.
    boxes: Vec<(String, usize, Rect)>,
    nodes: Vec<(String, Rect)>,
}

enum Item {
    Node(String, i32),
    Sub(Placed),
}

impl Item {
    fn size(&self) -> (i32, i32) {
        match self {
            Item::Node(_, w) => (*w, NODE_H),
            Item::Sub(p) => (p.w, p.h),
        }
    }
}

/// Rows of items, `per_row` at most per row; returns (rows, width, height) of the packing.
fn pack(sizes: &[(i32, i32)], per_row: usize) -> (Vec<Vec<usize>>, i32, i32) {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for (i, _) in sizes.iter().enumerate() {
        match rows.last_mut() {
            Some(r) if r.len() < per_row => r.push(i),
            _ => rows.push(vec![i]),
        }
    }
    let mut w = 0;
    let mut h = 0;
    for (n, r) in rows.iter().enumerate() {
        let rw: i32 = r.iter().map(|i| sizes[*i].0).sum::<i32>() + GAP * (r.len() as i32 - 1);
        let rh = r.iter().map(|i| sizes[*i].1).max().unwrap_or(0);
        w = w.max(rw);
        h += rh + if n > 0 { GAP } else { 0 };
    }
    (rows, w, h)
}

fn place(model: &ThreatModel, g: &Group, depth: usize, widths: &BTreeMap<String, i32>) -> Placed {
    let mut items: Vec<Item> = Vec::new();
    // Nested boundaries first, then components, each in flow order.
    for sub in &g.groups {
        items.push(Item::Sub(place(model, sub, depth + 1, widths)));
    }
    for c in &g.components {
        items.push(Item::Node(c.clone(), widths.get(c).copied().unwrap_or(120)));
    }
    let sizes: Vec<(i32, i32)> = items.iter().map(Item::size).collect();
    // Choose how many members per row: the packing whose shape is closest to the target.
    let target = if g.boundary.is_none() { 1.9 } else { 2.4 };
    let mut best: Option<(f64, usize)> = None;
    for per_row in 1..=sizes.len().max(1) {
        let (_, w, h) = pack(&sizes, per_row);
        if h == 0 {
            continue;
        }
        let score = ((f64::from(w) / f64::from(h)) / target).ln().abs();
        if best.is_none_or(|(s, _)| score < s - 1e-9) {
            best = Some((score, per_row));
        }
    }
    let per_row = best.map_or(1, |(_, n)| n);
    let (rows, content_w, content_h) = pack(&sizes, per_row);

    let (label_w, header, pad) = match &g.boundary {
        Some(b) => {
            let name = model.boundary(b).map_or(b.as_str(), |x| x.name.as_str());
            (text_width(name.chars().count().min(60)) + 24, HEADER, PAD)
        }
        None => (0, 0, 0),
    };
    let inner_w = content_w.max(label_w);
    let w = inner_w + 2 * pad;
    let h = header + content_h + 2 * pad;
    let mut boxes = Vec::new();
    let mut nodes = Vec::new();
    if let Some(b) = &g.boundary {
        boxes.push((b.clone(), depth, Rect { x: 0, y: 0, w, h }));
    }
    let mut y = header + pad;
    let mut items: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    for row in rows {
        let rw: i32 = row.iter().map(|i| sizes[*i].0).sum::<i32>() + GAP * (row.len() as i32 - 1);
        let rh = row.iter().map(|i| sizes[*i].1).max().unwrap_or(0);
        // Centre each row horizontally and each member vertically.
        let mut x = pad + (inner_w - rw) / 2;
        for i in row {
            let (iw, ih) = sizes[i];
            let dy = (rh - ih) / 2;
            match items[i].take() {
                Some(Item::Node(id, _)) => nodes.push((
                    id,
                    Rect {
                        x,
                        y: y + dy,
                        w: iw,
                        h: ih,
                    },
                )),
                Some(Item::Sub(p)) => {
                    boxes.extend(p.boxes.into_iter().map(|(id, d, r)| {
                        (
                            id,
                            d,
                            Rect {
                                x: r.x + x,
                                y: r.y + y + dy,
                                ..r
                            },
                        )
                    }));
                    nodes.extend(p.nodes.into_iter().map(|(id, r)| {
                        (
                            id,
                            Rect {
                                x: r.x + x,
                                y: r.y + y + dy,
                                ..r
                            },
                        )
                    }));
                }
                None => {}
            }
            x += iw + GAP;
        }
        y += rh + GAP;
    }
    Placed { w, h, boxes, nodes }
}

/// Above this many components (or flows) the overview draws each outermost boundary as one
/// box with the number of flows between boxes: a diagram of hundreds of boxes is not read, and
/// each boundary page has its own diagram.
pub(crate) const OVERVIEW_COMPONENTS: usize = 150;
pub(crate) const OVERVIEW_FLOWS: usize = 300;

/// Components the diagram leaves out: a parent that only a `Shop:API:Checkout` name implied
/// (not declared, in no boundary, at no end of a flow) would be an orphan box.
fn implied_parents(model: &ThreatModel) -> std::collections::BTreeSet<&str> {
    let parents: std::collections::BTreeSet<&str> = model
        .components
        .iter()
        .filter_map(|c| c.extra.parent.as_deref())
        .collect();
    let ends: std::collections::BTreeSet<&str> = model
        .flows
        .iter()
        .flat_map(|f| [f.link.source.as_str(), f.link.target.as_str()])
        .collect();
    model
        .components
        .iter()
        .filter(|c| {
            !c.declared
                && c.extra.boundary.is_none()
                && parents.contains(c.id.as_str())
                && !ends.contains(c.id.as_str())
        })
        .map(|c| c.id.as_str())
        .collect()
}

fn prune(g: &mut Group, hidden: &std::collections::BTreeSet<&str>) {
    g.components.retain(|c| !hidden.contains(c.as_str()));
    for sub in &mut g.groups {
        prune(sub, hidden);
    }
}

fn count_components(g: &Group) -> usize {
    g.components.len() + g.groups.iter().map(count_components).sum::<usize>()
}

fn members_of<'g>(g: &'g Group, out: &mut Vec<&'g str>) {
    out.extend(g.components.iter().map(String::as_str));
    for sub in &g.groups {
        members_of(sub, out);
    }
}

/// The key of a collapsed boundary's box among the node keys (no component id starts with NUL).
fn collapsed_key(boundary: &str) -> String {
    format!("\u{0}{boundary}")
}

/// Round to one decimal so that coordinates print the same everywhere.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// What a diagram is drawn for: the whole model, or the page of one element (whose diagram
/// is of a sub-model around it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Focus<'a> {
    #[default]
    Overview,
    Component(&'a str),
    Boundary(&'a str),
}

/// How to draw a diagram.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options<'a> {
    pub focus: Focus<'a>,
    /// The number of each flow (by id) in the whole model, when the diagram is of a part of
    /// it: arrows carry the numbers of the flow tables. Else a flow's place in this model.
    pub numbers: Option<&'a BTreeMap<String, usize>>,
}

/// In a big diagram, a group (a boundary drawn open, or the space outside every boundary)
/// shows at most this many components: the busiest (most flows), the focus always; the
/// others are one box with their number. Routing a few dozen boxes per group stays cheap and
/// finds a route for every arrow, where 2,000 boxes ran out of budget and drew straight lines
/// through boxes.
pub(crate) const GROUP_CAP: usize = 40;

/// On an element's page, the groups around the element (the boundaries that hold it, the
/// space outside every boundary) show at most this many components: they are context.
pub(crate) const CONTEXT_CAP: usize = 12;

/// The key of a group's box of further components (no component id starts with U+0001).
fn more_key(boundary: Option<&str>) -> String {
    format!("\u{1}{}", boundary.unwrap_or(""))
}

/// A box standing for several components: (boundary id or group id, components, depth, more).
type Summary = (String, usize, usize, bool);

/// Collapse into one box every boundary of `g` that holds no focus, and (when `open_inside`)
/// keep the ones inside the focus boundary open; `keep` holds the focus boundary and its
/// ancestors.
#[allow(clippy::too_many_arguments)]
fn collapse(
    g: &mut Group,
    depth: usize,
    keep: &std::collections::BTreeSet<&str>,
    focus: Option<&str>,
    inside_focus: bool,
    open_inside: bool,
    rep: &mut BTreeMap<String, String>,
    summaries: &mut BTreeMap<String, Summary>,
) {
    let mut keys = Vec::new();
    for mut sub in std::mem::take(&mut g.groups) {
        let Some(b) = sub.boundary.clone() else {
            continue;
        };
        let in_focus = inside_focus || focus == Some(b.as_str());
        if keep.contains(b.as_str()) || (inside_focus && open_inside) {
            collapse(
                &mut sub,
                depth + 1,
                keep,
                focus,
                in_focus,
                open_inside,
                rep,
                summaries,
            );
            g.groups.push(sub);
            continue;
        }
        let key = collapsed_key(&b);
        let mut inside = Vec::new();
        members_of(&sub, &mut inside);
        for c in &inside {
            rep.insert(c.to_string(), key.clone());
        }
        summaries.insert(key.clone(), (b, inside.len(), depth, false));
        keys.push(key);
    }
    keys.append(&mut g.components);
    g.components = keys;
}

/// Keep at most [`GROUP_CAP`] components in each group (collapsed boxes do not count): the
/// focus and the busiest, in their flow order; the rest become the group's "more" box.
/// `wide`: the group is the overview's or the focus boundary's (or inside it), and shows up to
/// [`GROUP_CAP`] components; else up to [`CONTEXT_CAP`].
fn cap(
    g: &mut Group,
    depth: usize,
    degree: &BTreeMap<&str, usize>,
    (focus, focus_boundary, wide): (Option<&str>, Option<&str>, bool),
    rep: &mut BTreeMap<String, String>,
    summaries: &mut BTreeMap<String, Summary>,
) {
    for sub in &mut g.groups {
        let wide = wide || (sub.boundary.is_some() && sub.boundary.as_deref() == focus_boundary);
        cap(
            sub,
            depth + 1,
            degree,
            (focus, focus_boundary, wide),
            rep,
            summaries,
        );
    }
    let limit = if wide { GROUP_CAP } else { CONTEXT_CAP };
    let real: Vec<&String> = g
        .components
        .iter()
        .filter(|c| !c.starts_with('\u{0}'))
        .collect();
    if real.len() <= limit {
        return;
    }
    let mut by_use: Vec<&String> = real.clone();
    by_use.sort_by_key(|c| {
        (
            Some(c.as_str()) != focus,
            std::cmp::Reverse(degree.get(c.as_str()).copied().unwrap_or(0)),
            c.as_str(),
        )
    });
    let shown: std::collections::BTreeSet<String> = by_use
        .iter()
        .take(limit - 1)
        .map(|c| c.to_string())
        .collect();
    let key = more_key(g.boundary.as_deref());
    let mut hidden = 0;
    g.components.retain(|c| {
        if c.starts_with('\u{0}') || shown.contains(c) {
            return true;
        }
        rep.insert(c.clone(), key.clone());
        hidden += 1;
        false
    });
    summaries.insert(
        key.clone(),
        (g.boundary.clone().unwrap_or_default(), hidden, depth, true),
    );
    g.components.push(key);
}

/// Lay out the data-flow diagram of a model. A page that shows part of a model (a boundary or
/// a component and its neighbours) builds that sub-model and calls [`layout_with`].
pub(crate) fn layout(model: &ThreatModel, analysis: &Analysis) -> Layout {
    layout_with(model, analysis, &Options::default())
}

/// [`layout`], for an element's page or with the flow numbers of a bigger model.
pub(crate) fn layout_with(model: &ThreatModel, analysis: &Analysis, opts: &Options<'_>) -> Layout {
    let hidden = implied_parents(model);
    let mut tree = containment(model);
    prune(&mut tree, &hidden);
    let widths_of = |name: &str| {
        let lines = wrap(name);
        let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        (text_width(longest) + 28).clamp(112, 210)
    };
    let mut widths: BTreeMap<String, i32> = model
        .components
        .iter()
        .map(|c| (c.id.clone(), widths_of(&c.name)))
        .collect();
    // Component → the key of its box (itself, a collapsed boundary, or a group's "more" box).
    let mut rep: BTreeMap<String, String> = BTreeMap::new();
    let mut collapsed: BTreeMap<String, Summary> = BTreeMap::new();
    let size = count_components(&tree);
    let big = size > OVERVIEW_COMPONENTS || model.flows.len() > OVERVIEW_FLOWS;
    if big {
        let nesting = model.boundary_nesting();
        let (focus_component, focus_boundary) = match opts.focus {
            Focus::Overview => (None, None),
            Focus::Component(c) => (Some(c), None),
            Focus::Boundary(b) => (None, Some(b)),
        };
        let held = focus_boundary.or_else(|| {
            focus_component
                .and_then(|c| model.component(c))
                .and_then(|c| c.extra.boundary.as_deref())
        });
        let keep: std::collections::BTreeSet<&str> = held
            .into_iter()
            .flat_map(|b| std::iter::once(b).chain(nesting.ancestors(b)))
            .collect();
        // A focus boundary small enough to draw keeps its inner boundaries open.
        let open_inside = focus_boundary.is_some_and(|b| {
            model
                .components
                .iter()
                .filter(|c| {
                    c.extra
                        .boundary
                        .as_deref()
                        .is_some_and(|x| x == b || nesting.ancestors(x).any(|a| a == b))
                })
                .count()
                <= OVERVIEW_COMPONENTS
        });
        collapse(
            &mut tree,
            0,
            &keep,
            focus_boundary,
            false,
            open_inside,
            &mut rep,
            &mut collapsed,
        );
        let mut degree: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &model.flows {
            *degree.entry(f.link.source.as_str()).or_default() += 1;
            *degree.entry(f.link.target.as_str()).or_default() += 1;
        }
        let wide = opts.focus == Focus::Overview;
        cap(
            &mut tree,
            0,
            &degree,
            (focus_component, focus_boundary, wide),
            &mut rep,
            &mut collapsed,
        );
        for (key, (id, n, _, more)) in &collapsed {
            let name = if *more {
                format!("{n} more components")
            } else {
                model.boundary(id).map_or(id.clone(), |x| x.name.clone())
            };
            widths.insert(key.clone(), widths_of(&name));
        }
    }
    let placed = place(model, &tree, 0, &widths);
    let off = |r: Rect| Rect {
        x: r.x + MARGIN,
        y: r.y + MARGIN,
        ..r
    };
    let mut boundaries: Vec<BoundaryBox> = placed
        .boxes
        .into_iter()
        .map(|(id, depth, r)| BoundaryBox {
            name: model.boundary(&id).map_or(id.clone(), |b| b.name.clone()),
            id,
            depth: depth.saturating_sub(1),
            rect: off(r),
            collapsed: None,
            more: false,
        })
        .collect();
    let mut nodes: Vec<NodeBox> = Vec::new();
    for (key, r) in placed.nodes {
        if let Some((id, n, depth, more)) = collapsed.get(&key) {
            boundaries.push(BoundaryBox {
                name: if *more {
                    "More components".to_string()
                } else {
                    model.boundary(id).map_or(id.clone(), |b| b.name.clone())
                },
                id: id.clone(),
                depth: *depth,
                rect: off(r),
                collapsed: Some(*n),
                more: *more,
            });
            continue;
        }
        let c = model.component(&key);
        let name = c.map_or(key.clone(), |c| c.name.clone());
        nodes.push(NodeBox {
            lines: wrap(&name),
            name,
            element_type: c.and_then(|c| c.attributes.element_type),
            declared: c.is_some_and(|c| c.declared),
            id: key,
            rect: off(r),
        });
    }
    boundaries.sort_by(|a, b| (a.depth, a.more, &a.id).cmp(&(b.depth, b.more, &b.id)));
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    let mut rects: BTreeMap<String, Rect> = nodes.iter().map(|n| (n.id.clone(), n.rect)).collect();
    for b in boundaries.iter().filter(|b| b.collapsed.is_some()) {
        let key = if b.more {
            more_key(Some(b.id.as_str()).filter(|id| !id.is_empty()))
        } else {
            collapsed_key(&b.id)
        };
        rects.insert(key, b.rect);
    }
    let width = placed.w + 2 * MARGIN;
    let height = placed.h + 2 * MARGIN;

    let guarded: BTreeMap<&str, bool> = analysis
        .crossings
        .iter()
        .map(|c| (c.flow.as_str(), c.guarded))
        .collect();
    // One arrow per flow; between collapsed boxes one per ordered pair of boxes.
    let mut arrows: Vec<EdgePath> = Vec::new();
    let mut by_pair: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (n, f) in model.flows.iter().enumerate() {
        let key_of = |id: &str| rep.get(id).cloned().unwrap_or_else(|| id.to_string());
        let (ks, kt) = (key_of(&f.link.source), key_of(&f.link.target));
        if ks == kt || !rects.contains_key(&ks) || !rects.contains_key(&kt) {
            continue;
        }
        let crossing = f.link.is_crossing();
        let ok = guarded.get(f.id.as_str()).copied().unwrap_or(true);
        let aggregate =
            rep.contains_key(f.link.source.as_str()) || rep.contains_key(f.link.target.as_str());
        if aggregate && let Some(&i) = by_pair.get(&(ks.clone(), kt.clone())) {
            let e: &mut EdgePath = &mut arrows[i];
            e.count += 1;
            e.crossing |= crossing;
            e.guarded &= ok;
            e.bidirectional &= f.link.bidirectional;
            continue;
        }
        if aggregate {
            by_pair.insert((ks.clone(), kt.clone()), arrows.len());
        }
        let group = [&ks, &kt]
            .into_iter()
            .find_map(|k| k.strip_prefix('\u{0}'))
            .map(str::to_string);
        arrows.push(EdgePath {
            group,
            flow: f.id.clone(),
            number: opts
                .numbers
                .and_then(|m| m.get(&f.id).copied())
                .unwrap_or(n + 1),
            label: model.flow_name(f, crate::model::Arrow::Direction),
            source: ks,
            target: kt,
            bidirectional: f.link.bidirectional,
            crossing,
            guarded: ok,
            start: (0.0, 0.0),
            end: (0.0, 0.0),
            points: Vec::new(),
            mid: (0.0, 0.0),
            count: 1,
        });
    }
    let titles: Vec<Rect> = boundaries
        .iter()
        .filter(|b| b.collapsed.is_none())
        .map(|b| Rect {
            x: b.rect.x,
            y: b.rect.y,
            w: (text_width(b.name.chars().count().min(60)) + 24).min(b.rect.w),
            h: HEADER,
        })
        .collect();
    let mut router = route::Router::new(width, height, rects.values().copied().collect(), &titles);
    if arrows.len() > route::GREEDY_ABOVE {
        router.greedy();
    }
    for e in &mut arrows {
        let (s, t) = (rects[&e.source], rects[&e.target]);
        let pts: Vec<(f64, f64)> = router
            .route(s, t)
            .into_iter()
            .map(|(x, y)| (r1(x), r1(y)))
            .collect();
        e.start = pts[0];
        e.end = pts[pts.len() - 1];
        let m = router.badge(&pts);
        e.mid = (r1(m.0), r1(m.1));
        e.points = pts;
    }
    // Arrows between collapsed boxes name their boxes by boundary id.
    for e in &mut arrows {
        for end in [&mut e.source, &mut e.target] {
            if let Some(b) = end
                .strip_prefix('\u{0}')
                .or_else(|| end.strip_prefix('\u{1}'))
            {
                *end = b.to_string();
            }
        }
    }
    Layout {
        width,
        height,
        boundaries,
        nodes,
        edges: arrows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A model of `n` components `c00000..` and the given flows (by component number).
    fn flow_model(n: usize, flows: &[(usize, usize)]) -> ThreatModel {
        let src = serde_json::json!([{"path": "a.py", "line": 1, "column": 1, "annotation": "x"}]);
        let components: Vec<serde_json::Value> = (0..n)
            .map(|i| serde_json::json!({"id": format!("c{i:05}"), "name": format!("C{i}"), "sources": src}))
            .collect();
        let flows: Vec<serde_json::Value> = flows
            .iter()
            .enumerate()
            .map(|(k, (s, t))| {
                serde_json::json!({
                    "id": format!("c{s:05}/c{t:05}/f{k}"), "source": format!("c{s:05}"),
                    "target": format!("c{t:05}"), "details": format!("f{k}"), "sources": src,
                })
            })
            .collect();
        let json = serde_json::json!({
            "schema_version": 1, "project": {"name": "p"}, "components": components,
            "boundaries": [], "actors": [], "threats": [], "controls": [], "mitigations": [],
            "exposures": [], "acceptances": [], "transfers": [], "flows": flows,
            "reviews": [], "tests": [],
        });
        crate::model::from_json(&json.to_string()).expect("model")
    }

    /// The ranks as they were computed before the relaxation budget (passes over the flows,
    /// with a map lookup per end): the fast form must give the same ranks, cycles included.
    fn old_ranks(model: &ThreatModel) -> BTreeMap<&str, usize> {
        let mut rank: BTreeMap<&str, usize> = model
            .components
            .iter()
            .map(|c| (c.id.as_str(), 0))
            .collect();
        let cap = model.components.len();
        for _ in 0..cap {
            let mut changed = false;
            for f in &model.flows {
                let (s, t) = (f.link.source.as_str(), f.link.target.as_str());
                if s == t {
                    continue;
                }
                let (Some(&rs), Some(&rt)) = (rank.get(s), rank.get(t)) else {
                    continue;
                };
                if rt < rs + 1 && rs < cap {
                    rank.insert(t, rs + 1);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        rank
    }

    #[test]
    fn flow_ranks_are_unchanged_below_the_budget() {
        let cases: Vec<(usize, Vec<(usize, usize)>)> = vec![
            (4, vec![(0, 1), (1, 2), (2, 3)]),
            (4, vec![(2, 3), (1, 2), (0, 1)]),
            (3, vec![(0, 1), (1, 0), (1, 2)]),
            (5, vec![(1, 0), (0, 1), (2, 2), (3, 4), (4, 3), (0, 3)]),
            (
                60,
                (0..120)
                    .map(|i| ((i * 7 + 3) % 60, (i * 13 + 1) % 60))
                    .collect(),
            ),
        ];
        for (n, flows) in cases {
            let model = flow_model(n, &flows);
            assert_eq!(flow_ranks(&model), old_ranks(&model), "{flows:?}");
        }
    }

    /// The parents the diagram nests boundaries in.
    fn valid_parents(model: &ThreatModel) -> BTreeMap<&str, Option<&str>> {
        let nesting = model.boundary_nesting();
        model
            .boundaries
            .iter()
            .map(|b| (b.id.as_str(), nesting.parent(&b.id)))
            .collect()
    }

    /// The parents as they were computed before (a walk with a set per boundary).
    fn old_parents(model: &ThreatModel) -> BTreeMap<&str, Option<&str>> {
        let mut out = BTreeMap::new();
        for b in &model.boundaries {
            let mut parent = b
                .extra
                .parent
                .as_deref()
                .filter(|p| model.boundary(p).is_some());
            let mut seen = BTreeSet::from([b.id.as_str()]);
            let mut cur = parent;
            while let Some(p) = cur {
                if !seen.insert(p) {
                    parent = None;
                    break;
                }
                cur = model
                    .boundary(p)
                    .and_then(|x| x.extra.parent.as_deref())
                    .filter(|q| model.boundary(q).is_some());
            }
            out.insert(b.id.as_str(), parent);
        }
        out
    }

    fn nesting_model(parents: &[(&str, Option<&str>)]) -> ThreatModel {
        let mut boundaries: Vec<serde_json::Value> = parents
            .iter()
            .map(|(id, p)| {
                let mut b =
                    serde_json::json!({"id": id, "name": id, "components": [], "sources": []});
                if let Some(p) = p {
                    b["parent"] = (*p).into();
                }
                b
            })
            .collect();
        boundaries.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let json = serde_json::json!({
            "schema_version": 1, "project": {"name": "p"}, "components": [],
            "boundaries": boundaries, "actors": [], "threats": [], "controls": [],
            "mitigations": [], "exposures": [], "acceptances": [], "transfers": [],
            "flows": [], "reviews": [], "tests": [],
        });
        crate::model::from_json(&json.to_string()).expect("model")
    }

    #[test]
    fn valid_parents_cut_cycles_and_what_hangs_below_them() {
        let model = nesting_model(&[
            ("a", None),
            ("b", Some("a")),
            ("c", Some("b")),
            ("d", Some("e")),
            ("e", Some("d")),
            ("f", Some("d")),
            ("g", Some("f")),
            ("h", Some("h")),
            ("i", Some("missing")),
            ("j", Some("i")),
        ]);
        let got = valid_parents(&model);
        assert_eq!(got, old_parents(&model));
        assert_eq!(got["c"], Some("b"));
        assert_eq!(got["g"], None);
        assert_eq!(got["j"], Some("i"));
    }

    /// A 10,000-deep chain: the old walk did 50 million set insertions.
    // @tests #bounded_layout for #cli
    #[test]
    fn valid_parents_of_a_deep_chain_are_linear() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("b{i:05}")).collect();
        let parents: Vec<(&str, Option<&str>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), ids.get(i + 1).map(String::as_str)))
            .collect();
        let model = nesting_model(&parents);
        let started = std::time::Instant::now();
        let got = valid_parents(&model);
        assert_eq!(got["b00000"], Some("b00001"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    /// One cycle through 20,000 components: the old relaxation made 20,000 passes over 20,000
    /// flows (minutes in a debug build); the budget bounds it at a few million steps.
    // @tests #bounded_layout for #cli
    #[test]
    fn flow_ranks_of_a_huge_cycle_are_bounded() {
        let n = 20_000;
        let flows: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let model = flow_model(n, &flows);
        let started = std::time::Instant::now();
        let ranks = flow_ranks(&model);
        assert_eq!(ranks.len(), n);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn wrap_keeps_two_lines() {
        assert_eq!(wrap("Checkout service"), vec!["Checkout service"]);
        let w = wrap("A very long component name that goes on and on and on");
        assert_eq!(w.len(), 2);
        assert!(w[1].ends_with('…'));
        assert_eq!(wrap(""), vec![String::new()]);
    }

    fn analysis(model: &ThreatModel) -> Analysis {
        crate::analysis::analyze(model, &crate::analysis::RiskMatrix::default(), None)
    }

    /// `n` components, the first `in_boundaries` spread over 4 boundaries (two nested), and
    /// the flows given by component number.
    fn boundary_model(n: usize, in_boundaries: usize, flows: &[(usize, usize)]) -> ThreatModel {
        let mut json: serde_json::Value =
            serde_json::from_str(&crate::model::to_json(&flow_model(n, flows))).expect("json");
        let ids = ["b0", "b1", "b2", "b3"];
        json["boundaries"] = serde_json::json!([
            {"id": "b0", "name": "B0", "components": [], "sources": []},
            {"id": "b1", "name": "B1", "components": [], "sources": [], "parent": "b0"},
            {"id": "b2", "name": "B2", "components": [], "sources": [], "parent": "b1"},
            {"id": "b3", "name": "B3", "components": [], "sources": []},
        ]);
        for i in 0..in_boundaries {
            json["components"][i]["boundary"] = ids[i % 4].into();
        }
        crate::model::from_json(&json.to_string()).expect("model")
    }

    /// `Shop:API` implies a `Shop` component: it is no box of its own.
    #[test]
    fn implied_parents_are_no_orphan_boxes() {
        let mut json: serde_json::Value =
            serde_json::from_str(&crate::model::to_json(&flow_model(3, &[(1, 2)]))).expect("json");
        json["components"][0]["declared"] = false.into();
        json["components"][1]["parent"] = "c00000".into();
        let model = crate::model::from_json(&json.to_string()).expect("model");
        let lay = layout(&model, &analysis(&model));
        let ids: Vec<&str> = lay.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["c00001", "c00002"]);
    }

    #[test]
    fn a_big_overview_collapses_outer_boundaries_with_flow_counts() {
        let flows: Vec<(usize, usize)> = (0..400).map(|i| (i % 300, (i * 7 + 1) % 300)).collect();
        let model = boundary_model(300, 280, &flows);
        let lay = layout(&model, &analysis(&model));
        let collapsed: Vec<(&str, Option<usize>)> = lay
            .boundaries
            .iter()
            .map(|b| (b.id.as_str(), b.collapsed))
            .collect();
        assert_eq!(collapsed, [("b0", Some(210)), ("b3", Some(70))]);
        assert_eq!(lay.nodes.len(), 20);
        assert!(lay.edges.iter().any(|e| e.count > 1));
        let drawn: usize = lay.edges.iter().map(|e| e.count).sum();
        assert!(drawn <= flows.len() && lay.edges.len() < drawn, "{drawn}");
        let ends: BTreeSet<&str> = lay.nodes.iter().map(|n| n.id.as_str()).collect();
        for e in &lay.edges {
            for end in [&e.source, &e.target] {
                assert!(
                    ends.contains(end.as_str()) || end == "b0" || end == "b3",
                    "{end}"
                );
            }
        }
    }

    /// On a boundary's page the boundary is open (at most [`GROUP_CAP`] of its components and
    /// a box for the others), the other boundaries are boxes; on a component's page the
    /// component is drawn even when it is not among the busiest, and the boundaries around it
    /// are open.
    #[test]
    fn a_focus_keeps_its_boundary_open() {
        let flows: Vec<(usize, usize)> = (0..400).map(|i| (i % 300, (i * 7 + 1) % 300)).collect();
        let model = boundary_model(300, 280, &flows);
        let a = analysis(&model);
        let opts = Options {
            focus: Focus::Boundary("b3"),
            numbers: None,
        };
        let lay = layout_with(&model, &a, &opts);
        let state: Vec<(&str, Option<usize>, bool)> = lay
            .boundaries
            .iter()
            .map(|b| (b.id.as_str(), b.collapsed, b.more))
            .collect();
        assert_eq!(
            state,
            [
                ("b0", Some(210), false),
                ("b3", None, false),
                ("", Some(20 - (CONTEXT_CAP - 1)), true),
                ("b3", Some(70 - (GROUP_CAP - 1)), true)
            ]
        );
        let quiet = "c00299";
        let opts = Options {
            focus: Focus::Component(quiet),
            numbers: None,
        };
        let lay = layout_with(&model, &a, &opts);
        assert!(lay.nodes.iter().any(|n| n.id == quiet));
        assert!(lay.boundaries.iter().all(|b| b.collapsed.is_some()));
        let opts = Options {
            focus: Focus::Component("c00002"),
            numbers: None,
        };
        let lay = layout_with(&model, &a, &opts);
        let open: Vec<&str> = lay
            .boundaries
            .iter()
            .filter(|b| b.collapsed.is_none())
            .map(|b| b.id.as_str())
            .collect();
        assert_eq!(open, ["b0", "b1", "b2"]);
        assert!(lay.nodes.iter().any(|n| n.id == "c00002"));
    }

    /// 2,000 components and 2,000 flows outside any boundary: every arrow is routed, within
    /// a bounded search (minutes before the budget, seconds in a debug build after).
    // @tests #bounded_layout for #cli
    #[test]
    fn a_diagram_of_2000_components_and_flows_is_bounded() {
        let flows: Vec<(usize, usize)> = (0..2000).map(|i| (i, (i * 37 + 11) % 2000)).collect();
        let model = flow_model(2000, &flows);
        let started = std::time::Instant::now();
        let lay = layout(&model, &analysis(&model));
        // The busiest components and one box for the rest; every flow is drawn or counted.
        assert_eq!(lay.nodes.len(), GROUP_CAP - 1);
        let more: Vec<&BoundaryBox> = lay.boundaries.iter().filter(|b| b.more).collect();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].collapsed, Some(2000 - (GROUP_CAP - 1)));
        let drawn: usize = lay.edges.iter().map(|e| e.count).sum();
        assert!(drawn <= 2000 && !lay.edges.is_empty(), "{drawn}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
    }
}
