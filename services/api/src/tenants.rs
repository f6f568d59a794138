//! `/tenants`: create, list, show (with last sync and last push per provider, and the state of
//! its change watch when an integration pushes it on change), rename, remove.

use crate::audit;
use crate::auth::Caller;
use crate::body::{is_domain, Fields, JsonObject};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, Provider, TenantId};
use docsync_store::{AuditAction, NewTenant, Permission, Tenant};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The body of `POST /tenants`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct TenantCreate {
    /// Trimmed; at most 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        example = "Contoso"
    )]
    name: String,
    /// A domain name (stored in lower case).
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^\s*([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\s*$",
        example = "contoso.com"
    )]
    primary_domain: String,
    /// The Microsoft (Entra) tenant id: Entra admin center → Overview.
    #[schema(format = Uuid, example = "0b9e8c4a-1f2d-4e3b-9a7c-5d6e7f8a9b0c")]
    microsoft_tenant_id: String,
}

/// The body of `PATCH /tenants/{id}`: at least one of name and primaryDomain (neither null).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)]
pub(crate) struct TenantUpdate {
    /// Trimmed; at most 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        example = "Contoso",
        nullable = false
    )]
    name: Option<String>,
    /// A domain name (stored in lower case).
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^\s*([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\s*$",
        example = "contoso.com",
        nullable = false
    )]
    primary_domain: Option<String>,
}

/// A tenant, with its last sync and last push per configured provider.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantView {
    /// The docsync tenant id.
    id: Uuid,
    /// The tenant's name.
    name: String,
    /// Its primary domain, lower case.
    primary_domain: String,
    /// The Microsoft (Entra) tenant id.
    #[schema(format = Uuid)]
    microsoft_tenant_id: String,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
    /// When its posture was last collected.
    last_sync_at: Option<DateTime<Utc>>,
    /// Per configured provider (hudu, it-glue).
    providers: BTreeMap<String, TenantProvider>,
    /// How its directory audit log is watched for changes (`schedule.onChange`); null when
    /// no integration that maps it pushes on change.
    change_watch: Option<ChangeWatchView>,
}

/// A tenant's change watch: when its directory audit log was read and what it found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangeWatchView {
    /// When the audit log was last read (or a read last failed); null before the first.
    polled_at: Option<DateTime<Utc>>,
    /// When it is read next.
    next_poll_at: DateTime<Utc>,
    /// How far the log has been read (the cursor); null before the first read.
    read_up_to: Option<DateTime<Utc>>,
    /// When the newest change to Conditional Access, authentication methods or domains seen
    /// happened.
    last_change_at: Option<DateTime<Utc>>,
    /// When a push (trigger `change`) was last enqueued for a change.
    last_push_at: Option<DateTime<Utc>>,
    /// Why the last read failed; null when it succeeded.
    last_error: Option<String>,
}

impl From<docsync_store::ChangeWatch> for ChangeWatchView {
    fn from(w: docsync_store::ChangeWatch) -> Self {
        ChangeWatchView {
            polled_at: w.polled_at,
            next_poll_at: w.next_poll_at,
            read_up_to: w.cursor_at,
            last_change_at: w.last_change_at,
            last_push_at: w.last_push_at,
            last_error: w.last_error,
        }
    }
}

/// A tenant as one provider sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantProvider {
    /// The integration maps this tenant.
    mapped: bool,
    /// The Hudu company or IT Glue organization it is mapped to.
    remote_parent_id: Option<i64>,
    /// When its last push started.
    last_run_at: Option<DateTime<Utc>>,
    /// The last push's state.
    last_run_state: Option<docsync_domain::RunState>,
    /// When a push last succeeded.
    last_push_at: Option<DateTime<Utc>>,
    /// The last run's error: why it failed, or the transient error it is retrying after.
    last_error: Option<String>,
    /// When the schedule next pushes it (null when unmapped or manual).
    next_scheduled_at: Option<DateTime<Utc>>,
}

/// The account's tenants.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TenantList {
    /// Every tenant of the account.
    tenants: Vec<TenantView>,
}

/// The `{id}` of `/tenants/{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct TenantIdPath {
    /// The docsync tenant id.
    #[param(format = Uuid, example = "3f2b6c1e-8d4a-4f3b-9c2d-1a2b3c4d5e6f")]
    id: String,
}

pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    raw.parse::<TenantId>()
        .map_err(|e| ApiError::field("tenantId", e))
}

async fn view(
    state: &AppState,
    account: AccountId,
    tenants: &[Tenant],
) -> Result<Vec<TenantView>, ApiError> {
    let ids: Vec<TenantId> = tenants.iter().map(|t| t.id).collect();
    let pushes = state.store.tenant_pushes(account, &ids).await?;
    let mut watches: std::collections::HashMap<TenantId, docsync_store::ChangeWatch> = state
        .store
        .change_watches(account, &ids)
        .await?
        .into_iter()
        .collect();
    let mut mapped = Vec::new();
    for provider in Provider::ALL {
        if let Some(i) = state.store.integration(account, provider).await? {
            let next = crate::integrations::next_scheduled_at(&i);
            mapped.push((provider, i.mappings, next));
        }
    }
    Ok(tenants
        .iter()
        .map(|t| {
            let mut providers = BTreeMap::new();
            for (provider, mappings, next) in &mapped {
                let parent = mappings.iter().find(|(id, _)| *id == t.id).map(|(_, p)| *p);
                let last = pushes
                    .iter()
                    .find(|(id, p)| *id == t.id && p.provider == *provider)
                    .map(|(_, p)| p);
                providers.insert(
                    provider.as_str().to_owned(),
                    TenantProvider {
                        mapped: parent.is_some(),
                        remote_parent_id: parent,
                        last_run_at: last.map(|l| l.last_run_at),
                        last_run_state: last.and_then(|l| l.last_state.parse().ok()),
                        last_push_at: last.and_then(|l| l.last_success_at),
                        last_error: last.and_then(|l| l.last_error.clone()),
                        next_scheduled_at: if parent.is_some() { *next } else { None },
                    },
                );
            }
            TenantView {
                id: t.id.0,
                name: t.name.clone(),
                primary_domain: t.primary_domain.clone(),
                microsoft_tenant_id: t.microsoft_tenant_id.clone(),
                created_at: t.created_at,
                updated_at: t.updated_at,
                last_sync_at: t.last_sync_at,
                providers,
                change_watch: watches.remove(&t.id).map(ChangeWatchView::from),
            }
        })
        .collect())
}

#[utoipa::path(
    post,
    path = "/tenants",
    operation_id = "createTenant",
    tag = "tenants",
    summary = "Create a tenant",
    description = "Needs the TENANTS_MANAGE permission.",
    request_body(content = TenantCreate, description = "the tenant; every bad field is named at once"),
    responses(
        (status = 201, description = "created", body = TenantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, description = "a tenant with that Microsoft tenant id exists in this account", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    let account = caller.require(Permission::TenantsManage)?;
    let mut f = Fields::new(&body, &["name", "primaryDomain", "microsoftTenantId"]);
    let name = f.text("name", true, 200);
    let domain = f
        .text("primaryDomain", true, 253)
        .map(|d| d.to_ascii_lowercase());
    if let Some(d) = &domain {
        if !is_domain(d) {
            f.error("primaryDomain", "must be a domain name such as contoso.com");
        }
    }
    let ms = f.text("microsoftTenantId", true, 64);
    if let Some(m) = &ms {
        if uuid::Uuid::parse_str(m).is_err() {
            f.error(
                "microsoftTenantId",
                "must be the Microsoft (Entra) tenant id, a UUID: copy it from Entra admin center → Overview",
            );
        }
    }
    f.finish()?;
    let (Some(name), Some(primary_domain), Some(ms)) = (name, domain, ms) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let new = NewTenant {
        name,
        primary_domain,
        microsoft_tenant_id: ms.to_ascii_lowercase(),
    };
    let changes = [
        audit::diff("name", None::<&str>, Some(new.name.as_str())),
        audit::diff(
            "primaryDomain",
            None::<&str>,
            Some(new.primary_domain.as_str()),
        ),
        audit::diff(
            "microsoftTenantId",
            None::<&str>,
            Some(new.microsoft_tenant_id.as_str()),
        ),
    ];
    let event = audit::event(
        &caller,
        AuditAction::Created,
        "tenant",
        None,
        changes.into_iter().flatten().collect(),
    );
    let tenant = state
        .store
        .create_tenant_audited(account, &new, &event)
        .await?;
    let mut views = view(&state, account, std::slice::from_ref(&tenant)).await?;
    Ok((StatusCode::CREATED, Json(views.remove(0))))
}

#[utoipa::path(
    get,
    path = "/tenants",
    operation_id = "listTenants",
    tag = "tenants",
    summary = "The account's tenants with their last sync and last push per provider",
    description = "Needs the TENANTS_READ permission.",
    responses((status = 200, description = "the tenants", body = TenantList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TenantList>, ApiError> {
    let account = caller.require(Permission::TenantsRead)?;
    let tenants = state.store.tenants(account).await?;
    Ok(Json(TenantList {
        tenants: view(&state, account, &tenants).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/tenants/{id}",
    operation_id = "getTenant",
    tag = "tenants",
    summary = "One tenant",
    description = "Needs the TENANTS_READ permission.",
    params(TenantIdPath),
    responses(
        (status = 200, description = "the tenant", body = TenantView),
        (status = 400, description = "the id is not a UUID (`fields` names tenantId)", body = crate::error::ErrorBody),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let account = caller.require(Permission::TenantsRead)?;
    let id = parse_tenant_id(&id)?;
    let tenant = state
        .store
        .tenant(account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant {id} in this account")))?;
    let mut views = view(&state, account, std::slice::from_ref(&tenant)).await?;
    Ok(Json(views.remove(0)))
}

#[utoipa::path(
    patch,
    path = "/tenants/{id}",
    operation_id = "updateTenant",
    tag = "tenants",
    summary = "Rename a tenant (the next push renames the document in place) or change its domain",
    description = "Needs the TENANTS_MANAGE permission.",
    params(TenantIdPath),
    request_body(content = TenantUpdate, description = "name and/or primaryDomain; `{}` and null values are refused naming the field"),
    responses(
        (status = 200, description = "the tenant after the change", body = TenantView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<TenantView>, ApiError> {
    let account = caller.require(Permission::TenantsManage)?;
    let id = parse_tenant_id(&id)?;
    let mut f = Fields::new(&body, &["name", "primaryDomain"]);
    f.no_nulls();
    let name = f.text("name", false, 200);
    let domain = f
        .text("primaryDomain", false, 253)
        .map(|d| d.to_ascii_lowercase());
    if let Some(d) = &domain {
        if !is_domain(d) {
            f.error("primaryDomain", "must be a domain name such as contoso.com");
        }
    }
    if body.is_empty() {
        f.error("name", "send name and/or primaryDomain to change");
    }
    f.finish()?;
    let not_found = || ApiError::NotFound(format!("no tenant {id} in this account"));
    let before = state
        .store
        .tenant(account, id)
        .await?
        .ok_or_else(not_found)?;
    let changes = [
        name.as_deref()
            .and_then(|n| audit::diff("name", Some(before.name.as_str()), Some(n))),
        domain.as_deref().and_then(|d| {
            audit::diff(
                "primaryDomain",
                Some(before.primary_domain.as_str()),
                Some(d),
            )
        }),
    ];
    let event = audit::event(
        &caller,
        AuditAction::Updated,
        "tenant",
        Some(id.to_string()),
        changes.into_iter().flatten().collect(),
    );
    let tenant = state
        .store
        .update_tenant_audited(account, id, name.as_deref(), domain.as_deref(), &event)
        .await?
        .ok_or_else(not_found)?;
    let mut views = view(&state, account, std::slice::from_ref(&tenant)).await?;
    Ok(Json(views.remove(0)))
}

#[utoipa::path(
    delete,
    path = "/tenants/{id}",
    operation_id = "deleteTenant",
    tag = "tenants",
    summary = "Remove a tenant",
    description = "Needs the TENANTS_MANAGE permission.",
    params(TenantIdPath),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "the id is not a UUID (`fields` names tenantId)", body = crate::error::ErrorBody),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = caller.require(Permission::TenantsManage)?;
    let id = parse_tenant_id(&id)?;
    let not_found = || ApiError::NotFound(format!("no tenant {id} in this account"));
    let before = state
        .store
        .tenant(account, id)
        .await?
        .ok_or_else(not_found)?;
    let changes = [
        audit::diff("name", Some(before.name.as_str()), None::<&str>),
        audit::diff(
            "primaryDomain",
            Some(before.primary_domain.as_str()),
            None::<&str>,
        ),
        audit::diff(
            "microsoftTenantId",
            Some(before.microsoft_tenant_id.as_str()),
            None::<&str>,
        ),
    ];
    let event = audit::event(
        &caller,
        AuditAction::Deleted,
        "tenant",
        Some(id.to_string()),
        changes.into_iter().flatten().collect(),
    );
    if state
        .store
        .delete_tenant_audited(account, id, &event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
