//! Autotask's query filters: a JSON array of expressions, all of which must hold.
//!
//! ```text
//! expression := {"op": comparison, "field": name, "value": constant}
//!             | {"op": "exist" | "notExist", "field": name}
//!             | {"op": "in" | "notIn", "field": name, "value": [constant, ...]}
//!             | {"op": "and" | "or", "items": [expression, ...]}
//! comparison := eq | noteq | gt | gte | lt | lte | beginsWith | endsWith | contains
//! ```
//!
//! Operators, field names and the keys of an expression are matched ignoring case. A field the
//! entity does not have is refused with Autotask's own message ("Unable to find {field} in the
//! {Entity} Entity."). Unlike the real service, which silently drops an expression with an
//! unknown operator (and so returns unfiltered rows), the emulator refuses it, and it refuses
//! user-defined fields (`"udf": true`), an empty group and a missing value.
//!
//! Constants are read by the field's type: numbers (or numeric text) for integer fields,
//! `true` / `false` for booleans (as the real service demands), ISO-8601 text for datetimes
//! (`2026-01-01T00:00:00Z`, `2026-01-01T00:00:00.000`, `2026-01-01`; no offset means UTC),
//! anything for text. Evaluation follows SQL Server, which the real service queries: text
//! compares ignoring case, and a field without a value (`null`) satisfies only `notExist`
//! (`noteq` included: `null <> 5` is not true in SQL). `exist` also needs text to be non-empty.
//! `beginsWith`, `endsWith` and `contains` compare the text form of any field.

use super::records::{self, parse_datetime, Kind};
use crate::AtEntity;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    NotEq,
    Gt,
    Gte,
    Lt,
    Lte,
    BeginsWith,
    EndsWith,
    Contains,
    Exist,
    NotExist,
    In,
    NotIn,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        const OPS: [(&str, Op); 13] = [
            ("eq", Op::Eq),
            ("noteq", Op::NotEq),
            ("gt", Op::Gt),
            ("gte", Op::Gte),
            ("lt", Op::Lt),
            ("lte", Op::Lte),
            ("beginsWith", Op::BeginsWith),
            ("endsWith", Op::EndsWith),
            ("contains", Op::Contains),
            ("exist", Op::Exist),
            ("notExist", Op::NotExist),
            ("in", Op::In),
            ("notIn", Op::NotIn),
        ];
        OPS.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s.trim()))
            .map(|(_, op)| *op)
    }
}

/// A constant of a comparison, read by the field's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Num(f64),
    Bool(bool),
    /// Lowercased text.
    Text(String),
    Date(DateTime<Utc>),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Every part holds.
    And(Vec<Filter>),
    /// Some part holds.
    Or(Vec<Filter>),
    /// One comparison.
    Cmp {
        /// The record's key.
        field: &'static str,
        /// Its type.
        kind: Kind,
        /// The operator.
        op: Op,
        /// One constant, the list of `in` / `notIn`, or none for `exist` / `notExist`.
        values: Vec<Lit>,
    },
}

/// The value of key `name` of an expression (ignoring case).
fn key<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The text form of a value (`None` for null, arrays and objects).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn literal(
    entity: AtEntity,
    field: &str,
    kind: Kind,
    textual: bool,
    v: &Value,
) -> Result<Lit, String> {
    let bad = || {
        format!(
            "Invalid filter value {v} for field {field} of the {} Entity.",
            entity.name()
        )
    };
    if textual {
        return text_of(v).map(Lit::Text).ok_or_else(bad);
    }
    match kind {
        Kind::Integer => match v {
            Value::Number(n) => n.as_f64().map(Lit::Num).ok_or_else(bad),
            Value::String(s) => s.trim().parse::<f64>().map(Lit::Num).map_err(|_| bad()),
            _ => Err(bad()),
        },
        Kind::Boolean => match v {
            Value::Bool(b) => Ok(Lit::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            _ => Err(bad()),
        },
        Kind::Text => text_of(v).map(Lit::Text).ok_or_else(bad),
        Kind::DateTime => v
            .as_str()
            .and_then(parse_datetime)
            .map(Lit::Date)
            .ok_or_else(bad),
    }
}

fn expression(entity: AtEntity, item: &Value) -> Result<Filter, String> {
    let Value::Object(m) = item else {
        return Err(format!(
            "Invalid filter expression {item}: expected an object with op, field and value."
        ));
    };
    let op = key(m, "op").and_then(Value::as_str).unwrap_or_default();
    if op.eq_ignore_ascii_case("and") || op.eq_ignore_ascii_case("or") {
        let items = key(m, "items").and_then(Value::as_array);
        let Some(items) = items.filter(|i| !i.is_empty()) else {
            return Err(format!(
                "The {op} group {item} needs a non-empty items array."
            ));
        };
        let parts = items
            .iter()
            .map(|i| expression(entity, i))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if op.eq_ignore_ascii_case("and") {
            Filter::And(parts)
        } else {
            Filter::Or(parts)
        });
    }
    let op = Op::parse(op).ok_or_else(|| {
        format!("Invalid filter operator {op:?} in {item}: use eq, noteq, gt, gte, lt, lte, beginsWith, endsWith, contains, exist, notExist, in, notIn, or an and / or group.")
    })?;
    let name = key(m, "field").and_then(Value::as_str).unwrap_or_default();
    if key(m, "udf").and_then(Value::as_bool).unwrap_or(false) {
        return Err(format!(
            "Unable to find user-defined field {name} in the {} Entity.",
            entity.name()
        ));
    }
    let (field, kind) = records::field(entity, name)
        .ok_or_else(|| format!("Unable to find {name} in the {} Entity.", entity.name()))?;
    let value = key(m, "value").filter(|v| !v.is_null());
    let values = match op {
        Op::Exist | Op::NotExist => Vec::new(),
        Op::In | Op::NotIn => {
            let list = value.and_then(Value::as_array).ok_or_else(|| {
                format!(
                    "The {} filter on {field} needs an array value.",
                    if op == Op::In { "in" } else { "notIn" }
                )
            })?;
            list.iter()
                .map(|v| literal(entity, field, kind, false, v))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => {
            let v = value.ok_or_else(|| {
                format!(
                    "The filter on {field} needs a value (use exist / notExist for empty fields)."
                )
            })?;
            let textual = matches!(op, Op::BeginsWith | Op::EndsWith | Op::Contains);
            vec![literal(entity, field, kind, textual, v)?]
        }
    };
    Ok(Filter::Cmp {
        field,
        kind,
        op,
        values,
    })
}

/// Parses the `filter` of a query on `entity`: a non-empty array, its expressions ANDed.
pub(crate) fn parse(entity: AtEntity, filter: Option<&Value>) -> Result<Filter, String> {
    let items = match filter {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | Some(Value::Null) | None => {
            return Err(
                "A query requires a filter with at least one expression, e.g. [{\"op\":\"gte\",\"field\":\"id\",\"value\":0}]."
                    .into(),
            )
        }
        Some(other) => return Err(format!("Invalid filter {other}: expected an array of expressions.")),
    };
    items
        .iter()
        .map(|i| expression(entity, i))
        .collect::<Result<Vec<_>, _>>()
        .map(Filter::And)
}

/// Compares a record's value with a constant; `None` when they do not compare (null, or
/// another type).
fn compare(kind: Kind, v: &Value, lit: &Lit) -> Option<Ordering> {
    match (kind, lit) {
        (_, Lit::Text(t)) => text_of(v).map(|s| s.as_str().cmp(t.as_str())),
        (Kind::Integer, Lit::Num(n)) => v.as_f64().and_then(|x| x.partial_cmp(n)),
        (Kind::Boolean, Lit::Bool(b)) => {
            let x = v.as_bool().or_else(|| v.as_f64().map(|f| f != 0.0))?;
            Some(x.cmp(b))
        }
        (Kind::DateTime, Lit::Date(d)) => v.as_str().and_then(parse_datetime).map(|x| x.cmp(d)),
        _ => None,
    }
}

impl Filter {
    /// Whether `record` satisfies the filter.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Cmp {
                field,
                kind,
                op,
                values,
            } => {
                let v = record.get(*field).unwrap_or(&Value::Null);
                let present = match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                match op {
                    Op::Exist => present,
                    Op::NotExist => !present,
                    _ if v.is_null() => false,
                    Op::In => values
                        .iter()
                        .any(|l| compare(*kind, v, l) == Some(Ordering::Equal)),
                    Op::NotIn => values
                        .iter()
                        .all(|l| compare(*kind, v, l).is_some_and(|o| o != Ordering::Equal)),
                    Op::BeginsWith | Op::EndsWith | Op::Contains => {
                        let (Some(s), Some(Lit::Text(t))) = (text_of(v), values.first()) else {
                            return false;
                        };
                        match op {
                            Op::BeginsWith => s.starts_with(t.as_str()),
                            Op::EndsWith => s.ends_with(t.as_str()),
                            _ => s.contains(t.as_str()),
                        }
                    }
                    _ => {
                        let Some(o) = values.first().and_then(|l| compare(*kind, v, l)) else {
                            return false;
                        };
                        match op {
                            Op::Eq => o == Ordering::Equal,
                            Op::NotEq => o != Ordering::Equal,
                            Op::Gt => o == Ordering::Greater,
                            Op::Gte => o != Ordering::Less,
                            Op::Lt => o == Ordering::Less,
                            _ => o != Ordering::Greater,
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(entity: AtEntity, filter: Value) -> Result<Filter, String> {
        parse(entity, Some(&filter))
    }

    #[test]
    fn comparisons_follow_the_field_types() {
        let company = json!({"id": 503, "companyName": "Alpine Ski House", "isActive": true,
            "companyType": 1, "address2": null, "phone": "",
            "lastTrackedModifiedDateTime": "2026-01-01T00:00:00.000Z"});
        let yes = |filter: Value| f(AtEntity::Company, filter).unwrap().matches(&company);
        assert!(yes(json!([{"op": "gte", "field": "ID", "value": 0}])));
        assert!(yes(
            json!([{"op": "eq", "field": "companyname", "value": "alpine ski house"}])
        ));
        assert!(yes(
            json!([{"op": "beginsWith", "field": "companyName", "value": "ALP"}])
        ));
        assert!(yes(
            json!([{"op": "endsWith", "field": "companyName", "value": "house"}])
        ));
        assert!(yes(
            json!([{"op": "contains", "field": "companyName", "value": "ski"}])
        ));
        assert!(yes(
            json!([{"op": "eq", "field": "isActive", "value": true}])
        ));
        assert!(yes(
            json!([{"op": "eq", "field": "isActive", "value": "true"}])
        ));
        assert!(!yes(
            json!([{"op": "noteq", "field": "companyType", "value": "1"}])
        ));
        assert!(yes(
            json!([{"op": "in", "field": "companyType", "value": [1, 2]}])
        ));
        assert!(!yes(
            json!([{"op": "notIn", "field": "companyType", "value": [1, 2]}])
        ));
        assert!(yes(json!([{"op": "notExist", "field": "address2"}])));
        assert!(yes(json!([{"op": "notExist", "field": "phone"}])));
        assert!(!yes(
            json!([{"op": "noteq", "field": "address2", "value": "x"}])
        ));
        assert!(yes(
            json!([{"op": "gt", "field": "lastTrackedModifiedDateTime", "value": "2025-12-31T23:59:59Z"}])
        ));
        assert!(!yes(
            json!([{"op": "gt", "field": "lastTrackedModifiedDateTime", "value": "2026-01-01"}])
        ));
        assert!(yes(
            json!([{"op": "gte", "field": "lastTrackedModifiedDateTime", "value": "2026-01-01T00:00:00"}])
        ));
        assert!(yes(json!([
            {"op": "or", "items": [
                {"op": "eq", "field": "id", "value": 1},
                {"op": "and", "items": [
                    {"op": "eq", "field": "id", "value": 503},
                    {"op": "exist", "field": "companyName"}]}]},
            {"op": "lt", "field": "id", "value": 504}])));
    }

    #[test]
    fn bad_filters_are_named() {
        let err = |filter: Value| f(AtEntity::Contact, filter).unwrap_err();
        assert!(err(json!([])).contains("requires a filter"));
        assert!(parse(AtEntity::Contact, None).is_err());
        assert_eq!(
            err(json!([{"op": "eq", "field": "projectID", "value": 1}])),
            "Unable to find projectID in the Contact Entity."
        );
        assert!(err(json!([{"op": "ne", "field": "id", "value": 1}])).contains("operator"));
        assert!(err(json!([{"op": "in", "field": "id", "value": 1}])).contains("array"));
        assert!(err(json!([{"op": "eq", "field": "id", "value": "abc"}])).contains("value"));
        assert!(
            err(json!([{"op": "eq", "field": "primaryContact", "value": 1}])).contains("value")
        );
        assert!(err(json!([{"op": "or", "items": []}])).contains("items"));
        assert!(err(json!([{"op": "eq", "field": "id"}])).contains("needs a value"));
        assert!(err(json!({"op": "eq"})).contains("array"));
    }

    #[test]
    fn contacts_is_active_is_an_integer() {
        let c = json!({"id": 1, "isActive": 0});
        let m = |v: Value| {
            f(
                AtEntity::Contact,
                json!([{"op": "eq", "field": "isActive", "value": v}]),
            )
            .unwrap()
            .matches(&c)
        };
        assert!(m(json!(0)));
        assert!(!m(json!(1)));
        assert!(f(
            AtEntity::Contact,
            json!([{"op": "eq", "field": "isActive", "value": true}])
        )
        .is_err());
    }
}
