//! Hostile suite: sarif.

#[allow(unused_imports)]
use super::*;
