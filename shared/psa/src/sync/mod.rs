//! The two steps of a PSA sync run, for the collector and the publisher roles:
//! - collect: [`plan`] reads the PSA's company list (recording it with match states and
//!   suggestions) and plans a payload per matched company; the run goes to the publishers;
//!   [`read`] then reads every planned company's records into its payload (a collector taking
//!   over a half-read run reads only the [`unread`] ones);
//! - [`publish_batch`]: project each payload onto the destination as soon as it is read and
//!   write only what changed, in batches that each finish well within the job time limit (a
//!   redelivery repeats a batch, not a company of 10,000 records); then, where the PSA takes
//!   them and the integration asks for it, Hudu's articles into the PSA's knowledge base
//!   ([`knowledge`]).
//!
//! Handlers say what happened ([`Step`]); the roles decide what comes next (enqueue the
//! publish, continue the batch, retry later, finish).

mod collect;
mod destination;
pub mod knowledge;
mod publish;

pub use crate::spec::source;
pub use collect::{plan, read, unread, Planned, ReadPlan};
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
    /// Companies are planned, or their records stored: publish `companies` payloads.
    Publish {
        /// Payloads stored.
        companies: usize,
        /// What the run's events should say.
        detail: String,
    },
    /// The next batch starts at this cursor.
    Continue(BatchCursor),
    /// The next batch starts at this cursor, where this one ended waiting for a company's
    /// records that the collector is still reading.
    Wait(BatchCursor),
    /// Finished with these counts.
    Finished(SyncCounts, String),
    /// Failed for a reason a person can act on.
    Failed(String),
    /// A passing fault: worth retrying later.
    Transient(String),
}

/// Where a publish batch starts: the payload's place in the run's plan, and whether that
/// company's adoption pass was done already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCursor {
    /// The place (`seq`) in the run's plan of the payload (company) to work on.
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
