//! Hudu assets: `GET /assets`, `GET/POST /companies/{id}/assets`,
//! `GET/PUT /companies/{id}/assets/{asset_id}` and `PUT .../archive` / `.../unarchive`
//! (archived assets are Hudu's "museum").
//!
//! Lists filter on `company_id`, `asset_layout_id`, `name` and `primary_serial` (all exact) and
//! `archived` (unarchived only unless `archived=true`, then archived only), and page with
//! `page`/`page_size` (25, at most 100). An asset belongs to one company (a route naming
//! another company answers 404) and one layout; its `custom_fields` are given as
//! `[{"snake_case_label": "value"}, ...]`, each key one of the layout's field labels
//! lowercased with every character but letters and digits turned into `_` (`IP Address` →
//! `ip_address`; another key is a 422 naming it). Values are kept as text. The store keeps an
//! index by company, so listing one company's assets never walks the others.

use super::companies::Companies;
use super::layouts::{Layout, Layouts};
use super::{
    archived_filter, count_write, id_filter, mutex, number, optional_name, page_size, page_start,
    path_id, required_name, root_object, slug, text, ApiError, Body, Params, Reply, WriteKind,
};
use crate::state::State;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Default and maximum `page_size` of the asset lists.
const ASSETS_PAGE: (usize, usize) = (25, 100);

/// The `primary_*` attributes, as Hudu names them.
const PRIMARY: [&str; 4] = [
    "primary_serial",
    "primary_mail",
    "primary_model",
    "primary_manufacturer",
];

/// A Hudu asset as stored by the emulator (a snapshot: see `Sandbox::hudu_assets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HuduAsset {
    /// Asset id (from 1).
    pub id: u64,
    /// Owning company.
    pub company_id: u64,
    /// Its asset layout.
    pub asset_layout_id: u64,
    /// Name.
    pub name: String,
    /// Primary serial number (what integrations match devices on).
    pub primary_serial: Option<String>,
    /// Primary e-mail address.
    pub primary_mail: Option<String>,
    /// Primary model.
    pub primary_model: Option<String>,
    /// Primary manufacturer.
    pub primary_manufacturer: Option<String>,
    /// Whether it is archived.
    pub archived: bool,
    /// Custom field values `(label, value)`, in the layout's field order (fields without a
    /// value left out).
    pub fields: Vec<(String, String)>,
    /// 1 on creation, +1 per update (archiving does not count).
    pub versions: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Asset {
    id: u64,
    company_id: u64,
    layout_id: u64,
    name: String,
    /// Values by [`PRIMARY`] index.
    primary: [Option<String>; PRIMARY.len()],
    archived: bool,
    /// Custom field values by layout field id.
    values: BTreeMap<u64, String>,
    versions: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Asset {
    /// `(field id, label, value, position)` of the fields with a value, in layout order.
    fn fields<'a>(&'a self, layout: Option<&'a Layout>) -> Vec<(u64, &'a str, &'a str, u32)> {
        layout
            .map(|l| l.fields.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| {
                let value = self.values.get(&f.id)?;
                Some((f.id, f.label.as_str(), value.as_str(), f.position))
            })
            .collect()
    }

    fn json(&self, companies: &Companies, layouts: &Layouts, base_url: &str) -> Value {
        let layout = layouts.get(self.layout_id);
        let slug = slug(&self.name, self.id);
        let fields: Vec<Value> = self
            .fields(layout)
            .into_iter()
            .map(|(id, label, value, position)| {
                json!({"id": id, "label": label, "value": value, "position": position})
            })
            .collect();
        let mut v = json!({
            "id": self.id,
            "company_id": self.company_id,
            "company_name": companies.name(self.company_id),
            "asset_layout_id": self.layout_id,
            "asset_type": layout.map(|l| l.name.as_str()),
            "slug": slug,
            "name": self.name,
            "archived": self.archived,
            "fields": fields,
            "object_type": "Asset",
            "url": format!("{base_url}/a/{slug}"),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "updated_at": self.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(map) = v.as_object_mut() {
            for (key, value) in PRIMARY.iter().zip(&self.primary) {
                map.insert((*key).to_string(), json!(value));
            }
        }
        v
    }

    fn snapshot(&self, layouts: &Layouts) -> HuduAsset {
        let [primary_serial, primary_mail, primary_model, primary_manufacturer] =
            self.primary.clone();
        HuduAsset {
            id: self.id,
            company_id: self.company_id,
            asset_layout_id: self.layout_id,
            name: self.name.clone(),
            primary_serial,
            primary_mail,
            primary_model,
            primary_manufacturer,
            archived: self.archived,
            fields: self
                .fields(layouts.get(self.layout_id))
                .into_iter()
                .map(|(_, label, value, _)| (label.to_string(), value.to_string()))
                .collect(),
            versions: self.versions,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// What a list asks for; `Some(None)` is a filter given but not a number (matches nothing).
#[derive(Debug, Clone, Default)]
struct Filter {
    company_id: Option<Option<u64>>,
    layout_id: Option<Option<u64>>,
    name: Option<String>,
    primary_serial: Option<String>,
    archived: bool,
}

impl Filter {
    fn from_query(q: &HashMap<String, String>) -> Self {
        Filter {
            company_id: id_filter(q, "company_id"),
            layout_id: id_filter(q, "asset_layout_id"),
            name: q.get("name").map(|n| n.trim().to_string()),
            primary_serial: q.get("primary_serial").map(|s| s.trim().to_string()),
            archived: archived_filter(q),
        }
    }

    fn matches(&self, a: &Asset) -> bool {
        a.archived == self.archived
            && self.layout_id.is_none_or(|l| l == Some(a.layout_id))
            && self.name.as_deref().is_none_or(|n| a.name == n)
            && self
                .primary_serial
                .as_deref()
                .is_none_or(|s| a.primary[0].as_deref() == Some(s))
    }
}

/// Assets by id, with an index by company.
#[derive(Debug, Default)]
pub(crate) struct Assets {
    by_id: BTreeMap<u64, Asset>,
    by_company: HashMap<u64, BTreeSet<u64>>,
    next_id: u64,
}

impl Assets {
    fn insert(&mut self, mut asset: Asset) -> u64 {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        asset.id = id;
        self.by_company
            .entry(asset.company_id)
            .or_default()
            .insert(id);
        self.by_id.insert(id, asset);
        id
    }

    /// Seeds an asset (ids not checked); returns its id.
    pub(crate) fn create_simple(
        &mut self,
        company_id: u64,
        layout_id: u64,
        name: &str,
        primary_serial: Option<&str>,
    ) -> u64 {
        let now = Utc::now();
        self.insert(Asset {
            id: 0,
            company_id,
            layout_id,
            name: name.to_string(),
            primary: [primary_serial.map(str::to_string), None, None, None],
            archived: false,
            values: BTreeMap::new(),
            versions: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// Every asset, by id.
    pub(crate) fn snapshot(&self, layouts: &Layouts) -> Vec<HuduAsset> {
        self.by_id.values().map(|a| a.snapshot(layouts)).collect()
    }

    /// The page of assets matching `filter`, skipping `start`.
    fn list(&self, filter: &Filter, start: usize, size: usize) -> Vec<&Asset> {
        match filter.company_id {
            Some(None) => Vec::new(),
            Some(Some(company)) => self
                .by_company
                .get(&company)
                .into_iter()
                .flatten()
                .filter_map(|id| self.by_id.get(id))
                .filter(|a| filter.matches(a))
                .skip(start)
                .take(size)
                .collect(),
            None => self
                .by_id
                .values()
                .filter(|a| filter.matches(a))
                .skip(start)
                .take(size)
                .collect(),
        }
    }

    /// Asset `id` if it belongs to `company_id`.
    fn in_company(&self, company_id: u64, id: u64) -> Option<&Asset> {
        self.by_id.get(&id).filter(|a| a.company_id == company_id)
    }

    fn in_company_mut(&mut self, company_id: u64, id: u64) -> Option<&mut Asset> {
        self.by_id
            .get_mut(&id)
            .filter(|a| a.company_id == company_id)
    }
}

/// A `{"asset": {...}}` body; `None` = not given. Custom field keys are resolved later,
/// against the layout the asset ends up with.
#[derive(Debug, Default)]
struct AssetInput {
    name: Option<String>,
    layout_id: Option<u64>,
    primary: Vec<(usize, Option<String>)>,
    custom: Vec<(String, Option<String>)>,
}

/// A custom field value as text: strings as given, numbers and booleans spelled out (a
/// CheckBox takes `"true"`), lists and objects as JSON; `null` clears it.
fn custom_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
            Some(v.to_string())
        }
    }
}

fn parse_asset(a: &Map<String, Value>, create: bool) -> Result<AssetInput, ApiError> {
    let name = if create {
        Some(required_name(a.get("name"))?)
    } else {
        optional_name(a.get("name"))?
    };
    let layout_id = match a.get("asset_layout_id") {
        None if !create => None,
        None | Some(Value::Null) => return Err(ApiError::invalid("Asset layout must exist")),
        Some(v) => Some(number(v).ok_or_else(|| ApiError::invalid("Asset layout must exist"))?),
    };
    let mut primary = Vec::new();
    for (i, key) in PRIMARY.iter().enumerate() {
        if let Some(v) = a.get(*key) {
            primary.push((i, text(key, v)?));
        }
    }
    let mut custom = Vec::new();
    let mut take = |o: &Map<String, Value>| {
        for (k, v) in o {
            custom.push((k.clone(), custom_value(v)));
        }
    };
    match a.get("custom_fields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => take(o),
        Some(Value::Array(items)) => {
            for item in items {
                let o = item
                    .as_object()
                    .ok_or_else(|| ApiError::invalid("custom_fields must be a list of objects"))?;
                take(o);
            }
        }
        Some(_) => return Err(ApiError::invalid("custom_fields must be a list of objects")),
    }
    Ok(AssetInput {
        name,
        layout_id,
        primary,
        custom,
    })
}

/// Resolves custom field keys against `layout`: `(field id, value)`, or a 422 naming the
/// first unknown key, or a required field given a blank value.
fn resolve_custom(
    layout: &Layout,
    custom: Vec<(String, Option<String>)>,
) -> Result<Vec<(u64, Option<String>)>, ApiError> {
    let mut out = Vec::with_capacity(custom.len());
    for (key, value) in custom {
        let field = layout.field_by_key(&key).ok_or_else(|| {
            ApiError::invalid(format!(
                "Unknown custom field \"{key}\" for asset layout \"{}\"",
                layout.name
            ))
        })?;
        let blank = value.as_deref().is_none_or(|v| v.trim().is_empty());
        if field.required && blank {
            return Err(ApiError::invalid(format!("{} can't be blank", field.label)));
        }
        out.push((field.id, value));
    }
    Ok(out)
}

fn apply_custom(values: &mut BTreeMap<u64, String>, resolved: Vec<(u64, Option<String>)>) {
    for (id, value) in resolved {
        match value {
            Some(v) => values.insert(id, v),
            None => values.remove(&id),
        };
    }
}

/// The asset routes (behind the gate of the caller).
pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/assets", get(list_all))
        .route("/companies/{id}/assets", get(list_company).post(create))
        .route("/companies/{id}/assets/{asset_id}", get(show).put(update))
        .route("/companies/{id}/assets/{asset_id}/archive", put(archive))
        .route(
            "/companies/{id}/assets/{asset_id}/unarchive",
            put(unarchive),
        )
}

fn list_reply(state: &State, q: &HashMap<String, String>, filter: &Filter) -> Json<Value> {
    let size = page_size(q, ASSETS_PAGE.0, ASSETS_PAGE.1);
    let start = page_start(q, size);
    let store = mutex(&state.hudu);
    let rows: Vec<Value> = store
        .assets
        .list(filter, start, size)
        .into_iter()
        .map(|a| a.json(&store.companies, &store.layouts, &state.hudu_url))
        .collect();
    Json(json!({"assets": rows}))
}

fn asset_reply(state: &State, company_id: u64, id: u64) -> Reply {
    let store = mutex(&state.hudu);
    let asset = store
        .assets
        .in_company(company_id, id)
        .ok_or_else(ApiError::not_found)?;
    let json = asset.json(&store.companies, &store.layouts, &state.hudu_url);
    Ok(Json(json!({"asset": json})))
}

/// The company of a path, which must exist (archived or not).
fn company_of(state: &State, raw: &str) -> Result<u64, ApiError> {
    let id = path_id(raw)?;
    if mutex(&state.hudu).companies.exists(id) {
        Ok(id)
    } else {
        Err(ApiError::not_found())
    }
}

async fn list_all(AxState(state): AxState<Arc<State>>, Query(q): Params) -> Json<Value> {
    list_reply(&state, &q, &Filter::from_query(&q))
}

async fn list_company(
    AxState(state): AxState<Arc<State>>,
    Path(company): Path<String>,
    Query(q): Params,
) -> Reply {
    let company = company_of(&state, &company)?;
    let filter = Filter {
        company_id: Some(Some(company)),
        ..Filter::from_query(&q)
    };
    Ok(list_reply(&state, &q, &filter))
}

async fn show(
    AxState(state): AxState<Arc<State>>,
    Path((company, id)): Path<(String, String)>,
) -> Reply {
    let company = company_of(&state, &company)?;
    asset_reply(&state, company, path_id(&id)?)
}

async fn create(
    AxState(state): AxState<Arc<State>>,
    Path(company): Path<String>,
    body: Body,
) -> Reply {
    let company_id = company_of(&state, &company)?;
    let input = parse_asset(&root_object(body, "asset")?, true)?;
    let layout_id = input.layout_id.unwrap_or_default();
    let mut guard = mutex(&state.hudu);
    let store = &mut *guard;
    let layout = store
        .layouts
        .get(layout_id)
        .ok_or_else(|| ApiError::invalid("Asset layout must exist"))?;
    let resolved = resolve_custom(layout, input.custom)?;
    let mut values = BTreeMap::new();
    apply_custom(&mut values, resolved);
    if let Some(missing) = layout
        .fields
        .iter()
        .find(|f| f.required && f.field_type != "Heading" && !values.contains_key(&f.id))
    {
        return Err(ApiError::invalid(format!(
            "{} can't be blank",
            missing.label
        )));
    }
    let mut primary: [Option<String>; PRIMARY.len()] = Default::default();
    for (i, value) in input.primary {
        primary[i] = value;
    }
    let now = Utc::now();
    let id = store.assets.insert(Asset {
        id: 0,
        company_id,
        layout_id,
        name: input.name.unwrap_or_default(),
        primary,
        archived: false,
        values,
        versions: 1,
        created_at: now,
        updated_at: now,
    });
    count_write(&state, WriteKind::Asset);
    drop(guard);
    asset_reply(&state, company_id, id)
}

async fn update(
    AxState(state): AxState<Arc<State>>,
    Path((company, id)): Path<(String, String)>,
    body: Body,
) -> Reply {
    let company_id = company_of(&state, &company)?;
    let id = path_id(&id)?;
    if mutex(&state.hudu)
        .assets
        .in_company(company_id, id)
        .is_none()
    {
        return Err(ApiError::not_found());
    }
    let input = parse_asset(&root_object(body, "asset")?, false)?;
    let mut guard = mutex(&state.hudu);
    let store = &mut *guard;
    let current = store
        .assets
        .in_company(company_id, id)
        .ok_or_else(ApiError::not_found)?
        .layout_id;
    let layout_id = input.layout_id.unwrap_or(current);
    let layout = store
        .layouts
        .get(layout_id)
        .ok_or_else(|| ApiError::invalid("Asset layout must exist"))?;
    let resolved = resolve_custom(layout, input.custom)?;
    let asset = store
        .assets
        .in_company_mut(company_id, id)
        .ok_or_else(ApiError::not_found)?;
    if let Some(name) = input.name {
        asset.name = name;
    }
    asset.layout_id = layout_id;
    for (i, value) in input.primary {
        asset.primary[i] = value;
    }
    apply_custom(&mut asset.values, resolved);
    asset.versions += 1;
    asset.updated_at = Utc::now();
    count_write(&state, WriteKind::Asset);
    drop(guard);
    asset_reply(&state, company_id, id)
}

fn set_archived(state: &State, company: &str, id: &str, archived: bool) -> Reply {
    let company_id = company_of(state, company)?;
    let id = path_id(id)?;
    {
        let mut store = mutex(&state.hudu);
        let asset = store
            .assets
            .in_company_mut(company_id, id)
            .ok_or_else(ApiError::not_found)?;
        asset.archived = archived;
        asset.updated_at = Utc::now();
    }
    count_write(state, WriteKind::Asset);
    asset_reply(state, company_id, id)
}

async fn archive(
    AxState(state): AxState<Arc<State>>,
    Path((company, id)): Path<(String, String)>,
) -> Reply {
    set_archived(&state, &company, &id, true)
}

async fn unarchive(
    AxState(state): AxState<Arc<State>>,
    Path((company, id)): Path<(String, String)>,
) -> Reply {
    set_archived(&state, &company, &id, false)
}
