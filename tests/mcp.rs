//! `threatmark mcp` driven as an agent drives it: the real binary, JSON-RPC 2.0 messages one
//! per line on its stdin, answers read from its stdout. Every tool, both resources, version
//! negotiation and the errors a hostile or confused client gets.
//!
//! @tests #mcp_read_only for #mcp_server
//! @tests #mcp_bounded_input for #mcp_server
//! @tests #mcp_json_strings for #mcp_server

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::{BIN, isolate, tm, write};

/// A client of one server process.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    next: u64,
}

impl Client {
    fn start(repo: &std::path::Path) -> Self {
        let mut cmd = Command::new(BIN);
        isolate(&mut cmd);
        let mut child = cmd
            .args(["mcp", "-C"])
            .arg(repo)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start threatmark mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin: Some(stdin),
            lines,
            next: 0,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("open");
        stdin.write_all(bytes).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    fn read(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("an answer within 60 s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// A request; its answer, checked to carry the request's id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(message.to_string().as_bytes());
        let answer = self.read();
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["id"], json!(id), "{answer}");
        answer
    }

    fn notify(&mut self, method: &str) {
        let message = json!({"jsonrpc": "2.0", "method": method});
        self.send_raw(message.to_string().as_bytes());
    }

    /// `tools/call` that must succeed at the protocol level: its result.
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        assert!(answer.get("error").is_none(), "{answer}");
        answer["result"].clone()
    }

    fn initialize(&mut self, version: &str) -> Value {
        let answer = self.request(
            "initialize",
            json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}),
        );
        self.notify("notifications/initialized");
        answer
    }

    /// Close stdin: the server must exit 0.
    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        assert_eq!(status.code(), Some(0));
    }
}

/// A failed test must not leave a server behind.
impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The text of a tool result.
fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        "[project]\nname = \"demo\"\n",
    );
    write(
        dir.path(),
        "src/api.go",
        "package api\n\n// @component Shop:API (#api) in #dmz: public API\n// @boundary DMZ (#dmz)\n// @threat SQL injection (#sqli) [stride: T; likelihood: likely; impact: major]\n// @control Prepared statements (#prepared)\n// @mitigates #api against #sqli with #prepared\nfunc Handle() {}\n",
    );
    write(
        dir.path(),
        "web/app.ts",
        "/**\n * @component Web shop (#web)\n * @connects #web to #api with HTTPS\n * @threat Stored XSS (#xss) [stride: T,I; likelihood: possible; impact: severe]\n * @exposes #web to #xss with unescaped output\n * @threat Bad\u{1b}[2J name (#esc) [stride: S]\n */\nexport const x = 1;\n",
    );
    dir
}

#[test]
fn an_agent_initializes_lists_and_calls_every_tool() {
    let repo = repo();
    let mut client = Client::start(repo.path());
    let init = client.initialize("2025-06-18");
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(result["serverInfo"]["name"], "threatmark");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(result["capabilities"]["resources"].is_object());
    // The notification got no answer: the next answer is the ping's.
    let ping = client.request("ping", json!({}));
    assert_eq!(ping["result"], json!({}));

    let tools = client.request("tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            assert_eq!(t["inputSchema"]["type"], "object", "{t}");
            assert!(
                t["description"].as_str().is_some_and(|d| d.len() > 40),
                "{t}"
            );
            t["name"].as_str().expect("name")
        })
        .collect();
    assert_eq!(
        names,
        [
            "list_threats",
            "show_element",
            "find_component",
            "validate_annotation",
            "explain_diagnostic"
        ]
    );

    // Threats by risk: xss (possible x severe) before sqli (likely x major)? Both rated; the
    // order follows the scores in the structured result.
    let list = client.call("list_threats", json!({}));
    assert_eq!(list["isError"], false, "{list}");
    let items = list["structuredContent"]["items"]
        .as_array()
        .expect("items");
    let scores: Vec<u64> = items
        .iter()
        .map(|i| i["risk"]["score"].as_u64().unwrap_or(0))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(ids.contains(&"sqli") && ids.contains(&"xss"), "{ids:?}");
    assert!(text(&list).contains("src/api.go:5"), "{}", text(&list));
    // Filters: only the unmitigated, only STRIDE I, only a component.
    let open = client.call("list_threats", json!({"kind": "unmitigated"}));
    let open_ids: Vec<&str> = open["structuredContent"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(
        open_ids.contains(&"xss") && !open_ids.contains(&"sqli"),
        "{open_ids:?}"
    );
    let by_stride = client.call("list_threats", json!({"stride": "I"}));
    assert_eq!(by_stride["structuredContent"]["total"], 1, "{by_stride}");
    let exposures = client.call(
        "list_threats",
        json!({"kind": "exposures", "component": "Web shop"}),
    );
    assert_eq!(exposures["structuredContent"]["items"][0]["threat"], "xss");
    assert_eq!(
        exposures["structuredContent"]["items"][0]["mitigated"],
        false
    );

    // An element by id and by name, with relations and file:line.
    let shown = client.call("show_element", json!({"element": "#sqli"}));
    assert_eq!(shown["structuredContent"]["kind"], "threat", "{shown}");
    assert_eq!(
        shown["structuredContent"]["assessment"]["status"],
        "mitigated"
    );
    assert!(text(&shown).contains("src/api.go:7"), "{}", text(&shown));
    let by_name = client.call("show_element", json!({"element": "shop:api"}));
    assert_eq!(by_name["structuredContent"]["element"]["id"], "api");
    assert_eq!(
        by_name["structuredContent"]["relations"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "a mitigation and a flow: {by_name}"
    );
    let missing = client.call("show_element", json!({"element": "#sqlj"}));
    assert_eq!(missing["isError"], true);
    assert!(
        text(&missing).contains("did you mean #sqli"),
        "{}",
        text(&missing)
    );

    // Where a component is annotated: its declaration and the relations that name it.
    let found = client.call("find_component", json!({"component": "api"}));
    let files = &found["structuredContent"]["files"];
    assert_eq!(files, &json!(["src/api.go", "web/app.ts"]), "{found}");

    // Validation in the context of the model: a typo, with a suggestion...
    let typo = client.call(
        "validate_annotation",
        json!({"snippet": "// @mitigates #web against #xsss with #prepared\n", "path": "web/new.ts"}),
    );
    let diags = typo["structuredContent"]["diagnostics"]
        .as_array()
        .expect("diagnostics");
    assert_eq!(diags.len(), 1, "{typo}");
    assert_eq!(diags[0]["code"], "TM003");
    assert!(text(&typo).contains("#xss"), "{}", text(&typo));
    // ...a bad attribute in bare annotation text...
    let attr = client.call(
        "validate_annotation",
        json!({"snippet": "@threat Replay (#replay) [stride: Q]"}),
    );
    assert!(
        !attr["structuredContent"]["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .is_empty(),
        "{attr}"
    );
    // ...and a snippet that fits: ids it uses exist elsewhere in the repository.
    let fine = client.call(
        "validate_annotation",
        json!({"snippet": "// @mitigates #web against #xss with #prepared\n", "path": "web/new.ts"}),
    );
    assert_eq!(
        fine["structuredContent"]["diagnostics"],
        json!([]),
        "{fine}"
    );
    assert_eq!(fine["structuredContent"]["annotations"], 1);
    assert!(text(&fine).starts_with("No diagnostics"), "{}", text(&fine));
    // Nothing was written.
    assert!(!repo.path().join("web/new.ts").exists());
    assert!(!repo.path().join("threatmodel.json").exists());

    let explained = client.call("explain_diagnostic", json!({"code": "TM003"}));
    let expected = tm().args(["explain", "TM003"]).output().expect("explain");
    assert_eq!(
        format!("{}\n", text(&explained)),
        String::from_utf8_lossy(&expected.stdout)
    );
    let unknown = client.call("explain_diagnostic", json!({"code": "TM999"}));
    assert_eq!(unknown["isError"], true);

    // A name with a terminal escape reaches the agent without it.
    let hostile = client.call("list_threats", json!({"stride": "S"}));
    assert!(!text(&hostile).contains('\u{1b}'), "{}", text(&hostile));
    assert!(text(&hostile).contains("#esc"), "{}", text(&hostile));
    client.finish();
}

#[test]
fn resources_are_the_reference_and_the_model_scan_writes() {
    let repo = repo();
    let mut client = Client::start(repo.path());
    client.initialize("2025-06-18");
    let list = client.request("resources/list", json!({}));
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    assert_eq!(
        uris,
        [
            "threatmark://docs/annotations.md",
            "threatmark://model/threatmodel.json"
        ]
    );
    let docs = client.request(
        "resources/read",
        json!({"uri": "threatmark://docs/annotations.md"}),
    );
    let reference = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/annotations.md"),
    )
    .expect("docs");
    assert_eq!(docs["result"]["contents"][0]["text"], reference);
    assert_eq!(docs["result"]["contents"][0]["mimeType"], "text/markdown");
    let model = client.request(
        "resources/read",
        json!({"uri": "threatmark://model/threatmodel.json"}),
    );
    let out = tempfile::tempdir().expect("tempdir");
    let written = out.path().join("model.json");
    let scan = tm()
        .args(["scan", "-q", "-C"])
        .arg(repo.path())
        .arg("-o")
        .arg(&written)
        .output()
        .expect("scan");
    assert!(scan.status.success());
    assert_eq!(
        model["result"]["contents"][0]["text"],
        std::fs::read_to_string(&written).expect("model")
    );
    let missing = client.request("resources/read", json!({"uri": "file:///etc/passwd"}));
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    client.finish();
}

#[test]
fn bad_requests_get_json_rpc_errors_and_the_server_goes_on() {
    let repo = repo();
    let mut client = Client::start(repo.path());
    // An unknown version: the server answers with its latest.
    let init = client.initialize("1999-01-01");
    let version = init["result"]["protocolVersion"].as_str().expect("version");
    assert!(version >= "2025-06-18", "{init}");
    let older = client.initialize("2024-11-05");
    assert_eq!(older["result"]["protocolVersion"], "2024-11-05");
    // 2024-11-05 has no structuredContent.
    let plain = client.call("explain_diagnostic", json!({"code": "TM001"}));
    assert!(plain.get("structuredContent").is_none(), "{plain}");

    let code = |answer: &Value| answer["error"]["code"].as_i64();
    let unknown_tool = client.request("tools/call", json!({"name": "rm_rf", "arguments": {}}));
    assert_eq!(code(&unknown_tool), Some(-32602), "{unknown_tool}");
    for bad in [
        json!({"name": "list_threats", "arguments": {"limit": "many"}}),
        json!({"name": "list_threats", "arguments": {"band": "purple"}}),
        json!({"name": "show_element", "arguments": {}}),
        json!({"name": "show_element", "arguments": {"element": 7}}),
        json!({"name": "find_component", "arguments": {"component": "api", "write": true}}),
        json!({"name": "validate_annotation", "arguments": "snippet"}),
    ] {
        let answer = client.request("tools/call", bad.clone());
        assert_eq!(code(&answer), Some(-32602), "{bad} -> {answer}");
    }
    let unknown_method = client.request("prompts/get", json!({}));
    assert_eq!(code(&unknown_method), Some(-32601), "{unknown_method}");

    // Malformed JSON, a batch, a wrong version, and a 5 MiB line: errors with a null id.
    client.send_raw(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    let parse = client.read();
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    assert_eq!(parse["id"], Value::Null);
    client.send_raw(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
    assert_eq!(client.read()["error"]["code"], -32600);
    client.send_raw(br#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#);
    let wrong = client.read();
    assert_eq!(
        (wrong["error"]["code"].as_i64(), &wrong["id"]),
        (Some(-32600), &json!("x"))
    );
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}",
        "a".repeat(5 << 20)
    );
    client.send_raw(huge.as_bytes());
    assert_eq!(client.read()["error"]["code"], -32600);
    // Still serving.
    let ping = client.request("ping", json!({}));
    assert_eq!(ping["result"], json!({}));
    client.finish();
}

/// `scan -o` of `root`: the bytes of the model it writes.
fn scanned_model(root: &std::path::Path) -> String {
    let out = tempfile::tempdir().expect("tempdir");
    let written = out.path().join("model.json");
    let scan = tm()
        .args(["scan", "-q", "-C"])
        .arg(root)
        .arg("-o")
        .arg(&written)
        .output()
        .expect("scan");
    assert!(scan.status.success(), "{scan:?}");
    std::fs::read_to_string(&written).expect("model")
}

fn model_resource(client: &mut Client) -> String {
    let model = client.request(
        "resources/read",
        json!({"uri": "threatmark://model/threatmodel.json"}),
    );
    model["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{model}"))
        .to_string()
}

fn threat_ids(client: &mut Client) -> Vec<String> {
    let list = client.call("list_threats", json!({}));
    list["structuredContent"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect()
}

/// A Threatspec project that imports another project's model: the server's model is the one
/// `scan -o` writes (imports merged), also after a refresh.
#[test]
fn a_threatspec_project_with_imports_gives_the_model_scan_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "lib/auth.py",
        "# @component Lib:Auth (#auth)\n# @threat Token theft (#theft) [stride: S; likelihood: likely; impact: major]\n# @control Short-lived tokens (#short)\n# @mitigates #auth against #theft with #short\n",
    );
    let lib = scanned_model(&root.join("lib"));
    write(root, "vendor/lib/threatmodel.json", &lib);
    std::fs::remove_file(root.join("lib/auth.py")).expect("rm");
    write(
        root,
        "threatspec.yaml",
        "project:\n  name: app\n  description: ''\nimports:\n  - 'vendor/lib'\npaths:\n  - 'src/'\n",
    );
    write(
        root,
        "src/main.py",
        "# @component App:Web (#web)\n# @threat SQL injection (#sqli) [stride: T]\n# @exposes #web to #sqli with raw SQL\n",
    );
    let mut client = Client::start(root);
    client.initialize("2025-06-18");
    let ids = threat_ids(&mut client);
    assert!(ids.contains(&"theft".to_string()), "imported: {ids:?}");
    assert_eq!(model_resource(&mut client), scanned_model(root));
    write(
        root,
        "src/more.py",
        "# @threat Replay (#replay) [stride: S]\n",
    );
    assert_eq!(model_resource(&mut client), scanned_model(root));
    client.finish();
}

/// The server keeps its model in memory, but a file an agent writes, changes or deletes
/// between two calls is seen at the next; a file that `.gitignore` leaves out is not.
#[test]
fn a_file_written_between_two_calls_changes_the_answer() {
    let repo = repo();
    let root = repo.path();
    write(root, ".gitignore", "generated/\n");
    let mut client = Client::start(root);
    client.initialize("2025-06-18");
    let before = threat_ids(&mut client);
    assert!(!before.contains(&"csrf".to_string()), "{before:?}");
    write(
        root,
        "web/forms.ts",
        "// @threat Cross-site request forgery (#csrf) [stride: T; likelihood: likely; impact: major]\n",
    );
    write(
        root,
        "generated/x.ts",
        "// @threat Ignored (#ignored) [stride: T]\n",
    );
    let after = threat_ids(&mut client);
    assert!(after.contains(&"csrf".to_string()), "{after:?}");
    assert!(!after.contains(&"ignored".to_string()), "{after:?}");
    // The same length, another id: a changed stat is read again.
    write(
        root,
        "web/forms.ts",
        "// @threat Cross-site request forgery (#xsrf) [stride: T; likelihood: likely; impact: major]\n",
    );
    let renamed = threat_ids(&mut client);
    assert!(renamed.contains(&"xsrf".to_string()), "{renamed:?}");
    assert!(!renamed.contains(&"csrf".to_string()), "{renamed:?}");
    std::fs::remove_file(root.join("web/forms.ts")).expect("rm");
    let gone = threat_ids(&mut client);
    assert!(!gone.contains(&"xsrf".to_string()), "{gone:?}");
    assert_eq!(model_resource(&mut client), scanned_model(root));
    client.finish();
}
