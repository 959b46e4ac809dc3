//! GuardLink projects, read as they are (issue 15, part 3): a fixture written in GuardLink's
//! annotation language (GAL), `tests/fixtures/guardlink/`, gives the facts GuardLink derives,
//! with no error on valid GAL, and threatmark's own dialect keeps working beside it.
//!
//! The fixture has GuardLink's conventions: shared definitions in `.guardlink/definitions.ts`,
//! inline annotations in `src/orders.ts`, a `.gal` sidecar with a `@source` anchor, and in
//! `src/broken.ts` one malformed GAL line and one line of prose that starts with a verb.
//!
//! @tests #gal_native for #parser
//! @tests #guardlink_files for #scanner

use std::path::PathBuf;

use serde_json::Value;
use threatmark::config::Config;
use threatmark::diagnostic::{Code, Diagnostic, Severity};
use threatmark::scan::scan_dir;

mod support;

fn scan() -> (Value, Vec<Diagnostic>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guardlink");
    let result = scan_dir(&root, &Config::default(), 1, &|| {}).expect("scan");
    let json = serde_json::to_value(&result.model).expect("json");
    (json, result.diagnostics)
}

fn find<'a>(model: &'a Value, list: &str, id: &str) -> &'a Value {
    model[list]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("{list} has no {id}: {:#}", model[list]))
}

fn ids(model: &Value, list: &str) -> Vec<String> {
    model[list]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| x["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn gal_definitions_are_declared_with_their_ratings() {
    let (model, _) = scan();
    let orders = find(&model, "components", "orders");
    assert_eq!(orders["name"], "Shop.Orders");
    assert_eq!(orders["declared"], true);
    assert_eq!(orders["description"], "The order service");
    let tamper = find(&model, "threats", "order-tamper");
    assert_eq!(tamper["name"], "Order Tampering");
    assert_eq!(tamper["severity"], "critical", "[P0] is critical");
    assert_eq!(tamper["cwe"], serde_json::json!(["CWE-639"]));
    assert_eq!(tamper["custom"]["owasp"], "A01:2021");
    let inject = find(&model, "threats", "log-inject");
    assert_eq!(inject["capec"], serde_json::json!(["CAPEC-93"]));
    assert_eq!(
        find(&model, "controls", "signed-requests")["declared"],
        true
    );
    assert_eq!(find(&model, "actors", "support")["name"], "Support Agent");
}

#[test]
fn gal_relations_are_kept() {
    let (model, _) = scan();
    // `using` and threatmark's `with` in one project.
    let mitigations = ids(&model, "mitigations");
    assert!(mitigations.contains(&"orders/order-tamper/signed-requests".to_string()));
    assert!(mitigations.contains(&"orders/log-inject/encode-logs".to_string()));
    // From the `.gal` sidecar.
    assert!(mitigations.contains(&"ledger/order-tamper/signed-requests".to_string()));
    let exposure = find(&model, "exposures", "orders/log-inject");
    assert_eq!(exposure["severity"], "high", "[P1] is high");
    assert_eq!(
        exposure["description"], "Order notes are logged raw until the encoder ships",
        "a `-- \"...\"` line continues the description"
    );
    let confirmed = find(&model, "exposures", "orders/replay");
    assert_eq!(confirmed["confirmed"], true);
    assert_eq!(confirmed["severity"], "high");
    assert_eq!(
        find(&model, "exposures", "ledger/order-tamper")["severity"],
        "critical"
    );
    assert!(ids(&model, "acceptances").contains(&"replay/ledger".to_string()));
    assert_eq!(ids(&model, "reviews").len(), 1, "@audit is a review");
    assert_eq!(ids(&model, "tests"), vec!["signed-requests/orders"]);
    let entitlement = &model["entitlements"][0];
    assert_eq!(entitlement["actor"], "support");
    assert_eq!(entitlement["capability"], "read-orders");
    assert_eq!(entitlement["component"], "orders");
    assert_eq!(entitlement["threat"], "order-tamper");
    assert_eq!(model["assumptions"][0]["component"], "ledger");
    assert_eq!(model["features"][0]["name"], "Checkout");
    let ledger = find(&model, "components", "ledger");
    assert_eq!(ledger["owners"], serde_json::json!(["payments-team"]));
    assert_eq!(ledger["data"], serde_json::json!(["financial"]));
    assert_eq!(orders_data(&model), serde_json::json!(["pii"]));
}

fn orders_data(model: &Value) -> Value {
    find(model, "components", "orders")["data"].clone()
}

#[test]
fn gal_flow_chains_and_boundaries_make_crossings() {
    let (model, _) = scan();
    // `Browser -> #orders -> #ledger` is two flows; `Browser` is a component by name.
    assert_eq!(
        find(&model, "components", "browser")["declared"],
        Value::Null
    );
    let edge = find(&model, "flows", "browser/orders/https");
    assert_eq!(edge["details"], "HTTPS");
    assert_eq!(edge["crosses"], serde_json::json!(["edge"]));
    let inner = find(&model, "flows", "orders/ledger/https");
    assert_eq!(inner["crosses"], Value::Null, "no boundary between them");
    let boundary = find(&model, "boundaries", "edge");
    assert_eq!(
        boundary["between"],
        serde_json::json!(["browser", "orders"])
    );
    assert_eq!(boundary["name"], "Browser | #orders");
}

#[test]
fn shields_comments_and_prose_add_nothing_and_broken_gal_is_named() {
    let (model, diags) = scan();
    assert!(
        !ids(&model, "threats").contains(&"nothing-real".to_string()),
        "inside @shield:begin/end nothing is read"
    );
    let at = |d: &Diagnostic| {
        d.location
            .as_ref()
            .map(|l| (l.path.clone(), l.line))
            .unwrap_or_default()
    };
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code, at(d)))
        .collect();
    assert_eq!(
        errors,
        vec![(Code::MalformedGal, ("src/broken.ts".to_string(), 1))],
        "the only error is the malformed line: {diags:#?}"
    );
    let notes: Vec<_> = diags
        .iter()
        .filter(|d| d.code == Code::GalProse)
        .map(at)
        .collect();
    assert_eq!(notes, vec![("src/broken.ts".to_string(), 2)]);
    assert!(
        diags.iter().all(|d| d.code != Code::UnknownTag),
        "verbs named in prose are not typos: {diags:#?}"
    );
}

#[test]
fn threatmark_lines_are_not_taken_for_gal() {
    // The same verbs in threatmark's own grammar parse exactly as before.
    let text = "@exposes #a to #t with raw SQL [severity: high]: why\n@accepts #t to #a with reason\n@boundary DMZ (#dmz) contains #a";
    let (annotations, diags) = threatmark::annotation::parse_text("x", text);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(annotations.len(), 3);
    assert!(annotations.iter().all(|a| !a.gal));
}

/// A project with a `.guardlink/config.json` and no threatmark.toml is read from the files
/// GuardLink reads: its built-in lists (the `include`/`exclude` in `config.json` are GuardLink's
/// record of `init`, which its parser never reads), with sidecars under
/// `.guardlink/annotations/` kept whatever folder they mirror.
#[test]
fn a_guardlink_project_is_read_from_the_files_guardlink_reads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guardlink-project");
    let config = Config::load(&root, None).expect("config");
    assert_eq!(config.project.name.as_deref(), Some("ticket-desk"));
    let result = scan_dir(&root, &config, 1, &|| {}).expect("scan");
    let model = serde_json::to_value(&result.model).expect("json");
    let errors: Vec<_> = result
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "fixtures under tests/ are not read: {errors:#?}"
    );
    assert_eq!(
        ids(&model, "components"),
        vec!["mailer", "tickets"],
        "nothing from tests/, test/, __tests__/, dist/, settings.toml or GuardLink's own outputs"
    );
    assert_eq!(
        find(&model, "threats", "ticket-spoof")["severity"],
        "high",
        "the redeclaration in a fixture is not read"
    );
    // `.py` is read although config.json lists only `*.ts`, as GuardLink does.
    assert!(ids(&model, "exposures").contains(&"mailer/header-inject".to_string()));
    // The sidecar under `.guardlink/annotations/tests/` is rescued.
    assert_eq!(ids(&model, "tests"), vec!["sender-check/tickets"]);
}

/// Extensions GuardLink reads that threatmark has no language for are read with the comment
/// tokens GuardLink looks for.
#[test]
fn a_guardlink_project_reads_dart_and_elixir_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(".guardlink/config.json", "{}");
    write(
        "lib/app.dart",
        "// @asset App.Screen (#screen)\nvoid main() {}\n",
    );
    write(
        "lib/srv.ex",
        "# @asset App.Server (#server)\ndefmodule S do end\n",
    );
    write("lib/Q.hs", "-- @asset App.Query (#query)\nmain = pure ()\n");
    let config = Config::load(dir.path(), None).expect("config");
    let result = scan_dir(dir.path(), &config, 1, &|| {}).expect("scan");
    let model = serde_json::to_value(&result.model).expect("json");
    assert_eq!(ids(&model, "components"), vec!["query", "screen", "server"]);
}

/// A `.guardlink/config.json` linked from outside the repository is refused, as the other
/// configuration files are: its `project` would otherwise end up in the model.
#[cfg(unix)]
#[test]
fn a_guardlink_config_linked_from_outside_is_refused() {
    const MARKER: &str = "AKIA7D2F0GUARDLINK";
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("settings.json"),
        format!("{{\"project\": \"{MARKER}\"}}"),
    )
    .expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join(".guardlink")).expect("mkdir");
    std::fs::write(root.join("a.ts"), "// @asset A.B (#a)\n").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("settings.json"),
        root.join(".guardlink/config.json"),
    )
    .expect("symlink");
    let out = support::tm()
        .args(["scan", "--format", "json"])
        .arg(root)
        .output()
        .expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stdout.contains(MARKER) && !stderr.contains(MARKER),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("symbolic link"), "{stderr}");
}
