//! The broker connection: topology declaration, confirmed publishing and consumers.

use crate::jobs::{partition_of, CollectJob, PublishJob};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use std::collections::BTreeMap;

/// Where the broker is and how the fleet's queues are named and consumed.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `amqp://user:pass@host:port/vhost`.
    pub amqp_url: String,
    /// Prefix of every queue name (`docsync` by default; tests use a unique one).
    pub prefix: String,
    /// Number of publish partitions (queues with single-active-consumer).
    pub publish_partitions: u16,
    /// Unacknowledged messages a consumer may hold.
    pub prefetch: u16,
}

impl QueueConfig {
    /// Defaults for a given broker URL.
    pub fn new(amqp_url: impl Into<String>) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            prefix: "docsync".into(),
            publish_partitions: 8,
            prefetch: 16,
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

/// A connection to the broker with a confirm-mode channel for publishing.
pub struct Broker {
    config: QueueConfig,
    connection: Connection,
    publisher: Channel,
}

impl Broker {
    /// Connects and declares the topology (idempotent).
    pub async fn connect(config: QueueConfig) -> Result<Self, QueueError> {
        let connection = Connection::connect(
            &config.amqp_url,
            ConnectionProperties::default().with_connection_name("docsync".into()),
        )
        .await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let broker = Self {
            config,
            connection,
            publisher,
        };
        broker.declare_topology().await?;
        Ok(broker)
    }

    /// The configuration in use.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// True while the connection is open.
    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Name of the collect queue.
    pub fn collect_queue(&self) -> String {
        format!("{}.collect", self.config.prefix)
    }

    /// Name of publish partition `n`.
    pub fn publish_queue(&self, n: u16) -> String {
        format!("{}.publish.{n}", self.config.prefix)
    }

    fn queue_names(&self) -> Vec<String> {
        let mut names = vec![self.collect_queue()];
        names.extend((0..self.config.publish_partitions).map(|n| self.publish_queue(n)));
        names
    }

    /// Declares every queue: durable, quorum; publish partitions single-active-consumer.
    pub async fn declare_topology(&self) -> Result<(), QueueError> {
        let channel = self.connection.create_channel().await?;
        let durable = QueueDeclareOptions::durable();
        channel
            .queue_declare(self.collect_queue().into(), durable, queue_arguments(false))
            .await?;
        for n in 0..self.config.publish_partitions {
            channel
                .queue_declare(self.publish_queue(n).into(), durable, queue_arguments(true))
                .await?;
        }
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(())
    }

    /// Deletes every queue of this prefix (test clean-up).
    pub async fn delete_topology(&self) -> Result<(), QueueError> {
        let channel = self.connection.create_channel().await?;
        for name in self.queue_names() {
            channel
                .queue_delete(name.into(), QueueDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Enqueues collect jobs and returns once the broker confirmed every one.
    pub async fn enqueue_collect(&self, jobs: &[CollectJob]) -> Result<(), QueueError> {
        let queue = self.collect_queue();
        let messages: Vec<(String, Vec<u8>)> = jobs
            .iter()
            .map(|j| Ok((queue.clone(), serde_json::to_vec(j)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        self.publish_confirmed(messages).await
    }

    /// Enqueues a publish job on its key's partition and waits for the confirm.
    pub async fn enqueue_publish(&self, job: &PublishJob) -> Result<(), QueueError> {
        let partition = partition_of(&job.rate_limit_key, self.config.publish_partitions);
        let message = (self.publish_queue(partition), serde_json::to_vec(job)?);
        self.publish_confirmed(vec![message]).await
    }

    async fn publish_confirmed(&self, messages: Vec<(String, Vec<u8>)>) -> Result<(), QueueError> {
        let channel = &self.publisher;
        let mut confirms = Vec::with_capacity(messages.len());
        for (queue, body) in &messages {
            confirms.push(
                channel
                    .basic_publish(
                        ShortString::from(""),
                        queue.as_str().into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        body,
                        persistent_json(),
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

    /// A consumer of the collect queue on its own channel with the configured prefetch.
    pub async fn consume_collect(&self, tag: &str) -> Result<Consumer, QueueError> {
        self.consume(&self.collect_queue(), tag).await
    }

    /// A consumer of publish partition `n` (single active consumer across the fleet).
    pub async fn consume_publish(&self, n: u16, tag: &str) -> Result<Consumer, QueueError> {
        self.consume(&self.publish_queue(n), tag).await
    }

    async fn consume(&self, queue: &str, tag: &str) -> Result<Consumer, QueueError> {
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions::default())
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
        let channel = self.connection.create_channel().await?;
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

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.connection.close(200, "shutdown".into()).await;
    }
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
