//! Datto Autotask PSA: zone discovery (`GET /atservicesrest/v1.0/zoneInformation?user=`) and
//! the REST API v1.0 under the zone URL it announces (`{root}/zone5/ATServicesRest/`), on its
//! own port: Companies, Contacts, ConfigurationItems, ConfigurationItemCategories and
//! CompanyLocations, read-only, plus `ThresholdInformation`.
//!
//! It behaves like the real service where docsync depends on it:
//!
//! - Zone discovery needs no credentials and matches the user ignoring case; an unknown (or
//!   missing) user is answered 500, as the real one does.
//! - Every API call needs the `ApiIntegrationCode`, `UserName` and `Secret` headers (names
//!   ignoring case, as HTTP has it). As on the real service (whose answers integrators report:
//!   an unknown user name or integration code is a 500, a wrong secret a 401): a missing header
//!   or a wrong secret answers 401, an unknown user name or integration code answers 500, all
//!   with an `{"errors": [...]}` body. Paths ignore case (`V1.0/companies/QUERY` works).
//! - Queries: `POST /V1.0/{Entity}/query` with `{"filter", "IncludeFields", "MaxRecords"}` (keys
//!   ignoring case) or `GET /V1.0/{Entity}/query?search={json}`; the filter language (see
//!   [`filter`]) refuses an empty or missing filter and unknown fields (500). `MaxRecords`
//!   (1..=500, default 500) is the page size, capped at [`AutotaskConfig::page_size`]; rows
//!   come by id; `pageDetails.nextPageUrl` is an absolute GET URL
//!   (`.../V1.0/{Entity}/query/next?paging={opaque}`) until the last page (`null`), and
//!   `prevPageUrl` leads back. `IncludeFields` trims the records to those fields and `id`.
//!   `/query/count` answers `{"queryCount": n}`; `GET /V1.0/{Entity}/{id}` answers
//!   `{"item": {...}}`, or `{"item": null}` for an unknown id, as the real one does.
//! - The database's request threshold ([`AutotaskConfig::threshold`] per
//!   [`AutotaskConfig::threshold_timeframe_secs`], clock-aligned windows, shared with the
//!   simulated other integrations of [`Sandbox::autotask_consume`]): every authenticated
//!   request counts (thread refusals and `ThresholdInformation` included); past it, 429 with
//!   `{"errors": [...]}`, unprocessed and not counted. Above half of it, every request is
//!   delayed by [`AutotaskConfig::slow_above_half_ms`].
//! - The thread limit: at most [`AutotaskConfig::thread_limit`] requests in flight per
//!   (integration code, entity endpoint); one more is refused unprocessed with
//!   [`AutotaskConfig::thread_refusal_status`] (500 by default) and
//!   `{"errors": ["Thread Threshold Exceeded: ..."]}`. A request holds its slot while it
//!   sleeps its latency ([`AutotaskConfig::latency_ms`] and the slowdown), so concurrency is
//!   observable; fault-rule latency comes before, outside the slot.
//!
//! Deviations, on purpose: an unknown filter operator is refused (the real service drops the
//! expression and returns unfiltered rows); writes (`POST`/`PUT`/`PATCH`/`DELETE` of records)
//! answer 405; there is no company 0 (the MSP's own company) and no user-defined fields.
//!
//! The records are deterministic (see [`records`]) and tests change them in-process through the
//! `at_*` methods of [`Sandbox`]; `GET /_sandbox/stats` shows the counters.

mod filter;
mod limit;
mod records;
mod store;

use crate::state::State;
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use filter::Filter;
use limit::{Budget, Threads};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::AtStore;

/// The zone every sandbox user lives in.
const ZONE: &str = "zone5";
/// The zone's number, as `zoneInformation` reports it (`ci`).
const ZONE_CI: u32 = 5;
/// The largest `MaxRecords` (and page) the API allows.
const MAX_RECORDS: u64 = 500;

/// How the Autotask emulator is populated, secured and limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutotaskConfig {
    /// The API user's user name (matched ignoring case), the `UserName` header and
    /// `zoneInformation`'s `user`.
    pub username: String,
    /// The API user's secret (`Secret` header).
    pub secret: String,
    /// The API tracking identifier (`ApiIntegrationCode` header).
    pub integration_code: String,
    /// Companies, ids `500..500 + companies`: company 501 is a Lead, the last one inactive.
    pub companies: usize,
    /// Contacts per company (the last one of each inactive when there are two or more).
    pub contacts_per_company: usize,
    /// Configuration items per company (the last one of each inactive).
    pub configuration_items_per_company: usize,
    /// Company locations per company (the first one primary).
    pub locations_per_company: usize,
    /// Requests the database admits per window (`externalRequestThreshold`).
    pub threshold: u32,
    /// Window length in seconds; windows start at multiples of it since the Unix epoch.
    pub threshold_timeframe_secs: u64,
    /// Requests in flight allowed per (integration code, entity endpoint).
    pub thread_limit: u32,
    /// The status a thread-limit refusal answers (the real service does not always use 429).
    pub thread_refusal_status: u16,
    /// The most records per page, whatever `MaxRecords` asks (at most 500 anyway).
    pub page_size: usize,
    /// Delay added to every request while the window's count is above half the threshold.
    pub slow_above_half_ms: u64,
    /// Delay added to every admitted request, inside its thread slot.
    pub latency_ms: u64,
}

impl Default for AutotaskConfig {
    fn default() -> Self {
        AutotaskConfig {
            username: "sandbox-api@mymsp.example".into(),
            secret: "sandbox-autotask-secret-0123456789".into(),
            integration_code: "SANDBOXTRACKINGID0123456789".into(),
            companies: 6,
            contacts_per_company: 3,
            configuration_items_per_company: 4,
            locations_per_company: 1,
            threshold: 10_000,
            threshold_timeframe_secs: 3600,
            thread_limit: 3,
            thread_refusal_status: 500,
            page_size: 500,
            slow_above_half_ms: 0,
            latency_ms: 0,
        }
    }
}

/// An Autotask entity the emulator serves and the mutation API of [`Sandbox`] works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AtEntity {
    /// `/V1.0/Companies` (ids from 500).
    Company,
    /// `/V1.0/Contacts` (ids from 30000).
    Contact,
    /// `/V1.0/ConfigurationItems` (ids from 70000).
    ConfigurationItem,
    /// `/V1.0/ConfigurationItemCategories` (ids from 101).
    ConfigurationItemCategory,
    /// `/V1.0/CompanyLocations` (ids from 2000).
    CompanyLocation,
}

impl AtEntity {
    /// Every entity.
    pub const ALL: [AtEntity; 5] = [
        AtEntity::Company,
        AtEntity::Contact,
        AtEntity::ConfigurationItem,
        AtEntity::ConfigurationItemCategory,
        AtEntity::CompanyLocation,
    ];

    /// The endpoint's name in the URL, e.g. `ConfigurationItems`.
    pub fn endpoint(self) -> &'static str {
        match self {
            AtEntity::Company => "Companies",
            AtEntity::Contact => "Contacts",
            AtEntity::ConfigurationItem => "ConfigurationItems",
            AtEntity::ConfigurationItemCategory => "ConfigurationItemCategories",
            AtEntity::CompanyLocation => "CompanyLocations",
        }
    }

    /// The entity's name in error messages, e.g. `ConfigurationItem`.
    pub fn name(self) -> &'static str {
        match self {
            AtEntity::Company => "Company",
            AtEntity::Contact => "Contact",
            AtEntity::ConfigurationItem => "ConfigurationItem",
            AtEntity::ConfigurationItemCategory => "ConfigurationItemCategory",
            AtEntity::CompanyLocation => "CompanyLocation",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            AtEntity::Company => 0,
            AtEntity::Contact => 1,
            AtEntity::ConfigurationItem => 2,
            AtEntity::ConfigurationItemCategory => 3,
            AtEntity::CompanyLocation => 4,
        }
    }

    /// The entity whose endpoint is `segment` (ignoring case).
    fn from_endpoint(segment: &str) -> Option<AtEntity> {
        AtEntity::ALL
            .into_iter()
            .find(|e| e.endpoint().eq_ignore_ascii_case(segment))
    }
}

/// Autotask request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AutotaskStats {
    /// Every request under the zone's API (`/zone5/ATServicesRest/...`), whatever the answer.
    pub requests: u64,
    /// Those requests by endpoint: the entity (`Companies`, ...), `ThresholdInformation`, or
    /// the first path segment as sent for anything else.
    pub requests_by_endpoint: BTreeMap<String, u64>,
    /// 401 answers: a missing credential header or a wrong secret.
    pub rejected_401: u64,
    /// 500 answers to an unknown user name or integration code.
    pub rejected_credentials: u64,
    /// 429 answers: the database's window was at its threshold.
    pub threshold_refusals: u64,
    /// Thread-limit refusals ("Thread Threshold Exceeded").
    pub thread_refusals: u64,
    /// `zoneInformation` requests, answered or not (not in `requests`).
    pub zone_lookups: u64,
    /// `ThresholdInformation` calls answered.
    pub threshold_info_calls: u64,
    /// Requests delayed by `slow_above_half_ms` (the window was above half the threshold).
    pub slowed_requests: u64,
    /// The most requests of one (integration code, endpoint) in flight at once, each arrival
    /// counted with the admitted ones it found in flight, refused arrivals included: above
    /// `thread_limit` means the client overran it (5 at once against a limit of 3 shows 4).
    pub max_in_flight_per_endpoint: u32,
    /// That peak per endpoint.
    pub max_in_flight_by_endpoint: BTreeMap<String, u32>,
    /// Requests counted in the current threshold window (other integrations' included).
    pub current_window_count: u32,
}

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    by_endpoint: BTreeMap<String, u64>,
    rejected_401: u64,
    rejected_credentials: u64,
    threshold_refusals: u64,
    thread_refusals: u64,
    zone_lookups: u64,
    threshold_info_calls: u64,
    slowed_requests: u64,
}

/// The emulator's data, limits and counters (part of the shared state).
#[derive(Debug)]
pub(crate) struct Autotask {
    config: AutotaskConfig,
    store: RwLock<AtStore>,
    budget: Mutex<Budget>,
    threads: Mutex<Threads>,
    thread_limit: AtomicU32,
    counters: Mutex<Counters>,
}

fn mutex<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An answer in Autotask's error shape: `{"errors": [message]}`.
fn errors(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

/// A 500 with `message`, as Autotask answers a bad query.
fn server_error(message: impl Into<String>) -> Response {
    errors(StatusCode::INTERNAL_SERVER_ERROR, message)
}

impl Autotask {
    /// The fixtures and limits of `config`.
    pub(crate) fn new(config: &AutotaskConfig) -> Self {
        Autotask {
            store: RwLock::new(AtStore::generate(config)),
            budget: Mutex::new(Budget::new(
                config.threshold,
                config.threshold_timeframe_secs,
            )),
            threads: Mutex::new(Threads::default()),
            thread_limit: AtomicU32::new(config.thread_limit),
            counters: Mutex::new(Counters::default()),
            config: config.clone(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, AtStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, AtStore> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters.
    pub(crate) fn stats(&self) -> AutotaskStats {
        let c = mutex(&self.counters);
        let peaks = mutex(&self.threads).peaks().clone();
        AutotaskStats {
            requests: c.requests,
            requests_by_endpoint: c.by_endpoint.clone(),
            rejected_401: c.rejected_401,
            rejected_credentials: c.rejected_credentials,
            threshold_refusals: c.threshold_refusals,
            thread_refusals: c.thread_refusals,
            zone_lookups: c.zone_lookups,
            threshold_info_calls: c.threshold_info_calls,
            slowed_requests: c.slowed_requests,
            max_in_flight_per_endpoint: peaks.values().copied().max().unwrap_or(0),
            max_in_flight_by_endpoint: peaks,
            current_window_count: mutex(&self.budget).count(unix_secs()),
        }
    }

    /// Zeroes the counters and the in-flight peaks (the window's count is kept).
    pub(crate) fn reset_stats(&self) {
        *mutex(&self.counters) = Counters::default();
        mutex(&self.threads).reset_peaks();
    }

    /// The integration code of a request with good credentials, or the refusal's status and
    /// message.
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, (StatusCode, String)> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let (code, user, secret) = (
            header("apiintegrationcode"),
            header("username"),
            header("secret"),
        );
        let mut c = mutex(&self.counters);
        let (Some(code), Some(user), Some(secret)) = (code, user, secret) else {
            c.rejected_401 += 1;
            let missing: Vec<&str> = [
                ("ApiIntegrationCode", code),
                ("UserName", user),
                ("Secret", secret),
            ]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
            return Err((
                StatusCode::UNAUTHORIZED,
                format!(
                    "Unauthorized: missing the {} header(s); every call needs ApiIntegrationCode, UserName and Secret.",
                    missing.join(", ")
                ),
            ));
        };
        let cfg = &self.config;
        if !user.eq_ignore_ascii_case(&cfg.username) {
            c.rejected_credentials += 1;
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Unable to authenticate: no API user named {user}."),
            ));
        }
        if secret != cfg.secret {
            c.rejected_401 += 1;
            return Err((
                StatusCode::UNAUTHORIZED,
                "Unauthorized: the user name and secret do not match.".into(),
            ));
        }
        if code != cfg.integration_code {
            c.rejected_credentials += 1;
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("IntegrationCode is invalid: {code} is not an API tracking identifier of this database."),
            ));
        }
        Ok(code.to_string())
    }
}

/// A thread slot of an admitted request, given back when dropped.
struct Slot<'a> {
    at: &'a Autotask,
    code: String,
    endpoint: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        mutex(&self.at.threads).leave(&self.code, &self.endpoint);
    }
}

/// What the routes of the port share.
#[derive(Debug)]
pub(crate) struct Port {
    state: Arc<State>,
    url: String,
}

impl Port {
    fn at(&self) -> &Autotask {
        &self.state.autotask
    }

    /// The zone's API root, as `zoneInformation` announces it (ends with `/`).
    fn zone_url(&self) -> String {
        format!("{}/{ZONE}/ATServicesRest/", self.url)
    }
}

/// Routes of the Autotask port.
pub(crate) fn router(state: Arc<State>, url: String) -> Router {
    let port = Arc::new(Port { state, url });
    Router::new()
        .route("/_sandbox/stats", get(sandbox_stats))
        .fallback(dispatch)
        .with_state(port)
}

async fn sandbox_stats(AxState(port): AxState<Arc<Port>>) -> Json<Value> {
    Json(json!({ "autotask": port.at().stats() }))
}

type Params = Query<Vec<(String, String)>>;

/// The first value of query parameter `name` (ignoring case).
fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every path: zone discovery, the zone's API, or 404 (paths ignore case).
async fn dispatch(
    AxState(port): AxState<Arc<Port>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Params, QueryRejection>,
    body: Bytes,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let original: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let lower_path = uri.path().to_ascii_lowercase();
    let lower: Vec<&str> = lower_path.split('/').filter(|s| !s.is_empty()).collect();
    match lower.as_slice() {
        ["atservicesrest", "v1.0", "zoneinformation"] => zone_information(&port, &method, &q),
        [zone, "atservicesrest", "v1.0", rest @ ..] if *zone == ZONE => {
            let request = ApiRequest {
                method: &method,
                rest,
                original: original.get(3..).unwrap_or_default(),
                headers: &headers,
                q: &q,
                body: &body,
            };
            api(&port, request).await
        }
        ["atservicesrest", ..] => errors(
            StatusCode::NOT_FOUND,
            format!(
                "Not found: the API lives at the zone URL {} (ask zoneInformation first).",
                port.zone_url()
            ),
        ),
        _ => errors(
            StatusCode::NOT_FOUND,
            format!("The resource {} was not found.", uri.path()),
        ),
    }
}

fn zone_information(port: &Port, method: &Method, q: &[(String, String)]) -> Response {
    mutex(&port.at().counters).zone_lookups += 1;
    if method != Method::GET {
        return errors(
            StatusCode::METHOD_NOT_ALLOWED,
            "zoneInformation only answers GET.",
        );
    }
    let user = param(q, "user").map(str::trim).unwrap_or_default();
    if user.is_empty() || !user.eq_ignore_ascii_case(&port.at().config.username) {
        return server_error(format!(
            "Zone information could not be determined for user '{user}'."
        ));
    }
    Json(json!({
        "zoneName": "Sandbox Zone",
        "url": port.zone_url(),
        "webUrl": format!("{}/ww5/", port.url),
        "ci": ZONE_CI,
    }))
    .into_response()
}

/// One API request, its path after `/V1.0` split into segments.
struct ApiRequest<'a> {
    method: &'a Method,
    /// Lowercased segments.
    rest: &'a [&'a str],
    /// The same segments as sent.
    original: &'a [&'a str],
    headers: &'a HeaderMap,
    q: &'a [(String, String)],
    body: &'a [u8],
}

/// Counting, credentials, the threshold, the thread limit and latency, then the endpoint.
async fn api(port: &Port, req: ApiRequest<'_>) -> Response {
    let at = port.at();
    let entity = req.rest.first().and_then(|s| AtEntity::from_endpoint(s));
    let threshold_info = req.rest.first() == Some(&"thresholdinformation");
    let endpoint = match (entity, req.original.first()) {
        (Some(e), _) => e.endpoint().to_string(),
        (None, _) if threshold_info => "ThresholdInformation".to_string(),
        (None, Some(s)) => (*s).to_string(),
        (None, None) => "/".to_string(),
    };
    {
        let mut c = mutex(&at.counters);
        c.requests += 1;
        *c.by_endpoint.entry(endpoint.clone()).or_default() += 1;
    }
    let code = match at.authenticate(req.headers) {
        Ok(code) => code,
        Err((status, message)) => return errors(status, message),
    };
    let (admitted, threshold, minutes) = {
        let mut b = mutex(&at.budget);
        (
            b.admit(unix_secs()),
            b.threshold,
            (b.timeframe_secs / 60).max(1),
        )
    };
    let Some(count) = admitted else {
        mutex(&at.counters).threshold_refusals += 1;
        return errors(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "This database has exceeded the request threshold of {threshold} requests per {minutes} minute(s); try again when the current timeframe ends."
            ),
        );
    };
    let limit = at.thread_limit.load(Ordering::Relaxed);
    if !mutex(&at.threads).enter(&code, &endpoint, limit) {
        mutex(&at.counters).thread_refusals += 1;
        let status = StatusCode::from_u16(at.config.thread_refusal_status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return errors(
            status,
            format!(
                "Thread Threshold Exceeded: integration {code} already has {limit} request(s) in progress on {endpoint}."
            ),
        );
    }
    let _slot = Slot { at, code, endpoint };
    let slow = u64::from(count) * 2 > u64::from(threshold);
    let delay = at.config.latency_ms
        + if slow {
            at.config.slow_above_half_ms
        } else {
            0
        };
    if slow && at.config.slow_above_half_ms > 0 {
        mutex(&at.counters).slowed_requests += 1;
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let read = *req.method == Method::GET || *req.method == Method::POST;
    match (entity, req.rest) {
        (None, ["thresholdinformation"]) if *req.method == Method::GET => threshold_information(at),
        (None, _) if threshold_info => errors(
            StatusCode::METHOD_NOT_ALLOWED,
            "ThresholdInformation only answers GET.",
        ),
        (None, _) => errors(
            StatusCode::NOT_FOUND,
            format!(
                "The resource {} was not found.",
                req.original.first().copied().unwrap_or("/")
            ),
        ),
        (Some(e), [_, "query"]) if read => match query_spec(&req) {
            Ok(spec) => answer_page(port, e, &spec, 0),
            Err(message) => server_error(message),
        },
        (Some(e), [_, "query", "count"]) if read => match query_spec(&req) {
            Ok(spec) => answer_count(port, e, &spec),
            Err(message) => server_error(message),
        },
        (Some(e), [_, "query", "next"]) if read => answer_next(port, e, req.q),
        (Some(e), [_, id]) if *req.method == Method::GET => match id.parse::<u64>() {
            Ok(id) => {
                let item = at.read().table(e).get(&id).cloned();
                Json(json!({ "item": item })).into_response()
            }
            Err(_) => errors(
                StatusCode::NOT_FOUND,
                format!(
                    "The resource {}/{} was not found.",
                    e.endpoint(),
                    req.original.get(1).copied().unwrap_or_default()
                ),
            ),
        },
        (Some(e), _) => errors(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} {} is not supported by the sandbox (it serves queries, counts and reads by id).",
                req.method,
                e.endpoint()
            ),
        ),
    }
}

fn threshold_information(at: &Autotask) -> Response {
    mutex(&at.counters).threshold_info_calls += 1;
    let mut b = mutex(&at.budget);
    let count = b.count(unix_secs());
    Json(json!({
        "externalRequestThreshold": b.threshold,
        "requestThresholdTimeframe": (b.timeframe_secs / 60).max(1),
        "currentTimeframeRequestCount": count,
    }))
    .into_response()
}

/// The query object of a request: the `POST` body or the `search` parameter of a `GET`
/// (missing or empty: `{}`, which the filter check then refuses).
fn query_spec(req: &ApiRequest<'_>) -> Result<Value, String> {
    let text = if *req.method == Method::POST {
        String::from_utf8_lossy(req.body).into_owned()
    } else {
        param(req.q, "search").unwrap_or_default().to_string()
    };
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str::<Value>(&text).map_err(|e| format!("The query is not valid JSON: {e}."))
}

/// The value of key `name` of a query object (ignoring case).
fn spec_key<'a>(spec: &'a Value, name: &str) -> Option<&'a Value> {
    let m = spec.as_object()?;
    m.get(name)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// A checked query.
struct Prepared {
    filter: Filter,
    include: Option<Vec<&'static str>>,
    page_size: usize,
}

fn prepare(at: &Autotask, entity: AtEntity, spec: &Value) -> Result<Prepared, String> {
    if !spec.is_object() {
        return Err(format!(
            "The query {spec} must be an object with filter, IncludeFields and MaxRecords."
        ));
    }
    let filter = filter::parse(entity, spec_key(spec, "filter"))?;
    let include = match spec_key(spec, "IncludeFields") {
        None => None,
        Some(Value::Array(list)) if list.is_empty() => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|f| {
                    let name = f.as_str().unwrap_or_default();
                    records::field(entity, name)
                        .map(|(field, _)| field)
                        .ok_or_else(|| {
                            format!("Unable to find {name} in the {} Entity.", entity.name())
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(format!(
                "IncludeFields must be an array of field names, got {other}."
            ))
        }
    };
    let max = match spec_key(spec, "MaxRecords") {
        None => MAX_RECORDS,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_RECORDS).contains(n))
            .ok_or_else(|| {
                format!("MaxRecords must be a whole number from 1 to {MAX_RECORDS}, got {v}.")
            })?,
    };
    let cap = at.config.page_size.max(1);
    Ok(Prepared {
        filter,
        include,
        page_size: usize::try_from(max).unwrap_or(cap).min(cap),
    })
}

/// `record` trimmed to `include` and `id` (whole when `None`).
fn project(record: &Value, include: Option<&[&'static str]>) -> Value {
    let Some(fields) = include else {
        return record.clone();
    };
    let mut out = Map::new();
    out.insert("id".into(), record["id"].clone());
    for f in fields {
        out.insert(
            (*f).to_string(),
            record.get(*f).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

/// What a `paging` token carries: the entity, the query and where the page starts.
#[derive(Debug, Serialize, Deserialize)]
struct Paging {
    /// The entity's endpoint.
    e: String,
    /// The query object as sent.
    q: Value,
    /// The page holds rows with an id above this.
    a: u64,
}

fn page_url(port: &Port, entity: AtEntity, spec: &Value, after: u64) -> Option<String> {
    let paging = Paging {
        e: entity.endpoint().to_string(),
        q: spec.clone(),
        a: after,
    };
    let bytes = serde_json::to_vec(&paging).ok()?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Some(format!(
        "{}V1.0/{}/query/next?paging={token}",
        port.zone_url(),
        entity.endpoint()
    ))
}

/// The page of `spec` holding the matching rows with an id above `after`.
fn answer_page(port: &Port, entity: AtEntity, spec: &Value, after: u64) -> Response {
    let at = port.at();
    let prepared = match prepare(at, entity, spec) {
        Ok(p) => p,
        Err(message) => return server_error(message),
    };
    let size = prepared.page_size;
    let store = at.read();
    let table = store.table(entity);
    let mut rows: Vec<&Value> = table
        .range((Bound::Excluded(after), Bound::Unbounded))
        .map(|(_, r)| r)
        .filter(|r| prepared.filter.matches(r))
        .take(size + 1)
        .collect();
    let more = rows.len() > size;
    rows.truncate(size);
    let next = rows
        .last()
        .and_then(|r| r["id"].as_u64())
        .filter(|_| more)
        .and_then(|last| page_url(port, entity, spec, last));
    let prev = if after == 0 {
        None
    } else {
        let before: Vec<u64> = table
            .range(..=after)
            .filter(|(_, r)| prepared.filter.matches(r))
            .map(|(id, _)| *id)
            .collect();
        match before.len() {
            0 => None,
            n if n <= size => page_url(port, entity, spec, 0),
            n => page_url(port, entity, spec, before[n - size - 1]),
        }
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|r| project(r, prepared.include.as_deref()))
        .collect();
    Json(json!({
        "items": items,
        "pageDetails": {
            "count": items.len(),
            "requestCount": size,
            "prevPageUrl": prev,
            "nextPageUrl": next,
        },
    }))
    .into_response()
}

fn answer_count(port: &Port, entity: AtEntity, spec: &Value) -> Response {
    let at = port.at();
    let prepared = match prepare(at, entity, spec) {
        Ok(p) => p,
        Err(message) => return server_error(message),
    };
    let n = at
        .read()
        .table(entity)
        .values()
        .filter(|r| prepared.filter.matches(r))
        .count();
    Json(json!({ "queryCount": n })).into_response()
}

/// The page a `nextPageUrl` / `prevPageUrl` names.
fn answer_next(port: &Port, entity: AtEntity, q: &[(String, String)]) -> Response {
    let paging = param(q, "paging")
        .and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.trim())
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Paging>(&b).ok());
    match paging {
        Some(p) if p.e.eq_ignore_ascii_case(entity.endpoint()) => {
            answer_page(port, entity, &p.q, p.a)
        }
        Some(p) => server_error(format!(
            "The paging token is for {}, not {}.",
            p.e,
            entity.endpoint()
        )),
        None => server_error(
            "The paging parameter is missing or invalid: follow pageDetails.nextPageUrl as given.",
        ),
    }
}

impl Sandbox {
    /// The zone discovery root, e.g. `http://127.0.0.1:41234/atservicesrest` (append
    /// `/v1.0/zoneInformation?user=...`): what `DOCSYNC_AUTOTASK_ZONE_URL` is set to.
    pub fn autotask_zone_discovery_url(&self) -> String {
        format!("{}/atservicesrest", self.autotask_url)
    }

    /// The zone's API root `zoneInformation` announces, e.g.
    /// `http://127.0.0.1:41234/zone5/ATServicesRest/` (append `V1.0/Companies/query`, ...).
    pub fn autotask_api_url(&self) -> String {
        format!("{}/{ZONE}/ATServicesRest/", self.autotask_url)
    }

    /// Autotask counters.
    pub fn autotask_stats(&self) -> AutotaskStats {
        self.state.autotask.stats()
    }

    /// Zeroes the Autotask counters and in-flight peaks (the threshold window keeps its count).
    pub fn reset_autotask_stats(&self) {
        self.state.autotask.reset_stats();
    }

    /// Simulates other integrations of the same database: adds `n` requests to the current
    /// threshold window.
    pub fn autotask_consume(&self, n: u32) {
        mutex(&self.state.autotask.budget).consume(n, unix_secs());
    }

    /// Changes the threshold and its timeframe (seconds, at least 1; windows stay aligned to
    /// multiples of it); the current window's count is kept.
    pub fn set_autotask_threshold(&self, threshold: u32, timeframe_secs: u64) {
        mutex(&self.state.autotask.budget).set(threshold, timeframe_secs, unix_secs());
    }

    /// Changes the thread limit per (integration code, endpoint) for requests arriving from now.
    pub fn set_autotask_thread_limit(&self, limit: u32) {
        self.state
            .autotask
            .thread_limit
            .store(limit, Ordering::Relaxed);
    }

    /// Inserts a record (not counted in stats): the fields of `record` (names ignoring case,
    /// unknown ones ignored, `id` ignored) over the entity's defaults (active, a Customer
    /// company, ...), with the next id and the modified date (and `createDate`) now. Returns
    /// the id.
    pub fn at_insert(&self, entity: AtEntity, record: Value) -> u64 {
        self.state.autotask.write().insert(entity, &record)
    }

    /// Applies `patch` (field names ignoring case; `null` clears) to record `id` and bumps its
    /// modified date to now unless the patch sets it; false when there is no such record.
    /// Deactivate with `{"isActive": false}` (contacts: `0`; `false` is converted).
    pub fn at_update(&self, entity: AtEntity, id: u64, patch: Value) -> bool {
        self.state.autotask.write().update(entity, id, &patch)
    }

    /// Deletes record `id` (it disappears from queries); false when there is none.
    pub fn at_remove(&self, entity: AtEntity, id: u64) -> bool {
        self.state.autotask.write().remove(entity, id)
    }

    /// A snapshot of the records of `entity`, by id.
    pub fn at_records(&self, entity: AtEntity) -> Vec<Value> {
        self.state
            .autotask
            .read()
            .table(entity)
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(code: &str, user: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("ApiIntegrationCode", code),
            ("UserName", user),
            ("Secret", secret),
        ] {
            if !value.is_empty() {
                h.insert(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
        }
        h
    }

    #[test]
    fn credentials_fail_like_autotask() {
        let c = AutotaskConfig::default();
        let at = Autotask::new(&c);
        let status = |h: HeaderMap| at.authenticate(&h).map_err(|(s, _)| s);
        assert_eq!(
            status(headers(
                &c.integration_code,
                "SANDBOX-API@mymsp.example",
                &c.secret
            )),
            Ok(c.integration_code.clone())
        );
        assert_eq!(
            status(headers(&c.integration_code, &c.username, "")),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(headers(&c.integration_code, &c.username, "wrong")),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(headers(&c.integration_code, "nobody@x", &c.secret)),
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(
            status(headers("WRONGCODE", &c.username, &c.secret)),
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        );
        let s = at.stats();
        assert_eq!((s.rejected_401, s.rejected_credentials), (2, 2));
    }

    #[test]
    fn entities_resolve_ignoring_case() {
        assert_eq!(
            AtEntity::from_endpoint("configurationitems"),
            Some(AtEntity::ConfigurationItem)
        );
        assert_eq!(AtEntity::from_endpoint("Tickets"), None);
        for (i, e) in AtEntity::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
    }
}
