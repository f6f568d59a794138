//! What a collector reads for one run, in one round trip: the tenant, the account's Microsoft
//! connection and a snapshot of the tenant fresh enough to reuse.

use crate::prepared::Prepared;
use crate::{MicrosoftConnection, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, SnapshotId, TenantId};

/// The tenant as a collector needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectTenant {
    /// Its name in docsync.
    pub name: String,
    /// The Microsoft (Entra) tenant id.
    pub microsoft_tenant_id: String,
}

/// A collect's inputs; each is None when it is missing (tenant deleted, no connection, no
/// fresh snapshot).
#[derive(Debug, Clone)]
pub struct CollectInputs {
    /// The tenant.
    pub tenant: Option<CollectTenant>,
    /// The account's Microsoft connection.
    pub connection: Option<MicrosoftConnection>,
    /// The tenant's newest snapshot collected at or after `since`.
    pub fresh_snapshot: Option<SnapshotId>,
}

impl Store {
    /// Reads a collect's inputs for the account's tenant.
    pub async fn collect_inputs(
        &self,
        account_id: AccountId,
        tenant_id: TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<CollectInputs> {
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT t.name, t.microsoft_tenant_id,
                        c.client_id, c.client_secret_sealed, c.updated_at,
                        (SELECT id FROM snapshots
                          WHERE tenant_id = $2 AND collected_at >= $3
                          ORDER BY collected_at DESC LIMIT 1)
                   FROM (SELECT 1) AS one
                   LEFT JOIN tenants t ON t.account_id = $1 AND t.id = $2
                   LEFT JOIN microsoft_connections c ON c.account_id = $1",
                &[&account_id.0, &tenant_id.0, &since],
            )
            .await?;
        let tenant = row.get::<_, Option<String>>(0).map(|name| CollectTenant {
            name,
            microsoft_tenant_id: row.get(1),
        });
        let connection = row
            .get::<_, Option<String>>(2)
            .map(|client_id| MicrosoftConnection {
                client_id,
                client_secret_sealed: row.get(3),
                updated_at: row.get(4),
            });
        Ok(CollectInputs {
            tenant,
            connection,
            fresh_snapshot: row.get::<_, Option<uuid::Uuid>>(5).map(SnapshotId),
        })
    }
}
