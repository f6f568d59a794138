//! The publisher role: consumes publish partitions (single active consumer each, so one
//! process paces a rate-limit key at a time), renders the run's snapshot for its provider and
//! writes it in place, recording the document id before acknowledging.

mod gate;
mod handle;
mod sync;

use docsync_domain::crypto::MasterKey;
use docsync_domain::locks::KeyedLocks;
use docsync_domain::Shutdown;
use docsync_queue::{worker, Broker, PublishJob};
use docsync_store::Store;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use docsync_destinations::{fleet_pacer, Providers, SinkFactory, AUTOTASK_ZONE_URL};

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Publishes of one rate-limit key under way at once in this process, at least. The pacer
    /// spaces their provider calls anyway; more run at once when the key's budget and its
    /// provider's latency ask for it (rate x p95 answer time, plus this), up to
    /// `per_key_max`.
    pub per_key: usize,
    /// Publishes of one rate-limit key under way at once in this process before its provider
    /// has answered any (its latency unknown): enough for a budget of 10 a second answered
    /// within a second, so a key's first push-all does not start at the minimum.
    pub per_key_first: usize,
    /// Publishes of one rate-limit key under way at once in this process, at most (each holds
    /// its snapshot while it waits for the pacer).
    pub per_key_max: usize,
    /// Publishes under way at once in this process, across keys (bounds memory: each holds
    /// its snapshot). Messages waiting for their key's turn hold only the small job.
    pub concurrency: usize,
    /// Per provider request timeout.
    pub request_timeout: Duration,
    /// How long in-flight publishes may run after shutdown was asked for.
    pub drain_deadline: Duration,
    /// How long one publish may take (pacing waits included) before it is given up and
    /// retried later.
    pub job_timeout: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            per_key: 3,
            per_key_first: 13,
            per_key_max: 64,
            concurrency: 1024,
            request_timeout: Duration::from_secs(30),
            drain_deadline: Duration::from_secs(30),
            job_timeout: Duration::from_secs(900),
        }
    }
}

pub(crate) struct Context {
    pub store: Store,
    pub broker: Arc<Broker>,
    pub sinks: SinkFactory,
    pub tenant_locks: KeyedLocks<docsync_domain::TenantId>,
    /// One batch of a sync run at a time: a redelivered batch and the continuation it had
    /// enqueued must not write the same objects at once.
    pub run_locks: KeyedLocks<docsync_domain::RunId>,
    pub sync: docsync_psa::sync::SyncContext,
}

/// Runs the publisher until `shutdown`: from then on no waiting delivery is started (each goes
/// back to its queue) and no provider call is started (a publish under way is handed on at
/// its next call); the calls in flight may finish up to the deadline.
pub async fn run(
    config: PublisherConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    providers: Providers,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let tag = format!("publisher-{}", uuid::Uuid::new_v4());
    let sinks = SinkFactory::new(
        store.clone(),
        master.clone(),
        providers,
        config.request_timeout,
    )?;
    let sync = docsync_psa::sync::SyncContext::new(store.clone(), master, sinks.clone());
    let ctx = Arc::new(Context {
        store,
        broker: broker.clone(),
        sync,
        sinks,
        tenant_locks: KeyedLocks::default(),
        run_locks: KeyedLocks::default(),
    });
    let gates = Arc::new(gate::KeyGates::new(
        config.per_key,
        config.per_key_first,
        config.per_key_max,
        ctx.sinks.pacer(),
    ));
    let active = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut failures = 0;
    let job_timeout = config.job_timeout;
    tracing::info!("publisher started");
    'subscribe: loop {
        let mut consumers = Vec::new();
        for n in 0..broker.config().publish_partitions {
            match broker.consume_publish(n, &format!("{tag}-{n}")).await {
                Ok(c) => consumers.push(c),
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "cannot consume the publish partitions; trying again");
                    tokio::select! {
                        _ = shutdown.wait() => break 'subscribe,
                        _ = tokio::time::sleep(worker::resubscribe_backoff(failures)) => continue 'subscribe,
                    }
                }
            }
        }
        failures = 0;
        let mut deliveries = futures::stream::select_all(consumers);
        loop {
            // The broker's prefetch bounds how many deliveries wait here.
            let delivery = tokio::select! {
                _ = shutdown.wait() => break 'subscribe,
                d = deliveries.next() => d,
            };
            let delivery = match delivery {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "a publish consumer failed; subscribing again");
                    continue 'subscribe;
                }
                None => {
                    tracing::warn!("the broker closed the publish consumers; subscribing again");
                    continue 'subscribe;
                }
            };
            let (ctx, gates, active, stopping) =
                (ctx.clone(), gates.clone(), active.clone(), shutdown.clone());
            tasks.spawn(async move {
                // A job over the delivery limit is parked, and its run fails saying where and
                // after how many deliveries.
                let store = &ctx.store;
                let parked = |run, reason: String| async move {
                    store.fail_parked(run, &reason).await.map(drop).map_err(Into::into)
                };
                let Some(job) = worker::decode_or_park::<PublishJob, _, _>(&ctx.broker, &delivery, parked).await else {
                    return;
                };
                let _turn = gates.turn(&job.rate_limit_key).await;
                let Ok(_place) = active.acquire().await else {
                    return;
                };
                // A delivery that waited for its key's turn while the process began to stop is
                // not started: it goes back to the queue for another publisher.
                if stopping.is_triggered() {
                    worker::hand_back(&delivery).await;
                    return;
                }
                let span = tracing::info_span!("publish", run_id = %job.run_id, key = %job.rate_limit_key, retry = job.retry, trace_id = tracing::field::Empty);
                docsync_telemetry::propagation::set_parent(&span, &docsync_queue::trace_headers(&delivery));
                docsync_telemetry::propagation::record_trace_id(&span);
                let result = match tokio::time::timeout(job_timeout, handle::publish(&ctx, &job).instrument(span)).await {
                    Ok(result) => result,
                    Err(_) => {
                        let reason = format!("publishing took longer than {} s", job_timeout.as_secs());
                        let next = worker::next_retry(&ctx.broker, job.retry);
                        ctx.store.retry_or_fail(job.run_id, &reason, next).await.map(worker::Verdict::retrying).map_err(Into::into)
                    }
                };
                worker::settle(&ctx.broker, &delivery, &job, result).await;
            });
            while tasks.try_join_next().is_some() {}
        }
    }
    // No provider call starts from now on: the publishes under way stop at their next call
    // (their jobs retried by another publisher) or finish the call they are in.
    ctx.sinks.pacer().stop_starting();
    tracing::info!(in_flight = tasks.len(), "publisher draining");
    let _ = tokio::time::timeout(config.drain_deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}
