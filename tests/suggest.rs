//! `threatmark suggest` and `threatmark library`: the threat library on docs/examples/shop
//! (snapshots of every format, quoted by docs/library.md), dismissals, user rule files and their
//! diagnostics. The rules' own fixtures are tested next to the matcher
//! (src/analysis/suggest.rs).
//!
//! @tests #validated_rules for #cli
//! @tests #library_paths_inside for #cli

use std::path::{Path, PathBuf};

mod support;
use support::{run, tm_in, write};

fn shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/shop")
}

fn suggest(dir: &Path, args: &[&str]) -> support::Run {
    let r = run(tm_in(dir).arg("suggest").args(args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

#[test]
fn shop_table() {
    let r = suggest(&shop(), &[]);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    insta::assert_snapshot!("shop_suggest_table", r.stdout);
}

#[test]
fn shop_markdown() {
    let r = suggest(&shop(), &["--format", "markdown"]);
    insta::assert_snapshot!("shop_suggest_markdown", r.stdout);
}

/// The JSON is the table's data; the snapshot keeps the first three suggestions and the counts.
#[test]
fn shop_json() {
    let r = suggest(&shop(), &["--format", "json"]);
    let mut doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let all = doc["suggestions"].as_array().expect("a list").len();
    assert_eq!(doc["open"].as_u64(), Some(all as u64));
    if let Some(list) = doc["suggestions"].as_array_mut() {
        list.truncate(3);
    }
    insta::assert_snapshot!(
        "shop_suggest_json",
        serde_json::to_string_pretty(&doc).expect("JSON")
    );
}

#[test]
fn output_does_not_depend_on_threads() {
    let one = suggest(&shop(), &["-j", "1", "--format", "json"]);
    let four = suggest(&shop(), &["-j", "4", "--format", "json"]);
    assert_eq!(one.stdout, four.stdout);
}

#[test]
fn analyze_mentions_the_count() {
    let r = run(tm_in(&shop()).args(["analyze", "--today", "2026-11-23"]));
    let json = suggest(&shop(), &["--format", "json"]).stdout;
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let n = doc["open"].as_u64().expect("count");
    assert!(
        r.stdout.contains(&format!(
            "{n} suggested threats from the threat library: `threatmark suggest`"
        )),
        "{}",
        r.stdout
    );
}

const MODEL: &str = "// @component Orders DB (#orders_db) [type: store; tech: postgres]\n";

#[test]
fn a_dismissed_suggestion_shows_its_reason_and_an_unknown_rule_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "src/db.rs", MODEL);
    let before = suggest(dir.path(), &["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&before.stdout).expect("JSON");
    let open = doc["open"].as_u64().expect("count");
    assert!(before.stdout.contains("\"rule\": \"datastore.injection\""));
    write(
        dir.path(),
        "threatmark.toml",
        "[[suggest.dismiss]]\nrule = \"datastore.injection\"\non = \"orders_db\"\nreason = \"only stored procedures, SHOP-7\"\n\n[[suggest.dismiss]]\nrule = \"datastore.injecton\"\non = \"orders_db\"\nreason = \"typo\"\n",
    );
    let after = suggest(dir.path(), &[]);
    assert!(
        after.stdout.contains(
            "datastore.injection on store `orders_db` (Orders DB) DISMISSED (threatmark.toml): only stored procedures, SHOP-7"
        ),
        "{}",
        after.stdout
    );
    assert!(
        after
            .stdout
            .contains(&format!("{} suggestions (1 dismissed)", open - 1)),
        "{}",
        after.stdout
    );
    assert!(after.stderr.contains("TM059"), "{}", after.stderr);
    assert!(
        after.stderr.contains("datastore.injecton"),
        "{}",
        after.stderr
    );
}

/// `@dismisses` in the code: every format shows the suggestion as dismissed, with its reason
/// and the file and line of the annotation; mistakes are diagnostics at that line.
#[test]
fn a_suggestion_dismissed_by_annotation_says_where_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "src/db.rs",
        format!(
            "{MODEL}// @dismisses datastore.injection on #orders_db with only stored procedures, SHOP-7\n// @dismisses datastore.nope on #orders_db with typo\n// @dismisses datastore.injection on #orders_db\n"
        ),
    );
    let table = suggest(dir.path(), &[]);
    assert!(
        table.stdout.contains(
            "datastore.injection on store `orders_db` (Orders DB) DISMISSED (src/db.rs:2): only stored procedures, SHOP-7"
        ),
        "{}",
        table.stdout
    );
    assert!(table.stderr.contains("TM059"), "{}", table.stderr);
    assert!(table.stderr.contains("src/db.rs:3"), "{}", table.stderr);
    let json = suggest(dir.path(), &["--format", "json"]).stdout;
    assert!(json.contains("\"dismissed_at\": \"src/db.rs:2\""), "{json}");
    let md = suggest(dir.path(), &["--format", "markdown"]).stdout;
    assert!(
        md.contains("| dismissed (src/db.rs:2): only stored procedures, SHOP-7 |"),
        "{md}"
    );
    // No reason: TM054 from the scan, and nothing dismissed by that line.
    let scan = run(tm_in(dir.path()).arg("scan"));
    assert!(scan.stderr.contains("TM054"), "{}", scan.stderr);
}

#[test]
fn user_rules_are_added_and_validated_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "src/db.rs", MODEL);
    let rule = "[[rule]]\nid = \"shop.orders_export\"\ntitle = \"Orders exported in bulk\"\nstride = \"I\"\nlikelihood = \"likely\"\nimpact = \"severe\"\nrationale = \"{name} holds every order\"\nwhen = { kind = [\"store\"], tech = [\"postgres\"] }\n";
    write(dir.path(), "rules/shop.toml", rule);
    write(
        dir.path(),
        "rules/bad.toml",
        "[[rule]]\nid = \"x.y\"\nflavour = 1\n",
    );
    write(
        dir.path(),
        "threatmark.toml",
        "[library]\npaths = [\"rules/shop.toml\", \"rules/bad.toml\", \"../outside.toml\"]\n",
    );
    let r = suggest(dir.path(), &[]);
    assert!(
        r.stdout
            .contains("[critical 20] shop.orders_export on store `orders_db` (Orders DB)\n"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("TM058"), "{}", r.stderr);
    assert!(r.stderr.contains("rules/bad.toml"), "{}", r.stderr);
    assert!(r.stderr.contains("../outside.toml"), "{}", r.stderr);

    let list = run(tm_in(dir.path()).args(["library", "list"]));
    assert_eq!(list.code, 0);
    assert!(
        list.stdout.contains("shop.orders_export"),
        "{}",
        list.stdout
    );
    let show = run(tm_in(dir.path()).args(["library", "show", "shop.orders_export"]));
    assert!(
        show.stdout.starts_with("# from rules/shop.toml\n"),
        "{}",
        show.stdout
    );
    let missing = run(tm_in(dir.path()).args(["library", "show", "no.such"]));
    assert_eq!(missing.code, 2);
}

#[test]
fn library_list_and_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = run(tm_in(dir.path()).args(["library", "list"]));
    assert_eq!(list.code, 0, "{}", list.stderr);
    insta::assert_snapshot!("library_list", list.stdout);
    let show = run(tm_in(dir.path()).args(["library", "show", "flow.replay"]));
    insta::assert_snapshot!("library_show_flow_replay", show.stdout);
}

/// The report and the site show suggestions per component, apart from threats: own heading,
/// never counted as threats, never in SARIF; a hostile user rule's texts are escaped (HTML and
/// Markdown) and its code spans stay code.
#[test]
fn report_and_site_show_suggestions_apart_and_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "src/api.rs",
        "// @boundary Internet (#internet)\n// @component Browser (#browser) in #internet [type: external]\n// @component Users API (#users_api) [type: process]\n// @handles pii on #users_api\n// @connects #browser to #users_api with HTTPS\n",
    );
    write(
        dir.path(),
        "rules/evil.toml",
        "[[rule]]\nid = \"evil.rule\"\ntitle = \"Evil <script>alert(1)</script>\"\nstride = \"T\"\nlinddun = \"L\"\ncwe = [\"CWE-79\"]\nlikelihood = \"certain\"\nimpact = \"severe\"\nrationale = \"{name} via {crosses} <img src=x onerror=alert(2)> | [x](javascript:alert(3))\"\ncontrols = [\"<b>bold</b>\"]\nwhen = { kind = [\"process\"] }\n",
    );
    write(
        dir.path(),
        "threatmark.toml",
        "[library]\npaths = [\"rules/evil.toml\"]\n",
    );
    let analyze = run(tm_in(dir.path()).arg("analyze"));
    assert!(
        analyze.stdout.contains(
            "LINDDUN on `users_api` (personal data): covered -; missing L,I,Nr,De,Dd,U,Nc"
        ),
        "{}",
        analyze.stdout
    );
    let md = run(tm_in(dir.path()).args(["report", "--format", "markdown"]));
    assert_eq!(md.code, 0, "{}", md.stderr);
    let section = md
        .stdout
        .split("#### Suggested, not threats")
        .nth(1)
        .expect("a Suggested section");
    assert!(section.contains("evil.rule"), "{section}");
    assert!(section.contains("via `internet`"), "{section}");
    assert!(
        !section.contains("<script") && !section.contains("<img"),
        "{section}"
    );
    assert!(!section.contains("](javascript:"), "{section}");
    assert!(section.contains("LINDDUN L"), "{section}");
    assert!(
        md.stdout.contains("**LINDDUN coverage** (personal data)"),
        "{}",
        md.stdout
    );
    // Not a threat: the summary counts none, SARIF has none.
    let json = run(tm_in(dir.path()).args(["report", "--format", "json"]));
    let view: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(view["summary"]["threats"].as_u64(), Some(0));
    let sarif = run(tm_in(dir.path()).args(["check", "--format", "sarif"]));
    assert!(!sarif.stdout.contains("evil.rule"), "{}", sarif.stdout);

    let out = dir.path().join("site");
    let site = run(tm_in(dir.path()).args(["site", "-o"]).arg(&out));
    assert_eq!(site.code, 0, "{}", site.stderr);
    let page = std::fs::read_to_string(out.join("components/users_api.html")).expect("page");
    assert!(page.contains("Suggested, not threats"), "{page}");
    assert!(page.contains("<code>internet</code>"), "{page}");
    assert!(page.contains("LINDDUN coverage"), "{page}");
    for raw in ["<script>alert", "<img src", "<b>bold"] {
        assert!(!page.contains(raw), "{raw} in {page}");
    }
}
