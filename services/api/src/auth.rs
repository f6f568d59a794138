//! Bearer-token authentication: the token's hash is looked up, the request is counted against
//! the token's per-minute limit, and the handler then asks for the permission it needs.

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
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or(ApiError::Unauthorized)?;
        let found = state
            .store
            .find_token(&hash_token(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
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
