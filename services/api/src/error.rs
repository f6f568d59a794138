//! API errors: every failure is JSON `{"error": code, "message": text, "fields": [...]}` with
//! the right status, and never carries a secret.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// One bad field and how to fix it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `companyIdByTenantId.3f2b...`.
    #[schema(example = "baseUrl")]
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What went wrong, as a code a program can switch on.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: bad input; `fields` names every bad field.
    InvalidRequest,
    /// 400: a request that cannot be carried out as asked.
    BadRequest,
    /// 401: no or unknown token.
    Unauthorized,
    /// 403: the token lacks a permission.
    Forbidden,
    /// 404: no such thing in this account.
    NotFound,
    /// 409: conflicts with what exists.
    Conflict,
    /// 429: too many requests by this token.
    RateLimited,
    /// 503: a dependency is down.
    Unavailable,
    /// 500: a fault inside docsync.
    Internal,
}

/// Every failure: a code, a message a person can act on and, for bad input, every bad field
/// and its fix.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong.
    #[schema(example = "invalid_request")]
    pub error: ErrorCode,
    /// What went wrong and how to fix it, in words.
    pub message: String,
    /// Every bad field (empty unless `error` is `invalid_request`).
    pub fields: Vec<FieldError>,
}

/// An API failure.
#[derive(Debug)]
pub enum ApiError {
    /// 400: bad input; lists every bad field.
    Invalid(Vec<FieldError>),
    /// 400: a request that cannot be carried out as asked (with a message).
    BadRequest(String),
    /// 401: no or unknown token.
    Unauthorized,
    /// 403: the token lacks a permission.
    Forbidden(&'static str),
    /// 404: no such thing in this account.
    NotFound(String),
    /// 409: conflicts with what exists.
    Conflict(String),
    /// 429: the token made more requests in the last minute than the API allows.
    RateLimited {
        /// Requests per minute allowed per token.
        limit: u32,
        /// Whole seconds until the next request is accepted.
        retry_after_secs: u64,
    },
    /// 429: this client address sent too many requests with a missing or unknown token.
    Guessing {
        /// Such requests allowed per minute per address.
        limit: u32,
        /// Whole seconds until the address is let in again.
        retry_after_secs: u64,
    },
    /// 503: a dependency is down; try again later.
    Unavailable(String),
    /// 500: a bug or an unexpected fault (details only in logs).
    Internal(String),
}

impl ApiError {
    /// One bad field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<docsync_store::StoreError> for ApiError {
    fn from(e: docsync_store::StoreError) -> Self {
        match e {
            docsync_store::StoreError::Conflict(m) => ApiError::Conflict(m),
            e if e.is_unavailable() => ApiError::Unavailable("the database is unavailable".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, fields) = match self {
            ApiError::Invalid(fields) => {
                let message = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message, fields)
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m, vec![]),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "send a valid API token as `Authorization: Bearer <token>` (create one with `docsync token create`)".into(),
                vec![],
            ),
            ApiError::Forbidden(perm) => (
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!("this token lacks the {perm} permission"),
                vec![],
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, m, vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, ErrorCode::Conflict, m, vec![]),
            ApiError::RateLimited {
                limit,
                retry_after_secs,
            }
            | ApiError::Guessing {
                limit,
                retry_after_secs,
            } => {
                let message = if matches!(self, ApiError::Guessing { .. }) {
                    format!(
                        "this address sent more than {limit} requests a minute without a valid API token; try again in {retry_after_secs} s (see Retry-After)"
                    )
                } else {
                    format!(
                        "this token is over its limit of {limit} requests a minute; try again in {retry_after_secs} s (see Retry-After)"
                    )
                };
                let body = Json(ErrorBody {
                    error: ErrorCode::RateLimited,
                    message,
                    fields: vec![],
                });
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after_secs.to_string())],
                    body,
                )
                    .into_response();
            }
            ApiError::Unavailable(m) => {
                let body = Json(ErrorBody {
                    error: ErrorCode::Unavailable,
                    message: m,
                    fields: vec![],
                });
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "5")],
                    body,
                )
                    .into_response();
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "something went wrong inside docsync; the details are in its logs".into(),
                    vec![],
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: code,
                message,
                fields,
            }),
        )
            .into_response()
    }
}
