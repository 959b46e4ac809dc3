//! Hostile suite: bounds.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// -j/--threads
// ---------------------------------------------------------------------------------------------

/// `-j` is validated by the argument parser on every command that has it: 0, values above
/// 256 and values that do not fit a `usize` are usage errors (exit 2, a message naming the
/// range), never a panic (exit 101) nor thousands of threads.
// @tests #bounded_threads for #cli
#[test]
fn threads_out_of_range_are_usage_errors_on_every_command() {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.py", "# @threat A (#a)\n");
    git(root, &["init", "-q"]);
    commit_all(root, "a");
    let commands: [&[&str]; 8] = [
        &["scan", "-q", "--format", "json"],
        &["analyze"],
        &["check", "--base", "HEAD"],
        &["diff", "HEAD", "HEAD"],
        &["history"],
        &["report", "--format", "markdown"],
        &["site", "--out", "site-out"],
        &["scan", "--rev", "HEAD", "--format", "json"],
    ];
    for bad in [
        "0",
        "257",
        "100000",
        "18446744073709551615",
        "99999999999999999999",
        "-1",
    ] {
        for command in commands {
            // `-j -1` would be taken for a flag; `--threads=-1` is the value.
            let out = run(tm_in(root).args(command).arg(format!("--threads={bad}")));
            assert_eq!(out.code, 2, "{command:?} --threads={bad}: {}", out.stderr);
            let out = run(tm_in(root).args(command).args(["-j", bad]));
            if bad == "-1" {
                assert_eq!(out.code, 2, "{command:?} -j {bad}: {}", out.stderr);
                continue;
            }
            assert_eq!(out.code, 2, "{command:?} -j {bad}: {}", out.stderr);
            assert!(
                out.stderr.contains("--threads") && out.stderr.contains("1 to 256"),
                "{command:?} -j {bad}: {}",
                out.stderr
            );
        }
    }
    assert!(!root.join("site-out").exists());
    for good in ["1", "256"] {
        let (_, model) = scan(root, &["-j", good]);
        assert_eq!(ids(&model, "threats"), BTreeSet::from(["a".to_string()]));
    }
}

// ---------------------------------------------------------------------------------------------
// merge
// ---------------------------------------------------------------------------------------------

/// A model (as `scan --format json` writes it) with `n` boundaries `{project}_b00000..`, each
/// inside the next, the last inside the first when `cycle`; 20 components spread over them and
/// a flow between each two neighbours.
fn boundary_model(project: &str, n: usize, cycle: bool) -> String {
    let p = project;
    let src = |i: usize| serde_json::json!([{"path": "a.py", "line": i + 1, "column": 1, "annotation": "x"}]);
    let boundaries: Vec<Value> = (0..n)
        .map(|i| {
            let mut b = serde_json::json!({
                "id": format!("{p}_b{i:05}"), "name": format!("{p} B{i:05}"), "declared": true,
                "components": [], "sources": src(i),
            });
            if i + 1 < n || cycle {
                b["parent"] = format!("{p}_b{:05}", (i + 1) % n).into();
            }
            b
        })
        .collect();
    let components: Vec<Value> = (0..20)
        .map(|i| {
            serde_json::json!({
                "id": format!("{p}_c{i:02}"), "name": format!("{p} C{i:02}"), "declared": true,
                "boundary": format!("{p}_b{:05}", (i * 997) % n), "sources": src(i),
            })
        })
        .collect();
    let flows: Vec<Value> = (0..19)
        .map(|i| {
            serde_json::json!({
                "id": format!("{p}_c{i:02}/{p}_c{:02}/d", i + 1), "source": format!("{p}_c{i:02}"),
                "target": format!("{p}_c{:02}", i + 1), "details": "d", "sources": src(i),
            })
        })
        .collect();
    serde_json::json!({
        "schema_version": 1, "project": {"name": project},
        "components": components, "boundaries": boundaries, "actors": [], "threats": [],
        "controls": [], "mitigations": [], "exposures": [], "acceptances": [], "transfers": [],
        "flows": flows, "reviews": [], "tests": [],
    })
    .to_string()
}

/// `merge` walked each boundary's parent chain with a linear `contains` per step, once per
/// boundary and twice per flow: cubic in the nesting depth, and a 5,000-boundary cycle took
/// minutes. Cycles are now broken once (the edge that closes the loop is dropped, as a scan
/// drops it) and depths are memoised, so the merge is linear in the boundaries plus the size of
/// the crossings it writes.
// @tests #bounded_merge for #merger
#[test]
fn merging_a_5000_boundary_cycle_is_fast_and_breaks_the_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "a.json", boundary_model("one", 5_000, true));
    write(root, "b.json", boundary_model("two", 10, false));
    let out = run(tm()
        .current_dir(root)
        .args(["merge", "a.json", "b.json", "--out", "m.json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(20),
        "merge took {:?}",
        out.elapsed
    );
    let merged: Value =
        serde_json::from_str(&fs::read_to_string(root.join("m.json")).expect("m.json"))
            .expect("JSON");
    let boundaries = merged["boundaries"].as_array().expect("boundaries");
    assert_eq!(boundaries.len(), 5_010);
    // Exactly one nesting edge of the cycle was dropped, so the nesting has an outside.
    let roots: Vec<&str> = boundaries
        .iter()
        .filter(|b| b.get("parent").is_none())
        .map(|b| b["id"].as_str().expect("id"))
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    // Crossings are the boundaries between the two ends, innermost last.
    let flow = merged["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .find(|f| f["source"] == "one_c00" && f["target"] == "one_c01")
        .expect("flow c00 -> c01");
    let crosses = flow["crosses"].as_array().expect("crosses");
    assert!(
        !crosses.is_empty() && crosses.len() < 5_000,
        "{}",
        crosses.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Tracked files and .gitignore
// ---------------------------------------------------------------------------------------------

/// A committed file is part of the repository whatever `.gitignore` says, as git treats it:
/// a pull request that adds `*.py` to `.gitignore` must not hide every Python annotation from
/// the work-tree scan (while `--rev` still read them). Tracked files pass the `.gitignore`
/// rules, also inside an ignored folder; untracked files that match stay ignored;
/// `.threatmarkignore` and `[scan] exclude` (threatmark's own, reviewed configuration) still
/// apply; and the work-tree scan gives the model that `scan --rev HEAD` gives.
// @tests #tracked_files_scanned for #walker
#[test]
fn tracked_files_are_scanned_whatever_gitignore_says_and_both_scans_agree() {
    let dir = repo("[scan]\nexclude = [\"lib/excluded.py\"]\n");
    let root = dir.path();
    write(root, "src/a.py", "# @threat A (#a)\n");
    write(root, "gen/deep/c.py", "# @threat C (#c)\n");
    write(root, "lib/excluded.py", "# @threat Excluded (#excluded)\n");
    write(root, "vendor/v.py", "# @threat Vendored (#vendored)\n");
    write(root, ".threatmarkignore", "vendor/\n");
    git(root, &["init", "-q"]);
    commit_all(root, "code");
    // The hostile change: hide every Python file, and a whole folder.
    write(root, ".gitignore", "*.py\ngen/\nbuild/\n");
    write(root, "gen/.gitignore", "deep/\n");
    git(root, &["add", "-f", ".gitignore", "gen/.gitignore"]);
    commit_staged(root, "ignore");
    // Untracked files the rules match stay ignored, in ignored folders too.
    write(root, "new.py", "# @threat Untracked (#untracked)\n");
    write(
        root,
        "gen/deep/new.py",
        "# @threat Untracked gen (#untracked_gen)\n",
    );
    write(
        root,
        "gen/other/new.py",
        "# @threat Untracked other (#untracked_other)\n",
    );
    write(
        root,
        "build/out.py",
        "# @threat Build output (#build_output)\n",
    );

    let (_, work) = scan(root, &[]);
    assert_eq!(
        ids(&work, "threats"),
        BTreeSet::from(["a".to_string(), "c".to_string()])
    );
    let out = run(tm_in(root).args(["scan", "--format", "json", "--rev", "HEAD", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rev: Value = serde_json::from_str(&out.stdout).expect("model");
    assert_eq!(work, rev, "work-tree and --rev HEAD models differ");

    // The same from a scan root below the repository root, where `gen/.gitignore` applies
    // (ignore files above the scan root do not).
    fs::remove_dir_all(root.join("gen/other")).expect("rm");
    let sub = root.join("gen");
    let (_, work) = scan(&sub, &[]);
    assert_eq!(ids(&work, "threats"), BTreeSet::from(["c".to_string()]));
    let out = run(tm_in(&sub).args(["scan", "--format", "json", "--rev", "HEAD", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rev: Value = serde_json::from_str(&out.stdout).expect("model");
    assert_eq!(work, rev, "work-tree and --rev HEAD models of gen/ differ");
}

/// The scan cache keeps outcomes per file; which files are walked is decided afresh every
/// run, so a file that becomes tracked (`git add -f`) while `.gitignore` matches it is scanned
/// by the next cached scan, and one that is untracked again leaves the model.
// @tests #tracked_files_scanned for #walker
#[test]
fn a_newly_tracked_ignored_file_is_not_hidden_by_the_scan_cache() {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.py", "# @threat A (#a)\n");
    write(root, ".gitignore", "hidden.py\n");
    write(
        root,
        "hidden.py",
        format!("# @threat Hidden (#hidden)\n#{}\n", "x".repeat(600)),
    );
    git(root, &["init", "-q"]);
    commit_all(root, "a");
    let cached_scan = || {
        let out = run(tm_in(root)
            .env_remove("THREATMARK_NO_CACHE")
            .env("XDG_CACHE_HOME", root.join(".cache-home"))
            .args(["scan", "--format", "json", "."]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let model: Value = serde_json::from_str(&out.stdout).expect("model");
        ids(&model, "threats")
    };
    assert_eq!(cached_scan(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cached_scan(), BTreeSet::from(["a".to_string()]));
    git(root, &["add", "-f", "hidden.py"]);
    assert_eq!(
        cached_scan(),
        BTreeSet::from(["a".to_string(), "hidden".to_string()])
    );
    git(root, &["rm", "-q", "--cached", "hidden.py"]);
    assert_eq!(cached_scan(), BTreeSet::from(["a".to_string()]));
}

// ---------------------------------------------------------------------------------------------
// Ignore files: size and pattern limits
// ---------------------------------------------------------------------------------------------

/// A 4.5 MB `.gitignore` took 1.76 GB of memory. Ignore files over 1 MiB, or with more than
/// 10,000 patterns, are skipped with TM032 naming them, and the scan goes on without their
/// rules: for a security scanner, scanning more is the safe side. The same holds at a revision
/// (for `.threatmarkignore`; at a revision every file is tracked, so `.gitignore` has no say).
// @tests #bounded_ignore_files for #walker
#[test]
fn oversized_ignore_files_are_skipped_with_tm032_and_the_scan_goes_on() {
    let dir = repo("");
    let root = dir.path();
    let big: String = (0..300_000)
        .map(|i| format!("generated/pattern-{i:07}/\n"))
        .collect();
    assert!(big.len() > 4_500_000);
    // Under the byte limit, over the pattern limit.
    let many: String = (0..20_000).map(|i| format!("p{i}\n")).collect();
    assert!(many.len() < 1 << 20);
    write(root, ".gitignore", format!("ignored.py\n{big}"));
    write(root, "ignored.py", "# @threat Ignored (#ignored)\n");
    write(root, "sub/.threatmarkignore", format!("s.py\n{many}"));
    write(root, "sub/s.py", "# @threat Sub (#sub)\n");
    write(root, "ok/.gitignore", "skip.py\n");
    write(root, "ok/skip.py", "# @threat Skipped (#skipped)\n");
    write(root, "a.py", "# @threat A (#a)\n");
    let (out, model) = scan(root, &[]);
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
    let want = BTreeSet::from(["a".to_string(), "ignored".to_string(), "sub".to_string()]);
    assert_eq!(ids(&model, "threats"), want);
    let d = diagnostic(&out.stderr, "TM032", ".gitignore");
    assert!(d.contains("1048576"), "{d}");
    let d = diagnostic(&out.stderr, "TM032", "sub/.threatmarkignore");
    assert!(d.contains("10000"), "{d}");
    assert_eq!(located(&out.stderr, "TM032").len(), 2, "{}", out.stderr);

    // At a revision: the big `.threatmarkignore` is skipped the same way, unread.
    write(root, ".threatmarkignore", format!("a.py\n{big}"));
    git(root, &["init", "-q"]);
    // `-f`: git itself honours `ignored.py` in the big `.gitignore`.
    git(root, &["add", "-A", "-f"]);
    commit_staged(root, "all");
    let out = run(tm_in(root).args(["scan", "--format", "json", "--rev", "HEAD", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
    diagnostic(&out.stderr, "TM032", ".threatmarkignore");
    diagnostic(&out.stderr, "TM032", "sub/.threatmarkignore");
    let rev: Value = serde_json::from_str(&out.stdout).expect("model");
    let (_, work) = scan(root, &[]);
    assert_eq!(work, rev);
    // Committed, `ok/skip.py` is tracked: its `.gitignore` line no longer hides it.
    assert!(ids(&rev, "threats").contains("skipped"));
    assert!(ids(&rev, "threats").contains("a"));
}

/// When the index cannot be read, which files are tracked is unknown: `.gitignore` then
/// applies to every file, and TM033 says so (the model may lack what `--rev` finds).
// @tests #tracked_files_scanned for #walker
#[test]
fn an_unreadable_index_is_reported_with_tm033() {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.py", "# @threat A (#a)\n");
    write(root, "x.py", "# @threat X (#x)\n");
    git(root, &["init", "-q"]);
    commit_all(root, "a");
    write(root, ".gitignore", "x.py\n");
    let (out, model) = scan(root, &[]);
    assert!(ids(&model, "threats").contains("x"));
    assert!(located(&out.stderr, "TM033").is_empty(), "{}", out.stderr);
    fs::write(root.join(".git/index"), b"DIRC garbage").expect("corrupt the index");
    let (out, model) = scan(root, &[]);
    assert_eq!(ids(&model, "threats"), BTreeSet::from(["a".to_string()]));
    let d = diagnostics(&out.stderr)
        .into_iter()
        .find(|d| d.contains("[TM033]"))
        .unwrap_or_else(|| panic!("no TM033:\n{}", out.stderr));
    assert!(d.contains("index"), "{d}");
}

/// `follow_symlinks = true` (the repository's own setting, so possibly a pull request's) follows
/// links only inside the scanned folder: a link to a folder of the machine is named, not read
/// (review finding: a link to /etc walked 1,050 files into the model).
#[cfg(unix)]
#[test]
fn followed_links_never_leave_the_scanned_folder() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(
        outside.path(),
        "secret.py",
        "# @threat Machine secret (#secret)\n",
    );
    let dir = repo("[scan]\nfollow_symlinks = true\n");
    let root = dir.path();
    write(root, "a.py", "# @threat A (#a)\n");
    write(root, "shared/b.py", "# @threat B (#b)\n");
    std::os::unix::fs::symlink(outside.path(), root.join("machine")).expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("secret.py"), root.join("one.py"))
        .expect("symlink");
    std::os::unix::fs::symlink(root.join("shared"), root.join("inside")).expect("symlink");
    let (out, model) = scan(root, &[]);
    let threats = ids(&model, "threats");
    assert!(!threats.contains("secret"), "{threats:?}");
    assert!(
        threats.contains("a") && threats.contains("b"),
        "{threats:?}"
    );
    let named = located(&out.stderr, "TM034");
    assert!(
        named.contains(&"machine".to_string()) && named.contains(&"one.py".to_string()),
        "{}",
        out.stderr
    );
    // The link inside the folder is followed: `b` is found twice, through both paths.
    assert_eq!(
        threat(&model, "b")["sources"].as_array().map(Vec::len),
        Some(2),
        "{model:#}"
    );
}
