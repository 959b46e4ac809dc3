//! `threatmark report`, `threatmark site` and `threatmark templates export`.
//!
//! Snapshot tests render every format of the example shop (docs/examples/shop) so that a
//! change in wording, layout or escaping shows up in review. To accept a change:
//! `INSTA_UPDATE=always cargo test --test report`, then read the diff of
//! `tests/snapshots/report__*` before committing it. The JSON view is too long to review in one
//! piece: it is checked whole by its sha256 (`report__shop_json_digest.snap`) and shown in
//! sections of at most 250 lines (`tests/snapshots/shop_json/view.*.snap`, where `"-> name"`
//! stands for the section `name`).
//!
//! The hostile fixture (tests/fixtures/xss) checks that repository text stays inert in every
//! format; tests/site_browser.rs loads its site in a real browser.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/shop");
const POLYGLOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/polyglot");
const XSS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xss");
const GAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/guardlink");

/// The example the snapshots use: the shop when it is there, else the polyglot fixture.
fn example() -> (&'static str, &'static str) {
    if Path::new(SHOP).join("threatmark.toml").is_file() {
        (SHOP, "shop")
    } else {
        (POLYGLOT, "polyglot")
    }
}

mod support;
use support::tm;

fn report(root: &str, format: &str, extra: &[&str]) -> String {
    let out = tm()
        .args(["report", root, "--format", format])
        .args(extra)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "report --format {format} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

// ---------------------------------------------------------------------------------------------
// Snapshots of every format

#[test]
fn snapshot_markdown() {
    let (root, name) = example();
    insta::assert_snapshot!(format!("{name}_markdown"), report(root, "markdown", &[]));
}

#[test]
fn snapshot_html() {
    let (root, name) = example();
    insta::assert_snapshot!(format!("{name}_html"), report(root, "html", &[]));
}

#[test]
fn snapshot_mermaid() {
    let (root, name) = example();
    insta::assert_snapshot!(format!("{name}_mermaid"), report(root, "mermaid", &[]));
}

#[test]
fn snapshot_dot() {
    let (root, name) = example();
    insta::assert_snapshot!(format!("{name}_dot"), report(root, "dot", &[]));
}

#[test]
fn snapshot_csv() {
    let (root, name) = example();
    insta::assert_snapshot!(format!("{name}_csv"), report(root, "csv", &[]));
}

#[test]
fn snapshot_json_view_model() {
    let (root, name) = example();
    let text = report(root, "json", &[]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["view_version"], 1);
    // The whole view, byte for byte: any change to it changes this small snapshot ...
    insta::assert_snapshot!(format!("{name}_json_digest"), digest(&text));
    // ... and the sections below show a reviewer what changed, none over SECTION_LINES lines.
    let mut sections = Vec::new();
    split("view", &v, &mut sections);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}_json"));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (section, body) in &sections {
            let lines = body.lines().count();
            assert!(lines <= SECTION_LINES, "section {section}: {lines} lines");
            insta::assert_snapshot!(section.clone(), body);
        }
    });
    // A section that no longer exists must not linger unchecked.
    let expected: BTreeSet<String> = sections.iter().map(|(s, _)| format!("{s}.snap")).collect();
    let stale: Vec<String> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".snap") && !expected.contains(f))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty(),
        "stale section snapshots in {}: {stale:?}",
        dir.display()
    );
}

/// The longest section snapshot of the JSON view, in lines.
const SECTION_LINES: usize = 250;

/// Size and sha256 of `text`: a change anywhere in it changes this.
fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "bytes: {}\nlines: {}\nsha256: {hex}\n",
        text.len(),
        text.lines().count()
    )
}

/// Cut `value` into sections named `name.key.id...` of at most [`SECTION_LINES`] pretty-printed
/// lines. A value too long is cut: the largest members of an object (every element of an array,
/// named by its `id` when it has one) move to their own sections, and the value keeps a
/// `"-> section"` reference in their place, so the sections hold the same content, order included.
fn split(name: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let lines = |v: &Value| pretty(v).lines().count();
    let kept = match value {
        Value::Object(map) if lines(value) > SECTION_LINES => {
            let mut kept = map.clone();
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by_key(|(k, v)| (std::cmp::Reverse(lines(v)), k.to_string()));
            for (key, member) in members {
                if lines(&Value::Object(kept.clone())) <= SECTION_LINES {
                    break;
                }
                let child = format!("{name}.{}", slug(key));
                kept.insert(key.clone(), Value::String(format!("-> {child}")));
                split(&child, member, out);
            }
            Value::Object(kept)
        }
        Value::Array(items) if lines(value) > SECTION_LINES => {
            let named = items.iter().map(|item| item["id"].as_str().map(slug));
            let names: Vec<Option<String>> = named.collect();
            let unique = names.iter().all(Option::is_some)
                && names.iter().collect::<BTreeSet<_>>().len() == names.len();
            let mut refs = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let child = match &names[i] {
                    Some(id) if unique => format!("{name}.{id}"),
                    _ => format!("{name}.{i:03}"),
                };
                refs.push(Value::String(format!("-> {child}")));
                split(&child, item, out);
            }
            Value::Array(refs)
        }
        _ => value.clone(),
    };
    out.push((name.to_string(), pretty(&kept)));
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

/// A key or id as part of a file name.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[test]
fn snapshot_site() {
    let (root, name) = example();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("site");
    tm().args(["site", root, "--out"])
        .arg(&out)
        .assert()
        .success();
    let files = list(&out);
    insta::assert_snapshot!(format!("{name}_site_files"), files.join("\n"));
    let index = fs::read_to_string(out.join("index.html")).expect("index");
    insta::assert_snapshot!(format!("{name}_site_index"), index);
    let first_threat = files
        .iter()
        .find(|f| f.starts_with("threats/"))
        .expect("a threat page");
    insta::assert_snapshot!(
        format!("{name}_site_threat"),
        fs::read_to_string(out.join(first_threat)).expect("threat page")
    );
}

/// Every file below `dir`, relative, sorted.
fn list(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("inside");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Determinism and options

#[test]
fn output_is_byte_identical_across_runs() {
    let (root, _) = example();
    for format in ["markdown", "html", "json", "csv"] {
        assert_eq!(
            report(root, format, &[]),
            report(root, format, &["-j", "1"]),
            "{format}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        tm().args(["site", root, "--out"])
            .arg(out)
            .assert()
            .success();
    }
    let files = list(&a);
    assert_eq!(files, list(&b));
    for f in files {
        assert_eq!(
            fs::read(a.join(&f)).expect("a"),
            fs::read(b.join(&f)).expect("b"),
            "{f}"
        );
    }
}

#[test]
fn out_writes_a_file() {
    let (root, _) = example();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nested/report.md");
    tm().args(["report", root, "--format", "markdown", "--out"])
        .arg(&file)
        .assert()
        .success()
        .stdout("");
    let text = fs::read_to_string(&file).expect("written");
    assert!(text.starts_with("# Threat model: "));
    assert!(text.contains("```mermaid\nflowchart LR\n"));
}

#[test]
fn today_checks_expiry_and_is_validated() {
    let (root, _) = example();
    let plain = report(root, "json", &[]);
    let dated = report(root, "json", &["--today", "2099-01-01"]);
    let v: serde_json::Value = serde_json::from_str(&dated).expect("json");
    assert_eq!(v["analysis_date"], "2099-01-01");
    let p: serde_json::Value = serde_json::from_str(&plain).expect("json");
    assert!(p["analysis_date"].is_null());
    tm().args(["report", root, "--today", "tomorrow"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("YYYY-MM-DD"));
}

/// A copy of the example with a `source_url`, so links can be checked.
fn with_config(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let (root, _) = example();
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fs::read_to_string(Path::new(root).join("threatmark.toml")).unwrap_or_default();
    let cfg = dir.path().join("threatmark.toml");
    fs::write(&cfg, format!("{base}\n{extra}\n")).expect("config");
    (dir, cfg)
}

#[test]
fn source_url_links_every_location() {
    let (root, _) = example();
    let (_dir, cfg) = with_config(
        "[report]\nsource_url = \"https://github.com/acme/shop/blob/{rev}/{path}#L{line}\"",
    );
    let cfg = cfg.to_string_lossy().to_string();
    let md = report(
        root,
        "markdown",
        &["--config", &cfg, "--source-rev", "v1.2"],
    );
    assert!(
        md.contains("](https://github.com/acme/shop/blob/v1.2/"),
        "{md}"
    );
    let json = report(root, "json", &["--config", &cfg, "--source-rev", "v1.2"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["source_links"], true);
    let src = &v["threats"][0]["sources"][0];
    let url = src["url"].as_str().expect("url");
    let path = src["path"].as_str().expect("path");
    assert!(url.starts_with("https://github.com/acme/shop/blob/v1.2/"));
    assert!(url.ends_with(&format!("{path}#L{}", src["line"])), "{url}");
}

#[test]
fn dangerous_source_url_is_rejected() {
    let (root, _) = example();
    for bad in [
        "javascript:alert(document.cookie)//{path}",
        "data:text/html,<script>alert(1)</script>",
        "https://example.com/{path}\" onclick=\"alert(1)",
    ] {
        let (_dir, cfg) = with_config(&format!("[report]\nsource_url = '{bad}'"));
        tm().args(["report", root, "--config"])
            .arg(&cfg)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("source_url"));
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

#[test]
fn templates_export_and_override() {
    let (root, _) = example();
    let dir = tempfile::tempdir().expect("tempdir");
    let tpl = dir.path().join("tpl");
    tm().args(["templates", "export"])
        .arg(&tpl)
        .assert()
        .success();
    for f in [
        "report.md.hbs",
        "report.html.hbs",
        "site-index.html.hbs",
        "style.css",
    ] {
        assert!(tpl.join(f).is_file(), "{f}");
    }
    // Exported templates render exactly like the built-ins.
    let tpl_s = tpl.to_string_lossy().to_string();
    assert_eq!(
        report(root, "markdown", &["--templates", &tpl_s]),
        report(root, "markdown", &[])
    );
    // Override a template and a partial by file name.
    fs::write(
        tpl.join("report.md.hbs"),
        "# {{project.name}}\n{{#each threats}}- {{> md-links items=components}}\n{{/each}}",
    )
    .expect("write");
    fs::write(tpl.join("md-links.hbs"), "{{#each items}}<{{id}}>{{/each}}").expect("write");
    let md = report(root, "markdown", &["--templates", &tpl_s]);
    assert!(md.starts_with("# "), "{md}");
    // The custom partial's `<` `>` are template text; the ids inside are escaped values.
    assert!(md.contains("- <"), "{md}");
    // A second export refuses to clobber the edited files.
    tm().args(["templates", "export"])
        .arg(&tpl)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report.md.hbs"));
    tm().args(["templates", "export", "--force"])
        .arg(&tpl)
        .assert()
        .success();
}

#[test]
fn strict_mode_reports_missing_fields() {
    let (root, _) = example();
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("report.md.hbs"), "{{project.nmae}}\n").expect("write");
    tm().args(["report", root, "--templates"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report.md").and(predicate::str::contains("strict")));
}

#[test]
fn config_templates_folder_is_used_and_confined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::write(
        root.join("threatmark.toml"),
        "[project]\nname = \"demo\"\n[report]\ntemplates = \"tpl\"\n",
    )
    .expect("config");
    fs::create_dir_all(root.join("tpl")).expect("mkdir");
    fs::write(root.join("tpl/report.md.hbs"), "custom {{project.name}}\n").expect("tpl");
    fs::write(root.join("a.go"), "// @threat T (#t)\npackage a\n").expect("src");
    let md = report(&root.to_string_lossy(), "markdown", &[]);
    assert_eq!(md, "custom demo\n");
    fs::write(
        root.join("threatmark.toml"),
        "[report]\ntemplates = \"../outside\"\n",
    )
    .expect("config");
    tm().args(["report"])
        .arg(root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("templates"));
}

// ---------------------------------------------------------------------------------------------
// The site's output folder

#[test]
fn site_refuses_precious_folders() {
    let (root, _) = example();
    let home = tempfile::tempdir().expect("home");
    let run = |out: &Path| {
        tm().env("HOME", home.path())
            .args(["site", root, "--force", "--out"])
            .arg(out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("refusing"));
    };
    run(Path::new("/"));
    run(home.path());
    run(Path::new(root));
    run(Path::new(env!("CARGO_MANIFEST_DIR")));
    // A parent of the repository is refused too.
    run(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("parent"));
}

#[test]
fn site_refuses_foreign_folders_unless_forced_and_cleans_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("repo");
    fs::create_dir_all(&src).expect("mkdir");
    fs::write(src.join("threatmark.toml"), "[project]\nname = \"demo\"\n").expect("config");
    fs::write(
        src.join("a.go"),
        "// @threat Alpha (#alpha)\n// @threat Beta (#beta)\npackage a\n",
    )
    .expect("src");
    let out = dir.path().join("out");
    fs::create_dir_all(&out).expect("mkdir");
    fs::write(out.join("keep.txt"), "mine").expect("foreign file");
    tm().args(["site"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    tm().args(["site"])
        .arg(&src)
        .args(["--force", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("threats/beta.html").is_file());
    assert!(out.join(".threatmark-site").is_file());
    // The threat goes away: its page goes too, the foreign file stays.
    fs::write(src.join("a.go"), "// @threat Alpha (#alpha)\npackage a\n").expect("src");
    tm().args(["site"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(!out.join("threats/beta.html").exists());
    assert!(out.join("threats/alpha.html").is_file());
    assert_eq!(
        fs::read_to_string(out.join("keep.txt")).expect("kept"),
        "mine"
    );
    // A new folder is created and marked.
    let fresh = dir.path().join("fresh/site");
    tm().args(["site"])
        .arg(&src)
        .arg("--out")
        .arg(&fresh)
        .assert()
        .success();
    assert!(fresh.join("index.html").is_file());
}

#[cfg(unix)]
#[test]
fn site_does_not_write_through_symlinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("repo");
    fs::create_dir_all(&src).expect("mkdir");
    fs::write(src.join("a.go"), "// @threat Alpha (#alpha)\npackage a\n").expect("src");
    let out = dir.path().join("out");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(&out).expect("mkdir");
    fs::create_dir_all(&elsewhere).expect("mkdir");
    fs::write(
        out.join(".threatmark-site"),
        "# threatmark site: files written by `threatmark site`\n",
    )
    .expect("marker");
    std::os::unix::fs::symlink(&elsewhere, out.join("threats")).expect("symlink");
    tm().args(["site"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link"));
    assert!(fs::read_dir(&elsewhere).expect("dir").next().is_none());
}

// ---------------------------------------------------------------------------------------------
// Hostile input

const PAYLOADS: [&str; 9] = [
    "<script",
    "<img",
    "<svg onload",
    "<iframe",
    "<style>body",
    "<a href=\"javascript:",
    "<a href=\"data:",
    "<object",
    "<foreignObject",
];

/// The escaped payloads are part of the public output: review them in the snapshots.
#[test]
fn xss_fixture_snapshots() {
    insta::assert_snapshot!(
        "xss_markdown",
        report(XSS, "markdown", &["--source-rev", "main"])
    );
    insta::assert_snapshot!("xss_html", report(XSS, "html", &["--source-rev", "main"]));
}

#[test]
fn xss_fixture_is_inert_in_markdown() {
    let md = report(XSS, "markdown", &["--source-rev", "main"]);
    for p in PAYLOADS {
        assert!(!md.contains(p), "markdown contains {p}");
    }
    assert!(!md.contains("](javascript:"), "a javascript: link");
    assert!(!md.contains('\u{202E}'), "a bidi override");
    // Only the generated anchors are raw HTML.
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || !line.contains('<') {
            continue;
        }
        let rest = line
            .replace("<a id=\"", "")
            .replace("\" name=\"", "")
            .replace("\"></a>", "");
        assert!(!rest.contains('<'), "raw HTML: {line}");
    }
    // The Mermaid block cannot be closed early.
    assert_eq!(md.matches("```").count(), 2, "{md}");
    // Mentions, issue references and bare URLs sit in code spans: a PR comment never pings
    // anyone or links where the repository chose.
    let prose = without_code(&md);
    assert!(md.contains("octocat"), "the fixture has mentions");
    for live in [
        "@octocat",
        "@acme/security",
        "@everyone",
        "#123",
        "GH-45",
        "app#7",
        "https://evil.example",
        "www.evil.example",
        "eve@evil.example",
    ] {
        assert!(
            !prose.contains(live) && !prose.contains(&live.replace('#', "\\#")),
            "{live} outside a code span:\n{prose}"
        );
    }
    // The source links threatmark writes are still links.
    assert!(
        md.contains("](https://example.com/acme/lab/blob/main/"),
        "{md}"
    );
}

/// `md` without its fenced blocks, its code spans and the targets of its links (which are
/// threatmark's own): what GitHub would scan for mentions and bare URLs.
fn without_code(md: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut in_code = false;
        let mut prev = ' ';
        let mut rest = String::new();
        for c in line.chars() {
            if c == '`' && prev != '\\' {
                in_code = !in_code;
            } else if !in_code {
                rest.push(c);
            }
            prev = c;
        }
        // Drop `](target)` link targets.
        while let Some(i) = rest.find("](") {
            let end = rest[i..].find(')').map_or(rest.len(), |e| i + e + 1);
            rest.replace_range(i + 1..end, "");
        }
        out.push_str(&rest);
        out.push('\n');
    }
    out
}

#[test]
fn xss_fixture_is_inert_in_mermaid_and_dot() {
    let mmd = report(XSS, "mermaid", &[]);
    for line in mmd.lines() {
        assert_eq!(line.matches('"').count() % 2, 0, "unbalanced quote: {line}");
        assert!(!line.contains("<script") && !line.contains("<svg") && !line.contains("click "));
    }
    let dot = report(XSS, "dot", &[]);
    for line in dot.lines() {
        assert_eq!(unescaped_quotes(line) % 2, 0, "unbalanced quote: {line}");
    }
}

/// `"` not preceded by an odd number of backslashes.
fn unescaped_quotes(line: &str) -> usize {
    let mut n = 0;
    let mut backslashes = 0;
    for c in line.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' if backslashes % 2 == 0 => {
                n += 1;
                backslashes = 0;
            }
            _ => backslashes = 0,
        }
    }
    n
}

#[test]
fn xss_fixture_csv_cannot_run_formulas() {
    let csv = report(XSS, "csv", &[]);
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "formula cell {cell:?} in {line}"
            );
        }
    }
}

#[test]
fn xss_fixture_site_pages_have_safe_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("site");
    tm().args(["site", XSS, "--out"])
        .arg(&out)
        .assert()
        .success();
    for f in list(&out) {
        assert!(
            f.bytes().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'-' | b'_' | b'.' | b'/')),
            "{f}"
        );
        assert!(!f.contains(".."), "{f}");
    }
}

/// GuardLink's facts are shown: owners and data classes on components, confirmed exposures,
/// entitlements, assumptions and features (sections that only appear when the model has them).
#[test]
fn guardlink_facts_are_in_the_reports() {
    let md = report(GAL, "markdown", &[]);
    for want in [
        "- **Owner:** payments-team",
        "- **Data:** financial",
        "- **Data:** pii",
        "*exposure* (confirmed)",
        "## Entitlements",
        "## Assumptions",
        "The database enforces unique ids",
        "## Features",
        "Checkout",
        "1 entitlement",
    ] {
        assert!(md.contains(want), "markdown lacks {want:?}:\n{md}");
    }
    insta::assert_snapshot!("guardlink_markdown", md);
    let html = report(GAL, "html", &[]);
    for want in [
        "<span class=\"tm-tag\">pii</span>",
        "payments-team",
        "id=\"entitlements\"",
        "id=\"assumptions\"",
        "id=\"features\"",
        ">confirmed<",
    ] {
        assert!(html.contains(want), "html lacks {want:?}");
    }
    insta::assert_snapshot!("guardlink_html", html);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("site");
    tm().args(["site", GAL, "--out"])
        .arg(&out)
        .assert()
        .success();
    let ledger = fs::read_to_string(out.join("components/ledger.html")).expect("ledger page");
    for want in [
        "payments-team",
        "financial",
        "The database enforces unique ids",
    ] {
        assert!(ledger.contains(want), "site page lacks {want:?}");
    }
    insta::assert_snapshot!("guardlink_site_component", ledger);
    // The shop has none of these: its outputs keep no trace of them.
    let (root, _) = example();
    let shop = report(root, "markdown", &[]);
    assert!(!shop.contains("## Entitlements") && !shop.contains("(confirmed)"));
}
