//! `threatmark lsp`: a Language Server over stdio (rust-analyzer's `lsp-server` transport and
//! `lsp-types` protocol types; synchronous, one thread handles every message in order).
//!
//! It keeps a [`Workspace`](crate::workspace::Workspace): every change to an open document
//! re-runs that file's pipeline, re-assembles the model and publishes the diagnostics of every
//! file whose diagnostics changed (a deleted `@control` breaks `@mitigates ... with #c` in
//! another file, and restoring it clears them). On top: definition, references, hover,
//! completion, rename (with `prepareRename`), code actions, document and workspace symbols for
//! `#id`s and names. Files changed on disk outside the editor are caught up with
//! (`Workspace::refresh`) at every save and watched-file change (the server registers a
//! watcher when the client allows it). Diagnostics of no file, and a configuration that does
//! not load (TM050), are published on the configuration file.
//!
//! Positions: LSP counts columns in UTF-16 code units unless the client accepts UTF-8
//! (`general.positionEncodings`), which is then used; both are converted from the byte offsets
//! of the pipeline ([`Encoding`]).
//!
//! @component Threatmark:Language server (#lsp) in #process [type: process]: `threatmark lsp`, spoken to by an editor over stdio
//! @threat Hostile editor messages crash the server (#lsp_hostile_input) [stride: D; likelihood: possible; impact: minor; cwe: 20; actor: #malicious_contributor]:
//! positions past the end of a line or document, a range whose start is after its end, a document outside the workspace, a huge document or an unknown method end the server, and the editor loses its diagnostics
//! @control Editor messages are validated (#lsp_validated_input): positions are clamped to the text and ranges with start after end are refused; documents outside the root are ignored with a log message; unknown methods get MethodNotFound; no panic on a client's value
//! @mitigates #lsp against #lsp_hostile_input with #lsp_validated_input
//! @mitigates #lsp against #editor_flood with #overlay_size_limit
//! @threat Repository text drives the editor (#lsp_markup) [stride: T; likelihood: unlikely; impact: minor; cwe: 116; actor: #malicious_contributor]:
//! a description in a committed annotation carries Markdown links or HTML that the editor's hover renders
//! @control Hover text is escaped Markdown (#lsp_escaped_hover): every repository string in a hover goes through the Markdown escaper
//! @mitigates #lsp against #lsp_markup with #lsp_escaped_hover
//! @connects #lsp to #workspace with document text

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::{self as lsp, Uri};
use serde_json::Value;

use super::RootArgs;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::render::escape;
use crate::workspace::{Place, Workspace, is_id_byte};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark lsp                  started by an editor in the repository (docs/editors.md)
  $ threatmark lsp -C services/api  serve this repository whatever the editor's folder

It speaks the Language Server Protocol on stdin and stdout; the repository is -C DIR, else the
client's workspace folder, else the current folder.")]
pub struct LspArgs {
    #[command(flatten)]
    pub root: RootArgs,
}

/// How a position's column counts: UTF-16 code units (the LSP default) or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf16,
    Utf8,
}

/// Byte offset to (line, column) in `enc`; lines end at `\n`.
pub(crate) fn position(text: &str, offset: usize, enc: Encoding) -> (u32, u32) {
    let offset = crate::text::floor_char_boundary(text, offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text.as_bytes()[..line_start]
        .iter()
        .filter(|b| **b == b'\n')
        .count();
    let col = match enc {
        Encoding::Utf8 => offset - line_start,
        Encoding::Utf16 => text[line_start..offset].encode_utf16().count(),
    };
    (to_u32(line), to_u32(col))
}

/// (line, column) in `enc` to a byte offset, clamped: a line past the end is the end of the
/// text, a column past the end of its line is the end of the line, a column inside a character
/// is that character's start.
pub(crate) fn offset(text: &str, line: u32, col: u32, enc: Encoding) -> usize {
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_text = &text[start..end];
    let col = col as usize;
    match enc {
        Encoding::Utf8 => {
            start + crate::text::floor_char_boundary(line_text, col.min(line_text.len()))
        }
        Encoding::Utf16 => {
            let mut units = 0;
            for (i, c) in line_text.char_indices() {
                if units + c.len_utf16() > col {
                    return start + i;
                }
                units += c.len_utf16();
            }
            end
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A file URI to a path (`file:///a%20b/c.py` -> `/a b/c.py`); `None` for other schemes.
pub(crate) fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://localhost/x` and `file:///x`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let mut bytes = Vec::with_capacity(rest.len());
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = rest.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            bytes.push(v);
            i += 3;
            continue;
        }
        bytes.push(b[i]);
        i += 1;
    }
    let path = String::from_utf8(bytes).ok()?;
    // Windows: `file:///C:/x` is `C:/x`.
    let path = match path.as_bytes() {
        [b'/', d, b':', ..] if d.is_ascii_alphabetic() => path[1..].to_string(),
        _ => path,
    };
    Some(PathBuf::from(path))
}

/// A path to a file URI, percent-encoded.
pub(crate) fn path_to_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The server's state: the workspace, the open documents and what was published.
struct Server {
    conn: Connection,
    ws: Workspace,
    /// The root as given and with links resolved, to recognise a document's path either way.
    roots: Vec<PathBuf>,
    enc: Encoding,
    /// Open documents by path relative to the root: the URI the client used, and the text.
    docs: BTreeMap<String, (Uri, String)>,
    /// Diagnostics last published, by path.
    published: BTreeMap<String, Vec<Diagnostic>>,
}

/// A request that cannot be answered: its error code and message.
type Failure = (ErrorCode, String);

fn failed(message: impl Into<String>) -> Failure {
    (ErrorCode::RequestFailed, message.into())
}

/// The capabilities announced in `initialize`'s answer.
fn capabilities(enc: Encoding) -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(match enc {
            Encoding::Utf8 => lsp::PositionEncodingKind::UTF8,
            Encoding::Utf16 => lsp::PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(
                ["@", "#", "[", ":", ";", " ", ","]
                    .map(String::from)
                    .to_vec(),
            ),
            ..Default::default()
        }),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
        ..Default::default()
    }
}

pub(super) fn run(args: LspArgs) -> anyhow::Result<u8> {
    let (conn, io) = Connection::stdio();
    let (id, params) = conn
        .initialize_start()
        .context("waiting for `initialize`")?;
    let params: lsp::InitializeParams =
        serde_json::from_value(params).context("reading `initialize`")?;
    let utf8 = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|list| list.contains(&lsp::PositionEncodingKind::UTF8));
    let enc = if utf8 {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    };
    #[allow(deprecated)] // `rootUri` and `rootPath`: older clients send only those.
    let client_root = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.as_str())
        .or(params.root_uri.as_ref().map(|u| u.as_str()))
        .and_then(uri_to_path)
        .or_else(|| params.root_path.as_ref().map(PathBuf::from));
    // Files changed outside the editor (a `git checkout`) are seen through the client's file
    // watcher when it lets the server register one, and at every save in any case.
    let watch_dynamically = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false);
    let root = match (&args.root.repo, &args.root.path, client_root) {
        (Some(dir), _, _) | (None, Some(dir), _) => dir.clone(),
        (None, None, Some(dir)) => dir,
        (None, None, None) => std::env::current_dir().context("the current folder")?,
    };
    let answer = lsp::InitializeResult {
        capabilities: capabilities(enc),
        server_info: Some(lsp::ServerInfo {
            name: "threatmark".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    };
    conn.initialize_finish(id, serde_json::to_value(answer)?)
        .context("answering `initialize`")?;
    let started = std::time::Instant::now();
    // A configuration that does not load is reported on its file (TM050), not fatal: the
    // server reads it again at each save.
    let ws = Workspace::open_or_report(&root, args.root.config.as_deref(), None);
    // URIs are absolute: `-C repo` must not publish `file:///repo/...`.
    let root = std::path::absolute(&root).unwrap_or(root);
    let mut roots = vec![root.clone()];
    if let Ok(real) = std::fs::canonicalize(&root)
        && real != root
    {
        roots.push(real);
    }
    let mut server = Server {
        conn,
        ws,
        roots,
        enc,
        docs: BTreeMap::new(),
        published: BTreeMap::new(),
    };
    server.log(&format!(
        "threatmark: loaded {} in {} ms ({} elements)",
        root.display(),
        started.elapsed().as_millis(),
        server.ws.elements().len()
    ));
    if watch_dynamically {
        server.register_watcher();
    }
    server.publish();
    server.serve()?;
    let Server { conn, .. } = server;
    drop(conn);
    io.join().context("closing stdio")?;
    Ok(crate::exit::OK)
}

/// A request's parameters, or InvalidParams.
fn params<P: serde::de::DeserializeOwned>(req: Request) -> Result<P, Failure> {
    serde_json::from_value(req.params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("{}: {e}", req.method)))
}

fn to_json<R: serde::Serialize>(r: R) -> Result<Value, Failure> {
    serde_json::to_value(r).map_err(|e| failed(e.to_string()))
}

impl Server {
    fn serve(&mut self) -> anyhow::Result<()> {
        while let Ok(msg) = self.conn.receiver.recv() {
            match msg {
                Message::Request(req) => {
                    if self.conn.handle_shutdown(&req)? {
                        return Ok(());
                    }
                    let id = req.id.clone();
                    let response = match self.request(req) {
                        Ok(result) => Response::new_ok(id, result),
                        Err((code, message)) => Response::new_err(id, code as i32, message),
                    };
                    self.send(Message::Response(response));
                }
                Message::Notification(n) => {
                    if n.method == "exit" {
                        return Ok(());
                    }
                    self.notification(n);
                }
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn send(&self, msg: Message) {
        // A client that went away ends the loop through the closed receiver.
        let _ = self.conn.sender.send(msg);
    }

    fn notify<N: lsp::notification::Notification>(&self, params: N::Params) {
        self.send(Message::Notification(Notification::new(
            N::METHOD.to_string(),
            params,
        )));
    }

    /// Ask the client to send `workspace/didChangeWatchedFiles` for every file of the root.
    fn register_watcher(&self) {
        let options = lsp::DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![lsp::FileSystemWatcher {
                glob_pattern: lsp::GlobPattern::String("**/*".to_string()),
                kind: None,
            }],
        };
        let params = lsp::RegistrationParams {
            registrations: vec![lsp::Registration {
                id: "threatmark-watched-files".to_string(),
                method: "workspace/didChangeWatchedFiles".to_string(),
                register_options: serde_json::to_value(options).ok(),
            }],
        };
        self.send(Message::Request(Request::new(
            lsp_server::RequestId::from("threatmark-register-watcher".to_string()),
            "client/registerCapability".to_string(),
            params,
        )));
    }

    fn log(&self, message: &str) {
        self.notify::<lsp::notification::LogMessage>(lsp::LogMessageParams {
            typ: lsp::MessageType::LOG,
            message: message.to_string(),
        });
    }

    /// The path of a document relative to the root, if it is in the workspace.
    fn rel(&self, uri: &Uri) -> Option<String> {
        let path = uri_to_path(uri.as_str())?;
        for root in &self.roots {
            if let Ok(rel) = path.strip_prefix(root) {
                let parts: Option<Vec<&str>> = rel
                    .components()
                    .map(|c| match c {
                        std::path::Component::Normal(p) => p.to_str(),
                        _ => None,
                    })
                    .collect();
                return parts.map(|p| p.join("/")).filter(|r| !r.is_empty());
            }
        }
        None
    }

    fn uri_of(&self, rel: &str) -> Option<Uri> {
        match self.docs.get(rel) {
            Some((uri, _)) => Some(uri.clone()),
            None => path_to_uri(&self.roots[0].join(rel)).parse().ok(),
        }
    }

    /// `rel` of the document a request names, or an error for a document outside the root.
    fn doc_rel(&self, doc: &lsp::TextDocumentIdentifier) -> Result<String, Failure> {
        self.rel(&doc.uri).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("{} is not in the workspace", doc.uri.as_str()),
            )
        })
    }

    /// The text of a file as the client sees it.
    fn text(&self, rel: &str) -> String {
        match self.docs.get(rel) {
            Some((_, text)) => text.clone(),
            None => self.ws.text(rel).map(|t| t.to_string()).unwrap_or_default(),
        }
    }

    /// The document and the byte offset of a request's position.
    fn at(&self, p: &lsp::TextDocumentPositionParams) -> Result<(String, String, usize), Failure> {
        let rel = self.doc_rel(&p.text_document)?;
        let text = self.text(&rel);
        let at = self.offset(&text, p.position);
        Ok((rel, text, at))
    }

    fn offset(&self, text: &str, p: lsp::Position) -> usize {
        offset(text, p.line, p.character, self.enc)
    }

    fn range(&self, text: &str, start: usize, end: usize) -> lsp::Range {
        let (sl, sc) = position(text, start, self.enc);
        let (el, ec) = position(text, end.max(start), self.enc);
        lsp::Range::new(lsp::Position::new(sl, sc), lsp::Position::new(el, ec))
    }

    fn location(&self, place: &Place) -> Option<lsp::Location> {
        let text = self.text(&place.path);
        Some(lsp::Location::new(
            self.uri_of(&place.path)?,
            self.range(&text, place.start, place.end),
        ))
    }

    fn notification(&mut self, n: Notification) {
        use lsp::notification::{
            DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument,
            DidOpenTextDocument, DidSaveTextDocument, Notification as _,
        };
        let Notification { method, params } = n;
        let (uri, text) = match method.as_str() {
            DidOpenTextDocument::METHOD => {
                match serde_json::from_value::<lsp::DidOpenTextDocumentParams>(params) {
                    Ok(p) => (p.text_document.uri, Some(p.text_document.text)),
                    Err(e) => return self.log(&format!("threatmark: {method}: {e}")),
                }
            }
            DidChangeTextDocument::METHOD => {
                let p = match serde_json::from_value::<lsp::DidChangeTextDocumentParams>(params) {
                    Ok(p) => p,
                    Err(e) => return self.log(&format!("threatmark: {method}: {e}")),
                };
                let uri = p.text_document.uri;
                let Some(rel) = self.rel(&uri) else {
                    return self.log(&format!(
                        "threatmark: {} is outside the workspace; ignored",
                        uri.as_str()
                    ));
                };
                let Some((_, old)) = self.docs.get(&rel) else {
                    return self.log(&format!(
                        "threatmark: change to {}, which is not open; ignored",
                        uri.as_str()
                    ));
                };
                match self.changed(old, &p.content_changes) {
                    Some(text) => (uri, Some(text)),
                    None => return,
                }
            }
            DidCloseTextDocument::METHOD => {
                match serde_json::from_value::<lsp::DidCloseTextDocumentParams>(params) {
                    Ok(p) => (p.text_document.uri, None),
                    Err(e) => return self.log(&format!("threatmark: {method}: {e}")),
                }
            }
            // Files changed on disk (a checkout, a generator, the configuration), or a save:
            // the workspace catches up with the disk as a whole (a walk, so ignore files and
            // include/exclude decide about new files; only changed files are read again).
            DidChangeWatchedFiles::METHOD | DidSaveTextDocument::METHOD => {
                match self.ws.refresh() {
                    Ok(true) => self.publish(),
                    Ok(false) => {}
                    Err(e) => self.log(&format!("threatmark: {e}")),
                }
                return;
            }
            _ => return,
        };
        let Some(rel) = self.rel(&uri) else {
            return self.log(&format!(
                "threatmark: {} is outside the workspace; ignored",
                uri.as_str()
            ));
        };
        match &text {
            Some(text) => {
                self.docs.insert(rel.clone(), (uri.clone(), text.clone()));
            }
            None => {
                self.docs.remove(&rel);
            }
        }
        if self.ws.update(&rel, text.as_deref()) {
            self.publish();
        } else {
            self.log(&format!(
                "threatmark: {} is not a file the configuration scans",
                uri.as_str()
            ));
        }
    }

    /// The text after `didChange`'s content changes, applied in order; `None` when one is not
    /// understood (the text is then left as it was, and the change logged).
    fn changed(
        &self,
        old: &str,
        changes: &[lsp::TextDocumentContentChangeEvent],
    ) -> Option<String> {
        let mut text = old.to_string();
        for change in changes {
            match change.range {
                None => text = change.text.clone(),
                Some(range) => {
                    let start = self.offset(&text, range.start);
                    let end = self.offset(&text, range.end);
                    if start > end {
                        self.log("threatmark: a change whose range ends before it starts; ignored");
                        return None;
                    }
                    text.replace_range(start..end, &change.text);
                }
            }
        }
        Some(text)
    }

    /// Publish the diagnostics of every file whose diagnostics changed since the last time.
    fn publish(&mut self) {
        // Diagnostics of no file are the configuration's: shown on its file.
        let mut current = self.ws.diagnostics_by_file().clone();
        if let Some(general) = current.remove("") {
            let mut at = current.remove(&self.ws.config_file()).unwrap_or_default();
            at.extend(general);
            current.insert(self.ws.config_file(), at);
        }
        let paths: BTreeSet<String> = current
            .keys()
            .chain(self.published.keys())
            .filter(|p| !p.is_empty())
            .cloned()
            .collect();
        let mut changed = Vec::new();
        for path in paths {
            let now = current.get(&path).cloned().unwrap_or_default();
            if self
                .published
                .get(&path)
                .map_or(now.is_empty(), |old| *old == now)
            {
                continue;
            }
            changed.push((path, now));
        }
        for (path, diags) in changed {
            let text = self.text(&path);
            let Some(uri) = self.uri_of(&path) else {
                continue;
            };
            let items = diags.iter().map(|d| self.diagnostic(&text, d)).collect();
            self.notify::<lsp::notification::PublishDiagnostics>(
                lsp::PublishDiagnosticsParams::new(uri, items, None),
            );
            if diags.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path, diags);
            }
        }
    }

    /// One diagnostic in LSP's terms: the span (else the located line), the code, the
    /// severity, the message with its label and help.
    fn diagnostic(&self, text: &str, d: &Diagnostic) -> lsp::Diagnostic {
        let (start, end) = span_of(text, d);
        let severity = match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Note => lsp::DiagnosticSeverity::INFORMATION,
        };
        let mut message = d.message.clone();
        if let Some(label) = &d.label {
            message.push_str(&format!(" ({label})"));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        lsp::Diagnostic {
            range: self.range(text, start, end),
            severity: Some(severity),
            code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
            source: Some("threatmark".to_string()),
            message,
            ..Default::default()
        }
    }

    fn request(&mut self, req: Request) -> Result<Value, Failure> {
        use lsp::request::{
            CodeActionRequest, Completion, DocumentSymbolRequest, GotoDefinition, HoverRequest,
            PrepareRenameRequest, References, Rename, Request as _, WorkspaceSymbolRequest,
        };
        match req.method.as_str() {
            GotoDefinition::METHOD => to_json(self.definition(params(req)?)?),
            References::METHOD => to_json(self.references(params(req)?)?),
            HoverRequest::METHOD => to_json(self.hover(params(req)?)?),
            Completion::METHOD => to_json(self.completion(params(req)?)?),
            Rename::METHOD => to_json(self.rename(params(req)?)?),
            PrepareRenameRequest::METHOD => to_json(self.prepare_rename(params(req)?)?),
            CodeActionRequest::METHOD => to_json(self.code_action(params(req)?)?),
            DocumentSymbolRequest::METHOD => to_json(self.document_symbols(params(req)?)?),
            WorkspaceSymbolRequest::METHOD => to_json(self.workspace_symbols(params(req)?)),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("unknown method {}", escape::printable(other)),
            )),
        }
    }

    /// The id under the cursor: a `#id`, or an element's name (the longest on the line that
    /// covers the cursor), with the byte range it covers.
    fn target(&self, text: &str, at: usize) -> Option<(String, usize, usize)> {
        let b = text.as_bytes();
        let at = at.min(b.len());
        let mut start = at;
        while start > 0 && is_id_byte(b[start - 1]) {
            start -= 1;
        }
        let mut end = at;
        while end < b.len() && is_id_byte(b[end]) {
            end += 1;
        }
        if start > 0 && b[start - 1] == b'#' && end > start {
            let id = text[start..end].trim_end_matches(['.', ':']).to_string();
            let end = start + id.len();
            return Some((id, start - 1, end));
        }
        // `#` itself under the cursor.
        if at + 1 < b.len() && b[at] == b'#' && is_id_byte(b[at + 1]) {
            return self.target(text, at + 1);
        }
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = &text[line_start..line_end];
        let mut best: Option<(String, usize, usize)> = None;
        for e in self.ws.elements() {
            if e.name.is_empty() || e.name.len() > line.len() {
                continue;
            }
            for (i, _) in line.match_indices(e.name) {
                let (s, t) = (line_start + i, line_start + i + e.name.len());
                if s <= at && at <= t && best.as_ref().is_none_or(|(_, bs, bt)| t - s > bt - bs) {
                    best = Some((e.id.to_string(), s, t));
                }
            }
        }
        best
    }

    fn definition(&self, p: lsp::GotoDefinitionParams) -> Result<Option<lsp::Location>, Failure> {
        let (_, text, at) = self.at(&p.text_document_position_params)?;
        let Some((id, _, _)) = self.target(&text, at) else {
            return Ok(None);
        };
        Ok(self
            .ws
            .declaration(&id)
            .and_then(|place| self.location(&place)))
    }

    fn references(&self, p: lsp::ReferenceParams) -> Result<Option<Vec<lsp::Location>>, Failure> {
        let (_, text, at) = self.at(&p.text_document_position)?;
        let Some((id, _, _)) = self.target(&text, at) else {
            return Ok(None);
        };
        let mut places = self.ws.references(&id);
        if let Some(e) = self.ws.element(&id) {
            places.extend(self.ws.name_references(e.name));
        }
        places.sort();
        places.dedup();
        Ok(Some(
            places.iter().filter_map(|pl| self.location(pl)).collect(),
        ))
    }

    fn hover(&self, p: lsp::HoverParams) -> Result<Option<lsp::Hover>, Failure> {
        let (_, text, at) = self.at(&p.text_document_position_params)?;
        let Some((id, start, end)) = self.target(&text, at) else {
            return Ok(None);
        };
        let Some(e) = self.ws.element(&id) else {
            return Ok(None);
        };
        let md = escape::markdown;
        let mut out = format!("**{}** `#{}` ({})\n\n", md(e.name), e.id, e.kind);
        if !e.description.is_empty() {
            out.push_str(&format!("{}\n\n", md(e.description)));
        }
        let a = e.attributes;
        if !a.stride.is_empty() {
            let letters: String = a.stride.iter().map(|s| s.letter()).collect();
            let titles: Vec<&str> = a.stride.iter().map(|s| s.title()).collect();
            out.push_str(&format!("- STRIDE: {letters} ({})\n", titles.join(", ")));
        }
        let assessed = self
            .ws
            .analysis()
            .and_then(|an| an.threats.iter().find(|t| t.threat == e.id));
        if let Some(t) = assessed {
            if let Some(r) = &t.risk {
                out.push_str(&format!("- risk: {} ({})\n", r.score, r.band.as_str()));
            }
            out.push_str(&format!("- residual status: {}\n", residual(t.status)));
        }
        if let Some(owner) = &a.owner {
            out.push_str(&format!("- owner: {}\n", md(owner)));
        }
        let mitigations: Vec<String> = self
            .ws
            .model()
            .mitigations
            .iter()
            .filter(|m| {
                [&m.link.threat, &m.link.control, &m.link.component].contains(&&e.id.to_string())
            })
            .map(|m| {
                format!(
                    "`#{}` against `#{}` with `#{}`",
                    m.link.component, m.link.threat, m.link.control
                )
            })
            .collect();
        if !mitigations.is_empty() {
            out.push_str(&format!("- mitigations: {}\n", mitigations.join("; ")));
        }
        match self.ws.declaration(e.id) {
            Some(at) => {
                let line = position(&self.text(&at.path), at.start, self.enc).0 + 1;
                out.push_str(&format!("- declared at {}:{line}\n", md(&at.path)));
            }
            None => out.push_str("- never declared\n"),
        }
        Ok(Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: out,
            }),
            range: Some(self.range(&text, start, end)),
        }))
    }

    fn completion(&self, p: lsp::CompletionParams) -> Result<lsp::CompletionResponse, Failure> {
        let (_, text, at) = self.at(&p.text_document_position)?;
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let items = completions(&self.ws, &text[line_start..at]);
        Ok(lsp::CompletionResponse::Array(items))
    }

    /// The `#id` under the cursor that a rename would change: its range (without the `#`) and
    /// the id as the placeholder. Anywhere else (prose, a name, an id of nothing) it is refused,
    /// so the editor does not offer a rename that cannot be done.
    fn prepare_rename(
        &self,
        p: lsp::TextDocumentPositionParams,
    ) -> Result<lsp::PrepareRenameResponse, Failure> {
        let (_, text, at) = self.at(&p)?;
        let Some((id, start, end)) = self
            .target(&text, at)
            .filter(|(_, start, _)| text.as_bytes().get(*start) == Some(&b'#'))
        else {
            return Err(failed("only a #id can be renamed: put the cursor on one"));
        };
        if self.ws.element(&id).is_none() {
            return Err(failed(format!(
                "`#{}` is not an element of the model",
                escape::printable(&id)
            )));
        }
        Ok(lsp::PrepareRenameResponse::RangeWithPlaceholder {
            range: self.range(&text, start + 1, end),
            placeholder: id,
        })
    }

    fn rename(&self, p: lsp::RenameParams) -> Result<lsp::WorkspaceEdit, Failure> {
        let (_, text, at) = self.at(&p.text_document_position)?;
        let new = p.new_name.strip_prefix('#').unwrap_or(&p.new_name);
        let Some((id, _, _)) = self.target(&text, at) else {
            return Err(failed("no #id or element name here to rename"));
        };
        if !crate::model::ids::is_valid_id(new) {
            return Err(failed(format!(
                "`{}` is not an id: use letters, digits, `_`, `-`, `.` and `:`",
                escape::printable(new)
            )));
        }
        if new != id && self.ws.element(new).is_some() {
            return Err(failed(format!("`#{new}` is already taken")));
        }
        #[allow(clippy::mutable_key_type)] // Uri's hash does not change.
        let mut changes: std::collections::HashMap<Uri, Vec<lsp::TextEdit>> = Default::default();
        for place in self.ws.references(&id) {
            let text = self.text(&place.path);
            let Some(uri) = self.uri_of(&place.path) else {
                continue;
            };
            changes.entry(uri).or_default().push(lsp::TextEdit::new(
                self.range(&text, place.start, place.end),
                format!("#{new}"),
            ));
        }
        Ok(lsp::WorkspaceEdit::new(changes))
    }

    fn code_action(
        &self,
        p: lsp::CodeActionParams,
    ) -> Result<Vec<lsp::CodeActionOrCommand>, Failure> {
        let rel = self.doc_rel(&p.text_document)?;
        let text = self.text(&rel);
        let start = self.offset(&text, p.range.start);
        let end = self.offset(&text, p.range.end);
        let Some(uri) = self.uri_of(&rel) else {
            return Ok(Vec::new());
        };
        let mut actions = Vec::new();
        for d in self
            .ws
            .diagnostics_by_file()
            .get(&rel)
            .into_iter()
            .flatten()
        {
            let (ds, de) = span_of(&text, d);
            // The diagnostic's lines, to compare with the requested range.
            let line_start = text[..ds].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[de..].find('\n').map_or(text.len(), |i| de + i);
            if line_end < start || line_start > end {
                continue;
            }
            let line = &text[line_start..line_end];
            let diag = self.diagnostic(&text, d);
            let action = |title: String, s: usize, e: usize, new: String, preferred: bool| {
                #[allow(clippy::mutable_key_type)] // Uri's hash does not change.
                let changes = std::iter::once((
                    uri.clone(),
                    vec![lsp::TextEdit::new(self.range(&text, s, e), new)],
                ))
                .collect();
                lsp::CodeAction {
                    title,
                    kind: Some(lsp::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diag.clone()]),
                    edit: Some(lsp::WorkspaceEdit::new(changes)),
                    is_preferred: preferred.then_some(true),
                    ..Default::default()
                }
            };
            let help = d.help.as_deref().unwrap_or("");
            // "did you mean `#x`?" (a reference one edit away from an id): replace it.
            if let Some(near) = between(help, "did you mean `#", "`?")
                && d.span.is_some()
            {
                let title = format!("Use the declared id `#{near}`");
                actions.push(action(title, ds, de, format!("#{near}"), true));
            }
            // A `with` that names a declared control by another name: use its id.
            if let Some(near) = between(help, "write `with #", "`")
                && let Some(w) = line.find(" with ")
            {
                let s = line_start + w + " with ".len();
                let e = text[s..line_end]
                    .find([';', '[', '\r'])
                    .map_or(line_end, |i| s + i);
                let title = format!("Use the declared id `#{near}`");
                actions.push(action(title, s, e, format!("#{near}"), true));
            }
            // An undeclared control: declare it on the next line, in the same comment style.
            let control = match d.code {
                Code::UndeclaredControl => between(&d.message, "(#", ")").map(|id| {
                    let name = between(&d.message, "control `", "`").unwrap_or(id);
                    (id.to_string(), name.to_string())
                }),
                Code::UndeclaredReference if d.message.starts_with("control `#") => {
                    between(&d.message, "`#", "`").map(|id| (id.to_string(), id.to_string()))
                }
                _ => None,
            };
            if let Some((id, name)) = control {
                let prefix = line.find('@').map_or("", |i| &line[..i]);
                let mut insert = format!("{prefix}@control {name} (#{id}): TODO what it does\n");
                let at = (line_end + 1).min(text.len());
                if line_end == text.len() {
                    insert.insert(0, '\n');
                }
                let title = format!("Declare the control `#{id}`");
                actions.push(action(title, at, at, insert, false));
            }
            // `@mitigates` without `with`: add one, naming a declared control.
            if d.code == Code::MissingClause && d.message.starts_with("`@mitigates`") {
                let e = line_start + line.trim_end().len();
                let control = self
                    .ws
                    .model()
                    .controls
                    .iter()
                    .find(|c| c.declared)
                    .map_or("control", |c| c.id.as_str());
                let title = "Add `with` and a control".to_string();
                actions.push(action(title, e, e, format!(" with #{control}"), false));
            }
        }
        // The same fix offered by two diagnostics of one line is offered once.
        actions.dedup_by(|a, b| a.title == b.title);
        Ok(actions
            .into_iter()
            .map(lsp::CodeActionOrCommand::CodeAction)
            .collect())
    }

    fn document_symbols(
        &self,
        p: lsp::DocumentSymbolParams,
    ) -> Result<Vec<lsp::DocumentSymbol>, Failure> {
        let rel = self.doc_rel(&p.text_document)?;
        let text = self.text(&rel);
        let mut symbols = Vec::new();
        for e in self.ws.elements() {
            for s in e.sources.iter().filter(|s| s.path == rel) {
                let Some((start, end)) = line_span(&text, s.line, s.column) else {
                    continue;
                };
                let range = self.range(&text, start, end);
                #[allow(deprecated)] // `deprecated` is a required field of the type.
                symbols.push(lsp::DocumentSymbol {
                    name: e.name.to_string(),
                    detail: Some(format!("{} #{}", e.kind, e.id)),
                    kind: symbol_kind(e.kind),
                    tags: None,
                    deprecated: None,
                    range,
                    selection_range: range,
                    children: None,
                });
            }
        }
        symbols.sort_by_key(|s| (s.range.start.line, s.range.start.character));
        Ok(symbols)
    }

    fn workspace_symbols(&self, p: lsp::WorkspaceSymbolParams) -> Vec<lsp::WorkspaceSymbol> {
        let query = p.query.to_lowercase();
        let mut out = Vec::new();
        for e in self.ws.elements() {
            if !query.is_empty()
                && !e.name.to_lowercase().contains(&query)
                && !e.id.to_lowercase().contains(&query)
            {
                continue;
            }
            let place = self.ws.declaration(e.id).or_else(|| {
                let s = e.sources.first()?;
                let text = self.text(&s.path);
                let (start, end) = line_span(&text, s.line, s.column)?;
                Some(Place {
                    path: s.path.clone(),
                    start,
                    end,
                })
            });
            let Some(location) = place.and_then(|p| self.location(&p)) else {
                continue;
            };
            out.push(lsp::WorkspaceSymbol {
                name: e.name.to_string(),
                kind: symbol_kind(e.kind),
                tags: None,
                container_name: Some(format!("{} #{}", e.kind, e.id)),
                location: lsp::OneOf::Left(location),
                data: None,
            });
            if out.len() >= MAX_SYMBOLS {
                break;
            }
        }
        out
    }
}

/// Workspace symbols answered at most (a query of one letter on a huge model).
const MAX_SYMBOLS: usize = 1000;

/// The text between `open` and the next `close` in `s`.
fn between<'s>(s: &'s str, open: &str, close: &str) -> Option<&'s str> {
    let from = s.find(open)? + open.len();
    let len = s[from..].find(close)?;
    Some(&s[from..from + len])
}

/// Byte range of a diagnostic in `text`: its span, else its line from its column on, else the
/// start of the file.
fn span_of(text: &str, d: &Diagnostic) -> (usize, usize) {
    if let Some(s) = d.span
        && s.start <= s.end
        && s.end <= text.len()
    {
        return (
            crate::text::floor_char_boundary(text, s.start),
            crate::text::floor_char_boundary(text, s.end),
        );
    }
    d.location
        .as_ref()
        .and_then(|l| line_span(text, l.line, l.column))
        .unwrap_or((0, 0))
}

/// From a 1-based line and character column to the end of that line.
fn line_span(text: &str, line: u32, column: u32) -> Option<(usize, usize)> {
    let line = (line as usize).checked_sub(1)?;
    let mut start = 0;
    for _ in 0..line {
        start += text[start..].find('\n')? + 1;
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let end = if text[..end].ends_with('\r') {
        end - 1
    } else {
        end
    };
    let col = text[start..end]
        .char_indices()
        .nth((column as usize).saturating_sub(1))
        .map_or(start, |(i, _)| start + i);
    Some((col, end))
}

fn residual(r: crate::analysis::Residual) -> &'static str {
    use crate::analysis::Residual::*;
    match r {
        Exposed => "exposed",
        Open => "open",
        Accepted => "accepted",
        Transferred => "transferred",
        Mitigated => "mitigated",
    }
}

/// LSP's SymbolKind for an element kind.
fn symbol_kind(kind: &str) -> lsp::SymbolKind {
    match kind {
        "component" => lsp::SymbolKind::CLASS,
        "boundary" => lsp::SymbolKind::NAMESPACE,
        "actor" => lsp::SymbolKind::OBJECT,
        "threat" => lsp::SymbolKind::EVENT,
        "control" => lsp::SymbolKind::FUNCTION,
        _ => lsp::SymbolKind::VARIABLE,
    }
}

/// The attribute keys offered inside `[...]`, with what they take.
const KEYS: &[(&str, &str)] = &[
    ("stride", "STRIDE letters or words: S, T, R, I, D, E"),
    ("likelihood", "rare, unlikely, possible, likely, certain"),
    ("impact", "negligible, minor, moderate, major, severe"),
    ("severity", "a risk band: very-low to critical"),
    ("status", "open, mitigated, accepted, transferred"),
    ("owner", "who answers for it (@team)"),
    ("expires", "YYYY-MM-DD: when an acceptance lapses"),
    ("ticket", "an issue key or URL"),
    ("cwe", "CWE numbers"),
    ("capec", "CAPEC numbers"),
    ("actor", "#actor: who carries the threat out"),
    ("type", "process, store, external"),
];

/// What may follow the text `before` the cursor on its line: tags after `@`, ids after `#`,
/// attribute keys inside `[...]`, and the values of the key before a `:`.
fn completions(ws: &Workspace, before: &str) -> Vec<lsp::CompletionItem> {
    use lsp::CompletionItemKind as K;
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let trigger = before[..word_start].chars().next_back();
    let item = |label: &str, kind: K, detail: String| lsp::CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail),
        ..Default::default()
    };
    // `@tag`, at the start of a comment's text.
    if trigger == Some('@') {
        let before_at = &before[..word_start - 1];
        if before_at
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
        {
            return crate::annotation::Tag::SPELLINGS
                .iter()
                .filter(|(s, t)| t.as_str() == *s)
                .map(|(s, _)| item(s, K::KEYWORD, format!("@{s} annotation")))
                .collect();
        }
    }
    // `#id`
    if trigger == Some('#') {
        return ws
            .elements()
            .iter()
            .map(|e| item(e.id, K::REFERENCE, format!("{} {}", e.kind, e.name)))
            .collect();
    }
    // Inside `[...]`: a key, or the value of one.
    let Some(open) = before.rfind('[').filter(|o| !before[*o..].contains(']')) else {
        return Vec::new();
    };
    let inside = &before[open + 1..];
    let part = inside.rsplit(';').next().unwrap_or(inside);
    let Some((key, _)) = part.split_once(':') else {
        return KEYS
            .iter()
            .map(|(k, d)| item(k, K::PROPERTY, (*d).to_string()))
            .collect();
    };
    use crate::model::{Band, ElementType, Impact, Likelihood, Status, Stride};
    let words: Vec<(String, String)> = match key.trim().to_ascii_lowercase().as_str() {
        "stride" | "category" | "categories" => Stride::ALL
            .iter()
            .map(|s| (s.letter().to_string(), s.title().to_string()))
            .collect(),
        "likelihood" | "probability" => scale(
            Likelihood::ALL.iter().map(|l| (l.as_str(), l.rank())),
            "likelihood",
        ),
        "impact" => scale(Impact::ALL.iter().map(|l| (l.as_str(), l.rank())), "impact"),
        "severity" | "priority" => scale(Band::ALL.iter().map(|l| (l.as_str(), l.rank())), "band"),
        "status" => scale(Status::ALL.iter().map(|l| (l.as_str(), l.rank())), "status"),
        "type" | "kind" => scale(
            ElementType::ALL.iter().map(|l| (l.as_str(), l.rank())),
            "element type",
        ),
        "actor" => ws
            .model()
            .actors
            .iter()
            .map(|a| (format!("#{}", a.id), a.name.clone()))
            .collect(),
        _ => Vec::new(),
    };
    words
        .iter()
        .map(|(w, d)| item(w, K::ENUM_MEMBER, d.clone()))
        .collect()
}

fn scale<'a>(items: impl Iterator<Item = (&'a str, u8)>, what: &str) -> Vec<(String, String)> {
    let items: Vec<_> = items.collect();
    let n = items.len();
    items
        .into_iter()
        .map(|(w, r)| (w.to_string(), format!("{what} {r} of {n}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_or_bytes() {
        let text = "a\n// é😀 #x\n";
        let x = text.find("#x").expect("there");
        assert_eq!(position(text, x, Encoding::Utf16), (1, 7));
        assert_eq!(position(text, x, Encoding::Utf8), (1, 10));
        assert_eq!(offset(text, 1, 7, Encoding::Utf16), x);
        assert_eq!(offset(text, 1, 10, Encoding::Utf8), x);
        // Inside the surrogate pair or the UTF-8 sequence: the character's start.
        assert_eq!(
            offset(text, 1, 5, Encoding::Utf16),
            text.find('😀').expect("there")
        );
        assert_eq!(
            offset(text, 1, 4, Encoding::Utf8),
            text.find('é').expect("there")
        );
        // Past the line or the text: clamped.
        assert_eq!(offset(text, 1, 999, Encoding::Utf16), text.len() - 1);
        assert_eq!(offset(text, 99, 0, Encoding::Utf16), text.len());
    }

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/a b/é.py");
        let uri = path_to_uri(p);
        assert_eq!(uri, "file:///tmp/a%20b/%C3%A9.py");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(p));
        assert_eq!(uri_to_path("untitled:1"), None);
    }
}
