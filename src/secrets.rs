//! Bearer secrets (API keys, manage tokens, screening tokens): generated
//! from the OS random source, shown once, stored only as SHA-256 hashes.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

/// The kinds of bearer secret, told apart by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Staff and partner API keys: `ck_<8-char id>_<secret>`.
    ApiKey,
    /// A booking's manage token: `mt_<secret>`.
    ManageToken,
    /// A screening token: `st_<secret>`.
    ScreeningToken,
}

impl SecretKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "ck_",
            Self::ManageToken => "mt_",
            Self::ScreeningToken => "st_",
        }
    }

    /// The kind a presented secret claims to be, from its prefix.
    pub fn of(secret: &str) -> Option<Self> {
        [Self::ApiKey, Self::ManageToken, Self::ScreeningToken]
            .into_iter()
            .find(|k| secret.starts_with(k.prefix()))
    }
}

/// Length of the random part (62^40 ≈ 2^238).
const SECRET_CHARS: usize = 40;
/// Length of an API key's public lookup id.
pub const API_KEY_ID_CHARS: usize = 8;

/// A new random secret of `kind`. For API keys, also returns the public
/// lookup prefix (`ck_xxxxxxxx`) that is stored in clear.
pub fn generate(kind: SecretKind) -> (String, String) {
    let mut rng = rand::rng();
    match kind {
        SecretKind::ApiKey => {
            let id = Alphanumeric
                .sample_string(&mut rng, API_KEY_ID_CHARS)
                .to_ascii_lowercase();
            let public = format!("{}{id}", kind.prefix());
            let secret = Alphanumeric.sample_string(&mut rng, SECRET_CHARS);
            (format!("{public}_{secret}"), public)
        }
        _ => {
            let secret = Alphanumeric.sample_string(&mut rng, SECRET_CHARS);
            let token = format!("{}{secret}", kind.prefix());
            (token.clone(), kind.prefix().to_owned())
        }
    }
}

/// The stored form of a secret: lower-case hex SHA-256.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The public lookup prefix of a presented API key, if well formed.
pub fn api_key_public_part(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(SecretKind::ApiKey.prefix())?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == API_KEY_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && secret.len() == SECRET_CHARS
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| &key[..SecretKind::ApiKey.prefix().len() + API_KEY_ID_CHARS])
}

/// Compares two hashes without an early exit.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_a_public_lookup_part() {
        let (key, public) = generate(SecretKind::ApiKey);
        assert!(key.starts_with("ck_"));
        assert_eq!(api_key_public_part(&key), Some(public.as_str()));
        assert_eq!(SecretKind::of(&key), Some(SecretKind::ApiKey));
        assert_eq!(public.len(), 3 + API_KEY_ID_CHARS);
    }

    #[test]
    fn malformed_keys_have_no_public_part() {
        for bad in [
            "",
            "ck_",
            "ck_abc_def",
            "mt_x",
            "ck_abcdefgh_short",
            "ck_abcdefgh",
        ] {
            assert_eq!(api_key_public_part(bad), None, "{bad}");
        }
    }

    #[test]
    fn tokens_are_distinct_and_hashed() {
        let (a, _) = generate(SecretKind::ManageToken);
        let (b, _) = generate(SecretKind::ManageToken);
        assert_ne!(a, b);
        assert!(a.starts_with("mt_"));
        assert_eq!(hash(&a).len(), 64);
        assert!(hashes_match(&hash(&a), &hash(&a)));
        assert!(!hashes_match(&hash(&a), &hash(&b)));
    }
}
