//! The human summary a scan prints on stderr: counts per kind, diagnostics, time.

use crate::diagnostic::Counts;
use crate::model::ThreatModel;
use crate::scan::stats::Stats;

/// A few lines; stable wording (tests match on it), no colour.
pub(crate) fn scan_summary(
    model: &ThreatModel,
    stats: &Stats,
    counts: Counts,
    wrote: Option<&str>,
) -> String {
    scan_summary_of(&model.counts(), stats, counts, wrote)
}

/// [`scan_summary`] from the model's counts by kind (`ThreatModel::counts`).
pub(crate) fn scan_summary_of<K: AsRef<str>>(
    kinds: &[(K, usize)],
    stats: &Stats,
    counts: Counts,
    wrote: Option<&str>,
) -> String {
    let mut out = String::new();
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, n)| (k.as_ref(), *n))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {}", if n == 1 { singular(k) } else { k }))
        .collect();
    out.push_str(&format!(
        "threatmark: {} {} in {} of {} files ({} read) in {:.2}s\n",
        stats.annotations,
        plural(stats.annotations, "annotation"),
        stats.files_annotated,
        stats.files_seen,
        stats.files_read,
        stats.elapsed.as_secs_f64()
    ));
    if kinds.is_empty() {
        out.push_str("  model: empty (no annotations found)\n");
    } else {
        out.push_str(&format!("  model: {}\n", kinds.join(", ")));
    }
    if stats.binary_skipped > 0 {
        out.push_str(&format!(
            "  skipped {} binary {}\n",
            stats.binary_skipped,
            plural(stats.binary_skipped, "file")
        ));
    }
    out.push_str(&format!("  diagnostics: {}\n", diagnostic_counts(counts)));
    if let Some(path) = wrote {
        out.push_str(&format!("  wrote {path}\n"));
    }
    out
}

fn singular(kind: &str) -> &str {
    match kind {
        "boundaries" => "boundary",
        k => k.strip_suffix('s').unwrap_or(k),
    }
}

/// `1 error, 0 warnings, 3 notes`.
pub(crate) fn diagnostic_counts(counts: Counts) -> String {
    format!(
        "{} {}, {} {}, {} {}",
        counts.errors,
        plural(counts.errors, "error"),
        counts.warnings,
        plural(counts.warnings, "warning"),
        counts.notes,
        plural(counts.notes, "note"),
    )
}

/// `word` or `words`, as `n` asks.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(text: &str) -> String {
        let (annotations, _) = crate::annotation::parse_text("a.ts", text);
        let files = [crate::model::FileAnnotations {
            path: "a.ts".into(),
            annotations,
        }];
        let (model, _) = crate::model::build(crate::model::Project::default(), &files);
        scan_summary(&model, &Stats::default(), Counts::default(), None)
    }

    /// GuardLink's kinds are counted when a model has them, and only then.
    #[test]
    fn guardlink_kinds_are_counted() {
        let gal = summary_of(
            "@asset A.B (#a)\n@actor Ops (#ops)\n@assumes #a -- \"x\"\n@feature \"F\"\n@entitles #ops to restart on #a\n",
        );
        assert!(
            gal.contains("1 component, 1 actor, 1 entitlement, 1 assumption, 1 feature"),
            "{gal}"
        );
        let plain = summary_of("@component A (#a)\n");
        assert!(plain.contains("model: 1 component\n"), "{plain}");
    }
}
