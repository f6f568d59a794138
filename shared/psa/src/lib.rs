//! PSA sources and their projections: what docsync reads from a PSA (ConnectWise Manage
//! today; HaloPSA and Autotask are modules of the same shape) and the pure functions that
//! plan the objects a destination should hold.
//!
//! - [`payload`]: what a source produces, tagged by kind: the records of one PSA company.
//! - [`projection`]: payload + mapping + options -> planned objects (a company, assets in
//!   layouts), each with a key, parent, title, body and fingerprint. No I/O.
//! - [`source`]: what every PSA source offers ([`PsaSource`]); [`spec`]: the one place a PSA
//!   is chosen by its kind (its stored config opened, its source built);
//! - [`connectwise`]: the ConnectWise Manage source: its client on the one outbound HTTP stack
//!   (paced by the PSA key), the company list, a company's records (incremental by
//!   `lastUpdated`, with an id listing to see deletions) and the connection test.

pub mod autotask;
pub mod connectwise;
pub mod halo;
pub mod payload;
pub mod projection;
pub mod source;
pub mod spec;
pub mod sync;

pub use docsync_outbound::CallError;
pub use source::{
    KbArticle, KnowledgeBase, PermissionCheck, PsaSource, ReadSoFar, SourceCheck, WholeOnly,
};
