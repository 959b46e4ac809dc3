//! The pieces every section is made of: references to elements (with their anchors and
//! links), source links, risks, findings, coverage rows and boundary paths.

use super::*;
use crate::analysis::{Basis, ElementKind, ElementRef, Residual, Risk};
use crate::model::{Arrow, Source, Stride};
use crate::render::escape::{self, printable};

fn kind_name(kind: ElementKind) -> &'static str {
    match kind {
        ElementKind::Component => "component",
        ElementKind::Boundary => "boundary",
        ElementKind::Actor => "actor",
        ElementKind::Threat => "threat",
        ElementKind::Control => "control",
        ElementKind::Flow => "flow",
        ElementKind::Exposure => "exposure",
        ElementKind::Acceptance => "acceptance",
    }
}
impl Builder<'_> {
    pub(super) fn href(&self, kind: &str, slug: &str) -> String {
        match self.opts.links {
            LinkMode::Anchors => format!("#{kind}-{slug}"),
            LinkMode::Site => match kind {
                "component" => format!("components/{slug}.html"),
                "boundary" => format!("boundaries/{slug}.html"),
                "threat" => format!("threats/{slug}.html"),
                "control" => format!("controls/{slug}.html"),
                "actor" => format!("threats.html#actor-{slug}"),
                "flow" => format!("index.html#flow-{slug}"),
                _ => "index.html".to_string(),
            },
        }
    }

    pub(super) fn item(
        &self,
        kind: &'static str,
        id: &str,
        name: Option<&str>,
        declared: bool,
    ) -> ItemRef {
        let slug = escape::slug(id);
        ItemRef {
            kind,
            id: printable(id),
            name: printable(name.filter(|n| !n.is_empty()).unwrap_or(id)),
            anchor: format!("{kind}-{slug}"),
            href: self.href(kind, &slug),
            slug,
            declared,
        }
    }

    /// A reference to a named element, by kind; unknown ids still render (as their id).
    pub(super) fn entity<X>(
        &self,
        kind: &'static str,
        id: &str,
        e: Option<&crate::model::Entity<X>>,
    ) -> ItemRef {
        self.item(
            kind,
            id,
            e.map(|e| e.name.as_str()),
            e.is_some_and(|e| e.declared),
        )
    }
    pub(super) fn component(&self, id: &str) -> ItemRef {
        self.entity("component", id, self.model.component(id))
    }
    pub(super) fn boundary(&self, id: &str) -> ItemRef {
        self.entity("boundary", id, self.model.boundary(id))
    }
    pub(super) fn threat(&self, id: &str) -> ItemRef {
        self.entity("threat", id, self.model.threat(id))
    }
    pub(super) fn control(&self, id: &str) -> ItemRef {
        self.entity("control", id, self.model.control(id))
    }
    pub(super) fn actor(&self, id: &str) -> ItemRef {
        self.entity("actor", id, self.model.actor(id))
    }
    pub(super) fn flow(&self, id: &str) -> ItemRef {
        let f = self.model.flows.iter().find(|f| f.id == id);
        let name = f.map(|f| self.model.flow_name(f, Arrow::Direction));
        self.item("flow", id, name.as_deref(), true)
    }

    /// An element of a finding. Exposures and acceptances link to their threat.
    pub(super) fn element(&self, e: &ElementRef) -> ItemRef {
        match e.kind {
            ElementKind::Component => self.component(&e.id),
            ElementKind::Boundary => self.boundary(&e.id),
            ElementKind::Actor => self.actor(&e.id),
            ElementKind::Threat => self.threat(&e.id),
            ElementKind::Control => self.control(&e.id),
            ElementKind::Flow => self.flow(&e.id),
            ElementKind::Exposure | ElementKind::Acceptance => {
                let threat = match e.kind {
                    ElementKind::Exposure => self
                        .model
                        .exposures
                        .iter()
                        .find(|x| x.id == e.id)
                        .map(|x| x.link.threat.clone()),
                    _ => self
                        .model
                        .acceptances
                        .iter()
                        .find(|x| x.id == e.id)
                        .map(|x| x.link.threat.clone()),
                };
                let mut r = match &threat {
                    Some(t) => self.threat(t),
                    None => self.item(kind_name(e.kind), &e.id, None, true),
                };
                r.kind = kind_name(e.kind);
                r
            }
        }
    }

    pub(super) fn entitlement(&self, e: &crate::model::Entitlement) -> EntitlementView {
        EntitlementView {
            actor: self.actor(&e.link.actor),
            capability: printable(&e.link.capability),
            component: e.link.component.as_deref().map(|c| self.component(c)),
            threat: e.link.threat.as_deref().map(|t| self.threat(t)),
            description: printable(&e.description),
            sources: self.sources(&e.sources),
        }
    }

    pub(super) fn assumption(&self, a: &crate::model::Assumption) -> AssumptionView {
        AssumptionView {
            component: self.component(&a.link.component),
            description: printable(&a.description),
            sources: self.sources(&a.sources),
        }
    }

    pub(super) fn sources(&self, sources: &[Source]) -> Vec<SourceLink> {
        let mut v: Vec<SourceLink> = sources
            .iter()
            .map(|s| self.link(&s.path, s.line, s.column, &s.annotation))
            .collect();
        v.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        v.dedup();
        v
    }

    pub(super) fn link(&self, path: &str, line: u32, column: u32, annotation: &str) -> SourceLink {
        let label = if line == 0 {
            printable(path)
        } else {
            format!("{}:{line}", printable(path))
        };
        let label_parts = label.split_inclusive('/').map(str::to_string).collect();
        SourceLink {
            path: printable(path),
            line,
            column,
            label,
            label_parts,
            url: self.opts.source_url.as_ref().map(|u| {
                u.expand(
                    &self.opts.rev,
                    &format!("{}{path}", self.opts.path_prefix),
                    line,
                )
            }),
            annotation: printable(annotation),
        }
    }

    /// Sorted by path, line and column, so a "where" list reads in file order.
    pub(super) fn location_links(&self, locs: &[crate::model::Location]) -> Vec<SourceLink> {
        let mut locs: Vec<&crate::model::Location> = locs.iter().collect();
        locs.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        locs.dedup_by(|a, b| (&a.path, a.line, a.column) == (&b.path, b.line, b.column));
        locs.into_iter()
            .map(|l| self.link(&l.path, l.line, l.column, ""))
            .collect()
    }

    pub(super) fn risk(&self, risk: Option<&Risk>) -> RiskView {
        match risk {
            None => RiskView {
                rated: false,
                score: 0,
                band: "unrated".into(),
                label: "unrated".into(),
                likelihood: String::new(),
                impact: String::new(),
                basis: String::new(),
            },
            Some(r) => RiskView {
                rated: true,
                score: r.score,
                band: r.band.as_str().into(),
                label: format!("{} {}", r.score, r.band.as_str()),
                likelihood: r
                    .likelihood
                    .map(|l| printable(&self.matrix.likelihood_labels[usize::from(l.rank() - 1)]))
                    .unwrap_or_default(),
                impact: r
                    .impact
                    .map(|i| printable(&self.matrix.impact_labels[usize::from(i.rank() - 1)]))
                    .unwrap_or_default(),
                basis: match r.basis {
                    Basis::Matrix => "matrix".into(),
                    Basis::Severity => "severity".into(),
                },
            },
        }
    }

    pub(super) fn assessment(&self, threat: &str) -> Option<&crate::analysis::ThreatAssessment> {
        self.analysis.threats.iter().find(|t| t.threat == threat)
    }

    pub(super) fn threat_risk(&self, threat: &str) -> RiskView {
        self.risk(self.assessment(threat).and_then(|a| a.risk.as_ref()))
    }

    pub(super) fn threat_status(&self, threat: &str) -> String {
        self.assessment(threat)
            .map_or(Residual::Open, |a| a.status)
            .as_str()
            .to_string()
    }

    pub(super) fn findings_about(&self, kind: ElementKind, id: &str) -> Vec<FindingView> {
        self.analysis
            .findings
            .iter()
            .filter(|f| {
                f.elements
                    .first()
                    .is_some_and(|e| e.kind == kind && e.id == id)
            })
            .map(|f| self.finding(f))
            .collect()
    }

    pub(super) fn finding(&self, f: &crate::analysis::Finding) -> FindingView {
        let mut elements: Vec<ItemRef> = Vec::new();
        for e in &f.elements {
            let r = self.element(e);
            if !elements.iter().any(|x| x.href == r.href) {
                elements.push(r);
            }
        }
        FindingView {
            code: f.code.as_str().into(),
            severity: f.severity.as_str().into(),
            message: printable(&f.message),
            message_parts: self.message_parts(&f.message, &elements),
            elements,
            risk: self.risk(f.risk.as_ref()),
            locations: self.location_links(&f.locations),
        }
    }

    /// A message cut at its backticks; a quoted id of one of `elements`, or of a declared
    /// component, boundary, threat or control, becomes that element's name.
    pub(super) fn message_parts(&self, message: &str, elements: &[ItemRef]) -> Vec<TextPart> {
        let pieces: Vec<&str> = message.split('`').collect();
        let mut parts = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            // Odd pieces are quoted, unless the last backtick is never closed.
            let quoted = i % 2 == 1;
            let closed = i + 1 < pieces.len();
            let part = if quoted && closed {
                match self.name_of_id(piece, elements) {
                    Some(name) => TextPart {
                        text: name,
                        code: false,
                    },
                    None => TextPart {
                        text: printable(piece),
                        code: true,
                    },
                }
            } else {
                let text = if quoted {
                    format!("`{piece}")
                } else {
                    piece.to_string()
                };
                TextPart {
                    text: printable(&text),
                    code: false,
                }
            };
            if !part.text.is_empty() {
                parts.push(part);
            }
        }
        parts
    }

    fn name_of_id(&self, id: &str, elements: &[ItemRef]) -> Option<String> {
        // A quoted name of an element the finding is about is prose, not code.
        if let Some(r) = elements.iter().find(|r| r.id == id || r.name == id) {
            return Some(r.name.clone());
        }
        let m = self.model;
        let name = m
            .component(id)
            .map(|x| &x.name)
            .or_else(|| m.boundary(id).map(|x| &x.name))
            .or_else(|| m.threat(id).map(|x| &x.name))
            .or_else(|| m.control(id).map(|x| &x.name));
        name.map(|n| printable(n))
    }

    pub(super) fn coverage(&self, c: &crate::analysis::Coverage) -> CoverageView {
        let letters = |s: &[Stride]| s.iter().map(|x| x.letter()).collect::<String>();
        CoverageView {
            element: self.element(&c.element),
            element_type: c.element_type,
            applicable: letters(&c.applicable),
            covered: letters(&c.covered),
            missing: letters(&c.missing),
            complete: c.missing.is_empty(),
        }
    }

    /// Ancestors of a boundary, outermost first (cycles and dangling parents cut).
    pub(super) fn boundary_ancestors(&self, id: &str) -> Vec<String> {
        let mut chain: Vec<String> = self.nesting.ancestors(id).map(str::to_string).collect();
        chain.reverse();
        chain
    }
}
