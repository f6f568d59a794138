//! One publish job: claim the run, write the snapshot in place, record the document (and the
//! fingerprint of its content) and finish the run in one statement. With `writeUnchanged: false` a content equal to the
//! document's last one (timestamps aside) is not written again: the run says so.
//!
//! Errors returned from here are infrastructure faults (database): the message is requeued.
//! Provider outcomes end in the run record; a transient provider fault is retried later
//! through the delay queues while retries are left.

use crate::Context;
use docsync_domain::SnapshotId;
use docsync_queue::worker::{self, Verdict};
use docsync_queue::{PublishJob, PublishWork};
use docsync_sinks::{KnownDocument, PublishRequest};
use docsync_store::RemoteDocument;

/// The recorded document and the fingerprint of what it was last written with.
struct KnownWithPrint {
    remote_id: String,
    parent_id: i64,
    title: String,
    fingerprint: Option<String>,
}

pub(crate) async fn publish(ctx: &Context, job: &PublishJob) -> anyhow::Result<Verdict> {
    let snapshot_id = match job.work {
        PublishWork::Push { snapshot_id } => snapshot_id,
        PublishWork::Sync { batch } => return crate::sync::publish(ctx, job, batch).await,
    };
    let started = std::time::Instant::now();
    let store = &ctx.store;
    let Some(run) = store.begin_publishing(job.run_id).await? else {
        return Ok(Verdict::Done); // finished already (a redelivery) or unknown
    };
    let provider = run.provider.as_str();
    let verdict = publish_run(ctx, job, snapshot_id, run).await;
    store.record_stage(provider, "publish", started.elapsed());
    verdict
}

async fn publish_run(
    ctx: &Context,
    job: &PublishJob,
    snapshot_id: SnapshotId,
    run: docsync_store::Run,
) -> anyhow::Result<Verdict> {
    let store = &ctx.store;
    // Under the tenant's lock: a publish of it that just finished has recorded its document.
    let _held = ctx.tenant_locks.lock(&run.tenant_id).await;
    let inputs = store
        .publish_inputs(run.account_id, run.provider, run.tenant_id, snapshot_id)
        .await?;
    let (integration, sink) = match ctx
        .sinks
        .sink_as_of(run.account_id, run.provider, inputs.integration_changed_at)
        .await?
    {
        Ok(found) => found,
        Err(reason) => {
            store.failed(run.id, &reason).await?;
            return Ok(Verdict::Done);
        }
    };
    let Some(parent_id) = inputs.parent_id else {
        store
            .failed(
                run.id,
                &format!(
                    "the tenant is no longer mapped in the {} integration",
                    run.provider
                ),
            )
            .await?;
        return Ok(Verdict::Done);
    };
    let Some(tenant_name) = inputs.tenant_name else {
        store.failed(run.id, "the tenant was deleted").await?;
        return Ok(Verdict::Done);
    };
    let Some(mut snapshot) = inputs.snapshot else {
        store
            .failed(run.id, "the snapshot to publish is gone; push again")
            .await?;
        return Ok(Verdict::Done);
    };
    // The title follows the tenant's current name, so a rename renames the document.
    snapshot.tenant_name = tenant_name;
    let known = inputs.document.map(|d| KnownWithPrint {
        remote_id: d.remote_id,
        parent_id: d.remote_parent_id,
        title: d.title,
        fingerprint: d.fingerprint,
    });
    let options = &integration.options;
    let fingerprint = match docsync_sinks::posture::fingerprint(run.provider, &snapshot, options) {
        Ok(f) => f,
        Err(e) => {
            let reason = format!(
                "the {} integration's template failed: {e}; fix template with PUT /integrations/{}",
                run.provider, run.provider
            );
            store.failed(run.id, &reason).await?;
            return Ok(Verdict::Done);
        }
    };
    if let Some(same) = known.as_ref().filter(|k| {
        !options.write_unchanged
            && k.parent_id == parent_id
            && k.fingerprint.as_deref() == Some(fingerprint.as_str())
    }) {
        store.succeeded_unchanged(run.id, &same.remote_id).await?;
        tracing::info!(document = %same.remote_id, "unchanged, not written");
        return Ok(Verdict::Done);
    }
    let request = PublishRequest {
        snapshot: &snapshot,
        parent_id,
        known: known.map(|k| KnownDocument {
            remote_id: k.remote_id,
            parent_id: k.parent_id,
            title: k.title,
        }),
        pushed_at: chrono::Utc::now(),
        options,
    };
    match sink.publish(request).await {
        Ok(outcome) => {
            // The provider has the document; a crash now must not create a second one.
            docsync_domain::failpoint::crash_here("publisher-after-provider-write");
            // The document, its fingerprint and the run's end in one statement.
            store
                .succeeded_with_document(
                    run.id,
                    run.account_id,
                    run.provider,
                    run.tenant_id,
                    &RemoteDocument {
                        remote_id: outcome.document.remote_id.clone(),
                        remote_parent_id: outcome.document.parent_id,
                        title: outcome.document.title.clone(),
                        fingerprint: Some(fingerprint),
                    },
                )
                .await?;
            tracing::info!(document = %outcome.document.remote_id, created = outcome.created, requests = outcome.requests, "published");
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(error = %e, retry = job.retry, "transient publish fault");
            let next = worker::next_retry(&ctx.broker, job.retry);
            if store.retry_or_fail(run.id, &e.to_string(), next).await? {
                return Ok(Verdict::RetryLater);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "publish failed");
            store.failed(run.id, &e.to_string()).await?;
        }
    }
    Ok(Verdict::Done)
}
