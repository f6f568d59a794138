//! Hudu asset layouts: `GET /asset_layouts` (`name` exact, fixed 25-row pages),
//! `GET /asset_layouts/{id}`, `POST /asset_layouts` and `PUT /asset_layouts/{id}`.
//!
//! Names are unique (case-insensitively); field types are case-sensitive and one of
//! [`FIELD_TYPES`]. A `PUT` that gives `fields` replaces the list: fields are matched by label,
//! a matched field keeps its id (and the attributes the entry leaves out), the others get new
//! ids, and fields left out are dropped. An asset addresses a field's value by the field's
//! [`snake_key`]. None exist until a client or a test creates them.

use super::{
    count_write, flag, mutex, optional_name, page_start, path_id, required_name, root_object, slug,
    text, ApiError, Body, Params, Reply, WriteKind,
};
use crate::state::State;
use axum::extract::{Path, Query, State as AxState};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Rows per page of `/asset_layouts`.
const LAYOUTS_PAGE: usize = 25;

/// The field types Hudu accepts, spelled exactly so.
pub(crate) const FIELD_TYPES: [&str; 14] = [
    "Text",
    "RichText",
    "Heading",
    "CheckBox",
    "Website",
    "Password",
    "Number",
    "Date",
    "Dropdown",
    "Embed",
    "Email",
    "Phone",
    "AssetTag",
    "ListSelect",
];

/// A field of a Hudu asset layout (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HuduLayoutField {
    /// Field id (unique across layouts).
    pub id: u64,
    /// Label, e.g. `IP Address` (assets give its value as `ip_address`).
    pub label: String,
    /// One of Hudu's field types, e.g. `Text`.
    pub field_type: String,
    /// Display order.
    pub position: u32,
}

/// A Hudu asset layout as stored by the emulator (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HuduLayout {
    /// Layout id (from 1).
    pub id: u64,
    /// Name, unique.
    pub name: String,
    /// Whether it is active.
    pub active: bool,
    /// Fields, by position.
    pub fields: Vec<HuduLayoutField>,
}

/// The key an asset's `custom_fields` give a field's value under: the label lowercased, every
/// character but letters and digits turned into `_` (`IP Address` → `ip_address`).
pub(crate) fn snake_key(label: &str) -> String {
    let mut key = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_alphanumeric() {
            key.extend(c.to_lowercase());
        } else {
            key.push('_');
        }
    }
    key
}

/// A stored layout field.
#[derive(Debug, Clone)]
pub(crate) struct LayoutField {
    /// Field id.
    pub(crate) id: u64,
    /// Label.
    pub(crate) label: String,
    /// Its [`snake_key`].
    pub(crate) key: String,
    /// Field type.
    pub(crate) field_type: String,
    show_in_list: bool,
    /// Whether an asset must give it a value.
    pub(crate) required: bool,
    /// Display order.
    pub(crate) position: u32,
    hint: String,
    options: String,
}

impl LayoutField {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "label": self.label,
            "field_type": self.field_type,
            "show_in_list": self.show_in_list,
            "required": self.required,
            "position": self.position,
            "hint": self.hint,
            "options": self.options,
        })
    }
}

/// A stored layout.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Layout id.
    pub(crate) id: u64,
    /// Name.
    pub(crate) name: String,
    icon: Option<String>,
    color: Option<String>,
    icon_color: Option<String>,
    active: bool,
    include_passwords: bool,
    /// Fields, by position.
    pub(crate) fields: Vec<LayoutField>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Layout {
    /// The field whose [`snake_key`] is `key`.
    pub(crate) fn field_by_key(&self, key: &str) -> Option<&LayoutField> {
        self.fields.iter().find(|f| f.key == key)
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "slug": slug(&self.name, self.id),
            "name": self.name,
            "icon": self.icon,
            "color": self.color,
            "icon_color": self.icon_color,
            "active": self.active,
            "include_passwords": self.include_passwords,
            "fields": self.fields.iter().map(LayoutField::json).collect::<Vec<_>>(),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "updated_at": self.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        })
    }

    fn snapshot(&self) -> HuduLayout {
        HuduLayout {
            id: self.id,
            name: self.name.clone(),
            active: self.active,
            fields: self
                .fields
                .iter()
                .map(|f| HuduLayoutField {
                    id: f.id,
                    label: f.label.clone(),
                    field_type: f.field_type.clone(),
                    position: f.position,
                })
                .collect(),
        }
    }
}

/// One entry of a body's `fields`; `None` = not given.
#[derive(Debug, Clone, Default)]
struct FieldInput {
    label: String,
    field_type: Option<String>,
    show_in_list: Option<bool>,
    required: Option<bool>,
    position: u32,
    hint: Option<String>,
    options: Option<String>,
}

/// A layout body; `None` = not given.
#[derive(Debug, Clone, Default)]
struct LayoutInput {
    name: Option<String>,
    icon: Option<Option<String>>,
    color: Option<Option<String>>,
    icon_color: Option<Option<String>>,
    active: Option<bool>,
    include_passwords: Option<bool>,
    fields: Option<Vec<FieldInput>>,
}

/// Asset layouts by id.
#[derive(Debug, Default)]
pub(crate) struct Layouts {
    by_id: BTreeMap<u64, Layout>,
    next_id: u64,
    next_field_id: u64,
}

impl Layouts {
    /// Layout `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&Layout> {
        self.by_id.get(&id)
    }

    /// Every layout, by id.
    pub(crate) fn snapshot(&self) -> Vec<HuduLayout> {
        self.by_id.values().map(Layout::snapshot).collect()
    }

    fn name_taken(&self, name: &str, except: Option<u64>) -> bool {
        self.by_id
            .values()
            .any(|l| Some(l.id) != except && l.name.eq_ignore_ascii_case(name))
    }

    fn field_id(&mut self) -> u64 {
        let id = self.next_field_id.max(1);
        self.next_field_id = id + 1;
        id
    }

    /// The fields a body's list describes; `old` are the fields they replace (matched by
    /// label). Fails when a new field has no type.
    fn build_fields(
        &mut self,
        input: Vec<FieldInput>,
        old: &[LayoutField],
    ) -> Result<Vec<LayoutField>, ApiError> {
        let mut fields = Vec::with_capacity(input.len());
        for f in input {
            let field = match old.iter().find(|o| o.label == f.label) {
                Some(o) => LayoutField {
                    id: o.id,
                    label: f.label,
                    key: o.key.clone(),
                    field_type: f.field_type.unwrap_or_else(|| o.field_type.clone()),
                    show_in_list: f.show_in_list.unwrap_or(o.show_in_list),
                    required: f.required.unwrap_or(o.required),
                    position: f.position,
                    hint: f.hint.unwrap_or_else(|| o.hint.clone()),
                    options: f.options.unwrap_or_else(|| o.options.clone()),
                },
                None => {
                    let Some(field_type) = f.field_type else {
                        return Err(ApiError::invalid(format!(
                            "Field type can't be blank (field \"{}\")",
                            f.label
                        )));
                    };
                    LayoutField {
                        id: self.field_id(),
                        key: snake_key(&f.label),
                        label: f.label,
                        field_type,
                        show_in_list: f.show_in_list.unwrap_or(false),
                        required: f.required.unwrap_or(false),
                        position: f.position,
                        hint: f.hint.unwrap_or_default(),
                        options: f.options.unwrap_or_default(),
                    }
                }
            };
            fields.push(field);
        }
        fields.sort_by_key(|f| f.position);
        Ok(fields)
    }

    /// Creates a layout from a validated body that has a name; returns its id.
    fn create(&mut self, input: LayoutInput) -> Result<u64, ApiError> {
        let fields = self.build_fields(input.fields.unwrap_or_default(), &[])?;
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        let now = Utc::now();
        let layout = Layout {
            id,
            name: input.name.unwrap_or_default(),
            icon: input.icon.flatten(),
            color: input.color.flatten(),
            icon_color: input.icon_color.flatten(),
            active: input.active.unwrap_or(true),
            include_passwords: input.include_passwords.unwrap_or(false),
            fields,
            created_at: now,
            updated_at: now,
        };
        self.by_id.insert(id, layout);
        Ok(id)
    }

    /// Applies a validated body to layout `id` (which exists).
    fn update(&mut self, id: u64, input: LayoutInput) -> Result<(), ApiError> {
        let old = self
            .by_id
            .get(&id)
            .map(|l| l.fields.clone())
            .ok_or_else(ApiError::not_found)?;
        let fields = match input.fields {
            Some(given) => Some(self.build_fields(given, &old)?),
            None => None,
        };
        let layout = self.by_id.get_mut(&id).ok_or_else(ApiError::not_found)?;
        if let Some(name) = input.name {
            layout.name = name;
        }
        if let Some(icon) = input.icon {
            layout.icon = icon;
        }
        if let Some(color) = input.color {
            layout.color = color;
        }
        if let Some(icon_color) = input.icon_color {
            layout.icon_color = icon_color;
        }
        if let Some(active) = input.active {
            layout.active = active;
        }
        if let Some(include) = input.include_passwords {
            layout.include_passwords = include;
        }
        if let Some(fields) = fields {
            layout.fields = fields;
        }
        layout.updated_at = Utc::now();
        Ok(())
    }

    /// Seeds a layout with fields `(label, field_type)` at positions 1, 2, ... (neither the
    /// name nor the types are checked); returns its id.
    pub(crate) fn create_simple(&mut self, name: &str, fields: &[(&str, &str)]) -> u64 {
        self.create_requiring(name, fields, &[])
    }

    /// Makes the field labelled `label` of layout `id` required or not; false when there is
    /// no such field.
    pub(crate) fn set_required(&mut self, id: u64, label: &str, required: bool) -> bool {
        let Some(field) = self
            .by_id
            .get_mut(&id)
            .and_then(|l| l.fields.iter_mut().find(|f| f.label == label))
        else {
            return false;
        };
        field.required = required;
        true
    }

    /// Like [`Layouts::create_simple`], the fields labelled in `required` required.
    pub(crate) fn create_requiring(
        &mut self,
        name: &str,
        fields: &[(&str, &str)],
        required: &[&str],
    ) -> u64 {
        let input = LayoutInput {
            name: Some(name.to_string()),
            fields: Some(
                fields
                    .iter()
                    .zip(1..)
                    .map(|((label, field_type), position)| FieldInput {
                        label: (*label).to_string(),
                        field_type: Some((*field_type).to_string()),
                        required: Some(required.contains(label)),
                        position,
                        ..FieldInput::default()
                    })
                    .collect(),
            ),
            ..LayoutInput::default()
        };
        // Every field has a type, so this cannot fail.
        self.create(input).unwrap_or_default()
    }
}

/// Reads one entry of `fields`.
fn parse_field(v: &Value, index: usize) -> Result<FieldInput, ApiError> {
    let f = v
        .as_object()
        .ok_or_else(|| ApiError::invalid("Each field must be an object"))?;
    let label = f
        .get("label")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if label.is_empty() {
        return Err(ApiError::invalid("Field label can't be blank"));
    }
    let field_type = match f.get("field_type") {
        None | Some(Value::Null) => None,
        Some(t) => {
            let t = t.as_str().unwrap_or_default();
            if !FIELD_TYPES.contains(&t) {
                return Err(ApiError::invalid(format!(
                    "Field type \"{t}\" of field \"{label}\" is not one of {}",
                    FIELD_TYPES.join(", ")
                )));
            }
            Some(t.to_string())
        }
    };
    let optional_flag = |key: &str| f.get(key).map(|v| flag(key, v)).transpose();
    let position = match f.get("position") {
        None | Some(Value::Null) => u32::try_from(index + 1).unwrap_or(u32::MAX),
        Some(p) => super::number(p)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| {
                ApiError::invalid(format!("Position of field \"{label}\" must be a number"))
            })?,
    };
    let options = match f.get("options") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| text("options", i).map(Option::unwrap_or_default))
                .collect::<Result<Vec<_>, _>>()?
                .join("\n"),
        ),
        Some(v) => Some(text("options", v)?.unwrap_or_default()),
    };
    Ok(FieldInput {
        label: label.to_string(),
        field_type,
        show_in_list: optional_flag("show_in_list")?,
        required: optional_flag("required")?,
        position,
        hint: f
            .get("hint")
            .map(|v| text("hint", v).map(Option::unwrap_or_default))
            .transpose()?,
        options,
    })
}

/// Reads a `{"asset_layout": {...}}` body (`create`: the name is required).
fn parse_layout(l: &Map<String, Value>, create: bool) -> Result<LayoutInput, ApiError> {
    let name = if create {
        Some(required_name(l.get("name"))?)
    } else {
        optional_name(l.get("name"))?
    };
    let optional_text = |key: &str| l.get(key).map(|v| text(key, v)).transpose();
    let optional_flag = |key: &str| l.get(key).map(|v| flag(key, v)).transpose();
    let fields = match l.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let fields = items
                .iter()
                .enumerate()
                .map(|(i, v)| parse_field(v, i))
                .collect::<Result<Vec<_>, _>>()?;
            let mut keys = HashSet::new();
            for f in &fields {
                if !keys.insert(snake_key(&f.label)) {
                    return Err(ApiError::invalid(format!(
                        "Field label \"{}\" is used twice",
                        f.label
                    )));
                }
            }
            Some(fields)
        }
        Some(_) => return Err(ApiError::invalid("fields must be a list")),
    };
    Ok(LayoutInput {
        name,
        icon: optional_text("icon")?,
        color: optional_text("color")?,
        icon_color: optional_text("icon_color")?,
        active: optional_flag("active")?,
        include_passwords: optional_flag("include_passwords")?,
        fields,
    })
}

/// The layout routes (behind the gate of the caller).
pub(super) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/asset_layouts", get(list).post(create))
        .route("/asset_layouts/{id}", get(show).put(update))
}

async fn list(AxState(state): AxState<Arc<State>>, Query(q): Params) -> Json<Value> {
    let name = q.get("name").map(|n| n.trim());
    let start = page_start(&q, LAYOUTS_PAGE);
    let store = mutex(&state.hudu);
    let rows: Vec<Value> = store
        .layouts
        .by_id
        .values()
        .filter(|l| name.is_none_or(|n| l.name == n))
        .skip(start)
        .take(LAYOUTS_PAGE)
        .map(Layout::json)
        .collect();
    Json(json!({"asset_layouts": rows}))
}

fn layout_reply(layouts: &Layouts, id: u64) -> Reply {
    let layout = layouts.get(id).ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({"asset_layout": layout.json()})))
}

async fn show(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Reply {
    let id = path_id(&id)?;
    layout_reply(&mutex(&state.hudu).layouts, id)
}

async fn create(AxState(state): AxState<Arc<State>>, body: Body) -> Reply {
    let l = root_object(body, "asset_layout")?;
    let input = parse_layout(&l, true)?;
    let mut store = mutex(&state.hudu);
    let name = input.name.as_deref().unwrap_or_default();
    if store.layouts.name_taken(name, None) {
        return Err(ApiError::invalid("Name has already been taken"));
    }
    let id = store.layouts.create(input)?;
    count_write(&state, WriteKind::Layout);
    layout_reply(&store.layouts, id)
}

async fn update(AxState(state): AxState<Arc<State>>, Path(id): Path<String>, body: Body) -> Reply {
    let id = path_id(&id)?;
    if mutex(&state.hudu).layouts.get(id).is_none() {
        return Err(ApiError::not_found());
    }
    let l = root_object(body, "asset_layout")?;
    let input = parse_layout(&l, false)?;
    let mut store = mutex(&state.hudu);
    if let Some(name) = input.name.as_deref() {
        if store.layouts.name_taken(name, Some(id)) {
            return Err(ApiError::invalid("Name has already been taken"));
        }
    }
    store.layouts.update(id, input)?;
    count_write(&state, WriteKind::Layout);
    layout_reply(&store.layouts, id)
}
