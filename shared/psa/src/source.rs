//! What every PSA source offers the sync, whatever its API: a read-only check, the company
//! list and one company's records as a [`CompanyPayload`]. A PSA is one module implementing
//! [`PsaSource`] plus one arm in [`crate::sync::source`], the single dispatch point.

use crate::payload::{CompanyFacts, CompanyPayload};
use crate::CallError;
use chrono::{DateTime, Utc};
use docsync_domain::psa::PsaOptions;
use futures::future::BoxFuture;

/// What a source's connection test found.
#[derive(Debug, Clone, Default)]
pub struct SourceCheck {
    /// The credentials were accepted.
    pub credentials_valid: bool,
    /// The PSA answered at all.
    pub reachable: bool,
    /// The first companies `(id, name)`.
    pub first_companies: Vec<(i64, String)>,
    /// Whether configurations / assets may be read (a role lacking the right says so).
    pub configurations_readable: Option<bool>,
    /// What a person should know or do.
    pub message: String,
}

/// A PSA that a sync reads, paced by its own rate-limit key.
pub trait PsaSource: Send + Sync {
    /// Read-only check of the credentials, reachability and permissions.
    fn check(&self) -> BoxFuture<'_, SourceCheck>;

    /// Every company with its facts.
    fn companies(&self) -> BoxFuture<'_, Result<Vec<CompanyFacts>, CallError>>;

    /// One company's records: whole when `since` is None, else what changed after `since`
    /// plus the ids listed now (to see deletions).
    fn company_payload<'a>(
        &'a self,
        company: &'a CompanyFacts,
        destination_company_id: Option<i64>,
        since: Option<DateTime<Utc>>,
        options: &'a PsaOptions,
    ) -> BoxFuture<'a, Result<CompanyPayload, CallError>>;

    /// Requests made so far (for the run's events and the benchmark).
    fn requests(&self) -> u32;
}
