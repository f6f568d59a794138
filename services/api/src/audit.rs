//! `/audit`: the account's configuration changes, newest first, and the helpers handlers use
//! to describe a change (who: the token's id; what: field by field, secrets only as
//! "changed").

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use docsync_store::{AuditAction, AuditEvent, FieldChange, Permission, MAX_AUDIT_PAGE};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// One configuration change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditEventView {
    /// The entry's id.
    id: Uuid,
    /// When the change was made.
    at: DateTime<Utc>,
    /// The API token that made it (null when made by a docsync command).
    token_id: Option<Uuid>,
    /// created, updated or deleted.
    #[schema(value_type = AuditActionName)]
    action: String,
    /// The kind of thing changed: tenant, microsoftConnection, integration, ...
    entity_type: String,
    /// Its id (a tenant id, a provider name ...).
    entity_id: String,
    /// Field by field: `{field, from, to}`, or `{field, change: "changed"}` for a secret (never
    /// its value).
    #[schema(value_type = Vec<Object>)]
    changes: Value,
}

/// What was done.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum AuditActionName {
    /// Created.
    Created,
    /// Changed.
    Updated,
    /// Removed.
    Deleted,
}

/// The account's configuration changes, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditList {
    /// The changes.
    events: Vec<AuditEventView>,
}

/// The query of `GET /audit`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AuditQuery {
    /// At most this many entries (50 when left out).
    #[param(minimum = 1, maximum = 500, nullable = false)]
    limit: Option<i64>,
}

/// Entries returned when `limit` is not given.
const DEFAULT_LIMIT: i64 = 50;

/// An event by the calling token.
pub(crate) fn event(
    caller: &Caller,
    action: AuditAction,
    entity_type: &'static str,
    entity_id: Option<String>,
    changes: Vec<FieldChange>,
) -> AuditEvent {
    AuditEvent {
        token_id: Some(caller.token_id()),
        action,
        entity_type,
        entity_id,
        changes,
    }
}

/// The change of a plain field (None when unchanged).
pub(crate) fn diff(
    field: impl Into<String>,
    from: Option<impl Into<Value>>,
    to: Option<impl Into<Value>>,
) -> Option<FieldChange> {
    FieldChange::diff(field, from.map(Into::into), to.map(Into::into))
}

/// A secret that changed: recorded without its value.
pub(crate) fn secret(field: &str) -> FieldChange {
    FieldChange::Secret {
        field: field.to_owned(),
    }
}

/// True when a stored secret equals the one sent. Digests are compared, not the secrets, so
/// the time taken says nothing about how much of the stored secret a guess matched.
pub(crate) fn same_secret(stored: &str, sent: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(stored.as_bytes()) == Sha256::digest(sent.as_bytes())
}

#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "listAudit",
    tag = "audit",
    summary = "The account's configuration changes, newest first",
    description = "Needs the INTEGRATIONS_READ permission. Any other query parameter is a 400 naming it.",
    params(AuditQuery),
    responses(
        (status = 200, description = "the events", body = AuditList),
        (status = 400, response = crate::openapi::BadRequest),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AuditList>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let mut bad = Vec::new();
    for key in query.keys().filter(|k| k.as_str() != "limit") {
        bad.push((
            key.clone(),
            "unknown query parameter: the only one is limit".to_owned(),
        ));
    }
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_AUDIT_PAGE).contains(&n) => n,
            _ => {
                bad.push((
                    "limit".to_owned(),
                    format!("must be a whole number from 1 to {MAX_AUDIT_PAGE}, got {raw:?}"),
                ));
                DEFAULT_LIMIT
            }
        },
    };
    if !bad.is_empty() {
        return Err(ApiError::Invalid(
            bad.into_iter()
                .map(|(field, message)| crate::error::FieldError { field, message })
                .collect(),
        ));
    }
    let entries = state.store.audit_entries(account, limit).await?;
    let events = entries
        .iter()
        .map(|e| AuditEventView {
            id: e.id,
            at: e.at,
            token_id: e.token_id,
            action: e.action.clone(),
            entity_type: e.entity_type.clone(),
            entity_id: e.entity_id.clone(),
            changes: e.changes.clone(),
        })
        .collect();
    Ok(Json(AuditList { events }))
}
