//! Stable cell ids for Threat Dragon: name-based (version 5, SHA-1) UUIDs derived from our ids,
//! so that exporting an unchanged model twice yields byte-identical files and a changed model a
//! small diff.
//!
//! The namespace is itself a v5 UUID: `uuid_v5(NAMESPACE_URL, "urn:threatmark:export")`
//! (= [`NAMESPACE`]). The name hashed under it is `KIND:ID`, for example `component:checkout`,
//! `boundary:vpc`, `flow:customer/ingress/https`, or `threat:sqli@checkout` for the copy of a
//! threat placed on one component. Kinds have separate names because our kinds have separate
//! id spaces. The project name is deliberately not part of it: renaming a project does not
//! change every id.

use ::uuid::Uuid;

/// `uuid_v5(NAMESPACE_URL, "urn:threatmark:export")`, computed once and fixed here so that a
/// change to this file cannot silently change every exported id (a unit test checks it).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x8f74_3850_17de_5f16_b0fe_bfcd_75c5_c0bf);

/// The stable UUID of an element of kind `kind` with our id `id`, lower-case and hyphenated.
pub fn stable(kind: &str, id: &str) -> String {
    let name = format!("{kind}:{id}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_derived_as_documented() {
        let derived = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:threatmark:export");
        assert_eq!(NAMESPACE, derived, "update NAMESPACE to {derived}");
    }

    #[test]
    fn stable_and_distinct() {
        let a = stable("component", "api");
        assert_eq!(a, stable("component", "api"));
        assert_ne!(a, stable("boundary", "api"));
        assert_ne!(a, stable("component", "apj"));
        let parsed = Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 5);
        assert_eq!(a.len(), 36);
    }
}
