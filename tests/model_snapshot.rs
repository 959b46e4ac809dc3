//! The polyglot shop (`tests/fixtures/polyglot/`), scanned end to end.
//!
//! The model JSON is a public interface (`threatmodel.json`), so it is a snapshot: ids, names,
//! boundaries, placements, flow crossings and sources all show up in review when they change.
//! The fixture is a clean example, so it must produce no error diagnostics; what it does produce
//! is rendered and snapshotted too.
//!
//! To accept a change: `INSTA_UPDATE=always cargo test --test model_snapshot`, then read the
//! diff of `tests/snapshots/` before committing it.

use std::path::Path;

use threatmark::config::Config;
use threatmark::scan::{ScanResult, scan_dir};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/polyglot");

fn scan(threads: usize) -> ScanResult {
    scan_dir(Path::new(FIXTURE), &Config::default(), threads, &|| {})
        .expect("the polyglot fixture scans")
}

fn fixture_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| {
            let path = e.expect("directory entry").path();
            if path.is_dir() {
                fixture_files(&path)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn polyglot_model() {
    let result = scan(1);
    assert_eq!(result.model.project.name, "polyglot");
    // Every sample adds to the model; a file that stopped contributing is a bug somewhere.
    assert_eq!(
        result.stats.files_annotated,
        fixture_files(Path::new(FIXTURE)),
        "every fixture file holds annotations"
    );
    insta::assert_snapshot!("polyglot_model", threatmark::model::to_json(&result.model));
}

#[test]
fn polyglot_diagnostics() {
    let result = scan(1);
    let rendered =
        threatmark::render::diagnostics::render(&result.diagnostics, &result.sources, false);
    let errors = result.diagnostics.iter().filter(|d| d.is_error()).count();
    assert_eq!(
        errors, 0,
        "the polyglot shop is a clean example:\n{rendered}"
    );
    insta::assert_snapshot!("polyglot_diagnostics", rendered);
}

#[test]
fn model_does_not_depend_on_thread_count() {
    let one = threatmark::model::to_json(&scan(1).model);
    let two = threatmark::model::to_json(&scan(2).model);
    assert!(one == two, "a 2-thread scan gave a different model");
}
