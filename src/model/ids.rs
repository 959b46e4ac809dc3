//! Stable ids. An id never depends on a line number, so moving an annotation is not a change.
//!
//! The slug rule is Threatspec 0.5.0's, byte for byte (threatmodel.py, `Library.parse_name`):
//! lower-case, drop `-`, turn every run of characters outside `[a-z0-9_]` into `_`, trim `_`,
//! and give a name ending in `/` the suffix `root`. Projects annotated for Threatspec therefore
//! get the same ids here.

/// Threatspec's id for a name, without the leading `#`.
pub fn slug(name: &str) -> String {
    let trimmed = name.trim();
    if !trimmed.is_ascii() {
        return slug_unicode(trimmed);
    }
    // Most names: one pass over the bytes and one allocation (this runs for every name a
    // model build meets). An ASCII name lowers byte by byte, so it is the same rule.
    let root: &[u8] = if trimmed.ends_with('/') { b"root" } else { b"" };
    let mut out = String::with_capacity(trimmed.len() + root.len());
    let mut gap = false;
    for b in trimmed.bytes().chain(root.iter().copied()) {
        let c = b.to_ascii_lowercase();
        if c == b'-' {
            continue;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' {
            // A gap before the first kept byte would be trimmed below.
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(char::from(c));
        } else {
            gap = true;
        }
    }
    match out.trim_matches('_') {
        same if same.len() == out.len() => out,
        trimmed => trimmed.to_string(),
    }
}

/// [`slug`] of a name with characters outside ASCII: lower-casing may change its length or
/// turn a character into ASCII (`K`, the Kelvin sign, is `k`).
fn slug_unicode(trimmed: &str) -> String {
    let mut body: String = trimmed.to_lowercase().replace('-', "");
    if trimmed.ends_with('/') {
        body.push_str("root");
    }
    let mut out = String::with_capacity(body.len());
    let mut gap = false;
    for c in body.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            if gap {
                out.push('_');
                gap = false;
            }
            out.push(c);
        } else {
            gap = true;
        }
    }
    if gap {
        out.push('_');
    }
    out.trim_matches('_').to_string()
}

/// An id for a name that has no slug-able characters at all (`日本`, `???`): stable, derived
/// from the name's bytes (FNV-1a), never random.
pub fn fallback_id(name: &str) -> String {
    format!(
        "id_{:08x}",
        crate::text::fnv1a(name.trim().as_bytes()) as u32
    )
}

/// The id of a name: its slug, or a stable fallback when the slug is empty.
pub fn derive(name: &str) -> String {
    let s = slug(name);
    if s.is_empty() { fallback_id(name) } else { s }
}

/// Characters an explicit id may use.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Id of a relation, built from the ids it links (`/` cannot occur in an entity id).
pub fn relation_id(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_matches_threatspec() {
        // Expected values computed with Threatspec 0.5.0's parse_name.
        let cases = [
            ("SQL injection", "sql_injection"),
            ("WebApp:FileSystem", "webapp_filesystem"),
            ("Cross-site scripting", "crosssite_scripting"),
            ("  spaced  out  ", "spaced_out"),
            ("logs/", "logs_root"),
            ("a__b", "a__b"),
            ("Ünïcode name", "n_code_name"),
            ("--", ""),
            ("Shop:API:Checkout", "shop_api_checkout"),
            ("_private_", "private"),
        ];
        for (name, id) in cases {
            assert_eq!(slug(name), id, "{name}");
        }
    }

    #[test]
    fn ascii_path_is_the_unicode_rule() {
        // Every string of up to 4 characters over an alphabet of each class the rule treats
        // apart, and the same strings padded with spaces.
        let alphabet = ['a', 'Z', '7', '_', '-', '/', ' ', '.', 'K'];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = words
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(longer);
        }
        for w in &words {
            for name in [w.clone(), format!("  {w}\t")] {
                assert_eq!(slug(&name), slug_unicode(name.trim()), "{name:?}");
            }
        }
        assert_eq!(slug("\u{212a}elvin"), "kelvin");
    }

    #[test]
    fn derive_never_returns_empty() {
        assert_eq!(derive("日本"), derive("日本"));
        assert!(derive("日本").starts_with("id_"));
        assert_ne!(derive("日本"), derive("中国"));
    }

    #[test]
    fn valid_ids() {
        assert!(is_valid_id("sqli"));
        assert!(is_valid_id("Shop.API-v2:x"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a/b"));
    }
}
