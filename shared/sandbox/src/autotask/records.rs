//! The synthetic Autotask records and the fields of every entity.
//!
//! Records are shaped as Autotask's REST API answers them: camelCase fields, every field of the
//! entity present (`null` when it has no value), references as plain ids (`companyID`,
//! `companyLocationID`, `configurationItemCategoryID`), datetimes in UTC with milliseconds
//! (`2026-01-01T00:00:00.000Z`). Contacts' `isActive` is an integer (1 / 0), everywhere else it
//! is a boolean, as on the real service.
//!
//! The fixtures, for `companies = c`, `contacts_per_company = n`,
//! `configuration_items_per_company = m`, `locations_per_company = l` (company `k` is `0..c`):
//!
//! - company `k` has id `500 + k`; even `k` take the name of Hudu company `k + 1`, odd `k` a
//!   name of their own ("Great Lakes Freight 1", ...); company `k = 1` is a Lead
//!   (`companyType` 2), every other one a Customer (1); the last company is inactive.
//! - its locations have ids `2000 + k·l + j`: the first is "Main" (`isPrimary`), the others
//!   "Branch j"; all active.
//! - its contacts have ids `30000 + k·n + j`; the last contact of a company is inactive
//!   (`isActive: 0`) when the company has at least two, every other one is active (1).
//!   Contacts and configuration items point at the company's first location (`null` when
//!   `l = 0`).
//! - its configuration items have ids `70000 + k·m + j`, categories in turn Server (102),
//!   Workstation (101), Network Device (103), Printer (104) by `j % 4`, `configurationItemType`
//!   1 for even `j` and 2 for odd `j` (a picklist unrelated to the categories); the last item
//!   of each company is inactive.
//! - the configuration item categories are 101 Workstation, 102 Server, 103 Network Device and
//!   104 Printer, all active.
//!
//! Every fixture record was last modified at [`FIXTURE_MODIFIED`].

use crate::fixtures::hudu_company_name;
use crate::{AtEntity, AutotaskConfig};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

/// The last-modified time of every fixture record (a fixed time in the past).
pub(crate) const FIXTURE_MODIFIED: &str = "2026-01-01T00:00:00.000Z";
/// The creation time of every fixture record.
const FIXTURE_CREATED: &str = "2025-06-01T00:00:00.000Z";

/// The id of company `k = 0`.
pub(crate) const FIRST_COMPANY_ID: u64 = 500;
/// The first company location id.
pub(crate) const FIRST_LOCATION_ID: u64 = 2000;
/// The first contact id.
pub(crate) const FIRST_CONTACT_ID: u64 = 30_000;
/// The first configuration item id.
pub(crate) const FIRST_CONFIGURATION_ITEM_ID: u64 = 70_000;
/// The first configuration item category id.
pub(crate) const FIRST_CATEGORY_ID: u64 = 101;

/// The data type of a field, which decides how filter values are read and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A whole number (ids, picklists, Contacts' `isActive`).
    Integer,
    /// `true` / `false`.
    Boolean,
    /// Text, compared ignoring case (SQL Server's collation).
    Text,
    /// An ISO-8601 UTC datetime.
    DateTime,
}

use Kind::{Boolean, DateTime as Date, Integer, Text};

const COMPANY: &[(&str, Kind)] = &[
    ("id", Integer),
    ("companyName", Text),
    ("companyNumber", Text),
    ("companyType", Integer),
    ("isActive", Boolean),
    ("phone", Text),
    ("fax", Text),
    ("webAddress", Text),
    ("address1", Text),
    ("address2", Text),
    ("city", Text),
    ("state", Text),
    ("postalCode", Text),
    ("countryID", Integer),
    ("parentCompanyID", Integer),
    ("ownerResourceID", Integer),
    ("createDate", Date),
    ("lastTrackedModifiedDateTime", Date),
];

const CONTACT: &[(&str, Kind)] = &[
    ("id", Integer),
    ("companyID", Integer),
    ("firstName", Text),
    ("lastName", Text),
    ("emailAddress", Text),
    ("emailAddress2", Text),
    ("phone", Text),
    ("mobilePhone", Text),
    ("title", Text),
    ("isActive", Integer),
    ("primaryContact", Boolean),
    ("companyLocationID", Integer),
    ("createDate", Date),
    ("lastModifiedDate", Date),
];

const CONFIGURATION_ITEM: &[(&str, Kind)] = &[
    ("id", Integer),
    ("companyID", Integer),
    ("referenceTitle", Text),
    ("referenceNumber", Text),
    ("serialNumber", Text),
    ("configurationItemCategoryID", Integer),
    ("configurationItemType", Integer),
    ("productID", Integer),
    ("isActive", Boolean),
    ("companyLocationID", Integer),
    ("installDate", Date),
    ("warrantyExpirationDate", Date),
    ("location", Text),
    ("notes", Text),
    ("createDate", Date),
    ("lastModifiedTime", Date),
];

const CATEGORY: &[(&str, Kind)] = &[("id", Integer), ("name", Text), ("isActive", Boolean)];

const LOCATION: &[(&str, Kind)] = &[
    ("id", Integer),
    ("companyID", Integer),
    ("name", Text),
    ("description", Text),
    ("address1", Text),
    ("address2", Text),
    ("city", Text),
    ("state", Text),
    ("postalCode", Text),
    ("countryID", Integer),
    ("phone", Text),
    ("isActive", Boolean),
    ("isPrimary", Boolean),
];

/// Every field of `entity`, with its type, in display order.
pub(crate) fn fields(entity: AtEntity) -> &'static [(&'static str, Kind)] {
    match entity {
        AtEntity::Company => COMPANY,
        AtEntity::Contact => CONTACT,
        AtEntity::ConfigurationItem => CONFIGURATION_ITEM,
        AtEntity::ConfigurationItemCategory => CATEGORY,
        AtEntity::CompanyLocation => LOCATION,
    }
}

/// The field of `entity` named `name` (ignoring case): its canonical name and type.
pub(crate) fn field(entity: AtEntity, name: &str) -> Option<(&'static str, Kind)> {
    fields(entity)
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(name.trim()))
        .copied()
}

/// The field a mutation stamps with the current time, if the entity has one.
pub(crate) fn modified_field(entity: AtEntity) -> Option<&'static str> {
    match entity {
        AtEntity::Company => Some("lastTrackedModifiedDateTime"),
        AtEntity::Contact => Some("lastModifiedDate"),
        AtEntity::ConfigurationItem => Some("lastModifiedTime"),
        AtEntity::ConfigurationItemCategory | AtEntity::CompanyLocation => None,
    }
}

/// A datetime as the API writes it: `2026-01-01T00:00:00.000Z`.
pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads a datetime: RFC 3339, a date-time without offset (taken as UTC), or a date.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// `value` made to fit a field of `kind` where the intent is plain: booleans for boolean fields
/// given 1 / 0 or `"true"`, 1 / 0 for integer fields given a boolean, numbers for numeric text.
pub(crate) fn normalize(kind: Kind, value: &Value) -> Value {
    match (kind, value) {
        (Boolean, Value::Number(n)) => Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        (Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (Integer, Value::Bool(b)) => json!(u8::from(*b)),
        (Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_or_else(|_| value.clone(), |n| json!(n)),
        _ => value.clone(),
    }
}

/// A record of `entity` with every field `null`.
pub(crate) fn blank(entity: AtEntity) -> Map<String, Value> {
    fields(entity)
        .iter()
        .map(|(f, _)| ((*f).to_string(), Value::Null))
        .collect()
}

/// The values a record inserted through the mutation API starts from (then the given record is
/// applied over them).
pub(crate) fn defaults(entity: AtEntity) -> Map<String, Value> {
    let mut r = blank(entity);
    let set: &[(&str, Value)] = match entity {
        AtEntity::Company => &[("companyType", json!(1)), ("isActive", json!(true))],
        AtEntity::Contact => &[("isActive", json!(1)), ("primaryContact", json!(false))],
        AtEntity::ConfigurationItem => &[("isActive", json!(true))],
        AtEntity::ConfigurationItemCategory => &[("isActive", json!(true))],
        AtEntity::CompanyLocation => &[("isActive", json!(true)), ("isPrimary", json!(false))],
    };
    for (k, v) in set {
        r.insert((*k).to_string(), v.clone());
    }
    r
}

/// Names of the odd companies (a number follows), none of them a Hudu company's.
const OTHER_NAMES: [&str; 8] = [
    "Great Lakes Freight",
    "Hilltop Veterinary",
    "Ironbridge Surveyors",
    "Juniper Dental",
    "Kestrel Aviation",
    "Lakeside Physio",
    "Marlow Joinery",
    "Nettlefield Farms",
];
const FIRST: [&str; 10] = [
    "Alex", "Blake", "Cameron", "Dana", "Elliot", "Finley", "Gray", "Hayden", "Indigo", "Jamie",
];
const LAST: [&str; 10] = [
    "Anders", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Hughes", "Ivanova",
    "Jensen",
];
const TITLES: [&str; 4] = [
    "IT Manager",
    "Office Manager",
    "Chief Financial Officer",
    "Owner",
];

/// Per `j % 4`: category id and the name prefix of a configuration item.
const CI_KINDS: [(u64, &str); 4] = [(102, "SRV"), (101, "WKS"), (103, "FW"), (104, "PRN")];

/// The name of company `k`: Hudu company `k + 1`'s for even `k`, another one for odd `k`.
pub(crate) fn company_name(k: usize) -> String {
    if k.is_multiple_of(2) {
        hudu_company_name(k as u64 + 1)
    } else {
        format!("{} {k}", OTHER_NAMES[(k / 2) % OTHER_NAMES.len()])
    }
}

/// The name's letters, lowercased (for web and e-mail domains).
fn slug(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn company(k: usize, companies: usize) -> Value {
    let name = company_name(k);
    let id = FIRST_COMPANY_ID + k as u64;
    json!({
        "id": id,
        "companyName": name,
        "companyNumber": format!("AT{id}"),
        "companyType": if k == 1 { 2 } else { 1 },
        "isActive": k + 1 != companies,
        "phone": format!("(813) 555-{:04}", k % 10_000),
        "fax": null,
        "webAddress": format!("www.{}.example.com", slug(&name)),
        "address1": format!("{} Kennedy Boulevard", 100 + k),
        "address2": if k % 3 == 2 { json!(format!("Suite {}", 200 + k)) } else { Value::Null },
        "city": "Tampa",
        "state": "FL",
        "postalCode": format!("336{:02}", k % 100),
        "countryID": 237,
        "parentCompanyID": null,
        "ownerResourceID": 29_682_885,
        "createDate": FIXTURE_CREATED,
        "lastTrackedModifiedDateTime": FIXTURE_MODIFIED,
    })
}

fn location(id: u64, company_id: u64, j: usize) -> Value {
    json!({
        "id": id,
        "companyID": company_id,
        "name": if j == 0 { "Main".to_string() } else { format!("Branch {j}") },
        "description": null,
        "address1": format!("{} Harbour Street", 10 + id % 1000),
        "address2": null,
        "city": "Tampa",
        "state": "FL",
        "postalCode": "33602",
        "countryID": 237,
        "phone": format!("(813) 556-{:04}", id % 10_000),
        "isActive": true,
        "isPrimary": j == 0,
    })
}

fn contact(id: u64, company: &Value, location: Option<u64>, j: usize, n: usize) -> Value {
    let i = usize::try_from(id).unwrap_or_default();
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len() + j) % LAST.len()];
    let domain = format!(
        "{}.example.com",
        slug(company["companyName"].as_str().unwrap_or("company"))
    );
    json!({
        "id": id,
        "companyID": company["id"],
        "firstName": first,
        "lastName": last,
        "emailAddress": format!("{}.{}@{domain}", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
        "emailAddress2": null,
        "phone": format!("(813) 557-{:04}", id % 10_000),
        "mobilePhone": if j % 2 == 1 { json!(format!("(813) 558-{:04}", id % 10_000)) } else { Value::Null },
        "title": TITLES[j % TITLES.len()],
        "isActive": if n > 1 && j + 1 == n { 0 } else { 1 },
        "primaryContact": j == 0,
        "companyLocationID": location,
        "createDate": FIXTURE_CREATED,
        "lastModifiedDate": FIXTURE_MODIFIED,
    })
}

fn configuration_item(
    id: u64,
    company: &Value,
    location: Option<u64>,
    j: usize,
    m: usize,
) -> Value {
    let (category, prefix) = CI_KINDS[j % CI_KINDS.len()];
    let k = company["id"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(FIRST_COMPANY_ID);
    let letters: String = company["companyName"]
        .as_str()
        .unwrap_or("CI")
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(10)
        .collect::<String>()
        .to_ascii_uppercase();
    json!({
        "id": id,
        "companyID": company["id"],
        "referenceTitle": format!("{letters}{k}-{prefix}{:02}", j + 1),
        "referenceNumber": format!("REF-{id}"),
        "serialNumber": format!("SN-AT-{id}"),
        "configurationItemCategoryID": category,
        "configurationItemType": j % 2 + 1,
        "productID": j % CI_KINDS.len() + 1,
        "isActive": j + 1 != m,
        "companyLocationID": location,
        "installDate": "2025-03-01T00:00:00.000Z",
        "warrantyExpirationDate": "2028-03-01T00:00:00.000Z",
        "location": null,
        "notes": null,
        "createDate": FIXTURE_CREATED,
        "lastModifiedTime": FIXTURE_MODIFIED,
    })
}

/// The configuration item categories.
fn categories() -> Vec<Value> {
    ["Workstation", "Server", "Network Device", "Printer"]
        .iter()
        .enumerate()
        .map(
            |(i, name)| json!({"id": FIRST_CATEGORY_ID + i as u64, "name": name, "isActive": true}),
        )
        .collect()
}

/// Every fixture record of `config`, per entity in [`AtEntity::ALL`] order.
pub(crate) fn generate(config: &AutotaskConfig) -> [Vec<Value>; 5] {
    let mut out: [Vec<Value>; 5] = Default::default();
    let (n, m, l) = (
        config.contacts_per_company,
        config.configuration_items_per_company,
        config.locations_per_company,
    );
    let (mut location_id, mut contact_id, mut ci_id) = (
        FIRST_LOCATION_ID,
        FIRST_CONTACT_ID,
        FIRST_CONFIGURATION_ITEM_ID,
    );
    for k in 0..config.companies {
        let c = company(k, config.companies);
        let company_id = FIRST_COMPANY_ID + k as u64;
        let main = (l > 0).then_some(location_id);
        for j in 0..l {
            out[AtEntity::CompanyLocation.index()].push(location(location_id, company_id, j));
            location_id += 1;
        }
        for j in 0..n {
            out[AtEntity::Contact.index()].push(contact(contact_id, &c, main, j, n));
            contact_id += 1;
        }
        for j in 0..m {
            out[AtEntity::ConfigurationItem.index()]
                .push(configuration_item(ci_id, &c, main, j, m));
            ci_id += 1;
        }
        out[AtEntity::Company.index()].push(c);
    }
    out[AtEntity::ConfigurationItemCategory.index()] = categories();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_follow_the_configuration() {
        let all = generate(&AutotaskConfig::default());
        let [companies, contacts, items, categories, locations] = &all;
        assert_eq!(companies.len(), 6);
        assert_eq!(companies[0]["id"], 500);
        assert_eq!(companies[0]["companyName"], hudu_company_name(1).as_str());
        assert_eq!(companies[1]["companyName"], "Great Lakes Freight 1");
        assert_eq!(companies[1]["companyType"], 2);
        assert_eq!(companies[5]["isActive"], false);
        assert_eq!(companies[4]["isActive"], true);
        assert_eq!(contacts.len(), 18);
        assert_eq!(contacts[0]["id"], 30_000);
        assert_eq!(contacts[2]["isActive"], 0);
        assert_eq!(contacts[1]["isActive"], 1);
        assert_eq!(contacts[3]["companyID"], 501);
        assert_eq!(items.len(), 24);
        assert_eq!(items[0]["configurationItemCategoryID"], 102);
        assert_eq!(items[1]["configurationItemCategoryID"], 101);
        assert_eq!(items[3]["isActive"], false);
        assert_eq!(items[2]["isActive"], true);
        assert_eq!(items[4]["companyID"], 501);
        assert_eq!(categories.len(), 4);
        assert_eq!(categories[1]["name"], "Server");
        assert_eq!(locations.len(), 6);
        assert_eq!(locations[1]["companyID"], 501);
        assert_eq!(contacts[3]["companyLocationID"], locations[1]["id"]);
        for (entity, records) in AtEntity::ALL.iter().zip(all.iter()) {
            for r in records {
                let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
                assert_eq!(keys.len(), fields(*entity).len(), "{entity:?} {r}");
            }
        }
    }

    #[test]
    fn values_are_normalized_to_their_kind() {
        assert_eq!(normalize(Boolean, &json!(0)), json!(false));
        assert_eq!(normalize(Boolean, &json!("TRUE")), json!(true));
        assert_eq!(normalize(Integer, &json!(true)), json!(1));
        assert_eq!(normalize(Integer, &json!("12")), json!(12));
        assert_eq!(normalize(Text, &json!(3)), json!(3));
        assert_eq!(
            parse_datetime("2026-01-01T00:00:00.000Z"),
            parse_datetime("2026-01-01")
        );
        assert_eq!(
            stamp(parse_datetime("2026-01-01").unwrap()),
            FIXTURE_MODIFIED
        );
    }
}
