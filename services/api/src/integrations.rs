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
use chrono::{DateTime, Utc};
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::Binding;
use docsync_domain::{
    mask, AccountId, ApiKey, BaseUrl, IntegrationKind, ItGlueRegion, PostureOptions, Provider,
    RateLimit, RunId, Schedule, TenantId, Trigger,
};
use docsync_queue::CollectJob;
use docsync_sinks::ConnectionReport as ConnectionReport2;
use docsync_store::{AuditAction, AuditEvent, Integration, IntegrationUpsert, NewRun, Permission};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;
use uuid::Uuid;

/// The body of `PUT /integrations/hudu`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct HuduIntegrationPut {
    /// https URL of the Hudu instance (a pasted /api/v1 is removed and reported); hosts in
    /// private networks are refused.
    #[schema(
        pattern = r"^\s*https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]+)*/?\s*$",
        example = "https://it.yourmsp.com"
    )]
    base_url: String,
    /// The Hudu API key (at least 20 characters, no spaces); required when creating; leave it out or send it back
    /// masked to keep the stored one.
    #[schema(schema_with = hudu_key)]
    api_key: Option<String>,
    /// docsync tenant id (a UUID of this account's tenant) → the Hudu company id; `{}` maps
    /// none. A tenant id not in this account is a 400 naming it.
    #[schema(schema_with = mapping, example = json!({"3f2b6c1e-8d4a-4f3b-9c2d-1a2b3c4d5e6f": 12}))]
    company_id_by_tenant_id: BTreeMap<String, i64>,
    /// When scheduled pushes happen; left out or null: the stored schedule, else nightly at
    /// 02:00 Australia/Sydney.
    #[schema(value_type = Option<docsync_domain::schedule::ScheduleBody>)]
    schedule: Option<Value>,
    /// The Hudu key's budget; left out or null, Hudu's default.
    rate_limit: Option<RateLimit>,
    /// The sections the article shows (the timestamps always); left out or null, all seven.
    /// An unknown name is a 400 naming `sections[i]`.
    #[schema(value_type = Option<Vec<docsync_domain::PostureSection>>)]
    sections: Option<Value>,
    /// false: a push whose content equals the last written one (timestamps aside) writes
    /// nothing, and its run says "unchanged, not written"; left out or null, true.
    write_unchanged: Option<bool>,
    /// A minijinja template of the article body (at most 64 KiB; the README lists its
    /// variables); left out or null, the built-in layout. A syntax or render error is a 400
    /// naming `template` with its line and column.
    #[schema(max_length = 65536)]
    template: Option<String>,
}

/// The body of `PUT /integrations/it-glue`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ItGlueIntegrationPut {
    /// The IT Glue region of the account.
    region: ItGlueRegionName,
    /// The IT Glue API key (at least 32 characters, no spaces); required when creating; leave it out or send it back
    /// masked to keep the stored one.
    #[schema(schema_with = itglue_key)]
    api_key: Option<String>,
    /// docsync tenant id (a UUID of this account's tenant) → the IT Glue organization id; `{}`
    /// maps none. A tenant id not in this account is a 400 naming it.
    #[schema(schema_with = mapping, example = json!({"3f2b6c1e-8d4a-4f3b-9c2d-1a2b3c4d5e6f": 12}))]
    organization_id_by_tenant_id: BTreeMap<String, i64>,
    /// When scheduled pushes happen; left out or null: the stored schedule, else nightly at
    /// 02:00 Australia/Sydney.
    #[schema(value_type = Option<docsync_domain::schedule::ScheduleBody>)]
    schedule: Option<Value>,
    /// The IT Glue key's budget; left out or null, IT Glue's default.
    rate_limit: Option<RateLimit>,
    /// The sections the asset fills (the timestamps always; the others are written empty);
    /// left out or null, all seven. An unknown name is a 400 naming `sections[i]`.
    #[schema(value_type = Option<Vec<docsync_domain::PostureSection>>)]
    sections: Option<Value>,
    /// false: a push whose content equals the last written one (timestamps aside) writes
    /// nothing, and its run says "unchanged, not written"; left out or null, true.
    write_unchanged: Option<bool>,
}

/// An IT Glue region.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ItGlueRegionName {
    /// api.itglue.com
    Us,
    /// api.eu.itglue.com
    Eu,
    /// api.au.itglue.com
    Au,
}

/// A provider key as [`Provider::api_key_rule`] takes it (at least its minimum length, no
/// spaces, at most 512 characters), or the masked value sent back to keep the stored one; null
/// or left out keeps it too.
fn key_schema(provider: Provider) -> utoipa::openapi::schema::Schema {
    let min = provider.api_key_rule().min_len;
    serde_json::from_value(json!({
        "type": ["string", "null"],
        "pattern": format!(r"^\s*(••••.*|[^\s\u0000-\u001f\u007f-\u009f]{{{min},512}})\s*$"),
    }))
    .unwrap_or_else(|e| unreachable_schema(&e))
}

fn hudu_key() -> utoipa::openapi::schema::Schema {
    key_schema(Provider::Hudu)
}

fn itglue_key() -> utoipa::openapi::schema::Schema {
    key_schema(Provider::ItGlue)
}

/// Tenant id → remote parent id.
fn mapping() -> utoipa::openapi::schema::Schema {
    serde_json::from_value(json!({
        "type": "object",
        "propertyNames": {"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": i64::MAX},
    }))
    .unwrap_or_else(|e| unreachable_schema(&e))
}

/// What a schema written as JSON that utoipa cannot read becomes (the document's tests fail on
/// it).
pub(crate) fn unreachable_schema(e: &serde_json::Error) -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Object::builder()
        .description(Some(format!("(schema error: {e})")))
        .build()
        .into()
}

/// The Hudu integration, its key masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HuduIntegration {
    /// Always `hudu`.
    provider: Provider,
    /// https URL of the Hudu instance.
    base_url: String,
    /// Masked: •••• and at most the last 4 characters.
    #[schema(example = "••••cdef")]
    api_key: String,
    /// docsync tenant id → the Hudu company id.
    company_id_by_tenant_id: BTreeMap<String, i64>,
    /// When scheduled pushes happen.
    #[schema(value_type = docsync_domain::schedule::ScheduleView)]
    schedule: Value,
    /// When the schedule next pushes (null for manual).
    next_scheduled_at: Option<DateTime<Utc>>,
    /// The key's budget.
    rate_limit: RateLimit,
    /// The sections the article shows, in reading order.
    sections: Vec<docsync_domain::PostureSection>,
    /// Whether an unchanged content is written again.
    write_unchanged: bool,
    /// The article template; null for the built-in layout.
    template: Option<String>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
    /// Only in the answer to PUT: corrections made (e.g. a pasted /api/v1 removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    notices: Option<Vec<String>>,
}

/// The IT Glue integration, its key masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItGlueIntegration {
    /// Always `it-glue`.
    provider: Provider,
    /// The IT Glue region.
    region: ItGlueRegionName,
    /// Masked: •••• and at most the last 4 characters.
    #[schema(example = "••••cdef")]
    api_key: String,
    /// docsync tenant id → the IT Glue organization id.
    organization_id_by_tenant_id: BTreeMap<String, i64>,
    /// When scheduled pushes happen.
    #[schema(value_type = docsync_domain::schedule::ScheduleView)]
    schedule: Value,
    /// When the schedule next pushes (null for manual).
    next_scheduled_at: Option<DateTime<Utc>>,
    /// The key's budget.
    rate_limit: RateLimit,
    /// The sections the asset fills, in reading order.
    sections: Vec<docsync_domain::PostureSection>,
    /// Whether an unchanged content is written again.
    write_unchanged: bool,
    /// When it last changed.
    updated_at: DateTime<Utc>,
    /// Only in the answer to PUT: corrections made.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    notices: Option<Vec<String>>,
}

/// The configuration of any provider (documentation platform or PSA), as `GET` shows it.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum IntegrationView {
    /// Hudu.
    Hudu(HuduIntegration),
    /// IT Glue.
    ItGlue(ItGlueIntegration),
    /// ConnectWise Manage.
    ConnectWiseManage(docsync_domain::psa::schema::ConnectWiseManageIntegration),
    /// HaloPSA.
    HaloPsa(docsync_domain::psa::schema::HaloPsaIntegration),
    /// Autotask.
    Autotask(docsync_domain::psa::schema::AutotaskIntegration),
}

/// The PUT body of any provider; the paths `/integrations/hudu`, ... say which.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum IntegrationPut {
    /// Hudu.
    Hudu(HuduIntegrationPut),
    /// IT Glue.
    ItGlue(ItGlueIntegrationPut),
    /// ConnectWise Manage.
    ConnectWiseManage(docsync_domain::psa::schema::ConnectWiseManageIntegrationPut),
    /// HaloPSA.
    HaloPsa(docsync_domain::psa::schema::HaloPsaIntegrationPut),
    /// Autotask.
    Autotask(docsync_domain::psa::schema::AutotaskIntegrationPut),
}

/// A company or organization of the destination.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RemoteCompany {
    /// Its id.
    id: i64,
    /// Its name.
    name: String,
}

/// The answer of a documentation platform's test connection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectionReport {
    /// The key was accepted.
    key_valid: bool,
    /// The provider answered at all.
    reachable: bool,
    /// The first companies (Hudu) or organizations (IT Glue), at most 10.
    #[schema(max_items = 10)]
    first_companies: Vec<RemoteCompany>,
    /// The rate-limit headers the provider sent, as [name, value] pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    rate_limit_headers: Vec<(String, String)>,
    /// What a person should know or do.
    message: String,
}

impl From<ConnectionReport2> for ConnectionReport {
    fn from(r: ConnectionReport2) -> Self {
        Self {
            key_valid: r.key_valid,
            reachable: r.reachable,
            first_companies: r
                .first_companies
                .into_iter()
                .map(|c| RemoteCompany {
                    id: c.id,
                    name: c.name,
                })
                .collect(),
            rate_limit_headers: r.rate_limit_headers,
            message: r.message,
        }
    }
}

/// Either test connection's answer.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AnyConnectionReport {
    /// Hudu and IT Glue.
    Posture(ConnectionReport),
    /// The PSAs.
    Psa(crate::psa::PsaConnectionReport),
}

/// A push accepted: its run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushAccepted {
    /// Follow it with GET /runs/{id}.
    run_id: Uuid,
}

/// A tenant push-all left out.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkippedTenant {
    /// The tenant.
    tenant_id: Uuid,
    /// Its name.
    name: String,
    /// Why: not in the mapping.
    reason: String,
}

/// A push-all accepted: one run per mapped tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushAllAccepted {
    /// One run per mapped tenant.
    run_ids: Vec<Uuid>,
    /// The tenants left out.
    skipped: Vec<SkippedTenant>,
}

/// The `{provider}` of the routes every provider has.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct AnyProviderPath {
    /// A documentation platform or a PSA.
    provider: crate::openapi::AnyProvider,
}

/// The `{provider}` of the push routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct PostureProviderPath {
    /// A documentation platform.
    provider: Provider,
}

/// The `{provider}` of the PSA routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct PsaProviderPath {
    /// A PSA.
    provider: docsync_domain::psa::PsaKind,
}

/// The `{provider}` and `{tenantId}` of `POST /integrations/{provider}/push/{tenantId}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PushPath {
    /// A documentation platform.
    provider: Provider,
    /// The docsync tenant id.
    #[param(format = Uuid, example = "3f2b6c1e-8d4a-4f3b-9c2d-1a2b3c4d5e6f")]
    tenant_id: String,
}

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

fn view(state: &AppState, integration: &Integration, notices: Option<Vec<String>>) -> Value {
    let key = state
        .master
        .open(
            &integration.api_key_sealed,
            &Binding::integration_api_key(integration.account_id, integration.provider),
        )
        .map(|k| mask(&k))
        .unwrap_or_else(|_| "•••• (unreadable: stored with another master key or copied from another row; set it again)".into());
    let mappings: BTreeMap<String, i64> = integration
        .mappings
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
    let rate_limit = integration
        .rate_limit
        .unwrap_or_else(|| integration.provider.default_rate_limit());
    let view = match integration.provider {
        Provider::Hudu => serde_json::to_value(HuduIntegration {
            provider: integration.provider,
            base_url: integration.base_url.clone().unwrap_or_default(),
            api_key: key,
            company_id_by_tenant_id: mappings,
            schedule: integration.schedule.clone(),
            next_scheduled_at: next_scheduled_at(integration),
            rate_limit,
            sections: integration.options.sections.clone(),
            write_unchanged: integration.options.write_unchanged,
            template: integration.options.template.clone(),
            updated_at: integration.updated_at,
            notices,
        }),
        Provider::ItGlue => serde_json::to_value(ItGlueIntegration {
            provider: integration.provider,
            region: match integration.region.as_deref() {
                Some("eu") => ItGlueRegionName::Eu,
                Some("au") => ItGlueRegionName::Au,
                _ => ItGlueRegionName::Us,
            },
            api_key: key,
            organization_id_by_tenant_id: mappings,
            schedule: integration.schedule.clone(),
            next_scheduled_at: next_scheduled_at(integration),
            rate_limit,
            sections: integration.options.sections.clone(),
            write_unchanged: integration.options.write_unchanged,
            updated_at: integration.updated_at,
            notices,
        }),
    };
    view.unwrap_or(Value::Null)
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

#[utoipa::path(
    get,
    path = "/integrations/{provider}",
    tag = "integrations",
    description = "Needs the INTEGRATIONS_READ permission.",
    params(AnyProviderPath),
    responses(
        (status = 200, description = "the configuration", body = IntegrationView),
        (status = 404, description = "the integration is not configured yet: PUT it first", body = crate::error::ErrorBody),
    )
)]
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
    Ok(Json(view(&state, &integration, None)))
}

#[utoipa::path(
    put,
    path = "/integrations/{provider}",
    tag = "integrations",
    description = "Needs the INTEGRATIONS_MANAGE permission. Every bad or unknown field is named at once; a GET's answer can be sent back as it is (masked secrets keep the stored ones).",
    params(AnyProviderPath),
    request_body(content = IntegrationPut),
    responses(
        (status = 200, description = "the configuration as stored, with notices", body = IntegrationView),
        (status = 400, response = crate::openapi::BadRequest),
    )
)]
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
    let mut allowed = vec![
        location_field,
        "apiKey",
        mapping_field,
        "schedule",
        "rateLimit",
    ];
    allowed.extend_from_slice(PostureOptions::fields(provider));
    let mut f = Fields::new(&body, &allowed);
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
        Some(raw) if raw.trim_start().starts_with("••••") && existing.is_some() => {
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
    let mut unknown_tenants = Vec::new();
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
                    unknown_tenants.push(crate::error::FieldError {
                        field: format!("{mapping_field}.{tenant}"),
                        message: "no tenant with this id in this account: copy tenant ids from GET /tenants".into(),
                    });
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
    for e in unknown_tenants {
        f.error(e.field, e.message);
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
    let options = match PostureOptions::parse_fields(&body, provider) {
        Ok(options) => {
            if let Some(source) = &options.template {
                if let Err(e) = docsync_sinks::template::check(source, &options.sections) {
                    f.error("template", e.message);
                }
            }
            options
        }
        Err(errors) => {
            for (field, message) in errors {
                f.error(field, message);
            }
            PostureOptions::default()
        }
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
        options,
    };
    let event = audit_event(&caller, provider, existing.as_ref(), &upsert, key_changed);
    state
        .store
        .upsert_integration_audited(account, provider, &upsert, &event)
        .await?;
    let integration = require_integration(&state, account, provider).await?;
    Ok(Json(view(&state, &integration, Some(notices))))
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
    let sections = |o: &PostureOptions| {
        Value::from(
            o.sections
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let default = PostureOptions::default();
    let old = before.map_or(&default, |b| &b.options);
    changes.extend(audit::diff(
        "sections",
        Some(sections(old)),
        Some(sections(&after.options)),
    ));
    changes.extend(audit::diff(
        "writeUnchanged",
        Some(old.write_unchanged),
        Some(after.options.write_unchanged),
    ));
    // The template is recorded by its size only: it can be long.
    let size = |t: &Option<String>| t.as_ref().map(|t| format!("{} bytes", t.len()));
    if old.template != after.options.template {
        changes.extend(audit::diff(
            "template",
            Some(size(&old.template).unwrap_or_else(|| "built-in layout".into())),
            Some(size(&after.options.template).unwrap_or_else(|| "built-in layout".into())),
        ));
    }
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

#[utoipa::path(
    post,
    path = "/integrations/{provider}/test",
    operation_id = "testConnection",
    tag = "integrations",
    summary = "Read-only check of the provider's credentials",
    description = "Needs the INTEGRATIONS_READ permission. No body. Hudu and IT Glue: key valid, reachable, first 10 companies or organizations, rate-limit headers. PSAs: credentials valid, reachable, first 10 companies, budget, the destination layouts. Answered 200 whatever the check found (it waits at most 30 s).",
    params(AnyProviderPath),
    responses(
        (status = 200, description = "the report", body = AnyConnectionReport),
        (status = 404, description = "the integration is not configured yet: PUT it first", body = crate::error::ErrorBody),
    )
)]
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
        .unwrap_or_else(|_| ConnectionReport2 {
            key_valid: false,
            reachable: false,
            first_companies: vec![],
            rate_limit_headers: vec![],
            message: format!(
                "no answer within {} s: the provider is slow or unreachable, or the key's rateLimit leaves no request free now (pushes under way use it too); try again later",
                TEST_TIMEOUT.as_secs()
            ),
        });
    Ok(Json(
        serde_json::to_value(ConnectionReport::from(report)).unwrap_or(Value::Null),
    ))
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
        return Err(ApiError::Conflict(
            "no Microsoft connection: PUT /connections/microsoft with the MSP's Graph app first"
                .into(),
        ));
    }
    Ok(integration)
}

#[utoipa::path(
    post,
    path = "/integrations/{provider}/push/{tenantId}",
    operation_id = "pushTenant",
    tag = "pushes",
    summary = "Push one tenant now",
    description = "Needs the INTEGRATIONS_MANAGE permission. No body.",
    params(PushPath),
    responses(
        (status = 202, description = "queued (the broker confirmed the message)", body = PushAccepted),
        (status = 400, description = "the tenant id is not a UUID (`fields` names tenantId)", body = crate::error::ErrorBody),
        (status = 404, description = "no such tenant in this account, or the integration is not configured yet", body = crate::error::ErrorBody),
        (status = 409, description = "the tenant is not mapped by the integration (add it to the mapping with PUT /integrations/{provider}), or there is no Microsoft connection yet", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn push_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((p, tenant_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<PushAccepted>), ApiError> {
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
        return Err(ApiError::Conflict(format!(
            "tenant {} ({}) is not mapped: add it to {} with PUT /integrations/{provider}",
            tenant.id,
            tenant.name,
            mapping_field(provider).0
        )));
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
    Ok((
        StatusCode::ACCEPTED,
        Json(PushAccepted { run_id: ids[0].0 }),
    ))
}

/// What the next push of a tenant would write to Hudu.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HuduPreview {
    /// The article's title.
    title: String,
    /// The article's HTML body.
    content: String,
}

/// What the next push of a tenant would write to IT Glue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ItGluePreview {
    /// The flexible asset's name.
    name: String,
    /// Every trait by name-key (the sections not chosen empty).
    #[schema(value_type = Object)]
    traits: serde_json::Map<String, Value>,
}

/// Either preview.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AnyPreview {
    /// Hudu.
    Hudu(HuduPreview),
    /// IT Glue.
    ItGlue(ItGluePreview),
}

#[utoipa::path(
    post,
    path = "/integrations/{provider}/preview/{tenantId}",
    operation_id = "previewTenant",
    tag = "pushes",
    summary = "What the next push of one tenant would write",
    description = "Needs the INTEGRATIONS_READ permission. No body. Renders the tenant's latest snapshot with the stored configuration (sections, template) through the same function a push uses, with now as the push time; nothing is written to the provider. Hudu answers {title, content}, IT Glue {name, traits}.",
    params(PushPath),
    responses(
        (status = 200, description = "the document the next push would write", body = AnyPreview),
        (status = 400, description = "the tenant id is not a UUID (`fields` names tenantId), or the stored template fails on this snapshot (`fields` names template, with line and column)", body = crate::error::ErrorBody),
        (status = 404, description = "no such tenant in this account, the integration is not configured yet, or the tenant has no snapshot yet (push it once)", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path((p, tenant_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let provider = provider(&p)?;
    let tenant_id = parse_tenant_id(&tenant_id)?;
    let tenant = state
        .store
        .tenant(account, tenant_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant {tenant_id} in this account")))?;
    let integration = require_integration(&state, account, provider).await?;
    let mut snapshot = state
        .store
        .latest_snapshot(account, tenant_id)
        .await?
        .map(|stored| stored.snapshot)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "tenant {} ({}) has no snapshot yet: push it once (POST /integrations/{provider}/push/{})",
                tenant.id, tenant.name, tenant.id
            ))
        })?;
    // As a push does: the title follows the tenant's current name.
    snapshot.tenant_name = tenant.name;
    docsync_sinks::posture::preview(provider, &snapshot, &integration.options, Utc::now())
        .map(Json)
        .map_err(|e| {
            ApiError::Invalid(vec![crate::error::FieldError {
                field: "template".into(),
                message: e.message,
            }])
        })
}

#[utoipa::path(
    post,
    path = "/integrations/{provider}/push-all",
    operation_id = "pushAll",
    tag = "pushes",
    summary = "Push every mapped tenant now",
    description = "Needs the INTEGRATIONS_MANAGE permission. No body.",
    params(PostureProviderPath),
    responses(
        (status = 202, description = "queued (the broker confirmed the messages)", body = PushAllAccepted),
        (status = 404, description = "the integration is not configured yet", body = crate::error::ErrorBody),
        (status = 409, description = "there is no Microsoft connection yet", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn push_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<(StatusCode, Json<PushAllAccepted>), ApiError> {
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
            skipped.push(SkippedTenant {
                tenant_id: t.id.0,
                name: t.name.clone(),
                reason: format!("not in {}", mapping_field(provider).0),
            });
        }
    }
    let ids = if runs.is_empty() {
        Vec::new()
    } else {
        enqueue(&state, account, &runs).await?
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(PushAllAccepted {
            run_ids: ids.into_iter().map(|id| id.0).collect(),
            skipped,
        }),
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
#[utoipa::path(
    get,
    path = "/integrations/{provider}/companies",
    operation_id = "listPsaCompanies",
    tag = "psa",
    summary = "The PSA companies the last sync read, each with its match",
    description = "Needs the INTEGRATIONS_READ permission.",
    params(PsaProviderPath),
    responses(
        (status = 200, description = "the companies", body = crate::psa::PsaCompanyList),
        (status = 404, description = "the PSA integration is not configured yet", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn psa_companies(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::psa::companies(state, caller, psa_kind(&p)?).await
}

/// `PUT /integrations/{psa}/companies`.
#[utoipa::path(
    put,
    path = "/integrations/{provider}/companies",
    operation_id = "setPsaMatches",
    tag = "psa",
    summary = "Match, create, ignore or unmatch companies",
    description = "Needs the INTEGRATIONS_MANAGE permission. All or nothing: every bad entry is named (matches[i].psaId, matches[i].action, matches[i].companyId) and then nothing changes.",
    params(PsaProviderPath),
    request_body(content = crate::psa::CompanyMatchesPut),
    responses(
        (status = 200, description = "every company after the change", body = crate::psa::PsaCompanyList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, description = "the PSA integration is not configured yet", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn psa_set_matches(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    crate::psa::set_matches(state, caller, psa_kind(&p)?, body).await
}

/// `POST /integrations/{psa}/companies/match-all`.
#[utoipa::path(
    post,
    path = "/integrations/{provider}/companies/match-all",
    operation_id = "matchAllPsaCompanies",
    tag = "psa",
    summary = "Match every unmatched company to its suggested destination company, else mark it to be created",
    description = "Needs the INTEGRATIONS_MANAGE permission. No body. Companies deleted in the PSA, and matched, create and ignored ones, are left as they are.",
    params(PsaProviderPath),
    responses(
        (status = 200, description = "how many of each", body = crate::psa::MatchAllResult),
        (status = 404, description = "the PSA integration is not configured yet", body = crate::error::ErrorBody),
        (status = 409, description = "the company list changed meanwhile (a sync updated it); nothing was changed, try again", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn psa_match_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::psa::match_all(state, caller, psa_kind(&p)?).await
}

/// `POST /integrations/{psa}/sync`.
#[utoipa::path(
    post,
    path = "/integrations/{provider}/sync",
    operation_id = "syncPsa",
    tag = "psa",
    summary = "Sync now",
    description = "Needs the INTEGRATIONS_MANAGE permission. No body. Queues one sync run: it reads the PSA's company list (updating match states and suggestions) and the records of matched companies (a company marked create is created in Hudu and matched), and writes what changed to Hudu; follow it with GET /runs/{id}.",
    params(PsaProviderPath),
    responses(
        (status = 202, description = "queued (the broker confirmed the message)", body = PushAccepted),
        (status = 404, description = "the PSA integration is not configured yet", body = crate::error::ErrorBody),
        (status = 409, description = "the destination is not configured: the sync writes to the account's Hudu integration, PUT /integrations/hudu first", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn psa_sync(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::psa::sync(state, caller, psa_kind(&p)?).await
}
