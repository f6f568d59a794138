//! `/integrations/{provider}/runs` and `/runs/{id}`: what happened to each push.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use docsync_domain::Trigger;
use docsync_domain::{IntegrationKind, Provider, RunId, RunState};
use docsync_store::RunEvent;
use docsync_store::{Permission, Run, RunFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A push run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunView {
    /// The run id.
    id: Uuid,
    /// The tenant pushed.
    tenant_id: Uuid,
    /// The documentation platform written to.
    provider: Provider,
    /// What asked for it.
    trigger: Trigger,
    /// Where it is.
    state: RunState,
    /// Delivery attempts so far.
    attempts: i32,
    /// Why it failed, or the transient error it is retrying after.
    error: Option<String>,
    /// The provider's document id once written.
    remote_id: Option<String>,
    /// The snapshot it publishes.
    snapshot_id: Option<Uuid>,
    /// When it was asked for.
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
    /// When it succeeded or failed.
    finished_at: Option<DateTime<Utc>>,
    /// Its state changes, oldest first: only in GET /runs/{id} and GET /runs?ids=.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    events: Option<Vec<RunEventView>>,
}

/// One state change of a run.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunEventView {
    /// The state entered (or what happened, e.g. a retry or a pause).
    state: String,
    /// When.
    at: DateTime<Utc>,
    /// Detail: error text, remote id, snapshot id, why it waits.
    detail: Option<String>,
}

impl From<&RunEvent> for RunEventView {
    fn from(e: &RunEvent) -> Self {
        Self {
            state: e.state.clone(),
            at: e.at,
            detail: e.detail.clone(),
        }
    }
}

/// A push run or a sync run (`kind: sync`, `tenantId` null, with `counts`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum AnyRun {
    /// A posture push.
    Push(RunView),
    /// A PSA sync.
    Sync(crate::psa::SyncRunView),
}

impl AnyRun {
    fn id(&self) -> Uuid {
        match self {
            AnyRun::Push(r) => r.id,
            AnyRun::Sync(r) => r.id,
        }
    }

    fn with_events(mut self, events: &[RunEvent]) -> Self {
        let events = Some(events.iter().map(RunEventView::from).collect());
        match &mut self {
            AnyRun::Push(r) => r.events = events,
            AnyRun::Sync(r) => r.events = events,
        }
        self
    }
}

/// Runs, newest first (or in the order asked).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunList {
    /// The runs.
    runs: Vec<AnyRun>,
}

pub(crate) fn run_view(run: &Run) -> RunView {
    RunView {
        id: run.id.0,
        tenant_id: run.tenant_id.0,
        provider: run.provider,
        trigger: run.trigger,
        state: run.state,
        attempts: run.attempts,
        error: run.error.clone(),
        remote_id: run.remote_id.clone(),
        snapshot_id: run.snapshot_id.map(|s| s.0),
        created_at: run.created_at,
        updated_at: run.updated_at,
        finished_at: run.finished_at,
        events: None,
    }
}

/// The filters of `GET /integrations/{provider}/runs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this tenant's runs (PSA sync runs belong to no tenant: none match).
    #[param(value_type = Option<String>, format = Uuid, nullable = false)]
    tenant_id: Option<String>,
    /// Only runs in this state.
    #[param(value_type = Option<RunState>, nullable = false)]
    state: Option<String>,
    /// At most this many (100 when left out).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, nullable = false)]
    limit: Option<String>,
}

/// The `{provider}` and `{id}` of `GET /runs/{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct RunIdPath {
    /// The run id.
    #[param(format = Uuid, example = "6a1f0d2e-3b4c-4d5e-8f90-a1b2c3d4e5f6")]
    id: String,
}

#[utoipa::path(
    get,
    path = "/integrations/{provider}/runs",
    operation_id = "listRuns",
    tag = "runs",
    summary = "Runs, newest first: pushes of Hudu and IT Glue, syncs of a PSA",
    description = "Needs the INTEGRATIONS_READ permission. Any other query parameter is a 400 naming it.",
    params(crate::integrations::AnyProviderPath, ListQuery),
    responses(
        (status = 200, description = "the runs", body = RunList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, description = "no such provider", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
        // Sync runs belong to no tenant: none is this tenant's.
        if tenant_id.is_some() {
            return Ok(Json(serde_json::json!({ "runs": [] })));
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
    let list = RunList {
        runs: runs.iter().map(|r| AnyRun::Push(run_view(r))).collect(),
    };
    Ok(Json(
        serde_json::to_value(list).unwrap_or(serde_json::Value::Null),
    ))
}

/// The most ids one `GET /runs?ids=` may ask for.
const MAX_IDS: usize = 500;

/// The query of `GET /runs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ManyQuery {
    /// Up to 500 run ids, separated by commas.
    #[param(
        required = true,
        nullable = false,
        pattern = "^\\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\s*(,\\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\s*){0,499}$",
        example = "6a1f0d2e-3b4c-4d5e-8f90-a1b2c3d4e5f6,0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    )]
    ids: Option<String>,
}

/// `GET /runs?ids=ID,ID,...`: up to 500 runs (pushes and syncs), each as `GET /runs/:id`
/// shows it, in the order asked; unknown ids and other accounts' are left out.
#[utoipa::path(
    get,
    path = "/runs",
    operation_id = "getRuns",
    tag = "runs",
    summary = "Up to 500 runs at once (pushes and syncs), each as GET /runs/{id} shows it, in the order asked; unknown ids and other accounts' runs are left out",
    description = "Needs the INTEGRATIONS_READ permission. For API services watching many runs: one request instead of one per run.",
    params(ManyQuery),
    responses(
        (status = 200, description = "the runs found", body = RunList),
        (status = 400, description = "ids is missing, names more than 500 runs or something that is not a run id (`fields` names ids)", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn many(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ManyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RunList>, ApiError> {
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
    Ok(Json(RunList { runs }))
}

/// The runs of `ids` (pushes and syncs) that belong to the account, each as `GET /runs/:id`
/// shows it (with its events), in the order asked: three queries whatever the count. Also
/// the `run` of a webhook delivery.
pub(crate) async fn views_of(
    store: &docsync_store::Store,
    account: docsync_domain::AccountId,
    ids: &[RunId],
) -> Result<Vec<AnyRun>, docsync_store::StoreError> {
    let mut views: std::collections::HashMap<RunId, AnyRun> = store
        .runs_by_ids(account, ids)
        .await?
        .iter()
        .map(|r| (r.id, AnyRun::Push(run_view(r))))
        .collect();
    for sync in store.sync_runs_by_ids(account, ids).await? {
        views.insert(sync.id, AnyRun::Sync(crate::psa::run_view(&sync)));
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
            let v = views.remove(id)?;
            Some(v.with_events(&events.remove(id).unwrap_or_default()))
        })
        .collect())
}

#[utoipa::path(
    get,
    path = "/runs/{id}",
    operation_id = "getRun",
    tag = "runs",
    summary = "One run (a push or, for a PSA, a sync) with its state changes",
    description = "Needs the INTEGRATIONS_READ permission.",
    params(RunIdPath),
    responses(
        (status = 200, description = "the run: a push run, or a sync run (kind sync)", body = AnyRun),
        (status = 400, description = "the id is not a UUID (`fields` names id)", body = crate::error::ErrorBody),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AnyRun>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let id: RunId = id.parse().map_err(|e: String| ApiError::field("id", e))?;
    let run = match state.store.run(account, id).await? {
        Some(run) => AnyRun::Push(run_view(&run)),
        None => match state.store.sync_run(account, id).await? {
            Some(run) => AnyRun::Sync(crate::psa::run_view(&run)),
            None => return Err(ApiError::NotFound(format!("no run {id} in this account"))),
        },
    };
    debug_assert_eq!(run.id(), id.0);
    let events = state.store.run_events(id).await?;
    Ok(Json(run.with_events(&events)))
}
