//! The audit trail of configuration changes: who made them (the API token's id, never the
//! token), what changed (entity type and id, each field's before and after; secrets only as
//! "changed") and when. Events are written in the transaction of the change they describe.

use crate::prepared::Prepared;
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::AccountId;
use serde_json::{json, Value};
use uuid::Uuid;

/// What was done to the configuration entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// It was created.
    Created,
    /// Some of its fields changed.
    Updated,
    /// It was removed.
    Deleted,
}

impl AuditAction {
    /// The action's name as shown (`created`, `updated`, `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Updated => "updated",
            AuditAction::Deleted => "deleted",
        }
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldChange {
    /// A plain value: before and after (None when the field was absent).
    Value {
        /// The field as the API names it (`name`, `companyIdByTenantId.<tenant id>`).
        field: String,
        /// Before the change.
        from: Option<Value>,
        /// After the change.
        to: Option<Value>,
    },
    /// A secret: recorded only as "changed", never its value (sealed or not).
    Secret {
        /// The field as the API names it (`apiKey`, `clientSecret`).
        field: String,
    },
}

impl FieldChange {
    /// The change of a plain field, or None when it did not change.
    pub fn diff(field: impl Into<String>, from: Option<Value>, to: Option<Value>) -> Option<Self> {
        let from = from.filter(|v| !v.is_null());
        let to = to.filter(|v| !v.is_null());
        (from != to).then(|| FieldChange::Value {
            field: field.into(),
            from,
            to,
        })
    }

    /// The field's name.
    pub fn field(&self) -> &str {
        match self {
            FieldChange::Value { field, .. } | FieldChange::Secret { field } => field,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            FieldChange::Value { field, from, to } => {
                json!({"field": field, "from": from, "to": to})
            }
            FieldChange::Secret { field } => json!({"field": field, "change": "changed"}),
        }
    }
}

/// A configuration change to record with the write that makes it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// The API token that made the change (None for an operator command).
    pub token_id: Option<Uuid>,
    /// What was done.
    pub action: AuditAction,
    /// The kind of entity (`tenant`, `microsoftConnection`, `integration`).
    pub entity_type: &'static str,
    /// The entity's id; None when it is created by the write (its new id is recorded).
    pub entity_id: Option<String>,
    /// What changed, field by field.
    pub changes: Vec<FieldChange>,
}

/// A recorded configuration change.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The entry's id.
    pub id: Uuid,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// The API token that made it, if any.
    pub token_id: Option<Uuid>,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    /// The kind of entity.
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: String,
    /// `[{field, from, to}]`, or `{field, change: "changed"}` for a secret.
    pub changes: Value,
}

/// Most entries one read returns.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// Writes `event` for `account_id` inside the transaction of its change; `created_id` is the
/// id of an entity the write created. An update that changed nothing is not recorded.
pub(crate) async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: AccountId,
    event: &AuditEvent,
    created_id: Option<String>,
) -> StoreResult<()> {
    if event.action == AuditAction::Updated && event.changes.is_empty() {
        return Ok(());
    }
    let entity_id = event
        .entity_id
        .clone()
        .or(created_id)
        .ok_or_else(|| StoreError::Corrupt("an audit event without an entity id".into()))?;
    let changes = Value::Array(event.changes.iter().map(FieldChange::to_json).collect());
    tx.execute_prepared(
        "INSERT INTO audit_events (id, account_id, token_id, action, entity_type, entity_id, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &Uuid::new_v4(),
            &account_id.0,
            &event.token_id,
            &event.action.as_str(),
            &event.entity_type,
            &entity_id,
            &changes,
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// The account's most recent configuration changes, newest first (at most
    /// [`MAX_AUDIT_PAGE`]).
    pub async fn audit_entries(
        &self,
        account_id: AccountId,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT id, at, token_id, action, entity_type, entity_id, changes
                   FROM audit_events WHERE account_id = $1 ORDER BY seq DESC LIMIT $2",
                &[&account_id.0, &limit.clamp(1, MAX_AUDIT_PAGE)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: r.get(1),
                token_id: r.get(2),
                action: r.get(3),
                entity_type: r.get(4),
                entity_id: r.get(5),
                changes: r.get(6),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_fields_are_left_out_and_secrets_have_no_value() {
        assert_eq!(
            FieldChange::diff("name", Some(json!("a")), Some(json!("a"))),
            None
        );
        assert_eq!(
            FieldChange::diff("rateLimit", None, Some(Value::Null)),
            None
        );
        let change = FieldChange::diff("name", Some(json!("a")), Some(json!("b"))).unwrap();
        assert_eq!(
            change.to_json(),
            json!({"field": "name", "from": "a", "to": "b"})
        );
        let secret = FieldChange::Secret {
            field: "apiKey".into(),
        };
        assert_eq!(
            secret.to_json(),
            json!({"field": "apiKey", "change": "changed"})
        );
    }
}
