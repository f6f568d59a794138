//! Scheduled pushes: which integrations are due, claiming a slot for every mapped tenant
//! exactly once (the slot row's primary key decides between scheduler replicas), and finding
//! runs that were accepted but whose message never reached the broker.

use crate::prepared::Prepared;
use crate::{account, parse, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, Provider, RunId, TenantId};
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
    /// The latest slot already claimed for every mapped tenant.
    pub last_slot_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Every integration whose schedule is not manual.
    pub async fn scheduled_integrations(&self) -> StoreResult<Vec<ScheduledIntegration>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT account_id, provider, schedule, created_at, last_slot_at FROM integrations
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
                last_slot_at: r.get(4),
            });
        }
        Ok(out)
    }

    /// Claims `slot` for the next `limit` tenants mapped in the integration after `after`
    /// (in tenant id order) that have not had it yet, and creates their runs (trigger
    /// `schedule`, state `queued`) in the same transaction. A slot already claimed (by any
    /// replica) yields no run for that tenant. Returns the new runs and the cursor for the
    /// next chunk (None once every mapped tenant was looked at).
    pub async fn claim_slot_chunk(
        &self,
        account_id: AccountId,
        provider: Provider,
        slot: DateTime<Utc>,
        after: Option<TenantId>,
        limit: i64,
    ) -> StoreResult<(Vec<RunId>, Option<TenantId>)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let after = after.map_or(Uuid::nil(), |t| t.0);
        let tenants: Vec<Uuid> = tx
            .query_prepared(
                "SELECT tenant_id FROM tenant_mappings
                  WHERE provider = $2 AND account_id = $1 AND tenant_id > $3
                  ORDER BY tenant_id LIMIT $4",
                &[&account_id.0, &provider.as_str(), &after, &limit],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = tx
            .query_prepared(
                "WITH claimed AS (
                     INSERT INTO schedule_slots (provider, tenant_id, slot_at, account_id, run_id)
                     SELECT $2, t, $3, $1, gen_random_uuid() FROM unnest($4::uuid[]) AS t
                     ON CONFLICT DO NOTHING
                     RETURNING tenant_id, run_id
                 )
                 INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state)
                 SELECT run_id, $1, tenant_id, $2, 'schedule', 'queued' FROM claimed
                 RETURNING id",
                &[&account_id.0, &provider.as_str(), &slot, &tenants],
            )
            .await?;
        tx.commit().await?;
        let next = if (tenants.len() as i64) < limit {
            None
        } else {
            tenants.last().map(|t| TenantId(*t))
        };
        Ok((
            rows.iter().map(|r| RunId(r.get::<_, Uuid>(0))).collect(),
            next,
        ))
    }

    /// Records that `slot` was claimed for every tenant mapped in the integration.
    pub async fn finish_slot(
        &self,
        account_id: AccountId,
        provider: Provider,
        slot: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "UPDATE integrations SET last_slot_at = greatest(coalesce(last_slot_at, $3), $3)
                  WHERE account_id = $1 AND provider = $2",
                &[&account_id.0, &provider.as_str(), &slot],
            )
            .await?;
        Ok(())
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
            .query_prepared(
                "SELECT id FROM push_runs
                  WHERE state = 'queued' AND enqueued_at IS NULL AND created_at < $1
                  ORDER BY created_at LIMIT $2",
                &[&older_than, &limit],
            )
            .await?;
        Ok(rows.iter().map(|r| RunId(r.get::<_, Uuid>(0))).collect())
    }

    /// Runs in flight (collecting or publishing) that made no progress since `older_than`,
    /// claimed (their clock restarted, an event says why) so that one scheduler hands each to
    /// the collectors again.
    pub async fn claim_stalled_runs(
        &self,
        older_than: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<RunId>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query_prepared(
                "UPDATE push_runs SET updated_at = now()
                  WHERE id IN (SELECT id FROM push_runs
                                WHERE state IN ('collecting', 'publishing') AND updated_at < $1
                                ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                  RETURNING id",
                &[&older_than, &limit],
            )
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        tx.execute_prepared(
            "INSERT INTO push_run_events (run_id, state, detail)
             SELECT id, state, 'no progress for a long time (a lost message?): handed to the collectors again'
               FROM push_runs WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(RunId).collect())
    }
}
