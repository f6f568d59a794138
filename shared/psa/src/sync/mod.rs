//! The two steps of a PSA sync run, for the collector and the publisher roles:
//! - [`collect`]: read the PSA's company list (recording it with match states and
//!   suggestions), then every matched company's records, stored as payloads;
//! - [`publish_batch`]: project each payload onto the destination and write only what changed,
//!   in batches that each finish well within the job time limit (a redelivery repeats a batch,
//!   not a company of 10,000 records); then, where the PSA takes them and the integration
//!   asks for it, Hudu's articles into the PSA's knowledge base ([`knowledge`]).
//!
//! Handlers say what happened ([`Step`]); the roles decide what comes next (enqueue the
//! publish, continue the batch, retry later, finish).

mod collect;
mod destination;
pub mod knowledge;
mod publish;

pub use crate::spec::source;
pub use collect::collect;
pub use destination::LayoutCache;
pub use publish::{publish_batch, BatchShare};

use docsync_destinations::SinkFactory;
use docsync_domain::crypto::MasterKey;
use docsync_store::{Store, SyncCounts};

/// What both steps reach: the store, the master key, and the destinations (with the process's
/// pacer and HTTP client).
#[derive(Clone)]
pub struct SyncContext {
    /// The fleet's database.
    pub store: Store,
    /// Opens sealed secrets.
    pub master: MasterKey,
    /// Builds destination writers from stored integrations; its pacer and HTTP client serve
    /// the PSA calls too.
    pub destinations: SinkFactory,
    /// Destination layouts resolved recently, per account.
    pub layouts: LayoutCache,
}

impl SyncContext {
    /// A context over the fleet's store and destinations.
    pub fn new(store: Store, master: MasterKey, destinations: SinkFactory) -> Self {
        Self {
            store,
            master,
            destinations,
            layouts: LayoutCache::default(),
        }
    }
}

/// What a step came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Records are stored: publish `companies` payloads.
    Publish {
        /// Payloads stored.
        companies: usize,
        /// What the run's events should say.
        detail: String,
    },
    /// The next batch starts at this cursor.
    Continue(BatchCursor),
    /// Finished with these counts.
    Finished(SyncCounts, String),
    /// Failed for a reason a person can act on.
    Failed(String),
    /// A passing fault: worth retrying later.
    Transient(String),
}

/// Where a publish batch starts: the payload index, and whether that company's adoption pass
/// was done already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCursor {
    /// Index of the payload (company) to work on.
    pub company: u32,
    /// Its existing assets were matched against the plan already.
    #[serde(default)]
    pub adopted: bool,
}

impl From<crate::CallError> for Step {
    fn from(e: crate::CallError) -> Self {
        if e.is_transient() {
            Step::Transient(e.to_string())
        } else {
            Step::Failed(e.to_string())
        }
    }
}
