//! Hudu: companies (create, update, archive), asset layouts, assets and knowledge-base articles
//! (per company or global) under `/api/v1`, `x-api-key` auth with read-only keys, the articles
//! endpoint's fixed 25-row pages, a clock-aligned per-key rate limit that answers 429 "Retry
//! later", injectable 502s and latency, and a small `/_sandbox` control surface.
//!
//! Every `/api/v1` route sits behind one gate (latency, counting, auth, rate limit, write
//! scope, 502 faults). The data lives in one [`HuduStore`] behind one lock: articles here,
//! companies in [`companies`], asset layouts in [`layouts`], assets in [`assets`].

mod access;
mod assets;
mod companies;
mod layouts;
mod store;

pub use assets::HuduAsset;
pub use companies::HuduCompany;
pub use layouts::{HuduLayout, HuduLayoutField};
pub(crate) use store::HuduStore;

use crate::ratelimit::Verdict;
use crate::state::State;
use crate::KeyScope;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows per page of `/articles`, whatever `page_size` says.
const ARTICLES_PAGE: usize = 25;

type Params = Query<HashMap<String, String>>;
/// A JSON request body, or why it could not be read.
type Body = Result<Json<Value>, JsonRejection>;

/// Routes of the Hudu port.
pub(crate) fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route("/api_info", get(api_info))
        .route("/articles", get(articles).post(create_article))
        .route("/articles/{id}", get(article).put(update_article))
        .merge(companies::routes())
        .merge(layouts::routes())
        .merge(assets::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .nest("/api/v1", api)
        .route("/_sandbox/articles", get(sandbox_articles))
        .route("/_sandbox/stats", get(sandbox_stats))
        .with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// An error answer: a status and Hudu's `{"error": message}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 404 "Record not found".
    pub(crate) fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: "Record not found".into(),
        }
    }

    /// 422 with `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, &self.message)
    }
}

/// What a handler answers: JSON or an error.
pub(crate) type Reply = Result<Json<Value>, ApiError>;

fn mutex<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a successful write changed, for the per-kind counters of [`crate::HuduStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// An article.
    Article,
    /// An asset.
    Asset,
    /// A company.
    Company,
    /// An asset layout.
    Layout,
}

/// Successful writes per kind (the total, articles included, is `State::hudu_writes`).
#[derive(Debug, Default)]
pub(crate) struct HuduWriteCounters {
    /// Asset creates, updates, archives and unarchives.
    pub(crate) assets: AtomicU64,
    /// Company creates, updates, archives and unarchives.
    pub(crate) companies: AtomicU64,
    /// Asset layout creates and updates.
    pub(crate) layouts: AtomicU64,
}

/// Counts one successful write in the total and in its kind's counter.
fn count_write(state: &State, kind: WriteKind) {
    state.hudu_writes.fetch_add(1, Ordering::Relaxed);
    let counters = &state.hudu_kind_writes;
    let counter = match kind {
        WriteKind::Article => return,
        WriteKind::Asset => &counters.assets,
        WriteKind::Company => &counters.companies,
        WriteKind::Layout => &counters.layouts,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Latency, counting, auth, rate limit, write scope and 502 faults, in that order.
async fn gate(AxState(state): AxState<Arc<State>>, req: Request, next: Next) -> Response {
    state.hudu_arrivals.fetch_add(1, Ordering::Relaxed);
    let latency = state.faults.hudu_latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    state.hudu_requests.fetch_add(1, Ordering::Relaxed);
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Some(scope) = state
        .config
        .hudu_keys
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, s)| *s)
    else {
        return error(StatusCode::UNAUTHORIZED, "Invalid API key");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let verdict = state.hudu_limiter.check(&key, now);
    if let Verdict::Refused { retry_after } = verdict {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/plain")],
            "Retry later\n",
        )
            .into_response();
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return r;
    }
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if write && scope == KeyScope::ReadOnly {
        return error(
            StatusCode::FORBIDDEN,
            "This API key does not have write access",
        );
    }
    if state.faults.next_hudu_fails() {
        return (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response();
    }
    let mut response = next.run(req).await;
    if let Verdict::Allowed { limit, remaining } = verdict {
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    response
}

fn param<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> Option<T> {
    q.get(key).and_then(|v| v.trim().parse().ok())
}

fn page_of<T: Clone>(items: &[T], page: usize, size: usize) -> Vec<T> {
    let start = page.max(1).saturating_sub(1).saturating_mul(size);
    items.iter().skip(start).take(size).cloned().collect()
}

/// How many rows a page skips: `page` (1-based; absent, 0 or garbage = 1) times `size`.
fn page_start(q: &HashMap<String, String>, size: usize) -> usize {
    param::<usize>(q, "page")
        .unwrap_or(1)
        .max(1)
        .saturating_sub(1)
        .saturating_mul(size)
}

/// `page_size` clamped to `1..=max`, `default` when absent or not a number.
fn page_size(q: &HashMap<String, String>, default: usize, max: usize) -> usize {
    param(q, "page_size").unwrap_or(default).clamp(1, max)
}

/// The `archived` filter: `true` lists archived records only, anything else unarchived ones.
fn archived_filter(q: &HashMap<String, String>) -> bool {
    q.get("archived")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

/// A numeric id filter: `None` when absent, `Some(None)` when given but not a number (which
/// matches nothing).
fn id_filter(q: &HashMap<String, String>, key: &str) -> Option<Option<u64>> {
    q.get(key).map(|v| v.trim().parse().ok())
}

/// A numeric path segment; anything else is a 404.
fn path_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The object under `root` in a request body (`{"company": {...}}`); 400 when the body is not
/// JSON or has no such object, as Rails answers a missing required param.
fn root_object(body: Body, root: &str) -> Result<Map<String, Value>, ApiError> {
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("Invalid JSON: {}", e.body_text())))?;
    match body {
        Value::Object(mut outer) => match outer.remove(root) {
            Some(Value::Object(inner)) => Ok(inner),
            _ => Err(ApiError::bad_request(format!(
                "param is missing or the value is empty: {root}"
            ))),
        },
        _ => Err(ApiError::bad_request(format!(
            "param is missing or the value is empty: {root}"
        ))),
    }
}

/// A number, or a string holding one.
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A text attribute: strings as given, numbers and booleans spelled out, `null` as `None`;
/// arrays and objects are a 422 naming `key`.
fn text(key: &str, v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(ApiError::invalid(format!("{key} must be a string"))),
    }
}

/// A boolean attribute as Rails casts it: `true`/`false`, `"true"`/`"false"`, `1`/`0`,
/// `"1"`/`"0"`; `null` is false; anything else is a 422 naming `key`.
fn flag(key: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "t" => Ok(true),
            "false" | "0" | "f" | "" => Ok(false),
            _ => Err(ApiError::invalid(format!("{key} must be true or false"))),
        },
        _ => Err(ApiError::invalid(format!("{key} must be true or false"))),
    }
}

/// A required name: present, a string, not blank once trimmed (422 "Name can't be blank").
fn required_name(v: Option<&Value>) -> Result<String, ApiError> {
    optional_name(v)?.ok_or_else(|| ApiError::invalid("Name can't be blank"))
}

/// A name that may be left out; given, it must not be blank.
fn optional_name(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(v) => {
            let name = v.as_str().unwrap_or_default().trim();
            if name.is_empty() {
                Err(ApiError::invalid("Name can't be blank"))
            } else {
                Ok(Some(name.to_string()))
            }
        }
    }
}

/// `text` lowercased, runs of anything but ASCII letters and digits collapsed to one `-`,
/// then `-` and `id` in hex: Hudu's slugs.
fn slug(text: &str, id: u64) -> String {
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    format!("{}-{id:x}", words.join("-"))
}

async fn api_info() -> Json<Value> {
    Json(json!({"version": "2.37.1", "date": "2025-05-01"}))
}

async fn articles(AxState(state): AxState<Arc<State>>, Query(q): Params) -> Json<Value> {
    let all = mutex(&state.hudu).search(
        param(&q, "company_id"),
        q.get("name").map(String::as_str),
        &state.hudu_url,
    );
    Json(json!({"articles": page_of(&all, param(&q, "page").unwrap_or(1), ARTICLES_PAGE)}))
}

async fn article(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    let found = id
        .parse()
        .ok()
        .and_then(|id| mutex(&state.hudu).json(id, &state.hudu_url));
    match found {
        Some(a) => Json(json!({"article": a})).into_response(),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

/// The fields of an article body.
struct ArticleInput {
    name: Option<String>,
    content: Option<String>,
    /// `Some(0)`: global (`company_id` null); `None`: not given.
    company_id: Option<u64>,
    folder_id: Option<Option<u64>>,
}

fn parse_article(state: &State, body: Body) -> Result<ArticleInput, ApiError> {
    let a = root_object(body, "article")?;
    let name = a
        .get("name")
        .map(|n| n.as_str().unwrap_or_default().trim().to_string());
    if name.as_deref() == Some("") {
        return Err(ApiError::invalid("Name can't be blank"));
    }
    let company_id = match a.get("company_id") {
        None => None,
        Some(Value::Null) => Some(0),
        Some(v) => match number(v) {
            Some(id) if mutex(&state.hudu).companies.exists(id) => Some(id),
            _ => return Err(ApiError::invalid("Company must exist")),
        },
    };
    Ok(ArticleInput {
        name,
        content: a
            .get("content")
            .map(|c| c.as_str().unwrap_or_default().to_string()),
        company_id,
        folder_id: a.get("folder_id").map(number),
    })
}

async fn create_article(AxState(state): AxState<Arc<State>>, body: Body) -> Reply {
    let input = parse_article(&state, body)?;
    let name = input
        .name
        .ok_or_else(|| ApiError::invalid("Name can't be blank"))?;
    let mut store = mutex(&state.hudu);
    let id = store.create(
        input.company_id.unwrap_or(0),
        &name,
        input.content.as_deref().unwrap_or_default(),
        input.folder_id.flatten(),
    );
    count_write(&state, WriteKind::Article);
    Ok(Json(json!({"article": store.json(id, &state.hudu_url)})))
}

async fn update_article(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<String>,
    body: Body,
) -> Reply {
    let id = path_id(&id)?;
    if mutex(&state.hudu).json(id, &state.hudu_url).is_none() {
        return Err(ApiError::not_found());
    }
    let input = parse_article(&state, body)?;
    let mut store = mutex(&state.hudu);
    if !store.update(
        id,
        input.company_id,
        input.name.as_deref(),
        input.content.as_deref(),
        input.folder_id,
    ) {
        return Err(ApiError::not_found());
    }
    count_write(&state, WriteKind::Article);
    Ok(Json(json!({"article": store.json(id, &state.hudu_url)})))
}

async fn sandbox_articles(AxState(state): AxState<Arc<State>>) -> Json<Value> {
    Json(json!(state.hudu_articles()))
}

async fn sandbox_stats(AxState(state): AxState<Arc<State>>) -> Json<Value> {
    Json(json!({"hudu": state.hudu_stats(), "graph": state.graph_stats()}))
}
