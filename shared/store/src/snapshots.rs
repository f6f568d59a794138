//! Stored posture snapshots (the last few per tenant are kept).

use crate::prepared::Prepared;
use crate::{Store, StoreError, StoreResult};
use docsync_domain::{AccountId, Snapshot, SnapshotId, TenantId};
use uuid::Uuid;

/// How many snapshots are kept per tenant.
const KEEP_PER_TENANT: i64 = 10;

impl Store {
    /// Stores a snapshot and prunes the tenant's oldest beyond the last few.
    pub async fn insert_snapshot(
        &self,
        account_id: AccountId,
        snapshot: &Snapshot,
    ) -> StoreResult<SnapshotId> {
        let id = Uuid::new_v4();
        let body =
            serde_json::to_value(snapshot).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let client = self.client().await?;
        client
            .execute_prepared(
                "INSERT INTO snapshots (id, account_id, tenant_id, collected_at, body) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &account_id.0, &snapshot.tenant_id.0, &snapshot.collected_at, &body],
            )
            .await?;
        client
            .execute_prepared(
                "DELETE FROM snapshots WHERE tenant_id = $1 AND id NOT IN
                   (SELECT id FROM snapshots WHERE tenant_id = $1 ORDER BY collected_at DESC LIMIT $2)
                   AND id NOT IN (SELECT snapshot_id FROM push_runs
                                   WHERE tenant_id = $1 AND snapshot_id IS NOT NULL AND state NOT IN ('succeeded', 'failed'))",
                &[&snapshot.tenant_id.0, &KEEP_PER_TENANT],
            )
            .await?;
        Ok(SnapshotId(id))
    }

    /// How many snapshots of the tenant are kept.
    pub async fn snapshot_count(&self, tenant_id: TenantId) -> StoreResult<i64> {
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT count(*) FROM snapshots WHERE tenant_id = $1",
                &[&tenant_id.0],
            )
            .await?;
        Ok(row.get(0))
    }
}

impl Store {
    /// The tenant's most recent snapshot in the account, if it has one.
    pub async fn latest_snapshot(
        &self,
        account_id: AccountId,
        tenant_id: TenantId,
    ) -> StoreResult<Option<Snapshot>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT body FROM snapshots WHERE account_id = $1 AND tenant_id = $2
                  ORDER BY collected_at DESC LIMIT 1",
                &[&account_id.0, &tenant_id.0],
            )
            .await?;
        row.map(|r| serde_json::from_value(r.get(0)))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
