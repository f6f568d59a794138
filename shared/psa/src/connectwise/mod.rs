//! The ConnectWise Manage source: the company list, a company's records and the connection
//! test, read through [`client::ConnectWiseClient`] (paced by the integration's PSA key).
//!
//! A company's records are read whole the first time (and whenever the options that shape
//! them changed); afterwards each kind is one id listing (`fields=id,_info/lastUpdated`, which
//! also reveals deletions) plus the records changed since the last sync, fetched by id.

pub mod client;
mod records;

pub use client::ConnectWiseClient;

use crate::payload::{CompanyFacts, CompanyPayload, RecordKind};
use crate::{CallError, ReadSoFar};
use chrono::{DateTime, Utc};
use docsync_domain::psa::PsaOptions;
use serde_json::Value;
use std::collections::HashMap;

/// Ids fetched per `id in (...)` request (URLs past ~2000 characters fail).
const IDS_PER_REQUEST: usize = 150;

/// The endpoint and base conditions of a kind's records of one company.
fn endpoint(kind: RecordKind, company: i64, options: &PsaOptions) -> (String, Vec<String>) {
    match kind {
        RecordKind::Contact => (
            "/company/contacts".into(),
            vec![format!("company/id={company}")],
        ),
        RecordKind::Configuration => {
            let mut c = vec![format!("company/id={company}")];
            if options.skip.inactive_configurations {
                c.push("activeFlag=true".into());
            }
            ("/company/configurations".into(), c)
        }
        RecordKind::Agreement => (
            "/finance/agreements".into(),
            vec![
                format!("company/id={company}"),
                "agreementStatus=\"Active\"".into(),
            ],
        ),
        RecordKind::Site => (format!("/company/companies/{company}/sites"), Vec::new()),
    }
}

/// Whether the options skip a kind entirely (it is then not read at all).
pub fn kind_skipped(kind: RecordKind, options: &PsaOptions) -> bool {
    match kind {
        RecordKind::Contact => options.skip.contacts,
        RecordKind::Configuration => options.skip.configurations,
        RecordKind::Agreement => options.skip.agreements,
        RecordKind::Site => options.skip.sites,
    }
}

impl crate::PsaSource for ConnectWiseClient {
    fn check(&self) -> futures::future::BoxFuture<'_, crate::SourceCheck> {
        Box::pin(self.check_connection())
    }

    fn companies(&self) -> futures::future::BoxFuture<'_, Result<Vec<CompanyFacts>, CallError>> {
        Box::pin(self.list_companies())
    }

    fn company_payload<'a>(
        &'a self,
        company: &'a CompanyFacts,
        destination_company_id: Option<i64>,
        since: Option<DateTime<Utc>>,
        options: &'a PsaOptions,
        so_far: &'a dyn ReadSoFar,
    ) -> futures::future::BoxFuture<'a, Result<CompanyPayload, CallError>> {
        Box::pin(self.read_company(company, destination_company_id, since, options, so_far))
    }

    fn requests(&self) -> u32 {
        self.requests_made()
    }
}

impl ConnectWiseClient {
    /// Every company with its facts (one paged listing plus the status table).
    async fn list_companies(&self) -> Result<Vec<CompanyFacts>, CallError> {
        // The status table and the listing at once (each waits a provider's answer).
        let (statuses, rows) = futures::future::try_join(
            self.get_json(
                "/company/companies/statuses",
                &[("pageSize", "1000".into())],
            ),
            self.list_all(
                "/company/companies",
                &[],
                Some("id,name,status,types,addressLine1,addressLine2,city,state,zip,country,phoneNumber,website,deletedFlag"),
            ),
        )
        .await?;
        let inactive: HashMap<i64, bool> = statuses
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s.get("id")?.as_i64()?, s.get("inactiveFlag")?.as_bool()?)))
            .collect();
        Ok(rows
            .iter()
            .filter_map(|r| records::company(r, &inactive))
            .collect())
    }

    /// One company's records: whole when `since` is None (what is read so far handed to
    /// `so_far` after each page but the last), else the id listing of each kind and the
    /// records changed after `since`.
    async fn read_company(
        &self,
        company: &CompanyFacts,
        destination_company_id: Option<i64>,
        since: Option<DateTime<Utc>>,
        options: &PsaOptions,
        so_far: &dyn ReadSoFar,
    ) -> Result<CompanyPayload, CallError> {
        let mut payload = CompanyPayload::new(company, destination_company_id, since.is_none());
        let kinds: Vec<RecordKind> = RecordKind::ALL
            .into_iter()
            .filter(|kind| !kind_skipped(*kind, options))
            .collect();
        for (n, &kind) in kinds.iter().enumerate() {
            let (path, conditions) = endpoint(kind, company.psa_id, options);
            match since {
                None => {
                    let more_kinds = n + 1 < kinds.len();
                    self.read_whole(kind, &path, &conditions, &mut payload, more_kinds, so_far)
                        .await?
                }
                Some(since) => {
                    self.read_changed(kind, &path, &conditions, since, &mut payload)
                        .await?
                }
            }
        }
        Ok(payload)
    }

    /// Every record of `kind`, page by page; what is read so far goes to `so_far` after each
    /// page unless it is the last of the read (`more_kinds`: other kinds follow this one).
    async fn read_whole(
        &self,
        kind: RecordKind,
        path: &str,
        conditions: &[String],
        payload: &mut CompanyPayload,
        more_kinds: bool,
        so_far: &dyn ReadSoFar,
    ) -> Result<(), CallError> {
        let mut pages = self.pages(path, conditions, None).await?;
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await? {
            for record in page.iter().filter_map(|r| records::record(kind, r)) {
                ids.push(record.source_id);
                payload.records.push(record);
            }
            if pages.more() || more_kinds {
                so_far.read_so_far(payload).await;
            }
        }
        payload.present.insert(kind, ids);
        Ok(())
    }

    /// The id listing of `kind` (which also reveals deletions) and the records changed after
    /// `since`, fetched by id.
    async fn read_changed(
        &self,
        kind: RecordKind,
        path: &str,
        conditions: &[String],
        since: DateTime<Utc>,
        payload: &mut CompanyPayload,
    ) -> Result<(), CallError> {
        let listing = self
            .list_all(path, conditions, Some("id,_info/lastUpdated"))
            .await?;
        let mut changed = Vec::new();
        let mut ids = Vec::with_capacity(listing.len());
        for row in &listing {
            let Some(id) = row.get("id").and_then(Value::as_i64) else {
                continue;
            };
            ids.push(id);
            let updated = row
                .pointer("/_info/lastUpdated")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if updated.is_none_or(|u| u > since) {
                changed.push(id);
            }
        }
        payload.present.insert(kind, ids);
        for chunk in changed.chunks(IDS_PER_REQUEST) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut c = conditions.to_vec();
            c.push(format!("id in ({list})"));
            let rows = self.list_all(path, &c, None).await?;
            payload
                .records
                .extend(rows.iter().filter_map(|r| records::record(kind, r)));
        }
        Ok(())
    }
}
