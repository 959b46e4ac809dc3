//! The summary section (counts by kind, status, band and severity), the heat map and the
//! remediation plan.

use std::collections::BTreeMap;

use super::*;
use crate::analysis::{Basis, Residual, Risk};
use crate::model::{Band, ThreatModel};
use crate::render::escape::printable;

const STATUSES: [Residual; 5] = [
    Residual::Exposed,
    Residual::Open,
    Residual::Accepted,
    Residual::Transferred,
    Residual::Mitigated,
];

/// The bands from the highest down, then unrated (`None`): the order summaries list them in.
fn bands() -> impl Iterator<Item = Option<Band>> {
    Band::ALL.iter().rev().copied().map(Some).chain([None])
}

/// A band's key in summaries and CSS: its word, or `unrated`.
fn band_key(band: Option<Band>) -> &'static str {
    band.map_or("unrated", Band::as_str)
}

fn counts(items: Vec<(String, String, usize)>) -> Vec<Count> {
    let max = items.iter().map(|(_, _, n)| *n).max().unwrap_or(0);
    items
        .into_iter()
        .map(|(key, label, count)| Count {
            key,
            label,
            count,
            percent: (count * 100).checked_div(max).unwrap_or(0),
        })
        .collect()
}

fn band_label(band: Option<Band>) -> String {
    match band {
        Some(Band::VeryLow) => "very low".into(),
        b => band_key(b).into(),
    }
}

/// The model's counts by kind, labelled in the singular when there is one.
fn element_counts(model: &ThreatModel) -> Vec<Count> {
    counts(
        model
            .counts()
            .into_iter()
            .map(|(k, n)| {
                let label = match (k, n) {
                    ("boundaries", 1) => "boundary".to_string(),
                    (k, 1) => k.strip_suffix('s').unwrap_or(k).to_string(),
                    (k, _) => k.to_string(),
                };
                (k.to_string(), label, n)
            })
            .collect(),
    )
}

impl Builder<'_> {
    /// How many threats, open or not, fall in a band.
    fn all_band(&self, band: Option<Band>) -> usize {
        self.analysis
            .threats
            .iter()
            .filter(|t| t.risk.as_ref().map(|r| r.band) == band)
            .count()
    }

    /// Counts by status, band, severity and code.
    pub(super) fn summary(&self) -> SummaryView {
        let analysis = self.analysis;
        let s = &analysis.summary;
        let all_band = |band| self.all_band(band);
        let sev_count = |sev: &str| {
            analysis
                .findings
                .iter()
                .filter(|f| f.severity.as_str() == sev)
                .count()
        };
        SummaryView {
            counts: element_counts(self.model),
            threats: s.threats,
            open_threats: analysis
                .threats
                .iter()
                .filter(|t| t.status.is_open())
                .count(),
            by_status: counts(
                STATUSES
                    .iter()
                    .map(|r| {
                        (
                            r.as_str().to_string(),
                            r.as_str().to_string(),
                            s.by_status.get(r.as_str()).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
            ),
            open_by_band: counts(
                bands()
                    .map(|band| {
                        (
                            band_key(band).to_string(),
                            band_label(band),
                            s.open_by_band.get(band_key(band)).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
            ),
            all_by_band: counts(
                bands()
                    .map(|band| (band_key(band).to_string(), band_label(band), all_band(band)))
                    .collect(),
            ),
            risk_distribution: self.risk_distribution(),
            crossings: s.crossings,
            unguarded_crossings: s.unguarded_crossings,
            findings: analysis.findings.len(),
            findings_by_severity: counts(
                ["error", "warning", "note"]
                    .iter()
                    .map(|k| (k.to_string(), k.to_string(), sev_count(k)))
                    .collect(),
            ),
            findings_by_code: counts(
                s.findings_by_code
                    .iter()
                    .map(|(k, n)| (printable(k), printable(k), *n))
                    .collect(),
            ),
        }
    }

    /// Every band with its threats (all and open), scaled to the fullest band.
    fn risk_distribution(&self) -> Vec<BandCount> {
        let s = &self.analysis.summary;
        let all_band = |band| self.all_band(band);
        let max = bands().map(all_band).max().unwrap_or(0);
        bands()
            .map(|band| {
                let all = all_band(band);
                BandCount {
                    band: band_key(band).to_string(),
                    label: band_label(band),
                    all,
                    open: s.open_by_band.get(band_key(band)).copied().unwrap_or(0),
                    percent: (all * 100).checked_div(max).unwrap_or(0),
                }
            })
            .collect()
    }

    /// The heat map: rows from the most likely level down.
    pub(super) fn heat_map(&self) -> HeatMap {
        let (analysis, matrix) = (self.analysis, self.matrix);
        let mut cells: BTreeMap<(u8, u8), Vec<ItemRef>> = BTreeMap::new();
        for t in &analysis.threats {
            if let Some(Risk {
                likelihood: Some(l),
                impact: Some(i),
                basis: Basis::Matrix,
                ..
            }) = &t.risk
            {
                cells
                    .entry((l.rank(), i.rank()))
                    .or_default()
                    .push(self.threat(&t.threat));
            }
        }
        let rated = cells.values().map(Vec::len).sum();
        let rows = (1..=5u8)
            .rev()
            .map(|l| {
                let likelihood = printable(&matrix.likelihood_labels[usize::from(l - 1)]);
                HeatRow {
                    likelihood: likelihood.clone(),
                    cells: (1..=5u8)
                        .map(|i| {
                            let score = matrix.scores[usize::from(l - 1)][usize::from(i - 1)];
                            let threats = cells.get(&(l, i)).cloned().unwrap_or_default();
                            HeatCell {
                                likelihood: likelihood.clone(),
                                impact: printable(&matrix.impact_labels[usize::from(i - 1)]),
                                score,
                                band: matrix.band(score).as_str().into(),
                                count: threats.len(),
                                threats,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        HeatMap {
            impact_labels: matrix.impact_labels.iter().map(|l| printable(l)).collect(),
            rows,
            rated,
        }
    }

    /// The remediation plan, in rank order.
    pub(super) fn plan(&self) -> Vec<PlanRow> {
        self.analysis
            .plan
            .iter()
            .map(|p| PlanRow {
                rank: p.rank,
                threat: self.threat(&p.threat),
                status: p.status.as_str().into(),
                risk: self.risk(p.risk.as_ref()),
                owner: p.owner.as_deref().map(printable),
                components: p.components.iter().map(|c| self.component(c)).collect(),
                candidate_controls: p
                    .candidate_controls
                    .iter()
                    .map(|c| self.control(c))
                    .collect(),
                locations: self.location_links(&p.locations),
            })
            .collect()
    }
}
