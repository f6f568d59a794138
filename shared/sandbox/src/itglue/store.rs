//! One IT Glue account's data: flexible asset types with their fields, flexible assets with
//! their traits, the validation IT Glue applies to writes (answered as 422 details with JSON
//! pointers into the request document), and the JSON:API resources it serves.

use crate::fixtures::hudu_company_name;
use crate::{ItGlueAsset, ItGlueAssetType, ItGlueField};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

/// A JSON object.
type Object = Map<String, Value>;

/// The field kinds IT Glue knows (case-sensitive).
pub(crate) const KINDS: [&str; 11] = [
    "Checkbox", "Date", "Header", "Number", "Select", "Text", "Textbox", "Upload", "Tag",
    "Percent", "Password",
];

/// First ids handed out, in distinct ranges so a client mixing them up notices.
const FIRST_TYPE_ID: u64 = 101;
const FIRST_FIELD_ID: u64 = 5001;
const FIRST_ASSET_ID: u64 = 100_001;

/// One validation failure: a JSON pointer into the request document and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// E.g. `/data/attributes/name`.
    pub(crate) pointer: String,
    /// E.g. `Name has already been taken`.
    pub(crate) detail: String,
}

fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Invalid {
    Invalid {
        pointer: pointer.into(),
        detail: detail.into(),
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// The document is not shaped like JSON:API (400).
    BadRequest(String),
    /// The record to update does not exist (404).
    NotFound,
    /// Validation failures (422).
    Invalid(Vec<Invalid>),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::BadRequest(m) => f.write_str(m),
            Rejected::NotFound => f.write_str("Record not found"),
            Rejected::Invalid(list) => {
                let parts: Vec<String> = list
                    .iter()
                    .map(|i| format!("{}: {}", i.pointer, i.detail))
                    .collect();
                f.write_str(&parts.join("; "))
            }
        }
    }
}

/// The attributes of a flexible-asset write.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AssetInput {
    /// `organization-id`, when given.
    pub(crate) organization_id: Option<u64>,
    /// `flexible-asset-type-id`, when given.
    pub(crate) flexible_asset_type_id: Option<u64>,
    /// `traits` (absent = empty: a PATCH replaces the whole set).
    pub(crate) traits: Map<String, Value>,
}

/// Types and assets by id.
#[derive(Debug, Default)]
pub(crate) struct ItGlueStore {
    types: BTreeMap<u64, ItGlueAssetType>,
    assets: BTreeMap<u64, ItGlueAsset>,
    next_type_id: u64,
    next_field_id: u64,
    next_asset_id: u64,
}

/// `MFA adoption` → `mfa-adoption`: lowercased, runs of other characters collapsed to `-`.
pub(crate) fn name_key(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A kebab-case attribute, also accepted in snake_case.
fn attr<'a>(obj: &'a Map<String, Value>, kebab: &str) -> Option<&'a Value> {
    obj.get(kebab).or_else(|| obj.get(&kebab.replace('-', "_")))
}

/// A number given as a JSON number or a numeric string.
pub(crate) fn as_id(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// A boolean attribute: absent gives `default`, anything but a boolean is invalid.
fn bool_attr(
    obj: &Map<String, Value>,
    key: &str,
    default: bool,
    base: &str,
    errors: &mut Vec<Invalid>,
) -> bool {
    match attr(obj, key) {
        None | Some(Value::Null) => default,
        Some(v) => as_bool(v).unwrap_or_else(|| {
            errors.push(invalid(format!("{base}/{key}"), "must be true or false"));
            default
        }),
    }
}

/// A string attribute: absent gives "", anything but a string is invalid.
fn string_attr(
    obj: &Map<String, Value>,
    key: &str,
    base: &str,
    errors: &mut Vec<Invalid>,
) -> String {
    match attr(obj, key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.push(invalid(format!("{base}/{key}"), "must be a string"));
            String::new()
        }
    }
}

/// `data` and `data.attributes` of a document, checking `data.type` against `expected`
/// (hyphens and underscores alike).
fn data_attributes<'a>(
    document: &'a Value,
    expected: &str,
) -> Result<(&'a Object, &'a Object), Rejected> {
    let data = document
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            Rejected::BadRequest("param is missing or the value is empty: data".into())
        })?;
    if let Some(t) = data.get("type") {
        if t.as_str().map(|t| t.replace('_', "-")).as_deref() != Some(expected) {
            return Err(Rejected::Invalid(vec![invalid(
                "/data/type",
                format!("type must be {expected}"),
            )]));
        }
    }
    let attributes = data
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            Rejected::BadRequest("param is missing or the value is empty: data.attributes".into())
        })?;
    Ok((data, attributes))
}

/// Reads the attributes of a `flexible-assets` document.
pub(crate) fn parse_asset(document: &Value) -> Result<AssetInput, Rejected> {
    let (_, a) = data_attributes(document, "flexible-assets")?;
    let mut errors = Vec::new();
    let mut id_attr = |key: &str| match attr(a, key) {
        None | Some(Value::Null) => None,
        Some(v) => as_id(v).or_else(|| {
            errors.push(invalid(
                format!("/data/attributes/{key}"),
                "must be an integer",
            ));
            None
        }),
    };
    let organization_id = id_attr("organization-id");
    let flexible_asset_type_id = id_attr("flexible-asset-type-id");
    let traits = match a.get("traits") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            errors.push(invalid("/data/attributes/traits", "must be an object"));
            Map::new()
        }
    };
    if !errors.is_empty() {
        return Err(Rejected::Invalid(errors));
    }
    Ok(AssetInput {
        organization_id,
        flexible_asset_type_id,
        traits,
    })
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn title_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Array(items) => items.iter().map(title_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Checks `traits` against the type's fields: unknown keys and blank required fields are
/// invalid; null values are dropped. Returns the traits to store and the asset's name.
fn check_traits(
    t: &ItGlueAssetType,
    traits: Map<String, Value>,
    errors: &mut Vec<Invalid>,
) -> (Map<String, Value>, String) {
    let known: HashSet<&str> = t.fields.iter().map(|f| f.name_key.as_str()).collect();
    for key in traits.keys() {
        if !known.contains(key.as_str()) {
            errors.push(invalid(
                format!("/data/attributes/traits/{key}"),
                format!(
                    "Unknown trait '{key}': not a field of flexible asset type '{}'",
                    t.name
                ),
            ));
        }
    }
    let traits: Map<String, Value> = traits.into_iter().filter(|(_, v)| !v.is_null()).collect();
    for f in t.fields.iter().filter(|f| f.required) {
        if traits.get(&f.name_key).is_none_or(is_blank) {
            errors.push(invalid(
                format!("/data/attributes/traits/{}", f.name_key),
                format!("{} can't be blank", f.name),
            ));
        }
    }
    let name = t
        .fields
        .iter()
        .filter(|f| f.use_for_title)
        .filter_map(|f| traits.get(&f.name_key).map(title_text))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (traits, name)
}

fn organization_exists(organizations: u64, id: u64) -> bool {
    (1..=organizations).contains(&id)
}

/// Reads one field's attributes (at JSON pointer `base`) as type creation and field creation
/// take them: a name that is not blank, one of IT Glue's kinds, an integer order (absent gives
/// `default_order`) and boolean flags. Uniqueness within the type is the caller's to check.
fn parse_field(
    f: &Object,
    base: &str,
    default_order: u32,
    errors: &mut Vec<Invalid>,
) -> ItGlueField {
    let name = string_attr(f, "name", base, errors).trim().to_string();
    let key = name_key(&name);
    if name.is_empty() || key.is_empty() {
        errors.push(invalid(format!("{base}/name"), "Name can't be blank"));
    }
    let kind = string_attr(f, "kind", base, errors);
    if !KINDS.contains(&kind.as_str()) {
        errors.push(invalid(
            format!("{base}/kind"),
            format!("Kind '{kind}' is not included in the list"),
        ));
    }
    let order = match attr(f, "order") {
        None | Some(Value::Null) => default_order,
        Some(v) => as_id(v)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_else(|| {
                errors.push(invalid(format!("{base}/order"), "must be an integer"));
                0
            }),
    };
    ItGlueField {
        id: 0,
        order,
        name,
        name_key: key,
        kind,
        required: bool_attr(f, "required", false, base, errors),
        use_for_title: bool_attr(f, "use-for-title", false, base, errors),
        show_in_list: bool_attr(f, "show-in-list", false, base, errors),
    }
}

impl ItGlueStore {
    /// Creates a flexible asset type from a `POST /flexible_asset_types` document.
    pub(crate) fn create_type(&mut self, document: &Value) -> Result<u64, Rejected> {
        let (data, a) = data_attributes(document, "flexible-asset-types")?;
        let mut errors = Vec::new();
        let base = "/data/attributes";
        let name = string_attr(a, "name", base, &mut errors).trim().to_string();
        if name.is_empty() {
            errors.push(invalid("/data/attributes/name", "Name can't be blank"));
        } else if self.types.values().any(|t| t.name == name) {
            errors.push(invalid(
                "/data/attributes/name",
                "Name has already been taken",
            ));
        }
        let description = string_attr(a, "description", base, &mut errors);
        let icon = string_attr(a, "icon", base, &mut errors);
        let show_in_menu = bool_attr(a, "show-in-menu", true, base, &mut errors);
        let relationships = data.get("relationships").and_then(Value::as_object);
        let rel = relationships.and_then(|r| attr(r, "flexible-asset-fields"));
        let specs: &[Value] = rel
            .and_then(|r| r.get("data"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut fields: Vec<ItGlueField> = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let base = format!("/data/relationships/flexible-asset-fields/data/{i}/attributes");
            let Some(f) = spec
                .get("attributes")
                .or(Some(spec))
                .and_then(Value::as_object)
            else {
                errors.push(invalid(base, "must be an object"));
                continue;
            };
            let default_order = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let field = parse_field(f, &base, default_order, &mut errors);
            if !field.name_key.is_empty() && fields.iter().any(|g| g.name_key == field.name_key) {
                errors.push(invalid(
                    format!("{base}/name"),
                    "Name has already been taken",
                ));
            }
            fields.push(field);
        }
        if !fields.iter().any(|f| f.show_in_list) {
            errors.push(invalid(
                "/data/relationships/flexible-asset-fields",
                "At least one field must be shown in the list (show-in-list)",
            ));
        }
        if !errors.is_empty() {
            return Err(Rejected::Invalid(errors));
        }
        fields.sort_by_key(|f| f.order);
        for f in &mut fields {
            f.id = self.next_field_id.max(FIRST_FIELD_ID);
            self.next_field_id = f.id + 1;
        }
        let id = self.next_type_id.max(FIRST_TYPE_ID);
        self.next_type_id = id + 1;
        let now = Utc::now();
        self.types.insert(
            id,
            ItGlueAssetType {
                id,
                name,
                description,
                icon,
                show_in_menu,
                fields,
                created_at: now,
                updated_at: now,
            },
        );
        Ok(id)
    }

    /// Adds a field to an existing type from a `POST /flexible_asset_fields` document
    /// (`flexible-asset-type-id` among the attributes); returns the type's and the field's id.
    /// An absent order puts the field after the existing ones. Like IT Glue, a required field
    /// cannot be added to a type that has assets (they would lack it).
    pub(crate) fn create_field(&mut self, document: &Value) -> Result<(u64, u64), Rejected> {
        let (_, a) = data_attributes(document, "flexible-asset-fields")?;
        let base = "/data/attributes";
        let type_id = match attr(a, "flexible-asset-type-id") {
            None | Some(Value::Null) => {
                return Err(Rejected::Invalid(vec![invalid(
                    "/data/attributes/flexible-asset-type-id",
                    "Flexible asset type must exist",
                )]))
            }
            Some(v) => as_id(v).ok_or_else(|| {
                Rejected::Invalid(vec![invalid(
                    "/data/attributes/flexible-asset-type-id",
                    "must be an integer",
                )])
            })?,
        };
        let Some(t) = self.types.get(&type_id) else {
            return Err(Rejected::NotFound);
        };
        let mut errors = Vec::new();
        let next_order = t
            .fields
            .iter()
            .map(|f| f.order)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let mut field = parse_field(a, base, next_order, &mut errors);
        if !field.name_key.is_empty() && t.fields.iter().any(|g| g.name_key == field.name_key) {
            errors.push(invalid(
                "/data/attributes/name",
                "Name has already been taken",
            ));
        }
        if field.required
            && self
                .assets
                .values()
                .any(|x| x.flexible_asset_type_id == t.id)
        {
            errors.push(invalid(
                "/data/attributes/required",
                "A required field can't be added to a flexible asset type that has flexible assets",
            ));
        }
        if !errors.is_empty() {
            return Err(Rejected::Invalid(errors));
        }
        field.id = self.next_field_id.max(FIRST_FIELD_ID);
        self.next_field_id = field.id + 1;
        let field_id = field.id;
        let Some(t) = self.types.get_mut(&type_id) else {
            return Err(Rejected::NotFound);
        };
        t.fields.push(field);
        t.fields.sort_by_key(|f| f.order);
        t.updated_at = Utc::now();
        Ok((type_id, field_id))
    }

    /// Creates a flexible asset; returns its id.
    pub(crate) fn create_asset(
        &mut self,
        input: AssetInput,
        organizations: u64,
    ) -> Result<u64, Rejected> {
        let mut errors = Vec::new();
        match input.organization_id {
            Some(id) if organization_exists(organizations, id) => {}
            _ => errors.push(invalid(
                "/data/attributes/organization-id",
                "Organization must exist",
            )),
        }
        let t = input
            .flexible_asset_type_id
            .and_then(|id| self.types.get(&id));
        let Some(t) = t else {
            errors.push(invalid(
                "/data/attributes/flexible-asset-type-id",
                "Flexible asset type must exist",
            ));
            return Err(Rejected::Invalid(errors));
        };
        let (traits, name) = check_traits(t, input.traits, &mut errors);
        let (Some(organization_id), true) = (input.organization_id, errors.is_empty()) else {
            return Err(Rejected::Invalid(errors));
        };
        let id = self.next_asset_id.max(FIRST_ASSET_ID);
        self.next_asset_id = id + 1;
        let now = Utc::now();
        self.assets.insert(
            id,
            ItGlueAsset {
                id,
                organization_id,
                flexible_asset_type_id: t.id,
                name,
                traits,
                versions: 1,
                created_at: now,
                updated_at: now,
            },
        );
        Ok(id)
    }

    /// Updates asset `id`: the traits are replaced as a whole (left-out traits are deleted),
    /// the organization changes when given, the type cannot change.
    pub(crate) fn update_asset(
        &mut self,
        id: u64,
        input: AssetInput,
        organizations: u64,
    ) -> Result<(), Rejected> {
        let Some(asset) = self.assets.get(&id) else {
            return Err(Rejected::NotFound);
        };
        let mut errors = Vec::new();
        let organization_id = input.organization_id.unwrap_or(asset.organization_id);
        if !organization_exists(organizations, organization_id) {
            errors.push(invalid(
                "/data/attributes/organization-id",
                "Organization must exist",
            ));
        }
        if input
            .flexible_asset_type_id
            .is_some_and(|t| t != asset.flexible_asset_type_id)
        {
            errors.push(invalid(
                "/data/attributes/flexible-asset-type-id",
                "Flexible asset type can't be changed",
            ));
        }
        let Some(t) = self.types.get(&asset.flexible_asset_type_id) else {
            return Err(Rejected::NotFound);
        };
        let (traits, name) = check_traits(t, input.traits, &mut errors);
        if !errors.is_empty() {
            return Err(Rejected::Invalid(errors));
        }
        let Some(asset) = self.assets.get_mut(&id) else {
            return Err(Rejected::NotFound);
        };
        asset.organization_id = organization_id;
        asset.traits = traits;
        asset.name = name;
        asset.versions += 1;
        asset.updated_at = Utc::now();
        Ok(())
    }

    /// Every type, by id.
    pub(crate) fn types(&self) -> impl Iterator<Item = &ItGlueAssetType> {
        self.types.values()
    }

    /// Type `id`.
    pub(crate) fn asset_type(&self, id: u64) -> Option<&ItGlueAssetType> {
        self.types.get(&id)
    }

    /// Every asset, by id.
    pub(crate) fn assets(&self) -> impl Iterator<Item = &ItGlueAsset> {
        self.assets.values()
    }

    /// Asset `id`.
    pub(crate) fn asset(&self, id: u64) -> Option<&ItGlueAsset> {
        self.assets.get(&id)
    }

    /// Type `id` as a JSON:API resource.
    pub(crate) fn type_json(&self, t: &ItGlueAssetType) -> Value {
        let fields: Vec<Value> = t
            .fields
            .iter()
            .map(|f| json!({"id": f.id.to_string(), "type": "flexible-asset-fields"}))
            .collect();
        json!({
            "id": t.id.to_string(),
            "type": "flexible-asset-types",
            "attributes": {
                "name": t.name,
                "description": t.description,
                "icon": t.icon,
                "enabled": true,
                "show-in-menu": t.show_in_menu,
                "created-at": time(t.created_at),
                "updated-at": time(t.updated_at),
            },
            "relationships": {"flexible-asset-fields": {"data": fields}},
        })
    }

    /// A field of type `t` as a JSON:API resource.
    pub(crate) fn field_json(t: &ItGlueAssetType, f: &ItGlueField) -> Value {
        json!({
            "id": f.id.to_string(),
            "type": "flexible-asset-fields",
            "attributes": {
                "order": f.order,
                "name": f.name,
                "name-key": f.name_key,
                "kind": f.kind,
                "hint": null,
                "tag-type": null,
                "required": f.required,
                "use-for-title": f.use_for_title,
                "show-in-list": f.show_in_list,
                "expiration": false,
                "flexible-asset-type-id": t.id,
                "created-at": time(t.created_at),
                "updated-at": time(t.updated_at),
            },
        })
    }

    /// Asset `a` as a JSON:API resource.
    pub(crate) fn asset_json(&self, a: &ItGlueAsset) -> Value {
        let type_name = self
            .types
            .get(&a.flexible_asset_type_id)
            .map(|t| t.name.as_str())
            .unwrap_or_default();
        json!({
            "id": a.id.to_string(),
            "type": "flexible-assets",
            "attributes": {
                "organization-id": a.organization_id,
                "organization-name": hudu_company_name(a.organization_id),
                "flexible-asset-type-id": a.flexible_asset_type_id,
                "flexible-asset-type-name": type_name,
                "name": a.name,
                "traits": a.traits,
                "archived": false,
                "created-at": time(a.created_at),
                "updated-at": time(a.updated_at),
            },
        })
    }
}

/// IT Glue's timestamp format, e.g. `2024-02-01T00:00:00.000Z`.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_are_kebab_case() {
        assert_eq!(name_key("MFA adoption"), "mfa-adoption");
        assert_eq!(name_key("  Secure score (%) "), "secure-score");
        assert_eq!(name_key("Tenant"), "tenant");
        assert_eq!(name_key("!!"), "");
    }
}
