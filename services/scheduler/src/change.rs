//! Change-triggered pushes (`schedule.onChange`): every `poll_every`, on a fixed cadence of
//! its own (see `docsync_store::change_watch`), each watched tenant's directory audit log is read since its cursor (less a look-back for entries Entra logs
//! late), and when entries about Conditional Access, authentication methods or domains appear
//! that the last poll had not seen, one push (trigger `change`) is enqueued per watching
//! integration: one per burst, however many entries it holds. Unrelated entries push nothing.
//! A tenant's first poll pushes what changed since it began to be watched (its row made, after
//! an integration mapping it said `onChange`); older history is not a change.
//!
//! Exactly once across scheduler replicas: a replica claims a due tenant with a lease in
//! PostgreSQL, and only the lease holder can commit the poll, whose runs are created in the
//! same transaction as the cursor advance (see `docsync_store::Store::finish_change_poll`).
//! Runs are enqueued the way the scheduler enqueues every run; a run whose message the broker
//! never confirmed is relayed later like any other.

use chrono::{DateTime, Utc};
use docsync_domain::crypto::{Binding, MasterKey};
use docsync_domain::{AccountId, ApiKey, RunId, Shutdown};
use docsync_queue::Broker;
use docsync_sources::{DirectoryAudit, GraphSource, MicrosoftCredentials, SourceError};
use docsync_store::{ClaimedWatch, PollOutcome, Store};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Change watching settings.
#[derive(Debug, Clone)]
pub struct ChangeConfig {
    /// How often each watched tenant's audit log is read (`DOCSYNC_CHANGE_POLL_SECS`).
    pub poll_every: Duration,
    /// Each poll reads this far before the cursor too, for entries Entra logs late (its
    /// audit log can lag the change by minutes); entries seen before are told apart by id.
    pub lookback: Duration,
    /// How long a claimed poll may take before another replica may take the tenant over.
    pub lease: Duration,
    /// Tenants polled at once by this process.
    pub concurrency: usize,
    /// Tenants claimed per round.
    pub claim_batch: i64,
}

impl ChangeConfig {
    /// The defaults with a poll every `poll_every`.
    pub fn every(poll_every: Duration) -> Self {
        Self {
            poll_every,
            lookback: Duration::from_secs(30 * 60),
            lease: Duration::from_secs(600).max(poll_every),
            concurrency: 16,
            claim_batch: 200,
        }
    }
}

impl Default for ChangeConfig {
    fn default() -> Self {
        Self::every(Duration::from_secs(300))
    }
}

/// What one round of polls did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Tenants whose audit log was read.
    pub polled: usize,
    /// Of those, first polls that found no change since watching began (cursor set, nothing
    /// pushed).
    pub first_polls: usize,
    /// Tenants whose audit log could not be read (retried next interval).
    pub failed: usize,
    /// Push runs created and enqueued for changes.
    pub enqueued: usize,
}

/// Polls watched tenants and enqueues pushes for their changes.
pub struct ChangeWatcher {
    store: Store,
    broker: std::sync::Arc<Broker>,
    master: MasterKey,
    source: GraphSource,
    config: ChangeConfig,
}

/// Most changes named in a run's event.
const NAMED_CHANGES: usize = 5;

impl ChangeWatcher {
    /// A watcher reading Graph through `source` (its URLs, retry policy and token cache).
    pub fn new(
        store: Store,
        broker: std::sync::Arc<Broker>,
        master: MasterKey,
        source: GraphSource,
        config: ChangeConfig,
    ) -> Self {
        Self {
            store,
            broker,
            master,
            source,
            config,
        }
    }

    /// Starts and stops watching tenants as integrations' `onChange` say, then polls every
    /// tenant that is due, in rounds, until none is.
    pub async fn poll_due(&self) -> anyhow::Result<PollReport> {
        self.store
            .sync_change_watches(self.config.poll_every)
            .await?;
        let mut report = PollReport::default();
        loop {
            let claimed = self
                .store
                .claim_change_polls(self.config.lease, self.config.claim_batch)
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let creds = self.credentials(&claimed).await?;
            let creds = &creds;
            let outcomes: Vec<anyhow::Result<Polled>> = futures::stream::iter(claimed)
                .map(|watch| async move {
                    let account = watch.account_id;
                    self.poll_one(watch, creds.get(&account)).await
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
            let mut runs: Vec<RunId> = Vec::new();
            for outcome in outcomes {
                match outcome? {
                    Polled::First => {
                        report.polled += 1;
                        report.first_polls += 1;
                    }
                    Polled::Done(mut created) => {
                        report.polled += 1;
                        runs.append(&mut created);
                    }
                    Polled::Failed => report.failed += 1,
                    Polled::LeaseLost => {}
                }
            }
            // If this fails the runs stay unconfirmed and the relay enqueues them later.
            report.enqueued += crate::dispatch(&self.store, &self.broker, &runs).await?;
        }
    }

    /// The Microsoft app of each account among `watches` (None: no usable connection).
    async fn credentials(
        &self,
        watches: &[ClaimedWatch],
    ) -> anyhow::Result<HashMap<AccountId, Result<MicrosoftCredentials, String>>> {
        let mut out = HashMap::new();
        for account in watches.iter().map(|w| w.account_id) {
            if out.contains_key(&account) {
                continue;
            }
            let creds = match self.store.microsoft_connection(account).await? {
                None => Err("no Microsoft connection: set the MSP's Graph app with PUT /connections/microsoft".to_owned()),
                Some(c) => self
                    .master
                    .open(&c.client_secret_sealed, &Binding::microsoft_client_secret(account))
                    .map_err(|e| e.to_string())
                    .and_then(|s| ApiKey::parse("clientSecret", &s))
                    .map(|secret| MicrosoftCredentials {
                        client_id: c.client_id,
                        client_secret: secret,
                    }),
            };
            out.insert(account, creds);
        }
        Ok(out)
    }

    async fn poll_one(
        &self,
        watch: ClaimedWatch,
        creds: Option<&Result<MicrosoftCredentials, String>>,
    ) -> anyhow::Result<Polled> {
        let every = self.config.poll_every;
        let creds = match creds {
            Some(Ok(c)) => c,
            Some(Err(reason)) => {
                self.store.fail_change_poll(&watch, reason, every).await?;
                return Ok(Polled::Failed);
            }
            None => {
                self.store
                    .fail_change_poll(&watch, "no Microsoft connection", every)
                    .await?;
                return Ok(Polled::Failed);
            }
        };
        let started = Utc::now();
        let lookback = chrono::Duration::from_std(self.config.lookback)?;
        let since = watch.cursor_at.unwrap_or(watch.watching_since).min(started) - lookback;
        let entries = match self
            .source
            .directory_audits_since(creds, &watch.microsoft_tenant_id, since)
            .await
        {
            Ok(entries) => entries,
            Err(e) => {
                let reason = describe_failure(&e);
                tracing::warn!(tenant = %watch.tenant_id, %reason, "directory audit log not read");
                self.store.fail_change_poll(&watch, &reason, every).await?;
                return Ok(Polled::Failed);
            }
        };
        let first = watch.cursor_at.is_none();
        let (changes, last_change_at) = if first {
            // Entries from before the tenant was watched are history, as if seen already.
            let history: Vec<String> = entries
                .iter()
                .filter(|e| e.activity_date_time < watch.watching_since)
                .map(|e| e.id.clone())
                .collect();
            new_changes(&entries, &history)
        } else {
            new_changes(&entries, &watch.seen_ids)
        };
        let mut seen_ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        seen_ids.sort();
        seen_ids.dedup();
        let outcome = PollOutcome {
            cursor_at: started,
            seen_ids,
            changes,
            last_change_at,
            every,
        };
        match self.store.finish_change_poll(&watch, &outcome).await? {
            None => Ok(Polled::LeaseLost),
            Some(runs) if first && runs.is_empty() => Ok(Polled::First),
            Some(runs) => {
                if !runs.is_empty() {
                    tracing::info!(tenant = %watch.tenant_id, runs = runs.len(), changes = %outcome.changes.join("; "), "tenant changed: pushes enqueued");
                }
                Ok(Polled::Done(runs))
            }
        }
    }

    /// Polls until `shutdown`: after each round, sleeps until the next tenant is due on the
    /// database's clock, but never longer than `max_sleep` (newly watched tenants are picked
    /// up that soon after their integration says `onChange`).
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let max_sleep = self.max_sleep();
        tracing::info!(
            poll_s = self.config.poll_every.as_secs(),
            "change watch started"
        );
        loop {
            let started = Instant::now();
            match self.poll_due().await {
                Ok(r) if r.enqueued > 0 || r.failed > 0 => tracing::info!(
                    polled = r.polled,
                    failed = r.failed,
                    enqueued = r.enqueued,
                    took_ms = started.elapsed().as_millis() as u64,
                    "change watch round"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "change watch round failed; retrying"),
            }
            let sleep = match self.store.next_change_poll_in().await {
                Ok(Some(due_in)) => due_in.min(max_sleep),
                Ok(None) => max_sleep,
                Err(e) => {
                    tracing::warn!(error = %e, "next change poll unknown; retrying");
                    max_sleep
                }
            };
            // A few milliseconds past the due time, so the claim finds the tenant due.
            let sleep = (sleep + Duration::from_millis(5)).max(Duration::from_millis(10));
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("change watch stopped");
        Ok(())
    }

    /// The longest the watcher sleeps between rounds: a quarter interval, 250 ms to 15 s.
    fn max_sleep(&self) -> Duration {
        (self.config.poll_every / 4).clamp(Duration::from_millis(250), Duration::from_secs(15))
    }
}

enum Polled {
    /// The tenant's first poll found nothing changed since watching began: its cursor is set,
    /// nothing is pushed.
    First,
    /// Polled; the runs its changes created (maybe none).
    Done(Vec<RunId>),
    /// The audit log could not be read.
    Failed,
    /// Another replica took the tenant over meanwhile; its poll counts.
    LeaseLost,
}

/// The relevant entries of `entries` not among `seen`, in words, and the newest one's time.
fn new_changes(
    entries: &[DirectoryAudit],
    seen: &[String],
) -> (Vec<String>, Option<DateTime<Utc>>) {
    let seen: HashSet<&str> = seen.iter().map(String::as_str).collect();
    let mut fresh: Vec<&DirectoryAudit> = entries
        .iter()
        .filter(|e| !seen.contains(e.id.as_str()) && e.change().is_some())
        .collect();
    fresh.sort_by_key(|e| e.activity_date_time);
    fresh.dedup_by(|a, b| a.id == b.id);
    let newest = fresh.last().map(|e| e.activity_date_time);
    let mut words: Vec<String> = fresh
        .iter()
        .take(NAMED_CHANGES)
        .map(|e| {
            format!(
                "{} ({}) at {}",
                e.activity_display_name.as_deref().unwrap_or("a change"),
                e.change().map_or("", |k| k.as_str()),
                e.activity_date_time.format("%Y-%m-%d %H:%M:%S UTC")
            )
        })
        .collect();
    if fresh.len() > NAMED_CHANGES {
        words.push(format!("and {} more", fresh.len() - NAMED_CHANGES));
    }
    (words, newest)
}

fn describe_failure(e: &SourceError) -> String {
    match e {
        SourceError::Refused { reason } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(id: &str, category: &str, activity: &str, minute: u32) -> DirectoryAudit {
        DirectoryAudit {
            id: id.into(),
            category: Some(category.into()),
            activity_display_name: Some(activity.into()),
            activity_date_time: format!("2026-03-01T10:{minute:02}:00Z").parse().unwrap(),
            logged_by_service: None,
            result: Some("success".into()),
        }
    }

    #[test]
    fn only_unseen_relevant_entries_are_changes() {
        let entries = [
            entry("a", "Policy", "Update conditional access policy", 1),
            entry("b", "Policy", "Add conditional access policy", 3),
            entry("c", "UserManagement", "Update user", 4),
            entry("d", "DirectoryManagement", "Verify domain", 2),
        ];
        let (changes, newest) = new_changes(&entries, &["a".into()]);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            changes[0].starts_with("Verify domain (domains)"),
            "{changes:?}"
        );
        assert!(changes[1].starts_with("Add conditional access policy (conditional access)"));
        assert_eq!(newest, Some("2026-03-01T10:03:00Z".parse().unwrap()));
        let (none, newest) = new_changes(&entries[2..3], &[]);
        assert!(none.is_empty());
        assert_eq!(newest, None);
        let (all_seen, _) = new_changes(&entries, &["a".into(), "b".into(), "d".into()]);
        assert!(all_seen.is_empty());
    }

    #[test]
    fn a_long_burst_names_five_and_counts_the_rest() {
        let entries: Vec<DirectoryAudit> = (0..8)
            .map(|i| {
                entry(
                    &format!("e{i}"),
                    "Policy",
                    "Update conditional access policy",
                    i,
                )
            })
            .collect();
        let (changes, _) = new_changes(&entries, &[]);
        assert_eq!(changes.len(), 6);
        assert_eq!(changes[5], "and 3 more");
    }
}
