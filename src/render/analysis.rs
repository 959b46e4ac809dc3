//! The `threatmark analyze` table: what a team reads on Monday morning.

use annotate_snippets::normalize_untrusted_str as clean;

use crate::analysis::{Analysis, Residual};
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
        self.rows.push(cells.into_iter().map(|c| clean(&c)).collect());
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
    .map(|r| format!("{} {}", s.by_status.get(r.as_str()).copied().unwrap_or(0), r.as_str()))
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
        if bands.is_empty() { "none".into() } else { bands.join(", ") }
    ));
    out.push_str(&format!(
        "boundary crossings: {} ({} unguarded)\n",
        s.crossings, s.unguarded_crossings
    ));
    if let Some(date) = &a.date {
        out.push_str(&format!("acceptances checked against {date}\n"));
    }

    out.push_str("\nREMEDIATION PLAN\n");
    if a.plan.is_empty() {
        out.push_str("nothing open\n");
    } else {
        let mut t = Table::new(vec!["#", "RISK", "STATUS", "THREAT", "OWNER", "COMPONENTS", "CANDIDATE CONTROLS", "WHERE"]);
        for p in &a.plan {
            t.row(vec![
                p.rank.to_string(),
                p.risk
                    .as_ref()
                    .map_or("unrated".into(), |r| format!("{:>2} {}", r.score, r.band)),
                p.status.as_str().into(),
                format!("{} (#{})", p.name, p.threat),
                p.owner.clone().unwrap_or_else(|| "unowned".into()),
                p.components.join(", "),
                if p.candidate_controls.is_empty() { "-".into() } else { p.candidate_controls.join(", ") },
                p.locations.first().map_or(String::new(), |l| format!("{}:{}", l.path, l.line)),
            ]);
        }
        t.render(&mut out);
    }

    out.push_str("\nBOUNDARY CROSSINGS\n");
    if a.crossings.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(vec!["FLOW", "FROM", "TO", "CROSSES", "GUARDED BY"]);
        for c in &a.crossings {
            let details = model
                .flows
                .iter()
                .find(|f| f.id == c.flow)
                .map(|f| f.details.clone())
                .unwrap_or_default();
            t.row(vec![
                if details.is_empty() { c.flow.clone() } else { details },
                c.source.clone(),
                c.target.clone(),
                c.crosses.join(", "),
                if c.guarded { c.controls.join(", ") } else { "UNGUARDED".into() },
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
                c.element.id.clone(),
                c.element_type.clone(),
                letters(&c.applicable),
                letters(&c.covered),
                letters(&c.missing),
            ]);
        }
        t.render(&mut out);
    }

    out.push_str("\nRISK MATRIX (threats rated by likelihood x impact)\n");
    let mut header = vec!["LIKELIHOOD \\ IMPACT".to_string()];
    header.extend(a.matrix.impact.iter().cloned());
    let mut t = Table::new(header);
    for (l, label) in a.matrix.likelihood.iter().enumerate().rev() {
        let mut row = vec![label.clone()];
        for i in 0..a.matrix.impact.len() {
            let n = a.matrix.threats[l][i];
            row.push(format!(
                "{} {}{}",
                a.matrix.scores[l][i],
                a.matrix.bands[l][i],
                if n > 0 { format!(" [{n}]") } else { String::new() }
            ));
        }
        t.row(row);
    }
    t.render(&mut out);

    out.push_str(&format!("\nFINDINGS: {}\n", a.findings.len()));
    for (code, n) in &s.findings_by_code {
        out.push_str(&format!("  {code} {n}\n"));
    }
    out
}
