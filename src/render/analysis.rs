//! The `threatmark analyze` table: what a team reads on Monday morning.

use std::collections::BTreeSet;

use annotate_snippets::normalize_untrusted_str as clean;

use crate::analysis::{Analysis, Basis, ElementKind, ElementRef, Residual, Risk};
use crate::diagnostic::Code;
use crate::model::{Stride, ThreatModel};

/// A plain-text table with columns sized to their content.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new<S: Into<String>>(header: Vec<S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| clean(&c)).collect());
    }

    fn render(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = String>, out: &mut String| {
            let mut s = String::new();
            for (i, (c, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(&c);
                if i + 1 < widths.len() {
                    s.push_str(&" ".repeat(w.saturating_sub(c.chars().count())));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&mut self.header.iter().cloned(), out);
        for r in &self.rows {
            line(&mut r.iter().cloned(), out);
        }
    }
}

fn letters(s: &[Stride]) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.iter().map(|x| x.letter()).collect()
    }
}

/// The full human report of an analysis.
pub fn table(model: &ThreatModel, a: &Analysis) -> String {
    let mut out = String::new();
    let s = &a.summary;
    let statuses = [
        Residual::Exposed,
        Residual::Open,
        Residual::Accepted,
        Residual::Transferred,
        Residual::Mitigated,
    ]
    .iter()
    .map(|r| {
        format!(
            "{} {}",
            s.by_status.get(r.as_str()).copied().unwrap_or(0),
            r.as_str()
        )
    })
    .collect::<Vec<_>>()
    .join(", ");
    out.push_str(&format!(
        "{}: {} threats ({statuses})\n",
        clean(&model.project.name),
        s.threats
    ));
    let bands = ["critical", "high", "medium", "low", "very-low", "unrated"]
        .iter()
        .filter_map(|b| s.open_by_band.get(*b).map(|n| format!("{n} {b}")))
        .collect::<Vec<_>>();
    out.push_str(&format!(
        "open by risk: {}\n",
        if bands.is_empty() {
            "none".into()
        } else {
            bands.join(", ")
        }
    ));
    out.push_str(&format!(
        "boundary crossings: {} ({} unguarded)\n",
        s.crossings, s.unguarded_crossings
    ));
    if let Some(date) = &a.date {
        let expired = s
            .findings_by_code
            .get(Code::ExpiredAcceptance.as_str())
            .copied()
            .unwrap_or(0);
        out.push_str(&format!(
            "acceptances checked against {date} ({expired} expired)\n"
        ));
    }

    out.push_str("\nREMEDIATION PLAN\n");
    if a.plan.is_empty() {
        out.push_str("nothing open\n");
    } else {
        let mut t = Table::new(vec![
            "#",
            "RISK",
            "STATUS",
            "THREAT",
            "OWNER",
            "COMPONENTS",
            "CANDIDATE CONTROLS",
            "WHERE",
        ]);
        for p in &a.plan {
            t.row(vec![
                p.rank.to_string(),
                p.risk
                    .as_ref()
                    .map_or("unrated".into(), |r| format!("{:>2} {}", r.score, r.band)),
                p.status.as_str().into(),
                format!("{} (#{})", p.name, p.threat),
                p.owner.clone().unwrap_or_else(|| "unowned".into()),
                if p.components.is_empty() {
                    "-".into()
                } else {
                    p.components.join(", ")
                },
                if p.candidate_controls.is_empty() {
                    "-".into()
                } else {
                    p.candidate_controls.join(", ")
                },
                p.locations
                    .first()
                    .map_or(String::new(), |l| format!("{}:{}", l.path, l.line)),
            ]);
        }
        t.render(&mut out);
    }

    out.push_str("\nBOUNDARY CROSSINGS\n");
    if a.crossings.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(vec![
            "FLOW",
            "FROM",
            "TO",
            "CROSSES",
            "GUARDED BY (controls at either end)",
        ]);
        // Unguarded crossings first: they are the ones to look at.
        let mut crossings: Vec<_> = a.crossings.iter().collect();
        crossings.sort_by_key(|c| c.guarded);
        for c in crossings {
            let details = model
                .flows
                .iter()
                .find(|f| f.id == c.flow)
                .map(|f| f.details.clone())
                .unwrap_or_default();
            t.row(vec![
                if details.is_empty() {
                    c.flow.clone()
                } else {
                    details
                },
                c.source.clone(),
                c.target.clone(),
                c.crosses.join(", "),
                if c.guarded {
                    guards(model, &c.source, &c.target)
                } else {
                    "UNGUARDED".into()
                },
            ]);
        }
        t.render(&mut out);
    }

    out.push_str("\nSTRIDE COVERAGE (elements on crossings)\n");
    if a.coverage.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(vec!["ELEMENT", "TYPE", "APPLICABLE", "COVERED", "MISSING"]);
        for c in &a.coverage {
            t.row(vec![
                element_label(model, a, &c.element),
                c.element_type.clone(),
                letters(&c.applicable),
                letters(&c.covered),
                letters(&c.missing),
            ]);
        }
        t.render(&mut out);
    }

    out.push_str(
        "\nRISK MATRIX (threats rated by likelihood x impact: [in the cell, of which open])\n",
    );
    let mut open = vec![vec![0usize; a.matrix.impact.len()]; a.matrix.likelihood.len()];
    for t in a.threats.iter().filter(|t| t.status.is_open()) {
        if let Some(Risk {
            likelihood: Some(l),
            impact: Some(i),
            basis: Basis::Matrix,
            ..
        }) = &t.risk
        {
            let (l, i) = (usize::from(l.rank() - 1), usize::from(i.rank() - 1));
            if let Some(cell) = open.get_mut(l).and_then(|r| r.get_mut(i)) {
                *cell += 1;
            }
        }
    }
    let mut header = vec!["LIKELIHOOD \\ IMPACT".to_string()];
    header.extend(a.matrix.impact.iter().cloned());
    let mut t = Table::new(header);
    for (l, label) in a.matrix.likelihood.iter().enumerate().rev() {
        let mut row = vec![label.clone()];
        let cells = a.matrix.scores[l]
            .iter()
            .zip(&a.matrix.bands[l])
            .zip(&a.matrix.threats[l])
            .zip(&open[l]);
        for (((score, band), n), k) in cells {
            row.push(format!(
                "{score} {band}{}",
                match (*n, *k) {
                    (0, _) => String::new(),
                    (n, 0) => format!(" [{n}]"),
                    (n, k) => format!(" [{n}, {k} open]"),
                }
            ));
        }
        t.row(row);
    }
    t.render(&mut out);

    out.push_str(&format!("\nFINDINGS: {}\n", a.findings.len()));
    for (code, n) in &s.findings_by_code {
        let name = code.parse::<Code>().map_or("", |c| c.name());
        out.push_str(&format!("  {code} {n:>3}  {name}\n"));
    }
    out
}

/// The controls of the mitigations that name each end of a crossing, grouped by end:
/// `source: a, b; target: c`.
fn guards(model: &ThreatModel, source: &str, target: &str) -> String {
    let mut ends = vec![source];
    if target != source {
        ends.push(target);
    }
    ends.into_iter()
        .filter_map(|end| {
            let controls: BTreeSet<&str> = model
                .mitigations
                .iter()
                .filter(|x| x.link.component == end)
                .map(|x| x.link.control.as_str())
                .collect();
            (!controls.is_empty()).then(|| {
                format!(
                    "{end}: {}",
                    controls.into_iter().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the coverage table names an element: components by id, flows by their ends
/// (`a -> b`, `a <-> b` both ways), with the details when two crossing flows share their ends.
fn element_label(model: &ThreatModel, a: &Analysis, e: &ElementRef) -> String {
    if e.kind != ElementKind::Flow {
        return e.id.clone();
    }
    let Some(f) = model.flows.iter().find(|f| f.id == e.id) else {
        return e.id.clone();
    };
    let arrow = if f.link.bidirectional { "<->" } else { "->" };
    let label = format!("{} {arrow} {}", f.link.source, f.link.target);
    let same_ends = a
        .crossings
        .iter()
        .filter(|c| c.source == f.link.source && c.target == f.link.target)
        .count();
    if same_ends > 1 && !f.details.is_empty() {
        format!("{label} ({})", f.details)
    } else {
        label
    }
}
