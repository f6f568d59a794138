//! The Halo tables: one id-ordered map of JSON records per entity, the in-process mutations
//! tests use (insert, JSON merge patch, hard delete, bulk assets) and the knowledge-base
//! upserts of `POST /api/KBArticle`.
//!
//! References stay live as Halo shows them: a record given a `client_id` (`site_id`,
//! `assettype_id`) gets the matching `client_name` (`site_name`, `assettype_name`), and
//! renaming a client, site or asset type renames it in every record that points at it.

use super::records::{self, stamp};
use crate::{HaloConfig, HaloEntity};
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The records of every entity.
#[derive(Debug, Default)]
pub(crate) struct HaloStore {
    tables: [BTreeMap<u64, Value>; 7],
    /// The next id per entity (ids are never reused).
    next: [u64; 7],
}

/// Where the ids of `entity` start.
fn first_id(entity: HaloEntity) -> u64 {
    match entity {
        HaloEntity::Client => records::FIRST_CLIENT_ID,
        HaloEntity::User => records::FIRST_USER_ID,
        HaloEntity::Asset => records::FIRST_ASSET_ID,
        HaloEntity::AssetType => records::FIRST_ASSET_TYPE_ID,
        HaloEntity::Site => records::FIRST_SITE_ID,
        HaloEntity::Contract => records::FIRST_CONTRACT_ID,
        HaloEntity::KbArticle => records::FIRST_ARTICLE_ID,
    }
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in fields {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The `(id field, name field, entity)` references records carry.
const REFERENCES: [(&str, &str, HaloEntity); 3] = [
    ("client_id", "client_name", HaloEntity::Client),
    ("site_id", "site_name", HaloEntity::Site),
    ("assettype_id", "assettype_name", HaloEntity::AssetType),
];

/// Why an article could not be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid(pub(crate) String);

impl HaloStore {
    /// The fixtures of `config`.
    pub(crate) fn generate(config: &HaloConfig) -> Self {
        let f = records::generate(config);
        let mut store = HaloStore::default();
        for (entity, list) in [
            (HaloEntity::Client, f.clients),
            (HaloEntity::User, f.users),
            (HaloEntity::Asset, f.assets),
            (HaloEntity::AssetType, f.asset_types),
            (HaloEntity::Site, f.sites),
            (HaloEntity::Contract, f.contracts),
            (HaloEntity::KbArticle, f.articles),
        ] {
            let table = store.table_mut(entity);
            for r in list {
                if let Some(id) = r["id"].as_u64() {
                    table.insert(id, r);
                }
            }
        }
        store
    }

    /// The records of `entity`, by id.
    pub(crate) fn table(&self, entity: HaloEntity) -> &BTreeMap<u64, Value> {
        &self.tables[entity.index()]
    }

    fn table_mut(&mut self, entity: HaloEntity) -> &mut BTreeMap<u64, Value> {
        &mut self.tables[entity.index()]
    }

    /// Takes `n` fresh ids of `entity`; returns the first.
    fn take_ids(&mut self, entity: HaloEntity, n: u64) -> u64 {
        let i = entity.index();
        let last = self.tables[i].keys().next_back().map_or(0, |last| last + 1);
        let first = self.next[i].max(first_id(entity)).max(last);
        self.next[i] = first + n;
        first
    }

    /// Sets the `*_name` of every reference `record` holds an id of.
    fn fill_references(&self, record: &mut Value) {
        for (id_field, name_field, entity) in REFERENCES {
            let Some(id) = record.get(id_field).and_then(Value::as_u64) else {
                continue;
            };
            if let Some(target) = self.table(entity).get(&id) {
                record[name_field] = target["name"].clone();
            }
        }
    }

    /// Inserts `record` (merged over the entity's defaults) with the next id; returns it.
    pub(crate) fn insert(&mut self, entity: HaloEntity, record: Value) -> u64 {
        let id = self.take_ids(entity, 1);
        let mut r = records::defaults()[entity.index()].clone();
        merge_patch(&mut r, &record);
        r["id"] = json!(id);
        if entity == HaloEntity::User && r.get("name").is_none() {
            let first = r["firstname"].as_str().unwrap_or_default();
            let last = r["surname"].as_str().unwrap_or_default();
            r["name"] = json!(format!("{first} {last}").trim());
        }
        self.fill_references(&mut r);
        self.table_mut(entity).insert(id, r);
        id
    }

    /// Merges `patch` into record `id` (its id stays); false when it does not exist.
    pub(crate) fn update(&mut self, entity: HaloEntity, id: u64, patch: &Value) -> bool {
        let Some(mut r) = self.table(entity).get(&id).cloned() else {
            return false;
        };
        merge_patch(&mut r, patch);
        r["id"] = json!(id);
        self.fill_references(&mut r);
        let name = r.get("name").cloned();
        self.table_mut(entity).insert(id, r);
        if let (Some(name), true) = (name, patch.get("name").is_some()) {
            self.rename_references(entity, id, &name);
        }
        true
    }

    /// After `entity` record `id` was renamed: the `*_name` of every record pointing at it.
    fn rename_references(&mut self, entity: HaloEntity, id: u64, name: &Value) {
        let Some((id_field, name_field, _)) = REFERENCES.iter().find(|r| r.2 == entity) else {
            return;
        };
        for table in &mut self.tables {
            for rec in table.values_mut() {
                if rec.get(*id_field).and_then(Value::as_u64) == Some(id) {
                    rec[*name_field] = name.clone();
                }
            }
        }
    }

    /// Deletes record `id`; false when it does not exist.
    pub(crate) fn remove(&mut self, entity: HaloEntity, id: u64) -> bool {
        self.table_mut(entity).remove(&id).is_some()
    }

    /// Adds `n` active assets to client `client_id` (numbered after its existing ones);
    /// returns their ids, or nothing for an unknown client.
    pub(crate) fn add_assets(&mut self, client_id: u64, n: usize) -> Vec<u64> {
        let Some(client) = self.table(HaloEntity::Client).get(&client_id).cloned() else {
            return Vec::new();
        };
        let site = self
            .table(HaloEntity::Site)
            .values()
            .find(|s| s["client_id"].as_u64() == Some(client_id))
            .cloned();
        let existing = self
            .table(HaloEntity::Asset)
            .values()
            .filter(|a| a["client_id"].as_u64() == Some(client_id))
            .count();
        let first = self.take_ids(HaloEntity::Asset, n as u64);
        let table = self.table_mut(HaloEntity::Asset);
        (0..n)
            .map(|i| {
                let id = first + i as u64;
                table.insert(
                    id,
                    records::asset(id, &client, site.as_ref(), existing + i, false),
                );
                id
            })
            .collect()
    }

    /// Saves the articles of one `POST /api/KBArticle`, all or none: an object without an
    /// `id` (or with an `id` of 0 or less) creates an article, one with the id of an article
    /// updates it in place (the fields it gives replace the stored ones). Returns each saved
    /// article and whether it was created.
    pub(crate) fn save_articles(&mut self, items: &[Value]) -> Result<Vec<(Value, bool)>, Invalid> {
        if items.is_empty() {
            return Err(Invalid(
                "The request body is an empty array: post at least one KBArticle".into(),
            ));
        }
        let mut plan = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Some(fields) = item.as_object() else {
                return Err(Invalid(format!("Item {i} is not a KBArticle object")));
            };
            let id = match fields.get("id") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_i64() {
                    Some(n) if n <= 0 => None,
                    Some(n) => Some(n.unsigned_abs()),
                    None => return Err(Invalid(format!("Item {i}: id must be a whole number"))),
                },
            };
            if let Some(id) = id {
                if !self.table(HaloEntity::KbArticle).contains_key(&id) {
                    return Err(Invalid(format!("Item {i}: KBArticle {id} does not exist")));
                }
            }
            let name = fields.get("name");
            let blank = |v: &Value| v.as_str().is_none_or(|s| s.trim().is_empty());
            if (id.is_none() && name.is_none_or(blank)) || name.is_some_and(blank) {
                return Err(Invalid(format!(
                    "Item {i}: name is required and may not be empty"
                )));
            }
            plan.push((id, item));
        }
        let now = stamp(Utc::now());
        let mut saved = Vec::with_capacity(plan.len());
        for (id, item) in plan {
            let mut patch = item.clone();
            if let Some(p) = patch.as_object_mut() {
                p.remove("id");
                p.insert("last_updated".into(), json!(now));
            }
            let (id, created) = match id {
                Some(id) => {
                    self.update(HaloEntity::KbArticle, id, &patch);
                    (id, false)
                }
                None => {
                    if let Some(p) = patch.as_object_mut() {
                        p.insert("date_created".into(), json!(now));
                    }
                    (self.insert(HaloEntity::KbArticle, patch), true)
                }
            };
            if let Some(r) = self.table(HaloEntity::KbArticle).get(&id) {
                saved.push((r.clone(), created));
            }
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_fill_and_propagate_references() {
        let mut s = HaloStore::generate(&HaloConfig::default());
        let id = s.insert(
            HaloEntity::Asset,
            json!({"key_field": "NEW-SRV", "client_id": 13, "assettype_id": 3}),
        );
        assert_eq!(id, 10_024);
        let r = &s.table(HaloEntity::Asset)[&id];
        assert_eq!(r["client_name"], "Munson's Pickles 1");
        assert_eq!(r["assettype_name"], "Server");
        assert_eq!(r["inactive"], false);
        assert!(s.update(HaloEntity::Client, 13, &json!({"name": "Renamed"})));
        assert_eq!(s.table(HaloEntity::Asset)[&id]["client_name"], "Renamed");
        assert_eq!(s.table(HaloEntity::User)[&3003]["client_name"], "Renamed");
        assert!(!s.update(HaloEntity::Client, 9999, &json!({})));
        assert!(s.remove(HaloEntity::Asset, id));
        assert!(!s.remove(HaloEntity::Asset, id));
        assert_eq!(s.add_assets(12, 2), vec![10_025, 10_026]);
        assert_eq!(
            s.table(HaloEntity::Asset)[&10_025]["key_field"],
            "CONTOSO12-WS05"
        );
        assert!(s.add_assets(1, 3).is_empty());
        let u = s.insert(
            HaloEntity::User,
            json!({"firstname": "Ada", "surname": "Byron", "client_id": 12}),
        );
        assert_eq!(s.table(HaloEntity::User)[&u]["name"], "Ada Byron");
    }

    #[test]
    fn articles_are_created_and_updated_all_or_none() {
        let mut s = HaloStore::generate(&HaloConfig::default());
        let saved = s
            .save_articles(&[json!({"name": "A", "description": "<p>a</p>"})])
            .unwrap();
        assert_eq!(saved.len(), 1);
        assert!(saved[0].1);
        let id = saved[0].0["id"].as_u64().unwrap();
        assert_eq!(id, 502);
        let saved = s
            .save_articles(&[
                json!({"id": id, "description": "<p>b</p>"}),
                json!({"id": 0, "name": "B"}),
            ])
            .unwrap();
        assert!(!saved[0].1);
        assert_eq!(saved[0].0["name"], "A");
        assert_eq!(saved[0].0["description"], "<p>b</p>");
        assert!(saved[1].1);
        assert_eq!(s.table(HaloEntity::KbArticle).len(), 4);
        for bad in [
            json!([]),
            json!([{"name": ""}]),
            json!([{"description": "no name"}]),
            json!([{"id": 9999, "name": "x"}]),
            json!([{"id": id, "name": " "}]),
            json!(["text"]),
            json!([{"name": "ok"}, {"name": ""}]),
        ] {
            let items = bad.as_array().unwrap();
            assert!(s.save_articles(items).is_err(), "{bad}");
        }
        assert_eq!(s.table(HaloEntity::KbArticle).len(), 4);
    }
}
