//! Secrets at rest: AES-256-GCM under the operator's master key (`DOCSYNC_MASTER_KEY`).
//!
//! A sealed value is `v2:` + base64(nonce || ciphertext || tag), sealed with the place it is
//! stored in (a [`Binding`]: the account, and which secret of which row) as associated data,
//! so a sealed value copied into another row or account does not open there. Values of the
//! first format (`v1:`, no binding) still open where they are, until `rotate-key` or the next
//! save re-seals them bound. A wrong key, a tampered value or the wrong place fails to open;
//! nothing about the secret is ever in the error.

use aes_gcm::aead::{Aead, KeyInit, Payload};
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
    #[error("a stored secret could not be decrypted: it was stored with another DOCSYNC_MASTER_KEY, or copied from another row; set it again through the API")]
    CannotOpen,
}

/// Where a sealed secret is stored: its associated data. Two places never share a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(String);

impl Binding {
    /// The client secret of an account's Microsoft connection.
    pub fn microsoft_client_secret(account: crate::AccountId) -> Self {
        Self(format!("account {account}: microsoft clientSecret"))
    }

    /// The API key of an account's documentation integration (`hudu`, `it-glue`).
    pub fn integration_api_key(account: crate::AccountId, provider: crate::Provider) -> Self {
        Self(format!("account {account}: integration {provider} apiKey"))
    }

    /// A secret (`name`) of an account's PSA integration.
    pub fn psa_secret(account: crate::AccountId, psa: crate::psa::PsaKind, name: &str) -> Self {
        Self(format!("account {account}: psa {psa} {name}"))
    }

    /// The signing secret of a webhook subscription.
    pub fn webhook_secret(account: crate::AccountId, webhook: uuid::Uuid) -> Self {
        Self(format!("account {account}: webhook {webhook} secret"))
    }

    fn aad(&self) -> Vec<u8> {
        format!("docsync sealed secret v2; {}", self.0).into_bytes()
    }
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

    /// Encrypts a secret for storage in the place `binding` names.
    pub fn seal(&self, plaintext: &str, binding: &Binding) -> String {
        let cipher = Aes256Gcm::new(&self.0);
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let aad = binding.aad();
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v2:{}", STANDARD.encode(out))
    }

    /// Decrypts a secret stored in the place `binding` names (a `v1:` value, sealed before
    /// bindings, opens anywhere until it is re-sealed).
    pub fn open(&self, sealed: &str, binding: &Binding) -> Result<String, CryptoError> {
        let (body, aad) = if let Some(body) = sealed.strip_prefix("v2:") {
            (body, binding.aad())
        } else if let Some(body) = sealed.strip_prefix("v1:") {
            (body, Vec::new())
        } else {
            return Err(CryptoError::CannotOpen);
        };
        let raw = STANDARD.decode(body).map_err(|_| CryptoError::CannotOpen)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| CryptoError::CannotOpen)?;
        String::from_utf8(pt).map_err(|_| CryptoError::CannotOpen)
    }

    /// Whether `sealed` is of the current format, bound to its place (else `rotate-key`
    /// re-seals it).
    pub fn is_bound(sealed: &str) -> bool {
        sealed.starts_with("v2:")
    }

    /// A value of the first format (unbound), as releases before bindings stored them: for
    /// upgrade tests.
    pub fn seal_unbound(&self, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new(&self.0);
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", STANDARD.encode(out))
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
        let here = Binding::microsoft_client_secret(crate::AccountId(uuid::Uuid::new_v4()));
        let sealed = key.seal("hudu-key-abcdef", &here);
        assert!(!sealed.contains("hudu-key"));
        assert_eq!(key.open(&sealed, &here).unwrap(), "hudu-key-abcdef");
    }

    #[test]
    fn another_key_cannot_open() {
        let a = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let b = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let here = Binding::microsoft_client_secret(crate::AccountId(uuid::Uuid::new_v4()));
        assert_eq!(
            b.open(&a.seal("x", &here), &here),
            Err(CryptoError::CannotOpen)
        );
    }

    #[test]
    fn a_sealed_value_copied_to_another_row_or_account_does_not_open() {
        let key = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let (a, b) = (
            crate::AccountId(uuid::Uuid::new_v4()),
            crate::AccountId(uuid::Uuid::new_v4()),
        );
        let hudu = Binding::integration_api_key(a, crate::Provider::Hudu);
        let sealed = key.seal("hudu-key-abcdef", &hudu);
        assert_eq!(key.open(&sealed, &hudu).unwrap(), "hudu-key-abcdef");
        for elsewhere in [
            Binding::integration_api_key(b, crate::Provider::Hudu),
            Binding::integration_api_key(a, crate::Provider::ItGlue),
            Binding::microsoft_client_secret(a),
            Binding::webhook_secret(a, uuid::Uuid::new_v4()),
        ] {
            assert_eq!(
                key.open(&sealed, &elsewhere),
                Err(CryptoError::CannotOpen),
                "{elsewhere:?}"
            );
        }
    }

    #[test]
    fn values_sealed_before_bindings_still_open_and_are_told_apart() {
        let key = MasterKey::parse(&MasterKey::generate_b64()).unwrap();
        let old = key.seal_unbound("legacy-secret-value");
        let here = Binding::microsoft_client_secret(crate::AccountId(uuid::Uuid::new_v4()));
        assert_eq!(key.open(&old, &here).unwrap(), "legacy-secret-value");
        assert!(!MasterKey::is_bound(&old));
        assert!(MasterKey::is_bound(&key.seal("x", &here)));
    }

    #[test]
    fn short_master_key_is_refused_with_the_fix() {
        let err = MasterKey::parse("c2hvcnQ=").unwrap_err();
        assert!(err.to_string().contains("openssl rand -base64 32"));
    }
}
