//! Threatspec projects, unchanged (`threatmark import threatspec`, `threatspec.yaml` as the
//! configuration) and multi-repository models (`threatmark merge`).
//!
//! The Threatspec fixture is tests/fixtures/threatspec: a real project and, in `expected/`,
//! Threatspec 0.5.0's own recorded output for it (see tests/threatspec_compat.rs).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use threatmark::analysis::RiskMatrix;
use threatmark::annotation::parse_text;
use threatmark::config::Config;
use threatmark::export::{self, Format};
use threatmark::import::threatspec;
use threatmark::model::{self, FileAnnotations, Impact, Project, ThreatModel};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/threatspec")
}

fn expected(name: &str) -> Value {
    let text = fs::read_to_string(fixture().join("expected").join(name)).expect("expected");
    serde_json::from_str(&text).expect("JSON")
}

mod support;
use support::tm;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// The fixture as a committed Threatspec project: sources, threatspec.yaml, and the recorded
/// output in `threatmodel/`.
fn threatspec_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["src", "docs", "api"] {
        copy_dir(&fixture().join(sub), &dir.path().join(sub));
    }
    fs::copy(
        fixture().join("threatspec.yaml"),
        dir.path().join("threatspec.yaml"),
    )
    .expect("copy");
    copy_dir(&fixture().join("expected"), &dir.path().join("threatmodel"));
    dir
}

fn id(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .expect("id")
        .trim_start_matches('#')
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// import threatspec

#[test]
fn import_holds_every_recorded_fact() {
    let dir = threatspec_project();
    let imported = threatspec::load_dir(dir.path()).expect("imports");
    let m = &imported.model;
    assert_eq!(m.project.name, "threatspec compat fixture");

    // Every library entry, with its name, description and custom fields as attributes.
    for (file, list) in [
        ("threats.json", "threats"),
        ("controls.json", "controls"),
        ("components.json", "components"),
    ] {
        for (key, entry) in expected(file)[list].as_object().expect("library") {
            let id = key.trim_start_matches('#');
            let (name, description) = match list {
                "threats" => m.threat(id).map(|e| (&e.name, &e.description)),
                "controls" => m.control(id).map(|e| (&e.name, &e.description)),
                _ => m.component(id).map(|e| (&e.name, &e.description)),
            }
            .unwrap_or_else(|| panic!("{list} {id} is missing"));
            let ts_name = entry["name"].as_str().expect("name");
            if !ts_name.is_empty() {
                assert_eq!(name, ts_name);
            }
            assert_eq!(
                description,
                entry["description"]
                    .as_str()
                    .expect("description")
                    .trim_end()
            );
        }
    }
    let xss = m.threat("xss").expect("xss");
    assert_eq!(xss.attributes.impact, Some(Impact::Major));
    assert_eq!(xss.attributes.cwe, vec!["CWE-79".to_string()]);
    assert_eq!(
        m.control("output_encoding")
            .and_then(|c| c.attributes.owner.as_deref()),
        Some("web-team")
    );
    // The last non-empty name wins, as in Threatspec.
    assert_eq!(
        m.control("const_time").map(|c| c.name.as_str()),
        Some("Constant Time Compare")
    );
    // Hierarchy: `Shop:API:Checkout` is a child of `Shop:API`.
    assert_eq!(
        m.component("checkout")
            .and_then(|c| c.extra.parent.as_deref()),
        Some("shop_api")
    );

    // Every relation, at its real line.
    let tm = expected("threatmodel.json");
    let mut checked = 0;
    for r in tm["mitigations"].as_array().expect("list") {
        let (c, t, k) = (id(r, "component"), id(r, "threat"), id(r, "control"));
        let ours = m
            .mitigations
            .iter()
            .find(|x| (&x.link.component, &x.link.threat, &x.link.control) == (&c, &t, &k))
            .unwrap_or_else(|| panic!("mitigation {c}/{t}/{k}"));
        assert_real_line(dir.path(), &ours.sources, r);
        checked += 1;
    }
    for r in tm["exposures"].as_array().expect("list") {
        let (c, t) = (id(r, "component"), id(r, "threat"));
        let ours = m
            .exposures
            .iter()
            .find(|x| (&x.link.component, &x.link.threat) == (&c, &t))
            .unwrap_or_else(|| panic!("exposure {c}/{t}"));
        assert_eq!(ours.details, r["details"].as_str().expect("details"));
        assert_real_line(dir.path(), &ours.sources, r);
        checked += 1;
    }
    for r in tm["acceptances"].as_array().expect("list") {
        let (t, c) = (id(r, "threat"), id(r, "component"));
        assert!(
            m.acceptances
                .iter()
                .any(|x| (&x.link.threat, &x.link.component) == (&t, &c)),
            "acceptance {t}/{c}"
        );
        checked += 1;
    }
    for r in tm["transfers"].as_array().expect("list") {
        let (t, f, to) = (
            id(r, "threat"),
            id(r, "source_component"),
            id(r, "destination_component"),
        );
        assert!(
            m.transfers
                .iter()
                .any(|x| (&x.link.threat, &x.link.from, &x.link.to) == (&t, &f, &to)),
            "transfer {t}/{f}/{to}"
        );
        checked += 1;
    }
    for r in tm["connections"].as_array().expect("list") {
        let (s, t) = (id(r, "source_component"), id(r, "destination_component"));
        let both = r["direction"] == "with";
        let ends = BTreeSet::from([s.clone(), t.clone()]);
        assert!(
            m.flows.iter().any(|f| {
                let ours = BTreeSet::from([f.link.source.clone(), f.link.target.clone()]);
                ours == ends
                    && f.link.bidirectional == both
                    && (both || (f.link.source == s && f.link.target == t))
                    && f.details == r["details"].as_str().expect("details")
            }),
            "flow {s} -> {t}"
        );
        checked += 1;
    }
    for r in tm["reviews"].as_array().expect("list") {
        let c = id(r, "component");
        assert!(
            m.reviews
                .iter()
                .any(|x| x.link.component == c && x.details == r["details"]),
            "review {c}"
        );
        checked += 1;
    }
    for r in tm["tests"].as_array().expect("list") {
        let (c, k) = (id(r, "component"), id(r, "control"));
        assert!(
            m.tests
                .iter()
                .any(|x| (&x.link.component, &x.link.control) == (&c, &k)),
            "test {k} for {c}"
        );
        checked += 1;
    }
    assert_eq!(checked, 33, "every record of threatmodel.json");
    // No random run id anywhere.
    assert!(!model::to_json(m).contains("RUN_ID"));
}

/// Threatspec records `line: 1` for every `//` or `#` comment; ours is the file's line.
fn assert_real_line(root: &Path, sources: &[model::Source], record: &Value) {
    let src = &record["source"];
    let file = src["filename"].as_str().expect("filename");
    let first = src["annotation"]
        .as_str()
        .expect("annotation")
        .lines()
        .next()
        .expect("line");
    let ours = sources
        .iter()
        .find(|s| s.path == file && s.annotation == first)
        .unwrap_or_else(|| panic!("{file}: {first:?} in {sources:?}"));
    let text = fs::read_to_string(root.join(file)).expect("file");
    let line = text.lines().position(|l| l.contains(first)).expect("found") + 1;
    assert_eq!(ours.line as usize, line, "{file}: {first}");
    assert!(ours.column >= 1);
}

#[test]
fn import_without_the_sources_keeps_recorded_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture().join("expected"), &dir.path().join("threatmodel"));
    let imported = threatspec::load_dir(dir.path()).expect("imports");
    let m = imported.model;
    assert!(!m.mitigations.is_empty());
    for s in m.mitigations.iter().flat_map(|x| &x.sources) {
        assert_eq!(s.line, 0, "no file to find the line in: {s:?}");
        assert!(!s.path.starts_with('/'));
    }
}

#[test]
fn import_command_writes_a_valid_model() {
    let dir = threatspec_project();
    let out = dir.path().join("imported.json");
    tm().args(["import", "threatspec"])
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = fs::read_to_string(&out).expect("written");
    let m = model::from_json(&text).expect("a threatmark model");
    assert!(m.analysis.is_some());
    assert_eq!(text, {
        let mut again = threatspec::load_dir(dir.path()).expect("imports").model;
        again.analysis = Some(threatmark::analysis::analyze(
            &again,
            &RiskMatrix::default(),
            None,
        ));
        model::to_json(&again)
    });
    // Also from the output folder itself, to stdout.
    let printed = tm()
        .args(["import", "threatspec"])
        .arg(dir.path().join("threatmodel"))
        .output()
        .expect("runs");
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).expect("utf-8"), text);
}

// ---------------------------------------------------------------------------------------------
// threatspec.yaml as the configuration

#[test]
fn threatspec_yaml_configures_the_scan() {
    let root = fixture();
    let config = Config::load(&root, None).expect("config");
    assert_eq!(
        config.project.name.as_deref(),
        Some("threatspec compat fixture")
    );
    assert!(config.project.description.starts_with("Every Threatspec"));
    assert_eq!(
        config.scan.include,
        vec!["api", "docs", "src/go", "src/java", "src/js", "src/python"]
    );
    assert_eq!(config.scan.exclude, vec!["api/**/*node_modules*"]);
    // Every extension under the mime-forced paths is one we know.
    assert!(config.languages.extensions.is_empty());

    let result = threatmark::scan::scan_dir(&root, &config, 1, &|| {}).expect("scan");
    let m = &result.model;
    assert_eq!(m.project.name, "threatspec compat fixture");
    // Threatspec's output folder is not scanned, the sources are.
    assert!(
        m.mitigations
            .iter()
            .flat_map(|x| &x.sources)
            .all(|s| !s.path.starts_with("expected/"))
    );
    let tm = expected("threatmodel.json");
    for r in tm["mitigations"].as_array().expect("list") {
        let file = r["source"]["filename"].as_str().expect("file");
        if file.starts_with("api/") {
            continue; // x-threatspec keys: see tests/threatspec_compat.rs
        }
        let (c, t, k) = (id(r, "component"), id(r, "threat"), id(r, "control"));
        // A name in a relation means the declaration of that name: `Shop:API:Checkout` is
        // `#checkout` (Threatspec makes a second component, `#shop_api_checkout`).
        let c = if c == "shop_api_checkout" {
            "checkout".to_string()
        } else {
            c
        };
        assert!(
            m.mitigations
                .iter()
                .any(|x| (&x.link.component, &x.link.threat, &x.link.control) == (&c, &t, &k)),
            "mitigation {c}/{t}/{k}"
        );
    }
}

#[test]
fn threatspec_yaml_paths_ignores_and_mimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    };
    write(
        "threatspec.yaml",
        "project:\n  name: \"tpl project\"\n  description: \"d\"\npaths:\n  - path: 'tpl'\n    mime: 'text/x-c'\n    ignore: ['skipme']\n  - 'src'\n  - '../elsewhere'\n",
    );
    write("tpl/page.tpl", "// @threat Template injection (#tpl_inj)\n");
    write("tpl/skipme/other.tpl", "// @threat Ignored (#ignored)\n");
    write("src/app.py", "# @threat Python threat (#py)\n");
    write("other/app.py", "# @threat Not listed (#not_listed)\n");
    let config = Config::load(root, None).expect("config");
    assert_eq!(config.scan.include, vec!["src", "tpl"]);
    assert_eq!(
        config.languages.extensions.get("tpl").map(String::as_str),
        Some("c")
    );
    let result = threatmark::scan::scan_dir(root, &config, 1, &|| {}).expect("scan");
    let ids: Vec<&str> = result.model.threats.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec!["py", "tpl_inj"]);
    // threatmark.toml wins over threatspec.yaml.
    write("threatmark.toml", "[project]\nname = \"toml wins\"\n");
    let config = Config::load(root, None).expect("config");
    assert_eq!(config.project.name.as_deref(), Some("toml wins"));
    assert!(config.scan.include.is_empty());
}

#[test]
fn threatspec_imports_are_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("app");
    // Inside the scan root: an import from outside it is refused (tests/hostile/writes.rs).
    let lib = root.join("lib");
    fs::create_dir_all(&root).expect("mkdir");
    copy_dir(&fixture().join("expected"), &lib.join("threatmodel"));
    fs::write(
        root.join("threatspec.yaml"),
        "project:\n  name: app\n  description: ''\nimports:\n  - './'\n  - 'lib'\npaths:\n  - './'\n",
    )
    .expect("write");
    // A bare `#sqli` that only the import declares would be an undefined reference (the
    // scan builds the model before the merge); the same declaration in both is one threat.
    fs::write(
        root.join("main.py"),
        "# @threat SQL Injection (#sqli)\n# @exposes App:Web to #sqli with raw SQL\n",
    )
    .expect("write");
    let config = Config::load(&root, None).expect("config");
    let scanned = threatmark::scan::scan_dir(&root, &config, 1, &|| {})
        .expect("scan")
        .model;
    let merged =
        threatspec::with_imports(&root, scanned, &RiskMatrix::default(), 10 << 20).expect("merge");
    assert_eq!(merged.project.name, "app");
    // The imported library's threat is the one the app's exposure names.
    let sqli = merged.threat("sqli").expect("sqli");
    assert_eq!(sqli.name, "SQL Injection");
    assert!(
        merged
            .exposures
            .iter()
            .any(|e| e.link.component == "app_web" && e.link.threat == "sqli")
    );
    assert!(merged.mitigations.iter().any(|x| x.link.threat == "sqli"));
    assert!(merged.component("checkout").is_some());
}

/// `scan --config other.yaml` still merges what the root's own `threatspec.yaml` imports: the
/// question "does the project name imports?" is asked of the root's file, not of the text the
/// configuration was loaded from (which is the root's file only without `--config`).
#[test]
fn a_scan_with_another_config_merges_the_roots_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("app");
    copy_dir(&fixture().join("expected"), &root.join("lib/threatmodel"));
    fs::write(
        root.join("threatspec.yaml"),
        "project:\n  name: app\n  description: ''\nimports:\n  - 'lib'\npaths:\n  - './'\n",
    )
    .expect("write");
    fs::create_dir_all(root.join("other")).expect("mkdir");
    fs::write(
        root.join("other/threatspec.yaml"),
        "project:\n  name: other\n  description: ''\npaths:\n  - './'\n",
    )
    .expect("write");
    fs::write(root.join("main.py"), "# @threat SQL Injection (#sqli)\n").expect("write");
    let model = |args: &[&str]| -> Value {
        let out = tm()
            .current_dir(&root)
            .args(["scan", "-q", "--format", "json"])
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let has_checkout = |m: &Value| {
        m["components"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == "checkout"))
    };
    assert!(has_checkout(&model(&[])), "the root's imports merged");
    assert!(
        has_checkout(&model(&["--config", "other/threatspec.yaml"])),
        "with --config, the root's imports are merged all the same"
    );
}

// ---------------------------------------------------------------------------------------------
// merge

fn build(project: &str, files: &[(&str, &str)]) -> ThreatModel {
    let mut parsed = Vec::new();
    for (path, text) in files {
        let (annotations, diags) = parse_text(path, text);
        assert!(diags.is_empty(), "{path}: {diags:#?}");
        parsed.push(FileAnnotations {
            path: (*path).to_string(),
            annotations,
        });
    }
    parsed.sort_by(|a, b| a.path.cmp(&b.path));
    let (mut m, diags) = model::build(
        Project {
            name: project.into(),
            description: String::new(),
        },
        &parsed,
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    m.analysis = Some(threatmark::analysis::analyze(
        &m,
        &RiskMatrix::default(),
        None,
    ));
    m
}

fn checkout() -> ThreatModel {
    build(
        "checkout",
        &[(
            "src/main.go",
            "@boundary Internet (#internet): everything outside\n\
             @boundary Cluster (#cluster)\n\
             @component API (#api) in #cluster [type: process]: the checkout API\n\
             @component Browser (#browser) in #internet [type: external]\n\
             @threat SQL injection (#sqli) [stride: T; likelihood: likely; impact: major]\n\
             @exposes #api to #sqli with string-built SQL\n\
             @connects #browser to #api with HTTPS\n\
             @connects #api to Catalog API with product lookups over HTTPS\n",
        )],
    )
}

fn catalog() -> ThreatModel {
    build(
        "catalog",
        &[(
            "src/main.go",
            "@boundary Internet (#internet): everything outside\n\
             @boundary Cluster (#cluster)\n\
             @component API (#api) in #cluster [type: process]: the catalog admin API\n\
             @component Catalog API (#catalog_api) in #cluster [type: process]: public product API\n\
             @threat SQL injection (#sqli) [stride: T; likelihood: possible; impact: major]\n\
             @control Prepared statements (#prepared)\n\
             @mitigates #api against #sqli with #prepared\n",
        )],
    )
}

#[test]
fn merge_namespaces_collisions_and_unifies_the_rest() {
    let m = threatmark::merge::merge(&[checkout(), catalog()], &RiskMatrix::default());
    let component_ids: Vec<&str> = m.components.iter().map(|c| c.id.as_str()).collect();
    // `api` is declared differently in both: namespaced. `browser` is one model's only.
    assert!(component_ids.contains(&"checkout.api"), "{component_ids:?}");
    assert!(component_ids.contains(&"catalog.api"));
    assert!(!component_ids.contains(&"api"));
    // `catalog_api` is declared in catalog and only mentioned in checkout: one component.
    let catalog_api = m.component("catalog_api").expect("catalog_api");
    assert!(catalog_api.declared);
    assert_eq!(catalog_api.description, "public product API");
    assert_eq!(catalog_api.extra.boundary.as_deref(), Some("cluster"));
    // Identical boundaries are one, with both declarations' sources.
    let internet = m.boundary("internet").expect("internet");
    let paths: Vec<&str> = internet.sources.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["catalog/src/main.go", "checkout/src/main.go"]);
    // `sqli` is rated differently: namespaced, and each model's relations follow.
    assert!(m.threat("checkout.sqli").is_some() && m.threat("catalog.sqli").is_some());
    assert!(
        m.exposures
            .iter()
            .any(|e| e.link.component == "checkout.api"
                && e.link.threat == "checkout.sqli"
                && e.id == "checkout.api/checkout.sqli")
    );
    assert!(
        m.mitigations
            .iter()
            .any(|x| x.link.component == "catalog.api"
                && x.link.threat == "catalog.sqli"
                && x.link.control == "prepared")
    );
    // The cross-repository flow now crosses nothing (both ends in `cluster`), the browser's
    // flow crosses both boundaries.
    let lookup = m
        .flows
        .iter()
        .find(|f| f.link.target == "catalog_api")
        .expect("cross-repository flow");
    assert_eq!(lookup.link.source, "checkout.api");
    assert!(lookup.link.crosses.is_empty());
    let https = m
        .flows
        .iter()
        .find(|f| f.link.source == "browser")
        .expect("browser flow");
    assert_eq!(https.link.crosses, vec!["cluster", "internet"]);
    assert_eq!(
        m.boundary("cluster").expect("cluster").extra.components,
        vec!["catalog.api", "catalog_api", "checkout.api"]
    );
    let analysis = m.analysis.as_ref().expect("analysed");
    assert_eq!(analysis.threats.len(), 2);
}

#[test]
fn merge_is_deterministic_and_exports() {
    let (a, b) = (checkout(), catalog());
    let ab = threatmark::merge::merge(&[a.clone(), b.clone()], &RiskMatrix::default());
    let ba = threatmark::merge::merge(&[b, a], &RiskMatrix::default());
    assert_eq!(model::to_json(&ab), model::to_json(&ba));
    // The merged model is a model like any other: it round-trips and exports validly.
    let back = model::from_json(&model::to_json(&ab)).expect("round trip");
    assert_eq!(back, ab);
    for format in Format::ALL {
        let text = export::export(&ab, &RiskMatrix::default(), format);
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        let errors = validate(format, &doc);
        assert!(errors.is_empty(), "{format:?}: {errors:#?}");
    }
    insta::assert_snapshot!("merged", model::to_json(&ab));
}

#[test]
fn merge_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    fs::write(&a, model::to_json(&checkout())).expect("write");
    fs::write(&b, model::to_json(&catalog())).expect("write");
    let out = dir.path().join("org.json");
    tm().arg("merge")
        .arg(&b)
        .arg(&a)
        .args(["--name", "org", "--out"])
        .arg(&out)
        .assert()
        .success();
    let merged = model::from_json(&fs::read_to_string(&out).expect("written")).expect("model");
    assert_eq!(merged.project.name, "org");
    let mut expected = threatmark::merge::merge(&[checkout(), catalog()], &RiskMatrix::default());
    expected.project.name = "org".into();
    assert_eq!(merged, expected);
    // And it exports like any other model.
    tm().args(["export", "--format", "threat-dragon", "--model"])
        .arg(&out)
        .assert()
        .success();
    // A file that is not a model is an error, not a panic.
    fs::write(dir.path().join("bad.json"), "{").expect("write");
    tm().arg("merge")
        .arg(dir.path().join("bad.json"))
        .assert()
        .code(2);
}

fn validate(format: Format, doc: &Value) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas");
    let load = |name: &str| -> Value {
        serde_json::from_str(&fs::read_to_string(root.join(name)).expect("schema")).expect("JSON")
    };
    let validator = match format {
        Format::ThreatDragon => {
            // Ajv's `nullable` (see tests/export.rs): strokeDasharray may be null.
            let mut schema = load("threat-dragon-v2.schema.json");
            ajv_nullable(&mut schema);
            jsonschema::draft7::options().offline().build(&schema)
        }
        Format::Otm => jsonschema::draft7::options()
            .offline()
            .build(&load("otm-0.2.0.schema.json")),
        Format::TmBom => jsonschema::draft202012::options()
            .offline()
            .build(&load("tm-bom.schema.json")),
    }
    .expect("schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Ajv's `nullable: true` in standard JSON Schema: `type` also admits `null`.
fn ajv_nullable(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), serde_json::json!([t, "null"]));
            }
            map.values_mut().for_each(ajv_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(ajv_nullable),
        _ => {}
    }
}

/// GuardLink's facts survive a merge: entitlements, assumptions and features are copied (with
/// renamed ids), owners and data classes stay on their components, and a boundary between two
/// components is still crossed by the flows between them.
#[test]
fn merge_keeps_guardlink_facts() {
    let gal = build(
        "desk",
        &[(
            "src/app.ts",
            "@asset Desk.Api (#api) -- \"the API\"\n\
             @threat Spoofing (#spoof) [P1]\n\
             @actor Support (#support)\n\
             @flows Browser -> #api via HTTPS\n\
             @boundary between Browser and #api (#edge)\n\
             @owns desk-team for #api\n\
             @handles pii on #api\n\
             @assumes #api -- \"TLS ends at the proxy\"\n\
             @entitles #support to read-tickets on #api against #spoof\n\
             @feature \"Tickets\"\n",
        )],
    );
    // `api` and `spoof` are declared differently in the other model: namespaced there.
    let other = build(
        "other",
        &[(
            "src/main.go",
            "@component API (#api): another API\n@threat Spoofing (#spoof) [impact: minor]\n",
        )],
    );
    let m = threatmark::merge::merge(&[gal.clone(), other], &RiskMatrix::default());
    let api = m.component("desk.api").expect("desk.api");
    assert_eq!(api.extra.owners, vec!["desk-team"]);
    assert_eq!(api.extra.data.len(), 1);
    assert_eq!(m.entitlements.len(), 1, "{m:#?}");
    let e = &m.entitlements[0].link;
    assert_eq!(
        (e.component.as_deref(), e.threat.as_deref()),
        (Some("desk.api"), Some("desk.spoof"))
    );
    assert_eq!(m.assumptions.len(), 1);
    assert_eq!(m.assumptions[0].link.component, "desk.api");
    assert_eq!(m.features.len(), 1);
    let flow = m
        .flows
        .iter()
        .find(|f| f.link.target == "desk.api")
        .expect("flow");
    assert_eq!(
        flow.link.crosses,
        vec!["edge"],
        "the between-boundary is crossed"
    );
    // A merge of one model keeps what the scan derived (sources get the project's folder).
    let alone = threatmark::merge::merge(std::slice::from_ref(&gal), &RiskMatrix::default());
    fn links<T: Clone>(list: &[model::Relation<T>]) -> Vec<(String, T)> {
        list.iter()
            .map(|r| (r.id.clone(), r.link.clone()))
            .collect()
    }
    assert_eq!(links(&alone.entitlements), links(&gal.entitlements));
    assert_eq!(links(&alone.assumptions), links(&gal.assumptions));
    assert_eq!(links(&alone.features), links(&gal.features));
    assert_eq!(links(&alone.flows), links(&gal.flows));
}
