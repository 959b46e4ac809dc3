//! `threatmark mcp`: a Model Context Protocol server on stdin/stdout, for coding agents. Five
//! read-only tools (list threats by risk, show an element, find where a component is
//! annotated, validate an annotation snippet in the context of the model, explain a
//! diagnostic) and two resources (the annotation reference, the current threatmodel.json).
//! It writes nothing: no tool changes a file, and the only thing written is the scan cache
//! under `.git/threatmark/`, as every scan writes it.
//!
//! Why hand-written JSON-RPC and not the official SDK (`rmcp` 3.11): the stdio transport is
//! one JSON object per line, and a server of five tools needs `initialize`, `tools/list`,
//! `tools/call`, `resources/list`, `resources/read` and `ping`: about 250 lines on serde_json
//! ([`protocol`]), with no new dependency. rmcp needs Rust 1.88 (we support 1.85), always
//! brings tokio, tokio-util, futures, tracing, a second sha2 and its proc-macro crate, and is
//! 61k lines that change with every protocol revision; the server is synchronous (one request
//! at a time) and gains nothing from an async runtime.
//!
//! The model is reached only through [`source::Source`], which holds the in-memory workspace
//! (`crate::workspace`, the language server's) and refreshes it from the disk before every
//! call, so a file the agent just wrote is seen.
//!
//! @component Threatmark:MCP server (#mcp_server) in #process [type: process]: answers a coding agent's JSON-RPC requests on stdio with the model, its analysis and snippet diagnostics
//! @actor Coding agent (#coding_agent): an LLM agent driving `threatmark mcp`; it follows instructions it read in files, issues and web pages, so its requests are untrusted
//! @threat Agent drives the server to change files (#agent_writes) [stride: T; likelihood: possible; impact: major; cwe: 284; actor: #coding_agent]:
//! a prompt-injected agent asks the server to rewrite annotations, configuration or code
//! @control Read-only server (#mcp_read_only): no tool writes a file; validation runs the pipeline on the snippet in memory
//! @mitigates #mcp_server against #agent_writes with #mcp_read_only
//! @threat Hostile JSON-RPC input (#mcp_hostile_input) [stride: D; likelihood: possible; impact: moderate; cwe: 400; actor: #coding_agent]:
//! an endless line, deeply nested JSON, a batch, an unknown method or wrong argument types crash the server or exhaust its memory
//! @control Bounded, validated messages (#mcp_bounded_input): a line over 4 MiB is read to its end and dropped with an error, JSON is parsed with serde_json's depth limit, and every bad message gets a JSON-RPC error, never a panic
//! @mitigates #mcp_server against #mcp_hostile_input with #mcp_bounded_input
//! @threat Repository strings steer the agent's terminal (#mcp_escapes) [stride: T; likelihood: possible; impact: minor; cwe: 150; actor: #malicious_contributor]:
//! a threat named with ANSI escapes or bidi controls reaches the agent's screen through a tool result
//! @control Repository strings as JSON values (#mcp_json_strings): ids and names reach the agent inside JSON strings, and in result text only through `escape::printable`
//! @mitigates #mcp_server against #mcp_escapes with #mcp_json_strings
//! @component Coding agent's MCP client (#agent_client) in #consumers [type: external]: Claude Code, Cursor, Copilot, Codex... starting `threatmark mcp` and sending it requests
//! @connects #agent_client to #mcp_server with JSON-RPC over stdio
//! @connects #mcp_server to #workspace with refresh requests

mod protocol;
mod source;
mod tools;

use std::io::Write;

use serde_json::{Value, json};

use self::protocol::{Message, RpcError};
use super::RootArgs;
use crate::exit;

/// The longest message read; longer lines are dropped with an error.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark mcp                       serve the repository in the current folder
  $ threatmark mcp -C services/api       serve another folder's model

Agents start it themselves: `claude mcp add threatmark -- threatmark mcp`; docs/agents.md
configures Cursor, VS Code, Codex and Windsurf.")]
pub struct McpArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Worker threads of the walk (default: one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
}

/// Serve until stdin closes (exit 0); an unreadable stdin or closed stdout is exit 2.
pub(super) fn run(args: McpArgs) -> anyhow::Result<u8> {
    let root = args.root.dir();
    if std::fs::metadata(root).map(|m| !m.is_dir()).unwrap_or(true) {
        anyhow::bail!(
            "{} is not a folder: give the repository to serve with `-C DIR`",
            crate::render::escape::printable(&root.display().to_string())
        );
    }
    let mut server = Server {
        source: source::Source::new(args.root, args.threads),
        version: protocol::SUPPORTED_VERSIONS[0],
    };
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    while let Some(incoming) = protocol::read_message(&mut input, MAX_MESSAGE)? {
        let reply = match incoming {
            protocol::Incoming::TooLarge => Some(protocol::error(
                &Value::Null,
                &RpcError::new(
                    protocol::INVALID_REQUEST,
                    format!("message over {} MiB; it was dropped", MAX_MESSAGE >> 20),
                ),
            )),
            protocol::Incoming::Line(line) if line.iter().all(u8::is_ascii_whitespace) => None,
            protocol::Incoming::Line(line) => server.handle(&line),
        };
        if let Some(reply) = reply {
            let mut bytes = serde_json::to_vec(&reply)?;
            bytes.push(b'\n');
            output.write_all(&bytes)?;
            output.flush()?;
        }
    }
    Ok(exit::OK)
}

struct Server {
    source: source::Source,
    /// The protocol version agreed in `initialize`.
    version: &'static str,
}

impl Server {
    /// The reply to one line, if it gets one.
    fn handle(&mut self, line: &[u8]) -> Option<Value> {
        match protocol::parse(line) {
            Message::Invalid { id, error } => Some(protocol::error(&id, &error)),
            // Notifications (initialized, cancelled) need nothing from a synchronous server.
            Message::Notification | Message::Response => None,
            Message::Request { id, method, params } => Some(match self.request(&method, &params) {
                Ok(result) => protocol::response(&id, result),
                Err(e) => protocol::error(&id, &e),
            }),
        }
    }

    fn request(&mut self, method: &str, params: &Value) -> Result<Value, RpcError> {
        let str_param = |key: &str| params.get(key).and_then(Value::as_str);
        match method {
            "initialize" => {
                self.version = protocol::negotiate(str_param("protocolVersion"));
                Ok(json!({
                    "protocolVersion": self.version,
                    "capabilities": {
                        "tools": {"listChanged": false},
                        "resources": {"listChanged": false, "subscribe": false}
                    },
                    "serverInfo": {"name": "threatmark", "title": "threatmark threat model", "version": env!("CARGO_PKG_VERSION")},
                    "instructions": "Read-only access to the repository's threat model, built from annotations in its source comments (@threat, @control, @mitigates...). Before writing or changing an annotation, call validate_annotation with it; read the resource threatmark://docs/annotations.md for the syntax."
                }))
            }
            "ping" => Ok(json!({})),
            "tools/list" => Ok(tools::list()),
            "tools/call" => {
                let Some(name) = str_param("name") else {
                    return Err(RpcError::params("tools/call needs a tool `name`"));
                };
                let args = params.get("arguments").unwrap_or(&Value::Null);
                let outcome = tools::call(&mut self.source, name, args)?;
                let mut result = json!({
                    "content": [{"type": "text", "text": outcome.text}],
                    "isError": outcome.is_error,
                });
                if protocol::has_structured_content(self.version) {
                    result["structuredContent"] = outcome.data;
                }
                Ok(result)
            }
            "resources/list" => Ok(tools::resources()),
            "resources/templates/list" => Ok(json!({"resourceTemplates": []})),
            "resources/read" => match str_param("uri") {
                Some(uri) => tools::read(&mut self.source, uri),
                None => Err(RpcError::params("resources/read needs a `uri`")),
            },
            _ => Err(RpcError::new(
                protocol::METHOD_NOT_FOUND,
                format!(
                    "method `{}` is not supported",
                    crate::render::escape::printable(method)
                ),
            )),
        }
    }
}
