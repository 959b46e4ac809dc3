//! The component and flow sections: each component with its threats, relations, nesting,
//! flows, coverage and findings.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::analysis::{Coverage, ElementKind};
use crate::model::{Component, ElementType};
use crate::render::escape::printable;

impl Builder<'_> {
    pub(super) fn flows(&self) -> Vec<FlowView> {
        let crossings: BTreeMap<&str, &crate::analysis::Crossing> = self
            .analysis
            .crossings
            .iter()
            .map(|c| (c.flow.as_str(), c))
            .collect();
        self.model
            .flows
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let c = crossings.get(f.id.as_str());
                FlowView {
                    item: self.flow(&f.id),
                    number: n + 1,
                    source: self.component(&f.link.source),
                    target: self.component(&f.link.target),
                    bidirectional: f.link.bidirectional,
                    details: printable(&f.details),
                    crossing: f.link.is_crossing(),
                    crosses: f.link.crosses.iter().map(|b| self.boundary(b)).collect(),
                    guarded: c.is_none_or(|c| c.guarded),
                    controls: c
                        .map(|c| c.controls.iter().map(|x| self.control(x)).collect())
                        .unwrap_or_default(),
                    sources: self.sources(&f.sources),
                }
            })
            .collect()
    }

    /// Every component, with the flows that start or end at it.
    pub(super) fn components(&self, flows: &[FlowView]) -> Vec<ComponentView> {
        let privacy: BTreeMap<String, crate::analysis::suggest::PrivacyCoverage> =
            crate::analysis::suggest::linddun_coverage(self.model)
                .into_iter()
                .map(|p| (p.component.clone(), p))
                .collect();
        let coverage_of: BTreeMap<&str, &Coverage> = self
            .analysis
            .coverage
            .iter()
            .filter(|c| c.element.kind == ElementKind::Component)
            .map(|c| (c.element.id.as_str(), c))
            .collect();
        self.model
            .components
            .iter()
            .map(|c| {
                let mut v = self.component_view(c, coverage_of.get(c.id.as_str()).copied(), flows);
                v.linddun = privacy.get(&c.id).map(linddun_view);
                v.suggested = self
                    .opts
                    .suggested
                    .iter()
                    .filter(|s| s.component == c.id)
                    .map(suggested_view)
                    .collect();
                v
            })
            .collect()
    }

    /// The threats a component's relations name, the riskiest first.
    fn component_threats(&self, relations: &[RelationView]) -> Vec<ComponentThreat> {
        let (model, b) = (self.model, self);
        let mut linked: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
        for r in relations {
            if let Some(t) = model.threat(&r.threat.id) {
                linked.entry(t.id.as_str()).or_default().insert(r.kind);
            } else {
                // Referenced but undeclared threats keep their raw id.
                linked
                    .entry(r.threat.id.as_str())
                    .or_default()
                    .insert(r.kind);
            }
        }
        let mut threats: Vec<ComponentThreat> = linked
            .into_iter()
            .map(|(t, kinds)| ComponentThreat {
                threat: b.threat(t),
                status: b.threat_status(t),
                risk: b.threat_risk(t),
                kinds: kinds.into_iter().collect(),
            })
            .collect();
        threats.sort_by(|x, y| {
            (std::cmp::Reverse(x.risk.score), &x.threat.id)
                .cmp(&(std::cmp::Reverse(y.risk.score), &y.threat.id))
        });
        threats
    }

    /// The boundaries around a component, outermost first.
    fn boundary_path(&self, c: &Component) -> Vec<ItemRef> {
        let b = self;
        match &c.extra.boundary {
            Some(bd) => {
                let mut p: Vec<ItemRef> = b
                    .boundary_ancestors(bd)
                    .iter()
                    .map(|x| b.boundary(x))
                    .collect();
                p.push(b.boundary(bd));
                p
            }
            None => Vec::new(),
        }
    }

    fn component_view(
        &self,
        c: &Component,
        coverage: Option<&Coverage>,
        flows: &[FlowView],
    ) -> ComponentView {
        let (model, b) = (self.model, self);
        let relations = b.relations(|_, comp, _| comp == c.id);
        let threats = self.component_threats(&relations);
        let boundary_path = self.boundary_path(c);
        ComponentView {
            item: b.component(&c.id),
            description: printable(&c.description),
            element_type: c
                .attributes
                .element_type
                .map(|t| ElementType::as_str(t).to_string()),
            owner: c.attributes.owner.as_deref().map(printable),
            owners: c.extra.owners.iter().map(|o| printable(o)).collect(),
            data: c
                .extra
                .data
                .iter()
                .map(|d| d.as_str().to_string())
                .collect(),
            assumptions: model
                .assumptions
                .iter()
                .filter(|a| a.link.component == c.id)
                .map(|a| b.assumption(a))
                .collect(),
            entitlements: model
                .entitlements
                .iter()
                .filter(|e| e.link.component.as_deref() == Some(c.id.as_str()))
                .map(|e| b.entitlement(e))
                .collect(),
            parent: c.extra.parent.as_deref().map(|p| b.component(p)),
            children: model
                .components
                .iter()
                .filter(|x| x.extra.parent.as_deref() == Some(c.id.as_str()))
                .map(|x| b.component(&x.id))
                .collect(),
            boundary: c.extra.boundary.as_deref().map(|x| b.boundary(x)),
            boundary_path,
            threats,
            relations,
            flows: flows
                .iter()
                .filter(|f| f.source.id == c.id || f.target.id == c.id)
                .cloned()
                .collect(),
            reviews: model
                .reviews
                .iter()
                .filter(|r| r.link.component == c.id)
                .map(|r| ReviewView {
                    details: printable(&r.details),
                    sources: b.sources(&r.sources),
                })
                .collect(),
            tests: model
                .tests
                .iter()
                .filter(|t| t.link.component == c.id)
                .map(|t| TestView {
                    control: b.control(&t.link.control),
                    component: b.component(&t.link.component),
                    sources: b.sources(&t.sources),
                })
                .collect(),
            coverage: coverage.map(|x| b.coverage(x)),
            linddun: None,
            suggested: Vec::new(),
            findings: b.findings_about(ElementKind::Component, &c.id),
            sources: b.sources(&c.sources),
        }
    }
}

fn letters(list: &[crate::model::Linddun]) -> String {
    list.iter()
        .map(|l| l.letter())
        .collect::<Vec<_>>()
        .join(", ")
}

fn linddun_view(p: &crate::analysis::suggest::PrivacyCoverage) -> LinddunView {
    LinddunView {
        covered: letters(&p.covered),
        missing: letters(&p.missing),
        complete: p.missing.is_empty(),
    }
}

/// Texts from the repository and from user rule files are made printable here; the templates
/// escape them for HTML or Markdown.
fn suggested_view(s: &crate::analysis::suggest::Suggestion) -> SuggestedView {
    SuggestedView {
        rule: printable(&s.rule),
        title: printable(&s.title),
        element: format!("{} {}", s.element.kind, printable(&s.element.name)),
        stride: s
            .stride
            .iter()
            .map(|x| x.letter().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        linddun: printable(&s.linddun).replace(',', ", "),
        ids: s.cwe.iter().chain(&s.capec).map(|x| printable(x)).collect(),
        band: s.band.to_string(),
        score: s.score,
        rationale: printable(&s.rationale),
        controls: s.controls.iter().map(|x| printable(x)).collect(),
        annotation: s.annotation.iter().map(|x| printable(x)).collect(),
        paste: s
            .annotation
            .iter()
            .map(|x| {
                let x = printable(x);
                // A code span cannot hold a backtick, nor (no raw HTML) `<`, `>` or `&`.
                if x.contains(['`', '<', '>', '&']) {
                    x
                } else {
                    format!("`{x}`")
                }
            })
            .collect(),
        dismissed: s.dismissed.as_deref().map(printable),
        dismissed_at: s.dismissed_at.as_deref().map(printable),
    }
}
