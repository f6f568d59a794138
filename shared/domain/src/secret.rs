//! Provider credentials that never print themselves.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A provider API key or client secret. `Debug` and `Display` print it masked.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Parses a key: trimmed, non-empty, printable, without spaces inside.
    pub fn parse(field: &str, raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(format!(
                "{field} is empty: paste the key from the provider's API settings"
            ));
        }
        if trimmed.len() > 512 {
            return Err(format!(
                "{field} is longer than 512 characters: paste only the key"
            ));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{field} contains spaces or control characters: paste only the key"
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
    /// credential) on its way into errors, events and logs.
    pub fn masked_in(&self, text: &str) -> String {
        let plain = self.expose();
        if plain.is_empty() {
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
}
