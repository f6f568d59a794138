//! The Hudu store: articles (ids from 1000, versions counted per update, JSON as Hudu answers
//! it; company 0 stands for a global article, `company_id: null`), plus the companies, asset
//! layouts and assets kept by their own modules, all behind the one lock of `State::hudu`.

use super::assets::Assets;
use super::companies::Companies;
use super::layouts::Layouts;
use crate::HuduArticle;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// First article id handed out.
const FIRST_ID: u64 = 1000;

#[derive(Debug, Clone)]
struct Stored {
    article: HuduArticle,
    folder_id: Option<u64>,
}

/// Articles by id, and the other Hudu records.
#[derive(Debug, Default)]
pub(crate) struct HuduStore {
    articles: BTreeMap<u64, Stored>,
    next_id: u64,
    /// Companies, seeded with the synthetic ones.
    pub(crate) companies: Companies,
    /// Asset layouts.
    pub(crate) layouts: Layouts,
    /// Assets.
    pub(crate) assets: Assets,
}

impl HuduStore {
    /// A store holding the synthetic companies `1..=companies` and nothing else.
    pub(crate) fn new(companies: usize) -> Self {
        HuduStore {
            companies: Companies::seeded(companies),
            ..HuduStore::default()
        }
    }

    /// Creates an article (`company_id` 0: global); returns its id.
    pub(crate) fn create(
        &mut self,
        company_id: u64,
        name: &str,
        content: &str,
        folder_id: Option<u64>,
    ) -> u64 {
        let id = self.next_id.max(FIRST_ID);
        self.next_id = id + 1;
        let now = Utc::now();
        let article = HuduArticle {
            id,
            company_id,
            name: name.to_string(),
            content: content.to_string(),
            versions: 1,
            created_at: now,
            updated_at: now,
        };
        self.articles.insert(id, Stored { article, folder_id });
        id
    }

    /// Applies the given fields to article `id`; false when absent.
    pub(crate) fn update(
        &mut self,
        id: u64,
        company_id: Option<u64>,
        name: Option<&str>,
        content: Option<&str>,
        folder_id: Option<Option<u64>>,
    ) -> bool {
        let Some(stored) = self.articles.get_mut(&id) else {
            return false;
        };
        let a = &mut stored.article;
        if let Some(c) = company_id {
            a.company_id = c;
        }
        if let Some(n) = name {
            a.name = n.to_string();
        }
        if let Some(c) = content {
            a.content = c.to_string();
        }
        if let Some(f) = folder_id {
            stored.folder_id = f;
        }
        a.versions += 1;
        a.updated_at = Utc::now();
        true
    }

    /// Every article, by id.
    pub(crate) fn articles(&self) -> Vec<HuduArticle> {
        self.articles.values().map(|s| s.article.clone()).collect()
    }

    /// Article `id` as Hudu's JSON.
    pub(crate) fn json(&self, id: u64, base_url: &str) -> Option<Value> {
        self.articles.get(&id).map(|s| article_json(s, base_url))
    }

    /// Articles matching the filters, in id order, as Hudu's JSON.
    pub(crate) fn search(
        &self,
        company_id: Option<u64>,
        name: Option<&str>,
        base_url: &str,
    ) -> Vec<Value> {
        let needle = name.map(str::to_lowercase);
        self.articles
            .values()
            .filter(|s| company_id.is_none_or(|c| s.article.company_id == c))
            .filter(|s| {
                needle
                    .as_deref()
                    .is_none_or(|n| s.article.name.to_lowercase().contains(n))
            })
            .map(|s| article_json(s, base_url))
            .collect()
    }
}

fn slug(name: &str, id: u64) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    format!("{}-{id:x}", out.trim_end_matches('-'))
}

fn article_json(s: &Stored, base_url: &str) -> Value {
    let a = &s.article;
    let slug = slug(&a.name, a.id);
    json!({
        "id": a.id,
        "name": a.name,
        "content": a.content,
        "company_id": (a.company_id != 0).then_some(a.company_id),
        "folder_id": s.folder_id,
        "slug": slug,
        "url": format!("{base_url}/kb/{slug}"),
        "draft": false,
        "enable_sharing": false,
        "object_type": "Article",
        "created_at": a.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "updated_at": a.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}
