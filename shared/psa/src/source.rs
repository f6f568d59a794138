//! What every PSA source offers the sync, whatever its API: a read-only check, the company
//! list and one company's records as a [`CompanyPayload`] (what a long read has so far handed
//! on page by page through [`ReadSoFar`]). A PSA is one module implementing
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
    /// What the PSA's permissions allow, per record kind checked (a role lacking a right
    /// says so and what to change).
    pub permissions: Vec<PermissionCheck>,
    /// What the PSA reports of its own budget (e.g. Autotask's threshold use), as JSON.
    pub reported_limit: Option<serde_json::Value>,
    /// What a person should know or do.
    pub message: String,
}

/// Whether the credentials may read one kind of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    /// The kind, as the test connection's `layouts[].kind` names it (`configurations` ...).
    pub kind: &'static str,
    /// Readable.
    pub ok: bool,
    /// What was found, or what to grant in the PSA.
    pub message: String,
}

/// A PSA that a sync reads, paced by its own rate-limit key.
pub trait PsaSource: Send + Sync {
    /// Read-only check of the credentials, reachability and permissions.
    fn check(&self) -> BoxFuture<'_, SourceCheck>;

    /// Every company with its facts.
    fn companies(&self) -> BoxFuture<'_, Result<Vec<CompanyFacts>, CallError>>;

    /// One company's records: whole when `since` is None, else what changed after `since`
    /// plus the ids listed now (to see deletions). A whole read of many pages hands what it
    /// has read so far to `so_far` after each page but the last, so its first records can be
    /// written while the rest are read.
    fn company_payload<'a>(
        &'a self,
        company: &'a CompanyFacts,
        destination_company_id: Option<i64>,
        since: Option<DateTime<Utc>>,
        options: &'a PsaOptions,
        so_far: &'a dyn ReadSoFar,
    ) -> BoxFuture<'a, Result<CompanyPayload, CallError>>;

    /// Requests made so far (for the run's events and the benchmark).
    fn requests(&self) -> u32;

    /// The PSA's knowledge base, where it takes articles (HaloPSA); None elsewhere.
    fn knowledge_base(&self) -> Option<&dyn KnowledgeBase> {
        None
    }
}

/// Where a source hands a company's records read so far while it reads the rest.
pub trait ReadSoFar: Send + Sync {
    /// `payload` holds the records read so far, more follow; what it lacks (a kind not read
    /// yet, the ids of a listing not finished) says nothing.
    fn read_so_far<'a>(&'a self, payload: &'a CompanyPayload) -> BoxFuture<'a, ()>;
}

/// A [`ReadSoFar`] that keeps nothing (the whole read is all that is wanted).
pub struct WholeOnly;

impl ReadSoFar for WholeOnly {
    fn read_so_far<'a>(&'a self, _payload: &'a CompanyPayload) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// An article in a PSA's knowledge base, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbArticle {
    /// The PSA's id.
    pub id: i64,
    /// Title.
    pub name: String,
}

/// A PSA knowledge base docsync writes Hudu's articles into (one-way).
pub trait KnowledgeBase: Send + Sync {
    /// Every article.
    fn articles(&self) -> BoxFuture<'_, Result<Vec<KbArticle>, CallError>>;

    /// Creates (`id` None) or updates in place an article; returns its id.
    fn save<'a>(
        &'a self,
        id: Option<i64>,
        name: &'a str,
        html: &'a str,
    ) -> BoxFuture<'a, Result<i64, CallError>>;
}
