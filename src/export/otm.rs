//! The Open Threat Model, version 0.2.0 (IriusRisk's `otm_schema.json`).
//!
//! Boundaries become trust zones (nested through `parent`), components components with their
//! parent (the parent component when both sit in the same zone, else their zone), flows
//! dataflows, threats threats with their STRIDE categories, CWEs and risk, controls
//! mitigations. Every element carries its code locations as representation elements of a
//! `code` representation, and its box on the site diagram as elements of a `diagram`
//! representation, which is what Threat Dragon's OTM import needs to draw anything.
//! GuardLink's data classes (`@handles`) become assets that components process or store; its
//! owners and confirmed exposures are attributes.
//!
//! A diagram position is relative to the element's parent, as OTM readers expect: a trust
//! zone's to its parent zone, a component's to its parent zone or component. Adding up the
//! parents' positions gives back the site diagram's box. Parents are the ones the diagram nests
//! by ([`ThreatModel::boundary_nesting`]: cycles and dangling parents cut), so the walk a reader
//! does always ends.

use serde_json::{Map, Value, json};

use super::layout::{Rect, positions};
use super::{PairStatus, assessments, flow_facts, threats_by_component};
use crate::analysis::{Analysis, Risk};
use crate::model::{DataClass, ElementType, Entity, Source, ThreatModel, ids};

pub const OTM_VERSION: &str = "0.2.0";
/// The id of the `code` representation.
pub const CODE: &str = "code";
/// The id of the `diagram` representation.
pub const DIAGRAM: &str = "diagram";
/// The zone of components placed in no boundary.
pub const UNZONED: &str = "unzoned";
/// Trust rating of a boundary that gives none (`[trust_rating: N]` sets one, 0-100).
pub const DEFAULT_TRUST: u64 = 50;

/// The OTM document of `model`.
pub fn export(model: &ThreatModel, analysis: &Analysis) -> Value {
    let pos = positions(model, analysis);
    let assessed = assessments(analysis);
    let per_component = threats_by_component(model);
    let confirmed = super::confirmed(model);

    let zone_nesting = model.boundary_nesting();
    let component_nesting = model.component_nesting();
    // The top left corner of a parent's box, which its children's positions are relative to.
    let zone_origin = |z: &str| pos.boundaries.get(z).map_or((0, 0), |r| (r.x, r.y));
    let component_origin = |c: &str| pos.components.get(c).map_or((0, 0), |r| (r.x, r.y));

    let mut zones = Vec::new();
    for b in &model.boundaries {
        let mut zone = json!({
            "id": b.id,
            "name": b.name,
            "type": "trust-boundary",
            "description": b.description,
            "risk": { "trustRating": trust_rating(b) },
        });
        let parent = zone_nesting.parent(&b.id);
        if let Some(p) = parent {
            zone["parent"] = json!({ "trustZone": p });
        }
        let origin = parent.map_or((0, 0), zone_origin);
        zone["representations"] =
            representations(&b.id, &b.sources, pos.boundaries.get(&b.id), origin);
        let attrs = entity_attributes(b.declared, &b.attributes);
        if !attrs.is_empty() {
            zone["attributes"] = Value::Object(attrs);
        }
        zones.push(zone);
    }
    let unzoned = model
        .components
        .iter()
        .any(|c| zone_of(model, &c.extra.boundary).is_none());
    if unzoned {
        zones.push(json!({
            "id": UNZONED,
            "name": "Outside every trust boundary",
            "type": "unzoned",
            "description": "Components that no @boundary contains.",
            "risk": { "trustRating": 0 },
        }));
    }

    let mut components = Vec::new();
    for c in &model.components {
        let (parent, origin) = match component_nesting.parent(&c.id) {
            Some(p)
                if model
                    .component(p)
                    .is_some_and(|pc| pc.extra.boundary == c.extra.boundary) =>
            {
                (json!({ "component": p }), component_origin(p))
            }
            _ => {
                let zone = zone_of(model, &c.extra.boundary);
                (
                    json!({ "trustZone": zone.unwrap_or(UNZONED) }),
                    // The unzoned zone has no box: its components are placed on the diagram.
                    zone.map_or((0, 0), zone_origin),
                )
            }
        };
        let kind = match c.attributes.element_type.unwrap_or(ElementType::Process) {
            ElementType::Process => "process",
            ElementType::Store => "datastore",
            ElementType::External => "external-entity",
        };
        let threats: Vec<Value> = per_component
            .get(c.id.as_str())
            .into_iter()
            .flatten()
            .map(|(t, status)| component_threat(model, t, &c.id, *status))
            .collect();
        let mut comp = json!({
            "id": c.id,
            "name": c.name,
            "type": kind,
            "description": c.description,
            "parent": parent,
            "representations": representations(&c.id, &c.sources, pos.components.get(&c.id), origin),
        });
        if !threats.is_empty() {
            comp["threats"] = Value::Array(threats);
        }
        if !c.extra.data.is_empty() {
            let ids: Vec<String> = c.extra.data.iter().map(|d| asset_id(*d)).collect();
            let how = match c.attributes.element_type {
                Some(ElementType::Store) => "stored",
                _ => "processed",
            };
            comp["assets"] = json!({ how: ids });
        }
        let mut attrs = entity_attributes(c.declared, &c.attributes);
        if !c.extra.owners.is_empty() {
            attrs.insert("owners".into(), json!(c.extra.owners));
        }
        if !attrs.is_empty() {
            comp["attributes"] = Value::Object(attrs);
        }
        components.push(comp);
    }

    let dataflows: Vec<Value> = model
        .flows
        .iter()
        .map(|f| {
            let facts = flow_facts(f);
            let mut attrs = Map::new();
            if !facts.protocol.is_empty() {
                attrs.insert("protocol".into(), facts.protocol.into());
            }
            attrs.insert("encrypted".into(), facts.encrypted.into());
            if f.link.is_crossing() {
                attrs.insert("crosses".into(), json!(f.link.crosses));
            }
            attrs.insert("sources".into(), source_list(&f.sources));
            json!({
                "id": f.id,
                "name": model.flow_name(f, crate::model::Arrow::Forward),
                "description": f.description,
                "bidirectional": f.link.bidirectional,
                "source": f.link.source,
                "destination": f.link.target,
                "attributes": attrs,
            })
        })
        .collect();

    let threats: Vec<Value> = model
        .threats
        .iter()
        .map(|t| {
            let a = assessed.get(t.id.as_str()).copied();
            let mut attrs = entity_attributes(t.declared, &t.attributes);
            if let Some(a) = a {
                attrs.insert("status".into(), a.status.as_str().into());
                if let Some(r) = &a.risk {
                    attrs.insert("score".into(), r.score.into());
                    attrs.insert("band".into(), r.band.as_str().into());
                }
                if let Some(o) = &a.owner {
                    attrs.insert("owner".into(), o.clone().into());
                }
            }
            if let Some(actor) = t.attributes.actor.as_deref().and_then(|x| model.actor(x)) {
                attrs.insert("actorName".into(), actor.name.clone().into());
            }
            let on: Vec<&str> = confirmed
                .iter()
                .filter(|(threat, _)| *threat == t.id)
                .map(|(_, c)| *c)
                .collect();
            if !on.is_empty() {
                attrs.insert("confirmedOn".into(), json!(on));
            }
            attrs.insert("sources".into(), source_list(&t.sources));
            json!({
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "categories": t.attributes.stride.iter().map(|s| s.title()).collect::<Vec<_>>(),
                "cwes": t.attributes.cwe,
                "risk": risk(a.and_then(|a| a.risk.as_ref())),
                "attributes": attrs,
            })
        })
        .collect();

    let mitigations: Vec<Value> = model
        .controls
        .iter()
        .map(|k| {
            let mut attrs = entity_attributes(k.declared, &k.attributes);
            attrs.insert("sources".into(), source_list(&k.sources));
            json!({
                "id": k.id,
                "name": k.name,
                "description": k.description,
                "riskReduction": risk_reduction(model, k),
                "attributes": attrs,
            })
        })
        .collect();

    let mut project = json!({
        "name": model.project.name,
        "id": project_id(&model.project.name),
    });
    if !model.project.description.is_empty() {
        project["description"] = model.project.description.clone().into();
    }
    // GuardLink's data classes: one asset each, which the components handling it process or
    // store. Only confidentiality follows from the class; integrity and availability are not
    // stated, so they get the middle of the scale, as a boundary without a trust rating does.
    let assets: Vec<Value> = super::data_classes(model)
        .into_iter()
        .map(|d| {
            json!({
                "id": asset_id(d),
                "name": super::data_title(d),
                "description": format!("Data classified `{}` (GuardLink `@handles`)", d.as_str()),
                "risk": {
                    "confidentiality": confidentiality(d),
                    "integrity": DEFAULT_TRUST,
                    "availability": DEFAULT_TRUST,
                },
                "attributes": { "classification": d.as_str() },
            })
        })
        .collect();
    let mut doc = json!({
        "otmVersion": OTM_VERSION,
        "project": project,
        "representations": [
            {
                "name": "Source code annotations",
                "id": CODE,
                "type": "code",
                "description": "Where each element is written in the code (threatmark annotations)",
            },
            {
                "name": "Data flow diagram",
                "id": DIAGRAM,
                "type": "diagram",
                "description": "The layout of the threatmark site diagram",
                "size": { "width": pos.width.max(1), "height": pos.height.max(1) },
            },
        ],
        "trustZones": zones,
        "components": components,
        "dataflows": dataflows,
        "threats": threats,
        "mitigations": mitigations,
    });
    if !assets.is_empty() {
        doc["assets"] = Value::Array(assets);
    }
    doc
}

/// The OTM asset id of a data class.
fn asset_id(class: DataClass) -> String {
    format!("data-{}", class.as_str())
}

/// How much disclosing data of a class hurts, 0-100.
fn confidentiality(class: DataClass) -> u64 {
    match class {
        DataClass::Secrets | DataClass::Phi => 100,
        DataClass::Pii | DataClass::Financial => 80,
        DataClass::Internal => 50,
        DataClass::Public => 0,
    }
}

/// The project id: the slug of the name with `-` instead of `_`.
pub fn project_id(name: &str) -> String {
    ids::derive(name).replace('_', "-")
}

/// The boundary id, when it names a boundary of the model.
fn zone_of<'m>(model: &'m ThreatModel, boundary: &'m Option<String>) -> Option<&'m str> {
    boundary.as_deref().filter(|b| model.boundary(b).is_some())
}

fn trust_rating(b: &crate::model::Boundary) -> u64 {
    ["trust_rating", "trust"]
        .iter()
        .filter_map(|k| b.attributes.custom.get(*k))
        .find_map(|v| v.trim().parse::<u64>().ok())
        .filter(|v| *v <= 100)
        .unwrap_or(DEFAULT_TRUST)
}

/// `[risk_reduction: N]` on the control (0-100), else 100 for a control that mitigates
/// something and 0 for one that mitigates nothing.
fn risk_reduction(model: &ThreatModel, control: &Entity) -> u64 {
    control
        .attributes
        .custom
        .get("risk_reduction")
        .and_then(|v| v.trim().trim_end_matches('%').parse::<u64>().ok())
        .filter(|v| *v <= 100)
        .unwrap_or_else(|| {
            if model
                .mitigations
                .iter()
                .any(|m| m.link.control == control.id)
            {
                100
            } else {
                0
            }
        })
}

/// OTM's 0-100 scales: each of our five levels is 20 points. An unrated threat has an unknown
/// likelihood (`null`) and an impact of 0, commented as unrated.
fn risk(r: Option<&Risk>) -> Value {
    let pct = |rank: u8| u64::from(rank) * 20;
    match r {
        None => json!({
            "likelihood": null,
            "impact": 0,
            "likelihoodComment": "unrated",
            "impactComment": "unrated",
        }),
        Some(r) => {
            let likelihood = r.likelihood.map(|l| pct(l.rank()));
            // Rated by severity only: the band stands in for the impact.
            let impact = r.impact.map_or(pct(r.band.rank()), |i| pct(i.rank()));
            let mut v = json!({
                "likelihood": likelihood,
                "impact": impact,
            });
            if r.impact.is_none() {
                v["impactComment"] = format!("from severity {}", r.band).into();
            }
            v
        }
    }
}

fn component_threat(
    model: &ThreatModel,
    threat: &str,
    component: &str,
    status: PairStatus,
) -> Value {
    let mitigations: Vec<Value> = model
        .mitigations
        .iter()
        .filter(|m| m.link.threat == threat && m.link.component == component)
        .map(|m| json!({ "mitigation": m.link.control, "state": "implemented" }))
        .collect();
    let mut v = json!({ "threat": threat, "state": status.as_str() });
    if !mitigations.is_empty() {
        v["mitigations"] = Value::Array(mitigations);
    }
    v
}

/// The code locations of an element, and its box on the diagram relative to `origin` (the top
/// left corner of its parent's box).
fn representations(id: &str, sources: &[Source], rect: Option<&Rect>, origin: (i32, i32)) -> Value {
    let mut out: Vec<Value> = sources
        .iter()
        .map(|s| {
            json!({
                "representation": CODE,
                "id": format!("{id}@{}:{}", s.path, s.line),
                "name": s.path,
                "file": s.path,
                "line": s.line,
                "codeSnippet": s.annotation,
            })
        })
        .collect();
    if let Some(r) = rect {
        out.push(json!({
            "representation": DIAGRAM,
            "id": format!("{id}@{DIAGRAM}"),
            "position": { "x": r.x - origin.0, "y": r.y - origin.1 },
            "size": { "width": r.w, "height": r.h },
        }));
    }
    Value::Array(out)
}

/// `path:line:column` of each source.
fn source_list(sources: &[Source]) -> Value {
    Value::Array(
        sources
            .iter()
            .map(|s| Value::String(s.location().to_string()))
            .collect(),
    )
}

/// The attributes OTM has no field for.
fn entity_attributes(declared: bool, a: &crate::model::Attributes) -> Map<String, Value> {
    let mut m = Map::new();
    if !declared {
        m.insert("declared".into(), false.into());
    }
    if let Some(o) = &a.owner {
        m.insert("owner".into(), o.clone().into());
    }
    if let Some(t) = &a.ticket {
        m.insert("ticket".into(), t.clone().into());
    }
    if !a.capec.is_empty() {
        m.insert("capec".into(), json!(a.capec));
    }
    if let Some(actor) = &a.actor {
        m.insert("actor".into(), actor.clone().into());
    }
    for (k, v) in &a.custom {
        m.entry(k.clone()).or_insert_with(|| v.clone().into());
    }
    m
}
