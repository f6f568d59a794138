//! Push runs and their history of state changes, and the one state machine of every run
//! (push runs here, sync runs in [`crate::sync_runs`]).
//!
//! State changes are conditional updates: a run only moves forward from the states it may
//! leave, so a redelivered message can never drag a finished run back. Every change of
//! either kind goes through [`Store::transition`], which reads the run back as its caller's
//! kind ([`Run`], [`SyncRun`], or [`AnyRun`] when the caller does not know which).

use crate::prepared::Prepared;
use crate::{account, parse, RemoteDocument, Store, StoreResult, SyncCounts, SyncRun};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, Provider, RunId, RunState, SnapshotId, TenantId, Trigger};
use tokio_postgres::Row;
use uuid::Uuid;

/// A run to create.
#[derive(Debug, Clone, Copy)]
pub struct NewRun {
    /// The tenant to push.
    pub tenant_id: TenantId,
    /// Where to.
    pub provider: Provider,
    /// Why.
    pub trigger: Trigger,
}

/// A stored push run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Id.
    pub id: RunId,
    /// Owning account.
    pub account_id: AccountId,
    /// Tenant pushed.
    pub tenant_id: TenantId,
    /// Provider written to.
    pub provider: Provider,
    /// What started it.
    pub trigger: Trigger,
    /// Where it is.
    pub state: RunState,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Why it failed (or the last transient error while retrying).
    pub error: Option<String>,
    /// The provider's document id once written.
    pub remote_id: Option<String>,
    /// The snapshot it publishes.
    pub snapshot_id: Option<SnapshotId>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Succeeded or failed at.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One state change of a run.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// The state entered.
    pub state: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Detail (error text, remote id, snapshot id).
    pub detail: Option<String>,
}

/// Filters for listing runs.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this tenant.
    pub tenant_id: Option<TenantId>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// A run of either kind, as a worker that knows only its id claims it.
#[derive(Debug, Clone)]
pub enum AnyRun {
    /// A posture push of one tenant.
    Push(Run),
    /// A PSA sync.
    Sync(SyncRun),
}

/// How a transition reads back the run it moved: the kind of run it may move (`None`:
/// either) and the row's shape as that kind.
pub(crate) trait RunOfKind: Sized {
    /// The `kind` column of the runs the transition may move; `None`: either kind.
    const KIND: Option<&'static str>;
    /// The run from a row of [`COLUMNS`].
    fn from_row(row: &Row) -> StoreResult<Self>;
}

impl RunOfKind for Run {
    const KIND: Option<&'static str> = Some("push");
    fn from_row(row: &Row) -> StoreResult<Self> {
        run(row)
    }
}

impl RunOfKind for AnyRun {
    const KIND: Option<&'static str> = None;
    fn from_row(row: &Row) -> StoreResult<Self> {
        let kind: &str = row.get("kind");
        Ok(match kind {
            "sync" => AnyRun::Sync(SyncRun::from_row(row)?),
            _ => AnyRun::Push(run(row)?),
        })
    }
}

/// One state change of a run and what it records with it.
pub(crate) struct Transition<'a> {
    pub(crate) id: RunId,
    /// The states it may move from.
    pub(crate) from: &'a [&'a str],
    pub(crate) to: RunState,
    /// The event's detail.
    pub(crate) detail: Option<String>,
    /// Count a worker's attempt.
    pub(crate) count_attempt: bool,
    /// The snapshot to publish, when collected (push runs).
    pub(crate) snapshot: Option<Uuid>,
    /// The provider's document id, when published.
    pub(crate) remote_id: Option<&'a str>,
    /// `Some`: set the error to this (None clears it); `None`: leave it.
    pub(crate) error: Option<Option<&'a str>>,
    /// What a sync did, when it finished (sync runs).
    pub(crate) counts: Option<&'a SyncCounts>,
    /// The tenant's document to record in the same statement (whatever the run's state).
    pub(crate) document: Option<DocumentRecord<'a>>,
    /// Move only if the tenant has a snapshot collected at or after this (for a change run:
    /// also at or after the run was made), and publish the newest such one.
    pub(crate) reuse_since: Option<DateTime<Utc>>,
}

/// A posture document recorded together with its run's transition.
pub(crate) struct DocumentRecord<'a> {
    account_id: AccountId,
    provider: Provider,
    tenant_id: TenantId,
    document: &'a RemoteDocument,
}

impl<'a> Transition<'a> {
    /// From one of `from` to `to`, recording nothing else.
    pub(crate) fn new(id: RunId, from: &'a [&'a str], to: RunState) -> Self {
        Self {
            id,
            from,
            to,
            detail: None,
            count_attempt: false,
            snapshot: None,
            remote_id: None,
            error: None,
            counts: None,
            document: None,
            reuse_since: None,
        }
    }

    /// The failure of a run of either kind with a reason a person can act on.
    pub(crate) fn failing(id: RunId, reason: &'a str) -> Self {
        Self {
            detail: Some(reason.to_owned()),
            error: Some(Some(reason)),
            ..Self::new(
                id,
                &["queued", "collecting", "publishing"],
                RunState::Failed,
            )
        }
    }
}

/// The columns every run is read from, whatever its kind (rows are read by column name).
pub(crate) const COLUMNS: &str = "id, account_id, tenant_id, provider, trigger, state, attempts, error, remote_id, snapshot_id, counts, kind, created_at, updated_at, finished_at";

fn run(row: &Row) -> StoreResult<Run> {
    let provider: String = row.get("provider");
    let trigger: String = row.get("trigger");
    let state: String = row.get("state");
    Ok(Run {
        id: RunId(row.get("id")),
        account_id: account(row.get("account_id")),
        tenant_id: TenantId(row.get("tenant_id")),
        provider: parse(&provider)?,
        trigger: parse(&trigger)?,
        state: parse(&state)?,
        attempts: row.get("attempts"),
        error: row.get("error"),
        remote_id: row.get("remote_id"),
        snapshot_id: row.get::<_, Option<Uuid>>("snapshot_id").map(SnapshotId),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        finished_at: row.get("finished_at"),
    })
}

impl Store {
    /// Creates runs in state `queued` (one statement), returning their ids in input order.
    pub async fn create_runs(
        &self,
        account_id: AccountId,
        runs: &[NewRun],
    ) -> StoreResult<Vec<RunId>> {
        let ids: Vec<Uuid> = runs.iter().map(|_| Uuid::new_v4()).collect();
        let tenants: Vec<Uuid> = runs.iter().map(|r| r.tenant_id.0).collect();
        let providers: Vec<&str> = runs.iter().map(|r| r.provider.as_str()).collect();
        let triggers: Vec<&str> = runs.iter().map(|r| r.trigger.as_str()).collect();
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state)
                 SELECT r.id, $1, r.tenant_id, r.provider, r.trigger, 'queued'
                   FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS r(id, tenant_id, provider, trigger)",
                &[&account_id.0, &ids, &tenants, &providers, &triggers],
            )
            .await?;
        Ok(ids.into_iter().map(RunId).collect())
    }

    /// Records that the broker confirmed the runs' collect messages.
    pub async fn mark_enqueued(&self, ids: &[RunId]) -> StoreResult<()> {
        let ids: Vec<Uuid> = ids.iter().map(|r| r.0).collect();
        self.client()
            .await?
            .execute_prepared(
                "UPDATE push_runs SET enqueued_at = now() WHERE id = ANY($1) AND enqueued_at IS NULL",
                &[&ids],
            )
            .await?;
        Ok(())
    }

    /// A run of the account.
    pub async fn run(&self, account_id: AccountId, id: RunId) -> StoreResult<Option<Run>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!("SELECT {COLUMNS} FROM push_runs WHERE account_id = $1 AND id = $2 AND kind = 'push'"),
                &[&account_id.0, &id.0],
            )
            .await?;
        row.as_ref().map(run).transpose()
    }

    /// The account's push runs among `ids` (others' and unknown ids left out), in one query.
    pub async fn runs_by_ids(&self, account_id: AccountId, ids: &[RunId]) -> StoreResult<Vec<Run>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!("SELECT {COLUMNS} FROM push_runs WHERE account_id = $1 AND id = ANY($2) AND kind = 'push'"),
                &[&account_id.0, &ids],
            )
            .await?;
        rows.iter().map(run).collect()
    }

    /// The events of every run of `ids`, as [`Store::run_events`] gives one run's, in one query.
    pub async fn events_of_runs(
        &self,
        ids: &[RunId],
    ) -> StoreResult<std::collections::HashMap<RunId, Vec<RunEvent>>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT id, 'queued', created_at, 'trigger: ' || trigger FROM push_runs WHERE id = ANY($1)
                 UNION ALL
                 SELECT run_id, state, at, detail FROM push_run_events WHERE run_id = ANY($1)
                 ORDER BY 1, 3",
                &[&ids],
            )
            .await?;
        let mut out: std::collections::HashMap<RunId, Vec<RunEvent>> = Default::default();
        for r in &rows {
            out.entry(RunId(r.get(0))).or_default().push(RunEvent {
                state: r.get(1),
                at: r.get(2),
                detail: r.get(3),
            });
        }
        Ok(out)
    }

    /// A push run by id alone, for workers acting on a queue message.
    pub async fn run_for_worker(&self, id: RunId) -> StoreResult<Option<Run>> {
        self.worker_run(id).await
    }

    /// A run of `R`'s kind by id alone.
    pub(crate) async fn worker_run<R: RunOfKind>(&self, id: RunId) -> StoreResult<Option<R>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!(
                    "SELECT {COLUMNS} FROM push_runs WHERE id = $1 AND ($2::text IS NULL OR kind = $2)"
                ),
                &[&id.0, &R::KIND],
            )
            .await?;
        row.as_ref().map(R::from_row).transpose()
    }

    /// A run of either kind by id alone, as its kind, for workers acting on a queue message.
    pub async fn any_run_for_worker(&self, id: RunId) -> StoreResult<Option<AnyRun>> {
        self.worker_run(id).await
    }

    /// Runs of the account for a provider, newest first.
    pub async fn runs(
        &self,
        account_id: AccountId,
        provider: Provider,
        filter: &RunFilter,
    ) -> StoreResult<Vec<Run>> {
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let tenant = filter.tenant_id.map(|t| t.0);
        let state = filter.state.map(|s| s.as_str());
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!(
                    "SELECT {COLUMNS} FROM push_runs
                      WHERE account_id = $1 AND provider = $2
                        AND ($3::uuid IS NULL OR tenant_id = $3)
                        AND ($4::text IS NULL OR state = $4)
                      ORDER BY created_at DESC, id LIMIT $5"
                ),
                &[&account_id.0, &provider.as_str(), &tenant, &state, &limit],
            )
            .await?;
        rows.iter().map(run).collect()
    }

    /// The run's history: `queued` at its creation (not stored: the run row holds it), then
    /// every state change.
    pub async fn run_events(&self, id: RunId) -> StoreResult<Vec<RunEvent>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT 'queued', created_at, 'trigger: ' || trigger FROM push_runs WHERE id = $1
                 UNION ALL
                 SELECT state, at, detail FROM push_run_events WHERE run_id = $1
                 ORDER BY 2",
                &[&id.0],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RunEvent {
                state: r.get(0),
                at: r.get(1),
                detail: r.get(2),
            })
            .collect())
    }

    /// Moves a run of either kind to `collecting` (from queued or collecting, counting the
    /// attempt). Returns the run, as its kind, when it may be worked on; None when it is
    /// already past collecting.
    pub async fn begin_collecting(&self, id: RunId) -> StoreResult<Option<AnyRun>> {
        self.transition(Transition {
            count_attempt: true,
            ..Transition::new(id, &["queued", "collecting"], RunState::Collecting)
        })
        .await
    }

    /// Records the snapshot and moves the run to `publishing`.
    pub async fn collected(&self, id: RunId, snapshot: SnapshotId) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            detail: Some(format!("snapshot {snapshot}")),
            snapshot: Some(snapshot.0),
            ..Transition::new(id, &["queued", "collecting"], RunState::Publishing)
        })
        .await
    }

    /// Moves a queued (or collecting) run straight to `publishing` with the tenant's newest
    /// snapshot collected at or after `since`, counting the attempt, in one statement; a run
    /// for a change (trigger `change`) takes only a snapshot collected since it was made.
    /// `None` when there is no such snapshot or the run is past collecting: then it is
    /// collected as usual.
    pub async fn collected_from_fresh_snapshot(
        &self,
        id: RunId,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            count_attempt: true,
            reuse_since: Some(since),
            ..Transition::new(id, &["queued", "collecting"], RunState::Publishing)
        })
        .await
    }

    /// Marks a publishing run as being worked on by a publisher (counts the attempt).
    pub async fn begin_publishing(&self, id: RunId) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            count_attempt: true,
            ..Transition::new(id, &["publishing"], RunState::Publishing)
        })
        .await
    }

    /// Records success with the provider's document id.
    pub async fn succeeded(&self, id: RunId, remote_id: &str) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            detail: Some(format!("document {remote_id}")),
            remote_id: Some(remote_id),
            error: Some(None),
            ..Transition::new(id, &["publishing"], RunState::Succeeded)
        })
        .await
    }

    /// Records the tenant's document (as [`Store::record_remote_document`]) and marks the run
    /// succeeded, in one statement: one round trip instead of two. The document is recorded
    /// even when the run has moved on meanwhile (it exists at the provider either way).
    pub async fn succeeded_with_document(
        &self,
        id: RunId,
        account_id: AccountId,
        provider: Provider,
        tenant_id: TenantId,
        document: &RemoteDocument,
    ) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            detail: Some(format!("document {}", document.remote_id)),
            remote_id: Some(&document.remote_id),
            error: Some(None),
            document: Some(DocumentRecord {
                account_id,
                provider,
                tenant_id,
                document,
            }),
            ..Transition::new(id, &["publishing"], RunState::Succeeded)
        })
        .await
    }

    /// Records success without a provider write: the content (timestamps aside) equals the
    /// document's last written one and the integration has `writeUnchanged: false`.
    pub async fn succeeded_unchanged(
        &self,
        id: RunId,
        remote_id: &str,
    ) -> StoreResult<Option<Run>> {
        self.transition(Transition {
            detail: Some(format!(
                "unchanged, not written: document {remote_id} already holds this content"
            )),
            remote_id: Some(remote_id),
            error: Some(None),
            ..Transition::new(id, &["publishing"], RunState::Succeeded)
        })
        .await
    }

    /// Records failure with a reason a person can act on.
    pub async fn failed(&self, id: RunId, reason: &str) -> StoreResult<Option<Run>> {
        self.transition(Transition::failing(id, reason)).await
    }

    /// Fails a run of either kind with a reason a person can act on (a job that timed out
    /// or was parked knows only the run's id).
    pub async fn failed_any(&self, id: RunId, reason: &str) -> StoreResult<Option<AnyRun>> {
        self.transition(Transition::failing(id, reason)).await
    }

    /// Notes a transient problem on a run that is being retried, without changing its state.
    pub async fn note_retry(&self, id: RunId, reason: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute_prepared(
                "WITH noted AS (
                    UPDATE push_runs SET error = $2, updated_at = now()
                     WHERE id = $1 AND state NOT IN ('succeeded', 'failed') RETURNING id, state)
                 INSERT INTO push_run_events (run_id, state, detail) SELECT id, state, $3 FROM noted",
                &[&id.0, &reason, &format!("retrying: {reason}")],
            )
            .await?;
        Ok(())
    }

    /// After a transient fault: when `next` names another try (its number and delay) the
    /// run (of either kind) records that it will be retried and true is returned; otherwise
    /// the run fails, saying how often it was tried.
    pub async fn retry_or_fail(
        &self,
        id: RunId,
        reason: &str,
        next: Option<(u32, std::time::Duration)>,
    ) -> StoreResult<bool> {
        match next {
            Some((retry, delay)) => {
                self.note_retry(
                    id,
                    &format!("{reason} (retry {retry} in {} s)", delay.as_secs()),
                )
                .await?;
                Ok(true)
            }
            None => {
                self.failed_any(id, &format!("gave up after the retries allowed: {reason}"))
                    .await?;
                Ok(false)
            }
        }
    }

    /// Moves a run of `R`'s kind from one of `from` to `to` and records the event, in one
    /// statement: the run is returned when it moved, None when it was in another state (or
    /// of another kind).
    pub(crate) async fn transition<R: RunOfKind>(
        &self,
        t: Transition<'_>,
    ) -> StoreResult<Option<R>> {
        let finished = t.to.is_final();
        let bump: i32 = i32::from(t.count_attempt);
        let (set_error, error) = match t.error {
            Some(error) => (true, error),
            None => (false, None),
        };
        // The document's row, when recorded with the transition: independent of `moved`, so
        // it is written whatever the run's state.
        let recorded = if t.document.is_some() {
            "recorded AS (
                INSERT INTO remote_objects (account_id, destination, object_kind, source_key, tenant_id, remote_id, remote_parent_id, title, fingerprint)
                VALUES ($13, $14, $15, $16::uuid::text, $16, $7, $17, $18, $19)
                ON CONFLICT (account_id, destination, object_kind, source_key)
                DO UPDATE SET remote_id = $7, remote_parent_id = $17, title = $18, fingerprint = $19, updated_at = now()),"
        } else {
            ""
        };
        let document = t.document.as_ref().map(|d| {
            (
                d.account_id.0,
                d.provider.as_str(),
                crate::documents::posture_kind(d.provider),
                d.tenant_id.0,
                d.document.remote_parent_id,
                d.document.title.as_str(),
                d.document.fingerprint.as_deref(),
            )
        });
        let since = t.reuse_since;
        let to = t.to.as_str();
        // The fresh snapshot to publish, found in the same statement; its parameter follows
        // the others.
        let reuse_param = if t.document.is_some() { 20 } else { 13 };
        let (fresh, reuse_set, reuse_where, logged_detail) = if t.reuse_since.is_some() {
            (
                format!(
                    "fresh AS (
                        SELECT (SELECT s.id FROM snapshots s
                                 WHERE s.tenant_id = r.tenant_id
                                   AND s.collected_at >= CASE WHEN r.trigger = 'change'
                                        THEN greatest(${reuse_param}, r.created_at) ELSE ${reuse_param} END
                                 ORDER BY s.collected_at DESC LIMIT 1) AS snapshot_id
                          FROM push_runs r WHERE r.id = $1),"
                ),
                "coalesce((SELECT snapshot_id FROM fresh), $6)",
                "AND (SELECT snapshot_id FROM fresh) IS NOT NULL",
                "coalesce($10, 'snapshot ' || snapshot_id::text || ' (reused)')",
            )
        } else {
            (String::new(), "$6", "", "$10")
        };
        let counts = t
            .counts
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| crate::StoreError::Corrupt(format!("sync counts: {e}")))?;
        let run_kind = R::KIND;
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
            &t.id.0,
            &to,
            &bump,
            &finished,
            &t.from,
            &t.snapshot,
            &t.remote_id,
            &set_error,
            &error,
            &t.detail,
            &counts,
            &run_kind,
        ];
        if let Some((account, destination, kind, tenant, parent, title, fingerprint)) = &document {
            params.extend_from_slice(&[
                account,
                destination,
                kind,
                tenant,
                parent,
                title,
                fingerprint,
            ]);
        }
        if let Some(since) = &since {
            params.push(since);
        }
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                &format!(
                    "WITH {recorded} {fresh} moved AS (
                        UPDATE push_runs SET state = $2, attempts = attempts + $3, updated_at = now(),
                               finished_at = CASE WHEN $4 THEN now() ELSE finished_at END,
                               snapshot_id = coalesce({reuse_set}, snapshot_id),
                               remote_id = coalesce($7, remote_id),
                               counts = coalesce($11, counts),
                               error = CASE WHEN $8 THEN $9 ELSE error END
                         WHERE id = $1 AND state = ANY($5) AND ($12::text IS NULL OR kind = $12)
                               {reuse_where}
                         RETURNING {COLUMNS}),
                     {hooked},
                     logged AS (
                        INSERT INTO push_run_events (run_id, state, detail)
                        SELECT id, state, {logged_detail} FROM moved)
                     SELECT {COLUMNS} FROM moved",
                    hooked = crate::webhooks::hooked_step("$4")
                ),
                &params,
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if finished {
            self.count_finished(
                row.get("provider"),
                row.get("trigger"),
                row.get("state"),
                row.get("created_at"),
                row.get("finished_at"),
            );
        }
        R::from_row(&row).map(Some)
    }

    /// How many runs of these accounts are not finished yet (one cheap query, for progress).
    pub async fn unfinished_runs(&self, accounts: &[AccountId]) -> StoreResult<i64> {
        let ids: Vec<Uuid> = accounts.iter().map(|a| a.0).collect();
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT count(*) FROM push_runs
                  WHERE account_id = ANY($1) AND state IN ('queued', 'collecting', 'publishing')",
                &[&ids],
            )
            .await?;
        Ok(row.get(0))
    }

    /// How many of the account's runs are in each state (for progress and reconciliation).
    pub async fn run_counts(&self, account_id: AccountId) -> StoreResult<RunCounts> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT state, count(*) FROM push_runs WHERE account_id = $1 GROUP BY state",
                &[&account_id.0],
            )
            .await?;
        let mut counts = RunCounts::default();
        for row in rows {
            let state: String = row.get(0);
            let n: i64 = row.get(1);
            match state.as_str() {
                "succeeded" => counts.succeeded += n,
                "failed" => counts.failed += n,
                _ => counts.unfinished += n,
            }
        }
        Ok(counts)
    }

    /// The account's runs (pushes and syncs) that finished within the last `window` or have
    /// not finished at all, counted by kind (`push`, `sync`), provider and state: what the
    /// status page sums up.
    pub async fn recent_run_states(
        &self,
        account_id: AccountId,
        window: std::time::Duration,
    ) -> StoreResult<Vec<RunStateCount>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT kind, provider, state, count(*) FROM push_runs
                  WHERE account_id = $1
                    AND (state NOT IN ('succeeded', 'failed')
                         OR coalesce(finished_at, updated_at) > now() - make_interval(secs => $2))
                  GROUP BY kind, provider, state
                  ORDER BY kind, provider, state",
                &[&account_id.0, &window.as_secs_f64()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RunStateCount {
                kind: r.get(0),
                provider: r.get(1),
                state: r.get(2),
                count: r.get(3),
            })
            .collect())
    }
}

/// How many of an account's runs of one kind and provider are in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStateCount {
    /// `push` or `sync`.
    pub kind: String,
    /// The provider pushed to, or the PSA synced from.
    pub provider: String,
    /// The run state.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// Runs of an account by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Queued, collecting or publishing.
    pub unfinished: i64,
    /// Succeeded.
    pub succeeded: i64,
    /// Failed.
    pub failed: i64,
}
