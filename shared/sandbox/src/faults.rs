//! Switchable faults.
//!
//! Two families live here. The original per-provider switches of [`Faults`] (every-nth 429s
//! and 5xx answers, added latency) are applied by each emulator inside its own request gate.
//! The [`FaultRule`]s act like a misbehaving load balancer in front of a provider's port(s),
//! optionally for one endpoint (a path prefix): added latency, a fraction of requests
//! answered 500/502/503 or 429, connections closed without an answer (before the emulator sees
//! the request, or after it processed it), answers cut short into malformed JSON, and answers
//! that never come. Which requests a rate hits is decided by a generator seeded with
//! [`Faults::seed`], so a sequential test sees the same sequence every time.
//!
//! The `/_sandbox/faults` routes (`GET` and `PUT`, JSON of [`Faults`]) on every port switch
//! them from another process; `/_sandbox/*` routes are never faulted.

use crate::state::State;
use crate::Faults;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The emulator (group of ports) a [`FaultRule`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultProvider {
    /// The Microsoft Graph port (paths such as `/v1.0/users`).
    Graph,
    /// The Entra token endpoint port (paths such as `/{tenant}/oauth2/v2.0/token`).
    Login,
    /// The Exchange admin port (paths such as `/adminapi/beta/{tenant}/InvokeCommand`).
    Exchange,
    /// The Hudu port (paths such as `/api/v1/articles`; a prefix may leave out `/api/v1`).
    Hudu,
    /// The three IT Glue ports (paths such as `/flexible_assets`).
    #[serde(rename = "itglue")]
    ItGlue,
    /// The ConnectWise Manage port (paths such as `/v2025_1/apis/3.0/company/companies`; a
    /// prefix may leave out `/{codebase}apis/3.0`).
    #[serde(rename = "connectwise")]
    ConnectWise,
    /// The HaloPSA / HaloITSM port: the resource server (paths such as `/api/Client`; a
    /// prefix may leave out `/api`, and matches ignoring case as Halo's routes do) and the
    /// authorisation server (`/auth/token`).
    Halo,
    /// The Autotask port (zone discovery `/atservicesrest/v1.0/zoneInformation` and the API,
    /// paths such as `/zone5/ATServicesRest/V1.0/Companies/query`; a prefix may leave out
    /// `/zone5/ATServicesRest/V1.0`, e.g. `/Companies`, and is matched ignoring case).
    Autotask,
}

/// What a [`FaultRule`] does to the requests it matches. Rates are fractions from 0 to 1;
/// the rates of every rule matching a request add up (a sum over 1 starves the kinds listed
/// last here).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay every matching request by this many milliseconds before anything else (rules
    /// add up; the per-provider `*_latency_ms` fields come on top).
    LatencyMs(u64),
    /// Transit jitter: delay every matching request by a uniform draw from 0 to this many
    /// milliseconds before the emulator sees (and its rate limit counts) it, as a network
    /// does: requests sent evenly arrive unevenly.
    TransitJitterMs(u64),
    /// A provider's own answer time: the request is counted on arrival and processed at once,
    /// and its answer is held back by a lognormal draw with this median and 99th percentile
    /// (milliseconds), capped at 10 x the 99th percentile. What real providers look like: a
    /// few hundred milliseconds usually, seconds now and then.
    AnswerLatency {
        /// The median answer time.
        median_ms: u64,
        /// The 99th percentile (at least the median).
        p99_ms: u64,
    },
    /// This fraction of requests never gets an answer: the connection stays open and silent
    /// until the client gives up (or the sandbox stops). The emulator never sees them.
    HangRate(f64),
    /// This fraction of requests has its connection closed without an answer before the
    /// emulator sees it (nothing is written).
    ResetRate(f64),
    /// This fraction of requests is answered 429 with `Retry-After: 1` before the emulator
    /// sees it (not counted against the emulator's own budgets).
    ThrottleRate(f64),
    /// This fraction of requests is answered 500, 502 or 503 (in turn) before the emulator
    /// sees it (nothing is written).
    ErrorRate(f64),
    /// This fraction of requests is processed (writes take effect), then the connection is
    /// closed without an answer: the client cannot know the write happened.
    LostAnswerRate(f64),
    /// This fraction of requests is processed (writes take effect), then answered 200 with
    /// the first half of the emulator's body: truncated, unparseable JSON.
    MalformedRate(f64),
    /// This fraction of requests is processed (writes take effect), then answered 502 or 504
    /// (in turn), as a gateway does when the backend finished after it gave up waiting.
    ErrorAfterWriteRate(f64),
}

impl FaultKind {
    /// The same kind with its rate clamped to 0..=1 (not a number: 0).
    fn sanitized(self) -> Self {
        let clamp = |r: f64| if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) };
        match self {
            FaultKind::LatencyMs(ms) => FaultKind::LatencyMs(ms),
            FaultKind::TransitJitterMs(ms) => FaultKind::TransitJitterMs(ms),
            FaultKind::AnswerLatency { median_ms, p99_ms } => FaultKind::AnswerLatency {
                median_ms,
                p99_ms: p99_ms.max(median_ms),
            },
            FaultKind::HangRate(r) => FaultKind::HangRate(clamp(r)),
            FaultKind::ResetRate(r) => FaultKind::ResetRate(clamp(r)),
            FaultKind::ThrottleRate(r) => FaultKind::ThrottleRate(clamp(r)),
            FaultKind::ErrorRate(r) => FaultKind::ErrorRate(clamp(r)),
            FaultKind::LostAnswerRate(r) => FaultKind::LostAnswerRate(clamp(r)),
            FaultKind::MalformedRate(r) => FaultKind::MalformedRate(clamp(r)),
            FaultKind::ErrorAfterWriteRate(r) => FaultKind::ErrorAfterWriteRate(clamp(r)),
        }
    }

    /// The rate, for the kinds that have one.
    fn rate(self) -> Option<f64> {
        match self {
            FaultKind::LatencyMs(_)
            | FaultKind::TransitJitterMs(_)
            | FaultKind::AnswerLatency { .. } => None,
            FaultKind::HangRate(r)
            | FaultKind::ResetRate(r)
            | FaultKind::ThrottleRate(r)
            | FaultKind::ErrorRate(r)
            | FaultKind::LostAnswerRate(r)
            | FaultKind::MalformedRate(r)
            | FaultKind::ErrorAfterWriteRate(r) => Some(r),
        }
    }
}

/// One injected fault: what, on which provider, optionally only under one path prefix and
/// for one HTTP method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The emulator it applies to.
    pub provider: FaultProvider,
    /// Only requests whose path starts with this (e.g. `/flexible_assets`, `/v1.0/users`,
    /// `/api/v1/articles` or just `/articles` for Hudu, `/api/KBArticle` or just `/KBArticle`
    /// for Halo, ignoring case); `None`: every API request of the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Only requests with this method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`); `None`:
    /// every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// What happens to the requests it matches.
    pub kind: FaultKind,
}

/// The methods a rule can be limited to.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl FaultRule {
    /// A rule for every API request of `provider`.
    pub fn new(provider: FaultProvider, kind: FaultKind) -> Self {
        FaultRule {
            provider,
            path_prefix: None,
            method: None,
            kind,
        }
    }

    /// The same rule, limited to requests with `method` (e.g. `"POST"`: creates only).
    pub fn for_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// The same rule, limited to paths starting with `prefix`.
    pub fn on(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Why the rule cannot be used, if it cannot: a rate outside 0..=1 or a prefix that does
    /// not start with `/`.
    pub fn problem(&self) -> Option<String> {
        if let Some(rate) = self.kind.rate() {
            if !(0.0..=1.0).contains(&rate) {
                return Some(format!(
                    "{:?}: a rate is a fraction from 0 to 1, got {rate}",
                    self.kind
                ));
            }
        }
        if let Some(m) = &self.method {
            if !METHODS.contains(&m.as_str()) {
                return Some(format!(
                    "method must be one of {}, got {m:?}",
                    METHODS.join(", ")
                ));
            }
        }
        match &self.path_prefix {
            Some(p) if !p.starts_with('/') => Some(format!(
                "path_prefix must start with '/' (e.g. \"/flexible_assets\"), got {p:?}"
            )),
            _ => None,
        }
    }

    /// Whether the rule applies to a `method` request of `provider` for `path`.
    fn matches(&self, provider: FaultProvider, method: &str, path: &str) -> bool {
        if self.provider != provider || self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        let Some(prefix) = self.path_prefix.as_deref() else {
            return true;
        };
        path.starts_with(prefix)
            || (provider == FaultProvider::Hudu
                && path
                    .strip_prefix("/api/v1")
                    .is_some_and(|rest| rest.starts_with(prefix)))
            || (provider == FaultProvider::ConnectWise
                && path
                    .find("/apis/3.0")
                    .is_some_and(|i| path[i + "/apis/3.0".len()..].starts_with(prefix)))
            || (provider == FaultProvider::Halo && halo_matches(path, prefix))
            || (provider == FaultProvider::Autotask && autotask_matches(path, prefix))
    }
}

/// Whether a Halo `path` starts with `prefix` ignoring case, with or without its `/api`.
fn halo_matches(path: &str, prefix: &str) -> bool {
    let starts = |p: &str| {
        p.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts(path)
        || path
            .get(..4)
            .filter(|api| api.eq_ignore_ascii_case("/api"))
            .and_then(|_| path.get(4..))
            .is_some_and(starts)
}

/// Whether an Autotask `path` starts with `prefix`, ignoring case, with or without the API base
/// (`/zone5/ATServicesRest/V1.0` or `/atservicesrest/v1.0`).
fn autotask_matches(path: &str, prefix: &str) -> bool {
    const BASE: &str = "/atservicesrest/v1.0";
    let (path, prefix) = (path.to_ascii_lowercase(), prefix.to_ascii_lowercase());
    path.starts_with(&prefix)
        || path
            .find(BASE)
            .is_some_and(|i| path[i + BASE.len()..].starts_with(&prefix))
}

impl Faults {
    /// Every reason the faults cannot be used (empty when they can).
    pub fn problems(&self) -> Vec<String> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.problem().map(|p| format!("rules[{i}]: {p}")))
            .collect()
    }
}

/// What the rules do to one request, besides latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleAction {
    /// Never answer.
    Hang,
    /// Close the connection without an answer, unprocessed.
    Reset,
    /// 429 with `Retry-After: 1`.
    Throttle,
    /// This 5xx status.
    Error(StatusCode),
    /// Process, then close without an answer.
    LostAnswer,
    /// Process, then answer 200 with half the body.
    Malformed,
    /// Process, then answer this 5xx status.
    ErrorAfterWrite(StatusCode),
}

/// What the rules decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RuleDecision {
    /// Added delay before the emulator sees the request, in milliseconds.
    pub(crate) latency_ms: u64,
    /// Added delay after the emulator answered, before the answer is sent, in milliseconds.
    pub(crate) answer_delay_ms: u64,
    /// The fault, if any.
    pub(crate) action: Option<RuleAction>,
}

/// What an injected fault turns a Graph request into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GraphFault {
    /// 429 with `Retry-After: 1`.
    Throttle,
    /// 503.
    Unavailable,
}

/// What an injected fault turns an IT Glue request into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItGlueFault {
    /// 429, with `Retry-After` when set.
    Throttle {
        /// Seconds to announce in `Retry-After`.
        retry_after: Option<u64>,
    },
    /// 502.
    BadGateway,
}

#[derive(Debug)]
struct Inner {
    faults: Faults,
    graph_seen: u64,
    hudu_seen: u64,
    itglue_seen: u64,
    rng: StdRng,
    errors_injected: u64,
}

impl Inner {
    fn new(mut faults: Faults) -> Self {
        for rule in &mut faults.rules {
            rule.kind = rule.kind.sanitized();
        }
        Inner {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            graph_seen: 0,
            hudu_seen: 0,
            itglue_seen: 0,
            errors_injected: 0,
        }
    }

    /// The turn of the next injected 5xx (the statuses rotate by it).
    fn next_error_turn(&mut self) -> u64 {
        self.errors_injected += 1;
        self.errors_injected - 1
    }
}

/// The current faults and the request counts they are applied to.
#[derive(Debug)]
pub(crate) struct FaultSwitch(Mutex<Inner>);

impl Default for FaultSwitch {
    fn default() -> Self {
        FaultSwitch(Mutex::new(Inner::new(Faults::default())))
    }
}

fn hits(every: Option<u32>, n: u64) -> bool {
    matches!(every, Some(k) if k > 0 && n.is_multiple_of(u64::from(k)))
}

/// The 5xx statuses injected errors take in turn.
const ERROR_STATUSES: [StatusCode; 3] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
];

impl FaultSwitch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults and restarts the counts and the generator (rates are clamped to
    /// 0..=1).
    pub(crate) fn set(&self, faults: Faults) {
        *self.lock() = Inner::new(faults);
    }

    /// The current faults.
    pub(crate) fn get(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Decides what the rules do to one `method` request of `provider` for `path`.
    pub(crate) fn decide(&self, provider: FaultProvider, method: &str, path: &str) -> RuleDecision {
        let mut inner = self.lock();
        if inner.faults.rules.is_empty() {
            return RuleDecision::default();
        }
        let mut decision = RuleDecision::default();
        // Rates per action, in the order of `FaultKind`.
        let mut rates = [0.0f64; 7];
        let mut any_rate = false;
        let kinds: Vec<FaultKind> = inner
            .faults
            .rules
            .iter()
            .filter(|r| r.matches(provider, method, path))
            .map(|r| r.kind)
            .collect();
        for kind in kinds {
            let slot = match kind {
                FaultKind::LatencyMs(ms) => {
                    decision.latency_ms = decision.latency_ms.saturating_add(ms);
                    continue;
                }
                FaultKind::TransitJitterMs(ms) => {
                    let draw: f64 = inner.rng.random();
                    decision.latency_ms = decision
                        .latency_ms
                        .saturating_add((draw * (ms as f64 + 1.0)).floor() as u64);
                    continue;
                }
                FaultKind::AnswerLatency { median_ms, p99_ms } => {
                    let (u1, u2): (f64, f64) = (inner.rng.random(), inner.rng.random());
                    decision.answer_delay_ms = decision
                        .answer_delay_ms
                        .saturating_add(lognormal_ms(median_ms, p99_ms, u1, u2));
                    continue;
                }
                FaultKind::HangRate(r) => (0, r),
                FaultKind::ResetRate(r) => (1, r),
                FaultKind::ThrottleRate(r) => (2, r),
                FaultKind::ErrorRate(r) => (3, r),
                FaultKind::LostAnswerRate(r) => (4, r),
                FaultKind::MalformedRate(r) => (5, r),
                FaultKind::ErrorAfterWriteRate(r) => (6, r),
            };
            rates[slot.0] += slot.1;
            any_rate = true;
        }
        if !any_rate {
            return decision;
        }
        // One draw per request: each kind gets exactly its share of requests.
        let draw: f64 = inner.rng.random();
        let mut edge = 0.0;
        let mut chosen = None;
        for (i, rate) in rates.iter().enumerate() {
            edge += rate;
            if *rate > 0.0 && draw < edge {
                chosen = Some(i);
                break;
            }
        }
        decision.action = match chosen {
            Some(0) => Some(RuleAction::Hang),
            Some(1) => Some(RuleAction::Reset),
            Some(2) => Some(RuleAction::Throttle),
            Some(3) => {
                let turn = inner.next_error_turn();
                let i = usize::try_from(turn % ERROR_STATUSES.len() as u64).unwrap_or(0);
                Some(RuleAction::Error(ERROR_STATUSES[i]))
            }
            Some(4) => Some(RuleAction::LostAnswer),
            Some(5) => Some(RuleAction::Malformed),
            Some(6) => {
                let turn = inner.next_error_turn();
                Some(RuleAction::ErrorAfterWrite(if turn.is_multiple_of(2) {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::GATEWAY_TIMEOUT
                }))
            }
            _ => None,
        };
        decision
    }

    /// Counts one authenticated Graph data request; returns the fault it gets, if any.
    pub(crate) fn next_graph(&self) -> Option<GraphFault> {
        let mut inner = self.lock();
        inner.graph_seen += 1;
        let n = inner.graph_seen;
        if hits(inner.faults.graph_429_every_nth, n) {
            Some(GraphFault::Throttle)
        } else if hits(inner.faults.graph_5xx_every_nth, n) {
            Some(GraphFault::Unavailable)
        } else {
            None
        }
    }

    /// Counts one authenticated Hudu request; true when it must answer 502.
    pub(crate) fn next_hudu_fails(&self) -> bool {
        let mut inner = self.lock();
        inner.hudu_seen += 1;
        hits(inner.faults.hudu_5xx_every_nth, inner.hudu_seen)
    }

    /// Counts one authenticated IT Glue request; returns the fault it gets, if any.
    pub(crate) fn next_itglue(&self) -> Option<ItGlueFault> {
        let mut inner = self.lock();
        inner.itglue_seen += 1;
        let n = inner.itglue_seen;
        if hits(inner.faults.itglue_429_every_nth, n) {
            Some(ItGlueFault::Throttle {
                retry_after: inner.faults.itglue_429_retry_after,
            })
        } else if hits(inner.faults.itglue_5xx_every_nth, n) {
            Some(ItGlueFault::BadGateway)
        } else {
            None
        }
    }

    /// Delay to add before every IT Glue answer.
    pub(crate) fn itglue_latency_ms(&self) -> u64 {
        self.lock().faults.itglue_latency_ms
    }

    /// Delay to add before every Hudu answer.
    pub(crate) fn hudu_latency_ms(&self) -> u64 {
        self.lock().faults.hudu_latency_ms
    }
}

/// Adds the `/_sandbox/faults` routes and the rule faults of `provider` to a port's router.
pub(crate) fn wrap(router: Router, state: Arc<State>, provider: FaultProvider) -> Router {
    router
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).with_state(state.clone()),
        )
        .layer(middleware::from_fn_with_state((state, provider), rule_gate))
}

async fn get_faults(AxState(state): AxState<Arc<State>>) -> Json<Faults> {
    Json(state.faults.get())
}

async fn put_faults(
    AxState(state): AxState<Arc<State>>,
    body: Result<Json<Faults>, JsonRejection>,
) -> Response {
    let faults = match body {
        Ok(Json(f)) => f,
        Err(e) => {
            let body = json!({"error": "invalid faults", "problems": [e.body_text()]});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let problems = faults.problems();
    if !problems.is_empty() {
        let body = json!({"error": "invalid faults", "problems": problems});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    state.faults.set(faults);
    Json(state.faults.get()).into_response()
}

/// A response that makes the server close the connection without answering: its body fails
/// before the first byte, so hyper drops the connection with the head still unsent.
fn connection_reset() -> Response {
    let failing = futures::stream::iter([Err::<Bytes, std::io::Error>(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "sandbox fault: connection reset",
    ))]);
    Body::from_stream(failing).into_response()
}

/// The HTML page a gateway answers a 5xx with.
fn gateway_error(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Server Error");
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!(
            "<html><body><h1>{} {reason}</h1></body></html>",
            status.as_u16()
        ),
    )
        .into_response()
}

/// The first half of `bytes`, made sure not to parse as JSON.
fn truncated(bytes: &[u8]) -> Vec<u8> {
    let mut cut = bytes.get(..bytes.len() / 2).unwrap_or_default().to_vec();
    if cut.is_empty() || serde_json::from_slice::<serde_json::Value>(&cut).is_ok() {
        cut.extend_from_slice(b"{\"");
    }
    cut
}

/// A lognormal draw (milliseconds) with `median` and 99th percentile `p99`, from two uniform
/// draws in [0, 1) (Box-Muller), capped at 10 x `p99`.
fn lognormal_ms(median: u64, p99: u64, u1: f64, u2: f64) -> u64 {
    if median == 0 {
        return 0;
    }
    // z of the 99th percentile of the standard normal.
    const Z99: f64 = 2.326_348;
    let sigma = (p99.max(median) as f64 / median as f64).ln() / Z99;
    let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    let ms = (median as f64) * (sigma * z).exp();
    ms.min(10.0 * p99.max(median) as f64).round() as u64
}

/// The rules of "realistic latency" for `providers`: answers lognormal with a median of
/// 250 ms and a 99th percentile of 1.5 s, and up to 50 ms of transit jitter before arrival.
pub fn realistic_latency(providers: &[FaultProvider]) -> Vec<FaultRule> {
    providers
        .iter()
        .flat_map(|p| {
            [
                FaultRule::new(
                    *p,
                    FaultKind::AnswerLatency {
                        median_ms: 250,
                        p99_ms: 1500,
                    },
                ),
                FaultRule::new(*p, FaultKind::TransitJitterMs(50)),
            ]
        })
        .collect()
}

/// When a request reached the provider, on the provider's clock: the moment the emulator
/// received it plus the transit drawn for it. A provider's limit counts this moment; the
/// emulator's timer that plays the transit wakes late on a busy machine, and a real provider's
/// clock does not wait for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival(pub(crate) std::time::Instant);

/// When `req` arrived ([`Arrival`]; now for a request no transit was played for).
pub(crate) fn arrival_of(req: &Request) -> std::time::Instant {
    req.extensions()
        .get::<Arrival>()
        .map_or_else(std::time::Instant::now, |a| a.0)
}

/// The rule faults of one provider, in front of its emulator.
async fn rule_gate(
    AxState((state, provider)): AxState<(Arc<State>, FaultProvider)>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path.starts_with("/_sandbox/") {
        return next.run(req).await;
    }
    let decision = state.faults.decide(provider, req.method().as_str(), path);
    req.extensions_mut().insert(Arrival(
        std::time::Instant::now() + Duration::from_millis(decision.latency_ms),
    ));
    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }
    let answered = match decision.action {
        None => next.run(req).await,
        Some(RuleAction::Hang) => {
            let mut stop = state.shutdown.subscribe();
            let _ = stop.wait_for(|s| *s).await;
            connection_reset()
        }
        Some(RuleAction::Reset) => connection_reset(),
        Some(RuleAction::Throttle) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": "Too many requests (sandbox fault)"})),
            )
                .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Some(RuleAction::Error(status)) => gateway_error(status),
        Some(RuleAction::ErrorAfterWrite(status)) => {
            drop(next.run(req).await);
            gateway_error(status)
        }
        Some(RuleAction::LostAnswer) => {
            drop(next.run(req).await);
            connection_reset()
        }
        Some(RuleAction::Malformed) => {
            let (mut parts, body) = next.run(req).await.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
                return connection_reset();
            };
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(truncated(&bytes)))
        }
    };
    if decision.answer_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.answer_delay_ms)).await;
    }
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(rules: Vec<FaultRule>, seed: u64) -> FaultSwitch {
        let s = FaultSwitch::default();
        s.set(Faults {
            rules,
            seed,
            ..Faults::default()
        });
        s
    }

    #[test]
    fn answer_latency_is_lognormal_with_the_median_and_p99_asked_for() {
        let s = switch(realistic_latency(&[FaultProvider::ItGlue]), 7);
        let mut answers: Vec<u64> = Vec::new();
        let mut jitter: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            let d = s.decide(FaultProvider::ItGlue, "GET", "/organizations");
            answers.push(d.answer_delay_ms);
            jitter.push(d.latency_ms);
        }
        answers.sort_unstable();
        let at = |p: usize| answers[answers.len() * p / 100];
        assert!((235..=265).contains(&at(50)), "median {}", at(50));
        assert!((1300..=1700).contains(&at(99)), "p99 {}", at(99));
        assert!(jitter.iter().all(|j| *j <= 50), "jitter within 0..=50 ms");
        let mean = jitter.iter().sum::<u64>() as f64 / jitter.len() as f64;
        assert!((23.0..=27.0).contains(&mean), "uniform jitter, mean {mean}");
        // Other providers are untouched.
        assert_eq!(
            s.decide(FaultProvider::Hudu, "GET", "/api/v1/companies"),
            RuleDecision::default()
        );
    }

    #[test]
    fn prefixes_and_providers_select_the_rules() {
        let s = switch(
            vec![
                FaultRule::new(FaultProvider::ItGlue, FaultKind::ErrorRate(1.0))
                    .on("/flexible_assets"),
                FaultRule::new(FaultProvider::Hudu, FaultKind::LatencyMs(5)).on("/articles"),
                FaultRule::new(FaultProvider::Hudu, FaultKind::LatencyMs(7)),
            ],
            1,
        );
        let it = s.decide(FaultProvider::ItGlue, "GET", "/flexible_assets/12");
        assert!(matches!(it.action, Some(RuleAction::Error(_))));
        assert_eq!(
            s.decide(FaultProvider::ItGlue, "GET", "/flexible_asset_types"),
            RuleDecision::default()
        );
        assert_eq!(
            s.decide(FaultProvider::Graph, "GET", "/flexible_assets"),
            RuleDecision::default()
        );
        assert_eq!(
            s.decide(FaultProvider::Hudu, "GET", "/api/v1/articles")
                .latency_ms,
            12
        );
        assert_eq!(
            s.decide(FaultProvider::Hudu, "GET", "/api/v1/companies")
                .latency_ms,
            7
        );
    }

    #[test]
    fn halo_prefixes_match_ignoring_case_with_or_without_api() {
        let s = switch(
            vec![
                FaultRule::new(FaultProvider::Halo, FaultKind::LatencyMs(3)).on("/KBArticle"),
                FaultRule::new(FaultProvider::Halo, FaultKind::LatencyMs(5)).on("/api/client"),
                FaultRule::new(FaultProvider::Halo, FaultKind::LatencyMs(7)).on("/auth"),
            ],
            1,
        );
        let latency = |path: &str| s.decide(FaultProvider::Halo, "GET", path).latency_ms;
        assert_eq!(latency("/api/kbarticle"), 3);
        assert_eq!(latency("/api/KBArticle/500"), 3);
        assert_eq!(latency("/API/Client"), 5);
        assert_eq!(latency("/api/ClientContract"), 5);
        assert_eq!(latency("/auth/token"), 7);
        assert_eq!(latency("/api/Asset"), 0);
        assert_eq!(
            s.decide(FaultProvider::ConnectWise, "GET", "/api/KBArticle")
                .latency_ms,
            0
        );
        let rule = FaultRule::new(FaultProvider::Halo, FaultKind::ErrorRate(0.5));
        let text = serde_json::to_value(&rule).unwrap_or_default();
        assert_eq!(text["provider"], "halo");
    }

    #[test]
    fn autotask_prefixes_ignore_case_and_the_api_base() {
        let s = switch(
            vec![FaultRule::new(FaultProvider::Autotask, FaultKind::LatencyMs(5)).on("/Companies")],
            1,
        );
        let at = |path| s.decide(FaultProvider::Autotask, "POST", path).latency_ms;
        assert_eq!(at("/zone5/ATServicesRest/V1.0/Companies/query"), 5);
        assert_eq!(at("/zone5/atservicesrest/v1.0/companies/query/next"), 5);
        assert_eq!(at("/zone5/ATServicesRest/V1.0/Contacts/query"), 0);
        assert_eq!(
            s.decide(FaultProvider::ConnectWise, "POST", "/Companies")
                .latency_ms,
            0
        );
        let rule: FaultRule = serde_json::from_value(
            serde_json::json!({"provider": "autotask", "kind": {"latency_ms": 1}}),
        )
        .unwrap();
        assert_eq!(rule.provider, FaultProvider::Autotask);
    }

    #[test]
    fn a_method_limits_a_rule_and_a_bad_one_is_named() {
        let s = switch(
            vec![
                FaultRule::new(FaultProvider::Hudu, FaultKind::ErrorAfterWriteRate(1.0))
                    .for_method("POST"),
            ],
            1,
        );
        assert_eq!(
            s.decide(FaultProvider::Hudu, "GET", "/api/v1/articles"),
            RuleDecision::default()
        );
        let turns: Vec<_> = (0..2)
            .map(|_| {
                s.decide(FaultProvider::Hudu, "POST", "/api/v1/articles")
                    .action
            })
            .collect();
        assert_eq!(
            turns,
            [
                Some(RuleAction::ErrorAfterWrite(StatusCode::BAD_GATEWAY)),
                Some(RuleAction::ErrorAfterWrite(StatusCode::GATEWAY_TIMEOUT))
            ]
        );
        let bad = FaultRule::new(FaultProvider::Hudu, FaultKind::ErrorRate(0.1)).for_method("post");
        assert!(bad
            .problem()
            .is_some_and(|p| p.contains("method must be one of GET, POST")));
    }

    #[test]
    fn rates_share_one_draw_and_errors_rotate() {
        let s = switch(
            vec![
                FaultRule::new(FaultProvider::Graph, FaultKind::ErrorRate(0.5)),
                FaultRule::new(FaultProvider::Graph, FaultKind::ResetRate(0.5)),
            ],
            9,
        );
        let mut errors = Vec::new();
        let mut resets = 0;
        for _ in 0..1000 {
            match s.decide(FaultProvider::Graph, "GET", "/v1.0/users").action {
                Some(RuleAction::Error(code)) => errors.push(code),
                Some(RuleAction::Reset) => resets += 1,
                other => panic!("rates adding up to 1 always fault, got {other:?}"),
            }
        }
        assert!((400..600).contains(&resets), "{resets} resets");
        assert_eq!(&errors[..3], &ERROR_STATUSES);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let run = |seed| {
            let s = switch(
                vec![FaultRule::new(
                    FaultProvider::Hudu,
                    FaultKind::MalformedRate(0.3),
                )],
                seed,
            );
            (0..100)
                .map(|_| {
                    s.decide(FaultProvider::Hudu, "GET", "/api/v1/articles")
                        .action
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn bad_rules_are_named_and_clamped_in_process() {
        let faults = Faults {
            rules: vec![
                FaultRule::new(FaultProvider::Hudu, FaultKind::ErrorRate(1.5)),
                FaultRule::new(FaultProvider::Hudu, FaultKind::HangRate(0.1)).on("articles"),
            ],
            ..Faults::default()
        };
        let problems = faults.problems();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].starts_with("rules[0]"));
        assert!(problems[1].contains("path_prefix"));
        let s = FaultSwitch::default();
        s.set(faults);
        assert_eq!(s.get().rules[0].kind, FaultKind::ErrorRate(1.0));
    }

    #[test]
    fn truncation_never_parses() {
        for body in [&b""[..], b"1", b"12", b"{}", b"[1,2,3,4]", b"{\"a\":1}"] {
            let cut = truncated(body);
            assert!(serde_json::from_slice::<serde_json::Value>(&cut).is_err());
        }
    }

    #[test]
    fn faults_round_trip_as_json() {
        let faults = Faults {
            hudu_5xx_every_nth: Some(3),
            rules: vec![
                FaultRule::new(FaultProvider::ItGlue, FaultKind::ResetRate(0.25))
                    .on("/flexible_assets"),
            ],
            seed: 42,
            ..Faults::default()
        };
        let text = serde_json::to_value(&faults).unwrap_or_default();
        assert_eq!(text["rules"][0]["provider"], "itglue");
        assert_eq!(text["rules"][0]["kind"]["reset_rate"], 0.25);
        let back: Faults = serde_json::from_value(text).unwrap_or_default();
        assert_eq!(back, faults);
        let partial: Faults =
            serde_json::from_str(r#"{"itglue_latency_ms": 5}"#).unwrap_or_default();
        assert_eq!(partial.itglue_latency_ms, 5);
        assert!(serde_json::from_str::<Faults>(r#"{"nope": 1}"#).is_err());
    }
}
