//! `/webhooks`: an account's subscriptions to `run.finished`. A subscription's url must be
//! https and public (the SSRF rules, unless private provider URLs are allowed); its secret is
//! sealed at once and never shown again. Deliveries are rows written with the run's final
//! transition and sent by [`deliver`], so none is lost across restarts.

pub mod deliver;
pub mod signature;

pub use deliver::DeliveryConfig;

use crate::audit;
use crate::auth::Caller;
use crate::body::{Fields, JsonObject};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::Binding;
use docsync_domain::{ApiKey, KeyRule, KeyShape, WebhookUrl};
use docsync_store::{AuditAction, FieldChange, Permission, Webhook, RUN_FINISHED};
use serde_json::{json, Value};

/// The events a subscription may ask for.
pub const EVENTS: [&str; 1] = [RUN_FINISHED];

/// A signing secret: a receiver's HMAC key must not be guessable.
const SECRET_RULE: KeyRule = KeyRule {
    what: "a webhook signing secret",
    min_len: 16,
    shape: KeyShape::Any,
    hint:
        "generate one with `openssl rand -hex 32` and keep it where the receiver checks signatures",
};

fn view(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "createdAt": w.created_at,
    })
}

/// Reads the signing secret ([`SECRET_RULE`]).
fn secret(f: &mut Fields<'_>) -> Option<ApiKey> {
    let raw = f.string("secret", true)?;
    match ApiKey::parse_with("secret", &raw, &SECRET_RULE) {
        Ok(secret) => Some(secret),
        Err(e) => {
            f.error("secret", e);
            None
        }
    }
}

/// Reads `events`: a non-empty list of known event names (`["run.finished"]` when absent).
fn events(f: &mut Fields<'_>) -> Option<Vec<String>> {
    let known = EVENTS.join(", ");
    let Some(value) = f.value("events") else {
        return Some(EVENTS.iter().map(|e| (*e).to_owned()).collect());
    };
    let Some(items) = value.as_array() else {
        f.error(
            "events",
            format!("must be an array of event names ({known})"),
        );
        return None;
    };
    if items.is_empty() {
        f.error("events", format!("must name at least one event ({known})"));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(name) if EVENTS.contains(&name) => {
                if !out.iter().any(|e| e == name) {
                    out.push(name.to_owned());
                }
            }
            _ => {
                f.error(
                    format!("events[{i}]"),
                    format!("is not an event docsync sends: the events are {known}"),
                );
                return None;
            }
        }
    }
    Some(out)
}

/// `POST /webhooks {url, secret, events?}` -> 201 `{id, url, events, createdAt}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let mut f = Fields::new(&body, &["url", "secret", "events"]);
    let url = f.string("url", true).and_then(|raw| {
        match WebhookUrl::parse("url", &raw, state.allow_private_provider_urls) {
            Ok(url) => Some(url),
            Err(e) => {
                f.error("url", e);
                None
            }
        }
    });
    let secret = secret(&mut f);
    let events = events(&mut f);
    if let (Some(url), false) = (&url, state.allow_private_provider_urls) {
        if let Err(e) = check_public_host("url", &url.origin()).await {
            f.error("url", e);
        }
    }
    f.finish()?;
    let (Some(url), Some(secret), Some(events)) = (url, secret, events) else {
        return Err(ApiError::Internal("a checked field was missing".into()));
    };
    let event = audit::event(
        &caller,
        AuditAction::Created,
        "webhook",
        None,
        [
            FieldChange::diff("url", None, Some(json!(url.as_str()))),
            FieldChange::diff("events", None, Some(json!(events))),
            Some(FieldChange::Secret {
                field: "secret".into(),
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    let id = uuid::Uuid::new_v4();
    let sealed = state
        .master
        .seal(secret.expose(), &Binding::webhook_secret(account, id));
    drop(secret);
    let created = state
        .store
        .create_webhook(account, id, url.as_str(), &events, &sealed, &event)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&created))))
}

/// `GET /webhooks` -> `{webhooks: [...]}` with each one's delivery counts and last attempt.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let hooks = state.store.webhooks(account).await?;
    let shown: Vec<Value> = hooks
        .iter()
        .map(|s| {
            let mut v = view(&s.webhook);
            v["deliveries"] = json!({
                "pending": s.pending,
                "delivered": s.delivered,
                "failed": s.failed,
                "dropped": s.dropped,
            });
            v["lastAttempt"] = match &s.last_attempt {
                Some((at, status, error)) => json!({"at": at, "status": status, "error": error}),
                None => Value::Null,
            };
            v
        })
        .collect();
    Ok(Json(json!({ "webhooks": shown })))
}

/// `DELETE /webhooks/{id}` -> 204; its deliveries not yet sent are dropped with it.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let id: uuid::Uuid = id
        .parse()
        .map_err(|_| ApiError::field("id", "is not a webhook id (a UUID)"))?;
    let event = audit::event(
        &caller,
        AuditAction::Deleted,
        "webhook",
        Some(id.to_string()),
        vec![],
    );
    if state.store.delete_webhook(account, id, &event).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no webhook {id} in this account"
        )))
    }
}
