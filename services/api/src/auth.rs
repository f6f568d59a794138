//! Bearer-token authentication: the token's hash is looked up; the handler then asks for the
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
        let found = state.store.find_token(&hash_token(token)).await?;
        found.map(Caller).ok_or(ApiError::Unauthorized)
    }
}
