//! Hostile suite: relations.

#[allow(unused_imports)]
use super::*;
