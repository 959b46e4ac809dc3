//! The report view model: what templates receive, documented in docs/templates.md.
//!
//! It is a public interface of its own, separate from `threatmodel.json`: templates see these
//! types, never the internal ones, so the model can evolve without breaking users' templates.
//! [`VIEW_VERSION`] is bumped when a field changes meaning or disappears; adding fields does not
//! bump it. Every field is always present (absent values are `null`, empty lists `[]`), so
//! templates work in handlebars' strict mode. Every list has a fixed order.
//!
//! Strings come out of [`escape::printable`] (no control or bidirectional characters) but are
//! otherwise raw: the template engine escapes them for the output format. The only markup in
//! the view is what threatmark itself generated (`diagram.svg`, `timeline.svg`,
//! `diagram.mermaid`), with every repository string inside it already escaped.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::escape::{self, printable};
use super::{layout, mermaid, svg};
use crate::analysis::{
    Analysis, Basis, CoverageTarget, ElementKind, ElementRef, Residual, Risk, RiskMatrix,
};
use crate::model::{Arrow, Band, ElementType, Nesting, Source, Stride, ThreatModel};
use crate::source_url::SourceUrl;

/// Bumped when a field of the view model changes meaning or disappears.
pub const VIEW_VERSION: u32 = 1;

/// Where links in the view point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// One document: `#anchor`.
    #[default]
    Anchors,
    /// The static site: pages relative to the site root (`threats/sqli.html`).
    Site,
}

/// One point of `threatmark history`, oldest first in [`Options::timeline`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelinePoint {
    pub commit: String,
    pub date: String,
    pub subject: String,
    pub threats: usize,
    pub exposed: usize,
    pub open: usize,
    pub accepted: usize,
    pub transferred: usize,
    pub mitigated: usize,
}

/// How to build the view.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Link template for sources; `None` renders `path:line` only.
    pub source_url: Option<SourceUrl>,
    /// What `{rev}` becomes.
    pub rev: String,
    /// Prepended to every path in `{path}`: the scan root's place in the repository (`""` or
    /// `docs/examples/shop/`).
    pub path_prefix: String,
    pub links: LinkMode,
    /// History points, oldest first; `None` leaves `timeline` null.
    pub timeline: Option<Vec<TimelinePoint>>,
}

// ---------------------------------------------------------------------------------------------
// The view types

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub view_version: u32,
    pub project: ProjectView,
    /// The date acceptances were checked against, or null (no expiry checks).
    pub analysis_date: Option<String>,
    /// True when `source_url` is configured and every source has a `url`.
    pub source_links: bool,
    pub summary: SummaryView,
    pub matrix: HeatMap,
    pub plan: Vec<PlanRow>,
    pub threats: Vec<ThreatView>,
    pub controls: Vec<ControlView>,
    pub components: Vec<ComponentView>,
    pub boundaries: Vec<BoundaryView>,
    /// Boundaries as a tree, depth first (outer before inner), each with its direct
    /// components; a last row with `boundary: null` holds components outside every boundary.
    pub outline: Vec<OutlineRow>,
    pub actors: Vec<ActorView>,
    pub flows: Vec<FlowView>,
    pub findings: Vec<FindingView>,
    pub coverage: Vec<CoverageView>,
    pub diagram: DiagramView,
    pub timeline: Option<TimelineView>,
    /// GuardLink's entitlements, assumptions and features.
    pub entitlements: Vec<EntitlementView>,
    pub assumptions: Vec<AssumptionView>,
    pub features: Vec<FeatureView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub name: String,
    pub description: String,
}

/// A link to a model element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRef {
    /// `component`, `boundary`, `threat`, `control`, `actor` or `flow`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    /// File-name-safe form of the id.
    pub slug: String,
    /// `kind-slug`: the element's id attribute in single-document reports.
    pub anchor: String,
    /// `#anchor` in reports; a path relative to the site root in the site.
    pub href: String,
    /// False when the element is only referenced, never declared.
    pub declared: bool,
}

/// Where an annotation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLink {
    pub path: String,
    pub line: u32,
    pub column: u32,
    /// `path:line`.
    pub label: String,
    /// The `source_url` link, or null.
    pub url: Option<String>,
    /// The annotation text as written.
    pub annotation: String,
}

/// A risk rating; unrated threats have `rated: false`, `score: 0`, `band: "unrated"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskView {
    pub rated: bool,
    pub score: u8,
    /// `critical`, `high`, `medium`, `low`, `very-low` or `unrated`.
    pub band: String,
    /// `20 critical` or `unrated`.
    pub label: String,
    /// Display label of the likelihood level (from `[risk]`), or `""`.
    pub likelihood: String,
    pub impact: String,
    /// `matrix`, `severity` or `""`.
    pub basis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub count: usize,
    /// Share of the largest count in its list, 0-100, for bars.
    pub percent: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BandCount {
    pub band: String,
    pub label: String,
    pub all: usize,
    pub open: usize,
    /// `all` as a share of the largest band, 0-100, for bars.
    pub percent: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryView {
    /// Elements per kind (components, boundaries, ...), in a fixed order, zeros included.
    pub counts: Vec<Count>,
    pub threats: usize,
    /// Threats that need work (exposed or open).
    pub open_threats: usize,
    /// Per residual status: exposed, open, accepted, transferred, mitigated.
    pub by_status: Vec<Count>,
    /// Open threats per band: critical .. very-low, unrated.
    pub open_by_band: Vec<Count>,
    /// All threats per band (the risk distribution).
    pub all_by_band: Vec<Count>,
    /// Per band: all threats and open ones, critical .. very-low, unrated.
    pub risk_distribution: Vec<BandCount>,
    pub crossings: usize,
    pub unguarded_crossings: usize,
    pub findings: usize,
    /// Findings per severity: error, warning, note.
    pub findings_by_severity: Vec<Count>,
    /// Findings per code (`TM101` ...), sorted by code.
    pub findings_by_code: Vec<Count>,
}

/// The likelihood x impact heat map, most likely row first.
#[derive(Debug, Clone, Serialize)]
pub struct HeatMap {
    /// Impact labels, left to right (negligible .. severe).
    pub impact_labels: Vec<String>,
    pub rows: Vec<HeatRow>,
    /// Threats rated on the matrix (threats rated by severity alone have no cell).
    pub rated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeatRow {
    pub likelihood: String,
    pub cells: Vec<HeatCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeatCell {
    pub likelihood: String,
    pub impact: String,
    pub score: u8,
    pub band: String,
    /// Threats in this cell (all statuses), by id.
    pub count: usize,
    pub threats: Vec<ItemRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub rank: usize,
    pub threat: ItemRef,
    pub status: String,
    pub risk: RiskView,
    /// Null renders as "unowned".
    pub owner: Option<String>,
    pub components: Vec<ItemRef>,
    pub candidate_controls: Vec<ItemRef>,
    pub locations: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrideView {
    pub letter: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One relation, seen from a threat, a control or a component.
#[derive(Debug, Clone, Serialize)]
pub struct RelationView {
    /// `mitigation`, `exposure`, `acceptance` or `transfer`.
    pub kind: &'static str,
    pub threat: ItemRef,
    /// The component (for a transfer: the one the threat moves away from).
    pub component: ItemRef,
    /// The control of a mitigation, else null.
    pub control: Option<ItemRef>,
    /// The receiving component of a transfer, else null.
    pub to: Option<ItemRef>,
    pub details: String,
    pub owner: Option<String>,
    pub ticket: Option<String>,
    pub expires: Option<String>,
    /// An acceptance past its expiry (only when an analysis date was given).
    pub expired: bool,
    /// An exposure's own rating (`[impact: ...]` on the `@exposes`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskView>,
    /// An exposure verified exploitable (GuardLink's `@confirmed`).
    pub confirmed: bool,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreatView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    pub stride: Vec<StrideView>,
    /// `TE`, or `""`.
    pub stride_letters: String,
    pub risk: RiskView,
    /// Residual status: exposed, open, accepted, transferred or mitigated.
    pub status: String,
    /// The threat's owner, else the one owner its components share; null when unowned.
    pub owner: Option<String>,
    pub actor: Option<ItemRef>,
    pub cwe: Vec<String>,
    pub capec: Vec<String>,
    pub ticket: Option<String>,
    pub expires: Option<String>,
    /// Unknown attributes, sorted by key.
    pub custom: Vec<KeyValue>,
    pub components: Vec<ItemRef>,
    /// Controls that mitigate the threat somewhere.
    pub controls: Vec<ItemRef>,
    /// Mitigations, exposures, acceptances and transfers, in that order.
    pub relations: Vec<RelationView>,
    /// Rank in the remediation plan, or null.
    pub plan_rank: Option<usize>,
    pub findings: Vec<FindingView>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    pub owner: Option<String>,
    pub threats: Vec<ItemRef>,
    pub components: Vec<ItemRef>,
    /// The mitigations that use this control.
    pub mitigations: Vec<RelationView>,
    /// Components whose tests cover this control.
    pub tests: Vec<TestView>,
    pub findings: Vec<FindingView>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestView {
    pub control: ItemRef,
    pub component: ItemRef,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@entitles ACTOR to capability on COMPONENT against THREAT`.
#[derive(Debug, Clone, Serialize)]
pub struct EntitlementView {
    pub actor: ItemRef,
    pub capability: String,
    pub component: Option<ItemRef>,
    pub threat: Option<ItemRef>,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@assumes COMPONENT -- "what"`.
#[derive(Debug, Clone, Serialize)]
pub struct AssumptionView {
    pub component: ItemRef,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@feature "Name"`: where a feature is implemented.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureView {
    pub name: String,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    pub details: String,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    /// `process`, `store`, `external`, or null when not declared.
    pub element_type: Option<String>,
    pub owner: Option<String>,
    /// Teams that own it (GuardLink's `@owns`).
    pub owners: Vec<String>,
    /// Classes of data it handles, most sensitive first (GuardLink's `@handles`).
    pub data: Vec<String>,
    /// Assumptions about it, and entitlements on it.
    pub assumptions: Vec<AssumptionView>,
    pub entitlements: Vec<EntitlementView>,
    pub parent: Option<ItemRef>,
    pub children: Vec<ItemRef>,
    /// The innermost boundary, or null.
    pub boundary: Option<ItemRef>,
    /// Enclosing boundaries, outermost first (the innermost is `boundary`).
    pub boundary_path: Vec<ItemRef>,
    /// Threats linked to the component, highest risk first.
    pub threats: Vec<ComponentThreat>,
    pub relations: Vec<RelationView>,
    /// Flows from or to the component.
    pub flows: Vec<FlowView>,
    pub reviews: Vec<ReviewView>,
    pub tests: Vec<TestView>,
    /// STRIDE coverage when the component is on a boundary crossing, else null.
    pub coverage: Option<CoverageView>,
    pub findings: Vec<FindingView>,
    pub sources: Vec<SourceLink>,
}

/// A threat as it applies to one component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentThreat {
    pub threat: ItemRef,
    /// The threat's residual status (over all its components).
    pub status: String,
    pub risk: RiskView,
    /// How this component deals with it: `mitigation`, `exposure`, `acceptance`, `transfer`.
    pub kinds: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundaryView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    pub parent: Option<ItemRef>,
    /// Enclosing boundaries, outermost first.
    pub path: Vec<ItemRef>,
    /// Nesting depth: 0 for an outermost boundary.
    pub depth: usize,
    /// Boundaries directly inside.
    pub boundaries: Vec<ItemRef>,
    /// Components whose innermost boundary this is.
    pub components: Vec<ItemRef>,
    /// Components inside, at any depth.
    pub all_components: Vec<ItemRef>,
    /// Flows that cross this boundary.
    pub crossings: Vec<FlowView>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutlineRow {
    pub depth: usize,
    /// Two spaces per level, for Markdown lists.
    pub indent: String,
    pub boundary: Option<ItemRef>,
    pub components: Vec<ItemRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActorView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    pub threats: Vec<ItemRef>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    #[serde(flatten)]
    pub item: ItemRef,
    /// 1-based; the number on the diagram.
    pub number: usize,
    pub source: ItemRef,
    pub target: ItemRef,
    pub bidirectional: bool,
    pub details: String,
    /// Crosses at least one trust boundary.
    pub crossing: bool,
    pub crosses: Vec<ItemRef>,
    /// A crossing with a control at either end (always true for flows that cross nothing).
    pub guarded: bool,
    pub controls: Vec<ItemRef>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub code: String,
    /// `error`, `warning` or `note`.
    pub severity: String,
    pub message: String,
    pub elements: Vec<ItemRef>,
    pub risk: RiskView,
    pub locations: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageView {
    pub element: ItemRef,
    /// `process`, `store`, `external` or `flow`.
    pub element_type: CoverageTarget,
    pub applicable: String,
    pub covered: String,
    pub missing: String,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiagramView {
    /// Mermaid `flowchart` source (no code fence).
    pub mermaid: String,
    /// Inline SVG drawn by threatmark; repository strings inside are escaped.
    pub svg: String,
    /// Boxes drawn: one per boundary.
    pub boundaries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineView {
    /// Oldest first.
    pub points: Vec<TimelinePoint>,
    /// Inline SVG chart drawn by threatmark.
    pub svg: String,
}

// ---------------------------------------------------------------------------------------------
// Building

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

struct Builder<'a> {
    model: &'a ThreatModel,
    /// The boundaries' nesting, shared with the diagram so both agree on a cycle.
    nesting: Nesting<'a>,
    analysis: &'a Analysis,
    matrix: &'a RiskMatrix,
    opts: &'a Options,
}

impl Builder<'_> {
    fn href(&self, kind: &str, slug: &str) -> String {
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

    fn item(&self, kind: &'static str, id: &str, name: Option<&str>, declared: bool) -> ItemRef {
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
    fn entity<X>(
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
    fn component(&self, id: &str) -> ItemRef {
        self.entity("component", id, self.model.component(id))
    }
    fn boundary(&self, id: &str) -> ItemRef {
        self.entity("boundary", id, self.model.boundary(id))
    }
    fn threat(&self, id: &str) -> ItemRef {
        self.entity("threat", id, self.model.threat(id))
    }
    fn control(&self, id: &str) -> ItemRef {
        self.entity("control", id, self.model.control(id))
    }
    fn actor(&self, id: &str) -> ItemRef {
        self.entity("actor", id, self.model.actor(id))
    }
    fn flow(&self, id: &str) -> ItemRef {
        let f = self.model.flows.iter().find(|f| f.id == id);
        let name = f.map(|f| self.model.flow_name(f, Arrow::Direction));
        self.item("flow", id, name.as_deref(), true)
    }

    /// An element of a finding. Exposures and acceptances link to their threat.
    fn element(&self, e: &ElementRef) -> ItemRef {
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

    fn entitlement(&self, e: &crate::model::Entitlement) -> EntitlementView {
        EntitlementView {
            actor: self.actor(&e.link.actor),
            capability: printable(&e.link.capability),
            component: e.link.component.as_deref().map(|c| self.component(c)),
            threat: e.link.threat.as_deref().map(|t| self.threat(t)),
            description: printable(&e.description),
            sources: self.sources(&e.sources),
        }
    }

    fn assumption(&self, a: &crate::model::Assumption) -> AssumptionView {
        AssumptionView {
            component: self.component(&a.link.component),
            description: printable(&a.description),
            sources: self.sources(&a.sources),
        }
    }

    fn sources(&self, sources: &[Source]) -> Vec<SourceLink> {
        let mut v: Vec<SourceLink> = sources
            .iter()
            .map(|s| self.link(&s.path, s.line, s.column, &s.annotation))
            .collect();
        v.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        v.dedup();
        v
    }

    fn link(&self, path: &str, line: u32, column: u32, annotation: &str) -> SourceLink {
        let label = if line == 0 {
            printable(path)
        } else {
            format!("{}:{line}", printable(path))
        };
        SourceLink {
            path: printable(path),
            line,
            column,
            label,
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

    fn location_links(&self, locs: &[crate::model::Location]) -> Vec<SourceLink> {
        locs.iter()
            .map(|l| {
                // The annotation text, when a source of some element is at this place.
                self.link(&l.path, l.line, l.column, "")
            })
            .collect()
    }

    fn risk(&self, risk: Option<&Risk>) -> RiskView {
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

    fn assessment(&self, threat: &str) -> Option<&crate::analysis::ThreatAssessment> {
        self.analysis.threats.iter().find(|t| t.threat == threat)
    }

    fn threat_risk(&self, threat: &str) -> RiskView {
        self.risk(self.assessment(threat).and_then(|a| a.risk.as_ref()))
    }

    fn threat_status(&self, threat: &str) -> String {
        self.assessment(threat)
            .map_or(Residual::Open, |a| a.status)
            .as_str()
            .to_string()
    }

    fn findings_about(&self, kind: ElementKind, id: &str) -> Vec<FindingView> {
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

    fn finding(&self, f: &crate::analysis::Finding) -> FindingView {
        FindingView {
            code: f.code.as_str().into(),
            severity: f.severity.as_str().into(),
            message: printable(&f.message),
            elements: f.elements.iter().map(|e| self.element(e)).collect(),
            risk: self.risk(f.risk.as_ref()),
            locations: self.location_links(&f.locations),
        }
    }

    fn relations(&self, keep: impl Fn(&str, &str, Option<&str>) -> bool) -> Vec<RelationView> {
        let m = self.model;
        let today = self.analysis.date;
        let mut out = Vec::new();
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
                    expires: x.attributes.expires.as_deref().map(printable),
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
                    expires: x.attributes.expires.as_deref().map(printable),
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
        for x in &m.acceptances {
            if keep(&x.link.threat, &x.link.component, None) {
                let expires = x.attributes.expires.clone().or_else(|| {
                    m.threat(&x.link.threat)
                        .and_then(|t| t.attributes.expires.clone())
                });
                let expired =
                    matches!((today, &expires), (Some(t), Some(e)) if crate::date::expired(e, t));
                out.push(RelationView {
                    kind: "acceptance",
                    threat: self.threat(&x.link.threat),
                    component: self.component(&x.link.component),
                    control: None,
                    to: None,
                    details: printable(&x.details),
                    owner: x.attributes.owner.as_deref().map(printable),
                    ticket: x.attributes.ticket.as_deref().map(printable),
                    expires: expires.as_deref().map(printable),
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
                    expires: x.attributes.expires.as_deref().map(printable),
                    expired: false,
                    risk: None,
                    confirmed: false,
                    sources: self.sources(&x.sources),
                });
            }
        }
        out
    }

    fn flows(&self) -> Vec<FlowView> {
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

    fn coverage(&self, c: &crate::analysis::Coverage) -> CoverageView {
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
    fn boundary_ancestors(&self, id: &str) -> Vec<String> {
        let mut chain: Vec<String> = self.nesting.ancestors(id).map(str::to_string).collect();
        chain.reverse();
        chain
    }
}

const STATUSES: [Residual; 5] = [
    Residual::Exposed,
    Residual::Open,
    Residual::Accepted,
    Residual::Transferred,
    Residual::Mitigated,
];

/// The bands from the highest down, then unrated (`None`): the order summaries list them in.
fn bands() -> impl Iterator<Item = Option<Band>> {
    Band::ALL.iter().rev().copied().map(Some).chain([None])
}

/// A band's key in summaries and CSS: its word, or `unrated`.
fn band_key(band: Option<Band>) -> &'static str {
    band.map_or("unrated", Band::as_str)
}

fn counts(items: Vec<(String, String, usize)>) -> Vec<Count> {
    let max = items.iter().map(|(_, _, n)| *n).max().unwrap_or(0);
    items
        .into_iter()
        .map(|(key, label, count)| Count {
            key,
            label,
            count,
            percent: (count * 100).checked_div(max).unwrap_or(0),
        })
        .collect()
}

fn band_label(band: Option<Band>) -> String {
    match band {
        Some(Band::VeryLow) => "very low".into(),
        b => band_key(b).into(),
    }
}

/// Build the view of a model and its analysis.
pub fn build(
    model: &ThreatModel,
    analysis: &Analysis,
    matrix: &RiskMatrix,
    opts: &Options,
) -> ReportView {
    let b = Builder {
        model,
        nesting: model.boundary_nesting(),
        analysis,
        matrix,
        opts,
    };
    let flows = b.flows();
    let s = &analysis.summary;

    // Summary.
    let all_band = |band: Option<Band>| {
        analysis
            .threats
            .iter()
            .filter(|t| t.risk.as_ref().map(|r| r.band) == band)
            .count()
    };
    let sev_count = |sev: &str| {
        analysis
            .findings
            .iter()
            .filter(|f| f.severity.as_str() == sev)
            .count()
    };
    let summary = SummaryView {
        counts: counts(
            model
                .counts()
                .into_iter()
                .map(|(k, n)| {
                    let label = match (k, n) {
                        ("boundaries", 1) => "boundary".to_string(),
                        (k, 1) => k.strip_suffix('s').unwrap_or(k).to_string(),
                        (k, _) => k.to_string(),
                    };
                    (k.to_string(), label, n)
                })
                .collect(),
        ),
        threats: s.threats,
        open_threats: analysis
            .threats
            .iter()
            .filter(|t| t.status.is_open())
            .count(),
        by_status: counts(
            STATUSES
                .iter()
                .map(|r| {
                    (
                        r.as_str().to_string(),
                        r.as_str().to_string(),
                        s.by_status.get(r.as_str()).copied().unwrap_or(0),
                    )
                })
                .collect(),
        ),
        open_by_band: counts(
            bands()
                .map(|band| {
                    (
                        band_key(band).to_string(),
                        band_label(band),
                        s.open_by_band.get(band_key(band)).copied().unwrap_or(0),
                    )
                })
                .collect(),
        ),
        all_by_band: counts(
            bands()
                .map(|band| (band_key(band).to_string(), band_label(band), all_band(band)))
                .collect(),
        ),
        risk_distribution: {
            let max = bands().map(all_band).max().unwrap_or(0);
            bands()
                .map(|band| {
                    let all = all_band(band);
                    BandCount {
                        band: band_key(band).to_string(),
                        label: band_label(band),
                        all,
                        open: s.open_by_band.get(band_key(band)).copied().unwrap_or(0),
                        percent: (all * 100).checked_div(max).unwrap_or(0),
                    }
                })
                .collect()
        },
        crossings: s.crossings,
        unguarded_crossings: s.unguarded_crossings,
        findings: analysis.findings.len(),
        findings_by_severity: counts(
            ["error", "warning", "note"]
                .iter()
                .map(|k| (k.to_string(), k.to_string(), sev_count(k)))
                .collect(),
        ),
        findings_by_code: counts(
            s.findings_by_code
                .iter()
                .map(|(k, n)| (printable(k), printable(k), *n))
                .collect(),
        ),
    };

    // Heat map: rows from the most likely level down.
    let mut cells: BTreeMap<(u8, u8), Vec<ItemRef>> = BTreeMap::new();
    for t in &analysis.threats {
        if let Some(Risk {
            likelihood: Some(l),
            impact: Some(i),
            basis: Basis::Matrix,
            ..
        }) = &t.risk
        {
            cells
                .entry((l.rank(), i.rank()))
                .or_default()
                .push(b.threat(&t.threat));
        }
    }
    let rated = cells.values().map(Vec::len).sum();
    let rows = (1..=5u8)
        .rev()
        .map(|l| {
            let likelihood = printable(&matrix.likelihood_labels[usize::from(l - 1)]);
            HeatRow {
                likelihood: likelihood.clone(),
                cells: (1..=5u8)
                    .map(|i| {
                        let score = matrix.scores[usize::from(l - 1)][usize::from(i - 1)];
                        let threats = cells.get(&(l, i)).cloned().unwrap_or_default();
                        HeatCell {
                            likelihood: likelihood.clone(),
                            impact: printable(&matrix.impact_labels[usize::from(i - 1)]),
                            score,
                            band: matrix.band(score).as_str().into(),
                            count: threats.len(),
                            threats,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let heat = HeatMap {
        impact_labels: matrix.impact_labels.iter().map(|l| printable(l)).collect(),
        rows,
        rated,
    };

    // Plan.
    let plan: Vec<PlanRow> = analysis
        .plan
        .iter()
        .map(|p| PlanRow {
            rank: p.rank,
            threat: b.threat(&p.threat),
            status: p.status.as_str().into(),
            risk: b.risk(p.risk.as_ref()),
            owner: p.owner.as_deref().map(printable),
            components: p.components.iter().map(|c| b.component(c)).collect(),
            candidate_controls: p.candidate_controls.iter().map(|c| b.control(c)).collect(),
            locations: b.location_links(&p.locations),
        })
        .collect();
    let ranks: BTreeMap<&str, usize> = analysis
        .plan
        .iter()
        .map(|p| (p.threat.as_str(), p.rank))
        .collect();

    // Threats.
    let threats: Vec<ThreatView> = model
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
                expires: t.attributes.expires.as_deref().map(printable),
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
        .collect();

    // Controls.
    let controls: Vec<ControlView> = model
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
        .collect();

    // Components.
    let coverage_of: BTreeMap<&str, &crate::analysis::Coverage> = analysis
        .coverage
        .iter()
        .filter(|c| c.element.kind == ElementKind::Component)
        .map(|c| (c.element.id.as_str(), c))
        .collect();
    let components: Vec<ComponentView> = model
        .components
        .iter()
        .map(|c| {
            let relations = b.relations(|_, comp, _| comp == c.id);
            let mut linked: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
            for r in &relations {
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
            let boundary_path = match &c.extra.boundary {
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
            };
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
                coverage: coverage_of.get(c.id.as_str()).map(|x| b.coverage(x)),
                findings: b.findings_about(ElementKind::Component, &c.id),
                sources: b.sources(&c.sources),
            }
        })
        .collect();

    // Boundaries.
    let boundaries: Vec<BoundaryView> = model
        .boundaries
        .iter()
        .map(|bd| {
            let path: Vec<ItemRef> = b
                .boundary_ancestors(&bd.id)
                .iter()
                .map(|x| b.boundary(x))
                .collect();
            let inside: Vec<ItemRef> = model
                .components
                .iter()
                .filter(|c| {
                    c.extra
                        .boundary
                        .as_deref()
                        .is_some_and(|x| x == bd.id || b.nesting.ancestors(x).any(|a| a == bd.id))
                })
                .map(|c| b.component(&c.id))
                .collect();
            let mut direct: Vec<&str> = bd.extra.components.iter().map(String::as_str).collect();
            direct.extend(
                model
                    .components
                    .iter()
                    .filter(|c| c.extra.boundary.as_deref() == Some(bd.id.as_str()))
                    .map(|c| c.id.as_str()),
            );
            let direct: BTreeSet<&str> = direct.into_iter().collect();
            BoundaryView {
                item: b.boundary(&bd.id),
                description: printable(&bd.description),
                parent: bd.extra.parent.as_deref().map(|p| b.boundary(p)),
                depth: path.len(),
                path,
                boundaries: model
                    .boundaries
                    .iter()
                    .filter(|x| x.extra.parent.as_deref() == Some(bd.id.as_str()))
                    .map(|x| b.boundary(&x.id))
                    .collect(),
                components: direct.into_iter().map(|c| b.component(c)).collect(),
                all_components: inside,
                crossings: flows
                    .iter()
                    .filter(|f| f.crosses.iter().any(|x| x.id == bd.id))
                    .cloned()
                    .collect(),
                sources: b.sources(&bd.sources),
            }
        })
        .collect();

    let actors = model
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
        .collect();

    let mut outline = Vec::new();
    fn walk(g: &layout::Group, depth: usize, b: &Builder<'_>, out: &mut Vec<OutlineRow>) {
        for sub in &g.groups {
            if let Some(id) = &sub.boundary {
                let mut comps = sub.components.clone();
                comps.sort();
                out.push(OutlineRow {
                    depth,
                    indent: "  ".repeat(depth),
                    boundary: Some(b.boundary(id)),
                    components: comps.iter().map(|c| b.component(c)).collect(),
                });
                walk(sub, depth + 1, b, out);
            }
        }
    }
    let tree = layout::containment(model);
    walk(&tree, 0, &b, &mut outline);
    if !tree.components.is_empty() {
        let mut comps = tree.components.clone();
        comps.sort();
        outline.push(OutlineRow {
            depth: 0,
            indent: String::new(),
            boundary: None,
            components: comps.iter().map(|c| b.component(c)).collect(),
        });
    }

    let lay = layout::layout(model, analysis);
    let svg_links = match opts.links {
        LinkMode::Anchors => svg::Links::Anchors,
        LinkMode::Site => svg::Links::Site,
    };
    let diagram = DiagramView {
        mermaid: mermaid::render(model, analysis),
        svg: svg::diagram(&lay, svg_links),
        boundaries: lay.boundaries.len(),
    };
    let timeline = opts.timeline.as_ref().map(|points| TimelineView {
        svg: svg::timeline(points),
        points: points
            .iter()
            .map(|p| TimelinePoint {
                subject: printable(&p.subject),
                commit: printable(&p.commit),
                date: printable(&p.date),
                ..p.clone()
            })
            .collect(),
    });

    ReportView {
        view_version: VIEW_VERSION,
        project: ProjectView {
            name: printable(&model.project.name),
            description: printable(&model.project.description),
        },
        analysis_date: analysis.date.map(|d| d.to_string()),
        source_links: opts.source_url.is_some(),
        summary,
        matrix: heat,
        plan,
        threats,
        controls,
        components,
        boundaries,
        outline,
        actors,
        flows,
        findings: analysis.findings.iter().map(|f| b.finding(f)).collect(),
        coverage: analysis.coverage.iter().map(|c| b.coverage(c)).collect(),
        diagram,
        timeline,
        entitlements: model
            .entitlements
            .iter()
            .map(|e| b.entitlement(e))
            .collect(),
        assumptions: model.assumptions.iter().map(|a| b.assumption(a)).collect(),
        features: model
            .features
            .iter()
            .map(|f| FeatureView {
                name: printable(&f.link.name),
                description: printable(&f.description),
                sources: b.sources(&f.sources),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written model (as `report --model` reads it) whose boundaries nest in a cycle
    /// (`a` ⇄ `b`, `c` below it), beside a sound chain (`e` in `d`) and a dangling parent (`f`
    /// in a missing `ghost`); components hang in a cycle too (`p` ⇄ `q`, `r` below).
    fn cyclic_model() -> ThreatModel {
        let boundary = |id: &str, parent: Option<&str>| {
            let mut b = serde_json::json!({"id": id, "name": id, "components": [], "sources": []});
            if let Some(p) = parent {
                b["parent"] = p.into();
            }
            b
        };
        let component = |id: &str, parent: Option<&str>, boundary: Option<&str>| {
            let mut c = serde_json::json!({"id": id, "name": id, "sources": []});
            if let Some(p) = parent {
                c["parent"] = p.into();
            }
            if let Some(b) = boundary {
                c["boundary"] = b.into();
            }
            c
        };
        let json = serde_json::json!({
            "schema_version": 1, "project": {"name": "p"},
            "components": [
                component("p", Some("q"), None),
                component("q", Some("p"), None),
                component("r", Some("p"), Some("c")),
                component("s", None, Some("e")),
                component("t", None, Some("f")),
            ],
            "boundaries": [
                boundary("a", Some("b")),
                boundary("b", Some("a")),
                boundary("c", Some("a")),
                boundary("d", None),
                boundary("e", Some("d")),
                boundary("f", Some("ghost")),
            ],
            "actors": [], "threats": [{"id": "x", "name": "x", "sources": []}],
            "controls": [], "mitigations": [],
            "exposures": [{"id": "x1", "threat": "x", "component": "r", "sources": []}],
            "acceptances": [], "transfers": [], "flows": [], "reviews": [], "tests": [],
        });
        crate::model::from_json(&json.to_string()).expect("model")
    }

    /// Each boundary's chain of enclosing boundaries (outermost first) in the diagram's tree.
    fn diagram_chains(model: &ThreatModel) -> BTreeMap<String, Vec<String>> {
        fn walk(g: &layout::Group, above: &[String], out: &mut BTreeMap<String, Vec<String>>) {
            for sub in &g.groups {
                let mut chain = above.to_vec();
                if let Some(id) = &sub.boundary {
                    out.insert(id.clone(), above.to_vec());
                    chain.push(id.clone());
                }
                walk(sub, &chain, out);
            }
        }
        let mut out = BTreeMap::new();
        walk(&layout::containment(model), &[], &mut out);
        out
    }

    /// The view's boundary paths, the components' boundary paths and the diagram's nesting
    /// agree on a cycle and on a dangling parent: they walk the same [`Nesting`].
    #[test]
    fn a_boundary_cycle_nests_alike_in_the_view_and_the_diagram() {
        let model = cyclic_model();
        let matrix = RiskMatrix::default();
        let analysis = crate::analysis::analyze(&model, &matrix, None);
        let opts = Options {
            source_url: None,
            rev: String::new(),
            path_prefix: String::new(),
            links: LinkMode::Anchors,
            timeline: None,
        };
        let view = build(&model, &analysis, &matrix, &opts);
        let diagram = diagram_chains(&model);
        let ids = |refs: &[ItemRef]| refs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        for b in &view.boundaries {
            assert_eq!(
                Some(&ids(&b.path)),
                diagram.get(&b.item.id),
                "{}",
                b.item.id
            );
        }
        for c in &view.components {
            let Some(own) = model
                .component(&c.item.id)
                .and_then(|x| x.extra.boundary.clone())
            else {
                continue;
            };
            let mut expected = diagram.get(&own).cloned().unwrap_or_default();
            expected.push(own);
            assert_eq!(ids(&c.boundary_path), expected, "{}", c.item.id);
        }
        assert_eq!(diagram["c"], Vec::<String>::new());
        assert_eq!(diagram["e"], vec!["d".to_string()]);
    }

    /// The analysis walks the components' parents with the same [`Nesting`]: a component is
    /// "without threats" exactly when neither it nor anything the shared walk puts below it is
    /// linked to a threat. `r` hangs below the cycle `p` ⇄ `q`, so it is outermost.
    #[test]
    fn a_component_cycle_is_cut_as_the_shared_walk_cuts_it() {
        let model = cyclic_model();
        let analysis = crate::analysis::analyze(&model, &RiskMatrix::default(), None);
        let nesting = model.component_nesting();
        assert_eq!(nesting.ancestors("r").count(), 0);
        let covered: BTreeSet<&str> = std::iter::once("r").chain(nesting.ancestors("r")).collect();
        let without: BTreeSet<&str> = analysis
            .findings
            .iter()
            .filter(|f| f.code == crate::diagnostic::Code::ComponentWithoutThreats)
            .filter_map(|f| f.elements.first().map(|e| e.id.as_str()))
            .collect();
        for c in &model.components {
            let id = c.id.as_str();
            assert_eq!(without.contains(id), !covered.contains(id), "{id}");
        }
    }
}
