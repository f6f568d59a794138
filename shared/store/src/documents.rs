//! The provider document (article, flexible asset) each tenant is written to, so every push
//! updates the same one.

use crate::prepared::Prepared;
use crate::{Store, StoreResult};
use docsync_domain::{AccountId, Provider, TenantId};

/// Where a tenant's document lives at a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDocument {
    /// The provider's id of the document.
    pub remote_id: String,
    /// The company / organization it is in.
    pub remote_parent_id: i64,
    /// Its title when last written.
    pub title: String,
}

impl Store {
    /// Records (or moves) a tenant's document; called as soon as the provider answers a
    /// create, before the message is acknowledged.
    pub async fn record_remote_document(
        &self,
        account_id: AccountId,
        provider: Provider,
        tenant_id: TenantId,
        doc: &RemoteDocument,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO remote_documents (provider, tenant_id, account_id, remote_id, remote_parent_id, title)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (provider, tenant_id) DO UPDATE SET remote_id = $4, remote_parent_id = $5, title = $6, updated_at = now()",
                &[&provider.as_str(), &tenant_id.0, &account_id.0, &doc.remote_id, &doc.remote_parent_id, &doc.title],
            )
            .await?;
        Ok(())
    }

    /// Forgets a tenant's document (it was deleted at the provider).
    pub async fn forget_remote_document(
        &self,
        provider: Provider,
        tenant_id: TenantId,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "DELETE FROM remote_documents WHERE provider = $1 AND tenant_id = $2",
                &[&provider.as_str(), &tenant_id.0],
            )
            .await?;
        Ok(())
    }
}
