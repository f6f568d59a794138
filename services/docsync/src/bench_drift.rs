//! `docsync bench drift`: how long documentation lags a tenant change with `schedule.onChange`
//! on. The whole fleet runs in this process against the in-process sandbox (its own database
//! and queue prefix, removed afterwards); each sample adds a Conditional Access policy to the
//! sandbox tenant at a random moment of the poll cycle and times the change until the Hudu
//! article shows the policy, split into the wait for the next poll and the push after it.

use crate::bench::record;
use crate::fleet::{Fleet, Roles};
use crate::harness::Scratch;
use crate::settings::Settings;
use anyhow::Context;
use docsync_sandbox::{fixtures, Sandbox, SandboxConfig, TenantChange};
use docsync_store::Permission;
use rand::Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct DriftBenchOptions {
    /// Changes timed.
    pub samples: usize,
    /// The poll interval the fleet runs with (`DOCSYNC_CHANGE_POLL_SECS`).
    pub poll_secs: u64,
}

/// The fixture whose tenant is changed.
const FIXTURE: usize = 3;

/// Runs the benchmark, prints the figures and records them in docs/benchmarks.md.
pub async fn drift(settings: Settings, options: DriftBenchOptions) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let mut scratch = Scratch::new(&settings, &sandbox, "drift")?;
    scratch.settings.change_poll = Duration::from_secs(options.poll_secs.max(1));
    scratch.settings.metrics_addr = None;
    let result = measure(&scratch, &sandbox, options).await;
    scratch.clean_up(&scratch.settings.retry_delays).await;
    let (total, after_poll) = result?;
    // With the default poll a change waits 0 to 300 s (150 s on average) for the next poll
    // (the watch sleeps until the tenant is due, so no wake-up adds to it), then the push
    // takes what it took here.
    let default_median = 150.0 + quantile(&after_poll, 0.5);
    let default_worst = 300.0 + quantile(&after_poll, 1.0);
    let line = format!(
        "| drift, change -> Hudu article, poll every {} s | {} changes | median {:.1} s, p95 {:.1} s, max {:.1} s | push after the poll: median {:.1} s, max {:.1} s | default 300 s poll: median about {:.0} s, at most about {:.0} s | target < 5 min: {} |",
        options.poll_secs,
        total.len(),
        quantile(&total, 0.5),
        quantile(&total, 0.95),
        quantile(&total, 1.0),
        quantile(&after_poll, 0.5),
        quantile(&after_poll, 1.0),
        default_median,
        default_worst,
        if default_worst < 300.0 {
            "met"
        } else if default_median < 300.0 {
            "met on median, not in the worst case (a whole poll interval plus the push)"
        } else {
            "MISSED"
        },
    );
    println!("{line}");
    record("drift", &line)
}

async fn measure(
    scratch: &Scratch,
    sandbox: &Sandbox,
    options: DriftBenchOptions,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let fleet = Fleet::start(&scratch.settings, Roles::all()).await?;
    let outcome = async {
        let api = format!("http://{}", fleet.api_addr.context("the API did not start")?);
        let account = fleet.store.create_account("Drift benchmark").await?;
        let token = crate::admin::create_token(&fleet.store, account, &Permission::ALL).await?;
        let http = reqwest::Client::new();
        let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
            let mut req = http.request(method, format!("{api}{path}")).bearer_auth(&token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send()
        };
        let config = SandboxConfig::default();
        call(
            reqwest::Method::PUT,
            "/connections/microsoft",
            Some(json!({"clientId": config.graph_client_id, "clientSecret": config.graph_client_secret})),
        )
        .await?
        .error_for_status()?;
        let fixture = fixtures::tenant(FIXTURE);
        let tenant: Value = call(
            reqwest::Method::POST,
            "/tenants",
            Some(json!({"name": fixture.display_name, "primaryDomain": fixture.default_domain(),
                        "microsoftTenantId": fixture.microsoft_tenant_id})),
        )
        .await?
        .error_for_status()?
        .json()
        .await?;
        let tenant_id = tenant["id"].as_str().context("tenant id")?.to_owned();
        let company = FIXTURE as u64 + 1;
        let key = config
            .hudu_keys
            .first()
            .map(|(k, _)| k.clone())
            .context("a Hudu key")?;
        call(
            reqwest::Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": sandbox.hudu_url, "apiKey": key,
                        "companyIdByTenantId": {tenant_id.clone(): company},
                        "schedule": {"mode": "manual", "onChange": true}})),
        )
        .await?
        .error_for_status()?;
        // The first push writes the article; the first poll sets the cursor meanwhile.
        call(
            reqwest::Method::POST,
            &format!("/integrations/hudu/push/{tenant_id}"),
            None,
        )
        .await?
        .error_for_status()?;
        let has = |name: &str| {
            sandbox
                .hudu_articles()
                .iter()
                .any(|a| a.company_id == company && a.content.contains(name))
        };
        let fixture_name = fixture.display_name.clone();
        wait_until(Duration::from_secs(60), || has(&fixture_name)).await?;
        tokio::time::sleep(scratch.settings.change_poll * 2).await;

        let mut total = Vec::new();
        let mut after_poll = Vec::new();
        for i in 0..options.samples {
            let pause = rand::rng().random_range(0.0..scratch.settings.change_poll.as_secs_f64());
            tokio::time::sleep(Duration::from_secs_f64(pause)).await;
            let name = format!("Drift benchmark policy {i}");
            let changed_at = chrono::Utc::now();
            let started = Instant::now();
            sandbox
                .change_tenant(
                    FIXTURE,
                    &TenantChange::AddConditionalAccessPolicy {
                        display_name: name.clone(),
                    },
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            wait_until(
                scratch.settings.change_poll + Duration::from_secs(120),
                || has(&name),
            )
            .await?;
            let took = started.elapsed().as_secs_f64();
            let runs: Value = call(
                reqwest::Method::GET,
                "/integrations/hudu/runs?limit=1",
                None,
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
            let created = runs["runs"][0]["createdAt"]
                .as_str()
                .and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok())
                .context("the change run's createdAt")?;
            let detected = (created - changed_at).num_milliseconds() as f64 / 1000.0;
            total.push(took);
            after_poll.push((took - detected).max(0.0));
            println!(
                "change {i}: {took:.2} s (next poll after {detected:.2} s, then the push {:.2} s)",
                (took - detected).max(0.0)
            );
        }
        anyhow::Ok((total, after_poll))
    }
    .await;
    fleet.stop().await;
    outcome
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "not done within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The `q` quantile (nearest rank) of `values`; 0 for none.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
