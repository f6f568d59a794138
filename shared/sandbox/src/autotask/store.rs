//! The Autotask tables: one id-ordered map of records per entity, and the in-process mutations
//! tests use (insert, patch, delete).
//!
//! Given records and patches are matched to the entity's fields ignoring case (other keys are
//! ignored) and their values made to fit the field's type (`isActive: true` on a contact
//! becomes 1). Every mutation stamps the entity's modified-date field with the current time
//! (`lastTrackedModifiedDateTime`, `lastModifiedDate`, `lastModifiedTime`) unless it sets it.

use super::records::{self, stamp};
use crate::{AtEntity, AutotaskConfig};
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The records of every entity.
#[derive(Debug, Default)]
pub(crate) struct AtStore {
    tables: [BTreeMap<u64, Value>; 5],
    /// The next id per entity (ids are never reused).
    next: [u64; 5],
}

fn first_id(entity: AtEntity) -> u64 {
    match entity {
        AtEntity::Company => records::FIRST_COMPANY_ID,
        AtEntity::Contact => records::FIRST_CONTACT_ID,
        AtEntity::ConfigurationItem => records::FIRST_CONFIGURATION_ITEM_ID,
        AtEntity::ConfigurationItemCategory => records::FIRST_CATEGORY_ID,
        AtEntity::CompanyLocation => records::FIRST_LOCATION_ID,
    }
}

/// Applies the known fields of `patch` to `record`; returns whether it set the modified field.
fn apply(entity: AtEntity, record: &mut Map<String, Value>, patch: &Value) -> bool {
    let modified = records::modified_field(entity);
    let mut stamped = false;
    if let Value::Object(fields) = patch {
        for (k, v) in fields {
            if let Some((name, kind)) = records::field(entity, k) {
                if name == "id" {
                    continue;
                }
                record.insert(name.to_string(), records::normalize(kind, v));
                stamped |= Some(name) == modified;
            }
        }
    }
    stamped
}

impl AtStore {
    /// The fixtures of `config`.
    pub(crate) fn generate(config: &AutotaskConfig) -> Self {
        let mut store = AtStore::default();
        for (entity, list) in AtEntity::ALL.iter().zip(records::generate(config)) {
            let table = &mut store.tables[entity.index()];
            for r in list {
                if let Some(id) = r["id"].as_u64() {
                    table.insert(id, r);
                }
            }
        }
        store
    }

    /// The records of `entity`, by id.
    pub(crate) fn table(&self, entity: AtEntity) -> &BTreeMap<u64, Value> {
        &self.tables[entity.index()]
    }

    /// Inserts `record` (applied over the entity's defaults) with the next id; returns it.
    pub(crate) fn insert(&mut self, entity: AtEntity, record: &Value) -> u64 {
        let i = entity.index();
        let after_last = self.tables[i].keys().next_back().map_or(0, |last| last + 1);
        let id = self.next[i].max(first_id(entity)).max(after_last);
        self.next[i] = id + 1;
        let mut r = records::defaults(entity);
        let stamped = apply(entity, &mut r, record);
        r.insert("id".into(), json!(id));
        let now = stamp(Utc::now());
        if let Some(field) = records::modified_field(entity).filter(|_| !stamped) {
            r.insert(field.into(), json!(now));
        }
        if r.get("createDate").is_some_and(Value::is_null) {
            r.insert("createDate".into(), json!(now));
        }
        self.tables[i].insert(id, Value::Object(r));
        id
    }

    /// Applies `patch` to record `id` (`null` clears a field; the id stays) and stamps it;
    /// false when there is no such record.
    pub(crate) fn update(&mut self, entity: AtEntity, id: u64, patch: &Value) -> bool {
        let Some(Value::Object(r)) = self.tables[entity.index()].get_mut(&id) else {
            return false;
        };
        let stamped = apply(entity, r, patch);
        if let Some(field) = records::modified_field(entity).filter(|_| !stamped) {
            r.insert(field.into(), json!(stamp(Utc::now())));
        }
        true
    }

    /// Deletes record `id`; false when there is none.
    pub(crate) fn remove(&mut self, entity: AtEntity, id: u64) -> bool {
        self.tables[entity.index()].remove(&id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::FIXTURE_MODIFIED;

    #[test]
    fn mutations_stamp_and_normalize() {
        let mut s = AtStore::generate(&AutotaskConfig::default());
        let id = s.insert(
            AtEntity::Contact,
            &json!({"CompanyID": 501, "firstName": "New", "isActive": false, "nope": 1}),
        );
        assert_eq!(id, 30_018);
        let r = &s.table(AtEntity::Contact)[&id];
        assert_eq!(r["companyID"], 501);
        assert_eq!(r["isActive"], 0);
        assert!(r.get("nope").is_none());
        assert_ne!(r["lastModifiedDate"], FIXTURE_MODIFIED);
        assert!(r["createDate"].is_string());
        assert!(s.update(
            AtEntity::Company,
            500,
            &json!({"companyName": "Renamed", "id": 9})
        ));
        let c = &s.table(AtEntity::Company)[&500];
        assert_eq!(c["companyName"], "Renamed");
        assert_eq!(c["id"], 500);
        assert_ne!(c["lastTrackedModifiedDateTime"], FIXTURE_MODIFIED);
        assert!(s.update(
            AtEntity::ConfigurationItem,
            70_000,
            &json!({"isActive": 0, "lastModifiedTime": "2026-02-01T00:00:00.000Z"})
        ));
        let ci = &s.table(AtEntity::ConfigurationItem)[&70_000];
        assert_eq!(ci["isActive"], false);
        assert_eq!(ci["lastModifiedTime"], "2026-02-01T00:00:00.000Z");
        assert!(!s.update(AtEntity::Company, 1, &json!({})));
        assert!(s.remove(AtEntity::Contact, id));
        assert!(!s.remove(AtEntity::Contact, id));
        assert_eq!(s.insert(AtEntity::Contact, &json!({})), 30_019);
        assert_eq!(
            s.insert(
                AtEntity::ConfigurationItemCategory,
                &json!({"name": "Phone"})
            ),
            105
        );
    }
}
