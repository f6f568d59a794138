//! The pacing ledger: the next free slot of every rate-limit key, shared by every process
//! that calls providers, on the database's clock (so replicas never disagree about time).

use crate::prepared::Prepared;
use crate::{Store, StoreResult};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Store {
    /// Takes the key's next `count` slots under a steady `interval` (never earlier than now,
    /// never inside a pause) and says how long from now the first is (the others follow it
    /// `interval` apart), measured on the database's clock alone: a host whose own clock is
    /// off waits as long as any other. The answer also says when the statement went out
    /// (after any wait for a pooled connection) and how long the database worked on it
    /// (waiting for the key's row among it), so the caller knows the soonest moment the wait
    /// can have been measured from.
    pub async fn take_rate_limit_slots(
        &self,
        key: &str,
        interval: Duration,
        count: u32,
    ) -> StoreResult<TakenSlot> {
        let client = self.client().await?;
        let sent = tokio::time::Instant::now();
        let row = client
            .query_one_prepared(
                "WITH clock AS (SELECT clock_timestamp() AS now)
                 INSERT INTO rate_limit_slots AS r (key, next_slot)
                 SELECT $1, clock.now + make_interval(secs => $2) FROM clock
                 ON CONFLICT (key) DO UPDATE
                    SET next_slot = greatest(r.next_slot, clock_timestamp(),
                                             coalesce(r.paused_until, '-infinity'))
                                    + make_interval(secs => $2)
                 RETURNING greatest(0, extract(epoch FROM r.next_slot - clock_timestamp())::float8 - $2),
                           greatest(0, extract(epoch FROM clock_timestamp() - statement_timestamp())::float8)",
                &[&key, &(interval * count.max(1)).as_secs_f64()],
            )
            .await?;
        let wait: f64 = row.get(0);
        let working: f64 = row.get(1);
        Ok(TakenSlot {
            wait: Duration::from_secs_f64(wait.max(0.0)),
            sent,
            working: Duration::from_secs_f64(working.max(0.0)),
        })
    }

    /// Pauses the key for `wait` from now (a provider's 429): no slot is handed out before
    /// the pause ends, in any process.
    pub async fn pause_rate_limit_key(&self, key: &str, wait: Duration) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute_prepared(
                "INSERT INTO rate_limit_slots AS r (key, next_slot, paused_until)
                 VALUES ($1, clock_timestamp() + make_interval(secs => $2),
                         clock_timestamp() + make_interval(secs => $2))
                 ON CONFLICT (key) DO UPDATE
                    SET paused_until = greatest(coalesce(r.paused_until, '-infinity'), excluded.paused_until),
                        next_slot = greatest(r.next_slot, excluded.next_slot)",
                &[&key, &wait.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// The ledger's rows of `keys` (keys never used have none), with how far ahead of the
    /// database's clock each key's next free slot lies and how long its pause still lasts.
    pub async fn rate_limit_slots(&self, keys: &[String]) -> StoreResult<Vec<RateLimitSlot>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT key, next_slot, paused_until,
                        greatest(0, extract(epoch FROM next_slot - clock_timestamp()))::float8,
                        CASE WHEN paused_until > clock_timestamp()
                             THEN extract(epoch FROM paused_until - clock_timestamp())::float8 END
                   FROM rate_limit_slots WHERE key = ANY($1) ORDER BY key",
                &[&keys],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RateLimitSlot {
                key: r.get(0),
                next_slot: r.get(1),
                paused_until: r.get(2),
                booked_ahead: Duration::from_secs_f64(r.get::<_, f64>(3).max(0.0)),
                paused_for: r
                    .get::<_, Option<f64>>(4)
                    .map(|s| Duration::from_secs_f64(s.max(0.0))),
            })
            .collect())
    }
}

/// One rate-limit key's place in the pacing ledger.
#[derive(Debug, Clone)]
pub struct RateLimitSlot {
    /// The key (`provider:account`).
    pub key: String,
    /// The earliest moment its next call may start.
    pub next_slot: DateTime<Utc>,
    /// The end of its last pause (a provider's 429), past or not.
    pub paused_until: Option<DateTime<Utc>>,
    /// How far the next free slot lies ahead of now (zero: a call may go at once): the calls
    /// already waiting for the key's budget.
    pub booked_ahead: Duration,
    /// How long the pause still lasts, when it does.
    pub paused_for: Option<Duration>,
}

/// The slots taken from the ledger by [`Store::take_rate_limit_slots`].
#[derive(Debug, Clone, Copy)]
pub struct TakenSlot {
    /// How long after the database's answer the slot begins.
    pub wait: Duration,
    /// When the statement went out, on this process's clock.
    pub sent: tokio::time::Instant,
    /// How long the database worked on the statement from its arrival (on the database's
    /// clock; a duration, so no host's wall clock enters it).
    pub working: Duration,
}

impl TakenSlot {
    /// The soonest moment, on this process's clock, the database can have measured `wait`
    /// from: the statement cannot have arrived before it went out, and the database worked
    /// on it for `working` after it arrived.
    pub fn measured_no_sooner_than(&self) -> tokio::time::Instant {
        self.sent + self.working
    }
}
