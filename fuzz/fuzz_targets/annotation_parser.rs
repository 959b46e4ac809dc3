//! The annotation parser on arbitrary bytes: every line is a comment line. It must never panic,
//! and every diagnostic must point inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (annotations, diagnostics) = threatmark::annotation::parse_text("fuzz.txt", &text);
    for d in &diagnostics {
        if let Some(span) = d.span {
            assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
        }
    }
    for a in &annotations {
        assert!(a.span.end <= text.len());
        assert!(a.source.line >= 1);
    }
});
