//! The hostile-repository suite: threatmark scans repositories it does not trust, so every
//! malformed, oversized, pathological or malicious input below must end in diagnostics that name
//! the file, with the documented exit code, never in a panic, a hang, a torn output file or a
//! read outside the repository.
//!
//! Every run of the binary is bounded by a generous hang guard ([`HANG`]): a hang fails the test
//! instead of stalling the suite. The suite is written to stay fast in a debug build on a busy
//! machine; the large inputs are generated with repeated buffers or sparse files.
//!
//! Cases that depend on Unix (symbolic links, file modes, names that are not UTF-8, signals) are
//! compiled on Unix only; the memory measurement reads `/proc` and runs on Linux only.
//!
//! docs/security.md lists what each test covers. The `tests` annotations name the controls of
//! threatmark's own threat model that a test exercises.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

#[path = "../support/mod.rs"]
mod support;
use support::*;

// The issue-14 groups (trust in CI) live in their own files; they share the helpers below.
mod bounds;
mod diagnostics;
mod gate;
mod relations;
mod sarif;
mod writes;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `threatmark scan --format json ROOT` plus `extra` flags; the model it printed.
fn scan(root: &Path, extra: &[&str]) -> (Run, Value) {
    let out = run(tm()
        .args(["scan", "--format", "json"])
        .args(extra)
        .arg(root));
    assert_eq!(out.code, 0, "scan exited {}:\n{}", out.code, out.stderr);
    let model = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("scan printed no model ({e}):\n{}", out.stderr));
    (out, model)
}

/// A repository in a temporary folder, with a threatmark.toml that names the project (so the
/// model does not depend on the folder name) followed by `config`.
fn repo(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        format!("[project]\nname = \"hostile\"\n{config}"),
    );
    dir
}

fn threat<'a>(model: &'a Value, id: &str) -> &'a Value {
    model["threats"]
        .as_array()
        .expect("threats")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("threat `{id}` is not in the model"))
}

/// Where threat `id` was declared: `(path, line)` of each source.
fn sources(model: &Value, id: &str) -> Vec<(String, u64)> {
    threat(model, id)["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["path"].as_str().expect("path").to_string(),
                s["line"].as_u64().expect("line"),
            )
        })
        .collect()
}

fn assert_at(model: &Value, id: &str, path: &str, line: u64) {
    assert_eq!(
        sources(model, id),
        vec![(path.to_string(), line)],
        "threat `{id}`"
    );
}

/// The rendered diagnostics of a run, one string each (`warning[TM020]: ...` up to the next).
fn diagnostics(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let starts = ["error[", "warning[", "note["]
            .iter()
            .any(|p| line.starts_with(p));
        if starts {
            out.push(String::new());
        } else if line.starts_with("threatmark: ") {
            break;
        }
        if let Some(d) = out.last_mut() {
            d.push_str(line);
            d.push('\n');
        }
    }
    out
}

/// The location a rendered diagnostic points at (`--> path` or `--> path:line:col`).
fn location(diag: &str) -> Option<&str> {
    diag.lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
}

/// The diagnostic with `code` located at `at` (`path`, or a prefix such as `path:3`); it must
/// exist. This is how the suite checks that a diagnostic names the file.
fn diagnostic(stderr: &str, code: &str, at: &str) -> String {
    let found = diagnostics(stderr).into_iter().find(|d| {
        d.lines()
            .next()
            .is_some_and(|h| h.contains(&format!("[{code}]")))
            && location(d).is_some_and(|l| l == at || l.starts_with(&format!("{at}:")))
    });
    found.unwrap_or_else(|| panic!("no {code} diagnostic located at `{at}` in:\n{stderr}"))
}

/// Locations of every diagnostic with `code`.
fn located(stderr: &str, code: &str) -> Vec<String> {
    diagnostics(stderr)
        .iter()
        .filter(|d| {
            d.lines()
                .next()
                .is_some_and(|h| h.contains(&format!("[{code}]")))
        })
        .map(|d| location(d).unwrap_or("").to_string())
        .collect()
}

/// Commit what is staged, with an identity (an empty commit is fine).
fn commit_staged(dir: &Path, message: &str) {
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
        ],
    );
}

/// Stage everything `.gitignore` lets through, and commit it.
fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    commit_staged(dir, message);
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Bytes: binary, encodings, line endings
// ---------------------------------------------------------------------------------------------

#[test]
fn binary_files_are_reported_by_name_and_not_scanned() {
    let dir = repo("");
    let root = dir.path();
    // Binary with a source extension, and without an extension but with annotation-like text.
    write(
        root,
        "src/blob.rs",
        b"\x00\x01\x02// @threat Hidden in binary (#hidden_rs)\n\x00",
    );
    write(
        root,
        "bin/tool",
        b"\x7fELF\x02\x01\x00\x00 # @threat Hidden in tool (#hidden_tool)\n",
    );
    // UTF-16 without a byte order mark is indistinguishable from binary.
    let no_bom: Vec<u8> = utf16("# @threat No BOM (#no_bom)\n", false)[2..].to_vec();
    write(root, "src/no_bom.py", no_bom);
    // Not a source file: not even read, so not reported.
    write(
        root,
        "assets/logo.png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR @threat In an image (#png)\n",
    );
    // A NUL byte after the first 8 KiB does not make a file binary (git's rule).
    let mut late = b"# @threat Late NUL (#late_nul)\n".to_vec();
    late.extend("x = 1\n".repeat(2000).bytes());
    late.extend(b"s = '\x00'\n");
    write(root, "src/late_nul.py", late);
    write(root, "src/fine.py", "# @threat Fine (#fine)\n");

    let (out, model) = scan(root, &[]);
    for file in ["src/blob.rs", "bin/tool", "src/no_bom.py"] {
        let d = diagnostic(&out.stderr, "TM020", file);
        assert!(d.starts_with("warning[TM020]"), "{d}");
    }
    assert!(!out.stderr.contains("logo.png"), "{}", out.stderr);
    assert_eq!(
        ids(&model, "threats"),
        BTreeSet::from(["fine".to_string(), "late_nul".to_string()])
    );
    // TM020 is a warning: even --strict passes.
    assert_eq!(run(tm().args(["scan", "--strict", "-q"]).arg(root)).code, 0);
}

#[test]
fn invalid_utf8_in_comments_is_replaced_and_reported() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "src/latin1.py",
        b"x = 1\n# @threat Caf\xe9 (#cafe): cr\xe8me br\xfbl\xe9e\n",
    );
    // An overlong `/` and a UTF-8-encoded surrogate, inside a block comment.
    write(
        root,
        "src/overlong.go",
        b"package x\n/* @threat Overlong (#overlong): \xc0\xaf and \xed\xa0\x80 */\n",
    );
    // The file ends in the middle of a character.
    write(
        root,
        "src/cut.js",
        b"// @threat Cut (#cut): ends mid-character \xe2\x82",
    );
    let (out, model) = scan(root, &[]);
    for file in ["src/latin1.py", "src/overlong.go", "src/cut.js"] {
        diagnostic(&out.stderr, "TM021", file);
    }
    assert_at(&model, "cafe", "src/latin1.py", 2);
    assert_at(&model, "overlong", "src/overlong.go", 2);
    assert_at(&model, "cut", "src/cut.js", 1);
    assert_eq!(threat(&model, "cafe")["name"], "Caf\u{FFFD}");
}

#[test]
fn utf16_with_a_byte_order_mark_is_read_in_both_byte_orders() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "le.py",
        utf16(
            "x = 1\r\n# @threat Wide LE (#wide_le)\r\n# @threat Wide LE two (#wide_le2): é ✓\r\n",
            false,
        ),
    );
    write(
        root,
        "be.js",
        utf16(
            "// @threat Wide BE (#wide_be)\nvar x;\n/* @threat Wide BE two (#wide_be2) */\n",
            true,
        ),
    );
    // Outside the Basic Multilingual Plane: a surrogate pair.
    write(
        root,
        "emoji.rs",
        utf16("fn x() {}\n// @threat Locked 🔒 (#emoji)\n", false),
    );
    // An odd number of bytes, and an unpaired surrogate: decoded with a replacement character.
    let mut odd = utf16("# @threat Odd (#odd)\n", false);
    odd.push(b'A');
    write(root, "odd.py", odd);
    let mut lone = utf16("# @threat Lone surrogate (#lone_surrogate) ", true);
    lone.extend([0xD8, 0x00]);
    lone.extend(&utf16("\n", true)[2..]);
    write(root, "lone.py", lone);

    let (out, model) = scan(root, &[]);
    assert_at(&model, "wide_le", "le.py", 2);
    assert_at(&model, "wide_le2", "le.py", 3);
    assert_eq!(threat(&model, "wide_le2")["description"], "é ✓");
    assert_at(&model, "wide_be", "be.js", 1);
    assert_at(&model, "wide_be2", "be.js", 3);
    assert_at(&model, "emoji", "emoji.rs", 2);
    assert_eq!(threat(&model, "emoji")["name"], "Locked 🔒");
    assert_at(&model, "odd", "odd.py", 1);
    assert_at(&model, "lone_surrogate", "lone.py", 1);
    // Well-formed UTF-16 is converted silently; broken UTF-16 is reported by name.
    assert_eq!(
        located(&out.stderr, "TM021"),
        vec!["lone.py".to_string(), "odd.py".to_string()],
        "{}",
        out.stderr
    );
    assert!(located(&out.stderr, "TM020").is_empty(), "{}", out.stderr);
}

// @tests #diagnose_bad_input for #scanner
#[test]
fn crlf_and_lone_cr_line_endings_put_annotations_on_the_right_lines() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "crlf.py",
        "x = 1\r\n# @threat Crlf py (#crlf_py): first\r\n# @threat Crlf py two (#crlf_py2)\r\n",
    );
    // Lone CR (classic Mac OS): tree-sitter grammars end line comments at `\n` only, so the
    // first comment used to swallow the rest of the file, annotations included.
    write(
        root,
        "cr.py",
        "x = 1\r# @threat Lone py (#lone_py): first\r# @threat Lone py two (#lone_py2)\rdef f(): pass\r",
    );
    write(
        root,
        "cr.js",
        "var a;\r// @threat Lone js (#lone_js)\r// @threat Lone js two (#lone_js2)\rvar b;\r",
    );
    write(
        root,
        "cr.c",
        "int x;\r/* @threat Lone c (#lone_c)\r * @threat Lone c two (#lone_c2)\r */\rint y;\r",
    );
    // SQL has no grammar: the lexical scanner.
    write(
        root,
        "cr.sql",
        "select 1;\r-- @threat Lone sql (#lone_sql)\r-- @threat Lone sql two (#lone_sql2)\r",
    );
    write(
        root,
        "mixed.rb",
        "x = 1\n# @threat Mixed a (#mixed_a)\r\n# @threat Mixed b (#mixed_b)\r# @threat Mixed c (#mixed_c)\n",
    );
    // A diagnostic in a lone-CR file points at the right line too.
    write(
        root,
        "cr_bad.py",
        "x = 1\r\r# @mitigates #nothing against #nowhere\r",
    );

    let (out, model) = scan(root, &[]);
    for (id, path, line) in [
        ("crlf_py", "crlf.py", 2),
        ("crlf_py2", "crlf.py", 3),
        ("lone_py", "cr.py", 2),
        ("lone_py2", "cr.py", 3),
        ("lone_js", "cr.js", 2),
        ("lone_js2", "cr.js", 3),
        ("lone_c", "cr.c", 2),
        ("lone_c2", "cr.c", 3),
        ("lone_sql", "cr.sql", 2),
        ("lone_sql2", "cr.sql", 3),
        ("mixed_a", "mixed.rb", 2),
        ("mixed_b", "mixed.rb", 3),
        ("mixed_c", "mixed.rb", 4),
    ] {
        assert_at(&model, id, path, line);
    }
    // Descriptions end at the line end, whatever it is.
    assert_eq!(threat(&model, "crlf_py")["description"], "first");
    assert_eq!(threat(&model, "lone_py")["description"], "first");
    diagnostic(&out.stderr, "TM001", "cr_bad.py:3");
}

// ---------------------------------------------------------------------------------------------
// Size: huge files, long lines, many and long annotations
// ---------------------------------------------------------------------------------------------

// @tests #size_limit for #scanner
#[test]
fn a_100_mb_file_is_skipped_by_name_under_the_default_limit() {
    let dir = repo("");
    let root = dir.path();
    // Sparse: 100 MB on paper, a few bytes on disk. It must not even be read.
    let mut f = fs::File::create(root.join("huge.js")).expect("create");
    f.write_all(b"// @threat Huge (#huge)\n").expect("write");
    f.set_len(100_000_000).expect("set_len");
    drop(f);
    write(root, "small.js", "// @threat Small (#small)\n");
    let (out, model) = scan(root, &[]);
    let d = diagnostic(&out.stderr, "TM022", "huge.js");
    assert!(d.contains("100000000 bytes"), "{d}");
    assert_eq!(
        ids(&model, "threats"),
        BTreeSet::from(["small".to_string()])
    );
    assert!(out.elapsed < Duration::from_secs(30), "{:?}", out.elapsed);
}

/// Peak resident memory of a running process, from `/proc/PID/status` (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A 100 MB JavaScript file with a raised limit is scanned, the annotation on its last line is
/// found, and memory stays a small multiple of the file size. Tree-sitter's syntax tree costs
/// up to ~100 bytes per byte of source (about 1 GB here before the parse budget stopped it), so
/// files over `comments::MAX_TREE_SITTER_BYTES` go straight to the lexical scanner, which also
/// keeps this test at a few seconds in a debug build.
#[test]
fn a_100_mb_file_under_a_raised_limit_is_scanned_in_bounded_memory() {
    const LINE: &[u8] = b"var x = [1, 2, 3]; function f(a) { return a + 1; }\n";
    let dir = repo("[scan]\nmax_file_size = 200000000\n");
    let root = dir.path();
    let chunk: Vec<u8> = LINE.repeat((1 << 20) / LINE.len());
    let chunks = 100_000_000 / chunk.len();
    {
        let mut f = std::io::BufWriter::new(fs::File::create(root.join("big.js")).expect("create"));
        for _ in 0..chunks {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"// @threat Big end (#big_end)\n")
            .expect("write");
        f.flush().expect("flush");
    }
    let lines = (chunks * chunk.len() / LINE.len()) as u64;
    let size = fs::metadata(root.join("big.js")).expect("meta").len();
    assert!(size > 100_000_000 - (1 << 20), "{size}");

    let started = Instant::now();
    let mut cmd = std::process::Command::new(BIN);
    isolate(&mut cmd);
    // As before the harness: with the scan cache on (in the harness's folder).
    let mut child = cmd
        .env_remove("THREATMARK_NO_CACHE")
        .args(["scan", "-q", "--format", "json"])
        .arg(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut peak = 0;
    while child.try_wait().expect("try_wait").is_none() {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("scanning a 100 MB file did not finish in {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let model: Value = serde_json::from_slice(&out.stdout).expect("model JSON");
    assert_at(&model, "big_end", "big.js", lines + 1);
    // Too large for tree-sitter: said so, with the file's name.
    diagnostic(&stderr, "TM025", "big.js");
    if cfg!(target_os = "linux") {
        assert!(peak > 0, "no memory reading from /proc");
        // The bytes, the decoded text kept for carets, the line index: ~250 MB. Tree-sitter
        // alone took ~1 GB before it was stopped.
        assert!(
            peak < 700 * 1024,
            "peak resident memory {} MB for a {} MB file",
            peak / 1024,
            size / 1_000_000
        );
    }
}

#[test]
fn a_10_mb_minified_line_with_an_annotation_at_its_end() {
    let dir = repo("");
    let root = dir.path();
    let chunk = "var a=function(b){return b+1},c=[1,2,3].map(a),d='//not a comment';";
    let prefix = chunk.repeat(10_000_000 / chunk.len());
    let text = format!("{prefix}/* @threat Minified end (#minified_end) */");
    assert!(text.len() < 10 * 1024 * 1024, "under the default limit");
    write(root, "dist/app.min.js", &text);
    let (out, model) = scan(root, &[]);
    assert_at(&model, "minified_end", "dist/app.min.js", 1);
    let column = threat(&model, "minified_end")["sources"][0]["column"]
        .as_u64()
        .expect("column");
    assert_eq!(column as usize, prefix.len() + 4);
    if text.len() > threatmark::comments::MAX_TREE_SITTER_BYTES {
        diagnostic(&out.stderr, "TM025", "dist/app.min.js");
    }
    assert!(
        out.elapsed < Duration::from_secs(60),
        "a 10 MB line took {:?}",
        out.elapsed
    );
}

#[test]
fn unterminated_block_comments_are_reported_at_their_line() {
    let dir = repo("");
    let root = dir.path();
    let cases: [(&str, String, &str, &str); 8] = [
        (
            "open.c",
            "int x;\n\n/* @threat Unclosed c (#unclosed_c)\n more\n".into(),
            "unclosed_c",
            "open.c:3:1",
        ),
        (
            "open.js",
            "var x;\n/** @threat Unclosed js (#unclosed_js)\n".into(),
            "unclosed_js",
            "open.js:2:1",
        ),
        (
            "open.html",
            "<p>x</p>\n<!-- @threat Unclosed html (#unclosed_html)\n".into(),
            "unclosed_html",
            "open.html:2:1",
        ),
        (
            "open.sql",
            "select 1;\n/* @threat Unclosed sql (#unclosed_sql)\n".into(),
            "unclosed_sql",
            "open.sql:2:1",
        ),
        (
            "open.py",
            "x = 1\n\"\"\"\n@threat Unclosed py (#unclosed_py)\n".into(),
            "unclosed_py",
            "open.py:2:1",
        ),
        (
            "open_crlf.go",
            "package x\r\n\r\n/* @threat Unclosed crlf (#unclosed_crlf)\r\n".into(),
            "unclosed_crlf",
            "open_crlf.go:3:1",
        ),
        (
            "open_cr.c",
            "int x;\r\r/* @threat Unclosed cr (#unclosed_cr)\r".into(),
            "unclosed_cr",
            "open_cr.c:3:1",
        ),
        (
            "open_long.js",
            format!(
                "var s = '{}';\n/* @threat Unclosed long (#unclosed_long)\n",
                "a".repeat(5000)
            ),
            "unclosed_long",
            "open_long.js:2:1",
        ),
    ];
    for (file, text, _, _) in &cases {
        write(root, file, text);
    }
    // `/*` in a string opens nothing.
    write(
        root,
        "string.js",
        "var s = '/*';\n// @threat Not swallowed (#not_swallowed)\n",
    );
    let (out, model) = scan(root, &[]);
    for (file, _, id, at) in &cases {
        diagnostic(&out.stderr, "TM026", at);
        assert_eq!(sources(&model, id)[0].0, *file);
    }
    assert_at(&model, "not_swallowed", "string.js", 2);
    assert!(
        !located(&out.stderr, "TM026")
            .iter()
            .any(|l| l.starts_with("string.js")),
        "{}",
        out.stderr
    );
}

#[test]
fn ten_thousand_annotations_in_one_file_all_reach_the_model() {
    let dir = repo("");
    let root = dir.path();
    let text: String = (0..10_000)
        .map(|i| {
            format!(
                "# @threat Threat number {i} (#t{i}) [likelihood: possible; impact: minor]: description {i}\n"
            )
        })
        .collect();
    write(root, "many.py", text);
    let (_, model) = scan(root, &[]);
    let threats = model["threats"].as_array().expect("threats");
    assert_eq!(threats.len(), 10_000);
    let lines: BTreeMap<&str, u64> = threats
        .iter()
        .map(|t| {
            (
                t["id"].as_str().expect("id"),
                t["sources"][0]["line"].as_u64().expect("line"),
            )
        })
        .collect();
    for i in 0..10_000u64 {
        assert_eq!(lines.get(format!("t{i}").as_str()), Some(&(i + 1)), "t{i}");
    }
}

#[test]
fn a_1_mb_description_is_kept_whole() {
    let dir = repo("");
    let root = dir.path();
    let description = "abcdefghi ".repeat(100_000);
    let description = description.trim_end();
    write(
        root,
        "long.go",
        format!("package x\n// @threat Long (#long): {description}\n// @control Next (#next)\n"),
    );
    let (_, model) = scan(root, &[]);
    assert_eq!(
        threat(&model, "long")["description"].as_str().map(str::len),
        Some(description.len())
    );
    assert_eq!(threat(&model, "long")["description"], description);
    assert!(ids(&model, "controls").contains("next"));
}

// ---------------------------------------------------------------------------------------------
// Pathological parses and the per-file time budget (TM025)
// ---------------------------------------------------------------------------------------------

/// 50,000 nested brackets, parentheses and (unclosed) braces. With a 1 ms budget tree-sitter is
/// stopped on every file, TM025 names it, and the lexical scanner still finds the annotations
/// before and after the nesting.
// @tests #parse_budget for #extractor
#[test]
fn deep_nesting_hits_the_parse_budget_and_annotations_are_still_found() {
    const N: usize = 50_000;
    let dir = repo("[scan]\nparse_timeout_ms = 1\n");
    let root = dir.path();
    write(
        root,
        "deep.js",
        format!(
            "// @threat Deep js (#deep_js)\nvar x = {}{};\n// @threat Deep js end (#deep_js_end)\n",
            "[".repeat(N),
            "]".repeat(N)
        ),
    );
    write(
        root,
        "deep.py",
        format!(
            "# @threat Deep py (#deep_py)\nx = {}{}\n# @threat Deep py end (#deep_py_end)\n",
            "(".repeat(N),
            ")".repeat(N)
        ),
    );
    write(
        root,
        "open.js",
        format!(
            "// @threat Open js (#open_js)\nvar x = {}\n// @threat Open js end (#open_js_end)\n",
            "{".repeat(N)
        ),
    );
    let (out, model) = scan(root, &[]);
    for file in ["deep.js", "deep.py", "open.js"] {
        diagnostic(&out.stderr, "TM025", file);
    }
    for (id, file, line) in [
        ("deep_js", "deep.js", 1),
        ("deep_js_end", "deep.js", 3),
        ("deep_py", "deep.py", 1),
        ("deep_py_end", "deep.py", 3),
        ("open_js", "open.js", 1),
        ("open_js_end", "open.js", 3),
    ] {
        assert_at(&model, id, file, line);
    }
}

/// The budget is per file and covers the whole tree-sitter step. Running a comment query over
/// the tree of 100,000 unclosed brackets costs nodes x depth (about 45 s in a debug build), and
/// it used to run after the budget had been checked. Every grammar's comments are now found by a
/// walk of the tree instead, whose cost is the number of nodes: the six files finish well within
/// a 300 ms budget each, with their annotations. (The budget of a compiled query, for a grammar
/// whose query a walk cannot answer, is `comments::tests::a_compiled_query_stops_at_the_budget`.)
#[test]
fn the_parse_budget_bounds_every_file_including_the_comment_query() {
    let dir = repo("[scan]\nparse_timeout_ms = 300\n");
    let root = dir.path();
    for i in 0..3 {
        // Python's docstrings: 100,000 unclosed `[` made the compiled query slow.
        write(
            root,
            &format!("open{i}.py"),
            format!(
                "# @threat Open {i} (#open{i})\nx = {}\n",
                "[".repeat(100_000)
            ),
        );
        // JavaScript's comments are a list of kinds, found by a walk of the tree.
        write(
            root,
            &format!("brace{i}.js"),
            format!(
                "// @threat Brace {i} (#brace{i})\nvar x = {}\n",
                "{".repeat(100_000)
            ),
        );
    }
    let (out, model) = scan(root, &["--threads", "1"]);
    for i in 0..3 {
        assert_at(&model, &format!("open{i}"), &format!("open{i}.py"), 1);
        assert_at(&model, &format!("brace{i}"), &format!("brace{i}.js"), 1);
    }
    assert!(
        out.elapsed < Duration::from_secs(30),
        "six deep files took {:?}",
        out.elapsed
    );
}

// ---------------------------------------------------------------------------------------------
// Links, permissions and names
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[cfg(unix)]
#[test]
fn symlink_loops_end_in_diagnostics_when_links_are_followed() {
    let dir = repo("[scan]\nfollow_symlinks = true\n");
    let root = dir.path();
    write(root, "src/a.py", "# @threat In src (#in_src)\n");
    symlink("..", root.join("src/loop"));
    symlink("self.py", root.join("self.py"));
    symlink("ping.py", root.join("pong.py"));
    symlink("pong.py", root.join("ping.py"));
    symlink("/nonexistent/threatmark", root.join("dangling.py"));

    let out = run(tm().args(["scan", "--format", "json"]).arg(root));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d = diagnostic(&out.stderr, "TM024", "src/loop");
    assert!(d.contains("leads back to the scan root"), "{d}");
    for file in ["self.py", "ping.py", "pong.py", "dangling.py"] {
        diagnostic(&out.stderr, "TM023", file);
    }
    let model: Value = serde_json::from_str(&out.stdout).expect("model");
    // The loop was not walked twice.
    assert_at(&model, "in_src", "src/a.py", 1);
    // TM023 is an error: --strict fails with 1.
    assert_eq!(run(tm().args(["scan", "--strict", "-q"]).arg(root)).code, 1);

    // Not followed (the default): links are skipped silently.
    write(root, "threatmark.toml", "[project]\nname = \"hostile\"\n");
    let (out, model) = scan(root, &[]);
    assert!(diagnostics(&out.stderr).is_empty(), "{}", out.stderr);
    assert_at(&model, "in_src", "src/a.py", 1);
}

/// Nothing a link in the repository points at is read, ignore files included. The target holds
/// a unique marker that must appear nowhere; the target file is unreadable when the tests do not
/// run as root (a read would be a TM023); and one link points at a FIFO, whose opening blocks
/// until someone writes to it, so any open through that link would hang the scan into the
/// hang guard.
// @tests #no_follow_symlinks for #walker
#[cfg(unix)]
#[test]
fn links_out_of_the_repository_are_never_read() {
    use std::os::unix::fs::PermissionsExt;
    const MARKER: &str = "9c1e5b7d";
    let outside = tempfile::tempdir().expect("tempdir");
    let o = outside.path();
    write(
        o,
        "secret.py",
        format!("# @threat Outside {MARKER} (#outside_{MARKER})\n"),
    );
    // As ignore rules: one line that is not a glob (it would be echoed in TM027), and one that
    // would hide public.py.
    write(o, "creds", format!("{{SECRET-{MARKER}\npublic.py\n"));
    let fifo = o.join("fifo");
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());

    let dir = repo("");
    let root = dir.path();
    write(root, "public.py", "# @threat Public (#public)\n");
    write(
        root,
        "sub/public.py",
        "# @threat Sub public (#sub_public)\n",
    );
    symlink(o.join("secret.py"), root.join("leak.py"));
    symlink(o, root.join("outside"));
    symlink(o.join("creds"), root.join(".gitignore"));
    symlink(o.join("creds"), root.join("sub/.threatmarkignore"));
    if made_fifo {
        symlink(&fifo, root.join("fifo.py"));
        symlink(&fifo, root.join("outside2"));
        fs::create_dir_all(root.join("piped")).expect("mkdir");
        symlink(&fifo, root.join("piped/.gitignore"));
    }
    fs::set_permissions(o.join("secret.py"), fs::Permissions::from_mode(0o000)).expect("chmod");

    let (out, model) = scan(root, &[]);
    let _ = fs::set_permissions(o.join("secret.py"), fs::Permissions::from_mode(0o644));
    assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
    assert!(!out.stderr.contains(MARKER), "{}", out.stderr);
    assert!(located(&out.stderr, "TM023").is_empty(), "{}", out.stderr);
    // The outside rules did not apply: both public files were scanned.
    assert_eq!(
        ids(&model, "threats"),
        BTreeSet::from(["public".to_string(), "sub_public".to_string()])
    );
    for linked in [".gitignore", "sub/.threatmarkignore"] {
        let d = diagnostic(&out.stderr, "TM027", linked);
        assert!(d.contains("symbolic link"), "{d}");
    }
    // Writing the model replaces a link at the output path; it never writes through it.
    symlink(o.join("target.json"), root.join("threatmodel.json"));
    assert_eq!(run(tm().args(["scan", "-q"]).arg(root)).code, 0);
    assert!(!o.join("target.json").exists());
    assert!(
        fs::symlink_metadata(root.join("threatmodel.json"))
            .expect("model")
            .is_file()
    );
}

/// With `follow_symlinks = true`, a link can lead to a file whose size says nothing about its
/// contents: `/proc/self/pagemap` reports 0 bytes and reads on for hundreds of gigabytes. The
/// read is cut off at the size limit instead of eating all memory.
#[cfg(target_os = "linux")]
#[test]
fn a_followed_link_to_an_endless_file_is_cut_off() {
    if !Path::new("/proc/self/pagemap").exists() {
        eprintln!("skipping: no /proc/self/pagemap");
        return;
    }
    let dir = repo("[scan]\nfollow_symlinks = true\nmax_file_size = 1000000\n");
    let root = dir.path();
    symlink("/proc/self/pagemap", root.join("pagemap.py"));
    write(root, "a.py", "# @threat A (#a)\n");
    let (out, model) = scan(root, &[]);
    // Out of the repository: not followed at all (TM034).
    let named = ["TM022", "TM023", "TM034"]
        .iter()
        .any(|code| located(&out.stderr, code).contains(&"pagemap.py".to_string()));
    assert!(named, "{}", out.stderr);
    assert_at(&model, "a", "a.py", 1);
}

/// Whether the tests can run threatmark as an unprivileged user: they run as root (which reads
/// anything), and `setpriv` can drop to `nobody`.
#[cfg(unix)]
fn setpriv_nobody() -> Option<Vec<String>> {
    let prefix: Vec<String> = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    let ok = std::process::Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg(BIN)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(prefix)
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_and_file_are_reported_by_name() {
    use std::os::unix::fs::PermissionsExt;
    let dir = repo("");
    let root = dir.path();
    write(root, "ok.py", "# @threat Readable (#readable)\n");
    write(root, "locked/x.py", "# @threat Locked (#locked)\n");
    write(root, "secret.py", "# @threat Secret (#secret)\n");
    // Everything else readable by anyone (for `nobody` below), the two targets by no one.
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).expect("chmod");
    for f in ["threatmark.toml", "ok.py", "locked/x.py"] {
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    fs::set_permissions(root.join("secret.py"), fs::Permissions::from_mode(0o000)).expect("chmod");

    let privileged = fs::read_dir(root.join("locked")).is_ok();
    let mut cmd = match (privileged, setpriv_nobody()) {
        (false, _) => tm(),
        (true, Some(prefix)) => {
            let mut std = std::process::Command::new(&prefix[0]);
            isolate(&mut std);
            std.args(&prefix[1..]).arg(BIN);
            let mut c = Command::from_std(std);
            c.timeout(HANG);
            c
        }
        (true, None) => tm(),
    };
    let out = run(cmd.args(["scan", "--format", "json"]).arg(root));
    let _ = fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o755));
    let _ = fs::set_permissions(root.join("secret.py"), fs::Permissions::from_mode(0o644));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let model: Value = serde_json::from_str(&out.stdout).expect("model");
    assert!(ids(&model, "threats").contains("readable"));
    if privileged && setpriv_nobody().is_none() {
        eprintln!(
            "skipping the assertions: running as root without setpriv, everything is readable"
        );
        return;
    }
    diagnostic(&out.stderr, "TM023", "locked");
    diagnostic(&out.stderr, "TM023", "secret.py");
    assert!(!ids(&model, "threats").contains("locked"));
}

/// Names with a newline, a tab, spaces, bytes that are not UTF-8, an escape sequence and leading
/// dashes are data, never flags: the scan finds and locates them, prints them neutralised, and
/// the model does not depend on thread timing even when two names decode to the same text.
#[cfg(unix)]
#[test]
fn hostile_file_names_are_located_and_never_taken_for_flags() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = repo("");
    let root = dir.path();
    let files: [(&[u8], &str); 8] = [
        (b"new\nline.py", "# @threat Newline (#newline)\n"),
        (b"tab\tname.py", "# @threat Tab (#tab)\n"),
        (b"with space.py", "# @threat Space (#space)\n"),
        (b"-rf.py", "# @threat Dash (#dash)\n"),
        (b"--help.js", "// @threat Help (#help)\n"),
        (b"-d/x.py", "# @threat Dash dir (#dash_dir)\n"),
        (b"bad\xfe.py", "# @threat Same (#same): from fe\n"),
        (b"bad\xff.py", "# @threat Same (#same): from ff\n"),
    ];
    for (name, text) in files {
        let p = root.join(OsStr::from_bytes(name));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }
    let esc = root.join("\u{1b}[31mred.py");
    fs::write(&esc, "# @component Red (#red) in #nowhere\n").expect("write");

    let (out, model) = scan(root, &["--color", "never"]);
    for (id, path) in [
        ("newline", "new\nline.py"),
        ("tab", "tab\tname.py"),
        ("space", "with space.py"),
        ("dash", "-rf.py"),
        ("help", "--help.js"),
        ("dash_dir", "-d/x.py"),
    ] {
        assert_at(&model, id, path, 1);
    }
    assert!(
        sources(&model, "same")
            .iter()
            .all(|(p, _)| p == "bad\u{FFFD}.py"),
        "{:?}",
        sources(&model, "same")
    );
    // An escape sequence in a name is shown, not sent to the terminal.
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(
        located(&out.stderr, "TM003")
            .iter()
            .any(|l| l.contains("[31mred.py:1:")),
        "{}",
        out.stderr
    );
    // The same bytes whatever the thread count, run after run.
    for threads in ["1", "2", "4", "1", "4"] {
        let again = run(tm()
            .args(["scan", "--format", "json", "--threads", threads])
            .arg(root));
        assert_eq!(again.stdout, out.stdout, "--threads {threads}");
    }
    // Names with dashes on the command line, after `--`.
    let shown = run(tm_in(root).args(["debug", "comments", "--", "--help.js"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("@threat Help"), "{}", shown.stdout);
    let sub = run(tm_in(root).args(["scan", "--format", "json", "--", "-d"]));
    assert_eq!(sub.code, 0, "{}", sub.stderr);
    let sub_model: Value = serde_json::from_str(&sub.stdout).expect("model");
    assert_at(&sub_model, "dash_dir", "x.py", 1);
}

// ---------------------------------------------------------------------------------------------
// Empty and fully ignored repositories
// ---------------------------------------------------------------------------------------------

#[test]
fn ignore_files_that_ignore_everything_give_an_empty_model() {
    for (file, text) in [
        (".threatmarkignore", "*\n"),
        (".threatmarkignore", "/**\n"),
        (".threatmarkignore", "\u{feff}**\r\n"),
        (".gitignore", "*\n"),
    ] {
        let dir = repo("");
        let root = dir.path();
        write(root, "src/a.py", "# @threat A (#a)\n");
        write(root, ".github/ci.yml", "# @threat B (#b)\n");
        write(root, file, text);
        let (out, model) = scan(root, &[]);
        assert!(ids(&model, "threats").is_empty(), "{file}: {text:?}");
        assert!(out.stderr.contains("model: empty"), "{}", out.stderr);
        assert!(diagnostics(&out.stderr).is_empty(), "{}", out.stderr);
    }
    // `.threatmarkignore` outranks a `.gitignore` that re-includes; `include` outranks both.
    let dir = repo("[scan]\ninclude = [\"keep\"]\n");
    let root = dir.path();
    write(root, ".threatmarkignore", "*\n");
    write(root, ".gitignore", "!*.py\n");
    write(root, "src/a.py", "# @threat A (#a)\n");
    write(root, "keep/k.py", "# @threat Kept (#kept)\n");
    let (_, model) = scan(root, &[]);
    assert_eq!(ids(&model, "threats"), BTreeSet::from(["kept".to_string()]));
}

#[test]
fn empty_folders_and_repositories_without_commits() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = run(tm().arg("scan").arg(empty.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("model: empty"), "{}", out.stderr);
    let model: Value = serde_json::from_str(
        &fs::read_to_string(empty.path().join("threatmodel.json")).expect("model written"),
    )
    .expect("JSON");
    assert!(ids(&model, "threats").is_empty());

    let unborn = tempfile::tempdir().expect("tempdir");
    git(unborn.path(), &["init", "-q"]);
    let out = run(tm_in(unborn.path()).args(["scan", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(unborn.path().join("threatmodel.json").is_file());
    for extra in [&[][..], &["-o", "rev.json"][..]] {
        let out = run(tm_in(unborn.path())
            .args(["scan", "--rev", "HEAD"])
            .args(extra)
            .arg("."));
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("no commits yet"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    assert!(!unborn.path().join("rev.json").exists());
}

// ---------------------------------------------------------------------------------------------
// Writing: killed scans, output paths
// ---------------------------------------------------------------------------------------------

/// The model file is replaced atomically (temporary file in the same folder, fsync, rename).
/// A scan is killed with SIGKILL, again and again: first at staggered fractions of a full run,
/// then right after its temporary file appears (with staggered extra delays of a few
/// milliseconds), which is when the model is being written. After every kill
/// `threatmodel.json` is the old file or the complete new one, never a truncated file.
/// SIGKILL runs no destructor, so `.threatmark-*.tmp` files may remain: they are never the
/// model, nothing else is left behind, and the scan does not read them.
// @tests #atomic_write for #writer
#[cfg(unix)]
#[test]
fn killing_a_scan_while_it_writes_never_tears_the_model() {
    let dir = repo("");
    let root = dir.path();
    let padding = "a description long enough to make the model file large ".repeat(3);
    for f in 0..4 {
        let text: String = (0..600)
            .map(|i| {
                format!(
                    "# @threat Threat {f} {i} (#t_{f}_{i}) [likelihood: possible; impact: minor]: {padding}\n"
                )
            })
            .collect();
        write(root, &format!("src/m{f}.py"), text);
    }
    let (new_run, _) = scan(root, &[]);
    let new = new_run.stdout.into_bytes();
    assert!(new.len() > 2_000_000, "model of {} bytes", new.len());
    let old = format!("{{\"old\": \"{}\"}}\n", "o".repeat(1 << 20)).into_bytes();
    let model = root.join("threatmodel.json");

    fs::write(&model, &old).expect("old model");
    let full = run(tm().args(["scan", "-q"]).arg(root));
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert!(
        fs::read(&model).expect("model") == new,
        "a full scan writes the new model"
    );

    let known: BTreeSet<&str> = ["threatmark.toml", "threatmodel.json", "src"].into();
    // Temporary files in the root; anything else new there fails the test.
    let temporaries = || -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for entry in fs::read_dir(root).expect("read_dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if known.contains(name.as_str()) {
                continue;
            }
            assert!(
                name.starts_with(".threatmark-") && name.ends_with(".tmp"),
                "unexpected file after a kill: {name:?}"
            );
            out.insert(name);
        }
        out
    };
    let spawn = || {
        let mut cmd = std::process::Command::new(BIN);
        isolate(&mut cmd);
        // As before the harness: with the scan cache on (in the harness's folder).
        cmd.env_remove("THREATMARK_NO_CACHE")
            .args(["scan", "-q"])
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let mut tally = BTreeMap::<&str, usize>::new();
    let mut check = |when: String| {
        let now = fs::read(&model).expect("the model file exists after every kill");
        let outcome = if now == old {
            "old"
        } else if now == new {
            "new"
        } else {
            panic!(
                "killed {when}: threatmodel.json is neither the old nor the new model ({} bytes; old {}, new {})",
                now.len(),
                old.len(),
                new.len()
            )
        };
        *tally.entry(outcome).or_default() += 1;
    };

    // Staggered over the whole run.
    for fraction in [0.3, 0.7, 0.95] {
        fs::write(&model, &old).expect("reset the old model");
        let delay = full.elapsed.mul_f64(fraction);
        let mut child = spawn();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; an error means it had already exited
        child.wait().expect("wait");
        check(format!("after {delay:?}"));
    }
    // While the model is being written: as soon as a new temporary file shows up.
    let mut caught = 0;
    for extra_ms in [0, 1, 2, 4, 8, 16] {
        fs::write(&model, &old).expect("reset the old model");
        let before = temporaries();
        let mut child = spawn();
        let started = Instant::now();
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            if temporaries().difference(&before).next().is_some() {
                caught += 1;
                std::thread::sleep(Duration::from_millis(extra_ms));
                break;
            }
            assert!(started.elapsed() < HANG, "the scan did not finish");
        }
        let _ = child.kill();
        child.wait().expect("wait");
        check(format!("{extra_ms} ms after its temporary file appeared"));
    }
    let left = temporaries();
    eprintln!(
        "kills: {tally:?}; {caught} of 6 caught while writing; {} temporary files left behind",
        left.len()
    );
    // Leftover temporary files are not scanned and do not change the model, and a complete
    // scan still replaces the file.
    fs::write(&model, &old).expect("reset the old model");
    assert_eq!(run(tm().args(["scan", "-q"]).arg(root)).code, 0);
    assert!(fs::read(&model).expect("model") == new);
    let (again, _) = scan(root, &[]);
    assert!(again.stdout.as_bytes() == new.as_slice());
}

// @tests #confined_output for #cli
#[test]
fn scan_output_from_the_configuration_cannot_leave_the_scan_root() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("x/repo");
    fs::create_dir_all(&root).expect("mkdir");
    write(&root, "a.py", "# @threat A (#a)\n");
    let abs = outer.path().join("abs.json");
    let with_output = |output: &str| {
        write(
            &root,
            "threatmark.toml",
            format!("[project]\nname = \"hostile\"\n[scan]\noutput = {output:?}\n"),
        );
    };
    let mut refused = vec![
        "../../escape.json".to_string(),
        "../escape.json".to_string(),
        "sub/../../escape.json".to_string(),
        "./../escape.json".to_string(),
        abs.to_string_lossy().into_owned(),
        ".".to_string(),
    ];
    #[cfg(unix)]
    {
        symlink(outer.path(), root.join("linked"));
        refused.push("linked/escape.json".to_string());
        refused.push("linked/new/escape.json".to_string());
    }
    for output in &refused {
        with_output(output);
        let out = run(tm().arg("scan").arg(&root));
        assert_eq!(out.code, 2, "output = {output:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("[scan] output") && out.stderr.contains(output.as_str()),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("-o"), "{}", out.stderr);
    }
    assert!(!outer.path().join("escape.json").exists());
    assert!(!outer.path().join("x/escape.json").exists());
    assert!(!outer.path().join("new").exists());
    assert!(!abs.exists());
    assert!(!root.join("threatmodel.json").exists());

    // Normalised paths that stay inside are fine.
    for (output, written) in [
        ("sub/../model.json", "model.json"),
        ("docs/threat/model.json", "docs/threat/model.json"),
    ] {
        with_output(output);
        let out = run(tm().args(["scan", "-q"]).arg(&root));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(root.join(written).is_file(), "{output}");
    }
    // The command line may write anywhere; `--format json` writes nothing.
    with_output("../../escape.json");
    let out = run(tm()
        .args(["scan", "-q", "-o"])
        .arg(outer.path().join("chosen.json"))
        .arg(&root));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(outer.path().join("chosen.json").is_file());
    scan(&root, &[]);
}

/// A configuration is read from the repository; a link to a file outside it would be read, and
/// the TOML parse error would quote the offending line (`threatmark.toml ->
/// ~/.aws/credentials`).
// @tests #no_linked_inputs for #cli
#[cfg(unix)]
#[test]
fn a_configuration_linked_from_outside_the_repository_is_refused() {
    const MARKER: &str = "AKIA7D2F0HOSTILE";
    let outside = tempfile::tempdir().expect("tempdir");
    write(
        outside.path(),
        "credentials",
        format!("[default]\naws_access_key_id = {MARKER}\n"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "a.py", "# @threat A (#a)\n");
    for name in ["threatmark.toml", "threatspec.yaml"] {
        let _ = fs::remove_file(root.join("threatmark.toml"));
        symlink(outside.path().join("credentials"), root.join(name));
        for args in [&["scan", "-q"][..], &["report", "--format", "markdown"][..]] {
            let out = run(tm().args(args).arg(root));
            assert_eq!(out.code, 2, "{args:?} {name}: {}", out.stderr);
            assert!(!out.stderr.contains(MARKER), "{}", out.stderr);
            assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
            assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
        }
        fs::remove_file(root.join(name)).expect("unlink");
    }
    // A link inside the repository is fine.
    write(root, "config/shared.toml", "[project]\nname = \"shared\"\n");
    symlink("config/shared.toml", root.join("threatmark.toml"));
    let (_, model) = scan(root, &[]);
    assert_eq!(model["project"]["name"], "shared");
}

/// `check`, `diff` and `history` load the configuration through `cli::revs`: a threatmark.toml
/// linked from outside the repository is refused there too (a closed gap, see docs/security.md).
#[cfg(unix)]
#[test]
fn check_refuses_a_configuration_linked_from_outside() {
    const MARKER: &str = "AKIA7D2F0HOSTILE";
    let outside = tempfile::tempdir().expect("tempdir");
    write(
        outside.path(),
        "credentials",
        format!("[default]\naws_access_key_id = {MARKER}\n"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    symlink(
        outside.path().join("credentials"),
        dir.path().join("threatmark.toml"),
    );
    let out = run(tm_in(dir.path()).arg("check"));
    assert!(!out.stderr.contains(MARKER), "{}", out.stderr);
}

/// Template overrides named by `[report] templates` (repository configuration) are never read
/// through a link out of the repository, so a repository cannot render any file the user can read
/// (`tpl/report.md.hbs -> /proc/self/environ`) into a report or a published site. src/input.rs
/// confines them (a closed gap; tests/hostile/writes.rs covers FIFOs, sizes and linked folders).
#[cfg(unix)]
#[test]
fn template_overrides_are_not_read_through_links() {
    const MARKER: &str = "TEMPLATE-LEAK-51f0";
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret", MARKER);
    let dir = repo("[report]\ntemplates = \"tpl\"\n");
    let root = dir.path();
    write(root, "a.go", "// @threat A (#a)\npackage a\n");
    fs::create_dir_all(root.join("tpl")).expect("mkdir");
    symlink(
        outside.path().join("secret"),
        root.join("tpl/report.md.hbs"),
    );
    let out = run(tm().args(["report", "--format", "markdown"]).arg(root));
    assert!(!out.stdout.contains(MARKER), "{}", out.stdout);
}

/// `site --out` refuses `/`, the home folder, the scan root and the repository root however the
/// path is spelled (`.`, `sub/..`, a trailing slash, a link to the home folder), even with
/// `--force`, and a non-empty folder it did not create without `--force`. tests/report.rs checks
/// the plain spellings; nothing is written in any refused case.
#[cfg(unix)]
#[test]
fn site_out_refuses_precious_folders_however_they_are_spelled() {
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let repo_dir = work.path().join("repo");
    fs::create_dir_all(repo_dir.join("sub")).expect("mkdir");
    write(
        &repo_dir,
        "threatmark.toml",
        "[project]\nname = \"hostile\"\n",
    );
    write(&repo_dir, "a.go", "// @threat A (#a)\npackage a\n");
    git(&repo_dir, &["init", "-q"]);
    symlink(home.path(), work.path().join("home-link"));
    let home_slash = format!("{}/", home.path().display());
    let home_link = work.path().join("home-link").to_string_lossy().into_owned();
    let home_dotdot = format!(
        "{}/../{}",
        home.path().display(),
        home.path().file_name().expect("name").to_string_lossy()
    );
    for out_dir in [
        ".",
        "./",
        "sub/..",
        "sub/../",
        "../repo",
        "//",
        "/..",
        home_slash.as_str(),
        home_link.as_str(),
        home_dotdot.as_str(),
    ] {
        let out = run(tm_in(&repo_dir)
            .env("HOME", home.path())
            .args(["site", ".", "--force", "--out", out_dir]));
        assert_eq!(out.code, 2, "--out {out_dir:?}: {}", out.stderr);
        assert!(out.stderr.contains("refusing"), "{}", out.stderr);
    }
    assert!(!repo_dir.join("index.html").exists());
    assert!(!home.path().join("index.html").exists());
    assert!(fs::read_dir(home.path()).expect("home").next().is_none());

    // A folder that holds only a hidden file is not empty: refused without --force.
    let foreign = work.path().join("foreign");
    write(&foreign, ".keep", "mine");
    let out = run(tm()
        .env("HOME", home.path())
        .arg("site")
        .arg(&repo_dir)
        .arg("--out")
        .arg(&foreign));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert!(!foreign.join("index.html").exists());
    assert_eq!(
        fs::read_to_string(foreign.join(".keep")).expect("kept"),
        "mine"
    );
}

/// Known gap, outside the files this suite may change: `site --out missing/.. --force`, with
/// `missing` a folder that does not exist, writes the site into the repository root. The
/// `absolute()` helper of src/cli/report.rs resolves the longest existing ancestor, but
/// `Path::file_name()` is `None` for a path that ends in `..`, so the walk up stops at once, the
/// path is never normalised, and no precious folder matches it. Fix: normalise `.` and `..`
/// lexically before looking for the existing ancestor.
#[test]
fn site_out_refuses_the_repository_reached_through_a_missing_folder() {
    let home = tempfile::tempdir().expect("home");
    let dir = repo("");
    let root = dir.path();
    write(root, "a.go", "// @threat A (#a)\npackage a\n");
    for out_dir in ["missing/..", "missing/../", "a/b/../.."] {
        let out = run(tm_in(root)
            .env("HOME", home.path())
            .args(["site", ".", "--force", "--out", out_dir]));
        assert_eq!(out.code, 2, "--out {out_dir:?}: {}", out.stderr);
        assert!(
            !root.join("index.html").exists(),
            "--out {out_dir:?} wrote into the repository"
        );
    }
}
