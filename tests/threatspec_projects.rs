//! Threatspec projects as they are found in public repositories: a model kept in a plain-text
//! design file, bare `#id`s that nothing declares, and relations that name a declared entity by
//! its name instead of its id. Each fixture is our own and captures one pattern seen in them.
//!
//! @tests #plain_design_text for #scanner
//! @tests #placeholder_entities for #builder
//! @tests #names_resolve for #builder

use std::path::{Path, PathBuf};

use threatmark::annotation::parse_text;
use threatmark::config::Config;
use threatmark::diagnostic::{Diagnostic, Severity};
use threatmark::model::{self, FileAnnotations, Project, ThreatModel};
use threatmark::scan::scan_dir;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Build a model from files given as `(path, text)`, each read whole as one comment.
fn build(files: &[(&str, &str)]) -> (ThreatModel, Vec<Diagnostic>) {
    let mut sorted: Vec<FileAnnotations> = files
        .iter()
        .map(|(path, text)| {
            let (annotations, ds) = parse_text(path, text);
            assert!(ds.is_empty(), "{path}: {ds:?}");
            FileAnnotations {
                path: (*path).to_string(),
                annotations,
            }
        })
        .collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    model::build(Project::default(), &sorted)
}

fn codes(ds: &[Diagnostic]) -> Vec<String> {
    ds.iter()
        .map(|d| {
            let at = d
                .location
                .as_ref()
                .map(|l| format!("{}:{}", l.path, l.line))
                .unwrap_or_default();
            format!("{} {at}", d.code)
        })
        .collect()
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|x| id(x).to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Bare `#id`s that nothing declares

/// Threatspec creates an entity named by the id for a bare `#id` nobody declares, and keeps the
/// relation; its own example project has `with #file_perms` and no `@control` for it.
#[test]
fn a_bare_id_nothing_declares_is_created_and_its_relation_kept() {
    let (m, ds) = build(&[(
        "app.go",
        "@component Web (#web)\n\
         @mitigates #web against Tampering with #file_perms\n\
         @exposes #web to #ghost_threat with no check\n\
         @mitigates #web against #ghost_threat with #file_perms\n",
    )]);
    assert_eq!(
        codes(&ds),
        ["TM036 app.go:2", "TM036 app.go:3"],
        "one warning per undeclared id, at its first reference: {ds:?}"
    );
    assert!(ds.iter().all(|d| d.severity == Severity::Warning));
    let control = m.control("file_perms").expect("control created");
    assert_eq!(control.name, "file_perms");
    assert!(!control.declared);
    assert!(control.placeholder, "marked as created from a bare id");
    let threat = m.threat("ghost_threat").expect("threat created");
    assert!(threat.placeholder && !threat.declared);
    // Named ones are not placeholders.
    assert!(!m.threat("tampering").expect("named").placeholder);
    assert_eq!(
        ids(&m.mitigations, |x| &x.id),
        ["web/ghost_threat/file_perms", "web/tampering/file_perms"]
    );
    assert_eq!(ids(&m.exposures, |x| &x.id), ["web/ghost_threat"]);
}

/// A bare id one typo away from an id that exists is a typo, not a new entity: it stays an
/// error, and the relation it was in leaves nothing behind (neither the names it would have
/// created nor their parents).
#[test]
fn a_typo_of_a_known_id_is_rejected_whole() {
    let (m, ds) = build(&[(
        "svc.py",
        "@control Prepared statements (#prepared)\n\
         @mitigates Orders:Service against SQL injection with #prepraed\n\
         @transfers Data leak from Vault to Vault with nothing\n",
    )]);
    assert_eq!(codes(&ds), ["TM003 svc.py:2", "TM016 svc.py:3"], "{ds:?}");
    assert!(m.mitigations.is_empty() && m.transfers.is_empty());
    assert!(
        m.components.is_empty(),
        "{:?}",
        ids(&m.components, |c| &c.id)
    );
    assert!(m.threats.is_empty(), "{:?}", ids(&m.threats, |c| &c.id));
    assert_eq!(ids(&m.controls, |c| &c.id), ["prepared"]);
}

/// A project configured from `threatspec.yaml` reads ids as Threatspec does: a near-typo is a
/// new entity too (with a did-you-mean), and ids are per kind (`@tests #server for ...` where
/// `#server` is a component makes a control `#server`).
#[test]
fn threatspec_projects_create_every_undeclared_id() {
    let text = "@component Server (#server)\n@component DB server (#db_server)\n\
                @threat XSS (#xss)\n\
                @connects #server to #dbserver with SQL\n\
                @tests #server for #server\n";
    let (annotations, ds) = parse_text("plan.txt", text);
    assert!(ds.is_empty());
    let lenient = model::Limits {
        strict_ids: false,
        ..model::Limits::default()
    };
    let (m, ds) = model::build_limited(Project::default(), &annotations, lenient);
    assert_eq!(
        codes(&ds),
        ["TM036 plan.txt:4", "TM036 plan.txt:5"],
        "{ds:?}"
    );
    let helps: Vec<&str> = ds.iter().filter_map(|d| d.help.as_deref()).collect();
    assert!(helps[0].contains("did you mean `#db_server`?"), "{helps:?}");
    assert!(helps[1].contains("`#server` is a component"), "{helps:?}");
    assert!(m.component("dbserver").is_some_and(|c| c.placeholder));
    assert!(m.control("server").is_some_and(|c| c.placeholder));
    assert_eq!(m.flows.len(), 1);
    assert_eq!(m.tests.len(), 1);
    // A threatmark project (strict ids, the default) takes the near-typo for what it is.
    let (m, ds) = model::build_limited(Project::default(), &annotations, model::Limits::default());
    assert_eq!(
        codes(&ds),
        ["TM003 plan.txt:4", "TM036 plan.txt:5"],
        "{ds:?}"
    );
    assert!(m.component("dbserver").is_none() && m.flows.is_empty());
    // And the configuration a threatspec.yaml means is the lenient one.
    let root = fixture("threatspec-design");
    assert!(!threatspec_config(&root).model.limits().strict_ids);
    assert!(Config::default().model.limits().strict_ids);
}

/// The same implicit names, also used by a relation that is kept, stay.
#[test]
fn names_a_kept_relation_also_uses_stay() {
    let (m, ds) = build(&[(
        "svc.py",
        "@control Prepared statements (#prepared)\n\
         @mitigates Orders:Service against SQL injection with #prepraed\n\
         @exposes Orders:Service to SQL injection with string concatenation\n",
    )]);
    assert_eq!(codes(&ds), ["TM003 svc.py:2"]);
    assert_eq!(ids(&m.components, |c| &c.id), ["orders", "orders_service"]);
    assert_eq!(ids(&m.threats, |c| &c.id), ["sql_injection"]);
}

// ---------------------------------------------------------------------------------------------
// Names resolve to declarations

#[test]
fn a_name_in_a_relation_means_the_declaration_of_that_name() {
    let (m, ds) = build(&[(
        "auth.py",
        "@control Account lockout (#lockout)\n\
         @component Orders API (#api)\n\
         @threat SQL injection (#sqli)\n\
         @mitigates Orders API against SQL injection with Account lockout\n\
         @tests Account lockout for Orders API\n",
    )]);
    assert!(ds.is_empty(), "{ds:?}");
    assert_eq!(ids(&m.controls, |c| &c.id), ["lockout"]);
    assert_eq!(ids(&m.components, |c| &c.id), ["api"]);
    assert_eq!(ids(&m.threats, |c| &c.id), ["sqli"]);
    assert_eq!(ids(&m.mitigations, |x| &x.id), ["api/sqli/lockout"]);
    assert_eq!(ids(&m.tests, |x| &x.id), ["lockout/api"]);
    // One name declared with two ids: the smallest, and a warning.
    let (m, ds) = build(&[(
        "two.py",
        "@component CalcApp:Web:Server (#web_server)\n@component CalcApp:Web:Server (#server)\n\
         @exposes CalcApp:Web:Server to DDoS with open port\n",
    )]);
    assert_eq!(codes(&ds), ["TM037 two.py:3"], "{ds:?}");
    assert!(
        ds[0].message.contains("`#server`, `#web_server`"),
        "{}",
        ds[0].message
    );
    assert_eq!(ids(&m.exposures, |x| &x.id), ["server/ddos"]);
    // A name with a label of its own keeps the label's id.
    let (m, _) = build(&[(
        "cve.py",
        "@threat Log4Shell (#log4shell)\n@exposes #api to Log4Shell (CVE-2021-45046)\n",
    )]);
    assert_eq!(ids(&m.exposures, |x| &x.id), ["api/cve202145046"]);
}

/// `@boundary ... contains Name` means the declaration of that name too; a name that is a
/// boundary's stays a nesting.
#[test]
fn boundary_members_named_resolve_to_declarations() {
    let (m, ds) = build(&[(
        "zones.py",
        "@component Orders API (#api)\n@boundary Inner (#inner)\n\
         @boundary Shop (#shop) contains Orders API, Inner\n",
    )]);
    assert!(ds.is_empty(), "{ds:?}");
    assert_eq!(ids(&m.components, |c| &c.id), ["api"]);
    assert_eq!(
        m.component("api").and_then(|c| c.extra.boundary.as_deref()),
        Some("shop")
    );
    assert_eq!(
        m.boundary("inner").and_then(|b| b.extra.parent.as_deref()),
        Some("shop")
    );
}

/// A name that differs from a declared one only in case, spaces or punctuation means it, with a
/// warning; one a small edit away is a new entity (as written), with a did-you-mean warning.
#[test]
fn near_miss_names_warn() {
    let (m, ds) = build(&[(
        "auth.py",
        "@control Account lockout (#lockout)\n\
         @component Orders API (#api)\n\
         @threat SQL injection (#sqli)\n\
         @mitigates Orders Api against SQL Injection with account-lockout\n\
         @exposes Orders APIs to SQL injection with string concatenation\n\
         @exposes Orders APIs to Cross site scripting with raw HTML\n",
    )]);
    assert_eq!(
        codes(&ds),
        [
            "TM037 auth.py:4",
            "TM037 auth.py:4",
            "TM037 auth.py:4",
            "TM037 auth.py:5"
        ],
        "{ds:?}"
    );
    assert!(ds.iter().all(|d| d.severity == Severity::Warning));
    let helps: Vec<&str> = ds.iter().filter_map(|d| d.help.as_deref()).collect();
    assert!(
        helps.iter().any(|h| h.contains("`Orders API (#api)`")),
        "{helps:?}"
    );
    assert_eq!(ids(&m.mitigations, |x| &x.id), ["api/sqli/lockout"]);
    assert_eq!(ids(&m.controls, |c| &c.id), ["lockout"]);
    assert_eq!(ids(&m.threats, |c| &c.id), ["cross_site_scripting", "sqli"]);
    // `Orders APIs` is not `Orders API`: a new component, once warned about.
    assert_eq!(ids(&m.components, |c| &c.id), ["api", "orders_apis"]);
}

/// Which file declares and which mentions does not matter: path order is the only order.
#[test]
fn names_resolve_across_files_in_either_order() {
    let decl = "@control Account lockout (#lockout)\n@component Orders API (#api)\n";
    let uses = "@mitigates Orders API against Credential stuffing with Account lockout\n";
    for files in [
        [("a_decl.py", decl), ("b_uses.py", uses)],
        [("z_decl.py", decl), ("b_uses.py", uses)],
    ] {
        let (m, ds) = build(&files);
        assert!(ds.is_empty(), "{ds:?}");
        assert_eq!(
            ids(&m.mitigations, |x| &x.id),
            ["api/credential_stuffing/lockout"]
        );
        assert_eq!(ids(&m.controls, |c| &c.id), ["lockout"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Plain-text design files

fn threatspec_config(root: &Path) -> Config {
    let yaml = std::fs::read_to_string(root.join("threatspec.yaml")).expect("threatspec.yaml");
    Config::from_threatspec(&yaml, &root.join("threatspec.yaml"), root).expect("config")
}

/// In a Threatspec project every `.txt` is read whole, as Threatspec's TextFileParser does:
/// lines that start with a tag are annotations, the rest is prose and says nothing.
#[test]
fn a_threatspec_project_reads_its_text_design_file() {
    let root = fixture("threatspec-design");
    let result = scan_dir(&root, &threatspec_config(&root), 1, &|| {}).expect("scan");
    let m = &result.model;
    let api = m.component("ledger_api").expect("declared in design.txt");
    assert_eq!(api.description, "Public REST endpoints of the ledger");
    assert_eq!(api.sources[0].path, "docs/design.txt");
    assert_eq!(api.sources[0].line, 8);
    assert!(m.threat("replay").is_some_and(|t| t.declared));
    assert_eq!(
        ids(&m.mitigations, |x| &x.id),
        [
            "ledger_api/credential_stuffing/lockout",
            "ledger_api/replay/idempotency_keys",
            "ledger_api/replay/nonce",
        ]
    );
    assert_eq!(
        ids(&m.flows, |x| &x.id),
        ["ledger_api/ledger_db/sql_over_tls"]
    );
    assert_eq!(ids(&m.exposures, |x| &x.id), ["ledger_db/tampering"]);
    // Prose is no annotation and no error, in the design file and in README.txt.
    let errors: Vec<&Diagnostic> = result
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        codes(&result.diagnostics)
            .into_iter()
            .filter(|c| !c.starts_with("TM1"))
            .collect::<Vec<_>>(),
        ["TM036 src/ledger.py:8", "TM036 src/ledger.py:13"]
    );
}

/// A `.txt` file is design text in any project (one public project keeps its model in one
/// without a `threatspec.yaml`); `[languages]` may map `txt` to a language or more extensions to
/// `text`, and `[scan] exclude` leaves them out.
#[test]
fn text_files_are_design_text_unless_configured_otherwise() {
    let root = fixture("threatspec-design");
    let plain = scan_dir(&root, &Config::default(), 1, &|| {}).expect("scan");
    assert!(plain.model.component("ledger_db").is_some());
    assert!(plain.model.threat("replay").is_some_and(|t| t.declared));
    let parse = |toml: &str| Config::parse(toml, Path::new("threatmark.toml")).expect("config");
    for config in [
        parse("[languages]\nextensions = { txt = \"python\" }\n"),
        parse("[scan]\nexclude = [\"**/*.txt\"]\n"),
    ] {
        let out = scan_dir(&root, &config, 1, &|| {}).expect("scan");
        assert!(out.model.component("ledger_db").is_none());
        assert!(out.model.threat("replay").is_some_and(|t| t.placeholder));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("model.design"),
        "Prose.\n@threat Replay (#replay)\n",
    )
    .expect("write");
    let config = parse("[languages]\nextensions = { design = \"text\" }\n");
    let out = scan_dir(dir.path(), &config, 1, &|| {}).expect("scan");
    assert!(out.model.threat("replay").is_some_and(|t| t.declared));
}

/// Looking for typos and near names is bounded by budgets, whatever the model: 20,000 declared
/// threats and 20,000 relations naming undeclared ids and near-miss names build in seconds.
#[test]
fn typo_and_near_name_searches_are_bounded() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("@threat Threat number {i} (#t{i})\n"));
    }
    for i in 0..20_000 {
        text.push_str(&format!(
            "@exposes #web to #undeclared_{i}_{}\n@exposes #web to threat number {i}x\n",
            "z".repeat(i % 40)
        ));
    }
    let (annotations, ds) = parse_text("big.txt", &text);
    assert!(ds.is_empty());
    let started = std::time::Instant::now();
    let (m, _) = model::build(
        Project::default(),
        &[FileAnnotations {
            path: "big.txt".into(),
            annotations,
        }],
    );
    let took = started.elapsed();
    assert_eq!(m.exposures.len(), 40_000);
    assert!(took.as_secs() < 20, "{took:?}");
}
