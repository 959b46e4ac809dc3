//! The prefilter: one pass over a file's bytes that answers "could this file hold an annotation?"
//!
//! Parsing is the expensive step, and almost no file in a repository is annotated, so only files
//! that contain `@` followed by a tag stem go on to tree-sitter. The regex is a literal
//! alternation, which the regex crate runs with SIMD substring search. It has no false negatives
//! by construction (every tag starts with one of these stems); false positives such as
//! `@controller` are harmless because the parser rejects them.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::annotation::Tag;

/// Every tag starts with one of these stems (GuardLink's verbs are added from gal.rs).
pub(crate) const STEMS: &[&str] = &[
    "accept",
    "actor",
    "boundary",
    "component",
    "connect",
    "control",
    "dismiss",
    "expose",
    "mitigate",
    "review",
    "test",
    "threat",
    "transfer",
];

static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    // GuardLink's verbs are listed once, where its dialect is read.
    let stems: Vec<&str> = STEMS
        .iter()
        .chain(crate::annotation::gal::GAL_ONLY)
        .copied()
        .collect();
    let alternation = stems.join("|");
    // The pattern is a fixed literal alternation; it always compiles.
    Regex::new(&format!("@(?:{alternation})")).unwrap_or_else(|_| unreachable!())
});

/// Could `bytes` contain an annotation, or a near miss that deserves a note?
///
/// After the SIMD search, each hit is checked the way the parser will check it, which keeps
/// decorators, e-mail addresses and words such as `@skipUnless` away from tree-sitter: in a
/// comment line a tag can only follow whitespace or comment-marker punctuation, and the word
/// must be a tag or within the parser's near-miss distance of one.
///
/// A format character near an `@` is checked with the invisible characters taken out, so a
/// file whose only tag hides behind one still reaches the parser, which reads it and reports
/// the character (TM029).
pub(crate) fn may_contain_annotations(bytes: &[u8]) -> bool {
    PATTERN
        .find_iter(bytes)
        .any(|m| plausible_tag(bytes, m.start()))
        || hidden_tags(bytes)
}

/// The lead bytes of the UTF-8 encodings of the format characters that can hide a tag from the
/// stems (`@\u{200B}threat`, `@thr\u{AD}eat`): soft hyphen (C2), U+061C (D8), U+200B-U+206F
/// (E2) and U+FEFF (EF).
fn invisible_lead(b: u8) -> bool {
    matches!(b, 0xC2 | 0xD8 | 0xE2 | 0xEF)
}

/// A second, rarer pass for files the stems did not let through: an `@` with a possible format
/// character just before or soon after it. Searching for `@` (memchr) keeps the stems' single
/// literal prefix fast; typographic quotes share the E2 lead byte and would make a joint
/// pattern fire on every line of prose.
fn hidden_tags(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'@', bytes).any(|at| {
        let near = &bytes[at.saturating_sub(3)..bytes.len().min(at + 40)];
        near.iter().copied().any(invisible_lead) && hidden_tag(bytes, at)
    })
}

/// Is there a plausible tag around the format character at `at`, once every format character
/// near it is taken out? Looks at a few bytes either side only.
fn hidden_tag(bytes: &[u8], at: usize) -> bool {
    let window = &bytes[at.saturating_sub(16)..bytes.len().min(at + 40)];
    let visible: String = String::from_utf8_lossy(window)
        .chars()
        .filter(|c| !crate::annotation::invisible::is_format(*c))
        .collect();
    let visible = visible.as_bytes();
    visible
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'@' && plausible_tag(visible, i))
}

fn plausible_tag(bytes: &[u8], at: usize) -> bool {
    let glued = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if at > 0 && glued(bytes[at - 1]) {
        return false;
    }
    let rest = &bytes[at + 1..];
    let len = rest
        .iter()
        .position(|&b| !(glued(b) || b == b'-'))
        .unwrap_or(rest.len());
    // Long words are never within distance 2 of a tag (the longest spelling has 9 letters).
    if len > 12 {
        return false;
    }
    let Ok(word) = std::str::from_utf8(&rest[..len]) else {
        return false;
    };
    Tag::from_word(word).is_some() || crate::annotation::near_miss_tag(word).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_every_tag_spelling() {
        for (word, _) in crate::annotation::Tag::SPELLINGS {
            assert!(
                may_contain_annotations(format!("// @{word} x").as_bytes()),
                "{word}"
            );
        }
        assert!(!may_contain_annotations(
            b"fn main() { println!(\"hello\"); }"
        ));
        assert!(!may_contain_annotations(b"@Component class X {}"));
        // Decorators, addresses and long words are not tags.
        assert!(!may_contain_annotations(b"@skipUnless(x)\n@skip_doctest\n"));
        assert!(!may_contain_annotations(b"mail test@test.test"));
        assert!(!may_contain_annotations(b"# @connections are pooled"));
        // Near misses still reach the parser, which notes them.
        assert!(may_contain_annotations(b"// @threats X"));
        assert!(may_contain_annotations(b"// @tests."));
        assert!(may_contain_annotations(b"/*@threat X*/"));
        assert!(may_contain_annotations(b"r\"\"\"@threat X"));
    }

    #[test]
    fn tags_behind_invisible_characters_reach_the_parser() {
        for text in [
            "// @\u{200B}threat X",
            "// \u{200B}@threat X",
            "// @thr\u{AD}eat X",
            "# @mitig\u{2060}ates A against B with C",
            "# @\u{FEFF}component X",
            "# @\u{202E}tests K for C",
        ] {
            assert!(may_contain_annotations(text.as_bytes()), "{text:?}");
        }
        // Invisible characters far from any tag, or in prose, are not annotations.
        for text in [
            "let s = \"a\u{200B}b\";",
            "\u{FEFF}fn main() {}",
            "// soft\u{AD}hyphen and an @\u{200B}param",
            "// \u{201C}quoted\u{201D} @ home",
        ] {
            assert!(!may_contain_annotations(text.as_bytes()), "{text:?}");
        }
    }
}
