//! The data-flow diagram as Graphviz DOT: clusters for trust boundaries, shapes by element
//! type, crossing flows in colour. Ids are generated (`c0`, `cluster_0`); every label is a
//! quoted string with `\` and `"` escaped, so repository text cannot add attributes or nodes.

use std::collections::BTreeMap;

use super::escape::printable;
use super::layout::{Group, containment};
use crate::analysis::Analysis;
use crate::model::{ElementType, ThreatModel};

/// A DOT quoted-string body.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::new();
    for c in printable(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn group(
    out: &mut String,
    g: &Group,
    model: &ThreatModel,
    ids: &BTreeMap<String, String>,
    boundary_ids: &BTreeMap<String, usize>,
    indent: usize,
) {
    let pad = "  ".repeat(indent);
    for sub in &g.groups {
        let Some(b) = &sub.boundary else { continue };
        let name = model.boundary(b).map_or(b.as_str(), |x| x.name.as_str());
        out.push_str(&format!(
            "{pad}subgraph cluster_{} {{\n{pad}  label=\"{}\";\n{pad}  style=\"dashed,rounded\";\n{pad}  color=\"#4263eb\";\n{pad}  fontcolor=\"#364fc7\";\n",
            boundary_ids.get(b).copied().unwrap_or(0),
            quote(name)
        ));
        group(out, sub, model, ids, boundary_ids, indent + 1);
        out.push_str(&format!("{pad}}}\n"));
    }
    for c in &g.components {
        let comp = model.component(c);
        let name = comp.map_or(c.as_str(), |x| x.name.as_str());
        let shape = match comp.and_then(|x| x.attributes.element_type) {
            Some(ElementType::Store) => "shape=cylinder",
            Some(ElementType::External) => "shape=box, style=filled, fillcolor=\"#f1f3f5\"",
            _ => "shape=box, style=rounded",
        };
        out.push_str(&format!(
            "{pad}{} [label=\"{}\", {shape}];\n",
            ids.get(c).map_or("c", String::as_str),
            quote(name)
        ));
    }
}

/// A `digraph`.
pub(crate) fn render(model: &ThreatModel, analysis: &Analysis) -> String {
    let ids: BTreeMap<String, String> = model
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), format!("c{i}")))
        .collect();
    let boundary_ids: BTreeMap<String, usize> = model
        .boundaries
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.clone(), i))
        .collect();
    let guarded: BTreeMap<&str, bool> = analysis
        .crossings
        .iter()
        .map(|c| (c.flow.as_str(), c.guarded))
        .collect();
    let mut out = format!(
        "digraph \"{}\" {{\n  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, nodesep=0.4, ranksep=0.8];\n  node [fontname=\"Helvetica\", fontsize=11, color=\"#212529\"];\n  edge [fontname=\"Helvetica\", fontsize=9, color=\"#868e96\", fontcolor=\"#495057\"];\n",
        quote(&model.project.name)
    );
    group(&mut out, &containment(model), model, &ids, &boundary_ids, 1);
    for (n, f) in model.flows.iter().enumerate() {
        let (Some(s), Some(t)) = (ids.get(&f.link.source), ids.get(&f.link.target)) else {
            continue;
        };
        let style = match (
            f.link.is_crossing(),
            guarded.get(f.id.as_str()).copied().unwrap_or(true),
        ) {
            (false, _) => String::new(),
            (true, true) => ", color=\"#e8590c\", penwidth=2".to_string(),
            (true, false) => ", color=\"#e03131\", penwidth=2, style=dashed".to_string(),
        };
        out.push_str(&format!(
            "  {s} -> {t} [label=\"{}\"{}{style}];\n",
            quote(&format!(
                "{}. {}",
                n + 1,
                model.flow_name(f, crate::model::Arrow::Direction)
            )),
            if f.link.bidirectional {
                ", dir=both"
            } else {
                ""
            }
        ));
    }
    out.push_str("}\n");
    out
}
