//! TM-BOM: the OWASP Threat Model Library's threat-model format, version 1.0.2
//! (`threat-model.schema.json`).
//!
//! Boundaries become trust zones, and every pair of zones that a flow or a nesting joins a trust
//! boundary; external components become actors, the others components; flows data flows;
//! threat actors threat personas; threats, controls and risks follow, risks scored with our
//! matrix (TM-BOM's own scale is ours: rare..certain × negligible..severe, 1-25). GuardLink's
//! data classes (`@handles`) become data sets and the scope's data sensitivity, its
//! assumptions (`@assumes`) assumptions.
//!
//! The format is strict (no extra properties, closed enumerations, symbolic names of
//! `[0-9a-z-]`), so our ids are turned into symbolic names, and the fields it requires that
//! annotations do not state get the documented defaults of docs/exports.md, which custom
//! attributes override.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{assessments, flow_facts, locations};
use crate::analysis::{Analysis, Basis, ThreatAssessment};
use crate::model::{Attributes, Band, DataClass, ElementType, ThreatModel};

/// The `$schema` the file declares.
pub const SCHEMA: &str = "https://github.com/OWASP/www-project-threat-model-library/blob/v1.0.2/threat-model.schema.json";
/// The zone of everything placed in no boundary.
pub const OUTSIDE: &str = "outside";
/// The persona of threats that name no threat actor.
pub const UNSPECIFIED: &str = "unspecified-actor";

const ACTOR_TYPES: &[&str] = &[
    "system",
    "user",
    "power_user",
    "administrator",
    "engineer",
    "third_party",
];
const SKILLS: &[&str] = &[
    "script_kid",
    "insider",
    "engineer",
    "expert_engineer",
    "oc_sponsored",
    "state_sponsored",
];
const ACCESS: &[&str] = &["anonymous", "user", "admin"];
const DEGREES: &[&str] = &["minimal", "low", "moderate", "high", "maximal"];

/// Symbolic names (`^[0-9a-z-]+$`) for ids, unique within one namespace.
#[derive(Debug, Default)]
struct Names {
    by_id: BTreeMap<String, String>,
    used: BTreeSet<String>,
}

impl Names {
    /// Give `id` a name: lower case, every run of other characters one `-`, trimmed; `-2`, `-3`,
    /// ... on a collision (ids are added in sorted order, so the result is stable).
    fn add(&mut self, id: &str) -> String {
        if let Some(n) = self.by_id.get(id) {
            return n.clone();
        }
        let base = symbolic(id);
        let mut name = base.clone();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.by_id.insert(id.to_string(), name.clone());
        name
    }

    fn get(&self, id: &str) -> Option<&String> {
        self.by_id.get(id)
    }
}

/// An id as a TM-BOM symbolic name.
pub fn symbolic(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut gap = false;
    for c in id.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        crate::model::ids::fallback_id(id).replace('_', "-")
    } else {
        out
    }
}

/// A custom attribute, when it is one of `allowed`.
fn pick<'a>(e: &'a Attributes, keys: &[&str], allowed: &[&str]) -> Option<&'a str> {
    keys.iter()
        .filter_map(|k| e.custom.get(*k))
        .map(|v| v.trim())
        .find(|v| allowed.contains(v))
}

fn flag(e: &Attributes, key: &str) -> Option<bool> {
    e.custom
        .get(key)
        .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        })
}

/// The `CWE-79` / `CAPEC-66` number.
fn number(id: &str) -> Option<i64> {
    id.rsplit('-').next().and_then(|n| n.parse().ok())
}

/// The TM-BOM risk band of ours.
pub fn level(band: Band) -> &'static str {
    match band {
        Band::VeryLow => "very_low",
        Band::Low => "low",
        Band::Medium => "medium",
        Band::High => "high",
        Band::Critical => "critical",
    }
}

/// The assessments of the analysis, by threat id.
type Assessed<'a> = BTreeMap<&'a str, &'a ThreatAssessment>;

/// The TM-BOM document of `model`: one step per section, in the order the names they share
/// are given out (zones, elements, personas, threats), so every symbolic name is stable.
pub fn export(model: &ThreatModel, analysis: &Analysis) -> Value {
    let assessed = assessments(analysis);
    let zones = Zones::new(model);
    let trust_zones = trust_zones(model, &zones);
    let trust_boundaries = trust_boundaries(model, &zones);
    let elements = elements(model, &zones);
    let data_flows = data_flows(model, &elements);
    let personas = personas(model);
    let threats = threats(model, &assessed, &elements, &personas);
    let controls = controls(model, &assessed, &threats.names);
    let risks = risks(model, &assessed, &threats.names);
    let classes = super::data_classes(model);
    let scope_sensitivity: Vec<&str> = classes.iter().filter_map(|d| sensitivity(*d)).collect();
    let data_sets = data_sets(model, &classes);
    let assumptions = assumptions(model, &elements.names);

    let external = !elements.actors.is_empty();
    let mut doc = json!({
        "$schema": SCHEMA,
        "version": "1",
        "scope": {
            "title": model.project.name,
            "description": if model.project.description.is_empty() {
                model.project.name.clone()
            } else {
                model.project.description.clone()
            },
            "business_criticality": "moderate",
            "data_sensitivity": scope_sensitivity,
            "exposure": if external { "external" } else { "internal" },
            "tier": "important",
        },
        "description": "Generated by threatmark from the annotations in the code.",
        "trust_zones": trust_zones,
        "trust_boundaries": trust_boundaries,
        "actors": elements.actors,
        "components": elements.components,
        "data_stores": [],
        "data_sets": data_sets,
        "data_flows": data_flows,
        "threat_personas": personas.values,
        "threats": threats.values,
        "controls": controls,
        "risks": risks,
    });
    if !assumptions.is_empty() {
        doc["assumptions"] = Value::Array(assumptions);
    }
    doc
}

/// Trust zones: every boundary, and `outside` when some component sits in none.
struct Zones<'m> {
    model: &'m ThreatModel,
    names: Names,
    outside: Option<String>,
}

impl<'m> Zones<'m> {
    fn new(model: &'m ThreatModel) -> Self {
        let mut zones = Zones {
            model,
            names: Names::default(),
            outside: None,
        };
        for b in &model.boundaries {
            zones.names.add(&b.id);
        }
        let outside_needed = model
            .components
            .iter()
            .any(|c| zones.boundary(&c.extra.boundary).is_none());
        zones.outside = outside_needed.then(|| zones.names.add(&format!("\u{0}{OUTSIDE}")));
        zones
    }

    /// The boundary `boundary` names, when the model has it.
    fn boundary(&self, boundary: &Option<String>) -> Option<String> {
        boundary
            .as_deref()
            .filter(|b| self.model.boundary(b).is_some())
            .map(str::to_string)
    }

    /// The zone of something placed in `boundary` (`outside` when in none).
    fn name(&self, boundary: &Option<String>) -> Option<String> {
        match self.boundary(boundary) {
            Some(b) => self.names.get(&b).cloned(),
            None => self.outside.clone(),
        }
    }
}

/// The `trust_zones` section.
fn trust_zones(model: &ThreatModel, zones: &Zones) -> Vec<Value> {
    let mut trust_zones: Vec<Value> = model
        .boundaries
        .iter()
        .filter_map(|b| {
            Some(json!({
                "symbolic_name": zones.names.get(&b.id)?,
                "title": b.name,
                "description": b.description,
            }))
        })
        .collect();
    if let Some(o) = &zones.outside {
        trust_zones.push(json!({
            "symbolic_name": o,
            "title": "Outside every trust boundary",
            "description": "Everything that no @boundary contains.",
        }));
    }
    trust_zones
}

/// The `trust_boundaries` section: zones joined by a nesting or by a flow.
fn trust_boundaries(model: &ThreatModel, zones: &Zones) -> Vec<Value> {
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut pair = |a: Option<String>, b: Option<String>| {
        if let (Some(a), Some(b)) = (a, b)
            && a != b
        {
            pairs.insert(if a < b { (a, b) } else { (b, a) });
        }
    };
    for b in &model.boundaries {
        if let Some(p) = &b.extra.parent {
            pair(
                zones.names.get(&b.id).cloned(),
                zones.name(&Some(p.clone())),
            );
        }
    }
    for f in &model.flows {
        let side = |c: &str| {
            model
                .component(c)
                .and_then(|c| zones.name(&c.extra.boundary))
        };
        pair(side(&f.link.source), side(&f.link.target));
    }
    pairs
        .into_iter()
        .map(|(a, b)| json!({ "trust_zone_a": a, "trust_zone_b": b }))
        .collect()
}

/// Actors (external components) and components, with the names and kinds flows refer to.
struct Elements<'m> {
    names: Names,
    kinds: BTreeMap<&'m str, &'static str>,
    actors: Vec<Value>,
    components: Vec<Value>,
}

/// The `actors` and `components` sections.
fn elements<'m>(model: &'m ThreatModel, zones: &Zones) -> Elements<'m> {
    let mut elements = Elements {
        names: Names::default(),
        kinds: BTreeMap::new(),
        actors: Vec::new(),
        components: Vec::new(),
    };
    for c in &model.components {
        let name = elements.names.add(&c.id);
        let description = described(&c.description, &c.sources);
        if c.attributes.element_type == Some(ElementType::External) {
            elements.kinds.insert(&c.id, "actor");
            let mut a = json!({
                "symbolic_name": name,
                "title": c.name,
                "description": description,
                "type": pick(&c.attributes, &["actor_type"], ACTOR_TYPES).unwrap_or("system"),
            });
            if let Some(z) = zones.name(&c.extra.boundary) {
                a["trust_zone"] = z.into();
            }
            elements.actors.push(a);
        } else {
            elements.kinds.insert(&c.id, "component");
            let mut v = json!({
                "symbolic_name": name,
                "title": c.name,
                "description": description,
            });
            if let Some(p) = &c.extra.parent {
                // Parents are added before children only when their ids sort first.
                v["parent_component"] = elements.names.add(p).into();
            }
            if let Some(z) = zones.name(&c.extra.boundary) {
                v["trust_zone"] = z.into();
            }
            elements.components.push(v);
        }
    }
    elements
}

/// The `data_flows` section.
fn data_flows(model: &ThreatModel, elements: &Elements) -> Vec<Value> {
    let mut flow_names = Names::default();
    model
        .flows
        .iter()
        .filter_map(|f| {
            let end = |c: &str| -> Option<Value> {
                Some(json!({ "type": elements.kinds.get(c)?, "object": elements.names.get(c)? }))
            };
            let facts = flow_facts(f);
            let mut description = described(&f.description, &f.sources);
            if f.link.bidirectional {
                description = format!("Both ways. {description}").trim().to_string();
            }
            Some(json!({
                "symbolic_name": flow_names.add(&f.id),
                "title": model.flow_name(f, crate::model::Arrow::Forward),
                "description": description,
                "source": end(&f.link.source)?,
                "destination": end(&f.link.target)?,
                "has_sensitive_data": facts.sensitive,
                "encrypted": facts.encrypted,
            }))
        })
        .collect()
}

/// Threat personas: the threat actors, and one for threats that name none.
struct Personas {
    names: Names,
    /// The persona of threats that name no known actor, when some do.
    unspecified: Option<String>,
    malicious: BTreeMap<String, bool>,
    values: Vec<Value>,
}

/// The `threat_personas` section.
fn personas(model: &ThreatModel) -> Personas {
    let mut personas = Names::default();
    let mut values: Vec<Value> = Vec::new();
    let mut malicious: BTreeMap<String, bool> = BTreeMap::new();
    for a in &model.actors {
        let name = personas.add(&a.id);
        let intent = flag(&a.attributes, "malicious_intent").unwrap_or(true);
        malicious.insert(name.clone(), intent);
        values.push(json!({
            "symbolic_name": name,
            "title": a.name,
            "description": described(&a.description, &a.sources),
            "is_person": flag(&a.attributes, "is_person").unwrap_or(true),
            "skill_level": pick(&a.attributes, &["skill_level", "skill"], SKILLS).unwrap_or("engineer"),
            "access_level": pick(&a.attributes, &["access_level", "access"], ACCESS).unwrap_or("anonymous"),
            "malicious_intent": intent,
            "applicability_to_org": pick(&a.attributes, &["applicability_to_org", "applicability"], DEGREES)
                .unwrap_or("moderate"),
        }));
    }
    let needs_unspecified = model.threats.iter().any(|t| {
        t.attributes
            .actor
            .as_deref()
            .and_then(|a| personas.get(a))
            .is_none()
    });
    let unspecified = needs_unspecified.then(|| personas.add(&format!("\u{0}{UNSPECIFIED}")));
    if let Some(u) = &unspecified {
        malicious.insert(u.clone(), true);
        values.push(json!({
            "symbolic_name": u,
            "title": "Unspecified threat actor",
            "description": "Threats whose annotations name no @actor.",
            "is_person": true,
            "skill_level": "engineer",
            "access_level": "anonymous",
            "malicious_intent": true,
            "applicability_to_org": "moderate",
        }));
    }
    Personas {
        names: personas,
        unspecified,
        malicious,
        values,
    }
}

/// Threats, with the names controls and risks refer to.
struct Threats {
    names: Names,
    values: Vec<Value>,
}

/// The `threats` section.
fn threats(
    model: &ThreatModel,
    assessed: &Assessed,
    elements: &Elements,
    personas: &Personas,
) -> Threats {
    let mut threat_names = Names::default();
    let mut threats = Vec::new();
    for t in &model.threats {
        let name = threat_names.add(&t.id);
        let persona = t
            .attributes
            .actor
            .as_deref()
            .and_then(|a| personas.names.get(a))
            .cloned()
            .or_else(|| personas.unspecified.clone())
            .unwrap_or_default();
        let affected: Vec<String> = assessed
            .get(t.id.as_str())
            .map(|a| {
                a.components
                    .iter()
                    .filter(|c| elements.kinds.get(c.as_str()) == Some(&"component"))
                    .filter_map(|c| elements.names.get(c).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let source = if personas.malicious.get(&persona).copied().unwrap_or(true) {
            "adversary"
        } else {
            "human_error"
        };
        let mut v = json!({
            "symbolic_name": name,
            "title": t.name,
            "description": described(&t.description, &t.sources),
            "components_affected": affected,
            "threat_persona": persona,
            "event": if t.description.is_empty() { t.name.clone() } else { t.description.clone() },
            "sources": [source],
        });
        let capec: Vec<Value> = t
            .attributes
            .capec
            .iter()
            .filter_map(|c| number(c))
            .map(|n| json!({ "capec_id": n }))
            .collect();
        if !capec.is_empty() {
            v["attack_mechanisms"] = Value::Array(capec);
        }
        let cwe: Vec<Value> = t
            .attributes
            .cwe
            .iter()
            .filter_map(|c| number(c))
            .map(|n| json!({ "cwe_id": n }))
            .collect();
        if !cwe.is_empty() {
            v["weaknesses"] = Value::Array(cwe);
        }
        threats.push(v);
    }
    Threats {
        names: threat_names,
        values: threats,
    }
}

/// The `controls` section: a control is active when some annotation says it mitigates
/// something, prioritised by the worst risk among the threats it addresses.
fn controls(model: &ThreatModel, assessed: &Assessed, threat_names: &Names) -> Vec<Value> {
    let mut control_names = Names::default();
    model
        .controls
        .iter()
        .map(|k| {
            let addressed: BTreeSet<&str> = model
                .mitigations
                .iter()
                .filter(|m| m.link.control == k.id)
                .map(|m| m.link.threat.as_str())
                .collect();
            let worst = addressed
                .iter()
                .filter_map(|t| assessed.get(t)?.risk.as_ref().map(|r| r.band))
                .max();
            let priority = match worst {
                None => "none",
                Some(Band::VeryLow | Band::Low) => "low",
                Some(Band::Medium) => "medium",
                Some(Band::High) => "high",
                Some(Band::Critical) => "critical",
            };
            json!({
                "symbolic_name": control_names.add(&k.id),
                "title": k.name,
                "description": described(&k.description, &k.sources),
                "threats": addressed
                    .iter()
                    .filter_map(|t| threat_names.get(t).cloned())
                    .collect::<Vec<_>>(),
                "status": if addressed.is_empty() { "assumed" } else { "active" },
                "priority": priority,
            })
        })
        .collect()
}

/// The `risks` section: one per threat rated on the matrix.
fn risks(model: &ThreatModel, assessed: &Assessed, threat_names: &Names) -> Vec<Value> {
    let mut risks = Vec::new();
    for t in &model.threats {
        let Some(a) = assessed.get(t.id.as_str()) else {
            continue;
        };
        let Some(r) = &a.risk else { continue };
        let (Some(l), Some(i), Basis::Matrix) = (r.likelihood, r.impact, r.basis) else {
            continue;
        };
        let Some(threat) = threat_names.get(&t.id) else {
            continue;
        };
        risks.push(json!({
            "symbolic_name": format!("risk-{threat}"),
            "title": t.name,
            "description": format!(
                "{} ({} on {})",
                t.name,
                a.status.as_str(),
                if a.components.is_empty() { "no component".to_string() } else { a.components.join(", ") }
            ),
            "threats": [threat],
            "likelihood": l.as_str(),
            "impact": i.as_str(),
            "impact_description": if t.description.is_empty() { t.name.clone() } else { t.description.clone() },
            "score": r.score.min(25),
            "level": level(r.band),
        }));
    }
    risks
}

/// The `data_sets` section: GuardLink's data classes, a data set each (on no data store: the
/// model has no store types). `internal` is business data; `public` has no sensitivity.
fn data_sets(model: &ThreatModel, classes: &[DataClass]) -> Vec<Value> {
    classes
        .iter()
        .map(|d| {
            let holders: Vec<&str> = model
                .components
                .iter()
                .filter(|c| c.extra.data.contains(d))
                .map(|c| c.name.as_str())
                .collect();
            json!({
                "symbolic_name": format!("data-{}", d.as_str()),
                "title": super::data_title(*d),
                "description": format!("Handled by {}", holders.join(", ")),
                "placements": [],
                "data_sensitivity": sensitivity(*d).into_iter().collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The `assumptions` section: GuardLink's `@assumes`, on the component they name.
fn assumptions(model: &ThreatModel, element_names: &Names) -> Vec<Value> {
    model
        .assumptions
        .iter()
        .map(|a| {
            let name = model
                .component(&a.link.component)
                .map_or(a.link.component.as_str(), |c| c.name.as_str());
            let mut v = json!({
                "description": described(&format!("{name}: {}", a.description), &a.sources),
                "validity": "unconfirmed",
            });
            if let Some(topic) = element_names.get(&a.link.component) {
                v["topics"] = json!([topic]);
            }
            v
        })
        .collect()
}

/// TM-BOM's sensitivity of a GuardLink data class (`public` has none).
fn sensitivity(class: DataClass) -> Option<&'static str> {
    match class {
        DataClass::Secrets => Some("cred"),
        DataClass::Phi => Some("phi"),
        DataClass::Pii => Some("pii"),
        DataClass::Financial => Some("fin"),
        DataClass::Internal => Some("biz"),
        DataClass::Public => None,
    }
}

/// A description followed by where the element is written.
fn described(description: &str, sources: &[crate::model::Source]) -> String {
    let at = locations(sources);
    match (description.is_empty(), at.is_empty()) {
        (_, true) => description.to_string(),
        (true, false) => format!("At {at}"),
        (false, false) => format!("{description} (at {at})"),
    }
}
