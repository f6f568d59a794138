//! End-to-end test harness: [`spawn_app`] starts the provider sandbox and the fleet's roles
//! in-process against the real RabbitMQ and PostgreSQL, each test isolated in its own
//! database and queue prefix, and cleans both up afterwards.

mod webhook_receiver;

pub use webhook_receiver::{Received, WebhookReceiver};

use anyhow::Context;
use docsync::fleet::{Fleet, Roles};
use docsync::Settings;
use docsync_domain::crypto::MasterKey;
use docsync_domain::AccountId;
use docsync_sandbox::{fixtures, Sandbox, SandboxConfig, TenantFixture};
use docsync_store::Permission;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long [`TestApp::cleanup`] waits for the test's fleet to stop.
const FLEET_STOP: Duration = Duration::from_secs(60);

/// The tests' HTTP client: no call waits for an answer longer than 60 s, so a stuck request
/// fails its test instead of hanging the suite.
pub fn test_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("the tests' HTTP client builds")
}

/// The base database URL tests derive their own databases from.
pub fn base_database_url() -> String {
    std::env::var("DOCSYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A running fleet with its sandbox and an account with an all-permissions token.
pub struct TestApp {
    /// `http://127.0.0.1:port` of the API.
    pub api: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The account's token with every permission.
    pub token: String,
    /// The account.
    pub account: AccountId,
    /// The provider emulators.
    pub sandbox: Sandbox,
    /// The settings the fleet runs with.
    pub settings: Settings,
    fleet: Option<Fleet>,
    roles: Roles,
    database: String,
    _sandbox_runtime: tokio::sync::oneshot::Sender<()>,
}

/// A tenant created through the API from a sandbox fixture.
#[derive(Debug, Clone)]
pub struct TestTenant {
    /// docsync's tenant id.
    pub id: String,
    /// The fixture behind it.
    pub fixture: TenantFixture,
}

/// Starts sandbox + API + collector + publisher for one test.
pub async fn spawn_app() -> TestApp {
    spawn_with(SandboxConfig::default()).await
}

/// Like [`spawn_app`] with a custom sandbox.
pub async fn spawn_with(sandbox_config: SandboxConfig) -> TestApp {
    spawn_roles(
        sandbox_config,
        Roles {
            api: true,
            collector: true,
            publisher: true,
            scheduler: false,
        },
    )
    .await
}

/// Like [`spawn_with`], running only `roles` in this process (the API is always started);
/// the others can run as child processes with [`TestApp::child_env`].
pub async fn spawn_roles(sandbox_config: SandboxConfig, roles: Roles) -> TestApp {
    try_spawn(sandbox_config, Roles { api: true, ..roles })
        .await
        .expect("the fleet could not start: are RabbitMQ and PostgreSQL running? (bash deploy/local/services.sh)")
}

/// Starts the sandbox on a runtime of its own thread, as a remote service would be: the
/// fleet's work never delays when the sandbox sees a request arrive (its rate limits count
/// arrivals). The runtime ends when the returned sender is dropped.
async fn start_sandbox(
    config: SandboxConfig,
) -> anyhow::Result<(Sandbox, tokio::sync::oneshot::Sender<()>)> {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("sandbox".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started_tx.send(Err(anyhow::Error::from(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let _ = started_tx.send(Sandbox::start(config).await);
                let _ = stop_rx.await;
            });
        })?;
    let sandbox = started_rx.await??;
    Ok((sandbox, stop_tx))
}

/// A test's settings: a database and queue prefix of its own, the sandbox as every provider.
fn test_settings(sandbox: &Sandbox) -> anyhow::Result<Settings> {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("docsync_test_{}", &unique[..12]);
    Ok(Settings {
        database_url: format!("{}/{database}", base_database_url()),
        amqp_url: std::env::var("DOCSYNC_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        api_addr: "127.0.0.1:0".parse()?,
        master_key: Some(MasterKey::generate_b64().into()),
        graph_url: sandbox.graph_url.clone(),
        login_url: sandbox.login_url.clone(),
        exchange_url: sandbox.exchange_url.clone(),
        allow_private_provider_urls: true,
        queue_prefix: format!("test-{}", &unique[..12]),
        publish_partitions: 2,
        itglue_hosts: docsync_sinks::ItGlueHosts {
            us: sandbox.itglue_us_url.clone(),
            eu: sandbox.itglue_eu_url.clone(),
            au: sandbox.itglue_au_url.clone(),
        },
        autotask_zone_url: sandbox.autotask_zone_discovery_url(),
        // Every test fleet serves its own metrics on a port of its own.
        metrics_addr: Some("127.0.0.1:0".parse()?),
        snapshot_reuse: Duration::from_secs(120),
        retry_delays: vec![Duration::from_secs(1), Duration::from_secs(2)],
        stalled_after: Duration::from_secs(2400),
        delivery_limit: 20,
        startup_wait: Duration::from_secs(30),
        // A receiver that refuses is tried again within a second.
        webhook_retry_delays: vec![Duration::from_millis(300), Duration::from_millis(600)],
        // Tests poll runs every 100 ms; the limit's own tests start an API with a low one.
        api_rate_limit: 100_000,
        // Tests send many requests without tokens on purpose; the limit's own test lowers it.
        api_unknown_token_limit: 100_000,
        api_forwarded_hops: 0,
        change_poll: Duration::from_secs(300),
    })
}

/// Like [`spawn_roles`], with the test's settings changed by `adjust` first (a short
/// `change_poll`, say).
pub async fn spawn_adjusted(
    sandbox_config: SandboxConfig,
    roles: Roles,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    try_spawn_adjusted(sandbox_config, Roles { api: true, ..roles }, adjust)
        .await
        .expect("the fleet could not start: are RabbitMQ and PostgreSQL running? (bash deploy/local/services.sh)")
}

async fn try_spawn(sandbox_config: SandboxConfig, roles: Roles) -> anyhow::Result<TestApp> {
    try_spawn_adjusted(sandbox_config, roles, |_| {}).await
}

async fn try_spawn_adjusted(
    sandbox_config: SandboxConfig,
    roles: Roles,
    adjust: impl FnOnce(&mut Settings),
) -> anyhow::Result<TestApp> {
    let (sandbox, sandbox_runtime) = start_sandbox(sandbox_config).await?;
    let mut settings = test_settings(&sandbox)?;
    adjust(&mut settings);
    let database = settings
        .database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let fleet = Fleet::start(&settings, roles).await?;
    let api = format!("http://{}", fleet.api_addr.context("api did not start")?);
    let account = fleet.store.create_account("Test MSP").await?;
    let token = docsync::admin::create_token(&fleet.store, account, &Permission::ALL).await?;
    Ok(TestApp {
        api,
        http: test_http_client(),
        token,
        account,
        sandbox,
        settings,
        fleet: Some(fleet),
        roles,
        database,
        _sandbox_runtime: sandbox_runtime,
    })
}

impl TestApp {
    /// The environment a `docsync` child process needs to join this test's fleet.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let seconds = |d: &Duration| d.as_secs_f64().to_string();
        vec![
            ("DOCSYNC_DATABASE_URL".into(), s.database_url.clone()),
            ("DOCSYNC_AMQP_URL".into(), s.amqp_url.clone()),
            (
                "DOCSYNC_MASTER_KEY".into(),
                s.master_key
                    .as_ref()
                    .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
                    .unwrap_or_default(),
            ),
            ("DOCSYNC_GRAPH_URL".into(), s.graph_url.clone()),
            ("DOCSYNC_LOGIN_URL".into(), s.login_url.clone()),
            ("DOCSYNC_EXCHANGE_URL".into(), s.exchange_url.clone()),
            ("DOCSYNC_ITGLUE_URL_US".into(), s.itglue_hosts.us.clone()),
            ("DOCSYNC_ITGLUE_URL_EU".into(), s.itglue_hosts.eu.clone()),
            ("DOCSYNC_ITGLUE_URL_AU".into(), s.itglue_hosts.au.clone()),
            (
                "DOCSYNC_AUTOTASK_ZONE_URL".into(),
                s.autotask_zone_url.clone(),
            ),
            ("DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS".into(), "true".into()),
            ("DOCSYNC_QUEUE_PREFIX".into(), s.queue_prefix.clone()),
            ("DOCSYNC_METRICS_ADDR".into(), "127.0.0.1:0".into()),
            (
                "DOCSYNC_PUBLISH_PARTITIONS".into(),
                s.publish_partitions.to_string(),
            ),
            (
                "DOCSYNC_RETRY_DELAYS".into(),
                s.retry_delays
                    .iter()
                    .map(seconds)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "DOCSYNC_WEBHOOK_RETRY_DELAYS".into(),
                s.webhook_retry_delays
                    .iter()
                    .map(seconds)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "DOCSYNC_API_RATE_LIMIT".into(),
                s.api_rate_limit.to_string(),
            ),
            (
                "DOCSYNC_API_UNKNOWN_TOKEN_LIMIT".into(),
                s.api_unknown_token_limit.to_string(),
            ),
            (
                "DOCSYNC_CHANGE_POLL_SECS".into(),
                s.change_poll.as_secs().max(1).to_string(),
            ),
            (
                "DOCSYNC_DELIVERY_LIMIT".into(),
                s.delivery_limit.to_string(),
            ),
            ("RUST_LOG".into(), "warn".into()),
        ]
    }

    /// The fleet's store.
    pub fn store(&self) -> &docsync_store::Store {
        &self.fleet.as_ref().expect("fleet running").store
    }

    /// The fleet's broker connection.
    pub fn broker(&self) -> &docsync_queue::Broker {
        &self.fleet.as_ref().expect("fleet running").broker
    }

    /// A new token of this account with `permissions`.
    pub async fn token_with(&self, permissions: &[Permission]) -> String {
        docsync::admin::create_token(self.store(), self.account, permissions)
            .await
            .expect("token")
    }

    /// A token of a second, separate account with every permission.
    pub async fn other_account_token(&self) -> String {
        let other = self
            .store()
            .create_account("Other MSP")
            .await
            .expect("account");
        docsync::admin::create_token(self.store(), other, &Permission::ALL)
            .await
            .expect("token")
    }

    /// Calls the API with `token` (None: no Authorization header).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.api));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("api reachable");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Calls the API with the all-permissions token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(&self.token.clone()), method, path, body)
            .await
    }

    /// Sets the Microsoft connection to the sandbox's app.
    pub async fn connect_microsoft(&self) {
        let d = SandboxConfig::default();
        let (status, body) = self
            .call(
                Method::PUT,
                "/connections/microsoft",
                Some(json!({"clientId": d.graph_client_id, "clientSecret": d.graph_client_secret})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Creates tenants from sandbox fixtures `indices`.
    pub async fn create_tenants(&self, indices: &[usize]) -> Vec<TestTenant> {
        let mut out = Vec::new();
        for &i in indices {
            let f = fixtures::tenant(i);
            let (status, body) = self
                .call(
                    Method::POST,
                    "/tenants",
                    Some(json!({"name": f.display_name, "primaryDomain": f.default_domain(), "microsoftTenantId": f.microsoft_tenant_id})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            out.push(TestTenant {
                id: body["id"].as_str().expect("id").to_owned(),
                fixture: f,
            });
        }
        out
    }

    /// The Hudu company a fixture tenant is mapped to in these tests.
    pub fn company_of(t: &TestTenant) -> u64 {
        t.fixture.index as u64 + 1
    }

    /// Configures Hudu with the sandbox's write key, mapping `tenants` to their companies.
    pub async fn configure_hudu(&self, tenants: &[TestTenant]) {
        self.configure_hudu_with(tenants, None).await;
    }

    /// Like [`TestApp::configure_hudu`] with an optional `schedule`; returns the config view.
    pub async fn configure_hudu_with(
        &self,
        tenants: &[TestTenant],
        schedule: Option<Value>,
    ) -> Value {
        let mapping: serde_json::Map<String, Value> = tenants
            .iter()
            .map(|t| (t.id.clone(), json!(Self::company_of(t))))
            .collect();
        let mut body = json!({"baseUrl": self.sandbox.hudu_url, "apiKey": hudu_write_key(), "companyIdByTenantId": mapping});
        if let Some(s) = schedule {
            body["schedule"] = s;
        }
        let (status, view) = self
            .call(Method::PUT, "/integrations/hudu", Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    }

    /// Microsoft connection + tenants + Hudu mapping for all of them.
    pub async fn setup_hudu(&self, indices: &[usize]) -> Vec<TestTenant> {
        self.connect_microsoft().await;
        let tenants = self.create_tenants(indices).await;
        self.configure_hudu(&tenants).await;
        tenants
    }

    /// `http://addr` of this fleet's `/metrics`, `/health` and `/ready` listener.
    pub fn metrics_url(&self) -> String {
        let addr = self
            .fleet
            .as_ref()
            .and_then(|f| f.metrics_addr)
            .expect("the test fleet serves metrics");
        format!("http://{addr}")
    }

    /// The Prometheus text of this fleet's `/metrics`.
    pub async fn scrape(&self) -> String {
        let answer = self
            .http
            .get(format!("{}/metrics", self.metrics_url()))
            .send()
            .await
            .expect("GET /metrics");
        assert!(
            answer.status().is_success(),
            "GET /metrics: {}",
            answer.status()
        );
        answer.text().await.expect("the metrics text")
    }

    /// Configures IT Glue in `region` with `key`, mapping `tenants` to organizations
    /// (fixture index + 1), with an optional `rateLimit`; returns the config view.
    pub async fn configure_itglue(
        &self,
        tenants: &[TestTenant],
        region: &str,
        key: &str,
        rate_limit: Option<Value>,
    ) -> Value {
        let mapping: serde_json::Map<String, Value> = tenants
            .iter()
            .map(|t| (t.id.clone(), json!(Self::company_of(t))))
            .collect();
        let mut body =
            json!({"apiKey": key, "region": region, "organizationIdByTenantId": mapping});
        if let Some(r) = rate_limit {
            body["rateLimit"] = r;
        }
        let (status, view) = self
            .call(Method::PUT, "/integrations/it-glue", Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    }

    /// Microsoft connection + tenants + IT Glue (us region, the sandbox's us key) for all.
    pub async fn setup_itglue(&self, indices: &[usize]) -> Vec<TestTenant> {
        self.connect_microsoft().await;
        let tenants = self.create_tenants(indices).await;
        self.configure_itglue(&tenants, "us", &itglue_us_key(), None)
            .await;
        tenants
    }

    /// Push now for one tenant to Hudu; returns the run id.
    pub async fn push(&self, tenant: &TestTenant) -> String {
        self.push_to("hudu", tenant).await
    }

    /// Push now for one tenant to `provider` (`hudu`, `it-glue`); returns the run id.
    pub async fn push_to(&self, provider: &str, tenant: &TestTenant) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/integrations/{provider}/push/{}", tenant.id),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["runId"].as_str().expect("runId").to_owned()
    }

    /// push-all to `provider`; returns the run ids.
    pub async fn push_all(&self, provider: &str) -> Vec<String> {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/integrations/{provider}/push-all"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["runIds"]
            .as_array()
            .expect("runIds")
            .iter()
            .map(|v| v.as_str().expect("run id").to_owned())
            .collect()
    }

    /// Waits until every run is finished (within `limit`); returns them.
    pub async fn wait_for_runs(&self, run_ids: &[String], limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let mut done = Vec::new();
        for id in run_ids {
            loop {
                let (status, body) = self.call(Method::GET, &format!("/runs/{id}"), None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                if body["state"] == "succeeded" || body["state"] == "failed" {
                    done.push(body);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "run {id} did not finish in {limit:?}: {body}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        done
    }

    /// Starts more roles in this process as a separate fleet member (own connections,
    /// pacer and caches), like another process would.
    pub async fn start_member(&self, roles: Roles) -> Fleet {
        Fleet::start(&self.settings, roles)
            .await
            .expect("fleet member starts")
    }

    /// Waits until the run is succeeded or failed (60 s at most) and returns it.
    pub async fn wait_for_run(&self, run_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self
                .call(Method::GET, &format!("/runs/{run_id}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["state"] == "succeeded" || body["state"] == "failed" {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} did not finish: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Articles in the sandbox's company `company_id`.
    pub fn articles_in(&self, company_id: u64) -> Vec<docsync_sandbox::HuduArticle> {
        self.sandbox
            .hudu_articles()
            .into_iter()
            .filter(|a| a.company_id == company_id)
            .collect()
    }

    /// Stops this process's fleet (every role it runs, their connections and tasks) and
    /// starts it again on the same database and queues, as a restart of the process would;
    /// the API listens on a new port ([`TestApp::api`] follows it).
    pub async fn restart(&mut self) {
        if let Some(fleet) = self.fleet.take() {
            fleet.stop().await;
        }
        let fleet = Fleet::start(&self.settings, self.roles)
            .await
            .expect("the fleet starts again");
        self.api = format!("http://{}", fleet.api_addr.expect("the API listens"));
        self.fleet = Some(fleet);
    }

    /// Stops the fleet, deletes the test's queues and drops its database.
    pub async fn cleanup(mut self) {
        if let Some(fleet) = self.fleet.take() {
            let _ = fleet.broker.delete_topology().await;
            // The test's assertions are behind it: a fleet that does not stop is reported, not
            // waited for without end (its tasks are dropped with the runtime).
            if tokio::time::timeout(FLEET_STOP, fleet.stop())
                .await
                .is_err()
            {
                eprintln!(
                    "cleanup: the test's fleet did not stop within {FLEET_STOP:?}; going on without it"
                );
            }
        }
        self.sandbox.shutdown();
        if let Ok((client, conn)) = tokio_postgres::connect(
            &format!("{}/postgres", base_database_url()),
            tokio_postgres::NoTls,
        )
        .await
        {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.database
                ))
                .await;
        }
    }
}

/// The sandbox's IT Glue key of the us region.
pub fn itglue_us_key() -> String {
    itglue_key_of(docsync_sandbox::ItGlueRegion::Us)
}

/// The sandbox's IT Glue key of the au region.
pub fn itglue_au_key() -> String {
    itglue_key_of(docsync_sandbox::ItGlueRegion::Au)
}

fn itglue_key_of(region: docsync_sandbox::ItGlueRegion) -> String {
    SandboxConfig::default()
        .itglue_keys
        .into_iter()
        .find(|k| k.region == region)
        .map(|k| k.key)
        .expect("sandbox IT Glue key")
}

/// The sandbox's Hudu key with write access.
pub fn hudu_write_key() -> String {
    key_of(docsync_sandbox::KeyScope::ReadWrite)
}

/// The sandbox's read-only Hudu key.
pub fn hudu_read_only_key() -> String {
    key_of(docsync_sandbox::KeyScope::ReadOnly)
}

fn key_of(scope: docsync_sandbox::KeyScope) -> String {
    SandboxConfig::default()
        .hudu_keys
        .into_iter()
        .find(|(_, s)| *s == scope)
        .map(|(k, _)| k)
        .expect("sandbox key")
}

/// A number as the Hudu article renders it (`87.3`, `100`).
pub fn shown(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{}", value as i64)
    } else {
        format!("{value:.1}")
    }
}

/// A test's sandbox and (created, empty) database before any fleet runs on it, for tests
/// that shape the database first, e.g. as an older release left it (an upgrade), and then
/// start the fleet on it with [`StagedApp::start`].
pub struct StagedApp {
    /// The provider emulators.
    pub sandbox: Sandbox,
    /// The settings the fleet will run with: this test's own database and queue prefix.
    pub settings: Settings,
    database: String,
    sandbox_runtime: tokio::sync::oneshot::Sender<()>,
}

/// Starts the sandbox and creates this test's database (no migration applied) without
/// starting the fleet; see [`StagedApp`].
pub async fn stage_with(sandbox_config: SandboxConfig) -> StagedApp {
    try_stage(sandbox_config).await.expect(
        "the test could not be staged: is PostgreSQL running? (bash deploy/local/services.sh)",
    )
}

async fn try_stage(sandbox_config: SandboxConfig) -> anyhow::Result<StagedApp> {
    let (sandbox, sandbox_runtime) = start_sandbox(sandbox_config).await?;
    // The same naming and settings as `try_spawn`, so the fleet started later is the usual one.
    let settings = test_settings(&sandbox)?;
    let database = settings
        .database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    docsync_store::ensure_database(&settings.database_url).await?;
    Ok(StagedApp {
        sandbox,
        settings,
        database,
        sandbox_runtime,
    })
}

impl StagedApp {
    /// The master key the fleet will seal and open secrets with.
    pub fn master_key(&self) -> MasterKey {
        self.settings
            .master_key()
            .expect("the staged master key parses")
    }

    /// Stops the sandbox and drops the staged database without ever starting the fleet.
    pub async fn discard(self) {
        self.sandbox.shutdown();
        drop_test_database(&self.database).await;
    }

    /// Starts API + collector + publisher on the staged database (migrating it to the latest
    /// schema, as a deployment of this release does) with an all-permissions token for
    /// `account`, which must already exist there.
    pub async fn start(self, account: AccountId) -> TestApp {
        let roles = Roles {
            api: true,
            collector: true,
            publisher: true,
            scheduler: false,
        };
        let fleet = Fleet::start(&self.settings, roles)
            .await
            .expect("the fleet could not start on the staged database");
        let api = format!("http://{}", fleet.api_addr.expect("api started"));
        let token = docsync::admin::create_token(&fleet.store, account, &Permission::ALL)
            .await
            .expect("token for the staged account");
        TestApp {
            api,
            http: test_http_client(),
            token,
            account,
            sandbox: self.sandbox,
            settings: self.settings,
            fleet: Some(fleet),
            roles,
            database: self.database,
            _sandbox_runtime: self.sandbox_runtime,
        }
    }
}

/// Drops a test's database, whoever is still connected to it (best effort).
async fn drop_test_database(database: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(
        &format!("{}/postgres", base_database_url()),
        tokio_postgres::NoTls,
    )
    .await
    {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
            ))
            .await;
    }
}

/// When the run's first event whose detail starts with `prefix` happened (panics naming the
/// run when there is none).
pub fn event_at(run: &serde_json::Value, prefix: &str) -> chrono::DateTime<chrono::Utc> {
    run["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["detail"].as_str().is_some_and(|d| d.starts_with(prefix)))
        .and_then(|e| e["at"].as_str())
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("no event of the run starts with {prefix:?}: {run}"))
}

/// `PUT /integrations/hudu` for the sandbox's Hudu with its write key and a budget of
/// `per_second` requests a second, answered 200.
pub async fn configure_hudu(app: &TestApp, per_second: u32) {
    let (status, view) = app
        .call(
            reqwest::Method::PUT,
            "/integrations/hudu",
            Some(
                serde_json::json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(),
                                    "companyIdByTenantId": {},
                                    "rateLimit": {"requests": per_second, "perSeconds": 1}}),
            ),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{view}");
}
