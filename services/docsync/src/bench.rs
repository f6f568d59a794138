//! `docsync bench scheduler`: how long one scheduler tick takes to claim and enqueue a slot
//! for many tenants, against the real PostgreSQL and RabbitMQ. Prints the figures and writes
//! them to docs/benchmarks.md.

use crate::fleet;
use crate::settings::Settings;
use chrono::{Duration, Timelike, Utc};
use docsync_domain::crypto::MasterKey;
use docsync_domain::{Provider, Schedule, ScheduleMode};
use docsync_store::IntegrationUpsert;
use std::time::Instant;

/// Runs the scheduler benchmark: `tenants` mapped tenants, `runs` ticks (each a new slot).
pub async fn scheduler(
    mut settings: Settings,
    tenants: i64,
    runs: usize,
) -> anyhow::Result<String> {
    settings.queue_prefix = format!(
        "docsync-bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (store, broker) = fleet::connect(&settings).await?;
    let account = store.create_account("Scheduler benchmark").await?;
    let result = async {
        let started = Instant::now();
        let ids = store.create_synthetic_tenants(account, tenants).await?;
        let master = MasterKey::parse(&MasterKey::generate_b64())?;
        let schedule = Schedule {
            mode: ScheduleMode::Hourly,
            at: "00:00".into(),
            time_zone: "Australia/Sydney".into(),
            hours: None,
            on_change: false,
        };
        store
            .upsert_integration(
                account,
                Provider::Hudu,
                &IntegrationUpsert {
                    base_url: Some("https://hudu.bench.invalid".into()),
                    region: None,
                    api_key_sealed: master.seal(
                        "bench-key-not-used-0000",
                        &docsync_domain::crypto::Binding::integration_api_key(account, Provider::Hudu),
                    ),
                    schedule: schedule.to_json(),
                    rate_limit: None,
                    options: Default::default(),
                    mappings: ids.iter().enumerate().map(|(i, t)| (*t, i as i64 + 1)).collect(),
                },
            )
            .await?;
        println!("set up {tenants} mapped tenants in {:.1} s", started.elapsed().as_secs_f64());
        let base = Utc::now()
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .unwrap_or_else(Utc::now);
        let mut seconds = Vec::new();
        for run in 0..runs {
            let now = base + Duration::hours(run as i64 + 1) + Duration::minutes(1);
            let t = Instant::now();
            let report = docsync_scheduler::tick(&store, &broker, now).await?;
            let took = t.elapsed().as_secs_f64();
            anyhow::ensure!(report.enqueued as i64 == tenants, "tick enqueued {} of {tenants}", report.enqueued);
            println!(
                "tick {}: claimed and enqueued {} slots in {took:.2} s (PostgreSQL {:.2} s, RabbitMQ {:.2} s)",
                run + 1,
                report.enqueued,
                report.claim_time.as_secs_f64(),
                report.enqueue_time.as_secs_f64()
            );
            seconds.push(took);
            // Keep the broker small between runs.
            let _ = broker.delete_topology().await;
            broker.declare_topology().await?;
        }
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        let rate = tenants as f64 / median;
        Ok::<String, anyhow::Error>(format!(
            "| scheduler tick, {tenants} tenant slots | {runs} runs | median {median:.2} s (min {:.2} s, max {:.2} s) | {rate:.0} slots/s | target < 10 s: {} |",
            seconds[0],
            seconds[seconds.len() - 1],
            if median < 10.0 { "met" } else { "MISSED" }
        ))
    }
    .await;
    let _ = broker.delete_topology().await;
    store.delete_account(account).await?;
    broker.close().await;
    let line = result?;
    println!("{line}");
    record("scheduler", &line)?;
    Ok(line)
}

/// Adds a benchmark line to docs/benchmarks.md, naming the build and the machine, at the end
/// of the list of recorded runs after `<!-- runs:{section} -->` (made at the end of the file
/// when missing).
pub(crate) fn record(section: &str, line: &str) -> anyhow::Result<()> {
    let path = std::path::Path::new("docs/benchmarks.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures recorded by `docsync bench ...` on the machine named in each row.\n\n".to_owned()
    });
    let host = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    let entry = format!(
        "- {build}, {} ({cores} cores, {host}): {line}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let marker = format!("<!-- runs:{section} -->");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match lines.iter().position(|l| l.trim() == marker) {
        Some(at) => {
            let mut end = at + 1;
            while lines.get(end).is_some_and(|l| l.starts_with("- ")) {
                end += 1;
            }
            lines.insert(end, entry);
        }
        None => {
            lines.push(String::new());
            lines.push(marker);
            lines.push(entry);
        }
    }
    if section == "fleet" {
        crate::bench_table::refresh(&mut lines);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, lines.join("\n") + "\n")?;
    Ok(())
}
