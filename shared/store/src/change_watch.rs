//! Change-triggered pushes: per watched tenant, how far its directory audit log was read (the
//! cursor and the entry ids seen there) and a lease that lets exactly one scheduler replica
//! poll it at a time. A poll's outcome commits only under the lease it was claimed with, and
//! the push runs a change asks for are created in the same transaction as the cursor moves,
//! so one burst of changes makes one run per watching integration, whatever the replicas do.
//!
//! Cadence: each tenant is polled on a fixed grid of the database's clock. Its first due time
//! is spread over the interval by a hash of its id (a fleet of thousands does not poll at
//! once), and each poll moves it to the next slot of its own grid after now, counted from the
//! due time it was claimed at, not from when the poll finished: a slow poll does not drift the
//! cadence, and slots missed while nobody polled are skipped, not caught up in a burst.

use crate::prepared::Prepared;
use crate::{account, Store, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, RunId, TenantId};
use uuid::Uuid;

/// A tenant's watch as claimed for one poll.
#[derive(Debug, Clone)]
pub struct ClaimedWatch {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its account.
    pub account_id: AccountId,
    /// Its Entra tenant id.
    pub microsoft_tenant_id: String,
    /// Where the last successful poll read up to; None before the first one.
    pub cursor_at: Option<DateTime<Utc>>,
    /// When the tenant began to be watched: entries logged before are history, not changes.
    pub watching_since: DateTime<Utc>,
    /// Audit entry ids the last poll saw.
    pub seen_ids: Vec<String>,
    /// The lease this poll holds.
    pub lease_id: Uuid,
}

/// What a successful poll found.
#[derive(Debug, Clone)]
pub struct PollOutcome {
    /// Where this poll read up to.
    pub cursor_at: DateTime<Utc>,
    /// Every entry id this poll saw.
    pub seen_ids: Vec<String>,
    /// The relevant new entries, in words (empty: no push); the runs' events show them.
    pub changes: Vec<String>,
    /// The newest relevant new entry's time.
    pub last_change_at: Option<DateTime<Utc>>,
    /// The tenant's cadence: it is due again at the next slot of its grid after now.
    pub every: std::time::Duration,
}

/// A watch as stored (for status and tests).
#[derive(Debug, Clone)]
pub struct ChangeWatch {
    /// When the tenant is next due.
    pub next_poll_at: DateTime<Utc>,
    /// Where the last successful poll read up to.
    pub cursor_at: Option<DateTime<Utc>>,
    /// When it last polled.
    pub polled_at: Option<DateTime<Utc>>,
    /// The newest relevant change seen.
    pub last_change_at: Option<DateTime<Utc>>,
    /// When a push for a change was last enqueued.
    pub last_push_at: Option<DateTime<Utc>>,
    /// Why the last poll failed, if it did.
    pub last_error: Option<String>,
}

/// Tenants mapped in an integration whose schedule has `onChange: true`.
const WATCHED: &str = "SELECT m.tenant_id, m.account_id FROM tenant_mappings m
                         JOIN integrations i ON i.account_id = m.account_id AND i.provider = m.provider
                        WHERE i.schedule->>'onChange' = 'true'";

/// The next slot of a watch's grid (interval `$every` seconds) strictly after now, from the
/// due time it holds (`next_poll_at`, untouched by a claim): missed slots are skipped.
const NEXT_SLOT: &str = "next_poll_at + make_interval(secs => $every::float8 * (floor(
        greatest(extract(epoch from (now() - next_poll_at))::float8, 0) / $every::float8) + 1))";

/// A tenant's phase in `[0, 1)` of the interval, from its id: first due times spread evenly.
const PHASE: &str =
    "(('x' || left(md5(tenant_id::text), 8))::bit(32)::bigint::float8 / 4294967296.0)";

impl Store {
    /// Starts watching every tenant an `onChange` integration maps, each first due at its
    /// phase of `every` from now, and stops watching the others (their cursor is dropped:
    /// watching again starts afresh, without old history).
    pub async fn sync_change_watches(&self, every: std::time::Duration) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute_prepared(
                &format!(
                    "INSERT INTO change_watch (tenant_id, account_id, next_poll_at)
                     SELECT tenant_id, account_id, now() + make_interval(secs => $1::float8 * {PHASE})
                       FROM (SELECT DISTINCT tenant_id, account_id FROM ({WATCHED}) w) d
                     ON CONFLICT DO NOTHING"
                ),
                &[&every.as_secs_f64()],
            )
            .await?;
        client
            .execute_prepared(
                "DELETE FROM change_watch c WHERE NOT EXISTS (
                     SELECT 1 FROM tenant_mappings m
                       JOIN integrations i ON i.account_id = m.account_id AND i.provider = m.provider
                      WHERE m.tenant_id = c.tenant_id AND i.schedule->>'onChange' = 'true')",
                &[],
            )
            .await?;
        Ok(())
    }

    /// Claims up to `limit` watches that are due and not leased (or whose lease ran out), each
    /// with a new lease of `lease`.
    pub async fn claim_change_polls(
        &self,
        lease: std::time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedWatch>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "WITH due AS (
                     SELECT tenant_id FROM change_watch
                      WHERE next_poll_at <= now() AND (lease_until IS NULL OR lease_until < now())
                      ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                 UPDATE change_watch w
                    SET lease_id = gen_random_uuid(), lease_until = now() + make_interval(secs => $1)
                   FROM due, tenants t
                  WHERE w.tenant_id = due.tenant_id AND t.id = w.tenant_id
                 RETURNING w.tenant_id, w.account_id, t.microsoft_tenant_id, w.cursor_at, w.seen_ids, w.lease_id,
                           w.watching_since",
                &[&lease.as_secs_f64(), &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ClaimedWatch {
                tenant_id: TenantId(r.get(0)),
                account_id: account(r.get(1)),
                microsoft_tenant_id: r.get(2),
                cursor_at: r.get(3),
                seen_ids: r.get(4),
                lease_id: r.get(5),
                watching_since: r.get(6),
            })
            .collect())
    }

    /// Records a poll's outcome under its lease and, when it found changes, creates one push
    /// run (trigger `change`, state `queued`) per integration of the tenant with `onChange`,
    /// unless a change run of that integration is still queued (it will read the latest
    /// state anyway). Returns None when the lease was lost (another replica took over: it
    /// owns the outcome), else the runs created.
    pub async fn finish_change_poll(
        &self,
        watch: &ClaimedWatch,
        outcome: &PollOutcome,
    ) -> StoreResult<Option<Vec<RunId>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let updated = tx
            .execute_prepared(
                &format!(
                    "UPDATE change_watch
                        SET cursor_at = $3, seen_ids = $4,
                            last_change_at = greatest(last_change_at, $5),
                            next_poll_at = {},
                            polled_at = now(), last_error = NULL, lease_id = NULL, lease_until = NULL
                      WHERE tenant_id = $1 AND lease_id = $2",
                    NEXT_SLOT.replace("$every", "$6")
                ),
                &[
                    &watch.tenant_id.0,
                    &watch.lease_id,
                    &outcome.cursor_at,
                    &outcome.seen_ids,
                    &outcome.last_change_at,
                    &every_secs(outcome.every),
                ],
            )
            .await?;
        if updated == 0 {
            return Ok(None);
        }
        let mut runs = Vec::new();
        if !outcome.changes.is_empty() {
            let rows = tx
                .query_prepared(
                    "INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state)
                     SELECT gen_random_uuid(), m.account_id, m.tenant_id, m.provider, 'change', 'queued'
                       FROM tenant_mappings m
                       JOIN integrations i ON i.account_id = m.account_id AND i.provider = m.provider
                      WHERE m.tenant_id = $1 AND m.account_id = $2 AND i.schedule->>'onChange' = 'true'
                        AND NOT EXISTS (SELECT 1 FROM push_runs r
                                         WHERE r.tenant_id = m.tenant_id AND r.provider = m.provider
                                           AND r.kind = 'push' AND r.trigger = 'change' AND r.state = 'queued')
                     RETURNING id",
                    &[&watch.tenant_id.0, &watch.account_id.0],
                )
                .await?;
            runs = rows.iter().map(|r| r.get::<_, Uuid>(0)).collect::<Vec<_>>();
            let detail = format!("changed in the tenant: {}", outcome.changes.join("; "));
            tx.execute_prepared(
                "INSERT INTO push_run_events (run_id, state, detail)
                 SELECT id, 'queued', $2 FROM unnest($1::uuid[]) AS id",
                &[&runs, &detail],
            )
            .await?;
            tx.execute_prepared(
                "UPDATE change_watch SET last_push_at = now() WHERE tenant_id = $1",
                &[&watch.tenant_id.0],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(runs.into_iter().map(RunId).collect()))
    }

    /// Gives a poll up (the audit log could not be read): the cursor stays, the tenant is due
    /// again at the next slot of its grid of `every`, and `error` says why.
    pub async fn fail_change_poll(
        &self,
        watch: &ClaimedWatch,
        error: &str,
        every: std::time::Duration,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                &format!(
                    "UPDATE change_watch
                        SET next_poll_at = {}, polled_at = now(),
                            last_error = $4, lease_id = NULL, lease_until = NULL
                      WHERE tenant_id = $1 AND lease_id = $2",
                    NEXT_SLOT.replace("$every", "$3")
                ),
                &[
                    &watch.tenant_id.0,
                    &watch.lease_id,
                    &every_secs(every),
                    &error,
                ],
            )
            .await?;
        Ok(())
    }

    /// How long, on the database's clock, until some watch can be claimed (due and not
    /// leased); zero when one already can, None when no tenant is watched.
    pub async fn next_change_poll_in(&self) -> StoreResult<Option<std::time::Duration>> {
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT extract(epoch from (min(greatest(next_poll_at, coalesce(lease_until, next_poll_at))) - now()))::float8
                   FROM change_watch",
                &[],
            )
            .await?;
        let secs: Option<f64> = row.get(0);
        Ok(secs.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))))
    }

    /// The account's watches among `tenant_ids` (unwatched tenants are left out).
    pub async fn change_watches(
        &self,
        account_id: AccountId,
        tenant_ids: &[TenantId],
    ) -> StoreResult<Vec<(TenantId, ChangeWatch)>> {
        let ids: Vec<Uuid> = tenant_ids.iter().map(|t| t.0).collect();
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT cursor_at, polled_at, last_change_at, last_push_at, last_error, next_poll_at, tenant_id
                   FROM change_watch WHERE account_id = $1 AND tenant_id = ANY($2)",
                &[&account_id.0, &ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (TenantId(r.get(6)), watch_of(r)))
            .collect())
    }

    /// The account's watch of `tenant_id`, if it is watched.
    pub async fn change_watch(
        &self,
        account_id: AccountId,
        tenant_id: TenantId,
    ) -> StoreResult<Option<ChangeWatch>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT cursor_at, polled_at, last_change_at, last_push_at, last_error, next_poll_at
                   FROM change_watch WHERE account_id = $1 AND tenant_id = $2",
                &[&account_id.0, &tenant_id.0],
            )
            .await?;
        Ok(row.as_ref().map(watch_of))
    }
}

/// A watch from a row of cursor_at, polled_at, last_change_at, last_push_at, last_error,
/// next_poll_at.
fn watch_of(r: &tokio_postgres::Row) -> ChangeWatch {
    ChangeWatch {
        cursor_at: r.get(0),
        polled_at: r.get(1),
        last_change_at: r.get(2),
        last_push_at: r.get(3),
        last_error: r.get(4),
        next_poll_at: r.get(5),
    }
}

/// An interval in seconds for the grid arithmetic (at least a millisecond: never zero).
fn every_secs(every: std::time::Duration) -> f64 {
    every.as_secs_f64().max(0.001)
}
