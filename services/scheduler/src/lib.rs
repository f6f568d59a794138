//! The scheduler role. Scheduled pushes are the same job as a push-now with trigger
//! `schedule`; until slot computation lands (the schedules issue), this role only holds its
//! place in the fleet: it starts, reports that no schedules are evaluated yet, and stops
//! cleanly on shutdown. Every push is available through the API (push now, push-all).

use docsync_domain::Shutdown;

/// Runs the scheduler role until `shutdown`.
pub async fn run(shutdown: Shutdown) -> anyhow::Result<()> {
    tracing::warn!("scheduler started: scheduled pushes are not evaluated in this version; use push now or push-all");
    shutdown.wait().await;
    tracing::info!("scheduler stopped");
    Ok(())
}
