//! Threatspec design text: a plain-text file read whole as annotation text.
//!
//! Threatspec 0.5 gives every file that libmagic calls `text/plain` and whose name ends in
//! `.txt` to its TextFileParser, which reads the whole file as one comment: a line that starts
//! with a tag (after white space) is an annotation, a line ending in `:` opens a YAML body that a
//! blank line closes, and every other line is prose. Several public projects keep their whole
//! model in such a file, one of them without a `threatspec.yaml` (its CI writes one). So every
//! `.txt` file is read this way, in any project: prose says nothing, and in the public
//! repositories surveyed no `.txt` other than design files has a line that starts with a tag.
//! It is not a language (it has no comment markers), so it has no row in the language table;
//! `[languages] extensions` may map more extensions to [`NAME`], or `txt` to a language (as a
//! Threatspec `mime:` path does), and `[scan] exclude` leaves files out. A file name a language
//! claims (`CMakeLists.txt`) is that language's.
//!
//! @control Plain design text read as Threatspec reads it (#plain_design_text): a `.txt` file (or any extension threatmark.toml maps to `text`) is read whole, each line that starts with a tag an annotation and the rest prose, so a model kept in a design file is not lost
//! @mitigates #scanner against #silent_loss with #plain_design_text

use crate::annotation::CommentLine;
use crate::text::LineIndex;

/// The pseudo-language an extension is mapped to in `[languages] extensions`.
pub const NAME: &str = "text";

/// The extension read as design text unless `[languages]` maps it to a language.
pub const EXTENSION: &str = "txt";

/// Every line of `text` as a comment line, so the whole file is one comment.
pub fn lines<'a>(text: &'a str, index: &LineIndex) -> Vec<CommentLine<'a>> {
    (0..index.line_count())
        .map(|line| {
            let r = index.line_range(text, line);
            CommentLine {
                text: &text[r.clone()],
                offset: r.start,
            }
        })
        .collect()
}
