//! Comment extraction plus annotation parsing for every language: the first byte picks the
//! language (tree-sitter grammar or lexical table), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatmark::lang::LANGUAGES;
use threatmark::scan::{FileOptions, process_file};

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
    let outcome = process_file(&name, file, &FileOptions::default());
    for d in &outcome.diagnostics {
        assert!(d.location.as_ref().is_some_and(|l| l.path == name), "{d:?}");
    }
});
