//! ConnectWise Manage: the site (the UI host the user types, mapped to its API host), the
//! company id, the API member's keys and the client id; read from the PUT body together with
//! the shared options, shown masked, and stored as plain JSON plus two secrets.
//!
//! Invariant: a [`ConnectWiseConfig`] holds a valid host name (a public one unless the sandbox
//! allowed private hosts and plain http), a company id without spaces or slashes, keys of at
//! least 16 characters (`KEY_RULE`), and the client id as a lowercase hyphenated GUID. Its stored form is
//! [`ConnectWiseConfig::stored_json`] (no secrets) plus [`ConnectWiseConfig::secrets`], which
//! the caller seals; [`PsaCredentials::from_stored`] rebuilds the typed value from them.

use super::spec::{ProviderHost, PsaCredentials};
use super::{
    body_object, quoted, required_str, secret_field, FieldErrors, Parsed, PsaKind, PsaOptions,
};
use crate::address::non_public_reason;
use crate::secret::{parse_guid, ApiKey, KeyRule, KeyShape};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// Cloud UI hosts are `{region}.myconnectwise.net`; their API host is `api-` + that.
const CLOUD_REGIONS: [&str; 6] = ["na", "eu", "au", "aus", "za", "staging"];
/// The longest company id.
const MAX_COMPANY_ID_CHARS: usize = 64;
/// An API member's public or private key: ConnectWise Manage generates both, 16 letters and
/// digits each.
pub(super) const KEY_RULE: KeyRule = KeyRule {
    what: "a ConnectWise API key",
    min_len: 16,
    shape: KeyShape::Any,
    hint: "ConnectWise Manage generates a public and a private key of 16 letters and digits \
           each under System > Members > API Members > (the member) > API Keys; the private \
           key is shown only once",
};
/// ConnectWise Manage's own top-level fields of the PUT body.
const FIELDS: [&str; 5] = ["site", "companyId", "publicKey", "privateKey", "clientId"];
/// A field of the masked view that a PUT may send back unchanged; derived from `site`, ignored.
const READ_ONLY_FIELDS: [&str; 1] = ["apiHost"];

/// How ConnectWise is called: https, or plain http only where private hosts are allowed
/// (sandbox and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CwScheme {
    /// `https`.
    Https,
    /// `http` (sandbox and tests only).
    Http,
}

impl CwScheme {
    /// `https` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            CwScheme::Https => "https",
            CwScheme::Http => "http",
        }
    }
}

/// The ConnectWise site: the host (and optional port) the user opens Manage at, and the
/// scheme. The host is lower-case (international names in their `xn--` form); the port is
/// `None` when it is the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwSite {
    scheme: CwScheme,
    host: String,
    port: Option<u16>,
}

impl CwSite {
    /// Parses the `site` the user typed. Surrounding spaces are trimmed; a pasted `https://`
    /// and any path, query or fragment are stripped and reported in the notice. Plain
    /// `http://`, and hosts that are loopback, private or otherwise non-public addresses (or
    /// `localhost`, or a name without a dot), are accepted only when `allow_private` (sandbox
    /// and tests), and then an `http://` scheme is kept. The error says what to give instead.
    pub fn parse(raw: &str, allow_private: bool) -> Result<(CwSite, Option<String>), String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(
                "is empty: give the host you open ConnectWise Manage at, e.g. \
                        na.myconnectwise.net (or your on-premise host)"
                    .into(),
            );
        }
        let prefixed = |p: &str| {
            trimmed
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        };
        let mut removed: Vec<&str> = Vec::new();
        let (scheme, rest) = if prefixed("https://") {
            removed.push(&trimmed[..8]);
            (CwScheme::Https, &trimmed[8..])
        } else if prefixed("http://") {
            if !allow_private {
                return Err("must be reached over https: give only the host, e.g. \
                            na.myconnectwise.net (docsync calls https:// itself)"
                    .into());
            }
            (CwScheme::Http, &trimmed[7..])
        } else if let Some(i) = trimmed.find("://") {
            return Err(format!(
                "must be a host name such as na.myconnectwise.net, not a {:?} URL",
                &trimmed[..i]
            ));
        } else {
            (CwScheme::Https, trimmed)
        };
        let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !tail.is_empty() && tail != "/" {
            removed.push(tail);
        }
        let invalid = || {
            format!(
                "must be a host name such as na.myconnectwise.net or cw.yourmsp.com (letters, \
                 digits, dots and hyphens, optionally :port), got {}",
                quoted(raw)
            )
        };
        if authority.is_empty() {
            return Err(format!(
                "has no host name: give e.g. na.myconnectwise.net, got {}",
                quoted(raw)
            ));
        }
        if authority.contains('@') {
            return Err(
                "must not contain a user name or password: give only the host, e.g. \
                        na.myconnectwise.net"
                    .into(),
            );
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let url = url::Url::parse(&format!("{}://{authority}/", scheme.as_str()))
            .map_err(|_| invalid())?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let private = |ip: IpAddr, reason: &str| {
            format!(
                "points at {ip}, {reason}: docsync only calls ConnectWise on public internet \
                 addresses (give its public host name, e.g. na.myconnectwise.net)"
            )
        };
        match url.host() {
            Some(url::Host::Ipv4(ip)) => {
                if let Some(reason) = non_public_reason(IpAddr::V4(ip)).filter(|_| !allow_private) {
                    return Err(private(IpAddr::V4(ip), reason));
                }
            }
            Some(url::Host::Ipv6(ip)) => {
                if let Some(reason) = non_public_reason(IpAddr::V6(ip)).filter(|_| !allow_private) {
                    return Err(private(IpAddr::V6(ip), reason));
                }
            }
            Some(url::Host::Domain(name)) => {
                if !valid_domain(name) {
                    return Err(invalid());
                }
                if !allow_private {
                    if name == "localhost" || name.ends_with(".localhost") {
                        return Err(format!(
                            "{name} is this machine (loopback): docsync only calls ConnectWise \
                             on public hosts, e.g. na.myconnectwise.net"
                        ));
                    }
                    if !name.contains('.') {
                        return Err(format!(
                            "must be a full host name such as na.myconnectwise.net or \
                             cw.yourmsp.com, got {}",
                            quoted(raw)
                        ));
                    }
                }
            }
            None => return Err(invalid()),
        }
        let notice = (!removed.is_empty()).then(|| {
            let parts: Vec<String> = removed.iter().map(|r| format!("{r:?}")).collect();
            format!("site: removed {}; give only the host", parts.join(" and "))
        });
        Ok((
            CwSite {
                scheme,
                host,
                port: url.port(),
            },
            notice,
        ))
    }

    /// The scheme ConnectWise is called with.
    pub fn scheme(&self) -> CwScheme {
        self.scheme
    }

    /// The host the user gave (lower-case, without the port).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port the user gave, unless it is the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host[:port]` as the user gave it.
    pub fn authority(&self) -> String {
        with_port(&self.host, self.port)
    }

    /// The API host (with the port, if any): a cloud UI host maps to its API host
    /// (`na.myconnectwise.net` -> `api-na.myconnectwise.net`, likewise `eu`, `au`, `aus`, `za`
    /// and `staging`); a host already starting with `api-`, and any on-premise host, stays.
    pub fn api_host(&self) -> String {
        let host = match self.host.strip_suffix(".myconnectwise.net") {
            Some(region) if CLOUD_REGIONS.contains(&region) => format!("api-{}", self.host),
            _ if self.host == "staging.connectwisedev.com" => {
                "api-staging.connectwisedev.com".to_owned()
            }
            _ => self.host.clone(),
        };
        with_port(&host, self.port)
    }

    /// `{scheme}://{site host}`: where `/login/companyinfo/{companyId}` is asked.
    pub fn login_url(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// The REST root for a codebase as `companyinfo` answers it (e.g. `v2025_1/`):
    /// `{scheme}://{api host}/{codebase}apis/3.0`. Slashes around `codebase` are normalised.
    pub fn api_root(&self, codebase: &str) -> String {
        let codebase = codebase.trim().trim_matches('/');
        let base = format!("{}://{}", self.scheme.as_str(), self.api_host());
        if codebase.is_empty() {
            format!("{base}/apis/3.0")
        } else {
            format!("{base}/{codebase}/apis/3.0")
        }
    }

    /// The site as shown in views and accepted back by [`CwSite::parse`]: the host and port,
    /// prefixed with `http://` when the scheme is http.
    pub fn input_form(&self) -> String {
        match self.scheme {
            CwScheme::Https => self.authority(),
            CwScheme::Http => format!("http://{}", self.authority()),
        }
    }
}

fn with_port(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// A DNS name of letters, digits and hyphens (labels of 1 to 63, not starting or ending with a
/// hyphen), at most 253 characters.
fn valid_domain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A ConnectWise company id: trimmed, 1 to 64 characters, no spaces, slashes or URL or
/// credential separators.
fn parse_company_id(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let bad_char = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '/' | '\\' | '?' | '#' | '%' | '+' | ':' | '@')
    };
    if t.is_empty() || t.chars().count() > MAX_COMPANY_ID_CHARS || t.chars().any(bad_char) {
        return Err(format!(
            "must be the company name you log in with, e.g. mymsp (no spaces or slashes, at \
             most {MAX_COMPANY_ID_CHARS} characters), got {}",
            quoted(raw)
        ));
    }
    Ok(t.to_owned())
}

/// A ConnectWise Manage integration's own config: where, who, and the keys. Debug prints the
/// keys masked.
#[derive(Debug, Clone)]
pub struct ConnectWiseConfig {
    site: CwSite,
    company_id: String,
    public_key: ApiKey,
    private_key: ApiKey,
    client_id: String,
}

/// The stored (plain, secret-free) form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    site: StoredSite,
    company_id: String,
    client_id: String,
}

#[derive(Serialize, Deserialize)]
struct StoredSite {
    scheme: CwScheme,
    host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

impl ConnectWiseConfig {
    /// The secret name of the public key (stored form, masked view, audit).
    pub const PUBLIC_KEY: &'static str = "publicKey";
    /// The secret name of the private key.
    pub const PRIVATE_KEY: &'static str = "privateKey";

    /// The site.
    pub fn site(&self) -> &CwSite {
        &self.site
    }

    /// The company id the user logs in with (e.g. `mymsp`).
    pub fn company_id(&self) -> &str {
        &self.company_id
    }

    /// The API member's public key.
    pub fn public_key(&self) -> &ApiKey {
        &self.public_key
    }

    /// The API member's private key.
    pub fn private_key(&self) -> &ApiKey {
        &self.private_key
    }

    /// The client id (lowercase GUID without braces), sent as the `clientId` header.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `GET` this for the codebase: `{login_url}/login/companyinfo/{companyId}`.
    pub fn companyinfo_url(&self) -> String {
        format!(
            "{}/login/companyinfo/{}",
            self.site.login_url(),
            self.company_id
        )
    }

    /// The view for GET/PUT responses: `{site, apiHost, companyId, publicKey: "••••1234",
    /// privateKey: "••••", clientId}`; keys are masked with [`crate::mask`]; a PUT may send
    /// this back as is (masked keys keep the stored ones, and `apiHost` is ignored).
    fn view_fields(&self) -> Map<String, Value> {
        let view = json!({
            "site": self.site.input_form(),
            "apiHost": self.site.api_host(),
            "companyId": self.company_id,
            "publicKey": self.public_key.masked(),
            "privateKey": self.private_key.masked(),
            "clientId": self.client_id,
        });
        match view {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

impl PsaCredentials for ConnectWiseConfig {
    const KIND: PsaKind = PsaKind::ConnectWiseManage;
    const SECRET_FIELDS: &'static [&'static str] = &[Self::PUBLIC_KEY, Self::PRIVATE_KEY];

    fn parse(
        body: &Value,
        previous: Option<&Self>,
        allow_private: bool,
    ) -> Result<Parsed<Self>, FieldErrors> {
        parse_connectwise(body, previous, allow_private)
    }

    fn own_view(&self) -> Map<String, Value> {
        self.view_fields()
    }

    /// `{site: {scheme, host, port?}, companyId, clientId}`.
    fn stored_json(&self) -> Value {
        let stored = Stored {
            site: StoredSite {
                scheme: self.site.scheme,
                host: self.site.host.clone(),
                port: self.site.port,
            },
            company_id: self.company_id.clone(),
            client_id: self.client_id.clone(),
        };
        serde_json::to_value(stored).unwrap_or(Value::Null)
    }

    /// `publicKey`, `privateKey`.
    fn secrets(&self) -> Vec<(&'static str, &ApiKey)> {
        vec![
            (Self::PUBLIC_KEY, &self.public_key),
            (Self::PRIVATE_KEY, &self.private_key),
        ]
    }

    /// The stored JSON was written by `stored_json` from a parsed value and is trusted as such
    /// (it is not parsed again as user input); an unreadable one is an error naming why.
    fn from_stored(
        plain: &Value,
        open: &mut dyn FnMut(&str) -> Result<ApiKey, String>,
    ) -> Result<Self, String> {
        let stored: Stored = serde_json::from_value(plain.clone())
            .map_err(|e| format!("stored ConnectWise Manage config is unreadable: {e}"))?;
        if stored.site.host.is_empty()
            || stored.company_id.is_empty()
            || stored.client_id.is_empty()
        {
            return Err(
                "stored ConnectWise Manage config is unreadable: empty host, companyId or clientId"
                    .into(),
            );
        }
        Ok(Self {
            site: CwSite {
                scheme: stored.site.scheme,
                host: stored.site.host,
                port: stored.site.port,
            },
            company_id: stored.company_id,
            public_key: open(Self::PUBLIC_KEY)?,
            private_key: open(Self::PRIVATE_KEY)?,
            client_id: stored.client_id,
        })
    }

    fn hosts(&self) -> Vec<ProviderHost> {
        vec![ProviderHost {
            field: "site",
            url: format!("https://{}", self.site.authority()),
            https: self.site.scheme() == CwScheme::Https,
        }]
    }
}

/// Parses a ConnectWise Manage PUT body: `{site, companyId, publicKey, privateKey, clientId}`
/// and the shared options ([`PsaOptions::FIELDS`]) at the top level, naming every bad or
/// unknown field at once. With `previous` (the stored config), `publicKey` / `privateKey` may
/// be omitted or sent back masked (`••••...`) to keep the stored keys; without it they are
/// required. `site`, `companyId` and `clientId` are always required. `allow_private` is
/// `DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS` (http and private hosts for the sandbox).
pub fn parse_connectwise(
    body: &Value,
    previous: Option<&ConnectWiseConfig>,
    allow_private: bool,
) -> Result<Parsed<ConnectWiseConfig>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut notices = Vec::new();
    let obj = body_object(
        body,
        "ConnectWise Manage",
        &FIELDS,
        &READ_ONLY_FIELDS,
        "{\"site\": \"na.myconnectwise.net\", \"companyId\": \"mymsp\", \"publicKey\": \"...\", \"privateKey\": \"...\", \"clientId\": \"...\"}",
        &mut errors,
    )?;

    let site = required_str(
        obj,
        "site",
        "the host you open ConnectWise Manage at, e.g. \"na.myconnectwise.net\"",
        &mut errors,
    )
    .and_then(|raw| match CwSite::parse(raw, allow_private) {
        Ok((site, notice)) => {
            notices.extend(notice);
            Some(site)
        }
        Err(message) => {
            errors.push(("site".into(), message));
            None
        }
    });
    let company_id = required_str(
        obj,
        "companyId",
        "the company name you log in with, e.g. \"mymsp\"",
        &mut errors,
    )
    .and_then(|raw| {
        parse_company_id(raw)
            .map_err(|m| errors.push(("companyId".into(), m)))
            .ok()
    });
    let public_key = secret_field(
        obj,
        ConnectWiseConfig::PUBLIC_KEY,
        &KEY_RULE,
        previous.map(|p| &p.public_key),
        &mut errors,
    );
    let private_key = secret_field(
        obj,
        ConnectWiseConfig::PRIVATE_KEY,
        &KEY_RULE,
        previous.map(|p| &p.private_key),
        &mut errors,
    );
    let client_hint = "clientId is required by ConnectWise since 2019: get one (a GUID such as \
                       5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f) at developer.connectwise.com";
    let client_id = required_str(obj, "clientId", client_hint, &mut errors).and_then(|raw| {
        parse_guid(raw).or_else(|| {
            errors.push((
                "clientId".into(),
                format!("must be a GUID, got {}: {client_hint}", quoted(raw)),
            ));
            None
        })
    });
    let options = PsaOptions::parse_fields(obj, PsaKind::ConnectWiseManage)
        .map_err(|e| errors.extend(e))
        .ok();

    match (
        site,
        company_id,
        public_key,
        private_key,
        client_id,
        options,
    ) {
        (
            Some(site),
            Some(company_id),
            Some(public_key),
            Some(private_key),
            Some(client_id),
            Some(options),
        ) if errors.is_empty() => Ok(Parsed {
            config: ConnectWiseConfig {
                site,
                company_id,
                public_key,
                private_key,
                client_id,
            },
            options,
            notices,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    const GUID: &str = "5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f";

    fn site(raw: &str) -> (CwSite, Option<String>) {
        CwSite::parse(raw, false).unwrap()
    }

    fn body() -> Value {
        json!({
            "site": "na.myconnectwise.net",
            "companyId": "mymsp",
            "publicKey": "pubKEY0123455678",
            "privateKey": "privKEY123456789",
            "clientId": GUID,
        })
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    fn parse(body: &Value) -> Parsed<ConnectWiseConfig> {
        parse_connectwise(body, None, false).unwrap()
    }

    #[test]
    fn a_pasted_ui_url_becomes_the_host_with_a_notice() {
        let (s, notice) = site("  https://na.myconnectwise.net/v4_6_release/ConnectWise.aspx?x=1 ");
        assert_eq!(s.host(), "na.myconnectwise.net");
        assert_eq!(s.api_host(), "api-na.myconnectwise.net");
        assert_eq!(s.scheme(), CwScheme::Https);
        assert_eq!(
            notice.as_deref(),
            Some(
                "site: removed \"https://\" and \"/v4_6_release/ConnectWise.aspx?x=1\"; give only the host"
            )
        );
        let (s, notice) = site("HTTPS://NA.MyConnectWise.net/");
        assert_eq!(s.host(), "na.myconnectwise.net");
        assert_eq!(
            notice.as_deref(),
            Some("site: removed \"HTTPS://\"; give only the host")
        );
        let (_, notice) = site("eu.myconnectwise.net/v4_6_release");
        assert_eq!(
            notice.as_deref(),
            Some("site: removed \"/v4_6_release\"; give only the host")
        );
        let (s, notice) = site("na.myconnectwise.net");
        assert_eq!((s.host(), notice), ("na.myconnectwise.net", None));
        assert_eq!(s.login_url(), "https://na.myconnectwise.net");
        assert_eq!(
            s.api_root("v2025_1/"),
            "https://api-na.myconnectwise.net/v2025_1/apis/3.0"
        );
    }

    #[test]
    fn cloud_hosts_map_to_api_hosts_and_others_stay() {
        for region in ["na", "eu", "au", "aus", "za", "staging"] {
            let (s, _) = site(&format!("{region}.myconnectwise.net"));
            assert_eq!(s.api_host(), format!("api-{region}.myconnectwise.net"));
        }
        assert_eq!(
            site("api-na.myconnectwise.net").0.api_host(),
            "api-na.myconnectwise.net"
        );
        assert_eq!(
            site("staging.connectwisedev.com").0.api_host(),
            "api-staging.connectwisedev.com"
        );
        // Not a cloud region: left alone.
        assert_eq!(
            site("uk.myconnectwise.net").0.api_host(),
            "uk.myconnectwise.net"
        );
        // On-premise: one host, port kept.
        let (s, notice) = site("CW.YourMSP.com:8443");
        assert_eq!(notice, None);
        assert_eq!((s.host(), s.port()), ("cw.yourmsp.com", Some(8443)));
        assert_eq!(s.api_host(), "cw.yourmsp.com:8443");
        assert_eq!(s.login_url(), "https://cw.yourmsp.com:8443");
        assert_eq!(
            s.api_root("/v4_6_release/"),
            "https://cw.yourmsp.com:8443/v4_6_release/apis/3.0"
        );
        assert_eq!(s.api_root(""), "https://cw.yourmsp.com:8443/apis/3.0");
        // The default port is no port.
        assert_eq!(site("cw.yourmsp.com:443").0.port(), None);
    }

    #[test]
    fn http_and_private_hosts_only_with_allow_private() {
        for raw in [
            "http://127.0.0.1:4100",
            "127.0.0.1:4100",
            "http://cw.yourmsp.com",
            "10.1.2.3",
            "192.168.0.10:8080",
            "169.254.169.254",
            "[::1]:4100",
            "localhost:4100",
            "cwserver",
        ] {
            let err = CwSite::parse(raw, false).unwrap_err();
            assert!(!err.is_empty(), "{raw}");
            assert!(CwSite::parse(raw, true).is_ok(), "{raw}");
        }
        assert!(CwSite::parse("http://127.0.0.1:4100", false)
            .unwrap_err()
            .contains("https"));
        assert!(CwSite::parse("127.0.0.1:4100", false)
            .unwrap_err()
            .contains("loopback"));
        let (s, notice) = CwSite::parse("http://127.0.0.1:4100", true).unwrap();
        assert_eq!(notice, None, "the allowed http scheme is kept, not removed");
        assert_eq!(s.scheme(), CwScheme::Http);
        assert_eq!(s.login_url(), "http://127.0.0.1:4100");
        assert_eq!(s.api_host(), "127.0.0.1:4100");
        assert_eq!(
            s.api_root("v2025_1/"),
            "http://127.0.0.1:4100/v2025_1/apis/3.0"
        );
        assert_eq!(s.input_form(), "http://127.0.0.1:4100");
        assert_eq!(CwSite::parse(&s.input_form(), true).unwrap().0, s);
        // A public address literal is fine.
        assert!(CwSite::parse("8.8.8.8", false).is_ok());
    }

    #[test]
    fn bad_sites_are_refused_with_the_fix() {
        for raw in [
            "",
            "   ",
            "https://",
            "https:///v4_6_release",
            "na myconnectwise.net",
            "na_cw.myconnectwise.net",
            "-na.myconnectwise.net",
            "na..myconnectwise.net",
            "user:pw@na.myconnectwise.net",
            "ftp://na.myconnectwise.net",
            "na.myconnectwise.net:99999",
            "na.myconnectwise.net:port",
        ] {
            let err = CwSite::parse(raw, false).unwrap_err();
            assert!(
                err.contains("na.myconnectwise.net") || err.contains("host"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn a_good_body_parses_to_a_typed_config_with_default_options() {
        let mut b = body();
        b["site"] = json!("https://na.myconnectwise.net/v4_6_release/ConnectWise.aspx");
        b["clientId"] = json!("{5E3B8C1A-0D2F-4E6A-9B7C-1A2B3C4D5E6F}");
        b["companyId"] = json!(" mymsp ");
        let p = parse(&b);
        let c = &p.config;
        assert_eq!(c.site().host(), "na.myconnectwise.net");
        assert_eq!(c.company_id(), "mymsp");
        assert_eq!(c.client_id(), GUID);
        assert_eq!(c.public_key().expose(), "pubKEY0123455678");
        assert_eq!(c.private_key().expose(), "privKEY123456789");
        assert_eq!(
            c.companyinfo_url(),
            "https://na.myconnectwise.net/login/companyinfo/mymsp"
        );
        assert_eq!(p.options, PsaOptions::default());
        assert_eq!(p.options.schedule, Schedule::psa_default());
        assert_eq!(
            p.notices,
            ["site: removed \"https://\" and \"/v4_6_release/ConnectWise.aspx\"; give only the host"]
        );
        // Debug never shows a key.
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("pubKEY") && !debug.contains("privKEY"),
            "{debug}"
        );
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errs = parse_connectwise(
            &json!({
                "site": "http://na.myconnectwise.net",
                "companyId": "my msp/",
                "publicKey": "short",
                "privateKey": 12345678,
                "clientId": "not-a-guid",
                "layouts": {"bar": 1},
                "skip": {"foo": true},
                "knowledgeBase": {"enabled": true},
                "destination": "it-glue",
                "apiKey": "x"
            }),
            None,
            false,
        )
        .unwrap_err();
        let mut got = fields(&errs);
        got.sort_unstable();
        let mut want = vec![
            "apiKey",
            "site",
            "companyId",
            "publicKey",
            "privateKey",
            "clientId",
            "layouts.bar",
            "skip.foo",
            "knowledgeBase.enabled",
            "destination",
        ];
        want.sort_unstable();
        assert_eq!(got, want, "{errs:#?}");
        let message = |field: &str| {
            errs.iter()
                .find(|(f, _)| f == field)
                .map(|(_, m)| m.clone())
                .unwrap()
        };
        assert!(message("companyId").contains("the company name you log in with, e.g. mymsp"));
        assert!(message("publicKey").contains("System > Members > API Members"));
        assert!(message("privateKey").contains("a number"));
        assert!(
            !message("privateKey").contains("12345678"),
            "secrets are never echoed"
        );
        assert!(message("clientId").contains("developer.connectwise.com"));
        assert!(message("clientId").contains("clientId is required by ConnectWise since 2019"));
        // An empty body names each required field.
        let errs = parse_connectwise(&json!({}), None, false).unwrap_err();
        assert_eq!(
            fields(&errs),
            ["site", "companyId", "publicKey", "privateKey", "clientId"]
        );
        let errs = parse_connectwise(&json!([]), None, false).unwrap_err();
        assert_eq!(fields(&errs), ["body"]);
    }

    #[test]
    fn keys_may_be_kept_only_when_a_config_is_stored() {
        let stored = parse(&body()).config;
        let mut b = body();
        b.as_object_mut().unwrap().remove("publicKey");
        b["privateKey"] = json!("••••");
        let errs = parse_connectwise(&b, None, false).unwrap_err();
        assert_eq!(fields(&errs), ["publicKey", "privateKey"]);
        assert!(errs[0].1.starts_with("is required"), "{}", errs[0].1);
        // With the stored config: omitted and masked keys keep the stored ones.
        let p = parse_connectwise(&b, Some(&stored), false).unwrap();
        assert_eq!(p.config.public_key().expose(), "pubKEY0123455678");
        assert_eq!(p.config.private_key().expose(), "privKEY123456789");
        b["publicKey"] = Value::Null;
        b["privateKey"] = json!("anotherKEY987654");
        let p = parse_connectwise(&b, Some(&stored), false).unwrap();
        assert_eq!(p.config.public_key().expose(), "pubKEY0123455678");
        assert_eq!(p.config.private_key().expose(), "anotherKEY987654");
        // Site, companyId and clientId are required even then.
        let errs = parse_connectwise(&json!({}), Some(&stored), false).unwrap_err();
        assert_eq!(fields(&errs), ["site", "companyId", "clientId"]);
    }

    #[test]
    fn the_masked_view_hides_keys_and_can_be_sent_back() {
        let p = parse(&body());
        let view = p.config.masked_json(&p.options);
        assert_eq!(view["site"], "na.myconnectwise.net");
        assert_eq!(view["apiHost"], "api-na.myconnectwise.net");
        assert_eq!(view["companyId"], "mymsp");
        assert_eq!(view["publicKey"], "••••5678");
        assert_eq!(view["privateKey"], "••••6789");
        assert_eq!(view["clientId"], GUID);
        assert_eq!(
            view["schedule"],
            json!({"mode": "every", "at": "02:00", "timeZone": "Australia/Sydney", "hours": 3})
        );
        assert_eq!(view["autoArchive"], true);
        assert_eq!(
            view["layouts"],
            json!({"contacts": null, "sites": null, "configurations": null, "agreements": null})
        );
        let text = view.to_string();
        assert!(
            !text.contains("pubKEY") && !text.contains("privKEY123456789"),
            "{text}"
        );
        // GET -> PUT of the view unchanged keeps everything, keys included.
        let again = parse_connectwise(&view, Some(&p.config), false).unwrap();
        assert_eq!(again.config.masked_json(&again.options), view);
        assert_eq!(again.config.public_key().expose(), "pubKEY0123455678");
        assert!(again
            .config
            .audit_changes(&again.options, Some((&p.config, &p.options)))
            .is_empty());
    }

    #[test]
    fn the_stored_form_round_trips_without_secrets() {
        let mut b = body();
        b["site"] = json!("http://127.0.0.1:4100");
        b["sortRules"] = json!([{"type": "Server", "layoutId": 7}]);
        let p = parse_connectwise(&b, None, true).unwrap();
        let (plain, secrets) = p.config.split();
        assert_eq!(
            plain,
            json!({"site": {"scheme": "http", "host": "127.0.0.1", "port": 4100}, "companyId": "mymsp", "clientId": GUID})
        );
        assert!(!plain.to_string().contains("KEY"));
        let names: Vec<&str> = secrets.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["publicKey", "privateKey"]);
        let stored: Vec<(String, String)> = secrets
            .iter()
            .map(|(n, k)| ((*n).to_owned(), k.expose().to_owned()))
            .collect();
        let mut open = |name: &str| {
            let plain = stored.iter().find(|(n, _)| n == name).unwrap();
            ApiKey::parse(name, &plain.1)
        };
        let back = ConnectWiseConfig::from_stored(&plain, &mut open).unwrap();
        assert_eq!(back.site(), p.config.site());
        assert_eq!(
            back.masked_json(&p.options),
            p.config.masked_json(&p.options)
        );
        assert_eq!(back.private_key().expose(), "privKEY123456789");
        assert_eq!(
            back.api_root_for_test(),
            "http://127.0.0.1:4100/v2025_1/apis/3.0"
        );
        // The options go to their own column and come back the same.
        let options: PsaOptions =
            serde_json::from_value(serde_json::to_value(&p.options).unwrap()).unwrap();
        assert_eq!(options, p.options);
        // A port-less https site stores no port.
        let cloud = parse(&body()).config;
        assert_eq!(
            cloud.stored_json()["site"],
            json!({"scheme": "https", "host": "na.myconnectwise.net"})
        );
        let mut key = |_: &str| ApiKey::parse("k", "whatever12345678");
        assert!(
            ConnectWiseConfig::from_stored(&json!({"site": "x"}), &mut key)
                .unwrap_err()
                .contains("unreadable")
        );
    }

    #[test]
    fn audit_changes_name_fields_and_secrets_never_values() {
        let old = parse(&body());
        let mut b = body();
        b["privateKey"] = json!("privKEY987656789"); // masks to ••••6789 like the old one
        b["companyId"] = json!("othermsp");
        b["autoArchive"] = json!(false);
        let new = parse_connectwise(&b, Some(&old.config), false).unwrap();
        let changes = new
            .config
            .audit_changes(&new.options, Some((&old.config, &old.options)));
        assert_eq!(changes, ["autoArchive", "companyId", "privateKey"]);
        // The plain masked diff cannot see a change that keeps the last 4; audit_changes does.
        let diff = super::super::changed_fields(
            &old.config.masked_json(&old.options),
            &new.config.masked_json(&new.options),
        );
        assert_eq!(diff, ["autoArchive", "companyId"]);
        assert_eq!(new.config.changed_secrets(&old.config), ["privateKey"]);
        let first = new.config.audit_changes(&new.options, None);
        assert!(first.contains(&"publicKey".to_owned()) && first.contains(&"schedule".to_owned()));
    }

    #[test]
    fn keys_shorter_than_a_connectwise_key_are_refused_with_what_a_real_one_is() {
        for field in ["publicKey", "privateKey"] {
            let mut b = body();
            b[field] = json!("abcdefghijklmno"); // 15 characters
            let errors = parse_connectwise(&b, None, false).unwrap_err();
            assert_eq!(fields(&errors), [field]);
            let message = &errors[0].1;
            assert!(
                message.starts_with(
                    "is shorter than 16 characters, too short for a ConnectWise API key"
                ),
                "{message}"
            );
            assert!(message.contains("16 letters and digits each"), "{message}");
            assert!(!message.contains("abcdefghijklmno"), "{message}");
        }
        // Real keys are 16 letters and digits.
        let mut b = body();
        b["publicKey"] = json!("Ab12Cd34Ef56Gh78");
        b["privateKey"] = json!("Zy98Xw76Vu54Ts32");
        let p = parse(&b);
        assert_eq!(p.config.public_key().expose(), "Ab12Cd34Ef56Gh78");
        assert_eq!(p.config.private_key().expose(), "Zy98Xw76Vu54Ts32");
    }

    impl ConnectWiseConfig {
        fn api_root_for_test(&self) -> String {
            self.site.api_root("v2025_1/")
        }
    }
}
