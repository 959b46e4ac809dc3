//! The threat and control sections, the actors, and the relations (mitigations, exposures,
//! acceptances, transfers) they list.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::analysis::ElementKind;
use crate::render::escape::printable;

impl Builder<'_> {
    /// The relations `keep` selects (by threat, component and control), in kind order:
    /// mitigations, exposures, acceptances, transfers.
    pub(super) fn relations(
        &self,
        keep: impl Fn(&str, &str, Option<&str>) -> bool,
    ) -> Vec<RelationView> {
        let mut out = Vec::new();
        self.mitigations_and_exposures(&keep, &mut out);
        self.acceptances_and_transfers(&keep, &mut out);
        out
    }

    fn mitigations_and_exposures(
        &self,
        keep: &impl Fn(&str, &str, Option<&str>) -> bool,
        out: &mut Vec<RelationView>,
    ) {
        let m = self.model;

        for x in &m.mitigations {
            if keep(&x.link.threat, &x.link.component, Some(&x.link.control)) {
                out.push(RelationView {
                    kind: "mitigation",
                    threat: self.threat(&x.link.threat),
                    component: self.component(&x.link.component),
                    control: Some(self.control(&x.link.control)),
                    to: None,
                    details: printable(&x.details),
                    owner: x.attributes.owner.as_deref().map(printable),
                    ticket: x.attributes.ticket.as_deref().map(printable),
                    expires: shown_expiry(x.attributes.expires.as_ref()),
                    expired: false,
                    risk: None,
                    confirmed: false,
                    sources: self.sources(&x.sources),
                });
            }
        }
        for x in &m.exposures {
            if keep(&x.link.threat, &x.link.component, None) {
                out.push(RelationView {
                    kind: "exposure",
                    threat: self.threat(&x.link.threat),
                    component: self.component(&x.link.component),
                    control: None,
                    to: None,
                    details: printable(&x.details),
                    owner: x.attributes.owner.as_deref().map(printable),
                    ticket: x.attributes.ticket.as_deref().map(printable),
                    expires: shown_expiry(x.attributes.expires.as_ref()),
                    expired: false,
                    risk: m
                        .threat(&x.link.threat)
                        .and_then(|t| self.matrix.rate_exposure(&t.attributes, &x.attributes))
                        .filter(|r| r.exposure)
                        .map(|r| self.risk(Some(&r))),
                    confirmed: x.link.confirmed,
                    sources: self.sources(&x.sources),
                });
            }
        }
    }

    fn acceptances_and_transfers(
        &self,
        keep: &impl Fn(&str, &str, Option<&str>) -> bool,
        out: &mut Vec<RelationView>,
    ) {
        let m = self.model;
        let today = self.analysis.date;

        for x in &m.acceptances {
            if keep(&x.link.threat, &x.link.component, None) {
                let expires = x.attributes.expires.clone().or_else(|| {
                    m.threat(&x.link.threat)
                        .and_then(|t| t.attributes.expires.clone())
                });
                let expired = matches!((today, &expires), (Some(t), Some(e)) if e.expired(t));
                out.push(RelationView {
                    kind: "acceptance",
                    threat: self.threat(&x.link.threat),
                    component: self.component(&x.link.component),
                    control: None,
                    to: None,
                    details: printable(&x.details),
                    owner: x.attributes.owner.as_deref().map(printable),
                    ticket: x.attributes.ticket.as_deref().map(printable),
                    expires: shown_expiry(expires.as_ref()),
                    expired,
                    risk: None,
                    confirmed: false,
                    sources: self.sources(&x.sources),
                });
            }
        }
        for x in &m.transfers {
            if keep(&x.link.threat, &x.link.from, None) || keep(&x.link.threat, &x.link.to, None) {
                out.push(RelationView {
                    kind: "transfer",
                    threat: self.threat(&x.link.threat),
                    component: self.component(&x.link.from),
                    control: None,
                    to: Some(self.component(&x.link.to)),
                    details: printable(&x.details),
                    owner: x.attributes.owner.as_deref().map(printable),
                    ticket: x.attributes.ticket.as_deref().map(printable),
                    expires: shown_expiry(x.attributes.expires.as_ref()),
                    expired: false,
                    risk: None,
                    confirmed: false,
                    sources: self.sources(&x.sources),
                });
            }
        }
    }

    /// Every threat with its rating, status, relations and findings.
    pub(super) fn threats(&self) -> Vec<ThreatView> {
        let (model, analysis, b) = (self.model, self.analysis, self);
        let ranks: BTreeMap<&str, usize> = analysis
            .plan
            .iter()
            .map(|p| (p.threat.as_str(), p.rank))
            .collect();

        model
            .threats
            .iter()
            .map(|t| {
                let a = b.assessment(&t.id);
                let relations = b.relations(|threat, _, _| threat == t.id);
                let controls: BTreeSet<&str> = model
                    .mitigations
                    .iter()
                    .filter(|x| x.link.threat == t.id)
                    .map(|x| x.link.control.as_str())
                    .collect();
                ThreatView {
                    item: b.threat(&t.id),
                    description: printable(&t.description),
                    stride: t
                        .attributes
                        .stride
                        .iter()
                        .map(|s| StrideView {
                            letter: s.letter().to_string(),
                            title: s.title().to_string(),
                        })
                        .collect(),
                    stride_letters: t.attributes.stride.iter().map(|s| s.letter()).collect(),
                    risk: b.risk(a.and_then(|a| a.risk.as_ref())),
                    status: b.threat_status(&t.id),
                    owner: a.and_then(|a| a.owner.as_deref()).map(printable),
                    actor: t.attributes.actor.as_deref().map(|x| b.actor(x)),
                    cwe: t.attributes.cwe.iter().map(|x| printable(x)).collect(),
                    capec: t.attributes.capec.iter().map(|x| printable(x)).collect(),
                    ticket: t.attributes.ticket.as_deref().map(printable),
                    expires: shown_expiry(t.attributes.expires.as_ref()),
                    custom: t
                        .attributes
                        .custom
                        .iter()
                        .map(|(k, v)| KeyValue {
                            key: printable(k),
                            value: printable(v),
                        })
                        .collect(),
                    components: a
                        .map(|a| a.components.iter().map(|c| b.component(c)).collect())
                        .unwrap_or_default(),
                    controls: controls.into_iter().map(|c| b.control(c)).collect(),
                    relations,
                    plan_rank: ranks.get(t.id.as_str()).copied(),
                    findings: b.findings_about(ElementKind::Threat, &t.id),
                    sources: b.sources(&t.sources),
                }
            })
            .collect()
    }

    /// Every control with what it mitigates, its tests and findings.
    pub(super) fn controls(&self) -> Vec<ControlView> {
        let (model, b) = (self.model, self);
        model
            .controls
            .iter()
            .map(|c| {
                let mitigations = b.relations(|_, _, control| control == Some(c.id.as_str()));
                let threats: BTreeSet<&str> = model
                    .mitigations
                    .iter()
                    .filter(|x| x.link.control == c.id)
                    .map(|x| x.link.threat.as_str())
                    .collect();
                let components: BTreeSet<&str> = model
                    .mitigations
                    .iter()
                    .filter(|x| x.link.control == c.id)
                    .map(|x| x.link.component.as_str())
                    .collect();
                ControlView {
                    item: b.control(&c.id),
                    description: printable(&c.description),
                    owner: c.attributes.owner.as_deref().map(printable),
                    threats: threats.into_iter().map(|t| b.threat(t)).collect(),
                    components: components.into_iter().map(|x| b.component(x)).collect(),
                    mitigations,
                    tests: model
                        .tests
                        .iter()
                        .filter(|t| t.link.control == c.id)
                        .map(|t| TestView {
                            control: b.control(&t.link.control),
                            component: b.component(&t.link.component),
                            sources: b.sources(&t.sources),
                        })
                        .collect(),
                    findings: b.findings_about(ElementKind::Control, &c.id),
                    sources: b.sources(&c.sources),
                }
            })
            .collect()
    }

    /// Every actor with the threats it drives.
    pub(super) fn actors(&self) -> Vec<ActorView> {
        let (model, b) = (self.model, self);
        model
            .actors
            .iter()
            .map(|a| ActorView {
                item: b.actor(&a.id),
                description: printable(&a.description),
                threats: model
                    .threats
                    .iter()
                    .filter(|t| t.attributes.actor.as_deref() == Some(a.id.as_str()))
                    .map(|t| b.threat(&t.id))
                    .collect(),
                sources: b.sources(&a.sources),
            })
            .collect()
    }
}

/// An expiry as the view shows it: its text, cleaned like every repository string.
fn shown_expiry(expires: Option<&crate::date::Expiry>) -> Option<String> {
    expires.map(|e| printable(&e.to_string()))
}
