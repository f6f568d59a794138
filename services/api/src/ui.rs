//! `GET /ui`: the operator's status page, and `GET /ui/summary`, the one JSON answer made for
//! it.
//!
//! The page is one self-contained HTML document (`ui.html`: inline CSS and vanilla JS,
//! embedded at build time) that asks for an API token, or takes it once from the URL fragment
//! `#token=...` and clears the fragment, keeps it in the tab's sessionStorage and calls this
//! API's own JSON routes with it as a bearer token. So it shows exactly what that token may
//! see, and a token without a permission sees that section refused, not more.
//!
//! Invariants: the page itself carries no data and needs no token (without one it shows only
//! the token prompt); nothing is loaded from anywhere but this API, which the
//! Content-Security-Policy enforces in the browser (`default-src 'self'`, `connect-src
//! 'self'`, the inline script and style allowed by their SHA-256 hashes only, Trusted Types
//! required so no string can become markup); every value is rendered as text (`textContent`),
//! never as HTML; and no secret is ever rendered, because the page never calls the routes
//! that answer configurations (even masked keys stay off the page).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine as _;
use docsync_domain::psa::{PsaConfig, PsaKind};
use docsync_domain::{rate_limit_key, Provider, RateLimit};
use docsync_store::Permission;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;

/// The page, as served.
pub(crate) const PAGE: &str = include_str!("ui.html");

/// How far back the summary counts finished runs.
const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The text between `<tag>` and `</tag>` (the page has one inline script and one style).
fn inline<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    html.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(inner, _)| inner)
}

/// `'sha256-...'` of a CSP source list for an inline element's text.
fn hash_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's Content-Security-Policy: nothing from outside the API, no inline code but the
/// page's own script and style, no framing, no markup from strings.
pub(crate) fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'self'; script-src {}; style-src {}; connect-src 'self'; img-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
             require-trusted-types-for 'script'; trusted-types 'none'",
            hash_source(inline(PAGE, "script")),
            hash_source(inline(PAGE, "style")),
        )
    })
}

/// `GET /ui` (no token needed: the page holds no data).
#[utoipa::path(
    get,
    path = "/ui",
    operation_id = "statusPage",
    tag = "ui",
    summary = "The operator's status page",
    description = "One self-contained HTML page (inline CSS and JavaScript, nothing loaded from elsewhere) that asks for an API token, or takes it once from the URL fragment `#token=...` and then clears the fragment, and shows with it what that token may see. No secret is ever rendered.",
    responses((status = 200, description = "the page", content_type = "text/html", body = String))
)]
pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, content_security_policy()),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
}

/// A rate-limit key's budget and where the pacing ledger has it now.
fn key_view(
    provider: &str,
    kind: &str,
    limit: RateLimit,
    slot: Option<&docsync_store::RateLimitSlot>,
) -> Value {
    let (state, booked, paused) = match slot {
        None => ("idle", 0.0, None),
        Some(s) => match s.paused_for {
            Some(p) => (
                "paused",
                s.booked_ahead.as_secs_f64(),
                Some(p.as_secs_f64()),
            ),
            None if s.booked_ahead > Duration::ZERO => ("busy", s.booked_ahead.as_secs_f64(), None),
            None => ("idle", 0.0, None),
        },
    };
    json!({
        "provider": provider,
        "kind": kind,
        "rateLimit": limit,
        "state": state,
        "bookedAheadSeconds": booked,
        "pausedForSeconds": paused,
        "nextSlotAt": slot.map(|s| s.next_slot),
        "pausedUntil": slot.and_then(|s| s.paused_until),
    })
}

/// What `GET /ui/summary` answers (built as JSON by [`summary`]; this type documents it).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct UiSummary {
    /// How far back finished runs are counted (24).
    window_hours: u64,
    /// The account's runs that finished in the window or have not finished, counted.
    runs: Vec<UiRunCount>,
    /// The fleet's queues (shared by every account: ready messages and consumers only); null
    /// when the broker cannot be asked (brokerError says why).
    #[schema(required)]
    queues: Option<Vec<UiQueue>>,
    /// Why the queues are unknown.
    #[schema(required)]
    broker_error: Option<String>,
    /// Every integration, configured or not.
    integrations: Vec<UiIntegration>,
    /// The rate-limit key of each configured integration, with its budget and where it is.
    rate_limit_keys: Vec<UiRateLimitKey>,
}

/// Posture (Hudu, IT Glue) or PSA.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum UiKind {
    /// A documentation platform.
    Posture,
    /// A PSA.
    Psa,
}

/// Runs of one kind, provider and state.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct UiRunCount {
    /// push or sync.
    #[schema(value_type = String, pattern = "^(push|sync)$")]
    kind: String,
    /// The provider.
    provider: String,
    /// The state.
    state: docsync_domain::RunState,
    /// How many.
    #[schema(minimum = 0)]
    count: i64,
}

/// A queue of the fleet.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct UiQueue {
    /// The queue's name without the fleet's prefix: collect, publish.N, delay.Nms, dead.
    queue: String,
    /// Ready messages.
    ready: u32,
    /// Consumers.
    consumers: u32,
}

/// An integration.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct UiIntegration {
    /// The provider.
    provider: String,
    /// Posture or PSA.
    kind: UiKind,
    /// The account has configured it.
    configured: bool,
}

/// Where a key's budget is.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum UiKeyState {
    /// Nothing booked ahead.
    Idle,
    /// Requests booked ahead.
    Busy,
    /// Paused after a 429.
    Paused,
}

/// A rate-limit key.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct UiRateLimitKey {
    /// The provider.
    provider: String,
    /// Posture or PSA.
    kind: UiKind,
    /// Its budget.
    rate_limit: RateLimit,
    /// Where it is.
    state: UiKeyState,
    /// Seconds of requests booked ahead.
    booked_ahead_seconds: f64,
    /// Seconds left of a pause after a 429.
    #[schema(required)]
    paused_for_seconds: Option<f64>,
    /// When the next request may go.
    #[schema(required)]
    next_slot_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the pause ends.
    #[schema(required)]
    paused_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// `GET /ui/summary`: the account's runs of the last 24 hours (and every unfinished one) by
/// state, the fleet's queues, and each configured integration's rate-limit key. Needs
/// INTEGRATIONS_READ.
#[utoipa::path(
    get,
    path = "/ui/summary",
    operation_id = "statusSummary",
    tag = "ui",
    summary = "What the status page sums up: runs by state, queues, rate-limit keys",
    description = "Needs the INTEGRATIONS_READ permission. The account's runs (pushes and PSA syncs) that finished in the last 24 hours or have not finished, counted by kind, provider and state; the fleet's queues; every integration (configured or not); and for each configured one its rate-limit key's budget and where it is.",
    responses((status = 200, description = "the summary", body = UiSummary))
)]
pub(crate) async fn summary(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.require(Permission::IntegrationsRead)?;
    let runs: Vec<Value> = state
        .store
        .recent_run_states(account, WINDOW)
        .await?
        .into_iter()
        .map(
            |c| json!({"kind": c.kind, "provider": c.provider, "state": c.state, "count": c.count}),
        )
        .collect();

    // Each integration of the account and the budget of its key.
    let mut integrations = Vec::new();
    let mut keys = Vec::new();
    for provider in Provider::ALL {
        let found = state.store.integration(account, provider).await?;
        if let Some(i) = &found {
            let limit = i
                .rate_limit
                .unwrap_or_else(|| provider.default_rate_limit());
            keys.push((
                rate_limit_key(provider, account),
                provider.as_str(),
                "posture",
                limit,
            ));
        }
        integrations.push(json!({"provider": provider.as_str(), "kind": "posture", "configured": found.is_some()}));
    }
    for psa in PsaKind::ALL.into_iter().filter(|k| PsaConfig::is_built(*k)) {
        let found = state.store.psa_integration(account, psa).await?;
        if let Some(i) = &found {
            keys.push((
                psa.rate_limit_key(account),
                psa.as_str(),
                "psa",
                i.options.effective_rate_limit(psa),
            ));
        }
        integrations
            .push(json!({"provider": psa.as_str(), "kind": "psa", "configured": found.is_some()}));
    }
    let names: Vec<String> = keys.iter().map(|(k, ..)| k.clone()).collect();
    let slots = state.store.rate_limit_slots(&names).await?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|(key, provider, kind, limit)| {
            key_view(provider, kind, *limit, slots.iter().find(|s| &s.key == key))
        })
        .collect();

    // The broker's queues are the fleet's, shared by every account: counts only.
    let (queues, broker_error) = match state.broker.queue_stats().await {
        Ok(stats) => (
            json!(stats
                .into_iter()
                .map(|(queue, ready, consumers)| json!({"queue": queue, "ready": ready, "consumers": consumers}))
                .collect::<Vec<_>>()),
            Value::Null,
        ),
        Err(e) => (
            Value::Null,
            json!(format!("the message broker is unavailable: {e}")),
        ),
    };
    Ok(Json(json!({
        "windowHours": WINDOW.as_secs() / 3600,
        "runs": runs,
        "queues": queues,
        "brokerError": broker_error,
        "integrations": integrations,
        "rateLimitKeys": keys,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn the_page_answers_200_html_with_its_security_headers_without_a_token() {
        assert!(
            crate::routes().contains(&(Method::GET, "/ui")),
            "/ui is in the route table"
        );
        let app: axum::Router = axum::Router::new().route("/ui", get(page));
        let answer = app
            .oneshot(Request::get("/ui").body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::OK);
        let h = answer.headers();
        let header = |name: header::HeaderName| {
            h.get(&name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("no {name} header"))
                .to_owned()
        };
        assert_eq!(header(header::CONTENT_TYPE), "text/html; charset=utf-8");
        let csp = header(header::CONTENT_SECURITY_POLICY);
        for directive in [
            "default-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(
            csp.contains(&format!(
                "script-src {}",
                hash_source(inline(PAGE, "script"))
            )),
            "{csp}"
        );
        assert_eq!(header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(header(header::REFERRER_POLICY), "no-referrer");
        assert_eq!(header(header::CACHE_CONTROL), "no-store");
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .expect("the body");
        assert_eq!(body, PAGE.as_bytes());
    }

    #[test]
    fn the_page_is_self_contained_and_never_parses_strings_as_markup() {
        // One inline script and one inline style, both non-empty, so their hashes cover all.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        assert!(inline(PAGE, "script").len() > 1000);
        assert!(inline(PAGE, "style").len() > 100);
        // Nothing from outside the API, no inline handlers or style attributes (the CSP
        // would refuse them anyway), no HTML sinks.
        for banned in [
            "http://",
            "https://",
            "src=",
            "href=",
            "@import",
            "url(",
            " style=",
            " onclick",
            " onload",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!PAGE.contains(banned), "the page contains {banned:?}");
        }
        // The token never goes into a URL the page builds, and it reads the fragment once.
        assert!(PAGE.contains("history.replaceState"));
        assert!(PAGE.contains("sessionStorage"));
    }
}
