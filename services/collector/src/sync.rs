//! One collect job of a sync run: the PSA's company list planned as payloads, the first
//! publish batch on the partition of the destination's key, then the matched companies'
//! records read into their payloads while the publishers write the first ones.

use crate::Context;
use docsync_domain::{rate_limit_key, Provider, RunState};
use docsync_psa::sync::{Planned, Step};
use docsync_queue::worker::{self, Verdict};
use docsync_queue::{CollectJob, PublishJob, SyncBatch};
use docsync_store::SyncRun;

/// Works a sync run that [`docsync_store::Store::begin_collecting`] claimed: plans its
/// payloads, hands the run to the publishers, then reads the companies (the publishers write
/// each as soon as it is read).
pub(crate) async fn collect(
    ctx: &Context,
    run: SyncRun,
    job: CollectJob,
) -> anyhow::Result<Verdict> {
    let store = &ctx.store;
    let started = std::time::Instant::now();
    let plan = match docsync_psa::sync::plan(&ctx.sync, &run).await? {
        Planned::Read(plan) => plan,
        Planned::Done(step) => return end(ctx, &run, &job, step).await,
    };
    if store.sync_collected(run.id, &plan.detail).await?.is_none() {
        return Ok(Verdict::Done); // no longer collecting
    }
    enqueue_first_batch(ctx, &run).await?;
    let step = docsync_psa::sync::read(&ctx.sync, &run, plan).await?;
    store.record_stage(run.psa.as_str(), "collect", started.elapsed());
    end(ctx, &run, &job, step).await
}

/// A sync run already past collecting (a redelivery, or handed back as stalled): make sure
/// its publishing goes on (batches are idempotent, so starting over costs no writes), and
/// read what a collector before this one left unread.
pub(crate) async fn resume(
    ctx: &Context,
    run: &SyncRun,
    job: &CollectJob,
) -> anyhow::Result<Verdict> {
    if run.state != RunState::Publishing {
        return Ok(Verdict::Done);
    }
    enqueue_first_batch(ctx, run).await?;
    match docsync_psa::sync::unread(&ctx.sync, run).await? {
        None => Ok(Verdict::Done),
        Some(Planned::Done(step)) => end(ctx, run, job, step).await,
        Some(Planned::Read(plan)) => {
            ctx.store.sync_event(run.id, &plan.detail).await?;
            let step = docsync_psa::sync::read(&ctx.sync, run, plan).await?;
            end(ctx, run, job, step).await
        }
    }
}

/// What the collect's step means for the run.
async fn end(
    ctx: &Context,
    run: &SyncRun,
    job: &CollectJob,
    step: Step,
) -> anyhow::Result<Verdict> {
    let store = &ctx.store;
    match step {
        Step::Publish { detail, .. } => store.sync_event(run.id, &detail).await?,
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
        Step::Continue(_) | Step::Wait(_) => {}
    }
    Ok(Verdict::Done)
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
