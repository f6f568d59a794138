//! docsync's Microsoft 365 source: signs in to each customer tenant with the MSP's
//! multi-tenant app, reads Microsoft Graph and the Exchange Online admin API, and builds the
//! tenant's posture [`Snapshot`], including the baseline checks and framework scores
//! ([`compliance`]); and reads its directory audit log for change-triggered pushes
//! ([`GraphSource::directory_audits_since`]).
//!
//! A section that cannot be read (missing permission, API error) becomes
//! [`docsync_domain::snapshot::Section::Unavailable`] with a reason a person can act on; only a
//! failed sign-in, or a network that failed every call, fails the whole collection.

mod audits;
mod auth;
mod collect;
pub mod compliance;
mod config;
mod error;
mod fetch;
mod http;
mod sections;
mod wire;

pub use audits::{audit_filter, ChangeKind, DirectoryAudit, AUDIT_PAGE_SIZE};
pub use collect::GraphSource;
pub use config::{GraphSourceConfig, MicrosoftBudgets, MicrosoftCredentials, TenantRef};
pub use docsync_outbound::ClientError;
pub use error::SourceError;

use docsync_domain::Snapshot;
use futures::future::BoxFuture;

/// Anything that can build a tenant's posture snapshot (Microsoft Graph today, PSA sources
/// later).
pub trait SnapshotSource: Send + Sync {
    /// Collects one tenant's snapshot.
    fn collect<'a>(
        &'a self,
        creds: &'a MicrosoftCredentials,
        tenant: &'a TenantRef,
    ) -> BoxFuture<'a, Result<Snapshot, SourceError>>;
}

impl SnapshotSource for GraphSource {
    fn collect<'a>(
        &'a self,
        creds: &'a MicrosoftCredentials,
        tenant: &'a TenantRef,
    ) -> BoxFuture<'a, Result<Snapshot, SourceError>> {
        Box::pin(GraphSource::collect(self, creds, tenant))
    }
}
