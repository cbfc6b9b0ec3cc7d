//! URL slugs and topic codes: lower-case ASCII words joined by hyphens or
//! underscores.

/// Whether `s` is a valid slug: 1–80 characters of `a-z`, `0-9` and single
/// `-` separators, not starting or ending with one.
pub fn is_slug(s: &str) -> bool {
    is_token(s, b'-')
}

/// Whether `s` is a valid topic code: like a slug, with `_` separators.
pub fn is_topic(s: &str) -> bool {
    is_token(s, b'_')
}

fn is_token(s: &str, sep: u8) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 80
        && b[0] != sep
        && b[b.len() - 1] != sep
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == sep)
        && !b.windows(2).any(|w| w[0] == sep && w[1] == sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "facial-asymmetry-correction", "lip-2"] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a b", "á", "a_b"] {
            assert!(!is_slug(bad), "{bad}");
        }
        assert!(!is_slug(&"a".repeat(81)));
    }

    #[test]
    fn topics() {
        assert!(is_topic("about_asymmetry"));
        assert!(!is_topic("about-asymmetry"));
        assert!(!is_topic("_x"));
    }
}
