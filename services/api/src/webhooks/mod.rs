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
use chrono::{DateTime, Utc};
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::Binding;
use docsync_domain::{ApiKey, KeyRule, KeyShape, WebhookUrl};
use docsync_store::{AuditAction, FieldChange, Permission, Webhook, RUN_FINISHED};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// An event a subscription may ask for.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) enum EventName {
    /// A run (push or sync) of the account finished: succeeded or failed.
    #[serde(rename = "run.finished")]
    RunFinished,
}

/// The body of `POST /webhooks`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct WebhookCreate {
    /// Where deliveries are POSTed: https and public (unless
    /// DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS); no user info or fragment.
    #[schema(
        max_length = 2048,
        pattern = r"^https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~!$&'()*+,;=:@-]*)*(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$",
        example = "https://hooks.yourmsp.com/docsync"
    )]
    url: String,
    /// The HMAC-SHA256 key of the signatures (at least 16 characters, no spaces; e.g. `openssl
    /// rand -hex 32`); never shown again.
    #[schema(
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f]{16,512}\s*$",
        example = "3f9c2a7d5e1b4c8a9f0e6d2b7a4c1e8f"
    )]
    secret: String,
    /// The events to receive; left out or null, `["run.finished"]`.
    #[schema(min_items = 1)]
    events: Option<Vec<EventName>>,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookView {
    /// Its id.
    id: Uuid,
    /// Where deliveries are POSTed.
    url: String,
    /// The events it receives.
    #[schema(value_type = Vec<EventName>)]
    events: Vec<String>,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// How a subscription's deliveries stand.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryCounts {
    /// Waiting for their (next) attempt.
    pending: i64,
    /// Accepted by the receiver.
    delivered: i64,
    /// Given up after 24 hours of failures.
    failed: i64,
    /// Their run was removed (with its tenant) before they could be sent.
    dropped: i64,
}

/// The latest delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LastAttempt {
    /// When.
    at: DateTime<Utc>,
    /// The receiver's HTTP status (null: no answer).
    status: Option<i32>,
    /// What went wrong (null: it was accepted).
    error: Option<String>,
}

/// A subscription with how its deliveries stand.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookStatusView {
    /// Its id.
    id: Uuid,
    /// Where deliveries are POSTed.
    url: String,
    /// The events it receives.
    #[schema(value_type = Vec<EventName>)]
    events: Vec<String>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// Its deliveries, counted by how they stand.
    deliveries: DeliveryCounts,
    /// The latest attempt (null before the first).
    #[schema(required)]
    last_attempt: Option<LastAttempt>,
}

/// The account's webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    /// Every subscription of the account.
    webhooks: Vec<WebhookStatusView>,
}

/// The `{id}` of `/webhooks/{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct WebhookIdPath {
    /// The webhook id.
    #[param(format = Uuid, example = "7d2c9b1e-4a3f-4e5d-8c6b-0a1b2c3d4e5f")]
    id: String,
}

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

fn view(w: &Webhook) -> WebhookView {
    WebhookView {
        id: w.id,
        url: w.url.clone(),
        events: w.events.clone(),
        created_at: w.created_at,
    }
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
#[utoipa::path(
    post,
    path = "/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    summary = "Subscribe a url to run.finished",
    description = "Needs the INTEGRATIONS_MANAGE permission. When a run of the account finishes, docsync POSTs {\"event\": \"run.finished\", \"run\": <as GET /runs/{id}>} to the url with X-Docsync-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>, X-Docsync-Delivery: <delivery id, the same on every retry> and X-Docsync-Event; a delivery not answered 2xx is retried with backoff for up to 24 hours.",
    request_body(content = WebhookCreate),
    responses(
        (status = 201, description = "subscribed (the secret is not shown again)", body = WebhookView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
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
#[utoipa::path(
    get,
    path = "/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "The account's webhooks with their delivery counts",
    description = "Needs the INTEGRATIONS_MANAGE permission.",
    responses((status = 200, description = "the webhooks", body = WebhookList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WebhookList>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let hooks = state.store.webhooks(account).await?;
    let webhooks = hooks
        .iter()
        .map(|s| WebhookStatusView {
            id: s.webhook.id,
            url: s.webhook.url.clone(),
            events: s.webhook.events.clone(),
            created_at: s.webhook.created_at,
            deliveries: DeliveryCounts {
                pending: s.pending,
                delivered: s.delivered,
                failed: s.failed,
                dropped: s.dropped,
            },
            last_attempt: s
                .last_attempt
                .as_ref()
                .map(|(at, status, error)| LastAttempt {
                    at: *at,
                    status: *status,
                    error: error.clone(),
                }),
        })
        .collect();
    Ok(Json(WebhookList { webhooks }))
}

/// `DELETE /webhooks/{id}` -> 204; its deliveries not yet sent are dropped with it.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Remove a webhook (its unsent deliveries with it)",
    description = "Needs the INTEGRATIONS_MANAGE permission.",
    params(WebhookIdPath),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "the id is not a UUID (`fields` names id)", body = crate::error::ErrorBody),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
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
