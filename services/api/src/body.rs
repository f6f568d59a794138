//! Request bodies: JSON objects read whole (size-limited), then checked field by field so a
//! 400 names every bad field at once, including unknown ones.

use crate::error::{ApiError, FieldError};
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// A JSON object body.
pub(crate) struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "the request body could not be read or is larger than {} KiB",
                    MAX_BODY / 1024
                ))
            })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        match whole_numbers_as_integers(value) {
            Value::Object(map) => Ok(JsonObject(map)),
            _ => Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            )),
        }
    }
}

/// `2.0` is the integer 2 (JSON has one number type, and JSON Schema's `integer` is any number
/// without a fractional part), so the parsers' `as_i64` read it as the document promises.
fn whole_numbers_as_integers(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            // Below 2^63 in magnitude, a float without a fraction is exactly an i64.
            #[allow(clippy::cast_possible_truncation)]
            Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(whole_numbers_as_integers).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, whole_numbers_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Field-by-field reading of a JSON object, collecting every problem.
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Starts reading; fields outside `allowed` are reported as unknown.
    pub fn new(obj: &'a Map<String, Value>, allowed: &[&str]) -> Self {
        let mut errors = Vec::new();
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.push(FieldError {
                    field: key.clone(),
                    message: format!("unknown field: the fields are {}", allowed.join(", ")),
                });
            }
        }
        Self { obj, errors }
    }

    /// Refuses every field sent as null (where leaving a field out keeps its value, null would
    /// say something else; naming it is clearer than ignoring it).
    pub fn no_nulls(&mut self) {
        let nulls: Vec<String> = self
            .obj
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        for key in nulls {
            self.error(
                key,
                "must not be null: leave the field out to keep its value",
            );
        }
    }

    /// Records a problem.
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// The raw value, if present and not null.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// A string field; required ones report absence.
    pub fn string(&mut self, name: &str, required: bool) -> Option<String> {
        match self.value(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(name, format!("must be a string, got {}", kind(other)));
                None
            }
            None => {
                if required {
                    self.error(name, "is required");
                }
                None
            }
        }
    }

    /// A required, trimmed, non-empty string of at most `max` characters (spaces around it
    /// included, as the document's maxLength counts them).
    pub fn text(&mut self, name: &str, required: bool, max: usize) -> Option<String> {
        let s = self.string(name, required)?;
        if s.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
            return None;
        }
        let t = s.trim();
        if t.is_empty() {
            self.error(name, "must not be empty");
            return None;
        }
        if t.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
            return None;
        }
        if t.chars().any(char::is_control) {
            self.error(name, "must not contain control characters");
            return None;
        }
        Some(t.to_owned())
    }

    /// Ends reading: Ok when nothing was wrong.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a domain name shape (`contoso.com`).
pub(crate) fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}
