//! Every sealed secret in one pass, for master-key rotation: the Microsoft connections' client
//! secrets, the integrations' API keys, the PSA integrations' secrets and the webhooks' signing
//! secrets, re-sealed in one transaction.
//!
//! The store never sees a key or a plaintext: the caller decides, value by value and knowing
//! where it is stored ([`SealedSecret::binding`]), what the new sealed value is ([`Reseal`]).

use crate::prepared::Prepared;
use crate::{account, parse, Store, StoreResult};
use docsync_domain::{AccountId, Provider};
use std::fmt;
use uuid::Uuid;

/// Where a sealed secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedSecret {
    /// The client secret of an account's Microsoft connection.
    MicrosoftClientSecret {
        /// The owning account.
        account_id: AccountId,
    },
    /// The API key of an account's provider integration.
    IntegrationApiKey {
        /// The owning account.
        account_id: AccountId,
        /// Which integration.
        provider: Provider,
    },
    /// A secret of an account's PSA integration (e.g. ConnectWise `privateKey`).
    PsaSecret {
        /// The owning account.
        account_id: AccountId,
        /// Which PSA.
        psa: docsync_domain::psa::PsaKind,
        /// The secret's field name.
        name: String,
    },
    /// The signing secret of an account's webhook subscription.
    WebhookSecret {
        /// The owning account.
        account_id: AccountId,
        /// The subscription.
        webhook_id: Uuid,
    },
}

impl SealedSecret {
    /// The place it is sealed for: the associated data of its encryption.
    pub fn binding(&self) -> docsync_domain::crypto::Binding {
        use docsync_domain::crypto::Binding;
        match self {
            SealedSecret::MicrosoftClientSecret { account_id } => {
                Binding::microsoft_client_secret(*account_id)
            }
            SealedSecret::IntegrationApiKey {
                account_id,
                provider,
            } => Binding::integration_api_key(*account_id, *provider),
            SealedSecret::PsaSecret {
                account_id,
                psa,
                name,
            } => Binding::psa_secret(*account_id, *psa, name),
            SealedSecret::WebhookSecret {
                account_id,
                webhook_id,
            } => Binding::webhook_secret(*account_id, *webhook_id),
        }
    }
}

impl fmt::Display for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealedSecret::MicrosoftClientSecret { account_id } => {
                write!(f, "account {account_id}: Microsoft connection clientSecret")
            }
            SealedSecret::IntegrationApiKey {
                account_id,
                provider,
            } => write!(f, "account {account_id}: {provider} integration apiKey"),
            SealedSecret::PsaSecret {
                account_id,
                psa,
                name,
            } => write!(f, "account {account_id}: {psa} integration {name}"),
            SealedSecret::WebhookSecret {
                account_id,
                webhook_id,
            } => write!(f, "account {account_id}: webhook {webhook_id} secret"),
        }
    }
}

/// What to do with one sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reseal {
    /// Store this sealed value instead.
    Rewrite(String),
    /// Leave it (already sealed as wanted).
    Keep,
    /// It cannot be read: the pass must not commit.
    Unreadable,
}

/// What a re-sealing pass found and did.
#[derive(Debug, Clone, Default)]
pub struct ResealReport {
    /// Secrets re-sealed.
    pub rewritten: Vec<SealedSecret>,
    /// Secrets left as they were.
    pub kept: Vec<SealedSecret>,
    /// Secrets that could not be read; when any, nothing was changed.
    pub unreadable: Vec<SealedSecret>,
    /// True when the changes were committed (no secret was unreadable).
    pub committed: bool,
}

impl ResealReport {
    /// Records what was decided for `secret`; the new sealed value when it is to be written.
    fn record(&mut self, secret: SealedSecret, verdict: Reseal) -> Option<String> {
        match verdict {
            Reseal::Rewrite(new) => {
                self.rewritten.push(secret);
                Some(new)
            }
            Reseal::Keep => {
                self.kept.push(secret);
                None
            }
            Reseal::Unreadable => {
                self.unreadable.push(secret);
                None
            }
        }
    }
}

impl Store {
    /// Passes every sealed secret of every account through `reseal` inside one transaction,
    /// the rows locked against concurrent changes, and stores the rewritten ones. Commits only
    /// when no secret is [`Reseal::Unreadable`]; otherwise nothing changes and the report
    /// names the unreadable ones. Configuration timestamps are left alone: the secrets'
    /// values do not change.
    pub async fn reseal_secrets(
        &self,
        mut reseal: impl FnMut(&SealedSecret, &str) -> Reseal,
    ) -> StoreResult<ResealReport> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut report = ResealReport::default();

        let rows = tx
            .query_prepared(
                "SELECT account_id, client_secret_sealed FROM microsoft_connections
                  ORDER BY account_id FOR UPDATE",
                &[],
            )
            .await?;
        let (mut accounts, mut sealed) = (Vec::<Uuid>::new(), Vec::<String>::new());
        for r in &rows {
            let secret = SealedSecret::MicrosoftClientSecret {
                account_id: account(r.get(0)),
            };
            let verdict = reseal(&secret, r.get(1));
            if let Some(new) = report.record(secret, verdict) {
                accounts.push(r.get(0));
                sealed.push(new);
            }
        }
        tx.execute_prepared(
            "UPDATE microsoft_connections c SET client_secret_sealed = n.sealed
               FROM unnest($1::uuid[], $2::text[]) AS n(account_id, sealed)
              WHERE c.account_id = n.account_id",
            &[&accounts, &sealed],
        )
        .await?;

        let rows = tx
            .query_prepared(
                "SELECT account_id, provider, api_key_sealed FROM integrations
                  ORDER BY account_id, provider FOR UPDATE",
                &[],
            )
            .await?;
        let (mut accounts, mut providers, mut sealed) = (
            Vec::<Uuid>::new(),
            Vec::<String>::new(),
            Vec::<String>::new(),
        );
        for r in &rows {
            let provider: String = r.get(1);
            let secret = SealedSecret::IntegrationApiKey {
                account_id: account(r.get(0)),
                provider: parse(&provider)?,
            };
            let verdict = reseal(&secret, r.get(2));
            if let Some(new) = report.record(secret, verdict) {
                accounts.push(r.get(0));
                providers.push(provider);
                sealed.push(new);
            }
        }
        tx.execute_prepared(
            "UPDATE integrations i SET api_key_sealed = n.sealed
               FROM unnest($1::uuid[], $2::text[], $3::text[]) AS n(account_id, provider, sealed)
              WHERE i.account_id = n.account_id AND i.provider = n.provider",
            &[&accounts, &providers, &sealed],
        )
        .await?;

        let rows = tx
            .query_prepared(
                "SELECT account_id, psa, secrets_sealed FROM psa_integrations
                  ORDER BY account_id, psa FOR UPDATE",
                &[],
            )
            .await?;
        for r in &rows {
            let psa: String = r.get(1);
            let psa: docsync_domain::psa::PsaKind = parse(&psa)?;
            let stored: serde_json::Value = r.get(2);
            let mut secrets: std::collections::BTreeMap<String, String> =
                serde_json::from_value(stored)
                    .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
            let mut changed = false;
            for (name, sealed) in secrets.iter_mut() {
                let secret = SealedSecret::PsaSecret {
                    account_id: account(r.get(0)),
                    psa,
                    name: name.clone(),
                };
                let verdict = reseal(&secret, sealed);
                if let Some(new) = report.record(secret, verdict) {
                    *sealed = new;
                    changed = true;
                }
            }
            if changed {
                let value = serde_json::to_value(&secrets)
                    .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
                let account_id: Uuid = r.get(0);
                tx.execute_prepared(
                    "UPDATE psa_integrations SET secrets_sealed = $3 WHERE account_id = $1 AND psa = $2",
                    &[&account_id, &psa.as_str(), &value],
                )
                .await?;
            }
        }

        let rows = tx
            .query_prepared(
                "SELECT account_id, id, secret_sealed FROM webhooks ORDER BY account_id, id FOR UPDATE",
                &[],
            )
            .await?;
        let (mut ids, mut sealed) = (Vec::<Uuid>::new(), Vec::<String>::new());
        for r in &rows {
            let secret = SealedSecret::WebhookSecret {
                account_id: account(r.get(0)),
                webhook_id: r.get(1),
            };
            let verdict = reseal(&secret, r.get(2));
            if let Some(new) = report.record(secret, verdict) {
                ids.push(r.get(1));
                sealed.push(new);
            }
        }
        tx.execute_prepared(
            "UPDATE webhooks w SET secret_sealed = n.sealed
               FROM unnest($1::uuid[], $2::text[]) AS n(id, sealed) WHERE w.id = n.id",
            &[&ids, &sealed],
        )
        .await?;

        if report.unreadable.is_empty() {
            tx.commit().await?;
            report.committed = true;
        } else {
            tx.rollback().await?;
        }
        Ok(report)
    }
}
