//! Which diagnostics are shown: `[diagnostics]` rules and `threatmark: ignore[...]` comments
//! (`crate::suppress`) applied to what a command prints. One function for `scan`, `analyze`,
//! `check` and the editor servers' workspace, so an editor shows what `scan` prints.

use crate::config::Config;
use crate::diagnostic::{self, Diagnostic};
use crate::suppress::{self, By, Suppression};

use super::ScanResult;

/// `[diagnostics]` in the configuration does not compile (an unknown code, a bad glob).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadRules(String);

/// What a command prints after selection.
#[derive(Debug)]
pub(crate) struct Selected {
    /// Shown diagnostics (of those printed), with the unused-suppression warnings, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics that would have been printed, and why they were not.
    pub suppressed: Vec<(Diagnostic, By)>,
}

/// Apply the configuration's `[diagnostics]` and the scan's comments to `printed`; `also` is what
/// the command knows but does not print (a comment for it is used, not unused).
pub(crate) fn select(
    config: &Config,
    comments: &[Suppression],
    printed: Vec<Diagnostic>,
    also: &[Diagnostic],
) -> Result<Selected, BadRules> {
    let rules = config.diagnostics.rules().map_err(BadRules)?;
    if rules.is_default() && comments.is_empty() {
        return Ok(Selected {
            diagnostics: printed,
            suppressed: Vec::new(),
        });
    }
    let n = printed.len();
    let all: Vec<Diagnostic> = printed.into_iter().chain(also.iter().cloned()).collect();
    let applied = suppress::apply(&rules, comments, &all);
    let mut diagnostics = Vec::new();
    let mut suppressed = Vec::new();
    for (d, hidden) in all.into_iter().zip(applied.hidden).take(n) {
        match hidden {
            None => diagnostics.push(d),
            Some(by) => suppressed.push((d, by)),
        }
    }
    diagnostics.extend(applied.unused);
    diagnostic::normalize(&mut diagnostics);
    suppressed.sort_by(|(a, _), (b, _)| a.sort_key().cmp(&b.sort_key()));
    Ok(Selected {
        diagnostics,
        suppressed,
    })
}

/// A scan's diagnostics as `threatmark scan` prints them. A comment for an analysis finding
/// (which a scan does not print) is used all the same; without comments the findings are not
/// needed. Only a finding's code and first place matter to the comments.
pub(crate) fn scan_diagnostics(config: &Config, result: &ScanResult) -> Result<Selected, BadRules> {
    let findings: Vec<Diagnostic> = match result.suppressions.is_empty() {
        true => Vec::new(),
        false => {
            let today = Some(crate::date::Date::today());
            crate::analysis::analyze(&result.model, &config.risk, today)
                .findings
                .into_iter()
                .map(|f| {
                    let mut d = Diagnostic::new(f.code, f.message);
                    d.severity = f.severity;
                    if let Some(l) = f.locations.into_iter().next() {
                        d = d.at(l);
                    }
                    d
                })
                .collect()
        }
    };
    select(
        config,
        &result.suppressions,
        result.diagnostics.clone(),
        &findings,
    )
}
