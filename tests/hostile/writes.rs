//! Hostile suite: writes.

#[allow(unused_imports)]
use super::*;
