//! The one rule for a basis id (`claimSpecification/id`) that the exchange can use as a name.

/// Basis ids are `ZVF` + digits; anything made of letters, digits, `-`, `_` and `.`, up to 64
/// characters, is accepted here (the validator decides the rest), so an id never needs escaping
/// in a path, a URL, a log line or a database key. The sending adapter refuses a basis whose id
/// fails this, the hub refuses it before anything is logged or delivered under it, and the store
/// answers 400 to a URL with such an id.
pub fn basis_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// What [`basis_id_ok`] asks for, in words for an error message.
pub const BASIS_ID_RULE: &str = "at most 64 letters, digits, '-', '_' or '.'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_names_are_usable() {
        assert!(basis_id_ok("ZVF23210000162601000001"));
        for bad in ["", "ZVF/../x", "ZVF 1", "ZVF\n1", "ZVFå", &"9".repeat(65)] {
            assert!(!basis_id_ok(bad), "{bad:?}");
        }
    }
}
