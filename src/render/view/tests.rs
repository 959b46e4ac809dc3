//! The view against the diagram on a hand-written model with cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::render::layout;

/// A hand-written model (as `report --model` reads it) whose boundaries nest in a cycle
/// (`a` ⇄ `b`, `c` below it), beside a sound chain (`e` in `d`) and a dangling parent (`f`
/// in a missing `ghost`); components hang in a cycle too (`p` ⇄ `q`, `r` below).
fn cyclic_model() -> ThreatModel {
    let boundary = |id: &str, parent: Option<&str>| {
        let mut b = serde_json::json!({"id": id, "name": id, "components": [], "sources": []});
        if let Some(p) = parent {
            b["parent"] = p.into();
        }
        b
    };
    let component = |id: &str, parent: Option<&str>, boundary: Option<&str>| {
        let mut c = serde_json::json!({"id": id, "name": id, "sources": []});
        if let Some(p) = parent {
            c["parent"] = p.into();
        }
        if let Some(b) = boundary {
            c["boundary"] = b.into();
        }
        c
    };
    let json = serde_json::json!({
        "schema_version": 1, "project": {"name": "p"},
        "components": [
            component("p", Some("q"), None),
            component("q", Some("p"), None),
            component("r", Some("p"), Some("c")),
            component("s", None, Some("e")),
            component("t", None, Some("f")),
        ],
        "boundaries": [
            boundary("a", Some("b")),
            boundary("b", Some("a")),
            boundary("c", Some("a")),
            boundary("d", None),
            boundary("e", Some("d")),
            boundary("f", Some("ghost")),
        ],
        "actors": [], "threats": [{"id": "x", "name": "x", "sources": []}],
        "controls": [], "mitigations": [],
        "exposures": [{"id": "x1", "threat": "x", "component": "r", "sources": []}],
        "acceptances": [], "transfers": [], "flows": [], "reviews": [], "tests": [],
    });
    crate::model::from_json(&json.to_string()).expect("model")
}

/// Each boundary's chain of enclosing boundaries (outermost first) in the diagram's tree.
fn diagram_chains(model: &ThreatModel) -> BTreeMap<String, Vec<String>> {
    fn walk(g: &layout::Group, above: &[String], out: &mut BTreeMap<String, Vec<String>>) {
        for sub in &g.groups {
            let mut chain = above.to_vec();
            if let Some(id) = &sub.boundary {
                out.insert(id.clone(), above.to_vec());
                chain.push(id.clone());
            }
            walk(sub, &chain, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&layout::containment(model), &[], &mut out);
    out
}

/// The view's boundary paths, the components' boundary paths and the diagram's nesting
/// agree on a cycle and on a dangling parent: they walk the same [`Nesting`].
#[test]
fn a_boundary_cycle_nests_alike_in_the_view_and_the_diagram() {
    let model = cyclic_model();
    let matrix = RiskMatrix::default();
    let analysis = crate::analysis::analyze(&model, &matrix, None);
    let opts = Options {
        source_url: None,
        rev: String::new(),
        path_prefix: String::new(),
        links: LinkMode::Anchors,
        timeline: None,
        suggested: Vec::new(),
    };
    let view = build(&model, &analysis, &matrix, &opts);
    let diagram = diagram_chains(&model);
    let ids = |refs: &[ItemRef]| refs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    for b in &view.boundaries {
        assert_eq!(
            Some(&ids(&b.path)),
            diagram.get(&b.item.id),
            "{}",
            b.item.id
        );
    }
    for c in &view.components {
        let Some(own) = model
            .component(&c.item.id)
            .and_then(|x| x.extra.boundary.clone())
        else {
            continue;
        };
        let mut expected = diagram.get(&own).cloned().unwrap_or_default();
        expected.push(own);
        assert_eq!(ids(&c.boundary_path), expected, "{}", c.item.id);
    }
    assert_eq!(diagram["c"], Vec::<String>::new());
    assert_eq!(diagram["e"], vec!["d".to_string()]);
}

/// The analysis walks the components' parents with the same [`Nesting`]: a component is
/// "without threats" exactly when neither it nor anything the shared walk puts below it is
/// linked to a threat. `r` hangs below the cycle `p` ⇄ `q`, so it is outermost.
#[test]
fn a_component_cycle_is_cut_as_the_shared_walk_cuts_it() {
    let model = cyclic_model();
    let analysis = crate::analysis::analyze(&model, &RiskMatrix::default(), None);
    let nesting = model.component_nesting();
    assert_eq!(nesting.ancestors("r").count(), 0);
    let covered: BTreeSet<&str> = std::iter::once("r").chain(nesting.ancestors("r")).collect();
    let without: BTreeSet<&str> = analysis
        .findings
        .iter()
        .filter(|f| f.code == crate::diagnostic::Code::ComponentWithoutThreats)
        .filter_map(|f| f.elements.first().map(|e| e.id.as_str()))
        .collect();
    for c in &model.components {
        let id = c.id.as_str();
        assert_eq!(without.contains(id), !covered.contains(id), "{id}");
    }
}

/// A finding names each element once, shows names where its message quotes ids, and keeps
/// other quoted text as code, with no backtick left over.
#[test]
fn findings_show_names_once_and_no_backticks() {
    let mut model = cyclic_model();
    if let Some(r) = model.components.iter_mut().find(|c| c.id == "r") {
        r.name = "R service".into();
    }
    let matrix = RiskMatrix::default();
    let analysis = crate::analysis::analyze(&model, &matrix, None);
    let opts = Options {
        source_url: None,
        rev: String::new(),
        path_prefix: String::new(),
        links: LinkMode::Site,
        timeline: None,
        suggested: Vec::new(),
    };
    let view = build(&model, &analysis, &matrix, &opts);
    let exposed: Vec<&FindingView> = view.findings.iter().filter(|f| f.code == "TM101").collect();
    assert_eq!(exposed.len(), 1, "{:#?}", view.findings);
    let f = exposed[0];
    assert!(f.message.contains("`r`"), "{}", f.message);
    let hrefs: Vec<&str> = f.elements.iter().map(|e| e.href.as_str()).collect();
    let unique: BTreeSet<&str> = hrefs.iter().copied().collect();
    assert_eq!(hrefs.len(), unique.len(), "{hrefs:?}");
    assert!(f.message_parts.iter().all(|p| !p.text.contains('`')));
    assert!(
        f.message_parts
            .iter()
            .any(|p| p.text == "R service" && !p.code),
        "{:?}",
        f.message_parts
    );
    assert!(!f.message_parts.iter().any(|p| p.text == "r"));
    for f in &view.findings {
        let joined: String = f.message_parts.iter().map(|p| p.text.as_str()).collect();
        assert!(!joined.contains('`'), "{joined}");
    }
}
