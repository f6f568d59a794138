//! Provider emulators for docsync: Microsoft Graph, the Entra token endpoint, the Exchange
//! Online admin REST endpoint, Hudu, IT Glue (one port per region: us, eu, au), ConnectWise
//! Manage, HaloPSA / HaloITSM and Datto Autotask PSA, each on its own loopback port.
//!
//! They behave like the real services where docsync depends on it: bearer tokens bound to a
//! tenant and an audience, `@odata.nextLink` paging, the directory audit log (with
//! [`Sandbox::change_tenant`] to change a tenant and log it), Hudu's fixed 25-row article pages, API-key
//! scopes, clock-aligned rate-limit windows that answer 429, IT Glue's JSON:API documents,
//! region-bound keys and strict sliding one-second budget, ConnectWise's Basic auth and
//! `conditions`, Halo's tenant-bound client-credentials tokens, `pageinate` paging (and the
//! silent cap of unpaged lists), Asset Group Access Control and rolling five-minute budget
//! (see [`HaloConfig`]), Autotask's zone discovery, header credentials, JSON query filters,
//! `nextPageUrl` paging, per-database request threshold (with its slowdown above half) and
//! thread limit per integration and endpoint, and switchable faults ([`Faults`]: error rates,
//! latency, resets, malformed bodies and hangs per provider and endpoint, also switchable over
//! HTTP with `GET`/`PUT /_sandbox/faults` on every port). The data is synthetic and
//! deterministic (see [`fixtures`]) so tests can compute the expected figures.

pub mod fixtures;

mod autotask;
mod connectwise;
mod exchange;
mod faults;
mod graph;
mod halo;
mod hudu;
mod itglue;
mod login;
mod ratelimit;
mod state;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use state::State;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use autotask::{AtEntity, AutotaskConfig, AutotaskStats};
pub use connectwise::{ConnectWiseConfig, CwEntity, CwStats};
pub use faults::{realistic_latency, FaultKind, FaultProvider, FaultRule};
pub use fixtures::TenantFixture;
pub use graph::changes::{ChangeError, TenantChange};
pub use halo::{HaloConfig, HaloEntity, HaloStats};
pub use hudu::{HuduAsset, HuduCompany, HuduLayout, HuduLayoutField};

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
    /// Fixtures given an exact user count, `(index, users)`, e.g. a 10,000-user tenant.
    pub tenant_users: Vec<(usize, usize)>,
    /// Number of IT Glue organizations, ids `1..=itglue_organizations` (the same set for every
    /// key; organization `i + 1` is named after fixture `i`).
    pub itglue_organizations: usize,
    /// IT Glue API keys, each bound to its region and owning its own account (store).
    pub itglue_keys: Vec<ItGlueKey>,
    /// Also accept [`itglue_key`]`(region, n)` for every region and every `n` below this.
    pub itglue_generated_keys: usize,
    /// IT Glue's rate limit per key; `None` means unlimited.
    pub itglue_rate_limit: Option<ItGlueLimit>,
    /// The ConnectWise Manage emulator: company, keys, fixture sizes, budget, codebase.
    pub connectwise: ConnectWiseConfig,
    /// The HaloPSA / HaloITSM emulator: tenant, client credentials, fixture sizes, budget,
    /// paging limits.
    pub halo: HaloConfig,
    /// The Autotask emulator: credentials, fixture sizes, threshold, thread limit, latency.
    pub autotask: AutotaskConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            tenants: 60,
            hudu_companies: 120,
            graph_client_id: "5a4db0c1-d0c5-4c1e-8a7e-000000000001".into(),
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
            tenant_users: Vec::new(),
            itglue_organizations: 120,
            itglue_keys: vec![
                ItGlueKey {
                    key: "sandbox-itglue-key-us-0123456789abcdef".into(),
                    region: ItGlueRegion::Us,
                },
                ItGlueKey {
                    key: "sandbox-itglue-key-au-0123456789abcdef".into(),
                    region: ItGlueRegion::Au,
                },
                ItGlueKey {
                    key: "sandbox-itglue-key-eu-0123456789abcdef".into(),
                    region: ItGlueRegion::Eu,
                },
            ],
            itglue_generated_keys: 0,
            itglue_rate_limit: Some(ItGlueLimit {
                per_second: 10,
                per_five_minutes: 3000,
                send_retry_after: false,
            }),
            connectwise: ConnectWiseConfig::default(),
            halo: HaloConfig::default(),
            autotask: AutotaskConfig::default(),
        }
    }
}

/// An IT Glue data-centre region; each has its own host (and its own sandbox port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItGlueRegion {
    /// `https://api.itglue.com`.
    Us,
    /// `https://api.eu.itglue.com`.
    Eu,
    /// `https://api.au.itglue.com`.
    Au,
}

impl ItGlueRegion {
    /// Every region, in port order.
    pub const ALL: [ItGlueRegion; 3] = [ItGlueRegion::Us, ItGlueRegion::Eu, ItGlueRegion::Au];

    /// `"us"`, `"eu"` or `"au"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItGlueRegion::Us => "us",
            ItGlueRegion::Eu => "eu",
            ItGlueRegion::Au => "au",
        }
    }
}

impl fmt::Display for ItGlueRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region name other than `us`, `eu` or `au`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown IT Glue region {0:?} (expected us, eu or au)")]
pub struct UnknownRegion(pub String);

impl FromStr for ItGlueRegion {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(ItGlueRegion::Us),
            "eu" => Ok(ItGlueRegion::Eu),
            "au" => Ok(ItGlueRegion::Au),
            _ => Err(UnknownRegion(s.to_string())),
        }
    }
}

/// An IT Glue API key and the region it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItGlueKey {
    /// The `x-api-key` value.
    pub key: String,
    /// The only region (port) that accepts it.
    pub region: ItGlueRegion,
}

/// The `n`th generated IT Glue key of `region`, valid when
/// [`SandboxConfig::itglue_generated_keys`] is above `n`, e.g.
/// `sandbox-itglue-key-eu-0007-0123456789abcdef`.
pub fn itglue_key(region: ItGlueRegion, n: usize) -> String {
    format!("sandbox-itglue-key-{region}-{n:04}-0123456789abcdef")
}

/// IT Glue's budget per API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItGlueLimit {
    /// Requests admitted in any sliding one-second window.
    pub per_second: u32,
    /// Requests admitted per clock-aligned five-minute window.
    pub per_five_minutes: u32,
    /// Whether a refusal carries `Retry-After` (IT Glue's documentation names none).
    pub send_retry_after: bool,
}

/// A field of an IT Glue flexible asset type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItGlueField {
    /// Field id (unique within the account).
    pub id: u64,
    /// Display order.
    pub order: u32,
    /// Display name, e.g. `MFA adoption`.
    pub name: String,
    /// The trait key: the name lowercased, other characters collapsed to `-` (`mfa-adoption`).
    pub name_key: String,
    /// One of IT Glue's kinds: `Checkbox`, `Date`, `Header`, `Number`, `Select`, `Text`,
    /// `Textbox`, `Upload`, `Tag`, `Percent`, `Password`.
    pub kind: String,
    /// Whether an asset must give it a non-empty value.
    pub required: bool,
    /// Whether its value names the asset.
    pub use_for_title: bool,
    /// Whether it shows in the asset list.
    pub show_in_list: bool,
}

/// An IT Glue flexible asset type as stored by the emulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItGlueAssetType {
    /// Type id.
    pub id: u64,
    /// Name, unique within the account.
    pub name: String,
    /// Description.
    pub description: String,
    /// Font Awesome icon name.
    pub icon: String,
    /// Whether the type shows in the side menu.
    pub show_in_menu: bool,
    /// Fields, by order.
    pub fields: Vec<ItGlueField>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

/// An IT Glue flexible asset as stored by the emulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItGlueAsset {
    /// Asset id.
    pub id: u64,
    /// Owning organization.
    pub organization_id: u64,
    /// Its flexible asset type.
    pub flexible_asset_type_id: u64,
    /// The value of the use-for-title field(s).
    pub name: String,
    /// Trait values by field name-key (a PATCH replaces the whole set).
    pub traits: serde_json::Map<String, Value>,
    /// 1 on creation, +1 per update.
    pub versions: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

/// IT Glue request counters, for all keys or for one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ItGlueStats {
    /// API requests: for all keys, every request to an API route of the IT Glue ports whatever
    /// the answer (401s included); for one key, its authenticated requests.
    pub requests: u64,
    /// Successful creates and updates (types and assets).
    pub writes: u64,
    /// 429 answers: rate-limit refusals plus injected 429s.
    pub rejected_429: u64,
    /// The most authenticated requests of one key that arrived within any sliding second,
    /// refused ones included: above the budget means the client overran it.
    pub max_requests_in_any_second: u32,
    /// Requests of a key that arrived while a `Retry-After` the sandbox had sent to that key
    /// was still running.
    pub requests_during_retry_after: u64,
    /// For one key: when its first request since the counters were last reset came, in
    /// milliseconds after that reset.
    pub first_request_ms: Option<u64>,
    /// For one key: when its last request came, likewise.
    pub last_request_ms: Option<u64>,
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
    /// IT Glue us-region port.
    pub itglue_us: u16,
    /// IT Glue eu-region port.
    pub itglue_eu: u16,
    /// IT Glue au-region port.
    pub itglue_au: u16,
    /// ConnectWise Manage port.
    pub connectwise: u16,
    /// HaloPSA / HaloITSM port (resource and authorisation servers).
    pub halo: u16,
    /// Autotask port (zone discovery and the zone's API).
    pub autotask: u16,
}

/// Injectable faults. The default injects none.
///
/// Serialized as JSON (snake_case) for `GET` / `PUT /_sandbox/faults` on every sandbox port;
/// fields left out of a `PUT` take their defaults, unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every nth authenticated Graph data request answers 429 with `Retry-After: 1`.
    pub graph_429_every_nth: Option<u32>,
    /// Every nth authenticated Graph data request answers 503.
    pub graph_5xx_every_nth: Option<u32>,
    /// Every nth authenticated Hudu API request answers 502.
    pub hudu_5xx_every_nth: Option<u32>,
    /// Delay before every Hudu answer, in milliseconds.
    pub hudu_latency_ms: u64,
    /// Every nth authenticated IT Glue request answers 429 without being processed.
    pub itglue_429_every_nth: Option<u32>,
    /// The `Retry-After` seconds the injected IT Glue 429s carry (`None`: no header).
    pub itglue_429_retry_after: Option<u64>,
    /// Every nth authenticated IT Glue request answers 502.
    pub itglue_5xx_every_nth: Option<u32>,
    /// Delay before every IT Glue answer, in milliseconds.
    pub itglue_latency_ms: u64,
    /// Faults per provider and optionally per endpoint (path prefix), applied in front of the
    /// emulators: latency, error rates, resets, lost answers, malformed bodies, hangs, 429s.
    pub rules: Vec<FaultRule>,
    /// Seed of the generator that picks the requests a rule's rate hits.
    pub seed: u64,
}

/// A Hudu article as stored by the emulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuduArticle {
    /// Article id (from 1000 upwards).
    pub id: u64,
    /// Owning company; 0 for a global article (`company_id: null` in Hudu's JSON).
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
    /// Requests that arrived, counted on arrival (before any injected latency): what a
    /// caller had started by a given moment.
    pub arrivals: u64,
    /// Successful writes of every kind (articles, companies, layouts, assets): creates,
    /// updates, archives and unarchives.
    pub writes: u64,
    /// Successful asset creates, updates, archives and unarchives (part of `writes`).
    pub asset_writes: u64,
    /// Successful company creates, updates, archives and unarchives (part of `writes`).
    pub company_writes: u64,
    /// Successful asset layout creates and updates (part of `writes`).
    pub layout_writes: u64,
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
    /// Graph requests answered 429: by fault injection, or over the budget per tenant set by
    /// [`Sandbox::set_graph_rate_limit`].
    pub throttled_429: u64,
    /// Every request to the Exchange admin port.
    pub exchange_requests: u64,
    /// With a Graph budget set, the most requests one tenant made in one of its windows
    /// (refused ones included); 0 without one.
    pub max_requests_in_any_window: u32,
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
    /// IT Glue us-region API root (append `/organizations`, ...).
    pub itglue_us_url: String,
    /// IT Glue eu-region API root.
    pub itglue_eu_url: String,
    /// IT Glue au-region API root.
    pub itglue_au_url: String,
    /// ConnectWise Manage root, e.g. `http://127.0.0.1:41234` (append
    /// `/login/companyinfo/{companyId}`, or the API base `/{codebase}apis/3.0/...`: see
    /// [`Sandbox::cw_api_url`]).
    pub connectwise_url: String,
    /// HaloPSA / HaloITSM instance root, e.g. `http://127.0.0.1:41234`: the resource server is
    /// `{halo_url}/api` ([`Sandbox::halo_api_url`]), the authorisation server
    /// `{halo_url}/auth` ([`Sandbox::halo_auth_url`]).
    pub halo_url: String,
    /// Autotask root, e.g. `http://127.0.0.1:41234`: zone discovery lives under
    /// [`Sandbox::autotask_zone_discovery_url`], the API under [`Sandbox::autotask_api_url`].
    pub autotask_url: String,
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
        let itglue_us = bind(ports.itglue_us, "itglue us").await?;
        let itglue_eu = bind(ports.itglue_eu, "itglue eu").await?;
        let itglue_au = bind(ports.itglue_au, "itglue au").await?;
        let cw = bind(ports.connectwise, "connectwise").await?;
        let halo = bind(ports.halo, "halo").await?;
        let at = bind(ports.autotask, "autotask").await?;
        let url = |l: &TcpListener| -> anyhow::Result<String> {
            Ok(format!("http://{}", l.local_addr()?))
        };
        let (graph_url, login_url) = (url(&graph)?, url(&login)?);
        let (exchange_url, hudu_url) = (url(&exchange)?, url(&hudu)?);
        let (itglue_us_url, itglue_eu_url) = (url(&itglue_us)?, url(&itglue_eu)?);
        let itglue_au_url = url(&itglue_au)?;
        let (connectwise_url, halo_url) = (url(&cw)?, url(&halo)?);
        let autotask_url = url(&at)?;
        let state = Arc::new(State::new(config, graph_url.clone(), hudu_url.clone()));
        let wrap = |router, provider| faults::wrap(router, state.clone(), provider);
        serve(
            graph,
            wrap(graph::router(state.clone()), FaultProvider::Graph),
            &state,
        );
        serve(
            login,
            wrap(login::router(state.clone()), FaultProvider::Login),
            &state,
        );
        serve(
            exchange,
            wrap(exchange::router(state.clone()), FaultProvider::Exchange),
            &state,
        );
        serve(
            hudu,
            wrap(hudu::router(state.clone()), FaultProvider::Hudu),
            &state,
        );
        for (listener, region, url) in [
            (itglue_us, ItGlueRegion::Us, &itglue_us_url),
            (itglue_eu, ItGlueRegion::Eu, &itglue_eu_url),
            (itglue_au, ItGlueRegion::Au, &itglue_au_url),
        ] {
            let router = itglue::router(state.clone(), region, url.clone());
            serve(listener, wrap(router, FaultProvider::ItGlue), &state);
        }
        let router = connectwise::router(state.clone(), connectwise_url.clone());
        serve(cw, wrap(router, FaultProvider::ConnectWise), &state);
        let router = halo::router(state.clone());
        serve(halo, wrap(router, FaultProvider::Halo), &state);
        let router = autotask::router(state.clone(), autotask_url.clone());
        serve(at, wrap(router, FaultProvider::Autotask), &state);
        tracing::info!(
            %graph_url, %login_url, %exchange_url, %hudu_url,
            %itglue_us_url, %itglue_eu_url, %itglue_au_url, %connectwise_url, %halo_url,
            %autotask_url,
            "sandbox started"
        );
        Ok(Sandbox {
            graph_url,
            login_url,
            exchange_url,
            hudu_url,
            itglue_us_url,
            itglue_eu_url,
            itglue_au_url,
            connectwise_url,
            halo_url,
            autotask_url,
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

    /// Changes the tenant fixture at `index` as a change in the tenant would (a policy
    /// added, a setting switched): Graph and Exchange answer from the changed fixture from now
    /// on. False for an unknown index.
    pub fn edit_tenant(
        &self,
        index: usize,
        edit: impl FnOnce(&mut fixtures::TenantFixture),
    ) -> bool {
        self.state.edit_tenant(index, edit)
    }

    /// Hudu counters.
    pub fn hudu_stats(&self) -> HuduStats {
        self.state.hudu_stats()
    }

    /// Graph, token and Exchange counters.
    pub fn graph_stats(&self) -> GraphStats {
        self.state.graph_stats()
    }

    /// Changes fixture `index` as an admin would ([`TenantChange`]): Graph serves the changed
    /// facts from now on and the tenant's directory audit log gains the matching entry, which
    /// is returned.
    pub fn change_tenant(&self, index: usize, change: &TenantChange) -> Result<Value, ChangeError> {
        graph::changes::apply(&self.state, index, change)
    }

    /// The directory audit log of fixture `index`, newest first (empty for an unknown index).
    pub fn directory_audits(&self, index: usize) -> Vec<Value> {
        self.state
            .tenant(index)
            .map(|t| self.state.audits.all(&t))
            .unwrap_or_default()
    }

    /// The fixture at `index` as Graph serves it now (after any [`Sandbox::change_tenant`]).
    pub fn tenant_fixture(&self, index: usize) -> Option<TenantFixture> {
        self.state.tenant(index).map(|t| (*t).clone())
    }

    /// Replaces the injected faults and restarts their request counts and the rules'
    /// generator (rule rates are clamped to 0..=1; see [`Faults::problems`] to check first).
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    /// The injected faults in force.
    pub fn faults(&self) -> Faults {
        self.state.faults.get()
    }

    /// Sets Graph's budget per tenant (`None` = unlimited, the default): windows aligned to
    /// clock boundaries, counted per tenant as requests arrive; over it Graph answers 429
    /// `TooManyRequests` with `Retry-After` (seconds to the next window).
    pub fn set_graph_rate_limit(&self, limit: Option<WindowLimit>) {
        self.state.graph_limiter.set_limit(limit);
    }

    /// Changes Hudu's rate limit (`None` = unlimited); counts in the current windows are kept.
    pub fn set_hudu_rate_limit(&self, limit: Option<WindowLimit>) {
        self.state.hudu_limiter.set_limit(limit);
    }

    /// Seeds an article directly in the store (not counted in stats); returns its id.
    pub fn create_hudu_article(&self, company_id: u64, name: &str, content: &str) -> u64 {
        self.state.create_hudu_article(company_id, name, content)
    }

    /// Edits an article directly in the store, as a person in Hudu would (not counted in
    /// stats); false for an unknown id.
    pub fn update_hudu_article(&self, id: u64, name: &str, content: &str) -> bool {
        self.state
            .hudu
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(id, None, Some(name), Some(content), None)
    }

    /// The IT Glue API root of `region` (`"us"`, `"eu"` or `"au"`, any case).
    pub fn itglue_url(&self, region: &str) -> Option<&str> {
        match region.parse::<ItGlueRegion>().ok()? {
            ItGlueRegion::Us => Some(&self.itglue_us_url),
            ItGlueRegion::Eu => Some(&self.itglue_eu_url),
            ItGlueRegion::Au => Some(&self.itglue_au_url),
        }
    }

    /// IT Glue counters over every key.
    pub fn itglue_stats(&self) -> ItGlueStats {
        self.state.itglue.stats()
    }

    /// IT Glue counters of one key; `None` for an unknown key.
    pub fn itglue_key_stats(&self, key: &str) -> Option<ItGlueStats> {
        self.state.itglue.key_stats(key)
    }

    /// Zeroes the IT Glue counters (budgets and running `Retry-After`s are kept).
    pub fn reset_itglue_stats(&self) {
        self.state.itglue.reset_stats();
    }

    /// Changes IT Glue's rate limit (`None` = unlimited); current windows are kept.
    pub fn set_itglue_rate_limit(&self, limit: Option<ItGlueLimit>) {
        self.state.itglue.set_limit(limit);
    }

    /// A snapshot of the flexible assets of `key`'s account, by id (empty for an unknown key).
    pub fn itglue_assets(&self, key: &str) -> Vec<ItGlueAsset> {
        self.state.itglue.assets(key)
    }

    /// A snapshot of the flexible asset types of `key`'s account, by id.
    pub fn itglue_asset_types(&self, key: &str) -> Vec<ItGlueAssetType> {
        self.state.itglue.asset_types(key)
    }

    /// Seeds a flexible asset type in `key`'s account (not counted in stats). `document` is
    /// what `POST /flexible_asset_types` takes; the same validation applies.
    pub fn create_itglue_asset_type(
        &self,
        key: &str,
        document: &Value,
    ) -> anyhow::Result<ItGlueAssetType> {
        self.state.itglue.seed_type(key, document)
    }

    /// Seeds a flexible asset in `key`'s account (not counted in stats); the validation of
    /// `POST /flexible_assets` applies. Returns its id.
    pub fn create_itglue_asset(
        &self,
        key: &str,
        organization_id: u64,
        flexible_asset_type_id: u64,
        traits: serde_json::Map<String, Value>,
    ) -> anyhow::Result<u64> {
        self.state
            .itglue
            .seed_asset(key, organization_id, flexible_asset_type_id, traits)
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
