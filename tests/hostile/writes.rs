//! Hostile suite: writes never go where they can hurt (issue 14, first section).
//!
//! The pull request is the attacker: its threatmark.toml, threatspec.yaml, template folder and
//! any file it plants in an output folder are hostile. No output may land inside a git
//! directory (a hook there runs on the next `git commit`), a file we write never keeps an old
//! file's exec bit, `site` deletes only pages it wrote itself and that nobody changed since,
//! and configured imports and templates are read only from inside the repository, only from
//! regular files, and only up to a size limit.

#[allow(unused_imports)]
use super::*;

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    fs::metadata(p).expect("meta").permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

const HOOK: &str = "#!/bin/sh\necho the original hook\n";

/// A git repository with one commit and an executable `pre-commit` hook.
#[cfg(unix)]
fn hooked_repo() -> tempfile::TempDir {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.go", "// @threat A (#a)\npackage a\n");
    git(root, &["init", "-q"]);
    commit_all(root, "one");
    write(root, ".git/hooks/pre-commit", HOOK);
    set_mode(&root.join(".git/hooks/pre-commit"), 0o755);
    dir
}

/// The run was refused with exit 2 and a message that names the path and says why.
fn refused(out: &Run, what: &str, shown: &str) {
    assert_eq!(out.code, 2, "{what}: exit {}:\n{}", out.code, out.stderr);
    assert!(
        out.stderr.contains("git directory") && out.stderr.contains(shown),
        "{what}: the message must name {shown:?} and the git directory:\n{}",
        out.stderr
    );
}

/// `[scan] output = ".git/hooks/pre-commit"` replaced the executable hook (keeping its exec
/// bit), so the next `git commit` ran text from the pull request. Every command that writes a
/// file refuses a path inside a git directory, however it is spelled or reached.
// @tests #no_git_dir_writes for #writer
#[cfg(unix)]
#[test]
fn no_output_lands_in_a_git_directory() {
    let dir = hooked_repo();
    let root = dir.path();
    let hook = root.join(".git/hooks/pre-commit");
    let unchanged = |what: &str| {
        assert_eq!(fs::read_to_string(&hook).expect("hook"), HOOK, "{what}");
        assert_eq!(mode(&hook), 0o755, "{what}");
    };

    // From the repository's own configuration.
    for output in [
        ".git/hooks/pre-commit",
        "./.git/hooks/pre-commit",
        "sub/../.git/hooks/pre-commit",
        ".GIT/hooks/pre-commit",
        ".Git/config",
        ".git",
    ] {
        write(
            root,
            "threatmark.toml",
            format!("[project]\nname = \"hostile\"\n[scan]\noutput = {output:?}\n"),
        );
        let out = run(tm_in(root).args(["scan", "-q"]));
        refused(&out, output, output);
        unchanged(output);
        assert!(!root.join(".GIT").exists() && !root.join(".Git").exists());
    }
    write(root, "threatmark.toml", "[project]\nname = \"hostile\"\n");

    // From the command line, in every command that writes.
    let model = root.join("model.json");
    assert_eq!(
        run(tm_in(root).args(["scan", "-q", "-o", "model.json"])).code,
        0
    );
    write(root, "ts/threatmodel/threatmodel.json", "{}");
    let target = ".git/hooks/pre-commit";
    let model_arg = model.to_string_lossy().into_owned();
    let commands: Vec<Vec<&str>> = vec![
        vec!["scan", "-q", "-o", target],
        vec!["scan", "-q", "--output", target],
        vec!["check", "--base", "HEAD", "-o", target],
        vec!["report", "--out", target],
        vec!["report", "-o", target],
        vec!["export", "--format", "otm", "--out", target],
        vec!["export", "--format", "otm", "-o", target],
        vec!["merge", &model_arg, "--out", target],
        vec!["import", "threatspec", "ts", "--out", target],
        vec!["templates", "export", ".git/hooks"],
        vec!["init", ".git"],
        vec!["init", ".git/hooks", "--force"],
        vec!["site", "--out", ".git/hooks"],
        vec!["site", "--force", "--out", ".git"],
        vec!["site", "--out", ".git/site"],
    ];
    for args in &commands {
        let out = run(tm_in(root).args(args));
        refused(&out, &format!("{args:?}"), ".git");
        unchanged(&format!("{args:?}"));
    }
    assert!(!root.join(".git/hooks/index.html").exists());
    assert!(!root.join(".git/site").exists());
    assert!(!root.join(".git/threatmark.toml").exists());
    assert!(!root.join(".git/hooks/report.md.hbs").exists());

    // Through a link to the hooks folder, and to the git directory itself.
    symlink(root.join(".git/hooks"), root.join("hooks"));
    symlink(root.join(".git"), root.join("gitdir"));
    for target in [
        "hooks/pre-commit",
        "gitdir/hooks/pre-commit",
        "gitdir/new/x.json",
    ] {
        let out = run(tm_in(root).args(["scan", "-q", "-o", target]));
        refused(&out, target, target);
        unchanged(target);
        write(
            root,
            "threatmark.toml",
            format!("[project]\nname = \"hostile\"\n[scan]\noutput = {target:?}\n"),
        );
        let out = run(tm_in(root).args(["scan", "-q"]));
        refused(&out, target, target);
        unchanged(target);
        write(root, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    }
    assert!(!root.join(".git/new").exists());

    // Ordinary outputs still work, and so do threatmark's own caches under .git/threatmark.
    let out = run(tm_in(root)
        .env_remove("THREATMARK_NO_CACHE")
        .args(["scan", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(root.join("threatmodel.json").is_file());
    assert!(root.join(".git/threatmark").is_dir());
    let out = run(tm_in(root).args(["report", "--out", "docs/.gitkeep-report.md"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// The real git directory is protected wherever it lives: a `.git` gitfile pointing elsewhere
/// (`git init --separate-git-dir`, worktrees, submodules), `GIT_DIR`, a bare repository. None
/// of these paths has a `.git` component.
// @tests #no_git_dir_writes for #writer
#[cfg(unix)]
#[test]
fn the_real_git_directory_is_protected_wherever_it_is() {
    let outer = tempfile::tempdir().expect("tempdir");
    let work = outer.path().join("work");
    let store = outer.path().join("store");
    fs::create_dir_all(&work).expect("mkdir");
    write(&work, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    write(&work, "a.go", "// @threat A (#a)\npackage a\n");
    git(
        &work,
        &["init", "-q", "--separate-git-dir", &store.to_string_lossy()],
    );
    assert!(work.join(".git").is_file(), "a gitfile");
    write(&store, "hooks/pre-commit", HOOK);
    set_mode(&store.join("hooks/pre-commit"), 0o755);

    let hook = store.join("hooks/pre-commit");
    let hook_arg = hook.to_string_lossy().into_owned();
    for args in [
        vec!["scan", "-q", "-o", hook_arg.as_str()],
        vec!["report", "--out", hook_arg.as_str()],
        vec!["scan", "-q", "-o", "../store/hooks/pre-commit"],
        vec!["scan", "-q", "-o", "../store/config"],
        vec!["scan", "-q", "-o", "../store/new/folder/x.json"],
    ] {
        let out = run(tm_in(&work).args(&args));
        refused(&out, &format!("{args:?}"), "store");
        assert_eq!(fs::read_to_string(&hook).expect("hook"), HOOK);
        assert_eq!(mode(&hook), 0o755);
    }
    assert!(!store.join("new").exists());

    // A bare repository named by GIT_DIR (no `.git` in its name).
    let bare = outer.path().join("bare");
    git(outer.path(), &["init", "-q", "--bare", "bare"]);
    let out = run(tm_in(&work)
        .env("GIT_DIR", &bare)
        .args(["scan", "-q", "-o"])
        .arg(bare.join("hooks/post-checkout")));
    refused(&out, "GIT_DIR", "bare");
    assert!(!bare.join("hooks/post-checkout").exists());

    // A linked worktree: its own git dir and the common dir are both refused.
    commit_all(&work, "one");
    let linked = outer.path().join("linked");
    git(&work, &["worktree", "add", "-q", &linked.to_string_lossy()]);
    let private = store.join("worktrees/linked");
    assert!(private.is_dir());
    for target in [private.join("hooks-x"), store.join("info/exclude")] {
        let out = run(tm_in(&linked).args(["scan", "-q", "-o"]).arg(&target));
        refused(&out, &target.display().to_string(), "store");
    }
    // Next to the git directory is fine.
    let out = run(tm_in(&work)
        .args(["scan", "-q", "-o"])
        .arg(outer.path().join("model.json")));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `sh -c 'umask U; exec threatmark ARGS'` in `dir`, so the test controls the umask.
#[cfg(unix)]
fn tm_umask(dir: &Path, umask: &str, args: &[&str]) -> Run {
    let mut sh = std::process::Command::new("sh");
    isolate(&mut sh);
    let mut cmd = Command::from_std(sh);
    cmd.current_dir(dir)
        .timeout(HANG)
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args);
    run(&mut cmd)
}

/// A file we write gets 0644 less the umask, whatever the file it replaces had: an executable
/// target stayed executable, and a file with unchanged contents was not even touched.
// @tests #ordinary_mode for #writer
#[cfg(unix)]
#[test]
fn a_replaced_file_never_keeps_an_old_mode() {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.go", "// @threat A (#a)\npackage a\n");
    let model = root.join("model.json");
    let cases = [
        ("022", 0o755, 0o644),
        ("022", 0o4777, 0o644),
        ("077", 0o755, 0o600),
        ("002", 0o700, 0o644),
    ];
    for (umask, old, want) in cases {
        // Different contents, then the very contents the scan writes.
        for same in [false, true] {
            if !same {
                fs::write(&model, "#!/bin/sh\necho planted\n").expect("write");
            }
            set_mode(&model, old);
            let out = tm_umask(root, umask, &["scan", "-q", "-o", "model.json"]);
            assert_eq!(out.code, 0, "{}", out.stderr);
            assert_eq!(
                mode(&model),
                want,
                "umask {umask}, old mode {old:o}, same contents {same}"
            );
        }
    }
    // Every writer goes through the same function: report, export, init, templates export.
    for (args, file) in [
        (&["report", "--out", "r.md"][..], "r.md"),
        (&["export", "--format", "otm", "-o", "o.json"][..], "o.json"),
        (&["init", "fresh", "--force"][..], "fresh/threatmark.toml"),
        (
            &["templates", "export", "tpl", "--force"][..],
            "tpl/style.css",
        ),
    ] {
        let p = root.join(file);
        write(root, file, "old");
        set_mode(&p, 0o775);
        let out = tm_umask(root, "022", args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(mode(&p), 0o644, "{args:?}");
    }
}

/// Lines of a site manifest (the format threatmark writes): `<sha256>  <path>`.
fn manifest_line(root: &Path, rel: &str) -> String {
    use sha2::{Digest, Sha256};
    let bytes = fs::read(root.join(rel)).expect("read");
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hash}  {rel}\n")
}

const MARKER_HEADER: &str = "# threatmark site: files written by `threatmark site`\n";

/// A marker planted in the repository's `docs/` folder (which CI then publishes with
/// `threatmark site --out docs`) listed `CNAME` and a deploy script, and the next run deleted
/// them. Only pages threatmark writes, listed with the hash of the very bytes on disk, are ever
/// deleted; a manifest entry that leaves the folder or passes through a link is ignored; and a
/// file the manifest does not vouch for is never overwritten without `--force`.
// @tests #site_manifest for #cli
#[cfg(unix)]
#[test]
fn a_planted_site_marker_deletes_and_replaces_nothing() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("repo");
    write(&root, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    write(&root, "a.go", "// @threat A (#a)\npackage a\n");
    let docs = root.join("docs");
    let precious = [
        ("CNAME", "threat.example.com\n"),
        ("deploy.sh", "#!/bin/sh\nrsync . prod:\n"),
        ("scripts/app.js", "console.log('mine')\n"),
        ("threats/notes.txt", "hand-written\n"),
        ("_config.yml", "theme: x\n"),
    ];
    for (p, text) in precious {
        write(&docs, p, text);
    }
    write(outer.path(), "outside.html", "outside\n");
    fs::create_dir_all(outer.path().join("linked")).expect("mkdir");
    write(outer.path(), "linked/page.html", "linked\n");
    symlink(outer.path().join("linked"), docs.join("components"));

    // The old format (paths only) and the new one (with the right hashes), both planted.
    for hashed in [false, true] {
        let _ = fs::remove_dir_all(docs.join("threats"));
        let _ = fs::remove_file(docs.join("index.html"));
        for (p, text) in precious {
            write(&docs, p, text);
        }
        let mut marker = String::from(MARKER_HEADER);
        for (p, _) in precious {
            marker.push_str(&if hashed {
                manifest_line(&docs, p)
            } else {
                format!("{p}\n")
            });
        }
        // Entries that leave the folder, or pass through a link, with the hash of the file
        // they would reach.
        for (p, real) in [
            ("../outside.html", "outside.html"),
            ("components/page.html", "linked/page.html"),
        ] {
            let line = manifest_line(outer.path(), real);
            let hash = line.split_whitespace().next().unwrap_or_default();
            marker.push_str(&if hashed {
                format!("{hash}  {p}\n")
            } else {
                format!("{p}\n")
            });
        }
        marker.push_str("/etc/hostname\n");
        write(&docs, ".threatmark-site", &marker);
        let out = run(tm_in(&root).args(["site", "--out", "docs"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        for (p, text) in precious {
            assert_eq!(
                fs::read_to_string(docs.join(p)).ok().as_deref(),
                Some(text),
                "{p} (hashed manifest: {hashed})"
            );
        }
        assert!(outer.path().join("outside.html").is_file());
        assert!(outer.path().join("linked/page.html").is_file());
        assert!(docs.join("threats/a.html").is_file());
    }
    // A run on our own manifest keeps them too.
    let out = run(tm_in(&root).args(["site", "--out", "docs"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (p, text) in precious {
        assert_eq!(fs::read_to_string(docs.join(p)).expect(p), text, "{p}");
    }

    // A hand-written page the marker does not vouch for is not replaced without --force.
    let other = root.join("other");
    write(&other, "index.html", "<p>my landing page</p>\n");
    write(&other, ".threatmark-site", MARKER_HEADER);
    let out = run(tm_in(&root).args(["site", "--out", "other"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("index.html"), "{}", out.stderr);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(other.join("index.html")).expect("kept"),
        "<p>my landing page</p>\n"
    );
    assert!(!other.join("threats").exists(), "nothing written");
    let out = run(tm_in(&root).args(["site", "--force", "--out", "other"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(other.join("threats/a.html").is_file());
}

/// A page threatmark wrote is deleted when its element goes away, but only while it still
/// holds the bytes threatmark wrote: an edited page is kept, and the run says so by name.
// @tests #site_manifest for #cli
#[test]
fn site_deletes_only_unchanged_pages_it_wrote() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "a.go",
        "// @threat A (#a)\n// @threat B (#b)\n// @threat C (#c)\npackage a\n",
    );
    let out = run(tm_in(root).args(["site", "--out", "site"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let site = root.join("site");
    for p in ["threats/a.html", "threats/b.html", "threats/c.html"] {
        assert!(site.join(p).is_file(), "{p}");
    }
    let marker = fs::read_to_string(site.join(".threatmark-site")).expect("marker");
    assert!(
        marker.contains(&manifest_line(&site, "threats/b.html")),
        "the manifest records a hash per file:\n{marker}"
    );
    write(&site, "threats/b.html", "<p>my notes on B</p>\n");
    write(root, "a.go", "// @threat A (#a)\npackage a\n");
    let out = run(tm_in(root).args(["site", "--out", "site"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !site.join("threats/c.html").exists(),
        "unchanged stale page"
    );
    assert_eq!(
        fs::read_to_string(site.join("threats/b.html")).expect("kept"),
        "<p>my notes on B</p>\n"
    );
    assert!(
        out.stderr.contains("threats/b.html") && out.stderr.contains("changed"),
        "{}",
        out.stderr
    );
    // The kept page is no longer ours: a later run neither deletes it nor lists it.
    let out = run(tm_in(root).args(["site", "--out", "site"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(site.join("threats/b.html").is_file());
    let marker = fs::read_to_string(site.join(".threatmark-site")).expect("marker");
    assert!(!marker.contains("threats/b.html"), "{marker}");
}

/// A shell wrapper that caps the address space, so that a regression that reads an endless
/// file fails fast instead of eating the machine.
#[cfg(target_os = "linux")]
fn tm_capped(dir: &Path, args: &[&str]) -> Run {
    let mut sh = std::process::Command::new("sh");
    isolate(&mut sh);
    let mut cmd = Command::from_std(sh);
    cmd.current_dir(dir)
        .timeout(HANG)
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args);
    run(&mut cmd)
}

/// A threatspec.yaml (the configuration when there is no threatmark.toml) names `imports`:
/// `/proc/self/pagemap` read 3 GB in 3 s, and a model outside the repository was merged into
/// ours. Imports are confined to the scan root after resolving links, regular files only, and
/// at most `max_file_size` bytes, refused by name with exit 2 before any byte is read.
// @tests #confined_inputs for #cli
#[cfg(target_os = "linux")]
#[test]
fn threatspec_imports_stay_in_the_repository_and_are_bounded() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("app");
    write(&root, "main.py", "# @threat Mine (#mine)\n");
    let with_imports = |list: &str| {
        write(
            &root,
            "threatspec.yaml",
            format!("project:\n  name: app\n  description: ''\nimports:\n{list}paths:\n  - './'\n"),
        );
    };
    // A model outside the repository that would add a threat.
    write(
        outer.path(),
        "libsrc/a.py",
        "# @threat Planted (#planted)\n",
    );
    let (made, _) = scan(&outer.path().join("libsrc"), &[]);
    let foreign = made.stdout.as_str();
    write(outer.path(), "lib/threatmodel.json", foreign);
    symlink(outer.path().join("lib"), root.join("linked"));
    symlink(
        outer.path().join("lib/threatmodel.json"),
        root.join("model-link.json"),
    );
    std::process::Command::new("mkfifo")
        .arg(root.join("pipe.json"))
        .status()
        .expect("mkfifo");
    write(&root, "big/threatmodel.json", " ".repeat(11 * 1024 * 1024));
    for (entry, shown, why) in [
        ("/proc/self/pagemap", "/proc/self/pagemap", "outside"),
        ("../lib", "lib", "outside"),
        ("../lib/threatmodel.json", "lib", "outside"),
        ("linked", "linked", "outside"),
        ("model-link.json", "model-link.json", "outside"),
        ("pipe.json", "pipe.json", "not a regular file"),
        ("/dev/zero", "/dev/zero", "outside"),
        ("big", "big/threatmodel.json", "max_file_size"),
    ] {
        with_imports(&format!("  - {entry:?}\n"));
        let started = Instant::now();
        let out = tm_capped(&root, &["scan", "--format", "json"]);
        assert_eq!(out.code, 2, "imports {entry}: {}", out.stderr);
        assert!(
            out.stderr.contains(shown) && out.stderr.contains(why),
            "imports {entry}: the message must name {shown:?} and say {why:?}:\n{}",
            out.stderr
        );
        assert!(!out.stdout.contains("planted"), "{}", out.stdout);
        assert!(started.elapsed() < Duration::from_secs(20), "{entry}");
    }
    // An import inside the repository is merged, as before.
    write(&root, "vendor/lib/threatmodel.json", foreign);
    with_imports("  - 'vendor/lib'\n");
    let (_, model) = scan(&root, &[]);
    assert!(ids(&model, "threats").contains("planted"));
}

/// `[report] templates` comes from the repository: a folder outside it (or a link out of it)
/// would render any file the user can read into a published report. Templates are confined to
/// the scan root, regular files only, at most 1 MiB, and refused by name; a folder given with
/// `--templates` on the command line may be anywhere but obeys the same file rules.
// @tests #confined_inputs for #cli
#[cfg(unix)]
#[test]
fn report_templates_stay_in_the_repository_and_are_bounded() {
    const MARKER: &str = "TEMPLATE-LEAK-7c1e";
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("repo");
    write(&root, "a.go", "// @threat A (#a)\npackage a\n");
    write(outer.path(), "theirs/report.md.hbs", MARKER);
    symlink(outer.path().join("theirs"), root.join("tpl-link"));
    write(&root, "tpl-file-link/x.txt", "");
    symlink(
        outer.path().join("theirs/report.md.hbs"),
        root.join("tpl-file-link/report.md.hbs"),
    );
    write(&root, "tpl-big/report.md.hbs", "x".repeat(2 * 1024 * 1024));
    fs::create_dir_all(root.join("tpl-fifo")).expect("mkdir");
    std::process::Command::new("mkfifo")
        .arg(root.join("tpl-fifo/report.md.hbs"))
        .status()
        .expect("mkfifo");
    let theirs = outer.path().join("theirs").to_string_lossy().into_owned();
    for (dir, shown, why) in [
        // Refused by the configuration check already, as a path.
        ("../theirs", "theirs", "scan root"),
        (theirs.as_str(), "theirs", "scan root"),
        ("/proc/self", "/proc/self", "scan root"),
        ("tpl-link", "tpl-link", "outside"),
        ("tpl-file-link", "report.md.hbs", "outside"),
        ("tpl-big", "report.md.hbs", "MiB"),
        ("tpl-fifo", "report.md.hbs", "not a regular file"),
    ] {
        write(
            &root,
            "threatmark.toml",
            format!("[project]\nname = \"hostile\"\n[report]\ntemplates = {dir:?}\n"),
        );
        let out = run(tm_in(&root).args(["report", "--format", "markdown"]));
        assert_eq!(out.code, 2, "templates = {dir:?}: {}", out.stderr);
        assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
        assert!(
            out.stderr.contains(shown) && out.stderr.contains(why),
            "templates = {dir:?}: the message must name {shown:?} and say {why:?}:\n{}",
            out.stderr
        );
    }
    // The command line is the user's own choice: anywhere, but the same file rules.
    write(&root, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    let out = run(tm_in(&root).args(["report", "--format", "markdown", "--templates", &theirs]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(MARKER));
    let out = run(tm_in(&root).args(["report", "--format", "markdown", "--templates", "tpl-big"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    // A template folder inside the repository still works.
    write(&root, "tpl/report.md.hbs", "mine: {{project.name}}");
    write(
        &root,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n[report]\ntemplates = \"tpl\"\n",
    );
    let out = run(tm_in(&root).args(["report", "--format", "markdown"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("mine: hostile"), "{}", out.stdout);
}

/// A committed `threatmodel.json` that is a link to an endless file is neither read by `check`
/// (stale, at once) nor read before `scan` replaces it (review finding: `check` spun on
/// `/dev/zero`, `scan` read 2 GB of `/proc/self/pagemap`).
#[cfg(target_os = "linux")]
#[test]
fn a_model_linked_to_an_endless_file_is_never_read() {
    for target in ["/dev/zero", "/proc/self/pagemap"] {
        let dir = repo("");
        let root = dir.path();
        write(root, "a.py", "# @threat A (#a)\n");
        std::os::unix::fs::symlink(target, root.join("threatmodel.json")).expect("symlink");
        let out = run(tm().args(["check", "--allow-missing-base", "-C"]).arg(root));
        assert_eq!(out.code, 1, "{target}: {}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("FAIL stale-model"), "{}", out.stdout);
        assert!(
            out.elapsed < Duration::from_secs(20),
            "{target}: {:?}",
            out.elapsed
        );
        let out = run(tm().args(["scan", "-q"]).arg(root));
        assert_eq!(out.code, 0, "{target}: {}", out.stderr);
        let meta = fs::symlink_metadata(root.join("threatmodel.json")).expect("meta");
        assert!(
            meta.is_file(),
            "{target}: the link is replaced by the model"
        );
        assert!(
            out.elapsed < Duration::from_secs(20),
            "{target}: {:?}",
            out.elapsed
        );
    }
}
