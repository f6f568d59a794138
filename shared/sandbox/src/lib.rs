//! Provider emulators for docsync: Microsoft Graph, the Entra token endpoint, the Exchange
//! Online admin REST endpoint and Hudu, each on its own loopback port.
//!
//! They behave like the real services where docsync depends on it: bearer tokens bound to a
//! tenant and an audience, `@odata.nextLink` paging, Hudu's fixed 25-row article pages, API-key
//! scopes, clock-aligned rate-limit windows that answer 429, and switchable faults. The data is
//! synthetic and deterministic (see [`fixtures`]) so tests can compute the expected figures.

pub mod fixtures;

mod exchange;
mod faults;
mod graph;
mod hudu;
mod login;
mod ratelimit;
mod state;

use chrono::{DateTime, Utc};
use serde::Serialize;
use state::State;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use fixtures::TenantFixture;

/// What a Hudu API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyScope {
    /// Reads and writes.
    ReadWrite,
    /// Reads only: writes answer 403.
    ReadOnly,
}

/// A fixed-window request budget, per API key, with windows aligned to clock boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WindowLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds; windows start at multiples of it since the Unix epoch.
    pub window_secs: u64,
    /// Whether a 429 carries `Retry-After` (Hudu sends it only when configured to).
    pub send_retry_after: bool,
}

/// How the sandbox is populated and secured.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Number of synthetic Microsoft tenants (fixture indices `0..tenants`).
    pub tenants: usize,
    /// Number of Hudu companies, ids `1..=hudu_companies`.
    pub hudu_companies: usize,
    /// The only client id the token endpoint accepts.
    pub graph_client_id: String,
    /// The only client secret the token endpoint accepts.
    pub graph_client_secret: String,
    /// Hudu API keys and their scopes.
    pub hudu_keys: Vec<(String, KeyScope)>,
    /// Hudu's rate limit per key; `None` means unlimited.
    pub hudu_rate_limit: Option<WindowLimit>,
    /// Items per page of `userRegistrationDetails`.
    pub graph_page_size: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            tenants: 60,
            hudu_companies: 120,
            graph_client_id: "sandbox-client-id".into(),
            graph_client_secret: "sandbox-client-secret-0123456789".into(),
            hudu_keys: vec![
                (
                    "sandbox-hudu-key-0123456789abcdef".into(),
                    KeyScope::ReadWrite,
                ),
                (
                    "sandbox-hudu-readonly-0123456789".into(),
                    KeyScope::ReadOnly,
                ),
            ],
            hudu_rate_limit: Some(WindowLimit {
                requests: 300,
                window_secs: 60,
                send_retry_after: false,
            }),
            graph_page_size: 500,
        }
    }
}

/// Fixed ports for [`Sandbox::start_on`]; 0 picks a free port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SandboxPorts {
    /// Graph port.
    pub graph: u16,
    /// Token endpoint port.
    pub login: u16,
    /// Exchange admin port.
    pub exchange: u16,
    /// Hudu port.
    pub hudu: u16,
}

/// Injectable faults. The default injects none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every nth authenticated Graph data request answers 429 with `Retry-After: 1`.
    pub graph_429_every_nth: Option<u32>,
    /// Every nth authenticated Graph data request answers 503.
    pub graph_5xx_every_nth: Option<u32>,
    /// Every nth authenticated Hudu API request answers 502.
    pub hudu_5xx_every_nth: Option<u32>,
    /// Delay before every Hudu answer, in milliseconds.
    pub hudu_latency_ms: u64,
}

/// A Hudu article as stored by the emulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuduArticle {
    /// Article id (from 1000 upwards).
    pub id: u64,
    /// Owning company.
    pub company_id: u64,
    /// Title.
    pub name: String,
    /// HTML content.
    pub content: String,
    /// 1 on creation, +1 per update.
    pub versions: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

/// Hudu request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HuduStats {
    /// Every request to `/api/v1`, whatever the answer.
    pub requests: u64,
    /// Successful creates and updates.
    pub writes: u64,
    /// Requests refused by the rate limit.
    pub rejected_429: u64,
    /// The most requests one key made in one rate-limit window (refused ones included, as
    /// Rack::Attack counts them).
    pub max_requests_in_any_window: u32,
}

/// Microsoft-side counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    /// Every request to the Graph port.
    pub requests: u64,
    /// Access tokens issued by the token endpoint (both audiences).
    pub tokens_issued: u64,
    /// Graph requests answered 429 by fault injection.
    pub throttled_429: u64,
    /// Every request to the Exchange admin port.
    pub exchange_requests: u64,
}

/// A running sandbox. Dropping it stops serving.
#[derive(Debug)]
pub struct Sandbox {
    /// Graph base URL, e.g. `http://127.0.0.1:41234` (append `/v1.0/...`).
    pub graph_url: String,
    /// Token endpoint base URL (append `/{tenant}/oauth2/v2.0/token`).
    pub login_url: String,
    /// Exchange admin base URL (append `/adminapi/beta/{tenant}/InvokeCommand`).
    pub exchange_url: String,
    /// Hudu instance root (append `/api/v1/...`).
    pub hudu_url: String,
    state: Arc<State>,
}

impl Sandbox {
    /// Starts every emulator on an ephemeral loopback port.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        Self::start_on(config, SandboxPorts::default()).await
    }

    /// Starts every emulator on the given loopback ports (0 = ephemeral).
    pub async fn start_on(config: SandboxConfig, ports: SandboxPorts) -> anyhow::Result<Sandbox> {
        let graph = bind(ports.graph, "graph").await?;
        let login = bind(ports.login, "login").await?;
        let exchange = bind(ports.exchange, "exchange").await?;
        let hudu = bind(ports.hudu, "hudu").await?;
        let url = |l: &TcpListener| -> anyhow::Result<String> {
            Ok(format!("http://{}", l.local_addr()?))
        };
        let (graph_url, login_url) = (url(&graph)?, url(&login)?);
        let (exchange_url, hudu_url) = (url(&exchange)?, url(&hudu)?);
        let state = Arc::new(State::new(config, graph_url.clone(), hudu_url.clone()));
        serve(graph, graph::router(state.clone()), &state);
        serve(login, login::router(state.clone()), &state);
        serve(exchange, exchange::router(state.clone()), &state);
        serve(hudu, hudu::router(state.clone()), &state);
        tracing::info!(%graph_url, %login_url, %exchange_url, %hudu_url, "sandbox started");
        Ok(Sandbox {
            graph_url,
            login_url,
            exchange_url,
            hudu_url,
            state,
        })
    }

    /// Stops serving: listeners close and open connections finish their current request.
    pub fn shutdown(&self) {
        self.state.shutdown.send_replace(true);
    }

    /// A snapshot of every Hudu article, by id.
    pub fn hudu_articles(&self) -> Vec<HuduArticle> {
        self.state.hudu_articles()
    }

    /// Hudu counters.
    pub fn hudu_stats(&self) -> HuduStats {
        self.state.hudu_stats()
    }

    /// Graph, token and Exchange counters.
    pub fn graph_stats(&self) -> GraphStats {
        self.state.graph_stats()
    }

    /// Replaces the injected faults and restarts their request counts.
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    /// Changes Hudu's rate limit (`None` = unlimited); counts in the current windows are kept.
    pub fn set_hudu_rate_limit(&self, limit: Option<WindowLimit>) {
        self.state.hudu_limiter.set_limit(limit);
    }

    /// Seeds an article directly in the store (not counted in stats); returns its id.
    pub fn create_hudu_article(&self, company_id: u64, name: &str, content: &str) -> u64 {
        self.state.create_hudu_article(company_id, name, content)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn bind(port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| anyhow::anyhow!("sandbox {what}: cannot bind 127.0.0.1:{port}: {e}"))
}

fn serve(listener: TcpListener, router: axum::Router, state: &Arc<State>) {
    let mut stop = state.shutdown.subscribe();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "sandbox listener stopped");
        }
    });
}
