//! Configuration from the environment (the contract in DESIGN.md), with defaults.

use anyhow::Context;
use docsync_domain::crypto::MasterKey;
use docsync_domain::ItGlueRegion;
use docsync_sinks::ItGlueHosts;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the roles read from the environment. `Debug` never shows a secret: the master
/// key is a [`SecretString`] and the database and broker URLs are shown without their
/// passwords.
#[derive(Clone)]
pub struct Settings {
    /// `DOCSYNC_DATABASE_URL`.
    pub database_url: String,
    /// `DOCSYNC_AMQP_URL`.
    pub amqp_url: String,
    /// `DOCSYNC_API_ADDR`.
    pub api_addr: SocketAddr,
    /// `DOCSYNC_MASTER_KEY` (base64 of 32 bytes), when set.
    pub master_key: Option<SecretString>,
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
    /// `DOCSYNC_ITGLUE_URL_US`, `_EU`, `_AU` [IT Glue's own hosts].
    pub itglue_hosts: ItGlueHosts,
    /// `DOCSYNC_METRICS_ADDR` [127.0.0.1:9464]: where `/metrics`, `/health` and `/ready` are
    /// served; `off` serves none.
    pub metrics_addr: Option<SocketAddr>,
    /// `DOCSYNC_AUTOTASK_ZONE_URL` [https://webservices.autotask.net/atservicesrest]: where
    /// Autotask's zone discovery is asked.
    pub autotask_zone_url: String,
    /// `DOCSYNC_SNAPSHOT_REUSE_SECS` [120]: a snapshot younger than this serves another push
    /// of the same tenant instead of collecting again.
    pub snapshot_reuse: Duration,
    /// `DOCSYNC_RETRY_DELAYS` [10,60,300,900]: seconds before each retry of a job that met a
    /// transient fault (their count is the number of retries).
    pub retry_delays: Vec<Duration>,
    /// `DOCSYNC_API_RATE_LIMIT` [600]: requests per minute one API token may make (counted by
    /// each API process on its own).
    pub api_rate_limit: u32,
    /// `DOCSYNC_API_UNKNOWN_TOKEN_LIMIT` [30]: requests with a missing or unknown token one
    /// client address may make per minute; more block the address for a while.
    pub api_unknown_token_limit: u32,
    /// `DOCSYNC_API_FORWARDED_HOPS` [0]: trusted proxies in front of the API that append the
    /// client's address to `X-Forwarded-For` (0: the TCP peer is the client).
    pub api_forwarded_hops: usize,
    /// `DOCSYNC_STALLED_RUN_SECS` [2400]: a run in flight without progress this long is handed
    /// to the collectors again by the scheduler.
    pub stalled_after: Duration,
    /// `DOCSYNC_DELIVERY_LIMIT` [20]: deliveries of one job message without it being finished
    /// (its handler kept failing on the database or being interrupted) after which it is
    /// parked in the dead-letter queue and its run fails saying so.
    pub delivery_limit: u32,
    /// `DOCSYNC_STARTUP_WAIT_SECS` [300]: how long a starting role waits for PostgreSQL and
    /// RabbitMQ to answer before it gives up (0: not at all).
    pub startup_wait: Duration,
    /// `DOCSYNC_WEBHOOK_RETRY_DELAYS` [10,60,300,900,3600,7200]: seconds before each retry of a
    /// webhook delivery the receiver did not accept; the last repeats until 24 hours after the
    /// run finished.
    pub webhook_retry_delays: Vec<Duration>,
    /// `DOCSYNC_CHANGE_POLL_SECS` [300]: how often the scheduler reads the directory audit log
    /// of each tenant an integration with `schedule.onChange` maps.
    pub change_poll: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use docsync_domain::redacted_url;
        f.debug_struct("Settings")
            .field("database_url", &redacted_url(&self.database_url))
            .field("amqp_url", &redacted_url(&self.amqp_url))
            .field("api_addr", &self.api_addr)
            .field("master_key", &self.master_key.as_ref().map(|_| "••••"))
            .field("graph_url", &self.graph_url)
            .field("login_url", &self.login_url)
            .field("exchange_url", &self.exchange_url)
            .field(
                "allow_private_provider_urls",
                &self.allow_private_provider_urls,
            )
            .field("queue_prefix", &self.queue_prefix)
            .field("publish_partitions", &self.publish_partitions)
            .field("itglue_hosts", &self.itglue_hosts)
            .field("metrics_addr", &self.metrics_addr)
            .field("autotask_zone_url", &self.autotask_zone_url)
            .field("snapshot_reuse", &self.snapshot_reuse)
            .field("retry_delays", &self.retry_delays)
            .field("api_rate_limit", &self.api_rate_limit)
            .field("api_unknown_token_limit", &self.api_unknown_token_limit)
            .field("api_forwarded_hops", &self.api_forwarded_hops)
            .field("stalled_after", &self.stalled_after)
            .field("delivery_limit", &self.delivery_limit)
            .field("startup_wait", &self.startup_wait)
            .field("webhook_retry_delays", &self.webhook_retry_delays)
            .field("change_poll", &self.change_poll)
            .finish()
    }
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A whole number of seconds, at least `min`, from `name`.
fn seconds(name: &str, default: &str, min: u64) -> anyhow::Result<Duration> {
    let value = var(name, default);
    value
        .parse::<u64>()
        .ok()
        .filter(|s| *s >= min)
        .map(Duration::from_secs)
        .with_context(|| {
            format!("{name} must be a whole number of seconds ({min} or more), got {value:?}")
        })
}

/// Seconds separated by commas (each above 0 and at most a day), from `name`.
fn delays(name: &str, default: &str) -> anyhow::Result<Vec<Duration>> {
    let value = var(name, default);
    value
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .map(Duration::from_secs_f64)
        })
        .collect::<Option<Vec<_>>>()
        .with_context(|| {
            format!("{name} must be seconds separated by commas, such as {default}, got {value:?}")
        })
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
        let snapshot_reuse = seconds("DOCSYNC_SNAPSHOT_REUSE_SECS", "120", 0)?;
        let retry_delays = delays("DOCSYNC_RETRY_DELAYS", "10,60,300,900")?;
        let webhook_retry_delays =
            delays("DOCSYNC_WEBHOOK_RETRY_DELAYS", "10,60,300,900,3600,7200")?;
        let limit = var("DOCSYNC_API_RATE_LIMIT", "600");
        let api_rate_limit = limit
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .with_context(|| format!("DOCSYNC_API_RATE_LIMIT must be a whole number of requests per minute per API token, 1 or more (such as 600), got {limit:?}"))?;
        let guesses = var("DOCSYNC_API_UNKNOWN_TOKEN_LIMIT", "30");
        let api_unknown_token_limit = guesses
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .with_context(|| format!("DOCSYNC_API_UNKNOWN_TOKEN_LIMIT must be a whole number of requests per minute per client address, 1 or more (such as 30), got {guesses:?}"))?;
        let hops = var("DOCSYNC_API_FORWARDED_HOPS", "0");
        let api_forwarded_hops = hops
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 10)
            .with_context(|| format!("DOCSYNC_API_FORWARDED_HOPS must be the number of trusted proxies in front of the API, 0 to 10, got {hops:?}"))?;
        let stalled_after = seconds("DOCSYNC_STALLED_RUN_SECS", "2400", 1)?;
        let deliveries = var("DOCSYNC_DELIVERY_LIMIT", "20");
        let delivery_limit = deliveries
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .with_context(|| format!("DOCSYNC_DELIVERY_LIMIT must be a whole number of deliveries from 1 to 1000 (such as 20), got {deliveries:?}"))?;
        let metrics = var("DOCSYNC_METRICS_ADDR", "127.0.0.1:9464");
        let metrics_addr = if metrics.trim().eq_ignore_ascii_case("off") {
            None
        } else {
            Some(metrics.trim().parse().with_context(|| {
                format!("DOCSYNC_METRICS_ADDR must be host:port such as 0.0.0.0:9464, or off, got {metrics:?}")
            })?)
        };
        let startup_wait = seconds("DOCSYNC_STARTUP_WAIT_SECS", "300", 0)?;
        let change_poll = seconds("DOCSYNC_CHANGE_POLL_SECS", "300", 1)?;
        Ok(Self {
            change_poll,
            metrics_addr,
            snapshot_reuse,
            retry_delays,
            webhook_retry_delays,
            stalled_after,
            delivery_limit,
            startup_wait,
            api_rate_limit,
            api_unknown_token_limit,
            api_forwarded_hops,
            database_url: var(
                "DOCSYNC_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/docsync",
            ),
            amqp_url: var("DOCSYNC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            api_addr,
            master_key: std::env::var("DOCSYNC_MASTER_KEY")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from),
            graph_url: var("DOCSYNC_GRAPH_URL", "https://graph.microsoft.com"),
            login_url: var("DOCSYNC_LOGIN_URL", "https://login.microsoftonline.com"),
            exchange_url: var("DOCSYNC_EXCHANGE_URL", "https://outlook.office365.com"),
            allow_private_provider_urls,
            queue_prefix: var("DOCSYNC_QUEUE_PREFIX", "docsync"),
            publish_partitions,
            autotask_zone_url: var(
                "DOCSYNC_AUTOTASK_ZONE_URL",
                docsync_publisher::AUTOTASK_ZONE_URL,
            )
            .trim_end_matches('/')
            .to_owned(),
            itglue_hosts: ItGlueHosts {
                us: var("DOCSYNC_ITGLUE_URL_US", ItGlueRegion::Us.default_url()),
                eu: var("DOCSYNC_ITGLUE_URL_EU", ItGlueRegion::Eu.default_url()),
                au: var("DOCSYNC_ITGLUE_URL_AU", ItGlueRegion::Au.default_url()),
            },
        })
    }

    /// The master key, required by every role that reads or writes secrets.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        let raw = self.master_key.as_ref().map(ExposeSecret::expose_secret).context(
            "DOCSYNC_MASTER_KEY is not set: it encrypts stored secrets; generate one with `openssl rand -base64 32` and keep it safe",
        )?;
        Ok(MasterKey::parse(raw)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_password_and_no_master_key() {
        let mut settings = Settings::from_env().expect("the defaults parse");
        settings.database_url = "postgres://docsync:pg-PASSWORD-1@db:5432/docsync".into();
        settings.amqp_url = "amqp://docsync:mq-PASSWORD-2@mq:5672/%2f".into();
        let key = MasterKey::generate_b64();
        settings.master_key = Some(SecretString::from(key.clone()));
        let shown = format!("{settings:?} {settings:#?}");
        for secret in ["pg-PASSWORD-1", "mq-PASSWORD-2", key.as_str()] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        assert!(
            shown.contains("postgres://docsync:••••@db:5432/docsync"),
            "{shown}"
        );
        assert!(
            settings.master_key().is_ok(),
            "the key itself is still usable"
        );
    }
}
