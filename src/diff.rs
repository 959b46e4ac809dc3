//! The semantic diff of two models, keyed by stable ids and never by line numbers.
//!
//! Pure: two models in, a [`ModelDiff`] out. An element whose id is in both models is the same
//! element; if only its location differs it was moved, if its fields differ it changed. Status
//! and risk changes come from each model's analysis, new boundary crossings from the flows.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analysis::{self, Analysis, Residual, Risk, RiskMatrix};
use crate::model::{Band, Location, Source, ThreatModel};

/// What happened to one element or relation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChangeKind {
    Added,
    Removed,
    Changed,
    Moved,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub old: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub new: Value,
}

/// What kind of item changed: an entity or a relation. Declared in alphabetical order, so
/// changes sort as their words do (the order `diff` has always listed them in).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ItemKind {
    Acceptance,
    Actor,
    Assumption,
    Boundary,
    Component,
    Control,
    Entitlement,
    Exposure,
    Feature,
    Flow,
    Mitigation,
    Review,
    Test,
    Threat,
    Transfer,
}

impl ItemKind {
    #[cfg(test)]
    pub(crate) const ALL: [ItemKind; 15] = [
        ItemKind::Acceptance,
        ItemKind::Actor,
        ItemKind::Assumption,
        ItemKind::Boundary,
        ItemKind::Component,
        ItemKind::Control,
        ItemKind::Entitlement,
        ItemKind::Exposure,
        ItemKind::Feature,
        ItemKind::Flow,
        ItemKind::Mitigation,
        ItemKind::Review,
        ItemKind::Test,
        ItemKind::Threat,
        ItemKind::Transfer,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ItemKind::Acceptance => "acceptance",
            ItemKind::Actor => "actor",
            ItemKind::Assumption => "assumption",
            ItemKind::Boundary => "boundary",
            ItemKind::Component => "component",
            ItemKind::Control => "control",
            ItemKind::Entitlement => "entitlement",
            ItemKind::Exposure => "exposure",
            ItemKind::Feature => "feature",
            ItemKind::Flow => "flow",
            ItemKind::Mitigation => "mitigation",
            ItemKind::Review => "review",
            ItemKind::Test => "test",
            ItemKind::Threat => "threat",
            ItemKind::Transfer => "transfer",
        }
    }
}

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change to an entity (component, boundary, actor, threat, control) or relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Change {
    /// `component`, `threat`, ..., `mitigation`, `flow`, ...
    pub kind: ItemKind,
    pub id: String,
    /// A readable label: the name, or the relation's ends.
    pub label: String,
    pub change: ChangeKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Where it was (only when the primary location changed) and where it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Location>,
}

impl Change {
    /// A move within the same file (lines shifted by an edit above) is noise for reviewers.
    pub(crate) fn is_line_shift(&self) -> bool {
        self.change == ChangeKind::Moved
            && matches!((&self.from, &self.to), (Some(a), Some(b)) if a.path == b.path)
    }
}

/// A threat whose residual status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct StatusChange {
    pub threat: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Residual>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Residual>,
    /// For a threat new in head: its rating there (a reviewer sees how bad the new threat is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
}

/// A threat whose risk went up or down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct RiskChange {
    pub threat: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_band: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_band: Option<Band>,
    /// `up`, `down`, or `unrated` (the rating was removed).
    pub direction: String,
}

/// A flow that crosses a boundary now and did not before (or did not exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct NewCrossing {
    pub flow: String,
    pub source: String,
    pub target: String,
    pub crosses: Vec<String>,
    pub guarded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub(crate) struct DiffSummary {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub moved: usize,
    pub mitigations_gained: usize,
    pub mitigations_lost: usize,
    pub newly_exposed: usize,
    pub newly_mitigated: usize,
    pub risk_up: usize,
    pub risk_down: usize,
    pub new_crossings: usize,
    pub new_unguarded_crossings: usize,
}

/// The semantic difference between two models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ModelDiff {
    pub base: String,
    pub head: String,
    pub summary: DiffSummary,
    pub changes: Vec<Change>,
    pub status: Vec<StatusChange>,
    pub risk: Vec<RiskChange>,
    pub new_crossings: Vec<NewCrossing>,
}

impl ModelDiff {
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.status.is_empty()
            && self.risk.is_empty()
            && self.new_crossings.is_empty()
    }
}

/// Items of one kind, by id, as JSON objects (so every field is compared the same way). Items
/// that `other` holds unchanged (same id, equal in every field and source) are left out: in a
/// large model almost all are, and turning them into JSON would cost more than the diff.
fn items(
    model: &ThreatModel,
    other: &ThreatModel,
) -> BTreeMap<(ItemKind, String), (String, Value)> {
    let mut out = BTreeMap::new();
    items_of(model, other, &mut out);
    out
}

/// One kind's items of `list` that `others` does not hold unchanged.
fn add<T: Serialize + PartialEq>(
    out: &mut BTreeMap<(ItemKind, String), (String, Value)>,
    kind: ItemKind,
    list: &[T],
    others: &[T],
    id: impl Fn(&T) -> &str,
    label: impl Fn(&T) -> String,
) {
    let unchanged: std::collections::HashMap<&str, &T> =
        others.iter().map(|o| (id(o), o)).collect();
    for item in list {
        if unchanged.get(id(item)).is_some_and(|o| *o == item) {
            continue;
        }
        let value = serde_json::to_value(item).unwrap_or(Value::Null);
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.insert((kind, id), (label(item), value));
    }
}

fn items_of(
    model: &ThreatModel,
    other: &ThreatModel,
    out: &mut BTreeMap<(ItemKind, String), (String, Value)>,
) {
    add(
        out,
        ItemKind::Component,
        &model.components,
        &other.components,
        |c| &c.id,
        |c| c.name.clone(),
    );
    add(
        out,
        ItemKind::Boundary,
        &model.boundaries,
        &other.boundaries,
        |b| &b.id,
        |b| b.name.clone(),
    );
    add(
        out,
        ItemKind::Actor,
        &model.actors,
        &other.actors,
        |a| &a.id,
        |a| a.name.clone(),
    );
    add(
        out,
        ItemKind::Threat,
        &model.threats,
        &other.threats,
        |t| &t.id,
        |t| t.name.clone(),
    );
    add(
        out,
        ItemKind::Control,
        &model.controls,
        &other.controls,
        |c| &c.id,
        |c| c.name.clone(),
    );
    add(
        out,
        ItemKind::Mitigation,
        &model.mitigations,
        &other.mitigations,
        |m| &m.id,
        |m| {
            format!(
                "{} against {} with {}",
                m.link.component, m.link.threat, m.link.control
            )
        },
    );
    add(
        out,
        ItemKind::Exposure,
        &model.exposures,
        &other.exposures,
        |x| &x.id,
        |e| format!("{} to {}", e.link.component, e.link.threat),
    );
    add(
        out,
        ItemKind::Acceptance,
        &model.acceptances,
        &other.acceptances,
        |x| &x.id,
        |a| format!("{} to {}", a.link.threat, a.link.component),
    );
    add(
        out,
        ItemKind::Transfer,
        &model.transfers,
        &other.transfers,
        |x| &x.id,
        |t| format!("{} from {} to {}", t.link.threat, t.link.from, t.link.to),
    );
    add(
        out,
        ItemKind::Flow,
        &model.flows,
        &other.flows,
        |x| &x.id,
        |f| {
            format!(
                "{} {} {}{}",
                f.link.source,
                if f.link.bidirectional { "<->" } else { "->" },
                f.link.target,
                if f.details.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.details)
                }
            )
        },
    );
    add(
        out,
        ItemKind::Review,
        &model.reviews,
        &other.reviews,
        |x| &x.id,
        |r| format!("{}: {}", r.link.component, r.details),
    );
    add(
        out,
        ItemKind::Test,
        &model.tests,
        &other.tests,
        |x| &x.id,
        |t| format!("{} for {}", t.link.control, t.link.component),
    );
    add(
        out,
        ItemKind::Entitlement,
        &model.entitlements,
        &other.entitlements,
        |x| &x.id,
        |e| format!("{} may {}", e.link.actor, e.link.capability),
    );
    add(
        out,
        ItemKind::Assumption,
        &model.assumptions,
        &other.assumptions,
        |x| &x.id,
        |a| format!("{}: {}", a.link.component, a.description),
    );
    add(
        out,
        ItemKind::Feature,
        &model.features,
        &other.features,
        |x| &x.id,
        |f| f.link.name.clone(),
    );
}

fn primary(value: &Value) -> Option<Location> {
    let s: Source = serde_json::from_value(value.get("sources")?.get(0)?.clone()).ok()?;
    Some(s.location())
}

/// The diff of two models known to be equal, which [`diff`] would find empty.
pub(crate) fn unchanged(base_label: &str, head_label: &str) -> ModelDiff {
    ModelDiff {
        base: base_label.into(),
        head: head_label.into(),
        summary: DiffSummary::default(),
        changes: Vec::new(),
        status: Vec::new(),
        risk: Vec::new(),
        new_crossings: Vec::new(),
    }
}

/// Compare two models. Analyses embedded in the models are used when present; otherwise they are
/// computed with `matrix` (without a date, like the embedded ones).
pub(crate) fn diff(
    base: &ThreatModel,
    head: &ThreatModel,
    base_label: &str,
    head_label: &str,
    matrix: &RiskMatrix,
) -> ModelDiff {
    let (old, new) = (items(base, head), items(head, base));
    let mut changes = Vec::new();
    let keys: BTreeSet<&(ItemKind, String)> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (kind, id) = (key.0, key.1.clone());
        match (old.get(key), new.get(key)) {
            (None, Some((label, v))) => changes.push(Change {
                kind,
                id,
                label: label.clone(),
                change: ChangeKind::Added,
                fields: Vec::new(),
                from: None,
                to: primary(v),
            }),
            (Some((label, v)), None) => changes.push(Change {
                kind,
                id,
                label: label.clone(),
                change: ChangeKind::Removed,
                fields: Vec::new(),
                from: primary(v),
                to: None,
            }),
            (Some((_, a)), Some((label, b))) => {
                let fields = field_changes(a, b);
                let (from, to) = (primary(a), primary(b));
                let moved = from != to;
                if fields.is_empty() && !moved {
                    continue;
                }
                changes.push(Change {
                    kind,
                    id,
                    label: label.clone(),
                    change: if fields.is_empty() {
                        ChangeKind::Moved
                    } else {
                        ChangeKind::Changed
                    },
                    fields,
                    from: moved.then_some(from).flatten(),
                    to,
                });
            }
            (None, None) => {}
        }
    }

    fn analysis_of<'m>(m: &'m ThreatModel, matrix: &RiskMatrix) -> std::borrow::Cow<'m, Analysis> {
        match &m.analysis {
            Some(a) => std::borrow::Cow::Borrowed(a),
            None => std::borrow::Cow::Owned(analysis::analyze(m, matrix, None)),
        }
    }
    let (a_old, a_new) = (analysis_of(base, matrix), analysis_of(head, matrix));
    let old_t: BTreeMap<&str, _> = a_old
        .threats
        .iter()
        .map(|t| (t.threat.as_str(), t))
        .collect();
    let new_t: BTreeMap<&str, _> = a_new
        .threats
        .iter()
        .map(|t| (t.threat.as_str(), t))
        .collect();
    let name = |id: &str| {
        head.threat(id)
            .or_else(|| base.threat(id))
            .map(|t| t.name.clone())
            .unwrap_or_default()
    };
    let mut status = Vec::new();
    let ids: BTreeSet<&str> = old_t.keys().chain(new_t.keys()).copied().collect();
    for id in ids {
        let (so, sn) = (
            old_t.get(id).map(|t| t.status),
            new_t.get(id).map(|t| t.status),
        );
        if so != sn {
            let new_risk = if so.is_none() {
                new_t.get(id).and_then(|t| t.risk.as_ref())
            } else {
                None
            };
            status.push(StatusChange {
                threat: id.into(),
                name: name(id),
                from: so,
                to: sn,
                score: new_risk.map(|r| r.score),
                band: new_risk.map(|r| r.band),
            });
        }
    }
    let risk = risk_changes(&a_old, &a_new, name);

    let old_crossing: BTreeSet<&str> = a_old.crossings.iter().map(|c| c.flow.as_str()).collect();
    let head_flows: BTreeMap<&str, &crate::model::Flow> =
        head.flows.iter().map(|f| (f.id.as_str(), f)).collect();
    let new_crossings: Vec<NewCrossing> = a_new
        .crossings
        .iter()
        .filter(|c| !old_crossing.contains(c.flow.as_str()))
        .map(|c| NewCrossing {
            flow: c.flow.clone(),
            source: c.source.clone(),
            target: c.target.clone(),
            crosses: c.crosses.clone(),
            guarded: c.guarded,
            location: head_flows
                .get(c.flow.as_str())
                .and_then(|f| f.sources.first())
                .map(Source::location),
        })
        .collect();

    let count = |k: ChangeKind| changes.iter().filter(|c| c.change == k).count();
    let rel = |kind: ItemKind, k: ChangeKind| {
        changes
            .iter()
            .filter(|c| c.kind == kind && c.change == k)
            .count()
    };
    let summary = DiffSummary {
        added: count(ChangeKind::Added),
        removed: count(ChangeKind::Removed),
        changed: count(ChangeKind::Changed),
        moved: count(ChangeKind::Moved),
        mitigations_gained: rel(ItemKind::Mitigation, ChangeKind::Added),
        mitigations_lost: rel(ItemKind::Mitigation, ChangeKind::Removed),
        newly_exposed: status
            .iter()
            .filter(|s| s.to == Some(Residual::Exposed))
            .count(),
        newly_mitigated: status
            .iter()
            .filter(|s| s.to == Some(Residual::Mitigated))
            .count(),
        risk_up: risk.iter().filter(|r| r.direction == "up").count(),
        risk_down: risk.iter().filter(|r| r.direction == "down").count(),
        new_crossings: new_crossings.len(),
        new_unguarded_crossings: new_crossings.iter().filter(|c| !c.guarded).count(),
    };
    ModelDiff {
        base: base_label.into(),
        head: head_label.into(),
        summary,
        changes,
        status,
        risk,
        new_crossings,
    }
}

/// Threats whose rating changed between two analyses, in id order. The band decides the
/// direction when it moved (a matrix or band edges changed in the change can lower a band at
/// the same score, and the band is what a gate compares); otherwise the score does. A rating
/// removed is `unrated`, one added to a threat that was there is `up`.
pub(crate) fn risk_changes(
    old: &Analysis,
    new: &Analysis,
    name: impl Fn(&str) -> String,
) -> Vec<RiskChange> {
    let old_t: BTreeMap<&str, _> = old.threats.iter().map(|t| (t.threat.as_str(), t)).collect();
    let new_t: BTreeMap<&str, _> = new.threats.iter().map(|t| (t.threat.as_str(), t)).collect();
    let mut risk = Vec::new();
    for (id, n) in &new_t {
        let Some(o) = old_t.get(id) else {
            continue;
        };
        let change = |from: Option<&Risk>, to: Option<&Risk>, direction: &str| RiskChange {
            threat: (*id).into(),
            name: name(id),
            from_score: from.map(|r| r.score),
            from_band: from.map(|r| r.band),
            to_score: to.map(|r| r.score),
            to_band: to.map(|r| r.band),
            direction: direction.into(),
        };
        match (o.risk.as_ref(), n.risk.as_ref()) {
            (Some(a), Some(b)) if (a.band, a.score) != (b.band, b.score) => {
                let up = if a.band == b.band {
                    b.score > a.score
                } else {
                    b.band > a.band
                };
                risk.push(change(Some(a), Some(b), if up { "up" } else { "down" }));
            }
            (Some(a), None) => risk.push(change(Some(a), None, "unrated")),
            (None, Some(b)) => risk.push(change(None, Some(b), "up")),
            _ => {}
        }
    }
    risk
}

/// Fields that differ, ignoring the id, the locations and the derived analysis.
fn field_changes(a: &Value, b: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let (ma, mb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "id" | "sources"))
        .filter_map(|k| {
            let (x, y) = (ma.get(k), mb.get(k));
            (x != y).then(|| FieldChange {
                field: k.clone(),
                old: x.cloned().unwrap_or(Value::Null),
                new: y.cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_kinds_sort_as_their_words() {
        let mut words: Vec<&str> = ItemKind::ALL.iter().map(|k| k.as_str()).collect();
        words.sort_unstable();
        let by_kind: Vec<&str> = ItemKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, by_kind);
        assert!(ItemKind::ALL.windows(2).all(|w| w[0] < w[1]));
        for k in ItemKind::ALL {
            let json = serde_json::to_value(k).expect("serialises");
            assert_eq!(json, k.as_str());
        }
    }
    use crate::annotation::parse_text;
    use crate::model::{FileAnnotations, Project, build};

    fn model(files: &[(&str, &str)]) -> ThreatModel {
        let files: Vec<FileAnnotations> = files
            .iter()
            .map(|(p, t)| FileAnnotations {
                path: (*p).into(),
                annotations: parse_text(p, t).0,
            })
            .collect();
        build(Project::default(), &files).0
    }

    /// GuardLink's entitlements, assumptions and features are items of the diff too.
    #[test]
    fn guardlink_facts_are_diffed() {
        let base = "@asset A.B (#a)\n@actor Ops (#ops)\n";
        let a = model(&[("a.ts", base)]);
        let b = model(&[(
            "a.ts",
            &format!(
                "{base}@assumes #a -- \"TLS ends at the proxy\"\n@feature \"Login\"\n@entitles #ops to restart on #a\n"
            ),
        )]);
        let d = diff(&a, &b, "a", "b", &RiskMatrix::default());
        let mut kinds: Vec<&str> = d.changes.iter().map(|c| c.kind.as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            vec!["assumption", "entitlement", "feature"],
            "{d:#?}"
        );
        assert!(d.changes.iter().all(|c| c.change == ChangeKind::Added));
    }

    #[test]
    fn moved_is_not_removed_and_added() {
        let a = model(&[("a.rs", "@threat SQLi (#sqli)")]);
        let b = model(&[("b.rs", "\n\n@threat SQLi (#sqli)")]);
        let d = diff(&a, &b, "a", "b", &RiskMatrix::default());
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].change, ChangeKind::Moved);
        assert!(!d.changes[0].is_line_shift());
        assert_eq!(d.changes[0].to.as_ref().map(|l| l.line), Some(3));
    }

    #[test]
    fn field_changes_status_and_risk() {
        let a = model(&[(
            "a.rs",
            "@threat SQLi (#sqli) [likelihood: possible; impact: moderate]\n@exposes Api to #sqli",
        )]);
        let b = model(&[(
            "a.rs",
            "@threat SQLi (#sqli) [likelihood: likely; impact: major]\n@exposes Api to #sqli\n@mitigates Api against #sqli with Prepared",
        )]);
        let d = diff(&a, &b, "a", "b", &RiskMatrix::default());
        let threat = d
            .changes
            .iter()
            .find(|c| c.kind == ItemKind::Threat)
            .expect("threat changed");
        assert_eq!(threat.change, ChangeKind::Changed);
        assert!(threat.fields.iter().any(|f| f.field == "likelihood"));
        // Changed in place: where it is, for the reader, but no `from`.
        assert_eq!(threat.to.as_ref().map(|l| l.line), Some(1));
        assert_eq!(threat.from, None);
        assert_eq!(d.summary.mitigations_gained, 1);
        assert_eq!(d.status[0].to, Some(Residual::Mitigated));
        assert_eq!(d.risk[0].direction, "up");
    }

    /// New band edges lower a band at the same score: a lowered risk, which a gate compares.
    #[test]
    fn a_band_lowered_at_the_same_score_is_down() {
        let m = model(&[(
            "a.rs",
            "@threat SQLi (#sqli) [likelihood: likely; impact: major]\n@exposes Api to #sqli",
        )]);
        let lax = RiskMatrix {
            band_edges: [1, 2, 3, 99, 100],
            ..RiskMatrix::default()
        };
        let before = analysis::analyze(&m, &RiskMatrix::default(), None);
        let after = analysis::analyze(&m, &lax, None);
        let r = risk_changes(&before, &after, |_| String::new());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].direction, "down");
        assert_eq!((r[0].from_score, r[0].to_score), (Some(16), Some(16)));
        assert_eq!(
            (r[0].from_band, r[0].to_band),
            (Some(Band::High), Some(Band::Medium))
        );
        assert!(risk_changes(&before, &before, |_| String::new()).is_empty());
    }

    #[test]
    fn a_model_compared_with_itself_is_unchanged() {
        let a = model(&[(
            "a.rs",
            "@component Api (#api) in #dmz\n@boundary DMZ (#dmz)\n@threat SQLi (#sqli) [likelihood: likely; impact: major]\n@exposes #api to #sqli\n@connects Browser to #api with HTTPS\n@accepts #sqli to #api with legacy [expires: 2020-01-01]",
        )]);
        let d = diff(&a, &a.clone(), "a", "b", &RiskMatrix::default());
        assert_eq!(d, unchanged("a", "b"));
        assert!(d.is_empty());
    }

    #[test]
    fn new_crossings_are_reported() {
        let a = model(&[(
            "a.rs",
            "@component Api (#api) in #dmz\n@boundary DMZ (#dmz)",
        )]);
        let b = model(&[(
            "a.rs",
            "@component Api (#api) in #dmz\n@boundary DMZ (#dmz)\n@connects Browser to #api with HTTPS",
        )]);
        let d = diff(&a, &b, "a", "b", &RiskMatrix::default());
        assert_eq!(d.new_crossings.len(), 1);
        assert!(!d.new_crossings[0].guarded);
    }
}
