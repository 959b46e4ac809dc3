//! `threatmark debug comments FILE`: which language, which comments, which annotations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::render::escape::printable;
use anyhow::{Context, bail};

use crate::annotation::{self, Locator};
use crate::comments::{self, Options};
use crate::text::{self, LineIndex};
use crate::{exit, lang, render};

#[derive(Debug, clap::Subcommand)]
#[command(after_help = "Examples:
  $ threatmark debug comments src/auth.rs
  $ threatmark debug comments deploy/Containerfile.prod --lang dockerfile")]
pub enum DebugCommand {
    /// Show the detected language and every comment extracted from FILE.
    #[command(after_help = "Examples:
  $ threatmark debug comments src/auth.rs
  $ threatmark debug comments deploy/Containerfile.prod --lang dockerfile")]
    Comments {
        /// The file to look at.
        file: PathBuf,
        /// Force a language (a name from `threatmark languages`).
        #[arg(long)]
        lang: Option<String>,
    },
}

pub(super) fn run(cmd: DebugCommand, color: bool) -> anyhow::Result<u8> {
    let DebugCommand::Comments { file, lang: forced } = cmd;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let language = match forced {
        Some(l) => match lang::by_name(&l) {
            Some(lang) => lang,
            None => bail!("unknown language `{l}`; see `threatmark languages`"),
        },
        None => match lang::detect(&name, &bytes, |_| None) {
            Some(lang) => lang,
            None => bail!("{}: no language detected; pass --lang", file.display()),
        },
    };
    let decoded = text::decode(&bytes);
    let text = decoded.text.as_ref();
    let index = LineIndex::new(text);
    let path = file.display().to_string();
    let loc = Locator::new(&path, text, &index);
    let extracted = comments::extract(language, &loc, &Options::default());
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({}), {}, {} comments",
        path,
        language.name,
        match extracted.method {
            Some(comments::Method::TreeSitter) => "tree-sitter",
            Some(comments::Method::Exact) => "exact lexer",
            _ => "lexical",
        },
        match decoded.decoding {
            text::Decoding::Utf8 => "UTF-8",
            text::Decoding::Utf16 => "UTF-16",
            text::Decoding::Lossy => "invalid UTF-8 (replaced)",
        },
        extracted.comments.len()
    );
    let mut diags = extracted.diagnostics.clone();
    for (n, comment) in extracted.comments.iter().enumerate() {
        let first = comment.first().map_or(0, |l| l.offset);
        let (line, col) = index.position(text, first);
        let _ = writeln!(out, "\n#{} at {line}:{col}", n + 1);
        for l in comment {
            let (line, _) = index.position(text, l.offset);
            let mark = if annotation::is_tag_line(l.text) {
                "@"
            } else {
                " "
            };
            let _ = writeln!(out, "{line:>6} {mark}| {}", printable(l.text));
        }
        let mut found = Vec::new();
        annotation::parse_comment(comment, &loc, &mut found, &mut diags);
        for a in found {
            let _ = writeln!(
                out,
                "       => @{} {}",
                a.tag.as_str(),
                printable(&format!("{:?}", a.body))
            );
        }
    }
    super::to_stdout(out.as_bytes())?;
    if !diags.is_empty() {
        let sources = BTreeMap::from([(path.clone(), Arc::<str>::from(text))]);
        eprint!("{}", render::diagnostics::render(&diags, &sources, color));
    }
    Ok(exit::OK)
}
