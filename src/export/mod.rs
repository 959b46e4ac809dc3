//! Exports to other threat-modeling tools: OWASP Threat Dragon v2, the Open Threat Model (OTM
//! 0.2.0) and the OWASP Threat Model Library's TM-BOM (1.0.2). docs/exports.md says what each
//! format receives and what it cannot hold.
//!
//! Pure: a model and its analysis in, pretty JSON with a final newline out. Everything is in a
//! fixed order (our lists are sorted by id) and every generated id is derived from our ids, so
//! an unchanged model exports to a byte-identical file.

pub mod layout;
pub mod otm;
pub mod threat_dragon;
pub mod tmbom;
pub mod uuid;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::analysis::{self, Analysis, RiskMatrix, ThreatAssessment};
use crate::model::{DataClass, ElementType, Flow, Source, ThreatModel};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    ThreatDragon,
    Otm,
    TmBom,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::ThreatDragon, Format::Otm, Format::TmBom];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::ThreatDragon => "threat-dragon",
            Format::Otm => "otm",
            Format::TmBom => "tm-bom",
        }
    }
}

/// Export `model` in `format`. The analysis embedded in the model is used when there is one
/// (it was computed with the repository's own risk matrix); otherwise it is computed with
/// `matrix`, without a date.
pub fn export(model: &ThreatModel, matrix: &RiskMatrix, format: Format) -> String {
    let analysis = analysis_of(model, matrix);
    let value = match format {
        Format::ThreatDragon => threat_dragon::export(model, &analysis),
        Format::Otm => otm::export(model, &analysis),
        Format::TmBom => tmbom::export(model, &analysis),
    };
    to_pretty(&value)
}

/// The model's own analysis, or a fresh date-free one.
pub fn analysis_of<'m>(model: &'m ThreatModel, matrix: &RiskMatrix) -> Cow<'m, Analysis> {
    match &model.analysis {
        Some(a) => Cow::Borrowed(a),
        None => Cow::Owned(analysis::analyze(model, matrix, None)),
    }
}

/// Pretty JSON (two-space indent) with a final newline.
pub fn to_pretty(value: &Value) -> String {
    // Serialising a `Value` cannot fail.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// How one threat stands on one component, derived as the analysis derives it (without a date,
/// so every acceptance counts as valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PairStatus {
    /// An exposure that nothing covers.
    Open,
    Mitigated,
    Accepted,
    Transferred,
}

impl PairStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PairStatus::Open => "exposed",
            PairStatus::Mitigated => "mitigated",
            PairStatus::Accepted => "accepted",
            PairStatus::Transferred => "transferred",
        }
    }
}

/// Per component, the threats that apply to it with their status: the components an exposure,
/// a mitigation or an acceptance names, and the component a transfer moves a threat away from.
pub fn threats_by_component(model: &ThreatModel) -> BTreeMap<&str, Vec<(&str, PairStatus)>> {
    let mut pairs: BTreeSet<(&str, &str)> = BTreeSet::new();
    pairs.extend(
        model
            .exposures
            .iter()
            .map(|x| (x.link.component.as_str(), x.link.threat.as_str())),
    );
    pairs.extend(
        model
            .mitigations
            .iter()
            .map(|x| (x.link.component.as_str(), x.link.threat.as_str())),
    );
    pairs.extend(
        model
            .acceptances
            .iter()
            .map(|x| (x.link.component.as_str(), x.link.threat.as_str())),
    );
    pairs.extend(
        model
            .transfers
            .iter()
            .map(|x| (x.link.from.as_str(), x.link.threat.as_str())),
    );
    let mut out: BTreeMap<&str, Vec<(&str, PairStatus)>> = BTreeMap::new();
    for (c, t) in pairs {
        out.entry(c)
            .or_default()
            .push((t, pair_status(model, t, c)));
    }
    out
}

/// The status of `threat` on `component`: mitigated, else accepted, else transferred, else open.
pub fn pair_status(model: &ThreatModel, threat: &str, component: &str) -> PairStatus {
    if model
        .mitigations
        .iter()
        .any(|x| x.link.threat == threat && x.link.component == component)
    {
        PairStatus::Mitigated
    } else if model
        .acceptances
        .iter()
        .any(|x| x.link.threat == threat && x.link.component == component)
    {
        PairStatus::Accepted
    } else if model
        .transfers
        .iter()
        .any(|x| x.link.threat == threat && x.link.from == component)
    {
        PairStatus::Transferred
    } else {
        PairStatus::Open
    }
}

/// The analysis of each threat, by id.
pub fn assessments(analysis: &Analysis) -> BTreeMap<&str, &ThreatAssessment> {
    analysis
        .threats
        .iter()
        .map(|t| (t.threat.as_str(), t))
        .collect()
}

/// `path:line` of each source, comma separated.
pub fn locations(sources: &[Source]) -> String {
    sources
        .iter()
        .map(|s| s.location().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the formats want to know about a flow's transport.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowFacts {
    /// `HTTPS`, `gRPC`, ...: the `protocol` attribute, else the first known protocol word in the
    /// details, else empty.
    pub protocol: String,
    /// The `encrypted` attribute, else whether the details name an encrypted transport (TLS,
    /// HTTPS, mTLS, SSH, ...).
    pub encrypted: bool,
    /// The `sensitive` attribute (`has_sensitive_data` in TM-BOM), else false.
    pub sensitive: bool,
    /// The `public` attribute (`isPublicNetwork` in Threat Dragon), else false.
    pub public: bool,
}

/// Protocol words recognised in flow details, with whether they are encrypted. Longer words
/// first, so that `HTTPS` wins over `HTTP`.
const PROTOCOLS: &[(&str, &str, bool)] = &[
    ("https", "HTTPS", true),
    ("mtls", "mTLS", true),
    ("tls", "TLS", true),
    ("ssl", "TLS", true),
    ("wss", "WSS", true),
    ("sftp", "SFTP", true),
    ("ssh", "SSH", true),
    ("grpc", "gRPC", false),
    ("http", "HTTP", false),
    ("websocket", "WebSocket", false),
    ("amqp", "AMQP", false),
    ("mqtt", "MQTT", false),
    ("smtp", "SMTP", false),
    ("sql", "SQL", false),
    ("ftp", "FTP", false),
    ("tcp", "TCP", false),
    ("udp", "UDP", false),
];

pub fn flow_facts(flow: &Flow) -> FlowFacts {
    let custom = &flow.attributes.custom;
    let flag = |key: &str| {
        custom
            .get(key)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
    };
    let words: Vec<String> = flow
        .details
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let found: Vec<&(&str, &str, bool)> = PROTOCOLS
        .iter()
        .filter(|(w, _, _)| words.iter().any(|x| x == w))
        .collect();
    let protocol = custom
        .get("protocol")
        .map(|p| p.trim().to_string())
        .or_else(|| found.first().map(|(_, name, _)| (*name).to_string()))
        .unwrap_or_default();
    let encrypted = flag("encrypted").unwrap_or_else(|| found.iter().any(|(_, _, enc)| *enc));
    FlowFacts {
        protocol,
        encrypted,
        sensitive: flag("sensitive")
            .or_else(|| flag("has_sensitive_data"))
            .unwrap_or(false),
        public: flag("public").unwrap_or(false),
    }
}

/// The data classes some component handles (GuardLink's `@handles`), most sensitive first.
pub fn data_classes(model: &ThreatModel) -> Vec<DataClass> {
    let used: BTreeSet<DataClass> = model
        .components
        .iter()
        .flat_map(|c| c.extra.data.iter().copied())
        .collect();
    let mut used: Vec<DataClass> = used.into_iter().collect();
    used.sort_by_key(|d| d.rank());
    used
}

/// What a data class is called in prose.
pub fn data_title(class: DataClass) -> &'static str {
    match class {
        DataClass::Secrets => "Secrets",
        DataClass::Phi => "Health data (PHI)",
        DataClass::Pii => "Personal data (PII)",
        DataClass::Financial => "Financial data",
        DataClass::Internal => "Internal data",
        DataClass::Public => "Public data",
    }
}

/// The exposures confirmed exploitable (GuardLink's `@confirmed`), as (threat, component).
pub fn confirmed(model: &ThreatModel) -> BTreeSet<(&str, &str)> {
    model
        .exposures
        .iter()
        .filter(|e| e.link.confirmed)
        .map(|e| (e.link.threat.as_str(), e.link.component.as_str()))
        .collect()
}

/// The element type of a component, `process` when none was given.
pub fn element_type(model: &ThreatModel, component: &str) -> ElementType {
    model
        .component(component)
        .and_then(|c| c.attributes.element_type)
        .unwrap_or(ElementType::Process)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attributes, FlowLink, Relation};

    fn flow(details: &str, custom: &[(&str, &str)]) -> Flow {
        Relation {
            id: "a/b".into(),
            link: FlowLink {
                source: "a".into(),
                target: "b".into(),
                bidirectional: false,
                crosses: Vec::new(),
            },
            details: details.into(),
            description: String::new(),
            attributes: Attributes {
                custom: custom
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
                ..Attributes::default()
            },
            sources: Vec::new(),
        }
    }

    #[test]
    fn flow_facts_from_details_and_attributes() {
        let f = flow_facts(&flow("SQL over TLS, sslmode=verify-full", &[]));
        assert_eq!((f.protocol.as_str(), f.encrypted), ("TLS", true));
        let f = flow_facts(&flow("HTTPS/443", &[]));
        assert_eq!((f.protocol.as_str(), f.encrypted), ("HTTPS", true));
        let f = flow_facts(&flow("order.paid events", &[]));
        assert_eq!((f.protocol.as_str(), f.encrypted), ("", false));
        let f = flow_facts(&flow(
            "https",
            &[("encrypted", "false"), ("protocol", "h2")],
        ));
        assert_eq!((f.protocol.as_str(), f.encrypted), ("h2", false));
        // `http` inside another word is not a protocol.
        assert_eq!(flow_facts(&flow("httpd logs", &[])).protocol, "");
    }
}
