//! `/audit`: the account's configuration changes, newest first, and the helpers handlers use
//! to describe a change (who: the token's id; what: field by field, secrets only as
//! "changed").

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::Json;
use docsync_store::{AuditAction, AuditEvent, FieldChange, Permission, MAX_AUDIT_PAGE};
use serde_json::{json, Value};
use std::collections::HashMap;

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

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
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
    let events: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": e.at,
                "tokenId": e.token_id,
                "action": e.action,
                "entityType": e.entity_type,
                "entityId": e.entity_id,
                "changes": e.changes,
            })
        })
        .collect();
    Ok(Json(json!({ "events": events })))
}
