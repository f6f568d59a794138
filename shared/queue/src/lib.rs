//! RabbitMQ for the fleet: the topology it declares at start-up, the job messages, publishing
//! with confirms and consuming with manual acks and a bounded prefetch.
//!
//! Topology (every name carries the configured prefix, so tests and fleets can share a broker):
//! - `{prefix}.collect`: durable quorum queue of [`CollectJob`]s, competing consumers.
//! - `{prefix}.publish.{n}` for `n` in `0..partitions`: durable quorum queues of
//!   [`PublishJob`]s with single-active-consumer. A job goes to the partition of its
//!   rate-limit key, so exactly one process paces a key at a time.
//! - `{prefix}.delay.{ms}ms`: one fanout exchange and queue per retry delay; a job that met a
//!   transient fault waits there and is handed back to its queue when the delay expires
//!   (TTL plus dead-letter routing, which RabbitMQ 3.10 has).
//! - `{prefix}.dead`: poison messages (undecodable, or over the delivery limit) with their
//!   reason, for `docsync dlq list` and `docsync dlq replay`.

mod broker;
mod jobs;
pub mod worker;

pub use broker::{delivery_count, trace_headers, Broker, DeadLetter, QueueConfig, QueueError};
pub use jobs::{partition_of, CollectJob, PublishJob, PublishWork, SyncBatch};
