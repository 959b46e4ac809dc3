//! The git-aware commands against throwaway repositories made with the `git` command line:
//! `scan --rev` (the object database, never the work tree), `diff` (the semantic model diff in
//! text, Markdown and JSON), `check` (one test per policy, and its exit codes) and its SARIF.
//!
//! Every repository lives in a temporary folder. git runs with the user's and the system's
//! configuration switched off and with no `GIT_DIR`-style variables, so a developer's settings
//! (or a CI runner's hooks) cannot change what these tests see.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

mod support;
use support::{assert_valid_sarif, ids, policy_state};

/// threatmark in `dir`, isolated by the harness but with its caches on (in the harness's
/// folder, never the developer's): the revision cache under .git/threatmark is part of what these
/// tests check.
fn tm_in(dir: &Path) -> Command {
    let mut cmd = support::tm_in(dir);
    cmd.env_remove("THREATMARK_NO_CACHE");
    cmd
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run threatmark");
    Output {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A git repository in a temporary folder, on branch `main`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        for (key, value) in [
            ("user.name", "Threatmark Test"),
            ("user.email", "test@example.com"),
            ("commit.gpgsign", "false"),
            ("core.autocrlf", "false"),
            ("core.symlinks", "true"),
        ] {
            repo.git(&["config", key, value]);
        }
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        support::write(self.path(), rel, text);
    }

    fn remove(&self, rel: &str) {
        fs::remove_file(self.path().join(rel)).expect("remove");
    }

    /// Run git here; it must succeed. Returns its stdout.
    fn git(&self, args: &[&str]) -> String {
        let out = support::git_cmd(self.path())
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("git output is UTF-8")
    }

    /// `git add -A` and commit; returns the new commit's id.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.rev("HEAD")
    }

    fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_string()
    }

    /// Delete the loose object `rev` names: a blob the test then shows was not read.
    fn remove_object(&self, rev: &str) {
        let id = self.rev(rev);
        let object = self
            .path()
            .join(".git/objects")
            .join(&id[..2])
            .join(&id[2..]);
        fs::remove_file(object).expect("a loose object");
    }

    fn tm(&self) -> Command {
        tm_in(self.path())
    }

    /// threatmark with `args`; it must exit with `code`.
    fn expect(&self, args: &[&str], code: i32) -> Output {
        let mut cmd = self.tm();
        cmd.args(args);
        let out = run(cmd);
        assert_eq!(
            out.code, code,
            "threatmark {args:?} exited {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            out.code, out.stdout, out.stderr
        );
        assert!(
            !out.stderr.contains("panicked"),
            "threatmark {args:?} panicked:\n{}",
            out.stderr
        );
        out
    }

    /// threatmark with `args`, exit 0; its stdout.
    fn stdout(&self, args: &[&str]) -> String {
        self.expect(args, 0).stdout
    }

    /// threatmark with `args`, exit 0; its stdout as JSON.
    fn json(&self, args: &[&str]) -> Value {
        parse(&self.stdout(args))
    }

    /// `git status` without letting git refresh the index (which would rewrite it).
    fn status(&self) -> String {
        self.git(&[
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
            "--ignored",
        ])
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

#[cfg(unix)]
fn symlink(repo: &Repo, target: &str, link: &str) {
    std::os::unix::fs::symlink(target, repo.path().join(link)).expect("symlink");
}

#[cfg(not(unix))]
fn symlink(_repo: &Repo, _target: &str, _link: &str) {}

// ---------------------------------------------------------------------------------------------
// scan --rev
// ---------------------------------------------------------------------------------------------

/// A repository that exercises every path rule: nested `.gitignore`s (one with a byte order
/// mark, one re-including what its parent ignores), nested `.threatmarkignore`s, tracked files
/// that a `.gitignore` matches (`git add -f`), a hidden `.github/workflows` file, symbolic links
/// to a file and to a folder, and a threatmark.toml with `exclude` globs.
fn path_rules_repo() -> Repo {
    let repo = Repo::new();
    repo.write(
        "threatmark.toml",
        "[project]\nname = \"demo\"\n\n[scan]\nexclude = [\"src/skip/**\", \"**/*_test.py\"]\n",
    );
    repo.write(".gitignore", "*.tmp.py\n/build/\n**/cache/\n");
    repo.write("src/.gitignore", "gen/\n!keep.tmp.py\n");
    repo.write("lib/.gitignore", "\u{feff}generated/\r\n");
    repo.write(".threatmarkignore", "vendor/\n");
    repo.write("src/.threatmarkignore", "local.py\n");

    repo.write(
        "src/main.rs",
        "// @component Api (#api) in #dmz\n// @boundary DMZ (#dmz)\nfn main() {}\n",
    );
    repo.write("src/keep.tmp.py", "# @threat Kept by negation (#kept)\n");
    repo.write("lib/ok.py", "# @threat Library (#library)\n");
    repo.write(".hidden.py", "# @threat Hidden file (#hidden)\n");
    repo.write(
        ".github/workflows/ci.yml",
        "# @connects Browser to #api with HTTPS\non: push\n",
    );
    repo.write("vendor/v.py", "# @threat Vendored (#vendored)\n");
    repo.write("src/local.py", "# @threat Local (#local)\n");
    repo.write("src/skip/s.py", "# @threat Skipped (#skipped)\n");
    repo.write("src/a_test.py", "# @threat Test only (#test_only)\n");
    symlink(&repo, "main.rs", "src/link.rs");
    symlink(&repo, "src", "linked");
    symlink(&repo, "lib/ok.py", "alias.py");
    repo.git(&["add", "-A"]);

    // Tracked although a .gitignore matches them: both scans read them, as git treats them
    // (issue 14: a `.gitignore` in a pull request must not hide committed annotations).
    let forced = [
        ("src/x.tmp.py", "# @threat Temporary (#tmp)\n"),
        ("src/gen/g.py", "# @threat Generated (#generated)\n"),
        ("src/cache/c.py", "# @threat Cached (#cached)\n"),
        ("build/out.py", "# @threat Build output (#build_output)\n"),
        ("lib/generated/x.py", "# @threat Behind a BOM (#bom)\n"),
    ];
    for (rel, text) in forced {
        repo.write(rel, text);
        repo.git(&["add", "-f", rel]);
    }
    repo.commit("path rules");
    assert_eq!(repo.status(), "", "the checkout must be clean");
    // Untracked files that the `.gitignore`s match (the one with a byte order mark too): the
    // work tree has them, no revision does, and the walk leaves them out. (Only where the
    // rules that match them also apply to a scan of `src/`: ignore files above the scan root
    // do not.)
    for (rel, id) in [
        ("src/gen/u.py", "untracked_gen"),
        ("build/u.py", "untracked_build"),
        ("lib/generated/u.py", "untracked_bom"),
    ] {
        repo.write(rel, format!("# @threat Untracked (#{id})\n"));
    }
    repo
}

#[test]
fn scan_rev_head_equals_a_scan_of_the_clean_checkout() {
    let repo = path_rules_repo();
    let worktree = repo.stdout(&["scan", "--format", "json", "."]);
    let rev = repo.stdout(&["scan", "--rev", "HEAD", "."]);
    assert_eq!(worktree, rev, "scan --rev HEAD differs from the work tree");

    // Both are right, not merely equal.
    let model = parse(&rev);
    assert_eq!(model["project"]["name"], "demo");
    assert_eq!(
        ids(&model, "threats"),
        set(&[
            "hidden",
            "kept",
            "library",
            "tmp",
            "generated",
            "cached",
            "build_output",
            "bom"
        ])
    );
    assert_eq!(ids(&model, "components"), set(&["api", "browser"]));
    assert_eq!(ids(&model, "flows").len(), 1, "the hidden workflow file");
    // Links are not followed.
    for link in ["\"linked/", "alias.py", "link.rs"] {
        assert!(!rev.contains(link), "{link} was followed");
    }

    // Thread count does not matter, and neither does `--output` versus stdout.
    assert_eq!(repo.stdout(&["scan", "--rev", "HEAD", "-j", "1", "."]), rev);
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("m.json");
    let file_arg = file.to_str().expect("utf-8 path");
    repo.expect(&["scan", "--rev", "HEAD", "-q", "-o", file_arg, "."], 0);
    assert_eq!(fs::read_to_string(&file).expect("model file"), rev);

    // A folder of the repository as the scan root: its own ignore files, no threatmark.toml.
    let worktree = repo.stdout(&["scan", "--format", "json", "src"]);
    let rev = repo.stdout(&["scan", "--rev", "HEAD", "src"]);
    assert_eq!(
        worktree, rev,
        "scan --rev HEAD src differs from scanning src/"
    );
    let model = parse(&rev);
    assert_eq!(model["project"]["name"], "src");
    // The root .gitignore, .threatmarkignore and threatmark.toml are above the scan root;
    // src/.gitignore (to untracked files) and src/.threatmarkignore still apply.
    assert_eq!(
        ids(&model, "threats"),
        set(&["cached", "generated", "kept", "skipped", "test_only", "tmp"])
    );
    let kept = model["threats"]
        .as_array()
        .expect("threats")
        .iter()
        .find(|t| t["id"] == "kept")
        .expect("kept");
    assert_eq!(
        kept["sources"][0]["path"], "keep.tmp.py",
        "relative to the root"
    );

    // `include` globs too. They outrank ignore files, so the untracked files go first.
    for rel in ["src/gen/u.py", "build/u.py", "lib/generated/u.py"] {
        repo.remove(rel);
    }
    repo.write(
        "threatmark.toml",
        "[project]\nname = \"demo\"\n\n[scan]\ninclude = [\"src\", \"lib\", \".github\"]\nexclude = [\"src/skip/**\"]\n",
    );
    repo.commit("include");
    let worktree = repo.stdout(&["scan", "--format", "json", "."]);
    let rev = repo.stdout(&["scan", "--rev", "HEAD", "."]);
    assert_eq!(worktree, rev, "with include globs");
    let threats = ids(&parse(&rev), "threats");
    assert!(threats.contains("library") && threats.contains("kept"));
    for gone in ["hidden", "vendored", "skipped", "build_output"] {
        assert!(
            !threats.contains(gone),
            "{gone} is outside the include globs"
        );
    }
}

#[test]
fn scan_rev_applies_the_rules_of_that_revision() {
    let repo = Repo::new();
    repo.write("src/a.py", "# @threat App (#app)\n");
    repo.write("docs/d.py", "# @threat Documented (#documented)\n");
    repo.write("legacy/l.py", "# @threat Legacy (#legacy)\n");
    repo.write("vendor/v.py", "# @threat Vendored (#vendored)\n");

    repo.write(
        "threatmark.toml",
        "[project]\nname = \"v1\"\n[scan]\nexclude = [\"legacy/**\"]\n",
    );
    repo.write(".threatmarkignore", "vendor/\n");
    let first = repo.commit("rules 1");

    repo.write(
        "threatmark.toml",
        "[project]\nname = \"v2\"\n[scan]\nexclude = [\"docs/**\"]\n",
    );
    repo.write(".threatmarkignore", "legacy/\n");
    repo.write(".gitignore", "src/\n");
    repo.commit("rules 2");

    // Uncommitted rules in the work tree, which no revision has.
    repo.write("threatmark.toml", "[project]\nname = \"wt\"\n");
    repo.remove(".threatmarkignore");
    repo.write(".gitignore", "vendor/\n");

    let at_first = repo.json(&["scan", "--rev", &first, "."]);
    assert_eq!(at_first["project"]["name"], "v1");
    assert_eq!(ids(&at_first, "threats"), set(&["app", "documented"]));

    // `.gitignore` leaves out no committed file (`src/a.py` is tracked).
    let at_head = repo.json(&["scan", "--rev", "HEAD", "."]);
    assert_eq!(at_head["project"]["name"], "v2");
    assert_eq!(ids(&at_head, "threats"), set(&["app", "vendored"]));

    let worktree = repo.json(&["scan", "--format", "json", "."]);
    assert_eq!(worktree["project"]["name"], "wt");
    assert_eq!(
        ids(&worktree, "threats"),
        set(&["app", "documented", "legacy", "vendored"])
    );

    // Only the state of the repository at the revision counts, not where it is checked out.
    assert_eq!(
        repo.stdout(&["scan", "--rev", "HEAD~1", "."]),
        repo.stdout(&["scan", "--rev", &first, "."])
    );
}

#[test]
fn scan_rev_errors_exit_two() {
    let repo = Repo::new();
    repo.write("a.py", "# @threat A (#a)\n");
    repo.commit("one");
    let out = repo.expect(&["scan", "--rev", "no-such-branch", "."], 2);
    assert!(out.stderr.contains("no-such-branch"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let plain = tempfile::tempdir().expect("tempdir");
    let out = run({
        let mut c = tm_in(plain.path());
        c.args(["scan", "--rev", "HEAD", "."]);
        c
    });
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not inside a git repository"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// diff
// ---------------------------------------------------------------------------------------------

const API_BEFORE: &str = "\
// @component Api (#api) in #dmz
// @boundary DMZ (#dmz)
// @threat SQL injection (#sqli) [likelihood: possible; impact: moderate]
// @threat Gone (#gone)
// @threat Wanderer (#wanderer)
// @threat XSS (#xss) [likelihood: likely; impact: major]
// @control Prepared (#prepared)
// @control Escaping (#escaping)
// @exposes #api to #sqli
// @mitigates #api against #xss with #escaping
fn main() {}
";

const API_AFTER: &str = "\
// @component Api (#api) in #dmz
// @boundary DMZ (#dmz)
// @threat SQL injection (#sqli) [likelihood: likely; impact: major]
// @threat XSS (#xss) [likelihood: rare; impact: minor]
// @control Prepared (#prepared)
// @control Escaping (#escaping)
// @exposes #api to #sqli
// @mitigates #api against #sqli with #prepared
// @exposes #api to #xss
// @connects Browser to #api with HTTPS
// @threat Brand new (#brand_new)
// @component Admin (#admin) in #dmz
// @connects Browser to #admin with HTTP
fn main() {}
";

/// Two commits whose models differ in every way `diff` knows.
fn diff_repo() -> Repo {
    let repo = Repo::new();
    repo.write("threatmark.toml", "[project]\nname = \"demo\"\n");
    repo.write("src/api.rs", API_BEFORE);
    repo.write(
        "src/db.py",
        "# @component Db (#db) [owner: alice]\n# @threat Shifty (#shifty)\n",
    );
    repo.write("src/old_name.py", "# @threat Renamed (#renamed)\n");
    repo.commit("base");

    repo.write("src/api.rs", API_AFTER);
    // Db: an attribute changes (and the line, which is no news); Shifty: only lines shift.
    repo.write(
        "src/db.py",
        "# padding\n\n# @component Db (#db) [owner: bob]\n\n# @threat Shifty (#shifty)\n",
    );
    // Wanderer moves to another file.
    repo.write("src/other.py", "# @threat Wanderer (#wanderer)\n");
    repo.git(&["mv", "src/old_name.py", "src/new_name.py"]);
    repo.commit("head");
    repo
}

/// The one change of `kind` with `id`.
fn change<'a>(d: &'a Value, kind: &str, id: &str) -> &'a Value {
    let found: Vec<&Value> = d["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == kind && c["id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "{kind} {id} in {:#}", d["changes"]);
    found[0]
}

fn loc(v: &Value) -> (String, u64) {
    (
        v["path"].as_str().expect("path").to_string(),
        v["line"].as_u64().expect("line"),
    )
}

#[test]
fn diff_json_reports_every_kind_of_change() {
    let repo = diff_repo();
    let d = repo.json(&["diff", "--format", "json", "HEAD~1", "HEAD"]);
    assert_eq!(d["base"], "HEAD~1");
    assert_eq!(d["head"], "HEAD");

    // Added and removed.
    let added = change(&d, "threat", "brand_new");
    assert_eq!(added["change"], "added");
    assert_eq!(loc(&added["to"]), ("src/api.rs".into(), 11));
    let removed = change(&d, "threat", "gone");
    assert_eq!(removed["change"], "removed");
    assert_eq!(loc(&removed["from"]), ("src/api.rs".into(), 4));
    assert_eq!(change(&d, "component", "admin")["change"], "added");

    // Moved to another file: one "moved", not a removal and an addition.
    let wanderer = change(&d, "threat", "wanderer");
    assert_eq!(wanderer["change"], "moved");
    assert_eq!(loc(&wanderer["from"]), ("src/api.rs".into(), 5));
    assert_eq!(loc(&wanderer["to"]), ("src/other.py".into(), 1));
    // A renamed file moves what is in it.
    let renamed = change(&d, "threat", "renamed");
    assert_eq!(renamed["change"], "moved");
    assert_eq!(loc(&renamed["from"]), ("src/old_name.py".into(), 1));
    assert_eq!(loc(&renamed["to"]), ("src/new_name.py".into(), 1));
    // Moved within its file: in the JSON, with both lines.
    let shifty = change(&d, "threat", "shifty");
    assert_eq!(shifty["change"], "moved");
    assert_eq!(loc(&shifty["from"]), ("src/db.py".into(), 2));
    assert_eq!(loc(&shifty["to"]), ("src/db.py".into(), 5));
    assert_eq!(change(&d, "control", "prepared")["change"], "moved");

    // Changed attributes, field by field.
    let db = change(&d, "component", "db");
    assert_eq!(db["change"], "changed");
    assert_eq!(
        db["fields"],
        serde_json::json!([{ "field": "owner", "old": "alice", "new": "bob" }])
    );
    let sqli = change(&d, "threat", "sqli");
    assert_eq!(sqli["change"], "changed");
    let fields: BTreeMap<&str, (&Value, &Value)> = sqli["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| (f["field"].as_str().expect("field"), (&f["old"], &f["new"])))
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields["likelihood"].0, "possible");
    assert_eq!(fields["likelihood"].1, "likely");
    assert_eq!(fields["impact"].1, "major");
    // Changed in place: where it is, but no `from`.
    assert_eq!(loc(&sqli["to"]), ("src/api.rs".into(), 3));
    assert!(sqli.get("from").is_none());

    // Mitigations gained and lost.
    assert_eq!(
        change(&d, "mitigation", "api/sqli/prepared")["change"],
        "added"
    );
    assert_eq!(
        change(&d, "mitigation", "api/xss/escaping")["change"],
        "removed"
    );

    // Status, risk, crossings.
    let status: BTreeMap<&str, (Option<&str>, Option<&str>)> = d["status"]
        .as_array()
        .expect("status")
        .iter()
        .map(|s| {
            (
                s["threat"].as_str().expect("threat"),
                (s["from"].as_str(), s["to"].as_str()),
            )
        })
        .collect();
    assert_eq!(status["sqli"], (Some("exposed"), Some("mitigated")));
    assert_eq!(status["xss"], (Some("mitigated"), Some("exposed")));
    assert_eq!(status["brand_new"], (None, Some("open")));
    assert_eq!(status["gone"], (Some("open"), None));
    let risk: BTreeMap<&str, &Value> = d["risk"]
        .as_array()
        .expect("risk")
        .iter()
        .map(|r| (r["threat"].as_str().expect("threat"), r))
        .collect();
    assert_eq!(risk["sqli"]["direction"], "up");
    assert_eq!(risk["sqli"]["from_band"], "medium");
    assert_eq!(risk["sqli"]["to_band"], "high");
    assert_eq!(risk["xss"]["direction"], "down");
    assert_eq!(risk["xss"]["to_score"], 2);
    let crossings = d["new_crossings"].as_array().expect("new_crossings");
    assert_eq!(crossings.len(), 2);
    let admin = crossings
        .iter()
        .find(|c| c["target"] == "admin")
        .expect("crossing to admin");
    assert_eq!(admin["guarded"], false);
    assert_eq!(admin["crosses"], serde_json::json!(["dmz"]));
    assert_eq!(loc(&admin["location"]), ("src/api.rs".into(), 13));

    let s = &d["summary"];
    for (key, n) in [
        ("mitigations_gained", 1),
        ("mitigations_lost", 1),
        ("newly_exposed", 1),
        ("newly_mitigated", 1),
        ("risk_up", 1),
        ("risk_down", 1),
        ("new_crossings", 2),
        ("new_unguarded_crossings", 1),
    ] {
        assert_eq!(s[key], n, "summary.{key} in {s:#}");
    }

    // BASE..HEAD is the same as BASE HEAD.
    assert_eq!(
        repo.stdout(&["diff", "--format", "json", "HEAD~1..HEAD"]),
        repo.stdout(&["diff", "--format", "json", "HEAD~1", "HEAD"])
    );
}

#[test]
fn diff_text_and_markdown() {
    let repo = diff_repo();
    let text = repo.stdout(&["diff", "HEAD~1..HEAD"]);
    assert!(!text.contains('\u{1b}'), "NO_COLOR: no escapes\n{text}");
    let first = text.lines().next().expect("a summary line");
    assert!(
        first.starts_with("threat model diff HEAD~1 -> HEAD: "),
        "{first}"
    );
    assert!(first.contains("1 mitigation lost"), "{first}");
    for expected in [
        "+ threat brand_new `Brand new` at src/api.rs:11",
        "- threat gone `Gone` (was at src/api.rs:4)",
        "> threat wanderer moved src/api.rs:5 -> src/other.py:1",
        "> threat renamed moved src/old_name.py:1 -> src/new_name.py:1",
        "~ component db `Db`",
        "    owner: \"alice\" -> \"bob\"",
        "+ mitigation api/sqli/prepared",
        "- mitigation api/xss/escaping",
        "status sqli `SQL injection`: exposed -> mitigated",
        "status xss `XSS`: mitigated -> exposed",
        "risk sqli `SQL injection`: 9 medium -> 16 high",
        "risk xss `XSS`: 16 high -> 2 very-low",
        "new boundary crossing browser -> admin (crosses dmz), UNGUARDED at src/api.rs:13",
        "new boundary crossing browser -> api (crosses dmz) at src/api.rs:10",
        "annotations only moved within their files",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    // Line shifts are noise in the text output.
    for hidden in [
        "shifty",
        "control prepared",
        "control escaping",
        "exposure api/sqli",
    ] {
        assert!(!text.contains(hidden), "`{hidden}` shown in\n{text}");
    }

    let md = repo.stdout(&["diff", "--format", "markdown", "HEAD~1", "HEAD"]);
    let first = md.lines().next().expect("a summary line");
    assert!(first.starts_with("### Threat model: "), "{first}");
    assert!(first.contains("1 mitigation gained"), "{first}");
    assert!(md.contains("`HEAD~1` → `HEAD`"), "{md}");
    assert!(md.contains("<details><summary>"), "{md}");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    for expected in [
        "**Needs attention**",
        ":x: mitigation lost: api against xss with escaping",
        "new **unguarded** boundary crossing `browser` → `admin`",
        "| ➕ | threat | `brand_new` | Brand new | src/api.rs:11 |",
        "| ↪️ | threat | `wanderer` | Wanderer | src/api.rs:5 → src/other.py:1 |",
        "- **SQL injection** (`sqli`): exposed → mitigated",
    ] {
        assert!(md.contains(expected), "missing `{expected}` in\n{md}");
    }
    // A changed element says where it is.
    let sqli_row = md
        .lines()
        .find(|l| l.contains("| `sqli` |"))
        .expect("sqli row");
    assert!(sqli_row.ends_with("| src/api.rs:3 |"), "{sqli_row}");
    assert!(!md.contains("shifty"), "{md}");
}

#[test]
fn diff_of_nothing_and_of_line_shifts_only() {
    let repo = Repo::new();
    repo.write("a.py", "# @threat A (#a)\n# @threat B (#b)\n");
    repo.commit("one");
    let text = repo.stdout(&["diff", "HEAD", "HEAD"]);
    assert!(text.contains("no change to the threat model"), "{text}");

    repo.write("a.py", "\n\n# @threat A (#a)\n# @threat B (#b)\n");
    repo.commit("shift");
    let text = repo.stdout(&["diff", "HEAD~1", "HEAD"]);
    assert!(
        text.contains("only annotations moved within their files"),
        "{text}"
    );
    assert!(!text.contains("threat a"), "{text}");
    let d = repo.json(&["diff", "--format", "json", "HEAD~1", "HEAD"]);
    assert_eq!(d["summary"]["moved"], 2);
    assert_eq!(d["changes"].as_array().map(Vec::len), Some(2));
}

#[test]
fn diff_two_model_files_outside_any_repository() {
    let repo = diff_repo();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let base = repo.stdout(&["scan", "--rev", "HEAD~1", "."]);
    let head = repo.stdout(&["scan", "--rev", "HEAD", "."]);
    fs::write(elsewhere.path().join("base.json"), &base).expect("write");
    fs::write(elsewhere.path().join("head.json"), &head).expect("write");

    let from_files = run({
        let mut c = tm_in(elsewhere.path());
        c.args(["diff", "--format", "json", "base.json", "head.json"]);
        c
    });
    assert_eq!(from_files.code, 0, "{}", from_files.stderr);
    let d = parse(&from_files.stdout);
    assert_eq!(d["base"], "base.json");
    assert_eq!(d["head"], "head.json");
    let from_revs = repo.json(&["diff", "--format", "json", "HEAD~1", "HEAD"]);
    // The same diff as between the revisions, but for the labels.
    for key in ["summary", "changes", "status", "risk", "new_crossings"] {
        assert_eq!(d[key], from_revs[key], "{key}");
    }

    // One model file against the work tree (an empty folder here), by a path with `..` in it.
    let sub = elsewhere.path().join("sub");
    fs::create_dir(&sub).expect("mkdir");
    let out = run({
        let mut c = tm_in(&sub);
        c.args(["diff", "--format", "json", "../base.json"]);
        c
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d = parse(&out.stdout);
    assert_eq!(d["base"], "../base.json");
    assert_eq!(d["head"], "work tree");
    assert_eq!(change(&d, "threat", "gone")["change"], "removed");

    // A file that is not a model is an error.
    fs::write(elsewhere.path().join("junk.json"), "[1, 2]").expect("write");
    let out = run({
        let mut c = tm_in(elsewhere.path());
        c.args(["diff", "junk.json", "head.json"]);
        c
    });
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("junk.json"), "{}", out.stderr);
}

#[test]
fn diff_against_the_work_tree() {
    let repo = diff_repo();
    repo.write("src/new.py", "# @threat Uncommitted (#uncommitted)\n");
    repo.remove("src/other.py");
    let d = repo.json(&["diff", "--format", "json", "HEAD"]);
    assert_eq!(d["base"], "HEAD");
    assert_eq!(d["head"], "work tree");
    assert_eq!(change(&d, "threat", "uncommitted")["change"], "added");
    assert_eq!(change(&d, "threat", "wanderer")["change"], "removed");
    assert_eq!(d["changes"].as_array().map(Vec::len), Some(2), "{d:#}");

    // -C from anywhere.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let repo_arg = repo.path().to_str().expect("utf-8 path");
    let out = run({
        let mut c = tm_in(elsewhere.path());
        c.args(["diff", "-C", repo_arg, "--format", "json", "HEAD"]);
        c
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(parse(&out.stdout)["changes"], d["changes"]);
}

#[test]
fn diff_defaults_to_the_merge_base_with_main() {
    let repo = Repo::new();
    repo.write("threatmark.toml", "[project]\nname = \"demo\"\n");
    repo.write("a.py", "# @threat Shared (#shared)\n");
    let fork = repo.commit("shared");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("f.py", "# @threat Feature (#feature)\n");
    repo.commit("feature work");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("m.py", "# @threat Main only (#main_only)\n");
    repo.commit("main moves on");
    repo.git(&["checkout", "-q", "feature"]);
    repo.write("w.py", "# @threat Work in progress (#wip)\n");

    let d = repo.json(&["diff", "--format", "json"]);
    assert_eq!(d["base"], fork.as_str(), "merge-base(main, HEAD)");
    assert_eq!(d["head"], "work tree");
    assert_eq!(change(&d, "threat", "feature")["change"], "added");
    assert_eq!(change(&d, "threat", "wip")["change"], "added");
    // What main did since the fork is not this branch's change.
    assert_eq!(d["changes"].as_array().map(Vec::len), Some(2), "{d:#}");
    let text = repo.stdout(&["diff"]);
    assert!(
        // The text names the base as git does (7 digits); the JSON above keeps the full id.
        text.starts_with(&format!(
            "threat model diff {} -> work tree: 2 added",
            &fork[..7]
        )),
        "{text}"
    );

    // BASE...HEAD: from the merge base, as in git.
    let d = repo.json(&["diff", "--format", "json", "main...feature"]);
    assert_eq!(d["base"], fork.as_str());
    assert_eq!(d["head"], "feature");
    assert_eq!(change(&d, "threat", "feature")["change"], "added");
    assert_eq!(d["changes"].as_array().map(Vec::len), Some(1), "{d:#}");

    // No default branch at all: an error that says what to do.
    repo.git(&["branch", "-q", "-m", "main", "trunk"]);
    let out = repo.expect(&["diff"], 2);
    assert!(
        out.stderr.contains("name a base revision"),
        "{}",
        out.stderr
    );
}

#[test]
fn diff_argument_errors_exit_two() {
    let repo = diff_repo();
    for args in [
        &["diff", "HEAD.."][..],
        &["diff", "..HEAD"],
        &["diff", "...HEAD"],
        &["diff", "nope...HEAD"],
        &["diff", "a", "b", "c"],
        &["diff", "no-such-rev", "HEAD"],
        &["diff", "--format", "yaml", "HEAD"],
    ] {
        repo.expect(args, 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing is written
// ---------------------------------------------------------------------------------------------

/// Every file under `.git`, with its bytes, but for threatmark's own parse cache
/// (`.git/threatmark/`), which is the one thing it may write there.
fn git_dir_snapshot(repo: &Repo) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path == root.join("threatmark") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
                out.insert(rel, fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    let root = repo.path().join(".git");
    walk(&root, &root, &mut out);
    out
}

#[test]
fn diff_and_scan_rev_leave_the_work_tree_and_index_alone() {
    let repo = diff_repo();
    // A dirty work tree: a staged change, an unstaged change, an untracked file.
    repo.write("src/staged.py", "# @threat Staged (#staged)\n");
    repo.git(&["add", "src/staged.py"]);
    repo.write("src/db.py", "# @component Db (#db) [owner: carol]\n");
    repo.write("src/untracked.py", "# @threat Untracked (#untracked)\n");

    let status = repo.status();
    assert!(status.contains("A  src/staged.py"), "{status}");
    let index = fs::read(repo.path().join(".git/index")).expect("index");
    let git_dir = git_dir_snapshot(&repo);

    repo.expect(&["scan", "--rev", "HEAD", "."], 0);
    repo.expect(&["scan", "--rev", "HEAD~1", "-j", "1", "."], 0);
    repo.expect(&["diff", "HEAD~1", "HEAD"], 0);
    repo.expect(&["diff", "--format", "markdown", "HEAD~1..HEAD"], 0);
    repo.expect(&["diff", "--format", "json", "HEAD~1"], 0);
    repo.expect(&["diff"], 0);
    // No threatmodel.json was ever written, so the stale-model policy fails: exit 1, no write.
    repo.expect(&["check", "--base", "HEAD~1", "--format", "json"], 1);

    assert_eq!(repo.status(), status, "git status changed");
    assert_eq!(
        fs::read(repo.path().join(".git/index")).expect("index"),
        index,
        "the index was rewritten"
    );
    let after = git_dir_snapshot(&repo);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        git_dir.keys().collect::<Vec<_>>(),
        "files appeared in or vanished from .git"
    );
    assert!(after == git_dir, "a file in .git changed");
}

// ---------------------------------------------------------------------------------------------
// A broken repository
// ---------------------------------------------------------------------------------------------

fn overwrite_object(repo: &Repo, id: &str, bytes: &[u8]) {
    let path = repo
        .path()
        .join(".git/objects")
        .join(&id[..2])
        .join(&id[2..]);
    let mut perms = fs::metadata(&path).expect("loose object").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).expect("chmod");
    fs::write(&path, bytes).expect("overwrite object");
}

#[test]
fn a_corrupt_object_fails_cleanly_with_exit_two() {
    let repo = Repo::new();
    repo.write("src/a.py", "# @threat A (#a)\n");
    repo.write("src/b.py", "# @threat B (#b)\n");
    repo.commit("one");
    let blob = repo.rev("HEAD:src/a.py");
    overwrite_object(&repo, &blob, b"this is not a zlib stream");
    // Edited in the work tree: `diff BASE` reads only the blobs of the files that differ from
    // the work tree (an unchanged file takes the work tree's outcome).
    repo.write("src/a.py", "# @threat A, edited (#a)\n");

    for args in [
        &["scan", "--rev", "HEAD", "."][..],
        &["diff", "HEAD"],
        &["check", "--base", "HEAD", "--allow-stale"],
    ] {
        let out = repo.expect(args, 2);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("corrupt") && out.stderr.contains(&blob),
            "{args:?}: {}",
            out.stderr
        );
    }
    // The work tree is fine: scanning it does not touch the object database.
    repo.expect(&["scan", "--format", "json", "."], 0);

    // A tree object that is cut short.
    let tree = repo.rev("HEAD:src");
    overwrite_object(&repo, &tree, &[0x78, 0x9c, 0x01]);
    let out = repo.expect(&["scan", "--rev", "HEAD", "."], 2);
    assert!(out.stderr.contains(&tree), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

/// A repository that passes every policy: a mitigated high threat, the model committed.
fn checked_repo() -> Repo {
    let repo = Repo::new();
    repo.write("threatmark.toml", "[project]\nname = \"demo\"\n");
    repo.write(
        "src/api.py",
        "# @component Api (#api) in #dmz\n# @boundary DMZ (#dmz)\n\
         # @threat SQL injection (#sqli) [likelihood: likely; impact: major]\n\
         # @control Prepared statements (#prepared)\n\
         # @mitigates #api against #sqli with #prepared\n",
    );
    rescan(&repo);
    repo.commit("model");
    repo
}

/// Bring threatmodel.json up to date with the work tree.
fn rescan(repo: &Repo) {
    repo.expect(&["scan", "-q", "."], 0);
}

fn append(repo: &Repo, rel: &str, text: &str) {
    let path = repo.path().join(rel);
    let mut old = fs::read_to_string(&path).unwrap_or_default();
    old.push_str(text);
    fs::write(path, old).expect("append");
}

#[test]
fn check_passes_on_a_clean_repository() {
    let repo = checked_repo();
    let out = repo.expect(&["check"], 0);
    assert!(
        out.stdout.starts_with("threatmark check: passed\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("error["), "{}", out.stderr);
    let report = parse(&repo.expect(&["check", "--format", "json"], 0).stdout);
    assert_eq!(report["passed"], true);
    for p in [
        "new-unmitigated",
        "errors",
        "expired-acceptances",
        "unguarded-crossings",
        "stale-model",
    ] {
        assert_eq!(policy_state(&report, p), "passed", "{p}");
    }
}

#[test]
fn check_fails_on_a_new_high_exposure_against_the_base() {
    let repo = checked_repo();
    repo.write(
        "src/xss.py",
        "# @threat XSS (#xss) [likelihood: likely; impact: major]\n# @exposes #api to #xss\n",
    );
    rescan(&repo);

    let out = repo.expect(&["check", "--base", "main"], 1);
    assert!(
        out.stdout
            .starts_with("threatmark check: FAILED (1 of 5 policies)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("FAIL new-unmitigated (at or above high, against main)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("src/xss.py:2:3: `api` is exposed to `XSS`")
    );
    assert!(out.stderr.contains("error[TM101]"), "{}", out.stderr);
    let report = parse(
        &repo
            .expect(&["check", "--base", "main", "--format", "json"], 1)
            .stdout,
    );
    assert_eq!(report["passed"], false);
    assert_eq!(policy_state(&report, "new-unmitigated"), "failed");
    assert_eq!(
        report["policies"][0]["violations"][0]["location"]["path"],
        "src/xss.py"
    );
    // The default base is merge-base(main, HEAD): here HEAD itself.
    repo.expect(&["check"], 1);
    repo.expect(&["check", "--base", "main", "--fail-on", "medium"], 1);

    // Switched off, or a band the exposure does not reach: passes, and says nothing on stderr.
    let out = repo.expect(&["check", "--base", "main", "--fail-on", "none"], 0);
    assert!(
        out.stdout.contains("off  new-unmitigated"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("TM101"), "{}", out.stderr);
    repo.expect(&["check", "--base", "main", "--fail-on", "critical"], 0);
    repo.expect(&["check", "--base", "main", "--fail-on", "severe"], 2);

    // Once committed, the exposure is no longer new against HEAD.
    repo.commit("expose");
    repo.expect(&["check", "--base", "HEAD"], 0);
    repo.expect(&["check", "--base", "HEAD~1"], 1);
}

#[test]
fn check_fails_on_error_diagnostics() {
    let repo = checked_repo();
    append(
        &repo,
        "src/api.py",
        "# @mitigates #api against #sqlii with #prepared\n",
    );
    rescan(&repo);
    let out = repo.expect(&["check"], 1);
    assert!(out.stdout.contains("FAIL errors"), "{}", out.stdout);
    assert!(out.stdout.contains("(1 of 5 policies)"), "{}", out.stdout);
    assert!(out.stdout.contains("TM003"), "{}", out.stdout);
    assert!(out.stderr.contains("error[TM003]"), "{}", out.stderr);

    let out = repo.expect(&["check", "--allow-errors"], 0);
    assert!(out.stdout.contains("off  errors"), "{}", out.stdout);
    assert!(!out.stderr.contains("error["), "{}", out.stderr);
}

#[test]
fn check_fails_on_an_expired_acceptance() {
    let repo = checked_repo();
    append(
        &repo,
        "src/api.py",
        "# @threat Legacy TLS (#legacy_tls) [likelihood: rare; impact: minor]\n\
         # @accepts #legacy_tls to #api with old clients [expires: 2025-01-31; ticket: SEC-1]\n",
    );
    rescan(&repo);
    let out = repo.expect(&["check", "--today", "2025-06-01"], 1);
    assert!(
        out.stdout.contains("FAIL expired-acceptances"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("expired on 2025-01-31 (ticket: SEC-1)"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("TM104"), "{}", out.stderr);
    repo.expect(&["check", "--today", "2025-01-30"], 0);
    let out = repo.expect(&["check", "--today", "2025-06-01", "--allow-expired"], 0);
    assert!(!out.stderr.contains("TM104"), "{}", out.stderr);
    repo.expect(&["check", "--today", "2025-02-30"], 2);
    repo.expect(&["check", "--today", "tomorrow"], 2);
}

#[test]
fn check_fails_on_an_unguarded_crossing() {
    let repo = checked_repo();
    repo.write(
        "src/admin.py",
        "# @component Admin (#admin) in #dmz\n# @connects Browser to #admin with HTTP\n",
    );
    rescan(&repo);
    let out = repo.expect(&["check"], 1);
    assert!(
        out.stdout.contains("FAIL unguarded-crossings"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("src/admin.py:2:3: flow `HTTP`"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("TM102"), "{}", out.stderr);
    let out = repo.expect(&["check", "--allow-unguarded"], 0);
    assert!(!out.stderr.contains("TM102"), "{}", out.stderr);
    // A crossing whose end has a control is guarded.
    repo.write(
        "src/admin.py",
        "# @component Admin (#admin) in #dmz\n# @connects Browser to #admin with HTTP\n\
         # @mitigates #admin against #sqli with #prepared\n",
    );
    rescan(&repo);
    repo.expect(&["check"], 0);
}

#[test]
fn check_fails_on_a_stale_or_missing_model() {
    let repo = checked_repo();
    append(&repo, "src/api.py", "# @threat Unrecorded (#unrecorded)\n");
    let out = repo.expect(&["check"], 1);
    assert!(out.stdout.contains("FAIL stale-model"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("threatmodel.json differs from what the code yields"),
        "{}",
        out.stdout
    );
    repo.expect(&["check", "--allow-stale"], 0);
    rescan(&repo);
    repo.expect(&["check"], 0);

    repo.remove("threatmodel.json");
    let out = repo.expect(&["check"], 1);
    assert!(
        out.stdout.contains("threatmodel.json is missing"),
        "{}",
        out.stdout
    );
    repo.expect(&["check", "--allow-stale"], 0);
}

#[test]
fn check_errors_exit_two() {
    let repo = checked_repo();
    let out = repo.expect(&["check", "--base", "no-such-rev"], 2);
    assert!(out.stderr.contains("no-such-rev"), "{}", out.stderr);

    // Not a repository: no base, so the gate fails closed (exit 2) unless that is allowed
    // (the policy is then skipped); `--base` is an error.
    let plain = tempfile::tempdir().expect("tempdir");
    fs::write(
        plain.path().join("a.py"),
        "# @threat A (#a) [likelihood: rare; impact: minor]\n",
    )
    .expect("write");
    let scan = run({
        let mut c = tm_in(plain.path());
        c.args(["scan", "-q", "."]);
        c
    });
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let out = run({
        let mut c = tm_in(plain.path());
        c.arg("check");
        c
    });
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no base revision"), "{}", out.stderr);
    let out = run({
        let mut c = tm_in(plain.path());
        c.args(["check", "--allow-missing-base"]);
        c
    });
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("skip new-unmitigated"),
        "{}",
        out.stdout
    );
    let out = run({
        let mut c = tm_in(plain.path());
        c.args(["check", "--base", "HEAD"]);
        c
    });
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not inside a git repository"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// SARIF
// ---------------------------------------------------------------------------------------------

fn sarif_of(repo: &Repo, out_dir: &Path, name: &str, code: i32) -> Value {
    let file = out_dir.join(name);
    let file_arg = file.to_str().expect("utf-8 path");
    let out = repo.expect(
        &[
            "check",
            "--base",
            "main",
            "--today",
            "2025-06-01",
            "--format",
            "sarif",
            "-o",
            file_arg,
        ],
        code,
    );
    assert!(out.stdout.is_empty(), "-o writes the file only");
    let log = parse(&fs::read_to_string(&file).expect("SARIF file"));
    assert_valid_sarif(&log);
    log
}

/// `(ruleId, fingerprints)` → `(uri, line)` of every result.
fn results_by_fingerprint(log: &Value) -> BTreeMap<(String, String), (String, u64)> {
    let run = &log["runs"][0];
    let mut out = BTreeMap::new();
    for r in run["results"].as_array().expect("results") {
        let physical = &r["locations"][0]["physicalLocation"];
        let key = (
            r["ruleId"].as_str().expect("ruleId").to_string(),
            r["partialFingerprints"].to_string(),
        );
        let at = (
            physical["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            physical["region"]["startLine"].as_u64().unwrap_or(0),
        );
        assert!(out.insert(key.clone(), at).is_none(), "duplicate {key:?}");
    }
    out
}

#[test]
fn check_sarif_is_valid_and_its_fingerprints_survive_moves() {
    let repo = checked_repo();
    repo.write(
        "src/xss.py",
        "# @threat XSS (#xss) [likelihood: likely; impact: major]\n# @exposes #api to #xss\n",
    );
    repo.write(
        "src/admin.py",
        "# @component Admin (#admin) in #dmz\n# @connects Browser to #admin with HTTP\n\
         # @mitigates #ghost against #xsss with #prepared\n\
         # @threat Legacy TLS (#legacy_tls) [likelihood: rare; impact: minor]\n\
         # @accepts #legacy_tls to #admin with old clients [expires: 2025-01-31]\n",
    );
    rescan(&repo);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let log = sarif_of(&repo, out_dir.path(), "before.sarif", 1);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "threatmark");

    // One rule per code, and every result points at its rule.
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("rule id"))
        .collect();
    let unique: BTreeSet<&str> = rules.iter().copied().collect();
    assert_eq!(unique.len(), rules.len(), "duplicate rules: {rules:?}");
    let results = run["results"].as_array().expect("results");
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules.get(index), Some(&id), "ruleIndex of {r}");
        // Results sit at a file and a line.
        let physical = &r["locations"][0]["physicalLocation"];
        assert!(
            physical["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("src/")),
            "{r}"
        );
        assert!(physical["region"]["startLine"].as_u64() >= Some(1), "{r}");
    }
    let used: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().expect("ruleId"))
        .collect();
    for code in ["TM003", "TM101", "TM102", "TM104"] {
        assert!(used.contains(code), "no {code} result in {used:?}");
    }
    let exposure = results
        .iter()
        .find(|r| r["ruleId"] == "TM101")
        .expect("TM101");
    assert_eq!(exposure["level"], "error");
    let region = &exposure["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 2);

    // Move every annotation: down within its file, and to another file.
    let xss = fs::read_to_string(repo.path().join("src/xss.py")).expect("read");
    repo.write("src/xss.py", format!("\n\n\n{xss}"));
    let admin = fs::read_to_string(repo.path().join("src/admin.py")).expect("read");
    repo.remove("src/admin.py");
    repo.write("src/zz/admin.py", format!("# moved\n\n{admin}"));
    rescan(&repo);
    let moved = sarif_of(&repo, out_dir.path(), "after.sarif", 1);

    let (before, after) = (results_by_fingerprint(&log), results_by_fingerprint(&moved));
    // The element-based fingerprints are the same; only the places changed.
    let keys = |m: &BTreeMap<(String, String), (String, u64)>| -> BTreeSet<(String, String)> {
        m.keys()
            .filter(|(_, f)| f.contains("threatmarkElements"))
            .cloned()
            .collect()
    };
    assert_eq!(keys(&before), keys(&after));
    assert!(!keys(&before).is_empty());
    let tm101 = |m: &BTreeMap<(String, String), (String, u64)>| {
        m.iter()
            .find(|((rule, _), _)| rule == "TM101")
            .map(|(k, v)| (k.clone(), v.clone()))
            .expect("TM101")
    };
    let (k1, at1) = tm101(&before);
    let (k2, at2) = tm101(&after);
    assert_eq!(k1, k2, "the TM101 fingerprint moved with the line");
    assert_eq!(at1, ("src/xss.py".into(), 2));
    assert_eq!(at2, ("src/xss.py".into(), 5));
    let tm102 = |m: &BTreeMap<(String, String), (String, u64)>| {
        m.iter()
            .find(|((rule, _), _)| rule == "TM102")
            .map(|(k, v)| (k.clone(), v.clone()))
            .expect("TM102")
    };
    let ((_, f1), _) = tm102(&before);
    let ((_, f2), at) = tm102(&after);
    assert_eq!(f1, f2);
    assert_eq!(at, ("src/zz/admin.py".into(), 4));
}

#[test]
fn check_sarif_with_a_failed_policy_is_valid() {
    let repo = checked_repo();
    append(&repo, "src/api.py", "# @threat Unrecorded (#unrecorded)\n");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let log = sarif_of(&repo, out_dir.path(), "stale.sarif", 1);
    let run = &log["runs"][0];
    let rule = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "policy/stale-model")
        .expect("a rule for the failed policy");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    let result = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "policy/stale-model")
        .expect("a result for the failed policy");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "threatmodel.json"
    );

    // Also with the model missing altogether, and on stdout.
    repo.remove("threatmodel.json");
    let out = repo.expect(&["check", "--format", "sarif"], 1);
    assert_valid_sarif(&parse(&out.stdout));
}

// ---------------------------------------------------------------------------------------------
// Snapshots: a revision scan that follows the change equals a full scan
// ---------------------------------------------------------------------------------------------

/// Each commit changes the tree in another way: edits, additions, deletions, a rename, a binary
/// file, a file that becomes a folder, a new ignore rule, a new configuration. Scanned in order
/// with snapshots (each scan starts from the previous one's), every model and every diagnostic
/// must equal a full scan of the same commit.
#[test]
fn scans_that_follow_snapshots_equal_full_scans() {
    let repo = path_rules_repo();
    let mut commits = vec![repo.rev("HEAD")];
    repo.write("src/main.rs", "// @component Api (#api) in #dmz\n// @boundary DMZ (#dmz)\n// @threat Injection (#sqli)\n// @exposes #api to #sqli with raw queries\nfn main() {}\n");
    repo.write(
        "lib/new.py",
        "# @threat New (#new)\n# @mitigates #api against #nope with #missing\n",
    );
    repo.remove("lib/ok.py");
    commits.push(repo.commit("edit, add, delete"));
    repo.git(&["mv", "src/keep.tmp.py", "src/moved.py"]);
    repo.write("src/blob.rs", b"\0\x01binary @threat");
    commits.push(repo.commit("rename and a binary file"));
    repo.remove("lib/new.py");
    repo.write("lib/new.py/inner.py", "# @threat Inner (#inner)\n");
    commits.push(repo.commit("a file becomes a folder"));
    repo.write("lib/.gitignore", "new.py/\n");
    commits.push(repo.commit("a new ignore rule"));
    repo.write(
        "threatmark.toml",
        "[project]\nname = \"renamed\"\n\n[scan]\nexclude = [\"src/moved.py\"]\n",
    );
    commits.push(repo.commit("a new configuration"));
    repo.write("docs/more.py", "# @threat More (#more)\n");
    commits.push(repo.commit("after the configuration change"));

    for (i, commit) in commits.iter().enumerate() {
        let followed = repo.expect(&["scan", "-q", "--rev", commit, "--format", "json"], 0);
        let mut full = repo.tm();
        full.env("THREATMARK_NO_CACHE", "1")
            .args(["scan", "-q", "--rev", commit, "--format", "json"]);
        let full = run(full);
        assert_eq!(full.code, 0, "{}", full.stderr);
        assert_eq!(followed.stdout, full.stdout, "model of commit {i}");
        assert_eq!(followed.stderr, full.stderr, "diagnostics of commit {i}");
    }
    let snapshots = repo.path().join(".git/threatmark/snapshots");
    let saved = fs::read_dir(&snapshots)
        .expect("snapshots were saved")
        .count();
    assert!((1..=8).contains(&saved), "{saved} snapshots");

    // And backwards, and a diff, from the snapshots now on disk.
    for commit in commits.iter().rev() {
        let followed = repo.expect(&["scan", "-q", "--rev", commit, "--format", "json"], 0);
        let mut full = repo.tm();
        full.env("THREATMARK_NO_CACHE", "1")
            .args(["scan", "-q", "--rev", commit, "--format", "json"]);
        assert_eq!(followed.stdout, run(full).stdout);
    }
    let range = format!("{}..{}", commits[0], commits[commits.len() - 1]);
    let followed = repo.expect(&["diff", &range, "--format", "json"], 0);
    let mut full = repo.tm();
    full.env("THREATMARK_NO_CACHE", "1")
        .args(["diff", &range, "--format", "json"]);
    assert_eq!(followed.stdout, run(full).stdout);
}

/// A damaged snapshot is never trusted: the scan reads the tree instead.
#[test]
fn a_damaged_snapshot_is_ignored() {
    let repo = path_rules_repo();
    let head = repo.rev("HEAD");
    let expected = repo.stdout(&["scan", "--rev", &head, "--format", "json"]);
    let dir = repo.path().join(".git/threatmark/snapshots");
    for entry in fs::read_dir(&dir).expect("snapshots") {
        let path = entry.expect("entry").path();
        let mut bytes = fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        fs::write(&path, bytes).expect("write");
    }
    assert_eq!(
        repo.stdout(&["scan", "--rev", &head, "--format", "json"]),
        expected
    );
}

/// The scan of `commit` with every cache switched off: what any cached scan must equal.
fn uncached(repo: &Repo, args: &[&str]) -> Output {
    let mut full = repo.tm();
    full.env("THREATMARK_NO_CACHE", "1").args(args);
    run(full)
}

/// Snapshots saved as deltas: a chain of small commits leaves one full snapshot and deltas of
/// it, and every scan and diff that starts from them equals a scan without snapshots. A delta
/// whose full snapshot is gone, or a damaged record, is never trusted.
#[test]
fn delta_snapshots_equal_full_scans() {
    let repo = path_rules_repo();
    let mut commits = vec![repo.rev("HEAD")];
    repo.expect(&["scan", "-q", "--rev", &commits[0], "--format", "json"], 0);
    for i in 0..4 {
        repo.write(
            &format!("src/step{i}.rs"),
            format!("// @threat Step {i} (#step{i})\n// @exposes #api to #step{i}\n"),
        );
        if i == 2 {
            repo.remove("src/step0.rs");
        }
        commits.push(repo.commit(&format!("step {i}")));
        // Each scan follows the previous revision's snapshot.
        let followed = repo.expect(
            &["scan", "-q", "--rev", &commits[i + 1], "--format", "json"],
            0,
        );
        let full = uncached(
            &repo,
            &["scan", "-q", "--rev", &commits[i + 1], "--format", "json"],
        );
        assert_eq!(followed.stdout, full.stdout, "model of step {i}");
        assert_eq!(followed.stderr, full.stderr, "diagnostics of step {i}");
    }
    let dir = repo.path().join(".git/threatmark/snapshots");
    let mut sizes: Vec<u64> = fs::read_dir(&dir)
        .expect("snapshots")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .collect();
    sizes.sort();
    assert_eq!(
        sizes.len(),
        commits.len(),
        "one snapshot per revision: {sizes:?}"
    );
    assert!(
        sizes[0] < sizes[sizes.len() - 1],
        "the later ones are deltas, smaller than the full one: {sizes:?}"
    );

    // From the snapshots on disk, in another order, and the diffs between them.
    for commit in commits.iter().rev() {
        let args = ["scan", "-q", "--rev", commit, "--format", "json"];
        assert_eq!(repo.expect(&args, 0).stdout, uncached(&repo, &args).stdout);
    }
    for pair in commits.windows(2) {
        let range = format!("{}..{}", pair[0], pair[1]);
        let args = ["diff", &range, "--format", "json"];
        assert_eq!(repo.expect(&args, 0).stdout, uncached(&repo, &args).stdout);
    }

    // A flipped byte in a delta's last record: its checksum fails when the record is read, and
    // the revision is read again from the tree.
    let full = fs::read_dir(&dir)
        .expect("snapshots")
        .map(|e| e.expect("entry").path())
        .max_by_key(|p| fs::metadata(p).expect("metadata").len())
        .expect("a full snapshot");
    for entry in fs::read_dir(&dir).expect("snapshots") {
        let path = entry.expect("entry").path();
        if path != full {
            let mut bytes = fs::read(&path).expect("read");
            let at = bytes.len() - 3;
            bytes[at] ^= 0x01;
            fs::write(&path, bytes).expect("write");
        }
    }
    for commit in &commits {
        let args = ["scan", "-q", "--rev", commit, "--format", "json"];
        assert_eq!(repo.expect(&args, 0).stdout, uncached(&repo, &args).stdout);
    }

    // Without the full snapshot the deltas are useless: the scans read the trees instead.
    fs::remove_file(&full).expect("remove");
    for commit in &commits {
        let args = ["scan", "-q", "--rev", commit, "--format", "json"];
        assert_eq!(repo.expect(&args, 0).stdout, uncached(&repo, &args).stdout);
    }
}

/// A commit that changes no annotation gives an empty diff without building a model, the same
/// one a full computation gives; one that changes an annotation anywhere is seen.
#[test]
fn diff_of_a_change_that_touches_no_annotation() {
    let repo = path_rules_repo();
    let base = repo.rev("HEAD");
    repo.expect(&["scan", "-q", "--rev", &base, "--format", "json"], 0);
    // Code changes, a new file without annotations, an edit below an annotation.
    repo.write("src/plain.rs", "fn plain() {}\n");
    repo.write(
        "src/main.rs",
        format!(
            "{}\nfn more() {{}}\n",
            fs::read_to_string(repo.path().join("src/main.rs")).expect("read")
        ),
    );
    let quiet = repo.commit("code only");
    let range = format!("{base}..{quiet}");
    let args = ["diff", &range, "--format", "json"];
    let fast = repo.expect(&args, 0);
    assert_eq!(fast.stdout, uncached(&repo, &args).stdout);
    let d = parse(&fast.stdout);
    assert_eq!(
        d["changes"].as_array().map(Vec::len),
        Some(0),
        "{}",
        fast.stdout
    );

    // The same kind of commit, but one annotation gains an attribute.
    repo.write(
        "lib/ok.py",
        "# @threat Library (#library) [likelihood: likely]\n",
    );
    let loud = repo.commit("an annotation changes");
    let range = format!("{quiet}..{loud}");
    let args = ["diff", &range, "--format", "json"];
    let slow = repo.expect(&args, 0);
    assert_eq!(slow.stdout, uncached(&repo, &args).stdout);
    let d = parse(&slow.stdout);
    assert_eq!(
        d["changes"].as_array().map(Vec::len),
        Some(1),
        "{}",
        slow.stdout
    );
}

/// A GuardLink project at a revision is read from the files GuardLink reads, as in the work
/// tree: its `.guardlink/config.json` in the commit decides, and a test fixture that redeclares
/// a threat is not read.
#[test]
fn scan_rev_of_a_guardlink_project_reads_what_guardlink_reads() {
    let repo = Repo::new();
    repo.write(
        ".guardlink/config.json",
        r#"{"project": "desk", "include": ["**/*.ts"]}"#,
    );
    repo.write(
        ".guardlink/definitions.ts",
        "// @asset Desk.Api (#api)\n// @threat Spoofing (#spoof) [P1]\n",
    );
    repo.write("src/api.ts", "// @exposes #api to #spoof [high]\n");
    repo.write("tools/job.py", "# @asset Desk.Job (#job)\n");
    repo.write(
        "tests/fixture.ts",
        "// @threat Spoofing (#spoof) [low]\n// @asset Only.In.Tests (#fixture)\n",
    );
    repo.write(
        ".guardlink/annotations/tests/api.test.ts.gal",
        "@source file:tests/api.test.ts line:1\n@audit #api -- \"reviewed\"\n",
    );
    repo.commit("guardlink project");
    let worktree = repo.stdout(&["scan", "--format", "json", "."]);
    let rev = repo.stdout(&["scan", "--rev", "HEAD", "."]);
    assert_eq!(worktree, rev, "scan --rev HEAD differs from the work tree");
    let model = parse(&rev);
    assert_eq!(model["project"]["name"], "desk");
    assert_eq!(ids(&model, "components"), set(&["api", "job"]));
    assert_eq!(
        ids(&model, "reviews").len(),
        1,
        "the sidecar under tests/ is read"
    );
    let spoof = model["threats"]
        .as_array()
        .and_then(|l| l.iter().find(|t| t["id"] == "spoof"))
        .expect("spoof");
    assert_eq!(
        spoof["severity"], "high",
        "the fixture's redeclaration is not read"
    );
}

// @tests #proven_same for #scanner
/// `diff BASE` with no snapshot (a fresh clone): the base is built from the work tree's
/// outcomes where the index proves a file unchanged, and only the other blobs are read. Against
/// every commit of a history of renames, deletions, ignore-rule, configuration and attribute
/// changes, with uncommitted edits, an untracked file and an untracked `.threatmarkignore`, it
/// prints what the full computation prints; and it does not read the unchanged blobs (one of
/// them is deleted from the object database, which fails the full computation).
#[test]
fn diff_in_a_fresh_clone_reads_only_what_changed_and_equals_the_full_diff() {
    let repo = path_rules_repo();
    let mut commits = vec![repo.rev("HEAD")];
    repo.write("src/main.rs", "// @component Api (#api) in #dmz\n// @boundary DMZ (#dmz)\n// @threat Injection (#sqli)\n// @exposes #api to #sqli with raw queries\nfn main() {}\n");
    repo.write(
        "lib/new.py",
        "# @threat New (#new)\n# @mitigates #api against #nope with #missing\n",
    );
    repo.remove("lib/ok.py");
    commits.push(repo.commit("edit, add, delete"));
    repo.git(&["mv", "src/keep.tmp.py", "src/moved.py"]);
    repo.write("src/blob.rs", b"\0\x01binary @threat");
    commits.push(repo.commit("rename and a binary file"));
    repo.write("lib/.threatmarkignore", "new.py\n");
    commits.push(repo.commit("a new ignore rule"));
    repo.write(".gitattributes", "*.crlf.py text eol=crlf\n");
    repo.write(
        "src/w.crlf.py",
        "# @threat Line ends (#crlf)\n# @exposes #api to #crlf\n",
    );
    commits.push(repo.commit("line ends converted at checkout"));
    repo.write(
        "threatmark.toml",
        "[project]\nname = \"renamed\"\n\n[scan]\nexclude = [\"src/moved.py\"]\n",
    );
    commits.push(repo.commit("a new configuration"));
    repo.write("docs/more.py", "# @threat More (#more)\n");
    commits.push(repo.commit("after the configuration change"));
    // The checkout converts the line ends of the attributed file, as a clone would.
    repo.remove("src/w.crlf.py");
    repo.git(&["checkout", "--", "src/w.crlf.py"]);
    // Not committed: an edit, a new file.
    repo.write("docs/more.py", "# @threat More, edited (#more)\n");
    repo.write("src/untracked.py", "# @threat Untracked (#untracked)\n");
    // The index written after every file, as at the end of a clone (no racy entries).
    std::thread::sleep(std::time::Duration::from_millis(100));
    repo.git(&["update-index", "--index-version", "4"]);

    let diff = |base: &str, full: bool| {
        let _ = fs::remove_dir_all(repo.path().join(".git/threatmark"));
        let mut cmd = repo.tm();
        if full {
            cmd.env("THREATMARK_DIFF_FULL", "1");
        }
        cmd.args(["diff", base, "--format", "json"]);
        run(cmd)
    };
    let same = |base: &str, what: &str| {
        let full = diff(base, true);
        let fast = diff(base, false);
        assert_eq!(full.code, 0, "{}", full.stderr);
        assert_eq!(fast.code, full.code, "{what}: {}", fast.stderr);
        assert_eq!(fast.stdout, full.stdout, "{what}");
        assert_eq!(fast.stderr, full.stderr, "{what}");
        full.stdout
    };
    for (i, commit) in commits.iter().enumerate() {
        same(commit, &format!("diff of commit {i}"));
    }
    // An unchanged file, gone from the object database: the full computation
    // reads it, the fast one takes the work tree's outcome. (Without line-end attributes:
    // with them, the size of every blob is looked up.)
    repo.git(&["rm", "-q", ".gitattributes", "src/w.crlf.py"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    repo.git(&["update-index", "--index-version", "2"]);
    // The last commit: the configuration and ignore files are the work tree's.
    let last = &commits[commits.len() - 1];
    let expected = same(last, "before the object is removed");
    repo.remove_object(&format!("{}:.hidden.py", last));
    assert_eq!(diff(last, true).code, 2, "the full diff reads every blob");
    let fast = diff(last, false);
    assert_eq!(fast.code, 0, "{}", fast.stderr);
    assert_eq!(fast.stdout, expected);

    // An untracked ignore file changes what the work-tree walk reads: the base is read in full.
    repo.write("lib/generated/.threatmarkignore", "x.py\n");
    assert_eq!(diff(last, false).code, 2, "every blob read");
}

// @tests #proven_same for #scanner
/// `diff BASE` with no snapshot probes every folder of BASE's tree for a `.threatmarkignore`
/// the revision does not have, on several threads when there are many folders: an untracked one
/// in the last folder (the last thread's share) still makes the base read in full.
#[test]
fn diff_in_a_fresh_clone_probes_every_folder_for_an_untracked_ignore_file() {
    let repo = Repo::new();
    repo.write("a.py", "# @threat A (#a)\n");
    for i in 0..600 {
        repo.write(&format!("d{i:03}/f.py"), format!("x = {i}\n"));
    }
    let base = repo.commit("many folders");
    repo.write("a.py", "# @threat A, edited (#a)\n");
    std::thread::sleep(std::time::Duration::from_millis(100));
    // The index written after every file, as at the end of a clone (no racy entries).
    repo.git(&["update-index", "--index-version", "4"]);
    let diff = |full: bool| {
        let _ = fs::remove_dir_all(repo.path().join(".git/threatmark"));
        let mut cmd = repo.tm();
        if full {
            cmd.env("THREATMARK_DIFF_FULL", "1");
        }
        cmd.args(["diff", &base, "--format", "json", "-j", "4"]);
        run(cmd)
    };
    let expected = diff(true);
    assert_eq!(expected.code, 0, "{}", expected.stderr);
    // An unchanged file's blob, gone: only a diff that takes the work tree's outcome succeeds.
    repo.remove_object(&format!("{base}:d000/f.py"));
    let fast = diff(false);
    assert_eq!(fast.code, 0, "{}", fast.stderr);
    assert_eq!(fast.stdout, expected.stdout);
    repo.write("d599/.threatmarkignore", "f.py\n");
    assert_eq!(diff(false).code, 2, "every blob read");
}

/// `diff A..B` with no snapshot (a fresh clone): when the files that differ between the two
/// trees hold the same annotations on both sides, the models are equal and nothing else is
/// read. Over every pair of a history (edits that touch no annotation, a renamed annotated file,
/// ignore-rule and configuration changes, a binary file), it prints what the full computation
/// prints; and an unchanged blob gone from the object database does not stop it.
#[test]
fn diff_of_two_revisions_without_snapshots_reads_only_the_changed_files() {
    let repo = path_rules_repo();
    let mut commits = vec![repo.rev("HEAD")];
    append(&repo, "src/main.rs", "// a comment, no annotation\n");
    append(&repo, "lib/ok.py", "\n");
    commits.push(repo.commit("no annotation touched"));
    repo.git(&["mv", "lib/ok.py", "lib/renamed.py"]);
    commits.push(repo.commit("an annotated file renamed"));
    repo.write("src/blob.rs", b"\0\x01binary @threat");
    append(&repo, ".hidden.py", "x = 1\n");
    commits.push(repo.commit("a binary file, and an edit after an annotation"));
    repo.write("lib/.threatmarkignore", "renamed.py\n");
    commits.push(repo.commit("a new ignore rule"));
    repo.write(
        "threatmark.toml",
        "[project]\nname = \"renamed\"\n\n[scan]\nexclude = [\"src/main.rs\"]\n",
    );
    commits.push(repo.commit("a new configuration"));
    repo.write("docs/more.py", "# @threat More (#more)\n");
    commits.push(repo.commit("a new annotation"));

    let diff = |a: &str, b: &str, full: bool| {
        let _ = fs::remove_dir_all(repo.path().join(".git/threatmark"));
        let mut cmd = repo.tm();
        if full {
            cmd.env("THREATMARK_DIFF_FULL", "1");
        }
        cmd.args(["diff", &format!("{a}..{b}"), "--format", "json"]);
        run(cmd)
    };
    for (i, a) in commits.iter().enumerate() {
        for (j, b) in commits.iter().enumerate() {
            let full = diff(a, b, true);
            let fast = diff(a, b, false);
            assert_eq!(full.code, 0, "{}", full.stderr);
            assert_eq!(fast.code, 0, "{i}..{j}: {}", fast.stderr);
            assert_eq!(fast.stdout, full.stdout, "{i}..{j}");
            assert_eq!(fast.stderr, full.stderr, "{i}..{j}");
        }
    }
    // An unchanged file's blob, gone: the full computation reads it, the change does not.
    let expected = diff(&commits[0], &commits[1], true).stdout;
    repo.remove_object(&format!("{}:.github/workflows/ci.yml", commits[0]));
    assert_eq!(
        diff(&commits[0], &commits[1], true).code,
        2,
        "every blob read"
    );
    let fast = diff(&commits[0], &commits[1], false);
    assert_eq!(fast.code, 0, "{}", fast.stderr);
    assert_eq!(fast.stdout, expected);
}

/// `diff A..B` with no snapshot reads each changed path's folders' `.threatmarkignore`s (looked
/// up once per folder, below its parent, for every folder of the change at once). An edited
/// annotation in a file that a nested ignore file excludes leaves the model as it is, and the
/// change proves it without building a model; the same edit in a folder beside it, where a
/// file of the same name is not ignored, is a change in the model. Either way the output is
/// the full computation's.
#[test]
fn diff_without_snapshots_applies_the_ignore_files_of_each_changed_folder() {
    let repo = Repo::new();
    repo.write("a/b/.threatmarkignore", "x.py\n");
    repo.write("a/.threatmarkignore", "deep/\n");
    for folder in ["a/b", "a/c", "a/b/d", "a/deep/e", "z"] {
        repo.write(
            &format!("{folder}/x.py"),
            format!("# @threat In {folder} (#t_{})\n", folder.replace('/', "_")),
        );
    }
    let first = repo.commit("ignore files at two depths");
    for folder in ["a/b", "a/deep/e"] {
        repo.write(&format!("{folder}/x.py"), "# @threat Edited (#edited)\n");
    }
    let ignored_only = repo.commit("annotations edited in ignored files only");
    repo.write("a/c/x.py", "# @threat Edited beside (#beside)\n");
    let beside = repo.commit("the same edit beside them");
    let diff = |a: &str, b: &str, full: bool| {
        let _ = fs::remove_dir_all(repo.path().join(".git/threatmark"));
        let mut cmd = repo.tm();
        cmd.env("THREATMARK_TIMINGS", "1");
        if full {
            cmd.env("THREATMARK_DIFF_FULL", "1");
        }
        cmd.args(["diff", &format!("{a}..{b}"), "--format", "json"]);
        run(cmd)
    };
    for (a, b, proved_same) in [
        (&first, &ignored_only, true),
        (&ignored_only, &beside, false),
        (&first, &beside, false),
    ] {
        let (full, fast) = (diff(a, b, true), diff(a, b, false));
        assert_eq!(fast.code, 0, "{}", fast.stderr);
        assert_eq!(fast.stdout, full.stdout, "{a}..{b}");
        // A changed annotation found means both models were built.
        assert_eq!(
            !fast.stderr.contains("a changed annotation found")
                && !fast.stderr.contains("model built"),
            proved_same,
            "{a}..{b}: {}",
            fast.stderr
        );
    }
}
