//! Assembling annotations from every file into one model, and validating it.
//!
//! Pure: annotations in (already sorted by path and position), model and diagnostics out.
//! The result never depends on the order files were read in, because callers sort first and
//! every collection here is a `BTreeMap` keyed by id.
//!
//! @component Threatmark:Model builder (#builder) in #process [type: process]
//! @threat Nondeterministic model (#nondeterminism) [stride: R; likelihood: possible; impact: major]:
//! a model that changes without a code change hides real drift in noise and makes the stale-model gate flaky
//! @control Sorted, id-keyed output (#sorted_output): collections are BTreeMaps keyed by stable ids, files are sorted by path before building, no clock or randomness
//! @mitigates #builder against #nondeterminism with #sorted_output
//! @threat Quiet re-rating (#quiet_rerate) [stride: T; likelihood: likely; impact: major; actor: #malicious_contributor]:
//! a file that sorts earlier declares a threat again with a lower rating, and the gate ranks the lower risk
//! @control Conflicting ratings are errors (#rating_conflicts_fail): two declarations of one id that disagree on likelihood, impact, severity, STRIDE, status, expiry, type or actor, or a second rating, are TM014 errors that fail the gate
//! @mitigates #builder against #quiet_rerate with #rating_conflicts_fail
//! @threat Model bomb (#model_bomb) [stride: D; likelihood: possible; impact: moderate; actor: #malicious_contributor]:
//! a name thousands of `:` levels deep or a boundary chain thousands long makes the build quadratic, minutes of CI and a model of hundreds of megabytes
//! @control Depth cap (#depth_cap): component hierarchies and boundary nesting are cut at `[model] max_depth` (TM030, an error), and boundary cycles and depth are settled in one linear pass
//! @mitigates #builder against #model_bomb with #depth_cap
//! @threat Covering relation that covers nothing (#nonsense_cover) [stride: T; likelihood: possible; impact: major; actor: #malicious_contributor]:
//! a transfer of a risk from a component to itself, or an acceptance for a component that is not exposed, reads as if the exposure were handled
//! @control Nonsense relations reported (#nonsense_reported): a self-transfer is an error and left out (TM016); acceptances, transfers and tests naming a component the threat or control is not about are TM015
//! @mitigates #builder against #nonsense_cover with #nonsense_reported
//! @threat Relation dropped for an undeclared id (#dropped_relation) [stride: R; likelihood: likely; impact: major]:
//! a Threatspec relation that names an id nobody declares (`with #file_perms`) is left out, and with it the threat or control it records
//! @control Undeclared ids are created (#placeholder_entities): a bare `#id` in a relation that nothing has becomes an entity named by its id, marked `placeholder`, with a warning (TM036); one typo away from a known id it stays an error (TM003) and the relation is left out whole, with what only it named
//! @mitigates #builder against #dropped_relation with #placeholder_entities
//! @connects #builder to #writer with the model

use std::collections::{BTreeMap, BTreeSet};

use crate::annotation::{Annotation, Body, EntityRef, Kind};
use crate::diagnostic::{Code, Diagnostic, Span};

use super::ids;
use super::types::*;

/// Limits of one build (`[model]` in threatmark.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest component hierarchy (`:` segments of a name) and boundary nesting (TM030).
    pub max_depth: usize,
    /// A bare `#id` in a relation one typo away from an id that exists is TM003 (and the
    /// relation is left out) rather than a new entity (TM036). Off in a project configured
    /// from `threatspec.yaml`, which reads ids as Threatspec does.
    pub strict_ids: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            strict_ids: true,
        }
    }
}

/// The largest `max_depth` a configuration may ask for.
pub const MAX_DEPTH_LIMIT: usize = 1024;

/// All annotations of one file, in source order.
#[derive(Debug, Clone, Default)]
pub struct FileAnnotations {
    pub path: String,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone)]
struct EntityDraft<'a> {
    name: String,
    /// The name came from a declaring tag (not a mention in a relation).
    named_by_declaration: bool,
    /// The declaration that gave the name wrote its id out (`Name (#id)`).
    explicit_id: bool,
    declared: bool,
    /// Created from a bare `#id` nothing else has (TM036).
    placeholder: bool,
    description: String,
    attributes: Attributes,
    sources: BTreeSet<&'a Source>,
    /// Sources of mentions, used when the entity is never declared.
    mentions: BTreeSet<&'a Source>,
}

impl<'a> EntityDraft<'a> {
    fn new(name: &str) -> Self {
        EntityDraft {
            name: name.to_string(),
            named_by_declaration: false,
            explicit_id: false,
            declared: false,
            placeholder: false,
            description: String::new(),
            attributes: Attributes::default(),
            sources: BTreeSet::new(),
            mentions: BTreeSet::new(),
        }
    }

    fn finish<X>(self, id: String, extra: X) -> Entity<X> {
        let sources = if self.sources.is_empty() {
            self.mentions
        } else {
            self.sources
        };
        Entity {
            id,
            name: self.name,
            description: self.description,
            declared: self.declared,
            placeholder: self.placeholder,
            extra,
            attributes: self.attributes,
            sources: sources.into_iter().cloned().collect(),
        }
    }
}

#[derive(Debug, Default)]
struct Registry<'a> {
    by_kind: BTreeMap<Kind, BTreeMap<String, EntityDraft<'a>>>,
}

impl<'a> Registry<'a> {
    fn get(&self, kind: Kind, id: &str) -> Option<&EntityDraft<'a>> {
        self.by_kind.get(&kind).and_then(|m| m.get(id))
    }

    fn map(&mut self, kind: Kind) -> &mut BTreeMap<String, EntityDraft<'a>> {
        self.by_kind.entry(kind).or_default()
    }

    fn ids(&self, kind: Kind) -> impl Iterator<Item = &String> {
        self.by_kind.get(&kind).into_iter().flat_map(|m| m.keys())
    }

    fn ids_and_drafts(&self, kind: Kind) -> impl Iterator<Item = (&String, &EntityDraft<'a>)> {
        self.by_kind.get(&kind).into_iter().flat_map(|m| m.iter())
    }
}

/// Build the model from all files' annotations. `files` must be sorted by path.
///
/// The passes: every name gets an id (and declared names their entity); names listed in
/// `@boundary ... contains` become components; hierarchies are linked; descriptions and
/// attributes of declarations and of `#ref` extensions are merged in one pass in path order, so
/// the first one in path order wins; then placements and relations.
pub fn build(project: Project, files: &[FileAnnotations]) -> (ThreatModel, Vec<Diagnostic>) {
    build_from(project, files.iter().flat_map(|f| f.annotations.iter()))
}

/// [`build`] from the annotations of all files, in path order and source order within a file.
pub fn build_from<'a>(
    project: Project,
    annotations: impl IntoIterator<Item = &'a Annotation>,
) -> (ThreatModel, Vec<Diagnostic>) {
    build_limited(project, annotations, Limits::default())
}

/// [`build_from`] with the limits of a configuration.
pub fn build_limited<'a>(
    project: Project,
    annotations: impl IntoIterator<Item = &'a Annotation>,
    limits: Limits,
) -> (ThreatModel, Vec<Diagnostic>) {
    let all: Vec<&Annotation> = annotations.into_iter().collect();
    // Names in relations are rewritten to the ids of the declarations they mean.
    let (named, name_diags) = super::names::resolve(&all);
    let all: Vec<&Annotation> = named.iter().map(AsRef::as_ref).collect();
    let mut b = Builder {
        max_depth: limits.max_depth.clamp(1, MAX_DEPTH_LIMIT),
        strict_ids: limits.strict_ids,
        ..Builder::default()
    };
    b.diags.extend(name_diags);
    for (i, a) in all.iter().enumerate() {
        b.register_names(i, a);
    }
    for (i, a) in all.iter().enumerate() {
        b.register_members(i, a);
    }
    b.link_parents();
    b.placeholders(&all);
    let attributes: Vec<Attributes> = all.iter().map(|a| b.checked_attributes(a)).collect();
    for (i, (a, attrs)) in all.iter().zip(&attributes).enumerate() {
        b.merge_declaration(i, a, attrs);
    }
    for (i, (a, attrs)) in all.iter().zip(&attributes).enumerate() {
        b.relation_kept_or_rejected(i, a, attrs);
    }
    b.prune_rejected();
    b.finish(project)
}

/// What became of a declaration's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// It names the entity (first declaration, or the same name again).
    Named,
    /// Another name came first and the id was derived on at least one side: TM013, merged.
    OtherName,
    /// Both wrote the id out with different names: TM004, the declaration is ignored.
    Rejected,
}

#[derive(Debug, Default)]
struct Builder<'a> {
    /// [`Limits::max_depth`].
    max_depth: usize,
    /// [`Limits::strict_ids`].
    strict_ids: bool,
    reg: Registry<'a>,
    diags: Vec<Diagnostic>,
    /// Columns of the references that diagnostics point at.
    columns: Columns,
    /// Ids compared in "did you mean" searches so far (bounded by `SUGGESTION_BUDGET`).
    compared: usize,
    /// The ids of each kind, for those searches.
    candidates: BTreeMap<Kind, Vec<Candidate>>,
    /// Indices (in path order) of declarations ignored because of TM004.
    rejected: BTreeSet<usize>,
    /// Placed id -> boundary placements in path order.
    component_places: BTreeMap<String, Vec<(String, &'a Source)>>,
    actor_places: BTreeMap<String, Vec<(String, &'a Source)>>,
    boundary_places: BTreeMap<String, Vec<(String, &'a Source)>>,
    parents: BTreeMap<String, String>,
    /// Hierarchical component names (`Shop:API:Checkout`) with their ids, the annotation and
    /// the name's span, linked to parents once every name is known.
    hierarchy: Vec<(String, String, &'a Annotation, Span)>,
    /// Relations to check once every exposure and parent is known (TM015).
    checks: Vec<(Check, &'a Annotation, Span)>,
    mitigations: BTreeMap<String, Mitigation>,
    exposures: BTreeMap<String, Exposure>,
    acceptances: BTreeMap<String, Acceptance>,
    transfers: BTreeMap<String, Transfer>,
    flows: BTreeMap<String, Flow>,
    reviews: BTreeMap<String, Review>,
    tests: BTreeMap<String, Test>,
    /// While a relation is read: the ids its references resolved to.
    pending: Option<Vec<(Kind, String)>>,
    /// Ids that relations in the model use.
    used: BTreeSet<(Kind, String)>,
    /// Sources of relations left out (TM003, TM016): what only they named is not kept.
    rejected_sources: BTreeSet<&'a Source>,
    entitlements: BTreeMap<String, Entitlement>,
    assumptions: BTreeMap<String, Assumption>,
    features: BTreeMap<String, Feature>,
    /// GAL `@boundary between A and B`: boundary id -> the two component ids.
    between: BTreeMap<String, Vec<String>>,
    /// GAL `@owns` and `@handles`, per component id.
    owners: BTreeMap<String, BTreeSet<String>>,
    data: BTreeMap<String, BTreeSet<DataClass>>,
}

/// A relation whose component must be one its threat (or control) is about. Mitigations are
/// not checked: `@mitigates #b against #t` where `#t` is exposed on `#a` documents a protection
/// of `#b` (and makes its control a candidate for `#a` in the plan), while the exposure of `#a`
/// stays open, so it hides nothing.
#[derive(Debug, Clone)]
enum Check {
    Accepts { component: String, threat: String },
    Transfers { component: String, threat: String },
    Tests { component: String, control: String },
}

/// Which entity slots of each relation hold which kind.
fn mentions(body: &Body) -> Vec<(Kind, &EntityRef)> {
    match body {
        Body::Declare { kind, target, .. } => vec![(*kind, target)],
        Body::Boundary { target, .. } => vec![(Kind::Boundary, target)],
        Body::Mitigates {
            component,
            threat,
            control,
        } => vec![
            (Kind::Component, component),
            (Kind::Threat, threat),
            (Kind::Control, control),
        ],
        Body::Exposes {
            component, threat, ..
        }
        | Body::Accepts {
            component, threat, ..
        } => vec![(Kind::Component, component), (Kind::Threat, threat)],
        Body::Transfers {
            threat, from, to, ..
        } => vec![
            (Kind::Threat, threat),
            (Kind::Component, from),
            (Kind::Component, to),
        ],
        Body::Connects { source, target, .. } => {
            vec![(Kind::Component, source), (Kind::Component, target)]
        }
        Body::Review { component, .. } => vec![(Kind::Component, component)],
        Body::Tests { control, component } => {
            vec![(Kind::Control, control), (Kind::Component, component)]
        }
        Body::Confirmed { threat, component } => {
            vec![(Kind::Component, component), (Kind::Threat, threat)]
        }
        Body::Entitles {
            actor,
            component,
            threat,
            ..
        } => {
            let mut out = vec![(Kind::Actor, actor)];
            out.extend(component.iter().map(|c| (Kind::Component, c)));
            out.extend(threat.iter().map(|t| (Kind::Threat, t)));
            out
        }
        // The boundary first: it is the one declared.
        Body::Between { target, a, b } => vec![
            (Kind::Boundary, target),
            (Kind::Component, a),
            (Kind::Component, b),
        ],
        Body::Owns { component, .. }
        | Body::Handles { component, .. }
        | Body::Assumes { component } => vec![(Kind::Component, component)],
        Body::Feature { .. } => Vec::new(),
    }
}

impl<'a> Builder<'a> {
    /// Pass 1: every name, declared or mentioned, gets an id.
    fn register_names(&mut self, i: usize, a: &'a Annotation) {
        let declaring = matches!(
            a.body,
            Body::Declare { .. } | Body::Boundary { .. } | Body::Between { .. }
        );
        for (n, (kind, r)) in mentions(&a.body).into_iter().enumerate() {
            let Some(name) = &r.name else { continue };
            let named = if declaring && n == 0 {
                self.declare(kind, r, name, a)
            } else {
                self.mention(kind, &r.id, name, &a.source);
                Declared::Named
            };
            if named == Declared::Rejected {
                self.rejected.insert(i);
            }
            if kind == Kind::Component && named == Declared::Named {
                self.hierarchy.push((name.clone(), r.id.clone(), a, r.span));
            }
        }
    }

    /// Pass 1b: a name in `@boundary B contains Name` is a component, created if need be like
    /// a name in a relation, unless a boundary has its id (then it is nesting).
    fn register_members(&mut self, i: usize, a: &'a Annotation) {
        let Body::Boundary { contains, .. } = &a.body else {
            return;
        };
        if self.rejected.contains(&i) {
            return;
        }
        for member in contains {
            let Some(name) = &member.name else { continue };
            if self.reg.get(Kind::Boundary, &member.id).is_some() {
                continue;
            }
            self.hierarchy
                .push((name.clone(), member.id.clone(), a, member.span));
            self.mention(Kind::Component, &member.id, name, &a.source);
        }
    }

    /// `Shop:API:Checkout` implies `Shop:API` and `Shop`. A parent is the component with that
    /// name when there is one (`@component Shop:API (#api)` is the parent of `Shop:API:Checkout`),
    /// else an implicit component with the derived id.
    fn link_parents(&mut self) {
        // Component ids by name. Only new components appear while parents are linked (a
        // mention never renames one), so the index is kept up to date by adding them.
        let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, d) in self.reg.ids_and_drafts(Kind::Component) {
            named.entry(d.name.clone()).or_default().insert(id.clone());
        }
        // The parent an ancestor name resolves to never changes while parents are linked (a
        // new component with that name is only ever the one the name derives, which is also the
        // answer before it exists), so each name is resolved once: a model mentions
        // `Shop:Orders` in every relation that names it.
        let mut resolved: std::collections::HashMap<String, String> = Default::default();
        let mut too_deep: BTreeSet<String> = BTreeSet::new();
        for (name, id, a, span) in std::mem::take(&mut self.hierarchy) {
            let source = &a.source;
            // Counted before anything is split: an 8,000-segment name costs one pass.
            let segments = name.bytes().filter(|&b| b == b':').count() + 1;
            if segments > self.max_depth {
                if too_deep.insert(id.clone()) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::TooDeep,
                            format!(
                                "component name has {segments} `:` levels, more than max_depth ({})",
                                self.max_depth
                            ),
                        )
                        .at(self.columns.locate(a, span))
                        .at_span(span)
                        .label("this name")
                        .help(
                            "kept as one component without parents; shorten the name or raise `[model] max_depth`",
                        ),
                    );
                }
                continue;
            }
            let parts: Vec<&str> = name.split(':').collect();
            if parts.len() < 2 || parts.iter().any(|p| p.trim().is_empty()) {
                continue;
            }
            let mut child = id;
            for n in (1..parts.len()).rev() {
                let parent_name = parts[..n].join(":");
                let parent_id = match resolved.get(&parent_name) {
                    Some(id) => id.clone(),
                    None => {
                        let id = self
                            .component_named(&parent_name, named.get(&parent_name))
                            .unwrap_or_else(|| ids::derive(&parent_name));
                        resolved.insert(parent_name.clone(), id.clone());
                        id
                    }
                };
                if parent_id == child || self.is_component_ancestor(&child, &parent_id) {
                    break;
                }
                self.parents
                    .entry(child.clone())
                    .or_insert(parent_id.clone());
                if self.reg.get(Kind::Component, &parent_id).is_none() {
                    named
                        .entry(parent_name.clone())
                        .or_default()
                        .insert(parent_id.clone());
                }
                self.mention(Kind::Component, &parent_id, &parent_name, source);
                child = parent_id;
            }
        }
    }

    /// The component called `name` (whose ids are `ids`): a declared one before a mentioned
    /// one, then the one whose id is derived from the name, then the smallest id.
    fn component_named(&self, name: &str, ids: Option<&BTreeSet<String>>) -> Option<String> {
        let derived = ids::derive(name);
        ids?.iter()
            .filter_map(|id| Some((id, self.reg.get(Kind::Component, id)?)))
            .min_by_key(|(id, d)| (!d.named_by_declaration, **id != derived, (*id).clone()))
            .map(|(id, _)| id.clone())
    }

    /// Is `anc` among the parents of `id` (or `id` itself)?
    fn is_component_ancestor(&self, anc: &str, id: &str) -> bool {
        let mut cur = id;
        for _ in 0..=self.parents.len() {
            if cur == anc {
                return true;
            }
            match self.parents.get(cur) {
                Some(p) => cur = p,
                None => return false,
            }
        }
        true
    }

    fn mention(&mut self, kind: Kind, id: &str, name: &str, source: &'a Source) {
        let map = self.reg.map(kind);
        // Most mentions are of an entity already known: no key to allocate.
        if let Some(draft) = map.get_mut(id) {
            draft.mentions.insert(source);
            return;
        }
        map.entry(id.to_string())
            .or_insert_with(|| EntityDraft::new(name))
            .mentions
            .insert(source);
    }

    /// Register a declared name. The first declaration in path order names the entity; only
    /// its description and attributes are merged later, in [`Builder::merge_declaration`].
    fn declare(&mut self, kind: Kind, r: &EntityRef, name: &str, a: &'a Annotation) -> Declared {
        let draft = self
            .reg
            .map(kind)
            .entry(r.id.clone())
            .or_insert_with(|| EntityDraft::new(name));
        if !draft.named_by_declaration {
            draft.name = name.to_string();
            draft.named_by_declaration = true;
            draft.explicit_id = r.explicit_id;
            draft.sources.insert(&a.source);
            return Declared::Named;
        }
        if draft.name == name {
            draft.sources.insert(&a.source);
            return Declared::Named;
        }
        let first_name = draft.name.clone();
        let first = draft.sources.iter().next().map(|s| s.location());
        let at = |l: &Option<Location>| l.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
        if draft.explicit_id && r.explicit_id {
            let mut diag = Diagnostic::new(
                Code::DuplicateId,
                format!(
                    "{} id `#{}` is already used by `{first_name}`",
                    kind.as_str(),
                    r.id,
                ),
            )
            .at(self.columns.locate(a, r.span))
            .at_span(r.span)
            .label(format!("`{name}` declared here with the same id"));
            diag.help = Some(match first {
                Some(l) => {
                    format!("`{first_name}` is declared at {l}; give one of them another id")
                }
                None => "give one of them another id".into(),
            });
            self.diags.push(diag);
            return Declared::Rejected;
        }
        // Names that derive one id (`SQL injection`, `SQL Injection`) are one entity.
        draft.sources.insert(&a.source);
        self.diags.push(
            Diagnostic::new(
                Code::ConflictingDeclaration,
                format!(
                    "this declaration of {} `#{}` gives {}",
                    kind.as_str(),
                    r.id,
                    field_phrase("name")
                ),
            )
            .at(self.columns.locate(a, r.span))
            .at_span(r.span)
            .label(format!("`{name}` here"))
            .help(format!(
                "the first declaration in path order wins: `{first_name}`{}; write the name the same way everywhere",
                at(&first)
            )),
        );
        Declared::OtherName
    }

    /// The annotation's attributes, without an `actor` that names no `@actor` (TM003).
    fn checked_attributes(&mut self, a: &Annotation) -> Attributes {
        let mut attributes = a.attributes.clone();
        if let Some(actor) = &attributes.actor
            && self.reg.get(Kind::Actor, actor).is_none()
        {
            let r = EntityRef {
                name: None,
                id: actor.clone(),
                explicit_id: true,
                span: a.span,
            };
            self.resolve(Kind::Actor, &r, a);
            attributes.actor = None;
        }
        attributes
    }

    /// Pass 2, in path order: the description and attributes of a declaration by name, or of a
    /// `@threat #sqli: more text` that adds to a declaration made elsewhere.
    fn merge_declaration(&mut self, i: usize, a: &'a Annotation, attributes: &Attributes) {
        let (kind, target) = match &a.body {
            Body::Declare { kind, target, .. } => (*kind, target),
            Body::Boundary { target, .. } | Body::Between { target, .. } => {
                (Kind::Boundary, target)
            }
            _ => return,
        };
        if self.rejected.contains(&i) {
            return;
        }
        if target.is_reference() && self.resolve(kind, target, a).is_none() {
            return;
        }
        if let Some(draft) = self.reg.map(kind).get_mut(&target.id) {
            draft.declared = true;
            let diags = merge_into(draft, a, attributes, kind, &target.id);
            self.diags.extend(diags);
        }
    }

    fn resolve(&mut self, kind: Kind, r: &EntityRef, a: &Annotation) -> Option<String> {
        if self.reg.get(kind, &r.id).is_some() {
            if let Some(pending) = &mut self.pending {
                pending.push((kind, r.id.clone()));
            }
            return Some(r.id.clone());
        }
        let mut diag = Diagnostic::new(
            Code::UndefinedReference,
            format!("undefined {} `#{}`", kind.as_str(), r.id),
        )
        .at(self.columns.locate(a, r.span))
        .at_span(r.span)
        .label(format!("no {} has this id", kind.as_str()));
        // Suggestions cost an edit distance per candidate id; a repository with thousands of
        // dangling references has a systematic problem, and the first ones show it.
        let near = if self.compared < SUGGESTION_BUDGET {
            // Every id is known by the time references are resolved: the candidates of a kind
            // are listed once.
            let reg = &self.reg;
            let candidates = self.candidates.entry(kind).or_insert_with(|| {
                reg.ids(kind)
                    .map(|id| Candidate {
                        id: id.clone(),
                        counts: CharCounts::of_folded(id),
                    })
                    .collect()
            });
            let (near, compared) = closest(&r.id, candidates);
            self.compared += compared;
            near.cloned()
        } else {
            None
        };
        diag.help = Some(match near {
            Some(near) => format!("did you mean `#{near}`?"),
            None => format!("declare it with `@{} Name (#{})`", kind.as_str(), r.id),
        });
        self.diags.push(diag);
        None
    }

    /// Pass 1c: a bare `#id` in a relation that nothing has becomes an entity named by its id,
    /// as in Threatspec (TM036). It stays TM003, and its relation is left out whole (so nothing
    /// of it is created here), when it is the id of a boundary or an actor (threatmark's own
    /// kinds: `@review #dmz` is a mix-up, not a new component), or, with `strict_ids`, one
    /// typo away from an id of its kind; a self-transfer (TM016) is left out anyway.
    fn placeholders(&mut self, all: &[&'a Annotation]) {
        // Ids before any placeholder, folded: what a typo is measured against.
        let mut known: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for a in all {
            if matches!(a.body, Body::Declare { .. } | Body::Boundary { .. }) {
                continue;
            }
            if let Body::Transfers { from, to, .. } = &a.body
                && from.id == to.id
            {
                continue;
            }
            let open: Vec<(Kind, &EntityRef)> = mentions(&a.body)
                .into_iter()
                .filter(|(kind, r)| {
                    r.is_reference() && self.reg.get(*kind, &r.id).is_none_or(|d| d.placeholder)
                })
                .collect();
            if open.is_empty() {
                continue;
            }
            let new = |b: &Self, kind: Kind, r: &EntityRef| b.reg.get(kind, &r.id).is_none();
            let mixed_up = open.iter().any(|(kind, r)| {
                new(self, *kind, r)
                    && [Kind::Boundary, Kind::Actor]
                        .iter()
                        .any(|k| self.reg.get(*k, &r.id).is_some())
            });
            let typo = self.strict_ids
                && open.iter().any(|(kind, r)| {
                    new(self, *kind, r) && self.compared < SUGGESTION_BUDGET && {
                        let reg = &self.reg;
                        let ids = known.entry(*kind).or_insert_with(|| {
                            reg.ids(*kind).map(|id| id.to_lowercase()).collect()
                        });
                        let (typo, compared) = one_typo_away(&r.id, ids);
                        self.compared += compared;
                        typo
                    }
                });
            if mixed_up || typo {
                continue;
            }
            for (kind, r) in open {
                if let Some(draft) = self.reg.map(kind).get_mut(&r.id) {
                    draft.mentions.insert(&a.source);
                    continue;
                }
                let what = kind.as_str();
                // Where an id is close (not strict, or a looser match), say so.
                let near = self.near_id(kind, &r.id);
                let mut draft = EntityDraft::new(&r.id);
                draft.placeholder = true;
                draft.mentions.insert(&a.source);
                self.reg.map(kind).insert(r.id.clone(), draft);
                let elsewhere: Vec<&str> = [Kind::Component, Kind::Threat, Kind::Control]
                    .into_iter()
                    .filter(|k| *k != kind && self.reg.get(*k, &r.id).is_some())
                    .map(Kind::as_str)
                    .collect();
                let mut help = match near {
                    Some(near) => format!("did you mean `#{near}`? "),
                    None => String::new(),
                };
                if let Some(other) = elsewhere.first() {
                    help.push_str(&format!(
                        "`#{}` is a {other}; ids are per kind, so this is another {what}. ",
                        r.id
                    ));
                }
                help.push_str(&format!(
                    "The relation is kept, as in Threatspec; declare it once with `@{what} Name (#{})`",
                    r.id
                ));
                self.diags.push(
                    Diagnostic::new(
                        Code::UndeclaredReference,
                        format!(
                            "{what} `#{}` is not declared; it was created, named by its id",
                            r.id
                        ),
                    )
                    .at(self.columns.locate(a, r.span))
                    .at_span(r.span)
                    .label(format!("no {what} has this id"))
                    .help(help),
                );
            }
        }
    }

    /// The closest id of `kind` for a "did you mean", within the suggestion budget.
    fn near_id(&mut self, kind: Kind, id: &str) -> Option<String> {
        if self.compared >= SUGGESTION_BUDGET {
            return None;
        }
        let reg = &self.reg;
        let candidates = self.candidates.entry(kind).or_insert_with(|| {
            reg.ids(kind)
                .map(|id| Candidate {
                    id: id.clone(),
                    counts: CharCounts::of_folded(id),
                })
                .collect()
        });
        let (near, compared) = closest(id, candidates);
        self.compared += compared;
        near.cloned()
    }

    /// Pass 3 for one annotation, remembering whether a relation was left out (what only it
    /// named is then pruned) or kept (what it uses stays).
    fn relation_kept_or_rejected(&mut self, i: usize, a: &'a Annotation, attributes: &Attributes) {
        if matches!(a.body, Body::Declare { .. } | Body::Boundary { .. }) {
            self.relations(i, a, attributes);
            return;
        }
        let mark = self.diags.len();
        self.pending = Some(Vec::new());
        self.relations(i, a, attributes);
        let used = self.pending.take().unwrap_or_default();
        let rejected = self.diags[mark..]
            .iter()
            .any(|d| matches!(d.code, Code::UndefinedReference | Code::SelfTransfer));
        if rejected {
            self.rejected_sources.insert(&a.source);
        } else {
            self.used.extend(used);
        }
    }

    /// A relation left out leaves nothing behind: components, threats and controls that only
    /// relations left out named (and the parents only their names implied) are removed.
    fn prune_rejected(&mut self) {
        if self.rejected_sources.is_empty() {
            return;
        }
        let (used, rejected) = (&self.used, &self.rejected_sources);
        for (kind, map) in &mut self.reg.by_kind {
            map.retain(|id, d| {
                d.named_by_declaration
                    || d.declared
                    || !d.sources.is_empty()
                    || d.mentions.iter().any(|s| !rejected.contains(s))
                    || used.contains(&(*kind, id.clone()))
            });
        }
    }

    /// Pass 3: placements and relations, now that every id is known. `attributes` are the
    /// annotation's, checked.
    fn relations(&mut self, i: usize, a: &'a Annotation, attributes: &Attributes) {
        if self.rejected.contains(&i) {
            return;
        }
        match &a.body {
            Body::Declare {
                kind,
                target,
                within,
            } => self.place_declared(a, kind, target, within),
            Body::Boundary {
                target,
                within,
                contains,
            } => self.place_in_boundary(a, target, within, contains),
            Body::Mitigates {
                component,
                threat,
                control,
            } => self.add_mitigation(a, attributes, component, threat, control),
            Body::Exposes {
                component,
                threat,
                details,
            } => self.add_exposure(a, attributes, component, threat, details),
            Body::Accepts {
                threat,
                component,
                details,
            } => self.add_acceptance(a, attributes, threat, component, details),
            Body::Transfers {
                threat,
                from,
                to,
                details,
            } => self.add_transfer(a, attributes, threat, from, to, details),
            Body::Connects {
                source,
                target,
                bidirectional,
                details,
            } => self.add_flow(a, attributes, source, target, *bidirectional, details),
            Body::Review { component, details } => {
                self.add_review(a, attributes, component, details)
            }
            Body::Confirmed { .. }
            | Body::Entitles { .. }
            | Body::Between { .. }
            | Body::Owns { .. }
            | Body::Handles { .. }
            | Body::Assumes { .. }
            | Body::Feature { .. } => self.gal_relations(a, attributes),
            Body::Tests { control, component } => self.add_test(a, attributes, control, component),
        }
    }

    /// `@component X within B`: where a declaration places its entity.
    fn place_declared(
        &mut self,
        a: &'a Annotation,
        kind: &Kind,
        target: &EntityRef,
        within: &Option<EntityRef>,
    ) {
        if let Some(within) = within
            && let Some(b) = self.resolve(Kind::Boundary, within, a)
            && self.reg.get(*kind, &target.id).is_some()
        {
            let places = match kind {
                Kind::Component => &mut self.component_places,
                Kind::Actor => &mut self.actor_places,
                _ => return,
            };
            places
                .entry(target.id.clone())
                .or_default()
                .push((b, &a.source));
        }
    }

    /// `@boundary B within P contains X, Y`: the places a boundary states.
    fn place_in_boundary(
        &mut self,
        a: &'a Annotation,
        target: &EntityRef,
        within: &Option<EntityRef>,
        contains: &[EntityRef],
    ) {
        if self.reg.get(Kind::Boundary, &target.id).is_none() {
            return;
        }
        if let Some(within) = within
            && let Some(parent) = self.resolve(Kind::Boundary, within, a)
        {
            self.boundary_places
                .entry(target.id.clone())
                .or_default()
                .push((parent, &a.source));
        }
        for member in contains {
            if self.reg.get(Kind::Boundary, &member.id).is_some() {
                self.boundary_places
                    .entry(member.id.clone())
                    .or_default()
                    .push((target.id.clone(), &a.source));
            } else if member.is_reference()
                && self.reg.get(Kind::Component, &member.id).is_none()
                && self.reg.get(Kind::Actor, &member.id).is_some()
            {
                // `contains #fraudster` places an actor when no component has the id.
                self.actor_places
                    .entry(member.id.clone())
                    .or_default()
                    .push((target.id.clone(), &a.source));
            } else if self.resolve(Kind::Component, member, a).is_some() {
                self.component_places
                    .entry(member.id.clone())
                    .or_default()
                    .push((target.id.clone(), &a.source));
            }
        }
    }

    /// `@mitigates`.
    fn add_mitigation(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        component: &EntityRef,
        threat: &EntityRef,
        control: &EntityRef,
    ) {
        let (Some(c), Some(t), Some(k)) = (
            self.resolve(Kind::Component, component, a),
            self.resolve(Kind::Threat, threat, a),
            self.resolve(Kind::Control, control, a),
        ) else {
            return;
        };
        let link = MitigationLink {
            component: c,
            threat: t,
            control: k,
        };
        let id = ids::relation_id(&[&link.component, &link.threat, &link.control]);
        add_relation(
            &mut self.mitigations,
            &mut self.diags,
            id,
            link,
            "",
            a,
            attributes,
        );
    }

    /// `@exposes`.
    fn add_exposure(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        component: &EntityRef,
        threat: &EntityRef,
        details: &str,
    ) {
        let (Some(c), Some(t)) = (
            self.resolve(Kind::Component, component, a),
            self.resolve(Kind::Threat, threat, a),
        ) else {
            return;
        };
        let id = ids::relation_id(&[&c, &t]);
        let link = ExposureLink {
            component: c,
            threat: t,
            confirmed: false,
        };
        // One exposure rated differently in two places (GuardLink keeps each line) is
        // rated by the higher rating, whichever file sorts first: not a conflict.
        let mut attributes = attributes.clone();
        if let Some(existing) = self.exposures.get_mut(&id) {
            raise_rating(&mut existing.attributes, &mut attributes);
        }
        add_relation(
            &mut self.exposures,
            &mut self.diags,
            id,
            link,
            details,
            a,
            &attributes,
        );
    }

    /// `@accepts`.
    fn add_acceptance(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        threat: &EntityRef,
        component: &EntityRef,
        details: &str,
    ) {
        let (Some(t), Some(c)) = (
            self.resolve(Kind::Threat, threat, a),
            self.resolve(Kind::Component, component, a),
        ) else {
            return;
        };
        self.checks.push((
            Check::Accepts {
                component: c.clone(),
                threat: t.clone(),
            },
            a,
            component.span,
        ));
        let id = ids::relation_id(&[&t, &c]);
        let link = AcceptanceLink {
            threat: t,
            component: c,
        };
        add_relation(
            &mut self.acceptances,
            &mut self.diags,
            id,
            link,
            details,
            a,
            attributes,
        );
    }

    /// `@transfers`.
    fn add_transfer(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        threat: &EntityRef,
        from: &EntityRef,
        to: &EntityRef,
        details: &str,
    ) {
        let (Some(t), Some(f), Some(to)) = (
            self.resolve(Kind::Threat, threat, a),
            self.resolve(Kind::Component, from, a),
            self.resolve(Kind::Component, to, a),
        ) else {
            return;
        };
        if f == to {
            self.diags.push(
                Diagnostic::new(
                    Code::SelfTransfer,
                    format!("`@transfers` moves `#{t}` from `#{f}` to itself"),
                )
                .at(self.columns.locate(a, from.span))
                .at_span(from.span)
                .label("the same component on both sides")
                .help("a transfer to the component that has the risk covers nothing and is left out; name who takes the risk over"),
            );
            return;
        }
        self.checks.push((
            Check::Transfers {
                component: f.clone(),
                threat: t.clone(),
            },
            a,
            from.span,
        ));
        let id = ids::relation_id(&[&t, &f, &to]);
        let link = TransferLink {
            threat: t,
            from: f,
            to,
        };
        add_relation(
            &mut self.transfers,
            &mut self.diags,
            id,
            link,
            details,
            a,
            attributes,
        );
    }

    /// `@connects`: a flow.
    fn add_flow(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        source: &EntityRef,
        target: &EntityRef,
        bidirectional: bool,
        details: &str,
    ) {
        let (Some(mut s), Some(mut t)) = (
            self.resolve(Kind::Component, source, a),
            self.resolve(Kind::Component, target, a),
        ) else {
            return;
        };
        if s == t {
            let mut d = Diagnostic::new(
                Code::NonsenseRelation,
                format!("`@connects` links `#{s}` to itself"),
            )
            .at(self.columns.locate(a, target.span))
            .at_span(target.span)
            .label("the same component as the source")
            .help("kept, since a process may send data to itself (a queue it consumes); such a flow crosses no boundary: check the other end is not a typo");
            d.severity = crate::diagnostic::Severity::Note;
            self.diags.push(d);
        }
        if bidirectional && t < s {
            std::mem::swap(&mut s, &mut t);
        }
        let id = ids::relation_id(&[&s, &t, &ids::slug(details)]);
        let link = FlowLink {
            source: s,
            target: t,
            bidirectional,
            crosses: Vec::new(),
        };
        add_relation(
            &mut self.flows,
            &mut self.diags,
            id.clone(),
            link,
            details,
            a,
            attributes,
        );
        // `A to B` and `A with B` share an id; the flow goes both ways if either says so,
        // whichever is read first.
        if let Some(flow) = self.flows.get_mut(&id) {
            flow.link.bidirectional |= bidirectional;
        }
    }

    /// `@review`.
    fn add_review(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        component: &EntityRef,
        details: &str,
    ) {
        let Some(c) = self.resolve(Kind::Component, component, a) else {
            return;
        };
        let id = ids::relation_id(&[&c, &ids::slug(details)]);
        let link = ReviewLink { component: c };
        add_relation(
            &mut self.reviews,
            &mut self.diags,
            id,
            link,
            details,
            a,
            attributes,
        );
    }

    /// `@tests`.
    fn add_test(
        &mut self,
        a: &'a Annotation,
        attributes: &Attributes,
        control: &EntityRef,
        component: &EntityRef,
    ) {
        let (Some(k), Some(c)) = (
            self.resolve(Kind::Control, control, a),
            self.resolve(Kind::Component, component, a),
        ) else {
            return;
        };
        self.checks.push((
            Check::Tests {
                component: c.clone(),
                control: k.clone(),
            },
            a,
            component.span,
        ));
        let id = ids::relation_id(&[&k, &c]);
        let link = TestLink {
            control: k,
            component: c,
        };
        add_relation(
            &mut self.tests,
            &mut self.diags,
            id,
            link,
            "",
            a,
            attributes,
        );
    }

    /// Pass 3 for the facts only GuardLink's dialect states (gal.rs).
    fn gal_relations(&mut self, a: &'a Annotation, attributes: &Attributes) {
        match &a.body {
            Body::Confirmed { threat, component } => {
                let (Some(c), Some(t)) = (
                    self.resolve(Kind::Component, component, a),
                    self.resolve(Kind::Threat, threat, a),
                ) else {
                    return;
                };
                let id = ids::relation_id(&[&c, &t]);
                let link = ExposureLink {
                    component: c,
                    threat: t,
                    confirmed: false,
                };
                add_relation(
                    &mut self.exposures,
                    &mut self.diags,
                    id.clone(),
                    link,
                    "",
                    a,
                    attributes,
                );
                // `@exposes` and `@confirmed` of one pair are one exposure, confirmed.
                if let Some(exposure) = self.exposures.get_mut(&id) {
                    exposure.link.confirmed = true;
                }
            }
            Body::Entitles {
                actor,
                capability,
                component,
                threat,
            } => {
                let Some(actor) = self.resolve(Kind::Actor, actor, a) else {
                    return;
                };
                let mut optional = |kind: Kind, r: &Option<EntityRef>| match r {
                    None => Some(None),
                    Some(r) => self.resolve(kind, r, a).map(Some),
                };
                let (Some(c), Some(t)) = (
                    optional(Kind::Component, component),
                    optional(Kind::Threat, threat),
                ) else {
                    return;
                };
                let id = ids::relation_id(&[
                    &actor,
                    &ids::slug(capability),
                    c.as_deref().unwrap_or(""),
                    t.as_deref().unwrap_or(""),
                ]);
                let link = EntitlementLink {
                    actor,
                    capability: capability.clone(),
                    component: c,
                    threat: t,
                };
                add_relation(
                    &mut self.entitlements,
                    &mut self.diags,
                    id,
                    link,
                    "",
                    a,
                    attributes,
                );
            }
            Body::Between { target, a: x, b: y } => {
                if self.reg.get(Kind::Boundary, &target.id).is_none() {
                    return;
                }
                let (Some(x), Some(y)) = (
                    self.resolve(Kind::Component, x, a),
                    self.resolve(Kind::Component, y, a),
                ) else {
                    return;
                };
                let mut pair = vec![x, y];
                pair.sort();
                pair.dedup();
                self.between.entry(target.id.clone()).or_insert(pair);
            }
            Body::Owns { owner, component } => {
                if let Some(c) = self.resolve(Kind::Component, component, a) {
                    self.owners.entry(c).or_default().insert(owner.clone());
                }
            }
            Body::Handles { class, component } => {
                if let Some(c) = self.resolve(Kind::Component, component, a) {
                    self.data.entry(c).or_default().insert(*class);
                }
            }
            Body::Assumes { component } => {
                let Some(c) = self.resolve(Kind::Component, component, a) else {
                    return;
                };
                let id = ids::relation_id(&[&c, &ids::slug(&a.description)]);
                let link = AssumptionLink { component: c };
                add_relation(
                    &mut self.assumptions,
                    &mut self.diags,
                    id,
                    link,
                    "",
                    a,
                    attributes,
                );
            }
            Body::Feature { name } => {
                let link = FeatureLink { name: name.clone() };
                add_relation(
                    &mut self.features,
                    &mut self.diags,
                    ids::derive(name),
                    link,
                    "",
                    a,
                    attributes,
                );
            }
            _ => {}
        }
    }

    fn finish(mut self, project: Project) -> (ThreatModel, Vec<Diagnostic>) {
        let boundary_parent = self.boundary_parents();
        let chain = |start: &str| -> Vec<String> {
            // Outermost first; cycles were broken above, the bound is a second guard.
            let mut out = vec![start.to_string()];
            let mut cur = start;
            while let Some(p) = boundary_parent.get(cur) {
                if out.len() > boundary_parent.len() + 1 {
                    break;
                }
                out.push(p.clone());
                cur = p;
            }
            out.reverse();
            out
        };
        let is_ancestor = |anc: &str, of: &str| chain(of).iter().any(|b| b == anc);

        // Innermost placement per component and per actor.
        let own_boundary = innermost(
            &self.component_places,
            "component",
            &is_ancestor,
            &mut self.diags,
        );
        let actor_boundary = innermost(&self.actor_places, "actor", &is_ancestor, &mut self.diags);

        let components: Vec<Component> = {
            let drafts = std::mem::take(self.reg.map(Kind::Component));
            let limit = drafts.len();
            let effective = |id: &str| -> Option<String> {
                let mut cur = id.to_string();
                for _ in 0..=limit {
                    if let Some(b) = own_boundary.get(&cur) {
                        return Some(b.clone());
                    }
                    cur = self.parents.get(&cur)?.clone();
                }
                None
            };
            let extras: Vec<ComponentExtra> = drafts
                .keys()
                .map(|id| ComponentExtra {
                    parent: self
                        .parents
                        .get(id)
                        .filter(|p| drafts.contains_key(*p))
                        .cloned(),
                    boundary: effective(id),
                    owners: self
                        .owners
                        .get(id)
                        .map(|o| o.iter().cloned().collect())
                        .unwrap_or_default(),
                    data: self
                        .data
                        .get(id)
                        .map(|d| d.iter().copied().collect())
                        .unwrap_or_default(),
                })
                .collect();
            drafts
                .into_iter()
                .zip(extras)
                .map(|((id, d), extra)| d.finish(id, extra))
                .collect()
        };

        // Components are sorted by id, so each boundary's list is too.
        let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &components {
            if let Some(b) = &c.extra.boundary {
                members.entry(b.as_str()).or_default().push(c.id.clone());
            }
        }
        let boundaries: Vec<Boundary> = std::mem::take(self.reg.map(Kind::Boundary))
            .into_iter()
            .map(|(id, d)| {
                let extra = BoundaryExtra {
                    parent: boundary_parent.get(&id).cloned(),
                    components: members.remove(id.as_str()).unwrap_or_default(),
                    between: self.between.get(&id).cloned().unwrap_or_default(),
                };
                d.finish(id, extra)
            })
            .collect();

        let depth: BTreeMap<&str, usize> = boundaries
            .iter()
            .map(|b| (b.id.as_str(), chain(&b.id).len()))
            .collect();
        let comp_boundary: BTreeMap<&str, Option<&String>> = components
            .iter()
            .map(|c| (c.id.as_str(), c.extra.boundary.as_ref()))
            .collect();
        for flow in self.flows.values_mut() {
            let side = |c: &str| -> BTreeSet<String> {
                comp_boundary
                    .get(c)
                    .copied()
                    .flatten()
                    .map(|b| chain(b).into_iter().collect())
                    .unwrap_or_default()
            };
            let (s, t) = (side(&flow.link.source), side(&flow.link.target));
            let mut crosses: Vec<String> = s.symmetric_difference(&t).cloned().collect();
            crosses.sort_by_key(|b| (depth.get(b.as_str()).copied().unwrap_or(0), b.clone()));
            // A boundary between two components is crossed by every flow between them.
            for (b, pair) in &self.between {
                let ends = [&flow.link.source, &flow.link.target];
                if pair.len() == 2
                    && flow.link.source != flow.link.target
                    && pair.iter().all(|p| ends.contains(&p))
                    && !crosses.contains(b)
                {
                    crosses.push(b.clone());
                }
            }
            flow.link.crosses = crosses;
        }

        self.check_relations();

        // A mitigation naming a control nobody declared: allowed, but worth a warning, once,
        // at its first source; found in one pass over the mitigations.
        let mut undeclared: BTreeMap<&String, &Source> = BTreeMap::new();
        for m in self.mitigations.values() {
            let control = &m.link.control;
            // A placeholder has its own warning (TM036).
            let declared = self
                .reg
                .get(Kind::Control, control)
                .is_none_or(|d| d.declared || d.placeholder);
            if declared {
                continue;
            }
            if let Some(src) = m.sources.iter().min() {
                undeclared
                    .entry(control)
                    .and_modify(|first| *first = (*first).min(src))
                    .or_insert(src);
            }
        }
        // Declared controls by their name in lower case, spaces collapsed: an undeclared one
        // with the same name is that control under another id, and the warning says so.
        let fold = |name: &str| {
            name.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let mut declared_as: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        if !undeclared.is_empty()
            && let Some(controls) = self.reg.by_kind.get(&Kind::Control)
        {
            for (id, d) in controls.iter().filter(|(_, d)| d.declared) {
                declared_as
                    .entry(fold(&d.name))
                    .or_insert((id.as_str(), d.name.as_str()));
            }
        }
        let mut warned = Vec::new();
        for (control, src) in undeclared {
            let name = self
                .reg
                .get(Kind::Control, control)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            let diag = match declared_as.get(&fold(&name)) {
                Some((id, declared)) => Diagnostic::new(
                    Code::UndeclaredControl,
                    format!(
                        "`#{control}` is not declared; a control named `{declared}` is declared as `#{id}`"
                    ),
                )
                .help(format!(
                    "write `with #{id}` (or its name as declared, `{declared}`) to mean that control"
                )),
                None => Diagnostic::new(
                    Code::UndeclaredControl,
                    format!("control `{name}` (#{control}) is never declared with `@control`"),
                )
                .help(format!(
                    "declare it once: `@control {name} (#{control}): what it does`"
                )),
            };
            warned.push(diag.at(src.location()));
        }
        self.diags.extend(warned);

        let entities = |reg: &mut Registry, kind: Kind| -> Vec<Entity> {
            std::mem::take(reg.map(kind))
                .into_iter()
                .map(|(id, d)| d.finish(id, NoExtra {}))
                .collect()
        };
        let actors: Vec<Actor> = std::mem::take(self.reg.map(Kind::Actor))
            .into_iter()
            .map(|(id, d)| {
                let extra = ActorExtra {
                    boundary: actor_boundary.get(&id).cloned(),
                };
                d.finish(id, extra)
            })
            .collect();
        let model = ThreatModel {
            schema_version: SCHEMA_VERSION,
            project,
            components,
            boundaries,
            actors,
            threats: entities(&mut self.reg, Kind::Threat),
            controls: entities(&mut self.reg, Kind::Control),
            mitigations: self.mitigations.into_values().collect(),
            exposures: self.exposures.into_values().collect(),
            acceptances: self.acceptances.into_values().collect(),
            transfers: self.transfers.into_values().collect(),
            flows: self.flows.into_values().collect(),
            reviews: self.reviews.into_values().collect(),
            tests: self.tests.into_values().collect(),
            entitlements: self.entitlements.into_values().collect(),
            assumptions: self.assumptions.into_values().collect(),
            features: self.features.into_values().collect(),
            analysis: None,
        };
        crate::diagnostic::normalize(&mut self.diags);
        (model, self.diags)
    }

    /// TM015: acceptances and transfers whose component is not one the threat is exposed on (nor
    /// an ancestor or descendant of one), and tests of a control for a component it mitigates
    /// nothing on.
    /// Threats without exposures and controls without mitigations are not checked.
    fn check_relations(&mut self) {
        let mut exposed: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for x in self.exposures.values() {
            exposed
                .entry(&x.link.threat)
                .or_default()
                .insert(&x.link.component);
        }
        let mut used_on: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for m in self.mitigations.values() {
            used_on
                .entry(&m.link.control)
                .or_default()
                .insert(&m.link.component);
        }
        // The component and its ancestors (at most `max_depth` of them).
        let line = |id: &str| -> Vec<String> {
            let mut out = vec![id.to_string()];
            let mut cur = id;
            while let Some(p) = self.parents.get(cur) {
                if out.len() > self.max_depth || out.contains(p) {
                    break;
                }
                out.push(p.clone());
                cur = p;
            }
            out
        };
        // Per threat (or control): the components it is about and all their ancestors, built
        // once, so each check costs one walk up from its component.
        let mut around: BTreeMap<(bool, &str), BTreeSet<String>> = BTreeMap::new();
        let listed = |set: &BTreeSet<&str>| {
            let mut names: Vec<String> = set.iter().take(3).map(|c| format!("`#{c}`")).collect();
            if set.len() > 3 {
                names.push(format!("and {} more", set.len() - 3));
            }
            names.join(", ")
        };
        let mut found = Vec::new();
        for (check, a, span) in &self.checks {
            let (component, on, key, message, help) = match check {
                Check::Accepts { component, threat } | Check::Transfers { component, threat } => {
                    let Some(on) = exposed.get(threat.as_str()) else {
                        continue;
                    };
                    let verb = match check {
                        Check::Accepts { .. } => "accepts",
                        _ => "transfers",
                    };
                    (
                        component,
                        on,
                        (false, threat.as_str()),
                        format!(
                            "`@{verb}` names `#{component}`, but `#{threat}` is exposed only on {}",
                            listed(on)
                        ),
                        format!(
                            "it covers an exposure of the same component only, so this covers nothing; name the exposed component, or add `@exposes #{component} to #{threat}`"
                        ),
                    )
                }
                Check::Tests { component, control } => {
                    let Some(on) = used_on.get(control.as_str()) else {
                        continue;
                    };
                    (
                        component,
                        on,
                        (true, control.as_str()),
                        format!(
                            "`@tests` tests `#{control}` for `#{component}`, but `#{control}` mitigates threats only on {}",
                            listed(on)
                        ),
                        "test it for a component it is used on, or add the `@mitigates` it tests"
                            .to_string(),
                    )
                }
            };
            let ancestors = around
                .entry(key)
                .or_insert_with(|| on.iter().flat_map(|c| line(c)).collect());
            // The component is one of them, or an ancestor of one, or a descendant of one.
            if ancestors.contains(component.as_str())
                || line(component).iter().any(|x| on.contains(x.as_str()))
            {
                continue;
            }
            found.push(
                Diagnostic::new(Code::NonsenseRelation, message)
                    .at(self.columns.locate(a, *span))
                    .at_span(*span)
                    .label("not a component this is about")
                    .help(help),
            );
        }
        self.diags.extend(found);
    }

    /// One parent per boundary: the first placement wins, a later one inside it is more precise,
    /// one around it adds nothing, any other is reported; an edge that would close a cycle or
    /// nest a boundary deeper than `max_depth` is dropped.
    ///
    /// Cycles and depth are settled in one pass over all boundaries ([`Builder::settle`]), before
    /// and after the later placements, so every walk up the nesting is at most `max_depth` long:
    /// the work is linear in the number of boundaries, whatever their shape.
    fn boundary_parents(&mut self) -> BTreeMap<String, String> {
        let mut parents: BTreeMap<String, String> = BTreeMap::new();
        for (child, places) in &self.boundary_places {
            for (parent, source) in places {
                if parent == child {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BoundaryCycle,
                            format!("boundary `#{child}` is placed inside itself"),
                        )
                        .at(source.location()),
                    );
                    continue;
                }
                parents
                    .entry(child.clone())
                    .or_insert_with(|| parent.clone());
            }
        }
        self.settle(&mut parents);
        // Walks up from `of` (inclusive); chains are at most `max_depth` long once settled.
        let steps = self.max_depth + 1;
        let encloses = |parents: &BTreeMap<String, String>, anc: &str, of: &str| {
            let mut cur = of;
            for _ in 0..=steps {
                if cur == anc {
                    return true;
                }
                match parents.get(cur) {
                    Some(p) => cur = p,
                    None => return false,
                }
            }
            false
        };
        let mut moved = false;
        for (child, places) in &self.boundary_places {
            for (parent, source) in places.iter().skip(1) {
                let Some(cur) = parents.get(child).cloned() else {
                    continue;
                };
                if parent == child || encloses(&parents, parent, &cur) {
                    continue;
                }
                if encloses(&parents, &cur, parent) && !encloses(&parents, child, parent) {
                    parents.insert(child.clone(), parent.clone());
                    moved = true;
                    continue;
                }
                let diag = if encloses(&parents, child, parent) {
                    Diagnostic::new(
                        Code::BoundaryCycle,
                        format!("boundaries `#{child}` and `#{parent}` contain each other"),
                    )
                    .help(format!(
                        "the nesting of `#{child}` in `#{parent}` was dropped"
                    ))
                } else {
                    Diagnostic::new(
                        Code::ConflictingBoundaries,
                        format!(
                            "boundary `#{child}` is placed in `#{cur}` and in `#{parent}`, which do not nest"
                        ),
                    )
                    .help(format!("the first placement, `#{cur}`, is kept"))
                };
                self.diags.push(diag.at(source.location()));
            }
        }
        // A more precise placement moves a boundary (and what it holds) deeper.
        if moved {
            self.settle(&mut parents);
        }
        parents
    }

    /// Break nesting cycles and cut nestings deeper than `max_depth`, in one pass: each boundary
    /// is walked up only until a boundary whose depth is known, so each is visited once.
    /// Children are taken in id order and a cycle loses the edge that closes it on that walk,
    /// so the result never depends on the order of the input.
    fn settle(&mut self, parents: &mut BTreeMap<String, String>) {
        // Levels from a boundary up to its outermost one, itself included.
        let mut depth: std::collections::HashMap<String, usize> = Default::default();
        let children: Vec<String> = parents.keys().cloned().collect();
        for start in children {
            if depth.contains_key(&start) {
                continue;
            }
            let mut path: Vec<String> = Vec::new();
            let mut on_path: BTreeSet<String> = BTreeSet::new();
            let mut cur = start;
            let mut base = 0;
            loop {
                if let Some(&d) = depth.get(&cur) {
                    base = d;
                    break;
                }
                if on_path.contains(&cur) {
                    // `path`'s last boundary is placed in `cur`, which is below it: a cycle.
                    if let Some(last) = path.last() {
                        let source = self
                            .boundary_places
                            .get(last)
                            .and_then(|v| v.first())
                            .map(|(_, s)| s.location());
                        let mut d = Diagnostic::new(
                            Code::BoundaryCycle,
                            format!("boundaries `#{last}` and `#{cur}` contain each other"),
                        )
                        .help(format!("the nesting of `#{last}` in `#{cur}` was dropped"));
                        d.location = source;
                        self.diags.push(d);
                        parents.remove(last);
                    }
                    break;
                }
                on_path.insert(cur.clone());
                path.push(cur.clone());
                match parents.get(&cur) {
                    Some(p) => cur = p.clone(),
                    None => break,
                }
            }
            // From the outermost down: a boundary that would sit deeper than the limit becomes
            // an outermost one.
            let mut level = base;
            for node in path.into_iter().rev() {
                level += 1;
                if level > self.max_depth {
                    if let Some(parent) = parents.remove(&node) {
                        let source = self.boundary_places.get(&node).and_then(|v| {
                            v.iter()
                                .find(|(p, _)| *p == parent)
                                .or_else(|| v.first())
                                .map(|(_, s)| s.location())
                        });
                        let mut d = Diagnostic::new(
                            Code::TooDeep,
                            format!(
                                "boundary `#{node}` would be nested {level} levels deep, more than max_depth ({})",
                                self.max_depth
                            ),
                        )
                        .help(format!(
                            "the nesting of `#{node}` in `#{parent}` was dropped; flatten the boundaries or raise `[model] max_depth`"
                        ));
                        d.location = source;
                        self.diags.push(d);
                    }
                    level = 1;
                }
                depth.insert(node, level);
            }
        }
    }
}

/// The innermost boundary of each placed element; placements in boundaries that do not nest are
/// TM009 and the first one (in path order) is kept.
fn innermost(
    places: &BTreeMap<String, Vec<(String, &Source)>>,
    what: &str,
    is_ancestor: &dyn Fn(&str, &str) -> bool,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let mut own = BTreeMap::new();
    for (id, places) in places {
        let mut current: Option<&String> = None;
        for (b, source) in places {
            match current {
                None => current = Some(b),
                Some(cur) if cur == b || is_ancestor(b, cur) => {}
                Some(cur) if is_ancestor(cur, b) => current = Some(b),
                Some(cur) => diags.push(
                    Diagnostic::new(
                        Code::ConflictingBoundaries,
                        format!(
                            "{what} `#{id}` is placed in `#{b}` and in `#{cur}`, which do not nest"
                        ),
                    )
                    .at(source.location())
                    .label("second placement")
                    .help(format!("the first placement, `#{cur}`, is kept")),
                ),
            }
        }
        if let Some(b) = current {
            own.insert(id.clone(), b.clone());
        }
    }
    own
}

/// Where references start. References are on the annotation's first line, whose text from the
/// tag on is `source.annotation`, so a column is the tag's plus the characters before it.
/// Counting from the tag for each reference is quadratic on a long line (`@boundary B contains
/// #a1, #a2, ...` with a million bytes of undefined members): the count is carried on from the
/// previous reference of the same annotation, which comes before it but for a few exceptions.
#[derive(Debug, Default)]
struct Columns {
    /// The annotation counted last, by address (annotations outlive the build, so an address
    /// names one), or 0.
    annotation: usize,
    /// Byte offset in `source.annotation` reached, and the characters before it.
    byte: usize,
    chars: usize,
    /// Characters counted in all, to test that the work stays linear.
    #[cfg(test)]
    counted: usize,
}

impl Columns {
    fn locate(&mut self, a: &Annotation, span: Span) -> Location {
        let mut location = a.source.location();
        let text = a.source.annotation.as_str();
        let Some(delta) = span
            .start
            .checked_sub(a.span.start)
            .filter(|&d| text.is_char_boundary(d))
        else {
            return location;
        };
        let key = std::ptr::from_ref(a) as usize;
        if self.annotation != key || delta < self.byte {
            (self.annotation, self.byte, self.chars) = (key, 0, 0);
        }
        let counted = text.get(self.byte..delta).map_or(0, |s| s.chars().count());
        #[cfg(test)]
        {
            self.counted += delta - self.byte;
        }
        self.chars += counted;
        self.byte = delta;
        let chars = u32::try_from(self.chars).unwrap_or(0);
        location.column = location.column.saturating_add(chars);
        location
    }
}

/// Merge a declaration's description and (checked) attributes into the draft; first one wins.
fn merge_into<'a>(
    draft: &mut EntityDraft<'a>,
    a: &'a Annotation,
    attributes: &Attributes,
    kind: Kind,
    id: &str,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    draft.sources.insert(&a.source);
    if !a.description.is_empty() {
        if draft.description.is_empty() {
            draft.description = a.description.clone();
        } else if draft.description != a.description {
            diags.push(conflict(a, kind, id, "description"));
        }
    }
    for field in merge_attributes(&mut draft.attributes, attributes) {
        diags.push(conflict(a, kind, id, &field));
    }
    diags
}

/// The fields the gate ranks and counts: a disagreement about one of them is TM014 (an error),
/// about anything else TM013 (a warning). `rating` is a rating added where another
/// declaration had already rated the thing.
const RATING_FIELDS: &[&str] = &[
    "stride",
    "severity",
    "likelihood",
    "impact",
    "status",
    "expires",
    "type",
    "actor",
    "rating",
];

fn conflict_code(field: &str) -> Code {
    if RATING_FIELDS.contains(&field) {
        Code::ConflictingRating
    } else {
        Code::ConflictingDeclaration
    }
}

fn conflict(a: &Annotation, kind: Kind, id: &str, field: &str) -> Diagnostic {
    Diagnostic::new(
        conflict_code(field),
        format!(
            "this declaration of {} `#{id}` gives {}",
            kind.as_str(),
            field_phrase(field)
        ),
    )
    .at(a.source.location())
    .at_span(a.span)
    .help(if conflict_code(field) == Code::ConflictingRating {
        "the first declaration in path order wins, and this is an error: rate it in one place"
    } else {
        "the first declaration in path order wins; keep one"
    })
}

/// `a different owner`, `different details`, `different CWE ids`, ... for TM013 messages.
/// Attribute names are the keys of [`merge_attributes`]; anything else is a custom key.
fn field_phrase(field: &str) -> String {
    match field {
        "details" => "different details".into(),
        "stride" => "different STRIDE categories".into(),
        "cwe" => "different CWE ids".into(),
        "capec" => "different CAPEC ids".into(),
        "expires" => "a different expiry date".into(),
        "rating" => "a rating of its own, where an earlier declaration rated it already".into(),
        "name" | "description" | "severity" | "likelihood" | "impact" | "owner" | "status"
        | "ticket" | "actor" | "type" => format!("a different {field}"),
        custom => format!("a different value for `{custom}`"),
    }
}

/// Fill unset fields of `into` from `from`; returns the names of fields set differently in both.
///
/// The rating (likelihood, impact, severity) is one thing: once a declaration has rated, a later
/// one that sets a rating field left empty would change the risk as much as a different value
/// (a `[likelihood: rare; impact: negligible]` next to a `[severity: critical]` moves the basis
/// to the matrix), so it is not merged and is reported as `rating`.
fn merge_attributes(into: &mut Attributes, from: &Attributes) -> Vec<String> {
    let mut conflicts = Vec::new();
    let rated = into.likelihood.is_some() || into.impact.is_some() || into.severity.is_some();
    if rated {
        let adds = (into.likelihood.is_none() && from.likelihood.is_some())
            || (into.impact.is_none() && from.impact.is_some())
            || (into.severity.is_none() && from.severity.is_some());
        if adds {
            conflicts.push("rating".to_string());
        }
    }
    macro_rules! field {
        ($f:ident, $name:literal, $empty:expr) => {
            if !$empty(&from.$f) {
                if $empty(&into.$f) {
                    into.$f = from.$f.clone();
                } else if into.$f != from.$f {
                    conflicts.push($name.to_string());
                }
            }
        };
    }
    field!(stride, "stride", Vec::is_empty);
    macro_rules! rating {
        ($f:ident, $name:literal) => {
            if let Some(v) = &from.$f {
                match &into.$f {
                    // With a rating in place the unset fields stay unset.
                    None if !rated => into.$f = Some(*v),
                    Some(have) if have != v => conflicts.push($name.to_string()),
                    _ => {}
                }
            }
        };
    }
    rating!(severity, "severity");
    rating!(likelihood, "likelihood");
    rating!(impact, "impact");
    field!(owner, "owner", Option::is_none);
    field!(status, "status", Option::is_none);
    field!(expires, "expires", Option::is_none);
    field!(ticket, "ticket", Option::is_none);
    field!(cwe, "cwe", Vec::is_empty);
    field!(capec, "capec", Vec::is_empty);
    field!(actor, "actor", Option::is_none);
    field!(element_type, "type", Option::is_none);
    for (k, v) in &from.custom {
        match into.custom.get(k) {
            None => {
                into.custom.insert(k.clone(), v.clone());
            }
            Some(existing) if existing != v => conflicts.push(k.clone()),
            Some(_) => {}
        }
    }
    conflicts
}

fn add_relation<T: Clone + PartialEq>(
    map: &mut BTreeMap<String, Relation<T>>,
    diags: &mut Vec<Diagnostic>,
    id: String,
    link: T,
    details: &str,
    a: &Annotation,
    attributes: &Attributes,
) {
    let entry = map.entry(id.clone()).or_insert_with(|| Relation {
        id: id.clone(),
        link,
        details: details.to_string(),
        description: String::new(),
        attributes: Attributes::default(),
        sources: Vec::new(),
    });
    if !a.description.is_empty() {
        if entry.description.is_empty() {
            entry.description = a.description.clone();
        } else if a.gal {
            // GuardLink's `-- "..."` says why at this place; each place's reason is kept.
            if !entry.description.lines().any(|l| l == a.description) {
                entry.description.push('\n');
                entry.description.push_str(&a.description);
            }
        } else if entry.description != a.description {
            diags.push(relation_conflict(a, &id, "description"));
        }
    }
    if !details.is_empty() && entry.details != details {
        if entry.details.is_empty() {
            entry.details = details.to_string();
        } else {
            diags.push(relation_conflict(a, &id, "details"));
        }
    }
    let gal_merged;
    let attributes = if a.gal {
        gal_merged = gal_attributes(&mut entry.attributes, attributes);
        &gal_merged
    } else {
        attributes
    };
    for field in merge_attributes(&mut entry.attributes, attributes) {
        diags.push(relation_conflict(a, &id, &field));
    }
    if let Err(pos) = entry.sources.binary_search(&a.source) {
        entry.sources.insert(pos, a.source.clone());
    }
}

/// An exposure's rating written twice: each of likelihood, impact and severity takes the higher
/// value, and `from` keeps only what `into` lacks (so merging reports no conflict).
fn raise_rating(into: &mut Attributes, from: &mut Attributes) {
    fn raise<T: Ord + Copy>(into: &mut Option<T>, from: &mut Option<T>) {
        if let (Some(a), Some(b)) = (into.as_mut(), *from) {
            *a = (*a).max(b);
            *from = None;
        }
    }
    raise(&mut into.likelihood, &mut from.likelihood);
    raise(&mut into.impact, &mut from.impact);
    raise(&mut into.severity, &mut from.severity);
}

/// GuardLink rates and cites each place a relation is written: one exposure may be `[high]`
/// in one file and `[medium]` in another. Merged, the relation keeps the highest severity and
/// every CWE and CAPEC id, with no conflict.
fn gal_attributes(merged: &mut Attributes, new: &Attributes) -> Attributes {
    let mut out = new.clone();
    if let (Some(old), Some(new)) = (merged.severity, new.severity) {
        let top = old.max(new);
        merged.severity = Some(top);
        out.severity = Some(top);
    }
    let union = |old: &[String], new: &[String]| -> Vec<String> {
        let set: BTreeSet<&String> = old.iter().chain(new).collect();
        set.into_iter().cloned().collect()
    };
    if !merged.cwe.is_empty() && !new.cwe.is_empty() {
        merged.cwe = union(&merged.cwe, &new.cwe);
        out.cwe = merged.cwe.clone();
    }
    if !merged.capec.is_empty() && !new.capec.is_empty() {
        merged.capec = union(&merged.capec, &new.capec);
        out.capec = merged.capec.clone();
    }
    out
}

fn relation_conflict(a: &Annotation, id: &str, field: &str) -> Diagnostic {
    Diagnostic::new(
        conflict_code(field),
        format!(
            "`@{}` `{id}` is written twice with {}",
            a.tag.as_str(),
            field_phrase(field)
        ),
    )
    .at(a.source.location())
    .at_span(a.span)
    .help(if conflict_code(field) == Code::ConflictingRating {
        "the first one in path order wins, and this is an error: write it once"
    } else {
        "the first one in path order wins"
    })
}

/// How many ids "did you mean" searches may compare in one build, in total. A model with 100
/// ids of a kind gets a suggestion for each of 200 undefined references; one with 10,000 ids
/// (where each search costs about 5 ms) for the first 2. Thousands of dangling references are a
/// systematic problem, and the first ones show it.
const SUGGESTION_BUDGET: usize = 20_000;

/// The closest id by edit distance, for "did you mean" help, and how many ids were compared.
/// Case differences count for little: `#SQLi` suggests `#sqli`.
fn closest<'a>(id: &str, candidates: &'a [Candidate]) -> (Option<&'a String>, usize) {
    let limit = (id.len() / 3).max(2);
    let lower = id.to_lowercase();
    let wanted = CharCounts::of(&lower);
    let mut compared = 0;
    let best = candidates
        .iter()
        // The distance is at least the difference in length: skip hopeless candidates cheaply.
        .filter(|c| c.id.len().abs_diff(id.len()) <= limit)
        .filter_map(|c| {
            compared += 1;
            // A cheaper lower bound first: most ids share few characters with the one sought.
            if wanted.distance_bound(&c.counts) > limit {
                return None;
            }
            let folded = if c.id.chars().any(char::is_uppercase) {
                strsim::levenshtein(&lower, &c.id.to_lowercase())
            } else {
                strsim::levenshtein(&lower, &c.id)
            };
            (folded <= limit).then(|| (folded, strsim::levenshtein(id, &c.id), &c.id))
        })
        .min()
        .map(|(_, _, c)| c);
    (best, compared)
}

/// Is `id` one edit (a transposition counts as one), case aside, from one of `known` (folded
/// ids)? Also returns how many ids were looked at, every one counted, so that the caller's
/// budget ([`SUGGESTION_BUDGET`]) bounds the whole search.
fn one_typo_away(id: &str, known: &[String]) -> (bool, usize) {
    let lower = id.to_lowercase();
    let mut compared = 0;
    let found = known.iter().any(|k| {
        compared += 1;
        k.len().abs_diff(lower.len()) <= 1 && strsim::osa_distance(&lower, k) <= 1
    });
    (found, compared)
}

/// An id that "did you mean" may suggest, with the character counts of its lower-case form.
struct Candidate {
    id: String,
    counts: CharCounts,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// Characters counted in 128 buckets (ASCII exactly): a lower bound on the edit distance of two strings that
/// costs one pass over each. A substitution changes at most two counts by one, an insertion or
/// deletion one, so the distance is at least half the sum of the count differences (buckets
/// shared by several characters only make the bound lower, never wrong).
struct CharCounts([u8; 128]);

impl CharCounts {
    fn of(s: &str) -> Self {
        let mut counts = [0u8; 128];
        for ch in s.chars() {
            let slot = &mut counts[(u32::from(ch) & 127) as usize];
            *slot = slot.saturating_add(1);
        }
        CharCounts(counts)
    }

    /// The counts of `s.to_lowercase()`, without building it.
    fn of_folded(s: &str) -> Self {
        let mut counts = [0u8; 128];
        for ch in s.chars() {
            if ch.is_ascii() {
                let slot = &mut counts[(u32::from(ch.to_ascii_lowercase()) & 127) as usize];
                *slot = slot.saturating_add(1);
            } else {
                for low in ch.to_lowercase() {
                    let slot = &mut counts[(u32::from(low) & 127) as usize];
                    *slot = slot.saturating_add(1);
                }
            }
        }
        CharCounts(counts)
    }

    fn distance_bound(&self, other: &CharCounts) -> usize {
        // Counts saturate at 255, which can only lower the bound. Sums of 16 differences fit a
        // u16 and the loop is one the compiler turns into vector instructions.
        let mut differ = 0usize;
        for (a, b) in self.0.chunks_exact(16).zip(other.0.chunks_exact(16)) {
            let mut sum = 0u16;
            for (x, y) in a.iter().zip(b) {
                sum += u16::from(x.max(y) - x.min(y));
            }
            differ += usize::from(sum);
        }
        differ.div_ceil(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million-byte `contains` list of undefined members gets a TM003 per member: counting
    /// each column from the tag was quadratic (4 MB: 39 s in a debug build). Each character is
    /// now counted about once, and the columns are those of the characters (not bytes).
    #[test]
    fn reference_columns_are_counted_once_along_a_line() {
        let mut text = String::from("@boundary Zoné ü (#b) contains ");
        let mut expected = Vec::new();
        for i in 0..3000 {
            if i > 0 {
                text.push_str(", ");
            }
            expected.push(u32::try_from(text.chars().count()).unwrap_or(0) + 1);
            text.push_str(&format!("#m{i}"));
        }
        let (annotations, _) = crate::annotation::parse_text("t", &text);
        let a = &annotations[0];
        let Body::Boundary { contains, .. } = &a.body else {
            panic!("not a boundary: {a:?}");
        };
        assert_eq!(contains.len(), expected.len());
        let mut columns = Columns::default();
        let found: Vec<u32> = contains
            .iter()
            .map(|r| columns.locate(a, r.span).column)
            .collect();
        assert_eq!(found, expected);
        assert!(
            columns.counted <= text.len(),
            "{} bytes counted for a {}-byte line",
            columns.counted,
            text.len()
        );
        // Out of order (a diagnostic on an earlier reference) starts again, still right.
        assert_eq!(columns.locate(a, contains[10].span).column, expected[10]);
        assert_eq!(columns.locate(a, contains[11].span).column, expected[11]);
        // And the whole build reports them there.
        let (_, diags) = build_from(Project::default(), annotations.iter());
        let at: Vec<u32> = diags
            .iter()
            .filter(|d| d.code == Code::UndefinedReference)
            .filter_map(|d| d.location.as_ref().map(|l| l.column))
            .collect();
        assert_eq!(at, expected);
    }

    fn codes(text: &str, max_depth: usize) -> (ThreatModel, Vec<String>) {
        let (annotations, _) = crate::annotation::parse_text("t", text);
        let (m, ds) = build_limited(
            Project::default(),
            &annotations,
            Limits {
                max_depth,
                ..Limits::default()
            },
        );
        let codes = ds
            .iter()
            .map(|d| format!("{}@{}", d.code, d.location.as_ref().map_or(0, |l| l.line)))
            .collect();
        (m, codes)
    }

    #[test]
    fn depth_is_capped_and_cycles_broken_in_one_pass() {
        // A chain of 7 boundaries under a limit of 3 is cut into pieces of 3.
        let mut text = String::from("@boundary B0 (#b0)\n");
        for i in 1..7 {
            text.push_str(&format!("@boundary B{i} (#b{i}) in #b{}\n", i - 1));
        }
        let (m, ds) = codes(&text, 3);
        assert_eq!(ds, ["TM030@4", "TM030@7"]);
        let roots: Vec<&str> = m
            .boundaries
            .iter()
            .filter(|b| b.extra.parent.is_none())
            .map(|b| b.id.as_str())
            .collect();
        assert_eq!(roots, ["b0", "b3", "b6"]);
        // A cycle loses one edge, found from the smallest id.
        let (m, ds) = codes(
            "@boundary A (#a) in #c\n@boundary B (#b) in #a\n@boundary C (#c) in #b",
            64,
        );
        assert_eq!(ds, ["TM011@2"]);
        assert_eq!(m.boundary("b").and_then(|b| b.extra.parent.clone()), None);
        // Component names: more segments than the limit keep the name, without parents.
        let (m, ds) = codes("@component A:B:C:D (#d)\n@component X:Y (#y)", 3);
        assert_eq!(ds, ["TM030@1"]);
        assert_eq!(m.components.len(), 3);
        assert_eq!(
            m.component("y")
                .and_then(|c| c.extra.parent.clone())
                .as_deref(),
            Some("x")
        );
    }

    #[test]
    fn self_transfers_are_left_out_and_nonsense_relations_reported() {
        let (m, ds) = codes(
            "@threat T (#t)\n@exposes A (#a) to #t\n@transfers #t from #a to #a\n@accepts #t to B (#b)\n@accepts #t to #a",
            64,
        );
        assert_eq!(ds, ["TM016@3", "TM015@4"]);
        assert!(m.transfers.is_empty());
        assert_eq!(m.acceptances.len(), 2);
    }

    #[test]
    fn char_counts_bound_the_folded_edit_distance() {
        let words = [
            "",
            "a",
            "sqli",
            "SQLi",
            "sqli_2",
            "xss",
            "ssx",
            "audit59525_dos",
            "audit78805_dos",
            "Straße",
            "STRASSE",
            "İstanbul",
            "istanbul",
            "ǅemal",
            "ﬁle",
            "file",
            "日本語",
            "日本",
            "report90491_val",
            "report90491_inj",
            "ab",
            "ba",
        ];
        for a in words {
            for b in words {
                let (la, lb) = (a.to_lowercase(), b.to_lowercase());
                let bound = CharCounts::of(&la).distance_bound(&CharCounts::of_folded(b));
                assert_eq!(
                    CharCounts::of(&lb).0,
                    CharCounts::of_folded(b).0,
                    "folded counts of {b:?}"
                );
                assert!(
                    bound <= strsim::levenshtein(&la, &lb),
                    "{a:?} / {b:?}: bound {bound}"
                );
            }
        }
    }
}
