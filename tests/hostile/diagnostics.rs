//! Hostile suite: diagnostics that say what is true. A rating written on an exposure rates that
//! exposure (analysis, reports, SARIF) and a rating where it means nothing is a warning; prose
//! that starts with a tag alias is a note; misleading helps name what is really there.

use super::*;

/// A threat rated low, exposed on one component with its own critical rating and on another
/// without one; a rating on a mitigation and on a flow.
const RATED: &str = "\
# @component Api (#api)
# @component Batch (#batch)
# @threat Remote code execution (#rce) [likelihood: likely; impact: minor]
# @exposes #api to #rce with unpickled uploads [impact: critical]
# @exposes #batch to #rce: reads the same queue
# @control Sandbox (#sandbox)
# @mitigates #batch against #rce with #sandbox [severity: high]
# @connects #api to #batch [likelihood: likely]
";

// @tests #rated_exposures for #gate
#[test]
fn a_rating_on_an_exposure_rates_that_exposure() {
    let dir = repo("");
    write(dir.path(), "src/app.py", RATED);
    let out = run(tm_in(dir.path()).args(["analyze", "--format", "json", "--today", "2026-01-01"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let a: Value = serde_json::from_str(&out.stdout).expect("analysis json");
    let tm101: Vec<&Value> = a["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "TM101")
        .collect();
    assert_eq!(tm101.len(), 1, "{tm101:?}");
    // Likely x severe on the default matrix: 20, critical; an error, not the threat's note.
    assert_eq!(tm101[0]["risk"]["score"], 20, "{}", tm101[0]);
    assert_eq!(tm101[0]["risk"]["band"], "critical");
    assert_eq!(tm101[0]["risk"]["exposure"], true);
    assert_eq!(tm101[0]["severity"], "error");
    // The plan ranks the threat by its open exposure, the threat itself keeps its own rating.
    assert_eq!(a["plan"][0]["risk"]["score"], 20, "{}", a["plan"]);
    let rce = a["threats"]
        .as_array()
        .expect("threats")
        .iter()
        .find(|t| t["threat"] == "rce")
        .expect("rce");
    assert_eq!(rce["risk"]["score"], 8, "{rce}");

    // The table says where the rating comes from.
    let table = run(tm_in(dir.path()).args(["analyze", "--today", "2026-01-01"]));
    assert!(table.stdout.contains("20 critical*"), "{}", table.stdout);
    assert!(
        table.stdout.contains("* rated on the exposure"),
        "{}",
        table.stdout
    );

    // Ratings that rate nothing are warnings and are not kept.
    let (scan_run, model) = scan(dir.path(), &[]);
    let at = diagnostic(&scan_run.stderr, "TM002", "src/app.py:7");
    assert!(at.starts_with("warning[TM002]"), "{at}");
    assert!(at.contains("rates nothing on `@mitigates`"), "{at}");
    let flow = diagnostic(&scan_run.stderr, "TM002", "src/app.py:8");
    assert!(flow.contains("rates nothing on `@connects`"), "{flow}");
    assert!(
        model["mitigations"][0].get("severity").is_none(),
        "{}",
        model["mitigations"]
    );
    assert_eq!(
        model["exposures"][0]["impact"], "severe",
        "{}",
        model["exposures"]
    );
}

#[test]
fn an_exposure_rating_reaches_sarif_and_the_reports() {
    let dir = repo("");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path(), "empty");
    write(dir.path(), "src/app.py", RATED);
    let out = run(tm_in(dir.path()).args([
        "check",
        "--base",
        "HEAD",
        "--today",
        "2026-01-01",
        "--format",
        "sarif",
    ]));
    let log: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no SARIF ({e}):\n{}", out.stderr));
    let result = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "TM101")
        .unwrap_or_else(|| panic!("no TM101 result: {log}"));
    assert_eq!(result["level"], "error", "{result}");
    assert_eq!(result["properties"]["band"], "critical", "{result}");
    assert_eq!(result["properties"]["rated-on"], "exposure", "{result}");

    let md = run(tm_in(dir.path()).args(["report", ".", "--format", "markdown"]));
    assert_eq!(md.code, 0, "{}", md.stderr);
    let line = md
        .stdout
        .lines()
        .find(|l| l.contains("unpickled uploads"))
        .unwrap_or_else(|| panic!("no exposure line:\n{}", md.stdout));
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_snapshot!("exposure_rating_markdown_line", line);
    });
    let html = run(tm_in(dir.path()).args(["report", ".", "--format", "html"]));
    assert!(
        html.stdout
            .contains("unpickled uploads <span class=\"tm-badge tm-band-critical\""),
        "no rating beside the exposure in the HTML report"
    );
}

/// Prose that starts with a tag alias (`@test`, `@mitigate`, ...) and does not read as an
/// annotation is a note, not an error; the canonical spelling, and an alias line that names
/// `#ids` or has attributes, are still malformed annotations.
#[test]
fn prose_after_a_tag_alias_is_a_note() {
    let dir = repo("");
    write(
        dir.path(),
        "src/app.js",
        "// @test this later\n// @mitigate that in the next release\nlet x = 1;\n// @tests the parser\n// @test #ctrl #api\n",
    );
    let (out, _) = scan(dir.path(), &[]);
    for line in ["src/app.js:1", "src/app.js:2"] {
        let d = diagnostic(&out.stderr, "TM005", line);
        assert!(d.starts_with("note[TM005]"), "{d}");
        assert!(d.contains("treated as prose"), "{d}");
    }
    assert!(diagnostic(&out.stderr, "TM001", "src/app.js:4").starts_with("error"));
    assert!(diagnostic(&out.stderr, "TM001", "src/app.js:5").starts_with("error"));
    assert_eq!(located(&out.stderr, "TM001").len(), 2, "{}", out.stderr);
}

/// `@threat @threat Name (#id)` is the tag written twice: a warning, and the annotation reads as
/// `@threat Name (#id)` (no false TM004 against the same threat declared elsewhere).
#[test]
fn a_doubled_tag_is_named_and_read_once() {
    let dir = repo("");
    write(dir.path(), "a.tf", "# @threat IP exposure (#ipexposure)\n");
    write(
        dir.path(),
        "b.tf",
        "# @threat @threat IP exposure (#ipexposure)\n",
    );
    let (out, model) = scan(dir.path(), &[]);
    assert!(located(&out.stderr, "TM004").is_empty(), "{}", out.stderr);
    let d = diagnostic(&out.stderr, "TM043", "b.tf:1");
    assert!(d.starts_with("warning[TM043]"), "{d}");
    assert!(d.contains("`@threat` is written twice"), "{d}");
    assert_eq!(threat(&model, "ipexposure")["name"], "IP exposure");
    assert_eq!(ids(&model, "threats").len(), 1);
}

/// Compiled Python under a Threatspec `mime: text/x-python` path is binary like any `.pyc`:
/// not a warning (Threatspec skips it too).
#[test]
fn binary_files_under_a_mime_path_are_not_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatspec.yaml",
        "project:\n  name: \"ts\"\n  description: \"\"\npaths:\n  - path: 'app'\n    mime: 'text/x-python'\n",
    );
    write(dir.path(), "app/main.py", "# @threat T (#t)\n");
    write(
        dir.path(),
        "app/__pycache__/main.cpython-311.pyc",
        b"\xa7\r\r\n\0\0\0\0\xe3\0\0\0main\0",
    );
    let (out, model) = scan(dir.path(), &[]);
    assert!(located(&out.stderr, "TM020").is_empty(), "{}", out.stderr);
    assert_eq!(ids(&model, "threats").len(), 1);
}

/// A mitigation naming a control that is declared under another id says so, instead of
/// telling the user to declare it again (a name with no id of its own resolves to the
/// declaration instead: TM037).
#[test]
fn an_undeclared_control_names_the_declared_one() {
    let dir = repo("");
    write(
        dir.path(),
        "src/app.py",
        "# @component Api (#api)\n# @threat SQLi (#sqli)\n# @control Account lockout (#lockout)\n# @mitigates #api against #sqli with account  Lockout (#acct_lock)\n",
    );
    let (out, _) = scan(dir.path(), &[]);
    let d = diagnostic(&out.stderr, "TM010", "src/app.py:4");
    assert!(
        d.contains("a control named `Account lockout` is declared as `#lockout`"),
        "{d}"
    );
    assert!(!d.contains("declare it once"), "{d}");
}

/// `x-threatspec` values written with escapes or folded are read at their lines, in YAML and
/// JSON, even when no `@tag` is written out anywhere in the file; values that are no
/// annotation are named (TM044).
// @tests #x_threatspec_named for #parser
#[test]
fn escaped_x_threatspec_values_are_read_and_bad_ones_named() {
    let dir = repo("");
    write(
        dir.path(),
        "api/openapi.yaml",
        "openapi: 3.0.0\npaths:\n  /a:\n    x-threatspec: \"\\u0040threat Escaped in YAML (#esc_yaml)\"\n  /b:\n    x-threatspec: >-\n      \\u0040threat is not an escape here\n    get:\n      x-threatspec: 7\n",
    );
    write(
        dir.path(),
        "api/openapi.json",
        "{\n  \"x-threatspec\": [\"\\u0040threat Escaped in JSON (#esc_json)\", \"not one\"]\n}\n",
    );
    let (out, model) = scan(dir.path(), &[]);
    assert_eq!(
        ids(&model, "threats"),
        ["esc_json", "esc_yaml"].map(String::from).into(),
        "{}",
        out.stderr
    );
    assert_eq!(threat(&model, "esc_yaml")["sources"][0]["line"], 4);
    assert_eq!(threat(&model, "esc_json")["sources"][0]["line"], 2);
    let bad = located(&out.stderr, "TM044");
    assert_eq!(
        bad,
        [
            "api/openapi.json:2:65",
            "api/openapi.yaml:7:7",
            "api/openapi.yaml:9:21"
        ],
        "{}",
        out.stderr
    );
}

/// A scan of a revision prints the same diagnostics, snippets and carets included, when its
/// files come from the blob cache or snapshot of an earlier run.
#[test]
fn a_cached_revision_scan_prints_the_same_diagnostics() {
    let dir = repo("");
    write(
        dir.path(),
        "src/app.py",
        "# @threat Injection (#sqli) [impact: hgih]\n# @mitigates #api against #sqli\n",
    );
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path(), "base");
    let scan_rev = || {
        run(tm_in(dir.path())
            .env_remove("THREATMARK_NO_CACHE")
            .args(["scan", "--rev", "HEAD", "-q", "--format", "json"]))
    };
    let first = scan_rev();
    assert!(first.stderr.contains("^^^"), "{}", first.stderr);
    assert!(
        dir.path().join(".git/threatmark").exists(),
        "no cache was written"
    );
    let second = scan_rev();
    assert_eq!(second.stderr, first.stderr);
}

/// One exposure written in two places with two ratings (valid in GuardLink, which keeps each
/// line) is rated by the higher of them, whichever file sorts first, and is no error.
#[test]
fn an_exposure_rated_twice_takes_the_higher_rating() {
    for (first, second) in [("low", "critical"), ("critical", "low")] {
        let dir = repo("");
        write(
            dir.path(),
            "a.py",
            format!(
                "# @component Api (#api)\n# @threat RCE (#rce)\n# @exposes #api to #rce [severity: {first}]\n"
            ),
        );
        write(
            dir.path(),
            "b.py",
            format!("# @exposes #api to #rce [severity: {second}]\n"),
        );
        let (out, model) = scan(dir.path(), &[]);
        assert!(located(&out.stderr, "TM014").is_empty(), "{}", out.stderr);
        assert_eq!(
            model["exposures"][0]["severity"], "critical",
            "{}",
            model["exposures"]
        );
        assert_eq!(
            model["exposures"][0]["sources"].as_array().map(Vec::len),
            Some(2)
        );
    }
}

/// GuardLink's `.gal` sidecars and Threatspec's `.txt` design files are both read whole, by one
/// reader: invalid UTF-8 in either is replaced and reported alike (TM021).
// @tests #diagnose_bad_input for #scanner
#[test]
fn invalid_utf8_in_whole_files_is_reported_alike() {
    let dir = repo("");
    let root = dir.path();
    write(root, "design.txt", b"@threat Caf\xe9 (#cafe): cr\xe8me\n");
    write(root, "notes.gal", b"@threat Th\xe9 (#the): cr\xe8me\n");
    let (out, model) = scan(root, &[]);
    let txt = diagnostic(&out.stderr, "TM021", "design.txt");
    let gal = diagnostic(&out.stderr, "TM021", "notes.gal");
    assert_eq!(
        gal.replace("notes.gal", "FILE"),
        txt.replace("design.txt", "FILE")
    );
    assert_eq!(threat(&model, "cafe")["name"], "Caf\u{FFFD}");
    assert_eq!(threat(&model, "the")["name"], "Th\u{FFFD}");
}
