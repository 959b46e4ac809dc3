//! Hostile suite: gate.

#[allow(unused_imports)]
use super::*;
