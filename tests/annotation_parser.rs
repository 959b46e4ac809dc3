#[test]
fn probe() {
    let text = std::fs::read_to_string("/tmp/scratch/probe.txt").expect("probe");
    for case in text.split("\n===\n") {
        println!("----- {case:?}");
        let (anns, diags) = threatmark::annotation::parse_text("p", case);
        for a in &anns {
            println!("  {:?} {:?} attrs={:?} desc={:?} @{}:{}", a.tag, a.body, a.attributes, a.description, a.source.line, a.source.column);
        }
        for d in &diags {
            println!("  DIAG {} {:?} {} | {:?} | {:?}", d.code, d.location.as_ref().map(|l| (l.line, l.column)), d.message, d.label, d.help);
        }
        let files = vec![threatmark::model::FileAnnotations { path: "p".into(), annotations: anns }];
        let (_m, bd) = threatmark::model::build(threatmark::model::Project::default(), &files);
        for d in &bd {
            println!("  BUILD {} {:?} {} | {:?}", d.code, d.location.as_ref().map(|l| (l.line, l.column)), d.message, d.help);
        }
    }
}
