//! The living threat model: the types that `threatmodel.json` is made of.
//!
//! These types are a public interface. Field order is the serialisation order, collections are
//! sorted by id, optional fields are omitted when empty, and nothing depends on time, randomness
//! or line numbers except `sources`, so that an unchanged repository yields a byte-identical file
//! and a changed one a readable `git diff`. docs/threatmodel.schema.json is generated from here.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or disappears (adding optional fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// Where something was written: repository-relative path with `/`, 1-based line and column.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, JsonSchema,
)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn new(path: impl Into<String>, line: u32, column: u32) -> Self {
        Self {
            path: path.into(),
            line,
            column,
        }
    }

    /// A location that names a file but no position in it.
    pub fn file(path: &str) -> Self {
        Self::new(path, 0, 0)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.path)
        } else {
            write!(f, "{}:{}:{}", self.path, self.line, self.column)
        }
    }
}

/// An annotation as written, with its location.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Source {
    pub path: String,
    pub line: u32,
    pub column: u32,
    /// The annotation text, from the tag to the end of its line.
    pub annotation: String,
}

impl Source {
    pub fn location(&self) -> Location {
        Location::new(self.path.clone(), self.line, self.column)
    }
}

/// STRIDE categories, in the canonical S-T-R-I-D-E order (which is also their sort order).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stride {
    Spoofing,
    Tampering,
    Repudiation,
    InformationDisclosure,
    DenialOfService,
    ElevationOfPrivilege,
}

impl Stride {
    pub const ALL: [Stride; 6] = [
        Stride::Spoofing,
        Stride::Tampering,
        Stride::Repudiation,
        Stride::InformationDisclosure,
        Stride::DenialOfService,
        Stride::ElevationOfPrivilege,
    ];

    pub fn letter(self) -> char {
        match self {
            Stride::Spoofing => 'S',
            Stride::Tampering => 'T',
            Stride::Repudiation => 'R',
            Stride::InformationDisclosure => 'I',
            Stride::DenialOfService => 'D',
            Stride::ElevationOfPrivilege => 'E',
        }
    }

    /// The English display string (also what Threat Dragon writes in a threat's `type`).
    pub fn title(self) -> &'static str {
        match self {
            Stride::Spoofing => "Spoofing",
            Stride::Tampering => "Tampering",
            Stride::Repudiation => "Repudiation",
            Stride::InformationDisclosure => "Information disclosure",
            Stride::DenialOfService => "Denial of service",
            Stride::ElevationOfPrivilege => "Elevation of privilege",
        }
    }

    pub fn from_letter(c: char) -> Option<Stride> {
        Stride::ALL
            .into_iter()
            .find(|s| s.letter() == c.to_ascii_uppercase())
    }

    /// Accepts a letter or the category in words, in any case, with spaces, `-` or `_`.
    pub fn parse(word: &str) -> Option<Stride> {
        let w = fold_category_word(word);
        Some(match w.as_str() {
            "s" | "spoofing" | "spoof" => Stride::Spoofing,
            "t" | "tampering" | "tamper" => Stride::Tampering,
            "r" | "repudiation" => Stride::Repudiation,
            "i" | "informationdisclosure" | "infodisclosure" | "disclosure" => {
                Stride::InformationDisclosure
            }
            "d" | "denialofservice" | "dos" => Stride::DenialOfService,
            "e"
            | "elevationofprivilege"
            | "elevationofprivileges"
            | "eop"
            | "privilegeescalation" => Stride::ElevationOfPrivilege,
            _ => return None,
        })
    }
}

/// LINDDUN, the privacy threat categories. Written as letters or words (`linddun: L, Dd` or
/// `linddun: linking, data-disclosure`); the letters are two wide where one would be ambiguous
/// (two D's and two N's): L, I, Nr, De, Dd, U, Nc.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Linddun {
    Linking,
    Identifying,
    NonRepudiation,
    Detecting,
    DataDisclosure,
    Unawareness,
    NonCompliance,
}

impl Linddun {
    pub const ALL: [Linddun; 7] = [
        Linddun::Linking,
        Linddun::Identifying,
        Linddun::NonRepudiation,
        Linddun::Detecting,
        Linddun::DataDisclosure,
        Linddun::Unawareness,
        Linddun::NonCompliance,
    ];

    pub fn letter(self) -> &'static str {
        match self {
            Linddun::Linking => "L",
            Linddun::Identifying => "I",
            Linddun::NonRepudiation => "Nr",
            Linddun::Detecting => "De",
            Linddun::DataDisclosure => "Dd",
            Linddun::Unawareness => "U",
            Linddun::NonCompliance => "Nc",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Linddun::Linking => "Linking",
            Linddun::Identifying => "Identifying",
            Linddun::NonRepudiation => "Non-repudiation",
            Linddun::Detecting => "Detecting",
            Linddun::DataDisclosure => "Data disclosure",
            Linddun::Unawareness => "Unawareness",
            Linddun::NonCompliance => "Non-compliance",
        }
    }

    /// A letter (`Dd`) or the category in words (`data-disclosure`), in any case, with spaces,
    /// `-` or `_`. `D` and `N` alone are ambiguous and rejected.
    pub fn parse(word: &str) -> Option<Linddun> {
        let w = fold_category_word(word);
        Some(match w.as_str() {
            "l" | "linking" | "linkability" => Linddun::Linking,
            "i" | "identifying" | "identifiability" => Linddun::Identifying,
            "nr" | "nonrepudiation" => Linddun::NonRepudiation,
            "de" | "detecting" | "detectability" => Linddun::Detecting,
            "dd" | "datadisclosure" | "disclosureofinformation" | "disclosure" => {
                Linddun::DataDisclosure
            }
            "u" | "unawareness" | "unintervenability" => Linddun::Unawareness,
            "nc" | "noncompliance" => Linddun::NonCompliance,
            _ => return None,
        })
    }

    /// Comma-separated letters or words; `None` if any item is not LINDDUN.
    pub fn parse_list(text: &str) -> Option<Vec<Linddun>> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            out.push(Linddun::parse(item)?);
        }
        out.sort();
        out.dedup();
        Some(out)
    }
}

macro_rules! scale {
    ($(#[$meta:meta])* $name:ident { $( $variant:ident = $n:literal, $word:literal $(| $alias:literal)*; )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $( $variant, )* }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            /// Every spelling `parse_word` accepts, words first: the candidates of a did-you-mean.
            pub const SPELLINGS: &'static [&'static str] = &[ $( $word, )* $( $( $alias, )* )* ];
            /// 1-based position on the scale.
            pub fn rank(self) -> u8 { match self { $( $name::$variant => $n, )* } }
            pub fn as_str(self) -> &'static str { match self { $( $name::$variant => $word, )* } }
            pub fn from_rank(n: u8) -> Option<Self> { match n { $( $n => Some($name::$variant), )* _ => None } }
            /// The word, an alias, or the rank as a digit; case and `-`/`_`/space are ignored.
            pub fn parse(s: &str) -> Option<Self> {
                Self::parse_word(s).or_else(|| s.trim().parse::<u8>().ok().and_then(Self::from_rank))
            }
            /// The word or an alias only, for scales whose order means nothing (status, type).
            pub fn parse_word(s: &str) -> Option<Self> {
                let norm: String = s.trim().chars()
                    .map(|c| if c == '_' || c == ' ' { '-' } else { c.to_ascii_lowercase() })
                    .collect();
                match norm.as_str() {
                    $( $word $(| $alias)* => Some($name::$variant), )*
                    _ => None,
                }
            }
            pub fn words() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" | ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

scale! {
    /// How likely a threat is to be realised (OWASP TM-BOM's five-level scale).
    Likelihood {
        Rare = 1, "rare" | "very-low";
        Unlikely = 2, "unlikely" | "low";
        Possible = 3, "possible" | "medium" | "moderate";
        Likely = 4, "likely" | "high";
        Certain = 5, "certain" | "almost-certain" | "very-high";
    }
}

scale! {
    /// How bad it is when a threat is realised.
    Impact {
        Negligible = 1, "negligible" | "very-low";
        Minor = 2, "minor" | "low";
        Moderate = 3, "moderate" | "medium";
        Major = 4, "major" | "high";
        Severe = 5, "severe" | "very-high" | "critical";
    }
}

scale! {
    /// A risk band; also the scale of the `severity` attribute.
    Band {
        VeryLow = 1, "very-low" | "info" | "informational" | "none";
        Low = 2, "low";
        Medium = 3, "medium" | "moderate";
        High = 4, "high";
        Critical = 5, "critical";
    }
}

scale! {
    /// A declared status; the analysis derives the residual status from the relations.
    Status {
        Open = 1, "open" | "exposed";
        Mitigated = 2, "mitigated";
        Accepted = 3, "accepted";
        Transferred = 4, "transferred";
    }
}

scale! {
    /// What a component is, for STRIDE-per-element and for exports.
    ElementType {
        Process = 1, "process" | "service";
        Store = 2, "store" | "datastore" | "data-store" | "database" | "db";
        External = 3, "external" | "external-entity" | "actor";
    }
}

scale! {
    /// What kind of data a component handles (GuardLink's `@handles`), most sensitive first.
    DataClass {
        Secrets = 1, "secrets";
        Phi = 2, "phi";
        Pii = 3, "pii";
        Financial = 4, "financial";
        Internal = 5, "internal";
        Public = 6, "public";
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `[key: value; ...]` attributes of an annotation. Known keys are typed and validated;
/// the rest are kept verbatim in `custom`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stride: Vec<Stride>,
    /// LINDDUN privacy categories (`linddun: L, Dd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linddun: Vec<Linddun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<Likelihood>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `YYYY-MM-DD`, validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub expires: Option<crate::date::Expiry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwe: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capec: Vec<String>,
    /// Id of the threat actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub element_type: Option<ElementType>,
    /// Unknown keys, kept as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
}

impl Attributes {
    pub fn is_empty(&self) -> bool {
        self == &Attributes::default()
    }
}

/// No extra fields: threats and controls.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct NoExtra {}

/// A thing that can be declared with a name: component, boundary, actor, threat or control.
/// `X` holds the fields only some kinds have, serialised before the attributes and sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Entity_{X}")]
pub struct Entity<X = NoExtra> {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// False when the thing only appears by name inside relations and was never declared with
    /// its own tag.
    #[serde(default, skip_serializing_if = "is_false")]
    pub declared: bool,
    /// Created from a bare `#id` that nothing declares or names (TM036), as Threatspec does:
    /// its name is its id. Never `declared`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub placeholder: bool,
    #[serde(flatten)]
    pub extra: X,
    #[serde(flatten)]
    pub attributes: Attributes,
    pub sources: Vec<Source>,
}

/// Fields of a component. `Shop:API:Checkout` is a child of `Shop:API`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ComponentExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The innermost trust boundary the component sits in, declared or inherited from a parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// Teams that own it (GuardLink's `@owns team for ASSET`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// The classes of data it handles (GuardLink's `@handles pii on ASSET`), most sensitive first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataClass>,
}

/// Fields of a trust boundary. Boundaries nest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct BoundaryExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Components whose innermost boundary is this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The two components this boundary separates (GuardLink's `@boundary between A and B`):
    /// a flow between them crosses it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub between: Vec<String>,
}

/// Fields of a threat actor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ActorExtra {
    /// The innermost trust boundary the actor is placed in (`@actor Name in #boundary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
}

/// A component: a process, a store or an external entity.
pub type Component = Entity<ComponentExtra>;
/// A threat actor.
pub type Actor = Entity<ActorExtra>;
/// A trust boundary.
pub type Boundary = Entity<BoundaryExtra>;

/// A relation between entities, keyed by a stable id built from the ids it links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Relation_{T}")]
pub struct Relation<T> {
    pub id: String,
    #[serde(flatten)]
    pub link: T,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(flatten)]
    pub attributes: Attributes,
    pub sources: Vec<Source>,
}

/// `@mitigates COMPONENT against THREAT with CONTROL`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct MitigationLink {
    pub component: String,
    pub threat: String,
    pub control: String,
}

/// `@exposes COMPONENT to THREAT with DETAILS`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct ExposureLink {
    pub component: String,
    pub threat: String,
    /// Verified exploitable (GuardLink's `@confirmed THREAT on ASSET`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub confirmed: bool,
}

/// `@accepts THREAT to COMPONENT with DETAILS`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct AcceptanceLink {
    pub threat: String,
    pub component: String,
}

/// `@transfers THREAT from COMPONENT to COMPONENT with DETAILS`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct TransferLink {
    pub threat: String,
    pub from: String,
    pub to: String,
}

/// `@connects SOURCE to|with TARGET with DETAILS`: a data flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct FlowLink {
    pub source: String,
    pub target: String,
    /// `with` instead of `to`: data goes both ways.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bidirectional: bool,
    /// Boundaries this flow leaves or enters, outermost first; empty when it stays inside one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crosses: Vec<String>,
}

impl FlowLink {
    pub fn is_crossing(&self) -> bool {
        !self.crosses.is_empty()
    }
}

/// `@review COMPONENT DETAILS`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct ReviewLink {
    pub component: String,
}

/// `@tests CONTROL for COMPONENT`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct TestLink {
    pub control: String,
    pub component: String,
}

/// GuardLink's `@entitles ACTOR to capability on ASSET against THREAT`: an actor is allowed
/// to do what would otherwise be a threat.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct EntitlementLink {
    pub actor: String,
    pub capability: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat: Option<String>,
}

/// GuardLink's `@assumes ASSET -- "what"`: an assumption about a component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct AssumptionLink {
    pub component: String,
}

/// GuardLink's `@feature "Name"`: the files that implement a feature.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct FeatureLink {
    pub name: String,
}

pub type Mitigation = Relation<MitigationLink>;
pub type Entitlement = Relation<EntitlementLink>;
pub type Assumption = Relation<AssumptionLink>;
pub type Feature = Relation<FeatureLink>;
pub type Exposure = Relation<ExposureLink>;
pub type Acceptance = Relation<AcceptanceLink>;
pub type Transfer = Relation<TransferLink>;
pub type Flow = Relation<FlowLink>;
pub type Review = Relation<ReviewLink>;
pub type Test = Relation<TestLink>;

/// Project metadata from threatmark.toml (or the folder name).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Project {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The whole model. Every list is sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ThreatModel {
    pub schema_version: u32,
    pub project: Project,
    #[serde(default)]
    pub components: Vec<Component>,
    #[serde(default)]
    pub boundaries: Vec<Boundary>,
    #[serde(default)]
    pub actors: Vec<Actor>,
    #[serde(default)]
    pub threats: Vec<Entity>,
    #[serde(default)]
    pub controls: Vec<Entity>,
    #[serde(default)]
    pub mitigations: Vec<Mitigation>,
    #[serde(default)]
    pub exposures: Vec<Exposure>,
    #[serde(default)]
    pub acceptances: Vec<Acceptance>,
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    #[serde(default)]
    pub flows: Vec<Flow>,
    #[serde(default)]
    pub reviews: Vec<Review>,
    #[serde(default)]
    pub tests: Vec<Test>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<Entitlement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<Assumption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// `@dismisses`: suggestions of the threat library not followed, sorted by rule, element
    /// and place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dismissals: Vec<RuleDismissal>,
    /// Derived by `analysis::analyze` without a date (see docs/analysis.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::analysis::Analysis>,
}

/// `@dismisses RULE on ELEMENT with REASON`: a suggestion of `threatmark suggest` considered
/// and not followed. Not a threat and not a relation: `suggest` reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct RuleDismissal {
    /// A rule id of the threat library (`datastore.backup`).
    pub rule: String,
    /// A component or flow id, or `*` for every element.
    pub on: String,
    pub reason: String,
    pub source: Source,
}

/// How a flow's name shows its direction when it has no details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrow {
    /// Always `→`: the exchange formats, whose flows carry their own direction field.
    Forward,
    /// `↔` for a bidirectional flow, else `→`: reports and diagrams.
    Direction,
}

impl ThreatModel {
    /// A flow's name: its details, else its ends' names joined by an arrow.
    pub fn flow_name(&self, flow: &Flow, arrow: Arrow) -> String {
        let details = flow.details.trim();
        if !details.is_empty() {
            return details.to_string();
        }
        let name = |id: &str| {
            self.component(id)
                .map_or(id, |c| c.name.as_str())
                .to_string()
        };
        let sign = match arrow {
            Arrow::Direction if flow.link.bidirectional => "↔",
            _ => "→",
        };
        format!(
            "{} {sign} {}",
            name(&flow.link.source),
            name(&flow.link.target)
        )
    }

    pub fn component(&self, id: &str) -> Option<&Component> {
        find(&self.components, id, |c| &c.id)
    }
    pub fn boundary(&self, id: &str) -> Option<&Boundary> {
        find(&self.boundaries, id, |b| &b.id)
    }
    pub fn threat(&self, id: &str) -> Option<&Entity> {
        find(&self.threats, id, |t| &t.id)
    }
    pub fn control(&self, id: &str) -> Option<&Entity> {
        find(&self.controls, id, |t| &t.id)
    }
    pub fn actor(&self, id: &str) -> Option<&Actor> {
        find(&self.actors, id, |t| &t.id)
    }

    /// Counts per kind, in a fixed order, for summaries. GuardLink's kinds (entitlements,
    /// assumptions, features) are listed only when the model has some, so summaries of every
    /// other model read as before.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts = vec![
            ("components", self.components.len()),
            ("boundaries", self.boundaries.len()),
            ("actors", self.actors.len()),
            ("threats", self.threats.len()),
            ("controls", self.controls.len()),
            ("mitigations", self.mitigations.len()),
            ("exposures", self.exposures.len()),
            ("acceptances", self.acceptances.len()),
            ("transfers", self.transfers.len()),
            ("flows", self.flows.len()),
            ("reviews", self.reviews.len()),
            ("tests", self.tests.len()),
        ];
        for (kind, n) in [
            ("entitlements", self.entitlements.len()),
            ("assumptions", self.assumptions.len()),
            ("features", self.features.len()),
        ] {
            if n > 0 {
                counts.push((kind, n));
            }
        }
        counts
    }
}

/// Lists are sorted by id, so lookups are binary searches.
fn find<'a, T>(items: &'a [T], id: &str, key: impl Fn(&T) -> &String) -> Option<&'a T> {
    items
        .binary_search_by(|item| key(item).as_str().cmp(id))
        .ok()
        .map(|i| &items[i])
}

/// A category written as a letter or in words, lowercased with spaces, `-` and `_` dropped, so
/// `Information Disclosure`, `information-disclosure` and `informationdisclosure` read alike.
fn fold_category_word(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flow_name_for_reports_and_exports() {
        let flow = |details: &str, bidirectional: bool| -> Flow {
            serde_json::from_value(serde_json::json!({
                "id": "f", "source": "a", "target": "b", "bidirectional": bidirectional,
                "details": details, "sources": [],
            }))
            .expect("a flow")
        };
        let model = ThreatModel::default();
        let both = flow("", true);
        assert_eq!(model.flow_name(&both, Arrow::Direction), "a ↔ b");
        assert_eq!(model.flow_name(&both, Arrow::Forward), "a → b");
        assert_eq!(model.flow_name(&flow("", false), Arrow::Direction), "a → b");
        assert_eq!(
            model.flow_name(&flow(" TLS ", true), Arrow::Direction),
            "TLS"
        );
        assert_eq!(
            model.flow_name(&flow("  ", false), Arrow::Direction),
            "a → b"
        );
    }
}
