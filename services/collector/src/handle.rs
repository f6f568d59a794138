//! One collect job: claim the run, get a snapshot (a fresh one reused, in the same statement
//! as the claim, or a new collection), store it, enqueue the publish.
//!
//! Errors returned from here are infrastructure faults (database, broker): the message is
//! requeued. Everything about the tenant itself ends in the run record; a transient fault of
//! Microsoft's is retried later through the delay queues while retries are left, and so is a
//! snapshot that such a fault left incomplete (the last retry publishes what it has). A push
//! for a change (trigger `change`) never reuses a snapshot older than itself.

use crate::Context;
use docsync_domain::crypto::Binding;
use docsync_domain::{rate_limit_key, RunState, Trigger};
use docsync_queue::worker::{self, Verdict};
use docsync_queue::{CollectJob, PublishJob};
use docsync_sources::{MicrosoftCredentials, SourceError, TenantRef};
use docsync_store::AnyRun;

pub(crate) async fn collect(ctx: &Context, job: CollectJob) -> anyhow::Result<Verdict> {
    let started = std::time::Instant::now();
    let store = &ctx.store;
    let reuse_since = chrono::Utc::now()
        - chrono::Duration::from_std(ctx.config.snapshot_reuse).unwrap_or_default();
    // The common case of a push-all or a second provider's run: a fresh snapshot exists, and
    // one statement claims the run and hands it that snapshot.
    if let Some(run) = store
        .collected_from_fresh_snapshot(job.run_id, reuse_since)
        .await?
    {
        if let Some(snapshot_id) = run.snapshot_id {
            tracing::info!(snapshot = %snapshot_id, "reusing a fresh snapshot");
            enqueue_publish(ctx, &run, snapshot_id).await?;
        }
        store.record_stage(run.provider.as_str(), "collect", started.elapsed());
        return Ok(Verdict::Done);
    }
    // One claim, whichever kind the run is.
    let run = match store.begin_collecting(job.run_id).await? {
        Some(AnyRun::Push(run)) => run,
        Some(AnyRun::Sync(sync)) => return crate::sync::collect(ctx, sync, job).await,
        None => {
            // Already past collecting: make sure the publish was enqueued (a crash may have
            // happened between recording the payload and enqueueing), then we are done.
            match store.any_run_for_worker(job.run_id).await? {
                Some(AnyRun::Push(run)) => {
                    if let (RunState::Publishing, Some(snapshot_id)) = (run.state, run.snapshot_id)
                    {
                        enqueue_publish(ctx, &run, snapshot_id).await?;
                    }
                }
                Some(AnyRun::Sync(sync)) => return crate::sync::resume(ctx, &sync, &job).await,
                None => {}
            }
            return Ok(Verdict::Done);
        }
    };
    // Under the tenant's lock: a collection of it that just finished (for the other
    // provider) left a fresh snapshot to reuse.
    let _held = ctx.tenant_locks.lock(&run.tenant_id).await;
    let mut since = reuse_since;
    if run.trigger == Trigger::Change {
        // The change happened before the run was made: only a snapshot collected since
        // shows it (another provider's change run of the same burst may have left one).
        since = since.max(run.created_at);
    }
    let inputs = store
        .collect_inputs(run.account_id, run.tenant_id, since)
        .await?;
    let Some(tenant) = inputs.tenant else {
        store.failed(run.id, "the tenant was deleted").await?;
        return Ok(Verdict::Done);
    };
    let Some(connection) = inputs.connection else {
        store
            .failed(
                run.id,
                "no Microsoft connection: set the MSP's Graph app with PUT /connections/microsoft",
            )
            .await?;
        return Ok(Verdict::Done);
    };
    let secret = match ctx
        .master
        .open(
            &connection.client_secret_sealed,
            &Binding::microsoft_client_secret(run.account_id),
        )
        .map_err(|e| e.to_string())
        .and_then(|s| docsync_domain::ApiKey::parse("clientSecret", &s))
    {
        Ok(s) => s,
        Err(e) => {
            store.failed(run.id, &e).await?;
            return Ok(Verdict::Done);
        }
    };
    let creds = MicrosoftCredentials {
        client_id: connection.client_id.clone(),
        client_secret: secret,
    };

    docsync_domain::failpoint::crash_here("collector-mid-run");
    let snapshot_id = match inputs.fresh_snapshot {
        Some(id) => {
            tracing::info!(snapshot = %id, "reusing a fresh snapshot");
            id
        }
        None => {
            let tenant_ref = TenantRef {
                tenant_id: run.tenant_id,
                name: tenant.name,
                microsoft_tenant_id: tenant.microsoft_tenant_id,
            };
            match ctx.source.collect(&creds, &tenant_ref).await {
                Ok(snapshot) => {
                    let retry = worker::next_retry(&ctx.broker, job.retry);
                    if let (Some(gap), Some(next)) = (snapshot.transient_gaps.first(), retry) {
                        // Better a later, whole snapshot than good documentation overwritten
                        // with "not collected"; the last retry publishes what it has.
                        let reason = format!(
                            "{} section(s) not collected for a passing fault: {gap}",
                            snapshot.transient_gaps.len()
                        );
                        tracing::warn!(%reason, retry = job.retry, "incomplete snapshot");
                        return Ok(Verdict::retrying(
                            store.retry_or_fail(run.id, &reason, Some(next)).await?,
                        ));
                    }
                    store.insert_snapshot(run.account_id, &snapshot).await?
                }
                Err(e @ SourceError::Transient { .. }) => {
                    let reason = format!("collecting the snapshot failed: {e}");
                    tracing::warn!(%reason, retry = job.retry, "transient collection fault");
                    let next = worker::next_retry(&ctx.broker, job.retry);
                    return Ok(Verdict::retrying(
                        store.retry_or_fail(run.id, &reason, next).await?,
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "collection failed");
                    store
                        .failed(run.id, &format!("collecting the snapshot failed: {e}"))
                        .await?;
                    return Ok(Verdict::Done);
                }
            }
        }
    };
    store.record_stage(run.provider.as_str(), "collect", started.elapsed());
    if store.collected(run.id, snapshot_id).await?.is_some() {
        enqueue_publish(ctx, &run, snapshot_id).await?;
    }
    Ok(Verdict::Done)
}

/// Hands the collected run to the publishers (its key's partition).
async fn enqueue_publish(
    ctx: &Context,
    run: &docsync_store::Run,
    snapshot_id: docsync_domain::SnapshotId,
) -> anyhow::Result<()> {
    ctx.broker
        .enqueue_publish(&PublishJob::push(
            run.id,
            snapshot_id,
            rate_limit_key(run.provider, run.account_id),
        ))
        .await?;
    Ok(())
}
