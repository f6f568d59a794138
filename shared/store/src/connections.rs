//! The MSP's Microsoft connection (its multi-tenant Graph app), secret stored sealed.

use crate::audit::{self, AuditEvent};
use crate::prepared::Prepared;
use crate::{Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::AccountId;

/// An account's Graph app credentials; the secret is sealed by the caller's master key.
#[derive(Debug, Clone)]
pub struct MicrosoftConnection {
    /// The app (client) id.
    pub client_id: String,
    /// The client secret, sealed (`docsync_domain::crypto`).
    pub client_secret_sealed: String,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Stores (or replaces) the account's Microsoft connection.
    pub async fn put_microsoft_connection(
        &self,
        account_id: AccountId,
        client_id: &str,
        client_secret_sealed: &str,
    ) -> StoreResult<()> {
        self.put_microsoft_connection_in(account_id, client_id, client_secret_sealed, None)
            .await
    }

    /// [`Store::put_microsoft_connection`], recording `audit` in the same transaction.
    pub async fn put_microsoft_connection_audited(
        &self,
        account_id: AccountId,
        client_id: &str,
        client_secret_sealed: &str,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.put_microsoft_connection_in(account_id, client_id, client_secret_sealed, Some(audit))
            .await
    }

    async fn put_microsoft_connection_in(
        &self,
        account_id: AccountId,
        client_id: &str,
        client_secret_sealed: &str,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_prepared(
            "INSERT INTO microsoft_connections (account_id, client_id, client_secret_sealed) VALUES ($1, $2, $3)
             ON CONFLICT (account_id) DO UPDATE SET client_id = $2, client_secret_sealed = $3, updated_at = now()",
            &[&account_id.0, &client_id, &client_secret_sealed],
        )
        .await?;
        if let Some(event) = audit {
            audit::record(&tx, account_id, event, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's Microsoft connection, if set.
    pub async fn microsoft_connection(
        &self,
        account_id: AccountId,
    ) -> StoreResult<Option<MicrosoftConnection>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT client_id, client_secret_sealed, updated_at FROM microsoft_connections WHERE account_id = $1",
                &[&account_id.0],
            )
            .await?;
        Ok(row.map(|r| MicrosoftConnection {
            client_id: r.get(0),
            client_secret_sealed: r.get(1),
            updated_at: r.get(2),
        }))
    }
}
