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
    git(root, &["add", "-A"]);
    git(
        root,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "a",
        ],
    );
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
