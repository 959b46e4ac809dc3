//! The model diff for people: a terminal listing (coloured on a TTY) and a Markdown comment for
//! pull requests (a summary line, then collapsible details).

use crate::render::escape::printable;

use crate::diff::{Change, ChangeKind, ModelDiff};
use crate::model::Location;

/// ANSI styles, or nothing when colour is off.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\u{1b}[{code}m{s}\u{1b}[0m")
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

fn loc(l: &Option<Location>) -> String {
    l.as_ref()
        .map(|l| format!("{}:{}", printable(&l.path), l.line))
        .unwrap_or_default()
}

/// The one-line summary used by both formats.
pub(crate) fn summary_line(d: &ModelDiff) -> String {
    let s = &d.summary;
    if d.is_empty() {
        return "no change to the threat model".into();
    }
    let mut parts = Vec::new();
    let mut push = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    // "1 mitigation gained", "2 mitigations gained".
    let noun =
        |n: usize, word: &str, rest: &str| format!("{}{rest}", super::summary::plural(n, word));
    push(s.added, "added");
    push(s.removed, "removed");
    push(s.changed, "changed");
    push(
        s.mitigations_gained,
        &noun(s.mitigations_gained, "mitigation", " gained"),
    );
    push(
        s.mitigations_lost,
        &noun(s.mitigations_lost, "mitigation", " lost"),
    );
    push(s.newly_exposed, "newly exposed");
    push(s.newly_mitigated, "newly mitigated");
    push(s.risk_up, "risk up");
    push(s.risk_down, "risk down");
    push(
        s.new_crossings,
        &noun(s.new_crossings, "new boundary crossing", ""),
    );
    let moved_files = d
        .changes
        .iter()
        .filter(|c| c.change == ChangeKind::Moved && !c.is_line_shift())
        .count();
    push(moved_files, "moved");
    if parts.is_empty() {
        "only annotations moved within their files".into()
    } else {
        parts.join(", ")
    }
}

fn visible(d: &ModelDiff) -> impl Iterator<Item = &Change> {
    d.changes.iter().filter(|c| !c.is_line_shift())
}

/// Terminal output.
pub(crate) fn text(d: &ModelDiff, color: bool) -> String {
    let p = Paint(color);
    let mut out = format!(
        "{} {} -> {}: {}\n",
        p.bold("threat model diff"),
        printable(&d.base),
        printable(&d.head),
        summary_line(d)
    );
    for c in visible(d) {
        let (sign, body) = match c.change {
            ChangeKind::Added => (
                p.green("+"),
                format!(
                    "{} {} `{}` at {}",
                    c.kind,
                    c.id,
                    printable(&c.label),
                    loc(&c.to)
                ),
            ),
            ChangeKind::Removed => (
                p.red("-"),
                format!(
                    "{} {} `{}` (was at {})",
                    c.kind,
                    c.id,
                    printable(&c.label),
                    loc(&c.from)
                ),
            ),
            ChangeKind::Moved => (
                p.yellow(">"),
                format!(
                    "{} {} moved {} -> {}",
                    c.kind,
                    c.id,
                    loc(&c.from),
                    loc(&c.to)
                ),
            ),
            ChangeKind::Changed => (
                p.yellow("~"),
                format!("{} {} `{}`", c.kind, c.id, printable(&c.label)),
            ),
        };
        out.push_str(&format!("{sign} {body}\n"));
        for f in &c.fields {
            out.push_str(&format!(
                "    {}: {} -> {}\n",
                f.field,
                p.red(&printable(&f.old.to_string())),
                p.green(&printable(&f.new.to_string()))
            ));
        }
    }
    for s in &d.status {
        let from = s.from.map_or("absent", |r| r.as_str());
        let to = s.to.map_or("absent", |r| r.as_str());
        let line = format!(
            "status {} `{}`: {from} -> {to}",
            s.threat,
            printable(&s.name)
        );
        out.push_str(&format!(
            "{} {}\n",
            if s.to.is_some_and(|r| r.is_open()) {
                p.red("!")
            } else {
                p.green("✓")
            },
            line
        ));
    }
    for r in &d.risk {
        out.push_str(&format!(
            "{} risk {} `{}`: {} -> {}\n",
            match r.direction.as_str() {
                "up" => p.red("↑"),
                "down" => p.green("↓"),
                _ => p.yellow("?"),
            },
            r.threat,
            printable(&r.name),
            r.from_score.map_or("unrated".into(), |s| format!(
                "{s} {}",
                r.from_band.map_or("", |b| b.as_str())
            )),
            r.to_score.map_or("unrated".into(), |s| format!(
                "{s} {}",
                r.to_band.map_or("", |b| b.as_str())
            )),
        ));
    }
    for c in &d.new_crossings {
        out.push_str(&format!(
            "{} new boundary crossing {} -> {} (crosses {}){} at {}\n",
            if c.guarded {
                p.yellow("⇄")
            } else {
                p.red("⇄")
            },
            c.source,
            c.target,
            c.crosses.join(", "),
            if c.guarded { "" } else { ", UNGUARDED" },
            loc(&c.location)
        ));
    }
    let shifts = d.changes.iter().filter(|c| c.is_line_shift()).count();
    if shifts > 0 {
        out.push_str(&format!(
            "({shifts} {} only moved within {})\n",
            super::summary::plural(shifts, "annotation"),
            if shifts == 1 {
                "its file"
            } else {
                "their files"
            }
        ));
    }
    out
}

/// Escape text for a Markdown table cell or list item on GitHub/GitLab: the one Markdown
/// escape (mentions, issue references and bare URLs end up in code spans).
fn md(s: &str) -> String {
    super::escape::markdown(s)
}

/// Text for inside a Markdown code span: no backticks, no line breaks (escapes do not work
/// there).
fn code(s: &str) -> String {
    printable(s)
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' | '|' => ' ',
            c => c,
        })
        .collect()
}

/// The risk of a threat new in head, in words: `, risk 20 (critical)`, `, unrated`; empty for
/// a threat that was there before.
fn new_risk(s: &crate::diff::StatusChange) -> String {
    if s.from.is_some() || s.to.is_none() {
        return String::new();
    }
    match (s.score, s.band) {
        (Some(score), Some(band)) => format!(", risk {score} ({band})"),
        _ => ", unrated".to_string(),
    }
}

/// A pull-request comment.
pub(crate) fn markdown(d: &ModelDiff) -> String {
    let mut out = format!(
        "### Threat model: {}\n\n`{}` → `{}`\n\n",
        md(&summary_line(d)),
        code(&d.base),
        code(&d.head)
    );
    if d.is_empty() {
        return out;
    }
    let s = &d.summary;
    let lowered = d.risk.iter().filter(|r| r.direction != "up").count();
    if s.newly_exposed + s.risk_up + lowered + s.new_unguarded_crossings + s.mitigations_lost > 0 {
        out.push_str("**Needs attention**\n\n");
        for st in d
            .status
            .iter()
            .filter(|x| x.to.is_some_and(|r| r.is_open()))
        {
            out.push_str(&format!(
                "- :warning: {}threat **{}** (`{}`) is now {}{}\n",
                if st.from.is_none() { "new " } else { "" },
                md(&st.name),
                code(&st.threat),
                st.to.map_or("", |r| r.as_str()),
                new_risk(st)
            ));
        }
        for r in d.risk.iter().filter(|r| r.direction == "up") {
            out.push_str(&format!(
                "- :arrow_up: risk of **{}** rose to {} ({})\n",
                md(&r.name),
                r.to_score.unwrap_or_default(),
                r.to_band.map_or("", |b| b.as_str())
            ));
        }
        // Lowered by the change itself: a reviewer should see why, it is how a risk is slipped
        // under a gate's threshold.
        for r in d.risk.iter().filter(|r| r.direction != "up") {
            match (r.to_score, r.to_band) {
                (Some(score), Some(band)) => out.push_str(&format!(
                    "- :arrow_down: risk of **{}** lowered to {score} ({band})\n",
                    md(&r.name)
                )),
                _ => out.push_str(&format!(
                    "- :arrow_down: rating of **{}** removed\n",
                    md(&r.name)
                )),
            }
        }
        for c in d.new_crossings.iter().filter(|c| !c.guarded) {
            out.push_str(&format!(
                "- :no_entry: new **unguarded** boundary crossing `{}` → `{}` ({})\n",
                code(&c.source),
                code(&c.target),
                md(&c.crosses.join(", "))
            ));
        }
        for c in d.changes.iter().filter(|c| {
            c.kind == crate::diff::ItemKind::Mitigation && c.change == ChangeKind::Removed
        }) {
            out.push_str(&format!("- :x: mitigation lost: {}\n", md(&c.label)));
        }
        out.push('\n');
    }
    let rows: Vec<&Change> = visible(d).collect();
    if !rows.is_empty() {
        out.push_str(&format!(
            "<details><summary>{} element changes</summary>\n\n| | kind | id | what | where |\n|---|---|---|---|---|\n",
            rows.len()
        ));
        for c in rows {
            let sign = match c.change {
                ChangeKind::Added => "➕",
                ChangeKind::Removed => "➖",
                ChangeKind::Changed => "✏️",
                ChangeKind::Moved => "↪️",
            };
            let what = match c.change {
                ChangeKind::Changed => c
                    .fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {} → {}",
                            md(&f.field),
                            md(&f.old.to_string()),
                            md(&f.new.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>"),
                _ => md(&c.label),
            };
            let place = match c.change {
                ChangeKind::Removed => loc(&c.from),
                ChangeKind::Moved => format!("{} → {}", loc(&c.from), loc(&c.to)),
                _ => loc(&c.to),
            };
            out.push_str(&format!(
                "| {sign} | {} | `{}` | {what} | {} |\n",
                c.kind,
                code(&c.id),
                md(&place)
            ));
        }
        out.push_str("\n</details>\n");
    }
    if !d.status.is_empty() || !d.risk.is_empty() {
        out.push_str("\n<details><summary>Status and risk changes</summary>\n\n");
        for s in &d.status {
            out.push_str(&format!(
                "- **{}** (`{}`): {} → {}{}\n",
                md(&s.name),
                code(&s.threat),
                s.from.map_or("absent", |r| r.as_str()),
                s.to.map_or("absent", |r| r.as_str()),
                new_risk(s)
            ));
        }
        for r in &d.risk {
            out.push_str(&format!(
                "- risk of **{}**: {} → {}\n",
                md(&r.name),
                r.from_score.map_or("unrated".into(), |x| x.to_string()),
                r.to_score.map_or("unrated".into(), |x| x.to_string())
            ));
        }
        out.push_str("\n</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::analysis::RiskMatrix;

    fn model(with_threat: bool) -> crate::model::ThreatModel {
        let threats = if with_threat {
            serde_json::json!([{"id": "sqli", "name": "SQL injection", "sources": [],
                "likelihood": "likely", "impact": "severe"}])
        } else {
            serde_json::json!([])
        };
        let exposures = if with_threat {
            serde_json::json!([{"id": "e1", "threat": "sqli", "component": "db", "sources": []}])
        } else {
            serde_json::json!([])
        };
        let json = serde_json::json!({
            "schema_version": 1, "project": {"name": "p"},
            "components": [{"id": "db", "name": "DB", "sources": []}],
            "boundaries": [], "actors": [], "threats": threats, "controls": [],
            "mitigations": [], "exposures": exposures, "acceptances": [], "transfers": [],
            "flows": [], "reviews": [], "tests": [],
        });
        crate::model::from_json(&json.to_string()).expect("model")
    }

    /// A pull-request comment says how bad a new threat is, in words.
    #[test]
    fn markdown_states_the_band_of_a_new_threat() {
        let d = crate::diff::diff(
            &model(false),
            &model(true),
            "base",
            "head",
            &RiskMatrix::default(),
        );
        let md = super::markdown(&d);
        assert!(
            md.contains("new threat **SQL injection** (`sqli`) is now exposed, risk 20 (critical)"),
            "{md}"
        );
    }
}
