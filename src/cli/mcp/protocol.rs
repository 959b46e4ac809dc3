//! JSON-RPC 2.0 over the MCP stdio transport: one JSON message per line on stdin, one per line
//! on stdout (a message never contains a raw newline, serde_json escapes it). Hand-written on
//! serde_json rather than on the `rmcp` SDK: see the module doc of `cli::mcp` for why.
//!
//! The client is untrusted input: a line is read with a size limit ([`read_message`]), so an
//! endless line costs a bounded buffer and one error reply, not the machine's memory; JSON that
//! does not parse (or nests too deep: serde_json stops at 128 levels) is a parse error, never a
//! panic.

use std::io::BufRead;

use serde_json::{Value, json};

/// The protocol versions this server speaks, newest first. A client asking for one of them
/// gets it back; any other gets the newest (the client then decides whether to go on).
pub(crate) const SUPPORTED_VERSIONS: &[&str] =
    &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The answer to `initialize`'s `protocolVersion`.
pub(crate) fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r))
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

/// Does the negotiated version know `structuredContent` in tool results (2025-06-18 on)?
pub(crate) fn has_structured_content(version: &str) -> bool {
    version >= "2025-06-18"
}

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// MCP's code for a resource URI it does not know.
pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;

/// A JSON-RPC error, before it is wrapped in a response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }
}

pub(crate) fn response(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub(crate) fn error(id: &Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

/// One line of input.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// A line (without its newline), at most the limit long.
    Line(Vec<u8>),
    /// A line over the limit: it was read to its end and dropped.
    TooLarge,
}

/// Read the next line of at most `limit` bytes; `None` at the end of input. A longer line is
/// consumed to its newline without being kept.
pub(crate) fn read_message(
    input: &mut impl BufRead,
    limit: usize,
) -> std::io::Result<Option<Incoming>> {
    let mut line = Vec::new();
    let mut over = false;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(match (any, over) {
                (false, _) => None,
                (true, true) => Some(Incoming::TooLarge),
                (true, false) => Some(Incoming::Line(line)),
            });
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !over {
            if line.len() + chunk.len() > limit {
                over = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(if over {
                Incoming::TooLarge
            } else {
                Incoming::Line(line)
            }));
        }
    }
}

/// What a parsed line is.
#[derive(Debug)]
pub(crate) enum Message {
    /// A request: it gets exactly one response with its id.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification (no id): no response.
    Notification,
    /// A response to a request of ours (we send none): ignored.
    Response,
    /// Not a valid message: answered with this error (and the id, when it had a usable one).
    Invalid { id: Value, error: RpcError },
}

/// Classify one line.
pub(crate) fn parse(line: &[u8]) -> Message {
    let invalid = |id: Value, code, message: &str| Message::Invalid {
        id,
        error: RpcError::new(code, message),
    };
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return invalid(Value::Null, PARSE_ERROR, &format!("parse error: {e}")),
    };
    let Value::Object(mut object) = value else {
        let why = match value {
            Value::Array(_) => "batches are not supported: send one request per line",
            _ => "a request must be a JSON object",
        };
        return invalid(Value::Null, INVALID_REQUEST, why);
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => {
            return invalid(
                Value::Null,
                INVALID_REQUEST,
                "the id must be a string or a number",
            );
        }
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "`jsonrpc` must be \"2.0\"",
        );
    }
    let method = match object.remove("method") {
        Some(Value::String(m)) => m,
        None if object.contains_key("result") || object.contains_key("error") => {
            return Message::Response;
        }
        _ => {
            return invalid(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "`method` must be a string",
            );
        }
    };
    let params = object.remove("params").unwrap_or(Value::Null);
    match id {
        Some(id) => Message::Request { id, method, params },
        None => Message::Notification,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], limit: usize) -> Vec<Incoming> {
        let mut reader = std::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        while let Some(m) = read_message(&mut reader, limit).expect("read") {
            out.push(m);
        }
        out
    }

    #[test]
    fn lines_over_the_limit_are_dropped_and_the_next_one_is_read() {
        let long = format!("{}\n{{\"a\":1}}\n", "x".repeat(100));
        assert_eq!(
            read_all(long.as_bytes(), 10),
            vec![Incoming::TooLarge, Incoming::Line(b"{\"a\":1}".to_vec())]
        );
        assert_eq!(
            read_all(b"abc", 10),
            vec![Incoming::Line(b"abc".to_vec())],
            "a last line without newline"
        );
        assert_eq!(read_all(b"", 10), vec![]);
    }

    #[test]
    fn versions_are_negotiated() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2099-01-01")), SUPPORTED_VERSIONS[0]);
        assert_eq!(negotiate(None), SUPPORTED_VERSIONS[0]);
        assert!(has_structured_content("2025-06-18"));
        assert!(!has_structured_content("2025-03-26"));
    }

    #[test]
    fn bad_messages_are_errors_not_panics() {
        let deep = "[".repeat(100_000);
        for (line, code) in [
            (&b"{not json"[..], PARSE_ERROR),
            (deep.as_bytes(), PARSE_ERROR),
            (
                b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                INVALID_REQUEST,
            ),
            (
                b"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
                INVALID_REQUEST,
            ),
            (
                b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
                INVALID_REQUEST,
            ),
            (
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
                INVALID_REQUEST,
            ),
        ] {
            match parse(line) {
                Message::Invalid { error, .. } => assert_eq!(error.code, code),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
            Message::Notification
        ));
        assert!(matches!(
            parse(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"),
            Message::Response
        ));
    }
}
