//! Provider credentials that never print themselves, and the rules a credential typed by a
//! user must meet before it is stored.
//!
//! Every key or secret field has one [`KeyRule`], kept next to its provider's config (the
//! documentation providers' in [`crate::Provider::api_key_rule`], Microsoft's in
//! [`crate::microsoft`], each PSA's in its module of [`crate::psa`]); [`ApiKey::parse_with`]
//! applies it. [`ApiKey::parse`] is the lenient base for values read back from storage, which
//! met the rule of their day: a rule made stricter later never locks a stored key out.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The longest key or secret accepted: longer text is something pasted by mistake.
const MAX_CHARS: usize = 512;

/// Secrets shorter than this are never searched for in text ([`ApiKey::masked_in`]): a short
/// value also occurs by chance (a one-character secret is in every other word), and masking
/// each occurrence would garble the message rather than protect the secret.
pub const MIN_SCRUB_CHARS: usize = 8;

/// What a key or secret of one provider field looks like: refused below `min_len`, refused if
/// its `shape` does not match, and every refusal ends with `hint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRule {
    /// What the value is, for messages: "an Entra client secret".
    pub what: &'static str,
    /// Fewer characters than this is refused: no real value of this kind is that short.
    pub min_len: usize,
    /// What else a real value must (not) look like.
    pub shape: KeyShape,
    /// What a real value looks like and where the user finds it, e.g. "a Hudu API key is 24
    /// letters and digits, from Admin > API Keys".
    pub hint: &'static str,
}

/// The shape a [`KeyRule`] asks for beyond its length (printable, no spaces: always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// Nothing more.
    Any,
    /// Anything but a GUID: for a secret whose provider shows a GUID right next to it (Entra's
    /// "Secret ID"), which is what gets pasted by mistake. `id_name` names that GUID.
    NotAGuid {
        /// What the provider calls the GUID, e.g. "Secret ID".
        id_name: &'static str,
    },
}

/// Whether `raw` is a GUID: 8-4-4-4-12 hexadecimal digits, in any case, with or without
/// braces; `Some` holds it lowercase, hyphenated and without braces.
pub fn parse_guid(raw: &str) -> Option<String> {
    let t = raw.trim();
    let inner = match t.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => t,
    };
    let ok = inner.len() == 36
        && inner.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    ok.then(|| inner.to_ascii_lowercase())
}

/// A provider API key or client secret. `Debug` and `Display` print it masked.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Parses a stored key: trimmed, non-empty, printable, without spaces inside. Values a
    /// user typed go through [`ApiKey::parse_with`] and their field's rule instead.
    pub fn parse(field: &str, raw: &str) -> Result<Self, String> {
        Self::parse_base(field, raw, "paste the key from the provider's API settings")
    }

    /// Parses a key or secret a user typed into `field`: what [`ApiKey::parse`] checks, then
    /// `rule`'s minimum length and shape. The error starts with the field's name, ends with
    /// the rule's hint, and never contains the value.
    pub fn parse_with(field: &str, raw: &str, rule: &KeyRule) -> Result<Self, String> {
        let key = Self::parse_base(field, raw, rule.hint)?;
        let plain = key.expose();
        if plain.chars().count() < rule.min_len {
            return Err(format!(
                "{field} is shorter than {} characters, too short for {}: {}",
                rule.min_len, rule.what, rule.hint
            ));
        }
        if let KeyShape::NotAGuid { id_name } = rule.shape {
            if parse_guid(plain).is_some() {
                return Err(format!(
                    "{field} is a GUID, which is the {id_name}, not the secret itself: {}",
                    rule.hint
                ));
            }
        }
        Ok(key)
    }

    fn parse_base(field: &str, raw: &str, hint: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(format!("{field} is empty: {hint}"));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(format!(
                "{field} is longer than {MAX_CHARS} characters: paste only the key ({hint})"
            ));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{field} contains spaces or control characters: paste only the key ({hint})"
            ));
        }
        Ok(Self(SecretString::from(trimmed.to_owned())))
    }

    /// The key itself, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The key as shown to people: `••••` and at most the last 4 characters.
    pub fn masked(&self) -> String {
        mask(self.expose())
    }

    /// `text` with every occurrence of the key masked: for provider text (which may echo a
    /// credential) on its way into errors, events and logs. A key shorter than
    /// [`MIN_SCRUB_CHARS`] is not searched for and `text` comes back unchanged: its
    /// occurrences are mostly chance ones, and replacing them would garble the message.
    pub fn masked_in(&self, text: &str) -> String {
        let plain = self.expose();
        if plain.chars().count() < MIN_SCRUB_CHARS {
            return text.to_owned();
        }
        text.replace(plain, &self.masked())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

/// Masks a secret for display: `••••` followed by at most its last 4 characters (none when the
/// secret is short enough that 4 characters would give too much away).
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "••••".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

/// A connection URL (`postgres://user:password@host/db`, `amqp://...`) as it may be shown:
/// the password replaced by `••••`, everything else kept, so a setting can be logged or
/// printed. Text that is not a URL with a password is returned as it is.
pub fn redacted_url(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    // The credentials end at the last '@' before the host's path.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return raw.to_owned();
    };
    let (userinfo, host) = rest.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:••••{host}"),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_urls_are_shown_without_their_password() {
        assert_eq!(
            redacted_url("postgres://docsync:s3cr3t@db.internal:5432/docsync?sslmode=require"),
            "postgres://docsync:••••@db.internal:5432/docsync?sslmode=require"
        );
        assert_eq!(
            redacted_url("amqp://guest:p@ss@mq:5672/%2f"),
            "amqp://guest:••••@mq:5672/%2f"
        );
        assert_eq!(
            redacted_url("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432"
        );
        assert_eq!(redacted_url("not a url"), "not a url");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::parse("apiKey", "  supersecretvalue1234 ").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("1234"));
        assert_eq!(key.expose(), "supersecretvalue1234");
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask("abc123"), "••••");
    }

    #[test]
    fn empty_key_names_the_field() {
        let err = ApiKey::parse("apiKey", "  ").unwrap_err();
        assert!(err.starts_with("apiKey is empty"), "{err}");
    }

    const RULE: KeyRule = KeyRule {
        what: "a test secret",
        min_len: 20,
        shape: KeyShape::NotAGuid {
            id_name: "Secret ID",
        },
        hint: "a real one is 40 characters, from the test console",
    };

    #[test]
    fn a_rule_refuses_short_values_naming_the_field_and_the_hint() {
        let err = ApiKey::parse_with("clientSecret", "x", &RULE).unwrap_err();
        assert!(
            err.starts_with(
                "clientSecret is shorter than 20 characters, too short for a test secret"
            ),
            "{err}"
        );
        assert!(err.ends_with(RULE.hint), "{err}");
        for bad in [
            "",
            "   ",
            "two words but long enough here",
            &"y".repeat(513),
        ] {
            let err = ApiKey::parse_with("clientSecret", bad, &RULE).unwrap_err();
            assert!(err.starts_with("clientSecret "), "{err}");
            assert!(err.contains(RULE.hint), "{err}");
        }
        let secret = "0123456789abcdefghij";
        let ok = ApiKey::parse_with("clientSecret", &format!(" {secret} "), &RULE).unwrap();
        assert_eq!(ok.expose(), secret);
    }

    #[test]
    fn a_rule_refuses_a_pasted_guid_and_never_echoes_the_value() {
        let id = "{3F2B8C1E-9D4A-4E57-8A0B-1C2D3E4F5A6B}";
        let err = ApiKey::parse_with("clientSecret", id, &RULE).unwrap_err();
        assert!(err.contains("is a GUID, which is the Secret ID"), "{err}");
        assert!(!err.to_lowercase().contains("3f2b8c1e"), "{err}");
        let err = ApiKey::parse_with("clientSecret", "short!", &RULE).unwrap_err();
        assert!(!err.contains("short!"), "{err}");
    }

    #[test]
    fn guids_parse_in_any_case_with_or_without_braces() {
        let want = Some("3f2b8c1e-9d4a-4e57-8a0b-1c2d3e4f5a6b".to_owned());
        assert_eq!(parse_guid("3F2B8C1E-9D4A-4E57-8A0B-1C2D3E4F5A6B"), want);
        assert_eq!(parse_guid(" {3f2b8c1e-9d4a-4e57-8a0b-1c2d3e4f5a6b} "), want);
        for bad in [
            "",
            "sandbox-client-id",
            "3f2b8c1e9d4a4e578a0b1c2d3e4f5a6b",
            "{3f2b8c1e-9d4a-4e57-8a0b-1c2d3e4f5a6b",
        ] {
            assert_eq!(parse_guid(bad), None, "{bad}");
        }
    }

    #[test]
    fn masking_in_text_hides_a_long_key_and_leaves_other_text_unchanged() {
        let key = ApiKey::parse("clientSecret", "Zr5Yu1Ia9Ob3Pc7Qd0Xy").unwrap();
        let said = "AADSTS7000215: Invalid client secret Zr5Yu1Ia9Ob3Pc7Qd0Xy. Trace ID: 0a0b-10";
        let masked = key.masked_in(said);
        assert!(!masked.contains("Zr5Yu1Ia9Ob3Pc7Qd0Xy"), "{masked}");
        assert_eq!(
            masked,
            "AADSTS7000215: Invalid client secret ••••d0Xy. Trace ID: 0a0b-10"
        );
        let other =
            "AADSTS90002: Tenant '00000000-0000-0000-0000-000000000000' not found. Trace ID: 10";
        assert_eq!(key.masked_in(other), other);
    }

    #[test]
    fn a_key_too_short_to_search_for_leaves_text_byte_for_byte() {
        for short in ["0", "ab", "1234567"] {
            let key = ApiKey::parse("clientSecret", short).unwrap();
            let said =
                "AADSTS90002: Tenant '00000000-0000-0000-0000-000000000012' not found; ab 1234567";
            assert_eq!(key.masked_in(said), said, "{short}");
        }
        let eight = ApiKey::parse("clientSecret", "12345678").unwrap();
        assert_eq!(eight.masked_in("x 12345678 y"), "x •••• y");
    }
}
