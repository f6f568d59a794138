//! Autotask PSA: the API user's user name, its secret and the integration's tracking
//! identifier (`integrationCode`); read from the PUT body together with the shared options,
//! shown masked, and stored as plain JSON plus two secrets. The zone (which Autotask host the
//! database lives on) is not configured: it is discovered from the user name through
//! `DOCSYNC_AUTOTASK_ZONE_URL` when the source is built.
//!
//! Invariant: an [`AutotaskConfig`] holds a user name that looks like the API user's e-mail
//! (no spaces, one `@`), a secret of at least 12 characters (`SECRET_RULE`) and a tracking
//! identifier of at least 20 characters (`INTEGRATION_CODE_RULE`), neither with spaces.

use super::spec::{ProviderHost, PsaCredentials};
use super::{
    body_object, quoted, required_str, secret_field, FieldErrors, Parsed, PsaKind, PsaOptions,
};
use crate::secret::{ApiKey, KeyRule, KeyShape};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Autotask's own top-level fields of the PUT body.
const FIELDS: [&str; 3] = ["username", "secret", "integrationCode"];
/// Where Autotask users find the API user's credentials.
const USER_HINT: &str = "create an API user in Autotask (Admin > Resources (Users) > New API \
                         User, security level API User (system)) and paste its user name, \
                         secret and the tracking identifier of its integration vendor";

/// The API user's secret. Autotask's Generate Secret button makes one of about 25 characters;
/// an administrator may type one instead, so the floor is lower.
pub(super) const SECRET_RULE: KeyRule = KeyRule {
    what: "an Autotask API user's secret",
    min_len: 12,
    shape: KeyShape::Any,
    hint: "paste the API user's secret (Admin > Resources (Users) > the API user > Security: \
           Generate Secret makes one of about 25 characters)",
};
/// The tracking identifier: Autotask generates it (27 capital letters and digits); it is
/// never typed, so a short one is always a wrong paste.
pub(super) const INTEGRATION_CODE_RULE: KeyRule = KeyRule {
    what: "an Autotask tracking identifier",
    min_len: 20,
    shape: KeyShape::Any,
    hint: "paste the API user's API Tracking Identifier (Admin > Resources (Users) > the API \
           user > API Tracking Identifier), 27 capital letters and digits such as \
           4AJTYIXNQC6KBJ4VEBDLG6RRAAP",
};

/// An Autotask integration's own config. Debug prints the secrets masked.
#[derive(Debug, Clone)]
pub struct AutotaskConfig {
    username: String,
    secret: ApiKey,
    integration_code: ApiKey,
}

/// The stored (plain, secret-free) form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    username: String,
}

impl AutotaskConfig {
    /// The secret name of the API user's secret.
    pub const SECRET: &'static str = "secret";
    /// The secret name of the tracking identifier.
    pub const INTEGRATION_CODE: &'static str = "integrationCode";

    /// The API user's user name (sent as `UserName`, and asked for in zone discovery).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The API user's secret (sent as `Secret`).
    pub fn secret(&self) -> &ApiKey {
        &self.secret
    }

    /// The tracking identifier (sent as `ApiIntegrationCode`).
    pub fn integration_code(&self) -> &ApiKey {
        &self.integration_code
    }
}

/// Parses an Autotask PUT body: `{username, secret, integrationCode}` and the shared options
/// at the top level, naming every bad or unknown field at once. With `previous`, the secrets
/// may be omitted or sent back masked.
pub fn parse_autotask(
    body: &Value,
    previous: Option<&AutotaskConfig>,
    _allow_private: bool,
) -> Result<Parsed<AutotaskConfig>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let obj = body_object(
        body,
        "Autotask",
        &FIELDS,
        &[],
        "{\"username\": \"api-user@mymsp.com\", \"secret\": \"...\", \"integrationCode\": \"...\"}",
        &mut errors,
    )?;
    let username = required_str(obj, "username", USER_HINT, &mut errors).and_then(|raw| {
        let t = raw.trim();
        let ok = raw.chars().count() <= 254
            && t.matches('@').count() == 1
            && !t.starts_with('@')
            && !t.ends_with('@')
            && !t.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Some(t.to_owned())
        } else {
            errors.push((
                "username".into(),
                format!(
                    "must be the API user's user name, an e-mail address such as \
                     api-user@mymsp.com, got {}",
                    quoted(raw)
                ),
            ));
            None
        }
    });
    let secret = secret_field(
        obj,
        AutotaskConfig::SECRET,
        &SECRET_RULE,
        previous.map(|p| &p.secret),
        &mut errors,
    );
    let integration_code = secret_field(
        obj,
        AutotaskConfig::INTEGRATION_CODE,
        &INTEGRATION_CODE_RULE,
        previous.map(|p| &p.integration_code),
        &mut errors,
    );
    let options = PsaOptions::parse_fields(obj, PsaKind::Autotask)
        .map_err(|e| errors.extend(e))
        .ok();
    match (username, secret, integration_code, options) {
        (Some(username), Some(secret), Some(integration_code), Some(options))
            if errors.is_empty() =>
        {
            Ok(Parsed {
                config: AutotaskConfig {
                    username,
                    secret,
                    integration_code,
                },
                options,
                notices: Vec::new(),
            })
        }
        _ => Err(errors),
    }
}

impl PsaCredentials for AutotaskConfig {
    const KIND: PsaKind = PsaKind::Autotask;
    const SECRET_FIELDS: &'static [&'static str] = &[Self::SECRET, Self::INTEGRATION_CODE];

    fn parse(
        body: &Value,
        previous: Option<&Self>,
        allow_private: bool,
    ) -> Result<Parsed<Self>, FieldErrors> {
        parse_autotask(body, previous, allow_private)
    }

    /// `{username, secret: "••••", integrationCode: "••••WXYZ"}`.
    fn own_view(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("username".into(), json!(self.username));
        m.insert(Self::SECRET.into(), json!(self.secret.masked()));
        m.insert(
            Self::INTEGRATION_CODE.into(),
            json!(self.integration_code.masked()),
        );
        m
    }

    fn stored_json(&self) -> Value {
        serde_json::to_value(Stored {
            username: self.username.clone(),
        })
        .unwrap_or(Value::Null)
    }

    fn secrets(&self) -> Vec<(&'static str, &ApiKey)> {
        vec![
            (Self::SECRET, &self.secret),
            (Self::INTEGRATION_CODE, &self.integration_code),
        ]
    }

    fn from_stored(
        plain: &Value,
        open: &mut dyn FnMut(&str) -> Result<ApiKey, String>,
    ) -> Result<Self, String> {
        let stored: Stored = serde_json::from_value(plain.clone())
            .map_err(|e| format!("stored Autotask config is unreadable: {e}"))?;
        if stored.username.is_empty() {
            return Err("stored Autotask config is unreadable: empty username".into());
        }
        Ok(Self {
            username: stored.username,
            secret: open(Self::SECRET)?,
            integration_code: open(Self::INTEGRATION_CODE)?,
        })
    }

    /// None from the config: the zone comes from the operator's discovery URL and Autotask.
    fn hosts(&self) -> Vec<ProviderHost> {
        Vec::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({
            "username": "api-user@mymsp.com",
            "secret": "S3cret-0123456789",
            "integrationCode": "TRACKING0123456789ABC",
        })
    }

    #[test]
    fn a_valid_body_parses_and_masks_both_secrets() {
        let p = parse_autotask(&body(), None, false).unwrap();
        assert_eq!(p.config.username(), "api-user@mymsp.com");
        let view = p.config.masked_json(&p.options);
        assert!(view["secret"].as_str().unwrap().starts_with("••••"));
        assert!(view["integrationCode"]
            .as_str()
            .unwrap()
            .starts_with("••••"));
        let text = view.to_string();
        assert!(!text.contains("S3cret-0123456789") && !text.contains("TRACKING0123456789ABC"));
        let again = parse_autotask(&view, Some(&p.config), false).unwrap();
        assert_eq!(again.config.secret().expose(), "S3cret-0123456789");
        assert_eq!(
            again.config.integration_code().expose(),
            "TRACKING0123456789ABC"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let b = json!({
            "username": "not an email",
            "secret": "short",
            "integrationCode": 42,
            "knowledgeBase": {"enabled": true},
            "zone": "x",
        });
        let errors = parse_autotask(&b, None, false).unwrap_err();
        let mut names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "integrationCode",
                "knowledgeBase.enabled",
                "secret",
                "username",
                "zone"
            ]
        );
        assert!(!format!("{errors:?}").contains("short\""));
        let errors = parse_autotask(&json!({}), None, false).unwrap_err();
        let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["username", "secret", "integrationCode"]);
    }

    #[test]
    fn short_secrets_and_tracking_identifiers_are_refused_with_what_a_real_one_is() {
        let mut b = body();
        b["secret"] = json!("S3cret-01234"[..11].to_owned());
        b["integrationCode"] = json!("TRACKING0123456789A"); // 19 characters
        let errors = parse_autotask(&b, None, false).unwrap_err();
        let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["secret", "integrationCode"]);
        assert!(
            errors[0].1.starts_with(
                "is shorter than 12 characters, too short for an Autotask API user's secret"
            ),
            "{}",
            errors[0].1
        );
        assert!(errors[0].1.contains("Generate Secret"), "{}", errors[0].1);
        assert!(
            errors[1].1.starts_with(
                "is shorter than 20 characters, too short for an Autotask tracking identifier"
            ),
            "{}",
            errors[1].1
        );
        assert!(
            errors[1].1.contains("27 capital letters and digits"),
            "{}",
            errors[1].1
        );
        assert!(!format!("{errors:?}").contains("S3cret-0123"));
        // What Autotask generates.
        b["secret"] = json!("5x*Na#B8Jq7$1~gQz0Z@4@eAf");
        b["integrationCode"] = json!("4AJTYIXNQC6KBJ4VEBDLG6RRAAP");
        let p = parse_autotask(&b, None, false).unwrap();
        assert_eq!(
            p.config.integration_code().expose(),
            "4AJTYIXNQC6KBJ4VEBDLG6RRAAP"
        );
    }

    #[test]
    fn the_stored_form_keeps_only_the_user_name() {
        let p = parse_autotask(&body(), None, false).unwrap();
        let (plain, secrets) = p.config.split();
        assert_eq!(plain, json!({"username": "api-user@mymsp.com"}));
        let kept: Vec<(String, String)> = secrets
            .iter()
            .map(|(n, k)| ((*n).to_owned(), k.expose().to_owned()))
            .collect();
        let back = AutotaskConfig::from_stored(&plain, &mut |n| {
            let (_, v) = kept.iter().find(|(k, _)| k == n).unwrap();
            ApiKey::parse(n, v)
        })
        .unwrap();
        assert_eq!(back.integration_code().expose(), "TRACKING0123456789ABC");
    }
}
