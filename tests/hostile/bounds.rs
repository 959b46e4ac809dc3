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
