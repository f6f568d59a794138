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
use crate::CallError;
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
            let rows = match (kind, since, modified) {
                (RecordKind::Site, ..) => locations.clone(),
                (_, Some(since), Some(modified)) => {
                    let listing = self.client.query(entity, json!(filter), &["id"]).await?;
                    let ids: Vec<i64> = listing
                        .iter()
                        .filter_map(|r| r.get("id")?.as_i64())
                        .collect();
                    payload.present.insert(kind, ids);
                    let mut changed = filter.clone();
                    changed.push(json!({"op": "gt", "field": modified, "value": since.to_rfc3339_opts(SecondsFormat::Millis, true)}));
                    self.client.query(entity, json!(changed), &[]).await?
                }
                _ => self.client.query(entity, json!(filter), &[]).await?,
            };
            let records: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r.get("companyID")
                        .and_then(Value::as_i64)
                        .is_none_or(|c| c == company.psa_id)
                })
                .filter_map(|r| records::record(kind, r, categories, &location_names))
                .collect();
            payload
                .present
                .entry(kind)
                .or_insert_with(|| records.iter().map(|r| r.source_id).collect());
            payload.records.extend(records);
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
        _so_far: &'a dyn crate::ReadSoFar,
    ) -> futures::future::BoxFuture<'a, Result<CompanyPayload, CallError>> {
        Box::pin(self.read_company(company, destination_company_id, since, options))
    }

    fn requests(&self) -> u32 {
        self.client.requests_made()
    }
}
