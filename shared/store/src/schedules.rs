//! Scheduled pushes: which integrations are due, claiming a slot for every mapped tenant
//! exactly once (the slot row's primary key decides between scheduler replicas), and finding
//! runs that were accepted but whose message never reached the broker.

use crate::{account, parse, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, Provider, RunId};
use uuid::Uuid;

/// An integration with a schedule, as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct ScheduledIntegration {
    /// The owning account.
    pub account_id: AccountId,
    /// Which provider.
    pub provider: Provider,
    /// The schedule JSON (validated when stored).
    pub schedule: serde_json::Value,
    /// When the integration was created: slots before it are not run.
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Every integration whose schedule is not manual.
    pub async fn scheduled_integrations(&self) -> StoreResult<Vec<ScheduledIntegration>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT account_id, provider, schedule, created_at FROM integrations
                  WHERE coalesce(schedule->>'mode', 'nightly') <> 'manual'",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let provider: String = r.get(1);
            out.push(ScheduledIntegration {
                account_id: account(r.get(0)),
                provider: parse(&provider)?,
                schedule: r.get(2),
                created_at: r.get(3),
            });
        }
        Ok(out)
    }

    /// Claims `slot` for every tenant mapped in the integration that has not had it yet, and
    /// creates their runs (trigger `schedule`, state `queued`) in the same transaction.
    /// Returns the new runs; a slot already claimed (by any replica) yields nothing.
    pub async fn claim_slot(
        &self,
        account_id: AccountId,
        provider: Provider,
        slot: DateTime<Utc>,
    ) -> StoreResult<Vec<RunId>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "WITH due AS (
                     SELECT m.tenant_id, gen_random_uuid() AS run_id FROM tenant_mappings m
                      WHERE m.account_id = $1 AND m.provider = $2
                 ), claimed AS (
                     INSERT INTO schedule_slots (provider, tenant_id, slot_at, account_id, run_id)
                     SELECT $2, tenant_id, $3, $1, run_id FROM due
                     ON CONFLICT DO NOTHING
                     RETURNING tenant_id, run_id
                 ), runs AS (
                     INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state)
                     SELECT run_id, $1, tenant_id, $2, 'schedule', 'queued' FROM claimed
                     RETURNING id
                 )
                 INSERT INTO push_run_events (run_id, state, detail)
                 SELECT id, 'queued', $4 FROM runs RETURNING run_id",
                &[
                    &account_id.0,
                    &provider.as_str(),
                    &slot,
                    &format!("scheduled slot {}", slot.to_rfc3339()),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| RunId(r.get::<_, Uuid>(0))).collect())
    }

    /// Runs still `queued`, created before `older_than`, whose message the broker never
    /// confirmed: accepted, but lost between the commit and the publish.
    pub async fn runs_never_enqueued(
        &self,
        older_than: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<RunId>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id FROM push_runs
                  WHERE state = 'queued' AND enqueued_at IS NULL AND created_at < $1
                  ORDER BY created_at LIMIT $2",
                &[&older_than, &limit],
            )
            .await?;
        Ok(rows.iter().map(|r| RunId(r.get::<_, Uuid>(0))).collect())
    }
}
