//! `threatmark analyze`: risk, residual status, crossings, coverage, findings and the
//! remediation plan, for people (a table) or machines (`--format json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;

use super::RootArgs;
use super::output_format::DiagnosticFormat;
use super::scan::scan_root;
use crate::analysis::{self, Finding};
use crate::date::Date;
use crate::diagnostic::{Diagnostic, Span};
use crate::text::LineIndex;
use crate::{exit, render};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  $ threatmark analyze                         the table, findings on stderr
  $ threatmark analyze --output-format concise one line per finding
  $ threatmark analyze --format json > analysis.json")]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// `table` for people, `json` for machines (the whole analysis).
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Table)]
    pub format: AnalyzeFormat,
    /// Check acceptance expiry against this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
    /// How scan problems and findings are printed (on stderr, with `--format table`): `full`,
    /// `concise`, `json` (JSON Lines), `github` (workflow commands) or `sarif`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DiagnosticFormat::Full)]
    pub output_format: DiagnosticFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    Table,
    Json,
}

pub(super) fn run(args: AnalyzeArgs, color: bool) -> anyhow::Result<u8> {
    let date = super::today_arg(args.today.as_deref())?.unwrap_or_else(Date::today);
    let (config, result) = scan_root(&args.root, args.threads, true)?;
    let analysis = analysis::analyze(&result.model, &config.risk, Some(date));
    let mut stdout = std::io::stdout().lock();
    match args.format {
        AnalyzeFormat::Json => {
            // Suppressed findings are left out, as the table leaves them out.
            let mut analysis = analysis;
            let findings = findings_as_diagnostics(&analysis.findings, &result.sources);
            let hidden = super::selection::hidden(&config, &result.suppressions, &findings)?;
            let mut i = 0;
            analysis.findings.retain(|_| {
                i += 1;
                !hidden[i - 1]
            });
            let mut json = serde_json::to_string_pretty(&analysis)?;
            json.push('\n');
            stdout.write_all(json.as_bytes())?;
        }
        AnalyzeFormat::Table => {
            stdout.write_all(render::analysis::table(&result.model, &analysis).as_bytes())?;
            let suggested = super::suggest::count(args.root.dir(), &config, &result.model);
            if suggested > 0 {
                writeln!(
                    stdout,
                    "\n{suggested} suggested threat{} from the threat library: `threatmark suggest`",
                    if suggested == 1 { "" } else { "s" }
                )?;
            }
            // LINDDUN next to STRIDE, for the components that handle personal data.
            for p in crate::analysis::suggest::linddun_coverage(&result.model) {
                let letters = |l: &[crate::model::Linddun]| {
                    l.iter().map(|x| x.letter()).collect::<Vec<_>>().join(",")
                };
                writeln!(
                    stdout,
                    "LINDDUN on `{}` (personal data): covered {}; missing {}",
                    render::escape::printable(&p.component),
                    if p.covered.is_empty() {
                        "-".to_string()
                    } else {
                        letters(&p.covered)
                    },
                    if p.missing.is_empty() {
                        "-".to_string()
                    } else {
                        letters(&p.missing)
                    },
                )?;
            }
            // Scan problems first (a dangling reference drops a relation from the model), then
            // the findings.
            let (diags, notes): (Vec<Diagnostic>, Vec<Diagnostic>) = result
                .diagnostics
                .iter()
                .cloned()
                .partition(|d| d.severity != crate::diagnostic::Severity::Note);
            // Findings are selected like diagnostics but stay findings, so SARIF rates them.
            let finding_diags = findings_as_diagnostics(&analysis.findings, &result.sources);
            let by = super::selection::hidden_by(&config, &result.suppressions, &finding_diags)?;
            let mut also = notes;
            also.extend(finding_diags.iter().cloned());
            let mut selected =
                super::selection::select(&config, &result.suppressions, diags, &also)?;
            let mut findings = Vec::new();
            for ((finding, diag), by) in analysis.findings.iter().zip(finding_diags).zip(by) {
                match by {
                    None => findings.push(finding.clone()),
                    Some(by) => selected.suppressed.push((diag, by)),
                }
            }
            selected
                .suppressed
                .sort_by(|(a, _), (b, _)| a.sort_key().cmp(&b.sort_key()));
            let mut text = args.output_format.render(
                &selected.diagnostics,
                &findings,
                &result.sources,
                &config.risk,
                color,
            );
            if !args.output_format.is_machine() {
                if let Some(line) = super::selection::summary_line(&selected.suppressed) {
                    text.push_str(&line);
                }
            }
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
    stdout.flush().context("writing to stdout")?;
    Ok(exit::OK)
}

/// Findings printed like diagnostics, with a caret under the annotation when its text is known.
pub(super) fn findings_as_diagnostics(
    findings: &[Finding],
    sources: &BTreeMap<String, Arc<str>>,
) -> Vec<Diagnostic> {
    let mut indexes: BTreeMap<&str, LineIndex> = BTreeMap::new();
    findings
        .iter()
        .map(|f| {
            let mut d = Diagnostic::new(f.code, f.message.clone());
            d.severity = f.severity;
            if let Some(loc) = f.locations.first() {
                d = d.at(loc.clone());
                if let Some(text) = sources.get(&loc.path) {
                    let index = indexes
                        .entry(loc.path.as_str())
                        .or_insert_with(|| LineIndex::new(text));
                    let line = (loc.line as usize).saturating_sub(1);
                    let range = index.line_range(text, line);
                    let start = text[range.clone()]
                        .char_indices()
                        .nth((loc.column as usize).saturating_sub(1))
                        .map_or(range.start, |(i, _)| range.start + i);
                    d = d.at_span(Span::new(start, range.end));
                }
            }
            if let Some(r) = &f.risk {
                d = d.label(format!("risk {} ({})", r.score, r.band));
            }
            let more = f.locations.len().saturating_sub(1);
            d.help = Some(match more {
                0 => format!("`threatmark explain {}` says more", f.code),
                n => format!(
                    "also at {}; `threatmark explain {}` says more",
                    f.locations[1..]
                        .iter()
                        .take(3)
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                        + if n > 3 { ", ..." } else { "" },
                    f.code
                ),
            });
            d
        })
        .collect()
}
