//! `threatmark suggest` and `threatmark library` output: a table for people, JSON for machines
//! and Markdown for a pull request or a wiki. Suggestions are printed apart from threats and
//! never counted as threats.
//!
//! Names, rationales and annotations carry text from the repository (and from user rule
//! files): the table goes through [`escape::printable`], Markdown through [`escape::markdown`]
//! and a fence longer than any backtick run.
//!
//! @mitigates #renderer against #markdown_ping with #markdown_neutralised

use std::fmt::Write;

use serde::Serialize;

use super::escape;
use crate::analysis::suggest::{Library, Rule, Suggestion, Suggestions};
use crate::model::Stride;

fn letters(stride: &[Stride]) -> String {
    stride
        .iter()
        .map(|s| s.letter().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn ids(s: &Suggestion) -> String {
    let mut parts = vec![format!("STRIDE {}", letters(&s.stride))];
    if !s.linddun.is_empty() {
        parts.push(format!("LINDDUN {}", s.linddun));
    }
    parts.extend(s.cwe.iter().cloned());
    parts.extend(s.capec.iter().cloned());
    parts.join("; ")
}

/// One block per suggestion, highest risk first, then a summary line.
pub(crate) fn table(s: &Suggestions) -> String {
    let p = escape::printable;
    let mut out = String::new();
    for x in &s.items {
        let _ = writeln!(
            out,
            "[{} {}] {} on {} `{}` ({}){}",
            x.band,
            x.score,
            p(&x.rule),
            x.element.kind,
            p(&x.element.id),
            p(&x.element.name),
            x.dismissed
                .as_ref()
                .map(|r| format!(
                    " DISMISSED ({}): {}",
                    p(x.dismissed_at.as_deref().unwrap_or("")),
                    p(r)
                ))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "  {}: {}", p(&x.title), ids(x));
        let _ = writeln!(out, "  why: {}", p(&x.rationale));
        if !x.controls.is_empty() {
            let controls: Vec<String> = x.controls.iter().map(|c| p(c)).collect();
            let _ = writeln!(out, "  controls: {}", controls.join("; "));
        }
        for line in &x.annotation {
            let _ = writeln!(out, "    {}", p(line));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(s));
    out
}

fn summary(s: &Suggestions) -> String {
    let dismissed = s.items.len() - s.open();
    format!(
        "{} suggestion{} ({dismissed} dismissed): candidate threats, not part of the model",
        s.open(),
        if s.open() == 1 { "" } else { "s" }
    )
}

#[derive(Serialize)]
struct Json<'a> {
    suggestions: &'a [Suggestion],
    open: usize,
    dismissed: usize,
}

pub(crate) fn json(s: &Suggestions) -> String {
    let doc = Json {
        suggestions: &s.items,
        open: s.open(),
        dismissed: s.items.len() - s.open(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

pub(crate) fn markdown(s: &Suggestions) -> String {
    let m = escape::markdown;
    let cell = |t: &str| m(t).replace('|', "\\|");
    // Rule texts mark code with backticks (`{crosses}` writes `` `aws` ``): kept as code.
    let code = |t: &str| escape::markdown_with_code(t, true);
    let mut out = String::from("# Suggested threats\n\n");
    out.push_str(
        "Candidate threats from the threat library (`threatmark suggest`): not part of the model, \
         not counted and not gated.\n\n",
    );
    if s.items.is_empty() {
        out.push_str("No suggestions.\n");
        return out;
    }
    out.push_str("| Risk | Rule | Element | Threat | Ids | Why |\n|---|---|---|---|---|---|\n");
    for x in &s.items {
        let risk = match &x.dismissed {
            Some(r) => format!(
                "dismissed ({}): {}",
                cell(x.dismissed_at.as_deref().unwrap_or("")),
                cell(r)
            ),
            None => format!("{} ({})", x.band, x.score),
        };
        let _ = writeln!(
            out,
            "| {risk} | `{}` | {} {} | {} | {} | {} |",
            x.rule.replace('`', ""),
            x.element.kind,
            cell(&x.element.name),
            code(&x.title),
            cell(&ids(x)),
            code(&x.rationale)
        );
    }
    let lines: Vec<&str> = s
        .items
        .iter()
        .filter(|x| x.dismissed.is_none())
        .flat_map(|x| x.annotation.iter().map(String::as_str))
        .collect();
    if !lines.is_empty() {
        let body: Vec<String> = lines.iter().map(|l| escape::printable(l)).collect();
        let body = body.join("\n");
        let f = fence(&body);
        let _ = write!(out, "\n## Annotations to paste\n\n{f}text\n{body}\n{f}\n");
    }
    let _ = writeln!(out, "\n{}", summary(s));
    out
}

/// `library list`: one line per rule, by family.
pub(crate) fn list(library: &Library) -> String {
    let p = escape::printable;
    let mut out = String::new();
    for (family, rules) in crate::analysis::suggest::families(library) {
        let _ = writeln!(out, "{} ({} rules)", p(family), rules.len());
        for r in rules {
            let _ = writeln!(
                out,
                "  {:<40} {:<7} {:<9} {:<8} {}",
                p(&r.id),
                letters(&r.strides()),
                r.likelihood.as_str(),
                r.impact.as_str(),
                p(&r.title)
            );
        }
    }
    let _ = writeln!(out, "{} rules", library.rules.len());
    out
}

/// `library show RULE`: the rule as TOML, as it was read, with where it came from.
pub(crate) fn show(rule: &Rule) -> String {
    #[derive(Serialize)]
    struct One<'a> {
        rule: [&'a Rule; 1],
    }
    let mut out = format!("# from {}\n", escape::printable(&rule.origin));
    out.push_str(&toml::to_string(&One { rule: [rule] }).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::RiskMatrix;
    use crate::analysis::suggest::{Library, suggest};
    use crate::model::{Project, build_from};

    /// A user rule file is untrusted: its texts reach the Markdown with code spans kept as code
    /// spans, and nothing else (HTML, links, table pipes, mentions) getting through.
    #[test]
    fn markdown_keeps_code_spans_and_neutralises_hostile_rule_text() {
        let rule = "[[rule]]\nid = \"evil.rule\"\ntitle = \"Evil | <b>bold</b>\"\nstride = \"T\"\nlikelihood = \"likely\"\nimpact = \"major\"\nrationale = \"{name} crosses {crosses} | <script>alert(1)</script> [x](javascript:alert(1)) @admin `code|span`\"\nwhen = { kind = [\"flow\"] }\n";
        let (library, diags) = Library::with_user(&[("r.toml".into(), rule.into())]);
        assert!(diags.is_empty(), "{diags:?}");
        let library = Library {
            rules: library
                .rules
                .into_iter()
                .filter(|r| r.id == "evil.rule")
                .collect(),
        };
        let text = "@boundary Out (#aws)\n@component A (#a) in #aws [type: process]\n@component B (#b) [type: store]\n@connects #a to #b with data";
        let (annotations, _) = crate::annotation::parse_text("f.rs", text);
        let model = build_from(Project::default(), &annotations).0;
        let found = suggest(&model, &library, &RiskMatrix::default(), &[]);
        assert_eq!(found.items.len(), 1);
        let md = markdown(&found);
        let row = md.lines().find(|l| l.contains("evil.rule")).expect("a row");
        // The boundary renders as code, not as `\`aws\``.
        assert!(row.contains(" `aws` "), "{row}");
        assert!(!row.contains("\\`"), "{row}");
        // No raw HTML, no link, no mention, and the row keeps its seven cell separators.
        assert!(!row.contains('<'), "{row}");
        assert!(!row.contains("]("), "{row}");
        assert!(row.contains("`@admin`"), "{row}");
        assert!(row.contains("`code\\|span`"), "{row}");
        let separators = row.match_indices('|').count() - row.match_indices("\\|").count();
        assert_eq!(separators, 7, "{row}");
    }
}
