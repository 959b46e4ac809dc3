//! Model building from arbitrary annotation sequences: the input is decoded into lines over a
//! small vocabulary of tags, names and ids, so that nearly every line is a valid annotation and
//! references, boundaries, nesting cycles and conflicts are dense. Building, validating and
//! analysing must never panic and must terminate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatmark::analysis::{RiskMatrix, analyze};
use threatmark::model::{FileAnnotations, Project, build};

const NAMES: &[&str] = &[
    "A",
    "B",
    "Shop:API",
    "Shop:API:Checkout",
    "DB",
    "#a",
    "#b",
    "#c",
    "X (#a)",
    "Y (#b)",
];
const ATTRS: &[&str] = &[
    "",
    " [stride: T,I; likelihood: likely; impact: major]",
    " [severity: high; owner: @t]",
    " [expires: 2020-01-01]",
    " [type: store]",
    " [actor: #a]",
];

fn pick<'a>(xs: &[&'a str], b: u8) -> &'a str {
    xs[usize::from(b) % xs.len()]
}

fuzz_target!(|data: &[u8]| {
    let mut files: Vec<(String, String)> = vec![(String::new(), String::new()); 3];
    for chunk in data.chunks(5) {
        let [t, x, y, z, a] = [0, 1, 2, 3, 4].map(|i| chunk.get(i).copied().unwrap_or(0));
        let (n1, n2, n3) = (pick(NAMES, x), pick(NAMES, y), pick(NAMES, z));
        let line = match t % 14 {
            0 => format!("@component {n1}{}", pick(ATTRS, a)),
            1 => format!("@threat {n1}{}", pick(ATTRS, a)),
            2 => format!("@control {n1}{}: d", pick(ATTRS, a)),
            3 => format!("@boundary {n1} in {n2}"),
            4 => format!("@boundary {n1} contains {n2}, {n3}"),
            5 => format!("@component {n1} in {n2}"),
            6 => format!("@mitigates {n1} against {n2} with {n3}{}", pick(ATTRS, a)),
            7 => format!("@exposes {n1} to {n2} with d{}", pick(ATTRS, a)),
            8 => format!("@accepts {n1} to {n2} with d{}", pick(ATTRS, a)),
            9 => format!("@transfers {n1} from {n2} to {n3}"),
            10 => format!("@connects {n1} to {n2} with p{}", a % 3),
            11 => format!("@connects {n1} with {n2}"),
            12 => format!("@actor {n1} in {n2}"),
            _ => format!("@tests {n1} for {n2}"),
        };
        let f = &mut files[usize::from(a) % 3].1;
        f.push_str(&line);
        f.push('\n');
    }
    let parsed: Vec<FileAnnotations> = files
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let path = format!("f{i}.rs");
            let (annotations, _) = threatmark::annotation::parse_text(&path, text);
            FileAnnotations { path, annotations }
        })
        .collect();
    let (model, _) = build(Project::default(), &parsed);
    let _ = analyze(
        &model,
        &RiskMatrix::default(),
        threatmark::date::Date::parse("2026-01-01"),
    );
});
