//! One publish job: claim the run, write the snapshot in place, record the document, finish.
//!
//! Errors returned from here are infrastructure faults (database): the message is requeued.
//! Provider outcomes end in the run record.

use crate::Context;
use docsync_queue::PublishJob;
use docsync_sinks::{KnownDocument, PublishRequest};
use docsync_store::RemoteDocument;

pub(crate) async fn publish(ctx: &Context, job: PublishJob) -> anyhow::Result<()> {
    let store = &ctx.store;
    let Some(run) = store.begin_publishing(job.run_id).await? else {
        return Ok(()); // finished already (a redelivery) or unknown
    };
    let (integration, sink) = match ctx.sinks.sink(run.account_id, run.provider).await? {
        Ok(found) => found,
        Err(reason) => {
            store.failed(run.id, &reason).await?;
            return Ok(());
        }
    };
    let Some(parent_id) = integration
        .mappings
        .iter()
        .find(|(t, _)| *t == run.tenant_id)
        .map(|(_, p)| *p)
    else {
        store
            .failed(
                run.id,
                &format!(
                    "the tenant is no longer mapped in the {} integration",
                    run.provider
                ),
            )
            .await?;
        return Ok(());
    };
    let Some(tenant) = store.tenant(run.account_id, run.tenant_id).await? else {
        store.failed(run.id, "the tenant was deleted").await?;
        return Ok(());
    };
    let Some(mut snapshot) = store.snapshot(job.snapshot_id).await? else {
        store
            .failed(run.id, "the snapshot to publish is gone; push again")
            .await?;
        return Ok(());
    };
    // The title follows the tenant's current name, so a rename renames the document.
    snapshot.tenant_name = tenant.name.clone();

    let _held = ctx.tenant_locks.lock(&run.tenant_id).await;
    let known = store
        .remote_document(run.provider, run.tenant_id)
        .await?
        .map(|d| KnownDocument {
            remote_id: d.remote_id,
            parent_id: d.remote_parent_id,
            title: d.title,
        });
    let request = PublishRequest {
        snapshot: &snapshot,
        parent_id,
        known,
        pushed_at: chrono::Utc::now(),
    };
    match sink.publish(request).await {
        Ok(outcome) => {
            store
                .record_remote_document(
                    run.account_id,
                    run.provider,
                    run.tenant_id,
                    &RemoteDocument {
                        remote_id: outcome.document.remote_id.clone(),
                        remote_parent_id: outcome.document.parent_id,
                        title: outcome.document.title.clone(),
                    },
                )
                .await?;
            store.succeeded(run.id, &outcome.document.remote_id).await?;
            tracing::info!(document = %outcome.document.remote_id, created = outcome.created, requests = outcome.requests, "published");
        }
        Err(e) => {
            tracing::warn!(error = %e, transient = e.is_transient(), "publish failed");
            store.failed(run.id, &e.to_string()).await?;
        }
    }
    Ok(())
}
