//! The one harness of the integration tests: every test that runs threatmark or git does it
//! through these helpers, so no test reads or writes the developer's cache, colours or git
//! configuration, and a developer's settings (or a CI runner's) cannot change what a test sees.
//!
//! - threatmark runs with `NO_COLOR`, with `XDG_CACHE_HOME` in the target's temporary folder
//!   (never `~/.cache`) and with its caches off (`THREATMARK_NO_CACHE`); a test of the caches
//!   turns them on with [`cached`], in a folder of its own.
//! - git (and threatmark's git reading) runs without the variables that point it at another
//!   repository or configuration, without the user's and the system's configuration, never
//!   prompts, and commits with a fixed identity.
//! - every run of the binary is bounded by a hang guard ([`HANG`]).
//!
//! Each test file includes it with `mod support;` (tests/hostile with a `#[path]`) and uses the
//! part it needs.

#![allow(dead_code)] // each test crate uses a part of the harness

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// The threatmark binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_threatmark");

/// No single run may take longer than this; a run that does is killed and the test fails.
pub(crate) const HANG: Duration = Duration::from_secs(120);

/// Variables that would point git or gix at another repository, index or configuration.
pub(crate) const GIT_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OPTIONAL_LOCKS",
];

/// The cache folder of every run that does not name its own: inside the target folder, shared
/// by the tests of one build, never the developer's.
pub(crate) fn cache_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Isolate any command (threatmark, git, a shell that runs them) from the developer's
/// environment, as the module documentation says.
pub(crate) fn isolate(cmd: &mut std::process::Command) {
    for var in GIT_VARS {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", cache_home())
        .env("THREATMARK_NO_CACHE", "1");
}

/// threatmark, isolated, its caches off, under the hang guard.
pub(crate) fn tm() -> Command {
    let mut std = std::process::Command::new(BIN);
    isolate(&mut std);
    let mut cmd = Command::from_std(std);
    cmd.timeout(HANG);
    cmd
}

/// [`tm`] run in `dir`.
pub(crate) fn tm_in(dir: &Path) -> Command {
    let mut cmd = tm();
    cmd.current_dir(dir);
    cmd
}

/// Turn threatmark's caches on for `cmd`, kept in `home` (an `XDG_CACHE_HOME`).
pub(crate) fn cached(cmd: &mut Command, home: impl AsRef<OsStr>) -> &mut Command {
    cmd.env_remove("THREATMARK_NO_CACHE")
        .env("XDG_CACHE_HOME", home)
}

/// What one run of the binary did.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `cmd`; it must exit (not be killed by the hang guard) and must not panic.
pub(crate) fn run(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let out = cmd.output().expect("run threatmark");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "threatmark panicked:\n{stderr}"
    );
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "threatmark did not exit by itself after {elapsed:?} (killed by a signal or the {HANG:?} hang guard):\n{stderr}"
        )
    });
    Run {
        code,
        stdout,
        stderr,
        elapsed,
    }
}

/// Write `bytes` to `root/rel`, making its folders.
pub(crate) fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, bytes).expect("write");
}

/// git, isolated, in `dir`.
pub(crate) fn git_cmd(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    isolate(&mut cmd);
    cmd.current_dir(dir);
    cmd
}

/// Run git in `dir`; it must succeed. Returns its stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ids of one list of a model (`threats`, `components`, ...).
pub(crate) fn ids(model: &Value, list: &str) -> BTreeSet<String> {
    model[list]
        .as_array()
        .unwrap_or_else(|| panic!("the model has no `{list}` list"))
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect()
}

/// The state of one policy in `check --format json`.
pub(crate) fn policy_state(report: &Value, policy: &str) -> String {
    report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["policy"] == policy)
        .and_then(|p| p["state"].as_str())
        .unwrap_or_else(|| panic!("no policy {policy} in {report:#}"))
        .to_string()
}

/// The SARIF 2.1.0 schema: the copy in tests/schemas (so that the test needs nothing outside the
/// repository), else the shared one beside it.
pub(crate) fn sarif_schema() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("tests/schemas/sarif-2.1.0.schema.json"),
        root.join("../shared/schemas/sarif-2.1.0.schema.json"),
    ];
    let path = candidates
        .iter()
        .find(|p| p.is_file())
        .expect("tests/schemas/sarif-2.1.0.schema.json");
    serde_json::from_str(&fs::read_to_string(path).expect("read the schema")).expect("schema")
}

/// `log` is valid SARIF 2.1.0, and the validator is not a pushover: the same log with a wrong
/// version or level is not.
pub(crate) fn assert_valid_sarif(log: &Value) {
    let schema = sarif_schema();
    // The schema is draft-04 and refers only to itself: no retrieval of anything, ever.
    let validator = jsonschema::draft4::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
    // The validator does check: the same log with a wrong version or a bad level is invalid.
    let mut wrong = log.clone();
    wrong["version"] = "2.0.0".into();
    assert!(!validator.is_valid(&wrong), "a wrong version passed");
    let mut wrong = log.clone();
    if let Some(r) = wrong["runs"][0]["results"].get_mut(0) {
        r["level"] = "fatal".into();
        assert!(!validator.is_valid(&wrong), "a wrong level passed");
    }
}

/// Every file under `roots`, skipping `.git`, `target` and `node_modules`, sorted.
pub(crate) fn source_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = roots.to_vec();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                if name != ".git" && name != "target" && name != "node_modules" {
                    dirs.push(path);
                }
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The folders named by the environment variable `var` (`:`-separated; none when unset).
pub(crate) fn roots_from_env(var: &str) -> Vec<PathBuf> {
    std::env::var(var)
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// splitmix64: a small seeded generator for generated corpora, so a failure names a case that
/// can be replayed from its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
