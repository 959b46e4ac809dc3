//! Threatspec 0.5.0 compatibility: every fact the real Threatspec recorded for a fixture project
//! written in its own dialect is in our model too, and every place where we deliberately read
//! more, or read differently, is asserted explicitly.
//!
//! The fixture, `tests/fixtures/threatspec/`, is the annotated sources, `threatspec.yaml` and
//! Threatspec's own output (`expected/`: `threatspec run` with threatspec 0.5.0, comment_parser
//! 1.2.4, run_id replaced by `RUN_ID` and the absolute prefix stripped from `source.filename`).
//! Threatspec read it with these parsers (forced per path in `threatspec.yaml`, because libmagic
//! would have skipped some files as `text/plain`):
//!
//! | file                      | Threatspec                              | threatmark                        |
//! |---------------------------|-----------------------------------------|-----------------------------------|
//! | `src/python/shop_api.py`  | `#` comments                            | `#` comments and docstrings       |
//! | `src/js/web.js`           | `//`, `/* */` (` * ` lines are ignored)  | the same, ` * ` stripped          |
//! | `src/go/payments.go`      | `//`, `/* */`                           | the same                          |
//! | `src/java/Auth.java`      | `//`, `/* */`                           | the same                          |
//! | `docs/threats.txt`        | the whole file is one comment           | the same (design text)            |
//! | `api/openapi.yaml`        | `x-threatspec` keys                     | the same, at their real lines     |
//! | `threatspec.yaml`         | not read (it is the configuration)      | YAML comments: nothing in them    |
//! | `expected/*.json`         | (its output)                            | not read: `.json` is no language  |
//!
//! The fixture is scanned with the configuration its `threatspec.yaml` means, as `threatmark scan`
//! does in that folder: `.txt` files are then design text, every line a comment line, which is
//! exactly Threatspec's TextFileParser. `docs/threats.txt` is also checked on its own.
//!
//! `x-threatspec` keys in OpenAPI/YAML files are read like Threatspec reads them (string, list,
//! or mapping to a body), but with real line numbers where Threatspec records line 0.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use threatmark::annotation::parse_text;
use threatmark::config::Config;
use threatmark::diagnostic::Severity;
use threatmark::model::{self, Entity, FileAnnotations, Project, Source, ThreatModel};
use threatmark::scan::{ScanResult, scan_dir};

/// Files whose facts are not expected in the scanned model (see the module comment): none.
const UNREAD: &[&str] = &[];
/// Library entries that only those files mention (the libraries do not record sources).
const ONLY_IN_UNREAD: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/threatspec")
}

fn expected(name: &str) -> Value {
    let path = root().join("expected").join(name);
    let text = std::fs::read_to_string(&path).expect("expected output");
    serde_json::from_str(&text).expect("expected output is JSON")
}

fn scan() -> ScanResult {
    let yaml = root().join("threatspec.yaml");
    let text = std::fs::read_to_string(&yaml).expect("threatspec.yaml");
    let config = Config::from_threatspec(&text, &yaml, &root()).expect("config");
    scan_dir(&root(), &config, 1, &|| {}).expect("scan")
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` in {v}"))
}

/// Names that Threatspec turns into a second entity with the id derived from the name, and
/// that mean the declaration of that name here: `Shop:API:Checkout` in a relation is the
/// `@component Shop:API:Checkout (#checkout)`. Threatspec's id -> ours.
const RESOLVED: &[(&str, &str)] = &[
    ("shop_api_checkout", "checkout"),
    ("shop_web_frontend", "frontend"),
];

/// Our id for one of Threatspec's.
fn ours(id: &str) -> &str {
    RESOLVED
        .iter()
        .find(|(theirs, _)| *theirs == id)
        .map_or(id, |(_, ours)| ours)
}

/// `#sqli` -> `sqli`, and a [`RESOLVED`] id -> ours.
fn id_of<'v>(v: &'v Value, key: &str) -> &'v str {
    let id = str_of(v, key);
    let id = id
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("`{key}` = {id:?} has no `#`"));
    ours(id)
}

/// The line of `file` on which `annotation` (its first line) is written, 1-based.
fn real_line(file: &str, annotation: &str) -> u32 {
    let first = annotation.lines().next().unwrap_or_default();
    let text = std::fs::read_to_string(root().join(file)).expect("fixture file");
    let found = text.lines().position(|l| l.contains(first));
    let line = found.unwrap_or_else(|| panic!("{first:?} is not in {file}"));
    u32::try_from(line + 1).expect("small file")
}

/// The attribute JSON our parser makes of `key: value` (Threatspec keeps it as a custom field).
fn our_attribute(key: &str, value: &Value) -> (String, Value) {
    let value = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string);
    let (anns, ds) = parse_text("attr", &format!("@threat X [{key}: {value}]"));
    assert!(ds.is_empty(), "{key}: {value}");
    let json = serde_json::to_value(&anns[0].attributes).expect("attributes");
    let map = json.as_object().expect("object");
    let (k, v) = map
        .iter()
        .next()
        .unwrap_or_else(|| panic!("{key}: {value} gave nothing"));
    (k.clone(), v.clone())
}

/// Sources of a relation must include Threatspec's, at its real line.
fn assert_source(sources: &[Source], ts: &Value, what: &str) {
    let src = &ts["source"];
    let file = str_of(src, "filename");
    let annotation = str_of(src, "annotation").lines().next().unwrap_or_default();
    let ours = sources
        .iter()
        .find(|s| s.path == file && s.annotation == annotation)
        .unwrap_or_else(|| panic!("{what}: no source {file}: {annotation:?} in {sources:?}"));
    // Threatspec numbers lines within each comment (`1` for every `//` or `#` comment); ours are
    // the file's lines.
    assert_eq!(ours.line, real_line(file, annotation), "{what}: line");
}

fn relations(tm: &Value, list: &str) -> Vec<Value> {
    tm[list]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| !UNREAD.contains(&str_of(&r["source"], "filename")))
        .cloned()
        .collect()
}

fn entity<'m>(items: &'m [Entity], id: &str, what: &str) -> &'m Entity {
    items
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("{what} `{id}` is missing"))
}

#[test]
fn every_threatspec_library_entry_is_in_our_model() {
    let result = scan();
    let m = &result.model;
    for (file, list) in [
        ("threats.json", "threats"),
        ("controls.json", "controls"),
        ("components.json", "components"),
    ] {
        let lib = expected(file);
        let entries = lib[list].as_object().expect("library map");
        assert!(!entries.is_empty());
        for (key, entry) in entries {
            let id = key.strip_prefix('#').expect("library keys start with #");
            assert_eq!(str_of(entry, "id"), key);
            if ONLY_IN_UNREAD.contains(&(list, id)) {
                continue;
            }
            if ours(id) != id {
                // Not a second component here: the declaration of the same name.
                assert!(m.component(id).is_none(), "{id} is a duplicate");
                let c = m.component(ours(id)).expect("the declared one");
                assert_eq!(c.name, str_of(entry, "name"));
                continue;
            }
            let (name, description, attributes) = match list {
                "components" => {
                    let c = m
                        .component(id)
                        .unwrap_or_else(|| panic!("component `{id}` is missing"));
                    (&c.name, &c.description, &c.attributes)
                }
                "threats" => {
                    let t = entity(&m.threats, id, "threat");
                    (&t.name, &t.description, &t.attributes)
                }
                _ => {
                    let k = entity(&m.controls, id, "control");
                    (&k.name, &k.description, &k.attributes)
                }
            };
            let ts_name = str_of(entry, "name");
            if !ts_name.is_empty() {
                assert_eq!(name, ts_name, "{list} {id}: name");
            }
            // Threatspec keeps YAML's trailing newline of `description: |`; we trim.
            assert_eq!(
                description,
                str_of(entry, "description").trim_end(),
                "{list} {id}: description"
            );
            // Threatspec's custom fields are typed attributes here (`impact: high` is `major`).
            let ours = serde_json::to_value(attributes).expect("attributes");
            for (k, v) in entry["custom"].as_object().expect("custom") {
                let (key, value) = our_attribute(k, v);
                assert_eq!(ours[&key], value, "{list} {id}: custom `{k}: {v}`");
            }
        }
    }
}

#[test]
fn every_threatspec_relation_is_in_our_model() {
    let result = scan();
    let m = &result.model;
    let tm = expected("threatmodel.json");
    let mut checked = 0;

    for r in relations(&tm, "mitigations") {
        let (c, t, k) = (
            id_of(&r, "component"),
            id_of(&r, "threat"),
            id_of(&r, "control"),
        );
        let ours = m
            .mitigations
            .iter()
            .find(|x| {
                (
                    x.link.component.as_str(),
                    x.link.threat.as_str(),
                    x.link.control.as_str(),
                ) == (c, t, k)
            })
            .unwrap_or_else(|| panic!("mitigation {c}/{t}/{k} is missing"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "mitigation");
        checked += 1;
    }
    for r in relations(&tm, "exposures") {
        let (c, t) = (id_of(&r, "component"), id_of(&r, "threat"));
        let ours = m
            .exposures
            .iter()
            .find(|x| (x.link.component.as_str(), x.link.threat.as_str()) == (c, t))
            .unwrap_or_else(|| panic!("exposure {c}/{t} is missing"));
        assert_eq!(ours.details, str_of(&r, "details"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "exposure");
        checked += 1;
    }
    for r in relations(&tm, "acceptances") {
        let (t, c) = (id_of(&r, "threat"), id_of(&r, "component"));
        let ours = m
            .acceptances
            .iter()
            .find(|x| (x.link.threat.as_str(), x.link.component.as_str()) == (t, c))
            .unwrap_or_else(|| panic!("acceptance {t}/{c} is missing"));
        assert_eq!(ours.details, str_of(&r, "details"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "acceptance");
        checked += 1;
    }
    for r in relations(&tm, "transfers") {
        let (t, from, to) = (
            id_of(&r, "threat"),
            id_of(&r, "source_component"),
            id_of(&r, "destination_component"),
        );
        let ours = m
            .transfers
            .iter()
            .find(|x| {
                (
                    x.link.threat.as_str(),
                    x.link.from.as_str(),
                    x.link.to.as_str(),
                ) == (t, from, to)
            })
            .unwrap_or_else(|| panic!("transfer {t}/{from}/{to} is missing"));
        assert_eq!(ours.details, str_of(&r, "details"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "transfer");
        checked += 1;
    }
    for r in relations(&tm, "connections") {
        let (s, t) = (
            id_of(&r, "source_component"),
            id_of(&r, "destination_component"),
        );
        let both = match str_of(&r, "direction") {
            "to" => false,
            "with" => true,
            other => panic!("direction {other}"),
        };
        let details = str_of(&r, "details");
        let ours = m
            .flows
            .iter()
            .find(|f| {
                let l = &f.link;
                let ends = if both {
                    // Two-way flows are stored with their ends in id order (Threatspec keeps the
                    // order as written): compare them as a pair.
                    BTreeSet::from([l.source.as_str(), l.target.as_str()]) == BTreeSet::from([s, t])
                } else {
                    (l.source.as_str(), l.target.as_str()) == (s, t)
                };
                ends && l.bidirectional == both && f.details == details
            })
            .unwrap_or_else(|| panic!("flow {s} -> {t} ({details}) is missing"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "flow");
        checked += 1;
    }
    for r in relations(&tm, "reviews") {
        let (c, details) = (id_of(&r, "component"), str_of(&r, "details"));
        let ours = m
            .reviews
            .iter()
            .find(|x| x.link.component == c && x.details == details)
            .unwrap_or_else(|| panic!("review {c}: {details:?} is missing"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "review");
        checked += 1;
    }
    for r in relations(&tm, "tests") {
        let (c, k) = (id_of(&r, "component"), id_of(&r, "control"));
        let ours = m
            .tests
            .iter()
            .find(|x| (x.link.component.as_str(), x.link.control.as_str()) == (c, k))
            .unwrap_or_else(|| panic!("test {k} for {c} is missing"));
        assert_eq!(ours.description, str_of(&r, "description"));
        assert_source(&ours.sources, &r, "test");
        checked += 1;
    }
    // 33 records in threatmodel.json, docs/threats.txt's included.
    assert_eq!(checked, 33);
}

/// Our model holds Threatspec's facts and exactly the extra ones listed here, each of them a
/// deliberate difference.
#[test]
fn what_we_read_beyond_threatspec() {
    let result = scan();
    let m = &result.model;
    let tm = expected("threatmodel.json");
    let lib_ids = |file: &str, list: &str| -> BTreeSet<String> {
        let lib = expected(file);
        lib[list]
            .as_object()
            .expect("map")
            .keys()
            .map(|k| ours(k.trim_start_matches('#')).to_string())
            .filter(|id| !ONLY_IN_UNREAD.contains(&(list, id.as_str())))
            .collect()
    };
    let ours =
        |items: Vec<&str>| -> BTreeSet<String> { items.into_iter().map(str::to_string).collect() };
    let extra = |ours: &BTreeSet<String>, theirs: &BTreeSet<String>| -> Vec<String> {
        assert!(
            theirs.is_subset(ours),
            "missing: {:?}",
            theirs.difference(ours).collect::<Vec<_>>()
        );
        ours.difference(theirs).cloned().collect()
    };

    let threats = extra(
        &ours(m.threats.iter().map(|t| t.id.as_str()).collect()),
        &lib_ids("threats.json", "threats"),
    );
    assert_eq!(
        threats,
        [
            // src/python/shop_api.py:3: docstrings are comments to us, not to Threatspec.
            "docstring_threat",
            // src/js/web.js:13: a JSDoc ` * @mitigates` line (Threatspec sees `* @mitigates`).
            "ignored_javadoc_threat",
            // src/python/shop_api.py:40: a YAML body in `#` comments (each `#` line is a comment
            // of its own to Threatspec, so the annotation is dropped).
            "py_yaml",
            // src/js/web.js:48: a YAML body that no blank line follows (Threatspec drops it).
            "session_fixation",
        ]
    );
    let controls = extra(
        &ours(m.controls.iter().map(|c| c.id.as_str()).collect()),
        &lib_ids("controls.json", "controls"),
    );
    assert_eq!(controls, ["ignored_control", "session_regeneration"]);
    // Threatspec keeps `Shop:API:Checkout` as a flat name (only `paths: [["Shop", "API"]]`);
    // we also create the parent components. `#admin` is declared alone (`@component` in
    // docs/threats.txt), which Threatspec drops from components.json (its run_id bug).
    let components = extra(
        &ours(m.components.iter().map(|c| c.id.as_str()).collect()),
        &lib_ids("components.json", "components"),
    );
    assert_eq!(
        components,
        [
            "admin",
            "external",
            "shop",
            "shop_edge",
            "shop_payments",
            "shop_web",
            "user"
        ]
    );
    let parent = |id: &str| m.component(id).and_then(|c| c.extra.parent.as_deref());
    for (child, p) in [
        ("checkout", "shop_api"),
        ("auth", "shop_api"),
        ("shop_api", "shop"),
        ("gateway", "shop_payments"),
        ("frontend", "shop_web"),
        ("shop_edge_waf", "shop_edge"),
        ("shop_cdn", "shop"),
        ("user_browser", "user"),
        ("external_psp", "external"),
    ] {
        assert_eq!(parent(child), Some(p), "parent of {child}");
    }
    assert!(
        m.components
            .iter()
            .filter(|c| components.contains(&c.id) && c.id != "admin")
            .all(|c| !c.declared)
    );

    // The two extra mitigations, with what Threatspec dropped.
    let ts_mitigations: BTreeSet<String> = relations(&tm, "mitigations")
        .iter()
        .map(|r| {
            format!(
                "{}/{}/{}",
                id_of(r, "component"),
                id_of(r, "threat"),
                id_of(r, "control")
            )
        })
        .collect();
    let extra_mitigations: Vec<&model::Mitigation> = m
        .mitigations
        .iter()
        .filter(|x| !ts_mitigations.contains(&x.id))
        .collect();
    let got: Vec<(&str, &str, u32, &str)> = extra_mitigations
        .iter()
        .map(|x| {
            (
                x.id.as_str(),
                x.sources[0].path.as_str(),
                x.sources[0].line,
                x.description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "frontend/ignored_javadoc_threat/ignored_control",
                "src/js/web.js",
                13,
                ""
            ),
            (
                "frontend/session_fixation/session_regeneration",
                "src/js/web.js",
                48,
                "this YAML body is silently dropped because no blank line follows it inside the comment"
            ),
        ]
    );
    let py_yaml = entity(&m.threats, "py_yaml", "threat");
    assert_eq!(
        py_yaml.description,
        "This body is never read, because each '#' line is a separate comment"
    );
    assert_eq!(
        entity(&m.threats, "docstring_threat", "threat").sources[0].line,
        3
    );

    // Every other relation list holds exactly Threatspec's records (those we read).
    assert_eq!(m.exposures.len(), relations(&tm, "exposures").len());
    assert_eq!(m.acceptances.len(), relations(&tm, "acceptances").len());
    assert_eq!(m.transfers.len(), relations(&tm, "transfers").len());
    assert_eq!(m.flows.len(), relations(&tm, "connections").len());
    assert_eq!(m.reviews.len(), relations(&tm, "reviews").len());
    assert_eq!(m.tests.len(), relations(&tm, "tests").len());
    assert!(m.boundaries.is_empty() && m.actors.is_empty());
}

#[test]
fn what_both_ignore() {
    let result = scan();
    let m = &result.model;
    // `# @Mitigates Shop:API against Uppercase Tag with ignored`: tags are case-sensitive in both;
    // we add a note. `# see @mitigates in the docs`: not at the start of the comment, in both.
    assert!(m.threat("uppercase_tag").is_none());
    assert!(m.control("ignored").is_none());
    let notes: Vec<(String, u32)> = result
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Note)
        .map(|d| {
            let l = d.location.as_ref().expect("location");
            (format!("{}:{}", l.path, d.code), l.line)
        })
        .collect();
    assert_eq!(notes, [("src/python/shop_api.py:TM005".to_string(), 24)]);
    // `@param`, `@returns`, `@todo`, `@ts-ignore`, `@author` are prose in both.
    // `# @skip` on a line of its own only disables that line, so the annotation below it is
    // recorded, as in Threatspec (where `@skip` is prose).
    assert!(
        m.mitigations
            .iter()
            .any(|x| x.id == "checkout/timing_attack/const_time")
    );
    // `// fake comment` and `/* fake block */` inside Go raw strings and `"http://..."` in Java
    // strings are not comments to either.
    assert!(
        result
            .model
            .threats
            .iter()
            .all(|t| !t.name.contains("fake"))
    );
}

#[test]
fn our_diagnostics_on_the_fixture() {
    // Threatspec says nothing; we warn about controls only ever named inside `@mitigates` and
    // note the capitalised tag. No errors: every Threatspec annotation is valid here too. The
    // `@test ... for Shop:Web:Frontend` names the component by its name, which is that of
    // `#frontend`, the component the control is used on (Threatspec makes a second component,
    // `#shop_web_frontend`, and the test is then about something the control does not cover).
    let result = scan();
    let got: Vec<String> = result
        .diagnostics
        .iter()
        .map(|d| {
            let l = d.location.as_ref().expect("location");
            format!("{} {}:{}:{}", d.code, l.path, l.line, l.column)
        })
        .collect();
    assert_eq!(
        got,
        [
            "TM010 src/go/payments.go:27:4",
            "TM010 src/java/Auth.java:13:8",
            "TM010 src/js/web.js:13:4",
            "TM010 src/js/web.js:48:1",
            "TM010 src/python/shop_api.py:19:3",
            "TM005 src/python/shop_api.py:24:3",
        ]
    );
}

#[test]
fn where_we_differ_in_detail() {
    let result = scan();
    let m = &result.model;
    let tm = expected("threatmodel.json");

    // Line numbers: Threatspec counts within each comment; ours are the file's.
    let ts = &tm["mitigations"][0];
    assert_eq!(
        str_of(&ts["source"], "annotation"),
        "@mitigates #checkout against #sqli with #param_queries"
    );
    assert_eq!(ts["source"]["line"], 1);
    let ours = m
        .mitigations
        .iter()
        .find(|x| x.id == "checkout/sqli/param_queries")
        .expect("mitigation");
    assert_eq!((ours.sources[0].line, ours.sources[0].column), (12, 3));
    // In a block comment Threatspec's line 12 is the file's line 32.
    let ts_xss = relations(&tm, "mitigations")
        .into_iter()
        .find(|r| id_of(r, "threat") == "xss")
        .expect("xss");
    assert_eq!(ts_xss["source"]["line"], 12);
    let ours = m
        .mitigations
        .iter()
        .find(|x| x.id == "frontend/xss/output_encoding")
        .expect("mitigation");
    assert_eq!(ours.sources[0].line, 32);

    // `@connects #frontend with Shop:API:Checkout (#checkout)`: Threatspec keeps the order as
    // written and `"direction": "with"`; we store a two-way flow with its ends in id order.
    let flow = m
        .flows
        .iter()
        .find(|f| f.details == "JSON over HTTPS")
        .expect("flow");
    assert_eq!(
        (
            flow.link.source.as_str(),
            flow.link.target.as_str(),
            flow.link.bidirectional
        ),
        ("checkout", "frontend", true)
    );

    // `#const_time` is named twice: Threatspec keeps the last name it read (config order:
    // python, then go); we keep the first in path order (src/go before src/python). Here both
    // are "Constant Time Compare".
    assert_eq!(
        entity(&m.controls, "const_time", "control").name,
        "Constant Time Compare"
    );

    // Threatspec's YAML body keys are free-form `custom` fields; ours are typed attributes.
    let xss = entity(&m.threats, "xss", "threat");
    let attrs = serde_json::to_value(&xss.attributes).expect("attributes");
    assert_eq!(
        attrs,
        serde_json::json!({"impact": "major", "cwe": ["CWE-79"]})
    );
    let card = entity(&m.threats, "card_leak", "threat");
    let attrs = serde_json::to_value(&card.attributes).expect("attributes");
    assert_eq!(
        attrs,
        serde_json::json!({"likelihood": "unlikely", "impact": "severe"})
    );

    // `@reviews #frontend AGAIN: plural form also works`: a `: ` in details is details, as in
    // Threatspec (it is not our inline description there).
    assert!(
        m.reviews
            .iter()
            .any(|r| r.details == "AGAIN: plural form also works" && r.description.is_empty())
    );
}

/// `docs/threats.txt`: Threatspec reads a `.txt` file as one comment (TextFileParser), and so
/// does the scan of a Threatspec project; `parse_text` reads it the same way, every line a
/// comment line.
#[test]
fn the_text_file_read_as_one_comment() {
    let path = "docs/threats.txt";
    let text = std::fs::read_to_string(root().join(path)).expect("fixture");
    let (annotations, ds) = parse_text(path, &text);
    assert!(ds.is_empty(), "{ds:?}");
    let (m, ds) = model::build(
        Project::default(),
        &[FileAnnotations {
            path: path.into(),
            annotations,
        }],
    );
    assert!(ds.is_empty(), "{ds:?}");
    check_text_file_facts(&m);

    // And the scan of the project reads it the same way (the other files add to it).
    let scanned = scan();
    check_text_file_facts(&scanned.model);
    assert!(scanned.model.threat("dos").is_some_and(|t| t.declared));
    assert!(
        scanned
            .model
            .control("rate_limiting")
            .is_some_and(|c| c.declared)
    );
}

fn check_text_file_facts(m: &ThreatModel) {
    let tm = expected("threatmodel.json");
    let ts: Vec<&Value> = tm["mitigations"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| str_of(&r["source"], "filename") == "docs/threats.txt")
        .collect();
    assert_eq!(ts.len(), 1);
    let ours = m
        .mitigations
        .iter()
        .find(|x| x.id == "shop_api/dos/rate_limiting")
        .expect("mitigation");
    assert_source(&ours.sources, ts[0], "mitigation");
    // In a text file Threatspec's line numbers are the file's too.
    assert_eq!(ts[0]["source"]["line"], 9);
    assert_eq!(ours.sources[0].line, 9);

    let threats = expected("threats.json");
    let dos = &threats["threats"]["#dos"];
    let ours = entity(&m.threats, "dos", "threat");
    assert_eq!(ours.name, str_of(dos, "name"));
    assert_eq!(ours.description, str_of(dos, "description"));
    assert_eq!(
        serde_json::to_value(&ours.attributes).expect("attributes"),
        serde_json::json!({"impact": "moderate"})
    );
    let controls = expected("controls.json");
    let rl = &controls["controls"]["#rate_limiting"];
    assert_eq!(
        entity(&m.controls, "rate_limiting", "control").name,
        str_of(rl, "name")
    );

    // `@component Shop:API:Admin (#admin):` with a YAML body: Threatspec drops it from
    // components.json (its `@component` run_id bug); we keep it, with the body.
    let components = expected("components.json");
    assert!(components["components"].get("#admin").is_none());
    let admin = m.component("admin").expect("admin");
    assert_eq!(
        (admin.name.as_str(), admin.description.as_str()),
        ("Shop:API:Admin", "Back-office admin endpoints")
    );
    assert_eq!(admin.attributes.owner.as_deref(), Some("ops"));
    assert_eq!(admin.extra.parent.as_deref(), Some("shop_api"));
}
