//! Customer tenants of an account, with their last sync and last push per provider.

use crate::audit::{self, AuditEvent};
use crate::prepared::Prepared;
use crate::{account, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, Provider, TenantId};
use tokio_postgres::Row;
use uuid::Uuid;

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Display name (used in document titles).
    pub name: String,
    /// Primary domain, e.g. contoso.com.
    pub primary_domain: String,
    /// The Microsoft (Entra) tenant id.
    pub microsoft_tenant_id: String,
}

/// The last push of a tenant to one provider.
#[derive(Debug, Clone)]
pub struct TenantPushes {
    /// The provider.
    pub provider: Provider,
    /// When the last run for this provider was requested.
    pub last_run_at: DateTime<Utc>,
    /// Its state.
    pub last_state: String,
    /// When a push last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last run's error: why it failed, or the transient error it is retrying after.
    pub last_error: Option<String>,
}

/// A stored tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// docsync's id.
    pub id: TenantId,
    /// The owning account.
    pub account_id: AccountId,
    /// Display name.
    pub name: String,
    /// Primary domain.
    pub primary_domain: String,
    /// Microsoft tenant id.
    pub microsoft_tenant_id: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When a snapshot was last collected.
    pub last_sync_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "t.id, t.account_id, t.name, t.primary_domain, t.microsoft_tenant_id, t.created_at, t.updated_at, \
     (SELECT max(collected_at) FROM snapshots s WHERE s.tenant_id = t.id)";

fn tenant(row: &Row) -> Tenant {
    Tenant {
        id: TenantId(row.get(0)),
        account_id: account(row.get(1)),
        name: row.get(2),
        primary_domain: row.get(3),
        microsoft_tenant_id: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
        last_sync_at: row.get(7),
    }
}

impl Store {
    /// Creates a tenant; a Microsoft tenant id already present in the account is a conflict.
    pub async fn create_tenant(
        &self,
        account_id: AccountId,
        new: &NewTenant,
    ) -> StoreResult<Tenant> {
        self.create_tenant_in(account_id, new, None).await
    }

    /// [`Store::create_tenant`], recording `audit` (with the new tenant's id) in the same
    /// transaction.
    pub async fn create_tenant_audited(
        &self,
        account_id: AccountId,
        new: &NewTenant,
        audit: &AuditEvent,
    ) -> StoreResult<Tenant> {
        self.create_tenant_in(account_id, new, Some(audit)).await
    }

    async fn create_tenant_in(
        &self,
        account_id: AccountId,
        new: &NewTenant,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<Tenant> {
        let id = Uuid::new_v4();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute_prepared(
                "INSERT INTO tenants (id, account_id, name, primary_domain, microsoft_tenant_id) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account_id, microsoft_tenant_id) DO NOTHING",
                &[&id, &account_id.0, &new.name, &new.primary_domain, &new.microsoft_tenant_id],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "microsoftTenantId {} is already a tenant of this account",
                new.microsoft_tenant_id
            )));
        }
        if let Some(event) = audit {
            audit::record(&tx, account_id, event, Some(id.to_string())).await?;
        }
        tx.commit().await?;
        drop(client);
        self.tenant(account_id, TenantId(id))
            .await?
            .ok_or_else(|| StoreError::Corrupt("tenant vanished after insert".into()))
    }

    /// One tenant of the account.
    pub async fn tenant(&self, account_id: AccountId, id: TenantId) -> StoreResult<Option<Tenant>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!("SELECT {COLUMNS} FROM tenants t WHERE t.account_id = $1 AND t.id = $2"),
                &[&account_id.0, &id.0],
            )
            .await?;
        Ok(row.as_ref().map(tenant))
    }

    /// Every tenant of the account, by name.
    pub async fn tenants(&self, account_id: AccountId) -> StoreResult<Vec<Tenant>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!(
                    "SELECT {COLUMNS} FROM tenants t WHERE t.account_id = $1 ORDER BY t.name, t.id"
                ),
                &[&account_id.0],
            )
            .await?;
        Ok(rows.iter().map(tenant).collect())
    }

    /// The last run per provider for each of the given tenants of the account.
    pub async fn tenant_pushes(
        &self,
        account_id: AccountId,
        tenant_ids: &[TenantId],
    ) -> StoreResult<Vec<(TenantId, TenantPushes)>> {
        let ids: Vec<Uuid> = tenant_ids.iter().map(|t| t.0).collect();
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT DISTINCT ON (r.tenant_id, r.provider) r.tenant_id, r.provider, r.created_at, r.state,
                        (SELECT max(finished_at) FROM push_runs s
                          WHERE s.tenant_id = r.tenant_id AND s.provider = r.provider AND s.state = 'succeeded'),
                        r.error
                   FROM push_runs r
                  WHERE r.account_id = $1 AND r.tenant_id = ANY($2)
                  ORDER BY r.tenant_id, r.provider, r.created_at DESC",
                &[&account_id.0, &ids],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let provider: String = r.get(1);
            out.push((
                TenantId(r.get(0)),
                TenantPushes {
                    provider: crate::parse(&provider)?,
                    last_run_at: r.get(2),
                    last_state: r.get(3),
                    last_success_at: r.get(4),
                    last_error: r.get(5),
                },
            ));
        }
        Ok(out)
    }

    /// Renames a tenant (and optionally changes its primary domain).
    pub async fn update_tenant(
        &self,
        account_id: AccountId,
        id: TenantId,
        name: Option<&str>,
        primary_domain: Option<&str>,
    ) -> StoreResult<Option<Tenant>> {
        self.update_tenant_in(account_id, id, name, primary_domain, None)
            .await
    }

    /// [`Store::update_tenant`], recording `audit` in the same transaction.
    pub async fn update_tenant_audited(
        &self,
        account_id: AccountId,
        id: TenantId,
        name: Option<&str>,
        primary_domain: Option<&str>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Tenant>> {
        self.update_tenant_in(account_id, id, name, primary_domain, Some(audit))
            .await
    }

    async fn update_tenant_in(
        &self,
        account_id: AccountId,
        id: TenantId,
        name: Option<&str>,
        primary_domain: Option<&str>,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<Option<Tenant>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute_prepared(
                "UPDATE tenants SET name = coalesce($3, name), primary_domain = coalesce($4, primary_domain), updated_at = now()
                  WHERE account_id = $1 AND id = $2",
                &[&account_id.0, &id.0, &name, &primary_domain],
            )
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(event) = audit {
            audit::record(&tx, account_id, event, None).await?;
        }
        tx.commit().await?;
        drop(client);
        self.tenant(account_id, id).await
    }

    /// Removes a tenant with its mappings, runs, snapshots and document records.
    pub async fn delete_tenant(&self, account_id: AccountId, id: TenantId) -> StoreResult<bool> {
        self.delete_tenant_in(account_id, id, None).await
    }

    /// [`Store::delete_tenant`], recording `audit` in the same transaction.
    pub async fn delete_tenant_audited(
        &self,
        account_id: AccountId,
        id: TenantId,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.delete_tenant_in(account_id, id, Some(audit)).await
    }

    async fn delete_tenant_in(
        &self,
        account_id: AccountId,
        id: TenantId,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute_prepared(
                "DELETE FROM tenants WHERE account_id = $1 AND id = $2",
                &[&account_id.0, &id.0],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(event) = audit {
            audit::record(&tx, account_id, event, None).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The subset of `ids` that are tenants of the account.
    pub async fn existing_tenant_ids(
        &self,
        account_id: AccountId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<Uuid>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT id FROM tenants WHERE account_id = $1 AND id = ANY($2)",
                &[&account_id.0, &ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Creates `count` synthetic tenants in one statement (benchmarks and load tests);
    /// returns their ids.
    pub async fn create_synthetic_tenants(
        &self,
        account_id: AccountId,
        count: i64,
    ) -> StoreResult<Vec<TenantId>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "INSERT INTO tenants (id, account_id, name, primary_domain, microsoft_tenant_id)
                 SELECT gen_random_uuid(), $1, 'Load tenant ' || n, 'load' || n || '.example.com', gen_random_uuid()::text
                   FROM generate_series(1::bigint, $2::bigint) AS n
                 RETURNING id",
                &[&account_id.0, &count],
            )
            .await?;
        Ok(rows.iter().map(|r| TenantId(r.get(0))).collect())
    }
}
