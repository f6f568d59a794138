//! The posture document (article, flexible asset) each tenant is written to, so every push
//! updates the same one. It lives in the one map of remote objects (`remote_objects`, see
//! [`crate::objects`]) as object kind `posture-article` (Hudu) or `posture-asset` (IT Glue)
//! with the tenant id as its source key.

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
    /// The fingerprint of its content when last written, timestamps aside (None: written
    /// before docsync kept one).
    pub fingerprint: Option<String>,
}

/// The object kind of a tenant's posture document at `provider`.
pub(crate) fn posture_kind(provider: Provider) -> &'static str {
    match provider {
        Provider::Hudu => "posture-article",
        Provider::ItGlue => "posture-asset",
    }
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
                "INSERT INTO remote_objects (account_id, destination, object_kind, source_key, tenant_id, remote_id, remote_parent_id, title, fingerprint)
                 VALUES ($1, $2, $3, $4::uuid::text, $4, $5, $6, $7, $8)
                 ON CONFLICT (account_id, destination, object_kind, source_key)
                 DO UPDATE SET remote_id = $5, remote_parent_id = $6, title = $7, fingerprint = $8, updated_at = now()",
                &[&account_id.0, &provider.as_str(), &posture_kind(provider), &tenant_id.0, &doc.remote_id, &doc.remote_parent_id, &doc.title, &doc.fingerprint],
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
                "DELETE FROM remote_objects WHERE tenant_id = $1 AND destination = $2 AND object_kind = $3",
                &[&tenant_id.0, &provider.as_str(), &posture_kind(provider)],
            )
            .await?;
        Ok(())
    }
}
