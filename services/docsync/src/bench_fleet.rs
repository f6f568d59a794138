//! `docsync bench fleet`: the fleet's push throughput against the sandbox's strict IT Glue
//! limit (10 requests in any second per key), measured from outside the fleet.
//!
//! The fleet runs as child processes of this one (`docsync api`, `collector`, `publisher`),
//! so their CPU time and memory are theirs alone; the sandbox and the driver run here. The
//! posture snapshots are collected here first (Graph collection is measured on its own line)
//! and the collector reuses them, and the flexible assets exist already, as they do for every
//! nightly push after the first: the measured rounds are the steady state of the publish path.
//! A separate round on a fresh key measures the first push (type and asset created).
//!
//! The sandbox's providers answer with realistic latency while the fleet is measured (on by
//! default, `--no-latency` to switch it off): every Graph, Entra, Exchange and IT Glue answer
//! takes a lognormal time (median 250 ms, p99 1.5 s) and every request 0-50 ms of transit
//! before the provider counts it. Push-now latency is measured twice: on tenants whose
//! snapshot is reused (the publish path alone) and on tenants never collected (a fresh Graph
//! collection, then the write). CPU is reported per push for the fleet's processes, for the
//! PostgreSQL backends serving this benchmark's own database, and for the RabbitMQ broker.

use crate::bench::record;
use crate::settings::Settings;
use crate::{fleet, harness};
use anyhow::Context;
use docsync_domain::crypto::MasterKey;
use docsync_domain::{AccountId, ApiKey, Provider, Snapshot, TenantId};
use docsync_queue::{Broker, QueueConfig};
use docsync_sandbox::{
    fixtures, itglue_key, realistic_latency, FaultProvider, Faults, ItGlueRegion, Sandbox,
    SandboxConfig,
};
use docsync_sinks::{html, itglue};
use docsync_sources::{GraphSource, GraphSourceConfig, MicrosoftCredentials, TenantRef};
use docsync_store::{IntegrationUpsert, NewTenant, Permission, RemoteDocument, Store};
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// What to measure.
#[derive(Debug, Clone)]
pub struct FleetBenchOptions {
    /// Tenants on the one key of scenario (a).
    pub single_key_tenants: usize,
    /// Keys of scenario (b).
    pub keys: usize,
    /// Tenants per key in scenario (b).
    pub tenants_per_key: usize,
    /// Tenants on the fresh key of scenario (c).
    pub fresh_key_tenants: usize,
    /// Rounds of scenario (b) (the median is reported); (a) runs once.
    pub runs: usize,
    /// Push-now calls timed on the idle fleet.
    pub latency_samples: usize,
    /// Publish messages queued for the memory measurement.
    pub queued: usize,
    /// The sandbox's realistic latency while the fleet is measured.
    pub latency: bool,
}

/// IT Glue's budget per key in the sandbox (requests per second).
const BUDGET_PER_SECOND: f64 = 10.0;

/// One account with one IT Glue key and its tenants.
struct BenchAccount {
    id: AccountId,
    token: String,
    key: String,
    tenants: Vec<(TenantId, usize)>,
}

/// The fleet's child processes.
struct Children {
    api: Child,
    collector: Child,
    publisher: Option<Child>,
    /// The first publisher's `/metrics`, read for its pacing counters.
    publisher_metrics: String,
}

impl Children {
    fn pids(&self) -> Vec<u32> {
        [
            Some(&self.api),
            Some(&self.collector),
            self.publisher.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(Child::id)
        .collect()
    }
}

/// CPU seconds (user + system) a process has used, from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is
    // 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/<pid>/status` figure in MiB (`VmRSS`, `VmHWM`).
fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `(busy, total)` CPU ticks of the whole machine, from `/proc/stat`.
fn machine_ticks() -> (f64, f64) {
    let Some(line) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
    else {
        return (0.0, 0.0);
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().sum();
    // idle and iowait are the 4th and 5th columns.
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// CPU seconds used so far by every process whose command is `name` (`postgres`, `beam.smp`).
fn cpu_of_command(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .map(cpu_seconds)
        .sum()
}

fn total_cpu(children: &Children) -> f64 {
    children.pids().into_iter().map(cpu_seconds).sum()
}

/// The median of `values` (0 when empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 50.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs the benchmark; returns the lines it recorded.
pub async fn fleet(settings: Settings, options: FleetBenchOptions) -> anyhow::Result<Vec<String>> {
    let fixtures_needed = fixtures_needed(&options);
    let sandbox = Sandbox::start(SandboxConfig {
        tenants: fixtures_needed,
        itglue_organizations: fixtures_needed,
        itglue_generated_keys: options.keys + 3,
        ..SandboxConfig::default()
    })
    .await?;
    let scratch = harness::Scratch::new(&settings, &sandbox, "bench")?;
    let bench = &scratch.settings;
    let store = fleet::connect_store(bench).await?;
    let result = run(bench, &store, &sandbox, &options).await;
    // Leave nothing behind: queues and the benchmark's database.
    drop(store);
    scratch.clean_up(&bench.retry_delays).await;
    sandbox.shutdown();
    let lines = result?;
    for line in &lines {
        println!("{line}");
        record("fleet", line)?;
    }
    Ok(lines)
}

async fn run(
    settings: &Settings,
    store: &Store,
    sandbox: &Sandbox,
    options: &FleetBenchOptions,
) -> anyhow::Result<Vec<String>> {
    let master = settings.master_key()?;
    let mut lines = Vec::new();

    // Accounts: (a) one key with many tenants, (b) many keys with a few, (c) a fresh key.
    let started = Instant::now();
    let single =
        create_account(store, &master, "Single key", 0, options.single_key_tenants).await?;
    let mut many = Vec::new();
    for k in 0..options.keys {
        many.push(
            create_account(
                store,
                &master,
                &format!("Key {k}"),
                k + 1,
                options.tenants_per_key,
            )
            .await?,
        );
    }
    let fresh = create_account(
        store,
        &master,
        "First push",
        options.keys + 1,
        options.fresh_key_tenants,
    )
    .await?;
    // Push-now on tenants never collected: their snapshots are collected when pushed.
    let uncollected = create_account(
        store,
        &master,
        "Push-now, fresh collection",
        options.keys + 2,
        options.latency_samples.min(fixtures_needed(options)),
    )
    .await?;
    println!(
        "set up {} accounts in {:.1} s",
        options.keys + 3,
        started.elapsed().as_secs_f64()
    );

    // Snapshots, collected here from the sandbox's Graph, one per docsync tenant.
    let started = Instant::now();
    let snapshots = collect(settings, fixtures_needed(options)).await?;
    let collect_secs = started.elapsed().as_secs_f64();
    lines.push(format!(
        "| Graph collection in the benchmark process | {} tenants | {collect_secs:.1} s | {:.1} tenants/s |",
        snapshots.len(),
        snapshots.len() as f64 / collect_secs
    ));
    for account in std::iter::once(&single)
        .chain(&many)
        .chain(std::iter::once(&fresh))
    {
        for (tenant, index) in &account.tenants {
            let mut snapshot = snapshots[*index].clone();
            snapshot.tenant_id = *tenant;
            store.insert_snapshot(account.id, &snapshot).await?;
        }
    }
    // The assets of (a) and (b) exist, as after a first push; (c) starts empty.
    for account in std::iter::once(&single).chain(&many) {
        seed_assets(store, sandbox, account, &snapshots).await?;
    }

    let conditions = if options.latency {
        sandbox.set_faults(Faults {
            rules: realistic_latency(&[
                FaultProvider::Graph,
                FaultProvider::Login,
                FaultProvider::Exchange,
                FaultProvider::ItGlue,
            ]),
            ..Faults::default()
        });
        LATENCY_ON
    } else {
        LATENCY_OFF
    };
    let database = BenchDatabase::connect(settings).await?;
    let mut children = spawn_fleet(settings).await?;
    let http = reqwest::Client::new();
    let api = format!("http://{}", settings.api_addr);
    harness::wait_for_api(&http, &api, Duration::from_secs(60)).await?;
    let outcome = async {
        let round = Round {
            store,
            sandbox,
            children: &children,
            database: &database,
            http: &http,
            api: &api,
            conditions,
        };
        // (a) one key, many tenants.
        let line = push_round(&round, std::slice::from_ref(&single), "(a) one IT Glue key").await?;
        lines.push(line);
        // (b) many keys side by side, several rounds.
        let mut rounds = Vec::new();
        for _ in 0..options.runs.max(1) {
            rounds.push(
                push_round(&round, &many, &format!("(b) {} IT Glue keys", many.len())).await?,
            );
        }
        lines.extend(rounds);
        // (c) the first push on a fresh key: the type and every asset are created.
        let line = push_round(
            &round,
            std::slice::from_ref(&fresh),
            &format!("(c) first push, fresh key, {} tenants", fresh.tenants.len()),
        )
        .await?;
        lines.push(line);
        // Push-now latency on the idle fleet: snapshot reused, then collected afresh.
        if let Some(account) = many.first() {
            lines.push(
                latency(
                    &round,
                    account,
                    options.latency_samples,
                    PushNow::SnapshotReused,
                )
                .await?,
            );
        }
        lines.push(
            latency(
                &round,
                &uncollected,
                uncollected.tenants.len(),
                PushNow::FreshCollection,
            )
            .await?,
        );
        // A publisher's memory with messages queued.
        lines.push(
            memory(
                settings,
                &mut children,
                &http,
                &api,
                &single,
                options.queued,
            )
            .await?,
        );
        Ok::<(), anyhow::Error>(())
    }
    .await;
    database.close();
    stop_children(&mut children).await;
    outcome?;
    Ok(lines)
}

fn fixtures_needed(options: &FleetBenchOptions) -> usize {
    options
        .single_key_tenants
        .max(options.tenants_per_key)
        .max(options.fresh_key_tenants)
        .max(1)
}

async fn create_account(
    store: &Store,
    master: &MasterKey,
    name: &str,
    key_number: usize,
    tenants: usize,
) -> anyhow::Result<BenchAccount> {
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
    let mut list = Vec::with_capacity(tenants);
    for i in 0..tenants {
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
        list.push((tenant.id, i));
    }
    let key = itglue_key(ItGlueRegion::Us, key_number);
    store
        .upsert_integration(
            id,
            Provider::ItGlue,
            &IntegrationUpsert {
                base_url: None,
                region: Some("us".into()),
                api_key_sealed: master.seal(
                    &key,
                    &docsync_domain::crypto::Binding::integration_api_key(id, Provider::ItGlue),
                ),
                schedule: serde_json::json!({"mode": "manual"}),
                rate_limit: None,
                options: Default::default(),
                mappings: list.iter().map(|(t, i)| (*t, *i as i64 + 1)).collect(),
            },
        )
        .await?;
    Ok(BenchAccount {
        id,
        token,
        key,
        tenants: list,
    })
}

async fn collect(settings: &Settings, count: usize) -> anyhow::Result<Vec<Snapshot>> {
    let source = GraphSource::new(GraphSourceConfig {
        graph_url: settings.graph_url.clone(),
        login_url: settings.login_url.clone(),
        exchange_url: settings.exchange_url.clone(),
        ..GraphSourceConfig::microsoft_defaults()
    })?;
    let defaults = SandboxConfig::default();
    let credentials = MicrosoftCredentials {
        client_id: defaults.graph_client_id.clone(),
        client_secret: ApiKey::parse("clientSecret", &defaults.graph_client_secret)
            .map_err(anyhow::Error::msg)?,
    };
    let results: Vec<anyhow::Result<(usize, Snapshot)>> = futures::stream::iter(0..count)
        .map(|i| {
            let (source, credentials) = (&source, &credentials);
            async move {
                let tenant = TenantRef {
                    tenant_id: TenantId(uuid::Uuid::new_v4()),
                    name: fixtures::display_name(i),
                    microsoft_tenant_id: fixtures::microsoft_tenant_id(i),
                };
                let snapshot = source
                    .collect(credentials, &tenant)
                    .await
                    .map_err(|e| anyhow::anyhow!("collecting fixture {i}: {e}"))?;
                Ok((i, snapshot))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut snapshots: Vec<Option<Snapshot>> = vec![None; count];
    for r in results {
        let (i, s) = r?;
        snapshots[i] = Some(s);
    }
    snapshots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.with_context(|| format!("fixture {i} was not collected")))
        .collect()
}

async fn seed_assets(
    store: &Store,
    sandbox: &Sandbox,
    account: &BenchAccount,
    snapshots: &[Snapshot],
) -> anyhow::Result<()> {
    let asset_type =
        sandbox.create_itglue_asset_type(&account.key, &itglue::asset_type_document())?;
    for (tenant, index) in &account.tenants {
        let mut snapshot = snapshots[*index].clone();
        snapshot.tenant_name = fixtures::display_name(*index);
        let sections = html::render_sections(&snapshot, chrono::Utc::now());
        let organization = *index as u64 + 1;
        let id = sandbox.create_itglue_asset(
            &account.key,
            organization,
            asset_type.id,
            itglue::traits(&snapshot, &sections),
        )?;
        store
            .record_remote_document(
                account.id,
                Provider::ItGlue,
                *tenant,
                &RemoteDocument {
                    remote_id: id.to_string(),
                    remote_parent_id: organization as i64,
                    title: snapshot.tenant_name.clone(),
                    fingerprint: None,
                },
            )
            .await?;
    }
    Ok(())
}

/// `docsync <role>` for the benchmark: snapshots reused for the whole run, errors only.
fn fleet_command(settings: &Settings, role: &str) -> anyhow::Result<Command> {
    harness::role_command(
        settings,
        role,
        &[
            ("DOCSYNC_SNAPSHOT_REUSE_SECS", "86400".to_owned()),
            ("RUST_LOG", "error".to_owned()),
        ],
        None,
    )
}

async fn spawn_fleet(settings: &Settings) -> anyhow::Result<Children> {
    // The publisher's operations listener, for its pacing counters.
    let metrics = format!("127.0.0.1:{}", harness::free_port()?);
    let mut publisher = fleet_command(settings, "publisher")?;
    publisher.env("DOCSYNC_METRICS_ADDR", &metrics);
    Ok(Children {
        api: fleet_command(settings, "api")?.spawn()?,
        collector: fleet_command(settings, "collector")?.spawn()?,
        publisher: Some(publisher.spawn()?),
        publisher_metrics: format!("http://{metrics}/metrics"),
    })
}

/// How long a child may drain after SIGTERM.
const GRACE: Duration = Duration::from_secs(40);

async fn stop_children(children: &mut Children) {
    if let Some(p) = children.publisher.as_mut() {
        harness::terminate(p, GRACE).await;
    }
    harness::terminate(&mut children.collector, GRACE).await;
    harness::terminate(&mut children.api, GRACE).await;
}

async fn push_all(
    http: &reqwest::Client,
    api: &str,
    account: &BenchAccount,
) -> anyhow::Result<usize> {
    let r = http
        .post(format!("{api}/integrations/it-glue/push-all"))
        .bearer_auth(&account.token)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().as_u16() == 202,
        "push-all answered {}",
        r.status()
    );
    let body: serde_json::Value = r.json().await?;
    Ok(body["runIds"].as_array().map_or(0, Vec::len))
}

/// Waits until none of the accounts' runs is unfinished; returns (succeeded, failed).
async fn wait_until_done(store: &Store, accounts: &[BenchAccount]) -> anyhow::Result<(i64, i64)> {
    let ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    while store.unfinished_runs(&ids).await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut succeeded, mut failed) = (0, 0);
    for a in accounts {
        let c = store.run_counts(a.id).await?;
        succeeded += c.succeeded;
        failed += c.failed;
    }
    Ok((succeeded, failed))
}

async fn push_round(
    round: &Round<'_>,
    accounts: &[BenchAccount],
    label: &str,
) -> anyhow::Result<String> {
    let Round {
        store,
        sandbox,
        children,
        database,
        http,
        api,
        conditions,
    } = *round;
    let mut before = Vec::new();
    for a in accounts {
        let c = store.run_counts(a.id).await?;
        before.push((c.succeeded, c.failed));
    }
    sandbox.reset_itglue_stats();
    let cpu_before = total_cpu(children);
    let (pg_before, mq_before) = (database.backend_cpu().await?, cpu_of_command("beam.smp"));
    let (busy_before, ticks_before) = machine_ticks();
    let late_before = harness::late_slots(http, &children.publisher_metrics).await;
    let started = Instant::now();
    let pushes: usize =
        futures::future::try_join_all(accounts.iter().map(|a| push_all(http, api, a)))
            .await?
            .into_iter()
            .sum();
    let accepted_after = started.elapsed().as_secs_f64();
    let (succeeded, failed) = wait_until_done(store, accounts).await?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = total_cpu(children) - cpu_before;
    let pg = database.backend_cpu().await?.since(&pg_before);
    let mq = cpu_of_command("beam.smp") - mq_before;
    let (busy_after, ticks_after) = machine_ticks();
    let late = match (
        late_before,
        harness::late_slots(http, &children.publisher_metrics).await,
    ) {
        (Some(before), Some(after)) => format!("{:.0}", after - before),
        _ => "unknown".to_owned(),
    };
    let machine_busy = 100.0 * (busy_after - busy_before) / (ticks_after - ticks_before).max(1.0);
    let (done_before, failed_before) = before.iter().fold((0, 0), |(s, f), (a, b)| (s + a, f + b));
    let (succeeded, failed) = (succeeded - done_before, failed - failed_before);
    let mut requests = 0u64;
    let mut rejected = 0u64;
    let mut busiest = 0u64;
    let mut max_in_second = 0u32;
    let (mut starts, mut spans) = (Vec::new(), Vec::new());
    for a in accounts {
        let s = sandbox.itglue_key_stats(&a.key).unwrap_or_default();
        if let (Some(first), Some(last)) = (s.first_request_ms, s.last_request_ms) {
            starts.push(first as f64 / 1000.0);
            spans.push(last.saturating_sub(first) as f64 / 1000.0);
        }
        requests += s.requests;
        rejected += s.rejected_429;
        busiest = busiest.max(s.requests);
        max_in_second = max_in_second.max(s.max_requests_in_any_second);
    }
    let lower_bound = busiest as f64 / BUDGET_PER_SECOND;
    let utilisation = 100.0 * lower_bound / wall;
    let ratio = wall / lower_bound.max(f64::EPSILON);
    let per_push_ms = 1000.0 * cpu / pushes.max(1) as f64;
    let ms_per_push = |seconds: f64| 1000.0 * seconds / pushes.max(1) as f64;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    Ok(format!(
        "| {label} | {pushes} pushes ({succeeded} succeeded, {failed} failed) | wall {wall:.1} s vs lower bound {lower_bound:.1} s = {ratio:.3}x ({utilisation:.1}% of the budget) | {rejected} × 429, busiest second {max_in_second} requests, {late} shared slots given up for lateness | {:.2} requests/push | CPU per push: fleet {per_push_ms:.2} ms, PostgreSQL {:.2} ms (the backends of this benchmark's database), RabbitMQ {:.2} ms (the broker process), total {:.2} ms; machine CPU {machine_busy:.0}% busy; every push-all answered after {accepted_after:.1} s, a key's first request after {:.1} s and its requests spread over {:.1} s (medians over keys) | {conditions} | targets: ≤ 1.05x {}, zero 429 {}, ≤ 3 ms CPU in all {} |",
        requests as f64 / pushes.max(1) as f64,
        ms_per_push(pg),
        ms_per_push(mq),
        per_push_ms + ms_per_push(pg) + ms_per_push(mq),
        median(&mut starts),
        median(&mut spans),
        verdict(ratio <= 1.05),
        verdict(rejected == 0),
        verdict(per_push_ms + ms_per_push(pg) + ms_per_push(mq) <= 3.0),
    ))
}

async fn latency(
    round: &Round<'_>,
    account: &BenchAccount,
    samples: usize,
    kind: PushNow,
) -> anyhow::Result<String> {
    let Round {
        sandbox,
        http,
        api,
        conditions,
        ..
    } = *round;
    let mut seconds = Vec::new();
    for n in 0..samples {
        let (tenant, index) = account.tenants[n % account.tenants.len()];
        let organization = index as u64 + 1;
        let version_of = || {
            sandbox
                .itglue_assets(&account.key)
                .into_iter()
                .find(|a| a.organization_id == organization)
                .map_or(0, |a| a.versions)
        };
        let before = version_of();
        let started = Instant::now();
        let r = http
            .post(format!("{api}/integrations/it-glue/push/{tenant}"))
            .bearer_auth(&account.token)
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 202, "push answered {}", r.status());
        let deadline = started + Duration::from_secs(60);
        while version_of() == before {
            anyhow::ensure!(
                Instant::now() < deadline,
                "push-now did not reach IT Glue in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seconds.push(started.elapsed().as_secs_f64());
        // An idle fleet: let the run finish before the next request.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    seconds.sort_by(f64::total_cmp);
    let p99 = percentile(&seconds, 99.0);
    let (what, target) = match kind {
        PushNow::SnapshotReused => (
            "snapshot reused (collected < 24 h before), the publish path alone",
            "no target: a push-now collects afresh",
        ),
        PushNow::FreshCollection => (
            "fresh Graph collection of a tenant never collected, then the write",
            if p99 <= 3.0 {
                "target p99 ≤ 3 s: met"
            } else {
                "target p99 ≤ 3 s: MISSED"
            },
        ),
    };
    Ok(format!(
        "| push-now latency, idle fleet (request to provider write), {what} | {samples} pushes | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | {conditions} | {target} |",
        1000.0 * percentile(&seconds, 50.0),
        1000.0 * p99,
        1000.0 * seconds.last().copied().unwrap_or(0.0),
    ))
}

/// What a push-now latency sample includes.
#[derive(Debug, Clone, Copy)]
enum PushNow {
    SnapshotReused,
    FreshCollection,
}

/// What every measured round runs against.
#[derive(Clone, Copy)]
struct Round<'a> {
    store: &'a Store,
    sandbox: &'a Sandbox,
    children: &'a Children,
    database: &'a BenchDatabase,
    http: &'a reqwest::Client,
    api: &'a str,
    conditions: &'static str,
}

/// The provider conditions a row was measured under.
const LATENCY_ON: &str = "latency on: every Graph, Entra, Exchange and IT Glue answer lognormal (median 250 ms, p99 1.5 s) + 0-50 ms transit jitter";
const LATENCY_OFF: &str =
    "latency OFF (--no-latency): the sandbox answers at once, easier than real providers";

/// A connection to this benchmark's database, to find the PostgreSQL backends serving it.
struct BenchDatabase {
    client: tokio_postgres::Client,
    connection: tokio::task::JoinHandle<()>,
}

/// CPU seconds of each backend process of the benchmark's database.
struct BackendCpu(std::collections::HashMap<u32, f64>);

impl BackendCpu {
    /// CPU used since `before`: backends that began meanwhile count whole. A backend that
    /// ended meanwhile is lost (the fleet's pools keep theirs open for the whole run).
    fn since(&self, before: &BackendCpu) -> f64 {
        self.0
            .iter()
            .map(|(pid, cpu)| cpu - before.0.get(pid).copied().unwrap_or(0.0))
            .sum()
    }
}

impl BenchDatabase {
    async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let (client, connection) =
            tokio_postgres::connect(&settings.database_url, tokio_postgres::NoTls)
                .await
                .context("connecting to the benchmark's database")?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { client, connection })
    }

    /// The CPU of every backend serving this database now (this connection's own left out).
    async fn backend_cpu(&self) -> anyhow::Result<BackendCpu> {
        let rows = self
            .client
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(BackendCpu(
            rows.iter()
                .map(|r| r.get::<_, i32>(0) as u32)
                .map(|pid| (pid, cpu_seconds(pid)))
                .collect(),
        ))
    }

    fn close(&self) {
        self.connection.abort();
    }
}

async fn memory(
    settings: &Settings,
    children: &mut Children,
    http: &reqwest::Client,
    api: &str,
    account: &BenchAccount,
    queued: usize,
) -> anyhow::Result<String> {
    // Stop the publisher, queue the messages, start a fresh publisher and watch it.
    if let Some(mut p) = children.publisher.take() {
        harness::terminate(&mut p, GRACE).await;
    }
    let mut queue = QueueConfig::new(settings.amqp_url.clone());
    queue.prefix = settings.queue_prefix.clone();
    queue.publish_partitions = settings.publish_partitions;
    let broker = Broker::connect(queue).await?;
    let mut pushed = 0;
    while pushed < queued {
        pushed += push_all(http, api, account).await?;
    }
    // Wait until the collector has forwarded everything: collect queue empty, publish
    // queues steady.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = u64::MAX;
    let ready = loop {
        let mut ready = 0u64;
        for n in 0..settings.publish_partitions {
            ready += u64::from(broker.ready_count(&broker.publish_queue(n)).await?);
        }
        let collecting = broker.ready_count(&broker.collect_queue()).await?;
        if (collecting == 0 && ready == last) || Instant::now() > deadline {
            break ready;
        }
        last = ready;
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let publisher = fleet_command(settings, "publisher")?.spawn()?;
    let pid = publisher.id().unwrap_or_default();
    children.publisher = Some(publisher);
    let mut peak: f64 = 0.0;
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(20) {
        peak = peak.max(memory_mib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak = peak.max(memory_mib(pid, "VmHWM:"));
    broker.close().await;
    Ok(format!(
        "| publisher memory with {ready} publish messages queued | peak resident {peak:.1} MiB over 20 s of publishing | target < 64 MiB: {} |",
        if peak < 64.0 { "met" } else { "MISSED" }
    ))
}
