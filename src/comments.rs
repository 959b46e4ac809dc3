//! Finding comments in source text and removing their markers.
//!
//! Tree-sitter finds the comment nodes (the query in `grammars/<lang>.scm` says which), so
//! `"// not a comment"` in a string is never mistaken for one. The text of each comment is then
//! cut into [`CommentLine`]s: slices of the file with `//`, `#`, `/*`, ` * `, `*/`, quotes and
//! the like removed, each remembering its byte offset so spans stay exact. Adjacent line
//! comments are grouped into one comment, so a description can continue on the next `//` line.
//!
//! A file with a syntax error (a committed merge conflict, a stray `}subnet`) still yields every
//! comment a reader sees. Where the tree has an ERROR or MISSING node, or text no node covers,
//! what tree-sitter reports depends on how its grammar recovers: Kotlin's drops the rest of the
//! file, HCL's invents a heredoc that swallows it, TSX's reads `<<<<<<< HEAD` and what follows as
//! JSX. Those regions (whole lines, merged) and every merge conflict are read by the lexical
//! scanner instead ([`recover`]); `tests/recovery.rs` inserts such errors at random into a
//! sample of every grammar and checks that nothing is lost or found twice.
//!
//! @component Threatmark:Comment extractor (#extractor) in #process [type: process]: tree-sitter parsing of untrusted source
//! @threat Pathological parse (#pathological_parse) [stride: D; likelihood: possible; impact: moderate; cwe: 1333; actor: #malicious_contributor]:
//! deeply nested or adversarial code makes a grammar take minutes
//! @control Per-file parse budget (#parse_budget): tree-sitter is stopped after parse_timeout_ms, or the work it usually buys, and the lexical scanner, which finds what tree-sitter finds, takes over
//! @mitigates #extractor against #pathological_parse with #parse_budget
//! @threat Annotation hidden by a syntax error (#hidden_by_syntax_error) [stride: T; likelihood: likely; impact: moderate; cwe: 754]:
//! a merge-conflict marker or a stray token makes the grammar swallow every later comment, and
//! the facts they declare silently leave the model
//! @control Lexical recovery in error regions (#lexical_recovery): the lines of ERROR and MISSING
//! nodes, text no node covers and merge conflicts are scanned with the language's comment tokens;
//! a committed conflict marker is reported (TM035)
//! @mitigates #extractor against #hidden_by_syntax_error with #lexical_recovery
//! @connects #extractor to #parser with comment lines

use std::cell::{Cell, RefCell};
use std::ops::{ControlFlow, Range};
use std::time::{Duration, Instant};

use tree_sitter::{
    ParseOptions, ParseState, Parser, QueryCursor, QueryCursorOptions, QueryCursorState,
    StreamingIterator,
};

use crate::annotation::{CommentLine, Locator};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::lang::exact;
use crate::lang::lexical::{self, RawComment};
use crate::lang::{Language, Matcher};

/// How the comments of a file were found (for `debug comments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    TreeSitter,
    /// The language's exact lexer ([`crate::lang::exact`]), which finds what tree-sitter finds.
    Exact,
    Lexical,
}

/// Comments of one file.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    pub comments: Vec<Vec<CommentLine<'a>>>,
    pub diagnostics: Vec<Diagnostic>,
    pub method: Option<Method>,
    /// tree-sitter was stopped by its budget. A stop by the clock depends on the machine's
    /// load, so such outcomes (rare) are not cached.
    pub timed_out: bool,
    /// tree-sitter parsed it as an edit of the prior version's tree ([`with_prior_parse`]).
    pub reused_tree: bool,
}

/// Limits for one file's extraction.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stop tree-sitter after this long and fall back to the lexical scanner.
    pub parse_timeout: Option<Duration>,
    /// Try the language's exact lexer before tree-sitter (off only to compare the two).
    pub exact_lexer: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parse_timeout: Some(Duration::from_secs(5)),
            exact_lexer: true,
        }
    }
}

/// Files larger than this are never given to tree-sitter: its syntax tree costs up to about 100
/// bytes of memory per byte of source (measured: a 10 MB minified JavaScript file took 970 MB),
/// and every worker thread parses a file at once, so a repository of 10 MB files could take
/// gigabytes. Hand-written source files are far smaller; the lexical scanner is linear in time
/// and needs memory only for the comments it finds.
pub const MAX_TREE_SITTER_BYTES: usize = 2 * 1024 * 1024;

thread_local! {
    // Parsers are not Sync; each worker thread keeps one and switches its language.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::new());
    // Inside [`with_prior_parse`]: this thread's last clean tree-sitter parse, for the next.
    static PRIOR: RefCell<Option<Prior>> = const { RefCell::new(None) };
    static KEEP_PRIOR: Cell<bool> = const { Cell::new(false) };
}

/// A clean parse (no ERROR or MISSING node) kept so that the next file, another version of
/// the same file, is parsed incrementally from it.
struct Prior {
    lang: &'static str,
    text: Vec<u8>,
    tree: tree_sitter::Tree,
    /// The budget's units the fresh parse spent.
    spent: u64,
}

/// Run `f` with the thread's fresh parses kept for the next file: the two versions of a
/// changed file are parsed as one edit, the second reusing the first's tree where the text is
/// the same (tree-sitter's incremental parsing). Only a clean result of a clean prior is used;
/// anything else is parsed afresh.
pub fn with_prior_parse<R>(f: impl FnOnce() -> R) -> R {
    KEEP_PRIOR.with(|k| k.set(true));
    let out = f();
    KEEP_PRIOR.with(|k| k.set(false));
    PRIOR.with(|p| p.borrow_mut().take());
    out
}

/// The edit that turns `old` into `new`: their common prefix and suffix kept, the middle
/// replaced.
fn edit_between(old: &[u8], new: &[u8]) -> tree_sitter::InputEdit {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let room = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let point = |text: &[u8], at: usize| {
        let before = &text[..at];
        let row = memchr::memchr_iter(b'\n', before).count();
        let column = at - memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        tree_sitter::Point { row, column }
    };
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    tree_sitter::InputEdit {
        start_byte: prefix,
        old_end_byte: old_end,
        new_end_byte: new_end,
        start_position: point(old, prefix),
        old_end_position: point(old, old_end),
        new_end_position: point(new, new_end),
    }
}

/// Find and clean every comment in `loc.text`.
pub fn extract<'a>(lang: &Language, loc: &Locator<'a>, opts: &Options) -> Extracted<'a> {
    let text = loc.text;
    // Comments are found in a copy where lone `\r`s are line ends (same length, so every offset
    // holds for `text` too); their text is then cut from `text` itself.
    let scanned = crate::text::lone_cr_as_lf(text);
    let mut out = Extracted::default();
    let mut merge_conflicts = conflicts(&scanned);
    // The exact lexer stands in for tree-sitter where tree-sitter would run, on a file with no
    // merge-conflict marker (those take the recovery path below).
    let exact = (opts.exact_lexer
        && merge_conflicts.is_empty()
        && scanned.len() <= MAX_TREE_SITTER_BYTES
        && lang.grammar.is_some())
    .then(|| exact::scan(lang, &scanned))
    .flatten();
    let raw = if let Some(raw) = exact {
        out.method = Some(Method::Exact);
        raw
    } else {
        extract_parsed(lang, loc, &scanned, opts, &mut out, &mut merge_conflicts)
    };
    for conflict in merge_conflicts.iter().filter(|c| c.reported) {
        let marker = conflict.region.start;
        let end = scanned[marker..]
            .find('\n')
            .map_or(scanned.len(), |p| marker + p);
        out.diagnostics.push(
            loc.diag(
                Code::MergeConflictMarker,
                "a merge-conflict marker was committed",
                Span::new(marker, end),
            )
            .label("this conflict was never resolved")
            .help(
                "annotations on both sides of the conflict were read; resolve it and keep one side",
            ),
        );
    }
    for r in &raw {
        if r.unterminated {
            let open_len = text[r.start..]
                .chars()
                .take(4)
                .map(char::len_utf8)
                .sum::<usize>();
            out.diagnostics.push(
                loc.diag(
                    Code::UnterminatedComment,
                    "block comment is never closed",
                    Span::new(r.start, r.start + open_len),
                )
                .label("this comment runs to the end of the file")
                .help("annotations inside it were still read"),
            );
        }
    }
    out.comments = group(lang, loc, &raw);
    out
}

/// The comments of a file tree-sitter parses (or the lexical scanner, when it cannot).
fn extract_parsed(
    lang: &Language,
    loc: &Locator<'_>,
    scanned: &str,
    opts: &Options,
    out: &mut Extracted<'_>,
    merge_conflicts: &mut Vec<Conflict>,
) -> Vec<RawComment> {
    match tree_sitter_comments(lang, scanned, opts) {
        Ok(Some((raw, errors, reused_tree))) => {
            out.method = Some(Method::TreeSitter);
            out.reused_tree = reused_tree;
            let mut regions = whole_lines(scanned, errors);
            // A marker the grammar read without an error is text, not a conflict: a test's
            // fixture in a raw string, a heading underline in a doc comment.
            merge_conflicts.retain(|c| {
                regions
                    .iter()
                    .any(|r| r.start < c.region.end && c.region.start < r.end)
            });
            regions.extend(merge_conflicts.iter().map(|c| c.region.clone()));
            recover(lang, scanned, raw, &regions)
        }
        Ok(None) => {
            out.method = Some(Method::Lexical);
            lexical::scan(lang, scanned)
        }
        Err(failure) => {
            out.method = Some(Method::Lexical);
            out.timed_out = matches!(failure, TsFailure::Budget(_));
            let diag = match failure {
                TsFailure::Budget(why) => Diagnostic::new(
                    Code::ParseBudget,
                    format!("{why}; comments were found lexically"),
                )
                .help("raise `parse_timeout_ms` in threatmark.toml if the file is legitimate"),
                TsFailure::TooLarge(size) => Diagnostic::new(
                    Code::ParseBudget,
                    format!(
                        "`{}` is {size} bytes, over the {MAX_TREE_SITTER_BYTES}-byte limit for tree-sitter; comments were found lexically",
                        loc.path
                    ),
                )
                .help("annotations were still read; exclude the file if it is generated or minified"),
                TsFailure::Grammar(why) => Diagnostic::new(
                    Code::GrammarError,
                    format!("{why}; comments were found lexically"),
                )
                .help("this is a bug in threatmark's grammar table; please report it"),
            };
            out.diagnostics.push(diag.at(loc.location(0)));
            lexical::scan(lang, scanned)
        }
    }
}

/// Work units a millisecond of the budget buys. One unit is one call of tree-sitter's progress
/// callback (100 parser operations, or 1000 steps of a query), or [`WALK_NODES_PER_UNIT`] nodes
/// of the comment walk; measured: 40–50 parser callbacks per ms in a debug build of the crate
/// (dependencies optimised), on ordinary and on deeply nested source alike.
const UNITS_PER_MS: u64 = 50;

/// Nodes of the comment walk that cost one unit.
const WALK_NODES_PER_UNIT: u32 = 1024;

/// The per-file budget of tree-sitter: work and time, whichever runs out first. Counting work
/// stops the usual pathological files (deep nesting) at the same point on every machine,
/// however busy. The clock stays the hard limit: in error recovery one progress step can take
/// 60 ms (Kotlin's grammar on 100,000 stray `)`: 126 steps in 8 s), so work alone does not
/// bound time. Where the clock decides, the lexical scanner, which finds what tree-sitter finds
/// on the test corpus, keeps the model the same.
struct Budget {
    units: Option<u64>,
    spent: Cell<u64>,
    started: Instant,
    wall: Option<Duration>,
    wall_hit: Cell<bool>,
}

impl Budget {
    fn new(limit: Option<Duration>) -> Self {
        Self {
            units: limit.map(|l| {
                u64::try_from(l.as_micros())
                    .unwrap_or(u64::MAX)
                    .saturating_mul(UNITS_PER_MS)
                    / 1000
            }),
            spent: Cell::new(0),
            started: Instant::now(),
            wall: limit,
            wall_hit: Cell::new(false),
        }
    }

    /// Spend `units`; `true` when the budget is exhausted.
    fn spend(&self, units: u64) -> bool {
        let Some(limit) = self.units else {
            return false;
        };
        let spent = self.spent.get().saturating_add(units);
        self.spent.set(spent);
        if spent > limit || limit == 0 {
            return true;
        }
        if self.wall.is_some_and(|w| self.started.elapsed() > w) {
            self.wall_hit.set(true);
            return true;
        }
        false
    }

    fn wall_note(&self) -> &'static str {
        if self.wall_hit.get() {
            " (stopped by the clock)"
        } else {
            ""
        }
    }
}

/// Why tree-sitter could not be used for a file.
enum TsFailure {
    /// The parse or the comment query ran out of budget (or was cancelled).
    Budget(String),
    /// The file (this many bytes) is over [`MAX_TREE_SITTER_BYTES`].
    TooLarge(usize),
    /// The grammar or its query is broken: our bug, not the user's.
    Grammar(String),
}

/// The comments tree-sitter found, the byte ranges where its tree has errors, and whether
/// the tree was parsed as an edit of a prior one.
type Parsed = (Vec<RawComment>, Vec<Range<usize>>, bool);

/// Comment nodes via tree-sitter: `Ok(None)` when the language has no grammar compiled in,
/// `Err` when the parse was stopped by the budget or the query does not compile.
fn tree_sitter_comments(
    lang: &Language,
    text: &str,
    opts: &Options,
) -> Result<Option<Parsed>, TsFailure> {
    let (Some(ts_lang), Some(matcher)) = (lang.ts_language(), lang.matcher()) else {
        return Ok(None);
    };
    let matcher = matcher.map_err(|e| TsFailure::Grammar(e.to_string()))?;
    if text.len() > MAX_TREE_SITTER_BYTES {
        return Err(TsFailure::TooLarge(text.len()));
    }
    PARSER.with(|cell| {
        let mut parser = cell.borrow_mut();
        parser.set_language(&ts_lang).map_err(|e| {
            TsFailure::Grammar(format!("grammar for {} cannot be loaded: {e}", lang.name))
        })?;
        let bytes = text.as_bytes();
        // One budget for the parse and the query: the query alone can take minutes on a deep
        // tree (50,000 unclosed `{` took 11 s in a debug build: its cost grows with the number
        // of nodes times their depth), so it is stopped the same way.
        let budget = Budget::new(opts.parse_timeout);
        let limit_ms = opts.parse_timeout.unwrap_or_default().as_millis();
        if budget.spend(0) {
            return Err(TsFailure::Budget(format!(
                "a parse budget of {limit_ms} ms lets no parse start"
            )));
        }
        let mut stopped_parse = false;
        let mut progress = |_: &ParseState| {
            if budget.spend(1) {
                stopped_parse = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let keep = KEEP_PRIOR.with(Cell::get);
        let limit_units = budget.units.unwrap_or(u64::MAX);
        // A clean parse of another version of this file: parse this one as an edit of it.
        // Only while the fresh parse of the prior spent little of the budget, so that a
        // fresh parse of this text is all but certain to fit in it too. Not a proof: a clean
        // text of at most 2× + 64 KiB that costs a fresh parse 16× its prior's work (~40
        // parser steps a byte at the default budget; none found in review) would be
        // answered here where a fresh parse stops at its budget (TM025, lexical comments).
        let prior = keep
            .then(|| PRIOR.with(|p| p.borrow_mut().take()))
            .flatten()
            .filter(|p| {
                p.lang == lang.name
                    && p.spent.saturating_mul(16) < limit_units
                    && bytes.len() <= p.text.len().saturating_mul(2) + 65_536
            });
        let incremental = prior.and_then(|mut p| {
            p.tree.edit(&edit_between(&p.text, bytes));
            // Its own budget: a stop here only means the fresh parse below decides.
            let own = Budget::new(opts.parse_timeout);
            let mut bounded = |_: &ParseState| {
                if own.spend(1) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let options = ParseOptions::new().progress_callback(&mut bounded);
            let tree = parser.parse_with_options(
                &mut |i, _| bytes.get(i..).unwrap_or_default(),
                Some(&p.tree),
                Some(options),
            )?;
            (!tree.root_node().has_error()).then_some((tree, p.spent))
        });
        let (tree, reused) = match incremental {
            // The walk below is charged after what the fresh parse of the prior cost.
            Some((tree, spent)) => {
                budget.spend(spent);
                (Some(tree), Some(spent))
            }
            None => {
                parser.reset();
                let options = ParseOptions::new().progress_callback(&mut progress);
                let tree = parser.parse_with_options(
                    &mut |i, _| bytes.get(i..).unwrap_or_default(),
                    None,
                    Some(options),
                );
                (tree, None)
            }
        };
        let Some(tree) = tree else {
            parser.reset();
            return Err(TsFailure::Budget(if stopped_parse {
                format!(
                    "parsing stopped: the file needs more work than its budget of {limit_ms} ms{}",
                    budget.wall_note()
                )
            } else {
                "tree-sitter could not parse the file".to_string()
            }));
        };
        let root = tree.root_node();
        let mut raw = Vec::new();
        let mut push = |node: tree_sitter::Node<'_>, is_doc: bool| {
            let (start, end) = (node.start_byte(), node.end_byte());
            let node_text = bytes.get(start..end).unwrap_or_default();
            let block = is_doc || is_block_comment(lang, node_text);
            raw.push(RawComment {
                start,
                end,
                block,
                unterminated: false,
            });
        };
        let stopped = match matcher {
            Matcher::Kinds {
                kinds,
                sole_children,
            } => walk_kinds(root, kinds, sole_children, &mut push, &|n| budget.spend(n)),
            Matcher::Query(query) => {
                run_query(query, root, bytes, &mut push, &|n| budget.spend(n))
            }
        };
        if stopped {
            return Err(TsFailure::Budget(format!(
                "finding comments in the syntax tree stopped: it needs more work than the budget of {limit_ms} ms{}",
                budget.wall_note()
            )));
        }
        raw.sort_by_key(|r| (r.start, r.end));
        raw.dedup_by_key(|r| r.start);
        let errors = error_ranges(root, bytes);
        // Only a fresh parse is kept: one that reused a prior was the second of its pair,
        // and copying its text would be dropped unused.
        if keep && reused.is_none() && errors.is_empty() && !root.has_error() {
            PRIOR.with(|p| {
                *p.borrow_mut() = Some(Prior {
                    lang: lang.name,
                    text: bytes.to_vec(),
                    tree: tree.clone(),
                    spent: budget.spent.get(),
                });
            });
        }
        Ok(Some((raw, errors, reused.is_some())))
    })
}

/// Every node whose kind is a comment kind, and every only named child of the kinds that
/// `sole_children` pairs (a docstring), in document order; `true` when the budget ran out.
fn walk_kinds(
    root: tree_sitter::Node<'_>,
    kinds: &[bool],
    sole_children: &[(Vec<bool>, Vec<bool>)],
    push: &mut dyn FnMut(tree_sitter::Node<'_>, bool),
    spend: &dyn Fn(u64) -> bool,
) -> bool {
    let is = |set: &[bool], node: tree_sitter::Node<'_>| {
        set.get(usize::from(node.kind_id())) == Some(&true)
    };
    let mut cursor = root.walk();
    let mut visited: u32 = 0;
    loop {
        let node = cursor.node();
        if is(kinds, node) {
            push(node, false);
        }
        for (parents, children) in sole_children {
            if is(parents, node)
                && node.named_child_count() == 1
                && let Some(child) = node.named_child(0)
                && is(children, child)
            {
                push(child, true);
            }
        }
        visited = visited.wrapping_add(1);
        if visited % WALK_NODES_PER_UNIT == 0 && spend(1) {
            return true;
        }
        if cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return false;
            }
        }
    }
}

/// The captures of a comment query; `true` when the budget ran out.
fn run_query(
    query: &tree_sitter::Query,
    root: tree_sitter::Node<'_>,
    bytes: &[u8],
    push: &mut dyn FnMut(tree_sitter::Node<'_>, bool),
    spend: &dyn Fn(u64) -> bool,
) -> bool {
    let doc_index = query.capture_index_for_name("doc");
    let mut cursor = QueryCursor::new();
    let timed_out = Cell::new(false);
    let mut progress = |_: &QueryCursorState| {
        if spend(1) {
            timed_out.set(true);
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = QueryCursorOptions::new().progress_callback(&mut progress);
    let mut captures = cursor.captures_with_options(query, root, bytes, options);
    while let Some((m, idx)) = captures.next() {
        let cap = m.captures()[*idx];
        push(cap.node, Some(cap.index) == doc_index);
    }
    drop(captures);
    timed_out.get()
}

/// A comment node is a block comment when it opens and closes with one of the language's block
/// tokens. One that only opens like a block is a line comment: JavaScript's `<!--` runs to the
/// end of the line (ECMAScript Annex B), so consecutive ones group like `//` lines.
fn is_block_comment(lang: &Language, node_text: &[u8]) -> bool {
    let trimmed = node_text.trim_ascii_end();
    lang.block_comments.iter().any(|(open, close)| {
        trimmed.len() >= open.len() + close.len()
            && trimmed.starts_with(open.as_bytes())
            && trimmed.ends_with(close.as_bytes())
    })
}

/// Where a syntax tree with errors cannot be trusted: its ERROR nodes with the node around each
/// (at the top level, the node after each); the nearest non-empty
/// node around each MISSING node (the parser invented a token there, and with it the
/// construct around it: an unclosed block, a heredoc with no start); and text inside a node
/// with errors that no child covers (Kotlin's grammar leaves the rest of a file after some
/// errors out of the tree altogether, even with no error node). Only the top level and the
/// subtrees that hold an error are entered.
fn error_ranges(root: tree_sitter::Node<'_>, bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let gap = |from: usize, to: usize, out: &mut Vec<Range<usize>>| {
        if bytes
            .get(from..to)
            .is_some_and(|t| t.iter().any(|b| !b.is_ascii_whitespace()))
        {
            out.push(from..to);
        }
    };
    // YAML's grammar can make the root an ERROR that ends before the file does.
    gap(0, root.start_byte(), &mut out);
    gap(root.end_byte(), bytes.len(), &mut out);
    let mut stack = vec![root];
    let mut cursor = root.walk();
    while let Some(node) = stack.pop() {
        if node.is_error() {
            // The construct that holds the error was made up around it (a docstring after
            // a broken line became a type annotation). At the top level, the construct the
            // parser resumed with is (TSX reads `<<<<<<< HEAD` and the next 300 lines as one
            // JSX element).
            let end = match node.parent().filter(|p| p.parent().is_some()) {
                Some(parent) => {
                    out.push(parent.start_byte()..parent.end_byte());
                    continue;
                }
                None => node
                    .next_sibling()
                    .map_or(node.end_byte(), |n| n.end_byte()),
            };
            out.push(node.start_byte()..end);
            continue;
        }
        if node.is_missing() {
            let mut around = node;
            while around.byte_range().is_empty()
                && let Some(parent) = around.parent()
            {
                around = parent;
            }
            out.push(around.start_byte()..around.end_byte());
            continue;
        }
        // The top level is always checked: Kotlin's grammar can end the tree early, leave the
        // rest of the file out, and report no error at all.
        if !node.has_error() && node != root {
            continue;
        }
        let mut covered = node.start_byte();
        for child in node.children(&mut cursor) {
            gap(covered, child.start_byte(), &mut out);
            covered = covered.max(child.end_byte());
            if child.has_error() {
                stack.push(child);
            }
        }
        if node.child_count() > 0 {
            gap(covered, node.end_byte(), &mut out);
        }
    }
    out
}

/// `ranges` grown to whole lines (a line's end includes its `\n`), sorted and merged.
fn whole_lines(text: &str, mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let bytes = text.as_bytes();
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        let (start, end) = (r.start.min(bytes.len()), r.end.min(bytes.len()));
        // Each byte is searched once: a range that starts inside the last region (which ends
        // at a line end) only extends it, so 100,000 errors on one line cost one line.
        let line_end =
            |at: usize| memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |p| at + p + 1);
        match out.last_mut() {
            Some(last) if start < last.end => {
                if end > last.end {
                    last.end = line_end(end);
                }
            }
            last => {
                let floor = last.map_or(0, |l| l.end);
                let start =
                    memchr::memrchr(b'\n', &bytes[floor..start]).map_or(floor, |p| floor + p + 1);
                out.push(start..line_end(end.max(start)));
            }
        }
    }
    out
}

/// A committed merge conflict: from its `<<<<<<<` line to the end of the `>>>>>>>` line that
/// closes it (conflicts nest; one never closed runs to the end of the file), or a lone
/// `>>>>>>>` or `=======` line.
struct Conflict {
    region: Range<usize>,
    /// It starts with a `<<<<<<<` or `>>>>>>>` line (a lone `=======` is also a heading
    /// underline in prose, and is not reported).
    reported: bool,
}

/// The merge conflicts in `text`. Markers count only at the start of a line
/// ([`lexical::conflict_marker`]).
fn conflicts(text: &str) -> Vec<Conflict> {
    let bytes = text.as_bytes();
    let marker = |at: usize| lexical::conflict_marker(&bytes[at..]);
    let mut out = Vec::new();
    // (start of the outermost open conflict, depth)
    let mut open: Option<(usize, usize)> = None;
    let mut line = 0;
    while line < bytes.len() {
        let next = memchr::memchr(b'\n', &bytes[line..]).map_or(bytes.len(), |p| line + p + 1);
        match (marker(line), open) {
            (Some(b'<'), None) => open = Some((line, 1)),
            (Some(b'<'), Some((start, depth))) => open = Some((start, depth + 1)),
            (Some(b'>'), Some((start, 1))) => {
                out.push(Conflict {
                    region: start..next,
                    reported: true,
                });
                open = None;
            }
            (Some(b'>'), Some((start, depth))) => open = Some((start, depth - 1)),
            (Some(c), None) => out.push(Conflict {
                region: line..next,
                reported: c == b'>',
            }),
            _ => {}
        }
        line = next;
    }
    if let Some((start, _)) = open {
        out.push(Conflict {
            region: start..bytes.len(),
            reported: true,
        });
    }
    out
}

/// The comments of a file whose syntax tree has errors. Inside an error region (the lines an
/// ERROR or MISSING node touches, and every merge conflict) what tree-sitter reports depends
/// on how its grammar recovers: a comment after the error may be swallowed by an ERROR node,
/// or a `//` inside a string taken for one. There the lexical scanner decides, with the
/// language's comment and string tokens, scanning from the start of the region's first line;
/// outside, tree-sitter's comments stand. Comments that overlap keep the one that starts first.
fn recover(
    lang: &Language,
    text: &str,
    ts: Vec<RawComment>,
    regions: &[Range<usize>],
) -> Vec<RawComment> {
    if regions.is_empty() {
        return ts;
    }
    let mut sorted = regions.to_vec();
    sorted.sort_by_key(|r| (r.start, r.end));
    let mut regions: Vec<Range<usize>> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match regions.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => regions.push(r),
        }
    }
    let inside = |at: usize| {
        let i = regions.partition_point(|r| r.start <= at);
        i > 0 && at < regions[i - 1].end.max(regions[i - 1].start + 1)
    };
    let mut out: Vec<RawComment> = ts.iter().filter(|c| !inside(c.start)).copied().collect();
    let mut scanned_to = 0;
    for region in &regions {
        let mut from = region.start.max(scanned_to);
        // Start after a comment tree-sitter found that runs into the region.
        if let Some(c) = ts
            .iter()
            .find(|c| c.start < from && from < c.end && !inside(c.start))
        {
            from = c.end;
        }
        if from >= region.end {
            continue;
        }
        let found = lexical::scan_range(lang, text, from, region.end);
        scanned_to = found.last().map_or(region.end, |c| c.end.max(region.end));
        out.extend(found);
    }
    out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut kept: Vec<RawComment> = Vec::with_capacity(out.len());
    for c in out {
        if kept.last().is_none_or(|k| c.start >= k.end) {
            kept.push(c);
        }
    }
    kept
}

/// Strip markers and group adjacent standalone line comments.
fn group<'a>(lang: &Language, loc: &Locator<'a>, raw: &[RawComment]) -> Vec<Vec<CommentLine<'a>>> {
    let text = loc.text;
    let mut out: Vec<Vec<CommentLine<'a>>> = Vec::new();
    let mut last_line_comment: Option<usize> = None;
    for r in raw {
        let start = r.start.min(text.len());
        let end = r.end.clamp(start, text.len());
        let (start, end) = (
            crate::text::floor_char_boundary(text, start),
            crate::text::floor_char_boundary(text, end),
        );
        let mut body = &text[start..end];
        if !r.block {
            // Some grammars include the line terminator in a line comment node.
            body = body.trim_end_matches(['\n', '\r']);
        }
        let line_no = loc.index.line_of(start);
        let standalone = text[loc.index.line_start(line_no)..start]
            .chars()
            .all(char::is_whitespace);
        let lines = strip(lang, body, start, r.block);
        let is_line_comment = !r.block;
        let joins = is_line_comment
            && standalone
            && last_line_comment.is_some_and(|prev| prev + 1 == line_no);
        match (joins, out.last_mut()) {
            (true, Some(prev)) => prev.extend(lines),
            _ => out.push(lines),
        }
        last_line_comment = (is_line_comment && standalone).then_some(line_no);
    }
    out
}

/// Remove comment markers; returns one [`CommentLine`] per line of the comment.
fn strip<'a>(lang: &Language, body: &'a str, offset: usize, block: bool) -> Vec<CommentLine<'a>> {
    let mut inner = body;
    let mut inner_offset = offset;
    let mut star_prefix = false;
    let mut line_token: Option<&str> = None;

    let opener = lang
        .block_comments
        .iter()
        .find(|(o, _)| body.starts_with(o))
        .or_else(|| DOC_QUOTES.iter().find(|(o, _)| body.starts_with(o)));
    let string_prefix = body.len()
        - body
            .trim_start_matches(['r', 'R', 'b', 'B', 'u', 'U', 'f', 'F'])
            .len();
    if let Some((open, close)) = opener {
        inner = &body[open.len()..];
        inner_offset += open.len();
        inner = inner.strip_suffix(close).unwrap_or(inner);
        star_prefix = open.contains('*');
    } else if let Some(tok) = lang
        .line_comments
        .iter()
        .filter(|t| body.starts_with(*t))
        .max_by_key(|t| t.len())
    {
        line_token = Some(tok);
    } else if block && string_prefix <= 2 {
        // A docstring with a prefix (r"""...""") or single quotes.
        let after = &body[string_prefix..];
        if let Some((open, close)) = DOC_QUOTES.iter().find(|(o, _)| after.starts_with(o)) {
            inner = &after[open.len()..];
            inner_offset += string_prefix + open.len();
            inner = inner.strip_suffix(close).unwrap_or(inner);
        }
    }

    let mut lines = Vec::new();
    let mut pos = 0;
    // Lines end at `\n`, `\r\n` or a lone `\r`, as in `LineIndex`.
    let pieces = inner.split('\n').flat_map(|piece| {
        let piece_offset = inner_offset + pos;
        pos += piece.len() + 1;
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        let mut sub = 0;
        piece.split('\r').map(move |line| {
            let offset = piece_offset + sub;
            sub += line.len() + 1;
            (line, offset)
        })
    });
    for (raw_line, line_offset) in pieces {
        let mut t = raw_line;
        let mut skip = 0;
        let lead = t.len() - t.trim_start().len();
        if let Some(tok) = line_token {
            let rest = &t[lead..];
            if let Some(after) = rest.strip_prefix(tok) {
                // `///`, `//!`, `##`, `---`: repeated marker characters and a `!` are markers too.
                let last = tok.chars().last().unwrap_or('/');
                let extra = after.len() - after.trim_start_matches(last).len();
                let after2 = &after[extra..];
                let bang = usize::from(after2.starts_with('!'));
                skip = lead + tok.len() + extra + bang;
            }
        } else if star_prefix {
            let rest = &t[lead..];
            if rest.starts_with('*') && !rest.starts_with("*/") {
                let stars = rest.len() - rest.trim_start_matches('*').len();
                skip = lead + stars;
            } else if rest.starts_with('!') && lines.is_empty() {
                skip = lead + 1; // `/*!` inner doc comments
            }
        }
        t = &t[skip..];
        lines.push(CommentLine {
            text: t,
            offset: line_offset + skip,
        });
    }
    lines
}

/// Python docstring quotes (the lexical table lists `"""` too; this covers captures).
const DOC_QUOTES: &[(&str, &str)] = &[
    ("\"\"\"", "\"\"\""),
    ("'''", "'''"),
    ("\"", "\""),
    ("'", "'"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LineIndex;

    type Ranges = Vec<(usize, usize, bool)>;

    /// Comment node ranges of `text` found by walking for kinds and by the compiled query.
    fn both_ways(lang: &Language, text: &str) -> Option<(Ranges, Ranges)> {
        let Some(Ok(Matcher::Kinds {
            kinds,
            sole_children,
        })) = lang.matcher()
        else {
            return None;
        };
        let query = lang.query()?.ok()?;
        let mut parser = Parser::new();
        parser.set_language(&lang.ts_language()?).ok()?;
        let tree = parser.parse(text, None)?;
        let never = |_| false;
        let mut walked = Vec::new();
        walk_kinds(
            tree.root_node(),
            kinds,
            sole_children,
            &mut |n, doc| walked.push((n.start_byte(), n.end_byte(), doc)),
            &never,
        );
        let mut queried = Vec::new();
        run_query(
            query,
            tree.root_node(),
            text.as_bytes(),
            &mut |n, doc| queried.push((n.start_byte(), n.end_byte(), doc)),
            &never,
        );
        walked.sort_unstable();
        queried.sort_unstable();
        Some((walked, queried))
    }

    /// The kind walk finds exactly what the query finds, on every polyglot sample and on broken
    /// input, for every grammar whose query is a list of kinds.
    #[test]
    fn kind_walk_equals_query() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixtures").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let mut compared = std::collections::BTreeSet::new();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(lang) = crate::lang::detect(name, text.as_bytes(), |_| None) else {
                continue;
            };
            for text in [
                text.clone(),
                format!("{text}\n/* {{ \"unclosed"),
                text[..text.len() / 2].to_string(),
            ] {
                if let Some((walked, queried)) = both_ways(lang, &text) {
                    assert_eq!(walked, queried, "{} ({})", path.display(), lang.name);
                    compared.insert(lang.name);
                }
            }
        }
        assert!(compared.len() >= 15, "compared only {compared:?}");
        // Docstrings in every position a Python file can hold a lone string.
        let python = crate::lang::by_name("python").expect("python");
        let sample = r#""""module"""
x = 1
"bare"  # trailing
("paren")
"a" "b"
f"f{x}"
b'bytes'
"s", 1
def f():
    """doc"""  # c
    "second"
    return "not"
class C:
    '''cdoc'''
    # comment
    "attr" # x
    y = "no"
if x:
    "in if"
lambda: "no"
"#;
        for text in [
            sample.to_string(),
            sample[..sample.len() / 3].to_string(),
            format!("{sample}\n\"\"\"unclosed"),
        ] {
            let (walked, queried) = both_ways(python, &text).expect("python is walked");
            assert_eq!(walked, queried, "{text}");
            assert!(walked.iter().filter(|r| r.2).count() >= 3, "{walked:?}");
        }
    }

    /// A query the walk cannot answer is compiled and run under the same budget as the parse:
    /// over 100,000 unclosed brackets (nodes x depth) it is stopped, not run for minutes.
    #[test]
    fn a_compiled_query_stops_at_the_budget() {
        let Some(python) = crate::lang::by_name("python").and_then(|l| l.grammar) else {
            return;
        };
        let query = tree_sitter::Query::new(
            &tree_sitter::Language::new(python.language),
            "((comment) @comment (#match? @comment \"@threat\"))\n(expression_statement . (string) @doc .)",
        )
        .expect("query");
        let text = format!("# @threat T\nx = {}\n", "[".repeat(100_000));
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter::Language::new(python.language))
            .expect("language");
        let tree = parser.parse(&text, None).expect("tree");
        let started = Instant::now();
        let budget = Budget::new(Some(Duration::from_millis(50)));
        let stopped = run_query(
            &query,
            tree.root_node(),
            text.as_bytes(),
            &mut |_, _| {},
            &|n| budget.spend(n),
        );
        assert!(stopped, "the query ran to its end");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// The work count stops a parse at the same point whatever the time: with plenty of time
    /// left, the unit after the last one the budget buys is refused.
    #[test]
    fn the_budget_counts_work() {
        let budget = Budget::new(Some(Duration::from_secs(600)));
        assert!(!budget.spend(600_000 * UNITS_PER_MS - 1));
        assert!(!budget.spend(1));
        assert!(budget.spend(1), "not stopped by the work");
        assert_eq!(budget.wall_note(), "");
        assert!(Budget::new(Some(Duration::ZERO)).spend(0));
        assert!(!Budget::new(None).spend(u64::MAX));
        let clock = Budget::new(Some(Duration::from_millis(1)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(clock.spend(1), "not stopped by the clock");
        assert_ne!(clock.wall_note(), "");
    }

    /// Conflict markers inside a string the grammar read cleanly (a test's fixture) are text:
    /// not reported, and the string's lines are not read as comments.
    #[test]
    fn markers_inside_a_clean_string_are_not_a_conflict() {
        let m = "<".repeat(7);
        let e = "=".repeat(7);
        let t = ">".repeat(7);
        let src = format!(
            "fn f() -> &'static str {{\n    r#\"\n{m} HEAD\n// @component Inside (#inside)\n{e}\n{t} b\n\"#\n}}\n// @component After (#after)\n"
        );
        let lang = crate::lang::by_name("rust").expect("rust");
        let index = LineIndex::new(&src);
        let loc = Locator::new("t.rs", &src, &index);
        let ex = extract(lang, &loc, &Options::default());
        assert!(
            !ex.diagnostics
                .iter()
                .any(|d| d.code == Code::MergeConflictMarker),
            "{:?}",
            ex.diagnostics
        );
        let lines: Vec<String> = ex
            .comments
            .iter()
            .flatten()
            .map(|l| l.text.trim().to_string())
            .collect();
        assert_eq!(lines, ["@component After (#after)"]);
        // The same markers in code are a conflict.
        let code = format!(
            "fn f() {{\n{m} HEAD\n// @component A (#a)\n{e}\n// @component B (#b)\n{t} b\n}}\n"
        );
        let index = LineIndex::new(&code);
        let loc = Locator::new("t.rs", &code, &index);
        let ex = extract(lang, &loc, &Options::default());
        assert!(
            ex.diagnostics
                .iter()
                .any(|d| d.code == Code::MergeConflictMarker)
        );
        assert_eq!(ex.comments.iter().flatten().count(), 2);
    }

    fn lines_of(lang: &str, src: &str) -> Vec<Vec<String>> {
        let lang = crate::lang::by_name(lang).expect("language");
        let index = LineIndex::new(src);
        let loc = Locator::new("t", src, &index);
        let ex = extract(lang, &loc, &Options::default());
        ex.comments
            .iter()
            .map(|c| c.iter().map(|l| l.text.trim().to_string()).collect())
            .collect()
    }

    #[test]
    fn rust_line_comments_group_and_strip() {
        let got = lines_of(
            "rust",
            "/// @threat A\n/// more\nfn x() {} // tail\n//! inner\n",
        );
        assert_eq!(
            got,
            vec![vec!["@threat A", "more"], vec!["tail"], vec!["inner"]]
        );
    }

    #[test]
    fn block_comment_stars_are_stripped() {
        let got = lines_of(
            "java",
            "/**\n * @threat A\n *   indented\n */\nclass X {}\n",
        );
        assert_eq!(got, vec![vec!["", "@threat A", "indented", ""]]);
    }

    #[test]
    fn offsets_point_into_the_file() {
        let src = "x = 1\n# @threat Foo\n";
        let lang = crate::lang::by_name("python").expect("python");
        let index = LineIndex::new(src);
        let loc = Locator::new("t", src, &index);
        let ex = extract(lang, &loc, &Options::default());
        let line = ex.comments[0][0];
        assert_eq!(&src[line.offset..line.offset + line.text.len()], line.text);
        assert_eq!(line.text.trim(), "@threat Foo");
    }

    #[test]
    fn python_docstrings() {
        let got = lines_of(
            "python",
            "def f():\n    \"\"\"Doc.\n    @threat A\n    \"\"\"\n",
        );
        assert_eq!(got[0][1], "@threat A");
    }

    #[test]
    fn unterminated_block_comment_is_recovered() {
        let src = "int x;\n/* @threat Lost (#lost)\n";
        let lang = crate::lang::by_name("c").expect("c");
        let index = LineIndex::new(src);
        let loc = Locator::new("t.c", src, &index);
        let ex = extract(lang, &loc, &Options::default());
        assert!(
            ex.diagnostics
                .iter()
                .any(|d| d.code == Code::UnterminatedComment)
        );
        assert!(
            ex.comments
                .iter()
                .flatten()
                .any(|l| l.text.contains("@threat Lost"))
        );
    }

    #[test]
    fn html_like_comments_are_line_comments_in_js_and_ts() {
        let src = "<!-- @threat A (#a): first\n<!-- second\nvar x; /* @threat B */ <!-- c -->\n";
        for lang in ["javascript", "typescript", "tsx"] {
            let got = lines_of(lang, src);
            assert_eq!(
                got,
                vec![
                    vec!["@threat A (#a): first", "second"],
                    vec!["@threat B"],
                    vec!["c"]
                ],
                "{lang}"
            );
        }
    }

    #[test]
    fn roxygen_comments() {
        let got = lines_of(
            "r",
            "#' Title\n#' @threat A (#a)\nf <- function() 1 # tail\n",
        );
        assert_eq!(got, vec![vec!["Title", "@threat A (#a)"], vec!["tail"]]);
    }

    #[test]
    fn scala_xml_literal_comments() {
        let got = lines_of(
            "scala",
            "object A {\n  val x = <p><!-- @threat X (#x) --></p>\n}\n",
        );
        assert_eq!(got, vec![vec!["@threat X (#x)"]]);
    }

    #[test]
    fn pod_and_ruby_block_comments() {
        let got = lines_of(
            "perl",
            "my $x = 1;\n=head1 NAME\n\n@threat P (#p)\n\n=cut\n",
        );
        assert_eq!(got, vec![vec!["NAME", "", "@threat P (#p)", "", ""]]);
        let got = lines_of("ruby", "x = 1\n=begin\n@threat R (#r): desc\n=end\n");
        assert_eq!(got, vec![vec!["", "@threat R (#r): desc", ""]]);
    }

    #[test]
    fn multiline_strings_are_not_comments_lexically() {
        let src = "\"\"\"\n# @threat Fake\n\"\"\"\ntype Q { a: Int } # @threat Real\n";
        assert_eq!(lines_of("graphql", src), vec![vec!["@threat Real"]]);
        let src = "local s = [[\n-- @threat Fake\n]] -- @threat Real\n";
        assert_eq!(lines_of("lua", src), vec![vec!["@threat Real"]]);
        let src = "$s = @\"\n# @threat Fake\n\"@\n# @threat Real\n";
        assert_eq!(lines_of("powershell", src), vec![vec!["@threat Real"]]);
    }
}
