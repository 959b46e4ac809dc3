//! Comments after a syntax error are never lost (issue 15, section 1).
//!
//! Every language with a grammar has a small sample in `tests/fixtures/recovery/` whose
//! annotations are all `@threat <Lang> <n> (#<lang>_<n>)` lines. A seeded generator inserts
//! committed merge-conflict markers, stray tokens and unclosed brackets at random line starts
//! and between tokens outside comments and strings, and the annotation lines found must be
//! exactly those of the clean file: recovery must not depend on how a grammar recovers. The same
//! samples, and every fixture of the suite, parsed with a budget so small that tree-sitter is
//! always stopped, must give the same annotations as a full parse: a stop on a busy machine
//! does not change the model.
//!
//! An unclosed quote is not inserted: a string that is never closed legitimately swallows the
//! text after it, for the compiler as for us.
//!
//! @tests #lexical_recovery for #extractor
//! @tests #parse_budget for #extractor

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use threatmark::annotation::Locator;
use threatmark::comments::{self, Method, Options};
use threatmark::lang::{LANGUAGES, Language};
use threatmark::scan::{self, FileOptions};
use threatmark::text::LineIndex;

mod support;
use support::Rng;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recovery");

/// The sample of every language that has a grammar, by language name. A grammar without a
/// sample fails here.
fn samples() -> BTreeMap<&'static str, (&'static Language, String)> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(FIXTURES).expect("fixtures").flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let text = std::fs::read_to_string(&path).expect("sample");
        let lang = threatmark::lang::detect(name, text.as_bytes(), |_| None)
            .unwrap_or_else(|| panic!("{name}: no language"));
        assert!(
            found.insert(lang.name, (lang, text)).is_none(),
            "two samples for {}",
            lang.name
        );
    }
    for lang in LANGUAGES.iter().filter(|l| l.grammar.is_some()) {
        assert!(
            found.contains_key(lang.name),
            "{} has a grammar but no sample in tests/fixtures/recovery/",
            lang.name
        );
    }
    found
}

/// The `@threat` lines found in `text`, sorted (a comment found twice shows twice).
fn threat_lines(lang: &Language, text: &str, opts: &Options) -> (Vec<String>, Option<Method>) {
    let index = LineIndex::new(text);
    let loc = Locator::new("sample", text, &index);
    let ex = comments::extract(lang, &loc, opts);
    let mut lines: Vec<String> = ex
        .comments
        .iter()
        .flatten()
        .map(|l| l.text.trim().to_string())
        .filter(|t| t.starts_with("@threat"))
        .collect();
    lines.sort();
    (lines, ex.method)
}

/// Each clean sample parses without a syntax error and holds six annotations, none of them the
/// fake ones in strings.
#[test]
fn clean_samples_parse_and_hold_six_annotations() {
    for (name, (lang, text)) in samples() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&lang.ts_language().expect("grammar"))
            .expect("loads");
        let tree = parser.parse(&text, None).expect("parses");
        assert!(
            !tree.root_node().has_error(),
            "{name}: the clean sample has a syntax error: {}",
            tree.root_node().to_sexp()
        );
        let (lines, method) = threat_lines(lang, &text, &Options::default());
        assert!(
            matches!(method, Some(Method::TreeSitter | Method::Exact)),
            "{name}: {method:?}"
        );
        assert_eq!(lines.len(), 6, "{name}: {lines:?}");
        assert!(
            lines.iter().all(|l| !l.contains("Fake")),
            "{name}: {lines:?}"
        );
    }
}

/// Whole lines a bad merge or a slip of the keyboard leaves behind.
const LINES: &[&str] = &[
    "}subnet",
    "}",
    "{",
    "(",
    ")",
    "[",
    "]",
    "end",
    "fi",
    ")))",
    "{{{",
    "=>",
    "&&",
    "$(",
    "<<<<<<< HEAD",
    ">>>>>>> feature/x",
    "=======",
];

/// Tokens put between two tokens of a line of code.
const TOKENS: &[&str] = &[
    "}subnet", "(", "[", "{", ")", "]", "}", ",", ";", "=", "=>", "::",
];

/// Where a token may go: line starts, and spaces of code that are outside comments and
/// strings (the samples have no multi-line strings outside comments).
fn insertion_points(lang: &Language, text: &str) -> (Vec<usize>, Vec<usize>) {
    let index = LineIndex::new(text);
    let loc = Locator::new("sample", text, &index);
    let ex = comments::extract(lang, &loc, &Options::default());
    // A comment's markers sit at most four bytes before its text (`/** `, `// `, `# `).
    let spans: Vec<(usize, usize)> = ex
        .comments
        .iter()
        .filter_map(|c| {
            let (first, last) = (c.first()?, c.last()?);
            Some((
                first.offset.saturating_sub(4),
                last.offset + last.text.len(),
            ))
        })
        .collect();
    let mut starts = vec![0];
    let mut mids = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let mut quotes = 0;
        let mut prev = '\0';
        for (i, c) in line.char_indices() {
            let at = line_start + i;
            let in_comment = spans.iter().any(|&(s, e)| s <= at && at < e);
            if in_comment {
                break;
            }
            if c == '"' && prev != '\\' {
                quotes += 1;
            }
            // Not before a `/`: `x }subnet /re/` makes the regex a division, for any lexer.
            let before_slash = line[i..].trim_start().starts_with('/');
            if c == ' ' && quotes % 2 == 0 && prev != ' ' && i > 0 && !before_slash {
                mids.push(at);
            }
            prev = c;
        }
        line_start += line.len();
        if line_start < text.len() {
            starts.push(line_start);
        }
    }
    (starts, mids)
}

/// Insert `n` random breakages into `text`; returns the new text and what was done.
fn break_text(rng: &mut Rng, text: &str, starts: &[usize], mids: &[usize]) -> (String, String) {
    let mut edits: Vec<(usize, String)> = Vec::new();
    for _ in 0..=rng.below(3) {
        match rng.below(4) {
            // A whole committed conflict: both sides stay visible to a reader.
            0 => {
                let mut at = [*rng.pick(starts), *rng.pick(starts), *rng.pick(starts)];
                at.sort_unstable();
                edits.push((at[0], "<<<<<<< HEAD\n".into()));
                edits.push((at[1], "=======\n".into()));
                edits.push((at[2], ">>>>>>> feature/x\n".into()));
            }
            1 => edits.push((*rng.pick(starts), format!("{}\n", rng.pick(LINES)))),
            _ if !mids.is_empty() => {
                edits.push((*rng.pick(mids), format!(" {}", rng.pick(TOKENS))));
            }
            _ => edits.push((*rng.pick(starts), "(\n".into())),
        }
    }
    // Apply from the end so earlier offsets hold; equal offsets keep their order.
    edits.sort_by_key(|(at, _)| *at);
    let mut out = text.to_string();
    for (at, s) in edits.iter().rev() {
        out.insert_str(*at, s);
    }
    let what = edits
        .iter()
        .map(|(at, s)| format!("{at}:{s:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    (out, what)
}

/// Conflict markers, stray tokens and unclosed brackets at random places never lose an
/// annotation nor find one twice, in any grammar.
#[test]
fn syntax_errors_never_lose_an_annotation() {
    let cases: usize = std::env::var("RECOVERY_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut failures = Vec::new();
    for (name, (lang, text)) in samples() {
        let (clean, _) = threat_lines(lang, &text, &Options::default());
        let (starts, mids) = insertion_points(lang, &text);
        let mut rng = Rng(0x7415_0001 ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 8);
        for case in 0..cases {
            let (broken, what) = break_text(&mut rng, &text, &starts, &mids);
            let (got, _) = threat_lines(lang, &broken, &Options::default());
            if got != clean {
                // RECOVERY_DUMP=dir keeps the failing file for a closer look.
                if let Ok(dir) = std::env::var("RECOVERY_DUMP") {
                    let file = format!("{name}.{}", lang.extensions[0]);
                    let _ = std::fs::write(Path::new(&dir).join(file), &broken);
                }
                let missing: Vec<_> = clean.iter().filter(|l| !got.contains(l)).collect();
                let extra: Vec<_> = got.iter().filter(|l| !clean.contains(l)).collect();
                failures.push(format!(
                    "{name} case {case} [{what}]: missing {missing:?}, extra {extra:?} (found {})\n{broken}",
                    got.len()
                ));
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} languages lose annotations:\n{}",
        failures.len(),
        failures.join("\n----\n")
    );
}

/// A parse stopped by its budget gives the model a full parse gives: the sample of every
/// language, read by the lexical scanner (a budget of zero stops tree-sitter before it starts),
/// yields the same annotations, at the same places, as tree-sitter; so a parse stopped by the
/// clock on a busy machine changes nothing. (The budget also counts work, which stops deep
/// nesting at the same point on every machine: `comments::tests::the_budget_counts_work`.)
#[test]
fn a_parse_stopped_by_its_budget_gives_the_same_model() {
    let full = FileOptions {
        extract: Options {
            exact_lexer: false,
            ..Options::default()
        },
        ..FileOptions::default()
    };
    let stopped = FileOptions {
        extract: Options {
            parse_timeout: Some(Duration::ZERO),
            // The lexical scanner against tree-sitter, not against the exact lexer.
            exact_lexer: false,
        },
        ..FileOptions::default()
    };
    let mut differ = Vec::new();
    for (name, (lang, text)) in samples() {
        let path = format!("sample.{}", lang.extensions[0]);
        let a = scan::process_file(&path, text.as_bytes(), &full);
        let b = scan::process_file(&path, text.as_bytes(), &stopped);
        assert!(
            !a.diagnostics.iter().any(|d| d.code.as_str() == "TM025"),
            "{name}: {:?}",
            a.diagnostics
        );
        assert!(
            b.diagnostics.iter().any(|d| d.code.as_str() == "TM025"),
            "{name}: the budget did not stop tree-sitter"
        );
        assert_eq!(a.annotations.len(), 6, "{name}");
        let (a, b) = (
            serde_json::to_value(&a.annotations).expect("json"),
            serde_json::to_value(&b.annotations).expect("json"),
        );
        if a != b {
            differ.push(format!("{name}:\nfull    {a}\nlexical {b}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// A Terraform file with a committed merge conflict and a stray `}subnet`, as found on public
/// Threatspec projects: every component after the error is still declared (so the flows that
/// other files draw to them resolve), both sides of the conflict are read, and the marker is
/// named as TM035 with its line.
#[test]
fn a_committed_conflict_in_terraform_loses_nothing_and_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("threatmark.toml"), "").expect("config");
    std::fs::write(
        root.join("network.tf"),
        r#"# @component Cloud:VPC (#vpc)
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
<<<<<<< HEAD
  # @component Cloud:Public subnet (#public_subnet)
  enable_dns_support = true
=======
  # @component Cloud:Private subnet (#private_subnet)
  enable_dns_hostnames = true
>>>>>>> feature/subnets
}subnet

# @component Cloud:Database (#db)
resource "aws_db_instance" "db" {
  engine = "postgres"
}
// @connects #public_subnet to #db with SQL
"#,
    )
    .expect("tf");
    std::fs::write(
        root.join("app.py"),
        "# @component App (#app)\n# @connects #app to #private_subnet with HTTPS\n# @connects #app to #db with SQL\n",
    )
    .expect("py");
    let out = support::tm()
        .args(["scan", "--format", "json"])
        .arg(root)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).expect("model");
    let ids: Vec<&str> = model["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in ["vpc", "public_subnet", "private_subnet", "db", "app"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}\n{stderr}");
    }
    assert_eq!(
        model["flows"].as_array().map(Vec::len),
        Some(3),
        "{}",
        model["flows"]
    );
    assert!(stderr.contains("[TM035]"), "{stderr}");
    assert!(stderr.contains("network.tf:4:"), "{stderr}");
    assert!(!stderr.contains("error["), "{stderr}");
}

/// The lexical scanner agrees with tree-sitter on every fixture of the suite (the polyglot
/// system hides fake annotations in heredocs, YAML block scalars, assigned triple-quoted
/// strings, regular expressions and JavaScript's `<!--` lines): a file read lexically, because
/// its parse was stopped or it is over 2 MiB, gives the annotations a parse gives.
#[test]
fn the_lexical_scanner_agrees_with_tree_sitter_on_every_fixture() {
    let stopped = FileOptions {
        extract: Options {
            parse_timeout: Some(Duration::ZERO),
            // The lexical scanner against tree-sitter, not against the exact lexer.
            exact_lexer: false,
        },
        ..FileOptions::default()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs = vec![root.clone()];
    let (mut compared, mut differ) = (0, Vec::new());
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            let rel = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy();
            let full = scan::process_file(&rel, &bytes, &FileOptions::default());
            let lexical = scan::process_file(&rel, &bytes, &stopped);
            if !lexical
                .diagnostics
                .iter()
                .any(|d| d.code.as_str() == "TM025")
            {
                continue; // no grammar: read lexically both times
            }
            compared += 1;
            let (a, b) = (
                serde_json::to_value(&full.annotations).expect("json"),
                serde_json::to_value(&lexical.annotations).expect("json"),
            );
            if a != b {
                differ.push(format!("{rel}:\nfull    {a}\nlexical {b}"));
            }
        }
    }
    assert!(compared >= 40, "only {compared} files compared");
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
