//! Bearer-token authentication: a client address blocked for guessing is refused first; then
//! the token's hash is looked up (a missing or unknown token counts against the address), the
//! request is counted against the token's per-minute limit, and the handler then asks for the
//! permission it needs.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use docsync_store::{hash_token, ApiToken, Permission};

/// The caller, authenticated.
pub(crate) struct Caller(pub ApiToken);

impl Caller {
    /// Fails with 403 unless the token has `permission`.
    pub fn require(&self, permission: Permission) -> Result<docsync_domain::AccountId, ApiError> {
        if self.0.permissions.contains(&permission) {
            Ok(self.0.account_id)
        } else {
            Err(ApiError::Forbidden(permission.as_str()))
        }
    }

    /// The token's id: what the audit trail records as who made a change (never the token).
    pub fn token_id(&self) -> uuid::Uuid {
        self.0.id
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_address(parts, state.forwarded_hops);
        let guessing = |refused: crate::limit::Refused| ApiError::Guessing {
            limit: state.limiter.guesses_per_minute(),
            retry_after_secs: refused.retry_after_secs,
        };
        state.limiter.admit(client).map_err(guessing)?;
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256);
        let found = match token {
            Some(token) => state.store.find_token(&hash_token(token)).await?,
            None => None,
        };
        let Some(found) = found else {
            state.limiter.missed(client).map_err(guessing)?;
            return Err(ApiError::Unauthorized);
        };
        // Counted only once the token is known: a stranger cannot use up a token's budget.
        state
            .limiter
            .check(found.id)
            .map_err(|refused| ApiError::RateLimited {
                limit: state.limiter.per_minute(),
                retry_after_secs: refused.retry_after_secs,
            })?;
        Ok(Caller(found))
    }
}

/// The client's address: the TCP peer, or, behind `hops` trusted proxies that each append the
/// address they saw to `X-Forwarded-For`, the entry the outermost of them appended. Without
/// either (a router driven in-process), the unspecified address.
fn client_address(parts: &Parts, hops: usize) -> std::net::IpAddr {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded.get(i))
        .and_then(|a| a.parse().ok())
        .unwrap_or(peer)
}
