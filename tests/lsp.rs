//! `threatmark lsp` driven as an editor drives it: the real binary, JSON-RPC with Content-Length
//! framing over its stdin and stdout ([`Client`]), from `initialize` to `exit`.
//!
//! @tests #lsp_validated_input for #lsp
//! @tests #overlay_size_limit for #workspace
//! @tests #lsp_escaped_hover for #lsp

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Generous: a debug build on a busy machine.
const WAIT: Duration = Duration::from_secs(60);

/// A language client: writes framed messages, and reads them on a thread.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    seen: Vec<Value>,
    root: std::path::PathBuf,
}

fn uri(root: &Path, rel: &str) -> String {
    format!("file://{}/{rel}", root.display())
}

impl Client {
    fn start(root: &Path) -> Client {
        Client::start_with(root, &[])
    }

    /// The server started in `root` with these arguments after `lsp`.
    fn start_with(root: &Path, args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_threatmark"))
            .arg("lsp")
            .args(args)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start threatmark lsp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        len = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("Content-Length")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let msg: Value = serde_json::from_slice(&body).expect("JSON body");
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Client {
            child,
            stdin,
            incoming,
            next_id: 0,
            seen: Vec::new(),
            root: root.to_path_buf(),
        }
    }

    /// `initialize` (with these client capabilities) and `initialized`; the server's result.
    fn initialize(&mut self, capabilities: Value) -> Value {
        let root = uri(&self.root, "").trim_end_matches('/').to_string();
        let result = self.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": capabilities }),
        );
        self.notify("initialized", json!({}));
        result.expect("initialize succeeds")
    }

    fn send(&mut self, msg: Value) {
        let body = serde_json::to_string(&msg).expect("json");
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("no message in time; seen {:#?}", self.seen),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed stdout"),
        }
    }

    /// A request's result, or its error.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + WAIT;
        loop {
            let msg = self.next(deadline);
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            self.seen.push(msg);
        }
    }

    /// The diagnostics of the next `publishDiagnostics` for `rel` (one already received and
    /// not yet taken counts).
    fn diagnostics(&mut self, rel: &str) -> Vec<Value> {
        let want = uri(&self.root, rel);
        let is_it = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == want.as_str()
        };
        if let Some(i) = self.seen.iter().position(is_it) {
            let m = self.seen.remove(i);
            return m["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let msg = self.next(deadline);
            if is_it(&msg) {
                return msg["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
            self.seen.push(msg);
        }
    }

    /// Drop every `publishDiagnostics` received so far.
    fn forget_diagnostics(&mut self) {
        while let Ok(m) = self.incoming.try_recv() {
            self.seen.push(m);
        }
        self.seen
            .retain(|m| m["method"] != "textDocument/publishDiagnostics");
    }

    fn open(&mut self, rel: &str, text: &str) {
        let uri = uri(&self.root, rel);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "python", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, rel: &str, version: i64, changes: Value) {
        let uri = uri(&self.root, rel);
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes }),
        );
    }

    /// A request about a position in a document.
    fn at(
        &mut self,
        method: &str,
        rel: &str,
        line: u32,
        character: u32,
        extra: Value,
    ) -> Result<Value, Value> {
        let mut params = json!({
            "textDocument": { "uri": uri(&self.root, rel) },
            "position": { "line": line, "character": character },
        });
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        self.request(method, params)
    }

    /// `shutdown`, then `exit`: the exit code.
    fn shutdown(mut self) -> Option<i32> {
        assert_eq!(self.request("shutdown", Value::Null), Ok(Value::Null));
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CONTROLS: &str = "# Controls.\n# @control Input validation (#val): checked before use\n";
const API: &str = "# The API.\n# @component Orders API (#api): takes orders\n# @threat SQL injection (#sqli) [stride: T,I; likelihood: likely; impact: major; owner: @shop-team]: crafted <b>input</b>\n# @mitigates #api against #sqli with #val\n";

fn repo(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let mut files = vec![("controls.py", CONTROLS), ("api.py", API)];
    files.extend_from_slice(extra);
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn root(dir: &tempfile::TempDir) -> std::path::PathBuf {
    std::fs::canonicalize(dir.path()).expect("canonical")
}

fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Deleting the `@control` in one file (an incremental change) publishes a diagnostic in the
/// file that uses it; typing it back clears it. Shutdown and exit end with code 0.
#[test]
fn a_change_publishes_diagnostics_in_another_file_and_clears_them() {
    let dir = repo(&[]);
    let mut c = Client::start(&root(&dir));
    c.initialize(json!({}));
    c.open("controls.py", CONTROLS);
    // Delete line 1 (the declaration) with a range.
    c.change(
        "controls.py",
        2,
        json!([{ "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 2, "character": 0 } }, "text": "" }]),
    );
    let broken = c.diagnostics("api.py");
    assert!(
        !broken.is_empty(),
        "the dangling #val is reported in api.py"
    );
    let d = &broken[0];
    assert_eq!(d["source"], "threatmark");
    assert_eq!(d["range"]["start"]["line"], 3, "{d}");
    assert!(d["message"].as_str().unwrap_or("").contains("val"), "{d}");
    // Insert it back with another incremental change.
    c.change(
        "controls.py",
        3,
        json!([{ "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } }, "text": "# @control Input validation (#val): checked before use\n" }]),
    );
    assert_eq!(c.diagnostics("api.py"), Vec::<Value>::new(), "cleared");
    // A problem in the document itself, with its code and span.
    c.change(
        "controls.py",
        4,
        json!([{ "range": { "start": { "line": 1, "character": 2 }, "end": { "line": 1, "character": 10 } }, "text": "@control" }]),
    );
    c.change(
        "controls.py",
        5,
        json!([{ "text": "# @control Input validation (#val)\n# @threat Bad (#bad) [likelihood: sometimes]\n" }]),
    );
    let own = c.diagnostics("controls.py");
    assert_eq!(codes(&own), ["TM002"], "{own:?}");
    assert_eq!(own[0]["range"]["start"]["line"], 1, "{own:?}");
    assert_eq!(c.shutdown(), Some(0));
}

/// Definition, references, hover, document and workspace symbols for ids and names.
#[test]
fn navigation_by_id_and_by_name() {
    let dir = repo(&[]);
    let mut c = Client::start(&root(&dir));
    c.initialize(json!({}));
    // `#val` in api.py, line 3: `# @mitigates #api against #sqli with #val`.
    let col = API
        .lines()
        .nth(3)
        .and_then(|l| l.find("#val"))
        .expect("there") as u32
        + 2;
    let def = c
        .at("textDocument/definition", "api.py", 3, col, json!({}))
        .expect("definition");
    assert!(
        def["uri"].as_str().unwrap_or("").ends_with("/controls.py"),
        "{def}"
    );
    assert_eq!(def["range"]["start"]["line"], 1, "{def}");
    let refs = c
        .at(
            "textDocument/references",
            "api.py",
            3,
            col,
            json!({ "context": { "includeDeclaration": true } }),
        )
        .expect("references");
    // `#val` in both files, and the name `Input validation` where it is declared.
    let places: Vec<(&str, u64)> = refs
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| {
            Some((
                r["uri"].as_str()?.rsplit('/').next()?,
                r["range"]["start"]["line"].as_u64()?,
            ))
        })
        .collect();
    assert_eq!(
        places,
        [("api.py", 3), ("controls.py", 1), ("controls.py", 1)],
        "{refs}"
    );
    // By name: `Orders API` on line 1 goes to its declaration, and its references include it.
    let def = c
        .at("textDocument/definition", "api.py", 1, 16, json!({}))
        .expect("definition");
    assert_eq!(def["range"]["start"]["line"], 1, "{def}");
    // Hover on `#sqli`: name, STRIDE, risk and band, status, owner, mitigation, place; the
    // description's HTML is escaped.
    let col = API
        .lines()
        .nth(3)
        .and_then(|l| l.find("#sqli"))
        .expect("there") as u32
        + 1;
    let hover = c
        .at("textDocument/hover", "api.py", 3, col, json!({}))
        .expect("hover");
    let text = hover["contents"]["value"]
        .as_str()
        .expect("markdown")
        .to_string();
    for want in [
        "SQL injection",
        "STRIDE: TI",
        "risk: ",
        "residual status: mitigated",
        "owner:",
        "#val",
        "declared at api.py:3",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(!text.contains("<b>"), "{text}");
    let symbols = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri(&c.root, "api.py") } }),
        )
        .expect("symbols");
    let names: Vec<&str> = symbols
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Orders API") && names.contains(&"SQL injection"),
        "{names:?}"
    );
    let found = c
        .request("workspace/symbol", json!({ "query": "valid" }))
        .expect("symbols");
    let found = found.as_array().expect("list");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "Input validation");
    assert_eq!(c.shutdown(), Some(0));
}

/// Completion of tags, ids, attribute keys and values; rename across files (and refusals);
/// the three code actions.
#[test]
fn completion_rename_and_code_actions() {
    let dir = repo(&[]);
    let mut c = Client::start(&root(&dir));
    c.initialize(json!({}));
    let draft = "# @\n# x #\n# @threat T (#t) [lik\n# @threat U (#u) [likelihood: \n";
    c.open("draft.py", draft);
    // A list, or a CompletionList with `items`.
    let labels = |v: Value| -> Vec<String> {
        let items = match v.get("items") {
            Some(items) => items.clone(),
            None => v,
        };
        items
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i["label"].as_str().map(str::to_string))
            .collect()
    };
    let tags = labels(
        c.at("textDocument/completion", "draft.py", 0, 3, json!({}))
            .expect("tags"),
    );
    assert!(
        tags.contains(&"mitigates".to_string()) && tags.contains(&"control".to_string()),
        "{tags:?}"
    );
    let ids = labels(
        c.at("textDocument/completion", "draft.py", 1, 5, json!({}))
            .expect("ids"),
    );
    assert!(
        ids.contains(&"val".to_string()) && ids.contains(&"sqli".to_string()),
        "{ids:?}"
    );
    let keys = labels(
        c.at("textDocument/completion", "draft.py", 2, 21, json!({}))
            .expect("keys"),
    );
    assert!(
        keys.contains(&"likelihood".to_string()) && keys.contains(&"stride".to_string()),
        "{keys:?}"
    );
    let values = labels(
        c.at("textDocument/completion", "draft.py", 3, 30, json!({}))
            .expect("values"),
    );
    assert!(values.contains(&"likely".to_string()), "{values:?}");

    // Rename `#val` (from its use in api.py) to `#validation`: both files are edited.
    let col = API
        .lines()
        .nth(3)
        .and_then(|l| l.find("#val"))
        .expect("there") as u32
        + 1;
    let edit = c
        .at(
            "textDocument/rename",
            "api.py",
            3,
            col,
            json!({ "newName": "validation" }),
        )
        .expect("rename");
    let changes = edit["changes"].as_object().expect("changes");
    assert_eq!(changes.len(), 2, "{edit}");
    for edits in changes.values() {
        assert_eq!(edits[0]["newText"], "#validation");
    }
    let taken = c.at(
        "textDocument/rename",
        "api.py",
        3,
        col,
        json!({ "newName": "sqli" }),
    );
    assert!(taken.is_err(), "{taken:?}");
    let invalid = c.at(
        "textDocument/rename",
        "api.py",
        3,
        col,
        json!({ "newName": "two words" }),
    );
    assert!(invalid.is_err(), "{invalid:?}");

    // Code actions: a near-miss typo, a missing `with`, an undeclared control.
    let fixes = "# @mitigates #api against #sqli with #vla\n# @mitigates #api against #sqli\n# @mitigates #api against #sqli with #lockout\n";
    c.open("fixes.py", fixes);
    let titles = |c: &mut Client, line: u32| -> Vec<(String, Value)> {
        let actions = c
            .request(
                "textDocument/codeAction",
                json!({
                    "textDocument": { "uri": uri(&c.root, "fixes.py") },
                    "range": { "start": { "line": line, "character": 0 }, "end": { "line": line, "character": 0 } },
                    "context": { "diagnostics": [] },
                }),
            )
            .expect("code actions");
        actions
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                (
                    a["title"].as_str().unwrap_or("").to_string(),
                    a["edit"].clone(),
                )
            })
            .collect()
    };
    let typo = titles(&mut c, 0);
    assert!(
        typo.iter()
            .any(|(t, e)| t.contains("`#val`") && e.to_string().contains("\"#val\"")),
        "{typo:?}"
    );
    let with = titles(&mut c, 1);
    assert!(
        with.iter()
            .any(|(t, e)| t.contains("with") && e.to_string().contains(" with #")),
        "{with:?}"
    );
    let declare = titles(&mut c, 2);
    assert!(
        declare
            .iter()
            .any(|(t, e)| t.contains("Declare")
                && e.to_string().contains("@control lockout (#lockout)")),
        "{declare:?}"
    );
    assert_eq!(c.shutdown(), Some(0));
}

/// UTF-8 positions when the client offers them, UTF-16 otherwise, on a line with non-ASCII
/// text; a hostile client (bad ranges, documents outside the root, unknown methods, a document
/// over the size limit) gets answers, not a crash.
#[test]
fn positions_and_hostile_messages() {
    let line = "# @connects Café 😀 to #api with HTTPS\n";
    let dir = repo(&[
        ("threatmark.toml", "[scan]\nmax_file_size = 2000\n"),
        ("uni.py", line),
    ]);
    let hash = line.find("#api").expect("there");
    for (offer, name, col) in [
        (
            json!({ "general": { "positionEncodings": ["utf-8", "utf-16"] } }),
            "utf-8",
            hash,
        ),
        (json!({}), "utf-16", line[..hash].encode_utf16().count()),
    ] {
        let mut c = Client::start(&root(&dir));
        let result = c.initialize(offer);
        assert_eq!(result["capabilities"]["positionEncoding"], name);
        let def = c
            .at(
                "textDocument/definition",
                "uni.py",
                0,
                col as u32 + 1,
                json!({}),
            )
            .expect("definition");
        assert!(
            def["uri"].as_str().unwrap_or("").ends_with("/api.py"),
            "{name}: {def}"
        );
        let refs = c
            .at(
                "textDocument/references",
                "uni.py",
                0,
                col as u32 + 1,
                json!({ "context": { "includeDeclaration": true } }),
            )
            .expect("refs");
        let here = refs
            .as_array()
            .expect("list")
            .iter()
            .find(|r| r["uri"].as_str().unwrap_or("").ends_with("/uni.py"))
            .cloned()
            .expect("in uni.py");
        assert_eq!(
            here["range"]["start"]["character"], col as u64,
            "{name}: {here}"
        );
        assert_eq!(c.shutdown(), Some(0));
    }

    let mut c = Client::start(&root(&dir));
    c.initialize(json!({}));
    c.open("api.py", API);
    // A range whose end is before its start, and positions far past the end.
    c.change("api.py", 2, json!([{ "range": { "start": { "line": 3, "character": 5 }, "end": { "line": 1, "character": 0 } }, "text": "x" }]));
    c.change("api.py", 3, json!([{ "range": { "start": { "line": 900, "character": 900 }, "end": { "line": 4294967295u64, "character": 4294967295u64 } }, "text": "# tail\n" }]));
    // Outside the root; not a file URI.
    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": "file:///etc/passwd", "languageId": "x", "version": 1, "text": "# @threat X (#x)" } }));
    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": "untitled:Untitled-1", "languageId": "x", "version": 1, "text": "" } }));
    let unknown = c.request("threatmark/unknown", json!({}));
    assert_eq!(unknown.expect_err("unknown")["code"], -32601);
    let outside = c.request("textDocument/hover", json!({ "textDocument": { "uri": "file:///etc/passwd" }, "position": { "line": 0, "character": 0 } }));
    assert!(outside.is_err(), "{outside:?}");
    // The server is alive and still has the model (`#x` from /etc/passwd never got in).
    let found = c
        .request("workspace/symbol", json!({ "query": "" }))
        .expect("symbols");
    let names: Vec<&str> = found
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"SQL injection") && !names.contains(&"X"),
        "{names:?}"
    );
    // A document over `max_file_size`: TM022, not parsed.
    c.forget_diagnostics();
    let big = format!("# @threat Big (#big)\n{}", "x = 1\n".repeat(1000));
    c.open("big.py", &big);
    assert_eq!(codes(&c.diagnostics("big.py")), ["TM022"]);
    let found = c
        .request("workspace/symbol", json!({ "query": "big" }))
        .expect("symbols");
    assert_eq!(found, json!([]));
    assert_eq!(c.shutdown(), Some(0));
}

/// `threatmark scan --output-format json` of `root`: (path, code, 0-based line, message).
fn scan_diagnostics(root: &Path) -> Vec<(String, String, u64, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_threatmark"))
        .args(["scan", "--output-format", "json", "-o"])
        .arg(root.join("scan-model.json"))
        .arg("-C")
        .arg(root)
        .output()
        .expect("scan");
    let _ = std::fs::remove_file(root.join("scan-model.json"));
    let mut all: Vec<_> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|d| {
            (
                d["path"].as_str().unwrap_or("").to_string(),
                d["code"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().map_or(0, |l| l.saturating_sub(1)),
                match d["label"].as_str() {
                    // The server adds the label to the message, as its editor shows no labels.
                    Some(label) => format!("{} ({label})", d["message"].as_str().unwrap_or("")),
                    None => d["message"].as_str().unwrap_or("").to_string(),
                },
            )
        })
        .collect();
    all.sort();
    all
}

impl Client {
    /// Every diagnostic published so far (the last publication of each file), in the form of
    /// [`scan_diagnostics`]; a request answered first makes sure the first publications are in.
    fn published(&mut self) -> Vec<(String, String, u64, String)> {
        let _ = self.request("workspace/symbol", json!({ "query": "" }));
        let prefix = uri(&self.root, "");
        let mut last: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        for m in &self.seen {
            if m["method"] == "textDocument/publishDiagnostics" {
                let path = m["params"]["uri"].as_str().unwrap_or("");
                let rel = path.strip_prefix(&prefix).unwrap_or(path).to_string();
                let diags = m["params"]["diagnostics"].as_array().cloned();
                last.insert(rel, diags.unwrap_or_default());
            }
        }
        let mut all = Vec::new();
        for (rel, diags) in last {
            for d in diags {
                let message = d["message"].as_str().unwrap_or("");
                all.push((
                    rel.clone(),
                    d["code"].as_str().unwrap_or("").to_string(),
                    d["range"]["start"]["line"].as_u64().unwrap_or(0),
                    message.split("\nhelp: ").next().unwrap_or("").to_string(),
                ));
            }
        }
        all.sort();
        all
    }
}

/// The workspace gives `scan`'s model and diagnostics: a Threatspec project that imports
/// another project's model (hover shows an imported threat), and a threatmark.toml
/// that hides a threatspec.yaml (TM049, published on threatspec.yaml).
#[test]
fn the_workspace_has_the_imports_and_diagnostics_of_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root(&dir);
    let put = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    put(
        "lib/auth.py",
        "# @component Lib:Auth (#auth)\n# @threat Token theft (#theft) [stride: S]\n# @control Short-lived tokens (#short)\n# @mitigates #auth against #theft with #short\n",
    );
    let scanned = Command::new(env!("CARGO_BIN_EXE_threatmark"))
        .args(["scan", "-q", "-C"])
        .arg(root.join("lib"))
        .arg("-o")
        .arg(root.join("vendor/lib/threatmodel.json"))
        .output()
        .expect("scan lib");
    assert!(scanned.status.success(), "{scanned:?}");
    std::fs::remove_file(root.join("lib/auth.py")).expect("rm");
    put(
        "threatspec.yaml",
        "project:\n  name: app\n  description: ''\nimports:\n  - 'vendor/lib'\npaths:\n  - 'src/'\n",
    );
    put(
        "src/main.py",
        "# @component App:Web (#web)\n# @threat SQL injection (#sqli) [stride: T]\n# @mitigates #web against #sqli with #nothing\n# @exposes #web to #theft with stolen cookies\n",
    );
    let mut c = Client::start(&root);
    c.initialize(json!({}));
    let hover = c
        .at("textDocument/hover", "src/main.py", 3, 21, json!({}))
        .expect("hover");
    assert!(
        hover.to_string().contains("Token theft"),
        "the imported threat is in the model: {hover}"
    );
    let expected = scan_diagnostics(&root);
    assert!(!expected.is_empty());
    assert_eq!(c.published(), expected);
    assert_eq!(c.shutdown(), Some(0));

    // TM049: a threatmark.toml beside threatspec.yaml.
    put("threatmark.toml", "[project]\nname = \"app\"\n");
    let mut c = Client::start(&root);
    c.initialize(json!({}));
    let expected = scan_diagnostics(&root);
    assert!(
        expected
            .iter()
            .any(|d| d.0 == "threatspec.yaml" && d.1 == "TM049"),
        "{expected:?}"
    );
    assert_eq!(c.published(), expected);
    assert_eq!(c.shutdown(), Some(0));
}

/// `textDocument/prepareRename`: the id under the cursor (without its `#`) as range and
/// placeholder; prose, a name and an id of nothing are refused.
#[test]
fn prepare_rename_offers_the_id_under_the_cursor_only() {
    let dir = repo(&[]);
    let mut c = Client::start(&root(&dir));
    let init = c.initialize(json!({}));
    assert_eq!(
        init["capabilities"]["renameProvider"]["prepareProvider"], true,
        "{init}"
    );
    c.open("api.py", API);
    // Line 3: `# @mitigates #api against #sqli with #val`, the cursor inside `#sqli`.
    let ok = c
        .at("textDocument/prepareRename", "api.py", 3, 29, json!({}))
        .expect("renamable");
    assert_eq!(ok["placeholder"], "sqli", "{ok}");
    assert_eq!(
        ok["range"]["start"],
        json!({ "line": 3, "character": 27 }),
        "{ok}"
    );
    assert_eq!(
        ok["range"]["end"],
        json!({ "line": 3, "character": 31 }),
        "{ok}"
    );
    // On the `#` itself.
    let hash = c
        .at("textDocument/prepareRename", "api.py", 3, 13, json!({}))
        .expect("renamable");
    assert_eq!(hash["placeholder"], "api", "{hash}");
    // Prose, and a name.
    assert!(
        c.at("textDocument/prepareRename", "api.py", 0, 4, json!({}))
            .is_err()
    );
    assert!(
        c.at("textDocument/prepareRename", "api.py", 1, 18, json!({}))
            .is_err()
    );
    c.change("api.py", 2, json!([{ "text": "# see #nothing_here\n" }]));
    assert!(
        c.at("textDocument/prepareRename", "api.py", 0, 9, json!({}))
            .is_err()
    );
    assert_eq!(c.shutdown(), Some(0));
}

/// A threatmark.toml that does not load is no reason to stop: its error is published on its
/// file (TM050), and fixing it on disk (seen at a save) brings the model back.
#[test]
fn configuration_errors_are_published_on_the_configuration_file() {
    let dir = repo(&[("threatmark.toml", "[model]\nmax_dept = 3\n")]);
    let root = root(&dir);
    let mut c = Client::start(&root);
    c.initialize(json!({}));
    let broken = c.diagnostics("threatmark.toml");
    assert_eq!(codes(&broken), ["TM050"], "{broken:?}");
    assert!(
        broken[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("max_dept"),
        "{broken:?}"
    );
    std::fs::write(root.join("threatmark.toml"), "[model]\nmax_depth = 3\n").expect("write");
    c.open("api.py", API);
    c.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": uri(&root, "threatmark.toml") } }),
    );
    assert_eq!(c.diagnostics("threatmark.toml"), Vec::<Value>::new());
    let hover = c
        .at("textDocument/hover", "api.py", 3, 29, json!({}))
        .expect("hover");
    assert!(hover.to_string().contains("SQL injection"), "{hover}");
    assert_eq!(c.shutdown(), Some(0));
}

/// Files changed outside the editor (a `git checkout`): the server registers a file watcher
/// when the client allows it, and catches up with the disk at a watched-file change and at
/// any save; a new file that `.gitignore` leaves out stays out.
#[test]
fn files_changed_outside_the_editor_are_seen() {
    let dir = repo(&[(".gitignore", "build/\n")]);
    let root = root(&dir);
    let mut c = Client::start(&root);
    c.initialize(
        json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } }),
    );
    let _ = c.request("workspace/symbol", json!({ "query": "" }));
    let register = c
        .seen
        .iter()
        .find(|m| m["method"] == "client/registerCapability")
        .cloned()
        .unwrap_or_else(|| panic!("no registration: {:#?}", c.seen));
    assert_eq!(
        register["params"]["registrations"][0]["method"],
        "workspace/didChangeWatchedFiles"
    );
    c.open("api.py", API);
    c.forget_diagnostics();
    // The checkout removes the control; the editor only saves api.py.
    std::fs::write(root.join("controls.py"), "# no controls here\n").expect("write");
    c.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": uri(&root, "api.py") } }),
    );
    let broken = c.diagnostics("api.py");
    assert!(!broken.is_empty(), "the dangling #val is seen");
    // An ignored file that would declare it does not count; a watched change to the real file
    // restores it.
    std::fs::create_dir_all(root.join("build")).expect("mkdir");
    std::fs::write(root.join("build/controls.py"), CONTROLS).expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&root, "build/controls.py"), "type": 1 }] }),
    );
    let _ = c.request("workspace/symbol", json!({ "query": "" }));
    assert!(
        !c.seen
            .iter()
            .any(|m| m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri(&root, "api.py").as_str()),
        "an ignored file changes nothing"
    );
    std::fs::write(root.join("controls.py"), CONTROLS).expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&root, "controls.py"), "type": 2 }] }),
    );
    assert_eq!(c.diagnostics("api.py"), Vec::<Value>::new(), "cleared");
    assert_eq!(c.shutdown(), Some(0));
}

/// `-C .` (a relative repository): diagnostics are still published on absolute file URIs.
#[test]
fn a_relative_repository_publishes_absolute_uris() {
    let dir = repo(&[("bad.py", "# @threat Bad (#bad) [likelihood: sometimes]\n")]);
    let mut c = Client::start_with(&root(&dir), &["-C", "."]);
    c.initialize(json!({}));
    assert_eq!(codes(&c.diagnostics("bad.py")), ["TM002"]);
    assert_eq!(c.shutdown(), Some(0));
}
