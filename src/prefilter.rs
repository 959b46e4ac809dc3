//! The prefilter: one pass over a file's bytes that answers "could this file hold an annotation?"
//!
//! Parsing is the expensive step, and almost no file in a repository is annotated, so only files
//! that contain `@` followed by a tag stem go on to tree-sitter. The regex is a literal
//! alternation, which the regex crate runs with SIMD substring search. It has no false negatives
//! by construction (every tag starts with one of these stems); false positives such as
//! `@controller` are harmless because the parser rejects them.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// Every tag starts with one of these stems.
pub const STEMS: &[&str] = &[
    "accept",
    "actor",
    "boundary",
    "component",
    "connect",
    "control",
    "expose",
    "mitigate",
    "review",
    "skip",
    "test",
    "threat",
    "transfer",
];

static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    let alternation = STEMS.join("|");
    // The pattern is a fixed literal alternation; it always compiles.
    Regex::new(&format!("@(?:{alternation})")).unwrap_or_else(|_| unreachable!())
});

/// Could `bytes` contain an annotation?
pub fn may_contain_annotations(bytes: &[u8]) -> bool {
    PATTERN.is_match(bytes)
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
    }
}
