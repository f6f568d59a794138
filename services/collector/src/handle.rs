//! One collect job: claim the run, get a snapshot, store it, enqueue the publish.
//!
//! Errors returned from here are infrastructure faults (database, broker): the message is
//! requeued. Everything about the tenant itself ends in the run record.

use crate::Context;
use docsync_domain::{rate_limit_key, RunState};
use docsync_queue::{CollectJob, PublishJob};
use docsync_sources::{MicrosoftCredentials, TenantRef};

pub(crate) async fn collect(ctx: &Context, job: CollectJob) -> anyhow::Result<()> {
    let store = &ctx.store;
    let Some(run) = store.begin_collecting(job.run_id).await? else {
        // Already past collecting: make sure the publish was enqueued (a crash may have
        // happened between recording the snapshot and enqueueing), then we are done.
        if let Some(run) = store.run_for_worker(job.run_id).await? {
            if let (RunState::Publishing, Some(snapshot_id)) = (run.state, run.snapshot_id) {
                ctx.broker
                    .enqueue_publish(&PublishJob {
                        run_id: run.id,
                        snapshot_id,
                        rate_limit_key: rate_limit_key(run.provider, run.account_id),
                    })
                    .await?;
            }
        }
        return Ok(());
    };
    let Some(tenant) = store.tenant(run.account_id, run.tenant_id).await? else {
        store.failed(run.id, "the tenant was deleted").await?;
        return Ok(());
    };
    let Some(connection) = store.microsoft_connection(run.account_id).await? else {
        store
            .failed(
                run.id,
                "no Microsoft connection: set the MSP's Graph app with PUT /connections/microsoft",
            )
            .await?;
        return Ok(());
    };
    let secret = match ctx
        .master
        .open(&connection.client_secret_sealed)
        .map_err(|e| e.to_string())
        .and_then(|s| docsync_domain::ApiKey::parse("clientSecret", &s))
    {
        Ok(s) => s,
        Err(e) => {
            store.failed(run.id, &e).await?;
            return Ok(());
        }
    };
    let creds = MicrosoftCredentials {
        client_id: connection.client_id.clone(),
        client_secret: secret,
    };

    let _held = ctx.tenant_locks.lock(&run.tenant_id).await;
    let since = chrono::Utc::now()
        - chrono::Duration::from_std(ctx.config.snapshot_reuse).unwrap_or_default();
    let snapshot_id = match store.fresh_snapshot(run.tenant_id, since).await? {
        Some(id) => {
            tracing::info!(snapshot = %id, "reusing a fresh snapshot");
            id
        }
        None => {
            let tenant_ref = TenantRef {
                tenant_id: tenant.id,
                name: tenant.name.clone(),
                microsoft_tenant_id: tenant.microsoft_tenant_id.clone(),
            };
            match ctx.source.collect(&creds, &tenant_ref).await {
                Ok(snapshot) => store.insert_snapshot(run.account_id, &snapshot).await?,
                Err(e) => {
                    tracing::warn!(error = %e, "collection failed");
                    store
                        .failed(run.id, &format!("collecting the snapshot failed: {e}"))
                        .await?;
                    return Ok(());
                }
            }
        }
    };
    if store.collected(run.id, snapshot_id).await?.is_some() {
        ctx.broker
            .enqueue_publish(&PublishJob {
                run_id: run.id,
                snapshot_id,
                rate_limit_key: rate_limit_key(run.provider, run.account_id),
            })
            .await?;
    }
    Ok(())
}
