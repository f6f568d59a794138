//! `/integrations/{provider}/runs` and `/runs/{id}`: what happened to each push.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use docsync_domain::{IntegrationKind, RunId, RunState};
use docsync_store::{Permission, Run, RunFilter};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn run_view(run: &Run) -> Value {
    json!({
        "id": run.id,
        "tenantId": run.tenant_id,
        "provider": run.provider,
        "trigger": run.trigger,
        "state": run.state,
        "attempts": run.attempts,
        "error": run.error,
        "remoteId": run.remote_id,
        "snapshotId": run.snapshot_id,
        "createdAt": run.created_at,
        "updatedAt": run.updated_at,
        "finishedAt": run.finished_at,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ListQuery {
    tenant_id: Option<String>,
    state: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let (provider, psa) = match crate::integrations::integration(&p)? {
        IntegrationKind::Docs(provider) => (Some(provider), None),
        IntegrationKind::Psa(psa) => (None, Some(psa)),
    };
    let Query(q) = query.map_err(|e| {
        ApiError::BadRequest(format!(
            "bad query: {e}; the filters are tenantId, state and limit"
        ))
    })?;
    let mut errors = Vec::new();
    let tenant_id = match q.tenant_id.as_deref().map(str::parse) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            errors.push(("tenantId", e));
            None
        }
        None => None,
    };
    let run_state = match q.state.as_deref().map(str::parse::<RunState>) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            errors.push(("state", e));
            None
        }
        None => None,
    };
    let limit = match q.limit.as_deref().map(str::parse::<i64>) {
        Some(Ok(n)) if (1..=1000).contains(&n) => Some(n),
        Some(_) => {
            errors.push(("limit", "must be a whole number from 1 to 1000".into()));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(
            errors
                .into_iter()
                .map(|(field, message)| crate::error::FieldError {
                    field: field.into(),
                    message,
                })
                .collect(),
        ));
    }
    let Some(provider) = provider else {
        if tenant_id.is_some() {
            return Err(ApiError::field(
                "tenantId",
                "sync runs have no tenant: filter by state and limit",
            ));
        }
        return crate::psa::runs(
            state,
            caller,
            psa.unwrap_or(docsync_domain::psa::PsaKind::ConnectWiseManage),
            run_state,
            limit,
        )
        .await;
    };
    let runs = state
        .store
        .runs(
            account,
            provider,
            &RunFilter {
                tenant_id,
                state: run_state,
                limit,
            },
        )
        .await?;
    Ok(Json(
        json!({"runs": runs.iter().map(run_view).collect::<Vec<_>>()}),
    ))
}

/// The most ids one `GET /runs?ids=` may ask for.
const MAX_IDS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManyQuery {
    ids: Option<String>,
}

/// `GET /runs?ids=ID,ID,...`: up to 500 runs (pushes and syncs), each as `GET /runs/:id`
/// shows it, in the order asked; unknown ids and other accounts' are left out.
pub(crate) async fn many(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ManyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let hint = "give up to 500 run ids separated by commas, e.g. ?ids=ID,ID";
    let Query(q) = query.map_err(|e| ApiError::field("ids", format!("bad query ({e}): {hint}")))?;
    let raw = q.ids.unwrap_or_default();
    let mut ids: Vec<RunId> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: RunId = part.parse().map_err(|_| {
            let shown: String = part.chars().take(40).collect();
            ApiError::field("ids", format!("{shown:?} is not a run id: {hint}"))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(ApiError::field("ids", format!("is required: {hint}")));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::field(
            "ids",
            format!(
                "names {} runs, more than {MAX_IDS}: ask in pages of {MAX_IDS}",
                ids.len()
            ),
        ));
    }
    let runs = views_of(&state.store, account, &ids).await?;
    Ok(Json(json!({ "runs": runs })))
}

/// The runs of `ids` (pushes and syncs) that belong to the account, each as `GET /runs/:id`
/// shows it (with its events), in the order asked: three queries whatever the count. Also
/// the `run` of a webhook delivery.
pub(crate) async fn views_of(
    store: &docsync_store::Store,
    account: docsync_domain::AccountId,
    ids: &[RunId],
) -> Result<Vec<Value>, docsync_store::StoreError> {
    let mut views: std::collections::HashMap<RunId, Value> = store
        .runs_by_ids(account, ids)
        .await?
        .iter()
        .map(|r| (r.id, run_view(r)))
        .collect();
    for sync in store.sync_runs_by_ids(account, ids).await? {
        views.insert(sync.id, crate::psa::run_view(&sync));
    }
    let found: Vec<RunId> = ids
        .iter()
        .copied()
        .filter(|id| views.contains_key(id))
        .collect();
    let mut events = store.events_of_runs(&found).await?;
    Ok(found
        .iter()
        .filter_map(|id| {
            let mut v = views.remove(id)?;
            v["events"] = json!(events
                .remove(id)
                .unwrap_or_default()
                .iter()
                .map(|e| json!({"state": e.state, "at": e.at, "detail": e.detail}))
                .collect::<Vec<_>>());
            Some(v)
        })
        .collect())
}

pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let id: RunId = id.parse().map_err(|e: String| ApiError::field("id", e))?;
    let mut v = match state.store.run(account, id).await? {
        Some(run) => run_view(&run),
        None => match state.store.sync_run(account, id).await? {
            Some(run) => crate::psa::run_view(&run),
            None => return Err(ApiError::NotFound(format!("no run {id} in this account"))),
        },
    };
    let events = state.store.run_events(id).await?;
    v["events"] = json!(events
        .iter()
        .map(|e| json!({"state": e.state, "at": e.at, "detail": e.detail}))
        .collect::<Vec<_>>());
    Ok(Json(v))
}
