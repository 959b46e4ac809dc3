//! Analysis: what the model means for a team. Risk, residual status, boundary crossings,
//! STRIDE-per-element coverage, findings and a ranked remediation plan.
//!
//! Pure: model, matrix and (optionally) today's date in; [`Analysis`] out. The copy embedded in
//! threatmodel.json is computed without a date, so the file never changes with the calendar;
//! `threatmark analyze` and `check` pass a date and then report expired acceptances.
//!
//! Linear in the model: relations are indexed once per analysis (by threat, by component, by
//! control and by flow id), so no step scans every relation for each element; a repository
//! decides how many there are.
//!
//! @control Indexed relations (#linear_analysis): the build, the analysis, `diff` and the analyze table look relations up in indexes built once (by threat, component, control and flow id) instead of scanning every relation per element, and reference columns are counted once along a line
//! @mitigates #builder against #model_bomb with #linear_analysis
//! @mitigates #gate against #model_bomb with #linear_analysis
//!
//! @threat Ignored exposure rating (#ignored_rating) [stride: T,R; likelihood: possible; impact: moderate; owner: @threatmark-maintainers]:
//! a rating written on an `@exposes` (or a relation that rates nothing) is silently dropped, so a critical exposure of a low-rated threat passes the gate as a note
//! @control Exposure ratings (#rated_exposures): an exposure's own likelihood, impact or severity rates it (TM101, the plan, reports, SARIF); a rating on a relation that rates nothing is a TM002 warning
//! @mitigates #gate against #ignored_rating with #rated_exposures

pub mod risk;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use risk::{Basis, MatrixError, Risk, RiskMatrix};

use crate::date::{self, Date};
use crate::diagnostic::{Code, Severity};
use crate::model::{Band, ElementType, Entity, Location, Source, Stride, ThreatModel};

/// The residual status of a threat, derived from its relations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Residual {
    /// At least one exposure is not covered by a mitigation, a valid acceptance or a transfer.
    Exposed,
    /// Declared but linked to nothing: nobody has said where it applies.
    Open,
    /// Every exposure covered, at least one only by an acceptance.
    Accepted,
    /// Every exposure covered, at least one only by a transfer.
    Transferred,
    /// Every exposure mitigated (or no exposure and at least one mitigation).
    Mitigated,
}

impl Residual {
    pub fn as_str(self) -> &'static str {
        match self {
            Residual::Exposed => "exposed",
            Residual::Open => "open",
            Residual::Accepted => "accepted",
            Residual::Transferred => "transferred",
            Residual::Mitigated => "mitigated",
        }
    }

    /// Needs work: goes into the remediation plan.
    pub fn is_open(self) -> bool {
        matches!(self, Residual::Exposed | Residual::Open)
    }
}

/// What kind of element a finding or coverage row is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    Component,
    Boundary,
    Actor,
    Threat,
    Control,
    Flow,
    Exposure,
    Acceptance,
}

/// The severity of an unmitigated exposure follows its risk band: critical and high are
/// errors, medium (and unrated) a warning, lower a note.
pub fn exposure_severity(risk: Option<&Risk>) -> Severity {
    match risk.map(|r| r.band) {
        Some(Band::Critical | Band::High) => Severity::Error,
        Some(Band::Medium) | None => Severity::Warning,
        Some(_) => Severity::Note,
    }
}

/// A reference to a model element.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ElementRef {
    pub kind: ElementKind,
    pub id: String,
}

impl ElementRef {
    fn new(kind: ElementKind, id: &str) -> Self {
        Self {
            kind,
            id: id.to_string(),
        }
    }
}

/// The assessment of one threat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ThreatAssessment {
    pub threat: String,
    pub status: Residual,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Components the threat applies to (exposed, mitigated, accepted or transferred).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// A flow that crosses at least one trust boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Crossing {
    pub flow: String,
    pub source: String,
    pub target: String,
    pub crosses: Vec<String>,
    /// Some control mitigates a threat on the source or the target.
    pub guarded: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
}

/// STRIDE coverage of one element touched by a crossing flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Coverage {
    pub element: ElementRef,
    /// `process`, `store`, `external` or `flow`.
    #[schemars(with = "String")]
    pub element_type: CoverageTarget,
    pub applicable: Vec<Stride>,
    pub covered: Vec<Stride>,
    pub missing: Vec<Stride>,
}

/// What a coverage row is about: a component of some type (untyped ones count as processes),
/// or a flow. Written as the words `process`, `store`, `external` and `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum CoverageTarget {
    Element(ElementType),
    Flow,
}

impl CoverageTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageTarget::Element(t) => t.as_str(),
            CoverageTarget::Flow => "flow",
        }
    }
}

impl From<CoverageTarget> for &'static str {
    fn from(t: CoverageTarget) -> Self {
        t.as_str()
    }
}

impl TryFrom<String> for CoverageTarget {
    type Error = String;

    /// Only the words written by [`CoverageTarget::as_str`]; no aliases.
    fn try_from(s: String) -> Result<Self, String> {
        ElementType::ALL
            .iter()
            .map(|t| CoverageTarget::Element(*t))
            .chain([CoverageTarget::Flow])
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown coverage element type `{s}`"))
    }
}

impl std::fmt::Display for CoverageTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, with a stable code and the elements and places involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub elements: Vec<ElementRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
}

/// One row of the remediation plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanItem {
    pub rank: usize,
    pub threat: String,
    pub name: String,
    pub status: Residual,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// `None` renders as "unowned".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub components: Vec<String>,
    /// Declared controls that mitigate this threat somewhere else in the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidate_controls: Vec<String>,
    pub locations: Vec<Location>,
}

/// The matrix as reports draw it: labels, cell scores and bands, and how many open threats sit
/// in each cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixView {
    pub likelihood: Vec<String>,
    pub impact: Vec<String>,
    /// `scores[likelihood][impact]`, likelihood from rare to certain.
    pub scores: Vec<Vec<u8>>,
    pub bands: Vec<Vec<Band>>,
    /// Threats rated on the matrix, per cell (all statuses).
    pub threats: Vec<Vec<usize>>,
}

/// Counts for summaries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub threats: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Open (exposed or unaddressed) threats per risk band, plus `unrated`.
    pub open_by_band: BTreeMap<String, usize>,
    pub crossings: usize,
    pub unguarded_crossings: usize,
    pub findings_by_code: BTreeMap<String, usize>,
}

/// Everything the analysis computes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Analysis {
    /// The date expiries were checked against; absent in threatmodel.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub date: Option<Date>,
    pub summary: Summary,
    pub matrix: MatrixView,
    pub threats: Vec<ThreatAssessment>,
    pub crossings: Vec<Crossing>,
    pub coverage: Vec<Coverage>,
    pub plan: Vec<PlanItem>,
    pub findings: Vec<Finding>,
}

/// STRIDE per element (Microsoft's chart, as Threat Dragon uses it).
pub fn applicable(element: Option<ElementType>) -> &'static [Stride] {
    use Stride::*;
    match element {
        None | Some(ElementType::Process) => &Stride::ALL,
        Some(ElementType::Store) => &[
            Tampering,
            Repudiation,
            InformationDisclosure,
            DenialOfService,
        ],
        Some(ElementType::External) => &[Spoofing, Repudiation],
    }
}

/// The applicable set of a data flow.
pub const FLOW_STRIDE: &[Stride] = &[
    Stride::Tampering,
    Stride::InformationDisclosure,
    Stride::DenialOfService,
];

fn locations(sources: &[Source]) -> Vec<Location> {
    sources.iter().map(Source::location).collect()
}

/// `` `a`, `b` `` for messages.
fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Analyse a model. `today` (`YYYY-MM-DD`) enables expiry checks.
pub fn analyze(model: &ThreatModel, matrix: &RiskMatrix, today: Option<Date>) -> Analysis {
    let mut by_threat: BTreeMap<&str, Links<'_>> = BTreeMap::new();
    for x in &model.exposures {
        by_threat
            .entry(&x.link.threat)
            .or_default()
            .exposures
            .push(x);
    }
    for x in &model.mitigations {
        by_threat
            .entry(&x.link.threat)
            .or_default()
            .mitigations
            .push(x);
    }
    for x in &model.acceptances {
        by_threat
            .entry(&x.link.threat)
            .or_default()
            .acceptances
            .push(x);
    }
    for x in &model.transfers {
        by_threat
            .entry(&x.link.threat)
            .or_default()
            .transfers
            .push(x);
    }
    let index = Index::of(model);
    let mut a = Analyzer {
        model,
        matrix,
        today,
        by_threat: &by_threat,
        index: &index,
        findings: Vec::new(),
        uncovered: Vec::new(),
        open_risk: Vec::new(),
    };
    let threats = a.assess_threats();
    let crossings = a.crossings();
    let coverage = a.coverage(&crossings);
    let plan = a.plan(&threats);
    a.hygiene(&threats);
    let mut findings = a.findings;
    sort_findings(&mut findings);

    let mut summary = Summary {
        threats: threats.len(),
        crossings: crossings.len(),
        unguarded_crossings: crossings.iter().filter(|c| !c.guarded).count(),
        ..Summary::default()
    };
    for t in &threats {
        *summary
            .by_status
            .entry(t.status.as_str().into())
            .or_default() += 1;
        if t.status.is_open() {
            let band = t.risk.as_ref().map_or("unrated", |r| r.band.as_str());
            *summary.open_by_band.entry(band.into()).or_default() += 1;
        }
    }
    for f in &findings {
        *summary
            .findings_by_code
            .entry(f.code.as_str().into())
            .or_default() += 1;
    }
    let mut cells = vec![vec![0usize; 5]; 5];
    for t in &threats {
        if let Some(Risk {
            likelihood: Some(l),
            impact: Some(i),
            basis: Basis::Matrix,
            ..
        }) = &t.risk
        {
            cells[usize::from(l.rank() - 1)][usize::from(i.rank() - 1)] += 1;
        }
    }
    let view = MatrixView {
        likelihood: matrix.likelihood_labels.to_vec(),
        impact: matrix.impact_labels.to_vec(),
        scores: matrix.scores.iter().map(|r| r.to_vec()).collect(),
        bands: matrix
            .scores
            .iter()
            .map(|r| r.iter().map(|s| matrix.band(*s)).collect())
            .collect(),
        threats: cells,
    };
    Analysis {
        date: today,
        summary,
        matrix: view,
        threats,
        crossings,
        coverage,
        plan,
        findings,
    }
}

/// By code, then by risk (highest first, unrated last), then by threat id as the plan breaks
/// ties, then by the elements involved; stable. Sorted on borrowed keys and put in order in
/// place: the order `sort_by_cached_key` gave, without a copy of every finding's elements
/// (three findings per threat in a model of 10,000 threats).
fn sort_findings(findings: &mut [Finding]) {
    fn key(f: &Finding) -> (Code, std::cmp::Reverse<Option<u8>>, Option<&str>) {
        let threat = f
            .elements
            .iter()
            .find(|e| e.kind == ElementKind::Threat)
            .map(|e| e.id.as_str());
        (
            f.code,
            std::cmp::Reverse(f.risk.as_ref().map(|r| r.score)),
            threat,
        )
    }
    let mut keyed: Vec<_> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| (key(f), f.elements.as_slice(), i))
        .collect();
    // The position breaks ties: stable.
    keyed.sort_unstable();
    let order: Vec<usize> = keyed.into_iter().map(|(.., i)| i).collect();
    permute(findings, &order);
}

/// Put `items[order[i]]` at `i`, in place, following each cycle of the permutation once.
fn permute<T>(items: &mut [T], order: &[usize]) {
    let mut done = vec![false; items.len()];
    for start in 0..items.len() {
        let mut at = start;
        while !done[at] {
            done[at] = true;
            let from = order[at];
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// A threat's relations, in model order. Built once, so each threat reads its own links instead
/// of scanning every relation of the model (thousands of each in a large monorepo).
#[derive(Default)]
struct Links<'m> {
    exposures: Vec<&'m crate::model::Exposure>,
    mitigations: Vec<&'m crate::model::Mitigation>,
    acceptances: Vec<&'m crate::model::Acceptance>,
    transfers: Vec<&'m crate::model::Transfer>,
}

static NO_LINKS: Links<'static> = Links {
    exposures: Vec::new(),
    mitigations: Vec::new(),
    acceptances: Vec::new(),
    transfers: Vec::new(),
};

/// Lookups by component, control and flow id, built once per analysis so that no step scans
/// every relation of the model for each element (a repository controls how many there are:
/// 20,000 crossing flows took minutes when each one scanned every mitigation).
#[derive(Default)]
struct Index<'m> {
    /// Component -> the controls of the mitigations that name it.
    controls_on: BTreeMap<&'m str, BTreeSet<&'m str>>,
    /// Component -> the STRIDE categories of the threats linked to it by an exposure, a
    /// mitigation, an acceptance or a transfer (either end).
    stride_on: BTreeMap<&'m str, BTreeSet<Stride>>,
    /// Controls that some mitigation or test names.
    used_controls: BTreeSet<&'m str>,
    flows: BTreeMap<&'m str, &'m crate::model::Flow>,
}

impl<'m> Index<'m> {
    fn of(m: &'m ThreatModel) -> Self {
        let mut ix = Index::default();
        let mut threats_on: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut link = |component: &'m str, threat: &'m str| {
            threats_on.entry(component).or_default().insert(threat);
        };
        for x in &m.exposures {
            link(&x.link.component, &x.link.threat);
        }
        for x in &m.mitigations {
            link(&x.link.component, &x.link.threat);
        }
        for x in &m.acceptances {
            link(&x.link.component, &x.link.threat);
        }
        for x in &m.transfers {
            link(&x.link.from, &x.link.threat);
            link(&x.link.to, &x.link.threat);
        }
        for (component, threats) in threats_on {
            let stride = threats
                .into_iter()
                .filter_map(|t| m.threat(t))
                .flat_map(|t| t.attributes.stride.iter().copied())
                .collect();
            ix.stride_on.insert(component, stride);
        }
        for x in &m.mitigations {
            ix.controls_on
                .entry(&x.link.component)
                .or_default()
                .insert(&x.link.control);
            ix.used_controls.insert(&x.link.control);
        }
        ix.used_controls
            .extend(m.tests.iter().map(|x| x.link.control.as_str()));
        ix.flows = m.flows.iter().map(|f| (f.id.as_str(), f)).collect();
        ix
    }
}

struct Analyzer<'m> {
    model: &'m ThreatModel,
    matrix: &'m RiskMatrix,
    today: Option<Date>,
    by_threat: &'m BTreeMap<&'m str, Links<'m>>,
    index: &'m Index<'m>,
    findings: Vec<Finding>,
    /// Per threat: the components where it is still uncovered, with the annotations that say
    /// so (open exposures, expired acceptances). Filled by `assess_threats`, read by `plan`.
    /// Indexed like `model.threats`.
    uncovered: Vec<Vec<(String, Vec<Location>)>>,
    /// Per threat with uncovered exposures: the highest risk among them (each rated by its own
    /// rating, else the threat's), which ranks the threat in the plan.
    /// `None` for a threat without any. Indexed like `model.threats`.
    open_risk: Vec<Option<Option<Risk>>>,
}

impl<'m> Analyzer<'m> {
    fn expired(&self, expires: Option<&date::Expiry>) -> bool {
        matches!((self.today, expires), (Some(today), Some(exp)) if exp.expired(today))
    }

    fn links(&self, threat: &str) -> &'m Links<'m> {
        self.by_threat.get(threat).unwrap_or(&NO_LINKS)
    }

    fn threat_components(&self, threat: &str) -> BTreeSet<String> {
        let l = self.links(threat);
        let mut out = BTreeSet::new();
        out.extend(l.exposures.iter().map(|e| e.link.component.clone()));
        out.extend(l.mitigations.iter().map(|e| e.link.component.clone()));
        out.extend(l.acceptances.iter().map(|e| e.link.component.clone()));
        for t in &l.transfers {
            out.insert(t.link.from.clone());
            out.insert(t.link.to.clone());
        }
        out
    }

    /// Distinct owners of the components a threat applies to, with the components.
    fn component_owners(&self, components: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in components.iter().filter_map(|c| self.model.component(c)) {
            if let Some(o) = &c.attributes.owner {
                owners.entry(o.clone()).or_default().push(c.id.clone());
            }
        }
        owners
    }

    /// The threat's own owner, else the one owner its components share.
    fn owner(&self, threat: &Entity, components: &BTreeSet<String>) -> Option<String> {
        if let Some(o) = &threat.attributes.owner {
            return Some(o.clone());
        }
        let owners = self.component_owners(components);
        match owners.len() {
            1 => owners.into_keys().next(),
            _ => None,
        }
    }

    /// Whether a valid acceptance covers `threat` on `component`. Each expired acceptance is
    /// reported (TM104) and its locations are returned, so the plan can point at it.
    fn accepted(
        &mut self,
        threat: &Entity,
        component: &str,
        acceptances: &[&crate::model::Acceptance],
        risk: Option<&Risk>,
    ) -> (bool, Vec<Location>) {
        let mut valid = false;
        let mut expired_at = Vec::new();
        for acc in acceptances {
            let expires = acc
                .attributes
                .expires
                .as_ref()
                .or(threat.attributes.expires.as_ref());
            if !self.expired(expires) {
                valid = true;
                continue;
            }
            let who: Vec<String> = [
                ("owner", &acc.attributes.owner),
                ("ticket", &acc.attributes.ticket),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
            .collect();
            self.findings.push(Finding {
                code: Code::ExpiredAcceptance,
                severity: Code::ExpiredAcceptance.default_severity(),
                message: format!(
                    "the acceptance of `{}` on `{component}` expired on {}{}",
                    threat.name,
                    expires.map(ToString::to_string).unwrap_or_default(),
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", who.join("; "))
                    }
                ),
                elements: vec![
                    ElementRef::new(ElementKind::Acceptance, &acc.id),
                    ElementRef::new(ElementKind::Threat, &threat.id),
                    ElementRef::new(ElementKind::Component, component),
                ],
                risk: risk.cloned(),
                locations: locations(&acc.sources),
            });
            expired_at.extend(locations(&acc.sources));
        }
        (valid, expired_at)
    }

    /// Residual status, per (component, threat) pair. A threat applies to every component an
    /// exposure, a mitigation or an acceptance names, and to the component a transfer moves it
    /// away from. Each pair is covered by a mitigation, else by a valid acceptance, else by a
    /// transfer; a pair with none of them (an open exposure, or an acceptance that expired) is
    /// uncovered. The threat is exposed when any pair is uncovered, open when it applies
    /// nowhere, and otherwise takes the weakest cover of its pairs: accepted, then
    /// transferred, then mitigated.
    fn assess_threats(&mut self) -> Vec<ThreatAssessment> {
        let m = self.model;
        let mut out = Vec::new();
        for threat in &m.threats {
            let id = threat.id.as_str();
            let risk = self.matrix.rate(&threat.attributes);
            let components = self.threat_components(id);
            let links = self.links(id);
            let mut applies: BTreeSet<&str> = BTreeSet::new();
            applies.extend(links.exposures.iter().map(|x| x.link.component.as_str()));
            applies.extend(links.mitigations.iter().map(|x| x.link.component.as_str()));
            applies.extend(links.acceptances.iter().map(|x| x.link.component.as_str()));
            applies.extend(links.transfers.iter().map(|x| x.link.from.as_str()));
            // The threat's links by component, in model order, so each pair below is a lookup:
            // one threat may be exposed on thousands of components.
            let mitigated: BTreeSet<&str> = links
                .mitigations
                .iter()
                .map(|x| x.link.component.as_str())
                .collect();
            let transferred: BTreeSet<&str> = links
                .transfers
                .iter()
                .map(|x| x.link.from.as_str())
                .collect();
            let mut accepts: BTreeMap<&str, Vec<&crate::model::Acceptance>> = BTreeMap::new();
            for x in &links.acceptances {
                accepts.entry(&x.link.component).or_default().push(x);
            }
            let mut exposures: BTreeMap<&str, Vec<&crate::model::Exposure>> = BTreeMap::new();
            for x in &links.exposures {
                exposures.entry(&x.link.component).or_default().push(x);
            }
            let mut accepted_any = false;
            let mut transferred_any = false;
            let mut uncovered: Vec<(String, Vec<Location>)> = Vec::new();
            let mut open_risks: Vec<Option<Risk>> = Vec::new();
            for c in applies.iter().copied() {
                if mitigated.contains(c) {
                    continue;
                }
                let acceptances = accepts.get(c).map(Vec::as_slice).unwrap_or_default();
                let (accepted, expired_at) = self.accepted(threat, c, acceptances, risk.as_ref());
                if accepted {
                    accepted_any = true;
                    continue;
                }
                if transferred.contains(c) {
                    transferred_any = true;
                    continue;
                }
                let mut here = Vec::new();
                let open = exposures.get(c).map(Vec::as_slice).unwrap_or_default();
                if open.is_empty() {
                    open_risks.push(risk.clone());
                }
                for e in open {
                    // Its own rating where it has one, else the threat's.
                    let risk = self.matrix.rate_exposure(&threat.attributes, &e.attributes);
                    open_risks.push(risk.clone());
                    let severity = exposure_severity(risk.as_ref());
                    self.findings.push(Finding {
                        code: Code::UnmitigatedExposure,
                        severity,
                        message: format!(
                            "`{c}` is exposed to `{}` and nothing mitigates, accepts or transfers it",
                            threat.name
                        ),
                        elements: vec![
                            ElementRef::new(ElementKind::Exposure, &e.id),
                            ElementRef::new(ElementKind::Threat, id),
                            ElementRef::new(ElementKind::Component, c),
                        ],
                        risk: risk.clone(),
                        locations: locations(&e.sources),
                    });
                    here.extend(locations(&e.sources));
                }
                here.extend(expired_at);
                uncovered.push((c.to_string(), here));
            }
            let status = if !uncovered.is_empty() {
                Residual::Exposed
            } else if applies.is_empty() {
                Residual::Open
            } else if accepted_any {
                Residual::Accepted
            } else if transferred_any {
                Residual::Transferred
            } else {
                Residual::Mitigated
            };
            self.uncovered.push(uncovered);
            self.open_risk.push(
                open_risks
                    .into_iter()
                    .max_by_key(|r| r.as_ref().map(|r| (r.score, r.band, !r.exposure))),
            );
            out.push(ThreatAssessment {
                threat: id.to_string(),
                status,
                owner: self.owner(threat, &components),
                risk,
                components: components.into_iter().collect(),
            });
        }
        out
    }

    fn crossings(&mut self) -> Vec<Crossing> {
        let m = self.model;
        let mut out = Vec::new();
        for f in m.flows.iter().filter(|f| f.link.is_crossing()) {
            let on = |c: &str| self.index.controls_on.get(c).into_iter().flatten();
            let controls: BTreeSet<String> = on(&f.link.source)
                .chain(on(&f.link.target))
                .map(|c| c.to_string())
                .collect();
            let guarded = !controls.is_empty();
            if !guarded {
                let name = if f.details.is_empty() {
                    f.id.clone()
                } else {
                    f.details.clone()
                };
                self.findings.push(Finding {
                    code: Code::UnguardedCrossing,
                    severity: Code::UnguardedCrossing.default_severity(),
                    message: format!(
                        "flow `{name}` from `{}` to `{}` crosses {} and no control covers either end",
                        f.link.source,
                        f.link.target,
                        quoted_list(&f.link.crosses)
                    ),
                    elements: vec![
                        ElementRef::new(ElementKind::Flow, &f.id),
                        ElementRef::new(ElementKind::Component, &f.link.source),
                        ElementRef::new(ElementKind::Component, &f.link.target),
                    ],
                    risk: None,
                    locations: locations(&f.sources),
                });
            }
            out.push(Crossing {
                flow: f.id.clone(),
                source: f.link.source.clone(),
                target: f.link.target.clone(),
                crosses: f.link.crosses.clone(),
                guarded,
                controls: controls.into_iter().collect(),
            });
        }
        out
    }

    /// STRIDE categories of the threats linked to a component.
    fn covered(&self, component: &str) -> BTreeSet<Stride> {
        self.index
            .stride_on
            .get(component)
            .cloned()
            .unwrap_or_default()
    }

    fn coverage(&mut self, crossings: &[Crossing]) -> Vec<Coverage> {
        let m = self.model;
        let mut rows = Vec::new();
        let touched: BTreeSet<&String> = crossings
            .iter()
            .flat_map(|c| [&c.source, &c.target])
            .collect();
        for id in touched {
            let element_type = m.component(id).and_then(|c| c.attributes.element_type);
            let applicable = applicable(element_type);
            let covered = self.covered(id);
            let target = CoverageTarget::Element(element_type.unwrap_or(ElementType::Process));
            rows.push(
                self.coverage_row(
                    ElementRef::new(ElementKind::Component, id),
                    target,
                    format!("component `{id}` ({target}) is on a boundary crossing"),
                    applicable,
                    &covered,
                    m.component(id)
                        .map(|c| locations(&c.sources))
                        .unwrap_or_default(),
                ),
            );
        }
        for c in crossings {
            let mut covered = self.covered(&c.source);
            covered.extend(self.covered(&c.target));
            let flow = self.index.flows.get(c.flow.as_str()).copied();
            let sources = flow.map(|f| locations(&f.sources)).unwrap_or_default();
            let name = flow
                .map(|f| f.details.as_str())
                .filter(|d| !d.is_empty())
                .unwrap_or(&c.flow);
            rows.push(self.coverage_row(
                ElementRef::new(ElementKind::Flow, &c.flow),
                CoverageTarget::Flow,
                format!(
                    "flow `{name}` from `{}` to `{}` crosses {}",
                    c.source,
                    c.target,
                    quoted_list(&c.crosses)
                ),
                FLOW_STRIDE,
                &covered,
                sources,
            ));
        }
        rows
    }

    fn coverage_row(
        &mut self,
        element: ElementRef,
        element_type: CoverageTarget,
        subject: String,
        applicable: &[Stride],
        covered: &BTreeSet<Stride>,
        locs: Vec<Location>,
    ) -> Coverage {
        let covered: Vec<Stride> = applicable
            .iter()
            .copied()
            .filter(|s| covered.contains(s))
            .collect();
        let missing: Vec<Stride> = applicable
            .iter()
            .copied()
            .filter(|s| !covered.contains(s))
            .collect();
        if !missing.is_empty() {
            self.findings.push(Finding {
                code: Code::StrideGap,
                severity: Code::StrideGap.default_severity(),
                message: format!(
                    "{subject} but has no threats for: {}",
                    missing
                        .iter()
                        .map(|s| s.title())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                elements: vec![element.clone()],
                risk: None,
                locations: locs,
            });
        }
        Coverage {
            element,
            element_type,
            applicable: applicable.to_vec(),
            covered,
            missing,
        }
    }

    fn plan(&self, threats: &[ThreatAssessment]) -> Vec<PlanItem> {
        let m = self.model;
        // A threat ranks by its highest open exposure (rated by its own rating where it has
        // one), else by its own rating.
        // Assessments, `uncovered` and `open_risk` are indexed like `model.threats`.
        let risk_of = |i: usize, t: &ThreatAssessment| match self.open_risk.get(i) {
            Some(Some(r)) => r.clone(),
            _ => t.risk.clone(),
        };
        let mut open: Vec<(usize, &ThreatAssessment, Option<Risk>)> = threats
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status.is_open())
            .map(|(i, t)| (i, t, risk_of(i, t)))
            .collect();
        open.sort_by(|(_, a, ra), (_, b, rb)| {
            let key = |r: &Option<Risk>| std::cmp::Reverse(r.as_ref().map(|r| r.score));
            key(ra).cmp(&key(rb)).then_with(|| a.threat.cmp(&b.threat))
        });
        open.into_iter()
            .enumerate()
            .map(|(n, (i, t, risk))| {
                let threat = m.threats.get(i);
                // Where work is left: the uncovered components, and the annotations that
                // leave them uncovered (open exposures, expired acceptances) before the
                // threat's declaration.
                let uncovered = self.uncovered.get(i).map(Vec::as_slice).unwrap_or_default();
                let components = if uncovered.is_empty() {
                    t.components.clone()
                } else {
                    uncovered.iter().map(|(c, _)| c.clone()).collect()
                };
                let candidate_controls: Vec<String> = self
                    .links(&t.threat)
                    .mitigations
                    .iter()
                    .map(|x| x.link.control.clone())
                    .filter(|c| m.control(c).is_some_and(|c| c.declared))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut locs: Vec<Location> = Vec::new();
                let mut seen = BTreeSet::new();
                let declared = threat.map(|th| locations(&th.sources)).unwrap_or_default();
                for l in uncovered.iter().flat_map(|(_, l)| l).chain(&declared) {
                    if seen.insert(l) {
                        locs.push(l.clone());
                    }
                }
                PlanItem {
                    rank: n + 1,
                    threat: t.threat.clone(),
                    name: threat.map(|th| th.name.clone()).unwrap_or_default(),
                    status: t.status,
                    risk,
                    owner: t.owner.clone(),
                    components,
                    candidate_controls,
                    locations: locs,
                }
            })
            .collect()
    }

    fn hygiene(&mut self, threats: &[ThreatAssessment]) {
        let m = self.model;
        for (threat, assessment) in m.threats.iter().zip(threats) {
            let here = locations(&threat.sources);
            let me = vec![ElementRef::new(ElementKind::Threat, &threat.id)];
            if assessment.risk.is_none() {
                self.findings.push(Finding {
                    code: Code::UnratedThreat,
                    severity: Code::UnratedThreat.default_severity(),
                    message: format!(
                        "threat `{}` has no likelihood and impact, and no severity",
                        threat.name
                    ),
                    elements: me.clone(),
                    risk: None,
                    locations: here.clone(),
                });
            }
            if assessment.owner.is_none() {
                self.findings.push(Finding {
                    code: Code::UnownedThreat,
                    severity: Code::UnownedThreat.default_severity(),
                    message: {
                        let components: BTreeSet<String> =
                            assessment.components.iter().cloned().collect();
                        let owners = self.component_owners(&components);
                        if owners.len() > 1 {
                            let list: Vec<String> = owners
                                .iter()
                                .map(|(o, cs)| format!("{o} ({})", cs.join(", ")))
                                .collect();
                            format!(
                                "threat `{}` has no owner, and its components have different owners: {}",
                                threat.name,
                                list.join(", ")
                            )
                        } else {
                            format!("threat `{}` has no owner", threat.name)
                        }
                    },
                    elements: me.clone(),
                    risk: assessment.risk.clone(),
                    locations: here.clone(),
                });
            }
            if assessment.status == Residual::Open {
                self.findings.push(Finding {
                    code: Code::UnaddressedThreat,
                    severity: Code::UnaddressedThreat.default_severity(),
                    message: format!("threat `{}` is linked to no component", threat.name),
                    elements: me,
                    risk: assessment.risk.clone(),
                    locations: here,
                });
            }
        }
        for control in m.controls.iter().filter(|c| c.declared) {
            if !self.index.used_controls.contains(control.id.as_str()) {
                self.findings.push(Finding {
                    code: Code::UnusedControl,
                    severity: Code::UnusedControl.default_severity(),
                    message: format!(
                        "control `{}` mitigates nothing and is tested nowhere",
                        control.name
                    ),
                    elements: vec![ElementRef::new(ElementKind::Control, &control.id)],
                    risk: None,
                    locations: locations(&control.sources),
                });
            }
        }
        // Components (and their descendants) linked to no threat.
        let mut linked: BTreeSet<String> = threats
            .iter()
            .flat_map(|t| t.components.iter().cloned())
            .collect();
        linked.extend(m.reviews.iter().map(|r| r.link.component.clone()));
        // A walk stops where an earlier one passed: together they are linear in the model.
        let nesting = m.component_nesting();
        let mut with_linked_descendant = BTreeSet::new();
        for id in &linked {
            for p in nesting.ancestors(id) {
                if !with_linked_descendant.insert(p) {
                    break;
                }
            }
        }
        for c in &m.components {
            let external = c.attributes.element_type == Some(ElementType::External);
            if external || linked.contains(&c.id) || with_linked_descendant.contains(c.id.as_str())
            {
                continue;
            }
            self.findings.push(Finding {
                code: Code::ComponentWithoutThreats,
                severity: Code::ComponentWithoutThreats.default_severity(),
                message: format!("component `{}` has no threats", c.name),
                elements: vec![ElementRef::new(ElementKind::Component, &c.id)],
                risk: None,
                locations: locations(&c.sources),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings' order is the one `sort_by_cached_key` on owned keys gave (stable: ties
    /// keep their order), over findings of mixed codes, risks, threats and elements.
    #[test]
    fn findings_sort_as_before() {
        let matrix = RiskMatrix::default();
        let codes = [
            Code::UnmitigatedExposure,
            Code::UnratedThreat,
            Code::UnownedThreat,
        ];
        let mut findings = Vec::new();
        let mut seed: u64 = 42;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for i in 0..2000 {
            let mut elements = Vec::new();
            if next(4) > 0 {
                elements.push(ElementRef::new(
                    ElementKind::Component,
                    &format!("c{}", next(5)),
                ));
            }
            if next(5) > 0 {
                elements.push(ElementRef::new(
                    ElementKind::Threat,
                    &format!("t{}", next(30)),
                ));
            }
            if next(3) == 0 {
                elements.push(ElementRef::new(
                    ElementKind::Exposure,
                    &format!("x{}", next(3)),
                ));
            }
            let attributes = crate::model::Attributes {
                severity: [None, Some(Band::High), Some(Band::Low)]
                    [usize::try_from(next(3)).unwrap_or(0)],
                ..Default::default()
            };
            findings.push(Finding {
                code: codes[usize::try_from(next(3)).unwrap_or(0)],
                severity: Severity::Warning,
                message: format!("finding {i}"),
                elements,
                risk: matrix.rate(&attributes),
                locations: Vec::new(),
            });
        }
        let mut expected = findings.clone();
        expected.sort_by_cached_key(|f| {
            let threat = f
                .elements
                .iter()
                .find(|e| e.kind == ElementKind::Threat)
                .map(|e| e.id.clone());
            (
                f.code,
                std::cmp::Reverse(f.risk.as_ref().map(|r| r.score)),
                threat,
                f.elements.clone(),
            )
        });
        sort_findings(&mut findings);
        assert_eq!(findings, expected);
    }

    #[test]
    fn permute_follows_cycles() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        permute(&mut items, &[3, 0, 1, 2, 5, 4]);
        assert_eq!(items, ['d', 'a', 'b', 'c', 'f', 'e']);
    }

    /// The enum is written as the words the field held when it was a string, and reads back
    /// only those words.
    #[test]
    fn coverage_target_keeps_its_words() {
        let all = [
            (CoverageTarget::Element(ElementType::Process), "\"process\""),
            (CoverageTarget::Element(ElementType::Store), "\"store\""),
            (
                CoverageTarget::Element(ElementType::External),
                "\"external\"",
            ),
            (CoverageTarget::Flow, "\"flow\""),
        ];
        for (target, json) in all {
            assert_eq!(serde_json::to_string(&target).ok().as_deref(), Some(json));
            let back: Result<CoverageTarget, _> = serde_json::from_str(json);
            assert_eq!(back.ok(), Some(target));
        }
        for alias in ["\"service\"", "\"db\"", "\"Flow\"", "\"\""] {
            assert!(
                serde_json::from_str::<CoverageTarget>(alias).is_err(),
                "{alias}"
            );
        }
    }
}
