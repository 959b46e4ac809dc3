//! OWASP Threat Dragon v2 model files (what the application opens and saves).
//!
//! One STRIDE diagram: boundaries become trust-boundary boxes around their members,
//! components processes, stores or (external ones) actors, threat actors actors too, and
//! flows data flows. Each threat is copied onto every component it applies to, in
//! `cells[].data.threats` (where the application reads them, not where its schema puts them),
//! with the status it has there. Positions come from the site diagram's layout.
//!
//! The facts this relies on (asset names, display strings, required keys) are in
//! /work/shared/formats.md part 1 and docs/exports.md.

use serde_json::{Value, json};

use super::layout::{self, Node, Positions, Rect, positions};
use super::uuid::stable;
use super::{PairStatus, assessments, flow_facts, locations, threats_by_component};
use crate::analysis::{self, Analysis, ThreatAssessment};
use crate::model::{Actor, Band, Component, DataClass, ElementType, Entity, Stride, ThreatModel};

/// The Threat Dragon version the file claims (the application rewrites it when it saves).
pub const VERSION: &str = "2.6.2";
/// The STRIDE thumbnail, as the application itself writes it: one of its own asset names.
pub const THUMBNAIL: &str = "./public/content/images/thumbnail.stride.jpg";

const STROKE: &str = "#333333";
const STROKE_WIDTH: f64 = 1.5;
const OPEN_STROKE: &str = "red";
const OPEN_STROKE_WIDTH: f64 = 2.5;

/// The Threat Dragon model of `model`.
pub fn export(model: &ThreatModel, analysis: &Analysis) -> Value {
    let pos = fitted(model, analysis);
    let assessed = assessments(analysis);
    let per_component = threats_by_component(model);
    let mut number = 0u64;
    let mut cells = Vec::new();

    for b in &model.boundaries {
        let Some(rect) = pos.boundaries.get(&b.id) else {
            continue;
        };
        let depth = pos.depth.get(&b.id).copied().unwrap_or(0);
        cells.push(boundary_cell(b, *rect, depth));
    }
    for c in &model.components {
        let Some(rect) = pos.components.get(&c.id) else {
            continue;
        };
        let mut threats = Vec::new();
        for (t, status) in per_component.get(c.id.as_str()).into_iter().flatten() {
            let Some(threat) = model.threat(t) else {
                continue;
            };
            number += 1;
            threats.push(threat_json(
                model,
                threat,
                c,
                *status,
                assessed.get(t).copied(),
                number,
            ));
        }
        cells.push(component_cell(model, c, *rect, threats));
    }
    for a in &model.actors {
        let Some(rect) = pos.actors.get(&a.id) else {
            continue;
        };
        cells.push(threat_actor_cell(model, a, *rect));
    }
    let drawn: Vec<&crate::model::Flow> = model
        .flows
        .iter()
        .filter(|f| {
            f.link.source != f.link.target
                && pos.components.contains_key(&f.link.source)
                && pos.components.contains_key(&f.link.target)
        })
        .collect();
    let names: Vec<String> = drawn
        .iter()
        .map(|f| model.flow_name(f, crate::model::Arrow::Forward))
        .collect();
    let ends: Vec<(&str, &str, &str)> = drawn
        .iter()
        .zip(&names)
        .map(|(f, n)| (f.link.source.as_str(), f.link.target.as_str(), n.as_str()))
        .collect();
    let offsets = layout::label_offsets(&obstacles(model, &pos), &ends);
    for (f, offset) in drawn.into_iter().zip(offsets) {
        cells.push(flow_cell(model, f, offset));
    }

    json!({
        "version": VERSION,
        "summary": {
            "title": model.project.name,
            "owner": "",
            "description": summary_description(model),
            "id": 0,
        },
        "detail": {
            "contributors": [{ "name": "threatmark" }],
            "diagrams": [{
                "id": 0,
                "title": format!("{} data flow", model.project.name),
                "diagramType": "STRIDE",
                "placeholder": "",
                "description": diagram_description(model, &pos),
                "thumbnail": THUMBNAIL,
                "version": VERSION,
                "cells": cells,
            }],
            "diagramTop": 1,
            "reviewer": "",
            "threatTop": number,
        },
    })
}

/// The site diagram's layout, stretched so that each shape holds its name on one line (Threat
/// Dragon draws a process as a circle as wide as its box's smaller side, and never wraps a
/// label).
fn fitted(model: &ThreatModel, analysis: &Analysis) -> Positions {
    layout::stretch(&positions(model, analysis), |id, actor, rect| {
        if actor {
            let name = model.actor(id).map_or(id, |a| a.name.as_str());
            return layout::node_size(name, false, rect);
        }
        match model.component(id) {
            Some(c) => layout::node_size(&c.name, is_round(c), rect),
            None => (rect.w, rect.h),
        }
    })
}

/// Whether Threat Dragon draws the component as a circle (a process).
fn is_round(c: &Component) -> bool {
    c.attributes.element_type.unwrap_or(ElementType::Process) == ElementType::Process
}

/// Every shape a flow label must not cover: components by id (the flows' ends), threat actors
/// under a key no component id can have.
fn obstacles(model: &ThreatModel, pos: &Positions) -> std::collections::BTreeMap<String, Node> {
    let mut nodes = std::collections::BTreeMap::new();
    for c in &model.components {
        if let Some(rect) = pos.components.get(&c.id) {
            nodes.insert(
                c.id.clone(),
                Node {
                    rect: *rect,
                    round: is_round(c),
                },
            );
        }
    }
    for (id, rect) in &pos.actors {
        nodes.insert(
            format!("actor {id}"),
            Node {
                rect: *rect,
                round: false,
            },
        );
    }
    nodes
}

fn summary_description(model: &ThreatModel) -> String {
    let generated = "Generated by threatmark from the annotations in the code: change the code, \
                     not this file, and export again.";
    if model.project.description.is_empty() {
        generated.to_string()
    } else {
        format!("{}\n\n{generated}", model.project.description)
    }
}

/// The project description, plus the threats no cell can carry (they apply to no component).
fn diagram_description(model: &ThreatModel, pos: &Positions) -> String {
    let per_component = threats_by_component(model);
    let placed: std::collections::BTreeSet<&str> = per_component
        .iter()
        .filter(|(c, _)| pos.components.contains_key(**c))
        .flat_map(|(_, ts)| ts.iter().map(|(t, _)| *t))
        .collect();
    let unplaced: Vec<String> = model
        .threats
        .iter()
        .filter(|t| !placed.contains(t.id.as_str()))
        .map(|t| format!("{} ({})", t.name, locations(&t.sources)))
        .collect();
    let mut out = model.project.description.clone();
    if !unplaced.is_empty() {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str("Threats that apply to no component (not on the diagram): ");
        out.push_str(&unplaced.join("; "));
    }
    out
}

fn position(r: Rect) -> Value {
    json!({ "x": r.x, "y": r.y })
}

fn size(r: Rect) -> Value {
    json!({ "width": r.w.max(10), "height": r.h.max(10) })
}

fn body(open: bool) -> Value {
    let (stroke, width) = if open {
        (OPEN_STROKE, OPEN_STROKE_WIDTH)
    } else {
        (STROKE, STROKE_WIDTH)
    };
    // `null` is what the application writes for a solid line; its schema allows it through
    // Ajv's `nullable` (see docs/exports.md).
    json!({ "stroke": stroke, "strokeWidth": width, "strokeDasharray": null })
}

fn boundary_cell(b: &crate::model::Boundary, rect: Rect, depth: usize) -> Value {
    // Outer boxes behind inner ones, all of them behind the elements.
    let z = -50 + i64::try_from(depth.min(40)).unwrap_or(40);
    json!({
        "id": stable("boundary", &b.id),
        "shape": "trust-boundary-box",
        "zIndex": z,
        "position": position(rect),
        "size": size(rect),
        "visible": true,
        "attrs": {
            // `label` is what the demo models carry, `headerText` what the current shape draws.
            "label": { "text": b.name },
            "headerText": { "text": b.name },
        },
        "data": {
            "type": "tm.BoundaryBox",
            "name": b.name,
            "description": with_locations(&b.description, &b.sources, b.declared),
            "isTrustBoundary": true,
            "hasOpenThreats": false,
        },
    })
}

/// A description followed by where the element is written in the code.
fn with_locations(description: &str, sources: &[crate::model::Source], declared: bool) -> String {
    if sources.is_empty() {
        return description.to_string();
    }
    let verb = if declared {
        "Declared at"
    } else {
        "Mentioned at"
    };
    let at = format!("{verb} {}", locations(sources));
    if description.is_empty() {
        at
    } else {
        format!("{description}\n\n{at}")
    }
}

fn component_cell(model: &ThreatModel, c: &Component, rect: Rect, threats: Vec<Value>) -> Value {
    let open = threats.iter().any(|t| t["status"] == "Open");
    let mut description = with_locations(&c.description, &c.sources, c.declared);
    let owners: Vec<&str> = c
        .attributes
        .owner
        .iter()
        .chain(&c.extra.owners)
        .map(String::as_str)
        .collect();
    if !owners.is_empty() {
        description.push_str(&format!("\nOwner: {}", owners.join(", ")));
    }
    // GuardLink's data classes and assumptions: Threat Dragon has no field for them.
    if !c.extra.data.is_empty() {
        let data: Vec<&str> = c.extra.data.iter().map(|d| d.as_str()).collect();
        description.push_str(&format!("\nData: {}", data.join(", ")));
    }
    for a in model
        .assumptions
        .iter()
        .filter(|a| a.link.component == c.id)
    {
        description.push_str(&format!("\nAssumes: {}", a.description));
    }
    let mut data = json!({
        "name": c.name,
        "description": description,
        "outOfScope": false,
        "reasonOutOfScope": "",
        "isTrustBoundary": false,
        "hasOpenThreats": open,
        "threats": threats,
    });
    let (shape, kind, extra) = match c.attributes.element_type.unwrap_or(ElementType::Process) {
        ElementType::Process => (
            "process",
            "tm.Process",
            json!({
                "privilegeLevel": "",
                "isWebApplication": false,
                "handlesCardPayment": false,
                "handlesGoodsOrServices": false,
            }),
        ),
        ElementType::Store => (
            "store",
            "tm.Store",
            json!({
                "isALog": false,
                "isEncrypted": false,
                "isSigned": false,
                "storesCredentials": c.extra.data.contains(&DataClass::Secrets),
                "storesInventory": false,
            }),
        ),
        ElementType::External => (
            "actor",
            "tm.Actor",
            json!({ "providesAuthentication": false }),
        ),
    };
    merge(&mut data, extra);
    data["type"] = kind.into();
    json!({
        "id": stable("component", &c.id),
        "shape": shape,
        "zIndex": 1,
        "position": position(rect),
        "size": size(rect),
        "visible": true,
        "attrs": {
            "text": { "text": c.name },
            "body": body(open),
        },
        "data": data,
    })
}

fn threat_actor_cell(model: &ThreatModel, a: &Actor, rect: Rect) -> Value {
    let mut description = format!("Threat actor. {}", a.description);
    let threats: Vec<&str> = model
        .threats
        .iter()
        .filter(|t| t.attributes.actor.as_deref() == Some(a.id.as_str()))
        .map(|t| t.name.as_str())
        .collect();
    if !threats.is_empty() {
        description.push_str(&format!("\nThreats: {}", threats.join("; ")));
    }
    let description = with_locations(description.trim(), &a.sources, a.declared);
    json!({
        "id": stable("actor", &a.id),
        "shape": "actor",
        "zIndex": 1,
        "position": position(rect),
        "size": size(rect),
        "visible": true,
        "attrs": {
            "text": { "text": a.name },
            "body": body(false),
        },
        "data": {
            "type": "tm.Actor",
            "name": a.name,
            "description": description,
            "outOfScope": false,
            "reasonOutOfScope": "",
            "isTrustBoundary": false,
            "providesAuthentication": false,
            "hasOpenThreats": false,
            "threats": [],
        },
    })
}

fn flow_cell(model: &ThreatModel, f: &crate::model::Flow, offset: (i32, i32)) -> Value {
    let name = model.flow_name(f, crate::model::Arrow::Forward);
    let facts = flow_facts(f);
    let mut description = with_locations(&f.description, &f.sources, true);
    if f.link.is_crossing() {
        let names: Vec<&str> = f
            .link
            .crosses
            .iter()
            .map(|b| model.boundary(b).map_or(b.as_str(), |b| b.name.as_str()))
            .collect();
        description.push_str(&format!("\nCrosses: {}", names.join(", ")));
    }
    let source_marker = if f.link.bidirectional { "block" } else { "" };
    json!({
        "id": stable("flow", &f.id),
        "shape": "flow",
        "zIndex": 10,
        "width": 200,
        "height": 100,
        "connector": "smooth",
        "attrs": {
            "line": {
                "stroke": STROKE,
                "strokeWidth": STROKE_WIDTH,
                "strokeDasharray": null,
                "targetMarker": { "name": "block" },
                "sourceMarker": { "name": source_marker },
            },
        },
        // The label as the application's flow shape builds it, but level (no `keepGradient`)
        // and moved off the middle of the flow by `offset` where that would cover a shape.
        "labels": [{
            "markup": [
                { "tagName": "ellipse", "selector": "labelBody" },
                { "tagName": "text", "selector": "labelText" },
            ],
            "attrs": {
                "labelText": {
                    "text": name,
                    "textAnchor": "middle",
                    "textVerticalAnchor": "middle",
                },
                "labelBody": {
                    "ref": "labelText",
                    "refRx": "50%",
                    "refRy": "60%",
                    "fill": "#fff",
                    "strokeWidth": 0,
                },
            },
            "position": {
                "distance": 0.5,
                "offset": { "x": offset.0, "y": offset.1 },
            },
        }],
        "source": { "cell": stable("component", &f.link.source) },
        "target": { "cell": stable("component", &f.link.target) },
        "vertices": [],
        "data": {
            "type": "tm.Flow",
            "name": name,
            "description": description.trim(),
            "outOfScope": false,
            "reasonOutOfScope": "",
            "isTrustBoundary": false,
            "protocol": facts.protocol,
            "isEncrypted": facts.encrypted,
            "isPublicNetwork": facts.public,
            "isBidirectional": f.link.bidirectional,
            "hasOpenThreats": false,
            "threats": [],
        },
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

/// Threat Dragon's status word.
pub fn status_word(status: PairStatus) -> &'static str {
    match status {
        PairStatus::Open => "Open",
        PairStatus::Mitigated => "Mitigated",
        PairStatus::Accepted => "Accepted",
        PairStatus::Transferred => "Transferred",
    }
}

/// Threat Dragon's severity word for a risk band (`TBD` when unrated).
pub fn severity_word(band: Option<Band>) -> &'static str {
    match band {
        None => "TBD",
        Some(Band::VeryLow | Band::Low) => "Low",
        Some(Band::Medium) => "Medium",
        Some(Band::High) => "High",
        Some(Band::Critical) => "Critical",
    }
}

/// The single STRIDE category Threat Dragon can hold: the threat's first category that applies
/// to the element, else its first category, else (none given) the first category that applies
/// to the element, flagged in the description. `true` when it was guessed.
pub fn stride_type(threat: &Entity, element: ElementType) -> (Stride, bool) {
    let applicable = analysis::applicable(Some(element));
    if let Some(s) = threat
        .attributes
        .stride
        .iter()
        .find(|s| applicable.contains(s))
    {
        return (*s, false);
    }
    if let Some(s) = threat.attributes.stride.first() {
        return (*s, false);
    }
    (
        applicable.first().copied().unwrap_or(Stride::Spoofing),
        true,
    )
}

fn threat_json(
    model: &ThreatModel,
    threat: &Entity,
    component: &Component,
    status: PairStatus,
    assessment: Option<&ThreatAssessment>,
    number: u64,
) -> Value {
    let element = component
        .attributes
        .element_type
        .unwrap_or(ElementType::Process);
    let (stride, guessed) = stride_type(threat, element);
    let risk = assessment.and_then(|a| a.risk.as_ref());
    let mut lines = Vec::new();
    if !threat.description.is_empty() {
        lines.push(threat.description.clone());
    }
    if guessed {
        lines.push(format!(
            "STRIDE: none given in the code (Threat Dragon needs one; {} is a placeholder)",
            stride.title()
        ));
    } else if threat.attributes.stride.len() > 1 {
        let all: Vec<&str> = threat.attributes.stride.iter().map(|s| s.title()).collect();
        lines.push(format!("STRIDE: {}", all.join(", ")));
    }
    if let Some(r) = risk {
        let mut text = format!("Risk: {} ({})", r.band, r.score);
        if let (Some(l), Some(i)) = (r.likelihood, r.impact) {
            text.push_str(&format!(", likelihood {l}, impact {i}"));
        }
        lines.push(text);
    }
    if let Some(owner) = assessment.and_then(|a| a.owner.as_ref()) {
        lines.push(format!("Owner: {owner}"));
    }
    if model
        .exposures
        .iter()
        .any(|e| e.link.confirmed && e.link.threat == threat.id && e.link.component == component.id)
    {
        lines.push("Confirmed exploitable (GuardLink `@confirmed`)".to_string());
    }
    for (label, ids) in [
        ("CWE", &threat.attributes.cwe),
        ("CAPEC", &threat.attributes.capec),
    ] {
        if !ids.is_empty() {
            lines.push(format!("{label}: {}", ids.join(", ")));
        }
    }
    if let Some(actor) = &threat.attributes.actor {
        let name = model
            .actor(actor)
            .map_or(actor.as_str(), |a| a.name.as_str());
        lines.push(format!("Threat actor: {name}"));
    }
    let exposed_at: Vec<String> = model
        .exposures
        .iter()
        .filter(|x| x.link.threat == threat.id && x.link.component == component.id)
        .map(|x| {
            let details = if x.details.is_empty() {
                String::new()
            } else {
                format!("{} ", x.details)
            };
            format!("{details}({})", locations(&x.sources))
        })
        .collect();
    if !exposed_at.is_empty() {
        lines.push(format!("Exposed: {}", exposed_at.join("; ")));
    }
    if !threat.sources.is_empty() {
        let verb = if threat.declared {
            "Declared at"
        } else {
            "Mentioned at"
        };
        lines.push(format!("{verb} {}", locations(&threat.sources)));
    }

    json!({
        "id": stable("threat", &format!("{}@{}", threat.id, component.id)),
        "number": number,
        "title": threat.name,
        "type": stride.title(),
        "modelType": "STRIDE",
        "status": status_word(status),
        "severity": severity_word(risk.map(|r| r.band)),
        "score": risk.map(|r| r.score.to_string()).unwrap_or_default(),
        "description": lines.join("\n"),
        "mitigation": mitigation_text(model, &threat.id, &component.id, status),
    })
}

/// What covers the threat on this component, with the code locations; for an open threat, the
/// controls that mitigate it elsewhere.
fn mitigation_text(
    model: &ThreatModel,
    threat: &str,
    component: &str,
    status: PairStatus,
) -> String {
    let control_name = |id: &str| model.control(id).map_or(id.to_string(), |c| c.name.clone());
    let mut lines: Vec<String> = Vec::new();
    for m in model
        .mitigations
        .iter()
        .filter(|m| m.link.threat == threat && m.link.component == component)
    {
        lines.push(format!(
            "Mitigated by {} ({})",
            control_name(&m.link.control),
            locations(&m.sources)
        ));
    }
    for a in model
        .acceptances
        .iter()
        .filter(|a| a.link.threat == threat && a.link.component == component)
    {
        let mut who: Vec<String> = Vec::new();
        let expires = a.attributes.expires.as_ref().map(ToString::to_string);
        for (k, v) in [
            ("owner", &a.attributes.owner),
            ("expires", &expires),
            ("ticket", &a.attributes.ticket),
        ] {
            if let Some(v) = v {
                who.push(format!("{k}: {v}"));
            }
        }
        let mut text = "Accepted".to_string();
        if !a.details.is_empty() {
            text.push_str(&format!(": {}", a.details));
        }
        if !who.is_empty() {
            text.push_str(&format!(" [{}]", who.join("; ")));
        }
        lines.push(format!("{text} ({})", locations(&a.sources)));
    }
    for t in model
        .transfers
        .iter()
        .filter(|t| t.link.threat == threat && t.link.from == component)
    {
        let to = model
            .component(&t.link.to)
            .map_or(t.link.to.as_str(), |c| c.name.as_str());
        let details = if t.details.is_empty() {
            String::new()
        } else {
            format!(": {}", t.details)
        };
        lines.push(format!(
            "Transferred to {to}{details} ({})",
            locations(&t.sources)
        ));
    }
    if status == PairStatus::Open {
        let mut candidates: Vec<String> = model
            .mitigations
            .iter()
            .filter(|m| m.link.threat == threat)
            .map(|m| control_name(&m.link.control))
            .collect();
        candidates.sort();
        candidates.dedup();
        if !candidates.is_empty() {
            lines.push(format!(
                "Not mitigated here; mitigated elsewhere by: {}",
                candidates.join(", ")
            ));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;

    fn threat(stride: Vec<Stride>) -> Entity {
        Entity {
            id: "t".into(),
            name: "T".into(),
            description: String::new(),
            declared: true,
            placeholder: false,
            extra: crate::model::NoExtra {},
            attributes: Attributes {
                stride,
                ..Attributes::default()
            },
            sources: Vec::new(),
        }
    }

    #[test]
    fn stride_type_prefers_what_applies_to_the_element() {
        let t = threat(vec![Stride::Spoofing, Stride::Tampering]);
        assert_eq!(
            stride_type(&t, ElementType::Store),
            (Stride::Tampering, false)
        );
        assert_eq!(
            stride_type(&t, ElementType::Process),
            (Stride::Spoofing, false)
        );
        let t = threat(vec![Stride::ElevationOfPrivilege]);
        assert_eq!(
            stride_type(&t, ElementType::External),
            (Stride::ElevationOfPrivilege, false)
        );
        let t = threat(Vec::new());
        assert_eq!(
            stride_type(&t, ElementType::Store),
            (Stride::Tampering, true)
        );
    }

    #[test]
    fn words() {
        assert_eq!(severity_word(None), "TBD");
        assert_eq!(severity_word(Some(Band::VeryLow)), "Low");
        assert_eq!(severity_word(Some(Band::Critical)), "Critical");
        assert_eq!(status_word(PairStatus::Open), "Open");
    }
}
