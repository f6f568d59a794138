//! The knowledge-base step of a sync run (HaloPSA's `knowledgeBase.enabled`): Hudu's articles,
//! the global ones and those of the matched companies, written one-way into the PSA's
//! knowledge base after the records.
//!
//! Each article goes through the map of remote objects (destination [`DESTINATION`], kind
//! [`ARTICLE_KIND`], source key the Hudu article id): created once (a pending create is
//! noted first, so an interrupted one is found by its title instead of made twice), then
//! updated in place by the recorded id, and not written at all while its title and body are
//! unchanged. An article of the PSA with exactly the title docsync would give is adopted on
//! the first pass instead of duplicated. A company's article is titled `{company}: {title}`
//! so two companies' "Network overview" stay apart.

use super::SyncContext;
use crate::projection::fingerprint;
use crate::{CallError, KnowledgeBase};
use docsync_sinks::hudu_objects::HuduObjects;
use docsync_store::{MatchState, ObjectAction, ObjectKey, RemoteObject, SyncRun};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// The knowledge base's name in the map of remote objects (one per PSA).
pub const DESTINATION: &str = "psa-knowledge-base";
/// The object kind of an article there.
pub const ARTICLE_KIND: &str = "kb-article";

/// What the step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KbOutcome {
    /// Articles written (created or updated).
    pub written: usize,
    /// Articles left as they were.
    pub unchanged: usize,
    /// True when the batch's write budget ran out before every article was looked at.
    pub more: bool,
}

/// Writes the articles that changed, at most `max_writes` of them.
pub async fn sync_articles(
    ctx: &SyncContext,
    run: &SyncRun,
    hudu: &HuduObjects,
    kb: &dyn KnowledgeBase,
    max_writes: usize,
) -> Result<KbOutcome, KbError> {
    let store = &ctx.store;
    let scope = format!("{}:knowledge-base", run.psa);
    let companies: HashMap<i64, String> = store
        .psa_companies(run.account_id, run.psa)
        .await?
        .into_iter()
        .filter(|c| c.state == MatchState::Matched)
        .filter_map(|c| Some((c.destination_company_id?, c.name)))
        .collect();
    let articles = hudu.articles().await?;
    let known = store
        .objects_in_scope(run.account_id, DESTINATION, &scope)
        .await?;
    let mut listed: Option<Vec<crate::KbArticle>> = None;
    let mut taken: HashSet<i64> = known
        .values()
        .filter_map(|o| o.remote_id.parse().ok())
        .collect();
    let mut outcome = KbOutcome::default();
    let mut seen = Vec::new();
    for article in &articles {
        let title = match article.company_id {
            None => article.name.clone(),
            Some(company) => match companies.get(&company) {
                Some(name) => format!("{name}: {}", article.name),
                None => continue,
            },
        };
        let html = article.content.clone().unwrap_or_default();
        let fp = fingerprint(Some(&title), &json!(html), false, None);
        let key = ObjectKey {
            kind: ARTICLE_KIND.into(),
            source_key: format!("hudu-article:{}", article.id),
        };
        seen.push(key.clone());
        let mapped = known.get(&key);
        if let Some(m) = mapped.filter(|m| !m.remote_id.is_empty()) {
            if m.fingerprint.as_deref() == Some(fp.as_str()) {
                outcome.unchanged += 1;
                continue;
            }
        }
        if outcome.written >= max_writes {
            outcome.more = true;
            break;
        }
        let mut id = mapped.and_then(|m| m.remote_id.parse::<i64>().ok());
        if id.is_none() {
            // Adopt the PSA's article of this exact title (also what an interrupted create
            // left behind), else create, noting the create first.
            if listed.is_none() {
                listed = Some(kb.articles().await?);
            }
            id = listed
                .iter()
                .flatten()
                .find(|a| a.name == title && !taken.contains(&a.id))
                .map(|a| a.id);
            if id.is_none() {
                store
                    .record_pending_object(run.account_id, DESTINATION, &key, &scope, &title)
                    .await?;
            }
        }
        let action = if mapped.is_some_and(|m| !m.remote_id.is_empty()) {
            ObjectAction::Updated
        } else {
            ObjectAction::Created
        };
        let saved = kb.save(id, &title, &html).await?;
        taken.insert(saved);
        store
            .record_object(
                run.account_id,
                DESTINATION,
                &key,
                &scope,
                &RemoteObject {
                    remote_id: saved.to_string(),
                    parent_id: None,
                    title: title.clone(),
                    fingerprint: Some(fp),
                    archived: false,
                    recorded_at: None,
                },
                run.id,
                action,
            )
            .await?;
        outcome.written += 1;
    }
    store
        .mark_objects_seen(run.account_id, DESTINATION, run.id, &seen)
        .await?;
    Ok(outcome)
}

/// Why the step stopped.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// A provider call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] docsync_store::StoreError),
}
