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
