//! Sync runs: a PSA's records mirrored into a destination. They live beside push runs in
//! `push_runs` (kind `sync`, no tenant) so acceptance, relay of unconfirmed messages, stalled
//! run recovery and events are the same machinery; they carry counts instead of a document.
//!
//! Like push runs, a sync run only moves forward: `queued` -> `collecting` -> `publishing` ->
//! `succeeded` | `failed`, each change one conditional statement with its event, through the
//! same [`Store::transition`] as push runs.

use crate::prepared::Prepared;
use crate::runs::{RunOfKind, Transition, COLUMNS};
use crate::{account, parse, ObjectKey, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::psa::PsaKind;
use docsync_domain::{AccountId, RunId, RunState, Trigger};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

/// What a sync did to the destination's objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncCounts {
    /// Objects created.
    pub created: i64,
    /// Objects written in place because they changed.
    pub updated: i64,
    /// Records seen whose object was already up to date (no write).
    pub unchanged: i64,
    /// Objects archived (inactive or gone in the PSA).
    pub archived: i64,
    /// Objects brought back from the archive.
    pub unarchived: i64,
    /// Records left out by the integration's skip options.
    pub skipped: i64,
    /// Records the destination refused (each named in the run's events).
    pub failed: i64,
}

/// A stored sync run.
#[derive(Debug, Clone)]
pub struct SyncRun {
    /// Id.
    pub id: RunId,
    /// Owning account.
    pub account_id: AccountId,
    /// The PSA read.
    pub psa: PsaKind,
    /// What started it.
    pub trigger: Trigger,
    /// Where it is.
    pub state: RunState,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Why it failed (or the last transient error while retrying).
    pub error: Option<String>,
    /// What it did so far (final once finished).
    pub counts: SyncCounts,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Succeeded or failed at.
    pub finished_at: Option<DateTime<Utc>>,
}

fn sync_run(row: &Row) -> StoreResult<SyncRun> {
    let psa: String = row.get("provider");
    let trigger: String = row.get("trigger");
    let state: String = row.get("state");
    let counts: Option<serde_json::Value> = row.get("counts");
    Ok(SyncRun {
        id: RunId(row.get("id")),
        account_id: account(row.get("account_id")),
        psa: parse(&psa)?,
        trigger: parse(&trigger)?,
        state: parse(&state)?,
        attempts: row.get("attempts"),
        error: row.get("error"),
        counts: counts
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default(),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        finished_at: row.get("finished_at"),
    })
}

impl RunOfKind for SyncRun {
    const KIND: Option<&'static str> = Some("sync");
    fn from_row(row: &Row) -> StoreResult<Self> {
        sync_run(row)
    }
}

impl Store {
    /// Creates a queued sync run.
    pub async fn create_sync_run(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        trigger: Trigger,
    ) -> StoreResult<RunId> {
        let id = Uuid::new_v4();
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state, kind)
                 VALUES ($1, $2, NULL, $3, $4, 'queued', 'sync')",
                &[&id, &account_id.0, &psa.as_str(), &trigger.as_str()],
            )
            .await?;
        Ok(RunId(id))
    }

    /// A sync run of the account.
    pub async fn sync_run(&self, account_id: AccountId, id: RunId) -> StoreResult<Option<SyncRun>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!("SELECT {COLUMNS} FROM push_runs WHERE account_id = $1 AND id = $2 AND kind = 'sync'"),
                &[&account_id.0, &id.0],
            )
            .await?;
        row.as_ref().map(sync_run).transpose()
    }

    /// The account's sync runs among `ids` (others' and unknown ids left out), in one query.
    pub async fn sync_runs_by_ids(
        &self,
        account_id: AccountId,
        ids: &[RunId],
    ) -> StoreResult<Vec<SyncRun>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!("SELECT {COLUMNS} FROM push_runs WHERE account_id = $1 AND id = ANY($2) AND kind = 'sync'"),
                &[&account_id.0, &ids],
            )
            .await?;
        rows.iter().map(sync_run).collect()
    }

    /// A sync run by id alone, for workers.
    pub async fn sync_run_for_worker(&self, id: RunId) -> StoreResult<Option<SyncRun>> {
        self.worker_run(id).await
    }

    /// The account's sync runs of `psa`, newest first.
    pub async fn sync_runs(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        state: Option<RunState>,
        limit: i64,
    ) -> StoreResult<Vec<SyncRun>> {
        let state = state.map(|s| s.as_str());
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!(
                    "SELECT {COLUMNS} FROM push_runs
                      WHERE account_id = $1 AND provider = $2 AND kind = 'sync'
                        AND ($3::text IS NULL OR state = $3)
                      ORDER BY created_at DESC, id LIMIT $4"
                ),
                &[&account_id.0, &psa.as_str(), &state, &limit.clamp(1, 1000)],
            )
            .await?;
        rows.iter().map(sync_run).collect()
    }

    /// Whether the account has a sync of `psa` that has not finished (a second one waits).
    pub async fn sync_in_progress(
        &self,
        account_id: AccountId,
        psa: PsaKind,
    ) -> StoreResult<Option<RunId>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT id FROM push_runs WHERE account_id = $1 AND provider = $2 AND kind = 'sync'
                    AND state IN ('queued', 'collecting', 'publishing') ORDER BY created_at LIMIT 1",
                &[&account_id.0, &psa.as_str()],
            )
            .await?;
        Ok(row.map(|r| RunId(r.get(0))))
    }

    /// The records are read and stored: on to the publishers.
    pub async fn sync_collected(&self, id: RunId, detail: &str) -> StoreResult<Option<SyncRun>> {
        self.transition(Transition {
            detail: Some(detail.to_owned()),
            ..Transition::new(id, &["collecting"], RunState::Publishing)
        })
        .await
    }

    /// A publisher works on the run (counting the attempt); None when it is not publishing.
    pub async fn begin_sync_publishing(&self, id: RunId) -> StoreResult<Option<SyncRun>> {
        self.transition(Transition {
            count_attempt: true,
            ..Transition::new(id, &["publishing"], RunState::Publishing)
        })
        .await
    }

    /// Records a step of the run (an event in its history) without changing its state.
    pub async fn sync_event(&self, id: RunId, detail: &str) -> StoreResult<()> {
        self.record_sync_event(id, detail, false).await
    }

    /// Records a step of the run like [`Store::sync_event`], unless it is what the run's last
    /// event says already (a wait said once while it lasts).
    pub async fn sync_event_unless_last(&self, id: RunId, detail: &str) -> StoreResult<()> {
        self.record_sync_event(id, detail, true).await
    }

    async fn record_sync_event(
        &self,
        id: RunId,
        detail: &str,
        unless_last: bool,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "WITH touched AS (
                    UPDATE push_runs SET updated_at = now() WHERE id = $1 AND kind = 'sync'
                       AND state NOT IN ('succeeded', 'failed') RETURNING id, state)
                 INSERT INTO push_run_events (run_id, state, detail) SELECT id, state, $2 FROM touched
                  WHERE NOT $3 OR (SELECT detail FROM push_run_events WHERE run_id = $1
                                    ORDER BY at DESC LIMIT 1) IS DISTINCT FROM $2",
                &[&id.0, &detail, &unless_last],
            )
            .await?;
        Ok(())
    }

    /// Finishes the run as succeeded with its counts.
    pub async fn sync_succeeded(
        &self,
        id: RunId,
        counts: &SyncCounts,
        detail: &str,
    ) -> StoreResult<Option<SyncRun>> {
        self.transition(Transition {
            detail: Some(detail.to_owned()),
            counts: Some(counts),
            error: Some(None),
            ..Transition::new(id, &["collecting", "publishing"], RunState::Succeeded)
        })
        .await
    }

    /// Fails the run with a reason a person can act on (counts so far kept).
    pub async fn sync_failed(&self, id: RunId, reason: &str) -> StoreResult<Option<SyncRun>> {
        self.transition(Transition::failing(id, reason)).await
    }

    /// Fails a run of either kind whose job was parked in the dead-letter queue after the
    /// delivery limit, with `reason` (which names the queue and the deliveries). False when
    /// the run was finished already or is unknown.
    pub async fn fail_parked(&self, id: RunId, reason: &str) -> StoreResult<bool> {
        Ok(self.failed_any(id, reason).await?.is_some())
    }

    /// Reopens a run of either kind that failed because its job was parked after the
    /// delivery limit (its error begins with `parked`), for the replay of that job: back to
    /// `publishing` (a publish job) or `collecting` (a collect job), its error and finish
    /// cleared, an event saying so. In flight again, it is handed on by the stalled-run
    /// claim should the replayed message be lost. False when the run is not such a run.
    pub async fn reopen_parked(
        &self,
        id: RunId,
        publishing: bool,
        parked: &str,
    ) -> StoreResult<bool> {
        let to = if publishing {
            RunState::Publishing
        } else {
            RunState::Collecting
        };
        let reopened = self
            .client()
            .await?
            .execute_prepared(
                "WITH reopened AS (
                    UPDATE push_runs SET state = $2, error = NULL, finished_at = NULL, updated_at = now()
                     WHERE id = $1 AND state = 'failed' AND starts_with(error, $3) RETURNING id, state)
                 INSERT INTO push_run_events (run_id, state, detail)
                 SELECT id, state, 'its job was replayed from the dead-letter queue' FROM reopened",
                &[&id.0, &to.as_str(), &parked],
            )
            .await?;
        Ok(reopened > 0)
    }
}

impl Store {
    /// Records the destination refused in one batch of the run: each is noted once per run
    /// (a redelivered batch refusing it again adds nothing), and the run's `failed` count
    /// becomes the number of records noted, in one statement.
    pub async fn record_sync_failures(&self, id: RunId, refused: &[ObjectKey]) -> StoreResult<()> {
        if refused.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = refused.iter().map(|k| k.kind.as_str()).collect();
        let sources: Vec<&str> = refused.iter().map(|k| k.source_key.as_str()).collect();
        self.client()
            .await?
            .execute_prepared(
                "WITH noted AS (
                    INSERT INTO sync_failures (run_id, object_kind, source_key)
                    SELECT $1, k.kind, k.source FROM unnest($2::text[], $3::text[]) AS k(kind, source)
                    ON CONFLICT DO NOTHING RETURNING 1)
                 UPDATE push_runs SET counts = jsonb_set(coalesce(counts, '{}'::jsonb), '{failed}',
                        to_jsonb((SELECT count(*) FROM sync_failures WHERE run_id = $1)
                                 + (SELECT count(*) FROM noted)))
                  WHERE id = $1 AND kind = 'sync'",
                &[&id.0, &kinds, &sources],
            )
            .await?;
        Ok(())
    }
}
