//! The annotation language through its public API: `annotation::parse_text` (every line of the
//! text is a comment line) and `model::build`.
//!
//! Most tests are tables. Bodies are rendered compactly so a row stays one readable line:
//! `Name (#id)` is a name with an explicit id, `Name ~#id` a name with the id derived from it
//! (Threatspec's slug rule), `#id` a bare reference, and ` | text` the free-text details.
//! Diagnostics are rendered `TM001@line:col`.

use threatmark::annotation::{Annotation, Body, EntityRef, parse_text};
use threatmark::diagnostic::{Diagnostic, Severity};
use threatmark::model::{self, FileAnnotations, Project, ThreatModel};

// ---------------------------------------------------------------------------------------------
// Helpers

fn parse(text: &str) -> (Vec<Annotation>, Vec<Diagnostic>) {
    parse_text("t.txt", text)
}

fn ent(r: &EntityRef) -> String {
    match &r.name {
        None => format!("#{}", r.id),
        Some(name) if r.explicit_id => format!("{name} (#{})", r.id),
        Some(name) => format!("{name} ~#{}", r.id),
    }
}

fn details(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(" | {d}")
    }
}

fn render(a: &Annotation) -> String {
    let tag = a.tag.as_str();
    match &a.body {
        Body::Declare { target, within, .. } => {
            let within = within.as_ref().map(|w| format!(" in {}", ent(w)));
            format!("{tag} {}{}", ent(target), within.unwrap_or_default())
        }
        Body::Boundary {
            target,
            within,
            contains,
        } => {
            let mut s = format!("boundary {}", ent(target));
            if let Some(w) = within {
                s.push_str(&format!(" in {}", ent(w)));
            }
            if !contains.is_empty() {
                let members: Vec<String> = contains.iter().map(ent).collect();
                s.push_str(&format!(" contains {}", members.join(", ")));
            }
            s
        }
        Body::Mitigates {
            component,
            threat,
            control,
        } => format!(
            "mitigates {} against {} with {}",
            ent(component),
            ent(threat),
            ent(control)
        ),
        Body::Exposes {
            component,
            threat,
            details: d,
        } => format!(
            "exposes {} to {}{}",
            ent(component),
            ent(threat),
            details(d)
        ),
        Body::Accepts {
            threat,
            component,
            details: d,
        } => format!(
            "accepts {} to {}{}",
            ent(threat),
            ent(component),
            details(d)
        ),
        Body::Transfers {
            threat,
            from,
            to,
            details: d,
        } => format!(
            "transfers {} from {} to {}{}",
            ent(threat),
            ent(from),
            ent(to),
            details(d)
        ),
        Body::Connects {
            source,
            target,
            bidirectional,
            details: d,
        } => format!(
            "connects {} {} {}{}",
            ent(source),
            if *bidirectional { "with" } else { "to" },
            ent(target),
            details(d)
        ),
        Body::Review {
            component,
            details: d,
        } => format!("review {}{}", ent(component), details(d)),
        Body::Tests { control, component } => {
            format!("tests {} for {}", ent(control), ent(component))
        }
        // GuardLink's dialect (tests/guardlink.rs).
        other => format!("{tag} {other:?}"),
    }
}

fn diag(d: &Diagnostic) -> String {
    let (line, col) = d.location.as_ref().map_or((0, 0), |l| (l.line, l.column));
    format!("{}@{line}:{col}", d.code)
}

fn diags(ds: &[Diagnostic]) -> Vec<String> {
    ds.iter().map(diag).collect()
}

/// Exactly one annotation and no diagnostic at all.
fn one(text: &str) -> Annotation {
    let (mut anns, ds) = parse(text);
    assert!(
        ds.is_empty(),
        "{text:?}: unexpected diagnostics {:?}",
        diags(&ds)
    );
    assert_eq!(
        anns.len(),
        1,
        "{text:?}: {:?}",
        anns.iter().map(render).collect::<Vec<_>>()
    );
    anns.remove(0)
}

fn attrs_json(a: &Annotation) -> String {
    serde_json::to_string(&a.attributes).expect("attributes serialise")
}

fn build_files(files: Files) -> (ThreatModel, Vec<Diagnostic>) {
    let mut all = Vec::new();
    for (path, text) in files {
        let (annotations, ds) = parse_text(path, text);
        assert!(
            ds.iter().all(|d| d.severity == Severity::Note),
            "{path}: parse diagnostics {:?}",
            diags(&ds)
        );
        all.push(FileAnnotations {
            path: path.to_string(),
            annotations,
        });
    }
    model::build(Project::default(), &all)
}

/// Several files: `(path, text)`.
type Files<'a> = &'a [(&'a str, &'a str)];

fn build(text: &str) -> (ThreatModel, Vec<Diagnostic>) {
    build_files(&[("m.txt", text)])
}

fn component<'m>(m: &'m ThreatModel, id: &str) -> &'m model::Component {
    m.component(id)
        .unwrap_or_else(|| panic!("no component {id}: {:?}", ids(&m.components)))
}

fn ids<X>(items: &[model::Entity<X>]) -> Vec<&str> {
    items.iter().map(|e| e.id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Tags and forms

#[test]
fn every_tag_and_form() {
    #[rustfmt::skip]
    let table: &[(&str, &str)] = &[
        // Declarations: name, explicit id, derived id, bare reference.
        ("@component Shop:API:Checkout", "component Shop:API:Checkout ~#shop_api_checkout"),
        ("@component Shop:API (#api)", "component Shop:API (#api)"),
        ("@component Shop:API (#api) in #dmz", "component Shop:API (#api) in #dmz"),
        ("@component Log in page", "component Log in page ~#log_in_page"),
        ("@component Sign in #now later", "component Sign in #now later ~#sign_in_now_later"),
        ("@component #api in #dmz", "component #api in #dmz"),
        ("@threat SQL injection", "threat SQL injection ~#sql_injection"),
        ("@threat SQL injection (#sqli)", "threat SQL injection (#sqli)"),
        ("@threat #sqli", "threat #sqli"),
        ("@control Prepared statements (#prepared)", "control Prepared statements (#prepared)"),
        ("@actor Outsider (#outsider)", "actor Outsider (#outsider)"),
        ("@actor Malicious insider", "actor Malicious insider ~#malicious_insider"),
        // Actors are placed in boundaries like components.
        ("@actor Fraudster in #cloud", "actor Fraudster ~#fraudster in #cloud"),
        ("@actor Fraudster (#fraudster) in #internet", "actor Fraudster (#fraudster) in #internet"),
        ("@actor #fraudster in #internet", "actor #fraudster in #internet"),
        ("@actor Log in page", "actor Log in page ~#log_in_page"),
        // `in` is only a placement on components and actors.
        ("@threat Log in #x", "threat Log in #x ~#log_in_x"),
        ("@control Log in #x", "control Log in #x ~#log_in_x"),
        // Boundaries.
        ("@boundary DMZ (#dmz)", "boundary DMZ (#dmz)"),
        ("@boundary Internal (#internal) in #dc", "boundary Internal (#internal) in #dc"),
        ("@boundary #dmz contains #api, #web", "boundary #dmz contains #api, #web"),
        ("@boundary DMZ (#dmz) in #dc contains #api,#web", "boundary DMZ (#dmz) in #dc contains #api, #web"),
        ("@boundary Cloud contains Web App", "boundary Cloud ~#cloud contains Web App ~#web_app"),
        // Relations, canonical and singular spellings.
        ("@mitigates Web against XSS with Escaping", "mitigates Web ~#web against XSS ~#xss with Escaping ~#escaping"),
        ("@mitigate #web against #xss with #escaping", "mitigates #web against #xss with #escaping"),
        ("@exposes #web to #xss with raw HTML", "exposes #web to #xss | raw HTML"),
        ("@expose #web to #xss with raw HTML", "exposes #web to #xss | raw HTML"),
        ("@exposes #web to #xss", "exposes #web to #xss"),
        ("@accepts #dos to #web with cheap to restart", "accepts #dos to #web | cheap to restart"),
        ("@accept #dos to #web", "accepts #dos to #web"),
        ("@transfers #xss from #web to Browser with CSP", "transfers #xss from #web to Browser ~#browser | CSP"),
        ("@transfer #xss from #web to #browser", "transfers #xss from #web to #browser"),
        ("@connects Browser to #web with HTTPS", "connects Browser ~#browser to #web | HTTPS"),
        ("@connect #web to #db", "connects #web to #db"),
        ("@connects #web with #db with SQL", "connects #web with #db | SQL"),
        ("@connects #web with #db", "connects #web with #db"),
        ("@review #web Is the cookie HttpOnly?", "review #web | Is the cookie HttpOnly?"),
        ("@reviews Web:App check it", "review Web:App ~#web_app | check it"),
        ("@review Payment gateway (#gw) check it", "review Payment gateway (#gw) | check it"),
        ("@review #web", "review #web"),
        ("@tests #escaping for #web", "tests #escaping for #web"),
        ("@test Escaping (#escaping) for Web", "tests Escaping (#escaping) for Web ~#web"),
        // Keywords are case-insensitive, as in Threatspec (`re.I`).
        ("@mitigates W AGAINST T With K", "mitigates W ~#w against T ~#t with K ~#k"),
        ("@connects A To B WITH x", "connects A ~#a to B ~#b | x"),
        ("@tests K FOR C", "tests K ~#k for C ~#c"),
        ("@transfers T FROM A TO B", "transfers T ~#t from A ~#a to B ~#b"),
        // The first keyword splits, as Threatspec's lazy regexes do (its verified vectors).
        ("@connects A with B to C with D", "connects A ~#a with B to C ~#b_to_c | D"),
        ("@connects A to B with C with D", "connects A ~#a to B ~#b | C with D"),
        ("@exposes A to B to C with D", "exposes A ~#a to B to C ~#b_to_c | D"),
        ("@accepts data to leak to Web with x", "accepts data ~#data to leak to Web ~#leak_to_web | x"),
        ("@mitigates A against B with C with D", "mitigates A ~#a against B ~#b with C with D ~#c_with_d"),
        ("@transfers T from A from B to C to D with E", "transfers T ~#t from A from B ~#a_from_b to C to D ~#c_to_d | E"),
        ("@tests C for A for B", "tests C ~#c for A for B ~#a_for_b"),
        // `with` before the structural keyword belongs to the name (Threatspec: `.*? to .*? with`).
        ("@exposes A with B to C with D", "exposes A with B ~#a_with_b to C ~#c | D"),
        ("@accepts Risk with x to Comp with y", "accepts Risk with x ~#risk_with_x to Comp ~#comp | y"),
        ("@transfers Data with PII from A to B with X", "transfers Data with PII ~#data_with_pii from A ~#a to B ~#b | X"),
        // Keywords inside parentheses do not split.
        ("@mitigates Api (with v2) against T with K", "mitigates Api (#with_v2) against T ~#t with K ~#k"),
        // Separators may be tabs or several spaces; names are trimmed, details too.
        ("@mitigates\tA  against   B\twith  C", "mitigates A ~#a against B ~#b with C ~#c"),
        ("   @threat   Spaced   out  ", "threat Spaced   out ~#spaced_out"),
        // `@review` takes the first word as the component (Threatspec), or a `#ref` before
        // text that contains `(#42)`.
        ("@review Web App: check", "review Web ~#web | App: check"),
        ("@review #auth check the fix (#42) soon", "review #auth | check the fix (#42) soon"),
        // Threatspec's parse_name vectors.
        ("@threat SQL Injection (sqli)", "threat SQL Injection (#sqli)"),
        ("@threat SQL Injection (#SQLi)", "threat SQL Injection (#SQLi)"),
        ("@threat Cross-site Request Forgery", "threat Cross-site Request Forgery ~#crosssite_request_forgery"),
        ("@component MyAPI:/", "component MyAPI:/ ~#myapi_root"),
        ("@component /", "component / ~#root"),
        ("@component MyApp:Users:Database (MyApp:Product:Database)", "component MyApp:Users:Database (#myapp_product_database)"),
        ("@component MyService:Auth:#server", "component MyService:Auth:#server ~#myservice_auth_server"),
        ("@threat Foo (#f) trailing", "threat Foo (#f)"),
        ("@threat Foo (a) b (#x)", "threat Foo (#a)"),
        ("@threat Café Ünïcode", "threat Café Ünïcode ~#caf_n_code"),
        ("@threat __x__", "threat __x__ ~#x"),
        ("@threat a--b", "threat a--b ~#ab"),
        ("@threat a - b", "threat a - b ~#a_b"),
        ("@threat a.b/c", "threat a.b/c ~#a_b_c"),
        ("@threat Foo ()", "threat Foo ~#foo"),
        ("@threat Foo (  #x  )", "threat Foo (#x)"),
        // A name without a single slug character still gets a stable id.
        ("@threat 日本", "threat 日本 ~#id_a6d3ce91"),
        // Our ids may hold `-`, `.` and `:`.
        ("@threat SQLi (#owasp:a03-2021.x)", "threat SQLi (#owasp:a03-2021.x)"),
        ("@threat #owasp:a03", "threat #owasp:a03"),
        // Brackets without `key: value` are part of the name.
        ("@threat parse[] overflow", "threat parse[] overflow ~#parse_overflow"),
        ("@threat X [noval]", "threat X [noval] ~#x_noval"),
    ];
    for (input, expected) in table {
        let a = one(input);
        assert_eq!(&render(&a), expected, "{input:?}");
    }
}

#[test]
fn source_is_the_tag_to_the_end_of_its_line() {
    let (anns, _) =
        parse("prose\n  @threat SQLi (#sqli): bad\n\t@mitigates #a against #sqli with #k  \n");
    let got: Vec<(u32, u32, &str)> = anns
        .iter()
        .map(|a| (a.source.line, a.source.column, a.source.annotation.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, 3, "@threat SQLi (#sqli): bad"),
            (3, 2, "@mitigates #a against #sqli with #k"),
        ]
    );
    assert!(anns.iter().all(|a| a.source.path == "t.txt"));
}

#[test]
fn several_annotations_in_one_comment_and_prose_between() {
    let (anns, ds) = parse(
        "Handles checkout.\n@component Shop:API (#api)\nSome prose.\n@threat SQLi (#sqli)\n\n@mitigates #api against #sqli with #prepared\nmore prose",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let got: Vec<String> = anns.iter().map(render).collect();
    assert_eq!(
        got,
        [
            "component Shop:API (#api)",
            "threat SQLi (#sqli)",
            "mitigates #api against #sqli with #prepared",
        ]
    );
    assert!(anns.iter().all(|a| a.description.is_empty()));
}

#[test]
fn crlf_and_lone_cr_lines() {
    let (anns, ds) = parse("@threat A (#a)\r\n@threat B (#b): text\r\ngoes on\r@threat C (#c)");
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let got: Vec<(String, u32, &str)> = anns
        .iter()
        .map(|a| (render(a), a.source.line, a.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("threat A (#a)".to_string(), 1, ""),
            ("threat B (#b)".to_string(), 2, "text\ngoes on"),
            ("threat C (#c)".to_string(), 4, ""),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Attributes

#[test]
fn attributes_and_their_validation() {
    #[rustfmt::skip]
    let table: &[(&str, &str)] = &[
        ("@threat T [stride: S]", r#"{"stride":["spoofing"]}"#),
        ("@threat T [stride: T, I]", r#"{"stride":["tampering","information_disclosure"]}"#),
        ("@threat T [stride: STRIDE]", r#"{"stride":["spoofing","tampering","repudiation","information_disclosure","denial_of_service","elevation_of_privilege"]}"#),
        ("@threat T [stride: ED]", r#"{"stride":["denial_of_service","elevation_of_privilege"]}"#),
        ("@threat T [stride: Denial of service / spoofing, EoP]", r#"{"stride":["spoofing","denial_of_service","elevation_of_privilege"]}"#),
        ("@threat T [category: repudiation]", r#"{"stride":["repudiation"]}"#),
        ("@threat T [severity: high]", r#"{"severity":"high"}"#),
        ("@threat T [severity: Very Low]", r#"{"severity":"very-low"}"#),
        ("@threat T [priority: 5]", r#"{"severity":"critical"}"#),
        ("@threat T [severity: info]", r#"{"severity":"very-low"}"#),
        ("@threat T [likelihood: likely]", r#"{"likelihood":"likely"}"#),
        ("@threat T [likelihood: low]", r#"{"likelihood":"unlikely"}"#),
        ("@threat T [probability: 1]", r#"{"likelihood":"rare"}"#),
        ("@threat T [likelihood: almost certain]", r#"{"likelihood":"certain"}"#),
        ("@threat T [impact: severe]", r#"{"impact":"severe"}"#),
        ("@threat T [impact: critical]", r#"{"impact":"severe"}"#),
        ("@threat T [impact: 2]", r#"{"impact":"minor"}"#),
        ("@threat T [impact: HIGH]", r#"{"impact":"major"}"#),
        ("@threat T [owner: team-web]", r#"{"owner":"team-web"}"#),
        ("@threat T [owners: a, b]", r#"{"owner":"a, b"}"#),
        ("@threat T [status: mitigated]", r#"{"status":"mitigated"}"#),
        ("@threat T [status: exposed]", r#"{"status":"open"}"#),
        ("@threat T [expires: 2024-02-29]", r#"{"expires":"2024-02-29"}"#),
        ("@accepts #t to #c [expiry: 2030-01-31]", r#"{"expires":"2030-01-31"}"#),
        ("@accepts #t to #c with x [until: 2030-12-31]", r#"{"expires":"2030-12-31"}"#),
        ("@threat T [ticket: SEC-42]", r#"{"ticket":"SEC-42"}"#),
        ("@threat T [issue: #12]", r##"{"ticket":"#12"}"##),
        ("@threat T [cwe: 89, CWE-79, cwe 20, 89]", r#"{"cwe":["CWE-20","CWE-79","CWE-89"]}"#),
        ("@threat T [cwes: CWE-79]", r#"{"cwe":["CWE-79"]}"#),
        ("@threat T [capec: 66, CAPEC-7]", r#"{"capec":["CAPEC-7","CAPEC-66"]}"#),
        ("@threat T [actor: #outsider]", r#"{"actor":"outsider"}"#),
        ("@threat T [actor: outsider]", r#"{"actor":"outsider"}"#),
        ("@component C [type: store]", r#"{"type":"store"}"#),
        ("@component C [kind: database]", r#"{"type":"store"}"#),
        ("@component C [type: external entity]", r#"{"type":"external"}"#),
        ("@component C [type: service]", r#"{"type":"process"}"#),
        ("@actor A [type: external]", r#"{"type":"external"}"#),
        ("@component #c [type: store]", r#"{"type":"store"}"#),
        // Unknown keys are custom fields; keys are case-insensitive and `-` becomes `_`.
        ("@threat T [team: payments]", r#"{"custom":{"team":"payments"}}"#),
        ("@threat T [Data-Class: PII]", r#"{"custom":{"data_class":"PII"}}"#),
        ("@threat T [Severity: High]", r#"{"severity":"high"}"#),
        // Several entries, empty entries, any spacing.
        ("@threat T [stride:T;severity:low;;  owner : bob ;]", r#"{"stride":["tampering"],"severity":"low","owner":"bob"}"#),
        ("@threat T []", r#"{}"#),
        // On every tag, before a description, after an explicit id.
        ("@threat SQLi (#sqli) [severity: high]: desc", r#"{"severity":"high"}"#),
        ("@mitigates #a against #t with #k [status: mitigated]", r#"{"status":"mitigated"}"#),
        ("@exposes #a to #t with raw HTML [severity: low]", r#"{"severity":"low"}"#),
        ("@connects #a to #b with TLS [data: PII]", r#"{"custom":{"data":"PII"}}"#),
        ("@review #a check [owner: bob]", r#"{"owner":"bob"}"#),
        ("@tests #k for #a [ticket: QA-1]", r#"{"ticket":"QA-1"}"#),
        ("@boundary DMZ (#dmz) [owner: net]", r#"{"owner":"net"}"#),
        ("@actor Insider (#insider) [likelihood: rare]", r#"{"likelihood":"rare"}"#),
    ];
    for (input, expected) in table {
        let a = one(input);
        assert_eq!(attrs_json(&a), *expected, "{input:?}");
    }
    // The attribute block is not part of the last name or of the details.
    assert_eq!(
        render(&one("@exposes #a to #t with raw HTML [severity: low]")),
        "exposes #a to #t | raw HTML"
    );
    assert_eq!(
        render(&one("@threat SQLi (#sqli) [severity: high]: desc")),
        "threat SQLi (#sqli)"
    );
}

#[test]
fn attribute_errors() {
    // (input, diagnostics, what the attributes still hold)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &str)] = &[
        ("@threat T [stride: X]", &["TM002@1:12"], "{}"),
        ("@threat T [stride: S, spoof, nope]", &["TM002@1:12"], "{}"),
        ("@threat T [severity: huge]", &["TM002@1:12"], "{}"),
        ("@threat T [likelihood: 6]", &["TM002@1:12"], "{}"),
        ("@threat T [impact: meh]", &["TM002@1:12"], "{}"),
        ("@threat T [status: done]", &["TM002@1:12"], "{}"),
        ("@component C [type: robot]", &["TM002@1:15"], "{}"),
        ("@threat T [expires: 2023-02-29]", &["TM002@1:12"], "{}"),
        ("@threat T [expires: tomorrow]", &["TM002@1:12"], "{}"),
        ("@threat T [cwe: XSS]", &["TM002@1:12"], "{}"),
        ("@threat T [capec: CAPEC-x]", &["TM002@1:12"], "{}"),
        ("@threat T [actor: two words]", &["TM002@1:12"], "{}"),
        // Digits are ranks: only the ordered scales (likelihood, impact, severity) take them.
        ("@threat T [status: 3]", &["TM002@1:12"], "{}"),
        ("@component C [type: 2]", &["TM002@1:15"], "{}"),
        ("@component C [kind: 1]", &["TM002@1:15"], "{}"),
        ("@threat T [stride: ,]", &["TM002@1:12"], "{}"),
        // One bad entry does not spoil the others.
        ("@threat T [severity: high; impact: nope; owner: bob]", &["TM002@1:28"], r#"{"severity":"high","owner":"bob"}"#),
        // Malformed blocks (TM007).
        ("@threat T [severity: high; severity: low]", &["TM007@1:28"], r#"{"severity":"high"}"#),
        // An alias or another spelling is the same key.
        ("@threat T [severity: high; Priority: low]", &["TM007@1:28"], r#"{"severity":"high"}"#),
        ("@threat T [data-class: a; Data_Class: b]", &["TM007@1:27"], r#"{"custom":{"data_class":"a"}}"#),
        ("@threat T [severity: high; oops]", &["TM007@1:28"], r#"{"severity":"high"}"#),
        ("@threat T [: v]", &["TM007@1:12"], "{}"),
        ("@threat T [severity: high", &["TM007@1:11"], r#"{"severity":"high"}"#),
        ("  @threat T [owner: bob; x", &["TM007@1:13", "TM007@1:26"], r#"{"owner":"bob"}"#),
        // Columns count characters, not bytes.
        ("@threat Café [severity: nope]", &["TM002@1:15"], "{}"),
    ];
    for (input, expected, attrs) in table {
        let (anns, ds) = parse(input);
        assert_eq!(diags(&ds), *expected, "{input:?}");
        assert_eq!(anns.len(), 1, "{input:?}: the annotation is kept");
        assert_eq!(attrs_json(&anns[0]), *attrs, "{input:?}");
    }
    // Warnings (TM002 at warning severity): the attribute is dropped, the annotation is fine.
    // One rule for empty values, whatever the key: ignored, with a warning.
    // `type` only applies to components and actors.
    #[rustfmt::skip]
    let warnings: &[(&str, &[&str], &str)] = &[
        ("@threat T [owner: ]", &["TM002@1:12"], "{}"),
        ("@threat T [severity: ]", &["TM002@1:12"], "{}"),
        ("@threat T [cwe: ]", &["TM002@1:12"], "{}"),
        ("@threat T [team: ; owner: bob]", &["TM002@1:12"], r#"{"owner":"bob"}"#),
        ("@threat T [type: process]", &["TM002@1:12"], "{}"),
        ("@threat T [kind: store; impact: 2]", &["TM002@1:12"], r#"{"impact":"minor"}"#),
        ("@control K [type: process]", &["TM002@1:13"], "{}"),
        ("@boundary B [type: process]", &["TM002@1:14"], "{}"),
        ("@mitigates #a against #t with #k [type: process]", &["TM002@1:35"], "{}"),
        ("@connects #a to #b with TLS [type: store]", &["TM002@1:30"], "{}"),
        ("@threat X (#x):\n  type: process", &["TM002@2:3"], "{}"),
        ("@threat X (#x):\n  owner:\n  impact: high", &["TM002@2:3"], r#"{"impact":"major"}"#),
    ];
    for (input, expected, attrs) in warnings {
        let (anns, ds) = parse(input);
        assert_eq!(diags(&ds), *expected, "{input:?}");
        assert!(
            ds.iter().all(|d| d.severity == Severity::Warning),
            "{input:?}"
        );
        assert_eq!(anns.len(), 1, "{input:?}: the annotation is kept");
        assert_eq!(attrs_json(&anns[0]), *attrs, "{input:?}");
    }
    let (_, ds) = parse("@threat T [owner: ]");
    assert_eq!(ds[0].message, "attribute `owner` has no value");
    let (_, ds) = parse("@threat T [type: process]");
    assert_eq!(
        ds[0].message,
        "attribute `type` only applies to components and actors, not to `@threat`"
    );
    let (_, ds) = parse("@threat T [status: 3]");
    assert_eq!(
        ds[0].label.as_deref(),
        Some("expected open | mitigated | accepted | transferred")
    );

    // The messages name the key and the problem.
    let (_, ds) = parse("@threat T [severity: huge]");
    assert_eq!(
        ds[0].message,
        "invalid value `huge` for attribute `severity`"
    );
    assert_eq!(ds[0].severity, Severity::Error);
    let (_, ds) = parse("@threat T [severity: high; severity: low]");
    assert_eq!(ds[0].message, "attribute `severity` is given twice");
    let (anns, ds) = parse("@threat T [severity: high\n");
    assert_eq!(ds[0].message, "unterminated attribute block");
    assert_eq!(render(&anns[0]), "threat T ~#t");
}

// ---------------------------------------------------------------------------------------------
// Descriptions: inline, continued, YAML bodies

#[test]
fn descriptions() {
    // (comment text, rendered first annotation, its description)
    #[rustfmt::skip]
    let table: &[(&str, &str, &str)] = &[
        ("@threat SQLi (#sqli): user input reaches SQL", "threat SQLi (#sqli)", "user input reaches SQL"),
        ("@component Shop:API (#api): the API", "component Shop:API (#api)", "the API"),
        ("@component Shop:API: the API", "component Shop:API ~#shop_api", "the API"),
        ("@component https://x.example/api", "component https://x.example/api ~#https_x_example_api", ""),
        ("@threat A:b: c", "threat A:b ~#a_b", "c"),
        ("@threat A (#a): b: c", "threat A (#a)", "b: c"),
        // Continues on following lines up to a blank line or an `@word` line.
        ("@threat A (#a): one\n  two\nthree\n\nnot this", "threat A (#a)", "one\ntwo\nthree"),
        ("@threat A (#a): one\ntwo\n@param x", "threat A (#a)", "one\ntwo"),
        ("@threat A (#a): one\nmail me at a@b.c", "threat A (#a)", "one\nmail me at a@b.c"),
        // Without `: text` the next lines are prose.
        ("@threat A (#a)\nprose", "threat A (#a)", ""),
        // A `:` line starts a Threatspec YAML body.
        ("@threat A (#a):\n  description: from YAML", "threat A (#a)", "from YAML"),
        ("@threat A (#a):\n  description: |\n    line one\n    line two\n  impact: high", "threat A (#a)", "line one\nline two"),
        ("@threat A (#a):\ndescription: not indented", "threat A (#a)", "not indented"),
        ("@threat A (#a):\n  description: body\n\nprose", "threat A (#a)", "body"),
        ("@threat A (#a):\n  description: body\n@threat B (#b)", "threat A (#a)", "body"),
        // A plain paragraph after the colon is a description.
        ("@threat A (#a):\n  just some words\n  and more", "threat A (#a)", "just some words and more"),
        // An empty body (the comment ends, or a blank line follows): Threatspec drops the
        // annotation silently; we keep it.
        ("@threat A (#a):", "threat A (#a)", ""),
        ("@threat A (#a):\n\nprose", "threat A (#a)", ""),
        // Relations take descriptions too; the description describes the relation.
        ("@mitigates #a against #t with #k: escaping everywhere", "mitigates #a against #t with #k", "escaping everywhere"),
        ("@exposes #a to #t: nobody checks", "exposes #a to #t", "nobody checks"),
        ("@exposes #a to #t: the attacker can connect with ease", "exposes #a to #t", "the attacker can connect with ease"),
        ("@tests #k for #a: unit tests", "tests #k for #a", "unit tests"),
        ("@mitigates #a against #t with #k:\n  description: d\n  ticket: T-1", "mitigates #a against #t with #k", "d"),
        // In free-text details a `: ` is part of the details, as in Threatspec.
        ("@reviews #web AGAIN: plural form also works", "review #web | AGAIN: plural form also works", ""),
        ("@exposes #a to #t with X: not a description", "exposes #a to #t | X: not a description", ""),
        ("@accepts #t to #a with risk: low", "accepts #t to #a | risk: low", ""),
        ("@transfers #t from #a to #b with note: x", "transfers #t from #a to #b | note: x", ""),
        ("@connects #a to #b with TLS: v1.3 only", "connects #a to #b | TLS: v1.3 only", ""),
        // ... except right after an attribute block, and a line-ending `:` (a YAML body).
        ("@exposes #a to #t with X [severity: low]: why", "exposes #a to #t | X", "why"),
        ("@reviews #web Why: is this:\n  description: because", "review #web | Why: is this", "because"),
        ("@review #web:  check it", "review #web", "check it"),
    ];
    for (input, rendered, description) in table {
        let (anns, ds) = parse(input);
        assert!(ds.is_empty(), "{input:?}: {:?}", diags(&ds));
        let first = anns
            .first()
            .unwrap_or_else(|| panic!("{input:?}: no annotation"));
        assert_eq!(&render(first), rendered, "{input:?}");
        assert_eq!(first.description, *description, "{input:?}");
    }
}

#[test]
fn yaml_bodies() {
    // Typed keys are validated like attributes, unknown keys are custom, `custom:` is flattened.
    let a = one(
        "@threat XSS (#xss):\n  description: d\n  impact: high\n  likelihood: 3\n  cwe: [79, CWE-80]\n  expires: 2030-01-01\n  stride: T,I\n  team: web\n  custom:\n    ticket: SEC-7\n    page: login",
    );
    assert_eq!(a.description, "d");
    assert_eq!(
        attrs_json(&a),
        r#"{"stride":["tampering","information_disclosure"],"likelihood":"possible","impact":"major","expires":"2030-01-01","ticket":"SEC-7","cwe":["CWE-79","CWE-80"],"custom":{"page":"login","team":"web"}}"#
    );
    // Numbers, booleans and lists become text.
    let a = one("@control K (#k):\n  reviewed: true\n  version: 2\n  tags: [a, b]");
    assert_eq!(
        attrs_json(&a),
        r#"{"custom":{"reviewed":"true","tags":"a, b","version":"2"}}"#
    );
    // Keys are matched in any case, as in `[...]`, nested `custom:` keys too.
    let a = one(
        "@threat X (#x):\n  Description: d\n  Impact: High\n  CWE: 79\n  Team: web\n  Custom:\n    Ticket: SEC-7",
    );
    assert_eq!(a.description, "d");
    assert_eq!(
        attrs_json(&a),
        r#"{"impact":"major","ticket":"SEC-7","cwe":["CWE-79"],"custom":{"team":"web"}}"#
    );
    // A paragraph with `: ` in it is prose, not a mapping with a phrase as its key.
    let a = one("@threat Replay (#replay):\n  Attackers can do this: resend a captured request.");
    assert_eq!(
        a.description,
        "Attackers can do this: resend a captured request."
    );
    assert!(a.attributes.is_empty());
    let a = one(
        "@threat Replay (#replay):\n  Attackers can do this: resend\n    a captured request\n  impact: high",
    );
    assert_eq!(
        a.description, "Attackers can do this: resend\na captured request\nimpact: high",
        "the lines, trimmed, as for continuation lines"
    );
    assert!(a.attributes.is_empty(), "{}", attrs_json(&a));
    let a = one("@threat Replay (#replay):\n  impact: high\n  Attackers can do this: resend it");
    assert_eq!(
        a.description,
        "impact: high\nAttackers can do this: resend it"
    );
    assert!(a.attributes.is_empty(), "{}", attrs_json(&a));
    // A key without white space is still a key.
    let a = one("@threat Replay (#replay):\n  Note: attackers resend requests");
    assert_eq!(
        attrs_json(&a),
        r#"{"custom":{"note":"attackers resend requests"}}"#
    );
    // A YAML body combines with an attribute block on the tag line.
    let a = one("@threat X (#x) [severity: low]:\n  owner: bob");
    assert_eq!(attrs_json(&a), r#"{"severity":"low","owner":"bob"}"#);

    // (body, diagnostics, description kept)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &str)] = &[
        ("@threat X (#x):\n  description: [unclosed", &["TM012@2:1"], "description: [unclosed"),
        ("@threat X (#x):\n  - a\n  - b", &["TM012@2:1"], "- a\n- b"),
        ("@threat X (#x):\n  42", &["TM012@2:1"], "42"),
        ("prose\n@threat X (#x):\n    a: b\n   c: [", &["TM012@3:1"], "a: b\nc: ["),
        // Typed keys in the body are validated; the error points at the key's line.
        ("@threat X (#x):\n  description: ok\n  severity: bogus", &["TM002@3:3"], "ok"),
        ("@threat X (#x):\n  custom:\n    impact: nope", &["TM002@3:5"], ""),
        // A key given twice in two cases keeps its first value, as in `[...]`.
        ("@threat X (#x):\n  impact: high\n  Impact: low", &["TM007@3:3"], ""),
        ("@threat X (#x):\n  owner: a\n  owners: b", &["TM007@3:3"], ""),
        ("@threat X (#x):\n  Description: one\n  description: two", &["TM007@3:3"], "one"),
        ("@threat X (#x):\n  impact: high\n  custom:\n    IMPACT: low", &["TM007@4:5"], ""),
    ];
    for (input, expected, description) in table {
        let (anns, ds) = parse(input);
        assert_eq!(diags(&ds), *expected, "{input:?}");
        assert_eq!(anns.len(), 1, "{input:?}: the annotation is kept");
        assert_eq!(anns[0].description, *description, "{input:?}");
    }
    let (_, ds) = parse("@threat X (#x):\n  - a");
    assert_eq!(ds[0].severity, Severity::Warning);
    assert_eq!(
        ds[0].message,
        "the YAML body of this annotation cannot be read"
    );
}

// ---------------------------------------------------------------------------------------------
// @skip, near misses, case

#[test]
fn skip() {
    // (comment text, annotations rendered, diagnostics)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &[&str])] = &[
        ("@skip @mitigates A against B with C", &[], &[]),
        ("@skip @mitigtes A against B with C", &[], &[]),
        ("  @skip  @threats are listed elsewhere", &[], &[]),
        // An `@skip` on the line before does not silence a note.
        ("@skip\n@threats are listed elsewhere", &[], &["TM005@2:1"]),
        ("@skip: not ready yet @threat X", &[], &[]),
        // A `@skip` line only disables itself: like Threatspec (which has no `@skip`), the
        // next line is still read.
        ("@skip\n@threat X (#x)", &["threat X (#x)"], &[]),
        // It ends a description like any `@word` line.
        ("@threat X (#x): one\n@skip two\nthree", &["threat X (#x)"], &[]),
    ];
    for (input, rendered, expected) in table {
        let (anns, ds) = parse(input);
        let got: Vec<String> = anns.iter().map(render).collect();
        assert_eq!(got, *rendered, "{input:?}");
        assert_eq!(diags(&ds), *expected, "{input:?}");
    }
    let (anns, _) = parse("@threat X (#x): one\n@skip two\nthree");
    assert_eq!(anns[0].description, "one");
}

#[test]
fn near_miss_notes() {
    // (line, diagnostics, help contains)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &str)] = &[
        ("@mitigtes A against B with C", &["TM005@1:1"], "did you mean `@mitigates`?"),
        // The help says exactly where `@skip` goes: in front of the tag, on the same line.
        ("@mitigtes A against B with C", &["TM005@1:1"], "write `@skip` in front of the tag on the same line: `@skip @mitigtes`"),
        ("@threats X", &["TM005@1:1"], "did you mean `@threat`?"),
        ("  @compnent X", &["TM005@1:3"], "did you mean `@component`?"),
        ("@reviewer bob", &["TM005@1:1"], "did you mean `@review`?"),
        ("@boundry DMZ", &["TM005@1:1"], "did you mean `@boundary`?"),
        ("@Threat X", &["TM005@1:1"], "tags are lower case: write `@threat`"),
        ("@MITIGATES A against B with C", &["TM005@1:1"], "tags are lower case: write `@mitigates`"),
        ("@Mitigates Shop:API against Uppercase Tag with ignored", &["TM005@1:1"], "tags are lower case"),
        ("@threat: X", &["TM005@1:1"], "put a space after `@threat`"),
        ("@tests.", &["TM005@1:1"], "put a space after `@tests`"),
        // Doc-comment prose and words that merely start like a tag: nothing at all.
        ("@param x the input", &[], ""),
        ("@returns a float", &[], ""),
        ("@return x", &[], ""),
        ("@author someone", &[], ""),
        ("@see docs", &[], ""),
        ("@todo later", &[], ""),
        ("@deprecated", &[], ""),
        ("@ts-ignore", &[], ""),
        ("@connection pool size", &[], ""),
        ("@controller", &[], ""),
        ("@testing", &[], ""),
        ("@tested", &[], ""),
        ("@componentDidMount", &[], ""),
        ("@threatmodel", &[], ""),
        ("@exposed", &[], ""),
        ("@Component", &["TM005@1:1"], "tags are lower case"),
        ("@x", &[], ""),
        ("@", &[], ""),
        ("@@threat X", &[], ""),
        // Not at the start of the comment text: not a tag (as in Threatspec).
        ("see @mitigates in the docs", &[], ""),
        ("* @mitigates A against B with C", &[], ""),
        ("- @threat X", &[], ""),
    ];
    for (input, expected, help) in table {
        let (anns, ds) = parse(input);
        assert!(
            anns.is_empty(),
            "{input:?}: {:?}",
            anns.iter().map(render).collect::<Vec<_>>()
        );
        assert_eq!(diags(&ds), *expected, "{input:?}");
        if let Some(d) = ds.first() {
            assert_eq!(d.severity, Severity::Note, "{input:?}");
            let h = d.help.as_deref().unwrap_or_default();
            assert!(h.contains(help), "{input:?}: help {h:?}");
        }
    }
}

#[test]
fn case_sensitivity() {
    // Tags are case-sensitive (Threatspec's `startswith`), keywords are not (`re.I`), explicit
    // ids keep their case and derived ids are lower case.
    let (anns, _) = parse("@Mitigates A against B with C\n@THREAT X\n@Tests K for C");
    assert!(anns.is_empty());
    let a = one("@mitigates Web AGAINST SQLi (#SQLi) wItH Prepared");
    assert_eq!(
        render(&a),
        "mitigates Web ~#web against SQLi (#SQLi) with Prepared ~#prepared"
    );
    let a = one("@connects A WITH B With x");
    assert_eq!(render(&a), "connects A ~#a with B ~#b | x");
    // `#SQLi` and `#sqli` are different ids.
    let (m, ds) = build(
        "@threat SQL injection (#sqli)\n@component W (#w)\n@control K (#k)\n@mitigates #w against #SQLi with #k",
    );
    assert_eq!(diags(&ds), ["TM003@4:23"]);
    assert!(
        ds[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("did you mean `#sqli`?")
    );
    assert!(m.mitigations.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Error diagnostics of the parser

#[test]
fn parser_error_diagnostics() {
    // (comment text, diagnostics, annotations kept)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], usize)] = &[
        // TM001: a relation without its keyword; the whole line is skipped.
        ("@mitigates A with C", &["TM001@1:1"], 0),
        ("@mitigates A against B", &["TM001@1:1"], 0),
        ("@mitigates A", &["TM001@1:1"], 0),
        ("@exposes A with D", &["TM001@1:1"], 0),
        ("@accepts T with D", &["TM001@1:1"], 0),
        ("@transfers T to B", &["TM001@1:1"], 0),
        ("@transfers T from A", &["TM001@1:1"], 0),
        ("@connects A and B", &["TM001@1:1"], 0),
        ("@tests K", &["TM001@1:1"], 0),
        ("prose\n    @tests K on C", &["TM001@2:5"], 0),
        // TM006: an empty name or reference.
        ("@threat", &["TM006@1:8"], 0),
        ("@threat   ", &["TM006@1:11"], 0),
        ("@component", &["TM006@1:11"], 0),
        ("@boundary", &["TM006@1:10"], 0),
        ("@actor", &["TM006@1:7"], 0),
        ("@review", &["TM006@1:8"], 0),
        ("@threat : a description only", &["TM006@1:9"], 0),
        ("@threat [severity: high]", &["TM006@1:9"], 0),
        ("@mitigates against B with C", &["TM006@1:12"], 0),
        ("  @mitigates  against B with C", &["TM006@1:15"], 0),
        ("@mitigates A against  with C", &["TM006@1:23"], 0),
        ("@mitigates A against B with ", &["TM006@1:29"], 0),
        ("@exposes A to ", &["TM006@1:15"], 0),
        ("@accepts  to C", &["TM006@1:11"], 0),
        ("@transfers T from  to B", &["TM006@1:20"], 0),
        ("@connects  to B", &["TM006@1:12"], 0),
        ("@connects A to  with x", &["TM006@1:17"], 0),
        ("@tests  for X", &["TM006@1:9"], 0),
        ("@tests K for", &["TM006@1:13"], 0),
        ("@tests K for  ", &["TM006@1:15"], 0),
        ("@threat ()", &["TM006@1:9"], 0),
        ("@component X (#x) in #", &["TM008@1:22"], 1),
        // TM008: invalid ids. A bad explicit id falls back to the derived one; a bad bare
        // reference cannot be understood.
        ("@threat Foo (#a b)", &["TM008@1:14"], 1),
        ("@threat Foo (#)", &["TM008@1:14"], 1),
        ("@threat Foo (#a/b)", &["TM008@1:14"], 1),
        ("@threat #a/b", &["TM008@1:9"], 0),
        ("@threat #sqli foo", &["TM008@1:9"], 0),
        ("@mitigates #a against #b!c with #k", &["TM008@1:23"], 0),
        ("@threat SQL Injection (#sqli", &["TM008@1:23"], 1),
        ("@threat (#sqli", &["TM008@1:9"], 0),
        // A bad member of `contains` is left out; the boundary stays.
        ("@boundary DMZ (#dmz) contains #a, #b c", &["TM008@1:35"], 1),
        // Several problems on several lines, in order.
        ("@threat A (#a)\n@mitigates X\n  @threat B (#)\n@tests", &["TM001@2:1", "TM008@3:14", "TM001@4:1"], 2),
        // Errors on unicode lines count characters.
        ("@mitigates Café against  with K", &["TM006@1:26"], 0),
    ];
    for (input, expected, kept) in table {
        let (anns, ds) = parse(input);
        assert_eq!(diags(&ds), *expected, "{input:?}");
        assert!(
            ds.iter().all(|d| d.severity == Severity::Error),
            "{input:?}"
        );
        assert_eq!(
            anns.len(),
            *kept,
            "{input:?}: {:?}",
            anns.iter().map(render).collect::<Vec<_>>()
        );
    }
    // What the fallbacks produce.
    let (anns, ds) = parse("@threat Foo (#a b)");
    assert_eq!(render(&anns[0]), "threat Foo ~#foo");
    assert_eq!(ds[0].message, "`#a b` is not a valid id");
    let (anns, ds) = parse("@threat SQL Injection (#sqli");
    assert_eq!(render(&anns[0]), "threat SQL Injection ~#sql_injection");
    assert!(
        ds[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("#sql_injection")
    );
    let (anns, _) = parse("@boundary DMZ (#dmz) contains #a, #b c");
    assert_eq!(render(&anns[0]), "boundary DMZ (#dmz) contains #a");
    let (_, ds) = parse("@mitigates A against B");
    assert_eq!(ds[0].message, "`@mitigates` is missing `with`");
    assert_eq!(
        ds[0].help.as_deref(),
        Some("the form is `@mitigates COMPONENT against THREAT with CONTROL`")
    );
    let (_, ds) = parse("@connects A and B");
    assert_eq!(ds[0].message, "`@connects` is missing `to` or `with`");
    let (_, ds) = parse("@threat");
    assert_eq!(ds[0].message, "`@threat` has no threat");
}

/// The parser never panics and keeps spans inside the text, whatever the input.
#[test]
fn odd_input_does_not_panic() {
    let inputs = [
        "@",
        "@threat (",
        "@threat )",
        "@threat [",
        "@threat ]",
        "@threat [[[:]]]",
        "@threat X [a: [b]]",
        "@threat X (#",
        "@mitigates ( against ) with [",
        "@boundary contains",
        "@boundary X contains ,,,",
        "@review (#",
        "@review (#x",
        "@connects with with with",
        "@connects to to to to",
        "@threat X:\n  :\n  - [",
        "@threat é (#é)",
        "@threat \u{0}",
        "@threat X: \u{202e}evil",
        "@threat X [severity: high]: \n  \n",
        "@component X in",
        "@component X in #",
        "@tests for for for",
    ];
    for input in inputs {
        let (anns, ds) = parse(input);
        for d in &ds {
            if let Some(span) = d.span {
                assert!(
                    span.start <= span.end && span.end <= input.len(),
                    "{input:?}: {d:?}"
                );
            }
        }
        for a in &anns {
            assert!(a.span.end <= input.len(), "{input:?}");
        }
        let files = [FileAnnotations {
            path: "x".into(),
            annotations: anns,
        }];
        let _ = model::build(Project::default(), &files);
    }
}

// ---------------------------------------------------------------------------------------------
// The model

#[test]
fn implicit_entities_from_relations() {
    let (m, ds) = build("@mitigates Web against SQL injection with Prepared statements");
    assert_eq!(diags(&ds), ["TM010@1:1"]);
    assert_eq!(ids(&m.components), ["web"]);
    assert_eq!(ids(&m.threats), ["sql_injection"]);
    assert_eq!(ids(&m.controls), ["prepared_statements"]);
    let web = component(&m, "web");
    assert_eq!(web.name, "Web");
    assert!(!web.declared, "only mentioned");
    assert_eq!(web.sources.len(), 1, "the mention is its source");
    assert_eq!(m.mitigations.len(), 1);
    assert_eq!(m.mitigations[0].id, "web/sql_injection/prepared_statements");

    // Every relation creates what it names; `@tests`, `@review` too.
    let (m, _) = build(
        "@exposes A to T1 with x\n@accepts T2 to B\n@transfers T3 from C to D\n@connects E to F\n@review G check\n@tests K for H",
    );
    assert_eq!(ids(&m.components), ["a", "b", "c", "d", "e", "f", "g", "h"]);
    assert_eq!(ids(&m.threats), ["t1", "t2", "t3"]);
    assert_eq!(ids(&m.controls), ["k"]);
    assert!(m.components.iter().all(|c| !c.declared));
}

#[test]
fn declarations_merge_and_conflict() {
    // Same name and id twice: merged, sources from both files, descriptions fill gaps.
    let (m, ds) = build_files(&[
        ("a.txt", "@threat SQL injection (#sqli) [severity: high]"),
        (
            "b.txt",
            "@threat SQL injection (#sqli) [owner: bob]: input reaches SQL",
        ),
    ]);
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let t = m.threat("sqli").expect("sqli");
    assert!(t.declared);
    assert_eq!(t.description, "input reaches SQL");
    assert_eq!(
        serde_json::to_string(&t.attributes).expect("json"),
        r#"{"severity":"high","owner":"bob"}"#
    );
    assert_eq!(
        t.sources
            .iter()
            .map(|s| s.path.as_str())
            .collect::<Vec<_>>(),
        ["a.txt", "b.txt"]
    );

    // A reference adds to a declaration made elsewhere, in any order.
    let (m, ds) = build_files(&[
        ("a.txt", "@threat #sqli [cwe: 89]: more text"),
        ("b.txt", "@threat SQL injection (#sqli)"),
    ]);
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let t = m.threat("sqli").expect("sqli");
    assert_eq!(
        (t.name.as_str(), t.description.as_str()),
        ("SQL injection", "more text")
    );
    assert_eq!(t.attributes.cwe, ["CWE-89"]);

    // A declaration upgrades a mention (and its name wins).
    let (m, _) =
        build("@mitigates W against Injection (#sqli) with K\n@threat SQL injection (#sqli)");
    let t = m.threat("sqli").expect("sqli");
    assert_eq!(t.name, "SQL injection");
    assert!(t.declared);

    // Declarations and additions by reference merge in one pass in path order: the first one
    // that sets a field wins, whichever form it has.
    for (first, second, wins) in [
        (
            "@threat #sqli [severity: low]: by reference",
            "@threat SQL injection (#sqli) [severity: high]: by name",
            "by reference",
        ),
        (
            "@threat SQL injection (#sqli) [severity: high]: by name",
            "@threat #sqli [severity: low]: by reference",
            "by name",
        ),
    ] {
        let (m, ds) = build_files(&[("a.txt", first), ("b.txt", second)]);
        let t = m.threat("sqli").expect("sqli");
        assert_eq!(t.name, "SQL injection");
        assert_eq!(t.description, wins, "{first:?} then {second:?}");
        let severity = if wins == "by name" { "high" } else { "low" };
        assert_eq!(t.attributes.severity.map(|s| s.as_str()), Some(severity));
        let got: Vec<(String, &str)> = ds
            .iter()
            .map(|d| {
                let path = d
                    .location
                    .as_ref()
                    .map(|l| l.path.clone())
                    .unwrap_or_default();
                (format!("{path}:{}", diag(d)), d.message.as_str())
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "b.txt:TM013@1:1".to_string(),
                    "this declaration of threat `#sqli` gives a different description"
                ),
                // A rating that disagrees is an error (TM014), not a warning.
                (
                    "b.txt:TM014@1:1".to_string(),
                    "this declaration of threat `#sqli` gives a different severity"
                ),
            ]
        );
    }

    // (files, diagnostics): TM013 when two declarations disagree, TM014 when they disagree on a
    // rating, TM004 for one explicit id with two names.
    #[rustfmt::skip]
    let table: &[(Files, &[&str])] = &[
        (&[("m.txt", "@threat S (#s): one\n@threat S (#s): two")], &["TM013@2:1"]),
        (&[( "m.txt", "@threat S (#s) [severity: high]\n@threat S (#s) [severity: low]", )], &["TM014@2:1"]),
        // A second rating of another kind re-rates as much as a different value.
        (&[( "m.txt", "@threat S (#s) [severity: critical]\n@threat #s [likelihood: rare; impact: negligible]", )], &["TM014@2:1"]),
        // Rating an unrated threat by reference is an addition; so is an owner.
        (&[( "m.txt", "@threat S (#s) [owner: a]\n@threat #s [likelihood: rare; impact: negligible]", )], &[]),
        (&[( "m.txt", "@threat S (#s) [likelihood: rare]\n@threat #s [likelihood: rare; owner: b]", )], &[]),
        (&[( "m.txt", "@component C (#c) [type: store]\n@component C (#c) [type: process]", )], &["TM014@2:1"]),
        (&[( "m.txt", "@threat S (#s) [owner: a]\n@threat S (#s) [owner: b]", )], &["TM013@2:1"]),
        (&[( "m.txt", "@threat S (#s) [team: a]\n@threat S (#s) [team: b]", )], &["TM013@2:1"]),
        (&[("m.txt", "@threat S (#s): same\n@threat S (#s): same")], &[]),
        (&[ ("a.txt", "@threat SQL injection (#sqli)"), ("b.txt", "  @threat Stored XSS (#sqli)"), ], &["TM004@1:11"]),
        (&[("m.txt", "@control A (#x)\n@control B (#x)")], &["TM004@2:10"]),
        // Ids are per kind: a threat and a control may share one.
        (&[("m.txt", "@threat Tampering (#t)\n@control Signing (#t)")], &[]),
        // Different names deriving the same id are one thing written two ways: TM013, a warning.
        (&[("m.txt", "@component Web-App\n@component WebApp")], &["TM013@2:12"]),
        (&[("m.txt", "@threat SQL injection\n@threat SQL Injection")], &["TM013@2:9"]),
        (&[("m.txt", "@threat SQL injection (#sql_injection)\n@threat SQL Injection")], &["TM013@2:9"]),
        (&[("m.txt", "@threat SQL Injection\n@threat SQL injection (#sql_injection)")], &["TM013@2:9"]),
        // Only two explicit ids with two names are TM004, even if the names differ in case only.
        (&[("m.txt", "@threat SQL injection (#sqli)\n@threat SQL Injection (#sqli)")], &["TM004@2:9"]),
        (&[("m.txt", "@threat SQL injection (#sqli)\n@threat #sqli\n@threat SQL injection")], &[]),
    ];
    for (files, expected) in table {
        let (_, ds) = build_files(files);
        assert_eq!(diags(&ds), *expected, "{files:?}");
    }
    // The first declaration (in path order) wins.
    let (m, ds) = build_files(&[
        ("b.txt", "@threat Stored XSS (#sqli)"),
        ("a.txt", "@threat SQL injection (#sqli)"),
    ]);
    assert_eq!(
        m.threat("sqli").expect("sqli").name,
        "Stored XSS",
        "files are taken in the given order"
    );
    assert!(
        ds[0].message.contains("already used by `Stored XSS`"),
        "{}",
        ds[0].message
    );
    assert!(
        ds[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("b.txt:1:1")
    );
    let (_, ds) = build("@threat S (#s): one\n@threat S (#s): two");
    assert_eq!(ds[0].severity, Severity::Warning);
    let (m, ds) = build("@threat S (#s) [impact: minor]\n@threat S (#s) [impact: severe]");
    assert_eq!(ds[0].severity, Severity::Error);
    let s = m.threat("s").expect("s");
    assert_eq!(
        s.attributes.impact.map(|i| i.as_str()),
        Some("minor"),
        "first wins"
    );

    // A derived-id collision: the first name wins and the declarations merge.
    let (m, ds) = build_files(&[
        ("a.txt", "@threat SQL injection: first"),
        ("b.txt", "@threat SQL Injection [severity: high]: second"),
    ]);
    let t = m.threat("sql_injection").expect("sql_injection");
    assert_eq!(
        (t.name.as_str(), t.description.as_str(), t.sources.len()),
        ("SQL injection", "first", 2)
    );
    assert_eq!(t.attributes.severity.map(|s| s.as_str()), Some("high"));
    assert_eq!(diags(&ds), ["TM013@1:1", "TM013@1:9"]);
    assert!(ds.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!(
        ds[1].message,
        "this declaration of threat `#sql_injection` gives a different name"
    );
    assert!(
        ds[1]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("`SQL injection` at a.txt:1:1"),
        "{:?}",
        ds[1].help
    );

    // A declaration rejected with TM004 is ignored entirely: no placement, no members.
    let (m, ds) = build(
        "@boundary B (#b)\n@component X (#x)\n@component Y (#x) in #b\n@boundary C (#b) contains Web",
    );
    assert_eq!(diags(&ds), ["TM004@3:12", "TM004@4:11"]);
    assert_eq!(component(&m, "x").extra.boundary, None);
    assert_eq!(ids(&m.components), ["x"]);

    // TM013 messages name the field in good English.
    #[rustfmt::skip]
    let messages: &[(&str, &str)] = &[
        ("@threat S (#s) [cwe: 79]\n@threat S (#s) [cwe: 89]", "this declaration of threat `#s` gives different CWE ids"),
        ("@threat S (#s) [stride: S]\n@threat S (#s) [stride: T]", "this declaration of threat `#s` gives different STRIDE categories"),
        ("@threat S (#s) [team: a]\n@threat S (#s) [team: b]", "this declaration of threat `#s` gives a different value for `team`"),
        ("@threat S (#s) [expires: 2030-01-01]\n@threat S (#s) [expires: 2031-01-01]", "this declaration of threat `#s` gives a different expiry date"),
        ("@component C (#c) [type: store]\n@component C (#c) [type: process]", "this declaration of component `#c` gives a different type"),
        ("@exposes W to T with x\n@exposes W to T with y", "`@exposes` `w/t` is written twice with different details"),
        ("@exposes W to T: a\n@exposes W to T: b", "`@exposes` `w/t` is written twice with a different description"),
        ("@accepts T to W [owner: a]\n@accepts T to W [owner: b]", "`@accepts` `t/w` is written twice with a different owner"),
        ("@tests K for W [data: a]\n@tests K for W [data: b]", "`@tests` `k/w` is written twice with a different value for `data`"),
    ];
    for (text, message) in messages {
        let (_, ds) = build(text);
        let rating = ["STRIDE", "expiry", "type"]
            .iter()
            .any(|w| message.contains(w));
        let code = if rating { "TM014@2:1" } else { "TM013@2:1" };
        assert_eq!(diags(&ds), [code], "{text:?}");
        assert_eq!(ds[0].message, *message, "{text:?}");
    }
}

#[test]
fn undefined_references() {
    // (text, diagnostics, help)
    #[rustfmt::skip]
    let table: &[(&str, &[&str], &str)] = &[
        ("@component Web (#web)\n@mitigates #wbe against X with Y", &["TM003@2:12"], "did you mean `#web`?"),
        ("@threat SQLi (#sqli)\n@exposes A to #sqlii", &["TM003@2:15"], "did you mean `#sqli`?"),
        ("@control K (#prepared)\n@tests #prepare for A", &["TM003@2:8"], "did you mean `#prepared`?"),
        ("@threat #ghost: text", &["TM003@1:9"], "declare it with `@threat Name (#ghost)`"),
        ("@component X (#x) in #nope", &["TM003@1:22"], "declare it with `@boundary Name (#nope)`"),
        ("@boundary B (#b) in #outer", &["TM003@1:21"], "declare it with `@boundary Name (#outer)`"),
        ("@boundary #zone contains #x", &["TM003@1:11"], "declare it with `@boundary Name (#zone)`"),
        ("@boundary Z (#z) contains #x", &["TM003@1:27"], "declare it with `@component Name (#x)`"),
        ("@threat T [actor: #nobody]", &["TM003@1:1"], "declare it with `@actor Name (#nobody)`"),
        ("@actor Outsider (#outsider)\n@threat T [actor: outsidr]", &["TM003@2:1"], "did you mean `#outsider`?"),
    ];
    for (text, expected, help) in table {
        let (_, ds) = build(text);
        assert_eq!(diags(&ds), *expected, "{text:?}");
        assert_eq!(ds[0].severity, Severity::Error);
        assert!(
            ds[0].help.as_deref().unwrap_or_default().contains(help),
            "{text:?}: {:?}",
            ds[0].help
        );
    }
    // A boundary id is not a component id.
    let (_, ds) = build("@boundary DMZ (#dmz)\n@review #dmz check");
    assert_eq!(diags(&ds), ["TM003@2:9"]);
    assert_eq!(ds[0].message, "undefined component `#dmz`");
    // In a relation, an id nothing has and nothing is close to is created, as in Threatspec
    // (TM036, a warning), and the relation kept.
    let (m, ds) = build("@mitigates A against B with #nothing_like_it");
    assert_eq!(diags(&ds), ["TM036@1:29"]);
    assert_eq!(ds[0].severity, Severity::Warning);
    assert!(
        ds[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("`@control Name (#nothing_like_it)`")
    );
    assert_eq!(m.mitigations.len(), 1);
    // A typo is left out, with everything only that relation named.
    let (m, ds) = build("@threat Ghost (#ghost)\n@mitigates Web against #ghots with K");
    assert_eq!(diags(&ds), ["TM003@2:24"]);
    assert!(m.mitigations.is_empty());
    assert!(m.components.is_empty() && m.controls.is_empty());
    // Columns count characters.
    let (_, ds) = build("@mitigates Café against #nope with K");
    assert_eq!(diags(&ds), ["TM010@1:1", "TM036@1:25"]);
}

#[test]
fn component_parents() {
    // Threatspec keeps `Shop:API:Checkout` as a flat name; we also create its parents.
    let (m, ds) = build("@component Shop:API:Checkout (#checkout)\n@component Shop:API:Cart");
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(
        ids(&m.components),
        ["checkout", "shop", "shop_api", "shop_api_cart"]
    );
    let parent = |id: &str| component(&m, id).extra.parent.clone();
    assert_eq!(parent("checkout").as_deref(), Some("shop_api"));
    assert_eq!(parent("shop_api_cart").as_deref(), Some("shop_api"));
    assert_eq!(parent("shop_api").as_deref(), Some("shop"));
    assert_eq!(parent("shop"), None);
    assert_eq!(component(&m, "shop_api").name, "Shop:API");
    assert!(!component(&m, "shop").declared);

    // A parent is the component with that name, whatever its id and wherever it is declared.
    let (m, ds) = build_files(&[
        ("a.txt", "@component Shop:API:Checkout (#co)"),
        (
            "b.txt",
            "@component Shop:API (#api)\n@component Shop (#shop_root)",
        ),
    ]);
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(ids(&m.components), ["api", "co", "shop_root"]);
    assert_eq!(component(&m, "co").extra.parent.as_deref(), Some("api"));
    assert_eq!(
        component(&m, "api").extra.parent.as_deref(),
        Some("shop_root")
    );

    // Odd hierarchies do not loop or invent empty parents.
    let (m, ds) = build("@component A::B\n@component :x\n@component Y:Z (#y)");
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(ids(&m.components), ["a_b", "x", "y"]);
    assert!(m.components.iter().all(|c| c.extra.parent.is_none()));
}

#[test]
fn boundaries_nesting_cycles_and_conflicts() {
    let (m, ds) = build(
        "@boundary Internet (#internet)\n@boundary DC (#dc)\n@boundary DMZ (#dmz) in #dc\n@boundary #dc contains #core\n@boundary Core (#core)\n@component Web (#web) in #dmz\n@component DB (#db)\n@boundary #core contains #db\n@component Browser (#browser) in #internet",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let b = |id: &str| m.boundary(id).expect("boundary");
    assert_eq!(b("dmz").extra.parent.as_deref(), Some("dc"));
    assert_eq!(b("core").extra.parent.as_deref(), Some("dc"));
    assert_eq!(b("dc").extra.parent, None);
    assert_eq!(b("dmz").extra.components, ["web"]);
    assert_eq!(b("core").extra.components, ["db"]);
    assert_eq!(component(&m, "web").extra.boundary.as_deref(), Some("dmz"));
    assert_eq!(
        component(&m, "browser").extra.boundary.as_deref(),
        Some("internet")
    );

    // (text, diagnostics)
    #[rustfmt::skip]
    let table: &[(&str, &[&str])] = &[
        // TM011: cycles. The edge that closes the loop is dropped.
        ("@boundary A (#a) in #a", &["TM011@1:1"]),
        ("@boundary A (#a) in #b\n@boundary B (#b) in #a", &["TM011@2:1"]),
        ("@boundary A (#a) in #b\n@boundary B (#b) in #c\n@boundary C (#c) in #a", &["TM011@3:1"]),
        ("@boundary A (#a) in #x\n@boundary X (#x)\n@boundary B (#b) in #a\n@boundary #b contains #a", &["TM011@4:1"]),
        // TM009: sibling boundaries for one element.
        ("@boundary A (#a)\n@boundary B (#b)\n@component C (#c) in #a\n@component C (#c) in #b", &["TM009@4:1"]),
        ("@boundary A (#a)\n@boundary B (#b)\n@component C (#c) in #a\n@boundary #b contains #c", &["TM009@4:1"]),
        ("@boundary A (#a)\n@boundary B (#b)\n@boundary C (#c) in #a\n@boundary #b contains #c", &["TM009@4:1"]),
        // Nested placements are not conflicts: the innermost boundary counts.
        ("@boundary A (#a)\n@boundary B (#b) in #a\n@component C (#c) in #a\n@component C (#c) in #b", &[]),
        ("@boundary A (#a)\n@boundary B (#b) in #a\n@component C (#c) in #b\n@component C (#c) in #a", &[]),
        ("@boundary O (#o)\n@boundary I (#i) in #o\n@boundary C (#c) in #i\n@boundary #o contains #c", &[]),
        ("@boundary O (#o)\n@boundary I (#i) in #o\n@boundary C (#c) in #o\n@boundary #i contains #c", &[]),
        // The same placement twice is fine.
        ("@boundary A (#a)\n@component C (#c) in #a\n@boundary #a contains #c", &[]),
    ];
    for (text, expected) in table {
        let (_, ds) = build(text);
        assert_eq!(diags(&ds), *expected, "{text:?}");
    }
    // Which placement is kept.
    let (m, ds) = build(
        "@boundary A (#a)\n@boundary B (#b)\n@component C (#c) in #a\n@component C (#c) in #b",
    );
    assert_eq!(component(&m, "c").extra.boundary.as_deref(), Some("a"));
    assert_eq!(
        ds[0].message,
        "component `#c` is placed in `#b` and in `#a`, which do not nest"
    );
    let (m, _) = build(
        "@boundary A (#a)\n@boundary B (#b) in #a\n@component C (#c) in #b\n@component C (#c) in #a",
    );
    assert_eq!(component(&m, "c").extra.boundary.as_deref(), Some("b"));
    let (m, _) = build(
        "@boundary O (#o)\n@boundary I (#i) in #o\n@boundary C (#c) in #o\n@boundary #i contains #c",
    );
    assert_eq!(
        m.boundary("c").expect("c").extra.parent.as_deref(),
        Some("i")
    );
    let (m, ds) = build("@boundary A (#a) in #b\n@boundary B (#b) in #a");
    assert_eq!(ds[0].severity, Severity::Error);
    let parents: Vec<Option<&str>> = m
        .boundaries
        .iter()
        .map(|b| b.extra.parent.as_deref())
        .collect();
    assert_eq!(parents, [Some("b"), None], "the loop is cut once");
}

#[test]
fn boundary_members_by_name() {
    // A name in `contains` is a component, created like a name in a relation, unless a boundary
    // has its id: then it is nesting.
    let (m, ds) = build(
        "@boundary Cloud (#cloud) contains Web App, #db, Private subnet, Shop:API\n@component DB (#db)\n@boundary Private subnet",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(ids(&m.components), ["db", "shop", "shop_api", "web_app"]);
    let web = component(&m, "web_app");
    assert_eq!(web.name, "Web App");
    assert!(!web.declared, "only named in `contains`");
    assert_eq!(web.sources.len(), 1);
    assert_eq!(web.extra.boundary.as_deref(), Some("cloud"));
    assert_eq!(component(&m, "db").extra.boundary.as_deref(), Some("cloud"));
    assert_eq!(
        component(&m, "shop_api").extra.parent.as_deref(),
        Some("shop")
    );
    assert_eq!(component(&m, "shop").extra.boundary, None);
    let private = m.boundary("private_subnet").expect("boundary");
    assert_eq!(private.extra.parent.as_deref(), Some("cloud"));
    assert_eq!(
        m.boundary("cloud").expect("cloud").extra.components,
        ["db", "shop_api", "web_app"]
    );
    // A name that is also declared as a component is that component.
    let (m, ds) = build("@boundary Cloud contains Web App\n@component Web App: the site");
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let web = component(&m, "web_app");
    assert!(web.declared);
    assert_eq!(web.extra.boundary.as_deref(), Some("cloud"));
    // References still have to exist.
    let (m, ds) = build("@boundary Cloud contains #web");
    assert_eq!(diags(&ds), ["TM003@1:26"]);
    assert!(m.components.is_empty());
}

#[test]
fn flows_cross_boundaries() {
    let (m, ds) = build(
        "@boundary Internet (#internet)\n@boundary DC (#dc)\n@boundary DMZ (#dmz) in #dc\n@boundary Core (#core) in #dc\n@component Browser (#browser) in #internet\n@component Shop:API (#api) in #dmz\n@component Shop:API:Checkout (#checkout)\n@component DB (#db) in #core\n@component Cache (#cache) in #core\n@component Log (#log)\n@connects #browser to #checkout with HTTPS\n@connects #api to #db with SQL\n@connects #db to #cache with RESP\n@connects #log to #db with tail",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let crosses = |s: &str, t: &str| -> Vec<String> {
        let f = m
            .flows
            .iter()
            .find(|f| f.link.source == s && f.link.target == t)
            .unwrap_or_else(|| panic!("no flow {s} -> {t}"));
        f.link.crosses.clone()
    };
    // The checkout component inherits `#dmz` from its parent `Shop:API (#api)`.
    assert_eq!(
        component(&m, "checkout").extra.boundary.as_deref(),
        Some("dmz")
    );
    assert_eq!(
        crosses("browser", "checkout"),
        ["dc", "internet", "dmz"],
        "outermost first, then by id"
    );
    assert_eq!(
        crosses("api", "db"),
        ["core", "dmz"],
        "sibling boundaries inside #dc"
    );
    assert!(crosses("db", "cache").is_empty(), "same boundary");
    assert_eq!(
        crosses("log", "db"),
        ["dc", "core"],
        "from outside every boundary"
    );
}

#[test]
fn bidirectional_flows() {
    let (m, ds) = build(
        "@connects B with A with gRPC\n@connects A with B with gRPC\n@connects A to B with gRPC\n@connects B to A with gRPC\n@connects C to D\n@connects C with D",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    let got: Vec<(&str, &str, &str, bool, usize)> = m
        .flows
        .iter()
        .map(|f| {
            let l = &f.link;
            (
                f.id.as_str(),
                l.source.as_str(),
                l.target.as_str(),
                l.bidirectional,
                f.sources.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // `with` flows are stored with their ends in id order, so both spellings are one
            // flow; a one-way flow with the same ends and details merges into it and the flow
            // stays two-way whichever comes first.
            ("a/b/grpc", "a", "b", true, 3),
            ("b/a/grpc", "b", "a", false, 1),
            ("c/d", "c", "d", true, 2),
        ]
    );
}

#[test]
fn undeclared_controls() {
    #[rustfmt::skip]
    let table: &[(&str, &[&str])] = &[
        ("@mitigates W against T with K", &["TM010@1:1"]),
        ("@mitigates W against T with K\n@mitigates V against T with K", &["TM010@1:1"]),
        ("@control K (#k)\n@mitigates W against T with #k", &[]),
        ("@mitigates W against T with K\n@control K", &[]),
        ("@mitigates W against T with K\n@control #k: declared by reference", &[]),
        ("@tests K for W", &[]),
        ("@mitigates W against T with K1\n@mitigates W against T with K2", &["TM010@1:1", "TM010@2:1"]),
    ];
    for (text, expected) in table {
        let (_, ds) = build(text);
        assert_eq!(diags(&ds), *expected, "{text:?}");
        assert!(ds.iter().all(|d| d.severity == Severity::Warning));
    }
    let (_, ds) = build("  @mitigates W against T with Input escaping");
    assert_eq!(diags(&ds), ["TM010@1:3"]);
    assert_eq!(
        ds[0].message,
        "control `Input escaping` (#input_escaping) is never declared with `@control`"
    );
    assert_eq!(
        ds[0].help.as_deref(),
        Some("declare it once: `@control Input escaping (#input_escaping): what it does`")
    );
}

#[test]
fn relations_are_deduplicated() {
    let (m, ds) = build_files(&[
        (
            "a.txt",
            "@mitigates W against T with #k\n@exposes W to T with raw HTML\n@review W check it\n@tests #k for W",
        ),
        (
            "b.txt",
            "@control K (#k)\n@mitigates W against T with #k: described once\n@exposes W to T with raw HTML\n@review W check it\n@review W something else\n@tests #k for W",
        ),
    ]);
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(m.mitigations.len(), 1);
    assert_eq!(m.mitigations[0].description, "described once");
    assert_eq!(m.mitigations[0].sources.len(), 2);
    assert_eq!(m.exposures.len(), 1);
    assert_eq!(m.exposures[0].details, "raw HTML");
    assert_eq!(m.tests.len(), 1);
    let reviews: Vec<&str> = m.reviews.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        reviews,
        ["w/check_it", "w/something_else"],
        "reviews differ by their text"
    );

    // The same relation with other details, description or attributes: first wins, TM013 (TM014
    // for a rating such as an acceptance's expiry).
    #[rustfmt::skip]
    let table: &[(&str, &[&str])] = &[
        ("@exposes W to T with x\n@exposes W to T with y", &["TM013@2:1"]),
        ("@exposes W to T with x\n@exposes W to T", &[]),
        ("@exposes W to T\n@exposes W to T with y", &[]),
        ("@accepts T to W [expires: 2030-01-01]\n@accepts T to W [expires: 2031-01-01]", &["TM014@2:1"]),
        ("@mitigates W against T with #k: a\n@mitigates W against T with #k: b\n@control K (#k)", &["TM013@2:1"]),
        // Flows with other details are other flows.
        ("@connects A to B with x\n@connects A to B with y", &[]),
    ];
    for (text, expected) in table {
        let (_, ds) = build(text);
        assert_eq!(diags(&ds), *expected, "{text:?}");
    }
    let (m, _) = build("@exposes W to T\n@exposes W to T with y");
    assert_eq!(m.exposures[0].details, "y", "details fill a gap");
}

#[test]
fn actors() {
    let (m, ds) = build(
        "@actor Outsider (#outsider): anyone on the internet\n@threat T [actor: #outsider]\n@exposes W to T with x [actor: outsider]",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(ids(&m.actors), ["outsider"]);
    assert_eq!(
        m.actor("outsider").expect("actor").description,
        "anyone on the internet"
    );
    assert_eq!(
        m.threat("t").expect("t").attributes.actor.as_deref(),
        Some("outsider")
    );
    assert_eq!(m.exposures[0].attributes.actor.as_deref(), Some("outsider"));

    // An actor that names no `@actor` is reported and left out of the model.
    let (m, ds) = build(
        "@threat T [actor: #nobody; severity: high]\n@exposes W to T with x [actor: nobody]\n@threat #t [actor: #ghost]",
    );
    assert_eq!(diags(&ds), ["TM003@1:1", "TM003@2:1", "TM003@3:1"]);
    let t = m.threat("t").expect("t");
    assert_eq!(t.attributes.actor, None);
    assert_eq!(t.attributes.severity.map(|s| s.as_str()), Some("high"));
    assert_eq!(m.exposures[0].attributes.actor, None);
    assert!(m.actors.is_empty());

    // Actors are placed in boundaries like components: `in #b`, or `@boundary #b contains
    // #actor` when no component has that id. The innermost placement counts; siblings are TM009.
    let (m, ds) = build(
        "@boundary Internet (#internet)\n@boundary Cloud (#cloud)\n@boundary Tenants (#tenants) in #cloud\n@actor Fraudster in #internet\n@actor Outsider (#outsider) in #internet: anyone\n@actor Tenant (#tenant) in #cloud\n@boundary #tenants contains #tenant\n@actor Insider (#insider)\n@boundary #cloud contains #insider",
    );
    assert!(ds.is_empty(), "{:?}", diags(&ds));
    assert_eq!(
        ids(&m.actors),
        ["fraudster", "insider", "outsider", "tenant"]
    );
    let place = |id: &str| m.actor(id).expect("actor").extra.boundary.clone();
    assert_eq!(place("fraudster").as_deref(), Some("internet"));
    assert_eq!(m.actor("fraudster").expect("actor").name, "Fraudster");
    assert_eq!(place("outsider").as_deref(), Some("internet"));
    assert_eq!(m.actor("outsider").expect("actor").description, "anyone");
    assert_eq!(place("tenant").as_deref(), Some("tenants"));
    assert_eq!(place("insider").as_deref(), Some("cloud"));
    assert!(m.components.is_empty(), "actors are not components");
    let json = serde_json::to_value(m.actor("fraudster").expect("actor")).expect("json");
    assert_eq!(json["boundary"], "internet");

    #[rustfmt::skip]
    let table: &[(&str, &[&str])] = &[
        ("@boundary A (#a)\n@boundary B (#b)\n@actor X (#x) in #a\n@actor X (#x) in #b", &["TM009@4:1"]),
        ("@actor X (#x) in #nowhere", &["TM003@1:18"]),
        ("@actor #x in #a\n@boundary A (#a)", &["TM003@1:8"]),
        // A component of that id comes first in `contains`.
        ("@boundary A (#a) contains #x\n@actor X (#x)\n@component X (#x)", &[]),
    ];
    for (text, expected) in table {
        let (_, ds) = build(text);
        assert_eq!(diags(&ds), *expected, "{text:?}");
    }
    let (m, ds) =
        build("@boundary A (#a)\n@boundary B (#b)\n@actor X (#x) in #a\n@actor X (#x) in #b");
    assert_eq!(
        m.actor("x").expect("x").extra.boundary.as_deref(),
        Some("a")
    );
    assert_eq!(
        ds[0].message,
        "actor `#x` is placed in `#b` and in `#a`, which do not nest"
    );
    let (m, _) = build("@boundary A (#a) contains #x\n@actor X (#x)\n@component X (#x)");
    assert_eq!(m.actor("x").expect("x").extra.boundary, None);
    assert_eq!(component(&m, "x").extra.boundary.as_deref(), Some("a"));
}
