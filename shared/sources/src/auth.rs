//! Signing in to a customer tenant: OAuth2 client credentials against Entra, one token per
//! (tenant, scope, app), cached until 60 s before it expires. The client secret is sent only in
//! the token request body and scrubbed from anything Microsoft echoes back.

use crate::http::{CallError, Caller};
use crate::MicrosoftCredentials;
use docsync_domain::ApiKey;
use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Scope of Microsoft Graph tokens.
pub(crate) const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Scope of Exchange Online admin API tokens.
pub(crate) const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";
/// A cached token is renewed this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// A bearer token for one tenant and scope.
#[derive(Clone)]
pub(crate) struct AccessToken(String);

impl AccessToken {
    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(••••)")
    }
}

/// Why no token was issued.
#[derive(Debug, Clone)]
pub(crate) enum SignInError {
    /// Entra refused (bad secret, unknown tenant, app not consented): a person must act.
    Refused {
        /// What Entra said and what to fix.
        reason: String,
    },
    /// Entra could not be reached.
    Unreachable {
        /// What failed.
        reason: String,
    },
}

impl SignInError {
    /// The collection's error for this sign-in failure of tenant `ms_tenant`.
    pub(crate) fn for_tenant(self, ms_tenant: &str) -> crate::SourceError {
        match self {
            SignInError::Refused { reason } => crate::SourceError::SignIn {
                tenant: ms_tenant.to_owned(),
                reason,
            },
            SignInError::Unreachable { reason } => crate::SourceError::Transient { reason },
        }
    }
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct CacheKey {
    tenant: String,
    scope: &'static str,
    client_id: String,
    /// A hash of the secret, so a changed secret is never answered from the cache.
    secret_hash: u64,
}

/// Tokens shared by every collection of one source.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<CacheKey, (AccessToken, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenCache {
    /// A token for `scope` in `tenant`, from the cache or from Entra.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        caller: &Caller,
        login_url: &str,
        creds: &MicrosoftCredentials,
        tenant: &str,
        scope: &'static str,
    ) -> Result<AccessToken, SignInError> {
        let key = CacheKey {
            tenant: tenant.to_owned(),
            scope,
            client_id: creds.client_id.clone(),
            secret_hash: hash_secret(creds.client_secret.expose()),
        };
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            login_url.trim_end_matches('/'),
            tenant
        );
        let secret = creds.client_secret.expose();
        let answer = caller
            .send(|| {
                http.post(&url).form(&[
                    ("client_id", creds.client_id.as_str()),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                    ("scope", scope),
                ])
            })
            .await
            .map_err(|e| sign_in_error(e, &creds.client_secret, scope))?;
        let parsed: TokenResponse =
            serde_json::from_str(&answer.body).map_err(|_| SignInError::Unreachable {
                reason: "the sign-in endpoint answered with a body that is not a token".to_owned(),
            })?;
        let lifetime = parsed
            .expires_in
            .as_ref()
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(3600);
        let token = AccessToken(parsed.access_token);
        let expires = Instant::now() + Duration::from_secs(lifetime);
        if let Ok(mut map) = self.tokens.lock() {
            map.insert(key, (token.clone(), expires));
        }
        Ok(token)
    }

    fn cached(&self, key: &CacheKey) -> Option<AccessToken> {
        let map = self.tokens.lock().ok()?;
        let (token, expires) = map.get(key)?;
        (Instant::now() + EXPIRY_MARGIN < *expires).then(|| token.clone())
    }
}

fn hash_secret(secret: &str) -> u64 {
    let mut h = DefaultHasher::new();
    secret.hash(&mut h);
    h.finish()
}

/// Turns a failed token call into a reason a person can act on, without the secret (masked
/// by [`ApiKey::masked_in`], which leaves a message whole rather than mask a secret too short
/// to search for).
fn sign_in_error(err: CallError, secret: &ApiKey, scope: &str) -> SignInError {
    let scrub = |s: &str| secret.masked_in(s);
    match err {
        CallError::Status {
            status,
            code,
            message,
        } => {
            let message = scrub(&message);
            let fix = fix_for(&message, &code);
            let said = if message.is_empty() {
                format!("HTTP {status} {code}")
            } else {
                message
            };
            SignInError::Refused {
                reason: format!(
                    "Entra refused a token for {scope} ({said}){}",
                    if fix.is_empty() {
                        String::new()
                    } else {
                        format!(": {fix}")
                    }
                ),
            }
        }
        CallError::Transient { reason } | CallError::Malformed { reason } => {
            SignInError::Unreachable {
                reason: format!(
                    "the Entra sign-in endpoint did not answer: {}",
                    scrub(&reason)
                ),
            }
        }
    }
}

/// The fix for the AADSTS codes MSPs meet most.
fn fix_for(message: &str, code: &str) -> &'static str {
    let has = |s: &str| message.contains(s);
    if has("AADSTS7000215") || has("AADSTS7000222") || code == "invalid_client" {
        "check the client secret of the docsync app (PUT /connections/microsoft); create a new one in Entra if it expired"
    } else if has("AADSTS700016") || code == "unauthorized_client" {
        "the docsync app is not known in this tenant: check the client id and have a Global Administrator consent to the app in this tenant"
    } else if has("AADSTS90002") || has("AADSTS90023") || has("AADSTS900023") {
        "the Microsoft tenant id is wrong or the tenant no longer exists: correct the tenant's microsoftTenantId"
    } else if has("AADSTS65001") || has("AADSTS650052") || code == "invalid_grant" {
        "the docsync app has not been consented in this tenant: have a Global Administrator grant admin consent"
    } else if code == "invalid_scope" || has("AADSTS70011") || has("AADSTS500011") {
        "the tenant does not have the service for this scope or the app lacks its permissions: grant and consent the app's permissions in this tenant"
    } else {
        "check the docsync app's client id and secret and its admin consent in this tenant"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(secret: &str) -> ApiKey {
        ApiKey::parse("clientSecret", secret).unwrap()
    }

    /// What Entra says for a tenant it does not know: full of zeros and trace ids.
    const UNKNOWN_TENANT: &str = "AADSTS90002: Tenant '00000000-0000-0000-0000-000000000000' \
        not found. Trace ID: 0a1b2c3d-0000-4e5f-9a8b-7c6d5e4f3a20 Correlation ID: \
        10203040-5060-7080-90a0-b0c0d0e0f000 Timestamp: 2026-12-02 04:00:00Z";

    fn refused(secret: &ApiKey, message: &str) -> String {
        let err = sign_in_error(
            CallError::Status {
                status: 400,
                code: "invalid_request".into(),
                message: message.into(),
            },
            secret,
            GRAPH_SCOPE,
        );
        let SignInError::Refused { reason } = err else {
            panic!("expected a refusal");
        };
        reason
    }

    #[test]
    fn a_message_with_the_secret_is_masked_and_one_without_it_is_unchanged() {
        let secret = key("abc8Q~defghijklmnopqrstuvwxyz-_.~0123456");
        let with = refused(
            &secret,
            "AADSTS7000215: Invalid client secret abc8Q~defghijklmnopqrstuvwxyz-_.~0123456",
        );
        assert!(!with.contains("abc8Q~defghijklmnopqrstuvwxyz"), "{with}");
        assert!(with.contains("Invalid client secret ••••3456"), "{with}");
        let without = refused(&secret, UNKNOWN_TENANT);
        assert!(
            without.contains(&format!("({UNKNOWN_TENANT})")),
            "{without}"
        );
    }

    #[test]
    fn a_secret_too_short_to_search_for_never_garbles_the_message() {
        // A stored one-character secret (from before minimum lengths) once turned every "0"
        // of this message into bullets.
        for short in ["0", "00", "0000000"] {
            let reason = refused(&key(short), UNKNOWN_TENANT);
            assert!(reason.contains(&format!("({UNKNOWN_TENANT})")), "{reason}");
            assert!(!reason.contains('•'), "{reason}");
        }
        let SignInError::Unreachable { reason } = sign_in_error(
            CallError::Transient {
                reason: "error sending request for url (https://login.example/0/token)".into(),
            },
            &key("0"),
            GRAPH_SCOPE,
        ) else {
            panic!("expected unreachable");
        };
        assert!(reason.ends_with("error sending request for url (https://login.example/0/token)"));
    }

    #[test]
    fn a_refusal_names_the_fix_and_never_the_secret() {
        let err = sign_in_error(
            CallError::Status {
                status: 401,
                code: "invalid_client".into(),
                message: "AADSTS7000215: Invalid client secret provided: s3cr3t-value".into(),
            },
            &key("s3cr3t-value"),
            GRAPH_SCOPE,
        );
        let SignInError::Refused { reason } = err else {
            panic!("expected a refusal");
        };
        assert!(reason.contains("AADSTS7000215"), "{reason}");
        assert!(reason.contains("client secret"), "{reason}");
        assert!(!reason.contains("s3cr3t-value"), "{reason}");
    }

    #[test]
    fn network_failure_is_unreachable() {
        let err = sign_in_error(
            CallError::Transient {
                reason: "timed out".into(),
            },
            &key("x"),
            GRAPH_SCOPE,
        );
        assert!(matches!(err, SignInError::Unreachable { .. }));
    }
}
