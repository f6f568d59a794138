//! The HTTP API: tenants, the Microsoft connection, integrations, pushes and runs, behind
//! bearer tokens with permissions. Every query is scoped to the token's account.

mod auth;
mod body;
mod connections;
mod error;
mod integrations;
mod runs;
mod tenants;

use axum::routing::{get, post};
use axum::{Json, Router};
use docsync_domain::crypto::MasterKey;
use docsync_domain::Shutdown;
use docsync_publisher::SinkFactory;
use docsync_queue::Broker;
use docsync_sinks::Pacer;
use docsync_store::Store;
use serde_json::json;
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
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) broker: Arc<Broker>,
    pub(crate) master: MasterKey,
    pub(crate) sinks: SinkFactory,
    pub(crate) allow_private_provider_urls: bool,
}

/// Builds the router (exposed for in-process tests).
pub fn router(
    config: &ApiConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    pacer: Pacer,
) -> Router {
    let state = AppState {
        sinks: SinkFactory::new(
            store.clone(),
            master.clone(),
            pacer,
            Duration::from_secs(20),
        ),
        store,
        broker,
        master,
        allow_private_provider_urls: config.allow_private_provider_urls,
    };
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route(
            "/tenants/{id}",
            get(tenants::one)
                .patch(tenants::update)
                .delete(tenants::delete),
        )
        .route(
            "/connections/microsoft",
            get(connections::get_microsoft).put(connections::put_microsoft),
        )
        .route(
            "/integrations/{provider}",
            get(integrations::get).put(integrations::put),
        )
        .route("/integrations/{provider}/test", post(integrations::test))
        .route(
            "/integrations/{provider}/push/{tenant_id}",
            post(integrations::push_one),
        )
        .route(
            "/integrations/{provider}/push-all",
            post(integrations::push_all),
        )
        .route("/integrations/{provider}/runs", get(runs::list))
        .route("/runs/{id}", get(runs::one))
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY))
        .with_state(state)
}

async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    let database = state.store.ping().await;
    let broker = state.broker.is_connected();
    let status = if database && broker {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"database": database, "broker": broker})),
    )
}

/// Serves the API until `shutdown`; returns the bound address through `bound` first.
pub async fn run(
    config: ApiConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    pacer: Pacer,
    shutdown: Shutdown,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let app = router(&config, store, broker, master, pacer);
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "api listening");
    if let Some(tx) = bound {
        let _ = tx.send(addr);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    Ok(())
}
