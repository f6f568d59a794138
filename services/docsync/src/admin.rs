//! Admin commands: accounts and API tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use docsync_domain::AccountId;
use docsync_store::{hash_token, Permission, Store};
use rand::RngCore;

/// Creates an API token for `account` with `permissions`; returns the token (shown once;
/// only its hash is stored).
pub async fn create_token(
    store: &Store,
    account: AccountId,
    permissions: &[Permission],
) -> anyhow::Result<String> {
    if !store.account_exists(account).await? {
        anyhow::bail!("no account {account}: create one with `docsync account create --name NAME`");
    }
    if permissions.is_empty() {
        anyhow::bail!("--permissions is empty: name at least one of INTEGRATIONS_READ, INTEGRATIONS_MANAGE, TENANTS_READ, TENANTS_MANAGE");
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("dsk_{}", URL_SAFE_NO_PAD.encode(bytes));
    store
        .create_token(account, &hash_token(&token), permissions)
        .await?;
    Ok(token)
}

/// Parses `P1,P2,...`.
pub fn parse_permissions(raw: &str) -> anyhow::Result<Vec<Permission>> {
    raw.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.parse::<Permission>().map_err(anyhow::Error::msg))
        .collect()
}
