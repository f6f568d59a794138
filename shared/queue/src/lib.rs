//! RabbitMQ for the fleet: the topology it declares at start-up, the job messages, publishing
//! with confirms and consuming with manual acks and a bounded prefetch.
//!
//! Topology (every name carries the configured prefix, so tests and fleets can share a broker):
//! - `{prefix}.collect`: durable quorum queue of [`CollectJob`]s, competing consumers.
//! - `{prefix}.publish.{n}` for `n` in `0..partitions`: durable quorum queues of
//!   [`PublishJob`]s with single-active-consumer. A job goes to the partition of its
//!   rate-limit key, so exactly one process paces a key at a time.

mod broker;
mod jobs;

pub use broker::{Broker, QueueConfig, QueueError};
pub use jobs::{partition_of, CollectJob, PublishJob};
