//! Hostile suite: SARIF that GitHub code scanning ranks and places right, within its limits,
//! and Markdown for pull-request comments that never pings anyone or links where the
//! repository chose.
//!
//! The `check` runs name a base (`--base HEAD`), so that they do not depend on how a missing
//! base is handled.

use super::*;

/// A git repository (one commit of `files`) with a threatmark.toml.
fn git_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = repo("");
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path(), "base");
    dir
}

/// `check --format sarif` in `dir` plus `extra`; the policy fails (exit 1) or passes, never an
/// error. The log is valid SARIF.
fn check_sarif(dir: &Path, extra: &[&str]) -> (Run, Value) {
    let out = run(tm_in(dir)
        .args(["check", "--base", "HEAD", "--today", "2026-01-01"])
        .args(["--format", "sarif"])
        .args(extra));
    assert!(
        out.code == 0 || out.code == 1,
        "check exited {}:\n{}",
        out.code,
        out.stderr
    );
    let log: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no SARIF on stdout ({e}):\n{}", out.stderr));
    assert_valid_sarif(&log);
    (out, log)
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().expect("results")
}

fn rules(log: &Value) -> &Vec<Value> {
    log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
}

fn security_severity(v: &Value) -> f64 {
    let s = v["properties"]["security-severity"]
        .as_str()
        .unwrap_or_else(|| panic!("no security-severity string in {v}"));
    let n: f64 = s.parse().unwrap_or_else(|_| panic!("`{s}` is no number"));
    assert!((0.0..=10.0).contains(&n), "{s} out of range");
    n
}

/// Annotations with a critical, a high, a medium and a low exposure, an undeclared control
/// (a warning diagnostic), an unused control (a note) and a binary file (a file-level warning).
const MIXED: &str = "\
# @component Api (#api)
# @threat Critical (#crit) [likelihood: certain; impact: severe]
# @threat High (#high) [likelihood: likely; impact: moderate]
# @threat Medium (#med) [likelihood: possible; impact: minor]
# @threat Low (#low) [likelihood: rare; impact: minor]
# @exposes #api to #crit
# @exposes #api to #high
# @exposes #api to #med
# @exposes #api to #low
# @mitigates #api against #nope with Ghost control
# @control Unused (#unused)
";

// @tests #sarif_for_github for #renderer
#[test]
fn every_sarif_rule_and_result_carries_a_security_severity_from_the_risk_band() {
    let dir = git_repo(&[("src/app.py", MIXED)]);
    let (_, log) = check_sarif(dir.path(), &[]);
    let rs = results(&log);
    assert!(!rs.is_empty());
    for r in rs {
        security_severity(r);
    }
    for rule in rules(&log) {
        security_severity(rule);
    }
    // GitHub's bands: critical 9.0+, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
    let of = |threat: &str| -> f64 {
        let r = rs
            .iter()
            .find(|r| {
                r["ruleId"] == "TM101"
                    && r["partialFingerprints"]
                        .to_string()
                        .contains(&format!("threat:{threat}"))
            })
            .unwrap_or_else(|| panic!("no TM101 result for {threat}"));
        security_severity(r)
    };
    assert!(of("crit") >= 9.0, "{}", of("crit"));
    assert!((7.0..9.0).contains(&of("high")), "{}", of("high"));
    assert!((4.0..7.0).contains(&of("med")), "{}", of("med"));
    assert!((0.1..4.0).contains(&of("low")), "{}", of("low"));
    // A rule ranks as its most severe result.
    let tm101 = rules(&log)
        .iter()
        .find(|r| r["id"] == "TM101")
        .expect("TM101 rule");
    assert_eq!(security_severity(tm101), of("crit"));
}

#[test]
fn every_sarif_rule_is_described_and_every_result_has_a_region() {
    let bin = "\x00\x01 # @threat In a binary (#bin)\n";
    let dir = git_repo(&[("src/app.py", MIXED), ("src/blob.py", bin)]);
    // No threatmodel.json: the stale-model policy fails, and its rule must be described too.
    let (out, log) = check_sarif(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rules = rules(&log);
    assert!(rules.iter().any(|r| r["id"] == "policy/stale-model"));
    let mut ids = BTreeSet::new();
    for rule in rules {
        let id = rule["id"].as_str().expect("id");
        assert!(ids.insert(id.to_string()), "duplicate rule {id}");
        for field in ["shortDescription", "fullDescription"] {
            let text = rule[field]["text"].as_str().unwrap_or("");
            assert!(!text.trim().is_empty(), "{id}: no {field}");
        }
        for field in ["text", "markdown"] {
            let text = rule["help"][field].as_str().unwrap_or("");
            assert!(!text.trim().is_empty(), "{id}: no help.{field}");
        }
    }
    let driver = &log["runs"][0]["tool"]["driver"];
    assert!(driver["semanticVersion"].is_string(), "{driver}");
    let mut file_level = 0;
    for r in results(&log) {
        assert!(
            !r["message"]["text"].as_str().unwrap_or("").is_empty(),
            "{r}"
        );
        let physical = &r["locations"][0]["physicalLocation"];
        assert!(
            physical["artifactLocation"]["uri"].is_string(),
            "no location: {r}"
        );
        assert!(
            physical["region"]["startLine"].as_u64() >= Some(1),
            "no region: {r}"
        );
        if r["ruleId"] == "TM020" {
            file_level += 1;
            assert_eq!(physical["artifactLocation"]["uri"], "src/blob.py");
        }
    }
    assert_eq!(file_level, 1, "the binary file's warning is a result");
}

#[test]
fn sarif_messages_cannot_embed_links() {
    // SARIF messages are plain text in which `[text](target)` is an embedded link (SARIF
    // 3.11.6), which GitHub renders: brackets from the repository are escaped (names cannot
    // hold parentheses, so the bracket is what must not survive).
    let dir = git_repo(&[(
        "src/app.py",
        "# @component Api (#api)\n# @threat Click [here] now (#lure) [severity: high]\n# @exposes #api to #lure\n",
    )]);
    let (_, log) = check_sarif(dir.path(), &[]);
    let tm101 = results(&log)
        .iter()
        .find(|r| r["ruleId"] == "TM101")
        .expect("TM101");
    let text = tm101["message"]["text"].as_str().expect("text");
    assert!(!text.contains(" [here]"), "{text}");
    assert!(text.contains("\\[here\\]"), "{text}");
}

// @tests #sarif_for_github for #renderer
#[test]
fn check_in_a_subfolder_writes_uris_relative_to_the_repository() {
    let dir = git_repo(&[
        (
            "services/api/threatmark.toml",
            "[project]\nname = \"api\"\n",
        ),
        ("services/api/src/app.py", MIXED),
    ]);
    let (_, log) = check_sarif(dir.path(), &["-C", "services/api"]);
    let rs = results(&log);
    assert!(!rs.is_empty());
    for r in rs {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri");
        assert!(uri.starts_with("services/api/"), "{uri} in {r}");
        assert!(
            dir.path().join(uri).is_file() || uri.ends_with("threatmodel.json"),
            "{uri} is not a file of the repository"
        );
    }
    // The same from inside the folder.
    let (_, inside) = check_sarif(&dir.path().join("services/api"), &[]);
    assert_eq!(
        results(&inside)[0]["locations"],
        results(&log)[0]["locations"]
    );
}

// @tests #sarif_for_github for #renderer
#[test]
fn min_level_leaves_lower_levels_out_of_the_sarif() {
    let dir = git_repo(&[("src/app.py", MIXED)]);
    let levels = |log: &Value| -> BTreeSet<String> {
        results(log)
            .iter()
            .map(|r| r["level"].as_str().expect("level").to_string())
            .collect()
    };
    let (_, all) = check_sarif(dir.path(), &[]);
    assert!(levels(&all).contains("note"), "{:?}", levels(&all));
    let (_, warn) = check_sarif(dir.path(), &["--min-level", "warning"]);
    assert!(!levels(&warn).contains("note"), "{:?}", levels(&warn));
    assert!(levels(&warn).contains("warning"), "{:?}", levels(&warn));
    let (_, err) = check_sarif(dir.path(), &["--min-level", "error"]);
    assert_eq!(levels(&err), BTreeSet::from(["error".to_string()]), "{err}");
    let bad = run(tm_in(dir.path()).args(["check", "--base", "HEAD", "--min-level", "loud"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

// @tests #sarif_for_github for #renderer
#[test]
fn a_repository_with_more_results_than_github_accepts_keeps_the_most_severe() {
    // 25,100 unused controls (notes) and one critical exposure: GitHub rejects a run of more
    // than 25,000 results, so the notes beyond that are dropped, never the critical one.
    let mut text = String::from(
        "# @component Api (#api)\n# @threat Worst (#worst) [severity: critical]\n# @exposes #api to #worst\n",
    );
    for i in 0..25_100 {
        text.push_str(&format!("# @control C{i} (#c{i})\n"));
    }
    let dir = git_repo(&[("src/app.py", &text)]);
    let (out, log) = check_sarif(dir.path(), &[]);
    assert!(out.elapsed < Duration::from_secs(60), "{:?}", out.elapsed);
    let rs = results(&log);
    assert_eq!(rs.len(), 25_000);
    assert!(
        rs.iter().any(|r| r["ruleId"] == "TM101"),
        "the critical result was dropped"
    );
    let notes = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    let said = notes.to_string();
    assert!(said.contains("25000") || said.contains("25,000"), "{said}");
    // 25,100 notes + the exposure + ... : at least 101 were left out, and the number is said.
    let dropped: u64 = notes[0]["message"]["text"]
        .as_str()
        .expect("text")
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a count");
    assert!(dropped >= 101, "{said}");
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// What GitHub would autolink or notify in `md` outside code spans and code blocks: mentions,
/// issue references and bare URLs.
fn live_references(md: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Drop code spans (single backticks; the renderers use no longer fences).
        let mut in_code = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '`' && prev != '\\' {
                in_code = !in_code;
                prose.push(' ');
            } else if !in_code {
                prose.push(c);
            }
            prev = c;
        }
        prose.push('\n');
    }
    let mut found = Vec::new();
    for needle in [
        "@octocat",
        "@acme/security",
        "#123",
        "GH-45",
        "https://evil.example",
        "www.evil.example",
        "eve@evil.example",
    ] {
        if prose.contains(needle) || prose.contains(&needle.replace('#', "\\#")) {
            found.push(needle.to_string());
        }
    }
    found
}

const PINGS: &str = "ping @octocat and @acme/security, fixes #123 and GH-45 and acme/app#7, see https://evil.example/x or www.evil.example, mail eve@evil.example";

// @tests #markdown_neutralised for #renderer
#[test]
fn markdown_diff_and_report_never_ping_or_link_from_repository_text() {
    let dir = git_repo(&[("src/app.py", "# @component Api (#api)\n")]);
    write(
        dir.path(),
        "src/app.py",
        format!(
            "# @component Api (#api)\n# @threat Ping @octocat #123 (#ping) [severity: high; owner: @acme/security]: {PINGS}\n\
             # @exposes #api to #ping with {PINGS}\n# @control Guard (#guard): {PINGS}\n"
        ),
    );
    let diff = run(tm_in(dir.path()).args(["diff", "HEAD", "--format", "markdown"]));
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(diff.stdout.contains("octocat"), "{}", diff.stdout);
    assert_eq!(
        live_references(&diff.stdout),
        Vec::<String>::new(),
        "{}",
        diff.stdout
    );

    let report = run(tm_in(dir.path()).args(["report", ".", "--format", "markdown"]));
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(report.stdout.contains("evil.example"), "{}", report.stdout);
    assert_eq!(
        live_references(&report.stdout),
        Vec::<String>::new(),
        "{}",
        report.stdout
    );
    // threatmark's own links still work.
    assert!(
        report.stdout.contains("](\\#threat-ping)"),
        "{}",
        report.stdout
    );
}
