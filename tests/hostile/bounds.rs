//! Hostile suite: bounds.

#[allow(unused_imports)]
use super::*;
