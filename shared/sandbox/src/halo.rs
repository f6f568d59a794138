//! HaloPSA / HaloITSM: the authorisation server (`POST /auth/token`, OAuth client credentials
//! bound to a tenant) and the resource server under `/api` on its own port: clients, users
//! (contacts), assets, asset types, sites, client contracts (read-only) and knowledge-base
//! articles (read and `POST` upserts).
//!
//! It behaves like the real service where docsync depends on it:
//!
//! - Tokens: `POST /auth/token?tenant={tenant}` with a form body `grant_type=client_credentials`,
//!   `client_id`, `client_secret`, `scope` answers `{access_token, token_type: "Bearer",
//!   expires_in, scope}`. A missing or unknown tenant is 400 `invalid_request` ("Tenant 'x'
//!   was not found"), another grant type 400 `unsupported_grant_type`, bad credentials 401
//!   `invalid_client`. Tokens expire after [`HaloConfig::token_ttl_secs`];
//!   [`Sandbox::halo_expire_tokens`] expires every issued one at once.
//! - Every `/api/*` request needs `Authorization: Bearer {token}`: without one, or with an
//!   unknown or expired one, it is answered 401 with an empty body and a `WWW-Authenticate`
//!   header (as ASP.NET's bearer handler does). Entity names in paths match ignoring case
//!   (`/api/clientcontract` is `/api/ClientContract`), as Halo's routes do, and unknown query
//!   parameters are ignored.
//! - Budget: at most [`HaloConfig::rate_limit`] requests per client id in any rolling window
//!   (hosted Halo: 300 per rolling 5 minutes); past it 429 with `Retry-After` (seconds until
//!   a slot frees). Refusals consume nothing.
//! - Lists answer `{"record_count": total, "<key>": [...]}` and, with `pageinate=true`,
//!   `page_size` and `page_no` (1-based, `page_size` clamped to
//!   [`HaloConfig::max_page_size`], 50 when absent), also `page_no` and `page_size`. Without
//!   `pageinate=true` a list is silently cut to [`HaloConfig::unpaged_cap`] records while
//!   `record_count` still says the total: the trap real clients fall into. `/api/AssetType`
//!   answers a bare JSON array of every type (Halo's asset type list takes no paging).
//! - Asset Group Access Control: the restricted agent
//!   ([`HaloConfig::limited_client_id`]) has access to no asset group, so `/api/Asset` lists
//!   answer 200 without a single asset (`record_count` 0) and `GET /api/Asset/{id}` 404, as
//!   Hudu's guide warns ("assets will not sync even if the API connection is successful");
//!   with [`HaloConfig::limited_assets_forbidden`] they answer 403 instead.
//! - Writes: `POST /api/KBArticle` takes a JSON array; an object with the `id` of an article
//!   updates it in place, one without (or with `id` 0 or less) creates one. All or none are
//!   saved; a body that is not an array, an empty array, a missing or empty `name` on a
//!   create, an empty `name` on an update and an unknown `id` are 400 `{"message"}`.
//!
//! The records are deterministic (see [`records`]) and tests change them in-process through
//! the `halo_*` methods of [`Sandbox`](crate::Sandbox); `GET /_sandbox/stats` shows the
//! counters ([`HaloStats`]).

mod limit;
mod records;
mod store;

use crate::state::State;
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use base64::Engine;
use limit::{RollingLimiter, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use store::HaloStore;

/// Records per page when `pageinate=true` comes without a `page_size`.
const DEFAULT_PAGE_SIZE: usize = 50;

/// How the Halo emulator is populated and secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaloConfig {
    /// The API application's client id (an agent that sees everything).
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The tenant token requests must name (`?tenant=`, matched ignoring case), as hosted
    /// Halo requires; `None`: no tenant is asked for (an on-premises instance).
    pub tenant: Option<String>,
    /// A second application whose agent has access to no asset group (see
    /// [`limited_assets_forbidden`](Self::limited_assets_forbidden)); everything else it sees.
    pub limited_client_id: String,
    /// That application's client secret.
    pub limited_client_secret: String,
    /// Whether the restricted agent's `/api/Asset` requests answer 403 (true) or, as Halo
    /// does, 200 with its hidden assets left out (false).
    pub limited_assets_forbidden: bool,
    /// Clients, ids `12..12 + clients` (the last one inactive).
    pub clients: usize,
    /// Users (contacts) per client (the last of each inactive when there are two or more).
    pub users_per_client: usize,
    /// Assets per client (the last of each inactive when there are two or more).
    pub assets_per_client: usize,
    /// Contracts per client (even positions active, odd ones expired).
    pub contracts_per_client: usize,
    /// Sites per client (the first named `Main`).
    pub sites_per_client: usize,
    /// Knowledge-base articles present at start, ids from 500.
    pub kb_articles: usize,
    /// Lifetime of an access token, in seconds (`expires_in`).
    pub token_ttl_secs: u64,
    /// `(requests, window_secs)` admitted per client id in any rolling window; `None`:
    /// unlimited.
    pub rate_limit: Option<(u32, u64)>,
    /// Whether a 429 carries `Retry-After`.
    pub send_retry_after: bool,
    /// The largest `page_size` honoured (larger ones are clamped).
    pub max_page_size: usize,
    /// Records a list answers without `pageinate=true`.
    pub unpaged_cap: usize,
}

impl Default for HaloConfig {
    fn default() -> Self {
        HaloConfig {
            client_id: "sandbox-halo-client-0123456789".into(),
            client_secret: "sandbox-halo-secret-0123456789abcdef".into(),
            tenant: Some("mymsp".into()),
            limited_client_id: "sandbox-halo-limited-client-0123456789".into(),
            limited_client_secret: "sandbox-halo-limited-secret-0123456789abcdef".into(),
            limited_assets_forbidden: false,
            clients: 6,
            users_per_client: 3,
            assets_per_client: 4,
            contracts_per_client: 2,
            sites_per_client: 1,
            kb_articles: 2,
            token_ttl_secs: 3600,
            rate_limit: Some((300, 300)),
            send_retry_after: true,
            max_page_size: 100,
            unpaged_cap: 100,
        }
    }
}

/// A Halo entity the mutation API of [`Sandbox`] works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HaloEntity {
    /// `/api/Client` (ids from 12).
    Client,
    /// `/api/Users`: client contacts (ids from 3000).
    User,
    /// `/api/Asset` (ids from 10000).
    Asset,
    /// `/api/AssetType` (ids 1..=6).
    AssetType,
    /// `/api/Site` (ids from 2000).
    Site,
    /// `/api/ClientContract` (ids from 7000).
    Contract,
    /// `/api/KBArticle` (ids from 500).
    #[serde(rename = "kbarticle")]
    KbArticle,
}

impl HaloEntity {
    /// Every entity.
    pub const ALL: [HaloEntity; 7] = [
        HaloEntity::Client,
        HaloEntity::User,
        HaloEntity::Asset,
        HaloEntity::AssetType,
        HaloEntity::Site,
        HaloEntity::Contract,
        HaloEntity::KbArticle,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            HaloEntity::Client => 0,
            HaloEntity::User => 1,
            HaloEntity::Asset => 2,
            HaloEntity::AssetType => 3,
            HaloEntity::Site => 4,
            HaloEntity::Contract => 5,
            HaloEntity::KbArticle => 6,
        }
    }

    /// The path segment after `/api/`, as Halo spells it.
    pub fn path(self) -> &'static str {
        match self {
            HaloEntity::Client => "Client",
            HaloEntity::User => "Users",
            HaloEntity::Asset => "Asset",
            HaloEntity::AssetType => "AssetType",
            HaloEntity::Site => "Site",
            HaloEntity::Contract => "ClientContract",
            HaloEntity::KbArticle => "KBArticle",
        }
    }

    /// The key of a list answer's records; `None` for the bare array of `/api/AssetType`.
    pub fn list_key(self) -> Option<&'static str> {
        match self {
            HaloEntity::Client => Some("clients"),
            HaloEntity::User => Some("users"),
            HaloEntity::Asset => Some("assets"),
            HaloEntity::AssetType => None,
            HaloEntity::Site => Some("sites"),
            HaloEntity::Contract => Some("contracts"),
            HaloEntity::KbArticle => Some("articles"),
        }
    }

    /// The entity a path segment names (ignoring case).
    fn from_path(segment: &str) -> Option<HaloEntity> {
        HaloEntity::ALL
            .into_iter()
            .find(|e| e.path().eq_ignore_ascii_case(segment))
    }

    /// Whether inactive records are left out of lists unless `includeinactive=true`.
    fn hides_inactive(self) -> bool {
        matches!(
            self,
            HaloEntity::Client
                | HaloEntity::User
                | HaloEntity::Asset
                | HaloEntity::AssetType
                | HaloEntity::Site
        )
    }

    /// The fields `search` looks in.
    fn search_fields(self) -> &'static [&'static str] {
        match self {
            HaloEntity::Client | HaloEntity::Site | HaloEntity::AssetType => &["name"],
            HaloEntity::User => &["name", "emailaddress"],
            HaloEntity::Asset => &["key_field", "inventory_number"],
            HaloEntity::Contract => &["ref"],
            HaloEntity::KbArticle => &["name"],
        }
    }

    /// The reference filters (`client_id`, ...) a list honours.
    fn filters(self) -> &'static [&'static str] {
        match self {
            HaloEntity::User => &["client_id", "site_id"],
            HaloEntity::Asset => &["client_id", "site_id", "assettype_id"],
            HaloEntity::Site | HaloEntity::Contract => &["client_id"],
            _ => &[],
        }
    }
}

/// Halo request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HaloStats {
    /// Every request under `/api`, whatever the answer.
    pub requests: u64,
    /// `POST /auth/token` requests, whatever the answer.
    pub token_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Token requests refused (400 tenant, grant type or body; 401 `invalid_client`).
    pub token_refused: u64,
    /// API requests answered 401: no bearer token, or an unknown or expired one.
    pub rejected_401: u64,
    /// API requests answered 403 (the restricted agent's assets, when forbidden).
    pub rejected_403: u64,
    /// API requests refused by the rate limit.
    pub rejected_429: u64,
    /// Knowledge-base articles saved by `POST /api/KBArticle` (created plus updated).
    pub kb_writes: u64,
    /// Articles created (part of `kb_writes`).
    pub kb_creates: u64,
    /// Articles updated in place (part of `kb_writes`).
    pub kb_updates: u64,
    /// The most authenticated requests of one client id within any rolling window of the
    /// limit's length (5 minutes while unlimited), refused ones included: above the budget
    /// means the client overran it.
    pub max_requests_in_any_window: u32,
    /// API requests by path without the query, the entity spelled as Halo does and numeric
    /// segments replaced by `{id}`, e.g. `/api/Client/{id}`.
    pub by_path: BTreeMap<String, u64>,
}

/// Which agent a token acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    /// Sees everything.
    Full,
    /// Has access to no asset group.
    Limited,
}

/// The caller of an API request, as the gate authenticated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Caller(Agent);

#[derive(Debug, Clone)]
struct IssuedToken {
    agent: Agent,
    client_id: String,
    expires: Instant,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BearerError {
    Missing,
    Invalid,
    Expired,
}

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    token_requests: u64,
    tokens_issued: u64,
    token_refused: u64,
    rejected_401: u64,
    rejected_403: u64,
    rejected_429: u64,
    kb_creates: u64,
    kb_updates: u64,
    by_path: BTreeMap<String, u64>,
}

/// The emulator's data, tokens, budget and counters (part of the shared state).
#[derive(Debug)]
pub(crate) struct Halo {
    config: HaloConfig,
    store: RwLock<HaloStore>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    limiter: Mutex<RollingLimiter>,
    counters: Mutex<Counters>,
}

fn mutex<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Halo {
    /// The fixtures and budget of `config`.
    pub(crate) fn new(config: &HaloConfig) -> Self {
        Halo {
            store: RwLock::new(HaloStore::generate(config)),
            tokens: Mutex::new(HashMap::new()),
            limiter: Mutex::new(RollingLimiter::new(config.rate_limit)),
            counters: Mutex::new(Counters::default()),
            config: config.clone(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HaloStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HaloStore> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters.
    pub(crate) fn stats(&self) -> HaloStats {
        let max = mutex(&self.limiter).max_in_window();
        let c = mutex(&self.counters);
        HaloStats {
            requests: c.requests,
            token_requests: c.token_requests,
            tokens_issued: c.tokens_issued,
            token_refused: c.token_refused,
            rejected_401: c.rejected_401,
            rejected_403: c.rejected_403,
            rejected_429: c.rejected_429,
            kb_writes: c.kb_creates + c.kb_updates,
            kb_creates: c.kb_creates,
            kb_updates: c.kb_updates,
            max_requests_in_any_window: max,
            by_path: c.by_path.clone(),
        }
    }

    /// Zeroes the counters (budgets and tokens are kept).
    pub(crate) fn reset_stats(&self) {
        *mutex(&self.counters) = Counters::default();
        mutex(&self.limiter).reset_stats();
    }

    /// The agent of a client id and secret.
    fn agent(&self, client_id: &str, secret: &str) -> Option<Agent> {
        let c = &self.config;
        if client_id == c.client_id && secret == c.client_secret {
            Some(Agent::Full)
        } else if client_id == c.limited_client_id && secret == c.limited_client_secret {
            Some(Agent::Limited)
        } else {
            None
        }
    }

    /// Records a new token of `agent` and returns it.
    fn issue_token(&self, agent: Agent, client_id: &str) -> String {
        use rand::distr::{Alphanumeric, SampleString};
        let mut rng = rand::rng();
        let token = format!(
            "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.{}.{}",
            Alphanumeric.sample_string(&mut rng, 64),
            Alphanumeric.sample_string(&mut rng, 43)
        );
        let issued = IssuedToken {
            agent,
            client_id: client_id.to_string(),
            expires: Instant::now() + Duration::from_secs(self.config.token_ttl_secs),
        };
        mutex(&self.tokens).insert(token.clone(), issued);
        mutex(&self.counters).tokens_issued += 1;
        token
    }

    /// The agent and client id of the request's bearer token, or why there are none.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(Agent, String), BearerError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or(BearerError::Missing)?;
        let tokens = mutex(&self.tokens);
        let issued = tokens.get(token).ok_or(BearerError::Invalid)?;
        if issued.expires <= Instant::now() {
            return Err(BearerError::Expired);
        }
        Ok((issued.agent, issued.client_id.clone()))
    }

    /// Expires every issued token.
    fn expire_tokens(&self) {
        let now = Instant::now();
        for t in mutex(&self.tokens).values_mut() {
            t.expires = t.expires.min(now);
        }
    }
}

/// An error body of the resource server: `{"message": ...}`.
fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

/// An OAuth error of the authorisation server.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The path for `by_path`: the entity spelled as Halo does, numeric segments as `{id}`.
fn path_key(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, s)| {
            if i == 1 && s.eq_ignore_ascii_case("api") {
                "api".to_string()
            } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}".to_string()
            } else if i == 2 {
                HaloEntity::from_path(s).map_or_else(|| s.to_string(), |e| e.path().to_string())
            } else {
                s.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `path` is under `/api` (ignoring case).
fn is_api(path: &str) -> bool {
    path.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("/api"))
        && matches!(path.as_bytes().get(4), None | Some(b'/'))
}

/// Routes of the Halo port.
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/auth/token", post(token))
        .route("/_sandbox/stats", get(sandbox_stats))
        .route("/api/{entity}", get(list).post(save))
        .route("/api/{entity}/{id}", get(one))
        .fallback(|| async {
            message(
                StatusCode::NOT_FOUND,
                "No HTTP resource was found that matches the request URI",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// For API requests: counting, the bearer token and the rate limit, in that order.
async fn gate(AxState(state): AxState<Arc<State>>, mut req: Request, next: Next) -> Response {
    let halo = &state.halo;
    let path = req.uri().path();
    if !is_api(path) {
        return next.run(req).await;
    }
    {
        let mut c = mutex(&halo.counters);
        c.requests += 1;
        *c.by_path.entry(path_key(path)).or_default() += 1;
    }
    let (agent, client_id) = match halo.authenticate(req.headers()) {
        Ok(a) => a,
        Err(e) => {
            mutex(&halo.counters).rejected_401 += 1;
            let challenge = match e {
                BearerError::Missing => "Bearer",
                BearerError::Invalid => "Bearer error=\"invalid_token\"",
                BearerError::Expired => {
                    "Bearer error=\"invalid_token\", error_description=\"The token expired\""
                }
            };
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
    };
    let (verdict, limit) = {
        let mut l = mutex(&halo.limiter);
        (l.admit(&client_id, Instant::now()), l.limit())
    };
    if let Verdict::Refused { retry_after_secs } = verdict {
        mutex(&halo.counters).rejected_429 += 1;
        let (requests, window) = limit.unwrap_or_default();
        let mut r = message(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "API rate limit exceeded: {requests} requests per {window} seconds are allowed for this application; try again in {retry_after_secs} seconds"
            ),
        );
        if halo.config.send_retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        return r;
    }
    req.extensions_mut().insert(Caller(agent));
    next.run(req).await
}

type Params = Query<Vec<(String, String)>>;

/// `POST /auth/token`.
async fn token(
    AxState(state): AxState<Arc<State>>,
    Query(q): Params,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let halo = &state.halo;
    mutex(&halo.counters).token_requests += 1;
    let answer = token_answer(halo, &q, &headers, form);
    if !answer.status().is_success() {
        mutex(&halo.counters).token_refused += 1;
    }
    answer
}

fn token_answer(
    halo: &Halo,
    q: &[(String, String)],
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Some(tenant) = &halo.config.tenant {
        let asked = param(q, "tenant").unwrap_or_default();
        if !asked.trim().eq_ignore_ascii_case(tenant) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Tenant '{asked}' was not found"),
            );
        }
    }
    let Ok(Form(fields)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded",
        );
    };
    let grant = param(&fields, "grant_type").unwrap_or_default();
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("The grant type '{grant}' is not supported: use client_credentials"),
        );
    }
    let (client_id, secret) = match (param(&fields, "client_id"), param(&fields, "client_secret")) {
        (Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        _ => basic_credentials(headers).unwrap_or_default(),
    };
    let Some(agent) = halo.agent(&client_id, &secret) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client id or client secret is not valid",
        );
    };
    let scope = param(&fields, "scope")
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("all")
        .to_string();
    let token = halo.issue_token(agent, &client_id);
    let mut r = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": halo.config.token_ttl_secs,
        "scope": scope,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `client_id:client_secret` from an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The first value of parameter `name` (ignoring case, as ASP.NET binds them).
fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn flag(q: &[(String, String)], name: &str) -> bool {
    param(q, name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn number(q: &[(String, String)], name: &str) -> Option<u64> {
    param(q, name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
}

async fn sandbox_stats(AxState(state): AxState<Arc<State>>) -> Json<Value> {
    Json(json!({"halo": state.halo.stats()}))
}

fn unknown_entity() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No HTTP resource was found that matches the request URI",
    )
}

fn assets_forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "You do not have access to any asset group: grant this API agent access in the Asset Group's Access Control settings",
    )
}

/// Whether the restricted agent is refused (403) on `entity`: counts it when so.
fn forbidden(halo: &Halo, agent: Agent, entity: HaloEntity) -> bool {
    let refused = agent == Agent::Limited
        && entity == HaloEntity::Asset
        && halo.config.limited_assets_forbidden;
    if refused {
        mutex(&halo.counters).rejected_403 += 1;
    }
    refused
}

/// Orders two JSON values: numbers numerically, strings ignoring case, others as text.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or_default()
            .total_cmp(&y.as_f64().unwrap_or_default()),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// `GET /api/{entity}`.
async fn list(
    AxState(state): AxState<Arc<State>>,
    Extension(Caller(agent)): Extension<Caller>,
    Path(segment): Path<String>,
    Query(q): Params,
) -> Response {
    let halo = &state.halo;
    let Some(entity) = HaloEntity::from_path(&segment) else {
        return unknown_entity();
    };
    if forbidden(halo, agent, entity) {
        return assets_forbidden();
    }
    let hidden = agent == Agent::Limited && entity == HaloEntity::Asset;
    let include_inactive = flag(&q, "includeinactive");
    let filters: Vec<(&str, u64)> = entity
        .filters()
        .iter()
        .filter_map(|f| number(&q, f).map(|n| (*f, n)))
        .collect();
    let search = param(&q, "search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let store = halo.read();
    let mut rows: Vec<&Value> = store
        .table(entity)
        .values()
        .filter(|_| !hidden)
        .filter(|r| {
            include_inactive
                || !entity.hides_inactive()
                || !r["inactive"].as_bool().unwrap_or(false)
        })
        .filter(|r| filters.iter().all(|(f, n)| r[*f].as_u64() == Some(*n)))
        .filter(|r| {
            search.as_deref().is_none_or(|s| {
                entity
                    .search_fields()
                    .iter()
                    .any(|f| r[*f].as_str().is_some_and(|v| v.to_lowercase().contains(s)))
            })
        })
        .collect();
    if let Some(field) = param(&q, "order").map(str::trim).filter(|f| !f.is_empty()) {
        let field = field.to_ascii_lowercase();
        rows.sort_by(|a, b| compare(&a[field.as_str()], &b[field.as_str()]));
    }
    if flag(&q, "orderdesc") {
        rows.reverse();
    }
    let Some(key) = entity.list_key() else {
        return Json(rows).into_response();
    };
    let total = rows.len();
    if flag(&q, "pageinate") {
        let size = number(&q, "page_size")
            .map_or(DEFAULT_PAGE_SIZE, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            })
            .clamp(1, halo.config.max_page_size.max(1));
        let page = number(&q, "page_no").map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let start = (page - 1).saturating_mul(size);
        let records: Vec<&Value> = rows.into_iter().skip(start).take(size).collect();
        return Json(json!({
            "page_no": page,
            "page_size": size,
            "record_count": total,
            key: records,
        }))
        .into_response();
    }
    let records: Vec<&Value> = rows.into_iter().take(halo.config.unpaged_cap).collect();
    Json(json!({ "record_count": total, key: records })).into_response()
}

/// `GET /api/{entity}/{id}`.
async fn one(
    AxState(state): AxState<Arc<State>>,
    Extension(Caller(agent)): Extension<Caller>,
    Path((segment, id)): Path<(String, String)>,
) -> Response {
    let halo = &state.halo;
    let Some(entity) = HaloEntity::from_path(&segment) else {
        return unknown_entity();
    };
    if forbidden(halo, agent, entity) {
        return assets_forbidden();
    }
    let hidden = agent == Agent::Limited && entity == HaloEntity::Asset;
    let store = halo.read();
    let found = id
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|id| store.table(entity).get(&id))
        .filter(|_| !hidden);
    match found {
        Some(r) => Json(r).into_response(),
        None => message(
            StatusCode::NOT_FOUND,
            &format!("{} {id} was not found", entity.path()),
        ),
    }
}

/// `POST /api/{entity}`: knowledge-base upserts.
async fn save(
    AxState(state): AxState<Arc<State>>,
    Path(segment): Path<String>,
    body: Bytes,
) -> Response {
    let halo = &state.halo;
    let Some(entity) = HaloEntity::from_path(&segment) else {
        return unknown_entity();
    };
    if entity != HaloEntity::KbArticle {
        let mut r = message(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!(
                "The sandbox emulates POST for /api/KBArticle only, not /api/{}",
                entity.path()
            ),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    let items = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "The request body must be a JSON array of KBArticle objects",
            )
        }
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!("The request body is not valid JSON: {e}"),
            )
        }
    };
    let saved = match halo.write().save_articles(&items) {
        Ok(saved) => saved,
        Err(store::Invalid(why)) => return message(StatusCode::BAD_REQUEST, &why),
    };
    let created = saved.iter().filter(|(_, c)| *c).count() as u64;
    {
        let mut c = mutex(&halo.counters);
        c.kb_creates += created;
        c.kb_updates += saved.len() as u64 - created;
    }
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut articles: Vec<Value> = saved.into_iter().map(|(a, _)| a).collect();
    if articles.len() == 1 {
        let article = articles.pop().unwrap_or_default();
        return (status, Json(article)).into_response();
    }
    (status, Json(articles)).into_response()
}

impl Sandbox {
    /// Halo's resource server, e.g. `http://127.0.0.1:41234/api` (append `/Client`, ...).
    pub fn halo_api_url(&self) -> String {
        format!("{}/api", self.halo_url)
    }

    /// Halo's authorisation server, e.g. `http://127.0.0.1:41234/auth` (append
    /// `/token?tenant=mymsp`).
    pub fn halo_auth_url(&self) -> String {
        format!("{}/auth", self.halo_url)
    }

    /// Halo counters.
    pub fn halo_stats(&self) -> HaloStats {
        self.state.halo.stats()
    }

    /// Zeroes the Halo counters (budgets and tokens are kept).
    pub fn reset_halo_stats(&self) {
        self.state.halo.reset_stats();
    }

    /// Changes Halo's budget per client id, `(requests, window_secs)` in any rolling window
    /// (`None` = unlimited); the logs of past requests are kept.
    pub fn set_halo_rate_limit(&self, limit: Option<(u32, u64)>) {
        mutex(&self.state.halo.limiter).set_limit(limit);
    }

    /// Expires every access token issued so far: their next use answers 401 (new tokens
    /// work), as when a token runs out in the middle of a sync.
    pub fn halo_expire_tokens(&self) {
        self.state.halo.expire_tokens();
    }

    /// Inserts a record (not counted in stats): `record` is merged over the entity's
    /// defaults (`inactive: false`, ...) and gets the next id; a `client_id` (`site_id`,
    /// `assettype_id`) gets its `client_name` (`site_name`, `assettype_name`). Returns the id.
    pub fn halo_insert(&self, entity: HaloEntity, record: Value) -> u64 {
        self.state.halo.write().insert(entity, record)
    }

    /// Applies a JSON merge patch to record `id` (e.g. `{"inactive": true}`); renaming a
    /// client, site or asset type renames it in the records pointing at it. False when there
    /// is no such record.
    pub fn halo_update(&self, entity: HaloEntity, id: u64, patch: Value) -> bool {
        self.state.halo.write().update(entity, id, &patch)
    }

    /// Deletes record `id` for good; false when there is none.
    pub fn halo_remove(&self, entity: HaloEntity, id: u64) -> bool {
        self.state.halo.write().remove(entity, id)
    }

    /// A snapshot of the records of `entity`, by id (inactive ones included).
    pub fn halo_records(&self, entity: HaloEntity) -> Vec<Value> {
        self.state
            .halo
            .read()
            .table(entity)
            .values()
            .cloned()
            .collect()
    }

    /// A snapshot of the knowledge-base articles, by id.
    pub fn halo_kb_articles(&self) -> Vec<Value> {
        self.halo_records(HaloEntity::KbArticle)
    }

    /// Adds `n` active assets to client `client_id` (fast: for large tests); returns their
    /// ids (none for an unknown client).
    pub fn halo_add_assets(&self, client_id: u64, n: usize) -> Vec<u64> {
        self.state.halo.write().add_assets(client_id, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_recognised_ignoring_case() {
        assert!(is_api("/api"));
        assert!(is_api("/API/Client"));
        assert!(!is_api("/apis/Client"));
        assert!(!is_api("/auth/token"));
        assert_eq!(path_key("/api/client/12"), "/api/Client/{id}");
        assert_eq!(path_key("/api/clientcontract"), "/api/ClientContract");
        assert_eq!(path_key("/api/nothing"), "/api/nothing");
        assert_eq!(
            HaloEntity::from_path("kbarticle"),
            Some(HaloEntity::KbArticle)
        );
        assert_eq!(HaloEntity::from_path("User"), None);
    }

    #[test]
    fn agents_authenticate_with_bearer_tokens() {
        let halo = Halo::new(&HaloConfig::default());
        let c = HaloConfig::default();
        assert_eq!(
            halo.agent(&c.client_id, &c.client_secret),
            Some(Agent::Full)
        );
        assert_eq!(
            halo.agent(&c.limited_client_id, &c.limited_client_secret),
            Some(Agent::Limited)
        );
        assert_eq!(halo.agent(&c.client_id, "wrong"), None);
        let token = halo.issue_token(Agent::Full, &c.client_id);
        let mut h = HeaderMap::new();
        assert_eq!(halo.authenticate(&h), Err(BearerError::Missing));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert_eq!(
            halo.authenticate(&h),
            Ok((Agent::Full, c.client_id.clone()))
        );
        halo.expire_tokens();
        assert_eq!(halo.authenticate(&h), Err(BearerError::Expired));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(halo.authenticate(&h), Err(BearerError::Invalid));
    }
}
