//! Hudu: companies and articles under `/api/v1`, `x-api-key` auth with read-only keys, the
//! articles endpoint's fixed 25-row pages, a clock-aligned per-key rate limit that answers 429
//! "Retry later", injectable 502s and latency, and a small `/_sandbox` control surface.

mod store;

pub(crate) use store::HuduStore;

use crate::fixtures::hudu_company_name;
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
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows per page of `/articles`, whatever `page_size` says.
const ARTICLES_PAGE: usize = 25;
/// Default and maximum `page_size` of `/companies`.
const COMPANIES_PAGE: (usize, usize) = (25, 100);

type Params = Query<HashMap<String, String>>;

/// Routes of the Hudu port.
pub(crate) fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route("/api_info", get(api_info))
        .route("/companies", get(companies))
        .route("/companies/{id}", get(company))
        .route("/articles", get(articles).post(create_article))
        .route("/articles/{id}", get(article).put(update_article))
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

fn mutex<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Latency, counting, auth, rate limit, write scope and 502 faults, in that order.
async fn gate(AxState(state): AxState<Arc<State>>, req: Request, next: Next) -> Response {
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

fn company_json(state: &State, id: u64) -> Value {
    let name = hudu_company_name(id);
    let slug: String = name
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = format!("{slug}-{id:x}");
    json!({
        "id": id,
        "name": name,
        "nickname": null,
        "slug": slug,
        "company_type": "Customer",
        "id_number": format!("C{id:05}"),
        "parent_company_id": null,
        "parent_company_name": null,
        "address_line_1": format!("{} Collins Street", id + 10),
        "city": "Melbourne",
        "state": "VIC",
        "zip": "3000",
        "country_name": "Australia",
        "phone_number": format!("+61 3 9000 {id:04}"),
        "website": null,
        "notes": "",
        "archived": false,
        "object_type": "Company",
        "url": format!("/c/{slug}"),
        "full_url": format!("{}/c/{slug}", state.hudu_url),
        "created_at": "2022-07-01T00:00:00.000Z",
        "updated_at": "2024-02-01T00:00:00.000Z",
    })
}

fn company_exists(state: &State, id: u64) -> bool {
    id >= 1 && id <= state.config.hudu_companies as u64
}

async fn api_info() -> Json<Value> {
    Json(json!({"version": "2.37.1", "date": "2025-05-01"}))
}

async fn companies(AxState(state): AxState<Arc<State>>, Query(q): Params) -> Json<Value> {
    let needle = q
        .get("name")
        .or_else(|| q.get("search"))
        .map(|n| n.to_lowercase());
    let size = param(&q, "page_size")
        .unwrap_or(COMPANIES_PAGE.0)
        .clamp(1, COMPANIES_PAGE.1);
    let ids: Vec<u64> = (1..=state.config.hudu_companies as u64)
        .filter(|id| {
            needle
                .as_deref()
                .is_none_or(|n| hudu_company_name(*id).to_lowercase().contains(n))
        })
        .collect();
    let page = page_of(&ids, param(&q, "page").unwrap_or(1), size);
    Json(
        json!({"companies": page.into_iter().map(|id| company_json(&state, id)).collect::<Vec<_>>()}),
    )
}

async fn company(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(id) if company_exists(&state, id) => {
            Json(json!({"company": company_json(&state, id)})).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "Record not found"),
    }
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
    company_id: Option<u64>,
    folder_id: Option<Option<u64>>,
}

fn parse_article(
    state: &State,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<ArticleInput, (StatusCode, String)> {
    let Json(body) = body.map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON: {}", e.body_text()),
        )
    })?;
    let a = body.get("article").filter(|a| a.is_object()).ok_or((
        StatusCode::BAD_REQUEST,
        "param is missing or the value is empty: article".into(),
    ))?;
    let number = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let name = a
        .get("name")
        .map(|n| n.as_str().unwrap_or_default().trim().to_string());
    if name.as_deref() == Some("") {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Name can't be blank".into(),
        ));
    }
    let company_id = match a.get("company_id") {
        None => None,
        Some(v) => match number(v) {
            Some(id) if company_exists(state, id) => Some(id),
            _ => {
                return Err((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Company must exist".into(),
                ))
            }
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

async fn create_article(
    AxState(state): AxState<Arc<State>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let input = match parse_article(&state, body) {
        Ok(input) => input,
        Err((status, message)) => return error(status, &message),
    };
    let Some(name) = input.name else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Name can't be blank");
    };
    let Some(company_id) = input.company_id else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Company must exist");
    };
    let mut store = mutex(&state.hudu);
    let id = store.create(
        company_id,
        &name,
        input.content.as_deref().unwrap_or_default(),
        input.folder_id.flatten(),
    );
    state.hudu_writes.fetch_add(1, Ordering::Relaxed);
    Json(json!({"article": store.json(id, &state.hudu_url)})).into_response()
}

async fn update_article(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    if mutex(&state.hudu).json(id, &state.hudu_url).is_none() {
        return error(StatusCode::NOT_FOUND, "Record not found");
    }
    let input = match parse_article(&state, body) {
        Ok(input) => input,
        Err((status, message)) => return error(status, &message),
    };
    let mut store = mutex(&state.hudu);
    if !store.update(
        id,
        input.company_id,
        input.name.as_deref(),
        input.content.as_deref(),
        input.folder_id,
    ) {
        return error(StatusCode::NOT_FOUND, "Record not found");
    }
    state.hudu_writes.fetch_add(1, Ordering::Relaxed);
    Json(json!({"article": store.json(id, &state.hudu_url)})).into_response()
}

async fn sandbox_articles(AxState(state): AxState<Arc<State>>) -> Json<Value> {
    Json(json!(state.hudu_articles()))
}

async fn sandbox_stats(AxState(state): AxState<Arc<State>>) -> Json<Value> {
    Json(json!({"hudu": state.hudu_stats(), "graph": state.graph_stats()}))
}
