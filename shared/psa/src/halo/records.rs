//! HaloPSA's JSON records (snake_case, `client_id` / `site_name` references, asset custom
//! fields as `fields: [{name, value}]`) turned into the PSA-neutral [`Record`]s and
//! [`CompanyFacts`] of a payload.

use crate::payload::{CompanyFacts, Record, RecordKind};
use serde_json::Value;
use std::collections::BTreeMap;

fn text(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A date as `YYYY-MM-DD` (Halo writes `2025-01-01T00:00:00`).
fn date(v: &Value, key: &str) -> Option<String> {
    text(v, &format!("/{key}")).map(|d| d.chars().take(10).collect())
}

/// A client of `/api/Client`.
pub(crate) fn company(v: &Value) -> Option<CompanyFacts> {
    Some(CompanyFacts {
        psa_id: v.get("id")?.as_i64()?,
        name: text(v, "/name")?,
        active: !flag(v, "inactive"),
        deleted: false,
        company_type: text(v, "/toplevel_name"),
        phone: text(v, "/phonenumber"),
        website: text(v, "/website"),
        ..CompanyFacts::default()
    })
}

/// The address of a client's main site onto its facts (Halo keeps addresses on sites).
pub(crate) fn add_address(company: &mut CompanyFacts, site: &Value) {
    company.address_line_1 = text(site, "/delivery_address/line1");
    company.address_line_2 = text(site, "/delivery_address/line2");
    company.city = text(site, "/delivery_address/line3");
    company.state = text(site, "/delivery_address/line4");
    company.zip = text(site, "/delivery_address/postcode");
    if company.phone.is_none() {
        company.phone = text(site, "/phonenumber");
    }
}

/// The value of an asset's custom field by name (any case).
fn custom(v: &Value, name: &str) -> Option<String> {
    v.get("fields")?.as_array()?.iter().find_map(|f| {
        let n = f.get("name")?.as_str()?;
        if n.eq_ignore_ascii_case(name) {
            text(f, "/value")
        } else {
            None
        }
    })
}

/// A contract is brought in while it is active and not expired.
pub(crate) fn contract_active(v: &Value) -> bool {
    flag(v, "active") && !flag(v, "expired")
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
            let joined = [text(v, "/firstname"), text(v, "/surname")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let name = Some(joined)
                .filter(|n| !n.is_empty())
                .or_else(|| text(v, "/name"))
                .unwrap_or_default();
            let email = text(v, "/emailaddress");
            put("Title", text(v, "/jobtitle"));
            put("Email", email.clone());
            put("Phone", text(v, "/phonenumber"));
            put("Site", text(v, "/site_name"));
            Record {
                name,
                active: !flag(v, "inactive"),
                email,
                ..Record::default()
            }
        }
        RecordKind::Configuration => {
            let type_name = text(v, "/assettype_name");
            let serial = custom(v, "Serial Number");
            let model = custom(v, "Model");
            let manufacturer = custom(v, "Manufacturer");
            put("Type", type_name.clone());
            put(
                "Status",
                Some(
                    if flag(v, "inactive") {
                        "Inactive"
                    } else {
                        "Active"
                    }
                    .to_owned(),
                ),
            );
            put("Serial Number", serial.clone());
            put("Model", model.clone());
            put("Manufacturer", manufacturer.clone());
            put("IP Address", custom(v, "IP Address"));
            put("MAC Address", custom(v, "MAC Address"));
            put(
                "OS",
                custom(v, "Operating System").or_else(|| custom(v, "OS")),
            );
            put("Site", text(v, "/site_name"));
            Record {
                name: text(v, "/key_field")
                    .or_else(|| text(v, "/inventory_number"))
                    .unwrap_or_default(),
                active: !flag(v, "inactive"),
                type_name,
                serial,
                model,
                manufacturer,
                ..Record::default()
            }
        }
        RecordKind::Agreement => {
            put("Type", text(v, "/contract_status"));
            put(
                "Status",
                Some(
                    if contract_active(v) {
                        "Active"
                    } else {
                        "Inactive"
                    }
                    .to_owned(),
                ),
            );
            put("Start Date", date(v, "start_date"));
            put("End Date", date(v, "end_date"));
            Record {
                name: text(v, "/ref").unwrap_or_default(),
                active: contract_active(v),
                type_name: text(v, "/contract_status"),
                ..Record::default()
            }
        }
        RecordKind::Site => {
            let address = [
                text(v, "/delivery_address/line1"),
                text(v, "/delivery_address/line2"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            put("Address", Some(address).filter(|a| !a.is_empty()));
            put("City", text(v, "/delivery_address/line3"));
            put("State", text(v, "/delivery_address/line4"));
            put("Zip", text(v, "/delivery_address/postcode"));
            put("Phone", text(v, "/phonenumber"));
            Record {
                name: text(v, "/name").unwrap_or_default(),
                active: !flag(v, "inactive"),
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
    fn an_asset_takes_its_name_serial_and_type_from_halo_fields() {
        let r = record(
            RecordKind::Configuration,
            &json!({"id": 10000, "inventory_number": "INV-1", "key_field": "SRV01", "assettype_name": "Server",
                    "inactive": false, "site_name": "Main",
                    "fields": [{"id": 1, "name": "Serial Number", "value": "HSN-1"}, {"id": 2, "name": "model", "value": "R740"}]}),
        )
        .expect("an asset");
        assert_eq!(r.name, "SRV01");
        assert_eq!(r.serial.as_deref(), Some("HSN-1"));
        assert_eq!(r.model.as_deref(), Some("R740"));
        assert_eq!(r.type_name.as_deref(), Some("Server"));
        assert_eq!(r.fields["Site"], "Main");
        assert!(r.active);
    }

    #[test]
    fn an_expired_contract_is_inactive_and_a_contact_is_first_last() {
        let c = record(
            RecordKind::Agreement,
            &json!({"id": 7001, "ref": "Block Hours", "active": true, "expired": true, "start_date": "2024-07-01T00:00:00"}),
        )
        .expect("a contract");
        assert!(!c.active);
        assert_eq!(c.fields["Start Date"], "2024-07-01");
        let u = record(
            RecordKind::Contact,
            &json!({"id": 3000, "name": "x", "firstname": "Alex", "surname": "Whitfield", "emailaddress": "a@x.com", "inactive": true}),
        )
        .expect("a user");
        assert_eq!((u.name.as_str(), u.active), ("Alex Whitfield", false));
        assert!(record(RecordKind::Site, &json!({"id": 1, "name": ""})).is_none());
    }
}
