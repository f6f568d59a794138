//! MSP accounts and their API tokens (stored only as SHA-256 hashes).

use crate::prepared::Prepared;
use crate::{account, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::AccountId;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read integrations, connections and runs; test connections.
    IntegrationsRead,
    /// Change integrations and connections; push.
    IntegrationsManage,
    /// Read tenants.
    TenantsRead,
    /// Create, rename and remove tenants.
    TenantsManage,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 4] = [
        Permission::IntegrationsRead,
        Permission::IntegrationsManage,
        Permission::TenantsRead,
        Permission::TenantsManage,
    ];

    /// The permission's name (`INTEGRATIONS_READ`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::IntegrationsRead => "INTEGRATIONS_READ",
            Permission::IntegrationsManage => "INTEGRATIONS_MANAGE",
            Permission::TenantsRead => "TENANTS_READ",
            Permission::TenantsManage => "TENANTS_MANAGE",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown permission {s:?}: use INTEGRATIONS_READ, INTEGRATIONS_MANAGE, TENANTS_READ or TENANTS_MANAGE"
                )
            })
    }
}

/// A verified API token: whose it is and what it may do.
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// The token's id (for audit and revocation).
    pub id: Uuid,
    /// The account the token acts for.
    pub account_id: AccountId,
    /// What it may do.
    pub permissions: Vec<Permission>,
}

/// A token as an operator sees it: everything but the token (and its hash).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The token's id.
    pub id: Uuid,
    /// The account the token acts for.
    pub account_id: AccountId,
    /// What it may do.
    pub permissions: Vec<Permission>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn token_record(r: &tokio_postgres::Row) -> TokenRecord {
    let perms: Vec<String> = r.get(2);
    TokenRecord {
        id: r.get(0),
        account_id: account(r.get(1)),
        permissions: perms.iter().filter_map(|p| p.parse().ok()).collect(),
        created_at: r.get(3),
        revoked_at: r.get(4),
    }
}

const TOKEN_COLUMNS: &str = "id, account_id, permissions, created_at, revoked_at";

/// SHA-256 of a token, hex: the only form in which tokens are stored.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Creates an account.
    pub async fn create_account(&self, name: &str) -> StoreResult<AccountId> {
        let id = Uuid::new_v4();
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO accounts (id, name) VALUES ($1, $2)",
                &[&id, &name],
            )
            .await?;
        Ok(account(id))
    }

    /// True when the account exists.
    pub async fn account_exists(&self, id: AccountId) -> StoreResult<bool> {
        Ok(self
            .client()
            .await?
            .query_opt_prepared("SELECT 1 FROM accounts WHERE id = $1", &[&id.0])
            .await?
            .is_some())
    }

    /// Removes an account and everything it owns.
    pub async fn delete_account(&self, account_id: AccountId) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared("DELETE FROM accounts WHERE id = $1", &[&account_id.0])
            .await?;
        Ok(())
    }

    /// Stores a token's hash with its permissions; returns the token id.
    pub async fn create_token(
        &self,
        account_id: AccountId,
        token_hash: &str,
        permissions: &[Permission],
    ) -> StoreResult<Uuid> {
        let id = Uuid::new_v4();
        let perms: Vec<String> = permissions.iter().map(|p| p.as_str().to_owned()).collect();
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO api_tokens (id, account_id, token_hash, permissions) VALUES ($1, $2, $3, $4)",
                &[&id, &account_id.0, &token_hash, &perms],
            )
            .await?;
        Ok(id)
    }

    /// Looks a presented token up by its hash; revoked tokens are not found.
    pub async fn find_token(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT id, account_id, permissions FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                &[&token_hash],
            )
            .await?;
        Ok(row.map(|r| {
            let perms: Vec<String> = r.get(2);
            ApiToken {
                id: r.get(0),
                account_id: account(r.get(1)),
                permissions: perms.iter().filter_map(|p| p.parse().ok()).collect(),
            }
        }))
    }

    /// Revokes a token by id; false when there was no such live token.
    pub async fn revoke_token(&self, token_id: Uuid) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute_prepared(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
                &[&token_id],
            )
            .await?;
        Ok(n == 1)
    }

    /// The account's tokens (live and revoked), oldest first.
    pub async fn tokens(&self, account_id: AccountId) -> StoreResult<Vec<TokenRecord>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = $1 ORDER BY created_at, id"),
                &[&account_id.0],
            )
            .await?;
        Ok(rows.iter().map(token_record).collect())
    }

    /// One token by id, live or revoked.
    pub async fn token_by_id(&self, token_id: Uuid) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"),
                &[&token_id],
            )
            .await?;
        Ok(row.as_ref().map(token_record))
    }

    /// One token by its hash, live or revoked.
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"),
                &[&token_hash],
            )
            .await?;
        Ok(row.as_ref().map(token_record))
    }
}
