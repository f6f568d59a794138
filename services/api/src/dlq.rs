//! `/dlq`: the dead-letter queue as an account sees it: parked messages whose run belongs to
//! the caller's account (a message nobody can decode belongs to no account: operators see
//! those with `docsync dlq list`), and replaying them once the cause is fixed (a run that
//! failed because its job was parked after the delivery limit is reopened for the replay).

use crate::auth::Caller;
use crate::body::JsonObject;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use docsync_domain::{AccountId, RunId};
use docsync_queue::{worker, DeadLetter};
use docsync_store::Permission;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A parked message of one of the account's runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeadLetterView {
    /// Its id, for POST /dlq/replay.
    id: String,
    /// The run it is about.
    run_id: Uuid,
    /// The queue it came from and goes back to on replay.
    queue: String,
    /// Why it was parked.
    reason: String,
    /// When (Unix seconds).
    at: u64,
}

/// The account's parked messages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeadLetterList {
    /// The messages.
    dead_letters: Vec<DeadLetterView>,
}

/// The body of `POST /dlq/replay`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ReplayRequest {
    /// Dead-letter ids from GET /dlq (not null); leave out to replay all of the account's.
    #[schema(nullable = false, max_items = 1000, schema_with = dead_letter_ids)]
    ids: Option<Vec<String>>,
}

/// At most 1000 ids of at most 200 characters.
fn dead_letter_ids() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::schema::Object::builder()
                .schema_type(utoipa::openapi::schema::Type::String)
                .max_length(Some(200)),
        )
        .max_items(Some(1000))
        .description(Some(
            "dead-letter ids from GET /dlq (not null); leave out to replay all of the account's",
        ))
        .build()
        .into()
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReplayResult {
    /// How many messages went back to their queue.
    replayed: usize,
}

/// How many parked messages are looked at per call.
const SCAN: usize = 1000;

/// The run a parked job names, if its body is a job at all.
fn run_of(letter: &DeadLetter) -> Option<RunId> {
    let value: Value = serde_json::from_str(&letter.body).ok()?;
    value.get("runId")?.as_str()?.parse().ok()
}

async fn own_letters(
    state: &AppState,
    account: AccountId,
) -> Result<Vec<(DeadLetter, RunId)>, ApiError> {
    let letters =
        state.broker.dead_letters(SCAN).await.map_err(|e| {
            ApiError::Unavailable(format!("the message broker is unavailable: {e}"))
        })?;
    let mut own = Vec::new();
    for letter in letters {
        if let Some(run) = run_of(&letter) {
            if state.store.run(account, run).await?.is_some() {
                own.push((letter, run));
            }
        }
    }
    Ok(own)
}

#[utoipa::path(
    get,
    path = "/dlq",
    operation_id = "listDeadLetters",
    tag = "dlq",
    summary = "Parked (dead-lettered) messages of the account's runs",
    description = "Needs the INTEGRATIONS_READ permission.",
    responses((status = 200, description = "the parked messages", body = DeadLetterList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<DeadLetterList>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let dead_letters = own_letters(&state, account)
        .await?
        .into_iter()
        .map(|(l, run)| DeadLetterView {
            id: l.id,
            run_id: run.0,
            queue: l.origin,
            reason: l.reason,
            at: l.at,
        })
        .collect();
    Ok(Json(DeadLetterList { dead_letters }))
}

#[utoipa::path(
    post,
    path = "/dlq/replay",
    operation_id = "replayDeadLetters",
    tag = "dlq",
    summary = "Send parked messages back to their queue (all of the account's when ids is left out)",
    description = "Needs the INTEGRATIONS_MANAGE permission. Ids that are not the account's are left alone.",
    request_body(content = ReplayRequest),
    responses(
        (status = 200, description = "how many were replayed", body = ReplayResult),
        (status = 400, response = crate::openapi::BadRequest),
    )
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<ReplayResult>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let mut f = crate::body::Fields::new(&body, &["ids"]);
    f.no_nulls();
    let wanted: Option<Vec<String>> = match f.value("ids") {
        None => None,
        Some(Value::Array(items)) => {
            let ids: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if items.len() > 1000 {
                f.error("ids", "at most 1000 ids per request");
            } else if ids.iter().any(|id| id.chars().count() > 200) {
                f.error(
                    "ids",
                    "a dead-letter id has at most 200 characters: copy them from GET /dlq",
                );
            } else if ids.len() != items.len() {
                f.error(
                    "ids",
                    "must be an array of dead-letter ids (strings) from GET /dlq",
                );
            }
            Some(ids)
        }
        Some(_) => {
            f.error("ids", "must be an array of dead-letter ids (strings) from GET /dlq; leave it out to replay all of yours");
            None
        }
    };
    f.finish()?;
    let chosen: Vec<DeadLetter> = own_letters(&state, account)
        .await?
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| wanted.as_ref().is_none_or(|w| w.contains(&l.id)))
        .collect();
    if chosen.is_empty() {
        return Ok(Json(ReplayResult { replayed: 0 }));
    }
    // A run that failed because its job was parked after the delivery limit is reopened
    // first, so that the replayed job finds it in flight.
    for (run, publishing) in chosen.iter().filter_map(worker::parked_after_limit) {
        state
            .store
            .reopen_parked(run, publishing, worker::PARKED)
            .await?;
    }
    let own: Vec<String> = chosen.into_iter().map(|l| l.id).collect();
    let replayed =
        state.broker.replay_dead_letters(&own).await.map_err(|e| {
            ApiError::Unavailable(format!("the message broker is unavailable: {e}"))
        })?;
    Ok(Json(ReplayResult { replayed }))
}
