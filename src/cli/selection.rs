//! Rule selection at the commands: which findings `analyze` hides, the summary line of what
//! was suppressed, and the list that `check` reports (its verdict never depends on
//! suppression). The selection itself is the scan room's (`scan::selection`), shared with the
//! editor servers.

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::suppress::{self, By, Suppression};

pub(crate) use crate::scan::selection::{Selected, select};

/// Which of `diags` are suppressed (one flag each).
pub(crate) fn hidden(
    config: &Config,
    comments: &[Suppression],
    diags: &[Diagnostic],
) -> anyhow::Result<Vec<bool>> {
    Ok(hidden_by(config, comments, diags)?
        .iter()
        .map(Option::is_some)
        .collect())
}

/// What suppresses each of `diags`, if anything.
pub(crate) fn hidden_by(
    config: &Config,
    comments: &[Suppression],
    diags: &[Diagnostic],
) -> anyhow::Result<Vec<Option<By>>> {
    let rules = config
        .diagnostics
        .rules()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(suppress::apply(&rules, comments, diags).hidden)
}

/// One line for the summary: how many were suppressed and by what; `None` when none was.
pub(crate) fn summary_line(suppressed: &[(Diagnostic, By)]) -> Option<String> {
    if suppressed.is_empty() {
        return None;
    }
    let by_config = suppressed
        .iter()
        .filter(|(_, by)| *by == By::Config)
        .count();
    let by_comment = suppressed.len() - by_config;
    let noun = |n: usize| if n == 1 { "diagnostic" } else { "diagnostics" };
    let mut parts = Vec::new();
    if by_config > 0 {
        parts.push(format!("{by_config} by [diagnostics] in the configuration"));
    }
    if by_comment > 0 {
        parts.push(format!("{by_comment} by `threatmark: ignore` comments"));
    }
    Some(format!(
        "{} {} suppressed ({})\n",
        suppressed.len(),
        noun(suppressed.len()),
        parts.join(", ")
    ))
}

/// `check`'s list of what was suppressed, and where (at most `MAX` lines, then a count).
pub(crate) fn check_list(suppressed: &[(Diagnostic, By)]) -> String {
    const MAX: usize = 50;
    let Some(head) = summary_line(suppressed) else {
        return String::new();
    };
    let mut out = format!(
        "\n{}; `check` decides on every diagnostic, suppressed or not:\n",
        head.trim_end()
    );
    for (d, by) in suppressed.iter().take(MAX) {
        let at = d
            .location
            .as_ref()
            .map_or_else(|| "(no file)".to_string(), ToString::to_string);
        let by = match by {
            By::Config => "[diagnostics]".to_string(),
            By::Comment(l) => format!("`threatmark: ignore` at {l}"),
        };
        out.push_str(&crate::render::escape::printable(&format!(
            "  {at} {} by {by}",
            d.code
        )));
        out.push('\n');
    }
    if suppressed.len() > MAX {
        out.push_str(&format!("  ... and {} more\n", suppressed.len() - MAX));
    }
    out
}
