//! `/connections/microsoft`: the MSP's multi-tenant Graph app (client secret sealed, masked).

use crate::audit;
use crate::auth::Caller;
use crate::body::{Fields, JsonObject};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use docsync_domain::crypto::Binding;
use docsync_domain::{mask, microsoft, ApiKey};
use docsync_store::{AuditAction, FieldChange, Permission};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of `PUT /connections/microsoft`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct MicrosoftConnectionPut {
    /// The Application (client) ID from Entra admin centre → App registrations → (the docsync
    /// app) → Overview: a GUID in any case, braces allowed (stored lower-case).
    #[schema(
        max_length = 64,
        pattern = r"^\s*(\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\s*$",
        example = "5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f"
    )]
    client_id: String,
    /// The client secret's Value (not its Secret ID, a GUID), from Certificates & secrets: at
    /// least 32 characters, no spaces; a current one is 40 characters.
    #[schema(schema_with = client_secret)]
    client_secret: String,
}

/// An Entra client secret as [`microsoft::CLIENT_SECRET`] takes it: at least 32 characters
/// without spaces, and not a GUID.
fn client_secret() -> utoipa::openapi::schema::Schema {
    let guid = r"^\s*(\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\s*$";
    serde_json::from_value(serde_json::json!({
        "type": "string",
        "pattern": format!(r"^\s*[^\s\u0000-\u001f\u007f-\u009f]{{{},512}}\s*$", microsoft::CLIENT_SECRET.min_len),
        "not": {"pattern": guid},
        "example": "abc8Q~defghijklmnopqrstuvwxyz-_.~0123456",
    }))
    .unwrap_or_else(|e| crate::integrations::unreachable_schema(&e))
}

/// The Microsoft connection, the secret masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MicrosoftConnection {
    /// The app (client) id.
    client_id: String,
    /// Masked: •••• and at most the last 4 characters.
    #[schema(example = "••••cdef")]
    client_secret: String,
    /// When it was last set (left out in the answer to PUT).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    updated_at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    get,
    path = "/connections/microsoft",
    operation_id = "getMicrosoftConnection",
    tag = "connections",
    summary = "The MSP's multi-tenant Graph app (secret masked)",
    description = "Needs the INTEGRATIONS_READ permission.",
    responses(
        (status = 200, description = "the connection", body = MicrosoftConnection),
        (status = 404, description = "no Microsoft connection yet: PUT /connections/microsoft", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn get_microsoft(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MicrosoftConnection>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let conn = state
        .store
        .microsoft_connection(account)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("no Microsoft connection yet: PUT /connections/microsoft".into())
        })?;
    let secret = state
        .master
        .open(
            &conn.client_secret_sealed,
            &Binding::microsoft_client_secret(account),
        )
        .map(|s| mask(&s))
        .unwrap_or_else(|_| "•••• (unreadable: stored with another master key or copied from another row; set it again)".into());
    Ok(Json(MicrosoftConnection {
        client_id: conn.client_id,
        client_secret: secret,
        updated_at: Some(conn.updated_at),
    }))
}

#[utoipa::path(
    put,
    path = "/connections/microsoft",
    operation_id = "putMicrosoftConnection",
    tag = "connections",
    summary = "Set the MSP's multi-tenant Graph app",
    description = "Needs the INTEGRATIONS_MANAGE permission.",
    request_body(content = MicrosoftConnectionPut),
    responses(
        (status = 200, description = "saved", body = MicrosoftConnection),
        (status = 400, response = crate::openapi::BadRequest),
    )
)]
pub(crate) async fn put_microsoft(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<MicrosoftConnection>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let mut f = Fields::new(&body, &["clientId", "clientSecret"]);
    let client_id =
        f.text("clientId", true, 64)
            .and_then(|id| match microsoft::parse_client_id(&id) {
                Ok(id) => Some(id),
                Err(e) => {
                    f.error("clientId", e);
                    None
                }
            });
    let secret = f.string("clientSecret", true).and_then(|s| {
        match ApiKey::parse_with("clientSecret", &s, &microsoft::CLIENT_SECRET) {
            Ok(k) => Some(k),
            Err(e) => {
                f.error("clientSecret", e);
                None
            }
        }
    });
    f.finish()?;
    let (Some(client_id), Some(secret)) = (client_id, secret) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let before = state.store.microsoft_connection(account).await?;
    let mut changes: Vec<FieldChange> = audit::diff(
        "clientId",
        before.as_ref().map(|b| b.client_id.as_str()),
        Some(client_id.as_str()),
    )
    .into_iter()
    .collect();
    let secret_unchanged = before.as_ref().is_some_and(|b| {
        state
            .master
            .open(
                &b.client_secret_sealed,
                &Binding::microsoft_client_secret(account),
            )
            .is_ok_and(|old| audit::same_secret(&old, secret.expose()))
    });
    if !secret_unchanged {
        changes.push(audit::secret("clientSecret"));
    }
    let action = match before {
        Some(_) => AuditAction::Updated,
        None => AuditAction::Created,
    };
    let event = audit::event(
        &caller,
        action,
        "microsoftConnection",
        Some("microsoft".to_owned()),
        changes,
    );
    state
        .store
        .put_microsoft_connection_audited(
            account,
            &client_id,
            &state
                .master
                .seal(secret.expose(), &Binding::microsoft_client_secret(account)),
            &event,
        )
        .await?;
    Ok(Json(MicrosoftConnection {
        client_secret: secret.masked(),
        client_id,
        updated_at: None,
    }))
}
