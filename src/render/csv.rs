//! One row per threat, ready to import into an issue tracker (RFC 4180, UTF-8, `\n` line
//! ends). A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed
//! with `'` so that spreadsheets never evaluate annotation text as a formula.

use super::view::{ItemRef, ReportView, SourceLink};

/// The header row's columns.
pub(crate) const COLUMNS: [&str; 14] = [
    "id",
    "name",
    "stride",
    "likelihood",
    "impact",
    "risk",
    "band",
    "status",
    "owner",
    "components",
    "controls",
    "locations",
    "links",
    "description",
];

/// One cell, quoted when needed and neutralised against formula injection.
pub(crate) fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn ids(items: &[ItemRef]) -> String {
    items
        .iter()
        .map(|i| i.id.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn places(items: &[SourceLink]) -> String {
    items
        .iter()
        .map(|s| s.label.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn urls(items: &[SourceLink]) -> String {
    items
        .iter()
        .filter_map(|s| s.url.as_deref())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The threats of a view as CSV.
pub(crate) fn threats(view: &ReportView) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for t in &view.threats {
        let row = [
            t.item.id.clone(),
            t.item.name.clone(),
            t.stride
                .iter()
                .map(|s| s.title.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            t.risk.likelihood.clone(),
            t.risk.impact.clone(),
            if t.risk.rated {
                t.risk.score.to_string()
            } else {
                String::new()
            },
            t.risk.band.clone(),
            t.status.clone(),
            t.owner.clone().unwrap_or_default(),
            ids(&t.components),
            ids(&t.controls),
            places(&t.sources),
            urls(&t.sources),
            t.description.clone(),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
