//! Admin commands: accounts, API tokens (create, list, revoke) and master-key rotation.

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use docsync_domain::crypto::MasterKey;
use docsync_domain::AccountId;
use docsync_store::{hash_token, Permission, Reseal, SealedSecret, Store, TokenRecord};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use uuid::Uuid;

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

/// The token to revoke: by id (from `docsync token list`) or the token itself.
pub enum TokenRef {
    /// The token's id.
    Id(Uuid),
    /// The token as it was shown once (only its hash is looked up).
    Token(SecretString),
}

/// What `docsync token revoke` did.
#[derive(Debug, Clone)]
pub enum Revocation {
    /// The token was live and is now revoked.
    Revoked(TokenRecord),
    /// The token had been revoked before.
    AlreadyRevoked(TokenRecord),
}

impl fmt::Display for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revocation::Revoked(t) => write!(
                f,
                "revoked token {} of account {}: every request with it is now answered 401",
                t.id, t.account_id
            ),
            Revocation::AlreadyRevoked(t) => write!(
                f,
                "token {} of account {} was already revoked at {}",
                t.id,
                t.account_id,
                t.revoked_at
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default()
            ),
        }
    }
}

/// Revokes a token at once: the API looks tokens up on every request, so its next call is
/// answered 401. Revoking a revoked token again changes nothing.
pub async fn revoke_token(store: &Store, token: &TokenRef) -> anyhow::Result<Revocation> {
    let found = match token {
        TokenRef::Id(id) => store
            .token_by_id(*id)
            .await?
            .with_context(|| format!("no token with id {id}: see `docsync token list --account ID`"))?,
        TokenRef::Token(token) => store
            .token_by_hash(&hash_token(token.expose_secret().trim()))
            .await?
            .context("no such token: check it was copied whole, or revoke by --token-id from `docsync token list --account ID`")?,
    };
    if found.revoked_at.is_some() {
        return Ok(Revocation::AlreadyRevoked(found));
    }
    let revoked = store.revoke_token(found.id).await?;
    let now = store
        .token_by_id(found.id)
        .await?
        .context("the token vanished while it was revoked")?;
    Ok(if revoked {
        Revocation::Revoked(now)
    } else {
        Revocation::AlreadyRevoked(now)
    })
}

/// An account's tokens, live and revoked (never the tokens themselves).
pub async fn list_tokens(store: &Store, account: AccountId) -> anyhow::Result<Vec<TokenRecord>> {
    if !store.account_exists(account).await? {
        anyhow::bail!("no account {account}: create one with `docsync account create --name NAME`");
    }
    Ok(store.tokens(account).await?)
}

/// Tokens as a table: id, permissions, created, revoked.
pub fn token_table(tokens: &[TokenRecord]) -> String {
    let rows: Vec<[String; 4]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.permissions
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                t.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                t.revoked_at
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = [
        "ID".to_owned(),
        "PERMISSIONS".to_owned(),
        "CREATED".to_owned(),
        "REVOKED".to_owned(),
    ];
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no tokens: create one with `docsync token create`)\n");
    }
    out
}

/// Reads `DOCSYNC_NEW_MASTER_KEY`, the key `docsync rotate-key` re-encrypts secrets with.
pub fn new_master_key_from_env() -> anyhow::Result<MasterKey> {
    let raw = std::env::var("DOCSYNC_NEW_MASTER_KEY")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .context("DOCSYNC_NEW_MASTER_KEY is not set: give the new key (generate one with `openssl rand -base64 32`) beside the current DOCSYNC_MASTER_KEY")?;
    MasterKey::parse(&raw).map_err(|_| {
        anyhow::anyhow!(
            "DOCSYNC_NEW_MASTER_KEY must be base64 of 32 random bytes (generate one with `openssl rand -base64 32`)"
        )
    })
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRotation {
    /// Microsoft connection client secrets re-encrypted.
    pub microsoft_client_secrets: usize,
    /// Integration API keys re-encrypted.
    pub integration_api_keys: usize,
    /// Webhook signing secrets re-encrypted.
    pub webhook_secrets: usize,
    /// Secrets already under the new key (an earlier, interrupted or repeated rotation).
    pub already_rotated: usize,
}

impl fmt::Display for KeyRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "re-encrypted {} secrets with the new key ({} Microsoft client secrets, {} integration API keys, {} webhook secrets); {} already under the new key were left as they were.\n\
             Now set DOCSYNC_MASTER_KEY to the new key and restart the api, collector and publisher roles.",
            self.microsoft_client_secrets + self.integration_api_keys + self.webhook_secrets,
            self.microsoft_client_secrets,
            self.integration_api_keys,
            self.webhook_secrets,
            self.already_rotated
        )
    }
}

/// Re-encrypts every stored secret from `old` to `new` in one transaction. A secret that
/// already opens with `new` is left as it is, so an interrupted rotation can simply be run
/// again; if any secret opens with neither key, nothing changes and the error names it.
pub async fn rotate_key(
    store: &Store,
    old: &MasterKey,
    new: &MasterKey,
) -> anyhow::Result<KeyRotation> {
    let check = docsync_domain::crypto::Binding::microsoft_client_secret(
        docsync_domain::AccountId(uuid::Uuid::nil()),
    );
    if new
        .open(&old.seal("docsync key check", &check), &check)
        .is_ok()
    {
        anyhow::bail!(
            "DOCSYNC_NEW_MASTER_KEY is the same key as DOCSYNC_MASTER_KEY: generate a new one with `openssl rand -base64 32`"
        );
    }
    let report = store
        .reseal_secrets(|secret, sealed| {
            let binding = secret.binding();
            // Under the new key and bound to its place: nothing to do. A value of the first
            // format (unbound) is re-sealed bound, even under the new key.
            if MasterKey::is_bound(sealed) && new.open(sealed, &binding).is_ok() {
                return Reseal::Keep;
            }
            match old
                .open(sealed, &binding)
                .or_else(|_| new.open(sealed, &binding))
            {
                Ok(plain) => {
                    let plain = SecretString::from(plain);
                    Reseal::Rewrite(new.seal(plain.expose_secret(), &binding))
                }
                Err(_) => Reseal::Unreadable,
            }
        })
        .await?;
    if !report.committed {
        let names: Vec<String> = report.unreadable.iter().map(|s| s.to_string()).collect();
        anyhow::bail!(
            "nothing was changed: {} stored secrets open with neither DOCSYNC_MASTER_KEY nor DOCSYNC_NEW_MASTER_KEY (they were stored with another key; set them again through the API): {}",
            names.len(),
            names.join("; ")
        );
    }
    let mut rotation = KeyRotation {
        already_rotated: report.kept.len(),
        ..KeyRotation::default()
    };
    for secret in &report.rewritten {
        match secret {
            SealedSecret::MicrosoftClientSecret { .. } => rotation.microsoft_client_secrets += 1,
            SealedSecret::IntegrationApiKey { .. } | SealedSecret::PsaSecret { .. } => {
                rotation.integration_api_keys += 1
            }
            SealedSecret::WebhookSecret { .. } => rotation.webhook_secrets += 1,
        }
    }
    Ok(rotation)
}
