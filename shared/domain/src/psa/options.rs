//! What every PSA integration shares: destination, layouts, sort rules, what to skip, the
//! update/archive switches, the knowledge-base sync, schedule and budget.
//!
//! Invariant: a [`PsaOptions`] from [`PsaOptions::parse_fields`] holds only good values (positive
//! layout ids, non-empty trimmed type names, no two sort rules for one type, lists of at most
//! 200, a valid schedule and budget). Its serde form (camelCase) is the stored JSONB and the
//! options part of the masked view; reading it back with `serde_json::from_value` gives the
//! same value, and fields missing from an older stored form take their defaults.

use super::{opt_bool, path, present, shown, unknown_keys, FieldErrors, PsaKind};
use crate::provider::{Provider, RateLimit};
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most sort rules an integration may have.
const MAX_SORT_RULES: usize = 200;
/// The most entries of a `skip` type list.
const MAX_SKIP_TYPES: usize = 200;
/// The longest type name (sort rules, skip lists), in characters.
const MAX_TYPE_CHARS: usize = 255;

/// Where a sync writes: the account's configured integration of that provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DestinationKind {
    /// Hudu (`hudu`), the default.
    #[default]
    #[serde(rename = "hudu")]
    Hudu,
    /// IT Glue (`it-glue`): not accepted by the parser yet.
    #[serde(rename = "it-glue")]
    ItGlue,
}

impl DestinationKind {
    /// The name as in JSON (`hudu`, `it-glue`).
    pub fn as_str(self) -> &'static str {
        self.provider().as_str()
    }

    /// The documentation provider whose integration (URL, key, budget) the sync writes with.
    pub fn provider(self) -> Provider {
        match self {
            DestinationKind::Hudu => Provider::Hudu,
            DestinationKind::ItGlue => Provider::ItGlue,
        }
    }
}

/// Destination asset layout ids; `None` means "find the layout by its exact name (`Contacts`,
/// `Sites`, `Configurations`, `Agreements`), else create it". Every id is positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LayoutIds {
    /// Layout of contacts.
    pub contacts: Option<i64>,
    /// Layout of sites.
    pub sites: Option<i64>,
    /// Layout of configurations no sort rule picks.
    pub configurations: Option<i64>,
    /// Layout of agreements / contracts.
    pub agreements: Option<i64>,
}

/// The first rule whose `type` equals a configuration's type, ignoring case, picks its layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SortRule {
    /// The PSA's configuration type (ConnectWise configuration type, Halo asset type,
    /// Autotask configuration category), trimmed and non-empty. JSON `type`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The destination asset layout id (positive).
    pub layout_id: i64,
}

impl SortRule {
    /// Whether this rule applies to a configuration of type `type_name` (ignoring case and
    /// surrounding spaces).
    pub fn matches(&self, type_name: &str) -> bool {
        self.type_name.to_lowercase() == type_name.trim().to_lowercase()
    }
}

/// What a sync leaves out. A skipped kind is not read at all where the PSA allows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SkipOptions {
    /// Leave out inactive companies.
    pub inactive_companies: bool,
    /// Leave out contacts.
    pub contacts: bool,
    /// Leave out agreements / contracts.
    pub agreements: bool,
    /// Leave out configurations.
    pub configurations: bool,
    /// Leave out inactive configurations.
    pub inactive_configurations: bool,
    /// Leave out sites.
    pub sites: bool,
    /// Leave out companies of these types (trimmed, non-empty, at most 200).
    pub company_types: Vec<String>,
    /// Leave out configurations of these types (trimmed, non-empty, at most 200).
    pub configuration_types: Vec<String>,
}

/// The knowledge-base sync (Hudu articles into Halo's knowledge base; HaloPSA only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KnowledgeBase {
    /// Whether articles are written to the PSA.
    pub enabled: bool,
}

/// What every PSA integration shares. Defaults: destination Hudu, no layout ids, no sort
/// rules, nothing skipped, `autoUpdateNames`, `autoArchive` and `updateCompanyDetails` on,
/// `matchOnSerial` and the knowledge base off, every 3 hours, the PSA's default budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PsaOptions {
    /// Where the sync writes.
    pub destination: DestinationKind,
    /// Destination asset layout ids.
    pub layouts: LayoutIds,
    /// Configuration type -> layout rules, first match wins.
    pub sort_rules: Vec<SortRule>,
    /// What is left out.
    pub skip: SkipOptions,
    /// A rename in the PSA renames the asset.
    pub auto_update_names: bool,
    /// A record that becomes inactive or disappears has its asset archived (and unarchived
    /// when active again).
    pub auto_archive: bool,
    /// A matched company's details are updated from the PSA.
    pub update_company_details: bool,
    /// On the first sync, adopt an existing asset of the same serial before the same name.
    pub match_on_serial: bool,
    /// The knowledge-base sync (HaloPSA only).
    pub knowledge_base: KnowledgeBase,
    /// When syncs run.
    pub schedule: Schedule,
    /// The PSA key's budget; `None` is the PSA's default ([`PsaKind::default_rate_limit`]).
    pub rate_limit: Option<RateLimit>,
}

impl Default for PsaOptions {
    fn default() -> Self {
        Self {
            destination: DestinationKind::Hudu,
            layouts: LayoutIds::default(),
            sort_rules: Vec::new(),
            skip: SkipOptions::default(),
            auto_update_names: true,
            auto_archive: true,
            update_company_details: true,
            match_on_serial: false,
            knowledge_base: KnowledgeBase::default(),
            schedule: Schedule::psa_default(),
            rate_limit: None,
        }
    }
}

impl PsaOptions {
    /// The top-level keys of a PUT body that are shared options.
    pub const FIELDS: [&'static str; 11] = [
        "destination",
        "layouts",
        "sortRules",
        "skip",
        "autoUpdateNames",
        "autoArchive",
        "updateCompanyDetails",
        "matchOnSerial",
        "knowledgeBase",
        "schedule",
        "rateLimit",
    ];

    /// Parses an object holding only shared options (unknown keys are errors), for `kind`.
    pub fn parse(value: &Value, kind: PsaKind) -> Result<Self, FieldErrors> {
        let Some(obj) = value.as_object() else {
            return Err(vec![(
                "options".into(),
                format!(
                    "must be an object such as {{\"schedule\": {{\"mode\": \"every\", \"hours\": 3}}}}, got {}",
                    shown(value)
                ),
            )]);
        };
        let mut errors = FieldErrors::new();
        unknown_keys(obj, "", &Self::FIELDS, &Self::fields_hint(), &mut errors);
        match Self::parse_fields(obj, kind) {
            Ok(options) if errors.is_empty() => Ok(options),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        }
    }

    /// Reads the shared options among the top-level keys of a PUT body (other keys are left to
    /// the PSA's own parser, which also names unknown ones), collecting every bad field.
    /// Absent or `null` fields take their defaults.
    pub fn parse_fields(obj: &Map<String, Value>, kind: PsaKind) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let defaults = Self::default();
        let options = Self {
            destination: parse_destination(obj, &mut errors),
            layouts: parse_layouts(obj, &mut errors),
            sort_rules: parse_sort_rules(obj, &mut errors),
            skip: parse_skip(obj, &mut errors),
            auto_update_names: opt_bool(
                obj,
                "",
                "autoUpdateNames",
                defaults.auto_update_names,
                &mut errors,
            ),
            auto_archive: opt_bool(obj, "", "autoArchive", defaults.auto_archive, &mut errors),
            update_company_details: opt_bool(
                obj,
                "",
                "updateCompanyDetails",
                defaults.update_company_details,
                &mut errors,
            ),
            match_on_serial: opt_bool(
                obj,
                "",
                "matchOnSerial",
                defaults.match_on_serial,
                &mut errors,
            ),
            knowledge_base: parse_knowledge_base(obj, kind, &mut errors),
            schedule: match present(obj, "schedule") {
                None => defaults.schedule,
                Some(v) => Schedule::parse_or(v, &Schedule::psa_default()).unwrap_or_else(|e| {
                    errors.extend(e);
                    Schedule::psa_default()
                }),
            },
            rate_limit: parse_rate_limit(obj, &mut errors),
        };
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// The PSA key's budget: `rateLimit`, else the PSA's default.
    pub fn effective_rate_limit(&self, kind: PsaKind) -> RateLimit {
        self.rate_limit.unwrap_or_else(|| kind.default_rate_limit())
    }

    /// The layout of a configuration of type `type_name`: the first matching sort rule's, else
    /// `layouts.configurations` (`None`: the `Configurations` layout, found or created).
    pub fn configuration_layout(&self, type_name: &str) -> Option<i64> {
        self.sort_rules
            .iter()
            .find(|r| r.matches(type_name))
            .map(|r| r.layout_id)
            .or(self.layouts.configurations)
    }

    /// As JSON (camelCase), for storage and views.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn fields_hint() -> String {
        format!("the shared options are {}", Self::FIELDS.join(", "))
    }
}

fn parse_destination(obj: &Map<String, Value>, errors: &mut FieldErrors) -> DestinationKind {
    match present(obj, "destination") {
        None => DestinationKind::Hudu,
        Some(Value::String(s)) if s == "hudu" => DestinationKind::Hudu,
        Some(Value::String(s)) if s == "it-glue" => {
            errors.push((
                "destination".into(),
                "destination \"it-glue\" is not supported for PSA sync yet: use \"hudu\"".into(),
            ));
            DestinationKind::Hudu
        }
        Some(other) => {
            errors.push((
                "destination".into(),
                format!(
                    "must be \"hudu\" (the account's Hudu integration is written to), got {}",
                    shown(other)
                ),
            ));
            DestinationKind::Hudu
        }
    }
}

/// A positive id, or the error message for `v`.
fn positive_id(v: &Value) -> Result<i64, String> {
    match v.as_i64() {
        Some(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "must be a positive asset layout id (a whole number such as 12), got {}",
            shown(v)
        )),
    }
}

fn parse_layouts(obj: &Map<String, Value>, errors: &mut FieldErrors) -> LayoutIds {
    let mut layouts = LayoutIds::default();
    let Some(value) = present(obj, "layouts") else {
        return layouts;
    };
    let Some(inner) = value.as_object() else {
        errors.push((
            "layouts".into(),
            format!(
                "must be an object such as {{\"contacts\": 12, \"configurations\": 14}}, got {}",
                shown(value)
            ),
        ));
        return layouts;
    };
    const KEYS: [&str; 4] = ["contacts", "sites", "configurations", "agreements"];
    unknown_keys(
        inner,
        "layouts",
        &KEYS,
        "use contacts, sites, configurations and agreements",
        errors,
    );
    for key in KEYS {
        let Some(v) = present(inner, key) else {
            continue;
        };
        match positive_id(v) {
            Ok(id) => {
                let slot = match key {
                    "contacts" => &mut layouts.contacts,
                    "sites" => &mut layouts.sites,
                    "configurations" => &mut layouts.configurations,
                    _ => &mut layouts.agreements,
                };
                *slot = Some(id);
            }
            Err(message) => errors.push((
                path("layouts", key),
                format!("{message} (or null to find or create the layout by name)"),
            )),
        }
    }
    layouts
}

/// A type name: a string, trimmed, non-empty, at most 255 characters, without the NUL
/// character (which no PSA type has and PostgreSQL cannot store in JSON).
fn type_name(v: &Value) -> Result<String, String> {
    let Value::String(s) = v else {
        return Err(format!(
            "must be a type name (a string such as \"Server\"), got {}",
            shown(v)
        ));
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err("must not be empty: give the type's name as the PSA shows it".into());
    }
    if trimmed.chars().count() > MAX_TYPE_CHARS {
        return Err(format!(
            "is longer than {MAX_TYPE_CHARS} characters: give the type's name as the PSA shows it"
        ));
    }
    if trimmed.contains('\0') {
        return Err(
            "must not contain the NUL character: give the type's name as the PSA shows it".into(),
        );
    }
    Ok(trimmed.to_owned())
}

fn parse_sort_rules(obj: &Map<String, Value>, errors: &mut FieldErrors) -> Vec<SortRule> {
    let Some(value) = present(obj, "sortRules") else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        errors.push((
            "sortRules".into(),
            format!(
                "must be a list such as [{{\"type\": \"Server\", \"layoutId\": 12}}], got {}",
                shown(value)
            ),
        ));
        return Vec::new();
    };
    if items.len() > MAX_SORT_RULES {
        errors.push((
            "sortRules".into(),
            format!(
                "has {} rules; at most {MAX_SORT_RULES} are allowed: merge or remove some",
                items.len()
            ),
        ));
        return Vec::new();
    }
    let mut rules = Vec::new();
    // Lower-cased type -> the index of the rule that has it first.
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("sortRules[{i}]");
        let Some(rule) = item.as_object() else {
            errors.push((
                at,
                format!(
                    "must be an object such as {{\"type\": \"Server\", \"layoutId\": 12}}, got {}",
                    shown(item)
                ),
            ));
            continue;
        };
        unknown_keys(
            rule,
            &at,
            &["type", "layoutId"],
            "use type and layoutId",
            errors,
        );
        let name = match rule.get("type") {
            None => {
                errors.push((
                    path(&at, "type"),
                    "is required: the configuration type this rule sorts, e.g. \"Server\"".into(),
                ));
                None
            }
            Some(v) => type_name(v)
                .map_err(|m| errors.push((path(&at, "type"), m)))
                .ok(),
        };
        let layout_id = match rule.get("layoutId") {
            None => {
                errors.push((
                    path(&at, "layoutId"),
                    "is required: the destination asset layout id, e.g. 12".into(),
                ));
                None
            }
            Some(v) => positive_id(v)
                .map_err(|m| errors.push((path(&at, "layoutId"), m)))
                .ok(),
        };
        if let Some(name) = &name {
            let folded = name.to_lowercase();
            // A later rule repeating a type (ignoring case) could never apply: the first rule
            // wins, so the repeat is dropped (the stored view shows what is kept).
            if seen.iter().any(|(t, _)| *t == folded) {
                continue;
            }
            seen.push((folded, i));
        }
        if let (Some(type_name), Some(layout_id)) = (name, layout_id) {
            rules.push(SortRule {
                type_name,
                layout_id,
            });
        }
    }
    rules
}

fn parse_type_list(inner: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Vec<String> {
    let at = path("skip", key);
    let Some(value) = present(inner, key) else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        errors.push((
            at,
            format!(
                "must be a list of type names such as [\"Prospect\"], got {}",
                shown(value)
            ),
        ));
        return Vec::new();
    };
    if items.len() > MAX_SKIP_TYPES {
        errors.push((
            at,
            format!(
                "has {} entries; at most {MAX_SKIP_TYPES} are allowed",
                items.len()
            ),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match type_name(item) {
            Ok(name) => out.push(name),
            Err(m) => errors.push((format!("{at}[{i}]"), m)),
        }
    }
    out
}

fn parse_skip(obj: &Map<String, Value>, errors: &mut FieldErrors) -> SkipOptions {
    let mut skip = SkipOptions::default();
    let Some(value) = present(obj, "skip") else {
        return skip;
    };
    let Some(inner) = value.as_object() else {
        errors.push((
            "skip".into(),
            format!(
                "must be an object such as {{\"inactiveCompanies\": true, \"companyTypes\": [\"Prospect\"]}}, got {}",
                shown(value)
            ),
        ));
        return skip;
    };
    const KEYS: [&str; 8] = [
        "inactiveCompanies",
        "contacts",
        "agreements",
        "configurations",
        "inactiveConfigurations",
        "sites",
        "companyTypes",
        "configurationTypes",
    ];
    unknown_keys(
        inner,
        "skip",
        &KEYS,
        &format!("use {}", KEYS.join(", ")),
        errors,
    );
    skip.inactive_companies = opt_bool(inner, "skip", "inactiveCompanies", false, errors);
    skip.contacts = opt_bool(inner, "skip", "contacts", false, errors);
    skip.agreements = opt_bool(inner, "skip", "agreements", false, errors);
    skip.configurations = opt_bool(inner, "skip", "configurations", false, errors);
    skip.inactive_configurations = opt_bool(inner, "skip", "inactiveConfigurations", false, errors);
    skip.sites = opt_bool(inner, "skip", "sites", false, errors);
    skip.company_types = parse_type_list(inner, "companyTypes", errors);
    skip.configuration_types = parse_type_list(inner, "configurationTypes", errors);
    skip
}

fn parse_knowledge_base(
    obj: &Map<String, Value>,
    kind: PsaKind,
    errors: &mut FieldErrors,
) -> KnowledgeBase {
    let Some(value) = present(obj, "knowledgeBase") else {
        return KnowledgeBase::default();
    };
    let Some(inner) = value.as_object() else {
        errors.push((
            "knowledgeBase".into(),
            format!(
                "must be an object such as {{\"enabled\": false}}, got {}",
                shown(value)
            ),
        ));
        return KnowledgeBase::default();
    };
    unknown_keys(inner, "knowledgeBase", &["enabled"], "use enabled", errors);
    let enabled = opt_bool(inner, "knowledgeBase", "enabled", false, errors);
    if enabled && kind != PsaKind::HaloPsa {
        errors.push((
            "knowledgeBase.enabled".into(),
            format!(
                "the knowledge-base sync is for HaloPSA only, not {kind}: set enabled to false or leave knowledgeBase out"
            ),
        ));
        return KnowledgeBase::default();
    }
    KnowledgeBase { enabled }
}

/// A budget number: a whole number that fits in `u32`, or the message for `v`.
fn budget_number(v: &Value, max: u32) -> Result<u32, String> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("must be a whole number from 1 to {max}, got {}", shown(v)))
}

fn parse_rate_limit(obj: &Map<String, Value>, errors: &mut FieldErrors) -> Option<RateLimit> {
    let value = present(obj, "rateLimit")?;
    let Some(inner) = value.as_object() else {
        errors.push((
            "rateLimit".into(),
            format!(
                "must be an object such as {{\"requests\": 10, \"perSeconds\": 1}} (or null for the PSA's default), got {}",
                shown(value)
            ),
        ));
        return None;
    };
    unknown_keys(
        inner,
        "rateLimit",
        &["requests", "perSeconds"],
        "use requests and perSeconds",
        errors,
    );
    let mut number = |key: &str, max: u32| match inner.get(key) {
        None => {
            errors.push((
                path("rateLimit", key),
                format!(
                    "is required with rateLimit (from 1 to {max}); leave rateLimit out for the PSA's default"
                ),
            ));
            None
        }
        Some(v) => budget_number(v, max)
            .map_err(|m| errors.push((path("rateLimit", key), m)))
            .ok(),
    };
    let requests = number("requests", RateLimit::MAX_REQUESTS);
    let per_seconds = number("perSeconds", RateLimit::MAX_PER_SECONDS);
    let limit = RateLimit {
        requests: requests?,
        per_seconds: per_seconds?,
    };
    match limit.validate() {
        Ok(()) => Some(limit),
        Err(message) => {
            // `validate` names its field at the start of the message.
            let field = if message.starts_with("rateLimit.perSeconds") {
                "rateLimit.perSeconds"
            } else {
                "rateLimit.requests"
            };
            let fix = message
                .strip_prefix(field)
                .map(str::trim_start)
                .unwrap_or(&message)
                .to_owned();
            errors.push((field.into(), fix));
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleMode;
    use serde_json::json;

    fn parse(v: Value) -> Result<PsaOptions, FieldErrors> {
        PsaOptions::parse(&v, PsaKind::ConnectWiseManage)
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn an_empty_body_is_every_default() {
        let o = parse(json!({})).unwrap();
        assert_eq!(o, PsaOptions::default());
        assert_eq!(o.destination, DestinationKind::Hudu);
        assert!(o.auto_update_names && o.auto_archive && o.update_company_details);
        assert!(!o.match_on_serial && !o.knowledge_base.enabled);
        assert_eq!(o.schedule, Schedule::psa_default());
        assert_eq!(o.schedule.hours, Some(3));
        assert_eq!(o.rate_limit, None);
        assert_eq!(
            o.effective_rate_limit(PsaKind::HaloPsa),
            PsaKind::HaloPsa.default_rate_limit()
        );
        // null is "not given" for every optional field.
        let nulls: Map<String, Value> = PsaOptions::FIELDS
            .iter()
            .map(|k| ((*k).to_owned(), Value::Null))
            .collect();
        assert_eq!(parse(Value::Object(nulls)).unwrap(), PsaOptions::default());
    }

    #[test]
    fn a_full_body_parses_to_typed_values() {
        let o = PsaOptions::parse(
            &json!({
                "destination": "hudu",
                "layouts": {"contacts": 11, "sites": 12, "configurations": 13, "agreements": null},
                "sortRules": [{"type": " Server ", "layoutId": 20}, {"type": "Firewall", "layoutId": 21}],
                "skip": {"inactiveCompanies": true, "sites": true, "companyTypes": ["Prospect", " Vendor"],
                         "configurationTypes": []},
                "autoUpdateNames": false,
                "autoArchive": false,
                "updateCompanyDetails": false,
                "matchOnSerial": true,
                "knowledgeBase": {"enabled": true},
                "schedule": {"mode": "every", "hours": 6},
                "rateLimit": {"requests": 5, "perSeconds": 2}
            }),
            PsaKind::HaloPsa,
        )
        .unwrap();
        assert_eq!(
            o.layouts,
            LayoutIds {
                contacts: Some(11),
                sites: Some(12),
                configurations: Some(13),
                agreements: None
            }
        );
        assert_eq!(o.sort_rules[0].type_name, "Server");
        assert_eq!(o.configuration_layout("server"), Some(20));
        assert_eq!(o.configuration_layout("Laptop"), Some(13));
        assert!(o.skip.inactive_companies && o.skip.sites && !o.skip.contacts);
        assert_eq!(o.skip.company_types, ["Prospect", "Vendor"]);
        assert!(!o.auto_update_names && !o.auto_archive && !o.update_company_details);
        assert!(o.match_on_serial && o.knowledge_base.enabled);
        assert_eq!(o.schedule, Schedule::every_hours(6));
        assert_eq!(
            o.rate_limit,
            Some(RateLimit {
                requests: 5,
                per_seconds: 2
            })
        );
        // Stored as JSONB and read back: the same typed value.
        let stored = serde_json::to_value(&o).unwrap();
        assert_eq!(
            stored["sortRules"][0],
            json!({"type": "Server", "layoutId": 20})
        );
        assert_eq!(stored["knowledgeBase"], json!({"enabled": true}));
        assert_eq!(stored["schedule"]["hours"], json!(6));
        assert_eq!(serde_json::from_value::<PsaOptions>(stored).unwrap(), o);
        let defaults = PsaOptions::default().to_json();
        assert_eq!(
            serde_json::from_value::<PsaOptions>(defaults).unwrap(),
            PsaOptions::default()
        );
        // An older stored form without newer fields reads with their defaults.
        let old: PsaOptions = serde_json::from_value(json!({"autoArchive": false})).unwrap();
        assert_eq!(
            old,
            PsaOptions {
                auto_archive: false,
                ..PsaOptions::default()
            }
        );
    }

    #[test]
    fn a_type_name_with_a_nul_character_is_refused() {
        let errs = parse(
            json!({"sortRules": [{"type": "Ser\u{0}ver", "layoutId": 3}],
                                "skip": {"companyTypes": ["a\u{0}"]}}),
        )
        .unwrap_err();
        let mut got = fields(&errs);
        got.sort_unstable();
        assert_eq!(
            got,
            ["skip.companyTypes[0]", "sortRules[0].type"],
            "{errs:?}"
        );
    }

    #[test]
    fn a_sort_rule_repeating_a_type_is_dropped_as_the_first_rule_wins() {
        let o = parse(json!({"sortRules": [
            {"type": "Server", "layoutId": 3},
            {"type": "SERVER", "layoutId": 5},
            {"type": "Laptop", "layoutId": 6},
        ]}))
        .unwrap();
        assert_eq!(o.sort_rules.len(), 2);
        assert_eq!(o.configuration_layout("server"), Some(3));
        assert_eq!(o.configuration_layout("laptop"), Some(6));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errs = parse(json!({
            "destination": "it-glue",
            "layouts": {"contacts": 0, "sites": -4, "configurations": 1.5, "agreements": "7", "bar": 1},
            "sortRules": [
                {"type": "Server", "layoutId": 3},
                {"type": "  ", "layoutId": 0},
                {"type": 5, "layoutId": 4, "x": true},
                {"type": "SERVER", "layoutId": 5},
                {},
                "Server"
            ],
            "skip": {"foo": true, "contacts": "yes", "companyTypes": ["", 3], "configurationTypes": "Laptop"},
            "autoUpdateNames": "true",
            "autoArchive": 1,
            "updateCompanyDetails": [],
            "matchOnSerial": {},
            "knowledgeBase": {"enabled": true, "articles": 1},
            "schedule": {"mode": "every", "hours": 48},
            "rateLimit": {"requests": 0, "perSeconds": -1, "burst": 2},
            "surprise": 1
        }))
        .unwrap_err();
        let mut got = fields(&errs);
        got.sort_unstable();
        let mut want = vec![
            "surprise",
            "destination",
            "layouts.bar",
            "layouts.contacts",
            "layouts.sites",
            "layouts.configurations",
            "layouts.agreements",
            "sortRules[1].type",
            "sortRules[1].layoutId",
            "sortRules[2].x",
            "sortRules[2].type",
            "sortRules[4].type",
            "sortRules[4].layoutId",
            "sortRules[5]",
            "skip.foo",
            "skip.contacts",
            "skip.companyTypes[0]",
            "skip.companyTypes[1]",
            "skip.configurationTypes",
            "autoUpdateNames",
            "autoArchive",
            "updateCompanyDetails",
            "matchOnSerial",
            "knowledgeBase.articles",
            "knowledgeBase.enabled",
            "schedule.hours",
            "rateLimit.burst",
            "rateLimit.perSeconds",
        ];
        want.sort_unstable();
        assert_eq!(got, want, "{errs:#?}");
        let message = |field: &str| {
            errs.iter()
                .find(|(f, _)| f == field)
                .map(|(_, m)| m.clone())
                .unwrap()
        };
        assert_eq!(
            message("destination"),
            "destination \"it-glue\" is not supported for PSA sync yet: use \"hudu\""
        );
        assert!(message("layouts.contacts").contains("positive"));
        assert!(message("autoArchive").contains("true or false"));
        assert!(message("knowledgeBase.enabled").contains("HaloPSA"));
        assert!(message("schedule.hours").contains("1 to 24"));
        assert!(message("rateLimit.perSeconds").contains("whole number"));
    }

    #[test]
    fn budgets_are_checked_by_rate_limit_rules() {
        let errs = parse(json!({"rateLimit": {"requests": 0, "perSeconds": 1}})).unwrap_err();
        assert_eq!(fields(&errs), ["rateLimit.requests"]);
        assert!(errs[0].1.starts_with("must be from 1 to"), "{}", errs[0].1);
        let errs = parse(json!({"rateLimit": {"requests": 1, "perSeconds": 90000}})).unwrap_err();
        assert_eq!(fields(&errs), ["rateLimit.perSeconds"]);
        let errs = parse(json!({"rateLimit": {"requests": 5_000_000_000u64}})).unwrap_err();
        assert_eq!(
            fields(&errs),
            ["rateLimit.requests", "rateLimit.perSeconds"]
        );
        let errs = parse(json!({"rateLimit": 10})).unwrap_err();
        assert_eq!(fields(&errs), ["rateLimit"]);
    }

    #[test]
    fn the_knowledge_base_is_halo_only() {
        for kind in [PsaKind::ConnectWiseManage, PsaKind::Autotask] {
            let errs =
                PsaOptions::parse(&json!({"knowledgeBase": {"enabled": true}}), kind).unwrap_err();
            assert_eq!(fields(&errs), ["knowledgeBase.enabled"]);
            // Off is fine everywhere.
            assert!(PsaOptions::parse(&json!({"knowledgeBase": {"enabled": false}}), kind).is_ok());
        }
        let o = PsaOptions::parse(
            &json!({"knowledgeBase": {"enabled": true}}),
            PsaKind::HaloPsa,
        )
        .unwrap();
        assert!(o.knowledge_base.enabled);
    }

    #[test]
    fn lists_are_bounded() {
        let rules: Vec<Value> = (0..201)
            .map(|i| json!({"type": format!("T{i}"), "layoutId": 1}))
            .collect();
        let errs = parse(json!({ "sortRules": rules })).unwrap_err();
        assert_eq!(fields(&errs), ["sortRules"]);
        assert!(errs[0].1.contains("200"));
        let rules: Vec<Value> = (0..200)
            .map(|i| json!({"type": format!("T{i}"), "layoutId": 1}))
            .collect();
        assert_eq!(
            parse(json!({ "sortRules": rules }))
                .unwrap()
                .sort_rules
                .len(),
            200
        );
        let types: Vec<String> = (0..201).map(|i| format!("T{i}")).collect();
        let errs = parse(json!({"skip": {"companyTypes": types}})).unwrap_err();
        assert_eq!(fields(&errs), ["skip.companyTypes"]);
    }

    #[test]
    fn schedules_default_to_every_three_hours_and_take_posture_modes() {
        let o = parse(json!({"schedule": {"mode": "manual"}})).unwrap();
        assert_eq!(o.schedule.mode, ScheduleMode::Manual);
        let o = parse(json!({"schedule": {"hours": 12}})).unwrap();
        assert_eq!(o.schedule, Schedule::every_hours(12));
        let o = parse(json!({"schedule": {"mode": "nightly", "at": "01:30"}})).unwrap();
        assert_eq!(
            (o.schedule.mode, o.schedule.hours),
            (ScheduleMode::Nightly, None)
        );
        let errs = parse(json!({"schedule": {"mode": "manual", "hours": 3}})).unwrap_err();
        assert_eq!(fields(&errs), ["schedule.hours"]);
        let errs = parse(json!({"schedule": "every"})).unwrap_err();
        assert_eq!(fields(&errs), ["schedule"]);
    }

    #[test]
    fn a_non_object_is_refused() {
        let errs = parse(json!([1])).unwrap_err();
        assert_eq!(fields(&errs), ["options"]);
    }
}
