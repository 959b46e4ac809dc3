//! `threatmark history`'s output: one point per commit as a table (for the terminal), JSON or
//! CSV. Commit subjects are repository text: they go through [`printable`], and CSV cells
//! through [`cell`] (quoted, and defused against formula injection).

use serde::Serialize;

use super::csv::cell;
use super::escape::printable;
use super::timeline::TimelinePoint;

/// The model's vital signs at one commit: the site's timeline point (commit, threats by
/// status) plus open threats per band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Point {
    #[serde(flatten)]
    pub(crate) status: TimelinePoint,
    /// Open (exposed or unaddressed) threats per band.
    pub(crate) critical: usize,
    pub(crate) high: usize,
    pub(crate) medium: usize,
    pub(crate) low: usize,
    pub(crate) very_low: usize,
    pub(crate) unrated: usize,
}

const COLUMNS: [&str; 15] = [
    "commit",
    "date",
    "threats",
    "exposed",
    "open",
    "accepted",
    "transferred",
    "mitigated",
    "critical",
    "high",
    "medium",
    "low",
    "very_low",
    "unrated",
    "subject",
];

fn cells(p: &Point) -> [String; 15] {
    let s = &p.status;
    [
        s.commit.clone(),
        s.date.clone(),
        s.threats.to_string(),
        s.exposed.to_string(),
        s.open.to_string(),
        s.accepted.to_string(),
        s.transferred.to_string(),
        s.mitigated.to_string(),
        p.critical.to_string(),
        p.high.to_string(),
        p.medium.to_string(),
        p.low.to_string(),
        p.very_low.to_string(),
        p.unrated.to_string(),
        printable(&s.subject),
    ]
}

/// The points as a pretty JSON array, newline-terminated.
pub(crate) fn json(points: &[Point]) -> serde_json::Result<String> {
    let mut s = serde_json::to_string_pretty(points)?;
    s.push('\n');
    Ok(s)
}

/// The points as CSV: a header row, then one row per commit.
pub(crate) fn csv(points: &[Point]) -> String {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for p in points {
        s.push_str(
            &cells(p)
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s
}

/// The points as an aligned table; the last column (the subject) is not padded.
pub(crate) fn table(points: &[Point]) -> String {
    let rows: Vec<[String; 15]> = points.iter().map(cells).collect();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|c| c.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut all: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.to_uppercase()).collect()];
    all.extend(rows.iter().map(|r| r.to_vec()));
    let mut s = String::new();
    for row in &all {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i + 1 == row.len() {
                    c.clone()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(subject: &str) -> Point {
        Point {
            status: TimelinePoint {
                commit: "0123456789ab".into(),
                date: "2024-02-29".into(),
                subject: subject.into(),
                threats: 1,
                exposed: 1,
                open: 0,
                accepted: 0,
                transferred: 0,
                mitigated: 0,
            },
            critical: 0,
            high: 1,
            medium: 0,
            low: 0,
            very_low: 0,
            unrated: 0,
        }
    }

    #[test]
    fn a_subject_is_neither_a_formula_nor_a_second_row() {
        let text = csv(&[point("=HYPERLINK(\"http://x\",\"y\")\n,z")]);
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(
            row.ends_with(r#","'=HYPERLINK(""http://x"",""y"") ,z""#),
            "{row}"
        );
        assert_eq!(text.lines().count(), 2);
    }
}
