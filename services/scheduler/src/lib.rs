//! The scheduler role: every tick it asks each scheduled integration for its latest slot at
//! or before now and claims that slot for every mapped tenant. The slot row's primary key
//! makes each (provider, tenant, slot) happen exactly once across any number of replicas; a
//! scheduler that was down claims only the most recent missed slot when it returns. A
//! scheduled push is the same job as a push-now, with trigger `schedule`.
//!
//! It also relays runs that were accepted but whose message the broker never confirmed (a
//! crash between the commit and the publish); collectors ignore any duplicate this makes.
//!
//! [`change`] watches tenants' directory audit logs for integrations with `onChange` and
//! enqueues a push (trigger `change`) per burst of relevant changes.

pub mod change;

pub use change::{ChangeConfig, ChangeWatcher, PollReport};

use chrono::{DateTime, Utc};
use docsync_domain::{RunId, Schedule, Shutdown};
use docsync_queue::{Broker, CollectJob};
use docsync_store::{ScheduledIntegration, Store};
use std::sync::Arc;
use std::time::Duration;

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often slots are evaluated.
    pub tick: Duration,
    /// An accepted run whose message was not confirmed this long after is enqueued again.
    pub requeue_after: Duration,
    /// A run in flight that made no progress for this long is handed to the collectors
    /// again (longer than a job's timeout plus the longest retry delay).
    pub stalled_after: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(15),
            requeue_after: Duration::from_secs(120),
            stalled_after: Duration::from_secs(2400),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default)]
pub struct TickReport {
    /// Integrations with a due slot.
    pub integrations: usize,
    /// Runs created and enqueued for claimed slots.
    pub enqueued: usize,
    /// Time spent claiming slots and creating runs in PostgreSQL (overlaps `enqueue_time`).
    pub claim_time: Duration,
    /// Time spent publishing (with confirms) to RabbitMQ (overlaps `claim_time`).
    pub enqueue_time: Duration,
}

/// Largest batch of collect messages published (and confirmed) at once.
const BATCH: usize = 2_000;
/// Tenants claimed per transaction; one chunk is published while the next is claimed.
const CLAIM_CHUNK: i64 = 5_000;

/// Evaluates every schedule at `now` (injectable for tests) and enqueues the claimed slots.
pub async fn tick(
    store: &Store,
    broker: &Broker,
    now: DateTime<Utc>,
) -> anyhow::Result<TickReport> {
    let mut report = TickReport::default();
    for integration in store.scheduled_integrations().await? {
        let schedule = match Schedule::parse(&integration.schedule) {
            Ok(s) => s,
            Err(errors) => {
                tracing::warn!(account = %integration.account_id, provider = %integration.provider, ?errors, "stored schedule is invalid; skipped");
                continue;
            }
        };
        let Some(slot) = schedule.slot_at_or_before(now) else {
            continue;
        };
        if slot < integration.created_at || integration.last_slot_at.is_some_and(|l| l >= slot) {
            continue;
        }
        let claimed = claim_and_dispatch(store, broker, &integration, slot, &mut report).await?;
        if claimed > 0 {
            report.integrations += 1;
            tracing::info!(account = %integration.account_id, provider = %integration.provider, %slot, tenants = claimed, "slot claimed");
        }
    }
    tick_psa(store, broker, now, &mut report).await?;
    Ok(report)
}

/// PSA syncs: one run per (account, PSA, slot), claimed by the slot row's primary key so any
/// number of replicas start each slot once; a scheduler that was down starts only the latest
/// missed slot.
async fn tick_psa(
    store: &Store,
    broker: &Broker,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> anyhow::Result<()> {
    for integration in store.scheduled_psa_integrations().await? {
        let Some(slot) = integration.options.schedule.slot_at_or_before(now) else {
            continue;
        };
        if slot < integration.created_at {
            continue;
        }
        if let Some(run) = store
            .claim_psa_slot(integration.account_id, integration.psa, slot)
            .await?
        {
            report.integrations += 1;
            report.enqueued += dispatch(store, broker, &[run]).await?;
            tracing::info!(account = %integration.account_id, psa = %integration.psa, %slot, "sync slot claimed");
        }
    }
    Ok(())
}

/// Claims the slot chunk by chunk, publishing each claimed chunk while the next one is being
/// claimed, so PostgreSQL and RabbitMQ work at the same time. Returns the runs created.
async fn claim_and_dispatch(
    store: &Store,
    broker: &Broker,
    integration: &ScheduledIntegration,
    slot: DateTime<Utc>,
    report: &mut TickReport,
) -> anyhow::Result<usize> {
    let mut cursor = None;
    let mut pending: Vec<RunId> = Vec::new();
    let mut claimed = 0;
    loop {
        let claim = async {
            let started = std::time::Instant::now();
            let chunk = store
                .claim_slot_chunk(
                    integration.account_id,
                    integration.provider,
                    slot,
                    cursor,
                    CLAIM_CHUNK,
                )
                .await;
            (chunk, started.elapsed())
        };
        let send = async {
            let started = std::time::Instant::now();
            // If this fails the runs stay unconfirmed and the relay enqueues them later.
            (dispatch(store, broker, &pending).await, started.elapsed())
        };
        let ((chunk, claim_time), (sent, send_time)) = tokio::join!(claim, send);
        report.claim_time += claim_time;
        report.enqueue_time += send_time;
        report.enqueued += sent?;
        let (runs, next) = chunk?;
        claimed += runs.len();
        pending = runs;
        cursor = match next {
            Some(c) => Some(c),
            None => break,
        };
    }
    let started = std::time::Instant::now();
    report.enqueued += dispatch(store, broker, &pending).await?;
    report.enqueue_time += started.elapsed();
    store
        .finish_slot(integration.account_id, integration.provider, slot)
        .await?;
    Ok(claimed)
}

/// Enqueues collect jobs for `runs` in confirmed batches and records each confirmed batch.
pub(crate) async fn dispatch(
    store: &Store,
    broker: &Broker,
    runs: &[RunId],
) -> anyhow::Result<usize> {
    for chunk in runs.chunks(BATCH) {
        let jobs: Vec<CollectJob> = chunk
            .iter()
            .map(|&run_id| CollectJob::new(run_id))
            .collect();
        broker.enqueue_collect(&jobs).await?;
        store.mark_enqueued(chunk).await?;
    }
    Ok(runs.len())
}

/// Hands runs in flight that made no progress for `stalled_after` to the collectors again:
/// a collector re-collects a run still `collecting` and re-enqueues the publish of a run
/// `publishing`, so a message lost in a broker crash never leaves a run stuck. Handing a run
/// on twice is harmless (runs only move forward, documents are written in place).
pub async fn revive_stalled(
    store: &Store,
    broker: &Broker,
    stalled_after: Duration,
) -> anyhow::Result<usize> {
    let older_than = Utc::now() - chrono::Duration::from_std(stalled_after)?;
    let mut total = 0;
    loop {
        let runs = store.claim_stalled_runs(older_than, BATCH as i64).await?;
        if runs.is_empty() {
            return Ok(total);
        }
        let jobs: Vec<CollectJob> = runs.iter().map(|&id| CollectJob::new(id)).collect();
        broker.enqueue_collect(&jobs).await?;
        total += runs.len();
        tracing::warn!(
            runs = runs.len(),
            "runs without progress handed to the collectors again"
        );
    }
}

/// Enqueues the runs accepted more than `requeue_after` ago whose message the broker never
/// confirmed. Runs merely waiting in a long queue are not sent again.
pub async fn relay_stale(
    store: &Store,
    broker: &Broker,
    requeue_after: Duration,
) -> anyhow::Result<usize> {
    let older_than = Utc::now() - chrono::Duration::from_std(requeue_after)?;
    let mut total = 0;
    loop {
        let runs = store.runs_never_enqueued(older_than, BATCH as i64).await?;
        if runs.is_empty() {
            return Ok(total);
        }
        total += dispatch(store, broker, &runs).await?;
        tracing::warn!(
            runs = runs.len(),
            "accepted runs whose message never reached the broker enqueued again"
        );
    }
}

/// Runs the scheduler role until `shutdown`.
pub async fn run(
    config: SchedulerConfig,
    store: Store,
    broker: Arc<Broker>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    tracing::info!(tick_s = config.tick.as_secs(), "scheduler started");
    let mut interval = tokio::time::interval(config.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = interval.tick() => {}
        }
        match tick(&store, &broker, Utc::now()).await {
            Ok(r) if r.enqueued > 0 => tracing::info!(
                enqueued = r.enqueued,
                integrations = r.integrations,
                "scheduled pushes enqueued"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; retrying next tick"),
        }
        if let Err(e) = relay_stale(&store, &broker, config.requeue_after).await {
            tracing::warn!(error = %e, "relay of queued runs failed; retrying next tick");
        }
        if let Err(e) = revive_stalled(&store, &broker, config.stalled_after).await {
            tracing::warn!(error = %e, "revival of stalled runs failed; retrying next tick");
        }
    }
    tracing::info!("scheduler stopped");
    Ok(())
}
