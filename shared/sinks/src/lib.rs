//! Sinks: where snapshots are published (Hudu articles, IT Glue flexible assets).
//!
//! A sink renders a snapshot for its provider and writes it in place: the recorded document
//! is updated by id; without one, an existing document of the exact title in the mapped
//! company is adopted; only then is one created. Every provider call goes through the
//! [`Pacer`] under the integration's rate-limit key, and a 429 pauses the whole key.

pub mod html;
pub use docsync_outbound::{http, pacer, resolve};
pub use http::client as http_client;
pub mod hudu;
pub mod hudu_objects;
pub mod in_place;
pub mod itglue;
pub mod posture;
pub mod sample;
pub mod template;

pub use hudu::{HuduConfig, HuduSink};
pub use itglue::{AssetTypeCache, ItGlueConfig, ItGlueHosts, ItGlueSink};
pub use pacer::{Pacer, SharedSlot, SlotLedger};

use chrono::{DateTime, Utc};
use docsync_domain::{PostureOptions, Provider, Snapshot};
use futures::future::BoxFuture;
use serde::Serialize;

/// The document a tenant was last written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDocument {
    /// The provider's id.
    pub remote_id: String,
    /// The company / organization it is in.
    pub parent_id: i64,
    /// Its title when last written.
    pub title: String,
}

/// What to publish, and where.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// The mapped company / organization.
    pub parent_id: i64,
    /// The recorded document, if any.
    pub known: Option<KnownDocument>,
    /// The push time shown in the document ("last push").
    pub pushed_at: DateTime<Utc>,
    /// What of the snapshot is written, and how (sections, template).
    pub options: &'a PostureOptions,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The document written.
    pub document: KnownDocument,
    /// True when a new document was created.
    pub created: bool,
    /// Provider requests made.
    pub requests: u32,
}

/// The result of a read-only connection test.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    /// The key was accepted.
    pub key_valid: bool,
    /// The provider answered at all.
    pub reachable: bool,
    /// The first companies / organizations `(id, name)`.
    pub first_companies: Vec<NamedRemote>,
    /// Rate-limit headers the provider sent.
    pub rate_limit_headers: Vec<(String, String)>,
    /// What a person should know or do.
    pub message: String,
}

/// A provider company / organization.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedRemote {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
}

/// Why a publish failed: a provider call's error, from the one outbound stack.
pub use docsync_outbound::CallError as SinkError;

/// A documentation provider that snapshots are published to.
pub trait Sink: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// Writes the snapshot in place.
    fn publish<'a>(
        &'a self,
        request: PublishRequest<'a>,
    ) -> BoxFuture<'a, Result<PublishOutcome, SinkError>>;

    /// Read-only check of key, reachability and the first companies.
    fn test_connection(&self) -> BoxFuture<'_, ConnectionReport>;
}
