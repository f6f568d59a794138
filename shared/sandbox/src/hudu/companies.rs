//! Hudu companies: seeded with the synthetic companies `1..=hudu_companies` (named by
//! [`hudu_company_name`], with the JSON the emulator always answered), then created, updated,
//! archived and unarchived over the API. `GET /companies` lists unarchived companies unless
//! `archived=true` (then archived ones only), filters on `name`/`search` (case-insensitive
//! substring) and `id_number` (exact), and pages with `page`/`page_size` (25, at most 100).

use super::{
    archived_filter, count_write, mutex, optional_name, page_size, page_start, path_id,
    required_name, root_object, slug, text, ApiError, Body, Params, Reply, WriteKind,
};
use crate::fixtures::hudu_company_name;
use crate::state::State;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default and maximum `page_size` of `/companies`.
const COMPANIES_PAGE: (usize, usize) = (25, 100);

/// The text attributes a company body may set (besides `name`), as Hudu names them.
const TEXT_FIELDS: [&str; 13] = [
    "nickname",
    "company_type",
    "id_number",
    "address_line_1",
    "address_line_2",
    "city",
    "state",
    "zip",
    "country_name",
    "phone_number",
    "fax_number",
    "website",
    "notes",
];

/// A Hudu company as stored by the emulator (a snapshot: see `Sandbox::hudu_companies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HuduCompany {
    /// Company id: the synthetic ones are `1..=hudu_companies`, created ones follow.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Whether it is archived.
    pub archived: bool,
    /// First address line.
    pub address_line_1: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postcode.
    pub zip: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// The "ID number" (often the PSA's company identifier).
    pub id_number: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Company {
    id: u64,
    name: String,
    /// Values by [`TEXT_FIELDS`] index.
    text: [Option<String>; TEXT_FIELDS.len()],
    archived: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Company {
    fn get(&self, key: &str) -> Option<&str> {
        let i = TEXT_FIELDS.iter().position(|k| *k == key)?;
        self.text[i].as_deref()
    }

    fn snapshot(&self) -> HuduCompany {
        let get = |key| self.get(key).map(str::to_string);
        HuduCompany {
            id: self.id,
            name: self.name.clone(),
            archived: self.archived,
            address_line_1: get("address_line_1"),
            city: get("city"),
            state: get("state"),
            zip: get("zip"),
            phone_number: get("phone_number"),
            website: get("website"),
            id_number: get("id_number"),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn json(&self, base_url: &str) -> Value {
        let slug = slug(&self.name, self.id);
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "slug": slug,
            "parent_company_id": null,
            "parent_company_name": null,
            "archived": self.archived,
            "object_type": "Company",
            "url": format!("/c/{slug}"),
            "full_url": format!("{base_url}/c/{slug}"),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "updated_at": self.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(map) = v.as_object_mut() {
            for (key, value) in TEXT_FIELDS.iter().zip(&self.text) {
                map.insert((*key).to_string(), json!(value));
            }
        }
        v
    }
}

/// The text attributes a body gave: `(TEXT_FIELDS index, value)`.
type TextChanges = Vec<(usize, Option<String>)>;

/// Companies by id.
#[derive(Debug, Default)]
pub(crate) struct Companies {
    by_id: BTreeMap<u64, Company>,
    next_id: u64,
}

impl Companies {
    /// The synthetic companies `1..=count`, as the emulator always answered them.
    pub(crate) fn seeded(count: usize) -> Self {
        let created = Utc.with_ymd_and_hms(2022, 7, 1, 0, 0, 0).single();
        let updated = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).single();
        let (created, updated) = (created.unwrap_or_default(), updated.unwrap_or_default());
        let mut by_id = BTreeMap::new();
        for id in 1..=count as u64 {
            let mut text: [Option<String>; TEXT_FIELDS.len()] = Default::default();
            let mut set = |key: &str, value: String| {
                if let Some(i) = TEXT_FIELDS.iter().position(|k| *k == key) {
                    text[i] = Some(value);
                }
            };
            set("company_type", "Customer".into());
            set("id_number", format!("C{id:05}"));
            set("address_line_1", format!("{} Collins Street", id + 10));
            set("city", "Melbourne".into());
            set("state", "VIC".into());
            set("zip", "3000".into());
            set("country_name", "Australia".into());
            set("phone_number", format!("+61 3 9000 {id:04}"));
            set("notes", String::new());
            let company = Company {
                id,
                name: hudu_company_name(id),
                text,
                archived: false,
                created_at: created,
                updated_at: updated,
            };
            by_id.insert(id, company);
        }
        Companies {
            by_id,
            next_id: count as u64 + 1,
        }
    }

    /// Whether company `id` exists (archived or not).
    pub(crate) fn exists(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The name of company `id`.
    pub(crate) fn name(&self, id: u64) -> Option<&str> {
        self.by_id.get(&id).map(|c| c.name.as_str())
    }

    /// Creates a company; returns its id.
    fn create(&mut self, name: String, changes: TextChanges) -> u64 {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        let now = Utc::now();
        let mut company = Company {
            id,
            name,
            text: Default::default(),
            archived: false,
            created_at: now,
            updated_at: now,
        };
        for (i, value) in changes {
            company.text[i] = value;
        }
        self.by_id.insert(id, company);
        id
    }

    /// Seeds a company with only a name; returns its id.
    pub(crate) fn create_named(&mut self, name: &str) -> u64 {
        self.create(name.to_string(), Vec::new())
    }

    /// Applies the given attributes; false when `id` is unknown.
    fn update(&mut self, id: u64, name: Option<String>, changes: TextChanges) -> bool {
        let Some(company) = self.by_id.get_mut(&id) else {
            return false;
        };
        if let Some(name) = name {
            company.name = name;
        }
        for (i, value) in changes {
            company.text[i] = value;
        }
        company.updated_at = Utc::now();
        true
    }

    /// Archives or unarchives `id`; false when unknown.
    fn set_archived(&mut self, id: u64, archived: bool) -> bool {
        let Some(company) = self.by_id.get_mut(&id) else {
            return false;
        };
        company.archived = archived;
        company.updated_at = Utc::now();
        true
    }

    fn json(&self, id: u64, base_url: &str) -> Option<Value> {
        self.by_id.get(&id).map(|c| c.json(base_url))
    }

    /// Every company, by id.
    pub(crate) fn snapshot(&self) -> Vec<HuduCompany> {
        self.by_id.values().map(Company::snapshot).collect()
    }
}

/// Reads the attributes of a `{"company": {...}}` body.
fn parse_company(c: &Map<String, Value>) -> Result<(Option<String>, TextChanges), ApiError> {
    let name = optional_name(c.get("name"))?;
    let mut changes = Vec::new();
    for (i, key) in TEXT_FIELDS.iter().enumerate() {
        if let Some(v) = c.get(*key) {
            changes.push((i, text(key, v)?));
        }
    }
    Ok((name, changes))
}

/// The company routes (behind the gate of the caller).
pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/companies", get(list).post(create))
        .route("/companies/{id}", get(show).put(update))
        .route("/companies/{id}/archive", put(archive))
        .route("/companies/{id}/unarchive", put(unarchive))
}

async fn list(AxState(state): AxState<Arc<State>>, Query(q): Params) -> Json<Value> {
    let needle = q
        .get("name")
        .or_else(|| q.get("search"))
        .map(|n| n.to_lowercase());
    let id_number = q.get("id_number").map(|n| n.trim());
    let archived = archived_filter(&q);
    let size = page_size(&q, COMPANIES_PAGE.0, COMPANIES_PAGE.1);
    let start = page_start(&q, size);
    let store = mutex(&state.hudu);
    let rows: Vec<Value> = store
        .companies
        .by_id
        .values()
        .filter(|c| c.archived == archived)
        .filter(|c| id_number.is_none_or(|n| c.get("id_number") == Some(n)))
        .filter(|c| {
            needle
                .as_deref()
                .is_none_or(|n| c.name.to_lowercase().contains(n))
        })
        .skip(start)
        .take(size)
        .map(|c| c.json(&state.hudu_url))
        .collect();
    Json(json!({"companies": rows}))
}

async fn show(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Reply {
    let id = path_id(&id)?;
    let company = mutex(&state.hudu).companies.json(id, &state.hudu_url);
    company
        .map(|c| Json(json!({"company": c})))
        .ok_or_else(ApiError::not_found)
}

async fn create(AxState(state): AxState<Arc<State>>, body: Body) -> Reply {
    let c = root_object(body, "company")?;
    let name = required_name(c.get("name"))?;
    let (_, changes) = parse_company(&c)?;
    let mut store = mutex(&state.hudu);
    let id = store.companies.create(name, changes);
    count_write(&state, WriteKind::Company);
    Ok(Json(
        json!({"company": store.companies.json(id, &state.hudu_url)}),
    ))
}

async fn update(AxState(state): AxState<Arc<State>>, Path(id): Path<String>, body: Body) -> Reply {
    let id = path_id(&id)?;
    if !mutex(&state.hudu).companies.exists(id) {
        return Err(ApiError::not_found());
    }
    let c = root_object(body, "company")?;
    let (name, changes) = parse_company(&c)?;
    let mut store = mutex(&state.hudu);
    if !store.companies.update(id, name, changes) {
        return Err(ApiError::not_found());
    }
    count_write(&state, WriteKind::Company);
    Ok(Json(
        json!({"company": store.companies.json(id, &state.hudu_url)}),
    ))
}

fn set_archived(state: &State, id: &str, archived: bool) -> Reply {
    let id = path_id(id)?;
    let mut store = mutex(&state.hudu);
    if !store.companies.set_archived(id, archived) {
        return Err(ApiError::not_found());
    }
    count_write(state, WriteKind::Company);
    Ok(Json(
        json!({"company": store.companies.json(id, &state.hudu_url)}),
    ))
}

async fn archive(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Reply {
    set_archived(&state, &id, true)
}

async fn unarchive(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Reply {
    set_archived(&state, &id, false)
}
