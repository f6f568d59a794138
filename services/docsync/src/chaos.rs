//! `docsync chaos`: runs the fleet as child processes (several collectors and publishers, one
//! API, one scheduler) against the in-process sandbox with faults on, keeps pushing through
//! the API, and meanwhile kill -9s random workers (restarting them), restarts RabbitMQ once
//! and PostgreSQL once. Then it stops pushing, switches the faults off, lets the fleet settle
//! and reconciles: every push the API accepted (202) must have succeeded or failed with a
//! reason that is permanent by design (a job parked after the delivery limit, a permanent
//! 4xx the fault plan injects), and no tenant may have two documents in one place. Each
//! planned restart records whether it happened (its tools exited 0 and the service answered
//! again). It prints the counts and fails when anything was lost or duplicated, a failure is
//! not explained, or a planned restart did not happen.
//!
//! It restarts the machine's RabbitMQ and PostgreSQL (`rabbitmqctl`, `pg_ctlcluster`), so run
//! it where nothing else depends on them at that moment. Everything else it creates (its
//! database, its queues) is its own and removed at the end; the fleet's logs are kept in a
//! directory it names.

use crate::fleet;
use crate::harness::{self, HarnessAccount, Scratch};
use crate::settings::Settings;
use anyhow::Context;
use docsync_domain::{AccountId, Provider, RunId, RunState};
use docsync_queue::worker::PARKED;
use docsync_queue::{Broker, QueueConfig};
use docsync_sandbox::{
    itglue_key, FaultKind, FaultProvider, FaultRule, Faults, ItGlueRegion, KeyScope, Sandbox,
    SandboxConfig, WindowLimit,
};
use docsync_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How long and how big.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Minutes of chaos (pushing, kills, restarts), before the fleet settles.
    pub minutes: f64,
    /// Collector processes, and as many publisher processes.
    pub processes: usize,
    /// Tenants (sandbox fixtures), spread over accounts of [`TENANTS_PER_ACCOUNT`], each with
    /// a Hudu and an IT Glue integration.
    pub tenants: usize,
}

impl Default for ChaosOptions {
    fn default() -> Self {
        ChaosOptions {
            minutes: 3.0,
            processes: 2,
            tenants: 200,
        }
    }
}

/// Tenants per account (each account has its own Hudu key and IT Glue key).
pub const TENANTS_PER_ACCOUNT: usize = 50;
/// Seconds before each retry of a transient fault in the chaos fleet (short, so that the
/// fleet settles within minutes; the production default is much longer).
pub const RETRY_DELAYS_SECS: [u64; 5] = [1, 2, 5, 10, 20];
/// How often each account pushes all (when its backlog allows).
const PUSH_EVERY: Duration = Duration::from_secs(4);
/// How long the fleet may take to finish every accepted run once the chaos stops.
const SETTLE: Duration = Duration::from_secs(300);
/// A killed or crashed process is started again after this long (a supervisor's delay).
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// What the chaos run found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    /// Pushes the API answered 202 (runs).
    pub accepted: usize,
    /// Push-all calls answered otherwise, by status (503 while the broker is down is right).
    pub refused: BTreeMap<u16, usize>,
    /// Push-all calls that got no answer.
    pub unanswered: usize,
    /// Accepted runs that succeeded.
    pub succeeded: usize,
    /// Accepted runs that failed by design (see [`classify_failure`]): their job was parked
    /// after the delivery limit, or the fault plan injected a permanent 4xx.
    pub failed: usize,
    /// Accepted runs that failed otherwise: without a reason, after the retries ran out, or
    /// with an error the fault plan does not explain.
    pub failed_unexplained: usize,
    /// Accepted runs not finished when the fleet was given up on (or not found at all).
    pub lost: usize,
    /// Hudu articles beyond the first per (company, title).
    pub hudu_duplicates: usize,
    /// IT Glue flexible assets beyond the first per (key, organization, name).
    pub itglue_duplicates: usize,
    /// (tenant, provider) pairs with a succeeded run but no document in the sandbox.
    pub missing_documents: usize,
    /// Workers killed with SIGKILL.
    pub kills: usize,
    /// Fleet processes that exited on their own (restarted too).
    pub exits: usize,
    /// Failure reasons of the runs that failed by design, most frequent first, with counts.
    pub reasons: Vec<(String, usize)>,
    /// One line per run that failed without an explanation: id, provider and its error.
    pub unexplained: Vec<String>,
    /// The planned restarts of RabbitMQ and PostgreSQL and whether each happened.
    pub disruptions: Vec<Disruption>,
    /// One line per lost run: id, provider, state, last change and last error.
    pub lost_runs: Vec<String>,
    /// One line per duplicated document: where, title, and the copies (id, created).
    pub duplicates: Vec<String>,
}

/// The disruptions every chaos run plans: a run in which one did not happen proves nothing
/// about it.
pub const PLANNED_DISRUPTIONS: [&str; 2] = [RABBITMQ_RESTART, POSTGRES_RESTART];

/// Permanent 4xx answers the chaos fault plan injects ([`chaos_faults`] injects none: a run
/// failing on a 4xx is a finding, not the plan).
pub const INJECTED_PERMANENT: &[u16] = &[];

/// How a failed run's failure is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Its job was parked in the dead-letter queue after the delivery limit (by design: a
    /// job that keeps failing or being interrupted is set aside for an operator).
    Parked,
    /// A permanent 4xx answer that the fault plan injects.
    InjectedPermanent(u16),
    /// Anything else: no reason, the retries ran out, or an answer nothing injected.
    Unexplained,
}

impl FailureClass {
    /// Permanent by design: counted as explained.
    pub fn explained(self) -> bool {
        !matches!(self, FailureClass::Unexplained)
    }
}

/// Judges a failed run by its error: explained only when it is permanent by design, that is
/// its job was parked after the delivery limit (the error begins with
/// [`docsync_queue::worker::PARKED`]) or a provider answered a permanent 4xx whose status is
/// in `injected_permanent` (not 408 or 429, which are retried). Giving up after the retries
/// is not explained: the plan's transient faults are rare enough that the retries outlast
/// them.
pub fn classify_failure(error: Option<&str>, injected_permanent: &[u16]) -> FailureClass {
    let Some(error) = error.map(str::trim).filter(|e| !e.is_empty()) else {
        return FailureClass::Unexplained;
    };
    if error.starts_with(PARKED) {
        return FailureClass::Parked;
    }
    if error.starts_with("gave up after the retries") {
        return FailureClass::Unexplained;
    }
    // "Hudu at host answered 404 Not Found: ...": the first status a provider answered.
    let status = error.split(" answered ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u16>().ok().filter(|_| digits.len() == 3)
    });
    match status {
        Some(s)
            if (400..500).contains(&s)
                && !matches!(s, 408 | 429)
                && injected_permanent.contains(&s) =>
        {
            FailureClass::InjectedPermanent(s)
        }
        _ => FailureClass::Unexplained,
    }
}

impl ChaosReport {
    /// What makes the run not clean, one line each: lost or duplicated work, failures that
    /// are not permanent by design, successes without a document, and planned disruptions
    /// that failed or did not happen (with why).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        };
        count(self.lost, "accepted runs lost (not finished)");
        count(self.hudu_duplicates, "duplicate Hudu articles");
        count(self.itglue_duplicates, "duplicate IT Glue assets");
        count(
            self.failed_unexplained,
            "runs failed without an explanation (not permanent by design)",
        );
        count(self.missing_documents, "runs succeeded without a document");
        for planned in PLANNED_DISRUPTIONS {
            let mine: Vec<&Disruption> = self
                .disruptions
                .iter()
                .filter(|d| d.planned == planned)
                .collect();
            if mine.is_empty() {
                problems.push(format!("planned {planned} did not happen: never started"));
            }
            for d in mine.into_iter().filter(|d| !d.happened) {
                problems.push(format!("planned {planned} did not happen: {}", d.detail));
            }
        }
        for d in self
            .disruptions
            .iter()
            .filter(|d| !d.happened && !PLANNED_DISRUPTIONS.contains(&d.planned))
        {
            problems.push(format!("{} failed: {}", d.planned, d.detail));
        }
        problems
    }

    /// Nothing lost, nothing duplicated, every failure permanent by design, every success
    /// written, and every planned disruption happened.
    pub fn clean(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Runs the chaos command: prints as it goes and the reconciliation at the end; an error
/// naming every problem when the reconciliation is not clean.
pub async fn command(settings: Settings, options: ChaosOptions) -> anyhow::Result<()> {
    let report = run(settings, options).await?;
    let problems = report.problems();
    if !problems.is_empty() {
        anyhow::bail!("chaos: {}", problems.join("; "));
    }
    Ok(())
}

/// Runs the chaos and returns what it found (cleaning up on every way out).
pub async fn run(settings: Settings, options: ChaosOptions) -> anyhow::Result<ChaosReport> {
    anyhow::ensure!(
        options.minutes.is_finite() && options.minutes > 0.0,
        "--minutes must be above 0"
    );
    anyhow::ensure!(options.processes >= 1, "--processes must be at least 1");
    anyhow::ensure!(options.tenants >= 1, "--tenants must be at least 1");
    let accounts = options.tenants.div_ceil(TENANTS_PER_ACCOUNT);
    let hudu_keys: Vec<String> = (0..accounts)
        .map(|n| format!("sandbox-chaos-hudu-key-{n:04}-0123456789abcdef"))
        .collect();
    let sandbox = Sandbox::start(SandboxConfig {
        tenants: options.tenants,
        hudu_companies: options.tenants,
        hudu_keys: hudu_keys
            .iter()
            .map(|k| (k.clone(), KeyScope::ReadWrite))
            .collect(),
        // Above the fleet's default pacing (300/min): this run is about crashes, and the
        // injected 429s below carry Retry-After.
        hudu_rate_limit: Some(WindowLimit {
            requests: 600,
            window_secs: 60,
            send_retry_after: true,
        }),
        itglue_organizations: options.tenants,
        itglue_generated_keys: accounts,
        ..SandboxConfig::default()
    })
    .await?;
    let scratch = Scratch::new(&settings, &sandbox, "chaos")?;
    let logs = std::env::temp_dir().join(&scratch.settings.queue_prefix);
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let retry_delays: Vec<Duration> = RETRY_DELAYS_SECS
        .iter()
        .map(|s| Duration::from_secs(*s))
        .collect();
    let result = async {
        let store = harness::connect_store(&scratch).await?;
        let outcome = drive(&scratch, &store, &sandbox, &options, &hudu_keys, &logs).await;
        drop(store);
        outcome
    }
    .await;
    scratch.clean_up(&retry_delays).await;
    sandbox.shutdown();
    let report = result?;
    print_report(&report);
    println!("fleet logs: {}", logs.display());
    Ok(report)
}

/// The sandbox faults during the chaos: a few percent of errors, resets, lost answers,
/// malformed bodies and 429s on Hudu and IT Glue, some latency and rare hangs; Microsoft
/// gets errors, resets and 429s too.
pub fn chaos_faults(seed: u64) -> Faults {
    use FaultKind::*;
    use FaultProvider as P;
    let rule = FaultRule::new;
    let mut rules = Vec::new();
    for provider in [P::Hudu, P::ItGlue] {
        rules.extend([
            rule(provider, LatencyMs(40)),
            rule(provider, ErrorRate(0.03)),
            rule(provider, ResetRate(0.01)),
            rule(provider, MalformedRate(0.02)),
            rule(provider, ThrottleRate(0.01)),
            rule(provider, HangRate(0.002)),
        ]);
    }
    rules.push(rule(P::Hudu, LostAnswerRate(0.02)).on("/articles"));
    rules.push(rule(P::ItGlue, LostAnswerRate(0.02)).on("/flexible_assets"));
    rules.extend([
        rule(P::Graph, LatencyMs(10)),
        rule(P::Graph, ErrorRate(0.01)),
        rule(P::Graph, ResetRate(0.005)),
        rule(P::Graph, MalformedRate(0.005)),
        rule(P::Exchange, ErrorRate(0.02)),
        rule(P::Login, ErrorRate(0.01)),
    ]);
    Faults {
        graph_429_every_nth: Some(150),
        itglue_429_every_nth: Some(60),
        itglue_429_retry_after: Some(1),
        rules,
        seed,
        ..Faults::default()
    }
}

/// `[m:ss hh:mm:ss]`: time since the start and wall-clock time (UTC), to match the fleet's
/// logs.
fn elapsed(since: Instant) -> String {
    let s = since.elapsed().as_secs();
    format!(
        "[{}:{:02} {}]",
        s / 60,
        s % 60,
        chrono::Utc::now().format("%H:%M:%S")
    )
}

/// One fleet process slot: its role, its number, and the process when running.
struct Slot {
    role: &'static str,
    n: usize,
    child: Option<Child>,
    restart_at: Option<Instant>,
    log: PathBuf,
}

/// The fleet's processes, started again when they die (like a supervisor would).
struct Supervisor {
    settings: Settings,
    extra: Vec<(&'static str, String)>,
    slots: Vec<Slot>,
    kills: usize,
    exits: usize,
}

impl Supervisor {
    fn new(settings: &Settings, processes: usize, logs: &Path) -> Self {
        let delays = RETRY_DELAYS_SECS
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut slots = Vec::new();
        let mut add = |role: &'static str, n: usize| {
            slots.push(Slot {
                role,
                n,
                child: None,
                restart_at: Some(Instant::now()),
                log: logs.join(format!("{role}-{n}.log")),
            });
        };
        add("api", 0);
        add("scheduler", 0);
        for n in 0..processes {
            add("collector", n);
            add("publisher", n);
        }
        Supervisor {
            settings: settings.clone(),
            // Short retry delays and a short stall limit, so the fleet settles within minutes:
            // a run whose message a broker crash lost is handed on again after a minute.
            extra: vec![
                ("DOCSYNC_RETRY_DELAYS", delays),
                ("DOCSYNC_STALLED_RUN_SECS", "60".to_owned()),
            ],
            slots,
            kills: 0,
            exits: 0,
        }
    }

    /// Starts the slots that are due; notes (and schedules a restart of) processes that
    /// exited on their own.
    fn tick(&mut self, since: Instant) -> anyhow::Result<()> {
        let now = Instant::now();
        for slot in &mut self.slots {
            if let Some(child) = slot.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    println!(
                        "{} {} {} exited by itself ({status}); restarting it",
                        elapsed(since),
                        slot.role,
                        slot.n
                    );
                    self.exits += 1;
                    slot.child = None;
                    slot.restart_at = Some(now + RESTART_AFTER);
                }
            }
            if slot.child.is_none() && slot.restart_at.is_some_and(|at| at <= now) {
                let extra: Vec<(&str, String)> =
                    self.extra.iter().map(|(k, v)| (*k, v.clone())).collect();
                let child =
                    harness::role_command(&self.settings, slot.role, &extra, Some(&slot.log))?
                        .spawn()
                        .with_context(|| format!("starting {} {}", slot.role, slot.n))?;
                slot.child = Some(child);
                slot.restart_at = None;
            }
        }
        Ok(())
    }

    /// SIGKILLs a random running collector or publisher; it is started again on a later tick.
    async fn kill_one(&mut self, rng: &mut StdRng, since: Instant) {
        let running: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.role, "collector" | "publisher") && s.child.is_some())
            .map(|(i, _)| i)
            .collect();
        if running.is_empty() {
            return;
        }
        let i = running[rng.random_range(0..running.len())];
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if let Some(mut child) = slot.child.take() {
            let pid = child.id().unwrap_or_default();
            let _ = child.start_kill();
            let _ = child.wait().await;
            self.kills += 1;
            println!(
                "{} kill -9 {} {} (pid {pid}); restarting it",
                elapsed(since),
                slot.role,
                slot.n
            );
        }
        slot.restart_at = Some(Instant::now() + RESTART_AFTER);
    }

    /// SIGTERMs every process and waits for them (killing those that take too long).
    async fn stop(&mut self) {
        for slot in &mut self.slots {
            slot.restart_at = None;
            if let Some(pid) = slot.child.as_ref().and_then(Child::id) {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status()
                    .await;
            }
        }
        for slot in &mut self.slots {
            if let Some(mut child) = slot.child.take() {
                harness::terminate(&mut child, Duration::from_secs(30)).await;
            }
        }
    }
}

/// Runs `program args` with a time limit; the error carries its output.
async fn run_tool(program: &str, args: &[&str], limit: Duration) -> Result<(), String> {
    let output = tokio::time::timeout(
        limit,
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| {
        format!(
            "`{program} {}` took over {} s",
            args.join(" "),
            limit.as_secs()
        )
    })?
    .map_err(|e| format!("`{program} {}`: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&output.stderr);
        let text = if text.trim().is_empty() {
            String::from_utf8_lossy(&output.stdout).into_owned()
        } else {
            text.into_owned()
        };
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            text.trim().lines().last().unwrap_or_default()
        ))
    }
}

/// A planned disruption of a service the fleet depends on, and whether it really happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disruption {
    /// What was planned: `RabbitMQ restart`, `PostgreSQL restart`.
    pub planned: &'static str,
    /// The service went down and came back: every tool exited 0 and the service answered
    /// again afterwards.
    pub happened: bool,
    /// How it went, or why it did not happen.
    pub detail: String,
}

impl Disruption {
    fn done(planned: &'static str, detail: String) -> Self {
        Disruption {
            planned,
            happened: true,
            detail,
        }
    }

    fn not_done(planned: &'static str, detail: String) -> Self {
        Disruption {
            planned,
            happened: false,
            detail,
        }
    }
}

/// The RabbitMQ restart.
pub const RABBITMQ_RESTART: &str = "RabbitMQ restart";
/// The PostgreSQL restart.
pub const POSTGRES_RESTART: &str = "PostgreSQL restart";
/// How long a restarted service has to answer again.
const ANSWER_AGAIN: Duration = Duration::from_secs(90);

/// Tries `probe` every half second until it succeeds (its answer) or `limit` has passed (the
/// last error).
async fn answers_again<T, F, Fut>(limit: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(answer) => return Ok(answer),
            Err(e) if started.elapsed() >= limit => {
                return Err(format!("did not answer within {} s: {e}", limit.as_secs()))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Stops RabbitMQ's application, leaves it down a few seconds and starts it again (the whole
/// node with `rabbitmq-server -detached` when the application cannot start), then connects
/// to it with `queue` (the chaos run's own topology): it happened when the stop and a start
/// exited 0 and the broker answered again.
async fn restart_rabbitmq(queue: QueueConfig) -> Disruption {
    let started = Instant::now();
    if let Err(e) = run_tool("rabbitmqctl", &["stop_app"], Duration::from_secs(120)).await {
        return Disruption::not_done(RABBITMQ_RESTART, format!("RabbitMQ was not stopped: {e}"));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let how = match run_tool("rabbitmqctl", &["start_app"], Duration::from_secs(120)).await {
        Ok(()) => "rabbitmqctl stop_app / start_app".to_owned(),
        Err(first) => {
            let detached =
                run_tool("rabbitmq-server", &["-detached"], Duration::from_secs(60)).await;
            let up = run_tool("rabbitmqctl", &["await_startup"], Duration::from_secs(180)).await;
            match (detached, up) {
                (_, Ok(())) => format!("start_app failed ({first}); rabbitmq-server -detached"),
                (d, Err(e)) => {
                    return Disruption::not_done(
                        RABBITMQ_RESTART,
                        format!(
                            "RabbitMQ DID NOT COME BACK: {first}; {}; {e}: start it by hand",
                            d.err().unwrap_or_default()
                        ),
                    )
                }
            }
        }
    };
    let answered = answers_again(ANSWER_AGAIN, || {
        let queue = queue.clone();
        async move {
            let broker = Broker::connect(queue).await.map_err(|e| e.to_string())?;
            broker.close().await;
            Ok(())
        }
    })
    .await;
    match answered {
        Ok(_) => Disruption::done(
            RABBITMQ_RESTART,
            format!(
                "RabbitMQ restarted ({how}), answering again after {:.1} s",
                started.elapsed().as_secs_f64()
            ),
        ),
        Err(e) => Disruption::not_done(
            RABBITMQ_RESTART,
            format!("RabbitMQ was restarted ({how}) but {e}"),
        ),
    }
}

/// The newest PostgreSQL cluster version under `/etc/postgresql` that has a `main` cluster.
fn postgres_version() -> Option<String> {
    std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("main").is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .max_by(|a, b| {
            let v = |s: &str| s.parse::<f64>().unwrap_or(0.0);
            v(a).total_cmp(&v(b))
        })
}

/// Restarts the local PostgreSQL cluster: it happened when `pg_ctlcluster` exited 0 and the
/// database answered `store` again with a later server start time.
async fn restart_postgres(store: Store) -> Disruption {
    let Some(version) = postgres_version() else {
        return Disruption::not_done(
            POSTGRES_RESTART,
            "PostgreSQL was not restarted: no cluster under /etc/postgresql".into(),
        );
    };
    let before = store.server_started_at().await.ok();
    let started = Instant::now();
    if let Err(e) = run_tool(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &version, "main", "restart"],
        Duration::from_secs(180),
    )
    .await
    {
        return Disruption::not_done(POSTGRES_RESTART, format!("PostgreSQL restart failed: {e}"));
    }
    let answered = answers_again(ANSWER_AGAIN, || {
        let store = store.clone();
        async move { store.server_started_at().await.map_err(|e| e.to_string()) }
    })
    .await;
    match (answered, before) {
        (Err(e), _) => Disruption::not_done(
            POSTGRES_RESTART,
            format!("PostgreSQL {version}: pg_ctlcluster exited 0 but the database {e}"),
        ),
        (Ok(after), Some(before)) if after <= before => Disruption::not_done(
            POSTGRES_RESTART,
            format!(
                "PostgreSQL {version}: pg_ctlcluster exited 0 but the server still runs since {before} (not restarted)"
            ),
        ),
        (Ok(_), _) => Disruption::done(
            POSTGRES_RESTART,
            format!(
                "PostgreSQL {version} restarted (pg_ctlcluster), answering again after {:.1} s",
                started.elapsed().as_secs_f64()
            ),
        ),
    }
}

/// What the pusher got from the API.
#[derive(Debug, Default)]
struct Pushes {
    accepted: Vec<(AccountId, Provider, RunId)>,
    refused: BTreeMap<u16, usize>,
    unanswered: usize,
    rounds: usize,
    held_back: usize,
}

/// Pushes all, for both providers of every account, every [`PUSH_EVERY`] until `until`,
/// holding an account back while a round of its runs is still unfinished.
async fn push_until(
    http: reqwest::Client,
    api: String,
    store: Store,
    accounts: Vec<HarnessAccount>,
    until: Instant,
    stop: Arc<AtomicBool>,
) -> Pushes {
    let mut pushes = Pushes::default();
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        let round = Instant::now();
        pushes.rounds += 1;
        for account in &accounts {
            match store.unfinished_runs(&[account.id]).await {
                Ok(n) if n < account.tenants.len() as i64 => {}
                _ => {
                    pushes.held_back += 1;
                    continue;
                }
            }
            for (provider, path) in [(Provider::Hudu, "hudu"), (Provider::ItGlue, "it-glue")] {
                let answer = http
                    .post(format!("{api}/integrations/{path}/push-all"))
                    .bearer_auth(&account.token)
                    .send()
                    .await;
                let response = match answer {
                    Ok(r) => r,
                    Err(_) => {
                        pushes.unanswered += 1;
                        continue;
                    }
                };
                let status = response.status().as_u16();
                if status != 202 {
                    *pushes.refused.entry(status).or_default() += 1;
                    continue;
                }
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                for id in body["runIds"].as_array().into_iter().flatten() {
                    if let Some(id) = id.as_str().and_then(|s| s.parse::<RunId>().ok()) {
                        pushes.accepted.push((account.id, provider, id));
                    }
                }
            }
        }
        let next = round + PUSH_EVERY;
        while Instant::now() < next.min(until) && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    pushes
}

async fn drive(
    scratch: &Scratch,
    store: &Store,
    sandbox: &Sandbox,
    options: &ChaosOptions,
    hudu_keys: &[String],
    logs: &Path,
) -> anyhow::Result<ChaosReport> {
    let master = scratch.settings.master_key()?;
    let mut accounts = Vec::new();
    let mut itglue_keys = Vec::new();
    for (n, hudu_key) in hudu_keys.iter().enumerate() {
        let first = n * TENANTS_PER_ACCOUNT;
        let last = (first + TENANTS_PER_ACCOUNT).min(options.tenants);
        let account =
            harness::create_account(store, &master, &format!("Chaos MSP {n}"), first..last).await?;
        let region = ItGlueRegion::ALL[n % ItGlueRegion::ALL.len()];
        let key = itglue_key(region, n);
        harness::map_hudu(store, &master, &account, &sandbox.hudu_url, hudu_key).await?;
        harness::map_itglue(store, &master, &account, region.as_str(), &key).await?;
        itglue_keys.push(key);
        accounts.push(account);
    }
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let chaos = Duration::from_secs_f64(options.minutes * 60.0);
    println!(
        "chaos: {:.1} min, {} collectors + {} publishers + api + scheduler, {} tenants in {} accounts (Hudu and IT Glue each), seed {seed}",
        options.minutes,
        options.processes,
        options.processes,
        options.tenants,
        accounts.len()
    );
    println!(
        "database {}, queue prefix {}, fleet logs in {}",
        scratch.database,
        scratch.settings.queue_prefix,
        logs.display()
    );

    let mut supervisor = Supervisor::new(&scratch.settings, options.processes, logs);
    let interrupted = Arc::new(AtomicBool::new(false));
    let signal = {
        let flag = interrupted.clone();
        tokio::spawn(async move {
            fleet::signal().await;
            flag.store(true, Ordering::Relaxed);
        })
    };
    let outcome = chaos_and_settle(
        &mut supervisor,
        store,
        sandbox,
        &accounts,
        &itglue_keys,
        chaos,
        seed,
        &mut rng,
        &interrupted,
        scratch,
    )
    .await;
    supervisor.stop().await;
    signal.abort();
    let mut report = outcome?;
    report.kills = supervisor.kills;
    report.exits = supervisor.exits;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn chaos_and_settle(
    supervisor: &mut Supervisor,
    store: &Store,
    sandbox: &Sandbox,
    accounts: &[HarnessAccount],
    itglue_keys: &[String],
    chaos: Duration,
    seed: u64,
    rng: &mut StdRng,
    interrupted: &Arc<AtomicBool>,
    scratch: &Scratch,
) -> anyhow::Result<ChaosReport> {
    let since = Instant::now();
    supervisor.tick(since)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let api = scratch.api_url();
    harness::wait_for_api(&http, &api, Duration::from_secs(60)).await?;
    sandbox.set_faults(chaos_faults(seed));
    println!("{} fleet up, faults on, pushing", elapsed(since));

    let start = Instant::now();
    let until = start + chaos;
    let pusher = tokio::spawn(push_until(
        http.clone(),
        api.clone(),
        store.clone(),
        accounts.to_vec(),
        until,
        interrupted.clone(),
    ));
    // The disruptions: kills every 6-20 s, RabbitMQ once at 25-40 % of the time, PostgreSQL
    // once at 55-70 %.
    let at = |f: f64| start + chaos.mul_f64(f);
    let mut next_kill = start + Duration::from_secs(rng.random_range(6..=20));
    let mut rabbit_at = Some(at(rng.random_range(0.25..0.40)));
    let mut postgres_at = Some(at(rng.random_range(0.55..0.70)));
    let mut restarts: Vec<JoinHandle<Disruption>> = Vec::new();
    let mut queue = QueueConfig::new(scratch.settings.amqp_url.clone());
    queue.prefix = scratch.settings.queue_prefix.clone();
    queue.publish_partitions = scratch.settings.publish_partitions;
    queue.retry_delays = RETRY_DELAYS_SECS
        .iter()
        .map(|s| Duration::from_secs(*s))
        .collect();
    while Instant::now() < until && !interrupted.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_kill {
            supervisor.kill_one(rng, since).await;
            next_kill = now + Duration::from_secs(rng.random_range(6..=20));
        }
        if rabbit_at.is_some_and(|t| now >= t) {
            rabbit_at = None;
            println!("{} restarting RabbitMQ", elapsed(since));
            let (s, queue) = (since, queue.clone());
            restarts.push(tokio::spawn(async move {
                let done = restart_rabbitmq(queue).await;
                println!("{} {}", elapsed(s), done.detail);
                done
            }));
        }
        if postgres_at.is_some_and(|t| now >= t) {
            postgres_at = None;
            println!("{} restarting PostgreSQL", elapsed(since));
            let (s, store) = (since, store.clone());
            restarts.push(tokio::spawn(async move {
                let done = restart_postgres(store).await;
                println!("{} {}", elapsed(s), done.detail);
                done
            }));
        }
        supervisor.tick(since)?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pushes = pusher.await.context("the pusher stopped")?;
    // Let running restarts finish (RabbitMQ must be up again whatever happens); a restart
    // whose time had not come when the chaos ended did not happen either.
    let mut disruptions = Vec::new();
    for r in restarts {
        disruptions.push(r.await.unwrap_or_else(|e| {
            Disruption::not_done("a restart", format!("the restart task failed: {e}"))
        }));
    }
    for (planned, pending) in [
        (RABBITMQ_RESTART, rabbit_at.is_some()),
        (POSTGRES_RESTART, postgres_at.is_some()),
    ] {
        if pending {
            disruptions.push(Disruption::not_done(
                planned,
                "not started: the chaos ended before its time".into(),
            ));
        }
    }
    sandbox.set_faults(Faults::default());
    println!(
        "{} pushing stopped: {} runs accepted in {} rounds ({} account rounds held back by backlog or database), faults off; settling",
        elapsed(since),
        pushes.accepted.len(),
        pushes.rounds,
        pushes.held_back
    );

    // Settle: every run of these accounts finished, or the time is up.
    let ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    let settle_start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        supervisor.tick(since)?;
        let unfinished = store.unfinished_runs(&ids).await.ok();
        if unfinished == Some(0) {
            println!(
                "{} settled in {:.0} s",
                elapsed(since),
                settle_start.elapsed().as_secs_f64()
            );
            break;
        }
        if settle_start.elapsed() > SETTLE || interrupted.load(Ordering::Relaxed) {
            println!(
                "{} gave up settling after {:.0} s with {} runs unfinished",
                elapsed(since),
                settle_start.elapsed().as_secs_f64(),
                unfinished.map_or("an unknown number of".into(), |n| n.to_string())
            );
            break;
        }
        if last_print.elapsed() > Duration::from_secs(15) {
            last_print = Instant::now();
            println!(
                "{} {} runs unfinished",
                elapsed(since),
                unfinished.map_or("?".into(), |n| n.to_string())
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::ensure!(
        !interrupted.load(Ordering::Relaxed),
        "interrupted: no reconciliation"
    );
    let mut report = reconcile(store, sandbox, accounts, itglue_keys, pushes).await?;
    report.disruptions = disruptions;
    Ok(report)
}

/// Checks every accepted run and the documents in the sandbox.
async fn reconcile(
    store: &Store,
    sandbox: &Sandbox,
    accounts: &[HarnessAccount],
    itglue_keys: &[String],
    pushes: Pushes,
) -> anyhow::Result<ChaosReport> {
    let mut report = ChaosReport {
        accepted: pushes.accepted.len(),
        refused: pushes.refused,
        unanswered: pushes.unanswered,
        ..ChaosReport::default()
    };
    let fixture_of: HashMap<_, _> = accounts
        .iter()
        .flat_map(|a| a.tenants.iter().map(move |(t, i)| ((a.id, *t), *i)))
        .collect();
    let key_of: HashMap<AccountId, &String> = accounts
        .iter()
        .map(|a| a.id)
        .zip(itglue_keys.iter())
        .collect();
    let mut reasons: HashMap<String, usize> = HashMap::new();
    let mut written: HashSet<(AccountId, Provider, usize)> = HashSet::new();
    for (account, provider, id) in &pushes.accepted {
        let run = store
            .run(*account, *id)
            .await
            .with_context(|| format!("reading run {id}"))?;
        let Some(run) = run else {
            report.lost += 1;
            report
                .lost_runs
                .push(format!("{id} ({provider:?}): no such run"));
            continue;
        };
        match run.state {
            RunState::Succeeded => {
                report.succeeded += 1;
                if let Some(i) = fixture_of.get(&(*account, run.tenant_id)) {
                    written.insert((*account, *provider, *i));
                }
            }
            RunState::Failed => {
                let error = run.error.as_deref().map(str::trim);
                if classify_failure(error, INJECTED_PERMANENT).explained() {
                    report.failed += 1;
                    let reason: String = error.unwrap_or_default().chars().take(100).collect();
                    *reasons.entry(reason).or_default() += 1;
                } else {
                    report.failed_unexplained += 1;
                    report.unexplained.push(format!(
                        "{id} ({provider:?}, attempts {}): {}",
                        run.attempts,
                        error.filter(|e| !e.is_empty()).unwrap_or("no reason")
                    ));
                }
            }
            state => {
                report.lost += 1;
                report.lost_runs.push(format!(
                    "{id} ({provider:?}, attempts {}): {} since {}, last error: {}",
                    run.attempts,
                    state.as_str(),
                    run.updated_at.format("%H:%M:%S%.3f"),
                    run.error.as_deref().unwrap_or("none")
                ));
            }
        }
    }
    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    report.reasons = reasons;

    // Duplicates: more than one Hudu article per (company, title), more than one IT Glue
    // asset per (account key, organization, name).
    let articles = sandbox.hudu_articles();
    let mut per_article: HashMap<(u64, &str), usize> = HashMap::new();
    for a in &articles {
        *per_article
            .entry((a.company_id, a.name.as_str()))
            .or_default() += 1;
    }
    report.hudu_duplicates = per_article.values().map(|n| n - 1).sum();
    for ((company, title), _) in per_article.iter().filter(|(_, n)| **n > 1) {
        let copies: Vec<String> = articles
            .iter()
            .filter(|a| a.company_id == *company && a.name == *title)
            .map(|a| {
                format!(
                    "#{} created {} ({} versions)",
                    a.id,
                    a.created_at.format("%H:%M:%S%.3f"),
                    a.versions
                )
            })
            .collect();
        report.duplicates.push(format!(
            "Hudu company {company} {title:?}: {}",
            copies.join(", ")
        ));
    }
    let mut assets_of: HashMap<&String, Vec<docsync_sandbox::ItGlueAsset>> = HashMap::new();
    for key in itglue_keys {
        let assets = sandbox.itglue_assets(key);
        let mut per_asset: HashMap<(u64, &str), usize> = HashMap::new();
        for a in &assets {
            *per_asset
                .entry((a.organization_id, a.name.as_str()))
                .or_default() += 1;
        }
        report.itglue_duplicates += per_asset.values().map(|n| n - 1).sum::<usize>();
        for ((organization, name), _) in per_asset.iter().filter(|(_, n)| **n > 1) {
            let copies: Vec<String> = assets
                .iter()
                .filter(|a| a.organization_id == *organization && a.name == *name)
                .map(|a| {
                    format!(
                        "#{} created {} ({} versions)",
                        a.id,
                        a.created_at.format("%H:%M:%S%.3f"),
                        a.versions
                    )
                })
                .collect();
            report.duplicates.push(format!(
                "IT Glue key {key} organization {organization} {name:?}: {}",
                copies.join(", ")
            ));
        }
        assets_of.insert(key, assets);
    }

    // Every succeeded (tenant, provider) has its document.
    for (account, provider, i) in written {
        let place = i as u64 + 1;
        let found = match provider {
            Provider::Hudu => articles.iter().any(|a| a.company_id == place),
            Provider::ItGlue => key_of
                .get(&account)
                .and_then(|k| assets_of.get(*k))
                .is_some_and(|list| list.iter().any(|a| a.organization_id == place)),
        };
        if !found {
            report.missing_documents += 1;
        }
    }
    println!(
        "documents: {} Hudu articles, {} IT Glue assets",
        articles.len(),
        assets_of.values().map(Vec::len).sum::<usize>()
    );
    Ok(report)
}

fn print_report(r: &ChaosReport) {
    let refused = if r.refused.is_empty() {
        "none".to_owned()
    } else {
        r.refused
            .iter()
            .map(|(s, n)| format!("{n} × {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!();
    println!(
        "disruptions: {} kill -9, {} processes exited by themselves",
        r.kills, r.exits
    );
    for d in &r.disruptions {
        println!(
            "  {}: {} ({})",
            d.planned,
            if d.happened {
                "happened"
            } else {
                "DID NOT HAPPEN"
            },
            d.detail
        );
    }
    println!(
        "push-all calls not accepted: {refused}; unanswered: {}",
        r.unanswered
    );
    println!("accepted pushes (202):           {}", r.accepted);
    println!("  succeeded:                     {}", r.succeeded);
    println!("  failed by design:              {}", r.failed);
    println!("  failed without explanation:    {}", r.failed_unexplained);
    println!("  lost (not finished):           {}", r.lost);
    println!(
        "duplicate documents:             {} (Hudu {}, IT Glue {})",
        r.hudu_duplicates + r.itglue_duplicates,
        r.hudu_duplicates,
        r.itglue_duplicates
    );
    println!("succeeded without a document:    {}", r.missing_documents);
    for (reason, n) in r.reasons.iter().take(5) {
        println!("  failure ×{n}: {reason}");
    }
    for line in r.unexplained.iter().take(20) {
        println!("  unexplained failure: {line}");
    }
    for line in r.lost_runs.iter().take(20) {
        println!("  lost: {line}");
    }
    for line in r.duplicates.iter().take(20) {
        println!("  duplicate: {line}");
    }
    let problems = r.problems();
    if problems.is_empty() {
        println!("verdict: CLEAN (nothing lost, nothing duplicated, every failure by design, every planned disruption happened)");
    } else {
        println!("verdict: NOT CLEAN");
        for p in problems {
            println!("  {p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn happened(planned: &'static str) -> Disruption {
        Disruption::done(planned, "restarted".into())
    }

    /// A report of a run where everything went to plan.
    fn clean_report() -> ChaosReport {
        ChaosReport {
            accepted: 10,
            succeeded: 9,
            failed: 1,
            disruptions: vec![happened(RABBITMQ_RESTART), happened(POSTGRES_RESTART)],
            ..ChaosReport::default()
        }
    }

    #[test]
    fn a_job_parked_after_the_delivery_limit_is_a_failure_by_design() {
        let reason = docsync_queue::worker::over_limit_reason("docsync-chaos-1.dead", 20);
        assert_eq!(classify_failure(Some(&reason), &[]), FailureClass::Parked);
        assert!(FailureClass::Parked.explained());
    }

    #[test]
    fn only_an_injected_permanent_4xx_is_explained_among_provider_answers() {
        let forbidden = "Hudu at 127.0.0.1:4000 answered 403 Forbidden: the key may not write";
        assert_eq!(
            classify_failure(Some(forbidden), &[403, 404]),
            FailureClass::InjectedPermanent(403)
        );
        // The same answer when the plan injects no 403: a finding.
        assert_eq!(
            classify_failure(Some(forbidden), &[404]),
            FailureClass::Unexplained
        );
        assert_eq!(
            classify_failure(Some(forbidden), &[]),
            FailureClass::Unexplained
        );
        // 429 and 408 are retried, never permanent; 5xx are transient.
        let throttled = "IT Glue at h answered 429 Too Many Requests: slow down";
        assert_eq!(
            classify_failure(Some(throttled), &[429]),
            FailureClass::Unexplained
        );
        let bad_gateway = "Hudu at h answered 502 Bad Gateway: upstream";
        assert_eq!(
            classify_failure(Some(bad_gateway), &[502]),
            FailureClass::Unexplained
        );
    }

    #[test]
    fn any_other_failure_with_a_message_is_not_explained() {
        for error in [
            "gave up after the retries allowed: Hudu at h answered 403 Forbidden: x",
            "gave up after the retries allowed: Hudu at h answered 502 Bad Gateway: x",
            "the tenant was deleted",
            "collecting took longer than 600 s",
            "a reason mentioning parked in the dead-letter queue later on",
        ] {
            assert_eq!(
                classify_failure(Some(error), &[403]),
                FailureClass::Unexplained,
                "{error}"
            );
        }
        assert_eq!(classify_failure(None, &[403]), FailureClass::Unexplained);
        assert_eq!(
            classify_failure(Some("  "), &[403]),
            FailureClass::Unexplained
        );
    }

    #[test]
    fn a_run_where_everything_went_to_plan_is_clean_with_failures_by_design() {
        let report = clean_report();
        assert_eq!(report.problems(), Vec::<String>::new());
        assert!(report.clean());
    }

    #[test]
    fn a_planned_restart_that_failed_or_never_started_makes_the_run_not_clean() {
        let mut failed = clean_report();
        failed.disruptions[1] = Disruption::not_done(
            POSTGRES_RESTART,
            "PostgreSQL restart failed: `pg_ctlcluster` failed (exit status: 1): no cluster".into(),
        );
        assert!(!failed.clean());
        assert_eq!(
            failed.problems(),
            vec!["planned PostgreSQL restart did not happen: PostgreSQL restart failed: `pg_ctlcluster` failed (exit status: 1): no cluster".to_owned()]
        );

        let mut missing = clean_report();
        missing
            .disruptions
            .retain(|d| d.planned != RABBITMQ_RESTART);
        assert!(!missing.clean());
        assert_eq!(
            missing.problems(),
            vec!["planned RabbitMQ restart did not happen: never started".to_owned()]
        );

        let none = ChaosReport::default();
        assert_eq!(none.problems().len(), 2, "{:?}", none.problems());
    }

    #[test]
    fn an_unexplained_failure_or_lost_run_makes_the_run_not_clean() {
        let mut unexplained = clean_report();
        unexplained.failed_unexplained = 1;
        assert!(!unexplained.clean());
        assert_eq!(
            unexplained.problems(),
            vec!["1 runs failed without an explanation (not permanent by design)".to_owned()]
        );
        for change in [
            |r: &mut ChaosReport| r.lost = 1,
            |r: &mut ChaosReport| r.hudu_duplicates = 1,
            |r: &mut ChaosReport| r.itglue_duplicates = 1,
            |r: &mut ChaosReport| r.missing_documents = 1,
        ] {
            let mut report = clean_report();
            change(&mut report);
            assert!(!report.clean(), "{report:?}");
        }
    }
}
