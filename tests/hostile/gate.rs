//! Hostile suite: the gate fails closed. The pull request is the attacker: it must not be able to
//! skip `check` (no base to compare with), relax its own policy (`[check]`, `[risk]` in its own
//! threatmark.toml), or slip a risk past the threshold by re-rating or renaming it.

#[allow(unused_imports)]
use super::*;

fn rev_parse(dir: &Path, rev: &str) -> String {
    git(dir, &["rev-parse", rev]).trim().to_string()
}

const API: &str = "# @component Api (#api)\n\
     # @threat SQL injection (#sqli) [likelihood: likely; impact: major]\n\
     # @control Prepared statements (#prepared)\n\
     # @mitigates #api against #sqli with #prepared\n";

/// A new critical exposure (likely × severe = 20).
const CRITICAL: &str = "# @threat RCE (#rce) [likelihood: likely; impact: severe]\n\
     # @exposes #api to #rce with template rendering\n";

/// A committed repository on `main` that passes every policy.
fn gated(config: &str) -> tempfile::TempDir {
    let dir = repo(config);
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write(root, "src/api.py", API);
    rescan(root);
    commit_all(root, "model");
    dir
}

fn rescan(root: &Path) {
    let out = run(tm_in(root).args(["scan", "-q", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn check(root: &Path, args: &[&str]) -> Run {
    run(tm_in(root).arg("check").args(args))
}

fn check_json(root: &Path, args: &[&str]) -> (Run, Value) {
    let out = run(tm_in(root)
        .arg("check")
        .args(args)
        .args(["--format", "json"]));
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", out.stdout, out.stderr));
    (out, report)
}

/// The message that tells a CI owner how to give `check` its base.
fn says_how_to_fix(stderr: &str) {
    assert!(stderr.contains("--base"), "{stderr}");
    assert!(stderr.contains("fetch-depth: 0"), "{stderr}");
    assert!(stderr.contains("--allow-missing-base"), "{stderr}");
}

// @tests #fail_closed_base for #gate
#[test]
fn check_without_a_base_fails_closed() {
    // Not a git repository.
    let plain = repo("");
    write(plain.path(), "src/api.py", API);
    rescan(plain.path());
    let out = check(plain.path(), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    says_how_to_fix(&out.stderr);
    // Allowed explicitly: skipped, never passed, in every format.
    let out = check(plain.path(), &["--allow-missing-base"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("skip new-unmitigated"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("not fully checked: 1 of 5 policies skipped"),
        "{}",
        out.stdout
    );
    let (_, report) = check_json(plain.path(), &["--allow-missing-base"]);
    assert_eq!(policy_state(&report, "new-unmitigated"), "skipped");
    let sarif =
        run(tm_in(plain.path()).args(["check", "--allow-missing-base", "--format", "sarif"]));
    assert_eq!(sarif.code, 0, "{}", sarif.stderr);
    let log: Value = serde_json::from_str(&sarif.stdout).expect("SARIF");
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"].to_string();
    assert!(
        notes.contains("new-unmitigated") && notes.contains("skipped"),
        "{log:#}"
    );
    // The CI owner's `--fail-on none` needs no base.
    assert_eq!(check(plain.path(), &["--fail-on", "none"]).code, 0);

    // No default branch to compare with (`trunk` only).
    let dir = repo("");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "trunk"]);
    write(root, "src/api.py", API);
    rescan(root);
    commit_all(root, "model");
    let out = check(root, &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    says_how_to_fix(&out.stderr);
    // In a repository, `none` in the scanned threatmark.toml may be the change's own: without a
    // base to read the policy from, that is no way around the gate.
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[check]\nfail_on_new_unmitigated = \"none\"\n",
    );
    rescan(root);
    assert_eq!(check(root, &[]).code, 2);
    // Outside one there is no change: the folder's own `none` needs no base.
    write(
        plain.path(),
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[check]\nfail_on_new_unmitigated = \"none\"\n",
    );
    rescan(plain.path());
    let out = check(plain.path(), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("off  new-unmitigated"),
        "{}",
        out.stdout
    );

    // An orphan branch: no common ancestor with main.
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "--orphan", "pr"]);
    write(root, "src/rce.py", CRITICAL);
    rescan(root);
    commit_all(root, "orphan");
    let out = check(root, &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    says_how_to_fix(&out.stderr);
    // With the base named, the new exposure fails the gate.
    assert_eq!(check(root, &["--base", "main"]).code, 1);
}

// @tests #fail_closed_base for #gate
#[test]
fn a_shallow_clone_of_the_pull_request_fails_closed() {
    let origin = gated("");
    let o = origin.path();
    commit_all(o, "second");
    let first = rev_parse(o, "main~1");
    git(o, &["checkout", "-q", "-b", "feature"]);
    write(o, "src/rce.py", CRITICAL);
    rescan(o);
    commit_all(o, "pr");
    // main moves on: the fork point is in neither tip.
    git(o, &["checkout", "-q", "main"]);
    commit_all(o, "third");

    let clones = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", o.display());
    git(
        clones.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            "c",
        ],
    );
    let clone = clones.path().join("c");
    git(&clone, &["checkout", "-q", "feature"]);
    // origin/main is there, but not the history that joins it to the pull request.
    let out = check(&clone, &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    says_how_to_fix(&out.stderr);
    assert!(out.stderr.contains("shallow"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("not inside a git repository"),
        "{}",
        out.stderr
    );
    // A base commit that is missing from the object database.
    let out = check(&clone, &["--base", &first]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !out.stderr.contains("not inside a git repository"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("shallow"), "{}", out.stderr);
    // The tip of main is in the clone: an explicit base works.
    assert_eq!(check(&clone, &["--base", "origin/main"]).code, 1);
}

/// A pull request that adds a critical exposure and, in its own threatmark.toml, `extra`.
fn relaxing_pr(extra: &str) -> tempfile::TempDir {
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(
        root,
        "threatmark.toml",
        format!("[project]\nname = \"hostile\"\n{extra}"),
    );
    write(root, "src/rce.py", CRITICAL);
    rescan(root);
    commit_all(root, "pr");
    dir
}

// @tests #base_policy for #gate
#[test]
fn a_pull_request_cannot_switch_its_own_gate_off() {
    let dir = relaxing_pr("[check]\nfail_on_new_unmitigated = \"none\"\n");
    let root = dir.path();
    for args in [&["--base", "main"][..], &[]] {
        let out = check(root, args);
        assert_eq!(out.code, 1, "{args:?}\n{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("FAIL new-unmitigated"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(
                "policy changed in this change: check.fail_on_new_unmitigated \"high\" -> \"none\""
            ),
            "{}",
            out.stdout
        );
    }
    let (_, report) = check_json(root, &["--base", "main"]);
    assert_eq!(policy_state(&report, "new-unmitigated"), "failed");
    assert!(
        report["policy_changes"]
            .to_string()
            .contains("fail_on_new_unmitigated"),
        "{report:#}"
    );
    // The CI owner's flag (from the workflow file, not the repository) still decides.
    assert_eq!(
        check(root, &["--base", "main", "--fail-on", "none"]).code,
        0
    );

    // Switching a boolean policy off is as ineffective.
    let dir = relaxing_pr("[check]\nfail_on_stale = false\n");
    let root = dir.path();
    write(root, "src/extra.py", "# @threat Unrecorded (#unrecorded)\n");
    let out = check(root, &["--base", "main", "--fail-on", "none"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("FAIL stale-model"), "{}", out.stdout);
}

// @tests #base_policy for #gate
#[test]
fn a_pull_request_cannot_re_band_its_own_risk() {
    let dir = relaxing_pr("[risk]\nband_edges = [1, 2, 3, 99, 100]\n");
    let root = dir.path();
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAIL new-unmitigated"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "policy changed in this change: risk.band_edges [1, 3, 6, 12, 20] -> [1, 2, 3, 99, 100]"
        ),
        "{}",
        out.stdout
    );
    // What is scanned is a policy too: reported.
    let dir = relaxing_pr("[scan]\nexclude = [\"src/rce.py\"]\n");
    let out = check(dir.path(), &["--base", "main"]);
    assert!(
        out.stdout
            .contains("policy changed in this change: scan.exclude [] -> [\"src/rce.py\"]"),
        "{}",
        out.stdout
    );
}

// @tests #risk_raised_is_new for #gate
#[test]
fn an_exposure_re_rated_into_the_failing_band_counts_as_new() {
    // On main: an unmitigated exposure below the bar (rare × minor = 2, very low).
    let dir = gated("");
    let root = dir.path();
    write(
        root,
        "src/xss.py",
        "# @threat XSS (#xss) [likelihood: rare; impact: minor]\n# @exposes #api to #xss with search\n",
    );
    rescan(root);
    commit_all(root, "low exposure");
    assert_eq!(check(root, &["--base", "HEAD"]).code, 0);
    // The pull request re-rates it to critical.
    write(
        root,
        "src/xss.py",
        "# @threat XSS (#xss) [likelihood: likely; impact: severe]\n# @exposes #api to #xss with search\n",
    );
    rescan(root);
    let out = check(root, &["--base", "HEAD"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("src/xss.py:2:3: `api` is exposed to `XSS`"),
        "{}",
        out.stdout
    );
    commit_all(root, "critical");
    // Renamed: the same threat under a new id is new.
    write(
        root,
        "src/xss.py",
        "# @threat XSS (#xss2) [likelihood: likely; impact: severe]\n# @exposes #api to #xss2 with search\n",
    );
    rescan(root);
    let out = check(root, &["--base", "HEAD"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    // Unchanged, it is not new.
    git(root, &["checkout", "-q", "--", "."]);
    assert_eq!(check(root, &["--base", "HEAD"]).code, 0);
}

// @tests #risk_raised_is_new for #gate
#[test]
fn risk_lowered_is_listed_by_diff_and_check() {
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(
        root,
        "src/api.py",
        API.replace(
            "likelihood: likely; impact: major",
            "likelihood: rare; impact: minor",
        ),
    );
    rescan(root);
    commit_all(root, "downgrade");
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("risk lowered in this change: sqli `SQL injection` 16 high -> 2 very-low"),
        "{}",
        out.stdout
    );
    let (_, report) = check_json(root, &["--base", "main"]);
    assert_eq!(report["risk_lowered"][0]["threat"], "sqli", "{report:#}");
    let md = run(tm_in(root).args(["diff", "main..pr", "--format", "markdown"]));
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(
        md.stdout
            .contains("risk of **SQL injection** lowered to 2 (very-low)"),
        "{}",
        md.stdout
    );

    // Only the band moved (the score is the same): a lowered risk all the same.
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[risk]\nband_edges = [1, 2, 3, 99, 100]\n",
    );
    rescan(root);
    commit_all(root, "re-band");
    let out = run(tm_in(root).args(["diff", "main..pr", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(d["risk"][0]["direction"], "down", "{d:#}");
    assert_eq!(d["risk"][0]["to_band"], "medium", "{d:#}");
    let text = run(tm_in(root).args(["diff", "main..pr"]));
    assert!(
        text.stdout
            .contains("risk sqli `SQL injection`: 16 high -> 16 medium"),
        "{}",
        text.stdout
    );
}

/// `git init --object-format=sha256`, or `None` when this git cannot.
fn sha256_repo() -> Option<tempfile::TempDir> {
    let dir = repo("");
    let ok = git_cmd(dir.path())
        .args(["init", "-q", "-b", "main", "--object-format=sha256"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(dir)
}

// @tests #fail_closed_base for #gate
#[test]
fn sha256_repositories_work_or_fail_closed() {
    let Some(dir) = sha256_repo() else {
        eprintln!("skipped: this git cannot make SHA-256 repositories");
        return;
    };
    let root = dir.path();
    write(root, "src/api.py", API);
    rescan(root);
    commit_all(root, "model");
    write(root, "src/rce.py", CRITICAL);
    rescan(root);
    for args in [
        &["scan", "--rev", "HEAD", "--format", "json", "-q", "."][..],
        &["diff", "HEAD"],
        &["check", "--base", "HEAD"],
        &["check"],
        &["history"],
    ] {
        let out = run(tm_in(root).args(args));
        assert!(
            !out.stderr.contains("not inside a git repository"),
            "{args:?}: {}",
            out.stderr
        );
        match out.code {
            2 => assert!(
                out.stderr
                    .contains("SHA-256 repositories are not supported"),
                "{args:?}: {}",
                out.stderr
            ),
            // The gate: a new critical exposure against HEAD.
            code if args[0] == "check" => assert_eq!(code, 1, "{args:?}: {}", out.stderr),
            code => assert_eq!(code, 0, "{args:?}: {}", out.stderr),
        }
    }
}

#[test]
fn history_skips_a_commit_whose_configuration_is_invalid() {
    let dir = gated("");
    let root = dir.path();
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[check]\nfail_on_new_unmitigated = \"bogus\"\n",
    );
    commit_all(root, "broken config");
    let broken = rev_parse(root, "HEAD");
    write(root, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    commit_all(root, "fixed config");
    let out = run(tm_in(root).args(["history", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning"), "{}", out.stderr);
    assert!(out.stderr.contains(&broken[..12]), "{}", out.stderr);
    let points: Value = serde_json::from_str(&out.stdout).expect("json");
    let commits: Vec<&str> = points
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["commit"].as_str().expect("commit"))
        .collect();
    assert_eq!(commits.len(), 2, "{commits:?}");
    assert!(!commits.contains(&&broken[..12]), "{commits:?}");
}

/// A pull request that stops a file from being read (`.threatmarkignore`, `exclude`) hides its
/// annotations; the file is still there and still annotated, so check names it.
// @tests #base_policy for #gate
#[test]
fn a_file_the_change_stops_reading_is_named() {
    for (name, rule) in [
        (".threatmarkignore", "src/api.py\n"),
        (
            "threatmark.toml",
            "[project]\nname = \"hostile\"\n[scan]\nexclude = [\"src/api.py\"]\n",
        ),
    ] {
        let dir = gated("");
        let root = dir.path();
        git(root, &["checkout", "-q", "-b", "pr"]);
        write(root, name, rule);
        rescan(root);
        commit_all(root, "hide the api");
        let out = check(root, &["--base", "main", "--allow-errors"]);
        assert!(
            out.stdout.contains(
                "policy changed in this change: scanned file src/api.py read -> not read"
            ),
            "{name}\n{}\n{}",
            out.stdout,
            out.stderr
        );
        let (_, report) = check_json(root, &["--base", "main", "--allow-errors"]);
        assert!(
            report["policy_changes"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["key"] == "scanned file src/api.py")),
            "{report:#}"
        );
        if name == ".threatmarkignore" {
            assert!(
                out.stdout.contains(
                    "policy changed in this change: ignore file .threatmarkignore absent -> added"
                ),
                "{}",
                out.stdout
            );
        }
        // A file deleted for real is no hidden file.
        fs::remove_file(root.join("src/api.py")).expect("rm");
        fs::remove_file(root.join(name)).expect("rm");
        rescan(root);
        let out = check(root, &["--base", "main", "--allow-errors"]);
        assert!(!out.stdout.contains("scanned file"), "{}", out.stdout);
    }
}

/// Lowering a threat's rating in the change that adds an exposure of it does not slip the
/// exposure under the bar: the gate judges it by the base's rating (review finding: passed).
// @tests #risk_raised_is_new for #gate
#[test]
fn a_rating_lowered_with_a_new_exposure_is_judged_by_the_base_rating() {
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(
        root,
        "src/api.py",
        API.replace(
            "likelihood: likely; impact: major",
            "likelihood: rare; impact: minor",
        ),
    );
    write(
        root,
        "src/db.py",
        "# @component Db (#db)\n# @exposes #db to #sqli with string concatenation\n",
    );
    rescan(root);
    commit_all(root, "lower and expose");
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAIL new-unmitigated") && out.stdout.contains("src/db.py"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("risk lowered in this change"),
        "{}",
        out.stdout
    );
    // Removing the rating altogether is no way around it either.
    write(
        root,
        "src/api.py",
        API.replace(" [likelihood: likely; impact: major]", ""),
    );
    rescan(root);
    commit_all(root, "unrate");
    assert_eq!(check(root, &["--base", "main"]).code, 1);
}

/// Repository text in check's own lines (a policy-change key) cannot forge lines or drive the
/// terminal (review finding: a `[languages]` key printed a fake "passed" and a CSI).
#[test]
fn policy_change_lines_cannot_forge_output() {
    let dir = relaxing_pr(
        "[languages]\nextensions = { \"zz\\nthreatmark check: passed\\n  ok   new-unmitigated\\u009b2J\" = \"python\" }\n",
    );
    let root = dir.path();
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("policy changed in this change: languages.extensions"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("\u{9b}"), "{}", out.stdout);
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.starts_with("threatmark check: passed")),
        "{}",
        out.stdout
    );
}

/// Without a base, a repository's own `fail_on_* = false` does not switch a policy off: it may
/// be the change's own edit (review finding: `--allow-missing-base` let it decide).
// @tests #fail_closed_base for #gate
#[test]
fn without_a_base_the_repository_cannot_switch_policies_off() {
    let dir = repo("[check]\nfail_on_errors = false\nfail_on_stale = false\n");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "trunk"]);
    write(root, "src/api.py", "# @component Api (#api) in #nowhere\n");
    commit_all(root, "no model");
    let out = check(root, &["--allow-missing-base"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAIL errors") && out.stdout.contains("FAIL stale-model"),
        "{}",
        out.stdout
    );
    // The CI owner's flags still decide.
    let out = check(
        root,
        &["--allow-missing-base", "--allow-errors", "--allow-stale"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Outside git there is no change: the folder's own settings apply.
    let plain = repo("[check]\nfail_on_errors = false\nfail_on_stale = false\n");
    write(
        plain.path(),
        "src/api.py",
        "# @component Api (#api) in #nowhere\n",
    );
    let out = check(plain.path(), &["--allow-missing-base"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// A *new* annotated file hidden from the start by the change's own `.threatmarkignore` is not
/// in the head's model; check names the ignore file the change added, so the reviewer sees it.
// @tests #base_policy for #gate
#[test]
fn an_ignore_file_the_change_adds_or_edits_is_named() {
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(root, "src/new.py", CRITICAL);
    write(root, "src/.threatmarkignore", "new.py\n");
    rescan(root);
    commit_all(root, "hide a new exposure");
    let out = check(root, &["--base", "main"]);
    assert!(
        out.stdout.contains(
            "policy changed in this change: ignore file src/.threatmarkignore absent -> added (what it leaves out is not in this change's model)"
        ),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // Edited on a later change: named again; unchanged: not named.
    write(root, "src/.threatmarkignore", "new.py\nother.py\n");
    commit_all(root, "edit");
    let out = check(root, &["--base", "pr~1"]);
    assert!(
        out.stdout
            .contains("ignore file src/.threatmarkignore present -> edited"),
        "{}",
        out.stdout
    );
    let out = check(root, &["--base", "HEAD"]);
    assert!(!out.stdout.contains("ignore file"), "{}", out.stdout);
}

// @tests #suppression_not_gate for #cli
#[test]
fn a_pull_request_cannot_pass_check_by_suppressing() {
    // The change adds a critical exposure and a malformed mitigation (TM001, an error), hides
    // both with comments, and ignores every finding and the error in its own threatmark.toml.
    let dir = gated("");
    let root = dir.path();
    git(root, &["checkout", "-q", "-b", "pr"]);
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[diagnostics]\nignore = [\"TM1\", \"TM001\"]\n",
    );
    write(
        root,
        "src/rce.py",
        "# @threat RCE (#rce) [likelihood: likely; impact: severe]\n\
         # threatmark: ignore[TM101] accepted by nobody\n\
         # @exposes #api to #rce with template rendering\n\
         # @mitigates #api against #rce threatmark: ignore[TM001]\n",
    );
    rescan(root);
    commit_all(root, "pr");
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAIL new-unmitigated"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("FAIL errors"), "{}", out.stdout);
    // What was suppressed, how many and where.
    assert!(
        out.stdout.contains("diagnostics suppressed (")
            && out.stdout.contains("`check` decides on every diagnostic"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("src/rce.py:3:3 TM101 by `threatmark: ignore` at src/rce.py:2"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("src/rce.py:4:3 TM001 by `threatmark: ignore`"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("by [diagnostics]"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "policy changed in this change: diagnostics.ignore [] -> [\"TM1\", \"TM001\"]"
        ),
        "{}",
        out.stdout
    );
    // The carets of what failed are printed all the same.
    diagnostic(&out.stderr, "TM001", "src/rce.py:4");
    // SARIF keeps what fails the gate.
    let sarif = run(tm_in(root).args(["check", "--base", "main", "--format", "sarif"]));
    assert_eq!(sarif.code, 1, "{}", sarif.stderr);
    let log: Value = serde_json::from_str(&sarif.stdout).expect("SARIF");
    let rules: Vec<String> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["ruleId"].as_str().map(String::from))
        .collect();
    assert!(
        rules.iter().any(|r| r == "TM001") && rules.iter().any(|r| r == "TM101"),
        "{rules:?}"
    );

    // Diagnostics that say a file was not read cannot be ignored at all.
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[diagnostics]\nignore = [\"TM022\"]\n",
    );
    let out = check(root, &["--base", "main"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("[diagnostics] ignore: TM022 (file-too-large) cannot be ignored"),
        "{}",
        out.stderr
    );
}
