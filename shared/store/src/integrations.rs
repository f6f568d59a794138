//! Provider integrations of an account (Hudu, IT Glue) with their tenant mappings.

use crate::audit::{self, AuditEvent};
use crate::prepared::Prepared;
use crate::{account, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, PostureOptions, Provider, RateLimit, TenantId};
use uuid::Uuid;

/// An integration as stored; the API key is sealed by the caller's master key.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The owning account.
    pub account_id: AccountId,
    /// Which provider.
    pub provider: Provider,
    /// Instance root (Hudu).
    pub base_url: Option<String>,
    /// Region (IT Glue: us, eu, au).
    pub region: Option<String>,
    /// The API key, sealed.
    pub api_key_sealed: String,
    /// The schedule, as validated JSON.
    pub schedule: serde_json::Value,
    /// A budget overriding the provider default.
    pub rate_limit: Option<RateLimit>,
    /// docsync tenant -> provider company / organization id.
    pub mappings: Vec<(TenantId, i64)>,
    /// Sections, writeUnchanged and template.
    pub options: PostureOptions,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What an upsert writes.
#[derive(Debug, Clone)]
pub struct IntegrationUpsert {
    /// Instance root (Hudu).
    pub base_url: Option<String>,
    /// Region (IT Glue).
    pub region: Option<String>,
    /// The API key, sealed.
    pub api_key_sealed: String,
    /// The schedule, as validated JSON.
    pub schedule: serde_json::Value,
    /// A budget overriding the provider default.
    pub rate_limit: Option<RateLimit>,
    /// docsync tenant -> provider company / organization id (tenants of this account only).
    pub mappings: Vec<(TenantId, i64)>,
    /// Sections, writeUnchanged and template.
    pub options: PostureOptions,
}

impl Store {
    /// Creates or replaces the account's integration for `provider`, mappings included,
    /// in one transaction.
    pub async fn upsert_integration(
        &self,
        account_id: AccountId,
        provider: Provider,
        upsert: &IntegrationUpsert,
    ) -> StoreResult<()> {
        self.upsert_integration_in(account_id, provider, upsert, None)
            .await
    }

    /// [`Store::upsert_integration`], recording `audit` in the same transaction.
    pub async fn upsert_integration_audited(
        &self,
        account_id: AccountId,
        provider: Provider,
        upsert: &IntegrationUpsert,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.upsert_integration_in(account_id, provider, upsert, Some(audit))
            .await
    }

    async fn upsert_integration_in(
        &self,
        account_id: AccountId,
        provider: Provider,
        upsert: &IntegrationUpsert,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rate_limit = upsert
            .rate_limit
            .map(|r| serde_json::to_value(r).unwrap_or(serde_json::Value::Null));
        let options = serde_json::to_value(&upsert.options)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute_prepared(
            "INSERT INTO integrations (account_id, provider, base_url, region, api_key_sealed, schedule, rate_limit, posture_options)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (account_id, provider) DO UPDATE SET base_url = $3, region = $4, api_key_sealed = $5,
                 schedule = $6, rate_limit = $7, posture_options = $8, updated_at = now()",
            &[
                &account_id.0,
                &provider.as_str(),
                &upsert.base_url,
                &upsert.region,
                &upsert.api_key_sealed,
                &upsert.schedule,
                &rate_limit,
                &options,
            ],
        )
        .await?;
        tx.execute_prepared(
            "DELETE FROM tenant_mappings WHERE account_id = $1 AND provider = $2",
            &[&account_id.0, &provider.as_str()],
        )
        .await?;
        let tenants: Vec<Uuid> = upsert.mappings.iter().map(|(t, _)| t.0).collect();
        let parents: Vec<i64> = upsert.mappings.iter().map(|(_, p)| *p).collect();
        tx.execute_prepared(
            "INSERT INTO tenant_mappings (account_id, provider, tenant_id, remote_parent_id)
             SELECT $1, $2, m.tenant_id, m.parent FROM unnest($3::uuid[], $4::bigint[]) AS m(tenant_id, parent)
             JOIN tenants t ON t.id = m.tenant_id AND t.account_id = $1",
            &[&account_id.0, &provider.as_str(), &tenants, &parents],
        )
        .await?;
        if let Some(event) = audit {
            audit::record(&tx, account_id, event, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's integration for `provider`, with its mappings.
    pub async fn integration(
        &self,
        account_id: AccountId,
        provider: Provider,
    ) -> StoreResult<Option<Integration>> {
        self.load_integration(account_id, provider, true).await
    }

    /// The account's integration for `provider` without its mappings (empty): what a
    /// publish needs, beside [`Store::mapping`] of its one tenant.
    pub async fn integration_settings(
        &self,
        account_id: AccountId,
        provider: Provider,
    ) -> StoreResult<Option<Integration>> {
        self.load_integration(account_id, provider, false).await
    }

    async fn load_integration(
        &self,
        account_id: AccountId,
        provider: Provider,
        with_mappings: bool,
    ) -> StoreResult<Option<Integration>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt_prepared(
                "SELECT base_url, region, api_key_sealed, schedule, rate_limit, updated_at, posture_options
                   FROM integrations WHERE account_id = $1 AND provider = $2",
                &[&account_id.0, &provider.as_str()],
            )
            .await?
        else {
            return Ok(None);
        };
        let mappings = if !with_mappings {
            Vec::new()
        } else {
            client
                .query_prepared(
                    "SELECT tenant_id, remote_parent_id FROM tenant_mappings
                  WHERE account_id = $1 AND provider = $2 ORDER BY tenant_id",
                    &[&account_id.0, &provider.as_str()],
                )
                .await?
                .iter()
                .map(|r| (TenantId(r.get(0)), r.get(1)))
                .collect()
        };
        let rate_limit: Option<serde_json::Value> = row.get(4);
        let rate_limit = match rate_limit {
            Some(v) => {
                Some(serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        let options: serde_json::Value = row.get(6);
        let options =
            serde_json::from_value(options).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(Integration {
            account_id: account(account_id.0),
            provider,
            base_url: row.get(0),
            region: row.get(1),
            api_key_sealed: row.get(2),
            schedule: row.get(3),
            rate_limit,
            mappings,
            options,
            updated_at: row.get(5),
        }))
    }
}
