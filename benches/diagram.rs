//! Criterion benchmark of the data-flow diagram: layout, arrow routing and SVG of the overview
//! of seeded generated models (tests/support/generate.rs, the generator of tests/diagram.rs):
//! 40 components / 80 flows / 7 nested boundaries, 400/400 and 2,000/2,000.
//! `cargo bench --bench diagram` prints the median of each.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmark::analysis::{RiskMatrix, analyze};
use threatmark::model::{FileAnnotations, Project, ThreatModel, build};

#[path = "../tests/support/generate.rs"]
#[allow(dead_code)]
mod generate;

fn model(seed: u64, components: usize, flows: usize) -> ThreatModel {
    // The generator writes `# @...` comment lines; the parser reads the annotations.
    let text: String = generate::annotations(seed, components, flows, true)
        .lines()
        .map(|l| format!("{}\n", l.trim_start_matches("# ")))
        .collect();
    let (annotations, _) = threatmark::annotation::parse_text("model.py", &text);
    let files = [FileAnnotations {
        path: "model.py".to_string(),
        annotations,
    }];
    let project = Project {
        name: "generated".to_string(),
        ..Project::default()
    };
    build(project, &files).0
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("diagram (layout + routing + svg)");
    g.sample_size(10);
    for (seed, components, flows) in [(7, 40, 80), (3, 400, 400), (11, 2000, 2000)] {
        let m = model(seed, components, flows);
        assert_eq!(m.components.len(), components);
        let analysis = analyze(&m, &RiskMatrix::default(), None);
        g.bench_function(format!("{components} components, {flows} flows"), |b| {
            b.iter(|| threatmark::render::diagram_svg(black_box(&m), &analysis).len())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
