//! The ConnectWise tables: one id-ordered map of JSON records per entity, and the in-process
//! mutations tests use (insert, JSON merge patch, hard delete, bulk configurations).
//!
//! Every mutation stamps `_info.lastUpdated` with the current time; renaming a company also
//! renames it in the `company` references of the other entities, as the real service shows
//! references live.

use super::records::{self, stamp};
use crate::{ConnectWiseConfig, CwEntity};
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The records of every entity.
#[derive(Debug, Default)]
pub(crate) struct CwStore {
    tables: [BTreeMap<u64, Value>; 5],
    /// The next id per entity (ids are never reused, as with SQL identity columns).
    next: [u64; 5],
}

/// Where the ids of `entity` start.
fn first_id(entity: CwEntity) -> u64 {
    match entity {
        CwEntity::Company => records::FIRST_COMPANY_ID,
        CwEntity::Contact => records::FIRST_CONTACT_ID,
        CwEntity::Configuration => records::FIRST_CONFIGURATION_ID,
        CwEntity::Agreement => records::FIRST_AGREEMENT_ID,
        CwEntity::Site => records::FIRST_SITE_ID,
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

fn set_updated(record: &mut Value, now: &str, entered_too: bool) {
    if !record.get("_info").is_some_and(Value::is_object) {
        record["_info"] = json!({});
    }
    record["_info"]["lastUpdated"] = json!(now);
    if entered_too && record["_info"].get("dateEntered").is_none() {
        record["_info"]["dateEntered"] = json!(now);
    }
}

impl CwStore {
    /// The fixtures of `config`.
    pub(crate) fn generate(config: &ConnectWiseConfig) -> Self {
        let (companies, contacts, configurations, agreements, sites) = records::generate(config);
        let mut store = CwStore::default();
        for (entity, list) in [
            (CwEntity::Company, companies),
            (CwEntity::Contact, contacts),
            (CwEntity::Configuration, configurations),
            (CwEntity::Agreement, agreements),
            (CwEntity::Site, sites),
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
    pub(crate) fn table(&self, entity: CwEntity) -> &BTreeMap<u64, Value> {
        &self.tables[entity.index()]
    }

    fn table_mut(&mut self, entity: CwEntity) -> &mut BTreeMap<u64, Value> {
        &mut self.tables[entity.index()]
    }

    /// Takes `n` fresh ids of `entity`; returns the first.
    fn take_ids(&mut self, entity: CwEntity, n: u64) -> u64 {
        let i = entity.index();
        let last = self.tables[i].keys().next_back().map_or(0, |last| last + 1);
        let first = self.next[i].max(first_id(entity)).max(last);
        self.next[i] = first + n;
        first
    }

    /// Completes a `company` reference holding an id with the company's identifier and name.
    fn fill_company_ref(&self, record: &mut Value) {
        let Some(id) = record.pointer("/company/id").and_then(Value::as_u64) else {
            return;
        };
        if let Some(company) = self.table(CwEntity::Company).get(&id) {
            let mut reference = records::company_ref(company);
            merge_patch(&mut reference, &record["company"]);
            record["company"] = reference;
        }
    }

    /// Inserts `record` (merged over the entity's defaults) with the next id; returns it.
    pub(crate) fn insert(&mut self, entity: CwEntity, record: Value) -> u64 {
        let id = self.take_ids(entity, 1);
        let mut r = records::defaults()[entity.index()].clone();
        merge_patch(&mut r, &record);
        r["id"] = json!(id);
        self.fill_company_ref(&mut r);
        set_updated(&mut r, &stamp(Utc::now()), true);
        self.table_mut(entity).insert(id, r);
        id
    }

    /// Merges `patch` into record `id` (its id stays) and stamps it; false when it does not
    /// exist. An explicit `_info.lastUpdated` in the patch is kept.
    pub(crate) fn update(&mut self, entity: CwEntity, id: u64, patch: &Value) -> bool {
        let Some(r) = self.table_mut(entity).get_mut(&id) else {
            return false;
        };
        merge_patch(r, patch);
        r["id"] = json!(id);
        if patch.pointer("/_info/lastUpdated").is_none() {
            set_updated(r, &stamp(Utc::now()), false);
        }
        let renamed = entity == CwEntity::Company
            && (patch.get("name").is_some() || patch.get("identifier").is_some());
        let reference = records::company_ref(r);
        if entity != CwEntity::Company && patch.get("company").is_some() {
            let mut r = r.clone();
            self.fill_company_ref(&mut r);
            self.table_mut(entity).insert(id, r);
        }
        if renamed {
            for other in [
                CwEntity::Contact,
                CwEntity::Configuration,
                CwEntity::Agreement,
                CwEntity::Site,
            ] {
                for rec in self.table_mut(other).values_mut() {
                    if rec.pointer("/company/id").and_then(Value::as_u64) == Some(id) {
                        rec["company"] = reference.clone();
                    }
                }
            }
        }
        true
    }

    /// Deletes record `id`; false when it does not exist.
    pub(crate) fn remove(&mut self, entity: CwEntity, id: u64) -> bool {
        self.table_mut(entity).remove(&id).is_some()
    }

    /// Adds `n` active configurations to company `company_id` (numbered after its existing
    /// ones); returns their ids, or nothing for an unknown company.
    pub(crate) fn add_configurations(&mut self, company_id: u64, n: usize) -> Vec<u64> {
        let Some(company) = self.table(CwEntity::Company).get(&company_id).cloned() else {
            return Vec::new();
        };
        let site = self
            .table(CwEntity::Site)
            .values()
            .find(|s| s.pointer("/company/id").and_then(Value::as_u64) == Some(company_id))
            .cloned();
        let existing = self
            .table(CwEntity::Configuration)
            .values()
            .filter(|c| c.pointer("/company/id").and_then(Value::as_u64) == Some(company_id))
            .count();
        let now = stamp(Utc::now());
        let first = self.take_ids(CwEntity::Configuration, n as u64);
        let table = self.table_mut(CwEntity::Configuration);
        (0..n)
            .map(|i| {
                let id = first + i as u64;
                let r =
                    records::configuration(id, &company, site.as_ref(), existing + i, true, &now);
                table.insert(id, r);
                id
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}, "h": [1]}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}, "h": [1]}));
    }

    #[test]
    fn mutations_stamp_and_renames_propagate() {
        let mut s = CwStore::generate(&ConnectWiseConfig::default());
        let id = s.insert(
            CwEntity::Configuration,
            json!({"name": "NEW-SRV", "company": {"id": 251}}),
        );
        let r = &s.table(CwEntity::Configuration)[&id];
        assert_eq!(id, 5024);
        assert_eq!(r["activeFlag"], true);
        assert_eq!(r["company"]["name"], "Northwind Traders 1");
        assert_ne!(r["_info"]["lastUpdated"], records::FIXTURE_UPDATED);
        assert!(s.update(CwEntity::Company, 251, &json!({"name": "Renamed"})));
        let r = &s.table(CwEntity::Configuration)[&id];
        assert_eq!(r["company"]["name"], "Renamed");
        assert!(!s.update(CwEntity::Company, 9999, &json!({})));
        assert!(s.remove(CwEntity::Configuration, id));
        assert!(!s.remove(CwEntity::Configuration, id));
        let ids = s.add_configurations(250, 3);
        assert_eq!(ids, vec![5025, 5026, 5027]);
        assert_eq!(
            s.table(CwEntity::Configuration)[&5025]["name"],
            s.table(CwEntity::Configuration)[&5000]["name"]
                .as_str()
                .unwrap()
                .replace("SRV01", "SRV05")
        );
        assert!(s.add_configurations(1, 3).is_empty());
    }
}
