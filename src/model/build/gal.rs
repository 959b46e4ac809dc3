//! Pass 3 for the facts only GuardLink's dialect states (`@confirmed`, `@entitles`, `@between`,
//! `@owns`, `@handles`, `@assumes`, `@feature`).

use super::*;

impl<'a> Builder<'a> {
    /// Pass 3 for the facts only GuardLink's dialect states (gal.rs).
    pub(super) fn gal_relations(&mut self, a: &'a Annotation, attributes: &Attributes) {
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
}

/// GuardLink rates and cites each place a relation is written: one exposure may be `[high]`
/// in one file and `[medium]` in another. Merged, the relation keeps the highest severity and
/// every CWE and CAPEC id, with no conflict.
pub(super) fn gal_attributes(merged: &mut Attributes, new: &Attributes) -> Attributes {
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
