//! The publisher role: consumes publish partitions (single active consumer each, so one
//! process paces a rate-limit key at a time), renders the run's snapshot for its provider and
//! writes it in place, recording the document id before acknowledging.

mod handle;
mod sinks;

use docsync_domain::crypto::MasterKey;
use docsync_domain::locks::KeyedLocks;
use docsync_domain::Shutdown;
use docsync_queue::{Broker, PublishJob};
use docsync_sinks::Pacer;
use docsync_store::Store;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use sinks::SinkFactory;

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Publishes in flight at once in this process (across partitions).
    pub concurrency: usize,
    /// Per provider request timeout.
    pub request_timeout: Duration,
    /// How long in-flight publishes may run after shutdown was asked for.
    pub drain_deadline: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            request_timeout: Duration::from_secs(30),
            drain_deadline: Duration::from_secs(30),
        }
    }
}

pub(crate) struct Context {
    pub store: Store,
    pub sinks: SinkFactory,
    pub tenant_locks: KeyedLocks<docsync_domain::TenantId>,
}

/// Runs the publisher until `shutdown`, then drains in-flight work up to the deadline.
pub async fn run(
    config: PublisherConfig,
    store: Store,
    broker: Arc<Broker>,
    master: MasterKey,
    pacer: Pacer,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let tag = format!("publisher-{}", uuid::Uuid::new_v4());
    let mut consumers = Vec::new();
    for n in 0..broker.config().publish_partitions {
        consumers.push(broker.consume_publish(n, &format!("{tag}-{n}")).await?);
    }
    let mut deliveries = futures::stream::select_all(consumers);
    let ctx = Arc::new(Context {
        store: store.clone(),
        sinks: SinkFactory::new(store, master, pacer, config.request_timeout),
        tenant_locks: KeyedLocks::default(),
    });
    let limit = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    tracing::info!("publisher started");
    loop {
        let permit = tokio::select! {
            _ = shutdown.wait() => break,
            p = limit.clone().acquire_owned() => p?,
        };
        let delivery = tokio::select! {
            _ = shutdown.wait() => break,
            d = deliveries.next() => d,
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("the broker closed the publish consumers");
        };
        let delivery = delivery?;
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let _permit = permit;
            match serde_json::from_slice::<PublishJob>(&delivery.data) {
                Ok(job) => {
                    let span = tracing::info_span!("publish", run_id = %job.run_id, key = %job.rate_limit_key);
                    match handle::publish(&ctx, job).instrument(span).await {
                        Ok(()) => {
                            let _ = delivery.ack(BasicAckOptions::default()).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "publish interrupted; the message goes back to the queue");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            let _ = delivery
                                .reject(BasicRejectOptions { requeue: true })
                                .await;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "undecodable publish message dropped");
                    let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    tracing::info!(in_flight = tasks.len(), "publisher draining");
    let _ = tokio::time::timeout(config.drain_deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    Ok(())
}
