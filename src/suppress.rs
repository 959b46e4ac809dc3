//! Which diagnostics are shown: `[diagnostics] select / ignore / per-file-ignores` in
//! threatmark.toml, and inline `threatmark: ignore[TM103] reason` comments, as ruff has them.
//!
//! Pure: patterns and comment lines in, a verdict per diagnostic out. Selection only changes what
//! `scan` and `analyze` print (and what `check` lists); it never changes the model, and `check`'s
//! verdict counts every diagnostic, suppressed or not, because the pull request under check could
//! otherwise pass the gate by suppressing what fails it. Diagnostics that say part of the input
//! was not read ([`never_suppressed`]) are shown whatever the configuration or a comment says.
//!
//! @threat Gate silenced by suppression (#suppressed_gate) [stride: T,R; likelihood: likely; impact: major; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a pull request adds `[diagnostics] ignore = ["TM003"]` or a `threatmark: ignore[...]` comment so that `threatmark check` passes over what should fail it
//! @control Suppression never reaches the gate (#suppression_not_gate): check decides on every diagnostic and lists the suppressed ones with their places; unread-input diagnostics cannot be suppressed, and a blanket `threatmark: ignore` is refused (TM048)
//! @mitigates #cli against #suppressed_gate with #suppression_not_gate

use std::collections::BTreeMap;

use crate::annotation::{CommentLine, Locator};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::model::Location;

/// Codes no selection and no comment removes: they say that a file (or a part of the model) was
/// not read, so hiding them would hide a loss of annotations; and a refused blanket suppression.
pub fn never_suppressed(code: Code) -> bool {
    matches!(
        code,
        Code::BinaryFile
            | Code::FileTooLarge
            | Code::IoError
            | Code::SymlinkLoop
            | Code::ParseBudget
            | Code::GrammarError
            | Code::TooDeep
            | Code::IgnoreFileTooLarge
            | Code::GitIndexUnreadable
            | Code::LinkOutOfRoot
            | Code::MergeConflictMarker
            | Code::BlanketSuppression
    )
}

/// One entry of `select`, `ignore` or a `per-file-ignores` list: `ALL`, a code, a prefix of codes
/// (`TM1`) or a code's name (`stride-gap`). Longer patterns are more specific.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    Prefix(String),
    Code(Code),
}

impl Pattern {
    fn parse(text: &str) -> Option<Pattern> {
        let t = text.trim();
        if t == "ALL" {
            return Some(Pattern::All);
        }
        if let Some(code) = Code::ALL.iter().find(|c| c.name() == t) {
            return Some(Pattern::Code(*code));
        }
        let upper = t.to_ascii_uppercase();
        let known = upper.len() >= 2
            && Code::ALL
                .iter()
                .any(|c| c.as_str().starts_with(upper.as_str()));
        known.then_some(Pattern::Prefix(upper))
    }

    /// How specific the match is, when `code` matches.
    fn matches(&self, code: Code) -> Option<usize> {
        match self {
            Pattern::All => Some(0),
            Pattern::Prefix(p) => code.as_str().starts_with(p.as_str()).then_some(p.len()),
            Pattern::Code(c) => (*c == code).then_some(code.as_str().len()),
        }
    }

    /// The codes named exactly (for "cannot be suppressed" messages).
    fn exact(&self) -> Option<Code> {
        match self {
            Pattern::Code(c) => Some(*c),
            Pattern::Prefix(p) => Code::ALL.iter().copied().find(|c| c.as_str() == p),
            Pattern::All => None,
        }
    }
}

fn most_specific(patterns: &[Pattern], code: Code) -> Option<usize> {
    patterns.iter().filter_map(|p| p.matches(code)).max()
}

/// The `[diagnostics]` table, compiled.
#[derive(Debug, Clone)]
pub struct Rules {
    select: Vec<Pattern>,
    ignore: Vec<Pattern>,
    per_file: Vec<(ignore::gitignore::Gitignore, Vec<Pattern>)>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            select: vec![Pattern::All],
            ignore: Vec::new(),
            per_file: Vec::new(),
        }
    }
}

impl Rules {
    /// Compile the table; `Err` names the key and the entry that is wrong.
    pub fn new(
        select: &[String],
        ignore: &[String],
        per_file: &BTreeMap<String, Vec<String>>,
    ) -> Result<Rules, String> {
        let patterns = |key: &str, list: &[String], removes: bool| {
            list.iter()
                .map(|entry| {
                    let p = Pattern::parse(entry).ok_or_else(|| {
                        format!(
                            "[diagnostics] {key}: `{}` is no diagnostic code, prefix of codes (`TM1`), name or `ALL` (see `threatmark explain --all`)",
                            entry.escape_debug()
                        )
                    })?;
                    match p.exact().filter(|c| removes && never_suppressed(*c)) {
                        Some(c) => Err(format!(
                            "[diagnostics] {key}: {c} ({}) cannot be ignored: it says that part of the input was not read",
                            c.name()
                        )),
                        None => Ok(p),
                    }
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let mut rules = Rules {
            select: patterns("select", select, false)?,
            ignore: patterns("ignore", ignore, true)?,
            per_file: Vec::new(),
        };
        if select.is_empty() {
            rules.select.push(Pattern::All);
        }
        for (glob, list) in per_file {
            let key = format!("per-file-ignores `{}`", glob.escape_debug());
            let mut builder = ignore::gitignore::GitignoreBuilder::new("");
            let matcher = builder
                .add_line(None, glob)
                .and_then(|b| b.build())
                .map_err(|e| format!("[diagnostics] {key}: {e}"))?;
            rules.per_file.push((matcher, patterns(&key, list, true)?));
        }
        Ok(rules)
    }

    /// Is `code` shown for a diagnostic in `path` (none: a diagnostic without a file)?
    pub fn shows(&self, code: Code, path: Option<&str>) -> bool {
        if never_suppressed(code) {
            return true;
        }
        let selected = most_specific(&self.select, code);
        let ignored = most_specific(&self.ignore, code);
        // The more specific pattern wins (`select = ["TM103"]` with `ignore = ["TM1"]` shows
        // TM103); on a tie, ignore wins.
        if selected.is_none() || ignored >= selected {
            return false;
        }
        let Some(path) = path else { return true };
        !self.per_file.iter().any(|(glob, list)| {
            glob.matched_path_or_any_parents(path, false).is_ignore()
                && most_specific(list, code).is_some()
        })
    }

    /// The table selects everything and ignores nothing.
    pub fn is_default(&self) -> bool {
        self.select == [Pattern::All] && self.ignore.is_empty() && self.per_file.is_empty()
    }
}

/// A `threatmark: ignore[...]` comment: it suppresses its codes on its own line and on the line
/// just below it (so it can sit above an annotation, whose comment line it cannot share).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suppression {
    pub location: Location,
    pub span: Span,
    pub codes: Vec<Code>,
}

impl Suppression {
    fn covers(&self, d: &Diagnostic) -> bool {
        d.location.as_ref().is_some_and(|l| {
            l.path == self.location.path
                && (l.line == self.location.line || l.line == self.location.line + 1)
        }) && self.codes.contains(&d.code)
    }
}

const MARKER: &str = "threatmark:";

/// Where a `threatmark: ignore` directive starts in `line`, if it has one.
fn directive_at(line: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = line[from..].find(MARKER) {
        let start = from + at;
        from = start + MARKER.len();
        // Only a word of its own: "`threatmark: ignore[...]`" in prose is a code span.
        let own_word = line[..start]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        if own_word
            && let Some(after) = line[from..].trim_start().strip_prefix("ignore")
            && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Some(start);
        }
    }
    None
}

/// The comment lines with each directive and what follows it cut off, for the annotation parser:
/// a directive written after an annotation on its line is not part of its name, and one on the
/// line below a description does not continue it.
pub fn strip_directives<'s, 'a>(
    lines: &'s [CommentLine<'a>],
) -> std::borrow::Cow<'s, [CommentLine<'a>]> {
    if !lines.iter().any(|l| directive_at(l.text).is_some()) {
        return std::borrow::Cow::Borrowed(lines);
    }
    lines
        .iter()
        .map(|l| match directive_at(l.text) {
            Some(at) => CommentLine {
                text: l.text[..at].trim_end(),
                offset: l.offset,
            },
            None => *l,
        })
        .collect()
}

/// Read the suppression comments of one comment (a file's comment lines): valid ones go to
/// `out`, problems with them (a blanket `ignore`, an unknown code) to `diags`.
pub fn parse_comment(
    lines: &[CommentLine<'_>],
    loc: &Locator<'_>,
    out: &mut Vec<Suppression>,
    diags: &mut Vec<Diagnostic>,
) {
    for line in lines {
        // One directive a line (`threatmark: ignored ...` is prose, not one).
        if let Some(start) = directive_at(line.text) {
            let from = start + MARKER.len();
            let after = line.text[from..]
                .trim_start()
                .strip_prefix("ignore")
                .unwrap_or_default();
            let head = line.text.len() - after.len();
            let body = after
                .strip_prefix('[')
                .and_then(|b| b.split_once(']'))
                .map(|(codes, _)| codes);
            let end = head + body.map_or(0, |b| b.len() + 2);
            let span = Span::new(line.offset + start, line.offset + end);
            let codes_text: Vec<&str> = body
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            if codes_text.is_empty() {
                diags.push(
                    loc.diag(
                        Code::BlanketSuppression,
                        "`threatmark: ignore` without codes suppresses nothing: name the codes",
                        span,
                    )
                    .label("no codes")
                    .help("write `threatmark: ignore[TM103] why`; a blanket suppression would hide every diagnostic of the line"),
                );
                continue;
            }
            let mut codes = Vec::new();
            for text in codes_text {
                match text.parse::<Code>() {
                    Ok(code) if !never_suppressed(code) => codes.push(code),
                    Ok(code) => diags.push(
                        loc.diag(
                            Code::InvalidSuppression,
                            format!(
                                "{code} ({}) cannot be suppressed: it says that part of the input was not read",
                                code.name()
                            ),
                            span,
                        )
                        .help("fix the cause (size limit, permissions, links), or exclude the file"),
                    ),
                    Err(()) => diags.push(
                        loc.diag(
                            Code::InvalidSuppression,
                            format!(
                                "`{}` in `threatmark: ignore[...]` is no diagnostic code",
                                crate::render::escape::printable(text)
                            ),
                            span,
                        )
                        .help("name codes as `threatmark explain --all` lists them (TM103)"),
                    ),
                }
            }
            codes.sort();
            codes.dedup();
            if !codes.is_empty() {
                out.push(Suppression {
                    location: loc.location(span.start),
                    span,
                    codes,
                });
            }
        }
    }
}

/// Why a diagnostic is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    /// `[diagnostics]` in the configuration.
    Config,
    /// A comment, at this place.
    Comment(Location),
}

/// What selection did to a list of diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// One per diagnostic given: `None` shown, else why not.
    pub hidden: Vec<Option<By>>,
    /// TM046 for each code of a comment that suppressed nothing (already filtered by the rules).
    pub unused: Vec<Diagnostic>,
}

impl Applied {
    pub fn shown(&self, i: usize) -> bool {
        self.hidden.get(i).is_none_or(Option::is_none)
    }
}

/// Apply the rules and the comments to `diags` (everything the command knows of, so that a
/// comment for an analysis finding counts as used even where findings are not printed).
pub fn apply(rules: &Rules, comments: &[Suppression], diags: &[Diagnostic]) -> Applied {
    let mut by_line: BTreeMap<(&str, u32), Vec<usize>> = BTreeMap::new();
    for (i, s) in comments.iter().enumerate() {
        for line in [s.location.line, s.location.line + 1] {
            by_line
                .entry((s.location.path.as_str(), line))
                .or_default()
                .push(i);
        }
    }
    let mut used: Vec<Vec<bool>> = comments
        .iter()
        .map(|s| vec![false; s.codes.len()])
        .collect();
    let hidden = diags
        .iter()
        .map(|d| {
            if never_suppressed(d.code) {
                return None;
            }
            let path = d.location.as_ref().map(|l| l.path.as_str());
            let mut by = None;
            if let Some(l) = &d.location
                && let Some(found) = by_line.get(&(l.path.as_str(), l.line))
            {
                for &i in found {
                    let s = &comments[i];
                    if let Some(k) = s.codes.iter().position(|c| *c == d.code)
                        && s.covers(d)
                    {
                        used[i][k] = true;
                        by.get_or_insert_with(|| By::Comment(s.location.clone()));
                    }
                }
            }
            by.or_else(|| (!rules.shows(d.code, path)).then_some(By::Config))
        })
        .collect();
    let unused = comments
        .iter()
        .zip(&used)
        .flat_map(|(s, used)| {
            s.codes.iter().zip(used).filter(|(_, u)| !**u).map(|(c, _)| {
                Diagnostic::new(
                    Code::UnusedSuppression,
                    format!("`threatmark: ignore[{c}]` suppresses nothing: no {c} on this line or the next"),
                )
                .at(s.location.clone())
                .at_span(s.span)
                .label("unused")
                .help("remove the code from the comment (the problem it hid is gone, or it sits on another line)")
            })
        })
        .filter(|d| rules.shows(d.code, d.location.as_ref().map(|l| l.path.as_str())))
        .collect();
    Applied { hidden, unused }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LineIndex;

    fn rules(select: &[&str], ignore: &[&str], per_file: &[(&str, &[&str])]) -> Rules {
        let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let pf = per_file
            .iter()
            .map(|(g, l)| (g.to_string(), s(l)))
            .collect();
        Rules::new(&s(select), &s(ignore), &pf).expect("valid")
    }

    #[test]
    fn prefixes_select_and_the_more_specific_pattern_wins() {
        let r = rules(&["TM1", "TM022"], &["TM103"], &[]);
        assert!(r.shows(Code::UnmitigatedExposure, None));
        assert!(!r.shows(Code::StrideGap, None));
        assert!(
            !r.shows(Code::UndefinedReference, None),
            "TM003 not selected"
        );
        assert!(r.shows(Code::FileTooLarge, None));
        let r = rules(&["TM103"], &["TM1"], &[]);
        assert!(r.shows(Code::StrideGap, None), "more specific select wins");
        assert!(!r.shows(Code::UnownedThreat, None));
        let r = rules(&["ALL"], &["ALL"], &[]);
        assert!(!r.shows(Code::StrideGap, None), "a tie: ignore wins");
        assert!(r.shows(Code::IoError, None), "never suppressed");
        let r = rules(&[], &["stride-gap", "tm10"], &[]);
        assert!(!r.shows(Code::StrideGap, None));
        assert!(!r.shows(Code::UnownedThreat, None));
        assert!(r.shows(Code::MissingClause, None));
        assert!(rules(&[], &[], &[]).is_default());
    }

    #[test]
    fn per_file_ignores_use_gitignore_globs() {
        let r = rules(&[], &[], &[("tests/**", &["TM103"]), ("*.py", &["TM1"])]);
        assert!(!r.shows(Code::StrideGap, Some("tests/a/b.rs")));
        assert!(r.shows(Code::StrideGap, Some("src/a.rs")));
        assert!(!r.shows(Code::UnownedThreat, Some("src/deep/a.py")));
        assert!(r.shows(Code::MissingClause, Some("src/deep/a.py")));
    }

    #[test]
    fn unknown_and_unsuppressible_entries_name_their_key() {
        let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none = BTreeMap::new();
        let err = Rules::new(&s(&["TM9"]), &[], &none).expect_err("unknown");
        assert!(err.contains("[diagnostics] select: `TM9`"), "{err}");
        let err = Rules::new(&[], &s(&["TM022"]), &none).expect_err("never");
        assert!(err.contains("[diagnostics] ignore: TM022"), "{err}");
        let err = Rules::new(&[], &s(&["bogus"]), &none).expect_err("unknown");
        assert!(err.contains("`bogus`"), "{err}");
        let pf = [("x/**".to_string(), s(&["TM99"]))].into_iter().collect();
        let err = Rules::new(&[], &[], &pf).expect_err("unknown");
        assert!(err.contains("per-file-ignores `x/**`"), "{err}");
        // A prefix that covers a never-suppressed code is fine: that code stays shown.
        assert!(Rules::new(&[], &s(&["TM02"]), &none).is_ok());
    }

    fn comment(text: &str) -> (Vec<Suppression>, Vec<Diagnostic>) {
        let index = LineIndex::new(text);
        let loc = Locator::new("a.py", text, &index);
        let lines: Vec<CommentLine> = (0..index.line_count())
            .map(|l| {
                let r = index.line_range(text, l);
                CommentLine {
                    text: &text[r.clone()],
                    offset: r.start,
                }
            })
            .collect();
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        parse_comment(&lines, &loc, &mut out, &mut diags);
        (out, diags)
    }

    #[test]
    fn comments_name_codes_and_blanket_ones_are_refused() {
        let (s, d) = comment("x\nthreatmark: ignore[TM103, tm104] reason\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].location.line, 2);
        assert_eq!(s[0].codes, vec![Code::StrideGap, Code::ExpiredAcceptance]);
        let (s, d) = comment("threatmark: ignore everything here\n");
        assert!(s.is_empty());
        assert_eq!(d[0].code, Code::BlanketSuppression);
        let (s, d) = comment("threatmark: ignore[] x\nthreatmark: ignore[TM999,TM103]\n");
        assert_eq!(s.len(), 1, "the known code still counts");
        let codes: Vec<Code> = d.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            vec![Code::BlanketSuppression, Code::InvalidSuppression]
        );
        let (s, d) = comment("prose about `threatmark: ignore[TM103]` and xthreatmark: ignore\n");
        assert!(s.is_empty() && d.is_empty(), "{s:?} {d:?}");
        let (s, d) = comment("threatmark: ignore[TM022]\nthreatmark: ignored by design\n");
        assert!(s.is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::InvalidSuppression);
    }

    #[test]
    fn directives_are_cut_off_before_the_annotation_parser() {
        let text = "@threat A (#a) threatmark: ignore[TM106] why\nthreatmark: ignore[TM103]\nthreatmark: ignored\n";
        let lines: Vec<CommentLine> = text
            .split_inclusive('\n')
            .scan(0, |at, l| {
                let line = CommentLine {
                    text: l.trim_end(),
                    offset: *at,
                };
                *at += l.len();
                Some(line)
            })
            .collect();
        let cut: Vec<&str> = strip_directives(&lines).iter().map(|l| l.text).collect();
        assert_eq!(cut, ["@threat A (#a)", "", "threatmark: ignored"]);
        let plain = [CommentLine {
            text: "@threat B",
            offset: 0,
        }];
        assert!(matches!(
            strip_directives(&plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_comment_covers_its_line_and_the_next_and_unused_codes_are_reported() {
        let (s, _) = comment("threatmark: ignore[TM103,TM106]\n");
        let at = |line, code| Diagnostic::new(code, "m").at(Location::new("a.py", line, 1));
        let diags = vec![
            at(1, Code::StrideGap),
            at(2, Code::StrideGap),
            at(3, Code::StrideGap),
            at(2, Code::UnusedControl),
            at(2, Code::TooDeep),
            Diagnostic::new(Code::StrideGap, "elsewhere").at(Location::new("b.py", 2, 1)),
        ];
        let applied = apply(&Rules::default(), &s, &diags);
        let shown: Vec<bool> = (0..diags.len()).map(|i| applied.shown(i)).collect();
        assert_eq!(shown, vec![false, false, true, true, true, true]);
        assert_eq!(applied.unused.len(), 1);
        assert_eq!(applied.unused[0].code, Code::UnusedSuppression);
        assert!(applied.unused[0].message.contains("TM106"));
        // The rules apply to TM046 too.
        let quiet = rules(&[], &["TM046"], &[]);
        assert!(apply(&quiet, &s, &diags).unused.is_empty());
        assert_eq!(apply(&quiet, &s, &diags).hidden[3], None);
        let by_config = apply(&rules(&[], &["TM107"], &[]), &[], &diags);
        assert_eq!(by_config.hidden[3], Some(By::Config));
    }
}
