//! The data-flow diagram as Mermaid `flowchart` source, for Markdown on GitHub and GitLab.
//!
//! Node and subgraph ids are generated (`c0`, `b0`), never taken from the repository; every
//! label is a quoted string in which `"`, `<`, `>`, `&`, `#`, `` ` ``, `|` and `;` are written
//! as Mermaid entity codes, so a label can neither end its string, nor the code fence around
//! the diagram, nor inject HTML.

use std::collections::BTreeMap;

use super::escape::printable;
use super::layout::{Group, containment};
use crate::analysis::Analysis;
use crate::model::{ElementType, ThreatModel};

/// A Mermaid quoted-string body.
pub(crate) fn label(s: &str) -> String {
    let mut out = String::new();
    for c in printable(s).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' => out.push_str("#35;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            ';' => out.push_str("#59;"),
            c => out.push(c),
        }
    }
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

struct Ids {
    components: BTreeMap<String, String>,
    boundaries: BTreeMap<String, String>,
}

fn group(out: &mut String, g: &Group, model: &ThreatModel, ids: &Ids, indent: usize) {
    let pad = "  ".repeat(indent);
    for sub in &g.groups {
        let Some(b) = &sub.boundary else { continue };
        let name = model.boundary(b).map_or(b.as_str(), |x| x.name.as_str());
        let id = ids.boundaries.get(b).map_or("b", String::as_str);
        out.push_str(&format!("{pad}subgraph {id}[\"{}\"]\n", label(name)));
        group(out, sub, model, ids, indent + 1);
        out.push_str(&format!("{pad}end\n"));
    }
    for c in &g.components {
        let comp = model.component(c);
        let name = comp.map_or(c.as_str(), |x| x.name.as_str());
        let id = ids.components.get(c).map_or("c", String::as_str);
        let text = label(name);
        let shape = match comp.and_then(|x| x.attributes.element_type) {
            Some(ElementType::Store) => format!("[(\"{text}\")]"),
            Some(ElementType::External) => format!("[\"{text}\"]"),
            _ => format!("(\"{text}\")"),
        };
        out.push_str(&format!("{pad}{id}{shape}\n"));
    }
}

/// `flowchart LR` source, without a code fence.
pub(crate) fn render(model: &ThreatModel, analysis: &Analysis) -> String {
    let ids = Ids {
        components: model
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), format!("c{i}")))
            .collect(),
        boundaries: model
            .boundaries
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.clone(), format!("b{i}")))
            .collect(),
    };
    let guarded: BTreeMap<&str, bool> = analysis
        .crossings
        .iter()
        .map(|c| (c.flow.as_str(), c.guarded))
        .collect();
    let mut out = String::from("flowchart LR\n");
    group(&mut out, &containment(model), model, &ids, 1);
    let mut crossing = Vec::new();
    let mut unguarded = Vec::new();
    let mut n_edges = 0;
    for (n, f) in model.flows.iter().enumerate() {
        let (Some(s), Some(t)) = (
            ids.components.get(&f.link.source),
            ids.components.get(&f.link.target),
        ) else {
            continue;
        };
        let text = label(&shorten(
            &format!(
                "{}. {}",
                n + 1,
                model.flow_name(f, crate::model::Arrow::Direction)
            ),
            48,
        ));
        let arrow = if f.link.bidirectional { "<-->" } else { "-->" };
        out.push_str(&format!("  {s} {arrow}|\"{text}\"| {t}\n"));
        if f.link.is_crossing() {
            if guarded.get(f.id.as_str()).copied().unwrap_or(true) {
                crossing.push(n_edges.to_string());
            } else {
                unguarded.push(n_edges.to_string());
            }
        }
        n_edges += 1;
    }
    out.push_str("  classDef boundary fill:#f5f7ff,stroke:#4263eb,stroke-width:1.5px,stroke-dasharray:6 4,color:#364fc7\n");
    out.push_str("  classDef store fill:#ffffff,stroke:#212529\n");
    out.push_str("  classDef external fill:#f1f3f5,stroke:#212529\n");
    if !ids.boundaries.is_empty() {
        let all: Vec<&str> = model
            .boundaries
            .iter()
            .filter_map(|b| ids.boundaries.get(&b.id).map(String::as_str))
            .collect();
        out.push_str(&format!("  class {} boundary\n", all.join(",")));
    }
    for (kind, class) in [
        (ElementType::Store, "store"),
        (ElementType::External, "external"),
    ] {
        let members: Vec<&str> = model
            .components
            .iter()
            .filter(|c| c.attributes.element_type == Some(kind))
            .filter_map(|c| ids.components.get(&c.id).map(String::as_str))
            .collect();
        if !members.is_empty() {
            out.push_str(&format!("  class {} {class}\n", members.join(",")));
        }
    }
    if !crossing.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:#e8590c,stroke-width:2.5px\n",
            crossing.join(",")
        ));
    }
    if !unguarded.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:#e03131,stroke-width:2.5px,stroke-dasharray:6 3\n",
            unguarded.join(",")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_escape_their_string_or_fence() {
        let l = label("a\"]-->x[\"<script>```|;#");
        assert!(!l.contains('"') && !l.contains('<') && !l.contains('`') && !l.contains('|'));
        assert!(!l.contains(';') || l.matches(';').count() == l.matches('#').count());
    }
}
