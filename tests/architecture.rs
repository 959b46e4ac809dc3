//! The walls between threatmark's rooms, as a test (docs/architecture.md describes them).
//!
//! Every `crate::` path in src/ (in `use` items and in code) is an edge from the file that
//! writes it to the file that defines the module it names. Each file belongs to a room; a room
//! may use itself and the rooms below it, nothing above. An edge the layering forbids fails the
//! test unless it is listed in [`DEBTS`], the edges that break the layering today; a debt that
//! has been paid (the edge is gone) fails too, so the list only shrinks.
//!
//! No two files outside the core may depend on each other, directly or through others
//! ([`edges`] says what an edge is, [`cycles`] finds them).
//!
//! The reader is deliberately small: it reads Rust text, not Rust syntax, skipping comments,
//! string and char literals; `super::` paths stay inside a room and are read for cycles only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The rooms from the bottom up; a room may use the rooms listed before it.
const ROOMS: &[&str] = &[
    "core", "lang", "config", "source", "store", "import", "load", "scan", "render", "cli",
];

/// Which room a module file belongs to: the longest matching module-path prefix wins.
const PLACES: &[(&str, &str)] = &[
    // core: pure, no IO
    ("annotation", "core"),
    ("model", "core"),
    ("analysis", "core"),
    ("diff", "core"),
    ("merge", "core"),
    ("gate", "core"),
    ("diagnostic", "core"),
    ("text", "core"),
    ("date", "core"),
    ("exit", "core"),
    ("timings", "core"),
    ("source_url", "core"),
    // Which diagnostics are shown: [diagnostics] rules and `threatmark: ignore` comments.
    ("suppress", "core"),
    // Pure escaping helpers used by every room that writes a repository's strings somewhere.
    ("render/escape", "core"),
    // lang: which language a file is, where its comments are
    ("lang", "lang"),
    ("comments", "lang"),
    ("prefilter", "lang"),
    // config: threatmark.toml schema, validation and loading
    ("config", "config"),
    // load: finding and reading the configuration, with the threatspec.yaml and GuardLink
    // fallbacks (above the importers and the store it uses)
    ("config/load", "load"),
    // source: reading the work tree and git (and confined file reads)
    ("source", "source"),
    ("input", "source"),
    // store: what persists between runs, and the atomic writes it and the outputs use
    ("store", "store"),
    ("output", "store"),
    // import: foreign formats (threatspec, GuardLink)
    ("import", "import"),
    // scan: the pipeline
    ("scan", "scan"),
    // the in-memory incremental workspace of the editor servers: the pipeline, one file at a time
    ("workspace", "scan"),
    // render: one file per output format
    ("render", "render"),
    ("export", "render"),
    // cli: argv to exit code
    ("cli", "cli"),
    ("main", "cli"),
    ("lib", "cli"),
];

/// Edges that break the layering today, `(from file, to file)` as module paths. Each is a known
/// debt (docs/architecture.md says why it is there); pay one by removing the edge and its line.
const DEBTS: &[(&str, &str)] = &[];

fn room_of(module: &str) -> &'static str {
    PLACES
        .iter()
        .filter(|(prefix, _)| {
            module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, room)| *room)
        .unwrap_or_else(|| panic!("src/{module}.rs belongs to no room: add it to PLACES"))
}

fn rank(room: &str) -> usize {
    ROOMS
        .iter()
        .position(|r| *r == room)
        .unwrap_or_else(|| panic!("unknown room {room}"))
}

/// Every .rs file under src/, as its module path (`source/git`, `scan`, `render` for mod.rs).
fn modules(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            modules(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(base).expect("under src");
            let mut module = rel.with_extension("").to_string_lossy().replace('\\', "/");
            if let Some(parent) = module.strip_suffix("/mod") {
                module = parent.to_string();
            }
            out.insert(module, std::fs::read_to_string(&path).expect("read source"));
        }
    }
}

/// The text with comments removed (line and block), keeping string literals whole so that a
/// `//` inside a string does not end the line.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'\'' {
            // A char literal (`'"'`, `'\''`) is skipped whole; a lifetime is kept.
            let len = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                let ch = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(len) => {
                    out.push_str("' '");
                    i += len;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_at(b, i) {
            // r"..." and r#"..."#: no escapes, ends at a quote followed by as many #.
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += hashes + 2;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            out.push_str("\"\"");
            i += close.len();
        } else if b[i] == b'"' {
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else {
            let ch = src[i..].chars().next().expect("char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The number of `#` of a raw string starting at `i` (`r"`, `br#"`), if one does.
fn raw_string_at(b: &[u8], i: usize) -> Option<usize> {
    if b[i] != b'r' || (i > 0 && is_ident(b[i - 1]) && b[i - 1] != b'b') {
        return None;
    }
    if i > 1 && b[i - 1] == b'b' && is_ident(b[i - 2]) {
        return None;
    }
    let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
    (b.get(i + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The paths a `crate::` path names, from just after `crate::`: `a::b`, or each leaf of
/// `{a::b, c::{d, e}}`, as segment lists.
fn paths_at(b: &[u8], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut segs = prefix;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'{') {
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return i + 1;
                }
                i = paths_at(b, i, segs.clone(), out);
                // Skip an `as alias` or anything else up to the next item.
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' if depth == 0 => break,
                        b'}' => depth -= 1,
                        b',' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if i > start {
            segs.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        }
        if b.get(i..i + 2) == Some(b"::") {
            i += 2;
        } else {
            out.push(segs);
            return i;
        }
    }
}

/// Every `crate::` path in a file's code.
fn crate_paths(src: &str) -> Vec<Vec<String>> {
    let code = strip_comments(src);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let at = from + at;
        from = at + "crate::".len();
        if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b'$') {
            continue;
        }
        paths_at(b, from, Vec::new(), &mut out);
    }
    out
}

/// The module file a path names: the longest prefix of its segments that is a module.
fn target(path: &[String], modules: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("/"))
        .find(|m| modules.contains_key(m))
}

/// Every forbidden edge in src/, `(from, to)` as module paths.
fn forbidden_edges() -> BTreeMap<(String, String), BTreeSet<String>> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&base, &base, &mut files);
    let mut forbidden: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (module, src) in &files {
        let from = room_of(module);
        for path in crate_paths(src) {
            let Some(to_module) = target(&path, &files) else {
                continue;
            };
            let to = room_of(&to_module);
            if to != from && rank(to) > rank(from) {
                forbidden
                    .entry((module.clone(), to_module))
                    .or_default()
                    .insert(format!("{from} -> {to}: crate::{}", path.join("::")));
            }
        }
    }
    forbidden
}

/// What a folder's `mod.rs` re-exports from its own children (`pub use child::{A, b::C}`): each
/// name, with the module that defines it, so that `crate::scan::ScanResult` is an edge to
/// `scan/pipeline`, the file that holds it, not to `scan`, which only re-exports it.
fn reexports(
    module: &str,
    src: &str,
    files: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let code = strip_comments(src);
    let b = code.as_bytes();
    let mut out = BTreeMap::new();
    for item in ["pub use ", "pub(crate) use "] {
        let mut from = 0;
        while let Some(at) = code[from..].find(item) {
            from += at + item.len();
            let mut paths = Vec::new();
            paths_at(b, from, Vec::new(), &mut paths);
            for mut path in paths {
                if path.first().is_some_and(|s| s == "self") {
                    path.remove(0);
                }
                let Some(name) = path.last().cloned() else {
                    continue;
                };
                let full: Vec<String> = module.split('/').map(String::from).chain(path).collect();
                if let Some(defined) = target(&full, files).filter(|t| t != module) {
                    out.insert(name, defined);
                }
            }
        }
    }
    out
}

/// The module `super` names in a file's top level: its parent (for `src/a/b.rs` and
/// `src/a/b/mod.rs` alike, `a`).
fn parent_of(module: &str) -> Vec<String> {
    let mut segs: Vec<String> = module.split('/').map(String::from).collect();
    segs.pop();
    segs
}

/// Every edge between module files: the `crate::` paths a file writes (anywhere in its code)
/// and the `use super::` items at its top level (those of inline test modules are indented
/// and name the file itself), each to the file that defines what it names (through a folder's
/// re-exports). A folder's `mod` declarations are not edges: a parent owns its children.
fn edges() -> BTreeMap<String, BTreeMap<String, String>> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&base, &base, &mut files);
    let reexported: BTreeMap<&String, BTreeMap<String, String>> = files
        .iter()
        .map(|(m, src)| (m, reexports(m, src, &files)))
        .collect();
    let resolve = |path: &[String]| -> Option<String> {
        let mut to = target(path, &files)?;
        let depth = to.split('/').count();
        if let Some(name) = path.get(depth)
            && let Some(defined) = reexported.get(&to).and_then(|r| r.get(name))
        {
            to = defined.clone();
        }
        Some(to)
    };
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, src) in &files {
        let mut paths: Vec<(Vec<String>, String)> = crate_paths(src)
            .into_iter()
            .map(|p| {
                let shown = format!("crate::{}", p.join("::"));
                (p, shown)
            })
            .collect();
        let code = strip_comments(src);
        let parent = parent_of(module);
        let mut from = 0;
        while let Some(at) = code[from..].find("use super::") {
            let at = from + at;
            from = at + "use super::".len();
            if at > 0 && code.as_bytes()[at - 1] != b'\n' {
                continue;
            }
            let mut found = Vec::new();
            paths_at(code.as_bytes(), from, parent.clone(), &mut found);
            paths.extend(found.into_iter().map(|p| {
                let shown = format!("super::{}", p[parent.len()..].join("::"));
                (p, shown)
            }));
        }
        for (path, shown) in paths {
            if let Some(to) = resolve(&path).filter(|to| to != module) {
                out.entry(module.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(shown);
            }
        }
    }
    out
}

/// The strongly connected components of more than one module (Tarjan), each sorted, among the
/// modules `keep` accepts.
fn cycles(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    keep: impl Fn(&str) -> bool,
) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, String>>,
        keep: &'a dyn Fn(&str) -> bool,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            let next = self.edges.get(v).into_iter().flat_map(|e| e.keys());
            for w in next.filter(|w| (self.keep)(w)) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        keep: &keep,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys().filter(|v| keep(v)) {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.out.sort();
    walk.out
}

#[test]
fn no_new_edge_breaks_the_layering() {
    let forbidden = forbidden_edges();
    let debts: BTreeSet<(String, String)> = DEBTS
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<String> = forbidden
        .iter()
        .filter(|(edge, _)| !debts.contains(*edge))
        .map(|((a, b), why)| {
            format!(
                "src/{a} -> src/{b} ({})",
                why.iter().cloned().collect::<Vec<_>>().join("; ")
            )
        })
        .collect();
    let paid: Vec<String> = debts
        .iter()
        .filter(|edge| !forbidden.contains_key(*edge))
        .map(|(a, b)| format!("(\"{a}\", \"{b}\")"))
        .collect();
    assert!(
        new.is_empty(),
        "imports that break the layering (core <- lang <- config <- source <- store <- import <- load <- scan <- render <- cli, docs/architecture.md):\n  {}",
        new.join("\n  ")
    );
    assert!(
        paid.is_empty(),
        "these debts are paid (the edge is gone): remove them from DEBTS in tests/architecture.rs:\n  {}",
        paid.join("\n  ")
    );
}

#[test]
fn every_file_has_a_room() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&base, &base, &mut files);
    assert!(files.len() > 50, "src/ was read: {} files", files.len());
    for module in files.keys() {
        room_of(module);
    }
}

#[test]
fn the_reader_finds_edges_in_every_form() {
    let src = "use crate::a::b;\nuse crate::{c, d::{e, f as g}};\n// crate::h\nfn x() { crate::i::j(); $crate::k; let s = \"// \"; let c = '\"'; crate::l::m }\nfn y<'a>() { r#\"crate::o \\\"#; crate::p }\n/* crate::n */";
    let found: Vec<String> = crate_paths(src).iter().map(|p| p.join("::")).collect();
    assert_eq!(found, ["a::b", "c", "d::e", "d::f", "i::j", "l::m", "p"]);
    assert_eq!(room_of("store/scan_cache"), "store");
    assert_eq!(room_of("source/git"), "source");
    assert_eq!(room_of("render/escape"), "core");
    assert_eq!(room_of("render/view"), "render");
}

#[test]
fn no_cycle_outside_the_core() {
    let edges = edges();
    let found = cycles(&edges, |m| room_of(m) != "core");
    let shown: Vec<String> = found
        .iter()
        .map(|members| {
            let inside: Vec<String> = members
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|(b, _)| members.contains(b))
                        .map(move |(b, why)| format!("{a} -> {b} ({why})"))
                })
                .collect();
            format!("{}:\n    {}", members.join(", "), inside.join("\n    "))
        })
        .collect();
    assert!(
        shown.is_empty(),
        "modules (files) of src/ outside the core that depend on each other in a cycle:\n  {}",
        shown.join("\n  ")
    );
}

/// The module a file is part of for [`no_cycle_between_modules`]: its first two path segments
/// (`render/view/boundaries` is part of `render/view`), so that a folder split into files by
/// concern counts as one module whatever its files call each other through paths the reader
/// does not follow (`boundaries::outline()` in `view/mod.rs`).
fn module_of(file: &str) -> String {
    file.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
}

#[test]
fn no_cycle_between_modules() {
    let mut units: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, targets) in edges() {
        for (b, why) in targets {
            let (ua, ub) = (module_of(&a), module_of(&b));
            if ua != ub {
                units
                    .entry(ua)
                    .or_default()
                    .entry(ub)
                    .or_insert(format!("{a} -> {b}: {why}"));
            }
        }
    }
    let found = cycles(&units, |m| room_of(m) != "core");
    let shown: Vec<String> = found
        .iter()
        .map(|members| {
            let inside: Vec<String> = members
                .iter()
                .flat_map(|a| {
                    units[a]
                        .iter()
                        .filter(|(b, _)| members.contains(b))
                        .map(|(_, why)| why.clone())
                })
                .collect();
            format!("{}:\n    {}", members.join(", "), inside.join("\n    "))
        })
        .collect();
    assert!(
        shown.is_empty(),
        "modules of src/ outside the core that depend on each other in a cycle:\n  {}",
        shown.join("\n  ")
    );
    assert_eq!(module_of("render/view/boundaries"), "render/view");
    assert_eq!(module_of("gate"), "gate");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [
        ("a", "b"),
        ("b", "c"),
        ("c", "a"),
        ("c", "d"),
        ("d", "e"),
        ("e", "e"),
    ] {
        edges
            .entry(a.into())
            .or_default()
            .insert(b.into(), String::new());
    }
    assert_eq!(cycles(&edges, |_| true), vec![vec!["a", "b", "c"]]);
    assert!(cycles(&edges, |m| m != "b").is_empty());
    assert_eq!(parent_of("scan/pipeline"), ["scan"]);
    let edges = self::edges();
    assert!(
        edges["cli/check"].contains_key("scan/pipeline"),
        "crate::scan::ScanResult is an edge to the file that defines it: {:?}",
        edges["cli/check"]
    );
}
