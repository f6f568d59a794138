//! The Autotask source: companies, contacts, configuration items (laid out by their
//! configuration category through the sort rules, as Hudu's guide warns) and company
//! locations (sites), and the connection test, read through [`client::AutotaskClient`]
//! (paced by the PSA key, at most three requests in flight per endpoint, never taking the
//! database past 90% of its shared hourly threshold).
//!
//! Contacts and configuration items are read whole the first time (and whenever the options
//! that shape them changed); afterwards each is one id listing (which reveals deletions) plus
//! the items modified since the last sync (`lastModifiedDate` / `lastModifiedTime`).
//! Locations have no modified date and are read whole. Autotask contracts are not brought in
//! yet: the agreements layout stays empty for Autotask.

pub mod client;
mod records;

pub use client::{AutotaskClient, RunNote, Threshold};

use crate::connectwise::kind_skipped;
use crate::payload::{CompanyFacts, CompanyPayload, RecordKind};
use crate::{CallError, ReadSoFar};
use chrono::{DateTime, SecondsFormat, Utc};
use docsync_domain::psa::PsaOptions;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// The entity, and the modified-date field of a kind (None: no incremental reads).
fn entity(kind: RecordKind) -> Option<(&'static str, Option<&'static str>)> {
    match kind {
        RecordKind::Contact => Some(("Contacts", Some("lastModifiedDate"))),
        RecordKind::Configuration => Some(("ConfigurationItems", Some("lastModifiedTime"))),
        RecordKind::Site => Some(("CompanyLocations", None)),
        RecordKind::Agreement => None,
    }
}

/// An Autotask source: the client plus the category names, read once per sync.
pub struct AutotaskSource {
    client: AutotaskClient,
    categories: OnceCell<HashMap<i64, String>>,
}

impl AutotaskSource {
    /// The source over `client`.
    pub fn new(client: AutotaskClient) -> Self {
        Self {
            client,
            categories: OnceCell::new(),
        }
    }

    /// The client (for its counters).
    pub fn client(&self) -> &AutotaskClient {
        &self.client
    }

    async fn categories(&self) -> Result<&HashMap<i64, String>, CallError> {
        self.categories
            .get_or_try_init(|| async {
                let rows = self
                    .client
                    .query(
                        "ConfigurationItemCategories",
                        json!([{"op": "gte", "field": "id", "value": 0}]),
                        &["id", "name"],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        Some((r.get("id")?.as_i64()?, r.get("name")?.as_str()?.to_owned()))
                    })
                    .collect())
            })
            .await
    }

    async fn read_company(
        &self,
        company: &CompanyFacts,
        destination_company_id: Option<i64>,
        since: Option<DateTime<Utc>>,
        options: &PsaOptions,
        so_far: &dyn ReadSoFar,
    ) -> Result<CompanyPayload, CallError> {
        let mut payload = CompanyPayload::new(company, destination_company_id, since.is_none());
        let of_company = json!({"op": "eq", "field": "companyID", "value": company.psa_id});
        // Locations name the sites of contacts and items, so they are read first (even when
        // skipped as assets, which costs one request).
        let locations = self
            .client
            .query("CompanyLocations", json!([of_company]), &[])
            .await?;
        let location_names: HashMap<i64, String> = locations
            .iter()
            .filter_map(|l| Some((l.get("id")?.as_i64()?, l.get("name")?.as_str()?.to_owned())))
            .collect();
        let no_categories = HashMap::new();
        // What is read so far is handed on after each page but the last of the read.
        let last_kind = RecordKind::ALL
            .into_iter()
            .rev()
            .find(|kind| entity(*kind).is_some() && !kind_skipped(*kind, options));
        for kind in RecordKind::ALL {
            let Some((entity, modified)) = entity(kind) else {
                continue;
            };
            if kind_skipped(kind, options) {
                continue;
            }
            let categories = if kind == RecordKind::Configuration {
                self.categories().await?
            } else {
                &no_categories
            };
            let mut filter = vec![of_company.clone()];
            if kind == RecordKind::Configuration && options.skip.inactive_configurations {
                filter.push(json!({"op": "eq", "field": "isActive", "value": true}));
            }
            let take = |payload: &mut CompanyPayload, ids: &mut Vec<i64>, rows: &[Value]| {
                let records = rows
                    .iter()
                    .filter(|r| {
                        r.get("companyID")
                            .and_then(Value::as_i64)
                            .is_none_or(|c| c == company.psa_id)
                    })
                    .filter_map(|r| records::record(kind, r, categories, &location_names));
                for record in records {
                    ids.push(record.source_id);
                    payload.records.push(record);
                }
            };
            let mut ids = Vec::new();
            match (kind, since, modified) {
                (RecordKind::Site, ..) => take(&mut payload, &mut ids, &locations),
                (_, Some(since), Some(modified)) => {
                    let listing = self.client.query(entity, json!(filter), &["id"]).await?;
                    let listed: Vec<i64> = listing
                        .iter()
                        .filter_map(|r| r.get("id")?.as_i64())
                        .collect();
                    payload.present.insert(kind, listed);
                    let mut changed = filter.clone();
                    changed.push(json!({"op": "gt", "field": modified, "value": since.to_rfc3339_opts(SecondsFormat::Millis, true)}));
                    let rows = self.client.query(entity, json!(changed), &[]).await?;
                    take(&mut payload, &mut ids, &rows);
                }
                _ => {
                    let mut pages = self.client.query_pages(entity, json!(filter), &[]);
                    while let Some(page) = pages.next().await? {
                        take(&mut payload, &mut ids, &page);
                        if pages.more() || Some(kind) != last_kind {
                            so_far.read_so_far(&payload).await;
                        }
                    }
                }
            }
            payload.present.entry(kind).or_insert(ids);
        }
        Ok(payload)
    }
}

impl crate::PsaSource for AutotaskSource {
    fn check(&self) -> futures::future::BoxFuture<'_, crate::SourceCheck> {
        Box::pin(self.client.check_connection())
    }

    fn companies(&self) -> futures::future::BoxFuture<'_, Result<Vec<CompanyFacts>, CallError>> {
        Box::pin(async move {
            // Where the database stands before the sync starts (the client keeps minding it).
            self.client.read_threshold().await?;
            let rows = self
                .client
                .query(
                    "Companies",
                    json!([{"op": "gte", "field": "id", "value": 0}]),
                    &[
                        "id",
                        "companyName",
                        "companyType",
                        "isActive",
                        "phone",
                        "webAddress",
                        "address1",
                        "address2",
                        "city",
                        "state",
                        "postalCode",
                    ],
                )
                .await?;
            Ok(rows.iter().filter_map(records::company).collect())
        })
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
        self.client.requests_made()
    }
}
