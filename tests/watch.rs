//! `threatmark scan --watch` on a real temporary repository: the model follows edits, deleted
//! files and new folders; its own writes do not make it scan again; Ctrl-C (SIGINT) exits 0.
//!
//! @tests #watch_debounce for #watcher

#![cfg(unix)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{BIN, ids, isolate, tm, write};

/// Generous: a debug build on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < WAIT, "waited {WAIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn model(root: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(root.join("threatmodel.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn threats(root: &Path) -> Vec<String> {
    model(root)
        .map(|m| ids(&m, "threats").into_iter().collect())
        .unwrap_or_default()
}

fn scans(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("scanning again")
        .count()
}

/// The watching process, killed if the test fails before it is interrupted: a watch left
/// running would run forever (and hold whatever it inherited, such as a build lock).
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Replace `root/rel` in one step (a sibling no language reads, renamed over it), as editors
/// save: `fs::write` truncates, then writes, two events that a stall longer than the quiet
/// period would split into two scans of which the first reads an empty file.
fn replace(root: &Path, rel: &str, text: &str) {
    let partial = format!("{rel}.partial");
    write(root, &partial, text);
    std::fs::rename(root.join(&partial), root.join(rel)).expect("rename");
}

fn interrupt(child: &mut Child) -> i32 {
    // A system call, not the `kill` binary: slim images have no procps.
    rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::INT,
    )
    .expect("kill");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().expect("exited, not killed by the signal");
        }
        assert!(started.elapsed() < WAIT, "no exit after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_model_follows_edits_deletions_and_new_folders_and_ctrl_c_exits_zero() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path();
    write(root, "threatmark.toml", "[project]\nname = \"w\"\n");
    write(root, ".gitignore", "build/\n");
    write(root, "src/a.py", "# @threat Alpha (#alpha)\n");
    write(root, "src/b.py", "# @threat Beta (#beta)\n");
    let log = tempfile::NamedTempFile::new()
        .map(|f| f.into_temp_path())
        .expect("log");
    let mut cmd = Command::new(BIN);
    isolate(&mut cmd);
    let mut child = Watching(
        cmd.args(["scan", "--watch", "-C"])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
            .spawn()
            .expect("start scan --watch"),
    );

    poll("the first model", || {
        (threats(root) == ["alpha", "beta"]).then_some(())
    });
    // Writing the model (a temporary file renamed over threatmodel.json) is no change.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        scans(&log),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    replace(
        root,
        "src/a.py",
        "# @threat Alpha (#alpha)\n# @threat Gamma (#gamma)\n",
    );
    poll("the edit", || {
        (threats(root) == ["alpha", "beta", "gamma"]).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        scans(&log),
        1,
        "one edit, one scan: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    std::fs::remove_file(root.join("src/b.py")).expect("rm");
    poll("the deletion", || {
        (threats(root) == ["alpha", "gamma"]).then_some(())
    });
    write(
        root,
        "new/deeper/c.go",
        "package c\n// @threat Delta (#delta)\n",
    );
    poll("the new folder", || {
        threats(root).contains(&"delta".to_string()).then_some(())
    });
    std::fs::remove_dir_all(root.join("new")).expect("rm -r");
    poll("the folder's removal", || {
        (threats(root) == ["alpha", "gamma"]).then_some(())
    });

    // Settled: its own model writes and scan cache do not trigger scans; ignored files neither.
    std::thread::sleep(Duration::from_secs(2));
    let settled = scans(&log);
    write(root, "build/out.py", "# @threat Ignored (#ignored)\n");
    write(root, "notes.png", "not an image");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        scans(&log),
        settled,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // A burst of saves is (about) one scan, not thirty.
    for i in 0..30 {
        replace(
            root,
            &format!("src/burst{i}.py"),
            &format!("# @threat B{i} (#b{i})\n"),
        );
    }
    poll("the burst", || (threats(root).len() == 32).then_some(()));
    std::thread::sleep(Duration::from_secs(1));
    let burst = scans(&log) - settled;
    assert!((1..=3).contains(&burst), "{burst} scans for one burst");

    assert_eq!(interrupt(&mut child.0), 0);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("watching"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn watch_is_for_a_repository_and_a_work_tree() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "a.py", "# @threat A (#a)\n");
    for (args, why) in [
        (
            vec!["scan", "--watch", "--rev", "HEAD"],
            "cannot be used with",
        ),
        (
            vec!["scan", "--watch", "--format", "json"],
            "cannot be used with",
        ),
        (
            vec!["scan", "--watch", "a.py"],
            "`--watch` watches a repository",
        ),
    ] {
        let out = tm()
            .current_dir(repo.path())
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}
