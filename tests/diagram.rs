//! The data-flow diagram's geometry, checked on the SVG the site really contains: no arrow
//! through a box that is not its end, no badge on a box, a boundary title or another badge, no
//! boundary partly over another, every component inside exactly its boundaries, and a legend
//! whose entries do not run into each other. On the example shop and on a seeded generated
//! model of 40 components, 80 flows and 7 nested boundaries.
//!
//! @tests #routed_arrows for #renderer

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use regex::Regex;

#[path = "support/generate.rs"]
mod generate;

fn tm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_threatmark"))
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("threatmark runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The site's index page and the model of the repository at `repo`.
fn site_and_model(repo: &Path) -> (String, serde_json::Value) {
    let out = tempfile::tempdir().expect("tempdir");
    let site = out.path().join("site");
    let model = out.path().join("model.json");
    run_ok(tm().arg("site").arg("-C").arg(repo).arg("-o").arg(&site));
    run_ok(
        tm().arg("scan")
            .arg("-C")
            .arg(repo)
            .arg("-o")
            .arg(&model)
            .arg("-q"),
    );
    let html = std::fs::read_to_string(site.join("index.html")).expect("index.html");
    let json = std::fs::read_to_string(&model).expect("model");
    (html, serde_json::from_str(&json).expect("model json"))
}

type Box4 = (f64, f64, f64, f64);

#[derive(Debug, Default)]
struct Defects {
    edge_through_node: usize,
    badge_overlap: usize,
    node_overlap: usize,
    boundary_cross: usize,
    misplaced: usize,
    legend_overlap: usize,
    examples: Vec<String>,
}

impl Defects {
    fn total(&self) -> usize {
        self.edge_through_node
            + self.badge_overlap
            + self.node_overlap
            + self.boundary_cross
            + self.misplaced
            + self.legend_overlap
    }
    fn note(&mut self, s: String) {
        if self.examples.len() < 10 {
            self.examples.push(s);
        }
    }
}

fn re(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(pattern)
}

fn num(s: &str) -> f64 {
    s.parse().expect("number")
}

fn seg_hits(p: (f64, f64), q: (f64, f64), r: Box4) -> bool {
    let (x0, y0, x1, y1) = (r.0 + 2.0, r.1 + 2.0, r.2 - 2.0, r.3 - 2.0);
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (pp, qq) in [
        (-dx, p.0 - x0),
        (dx, x1 - p.0),
        (-dy, p.1 - y0),
        (dy, y1 - p.1),
    ] {
        if pp == 0.0 {
            if qq < 0.0 {
                return false;
            }
        } else {
            let t = qq / pp;
            if pp < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

fn dist(p: (f64, f64), r: Box4) -> f64 {
    let dx = (r.0 - p.0).max(0.0).max(p.0 - r.2);
    let dy = (r.1 - p.1).max(0.0).max(p.1 - r.3);
    (dx * dx + dy * dy).sqrt()
}

fn overlap(a: Box4, b: Box4) -> bool {
    a.0 < b.2 - 1.0 && b.0 < a.2 - 1.0 && a.1 < b.3 - 1.0 && b.1 < a.3 - 1.0
}

fn contains(a: Box4, b: Box4) -> bool {
    a.0 <= b.0 && a.1 <= b.1 && a.2 >= b.2 && a.3 >= b.3
}

/// Count what makes the diagram misread; `model` says which boundaries hold which component.
fn check(html: &str, model: &serde_json::Value) -> Defects {
    let svg = re(r#"(?s)<svg[^>]*class="tm-diagram".*?</svg>"#)
        .expect("present")
        .find(html)
        .expect("a diagram")
        .as_str();
    let mut d = Defects::default();
    let node_re = re(r#"(?s)<g class="tm-node[^"]*" data-component="([^"]*)">.*?<rect x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)""#).expect("present");
    let nodes: BTreeMap<String, Box4> = node_re
        .captures_iter(svg)
        .map(|c| {
            let (x, y) = (num(&c[2]), num(&c[3]));
            (c[1].to_string(), (x, y, x + num(&c[4]), y + num(&c[5])))
        })
        .collect();
    let bound_re = re(r#"(?s)<g class="tm-boundary" data-boundary="([^"]*)"[^>]*>.*?<rect class="tm-boundary-box" x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)"[^>]*/><text[^>]*>([^<]*)</text>"#).expect("present");
    let mut bounds: BTreeMap<String, Box4> = BTreeMap::new();
    let mut titles: Vec<Box4> = Vec::new();
    for c in bound_re.captures_iter(svg) {
        let (x, y) = (num(&c[2]), num(&c[3]));
        bounds.insert(c[1].to_string(), (x, y, x + num(&c[4]), y + num(&c[5])));
        // The title: 12.5 px bold text from x + 14, baseline at y + 21.
        let w = 7.5 * c[6].chars().count() as f64;
        titles.push((x + 14.0, y + 8.0, x + 14.0 + w, y + 25.0));
    }
    let flow_re =
        re(r#"<path class="tm-flow[^"]*" data-flow="([^"]*)" d="([^"]*)""#).expect("present");
    let pt_re = re(r"[ML](-?[\d.]+) (-?[\d.]+)").expect("present");
    let flows: Vec<(String, Vec<(f64, f64)>)> = flow_re
        .captures_iter(svg)
        .map(|c| {
            let pts = pt_re
                .captures_iter(&c[2])
                .map(|p| (num(&p[1]), num(&p[2])))
                .collect();
            (c[1].to_string(), pts)
        })
        .collect();
    // The straight arrows drawn before were lines: read them too, to count what they did.
    let line_re = re(
        r#"<line class="tm-flow[^"]*" data-flow="([^"]*)" x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)""#,
    )
    .expect("present");
    let mut flows = flows;
    flows.extend(line_re.captures_iter(svg).map(|c| {
        (
            c[1].to_string(),
            vec![(num(&c[2]), num(&c[3])), (num(&c[4]), num(&c[5]))],
        )
    }));
    let badge_re =
        re(r#"(?s)<g class="tm-badge">.*?<circle cx="([-\d.]+)" cy="([-\d.]+)" r="([-\d.]+)""#)
            .expect("present");
    let badges: Vec<(f64, f64, f64)> = badge_re
        .captures_iter(svg)
        .map(|c| (num(&c[1]), num(&c[2]), num(&c[3])))
        .collect();
    assert_eq!(badges.len(), flows.len(), "one badge per arrow");

    let nearest = |p: (f64, f64)| {
        nodes
            .iter()
            .min_by(|a, b| dist(p, *a.1).total_cmp(&dist(p, *b.1)))
            .map(|(id, _)| id.clone())
    };
    for (flow, pts) in &flows {
        assert!(pts.len() >= 2, "flow {flow} has a route");
        let ends: BTreeSet<String> = [nearest(pts[0]), nearest(pts[pts.len() - 1])]
            .into_iter()
            .flatten()
            .collect();
        let mut hit = BTreeSet::new();
        for w in pts.windows(2) {
            for (id, r) in &nodes {
                if !ends.contains(id) && seg_hits(w[0], w[1], *r) && hit.insert(id.clone()) {
                    d.note(format!("flow {flow} passes through {id}"));
                }
            }
        }
        d.edge_through_node += hit.len();
    }
    for (i, a) in badges.iter().enumerate() {
        for b in &badges[i + 1..] {
            if ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() < a.2 + b.2 {
                d.badge_overlap += 1;
                d.note(format!("badges at {a:?} and {b:?} overlap"));
            }
        }
        for (id, r) in &nodes {
            if dist((a.0, a.1), *r) < a.2 {
                d.badge_overlap += 1;
                d.note(format!("badge at {a:?} covers {id}"));
            }
        }
        for t in &titles {
            if dist((a.0, a.1), *t) < a.2 {
                d.badge_overlap += 1;
                d.note(format!("badge at {a:?} covers a boundary title"));
            }
        }
    }
    let nl: Vec<(&String, &Box4)> = nodes.iter().collect();
    for (i, a) in nl.iter().enumerate() {
        for b in &nl[i + 1..] {
            if overlap(*a.1, *b.1) {
                d.node_overlap += 1;
                d.note(format!("{} and {} overlap", a.0, b.0));
            }
        }
    }
    let bl: Vec<(&String, &Box4)> = bounds.iter().collect();
    for (i, a) in bl.iter().enumerate() {
        for b in &bl[i + 1..] {
            if overlap(*a.1, *b.1) && !contains(*a.1, *b.1) && !contains(*b.1, *a.1) {
                d.boundary_cross += 1;
                d.note(format!("boundaries {} and {} partly overlap", a.0, b.0));
            }
        }
    }
    // Which boundaries hold each component, by nesting.
    let parent: BTreeMap<&str, &str> = model["boundaries"]
        .as_array()
        .expect("present")
        .iter()
        .filter_map(|b| Some((b["id"].as_str()?, b["parent"].as_str()?)))
        .collect();
    for c in model["components"].as_array().expect("present") {
        let id = c["id"].as_str().expect("present");
        let Some(r) = nodes.get(id) else { continue };
        let mut inside = BTreeSet::new();
        let mut b = c["boundary"].as_str();
        while let Some(x) = b {
            if !inside.insert(x) {
                break;
            }
            b = parent.get(x).copied();
        }
        for (bid, br) in &bounds {
            if inside.contains(bid.as_str()) != contains(*br, *r) {
                d.misplaced += 1;
                d.note(format!("{id} misplaced with respect to boundary {bid}"));
            }
        }
    }
    // Legend entries (a swatch 34 px before its text) on one row must not overlap, at a
    // generous 7 px per character of 11 px text.
    let legend = re(r#"(?s)<g class="tm-legend".*?</g>\n"#)
        .expect("present")
        .find(svg)
        .expect("a legend")
        .as_str();
    let entry = re(r#"<g transform="translate\((-?[\d.]+) (-?[\d.]+)\)">.*?<text x="34" y="12">([^<]*)</text></g>"#).expect("present");
    let spans: Vec<(f64, f64, f64)> = entry
        .captures_iter(legend)
        .map(|c| {
            let x = num(&c[1]);
            (num(&c[2]), x, x + 34.0 + 7.0 * c[3].chars().count() as f64)
        })
        .collect();
    if spans.is_empty() {
        // The legend before: swatches and texts at fixed places on one row.
        let text = re(r#"<text x="(\d+)" y="12">([^<]*)</text>"#).expect("present");
        let mut v: Vec<(f64, f64)> = text
            .captures_iter(legend)
            .map(|c| {
                let x = num(&c[1]);
                (x, x + 7.0 * c[2].chars().count() as f64)
            })
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in v.windows(2) {
            if w[0].1 > w[1].0 - 26.0 {
                d.legend_overlap += 1;
                d.note(format!("legend text {:?} runs into the next entry", w[0]));
            }
        }
    }
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.0 == b.0 && a.1 < b.2 && b.1 < a.2 {
                d.legend_overlap += 1;
                d.note(format!("legend entries {a:?} and {b:?} overlap"));
            }
        }
    }
    d
}

/// A repository whose annotations declare `components` components, `flows` flows and 7
/// boundaries nested up to three deep, from `seed`.
fn generated(seed: u64, components: usize, flows: usize) -> tempfile::TempDir {
    generated_with(seed, components, flows, true)
}

/// [`generated`], with or without boundaries.
fn generated_with(
    seed: u64,
    components: usize,
    flows: usize,
    with_boundaries: bool,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = generate::annotations(seed, components, flows, with_boundaries);
    std::fs::write(
        dir.path().join("threatmark.toml"),
        "[project]\nname = \"generated\"\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("model.py"), text).expect("write");
    dir
}

fn assert_clean(what: &str, html: &str, model: &serde_json::Value) {
    let d = check(html, model);
    assert_eq!(d.total(), 0, "{what}: {d:#?}");
}

#[test]
fn the_example_shop_diagram_cannot_be_misread() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/shop");
    let (html, model) = site_and_model(&repo);
    assert_clean("docs/examples/shop", &html, &model);
}

#[test]
fn a_generated_40_80_diagram_with_nested_boundaries_cannot_be_misread() {
    for seed in [7, 18] {
        let repo = generated(seed, 40, 80);
        let (html, model) = site_and_model(repo.path());
        assert_eq!(model["components"].as_array().expect("present").len(), 40);
        assert_eq!(model["flows"].as_array().expect("present").len(), 80);
        assert_eq!(model["boundaries"].as_array().expect("present").len(), 7);
        assert_clean(&format!("seed {seed}"), &html, &model);
    }
}

/// Above the overview's size limit the outermost boundaries are boxes with counts.
#[test]
fn a_big_model_collapses_its_boundaries_in_the_overview() {
    let repo = generated(3, 400, 400);
    let (html, model) = site_and_model(repo.path());
    let d = check(&html, &model);
    assert_eq!(
        d.edge_through_node + d.badge_overlap + d.node_overlap,
        0,
        "{d:#?}"
    );
    assert!(
        html.contains(" components</text>"),
        "collapsed boxes say how many components"
    );
    let nodes = html.matches("<g class=\"tm-node").count();
    assert!(nodes < 120, "{nodes} component boxes in the overview");
}

/// The site of the repository at `repo` (its folder) and the model.
fn site_dir_and_model(repo: &Path) -> (tempfile::TempDir, serde_json::Value) {
    let out = tempfile::tempdir().expect("tempdir");
    let model = out.path().join("model.json");
    run_ok(
        tm().arg("site")
            .arg("-C")
            .arg(repo)
            .arg("-o")
            .arg(out.path().join("site")),
    );
    run_ok(
        tm().arg("scan")
            .arg("-C")
            .arg(repo)
            .arg("-o")
            .arg(&model)
            .arg("-q"),
    );
    let json = std::fs::read_to_string(&model).expect("model");
    (out, serde_json::from_str(&json).expect("model json"))
}

fn page(site: &tempfile::TempDir, rel: &str) -> String {
    std::fs::read_to_string(site.path().join("site").join(rel)).expect("page")
}

/// 400 components and 400 flows outside any boundary: nothing to collapse, so the overview
/// shows the busiest components and one box for the others, and every arrow is routed
/// around the boxes (before: 400 boxes, arrows through them).
#[test]
fn a_big_model_without_boundaries_has_a_clean_overview() {
    let repo = generated_with(5, 400, 400, false);
    let (site, model) = site_dir_and_model(repo.path());
    let html = page(&site, "index.html");
    let d = check(&html, &model);
    assert_eq!(d.total(), 0, "{d:#?}");
    let nodes = html.matches("<g class=\"tm-node").count();
    assert!(nodes <= 60, "{nodes} component boxes in the overview");
    assert!(html.contains(" more components</title>") || html.contains("More components"));
}

/// A boundary page of a big model draws the boundary open (its components, not one box),
/// the other boundaries as boxes, and no arrow through a box.
#[test]
fn boundary_pages_of_a_big_model_are_clean_and_open() {
    let repo = generated(3, 400, 400);
    let (site, model) = site_dir_and_model(repo.path());
    for b in ["cloud", "vpc", "lab", "edge"] {
        let html = page(&site, &format!("boundaries/{b}.html"));
        let d = check(&html, &model);
        assert_eq!(
            d.edge_through_node + d.badge_overlap + d.node_overlap + d.boundary_cross,
            0,
            "{b}: {d:#?}"
        );
        let svg = &html[html.find("class=\"tm-diagram\"").expect("a diagram")..];
        let drawn_inside = model["components"]
            .as_array()
            .expect("present")
            .iter()
            .filter(|c| c["boundary"] == b)
            .filter(|c| {
                let id = c["id"].as_str().expect("id");
                svg.contains(&format!("data-component=\"{id}\""))
            })
            .count();
        assert!(drawn_inside > 0, "{b}: its own components are drawn");
    }
}

/// Each arrow of a component's or boundary's local diagram carries the number its flow has
/// in the page's flow table (before: numbered 1..n within the diagram).
#[test]
fn local_diagram_numbers_match_the_flow_table() {
    let repo = generated(7, 40, 80);
    let (site, _) = site_dir_and_model(repo.path());
    let badge = re(r##"<g class="tm-badge"><a href="#(flow-[^"]+)"><title>[^<]*</title><circle[^>]*/><text[^>]*>(\d+)</text>"##)
        .expect("present");
    let mut checked = 0;
    for entry in std::fs::read_dir(site.path().join("site/components")).expect("pages") {
        let html = std::fs::read_to_string(entry.expect("entry").path()).expect("page");
        for c in badge.captures_iter(&html) {
            let row = re(&format!(
                r#"<tr id="{}"><td class="tm-num">(\d+)</td>"#,
                regex::escape(&c[1])
            ))
            .expect("present");
            let number = row
                .captures(&html)
                .unwrap_or_else(|| panic!("no table row for {}", &c[1]))[1]
                .to_string();
            assert_eq!(number, c[2].to_string(), "{}", &c[1]);
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked} badges checked");
}
