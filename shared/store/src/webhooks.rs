//! Webhook subscriptions and their deliveries.
//!
//! A delivery row is written by the statement that finishes a run (see the `hooked` step of
//! the run transitions), so a finished run is never missed, whatever crashes after. Senders
//! claim due rows with `FOR UPDATE SKIP LOCKED` and a lease (`next_attempt_at` moved ahead),
//! so any number of API processes deliver side by side, each row sent by one of them at a
//! time; a sender that dies mid-send leaves the row to be claimed again when its lease ends.
//! Deliveries are at least once: the receiver deduplicates by the delivery id.

use crate::audit::{self, AuditEvent};
use crate::prepared::Prepared;
use crate::{account, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::{AccountId, RunId};
use std::time::Duration;
use tokio_postgres::Row;
use uuid::Uuid;

/// The event a finished push or sync run sends.
pub const RUN_FINISHED: &str = "run.finished";

/// A subscription of an account.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it receives (`run.finished`).
    pub events: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A subscription with how its deliveries stand, for `GET /webhooks`.
#[derive(Debug, Clone)]
pub struct WebhookStatus {
    /// The subscription.
    pub webhook: Webhook,
    /// Deliveries waiting for their (next) attempt.
    pub pending: i64,
    /// Deliveries the receiver accepted.
    pub delivered: i64,
    /// Deliveries given up after 24 hours of failures.
    pub failed: i64,
    /// Deliveries whose run was removed (with its tenant) before they could be sent.
    pub dropped: i64,
    /// The latest attempt: when, the receiver's HTTP status (None: no answer) and what went
    /// wrong (None: it was accepted).
    pub last_attempt: Option<(DateTime<Utc>, Option<i32>, Option<String>)>,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery id (`X-Docsync-Delivery`).
    pub id: Uuid,
    /// The subscription.
    pub webhook_id: Uuid,
    /// The account the run belongs to.
    pub account_id: AccountId,
    /// The finished run.
    pub run_id: RunId,
    /// The event (`run.finished`).
    pub event: String,
    /// The body sent at an earlier attempt, to be sent again unchanged.
    pub body: Option<String>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// When the run finished (the delivery was created).
    pub created_at: DateTime<Utc>,
    /// The subscription's url.
    pub url: String,
    /// The subscription's sealed secret.
    pub secret_sealed: String,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: i32,
    },
    /// It did not: try again after `retry_in`, or give up when None.
    NotDelivered {
        /// The receiver's status (None: no answer).
        status: Option<i32>,
        /// What went wrong, in words.
        error: String,
        /// When to try again; None gives the delivery up.
        retry_in: Option<Duration>,
    },
    /// The run no longer exists: nothing can be sent.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// The most subscriptions one account may have.
pub const MAX_WEBHOOKS_PER_ACCOUNT: i64 = 25;

fn webhook(row: &Row) -> Webhook {
    Webhook {
        id: row.get("id"),
        url: row.get("url"),
        events: row.get("events"),
        created_at: row.get("created_at"),
    }
}

impl Store {
    /// Creates a subscription with its sealed secret and records `audit` with it. A second
    /// subscription of the same url, or more than [`MAX_WEBHOOKS_PER_ACCOUNT`], is a
    /// [`StoreError::Conflict`] saying so.
    pub async fn create_webhook(
        &self,
        account_id: AccountId,
        id: Uuid,
        url: &str,
        events: &[String],
        secret_sealed: &str,
        audit: &AuditEvent,
    ) -> StoreResult<Webhook> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Serialises creations of one account, so the count below holds.
        tx.execute_prepared(
            "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
            &[&account_id.0],
        )
        .await?;
        let count: i64 = tx
            .query_one_prepared(
                "SELECT count(*) FROM webhooks WHERE account_id = $1",
                &[&account_id.0],
            )
            .await?
            .get(0);
        if count >= MAX_WEBHOOKS_PER_ACCOUNT {
            return Err(StoreError::Conflict(format!(
                "this account has {count} webhooks, the most allowed: delete one first"
            )));
        }
        let row = tx
            .query_opt_prepared(
                "INSERT INTO webhooks (id, account_id, url, events, secret_sealed)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, url) DO NOTHING
                 RETURNING id, url, events, created_at",
                &[&id, &account_id.0, &url, &events, &secret_sealed],
            )
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!(
                    "a webhook for {url} exists already: delete it first to change its secret or events"
                ))
            })?;
        let created = webhook(&row);
        audit::record(&tx, account_id, audit, Some(created.id.to_string())).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The account's subscriptions with their delivery counts, oldest first.
    pub async fn webhooks(&self, account_id: AccountId) -> StoreResult<Vec<WebhookStatus>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT w.id, w.url, w.events, w.created_at,
                        count(d.id) FILTER (WHERE d.state = 'pending') AS pending,
                        count(d.id) FILTER (WHERE d.state = 'delivered') AS delivered,
                        count(d.id) FILTER (WHERE d.state = 'failed') AS failed,
                        count(d.id) FILTER (WHERE d.state = 'dropped') AS dropped,
                        last.last_attempt_at, last.last_status, last.last_error
                   FROM webhooks w
                   LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
                   LEFT JOIN LATERAL (
                        SELECT last_attempt_at, last_status, last_error FROM webhook_deliveries
                         WHERE webhook_id = w.id AND last_attempt_at IS NOT NULL
                         ORDER BY last_attempt_at DESC LIMIT 1) last ON true
                  WHERE w.account_id = $1
                  GROUP BY w.id, last.last_attempt_at, last.last_status, last.last_error
                  ORDER BY w.created_at, w.id",
                &[&account_id.0],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| WebhookStatus {
                webhook: webhook(r),
                pending: r.get("pending"),
                delivered: r.get("delivered"),
                failed: r.get("failed"),
                dropped: r.get("dropped"),
                last_attempt: r
                    .get::<_, Option<DateTime<Utc>>>("last_attempt_at")
                    .map(|at| (at, r.get("last_status"), r.get("last_error"))),
            })
            .collect())
    }

    /// Removes a subscription and its deliveries (pending ones are not sent), recording
    /// `audit`; false when the account has no such subscription.
    pub async fn delete_webhook(
        &self,
        account_id: AccountId,
        id: Uuid,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute_prepared(
                "DELETE FROM webhooks WHERE account_id = $1 AND id = $2",
                &[&account_id.0, &id],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        audit::record(&tx, account_id, audit, None).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Claims up to `limit` due deliveries for one attempt each: their attempt is counted and
    /// their next attempt moved `lease` ahead, so no other sender takes them meanwhile.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "UPDATE webhook_deliveries d
                    SET attempts = d.attempts + 1,
                        next_attempt_at = now() + make_interval(secs => $2)
                   FROM webhooks w
                  WHERE w.id = d.webhook_id
                    AND d.id IN (SELECT id FROM webhook_deliveries
                                  WHERE state = 'pending' AND next_attempt_at <= now()
                                  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING d.id, d.webhook_id, d.account_id, d.run_id, d.event, d.body, d.attempts, d.created_at,
                        w.url, w.secret_sealed",
                &[&limit, &lease.as_secs_f64()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ClaimedDelivery {
                id: r.get("id"),
                webhook_id: r.get("webhook_id"),
                account_id: account(r.get("account_id")),
                run_id: RunId(r.get("run_id")),
                event: r.get("event"),
                body: r.get("body"),
                attempt: r.get("attempts"),
                created_at: r.get("created_at"),
                url: r.get("url"),
                secret_sealed: r.get("secret_sealed"),
            })
            .collect())
    }

    /// Records how an attempt of delivery `id` ended; `body` is what was sent (kept for the
    /// attempts to come).
    pub async fn finish_delivery_attempt(
        &self,
        id: Uuid,
        body: Option<&str>,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<()> {
        if let Some(m) = &self.metrics {
            m.webhook_attempt(match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::NotDelivered {
                    retry_in: Some(_), ..
                } => "retrying",
                DeliveryOutcome::NotDelivered { retry_in: None, .. } => "failed",
                DeliveryOutcome::Dropped { .. } => "dropped",
            });
        }
        let (state, status, error, retry_in): (&str, Option<i32>, Option<&str>, Option<f64>) =
            match outcome {
                DeliveryOutcome::Delivered { status } => ("delivered", Some(*status), None, None),
                DeliveryOutcome::NotDelivered {
                    status,
                    error,
                    retry_in: Some(delay),
                } => ("pending", *status, Some(error), Some(delay.as_secs_f64())),
                DeliveryOutcome::NotDelivered {
                    status,
                    error,
                    retry_in: None,
                } => ("failed", *status, Some(error), None),
                DeliveryOutcome::Dropped { reason } => ("dropped", None, Some(reason), None),
            };
        self.client()
            .await?
            .execute_prepared(
                "UPDATE webhook_deliveries
                    SET state = $2, last_status = $3, last_error = $4, body = coalesce(body, $5),
                        last_attempt_at = now(),
                        delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
                        next_attempt_at = CASE WHEN $6::float8 IS NULL THEN next_attempt_at
                                               ELSE now() + make_interval(secs => $6::float8) END
                  WHERE id = $1 AND state = 'pending'",
                &[&id, &state, &status, &error, &body, &retry_in],
            )
            .await?;
        Ok(())
    }

    /// Every delivery of one run (for tests and operators): `(webhook id, state, attempts)`.
    pub async fn deliveries_of_run(&self, run_id: RunId) -> StoreResult<Vec<(Uuid, String, i32)>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT webhook_id, state, attempts FROM webhook_deliveries WHERE run_id = $1
                  ORDER BY webhook_id",
                &[&run_id.0],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

/// The SQL step a run transition adds after its `moved` step: when the run reached a final
/// state (`$final`, a boolean parameter), one pending delivery per subscription of its account
/// to `run.finished`, in the same statement, so a finished run is never missed.
pub(crate) fn hooked_step(final_param: &str) -> String {
    format!(
        "hooked AS (
            INSERT INTO webhook_deliveries (id, webhook_id, account_id, run_id, event)
            SELECT gen_random_uuid(), w.id, m.account_id, m.id, '{RUN_FINISHED}'
              FROM moved m JOIN webhooks w
                ON w.account_id = m.account_id AND '{RUN_FINISHED}' = ANY(w.events)
             WHERE {final_param}
            ON CONFLICT (webhook_id, run_id, event) DO NOTHING)"
    )
}
