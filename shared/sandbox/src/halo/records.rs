//! The synthetic Halo records: deterministic clients (even ones named like Hudu's companies,
//! so docsync can suggest the match), their sites, users (contacts), assets and contracts;
//! the fixed asset types; and a few knowledge-base articles.
//!
//! Records are shaped as Halo's JSON: snake_case, references as `client_id` + `client_name`
//! (`site_id` + `site_name`, `assettype_id` + `assettype_name`) pairs, dates as
//! `2025-01-01T00:00:00` (no zone), asset custom fields as `fields: [{id, name, value}]`.
//!
//! Client `k` (0-based) has id `12 + k`; the last client is inactive. Per client, in order:
//! its sites (ids from 2000; the first is `Main`), users (ids from 3000; the last of each
//! client is inactive when it has two or more), contracts (ids from 7000; even positions
//! active until 2030, odd ones expired in 2025) and assets (ids from 10000; types cycle
//! Server, Laptop, Firewall, Printer, Desktop, Switch; the last of each client is inactive
//! when it has two or more). Articles have ids from 500.

use crate::fixtures::hudu_company_name;
use crate::HaloConfig;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The id of client 0.
pub(crate) const FIRST_CLIENT_ID: u64 = 12;
/// First site id.
pub(crate) const FIRST_SITE_ID: u64 = 2000;
/// First user id.
pub(crate) const FIRST_USER_ID: u64 = 3000;
/// First contract id.
pub(crate) const FIRST_CONTRACT_ID: u64 = 7000;
/// First asset id.
pub(crate) const FIRST_ASSET_ID: u64 = 10_000;
/// First knowledge-base article id.
pub(crate) const FIRST_ARTICLE_ID: u64 = 500;
/// First id of an asset type added through the mutation API (the fixed ones are 1..=6).
pub(crate) const FIRST_ASSET_TYPE_ID: u64 = 1;

/// When the fixture articles were last edited.
pub(crate) const FIXTURE_EDITED: &str = "2026-01-01T00:00:00";

/// Names of the odd clients (a number follows), none of them a Hudu company's.
const OTHER_NAMES: [&str; 8] = [
    "Munson's Pickles",
    "Olympia Bakery",
    "Hanover Dental",
    "Kestrel Freight",
    "Ravenwood Architects",
    "Sierra Plumbing",
    "Tamarack Veterinary",
    "Quillon Insurance",
];
const FIRST: [&str; 10] = [
    "Alex", "Sam", "Charlie", "Jamie", "Robin", "Taylor", "Drew", "Kai", "Noel", "Sasha",
];
const LAST: [&str; 10] = [
    "Whitfield",
    "Okonkwo",
    "Brennan",
    "Lindqvist",
    "Moreau",
    "Achterberg",
    "Castillo",
    "Fujita",
    "Novak",
    "Iyer",
];
const TITLES: [&str; 4] = [
    "IT Contact",
    "Practice Manager",
    "Finance Director",
    "Managing Director",
];

/// The fixed asset types: id, name, asset group id, asset group name.
pub(crate) const ASSET_TYPES: [(u64, &str, u64, &str); 6] = [
    (1, "Laptop", 1, "Workstations"),
    (2, "Desktop", 1, "Workstations"),
    (3, "Server", 2, "Infrastructure"),
    (4, "Firewall", 2, "Infrastructure"),
    (5, "Switch", 2, "Infrastructure"),
    (6, "Printer", 3, "Peripherals"),
];

/// Asset kinds in the order a client's assets take them: asset type id, key-field prefix,
/// manufacturer, model.
const ASSET_KINDS: [(u64, &str, &str, &str); 6] = [
    (3, "SRV", "Dell", "PowerEdge R650"),
    (1, "LT", "Lenovo", "ThinkPad T14 Gen 4"),
    (4, "FW", "Fortinet", "FortiGate 60F"),
    (6, "PRN", "HP", "LaserJet Pro M404dn"),
    (2, "WS", "HP", "EliteDesk 800 G9"),
    (5, "SW", "Cisco", "Catalyst 1000-24T"),
];

/// The fixture articles: name, description.
const ARTICLES: [(&str, &str); 4] = [
    (
        "Password reset procedure",
        "<p>Verify the caller, then reset the password in the admin portal.</p>",
    ),
    (
        "VPN setup",
        "<p>Install the client, import the profile, sign in with MFA.</p>",
    ),
    (
        "Printer troubleshooting",
        "<p>Power-cycle the printer, then check the queue on the print server.</p>",
    ),
    (
        "New starter checklist",
        "<ul><li>Account</li><li>Laptop</li><li>Licences</li></ul>",
    ),
];

/// A timestamp as Halo writes it: `2026-01-01T00:00:00`.
pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The name of client `k`: Hudu company `k + 1`'s for even `k`, another one for odd `k`.
pub(crate) fn client_name(k: usize) -> String {
    if k.is_multiple_of(2) {
        hudu_company_name(k as u64 + 1)
    } else {
        format!("{} {k}", OTHER_NAMES[(k / 2) % OTHER_NAMES.len()])
    }
}

/// A short upper-case tag of a client: its first word's letters and digits, then its id.
pub(crate) fn client_tag(client: &Value) -> String {
    let word: String = client["name"]
        .as_str()
        .unwrap_or("CLIENT")
        .split_whitespace()
        .next()
        .unwrap_or("CLIENT")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!(
        "{}{}",
        word.to_ascii_uppercase(),
        client["id"].as_u64().unwrap_or_default()
    )
}

/// An asset type record.
pub(crate) fn asset_type(t: &(u64, &str, u64, &str)) -> Value {
    json!({
        "id": t.0,
        "name": t.1,
        "assetgroup_id": t.2,
        "assetgroup_name": t.3,
        "inactive": false,
    })
}

fn client(k: usize, clients: usize) -> Value {
    let id = FIRST_CLIENT_ID + k as u64;
    let mut c = json!({
        "id": id,
        "name": client_name(k),
        "inactive": k + 1 == clients,
        "toplevel_id": 1,
        "toplevel_name": "Clients",
        "phonenumber": format!("0161 496 {:04}", k % 10_000),
    });
    let tag = client_tag(&c).to_ascii_lowercase();
    c["website"] = json!(format!("https://www.{tag}.example.com"));
    c
}

fn site(id: u64, client: &Value, j: usize) -> Value {
    let name = if j == 0 {
        "Main".to_string()
    } else {
        format!("Branch {j}")
    };
    let k = client["id"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(FIRST_CLIENT_ID);
    json!({
        "id": id,
        "name": name,
        "client_id": client["id"],
        "client_name": client["name"],
        "inactive": false,
        "phonenumber": format!("0161 497 {:04}", id % 10_000),
        "delivery_address": {
            "line1": format!("{} Deansgate", 10 + id % 1000),
            "line2": if j == 0 { String::new() } else { format!("Unit {j}") },
            "line3": "Manchester",
            "line4": "Greater Manchester",
            "postcode": format!("M{} {}AB", 1 + k % 40, j % 10),
        },
    })
}

fn user(id: u64, client: &Value, site: Option<&Value>, j: usize, inactive: bool) -> Value {
    let n = usize::try_from(id).unwrap_or_default();
    let first = FIRST[n % FIRST.len()];
    let last = LAST[(n / FIRST.len() + j) % LAST.len()];
    let domain = format!("{}.example.com", client_tag(client).to_ascii_lowercase());
    json!({
        "id": id,
        "name": format!("{first} {last}"),
        "firstname": first,
        "surname": last,
        "emailaddress": format!(
            "{}.{}@{domain}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        ),
        "phonenumber": format!("0161 498 {:04}", id % 10_000),
        "jobtitle": TITLES[j % TITLES.len()],
        "client_id": client["id"],
        "client_name": client["name"],
        "site_id": site.map_or(Value::Null, |s| s["id"].clone()),
        "site_name": site.map_or(Value::Null, |s| s["name"].clone()),
        "inactive": inactive,
    })
}

/// Asset `j` of `client`.
pub(crate) fn asset(
    id: u64,
    client: &Value,
    site: Option<&Value>,
    j: usize,
    inactive: bool,
) -> Value {
    let (type_id, prefix, maker, model) = ASSET_KINDS[j % ASSET_KINDS.len()];
    let type_name = ASSET_TYPES
        .iter()
        .find(|t| t.0 == type_id)
        .map_or("Asset", |t| t.1);
    let k = client["id"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(FIRST_CLIENT_ID);
    json!({
        "id": id,
        "inventory_number": format!("INV-{id:06}"),
        "key_field": format!("{}-{prefix}{:02}", client_tag(client), j + 1),
        "client_id": client["id"],
        "client_name": client["name"],
        "site_id": site.map_or(Value::Null, |s| s["id"].clone()),
        "site_name": site.map_or(Value::Null, |s| s["name"].clone()),
        "assettype_id": type_id,
        "assettype_name": type_name,
        "inactive": inactive,
        "fields": [
            {"id": 1, "name": "Serial Number", "value": format!("HSN-{id}")},
            {"id": 2, "name": "Model", "value": model},
            {"id": 3, "name": "Manufacturer", "value": maker},
            {"id": 4, "name": "IP Address",
                "value": format!("10.{}.{}.{}", k % 250, (j / 250) % 250, j % 250 + 1)},
        ],
    })
}

fn contract(id: u64, client: &Value, j: usize) -> Value {
    let round = if j < 2 {
        String::new()
    } else {
        format!(" {}", j / 2 + 1)
    };
    if j.is_multiple_of(2) {
        json!({
            "id": id,
            "ref": format!("Managed Services{round}"),
            "client_id": client["id"],
            "client_name": client["name"],
            "start_date": "2025-01-01T00:00:00",
            "end_date": "2030-12-31T00:00:00",
            "active": true,
            "expired": false,
            "contract_status": "Active",
        })
    } else {
        json!({
            "id": id,
            "ref": format!("Block Hours{round}"),
            "client_id": client["id"],
            "client_name": client["name"],
            "start_date": "2024-07-01T00:00:00",
            "end_date": "2025-06-30T00:00:00",
            "active": false,
            "expired": true,
            "contract_status": "Expired",
        })
    }
}

fn article(id: u64, i: usize) -> Value {
    let (name, description) = ARTICLES[i % ARTICLES.len()];
    let name = if i < ARTICLES.len() {
        name.to_string()
    } else {
        format!("{name} {}", i / ARTICLES.len() + 1)
    };
    json!({
        "id": id,
        "name": name,
        "description": description,
        "resolution": "",
        "type": 0,
        "faqlists": [{"id": 1, "name": "General"}],
        "tag_string": "",
        "inactive": false,
        "date_created": FIXTURE_EDITED,
        "last_updated": FIXTURE_EDITED,
    })
}

/// Every fixture record, per entity.
#[derive(Debug, Default)]
pub(crate) struct Fixtures {
    pub(crate) clients: Vec<Value>,
    pub(crate) users: Vec<Value>,
    pub(crate) assets: Vec<Value>,
    pub(crate) asset_types: Vec<Value>,
    pub(crate) sites: Vec<Value>,
    pub(crate) contracts: Vec<Value>,
    pub(crate) articles: Vec<Value>,
}

/// The records `config` asks for.
pub(crate) fn generate(config: &HaloConfig) -> Fixtures {
    let mut out = Fixtures {
        asset_types: ASSET_TYPES.iter().map(asset_type).collect(),
        ..Fixtures::default()
    };
    let (mut site_id, mut user_id) = (FIRST_SITE_ID, FIRST_USER_ID);
    let (mut contract_id, mut asset_id) = (FIRST_CONTRACT_ID, FIRST_ASSET_ID);
    for k in 0..config.clients {
        let mut c = client(k, config.clients);
        let first_site = out.sites.len();
        for j in 0..config.sites_per_client {
            out.sites.push(site(site_id, &c, j));
            site_id += 1;
        }
        let main = out
            .sites
            .get(first_site)
            .filter(|_| config.sites_per_client > 0);
        if let Some(s) = main {
            c["main_site_id"] = s["id"].clone();
            c["main_site_name"] = s["name"].clone();
        }
        let n = config.users_per_client;
        for j in 0..n {
            out.users
                .push(user(user_id, &c, main, j, n > 1 && j + 1 == n));
            user_id += 1;
        }
        for j in 0..config.contracts_per_client {
            out.contracts.push(contract(contract_id, &c, j));
            contract_id += 1;
        }
        let n = config.assets_per_client;
        for j in 0..n {
            out.assets
                .push(asset(asset_id, &c, main, j, n > 1 && j + 1 == n));
            asset_id += 1;
        }
        out.clients.push(c);
    }
    out.articles = (0..config.kb_articles)
        .map(|i| article(FIRST_ARTICLE_ID + i as u64, i))
        .collect();
    out
}

/// The fields a record inserted through the mutation API (or an article created over the
/// API) starts from, per entity in [`crate::HaloEntity::ALL`] order.
pub(crate) fn defaults() -> [Value; 7] {
    [
        json!({"inactive": false, "toplevel_id": 1, "toplevel_name": "Clients"}),
        json!({"inactive": false}),
        json!({"inactive": false, "fields": []}),
        json!({"inactive": false}),
        json!({"inactive": false}),
        json!({"active": true, "expired": false, "contract_status": "Active"}),
        json!({"description": "", "resolution": "", "type": 0, "faqlists": [], "tag_string": "",
            "inactive": false}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_follow_the_configuration() {
        let f = generate(&HaloConfig::default());
        assert_eq!(f.clients.len(), 6);
        assert_eq!(f.clients[0]["id"], 12);
        assert_eq!(f.clients[0]["name"], hudu_company_name(1).as_str());
        assert_eq!(f.clients[1]["name"], "Munson's Pickles 1");
        assert_eq!(f.clients[5]["inactive"], true);
        assert_eq!(f.clients[4]["inactive"], false);
        assert_eq!(f.clients[0]["main_site_id"], 2000);
        assert_eq!(f.sites.len(), 6);
        assert_eq!(f.sites[0]["delivery_address"]["line3"], "Manchester");
        assert_eq!(f.users.len(), 18);
        assert_eq!(f.users[0]["id"], 3000);
        assert_eq!(f.users[2]["inactive"], true);
        assert_eq!(f.users[1]["inactive"], false);
        assert_eq!(f.users[0]["site_id"], 2000);
        assert_eq!(f.assets.len(), 24);
        assert_eq!(f.assets[0]["assettype_name"], "Server");
        assert_eq!(f.assets[3]["assettype_name"], "Printer");
        assert_eq!(f.assets[3]["inactive"], true);
        assert_eq!(f.assets[0]["fields"][0]["value"], "HSN-10000");
        assert_eq!(f.contracts.len(), 12);
        assert_eq!(f.contracts[0]["active"], true);
        assert_eq!(f.contracts[1]["expired"], true);
        assert_eq!(f.asset_types.len(), 6);
        assert_eq!(f.articles.len(), 2);
        assert_eq!(f.articles[0]["id"], 500);
        let mut keys: Vec<_> = f.assets.iter().map(|a| a["key_field"].clone()).collect();
        keys.sort_by_key(Value::to_string);
        keys.dedup();
        assert_eq!(keys.len(), 24);
    }
}
