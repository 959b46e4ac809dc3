//! A model written to JSON and read back is identical, and writing it again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatmark::model::{FileAnnotations, Project, build, from_json, to_json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (annotations, _) = threatmark::annotation::parse_text("a.rs", &text);
    let files = [FileAnnotations {
        path: "a.rs".into(),
        annotations,
    }];
    let (mut model, _) = build(Project::default(), &files);
    model.analysis = Some(threatmark::analysis::analyze(
        &model,
        &threatmark::analysis::RiskMatrix::default(),
        None,
    ));
    let json = to_json(&model);
    let back = from_json(&json).expect("our own JSON reads back");
    assert_eq!(back, model);
    assert_eq!(to_json(&back), json);
});
