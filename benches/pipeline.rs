//! Criterion micro-benchmarks of the per-file pipeline: the prefilter, comment extraction with
//! tree-sitter, and the annotation parser. `cargo bench --bench pipeline`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use threatmark::annotation::{Locator, parse_text};
use threatmark::comments::{Options, extract};
use threatmark::scan::{FileOptions, process_file};
use threatmark::text::LineIndex;

fn rust_source(functions: usize, annotated: bool) -> String {
    let mut s = String::from("//! A module.\n\nuse std::io;\n\n");
    for i in 0..functions {
        s.push_str(&format!(
            "/// Adds {i}.\n/// More words about the function and its errors.\npub fn f{i}(x: u32) -> io::Result<u32> {{\n    // A comment inside.\n    Ok(x + {i})\n}}\n\n"
        ));
        if annotated && i % 10 == 0 {
            s.push_str(&format!(
                "// @threat Injection {i} (#inj{i}) [stride: T,I; likelihood: likely; impact: major]: text\n// @mitigates Api:{i} against #inj{i} with Validation {i}\n\n"
            ));
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let plain = rust_source(400, false);
    let annotated = rust_source(400, true);
    let opts = FileOptions::default();

    let mut g = c.benchmark_group("process_file");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("rust, no annotations (prefilter only)", |b| {
        b.iter(|| process_file("a.rs", black_box(plain.as_bytes()), &opts))
    });
    g.throughput(Throughput::Bytes(annotated.len() as u64));
    g.bench_function("rust, 40 annotated comments", |b| {
        b.iter(|| process_file("a.rs", black_box(annotated.as_bytes()), &opts))
    });
    g.finish();

    let lang = threatmark::lang::by_name("rust").expect("rust");
    let index = LineIndex::new(&annotated);
    c.bench_function("extract comments (tree-sitter, rust)", |b| {
        b.iter(|| {
            let loc = Locator::new("a.rs", black_box(&annotated), &index);
            extract(lang, &loc, &Options::default()).comments.len()
        })
    });

    let block: String = (0..100)
        .map(|i| {
            format!(
                "@mitigates Shop:Api{i} (#api{i}) against SQL injection {i} [stride: T; owner: @team]: described\n"
            )
        })
        .collect();
    c.bench_function("parse 100 annotation lines", |b| {
        b.iter(|| parse_text("a.rs", black_box(&block)).0.len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
