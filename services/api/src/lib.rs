//! The HTTP API: tenants, the Microsoft connection, integrations, pushes, runs and the audit
//! trail of configuration changes, behind bearer tokens with permissions and a per-token
//! request limit. Every query is scoped to the token's account. `GET /openapi.json` describes
//! every route of [`routes`]; `GET /ui` is the operator's status page on top of them.

mod audit;
mod auth;
mod body;
mod connections;
mod dlq;
mod error;
mod evidence;
mod integrations;
mod limit;
mod openapi;
mod psa;
mod runs;
mod tenants;
mod ui;
pub mod webhooks;

use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::{Json, Router};
use docsync_destinations::{Providers, SinkFactory};
use docsync_domain::crypto::MasterKey;
use docsync_domain::Shutdown;
use docsync_queue::Broker;
use docsync_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::ApiError;

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Accept http:// and private-address provider URLs (sandbox and tests only).
    pub allow_private_provider_urls: bool,
    /// Requests per minute one token may make; more are answered 429 with `Retry-After`.
    pub rate_limit_per_minute: u32,
    /// Requests with a missing or unknown token one client address may make per minute; more
    /// block the address for a while (429 with `Retry-After`, before any token is looked at).
    pub unknown_token_limit_per_minute: u32,
    /// Trusted proxies in front of the API that append the client's address to
    /// `X-Forwarded-For` (0: the TCP peer is the client).
    pub forwarded_hops: usize,
    /// How this process sends webhook deliveries.
    pub webhooks: webhooks::deliver::DeliveryConfig,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) broker: Arc<Broker>,
    pub(crate) master: MasterKey,
    pub(crate) sinks: SinkFactory,
    pub(crate) allow_private_provider_urls: bool,
    pub(crate) limiter: Arc<limit::RequestLimiter>,
    pub(crate) forwarded_hops: usize,
}

/// Every route: method, path (the router's syntax, which is also OpenAPI's) and handler. The
/// router is built from this table and [`routes`] reads it, so the OpenAPI document's test
/// compares against what is really served.
fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/health", get(health)),
        (Method::GET, "/ready", get(ready)),
        (Method::GET, "/openapi.json", get(openapi::document)),
        (Method::POST, "/tenants", post(tenants::create)),
        (Method::GET, "/tenants", get(tenants::list)),
        (Method::GET, "/tenants/{id}", get(tenants::one)),
        (Method::PATCH, "/tenants/{id}", patch(tenants::update)),
        (Method::DELETE, "/tenants/{id}", delete(tenants::delete)),
        (Method::GET, "/tenants/{id}/evidence", get(evidence::tenant)),
        (Method::GET, "/evidence", get(evidence::account)),
        (
            Method::GET,
            "/connections/microsoft",
            get(connections::get_microsoft),
        ),
        (
            Method::PUT,
            "/connections/microsoft",
            put(connections::put_microsoft),
        ),
        (
            Method::GET,
            "/integrations/{provider}",
            get(integrations::get),
        ),
        (
            Method::PUT,
            "/integrations/{provider}",
            put(integrations::put),
        ),
        (
            Method::POST,
            "/integrations/{provider}/test",
            post(integrations::test),
        ),
        (
            Method::POST,
            "/integrations/{provider}/push/{tenant_id}",
            post(integrations::push_one),
        ),
        (
            Method::POST,
            "/integrations/{provider}/preview/{tenant_id}",
            post(integrations::preview),
        ),
        (
            Method::POST,
            "/integrations/{provider}/push-all",
            post(integrations::push_all),
        ),
        (
            Method::GET,
            "/integrations/{provider}/runs",
            get(runs::list),
        ),
        (
            Method::GET,
            "/integrations/{provider}/companies",
            get(integrations::psa_companies),
        ),
        (
            Method::PUT,
            "/integrations/{provider}/companies",
            put(integrations::psa_set_matches),
        ),
        (
            Method::POST,
            "/integrations/{provider}/companies/match-all",
            post(integrations::psa_match_all),
        ),
        (
            Method::POST,
            "/integrations/{provider}/sync",
            post(integrations::psa_sync),
        ),
        (Method::GET, "/runs", get(runs::many)),
        (Method::GET, "/runs/{id}", get(runs::one)),
        (Method::GET, "/audit", get(audit::list)),
        (Method::GET, "/dlq", get(dlq::list)),
        (Method::POST, "/dlq/replay", post(dlq::replay)),
        (Method::POST, "/webhooks", post(webhooks::create)),
        (Method::GET, "/webhooks", get(webhooks::list)),
        (Method::DELETE, "/webhooks/{id}", delete(webhooks::delete)),
        (Method::GET, "/ui", get(ui::page)),
        (Method::GET, "/ui/summary", get(ui::summary)),
    ]
}

/// Every route the API serves, as `(method, path)` with path parameters in braces
/// (`/tenants/{id}`); `{provider}` stands for the providers the route serves (the documentation
/// platforms, the PSAs, or both).
pub fn routes() -> Vec<(Method, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the handlers'
/// annotations and their request and response types.
pub fn openapi_document() -> &'static str {
    openapi::document_text()
}

/// Builds the router (exposed for in-process tests).
pub fn router(
    config: &ApiConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    providers: Providers,
) -> anyhow::Result<Router> {
    let state = AppState {
        sinks: SinkFactory::new(
            store.clone(),
            master.clone(),
            providers,
            Duration::from_secs(20),
        )?,
        store,
        broker,
        master,
        allow_private_provider_urls: config.allow_private_provider_urls,
        limiter: Arc::new(limit::RequestLimiter::new(
            config.rate_limit_per_minute,
            config.unknown_token_limit_per_minute,
        )),
        forwarded_hops: config.forwarded_hops,
    };
    Ok(table()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY))
        // One span per request (method, URI, status, latency; never headers, so never the
        // token): the root of a push's trace.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let span = tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        trace_id = tracing::field::Empty,
                    );
                    docsync_telemetry::propagation::record_trace_id(&span);
                    span
                })
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
        .with_state(state))
}

/// Always `ok`.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// The process answers.
    Ok,
}

/// The answer to `GET /health`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: HealthStatus,
}

/// The answer to `GET /ready`: which dependency answers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// PostgreSQL answered.
    pub database: bool,
    /// RabbitMQ is connected.
    pub broker: bool,
}

/// Liveness: the process answers (`GET /health` of the API and of every role's listener).
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "service",
    summary = "Liveness",
    security(),
    responses((status = 200, description = "the process is up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// Readiness: 200 when PostgreSQL and RabbitMQ answer, else 503, saying which (`GET /ready` of
/// the API and of every role's listener).
pub async fn readiness(store: &Store, broker: &Broker) -> (axum::http::StatusCode, Json<Ready>) {
    let database = store.ping().await;
    let broker = broker.is_connected();
    let status = if database && broker {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Ready { database, broker }))
}

#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "service",
    summary = "Readiness: the database and the broker are reachable",
    security(),
    responses(
        (status = 200, description = "ready", body = Ready),
        (status = 503, description = "the database or the broker is unreachable", body = Ready),
    )
)]
pub(crate) async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, Json<Ready>) {
    readiness(&state.store, &state.broker).await
}

/// Serves the API, and sends webhook deliveries, until `shutdown`; returns the bound address
/// through `bound` first.
pub async fn run(
    config: ApiConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    providers: Providers,
    shutdown: Shutdown,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let sender = tokio::spawn(webhooks::deliver::run(
        config.webhooks.clone(),
        store.clone(),
        master.clone(),
        shutdown.clone(),
    ));
    let app = router(&config, store, broker, master, providers)?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "api listening");
    if let Some(tx) = bound {
        let _ = tx.send(addr);
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown({
        let shutdown = shutdown.clone();
        async move { shutdown.wait().await }
    })
    .await?;
    // The deliveries in flight are finished (each within its timeout) before the API stops.
    shutdown.trigger();
    let _ = sender.await;
    Ok(())
}
