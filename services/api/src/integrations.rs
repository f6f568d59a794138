//! `/integrations/{provider}`: configuration (key sealed and masked), test connection, push
//! now, push-all. A push is a run row plus a confirmed message; it is answered 202 only after
//! the broker confirmed it.

use crate::auth::Caller;
use crate::body::{kind, Fields, JsonObject};
use crate::error::ApiError;
use crate::tenants::parse_tenant_id;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use docsync_domain::{
    mask, AccountId, ApiKey, BaseUrl, Provider, RateLimit, RunId, Schedule, Trigger,
};
use docsync_queue::CollectJob;
use docsync_store::{Integration, IntegrationUpsert, NewRun, Permission};
use serde_json::{json, Map, Value};

fn provider(raw: &str) -> Result<Provider, ApiError> {
    match raw {
        "hudu" => Ok(Provider::Hudu),
        "it-glue" => Err(ApiError::NotFound(
            "the IT Glue integration is not available in this version yet".into(),
        )),
        other => Err(ApiError::NotFound(format!(
            "no integration {other:?}: use hudu or it-glue"
        ))),
    }
}

fn view(state: &AppState, integration: &Integration) -> Value {
    let key = state
        .master
        .open(&integration.api_key_sealed)
        .map(|k| mask(&k))
        .unwrap_or_else(|_| "•••• (unreadable with the current master key)".into());
    let mappings: Map<String, Value> = integration
        .mappings
        .iter()
        .map(|(t, p)| (t.to_string(), json!(p)))
        .collect();
    let mapping_field = match integration.provider {
        Provider::Hudu => "companyIdByTenantId",
        Provider::ItGlue => "organizationIdByTenantId",
    };
    let mut v = json!({
        "provider": integration.provider,
        "apiKey": key,
        "schedule": integration.schedule,
        "nextScheduledAt": next_scheduled_at(integration),
        "rateLimit": integration.rate_limit.unwrap_or_else(|| integration.provider.default_rate_limit()),
        "updatedAt": integration.updated_at,
    });
    v[mapping_field] = Value::Object(mappings);
    if let Some(url) = &integration.base_url {
        v["baseUrl"] = json!(url);
    }
    if let Some(region) = &integration.region {
        v["region"] = json!(region);
    }
    v
}

/// When the integration's schedule next pushes its mapped tenants (None for manual).
pub(crate) fn next_scheduled_at(
    integration: &Integration,
) -> Option<chrono::DateTime<chrono::Utc>> {
    Schedule::parse(&integration.schedule)
        .ok()
        .and_then(|s| s.next_slot_after(chrono::Utc::now()))
}

async fn require_integration(
    state: &AppState,
    account: AccountId,
    provider: Provider,
) -> Result<Integration, ApiError> {
    state
        .store
        .integration(account, provider)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "the {provider} integration is not configured yet: PUT /integrations/{provider}"
            ))
        })
}

pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let provider = provider(&p)?;
    let integration = require_integration(&state, account, provider).await?;
    Ok(Json(view(&state, &integration)))
}

pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let provider = provider(&p)?;
    let existing = state.store.integration(account, provider).await?;
    let mapping_field = "companyIdByTenantId";
    let mut f = Fields::new(
        &body,
        &["baseUrl", "apiKey", mapping_field, "schedule", "rateLimit"],
    );
    let mut notices = Vec::new();

    let base_url = f.string("baseUrl", true).and_then(|raw| {
        match BaseUrl::parse("baseUrl", &raw, state.allow_private_provider_urls) {
            Ok(parsed) => {
                notices.extend(parsed.notice);
                Some(parsed.url)
            }
            Err(e) => {
                f.error("baseUrl", e);
                None
            }
        }
    });

    // The key may be left out (or sent back masked) to keep the stored one.
    let key_sealed = match f.string("apiKey", existing.is_none()) {
        Some(raw) if raw.starts_with('•') && existing.is_some() => {
            existing.as_ref().map(|e| e.api_key_sealed.clone())
        }
        Some(raw) => match ApiKey::parse("apiKey", &raw) {
            Ok(k) => Some(state.master.seal(k.expose())),
            Err(e) => {
                f.error("apiKey", e);
                None
            }
        },
        None => existing.as_ref().map(|e| e.api_key_sealed.clone()),
    };

    let mut mappings = Vec::new();
    match f.value(mapping_field) {
        Some(Value::Object(map)) => {
            let mut ids = Vec::new();
            for (key, value) in map {
                let field = format!("{mapping_field}.{key}");
                let tenant = match key.parse::<docsync_domain::TenantId>() {
                    Ok(t) => t,
                    Err(_) => {
                        f.error(field, "the key must be a docsync tenant id (a UUID): copy it from GET /tenants");
                        continue;
                    }
                };
                match value.as_i64() {
                    Some(n) if n > 0 => {
                        ids.push(tenant.0);
                        mappings.push((tenant, n));
                    }
                    _ => f.error(
                        field,
                        format!(
                            "must be a positive whole number (the Hudu company id), got {}",
                            kind(value)
                        ),
                    ),
                }
            }
            let known = state.store.existing_tenant_ids(account, &ids).await?;
            for (tenant, _) in &mappings {
                if !known.contains(&tenant.0) {
                    f.error(
                        format!("{mapping_field}.{tenant}"),
                        "no tenant with this id in this account: copy tenant ids from GET /tenants",
                    );
                }
            }
        }
        Some(other) => f.error(
            mapping_field,
            format!(
                "must be an object of tenant id → company id, got {}",
                kind(other)
            ),
        ),
        None => f.error(
            mapping_field,
            "is required (an object of tenant id → company id; {} maps none)",
        ),
    }

    let schedule = match f.value("schedule") {
        None => existing
            .as_ref()
            .map(|e| e.schedule.clone())
            .unwrap_or_else(|| Schedule::default().to_json()),
        Some(v) => match Schedule::parse(v) {
            Ok(s) => s.to_json(),
            Err(errors) => {
                for (field, message) in errors {
                    f.error(field, message);
                }
                Value::Null
            }
        },
    };

    let rate_limit = match f.value("rateLimit") {
        None => None,
        Some(v) => match serde_json::from_value::<RateLimit>(v.clone()) {
            Ok(r) => match r.validate() {
                Ok(()) => Some(r),
                Err(e) => {
                    f.error("rateLimit", e);
                    None
                }
            },
            Err(_) => {
                f.error(
                    "rateLimit",
                    "must be {\"requests\": N, \"perSeconds\": S} with whole numbers ≥ 1",
                );
                None
            }
        },
    };
    f.finish()?;
    let Some(api_key_sealed) = key_sealed else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    state
        .store
        .upsert_integration(
            account,
            provider,
            &IntegrationUpsert {
                base_url: base_url.map(|u| u.as_str().to_owned()),
                region: None,
                api_key_sealed,
                schedule,
                rate_limit,
                mappings,
            },
        )
        .await?;
    let integration = require_integration(&state, account, provider).await?;
    let mut v = view(&state, &integration);
    v["notices"] = json!(notices);
    Ok(Json(v))
}

pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let provider = provider(&p)?;
    let integration = require_integration(&state, account, provider).await?;
    let sink = state
        .sinks
        .build(&integration)
        .map_err(ApiError::BadRequest)?;
    let report = sink.test_connection().await;
    Ok(Json(json!(report)))
}

async fn enqueue(
    state: &AppState,
    account: AccountId,
    runs: &[NewRun],
) -> Result<Vec<RunId>, ApiError> {
    let ids = state.store.create_runs(account, runs).await?;
    let jobs: Vec<CollectJob> = ids.iter().map(|&run_id| CollectJob { run_id }).collect();
    if let Err(e) = state.broker.enqueue_collect(&jobs).await {
        tracing::error!(error = %e, "push not accepted: the broker did not confirm");
        for id in &ids {
            let _ = state
                .store
                .failed(
                    *id,
                    "not accepted: the message broker was unavailable; push again",
                )
                .await;
        }
        return Err(ApiError::Unavailable(
            "the message broker is unavailable; nothing was queued, try again shortly".into(),
        ));
    }
    if let Err(e) = state.store.mark_enqueued(&ids).await {
        // The messages are queued; without the mark the relay may send them once more,
        // which collectors ignore.
        tracing::warn!(error = %e, "could not record the confirmed enqueue");
    }
    Ok(ids)
}

async fn ready_to_push(
    state: &AppState,
    account: AccountId,
    provider: Provider,
) -> Result<Integration, ApiError> {
    let integration = require_integration(state, account, provider).await?;
    if state.store.microsoft_connection(account).await?.is_none() {
        return Err(ApiError::BadRequest(
            "no Microsoft connection: PUT /connections/microsoft with the MSP's Graph app first"
                .into(),
        ));
    }
    Ok(integration)
}

pub(crate) async fn push_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((p, tenant_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let provider = provider(&p)?;
    let tenant_id = parse_tenant_id(&tenant_id)?;
    let tenant = state
        .store
        .tenant(account, tenant_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant {tenant_id} in this account")))?;
    let integration = ready_to_push(&state, account, provider).await?;
    if !integration.mappings.iter().any(|(t, _)| *t == tenant.id) {
        return Err(ApiError::field(
            "tenantId",
            format!(
                "tenant {} ({}) is not mapped: add it to companyIdByTenantId with PUT /integrations/{provider}",
                tenant.id, tenant.name
            ),
        ));
    }
    let ids = enqueue(
        &state,
        account,
        &[NewRun {
            tenant_id,
            provider,
            trigger: Trigger::Manual,
        }],
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"runId": ids[0]}))))
}

pub(crate) async fn push_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let provider = provider(&p)?;
    let integration = ready_to_push(&state, account, provider).await?;
    let tenants = state.store.tenants(account).await?;
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for t in &tenants {
        if integration.mappings.iter().any(|(id, _)| *id == t.id) {
            runs.push(NewRun {
                tenant_id: t.id,
                provider,
                trigger: Trigger::PushAll,
            });
        } else {
            skipped.push(json!({
                "tenantId": t.id,
                "name": t.name,
                "reason": "not in companyIdByTenantId",
            }));
        }
    }
    let ids = if runs.is_empty() {
        Vec::new()
    } else {
        enqueue(&state, account, &runs).await?
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"runIds": ids, "skipped": skipped})),
    ))
}
