//! The state every emulator shares: fixtures, issued tokens, faults, counters, the Hudu store,
//! the IT Glue accounts and the ConnectWise, Halo and Autotask emulators.

use crate::autotask::Autotask;
use crate::connectwise::ConnectWise;
use crate::faults::FaultSwitch;
use crate::fixtures::{self, TenantFixture};
use crate::halo::Halo;
use crate::hudu::{HuduStore, HuduWriteCounters};
use crate::itglue::ItGlue;
use crate::ratelimit::WindowLimiter;
use crate::{GraphStats, HuduArticle, HuduStats, SandboxConfig};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Which resource a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// `https://graph.microsoft.com`.
    Graph,
    /// `https://outlook.office365.com`.
    Exchange,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Unknown token.
    Invalid,
    /// Issued for the other audience.
    WrongAudience,
    /// Past its lifetime.
    Expired,
}

impl TokenError {
    /// A message in the services' style.
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenError::Missing => "Access token is empty.",
            TokenError::Invalid => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenError::WrongAudience => "Access token validation failure. Invalid audience.",
            TokenError::Expired => "Lifetime validation failed, the token is expired.",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct IssuedToken {
    tenant: usize,
    audience: Audience,
    expires: Instant,
}

/// Token lifetime, as Entra reports it.
pub(crate) const TOKEN_LIFETIME_SECS: u64 = 3599;

/// Shared emulator state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: SandboxConfig,
    pub(crate) graph_url: String,
    pub(crate) hudu_url: String,
    fixtures: Vec<OnceLock<Arc<TenantFixture>>>,
    /// Fixtures as the test hooks changed them (they win over the generated ones).
    changed: Mutex<HashMap<usize, Arc<TenantFixture>>>,
    /// Every tenant's directory audit log.
    pub(crate) audits: crate::graph::audits::AuditLog,
    lookup: HashMap<String, usize>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    pub(crate) faults: FaultSwitch,
    pub(crate) graph_requests: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) graph_throttled: AtomicU64,
    /// Graph's budget per tenant (unlimited unless a test sets one).
    pub(crate) graph_limiter: WindowLimiter,
    pub(crate) exchange_requests: AtomicU64,
    pub(crate) hudu: Mutex<HuduStore>,
    pub(crate) hudu_limiter: WindowLimiter,
    pub(crate) hudu_requests: AtomicU64,
    pub(crate) hudu_arrivals: AtomicU64,
    pub(crate) hudu_writes: AtomicU64,
    pub(crate) hudu_kind_writes: HuduWriteCounters,
    pub(crate) itglue: ItGlue,
    pub(crate) connectwise: ConnectWise,
    pub(crate) halo: Halo,
    pub(crate) autotask: Autotask,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl State {
    /// Builds the state; fixtures are generated lazily on first use.
    pub(crate) fn new(config: SandboxConfig, graph_url: String, hudu_url: String) -> Self {
        let mut lookup = HashMap::new();
        for i in 0..config.tenants {
            lookup.insert(fixtures::microsoft_tenant_id(i), i);
        }
        State {
            fixtures: (0..config.tenants).map(|_| OnceLock::new()).collect(),
            changed: Mutex::new(HashMap::new()),
            audits: Default::default(),
            lookup,
            tokens: Mutex::new(HashMap::new()),
            faults: FaultSwitch::default(),
            graph_requests: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            graph_throttled: AtomicU64::new(0),
            graph_limiter: WindowLimiter::new(None),
            exchange_requests: AtomicU64::new(0),
            hudu: Mutex::new(HuduStore::new(config.hudu_companies)),
            hudu_limiter: WindowLimiter::new(config.hudu_rate_limit),
            hudu_requests: AtomicU64::new(0),
            hudu_arrivals: AtomicU64::new(0),
            hudu_writes: AtomicU64::new(0),
            hudu_kind_writes: HuduWriteCounters::default(),
            itglue: ItGlue::new(&config),
            connectwise: ConnectWise::new(&config.connectwise),
            halo: Halo::new(&config.halo),
            autotask: Autotask::new(&config.autotask),
            shutdown: watch::channel(false).0,
            config,
            graph_url,
            hudu_url,
        }
    }

    /// The fixture at `index` (generated once), as the test hooks last changed it.
    pub(crate) fn tenant(&self, index: usize) -> Option<Arc<TenantFixture>> {
        let cell = self.fixtures.get(index)?;
        if let Some(changed) = self
            .changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&index)
        {
            return Some(changed.clone());
        }
        Some(
            cell.get_or_init(|| {
                let users = self
                    .config
                    .tenant_users
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, n)| *n);
                Arc::new(fixtures::tenant_sized(index, users))
            })
            .clone(),
        )
    }

    /// Serves `fixture` for its index from now on (a test hook changed it).
    pub(crate) fn replace_tenant(&self, fixture: TenantFixture) {
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fixture.index, Arc::new(fixture));
    }

    /// Changes the fixture at `index` (false for an unknown index): later answers serve it.
    pub(crate) fn edit_tenant(&self, index: usize, edit: impl FnOnce(&mut TenantFixture)) -> bool {
        let Some(current) = self.tenant(index) else {
            return false;
        };
        let mut changed = (*current).clone();
        edit(&mut changed);
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, Arc::new(changed));
        true
    }

    /// Resolves a tenant id (case-insensitive) to its fixture index.
    pub(crate) fn tenant_index(&self, id: &str) -> Option<usize> {
        self.lookup.get(&id.to_ascii_lowercase()).copied()
    }

    /// Records a new token and returns it.
    pub(crate) fn issue_token(&self, tenant: usize, audience: Audience) -> String {
        use rand::distr::{Alphanumeric, SampleString};
        let mut rng = rand::rng();
        let token = format!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
            Alphanumeric.sample_string(&mut rng, 48),
            Alphanumeric.sample_string(&mut rng, 32)
        );
        let issued = IssuedToken {
            tenant,
            audience,
            expires: Instant::now() + Duration::from_secs(TOKEN_LIFETIME_SECS),
        };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), issued);
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
        token
    }

    /// Checks the bearer token for `audience`; returns its tenant's fixture index.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        audience: Audience,
    ) -> Result<usize, TokenError> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let issued = tokens.get(token).ok_or(TokenError::Invalid)?;
        if issued.audience != audience {
            return Err(TokenError::WrongAudience);
        }
        if issued.expires <= Instant::now() {
            return Err(TokenError::Expired);
        }
        Ok(issued.tenant)
    }

    /// Snapshot of the Hudu articles.
    pub(crate) fn hudu_articles(&self) -> Vec<HuduArticle> {
        self.hudu
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .articles()
    }

    /// Seeds an article.
    pub(crate) fn create_hudu_article(&self, company_id: u64, name: &str, content: &str) -> u64 {
        self.hudu
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .create(company_id, name, content, None)
    }

    /// Hudu counters.
    pub(crate) fn hudu_stats(&self) -> HuduStats {
        let (rejected_429, max_requests_in_any_window) = self.hudu_limiter.counts();
        HuduStats {
            requests: self.hudu_requests.load(Ordering::Relaxed),
            arrivals: self.hudu_arrivals.load(Ordering::Relaxed),
            writes: self.hudu_writes.load(Ordering::Relaxed),
            asset_writes: self.hudu_kind_writes.assets.load(Ordering::Relaxed),
            company_writes: self.hudu_kind_writes.companies.load(Ordering::Relaxed),
            layout_writes: self.hudu_kind_writes.layouts.load(Ordering::Relaxed),
            rejected_429,
            max_requests_in_any_window,
        }
    }

    /// Microsoft counters.
    pub(crate) fn graph_stats(&self) -> GraphStats {
        GraphStats {
            requests: self.graph_requests.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            throttled_429: self.graph_throttled.load(Ordering::Relaxed),
            exchange_requests: self.exchange_requests.load(Ordering::Relaxed),
            max_requests_in_any_window: self.graph_limiter.counts().1,
        }
    }
}
