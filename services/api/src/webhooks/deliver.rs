//! The webhook sender: every API process claims due delivery rows (a lease, so two processes
//! never send one row at once), renders the body once from the finished run (as `GET
//! /runs/:id` shows it), signs it, POSTs it, and records the outcome: delivered on a 2xx,
//! otherwise retried with backoff until 24 hours after the run finished, then given up.
//! Nothing is held in memory between attempts: a restart loses no delivery.

use super::signature::{sign, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use chrono::Utc;
use docsync_domain::address::check_public_host;
use docsync_domain::crypto::MasterKey;
use docsync_domain::{Shutdown, WebhookUrl};
use docsync_store::{ClaimedDelivery, DeliveryOutcome, Store};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

/// How deliveries are sent.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The wait before each retry (the last one repeats until [`Self::give_up_after`]).
    pub retry_delays: Vec<Duration>,
    /// How long after the run finished a delivery is still tried.
    pub give_up_after: Duration,
    /// How often due deliveries are looked for.
    pub poll: Duration,
    /// How long one POST may take.
    pub timeout: Duration,
    /// Accept receivers on private addresses (sandbox and tests only).
    pub allow_private: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            retry_delays: DEFAULT_RETRY_DELAYS_SECS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// `DOCSYNC_WEBHOOK_RETRY_DELAYS`'s default: 10 s, 1 min, 5 min, 15 min, 1 h, then every 2 h.
pub const DEFAULT_RETRY_DELAYS_SECS: [u64; 6] = [10, 60, 300, 900, 3600, 7200];

/// Deliveries claimed at once.
const BATCH: i64 = 32;
/// Deliveries sent at once by one process.
const IN_FLIGHT: usize = 8;

/// The wait before the next attempt after attempt number `attempt` failed, or None when the
/// delivery is to be given up (its time is over). Never later than the deadline, so a last
/// attempt is made at the 24-hour mark.
pub fn next_retry(
    config: &DeliveryConfig,
    attempt: i32,
    age: Duration,
    asked: Option<Duration>,
) -> Option<Duration> {
    let left = config.give_up_after.checked_sub(age)?;
    if left.is_zero() {
        return None;
    }
    let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
    let planned = config
        .retry_delays
        .get(index)
        .or(config.retry_delays.last())
        .copied()
        .unwrap_or(Duration::from_secs(60));
    // A receiver's Retry-After is honoured up to an hour.
    let wanted = asked
        .map(|a| a.min(Duration::from_secs(3600)).max(planned))
        .unwrap_or(planned);
    Some(wanted.min(left))
}

/// Sends deliveries until `shutdown`; the batch in flight is finished first.
pub async fn run(config: DeliveryConfig, store: Store, master: MasterKey, shutdown: Shutdown) {
    // Resolved by the public-only resolver too: the address checked is the address called.
    let client = match docsync_sinks::http::client(config.timeout, !config.allow_private) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries cannot start");
            return;
        }
    };
    // A claim outlives any attempt: the POST's timeout plus the rendering and recording.
    let lease = config.timeout * 3 + Duration::from_secs(30);
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let claimed = match store.claim_deliveries(BATCH, lease).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "webhook deliveries could not be claimed; trying again");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == BATCH;
        futures::stream::iter(claimed)
            .for_each_concurrent(IN_FLIGHT, |d| {
                let (client, store, master, config) = (&client, &store, &master, &config);
                async move { attempt(client, store, master, config, d).await }
            })
            .await;
        if full {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(config.poll) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// One attempt of one delivery, its outcome recorded.
async fn attempt(
    client: &reqwest::Client,
    store: &Store,
    master: &MasterKey,
    config: &DeliveryConfig,
    d: ClaimedDelivery,
) {
    let body = match &d.body {
        Some(body) => body.clone(),
        None => match crate::runs::views_of(store, d.account_id, &[d.run_id]).await {
            Ok(views) => match views.into_iter().next() {
                Some(run) => json!({"event": d.event, "run": run}).to_string(),
                None => {
                    let outcome = DeliveryOutcome::Dropped {
                        reason: format!(
                            "run {} no longer exists (its tenant was removed)",
                            d.run_id
                        ),
                    };
                    record(store, &d, None, &outcome).await;
                    return;
                }
            },
            // The lease runs out and the delivery is claimed again.
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "a webhook body could not be rendered");
                return;
            }
        },
    };
    let age = (Utc::now() - d.created_at).to_std().unwrap_or_default();
    let failed = |status: Option<i32>, error: String, asked: Option<Duration>| {
        DeliveryOutcome::NotDelivered {
            status,
            error,
            retry_in: next_retry(config, d.attempt, age, asked),
        }
    };
    let outcome = match send(client, master, config, &d, &body).await {
        Ok(status) if (200..300).contains(&status.as_u16()) => DeliveryOutcome::Delivered {
            status: i32::from(status.as_u16()),
        },
        Ok(status) => failed(
            Some(i32::from(status.as_u16())),
            format!("the receiver answered {status}"),
            None,
        ),
        Err(Refused::Answered(status, asked)) => failed(
            Some(i32::from(status.as_u16())),
            format!("the receiver answered {status}"),
            asked,
        ),
        Err(Refused::NotSent(error)) => failed(None, error, None),
    };
    match &outcome {
        DeliveryOutcome::Delivered { .. } => {
            tracing::debug!(delivery = %d.id, attempt = d.attempt, "webhook delivered")
        }
        DeliveryOutcome::NotDelivered {
            error, retry_in, ..
        } => tracing::info!(
            delivery = %d.id,
            attempt = d.attempt,
            error = error.as_str(),
            retry_in_s = retry_in.map(|r| r.as_secs_f64()),
            "webhook not delivered"
        ),
        DeliveryOutcome::Dropped { .. } => {}
    }
    record(store, &d, Some(&body), &outcome).await;
}

async fn record(store: &Store, d: &ClaimedDelivery, body: Option<&str>, outcome: &DeliveryOutcome) {
    if let Err(e) = store.finish_delivery_attempt(d.id, body, outcome).await {
        // The lease runs out and the attempt is made again: at least once, never lost.
        tracing::warn!(delivery = %d.id, error = %e, "a webhook attempt could not be recorded");
    }
}

enum Refused {
    /// 429 or 503, with the receiver's `Retry-After` if any.
    Answered(reqwest::StatusCode, Option<Duration>),
    /// Not sent or no answer, in words.
    NotSent(String),
}

async fn send(
    client: &reqwest::Client,
    master: &MasterKey,
    config: &DeliveryConfig,
    d: &ClaimedDelivery,
    body: &str,
) -> Result<reqwest::StatusCode, Refused> {
    let url = WebhookUrl::trusted(d.url.clone());
    if !config.allow_private {
        // Checked at every attempt: the name may point elsewhere since it was saved.
        check_public_host("url", &url.origin())
            .await
            .map_err(Refused::NotSent)?;
    }
    let binding = docsync_domain::crypto::Binding::webhook_secret(d.account_id, d.webhook_id);
    let secret = master.open(&d.secret_sealed, &binding).map_err(|_| {
        Refused::NotSent(
            "the webhook's secret cannot be opened with this DOCSYNC_MASTER_KEY: create the webhook again".into(),
        )
    })?;
    let signature = sign(&secret, body.as_bytes());
    drop(secret);
    let response = client
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(DELIVERY_HEADER, d.id.to_string())
        .header(EVENT_HEADER, d.event.as_str())
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| {
            let why = if e.is_timeout() {
                format!("no answer within {} s", config.timeout.as_secs())
            } else if e.is_connect() {
                "the receiver could not be reached".to_owned()
            } else {
                "the request failed".to_owned()
            };
            Refused::NotSent(why)
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
    {
        return Err(Refused::Answered(
            status,
            docsync_sinks::http::retry_after(response.headers()),
        ));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DeliveryConfig {
        DeliveryConfig {
            retry_delays: vec![Duration::from_secs(10), Duration::from_secs(60)],
            give_up_after: Duration::from_secs(3600),
            ..DeliveryConfig::default()
        }
    }

    #[test]
    fn retries_follow_the_delays_then_repeat_the_last() {
        let c = config();
        let s = Duration::from_secs;
        assert_eq!(next_retry(&c, 1, s(0), None), Some(s(10)));
        assert_eq!(next_retry(&c, 2, s(10), None), Some(s(60)));
        assert_eq!(next_retry(&c, 9, s(600), None), Some(s(60)));
    }

    #[test]
    fn the_last_attempt_is_at_the_deadline_then_it_is_given_up() {
        let c = config();
        let s = Duration::from_secs;
        assert_eq!(next_retry(&c, 5, s(3590), None), Some(s(10)));
        assert_eq!(next_retry(&c, 6, s(3600), None), None);
        assert_eq!(next_retry(&c, 6, s(4000), None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_an_hour() {
        let c = DeliveryConfig {
            give_up_after: Duration::from_secs(86_400),
            ..config()
        };
        let s = Duration::from_secs;
        assert_eq!(next_retry(&c, 1, s(0), Some(s(120))), Some(s(120)));
        assert_eq!(next_retry(&c, 1, s(0), Some(s(1))), Some(s(10)));
        assert_eq!(next_retry(&c, 1, s(0), Some(s(99_999))), Some(s(3600)));
    }
}
