//! PSA sync configuration: which PSA ([`PsaKind`]), each PSA's typed credentials
//! ([`ConnectWiseConfig`], [`HaloConfig`], [`AutotaskConfig`], behind the one dispatch point
//! [`PsaConfig`]) and what every PSA shares ([`PsaOptions`]).
//!
//! Invariant: a value of these types came from a parser of the API's PUT body, which names
//! every bad field at once as `(field path, fix)`, or from the stored form such a value wrote;
//! the rest of the fleet never re-checks them. Secrets are [`crate::ApiKey`]s: masked in every
//! view, kept out of the plain stored form, never printed.
//!
//! The PUT body of a PSA has its own credential fields and the shared options side by side at
//! the top level (see `DESIGN.md`, "PSA sync"); [`PsaConfig::parse`] reads the whole body.

mod autotask;
mod connectwise;
mod halo;
mod options;
pub mod schema;
mod spec;

pub use autotask::{parse_autotask, AutotaskConfig};
pub use connectwise::{parse_connectwise, ConnectWiseConfig, CwScheme, CwSite};
pub use halo::{parse_halo, HaloConfig};
pub use options::{DestinationKind, KnowledgeBase, LayoutIds, PsaOptions, SkipOptions, SortRule};
pub use spec::{ProviderHost, PsaConfig, PsaCredentials};

use crate::provider::RateLimit;
use crate::secret::{ApiKey, KeyRule};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Every bad field of a body: `(field path, what to do about it)`, e.g.
/// `("sortRules[2].type", "must not be empty: ...")`.
pub type FieldErrors = Vec<(String, String)>;

/// A PSA docsync reads companies and records from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum PsaKind {
    /// ConnectWise Manage (`connectwise-manage`).
    #[serde(rename = "connectwise-manage")]
    ConnectWiseManage,
    /// HaloPSA / HaloITSM (`halopsa`).
    #[serde(rename = "halopsa")]
    HaloPsa,
    /// Datto Autotask PSA (`autotask`).
    #[serde(rename = "autotask")]
    Autotask,
}

impl PsaKind {
    /// Every PSA, in display order.
    pub const ALL: [PsaKind; 3] = [
        PsaKind::ConnectWiseManage,
        PsaKind::HaloPsa,
        PsaKind::Autotask,
    ];

    /// The PSA's name as used in URLs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PsaKind::ConnectWiseManage => "connectwise-manage",
            PsaKind::HaloPsa => "halopsa",
            PsaKind::Autotask => "autotask",
        }
    }

    /// The budget a PSA key gets unless the integration's `rateLimit` overrides it:
    /// ConnectWise Manage 10 per second, Halo 300 per 5 minutes, Autotask 10,000 per hour.
    pub fn default_rate_limit(self) -> RateLimit {
        let (requests, per_seconds) = match self {
            PsaKind::ConnectWiseManage => (10, 1),
            PsaKind::HaloPsa => (300, 300),
            PsaKind::Autotask => (10_000, 3_600),
        };
        RateLimit {
            requests,
            per_seconds,
        }
    }

    /// The rate-limit key of this PSA's credential of one account (`{psa}:{account}`): every
    /// call made with it is paced under one budget. PSA names never equal provider names, so
    /// these keys never collide with [`crate::rate_limit_key`]'s.
    pub fn rate_limit_key(self, account_id: crate::AccountId) -> String {
        format!("{self}:{account_id}")
    }
}

impl fmt::Display for PsaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PsaKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PsaKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown PSA {s:?}: use \"connectwise-manage\", \"halopsa\" or \"autotask\""
                )
            })
    }
}

/// A PUT body read whole: the PSA's typed config, the shared options, and what was corrected
/// on the way (e.g. a pasted `https://` stripped) for the response's `notices`.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// The PSA's own config (credentials included).
    pub config: T,
    /// What every PSA shares.
    pub options: PsaOptions,
    /// Corrections the user should hear about.
    pub notices: Vec<String>,
}

/// The top-level keys whose values differ between two masked views (`old` before a PUT, `new`
/// after), sorted, for the audit log. Values are never returned, only names; a key present in
/// one view only counts as changed.
///
/// A secret shows here only when its masked form changed: two short keys both mask to `••••`.
/// [`PsaCredentials::audit_changes`] adds the secrets that changed whatever their masks.
pub fn changed_fields(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    old.keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

// ---- Helpers shared by the PSA parsers ----

/// A field path: `key` at the top level, else `prefix.key`.
fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The value of `key`, treating `null` as absent (every optional field takes its default).
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// What kind of JSON value `v` is, for "must be ..., got a number" (never the value itself:
/// used for secrets).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a (non-secret) value for error messages.
fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind_of(v).to_owned(),
        _ => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                let cut: String = text.chars().take(77).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    }
}

/// Names every key of `obj` not in `allowed` as an unknown field.
fn unknown_keys(
    obj: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
    hint: &str,
    errors: &mut FieldErrors,
) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push((path(prefix, key), format!("unknown field: {hint}")));
        }
    }
}

/// An optional boolean field: absent or null is `default`.
fn opt_bool(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
    default: bool,
    errors: &mut FieldErrors,
) -> bool {
    match present(obj, key) {
        None => default,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push((
                path(prefix, key),
                format!("must be true or false, got {}", shown(other)),
            ));
            default
        }
    }
}

/// The top level of a PSA's PUT body: the object itself (or the error for a body that is not
/// one, showing `example`), with every key that is neither one of `own` (the PSA's fields,
/// `read_only` ones a view may send back) nor a shared option named in `errors`.
pub(crate) fn body_object<'a>(
    body: &'a Value,
    psa: &str,
    own: &[&str],
    read_only: &[&str],
    example: &str,
    errors: &mut FieldErrors,
) -> Result<&'a Map<String, Value>, FieldErrors> {
    let Some(obj) = body.as_object() else {
        return Err(vec![(
            "body".into(),
            format!(
                "must be a JSON object such as {example}, got {}",
                kind_of(body)
            ),
        )]);
    };
    let allowed: Vec<&str> = own
        .iter()
        .chain(read_only)
        .chain(PsaOptions::FIELDS.iter())
        .copied()
        .collect();
    let hint = format!(
        "{psa} takes {} and the shared options {}",
        own.join(", "),
        PsaOptions::FIELDS.join(", ")
    );
    unknown_keys(obj, "", &allowed, &hint, errors);
    Ok(obj)
}

/// How a masked secret starts in views (see [`crate::mask`]); sent back, it keeps the secret.
const MASK_PREFIX: &str = "••••";

/// A raw user value in an error message: quoted, at most 80 characters.
pub(crate) fn quoted(raw: &str) -> String {
    if raw.chars().count() > 80 {
        let cut: String = raw.chars().take(77).collect();
        format!("{cut:?}...")
    } else {
        format!("{raw:?}")
    }
}

/// Reads one PSA secret field under its provider's `rule`: a new value (checked with
/// [`ApiKey::parse_with`]), or (with a previous config) the stored one when it is omitted,
/// `null` or sent back masked. Never echoes what was sent.
pub(crate) fn secret_field(
    obj: &Map<String, Value>,
    field: &str,
    rule: &KeyRule,
    previous: Option<&ApiKey>,
    errors: &mut FieldErrors,
) -> Option<ApiKey> {
    let hint = rule.hint;
    let mut fail = |message: String| {
        errors.push((field.to_owned(), message));
        None
    };
    match present(obj, field) {
        None => previous
            .cloned()
            .or_else(|| fail(format!("is required: {hint}"))),
        Some(Value::String(s)) if s.trim().starts_with(MASK_PREFIX) => match previous {
            Some(key) => Some(key.clone()),
            None => fail(format!(
                "is a masked value (••••) and no key is stored yet: {hint}"
            )),
        },
        Some(Value::String(s)) => match ApiKey::parse_with(field, s, rule) {
            Ok(key) => Some(key),
            // The field is the error's own first word; the path names it here.
            Err(e) => fail(
                e.strip_prefix(field)
                    .map_or(e.as_str(), str::trim_start)
                    .to_owned(),
            ),
        },
        Some(other) => fail(format!("must be a string, got {}: {hint}", kind_of(other))),
    }
}

/// A required string field: its text, or an error naming it.
pub(crate) fn required_str<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    example: &str,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    match present(obj, field) {
        Some(Value::String(s)) => Some(s),
        None => {
            errors.push((field.to_owned(), format!("is required: {example}")));
            None
        }
        Some(other) => {
            errors.push((
                field.to_owned(),
                format!("must be a string ({example}), got {}", shown(other)),
            ));
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_parse_print_and_serialize_as_their_names() {
        for kind in PsaKind::ALL {
            assert_eq!(kind.as_str().parse::<PsaKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
            assert_eq!(
                serde_json::from_value::<PsaKind>(json!(kind.as_str())).unwrap(),
                kind
            );
        }
        for bad in ["ConnectWise", "connectwise", "halo", "Autotask", ""] {
            let err = bad.parse::<PsaKind>().unwrap_err();
            assert!(
                err.contains("\"connectwise-manage\", \"halopsa\" or \"autotask\""),
                "{err}"
            );
        }
    }

    #[test]
    fn default_budgets_follow_each_psa() {
        let cw = PsaKind::ConnectWiseManage.default_rate_limit();
        assert_eq!((cw.requests, cw.per_seconds), (10, 1));
        let halo = PsaKind::HaloPsa.default_rate_limit();
        assert_eq!((halo.requests, halo.per_seconds), (300, 300));
        let at = PsaKind::Autotask.default_rate_limit();
        assert_eq!((at.requests, at.per_seconds), (10_000, 3_600));
        for kind in PsaKind::ALL {
            assert_eq!(kind.default_rate_limit().validate(), Ok(()));
        }
    }

    #[test]
    fn changed_fields_names_differing_top_level_keys() {
        let old =
            json!({"site": "a", "publicKey": "••••1234", "layouts": {"contacts": 1}, "gone": 1});
        let new =
            json!({"site": "a", "publicKey": "••••9999", "layouts": {"contacts": 2}, "added": 2});
        assert_eq!(
            changed_fields(&old, &new),
            ["added", "gone", "layouts", "publicKey"]
        );
        assert!(changed_fields(&new, &new).is_empty());
    }
}
