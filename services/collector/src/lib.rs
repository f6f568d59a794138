//! The collector role: takes collect jobs, builds (or reuses) the tenant's posture snapshot
//! from its source, stores it, and hands the run to the publishers.
//!
//! One fresh snapshot serves every provider pushed at about the same time: a snapshot younger
//! than `snapshot_reuse` is reused instead of collecting again, and collections of one tenant
//! are serialised inside the process so that two runs arriving together collect once.

mod handle;

use docsync_domain::crypto::MasterKey;
use docsync_domain::locks::KeyedLocks;
use docsync_domain::Shutdown;
use docsync_queue::{Broker, CollectJob};
use docsync_sources::SnapshotSource;
use docsync_store::Store;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Collector settings.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Collections in flight at once in this process.
    pub concurrency: usize,
    /// A snapshot younger than this is reused for another provider's run.
    pub snapshot_reuse: Duration,
    /// How long in-flight collections may run after shutdown was asked for.
    pub drain_deadline: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            snapshot_reuse: Duration::from_secs(120),
            drain_deadline: Duration::from_secs(30),
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
}

/// Runs the collector until `shutdown`, then drains in-flight work up to the deadline;
/// unfinished messages go back to the queue.
pub async fn run(
    config: CollectorConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    source: Arc<dyn SnapshotSource>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut consumer = broker
        .consume_collect(&format!("collector-{}", uuid::Uuid::new_v4()))
        .await?;
    let limit = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let ctx = Arc::new(Context {
        store,
        broker,
        master,
        source,
        config,
        tenant_locks: KeyedLocks::default(),
    });
    let mut tasks = JoinSet::new();
    tracing::info!("collector started");
    loop {
        let permit = tokio::select! {
            _ = shutdown.wait() => break,
            p = limit.clone().acquire_owned() => p?,
        };
        let delivery = tokio::select! {
            _ = shutdown.wait() => break,
            d = consumer.next() => d,
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("the broker closed the collect consumer");
        };
        let delivery = delivery?;
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let _permit = permit;
            match serde_json::from_slice::<CollectJob>(&delivery.data) {
                Ok(job) => {
                    let span = tracing::info_span!("collect", run_id = %job.run_id);
                    match handle::collect(&ctx, job).instrument(span).await {
                        Ok(()) => {
                            let _ = delivery.ack(BasicAckOptions::default()).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "collect interrupted; the message goes back to the queue");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            let _ = delivery
                                .reject(BasicRejectOptions { requeue: true })
                                .await;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "undecodable collect message dropped");
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    tracing::info!(in_flight = tasks.len(), "collector draining");
    let _ = tokio::time::timeout(ctx.config.drain_deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}
