//! What a Graph source needs: endpoints and limits, the MSP's app credentials, the tenant.

use docsync_domain::{ApiKey, RateLimit, TenantId};
use std::time::Duration;

/// Endpoints and limits of the Microsoft source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSourceConfig {
    /// Microsoft Graph root, e.g. `https://graph.microsoft.com` (no `/v1.0`).
    pub graph_url: String,
    /// Entra sign-in root, e.g. `https://login.microsoftonline.com`.
    pub login_url: String,
    /// Exchange Online root, e.g. `https://outlook.office365.com`.
    pub exchange_url: String,
    /// Requests in flight at once for one collection (default 12: every read of a collection
    /// at once, so a collection takes about as long as its slowest chain of calls; Graph's
    /// limits per app and tenant are thousands of requests in ten seconds).
    pub max_concurrency: usize,
    /// Timeout of one HTTP request (default 30 s).
    pub request_timeout: Duration,
    /// Retries of one request after 429, 5xx, timeouts and resets (default 5).
    pub max_retries: u32,
    /// A read not answered this long after it went out is sent once more and the first
    /// usable answer wins (default 1 s; None: never).
    pub hedge_after: Option<Duration>,
    /// Each Microsoft service's budget per tenant.
    pub budgets: MicrosoftBudgets,
}

/// The budgets docsync keeps per Microsoft tenant, one per service, each under its own
/// rate-limit key (`graph:`, `exchange:`, `login:` + the Microsoft tenant id or domain).
/// Microsoft throttles per app and tenant, with limits far above these (Graph's identity
/// services allow thousands of requests per ten seconds); the budgets keep one tenant's
/// collection, its audit polls and a burst of pushes from ever reaching them, while a single
/// collection (a dozen Graph reads, a few cmdlets, two sign-ins) is slowed by well under a
/// second. Slots are spaced evenly, so `requests` per `per_seconds` also sets the spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicrosoftBudgets {
    /// Graph reads per tenant (default 1,000 per 10 s: 10 ms apart).
    pub graph: RateLimit,
    /// Exchange Online admin API calls per tenant (default 100 per 10 s: 100 ms apart).
    pub exchange: RateLimit,
    /// Entra sign-ins per tenant (default 20 per s: 50 ms apart; tokens are cached).
    pub sign_in: RateLimit,
}

impl Default for MicrosoftBudgets {
    fn default() -> Self {
        Self {
            graph: RateLimit {
                requests: 1000,
                per_seconds: 10,
            },
            exchange: RateLimit {
                requests: 100,
                per_seconds: 10,
            },
            sign_in: RateLimit {
                requests: 20,
                per_seconds: 1,
            },
        }
    }
}

impl GraphSourceConfig {
    /// Microsoft's public cloud endpoints with the default limits.
    pub fn microsoft_defaults() -> Self {
        Self {
            graph_url: "https://graph.microsoft.com".to_owned(),
            login_url: "https://login.microsoftonline.com".to_owned(),
            exchange_url: "https://outlook.office365.com".to_owned(),
            max_concurrency: 12,
            request_timeout: Duration::from_secs(30),
            max_retries: 5,
            hedge_after: Some(Duration::from_secs(1)),
            budgets: MicrosoftBudgets::default(),
        }
    }
}

impl Default for GraphSourceConfig {
    fn default() -> Self {
        Self::microsoft_defaults()
    }
}

/// The MSP's multi-tenant Entra app, consented in each customer tenant.
#[derive(Debug, Clone)]
pub struct MicrosoftCredentials {
    /// Application (client) id.
    pub client_id: String,
    /// Client secret; never printed.
    pub client_secret: ApiKey,
}

/// The customer tenant to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    /// docsync's tenant id.
    pub tenant_id: TenantId,
    /// docsync's name for the tenant.
    pub name: String,
    /// The Microsoft (Entra) tenant id or a verified domain of it.
    pub microsoft_tenant_id: String,
}
