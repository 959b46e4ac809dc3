//! Diagnostics are data: a code, a severity, a message, a location and a help line.
//!
//! Every problem threatmark finds, from a malformed annotation to an unreadable folder, becomes one
//! of these instead of an early return, so one bad file never stops a scan (ruff's and rustc's
//! model). Rendering lives in `render::diagnostics`; the long explanation of each code lives in the
//! table below, which `threatmark explain` prints and docs/diagnostics.md is generated from.

use serde::{Deserialize, Serialize};

use crate::model::Location;

/// How bad a diagnostic is. `--strict` fails the scan on errors.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// Byte range in a file's decoded text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $name:literal, $sev:ident, $summary:literal, $explain:literal; )*) => {
        /// Every diagnostic threatmark can emit. Codes are stable: never renumber, only add.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Code { $( #[serde(rename = $code)] $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// `TM001` and friends.
            pub fn as_str(self) -> &'static str { match self { $( Code::$variant => $code, )* } }
            /// A kebab-case name, for people who cannot remember numbers.
            pub fn name(self) -> &'static str { match self { $( Code::$variant => $name, )* } }
            pub fn default_severity(self) -> Severity { match self { $( Code::$variant => Severity::$sev, )* } }
            /// One line: what the diagnostic means.
            pub fn summary(self) -> &'static str { match self { $( Code::$variant => $summary, )* } }
            /// The long text `threatmark explain` prints.
            pub fn explanation(self) -> &'static str { match self { $( Code::$variant => $explain, )* } }
            /// What `threatmark explain CODE` prints (and the MCP server's `explain_diagnostic`).
            pub fn explain_text(self) -> String {
                format!(
                    "{} ({}, {}): {}\n\n{}",
                    self.as_str(),
                    self.name(),
                    self.default_severity().as_str(),
                    self.summary(),
                    self.explanation()
                )
            }
        }
    };
}

codes! {
    MissingClause = "TM001", "missing-clause", Error,
        "a relation annotation lacks one of its keywords",
        "Relation annotations have fixed keywords between their parts:\n\n    @mitigates COMPONENT against THREAT with CONTROL\n    @exposes COMPONENT to THREAT with DETAILS\n    @accepts THREAT to COMPONENT with DETAILS\n    @transfers THREAT from COMPONENT to COMPONENT with DETAILS\n    @connects COMPONENT to|with COMPONENT with DETAILS\n    @tests CONTROL for COMPONENT\n\nWhen a keyword is missing the annotation cannot be understood, so it is skipped and\nreported. Threatspec reports nothing in this case and silently drops the line.\n\nFix: add the missing part, for example `@mitigates #api against #sqli with #prepared`.";
    InvalidAttribute = "TM002", "invalid-attribute", Error,
        "a known attribute has a value outside its scale, no value, or is on the wrong tag",
        "Attributes in `[key: value; ...]` (and the keys of a YAML body) are validated when the\nkey is known:\n\n    stride      S T R I D E letters or the category words, comma separated\n    likelihood  rare | unlikely | possible | likely | certain   (or 1-5)\n    impact      negligible | minor | moderate | major | severe  (or 1-5)\n    severity    very-low | low | medium | high | critical      (or 1-5)\n    status      open | mitigated | accepted | transferred       (words only)\n    expires     a date, YYYY-MM-DD\n    cwe         CWE-<n> (or <n>), comma separated\n    capec       CAPEC-<n> (or <n>), comma separated\n    actor       #actor-id\n    type        process | store | external  (words only; on @component and @actor only)\n\nA value outside its scale is an error; when it is a typo of a word of the scale (`hgih`,
`likley`, `tampring`), the help says which word (\"did you mean `high`?\"). An empty value (`[owner: ]`, any key), a `type`\non any other tag, and a rating (`likelihood`, `impact`, `severity`) on a relation that\nrates nothing (`@mitigates`, `@accepts`, `@transfers`, `@connects`, `@review`, `@tests`;\nonly threats and exposures are rated) are warnings. In every case the attribute is dropped and the rest of the\nannotation is kept. Unknown keys with a value are never a problem: they are kept as custom\nfields.";
    UndefinedReference = "TM003", "undefined-reference", Error,
        "a `#id` reference names nothing that is declared",
        "A bare `#id` refers to something declared elsewhere, with `Name (#id)` or by a name\nwhose derived id is `id`. When nothing of the expected kind has that id, the reference\ndangles and is left out of the model:\n\n- in a relation (`@mitigates`, `@exposes`, ...), when the id is that of a boundary or an\n  actor (`@review #dmz`), or one typo (an edit, case aside) away from an id of its kind\n  (`#prepraed` where `#prepared` exists; `[model] strict_ids = false`, the setting of a\n  project configured from threatspec.yaml, creates those too). The relation is left out\n  whole, with the components, threats and controls only it named. Any other undeclared id\n  in a relation is created, as Threatspec does: that is TM036, a warning;\n- in `in #boundary`, `contains #x`, `[actor: #a]` and an addition by reference\n  (`@threat #sqli: more text`), always: those name something that must exist.\n\nFix: declare it (`@threat SQL injection (#sqli)`), or correct the spelling; the help\nline suggests the closest id that exists.";
    DuplicateId = "TM004", "duplicate-id", Error,
        "one explicit id is declared with two different names",
        "Ids must name one thing. `@threat SQL injection (#sqli)` in one file and\n`@threat Stored XSS (#sqli)` in another declare two threats with one id. The first\ndeclaration (in path order) wins and the second is ignored and reported.\n\nThis applies only when both declarations write the id out as `(#id)`. Two names that\nderive the same id (`SQL injection` and `SQL Injection`) are one thing written two ways:\nthat is TM013, a warning, and the first name wins.\n\nFix: give one of them another id. Declaring the same name and id twice is fine: the\ndeclarations are merged.";
    UnknownTag = "TM005", "unknown-tag", Note,
        "a comment line starts with something that looks like a misspelt tag",
        "A comment line that starts with `@word` is only an annotation when `word` is a tag.\nOther words are prose and are ignored (`@param`, `@return`, `@connection pool`).\nWhen the word is close to a tag (`@mitigtes`, `@threats`), this note says so, because\nthe line was probably meant to be an annotation. It never fails a scan.\n\nFix: correct the tag, or silence the note by writing `@skip` in front of the tag on the same\nline (`// @skip @threats are listed in docs/threats.md`). An `@skip` alone on a line does\nnot affect the next line.\n\nThe note is also given for prose that starts with an alias spelling of a tag (`@test`,\n`@mitigate`, `@expose`, `@accept`, `@transfer`, `@connect`, `@reviews`), names no `#id`, has\nno `[...]` attributes and does not parse (`// @test this later`): such a line is a remark,\nnot a broken annotation. With the canonical spelling (`@tests this later`), an `#id` or\nattributes, a line that does not parse is an error (TM001, TM006) as before.";
    MissingName = "TM006", "missing-name", Error,
        "an annotation has no name or reference where one is required",
        "Every tag needs something to talk about: `@threat` needs a name or `#id`,\n`@mitigates` needs a component, a threat and a control. An empty part cannot be\nresolved, so the annotation is skipped.";
    MalformedAttributes = "TM007", "malformed-attributes", Error,
        "the `[key: value; ...]` attribute block cannot be read",
        "Attributes are written in one bracket at the end of the annotation head:\n\n    @threat SQL injection (#sqli) [stride: T,I; likelihood: likely]: description\n\nEach entry is `key: value`, entries are separated by `;`, list values by `,`.\nAn unterminated `[`, an entry without `:` or an empty key is reported and that entry is\nskipped. A key given twice keeps its first value.";
    InvalidId = "TM008", "invalid-id", Error,
        "an explicit `(#id)` is empty or uses characters ids cannot have",
        "Ids are made of ASCII letters, digits, `_`, `-`, `.` and `:`. They are compared\nexactly, so `#SQLi` and `#sqli` are different ids. An invalid explicit id is replaced by\nthe id derived from the name.";
    ConflictingBoundaries = "TM009", "conflicting-boundaries", Error,
        "an element is placed in two boundaries, neither of which contains the other",
        "A component (or boundary) can sit in nested boundaries, and then the innermost one\ncounts. Two sibling boundaries cannot both contain it: a process runs in one place.\nThe first placement (in path order) is kept.\n\nFix: remove one of the `@boundary #b contains #c` or `@component ... in #b` lines, or\nnest one boundary in the other.";
    UndeclaredControl = "TM010", "undeclared-control", Warning,
        "a mitigation names a control that no `@control` declares",
        "`@mitigates A against B with Some control` creates the control `Some control` on the\nfly, as Threatspec does. That is allowed, but an undeclared control has no description,\nno owner and no single place where it is defined.\n\nWhen a control with the same name (case and spacing aside) is declared under another id\n(`@control Account lockout (#lockout)`), the warning names it: the mitigation meant that\ncontrol, and another declaration would make two.\n\nFix: declare it once with `@control Some control (#some_control): what it does`, or name the\ndeclared control by its id.";
    BoundaryCycle = "TM011", "boundary-cycle", Error,
        "trust boundaries contain each other in a cycle",
        "Boundaries nest like folders. `#a in #b` together with `#b in #a` (or a longer loop)\nhas no outside, so the nesting edge that closes the loop is dropped and reported.";
    InvalidYamlBody = "TM012", "invalid-yaml-body", Warning,
        "a Threatspec-style multi-line YAML body cannot be parsed",
        "An annotation line that ends in `:` is followed by a YAML body, as in Threatspec:\n\n    # @threat Session hijack (#hijack):\n    #   description: Stolen cookies replay a session\n    #   impact: major\n\nWhen the body is not a YAML mapping it is kept as plain description text instead.";
    ConflictingDeclaration = "TM013", "conflicting-declaration", Warning,
        "two declarations of one id disagree on a name, description, details or other attribute",
        "The same `Name (#id)` may be declared in several places, and additions by reference\n(`@threat #sqli: more text`) too; they are merged in path order. When two of them give\ndifferent names (that derive one id, such as `SQL injection` and `SQL Injection`),\ndescriptions or attribute values, the first (in path order) wins and the other is\nreported, because the model would otherwise depend on which file was read last. The same\nrelation written twice with different details, descriptions or attributes is reported\nthe same way.\n\nA disagreement about a rating (likelihood, impact, severity, STRIDE categories, status,\nexpiry date, element type or actor) is not this warning but TM014, an error.";
    ConflictingRating = "TM014", "conflicting-rating", Error,
        "two declarations of one id rate it differently",
        "Declarations of one id, and the same relation written twice, are merged in path order\nand the first one wins. For names, descriptions, owners and custom fields that is a\nwarning (TM013). For what the gate ranks and counts it is an error, because otherwise a\nfile that sorts earlier could quietly re-rate a threat declared elsewhere:\n\n    a.py   @threat Session fixation (#fixation) [impact: negligible]\n    z.py   @threat Session fixation (#fixation) [impact: severe]\n\nThe fields are likelihood, impact, severity, stride, status, expires, type and actor.\nThe model stays deterministic (the first declaration in path order still wins), but the\nscan has an error, so `threatmark check` fails (`fail_on_errors`) and `scan --strict`\nexits 1. A declaration that sets a field the others leave empty is an addition, not a\nconflict: `@threat #fixation [likelihood: likely]` in another file rates it.\n\nOne exception: an exposure (`@exposes A to T`) written in several places with different\nratings takes the highest likelihood, impact and severity among them, whatever the path\norder (GuardLink keeps each line); that can only raise its risk, so it is no error.\n\nFix: rate the threat in one place, or write the same value everywhere.";
    NonsenseRelation = "TM015", "nonsense-relation", Warning,
        "a relation names a component the threat or control is not about, or links a component to itself",
        "A relation that cannot mean what it says is reported at the annotation:\n\n- `@accepts #t to #b` or `@transfers #t from #b ...` where `#t` is exposed (`@exposes`)\n  only on other components, none of them `#b`, an ancestor or a descendant of it. Coverage\n  is per component, so the exposure stays open and the relation covers nothing; usually the\n  component is a typo. A threat with no `@exposes` at all is not checked (Threatspec models\n  often only accept). A `@mitigates` of another component is not reported: it documents a\n  protection there (and offers its control as a candidate in the plan), while the exposure\n  stays open.\n- `@tests #k for #b` where control `#k` mitigates threats only on other components.\n- `@connects #a to #a` (a note): kept, because a process can send data to itself (a queue\n  it consumes, a retry loop) and Threat Dragon draws such flows; it crosses no boundary, so\n  it hides nothing from the gate, but the other end may be a typo.\n\nA boundary placed in itself is TM011, and a transfer from a component to itself TM016.\n\nFix: name the exposed component, or add the `@exposes` the relation is about.";
    SelfTransfer = "TM016", "self-transfer", Error,
        "a threat is transferred from a component to itself",
        "`@transfers #t from #a to #a` hands a risk to the component that has it. Taken at its word\nit would mark the exposure of `#a` as transferred and so hide it from the gate, while\nnobody took the risk over. It is left out of the model and reported as an error.\n\nFix: name the component (or third party) that takes the risk over.";
    BinaryFile = "TM020", "binary-file", Warning,
        "a file looks binary and was not scanned",
        "A file with a NUL byte in its first 8 KiB is treated as binary, as git and ripgrep do.\nIt is reported when its own extension is a source-code one or it contains annotation-like\ntext, because then something may be lost; other binary files are only counted. A language\nthat only a mapping gives (a Threatspec `mime:` path, `[scan] extensions`) does not count:\n`__pycache__/*.pyc` under `mime: text/x-python` is compiled Python, which Threatspec skips\ntoo.";
    InvalidEncoding = "TM021", "invalid-encoding", Warning,
        "a file is not valid UTF-8; it was decoded with replacement characters",
        "Invalid byte sequences were replaced with U+FFFD and the rest of the file was\nscanned. Line numbers are exact; annotation text that contained bad bytes will show\nthe replacement character. UTF-16 files with a BOM are converted without this warning.";
    FileTooLarge = "TM022", "file-too-large", Warning,
        "a file is larger than the size limit and was skipped",
        "Files above `max_file_size` (default 10 MiB) are skipped to bound memory and time.\nRaise the limit in threatmark.toml (`[scan] max_file_size = 50_000_000`) or exclude\nthe file when it is generated or vendored.";
    IoError = "TM023", "io-error", Error,
        "a file or folder could not be read",
        "The operating system refused to read a path (permissions, a file that vanished during\nthe scan, a broken symlink). The rest of the scan went on; the model lacks whatever\nthat path held.";
    SymlinkLoop = "TM024", "symlink-loop", Warning,
        "following symbolic links led back to an ancestor folder",
        "With `follow_symlinks = true`, a link that points to one of its own ancestors would\nbe walked forever. It is skipped. Symbolic links are not followed by default.";
    ParseBudget = "TM025", "parse-budget-exceeded", Warning,
        "parsing a file needed more work than its budget",
        "Tree-sitter parsing is stopped after `parse_timeout_ms` (default 5000 ms) per file, or\nafter the work that time usually buys (50 parser progress steps a millisecond), so a\npathological file cannot stall a scan. The file's comments are then found with the\nlexical fallback, which finds what tree-sitter finds on threatmark's test corpus\n(strings, heredocs, YAML block scalars, regular expressions) and is never slow.";
    UnterminatedComment = "TM026", "unterminated-comment", Warning,
        "a block comment is never closed",
        "A block comment (`/*`, `<!--`, ...) runs to the end of the file. Compilers reject\nthis; threatmark still reads the annotations in it, and tells you.";
    IgnoreFileError = "TM027", "ignore-file-error", Warning,
        "an ignore file (.gitignore, .threatmarkignore) has a line that cannot be parsed",
        "The offending glob is skipped; the other lines of the ignore file still apply.";
    GrammarError = "TM028", "grammar-error", Warning,
        "a tree-sitter grammar or its comment query could not be used",
        "The grammar compiled into threatmark failed to load, or its query in grammars/ did not\ncompile. The file's comments were found with the lexical fallback instead. This is a\nbug in threatmark (a test loads every grammar to prevent it); please report it.";
    InvisibleCharacter = "TM029", "invisible-character", Warning,
        "an invisible format character sits in or before a tag, or in an annotation's names and ids",
        "Format characters (Unicode category Cf: zero-width space U+200B, zero-width joiners\nU+200C/D, word joiner U+2060, U+FEFF inside a line, soft hyphen U+00AD, the bidi controls\nU+202A-202E, U+2066-2069, U+200E/F, ...) are invisible in most editors and in review. In a\ntag (a soft hyphen inside `@threat`, a zero-width space after its `@` or before it) one\nwould turn the line into prose nobody notices; in an id (`#sqli` with a zero-width space\ninside) or a name it makes one thing look like another.\n\nThe warning names each character (`U+200B ZERO WIDTH SPACE`) and points at it. Before and\ninside a tag the character is skipped, so the annotation is still read; elsewhere in the\nannotation's first line (up to the description) it is kept, so an id that holds one is\nnot valid (TM008) and a name that holds one derives another id.\n\nFix: delete the character. To find them all:\n\n    grep -rnP '[\\x{AD}\\x{200B}-\\x{200F}\\x{202A}-\\x{202E}\\x{2060}-\\x{206F}\\x{FEFF}]' .";
    TooDeep = "TM030", "too-deep", Error,
        "a component name or a boundary nesting is deeper than `[model] max_depth`",
        "Hierarchies are cut at `max_depth` levels (default 64, `[model] max_depth` in\nthreatmark.toml, at most 1024), so that the model of any input grows linearly with it. A\nname such as `A:B:...` with thousands of segments would otherwise create thousands of\nparent components whose names repeat the whole line (a 16 KB line made a 450 MB model),\nand a boundary nested thousands deep would make every crossing list thousands of\nboundaries.\n\n- A component name with more `:` segments than the limit is kept as one component, with\n  its whole name, but gets no parents.\n- A boundary that would sit deeper than the limit loses the placement that puts it there\n  (it becomes an outermost boundary, and so does every limit-th one below it).\n\nThe model is then incomplete, so this is an error: `check` fails on it. No honest model\nneeds 64 levels; raise the limit only if yours does.";
    IgnoreFileTooLarge = "TM032", "ignore-file-too-large", Warning,
        "an ignore file is over the size or pattern limit; it was skipped",
        "Ignore files (`.gitignore`, `.threatmarkignore`) are compiled into one matcher each,\nwhich costs hundreds of bytes of memory per byte of patterns: a 4.5 MB `.gitignore` took\n1.76 GB. A file over 1 MiB (1048576 bytes), or with more than 10000 patterns, is\nskipped whole, without reading more than the limit, and the scan goes on without its\nrules. Skipping means scanning more files, never fewer: the safe side for a security\nscanner, since a repository cannot hide annotations this way.\n\nFix: shorten the file (a folder pattern such as `generated/` replaces a line per file),\nor leave the files out with `[scan] exclude` in threatmark.toml.";
    GitIndexUnreadable = "TM033", "git-index-unreadable", Warning,
        "the git index could not be read, so `.gitignore` rules applied to tracked files too",
        "A file that git tracks is scanned even when a `.gitignore` pattern matches it, as git\nitself treats it (and as a scan of a revision does, where every file is tracked). Which\nfiles are tracked comes from the index (`.git/index`). When the repository is found but\nits index cannot be read (corrupt, or in a format threatmark does not know), the\nwork-tree scan applies `.gitignore` to every file, and tracked files it matches are left\nout: the model may then lack annotations that `scan --rev HEAD` finds.\n\nFix: `git status` rewrites a damaged index in most cases; `git reset` rebuilds it.";
    LinkOutOfRoot = "TM034", "link-out-of-root", Warning,
        "a symbolic link leads out of the scanned folder and was not followed",
        "With `follow_symlinks = true`, links are followed only while they stay inside the\nscanned folder (after resolving every link on the way). A link to `/etc`, `~/.aws` or\n`/proc/self/pagemap` would otherwise put files of the machine running the scan into the\nmodel, its reports and SARIF, or read without end; in CI the repository's threatmark.toml,\nwhich sets `follow_symlinks`, may be a pull request's own. The link is skipped and named.\n\nFix: copy what the link points to into the repository, or scan the folder it points to\nitself.";
    MergeConflictMarker = "TM035", "merge-conflict-marker", Warning,
        "a merge-conflict marker (`<<<<<<<`) was committed",
        "A line that starts with `<<<<<<<`, and the `=======` and `>>>>>>>` lines after it, are\nwhat git leaves in a file whose merge conflict was never resolved. The file no longer\ncompiles, and a parser loses its footing there. threatmark reads the comments of both\nsides of the conflict (and of any other syntax error) with its lexical scanner, so no\nannotation is lost, and names the marker.\n\nFix: resolve the conflict, keeping the side (or the mix) that is right.";
    UndeclaredReference = "TM036", "undeclared-reference", Warning,
        "a `#id` in a relation names nothing declared; it was created, named by its id",
        "Threatspec creates whatever a relation names: `@mitigates #web against #xss with\n#file_perms`, where no `@control` declares `#file_perms`, makes a control whose name is\nempty. threatmark does the same, so the relation is kept: the entity is created with its\nid as its name, marked `placeholder` (and not `declared`) in the model, and this warning\nis given once per id, at its first reference in path order.\n\nIds are per kind, as in Threatspec: `@tests #server for #web` where `#server` is a component\ncreates a control `#server` (the help says so). Not created, but TM003 (an error): the id of\na boundary or an actor, and, with `[model] strict_ids = true` (the default), an id one typo\naway from an id of its kind, since `#prepraed` next to `#prepared` would otherwise mitigate\nwith a control nobody wrote. A project configured from threatspec.yaml reads ids as\nThreatspec does (`strict_ids = false`): a near-typo is created too, and the help names the\nclose id.\n\nFix: declare it once (`@control File permissions (#file_perms): what it does`), or refer\nto the declared thing by its own id.";
    NameNearMiss = "TM037", "name-near-miss", Warning,
        "a name in a relation is almost, but not exactly, the name of a declaration",
        "A name in a relation (`@mitigates Orders API against SQL injection with Account lockout`)\nmeans the component, threat or control declared with exactly that name, whatever its id\n(`@control Account lockout (#lockout)`). Names written differently are resolved so:\n\n- the same but for case, spaces and punctuation (`Orders Api`, `account-lockout` for\n  `Orders API (#api)`, `Account lockout (#lockout)`): it means that declaration. The\n  relation uses its id, and this warning names it;\n- a small edit away (`Orders APIs`, `SQL injections`): a different thing, created as\n  written (as Threatspec does), and this warning asks whether the declaration was meant;\n- exactly the name of several declarations with different ids (`Web Server (#server)` and\n  `Web Server (#web_server)`): the smallest id, and this warning lists them.\n\nNames whose derived ids are equal (`SQL Injection` and `SQL injection` without ids) were\nalways one entity and are not reported. Each written name is reported once, at its first\nuse in path order.\n\nFix: write the name exactly as declared, or use the id (`#api`).";
    MalformedGal = "TM039", "malformed-gal", Error,
        "a GuardLink (GAL) annotation has annotation structure but does not parse",
        "threatmark reads GuardLink's annotation language (GAL) natively: `@asset`, `@flows A -> B`,\n`@mitigates A against T using C`, `@boundary between A and B (#id)`, `-- \"text\"` and the\nrest (docs/migrating-from-guardlink.md). A line with a GAL verb whose arguments do not\nmatch GuardLink's grammar, but which has the signs of an annotation (a `#ref`, a `--`\ndescription, a keyword of its verb such as `to`, `against` or `->`), was meant to be one:\nit is left out of the model and reported, as GuardLink reports it.\n\nFix: write the line in the form the help shows, for example\n`@exposes #api to #sqli [P1] cwe:CWE-89 -- \"raw SQL\"`.";
    GalProse = "TM040", "gal-prose", Note,
        "a line starts with a GAL verb but reads as prose",
        "A comment line that starts with a GuardLink verb (`@asset`, `@audit`, `@feature`, ...)\nbut has none of the signs of an annotation (no `#ref`, no `--`, none of its verb's\nkeywords) is read as prose, as GuardLink does, and noted. It never fails a scan.\n\nFix: if it is an annotation, complete it; if it is documentation about annotations, wrap\nit in `@shield:begin` / `@shield:end`.";
    GalNotKept = "TM041", "gal-not-kept", Warning,
        "a GAL annotation says something threatmark's model cannot hold",
        "A few GuardLink forms have no place in threatmark's model: a `@mitigates A against T`\nwith no `using CONTROL` (threatmark's mitigations always name the control). The\nannotation is left out and named here, never dropped silently.\n\nFix: name the control (`@mitigates #api against #sqli using #prepared`).";
    DoubledTag = "TM043", "doubled-tag", Warning,
        "an annotation starts with its tag written twice",
        "`@threat @threat IP exposure (#ip)` is read as `@threat IP exposure (#ip)` and reported.\nThreatspec keeps the second tag in the name (`@threat IP exposure`), which then clashes\nwith the same threat declared elsewhere under its real name.\n\nFix: delete the second tag.";
    InvalidXThreatspec = "TM044", "invalid-x-threatspec", Warning,
        "an `x-threatspec` value in a YAML or JSON file is not read as an annotation",
        "Threatspec reads annotations from the values of `x-threatspec` keys (OpenAPI documents,\nmostly): a string, a list of strings, or a mapping from an annotation to its fields. Each\nvalue is found in the file as written, as a quoted string whose escapes decode to it\n(`\"\\u0040threat ...\"`), or as a folded scalar, and read at its line. This warning names\nwhat is not read: a document that does not parse, a value that is not a string (a number,\na nested list or mapping), or a string that is no annotation.\n\nFix: write the value as an annotation (`@threat Name (#id)`), or remove the key.";
    MisspeltAttributeKey = "TM045", "misspelt-attribute-key", Warning,
        "an attribute key is a typo of a known key; it was kept as a custom field",
        "Keys that threatmark does not know are kept as custom fields, so `[likelyhood: likely]`\nor `[impcat: severe]` silently leaves the threat unrated. A key of four letters or more\nthat is one edit (two, for keys of six letters or more; a swap of two letters counts one)\nfrom a known key or alias (`likelihood`, `impact`, `severity`, `stride`, `status`, `type`,\n`expires`, `owner`, `ticket`, `cwe`, `capec`, `actor`, ...) is reported with the key it is\nclosest to. The value is still kept as a custom field.\n\nFix: correct the key, or rename the custom field.";
    UnusedSuppression = "TM046", "unused-suppression", Warning,
        "a `threatmark: ignore[...]` comment suppresses nothing",
        "A suppression comment names the codes it hides:\n\n    # threatmark: ignore[TM106] owner decided in ADR-12\n    # @threat Replay (#replay)\n\nIt applies to diagnostics on its own line and on the line just below it. A code of the\ncomment that no diagnostic on those two lines has is reported, so that suppressions do not\noutlive what they hid (ruff's unused `noqa`). `scan` judges by the scan's diagnostics and\nthe model's date-free findings, `analyze` by its findings too.\n\nFix: remove the code from the comment, or the comment.";
    InvalidSuppression = "TM047", "invalid-suppression", Warning,
        "a `threatmark: ignore[...]` comment names an unknown code, or one that cannot be suppressed",
        "The codes of a suppression comment are those `threatmark explain --all` lists (`TM103`,\nor a name such as `stride-gap`). An unknown code suppresses nothing and is reported; so is a\ncode that is never suppressed: the diagnostics that say part of the input was not read\n(TM020, TM022, TM023, TM024, TM025, TM028, TM030, TM032, TM033, TM034, TM035) and TM048.\nThe other codes of the comment still apply.\n\nFix: correct the code, or fix the cause (a size limit, permissions, a link).";
    BlanketSuppression = "TM048", "blanket-suppression", Warning,
        "a `threatmark: ignore` comment names no codes; it is refused",
        "`threatmark: ignore` without `[CODES]` would hide every diagnostic of its line, including\nones nobody has seen yet, so it suppresses nothing and is reported. It cannot itself be\nsuppressed.\n\nFix: name the codes: `threatmark: ignore[TM103,TM106] why`.";
    ShadowedThreatspecConfig = "TM049", "shadowed-threatspec-config", Warning,
        "`threatspec.yaml` is not read because `threatmark.toml` exists",
        "A folder with `threatspec.yaml` and no `threatmark.toml` is configured from\n`threatspec.yaml`: its paths become `[scan] include`/`exclude`, and ids are read as\nThreatspec reads them (`[model] strict_ids = false`). Once a `threatmark.toml` exists (say,\nto add a `[diagnostics]` table), it wins and `threatspec.yaml` is not read, so a scan may\nsuddenly read other files and turn undeclared ids into errors. The help line gives the TOML\nthat carries `threatspec.yaml`'s settings over.\n\nFix: copy those settings into `threatmark.toml`, or pass `--config threatspec.yaml`, or\ndelete `threatspec.yaml` once the project is migrated.";
    ConfigurationUnreadable = "TM050", "configuration-unreadable", Error,
        "the configuration does not load, so an editor or agent server has no model",
        "`threatmark scan` stops with exit 2 when threatmark.toml (or threatspec.yaml, or the file\ngiven with `--config`) does not parse or holds an invalid value, such as an unknown key or\na glob that does not compile. The servers that stay running (`threatmark lsp`, `threatmark\nmcp`) report it instead: the language server publishes this diagnostic on the\nconfiguration file, with the error as its message, and serves an empty model until the\nfile loads again (it is read again on every save and watched-file change).\n\nFix: correct the configuration as the message says; `threatmark scan` prints the same\nerror.";
    DismissalWithoutReason = "TM054", "dismissal-without-reason", Error,
        "an `@dismisses` annotation gives no reason; it dismisses nothing",
        "`@dismisses RULE on ELEMENT with REASON` says that a suggestion of `threatmark suggest`\nwas considered and is not followed. The reason is what a reviewer reads, and what `suggest`,\nthe report and the site show next to the dismissed suggestion, so a dismissal without one\nis left out and the suggestion stays open.\n\nFix: add the reason: `@dismisses datastore.backup on #shop_db with RDS automated backups,\nSHOP-12`.";
    UnusedDismissal = "TM055", "unused-dismissal", Warning,
        "a dismissal matches no suggestion",
        "A dismissal (`@dismisses RULE on ELEMENT with REASON`, or a `[[suggest.dismiss]]` entry)\nnames a rule and an element that exist, but the rule proposes nothing there: its\nconditions no longer hold (the element changed type, `tech:` or data), or the model now\ncovers it (a matching threat or control). The dismissal is stale.\n\nFix: remove it.";
    InvalidLibraryRule = "TM058", "invalid-library-rule", Error,
        "a threat library rule file cannot be read, or one of its rules is invalid",
        "`[library] paths` in threatmark.toml names TOML files of rules for `threatmark suggest`\n(docs/library.md). Each file is validated as the builtin families are: broken TOML, an\nunknown key (in `[[rule]]`, `when`, `silenced_by` or `fixtures`), a value outside its scale\n(`likelihood`, `impact`, `kind`, `data`, `direction`), STRIDE letters that are not STRIDE, an\nid that is not `family.name`, and the same id in two user files are reported at the file.\nA file that cannot be read adds no rules; an invalid rule is left out; of two rules with one\nid the first (in the order of `paths`) is kept.\n\nFix: correct the file; `threatmark library show RULE` prints a rule as it was read.";
    UnknownDismissal = "TM059", "unknown-dismissal", Warning,
        "a dismissed suggestion names a rule or an element that does not exist",
        "`@dismisses RULE on ELEMENT with REASON` annotations and `[[suggest.dismiss]]` entries in\nthreatmark.toml say why a suggestion of `threatmark suggest` is not followed:\n\n    [[suggest.dismiss]]\n    rule = \"datastore.backup\"\n    on = \"shop_db\"\n    reason = \"RDS automated backups, see SHOP-12\"\n\nWhen `rule` is no rule of the library, or `on` is neither `*` nor the id of a typed\ncomponent or a flow, the dismissal dismisses nothing; usually the id is a typo or the rule\nwas renamed.\n\nFix: correct the id (`threatmark library list` prints the rules, `threatmark suggest\n--format json` the element ids), or remove the entry.";
    OverriddenLibraryRule = "TM060", "overridden-library-rule", Note,
        "a user rule replaces a builtin rule with the same id",
        "A rule in a `[library] paths` file whose id is that of a builtin rule replaces it: that is\nhow a team tunes a rule's rating, texts or conditions. The note says it happened, so a\nreplacement is never an accident.\n\nFix: nothing if intended; otherwise give the rule an id of its own family.";
    UnmitigatedExposure = "TM101", "unmitigated-exposure", Warning,
        "a component is exposed to a threat and nothing mitigates, accepts or transfers it",
        "`@exposes COMPONENT to THREAT` records a weakness. Until a `@mitigates` for the same\ncomponent and threat, an `@accepts` (not expired) or a `@transfers` covers it, the\nexposure is open. Findings are ranked by the threat's risk; the severity follows the\nrisk band (critical and high are errors, medium a warning, lower a note).\n\nFix: add a control (`@mitigates #api against #sqli with #prepared`), or accept the risk\nexplicitly with an owner and an expiry date.";
    UnguardedCrossing = "TM102", "unguarded-crossing", Warning,
        "a data flow crosses a trust boundary and no control covers either end",
        "A `@connects` flow whose ends sit in different trust boundaries crosses those\nboundaries. Interactions that cross boundaries deserve the most attention, so a\ncrossing is guarded only when a `@mitigates` names its source or its target.\n\nFix: mitigate the threats of the receiving side (input validation, authentication),\nor move both ends into one boundary if the crossing is not real.";
    StrideGap = "TM103", "stride-gap", Note,
        "an element on a boundary crossing lacks threats for some STRIDE categories",
        "STRIDE per element (Microsoft's chart, as used by Threat Dragon): processes are\nsubject to all six categories; data stores to Tampering, Repudiation, Information\ndisclosure and Denial of service; external entities to Spoofing and Repudiation; data\nflows to Tampering, Information disclosure and Denial of service. For every element\nthat a crossing flow touches, the categories of the threats linked to it are compared\nwith its applicable set, and the missing ones are listed. A gap is a prompt to think,\nnot a defect: declare the threat, or note why it does not apply.";
    ExpiredAcceptance = "TM104", "expired-acceptance", Error,
        "a risk acceptance has passed its expiry date",
        "`@accepts THREAT to COMPONENT [expires: YYYY-MM-DD]` accepts a risk until a date.\nAfter it, the acceptance no longer covers the exposure and the threat counts as open\nagain. Dates are compared with the date passed to `threatmark analyze` or `check`\n(`--today`, default: the current date); the model file itself never depends on the\nclock.\n\nFix: review the risk and renew the acceptance with a new date, or mitigate it.";
    UnratedThreat = "TM105", "unrated-threat", Warning,
        "a threat has no likelihood and impact, and no severity",
        "Risk is likelihood x impact on the matrix; a threat with only a severity is ranked by\nthe severity. A threat with neither cannot be ranked and sinks to the bottom of the\nremediation plan.\n\nFix: add `[likelihood: possible; impact: major]` (or `[severity: high]`).";
    UnownedThreat = "TM106", "unowned-threat", Note,
        "a threat has no owner",
        "Every risk needs someone who decides about it. A threat's owner is its `owner`\nattribute, or else the owner of the component it affects when there is exactly one.\n\nFix: add `[owner: @team]` to the threat or to its component.";
    UnusedControl = "TM107", "unused-control", Note,
        "a declared control mitigates nothing and is tested nowhere",
        "A control declared with `@control` that no `@mitigates` and no `@tests` uses is either\ndead documentation or a missing link.";
    ComponentWithoutThreats = "TM108", "component-without-threats", Note,
        "a component has no threats at all",
        "No exposure, mitigation, acceptance or transfer names this component (or any of its\nchildren). Either it has been threat-modelled and found clean, which is worth a\n`@review`, or nobody has looked yet. Components with a `@review` are not reported.";
    UnaddressedThreat = "TM109", "unaddressed-threat", Note,
        "a threat is declared but linked to nothing",
        "The threat has no exposure, mitigation, acceptance or transfer, so nothing says where\nit applies or what was done about it. It appears in the remediation plan as open.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(s) || c.name() == s)
            .ok_or(())
    }
}

impl schemars::JsonSchema for Code {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Code".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": codes })
    }
}

/// One finding about the input. `location` is filled in once the file's line index is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where it is; `None` for problems without a file (a bad configuration value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Byte span in the file's decoded text, for the caret. Saved with the outcome in the scan
    /// and blob caches, so a diagnostic read back from a cache prints its snippet and caret as
    /// the first scan did (it was skipped once, and a warm cache lost them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// Text under the caret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.default_severity(),
            message: message.into(),
            location: None,
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn at_span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// A diagnostic about a whole file (no caret).
    pub fn in_file(mut self, path: &str) -> Self {
        self.location = Some(Location::file(path));
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Total order used before anything is printed: by path, line, column, code, message.
    pub fn sort_key(&self) -> impl Ord + '_ {
        let loc = self
            .location
            .as_ref()
            .map(|l| (l.path.as_str(), l.line, l.column));
        (loc, self.code, &self.message)
    }
}

/// Sort and drop exact duplicates, so that output never depends on thread scheduling.
pub fn normalize(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// Counts per severity, for summaries and exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Counts {
    pub fn of(diags: &[Diagnostic]) -> Self {
        let mut c = Counts::default();
        for d in diags {
            match d.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Note => c.notes += 1,
            }
        }
        c
    }
}

/// Markdown reference of every code; docs/diagnostics.md is this text, checked by a test.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Diagnostics\n\n<!-- Generated by `threatmark explain --all`; a test keeps it in sync. -->\n\n\
         Every diagnostic has a stable code. `threatmark explain CODE` prints the text below.\n\n\
         | code | name | severity | meaning |\n|---|---|---|---|\n",
    );
    for c in Code::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            c.as_str(),
            c.name(),
            c.default_severity().as_str(),
            c.summary().replace('|', "\\|")
        ));
    }
    for c in Code::ALL {
        out.push_str(&format!(
            "\n## {} `{}`\n\n{}\n\n```text\n{}\n```\n",
            c.as_str(),
            c.name(),
            c.summary(),
            c.explanation()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(c.as_str().parse::<Code>(), Ok(*c));
            assert_eq!(c.name().parse::<Code>(), Ok(*c));
            assert!(!c.explanation().is_empty());
        }
        assert_eq!("tm001".parse::<Code>(), Ok(Code::MissingClause));
    }
}
