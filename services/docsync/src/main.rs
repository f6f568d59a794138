//! `docsync`: one binary for every role and admin command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use docsync::fleet::{self, Fleet, Roles};
use docsync::Settings;
use docsync_sandbox::{Sandbox, SandboxConfig, SandboxPorts};

#[derive(Parser)]
#[command(
    name = "docsync",
    version,
    about = "Mirrors Microsoft 365 posture into Hudu and IT Glue"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply database migrations (creates the database if missing; idempotent).
    Migrate,
    /// Run the HTTP API.
    Api,
    /// Run the scheduler.
    Scheduler,
    /// Run a collector.
    Collector,
    /// Run a publisher.
    Publisher,
    /// Run every role in one process.
    All,
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run the provider emulators (Graph + login + Exchange, Hudu, IT Glue, ConnectWise Manage,
    /// HaloPSA, Autotask) on loopback.
    Sandbox {
        /// First port: Graph, then login, Exchange, Hudu, IT Glue us, eu, au, ConnectWise,
        /// HaloPSA and Autotask on the next nine (0 = any free).
        #[arg(long, default_value_t = 9400)]
        port: u16,
    },
    /// The whole product on one machine against the sandbox; then keeps the fleet running and
    /// prints the status page's address until Ctrl-C. Logs go to a file it names.
    Demo {
        /// Stop once the results are printed (for scripts).
        #[arg(long)]
        exit: bool,
    },
    /// Re-encrypt every stored secret from DOCSYNC_MASTER_KEY to DOCSYNC_NEW_MASTER_KEY (one
    /// transaction; safe to run again after an interruption).
    RotateKey,
    /// Run the fleet (child processes) under kill -9, a RabbitMQ and a PostgreSQL restart and
    /// sandbox faults, then reconcile: prints lost and duplicate counts, fails if any.
    /// Restarts the local RabbitMQ and PostgreSQL.
    Chaos {
        /// Minutes of chaos before the fleet settles.
        #[arg(long, default_value_t = 3.0)]
        minutes: f64,
        /// Collector processes, and as many publisher processes.
        #[arg(long, default_value_t = 2)]
        processes: usize,
        /// Tenants (50 per account; each account has Hudu and IT Glue).
        #[arg(long, default_value_t = 200)]
        tenants: usize,
    },
    /// Benchmarks (print figures and record them in docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The dead-letter queue: poison messages with the reason they were parked.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List parked messages (they stay parked).
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send parked messages back to the queue they came from, once the cause is fixed.
    Replay {
        /// The ids to replay (from `docsync dlq list`).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Replay every parked message.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Push throughput, pacing, CPU, latency and memory of the fleet against the sandbox's
    /// strict IT Glue limit (the fleet runs as child processes).
    Fleet {
        /// Tenants on the one key of scenario (a).
        #[arg(long, default_value_t = 2000)]
        single_key_tenants: usize,
        /// Keys of scenario (b).
        #[arg(long, default_value_t = 50)]
        keys: usize,
        /// Tenants per key in scenario (b).
        #[arg(long, default_value_t = 40)]
        tenants_per_key: usize,
        /// Tenants on the fresh key of scenario (c) (the first push: type and assets created).
        #[arg(long, default_value_t = 400)]
        fresh_key_tenants: usize,
        /// Rounds of scenario (b).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Push-now calls timed on the idle fleet.
        #[arg(long, default_value_t = 50)]
        latency_samples: usize,
        /// Publish messages queued for the publisher memory figure.
        #[arg(long, default_value_t = 10_000)]
        queued: usize,
        /// Measure against a sandbox that answers at once (easier than real providers; the
        /// rows say so).
        #[arg(long)]
        no_latency: bool,
    },
    /// A ConnectWise Manage sync into Hudu through the fleet (child processes) against the
    /// sandbox, with realistic latency on every Hudu and ConnectWise request (or a fixed one)
    /// and a strict Hudu budget: first syncs of 1 and of 50 companies, an unchanged re-sync,
    /// CPU per record.
    Psa {
        /// Configurations in all, in each scenario (1 company; then spread over --companies).
        #[arg(long, default_value_t = 10_000)]
        records: usize,
        /// Rounds of every scenario (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Companies of the second scenario.
        #[arg(long, default_value_t = 50)]
        companies: usize,
        /// Instead of the sandbox's realistic latency (answers lognormal, median 250 ms and
        /// p99 1.5 s, after 0-50 ms of transit jitter), add this constant delay to every Hudu
        /// and ConnectWise request (the first measurements used 150).
        #[arg(long, alias = "latency-ms")]
        fixed_latency_ms: Option<u64>,
        /// Hudu's budget: requests per window (the sandbox's limit per key and the Hudu
        /// integration's rateLimit).
        #[arg(long, default_value_t = 3000)]
        hudu_requests: u32,
        /// Hudu's budget window in seconds.
        #[arg(long, default_value_t = 60)]
        hudu_per_seconds: u32,
    },
    /// Drift: how long after a Conditional Access change in a tenant its Hudu article shows it,
    /// with `schedule.onChange` and a short poll (the whole fleet in this process).
    Drift {
        /// Changes timed.
        #[arg(long, default_value_t = 10)]
        samples: usize,
        /// The poll interval to run with (seconds).
        #[arg(long, default_value_t = 5)]
        poll_secs: u64,
    },
    /// One scheduler tick claiming and enqueueing a slot for many tenants.
    Scheduler {
        /// Mapped tenants.
        #[arg(long, default_value_t = 100_000)]
        tenants: i64,
        /// Ticks measured (each a new slot); the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its id.
    Create {
        /// The MSP's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (shown once).
    Create {
        /// The account id.
        #[arg(long)]
        account: String,
        /// Comma-separated: INTEGRATIONS_READ,INTEGRATIONS_MANAGE,TENANTS_READ,TENANTS_MANAGE.
        #[arg(long)]
        permissions: String,
    },
    /// Revoke an API token at once: every later request with it is answered 401.
    Revoke {
        /// The token's id (see `docsync token list`).
        #[arg(long, conflicts_with = "token", required_unless_present = "token")]
        token_id: Option<String>,
        /// The token itself; `-` reads it from standard input (keeps it out of shell history).
        #[arg(long)]
        token: Option<String>,
    },
    /// List an account's tokens: ids, permissions, created, revoked (never the tokens).
    List {
        /// The account id.
        #[arg(long)]
        account: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let service = match &cli.command {
        Command::Api => "docsync-api",
        Command::Scheduler => "docsync-scheduler",
        Command::Collector => "docsync-collector",
        Command::Publisher => "docsync-publisher",
        _ => "docsync",
    };
    // The demo's screen is its progress and results; its logs go to a file it names.
    let demo_log = matches!(cli.command, Command::Demo { .. })
        .then(|| std::env::temp_dir().join(format!("docsync-demo-{}.log", std::process::id())));
    let _telemetry = match &demo_log {
        Some(path) => docsync_telemetry::init_to_file("docsync-demo", path)?,
        None => docsync_telemetry::init(service),
    };
    let settings = Settings::from_env()?;
    match cli.command {
        Command::Migrate => {
            fleet::connect_store(&settings).await?;
            println!("migrations applied");
        }
        Command::Api => {
            run_roles(
                &settings,
                Roles {
                    api: true,
                    ..Roles::default()
                },
            )
            .await?
        }
        Command::Scheduler => {
            run_roles(
                &settings,
                Roles {
                    scheduler: true,
                    ..Roles::default()
                },
            )
            .await?
        }
        Command::Collector => {
            run_roles(
                &settings,
                Roles {
                    collector: true,
                    ..Roles::default()
                },
            )
            .await?
        }
        Command::Publisher => {
            run_roles(
                &settings,
                Roles {
                    publisher: true,
                    ..Roles::default()
                },
            )
            .await?
        }
        Command::All => run_roles(&settings, Roles::all()).await?,
        Command::Account {
            command: AccountCommand::Create { name },
        } => {
            let name = name.trim();
            if name.is_empty() {
                anyhow::bail!("--name is empty: give the MSP's name");
            }
            let store = fleet::connect_store(&settings).await?;
            println!("{}", store.create_account(name).await?);
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    account,
                    permissions,
                },
        } => {
            let account = account
                .parse()
                .map_err(anyhow::Error::msg)
                .context("--account")?;
            let permissions =
                docsync::admin::parse_permissions(&permissions).context("--permissions")?;
            let store = fleet::connect_store(&settings).await?;
            println!(
                "{}",
                docsync::admin::create_token(&store, account, &permissions).await?
            );
        }
        Command::Sandbox { port } => {
            let next = |n: u16| if port == 0 { 0 } else { port + n };
            let sandbox = Sandbox::start_on(
                SandboxConfig::default(),
                SandboxPorts {
                    graph: next(0),
                    login: next(1),
                    exchange: next(2),
                    hudu: next(3),
                    itglue_us: next(4),
                    itglue_eu: next(5),
                    itglue_au: next(6),
                    connectwise: next(7),
                    halo: next(8),
                    autotask: next(9),
                },
            )
            .await?;
            println!("DOCSYNC_GRAPH_URL={}", sandbox.graph_url);
            println!("DOCSYNC_LOGIN_URL={}", sandbox.login_url);
            println!("DOCSYNC_EXCHANGE_URL={}", sandbox.exchange_url);
            println!("Hudu baseUrl: {}", sandbox.hudu_url);
            println!("ConnectWise Manage site: {}", sandbox.connectwise_url);
            println!("HaloPSA resource server: {}/api", sandbox.halo_url);
            println!(
                "DOCSYNC_AUTOTASK_ZONE_URL={}",
                sandbox.autotask_zone_discovery_url()
            );
            println!("IT Glue us: {}", sandbox.itglue_us_url);
            println!("IT Glue eu: {}", sandbox.itglue_eu_url);
            println!("IT Glue au: {}", sandbox.itglue_au_url);
            println!(
                "Faults: GET/PUT {}/_sandbox/faults (any port)",
                sandbox.graph_url
            );
            fleet::signal().await;
            sandbox.shutdown();
        }
        Command::Demo { exit } => docsync::demo::run(settings, demo_log.as_deref(), !exit).await?,
        Command::Chaos {
            minutes,
            processes,
            tenants,
        } => {
            docsync::chaos::command(
                settings,
                docsync::chaos::ChaosOptions {
                    minutes,
                    processes,
                    tenants,
                },
            )
            .await?
        }
        Command::RotateKey => {
            let old = settings.master_key()?;
            let new = docsync::admin::new_master_key_from_env()?;
            let store = fleet::connect_store(&settings).await?;
            println!("{}", docsync::admin::rotate_key(&store, &old, &new).await?);
        }
        Command::Token {
            command: TokenCommand::Revoke { token_id, token },
        } => {
            let target = match (token_id, token) {
                (Some(id), _) => docsync::admin::TokenRef::Id(
                    id.trim()
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--token-id must be a token id (a UUID from `docsync token list`), got {id:?}"))?,
                ),
                (None, Some(token)) if token == "-" => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the token from standard input")?;
                    docsync::admin::TokenRef::Token(line.into())
                }
                (None, Some(token)) => docsync::admin::TokenRef::Token(token.into()),
                (None, None) => anyhow::bail!("give --token-id ID or --token TOKEN"),
            };
            let store = fleet::connect_store(&settings).await?;
            println!("{}", docsync::admin::revoke_token(&store, &target).await?);
        }
        Command::Token {
            command: TokenCommand::List { account },
        } => {
            let account = account
                .parse()
                .map_err(anyhow::Error::msg)
                .context("--account")?;
            let store = fleet::connect_store(&settings).await?;
            print!(
                "{}",
                docsync::admin::token_table(&docsync::admin::list_tokens(&store, account).await?)
            );
        }
        Command::Dlq {
            command: DlqCommand::List { limit },
        } => {
            let (_, broker) = fleet::connect(&settings).await?;
            let letters = broker.dead_letters(limit).await?;
            println!(
                "{} parked message(s) in {}",
                letters.len(),
                broker.dead_letter_queue()
            );
            for l in letters {
                println!(
                    "{}  from {}  at {}\n  reason: {}\n  body: {}",
                    l.id, l.origin, l.at, l.reason, l.body
                );
            }
            broker.close().await;
        }
        Command::Dlq {
            command: DlqCommand::Replay { ids, all },
        } => {
            if ids.is_empty() && !all {
                anyhow::bail!("name the messages to replay with --id ID (see `docsync dlq list`), or replay every one with --all");
            }
            let (store, broker) = fleet::connect(&settings).await?;
            // Runs that failed because their job was parked after the delivery limit are
            // reopened first, so that the replayed jobs find them in flight.
            for letter in broker.dead_letters(100_000).await? {
                if !ids.is_empty() && !ids.contains(&letter.id) {
                    continue;
                }
                if let Some((run, publishing)) = docsync_queue::worker::parked_after_limit(&letter)
                {
                    store
                        .reopen_parked(run, publishing, docsync_queue::worker::PARKED)
                        .await?;
                }
            }
            let replayed = broker.replay_dead_letters(&ids).await?;
            println!("replayed {replayed} message(s)");
            broker.close().await;
        }
        Command::Bench {
            command:
                BenchCommand::Psa {
                    records,
                    runs,
                    companies,
                    fixed_latency_ms,
                    hudu_requests,
                    hudu_per_seconds,
                },
        } => {
            docsync::bench_psa::psa(
                settings,
                docsync::bench_psa::PsaBenchOptions {
                    records,
                    runs: runs.max(1),
                    companies,
                    latency: fixed_latency_ms.map_or(
                        docsync::bench_psa::BenchLatency::Realistic,
                        docsync::bench_psa::BenchLatency::FixedMs,
                    ),
                    hudu_requests,
                    hudu_per_seconds,
                },
            )
            .await?;
        }
        Command::Bench {
            command: BenchCommand::Drift { samples, poll_secs },
        } => {
            docsync::bench_drift::drift(
                settings,
                docsync::bench_drift::DriftBenchOptions {
                    samples: samples.max(1),
                    poll_secs,
                },
            )
            .await?;
        }
        Command::Bench {
            command: BenchCommand::Scheduler { tenants, runs },
        } => {
            docsync::bench::scheduler(settings, tenants, runs.max(1)).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Fleet {
                    single_key_tenants,
                    keys,
                    tenants_per_key,
                    fresh_key_tenants,
                    runs,
                    latency_samples,
                    queued,
                    no_latency,
                },
        } => {
            docsync::bench_fleet::fleet(
                settings,
                docsync::bench_fleet::FleetBenchOptions {
                    single_key_tenants,
                    keys,
                    tenants_per_key,
                    fresh_key_tenants,
                    runs,
                    latency_samples,
                    queued,
                    latency: !no_latency,
                },
            )
            .await?;
        }
    }
    Ok(())
}

async fn run_roles(settings: &Settings, roles: Roles) -> anyhow::Result<()> {
    let fleet = Fleet::start(settings, roles).await?;
    if let Some(addr) = fleet.api_addr {
        println!("docsync API listening on http://{addr}");
    }
    fleet.run_until(fleet::signal()).await
}
