//! The likelihood × impact risk matrix.
//!
//! The default is OWASP TM-BOM's five-by-five: likelihood rare..certain, impact
//! negligible..severe, score = likelihood × impact (1-25), banded very-low / low / medium /
//! high / critical. Teams that use another matrix override the cell scores, the band edges and
//! the labels in `[risk]` of threatmark.toml; the five levels of each scale stay fixed, so
//! annotations mean the same thing in every repository.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Attributes, Band, Impact, Likelihood};

/// The matrix configuration (`[risk]` in threatmark.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RiskMatrix {
    /// `scores[likelihood - 1][impact - 1]`.
    pub scores: [[u8; 5]; 5],
    /// Lowest score of each band, in order very-low, low, medium, high, critical.
    pub band_edges: [u8; 5],
    /// Display names of the five likelihood levels.
    pub likelihood_labels: [String; 5],
    /// Display names of the five impact levels.
    pub impact_labels: [String; 5],
}

impl Default for RiskMatrix {
    fn default() -> Self {
        let mut scores = [[0u8; 5]; 5];
        for (l, row) in scores.iter_mut().enumerate() {
            for (i, cell) in row.iter_mut().enumerate() {
                *cell = ((l + 1) * (i + 1)) as u8;
            }
        }
        Self {
            scores,
            band_edges: [1, 3, 6, 12, 20],
            likelihood_labels: std::array::from_fn(|n| Likelihood::ALL[n].as_str().to_string()),
            impact_labels: std::array::from_fn(|n| Impact::ALL[n].as_str().to_string()),
        }
    }
}

/// Why a matrix configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("[risk] band_edges must be strictly increasing and start at 1 or more, got {0:?}")]
    Edges([u8; 5]),
    #[error("[risk] scores must not decrease along a row or a column (likelihood {0}, impact {1})")]
    NotMonotonic(usize, usize),
}

impl RiskMatrix {
    pub fn validate(&self) -> Result<(), MatrixError> {
        let e = self.band_edges;
        if e[0] == 0 || e.windows(2).any(|w| w[0] >= w[1]) {
            return Err(MatrixError::Edges(e));
        }
        for l in 0..5 {
            for i in 0..5 {
                let here = self.scores[l][i];
                let up = l > 0 && self.scores[l - 1][i] > here;
                let left = i > 0 && self.scores[l][i - 1] > here;
                if up || left {
                    return Err(MatrixError::NotMonotonic(l + 1, i + 1));
                }
            }
        }
        Ok(())
    }

    pub fn score(&self, l: Likelihood, i: Impact) -> u8 {
        self.scores[usize::from(l.rank() - 1)][usize::from(i.rank() - 1)]
    }

    pub fn band(&self, score: u8) -> Band {
        let idx = self
            .band_edges
            .iter()
            .rposition(|e| score >= *e)
            .unwrap_or(0);
        Band::ALL[idx]
    }

    /// The score a bare severity stands for: the lowest score of its band.
    pub fn severity_score(&self, band: Band) -> u8 {
        self.band_edges[usize::from(band.rank() - 1)]
    }

    /// Rate a threat from its attributes.
    pub fn rate(&self, attrs: &Attributes) -> Option<Risk> {
        match (attrs.likelihood, attrs.impact, attrs.severity) {
            (Some(l), Some(i), _) => {
                let score = self.score(l, i);
                Some(Risk {
                    score,
                    band: self.band(score),
                    likelihood: Some(l),
                    impact: Some(i),
                    basis: Basis::Matrix,
                })
            }
            (l, i, Some(band)) => Some(Risk {
                score: self.severity_score(band),
                band,
                likelihood: l,
                impact: i,
                basis: Basis::Severity,
            }),
            _ => None,
        }
    }
}

/// Where a risk value came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// likelihood × impact on the matrix.
    Matrix,
    /// No likelihood and impact: the declared severity stands in.
    Severity,
}

/// A rated risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Risk {
    pub score: u8,
    pub band: Band,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<Likelihood>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    pub basis: Basis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matrix_edges() {
        let m = RiskMatrix::default();
        m.validate().expect("default is valid");
        let cases = [
            (Likelihood::Rare, Impact::Negligible, 1, Band::VeryLow),
            (Likelihood::Rare, Impact::Minor, 2, Band::VeryLow),
            (Likelihood::Possible, Impact::Negligible, 3, Band::Low),
            (Likelihood::Unlikely, Impact::Minor, 4, Band::Low),
            (Likelihood::Unlikely, Impact::Moderate, 6, Band::Medium),
            (Likelihood::Possible, Impact::Moderate, 9, Band::Medium),
            (Likelihood::Possible, Impact::Major, 12, Band::High),
            (Likelihood::Likely, Impact::Major, 16, Band::High),
            (Likelihood::Likely, Impact::Severe, 20, Band::Critical),
            (Likelihood::Certain, Impact::Severe, 25, Band::Critical),
        ];
        for (l, i, score, band) in cases {
            assert_eq!(m.score(l, i), score, "{l} x {i}");
            assert_eq!(m.band(score), band, "{score}");
        }
    }

    #[test]
    fn severity_stands_in_when_unrated() {
        let m = RiskMatrix::default();
        let attrs = Attributes {
            severity: Some(Band::High),
            likelihood: Some(Likelihood::Likely),
            ..Attributes::default()
        };
        let r = m.rate(&attrs).expect("rated");
        assert_eq!(
            (r.score, r.band, r.basis),
            (12, Band::High, Basis::Severity)
        );
        assert_eq!(m.rate(&Attributes::default()), None);
    }

    #[test]
    fn invalid_matrices_are_rejected() {
        let m = RiskMatrix {
            band_edges: [1, 3, 3, 12, 20],
            ..RiskMatrix::default()
        };
        assert!(m.validate().is_err());
        let mut m = RiskMatrix::default();
        m.scores[2][2] = 1;
        assert!(m.validate().is_err());
    }
}
