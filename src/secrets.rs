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

/// A 256-bit key derived from `parts` for one `purpose` (domain-separated
/// SHA-256: keys for different purposes never coincide).
pub fn derive_key(purpose: &str, parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// Encrypts `plain` under `key` (ChaCha20-Poly1305, a random nonce):
/// `v1.<hex nonce>.<hex ciphertext>`.
pub fn seal(key: &[u8; 32], plain: &str) -> String {
    use chacha20poly1305::aead::{Aead, KeyInit};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    use rand::RngCore;
    let cipher = ChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
        .expect("encryption of an in-memory text does not fail");
    format!("v1.{}.{}", hex::encode(nonce), hex::encode(sealed))
}

/// Decrypts what [`seal`] made with the same key; `None` for another key
/// or a tampered text.
pub fn open(key: &[u8; 32], sealed: &str) -> Option<String> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    let mut parts = sealed.splitn(3, '.');
    if parts.next() != Some("v1") {
        return None;
    }
    let nonce = hex::decode(parts.next()?).ok().filter(|n| n.len() == 12)?;
    let body = hex::decode(parts.next()?).ok()?;
    let cipher = ChaCha20Poly1305::new(key.into());
    let plain = cipher
        .decrypt(Nonce::from_slice(&nonce), body.as_ref())
        .ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_texts_open_only_with_their_key() {
        let key = derive_key("test", &["scope", "key-1"]);
        let other = derive_key("test", &["scope", "key-2"]);
        assert_ne!(key, derive_key("other purpose", &["scope", "key-1"]));
        assert_ne!(derive_key("p", &["ab", "c"]), derive_key("p", &["a", "bc"]));
        let sealed = seal(&key, "{\"manage_token\":\"mt_secret\"}");
        assert!(!sealed.contains("mt_secret"));
        assert_eq!(
            open(&key, &sealed).as_deref(),
            Some("{\"manage_token\":\"mt_secret\"}")
        );
        assert_eq!(open(&other, &sealed), None);
        // Change the last hex digit to a different one (a real change).
        let mut tampered = sealed.clone();
        let last = tampered.pop().expect("a sealed text is not empty");
        tampered.push(if last == '0' { '1' } else { '0' });
        assert_ne!(tampered, sealed);
        assert_eq!(open(&key, &tampered), None);
        assert_ne!(seal(&key, "x"), seal(&key, "x"), "a fresh nonce every time");
    }

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
