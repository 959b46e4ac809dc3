//! Languages are data: one sorted table row per language plus, where a grammar exists, one
//! tree-sitter query in `grammars/<name>.scm`.
//!
//! Adding a language means adding a row here and a `.scm` file; the tests compile every query
//! against its grammar and parse a sample file, so an ABI or query mistake fails CI, not a user.
//! Rows without a grammar (and grammars compiled out with cargo features) use the lexical
//! fallback in [`lexical`], driven by the same comment-token columns (tokei's approach).

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
        line_comments: C_LINE,
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
        line_comments: C_LINE,
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
        line_comments: C_LINE,
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
    let ext = file_name
        .rsplit_once('.')
        .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()));
    if let Some((_, ext)) = &ext
        && let Some(name) = extra(ext)
    {
        return by_name(name);
    }
    for lang in LANGUAGES {
        for f in lang.filenames {
            let matches = if f.ends_with('.') {
                file_name.starts_with(f) && file_name.len() > f.len()
            } else {
                file_name == *f
            };
            if matches {
                return Some(lang);
            }
        }
    }
    if let Some((stem, ext)) = &ext
        && !stem.is_empty()
        && let Some(lang) = LANGUAGES
            .iter()
            .find(|l| l.extensions.contains(&ext.as_str()))
    {
        return Some(lang);
    }
    shebang(head)
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
    /// `kinds[id]` says whether nodes of kind `id` are comments (all `@comment` captures).
    Kinds(Vec<bool>),
    Query(Query),
}

/// The node kinds of a query that only lists kinds captured as `@comment`, or `None`.
fn simple_kinds(query: &str) -> Option<Vec<String>> {
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
            '(' | ')' | '[' | ']' => tokens.push(c.to_string()),
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let group: Vec<String> = match tokens[i].as_str() {
            "(" => match tokens.get(i..i + 3) {
                Some([_, name, close]) if close == ")" && !name.starts_with('@') => {
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
                        Some([_, name, close]) if close == ")" && !name.starts_with('@') => {
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
        names.extend(group);
    }
    (!names.is_empty()).then_some(names)
}

impl Language {
    fn index(&self) -> usize {
        LANGUAGES
            .iter()
            .position(|l| std::ptr::eq(l, self))
            .unwrap_or(0)
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
            if let Some(names) = simple_kinds(grammar.query) {
                let count = u16::try_from(ts.node_kind_count()).unwrap_or(u16::MAX);
                let mut kinds = vec![false; usize::from(count)];
                let mut all_known = true;
                for name in names {
                    let mut known = false;
                    for id in 0..count {
                        if ts.node_kind_is_named(id)
                            && ts.node_kind_for_id(id) == Some(name.as_str())
                        {
                            kinds[usize::from(id)] = true;
                            known = true;
                        }
                    }
                    all_known &= known;
                }
                // An unknown kind is left to the query compiler, whose error names it.
                if all_known {
                    return Ok(Matcher::Kinds(kinds));
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

    #[test]
    fn simple_queries_are_read_as_kinds() {
        let kinds = |q: &str| simple_kinds(q).map(|k| k.join(" "));
        assert_eq!(kinds("(comment) @comment").as_deref(), Some("comment"));
        assert_eq!(
            kinds(";; doc\n[(line_comment) (block_comment)] @comment\n(x) @comment").as_deref(),
            Some("line_comment block_comment x")
        );
        for complex in [
            "(comment) @comment\n(expression_statement . (string) @doc .)",
            "(comment) @doc",
            "((comment) @comment (#match? @comment \"x\"))",
            "(comment)",
            "[(comment)] @comment @doc",
            "",
        ] {
            assert_eq!(simple_kinds(complex), None, "{complex}");
        }
        let Some(python) = by_name("python") else {
            return;
        };
        assert!(matches!(python.matcher(), Some(Ok(Matcher::Query(_)))));
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
