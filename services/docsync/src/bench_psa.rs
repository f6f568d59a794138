//! `docsync bench psa`: a ConnectWise Manage sync into Hudu through the fleet, against the
//! sandbox with realistic latency on every Hudu and ConnectWise request (by default: answers
//! lognormal, median 250 ms and p99 1.5 s, after 0-50 ms of transit jitter, as `docsync bench
//! fleet` runs them; `--fixed-latency-ms` adds a constant delay instead, as the first
//! measurements did) and a strict Hudu budget (the sandbox's limit per key, and the Hudu
//! integration's `rateLimit` set to it). Every recorded row states its latency conditions.
//!
//! Measured, the median of `--runs` rounds each: (a) the first sync of one company of N
//! configurations and (b) of 50 companies of N/50 each (contacts, agreements and sites skipped,
//! so the records are the configurations): wall time against the lower bound the budget sets
//! for the Hudu writes, and the 429s; (c) a re-sync of the unchanged data after each: Hudu
//! writes and ConnectWise requests per company; and the fleet's CPU per record, with
//! PostgreSQL's and RabbitMQ's beside it as `docsync bench fleet` measures them.
//!
//! Lab tooling, apart from the product: the fleet runs as child processes of this one (`docsync
//! api`, `collector`, `publisher`) in a database and queue prefix of their own, removed
//! afterwards. Every round gets a fresh sandbox and account, so no round inherits another's
//! Hudu objects, counters or pacing schedule.

use crate::bench::record;
use crate::settings::Settings;
use crate::{fleet, harness};
use docsync_domain::{RunId, RunState};
use docsync_sandbox::{
    realistic_latency, FaultKind, FaultProvider, FaultRule, Faults, HuduAsset, Sandbox,
    SandboxConfig, WindowLimit,
};
use docsync_store::{Permission, Store, SyncCounts, SyncRun};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::process::Child;

/// What to measure.
#[derive(Debug, Clone)]
pub struct PsaBenchOptions {
    /// Configurations in all, in each of scenarios (a) and (b).
    pub records: usize,
    /// Rounds of every scenario (the median is reported).
    pub runs: usize,
    /// Companies of scenario (b) (the records spread evenly over them).
    pub companies: usize,
    /// The latency every Hudu and ConnectWise request meets.
    pub latency: BenchLatency,
    /// Hudu's budget: requests per window, in the sandbox and in the integration's `rateLimit`.
    pub hudu_requests: u32,
    /// Hudu's budget window in seconds.
    pub hudu_per_seconds: u32,
}

/// The latency the sandbox's Hudu and ConnectWise answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchLatency {
    /// The sandbox's realistic latency ([`realistic_latency`]): answers lognormal (median
    /// 250 ms, p99 1.5 s) after 0-50 ms of transit jitter.
    Realistic,
    /// A constant delay of this many milliseconds before every request (no slow tail).
    FixedMs(u64),
}

impl BenchLatency {
    /// The sandbox rules for Hudu and ConnectWise.
    fn rules(self) -> Vec<FaultRule> {
        let providers = [FaultProvider::Hudu, FaultProvider::ConnectWise];
        match self {
            BenchLatency::Realistic => realistic_latency(&providers),
            BenchLatency::FixedMs(ms) => providers
                .iter()
                .map(|p| FaultRule::new(*p, FaultKind::LatencyMs(ms)))
                .collect(),
        }
    }

    /// The mean milliseconds a request takes from it: the lognormal's mean (median x
    /// exp(sigma^2 / 2), sigma from the p99) plus the jitter's, or the constant.
    fn mean_ms(self) -> f64 {
        match self {
            BenchLatency::Realistic => {
                let sigma = (1500.0f64 / 250.0).ln() / 2.326_348;
                250.0 * (sigma * sigma / 2.0).exp() + 25.0
            }
            BenchLatency::FixedMs(ms) => ms as f64,
        }
    }

    /// How a row states it.
    fn describe(self) -> String {
        match self {
            BenchLatency::Realistic => "realistic latency: every Hudu and ConnectWise answer lognormal (median 250 ms, p99 1.5 s) after 0-50 ms of transit jitter (the sandbox's realistic_latency; mean about 360 ms)".to_owned(),
            BenchLatency::FixedMs(ms) => format!("fixed {ms} ms added to every Hudu and ConnectWise request (--fixed-latency-ms: a constant delay, not a lognormal distribution)"),
        }
    }
}

const CW: &str = "/integrations/connectwise-manage";

/// ConnectWise's id listings and reads return at most this many rows a page.
const CW_PAGE_ROWS: usize = 1000;

/// How long a child may drain after SIGTERM.
const GRACE: Duration = Duration::from_secs(40);

/// The fleet's child processes.
struct Children(Vec<Child>);

impl Children {
    fn cpu(&self) -> f64 {
        self.0.iter().filter_map(Child::id).map(cpu_seconds).sum()
    }
}

// The /proc readings below are the ones `docsync bench fleet` takes (kept here so each
// benchmark module stays self-contained), except that PostgreSQL's and RabbitMQ's figures
// also count the processes that ended: PostgreSQL's backends come and go, and one that exits
// takes its CPU time out of a sum over live processes (the postmaster's children's time,
// `cutime` and `cstime`, keeps it).

/// `/proc/<pid>/stat` fields after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Vec<f64> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Vec::new();
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0))
        .collect()
}

/// CPU seconds (user + system) a process has used, from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    let ticks = |i: usize| fields.get(i).copied().unwrap_or(0.0);
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ 100.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds a process and its ended, waited-for children have used (`utime`, `stime`,
/// `cutime`, `cstime`).
fn cpu_seconds_with_ended_children(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    (11..15)
        .map(|i| fields.get(i).copied().unwrap_or(0.0))
        .sum::<f64>()
        / 100.0
}

/// CPU seconds used so far by every process whose command is `name` (`postgres`, `beam.smp`),
/// with their ended children's.
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
        .map(cpu_seconds_with_ended_children)
        .sum()
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
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// CPU counters at one moment: the fleet's children, PostgreSQL, RabbitMQ, the machine.
#[derive(Debug, Clone, Copy)]
struct CpuMark {
    fleet: f64,
    postgres: f64,
    rabbitmq: f64,
    busy: f64,
    ticks: f64,
}

impl CpuMark {
    fn now(children: &Children) -> Self {
        let (busy, ticks) = machine_ticks();
        CpuMark {
            fleet: children.cpu(),
            postgres: cpu_of_command("postgres"),
            rabbitmq: cpu_of_command("beam.smp"),
            busy,
            ticks,
        }
    }
}

/// The median of `values` (0 when empty), its minimum and maximum.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

fn median(values: Vec<f64>) -> f64 {
    spread(values).0
}

/// One measured first sync.
#[derive(Debug, Clone)]
struct FirstSync {
    wall: f64,
    records: usize,
    hudu_writes: u64,
    hudu_asset_writes: u64,
    hudu_requests: u64,
    rejected_429: u64,
    busiest_window: u32,
    cw_requests: u64,
    cw_rejected_429: u64,
    fleet_cpu: f64,
    postgres_cpu: f64,
    rabbitmq_cpu: f64,
    machine_busy: f64,
    /// Milliseconds between consecutive asset creates (by id): all, first tenth, last tenth.
    create_gaps: (f64, f64, f64),
    /// Seconds from the first asset create to the last.
    create_span: f64,
    /// Seconds queued, collecting, publishing (from the run's events).
    phases: Phases,
    counts: SyncCounts,
}

/// One measured re-sync of unchanged data.
#[derive(Debug, Clone)]
struct Resync {
    wall: f64,
    hudu_writes: u64,
    hudu_requests: u64,
    cw_requests: u64,
    cw_company_list: u64,
    by_path: BTreeMap<String, u64>,
    /// Seconds queued, collecting, publishing (from the run's events).
    phases: Phases,
    counts: SyncCounts,
}

/// What one benchmark scenario is made of.
#[derive(Debug, Clone, Copy)]
struct Shape {
    label: &'static str,
    companies: usize,
    per_company: usize,
}

impl Shape {
    fn records(&self) -> usize {
        self.companies * self.per_company
    }

    fn describe(&self) -> String {
        if self.companies == 1 {
            format!("1 company × {} configurations", self.per_company)
        } else {
            format!(
                "{} companies × {} configurations",
                self.companies, self.per_company
            )
        }
    }
}

/// The driver's view of the running fleet.
struct Driver<'a> {
    store: &'a Store,
    http: reqwest::Client,
    api: String,
    children: Children,
    options: &'a PsaBenchOptions,
}

/// Runs the benchmark; returns the lines it recorded.
pub async fn psa(settings: Settings, options: PsaBenchOptions) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(options.records >= 1, "--records must be at least 1");
    anyhow::ensure!(
        options.companies >= 1 && options.companies <= options.records,
        "--companies must be between 1 and --records"
    );
    anyhow::ensure!(
        options.hudu_requests >= 1 && options.hudu_per_seconds >= 1,
        "the Hudu budget needs at least 1 request per at least 1 second"
    );
    // The fleet's settings need a sandbox for their Microsoft and IT Glue URLs; the rounds
    // bring their own for ConnectWise and Hudu.
    let base = Sandbox::start(SandboxConfig::default()).await?;
    let scratch = harness::Scratch::new(&settings, &base, "benchpsa")?;
    let bench = &scratch.settings;
    let store = fleet::connect_store(bench).await?;
    let result = run(bench, &store, &options).await;
    drop(store);
    scratch.clean_up(&bench.retry_delays).await;
    base.shutdown();
    let (lines, table) = result?;
    println!("\n{table}");
    for line in &lines {
        println!("{line}");
        record("psa", line)?;
    }
    Ok(lines)
}

async fn run(
    settings: &Settings,
    store: &Store,
    options: &PsaBenchOptions,
) -> anyhow::Result<(Vec<String>, String)> {
    let mut children = Vec::new();
    for role in ["api", "collector", "publisher"] {
        children.push(
            harness::role_command(settings, role, &[("RUST_LOG", "error".to_owned())], None)?
                .spawn()?,
        );
    }
    let mut driver = Driver {
        store,
        http: reqwest::Client::new(),
        api: format!("http://{}", settings.api_addr),
        children: Children(children),
        options,
    };
    let outcome = async {
        harness::wait_for_api(&driver.http, &driver.api, Duration::from_secs(60)).await?;
        let shapes = [
            Shape {
                label: "(a)",
                companies: 1,
                per_company: options.records,
            },
            Shape {
                label: "(b)",
                companies: options.companies,
                per_company: (options.records / options.companies).max(1),
            },
        ];
        let mut results: Vec<Vec<(FirstSync, Resync)>> = vec![Vec::new(); shapes.len()];
        let mut repeated = 0usize;
        for n in 0..options.runs {
            for (i, shape) in shapes.iter().enumerate() {
                let (first, again) = match round(&driver, *shape).await {
                    Ok((first, again, false)) => (first, again),
                    outcome => {
                        // The machine is shared: a PostgreSQL or RabbitMQ restart by someone
                        // else spoils a round. Repeat it once; a second failure stands.
                        match outcome {
                            Err(e) => eprintln!(
                                "run {} {}: {e:#}; repeating the round once",
                                n + 1,
                                shape.label
                            ),
                            Ok(_) => eprintln!(
                                "run {} {}: PostgreSQL was unreachable during the round; repeating it once",
                                n + 1,
                                shape.label
                            ),
                        }
                        repeated += 1;
                        let (first, again, disturbed) = round(&driver, *shape).await?;
                        anyhow::ensure!(
                            !disturbed,
                            "run {} {}: PostgreSQL was unreachable again during the repeated round",
                            n + 1,
                            shape.label
                        );
                        (first, again)
                    }
                };
                println!(
                    "run {} {} {}: first sync {:.1} s, {} Hudu writes ({} requests, {} × 429), fleet CPU {:.2} ms/record, collecting {:.1} s, publishing {:.1} s; re-sync {:.1} s (collecting {:.1} s, publishing {:.1} s), {} Hudu writes, {} ConnectWise requests",
                    n + 1,
                    shape.label,
                    shape.describe(),
                    first.wall,
                    first.hudu_writes,
                    first.hudu_requests,
                    first.rejected_429,
                    1000.0 * first.fleet_cpu / first.records.max(1) as f64,
                    first.phases.1,
                    first.phases.2,
                    again.wall,
                    again.phases.1,
                    again.phases.2,
                    again.hudu_writes,
                    again.cw_requests
                );
                results[i].push((first, again));
            }
        }
        let runs_note = if repeated > 0 {
            format!(" ({repeated} round(s) of the benchmark repeated after a failure or an unreachable PostgreSQL)")
        } else {
            String::new()
        };
        let mut lines = Vec::new();
        let mut rows = Vec::new();
        for (shape, rounds) in shapes.iter().zip(&results) {
            let (line, row) = first_sync_line(options, shape, rounds, &runs_note);
            lines.push(line);
            rows.push(row);
        }
        for (shape, rounds) in shapes.iter().zip(&results) {
            let (line, row) = resync_line(options, shape, rounds, &runs_note);
            lines.push(line);
            rows.push(row);
        }
        if repeated > 0 {
            println!("{repeated} round(s) were repeated after a failure or an unreachable PostgreSQL (see the messages above)");
        }
        let table = format!(
            "{}\n\n| scenario | wall (median) | lower bound | ratio | time per asset create | 429s | Hudu writes | ConnectWise requests per company | fleet CPU per record | PostgreSQL CPU per record | RabbitMQ CPU per record |\n|---|---|---|---|---|---|---|---|---|---|---|\n{}",
            conditions(options),
            rows.join("\n")
        );
        Ok::<_, anyhow::Error>((lines, table))
    }
    .await;
    for child in &mut driver.children.0 {
        harness::terminate(child, GRACE).await;
    }
    outcome
}

/// The conditions every row states.
fn conditions(options: &PsaBenchOptions) -> String {
    format!(
        "{}; Hudu budget {} requests per {} s (the sandbox's limit per key, and the Hudu integration's rateLimit); ConnectWise at its default rateLimit (10 per s) under the sandbox's 40 per s",
        options.latency.describe(), options.hudu_requests, options.hudu_per_seconds
    )
}

fn budget_rate(options: &PsaBenchOptions) -> f64 {
    f64::from(options.hudu_requests) / f64::from(options.hudu_per_seconds)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn counts_text(c: &SyncCounts) -> String {
    format!(
        "created {}, updated {}, unchanged {}, archived {}, unarchived {}, skipped {}, failed {}",
        c.created, c.updated, c.unchanged, c.archived, c.unarchived, c.skipped, c.failed
    )
}

fn first_sync_line(
    options: &PsaBenchOptions,
    shape: &Shape,
    rounds: &[(FirstSync, Resync)],
    runs_note: &str,
) -> (String, String) {
    let firsts: Vec<&FirstSync> = rounds.iter().map(|(f, _)| f).collect();
    let of = |f: fn(&FirstSync) -> f64| median(firsts.iter().map(|r| f(r)).collect());
    let (wall, min, max) = spread(firsts.iter().map(|r| r.wall).collect());
    let rate = budget_rate(options);
    let writes = of(|r| r.hudu_writes as f64);
    let asset_writes = of(|r| r.hudu_asset_writes as f64);
    let requests = of(|r| r.hudu_requests as f64);
    let cw_requests = of(|r| r.cw_requests as f64);
    let lower_bound = writes / rate;
    let ratio = wall / lower_bound.max(f64::EPSILON);
    let rejected: u64 = firsts
        .iter()
        .map(|r| r.rejected_429 + r.cw_rejected_429)
        .sum();
    let busiest = firsts.iter().map(|r| r.busiest_window).max().unwrap_or(0);
    let records = shape.records().max(1) as f64;
    let per_record = |f: fn(&FirstSync) -> f64| 1000.0 * of(f) / records;
    let fleet = per_record(|r| r.fleet_cpu);
    let postgres = per_record(|r| r.postgres_cpu);
    let rabbitmq = per_record(|r| r.rabbitmq_cpu);
    let busy = of(|r| r.machine_busy);
    let serial = (requests + cw_requests) * options.latency.mean_ms() / 1000.0;
    let per_request = 1000.0 * wall / (requests + cw_requests).max(1.0);
    let gap = of(|r| r.create_gaps.0);
    let queued = of(|r| r.phases.0);
    let collecting = of(|r| r.phases.1);
    let publishing = of(|r| r.phases.2);
    let read_by = of(|r| r.phases.3);
    let span = of(|r| r.create_span);
    let gap_first = of(|r| r.create_gaps.1);
    let gap_last = of(|r| r.create_gaps.2);
    let counts = firsts
        .get(firsts.len() / 2)
        .map(|r| counts_text(&r.counts))
        .unwrap_or_default();
    let line = format!(
        "| {} first sync, {} | {} records; counts ({counts}) | {} runs{runs_note} | wall median {wall:.1} s (min {min:.1} s, max {max:.1} s) vs lower bound {lower_bound:.1} s ({writes:.0} Hudu writes, {asset_writes:.0} of them assets, at {rate:.1} per s) = {ratio:.2}x | all {requests:.0} Hudu requests need {:.1} s of budget; {requests:.0} Hudu + {cw_requests:.0} ConnectWise requests one at a time at {:.0} ms (mean): {serial:.1} s, and the wall is {per_request:.0} ms per request; between consecutive asset creates {gap:.0} ms (first tenth {gap_first:.0}, last tenth {gap_last:.0}); queued {queued:.1} s, collecting {collecting:.1} s (the company list), publishing {publishing:.1} s (the companies' records read by {read_by:.1} s into it, beside the writes), of which first to last asset create {span:.1} s | {rejected} × 429 (Hudu and ConnectWise, all runs), busiest Hudu window {busiest} of {} | fleet CPU {fleet:.2} ms/record (PostgreSQL {postgres:.2}, RabbitMQ {rabbitmq:.2}: every process of each on the machine); machine CPU {busy:.0}% busy | {} | targets: zero 429 {} |",
        shape.label,
        shape.describe(),
        shape.records(),
        rounds.len(),
        requests / rate,
        options.latency.mean_ms(),
        options.hudu_requests,
        conditions(options),
        verdict(rejected == 0),
    );
    let row = format!(
        "| {} first sync, {} | {wall:.1} s | {lower_bound:.1} s | {ratio:.2}x | {gap:.0} ms | {rejected} | {writes:.0} | - | {fleet:.2} ms | {postgres:.2} ms | {rabbitmq:.2} ms |",
        shape.label,
        shape.describe()
    );
    (line, row)
}

fn resync_line(
    options: &PsaBenchOptions,
    shape: &Shape,
    rounds: &[(FirstSync, Resync)],
    runs_note: &str,
) -> (String, String) {
    let again: Vec<&Resync> = rounds.iter().map(|(_, r)| r).collect();
    let of = |f: fn(&Resync) -> f64| median(again.iter().map(|r| f(r)).collect());
    let (wall, min, max) = spread(again.iter().map(|r| r.wall).collect());
    let most_writes = again.iter().map(|r| r.hudu_writes).max().unwrap_or(0);
    let queued = of(|r| r.phases.0);
    let collecting = of(|r| r.phases.1);
    let publishing = of(|r| r.phases.2);
    let hudu_requests = of(|r| r.hudu_requests as f64);
    let cw_requests = of(|r| r.cw_requests as f64);
    let company_list = of(|r| r.cw_company_list as f64);
    let companies = shape.companies.max(1) as f64;
    let per_company = (cw_requests - company_list) / companies;
    // One id listing per kind read (configurations only here), of as many pages as the
    // company's records need, plus the pages of changed records (none).
    let listing_pages = shape.per_company.div_ceil(CW_PAGE_ROWS).max(1);
    let target = listing_pages as f64;
    let most_per_company = again
        .iter()
        .map(|r| (r.cw_requests - r.cw_company_list) as f64 / companies)
        .fold(0.0, f64::max);
    let by_path = again
        .get(again.len() / 2)
        .map(|r| {
            r.by_path
                .iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let counts = again
        .get(again.len() / 2)
        .map(|r| counts_text(&r.counts))
        .unwrap_or_default();
    let line = format!(
        "| {} re-sync of unchanged data, {} | counts ({counts}) | {} runs{runs_note} | wall median {wall:.1} s (min {min:.1} s, max {max:.1} s) | queued {queued:.1} s, collecting {collecting:.1} s, publishing {publishing:.1} s (medians) | Hudu writes {most_writes} in the worst run (target 0), {hudu_requests:.0} Hudu requests | ConnectWise requests median {cw_requests:.0}: {company_list:.0} for the company list, {per_company:.2} per company (worst run {most_per_company:.2}; target ≤ {target:.0}: one id listing per kind read, configurations only, {listing_pages} page(s) of ≤ {CW_PAGE_ROWS}, + 0 pages of changed records) [{by_path}] | {} | targets: zero writes {}, ConnectWise requests per company {} |",
        shape.label,
        shape.describe(),
        rounds.len(),
        conditions(options),
        verdict(most_writes == 0),
        verdict(most_per_company <= target),
    );
    let row = format!(
        "| {} re-sync of unchanged data, {} | {wall:.1} s | - | - | - | 0 | {most_writes} | {per_company:.2} (+{company_list:.0} for the company list) | - | - | - |",
        shape.label,
        shape.describe()
    );
    (line, row)
}

/// One round of a scenario: a fresh sandbox and account, the company list, match-all, the
/// measured first sync, then the measured re-sync; and whether PostgreSQL was unreachable to
/// the driver meanwhile.
async fn round(driver: &Driver<'_>, shape: Shape) -> anyhow::Result<(FirstSync, Resync, bool)> {
    let options = driver.options;
    let mut config = SandboxConfig {
        hudu_rate_limit: Some(WindowLimit {
            requests: options.hudu_requests,
            window_secs: u64::from(options.hudu_per_seconds),
            send_retry_after: false,
        }),
        ..SandboxConfig::default()
    };
    config.connectwise.companies = shape.companies;
    config.connectwise.configurations_per_company = shape.per_company;
    let sandbox = Sandbox::start(config).await?;
    let result = measure(driver, &sandbox, shape).await;
    sandbox.shutdown();
    result
}

async fn measure(
    driver: &Driver<'_>,
    sandbox: &Sandbox,
    shape: Shape,
) -> anyhow::Result<(FirstSync, Resync, bool)> {
    let mut disturbed = false;
    let options = driver.options;
    sandbox.set_faults(Faults {
        rules: options.latency.rules(),
        ..Faults::default()
    });
    let account = driver
        .store
        .create_account(&format!("PSA benchmark {}", shape.label))
        .await?;
    let token = crate::admin::create_token(driver.store, account, &Permission::ALL).await?;
    let defaults = SandboxConfig::default();
    let hudu_key = defaults
        .hudu_keys
        .first()
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let cw = &defaults.connectwise;
    call(
        driver,
        &token,
        Method::PUT,
        "/integrations/hudu",
        Some(json!({"baseUrl": sandbox.hudu_url, "apiKey": hudu_key, "companyIdByTenantId": {},
                    "rateLimit": {"requests": options.hudu_requests, "perSeconds": options.hudu_per_seconds}})),
    )
    .await?;
    call(
        driver,
        &token,
        Method::PUT,
        CW,
        Some(json!({"site": sandbox.connectwise_url, "companyId": cw.company_id, "publicKey": cw.public_key,
                    "privateKey": cw.private_key, "clientId": cw.client_id, "schedule": {"mode": "manual"},
                    "skip": {"contacts": true, "agreements": true, "sites": true}})),
    )
    .await?;
    // The company list, then every company matched (or to be created).
    let (listed, _) = sync(driver, &token, shape, &mut disturbed).await?;
    anyhow::ensure!(
        listed.counts.created == 0,
        "the listing sync created objects: {}",
        counts_text(&listed.counts)
    );
    call(
        driver,
        &token,
        Method::POST,
        &format!("{CW}/companies/match-all"),
        None,
    )
    .await?;

    // (a)/(b): the first sync of the matched companies.
    let hudu_before = sandbox.hudu_stats();
    sandbox.reset_cw_stats();
    let cpu_before = CpuMark::now(&driver.children);
    let (run, wall) = sync(driver, &token, shape, &mut disturbed).await?;
    let cpu_after = CpuMark::now(&driver.children);
    let hudu = sandbox.hudu_stats();
    let cw_stats = sandbox.cw_stats();
    let mut first = FirstSync {
        wall,
        records: shape.records(),
        hudu_writes: hudu.writes - hudu_before.writes,
        hudu_asset_writes: hudu.asset_writes - hudu_before.asset_writes,
        hudu_requests: hudu.requests - hudu_before.requests,
        rejected_429: hudu.rejected_429 - hudu_before.rejected_429,
        busiest_window: hudu.max_requests_in_any_window,
        cw_requests: cw_stats.requests,
        cw_rejected_429: cw_stats.rejected_429,
        fleet_cpu: cpu_after.fleet - cpu_before.fleet,
        postgres_cpu: cpu_after.postgres - cpu_before.postgres,
        rabbitmq_cpu: cpu_after.rabbitmq - cpu_before.rabbitmq,
        machine_busy: 100.0 * (cpu_after.busy - cpu_before.busy)
            / (cpu_after.ticks - cpu_before.ticks).max(1.0),
        create_gaps: (0.0, 0.0, 0.0),
        create_span: 0.0,
        phases: phases(driver.store, run.id).await?,
        counts: run.counts,
    };
    let assets = sandbox.hudu_assets();
    first.create_gaps = create_gaps(&assets);
    first.create_span = match (
        assets.iter().map(|a| a.created_at).min(),
        assets.iter().map(|a| a.created_at).max(),
    ) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let assets = assets.len();
    anyhow::ensure!(
        assets == shape.records(),
        "{} {}: {assets} Hudu assets after the first sync, expected one per configuration ({}); counts {}",
        shape.label,
        shape.describe(),
        shape.records(),
        counts_text(&run.counts)
    );

    // (c): a re-sync of the same, unchanged data.
    let hudu_before = sandbox.hudu_stats();
    sandbox.reset_cw_stats();
    let (run, wall) = sync(driver, &token, shape, &mut disturbed).await?;
    let hudu = sandbox.hudu_stats();
    let cw_stats = sandbox.cw_stats();
    let company_list = ["/company/companies", "/company/companies/statuses"]
        .iter()
        .filter_map(|p| cw_stats.by_path.get(*p))
        .sum();
    let again = Resync {
        wall,
        hudu_writes: hudu.writes - hudu_before.writes,
        hudu_requests: hudu.requests - hudu_before.requests,
        cw_requests: cw_stats.requests,
        cw_company_list: company_list,
        by_path: cw_stats.by_path.clone(),
        phases: phases(driver.store, run.id).await?,
        counts: run.counts,
    };
    Ok((first, again, disturbed))
}

/// Seconds a run spent queued, collecting (the company list) and publishing, and how far into
/// publishing the last company's records were read, from its events.
type Phases = (f64, f64, f64, f64);

/// A run's [`Phases`]: the first entry into each state; publishing ends when the run finished;
/// the records were read when the collector said so ("read N companies").
async fn phases(store: &Store, id: RunId) -> anyhow::Result<Phases> {
    let events = store.run_events(id).await?;
    let first = |state: &str| events.iter().find(|e| e.state == state).map(|e| e.at);
    let finished = events
        .iter()
        .rev()
        .find(|e| e.state == "succeeded" || e.state == "failed")
        .map(|e| e.at);
    let secs = |from: Option<chrono::DateTime<chrono::Utc>>,
                to: Option<chrono::DateTime<chrono::Utc>>| match (from, to) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let (queued, collecting, publishing) =
        (first("queued"), first("collecting"), first("publishing"));
    let read = events
        .iter()
        .find(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("read ") && d.contains(" companies with "))
        })
        .map(|e| e.at);
    Ok((
        secs(queued, collecting),
        secs(collecting, publishing),
        secs(publishing, finished),
        secs(publishing, read).max(0.0),
    ))
}

/// The median milliseconds between consecutive asset creates (in id order) over all of them,
/// the first tenth and the last tenth: how long one write takes as the sync goes on.
fn create_gaps(assets: &[HuduAsset]) -> (f64, f64, f64) {
    let mut created: Vec<(u64, chrono::DateTime<chrono::Utc>)> =
        assets.iter().map(|a| (a.id, a.created_at)).collect();
    created.sort_by_key(|(id, _)| *id);
    let gaps: Vec<f64> = created
        .windows(2)
        .map(|w| (w[1].1 - w[0].1).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        .collect();
    let tenth = (gaps.len() / 10).max(1).min(gaps.len());
    (
        median(gaps.clone()),
        median(gaps[..tenth].to_vec()),
        median(gaps[gaps.len() - tenth..].to_vec()),
    )
}

/// Calls the fleet's API with `token`; a non-2xx answer is an error naming the body.
async fn call(
    driver: &Driver<'_>,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = driver
        .http
        .request(method.clone(), format!("{}{path}", driver.api))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    anyhow::ensure!(
        status.is_success(),
        "{method} {path} answered {status}: {text}"
    );
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Starts a sync and waits for it (polling the store, so the wait costs the fleet's API
/// nothing); returns the finished run and the wall time from the request to the end. A failed
/// run is an error naming its reason; a poll that fails sets `disturbed`.
async fn sync(
    driver: &Driver<'_>,
    token: &str,
    shape: Shape,
    disturbed: &mut bool,
) -> anyhow::Result<(SyncRun, f64)> {
    let started = Instant::now();
    let body = call(driver, token, Method::POST, &format!("{CW}/sync"), None).await?;
    let id: RunId = body["runId"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(anyhow::Error::msg)?;
    // Generous: every record's write at the latency, three times over, plus a minute.
    let latency = Duration::from_millis(driver.options.latency.mean_ms() as u64 + 20);
    let limit = Duration::from_secs(60) + latency * (3 * shape.records() as u32 + 600);
    loop {
        let polled = match driver.store.sync_run_for_worker(id).await {
            Ok(run) => run,
            Err(e) => {
                // PostgreSQL restarted under us (the machine is shared): the round is
                // disturbed, and the run may still finish once the fleet reconnects.
                eprintln!("polling sync {id}: {e}");
                *disturbed = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        };
        if let Some(run) = polled {
            match run.state {
                RunState::Succeeded => return Ok((run, started.elapsed().as_secs_f64())),
                RunState::Failed => anyhow::bail!(
                    "{} {}: sync {id} failed after {:.1} s: {} (counts {})",
                    shape.label,
                    shape.describe(),
                    started.elapsed().as_secs_f64(),
                    run.error.unwrap_or_default(),
                    counts_text(&run.counts)
                ),
                _ => {}
            }
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "{} {}: sync {id} did not finish in {} s",
            shape.label,
            shape.describe(),
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
