//! The signature of a webhook delivery: `X-Docsync-Signature: sha256=<hex>`, the HMAC-SHA256
//! of the exact body bytes keyed with the subscription's secret. A receiver recomputes it over
//! the body it received and compares in constant time ([`verify`] does both).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Docsync-Signature";
/// The header carrying the delivery id (the same on every retry of one delivery).
pub const DELIVERY_HEADER: &str = "X-Docsync-Delivery";
/// The header naming the event (`run.finished`).
pub const EVENT_HEADER: &str = "X-Docsync-Event";

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// The header value for `body` signed with `secret`: `sha256=` and 64 lower-case hex digits.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    let digest = m.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// True when `header` is the signature of `body` under `secret` (compared in constant time).
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let bytes: Vec<u8> = (0..32)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verifies_only_the_same_body_and_secret() {
        let s = sign("a-long-enough-secret", b"{\"event\":\"run.finished\"}");
        assert!(verify(
            "a-long-enough-secret",
            b"{\"event\":\"run.finished\"}",
            &s
        ));
        assert!(!verify(
            "another-secret-value",
            b"{\"event\":\"run.finished\"}",
            &s
        ));
        assert!(!verify(
            "a-long-enough-secret",
            b"{\"event\":\"run.finished\" }",
            &s
        ));
        assert!(!verify("a-long-enough-secret", b"x", "sha256=zz"));
        assert!(!verify(
            "a-long-enough-secret",
            b"x",
            &s.replace("sha256=", "sha1=")
        ));
    }
}
