//! GuardLink's annotation language (GAL), read natively.
//!
//! GuardLink (npm `guardlink`) builds on Threatspec with its own verbs and syntax: `@asset`,
//! `@flows A -> B via X`, `@mitigates A against T using C`, `@boundary between A and B (#id)`,
//! `[P0]` severities, `cwe:CWE-89` references and `-- "free text"`. The patterns here follow
//! GuardLink 2.x's own (src/parser/parse-line.ts), so a GAL project yields the facts GuardLink
//! derives. A line is GAL when its verb exists only in GAL, or when a shared verb (`@threat`,
//! `@exposes`, ...) carries GAL-only syntax (see [`claims`]); every other line keeps the
//! threatmark/Threatspec grammar, unchanged. docs/migrating-from-guardlink.md has the mapping.
//!
//! @threat Silently dropped GAL annotation (#gal_dropped) [stride: R; likelihood: likely; impact: major]:
//! a GuardLink project's exposures vanish from the model without a word because the line is in a dialect we do not read
//! @control Native GAL parsing (#gal_native): GAL lines are parsed with GuardLink's own grammar, and a GAL line that does not parse is an error when it has annotation structure (TM039) and a note when it reads as prose (TM040)
//! @mitigates #parser against #gal_dropped with #gal_native

use std::sync::LazyLock;

use regex::Regex;

use super::Locator;
use super::ast::{Annotation, Body, DataClass, EntityRef, Kind, Tag};
use super::attrs;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::{Attributes, ids};

const TAG_REF: &str = r"#[a-zA-Z0-9_-]+(?:\.[a-zA-Z0-9_-]+)*";
const QUOTED: &str = r#""(?:[^"\\\n]|\\.)*""#;
const DOTTED: &str = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*";
const NAME: &str = r"[A-Za-z][A-Za-z0-9_]*(?:[_\- ][A-Za-z][A-Za-z0-9_]*)*";
const ID_DEF: &str = r"\(#([a-zA-Z0-9_-]+)\)";
const SEVERITY: &str = r"\[(P[0-3]|critical|high|medium|low)\]";
const EXT_REFS: &str = r"((?:\s+[a-zA-Z]+:[A-Za-z0-9_:.\-]+)*)";

fn asset_ref() -> String {
    format!("(?:{TAG_REF}|{QUOTED}|{DOTTED})")
}
fn threat_ref() -> String {
    format!("(?:{TAG_REF}|{QUOTED}|{NAME})")
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants; a test compiles every one of them.
    Regex::new(pattern).unwrap_or_else(|e| panic!("GAL pattern {pattern}: {e}"))
}

/// The trailing `-- "..."` description. Apart from the head patterns: every `@threat`,
/// `@mitigates`... line of any dialect is asked whether it is GAL ([`claims`]), and compiling all
/// of them for that took 17 M instructions (an eighth of a cold scan of compare.sh's
/// Threatspec tree, none of whose annotations is GAL).
static DESC: LazyLock<Regex> =
    LazyLock::new(|| re(r#"^(?s)(.*?)(?:^|\s+)--\s*"((?:[^"\\]|\\.)*)"\s*$"#));

/// The head patterns, applied to the text after the verb with the `-- "..."` part removed.
struct Patterns {
    asset: Regex,
    threat: Regex,
    named: Regex,
    mitigates: Regex,
    exposes: Regex,
    confirmed: Regex,
    accepts: Regex,
    entitles: Regex,
    transfers: Regex,
    flows: Regex,
    asset_any: Regex,
    boundary: Regex,
    boundary_pipe: Regex,
    connects: Regex,
    validates: Regex,
    single: Regex,
    owns: Regex,
    handles: Regex,
    feature: Regex,
    source: Regex,
}

static P: LazyLock<Patterns> = LazyLock::new(|| {
    let a = asset_ref();
    let t = threat_ref();
    Patterns {
        asset: re(&format!(r"^({DOTTED})(?:\s+{ID_DEF})?$")),
        threat: re(&format!(
            r"^({NAME})(?:\s+{ID_DEF})?(?:\s+{SEVERITY})?{EXT_REFS}$"
        )),
        named: re(&format!(r"^({NAME})(?:\s+{ID_DEF})?$")),
        mitigates: re(&format!(
            r"^({a})\s+against\s+({t})(?:\s+(?:using|with)\s+({t}))?$"
        )),
        exposes: re(&format!(
            r"^({a})\s+to\s+({t})(?:\s+{SEVERITY})?{EXT_REFS}$"
        )),
        confirmed: re(&format!(
            r"^({t})\s+on\s+({a})(?:\s+{SEVERITY})?{EXT_REFS}$"
        )),
        accepts: re(&format!(r"^({t})\s+(?:on|to)\s+({a})$")),
        entitles: re(&format!(
            r"^({t})\s+to\s+([A-Za-z][A-Za-z0-9_.\-]*)(?:\s+on\s+({a}))?(?:\s+against\s+({t}))?$"
        )),
        transfers: re(&format!(r"^({t})\s+from\s+({a})\s+to\s+({a})$")),
        flows: re(&format!(r"^({a}(?:\s+->\s+{a})+)(?:\s+via\s+(.+?))?$")),
        asset_any: re(&a),
        boundary: re(&format!(
            r"^(?:between\s+)?({a})\s+and\s+({a})(?:\s+{ID_DEF})?$"
        )),
        boundary_pipe: re(&format!(r"^({a})\s*\|\s*({a})(?:\s+{ID_DEF})?$")),
        connects: re(&format!(r"^({a})\s+to\s+({a})$")),
        validates: re(&format!(r"^({t})\s+for\s+({a})$")),
        single: re(&format!(r"^({a})$")),
        owns: re(&format!(r"^([a-zA-Z0-9_-]+)\s+for\s+({a})$")),
        handles: re(&format!(
            r"^(?i:(pii|phi|financial|secrets|internal|public))\s+on\s+({a})$"
        )),
        feature: re(r#"^"((?:[^"\\]|\\.)*)"$"#),
        source: re(r"^file:(\S+)\s+line:([1-9][0-9]*)(?:\s+symbol:(\S+))?$"),
    }
});

/// Verbs that exist only in GAL.
pub(crate) const GAL_ONLY: &[&str] = &[
    "asset",
    "flows",
    "confirmed",
    "entitles",
    "validates",
    "audit",
    "owns",
    "handles",
    "assumes",
    "feature",
    "comment",
    "shield",
    "source",
];

/// Whether a line whose tag word is `word` (with `rest` after it) is GAL. GAL-only verbs always
/// are; a verb both dialects share is GAL when the line has syntax only GAL gives it: a
/// `-- "..."` description, `using`, `@accepts T on A`, `@boundary between ...`/`A | B`, a bare
/// `[P0]`/`[high]` severity or a `cwe:CWE-89` reference.
pub(crate) fn claims(word: &str, rest: &str) -> bool {
    if GAL_ONLY.contains(&word) {
        // `@shield:begin`/`@shield:end` are glued; every other GAL verb is followed by a space.
        return rest.is_empty()
            || rest.starts_with(char::is_whitespace)
            || (word == "shield" && rest.starts_with(':'));
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return false;
    }
    if !matches!(
        word,
        "threat"
            | "control"
            | "actor"
            | "mitigates"
            | "exposes"
            | "accepts"
            | "transfers"
            | "boundary"
            | "connects"
            | "review"
    ) {
        return false;
    }
    let (head, desc) = split_desc(rest);
    if desc.is_some() {
        return true;
    }
    let head = head.trim();
    match word {
        "mitigates" => has_word(head, "using"),
        "accepts" => has_word(head, "on") && !has_word(head, "to"),
        "boundary" => {
            head.starts_with("between ")
                || (head.contains('|') && !head.contains('['))
                || (P.boundary.is_match(head) && (head.starts_with('#') || head.contains(" and #")))
        }
        "threat" | "exposes" => bare_severity(head) || has_ext_ref(head),
        _ => false,
    }
}

fn has_word(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

fn bare_severity(text: &str) -> bool {
    [
        "[P0]",
        "[P1]",
        "[P2]",
        "[P3]",
        "[critical]",
        "[high]",
        "[medium]",
        "[low]",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// A `cwe:CWE-89`-style reference with a key GuardLink's documentation uses. Any key would be
/// too much: `Shop:Orders:Worker` is a threatmark component path.
fn has_ext_ref(text: &str) -> bool {
    const KEYS: &[&str] = &["cwe", "capec", "owasp", "attack", "cve", "nist", "asvs"];
    text.split_whitespace().skip(1).any(|w| {
        w.split_once(':').is_some_and(|(k, v)| {
            KEYS.contains(&k)
                && !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
        })
    })
}

/// Split the trailing `-- "..."` off: (head, unescaped description).
fn split_desc(rest: &str) -> (&str, Option<String>) {
    // The pattern needs a `--`: most lines have none, and need no regular expression.
    if memchr::memmem::find(rest.as_bytes(), b"--").is_none() {
        return (rest, None);
    }
    match DESC.captures(rest) {
        Some(c) => {
            let head = c.get(1).map_or("", |m| m.as_str());
            (head, c.get(2).map(|m| unescape(m.as_str())))
        }
        None => (rest, None),
    }
}

/// GAL's escapes: `\"` and `\\`.
fn unescape(text: &str) -> String {
    text.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// A `-- "..."` line that continues the description of the annotation above it.
pub(crate) fn continuation(text: &str) -> Option<String> {
    let t = text.trim();
    if !t.starts_with("--") {
        return None;
    }
    match split_desc(t) {
        (head, Some(desc)) if head.trim().is_empty() => Some(desc),
        _ => None,
    }
}

/// What one GAL line means.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Facts (a multi-hop `@flows` gives several).
    Annotations(Vec<Annotation>),
    /// `@comment`, `@shield`: read, no fact.
    Nothing,
    ShieldBegin,
    ShieldEnd,
    /// `@source file:F line:N`: the annotations that follow describe that place (validated;
    /// sources keep pointing at the `.gal` line, where the text is).
    Source,
    /// Reported.
    Failed,
}

/// The line, as [`super::parser`] found it: the tag word, the file offset of `@`, the text after
/// the word with its offset, and the whole line from `@`.
pub(crate) struct Line<'a> {
    pub word: &'a str,
    pub at: usize,
    pub rest: &'a str,
    pub rest_offset: usize,
    pub full: &'a str,
}

pub(crate) fn parse(line: &Line<'_>, loc: &Locator<'_>, diags: &mut Vec<Diagnostic>) -> Outcome {
    let line_span = Span::new(line.at, line.at + line.full.len());
    if line.word == "shield" {
        if let Some(after) = line.rest.strip_prefix(':') {
            let cmd = after.split_whitespace().next().unwrap_or("");
            return match cmd {
                "begin" => Outcome::ShieldBegin,
                "end" => Outcome::ShieldEnd,
                _ => fail(line, loc, diags, line_span),
            };
        }
        return Outcome::Nothing;
    }
    let (head_raw, desc) = split_desc(line.rest);
    let lead = head_raw.len() - head_raw.trim_start().len();
    let head = head_raw.trim();
    let off = line.rest_offset + lead;
    let g = Gal {
        loc,
        off,
        line,
        line_span,
    };
    let description = desc.unwrap_or_default();
    let one = |tag: Tag, body: Body, attributes: Attributes| {
        Outcome::Annotations(vec![g.annotation(tag, body, attributes, &description)])
    };
    let p = &*P;
    let outcome = match line.word {
        "comment" if head.is_empty() => Some(Outcome::Nothing),
        "source" => p.source.is_match(head).then_some(Outcome::Source),
        "asset" => p.asset.captures(head).map(|c| {
            let target = g.declared(&c, 1, 2);
            one(
                Tag::Asset,
                Body::Declare {
                    kind: Kind::Component,
                    target,
                    within: None,
                },
                Attributes::default(),
            )
        }),
        "threat" => p.threat.captures(head).map(|c| {
            let target = g.declared(&c, 1, 2);
            let mut attributes = Attributes::default();
            g.rating(Tag::Threat, &c, 3, 4, &mut attributes, diags);
            one(
                Tag::Threat,
                Body::Declare {
                    kind: Kind::Threat,
                    target,
                    within: None,
                },
                attributes,
            )
        }),
        "control" | "actor" => p.named.captures(head).map(|c| {
            let target = g.declared(&c, 1, 2);
            let (tag, kind) = if line.word == "control" {
                (Tag::Control, Kind::Control)
            } else {
                (Tag::Actor, Kind::Actor)
            };
            one(
                tag,
                Body::Declare {
                    kind,
                    target,
                    within: None,
                },
                Attributes::default(),
            )
        }),
        "mitigates" => p.mitigates.captures(head).map(|c| match c.get(3) {
            Some(control) => one(
                Tag::Mitigates,
                Body::Mitigates {
                    component: g.reference(&c, 1),
                    threat: g.reference(&c, 2),
                    control: g.refer(control),
                },
                Attributes::default(),
            ),
            None => {
                diags.push(
                    loc.diag(
                        Code::GalNotKept,
                        "`@mitigates` names no control; the mitigation was not added",
                        line_span,
                    )
                    .label("no `using CONTROL`")
                    .help("threatmark's mitigations link a component, a threat and a control: add `using #control`"),
                );
                Outcome::Nothing
            }
        }),
        "exposes" => p.exposes.captures(head).map(|c| {
            let mut attributes = Attributes::default();
            g.rating(Tag::Exposes, &c, 3, 4, &mut attributes, diags);
            one(
                Tag::Exposes,
                Body::Exposes {
                    component: g.reference(&c, 1),
                    threat: g.reference(&c, 2),
                    details: String::new(),
                },
                attributes,
            )
        }),
        "confirmed" => p.confirmed.captures(head).map(|c| {
            let mut attributes = Attributes::default();
            g.rating(Tag::Confirmed, &c, 3, 4, &mut attributes, diags);
            one(
                Tag::Confirmed,
                Body::Confirmed {
                    threat: g.reference(&c, 1),
                    component: g.reference(&c, 2),
                },
                attributes,
            )
        }),
        "accepts" => p.accepts.captures(head).map(|c| {
            one(
                Tag::Accepts,
                Body::Accepts {
                    threat: g.reference(&c, 1),
                    component: g.reference(&c, 2),
                    details: String::new(),
                },
                Attributes::default(),
            )
        }),
        "entitles" => p.entitles.captures(head).map(|c| {
            one(
                Tag::Entitles,
                Body::Entitles {
                    actor: g.reference(&c, 1),
                    capability: c.get(2).map_or("", |m| m.as_str()).to_string(),
                    component: c.get(3).map(|m| g.refer(m)),
                    threat: c.get(4).map(|m| g.refer(m)),
                },
                Attributes::default(),
            )
        }),
        "transfers" => p.transfers.captures(head).map(|c| {
            one(
                Tag::Transfers,
                Body::Transfers {
                    threat: g.reference(&c, 1),
                    from: g.reference(&c, 2),
                    to: g.reference(&c, 3),
                    details: String::new(),
                },
                Attributes::default(),
            )
        }),
        "flows" => p.flows.captures(head).and_then(|c| {
            let chain = c.get(1)?;
            let via = c.get(2).map_or("", |m| m.as_str().trim()).to_string();
            let hops: Vec<EntityRef> = p
                .asset_any
                .find_iter(chain.as_str())
                .map(|m| g.entity(m.as_str(), off + chain.start() + m.start()))
                .collect();
            let out = hops
                .windows(2)
                .map(|w| {
                    g.annotation(
                        Tag::Flows,
                        Body::Connects {
                            source: w[0].clone(),
                            target: w[1].clone(),
                            bidirectional: false,
                            details: via.clone(),
                        },
                        Attributes::default(),
                        &description,
                    )
                })
                .collect();
            Some(Outcome::Annotations(out))
        }),
        "boundary" => p
            .boundary
            .captures(head)
            .or_else(|| p.boundary_pipe.captures(head))
            .map(|c| {
                let a = g.reference(&c, 1);
                let b = g.reference(&c, 2);
                // GAL boundaries have an id but no name: `A | B` names them.
                let name = Some(format!("{} | {}", shown(&a), shown(&b)));
                let target = match c.get(3) {
                    Some(id) => EntityRef {
                        name,
                        id: id.as_str().to_string(),
                        explicit_id: true,
                        span: g.span(id.start().saturating_sub(2), id.end() + 1),
                    },
                    None => EntityRef {
                        id: ids::derive(&format!("{} {}", a.id, b.id)),
                        name,
                        explicit_id: false,
                        span: g.span(0, head.len()),
                    },
                };
                one(
                    Tag::Boundary,
                    Body::Between { target, a, b },
                    Attributes::default(),
                )
            }),
        "connects" => p.connects.captures(head).map(|c| {
            one(
                Tag::Connects,
                Body::Connects {
                    source: g.reference(&c, 1),
                    target: g.reference(&c, 2),
                    bidirectional: false,
                    details: String::new(),
                },
                Attributes::default(),
            )
        }),
        "validates" => p.validates.captures(head).map(|c| {
            one(
                Tag::Validates,
                Body::Tests {
                    control: g.reference(&c, 1),
                    component: g.reference(&c, 2),
                },
                Attributes::default(),
            )
        }),
        "audit" | "review" => p.single.captures(head).map(|c| {
            let tag = if line.word == "audit" {
                Tag::Audit
            } else {
                Tag::Review
            };
            one(
                tag,
                Body::Review {
                    component: g.reference(&c, 1),
                    details: String::new(),
                },
                Attributes::default(),
            )
        }),
        "assumes" => p.single.captures(head).map(|c| {
            one(
                Tag::Assumes,
                Body::Assumes {
                    component: g.reference(&c, 1),
                },
                Attributes::default(),
            )
        }),
        "owns" => p.owns.captures(head).map(|c| {
            one(
                Tag::Owns,
                Body::Owns {
                    owner: c.get(1).map_or("", |m| m.as_str()).to_string(),
                    component: g.reference(&c, 2),
                },
                Attributes::default(),
            )
        }),
        "handles" => p.handles.captures(head).and_then(|c| {
            let class = DataClass::parse(c.get(1)?.as_str())?;
            Some(one(
                Tag::Handles,
                Body::Handles {
                    class,
                    component: g.reference(&c, 2),
                },
                Attributes::default(),
            ))
        }),
        "feature" => p.feature.captures(head).map(|c| {
            let name = unescape(c.get(1).map_or("", |m| m.as_str()));
            one(Tag::Feature, Body::Feature { name }, Attributes::default())
        }),
        _ => None,
    };
    outcome.unwrap_or_else(|| fail(line, loc, diags, line_span))
}

fn shown(r: &EntityRef) -> String {
    r.name.clone().unwrap_or_else(|| format!("#{}", r.id))
}

/// A GAL line that does not parse: an error when it has annotation structure (a `#ref`, a
/// `--`, a keyword of its verb), else a note (prose that happens to start with a verb).
fn fail(line: &Line<'_>, loc: &Locator<'_>, diags: &mut Vec<Diagnostic>, span: Span) -> Outcome {
    let verb = line.word;
    match structural_evidence(verb, line.rest) {
        Some(evidence) => diags.push(
            loc.diag(
                Code::MalformedGal,
                format!("malformed GuardLink `@{verb}` annotation: its arguments do not parse"),
                span,
            )
            .label(format!("looks like an annotation: {evidence}"))
            .help(format!("the form is `{}`", usage(verb))),
        ),
        None => {
            // phpDoc's `@source` and a bare `@feature` in prose are common: say nothing.
            if verb != "source" {
                diags.push(
                    loc.diag(
                        Code::GalProse,
                        format!("`@{verb}` starts a line but has no annotation structure; read as prose"),
                        span,
                    )
                    .label("not parsed")
                    .help(format!(
                        "if it is an annotation, the form is `{}`; if it is documentation, wrap it in `@shield:begin` / `@shield:end`",
                        usage(verb)
                    )),
                );
            }
        }
    }
    Outcome::Failed
}

/// GuardLink's rule (D29): which signs make a line an annotation someone got wrong.
fn structural_evidence(verb: &str, rest: &str) -> Option<&'static str> {
    if rest.trim().is_empty() {
        return Some("no arguments at all");
    }
    let bytes = rest.as_bytes();
    if bytes
        .windows(2)
        .any(|w| w[0] == b'#' && (w[1].is_ascii_alphanumeric() || w[1] == b'_' || w[1] == b'-'))
    {
        return Some("a #reference");
    }
    if rest.contains(" -- ") || rest.trim_end().ends_with(" --") {
        return Some("a `--` delimiter");
    }
    let keywords: &[&str] = match verb {
        "exposes" | "connects" => &["to"],
        "mitigates" => &["against", "using", "with"],
        "confirmed" | "handles" => &["on"],
        "accepts" => &["on", "to"],
        "transfers" => &["from", "to"],
        "flows" => &["->"],
        "boundary" => &["between", "and", "|"],
        "validates" | "owns" => &["for"],
        "entitles" => &["to", "on", "against"],
        _ => &[],
    };
    for kw in keywords {
        let found = if kw.bytes().all(|b| b.is_ascii_alphabetic()) {
            rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|w| w == *kw)
        } else {
            rest.contains(kw)
        };
        if found {
            return Some(match *kw {
                "to" => "the `to` keyword",
                "against" => "the `against` keyword",
                "using" => "the `using` keyword",
                "with" => "the `with` keyword",
                "on" => "the `on` keyword",
                "from" => "the `from` keyword",
                "->" => "the `->` arrow",
                "between" => "the `between` keyword",
                "and" => "the `and` keyword",
                "|" => "the `|` separator",
                _ => "the `for` keyword",
            });
        }
    }
    None
}

fn usage(verb: &str) -> &'static str {
    match verb {
        "asset" => r#"@asset Path.To.Asset (#id) -- "description""#,
        "threat" => {
            r#"@threat Name (#id) [P0|P1|P2|P3|critical|high|medium|low] cwe:CWE-89 -- "description""#
        }
        "control" => r#"@control Name (#id) -- "description""#,
        "actor" => r#"@actor Name (#id) -- "description""#,
        "mitigates" => r#"@mitigates ASSET against THREAT using CONTROL -- "description""#,
        "exposes" => r#"@exposes ASSET to THREAT [severity] cwe:CWE-89 -- "description""#,
        "confirmed" => r#"@confirmed THREAT on ASSET [severity] -- "description""#,
        "accepts" => r#"@accepts THREAT on ASSET -- "description""#,
        "entitles" => r#"@entitles ACTOR to capability on ASSET against THREAT -- "description""#,
        "transfers" => r#"@transfers THREAT from ASSET to ASSET -- "description""#,
        "flows" => r#"@flows ASSET -> ASSET via MECHANISM -- "description""#,
        "boundary" => r#"@boundary between ASSET and ASSET (#id) -- "description""#,
        "connects" => r#"@connects ASSET to ASSET -- "description""#,
        "validates" => r#"@validates CONTROL for ASSET -- "description""#,
        "audit" => r#"@audit ASSET -- "description""#,
        "review" => r#"@review ASSET -- "description""#,
        "owns" => r#"@owns team for ASSET -- "description""#,
        "handles" => {
            r#"@handles pii|phi|financial|secrets|internal|public on ASSET -- "description""#
        }
        "assumes" => r#"@assumes ASSET -- "description""#,
        "feature" => r#"@feature "Name" -- "description""#,
        "comment" => r#"@comment -- "text""#,
        "source" => "@source file:PATH line:N symbol:NAME",
        _ => r#"@shield:begin -- "why" ... @shield:end"#,
    }
}

/// Per-line helpers: offsets in the head map back to the file.
struct Gal<'l, 'a> {
    loc: &'l Locator<'a>,
    /// File offset of the trimmed head.
    off: usize,
    line: &'l Line<'l>,
    line_span: Span,
}

impl Gal<'_, '_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.off + start, self.off + end)
    }

    fn annotation(
        &self,
        tag: Tag,
        body: Body,
        attributes: Attributes,
        description: &str,
    ) -> Annotation {
        Annotation {
            tag,
            body,
            attributes,
            description: description.to_string(),
            source: self.loc.source(self.line.at, self.line.full),
            span: self.line_span,
            gal: true,
        }
    }

    /// `Name (#id)` of a declaration: groups `name` and `id`.
    fn declared(&self, c: &regex::Captures<'_>, name: usize, id: usize) -> EntityRef {
        let n = c.get(name).map_or("", |m| m.as_str()).trim();
        let (start, end) = c.get(name).map_or((0, 0), |m| {
            (m.start(), c.get(id).map_or(m.end(), |i| i.end() + 1))
        });
        match c.get(id) {
            Some(id) => EntityRef {
                name: Some(n.to_string()),
                id: id.as_str().to_string(),
                explicit_id: true,
                span: self.span(start, end),
            },
            None => EntityRef {
                name: Some(n.to_string()),
                id: ids::derive(n),
                explicit_id: false,
                span: self.span(start, end),
            },
        }
    }

    fn reference(&self, c: &regex::Captures<'_>, group: usize) -> EntityRef {
        match c.get(group) {
            Some(m) => self.refer(m),
            None => self.entity("", self.off),
        }
    }

    fn refer(&self, m: regex::Match<'_>) -> EntityRef {
        self.entity(m.as_str(), self.off + m.start())
    }

    /// `#id`, `"Quoted name"` or `Dotted.Path`/`Name`.
    fn entity(&self, text: &str, at: usize) -> EntityRef {
        let span = Span::new(at, at + text.len());
        if let Some(id) = text.strip_prefix('#') {
            return EntityRef {
                name: None,
                id: id.to_string(),
                explicit_id: true,
                span,
            };
        }
        let name = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => unescape(inner),
            None => text.to_string(),
        };
        EntityRef {
            id: ids::derive(&name),
            name: Some(name),
            explicit_id: false,
            span,
        }
    }

    /// `[P0]` and `cwe:CWE-89 owasp:A03:2021 ...`, through the attribute code path, as
    /// `[severity: critical; cwe: CWE-89; owasp: A03:2021]` would be read.
    fn rating(
        &self,
        tag: Tag,
        c: &regex::Captures<'_>,
        severity: usize,
        refs: usize,
        attributes: &mut Attributes,
        diags: &mut Vec<Diagnostic>,
    ) {
        if let Some(s) = c.get(severity) {
            let value = match s.as_str() {
                "P0" => "critical",
                "P1" => "high",
                "P2" => "medium",
                "P3" => "low",
                other => other,
            };
            let span = self.span(s.start(), s.end());
            attrs::apply(tag, "severity", value, span, attributes, self.loc, diags);
        }
        let Some(r) = c.get(refs) else { return };
        let mut by_key: Vec<(String, Vec<&str>, Span)> = Vec::new();
        let mut pos = r.start();
        for word in r.as_str().split_whitespace() {
            let start = r.as_str()[pos - r.start()..]
                .find(word)
                .map_or(pos, |i| pos + i);
            pos = start + word.len();
            let Some((key, value)) = word.split_once(':') else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let span = self.span(start, start + word.len());
            match by_key.iter_mut().find(|(k, _, _)| *k == key) {
                Some(entry) => entry.1.push(value),
                None => by_key.push((key, vec![value], span)),
            }
        }
        for (key, values, span) in by_key {
            attrs::apply(
                tag,
                &key,
                &values.join(", "),
                span,
                attributes,
                self.loc,
                diags,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a `--` the description pattern cannot match: the shortcut gives its answer.
    #[test]
    fn a_line_without_a_dash_pair_has_no_description() {
        for rest in [
            "",
            " A -- \"d\"",
            " A --\"d\"",
            " A - - \"d\"",
            " A -\u{2013} \"d\"",
            " --\"x\"",
            "-- \"x\"",
            " A \"d\"",
            " A -- d",
            " A \u{2014} \"d\"",
            " #a -> #b --- \"x\"",
        ] {
            let by_pattern = match DESC.captures(rest) {
                Some(c) => (
                    c.get(1).map_or("", |m| m.as_str()),
                    c.get(2).map(|m| unescape(m.as_str())),
                ),
                None => (rest, None),
            };
            assert_eq!(split_desc(rest), by_pattern, "{rest:?}");
        }
    }

    #[test]
    fn every_pattern_compiles() {
        let _ = &*P;
        let _ = &*DESC;
    }

    #[test]
    fn shared_verbs_are_gal_only_with_gal_syntax() {
        assert!(claims("asset", " App.API (#api)"));
        assert!(claims("shield", ":begin"));
        assert!(claims("mitigates", " #a against #t using #c"));
        assert!(claims("exposes", r#" #a to #t -- "why""#));
        assert!(claims("exposes", " #a to #t [P1] cwe:CWE-79"));
        assert!(claims("threat", " SQL Injection (#sqli) [high]"));
        assert!(claims("accepts", " #t on #a"));
        assert!(claims("boundary", " between #a and #b (#ab)"));
        assert!(claims("boundary", " #a | #b"));
        // threatmark's own forms stay threatmark's.
        assert!(!claims("mitigates", " #a against #t with #c"));
        assert!(!claims(
            "exposes",
            " #a to #t with details [severity: high]"
        ));
        assert!(!claims(
            "threat",
            " SQL injection (#sqli) [stride: T]: text"
        ));
        assert!(!claims("accepts", " #t to #a with reason"));
        assert!(!claims("boundary", " DMZ (#dmz) contains #web"));
        assert!(!claims("tests", r#" #c for #a -- "x""#));
        assert!(!claims("exposes", " Shop:Orders:Worker to #t"));
    }
}
