//! What a publisher reads for one run, in one round trip: where the tenant is mapped, its
//! current name, the snapshot to publish, the document written before and when the
//! integration last changed (so a sink built before can be reused).

use crate::prepared::Prepared;
use crate::{RemoteDocument, Store, StoreError, StoreResult};
use docsync_domain::{AccountId, Provider, Snapshot, SnapshotId, TenantId};

/// A publish's inputs; each is None when it is gone (unmapped, deleted, pruned, never written).
#[derive(Debug, Clone)]
pub struct PublishInputs {
    /// The company / organization the tenant is mapped to.
    pub parent_id: Option<i64>,
    /// The tenant's current name (documents are titled by it).
    pub tenant_name: Option<String>,
    /// The snapshot to publish.
    pub snapshot: Option<Snapshot>,
    /// The tenant's document at the provider, when one was recorded.
    pub document: Option<RemoteDocument>,
    /// When the account's integration for the provider was last changed (None: there is
    /// none): a sink built from it before then is still current.
    pub integration_changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Store {
    /// Reads a publish's inputs for the account's tenant at `provider`.
    pub async fn publish_inputs(
        &self,
        account_id: AccountId,
        provider: Provider,
        tenant_id: TenantId,
        snapshot_id: SnapshotId,
    ) -> StoreResult<PublishInputs> {
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT (SELECT remote_parent_id FROM tenant_mappings
                          WHERE account_id = $1 AND provider = $2 AND tenant_id = $3),
                        (SELECT name FROM tenants WHERE account_id = $1 AND id = $3),
                        (SELECT body FROM snapshots WHERE id = $4),
                        d.remote_id, d.remote_parent_id, d.title, d.fingerprint,
                        (SELECT updated_at FROM integrations WHERE account_id = $1 AND provider = $2)
                   FROM (SELECT 1) AS one
                   LEFT JOIN remote_objects d ON d.tenant_id = $3 AND d.account_id = $1
                        AND d.destination = $2 AND d.object_kind = $5",
                &[
                    &account_id.0,
                    &provider.as_str(),
                    &tenant_id.0,
                    &snapshot_id.0,
                    &crate::documents::posture_kind(provider),
                ],
            )
            .await?;
        let snapshot = row
            .get::<_, Option<serde_json::Value>>(2)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let document = row
            .get::<_, Option<String>>(3)
            .map(|remote_id| RemoteDocument {
                remote_id,
                remote_parent_id: row.get::<_, Option<i64>>(4).unwrap_or_default(),
                title: row.get(5),
                fingerprint: row.get(6),
            });
        Ok(PublishInputs {
            parent_id: row.get(0),
            tenant_name: row.get(1),
            snapshot,
            document,
            integration_changed_at: row.get(7),
        })
    }
}
