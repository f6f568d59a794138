//! HaloPSA / HaloITSM: the resource server (`https://{instance}/api`), the authorisation
//! server (by default the same instance's `/auth`), the hosted tenant, and the API
//! application's client id and secret; read from the PUT body together with the shared
//! options, shown masked, and stored as plain JSON plus one secret.
//!
//! Invariant: a [`HaloConfig`] holds a resource server URL ending in `/api` and an auth server
//! URL (https unless the sandbox allowed plain http; no credentials, query or fragment, no
//! trailing slash), a tenant without spaces when one is given, a client id of at least 16
//! characters without spaces and a client secret of at least 32 (`CLIENT_SECRET_RULE`).

use super::spec::{ProviderHost, PsaCredentials};
use super::{
    body_object, kind_of, present, quoted, required_str, secret_field, FieldErrors, Parsed,
    PsaKind, PsaOptions,
};
use crate::secret::{ApiKey, KeyRule, KeyShape};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Halo's own top-level fields of the PUT body.
const FIELDS: [&str; 5] = [
    "resourceServer",
    "authServer",
    "tenant",
    "clientId",
    "clientSecret",
];
/// Where Halo users find the client id and secret.
const APP_HINT: &str = "create an API application in Halo (Configuration > Integrations > \
                        Halo PSA API > View Applications, authentication method Client ID and \
                        Secret, permissions read:customers and read:assets) and paste its \
                        client id";
/// The longest tenant or client id.
const MAX_ID_CHARS: usize = 128;
/// The shortest plausible client id: Halo generates a GUID (36 characters).
const MIN_CLIENT_ID_CHARS: usize = 16;
/// The API application's client secret: Halo generates it, a long random value (two GUIDs'
/// worth, over 60 characters), shown once when the application is saved.
pub(super) const CLIENT_SECRET_RULE: KeyRule = KeyRule {
    what: "a Halo client secret",
    min_len: 32,
    shape: KeyShape::Any,
    hint: "paste the client secret Halo generated for the API application (Configuration > \
           Integrations > Halo PSA API > View Applications, authentication method Client ID \
           and Secret, permissions read:customers and read:assets), a value of over 60 \
           characters shown once when the application is saved",
};

/// A HaloPSA integration's own config. Debug prints the secret masked.
#[derive(Debug, Clone)]
pub struct HaloConfig {
    resource_server: String,
    auth_server: String,
    tenant: Option<String>,
    client_id: String,
    client_secret: ApiKey,
}

/// The stored (plain, secret-free) form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    resource_server: String,
    auth_server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    client_id: String,
}

impl HaloConfig {
    /// The secret name of the client secret.
    pub const CLIENT_SECRET: &'static str = "clientSecret";

    /// The API root, e.g. `https://mymsp.halopsa.com/api` (append `/Client` ...).
    pub fn resource_server(&self) -> &str {
        &self.resource_server
    }

    /// The authorisation server, e.g. `https://mymsp.halopsa.com/auth` (append `/token`).
    pub fn auth_server(&self) -> &str {
        &self.auth_server
    }

    /// The hosted tenant sent as `?tenant=` on the token request, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The API application's client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The API application's client secret.
    pub fn client_secret(&self) -> &ApiKey {
        &self.client_secret
    }

    /// The token endpoint: `{authServer}/token`, with `?tenant=` when a tenant is set.
    pub fn token_url(&self) -> String {
        match &self.tenant {
            Some(t) => format!("{}/token?tenant={t}", self.auth_server),
            None => format!("{}/token", self.auth_server),
        }
    }
}

/// A Halo server URL the user typed, cleaned: `(url without trailing slash, notice)`.
/// `resource` asks for the `/api` root (added when only the instance is given); otherwise the
/// `/auth` root (a pasted `/token` is stripped).
fn parse_server(
    field: &str,
    raw: &str,
    resource: bool,
    allow_private: bool,
) -> Result<(String, Option<String>), String> {
    let example = if resource {
        "https://mymsp.halopsa.com/api"
    } else {
        "https://mymsp.halopsa.com/auth"
    };
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed)
        .map_err(|_| format!("must be a URL such as {example}, got {}", quoted(raw)))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => {
            return Err(format!(
                "must start with https:// (got {other:?}), e.g. {example}"
            ))
        }
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("has no host name: give e.g. {example}"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "must not contain a user name or password: give e.g. {example}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "must not contain ?query or #fragment: give e.g. {example}"
        ));
    }
    if !allow_private && !host.contains('.') {
        return Err(format!(
            "must be a full host name, e.g. {example}, got {}",
            quoted(raw)
        ));
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let root = format!("{}://{host}{port}", url.scheme());
    let path = url.path().trim_end_matches('/');
    let lower = path.to_ascii_lowercase();
    let (wanted, notice) = if resource {
        match lower.find("/api") {
            Some(i) if lower[i..] == *"/api" => (path.to_owned(), None),
            Some(i) if lower[i + 4..].starts_with('/') => (
                path[..i + 4].to_owned(),
                Some(format!(
                    "{field}: removed {:?}; give the API root",
                    &path[i + 4..]
                )),
            ),
            None if path.is_empty() => (
                "/api".to_owned(),
                Some(format!("{field}: added \"/api\" (Halo's API root)")),
            ),
            _ => {
                return Err(format!(
                    "must be your Halo API root ending in /api, e.g. {example}, got {}",
                    quoted(raw)
                ))
            }
        }
    } else if lower.ends_with("/token") {
        (
            path[..path.len() - 6].to_owned(),
            Some(format!(
                "{field}: removed \"/token\"; docsync appends it itself"
            )),
        )
    } else {
        (path.to_owned(), None)
    };
    Ok((format!("{root}{wanted}"), notice))
}

/// A tenant or client id: trimmed, 1 to 128 characters, no spaces or URL separators.
fn parse_id(raw: &str, example: &str) -> Result<String, String> {
    let t = raw.trim();
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '&' | '%');
    if t.is_empty() || t.chars().count() > MAX_ID_CHARS || t.chars().any(bad) {
        return Err(format!(
            "must be {example} (no spaces or slashes, at most {MAX_ID_CHARS} characters), got {}",
            quoted(raw)
        ));
    }
    Ok(t.to_owned())
}

/// Parses a HaloPSA PUT body: `{resourceServer, authServer?, tenant?, clientId,
/// clientSecret}` and the shared options at the top level, naming every bad or unknown field
/// at once. With `previous`, `clientSecret` may be omitted or sent back masked.
pub fn parse_halo(
    body: &Value,
    previous: Option<&HaloConfig>,
    allow_private: bool,
) -> Result<Parsed<HaloConfig>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut notices = Vec::new();
    let obj = body_object(
        body,
        "HaloPSA",
        &FIELDS,
        &[],
        "{\"resourceServer\": \"https://mymsp.halopsa.com/api\", \"tenant\": \"mymsp\", \"clientId\": \"...\", \"clientSecret\": \"...\"}",
        &mut errors,
    )?;

    let mut server =
        |field: &str, raw: &str, resource: bool, errors: &mut FieldErrors| match parse_server(
            field,
            raw,
            resource,
            allow_private,
        ) {
            Ok((url, notice)) => {
                notices.extend(notice);
                Some(url)
            }
            Err(m) => {
                errors.push((field.to_owned(), m));
                None
            }
        };
    let resource_server = required_str(
        obj,
        "resourceServer",
        "your Halo API root, e.g. \"https://mymsp.halopsa.com/api\"",
        &mut errors,
    )
    .and_then(|raw| server("resourceServer", raw, true, &mut errors));
    let auth_server = match present(obj, "authServer") {
        None => resource_server
            .as_ref()
            .map(|r| Some(format!("{}/auth", &r[..r.len() - 4]))),
        Some(Value::String(raw)) => server("authServer", raw, false, &mut errors).map(Some),
        Some(other) => {
            errors.push((
                "authServer".into(),
                format!(
                    "must be a URL such as \"https://mymsp.halopsa.com/auth\", got {}",
                    kind_of(other)
                ),
            ));
            None
        }
    }
    .flatten();
    let tenant = match present(obj, "tenant") {
        None => Some(None),
        Some(Value::String(raw)) if raw.trim().is_empty() => Some(None),
        Some(Value::String(raw)) => parse_id(raw, "your hosted Halo tenant, e.g. \"mymsp\"")
            .map(Some)
            .map_err(|m| errors.push(("tenant".into(), m)))
            .ok(),
        Some(other) => {
            errors.push((
                "tenant".into(),
                format!("must be a string such as \"mymsp\", got {}", kind_of(other)),
            ));
            None
        }
    };
    let client_id = required_str(obj, "clientId", APP_HINT, &mut errors).and_then(|raw| {
        parse_id(raw, "the API application's client id")
            .and_then(|id| {
                if id.chars().count() < MIN_CLIENT_ID_CHARS {
                    Err(format!(
                        "is shorter than {MIN_CLIENT_ID_CHARS} characters, too short for a Halo \
                         client id: Halo shows it (a GUID such as \
                         3f1e2d4c-5b6a-4c7d-8e9f-0123456789ab) next to the secret"
                    ))
                } else {
                    Ok(id)
                }
            })
            .map_err(|m| errors.push(("clientId".into(), m)))
            .ok()
    });
    let client_secret = secret_field(
        obj,
        HaloConfig::CLIENT_SECRET,
        &CLIENT_SECRET_RULE,
        previous.map(|p| &p.client_secret),
        &mut errors,
    );
    let options = PsaOptions::parse_fields(obj, PsaKind::HaloPsa)
        .map_err(|e| errors.extend(e))
        .ok();
    match (
        resource_server,
        auth_server,
        tenant,
        client_id,
        client_secret,
        options,
    ) {
        (
            Some(resource_server),
            Some(auth_server),
            Some(tenant),
            Some(client_id),
            Some(client_secret),
            Some(options),
        ) if errors.is_empty() => Ok(Parsed {
            config: HaloConfig {
                resource_server,
                auth_server,
                tenant,
                client_id,
                client_secret,
            },
            options,
            notices,
        }),
        _ => Err(errors),
    }
}

fn host_of(field: &'static str, url: &str) -> ProviderHost {
    let parsed = url::Url::parse(url).ok();
    let authority = parsed
        .as_ref()
        .map(|u| {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("https://{}{port}", u.host_str().unwrap_or_default())
        })
        .unwrap_or_default();
    ProviderHost {
        field,
        url: authority,
        https: parsed.is_some_and(|u| u.scheme() == "https"),
    }
}

impl PsaCredentials for HaloConfig {
    const KIND: PsaKind = PsaKind::HaloPsa;
    const SECRET_FIELDS: &'static [&'static str] = &[Self::CLIENT_SECRET];

    fn parse(
        body: &Value,
        previous: Option<&Self>,
        allow_private: bool,
    ) -> Result<Parsed<Self>, FieldErrors> {
        parse_halo(body, previous, allow_private)
    }

    /// `{resourceServer, authServer, tenant, clientId, clientSecret: "••••abcd"}`.
    fn own_view(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("resourceServer".into(), json!(self.resource_server));
        m.insert("authServer".into(), json!(self.auth_server));
        m.insert("tenant".into(), json!(self.tenant));
        m.insert("clientId".into(), json!(self.client_id));
        m.insert(
            Self::CLIENT_SECRET.into(),
            json!(self.client_secret.masked()),
        );
        m
    }

    fn stored_json(&self) -> Value {
        serde_json::to_value(Stored {
            resource_server: self.resource_server.clone(),
            auth_server: self.auth_server.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
        })
        .unwrap_or(Value::Null)
    }

    fn secrets(&self) -> Vec<(&'static str, &ApiKey)> {
        vec![(Self::CLIENT_SECRET, &self.client_secret)]
    }

    fn from_stored(
        plain: &Value,
        open: &mut dyn FnMut(&str) -> Result<ApiKey, String>,
    ) -> Result<Self, String> {
        let stored: Stored = serde_json::from_value(plain.clone())
            .map_err(|e| format!("stored HaloPSA config is unreadable: {e}"))?;
        if stored.resource_server.is_empty() || stored.client_id.is_empty() {
            return Err(
                "stored HaloPSA config is unreadable: empty resourceServer or clientId".into(),
            );
        }
        Ok(Self {
            resource_server: stored.resource_server,
            auth_server: stored.auth_server,
            tenant: stored.tenant,
            client_id: stored.client_id,
            client_secret: open(Self::CLIENT_SECRET)?,
        })
    }

    fn hosts(&self) -> Vec<ProviderHost> {
        vec![
            host_of("resourceServer", &self.resource_server),
            host_of("authServer", &self.auth_server),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({
            "resourceServer": "https://mymsp.halopsa.com/api",
            "tenant": "mymsp",
            "clientId": "3f1e2d4c-aaaa-bbbb-cccc-0123456789ab",
            "clientSecret": "0123456789abcdef-0123456789abcdef-secret",
        })
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn the_auth_server_defaults_to_the_instance_auth_root() {
        let p = parse_halo(&body(), None, false).unwrap();
        assert_eq!(p.config.resource_server(), "https://mymsp.halopsa.com/api");
        assert_eq!(p.config.auth_server(), "https://mymsp.halopsa.com/auth");
        assert_eq!(
            p.config.token_url(),
            "https://mymsp.halopsa.com/auth/token?tenant=mymsp"
        );
        assert!(p.notices.is_empty());
        let mut b = body();
        b["authServer"] = json!("https://auth.halopsa.com/token/");
        b.as_object_mut().unwrap().remove("tenant");
        let p = parse_halo(&b, None, false).unwrap();
        assert_eq!(p.config.token_url(), "https://auth.halopsa.com/token");
        assert_eq!(
            p.notices,
            ["authServer: removed \"/token\"; docsync appends it itself"]
        );
    }

    #[test]
    fn a_pasted_instance_or_endpoint_url_becomes_the_api_root_with_a_notice() {
        for (raw, want, notice) in [
            (
                "https://mymsp.halopsa.com",
                "https://mymsp.halopsa.com/api",
                "resourceServer: added \"/api\" (Halo's API root)",
            ),
            (
                "https://MyMsp.HaloPSA.com/api/Client/",
                "https://mymsp.halopsa.com/api",
                "resourceServer: removed \"/Client\"; give the API root",
            ),
        ] {
            let mut b = body();
            b["resourceServer"] = json!(raw);
            let p = parse_halo(&b, None, false).unwrap();
            assert_eq!(p.config.resource_server(), want, "{raw}");
            assert_eq!(p.notices, [notice], "{raw}");
        }
    }

    #[test]
    fn every_bad_field_is_named_and_secrets_never_echoed() {
        let b = json!({
            "resourceServer": "http://mymsp.halopsa.com/api",
            "authServer": 7,
            "tenant": "my msp",
            "clientId": "",
            "clientSecret": "short-SECRET",
            "knowledgeBase": {"enabled": "yes"},
            "site": "x",
        });
        let errors = parse_halo(&b, None, false).unwrap_err();
        let mut names = fields(&errors);
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "authServer",
                "clientId",
                "clientSecret",
                "knowledgeBase.enabled",
                "resourceServer",
                "site",
                "tenant"
            ]
        );
        assert!(!format!("{errors:?}").contains("short-SECRET"));
        let mut b = body();
        b["resourceServer"] = json!("https://mymsp.halopsa.com/portal");
        let errors = parse_halo(&b, None, false).unwrap_err();
        assert_eq!(fields(&errors), ["resourceServer"]);
        assert!(errors[0].1.contains("ending in /api"), "{}", errors[0].1);
    }

    #[test]
    fn a_short_client_secret_or_id_is_refused_with_what_a_real_one_is() {
        let mut b = body();
        b["clientSecret"] = json!("0123456789abcdef-0123456789abcd"); // 31 characters
        b["clientId"] = json!("abc-123");
        let errors = parse_halo(&b, None, false).unwrap_err();
        assert_eq!(fields(&errors), ["clientId", "clientSecret"]);
        assert!(
            errors[0].1.contains("too short for a Halo client id"),
            "{}",
            errors[0].1
        );
        assert!(errors[0].1.contains("a GUID such as"), "{}", errors[0].1);
        let secret = &errors[1].1;
        assert!(
            secret.starts_with("is shorter than 32 characters, too short for a Halo client secret"),
            "{secret}"
        );
        assert!(secret.contains("over 60 characters"), "{secret}");
        // What Halo generates: a GUID client id, a long secret.
        b["clientId"] = json!("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d");
        b["clientSecret"] =
            json!("1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b-6c7d8e9f-0a1b-2c3d-4e5f-60718293a4b5");
        let p = parse_halo(&b, None, false).unwrap();
        assert_eq!(p.config.client_id(), "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d");
    }

    #[test]
    fn a_masked_secret_keeps_the_stored_one_and_the_stored_form_round_trips() {
        let first = parse_halo(&body(), None, false).unwrap();
        let view = first.config.masked_json(&first.options);
        assert_eq!(view["clientSecret"], json!("••••cret"));
        assert!(!view
            .to_string()
            .contains("0123456789abcdef-0123456789abcdef-secret"));
        let again = parse_halo(&view, Some(&first.config), false).unwrap();
        assert_eq!(
            again.config.client_secret().expose(),
            "0123456789abcdef-0123456789abcdef-secret"
        );
        assert!(again
            .config
            .audit_changes(&again.options, Some((&first.config, &first.options)))
            .is_empty());
        let (plain, secrets) = first.config.split();
        assert!(!plain.to_string().contains("secret"));
        let kept = secrets[0].1.expose().to_owned();
        let back = HaloConfig::from_stored(&plain, &mut |n| ApiKey::parse(n, &kept)).unwrap();
        assert_eq!(back.masked_json(&first.options), view);
        assert_eq!(
            first
                .config
                .hosts()
                .iter()
                .map(|h| h.url.as_str())
                .collect::<Vec<_>>(),
            ["https://mymsp.halopsa.com", "https://mymsp.halopsa.com"]
        );
    }

    #[test]
    fn the_sandbox_may_use_plain_http_on_loopback() {
        let mut b = body();
        b["resourceServer"] = json!("http://127.0.0.1:4100/api");
        let p = parse_halo(&b, None, true).unwrap();
        assert_eq!(p.config.auth_server(), "http://127.0.0.1:4100/auth");
        assert!(!p.config.hosts()[0].https);
    }
}
