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
    /// Run the provider emulators (Graph + login + Exchange, Hudu) on loopback.
    Sandbox {
        /// First port: Graph, then login, Exchange and Hudu on the next three (0 = any free).
        #[arg(long, default_value_t = 9400)]
        port: u16,
    },
    /// The whole product on one machine against the sandbox.
    Demo,
    /// Benchmarks (print figures and record them in docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
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
    let _telemetry = docsync_telemetry::init(service);
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
                },
            )
            .await?;
            println!("DOCSYNC_GRAPH_URL={}", sandbox.graph_url);
            println!("DOCSYNC_LOGIN_URL={}", sandbox.login_url);
            println!("DOCSYNC_EXCHANGE_URL={}", sandbox.exchange_url);
            println!("Hudu baseUrl: {}", sandbox.hudu_url);
            fleet::signal().await;
            sandbox.shutdown();
        }
        Command::Demo => docsync::demo::run(settings).await?,
        Command::Bench {
            command: BenchCommand::Scheduler { tenants, runs },
        } => {
            docsync::bench::scheduler(settings, tenants, runs.max(1)).await?;
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
