//! IT Glue: organizations, flexible asset types (with their fields, which
//! `POST /flexible_asset_fields` adds to) and flexible assets as JSON:API documents at the API
//! root, one port per region (us, eu, au).
//!
//! Keys are bound to a region: a key used on another region's port answers 401. Every key is
//! its own MSP account with its own store; organizations are the same synthetic set for all.
//! Every list pages with `page[number]` / `page[size]` (max 1000) and filters match exactly.
//! Each key may make at most `per_second` requests in any sliding second and `per_five_minutes`
//! per clock-aligned five-minute window; beyond that it gets 429 (with `Retry-After` only when
//! configured, as IT Glue documents none). Injected 429s, 502s and latency, and a small
//! `/_sandbox` control surface, complete it.

mod limit;
mod store;

use crate::faults::ItGlueFault;
use crate::fixtures::hudu_company_name;
use crate::state::State;
use crate::{
    itglue_key, ItGlueAsset, ItGlueAssetType, ItGlueLimit, ItGlueRegion, ItGlueStats, SandboxConfig,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use limit::{KeyWindows, Verdict};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{as_id, parse_asset, AssetInput, ItGlueStore, Rejected};

/// JSON:API's media type, for requests and answers.
const JSON_API: &str = "application/vnd.api+json";
/// Default and maximum `page[size]`.
const PAGE_SIZE: (usize, usize) = (50, 1000);

type Params = Query<HashMap<String, String>>;

fn mutex<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One API key's MSP account: its region, its store, its budget and its counters.
#[derive(Debug)]
pub(crate) struct Account {
    region: ItGlueRegion,
    store: Mutex<ItGlueStore>,
    windows: Mutex<KeyWindows>,
    requests: AtomicU64,
    writes: AtomicU64,
    rejected_429: AtomicU64,
}

impl Account {
    fn new(region: ItGlueRegion) -> Self {
        Account {
            region,
            store: Mutex::new(ItGlueStore::default()),
            windows: Mutex::new(KeyWindows::default()),
            requests: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            rejected_429: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> ItGlueStats {
        let windows = mutex(&self.windows);
        let (max_requests_in_any_second, requests_during_retry_after) = windows.stats();
        let span = windows.active_span();
        ItGlueStats {
            first_request_ms: span.map(|s| s.first_ms),
            last_request_ms: span.map(|s| s.last_ms),
            requests: self.requests.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            rejected_429: self.rejected_429.load(Ordering::Relaxed),
            max_requests_in_any_second,
            requests_during_retry_after,
        }
    }

    fn reset_stats(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.writes.store(0, Ordering::Relaxed);
        self.rejected_429.store(0, Ordering::Relaxed);
        mutex(&self.windows).reset_stats();
    }
}

/// Every IT Glue account (by key), the shared limit and the request counter.
#[derive(Debug)]
pub(crate) struct ItGlue {
    accounts: HashMap<String, Arc<Account>>,
    limit: Mutex<Option<ItGlueLimit>>,
    requests: AtomicU64,
    organizations: u64,
    /// `(name, resource)` of organization `i + 1` at `i`, built on first use.
    organization_cache: OnceLock<Vec<(String, Value)>>,
}

impl ItGlue {
    /// The accounts of the configured and generated keys.
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        let mut accounts = HashMap::new();
        for k in &config.itglue_keys {
            accounts.insert(k.key.clone(), Arc::new(Account::new(k.region)));
        }
        for region in ItGlueRegion::ALL {
            for n in 0..config.itglue_generated_keys {
                accounts.insert(itglue_key(region, n), Arc::new(Account::new(region)));
            }
        }
        ItGlue {
            accounts,
            limit: Mutex::new(config.itglue_rate_limit),
            requests: AtomicU64::new(0),
            organizations: config.itglue_organizations as u64,
            organization_cache: OnceLock::new(),
        }
    }

    /// Every organization as `(name, resource)`, by id.
    fn organization_list(&self) -> &[(String, Value)] {
        self.organization_cache.get_or_init(|| {
            (1..=self.organizations)
                .map(|id| (hudu_company_name(id), organization_json(id)))
                .collect()
        })
    }

    /// Organization `id` as a resource.
    fn organization(&self, id: u64) -> Option<&Value> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.organization_list().get(index).map(|(_, v)| v)
    }

    fn limit(&self) -> Option<ItGlueLimit> {
        *mutex(&self.limit)
    }

    /// Changes the limit; current windows are kept.
    pub(crate) fn set_limit(&self, limit: Option<ItGlueLimit>) {
        *mutex(&self.limit) = limit;
    }

    /// Counters over every key.
    pub(crate) fn stats(&self) -> ItGlueStats {
        let mut total = ItGlueStats {
            requests: self.requests.load(Ordering::Relaxed),
            ..ItGlueStats::default()
        };
        for account in self.accounts.values() {
            let s = account.stats();
            total.writes += s.writes;
            total.rejected_429 += s.rejected_429;
            total.max_requests_in_any_second = total
                .max_requests_in_any_second
                .max(s.max_requests_in_any_second);
            total.requests_during_retry_after += s.requests_during_retry_after;
        }
        total
    }

    /// Counters of one key.
    pub(crate) fn key_stats(&self, key: &str) -> Option<ItGlueStats> {
        self.accounts.get(key).map(|a| a.stats())
    }

    /// Zeroes every counter.
    pub(crate) fn reset_stats(&self) {
        self.requests.store(0, Ordering::Relaxed);
        for account in self.accounts.values() {
            account.reset_stats();
        }
    }

    /// The assets of `key`'s account.
    pub(crate) fn assets(&self, key: &str) -> Vec<ItGlueAsset> {
        self.accounts
            .get(key)
            .map(|a| mutex(&a.store).assets().cloned().collect())
            .unwrap_or_default()
    }

    /// The asset types of `key`'s account.
    pub(crate) fn asset_types(&self, key: &str) -> Vec<ItGlueAssetType> {
        self.accounts
            .get(key)
            .map(|a| mutex(&a.store).types().cloned().collect())
            .unwrap_or_default()
    }

    fn account_for_seeding(&self, key: &str) -> anyhow::Result<&Arc<Account>> {
        self.accounts
            .get(key)
            .ok_or_else(|| anyhow::anyhow!("unknown IT Glue key {key:?}"))
    }

    /// Creates a type without counting it.
    pub(crate) fn seed_type(&self, key: &str, document: &Value) -> anyhow::Result<ItGlueAssetType> {
        let account = self.account_for_seeding(key)?;
        let mut store = mutex(&account.store);
        let id = store
            .create_type(document)
            .map_err(|e| anyhow::anyhow!("flexible asset type refused: {e}"))?;
        store
            .asset_type(id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("flexible asset type {id} vanished"))
    }

    /// Creates an asset without counting it.
    pub(crate) fn seed_asset(
        &self,
        key: &str,
        organization_id: u64,
        flexible_asset_type_id: u64,
        traits: Map<String, Value>,
    ) -> anyhow::Result<u64> {
        let account = self.account_for_seeding(key)?;
        let input = AssetInput {
            organization_id: Some(organization_id),
            flexible_asset_type_id: Some(flexible_asset_type_id),
            traits,
        };
        mutex(&account.store)
            .create_asset(input, self.organizations)
            .map_err(|e| anyhow::anyhow!("flexible asset refused: {e}"))
    }
}

/// What the routes of one region's port share.
#[derive(Debug)]
pub(crate) struct Port {
    state: Arc<State>,
    region: ItGlueRegion,
    url: String,
}

impl Port {
    fn itglue(&self) -> &ItGlue {
        &self.state.itglue
    }
}

/// Routes of one region's port.
pub(crate) fn router(state: Arc<State>, region: ItGlueRegion, url: String) -> Router {
    let port = Arc::new(Port { state, region, url });
    let api = Router::new()
        .route("/organizations", get(organizations))
        .route("/organizations/{id}", get(organization))
        .route("/flexible_asset_types", get(asset_types).post(create_type))
        .route("/flexible_asset_types/{id}", get(asset_type))
        .route(
            "/flexible_asset_types/{id}/relationships/flexible_asset_fields",
            get(type_fields),
        )
        .route("/flexible_asset_fields", get(fields).post(create_field))
        .route("/flexible_assets", get(assets).post(create_asset))
        .route("/flexible_assets/{id}", get(asset).patch(update_asset))
        .route_layer(middleware::from_fn_with_state(port.clone(), gate));
    Router::new()
        .route("/_sandbox/stats", get(sandbox_stats))
        .route("/_sandbox/assets", get(sandbox_assets))
        .route("/_sandbox/asset_types", get(sandbox_asset_types))
        .merge(api)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
        .with_state(port)
}

/// A JSON:API document with IT Glue's media type.
fn document(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_API));
    r
}

fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Record Not Found",
        s => s.canonical_reason().unwrap_or("Error"),
    }
}

/// A JSON:API `errors` document with one error.
fn error(status: StatusCode, detail: &str) -> Response {
    document(
        status,
        json!({"errors": [{
            "status": status.as_str(),
            "title": title(status),
            "detail": detail,
        }]}),
    )
}

/// The answer to a refused write.
fn rejected(r: Rejected) -> Response {
    match r {
        Rejected::BadRequest(detail) => error(StatusCode::BAD_REQUEST, &detail),
        Rejected::NotFound => error(StatusCode::NOT_FOUND, "Record not found"),
        Rejected::Invalid(list) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let errors: Vec<Value> = list
                .into_iter()
                .map(|i| {
                    json!({
                        "status": status.as_str(),
                        "title": "Invalid Attribute",
                        "detail": i.detail,
                        "source": {"pointer": i.pointer},
                    })
                })
                .collect();
            document(status, json!({ "errors": errors }))
        }
    }
}

fn too_many(retry_after: Option<u64>) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded: too many requests for this API key",
    );
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether a request's `Content-Type` is JSON:API's (parameters ignored).
fn is_json_api(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(JSON_API))
}

/// Latency, counting, auth and region, arrival statistics, injected faults, the rate limit
/// and the request media type, in that order; the account goes to the handler as an extension.
async fn gate(AxState(port): AxState<Arc<Port>>, mut req: Request, next: Next) -> Response {
    let latency = port.state.faults.itglue_latency_ms();
    let arrived = crate::faults::arrival_of(&req) + Duration::from_millis(latency);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let itglue = port.itglue();
    itglue.requests.fetch_add(1, Ordering::Relaxed);
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    if key.is_empty() {
        return error(
            StatusCode::UNAUTHORIZED,
            "No API key given: send it in the x-api-key header",
        );
    }
    let Some(account) = itglue.accounts.get(key).cloned() else {
        return error(StatusCode::UNAUTHORIZED, "Invalid API key");
    };
    if account.region != port.region {
        let detail = format!(
            "This API key belongs to the {} region; it is not valid on the {} host",
            account.region, port.region
        );
        return error(StatusCode::UNAUTHORIZED, &detail);
    }
    account.requests.fetch_add(1, Ordering::Relaxed);
    let fault = port.state.faults.next_itglue();
    let limit = itglue.limit();
    let now = arrived;
    let admission = {
        let mut windows = mutex(&account.windows);
        windows.arrive(now);
        match fault {
            Some(ItGlueFault::Throttle { retry_after }) => {
                if let Some(secs) = retry_after {
                    windows.told_to_wait(now, secs);
                }
                drop(windows);
                account.rejected_429.fetch_add(1, Ordering::Relaxed);
                return too_many(retry_after);
            }
            Some(ItGlueFault::BadGateway) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                )
                    .into_response();
            }
            None => windows.admit(limit, now, unix_secs()),
        }
    };
    if let Verdict::Refused { retry_after } = admission {
        account.rejected_429.fetch_add(1, Ordering::Relaxed);
        return too_many(retry_after);
    }
    let has_body = matches!(*req.method(), Method::POST | Method::PATCH | Method::PUT);
    if has_body && !is_json_api(req.headers()) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/vnd.api+json",
        );
    }
    req.extensions_mut().insert(account);
    let mut response = next.run(req).await;
    if let Verdict::Allowed { limit, remaining } = admission {
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    response
}

fn param<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> Option<T> {
    q.get(key).and_then(|v| v.trim().parse().ok())
}

/// An exact-match filter: `None` when absent (or empty), else the wanted value.
fn filter<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(&format!("filter[{name}]"))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// An id filter: a comma-separated list of ids; non-numeric entries match nothing.
fn id_filter(q: &HashMap<String, String>, name: &str) -> Option<Vec<u64>> {
    filter(q, name).map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
}

/// Percent-encodes a query component (everything but RFC 3986's unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of `items` as a JSON:API list document with `meta` and `links`.
fn paged<T>(
    port: &Port,
    path: &str,
    q: &HashMap<String, String>,
    items: &[T],
    render: impl Fn(&T) -> Value,
) -> Response {
    let size = param::<usize>(q, "page[size]")
        .filter(|s| *s > 0)
        .unwrap_or(PAGE_SIZE.0)
        .min(PAGE_SIZE.1);
    let number = param::<usize>(q, "page[number]")
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let total = items.len();
    let total_pages = total.div_ceil(size);
    let start = (number - 1).saturating_mul(size);
    let data: Vec<Value> = items.iter().skip(start).take(size).map(render).collect();
    let mut rest: Vec<(&String, &String)> =
        q.iter().filter(|(k, _)| !k.starts_with("page[")).collect();
    rest.sort();
    let link = |n: usize| {
        let mut query: Vec<String> = rest
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("{}={n}", encode("page[number]")));
        query.push(format!("{}={size}", encode("page[size]")));
        format!("{}{path}?{}", port.url, query.join("&"))
    };
    let next_page = (number < total_pages).then_some(number + 1);
    let prev_page = (number > 1).then(|| (number - 1).min(total_pages.max(1)));
    let mut links = Map::new();
    links.insert("self".into(), json!(link(number)));
    links.insert("first".into(), json!(link(1)));
    if let Some(p) = prev_page {
        links.insert("prev".into(), json!(link(p)));
    }
    if let Some(n) = next_page {
        links.insert("next".into(), json!(link(n)));
    }
    links.insert("last".into(), json!(link(total_pages.max(1))));
    document(
        StatusCode::OK,
        json!({
            "data": data,
            "meta": {
                "current-page": number,
                "next-page": next_page,
                "prev-page": prev_page,
                "total-pages": total_pages,
                "total-count": total,
                "filters": {},
            },
            "links": links,
        }),
    )
}

fn organization_json(id: u64) -> Value {
    let name = hudu_company_name(id);
    let short: String = name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    json!({
        "id": id.to_string(),
        "type": "organizations",
        "attributes": {
            "name": name,
            "description": null,
            "organization-type-id": 1,
            "organization-type-name": "Customer",
            "organization-status-id": 1,
            "organization-status-name": "Active",
            "short-name": format!("{short}{id}"),
            "primary": false,
            "quick-notes": null,
            "alert": null,
            "my-glue-account-id": null,
            "created-at": "2022-07-01T00:00:00.000Z",
            "updated-at": "2024-02-01T00:00:00.000Z",
        },
    })
}

async fn organizations(AxState(port): AxState<Arc<Port>>, Query(q): Params) -> Response {
    let ids = id_filter(&q, "id");
    let name = filter(&q, "name");
    let all = port.itglue().organization_list();
    let matching: Vec<&Value> = (1..)
        .zip(all)
        .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
        .filter(|(_, (n, _))| name.is_none_or(|name| n == name))
        .map(|(_, (_, resource))| resource)
        .collect();
    paged(&port, "/organizations", &q, &matching, |r| (*r).clone())
}

async fn organization(AxState(port): AxState<Arc<Port>>, Path(id): Path<String>) -> Response {
    match id
        .parse()
        .ok()
        .and_then(|id| port.itglue().organization(id))
    {
        Some(resource) => document(StatusCode::OK, json!({ "data": resource })),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn asset_types(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    Query(q): Params,
) -> Response {
    let ids = id_filter(&q, "id");
    let name = filter(&q, "name");
    let store = mutex(&account.store);
    let matching: Vec<&ItGlueAssetType> = store
        .types()
        .filter(|t| ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .filter(|t| name.is_none_or(|n| t.name == n))
        .collect();
    paged(&port, "/flexible_asset_types", &q, &matching, |t| {
        store.type_json(t)
    })
}

/// `?include=flexible_asset_fields` adds the fields as `included` resources.
fn wants_fields(q: &HashMap<String, String>) -> bool {
    q.get("include").is_some_and(|i| {
        i.split(',')
            .any(|s| s.trim().replace('-', "_") == "flexible_asset_fields")
    })
}

fn type_document(store: &ItGlueStore, t: &ItGlueAssetType, include: bool) -> Value {
    let mut body = json!({"data": store.type_json(t)});
    if include {
        body["included"] = t
            .fields
            .iter()
            .map(|f| ItGlueStore::field_json(t, f))
            .collect();
    }
    body
}

async fn asset_type(
    Extension(account): Extension<Arc<Account>>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let store = mutex(&account.store);
    match id.parse().ok().and_then(|id| store.asset_type(id)) {
        Some(t) => document(StatusCode::OK, type_document(&store, t, wants_fields(&q))),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

/// Parses a request body as JSON.
fn parse_body(body: &Bytes) -> Result<Value, Rejected> {
    serde_json::from_slice(body).map_err(|e| Rejected::BadRequest(format!("Malformed JSON: {e}")))
}

async fn create_type(
    Extension(account): Extension<Arc<Account>>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let doc = match parse_body(&body) {
        Ok(doc) => doc,
        Err(r) => return rejected(r),
    };
    let mut store = mutex(&account.store);
    match store.create_type(&doc) {
        Ok(id) => {
            account.writes.fetch_add(1, Ordering::Relaxed);
            match store.asset_type(id) {
                Some(t) => document(
                    StatusCode::CREATED,
                    type_document(&store, t, wants_fields(&q)),
                ),
                None => error(StatusCode::NOT_FOUND, "Record not found"),
            }
        }
        Err(r) => rejected(r),
    }
}

async fn fields(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    Query(q): Params,
) -> Response {
    let types = id_filter(&q, "flexible_asset_type_id");
    let store = mutex(&account.store);
    let matching: Vec<(&ItGlueAssetType, usize)> = store
        .types()
        .filter(|t| types.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .flat_map(|t| (0..t.fields.len()).map(move |i| (t, i)))
        .collect();
    paged(&port, "/flexible_asset_fields", &q, &matching, |(t, i)| {
        ItGlueStore::field_json(t, &t.fields[*i])
    })
}

/// `POST /flexible_asset_fields`: adds a field to an existing type (`flexible-asset-type-id`
/// among the attributes); 201 with the field, 404 for an unknown type, 422 for a bad field.
async fn create_field(Extension(account): Extension<Arc<Account>>, body: Bytes) -> Response {
    let doc = match parse_body(&body) {
        Ok(doc) => doc,
        Err(r) => return rejected(r),
    };
    let mut store = mutex(&account.store);
    match store.create_field(&doc) {
        Ok((type_id, field_id)) => {
            account.writes.fetch_add(1, Ordering::Relaxed);
            let field = store.asset_type(type_id).and_then(|t| {
                let f = t.fields.iter().find(|f| f.id == field_id)?;
                Some(ItGlueStore::field_json(t, f))
            });
            match field {
                Some(f) => document(StatusCode::CREATED, json!({ "data": f })),
                None => error(StatusCode::NOT_FOUND, "Record not found"),
            }
        }
        Err(r) => rejected(r),
    }
}

async fn type_fields(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let store = mutex(&account.store);
    let Some(t) = id.parse().ok().and_then(|id| store.asset_type(id)) else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    let path = format!(
        "/flexible_asset_types/{}/relationships/flexible_asset_fields",
        t.id
    );
    paged(&port, &path, &q, &t.fields, |f| {
        ItGlueStore::field_json(t, f)
    })
}

async fn assets(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    Query(q): Params,
) -> Response {
    let Some(types) = id_filter(&q, "flexible_asset_type_id") else {
        return error(
            StatusCode::BAD_REQUEST,
            "filter[flexible_asset_type_id] is required",
        );
    };
    let orgs = id_filter(&q, "organization_id");
    let name = filter(&q, "name");
    let store = mutex(&account.store);
    let matching: Vec<&ItGlueAsset> = store
        .assets()
        .filter(|a| types.contains(&a.flexible_asset_type_id))
        .filter(|a| orgs.as_ref().is_none_or(|o| o.contains(&a.organization_id)))
        .filter(|a| name.is_none_or(|n| a.name == n))
        .collect();
    paged(&port, "/flexible_assets", &q, &matching, |a| {
        store.asset_json(a)
    })
}

fn asset_document(store: &ItGlueStore, id: u64, status: StatusCode) -> Response {
    match store.asset(id) {
        Some(a) => document(status, json!({"data": store.asset_json(a)})),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn asset(Extension(account): Extension<Arc<Account>>, Path(id): Path<String>) -> Response {
    match id.parse() {
        Ok(id) => asset_document(&mutex(&account.store), id, StatusCode::OK),
        Err(_) => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn create_asset(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    body: Bytes,
) -> Response {
    let input = match parse_body(&body).and_then(|doc| parse_asset(&doc)) {
        Ok(input) => input,
        Err(r) => return rejected(r),
    };
    let mut store = mutex(&account.store);
    match store.create_asset(input, port.itglue().organizations) {
        Ok(id) => {
            account.writes.fetch_add(1, Ordering::Relaxed);
            asset_document(&store, id, StatusCode::CREATED)
        }
        Err(r) => rejected(r),
    }
}

async fn update_asset(
    AxState(port): AxState<Arc<Port>>,
    Extension(account): Extension<Arc<Account>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    if mutex(&account.store).asset(id).is_none() {
        return error(StatusCode::NOT_FOUND, "Record not found");
    }
    let doc = match parse_body(&body) {
        Ok(doc) => doc,
        Err(r) => return rejected(r),
    };
    if let Some(given) = doc.pointer("/data/id").filter(|v| !v.is_null()) {
        if as_id(given) != Some(id) {
            return rejected(Rejected::Invalid(vec![store::Invalid {
                pointer: "/data/id".into(),
                detail: format!("data.id does not match the URL's id {id}"),
            }]));
        }
    }
    let input = match parse_asset(&doc) {
        Ok(input) => input,
        Err(r) => return rejected(r),
    };
    let mut store = mutex(&account.store);
    match store.update_asset(id, input, port.itglue().organizations) {
        Ok(()) => {
            account.writes.fetch_add(1, Ordering::Relaxed);
            asset_document(&store, id, StatusCode::OK)
        }
        Err(r) => rejected(r),
    }
}

async fn sandbox_stats(AxState(port): AxState<Arc<Port>>, Query(q): Params) -> Response {
    let itglue = port.itglue();
    match q.get("key") {
        Some(key) => match itglue.key_stats(key) {
            Some(s) => Json(json!({"itglue": s})).into_response(),
            None => error(StatusCode::NOT_FOUND, "Unknown key"),
        },
        None => Json(json!({"itglue": itglue.stats(), "region": port.region})).into_response(),
    }
}

async fn sandbox_assets(AxState(port): AxState<Arc<Port>>, Query(q): Params) -> Response {
    match q.get("key") {
        Some(key) if port.itglue().accounts.contains_key(key) => {
            Json(json!(port.itglue().assets(key))).into_response()
        }
        Some(_) => error(StatusCode::NOT_FOUND, "Unknown key"),
        None => error(StatusCode::BAD_REQUEST, "key is required"),
    }
}

async fn sandbox_asset_types(AxState(port): AxState<Arc<Port>>, Query(q): Params) -> Response {
    match q.get("key") {
        Some(key) if port.itglue().accounts.contains_key(key) => {
            Json(json!(port.itglue().asset_types(key))).into_response()
        }
        Some(_) => error(StatusCode::NOT_FOUND, "Unknown key"),
        None => error(StatusCode::BAD_REQUEST, "key is required"),
    }
}
