//! `/integrations/{provider}`: configuration (key sealed and masked), test connection, push
//! now, push-all. A push is a run row plus a confirmed message; it is answered 202 only after
//! the broker confirmed it.

use crate::audit;
use crate::auth::Caller;
use crate::body::{kind, Fields, JsonObject};
use crate::error::ApiError;
use crate::tenants::parse_tenant_id;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::Binding;
use docsync_domain::{
    mask, AccountId, ApiKey, BaseUrl, IntegrationKind, ItGlueRegion, Provider, RateLimit, RunId,
    Schedule, TenantId, Trigger,
};
use docsync_queue::CollectJob;
use docsync_sinks::ConnectionReport;
use docsync_store::{AuditAction, AuditEvent, Integration, IntegrationUpsert, NewRun, Permission};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How long a test connection may take, waiting for the key's next request slot included.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The integration a path names, through the one parser of integration names; an unknown
/// name is a 404 listing the valid ones.
pub(crate) fn integration(raw: &str) -> Result<IntegrationKind, ApiError> {
    raw.parse().map_err(ApiError::NotFound)
}

/// A documentation provider's name (push routes): a PSA's name is known but has no pushes.
fn provider(raw: &str) -> Result<Provider, ApiError> {
    match integration(raw)? {
        IntegrationKind::Docs(p) => Ok(p),
        IntegrationKind::Psa(k) => Err(ApiError::NotFound(format!(
            "{k} has no pushes: PSA records are synced with POST /integrations/{k}/sync"
        ))),
    }
}

/// The config field that maps tenants, and what its values are, per provider.
fn mapping_field(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Hudu => ("companyIdByTenantId", "the Hudu company id"),
        Provider::ItGlue => ("organizationIdByTenantId", "the IT Glue organization id"),
    }
}

fn view(state: &AppState, integration: &Integration) -> Value {
    let key = state
        .master
        .open(
            &integration.api_key_sealed,
            &Binding::integration_api_key(integration.account_id, integration.provider),
        )
        .map(|k| mask(&k))
        .unwrap_or_else(|_| "•••• (unreadable: stored with another master key or copied from another row; set it again)".into());
    let mappings: Map<String, Value> = integration
        .mappings
        .iter()
        .map(|(t, p)| (t.to_string(), json!(p)))
        .collect();
    let (mapping_field, _) = mapping_field(integration.provider);
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
    if let Ok(IntegrationKind::Psa(psa)) = integration(&p) {
        return crate::psa::get(state, caller, psa).await;
    }
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
    if let Ok(IntegrationKind::Psa(psa)) = integration(&p) {
        return crate::psa::put(state, caller, psa, body).await;
    }
    let account = caller.require(Permission::IntegrationsManage)?;
    let provider = provider(&p)?;
    let existing = state.store.integration(account, provider).await?;
    let (mapping_field, parent_what) = mapping_field(provider);
    let location_field = match provider {
        Provider::Hudu => "baseUrl",
        Provider::ItGlue => "region",
    };
    let mut f = Fields::new(
        &body,
        &[
            location_field,
            "apiKey",
            mapping_field,
            "schedule",
            "rateLimit",
        ],
    );
    let mut notices = Vec::new();

    let mut base_url = None;
    let mut region = None;
    match provider {
        Provider::Hudu => {
            base_url = f.string("baseUrl", true).and_then(|raw| {
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
        }
        Provider::ItGlue => {
            region = f
                .string("region", true)
                .and_then(|raw| match raw.parse::<ItGlueRegion>() {
                    Ok(r) => Some(r),
                    Err(e) => {
                        f.error("region", e);
                        None
                    }
                });
        }
    }

    // A provider URL must not lead into the operator's own network (server-side request
    // forgery), unless the sandbox or tests allow it.
    if let (Some(url), false) = (&base_url, state.allow_private_provider_urls) {
        if let Err(e) = check_public_host("baseUrl", url).await {
            f.error("baseUrl", e);
        }
    }

    // The key may be left out (or sent back masked) to keep the stored one; the same key sent
    // again keeps it too.
    let mut key_changed = false;
    let key_sealed = match f.string("apiKey", existing.is_none()) {
        Some(raw) if raw.starts_with('•') && existing.is_some() => {
            existing.as_ref().map(|e| e.api_key_sealed.clone())
        }
        Some(raw) => match ApiKey::parse_with("apiKey", &raw, provider.api_key_rule()) {
            Ok(k) => match existing.as_ref().filter(|e| {
                state
                    .master
                    .open(
                        &e.api_key_sealed,
                        &Binding::integration_api_key(account, provider),
                    )
                    .is_ok_and(|old| audit::same_secret(&old, k.expose()))
            }) {
                Some(same) => Some(same.api_key_sealed.clone()),
                None => {
                    key_changed = true;
                    Some(
                        state
                            .master
                            .seal(k.expose(), &Binding::integration_api_key(account, provider)),
                    )
                }
            },
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
                            "must be a positive whole number ({parent_what}), got {}",
                            match value {
                                Value::Number(n) => n.to_string(),
                                other => kind(other).to_owned(),
                            }
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
                "must be an object of tenant id → {parent_what}, got {}",
                kind(other)
            ),
        ),
        None => f.error(
            mapping_field,
            format!("is required (an object of tenant id → {parent_what}; {{}} maps none)"),
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
    let upsert = IntegrationUpsert {
        base_url: base_url.map(|u| u.as_str().to_owned()),
        region: region.map(|r| r.as_str().to_owned()),
        api_key_sealed,
        schedule,
        rate_limit,
        mappings,
    };
    let event = audit_event(&caller, provider, existing.as_ref(), &upsert, key_changed);
    state
        .store
        .upsert_integration_audited(account, provider, &upsert, &event)
        .await?;
    let integration = require_integration(&state, account, provider).await?;
    let mut v = view(&state, &integration);
    v["notices"] = json!(notices);
    Ok(Json(v))
}

/// What a PUT changes, field by field, as the audit trail records it (the key only as
/// "changed").
fn audit_event(
    caller: &Caller,
    provider: Provider,
    before: Option<&Integration>,
    after: &IntegrationUpsert,
    key_changed: bool,
) -> AuditEvent {
    let mut changes = Vec::new();
    changes.extend(audit::diff(
        "baseUrl",
        before.and_then(|b| b.base_url.clone()),
        after.base_url.clone(),
    ));
    changes.extend(audit::diff(
        "region",
        before.and_then(|b| b.region.clone()),
        after.region.clone(),
    ));
    if key_changed {
        changes.push(audit::secret("apiKey"));
    }
    let (mapping_field, _) = mapping_field(provider);
    let old: BTreeMap<TenantId, i64> = before
        .map(|b| b.mappings.iter().copied().collect())
        .unwrap_or_default();
    let new: BTreeMap<TenantId, i64> = after.mappings.iter().copied().collect();
    let tenants: BTreeSet<&TenantId> = old.keys().chain(new.keys()).collect();
    for tenant in tenants {
        changes.extend(audit::diff(
            format!("{mapping_field}.{tenant}"),
            old.get(tenant).copied(),
            new.get(tenant).copied(),
        ));
    }
    changes.extend(audit::diff(
        "schedule",
        before.map(|b| b.schedule.clone()),
        Some(after.schedule.clone()),
    ));
    let limit = |r: Option<RateLimit>| r.and_then(|r| serde_json::to_value(r).ok());
    changes.extend(audit::diff(
        "rateLimit",
        limit(before.and_then(|b| b.rate_limit)),
        limit(after.rate_limit),
    ));
    let action = match before {
        Some(_) => AuditAction::Updated,
        None => AuditAction::Created,
    };
    audit::event(
        caller,
        action,
        "integration",
        Some(provider.as_str().to_owned()),
        changes,
    )
}

pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if let Ok(IntegrationKind::Psa(psa)) = integration(&p) {
        return crate::psa::test(state, caller, psa).await;
    }
    let account = caller.require(Permission::IntegrationsRead)?;
    let provider = provider(&p)?;
    let integration = require_integration(&state, account, provider).await?;
    let sink = state
        .sinks
        .build(&integration)
        .map_err(ApiError::BadRequest)?;
    let report = tokio::time::timeout(TEST_TIMEOUT, sink.test_connection())
        .await
        .unwrap_or_else(|_| ConnectionReport {
            key_valid: false,
            reachable: false,
            first_companies: vec![],
            rate_limit_headers: vec![],
            message: format!(
                "no answer within {} s: the provider is slow or unreachable, or the key's rateLimit leaves no request free now (pushes under way use it too); try again later",
                TEST_TIMEOUT.as_secs()
            ),
        });
    Ok(Json(json!(report)))
}

async fn enqueue(
    state: &AppState,
    account: AccountId,
    runs: &[NewRun],
) -> Result<Vec<RunId>, ApiError> {
    let ids = state.store.create_runs(account, runs).await?;
    let jobs: Vec<CollectJob> = ids.iter().map(|&run_id| CollectJob::new(run_id)).collect();
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
                "tenant {} ({}) is not mapped: add it to {} with PUT /integrations/{provider}",
                tenant.id,
                tenant.name,
                mapping_field(provider).0
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
                "reason": format!("not in {}", mapping_field(provider).0),
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

/// A PSA's name (company and sync routes): a documentation provider's name is known but has
/// no companies or syncs.
fn psa_kind(raw: &str) -> Result<docsync_domain::psa::PsaKind, ApiError> {
    match integration(raw)? {
        IntegrationKind::Psa(k) => Ok(k),
        IntegrationKind::Docs(p) => Err(ApiError::NotFound(format!(
            "{p} has no company list or syncs: they are under the PSAs (connectwise-manage, halopsa, autotask)"
        ))),
    }
}

/// `GET /integrations/{psa}/companies`.
pub(crate) async fn psa_companies(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::psa::companies(state, caller, psa_kind(&p)?).await
}

/// `PUT /integrations/{psa}/companies`.
pub(crate) async fn psa_set_matches(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    crate::psa::set_matches(state, caller, psa_kind(&p)?, body).await
}

/// `POST /integrations/{psa}/companies/match-all`.
pub(crate) async fn psa_match_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::psa::match_all(state, caller, psa_kind(&p)?).await
}

/// `POST /integrations/{psa}/sync`.
pub(crate) async fn psa_sync(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::psa::sync(state, caller, psa_kind(&p)?).await
}
