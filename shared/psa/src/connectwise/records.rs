//! ConnectWise Manage's JSON records turned into the PSA-neutral [`Record`]s and
//! [`CompanyFacts`] of a payload.

use crate::payload::{CompanyFacts, Record, RecordKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A company of `/company/companies`; `inactive` maps status ids to their inactive flag.
pub(crate) fn company(v: &Value, inactive: &HashMap<i64, bool>) -> Option<CompanyFacts> {
    let status = v.pointer("/status/id").and_then(Value::as_i64);
    let status_inactive = status
        .and_then(|s| inactive.get(&s).copied())
        .unwrap_or(false);
    Some(CompanyFacts {
        psa_id: v.get("id")?.as_i64()?,
        name: text(v, "/name")?,
        active: !status_inactive,
        deleted: flag(v, "deletedFlag"),
        company_type: text(v, "/types/0/name"),
        address_line_1: text(v, "/addressLine1"),
        address_line_2: text(v, "/addressLine2"),
        city: text(v, "/city"),
        state: text(v, "/state"),
        zip: text(v, "/zip"),
        country: text(v, "/country/name"),
        phone: text(v, "/phoneNumber"),
        website: text(v, "/website"),
    })
}

fn communication(v: &Value, kind: &str) -> Option<String> {
    let items = v.get("communicationItems")?.as_array()?;
    let of_kind = || {
        items
            .iter()
            .filter(move |i| i.get("communicationType").and_then(Value::as_str) == Some(kind))
    };
    of_kind()
        .find(|i| flag(i, "defaultFlag"))
        .or_else(|| of_kind().next())
        .and_then(|i| text(i, "/value"))
}

fn date(v: &Value, key: &str) -> Option<String> {
    text(v, &format!("/{key}")).map(|d| d.chars().take(10).collect())
}

/// A record of one kind; None when it lacks an id or a name.
pub(crate) fn record(kind: RecordKind, v: &Value) -> Option<Record> {
    let source_id = v.get("id")?.as_i64()?;
    let mut fields = BTreeMap::new();
    let mut put = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.insert(label.to_owned(), value);
        }
    };
    let record = match kind {
        RecordKind::Contact => {
            let name = [text(v, "/firstName"), text(v, "/lastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let email = communication(v, "Email");
            put("Title", text(v, "/title"));
            put("Email", email.clone());
            put("Phone", communication(v, "Phone"));
            put("Site", text(v, "/site/name"));
            Record {
                name,
                active: !flag(v, "inactiveFlag"),
                email,
                ..Record::default()
            }
        }
        RecordKind::Configuration => {
            let type_name = text(v, "/type/name");
            put("Type", type_name.clone());
            put("Status", text(v, "/status/name"));
            put("Serial Number", text(v, "/serialNumber"));
            put("Model", text(v, "/modelNumber"));
            put("Manufacturer", text(v, "/manufacturer/name"));
            put("IP Address", text(v, "/ipAddress"));
            put("MAC Address", text(v, "/macAddress"));
            put("OS", text(v, "/osType"));
            put("Site", text(v, "/site/name"));
            Record {
                name: text(v, "/name").unwrap_or_default(),
                active: flag(v, "activeFlag"),
                type_name,
                serial: text(v, "/serialNumber"),
                model: text(v, "/modelNumber"),
                manufacturer: text(v, "/manufacturer/name"),
                ..Record::default()
            }
        }
        RecordKind::Agreement => {
            let status = text(v, "/agreementStatus");
            put("Type", text(v, "/type/name"));
            put("Status", status.clone());
            put("Start Date", date(v, "startDate"));
            put("End Date", date(v, "endDate"));
            Record {
                name: text(v, "/name").unwrap_or_default(),
                active: status.as_deref() == Some("Active") && !flag(v, "cancelledFlag"),
                type_name: text(v, "/type/name"),
                ..Record::default()
            }
        }
        RecordKind::Site => {
            let address = [text(v, "/addressLine1"), text(v, "/addressLine2")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            put("Address", Some(address).filter(|a| !a.is_empty()));
            put("City", text(v, "/city"));
            put(
                "State",
                text(v, "/stateReference/identifier").or_else(|| text(v, "/state")),
            );
            put("Zip", text(v, "/zip"));
            put("Phone", text(v, "/phoneNumber"));
            Record {
                name: text(v, "/name").unwrap_or_default(),
                active: !flag(v, "inactiveFlag"),
                ..Record::default()
            }
        }
    };
    record.finished(kind, source_id, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_contact_is_named_first_last_with_its_default_email() {
        let r = record(
            RecordKind::Contact,
            &json!({"id": 7, "firstName": "Ada", "lastName": "Lovelace", "inactiveFlag": false,
                    "communicationItems": [
                        {"communicationType": "Email", "value": "old@x.com", "defaultFlag": false},
                        {"communicationType": "Email", "value": "ada@x.com", "defaultFlag": true},
                        {"communicationType": "Phone", "value": "+61 3 9000 0000", "defaultFlag": true}]}),
        )
        .expect("a contact");
        assert_eq!(r.name, "Ada Lovelace");
        assert_eq!(r.email.as_deref(), Some("ada@x.com"));
        assert_eq!(r.fields["Phone"], "+61 3 9000 0000");
        assert!(r.active);
    }

    #[test]
    fn a_cancelled_agreement_is_inactive_and_a_nameless_record_is_dropped() {
        let r = record(
            RecordKind::Agreement,
            &json!({"id": 1, "name": "MSA", "agreementStatus": "Active", "cancelledFlag": true, "startDate": "2025-01-01T00:00:00Z"}),
        )
        .expect("an agreement");
        assert!(!r.active);
        assert_eq!(r.fields["Start Date"], "2025-01-01");
        assert!(record(RecordKind::Configuration, &json!({"id": 2, "name": " "})).is_none());
    }

    #[test]
    fn a_company_is_inactive_by_its_status() {
        let inactive = HashMap::from([(1, false), (2, true)]);
        let c = company(&json!({"id": 250, "name": "Contoso", "status": {"id": 2}, "types": [{"name": "Client"}]}), &inactive)
            .expect("a company");
        assert!(!c.active);
        assert_eq!(c.company_type.as_deref(), Some("Client"));
    }
}
