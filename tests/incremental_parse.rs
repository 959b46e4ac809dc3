//! A file parsed by tree-sitter as an edit of its prior version (`diff` of a change with no
//! snapshot: `comments::with_prior_parse`) yields what a fresh parse of it yields: the same
//! comments (text and offsets) and diagnostics.
//!
//! Each file gets a few edits from a seed (a comment line appended, as the diff bench's
//! change does; a line inserted, deleted or doubled; a short run of bytes replaced by another
//! part of the file), and each edited version is extracted twice with tree-sitter alone:
//! afresh, and after the original inside `with_prior_parse`. Inputs: every source file of the
//! repository and, in an ignored test, every file of the trees named by
//! `THREATMARK_EXACT_TREE` (`:`-separated).

use std::path::{Path, PathBuf};

use threatmark::annotation::Locator;
use threatmark::comments::{self, Options};
use threatmark::lang::Language;
use threatmark::text::LineIndex;

mod support;
use support::Rng;

/// Files compared, edits whose parse reused the prior tree, and mismatches.
#[derive(Default)]
struct Tally {
    edits: usize,
    reused: usize,
    mismatches: Vec<String>,
}

const TREE_SITTER_ONLY: Options = Options {
    parse_timeout: Some(std::time::Duration::from_secs(5)),
    exact_lexer: false,
};

/// The comments and diagnostics of `bytes`, as text for comparison, and whether the parse
/// reused a prior tree.
fn extract(lang: &Language, name: &str, bytes: &[u8]) -> (String, bool) {
    let text = threatmark::text::decode(bytes).text;
    let index = LineIndex::new(&text);
    let loc = Locator::new(name, &text, &index);
    let out = comments::extract(lang, &loc, &TREE_SITTER_ONLY);
    (
        format!("{:?}\n{:?}", out.comments, out.diagnostics),
        out.reused_tree,
    )
}

/// A line boundary of `bytes` at or after `at`.
fn line_start(bytes: &[u8], at: usize) -> usize {
    bytes[at.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| at + p + 1)
}

/// Edited versions of `bytes`.
fn edits(lang: &Language, bytes: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let (marker, close) = match (lang.line_comments.first(), lang.block_comments.first()) {
        (Some(line), _) => (*line, ""),
        (None, Some((open, close))) => (*open, *close),
        (None, None) => ("#", ""),
    };
    let note = format!("{marker} @exposes #a to #b with a reviewed change{close}\n");
    let mut out = Vec::new();
    // Appended, as the bench's change.
    let mut appended = bytes.to_vec();
    if !appended.ends_with(b"\n") {
        appended.push(b'\n');
    }
    appended.extend_from_slice(note.as_bytes());
    out.push(appended);
    let len = bytes.len();
    let (a, b) = (
        line_start(bytes, rng.below(len)),
        line_start(bytes, rng.below(len)),
    );
    let (a, b) = (a.min(b), a.max(b));
    let next = line_start(bytes, a);
    // A comment line inserted; a line deleted; a line doubled.
    out.push([&bytes[..a], note.as_bytes(), &bytes[a..]].concat());
    out.push([&bytes[..a], &bytes[next..]].concat());
    out.push([&bytes[..next], &bytes[a..next], &bytes[next..]].concat());
    // A short run of bytes replaced by another part of the file (may break the syntax).
    let at = rng.below(len);
    let end = (at + rng.below(16)).min(len);
    let from = rng.below(len);
    let with = &bytes[from..(from + rng.below(24)).min(len)];
    out.push([&bytes[..at], with, &bytes[end..]].concat());
    // Text moved from one line boundary to another.
    out.push([&bytes[..a], &bytes[b..], &bytes[a..b]].concat());
    out
}

fn compare(lang: &Language, name: &str, bytes: &[u8], rng: &mut Rng, tally: &mut Tally) {
    if lang.grammar.is_none() || bytes.is_empty() {
        return;
    }
    for edited in edits(lang, bytes, rng) {
        if std::str::from_utf8(&edited).is_err() {
            continue;
        }
        let (fresh, _) = extract(lang, name, &edited);
        let (incremental, reused) = comments::with_prior_parse(|| {
            extract(lang, name, bytes);
            extract(lang, name, &edited)
        });
        tally.edits += 1;
        tally.reused += usize::from(reused);
        if fresh != incremental {
            tally.mismatches.push(format!(
                "{name}: edited to {:?}",
                String::from_utf8_lossy(&edited[..edited.len().min(200)])
            ));
        }
    }
}

fn compare_tree(roots: &[PathBuf], every: usize) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng(20);
    for path in support::source_files(roots)
        .into_iter()
        .step_by(every.max(1))
    {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes.len() > 256 * 1024 || std::str::from_utf8(&bytes).is_err() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(lang) = threatmark::lang::detect(name, &bytes[..bytes.len().min(512)], |_| None)
        {
            compare(
                lang,
                &path.display().to_string(),
                &bytes,
                &mut rng,
                &mut tally,
            );
        }
    }
    tally
}

fn check(tally: &Tally) {
    println!(
        "edits {}, parsed as an edit of the prior tree {}, mismatches {}",
        tally.edits,
        tally.reused,
        tally.mismatches.len()
    );
    assert!(
        tally.mismatches.is_empty(),
        "an incremental parse disagrees with a fresh one:\n{}",
        tally.mismatches.join("\n")
    );
}

/// Every fourth source file of the repository (fixtures in every language among them).
#[test]
fn an_edit_parsed_from_the_prior_tree_finds_what_a_fresh_parse_finds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots: Vec<PathBuf> = ["tests", "src", "benches", "fuzz"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let tally = compare_tree(&roots, 4);
    check(&tally);
    // The prior tree is used for most edits, or the lever is not exercised.
    assert!(
        tally.reused * 2 > tally.edits,
        "{} of {}",
        tally.reused,
        tally.edits
    );
}

/// `THREATMARK_EXACT_TREE=/a:/b cargo test --release --test incremental_parse -- --ignored`
#[test]
#[ignore = "reads the trees named by THREATMARK_EXACT_TREE"]
fn an_edit_parsed_from_the_prior_tree_agrees_on_the_trees_named() {
    let roots = support::roots_from_env("THREATMARK_EXACT_TREE");
    let every = std::env::var("THREATMARK_EVERY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    check(&compare_tree(&roots, every));
}
