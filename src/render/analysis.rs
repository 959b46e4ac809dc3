//! The `threatmark analyze` table: what a team reads on Monday morning.

use std::collections::{BTreeMap, BTreeSet};

use crate::render::escape::printable;

use crate::analysis::{Analysis, Basis, ElementKind, ElementRef, Residual, Risk};
use crate::diagnostic::Code;
use crate::model::{Flow, Stride, ThreatModel};

/// What the crossing and coverage tables look up per row, indexed once: with thousands of
/// crossings a scan of every flow or mitigation per row is quadratic.
struct Lookup<'m> {
    flows: BTreeMap<&'m str, &'m Flow>,
    /// Component -> the controls of the mitigations that name it.
    controls_on: BTreeMap<&'m str, BTreeSet<&'m str>>,
    /// How many crossings share their (source, target).
    same_ends: BTreeMap<(&'m str, &'m str), usize>,
}

impl<'m> Lookup<'m> {
    fn of(model: &'m ThreatModel, a: &'m Analysis) -> Self {
        let mut controls_on: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for x in &model.mitigations {
            controls_on
                .entry(&x.link.component)
                .or_default()
                .insert(&x.link.control);
        }
        let mut same_ends = BTreeMap::new();
        for c in &a.crossings {
            *same_ends
                .entry((c.source.as_str(), c.target.as_str()))
                .or_default() += 1;
        }
        Lookup {
            flows: model.flows.iter().map(|f| (f.id.as_str(), f)).collect(),
            controls_on,
            same_ends,
        }
    }
}

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
            .push(cells.into_iter().map(|c| printable(&c)).collect());
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
pub(crate) fn table(model: &ThreatModel, a: &Analysis) -> String {
    let lookup = Lookup::of(model, a);
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
        "{}: {} {} ({statuses})\n",
        printable(&model.project.name),
        s.threats,
        super::summary::plural(s.threats, "threat")
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
                p.risk.as_ref().map_or("unrated".into(), |r| {
                    let own = if r.exposure { "*" } else { "" };
                    format!("{:>2} {}{own}", r.score, r.band)
                }),
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
        if a.plan
            .iter()
            .any(|p| p.risk.as_ref().is_some_and(|r| r.exposure))
        {
            out.push_str(
                "* rated on the exposure (`@exposes ... [impact: ...]`), not the threat\n",
            );
        }
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
            let details = lookup
                .flows
                .get(c.flow.as_str())
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
                    guards(&lookup, &c.source, &c.target)
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
                element_label(&lookup, &c.element),
                c.element_type.to_string(),
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
fn guards(lookup: &Lookup<'_>, source: &str, target: &str) -> String {
    let mut ends = vec![source];
    if target != source {
        ends.push(target);
    }
    ends.into_iter()
        .filter_map(|end| {
            let controls = lookup.controls_on.get(end)?;
            (!controls.is_empty()).then(|| {
                format!(
                    "{end}: {}",
                    controls.iter().copied().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the coverage table names an element: components by id, flows by their ends
/// (`a -> b`, `a <-> b` both ways), with the details when two crossing flows share their ends.
fn element_label(lookup: &Lookup<'_>, e: &ElementRef) -> String {
    if e.kind != ElementKind::Flow {
        return e.id.clone();
    }
    let Some(f) = lookup.flows.get(e.id.as_str()) else {
        return e.id.clone();
    };
    let arrow = if f.link.bidirectional { "<->" } else { "->" };
    let label = format!("{} {arrow} {}", f.link.source, f.link.target);
    let same_ends = lookup
        .same_ends
        .get(&(f.link.source.as_str(), f.link.target.as_str()))
        .copied()
        .unwrap_or(0);
    if same_ends > 1 && !f.details.is_empty() {
        format!("{label} ({})", f.details)
    } else {
        label
    }
}
