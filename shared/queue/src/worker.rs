//! The layer around every job handler: decoding (a poison message goes to the dead-letter
//! queue with its reason), the delivery limit (a job delivered that often is parked once its
//! run says so), and settling the delivery from the handler's verdict: ack when done, a
//! delayed retry through the delay queues for a transient fault, back to the queue after an
//! infrastructure fault (the database, the broker).

use crate::broker::{delivery_count, Broker, DeadLetter};
use docsync_domain::RunId;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// A job message that can be retried.
pub trait RetryableJob: Serialize + DeserializeOwned + Send {
    /// Retries so far.
    fn retry(&self) -> u32;
    /// The same job, one retry further.
    fn next_retry(&self) -> Self;
    /// The run the job works on.
    fn run_id(&self) -> RunId;
}

impl RetryableJob for crate::CollectJob {
    fn retry(&self) -> u32 {
        self.retry
    }
    fn run_id(&self) -> RunId {
        self.run_id
    }
    fn next_retry(&self) -> Self {
        Self {
            retry: self.retry + 1,
            ..*self
        }
    }
}

impl RetryableJob for crate::PublishJob {
    fn retry(&self) -> u32 {
        self.retry
    }
    fn run_id(&self) -> RunId {
        self.run_id
    }
    fn next_retry(&self) -> Self {
        Self {
            retry: self.retry + 1,
            ..self.clone()
        }
    }
}

/// What a handler made of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Finished (succeeded, or failed for good and recorded so).
    Done,
    /// A transient fault: try again after the next retry delay (the handler has checked
    /// [`Broker::retry_delay`] says one is left).
    RetryLater,
}

impl Verdict {
    /// `RetryLater` when a retry was scheduled for the run, else `Done`.
    pub fn retrying(scheduled: bool) -> Self {
        if scheduled {
            Verdict::RetryLater
        } else {
            Verdict::Done
        }
    }
}

/// The number and delay of the retry after `retry` retries, if one is left.
pub fn next_retry(broker: &Broker, retry: u32) -> Option<(u32, Duration)> {
    broker.retry_delay(retry + 1).map(|d| (retry + 1, d))
}

/// The queue a delivery came from (its routing key: work queues are addressed through the
/// default exchange, and delayed retries keep the original key).
pub fn origin(delivery: &Delivery) -> String {
    delivery.routing_key.as_str().to_owned()
}

/// How the error of a run whose job was parked after the delivery limit begins (so that a
/// reader, such as `docsync chaos`, can tell such a failure from others).
pub const PARKED: &str = "parked in the dead-letter queue";

/// What a delivery turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<J> {
    /// A job to handle.
    Job(J),
    /// A job delivered `deliveries` times already without being finished (the limit): the
    /// handler records on its run that it is parked, then calls [`park_over_limit`].
    OverLimit {
        /// The job.
        job: J,
        /// Deliveries so far (this one not counted).
        deliveries: u32,
    },
    /// Undecodable: parked with its reason and acknowledged (or handed back when it could
    /// not be parked). Nothing more to do.
    Settled,
}

/// Decodes a delivery's job. An undecodable message is parked in the dead-letter queue with
/// the reason and acknowledged; a job delivered as often as the limit allows is handed to
/// the caller as [`Decoded::OverLimit`].
pub async fn decode<J: RetryableJob>(broker: &Broker, delivery: &Delivery) -> Decoded<J> {
    let deliveries = delivery_count(delivery);
    let over = deliveries >= broker.config().delivery_limit;
    match serde_json::from_slice::<J>(&delivery.data) {
        Ok(job) if over => Decoded::OverLimit { job, deliveries },
        Ok(job) => Decoded::Job(job),
        Err(e) => {
            let reason = if over {
                format!("undecodable message, delivered {deliveries} times: {e}")
            } else {
                format!("undecodable message: {e}")
            };
            park(broker, delivery, &reason).await;
            Decoded::Settled
        }
    }
}

/// A delivery's job to handle, or None when there is nothing more to do: undecodable (parked
/// by [`decode`]) or over the delivery limit, in which case `fail_run` first records on the
/// job's run why it is parked, and the message is parked after it (see [`park_over_limit`]).
pub async fn decode_or_park<J, F, Fut>(
    broker: &Broker,
    delivery: &Delivery,
    fail_run: F,
) -> Option<J>
where
    J: RetryableJob,
    F: FnOnce(RunId, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    match decode::<J>(broker, delivery).await {
        Decoded::Job(job) => Some(job),
        Decoded::OverLimit { job, deliveries } => {
            let reason = over_limit_reason(&broker.dead_letter_queue(), deliveries);
            let recorded = fail_run(job.run_id(), reason.clone()).await;
            park_over_limit(broker, delivery, &reason, recorded).await;
            None
        }
        Decoded::Settled => None,
    }
}

/// The reason a job over the delivery limit is parked with, on the dead letter and on its
/// run: it names the dead-letter queue ([`Broker::dead_letter_queue`]) and the deliveries,
/// and begins with [`PARKED`].
pub fn over_limit_reason(dead_letter_queue: &str, deliveries: u32) -> String {
    format!(
        "{PARKED} {dead_letter_queue} after {deliveries} deliveries without being finished (the job kept failing or being interrupted); replay it (docsync dlq replay, POST /dlq/replay) once the cause is fixed"
    )
}

/// The run of a dead letter that was parked after the delivery limit (its reason begins with
/// [`PARKED`], so its run failed saying so), and whether it is a publish job (else a collect
/// job): such a run is reopened when the letter is replayed. None for any other letter.
pub fn parked_after_limit(letter: &DeadLetter) -> Option<(RunId, bool)> {
    if !letter.reason.starts_with(PARKED) {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(&letter.body).ok()?;
    let run = body.get("runId")?.as_str()?.parse().ok()?;
    Some((run, letter.origin.contains(".publish.")))
}

/// Parks a job over the delivery limit once its run records so (`recorded`): the message
/// goes to the dead-letter queue with `reason` and is acknowledged. When the run could not
/// record it (the database is away), the message goes back to the queue and is parked on a
/// later delivery: a run is never left saying nothing about its parked job.
pub async fn park_over_limit(
    broker: &Broker,
    delivery: &Delivery,
    reason: &str,
    recorded: anyhow::Result<()>,
) {
    match recorded {
        Ok(()) => park(broker, delivery, reason).await,
        Err(e) => {
            tracing::warn!(error = %e, "could not record on its run that a job is parked; it goes back to the queue");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
        }
    }
}

/// Moves a delivery to the dead-letter queue with `reason` and acknowledges it; when it
/// cannot be parked it goes back to the queue.
async fn park(broker: &Broker, delivery: &Delivery, reason: &str) {
    match broker
        .dead_letter(&origin(delivery), delivery.data.clone(), reason)
        .await
    {
        Ok(()) => {
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not park a message; it goes back to the queue");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
        }
    }
}

/// Settles a delivery from the handler's result.
pub async fn settle<J: RetryableJob>(
    broker: &Broker,
    delivery: &Delivery,
    job: &J,
    result: anyhow::Result<Verdict>,
) {
    match result {
        Ok(Verdict::Done) => {
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
        Ok(Verdict::RetryLater) => {
            let next = job.next_retry();
            let sent = match serde_json::to_vec(&next) {
                Ok(body) => {
                    broker
                        .retry_later(&origin(delivery), body, next.retry())
                        .await
                }
                Err(e) => Err(e.into()),
            };
            match sent {
                Ok(_) => {
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not schedule the retry; the message goes back to the queue");
                    let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "job interrupted; the message goes back to the queue");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
        }
    }
}

/// Returns a delivery that was received but not started to its queue at once, for another
/// consumer (a process that is stopping starts no new work).
pub async fn hand_back(delivery: &Delivery) {
    let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
}

/// Waits before subscribing again after the broker was lost: 1 s, 2 s, 4 s ... 15 s.
pub fn resubscribe_backoff(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.min(4)).min(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(origin: &str, reason: &str, body: &str) -> DeadLetter {
        DeadLetter {
            id: "letter-1".into(),
            origin: origin.into(),
            reason: reason.into(),
            at: 0,
            body: body.into(),
        }
    }

    #[test]
    fn a_letter_parked_after_the_limit_names_its_run_and_whether_it_was_a_publish_job() {
        let run = RunId(uuid::Uuid::new_v4());
        let reason = over_limit_reason("docsync.dead", 20);
        assert!(reason.starts_with(PARKED), "{reason}");
        assert!(
            reason.contains("docsync.dead after 20 deliveries"),
            "{reason}"
        );
        let collect = serde_json::to_string(&crate::CollectJob::new(run)).expect("json");
        assert_eq!(
            parked_after_limit(&letter("docsync.collect", &reason, &collect)),
            Some((run, false))
        );
        assert_eq!(
            parked_after_limit(&letter("docsync.publish.3", &reason, &collect)),
            Some((run, true))
        );
    }

    #[test]
    fn other_letters_reopen_no_run() {
        let run = RunId(uuid::Uuid::new_v4());
        let collect = serde_json::to_string(&crate::CollectJob::new(run)).expect("json");
        for (reason, body) in [
            ("undecodable message: EOF", "{\"run\": 42"),
            (
                "delivered 20 times without being finished",
                collect.as_str(),
            ),
            (
                over_limit_reason("docsync.dead", 20).as_str(),
                "{\"run\": 42",
            ),
        ] {
            assert_eq!(
                parked_after_limit(&letter("docsync.collect", reason, body)),
                None,
                "{reason}"
            );
        }
    }
}
