//! Pass 3: the relations of our dialect, one method per relation kind, and the checks that a
//! covering relation names what its threat or control is about (TM015).

use super::*;

impl<'a> Builder<'a> {
    /// Pass 3: placements and relations, now that every id is known. `attributes` are the
    /// annotation's, checked.
    pub(super) fn relations(&mut self, i: usize, a: &'a Annotation, attributes: &Attributes) {
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
            Body::Dismisses { rule, on, reason } => self.dismissals.push(RuleDismissal {
                rule: rule.clone(),
                on: on.clone(),
                reason: reason.clone(),
                source: a.source.clone(),
            }),
        }
    }

    /// `@component X within B`: where a declaration places its entity.
    pub(super) fn place_declared(
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
    pub(super) fn place_in_boundary(
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
    pub(super) fn add_mitigation(
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
    pub(super) fn add_exposure(
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
    pub(super) fn add_acceptance(
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
    pub(super) fn add_transfer(
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
    pub(super) fn add_flow(
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
    pub(super) fn add_review(
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
    pub(super) fn add_test(
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

    /// TM015: acceptances and transfers whose component is not one the threat is exposed on (nor
    /// an ancestor or descendant of one), and tests of a control for a component it mitigates
    /// nothing on.
    /// Threats without exposures and controls without mitigations are not checked.
    pub(super) fn check_relations(&mut self) {
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
}

pub(super) fn add_relation<T: Clone + PartialEq>(
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
pub(super) fn raise_rating(into: &mut Attributes, from: &mut Attributes) {
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

pub(super) fn relation_conflict(a: &Annotation, id: &str, field: &str) -> Diagnostic {
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
