//! Line-level parsing of annotations inside one comment.
//!
//! A tag is recognised only at the start of a comment line and only in lower case, exactly as
//! Threatspec does, so prose such as `@connection pool` or a Java `@Component` is never an
//! annotation. Keywords (`against`, `with`, `to`, ...) are matched case-insensitively and the
//! first occurrence wins, which is what Threatspec's non-greedy regexes do.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::ast::{Annotation, Body, EntityRef, Kind, Tag};
use super::attrs;
use super::gal;
use super::invisible;
use super::{CommentLine, Locator};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::{Attributes, ids};

/// What follows an annotation's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continuation {
    /// Nothing: the next line is independent prose.
    None,
    /// The description goes on until a blank line or an `@` line (the Javadoc rule).
    Description,
    /// The line ended in `:`: a Threatspec YAML body follows, up to a blank line or an `@` line.
    Yaml,
}

/// A `@word` at the start of a comment line.
struct TagHead<'a> {
    /// Without the format characters it may hide behind (`@thr\u{AD}eat` is `threat`).
    word: Cow<'a, str>,
    /// File offset of the `@`.
    at: usize,
    /// Text after the word, and its file offset.
    rest: &'a str,
    rest_offset: usize,
    /// From `@` to the end of the line, trimmed.
    full: &'a str,
}

/// Invisible characters before the `@` and inside the word are skipped, so a tag written
/// `\u{200B}@threat`, `@\u{200B}threat` or `@thr\u{AD}eat` is still read (and reported, TM029)
/// instead of silently becoming prose.
fn tag_head<'a>(line: &CommentLine<'a>) -> Option<TagHead<'a>> {
    let lead = lead_len(line.text);
    let trimmed = &line.text[lead..];
    let after = trimmed.strip_prefix('@')?;
    let mut word_len = 0;
    let mut hidden = false;
    for (i, c) in after.char_indices() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            word_len = i + 1;
        } else if invisible::is_format(c) {
            hidden = true;
            word_len = i + c.len_utf8();
        } else {
            break;
        }
    }
    let raw = &after[..word_len];
    let word: Cow<'a, str> = if hidden {
        Cow::Owned(raw.chars().filter(|c| !invisible::is_format(*c)).collect())
    } else {
        Cow::Borrowed(raw)
    };
    if word.is_empty() {
        return None;
    }
    Some(TagHead {
        word,
        at: line.offset + lead,
        rest: &after[word_len..],
        rest_offset: line.offset + lead + 1 + word_len,
        full: trimmed.trim_end(),
    })
}

/// Length of the white space and invisible format characters that start a line.
fn lead_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_whitespace() || invisible::is_format(c)))
        .unwrap_or(text.len())
}

/// Whether a line starts with `@` and a letter: it ends any description or YAML body above it.
fn starts_at_word(text: &str) -> bool {
    let t = &text[lead_len(text)..];
    t.strip_prefix('@')
        .map(|r| r.trim_start_matches(invisible::is_format))
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic())
}

/// TM029 for each invisible format character in an annotation's first line, up to where its
/// description starts: before or inside the tag (the annotation was read as if it were absent)
/// and in the names, ids and keywords after it (kept, so the annotation may not say what it
/// seems to).
fn report_invisible(
    tag: Tag,
    line: &CommentLine<'_>,
    head: &TagHead<'_>,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let (head_text, _, _) = split_description(head.rest, details_from(tag, head.rest));
    let tag_end = head.rest_offset - line.offset;
    let end = (tag_end + head_text.len()).min(line.text.len());
    let Some(region) = line.text.get(..end) else {
        return;
    };
    for (i, c) in region.char_indices() {
        if !invisible::is_format(c) {
            continue;
        }
        let at = line.offset + i;
        let what = invisible::describe(c);
        let (message, help) = if i < tag_end {
            (
                format!("invisible character {what} in the tag `@{}`", tag.as_str()),
                "the annotation was read as if it were not there; delete it".to_string(),
            )
        } else {
            (
                format!("invisible character {what} in an annotation"),
                "it is kept as part of the name, id or keyword it is in, which only looks like the one without it; delete it".to_string(),
            )
        };
        diags.push(
            loc.diag(
                Code::InvisibleCharacter,
                message,
                Span::new(at, at + c.len_utf8()),
            )
            .label(what)
            .help(help),
        );
    }
}

/// Whether a comment line carries one of our tags (or `@skip`).
pub fn is_tag_line(text: &str) -> bool {
    let line = CommentLine { text, offset: 0 };
    tag_head(&line).is_some_and(|h| {
        (h.word == "skip" || Tag::from_word(&h.word).is_some())
            && (h.rest.is_empty() || h.rest.starts_with(char::is_whitespace))
    })
}

/// Parse every annotation in one comment (a run of lines).
pub fn parse_comment(
    lines: &[CommentLine<'_>],
    loc: &Locator<'_>,
    out: &mut Vec<Annotation>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut i = 0;
    // Inside GAL's `@shield:begin` ... `@shield:end` nothing is read.
    let mut shielded = false;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(head) = tag_head(&line) else {
            continue;
        };
        if shielded {
            shielded = !(head.word == "shield" && head.rest.starts_with(":end"));
            continue;
        }
        if head.word == "skip" {
            continue;
        }
        if gal::claims(&head.word, head.rest) {
            let gal_line = gal::Line {
                word: &head.word,
                at: head.at,
                rest: head.rest,
                rest_offset: head.rest_offset,
                full: head.full,
            };
            let outcome = gal::parse(&gal_line, loc, diags);
            // `-- "..."` lines below continue the description, joined with a space.
            let mut more = Vec::new();
            while let Some(text) = lines.get(i).and_then(|l| gal::continuation(l.text)) {
                more.push(text);
                i += 1;
            }
            match outcome {
                gal::Outcome::Annotations(mut found) => {
                    for a in &mut found {
                        for text in &more {
                            if !a.description.is_empty() {
                                a.description.push(' ');
                            }
                            a.description.push_str(text);
                        }
                    }
                    out.extend(found);
                }
                gal::Outcome::ShieldBegin => shielded = true,
                gal::Outcome::ShieldEnd
                | gal::Outcome::Source
                | gal::Outcome::Nothing
                | gal::Outcome::Failed => {}
            }
            continue;
        }
        let separated = head.rest.is_empty() || head.rest.starts_with(char::is_whitespace);
        let tag = match Tag::from_word(&head.word) {
            Some(tag) if separated => tag,
            _ => {
                if let Some(note) = near_miss(&head, loc) {
                    diags.push(note);
                }
                continue;
            }
        };
        let mut head = head;
        doubled_tag(tag, &mut head, loc, diags);
        if !line.text.is_ascii() {
            report_invisible(tag, &line, &head, loc, diags);
        }
        let before = diags.len();
        let (annotation, mode) = parse_line(tag, &head, loc, diags);
        if annotation.is_none() && is_prose_after_alias(tag, &head) {
            diags.truncate(before);
            diags.push(prose_note(tag, &head, loc));
        }
        let body_start = i;
        while i < lines.len() {
            let text = lines[i].text;
            let ends = match mode {
                Continuation::None => true,
                Continuation::Description | Continuation::Yaml => {
                    text.trim().is_empty() || starts_at_word(text)
                }
            };
            if ends {
                break;
            }
            i += 1;
        }
        let Some(mut annotation) = annotation else {
            continue;
        };
        let body = &lines[body_start..i];
        match mode {
            Continuation::None => {}
            Continuation::Description => {
                for l in body {
                    annotation.description.push('\n');
                    annotation.description.push_str(l.text.trim());
                }
            }
            Continuation::Yaml => apply_yaml(tag, &mut annotation, body, loc, diags),
        }
        out.push(annotation);
    }
}

/// `@threat @threat Name (#id)`: the tag written twice. Read as if once (Threatspec keeps the
/// second tag in the name, which then clashes with the same declaration elsewhere), and said.
fn doubled_tag(tag: Tag, head: &mut TagHead<'_>, loc: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    let lead = head.rest.len() - head.rest.trim_start().len();
    let Some(after) = head.rest[lead..].strip_prefix('@') else {
        return;
    };
    let word_len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after.len());
    if Tag::from_word(&after[..word_len]) != Some(tag)
        || !after[word_len..].starts_with(char::is_whitespace)
    {
        return;
    }
    let at = head.rest_offset + lead;
    let skip = lead + 1 + word_len;
    diags.push(
        loc.diag(
            Code::DoubledTag,
            format!("`@{}` is written twice", tag.as_str()),
            Span::new(at, at + 1 + word_len),
        )
        .label("the second tag")
        .help(format!(
            "the line was read as `@{} {}`; delete the second tag",
            tag.as_str(),
            after[word_len..].trim()
        )),
    );
    head.rest = &head.rest[skip..];
    head.rest_offset += skip;
}

/// A line that starts with an alias spelling of a tag (`@test`, `@mitigate`, `@connect`, ...;
/// not the canonical `@tests`, `@mitigates`) and names no `#id` and has no attribute block is
/// prose (`// @test this later`), so when it does not parse it is a note, not an error.
fn is_prose_after_alias(tag: Tag, head: &TagHead<'_>) -> bool {
    head.word != tag.as_str() && !head.rest.contains('#') && !head.rest.contains('[')
}

fn prose_note(tag: Tag, head: &TagHead<'_>, loc: &Locator<'_>) -> Diagnostic {
    loc.diag(
        Code::UnknownTag,
        format!(
            "`@{}` does not read as an annotation; the line is treated as prose",
            head.word
        ),
        Span::new(head.at, head.rest_offset),
    )
    .label("prose, not a tag")
    .help(format!(
        "`@{}` is a spelling of `@{}`, but the line names no `#id` and does not parse as one; if it is meant as an annotation, complete it, else write `@skip` in front of the tag to silence this note",
        head.word,
        tag.as_str(),
    ))
}

fn parse_line(
    tag: Tag,
    head: &TagHead<'_>,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> (Option<Annotation>, Continuation) {
    let line_span = Span::new(head.at, head.at + head.full.len());
    let (head_text, description, mode) = split_description(head.rest, details_from(tag, head.rest));
    let (head_text, attr_block) = split_attributes(head_text, head.rest_offset, loc, diags);
    let mut attributes = Attributes::default();
    if let Some((inner, offset)) = attr_block {
        attrs::parse_block(tag, inner, offset, &mut attributes, loc, diags);
    }
    let ctx = Ctx {
        tag,
        loc,
        line_span,
    };
    let body = ctx.body(head_text, head.rest_offset, diags);
    let annotation = body.map(|body| Annotation {
        tag,
        body,
        attributes,
        description: description.to_string(),
        source: loc.source(head.at, head.full),
        span: line_span,
        gal: false,
    });
    (annotation, mode)
}

/// Split `head: description`. The separator is the first `:` outside brackets that is followed
/// by white space or ends the line (`Shop:API` is a hierarchy, not a description).
///
/// `details_from` is where the free-text details of the line begin (after `with` in
/// `@exposes`/`@accepts`/`@transfers`/`@connects`, after the component of `@review`). Threatspec
/// keeps a `: ` there as part of the details (`@review #web Cookies: HttpOnly` has the details
/// `Cookies: HttpOnly`), so inside the details only a line-ending `:` (a YAML body, as in
/// Threatspec) and a `: ` right after an attribute block (`with TLS [owner: ops]: why`) count.
fn split_description(rest: &str, details_from: Option<usize>) -> (&str, &str, Continuation) {
    let mut depth = 0usize;
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b':' if depth == 0 => {
                let next = bytes.get(i + 1);
                if next.is_none_or(|n| n.is_ascii_whitespace()) {
                    let desc = rest[i + 1..].trim();
                    let in_details =
                        details_from.is_some_and(|d| i > d && !rest[d..i].trim().is_empty());
                    if in_details && !desc.is_empty() && !ends_with_attribute_block(&rest[..i]) {
                        continue;
                    }
                    let mode = if desc.is_empty() {
                        Continuation::Yaml
                    } else {
                        Continuation::Description
                    };
                    return (&rest[..i], desc, mode);
                }
            }
            _ => {}
        }
    }
    (rest, "", Continuation::None)
}

/// `... [key: value]` right before a `:`.
fn ends_with_attribute_block(text: &str) -> bool {
    let text = text.trim_end();
    text.ends_with(']')
        && text
            .rfind('[')
            .is_some_and(|open| text[open..].contains(':'))
}

/// Byte offset in `rest` where the free-text details of a relation begin, found with the same
/// keyword rules the body parser uses.
fn details_from(tag: Tag, rest: &str) -> Option<usize> {
    let after = |keywords: &[&str]| {
        let mut pos = 0;
        for kw in keywords {
            let (_, end) = find_kw(&rest[pos..], kw)?;
            pos += end;
        }
        Some(pos)
    };
    match tag {
        Tag::Exposes | Tag::Accepts => after(&["to", "with"]),
        Tag::Dismisses => after(&["on", "with"]),
        Tag::Transfers => after(&["from", "to", "with"]),
        Tag::Connects => {
            let ((_, end), _) = direction(rest)?;
            find_kw(&rest[end..], "with").map(|(_, e)| end + e)
        }
        Tag::Review => {
            let trimmed = rest.trim_start();
            Some(rest.len() - trimmed.len() + review_component_len(trimmed))
        }
        _ => None,
    }
}

/// The direction keyword of `@connects`: the first `to` or `with` (`with` means both ways).
fn direction(head: &str) -> Option<((usize, usize), bool)> {
    match (find_kw(head, "to"), find_kw(head, "with")) {
        (Some(t), Some(w)) if w.0 < t.0 => Some((w, true)),
        (Some(t), _) => Some((t, false)),
        (None, Some(w)) => Some((w, true)),
        (None, None) => None,
    }
}

/// Length of the component at the start of a `@review` line. Threatspec takes the first word;
/// `Name (#id)` is our extension, except after a bare `#ref` (`#auth see the fix (#42)`).
fn review_component_len(trimmed: &str) -> usize {
    let first_word = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    if trimmed.starts_with('#') {
        return first_word;
    }
    match (trimmed.find("(#"), trimmed.find(')')) {
        (Some(open), Some(close)) if close > open => close + 1,
        _ => first_word,
    }
}

/// Split a trailing `[key: value; ...]` off the head. Brackets whose content has no `:` are
/// part of a name (`parse[]`), not attributes.
fn split_attributes<'a>(
    head: &'a str,
    offset: usize,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> (&'a str, Option<(&'a str, usize)>) {
    let trimmed = head.trim_end();
    if trimmed.ends_with(']') {
        let mut depth = 0usize;
        for (i, b) in trimmed.bytes().enumerate().rev() {
            match b {
                b']' => depth += 1,
                b'[' => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = &trimmed[i + 1..trimmed.len() - 1];
                        if inner.contains(':') || inner.trim().is_empty() {
                            return (&trimmed[..i], Some((inner, offset + i + 1)));
                        }
                        return (head, None);
                    }
                }
                _ => {}
            }
        }
        return (head, None);
    }
    if let Some(open) = trimmed.rfind('[') {
        let inner = &trimmed[open + 1..];
        if inner.contains(':') && !inner.contains(']') {
            diags.push(
                loc.diag(
                    Code::MalformedAttributes,
                    "unterminated attribute block",
                    Span::new(offset + open, offset + trimmed.len()),
                )
                .label("this `[` is never closed")
                .help("close the block with `]` before the `: description`"),
            );
            return (&trimmed[..open], Some((inner, offset + open + 1)));
        }
    }
    (head, None)
}

/// Per-line parsing context.
struct Ctx<'l, 'a> {
    tag: Tag,
    loc: &'l Locator<'a>,
    line_span: Span,
}

impl Ctx<'_, '_> {
    fn body(&self, head: &str, offset: usize, diags: &mut Vec<Diagnostic>) -> Option<Body> {
        match self.tag {
            Tag::Component | Tag::Threat | Tag::Control | Tag::Actor => {
                let kind = match self.tag {
                    Tag::Component => Kind::Component,
                    Tag::Threat => Kind::Threat,
                    Tag::Control => Kind::Control,
                    _ => Kind::Actor,
                };
                let (target_part, within) = if matches!(kind, Kind::Component | Kind::Actor) {
                    self.split_within(head, offset, diags)
                } else {
                    ((head, offset), None)
                };
                let target = self.entity(target_part.0, target_part.1, kind.as_str(), diags)?;
                Some(Body::Declare {
                    kind,
                    target,
                    within,
                })
            }
            Tag::Boundary => {
                let (before, contains) = match find_kw(head, "contains") {
                    Some((s, e)) => {
                        let list = &head[e..];
                        let mut items = Vec::new();
                        let mut pos = e;
                        for part in list.split(',') {
                            // A bad member is reported and left out; the boundary stays.
                            if !part.trim().is_empty()
                                && let Some(member) =
                                    self.entity(part, offset + pos, "member", diags)
                            {
                                items.push(member);
                            }
                            pos += part.len() + 1;
                        }
                        (&head[..s], items)
                    }
                    None => (head, Vec::new()),
                };
                let (target_part, within) = self.split_within(before, offset, diags);
                let target = self.entity(target_part.0, target_part.1, "boundary", diags)?;
                Some(Body::Boundary {
                    target,
                    within,
                    contains,
                })
            }
            Tag::Mitigates => {
                let [component, threat, control] =
                    self.parts(head, offset, &["against", "with"], diags)?;
                Some(Body::Mitigates {
                    component: self.entity(component.0, component.1, "component", diags)?,
                    threat: self.entity(threat.0, threat.1, "threat", diags)?,
                    control: self.entity(control.0, control.1, "control", diags)?,
                })
            }
            // The keywords are found in order and the optional `with DETAILS` is looked for
            // only after the last one, as Threatspec's regexes do: `@exposes A with B to C`
            // exposes `A with B`.
            Tag::Exposes => {
                let [component, threat] = self.parts(head, offset, &["to"], diags)?;
                let (threat_text, details) = optional_details(threat.0);
                Some(Body::Exposes {
                    component: self.entity(component.0, component.1, "component", diags)?,
                    threat: self.entity(threat_text, threat.1, "threat", diags)?,
                    details,
                })
            }
            Tag::Accepts => {
                let [threat, component] = self.parts(head, offset, &["to"], diags)?;
                let (component_text, details) = optional_details(component.0);
                Some(Body::Accepts {
                    threat: self.entity(threat.0, threat.1, "threat", diags)?,
                    component: self.entity(component_text, component.1, "component", diags)?,
                    details,
                })
            }
            Tag::Transfers => {
                let [threat, from, to] = self.parts(head, offset, &["from", "to"], diags)?;
                let (to_text, details) = optional_details(to.0);
                Some(Body::Transfers {
                    threat: self.entity(threat.0, threat.1, "threat", diags)?,
                    from: self.entity(from.0, from.1, "component", diags)?,
                    to: self.entity(to_text, to.1, "component", diags)?,
                    details,
                })
            }
            Tag::Connects => {
                let Some((kw, bidirectional)) = direction(head) else {
                    diags.push(self.missing_keyword(
                        "`to` or `with`",
                        "@connects SOURCE to TARGET with DETAILS",
                    ));
                    return None;
                };
                let source = &head[..kw.0];
                let after = &head[kw.1..];
                let (target, details) = optional_details(after);
                Some(Body::Connects {
                    source: self.entity(source, offset, "source component", diags)?,
                    target: self.entity(target, offset + kw.1, "target component", diags)?,
                    bidirectional,
                    details,
                })
            }
            Tag::Review => {
                let trimmed = head.trim_start();
                let lead = head.len() - trimmed.len();
                let split = review_component_len(trimmed);
                let component =
                    self.entity(&trimmed[..split], offset + lead, "component", diags)?;
                Some(Body::Review {
                    component,
                    details: trimmed[split..].trim().to_string(),
                })
            }
            // GuardLink's verbs are read by gal.rs before this point.
            Tag::Asset
            | Tag::Flows
            | Tag::Confirmed
            | Tag::Entitles
            | Tag::Validates
            | Tag::Audit
            | Tag::Owns
            | Tag::Handles
            | Tag::Assumes
            | Tag::Feature
            | Tag::Comment
            | Tag::Shield
            | Tag::Source => None,
            Tag::Dismisses => self.dismisses(head, offset, diags),
            Tag::Tests => {
                let [control, component] = self.parts(head, offset, &["for"], diags)?;
                Some(Body::Tests {
                    control: self.entity(control.0, control.1, "control", diags)?,
                    component: self.entity(component.0, component.1, "component", diags)?,
                })
            }
        }
    }

    /// `@dismisses RULE on ELEMENT with REASON`. The rule is a library id (`datastore.backup`),
    /// the element a component or flow id (`#shop_db`; flow ids may hold `/`) or `*`. Without a
    /// reason it dismisses nothing (TM054): a dismissal is for a reviewer to read.
    fn dismisses(&self, head: &str, offset: usize, diags: &mut Vec<Diagnostic>) -> Option<Body> {
        let [rule, rest] = self.parts(head, offset, &["on"], diags)?;
        let (element, reason) = optional_details(rest.0);
        let rule_text = rule.0.trim();
        let on = element.trim().trim_start_matches('#');
        let bad_word = |w: &str| w.is_empty() || w.contains(char::is_whitespace);
        if bad_word(rule_text) || bad_word(on) {
            diags.push(
                self.loc
                    .diag(
                        Code::MissingName,
                        "`@dismisses` needs one rule id and one element id".to_string(),
                        self.line_span,
                    )
                    .label("expected `RULE on #element`")
                    .help("the form is `@dismisses datastore.backup on #shop_db with REASON`; `threatmark suggest --format json` prints the rule and element ids"),
            );
            return None;
        }
        if reason.is_empty() {
            diags.push(
                self.loc
                    .diag(
                        Code::DismissalWithoutReason,
                        format!("`@dismisses {rule_text} on {on}` gives no reason; it dismisses nothing"),
                        self.line_span,
                    )
                    .label("expected `with REASON` here")
                    .help("say why the suggestion is not followed: `with RDS automated backups, SHOP-12`"),
            );
            return None;
        }
        Some(Body::Dismisses {
            rule: rule_text.to_string(),
            on: on.to_string(),
            reason,
        })
    }

    /// Split `a KW1 b KW2 c` into `[a, b, c]` (with offsets), reporting the first missing keyword.
    fn parts<'h, const N: usize>(
        &self,
        head: &'h str,
        offset: usize,
        keywords: &[&str],
        diags: &mut Vec<Diagnostic>,
    ) -> Option<[(&'h str, usize); N]> {
        let mut out = [("", 0usize); N];
        let mut rest_start = 0;
        for (n, kw) in keywords.iter().enumerate() {
            let Some((s, e)) = find_kw(&head[rest_start..], kw) else {
                diags.push(self.missing_keyword(&format!("`{kw}`"), self.usage()));
                return None;
            };
            out[n] = (&head[rest_start..rest_start + s], offset + rest_start);
            rest_start += e;
        }
        out[N - 1] = (&head[rest_start..], offset + rest_start);
        Some(out)
    }

    fn usage(&self) -> &'static str {
        match self.tag {
            Tag::Mitigates => "@mitigates COMPONENT against THREAT with CONTROL",
            Tag::Exposes => "@exposes COMPONENT to THREAT with DETAILS",
            Tag::Accepts => "@accepts THREAT to COMPONENT with DETAILS",
            Tag::Transfers => "@transfers THREAT from COMPONENT to COMPONENT with DETAILS",
            Tag::Connects => "@connects SOURCE to TARGET with DETAILS",
            Tag::Tests => "@tests CONTROL for COMPONENT",
            Tag::Dismisses => "@dismisses RULE on ELEMENT with REASON",
            _ => "",
        }
    }

    fn missing_keyword(&self, what: &str, usage: &str) -> Diagnostic {
        self.loc
            .diag(
                Code::MissingClause,
                format!("`@{}` is missing {what}", self.tag.as_str()),
                self.line_span,
            )
            .label(format!("expected {what} here"))
            .help(format!("the form is `{usage}`"))
    }

    /// Split a trailing `in #ref` off a component, actor or boundary declaration (only a `#ref`
    /// counts, so a component called `Log in page` stays whole).
    fn split_within<'h>(
        &self,
        head: &'h str,
        offset: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> ((&'h str, usize), Option<EntityRef>) {
        let mut search = 0;
        let mut found = None;
        while let Some((s, e)) = find_kw(&head[search..], "in") {
            let after = head[search + e..].trim();
            if after.starts_with('#') && !after.contains(char::is_whitespace) {
                found = Some((search + s, search + e));
            }
            search += e;
        }
        match found {
            Some((s, e)) => {
                let within = self.entity(&head[e..], offset + e, "boundary", diags);
                ((&head[..s], offset), within)
            }
            None => ((head, offset), None),
        }
    }

    /// `Name`, `Name (#id)`, `Name (Label)` or `#id`, following Threatspec's `parse_name`.
    fn entity(
        &self,
        text: &str,
        offset: usize,
        what: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<EntityRef> {
        let trimmed = text.trim();
        let lead = text.len() - text.trim_start().len();
        let start = offset + lead;
        let span = Span::new(start, start + trimmed.len());
        if trimmed.is_empty() {
            let at = Span::new(start, start);
            diags.push(
                self.loc
                    .diag(
                        Code::MissingName,
                        format!("`@{}` has no {what}", self.tag.as_str()),
                        if self.line_span.start <= at.start {
                            Span::new(at.start, at.start.max(self.line_span.end))
                        } else {
                            self.line_span
                        },
                    )
                    .label(format!("expected a {what} name or `#id` here")),
            );
            return None;
        }
        if let Some(id) = trimmed.strip_prefix('#') {
            if ids::is_valid_id(id) {
                return Some(EntityRef {
                    name: None,
                    id: id.to_string(),
                    explicit_id: true,
                    span,
                });
            }
            diags.push(
                self.loc
                    .diag(
                        Code::InvalidId,
                        format!("`{trimmed}` is not a valid reference"),
                        span,
                    )
                    .label("ids use letters, digits, `_`, `-`, `.` and `:`")
                    .help("to give a name an id, write `Name (#id)`"),
            );
            return None;
        }
        if let Some(open) = trimmed.find('(')
            && !trimmed[open..].contains(')')
        {
            // Threatspec reads `SQL injection (#sqli` as the name `SQL injection` with a derived
            // id; do the same, but say so.
            let name = trimmed[..open].trim();
            diags.push(
                self.loc
                    .diag(
                        Code::InvalidId,
                        if name.is_empty() {
                            "`(` is never closed".to_string()
                        } else {
                            format!("`(` after `{name}` is never closed")
                        },
                        Span::new(start + open, start + trimmed.len()),
                    )
                    .label("this `(` is never closed")
                    .help(if name.is_empty() {
                        "write `Name (#id)`".to_string()
                    } else {
                        format!(
                            "the id derived from the name is used (`#{}`); write `Name (#id)`",
                            ids::derive(name)
                        )
                    }),
            );
            if name.is_empty() {
                return None;
            }
            return Some(EntityRef {
                name: Some(name.to_string()),
                id: ids::derive(name),
                explicit_id: false,
                span,
            });
        }
        if let Some(open) = trimmed.find('(')
            && let Some(close_rel) = trimmed[open..].find(')')
        {
            let close = open + close_rel;
            let name = trimmed[..open].trim();
            let inner = trimmed[open + 1..close].trim();
            let inner_span = Span::new(start + open + 1, start + close);
            let explicit = match inner.strip_prefix('#') {
                Some(id) if ids::is_valid_id(id) => Some(id.to_string()),
                Some(_) => {
                    diags.push(
                        self.loc
                            .diag(
                                Code::InvalidId,
                                format!("`{inner}` is not a valid id"),
                                inner_span,
                            )
                            .label("ids use letters, digits, `_`, `-`, `.` and `:`")
                            .help("the id derived from the name is used instead"),
                    );
                    None
                }
                // Threatspec slugs a label without `#`: `Cross-site scripting (XSS)` is `#xss`.
                None if !ids::slug(inner).is_empty() => Some(ids::slug(inner)),
                None => None,
            };
            if name.is_empty() {
                return match explicit {
                    Some(id) => Some(EntityRef {
                        name: None,
                        id,
                        explicit_id: true,
                        span,
                    }),
                    None => {
                        diags.push(
                            self.loc
                                .diag(
                                    Code::MissingName,
                                    format!("`@{}` has no {what}", self.tag.as_str()),
                                    span,
                                )
                                .label("expected a name before the parentheses"),
                        );
                        None
                    }
                };
            }
            return Some(EntityRef {
                name: Some(name.to_string()),
                id: explicit.clone().unwrap_or_else(|| ids::derive(name)),
                explicit_id: explicit.is_some(),
                span,
            });
        }
        Some(EntityRef {
            name: Some(trimmed.to_string()),
            id: ids::derive(trimmed),
            explicit_id: false,
            span,
        })
    }
}

/// Split an optional trailing `with DETAILS`.
fn optional_details(head: &str) -> (&str, String) {
    match find_kw(head, "with") {
        Some((s, e)) => (&head[..s], head[e..].trim().to_string()),
        None => (head, String::new()),
    }
}

/// First occurrence of ` keyword ` (case-insensitive, surrounded by white space or ending the
/// text, outside parentheses). Returns the byte range of the keyword itself.
fn find_kw(text: &str, keyword: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let kw = keyword.as_bytes();
    let mut depth = 0usize;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth != 0 || i == 0 || !bytes[i - 1].is_ascii_whitespace() {
            continue;
        }
        let end = i + kw.len();
        if end <= bytes.len()
            && bytes[i..end].eq_ignore_ascii_case(kw)
            && bytes.get(end).is_none_or(|b| b.is_ascii_whitespace())
        {
            return Some((i, end));
        }
    }
    None
}

fn apply_yaml(
    tag: Tag,
    annotation: &mut Annotation,
    body: &[CommentLine<'_>],
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if body.is_empty() {
        return;
    }
    let indent = body
        .iter()
        .filter(|l| !l.text.trim().is_empty())
        .map(|l| l.text.len() - l.text.trim_start().len())
        .min()
        .unwrap_or(0);
    let dedented: Vec<&str> = body
        .iter()
        .map(|l| l.text.get(indent..).unwrap_or_else(|| l.text.trim_start()))
        .collect();
    let yaml = dedented.join("\n");
    let first = body[0];
    let body_span = Span::new(
        first.offset,
        body.last()
            .map_or(first.offset, |l| l.offset + l.text.len()),
    );
    let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str(&yaml);
    let map = match parsed {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(serde_json::Value::Null) => return,
        // A plain paragraph after a trailing `:` is a description, not a mistake.
        Ok(serde_json::Value::String(text)) => {
            append_description(&mut annotation.description, &text);
            return;
        }
        other => {
            let why = match other {
                Err(e) => first_line(&e.to_string()),
                Ok(_) => "the body is not a `key: value` mapping".to_string(),
            };
            diags.push(
                loc.diag(
                    Code::InvalidYamlBody,
                    "the YAML body of this annotation cannot be read",
                    body_span,
                )
                .label(why)
                .help("the body was kept as description text"),
            );
            append_description(&mut annotation.description, &yaml);
            return;
        }
    };
    // A paragraph with a `: ` in it (`Attackers can do this: resend a captured request.`) reads
    // as a mapping whose key is a phrase. Keys never hold white space, so that is prose.
    if map.keys().any(|k| k.contains(char::is_whitespace)) {
        let lines: Vec<&str> = body.iter().map(|l| l.text.trim()).collect();
        append_description(&mut annotation.description, &lines.join("\n"));
        return;
    }
    // Keys are matched in any case, as in `[...]`; a key given twice keeps its first value.
    let mut yaml = YamlBody {
        tag,
        body,
        loc,
        seen: BTreeSet::new(),
    };
    for (key, value, line) in in_body_order(map, body, 0) {
        let Some(lower) = yaml.first(&key, line, diags) else {
            continue;
        };
        match lower.as_str() {
            "description" => append_description(&mut annotation.description, &scalar(&value)),
            // Threatspec nests free-form fields under `custom`.
            "custom" => {
                if let serde_json::Value::Object(custom) = value {
                    for (k, v, line) in in_body_order(custom, body, line) {
                        if let Some(lower) = yaml.first(&k, line, diags) {
                            yaml.apply(&lower, &v, line, annotation, diags);
                        }
                    }
                } else {
                    yaml.apply(&lower, &value, line, annotation, diags);
                }
            }
            _ => yaml.apply(&lower, &value, line, annotation, diags),
        }
    }
}

/// The keys of one YAML body, read like the entries of an attribute block.
struct YamlBody<'b, 'l, 'a> {
    tag: Tag,
    body: &'b [CommentLine<'b>],
    loc: &'l Locator<'a>,
    seen: BTreeSet<String>,
}

impl YamlBody<'_, '_, '_> {
    /// The key in lower case, or `None` (and TM007) when it was given before in another case.
    fn first(&mut self, key: &str, line: usize, diags: &mut Vec<Diagnostic>) -> Option<String> {
        let lower = key.to_ascii_lowercase();
        if self.seen.insert(attrs::canonical_key(&lower)) {
            return Some(lower);
        }
        diags.push(
            self.loc
                .diag(
                    Code::MalformedAttributes,
                    format!("attribute `{lower}` is given twice"),
                    key_span(self.body, line),
                )
                .label("the first value is kept"),
        );
        None
    }

    fn apply(
        &self,
        key: &str,
        value: &serde_json::Value,
        line: usize,
        annotation: &mut Annotation,
        diags: &mut Vec<Diagnostic>,
    ) {
        attrs::apply(
            self.tag,
            key,
            &scalar(value),
            key_span(self.body, line),
            &mut annotation.attributes,
            self.loc,
            diags,
        );
    }
}

/// The entries of a mapping with the body line of each key (from `from` on), in the order they
/// are written, whatever order the map keeps.
fn in_body_order(
    map: serde_json::Map<String, serde_json::Value>,
    body: &[CommentLine<'_>],
    from: usize,
) -> Vec<(String, serde_json::Value, usize)> {
    let mut entries: Vec<_> = map
        .into_iter()
        .map(|(k, v)| {
            let line = key_line(body, &k, from);
            (k, v, line)
        })
        .collect();
    entries.sort_by_key(|(_, _, line)| *line);
    entries
}

/// Index of the body line (from `from` on) that holds `key:`, to point diagnostics at it.
fn key_line(body: &[CommentLine<'_>], key: &str, from: usize) -> usize {
    let holds_key = |l: &CommentLine<'_>| {
        let t = l.text.trim_start().trim_start_matches(['"', '\'']);
        t.strip_prefix(key).is_some_and(|rest| {
            rest.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        })
    };
    (from..body.len())
        .find(|&i| holds_key(&body[i]))
        .unwrap_or(from)
}

/// From the first non-blank character of a body line to its end.
fn key_span(body: &[CommentLine<'_>], line: usize) -> Span {
    body.get(line).map_or(Span::default(), |l| {
        let lead = l.text.len() - l.text.trim_start().len();
        Span::new(l.offset + lead, l.offset + l.text.len())
    })
}

fn append_description(desc: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    if !desc.is_empty() {
        desc.push('\n');
    }
    desc.push_str(text);
}

/// A YAML value as attribute text: scalars as written, lists joined with `, `.
fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// A note for `@word` lines whose word is close to a tag: probably a typo.
/// The tag a word that is not one is closest to, when it is close enough to be a typo (an edit
/// distance of at most 2, case ignored, words of 4 letters or more): `(distance, tag)`.
pub fn near_miss_tag(word: &str) -> Option<(usize, &'static str)> {
    if word.len() < 4 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    Tag::SPELLINGS
        .iter()
        .filter(|(_, t)| !t.is_gal())
        .map(|(w, _)| (strsim::levenshtein(&lower, w), *w))
        .filter(|(d, _)| *d <= 2)
        .chain(
            // GuardLink's verbs: one edit (`@flow`), as GuardLink itself suggests; common words
            // (`@comments`, `@sources`, `@owner`) are never taken for them.
            Tag::SPELLINGS
                .iter()
                .filter(|(w, t)| {
                    t.is_gal()
                        && !matches!(
                            *w,
                            "comment" | "source" | "feature" | "shield" | "owns" | "audit"
                        )
                })
                .map(|(w, _)| (strsim::levenshtein(&lower, w), *w))
                .filter(|(d, _)| *d <= 1),
        )
        .min()
}

fn near_miss(head: &TagHead<'_>, loc: &Locator<'_>) -> Option<Diagnostic> {
    // Words that other doc-comment conventions use at line start; never ours.
    const PROSE: &[&str] = &[
        "param",
        "return",
        "returns",
        "throws",
        "throw",
        "see",
        "since",
        "author",
        "version",
        "deprecated",
        "type",
        "example",
        "link",
        "todo",
        "fixme",
        "override",
        "text",
        "tested",
        "testing",
        "threw",
        "content",
        "contents",
        "controller",
        "connection",
        "connections",
        "actors",
        "accepted",
        "exposed",
        "reviewed",
        "transferred",
    ];
    let word: &str = &head.word;
    // `@comment, @shield and @feature ...`: GuardLink's verbs named in prose (gal.rs reads
    // every real GAL line before this point).
    if Tag::from_word(word).is_some_and(Tag::is_gal) {
        return None;
    }
    if Tag::from_word(word).is_some() {
        // `@threat: x`, `@tests.`: the tag itself, glued to what follows.
        let glued = head.rest.chars().next().map_or(0, char::len_utf8);
        return Some(
            loc.diag(
                Code::UnknownTag,
                format!("`@{word}` is not followed by a space; the line is treated as prose"),
                Span::new(head.at, head.rest_offset + glued),
            )
            .label("not a tag")
            .help(format!(
                "put a space after `@{word}` to make this an annotation"
            )),
        );
    }
    let lower = word.to_ascii_lowercase();
    if PROSE.contains(&lower.as_str()) && lower == word {
        return None;
    }
    let candidate = near_miss_tag(word)?;
    // The raw word ends where `rest` starts: `word` may have lost invisible characters.
    let span = Span::new(head.at, head.rest_offset);
    let help = if lower == candidate.1 {
        format!("tags are lower case: write `@{}`", candidate.1)
    } else {
        format!(
            "did you mean `@{}`? To silence this note, write `@skip` in front of the tag on the same line: `@skip @{word}`",
            candidate.1
        )
    };
    Some(
        loc.diag(
            Code::UnknownTag,
            format!("`@{word}` is not a tag; the line is treated as prose"),
            span,
        )
        .label("not a tag")
        .help(help),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_behind_invisible_characters_are_read_and_reported() {
        for (text, at) in [
            ("@\u{200B}threat X (#x)", 1),
            ("\u{200B}@threat X (#x)", 0),
            ("  @thr\u{AD}eat X (#x)", 6),
            ("@threat\u{2060} X (#x)", 7),
            ("@threat X (#x\u{200C})", 13),
        ] {
            let (annotations, diags) = crate::annotation::parse_text("t", text);
            assert_eq!(annotations.len(), 1, "{text:?}");
            let tm029: Vec<_> = diags
                .iter()
                .filter(|d| d.code == Code::InvisibleCharacter)
                .collect();
            assert_eq!(tm029.len(), 1, "{text:?}: {diags:?}");
            let span = tm029[0].span.expect("span");
            assert_eq!(span.start, at, "{text:?}");
            assert!(text[span.start..span.end].chars().all(invisible::is_format));
        }
        // A misspelt or glued tag with one inside: the note's span covers the raw word (it
        // ended mid-character and panicked the renderer).
        for text in [
            "@threa\u{200B}t: x",
            "@thr\u{AD}eats x",
            "@threat\u{200B}: x",
        ] {
            let (_, diags) = crate::annotation::parse_text("t", text);
            for d in &diags {
                if let Some(span) = d.span {
                    assert!(
                        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                        "{text:?}: {d:?}"
                    );
                }
            }
        }
        // A description may hold them (an emoji sequence): no warning.
        let (a, d) = crate::annotation::parse_text("t", "@threat X (#x): 👨\u{200D}👩");
        assert_eq!((a.len(), d.len()), (1, 0));
        // A hidden tag on the next line still ends a description above it.
        let (a, _) = crate::annotation::parse_text("t", "@threat X: text\n\u{200B}@threat Y");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].description, "text");
    }

    #[test]
    fn keyword_search() {
        assert_eq!(find_kw("a against b", "against"), Some((2, 9)));
        assert_eq!(find_kw("a AGAINST b", "against"), Some((2, 9)));
        assert_eq!(find_kw("against b", "against"), None);
        assert_eq!(find_kw("a (x with y) with z", "with"), Some((13, 17)));
        assert_eq!(find_kw("awith b", "with"), None);
        assert_eq!(find_kw("a with", "with"), Some((2, 6)));
    }

    #[test]
    fn description_split() {
        assert_eq!(
            split_description(" Shop:API (#api): the API", None),
            (" Shop:API (#api)", "the API", Continuation::Description)
        );
        assert_eq!(
            split_description(" X [a: b]:", None),
            (" X [a: b]", "", Continuation::Yaml)
        );
        assert_eq!(
            split_description(" https://x", None),
            (" https://x", "", Continuation::None)
        );
    }
}
