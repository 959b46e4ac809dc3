//! The model's history as data: one point per commit, drawn by the site's timeline
//! (`view`, `svg`) and listed by `threatmark history`. Its own file so that the view, which
//! calls the SVG writer, and the SVG writer, which draws these points, do not depend on each
//! other.

use serde::Serialize;

/// One point of `threatmark history`, oldest first in the view's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TimelinePoint {
    pub commit: String,
    pub date: String,
    pub subject: String,
    pub threats: usize,
    pub exposed: usize,
    pub open: usize,
    pub accepted: usize,
    pub transferred: usize,
    pub mitigated: usize,
}
