//! The HaloPSA / HaloITSM source: the client list, a client's users (contacts), assets
//! (configurations, laid out by asset type through the sort rules), active contracts and
//! sites, and the connection test, read through [`client::HaloClient`] (paced by the
//! integration's PSA key, 300 requests per 5 minutes by default).
//!
//! Every read is whole: Halo's lists have no modified-since filter docsync can rely on, so
//! each sync lists each kind of a company (pages of 100) and the projection's fingerprints
//! keep unchanged records from being written again. Inactive records are read too
//! (`includeinactive=true`) so their assets are archived rather than forgotten.

pub mod client;
mod records;

pub use client::HaloClient;

use crate::connectwise::kind_skipped;
use crate::payload::{CompanyFacts, CompanyPayload, RecordKind};
use crate::CallError;
use chrono::{DateTime, Utc};
use docsync_domain::psa::PsaOptions;
use serde_json::Value;

/// The path and list key of a kind's records.
fn endpoint(kind: RecordKind) -> (&'static str, &'static str) {
    match kind {
        RecordKind::Contact => ("/Users", "users"),
        RecordKind::Configuration => ("/Asset", "assets"),
        RecordKind::Agreement => ("/ClientContract", "contracts"),
        RecordKind::Site => ("/Site", "sites"),
    }
}

impl crate::PsaSource for HaloClient {
    fn check(&self) -> futures::future::BoxFuture<'_, crate::SourceCheck> {
        Box::pin(self.check_connection())
    }

    fn companies(&self) -> futures::future::BoxFuture<'_, Result<Vec<CompanyFacts>, CallError>> {
        Box::pin(async move {
            let rows = self
                .list_all("/Client", "clients", &[("includeinactive", "true".into())])
                .await?;
            Ok(rows.iter().filter_map(records::company).collect())
        })
    }

    fn company_payload<'a>(
        &'a self,
        company: &'a CompanyFacts,
        destination_company_id: Option<i64>,
        _since: Option<DateTime<Utc>>,
        options: &'a PsaOptions,
        _so_far: &'a dyn crate::ReadSoFar,
    ) -> futures::future::BoxFuture<'a, Result<CompanyPayload, CallError>> {
        Box::pin(self.read_company(company, destination_company_id, options))
    }

    fn requests(&self) -> u32 {
        self.requests_made()
    }

    fn knowledge_base(&self) -> Option<&dyn crate::KnowledgeBase> {
        Some(self)
    }
}

/// Halo's knowledge base: `GET /api/KBArticle` (paged) and `POST /api/KBArticle` with an
/// array (an item with `id` updates that article in place, without one creates).
impl crate::KnowledgeBase for HaloClient {
    fn articles(&self) -> futures::future::BoxFuture<'_, Result<Vec<crate::KbArticle>, CallError>> {
        Box::pin(async move {
            let rows = self.list_all("/KBArticle", "articles", &[]).await?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    Some(crate::KbArticle {
                        id: r.get("id")?.as_i64()?,
                        name: r.get("name")?.as_str()?.to_owned(),
                    })
                })
                .collect())
        })
    }

    fn save<'a>(
        &'a self,
        id: Option<i64>,
        name: &'a str,
        html: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<i64, CallError>> {
        Box::pin(async move {
            let mut item =
                serde_json::json!({"name": name, "description": html, "tag_string": "hudu"});
            if let Some(id) = id {
                item["id"] = serde_json::json!(id);
            }
            let saved = self.post_json("/KBArticle", &[item]).await?;
            // One item posted: Halo answers the object (an array when several were posted).
            let saved = match &saved {
                Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
                _ => saved,
            };
            saved.get("id").and_then(Value::as_i64).ok_or_else(|| {
                CallError::Transient(format!(
                    "HaloPSA saved the article {name:?} without answering its id"
                ))
            })
        })
    }
}

impl HaloClient {
    /// One client's records, every kind the options do not skip, whole.
    async fn read_company(
        &self,
        company: &CompanyFacts,
        destination_company_id: Option<i64>,
        options: &PsaOptions,
    ) -> Result<CompanyPayload, CallError> {
        let mut payload = CompanyPayload::new(company, destination_company_id, true);
        // Sites are read even when skipped as assets: the client's address is on its main site.
        let sites = self
            .list_all(
                "/Site",
                "sites",
                &[
                    ("client_id", company.psa_id.to_string()),
                    ("includeinactive", "true".into()),
                ],
            )
            .await?;
        if let Some(main) = sites
            .iter()
            .find(|s| !s.get("inactive").and_then(Value::as_bool).unwrap_or(false))
        {
            records::add_address(&mut payload.company, main);
        }
        for kind in RecordKind::ALL {
            if kind_skipped(kind, options) {
                continue;
            }
            let rows = if kind == RecordKind::Site {
                sites.clone()
            } else {
                let (path, key) = endpoint(kind);
                let mut filters = vec![("client_id", company.psa_id.to_string())];
                if kind != RecordKind::Agreement {
                    filters.push(("includeinactive", "true".into()));
                }
                self.list_all(path, key, &filters).await?
            };
            let rows: Vec<&Value> = rows
                .iter()
                // Halo filters by client_id; a record of another client is never taken.
                .filter(|r| {
                    r.get("client_id")
                        .and_then(Value::as_i64)
                        .is_none_or(|c| c == company.psa_id)
                })
                // Only active contracts are brought in; an expired one's asset is archived.
                .filter(|r| kind != RecordKind::Agreement || records::contract_active(r))
                .filter(|r| {
                    kind != RecordKind::Configuration
                        || !options.skip.inactive_configurations
                        || !r.get("inactive").and_then(Value::as_bool).unwrap_or(false)
                })
                .collect();
            let records: Vec<_> = rows
                .into_iter()
                .filter_map(|r| records::record(kind, r))
                .collect();
            payload
                .present
                .insert(kind, records.iter().map(|r| r.source_id).collect());
            payload.records.extend(records);
        }
        Ok(payload)
    }
}
