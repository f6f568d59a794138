//! `/integrations/{psa}` for every PSA (through [`PsaConfig`], never a PSA's own type): configuration (secrets
//! sealed and masked), test connection, the company list with match states, matching, sync
//! now and sync runs. A sync is a run row plus a confirmed message, answered 202 only after
//! the broker confirmed it, like a push.

use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::AppState;
use axum::http::StatusCode;
use axum::Json;
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::Binding;
use docsync_domain::psa::{PsaConfig, PsaKind};
use docsync_domain::{BaseUrl, RunState, Trigger};
use docsync_psa::spec::open_config;
use docsync_psa::sync::{source, SyncContext};
use docsync_queue::CollectJob;
use docsync_store::{
    AuditAction, MatchChange, MatchState, Permission, PsaCompany, PsaIntegration, SyncRun,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How long a test connection may take, waiting for the keys' next request slots included.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn invalid(errors: Vec<(String, String)>) -> ApiError {
    ApiError::Invalid(
        errors
            .into_iter()
            .map(|(field, message)| FieldError { field, message })
            .collect(),
    )
}

fn built(psa: PsaKind) -> Result<(), ApiError> {
    if PsaConfig::is_built(psa) {
        return Ok(());
    }
    let available: Vec<&str> = PsaKind::ALL
        .into_iter()
        .filter(|k| PsaConfig::is_built(*k))
        .map(PsaKind::as_str)
        .collect();
    Err(ApiError::NotFound(format!(
        "the {psa} integration is not available yet: {} is",
        available.join(", ")
    )))
}

fn sync_context(state: &AppState) -> SyncContext {
    SyncContext::new(
        state.store.clone(),
        state.master.clone(),
        state.sinks.clone(),
    )
}

async fn require(
    state: &AppState,
    account: docsync_domain::AccountId,
    psa: PsaKind,
) -> Result<PsaIntegration, ApiError> {
    built(psa)?;
    state
        .store
        .psa_integration(account, psa)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "the {psa} integration is not configured yet: PUT /integrations/{psa}"
            ))
        })
}

fn config_of(state: &AppState, integration: &PsaIntegration) -> Result<PsaConfig, ApiError> {
    open_config(&state.master, integration).map_err(ApiError::Internal)
}

/// The masked config: what a PUT takes, so a GET's answer can be sent back as it is.
fn view(config: &PsaConfig, integration: &PsaIntegration) -> Value {
    config.masked_json(&integration.options)
}

/// `GET /integrations/{psa}`.
pub(crate) async fn get(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let integration = require(&state, account, psa).await?;
    let config = config_of(&state, &integration)?;
    Ok(Json(view(&config, &integration)))
}

/// `PUT /integrations/{psa}`.
pub(crate) async fn put(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
    body: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    built(psa)?;
    let existing = state.store.psa_integration(account, psa).await?;
    let previous = existing
        .as_ref()
        .map(|i| config_of(&state, i))
        .transpose()?;
    let parsed = PsaConfig::parse(
        psa,
        &Value::Object(body),
        previous.as_ref(),
        state.allow_private_provider_urls,
    )
    .map_err(invalid)?;
    // Every host docsync will call must be public (no request forgery), unless the sandbox or
    // tests allow private ones.
    if !state.allow_private_provider_urls {
        for host in parsed.config.hosts() {
            let url = BaseUrl::trusted(host.url.clone());
            if let Err(e) = check_public_host(host.field, &url).await {
                return Err(ApiError::field(host.field, e));
            }
            if !host.https {
                return Err(ApiError::field(host.field, "must be reached over https"));
            }
        }
    }
    let (plain, secrets) = parsed.config.split();
    let sealed: BTreeMap<String, String> = secrets
        .iter()
        .map(|(name, key)| {
            let reuse = existing
                .as_ref()
                .and_then(|i| i.secrets_sealed.get(*name))
                .filter(|_| {
                    previous.as_ref().is_some_and(|p| {
                        p.changed_secrets(&parsed.config).iter().all(|c| c != name)
                    })
                });
            (
                (*name).to_owned(),
                reuse.cloned().unwrap_or_else(|| {
                    state
                        .master
                        .seal(key.expose(), &Binding::psa_secret(account, psa, name))
                }),
            )
        })
        .collect();
    let previous_options = existing.as_ref().map(|i| &i.options);
    let changes = parsed
        .config
        .audit_changes(&parsed.options, previous.as_ref().zip(previous_options));
    let old_view = previous
        .as_ref()
        .zip(previous_options)
        .map(|(c, o)| c.masked_json(o))
        .unwrap_or(Value::Null);
    let new_view = parsed.config.masked_json(&parsed.options);
    let action = if existing.is_some() {
        AuditAction::Updated
    } else {
        AuditAction::Created
    };
    let event = crate::audit::event(
        &caller,
        action,
        "integration",
        Some(psa.as_str().to_owned()),
        changes
            .into_iter()
            .filter_map(|field| {
                if PsaConfig::is_secret_field(psa, &field) {
                    Some(crate::audit::secret(&field))
                } else {
                    docsync_store::FieldChange::diff(
                        field.clone(),
                        old_view.get(&field).cloned(),
                        new_view.get(&field).cloned(),
                    )
                }
            })
            .collect(),
    );
    state
        .store
        .upsert_psa_integration(account, psa, &plain, &parsed.options, &sealed, &event)
        .await?;
    let integration = state
        .store
        .psa_integration(account, psa)
        .await?
        .ok_or_else(|| ApiError::Internal("integration vanished".into()))?;
    let mut v = view(&parsed.config, &integration);
    v["notices"] = json!(parsed.notices);
    Ok(Json(v))
}

/// `POST /integrations/{psa}/test`: read-only, answered 200 whenever the request is valid.
pub(crate) async fn test(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let integration = require(&state, account, psa).await?;
    let ctx = sync_context(&state);
    let client = source(&ctx, &integration, None).map_err(ApiError::Internal)?;
    let check = tokio::time::timeout(TEST_TIMEOUT, client.check()).await.unwrap_or_else(|_| docsync_psa::SourceCheck {
        message: format!("no answer within {} s: {psa} is slow or unreachable, or the key's budget is in use by a sync; try again later", TEST_TIMEOUT.as_secs()),
        ..Default::default()
    });
    let mut layouts = Vec::new();
    for p in &check.permissions {
        layouts.push(json!({"kind": p.kind, "id": null, "ok": p.ok, "message": p.message}));
    }
    match ctx
        .destinations
        .hudu_objects(account)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    {
        Ok(hudu) => {
            let o = &integration.options.layouts;
            for (kind, id) in [
                ("contacts", o.contacts),
                ("sites", o.sites),
                ("configurations", o.configurations),
                ("agreements", o.agreements),
            ] {
                let Some(id) = id else {
                    layouts.push(json!({"kind": kind, "id": null, "ok": true, "message": "found by name or created on the first sync"}));
                    continue;
                };
                let found = tokio::time::timeout(TEST_TIMEOUT, hudu.layout(id)).await;
                let (ok, message) = match found {
                    Ok(Ok(Some(l))) => (true, format!("Hudu layout {:?}", l.name)),
                    Ok(Ok(None)) => (
                        false,
                        format!("Hudu has no asset layout {id}: fix layouts.{kind}"),
                    ),
                    Ok(Err(e)) => (false, e.to_string()),
                    Err(_) => (false, "Hudu did not answer in time".to_owned()),
                };
                layouts.push(json!({"kind": kind, "id": id, "ok": ok, "message": message}));
            }
        }
        Err(reason) => {
            layouts.push(json!({"kind": "destination", "id": null, "ok": false, "message": reason}))
        }
    }
    let limit = integration.options.effective_rate_limit(psa);
    Ok(Json(json!({
        "credentialsValid": check.credentials_valid,
        "reachable": check.reachable,
        "firstCompanies": check.first_companies.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
        "rateLimit": {"requests": limit.requests, "perSeconds": limit.per_seconds, "reported": check.reported_limit},
        "layouts": layouts,
        "message": check.message,
    })))
}

fn company_view(c: &PsaCompany) -> Value {
    let mut m = json!({"state": c.state.as_str()});
    if let Some(id) = c.destination_company_id {
        m["companyId"] = json!(id);
    }
    if let Some(id) = c.suggested_company_id {
        m["suggestedCompanyId"] = json!(id);
    }
    json!({"psaId": c.psa_id, "name": c.name, "active": c.active && !c.deleted, "deleted": c.deleted,
           "type": c.company_type, "match": m})
}

async fn company_list(
    state: &AppState,
    account: docsync_domain::AccountId,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let companies = state.store.psa_companies(account, psa).await?;
    Ok(Json(
        json!({"companies": companies.iter().map(company_view).collect::<Vec<_>>()}),
    ))
}

/// `GET /integrations/{psa}/companies`.
pub(crate) async fn companies(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    require(&state, account, psa).await?;
    company_list(&state, account, psa).await
}

/// `PUT /integrations/{psa}/companies`: `{matches: [{psaId, action, companyId?}]}`.
pub(crate) async fn set_matches(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
    body: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    require(&state, account, psa).await?;
    let mut errors = Vec::new();
    for key in body.keys() {
        if key != "matches" {
            errors.push((
                key.clone(),
                "unknown field: the body is {\"matches\": [...]}".to_owned(),
            ));
        }
    }
    let Some(matches) = body.get("matches").and_then(Value::as_array) else {
        errors.push((
            "matches".into(),
            "must be an array of {psaId, action, companyId?}".into(),
        ));
        return Err(invalid(errors));
    };
    if matches.len() > 10_000 {
        return Err(ApiError::field(
            "matches",
            "at most 10,000 changes per request",
        ));
    }
    let mut changes = Vec::new();
    for (i, m) in matches.iter().enumerate() {
        let at = |f: &str| format!("matches[{i}].{f}");
        let Some(obj) = m.as_object() else {
            errors.push((
                format!("matches[{i}]"),
                "must be an object {psaId, action, companyId?}".into(),
            ));
            continue;
        };
        for key in obj.keys() {
            if !matches!(key.as_str(), "psaId" | "action" | "companyId") {
                errors.push((
                    at(key),
                    "unknown field: use psaId, action and companyId".into(),
                ));
            }
        }
        let psa_id = match obj.get("psaId").and_then(Value::as_i64) {
            Some(id) if id > 0 => Some(id),
            _ => {
                errors.push((at("psaId"), "must be the PSA company's id (a positive whole number) from GET /integrations/{psa}/companies".into()));
                None
            }
        };
        let company = obj.get("companyId");
        let change = match obj.get("action").and_then(Value::as_str) {
            Some("match") => match company.and_then(Value::as_i64) {
                Some(c) if c > 0 => Some(MatchChange::Match(c)),
                _ => {
                    errors.push((
                        at("companyId"),
                        "match needs the destination company's id (a positive whole number)".into(),
                    ));
                    None
                }
            },
            Some(a @ ("create" | "ignore" | "unmatch")) => {
                if company.is_some() {
                    errors.push((
                        at("companyId"),
                        format!("only \"match\" takes a companyId, not {a:?}"),
                    ));
                }
                Some(match a {
                    "create" => MatchChange::Create,
                    "ignore" => MatchChange::Ignore,
                    _ => MatchChange::Unmatch,
                })
            }
            other => {
                errors.push((
                    at("action"),
                    format!(
                        "must be \"match\", \"create\", \"ignore\" or \"unmatch\", got {}",
                        other.map_or_else(|| "nothing".to_owned(), |s| format!("{s:?}"))
                    ),
                ));
                None
            }
        };
        if let (Some(id), Some(change)) = (psa_id, change) {
            changes.push((id, change));
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if let Err(unknown) = state.store.set_psa_matches(account, psa, &changes).await? {
        let positions: Vec<(String, String)> = matches
            .iter()
            .enumerate()
            .filter(|(_, m)| m.get("psaId").and_then(Value::as_i64).is_some_and(|id| unknown.contains(&id)))
            .map(|(i, m)| (format!("matches[{i}].psaId"), format!("no PSA company {} in the list: sync first (POST /integrations/{psa}/sync) or check the id", m["psaId"])))
            .collect();
        return Err(invalid(positions));
    }
    company_list(&state, account, psa).await
}

/// `POST /integrations/{psa}/companies/match-all`.
pub(crate) async fn match_all(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    require(&state, account, psa).await?;
    let companies = state.store.psa_companies(account, psa).await?;
    let changes: Vec<(i64, MatchChange)> = companies
        .iter()
        .filter(|c| c.state == MatchState::Unmatched && !c.deleted)
        .map(|c| {
            (
                c.psa_id,
                c.suggested_company_id
                    .map_or(MatchChange::Create, MatchChange::Match),
            )
        })
        .collect();
    let matched = changes
        .iter()
        .filter(|(_, c)| matches!(c, MatchChange::Match(_)))
        .count();
    let create = changes.len() - matched;
    state
        .store
        .set_psa_matches(account, psa, &changes)
        .await?
        .map_err(|_| ApiError::Conflict("the company list changed; try again".into()))?;
    Ok(Json(json!({"matched": matched, "create": create})))
}

/// `POST /integrations/{psa}/sync`: 202 `{runId}`.
pub(crate) async fn sync(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let integration = require(&state, account, psa).await?;
    if state
        .store
        .integration_settings(account, integration.options.destination.provider())
        .await?
        .is_none()
    {
        return Err(ApiError::BadRequest(format!(
            "the sync writes to {}, which is not configured: PUT /integrations/{} first",
            integration.options.destination.as_str(),
            integration.options.destination.as_str()
        )));
    }
    let id = state
        .store
        .create_sync_run(account, psa, Trigger::Manual)
        .await?;
    if let Err(e) = state.broker.enqueue_collect(&[CollectJob::new(id)]).await {
        tracing::error!(error = %e, "sync not accepted: the broker did not confirm");
        let _ = state
            .store
            .sync_failed(
                id,
                "not accepted: the message broker was unavailable; sync again",
            )
            .await;
        return Err(ApiError::Unavailable(
            "the message broker is unavailable; nothing was queued, try again shortly".into(),
        ));
    }
    let _ = state.store.mark_enqueued(&[id]).await;
    Ok((StatusCode::ACCEPTED, Json(json!({"runId": id}))))
}

/// A sync run as `GET /runs/:id` shows it.
pub(crate) fn run_view(run: &SyncRun) -> Value {
    json!({
        "id": run.id,
        "tenantId": null,
        "provider": run.psa,
        "kind": "sync",
        "trigger": run.trigger,
        "state": run.state,
        "attempts": run.attempts,
        "error": run.error,
        "remoteId": null,
        "counts": run.counts,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "finishedAt": run.finished_at,
    })
}

/// `GET /integrations/{psa}/runs` (`state`, `limit`).
pub(crate) async fn runs(
    state: AppState,
    caller: Caller,
    psa: PsaKind,
    run_state: Option<RunState>,
    limit: Option<i64>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    built(psa)?;
    let runs = state
        .store
        .sync_runs(account, psa, run_state, limit.unwrap_or(100))
        .await?;
    Ok(Json(
        json!({"runs": runs.iter().map(run_view).collect::<Vec<_>>()}),
    ))
}
