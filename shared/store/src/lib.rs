//! PostgreSQL state of the fleet: a pooled [`Store`] with one module per table family.
//!
//! Every query that reads or changes an account's data takes the [`AccountId`] and filters by
//! it, so one account's token can never reach another account's rows.

mod accounts;
mod audit;
mod change_watch;
mod collect_inputs;
mod connections;
mod documents;
mod integrations;
mod migrate;
mod objects;
mod prepared;
mod psa;
mod publish_inputs;
mod rate_limits;
mod runs;
mod schedules;
mod secrets;
mod snapshots;
mod sync_runs;
mod tenants;
mod tls;
mod webhooks;

pub use accounts::{hash_token, ApiToken, Permission, TokenRecord};
pub use audit::{AuditAction, AuditEntry, AuditEvent, FieldChange, MAX_AUDIT_PAGE};
pub use change_watch::{ChangeWatch, ClaimedWatch, PollOutcome};
pub use collect_inputs::{CollectInputs, CollectTenant};
pub use connections::MicrosoftConnection;
pub use documents::RemoteDocument;
pub use integrations::{Integration, IntegrationUpsert};
pub use migrate::ensure_database;
pub use objects::{LeftObject, ObjectAction, ObjectKey, RemoteObject};
pub use psa::{
    ListedCompany, MatchChange, MatchState, PayloadBody, PlannedPayload, PlannedPayloadState,
    PsaCompany, PsaIntegration, StoredPayload,
};
pub use publish_inputs::PublishInputs;
pub use rate_limits::{RateLimitSlot, TakenSlot};
pub use runs::{AnyRun, NewRun, Run, RunCounts, RunEvent, RunFilter, RunStateCount};
pub use schedules::ScheduledIntegration;
pub use secrets::{Reseal, ResealReport, SealedSecret};
pub use snapshots::StoredSnapshot;
pub use sync_runs::{SyncCounts, SyncRun};
pub use tenants::{NewTenant, Tenant, TenantPushes};
pub use webhooks::{
    ClaimedDelivery, DeliveryOutcome, Webhook, WebhookStatus, MAX_WEBHOOKS_PER_ACCOUNT,
    RUN_FINISHED,
};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use docsync_domain::AccountId;
use std::str::FromStr;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the query.
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// No connection could be taken from the pool.
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database URL is malformed.
    #[error("DOCSYNC_DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    /// A row held a value the code does not understand (a bug or a newer schema).
    #[error("stored value could not be read: {0}")]
    Corrupt(String),
    /// A unique constraint rejected the write.
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether the database was out of reach (down, restarting, the connection lost) rather
    /// than the query wrong: worth trying again shortly, and a 503 rather than a 500 to a
    /// caller.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_) => true,
            StoreError::Db(e) => match e.as_db_error() {
                // admin_shutdown, crash_shutdown, cannot_connect_now (57P0x), and
                // connection_exception (08xxx).
                Some(db) => {
                    let code = db.code().code();
                    code.starts_with("57P0") || code.starts_with("08")
                }
                // No answer from the server at all: the connection closed or failed.
                None => true,
            },
            _ => false,
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The pooled database handle shared by every role.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    metrics: Option<docsync_telemetry::Metrics>,
}

impl Store {
    /// Builds a pool for `database_url` (connections open lazily).
    pub fn connect(database_url: &str, max_size: usize) -> StoreResult<Self> {
        let target = tls::Target::parse(database_url)?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match target.tls {
            Some(tls) => Manager::from_config(target.config, tls, manager_config),
            None => Manager::from_config(target.config, tokio_postgres::NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::BadUrl(e.to_string()))?;
        Ok(Self {
            pool,
            metrics: None,
        })
    }

    /// The same store, counting finished runs (and their total duration) in `metrics`.
    pub fn with_metrics(mut self, metrics: docsync_telemetry::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// One stage of a run (`collect`, `publish`: one job's work) took `took`.
    pub fn record_stage(&self, provider: &str, stage: &str, took: std::time::Duration) {
        if let Some(m) = &self.metrics {
            m.stage(provider, stage, took);
        }
    }

    /// A run reached its final state: counted once, by the transition that moved it.
    pub(crate) fn count_finished(
        &self,
        provider: &str,
        trigger: &str,
        state: &str,
        created: chrono::DateTime<chrono::Utc>,
        finished: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        if let Some(m) = &self.metrics {
            m.run_finished(provider, trigger, state);
            if let Some(took) = finished.and_then(|f| (f - created).to_std().ok()) {
                m.stage(provider, "total", took);
            }
        }
    }

    /// A pooled client.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// Applies the schema migrations (idempotent; safe with several processes at once).
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        migrate::run(&mut client).await
    }

    /// Applies the schema migrations up to and including V`version` only, for tests and
    /// operations: preparing a database at an older schema (an upgrade test seeds it as that
    /// release left it, then calls [`Store::migrate`]), or stepping an install forward one
    /// release at a time. Holds the same advisory lock as [`Store::migrate`]; migrations
    /// already applied are never undone, and a version with no migration is refused.
    pub async fn migrate_to(&self, version: u32) -> StoreResult<()> {
        let mut client = self.client().await?;
        migrate::run_to(&mut client, version).await
    }

    /// Whether this store's connections to PostgreSQL are encrypted (`sslmode` in
    /// `DOCSYNC_DATABASE_URL`), as the server sees the connection.
    pub async fn uses_tls(&self) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// When the database server (its postmaster) started: a restart moves it on.
    pub async fn server_started_at(&self) -> StoreResult<chrono::DateTime<chrono::Utc>> {
        let row = self
            .client()
            .await?
            .query_one("SELECT pg_postmaster_start_time()", &[])
            .await?;
        Ok(row.get(0))
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        match self.client().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }
}

pub(crate) fn account(id: uuid::Uuid) -> AccountId {
    AccountId(id)
}

pub(crate) fn parse<T: FromStr<Err = String>>(raw: &str) -> StoreResult<T> {
    raw.parse().map_err(StoreError::Corrupt)
}
