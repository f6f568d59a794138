//! Configuration from the environment (the contract in DESIGN.md), with defaults.

use anyhow::Context;
use docsync_domain::crypto::MasterKey;
use std::net::SocketAddr;

/// Everything the roles read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DOCSYNC_DATABASE_URL`.
    pub database_url: String,
    /// `DOCSYNC_AMQP_URL`.
    pub amqp_url: String,
    /// `DOCSYNC_API_ADDR`.
    pub api_addr: SocketAddr,
    /// `DOCSYNC_MASTER_KEY` (base64 of 32 bytes), when set.
    pub master_key: Option<String>,
    /// `DOCSYNC_GRAPH_URL`.
    pub graph_url: String,
    /// `DOCSYNC_LOGIN_URL`.
    pub login_url: String,
    /// `DOCSYNC_EXCHANGE_URL`.
    pub exchange_url: String,
    /// `DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS`.
    pub allow_private_provider_urls: bool,
    /// `DOCSYNC_QUEUE_PREFIX` [docsync].
    pub queue_prefix: String,
    /// `DOCSYNC_PUBLISH_PARTITIONS` [8].
    pub publish_partitions: u16,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Settings {
    /// Reads the environment; a malformed value names the variable and the fix.
    pub fn from_env() -> anyhow::Result<Self> {
        let api_addr = var("DOCSYNC_API_ADDR", "127.0.0.1:8080");
        let api_addr = api_addr.parse().with_context(|| {
            format!("DOCSYNC_API_ADDR must be host:port such as 127.0.0.1:8080, got {api_addr:?}")
        })?;
        let allow = var("DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS", "false");
        let allow_private_provider_urls = match allow.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            _ => anyhow::bail!(
                "DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS must be true or false, got {allow:?}"
            ),
        };
        let partitions = var("DOCSYNC_PUBLISH_PARTITIONS", "8");
        let publish_partitions = partitions
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .with_context(|| format!("DOCSYNC_PUBLISH_PARTITIONS must be a whole number from 1 to 256, got {partitions:?}"))?;
        Ok(Self {
            database_url: var(
                "DOCSYNC_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/docsync",
            ),
            amqp_url: var("DOCSYNC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            api_addr,
            master_key: std::env::var("DOCSYNC_MASTER_KEY")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            graph_url: var("DOCSYNC_GRAPH_URL", "https://graph.microsoft.com"),
            login_url: var("DOCSYNC_LOGIN_URL", "https://login.microsoftonline.com"),
            exchange_url: var("DOCSYNC_EXCHANGE_URL", "https://outlook.office365.com"),
            allow_private_provider_urls,
            queue_prefix: var("DOCSYNC_QUEUE_PREFIX", "docsync"),
            publish_partitions,
        })
    }

    /// The master key, required by every role that reads or writes secrets.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        let raw = self.master_key.as_deref().context(
            "DOCSYNC_MASTER_KEY is not set: it encrypts stored secrets; generate one with `openssl rand -base64 32` and keep it safe",
        )?;
        Ok(MasterKey::parse(raw)?)
    }
}
