//! The exact lexer against tree-sitter: the first byte picks a language the exact lexer covers,
//! the rest is the file. Where the lexer answers (it refuses what it does not model), its
//! comments and diagnostics must be those tree-sitter gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatmark::annotation::Locator;
use threatmark::comments::{Method, Options, extract};
use threatmark::lang::{LANGUAGES, exact};
use threatmark::text::LineIndex;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let covered: Vec<_> = LANGUAGES
        .iter()
        .filter(|l| l.grammar.is_some() && exact::covers(l.name))
        .collect();
    let lang = covered[usize::from(pick) % covered.len()];
    let text = threatmark::text::decode(file).text;
    let index = LineIndex::new(&text);
    let loc = Locator::new("fuzz", &text, &index);
    let fast = extract(lang, &loc, &Options::default());
    if fast.method != Some(Method::Exact) {
        return;
    }
    let slow = extract(
        lang,
        &loc,
        &Options {
            exact_lexer: false,
            ..Options::default()
        },
    );
    assert_eq!(fast.comments, slow.comments, "{}", lang.name);
    assert_eq!(
        format!("{:?}", fast.diagnostics),
        format!("{:?}", slow.diagnostics)
    );
});
