//! The layer around every job handler: decoding (a poison message goes to the dead-letter
//! queue with its reason), the delivery limit, and settling the delivery from the handler's
//! verdict: ack when done, a delayed retry through the delay queues for a transient fault,
//! back to the queue after an infrastructure fault (the database, the broker).

use crate::broker::{delivery_count, Broker};
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
}

impl RetryableJob for crate::CollectJob {
    fn retry(&self) -> u32 {
        self.retry
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

/// Decodes a delivery's job. An undecodable message, or one delivered more often than the
/// limit, is parked in the dead-letter queue with the reason and acknowledged: None.
pub async fn decode<J: RetryableJob>(broker: &Broker, delivery: &Delivery) -> Option<J> {
    let queue = origin(delivery);
    let parked = |reason: String| async move {
        match broker
            .dead_letter(&queue, delivery.data.clone(), &reason)
            .await
        {
            Ok(()) => {
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not park a poison message; it goes back to the queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery.reject(BasicRejectOptions { requeue: true }).await;
            }
        }
    };
    let deliveries = delivery_count(delivery);
    if deliveries >= broker.config().delivery_limit {
        parked(format!(
            "delivered {deliveries} times without being finished (a handler kept crashing or being interrupted)"
        ))
        .await;
        return None;
    }
    match serde_json::from_slice::<J>(&delivery.data) {
        Ok(job) => Some(job),
        Err(e) => {
            parked(format!("undecodable message: {e}")).await;
            None
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
