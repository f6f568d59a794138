//! Helpers for commands that run the fleet as child processes of this binary against the
//! in-process sandbox, in a database and a queue prefix of their own (`docsync chaos`):
//! scratch settings, accounts with tenants and integrations written straight to the store,
//! role processes with their environment, stopping them, and leaving nothing behind.

use crate::fleet;
use crate::settings::Settings;
use anyhow::Context;
use docsync_domain::crypto::MasterKey;
use docsync_domain::{AccountId, Provider, TenantId};
use docsync_queue::{Broker, QueueConfig};
use docsync_sandbox::{fixtures, Sandbox, SandboxConfig};
use docsync_store::{IntegrationUpsert, NewTenant, Permission, Store};
use std::ops::Range;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A free loopback port (free when asked; bind it soon).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The shared pacing slots a process has given up so far for being late to them
/// (`docsync_pacing_late_slots_total` of every provider, from its `/metrics` at `url`): each
/// is a slot of a key's budget left unused. `None` when the metrics cannot be read.
pub async fn late_slots(http: &reqwest::Client, url: &str) -> Option<f64> {
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("docsync_pacing_late_slots_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

/// Settings of a run that must not touch anything else: its own database and queue prefix,
/// a fresh master key, the sandbox as every provider, the API on a free port.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// The settings the fleet's processes get.
    pub settings: Settings,
    /// The database's name (dropped by [`Scratch::clean_up`]).
    pub database: String,
    /// The server part of the database URL (without the database name).
    pub server_url: String,
}

impl Scratch {
    /// Scratch settings derived from `settings` for a run labelled `label` (`chaos`, ...).
    pub fn new(settings: &Settings, sandbox: &Sandbox, label: &str) -> anyhow::Result<Scratch> {
        let unique = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let server_url = settings
            .database_url
            .rsplit_once('/')
            .map_or(settings.database_url.as_str(), |(b, _)| b)
            .to_owned();
        let database = format!("docsync_{label}_{unique}");
        let mut s = settings.clone();
        s.database_url = format!("{server_url}/{database}");
        s.queue_prefix = format!("docsync-{label}-{unique}");
        s.master_key = Some(MasterKey::generate_b64().into());
        s.graph_url = sandbox.graph_url.clone();
        s.login_url = sandbox.login_url.clone();
        s.exchange_url = sandbox.exchange_url.clone();
        s.allow_private_provider_urls = true;
        s.itglue_hosts.us = sandbox.itglue_us_url.clone();
        s.itglue_hosts.eu = sandbox.itglue_eu_url.clone();
        s.itglue_hosts.au = sandbox.itglue_au_url.clone();
        s.autotask_zone_url = sandbox.autotask_zone_discovery_url();
        s.api_addr = format!("127.0.0.1:{}", free_port()?).parse()?;
        Ok(Scratch {
            settings: s,
            database,
            server_url,
        })
    }

    /// The API's base URL.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.settings.api_addr)
    }

    /// Deletes the run's queues and exchanges (`retry_delays`: the delays its processes ran
    /// with, which name the delay queues) and drops its database. Best effort: call it on
    /// every way out.
    pub async fn clean_up(&self, retry_delays: &[Duration]) {
        let mut queue = QueueConfig::new(self.settings.amqp_url.clone());
        queue.prefix = self.settings.queue_prefix.clone();
        queue.publish_partitions = self.settings.publish_partitions;
        queue.retry_delays = retry_delays.to_vec();
        let deleted = tokio::time::timeout(Duration::from_secs(60), async {
            let broker = Broker::connect(queue).await?;
            let result = broker.delete_topology().await;
            broker.close().await;
            result
        })
        .await;
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "could not delete the queues of prefix {} (delete them by hand)",
                self.settings.queue_prefix
            );
        }
        drop_database(&self.server_url, &self.database).await;
    }
}

/// Drops database `name` on the server at `server_url`, closing its connections.
pub async fn drop_database(server_url: &str, name: &str) {
    if let Ok((client, conn)) =
        tokio_postgres::connect(&format!("{server_url}/postgres"), tokio_postgres::NoTls).await
    {
        tokio::spawn(conn);
        if let Err(e) = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
        {
            eprintln!("could not drop database {name}: {e}");
        }
    } else {
        eprintln!("could not drop database {name}: PostgreSQL is not reachable");
    }
}

/// Connects to the scratch database, creating and migrating it.
pub async fn connect_store(scratch: &Scratch) -> anyhow::Result<Store> {
    fleet::connect_store(&scratch.settings).await
}

/// An MSP account made for a run: its API token and its tenants with their fixture indices.
#[derive(Debug, Clone)]
pub struct HarnessAccount {
    /// The account.
    pub id: AccountId,
    /// An API token with every permission.
    pub token: String,
    /// Its tenants and the sandbox fixture each one mirrors.
    pub tenants: Vec<(TenantId, usize)>,
}

/// Creates an account with every permission, the sandbox's Microsoft app and one tenant per
/// fixture index in `fixtures`.
pub async fn create_account(
    store: &Store,
    master: &MasterKey,
    name: &str,
    fixtures: Range<usize>,
) -> anyhow::Result<HarnessAccount> {
    let id = store.create_account(name).await?;
    let token = crate::admin::create_token(store, id, &Permission::ALL).await?;
    let defaults = SandboxConfig::default();
    store
        .put_microsoft_connection(
            id,
            &defaults.graph_client_id,
            &master.seal(
                &defaults.graph_client_secret,
                &docsync_domain::crypto::Binding::microsoft_client_secret(id),
            ),
        )
        .await?;
    let mut tenants = Vec::with_capacity(fixtures.len());
    for i in fixtures {
        let tenant = store
            .create_tenant(
                id,
                &NewTenant {
                    name: fixtures::display_name(i),
                    primary_domain: format!("tenant{i}.example.com"),
                    microsoft_tenant_id: fixtures::microsoft_tenant_id(i),
                },
            )
            .await?;
        tenants.push((tenant.id, i));
    }
    Ok(HarnessAccount { id, token, tenants })
}

/// Maps every tenant of `account` to Hudu company (fixture index + 1) on `base_url` with
/// `key`, pushed manually only.
pub async fn map_hudu(
    store: &Store,
    master: &MasterKey,
    account: &HarnessAccount,
    base_url: &str,
    key: &str,
) -> anyhow::Result<()> {
    upsert(
        store,
        master,
        account,
        Provider::Hudu,
        Some(base_url),
        None,
        key,
    )
    .await
}

/// Maps every tenant of `account` to IT Glue organization (fixture index + 1) in `region`
/// with `key`, pushed manually only.
pub async fn map_itglue(
    store: &Store,
    master: &MasterKey,
    account: &HarnessAccount,
    region: &str,
    key: &str,
) -> anyhow::Result<()> {
    upsert(
        store,
        master,
        account,
        Provider::ItGlue,
        None,
        Some(region),
        key,
    )
    .await
}

async fn upsert(
    store: &Store,
    master: &MasterKey,
    account: &HarnessAccount,
    provider: Provider,
    base_url: Option<&str>,
    region: Option<&str>,
    key: &str,
) -> anyhow::Result<()> {
    store
        .upsert_integration(
            account.id,
            provider,
            &IntegrationUpsert {
                base_url: base_url.map(str::to_owned),
                region: region.map(str::to_owned),
                api_key_sealed: master.seal(
                    key,
                    &docsync_domain::crypto::Binding::integration_api_key(account.id, provider),
                ),
                schedule: serde_json::json!({"mode": "manual"}),
                rate_limit: None,
                options: Default::default(),
                mappings: account
                    .tenants
                    .iter()
                    .map(|(t, i)| (*t, *i as i64 + 1))
                    .collect(),
            },
        )
        .await?;
    Ok(())
}

/// `docsync <role>` from this binary with the scratch settings in its environment, plus
/// `extra` variables; its log (stderr) goes to `log` (appended) or to ours.
pub fn role_command(
    settings: &Settings,
    role: &str,
    extra: &[(&str, String)],
    log: Option<&Path>,
) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("the fleet runs from this binary")?;
    let mut command = Command::new(exe);
    command
        .arg(role)
        .env("DOCSYNC_DATABASE_URL", &settings.database_url)
        .env("DOCSYNC_AMQP_URL", &settings.amqp_url)
        .env("DOCSYNC_API_ADDR", settings.api_addr.to_string())
        .env(
            "DOCSYNC_MASTER_KEY",
            settings
                .master_key
                .as_ref()
                .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
                .unwrap_or_default(),
        )
        .env("DOCSYNC_GRAPH_URL", &settings.graph_url)
        .env("DOCSYNC_LOGIN_URL", &settings.login_url)
        .env("DOCSYNC_EXCHANGE_URL", &settings.exchange_url)
        .env("DOCSYNC_ITGLUE_URL_US", &settings.itglue_hosts.us)
        .env("DOCSYNC_ITGLUE_URL_EU", &settings.itglue_hosts.eu)
        .env("DOCSYNC_ITGLUE_URL_AU", &settings.itglue_hosts.au)
        .env("DOCSYNC_AUTOTASK_ZONE_URL", &settings.autotask_zone_url)
        .env(
            "DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS",
            settings.allow_private_provider_urls.to_string(),
        )
        .env("DOCSYNC_QUEUE_PREFIX", &settings.queue_prefix)
        .env(
            "DOCSYNC_PUBLISH_PARTITIONS",
            settings.publish_partitions.to_string(),
        )
        .env(
            "DOCSYNC_SNAPSHOT_REUSE_SECS",
            settings.snapshot_reuse.as_secs().to_string(),
        )
        .env("RUST_LOG", "warn")
        // Several children on one host cannot share the default operations port; `extra`
        // may give one its own.
        .env("DOCSYNC_METRICS_ADDR", "off")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in extra {
        command.env(name, value);
    }
    match log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log {}", path.display()))?;
            command.stderr(Stdio::from(file));
        }
        None => {
            command.stderr(Stdio::inherit());
        }
    }
    Ok(command)
}

/// Asks a child to stop (SIGTERM) and waits up to `grace` for it, then kills it.
pub async fn terminate(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// Waits until `GET {api}/ready` answers 2xx.
pub async fn wait_for_api(
    http: &reqwest::Client,
    api: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{api}/ready")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!(
        "the fleet's API did not become ready in {} s",
        within.as_secs()
    )
}
