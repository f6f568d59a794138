//! `/connections/microsoft`: the MSP's multi-tenant Graph app (client secret sealed, masked).

use crate::audit;
use crate::auth::Caller;
use crate::body::{Fields, JsonObject};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use docsync_domain::crypto::Binding;
use docsync_domain::{mask, microsoft, ApiKey};
use docsync_store::{AuditAction, FieldChange, Permission};
use serde_json::{json, Value};

pub(crate) async fn get_microsoft(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "clientId": conn.client_id,
        "clientSecret": secret,
        "updatedAt": conn.updated_at,
    })))
}

pub(crate) async fn put_microsoft(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(
        json!({"clientId": client_id, "clientSecret": secret.masked()}),
    ))
}
