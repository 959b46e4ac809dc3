//! Pure conversion of Threatspec's recorded output (`threatmodel/*.json`) into our model: the
//! JSON documents in, a [`ThreatModel`] and warnings out. No IO: where a recorded source points
//! is decided by the caller's [`Locate`] (the loader reads the annotated files, tests keep the
//! names).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::annotation::parse_text;
use crate::model::{
    self, AcceptanceLink, Attributes, Component, ComponentExtra, Entity, ExposureLink, FlowLink,
    MitigationLink, NoExtra, Project, Relation, ReviewLink, Source, TestLink, ThreatModel,
    TransferLink, ids,
};

/// The four files of a Threatspec output folder, as JSON. Library files may be missing.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub threatmodel: Value,
    pub threats: Option<Value>,
    pub controls: Option<Value>,
    pub components: Option<Value>,
}

/// How to turn a recorded `source` into ours: `(filename, annotation's first line, line)` →
/// `(repository path, line, column)`.
pub type Locate<'a> = dyn Fn(&str, &str, u32) -> (String, u32, u32) + 'a;

/// What an import produced.
#[derive(Debug, Clone)]
pub struct Imported {
    pub model: ThreatModel,
    /// Things that could not be carried over exactly, for the user.
    pub warnings: Vec<String>,
}

/// Keep a file name as it is, line 0 (unknown): the pure default.
pub fn keep_paths(file: &str, _annotation: &str, _line: u32) -> (String, u32, u32) {
    (file.trim_start_matches("./").to_string(), 0, 0)
}

/// Our id for a Threatspec id (`#sqli` → `sqli`); ids we would not accept are slugged.
pub fn our_id(raw: &str) -> String {
    let bare = raw.trim().trim_start_matches('#');
    if ids::is_valid_id(bare) {
        bare.to_string()
    } else {
        ids::derive(bare)
    }
}

/// A YAML value of `custom` as attribute text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Threatspec's `custom` fields as our attributes, read exactly as our parser reads
/// `[key: value]` (so `impact: high` is `major`, `cwe: 79` is `CWE-79`). Values our attribute
/// syntax cannot hold, and values our parser rejects, are kept verbatim in `custom`.
fn attributes(
    tag: &str,
    custom: Option<&Value>,
    what: &str,
    warnings: &mut Vec<String>,
) -> Attributes {
    let mut attrs = Attributes::default();
    let Some(Value::Object(map)) = custom else {
        return attrs;
    };
    for (key, value) in map {
        let text = scalar(value);
        let plain = !text.contains([';', ']', '[', '\n', '\r']) && !key.contains([';', ']', ':']);
        let (anns, diags) = if plain && !text.trim().is_empty() {
            parse_text("import", &format!("@{tag} X [{key}: {text}]"))
        } else {
            (Vec::new(), Vec::new())
        };
        match anns.first() {
            Some(a) if diags.is_empty() => merge_attributes(&mut attrs, &a.attributes),
            _ => {
                if plain && !text.trim().is_empty() {
                    warnings.push(format!(
                        "{what}: custom field `{key}: {text}` is not a valid attribute; kept as text"
                    ));
                }
                attrs
                    .custom
                    .insert(key.trim().to_ascii_lowercase().replace('-', "_"), text);
            }
        }
    }
    attrs
}

fn merge_attributes(into: &mut Attributes, from: &Attributes) {
    if !from.stride.is_empty() {
        into.stride = from.stride.clone();
    }
    into.severity = from.severity.or(into.severity);
    into.likelihood = from.likelihood.or(into.likelihood);
    into.impact = from.impact.or(into.impact);
    into.status = from.status.or(into.status);
    into.element_type = from.element_type.or(into.element_type);
    if from.expires.is_some() {
        into.expires.clone_from(&from.expires);
    }
    for (dst, src) in [
        (&mut into.owner, &from.owner),
        (&mut into.ticket, &from.ticket),
        (&mut into.actor, &from.actor),
    ] {
        if src.is_some() {
            dst.clone_from(src);
        }
    }
    if !from.cwe.is_empty() {
        into.cwe = from.cwe.clone();
    }
    if !from.capec.is_empty() {
        into.capec = from.capec.clone();
    }
    into.custom
        .extend(from.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// A library entity under construction.
#[derive(Debug, Clone)]
struct Draft {
    name: String,
    description: String,
    declared: bool,
    attributes: Attributes,
    sources: BTreeSet<Source>,
}

fn library(
    doc: Option<&Value>,
    key: &str,
    tag: &str,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Draft> {
    let mut out = BTreeMap::new();
    let Some(Value::Object(entries)) = doc.and_then(|d| d.get(key)) else {
        return out;
    };
    for (raw_id, entry) in entries {
        let id = our_id(entry.get("id").and_then(Value::as_str).unwrap_or(raw_id));
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string();
        let description = entry
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end()
            .to_string();
        let attributes = attributes(
            tag,
            entry.get("custom"),
            &format!("{key} {raw_id}"),
            warnings,
        );
        out.insert(
            id.clone(),
            Draft {
                declared: !name.is_empty(),
                name: if name.is_empty() { id } else { name },
                description,
                attributes,
                sources: BTreeSet::new(),
            },
        );
    }
    out
}

fn text_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The records of one list of threatmodel.json.
fn records<'v>(tm: &'v Value, list: &str) -> impl Iterator<Item = &'v Value> {
    tm.get(list).and_then(Value::as_array).into_iter().flatten()
}

/// Turn Threatspec's recorded output into our model. `locate` maps each recorded source to a
/// repository path and a real line ([`keep_paths`] keeps the file name and says line 0).
pub fn convert(project: Project, out: &Outputs, locate: &Locate<'_>) -> Imported {
    let mut warnings = Vec::new();
    let mut c = Conversion {
        threats: library(out.threats.as_ref(), "threats", "threat", &mut warnings),
        controls: library(out.controls.as_ref(), "controls", "control", &mut warnings),
        components: library(
            out.components.as_ref(),
            "components",
            "component",
            &mut warnings,
        ),
        warnings,
        locate,
    };
    let tm = &out.threatmodel;
    let mitigations = c.mitigations(tm);
    let exposures = c.exposures(tm);
    let acceptances = c.acceptances(tm);
    let transfers = c.transfers(tm);
    let flows = c.flows(tm);
    let reviews = c.reviews(tm);
    let tests = c.tests(tm);
    let parents = nest(&mut c.components);

    let finish = |(id, d): (String, Draft)| Entity {
        id,
        name: d.name,
        description: d.description,
        declared: d.declared,
        placeholder: false,
        extra: NoExtra {},
        attributes: d.attributes,
        sources: d.sources.into_iter().collect(),
    };
    let components: Vec<Component> = c
        .components
        .into_iter()
        .map(|(id, d)| Component {
            extra: ComponentExtra {
                parent: parents.get(&id).cloned(),
                boundary: None,
                ..ComponentExtra::default()
            },
            id,
            name: d.name,
            description: d.description,
            declared: d.declared,
            placeholder: false,
            attributes: d.attributes,
            sources: d.sources.into_iter().collect(),
        })
        .collect();
    let model = ThreatModel {
        schema_version: model::SCHEMA_VERSION,
        project,
        components,
        boundaries: Vec::new(),
        actors: Vec::new(),
        threats: c.threats.into_iter().map(finish).collect(),
        controls: c.controls.into_iter().map(finish).collect(),
        mitigations: mitigations.into_values().collect(),
        exposures: exposures.into_values().collect(),
        acceptances: acceptances.into_values().collect(),
        transfers: transfers.into_values().collect(),
        flows: flows.into_values().collect(),
        reviews: reviews.into_values().collect(),
        tests: tests.into_values().collect(),
        analysis: None,
        ..ThreatModel::default()
    };
    Imported {
        model,
        warnings: c.warnings,
    }
}

/// A conversion under way: the three libraries, which every relation adds the ids it names to,
/// and the warnings so far. One method per relation list of threatmodel.json.
struct Conversion<'l, 'a> {
    threats: BTreeMap<String, Draft>,
    controls: BTreeMap<String, Draft>,
    components: BTreeMap<String, Draft>,
    warnings: Vec<String>,
    locate: &'l Locate<'a>,
}

/// Every id a relation names exists afterwards, with the relation's source as a mention.
fn touch(lib: &mut BTreeMap<String, Draft>, id: &str, source: &Source) {
    lib.entry(id.to_string())
        .or_insert_with(|| Draft {
            name: id.to_string(),
            description: String::new(),
            declared: false,
            attributes: Attributes::default(),
            sources: BTreeSet::new(),
        })
        .sources
        .insert(source.clone());
}

fn details(r: &Value) -> String {
    text_of(r, "details").to_string()
}

fn description(r: &Value) -> String {
    text_of(r, "description").trim_end().to_string()
}

impl Conversion<'_, '_> {
    /// Where a record was written, as ours.
    fn source_of(&self, r: &Value) -> Source {
        let s = r.get("source").cloned().unwrap_or(Value::Null);
        let annotation = text_of(&s, "annotation")
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let line = s.get("line").and_then(Value::as_u64).unwrap_or(0);
        let (path, line, column) = (self.locate)(
            text_of(&s, "filename"),
            &annotation,
            u32::try_from(line).unwrap_or(0),
        );
        Source {
            path,
            line,
            column,
            annotation,
        }
    }

    /// A relation's `custom` fields as attributes.
    fn rel_attrs(&mut self, r: &Value, what: &str) -> Attributes {
        attributes("threat", r.get("custom"), what, &mut self.warnings)
    }

    fn mitigations(&mut self, tm: &Value) -> BTreeMap<String, Relation<MitigationLink>> {
        let mut mitigations = BTreeMap::new();
        for r in records(tm, "mitigations") {
            let src = self.source_of(r);
            let link = MitigationLink {
                component: our_id(text_of(r, "component")),
                threat: our_id(text_of(r, "threat")),
                control: our_id(text_of(r, "control")),
            };
            touch(&mut self.components, &link.component, &src);
            touch(&mut self.threats, &link.threat, &src);
            touch(&mut self.controls, &link.control, &src);
            let id = ids::relation_id(&[&link.component, &link.threat, &link.control]);
            let attrs = self.rel_attrs(r, &format!("mitigation {id}"));
            add(
                &mut mitigations,
                id,
                link,
                String::new(),
                description(r),
                attrs,
                src,
            );
        }
        mitigations
    }

    fn exposures(&mut self, tm: &Value) -> BTreeMap<String, Relation<ExposureLink>> {
        let mut exposures = BTreeMap::new();
        for r in records(tm, "exposures") {
            let src = self.source_of(r);
            let link = ExposureLink {
                component: our_id(text_of(r, "component")),
                threat: our_id(text_of(r, "threat")),
                confirmed: false,
            };
            touch(&mut self.components, &link.component, &src);
            touch(&mut self.threats, &link.threat, &src);
            let id = ids::relation_id(&[&link.component, &link.threat]);
            let attrs = self.rel_attrs(r, &format!("exposure {id}"));
            add(
                &mut exposures,
                id,
                link,
                details(r),
                description(r),
                attrs,
                src,
            );
        }
        exposures
    }

    fn acceptances(&mut self, tm: &Value) -> BTreeMap<String, Relation<AcceptanceLink>> {
        let mut acceptances = BTreeMap::new();
        for r in records(tm, "acceptances") {
            let src = self.source_of(r);
            let link = AcceptanceLink {
                threat: our_id(text_of(r, "threat")),
                component: our_id(text_of(r, "component")),
            };
            touch(&mut self.threats, &link.threat, &src);
            touch(&mut self.components, &link.component, &src);
            let id = ids::relation_id(&[&link.threat, &link.component]);
            let attrs = self.rel_attrs(r, &format!("acceptance {id}"));
            add(
                &mut acceptances,
                id,
                link,
                details(r),
                description(r),
                attrs,
                src,
            );
        }
        acceptances
    }

    fn transfers(&mut self, tm: &Value) -> BTreeMap<String, Relation<TransferLink>> {
        let mut transfers = BTreeMap::new();
        for r in records(tm, "transfers") {
            let src = self.source_of(r);
            let link = TransferLink {
                threat: our_id(text_of(r, "threat")),
                from: our_id(text_of(r, "source_component")),
                to: our_id(text_of(r, "destination_component")),
            };
            touch(&mut self.threats, &link.threat, &src);
            touch(&mut self.components, &link.from, &src);
            touch(&mut self.components, &link.to, &src);
            let id = ids::relation_id(&[&link.threat, &link.from, &link.to]);
            let attrs = self.rel_attrs(r, &format!("transfer {id}"));
            add(
                &mut transfers,
                id,
                link,
                details(r),
                description(r),
                attrs,
                src,
            );
        }
        transfers
    }

    /// Threatspec's connections are our flows.
    fn flows(&mut self, tm: &Value) -> BTreeMap<String, Relation<FlowLink>> {
        let mut flows: BTreeMap<String, Relation<FlowLink>> = BTreeMap::new();
        for r in records(tm, "connections") {
            let src = self.source_of(r);
            let mut s = our_id(text_of(r, "source_component"));
            let mut t = our_id(text_of(r, "destination_component"));
            touch(&mut self.components, &s, &src);
            touch(&mut self.components, &t, &src);
            let both = text_of(r, "direction").eq_ignore_ascii_case("with");
            // As the builder stores them: a two-way flow has its ends in id order.
            if both && t < s {
                std::mem::swap(&mut s, &mut t);
            }
            let d = details(r);
            let id = ids::relation_id(&[&s, &t, &ids::slug(&d)]);
            let attrs = self.rel_attrs(r, &format!("flow {id}"));
            let link = FlowLink {
                source: s,
                target: t,
                bidirectional: both,
                crosses: Vec::new(),
            };
            add(&mut flows, id.clone(), link, d, description(r), attrs, src);
            if let Some(f) = flows.get_mut(&id) {
                f.link.bidirectional |= both;
            }
        }
        flows
    }

    fn reviews(&mut self, tm: &Value) -> BTreeMap<String, Relation<ReviewLink>> {
        let mut reviews = BTreeMap::new();
        for r in records(tm, "reviews") {
            let src = self.source_of(r);
            let link = ReviewLink {
                component: our_id(text_of(r, "component")),
            };
            touch(&mut self.components, &link.component, &src);
            let d = details(r);
            let id = ids::relation_id(&[&link.component, &ids::slug(&d)]);
            let attrs = self.rel_attrs(r, &format!("review {id}"));
            add(&mut reviews, id, link, d, description(r), attrs, src);
        }
        reviews
    }

    fn tests(&mut self, tm: &Value) -> BTreeMap<String, Relation<TestLink>> {
        let mut tests = BTreeMap::new();
        for r in records(tm, "tests") {
            let src = self.source_of(r);
            let link = TestLink {
                control: our_id(text_of(r, "control")),
                component: our_id(text_of(r, "component")),
            };
            touch(&mut self.controls, &link.control, &src);
            touch(&mut self.components, &link.component, &src);
            let id = ids::relation_id(&[&link.control, &link.component]);
            let attrs = self.rel_attrs(r, &format!("test {id}"));
            add(
                &mut tests,
                id,
                link,
                String::new(),
                description(r),
                attrs,
                src,
            );
        }
        tests
    }
}

/// The parent of each component: `Shop:API:Checkout` is a child of `Shop:API`, which is a
/// child of `Shop`: the component with that name, else an implicit one with the derived id (as
/// the builder does), added to `components`.
fn nest(components: &mut BTreeMap<String, Draft>) -> BTreeMap<String, String> {
    let mut parents: BTreeMap<String, String> = BTreeMap::new();
    let named: Vec<(String, String, BTreeSet<Source>)> = components
        .iter()
        .map(|(id, d)| (id.clone(), d.name.clone(), d.sources.clone()))
        .collect();
    for (id, name, sources) in named {
        let parts: Vec<&str> = name.split(':').collect();
        if parts.len() < 2 || parts.iter().any(|p| p.trim().is_empty()) {
            continue;
        }
        let mut child = id;
        for n in (1..parts.len()).rev() {
            let parent_name = parts[..n].join(":");
            let derived = ids::derive(&parent_name);
            let parent = components
                .iter()
                .filter(|(_, d)| d.name == parent_name)
                .min_by_key(|(pid, d)| (!d.declared, **pid != derived, (*pid).clone()))
                .map(|(pid, _)| pid.clone())
                .unwrap_or(derived);
            if parent == child || is_ancestor(&parents, &child, &parent) {
                break;
            }
            parents.entry(child.clone()).or_insert(parent.clone());
            let entry = components.entry(parent.clone()).or_insert_with(|| Draft {
                name: parent_name.clone(),
                description: String::new(),
                declared: false,
                attributes: Attributes::default(),
                sources: BTreeSet::new(),
            });
            if !entry.declared {
                entry.sources.extend(sources.iter().cloned());
            }
            child = parent;
        }
    }
    parents
}

/// Is `anc` among the ancestors of `id` (or `id` itself)?
fn is_ancestor(parents: &BTreeMap<String, String>, anc: &str, id: &str) -> bool {
    let mut cur = id;
    for _ in 0..=parents.len() {
        if cur == anc {
            return true;
        }
        match parents.get(cur) {
            Some(p) => cur = p,
            None => return false,
        }
    }
    true
}

/// Add a relation; the same relation recorded twice (Threatspec duplicates annotations of files
/// it reads twice) keeps the first record and gains the other's source.
fn add<T>(
    map: &mut BTreeMap<String, Relation<T>>,
    id: String,
    link: T,
    details: String,
    description: String,
    attributes: Attributes,
    source: Source,
) {
    match map.get_mut(&id) {
        Some(existing) => {
            if !existing.sources.contains(&source) {
                existing.sources.push(source);
                existing.sources.sort();
            }
        }
        None => {
            map.insert(
                id.clone(),
                Relation {
                    id,
                    link,
                    details,
                    description,
                    attributes,
                    sources: vec![source],
                },
            );
        }
    }
}
