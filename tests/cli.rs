//! The command line as users and CI see it: exit codes, files written, determinism, and bad input
//! that must end in diagnostics rather than a crash.

use std::fs;

use predicates::prelude::*;

mod support;
use support::{git, tm, tm_in, write};

fn clean_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        "[project]\nname = \"demo\"\n",
    );
    write(
        dir.path(),
        "src/api.go",
        "package api\n\n// @component Shop:API (#api) in #dmz: public API\n// @boundary DMZ (#dmz)\n// @threat SQL injection (#sqli) [stride: T; severity: high]\n// @control Prepared statements (#prepared)\n// @mitigates #api against #sqli with #prepared\nfunc Handle() {}\n",
    );
    write(
        dir.path(),
        "web/app.ts",
        "/**\n * @connects Browser to #api with HTTPS\n * @exposes #api to XSS with unescaped output\n */\nexport const x = 1;\n",
    );
    dir
}

#[test]
fn scan_writes_the_model_and_exits_zero() {
    let repo = clean_repo();
    tm().arg("scan")
        .arg(repo.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("wrote"))
        .stderr(predicate::str::contains("2 threats"));
    let model = fs::read_to_string(repo.path().join("threatmodel.json")).expect("model");
    assert!(model.contains("\"schema_version\": 1"));
    assert!(model.contains("\"name\": \"demo\""));
    assert!(model.ends_with("}\n"));
}

#[test]
fn format_json_prints_to_stdout_and_writes_nothing() {
    let repo = clean_repo();
    tm().args(["scan", "--format", "json"])
        .arg(repo.path())
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{\n  \"schema_version\": 1"));
    assert!(!repo.path().join("threatmodel.json").exists());
}

// @tests #sorted_output for #builder
#[test]
fn output_is_identical_for_any_thread_count() {
    let repo = clean_repo();
    for i in 0..40 {
        write(
            repo.path(),
            &format!("svc{i}/main.py"),
            format!(
                "# @threat T{i} (#t{i})\n# @mitigates Svc{i} against #t{i} with C{}\n",
                i % 3
            ),
        );
    }
    let run = |threads: &str| {
        tm().args(["scan", "--format", "json", "--threads", threads])
            .arg(repo.path())
            .output()
            .expect("run")
    };
    let one = run("1");
    let two = run("2");
    let four = run("4");
    assert!(one.status.success());
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(one.stdout, four.stdout);
    // Diagnostics too; only the timing in the summary line may differ.
    let untimed = |out: &std::process::Output| -> String {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("threatmark: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(untimed(&one), untimed(&two));
}

// @tests #sorted_output for #builder
/// `scan` renders the diagnostics on a second thread while the model is serialised and written
/// (`-j1` keeps one thread): the model, the rendered diagnostics (with carets, in order) and the
/// exit code must not depend on that, and a model that cannot be written is still the error,
/// with no diagnostics printed before it.
#[test]
fn diagnostics_rendered_beside_the_model_write_are_the_same_as_on_one_thread() {
    let repo = clean_repo();
    for i in 0..60 {
        write(
            repo.path(),
            &format!("svc{i:02}/main.py"),
            format!(
                "# @mitigates #api against #sqlj{i} with #prepared\n# @mitigates #api against #t{i}\n# @threat T{i} (#t{i})\n"
            ),
        );
    }
    let out = tempfile::tempdir().expect("tempdir");
    let run = |threads: &str, args: &[&str]| {
        // One path for every run: the summary line names it.
        let model = out.path().join("model.json");
        let _ = fs::remove_file(&model);
        let run = tm()
            .args(["scan", "--strict", "--threads", threads, "-o"])
            .arg(&model)
            .args(args)
            .arg(repo.path())
            .output()
            .expect("run");
        let model = fs::read(&model).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&run.stderr)
            .lines()
            .filter(|l| !l.starts_with("threatmark: "))
            .collect::<Vec<_>>()
            .join("\n");
        (run.status.code(), run.stdout, stderr, model)
    };
    for args in [
        &[][..],
        &["--format", "json"],
        &["--output-format", "concise"],
    ] {
        let one = run("1", args);
        assert_eq!(one.0, Some(1), "{}", one.2);
        assert!(one.2.matches("TM001").count() >= 60, "{}", one.2);
        assert!(one.2.matches("TM036").count() >= 60, "{}", one.2);
        for threads in ["2", "4"] {
            let other = run(threads, args);
            let same = [
                one.0 == other.0,
                one.1 == other.1,
                one.2 == other.2,
                one.3 == other.3,
            ];
            assert_eq!(same, [true; 4], "--threads {threads} {args:?}");
        }
    }
    // A model that cannot be written: exit 2, the reason, and no diagnostics before it.
    git(repo.path(), &["init", "-q"]);
    for threads in ["1", "2"] {
        let run = tm()
            .args(["scan", "--threads", threads, "-o", ".git/model.json"])
            .current_dir(repo.path())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("git"), "{stderr}");
        assert!(!stderr.contains("TM0"), "--threads {threads}: {stderr}");
    }
}

#[test]
fn rescanning_an_unchanged_repository_is_byte_identical() {
    let repo = clean_repo();
    tm().arg("scan").arg(repo.path()).assert().success();
    let first = fs::read(repo.path().join("threatmodel.json")).expect("model");
    tm().arg("scan").arg(repo.path()).assert().success();
    let second = fs::read(repo.path().join("threatmodel.json")).expect("model");
    assert_eq!(first, second);
}

#[test]
fn strict_fails_with_one_on_errors_and_default_does_not() {
    let repo = clean_repo();
    write(
        repo.path(),
        "src/bad.rs",
        "// @mitigates #api against #sqli\nfn main() {}\n",
    );
    tm().arg("scan")
        .arg(repo.path())
        .assert()
        .code(0)
        .stderr(predicate::str::contains("error[TM001]"))
        .stderr(predicate::str::contains("src/bad.rs:1:4"));
    tm().args(["scan", "--strict"])
        .arg(repo.path())
        .assert()
        .code(1);
}

#[test]
fn diagnostics_show_a_caret_and_help() {
    let repo = clean_repo();
    write(
        repo.path(),
        "src/ref.py",
        "# @mitigates #api against #sqlj with #prepared\n",
    );
    tm().arg("scan")
        .arg(repo.path())
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "error[TM003]: undefined threat `#sqlj`",
        ))
        .stderr(predicate::str::contains("--> src/ref.py:1:"))
        .stderr(predicate::str::contains("^^^^^"))
        .stderr(predicate::str::contains("did you mean `#sqli`?"));
}

#[test]
fn usage_and_io_errors_exit_two() {
    tm().arg("no-such-command").assert().code(2);
    tm().args(["scan", "/definitely/not/here"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/definitely/not/here"));
    let repo = clean_repo();
    write(repo.path(), "threatmark.toml", "[scan]\nexclud = []\n");
    tm().arg("scan")
        .arg(repo.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exclud"));
}

#[test]
fn help_and_version_exit_zero() {
    tm().arg("--help").assert().success();
    tm().arg("--version").assert().success();
}

#[test]
fn explain_prints_the_long_text() {
    tm().args(["explain", "TM001"])
        .assert()
        .success()
        .stdout(predicate::str::contains("missing-clause"));
    tm().args(["explain", "undefined-reference"])
        .assert()
        .success()
        .stdout(predicate::str::contains("TM003"));
    tm().args(["explain", "TM999"]).assert().code(2);
}

#[test]
fn languages_lists_every_row() {
    let out = tm().arg("languages").output().expect("run");
    let text = String::from_utf8(out.stdout).expect("utf8");
    for lang in threatmark::lang::LANGUAGES {
        assert!(text.contains(lang.name), "{} missing", lang.name);
    }
    // And Threatspec's design text, read whole.
    assert!(
        text.lines()
            .any(|l| l.starts_with("text ") && l.ends_with("*.txt")),
        "{text}"
    );
}

#[test]
fn init_writes_a_config_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    tm().arg("init").arg(dir.path()).assert().success();
    assert!(dir.path().join("threatmark.toml").is_file());
    tm().arg("init").arg(dir.path()).assert().code(2);
    tm().args(["init", "--force"])
        .arg(dir.path())
        .assert()
        .success();
}

#[test]
fn debug_comments_shows_language_and_comments() {
    let repo = clean_repo();
    tm().args(["debug", "comments"])
        .arg(repo.path().join("web/app.ts"))
        .assert()
        .success()
        .stdout(predicate::str::contains("typescript (exact lexer)"))
        .stdout(predicate::str::contains(
            "@connects Browser to #api with HTTPS",
        ));
}

/// A pipe's writing end whose reader is gone before any child starts: dropping the reader
/// after spawn raced the child, which could write a short output into the pipe's buffer and
/// exit 0. Close-on-exec, so another test's child cannot inherit the reader and keep it open.
#[cfg(unix)]
fn closed_pipe() -> std::os::fd::OwnedFd {
    #[cfg(not(target_vendor = "apple"))]
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    #[cfg(target_vendor = "apple")]
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    drop(reader);
    writer
}

/// Output into a pipe that its reader closed (`threatmark … | head -1`) is an error that
/// names stdout (exit 2), never a panic with a backtrace: for every command that prints.
#[cfg(unix)]
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let repo = clean_repo();
    // More than a pipe holds, as `| head -1` would see it.
    let big: String = (0..6000)
        .map(|i| format!("# @threat T{i} (#t{i})\n"))
        .collect();
    write(repo.path(), "big.py", big.as_bytes());
    let file = repo.path().join("big.py");
    let file = file.to_str().expect("path");
    for args in [
        vec!["debug", "comments", file],
        vec!["explain", "--all"],
        vec!["schema"],
        vec!["languages"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_threatmark"))
            .args(&args)
            .stdout(std::process::Stdio::from(closed_pipe()))
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("writing to stdout"), "{args:?}: {stderr}");
    }
}

// @tests #diagnose_bad_input for #scanner
// @tests #size_limit for #scanner
// @tests #no_follow_symlinks for #walker
#[test]
fn hostile_input_ends_in_diagnostics_not_a_crash() {
    let repo = clean_repo();
    let root = repo.path();
    // Binary with a source extension.
    write(root, "bin/blob.rs", b"\x00\x01\x02// @threat Hidden\x00");
    // Invalid UTF-8 inside a comment.
    write(root, "src/latin1.py", b"# @threat Caf\xe9 (#cafe)\nx = 1\n");
    // UTF-16 with a BOM.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "# @threat Wide (#wide)\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    write(root, "src/wide.py", utf16);
    // CRLF and lone CR line endings.
    write(root, "src/crlf.js", "// @threat Crlf (#crlf)\r\nvar a;\r\n");
    write(
        root,
        "src/cr.js",
        "var a;\r// @threat Lone (#lone)\rvar b;\r",
    );
    // An unterminated block comment.
    write(
        root,
        "src/open.c",
        "int x;\n/* @threat Unclosed (#unclosed)\n",
    );
    // A file over the size limit.
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"demo\"\n[scan]\nmax_file_size = 1000\n",
    );
    write(
        root,
        "src/huge.js",
        format!("// @threat Big\n{}", "x".repeat(2000)),
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("src"), root.join("src/loop")).expect("symlink");
        write(
            root,
            "threatmark.toml",
            "[project]\nname = \"demo\"\n[scan]\nmax_file_size = 1000\nfollow_symlinks = true\n",
        );
    }

    let out = tm()
        .args(["scan", "--format", "json"])
        .arg(root)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let model = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "warning[TM020]",
        "bin/blob.rs",
        "warning[TM021]",
        "src/latin1.py",
        "warning[TM026]",
        "src/open.c:2:1",
        "warning[TM022]",
        "src/huge.js",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    #[cfg(unix)]
    assert!(stderr.contains("warning[TM024]"), "{stderr}");
    for id in [
        "\"cafe\"",
        "\"wide\"",
        "\"crlf\"",
        "\"lone\"",
        "\"unclosed\"",
    ] {
        assert!(model.contains(id), "{id} missing from the model");
    }
    assert!(
        model.contains("\"line\": 2"),
        "lone CR must count as a line break"
    );
    assert!(!model.contains("Hidden"));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_repository_are_not_followed_by_default() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(
        outside.path(),
        "secret.py",
        "# @threat Outside (#outside)\n",
    );
    let repo = clean_repo();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("link")).expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("secret.py"),
        repo.path().join("file.py"),
    )
    .expect("symlink");
    let out = tm()
        .args(["scan", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("outside"));
}

#[cfg(unix)]
#[test]
fn unreadable_folders_are_reported_and_the_scan_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let repo = clean_repo();
    write(repo.path(), "locked/x.py", "# @threat Locked\n");
    let locked = repo.path().join("locked");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    // Root can read anything; the check only means something for other users.
    let readable = fs::read_dir(&locked).is_ok();
    let out = tm()
        .args(["scan", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("run");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert!(out.status.success());
    if !readable {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("TM023") && stderr.contains("locked"),
            "{stderr}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("sqli"));
}

#[test]
fn ignore_files_and_hidden_directories() {
    let repo = clean_repo();
    write(
        repo.path(),
        ".github/workflows/ci.yml",
        "# @threat Poisoned pipeline (#ppe)\non: push\n",
    );
    write(
        repo.path(),
        ".git/hooks/pre-commit.sh",
        "# @threat In git dir (#gitdir)\n",
    );
    write(
        repo.path(),
        "vendor/lib.js",
        "// @threat Vendored (#vendored)\n",
    );
    write(
        repo.path(),
        "gen/out.js",
        "// @threat Generated (#generated)\n",
    );
    write(repo.path(), ".gitignore", "gen/\n");
    write(repo.path(), ".threatmarkignore", "vendor/\n");
    let out = tm()
        .args(["scan", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("run");
    let model = String::from_utf8_lossy(&out.stdout);
    assert!(model.contains("\"ppe\""), "hidden .github must be walked");
    assert!(!model.contains("gitdir"));
    assert!(!model.contains("vendored"));
    assert!(!model.contains("generated"));
}

#[test]
fn an_ignore_file_that_ignores_everything_gives_an_empty_model() {
    let repo = clean_repo();
    write(repo.path(), ".threatmarkignore", "*\n");
    tm().arg("scan")
        .arg(repo.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("model: empty"));
}

// Completions and man pages (issue 17): generated from the clap definition, shipped in the
// release archives by .github/scripts/package.sh.

#[test]
fn completions_are_generated_for_every_shell() {
    let marks = [
        ("bash", "complete -F _threatmark"),
        ("zsh", "#compdef threatmark"),
        ("fish", "complete -c threatmark"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[threatmark]"),
    ];
    for (shell, mark) in marks {
        let out = tm().args(["completions", shell]).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(mark), "{shell} script lacks `{mark}`");
        for sub in ["scan", "check", "analyze", "fail-on"] {
            assert!(script.contains(sub), "{shell} script lacks `{sub}`");
        }
    }
}

#[test]
fn completions_for_an_unknown_shell_are_a_usage_error() {
    tm().args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bash"));
}

#[test]
fn man_prints_the_main_page_with_every_subcommand() {
    let out = tm().arg("man").output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH threatmark 1"));
    assert!(page.contains(".SH NAME"));
    assert!(page.contains(".SH SUBCOMMANDS"));
    for sub in [
        "scan",
        "analyze",
        "diff",
        "check",
        "report",
        "site",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("threatmark\\-{sub}(1)")),
            "the page does not list `{sub}`"
        );
    }
    // Every page it refers to exists: no threatmark-help(1) (`man -o` writes none).
    assert!(!page.contains("threatmark\\-help(1)"), "{page}");
}

#[test]
fn man_output_dir_gets_one_page_per_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man1");
    tm().args(["man", "-o"]).arg(&out).assert().success();
    for page in [
        "threatmark.1",
        "threatmark-scan.1",
        "threatmark-check.1",
        "threatmark-import-threatspec.1",
        "threatmark-completions.1",
        "threatmark-man.1",
    ] {
        let text = fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        let name = page.trim_end_matches(".1");
        assert!(
            text.contains(&format!(".TH {name} 1")),
            "{page} is not titled {name}"
        );
    }
    let scan = fs::read_to_string(out.join("threatmark-scan.1")).expect("scan page");
    assert!(
        scan.contains("\\-\\-strict"),
        "the scan page documents its flags"
    );
}

#[test]
fn man_refuses_to_write_into_a_git_directory() {
    let repo = clean_repo();
    fs::create_dir_all(repo.path().join(".git/hooks")).expect("mkdir");
    tm().args(["man", "-o"])
        .arg(repo.path().join(".git/hooks/man1"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("refused"));
    assert!(!repo.path().join(".git/hooks/man1").exists());
}

/// A small app whose analysis is mostly notes (STRIDE gaps, unowned threats).
fn noisy_repo(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        format!("[project]\nname = \"noisy\"\n{config}"),
    );
    write(
        dir.path(),
        "src/app.py",
        "# @boundary Internet (#internet)\n\
         # @component Browser (#browser) in #internet [type: external]\n\
         # @component Web (#web) [type: process]\n\
         # @connects #browser to #web with HTTPS\n\
         # @threat Replay (#replay) [likelihood: likely; impact: minor]\n\
         # @exposes #web to #replay with no nonce\n",
    );
    write(
        dir.path(),
        "tests/t.py",
        "# @component Fixture (#fixture)\n# @threat Flaky (#flaky)\n",
    );
    dir
}

fn analyze(root: &std::path::Path) -> (i32, String) {
    let out = tm().arg("analyze").arg(root).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diagnostics_select_ignore_and_per_file_ignores_tame_analyze() {
    let (code, all) = analyze(noisy_repo("").path());
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("note[TM103]") && all.contains("note[TM106]"),
        "{all}"
    );
    assert!(all.contains("tests/t.py"), "{all}");
    assert!(
        !all.contains("suppressed"),
        "default output unchanged: {all}"
    );

    let (code, tamed) = analyze(
        noisy_repo(
            "[diagnostics]\nignore = [\"TM103\", \"unowned-threat\"]\nper-file-ignores = { \"tests/**\" = [\"TM1\"] }\n",
        )
        .path(),
    );
    assert_eq!(code, 0, "{tamed}");
    assert!(
        !tamed.contains("TM103") && !tamed.contains("TM106"),
        "{tamed}"
    );
    assert!(!tamed.contains("tests/t.py"), "{tamed}");
    assert!(
        tamed.contains("TM101"),
        "the exposure is still shown: {tamed}"
    );
    assert!(
        tamed.contains("diagnostics suppressed (") && tamed.contains("by [diagnostics]"),
        "{tamed}"
    );
    // Select: only the findings about exposures.
    let (_, selected) = analyze(noisy_repo("[diagnostics]\nselect = [\"TM101\"]\n").path());
    let codes: std::collections::BTreeSet<&str> = selected
        .lines()
        .filter(|l| {
            ["error[", "warning[", "note["]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .filter_map(|l| l.split_once('[').and_then(|(_, r)| r.get(..5)))
        .collect();
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        ["TM101"],
        "{selected}"
    );
    // `analyze --format json` leaves the suppressed findings out too.
    let out = tm()
        .args(["analyze", "--format", "json"])
        .arg(noisy_repo("[diagnostics]\nselect = [\"TM101\"]\n").path())
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let findings = json["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["code"] == "TM101"), "{json:#}");

    // Unknown codes in the configuration are errors that name the key.
    for (bad, key) in [
        (
            "[diagnostics]\nselect = [\"TM9\"]\n",
            "[diagnostics] select: `TM9`",
        ),
        ("[diagnostics]\nignore = [\"TM023\"]\n", "cannot be ignored"),
    ] {
        let (code, err) = analyze(noisy_repo(bad).path());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn inline_suppressions_apply_to_their_line_and_the_next_and_are_reported_when_unused() {
    let dir = noisy_repo("");
    write(
        dir.path(),
        "src/app.py",
        "# @boundary Internet (#internet)\n\
         # @component Browser (#browser) in #internet [type: external]\n\
         # threatmark: ignore[TM103] the browser is not ours\n\
         # @component Web (#web) [type: process] threatmark: ignore[TM103,TM106] reviewed\n\
         # @connects #browser to #web with HTTPS\n\
         # @threat Replay (#replay) [likelihood: likely; impact: minor]: a description\n\
         # threatmark: ignore[TM107] nothing here\n\
         # @exposes #web to #replay with no nonce\n\
         # threatmark: ignore\n",
    );
    let (code, out) = analyze(dir.path());
    assert_eq!(code, 0, "{out}");
    // Same line and line below: the STRIDE gap of `web` (line 4) is gone, that of `browser`
    // (line 2, above the comment) is not.
    assert!(!out.contains("component `web`"), "{out}");
    assert!(out.contains("component `browser`"), "{out}");
    assert!(!out.contains("src/app.py:3:"), "{out}");
    // Unused codes, and a blanket suppression, are reported.
    assert!(
        out.contains("warning[TM046]: `threatmark: ignore[TM106]` suppresses nothing"),
        "{out}"
    );
    assert!(
        out.contains("`threatmark: ignore[TM107]` suppresses nothing"),
        "{out}"
    );
    assert!(out.contains("warning[TM048]"), "{out}");
    assert!(out.contains("by `threatmark: ignore` comments"), "{out}");
    // `scan` judges comments by the findings too (it does not print them): the TM103 codes
    // hid findings, so only TM106 and TM107 are unused.
    let scanned = tm()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&scanned.stderr);
    assert_eq!(stderr.matches("warning[TM046]").count(), 2, "{stderr}");
    assert!(
        !stderr.contains("ignore[TM103]` suppresses nothing"),
        "{stderr}"
    );
    assert!(stderr.contains("warning[TM048]"), "{stderr}");
    // The directives are not part of the annotations.
    let model = tm()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let model = String::from_utf8_lossy(&model.stdout);
    assert!(!model.contains("threatmark: ignore"), "{model}");
    assert!(
        model.contains("\"description\": \"a description\""),
        "{model}"
    );
}

// ---- CLI conventions (issue 17): one spelling per idea, help everywhere, diagnostics in
// the format a tool wants, `scan FILE`, messages a person can act on.

/// Every subcommand, with its path (`templates export`).
fn subcommands(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("{path} {}", sub.get_name()).trim().to_string();
        out.push((name.clone(), sub.clone()));
        subcommands(sub, &name, out);
    }
}

#[test]
fn every_flag_has_help_and_every_subcommand_has_examples() {
    use clap::CommandFactory;
    let root = threatmark::cli::Cli::command();
    let mut all = Vec::new();
    subcommands(&root, "", &mut all);
    assert!(all.len() > 15, "{}", all.len());
    let mut missing = Vec::new();
    for (name, cmd) in &all {
        let examples = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let count = examples
            .lines()
            .filter(|l| l.trim_start().starts_with("$ threatmark "))
            .count();
        if !examples.starts_with("Examples:") || !(2..=3).contains(&count) {
            missing.push(format!("`{name}` has no 2-3 examples in its --help"));
        }
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() {
                missing.push(format!("`{name}` {} has no help text", arg.get_id()));
            }
        }
    }
    for arg in root.get_arguments() {
        let builtin = matches!(arg.get_id().as_str(), "help" | "version");
        if !builtin && arg.get_help().is_none() {
            missing.push(format!("threatmark {} has no help text", arg.get_id()));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A repository whose scan gives one diagnostic of each severity in two files.
fn diagnosed_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        "[project]\nname = \"demo\"\n",
    );
    write(
        dir.path(),
        "src/a.rs",
        "// @threat SQL injection (#sqli)\n// @component API (#api)\n// @mitigates #api against #sqli\n",
    );
    write(
        dir.path(),
        "src/b.rs",
        "// @mitigates #api against #sqli with #prepared\n// @frobnicate the api\n",
    );
    dir
}

fn stderr_of(args: &[&str], dir: &std::path::Path) -> String {
    let out = tm_in(dir).args(args).output().expect("run");
    assert!(out.status.code() == Some(0), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn output_format_prints_diagnostics_for_people_editors_and_ci() {
    let repo = diagnosed_repo();
    let scan = |format: &str| {
        stderr_of(
            &["scan", "-q", "--format", "json", "--output-format", format],
            repo.path(),
        )
    };
    insta::assert_snapshot!("scan_diagnostics_full", scan("full"));
    insta::assert_snapshot!("scan_diagnostics_concise", scan("concise"));
    insta::assert_snapshot!("scan_diagnostics_json", scan("json"));
    insta::assert_snapshot!("scan_diagnostics_github", scan("github"));
    let sarif: serde_json::Value = serde_json::from_str(&scan("sarif")).expect("SARIF");
    support::assert_valid_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().map_or(0, Vec::len);
    assert_eq!(results, scan("concise").lines().count());
    // Machine formats are only the diagnostics: no summary around them.
    assert!(!scan("json").contains("threatmark:"));
    // analyze: findings go the same way, one line each.
    let analyze = stderr_of(&["analyze", "--output-format", "concise"], repo.path());
    assert!(
        analyze
            .lines()
            .all(|l| l.contains("]") && !l.starts_with(' ')),
        "{analyze}"
    );
    assert!(analyze.contains("src/a.rs:"), "{analyze}");
}

// @tests #workflow_command_escaping for #cli
#[test]
fn github_output_cannot_be_made_to_issue_a_second_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file name and a tag that carry a newline and a command of their own.
    let name = "x\n::add-mask::secret,file=y:z%0A.js";
    write(dir.path(), name, "// @mitigates #a against #b\n");
    write(
        dir.path(),
        "ok.js",
        "// @threat T (#t)\n// @componentx\r::error::forged\n",
    );
    let out = stderr_of(&["scan", "-q", "--output-format", "github"], dir.path());
    assert!(!out.is_empty());
    for line in out.lines() {
        assert!(
            line.starts_with("::error file=")
                || line.starts_with("::warning file=")
                || line.starts_with("::notice file="),
            "a line that is not one of our commands: {line:?}\n{out}"
        );
    }
    assert!(
        out.contains("file=x%0A%3A%3Aadd-mask%3A%3Asecret%2Cfile=y%3Az%250A.js,"),
        "{out}"
    );
}

#[test]
fn repository_and_output_have_one_spelling_and_the_old_ones_still_work() {
    let repo = clean_repo();
    let root = repo.path();
    let out = root.join("out");
    // -C/--repo on scan; the positional PATH is the old spelling.
    tm().args(["scan", "-o"])
        .arg(out.join("a.json"))
        .arg("-C")
        .arg(root)
        .assert()
        .success();
    tm().args(["scan", "--output"])
        .arg(out.join("b.json"))
        .arg(root)
        .assert()
        .success();
    assert_eq!(
        fs::read(out.join("a.json")).expect("a"),
        fs::read(out.join("b.json")).expect("b")
    );
    // report -o/--output, and --out as before.
    for (flag, file) in [("-o", "r1.md"), ("--output", "r2.md"), ("--out", "r3.md")] {
        tm().args(["report", "-C"])
            .arg(root)
            .arg(flag)
            .arg(out.join(file))
            .assert()
            .success();
    }
    tm().args(["report", "--out"])
        .arg(out.join("r4.md"))
        .arg(root)
        .assert()
        .success();
    let first = fs::read(out.join("r1.md")).expect("r1");
    for file in ["r2.md", "r3.md", "r4.md"] {
        assert_eq!(first, fs::read(out.join(file)).expect(file), "{file}");
    }
    // site -o/--output and the old --out.
    for (flag, dir) in [("-o", "s1"), ("--output", "s2"), ("--out", "s3")] {
        tm().args(["site", "-C"])
            .arg(root)
            .arg(flag)
            .arg(out.join(dir))
            .assert()
            .success();
        assert!(out.join(dir).join("index.html").is_file(), "{dir}");
    }
    // export, import, merge, templates export: -o and --out.
    for (flag, file) in [("-o", "e1.json"), ("--out", "e2.json")] {
        tm().args(["export", "--format", "otm", "-C"])
            .arg(root)
            .arg(flag)
            .arg(out.join(file))
            .assert()
            .success();
        tm().args(["merge"])
            .arg(out.join("a.json"))
            .arg(flag)
            .arg(out.join(format!("m{file}")))
            .assert()
            .success();
    }
    tm().args(["templates", "export", "-o"])
        .arg(out.join("t1"))
        .assert()
        .success();
    tm().args(["templates", "export"])
        .arg(out.join("t2"))
        .assert()
        .success();
    assert!(out.join("t1").read_dir().expect("t1").count() > 0);
    // init -C and the old positional folder.
    let fresh = tempfile::tempdir().expect("tempdir");
    tm().args(["init", "-C"])
        .arg(fresh.path().join("x"))
        .assert()
        .success();
    tm().args(["init"]).arg(fresh.path()).assert().success();
    assert!(fresh.path().join("threatmark.toml").is_file());
    // Both spellings at once is a usage error, and --help shows only the new ones.
    tm().args(["scan", "-C", "."]).arg(root).assert().code(2);
    for cmd in [
        "scan", "analyze", "report", "site", "export", "init", "diff", "check", "history",
    ] {
        let help = tm().args([cmd, "--help"]).output().expect("help");
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(help.contains("-C, --repo <DIR>"), "{cmd}:\n{help}");
        assert!(!help.contains("--out "), "{cmd}:\n{help}");
    }
    for cmd in ["scan", "report", "site", "export", "check"] {
        let help = tm().args([cmd, "--help"]).output().expect("help");
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(help.contains("-o, --output <"), "{cmd}:\n{help}");
    }
}

#[test]
fn scan_file_reports_that_file_in_the_context_of_its_repository() {
    let repo = diagnosed_repo();
    let root = repo.path();
    write(
        root,
        "src/c.rs",
        "// @mitigates #api against #nowhere with #prepared\n",
    );
    // From a folder inside the repository, a path relative to it.
    let out = tm_in(&root.join("src"))
        .args(["scan", "b.rs", "--output-format", "concise"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Paths as in a full scan; only b.rs; `#sqli` and `#api`, declared in a.rs, resolve.
    assert!(stderr.contains("src/b.rs:1:39: warning[TM036]"), "{stderr}");
    assert!(!stderr.contains("src/a.rs"), "{stderr}");
    assert!(!stderr.contains("src/c.rs"), "{stderr}");
    assert!(!stderr.contains("#sqli"), "{stderr}");
    assert!(stderr.contains("in src/b.rs"), "{stderr}");
    assert!(
        !root.join("threatmodel.json").exists(),
        "scan FILE writes no model"
    );
    // --strict sees an error in a.rs only when a.rs is scanned.
    tm_in(root)
        .args(["scan", "--strict", "src/b.rs"])
        .assert()
        .success();
    tm_in(root)
        .args(["scan", "--strict", "src/a.rs"])
        .assert()
        .code(1);
    // A file no scan reads is not reported clean.
    write(root, "notes.xyz", "@threat Not read (#not_read)\n");
    let out = tm_in(root)
        .args(["scan", "notes.xyz"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes.xyz is not a file threatmark reads"),
        "{stderr}"
    );
    // A model of one file would replace the repository's: refused.
    tm_in(root)
        .args(["scan", "src/b.rs", "-o", "m.json"])
        .assert()
        .code(2);
}

#[test]
fn messages_say_what_to_do_and_shorten_commit_ids() {
    let repo = clean_repo();
    let root = repo.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "one"]);
    let full = git(root, &["rev-parse", "HEAD"]).trim().to_string();
    let out = tm_in(root).args(["diff", "nosuch"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`nosuch` is not a branch, tag or commit"),
        "{stderr}"
    );
    assert!(!stderr.contains("NotFound"), "{stderr}");
    let stderr = |args: &[&str]| {
        let out = tm_in(root).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let far = stderr(&["scan", "--rev", "HEAD~5"]);
    assert!(
        far.contains("`HEAD~5` goes back further than the history"),
        "{far}"
    );
    assert!(!far.contains("NthAncestor"), "{far}");
    let missing = stderr(&["scan", "--config", "nope.toml"]);
    assert_eq!(missing.matches("(os error 2)").count(), 1, "{missing}");
    let missing = stderr(&["scan", "nope/a.rs"]);
    assert!(missing.contains("nope/a.rs does not exist"), "{missing}");
    // The base of `check` is named as git names it: 7 digits, not 40.
    let out = tm_in(root)
        .args(["check", "--allow-stale"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("against {})", &full[..7])),
        "{stdout}"
    );
    assert!(!stdout.contains(&full), "{stdout}");
    let history = tm_in(root).args(["history"]).output().expect("run");
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(history.contains(&format!("\n{} ", &full[..7])), "{history}");
    assert!(!history.contains(&full[..8]), "{history}");
}

/// Adding a threatmark.toml (for `[diagnostics]`, say) to a Threatspec project stops
/// threatspec.yaml from being read: that is named, with the TOML that keeps its settings.
#[test]
fn a_threatmark_toml_that_hides_threatspec_yaml_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatspec.yaml",
        "project:\n  name: demo\npaths:\n  - 'app/'\n",
    );
    write(dir.path(), "app/a.py", "# @component App (#app)\n");
    let out = tm()
        .arg("scan")
        .arg("-q")
        .arg("-C")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("TM049"),
        "threatspec.yaml alone is read"
    );
    write(
        dir.path(),
        "threatmark.toml",
        "[diagnostics]\nignore = [\"TM1\"]\n",
    );
    let out = tm()
        .args(["scan", "--output-format", "json", "-C"])
        .arg(dir.path())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("\"TM049\""))
        .unwrap_or_else(|| panic!("no TM049: {stderr}"));
    assert!(line.contains("\"path\":\"threatspec.yaml\""), "{line}");
    assert!(line.contains(r#"[scan] include = [\"app\"]"#), "{line}");
    assert!(line.contains("strict_ids = false"), "{line}");
    // Named explicitly, it is read and nothing is hidden.
    let out = tm()
        .args(["scan", "-q", "--config", "threatspec.yaml", "-C"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("TM049"));
}
