//! Assembling annotations from every file into one model, and validating it.
//!
//! Pure: annotations in (already sorted by path and position), model and diagnostics out.
//! The result never depends on the order files were read in, because callers sort first and
//! every collection here is a `BTreeMap` keyed by id.
//!
//! This file holds the entry points, the registry and declarations (passes 1 and 2) and the
//! attribute merging; placeholders.rs the undeclared ids and pruning, relations.rs and gal.rs
//! the relations (pass 3), finish.rs placements, crossings and the finished model.
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
use super::names::mentions;
use super::types::*;

mod finish;
mod gal;
mod placeholders;
mod relations;

use gal::*;
use placeholders::*;
use relations::*;

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
    let (renamed, name_diags) = super::names::resolve(&all);
    let mut all = all;
    for (i, a) in &renamed {
        all[*i] = a;
    }
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
    // Copies only of the attributes that change (an `actor` that names no actor).
    let checked: BTreeMap<usize, Attributes> = all
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((i, b.checked_attributes(a)?)))
        .collect();
    for (i, a) in all.iter().enumerate() {
        b.merge_declaration(i, a, checked.get(&i).unwrap_or(&a.attributes));
    }
    for (i, a) in all.iter().enumerate() {
        b.relation_kept_or_rejected(i, a, checked.get(&i).unwrap_or(&a.attributes));
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
    /// `@dismisses`, in the order read; sorted when the model is finished.
    dismissals: Vec<RuleDismissal>,
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
            // A new draft has the name already: no second copy.
            if draft.name != name {
                draft.name = name.to_string();
            }
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

    /// The annotation's attributes without an `actor` that names no `@actor` (TM003); `None`
    /// when they are the annotation's own.
    fn checked_attributes(&mut self, a: &Annotation) -> Option<Attributes> {
        if let Some(actor) = &a.attributes.actor
            && self.reg.get(Kind::Actor, actor).is_none()
        {
            let mut attributes = a.attributes.clone();
            let r = EntityRef {
                name: None,
                id: actor.clone(),
                explicit_id: true,
                span: a.span,
            };
            self.resolve(Kind::Actor, &r, a);
            attributes.actor = None;
            return Some(attributes);
        }
        None
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
        "linddun" => "different LINDDUN categories".into(),
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
    field!(linddun, "linddun", Vec::is_empty);
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
