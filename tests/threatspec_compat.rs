#[test]
fn dump() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/threatspec");
    let r = threatmark::scan::scan_dir(&root, &threatmark::config::Config::default(), 1, &|| {}).expect("scan");
    println!("{}", threatmark::model::to_json(&r.model));
    for d in &r.diagnostics { println!("{:?} {:?} {}", d.code, d.location, d.message); }
}
