//! What a documentation integration (Hudu, IT Glue) writes of a snapshot: which of the seven
//! sections, whether an unchanged document is written again, and (Hudu) the MSP's own article
//! template.
//!
//! Invariant: a [`PostureOptions`] from [`PostureOptions::parse_fields`] names each section at
//! most once, in reading order, and holds a template of at most [`MAX_TEMPLATE_BYTES`] (its
//! syntax is checked by the renderer, in `docsync-sinks`). Its serde form (camelCase) is the
//! stored JSONB; fields missing from it take their defaults, so `{}` is "everything, always
//! written, the built-in layout".

use crate::provider::Provider;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// One of the seven sections of a posture document (the timestamps are always written).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum PostureSection {
    /// Tenant metadata and MFA adoption.
    Metadata,
    /// Conditional Access.
    ConditionalAccess,
    /// Standards status.
    Standards,
    /// Compliance scores.
    Compliance,
    /// Defender.
    Defender,
    /// Exchange Online.
    Exchange,
    /// Copilot.
    Copilot,
}

impl PostureSection {
    /// Every section, in reading order.
    pub const ALL: [PostureSection; 7] = [
        PostureSection::Metadata,
        PostureSection::ConditionalAccess,
        PostureSection::Standards,
        PostureSection::Compliance,
        PostureSection::Defender,
        PostureSection::Exchange,
        PostureSection::Copilot,
    ];

    /// The name as in JSON (`metadata`, `conditionalAccess`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PostureSection::Metadata => "metadata",
            PostureSection::ConditionalAccess => "conditionalAccess",
            PostureSection::Standards => "standards",
            PostureSection::Compliance => "compliance",
            PostureSection::Defender => "defender",
            PostureSection::Exchange => "exchange",
            PostureSection::Copilot => "copilot",
        }
    }

    /// The section named `name` (exactly as in JSON).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

fn all_sections() -> Vec<PostureSection> {
    PostureSection::ALL.to_vec()
}

fn yes() -> bool {
    true
}

/// The posture options of one documentation integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureOptions {
    /// The sections written, in reading order (default: all seven).
    #[serde(default = "all_sections")]
    pub sections: Vec<PostureSection>,
    /// Write a document whose content (timestamps aside) equals the last one written
    /// (default: true).
    #[serde(default = "yes")]
    pub write_unchanged: bool,
    /// Hudu only: a minijinja template of the article body (default: the built-in layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl Default for PostureOptions {
    fn default() -> Self {
        Self {
            sections: all_sections(),
            write_unchanged: true,
            template: None,
        }
    }
}

impl PostureOptions {
    /// The PUT fields these options take for `provider`.
    pub fn fields(provider: Provider) -> &'static [&'static str] {
        match provider {
            Provider::Hudu => &["sections", "writeUnchanged", "template"],
            Provider::ItGlue => &["sections", "writeUnchanged"],
        }
    }

    /// True when `section` is written.
    pub fn shows(&self, section: PostureSection) -> bool {
        self.sections.contains(&section)
    }

    /// Reads the options among the top-level keys of a PUT body for `provider` (the caller
    /// names unknown keys); absent or `null` fields take their defaults. Every bad field is
    /// returned as `(field, message)`; the template's syntax is not checked here.
    pub fn parse_fields(
        obj: &Map<String, Value>,
        provider: Provider,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut options = Self::default();
        match obj.get("sections").filter(|v| !v.is_null()) {
            None => {}
            Some(Value::Array(items)) => {
                let mut chosen = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().and_then(PostureSection::from_name) {
                        Some(s) => chosen.push(s),
                        None => errors.push((
                            format!("sections[{i}]"),
                            format!("must be one of {}, got {}", names(), shown(item)),
                        )),
                    }
                }
                options.sections = PostureSection::ALL
                    .into_iter()
                    .filter(|s| chosen.contains(s))
                    .collect();
            }
            Some(other) => errors.push((
                "sections".into(),
                format!(
                    "must be an array of section names ({}), got {}",
                    names(),
                    shown(other)
                ),
            )),
        }
        match obj.get("writeUnchanged").filter(|v| !v.is_null()) {
            None => {}
            Some(Value::Bool(b)) => options.write_unchanged = *b,
            Some(other) => errors.push((
                "writeUnchanged".into(),
                format!("must be true or false, got {}", shown(other)),
            )),
        }
        if provider == Provider::Hudu {
            match obj.get("template").filter(|v| !v.is_null()) {
                None => {}
                Some(Value::String(t)) if t.len() > MAX_TEMPLATE_BYTES => errors.push((
                    "template".into(),
                    format!(
                        "must be at most {MAX_TEMPLATE_BYTES} bytes, got {}",
                        t.len()
                    ),
                )),
                Some(Value::String(t)) if t.trim().is_empty() => errors.push((
                    "template".into(),
                    "must not be empty: leave it out or send null for the built-in layout".into(),
                )),
                Some(Value::String(t)) => options.template = Some(t.clone()),
                Some(other) => errors.push((
                    "template".into(),
                    format!(
                        "must be a string (a minijinja template), got {}",
                        shown(other)
                    ),
                )),
            }
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }
}

fn names() -> String {
    PostureSection::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as an error message shows it (kinds for containers, short text for scalars).
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, p: Provider) -> Result<PostureOptions, Vec<(String, String)>> {
        PostureOptions::parse_fields(v.as_object().expect("object"), p)
    }

    #[test]
    fn absent_fields_are_the_defaults_and_stored_empty_reads_back_the_same() {
        let o = parse(json!({}), Provider::Hudu).expect("ok");
        assert_eq!(o, PostureOptions::default());
        let stored: PostureOptions = serde_json::from_value(json!({})).expect("reads");
        assert_eq!(stored, o);
        let round: PostureOptions =
            serde_json::from_value(serde_json::to_value(&o).expect("json")).expect("reads");
        assert_eq!(round, o);
    }

    #[test]
    fn sections_are_kept_in_reading_order_once_each() {
        let o = parse(
            json!({"sections": ["copilot", "metadata", "copilot"], "writeUnchanged": false}),
            Provider::ItGlue,
        )
        .expect("ok");
        assert_eq!(
            o.sections,
            [PostureSection::Metadata, PostureSection::Copilot]
        );
        assert!(!o.write_unchanged);
    }

    #[test]
    fn an_unknown_section_is_named_by_its_index() {
        let e =
            parse(json!({"sections": ["metadata", "mfa", 3]}), Provider::Hudu).expect_err("bad");
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["sections[1]", "sections[2]"]);
        assert!(e[0].1.contains("conditionalAccess"), "{e:?}");
    }

    #[test]
    fn a_huge_template_is_refused() {
        let big = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        let e = parse(json!({"template": big}), Provider::Hudu).expect_err("too big");
        assert_eq!(e[0].0, "template");
        let ok = parse(
            json!({"template": "<p>{{ tenant.name }}</p>"}),
            Provider::Hudu,
        )
        .expect("ok");
        assert!(ok.template.is_some());
    }
}
