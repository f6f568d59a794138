//! ConnectWise Manage (PSA): `GET /login/companyinfo/{companyId}` (codebase discovery) and the
//! REST API under `/{codebase}apis/3.0` on its own port: companies (with statuses, types and
//! sites), contacts, configurations (with types) and agreements, read-only.
//!
//! It behaves like the real service where docsync depends on it: Basic auth of
//! `{companyId}+{publicKey}:{privateKey}` plus a GUID `clientId` header on every call (401
//! otherwise), an API member whose security role lacks Configurations (403), `page` /
//! `pageSize` paging capped at 1000 and forward-only paging with a `Link` header, `/count`,
//! the `conditions` language (see [`conditions`]), `orderBy` and `fields`, 400 `InvalidObject`
//! for an unknown field, 414 past 2000 characters of URL, and a sliding one-second budget per
//! API member that answers 429 with `Retry-After: 1`. The records are deterministic (see
//! [`records`]) and tests change them in-process through the `cw_*` methods of
//! [`Sandbox`](crate::Sandbox); `GET /_sandbox/stats` shows the counters.

mod conditions;
mod limit;
mod query;
mod records;
mod store;

use crate::state::State;
use crate::Sandbox;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use base64::Engine;
use limit::MemberWindow;
use query::{ListParams, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
use store::CwStore;

/// Requests whose path and query are longer than this are refused (414).
const MAX_URL: usize = 2000;

/// How the ConnectWise emulator is populated and secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectWiseConfig {
    /// The company id members log in with (matched ignoring case), e.g. `mymsp`.
    pub company_id: String,
    /// The full API member's public key.
    pub public_key: String,
    /// The full API member's private key.
    pub private_key: String,
    /// A client id for integrations to send (any GUID is accepted in the `clientId` header).
    pub client_id: String,
    /// A second API member whose security role lacks Inquire on Configurations: every
    /// `/company/configurations*` request of it answers 403.
    pub limited_public_key: String,
    /// That member's private key.
    pub limited_private_key: String,
    /// Companies, ids `250..250 + companies`.
    pub companies: usize,
    /// Contacts per company.
    pub contacts_per_company: usize,
    /// Configurations per company (the last one of each is inactive).
    pub configurations_per_company: usize,
    /// Agreements per company (the first Active, the second Cancelled, ...).
    pub agreements_per_company: usize,
    /// Sites per company.
    pub sites_per_company: usize,
    /// Requests admitted per API member in any sliding second; `None` means unlimited.
    pub rate_limit_per_second: Option<u32>,
    /// The codebase `companyinfo` announces and the API lives under, e.g. `v2025_1/`.
    pub codebase: String,
}

impl Default for ConnectWiseConfig {
    fn default() -> Self {
        ConnectWiseConfig {
            company_id: "mymsp".into(),
            public_key: "sandboxpublic016".into(),
            private_key: "sandboxprivate0123456789".into(),
            client_id: "0f3c2b7e-5d1a-4c3b-9e8f-7a6b5c4d3e2f".into(),
            limited_public_key: "sandboxlimited01".into(),
            limited_private_key: "sandboxlimitedpriv0123456".into(),
            companies: 6,
            contacts_per_company: 3,
            configurations_per_company: 4,
            agreements_per_company: 2,
            sites_per_company: 1,
            rate_limit_per_second: Some(40),
            codebase: "v2025_1/".into(),
        }
    }
}

/// A ConnectWise entity the mutation API of [`Sandbox`] works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CwEntity {
    /// `/company/companies` (ids from 250).
    Company,
    /// `/company/contacts` (ids from 1000).
    Contact,
    /// `/company/configurations` (ids from 5000).
    Configuration,
    /// `/finance/agreements` (ids from 100).
    Agreement,
    /// `/company/companies/{id}/sites` (ids from 10).
    Site,
}

impl CwEntity {
    /// Every entity.
    pub const ALL: [CwEntity; 5] = [
        CwEntity::Company,
        CwEntity::Contact,
        CwEntity::Configuration,
        CwEntity::Agreement,
        CwEntity::Site,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            CwEntity::Company => 0,
            CwEntity::Contact => 1,
            CwEntity::Configuration => 2,
            CwEntity::Agreement => 3,
            CwEntity::Site => 4,
        }
    }

    fn label(self) -> &'static str {
        match self {
            CwEntity::Company => "Company",
            CwEntity::Contact => "Contact",
            CwEntity::Configuration => "Configuration",
            CwEntity::Agreement => "Agreement",
            CwEntity::Site => "Site",
        }
    }
}

/// ConnectWise request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CwStats {
    /// Every request under the API base (`/{codebase}apis/3.0`), whatever the answer.
    pub requests: u64,
    /// Requests refused by the rate limit.
    pub rejected_429: u64,
    /// The most authenticated requests of one API member within any sliding second, refused
    /// ones included: above the budget means the client overran it.
    pub max_requests_in_any_second: u32,
    /// API requests by path without the API base and the query, numeric segments replaced by
    /// `{id}`, e.g. `/company/companies/{id}/sites`.
    pub by_path: BTreeMap<String, u64>,
    /// `GET /login/companyinfo/{companyId}` requests (not in `requests`).
    pub companyinfo_requests: u64,
}

/// An authenticated API member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    /// Every module.
    Full,
    /// No Configurations.
    Limited,
}

/// A list the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Entity(CwEntity),
    Statuses,
    CompanyTypes,
    ConfigurationTypes,
}

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    rejected_429: u64,
    by_path: BTreeMap<String, u64>,
    companyinfo_requests: u64,
}

/// The emulator's data, budget and counters (part of the shared state).
#[derive(Debug)]
pub(crate) struct ConnectWise {
    config: ConnectWiseConfig,
    /// `/{codebase}apis/3.0`.
    base: String,
    store: RwLock<CwStore>,
    statuses: Vec<Value>,
    company_types: Vec<Value>,
    configuration_types: Vec<Value>,
    /// Per entity, then statuses, company types, configuration types.
    schemas: [Schema; 8],
    limit: Mutex<Option<u32>>,
    windows: Mutex<HashMap<String, MemberWindow>>,
    counters: Mutex<Counters>,
}

fn mutex<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The API base for a codebase: `v2025_1/` gives `/v2025_1/apis/3.0`.
fn api_base(codebase: &str) -> String {
    match codebase.trim_matches('/') {
        "" => "/apis/3.0".into(),
        cb => format!("/{cb}/apis/3.0"),
    }
}

impl ConnectWise {
    /// The fixtures and budget of `config`.
    pub(crate) fn new(config: &ConnectWiseConfig) -> Self {
        let [company, contact, configuration, agreement, site] = records::templates();
        let (statuses, company_types, configuration_types) = (
            records::company_statuses(),
            records::company_types(),
            records::configuration_types(),
        );
        let schemas = [
            Schema::new("company", company),
            Schema::new("contact", contact),
            Schema::new("configuration", configuration),
            Schema::new("agreement", agreement),
            Schema::new("site", site),
            Schema::new("companyStatus", statuses[0].clone()),
            Schema::new("companyType", company_types[0].clone()),
            Schema::new("configurationType", configuration_types[0].clone()),
        ];
        ConnectWise {
            base: api_base(&config.codebase),
            store: RwLock::new(CwStore::generate(config)),
            statuses,
            company_types,
            configuration_types,
            schemas,
            limit: Mutex::new(config.rate_limit_per_second),
            windows: Mutex::new(HashMap::new()),
            counters: Mutex::new(Counters::default()),
            config: config.clone(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, CwStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, CwStore> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    fn schema(&self, listing: Listing) -> &Schema {
        let i = match listing {
            Listing::Entity(e) => e.index(),
            Listing::Statuses => 5,
            Listing::CompanyTypes => 6,
            Listing::ConfigurationTypes => 7,
        };
        &self.schemas[i]
    }

    /// The records of `listing` with an id above `after`, by id.
    fn rows<'a>(
        &'a self,
        store: &'a CwStore,
        listing: Listing,
        after: u64,
    ) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        let fixed = match listing {
            Listing::Entity(e) => {
                return Box::new(
                    store
                        .table(e)
                        .range((Bound::Excluded(after), Bound::Unbounded))
                        .map(|(_, v)| v),
                )
            }
            Listing::Statuses => &self.statuses,
            Listing::CompanyTypes => &self.company_types,
            Listing::ConfigurationTypes => &self.configuration_types,
        };
        Box::new(
            fixed
                .iter()
                .filter(move |v| v["id"].as_u64().unwrap_or_default() > after),
        )
    }

    /// The counters.
    pub(crate) fn stats(&self) -> CwStats {
        let c = mutex(&self.counters);
        CwStats {
            requests: c.requests,
            rejected_429: c.rejected_429,
            max_requests_in_any_second: mutex(&self.windows)
                .values()
                .map(MemberWindow::max_in_second)
                .max()
                .unwrap_or(0),
            by_path: c.by_path.clone(),
            companyinfo_requests: c.companyinfo_requests,
        }
    }

    /// Zeroes the counters (budgets are kept).
    pub(crate) fn reset_stats(&self) {
        *mutex(&self.counters) = Counters::default();
        for w in mutex(&self.windows).values_mut() {
            w.reset_stats();
        }
    }

    /// Which member the `Authorization` header names, or why it names none.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(Member, String), &'static str> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        let Some((scheme, encoded)) = value.split_once(' ') else {
            return Err("Authorization header is missing: send Basic base64(companyId+publicKey:privateKey)");
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("Only Basic authorization is supported: Basic base64(companyId+publicKey:privateKey)");
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or("The Authorization header is not valid base64")?;
        let (user, private) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let (company, public) = user.split_once('+').unwrap_or(("", user));
        let c = &self.config;
        if !company.eq_ignore_ascii_case(&c.company_id) {
            return Err("Invalid company, public key or private key");
        }
        if public == c.public_key && private == c.private_key {
            Ok((Member::Full, public.to_string()))
        } else if public == c.limited_public_key && private == c.limited_private_key {
            Ok((Member::Limited, public.to_string()))
        } else {
            Err("Invalid company, public key or private key")
        }
    }
}

/// What the routes of the port share.
#[derive(Debug)]
pub(crate) struct Port {
    state: Arc<State>,
    url: String,
}

impl Port {
    fn cw(&self) -> &ConnectWise {
        &self.state.connectwise
    }
}

/// An error body in ConnectWise's shape: `{"code", "message"}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// A 400 `InvalidObject` naming the field at fault.
fn invalid(resource: &str, e: query::Invalid) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "code": "InvalidObject",
            "message": format!("{resource} object is invalid"),
            "errors": [{
                "code": "InvalidField",
                "message": e.message,
                "resource": resource,
                "field": e.field,
            }],
        })),
    )
        .into_response()
}

fn not_found_record(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{what} ID {id} was not found."),
    )
}

/// The path for `by_path`: numeric segments become `{id}`.
fn path_key(rest: &str) -> String {
    if rest.is_empty() {
        return "/".into();
    }
    rest.split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Routes of the ConnectWise port.
pub(crate) fn router(state: Arc<State>, url: String) -> Router {
    let base = state.connectwise.base.clone();
    let port = Arc::new(Port { state, url });
    let p = |s: &str| format!("{base}{s}");
    let mut api = Router::new()
        .route("/login/companyinfo/{company}", get(company_info))
        .route("/_sandbox/stats", get(sandbox_stats))
        .route(&p("/system/info"), get(system_info));
    let lists = [
        ("/company/companies", Listing::Entity(CwEntity::Company)),
        ("/company/companies/statuses", Listing::Statuses),
        ("/company/companies/types", Listing::CompanyTypes),
        ("/company/contacts", Listing::Entity(CwEntity::Contact)),
        (
            "/company/configurations",
            Listing::Entity(CwEntity::Configuration),
        ),
        ("/company/configurations/types", Listing::ConfigurationTypes),
        ("/finance/agreements", Listing::Entity(CwEntity::Agreement)),
    ];
    for (path, listing) in lists {
        api = api
            .route(&p(path), list_route(listing, false))
            .route(&p(&format!("{path}/count")), list_route(listing, true));
        if let Listing::Entity(entity) = listing {
            api = api.route(&p(&format!("{path}/{{id}}")), one_route(entity));
        }
    }
    api.route(&p("/company/companies/{id}/sites"), sites_route(false))
        .route(&p("/company/companies/{id}/sites/count"), sites_route(true))
        .route(&p("/company/companies/{id}/sites/{site}"), get(site))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The requested resource was not found",
            )
        })
        .layer(middleware::from_fn_with_state(port.clone(), gate))
        .with_state(port)
}

/// For API requests: counting, URL length, auth, `clientId`, the rate limit and the
/// member's security role, in that order.
async fn gate(AxState(port): AxState<Arc<Port>>, req: Request, next: Next) -> Response {
    let cw = port.cw();
    let path = req.uri().path();
    let Some(rest) = path
        .strip_prefix(cw.base.as_str())
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        if path.starts_with("/login/companyinfo/") {
            mutex(&cw.counters).companyinfo_requests += 1;
        }
        return next.run(req).await;
    };
    let configurations = rest.starts_with("/company/configurations");
    {
        let mut c = mutex(&cw.counters);
        c.requests += 1;
        *c.by_path.entry(path_key(rest)).or_default() += 1;
    }
    let length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if length > MAX_URL {
        return (
            StatusCode::URI_TOO_LONG,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h2>Request URL Too Long</h2><p>HTTP Error 414. The request URL is too long.</p></body></html>",
        )
            .into_response();
    }
    let (member, key) = match cw.authenticate(req.headers()) {
        Ok(m) => m,
        Err(message) => return error(StatusCode::UNAUTHORIZED, "Unauthorized", message),
    };
    let client_id = req
        .headers()
        .get("clientid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if uuid::Uuid::try_parse(client_id.trim()).is_err() {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "clientId is required: send the clientId header with your integration's GUID from developer.connectwise.com",
        );
    }
    let limit = *mutex(&cw.limit);
    let admitted = mutex(&cw.windows)
        .entry(key)
        .or_default()
        .admit(Instant::now(), limit);
    if !admitted {
        mutex(&cw.counters).rejected_429 += 1;
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            &format!(
                "Too many requests: this API member may make {} requests per second",
                limit.unwrap_or_default()
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    if member == Member::Limited && configurations {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You do not have access to this module: the API member's security role has no Inquire level for Company > Configurations",
        );
    }
    next.run(req).await
}

type Params = Query<Vec<(String, String)>>;

async fn company_info(
    AxState(port): AxState<Arc<Port>>,
    Path(company): Path<String>,
) -> Json<Value> {
    let c = &port.cw().config;
    if !company.eq_ignore_ascii_case(&c.company_id) {
        return Json(Value::Null);
    }
    let site = port.url.split_once("://").map_or(&*port.url, |(_, h)| h);
    Json(json!({
        "CompanyName": "My MSP",
        "Codebase": c.codebase,
        "VersionCode": "v2025.1",
        "VersionNumber": "v4.6.98765",
        "CompanyID": c.company_id,
        "IsCloud": true,
        "SiteUrl": site,
    }))
}

async fn system_info() -> Json<Value> {
    Json(json!({
        "version": "v2025.1.98765",
        "isCloud": true,
        "serverTimeZone": "Eastern Standard Time",
    }))
}

async fn sandbox_stats(AxState(port): AxState<Arc<Port>>) -> Json<Value> {
    Json(json!({"connectwise": port.cw().stats()}))
}

fn list_route(listing: Listing, count: bool) -> MethodRouter<Arc<Port>> {
    get(
        move |AxState(port): AxState<Arc<Port>>, uri: Uri, headers: HeaderMap, Query(q): Params| async move {
            answer_list(&port, listing, None, &uri, &headers, &q, count)
        },
    )
}

fn sites_route(count: bool) -> MethodRouter<Arc<Port>> {
    get(
        move |AxState(port): AxState<Arc<Port>>,
              Path(id): Path<String>,
              uri: Uri,
              headers: HeaderMap,
              Query(q): Params| async move {
            let company = id
                .parse::<u64>()
                .ok()
                .filter(|id| port.cw().read().table(CwEntity::Company).contains_key(id));
            match company {
                Some(c) => answer_list(
                    &port,
                    Listing::Entity(CwEntity::Site),
                    Some(c),
                    &uri,
                    &headers,
                    &q,
                    count,
                ),
                None => not_found_record("Company", &id),
            }
        },
    )
}

fn one_route(entity: CwEntity) -> MethodRouter<Arc<Port>> {
    get(
        move |AxState(port): AxState<Arc<Port>>, Path(id): Path<String>, Query(q): Params| async move {
            answer_one(&port, entity, &id, None, &q)
        },
    )
}

async fn site(
    AxState(port): AxState<Arc<Port>>,
    Path((company, site)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    match company.parse::<u64>() {
        Ok(c) => answer_one(&port, CwEntity::Site, &site, Some(c), &q),
        Err(_) => not_found_record("Company", &company),
    }
}

fn answer_one(
    port: &Port,
    entity: CwEntity,
    id: &str,
    company: Option<u64>,
    q: &[(String, String)],
) -> Response {
    let cw = port.cw();
    let fields = query::fields(q, cw.schema(Listing::Entity(entity)));
    let store = cw.read();
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|id| store.table(entity).get(&id))
        .filter(|r| {
            company.is_none_or(|c| r.pointer("/company/id").and_then(Value::as_u64) == Some(c))
        });
    match found {
        Some(r) => Json(query::project_fields(r, fields.as_deref())).into_response(),
        None => not_found_record(entity.label(), id),
    }
}

/// A list (or its `/count`) of `listing`, for sites those of `company`.
fn answer_list(
    port: &Port,
    listing: Listing,
    company: Option<u64>,
    uri: &Uri,
    headers: &HeaderMap,
    q: &[(String, String)],
    count: bool,
) -> Response {
    let cw = port.cw();
    let schema = cw.schema(listing);
    let params = match query::list_params(q, schema) {
        Ok(p) => p,
        Err(e) => return invalid(schema.resource, e),
    };
    let store = cw.read();
    let keep = |r: &&Value| {
        company.is_none_or(|c| r.pointer("/company/id").and_then(Value::as_u64) == Some(c))
            && params.matches(r)
    };
    if count {
        let n = cw.rows(&store, listing, 0).filter(keep).count();
        return Json(json!({ "count": n })).into_response();
    }
    let forward_only = headers
        .get("pagination-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
    let path = uri.path();
    if forward_only {
        let mut page: Vec<&Value> = cw
            .rows(&store, listing, params.page_id)
            .filter(keep)
            .take(params.page_size + 1)
            .collect();
        let more = page.len() > params.page_size;
        page.truncate(params.page_size);
        let body: Vec<Value> = page.iter().map(|r| params.project(r)).collect();
        let mut response = Json(body).into_response();
        let last = page.last().and_then(|r| r["id"].as_u64());
        if let (true, Some(last)) = (more, last) {
            let next = query::page_url(&port.url, path, q, &[("pageId", last)]);
            if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                response.headers_mut().insert(header::LINK, v);
            }
        }
        return response;
    }
    let mut rows: Vec<&Value> = cw.rows(&store, listing, 0).filter(keep).collect();
    match params.by_id() {
        Some(false) => {}
        Some(true) => rows.reverse(),
        None => params.sort(&mut rows),
    }
    navigable_page(port, &params, path, q, &rows)
}

/// One page of `rows` with the `Link` header of navigable paging (`first`, `prev`, `next`,
/// `last` as they apply).
fn navigable_page(
    port: &Port,
    params: &ListParams,
    path: &str,
    q: &[(String, String)],
    rows: &[&Value],
) -> Response {
    let size = params.page_size;
    let start = (params.page - 1).saturating_mul(size);
    let body: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(size)
        .map(|r| params.project(r))
        .collect();
    let mut response = Json(body).into_response();
    let pages = rows.len().div_ceil(size).max(1) as u64;
    let page = params.page as u64;
    let link = |n: u64, rel: &str| {
        let url = query::page_url(&port.url, path, q, &[("page", n)]);
        format!("<{url}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link((page - 1).min(pages), "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    response
}

impl Sandbox {
    /// The ConnectWise API base, e.g. `http://127.0.0.1:41234/v2025_1/apis/3.0` (append
    /// `/company/companies`, ...).
    pub fn cw_api_url(&self) -> String {
        format!("{}{}", self.connectwise_url, self.state.connectwise.base)
    }

    /// ConnectWise counters.
    pub fn cw_stats(&self) -> CwStats {
        self.state.connectwise.stats()
    }

    /// Zeroes the ConnectWise counters (budgets are kept).
    pub fn reset_cw_stats(&self) {
        self.state.connectwise.reset_stats();
    }

    /// Changes ConnectWise's budget per API member and second (`None` = unlimited).
    pub fn set_cw_rate_limit(&self, per_second: Option<u32>) {
        *mutex(&self.state.connectwise.limit) = per_second;
    }

    /// Inserts a record (not counted in stats): `record` is merged over the entity's defaults,
    /// gets the next id and `_info.lastUpdated` = now, and a `company: {"id": ..}` reference
    /// is completed with the company's identifier and name. Returns the id.
    pub fn cw_insert(&self, entity: CwEntity, record: Value) -> u64 {
        self.state.connectwise.write().insert(entity, record)
    }

    /// Applies a JSON merge patch to record `id` and bumps its `_info.lastUpdated` to now
    /// (unless the patch sets it); false when there is no such record. Companies are
    /// soft-deleted this way: `{"deletedFlag": true}`.
    pub fn cw_update(&self, entity: CwEntity, id: u64, patch: Value) -> bool {
        self.state.connectwise.write().update(entity, id, &patch)
    }

    /// Deletes record `id` for good (it disappears from lists); false when there is none.
    /// The real service soft-deletes companies: prefer `cw_update` with `deletedFlag`.
    pub fn cw_remove(&self, entity: CwEntity, id: u64) -> bool {
        self.state.connectwise.write().remove(entity, id)
    }

    /// A snapshot of the records of `entity`, by id.
    pub fn cw_records(&self, entity: CwEntity) -> Vec<Value> {
        self.state
            .connectwise
            .read()
            .table(entity)
            .values()
            .cloned()
            .collect()
    }

    /// Adds `n` active configurations to company `company_id` (fast: for 10,000-record
    /// tests), stamped now; returns their ids (none for an unknown company).
    pub fn cw_add_configurations(&self, company_id: u64, n: usize) -> Vec<u64> {
        self.state
            .connectwise
            .write()
            .add_configurations(company_id, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_and_path_keys() {
        assert_eq!(api_base("v2025_1/"), "/v2025_1/apis/3.0");
        assert_eq!(api_base("/v4_6_release/"), "/v4_6_release/apis/3.0");
        assert_eq!(api_base(""), "/apis/3.0");
        assert_eq!(
            path_key("/company/companies/250/sites"),
            "/company/companies/{id}/sites"
        );
        assert_eq!(
            path_key("/company/companies/count"),
            "/company/companies/count"
        );
        assert_eq!(path_key(""), "/");
    }

    #[test]
    fn members_authenticate_with_basic_auth() {
        let cw = ConnectWise::new(&ConnectWiseConfig::default());
        let auth = |user: &str, pass: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
            );
            cw.authenticate(&h).map(|(m, _)| m)
        };
        assert_eq!(
            auth("MyMSP+sandboxpublic016", "sandboxprivate0123456789"),
            Ok(Member::Full)
        );
        assert_eq!(
            auth("mymsp+sandboxlimited01", "sandboxlimitedpriv0123456"),
            Ok(Member::Limited)
        );
        assert!(auth("mymsp+sandboxpublic016", "wrong").is_err());
        assert!(auth("other+sandboxpublic016", "sandboxprivate0123456789").is_err());
        assert!(auth("sandboxpublic016", "sandboxprivate0123456789").is_err());
        assert!(cw.authenticate(&HeaderMap::new()).is_err());
    }
}
