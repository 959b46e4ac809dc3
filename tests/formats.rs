//! Snapshots of the output formats not covered elsewhere: `diff` (text, markdown, json), `check`
//! (text, json, sarif) and `history` (table, json, csv). Every one is a public interface, so any
//! change to them shows up here for review.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

mod support;
use support::{git_cmd, tm, write};

const BASE: &str = "\
// @boundary Internet (#internet)
// @boundary Cluster (#cluster)
// @component Shop:API (#api) in #cluster [owner: @shop]
// @component Shop:DB (#db) in #cluster [type: store; owner: @shop]
// @threat SQL injection (#sqli) [stride: T,I; likelihood: possible; impact: major; owner: @shop]
// @threat Session fixation (#fixation) [stride: S; severity: medium]
// @control Prepared statements (#prepared)
// @exposes #api to #sqli with search parameter
// @exposes #api to #fixation with login form
// @connects #api to #db with SQL over TLS
";

const HEAD: &str = "\
// @boundary Internet (#internet)
// @boundary Cluster (#cluster)
// @component Shop:API (#api) in #cluster [owner: @shop]
// @component Shop:DB (#db) in #cluster [type: store; owner: @shop]
// @component Browser (#browser) in #internet [type: external]
// @threat SQL injection (#sqli) [stride: T,I; likelihood: likely; impact: severe; owner: @shop]
// @threat Session fixation (#fixation) [stride: S; severity: medium]
// @control Prepared statements (#prepared)
// @exposes #api to #sqli with search parameter
// @exposes #api to #fixation with login form
// @mitigates #api against #fixation with Session rotation
// @accepts #fixation to #db with no sessions there [expires: 2026-01-31]
// @connects #browser to #api with HTTPS
";

/// Two models, written as JSON files, for the file form of `diff`.
fn two_models(dir: &Path) -> (String, String) {
    let mut out = Vec::new();
    for (name, text) in [("base", BASE), ("head", HEAD)] {
        let root = dir.join(name);
        write(&root, "threatmark.toml", "[project]\nname = \"shop\"\n");
        write(&root, "src/api.go", text);
        let json = tm()
            .args(["scan", "--format", "json", "-q"])
            .arg(&root)
            .output()
            .expect("scan");
        assert!(json.status.success());
        let file = dir.join(format!("{name}.json"));
        fs::write(&file, json.stdout).expect("write model");
        out.push(file.display().to_string());
    }
    (out[0].clone(), out[1].clone())
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    String::from_utf8(out.stdout).expect("utf8")
}

#[test]
fn diff_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_models(dir.path());
    let run = |format: &str| {
        stdout(tm().current_dir(dir.path()).args([
            "diff",
            "base.json",
            "head.json",
            "--format",
            format,
        ]))
    };
    assert!(Path::new(&a).is_file() && Path::new(&b).is_file());
    insta::assert_snapshot!("diff_text", run("text"));
    insta::assert_snapshot!("diff_markdown", run("markdown"));
    insta::assert_snapshot!("diff_json", run("json"));
}

#[test]
fn check_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("shop");
    write(&root, "threatmark.toml", "[project]\nname = \"shop\"\n");
    write(&root, "src/api.go", HEAD);
    let run = |format: &str| {
        let out = tm()
            .args(["check", "-C"])
            .arg(&root)
            // Not a git repository: no base, allowed (the policy is reported skipped).
            .args([
                "--allow-missing-base",
                "--today",
                "2026-11-23",
                "--format",
                format,
            ])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(1),
            "expired acceptance and stale model fail"
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    insta::assert_snapshot!("check_text", run("text"));
    insta::assert_snapshot!("check_json", run("json"));
    insta::assert_snapshot!("check_sarif", run("sarif"));
}

fn git(root: &Path, args: &[&str], date: &str) {
    let ok = git_cmd(root)
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn history_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // Fixed names and dates make the commit ids, and so the snapshots, reproducible.
    git(root, &["init", "-q", "-b", "main"], "2026-01-01T00:00:00Z");
    write(root, "threatmark.toml", "[project]\nname = \"shop\"\n");
    write(root, "src/api.go", BASE);
    git(root, &["add", "-A"], "2026-01-01T00:00:00Z");
    git(
        root,
        &["commit", "-qm", "base model"],
        "2026-01-01T00:00:00Z",
    );
    write(root, "src/api.go", HEAD);
    git(
        root,
        &["commit", "-qam", "mitigate session fixation"],
        "2026-02-01T00:00:00Z",
    );
    let run = |format: &str| {
        stdout(
            tm().args(["history", "-C"])
                .arg(root)
                .args(["--format", format]),
        )
    };
    insta::assert_snapshot!("history_table", run("table"));
    insta::assert_snapshot!("history_json", run("json"));
    insta::assert_snapshot!("history_csv", run("csv"));
}
