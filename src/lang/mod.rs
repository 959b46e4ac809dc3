//! Languages are data: one sorted table row per language plus, where a grammar exists, one
//! tree-sitter query in `grammars/<name>.scm`.
//!
//! Adding a language means adding a row here and a `.scm` file; the tests compile every query
//! against its grammar and parse a sample file, so an ABI or query mistake fails CI, not a user.
//! Rows without a grammar (and grammars compiled out with cargo features) use the lexical
//! fallback in [`lexical`], driven by the same comment-token columns (tokei's approach).

pub mod design_text;
pub mod exact;
pub mod lexical;

use std::sync::OnceLock;

use tree_sitter::{Language as TsLanguage, Query};
use tree_sitter_language::LanguageFn;

/// A tree-sitter grammar and the query that finds its comments.
#[derive(Clone, Copy)]
pub struct Grammar {
    pub language: LanguageFn,
    /// Contents of `grammars/<name>.scm`.
    pub query: &'static str,
}

impl std::fmt::Debug for Grammar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grammar").finish_non_exhaustive()
    }
}

/// One supported language.
#[derive(Debug)]
pub struct Language {
    /// Stable identifier, used in config files and `threatmark languages`.
    pub name: &'static str,
    pub title: &'static str,
    /// Extensions without the dot, matched case-insensitively.
    pub extensions: &'static [&'static str],
    /// Exact file names (`Dockerfile`) and name prefixes ending in `.` (`Dockerfile.`).
    pub filenames: &'static [&'static str],
    /// Interpreters named on a `#!` line.
    pub interpreters: &'static [&'static str],
    pub line_comments: &'static [&'static str],
    pub block_comments: &'static [(&'static str, &'static str)],
    /// Strings that may span lines (`"""`, Lua's `[[`, PowerShell's `@"`). Only the lexical
    /// fallback reads this column: it skips such strings whole, so a `#` or `//` line inside one
    /// is not taken for a comment. One-line `"` and `'` strings are always skipped.
    pub multiline_strings: &'static [(&'static str, &'static str)],
    pub grammar: Option<Grammar>,
}

macro_rules! grammar {
    ($feature:literal, $lang:expr, $file:literal) => {{
        #[cfg(feature = $feature)]
        {
            Some(Grammar {
                language: $lang,
                query: include_str!(concat!("../../grammars/", $file)),
            })
        }
        #[cfg(not(feature = $feature))]
        {
            None
        }
    }};
}

const C_LINE: &[&str] = &["//"];
const C_BLOCK: &[(&str, &str)] = &[("/*", "*/")];
const HASH: &[&str] = &["#"];
const NONE_BLOCK: &[(&str, &str)] = &[];
const XML_BLOCK: &[(&str, &str)] = &[("<!--", "-->")];
/// JavaScript's HTML-like comments (ECMAScript Annex B): `<!--` runs to the end of the line.
/// Tree-sitter captures them in js, ts and tsx, so all three need the token to strip it.
const JS_BLOCK: &[(&str, &str)] = &[("/*", "*/"), ("<!--", "-->")];
/// `<!--` is listed as a line token too: for the lexical scanner, a token in both columns
/// starts a line comment (the block column lets a `<!-- x -->` lose its `-->`).
const JS_LINE: &[&str] = &["//", "<!--"];
const NO_STRINGS: &[(&str, &str)] = &[];
const TRIPLE_DOUBLE: &[(&str, &str)] = &[("\"\"\"", "\"\"\"")];
const TRIPLE_BOTH: &[(&str, &str)] = &[("\"\"\"", "\"\"\""), ("'''", "'''")];
const BACKTICK: &[(&str, &str)] = &[("`", "`")];

/// Every language, sorted by name (a test checks the order).
pub static LANGUAGES: &[Language] = &[
    Language {
        name: "bash",
        title: "Bash / shell",
        extensions: &["sh", "bash", "zsh", "ksh", "bats"],
        filenames: &[".bashrc", ".bash_profile", ".profile", ".zshrc"],
        interpreters: &["sh", "bash", "zsh", "ksh", "dash"],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-bash", tree_sitter_bash::LANGUAGE, "bash.scm"),
    },
    Language {
        name: "c",
        title: "C",
        extensions: &["c", "h"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-c", tree_sitter_c::LANGUAGE, "c.scm"),
    },
    Language {
        name: "cmake",
        title: "CMake",
        extensions: &["cmake"],
        filenames: &["CMakeLists.txt"],
        interpreters: &[],
        line_comments: HASH,
        block_comments: &[("#[[", "]]")],
        multiline_strings: &[("[[", "]]"), ("[=[", "]=]")],
        grammar: None,
    },
    Language {
        name: "cpp",
        title: "C++",
        extensions: &[
            "cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "h++", "ipp", "tpp",
        ],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: &[("R\"(", ")\"")],
        grammar: grammar!("lang-cpp", tree_sitter_cpp::LANGUAGE, "cpp.scm"),
    },
    Language {
        name: "csharp",
        title: "C#",
        extensions: &["cs", "csx"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: &[("\"\"\"", "\"\"\""), ("@\"", "\"")],
        grammar: grammar!("lang-csharp", tree_sitter_c_sharp::LANGUAGE, "csharp.scm"),
    },
    Language {
        name: "dockerfile",
        title: "Dockerfile / Containerfile",
        extensions: &["dockerfile", "containerfile"],
        filenames: &[
            "Dockerfile",
            "Containerfile",
            "Dockerfile.",
            "Containerfile.",
        ],
        interpreters: &[],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!(
            "lang-dockerfile",
            tree_sitter_containerfile::LANGUAGE,
            "dockerfile.scm"
        ),
    },
    Language {
        name: "dotenv",
        title: ".env files",
        extensions: &["env"],
        filenames: &[".env", ".env."],
        interpreters: &[],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "go",
        title: "Go",
        extensions: &["go"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: BACKTICK,
        grammar: grammar!("lang-go", tree_sitter_go::LANGUAGE, "go.scm"),
    },
    Language {
        name: "graphql",
        title: "GraphQL",
        extensions: &["graphql", "gql", "graphqls"],
        filenames: &[],
        interpreters: &[],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: TRIPLE_DOUBLE,
        grammar: None,
    },
    Language {
        name: "groovy",
        title: "Groovy / Gradle / Jenkinsfile",
        extensions: &["groovy", "gradle", "gvy"],
        filenames: &["Jenkinsfile"],
        interpreters: &["groovy"],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: TRIPLE_BOTH,
        grammar: None,
    },
    Language {
        name: "hcl",
        title: "HCL / Terraform",
        extensions: &["tf", "tfvars", "hcl", "nomad"],
        filenames: &[],
        interpreters: &[],
        line_comments: &["#", "//"],
        block_comments: C_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-hcl", tree_sitter_hcl::LANGUAGE, "hcl.scm"),
    },
    Language {
        name: "html",
        title: "HTML / XML",
        extensions: &[
            "html", "htm", "xhtml", "xml", "xsd", "xsl", "plist", "csproj", "vue", "svelte",
        ],
        filenames: &[],
        interpreters: &[],
        line_comments: &[],
        block_comments: XML_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "ini",
        title: "INI / config",
        extensions: &[
            "ini",
            "cfg",
            "conf",
            "properties",
            "editorconfig",
            "desktop",
        ],
        filenames: &[".gitconfig", ".npmrc"],
        interpreters: &[],
        line_comments: &["#", ";"],
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "java",
        title: "Java",
        extensions: &["java"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: TRIPLE_DOUBLE,
        grammar: grammar!("lang-java", tree_sitter_java::LANGUAGE, "java.scm"),
    },
    Language {
        name: "javascript",
        title: "JavaScript / JSX",
        extensions: &["js", "mjs", "cjs", "jsx"],
        filenames: &[],
        interpreters: &["node", "nodejs", "deno", "bun"],
        line_comments: JS_LINE,
        block_comments: JS_BLOCK,
        multiline_strings: BACKTICK,
        grammar: grammar!(
            "lang-javascript",
            tree_sitter_javascript::LANGUAGE,
            "javascript.scm"
        ),
    },
    Language {
        name: "kotlin",
        title: "Kotlin",
        extensions: &["kt", "kts"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: TRIPLE_DOUBLE,
        grammar: grammar!("lang-kotlin", tree_sitter_kotlin_ng::LANGUAGE, "kotlin.scm"),
    },
    Language {
        name: "lua",
        title: "Lua",
        extensions: &["lua"],
        filenames: &[],
        interpreters: &["lua", "luajit"],
        line_comments: &["--"],
        block_comments: &[("--[[", "]]"), ("--[=[", "]=]"), ("--[==[", "]==]")],
        multiline_strings: &[("[[", "]]"), ("[=[", "]=]"), ("[==[", "]==]")],
        grammar: None,
    },
    Language {
        name: "makefile",
        title: "Makefile",
        extensions: &["mk", "mak"],
        filenames: &["Makefile", "GNUmakefile", "makefile"],
        interpreters: &["make"],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "perl",
        title: "Perl",
        extensions: &["pl", "pm", "t"],
        filenames: &[],
        interpreters: &["perl"],
        line_comments: HASH,
        block_comments: &[
            ("=pod", "=cut"),
            ("=head1", "=cut"),
            ("=head2", "=cut"),
            ("=head3", "=cut"),
            ("=head4", "=cut"),
            ("=over", "=cut"),
            ("=begin", "=cut"),
            ("=for", "=cut"),
            ("=encoding", "=cut"),
        ],
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "php",
        title: "PHP",
        extensions: &["php", "phtml", "php8"],
        filenames: &[],
        interpreters: &["php"],
        line_comments: &["//", "#"],
        block_comments: C_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-php", tree_sitter_php::LANGUAGE_PHP, "php.scm"),
    },
    Language {
        name: "powershell",
        title: "PowerShell",
        extensions: &["ps1", "psm1", "psd1"],
        filenames: &[],
        interpreters: &["pwsh", "powershell"],
        line_comments: HASH,
        block_comments: &[("<#", "#>")],
        multiline_strings: &[("@\"", "\"@"), ("@'", "'@")],
        grammar: None,
    },
    Language {
        name: "protobuf",
        title: "Protocol Buffers",
        extensions: &["proto"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "python",
        title: "Python",
        extensions: &["py", "pyi", "pyw"],
        filenames: &["SConstruct", "SConscript"],
        interpreters: &["python", "python3", "python2", "pypy", "pypy3"],
        line_comments: HASH,
        block_comments: &[("\"\"\"", "\"\"\""), ("'''", "'''")],
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-python", tree_sitter_python::LANGUAGE, "python.scm"),
    },
    Language {
        name: "r",
        title: "R",
        extensions: &["r"],
        filenames: &[],
        interpreters: &["Rscript"],
        line_comments: &["#'", "#"],
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "ruby",
        title: "Ruby",
        extensions: &["rb", "rake", "gemspec", "ru"],
        filenames: &["Rakefile", "Gemfile", "Vagrantfile", "Brewfile"],
        interpreters: &["ruby"],
        line_comments: HASH,
        block_comments: &[("=begin", "=end")],
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-ruby", tree_sitter_ruby::LANGUAGE, "ruby.scm"),
    },
    Language {
        name: "rust",
        title: "Rust",
        extensions: &["rs"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: &[("r#\"", "\"#"), ("r##\"", "\"##")],
        grammar: grammar!("lang-rust", tree_sitter_rust::LANGUAGE, "rust.scm"),
    },
    Language {
        name: "scala",
        title: "Scala",
        extensions: &["scala", "sc", "sbt"],
        filenames: &[],
        interpreters: &["scala"],
        line_comments: C_LINE,
        block_comments: &[("/*", "*/"), ("<!--", "-->")],
        multiline_strings: TRIPLE_DOUBLE,
        grammar: grammar!("lang-scala", tree_sitter_scala::LANGUAGE, "scala.scm"),
    },
    Language {
        name: "sql",
        title: "SQL",
        extensions: &["sql", "psql", "pgsql", "ddl"],
        filenames: &[],
        interpreters: &[],
        line_comments: &["--"],
        block_comments: C_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: None,
    },
    Language {
        name: "swift",
        title: "Swift",
        extensions: &["swift"],
        filenames: &[],
        interpreters: &[],
        line_comments: C_LINE,
        block_comments: C_BLOCK,
        multiline_strings: TRIPLE_DOUBLE,
        grammar: grammar!("lang-swift", tree_sitter_swift::LANGUAGE, "swift.scm"),
    },
    Language {
        name: "toml",
        title: "TOML",
        extensions: &["toml"],
        filenames: &["Pipfile", "Cargo.lock"],
        interpreters: &[],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: TRIPLE_BOTH,
        grammar: grammar!("lang-toml", tree_sitter_toml_ng::LANGUAGE, "toml.scm"),
    },
    Language {
        name: "tsx",
        title: "TSX",
        extensions: &["tsx"],
        filenames: &[],
        interpreters: &[],
        line_comments: JS_LINE,
        block_comments: JS_BLOCK,
        multiline_strings: BACKTICK,
        grammar: grammar!(
            "lang-typescript",
            tree_sitter_typescript::LANGUAGE_TSX,
            "tsx.scm"
        ),
    },
    Language {
        name: "typescript",
        title: "TypeScript",
        extensions: &["ts", "mts", "cts"],
        filenames: &[],
        interpreters: &["ts-node", "tsx"],
        line_comments: JS_LINE,
        block_comments: JS_BLOCK,
        multiline_strings: BACKTICK,
        grammar: grammar!(
            "lang-typescript",
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
            "typescript.scm"
        ),
    },
    Language {
        name: "yaml",
        title: "YAML (Kubernetes, Helm, GitHub workflows, serverless.yml)",
        extensions: &["yaml", "yml"],
        filenames: &[".clang-format", ".yamllint"],
        interpreters: &[],
        line_comments: HASH,
        block_comments: NONE_BLOCK,
        multiline_strings: NO_STRINGS,
        grammar: grammar!("lang-yaml", tree_sitter_yaml::LANGUAGE, "yaml.scm"),
    },
];

/// What the lexical scanner must know about a language beyond its comment and string tokens,
/// so that it finds the comments tree-sitter finds (a parse stopped by its budget, a file over
/// 2 MiB and the lines around a syntax error are read by it). Kept apart from the rows, since
/// few languages need any of it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LexicalRules {
    /// A `/` in operand position starts a regular expression literal (`/[/*]/`), skipped like a
    /// string.
    pub slash_regex: bool,
    /// Heredoc openers (`<<-`, `<<~`, `<<<`): the opener, an identifier (maybe quoted) and the
    /// lines up to the one that holds only that identifier are text.
    pub heredocs: &'static [&'static str],
    /// Block comment tokens start a comment only as the first token of a line (Python's
    /// docstrings are statements); elsewhere they open a multi-line string (`x = """...`).
    pub statement_blocks: bool,
    /// YAML's block scalars: after `key: |` or `- >-`, the lines more indented than the key
    /// are text.
    pub block_scalars: bool,
}

/// [`LexicalRules`] by language name, sorted.
pub static LEXICAL_RULES: &[(&str, LexicalRules)] = &[
    (
        "bash",
        LexicalRules {
            heredocs: &["<<-", "<<"],
            ..NO_RULES
        },
    ),
    (
        "hcl",
        LexicalRules {
            heredocs: &["<<-", "<<"],
            ..NO_RULES
        },
    ),
    (
        "javascript",
        LexicalRules {
            slash_regex: true,
            ..NO_RULES
        },
    ),
    (
        "perl",
        LexicalRules {
            heredocs: &["<<~", "<<"],
            ..NO_RULES
        },
    ),
    (
        "php",
        LexicalRules {
            heredocs: &["<<<"],
            ..NO_RULES
        },
    ),
    (
        "python",
        LexicalRules {
            statement_blocks: true,
            ..NO_RULES
        },
    ),
    (
        "ruby",
        LexicalRules {
            slash_regex: true,
            heredocs: &["<<~", "<<-", "<<"],
            ..NO_RULES
        },
    ),
    (
        "tsx",
        LexicalRules {
            slash_regex: true,
            ..NO_RULES
        },
    ),
    (
        "typescript",
        LexicalRules {
            slash_regex: true,
            ..NO_RULES
        },
    ),
    (
        "yaml",
        LexicalRules {
            block_scalars: true,
            ..NO_RULES
        },
    ),
];

const NO_RULES: LexicalRules = LexicalRules {
    slash_regex: false,
    heredocs: &[],
    statement_blocks: false,
    block_scalars: false,
};

/// The capture names a query may use (grammars/README.md documents them).
pub const CAPTURES: &[&str] = &["comment", "doc"];

/// Look a language up by its name.
pub fn by_name(name: &str) -> Option<&'static Language> {
    LANGUAGES
        .binary_search_by(|l| l.name.cmp(name))
        .ok()
        .map(|i| &LANGUAGES[i])
}

/// Detect a language from a file name, then from a `#!` line. `extra` maps extensions (lower
/// case, no dot) to language names, from threatmark.toml; it wins over the table.
pub fn detect<'a>(
    file_name: &str,
    head: &[u8],
    extra: impl Fn(&str) -> Option<&'a str>,
) -> Option<&'static Language> {
    // Called twice for every file of a scan: the table is looked up through maps built once.
    let names = names();
    let ext = file_name
        .bytes()
        .rposition(|b| b == b'.')
        .map(|dot| (&file_name[..dot], &file_name[dot + 1..]))
        .map(|(stem, ext)| {
            let ext: std::borrow::Cow<'_, str> = if ext.bytes().any(|b| b.is_ascii_uppercase()) {
                ext.to_ascii_lowercase().into()
            } else {
                ext.into()
            };
            (stem, ext)
        });
    if let Some((_, ext)) = &ext
        && let Some(name) = extra(ext)
    {
        return by_name(name);
    }
    // The first language in table order that lists the name, exactly or as a prefix (`.env.`).
    let exact = names.filenames.get(file_name).copied();
    let prefixed = names
        .prefixes
        .iter()
        .find(|(f, _)| file_name.starts_with(f) && file_name.len() > f.len())
        .map(|(_, i)| *i);
    if let Some(i) = exact.into_iter().chain(prefixed).min() {
        return LANGUAGES.get(i);
    }
    if let Some((stem, ext)) = &ext
        && !stem.is_empty()
        && let Some(i) = names.extensions.get(ext.as_ref())
    {
        return LANGUAGES.get(*i);
    }
    shebang(head)
}

/// A language of the table claims this file name (by name, name prefix or extension), as
/// `detect(name, b"", |_| None).is_some()` says, but cheaper: which one does not matter here.
pub fn is_known_name(file_name: &str) -> bool {
    let names = names();
    if let Some(dot) = file_name.bytes().rposition(|b| b == b'.')
        && dot > 0
    {
        let ext = &file_name[dot + 1..];
        let known = match ext.bytes().any(|b| b.is_ascii_uppercase()) {
            true => names
                .extensions
                .contains_key(ext.to_ascii_lowercase().as_str()),
            false => names.extensions.contains_key(ext),
        };
        if known {
            return true;
        }
    }
    names.filenames.contains_key(file_name)
        || names
            .prefixes
            .iter()
            .any(|(f, _)| file_name.starts_with(f) && file_name.len() > f.len())
}

/// The table's file names, name prefixes and extensions, each with the index of the first
/// language that lists it. Looked up (never iterated) for every file of a scan and every path
/// of a `threatspec.yaml`: a fast hash of the table's own keys.
struct Names {
    filenames: std::collections::HashMap<&'static str, usize, foldhash::fast::FixedState>,
    prefixes: Vec<(&'static str, usize)>,
    extensions: std::collections::HashMap<&'static str, usize, foldhash::fast::FixedState>,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Names {
            filenames: Default::default(),
            prefixes: Vec::new(),
            extensions: Default::default(),
        };
        for (i, lang) in LANGUAGES.iter().enumerate() {
            for f in lang.filenames {
                if f.ends_with('.') {
                    names.prefixes.push((f, i));
                } else {
                    names.filenames.entry(f).or_insert(i);
                }
            }
            for e in lang.extensions {
                names.extensions.entry(e).or_insert(i);
            }
        }
        names
    })
}

/// `#!/usr/bin/env python3`, `#!/bin/bash -e`: the interpreter names the language.
fn shebang(head: &[u8]) -> Option<&'static Language> {
    let line = head.strip_prefix(b"#!")?;
    let end = memchr::memchr(b'\n', line).unwrap_or(line.len().min(256));
    let line = std::str::from_utf8(&line[..end]).ok()?;
    let mut words = line.split_whitespace();
    let mut prog = words.next()?.rsplit('/').next()?;
    if prog == "env" {
        prog = words.find(|w| !w.starts_with('-'))?;
    }
    let prog = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    LANGUAGES.iter().find(|l| {
        l.interpreters
            .iter()
            .any(|i| i.trim_end_matches(|c: char| c.is_ascii_digit()) == prog)
    })
}

static QUERIES: [OnceLock<Result<Query, String>>; 64] = [const { OnceLock::new() }; 64];
static MATCHERS: [OnceLock<Result<Matcher, String>>; 64] = [const { OnceLock::new() }; 64];

/// How the comments of a grammar's syntax tree are found.
///
/// Most queries only list comment node kinds (`(comment) @comment`, `[(line_comment)
/// (block_comment)] @comment`). Compiling such a query still costs tree-sitter an analysis of
/// the whole grammar (measured: 14–35 ms each for Bash, C++, C#, Kotlin, Scala and Swift, 185 ms
/// for all twenty), which a small repository pays on every run. Those queries are read as a set
/// of node kinds and answered by walking the tree; any other query is compiled.
#[derive(Debug)]
pub enum Matcher {
    /// Walk the tree, checking node kinds: the query only uses the two shapes a walk can
    /// answer (see [`SimpleQuery`]). `kinds[id]` says whether nodes of kind `id` are comments.
    Kinds {
        kinds: Vec<bool>,
        /// `(parent . (child) @doc .)`: the kinds of each pattern's parent and its one child.
        sole_children: Vec<(Vec<bool>, Vec<bool>)>,
    },
    Query(Query),
}

/// A query made only of `(kind) @comment` (or `[(a) (b)] @comment`) patterns and
/// `(parent . (child) @doc .)` patterns: a node that is a comment by its kind, and a node that
/// is its parent's only named child (Python's docstrings, a string that is a statement on its
/// own). Such queries are answered by a walk of the tree; compiling them cost 0.03–35 ms each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SimpleQuery {
    comments: Vec<String>,
    sole_children: Vec<(String, String)>,
}

/// The query as a [`SimpleQuery`], or `None` when it has any other shape.
fn simple_query(query: &str) -> Option<SimpleQuery> {
    let mut rest = String::new();
    for line in query.lines() {
        rest.push_str(line.split(';').next().unwrap_or(""));
        rest.push(' ');
    }
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in rest.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '@' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        match c {
            '(' | ')' | '[' | ']' | '.' => tokens.push(c.to_string()),
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    let is_kind =
        |t: &String| !t.starts_with('@') && !matches!(t.as_str(), "(" | ")" | "[" | "]" | ".");
    let mut out = SimpleQuery::default();
    let mut i = 0;
    while i < tokens.len() {
        let window: Vec<&str> = tokens[i..].iter().take(9).map(String::as_str).collect();
        if let ["(", parent, ".", "(", child, ")", "@doc", ".", ")"] = window[..]
            && is_kind(&tokens[i + 1])
            && is_kind(&tokens[i + 4])
        {
            out.sole_children
                .push((parent.to_string(), child.to_string()));
            i += 9;
            continue;
        }
        let group: Vec<String> = match tokens[i].as_str() {
            "(" => match tokens.get(i..i + 3) {
                Some([_, name, close]) if close == ")" && is_kind(name) => {
                    i += 3;
                    vec![name.clone()]
                }
                _ => return None,
            },
            "[" => {
                i += 1;
                let mut group = Vec::new();
                while tokens.get(i).map(String::as_str) == Some("(") {
                    match tokens.get(i..i + 3) {
                        Some([_, name, close]) if close == ")" && is_kind(name) => {
                            group.push(name.clone());
                            i += 3;
                        }
                        _ => return None,
                    }
                }
                if tokens.get(i).map(String::as_str) != Some("]") || group.is_empty() {
                    return None;
                }
                i += 1;
                group
            }
            _ => return None,
        };
        if tokens.get(i).map(String::as_str) != Some("@comment") {
            return None;
        }
        i += 1;
        out.comments.extend(group);
    }
    (!out.comments.is_empty() || !out.sole_children.is_empty()).then_some(out)
}

/// Which node kinds of `ts` are named `name`: all of them (aliases share names), or `None` when
/// there is none.
fn named_kinds(ts: &TsLanguage, names: &[&str], kinds: &mut [bool]) -> bool {
    let mut found = vec![false; names.len()];
    for (id, slot) in (0..).zip(kinds.iter_mut()) {
        if !ts.node_kind_is_named(id) {
            continue;
        }
        let Some(kind) = ts.node_kind_for_id(id) else {
            continue;
        };
        if let Some(at) = names.iter().position(|n| *n == kind) {
            *slot = true;
            found[at] = true;
        }
    }
    found.iter().all(|f| *f)
}

impl Language {
    fn index(&self) -> usize {
        LANGUAGES
            .iter()
            .position(|l| std::ptr::eq(l, self))
            .unwrap_or(0)
    }

    /// What the lexical scanner must know beyond the token columns ([`LEXICAL_RULES`]).
    pub fn lexical_rules(&self) -> LexicalRules {
        LEXICAL_RULES
            .binary_search_by(|(name, _)| name.cmp(&self.name))
            .map_or(NO_RULES, |i| LEXICAL_RULES[i].1)
    }

    pub fn ts_language(&self) -> Option<TsLanguage> {
        self.grammar.map(|g| TsLanguage::new(g.language))
    }

    /// The compiled comment query, built once per language on first use and shared by all
    /// threads (`Query` is `Send + Sync`).
    pub fn query(&self) -> Option<Result<&'static Query, &'static str>> {
        let grammar = self.grammar?;
        let slot = QUERIES.get(self.index())?;
        let compiled = slot.get_or_init(|| compile(self.name, grammar));
        Some(compiled.as_ref().map_err(String::as_str))
    }

    /// How to find comments in this language's trees (see [`Matcher`]), built once per language
    /// on first use.
    pub fn matcher(&self) -> Option<Result<&'static Matcher, &'static str>> {
        let grammar = self.grammar?;
        let slot = MATCHERS.get(self.index())?;
        let built = slot.get_or_init(|| {
            let ts = TsLanguage::new(grammar.language);
            if let Some(simple) = simple_query(grammar.query) {
                let count = usize::from(u16::try_from(ts.node_kind_count()).unwrap_or(u16::MAX));
                let mut kinds = vec![false; count];
                let names: Vec<&str> = simple.comments.iter().map(String::as_str).collect();
                let mut all_known = names.is_empty() || named_kinds(&ts, &names, &mut kinds);
                let mut sole_children = Vec::new();
                for (parent, child) in &simple.sole_children {
                    let (mut parents, mut children) = (vec![false; count], vec![false; count]);
                    all_known &= named_kinds(&ts, &[parent.as_str()], &mut parents);
                    all_known &= named_kinds(&ts, &[child.as_str()], &mut children);
                    sole_children.push((parents, children));
                }
                // An unknown kind is left to the query compiler, whose error names it.
                if all_known {
                    return Ok(Matcher::Kinds {
                        kinds,
                        sole_children,
                    });
                }
            }
            compile(self.name, grammar).map(Matcher::Query)
        });
        Some(built.as_ref().map_err(String::as_str))
    }
}

fn compile(name: &str, grammar: Grammar) -> Result<Query, String> {
    let query = Query::new(&TsLanguage::new(grammar.language), grammar.query)
        .map_err(|e| format!("grammars/{name}.scm: {e}"))?;
    for capture in query.capture_names() {
        if !CAPTURES.contains(capture) {
            return Err(format!(
                "grammars/{name}.scm: unknown capture `@{capture}` (allowed: @comment, @doc)"
            ));
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn table_is_sorted_and_fits_the_query_cache() {
        assert!(LANGUAGES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(LANGUAGES.len() <= QUERIES.len());
    }

    #[test]
    fn detection() {
        let name = |f: &str, head: &[u8]| detect(f, head, none).map(|l| l.name);
        assert_eq!(name("main.rs", b""), Some("rust"));
        assert_eq!(name("App.TSX", b""), Some("tsx"));
        assert_eq!(name("Dockerfile", b""), Some("dockerfile"));
        assert_eq!(name("Dockerfile.prod", b""), Some("dockerfile"));
        assert_eq!(name("api.dockerfile", b""), Some("dockerfile"));
        assert_eq!(name("main.tf", b""), Some("hcl"));
        assert_eq!(name(".env", b""), Some("dotenv"));
        assert_eq!(name(".env.local", b""), Some("dotenv"));
        assert_eq!(name("deploy", b"#!/usr/bin/env python3\n"), Some("python"));
        assert_eq!(name("run", b"#!/bin/bash -e\n"), Some("bash"));
        assert_eq!(name("README", b"hello"), None);
        assert_eq!(name("image.png", b""), None);
        assert_eq!(
            detect("x.tpl", b"", |e| (e == "tpl").then_some("go")).map(|l| l.name),
            Some("go")
        );
    }

    /// The lookup maps give what a scan of the table in order gives.
    #[test]
    fn detect_equals_a_scan_of_the_table() {
        fn by_scan(file_name: &str) -> Option<&'static str> {
            let ext = file_name
                .rsplit_once('.')
                .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()));
            for lang in LANGUAGES {
                for f in lang.filenames {
                    let matches = if f.ends_with('.') {
                        file_name.starts_with(f) && file_name.len() > f.len()
                    } else {
                        file_name == *f
                    };
                    if matches {
                        return Some(lang.name);
                    }
                }
            }
            let (stem, ext) = ext?;
            (!stem.is_empty())
                .then(|| {
                    LANGUAGES
                        .iter()
                        .find(|l| l.extensions.contains(&ext.as_str()))
                })
                .flatten()
                .map(|l| l.name)
        }
        let mut names = vec![
            String::new(),
            ".".into(),
            "x.".into(),
            ".env".into(),
            ".env.local".into(),
            "a.b.PY".into(),
            "noext".into(),
        ];
        for lang in LANGUAGES {
            for f in lang.filenames {
                names.extend([
                    f.to_string(),
                    format!("{f}x"),
                    format!("x{f}"),
                    f.to_uppercase(),
                ]);
            }
            for e in lang.extensions {
                names.extend([
                    format!("a.{e}"),
                    format!("a.{}", e.to_uppercase()),
                    format!(".{e}"),
                    format!("a.{e}.bak"),
                ]);
            }
        }
        for name in &names {
            assert_eq!(
                detect(name, b"", |_| None).map(|l| l.name),
                by_scan(name),
                "{name:?}"
            );
            assert_eq!(is_known_name(name), by_scan(name).is_some(), "{name:?}");
        }
    }

    #[test]
    fn simple_queries_are_read_as_kinds() {
        let kinds = |q: &str| simple_query(q).map(|k| k.comments.join(" "));
        assert_eq!(kinds("(comment) @comment").as_deref(), Some("comment"));
        assert_eq!(
            kinds(";; doc\n[(line_comment) (block_comment)] @comment\n(x) @comment").as_deref(),
            Some("line_comment block_comment x")
        );
        assert_eq!(
            simple_query("(comment) @comment\n(expression_statement . (string) @doc .)"),
            Some(SimpleQuery {
                comments: vec!["comment".into()],
                sole_children: vec![("expression_statement".into(), "string".into())],
            })
        );
        for complex in [
            "(comment) @doc",
            "((comment) @comment (#match? @comment \"x\"))",
            "(comment)",
            "[(comment)] @comment @doc",
            "(expression_statement (string) @doc)",
            "(expression_statement . (string) @doc)",
            "(expression_statement . (string) @comment .)",
            "(expression_statement . (@doc) @doc .)",
            "",
        ] {
            assert_eq!(simple_query(complex), None, "{complex}");
        }
        let Some(python) = by_name("python") else {
            return;
        };
        assert!(matches!(
            python.matcher(),
            Some(Ok(Matcher::Kinds { sole_children, .. })) if sole_children.len() == 1
        ));
    }

    /// The languages listed have regular expression literals in their grammar, and every grammar
    /// with a JavaScript-style literal (`regex_pattern` between slashes) is listed. (Bash's
    /// `regex` node, after `=~`, has no slashes.)
    #[test]
    fn slash_regex_lists_the_grammars_with_regex_literals() {
        let has = |ts: &TsLanguage, kind: &str| {
            (0..ts.node_kind_count())
                .filter_map(|id| u16::try_from(id).ok())
                .any(|id| ts.node_kind_is_named(id) && ts.node_kind_for_id(id) == Some(kind))
        };
        assert!(LEXICAL_RULES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, rules) in LEXICAL_RULES {
            let lang = by_name(name).expect("a language of the table");
            if let Some(ts) = lang.ts_language()
                && rules.slash_regex
            {
                assert!(has(&ts, "regex"), "{name}");
            }
        }
        for lang in LANGUAGES {
            if let Some(ts) = lang.ts_language()
                && has(&ts, "regex_pattern")
            {
                assert!(lang.lexical_rules().slash_regex, "{}", lang.name);
            }
        }
    }

    #[test]
    fn unknown_captures_are_rejected() {
        let Some(rust) = by_name("rust").and_then(|l| l.grammar) else {
            return; // compiled without the rust grammar
        };
        let bad = Grammar {
            language: rust.language,
            query: "(line_comment) @comment (block_comment) @name",
        };
        let err = compile("rust", bad).expect_err("`@name` is not in the contract");
        assert!(err.contains("unknown capture `@name`"), "{err}");
    }
}
