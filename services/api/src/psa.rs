//! `/integrations/{psa}` for every PSA (through [`PsaConfig`], never a PSA's own type): configuration (secrets
//! sealed and masked), test connection, the company list with match states, matching, sync
//! now and sync runs. A sync is a run row plus a confirmed message, answered 202 only after
//! the broker confirmed it, like a push.

use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::AppState;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
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
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A PSA company the test connection read.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PsaCompanyRef {
    /// The PSA's id of the company.
    id: i64,
    /// Its name.
    name: String,
}

/// The budget of the PSA's keys, and what the PSA reports of its own.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PsaBudget {
    /// Requests allowed per window.
    requests: u32,
    /// Window length in seconds.
    per_seconds: u32,
    /// What the PSA reports of its own budget (e.g. Autotask's threshold use); null when it
    /// reports nothing.
    #[schema(required, value_type = Option<Object>)]
    reported: Option<Value>,
}

/// One check of the test connection: a destination layout, or a PSA permission.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LayoutCheck {
    /// What was checked: contacts, sites, configurations, agreements, a PSA record kind, or
    /// destination.
    kind: String,
    /// The layout id checked (null when found by name, or not a layout).
    id: Option<i64>,
    /// It is fine.
    ok: bool,
    /// What was found, or what to fix.
    message: String,
}

/// The answer of a PSA's test connection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PsaConnectionReport {
    /// The credentials were accepted.
    credentials_valid: bool,
    /// The PSA answered at all.
    reachable: bool,
    /// The first companies, at most 10.
    #[schema(max_items = 10)]
    first_companies: Vec<PsaCompanyRef>,
    /// The keys' budget.
    rate_limit: PsaBudget,
    /// The PSA's permissions and the destination's layouts.
    layouts: Vec<LayoutCheck>,
    /// What a person should know or do.
    message: String,
}

/// A company's match state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompanyMatchView {
    /// unmatched (brings nothing in), create (the next sync creates it in the destination),
    /// matched (synced into companyId), ignored.
    #[schema(value_type = MatchStateName)]
    state: &'static str,
    /// The destination company it is synced into.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    company_id: Option<i64>,
    /// The destination company whose name equals this one's, ignoring case and surrounding
    /// spaces, when there is exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    suggested_company_id: Option<i64>,
}

/// A match state.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum MatchStateName {
    /// Brings nothing in.
    Unmatched,
    /// The next sync creates it in the destination, then it is matched.
    Create,
    /// Synced into companyId.
    Matched,
    /// Brings nothing in, on purpose.
    Ignored,
}

/// A PSA company the last sync read.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PsaCompanyView {
    /// The PSA's id of the company.
    psa_id: i64,
    /// Its name.
    name: String,
    /// Active in the PSA (and not deleted there).
    active: bool,
    /// Deleted in the PSA since it was read.
    deleted: bool,
    /// Its type in the PSA.
    r#type: Option<String>,
    /// Its match.
    r#match: CompanyMatchView,
}

/// The companies of a PSA.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PsaCompanyList {
    /// Every company the last sync read.
    companies: Vec<PsaCompanyView>,
}

/// One change of `PUT /integrations/{psa}/companies`: `match` takes a companyId, the other
/// actions none.
pub(crate) struct CompanyMatch;

impl utoipa::PartialSchema for CompanyMatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let psa_id = json!({"type": "integer", "minimum": 1, "maximum": i64::MAX,
                            "description": "the PSA company's id, from GET /integrations/{psa}/companies"});
        serde_json::from_value(json!({
            "description": "one change: match takes the destination company's id, the other actions none",
            "oneOf": [
                {
                    "type": "object",
                    "title": "match",
                    "properties": {
                        "psaId": psa_id,
                        "action": {"type": "string", "enum": ["match"]},
                        "companyId": {"type": "integer", "minimum": 1, "maximum": i64::MAX, "description": "the destination company's id"},
                    },
                    "required": ["psaId", "action", "companyId"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "title": "create, ignore or unmatch",
                    "properties": {
                        "psaId": psa_id,
                        "action": {"type": "string", "enum": ["create", "ignore", "unmatch"],
                                   "description": "create: create it in the destination on the next sync; ignore: bring nothing in; unmatch: back to unmatched"},
                    },
                    "required": ["psaId", "action"],
                    "additionalProperties": false,
                },
            ],
        }))
        .map(utoipa::openapi::RefOr::T)
        .unwrap_or_else(|e| utoipa::openapi::RefOr::T(crate::integrations::unreachable_schema(&e)))
    }
}

impl ToSchema for CompanyMatch {}

/// The body of `PUT /integrations/{psa}/companies`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct CompanyMatchesPut {
    /// The changes, applied all or nothing.
    #[schema(max_items = 2_000)]
    matches: Vec<CompanyMatch>,
}

/// What match-all did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MatchAllResult {
    /// Companies matched to their suggestion.
    matched: usize,
    /// Companies marked to be created.
    create: usize,
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncCountsView {
    /// Objects created.
    created: i64,
    /// Objects written in place because they changed.
    updated: i64,
    /// Records whose object was already up to date (no write).
    unchanged: i64,
    /// Objects archived (inactive or gone in the PSA).
    archived: i64,
    /// Objects brought back from the archive.
    unarchived: i64,
    /// Records left out by the skip options.
    skipped: i64,
    /// Records the destination refused (each named in the run's events).
    failed: i64,
}

/// Always `sync`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SyncKind {
    /// A PSA sync.
    Sync,
}

/// A sync run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncRunView {
    /// The run id.
    pub(crate) id: Uuid,
    /// Always null: a sync run belongs to no tenant.
    #[schema(schema_with = null, required)]
    tenant_id: Option<()>,
    /// The PSA read.
    provider: PsaKind,
    /// Always sync.
    kind: SyncKind,
    /// What asked for it.
    trigger: Trigger,
    /// Where it is.
    state: RunState,
    /// Attempts made.
    attempts: i32,
    /// Why it failed, or the transient error it is retrying after.
    error: Option<String>,
    /// Always null.
    #[schema(schema_with = null, required)]
    remote_id: Option<()>,
    /// What it did.
    counts: SyncCountsView,
    /// When it was asked for.
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
    /// When it finished.
    finished_at: Option<DateTime<Utc>>,
    /// Its state changes, oldest first: only in GET /runs/{id} and GET /runs?ids=.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(crate) events: Option<Vec<crate::runs::RunEventView>>,
}

/// Always null.
fn null() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Object::builder()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
        .into()
}

/// Sync runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncRunList {
    /// The runs.
    runs: Vec<SyncRunView>,
}

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
    let check_of = |kind: &str, id: Option<i64>, ok: bool, message: String| LayoutCheck {
        kind: kind.to_owned(),
        id,
        ok,
        message,
    };
    for p in &check.permissions {
        layouts.push(check_of(p.kind, None, p.ok, p.message.clone()));
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
                    layouts.push(check_of(
                        kind,
                        None,
                        true,
                        "found by name or created on the first sync".into(),
                    ));
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
                layouts.push(check_of(kind, Some(id), ok, message));
            }
        }
        Err(reason) => layouts.push(check_of("destination", None, false, reason.to_string())),
    }
    let limit = integration.options.effective_rate_limit(psa);
    let report = PsaConnectionReport {
        credentials_valid: check.credentials_valid,
        reachable: check.reachable,
        first_companies: check
            .first_companies
            .iter()
            .map(|(id, name)| PsaCompanyRef {
                id: *id,
                name: name.clone(),
            })
            .collect(),
        rate_limit: PsaBudget {
            requests: limit.requests,
            per_seconds: limit.per_seconds,
            reported: check.reported_limit,
        },
        layouts,
        message: check.message,
    };
    Ok(Json(serde_json::to_value(report).unwrap_or(Value::Null)))
}

fn company_view(c: &PsaCompany) -> PsaCompanyView {
    PsaCompanyView {
        psa_id: c.psa_id,
        name: c.name.clone(),
        active: c.active && !c.deleted,
        deleted: c.deleted,
        r#type: c.company_type.clone(),
        r#match: CompanyMatchView {
            state: c.state.as_str(),
            company_id: c.destination_company_id,
            suggested_company_id: c.suggested_company_id,
        },
    }
}

async fn company_list(
    state: &AppState,
    account: docsync_domain::AccountId,
    psa: PsaKind,
) -> Result<Json<Value>, ApiError> {
    let companies = state.store.psa_companies(account, psa).await?;
    let list = PsaCompanyList {
        companies: companies.iter().map(company_view).collect(),
    };
    Ok(Json(serde_json::to_value(list).unwrap_or(Value::Null)))
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
    if matches.len() > 2_000 {
        return Err(ApiError::field(
            "matches",
            "at most 2,000 changes per request",
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
        let positions: Vec<FieldError> = matches
            .iter()
            .enumerate()
            .filter(|(_, m)| m.get("psaId").and_then(Value::as_i64).is_some_and(|id| unknown.contains(&id)))
            .map(|(i, m)| FieldError { field: format!("matches[{i}].psaId"), message: format!("no PSA company {} in the list: sync first (POST /integrations/{psa}/sync) or check the id", m["psaId"]) })
            .collect();
        return Err(ApiError::Invalid(positions));
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
    Ok(Json(
        serde_json::to_value(MatchAllResult { matched, create }).unwrap_or(Value::Null),
    ))
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
        return Err(ApiError::Conflict(format!(
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
pub(crate) fn run_view(run: &SyncRun) -> SyncRunView {
    let c = &run.counts;
    SyncRunView {
        id: run.id.0,
        tenant_id: None,
        provider: run.psa,
        kind: SyncKind::Sync,
        trigger: run.trigger,
        state: run.state,
        attempts: run.attempts,
        error: run.error.clone(),
        remote_id: None,
        counts: SyncCountsView {
            created: c.created,
            updated: c.updated,
            unchanged: c.unchanged,
            archived: c.archived,
            unarchived: c.unarchived,
            skipped: c.skipped,
            failed: c.failed,
        },
        created_at: run.created_at,
        updated_at: run.updated_at,
        finished_at: run.finished_at,
        events: None,
    }
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
    let list = SyncRunList {
        runs: runs.iter().map(run_view).collect(),
    };
    Ok(Json(serde_json::to_value(list).unwrap_or(Value::Null)))
}
