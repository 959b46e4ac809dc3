//! Names in relations resolve to declarations, before the model is built.
//!
//! Threatspec derives an id from every name it reads, so `@mitigates A against B with Account
//! lockout` next to `@control Account lockout (#lockout)` makes a second control,
//! `#account_lockout`. Here a name means the declaration of that name, whatever its id; a name
//! that is almost one (case, spaces, punctuation) means it too, with a warning (TM037); a name a
//! small edit away is a new entity as written, with a did-you-mean warning. The rules are in
//! docs/migrating-from-threatspec.md and `threatmark explain TM037`.
//!
//! Pure, and independent of the order files arrive in: only the first declaration of each id in
//! path order names it (as in the builder), ties go to the smallest id, and each written name is
//! reported once, at its first use in path order.
//!
//! @threat Second entity from a name (#name_duplicates) [stride: R; likelihood: likely; impact: moderate]:
//! a relation that names a declared control by its name makes a second, undeclared control, and the mitigation is recorded against a thing nobody maintains
//! @control Names resolve to declarations (#names_resolve): a relation's name means the declaration of exactly that name (then one differing only in case, spaces or punctuation, with TM037), never a second entity with a derived id; names a small edit away are reported (TM037)
//! @mitigates #builder against #name_duplicates with #names_resolve

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::annotation::{Annotation, Body, EntityRef, Kind};
use crate::diagnostic::{Code, Diagnostic};

/// How many declared names the edit-distance search may look at in one build, in total: a
/// repository of 10,000 distinct names and 10,000 declarations would otherwise cost 10^8
/// comparisons. Exact and normalised matches are map lookups and have no budget.
const NEAR_BUDGET: usize = 1_000_000;

/// What a written name was resolved to.
#[derive(Debug, Clone)]
enum Resolved {
    /// Keep the id derived from the name.
    Derived,
    /// The declaration with this id.
    To(String),
}

/// The declarations names resolve to, borrowed from the annotations. Only the exact names and
/// the ids are indexed up front; the folded names and the edit-distance list are built on the
/// first name that needs them (most builds have none: 10,000 declarations cost no allocation).
#[derive(Debug, Default)]
struct Declared<'a> {
    /// The first declaration of each id in path order: (kind, name, id).
    first: Vec<(Kind, &'a str, &'a str)>,
    /// (kind, name, id) of the first declarations, sorted: the ids declared with exactly one
    /// name are a range, smallest first. (Sorted lists, not maps: no allocation per entry.)
    exact: Vec<(Kind, &'a str, &'a str)>,
    /// (kind, id) of every declared id, sorted.
    ids: Vec<(Kind, &'a str)>,
    /// Per kind, the folded names that relations write: only declarations with one of them are
    /// in `folded` (folding 10,000 declared names for a few written ones is most of a build).
    wanted: BTreeMap<Kind, BTreeSet<String>>,
    /// (kind, folded name) -> (name, id) of declarations.
    folded: OnceCell<Folded<'a>>,
    /// Per kind: (characters of the lower-case name, name, id), for the edit-distance search.
    names: OnceCell<BTreeMap<Kind, Vec<NamedDecl<'a>>>>,
}

/// (kind, folded name) -> (name, id) of the declarations.
type Folded<'a> = BTreeMap<(Kind, String), BTreeSet<(&'a str, &'a str)>>;

/// (characters of the lower-case name, name, id) of a declaration.
type NamedDecl<'a> = (usize, &'a str, &'a str);

impl<'a> Declared<'a> {
    /// The ids declared first with exactly this name, sorted.
    fn exact(&self, kind: Kind, name: &str) -> &[(Kind, &'a str, &'a str)] {
        let start = self
            .exact
            .partition_point(|&(k, n, _)| (k, n) < (kind, name));
        let rest = &self.exact[start..];
        &rest[..rest.partition_point(|&(k, n, _)| (k, n) == (kind, name))]
    }

    fn has_id(&self, kind: Kind, id: &str) -> bool {
        self.ids.binary_search(&(kind, id)).is_ok()
    }

    fn folded(&self) -> &Folded<'a> {
        self.folded.get_or_init(|| {
            let mut folded: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
            let mut buf = String::new();
            for &(kind, name, id) in &self.first {
                let Some(wanted) = self.wanted.get(&kind) else {
                    continue;
                };
                buf.clear();
                fold_into(name, &mut buf);
                if wanted.contains(buf.as_str()) {
                    folded
                        .entry((kind, buf.clone()))
                        .or_default()
                        .insert((name, id));
                }
            }
            folded
        })
    }

    fn names(&self) -> &BTreeMap<Kind, Vec<NamedDecl<'a>>> {
        self.names.get_or_init(|| {
            let mut names: BTreeMap<Kind, Vec<_>> = BTreeMap::new();
            for &(kind, name, id) in &self.first {
                names
                    .entry(kind)
                    .or_default()
                    .push((lower_chars(name), name, id));
            }
            names
        })
    }
}

/// `Orders Api` and `orders-API` fold to `ordersapi`.
fn fold(name: &str) -> String {
    let mut out = String::new();
    fold_into(name, &mut out);
    out
}

fn fold_into(name: &str, out: &mut String) {
    if name.is_ascii() {
        // The same rule on bytes, without a Unicode case table per character.
        out.extend(
            name.bytes()
                .filter(u8::is_ascii_alphanumeric)
                .map(|b| char::from(b.to_ascii_lowercase())),
        );
        return;
    }
    out.extend(
        name.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase),
    );
}

/// `name.to_lowercase().chars().count()` without the copy: only a final sigma lowers by
/// context, and to one character either way.
fn lower_chars(name: &str) -> usize {
    name.chars().map(|c| c.to_lowercase().count()).sum()
}

/// What an entity slot is to its annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The entity it declares: `@component`'s, `@boundary`'s, `@boundary between`'s boundary.
    Declared,
    /// A member that `@boundary ... contains` lists.
    Member,
    /// The actor `@entitles` names (by id: actors are not resolved by name).
    Grantee,
    /// A slot of a relation.
    Related,
}

/// Every entity slot of an annotation, with its role and kind, the declared entity first: the
/// one list of them, so the builder ([`mentions`]) and the name resolution ([`slots`]) cannot
/// miss a slot the other sees. The same match serves `&` and `&mut`.
macro_rules! entity_slots {
    ($body:expr, $iter:ident) => {
        match $body {
            Body::Declare { kind, target, .. } => vec![(Role::Declared, *kind, target)],
            Body::Boundary {
                target, contains, ..
            } => std::iter::once((Role::Declared, Kind::Boundary, target))
                .chain(contains.$iter().map(|r| (Role::Member, Kind::Component, r)))
                .collect(),
            Body::Mitigates {
                component,
                threat,
                control,
            } => vec![
                (Role::Related, Kind::Component, component),
                (Role::Related, Kind::Threat, threat),
                (Role::Related, Kind::Control, control),
            ],
            Body::Exposes {
                component, threat, ..
            }
            | Body::Accepts {
                component, threat, ..
            } => vec![
                (Role::Related, Kind::Component, component),
                (Role::Related, Kind::Threat, threat),
            ],
            Body::Transfers {
                threat, from, to, ..
            } => vec![
                (Role::Related, Kind::Threat, threat),
                (Role::Related, Kind::Component, from),
                (Role::Related, Kind::Component, to),
            ],
            Body::Connects { source, target, .. } => vec![
                (Role::Related, Kind::Component, source),
                (Role::Related, Kind::Component, target),
            ],
            Body::Review { component, .. } => vec![(Role::Related, Kind::Component, component)],
            Body::Tests { control, component } => vec![
                (Role::Related, Kind::Control, control),
                (Role::Related, Kind::Component, component),
            ],
            Body::Confirmed { threat, component } => vec![
                (Role::Related, Kind::Threat, threat),
                (Role::Related, Kind::Component, component),
            ],
            Body::Entitles {
                actor,
                component,
                threat,
                ..
            } => std::iter::once((Role::Grantee, Kind::Actor, actor))
                .chain(
                    component
                        .$iter()
                        .map(|r| (Role::Related, Kind::Component, r)),
                )
                .chain(threat.$iter().map(|r| (Role::Related, Kind::Threat, r)))
                .collect(),
            Body::Between { target, a, b } => vec![
                (Role::Declared, Kind::Boundary, target),
                (Role::Related, Kind::Component, a),
                (Role::Related, Kind::Component, b),
            ],
            Body::Owns { component, .. }
            | Body::Handles { component, .. }
            | Body::Assumes { component } => vec![(Role::Related, Kind::Component, component)],
            Body::Feature { .. } | Body::Dismisses { .. } => Vec::new(),
        }
    };
}

/// The slots whose names resolve to declarations: those of relations, and `@boundary ...
/// contains` members (components).
fn resolved(role: Role) -> bool {
    matches!(role, Role::Related | Role::Member)
}

fn slots(body: &Body) -> Vec<(Kind, &EntityRef)> {
    let all: Vec<(Role, Kind, &EntityRef)> = entity_slots!(body, iter);
    all.into_iter()
        .filter(|(role, ..)| resolved(*role))
        .map(|(_, kind, r)| (kind, r))
        .collect()
}

fn slots_mut(body: &mut Body) -> Vec<(Kind, &mut EntityRef)> {
    let all: Vec<(Role, Kind, &mut EntityRef)> = entity_slots!(body, iter_mut);
    all.into_iter()
        .filter(|(role, ..)| resolved(*role))
        .map(|(_, kind, r)| (kind, r))
        .collect()
}

/// The entity slots the builder registers, by kind, the declared entity first: every slot
/// but boundary members (the builder places those with the boundary).
pub(super) fn mentions(body: &Body) -> Vec<(Kind, &EntityRef)> {
    let all: Vec<(Role, Kind, &EntityRef)> = entity_slots!(body, iter);
    all.into_iter()
        .filter(|(role, ..)| *role != Role::Member)
        .map(|(_, kind, r)| (kind, r))
        .collect()
}

/// A name written in a relation that the resolution looks at: a name whose id is derived from
/// it (not `Name (#id)`, nor a label such as `Log4Shell (CVE-2021-44228)`).
fn resolvable(r: &EntityRef) -> Option<&str> {
    r.name
        .as_deref()
        .filter(|name| !r.explicit_id && super::ids::derive(name) == r.id)
}

/// Rewrite the ids of names in relations to the declarations they mean: the annotations that
/// change, copied, with their positions in `all` (ascending).
pub(super) fn resolve(all: &[&Annotation]) -> (Vec<(usize, Annotation)>, Vec<Diagnostic>) {
    let mut declared = index(all);
    for a in all {
        if matches!(a.body, Body::Declare { .. } | Body::Feature { .. }) {
            continue;
        }
        for (kind, slot) in slots(&a.body) {
            if let Some(name) = resolvable(slot) {
                declared.wanted.entry(kind).or_default().insert(fold(name));
            }
        }
    }
    let mut r = Resolver {
        declared: &declared,
        memo: BTreeMap::new(),
        reported: BTreeSet::new(),
        compared: 0,
        diags: Vec::new(),
    };
    let mut out = Vec::new();
    for (i, &a) in all.iter().enumerate() {
        // A declaration has no slot that resolves: the common case costs no list.
        if matches!(a.body, Body::Declare { .. } | Body::Feature { .. }) {
            continue;
        }
        {
            let mut copy: Option<Annotation> = None;
            for (n, (kind, slot)) in slots(&a.body).into_iter().enumerate() {
                let Some(name) = resolvable(slot) else {
                    continue;
                };
                // `contains #b` nests boundaries; a name whose id is a boundary's is one.
                if matches!(a.body, Body::Boundary { .. })
                    && declared.has_id(Kind::Boundary, &slot.id)
                {
                    continue;
                }
                if let Resolved::To(id) = r.resolve(kind, name, &slot.id, a, slot) {
                    let c = copy.get_or_insert_with(|| a.clone());
                    if let Some((_, s)) = slots_mut(&mut c.body).into_iter().nth(n) {
                        s.id = id;
                    }
                }
            }
            if let Some(c) = copy {
                out.push((i, c));
            }
        }
    }
    (out, r.diags)
}

/// The first declaration of each id in path order names it, as in the builder.
fn index<'a>(all: &[&'a Annotation]) -> Declared<'a> {
    // (kind, id, position, name) of named declarations; the first of each id in path order.
    let mut decls: Vec<(Kind, &str, usize, &str)> = Vec::new();
    for (i, a) in all.iter().enumerate() {
        let (kind, target) = match &a.body {
            Body::Declare { kind, target, .. } => (*kind, target),
            Body::Boundary { target, .. } => (Kind::Boundary, target),
            _ => continue,
        };
        if let Some(name) = target.name.as_deref() {
            decls.push((kind, target.id.as_str(), i, name));
        }
    }
    decls.sort_unstable();
    decls.dedup_by_key(|&mut (kind, id, ..)| (kind, id));
    let ids = decls.iter().map(|&(kind, id, ..)| (kind, id)).collect();
    let mut exact: Vec<_> = decls
        .iter()
        .map(|&(k, id, _, name)| (k, name, id))
        .collect();
    exact.sort_unstable();
    decls.sort_unstable_by_key(|&(_, _, i, _)| i);
    Declared {
        first: decls
            .iter()
            .map(|&(k, id, _, name)| (k, name, id))
            .collect(),
        exact,
        ids,
        ..Declared::default()
    }
}

struct Resolver<'d, 'a> {
    declared: &'d Declared<'a>,
    /// (kind, name) -> what it resolved to, so each name is looked up once.
    memo: BTreeMap<(Kind, &'a str), Resolved>,
    /// Names already reported.
    reported: BTreeSet<(Kind, &'a str)>,
    compared: usize,
    diags: Vec<Diagnostic>,
}

impl<'a> Resolver<'_, 'a> {
    fn resolve(
        &mut self,
        kind: Kind,
        name: &'a str,
        derived: &str,
        a: &Annotation,
        slot: &EntityRef,
    ) -> Resolved {
        let key = (kind, name);
        if let Some(done) = self.memo.get(&key) {
            return done.clone();
        }
        let (resolved, diag) = self.lookup(kind, name, derived);
        if let Some(diag) = diag
            && self.reported.insert(key)
        {
            self.diags
                .push(diag.at(a.source.location()).at_span(slot.span));
        }
        self.memo.insert(key, resolved.clone());
        resolved
    }

    fn lookup(&mut self, kind: Kind, name: &str, derived: &str) -> (Resolved, Option<Diagnostic>) {
        let d = self.declared;
        let ids: Vec<&str> = d.exact(kind, name).iter().map(|&(.., id)| id).collect();
        if !ids.is_empty() {
            // Declared with exactly this name: the derived id if one of them has it, else the
            // smallest.
            let what = kind.as_str();
            return match ids.first() {
                Some(_) if ids.contains(&derived) => (Resolved::Derived, None),
                Some(id) if ids.len() > 1 => {
                    let all: Vec<String> = ids.iter().map(|i| format!("`#{i}`")).collect();
                    let diag = Diagnostic::new(
                        Code::NameNearMiss,
                        format!(
                            "`{name}` names {} {what}s: {}",
                            ids.len(),
                            all.join(", ")
                        ),
                    )
                    .label(format!("read as `#{id}`"))
                    .help(format!(
                        "one name, several ids: the smallest, `#{id}`, is used; refer to the one you mean by its id, or give them different names"
                    ));
                    (Resolved::To(id.to_string()), Some(diag))
                }
                Some(id) => (Resolved::To(id.to_string()), None),
                None => (Resolved::Derived, None),
            };
        }
        // A declaration has the derived id: the name is another spelling of it (`SQL Injection`
        // for `SQL injection`), one entity as it always was.
        if d.has_id(kind, derived) {
            return (Resolved::Derived, None);
        }
        let what = kind.as_str();
        if let Some((decl, id)) = d
            .folded()
            .get(&(kind, fold(name)))
            .and_then(|set| set.iter().next())
            .filter(|_| !fold(name).is_empty())
        {
            let diag = Diagnostic::new(
                Code::NameNearMiss,
                format!("`{name}` is written differently from the {what} declared as `{decl} (#{id})`"),
            )
            .label(format!("read as `#{id}`"))
            .help(format!(
                "names that differ only in case, spaces or punctuation mean the declaration `{decl} (#{id})`; write it as declared, or `#{id}`"
            ));
            return (Resolved::To(id.to_string()), Some(diag));
        }
        if let Some((decl, id)) = self.near(kind, name) {
            let diag = Diagnostic::new(
                Code::NameNearMiss,
                format!("{what} `{name}` is not declared; a {what} `{decl} (#{id})` is"),
            )
            .label(format!("a new {what}, `#{derived}`"))
            .help(format!(
                "did you mean `{decl} (#{id})`? `{name}` was created as a {what} of its own"
            ));
            return (Resolved::Derived, Some(diag));
        }
        (Resolved::Derived, None)
    }

    /// The closest declared name a small edit away (at most 2, and at most a sixth of the
    /// name's characters), case aside; ties go to the smallest name, then id.
    fn near(&mut self, kind: Kind, name: &str) -> Option<(String, String)> {
        let lower = name.to_lowercase();
        let len = lower.chars().count();
        let limit = (len / 6).min(2);
        if limit == 0 {
            return None;
        }
        let mut best: Option<(usize, &str, &str)> = None;
        let declared = self.declared;
        for &(chars, decl, id) in declared.names().get(&kind).into_iter().flatten() {
            if self.compared >= NEAR_BUDGET {
                break;
            }
            self.compared += 1;
            if chars.abs_diff(len) > limit {
                continue;
            }
            // Lowered only within reach of the length filter.
            let distance = strsim::osa_distance(&lower, &decl.to_lowercase());
            if distance <= limit && best.is_none_or(|b| (distance, decl, id) < b) {
                best = Some((distance, decl, id));
            }
        }
        best.map(|(_, n, i)| (n.to_string(), i.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ascii_names_is_the_unicode_rule() {
        let unicode = |name: &str| -> String {
            name.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        for b in 0..=0x7f_u8 {
            let name = format!("x{}Y{}9", char::from(b), char::from(b));
            assert_eq!(fold(&name), unicode(&name), "{name:?}");
        }
        assert_eq!(fold("Orders-API \u{212a}"), "ordersapik");
    }

    /// The builder and the resolution read one list of slots: every slot the resolution
    /// rewrites is one the builder registers, in the same order.
    #[test]
    fn builder_and_resolution_read_the_same_slots() {
        let text = "@component A (#a)\n@boundary between #a and #x (#bx)\n\
            @mitigates #a against #t with #c\n@exposes #a to #t\n@accepts #t to #a with reason\n\
            @transfers #t from #a to #x with reason\n@connects #a to #x with HTTPS\n@review #a why\n\
            @tests #c for #a\n@confirmed #t on #a\n@entitles #u to read on #a against #t\n\
            @owns team for #a\n@handles pii on #a\n@assumes #a -- \"TLS\"\n@feature \"Login\"\n";
        let (annotations, diags) = crate::annotation::parse_text("a.py", text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(annotations.len(), 15);
        for a in &annotations {
            let resolved: Vec<(Kind, &str)> = slots(&a.body)
                .into_iter()
                .map(|(k, r)| (k, r.id.as_str()))
                .collect();
            let registered: Vec<(Kind, &str)> = mentions(&a.body)
                .into_iter()
                .map(|(k, r)| (k, r.id.as_str()))
                .filter(|s| resolved.contains(s))
                .collect();
            assert_eq!(registered, resolved, "{:?}", a.body);
        }
    }
}
