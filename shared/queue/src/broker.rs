//! The broker connection: topology declaration, confirmed publishing, consumers, delayed
//! retries and the dead-letter queue. The connection is re-opened (and the topology declared
//! again) on the first call after it was lost, so a RabbitMQ restart needs no manual step.

use crate::jobs::{partition_of, CollectJob, PublishJob};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where the broker is and how the fleet's queues are named and consumed. `Debug` shows the
/// broker URL without its password.
#[derive(Clone)]
pub struct QueueConfig {
    /// `amqp://user:pass@host:port/vhost`.
    pub amqp_url: String,
    /// Prefix of every queue name (`docsync` by default; tests use a unique one).
    pub prefix: String,
    /// Number of publish partitions (queues with single-active-consumer).
    pub publish_partitions: u16,
    /// Unacknowledged messages a collect consumer may hold.
    pub prefetch: u16,
    /// Unacknowledged messages a publish partition's consumer may hold. Large, so that keys
    /// sharing a partition are paced side by side rather than one after another; waiting
    /// messages are small (the snapshot is loaded only when the key's turn comes).
    pub publish_prefetch: u16,
    /// The waits before the 1st, 2nd, ... retry of a job that met a transient fault; a job
    /// is retried this many times, then its run fails.
    pub retry_delays: Vec<Duration>,
    /// Deliveries of one message after which it goes to the dead-letter queue (a message
    /// whose handling keeps crashing or being interrupted).
    pub delivery_limit: u32,
}

impl std::fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueConfig")
            .field("amqp_url", &docsync_domain::redacted_url(&self.amqp_url))
            .field("prefix", &self.prefix)
            .field("publish_partitions", &self.publish_partitions)
            .field("prefetch", &self.prefetch)
            .field("publish_prefetch", &self.publish_prefetch)
            .field("retry_delays", &self.retry_delays)
            .field("delivery_limit", &self.delivery_limit)
            .finish()
    }
}

impl QueueConfig {
    /// Defaults for a given broker URL.
    pub fn new(amqp_url: impl Into<String>) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            prefix: "docsync".into(),
            publish_partitions: 8,
            prefetch: 32,
            publish_prefetch: 1000,
            retry_delays: [10, 60, 300, 900]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            delivery_limit: 20,
        }
    }
}

/// Why a broker call failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker could not be reached or refused the call.
    #[error("message broker unavailable: {0}")]
    Broker(#[from] lapin::Error),
    /// The broker did not confirm a publish.
    #[error("the message broker did not confirm the message")]
    NotConfirmed,
    /// A message could not be encoded.
    #[error("message could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A message parked in the dead-letter queue, with why it is there.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Its id (for `docsync dlq replay --id`).
    pub id: String,
    /// The queue it came from and goes back to on replay.
    pub origin: String,
    /// Why it was parked.
    pub reason: String,
    /// When (Unix seconds).
    pub at: u64,
    /// The message body as text (jobs carry ids only, never secrets).
    pub body: String,
}

#[derive(Clone)]
struct Link {
    connection: std::sync::Arc<Connection>,
    publisher: Channel,
}

impl Link {
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

/// A connection to the broker with a confirm-mode channel for publishing, re-opened on
/// demand after it was lost.
pub struct Broker {
    config: QueueConfig,
    link: tokio::sync::Mutex<Option<Link>>,
}

impl Broker {
    /// Connects and declares the topology (idempotent).
    pub async fn connect(config: QueueConfig) -> Result<Self, QueueError> {
        let broker = Self {
            config,
            link: tokio::sync::Mutex::new(None),
        };
        broker.link().await?;
        Ok(broker)
    }

    /// The open link, re-connecting (and declaring the topology) when it was lost.
    async fn link(&self) -> Result<Link, QueueError> {
        let mut current = self.link.lock().await;
        if let Some(link) = current.as_ref().filter(|l| l.usable()) {
            return Ok(link.clone());
        }
        if current.is_some() {
            tracing::warn!("the broker connection was lost; reconnecting");
        }
        let connection = Connection::connect(
            &self.config.amqp_url,
            ConnectionProperties::default().with_connection_name("docsync".into()),
        )
        .await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        self.declare_on(&connection).await?;
        let link = Link {
            connection: std::sync::Arc::new(connection),
            publisher,
        };
        *current = Some(link.clone());
        Ok(link)
    }

    /// The configuration in use.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// True while the connection is open (without trying to re-open it).
    pub fn is_connected(&self) -> bool {
        self.link
            .try_lock()
            .map(|l| l.as_ref().is_some_and(Link::usable))
            .unwrap_or(true)
    }

    /// Name of the collect queue.
    pub fn collect_queue(&self) -> String {
        format!("{}.collect", self.config.prefix)
    }

    /// Name of publish partition `n`.
    pub fn publish_queue(&self, n: u16) -> String {
        format!("{}.publish.{n}", self.config.prefix)
    }

    /// Name of the dead-letter queue.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.config.prefix)
    }

    /// Name of the delay queue (and its exchange) that waits `delay` before handing a
    /// message back to the queue it names as routing key.
    fn delay_queue(&self, delay: Duration) -> String {
        format!("{}.delay.{}ms", self.config.prefix, delay.as_millis())
    }

    fn queue_names(&self) -> Vec<String> {
        let mut names = vec![self.collect_queue(), self.dead_letter_queue()];
        names.extend((0..self.config.publish_partitions).map(|n| self.publish_queue(n)));
        names.extend(
            self.config
                .retry_delays
                .iter()
                .map(|d| self.delay_queue(*d)),
        );
        names
    }

    /// Declares every queue again (idempotent).
    pub async fn declare_topology(&self) -> Result<(), QueueError> {
        let link = self.link().await?;
        self.declare_on(&link.connection).await
    }

    /// Work queues are durable quorum queues (publish partitions single-active-consumer).
    /// Each retry delay is a fanout exchange into a durable queue whose messages expire after
    /// the delay and are dead-lettered to the default exchange under their routing key: the
    /// name of the queue they came from. The dead-letter queue holds poison messages.
    async fn declare_on(&self, connection: &Connection) -> Result<(), QueueError> {
        let channel = connection.create_channel().await?;
        let durable = QueueDeclareOptions::durable();
        channel
            .queue_declare(self.collect_queue().into(), durable, queue_arguments(false))
            .await?;
        for n in 0..self.config.publish_partitions {
            channel
                .queue_declare(self.publish_queue(n).into(), durable, queue_arguments(true))
                .await?;
        }
        channel
            .queue_declare(
                self.dead_letter_queue().into(),
                durable,
                queue_arguments(false),
            )
            .await?;
        for delay in &self.config.retry_delays {
            let name = self.delay_queue(*delay);
            channel
                .exchange_declare(
                    name.as_str().into(),
                    ExchangeKind::Fanout,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            let mut args = BTreeMap::new();
            args.insert(
                ShortString::from("x-message-ttl"),
                AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            );
            args.insert(
                ShortString::from("x-dead-letter-exchange"),
                AMQPValue::LongString("".into()),
            );
            channel
                .queue_declare(name.as_str().into(), durable, FieldTable::from(args))
                .await?;
            channel
                .queue_bind(
                    name.as_str().into(),
                    name.as_str().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(())
    }

    /// Deletes every queue and exchange of this prefix (test clean-up).
    pub async fn delete_topology(&self) -> Result<(), QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        for name in self.queue_names() {
            channel
                .queue_delete(name.into(), QueueDeleteOptions::default())
                .await?;
        }
        for delay in &self.config.retry_delays {
            let _ = channel
                .exchange_delete(self.delay_queue(*delay).as_str().into(), Default::default())
                .await;
        }
        Ok(())
    }

    /// Enqueues collect jobs and returns once the broker confirmed every one.
    pub async fn enqueue_collect(&self, jobs: &[CollectJob]) -> Result<(), QueueError> {
        let queue = self.collect_queue();
        let messages: Vec<Outgoing> = jobs
            .iter()
            .map(|j| Ok(Outgoing::to_queue(&queue, serde_json::to_vec(j)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        self.publish_confirmed(messages).await
    }

    /// Enqueues a publish job on its key's partition and waits for the confirm.
    pub async fn enqueue_publish(&self, job: &PublishJob) -> Result<(), QueueError> {
        let partition = partition_of(&job.rate_limit_key, self.config.publish_partitions);
        let message = Outgoing::to_queue(&self.publish_queue(partition), serde_json::to_vec(job)?);
        self.publish_confirmed(vec![message]).await
    }

    /// Puts a raw message on one of the fleet's queues (operators' tooling and tests: a
    /// message as another producer might have sent it).
    pub async fn enqueue_raw(&self, queue: &str, body: Vec<u8>) -> Result<(), QueueError> {
        self.publish_confirmed(vec![Outgoing::to_queue(queue, body)])
            .await
    }

    /// The wait before retry number `retry` (1 for the first), or None when the retries
    /// are used up.
    pub fn retry_delay(&self, retry: u32) -> Option<Duration> {
        let index = usize::try_from(retry.checked_sub(1)?).ok()?;
        self.config.retry_delays.get(index).copied()
    }

    /// Hands `body` back to `queue` after the delay of retry number `retry` (through that
    /// delay's queue); false when the retries are used up.
    pub async fn retry_later(
        &self,
        queue: &str,
        body: Vec<u8>,
        retry: u32,
    ) -> Result<bool, QueueError> {
        let Some(delay) = self.retry_delay(retry) else {
            return Ok(false);
        };
        let message = Outgoing {
            exchange: self.delay_queue(delay),
            routing_key: queue.to_owned(),
            body,
            properties: persistent_json(),
        };
        self.publish_confirmed(vec![message]).await?;
        Ok(true)
    }

    /// Parks a message that cannot be handled in the dead-letter queue with the reason.
    pub async fn dead_letter(
        &self,
        origin: &str,
        body: Vec<u8>,
        reason: &str,
    ) -> Result<(), QueueError> {
        let mut headers = BTreeMap::new();
        headers.insert(
            ShortString::from("x-docsync-origin"),
            AMQPValue::LongString(origin.into()),
        );
        headers.insert(
            ShortString::from("x-docsync-reason"),
            AMQPValue::LongString(reason.into()),
        );
        let properties = persistent_json()
            .with_message_id(uuid::Uuid::new_v4().to_string().into())
            .with_timestamp(unix_now())
            .with_headers(FieldTable::from(headers));
        let message = Outgoing {
            exchange: String::new(),
            routing_key: self.dead_letter_queue(),
            body,
            properties,
        };
        tracing::error!(%origin, %reason, "message parked in the dead-letter queue");
        self.publish_confirmed(vec![message]).await
    }

    /// The dead-letter queue's messages (up to `limit`), left in place.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        let mut seen = Vec::new();
        while seen.len() < limit {
            let Some(message) = channel
                .basic_get(
                    self.dead_letter_queue().as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?
            else {
                break;
            };
            seen.push(read_dead_letter(&message.delivery));
        }
        // Closing the channel returns every unacknowledged message to the queue.
        let _ = channel.close(200, "listed".into()).await;
        Ok(seen)
    }

    /// Sends dead letters back to the queues they came from: those with the given ids, or
    /// all when `ids` is empty. Returns how many were replayed.
    pub async fn replay_dead_letters(&self, ids: &[String]) -> Result<usize, QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        let mut replayed = 0;
        loop {
            let Some(message) = channel
                .basic_get(
                    self.dead_letter_queue().as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?
            else {
                break;
            };
            let letter = read_dead_letter(&message.delivery);
            let tag = message.delivery.delivery_tag;
            if ids.is_empty() || ids.contains(&letter.id) {
                // The replayed job goes on with the trace it was parked in.
                let mut replay = Outgoing::to_queue(&letter.origin, message.delivery.data.clone());
                replay.properties =
                    with_trace(replay.properties, &trace_headers(&message.delivery));
                self.publish_confirmed(vec![replay]).await?;
                channel.basic_ack(tag, BasicAckOptions::default()).await?;
                replayed += 1;
            }
            // Others stay unacknowledged until the channel closes, so one pass sees each
            // message once; closing hands them back to the queue.
        }
        let _ = channel.close(200, "replayed".into()).await;
        Ok(replayed)
    }

    /// Publishes with publisher confirms; each message carries the current span's trace
    /// context unless it has one already.
    async fn publish_confirmed(&self, mut messages: Vec<Outgoing>) -> Result<(), QueueError> {
        let current = docsync_telemetry::propagation::current_headers();
        for m in &mut messages {
            m.properties = with_trace(m.properties.clone(), &current);
        }
        let link = self.link().await?;
        let result = async {
            let mut confirms = Vec::with_capacity(messages.len());
            for m in &messages {
                confirms.push(
                    link.publisher
                        .basic_publish(
                            m.exchange.as_str().into(),
                            m.routing_key.as_str().into(),
                            BasicPublishOptions {
                                mandatory: true,
                                ..BasicPublishOptions::default()
                            },
                            &m.body,
                            m.properties.clone(),
                        )
                        .await?,
                );
            }
            for confirm in confirms {
                let confirmation = confirm.await?;
                if !confirmation.is_ack() || confirmation.take_message().is_some() {
                    return Err(QueueError::NotConfirmed);
                }
            }
            Ok(())
        }
        .await;
        if let Err(QueueError::Broker(_)) = &result {
            // The next call re-opens the link.
            *self.link.lock().await = None;
        }
        result
    }

    /// A consumer of the collect queue on its own channel with the configured prefetch.
    pub async fn consume_collect(&self, tag: &str) -> Result<Consumer, QueueError> {
        self.consume(&self.collect_queue(), tag, self.config.prefetch)
            .await
    }

    /// A consumer of publish partition `n` (single active consumer across the fleet).
    pub async fn consume_publish(&self, n: u16, tag: &str) -> Result<Consumer, QueueError> {
        self.consume(&self.publish_queue(n), tag, self.config.publish_prefetch)
            .await
    }

    async fn consume(&self, queue: &str, tag: &str, prefetch: u16) -> Result<Consumer, QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        Ok(channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?)
    }

    /// Messages ready in a queue (for progress displays and tests).
    pub async fn ready_count(&self, queue: &str) -> Result<u32, QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        let q = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let _ = channel.close(200, "counted".into()).await;
        Ok(q.message_count())
    }

    /// Every queue of the fleet, by its name without the prefix (`collect`, `publish.3`,
    /// `delay.10000ms`, `dead`), with its ready messages and consumers, on one channel.
    pub async fn queue_stats(&self) -> Result<Vec<(String, u32, u32)>, QueueError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await?;
        let mut out = Vec::new();
        for name in self.queue_names() {
            let q = channel
                .queue_declare(
                    name.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            let short = name
                .strip_prefix(&format!("{}.", self.config.prefix))
                .unwrap_or(&name)
                .to_owned();
            out.push((short, q.message_count(), q.consumer_count()));
        }
        let _ = channel.close(200, "counted".into()).await;
        Ok(out)
    }

    /// Closes the connection.
    pub async fn close(&self) {
        if let Some(link) = self.link.lock().await.take() {
            let _ = link.connection.close(200, "shutdown".into()).await;
        }
    }
}

/// How many times the broker delivered a message before (quorum queues count it).
pub fn delivery_count(delivery: &lapin::message::Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongUInt(n) => Some(n),
            AMQPValue::ShortInt(n) => u32::try_from(n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

struct Outgoing {
    exchange: String,
    routing_key: String,
    body: Vec<u8>,
    properties: BasicProperties,
}

impl Outgoing {
    fn to_queue(queue: &str, body: Vec<u8>) -> Self {
        Self {
            exchange: String::new(),
            routing_key: queue.to_owned(),
            body,
            properties: persistent_json(),
        }
    }
}

/// The W3C trace context a message carries (`traceparent`, `tracestate`), for the consumer's
/// job span.
pub fn trace_headers(delivery: &lapin::message::Delivery) -> Vec<(String, String)> {
    docsync_telemetry::propagation::HEADERS
        .iter()
        .map(|h| ((*h).to_owned(), header_text(delivery, h)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// `properties` with the trace context `headers` added, unless they carry one already.
fn with_trace(properties: BasicProperties, headers: &[(String, String)]) -> BasicProperties {
    if headers.is_empty() {
        return properties;
    }
    let mut table: BTreeMap<ShortString, AMQPValue> = properties
        .headers()
        .as_ref()
        .map(|h| h.inner().clone())
        .unwrap_or_default();
    if table.contains_key(&ShortString::from("traceparent")) {
        return properties;
    }
    for (name, value) in headers {
        table.insert(
            ShortString::from(name.as_str()),
            AMQPValue::LongString(value.as_str().into()),
        );
    }
    properties.with_headers(FieldTable::from(table))
}

fn header_text(delivery: &lapin::message::Delivery, name: &str) -> String {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name).cloned())
        .and_then(|v| match v {
            AMQPValue::LongString(s) => Some(long_string(&s)),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

fn long_string(s: &LongString) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

fn read_dead_letter(delivery: &lapin::message::Delivery) -> DeadLetter {
    DeadLetter {
        id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        origin: header_text(delivery, "x-docsync-origin"),
        reason: header_text(delivery, "x-docsync-reason"),
        at: delivery.properties.timestamp().unwrap_or_default(),
        body: String::from_utf8_lossy(&delivery.data).into_owned(),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn queue_arguments(single_active_consumer: bool) -> FieldTable {
    let mut args = BTreeMap::new();
    args.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString("quorum".into()),
    );
    if single_active_consumer {
        args.insert(
            ShortString::from("x-single-active-consumer"),
            AMQPValue::Boolean(true),
        );
    }
    FieldTable::from(args)
}

fn persistent_json() -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
}

#[cfg(test)]
mod debug_tests {
    use super::QueueConfig;

    #[test]
    fn debug_shows_the_broker_url_without_its_password() {
        let shown = format!(
            "{:?}",
            QueueConfig::new("amqp://docsync:mq-PASSWORD@mq:5672/%2f")
        );
        assert!(!shown.contains("mq-PASSWORD"), "{shown}");
        assert!(shown.contains("amqp://docsync:••••@mq:5672/%2f"), "{shown}");
    }
}
