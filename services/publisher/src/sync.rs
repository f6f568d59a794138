//! One publish batch of a sync run: a bounded number of destination writes, then either the
//! next batch is enqueued (same partition, so the key's pacing stays in one process) or the
//! run finishes with its counts.

use crate::Context;
use docsync_psa::sync::{BatchCursor, BatchShare, Step};
use docsync_queue::worker::{self, Verdict};
use docsync_queue::{PublishJob, SyncBatch};

/// Destination writes per batch: what the key's budget allows in two minutes (at Hudu's 300
/// per minute 600, at 50 a second 6,000), at least 200; well within the job time limit even
/// when posture pushes share the key. Every batch ends by waiting for its slowest answers, so
/// a budget busy to the end wants few batches, not many small ones.
pub(crate) const BATCH_SHARE: BatchShare = BatchShare {
    min_writes: 200,
    time: std::time::Duration::from_secs(120),
};

pub(crate) async fn publish(
    ctx: &Context,
    job: &PublishJob,
    batch: SyncBatch,
) -> anyhow::Result<Verdict> {
    let store = &ctx.store;
    // The partition's single active consumer makes this process the only one working the
    // run's key; the lock makes this the only batch of the run at a time within it.
    let _held = ctx.run_locks.lock(&job.run_id).await;
    let Some(run) = store.begin_sync_publishing(job.run_id).await? else {
        return Ok(Verdict::Done); // finished already, or unknown
    };
    let cursor = BatchCursor {
        company: batch.company,
        adopted: batch.adopted,
    };
    let started = std::time::Instant::now();
    let step = docsync_psa::sync::publish_batch(&ctx.sync, &run, cursor, BATCH_SHARE).await?;
    store.record_stage(run.psa.as_str(), "publish", started.elapsed());
    match step {
        Step::Continue(next) => {
            store
                .sync_event(
                    run.id,
                    &format!(
                        "wrote a batch; continuing at company {} of the run",
                        next.company + 1
                    ),
                )
                .await?;
            enqueue_next(ctx, job, next).await?;
        }
        Step::Wait(next) => {
            // Said once while it lasts, not each time a batch ends waiting for the company.
            store
                .sync_event_unless_last(
                    run.id,
                    &format!(
                        "waiting for company {} of the run: its records are still being read",
                        next.company + 1
                    ),
                )
                .await?;
            enqueue_next(ctx, job, next).await?;
        }
        Step::Finished(counts, detail) => {
            store.sync_succeeded(run.id, &counts, &detail).await?;
            tracing::info!(%detail, "sync published");
        }
        Step::Failed(reason) => {
            tracing::warn!(%reason, "sync publish failed");
            store.sync_failed(run.id, &reason).await?;
        }
        Step::Transient(reason) => {
            tracing::warn!(%reason, retry = job.retry, "transient sync publish fault");
            let next = worker::next_retry(&ctx.broker, job.retry);
            return Ok(Verdict::retrying(
                store.retry_or_fail(run.id, &reason, next).await?,
            ));
        }
        Step::Publish { .. } => {}
    }
    Ok(Verdict::Done)
}

/// Enqueues the run's next batch at `next` (same partition, so the key's pacing stays in
/// one process).
async fn enqueue_next(ctx: &Context, job: &PublishJob, next: BatchCursor) -> anyhow::Result<()> {
    ctx.broker
        .enqueue_publish(&PublishJob::sync(
            job.run_id,
            job.rate_limit_key.clone(),
            SyncBatch {
                company: next.company,
                adopted: next.adopted,
            },
        ))
        .await?;
    Ok(())
}
