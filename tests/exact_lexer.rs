//! The exact lexers (src/lang/exact.rs) find what tree-sitter finds (issue 20, second round).
//!
//! Every comparison extracts a file twice, with the exact lexer and with tree-sitter alone, and
//! the comments (text and offsets) and diagnostics must be equal wherever the lexer answered.
//! Inputs: every source file of the repository (fixtures, tests, the sources themselves), an
//! adversarial corpus generated from a seed (comment markers in strings, escapes, raw strings,
//! unterminated things, CRLF, BOM, invalid UTF-8, nesting, syntax errors), and, in an ignored
//! test, every file of the trees named by `THREATMARK_EXACT_TREE` (`:`-separated).
//!
//! @tests #exact_lexer for #extractor

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use threatmark::annotation::Locator;
use threatmark::comments::{self, Method, Options};
use threatmark::lang::{LANGUAGES, Language, exact};
use threatmark::text::LineIndex;

mod support;
use support::Rng;

/// Counts per language: files compared, files the lexer answered, mismatches.
#[derive(Default, Debug)]
struct Tally {
    files: usize,
    exact: usize,
    mismatches: Vec<String>,
}

/// Compare the two ways on one file; `None` when the language has no exact lexer.
fn compare(lang: &Language, name: &str, bytes: &[u8], tally: &mut BTreeMap<&'static str, Tally>) {
    if lang.grammar.is_none() || !exact::covers(lang.name) {
        return;
    }
    let text = threatmark::text::decode(bytes).text;
    let index = LineIndex::new(&text);
    let loc = Locator::new(name, &text, &index);
    let fast = comments::extract(lang, &loc, &Options::default());
    let t = tally.entry(lang.name).or_default();
    t.files += 1;
    if fast.method != Some(Method::Exact) {
        return;
    }
    t.exact += 1;
    let slow = comments::extract(
        lang,
        &loc,
        &Options {
            exact_lexer: false,
            ..Options::default()
        },
    );
    let (fd, sd) = (
        format!("{:?}", fast.diagnostics),
        format!("{:?}", slow.diagnostics),
    );
    if fast.comments != slow.comments || fd != sd {
        let first = fast
            .comments
            .iter()
            .flatten()
            .zip(slow.comments.iter().flatten())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("exact {a:?} vs tree-sitter {b:?}"))
            .unwrap_or_else(|| {
                format!(
                    "{} vs {} comments; diagnostics {fd} vs {sd}",
                    fast.comments.len(),
                    slow.comments.len()
                )
            });
        t.mismatches.push(format!("{name}: {first}"));
    }
}

fn language_of(path: &Path, bytes: &[u8]) -> Option<&'static Language> {
    let name = path.file_name()?.to_str()?;
    threatmark::lang::detect(name, &bytes[..bytes.len().min(512)], |_| None)
}

fn compare_tree(roots: &[PathBuf]) -> BTreeMap<&'static str, Tally> {
    let mut tally = BTreeMap::new();
    for path in support::source_files(roots) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes.len() > 2 * 1024 * 1024 {
            continue;
        }
        if let Some(lang) = language_of(&path, &bytes) {
            compare(lang, &path.display().to_string(), &bytes, &mut tally);
        }
    }
    tally
}

fn report(tally: &BTreeMap<&'static str, Tally>) -> String {
    let mut s = String::new();
    for (lang, t) in tally {
        s.push_str(&format!(
            "{lang:<12} files {:>6}  exact {:>6}  mismatches {}\n",
            t.files,
            t.exact,
            t.mismatches.len()
        ));
        for m in t.mismatches.iter().take(5) {
            s.push_str(&format!("    {m}\n"));
        }
    }
    s
}

fn assert_no_mismatch(tally: &BTreeMap<&'static str, Tally>) {
    let bad: usize = tally.values().map(|t| t.mismatches.len()).sum();
    assert_eq!(
        bad,
        0,
        "the exact lexer disagrees with tree-sitter:\n{}",
        report(tally)
    );
}

/// Every file of the repository: fixtures, tests, sources, examples, benches, fuzz targets.
#[test]
fn the_exact_lexer_agrees_with_tree_sitter_on_every_repository_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots: Vec<PathBuf> = ["tests", "src", "docs", "benches", "fuzz", "library"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let tally = compare_tree(&roots);
    eprintln!("{}", report(&tally));
    assert_no_mismatch(&tally);
    // The lexer must answer for most of the repository's own Rust, or it buys nothing.
    let rust = &tally["rust"];
    assert!(rust.exact * 2 > rust.files, "{}", report(&tally));
}

/// What goes inside strings and comments: every comment and string marker of every covered
/// language, escapes, line ends of every kind, non-ASCII, an annotation.
const CONTENT: &[&str] = &[
    "//",
    "/*",
    "*/",
    "/**/",
    "#",
    "\"",
    "'",
    "`",
    "\\",
    "\\\\",
    "\\\"",
    "\\'",
    "\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    "é",
    "\u{FEFF}",
    "\u{2028}",
    "${",
    "}",
    "{",
    "<!--",
    "-->",
    "#\"",
    "\"#",
    "\"\"\"",
    "@threat Fake (#fake)",
    "x",
    "r#\"",
    "\0",
    "=======",
    "<<<<<<< HEAD",
];

/// A code token: what the lexers must tell from comments and strings.
const CODE: &[&str] = &[
    "x",
    "y1",
    "return",
    " ",
    " ",
    "\n",
    "\r\n",
    "\t",
    ";",
    ",",
    "=",
    "+",
    "-",
    "*",
    "/",
    "<",
    ">",
    "<=",
    "->",
    "=>",
    "::",
    ".",
    "!",
    "?",
    ":",
    "&",
    "|",
    "@",
    "$",
    "%",
    "^",
    "~",
    "0",
    "1.5",
    "0x1F",
    "1'000",
    "'a",
    "'a'",
    "'\\n'",
    "'\\''",
    "b'x'",
    "'é'",
    "r",
    "b",
    "L",
    "u8",
    "R",
    "#",
    "#include <a//b.h>\n",
    "#include \"a//b.h\"\n",
    "#define X 1 // d\n",
    "#if 0\n",
    "#pragma once\n",
    "#ifdef X\n",
    "#endif\n",
    "#!/usr/bin/env node\n",
    "`a//b`",
    "`${x}`",
    "/re//",
    "</a>",
    "<a>",
    "typeof",
    "é",
    "\u{FEFF}",
    "\\",
    "\\\n",
    "\n\"\"\"doc # x\"\"\"\n",
    "\n'''doc\n\"# y'''\n",
    "\nr'\\\\'\n",
    "f\"{x}\"",
    "b'#'",
    "\nif x: \"d\"\n",
    "\n\"a\" \"b\"\n",
    "\n\"x\"; y\n",
    "\n    \"i\"\n",
    "\n# c\n",
    "lambda: 1",
];

/// The bracket that closes `open`.
fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

/// Closes what a generator left open, and sometimes puts a byte-order mark first.
fn close_and_mark(rng: &mut Rng, depth: &mut Vec<u8>, out: &mut Vec<u8>) {
    while let Some(open) = depth.pop() {
        out.push(closer(open));
    }
    if rng.below(10) == 0 {
        out.splice(0..0, *b"\xEF\xBB\xBF");
    }
}

/// Opens a bracket, kept in `depth` until it is closed.
fn open_bracket(rng: &mut Rng, depth: &mut Vec<u8>, out: &mut Vec<u8>) {
    let open = *rng.pick(b"([{");
    out.push(open);
    depth.push(open);
}

/// Closes the last bracket opened, if any.
fn close_bracket(depth: &mut Vec<u8>, out: &mut Vec<u8>) {
    if let Some(open) = depth.pop() {
        out.push(closer(open));
    }
}

/// One generated file: balanced code with strings and comments full of markers, sometimes
/// broken (a stray bracket, an unclosed string or comment).
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth: Vec<u8> = Vec::new();
    // Half the files are plain code (names, operators, line ends) around the literals, which
    // the lexers must answer for; the other half mix in every hostile token.
    let plain = rng.below(2) == 0;
    let content = |rng: &mut Rng| -> String {
        (0..rng.below(6))
            .map(|_| *rng.pick(CONTENT))
            .filter(|c| !plain || *c != "\0")
            .collect()
    };
    let code = |rng: &mut Rng| -> &'static str {
        if plain {
            CODE[rng.below(21)]
        } else {
            CODE[rng.below(CODE.len())]
        }
    };
    for _ in 0..rng.below(60) {
        match rng.below(14) {
            0 => out.extend(format!("// {}\n", content(rng).replace(['\n', '\r'], " ")).bytes()),
            1 => out.extend(format!("/* {} */", content(rng)).bytes()),
            2 => out.extend(
                format!("\"{}\"", content(rng).replace(['"', '\n', '\r', '\\'], "")).bytes(),
            ),
            3 => out.extend(
                format!("'{}'", content(rng).replace(['\'', '\n', '\r', '\\'], "")).bytes(),
            ),
            4 => out.extend(format!("r#\"{}\"#", content(rng).replace("\"#", "")).bytes()),
            5 => out.extend(format!("`{}`", content(rng).replace('`', "")).bytes()),
            6 => out.extend(format!("\"\"\"{}\"\"\"", content(rng).replace("\"\"\"", "")).bytes()),
            7 => open_bracket(rng, &mut depth, &mut out),
            8 => close_bracket(&mut depth, &mut out),
            9 => out.extend(format!("/* a /* {} */ b */", content(rng)).bytes()),
            10 if !plain && rng.below(20) == 0 => out.extend(
                rng.pick(&["\"", "/*", "'", "`", "}", ")", "\u{FFFD}"])
                    .bytes(),
            ),
            11 if !plain && rng.below(30) == 0 => {
                let bad: [&[u8]; 3] = [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"];
                let b: &[u8] = bad[rng.below(bad.len())];
                out.extend_from_slice(b);
            }
            // Templates with substitutions and regular expressions (sixth round).
            12 if rng.below(2) == 0 => out.extend(
                rng.pick(&[
                    "`a ${x} b`",
                    "`a ${`b ${c}`} d`",
                    "`a ${f(/x/)}`",
                    "`a\n${x}\nb`",
                    "`${ {a: 1} }`",
                    "`a ${x // c\n} b`",
                    "= /a[/*]\\/b/g",
                    "(/[/]/, /\\//)",
                    "= /a/ / 2",
                    "x++ / 2 ",
                    "x! / y",
                    "x.return / 2",
                    "return /x/",
                    "f<T> / 2",
                    "=> /x/",
                    "${",
                ])
                .bytes(),
            ),
            _ => out.extend(code(rng).bytes()),
        }
        if rng.below(4) == 0 {
            out.push(b' ');
        }
    }
    close_and_mark(rng, &mut depth, &mut out);
    out
}

/// C directive lines: `#define` values and other directives' arguments, which tree-sitter-c
/// reads as one `preproc_arg` token up to a `/*` or the line break (a `//` or a quote inside
/// is text), and `#if` conditions, which are ordinary tokens.
const C_DIRECTIVES: &[&str] = &[
    "\n#define A\n",
    "\n#define A 1\n",
    "\n#define A(x, ...) x /* c */ + 1\n",
    "\n#define A(x) \\\n  do { x; /* c */ } \\\n  while (0)\n",
    "\n#define A 1 // not a comment\n",
    "\n#define A // a comment\n",
    "\n#define A \"/*\" // d\n",
    "\n#define A 'x /* c\n */\n",
    "\n#define A /* c */ \n",
    "\n#define A  \n",
    "\n#define A x /\n",
    "\n#undef A /* c */\n",
    "\n#pragma once\n",
    "\n#error don't // d\n",
    "\n#if A /* c */ && B // d\n",
    "\n#elif defined(A)\n",
    "\n#if(A)\n",
    "\n#include_next <a.h>\n",
    "\n#iffy\n",
    "printf(\"%\"PRIuMAX\" // no\\n\", L\"/* no */\");",
];

/// Every C directive line above, alone and before code with comments: the lexer must agree
/// with tree-sitter, and answer for the ones it models.
#[test]
fn c_directive_lines_agree_with_tree_sitter() {
    let texts = C_DIRECTIVES.iter().flat_map(|line| {
        [
            format!("int a; // a\n{line}int b; // b\n"),
            format!("struct s {{\n{line}  int b; /* b */\n}};\n"),
        ]
    });
    // `#define A`, `#define A 1`, the function-like ones, `#undef`, `#pragma`, `#if`, `#elif`
    // and the strings after names (twice each); the rest is refused, here or by the lexical
    // cross-check.
    assert_eq!(answered_of_snippets("c", texts), 18);
}

/// Each of `texts` compared with tree-sitter in the language `name`: no mismatch; how many
/// the lexer answered.
fn answered_of_snippets(name: &str, texts: impl IntoIterator<Item = String>) -> usize {
    let lang = threatmark::lang::by_name(name).expect("language");
    let mut tally = BTreeMap::new();
    for (n, text) in texts.into_iter().enumerate() {
        compare(lang, &format!("{n}: {text:?}"), text.as_bytes(), &mut tally);
    }
    eprintln!("{}", report(&tally));
    assert_no_mismatch(&tally);
    tally.get(name).map_or(0, |t| t.exact)
}

/// Python f-strings: `{…}` is code to tree-sitter-python (its quotes start strings, its `#`
/// a comment) and part of one string to the lexical scanner.
const PY_FSTRINGS: &[&str] = &[
    "f'a {x} b'",
    "f\"{x!r:>10}\"",
    "f'{x:%Y-%m-%d}' # c",
    "f'{d[\"k\"]} {{literal}}'",
    "rf'\\d{n}'",
    "f\"\"\"a {x}\nb # no\n\"\"\"",
    "f'{x # c\n}'",
    "f'{\"#\"}'",
    "f'{x:#x}'",
    "f'{f\"{y}\"}'",
    "f'{x[\\'a\\']}'",
    "f\"\"\"a\n{x}\"\"\"",
    "f'a }'",
    "f'\\N{DASH}'",
    "f'\\{x}'",
    "f'{x:{w}}'",
];

/// Every f-string above as a statement, an assignment's value and a call's argument, before
/// code with comments: the lexer must agree with tree-sitter, and answer for the first five
/// as a value and an argument (but the third, whose comment swallows the call's `)`). As a
/// statement on its own the lexical scanner does not take an f-string for a docstring, and
/// the file is refused.
#[test]
fn python_f_strings_agree_with_tree_sitter() {
    let texts = PY_FSTRINGS.iter().flat_map(|s| {
        [
            format!("{s}\nx = 1 # a\n"),
            format!("y = {s}\nx = '#' # a\n"),
            format!("def f():\n    g({s}, 1) # b\n    '''d # no'''\n"),
        ]
    });
    assert_eq!(answered_of_snippets("python", texts), 9);
}

/// Python strings that span lines as the value of `NAME =` (Ansible's `DOCUMENTATION =
/// r"""…"""` with `#`, quotes and YAML in the body) are refused: tree-sitter's recovery can
/// lex their opening quotes while it recovers and read the body as code (`from or from x`),
/// or start a node at the closing quotes (a MISSING name before `= 1`, `.strip()`, `or Y`
/// when an error follows), where the lexical scan from that line reads them as opening ones
/// (the tenth round's review). A line that does not end a statement (`x: int =`, `x.`,
/// `x ==`) and a decorator with no definition after it are refused too.
#[test]
fn python_assigned_strings_that_span_lines_agree_with_tree_sitter() {
    let module = "#!/usr/bin/python\n# c\nfrom __future__ import annotations\n\n\
                  __metaclass__ = type\n\nDOCUMENTATION = r'''\n---\nmodule: x # not\n\
                  description: \"a\" 'b'\n'''\n\nEXAMPLES = \"\"\"\n# @threat Fake (#fake)\n\
                  \"\"\"\n\nimport os\n# @threat Real (#real)\ndef f():\n    return 1\n";
    let cases = [
        module.to_string(),
        module.replace("import os", "import os; x = = 1 2"),
        module.replace("\nEXAMPLES", "\nEXAMPLES = 1\nE2"),
        module.replace("from __future__", "from or from x\nfrom __future__"),
        module.replace("__metaclass__ = type", "__metaclass__ = type if"),
        "x: int =\n  '''\n  # t\n  '''\n".to_string(),
        "x.\nclass C:\n    '''d\n    # d\n    '''\n".to_string(),
        "x ==\nexec 'x'\n= =\nx = '\\\\'\n".to_string(),
        "@dec\n'''d\n# d\n'''\n".to_string(),
        "D = 1 R'''\n# in\n\"x\" 'y'\n\n'''\nexcept:\n".to_string(),
        "from or from x\nD = rb\"\"\"\n# x\n'q' \"r\"\n\"\"\"\n".to_string(),
        // The review's files: a node starts at the closing quotes.
        "x = '''\nq\n'''\n= 1  # @threat lost\nelse:\n".to_string(),
        "x = '''\n'''\n= 1\ny = 2  # @threat lost\nelse:\n".to_string(),
        "x = '''\nq\n'''\n= 1\n@dec\n".to_string(),
        "import os\nDOCUMENTATION = r'''\nmodule: foo\n'''\n.strip()  # @threat lost\n@dec\n"
            .to_string(),
        "X = '''\nq\n'''\nor Y  # @threat lost\nelif:\n".to_string(),
        "DOC = Br''' @threat a\n#\n'''\r\n= 1\nM = 0\n'''\n# zz\n'''\n@dec\n".to_string(),
        "_y  =  b'''\n\"\"\"x\n\\'\n\u{e9} \u{fc}\n'''\n= 1\nelse:".to_string(),
    ];
    let n = answered_of_snippets("python", cases);
    assert_eq!(n, ANSWERED_ASSIGNED);
}

/// Python module preludes: lines tree-sitter-python parses without an error, then (from
/// [`PY_PRELUDE_CLEAN`] on) lines that only look like them (relative imports, `as`, keywords
/// as names, indentation, `= =`).
const PY_PRELUDE: &[&str] = &[
    "from __future__ import annotations",
    "from __future__ import absolute_import, division, print_function",
    "import os.path, sys",
    "__metaclass__ = type",
    "X = None",
    "Z = r'z # no'",
    "# c",
    "",
    "'''module doc\n# d\n'''",
    "from . import x",
    "import a as b",
    "X = = 1",
    "X = 1 2",
    "  X = 1",
    "X = 1;",
    "from a import b as",
    "from or from x",
    "X = not",
    "X = print",
    "print = 1",
    "X = 1.",
    "from a import *",
    "X = 'a' 'b'",
    "X = '''a'''  # c",
    "import a,",
    "try",
    "X = b'\\x00'",
    "@dec",
    "x = (\n1)",
];

/// The lines of [`PY_PRELUDE`] tree-sitter-python parses without an error.
const PY_PRELUDE_CLEAN: usize = 9;

/// How many of the cases above the lexer answers.
const ANSWERED_ASSIGNED: usize = 0;

/// After the strings: code, comments, syntax errors, other strings.
const PY_AFTER: &[&str] = &[
    "x = 1",
    "# @threat Real (#real)",
    "def f(:",
    "1 2",
    "x.",
    "else:",
    "'''",
    "    y",
    "from . import a",
    "def f():\n    '''d\n    # d\n    '''",
    "lambda:",
    ")",
];

/// A module: prelude lines, `NAME = '''…'''` strings with comment markers and quotes in their
/// bodies (some after more prelude lines), then code.
fn generate_module(rng: &mut Rng) -> Vec<u8> {
    const BODIES: &[&str] = &[
        "\n# @threat Fake (#fake)\n'q' \"r\"\n",
        "a\n# x\n",
        "\n\\'''\n# z\n",
        "\n\"\"\"\n# w\n",
        "\n\t# t\r\n",
        "\n\\\n#\n",
        "\n'\n#\n",
    ];
    let prelude = |rng: &mut Rng| {
        let n = if rng.below(5) == 0 {
            PY_PRELUDE.len()
        } else {
            PY_PRELUDE_CLEAN
        };
        PY_PRELUDE[rng.below(n)].to_string()
    };
    let mut lines: Vec<String> = Vec::new();
    for _ in 0..rng.below(5) {
        lines.push(prelude(rng));
    }
    for _ in 0..1 + rng.below(3) {
        let (quote, other) = *rng.pick(&[("'''", "\"\"\""), ("\"\"\"", "'''")]);
        let body = rng.pick(BODIES).replace(quote, other);
        lines.push(format!(
            "{}{}{}{quote}{body}{}{quote}{}",
            rng.pick(&["DOCUMENTATION", "D", "type", "print"]),
            rng.pick(&[" = ", "=", " == "]),
            rng.pick(&["", "r", "b", "u", "Rb"]),
            rng.pick(&["", "", " ", "\t"]),
            rng.pick(&["", "", " ", "\r", " # c", ".strip()"]),
        ));
        if rng.below(3) == 0 {
            lines.push(prelude(rng));
        }
    }
    for _ in 0..rng.below(3) {
        lines.push(rng.pick(PY_AFTER).to_string());
    }
    let mut text = lines.join(*rng.pick(&["\n", "\n", "\r\n"]));
    if rng.below(2) == 0 {
        text.push('\n');
    }
    text.into_bytes()
}

/// The Python module corpus: no mismatch. Every file holds an assigned string that spans
/// lines with markers in its body, which the lexer refuses since the tenth round's review
/// (see above), so no share of answers is asked for: the corpus guards the next attempt.
#[test]
fn python_modules_with_strings_that_span_lines_agree_with_tree_sitter() {
    agree_on_a_corpus(
        0x2020_0013,
        &[("python", &[])],
        |rng, _, _| generate_module(rng),
        0,
    );
}

/// Each shell snippet after a comment, before `fi` (a syntax error) and after `then` (one),
/// with comments around: no mismatch; how many the lexer answered.
fn answered_in_shell_contexts(snippets: &[&str]) -> usize {
    let texts = snippets.iter().flat_map(|s| {
        [
            format!("# a\n{s}\necho x # b\n"),
            format!("{s}\nfi # b\necho '#' # c\n"),
            format!("then\n# a\n{s}\n# b\n"),
        ]
    });
    answered_of_snippets("bash", texts)
}

/// Shell `'…'` strings that span lines (git's `test_expect_success 'title' '⏎ body ⏎'`): one
/// token to tree-sitter-bash, a quote that ends at the line's end to the lexical scanner.
const SH_RAW_STRINGS: &[&str] = &[
    "test_expect_success 'setup' '\n\techo \"a # b\" >file &&\n\tgit add file\n'",
    "x='a\nb \"c\nd\" e'",
    "echo 'a\nb'; echo '\n'",
    "f 'a\n\t# in the body\n'",
    "f 'a\n\tcat <<-EOF\n\tEOF\n'",
    "f 'a \\\nb'",
    "f 'a\n\"b \\\nc\"\n'",
    "f 'a\nb' # after\n",
    "f 'a\r\nb'",
    "f 'a\nb # c",
    "# it's\nf 'a\nb' &&\n# don't",
    "f 'a\n\tcat >x <<-\\EOF &&\n\t# text\n\tEOF\n\tgit log\n'",
    "f 'a\n\tgit log \\\n\t\t--oneline &&\n\techo \"a\n'",
    "f 'a\n=======\n'",
    "f 'a\ncat <<EOF\n' ;;\ng 'x\n# y\n'\nEOF",
    "f 'a\n\"b \\\n' ;;\ng 'x\n# y\n' \"",
];

/// Every shell string above before and after comments, with a syntax error before it and
/// after it: the lexer must agree with tree-sitter, and answer for eight of them in all three
/// contexts. Refused: a comment in the body or after the closing quote (the lexical scanner
/// reads the body as code and the closing quote as an opening one), a `<<-\EOF` that the
/// lexical scanner takes for no heredoc, a conflict marker, a string never closed, and a
/// heredoc or a quote continued by `\` that the lexical scanner reads across the closing
/// line's start. Every one spans lines, which base refuses.
#[test]
fn shell_strings_that_span_lines_agree_with_tree_sitter() {
    assert_eq!(answered_in_shell_contexts(SH_RAW_STRINGS), 24);
}

/// What a review of the ninth round's shell lever found: a `#` in arithmetic that is not in a
/// number with a base (`a#`, `0x1#`, `16#f#`) starts a comment for tree-sitter-bash, and an
/// unquoted or `\\`-quoted heredoc delimiter runs to the next blank (`<<\\EOF;` ends at a line
/// `EOF;`). The lexer answered all of these wrongly before the fix; now it must agree or refuse.
#[test]
fn shell_cases_of_the_ninth_rounds_review_agree_with_tree_sitter() {
    let texts = [
        "x=\"$((a#))\n))\"\n",
        "x=\"$((16#f#))\n))\"\n",
        "x=\"$((0x1#))\n))\"\n",
        "x=\"$((16#11#1))\n))\"\n",
        "x=\"$((a-16#f))\" # c\n",
        "cat <<\\EOF;\nx\nEOF\n# c\nEOF;\n# d\n",
        "cat <<\\EOF>f\nx\nEOF\n# c\nEOF>f\n# d\n",
        "cat <<-\\EOF|cat\nx\nEOF\n# c\nEOF|cat\n# d\n",
        "cat <<EOF;\nx\nEOF\n# c\nEOF;\n# d\n",
        "case a in\na) cat <<\\EOF;;\nx\nEOF\n# c\nEOF;;\nesac\n# d\n",
        "cat <<'EOF';\nx\nEOF\n# c\n",
    ]
    .map(String::from);
    assert_eq!(answered_of_snippets("bash", texts), 2);
}

/// Shell constructs of git's test scripts (t/*.sh): `case` patterns, whose `)` closes no
/// bracket; `<<\\EOF` heredocs, whose delimiter the `\\` quotes (the lexical scanner takes
/// them for no heredoc and reads their bodies as code); `$(…)` inside `"…"`. Traps: a `#`
/// that starts a word in a pattern (a comment) or follows a `)`, `esac` as an argument (the
/// grammar takes it for the keyword), `case` as an argument, a body with `#` or quotes, a
/// quote or `#` inside `"$(…)"` that the lexical scanner reads apart, a `"$(…)"` that spans
/// lines.
const SH_CONSTRUCTS: &[&str] = &[
    "case $x in\na) echo a # c\n;;\n# d\nb|c) echo b;;\n(d) echo d ;;\n*) echo;;\nesac",
    "case \"$1\" in\n--*=*) x=${1#*=} ;; # c\n[0-9]*) ;;\nesac # e",
    "case $x in #c\n  a#b) echo;; # c3\n  esac",
    "case $x in\n#e) echo e;;\nesac",
    "case $x in\na)# c\n;;\nesac",
    "case $x in\n  a) echo esac;;\nesac # c4",
    "case $x in\n  a) case $y in z) echo;; esac;;\nesac # c5",
    "echo case a) # c6",
    "x=$(case $y in a) echo;; esac) # c7",
    "case $x in\na) cat <<-EOF\n\tbody\n\tEOF\n;;\nesac",
    "cat <<-\\EOF\n\tx y\n\tEOF\n# c8",
    "cat <<\\EOF >f\na b\nEOF\n# c9",
    "cat <<\\EOF\n# no\nEOF\n# c10",
    "cat <<\\EOF\n'a\nEOF\n# c11",
    "cat <<\\EOF\na\n",
    "test_expect_success 'x' - <<\\EOT\n\tgit log\nEOT\n# c12",
    "echo \"$(git rev-parse HEAD)\" # c13",
    "x=\"a $(echo \"b c\") d\" # c14",
    "echo \"$(echo \"a)\" )\" # c15\necho \"$( (cd x && pwd) )\" # c16",
    "x=\"$(echo 'a\"b')\" # c17",
    "x=\"$(echo \"a #b\")\" # c18",
    "x=\"$((1 + 2))\" # c19",
    "echo \"$(echo # no\n)\" # c20",
    "echo \"$(echo 'a\nb')\" # c21",
    "echo \"$(echo \"a\" #b)\"",
];

/// Every construct above before and after comments, with a syntax error before it and after
/// it: the lexer must agree with tree-sitter, and answer for fourteen of them in all three
/// contexts (42). Refused: a comment glued to a pattern's `)`, `case` as an argument before a
/// `)`, `case` inside `$(…)`, a `<<\\EOF` body with `#` or a quote or never closed, and the
/// `"$(…)"` traps. Base refuses every one.
#[test]
fn shell_case_heredoc_and_substitution_constructs_agree_with_tree_sitter() {
    assert_eq!(answered_in_shell_contexts(SH_CONSTRUCTS), 42);
}

/// Shell `"…"` strings that span lines (`git commit -m "a⏎⏎b"`): nodes to tree-sitter-bash
/// (their expansions start on their inner lines, where an error region may start), a quote
/// that ends at the line's end to the lexical scanner, which reads the other lines as code.
const SH_DOUBLE_QUOTED: &[&str] = &[
    "x=\"a\nb\"\n# c",
    "git commit -m \"a\n\nb\" &&\n# c\ngit log",
    "x=\"a\n$y ${z}\nb\"",
    "x=\"a\n$(b) $((1+2))\nc\"",
    "x=\"a\nit's\nb\"",
    "echo \"a\nb\" # c",
    "x=\"a\n# not\nb\"",
    "x=\"a \\\nb\"",
    "x=\"a\n$(b\n)\"",
    "cat <<EOF \"a\nb\"\nEOF\n",
    "x=\"a\n=======\nb\"",
    "x=\"a\n<<EOF b\nc\nEOF\n\"",
    "f \"a\nb\" ;; :=\n# after",
    "x=\"a\nb",
    "x=\"a\n`b`\"",
];

/// Every string above before and after comments, with a syntax error before it and after it:
/// the lexer must agree with tree-sitter, and answer for the first five and the one with a
/// syntax error on its closing line in all three contexts (18). Refused: a comment after the
/// closing quote or on an inner line (the lexical scanner reads the closing quote as an opening
/// one and the inner lines as code), `\\` before a line break, a line break inside a `$(…)`, a
/// heredoc pending, a conflict marker, a heredoc the lexical scanner reads across an inner
/// line's start, a string never closed, backticks. Base refuses every one.
#[test]
fn shell_double_quoted_strings_that_span_lines_agree_with_tree_sitter() {
    assert_eq!(answered_in_shell_contexts(SH_DOUBLE_QUOTED), 18);
}

/// Literals that span lines, with a syntax error (or none) on their closing line and a literal
/// of the same kind after the comments that follow: tree-sitter's path rescans the error's
/// lines from the closing line's start, where the lexical scanner reads the closing delimiter
/// as an opening one (to the next backtick, or a "docstring" to the next `"""`).
const LITERALS_THAT_SPAN_LINES: &[(&str, &str)] = &[
    ("go", "var x = `a\nb` ;;; :=\n// after\nvar y = `c`"),
    ("go", "var x = f(`a\nb`, 1 2)\n// after\nvar y = `c`"),
    ("go", "var x = `a\nb`\n// after\nvar y = `c`"),
    ("go", "var x = `a\nb` + 1\n// after\n"),
    ("go", "var x = `a\nb` + 1\nvar y = 2"),
    (
        "javascript",
        "const x = `a\nb`; :=\n// after\nconst y = `c`;",
    ),
    (
        "javascript",
        "const x = `a\n${y}\nb`; :=\n// after\nconst z = `c`;",
    ),
    ("javascript", "const x = `a\nb`;\n// after\n"),
    ("javascript", "const x = `a\nb`;\nf(1);"),
    (
        "typescript",
        "const x = `a\nb`; :=\n// after\nconst y = `c`;",
    ),
    (
        "typescript",
        "const x: T = `a\nb` 1\n// after\nconst y = `c`;",
    ),
    (
        "python",
        "x = \"\"\"a\nb\"\"\"; :=\n# after\ny = \"\"\"c\"\"\"",
    ),
    (
        "python",
        "x = \"\"\"a\nb\"\"\".format(1 2)\n# after\ny = \"\"\"c\"\"\"",
    ),
    ("python", "x = f('''a\nb''', 1 2)\n# after\ny = '''c'''"),
    (
        "python",
        "\"\"\"a\nb\"\"\".strip() +\n# after\ny = \"\"\"c\"\"\"",
    ),
    (
        "python",
        "def f():\n    \"\"\"a\n    b\"\"\"\n    # after\n    return 1",
    ),
    ("python", "x = '''a\nb'''\n# after\n"),
    ("python", "x = '''a\nb'''\ny = 1"),
    (
        "java",
        "class A { String x = \"\"\"\n  a\n  \"\"\"; :=\n// after\nString y = \"\"\"\n  c\"\"\"; }",
    ),
    (
        "java",
        "class A { String x = \"\"\"\n  a\n  b\"\"\";\n// after\n}",
    ),
    ("java", "class A { String x = \"\"\"\n  a\n  b\"\"\";\n}"),
];

/// Every literal above, after a comment: the lexer must agree with tree-sitter (base answered
/// those with an error on the closing line, and disagreed), and answer only where a scan that
/// resumes at the closing line's start finds what the whole-file scan finds from there.
#[test]
fn literals_that_span_lines_agree_with_tree_sitter_after_an_error_on_their_closing_line() {
    let mut answered = BTreeMap::new();
    for &(lang, s) in LITERALS_THAT_SPAN_LINES {
        let marker = if lang == "python" { "#" } else { "//" };
        let n = answered_of_snippets(lang, [format!("{marker} before\n{s}\n")]);
        *answered.entry(lang).or_insert(0) += n;
    }
    // Answered: Go, JavaScript and Java literals with no comment after them, and Python's
    // docstring; refused: every other, as the rescan reads the closing delimiter as an opening
    // one (in Python a "docstring", so even with no comment after it).
    let expected = [
        ("go", 1),
        ("java", 1),
        ("javascript", 1),
        ("python", 1),
        ("typescript", 0),
    ];
    assert_eq!(answered, BTreeMap::from(expected));
}

/// Go raw strings after a syntax error: tree-sitter-go's recovery can take a lone backtick
/// into the error and pair the rest otherwise, reading a raw string's body as code (a review
/// of the ninth round found this in a lever that answered such strings unchecked). The lexer
/// must agree with tree-sitter or refuse.
#[test]
fn go_raw_strings_after_a_syntax_error_agree_with_tree_sitter() {
    let texts = [
        "package p\nvar v = x.`a\n` `\n// @threat Fake (#fake)\n`\n",
        "package p\n\nvar v = x.\n`a\n` /* c */ `b\n// @threat Fake (#fake)\n`\n\
         // @threat Real (#real)\nvar t = `z\n`\n",
        "package p\nvar v = x.\n`a\n// c\n`\n// d\n",
    ]
    .map(String::from);
    answered_of_snippets("go", texts);
}

/// Go line comments that end in `\\` (Windows paths): tree-sitter-go does not continue them
/// onto the next line (base refused all).
#[test]
fn go_line_comments_that_end_in_a_backslash_agree_with_tree_sitter() {
    let body = "var y = 1 // C:\\\nvar z = 2 // \\\n// d\n";
    let texts =
        ["", "var w = f(1 2)\n", "func g() { x. }\n"].map(|e| format!("package p\n{e}{body}{e}"));
    assert_eq!(answered_of_snippets("go", texts), 3);
}

/// Rust line and doc comments that end in `\\`: tree-sitter-rust does not continue them onto the
/// next line (base refused all four).
#[test]
fn rust_line_comments_that_end_in_a_backslash_agree_with_tree_sitter() {
    let body = "// C:\\\nfn f() {} // \\\n/// doc \\\n//! inner \\\nfn g() {}\n// after\n";
    let texts = ["", "fn h() { 1 2 }\n", "fn h() { x. }\n"].map(|e| format!("{e}{body}{e}"));
    let answered = answered_of_snippets("rust", texts.into_iter().chain([body.to_string()]));
    assert_eq!(answered, 4);
}

/// The generated adversarial corpus, in every covered language.
#[test]
fn the_exact_lexer_agrees_with_tree_sitter_on_an_adversarial_corpus() {
    let cases: usize = std::env::var("EXACT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut tally = BTreeMap::new();
    for lang in LANGUAGES.iter().filter(|l| exact::covers(l.name)) {
        let mut rng = Rng(0x2020_0002 ^ lang.name.len() as u64);
        for case in 0..cases {
            let mut bytes = generate(&mut rng);
            if lang.name == "php" {
                // PHP code starts at its opening tag.
                bytes.splice(0..0, *b"<?php\n");
            }
            if lang.name == "c" {
                // Directive lines anywhere, also inside strings and comments (seventh round).
                for _ in 0..rng.below(4) {
                    let at = rng.below(bytes.len() + 1);
                    bytes.splice(at..at, rng.pick(C_DIRECTIVES).bytes());
                }
            }
            compare(
                lang,
                &format!(
                    "{} case {case}: {:?}",
                    lang.name,
                    String::from_utf8_lossy(&bytes)
                ),
                &bytes,
                &mut tally,
            );
        }
    }
    eprintln!("{}", report(&tally));
    assert_no_mismatch(&tally);
    // Refusing everything would pass the comparison: the lexer must answer for some of it.
    for (lang, t) in &tally {
        assert!(t.exact * 40 > t.files, "{lang}: {t:?}");
    }
}

/// Ruby's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const RUBY: &[&str] = &[
    "x",
    "foo?",
    " ",
    "\n",
    "def f(a)\n",
    "end\n",
    "@a",
    "$g",
    ":sym",
    " ? 1 : 2",
    ".",
    "=",
    ", ",
    "a / b",
    "[1, 2]",
    "{ a: 1 }",
    "x.map { |v| v % 2 }",
    "/re/i",
    "class << self\n",
    "x = <<~EOS\n  body\n  EOS\n",
    "\"a#{x}b\"",
    "do |y|\n",
    // Hostile from here on.
    "@@b",
    "$#",
    "$\"",
    "$'",
    ":\"#x\"",
    ":'#y'",
    ":/",
    ":%",
    "?#",
    "?a",
    "/re#/",
    "/[/]/",
    " /x",
    "a/b",
    " /",
    "%w[# a]",
    "%q(#)",
    "% 2",
    "<<~EOS\n  # fake\n  EOS\n",
    "<<-A\n# fake\n  A\n",
    "<<B\nb\n B\nB\n",
    "<<'Q'\n#{q}\nQ\n",
    "<<~X + <<~Y\nx\nX\ny\nY\n",
    "<<EOS\nEOS x\nEOS\n",
    " << ",
    "\n=begin\n# x\n=end\n",
    "\n=begin x\n=end y\n",
    "\n=begin\na =end\n=end\n",
    " =begin ",
    "=end",
    "\n__END__\n# data\n",
    "\"#{\"#{y}\"}\"",
    "\"a#{",
    "#{",
    "}",
    "\\\n",
    "\\\n# c\n",
    "\r\n",
    "\r",
    "`ls #x`",
    "x.nil? ? 1 : 2",
    "!=",
    "=~",
    "->",
    "=>",
    ";",
    "::",
    "EOS",
    "  EOS\n",
    "é",
    "\"a\nb\"",
    "'a\n# b'",
    "puts <<X\nX\n",
    "return /a b/",
];

/// Shell code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const SHELL: &[&str] = &[
    "echo",
    " ",
    "\n",
    "a",
    "\"$x\"",
    "x=1",
    "$1",
    "f() {\n",
    "}\n",
    " >&2",
    "if [ \"$n\" -gt 3 ]; then\n",
    "fi\n",
    "; ",
    " | ",
    " && ",
    "$(ls -la)",
    "${x:-a}",
    "local n=\"$1\"",
    "cat <<EOF\nbody\nEOF\n",
    "'s'",
    "a#b",
    "${#x}",
    // Hostile from here on.
    "x=#y",
    "$#",
    "${x#y}",
    "${x:-\"a\"}",
    "\"#\"",
    "'#'",
    "$'#'",
    "$'\\''",
    "`a #b`",
    "`a`",
    "$(",
    ")",
    "(",
    "$((",
    "))",
    "((",
    "16#ff",
    "case x in a#b) ;; esac",
    "case x in (a) ;; esac",
    "<<EOF\n# fake\nEOF\n",
    "<<-EOF\n\t# fake\n\tEOF\n",
    "<<'EOF'\n'\nEOF\n",
    "<< eof\nx\neof\n",
    "<<EOF\nEOFX\nEOF\n",
    "<<<",
    "\\\n",
    "\\\n# c\n",
    "\\#",
    "\\ ",
    ";#",
    "|#",
    "\"a\"#b",
    "$x#y",
    "{",
    "}",
    "[[",
    "]]",
    "=~",
    "\r\n",
    "\t",
    "2>&1",
    "<(",
    "é",
    "\"a\nb\"",
    "'a\n# b'",
    "$\"#\"",
    "$[1]",
    "${",
    "[[ $x == #* ]]",
    "\"a\"[[ $x == #* ]]",
    "$#[[ $x == #* ]]",
    "[ $x = #a ]",
    "[ $# -eq 0 ]",
    "(( x=#1 ))",
    "echo !#",
    "case $x in\n",
    "a) ",
    "*) ",
    ";;\n",
    "esac\n",
    "echo case ",
    "\"$(echo \"a b\")\"",
    "\"a $(",
    "\"$((1+2))\"",
    "<<-\\EOF\n\tx\n\tEOF\n",
    "<<\\EOF\n# x\nEOF\n",
    "\"a\n$x\nb\"",
];

/// How many of a language's code tokens are ordinary code.
const PLAIN_TOKENS: usize = 22;

/// One generated Ruby or shell file: code tokens of the language, `#` comments and strings
/// full of markers, brackets (sometimes left open).
fn generate_hash(rng: &mut Rng, code: &[&str]) -> Vec<u8> {
    let plain = rng.below(2) == 0;
    let extra: &[&str] = &["#{", "$(", "${", "`", "<<EOF", "=begin", "__END__"];
    let content = |rng: &mut Rng| -> String {
        (0..rng.below(6))
            .map(|_| {
                if rng.below(4) == 0 {
                    *rng.pick(extra)
                } else {
                    *rng.pick(CONTENT)
                }
            })
            .filter(|c| !plain || *c != "\0")
            .collect()
    };
    let mut out = Vec::new();
    let mut depth: Vec<u8> = Vec::new();
    for _ in 0..rng.below(60) {
        match rng.below(10) {
            0 => out.extend(format!("# {}\n", content(rng).replace(['\n', '\r'], " ")).bytes()),
            1 => out.extend(
                format!("\"{}\"", content(rng).replace(['"', '\n', '\r', '\\'], "")).bytes(),
            ),
            // Sometimes with its line breaks and backslashes: a string that spans lines.
            2 if rng.below(3) == 0 => {
                out.extend(format!("'{}'", content(rng).replace('\'', "")).bytes());
            }
            2 => out.extend(
                format!("'{}'", content(rng).replace(['\'', '\n', '\r', '\\'], "")).bytes(),
            ),
            3 => open_bracket(rng, &mut depth, &mut out),
            4 => close_bracket(&mut depth, &mut out),
            5 if !plain && rng.below(20) == 0 => out.extend(content(rng).bytes()),
            _ => {
                let n = if plain { PLAIN_TOKENS } else { code.len() };
                out.extend(code[rng.below(n)].bytes());
            }
        }
        if rng.below(3) == 0 {
            out.push(b' ');
        }
    }
    close_and_mark(rng, &mut depth, &mut out);
    if rng.below(30) == 0 {
        out.extend_from_slice(b"\xff\xfe # x\n");
    }
    out
}

/// The Ruby and shell corpus: their own tokens, traps and syntax errors.
#[test]
fn the_ruby_and_shell_lexers_agree_with_tree_sitter_on_an_adversarial_corpus() {
    agree_on_a_corpus(
        0x2020_0003,
        &[("ruby", RUBY), ("bash", SHELL)],
        |rng, _, code| generate_hash(rng, code),
        10,
    );
}

/// Seeded `EXACT_CASES` files (2,000 by default) per language, each compared with
/// tree-sitter; no mismatch, and the lexer answers more than one file in `share` (0: any).
fn agree_on_a_corpus(
    seed: u64,
    langs: &[(&str, &[&str])],
    generate: impl Fn(&mut Rng, &str, &[&str]) -> Vec<u8>,
    share: usize,
) {
    let cases: usize = std::env::var("EXACT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut tally = BTreeMap::new();
    for &(name, code) in langs {
        let lang = threatmark::lang::by_name(name).expect("language");
        let mut rng = Rng(seed ^ name.len() as u64);
        for case in 0..cases {
            let bytes = generate(&mut rng, name, code);
            compare(
                lang,
                &format!("{name} case {case}: {:?}", String::from_utf8_lossy(&bytes)),
                &bytes,
                &mut tally,
            );
        }
    }
    eprintln!("{}", report(&tally));
    assert_no_mismatch(&tally);
    // `share` 0: no answers asked for.
    for (lang, t) in tally.iter().filter(|_| share > 0) {
        assert!(t.exact * share > t.files, "{lang}: {t:?}");
    }
}

/// Every file of the trees in `THREATMARK_EXACT_TREE` (for /work/real and /work/bench-real):
/// `THREATMARK_EXACT_TREE=/a:/b cargo test --release --test exact_lexer -- --ignored --nocapture`
#[test]
#[ignore = "reads the trees named by THREATMARK_EXACT_TREE"]
fn the_exact_lexer_agrees_with_tree_sitter_on_the_trees_named() {
    let roots = support::roots_from_env("THREATMARK_EXACT_TREE");
    let tally = compare_tree(&roots);
    println!("{}", report(&tally));
    assert_no_mismatch(&tally);
}

/// Kotlin's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const KOTLIN: &[&str] = &[
    "x",
    "val y = 1\n",
    "fun f(a: Int): Int = a\n",
    " ",
    "\n",
    ".",
    "=",
    ", ",
    "a / b",
    "listOf(1, 2)",
    "{ it }",
    "\"s$x\"",
    "\"a${x}b\"",
    "'c'",
    "'\\n'",
    "`name`",
    "\"\"\"raw\n\"\"\"",
    "@Ann",
    "a?.b",
    "x!!",
    "::class",
    "<T>",
    // Hostile from here on.
    "\"${\"#\"}\"",
    "\"${ {1} }\"",
    "\"${x // c\n}\"",
    "\"${x /* c */}\"",
    "\"\"\"${x}\"\"\"",
    "\"\"\"\"a\"\"\"\"",
    "\"\"\"a\"\"\"\"",
    "'\\u0041'",
    "'ab'",
    "'''",
    "#!/usr/bin/env kotlin\n",
    "/* /* */",
    "*/",
    "/* a /* b */ c */",
    "/** d */",
    "\"\\\"\"",
    "$x",
    "\\",
    "é",
    "`a b`",
    "\"${'}'}\"",
    "// c\\\n",
    "\"$\"",
    "'\"'",
    "\"\\u{1}\"",
    "\r\n",
    "a/**/b",
    "x//y\n",
];

/// Swift's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const SWIFT: &[&str] = &[
    "x",
    "let y = 1\n",
    "func f(_ a: Int) -> Int { a }\n",
    " ",
    "\n",
    ".",
    "=",
    ", ",
    "a / b",
    "[1, 2]",
    "{ $0 }",
    "\"a\\(x)b\"",
    "\"s\"",
    "`name`",
    "\"\"\"\nmulti\n\"\"\"",
    "@objc",
    "a?.b",
    "x!",
    "\\.self",
    "<T>",
    "a ?? b",
    "case .x:",
    // Hostile from here on.
    "#if DEBUG\n",
    "#endif\n",
    "#\"raw\"#",
    "#selector(f)",
    "/re/",
    "a/b",
    "/=",
    "+//",
    "*/",
    "/* /* */",
    "/* a /* b */ c */",
    "\"\\(\"#\")\"",
    "\"\\(x // c\n)\"",
    "\"\\((1))\"",
    "\"\"\"x\"\"\"",
    "\"\"\"\n\\(x)\n\"\"\"",
    "\"\"\"\n\"\"\"\"",
    "\"\"\"\n\\\"\"\"\n\"\"\"",
    "'a'",
    "é",
    "\\",
    "\"\\\"\"",
    "<#p#>",
    "/ ",
    "a /b/ c",
    "x.//y\n",
    "\r\n",
    "a/**/b",
    "x//y\n",
];

/// Scala's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const SCALA: &[&str] = &[
    "x",
    "val y = 1\n",
    "def f(a: Int): Int = a\n",
    " ",
    "\n",
    ".",
    "=",
    ", ",
    "a / b",
    "Seq(1, 2)",
    "{ _ + 1 }",
    "s\"a$x\"",
    "s\"a${x}b\"",
    "'c'",
    "`name`",
    "\"\"\"raw\n\"\"\"",
    "@ann",
    "a <- b",
    "x => y",
    "[T]",
    "a :: b",
    "case _ =>",
    // Hostile from here on.
    "'sym",
    "'ab'",
    "<a>x</a>",
    "<!-- c -->",
    "s\"$$\"",
    "s\"${\"#\"}\"",
    "s\"${x // c\n}\"",
    "f\"\"\"${x}\"\"\"",
    "s\"\"\"$x\"\"\"",
    "\"\"\"\"a\"\"\"\"",
    "\"\"\"a\"\"\"\"",
    "s\"\\\"\"",
    "s\"$\"\"",
    "+//",
    "*/",
    "/* a /* b */ c */",
    "/* /* */",
    "#",
    "\\",
    "é",
    "A#B",
    "q\"#\"",
    "<-//",
    "\r\n",
    "a/**/b",
    "x//y\n",
    "'\\u0041'",
    "'\\''",
    "x:",
];

/// PHP's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const PHP: &[&str] = &[
    "$x",
    "$y = 1;\n",
    "function f($a) { return $a; }\n",
    " ",
    "\n",
    "->",
    "=",
    ", ",
    "$a / $b",
    "[1, 2]",
    "array(1)",
    "'s'",
    "\"a $x b\"",
    "\"a $x->y\"",
    "#[Attr]\n",
    "App\\Models\\User",
    "echo 1;\n",
    "$a ?? $b",
    "fn($x) => $x",
    "::class",
    "new Foo()",
    "?->",
    // Hostile from here on.
    "?>",
    "<?php",
    "<?=",
    "?>\n<p># html</p>\n<?php ",
    "<<<EOT\n# x\nEOT;\n",
    "<<<'EOT'\n// y\nEOT;\n",
    "`ls # x`",
    "\"{$x}\"",
    "\"${x}\"",
    "\"$a[0]\"",
    "\"$a['k']\"",
    "b\"x\"",
    "__halt_compiler();",
    "# x ?> y",
    "// a ?> b",
    "#[",
    "/* a /* b */",
    "'\\''",
    "\"\\\"\"",
    "é",
    "\\",
    "'a\n# b'",
    "\"a\n// c\"",
    "\r\n",
    "#\r\n",
    "$$a",
    "\"$\"",
    "\"\\$x\"",
    "a/**/b",
];

/// One generated file of a language with C-like comments: its code tokens, `//` and `/* */`
/// comments and strings full of markers, brackets (sometimes left open); PHP files mostly
/// start with `<?php`.
fn generate_curly(rng: &mut Rng, code: &[&str], php: bool) -> Vec<u8> {
    let plain = rng.below(2) == 0;
    let content = |rng: &mut Rng| -> String {
        (0..rng.below(6))
            .map(|_| *rng.pick(CONTENT))
            .filter(|c| !plain || *c != "\0")
            .collect()
    };
    let mut out = Vec::new();
    if php && rng.below(10) != 0 {
        out.extend_from_slice(if rng.below(4) == 0 {
            b"<?php "
        } else {
            b"<?php\n"
        });
    }
    let mut depth: Vec<u8> = Vec::new();
    for _ in 0..rng.below(60) {
        match rng.below(12) {
            0 => out.extend(format!("// {}\n", content(rng).replace(['\n', '\r'], " ")).bytes()),
            1 => out.extend(format!("/* {} */", content(rng)).bytes()),
            2 => out.extend(
                format!("\"{}\"", content(rng).replace(['"', '\n', '\r', '\\'], "")).bytes(),
            ),
            3 if php => out.extend(format!("'{}'", content(rng).replace(['\'', '\\'], "")).bytes()),
            3 => out.extend(rng.pick(&["'a'", "'\\n'", "'\\''", "'\"'"]).bytes()),
            4 => open_bracket(rng, &mut depth, &mut out),
            5 => close_bracket(&mut depth, &mut out),
            6 if !plain && rng.below(10) == 0 => out.extend(content(rng).bytes()),
            7 => out.extend(format!("\"\"\"\n{}\"\"\"", content(rng).replace('"', "")).bytes()),
            _ => {
                let n = if plain { PLAIN_TOKENS } else { code.len() };
                out.extend(code[rng.below(n)].bytes());
            }
        }
        if rng.below(3) == 0 {
            out.push(b' ');
        }
    }
    close_and_mark(rng, &mut depth, &mut out);
    if rng.below(30) == 0 {
        out.extend_from_slice(b"\xff\xfe // x\n");
    }
    out
}

/// The PHP, Kotlin, Swift and Scala corpus: their own tokens, traps and syntax errors.
#[test]
fn the_php_kotlin_swift_and_scala_lexers_agree_with_tree_sitter_on_an_adversarial_corpus() {
    agree_on_a_corpus(
        0x2020_0004,
        &[
            ("php", PHP),
            ("kotlin", KOTLIN),
            ("swift", SWIFT),
            ("scala", SCALA),
        ],
        |rng, name, code| generate_curly(rng, code, name == "php"),
        20,
    );
}

/// HCL's code tokens; the first [`PLAIN_TOKENS`] are ordinary code.
const HCL: &[&str] = &[
    "x",
    "a = 1\n",
    "resource \"t\" \"n\" {\n",
    " ",
    "\n",
    ".",
    "=",
    ", ",
    "a / b",
    "[1, 2]",
    "f(x)",
    "\"s\"",
    "\"a${x}b\"",
    "\"%{if x}y%{endif}\"",
    "var.a[0]",
    "x ? y : z",
    "{ for k, v in m : k => v }",
    "[*].id",
    "a == b && !c",
    "h = <<EOF\nbody\nEOF\n",
    "h = <<-EOT\n  x ${y}\n  EOT\n",
    "// c\n",
    // Hostile from here on.
    "h = <<EOF\n# fake\nEOF\n",
    "h = <<EOF\n// fake\nEOF\n",
    "h = <<EOF\n\"/* q */\"\nEOF\n",
    "h = <<EOF\nEOFX\nEOF\n",
    "h = <<EOF\n  EOF  \n",
    "h = <<EOF\nEOF x\nEOF\n",
    "h = <<EOF\nEOF;\n# x\nEOF\n",
    "h = <<EOF\nEOF${x}\nEOF\n",
    "h = <<EOF x\nEOF\n",
    "h = << EOF\nEOF\n",
    "h = <<EOF-X\ny\nEOF-X\n",
    "h = <<EOF\nx",
    "h = <<EOF\n${\"#\"}\nEOF\n",
    "\"${\"#\"}\"",
    "\"${ {a = \"}\"} }\"",
    "\"$${x} # y\"",
    "\"%%{x} // y\"",
    "\"${x # c\n}\"",
    "\"${x // c\n}\"",
    "\"${x /* c */}\"",
    "\"${~ x ~}\"",
    "\"\\u00e9\\q\"",
    "\"\\U0001F600\"",
    "\"a\nb\"",
    "/* a /* b */",
    "/*/ x */",
    "'a'",
    "$x",
    "é",
    "a#b",
    "a//b",
    "a/*b*/c",
    "#\r\n",
    "\r\n",
];

/// The HCL corpus: its own tokens, traps and syntax errors.
#[test]
fn the_hcl_lexer_agrees_with_tree_sitter_on_an_adversarial_corpus() {
    agree_on_a_corpus(
        0x2020_0005,
        &[("hcl", HCL)],
        |rng, _, code| generate_hash(rng, code),
        20,
    );
}

/// Whole Terraform files that parse without an error, each with a trap for one rule of the HCL
/// lexer: the lexer must agree with tree-sitter on all, and answer those marked.
#[test]
fn the_hcl_lexer_answers_and_agrees_on_valid_files() {
    let lang = threatmark::lang::by_name("hcl").expect("hcl");
    for (text, answers) in [
        // Tree-sitter-hcl's body goes on past `EOF;` (the lexical scanner's would not).
        ("a = <<EOF\nEOF;\n# x\nEOF\n# real\n", false),
        ("a = <<EOF\nEOF x\n# x\nEOF\n# real\n", false),
        ("a = <<EOF\nEOFX\n\"// x\"\nEOF\n# real\n", true),
        (
            "a = <<-EOT\n  {\"r\": \"arn:aws:s3:::b/*\"}\n  EOT\n// real\n",
            true,
        ),
        (
            "a = \"${b[\"#\"]} %{ if c }/* x */%{ endif }\" # real\n",
            true,
        ),
        ("a = \"$${x} # no\" /* real */\n", true),
        (
            "v \"v\" {\n  d = [for x in y : x if x != \"//\"] // real\n}\n",
            true,
        ),
    ] {
        let mut tally = BTreeMap::new();
        compare(lang, text, text.as_bytes(), &mut tally);
        assert_no_mismatch(&tally);
        assert_eq!(tally["hcl"].exact == 1, answers, "{text:?}");
    }
}

/// YAML's code tokens; the first [`PLAIN_TOKENS`] are ordinary YAML.
const YAML: &[&str] = &[
    "k: v\n",
    "- a\n",
    "  ",
    " ",
    "\n",
    "k:\n",
    "  x: 1\n",
    "- name: x\n",
    "q: \"s\"\n",
    "s: 's'\n",
    "l: [a, b]\n",
    "m: {a: 1}\n",
    "r: |\n  body\n",
    "f: >-\n  body\n",
    "---\n",
    "a: &x 1\n",
    "b: *x\n",
    "t: !!str 1\n",
    "u: a#b\n",
    "w: http://x/#y\n",
    "- - a\n",
    "# c\n",
    // Hostile from here on.
    "r: |\n  # fake\n  x\n",
    "- k: |\n    x\n  # c\n",
    "r: |2\n   # fake\n",
    "r: |\n\n      # fake\n    x\n",
    "k: a\n  b # c\n",
    "k: \"a\n  # b\"\n",
    "k: 'a\n  # b'\n",
    "k: [a,\n  # b\n  c]\n",
    "k: it's # c\n",
    "k: \"a\"#b\n",
    "k: {{ .Values.x }} # c\n",
    "{{- if .Values.x }}\n",
    "%YAML 1.2\n",
    "? a\n: b\n",
    "--- # c\n",
    "--- x\n",
    "...\n",
    "\tk: v\n",
    "k:\tv # c\n",
    "k: 'a''#b'\n",
    "k: \"a\\\"# b\"\n",
    "k: &a#b c\n",
    "k: !t#g c\n",
    "k: @x\n",
    "k: `x`\n",
    "\r\n",
    "- k: a b\n    c d # e\n  j: 1\n",
    "    more #text # c\n",
    "   x: y # c\n",
    "  - it's # c\n",
    "k: a-{{ b }} # c\n",
    "  {{ x }}\n",
];

/// The YAML corpus: its own tokens, traps and syntax errors.
#[test]
fn the_yaml_lexer_agrees_with_tree_sitter_on_an_adversarial_corpus() {
    agree_on_a_corpus(
        0x2020_0006,
        &[("yaml", YAML)],
        |rng, _, code| generate_hash(rng, code),
        20,
    );
}

/// YAML lines after a value: a sibling key of a `- ` entry's mapping, and plain scalars that
/// span lines (ansible's `description:` lists), with the errors around them (a comment, `: `,
/// an indicator or a quoted scalar, alias or flow collection before a more indented line).
const YAML_PLAIN_LINES: &[&str] = &[
    "- name: x\n  command: y # c\n",
    "k: a\n  b # c\n",
    "- a long\n  text # c\n  # d\n",
    "description:\n  - Check x.\n  - Follows P(a#test)\n    or P(b#test) tests.\n",
    "k: a\n\n  b # c\n",
    "- - a\n    b # c\n",
    "k: a\n  b#c d # e\n",
    "k: a\n  it's \"x\" # c\n",
    "- k: v\n    w # c\n  j: 1\n",
    "k: a\n  b\n    c: d # e\n",
    "k: a # c\n  b # d\n",
    "k: a\n  # c\n  b\n",
    "k: \"a\"\n  b # c\n",
    "k: *x\n  b # c\n",
    "k: [a]\n  b # c\n",
    "k: a\n  - b # c\n",
    "k: a\n  {{ b }} # c\n",
    "- k: v\n - x # c\n",
    "k: a-{{ b }} # c\n",
    "k: a\n  b {{ c }} # d\n",
    "k: [a {{ b }}] # c\n",
];

/// What a review of the ninth round's YAML lever found: a key after an anchor, a tag or a flow
/// collection (tree-sitter measures from the first node of the line, not the key), a block
/// scalar with no key or `-` on its line (its parent is the node that holds the line, the top
/// level's column -1), a bare scalar at the top level indented more than the line after it. The
/// lexer must agree with tree-sitter-yaml or refuse (the first two groups were answered wrongly
/// before the fix; the last two cases, a bare value under its key, are answered).
#[test]
fn yaml_cases_of_the_ninth_rounds_review_agree_with_tree_sitter() {
    let texts = [
        "&a k: v\n  \"x # y\"\n",
        "!t k: v\n  \"x # y\"\n",
        "- &a k: v\n    \"x # y\"\n",
        "[a]: v\n \"x # y\"\n",
        "{a: 1}: v\n  \"x # y\"\n",
        "&a k: v\n  'x # y'\n",
        "|\nfoo # c\n",
        "---\n|\nfoo # c\n",
        " |\n # c\n",
        "k:\n  |\n  foo # c\n",
        "k:\n  !t |\n  foo # c\n",
        "- \n  >\n  foo # c\n",
        "   |\n   b]\n     b\t# c\n",
        "  b\n'x # y'\n",
        "  b\n\"x # y\"\n",
        "k:\n  v\nz: 1 # c\n",
        "- k:\n    v\nz: 1 # c\n",
    ]
    .map(String::from);
    assert_eq!(answered_of_snippets("yaml", texts), 2);
}

/// Every YAML snippet above at the top level, nested in a mapping and between comments: the
/// lexer must agree with tree-sitter, and answer the first seven, the ninth, and the three
/// after the sixteenth in every context (`it's "x"` is valid, but the lexical scanner reads its
/// quotes as a string). Base refuses every one: it took any line indented more than one that
/// ended in a value for a plain scalar that spans lines, and `{{` inside a plain scalar for
/// a Helm template.
#[test]
fn yaml_plain_scalars_that_span_lines_agree_with_tree_sitter() {
    let texts = YAML_PLAIN_LINES.iter().flat_map(|s| {
        let nested: String = s.lines().map(|l| format!("  {l}\n")).collect();
        [
            s.to_string(),
            format!("top: # a\n{nested}next: 1 # z\n"),
            format!("# a\n{s}# b\nz: 1 # c\n"),
        ]
    });
    assert_eq!(answered_of_snippets("yaml", texts), 33);
}
