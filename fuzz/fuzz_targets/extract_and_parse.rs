//! Comment extraction plus annotation parsing for every language: the first byte picks the
//! language (tree-sitter grammar or lexical table), the rest is the file. The extractor is driven
//! directly, so the fuzzer does not have to find an annotation keyword to get past the prefilter;
//! the whole per-file pipeline (binary detection, decoding, prefilter) runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatmark::annotation::{Locator, parse_comment};
use threatmark::comments::{Options, extract};
use threatmark::lang::LANGUAGES;
use threatmark::scan::{FileOptions, process_file};
use threatmark::text::LineIndex;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let lang = &LANGUAGES[usize::from(pick) % LANGUAGES.len()];
    let name = match (lang.extensions.first(), lang.filenames.first()) {
        (Some(ext), _) => format!("fuzz.{ext}"),
        (None, Some(name)) => name.trim_end_matches('.').to_string(),
        (None, None) => return,
    };

    let text = String::from_utf8_lossy(file);
    let index = LineIndex::new(&text);
    let loc = Locator::new(&name, &text, &index);
    let extracted = extract(lang, &loc, &Options::default());
    let mut annotations = Vec::new();
    let mut diagnostics = extracted.diagnostics;
    for comment in &extracted.comments {
        for line in comment {
            assert!(line.offset + line.text.len() <= text.len());
            assert_eq!(&text[line.offset..line.offset + line.text.len()], line.text);
        }
        parse_comment(comment, &loc, &mut annotations, &mut diagnostics);
    }

    let outcome = process_file(&name, file, &FileOptions::default());
    for d in &outcome.diagnostics {
        assert!(d.location.as_ref().is_some_and(|l| l.path == name), "{d:?}");
    }
});
