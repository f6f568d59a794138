//! The synthetic ConnectWise records: deterministic companies (even ones named like Hudu's
//! companies, so docsync can suggest the match), their contacts, configurations, agreements
//! and sites; the fixed reference lists (company statuses and types, configuration types);
//! and, per entity, a template with every field filled, against which `conditions`,
//! `orderBy` and `fields` are checked.
//!
//! Records are shaped as the real API answers them: camelCase, references as `{id, name}`
//! objects, `_info.lastUpdated` in RFC 3339 UTC, and fields without a value left out.

use crate::fixtures::hudu_company_name;
use crate::ConnectWiseConfig;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `_info.lastUpdated` of every fixture record (a fixed time in the past).
pub(crate) const FIXTURE_UPDATED: &str = "2026-01-01T00:00:00Z";
/// `_info.dateEntered` of every fixture record.
const FIXTURE_ENTERED: &str = "2025-06-01T00:00:00Z";

/// The id of company `k` (the first is 250).
pub(crate) const FIRST_COMPANY_ID: u64 = 250;
/// Where the other entities' ids start.
pub(crate) const FIRST_CONTACT_ID: u64 = 1000;
/// First configuration id.
pub(crate) const FIRST_CONFIGURATION_ID: u64 = 5000;
/// First agreement id.
pub(crate) const FIRST_AGREEMENT_ID: u64 = 100;
/// First site id.
pub(crate) const FIRST_SITE_ID: u64 = 10;

/// Names of the odd companies (a number follows), none of them a Hudu company's.
const OTHER_NAMES: [&str; 8] = [
    "Northwind Traders",
    "Graphic Design Institute",
    "Datum Corporation",
    "School of Fine Art",
    "Nod Publishers",
    "City Power and Light",
    "Best For You Organics",
    "Lamna Healthcare",
];
const FIRST: [&str; 10] = [
    "Avery", "Jordan", "Riley", "Morgan", "Casey", "Quinn", "Harper", "Rowan", "Emerson", "Skyler",
];
const LAST: [&str; 10] = [
    "Nguyen", "Patel", "Garcia", "Smith", "Kowalski", "Okafor", "Larsen", "Haddad", "Rossi",
    "Tanaka",
];
const TITLES: [&str; 4] = [
    "IT Manager",
    "Office Manager",
    "Chief Financial Officer",
    "Owner",
];

/// Per configuration type (ids 1..=4): name, name prefix, manufacturer, model, OS.
const CONFIG_KINDS: [(&str, &str, &str, &str, Option<&str>); 4] = [
    (
        "Managed Server",
        "SRV",
        "Dell",
        "PowerEdge R650",
        Some("Windows Server 2022"),
    ),
    (
        "Managed Workstation",
        "WKS",
        "Lenovo",
        "ThinkPad T14 Gen 4",
        Some("Windows 11 Pro"),
    ),
    (
        "Network Device",
        "FW",
        "Cisco",
        "Meraki MX68",
        Some("Meraki MX 18.2"),
    ),
    ("Printer", "PRN", "Brother", "HL-L8360CDW", None),
];

/// Per agreement position: status, type, name.
const AGREEMENTS: [(&str, (u64, &str), &str); 4] = [
    ("Active", (1, "Managed Services"), "Managed Services"),
    ("Cancelled", (2, "Block Time"), "Block Hours"),
    ("Expired", (3, "Project"), "Network Refresh"),
    ("Inactive", (4, "Backup"), "Cloud Backup"),
];

/// A timestamp as the API writes it: `2026-01-01T00:00:00Z`.
pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn info(updated: &str, entered: &str) -> Value {
    json!({"lastUpdated": updated, "dateEntered": entered, "updatedBy": "SandboxAPI"})
}

/// The name of company `k`: Hudu company `k + 1`'s for even `k`, another one for odd `k`.
pub(crate) fn company_name(k: usize) -> String {
    if k.is_multiple_of(2) {
        hudu_company_name(k as u64 + 1)
    } else {
        format!("{} {k}", OTHER_NAMES[(k / 2) % OTHER_NAMES.len()])
    }
}

/// A company identifier: the name's letters (at most 25 characters with the number) and `k`.
fn identifier(name: &str, k: usize) -> String {
    let number = k.to_string();
    let letters: String = name
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(25 - number.len().min(24))
        .collect();
    format!("{letters}{number}")
}

/// A `{id, identifier, name}` company reference.
pub(crate) fn company_ref(company: &Value) -> Value {
    json!({
        "id": company["id"],
        "identifier": company["identifier"],
        "name": company["name"],
    })
}

/// A `{id, name}` reference.
fn site_ref(site: &Value) -> Value {
    json!({"id": site["id"], "name": site["name"]})
}

/// The company statuses.
pub(crate) fn company_statuses() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "Active", "inactiveFlag": false, "defaultFlag": true}),
        json!({"id": 2, "name": "Inactive", "inactiveFlag": true, "defaultFlag": false}),
        json!({"id": 3, "name": "Not-Approved", "inactiveFlag": false, "defaultFlag": false}),
    ]
}

/// The company types.
pub(crate) fn company_types() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "Client", "defaultFlag": true, "vendorFlag": false}),
        json!({"id": 2, "name": "Prospect", "defaultFlag": false, "vendorFlag": false}),
        json!({"id": 3, "name": "Vendor", "defaultFlag": false, "vendorFlag": true}),
    ]
}

/// The configuration types.
pub(crate) fn configuration_types() -> Vec<Value> {
    CONFIG_KINDS
        .iter()
        .enumerate()
        .map(|(i, kind)| json!({"id": i + 1, "name": kind.0, "inactiveFlag": false}))
        .collect()
}

fn company(k: usize, companies: usize) -> Value {
    let name = company_name(k);
    let ident = identifier(&name, k);
    let id = FIRST_COMPANY_ID + k as u64;
    let status = if k + 1 == companies {
        json!({"id": 2, "name": "Inactive"})
    } else {
        json!({"id": 1, "name": "Active"})
    };
    let kind = if k == 1 {
        json!({"id": 2, "name": "Prospect"})
    } else {
        json!({"id": 1, "name": "Client"})
    };
    let mut c = json!({
        "id": id,
        "identifier": ident,
        "name": name,
        "status": status,
        "types": [kind],
        "addressLine1": format!("{} Kennedy Boulevard", 100 + k),
        "city": "Tampa",
        "state": "FL",
        "zip": format!("336{:02}", k % 100),
        "country": {"id": 1, "name": "United States"},
        "phoneNumber": format!("813555{:04}", k % 10_000),
        "website": format!("www.{}.example.com", ident.to_ascii_lowercase()),
        "deletedFlag": false,
        "_info": info(FIXTURE_UPDATED, FIXTURE_ENTERED),
    });
    if k % 3 == 2 {
        c["addressLine2"] = json!(format!("Suite {}", 200 + k));
    }
    c
}

fn site(id: u64, company: &Value, j: usize) -> Value {
    let name = if j == 0 {
        "Main".to_string()
    } else {
        format!("Branch {j}")
    };
    json!({
        "id": id,
        "name": name,
        "addressLine1": format!("{} Harbour Street", 10 + id),
        "city": "Tampa",
        "stateReference": {"id": 10, "identifier": "FL", "name": "Florida"},
        "zip": "33602",
        "phoneNumber": format!("813556{:04}", id % 10_000),
        "inactiveFlag": false,
        "company": company_ref(company),
        "_info": info(FIXTURE_UPDATED, FIXTURE_ENTERED),
    })
}

fn contact(id: u64, company: &Value, site: Option<&Value>, j: usize) -> Value {
    let n = usize::try_from(id).unwrap_or_default();
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / FIRST.len() + j) % LAST.len()];
    let domain = format!(
        "{}.example.com",
        company["identifier"]
            .as_str()
            .unwrap_or("company")
            .to_ascii_lowercase()
    );
    let item = id * 10;
    let mut items = vec![
        json!({"id": item, "type": {"id": 1, "name": "Email"},
            "value": format!("{}.{}@{domain}", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
            "communicationType": "Email", "defaultFlag": true}),
        json!({"id": item + 1, "type": {"id": 2, "name": "Direct"},
            "value": format!("813557{:04}", id % 10_000), "communicationType": "Phone",
            "defaultFlag": true}),
    ];
    if j % 2 == 1 {
        items.push(json!({"id": item + 2, "type": {"id": 4, "name": "Mobile"},
            "value": format!("813558{:04}", id % 10_000), "communicationType": "Phone",
            "defaultFlag": false}));
    }
    let mut c = json!({
        "id": id,
        "firstName": first,
        "lastName": last,
        "company": company_ref(company),
        "inactiveFlag": false,
        "title": TITLES[j % TITLES.len()],
        "communicationItems": items,
        "_info": info(FIXTURE_UPDATED, FIXTURE_ENTERED),
    });
    if let Some(s) = site {
        c["site"] = site_ref(s);
    }
    c
}

/// Configuration `j` of `company`, `active` or not.
pub(crate) fn configuration(
    id: u64,
    company: &Value,
    site: Option<&Value>,
    j: usize,
    active: bool,
    updated: &str,
) -> Value {
    let (type_name, prefix, maker, model, os) = CONFIG_KINDS[j % CONFIG_KINDS.len()];
    let type_id = j % CONFIG_KINDS.len() + 1;
    let ident = company["identifier"].as_str().unwrap_or("CFG");
    let k = company["id"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(FIRST_COMPANY_ID);
    let b = id.to_be_bytes();
    let status = if active {
        json!({"id": 1, "name": "Active"})
    } else {
        json!({"id": 2, "name": "Inactive"})
    };
    let mut c = json!({
        "id": id,
        "name": format!("{}-{prefix}{:02}", ident.to_ascii_uppercase(), j + 1),
        "type": {"id": type_id, "name": type_name},
        "status": status,
        "company": company_ref(company),
        "serialNumber": format!("SN-{id}"),
        "modelNumber": model,
        "manufacturer": {"id": type_id, "name": maker},
        "ipAddress": format!("10.{}.{}.{}", k % 250, (j / 250) % 250, j % 250 + 1),
        "macAddress": format!("00:1A:2B:{:02X}:{:02X}:{:02X}", b[5], b[6], b[7]),
        "activeFlag": active,
        "_info": info(updated, if updated == FIXTURE_UPDATED { FIXTURE_ENTERED } else { updated }),
    });
    if let Some(os) = os {
        c["osType"] = json!(os);
    }
    if let Some(s) = site {
        c["site"] = site_ref(s);
    }
    c
}

fn agreement(id: u64, company: &Value, j: usize) -> Value {
    let (status, (type_id, type_name), name) = AGREEMENTS[j % AGREEMENTS.len()];
    let name = if j < AGREEMENTS.len() {
        name.to_string()
    } else {
        format!("{name} {}", j / AGREEMENTS.len() + 1)
    };
    let mut a = json!({
        "id": id,
        "name": name,
        "type": {"id": type_id, "name": type_name},
        "company": company_ref(company),
        "agreementStatus": status,
        "cancelledFlag": status == "Cancelled",
        "startDate": "2025-01-01T00:00:00Z",
        "_info": info(FIXTURE_UPDATED, FIXTURE_ENTERED),
    });
    match status {
        "Cancelled" => a["endDate"] = json!("2025-06-30T00:00:00Z"),
        "Expired" | "Inactive" => a["endDate"] = json!("2025-12-31T00:00:00Z"),
        _ => {}
    }
    a
}

/// Every fixture record: `(companies, contacts, configurations, agreements, sites)`.
pub(crate) type Fixtures = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

/// The records `config` asks for.
pub(crate) fn generate(config: &ConnectWiseConfig) -> Fixtures {
    let mut out: Fixtures = Default::default();
    let (mut contact_id, mut config_id) = (FIRST_CONTACT_ID, FIRST_CONFIGURATION_ID);
    let (mut agreement_id, mut site_id) = (FIRST_AGREEMENT_ID, FIRST_SITE_ID);
    for k in 0..config.companies {
        let c = company(k, config.companies);
        let first_site = out.4.len();
        for j in 0..config.sites_per_company {
            out.4.push(site(site_id, &c, j));
            site_id += 1;
        }
        let main = out
            .4
            .get(first_site)
            .filter(|_| config.sites_per_company > 0);
        for j in 0..config.contacts_per_company {
            out.1.push(contact(contact_id, &c, main, j));
            contact_id += 1;
        }
        let n = config.configurations_per_company;
        for j in 0..n {
            let active = j + 1 != n;
            out.2.push(configuration(
                config_id,
                &c,
                main,
                j,
                active,
                FIXTURE_UPDATED,
            ));
            config_id += 1;
        }
        for j in 0..config.agreements_per_company {
            out.3.push(agreement(agreement_id, &c, j));
            agreement_id += 1;
        }
        out.0.push(c);
    }
    out
}

/// Per entity (in [`crate::CwEntity`] order), a record with every field present: what
/// `conditions`, `orderBy` and `fields` may name.
pub(crate) fn templates() -> [Value; 5] {
    let mut c = company(2, 9);
    c["addressLine2"] = json!("Suite 1");
    let s = site(1, &c, 0);
    let mut contact = contact(1, &c, Some(&s), 1);
    contact["site"] = site_ref(&s);
    let configuration = configuration(1, &c, Some(&s), 0, true, FIXTURE_UPDATED);
    let agreement = agreement(1, &c, 1);
    [c, contact, configuration, agreement, s]
}

/// The fields a record inserted through the mutation API starts from, per entity (before the
/// given record is merged over it).
pub(crate) fn defaults() -> [Value; 5] {
    [
        json!({"status": {"id": 1, "name": "Active"}, "types": [{"id": 1, "name": "Client"}],
            "deletedFlag": false}),
        json!({"inactiveFlag": false, "communicationItems": []}),
        json!({"status": {"id": 1, "name": "Active"}, "activeFlag": true}),
        json!({"agreementStatus": "Active", "cancelledFlag": false}),
        json!({"inactiveFlag": false}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_follow_the_configuration() {
        let config = ConnectWiseConfig::default();
        let (companies, contacts, configurations, agreements, sites) = generate(&config);
        assert_eq!(companies.len(), 6);
        assert_eq!(companies[0]["id"], 250);
        assert_eq!(companies[0]["name"], hudu_company_name(1).as_str());
        assert_eq!(companies[4]["name"], hudu_company_name(5).as_str());
        assert_eq!(companies[1]["name"], "Northwind Traders 1");
        assert_eq!(companies[1]["types"][0]["name"], "Prospect");
        assert_eq!(companies[5]["status"]["id"], 2);
        assert_eq!(companies[4]["status"]["name"], "Active");
        assert_eq!(contacts.len(), 18);
        assert_eq!(configurations.len(), 24);
        assert_eq!(configurations[3]["activeFlag"], false);
        assert_eq!(configurations[2]["activeFlag"], true);
        assert_eq!(configurations[2]["type"]["name"], "Network Device");
        assert_eq!(configurations[0]["serialNumber"], "SN-5000");
        assert_eq!(agreements[0]["agreementStatus"], "Active");
        assert_eq!(agreements[1]["agreementStatus"], "Cancelled");
        assert_eq!(agreements[1]["cancelledFlag"], true);
        assert_eq!(sites.len(), 6);
        assert_eq!(contacts[0]["site"]["id"], sites[0]["id"]);
        let mut idents: Vec<_> = companies.iter().map(|c| &c["identifier"]).collect();
        idents.dedup();
        assert_eq!(idents.len(), 6);
        assert!(idents.iter().all(|i| i.as_str().unwrap().len() <= 25));
    }
}
