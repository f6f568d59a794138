//! The HaloPSA / HaloITSM source: the client list, a client's users (contacts), assets
//! (configurations, laid out by asset type through the sort rules), active contracts and
//! sites, and the connection test, read through [`client::HaloClient`] (paced by the
//! integration's PSA key, 300 requests per 5 minutes by default).
//!
//! Every read is whole: Halo's lists have no modified-since filter docsync can rely on, so
//! each sync lists each kind of a company (pages of 100, what is read so far handed on after
//! each page) and the projection's fingerprints keep unchanged records from being written
//! again. Inactive records are read too
//! (`includeinactive=true`) so their assets are archived rather than forgotten.

pub mod client;
mod records;

pub use client::HaloClient;

use crate::connectwise::kind_skipped;
use crate::payload::{CompanyFacts, CompanyPayload, RecordKind};
use crate::{CallError, ReadSoFar};
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
        so_far: &'a dyn ReadSoFar,
    ) -> futures::future::BoxFuture<'a, Result<CompanyPayload, CallError>> {
        Box::pin(self.read_company(company, destination_company_id, options, so_far))
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
    /// One client's records, every kind the options do not skip, whole; what is read so
    /// far goes to `so_far` after each page but the last.
    async fn read_company(
        &self,
        company: &CompanyFacts,
        destination_company_id: Option<i64>,
        options: &PsaOptions,
        so_far: &dyn ReadSoFar,
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
        let kinds: Vec<RecordKind> = RecordKind::ALL
            .into_iter()
            .filter(|kind| !kind_skipped(*kind, options))
            .collect();
        for (n, &kind) in kinds.iter().enumerate() {
            let mut ids = Vec::new();
            if kind == RecordKind::Site {
                take(&mut payload, &mut ids, kind, &sites, options);
            } else {
                let (path, key) = endpoint(kind);
                let mut filters = vec![("client_id", company.psa_id.to_string())];
                if kind != RecordKind::Agreement {
                    filters.push(("includeinactive", "true".into()));
                }
                let mut pages = self.pages(path, key, &filters);
                while let Some(page) = pages.next().await? {
                    take(&mut payload, &mut ids, kind, &page, options);
                    if pages.more() || n + 1 < kinds.len() {
                        so_far.read_so_far(&payload).await;
                    }
                }
            }
            payload.present.insert(kind, ids);
        }
        Ok(payload)
    }
}

/// The records of `kind` among `rows` (of one page, or every site) into `payload`, their ids
/// into `ids`.
fn take(
    payload: &mut CompanyPayload,
    ids: &mut Vec<i64>,
    kind: RecordKind,
    rows: &[Value],
    options: &PsaOptions,
) {
    let company = payload.company.psa_id;
    let records = rows
        .iter()
        // Halo filters by client_id; a record of another client is never taken.
        .filter(|r| {
            r.get("client_id")
                .and_then(Value::as_i64)
                .is_none_or(|c| c == company)
        })
        // Only active contracts are brought in; an expired one's asset is archived.
        .filter(|r| kind != RecordKind::Agreement || records::contract_active(r))
        .filter(|r| {
            kind != RecordKind::Configuration
                || !options.skip.inactive_configurations
                || !r.get("inactive").and_then(Value::as_bool).unwrap_or(false)
        })
        .filter_map(|r| records::record(kind, r));
    for record in records {
        ids.push(record.source_id);
        payload.records.push(record);
    }
}
