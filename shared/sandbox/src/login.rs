//! The Entra token endpoint: client-credentials grants for the Graph and Exchange audiences.

use crate::state::{Audience, State, TOKEN_LIFETIME_SECS};
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Routes of the login port.
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, description: String) -> Response {
    let body = json!({
        "error": code,
        "error_description": format!("{description}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nCorrelation ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [aadsts_code(&description)],
    });
    (status, Json(body)).into_response()
}

fn aadsts_code(description: &str) -> u32 {
    let digits: String = description
        .trim_start_matches("AADSTS")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

async fn token(
    AxState(state): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
                .into(),
        );
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let Some(index) = state.tenant_index(&tenant) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    };
    if field("grant_type") != "client_credentials" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type ''."
                .replace("''", &format!("'{}'", field("grant_type"))),
        );
    }
    if field("client_id") != state.config.graph_client_id {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("AADSTS700016: Application with identifier '{}' was not found in the directory '{tenant}'.", field("client_id")),
        );
    }
    if field("client_secret") != state.config.graph_client_secret {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", state.config.graph_client_id),
        );
    }
    let audience = match field("scope") {
        "https://graph.microsoft.com/.default" => Audience::Graph,
        "https://outlook.office365.com/.default" => Audience::Exchange,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("AADSTS1002012: The provided value for scope {other} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
            )
        }
    };
    let access_token = state.issue_token(index, audience);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": access_token,
    }))
    .into_response()
}
