//! Files in docs/ that are generated from the code must match it. Regenerate them with
//! `UPDATE_DOCS=1 cargo test --test generated_docs`.

use std::path::Path;

fn check(rel: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, expected).expect("write");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{rel} is out of date; run `UPDATE_DOCS=1 cargo test --test generated_docs`"
    );
}

#[test]
fn threatmodel_schema_is_current() {
    check(
        "docs/threatmodel.schema.json",
        &threatmark::model::json_schema(),
    );
}

#[test]
fn diagnostics_reference_is_current() {
    check(
        "docs/diagnostics.md",
        &threatmark::diagnostic::reference_markdown(),
    );
}
