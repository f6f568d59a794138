//! The collector role: takes collect jobs, builds (or reuses) the tenant's posture snapshot
//! from its source, stores it, and hands the run to the publishers.
//!
//! One fresh snapshot serves every provider pushed at about the same time: a snapshot younger
//! than `snapshot_reuse` is reused instead of collecting again, and collections of one tenant
//! are serialised inside the process so that two runs arriving together collect once.

mod handle;
mod sync;

use docsync_destinations::{Providers, SinkFactory};
use docsync_domain::crypto::MasterKey;
use docsync_domain::locks::KeyedLocks;
use docsync_domain::Shutdown;
use docsync_queue::{worker, Broker, CollectJob};
use docsync_sources::SnapshotSource;
use docsync_store::Store;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Collector settings.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Collections in flight at once in this process. A collection mostly waits for Graph
    /// (a dozen calls of a few hundred milliseconds each, partly in a row), so many run side
    /// by side; the collect queue's prefetch is at least this.
    pub concurrency: usize,
    /// A snapshot younger than this is reused for another provider's run.
    pub snapshot_reuse: Duration,
    /// How long in-flight collections may run after shutdown was asked for.
    pub drain_deadline: Duration,
    /// How long one collection may take before it is given up and retried later.
    pub job_timeout: Duration,
    /// Per provider request timeout (PSA reads).
    pub request_timeout: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            snapshot_reuse: Duration::from_secs(120),
            drain_deadline: Duration::from_secs(30),
            job_timeout: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What a collect job needs, shared by every task.
pub(crate) struct Context {
    pub store: Store,
    pub broker: Arc<Broker>,
    pub master: MasterKey,
    pub source: Arc<dyn SnapshotSource>,
    pub config: CollectorConfig,
    pub tenant_locks: KeyedLocks<docsync_domain::TenantId>,
    pub sync: docsync_psa::sync::SyncContext,
}

/// Runs the collector until `shutdown`, then drains in-flight work up to the deadline;
/// unfinished messages go back to the queue. `providers` (the fleet's pacer) is how PSA calls
/// and the destination's company list are reached, paced by their keys across processes.
pub async fn run(
    config: CollectorConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    source: Arc<dyn SnapshotSource>,
    providers: Providers,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let limit = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let destinations = SinkFactory::new(
        store.clone(),
        master.clone(),
        providers,
        config.request_timeout,
    )?;
    let sync = docsync_psa::sync::SyncContext::new(store.clone(), master.clone(), destinations);
    let ctx = Arc::new(Context {
        store,
        broker,
        master,
        source,
        config,
        tenant_locks: KeyedLocks::default(),
        sync,
    });
    let mut tasks = JoinSet::new();
    let tag = format!("collector-{}", uuid::Uuid::new_v4());
    let mut failures = 0;
    tracing::info!("collector started");
    'subscribe: loop {
        let mut consumer = match ctx.broker.consume_collect(&tag).await {
            Ok(c) => {
                failures = 0;
                c
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "cannot consume the collect queue; trying again");
                tokio::select! {
                    _ = shutdown.wait() => break 'subscribe,
                    _ = tokio::time::sleep(worker::resubscribe_backoff(failures)) => continue 'subscribe,
                }
            }
        };
        loop {
            let permit = tokio::select! {
                _ = shutdown.wait() => break 'subscribe,
                p = limit.clone().acquire_owned() => p?,
            };
            let delivery = tokio::select! {
                _ = shutdown.wait() => break 'subscribe,
                d = consumer.next() => d,
            };
            let delivery = match delivery {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "the collect consumer failed; subscribing again");
                    continue 'subscribe;
                }
                None => {
                    tracing::warn!("the broker closed the collect consumer; subscribing again");
                    continue 'subscribe;
                }
            };
            let ctx = ctx.clone();
            tasks.spawn(async move {
                let _permit = permit;
                // A job over the delivery limit is parked, and its run fails saying where and
                // after how many deliveries.
                let store = &ctx.store;
                let parked = |run, reason: String| async move {
                    store.fail_parked(run, &reason).await.map(drop).map_err(Into::into)
                };
                let Some(job) = worker::decode_or_park::<CollectJob, _, _>(&ctx.broker, &delivery, parked).await else {
                    return;
                };
                let span = tracing::info_span!("collect", run_id = %job.run_id, retry = job.retry, trace_id = tracing::field::Empty);
                docsync_telemetry::propagation::set_parent(
                    &span,
                    &docsync_queue::trace_headers(&delivery),
                );
                docsync_telemetry::propagation::record_trace_id(&span);
                let limit = ctx.config.job_timeout;
                let result =
                    match tokio::time::timeout(limit, handle::collect(&ctx, job).instrument(span))
                        .await
                    {
                        Ok(result) => result,
                        Err(_) => {
                            let reason =
                                format!("collecting took longer than {} s", limit.as_secs());
                            let next = worker::next_retry(&ctx.broker, job.retry);
                            ctx.store
                                .retry_or_fail(job.run_id, &reason, next)
                                .await
                                .map(worker::Verdict::retrying)
                                .map_err(Into::into)
                        }
                    };
                worker::settle(&ctx.broker, &delivery, &job, result).await;
            });
            while tasks.try_join_next().is_some() {}
        }
    }
    tracing::info!(in_flight = tasks.len(), "collector draining");
    let _ = tokio::time::timeout(ctx.config.drain_deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}
