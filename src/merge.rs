//! Merging the models of several repositories (one per microservice, say) into one.
//!
//! Pure and independent of the order of its inputs: the models are sorted by project name
//! (then by content) first. The rules, per kind of entity (components, boundaries, actors,
//! threats and controls each have their own ids):
//!
//! - an id used by one model only is kept;
//! - an id several models use is **one** entity when at most one of them declares it (the
//!   others only mention it: a flow from this service to one declared in another repository),
//!   or when every declaration is identical (a shared `@boundary Internet (#internet)`); the
//!   declaration wins and the sources are joined;
//! - otherwise the ids **collide**, and each declaring model's entity is namespaced with its
//!   project: `checkout.api`, `catalog.api`. References inside that model follow. Mentions
//!   in other models stay on the bare id, which then names an undeclared entity.
//!
//! Source paths are prefixed with the project (`checkout/src/api.go`), so that two
//! repositories' `src/main.go` stay apart. Relations are then rebuilt with ids from their new
//! ends, and the derived fields (boundary members, crossings) and the analysis recomputed.
//! The derived fields cost linear time in the input plus the crossings written: the nesting is
//! walked once, with cycles broken there (`Nesting`).
//!
//! @component Threatmark:Merger (#merger) in #process [type: process]: joins the models of several repositories
//! @threat Resource exhaustion by pathological structure (#structural_exhaustion) [stride: D; likelihood: possible; impact: moderate; cwe: 407; actor: #malicious_contributor]:
//! a deep or cyclic boundary nesting, a huge ignore file or a huge model makes merge, the walk or the site run for minutes or out of memory
//! @control Nesting walked once (#bounded_merge): merge breaks boundary cycles in one pass and memoises depths, so it is linear in its input plus the crossings it writes
//! @mitigates #merger against #structural_exhaustion with #bounded_merge
//! @connects #model_file to #merger with models to merge

use std::collections::{BTreeMap, BTreeSet};

use crate::analysis::{self, RiskMatrix};
use crate::model::{
    Actor, ActorExtra, Attributes, Boundary, BoundaryExtra, Component, ComponentExtra, Entity,
    NoExtra, Project, Relation, SCHEMA_VERSION, Source, ThreatModel, ids,
};

/// The kinds with their own id spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Component,
    Boundary,
    Actor,
    Threat,
    Control,
}

/// The namespace of each input model: the project name's id, made unique.
fn namespaces(models: &[ThreatModel]) -> Vec<String> {
    let mut used = BTreeSet::new();
    models
        .iter()
        .map(|m| {
            let base = ids::derive(&m.project.name);
            let mut ns = base.clone();
            let mut n = 2;
            while !used.insert(ns.clone()) {
                ns = format!("{base}_{n}");
                n += 1;
            }
            ns
        })
        .collect()
}

/// What makes two declarations the same: everything but the sources and derived fields.
fn signature<X>(e: &Entity<X>, extra: String) -> String {
    let attrs = serde_json::to_string(&e.attributes).unwrap_or_default();
    format!("{}\u{0}{}\u{0}{attrs}\u{0}{extra}", e.name, e.description)
}

/// One model's use of an id: (model index, declared, signature).
type Use = (usize, bool, String);

/// Per kind and per model, the renaming of ids that collide.
type Renames = BTreeMap<(Kind, usize), BTreeMap<String, String>>;

fn collect_renames(models: &[ThreatModel], ns: &[String]) -> Renames {
    let mut seen: BTreeMap<(Kind, String), Vec<Use>> = BTreeMap::new();
    for (i, m) in models.iter().enumerate() {
        for c in &m.components {
            let extra = format!("{:?}", c.extra.parent);
            seen.entry((Kind::Component, c.id.clone()))
                .or_default()
                .push((i, c.declared, signature(c, extra)));
        }
        for b in &m.boundaries {
            let extra = format!("{:?}", b.extra.parent);
            seen.entry((Kind::Boundary, b.id.clone()))
                .or_default()
                .push((i, b.declared, signature(b, extra)));
        }
        for a in &m.actors {
            let extra = format!("{:?}", a.extra.boundary);
            seen.entry((Kind::Actor, a.id.clone())).or_default().push((
                i,
                a.declared,
                signature(a, extra),
            ));
        }
        for (kind, list) in [(Kind::Threat, &m.threats), (Kind::Control, &m.controls)] {
            for e in list {
                seen.entry((kind, e.id.clone())).or_default().push((
                    i,
                    e.declared,
                    signature(e, String::new()),
                ));
            }
        }
    }
    let mut existing: BTreeSet<(Kind, String)> = seen.keys().cloned().collect();
    let mut renames = Renames::new();
    for ((kind, id), uses) in &seen {
        let declaring: Vec<&Use> = uses.iter().filter(|u| u.1).collect();
        let distinct: BTreeSet<&String> = declaring.iter().map(|u| &u.2).collect();
        if distinct.len() <= 1 {
            continue;
        }
        for (i, _, _) in declaring {
            let base = format!("{}.{id}", ns[*i]);
            let mut new = base.clone();
            let mut n = 2;
            while !existing.insert((*kind, new.clone())) {
                new = format!("{base}_{n}");
                n += 1;
            }
            renames
                .entry((*kind, *i))
                .or_default()
                .insert(id.clone(), new);
        }
    }
    renames
}

struct Renamer<'r> {
    renames: &'r Renames,
    model: usize,
    prefix: String,
}

impl Renamer<'_> {
    fn id(&self, kind: Kind, id: &str) -> String {
        self.renames
            .get(&(kind, self.model))
            .and_then(|m| m.get(id))
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn opt(&self, kind: Kind, id: &Option<String>) -> Option<String> {
        id.as_deref().map(|i| self.id(kind, i))
    }

    fn sources(&self, sources: &[Source]) -> Vec<Source> {
        sources
            .iter()
            .map(|s| Source {
                path: format!("{}/{}", self.prefix, s.path),
                ..s.clone()
            })
            .collect()
    }

    fn attributes(&self, a: &Attributes) -> Attributes {
        Attributes {
            actor: self.opt(Kind::Actor, &a.actor),
            ..a.clone()
        }
    }

    fn relation<T>(&self, id: String, link: T, x: &Relation<T>) -> Relation<T> {
        Relation {
            id,
            link,
            details: x.details.clone(),
            description: x.description.clone(),
            attributes: self.attributes(&x.attributes),
            sources: self.sources(&x.sources),
        }
    }

    fn entity<X: Clone>(&self, kind: Kind, e: &Entity<X>, extra: X) -> Entity<X> {
        Entity {
            id: self.id(kind, &e.id),
            name: e.name.clone(),
            description: e.description.clone(),
            declared: e.declared,
            placeholder: e.placeholder,
            extra,
            attributes: self.attributes(&e.attributes),
            sources: self.sources(&e.sources),
        }
    }
}

/// Join an entity into the merged map: a declaration wins over mentions, sources are joined.
fn join<X: Clone>(map: &mut BTreeMap<String, Entity<X>>, e: Entity<X>) {
    match map.get_mut(&e.id) {
        None => {
            map.insert(e.id.clone(), e);
        }
        Some(have) => {
            let mut sources: BTreeSet<Source> = have.sources.drain(..).collect();
            // A declaration wins over mentions (whose sources it drops), and a mention by
            // name over a bare `#id` (whose sources it joins).
            if e.declared && !have.declared {
                sources = e.sources.iter().cloned().collect();
                *have = Entity {
                    sources: Vec::new(),
                    ..e
                };
            } else if e.declared == have.declared {
                if have.placeholder && !e.placeholder {
                    sources.extend(e.sources.iter().cloned());
                    *have = Entity {
                        sources: Vec::new(),
                        ..e
                    };
                } else {
                    sources.extend(e.sources);
                }
            }
            have.sources = sources.into_iter().collect();
        }
    }
}

/// Join a relation: the first one (in model order) keeps its fields, sources are joined.
fn join_relation<T>(map: &mut BTreeMap<String, Relation<T>>, r: Relation<T>) {
    match map.get_mut(&r.id) {
        None => {
            map.insert(r.id.clone(), r);
        }
        Some(have) => {
            let mut sources: BTreeSet<Source> = have.sources.drain(..).collect();
            sources.extend(r.sources);
            have.sources = sources.into_iter().collect();
        }
    }
}

/// Merge `models` into one, named after them (override `project` afterwards if needed), and
/// analyse it with `matrix`.
pub fn merge(models: &[ThreatModel], matrix: &RiskMatrix) -> ThreatModel {
    let mut sorted: Vec<&ThreatModel> = models.iter().collect();
    sorted.sort_by_cached_key(|m| {
        let mut bare = (*m).clone();
        bare.analysis = None;
        (m.project.name.clone(), crate::model::to_json(&bare))
    });
    let models: Vec<ThreatModel> = sorted
        .into_iter()
        .map(|m| ThreatModel {
            analysis: None,
            ..m.clone()
        })
        .collect();
    let ns = namespaces(&models);
    let renames = collect_renames(&models, &ns);

    let mut components: BTreeMap<String, Component> = BTreeMap::new();
    let mut boundaries: BTreeMap<String, Boundary> = BTreeMap::new();
    let mut actors: BTreeMap<String, Actor> = BTreeMap::new();
    let mut threats: BTreeMap<String, Entity> = BTreeMap::new();
    let mut controls: BTreeMap<String, Entity> = BTreeMap::new();
    let mut mitigations = BTreeMap::new();
    let mut exposures = BTreeMap::new();
    let mut acceptances = BTreeMap::new();
    let mut transfers = BTreeMap::new();
    let mut flows = BTreeMap::new();
    let mut reviews = BTreeMap::new();
    let mut tests = BTreeMap::new();
    let mut entitlements = BTreeMap::new();
    let mut assumptions = BTreeMap::new();
    let mut features = BTreeMap::new();

    for (i, m) in models.iter().enumerate() {
        let r = Renamer {
            renames: &renames,
            model: i,
            prefix: ns[i].clone(),
        };
        for c in &m.components {
            let extra = ComponentExtra {
                parent: r.opt(Kind::Component, &c.extra.parent),
                boundary: r.opt(Kind::Boundary, &c.extra.boundary),
                owners: c.extra.owners.clone(),
                data: c.extra.data.clone(),
            };
            join(&mut components, r.entity(Kind::Component, c, extra));
        }
        for b in &m.boundaries {
            let extra = BoundaryExtra {
                parent: r.opt(Kind::Boundary, &b.extra.parent),
                components: Vec::new(),
                between: b
                    .extra
                    .between
                    .iter()
                    .map(|c| r.id(Kind::Component, c))
                    .collect(),
            };
            join(&mut boundaries, r.entity(Kind::Boundary, b, extra));
        }
        for a in &m.actors {
            let extra = ActorExtra {
                boundary: r.opt(Kind::Boundary, &a.extra.boundary),
            };
            join(&mut actors, r.entity(Kind::Actor, a, extra));
        }
        for (kind, list, into) in [
            (Kind::Threat, &m.threats, &mut threats),
            (Kind::Control, &m.controls, &mut controls),
        ] {
            for e in list {
                join(into, r.entity(kind, e, NoExtra {}));
            }
        }
        for x in &m.mitigations {
            let mut link = x.link.clone();
            link.component = r.id(Kind::Component, &link.component);
            link.threat = r.id(Kind::Threat, &link.threat);
            link.control = r.id(Kind::Control, &link.control);
            let id = ids::relation_id(&[&link.component, &link.threat, &link.control]);
            join_relation(&mut mitigations, r.relation(id, link, x));
        }
        for x in &m.exposures {
            let mut link = x.link.clone();
            link.component = r.id(Kind::Component, &link.component);
            link.threat = r.id(Kind::Threat, &link.threat);
            let id = ids::relation_id(&[&link.component, &link.threat]);
            join_relation(&mut exposures, r.relation(id, link, x));
        }
        for x in &m.acceptances {
            let mut link = x.link.clone();
            link.threat = r.id(Kind::Threat, &link.threat);
            link.component = r.id(Kind::Component, &link.component);
            let id = ids::relation_id(&[&link.threat, &link.component]);
            join_relation(&mut acceptances, r.relation(id, link, x));
        }
        for x in &m.transfers {
            let mut link = x.link.clone();
            link.threat = r.id(Kind::Threat, &link.threat);
            link.from = r.id(Kind::Component, &link.from);
            link.to = r.id(Kind::Component, &link.to);
            let id = ids::relation_id(&[&link.threat, &link.from, &link.to]);
            join_relation(&mut transfers, r.relation(id, link, x));
        }
        for x in &m.flows {
            let mut link = x.link.clone();
            link.source = r.id(Kind::Component, &link.source);
            link.target = r.id(Kind::Component, &link.target);
            if link.bidirectional && link.target < link.source {
                std::mem::swap(&mut link.source, &mut link.target);
            }
            link.crosses = Vec::new();
            let id = ids::relation_id(&[&link.source, &link.target, &ids::slug(&x.details)]);
            join_relation(&mut flows, r.relation(id, link, x));
        }
        for x in &m.reviews {
            let mut link = x.link.clone();
            link.component = r.id(Kind::Component, &link.component);
            let id = ids::relation_id(&[&link.component, &ids::slug(&x.details)]);
            join_relation(&mut reviews, r.relation(id, link, x));
        }
        for x in &m.tests {
            let mut link = x.link.clone();
            link.control = r.id(Kind::Control, &link.control);
            link.component = r.id(Kind::Component, &link.component);
            let id = ids::relation_id(&[&link.control, &link.component]);
            join_relation(&mut tests, r.relation(id, link, x));
        }
        for x in &m.entitlements {
            let mut link = x.link.clone();
            link.actor = r.id(Kind::Actor, &link.actor);
            link.component = r.opt(Kind::Component, &link.component);
            link.threat = r.opt(Kind::Threat, &link.threat);
            let id = ids::relation_id(&[
                &link.actor,
                &ids::slug(&link.capability),
                link.component.as_deref().unwrap_or(""),
                link.threat.as_deref().unwrap_or(""),
            ]);
            join_relation(&mut entitlements, r.relation(id, link, x));
        }
        for x in &m.assumptions {
            let mut link = x.link.clone();
            link.component = r.id(Kind::Component, &link.component);
            let id = ids::relation_id(&[&link.component, &ids::slug(&x.description)]);
            join_relation(&mut assumptions, r.relation(id, link, x));
        }
        for x in &m.features {
            // A feature is a name, not an id of either model: the same name is one feature.
            join_relation(&mut features, r.relation(x.id.clone(), x.link.clone(), x));
        }
    }

    // Derived fields: each boundary's members, each flow's crossings. One pass over the
    // components, and the nesting walked once (see `Nesting`): a 5,000-boundary cycle made the
    // old per-flow chain walks cubic.
    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in components.values() {
        if let Some(b) = c.extra.boundary.as_deref() {
            members.entry(b).or_default().push(c.id.clone());
        }
    }
    for b in boundaries.values_mut() {
        b.extra.components = members.remove(b.id.as_str()).unwrap_or_default();
    }
    let nesting = Nesting::new(
        &mut boundaries,
        components
            .values()
            .filter_map(|c| c.extra.boundary.as_deref()),
    );
    // GAL's `@boundary between A and B`: crossed by every flow between A and B, as in a scan.
    let mut between: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for b in boundaries.values() {
        if let [x, y] = b.extra.between.as_slice() {
            between
                .entry((x.min(y).as_str(), x.max(y).as_str()))
                .or_default()
                .push(b.id.as_str());
        }
    }
    for f in flows.values_mut() {
        let side = |c: &str| components.get(c).and_then(|c| c.extra.boundary.as_deref());
        f.link.crosses = nesting.crossed(side(&f.link.source), side(&f.link.target));
        let (s, t) = (f.link.source.as_str(), f.link.target.as_str());
        if let Some(ids) = between.get(&(s.min(t), s.max(t))).filter(|_| s != t) {
            for b in ids {
                if !f.link.crosses.iter().any(|c| c == b) {
                    f.link.crosses.push((*b).to_string());
                }
            }
        }
    }

    let names: Vec<&str> = models.iter().map(|m| m.project.name.as_str()).collect();
    let mut merged = ThreatModel {
        schema_version: SCHEMA_VERSION,
        project: Project {
            name: names.join(" + "),
            description: format!("Merged from {}", names.join(", ")),
        },
        components: components.into_values().collect(),
        boundaries: boundaries.into_values().collect(),
        actors: actors.into_values().collect(),
        threats: threats.into_values().collect(),
        controls: controls.into_values().collect(),
        mitigations: mitigations.into_values().collect(),
        exposures: exposures.into_values().collect(),
        acceptances: acceptances.into_values().collect(),
        transfers: transfers.into_values().collect(),
        flows: flows.into_values().collect(),
        reviews: reviews.into_values().collect(),
        tests: tests.into_values().collect(),
        entitlements: entitlements.into_values().collect(),
        assumptions: assumptions.into_values().collect(),
        features: features.into_values().collect(),
        // `@dismisses` name element ids, which merging may rename; not carried over yet.
        dismissals: Vec::new(),
        analysis: None,
    };
    merged.analysis = Some(analysis::analyze(&merged, matrix, None));
    merged
}

/// The nesting of the merged boundaries, as indices: each boundary's parent and depth. Two
/// models can each declare one half of a cycle (`#a in #b` here, `#b in #a` there); the edge
/// that closes a loop is dropped from the merged model, as a scan drops it (TM011), so the
/// nesting always has an outside. Built in one pass; each crossing then costs its own length.
///
/// A parent or a component's boundary that is no boundary of the merged model (a hand-written
/// model may hold one) is a node too, outermost, sorted as if at depth 0, as before.
struct Nesting {
    ids: Vec<String>,
    index: BTreeMap<String, usize>,
    parent: Vec<Option<usize>>,
    /// The number of boundaries from the outermost one down to this one, itself included.
    depth: Vec<usize>,
    /// Nodes that are boundaries of the model (the others sort at depth 0).
    known: usize,
}

impl Nesting {
    fn new<S: AsRef<str>>(
        boundaries: &mut BTreeMap<String, Boundary>,
        others: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut ids: Vec<String> = boundaries.keys().cloned().collect();
        let known = ids.len();
        let mut index: BTreeMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let mut add = |id: &str| {
            if !index.contains_key(id) {
                index.insert(id.to_string(), ids.len());
                ids.push(id.to_string());
            }
        };
        for b in boundaries.values() {
            if let Some(p) = &b.extra.parent {
                add(p);
            }
        }
        for id in others {
            add(id.as_ref());
        }
        let mut parent: Vec<Option<usize>> = boundaries
            .values()
            .map(|b| b.extra.parent.as_ref().and_then(|p| index.get(p).copied()))
            .collect();
        parent.resize(ids.len(), None);
        // Walk up from each boundary in id order; a walk that comes back to a boundary on its
        // own path has closed a loop, and the last edge it took is dropped.
        const NEW: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; ids.len()];
        let mut path = Vec::new();
        for start in 0..known {
            let mut at = Some(start);
            while let Some(i) = at {
                match state[i] {
                    NEW => {
                        state[i] = ON_PATH;
                        path.push(i);
                        at = parent[i];
                    }
                    ON_PATH => {
                        if let Some(&last) = path.last() {
                            parent[last] = None;
                        }
                        at = None;
                    }
                    _ => at = None,
                }
            }
            for i in path.drain(..) {
                state[i] = DONE;
            }
        }
        for (b, p) in boundaries.values_mut().zip(&parent) {
            if p.is_none() {
                b.extra.parent = None;
            }
        }
        // Depths, outermost first: each boundary's depth is known once its parent's is.
        let mut depth = vec![0; ids.len()];
        for start in 0..ids.len() {
            let mut at = Some(start);
            while let Some(i) = at.filter(|&i| depth[i] == 0) {
                path.push(i);
                at = parent[i];
            }
            let mut d = at.map_or(0, |i| depth[i]);
            for i in path.drain(..).rev() {
                d += 1;
                depth[i] = d;
            }
        }
        Self {
            ids,
            index,
            parent,
            depth,
            known,
        }
    }

    /// The boundaries a flow between components in `a` and `b` crosses: those around one end
    /// and not around the other, outermost first (ties by id).
    fn crossed(&self, a: Option<&str>, b: Option<&str>) -> Vec<String> {
        let node = |x: Option<&str>| x.and_then(|id| self.index.get(id).copied());
        let (mut x, mut y) = (node(a), node(b));
        let depth = |i: Option<usize>| i.map_or(0, |i| self.depth[i]);
        let mut out: Vec<(usize, &str)> = Vec::new();
        // Walk both ends up to their common ancestor (or off the top of two nestings).
        while x != y {
            let step = if depth(x) >= depth(y) { &mut x } else { &mut y };
            if let Some(i) = *step {
                let key = if i < self.known { self.depth[i] } else { 0 };
                out.push((key, &self.ids[i]));
                *step = self.parent[i];
            }
        }
        out.sort_unstable();
        out.into_iter().map(|(_, id)| id.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundary(id: &str, parent: Option<&str>) -> (String, Boundary) {
        let b = Boundary {
            id: id.to_string(),
            name: id.to_string(),
            description: String::new(),
            declared: true,
            placeholder: false,
            extra: BoundaryExtra {
                parent: parent.map(str::to_string),
                ..BoundaryExtra::default()
            },
            attributes: Attributes::default(),
            sources: Vec::new(),
        };
        (id.to_string(), b)
    }

    /// The crossings as the merge used to compute them (the symmetric difference of the two
    /// ends' chains), on acyclic nestings: the linear walk must give the same lists.
    #[test]
    fn crossings_match_the_chain_difference() {
        let parents: [(&str, Option<&str>); 7] = [
            ("a", None),
            ("b", Some("a")),
            ("c", Some("b")),
            ("d", Some("a")),
            ("e", None),
            ("f", Some("e")),
            ("g", Some("missing")),
        ];
        let mut boundaries: BTreeMap<String, Boundary> =
            parents.iter().map(|(id, p)| boundary(id, *p)).collect();
        let old_parents: BTreeMap<String, Option<String>> = boundaries
            .iter()
            .map(|(k, b)| (k.clone(), b.extra.parent.clone()))
            .collect();
        let chain = |start: &str| -> Vec<String> {
            let mut out = vec![start.to_string()];
            let mut cur = start.to_string();
            while let Some(Some(p)) = old_parents.get(&cur) {
                out.push(p.clone());
                cur = p.clone();
            }
            out
        };
        let ends = [
            "a", "b", "c", "d", "e", "f", "g", "missing", "unknown", "other",
        ];
        let nesting = Nesting::new(&mut boundaries, ends);
        for x in ends.iter().copied().map(Some).chain([None]) {
            for y in ends.iter().copied().map(Some).chain([None]) {
                let side = |e: Option<&str>| -> BTreeSet<String> {
                    e.map(|b| chain(b).into_iter().collect())
                        .unwrap_or_default()
                };
                let mut want: Vec<String> =
                    side(x).symmetric_difference(&side(y)).cloned().collect();
                // Old depths: chain lengths of the model's boundaries, 0 for other ids.
                let depth = |b: &String| match old_parents.contains_key(b) {
                    true => chain(b).len(),
                    false => 0,
                };
                want.sort_by_key(|b| (depth(b), b.clone()));
                assert_eq!(nesting.crossed(x, y), want, "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn a_cycle_loses_the_edge_that_closes_it() {
        let mut boundaries: BTreeMap<String, Boundary> = [("a", "b"), ("b", "c"), ("c", "a")]
            .iter()
            .map(|(id, p)| boundary(id, Some(p)))
            .collect();
        let nesting = Nesting::new(&mut boundaries, [""; 0]);
        assert_eq!(boundaries["c"].extra.parent, None);
        assert_eq!(boundaries["a"].extra.parent.as_deref(), Some("b"));
        assert_eq!(nesting.depth, vec![3, 2, 1]);
        assert_eq!(
            nesting.crossed(Some("a"), Some("c")),
            vec!["b".to_string(), "a".to_string()]
        );
    }
}
