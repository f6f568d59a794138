//! One collect job of a sync run: the PSA's company list and the matched companies' records
//! into payloads, then the first publish batch on the partition of the destination's key.

use crate::Context;
use docsync_domain::{rate_limit_key, Provider, RunState};
use docsync_psa::sync::Step;
use docsync_queue::worker::{self, Verdict};
use docsync_queue::{CollectJob, PublishJob, SyncBatch};
use docsync_store::SyncRun;

/// Works a sync run that [`docsync_store::Store::begin_collecting`] claimed.
pub(crate) async fn collect(
    ctx: &Context,
    run: SyncRun,
    job: CollectJob,
) -> anyhow::Result<Verdict> {
    let store = &ctx.store;
    let started = std::time::Instant::now();
    let step = docsync_psa::sync::collect(&ctx.sync, &run).await?;
    store.record_stage(run.psa.as_str(), "collect", started.elapsed());
    match step {
        Step::Publish { detail, .. } => {
            if store.sync_collected(run.id, &detail).await?.is_some() {
                enqueue_first_batch(ctx, &run).await?;
            }
        }
        Step::Finished(counts, detail) => {
            store.sync_succeeded(run.id, &counts, &detail).await?;
        }
        Step::Failed(reason) => {
            tracing::warn!(%reason, "sync failed");
            store.sync_failed(run.id, &reason).await?;
        }
        Step::Transient(reason) => {
            tracing::warn!(%reason, retry = job.retry, "transient sync fault");
            let next = worker::next_retry(&ctx.broker, job.retry);
            return Ok(Verdict::retrying(
                store.retry_or_fail(run.id, &reason, next).await?,
            ));
        }
        Step::Continue(_) => {}
    }
    Ok(Verdict::Done)
}

/// A sync run already past collecting (a redelivery, or handed back as stalled): make sure
/// its publishing goes on (batches are idempotent, so starting over costs no writes).
pub(crate) async fn resume(ctx: &Context, run: &SyncRun) -> anyhow::Result<()> {
    if run.state == RunState::Publishing {
        enqueue_first_batch(ctx, run).await?;
    }
    Ok(())
}

async fn enqueue_first_batch(ctx: &Context, run: &SyncRun) -> anyhow::Result<()> {
    ctx.broker
        .enqueue_publish(&PublishJob::sync(
            run.id,
            rate_limit_key(Provider::Hudu, run.account_id),
            SyncBatch::default(),
        ))
        .await?;
    Ok(())
}
