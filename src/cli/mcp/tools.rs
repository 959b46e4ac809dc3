//! The MCP tools and resources: their descriptions and input schemas (what an agent reads to
//! choose one), and what each returns. Every result is text (for any client) plus, from
//! protocol 2025-06-18 on, the same data as `structuredContent`. Strings from the repository
//! go into JSON values, and into the text only through `escape::printable`, so a hostile name
//! cannot drive the agent's terminal.

use serde_json::{Map, Value, json};

use super::protocol::RpcError;
use super::source::{Current, Source};
use crate::analysis::ElementKind;
use crate::diagnostic::Code;
use crate::model::{Band, Source as Written, Stride, ThreatModel};
use crate::render::escape::printable;

/// docs/annotations.md, embedded at build time.
pub(crate) const ANNOTATIONS_MD: &str = include_str!("../../../docs/annotations.md");
pub(crate) const ANNOTATIONS_URI: &str = "threatmark://docs/annotations.md";
pub(crate) const MODEL_URI: &str = "threatmark://model/threatmodel.json";

/// The most items one list returns.
const MAX_LIMIT: u64 = 1000;
/// The longest snippet `validate_annotation` reads.
const MAX_SNIPPET: usize = 256 * 1024;

/// `tools/list`.
pub(crate) fn list() -> Value {
    let filters = json!({
        "band": {"type": "string", "enum": ["very-low", "low", "medium", "high", "critical"],
                 "description": "Only items whose risk band is this one."},
        "stride": {"type": "string",
                   "description": "Only threats of this STRIDE category: a letter (S, T, R, I, D, E) or a word (spoofing, tampering, repudiation, information-disclosure, denial-of-service, elevation-of-privilege)."},
        "component": {"type": "string", "description": "Only items about this component (its id, with or without `#`, or its name)."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "At most this many items (default 50)."}
    });
    let mut list_props = filters.as_object().cloned().unwrap_or_default();
    list_props.insert(
        "kind".into(),
        json!({"type": "string", "enum": ["threats", "exposures", "unmitigated"],
               "description": "`threats`: every threat with its residual status; `exposures`: each `@exposes` (a component exposed to a threat) and whether it is covered; `unmitigated`: the remediation plan, the threats still exposed or open, with candidate controls. Default `threats`."}),
    );
    json!({"tools": [
        {
            "name": "list_threats",
            "title": "List threats by risk",
            "description": "List the repository's threats, exposures or unmitigated threats, highest risk first, with their status, STRIDE, components and where they are annotated (path:line). Use it to see what matters most before changing security-relevant code.",
            "inputSchema": {"type": "object", "properties": list_props, "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}
        },
        {
            "name": "show_element",
            "title": "Show a threat-model element",
            "description": "Show one element of the threat model (component, boundary, actor, threat, control, or a relation such as a flow or mitigation) by id (`#orders_api` or `orders_api`) or name (`Orders API`): its attributes, risk and status, every relation it takes part in, and the source locations (path:line) where it is written.",
            "inputSchema": {"type": "object", "properties": {
                "element": {"type": "string", "description": "An id (with or without `#`) or a name."}
            }, "required": ["element"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}
        },
        {
            "name": "find_component",
            "title": "Where a component is annotated",
            "description": "Every place (path:line and the annotation text) where a component is declared or named in a relation (@mitigates, @exposes, @connects, @tests...). Use it to find the code that implements a component.",
            "inputSchema": {"type": "object", "properties": {
                "component": {"type": "string", "description": "The component's id (with or without `#`) or name."}
            }, "required": ["component"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}
        },
        {
            "name": "validate_annotation",
            "title": "Check an annotation before writing it",
            "description": "Return the diagnostics an annotation snippet would produce in the context of the repository's current threat model (unknown ids with did-you-mean suggestions, duplicate declarations, bad attributes, syntax errors), without writing anything. No diagnostics means the snippet is fine. Give `path` (the file it will go into) to write the snippet as comments of that file's language (`// @threat ...` for .rs); without it, the snippet is bare annotation lines (`@threat ...`). Lines in the result are the snippet's own.",
            "inputSchema": {"type": "object", "properties": {
                "snippet": {"type": "string", "description": "The annotation text, e.g. `// @mitigates #api against #sqli with #prepared_statements`."},
                "path": {"type": "string", "description": "Repository-relative path of the file the snippet will go into (decides the comment syntax)."}
            }, "required": ["snippet"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}
        },
        {
            "name": "explain_diagnostic",
            "title": "Explain a diagnostic code",
            "description": "The long explanation of a threatmark diagnostic code (TM003) or name (undefined-reference): what it means and how to fix it; the same text as `threatmark explain`.",
            "inputSchema": {"type": "object", "properties": {
                "code": {"type": "string", "description": "A code such as TM003, or its name."}
            }, "required": ["code"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}
        }
    ]})
}

/// What a tool call gives: its text and structured result, or a failure the agent should read
/// (`isError`), as opposed to a protocol error ([`RpcError`]).
pub(crate) struct Outcome {
    pub(crate) text: String,
    pub(crate) data: Value,
    pub(crate) is_error: bool,
}

impl Outcome {
    fn ok(text: String, data: Value) -> Self {
        Self {
            text,
            data,
            is_error: false,
        }
    }

    fn failed(text: String) -> Self {
        Self {
            data: json!({"error": text}),
            text,
            is_error: true,
        }
    }
}

/// `tools/call`: a protocol error for an unknown tool or bad arguments.
pub(crate) fn call(source: &mut Source, name: &str, args: &Value) -> Result<Outcome, RpcError> {
    let args = match args {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        _ => return Err(RpcError::params("`arguments` must be an object")),
    };
    let known: &[&str] = match name {
        "list_threats" => &["kind", "band", "stride", "component", "limit"],
        "show_element" => &["element"],
        "find_component" => &["component"],
        "validate_annotation" => &["snippet", "path"],
        "explain_diagnostic" => &["code"],
        _ => {
            return Err(RpcError::params(format!(
                "unknown tool `{}`; tools/list names the tools",
                printable(name)
            )));
        }
    };
    if let Some(extra) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(RpcError::params(format!(
            "{name} takes no argument `{}` (it takes {})",
            printable(extra),
            known.join(", ")
        )));
    }
    let args = Args(&args, name);
    match name {
        "explain_diagnostic" => Ok(explain(args.required("code")?)),
        "validate_annotation" => {
            let snippet = args.required("snippet")?;
            if snippet.len() > MAX_SNIPPET {
                return Err(RpcError::params(format!(
                    "the snippet is over {} KiB; validate a few annotations at a time",
                    MAX_SNIPPET / 1024
                )));
            }
            let path = args.optional("path")?;
            Ok(with_model(|| validate(source, snippet, path)))
        }
        "list_threats" => {
            let query = Query {
                kind: match args.optional("kind")?.unwrap_or("threats") {
                    "threats" => Kind::Threats,
                    "exposures" => Kind::Exposures,
                    "unmitigated" => Kind::Unmitigated,
                    other => {
                        return Err(RpcError::params(format!(
                            "kind `{}` is none of threats, exposures, unmitigated",
                            printable(other)
                        )));
                    }
                },
                band: match args.optional("band")? {
                    None => None,
                    Some(b) => Some(Band::parse_word(b).ok_or_else(|| {
                        RpcError::params(format!(
                            "band `{}` is none of {}",
                            printable(b),
                            Band::words()
                        ))
                    })?),
                },
                stride: match args.optional("stride")? {
                    None => None,
                    Some(s) => Some(Stride::parse(s).ok_or_else(|| {
                        RpcError::params(format!(
                            "stride `{}` is not a STRIDE letter or word",
                            printable(s)
                        ))
                    })?),
                },
                component: args.optional("component")?.map(str::to_string),
                limit: args.limit()?,
            };
            Ok(with_model(|| {
                let current = source.current()?;
                Ok(list_items(&current, &query))
            }))
        }
        "show_element" => {
            let wanted = args.required("element")?.to_string();
            Ok(with_model(|| Ok(show(&source.current()?, &wanted))))
        }
        _ => {
            let wanted = args.required("component")?.to_string();
            Ok(with_model(|| {
                Ok(find_component(&source.current()?, &wanted))
            }))
        }
    }
}

/// A failed scan (a broken threatmark.toml) is the agent's to read, not a protocol error.
fn with_model(f: impl FnOnce() -> anyhow::Result<Outcome>) -> Outcome {
    f().unwrap_or_else(|e| {
        Outcome::failed(format!(
            "the threat model could not be built: {}",
            printable(&crate::cli::error_text(&e))
        ))
    })
}

struct Args<'a>(&'a Map<String, Value>, &'a str);

impl Args<'_> {
    fn optional(&self, key: &str) -> Result<Option<&str>, RpcError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(RpcError::params(format!(
                "{}: `{key}` must be a string",
                self.1
            ))),
        }
    }

    fn required(&self, key: &str) -> Result<&str, RpcError> {
        self.optional(key)?
            .ok_or_else(|| RpcError::params(format!("{}: `{key}` is required", self.1)))
    }

    fn limit(&self) -> Result<usize, RpcError> {
        match self.0.get("limit") {
            None | Some(Value::Null) => Ok(50),
            Some(v) => match v.as_u64() {
                Some(n @ 1..=MAX_LIMIT) => Ok(n as usize),
                _ => Err(RpcError::params(format!(
                    "{}: `limit` must be an integer from 1 to {MAX_LIMIT}",
                    self.1
                ))),
            },
        }
    }
}

fn explain(raw: &str) -> Outcome {
    match raw.parse::<Code>() {
        Ok(code) => {
            let text = code.explain_text();
            let data = json!({
                "code": code.as_str(), "name": code.name(),
                "severity": code.default_severity().as_str(),
                "summary": code.summary(), "explanation": code.explanation(),
            });
            Outcome::ok(text, data)
        }
        Err(()) => Outcome::failed(format!(
            "unknown diagnostic code `{}`; codes are TM001 to TM{:03}",
            printable(raw),
            Code::ALL.len()
        )),
    }
}

fn validate(source: &mut Source, snippet: &str, path: Option<&str>) -> anyhow::Result<Outcome> {
    let found = source.validate(snippet, path)?;
    let rendered = crate::render::diagnostics::render(&found.diagnostics, &found.sources, false);
    let mut text = match found.diagnostics.len() {
        0 => format!(
            "No diagnostics: the snippet ({} annotation{} read as `{}`) fits the current model.",
            found.annotations,
            if found.annotations == 1 { "" } else { "s" },
            printable(&found.path)
        ),
        n => format!(
            "{n} diagnostic{} (the snippet read as `{}`; lines are the snippet's own):\n\n{}",
            if n == 1 { "" } else { "s" },
            printable(&found.path),
            printable_lines(&rendered)
        ),
    };
    if found.annotations == 0 && found.diagnostics.is_empty() {
        text = format!(
            "The snippet holds no annotation as `{}`: in a source file annotations go in comments of its language (`// @threat ...` in a .rs file); without `path`, give bare annotation lines (`@threat Name (#id)`).",
            printable(&found.path)
        );
    }
    let data = json!({
        "path": found.path,
        "annotations": found.annotations,
        "diagnostics": found.diagnostics,
    });
    Ok(Outcome::ok(text, data))
}

/// `printable` line by line: keeps the line breaks of a rendered block.
fn printable_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Threats,
    Exposures,
    Unmitigated,
}

#[derive(Debug)]
struct Query {
    kind: Kind,
    band: Option<Band>,
    stride: Option<Stride>,
    component: Option<String>,
    limit: usize,
}

/// `path:line` of each place.
fn places(sources: &[Written]) -> Vec<String> {
    sources
        .iter()
        .map(|s| format!("{}:{}", s.path, s.line))
        .collect()
}

fn list_items(current: &Current, query: &Query) -> Outcome {
    let model = &current.model;
    let component = match &query.component {
        None => None,
        Some(c) => match resolve_component(model, c) {
            Some(id) => Some(id),
            None => return not_found(model, "component", c),
        },
    };
    let assessment = |id: &str| current.analysis.threats.iter().find(|t| t.threat == id);
    let mut items: Vec<(u8, Value)> = Vec::new();
    let stride_of = |id: &str| -> Vec<String> {
        model
            .threat(id)
            .map(|t| {
                t.attributes
                    .stride
                    .iter()
                    .map(|s| s.letter().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let keep = |id: &str, band: Option<Band>, components: &[String]| {
        query.band.is_none_or(|b| band == Some(b))
            && query.stride.is_none_or(|s| {
                model
                    .threat(id)
                    .is_some_and(|t| t.attributes.stride.contains(&s))
            })
            && component.as_ref().is_none_or(|c| components.contains(c))
    };
    match query.kind {
        Kind::Threats => {
            for t in &current.analysis.threats {
                if !keep(&t.threat, t.risk.as_ref().map(|r| r.band), &t.components) {
                    continue;
                }
                let entity = model.threat(&t.threat);
                items.push((
                    t.risk.as_ref().map_or(0, |r| r.score),
                    json!({
                        "id": t.threat,
                        "name": entity.map(|e| e.name.as_str()),
                        "status": t.status.as_str(),
                        "risk": t.risk,
                        "stride": stride_of(&t.threat),
                        "owner": t.owner,
                        "components": t.components,
                        "locations": entity.map(|e| places(&e.sources)).unwrap_or_default(),
                    }),
                ));
            }
        }
        Kind::Unmitigated => {
            for p in &current.analysis.plan {
                if !keep(&p.threat, p.risk.as_ref().map(|r| r.band), &p.components) {
                    continue;
                }
                items.push((
                    p.risk.as_ref().map_or(0, |r| r.score),
                    json!({
                        "id": p.threat,
                        "name": p.name,
                        "status": p.status.as_str(),
                        "risk": p.risk,
                        "stride": stride_of(&p.threat),
                        "owner": p.owner,
                        "components": p.components,
                        "candidate_controls": p.candidate_controls,
                        "locations": p.locations.iter().map(|l| format!("{}:{}", l.path, l.line)).collect::<Vec<_>>(),
                    }),
                ));
            }
        }
        Kind::Exposures => {
            for x in &model.exposures {
                let t = assessment(&x.link.threat);
                let risk = t.and_then(|t| t.risk.as_ref());
                let components = [x.link.component.clone()];
                if !keep(&x.link.threat, risk.map(|r| r.band), &components) {
                    continue;
                }
                let mitigated = model.mitigations.iter().any(|m| {
                    m.link.component == x.link.component && m.link.threat == x.link.threat
                });
                items.push((
                    risk.map_or(0, |r| r.score),
                    json!({
                        "id": x.id,
                        "component": x.link.component,
                        "threat": x.link.threat,
                        "threat_name": model.threat(&x.link.threat).map(|e| e.name.as_str()),
                        "threat_status": t.map(|t| t.status.as_str()),
                        "mitigated": mitigated,
                        "confirmed": x.link.confirmed,
                        "details": x.details,
                        "risk": risk,
                        "stride": stride_of(&x.link.threat),
                        "locations": places(&x.sources),
                    }),
                ));
            }
        }
    }
    // Highest risk first; ties in id order (the lists are sorted by id already).
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    let total = items.len();
    items.truncate(query.limit);
    let mut text = String::new();
    let what = match query.kind {
        Kind::Threats => "threats",
        Kind::Exposures => "exposures",
        Kind::Unmitigated => "unmitigated threats",
    };
    text.push_str(&format!(
        "{total} {what}{}, highest risk first:\n",
        if total > items.len() {
            format!(" (showing {})", items.len())
        } else {
            String::new()
        }
    ));
    for (_, item) in &items {
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        let risk = item
            .get("risk")
            .filter(|r| !r.is_null())
            .map(|r| {
                format!(
                    "{} {}",
                    r.get("band").and_then(Value::as_str).unwrap_or("?"),
                    r.get("score").and_then(Value::as_u64).unwrap_or(0)
                )
            })
            .unwrap_or_else(|| "unrated".into());
        let list = |k: &str| {
            item.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(printable)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let line = match query.kind {
            Kind::Exposures => format!(
                "- #{} exposed to #{} ({}) [{risk}] {}; at {}",
                printable(s("component")),
                printable(s("threat")),
                printable(s("threat_name")),
                if item.get("mitigated") == Some(&Value::Bool(true)) {
                    "mitigated"
                } else {
                    "not mitigated"
                },
                list("locations")
            ),
            _ => {
                let stride = list("stride");
                format!(
                    "- #{} {} [{risk}] {}{}; components {}; at {}",
                    printable(s("id")),
                    printable(s("name")),
                    s("status"),
                    if stride.is_empty() {
                        String::new()
                    } else {
                        format!("; STRIDE {stride}")
                    },
                    list("components"),
                    list("locations")
                )
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    let data = json!({"kind": what, "total": total, "items": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>()});
    Outcome::ok(text, data)
}

/// One relation in any of the model's relation lists.
struct Rel<'a> {
    kind: &'static str,
    id: &'a str,
    /// (role, element id)
    ends: Vec<(&'static str, &'a str)>,
    details: &'a str,
    sources: &'a [Written],
}

fn relations(model: &ThreatModel) -> Vec<Rel<'_>> {
    let mut out = Vec::new();
    macro_rules! push {
        ($list:expr, $kind:literal, |$l:ident| $ends:expr) => {
            for r in &$list {
                let $l = &r.link;
                out.push(Rel {
                    kind: $kind,
                    id: &r.id,
                    ends: $ends,
                    details: &r.details,
                    sources: &r.sources,
                });
            }
        };
    }
    push!(model.mitigations, "mitigation", |l| vec![
        ("component", l.component.as_str()),
        ("threat", l.threat.as_str()),
        ("control", l.control.as_str())
    ]);
    push!(model.exposures, "exposure", |l| vec![
        ("component", l.component.as_str()),
        ("threat", l.threat.as_str())
    ]);
    push!(model.acceptances, "acceptance", |l| vec![
        ("threat", l.threat.as_str()),
        ("component", l.component.as_str())
    ]);
    push!(model.transfers, "transfer", |l| vec![
        ("threat", l.threat.as_str()),
        ("from", l.from.as_str()),
        ("to", l.to.as_str())
    ]);
    push!(model.flows, "flow", |l| vec![
        ("source", l.source.as_str()),
        ("target", l.target.as_str())
    ]);
    push!(model.reviews, "review", |l| vec![(
        "component",
        l.component.as_str()
    )]);
    push!(model.tests, "test", |l| vec![
        ("control", l.control.as_str()),
        ("component", l.component.as_str())
    ]);
    push!(model.entitlements, "entitlement", |l| {
        let mut ends = vec![("actor", l.actor.as_str())];
        ends.extend(l.component.as_deref().map(|c| ("component", c)));
        ends.extend(l.threat.as_deref().map(|t| ("threat", t)));
        ends
    });
    push!(model.assumptions, "assumption", |l| vec![(
        "component",
        l.component.as_str()
    )]);
    out
}

fn rel_json(model: &ThreatModel, r: &Rel<'_>) -> Value {
    let mut ends = Map::new();
    for (role, id) in &r.ends {
        ends.insert((*role).into(), json!(id));
    }
    let mut text = format!("{} {}", r.kind, r.id);
    if r.kind == "flow" {
        if let Some(flow) = model.flows.iter().find(|f| f.id == r.id) {
            text = format!(
                "flow {}",
                model.flow_name(flow, crate::model::Arrow::Direction)
            );
        }
    }
    json!({"kind": r.kind, "id": r.id, "summary": text, "ends": ends, "details": r.details, "locations": places(r.sources)})
}

/// An element of any kind, by id or name.
enum Found<'a> {
    Entity(ElementKind, Value, &'a str, &'a [Written]),
    Relation(Rel<'a>),
}

fn strip_hash(wanted: &str) -> &str {
    let wanted = wanted.trim();
    wanted.strip_prefix('#').unwrap_or(wanted)
}

fn find_element<'a>(model: &'a ThreatModel, wanted: &str) -> Option<Found<'a>> {
    let id = strip_hash(wanted);
    let name = wanted.trim();
    macro_rules! look {
        ($list:expr, $kind:expr) => {
            if let Some(e) = $list
                .iter()
                .find(|e| e.id == id)
                .or_else(|| $list.iter().find(|e| e.name.eq_ignore_ascii_case(name)))
            {
                let value = serde_json::to_value(e).unwrap_or(Value::Null);
                return Some(Found::Entity($kind, value, &e.id, &e.sources));
            }
        };
    }
    look!(model.components, ElementKind::Component);
    look!(model.threats, ElementKind::Threat);
    look!(model.controls, ElementKind::Control);
    look!(model.boundaries, ElementKind::Boundary);
    look!(model.actors, ElementKind::Actor);
    let flow_named = model
        .flows
        .iter()
        .find(|f| {
            model
                .flow_name(f, crate::model::Arrow::Forward)
                .eq_ignore_ascii_case(name)
        })
        .map(|f| f.id.as_str());
    relations(model)
        .into_iter()
        .find(|r| r.id == id || Some(r.id) == flow_named)
        .map(Found::Relation)
}

fn kind_name(kind: ElementKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}").to_lowercase())
}

/// Suggestions for a name that matched nothing: the closest ids and names.
fn not_found(model: &ThreatModel, what: &str, wanted: &str) -> Outcome {
    let target = strip_hash(wanted).to_lowercase();
    let mut candidates: Vec<(f64, String)> = Vec::new();
    let mut consider = |id: &str, name: &str| {
        for s in [id, name] {
            let score = strsim::jaro_winkler(&target, &s.to_lowercase());
            if score > 0.8 {
                candidates.push((score, format!("#{id} ({name})")));
                break;
            }
        }
    };
    for c in &model.components {
        consider(&c.id, &c.name);
    }
    if what != "component" {
        for e in model.threats.iter().chain(&model.controls) {
            consider(&e.id, &e.name);
        }
        for b in &model.boundaries {
            consider(&b.id, &b.name);
        }
        for a in &model.actors {
            consider(&a.id, &a.name);
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    candidates.dedup_by(|a, b| a.1 == b.1);
    let suggestions: Vec<String> = candidates.into_iter().take(5).map(|(_, s)| s).collect();
    let mut text = format!("no {what} `{}` in the threat model", printable(wanted));
    if !suggestions.is_empty() {
        text.push_str(&format!(
            "; did you mean {}?",
            suggestions
                .iter()
                .map(|s| printable(s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Outcome {
        data: json!({"error": text, "suggestions": suggestions}),
        text,
        is_error: true,
    }
}

fn show(current: &Current, wanted: &str) -> Outcome {
    let model = &current.model;
    let Some(found) = find_element(model, wanted) else {
        return not_found(model, "element", wanted);
    };
    match found {
        Found::Relation(r) => {
            let value = rel_json(model, &r);
            let text = format!(
                "{}\n{}",
                printable(value.get("summary").and_then(Value::as_str).unwrap_or("")),
                pretty(&value)
            );
            Outcome::ok(text, json!({"kind": r.kind, "relation": value}))
        }
        Found::Entity(kind, value, id, sources) => {
            let rels: Vec<Value> = relations(model)
                .iter()
                .filter(|r| r.ends.iter().any(|(_, e)| *e == id))
                .map(|r| rel_json(model, r))
                .collect();
            // The scan's diagnostics on the lines that write it.
            let problems: Vec<&crate::diagnostic::Diagnostic> = current
                .diagnostics
                .iter()
                .filter(|d| {
                    d.location.as_ref().is_some_and(|l| {
                        sources.iter().any(|s| s.path == l.path && s.line == l.line)
                    })
                })
                .collect();
            let mut data = json!({
                "kind": kind_name(kind),
                "element": value,
                "locations": places(sources),
                "relations": rels,
                "diagnostics": problems,
            });
            if kind == ElementKind::Threat {
                if let Some(t) = current.analysis.threats.iter().find(|t| t.threat == id) {
                    data["assessment"] = json!(t);
                }
            }
            if kind == ElementKind::Component {
                let children: Vec<&str> = model
                    .components
                    .iter()
                    .filter(|c| c.extra.parent.as_deref() == Some(id))
                    .map(|c| c.id.as_str())
                    .collect();
                data["children"] = json!(children);
            }
            let name = data["element"]["name"].as_str().unwrap_or(id).to_string();
            let mut text = format!(
                "{} #{} {}\ndeclared at: {}\n",
                kind_name(kind),
                printable(id),
                printable(&name),
                places(sources).join(", ")
            );
            if let Some(a) = data.get("assessment") {
                text.push_str(&format!(
                    "status: {}; risk: {}\n",
                    a["status"].as_str().unwrap_or("?"),
                    a.get("risk")
                        .filter(|r| !r.is_null())
                        .map(|r| format!("{} ({})", r["band"].as_str().unwrap_or("?"), r["score"]))
                        .unwrap_or_else(|| "unrated".into())
                ));
            }
            text.push_str(&format!("relations ({}):\n", rels.len()));
            for r in &rels {
                text.push_str(&format!(
                    "- {} at {}\n",
                    printable(r["summary"].as_str().unwrap_or("")),
                    r["locations"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                ));
            }
            for d in &problems {
                text.push_str(&format!(
                    "diagnostic {}: {}\n",
                    d.code.as_str(),
                    printable(&d.message)
                ));
            }
            text.push_str("\nelement:\n");
            text.push_str(&pretty(&data["element"]));
            Outcome::ok(text, data)
        }
    }
}

/// Pretty JSON for the text content: serde_json escapes every control character.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A component's id from an id (with or without `#`) or a name.
fn resolve_component(model: &ThreatModel, wanted: &str) -> Option<String> {
    let id = strip_hash(wanted);
    model
        .component(id)
        .or_else(|| {
            model
                .components
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(wanted.trim()))
        })
        .map(|c| c.id.clone())
}

fn find_component(current: &Current, wanted: &str) -> Outcome {
    let model = &current.model;
    let Some(id) = resolve_component(model, wanted) else {
        return not_found(model, "component", wanted);
    };
    let mut places: Vec<Value> = Vec::new();
    let mut add = |role: &str, sources: &[Written]| {
        for s in sources {
            places.push(json!({"path": s.path, "line": s.line, "column": s.column, "role": role, "annotation": s.annotation}));
        }
    };
    if let Some(c) = model.component(&id) {
        add("declaration", &c.sources);
    }
    for r in relations(model) {
        if r.ends.iter().any(|(_, e)| *e == id) {
            add(r.kind, r.sources);
        }
    }
    places.sort_by(|a, b| {
        let key = |v: &Value| (v["path"].as_str().map(str::to_string), v["line"].as_u64());
        key(a).cmp(&key(b))
    });
    places.dedup();
    let mut text = format!(
        "#{} is annotated in {} places:\n",
        printable(&id),
        places.len()
    );
    for p in &places {
        text.push_str(&format!(
            "- {}:{} ({}): {}\n",
            printable(p["path"].as_str().unwrap_or("")),
            p["line"],
            p["role"].as_str().unwrap_or(""),
            printable(p["annotation"].as_str().unwrap_or(""))
        ));
    }
    let files: std::collections::BTreeSet<&str> =
        places.iter().filter_map(|p| p["path"].as_str()).collect();
    let data = json!({"component": id, "files": files, "places": places});
    Outcome::ok(text, data)
}

/// `resources/list`.
pub(crate) fn resources() -> Value {
    json!({"resources": [
        {"uri": ANNOTATIONS_URI, "name": "annotations.md", "title": "The annotation language reference",
         "description": "Every tag (@component, @threat, @control, @mitigates, @exposes, @connects...), ids, attributes and the GuardLink and Threatspec dialects.",
         "mimeType": "text/markdown"},
        {"uri": MODEL_URI, "name": "threatmodel.json", "title": "The current threat model",
         "description": "The repository's threat model as `threatmark scan` writes it, built from the files as they are now.",
         "mimeType": "application/json"}
    ]})
}

/// `resources/read`.
pub(crate) fn read(source: &mut Source, uri: &str) -> Result<Value, RpcError> {
    let (mime, text) = match uri {
        ANNOTATIONS_URI => ("text/markdown", ANNOTATIONS_MD.to_string()),
        MODEL_URI => {
            let current = source.current().map_err(|e| {
                RpcError::new(
                    super::protocol::INTERNAL_ERROR,
                    format!(
                        "the threat model could not be built: {}",
                        printable(&crate::cli::error_text(&e))
                    ),
                )
            })?;
            ("application/json", crate::model::to_json(current.model))
        }
        _ => {
            return Err(RpcError::new(
                super::protocol::RESOURCE_NOT_FOUND,
                format!(
                    "no resource `{}`; resources/list names them",
                    printable(uri)
                ),
            ));
        }
    };
    Ok(json!({"contents": [{"uri": uri, "mimeType": mime, "text": text}]}))
}
