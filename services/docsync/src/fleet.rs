//! Starts any set of roles in this process around one store, one broker connection and one
//! shutdown signal, and stops them together (a drain barrier: every role's task is joined).

use crate::settings::Settings;
use anyhow::Context;
use docsync_domain::Shutdown;
use docsync_publisher::Providers;
use docsync_queue::{Broker, QueueConfig};
use docsync_sources::{GraphSource, GraphSourceConfig, SnapshotSource};
use docsync_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Which roles to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    /// The HTTP API.
    pub api: bool,
    /// The scheduler.
    pub scheduler: bool,
    /// Collectors.
    pub collector: bool,
    /// Publishers.
    pub publisher: bool,
}

impl Roles {
    /// Every role.
    pub fn all() -> Self {
        Self {
            api: true,
            scheduler: true,
            collector: true,
            publisher: true,
        }
    }
}

/// Running roles.
pub struct Fleet {
    shutdown: Shutdown,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    /// Where the API listens, when it runs.
    pub api_addr: Option<SocketAddr>,
    /// The shared store.
    pub store: Store,
    /// The shared broker connection.
    pub broker: Arc<Broker>,
    /// Where `/metrics`, `/health` and `/ready` are served, unless `DOCSYNC_METRICS_ADDR` is off.
    pub metrics_addr: Option<SocketAddr>,
    /// The process's metrics.
    pub metrics: docsync_telemetry::Metrics,
}

/// Connects to the database, creating and migrating it when needed; waits up to
/// `DOCSYNC_STARTUP_WAIT_SECS` for PostgreSQL to answer.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Store> {
    patiently("PostgreSQL", settings.startup_wait, || async {
        docsync_store::ensure_database(&settings.database_url)
            .await
            .context("PostgreSQL is not reachable at DOCSYNC_DATABASE_URL")?;
        let store = Store::connect(&settings.database_url, 16)?;
        store.migrate().await?;
        Ok(store)
    })
    .await
}

/// Connects to the database (creating and migrating it) and the broker (declaring the
/// topology); waits up to `DOCSYNC_STARTUP_WAIT_SECS` for each to answer.
pub async fn connect(settings: &Settings) -> anyhow::Result<(Store, Arc<Broker>)> {
    let store = connect_store(settings).await?;
    let mut queue = QueueConfig::new(settings.amqp_url.clone());
    queue.prefix = settings.queue_prefix.clone();
    queue.publish_partitions = settings.publish_partitions;
    queue.retry_delays = settings.retry_delays.clone();
    queue.delivery_limit = settings.delivery_limit;
    let broker = patiently("RabbitMQ", settings.startup_wait, || async {
        Broker::connect(queue.clone())
            .await
            .context("RabbitMQ is not reachable at DOCSYNC_AMQP_URL")
    })
    .await?;
    Ok((store, Arc::new(broker)))
}

/// Tries `connect` until it succeeds or `patience` has run out, saying each time why it
/// waits: a role started before PostgreSQL or RabbitMQ waits for them instead of exiting.
async fn patiently<T, F, Fut>(what: &str, patience: Duration, mut connect: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + patience;
    let mut wait = Duration::from_millis(500);
    loop {
        match connect().await {
            Ok(connected) => return Ok(connected),
            Err(e) if Instant::now() + wait < deadline => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = wait.as_millis() as u64,
                    "{what} does not answer yet; waiting for it"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                return Err(e.context(format!(
                    "gave up waiting for {what} after {} s (DOCSYNC_STARTUP_WAIT_SECS)",
                    patience.as_secs()
                )))
            }
        }
    }
}

impl Fleet {
    /// Starts `roles`; returns once the API (if any) is listening.
    pub async fn start(settings: &Settings, roles: Roles) -> anyhow::Result<Self> {
        let (store, broker) = connect(settings).await?;
        let metrics = docsync_telemetry::Metrics::new();
        let store = store.with_metrics(metrics.clone());
        let shutdown = Shutdown::new();
        let mut tasks = JoinSet::new();
        let metrics_addr = match settings.metrics_addr {
            Some(addr) => {
                let stop = shutdown.clone();
                let (bound, _) = crate::metrics_http::serve(
                    addr,
                    metrics.clone(),
                    store.clone(),
                    broker.clone(),
                    async move { stop.wait().await },
                )
                .await?;
                Some(bound)
            }
            None => None,
        };
        let providers = Providers {
            pacer: docsync_publisher::fleet_pacer(store.clone()).with_metrics(metrics.clone()),
            itglue_hosts: settings.itglue_hosts.clone(),
            itglue_types: Default::default(),
            autotask_zone_url: settings.autotask_zone_url.clone(),
            autotask_zones: Default::default(),
            public_addresses_only: !settings.allow_private_provider_urls,
        };
        let needs_key = roles.api || roles.collector || roles.publisher;
        let master = if needs_key {
            Some(settings.master_key()?)
        } else {
            None
        };
        let mut api_addr = None;
        if let (true, Some(master)) = (roles.api, master.clone()) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let config = docsync_api::ApiConfig {
                addr: settings.api_addr,
                allow_private_provider_urls: settings.allow_private_provider_urls,
                rate_limit_per_minute: settings.api_rate_limit,
                unknown_token_limit_per_minute: settings.api_unknown_token_limit,
                forwarded_hops: settings.api_forwarded_hops,
                webhooks: docsync_api::webhooks::DeliveryConfig {
                    retry_delays: settings.webhook_retry_delays.clone(),
                    allow_private: settings.allow_private_provider_urls,
                    ..Default::default()
                },
            };
            let (s, b, p, sd) = (
                store.clone(),
                broker.clone(),
                providers.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                (
                    "api",
                    docsync_api::run(config, s, b, master, p, sd, Some(tx)).await,
                )
            });
            api_addr = Some(
                rx.await
                    .context("the API could not start (is DOCSYNC_API_ADDR free?)")?,
            );
        }
        if let (true, Some(master)) = (roles.collector, master.clone()) {
            let source: Arc<dyn SnapshotSource> = Arc::new(
                GraphSource::new(GraphSourceConfig {
                    graph_url: settings.graph_url.clone(),
                    login_url: settings.login_url.clone(),
                    exchange_url: settings.exchange_url.clone(),
                    ..GraphSourceConfig::microsoft_defaults()
                })?
                .with_metrics(metrics.clone()),
            );
            let (s, b, sd) = (store.clone(), broker.clone(), shutdown.clone());
            let reach = providers.clone();
            let collector = docsync_collector::CollectorConfig {
                snapshot_reuse: settings.snapshot_reuse,
                ..Default::default()
            };
            tasks.spawn(async move {
                (
                    "collector",
                    docsync_collector::run(collector, s, b, master, source, reach, sd).await,
                )
            });
        }
        if let (true, Some(master)) = (roles.publisher, master) {
            let (s, b, p, sd) = (
                store.clone(),
                broker.clone(),
                providers.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                (
                    "publisher",
                    docsync_publisher::run(Default::default(), s, b, master, p, sd).await,
                )
            });
        }
        if roles.scheduler {
            match settings.master_key() {
                Ok(master) => {
                    let source = GraphSource::new(GraphSourceConfig {
                        graph_url: settings.graph_url.clone(),
                        login_url: settings.login_url.clone(),
                        exchange_url: settings.exchange_url.clone(),
                        ..GraphSourceConfig::microsoft_defaults()
                    })?
                    .with_metrics(metrics.clone());
                    let watcher = docsync_scheduler::ChangeWatcher::new(
                        store.clone(),
                        broker.clone(),
                        master,
                        source,
                        docsync_scheduler::ChangeConfig::every(settings.change_poll),
                    );
                    let sd = shutdown.clone();
                    tasks.spawn(async move { ("change watch", watcher.run(sd).await) });
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "change-triggered pushes (schedule.onChange) are off in this scheduler: it needs the master key to sign in to tenants"
                ),
            }
            let (s, b, sd) = (store.clone(), broker.clone(), shutdown.clone());
            let scheduler = docsync_scheduler::SchedulerConfig {
                stalled_after: settings.stalled_after,
                ..Default::default()
            };
            tasks.spawn(async move {
                (
                    "scheduler",
                    docsync_scheduler::run(scheduler, s, b, sd).await,
                )
            });
        }
        Ok(Self {
            shutdown,
            tasks,
            api_addr,
            store,
            broker,
            metrics_addr,
            metrics,
        })
    }

    /// The shutdown signal shared by every role.
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Runs until a role stops on its own (an error) or `stop` resolves; then stops every role
    /// and waits for them.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let mut failure = None;
        tokio::select! {
            _ = stop => {}
            Some(done) = self.tasks.join_next() => {
                match done {
                    Ok((role, Ok(()))) => tracing::warn!(role, "role stopped"),
                    Ok((role, Err(e))) => failure = Some(e.context(format!("the {role} role failed"))),
                    Err(e) => failure = Some(anyhow::anyhow!("a role panicked: {e}")),
                }
            }
        }
        self.stop().await;
        failure.map_or(Ok(()), Err)
    }

    /// Stops every role and waits for them to drain.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        while let Some(done) = self.tasks.join_next().await {
            if let Ok((role, Err(e))) = done {
                tracing::warn!(role, error = %e, "role ended with an error");
            }
        }
        self.broker.close().await;
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}
