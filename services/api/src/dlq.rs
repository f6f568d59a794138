//! `/dlq`: the dead-letter queue as an account sees it: parked messages whose run belongs to
//! the caller's account (a message nobody can decode belongs to no account: operators see
//! those with `docsync dlq list`), and replaying them once the cause is fixed.

use crate::auth::Caller;
use crate::body::JsonObject;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use docsync_domain::{AccountId, RunId};
use docsync_queue::DeadLetter;
use docsync_store::Permission;
use serde_json::{json, Value};

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

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let letters: Vec<Value> = own_letters(&state, account)
        .await?
        .into_iter()
        .map(|(l, run)| json!({"id": l.id, "runId": run, "queue": l.origin, "reason": l.reason, "at": l.at}))
        .collect();
    Ok(Json(json!({ "deadLetters": letters })))
}

pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsManage)?;
    let mut f = crate::body::Fields::new(&body, &["ids"]);
    let wanted: Option<Vec<String>> = match f.value("ids") {
        None => None,
        Some(Value::Array(items)) => {
            let ids: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if ids.len() != items.len() {
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
    let own: Vec<String> = own_letters(&state, account)
        .await?
        .into_iter()
        .map(|(l, _)| l.id)
        .filter(|id| wanted.as_ref().is_none_or(|w| w.contains(id)))
        .collect();
    if own.is_empty() {
        return Ok(Json(json!({"replayed": 0})));
    }
    let replayed =
        state.broker.replay_dead_letters(&own).await.map_err(|e| {
            ApiError::Unavailable(format!("the message broker is unavailable: {e}"))
        })?;
    Ok(Json(json!({ "replayed": replayed })))
}
