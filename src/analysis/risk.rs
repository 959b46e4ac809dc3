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
                    exposure: false,
                })
            }
            (l, i, Some(band)) => Some(Risk {
                score: self.severity_score(band),
                band,
                likelihood: l,
                impact: i,
                basis: Basis::Severity,
                exposure: false,
            }),
            _ => None,
        }
    }

    /// The risk of one exposure: its own rating where it gives one, else the threat's. The
    /// exposure's `likelihood` and `impact` replace the threat's, each on its own, and are rated
    /// on the matrix as a threat's are; an exposure that gives only a `severity` is rated by it
    /// (even when the threat has a likelihood and an impact).
    pub fn rate_exposure(&self, threat: &Attributes, exposure: &Attributes) -> Option<Risk> {
        let (l, i, s) = (exposure.likelihood, exposure.impact, exposure.severity);
        if l.is_none() && i.is_none() && s.is_none() {
            return self.rate(threat);
        }
        let merged = Attributes {
            likelihood: l.or(threat.likelihood),
            impact: i.or(threat.impact),
            severity: s.or(threat.severity),
            ..Attributes::default()
        };
        let merged = match (l, i, s) {
            (None, None, Some(_)) => Attributes {
                likelihood: None,
                impact: None,
                ..merged
            },
            _ => merged,
        };
        let mut risk = self.rate(&merged)?;
        risk.exposure = true;
        Some(risk)
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
    /// Rated by the exposure's own `likelihood`, `impact` or `severity`
    /// (`@exposes #api to #rce [impact: severe]`), not only by the threat's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exposure: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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
    fn an_exposure_is_rated_by_its_own_rating_first() {
        let m = RiskMatrix::default();
        let threat = Attributes {
            likelihood: Some(Likelihood::Likely),
            impact: Some(Impact::Minor),
            ..Attributes::default()
        };
        let own = |a: Attributes| m.rate_exposure(&threat, &a);
        assert_eq!(own(Attributes::default()), m.rate(&threat));
        let r = own(Attributes {
            impact: Some(Impact::Severe),
            ..Attributes::default()
        })
        .expect("rated");
        assert_eq!((r.score, r.band, r.exposure), (20, Band::Critical, true));
        let r = own(Attributes {
            severity: Some(Band::Low),
            ..Attributes::default()
        })
        .expect("rated");
        assert_eq!((r.band, r.basis), (Band::Low, Basis::Severity));
        // Only an impact, on an unrated threat: nothing to multiply it with.
        let bare = Attributes {
            impact: Some(Impact::Severe),
            ..Attributes::default()
        };
        assert_eq!(m.rate_exposure(&Attributes::default(), &bare), None);
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
