//! `threatmark export`: Threat Dragon v2, OTM 0.2.0 and TM-BOM 1.0.2.
//!
//! Each export of the example shop (docs/examples/shop, else tests/fixtures/polyglot) is
//! validated against the format's real schema (copied verbatim into tests/schemas/ from the
//! shared formats folder, so nothing outside the repository is read) and snapshotted. Update the
//! snapshots with `INSTA_UPDATE=always cargo test --test export` and read the diff.
//!
//! Threat Dragon's schema marks `strokeDasharray` `"type": "string", "nullable": true`.
//! `nullable` is an OpenAPI keyword that the application's validator (Ajv) implements and the
//! JSON Schema drafts do not, so the `null` the application itself writes (and so do we) is
//! only valid under Ajv. [`ajv_nullable`] rewrites the keyword into its standard equivalent
//! (`"type": ["string", "null"]`) before compiling, which is exactly Ajv's meaning; a test
//! checks that those are the only `null`s we write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use threatmark::analysis::RiskMatrix;
use threatmark::config::Config;
use threatmark::export::{self, Format, uuid::stable};
use threatmark::model::{Impact, Likelihood, ThreatModel};

mod support;
use support::tm;

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/shop");
const POLYGLOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/polyglot");

const STRIDE: [&str; 6] = [
    "Spoofing",
    "Tampering",
    "Repudiation",
    "Information disclosure",
    "Denial of service",
    "Elevation of privilege",
];

/// The example: the shop when it is there, else the polyglot fixture.
fn example_root() -> PathBuf {
    if Path::new(SHOP).join("threatmark.toml").is_file() {
        PathBuf::from(SHOP)
    } else {
        PathBuf::from(POLYGLOT)
    }
}

fn scan(root: &Path) -> (ThreatModel, RiskMatrix) {
    let config = Config::load(root, None).expect("config");
    let result = threatmark::scan::scan_dir(root, &config, 1, &|| {}).expect("scan");
    (result.model, config.risk)
}

fn example() -> (ThreatModel, RiskMatrix) {
    scan(&example_root())
}

fn export_text(format: Format) -> String {
    let (model, matrix) = example();
    export::export(&model, &matrix, format)
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    parse(&std::fs::read_to_string(&path).expect("schema in tests/schemas"))
}

/// Ajv's `nullable: true` in standard JSON Schema: `type` also admits `null`.
fn ajv_nullable(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                let types = match map.get("type") {
                    Some(Value::String(t)) => vec![Value::String(t.clone())],
                    Some(Value::Array(ts)) => ts.clone(),
                    _ => Vec::new(),
                };
                if !types.is_empty() {
                    let mut types = types;
                    types.push(Value::String("null".into()));
                    map.insert("type".into(), Value::Array(types));
                }
            }
            for v in map.values_mut() {
                ajv_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(ajv_nullable),
        _ => {}
    }
}

fn validator(format: Format) -> jsonschema::Validator {
    match format {
        Format::ThreatDragon => {
            // No `$schema`: Threat Dragon compiles it with Ajv's default, draft-07.
            let mut s = schema("threat-dragon-v2.schema.json");
            ajv_nullable(&mut s);
            jsonschema::draft7::options()
                .offline()
                .build(&s)
                .expect("the Threat Dragon schema compiles")
        }
        Format::Otm => jsonschema::draft7::options()
            .offline()
            .should_validate_formats(true)
            .build(&schema("otm-0.2.0.schema.json"))
            .expect("the OTM schema compiles"),
        Format::TmBom => jsonschema::draft202012::options()
            .offline()
            .should_validate_formats(true)
            .build(&schema("tm-bom.schema.json"))
            .expect("the TM-BOM schema compiles"),
    }
}

fn assert_valid(format: Format, doc: &Value) {
    let v = validator(format);
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid {}:\n{}",
        format.as_str(),
        errors.join("\n")
    );
}

fn cells(td: &Value) -> &Vec<Value> {
    td["detail"]["diagrams"][0]["cells"]
        .as_array()
        .expect("cells")
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    lens == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

// ---------------------------------------------------------------------------------------------
// Validity and snapshots

#[test]
fn threat_dragon_is_valid_and_stable() {
    let text = export_text(Format::ThreatDragon);
    assert!(text.ends_with("}\n"));
    let doc = parse(&text);
    assert_valid(Format::ThreatDragon, &doc);
    insta::assert_snapshot!("threat_dragon", text);
}

#[test]
fn otm_is_valid_and_stable() {
    let text = export_text(Format::Otm);
    assert!(text.ends_with("}\n"));
    assert_valid(Format::Otm, &parse(&text));
    insta::assert_snapshot!("otm", text);
}

#[test]
fn tm_bom_is_valid_and_stable() {
    let text = export_text(Format::TmBom);
    assert!(text.ends_with("}\n"));
    assert_valid(Format::TmBom, &parse(&text));
    insta::assert_snapshot!("tm_bom", text);
}

/// The validators do validate: a broken copy of each export is rejected.
#[test]
fn validators_reject_broken_exports() {
    let mut td = parse(&export_text(Format::ThreatDragon));
    td["detail"]
        .as_object_mut()
        .expect("detail")
        .remove("threatTop");
    assert!(!validator(Format::ThreatDragon).is_valid(&td));
    let mut td = parse(&export_text(Format::ThreatDragon));
    td["detail"]["diagrams"][0]["cells"][0]["zIndex"] = "front".into();
    assert!(!validator(Format::ThreatDragon).is_valid(&td));

    let mut otm = parse(&export_text(Format::Otm));
    otm["components"][0]
        .as_object_mut()
        .expect("component")
        .remove("parent");
    assert!(!validator(Format::Otm).is_valid(&otm));

    let mut bom = parse(&export_text(Format::TmBom));
    bom["components"][0]["symbolic_name"] = "Not_Symbolic".into();
    assert!(!validator(Format::TmBom).is_valid(&bom));
    let mut bom = parse(&export_text(Format::TmBom));
    bom["extra"] = true.into();
    assert!(!validator(Format::TmBom).is_valid(&bom));
}

/// `null` only where Threat Dragon itself writes it, so the `nullable` rewrite above admits
/// nothing else.
#[test]
fn threat_dragon_nulls_are_only_dash_arrays() {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(path.to_string()),
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| walk(v, &format!("{path}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(v, &format!("{path}/{i}"), out)),
            _ => {}
        }
    }
    let mut nulls = Vec::new();
    walk(&parse(&export_text(Format::ThreatDragon)), "", &mut nulls);
    assert!(!nulls.is_empty());
    for n in nulls {
        assert!(n.ends_with("/strokeDasharray"), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// Threat Dragon rules

#[test]
fn threat_dragon_ids_are_stable_uuids() {
    let (model, matrix) = example();
    let first = export::export(&model, &matrix, Format::ThreatDragon);
    let (again, _) = example();
    assert_eq!(first, export::export(&again, &matrix, Format::ThreatDragon));

    let doc = parse(&first);
    let mut ids = BTreeSet::new();
    for cell in cells(&doc) {
        let id = cell["id"].as_str().expect("cell id");
        assert!(is_uuid(id), "cell id {id}");
        assert!(ids.insert(id.to_string()), "duplicate cell id {id}");
        for t in cell["data"]["threats"].as_array().into_iter().flatten() {
            let tid = t["id"].as_str().expect("threat id");
            assert!(is_uuid(tid), "threat id {tid}");
            assert!(ids.insert(tid.to_string()), "duplicate threat id {tid}");
        }
    }
    // Derived from our ids, not from positions or order.
    for c in &model.components {
        assert!(ids.contains(&stable("component", &c.id)), "{}", c.id);
    }
    for b in &model.boundaries {
        assert!(ids.contains(&stable("boundary", &b.id)), "{}", b.id);
    }
    // Flows point at cells of the diagram.
    for cell in cells(&doc).iter().filter(|c| c["shape"] == "flow") {
        for end in ["source", "target"] {
            let id = cell[end]["cell"].as_str().expect("flow end");
            assert!(ids.contains(id), "{end} {id}");
        }
    }
}

#[test]
fn threat_dragon_threats_and_counters() {
    let doc = parse(&export_text(Format::ThreatDragon));
    let detail = &doc["detail"];
    let diagrams = detail["diagrams"].as_array().expect("diagrams");
    assert_eq!(detail["diagramTop"], diagrams.len());
    let thumbnails = [
        "thumbnail.jpg",
        "thumbnail.stride.jpg",
        "thumbnail.linddun.jpg",
        "thumbnail.cia.jpg",
        "thumbnail.die.jpg",
        "thumbnail.plot4ai.jpg",
        "thumbnail.eop.jpg",
    ];
    for d in diagrams {
        let thumb = d["thumbnail"].as_str().expect("thumbnail");
        let base = thumb.rsplit('/').next().expect("basename");
        assert!(thumbnails.contains(&base), "{thumb}");
        assert_eq!(d["diagramType"], "STRIDE");
    }

    let mut numbers = BTreeSet::new();
    let mut open_cells = 0;
    for cell in cells(&doc) {
        let data = &cell["data"];
        assert!(cell.get("threats").is_none(), "threats go in data.threats");
        let threats = data["threats"].as_array().cloned().unwrap_or_default();
        let open = threats.iter().any(|t| t["status"] == "Open");
        assert_eq!(data["hasOpenThreats"], open, "{}", data["name"]);
        if open {
            open_cells += 1;
            assert_eq!(cell["attrs"]["body"]["stroke"], "red");
        }
        for t in &threats {
            assert_eq!(t["modelType"], "STRIDE");
            let ty = t["type"].as_str().expect("type");
            assert!(STRIDE.contains(&ty), "type {ty}");
            let status = t["status"].as_str().expect("status");
            assert!(
                ["Open", "Mitigated", "Accepted", "Transferred"].contains(&status),
                "{status}"
            );
            let severity = t["severity"].as_str().expect("severity");
            assert!(
                ["TBD", "Low", "Medium", "High", "Critical"].contains(&severity),
                "{severity}"
            );
            let n = t["number"].as_u64().expect("number");
            assert!(numbers.insert(n), "number {n} reused");
        }
    }
    assert!(open_cells > 0, "the example has open threats");
    let top = detail["threatTop"].as_u64().expect("threatTop");
    assert_eq!(numbers.iter().max().copied().unwrap_or(0), top);
    assert_eq!(numbers.len() as u64, top, "numbers are 1..=threatTop");
}

#[test]
fn threat_dragon_elements_and_boxes() {
    let (model, matrix) = example();
    let doc = parse(&export::export(&model, &matrix, Format::ThreatDragon));
    let by_id: BTreeMap<&str, &Value> = cells(&doc)
        .iter()
        .map(|c| (c["id"].as_str().expect("id"), c))
        .collect();
    let rect = |cell: &Value| {
        let x = cell["position"]["x"].as_i64().expect("x");
        let y = cell["position"]["y"].as_i64().expect("y");
        let w = cell["size"]["width"].as_i64().expect("w");
        let h = cell["size"]["height"].as_i64().expect("h");
        (x, y, x + w, y + h)
    };
    let inside = |inner: (i64, i64, i64, i64), outer: (i64, i64, i64, i64)| {
        inner.0 >= outer.0 && inner.1 >= outer.1 && inner.2 <= outer.2 && inner.3 <= outer.3
    };
    for c in &model.components {
        let cell = by_id[stable("component", &c.id).as_str()];
        let (shape, kind) = match c.attributes.element_type {
            Some(threatmark::model::ElementType::Store) => ("store", "tm.Store"),
            Some(threatmark::model::ElementType::External) => ("actor", "tm.Actor"),
            _ => ("process", "tm.Process"),
        };
        assert_eq!(cell["shape"], shape, "{}", c.id);
        assert_eq!(cell["data"]["type"], kind, "{}", c.id);
        if let Some(b) = &c.extra.boundary {
            let bcell = by_id[stable("boundary", b).as_str()];
            assert!(
                inside(rect(cell), rect(bcell)),
                "{} is not inside its boundary {b}",
                c.id
            );
        }
    }
    for b in &model.boundaries {
        let cell = by_id[stable("boundary", &b.id).as_str()];
        assert_eq!(cell["shape"], "trust-boundary-box");
        assert_eq!(cell["data"]["isTrustBoundary"], true);
        if let Some(p) = &b.extra.parent {
            let pcell = by_id[stable("boundary", p).as_str()];
            assert!(inside(rect(cell), rect(pcell)), "{} not inside {p}", b.id);
            assert!(cell["zIndex"].as_i64() > pcell["zIndex"].as_i64());
        }
    }
    for a in &model.actors {
        let cell = by_id[stable("actor", &a.id).as_str()];
        assert_eq!(cell["shape"], "actor");
    }
    let flows = cells(&doc).iter().filter(|c| c["shape"] == "flow").count();
    assert_eq!(
        flows,
        model
            .flows
            .iter()
            .filter(|f| f.link.source != f.link.target)
            .count()
    );
}

/// Threat Dragon (AntV X6) draws labels at 14 px and never wraps them; a character is taken to
/// be 0.6 em wide (1 em from U+2E80 on: CJK, emoji), as docs/exports.md says.
fn td_text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| {
            if u32::from(c) >= 0x2E80 {
                14.0
            } else {
                14.0 * 0.6
            }
        })
        .sum()
}

type Box2 = (f64, f64, f64, f64); // x0, y0, x1, y1

fn cell_box(cell: &Value) -> Box2 {
    let n = |v: &Value| v.as_f64().expect("number");
    let (x, y) = (n(&cell["position"]["x"]), n(&cell["position"]["y"]));
    (
        x,
        y,
        x + n(&cell["size"]["width"]),
        y + n(&cell["size"]["height"]),
    )
}

fn boxes_overlap(a: Box2, b: Box2) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Where a flow leaves a node towards `to`: X6's `boundary` connection point on a circle (a
/// process: the circle of the box's smaller side) or on the box.
fn td_exit(cell: &Value, to: (f64, f64)) -> (f64, f64) {
    let b = cell_box(cell);
    let c = ((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0);
    let (vx, vy) = (to.0 - c.0, to.1 - c.1);
    let len = vx.hypot(vy);
    if len == 0.0 {
        return c;
    }
    let (w, h) = (b.2 - b.0, b.3 - b.1);
    let s = if cell["shape"] == "process" {
        w.min(h) / 2.0 / len
    } else {
        (w / 2.0 / vx.abs()).min(h / 2.0 / vy.abs())
    };
    (c.0 + vx * s.min(1.0), c.1 + vy * s.min(1.0))
}

/// Processes are circles wide enough for their names, no two shapes overlap, and no flow label
/// (drawn level, in the middle of its smooth curve, which is the middle of its two ends, moved
/// by its offset) covers a shape or another label.
#[test]
fn threat_dragon_shapes_hold_their_labels_and_flow_labels_cover_no_shape() {
    let nested = nested_root();
    for root in [example_root(), nested.path().to_path_buf()] {
        let (model, matrix) = scan(&root);
        let doc = parse(&export::export(&model, &matrix, Format::ThreatDragon));
        assert_valid(Format::ThreatDragon, &doc);
        let cells = cells(&doc);
        let by_id: BTreeMap<&str, &Value> = cells
            .iter()
            .map(|c| (c["id"].as_str().expect("id"), c))
            .collect();
        let nodes: Vec<&Value> = cells
            .iter()
            .filter(|c| ["process", "store", "actor"].contains(&c["shape"].as_str().unwrap_or("")))
            .collect();
        let mut bad = Vec::new();
        for n in &nodes {
            let name = n["attrs"]["text"]["text"].as_str().expect("name");
            let b = cell_box(n);
            let (w, h) = (b.2 - b.0, b.3 - b.1);
            let room = if n["shape"] == "process" { w.min(h) } else { w };
            if room < td_text_width(name) + 8.0 {
                bad.push(format!(
                    "{name:?} ({}) has {room} px for {} px",
                    n["shape"],
                    td_text_width(name)
                ));
            }
        }
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                if boxes_overlap(cell_box(a), cell_box(b)) {
                    bad.push(format!(
                        "{} overlaps {}",
                        a["attrs"]["text"]["text"], b["attrs"]["text"]["text"]
                    ));
                }
            }
        }
        let mut labels: Vec<(String, Box2)> = Vec::new();
        for f in cells.iter().filter(|c| c["shape"] == "flow") {
            let s = by_id[f["source"]["cell"].as_str().expect("source")];
            let t = by_id[f["target"]["cell"].as_str().expect("target")];
            let center = |c: &Value| {
                let b = cell_box(c);
                ((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0)
            };
            let (p, q) = (td_exit(s, center(t)), td_exit(t, center(s)));
            let label = &f["labels"][0];
            assert_eq!(label["position"]["distance"], 0.5);
            let gradient = &label["position"]["args"]["keepGradient"];
            if !(gradient.is_null() || gradient == false) {
                bad.push("a label turns with its flow (keepGradient)".to_string());
            }
            let off = &label["position"]["offset"];
            let at = (
                (p.0 + q.0) / 2.0 + off["x"].as_f64().unwrap_or(0.0),
                (p.1 + q.1) / 2.0 + off["y"].as_f64().unwrap_or(0.0),
            );
            let text = label["attrs"]["labelText"]["text"].as_str().expect("label");
            let (lw, lh) = (td_text_width(text) + 8.0, 14.0 * 1.2 + 4.0);
            let r = (
                at.0 - lw / 2.0,
                at.1 - lh / 2.0,
                at.0 + lw / 2.0,
                at.1 + lh / 2.0,
            );
            for n in &nodes {
                if boxes_overlap(r, cell_box(n)) {
                    bad.push(format!(
                        "label {text:?} covers {}",
                        n["attrs"]["text"]["text"]
                    ));
                }
            }
            for (other, o) in &labels {
                if boxes_overlap(r, *o) {
                    bad.push(format!("label {text:?} covers label {other:?}"));
                }
            }
            labels.push((text.to_string(), r));
        }
        assert!(labels.len() >= 5, "{} flows", labels.len());
        assert!(bad.is_empty(), "{}:\n{}", root.display(), bad.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// OTM and TM-BOM facts

#[test]
fn otm_carries_code_locations_and_risk() {
    let (model, matrix) = example();
    let doc = parse(&export::export(&model, &matrix, Format::Otm));
    assert_eq!(doc["otmVersion"], "0.2.0");
    let zones: BTreeSet<&str> = doc["trustZones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| z["id"].as_str().expect("zone id"))
        .collect();
    for b in &model.boundaries {
        assert!(zones.contains(b.id.as_str()));
    }
    for (c, otm) in model
        .components
        .iter()
        .zip(doc["components"].as_array().expect("components"))
    {
        assert_eq!(otm["id"], c.id.as_str());
        let parent = &otm["parent"];
        match parent.get("component") {
            Some(p) => assert_eq!(Some(p.as_str().expect("id")), c.extra.parent.as_deref()),
            None => {
                let z = parent["trustZone"].as_str().expect("zone");
                assert!(zones.contains(z));
            }
        }
        let code: Vec<&Value> = otm["representations"]
            .as_array()
            .expect("representations")
            .iter()
            .filter(|r| r["representation"] == "code")
            .collect();
        assert_eq!(code.len(), c.sources.len(), "{}", c.id);
        for (r, s) in code.iter().zip(&c.sources) {
            assert_eq!(r["file"], s.path.as_str());
            assert_eq!(r["line"], s.line);
            assert_eq!(r["codeSnippet"], s.annotation.as_str());
        }
    }
    for t in doc["threats"].as_array().expect("threats") {
        for cat in t["categories"].as_array().expect("categories") {
            assert!(STRIDE.contains(&cat.as_str().expect("category")));
        }
    }
    assert_eq!(
        doc["dataflows"].as_array().expect("dataflows").len(),
        model.flows.len()
    );
}

/// A model with boundaries three deep, a component under a parent component, one in the middle
/// zone, one in the outer zone and one in none.
fn nested_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("threatmark.toml"),
        "[project]\nname = \"nested\"\n",
    )
    .expect("config");
    std::fs::write(
        dir.path().join("app.rs"),
        "// @boundary Cloud (#cloud): the account\n\
         // @boundary Network (#vpc) in #cloud: the private network\n\
         // @boundary Cluster (#cluster) in #vpc: the cluster\n\
         // @component Shop (#shop) in #cluster [type: process]: the shop\n\
         // @component Shop:Orders (#orders) in #cluster [type: process]: order handling\n\
         // @component Gateway with a rather long name (#gateway) in #vpc [type: process]: the way in\n\
         // @component Bucket (#bucket) in #cloud [type: store]: files\n\
         // @component Browser (#browser) [type: external]: users\n\
         // @connects #browser to #gateway with HTTPS\n\
         // @connects #gateway to #shop with HTTP\n\
         // @connects #shop to #orders with calls\n\
         // @connects #orders to #bucket with S3 PUT\n\
         // @connects #browser to #bucket with HTTPS downloads\n\
         fn main() {}\n",
    )
    .expect("source");
    dir
}

/// An OTM element's box on the diagram: position (as written) and size.
fn otm_box(element: &Value) -> Option<(i64, i64, i64, i64)> {
    let r = element["representations"]
        .as_array()?
        .iter()
        .find(|r| r["representation"] == "diagram")?;
    Some((
        r["position"]["x"].as_i64()?,
        r["position"]["y"].as_i64()?,
        r["size"]["width"].as_i64()?,
        r["size"]["height"].as_i64()?,
    ))
}

/// OTM readers place an element relative to its parent (trust zone or component): every box
/// lies inside its zone's box in the zone's own frame, and with the parents' positions added
/// up no two components overlap.
fn assert_otm_positions_relative(model: &ThreatModel, matrix: &RiskMatrix) {
    let otm = parse(&export::export(model, matrix, Format::Otm));
    assert_valid(Format::Otm, &otm);
    // id -> (box as written, parent: (kind, id))
    type Key = (&'static str, String);
    type Box4 = (i64, i64, i64, i64);
    let mut elements: BTreeMap<Key, (Box4, Option<Key>)> = BTreeMap::new();
    for (kind, list) in [("trustZone", "trustZones"), ("component", "components")] {
        for e in otm[list].as_array().expect("list") {
            let Some(b) = otm_box(e) else { continue };
            let parent = ["trustZone", "component"]
                .into_iter()
                .find_map(|k| Some((k, e["parent"].get(k)?.as_str()?.to_string())));
            elements.insert(
                (kind, e["id"].as_str().expect("id").to_string()),
                (b, parent),
            );
        }
    }
    let absolute = |mut key: Key| {
        let (mut x, mut y) = (0, 0);
        let mut steps = 0;
        while let Some(((bx, by, _, _), parent)) = elements.get(&key) {
            x += bx;
            y += by;
            steps += 1;
            assert!(steps < 100, "parent cycle at {key:?}");
            match parent {
                Some(p) => key = p.clone(),
                None => break,
            }
        }
        (x, y)
    };
    let mut checked = 0;
    let mut absolute_components = Vec::new();
    for ((kind, id), ((x, y, w, h), parent)) in &elements {
        let (kind, (x, y, w, h)) = (*kind, (*x, *y, *w, *h));
        let (ax, ay) = absolute((kind, id.clone()));
        if kind == "component" {
            absolute_components.push((id.clone(), (ax, ay, ax + w, ay + h)));
        }
        // The zone it sits in: its own parent zone, or (under a component) that one's zone.
        let Some(mut p) = parent.clone() else {
            continue;
        };
        let (mut dx, mut dy) = (x, y);
        while p.0 == "component" {
            let ((px, py, _, _), pp) = elements.get(&p).expect("parent component drawn");
            dx += px;
            dy += py;
            p = pp.clone().expect("a component's parent has a parent");
        }
        let Some(&((_, _, zw, zh), _)) = elements.get(&p) else {
            continue; // the zone of unzoned components has no box
        };
        assert!(
            dx >= 0 && dy >= 0 && dx + w <= zw && dy + h <= zh,
            "{kind} {id} at ({dx}, {dy}) size {w}x{h} is outside its zone {} (0, 0)-({zw}, {zh})",
            p.1
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} boxes checked");
    // Added up, the boxes are the diagram's again: no two components on top of each other.
    for (i, (a, ra)) in absolute_components.iter().enumerate() {
        for (b, rb) in &absolute_components[i + 1..] {
            let apart = ra.2 <= rb.0 || rb.2 <= ra.0 || ra.3 <= rb.1 || rb.3 <= ra.1;
            assert!(apart, "{a} and {b} overlap once their parents are added");
        }
    }
}

#[test]
fn otm_positions_are_relative_to_the_parent_on_the_example() {
    let (model, matrix) = example();
    assert_otm_positions_relative(&model, &matrix);
}

#[test]
fn otm_positions_are_relative_to_the_parent_when_nested() {
    let dir = nested_root();
    let (model, matrix) = scan(dir.path());
    assert_eq!(model.boundaries.len(), 3);
    assert_eq!(
        model
            .component("orders")
            .and_then(|c| c.extra.parent.as_deref()),
        Some("shop")
    );
    assert_otm_positions_relative(&model, &matrix);
}

#[test]
fn tm_bom_risks_use_the_matrix() {
    let (model, matrix) = example();
    let doc = parse(&export::export(&model, &matrix, Format::TmBom));
    let risks = doc["risks"].as_array().expect("risks");
    assert!(!risks.is_empty());
    for r in risks {
        let l = Likelihood::parse(r["likelihood"].as_str().expect("l")).expect("likelihood");
        let i = Impact::parse(r["impact"].as_str().expect("i")).expect("impact");
        let score = matrix.score(l, i);
        assert_eq!(r["score"], score);
        let band = matrix.band(score).as_str().replace('-', "_");
        assert_eq!(r["level"], band.as_str());
    }
    let personas: BTreeSet<&str> = doc["threat_personas"]
        .as_array()
        .expect("personas")
        .iter()
        .map(|p| p["symbolic_name"].as_str().expect("name"))
        .collect();
    for t in doc["threats"].as_array().expect("threats") {
        assert!(personas.contains(t["threat_persona"].as_str().expect("persona")));
    }
    let externals = model
        .components
        .iter()
        .filter(|c| c.attributes.element_type == Some(threatmark::model::ElementType::External))
        .count();
    assert_eq!(doc["actors"].as_array().expect("actors").len(), externals);
}

// ---------------------------------------------------------------------------------------------
// The command

#[test]
fn command_writes_what_the_library_exports() {
    let root = example_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, matrix) = example();
    for format in Format::ALL {
        let out = dir.path().join(format!("{}.json", format.as_str()));
        tm().arg("export")
            .arg(&root)
            .args(["--format", format.as_str(), "--out"])
            .arg(&out)
            .assert()
            .success();
        let written = std::fs::read_to_string(&out).expect("written");
        assert_eq!(
            written,
            export::export(&model, &matrix, format),
            "{format:?}"
        );
    }
    // A model file exports the same as the scan it came from.
    let model_file = dir.path().join("model.json");
    std::fs::write(&model_file, threatmark::model::to_json(&model)).expect("write");
    let out = tm()
        .args(["export", "--format", "otm", "--model"])
        .arg(&model_file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).expect("utf-8"),
        export::export(&model, &matrix, Format::Otm)
    );
}

/// A GuardLink model's data classes, owners, confirmed exposures and assumptions reach the
/// exports where the format has a place for them, and every export still validates.
#[test]
fn guardlink_facts_are_exported() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guardlink");
    let (model, matrix) = scan(&root);
    let doc = |format| {
        let text = export::export(&model, &matrix, format);
        let doc = parse(&text);
        assert_valid(format, &doc);
        (text, doc)
    };

    // OTM: a data asset per class, processed (or stored) by the components that handle it.
    let (text, otm) = doc(Format::Otm);
    let assets: Vec<&str> = otm["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(assets, vec!["data-pii", "data-financial"]);
    let component = |id: &str| {
        otm["components"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no {id}"))
    };
    assert_eq!(
        component("orders")["assets"]["processed"],
        serde_json::json!(["data-pii"])
    );
    assert_eq!(
        component("ledger")["attributes"]["owners"],
        serde_json::json!(["payments-team"])
    );
    let replay = otm["threats"]
        .as_array()
        .and_then(|l| l.iter().find(|t| t["id"] == "replay"))
        .expect("replay");
    assert_eq!(
        replay["attributes"]["confirmedOn"],
        serde_json::json!(["orders"])
    );
    insta::assert_snapshot!("guardlink_otm", text);

    // TM-BOM: data sets with their sensitivity, the scope's sensitivity, and assumptions.
    let (text, bom) = doc(Format::TmBom);
    assert_eq!(
        bom["scope"]["data_sensitivity"],
        serde_json::json!(["pii", "fin"])
    );
    let sets: Vec<&str> = bom["data_sets"]
        .as_array()
        .expect("data sets")
        .iter()
        .map(|s| s["symbolic_name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(sets, vec!["data-pii", "data-financial"]);
    let assumption = &bom["assumptions"][0];
    assert_eq!(assumption["topics"], serde_json::json!(["ledger"]));
    assert!(
        assumption["description"]
            .as_str()
            .is_some_and(|d| d.contains("The database enforces unique ids"))
    );
    insta::assert_snapshot!("guardlink_tm_bom", text);

    // Threat Dragon: in the element's description, and on the threat.
    let (text, td) = doc(Format::ThreatDragon);
    let ledger = cells(&td)
        .iter()
        .find(|c| c["data"]["name"] == "Shop.Ledger")
        .expect("ledger cell");
    let description = ledger["data"]["description"].as_str().unwrap_or("");
    for want in [
        "Owner: payments-team",
        "Data: financial",
        "Assumes: The database enforces unique ids",
    ] {
        assert!(
            description.contains(want),
            "{want:?} not in {description:?}"
        );
    }
    assert!(
        text.contains("Confirmed exploitable"),
        "a confirmed exposure is marked"
    );
    insta::assert_snapshot!("guardlink_threat_dragon", text);
}
