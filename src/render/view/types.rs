//! The view types: what templates receive (docs/templates.md). Every field is always present
//! and every list has a fixed order; see the parent module.

use serde::Serialize;

use super::TimelinePoint;
use crate::analysis::CoverageTarget;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportView {
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
pub(crate) struct ProjectView {
    pub name: String,
    pub description: String,
}

/// A link to a model element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ItemRef {
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
pub(crate) struct SourceLink {
    pub path: String,
    pub line: u32,
    pub column: u32,
    /// `path:line`.
    pub label: String,
    /// `label` cut after each `/`, so a page can offer a line break there (`<wbr>`) instead of
    /// breaking a name mid-word; joined they are `label`.
    pub label_parts: Vec<String>,
    /// The `source_url` link, or null.
    pub url: Option<String>,
    /// The annotation text as written.
    pub annotation: String,
}

/// A risk rating; unrated threats have `rated: false`, `score: 0`, `band: "unrated"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RiskView {
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
pub(crate) struct Count {
    pub key: String,
    pub label: String,
    pub count: usize,
    /// Share of the largest count in its list, 0-100, for bars.
    pub percent: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BandCount {
    pub band: String,
    pub label: String,
    pub all: usize,
    pub open: usize,
    /// `all` as a share of the largest band, 0-100, for bars.
    pub percent: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SummaryView {
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
pub(crate) struct HeatMap {
    /// Impact labels, left to right (negligible .. severe).
    pub impact_labels: Vec<String>,
    pub rows: Vec<HeatRow>,
    /// Threats rated on the matrix (threats rated by severity alone have no cell).
    pub rated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HeatRow {
    pub likelihood: String,
    pub cells: Vec<HeatCell>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HeatCell {
    pub likelihood: String,
    pub impact: String,
    pub score: u8,
    pub band: String,
    /// Threats in this cell (all statuses), by id.
    pub count: usize,
    pub threats: Vec<ItemRef>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlanRow {
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
pub(crate) struct StrideView {
    pub letter: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One relation, seen from a threat, a control or a component.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RelationView {
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
pub(crate) struct ThreatView {
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
pub(crate) struct ControlView {
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
pub(crate) struct TestView {
    pub control: ItemRef,
    pub component: ItemRef,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@entitles ACTOR to capability on COMPONENT against THREAT`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EntitlementView {
    pub actor: ItemRef,
    pub capability: String,
    pub component: Option<ItemRef>,
    pub threat: Option<ItemRef>,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@assumes COMPONENT -- "what"`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AssumptionView {
    pub component: ItemRef,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

/// GuardLink's `@feature "Name"`: where a feature is implemented.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FeatureView {
    pub name: String,
    pub description: String,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReviewView {
    pub details: String,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ComponentView {
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
    /// LINDDUN coverage when the component handles `pii` or `phi`, else null.
    pub linddun: Option<LinddunView>,
    /// Candidate threats from the threat library (`threatmark suggest`) for the component and
    /// the flows into it: never threats, never counted, never gated.
    pub suggested: Vec<SuggestedView>,
    pub findings: Vec<FindingView>,
    pub sources: Vec<SourceLink>,
}

/// LINDDUN categories covered by the component's threats (`linddun:`) and missing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LinddunView {
    /// Letters, `L, Dd`, or empty.
    pub covered: String,
    pub missing: String,
    pub complete: bool,
}

/// One suggestion of the threat library, as a report shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SuggestedView {
    pub rule: String,
    pub title: String,
    /// `store Orders DB` or `flow HTTPS`: what it is about.
    pub element: String,
    /// STRIDE letters (`T, I`).
    pub stride: String,
    /// LINDDUN letters, for elements with personal data; may be empty.
    pub linddun: String,
    /// CWE and CAPEC ids.
    pub ids: Vec<String>,
    /// The rule's risk band (`high`) and score.
    pub band: String,
    pub score: u8,
    /// The rule's rationale; code is marked with single backticks (use `{{code-text}}`).
    pub rationale: String,
    pub controls: Vec<String>,
    /// The lines to paste.
    pub annotation: Vec<String>,
    /// The same lines as code spans (`` `@threat ...` ``), for `{{code-text}}` in Markdown.
    pub paste: Vec<String>,
    /// The reason, when dismissed, and where (`src/db.rs:12` or `threatmark.toml`).
    pub dismissed: Option<String>,
    pub dismissed_at: Option<String>,
}

/// A threat as it applies to one component.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ComponentThreat {
    pub threat: ItemRef,
    /// The threat's residual status (over all its components).
    pub status: String,
    pub risk: RiskView,
    /// How this component deals with it: `mitigation`, `exposure`, `acceptance`, `transfer`.
    pub kinds: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BoundaryView {
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
pub(crate) struct OutlineRow {
    pub depth: usize,
    /// Two spaces per level, for Markdown lists.
    pub indent: String,
    pub boundary: Option<ItemRef>,
    pub components: Vec<ItemRef>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ActorView {
    #[serde(flatten)]
    pub item: ItemRef,
    pub description: String,
    pub threats: Vec<ItemRef>,
    pub sources: Vec<SourceLink>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FlowView {
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
pub(crate) struct FindingView {
    pub code: String,
    /// `error`, `warning` or `note`.
    pub severity: String,
    pub message: String,
    /// `message` cut at its backticks: `code` parts were quoted; an id quoted in the message
    /// is replaced by the element's name (and is then not code).
    pub message_parts: Vec<TextPart>,
    /// Each element once, in the order the finding names them.
    pub elements: Vec<ItemRef>,
    pub risk: RiskView,
    pub locations: Vec<SourceLink>,
}

/// A piece of a message: plain text, or text quoted as code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TextPart {
    pub text: String,
    pub code: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CoverageView {
    pub element: ItemRef,
    /// `process`, `store`, `external` or `flow`.
    pub element_type: CoverageTarget,
    pub applicable: String,
    pub covered: String,
    pub missing: String,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiagramView {
    /// Mermaid `flowchart` source (no code fence).
    pub mermaid: String,
    /// Inline SVG drawn by threatmark; repository strings inside are escaped.
    pub svg: String,
    /// Boxes drawn: one per boundary.
    pub boundaries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TimelineView {
    /// Oldest first.
    pub points: Vec<TimelinePoint>,
    /// Inline SVG chart drawn by threatmark.
    pub svg: String,
}
