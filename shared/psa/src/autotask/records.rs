//! Autotask's JSON entities (camelCase; contacts' `isActive` is 1/0, the others' a boolean;
//! configuration items' layout follows their category, not their item type) turned into the
//! PSA-neutral [`Record`]s and [`CompanyFacts`] of a payload.

use crate::payload::{CompanyFacts, Record, RecordKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `isActive` as Autotask writes it: a boolean, or 1/0 (contacts).
fn active(v: &Value) -> bool {
    match v.get("isActive") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => true,
    }
}

/// Autotask's company type picklist.
pub(crate) fn company_type(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "Customer",
        2 => "Lead",
        3 => "Prospect",
        4 => "Dead",
        6 => "Cancellation",
        7 => "Vendor",
        8 => "Partner",
        _ => return None,
    })
}

/// A company of `Companies/query`.
pub(crate) fn company(v: &Value) -> Option<CompanyFacts> {
    Some(CompanyFacts {
        psa_id: v.get("id")?.as_i64()?,
        name: text(v, "companyName")?,
        active: active(v),
        deleted: false,
        company_type: v
            .get("companyType")
            .and_then(Value::as_i64)
            .and_then(company_type)
            .map(str::to_owned),
        address_line_1: text(v, "address1"),
        address_line_2: text(v, "address2"),
        city: text(v, "city"),
        state: text(v, "state"),
        zip: text(v, "postalCode"),
        country: None,
        phone: text(v, "phone"),
        website: text(v, "webAddress"),
    })
}

/// A record of one kind; `categories` names configuration item categories by id.
pub(crate) fn record(
    kind: RecordKind,
    v: &Value,
    categories: &HashMap<i64, String>,
    locations: &HashMap<i64, String>,
) -> Option<Record> {
    let source_id = v.get("id")?.as_i64()?;
    let mut fields = BTreeMap::new();
    let mut put = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.insert(label.to_owned(), value);
        }
    };
    let site = v
        .get("companyLocationID")
        .and_then(Value::as_i64)
        .and_then(|id| locations.get(&id).cloned());
    let record = match kind {
        RecordKind::Contact => {
            let name = [text(v, "firstName"), text(v, "lastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let email = text(v, "emailAddress");
            put("Title", text(v, "title"));
            put("Email", email.clone());
            put("Phone", text(v, "phone"));
            put("Site", site);
            Record {
                name,
                active: active(v),
                email,
                ..Record::default()
            }
        }
        RecordKind::Configuration => {
            let category = v
                .get("configurationItemCategoryID")
                .and_then(Value::as_i64)
                .and_then(|id| categories.get(&id).cloned());
            let serial = text(v, "serialNumber");
            put("Type", category.clone());
            put(
                "Status",
                Some(if active(v) { "Active" } else { "Inactive" }.to_owned()),
            );
            put("Serial Number", serial.clone());
            put("Site", site);
            Record {
                name: text(v, "referenceTitle").unwrap_or_default(),
                active: active(v),
                type_name: category,
                serial,
                ..Record::default()
            }
        }
        RecordKind::Site => {
            let address = [text(v, "address1"), text(v, "address2")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            put("Address", Some(address).filter(|a| !a.is_empty()));
            put("City", text(v, "city"));
            put("State", text(v, "state"));
            put("Zip", text(v, "postalCode"));
            put("Phone", text(v, "phone"));
            Record {
                name: text(v, "name").unwrap_or_default(),
                active: active(v),
                ..Record::default()
            }
        }
        RecordKind::Agreement => return None,
    };
    record.finished(kind, source_id, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contacts_read_is_active_as_one_or_zero_and_items_take_their_category() {
        let none = HashMap::new();
        let c = record(
            RecordKind::Contact,
            &json!({"id": 1, "firstName": "Ada", "lastName": "King", "isActive": 0}),
            &none,
            &none,
        )
        .expect("a contact");
        assert_eq!((c.name.as_str(), c.active), ("Ada King", false));
        let c = record(
            RecordKind::Contact,
            &json!({"id": 2, "firstName": "Bo", "isActive": 1}),
            &none,
            &none,
        )
        .expect("a contact");
        assert!(c.active);
        let categories = HashMap::from([(102, "Server".to_owned())]);
        let locations = HashMap::from([(2000, "Main".to_owned())]);
        let ci = record(
            RecordKind::Configuration,
            &json!({"id": 70000, "referenceTitle": "SRV01", "configurationItemCategoryID": 102, "configurationItemType": 1,
                    "serialNumber": "SN1", "isActive": false, "companyLocationID": 2000}),
            &categories,
            &locations,
        )
        .expect("an item");
        assert_eq!(
            ci.type_name.as_deref(),
            Some("Server"),
            "the category, not the item type"
        );
        assert_eq!(ci.fields["Site"], "Main");
        assert!(!ci.active);
    }

    #[test]
    fn a_company_names_its_type() {
        let c = company(
            &json!({"id": 501, "companyName": "Great Lakes", "companyType": 2, "isActive": true}),
        )
        .expect("a company");
        assert_eq!(c.company_type.as_deref(), Some("Lead"));
    }
}
