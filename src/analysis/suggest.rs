//! The threat library and the matcher behind `threatmark suggest`: what the model is missing,
//! proposed from the facts the annotations already give (element type, `tech:` attribute, data
//! classes from `@handles`, boundary crossings, controls in place).
//!
//! Rules are data (library/*.toml, one file per family, embedded in the binary; users add or
//! override rules with `[library] paths`), parsed into typed [`Rule`]s that reject unknown keys.
//! The matcher is pure: model, rules, risk matrix and dismissals in; suggestions out, ranked by
//! the risk the rule assigns, then by rule and element id, so the output never depends on the
//! order files were read in. Suggestions are never threats: they are not in the model, the
//! analysis or the gate.
//!
//! @threat Hostile rule file (#hostile_rule_file) [stride: T,D; likelihood: unlikely; impact: minor]: a user rule file with unknown keys, a duplicate id or broken TOML silently changes or empties what `suggest` proposes
//! @control Validated rule files (#validated_rules): rule files are parsed with unknown keys rejected; bad TOML, unknown keys, bad STRIDE letters and duplicate ids are TM058 naming the file, and the rule is left out
//! @mitigates #cli against #hostile_rule_file with #validated_rules

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::RiskMatrix;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    Band, Component, DataClass, ElementType, Entity, Impact, Likelihood, Linddun, Location, Stride,
    ThreatModel,
};

/// The families embedded in the binary, in the order `library list` prints them.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("web", include_str!("../../library/web.toml")),
    ("datastore", include_str!("../../library/datastore.toml")),
    ("queue", include_str!("../../library/queue.toml")),
    ("storage", include_str!("../../library/storage.toml")),
    ("secrets", include_str!("../../library/secrets.toml")),
    ("kubernetes", include_str!("../../library/kubernetes.toml")),
    ("serverless", include_str!("../../library/serverless.toml")),
    ("iac", include_str!("../../library/iac.toml")),
    ("cicd", include_str!("../../library/cicd.toml")),
    ("flow", include_str!("../../library/flow.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

/// One rule of the library, as written in TOML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `family.name`.
    pub id: String,
    pub title: String,
    /// STRIDE letters or words, comma separated (`"T, I"`).
    pub stride: String,
    /// LINDDUN letters, shown for elements that handle personal data.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub linddun: String,
    #[serde(default)]
    pub cwe: Vec<String>,
    #[serde(default)]
    pub capec: Vec<String>,
    pub likelihood: Likelihood,
    pub impact: Impact,
    /// With `{name}`, `{id}`, `{kind}`, `{tech}`, `{data}` and `{crosses}` filled in.
    pub rationale: String,
    /// Controls that would address it, in words.
    #[serde(default)]
    pub controls: Vec<String>,
    /// The `@threat` line to paste, with `{threat}` (the suggested id), `{title}`, `{name}`
    /// and `{attrs}` filled in; by default `@threat {title} on {name} ({threat}) [{attrs}]`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotation: String,
    #[serde(default)]
    pub when: When,
    #[serde(default)]
    pub silenced_by: Silence,
    #[serde(default)]
    pub fixtures: Fixtures,
    /// Where the rule was read from (`builtin:web` or a path); not written in TOML.
    #[serde(skip)]
    pub origin: String,
}

/// The conditions on an element's facts; every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct When {
    /// Any of `process`, `store`, `external`, `flow`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<ElementKindWord>,
    /// Any of these `tech:` values (a flow also has its ends' values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tech: Vec<String>,
    /// Any of these data classes (`@handles`; a flow carries its ends' classes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataClass>,
    /// The element crosses (a flow) or is at the end of a flow that crosses a trust boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crosses: Option<bool>,
    /// `in`: data enters a boundary the element is in; `out`: leaves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Every pattern matches a control on the element.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// Any of `network`, `local`: what a flow travels over (flows only; a component never
    /// matches). See [`medium_of`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub medium: Vec<Medium>,
}

/// What a flow travels over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    /// A network: what the rules about transit (TLS, replay, spoofed sources) are about.
    Network,
    /// The same machine: a file, a pipe, stdin/stdout, the environment, a child process.
    Local,
}

/// Words of a flow's `with` text, `tech:` or `protocol:` that say it is on the network; they
/// win over [`LOCAL_WORDS`] (`file upload over HTTPS` is on the network).
const NETWORK_WORDS: &[&str] = &[
    "http",
    "https",
    "tls",
    "mtls",
    "ssl",
    "grpc",
    "tcp",
    "udp",
    "quic",
    "websocket",
    "websockets",
    "wss",
    "ws",
    "fetch",
    "rest",
    "api",
    "graphql",
    "amqp",
    "mqtt",
    "kafka",
    "smtp",
    "imap",
    "dns",
    "ssh",
    "sftp",
    "ftp",
    "network",
    "internet",
    "webhook",
    "webhooks",
    "rpc",
    "soap",
    "oauth",
    "ldap",
    "jdbc",
    "odbc",
    "sql",
    "redis",
    "s3",
    "sqs",
    "sns",
];

/// Words (or, for the longer ones, parts of words: `readFileSync`) that say a flow stays on
/// the machine.
const LOCAL_WORDS: &[&str] = &[
    "fs",
    "disk",
    "local",
    "env",
    "environ",
    "pipe",
    "ipc",
    "tty",
    "tui",
    "cli",
    "argv",
    "memory",
    "in-process",
    "inprocess",
    "clipboard",
    "volume",
    "mount",
];
const LOCAL_PARTS: &[&str] = &[
    "file", "stdin", "stdout", "stderr", "stdio", "spawn", "execfile", "dotenv", "sidecar",
];

/// A flow's medium: its `medium:` attribute when it has one (`network` or `local`);
/// otherwise `local` when the words of its `with` text, `tech:` and `protocol:` name only
/// local things (a file, a pipe, stdin, the environment), and `network` in every other case,
/// including a flow that says nothing: a flow across a trust boundary is on a network unless
/// it says otherwise.
pub(crate) fn medium_of(flow: &crate::model::Flow) -> Medium {
    let custom = &flow.attributes.custom;
    if let Some(m) = custom.get("medium") {
        match m.trim().to_ascii_lowercase().as_str() {
            "local" | "host" | "filesystem" | "file" | "process" => return Medium::Local,
            "network" | "net" | "wire" => return Medium::Network,
            _ => {}
        }
    }
    let text = [
        flow.details.as_str(),
        custom.get("tech").map_or("", String::as_str),
        custom.get("protocol").map_or("", String::as_str),
    ]
    .join(" ")
    .to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| NETWORK_WORDS.contains(w)) {
        return Medium::Network;
    }
    let local = words
        .iter()
        .any(|w| LOCAL_WORDS.contains(w) || LOCAL_PARTS.iter().any(|p| w.contains(p)));
    if local {
        Medium::Local
    } else {
        Medium::Network
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKindWord {
    Process,
    Store,
    External,
    Flow,
}

impl ElementKindWord {
    fn as_str(self) -> &'static str {
        match self {
            ElementKindWord::Process => "process",
            ElementKindWord::Store => "store",
            ElementKindWord::External => "external",
            ElementKindWord::Flow => "flow",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// What silences a rule on an element besides a covered threat of its STRIDE.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Silence {
    /// A control on the element whose id, name or `tag:` matches one of these (`*` wildcards,
    /// case ignored).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
}

/// Annotation lines the rule's tests run on: `fires` must produce the suggestion and `fires`
/// followed by `silenced` must not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fixtures {
    pub fires: String,
    pub silenced: String,
}

impl Rule {
    pub(crate) fn strides(&self) -> Vec<Stride> {
        let mut s: Vec<Stride> = self
            .stride
            .split(',')
            .filter_map(|w| Stride::parse(w.trim()))
            .collect();
        s.sort();
        s.dedup();
        s
    }

    /// The rule's LINDDUN categories (empty when it names none or they do not parse).
    pub(crate) fn linddun_letters(&self) -> Vec<Linddun> {
        Linddun::parse_list(&self.linddun).unwrap_or_default()
    }

    fn family(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }

    /// What is wrong with a parsed rule, for TM058.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let (family, name) = self.id.split_once('.').unwrap_or(("", ""));
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !word(family) || !word(name) {
            out.push(format!(
                "the id `{}` is not `family.name` (lowercase letters, digits and `_`)",
                self.id
            ));
        }
        let bad: Vec<&str> = self
            .stride
            .split(',')
            .map(str::trim)
            .filter(|w| Stride::parse(w).is_none())
            .collect();
        if !bad.is_empty() {
            out.push(format!("`stride` has values that are not STRIDE: {bad:?}"));
        }
        if Linddun::parse_list(&self.linddun).is_none() {
            out.push(format!(
                "`linddun` has values that are not LINDDUN (L, I, Nr, De, Dd, U, Nc): {:?}",
                self.linddun
            ));
        }
        if self.title.trim().is_empty() {
            out.push("the title is empty".to_string());
        }
        out
    }
}

/// The rules in use, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub rules: Vec<Rule>,
}

/// Parse one rule file. Problems are TM058 at `path`; a rule with a problem is left out.
pub(crate) fn parse_file(origin: &str, path: &str, text: &str) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let file: RuleFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::InvalidLibraryRule,
                    format!(
                        "the rule file cannot be read: {}",
                        e.message().trim_end_matches('\n')
                    ),
                )
                .at(Location::file(path)),
            );
            return (Vec::new(), diags);
        }
    };
    let mut rules = Vec::new();
    for mut rule in file.rules {
        let problems = rule.problems();
        if problems.is_empty() {
            rule.origin = origin.to_string();
            rules.push(rule);
        } else {
            for p in problems {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidLibraryRule,
                        format!("rule `{}` is left out: {p}", rule.id),
                    )
                    .at(Location::file(path)),
                );
            }
        }
    }
    (rules, diags)
}

impl Library {
    /// The embedded families only.
    pub fn builtin() -> Library {
        Library::with_user(&[]).0
    }

    /// The embedded families, then user files (`(path, text)`) in the order given. A user rule
    /// with a builtin id replaces it (TM060, a note); the same id twice among user files is
    /// TM058 and the first one is kept.
    pub fn with_user(files: &[(String, String)]) -> (Library, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut by_id: BTreeMap<String, Rule> = BTreeMap::new();
        for (family, text) in BUILTIN {
            let path = format!("builtin:{family}");
            let (rules, d) = parse_file(&path, &path, text);
            diags.extend(d);
            for r in rules {
                by_id.insert(r.id.clone(), r);
            }
        }
        let mut user_ids: BTreeMap<String, String> = BTreeMap::new();
        for (path, text) in files {
            let (rules, d) = parse_file(path, path, text);
            diags.extend(d);
            for r in rules {
                if let Some(first) = user_ids.get(&r.id) {
                    diags.push(
                        Diagnostic::new(
                            Code::InvalidLibraryRule,
                            format!(
                                "rule `{}` is defined twice; the one in {first} is kept",
                                r.id
                            ),
                        )
                        .at(Location::file(path)),
                    );
                    continue;
                }
                if by_id.contains_key(&r.id) {
                    diags.push(
                        Diagnostic::new(
                            Code::OverriddenLibraryRule,
                            format!("rule `{}` replaces the builtin rule of that id", r.id),
                        )
                        .at(Location::file(path)),
                    );
                }
                user_ids.insert(r.id.clone(), path.clone());
                by_id.insert(r.id.clone(), r);
            }
        }
        (
            Library {
                rules: by_id.into_values().collect(),
            },
            diags,
        )
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules
            .binary_search_by(|r| r.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.rules[i])
    }
}

/// A decision to not follow a suggestion: `[[suggest.dismiss]]` in threatmark.toml, or an
/// `@dismisses RULE on ELEMENT with REASON` annotation (the model's `dismissals`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dismissal {
    pub rule: String,
    /// The element id (component or flow); `*` for every element.
    pub on: String,
    pub reason: String,
    /// Where it was written: the annotation's place; `None` for threatmark.toml.
    #[serde(skip)]
    pub at: Option<Location>,
}

impl Dismissal {
    /// `path:line` of the annotation, or `threatmark.toml`.
    fn place(&self) -> String {
        match &self.at {
            Some(l) => format!("{}:{}", l.path, l.line),
            None => "threatmark.toml".to_string(),
        }
    }

    fn location(&self) -> Location {
        self.at
            .clone()
            .unwrap_or_else(|| Location::file("threatmark.toml"))
    }

    fn applies(&self, rule: &str, element: &str) -> bool {
        self.rule == rule && (self.on == element || self.on == "*")
    }
}

/// The element a suggestion is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Target {
    /// `process`, `store`, `external` or `flow`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

/// One candidate threat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub rule: String,
    pub title: String,
    pub element: Target,
    pub stride: Vec<Stride>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub linddun: String,
    pub cwe: Vec<String>,
    pub capec: Vec<String>,
    pub likelihood: Likelihood,
    pub impact: Impact,
    pub score: u8,
    pub band: Band,
    pub rationale: String,
    pub controls: Vec<String>,
    /// Lines to paste into a comment: the `@threat` and its `@exposes`.
    pub annotation: Vec<String>,
    /// The reason given when dismissed; dismissed suggestions are listed, not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<String>,
    /// Where it was dismissed: `path:line` of the `@dismisses`, or `threatmark.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed_at: Option<String>,
    /// The component whose page shows it: the element, or a flow's target (where the
    /// `@exposes` goes).
    #[serde(skip)]
    pub component: String,
}

/// What `suggest` returns: suggestions ranked, plus problems with the dismissals.
#[derive(Debug, Clone, Default)]
pub struct Suggestions {
    pub items: Vec<Suggestion>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Suggestions {
    /// Suggestions not dismissed.
    pub fn open(&self) -> usize {
        self.items.iter().filter(|s| s.dismissed.is_none()).count()
    }
}

/// The facts of one element the conditions look at.
struct Facts<'m> {
    target: Target,
    kind: ElementKindWord,
    tech: BTreeSet<String>,
    data: BTreeSet<DataClass>,
    crosses: BTreeSet<&'m str>,
    inbound: bool,
    outbound: bool,
    controls: BTreeSet<&'m str>,
    /// The threats exposed, mitigated, accepted or transferred on the element.
    covered: BTreeSet<&'m str>,
    /// A flow's medium; `None` for a component.
    medium: Option<Medium>,
    /// The component an `@exposes` goes on (a flow's target).
    exposes: &'m str,
}

fn tech_of(attrs: &crate::model::Attributes) -> impl Iterator<Item = String> + '_ {
    attrs
        .custom
        .get("tech")
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

struct Index<'m> {
    model: &'m ThreatModel,
    controls: BTreeMap<&'m str, BTreeSet<&'m str>>,
    covered: BTreeMap<&'m str, BTreeSet<&'m str>>,
}

impl<'m> Index<'m> {
    fn of(model: &'m ThreatModel) -> Self {
        let mut controls: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut covered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut cover = |component: &'m str, threat: &'m str| {
            covered.entry(component).or_default().insert(threat);
        };
        for m in &model.mitigations {
            controls
                .entry(m.link.component.as_str())
                .or_default()
                .insert(m.link.control.as_str());
            cover(m.link.component.as_str(), &m.link.threat);
        }
        // A declared exposure is covered too: the model knows the threat and the gate tracks it
        // (a pasted suggestion must not stay suggested).
        for x in &model.exposures {
            cover(x.link.component.as_str(), &x.link.threat);
        }
        for a in &model.acceptances {
            cover(a.link.component.as_str(), &a.link.threat);
        }
        for t in &model.transfers {
            cover(t.link.from.as_str(), &t.link.threat);
        }
        Index {
            model,
            controls,
            covered,
        }
    }

    /// The boundary a component sits in and every boundary around it.
    fn boundaries(&self, component: &str) -> BTreeSet<&'m str> {
        let mut out = BTreeSet::new();
        let mut next = self
            .model
            .component(component)
            .and_then(|c| c.extra.boundary.as_deref());
        while let Some(b) = next {
            if !out.insert(b) {
                break;
            }
            next = self
                .model
                .boundary(b)
                .and_then(|b| b.extra.parent.as_deref());
        }
        out
    }

    fn component_facts(&self, c: &'m Component) -> Option<Facts<'m>> {
        let kind = match c.attributes.element_type? {
            ElementType::Process => ElementKindWord::Process,
            ElementType::Store => ElementKindWord::Store,
            ElementType::External => ElementKindWord::External,
        };
        let mut crosses = BTreeSet::new();
        let (mut inbound, mut outbound) = (false, false);
        for f in &self.model.flows {
            if !f.link.is_crossing() {
                continue;
            }
            let is_source = f.link.source == c.id;
            let is_target = f.link.target == c.id;
            if !is_source && !is_target {
                continue;
            }
            crosses.extend(f.link.crosses.iter().map(String::as_str));
            inbound |= is_target || f.link.bidirectional;
            outbound |= is_source || f.link.bidirectional;
        }
        Some(Facts {
            target: Target {
                kind: kind.as_str(),
                id: c.id.clone(),
                name: c.name.clone(),
            },
            kind,
            tech: tech_of(&c.attributes).collect(),
            data: c.extra.data.iter().copied().collect(),
            crosses,
            inbound,
            outbound,
            controls: self
                .controls
                .get(c.id.as_str())
                .cloned()
                .unwrap_or_default(),
            covered: self.covered.get(c.id.as_str()).cloned().unwrap_or_default(),
            medium: None,
            exposes: c.id.as_str(),
        })
    }

    fn flow_facts(&self, f: &'m crate::model::Flow) -> Facts<'m> {
        let ends = [f.link.source.as_str(), f.link.target.as_str()];
        let mut tech: BTreeSet<String> = tech_of(&f.attributes).collect();
        let mut data = BTreeSet::new();
        let mut controls = BTreeSet::new();
        let mut covered = BTreeSet::new();
        for end in ends {
            if let Some(c) = self.model.component(end) {
                tech.extend(tech_of(&c.attributes));
                data.extend(c.extra.data.iter().copied());
            }
            controls.extend(self.controls.get(end).into_iter().flatten().copied());
            covered.extend(self.covered.get(end).into_iter().flatten().copied());
        }
        let crosses: BTreeSet<&str> = f.link.crosses.iter().map(String::as_str).collect();
        let into = |end: &str| !self.boundaries(end).is_disjoint(&crosses);
        let (to_target, to_source) = (into(ends[1]), into(ends[0]));
        Facts {
            target: Target {
                kind: "flow",
                id: f.id.clone(),
                name: self.model.flow_name(f, crate::model::Arrow::Direction),
            },
            kind: ElementKindWord::Flow,
            tech,
            data,
            inbound: to_target || (f.link.bidirectional && to_source),
            outbound: to_source || (f.link.bidirectional && to_target),
            crosses,
            controls,
            covered,
            medium: Some(medium_of(f)),
            exposes: ends[1],
        }
    }
}

/// `*` matches any run of characters; case is ignored.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn control_matches(control: Option<&Entity>, id: &str, pattern: &str) -> bool {
    if wildcard(pattern, id) {
        return true;
    }
    let Some(c) = control else { return false };
    wildcard(pattern, &c.name)
        || c.attributes
            .custom
            .get("tag")
            .into_iter()
            .flat_map(|t| t.split(','))
            .any(|t| wildcard(pattern, t.trim()))
}

impl Facts<'_> {
    fn has_control(&self, model: &ThreatModel, pattern: &str) -> bool {
        self.controls
            .iter()
            .any(|id| control_matches(model.control(id), id, pattern))
    }

    fn matches(&self, model: &ThreatModel, when: &When) -> bool {
        (when.kind.is_empty() || when.kind.contains(&self.kind))
            && (when.tech.is_empty()
                || when
                    .tech
                    .iter()
                    .any(|t| self.tech.contains(&t.to_ascii_lowercase())))
            && (when.data.is_empty() || when.data.iter().any(|d| self.data.contains(d)))
            && when.crosses.is_none_or(|c| c != self.crosses.is_empty())
            && when.direction.is_none_or(|d| match d {
                Direction::In => self.inbound,
                Direction::Out => self.outbound,
            })
            && when.controls.iter().all(|p| self.has_control(model, p))
            && (when.medium.is_empty() || self.medium.is_some_and(|m| when.medium.contains(&m)))
    }

    fn silenced(&self, model: &ThreatModel, rule: &Rule, stride: &[Stride]) -> bool {
        self.covered
            .iter()
            .filter_map(|t| model.threat(t))
            .any(|t| covers(rule, stride, t))
            || rule
                .silenced_by
                .controls
                .iter()
                .any(|p| self.has_control(model, p))
    }

    fn fill(&self, template: &str) -> String {
        let join = |items: Vec<String>| {
            if items.is_empty() {
                "-".to_string()
            } else {
                items.join(", ")
            }
        };
        template
            .replace("{name}", &self.target.name)
            .replace("{id}", &self.target.id)
            .replace("{kind}", self.kind.as_str())
            .replace("{tech}", &join(self.tech.iter().cloned().collect()))
            .replace(
                "{data}",
                &join(self.data.iter().map(|d| d.as_str().to_string()).collect()),
            )
            .replace(
                "{crosses}",
                &join(self.crosses.iter().map(|b| format!("`{b}`")).collect()),
            )
    }
}

/// The numbers of `CWE-89`-style ids (`89`, `cwe-89` and `CWE-89` are the same weakness).
fn numbers<'a>(ids: &'a [String], prefix: &'a str) -> BTreeSet<String> {
    ids.iter()
        .map(|v| {
            let v = v.trim().to_ascii_uppercase();
            v.strip_prefix(prefix)
                .map_or(v.as_str(), |r| r.trim_start_matches(['-', ' ']))
                .to_string()
        })
        .collect()
}

/// Whether a threat the model already handles on an element is the rule's threat, so the rule
/// is silent there. It is when it names one of the rule's CWE or CAPEC ids, or when its STRIDE
/// letters include every letter of the rule (one shared letter is not enough: spoofing and
/// elevation on an admin page say nothing about injection there), or its LINDDUN letters every
/// LINDDUN letter of the rule.
fn covers(rule: &Rule, stride: &[Stride], threat: &Entity) -> bool {
    let (rule_cwe, rule_capec) = (numbers(&rule.cwe, "CWE"), numbers(&rule.capec, "CAPEC"));
    let a = &threat.attributes;
    let (cwe, capec) = (numbers(&a.cwe, "CWE"), numbers(&a.capec, "CAPEC"));
    if !rule_cwe.is_disjoint(&cwe) || !rule_capec.is_disjoint(&capec) {
        return true;
    }
    let letters = !stride.is_empty() && stride.iter().all(|s| a.stride.contains(s));
    let linddun = rule.linddun_letters();
    letters || (!linddun.is_empty() && linddun.iter().all(|l| a.linddun.contains(l)))
}

/// An id made of the element's id and the rule's name, valid as a `#id`.
fn threat_id(element: &str, rule: &str) -> String {
    let name = rule.split_once('.').map_or(rule, |(_, n)| n);
    let element: String = element
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{element}_{name}")
}

/// Every suggestion of `library` for `model`, ranked by risk (highest first), then by rule id
/// and element id. Elements without a `type` are skipped: their facts are unknown.
pub fn suggest(
    model: &ThreatModel,
    library: &Library,
    matrix: &RiskMatrix,
    dismissals: &[Dismissal],
) -> Suggestions {
    let index = Index::of(model);
    let facts: Vec<Facts<'_>> = model
        .components
        .iter()
        .filter_map(|c| index.component_facts(c))
        .chain(model.flows.iter().map(|f| index.flow_facts(f)))
        .collect();
    let mut out = Suggestions::default();
    let dismissals: Vec<Dismissal> = dismissals
        .iter()
        .cloned()
        .chain(model.dismissals.iter().map(|d| Dismissal {
            rule: d.rule.clone(),
            on: d.on.clone(),
            reason: d.reason.clone(),
            at: Some(Location::new(
                &d.source.path,
                d.source.line,
                d.source.column,
            )),
        }))
        .collect();
    let dismissals = dismissals.as_slice();
    let mut known = Vec::new();
    for d in dismissals {
        if library.rule(&d.rule).is_none() {
            out.diagnostics.push(
                Diagnostic::new(
                    Code::UnknownDismissal,
                    format!(
                        "a dismissal names the rule `{}`, which no library has",
                        d.rule
                    ),
                )
                .at(d.location())
                .help("`threatmark library list` prints the rule ids"),
            );
        } else if d.on != "*" && !facts.iter().any(|f| f.target.id == d.on) {
            out.diagnostics.push(
                Diagnostic::new(
                    Code::UnknownDismissal,
                    format!(
                        "a dismissal of `{}` names the element `{}`, which is no typed component or flow",
                        d.rule, d.on
                    ),
                )
                .at(d.location())
                .help("`threatmark suggest --format json` prints the element ids (`element.id`)"),
            );
        } else {
            known.push(d);
        }
    }
    for rule in &library.rules {
        let stride = rule.strides();
        for f in &facts {
            if !f.matches(model, &rule.when) || f.silenced(model, rule, &stride) {
                continue;
            }
            out.items
                .push(suggestion(rule, &stride, f, matrix, dismissals));
        }
    }
    for d in known {
        if !out.items.iter().any(|s| d.applies(&s.rule, &s.element.id)) {
            out.diagnostics.push(
                Diagnostic::new(
                    Code::UnusedDismissal,
                    format!(
                        "the dismissal of `{}` on `{}` matches no suggestion",
                        d.rule, d.on
                    ),
                )
                .at(d.location())
                .help("the rule proposes nothing there any more; remove the dismissal"),
            );
        }
    }
    out.items.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.element.id.cmp(&b.element.id))
    });
    out
}

fn suggestion(
    rule: &Rule,
    stride: &[Stride],
    f: &Facts<'_>,
    matrix: &RiskMatrix,
    dismissals: &[Dismissal],
) -> Suggestion {
    let score = matrix.score(rule.likelihood, rule.impact);
    let dismissal = dismissals
        .iter()
        .find(|d| d.applies(&rule.id, &f.target.id));
    let personal = f.data.contains(&DataClass::Pii) || f.data.contains(&DataClass::Phi);
    let letters: String = stride
        .iter()
        .map(|s| s.letter().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let id = threat_id(&f.target.id, &rule.id);
    let linddun = if personal {
        rule.linddun_letters()
            .iter()
            .map(|l| l.letter())
            .collect::<Vec<_>>()
            .join(",")
    } else {
        String::new()
    };
    let mut attrs = vec![format!("stride: {letters}")];
    if !linddun.is_empty() {
        attrs.push(format!("linddun: {linddun}"));
    }
    if !rule.cwe.is_empty() {
        attrs.push(format!("cwe: {}", rule.cwe.join(",")));
    }
    if !rule.capec.is_empty() {
        attrs.push(format!("capec: {}", rule.capec.join(",")));
    }
    attrs.push(format!("likelihood: {}", rule.likelihood));
    attrs.push(format!("impact: {}", rule.impact));
    let template = if rule.annotation.is_empty() {
        "@threat {title} on {name} ({threat}) [{attrs}]"
    } else {
        rule.annotation.as_str()
    };
    let head = template
        .replace("{title}", &rule.title)
        .replace("{name}", &f.target.name)
        .replace("{threat}", &format!("#{id}"))
        .replace("{attrs}", &attrs.join("; "));
    Suggestion {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        element: f.target.clone(),
        stride: stride.to_vec(),
        linddun,
        cwe: rule.cwe.clone(),
        capec: rule.capec.clone(),
        likelihood: rule.likelihood,
        impact: rule.impact,
        score,
        band: matrix.band(score),
        rationale: f.fill(&rule.rationale),
        controls: rule.controls.clone(),
        annotation: vec![
            head,
            format!(
                "@exposes #{} to #{id} with suggested by {}",
                f.exposes, rule.id
            ),
        ],
        component: f.exposes.to_string(),
        dismissed: dismissal.map(|d| d.reason.clone()),
        dismissed_at: dismissal.map(Dismissal::place),
    }
}

/// LINDDUN coverage of a component that handles personal data (`@handles pii` or `phi`): the
/// categories of the threats exposed, mitigated, accepted or transferred on it (`linddun:`),
/// and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyCoverage {
    pub component: String,
    pub covered: Vec<Linddun>,
    pub missing: Vec<Linddun>,
}

/// [`PrivacyCoverage`] of every component that handles `pii` or `phi`, by component id.
pub fn linddun_coverage(model: &ThreatModel) -> Vec<PrivacyCoverage> {
    let index = Index::of(model);
    model
        .components
        .iter()
        .filter(|c| {
            c.extra.data.contains(&DataClass::Pii) || c.extra.data.contains(&DataClass::Phi)
        })
        .map(|c| {
            let covered: BTreeSet<Linddun> = index
                .covered
                .get(c.id.as_str())
                .into_iter()
                .flatten()
                .filter_map(|t| model.threat(t))
                .flat_map(|t| t.attributes.linddun.iter().copied())
                .collect();
            PrivacyCoverage {
                component: c.id.clone(),
                missing: Linddun::ALL
                    .into_iter()
                    .filter(|l| !covered.contains(l))
                    .collect(),
                covered: covered.into_iter().collect(),
            }
        })
        .collect()
}

/// Rules per family, for `library list`.
pub(crate) fn families(library: &Library) -> BTreeMap<&str, Vec<&Rule>> {
    let mut out: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for r in &library.rules {
        out.entry(r.family()).or_default().push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Project, build_from};

    fn model_of(text: &str) -> ThreatModel {
        let (annotations, _) = crate::annotation::parse_text("fixture.rs", text);
        build_from(Project::default(), &annotations).0
    }

    fn fires(rule: &Rule, text: &str) -> bool {
        let library = Library {
            rules: vec![rule.clone()],
        };
        suggest(&model_of(text), &library, &RiskMatrix::default(), &[])
            .items
            .iter()
            .any(|s| s.rule == rule.id)
    }

    #[test]
    fn every_builtin_file_parses_without_problems() {
        let (library, diags) = Library::with_user(&[]);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(library.rules.len() >= 60, "{} rules", library.rules.len());
    }

    fn without_fixtures(library: &Library) -> Vec<String> {
        library
            .rules
            .iter()
            .filter(|r| r.fixtures.fires.trim().is_empty() || r.fixtures.silenced.trim().is_empty())
            .map(|r| r.id.clone())
            .collect()
    }

    #[test]
    fn every_rule_has_fixtures() {
        let missing = without_fixtures(&Library::builtin());
        assert!(missing.is_empty(), "rules without fixtures: {missing:?}");
        // The check sees a rule that lacks them.
        let mut library = Library::builtin();
        library.rules[0].fixtures.silenced.clear();
        assert_eq!(
            without_fixtures(&library),
            vec![library.rules[0].id.clone()]
        );
    }

    #[test]
    fn every_rule_fires_on_its_fixture_and_its_control_silences_it() {
        let mut wrong = Vec::new();
        for rule in &Library::builtin().rules {
            if !fires(rule, &rule.fixtures.fires) {
                wrong.push(format!("{} does not fire", rule.id));
            }
            let both = format!("{}\n{}", rule.fixtures.fires, rule.fixtures.silenced);
            if fires(rule, &both) {
                wrong.push(format!("{} is not silenced", rule.id));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_mitigated_threat_of_the_rules_stride_silences_it() {
        let rule = Library::builtin()
            .rule("datastore.injection")
            .cloned()
            .expect("rule");
        let base = "@component DB (#db) [type: store; tech: postgres]";
        assert!(fires(&rule, base));
        let covered = format!(
            "{base}\n@threat Own (#own) [stride: T,I]\n@control C (#c)\n@mitigates #db against #own with #c"
        );
        assert!(!fires(&rule, &covered));
    }

    #[test]
    fn a_pasted_suggestion_is_no_longer_suggested() {
        let library = Library::builtin();
        let base = "@component DB (#db) [type: store; tech: postgres]";
        let before = suggest(&model_of(base), &library, &RiskMatrix::default(), &[]);
        let first = before
            .items
            .first()
            .expect("a suggestion on a postgres store");
        let pasted = format!("{base}\n{}", first.annotation.join("\n"));
        let after = suggest(&model_of(&pasted), &library, &RiskMatrix::default(), &[]);
        assert!(
            after
                .items
                .iter()
                .all(|s| !(s.rule == first.rule && s.element == first.element)),
            "still suggested after pasting:\n{pasted}"
        );
    }

    #[test]
    fn ranked_by_risk_then_rule_then_element_and_dismissed_with_reason() {
        let model = model_of(
            "@component B (#b) [type: store; tech: postgres]\n@component A (#a) [type: store; tech: postgres]",
        );
        let library = Library::builtin();
        let dismiss = [Dismissal {
            rule: "datastore.injection".into(),
            on: "a".into(),
            reason: "no SQL".into(),
            at: None,
        }];
        let s = suggest(&model, &library, &RiskMatrix::default(), &dismiss);
        assert!(s.diagnostics.is_empty());
        assert!(s.items.windows(2).all(|w| (
            std::cmp::Reverse(w[0].score),
            &w[0].rule,
            &w[0].element.id
        ) <= (
            std::cmp::Reverse(w[1].score),
            &w[1].rule,
            &w[1].element.id
        )));
        let a = s
            .items
            .iter()
            .find(|x| x.rule == "datastore.injection" && x.element.id == "a");
        assert_eq!(
            a.and_then(|x| x.dismissed.as_deref()),
            Some("no SQL"),
            "{:?}",
            s.items
        );
        let unknown = [Dismissal {
            rule: "nope.rule".into(),
            on: "a".into(),
            reason: "r".into(),
            at: None,
        }];
        let s = suggest(&model, &library, &RiskMatrix::default(), &unknown);
        assert_eq!(s.diagnostics.len(), 1);
        assert_eq!(s.diagnostics[0].code, Code::UnknownDismissal);
    }

    #[test]
    fn user_files_are_validated_and_name_the_file() {
        let rule = |id: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\ntitle = \"t\"\nstride = \"T\"\nlikelihood = \"rare\"\nimpact = \"minor\"\nrationale = \"r\"\n"
            )
        };
        let files = vec![
            ("a.toml".to_string(), "[[rule]\n".to_string()),
            (
                "b.toml".to_string(),
                format!("{}colour = \"red\"\n", rule("x.y")),
            ),
            ("c.toml".to_string(), rule("mine.one")),
            ("d.toml".to_string(), rule("mine.one")),
            ("e.toml".to_string(), rule("datastore.injection")),
            ("f.toml".to_string(), rule("Bad").replace("\"T\"", "\"Q\"")),
        ];
        let (library, diags) = Library::with_user(&files);
        let at = |path: &str, code: Code| {
            diags
                .iter()
                .any(|d| d.code == code && d.location.as_ref().is_some_and(|l| l.path == path))
        };
        assert!(at("a.toml", Code::InvalidLibraryRule), "{diags:?}");
        assert!(at("b.toml", Code::InvalidLibraryRule), "{diags:?}");
        assert!(at("d.toml", Code::InvalidLibraryRule), "{diags:?}");
        assert!(at("e.toml", Code::OverriddenLibraryRule), "{diags:?}");
        assert!(at("f.toml", Code::InvalidLibraryRule), "{diags:?}");
        assert_eq!(
            library.rule("mine.one").map(|r| r.origin.as_str()),
            Some("c.toml")
        );
        assert_eq!(
            library
                .rule("datastore.injection")
                .map(|r| r.origin.as_str()),
            Some("e.toml")
        );
        assert!(library.rule("x.y").is_none());
    }

    /// Silencing needs a matching threat, not any shared STRIDE letter: the shop's
    /// `#admin_takeover` (S, E) no longer silences an injection rule (T, I, E).
    #[test]
    fn a_threat_silences_only_a_rule_it_matches() {
        let rule = Library::builtin()
            .rule("datastore.injection")
            .cloned()
            .expect("rule");
        assert!(rule.strides().len() >= 2, "{}", rule.stride);
        let base = "@component DB (#db) [type: store; tech: postgres]\n@control C (#c)";
        let with = |threat: &str| {
            format!("{base}\n@threat Own (#own) [{threat}]\n@mitigates #db against #own with #c")
        };
        // One shared letter is not enough.
        assert!(fires(&rule, &with("stride: S,T")));
        // Every letter of the rule is.
        assert!(!fires(&rule, &with(&format!("stride: {}", rule.stride))));
        // A CWE of the rule is, whatever the letters.
        assert!(!fires(
            &rule,
            &with(&format!("stride: S; cwe: {}", rule.cwe[0]))
        ));
        // ... also written as a bare number.
        let bare = rule.cwe[0].trim_start_matches("CWE-").to_string();
        assert!(!fires(&rule, &with(&format!("cwe: {bare}"))));
        // Another CWE and one shared letter does not.
        assert!(fires(&rule, &with("stride: T; cwe: CWE-1")));
        // LINDDUN letters covering the rule's do, on a rule that has some.
        let privacy = Library::builtin()
            .rules
            .into_iter()
            .find(|r| {
                !r.linddun_letters().is_empty() && r.when.kind.contains(&ElementKindWord::Store)
            })
            .expect("a store rule with LINDDUN");
        let letters: Vec<&str> = privacy
            .linddun_letters()
            .iter()
            .map(|l| l.letter())
            .collect();
        let store = format!(
            "{}\n@control C (#c)\n@threat P (#p) [linddun: {}]\n@mitigates #e against #p with #c",
            privacy.fixtures.fires,
            letters.join(",")
        );
        assert!(fires(&privacy, &privacy.fixtures.fires), "{}", privacy.id);
        assert!(!fires(&privacy, &store), "{}", privacy.id);
    }

    /// The flow rules about the network (`medium = ["network"]`) are silent on a flow that
    /// says it is local (a file, a pipe, stdin) and still fire on one that says nothing.
    #[test]
    fn network_rules_do_not_fire_on_local_flows() {
        let rule = Library::builtin()
            .rule("flow.tampering_in_transit")
            .cloned()
            .expect("rule");
        let base = "@boundary Outside (#outside)\n@boundary Inside (#inside)\n@component Src (#src) in #outside [type: external]\n@component E (#e) in #inside [type: process]";
        assert!(fires(
            &rule,
            &format!("{base}\n@connects #src to #e with orders")
        ));
        assert!(fires(
            &rule,
            &format!("{base}\n@connects #src to #e with HTTPS file upload")
        ));
        assert!(!fires(
            &rule,
            &format!("{base}\n@connects #src to #e with writeFileSync")
        ));
        assert!(!fires(
            &rule,
            &format!("{base}\n@connects #src to #e with process.stdin")
        ));
        assert!(!fires(
            &rule,
            &format!("{base}\n@connects #src to #e with data [medium: local]")
        ));
        assert!(fires(
            &rule,
            &format!("{base}\n@connects #src to #e with config file [medium: network]")
        ));
        let secrets = Library::builtin()
            .rule("secrets.in_transit")
            .cloned()
            .expect("rule");
        assert!(!fires(
            &secrets,
            "@component A (#a) [type: process]\n@component S (#s) [type: store]\n@handles secrets on #s\n@connects #a to #s with readFileSync"
        ));
    }

    /// `@dismisses` in the code dismisses like a config entry, and says where; a wrong rule or
    /// element is TM059 and a dismissal that matches nothing TM055, both at the annotation; no
    /// reason is TM054 from the parser and dismisses nothing.
    #[test]
    fn dismissed_by_annotation_with_where_and_diagnostics() {
        let text = "@component A (#a) [type: store; tech: postgres]\n@dismisses datastore.injection on #a with no SQL here\n@dismisses nope.rule on #a with typo\n@dismisses datastore.injection on #b with gone\n@dismisses flow.replay on * with no flows at all";
        let (annotations, parse_diags) = crate::annotation::parse_text("src/db.rs", text);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let model = build_from(Project::default(), &annotations).0;
        assert_eq!(model.dismissals.len(), 4);
        let s = suggest(&model, &Library::builtin(), &RiskMatrix::default(), &[]);
        let a = s
            .items
            .iter()
            .find(|x| x.rule == "datastore.injection" && x.element.id == "a")
            .expect("still listed");
        assert_eq!(a.dismissed.as_deref(), Some("no SQL here"));
        assert_eq!(a.dismissed_at.as_deref(), Some("src/db.rs:2"));
        let at = |code: Code, line: u32| {
            s.diagnostics.iter().any(|d| {
                d.code == code
                    && d.location
                        .as_ref()
                        .is_some_and(|l| l.path == "src/db.rs" && l.line == line)
            })
        };
        assert!(at(Code::UnknownDismissal, 3), "{:?}", s.diagnostics);
        assert!(at(Code::UnknownDismissal, 4), "{:?}", s.diagnostics);
        assert!(at(Code::UnusedDismissal, 5), "{:?}", s.diagnostics);
        assert_eq!(s.diagnostics.len(), 3, "{:?}", s.diagnostics);

        let (annotations, diags) =
            crate::annotation::parse_text("x.rs", "@dismisses datastore.injection on #a");
        assert!(annotations.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DismissalWithoutReason);
        assert!(diags[0].help.is_some());
    }

    #[test]
    fn linddun_coverage_of_components_with_personal_data() {
        let model = model_of(
            "@component Users (#users) [type: store]\n@handles pii on #users\n@component Logs (#logs) [type: store]\n@threat Re-identification (#reid) [stride: I; linddun: identifying, Dd]\n@exposes #users to #reid with joins",
        );
        let c = linddun_coverage(&model);
        assert_eq!(c.len(), 1, "only the component with pii: {c:?}");
        assert_eq!(c[0].component, "users");
        assert_eq!(
            c[0].covered,
            vec![Linddun::Identifying, Linddun::DataDisclosure]
        );
        assert_eq!(c[0].missing.len(), 5);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*tls*", "mTLS"));
        assert!(wildcard("tls", "TLS"));
        assert!(!wildcard("tls", "mtls"));
        assert!(wildcard("param*", "parameterised"));
        assert!(wildcard("*ised", "parameterised"));
        assert!(!wildcard("a*b*c", "acb"));
    }
}
