//! Secrets at rest: AES-256-GCM under the operator's master key (`DOCSYNC_MASTER_KEY`).
//!
//! A sealed value is `v1:` + base64(nonce || ciphertext || tag). A wrong key or a tampered
//! value fails to open; nothing about the secret is ever in the error.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use std::fmt;

/// Why a master key or a sealed secret could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The master key is not base64 of exactly 32 bytes.
    #[error("DOCSYNC_MASTER_KEY must be base64 of 32 random bytes (generate one with `openssl rand -base64 32`)")]
    BadMasterKey,
    /// The sealed value was not made by this master key, or was altered.
    #[error("a stored secret could not be decrypted: DOCSYNC_MASTER_KEY is not the key it was stored with")]
    CannotOpen,
}

/// The key that seals stored secrets.
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl MasterKey {
    /// Parses base64 of 32 bytes.
    pub fn parse(b64: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(b64.trim())
            .map_err(|_| CryptoError::BadMasterKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadMasterKey);
        }
        Ok(Self(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// A fresh random key, base64-encoded (for `docsync demo` and tests).
    pub fn generate_b64() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Encrypts a secret for storage.
    pub fn seal(&self, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new(&self.0);
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", STANDARD.encode(out))
    }

    /// Decrypts a stored secret.
    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let body = sealed.strip_prefix("v1:").ok_or(CryptoError::CannotOpen)?;
        let raw = STANDARD.decode(body).map_err(|_| CryptoError::CannotOpen)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::CannotOpen)?;
        String::from_utf8(pt).map_err(|_| CryptoError::CannotOpen)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(••••)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let key = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let sealed = key.seal("hudu-key-abcdef");
        assert!(!sealed.contains("hudu-key"));
        assert_eq!(key.open(&sealed).unwrap(), "hudu-key-abcdef");
    }

    #[test]
    fn another_key_cannot_open() {
        let a = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let b = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        assert_eq!(b.open(&a.seal("x")), Err(CryptoError::CannotOpen));
    }

    #[test]
    fn short_master_key_is_refused_with_the_fix() {
        let err = MasterKey::parse("c2hvcnQ=").unwrap_err();
        assert!(err.to_string().contains("openssl rand -base64 32"));
    }
}
