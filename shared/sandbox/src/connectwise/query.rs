//! The query string of a ConnectWise list: `page` / `pageSize` (capped at 1000) / `pageId`,
//! `conditions` and `childConditions`, `orderBy` and `fields`, checked against the entity's
//! fields; plus `fields` projection, ordering and the `Link` header's URLs.
//!
//! Parameter names are case-insensitive, as on the real service.

use super::conditions::{self, Condition};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Default `pageSize`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 25;
/// Larger `pageSize` values are silently capped to this.
pub(crate) const MAX_PAGE_SIZE: usize = 1000;

/// The fields of one resource, from a record that has every one of them.
#[derive(Debug)]
pub(crate) struct Schema {
    /// The resource's name in error messages, e.g. `company`.
    pub(crate) resource: &'static str,
    template: Value,
}

/// A refused parameter: the field (or parameter) at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The field or parameter named in the error.
    pub(crate) field: String,
    /// The message.
    pub(crate) message: String,
}

/// Fields that conditions may name without their `_info/` prefix.
fn alias(field: &str) -> &str {
    if field.eq_ignore_ascii_case("lastUpdated") {
        "_info/lastUpdated"
    } else if field.eq_ignore_ascii_case("dateEntered") {
        "_info/dateEntered"
    } else {
        field
    }
}

fn find_key<'a>(m: &'a Map<String, Value>, name: &str) -> Option<(&'a String, &'a Value)> {
    m.get_key_value(name)
        .or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
}

impl Schema {
    /// The schema of `resource`, whose every field `template` has.
    pub(crate) fn new(resource: &'static str, template: Value) -> Self {
        Schema { resource, template }
    }

    /// Resolves a filterable or sortable field (a value, not an object) to the record's keys;
    /// `arrays` allows walking into collections (`childConditions`).
    pub(crate) fn resolve(&self, field: &str, arrays: bool) -> Result<Vec<String>, String> {
        let unknown = || format!("{field} is not a valid field for {}.", self.resource);
        let mut at = &self.template;
        let mut keys = Vec::new();
        for segment in alias(field).split('/') {
            if let Value::Array(items) = at {
                if !arrays {
                    return Err(format!(
                        "{field} is a collection field of {}: filter it with childConditions.",
                        self.resource
                    ));
                }
                at = items.first().ok_or_else(unknown)?;
            }
            let Value::Object(m) = at else {
                return Err(unknown());
            };
            let (key, value) = find_key(m, segment).ok_or_else(unknown)?;
            keys.push(key.clone());
            at = value;
        }
        if at.is_object() || at.is_array() {
            return Err(format!(
                "{field} is an object of {}: name one of its fields, e.g. {field}/id.",
                self.resource
            ));
        }
        Ok(keys)
    }

    /// Resolves a `fields` entry (any field, objects and collections included); `None` when
    /// the resource has no such field.
    fn projection(&self, field: &str) -> Option<Vec<String>> {
        let mut at = &self.template;
        let mut keys = Vec::new();
        for segment in field.split('/') {
            if let Value::Array(items) = at {
                at = items.first()?;
            }
            let (key, value) = find_key(at.as_object()?, segment)?;
            keys.push(key.clone());
            at = value;
        }
        Some(keys)
    }
}

/// A list request's parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListParams {
    /// 1-based page (navigable paging).
    pub(crate) page: usize,
    /// Records per page (1..=1000).
    pub(crate) page_size: usize,
    /// Forward-only paging: records with an id above this.
    pub(crate) page_id: u64,
    /// `conditions` and `childConditions`, all of which must hold.
    pub(crate) filters: Vec<Condition>,
    /// `orderBy`: fields and whether descending.
    pub(crate) order: Vec<(Vec<String>, bool)>,
    /// `fields`, when given.
    pub(crate) fields: Option<Vec<Vec<String>>>,
}

/// The first value of parameter `name` (case-insensitive).
pub(crate) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn number(q: &[(String, String)], name: &str) -> Option<u64> {
    param(q, name).and_then(|v| v.trim().parse().ok())
}

/// Reads the `fields` parameter (unknown fields are left out, as the real service does).
pub(crate) fn fields(q: &[(String, String)], schema: &Schema) -> Option<Vec<Vec<String>>> {
    param(q, "fields").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .filter_map(|f| schema.projection(f))
            .collect()
    })
}

/// Reads and checks a list request's parameters.
pub(crate) fn list_params(q: &[(String, String)], schema: &Schema) -> Result<ListParams, Invalid> {
    let page_size = match number(q, "pageSize") {
        Some(0) | None => DEFAULT_PAGE_SIZE,
        Some(n) => usize::try_from(n)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE),
    };
    let mut filters = Vec::new();
    for (name, arrays) in [("conditions", false), ("childConditions", true)] {
        let Some(text) = param(q, name).filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        let resolve = |f: &str| schema.resolve(f, arrays);
        let c = conditions::parse(text, &resolve).map_err(|e| Invalid {
            field: e.field.unwrap_or_else(|| name.to_string()),
            message: e.message,
        })?;
        filters.push(c);
    }
    let mut order = Vec::new();
    if let Some(text) = param(q, "orderBy").filter(|t| !t.trim().is_empty()) {
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            let field = words.next().unwrap_or_default();
            let desc = match words.next() {
                None => false,
                Some(d) if d.eq_ignore_ascii_case("asc") => false,
                Some(d) if d.eq_ignore_ascii_case("desc") => true,
                Some(d) => {
                    return Err(Invalid {
                        field: "orderBy".into(),
                        message: format!("orderBy direction must be asc or desc, got {d}"),
                    })
                }
            };
            if words.next().is_some() || field.is_empty() {
                return Err(Invalid {
                    field: "orderBy".into(),
                    message: format!("orderBy is not valid: {part:?}"),
                });
            }
            let path = schema.resolve(field, false).map_err(|message| Invalid {
                field: field.to_string(),
                message,
            })?;
            order.push((path, desc));
        }
    }
    Ok(ListParams {
        page: number(q, "page")
            .and_then(|p| usize::try_from(p).ok())
            .unwrap_or(1)
            .max(1),
        page_size,
        page_id: number(q, "pageId").unwrap_or(0),
        filters,
        order,
        fields: fields(q, schema),
    })
}

impl ListParams {
    /// Whether `record` passes every filter.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        self.filters.iter().all(|c| c.matches(record))
    }

    /// Whether the order is the natural one (`id` ascending), or `id` descending.
    pub(crate) fn by_id(&self) -> Option<bool> {
        match self.order.as_slice() {
            [] => Some(false),
            [(path, desc)] if path.len() == 1 && path[0] == "id" => Some(*desc),
            _ => None,
        }
    }

    /// Sorts `rows` by `orderBy`, then by id.
    pub(crate) fn sort(&self, rows: &mut [&Value]) {
        rows.sort_by(|a, b| {
            for (path, desc) in &self.order {
                let o = value_cmp(at(a, path), at(b, path));
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            value_cmp(a.get("id"), b.get("id"))
        });
    }

    /// `record` reduced to `fields` (the whole record without them).
    pub(crate) fn project(&self, record: &Value) -> Value {
        project_fields(record, self.fields.as_deref())
    }
}

/// `record` reduced to `fields` (the whole record for `None`).
pub(crate) fn project_fields(record: &Value, fields: Option<&[Vec<String>]>) -> Value {
    match fields {
        None => record.clone(),
        Some(list) => {
            let paths: Vec<&[String]> = list.iter().map(Vec::as_slice).collect();
            project(record, &paths)
        }
    }
}

fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// Nulls first, then by kind: strings ignoring case, numbers, booleans.
fn value_cmp(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::String(x)), Some(Value::String(y))) => x
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(y.bytes().map(|c| c.to_ascii_lowercase())),
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// The parts of `v` the `paths` name, keeping their structure (collections element-wise).
fn project(v: &Value, paths: &[&[String]]) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, paths)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (i, path) in paths.iter().enumerate() {
                let Some((key, _)) = path.split_first() else {
                    continue;
                };
                if paths[..i].iter().any(|p| p.first() == Some(key)) {
                    continue;
                }
                let Some(child) = m.get(key) else {
                    continue;
                };
                let tails: Vec<&[String]> = paths
                    .iter()
                    .filter(|p| p.first() == Some(key))
                    .map(|p| &p[1..])
                    .collect();
                let value = if tails.iter().any(|t| t.is_empty()) {
                    child.clone()
                } else {
                    project(child, &tails)
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Percent-encodes a query component (everything but RFC 3986's unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `{url}{path}?{query}` with the paging parameters of `q` replaced by `set`.
pub(crate) fn page_url(
    url: &str,
    path: &str,
    q: &[(String, String)],
    set: &[(&str, u64)],
) -> String {
    let mut parts: Vec<String> = q
        .iter()
        .filter(|(k, _)| {
            !["page", "pageId"].iter().any(|p| k.eq_ignore_ascii_case(p))
                && !set.iter().any(|(s, _)| k.eq_ignore_ascii_case(s))
        })
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    parts.extend(set.iter().map(|(k, v)| format!("{k}={v}")));
    format!("{url}{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(
            "contact",
            json!({"id": 1, "firstName": "a", "company": {"id": 1, "name": "c"},
                "communicationItems": [{"type": {"name": "Email"}, "value": "v"}],
                "_info": {"lastUpdated": "2026-01-01T00:00:00Z"}}),
        )
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_resolve_case_insensitively_with_aliases() {
        let s = schema();
        assert_eq!(s.resolve("Company/ID", false).unwrap(), ["company", "id"]);
        assert_eq!(
            s.resolve("lastUpdated", false).unwrap(),
            ["_info", "lastUpdated"]
        );
        assert!(s.resolve("company", false).unwrap_err().contains("object"));
        assert!(s
            .resolve("nope", false)
            .unwrap_err()
            .contains("not a valid"));
        assert!(s
            .resolve("communicationItems/value", false)
            .unwrap_err()
            .contains("childConditions"));
        assert_eq!(
            s.resolve("communicationItems/type/name", true).unwrap(),
            ["communicationItems", "type", "name"]
        );
    }

    #[test]
    fn paging_parameters_default_and_cap() {
        let s = schema();
        let p = list_params(&q(&[]), &s).unwrap();
        assert_eq!((p.page, p.page_size, p.page_id), (1, 25, 0));
        let p = list_params(&q(&[("PAGESIZE", "5000"), ("page", "3")]), &s).unwrap();
        assert_eq!((p.page, p.page_size), (3, 1000));
        let e = list_params(&q(&[("orderBy", "firstName sideways")]), &s).unwrap_err();
        assert_eq!(e.field, "orderBy");
        let e = list_params(&q(&[("orderBy", "nope asc")]), &s).unwrap_err();
        assert_eq!(e.field, "nope");
        let e = list_params(&q(&[("conditions", "id = ")]), &s).unwrap_err();
        assert_eq!(e.field, "conditions");
    }

    #[test]
    fn projection_keeps_structure_and_ignores_unknown_fields() {
        let s = schema();
        let p = list_params(
            &q(&[(
                "fields",
                "id,company/name,nope,communicationItems/value,_info/lastUpdated",
            )]),
            &s,
        )
        .unwrap();
        let record = json!({"id": 4, "firstName": "x", "company": {"id": 9, "name": "C"},
            "communicationItems": [{"value": "a", "type": {"name": "Email"}}, {"value": "b"}],
            "_info": {"lastUpdated": "t", "dateEntered": "d"}});
        assert_eq!(
            p.project(&record),
            json!({"id": 4, "company": {"name": "C"},
                "communicationItems": [{"value": "a"}, {"value": "b"}],
                "_info": {"lastUpdated": "t"}})
        );
    }

    #[test]
    fn links_replace_the_paging_parameters() {
        let url = page_url(
            "http://h",
            "/v/apis/3.0/company/contacts",
            &q(&[
                ("conditions", "company/id=250"),
                ("pageId", "3"),
                ("pageSize", "2"),
            ]),
            &[("pageId", 7)],
        );
        assert_eq!(
            url,
            "http://h/v/apis/3.0/company/contacts?conditions=company%2Fid%3D250&pageSize=2&pageId=7"
        );
    }
}
