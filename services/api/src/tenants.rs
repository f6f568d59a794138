//! `/tenants`: create, list, show (with last sync and last push per provider), rename, remove.

use crate::audit;
use crate::auth::Caller;
use crate::body::{is_domain, Fields, JsonObject};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use docsync_domain::{AccountId, Provider, TenantId};
use docsync_store::{AuditAction, NewTenant, Permission, Tenant};
use serde_json::{json, Map, Value};

pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    raw.parse::<TenantId>()
        .map_err(|e| ApiError::field("tenantId", e))
}

async fn view(
    state: &AppState,
    account: AccountId,
    tenants: &[Tenant],
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<TenantId> = tenants.iter().map(|t| t.id).collect();
    let pushes = state.store.tenant_pushes(account, &ids).await?;
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
            let mut providers = Map::new();
            for (provider, mappings, next) in &mapped {
                let parent = mappings.iter().find(|(id, _)| *id == t.id).map(|(_, p)| *p);
                let last = pushes
                    .iter()
                    .find(|(id, p)| *id == t.id && p.provider == *provider)
                    .map(|(_, p)| p);
                providers.insert(
                    provider.as_str().to_owned(),
                    json!({
                        "mapped": parent.is_some(),
                        "remoteParentId": parent,
                        "lastRunAt": last.map(|l| l.last_run_at),
                        "lastRunState": last.map(|l| l.last_state.clone()),
                        "lastPushAt": last.and_then(|l| l.last_success_at),
                        "lastError": last.and_then(|l| l.last_error.clone()),
                        "nextScheduledAt": if parent.is_some() { *next } else { None },
                    }),
                );
            }
            json!({
                "id": t.id,
                "name": t.name,
                "primaryDomain": t.primary_domain,
                "microsoftTenantId": t.microsoft_tenant_id,
                "createdAt": t.created_at,
                "updatedAt": t.updated_at,
                "lastSyncAt": t.last_sync_at,
                "providers": providers,
            })
        })
        .collect())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::TenantsRead)?;
    let tenants = state.store.tenants(account).await?;
    Ok(Json(
        json!({"tenants": view(&state, account, &tenants).await?}),
    ))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::TenantsManage)?;
    let id = parse_tenant_id(&id)?;
    let mut f = Fields::new(&body, &["name", "primaryDomain"]);
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
