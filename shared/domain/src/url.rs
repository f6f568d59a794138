//! Provider base URLs, parsed once: scheme, host, no path debris.

use serde::Serialize;
use std::fmt;

/// The root of a provider instance, e.g. `https://it.yourmsp.com`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BaseUrl(String);

/// A base URL that was accepted after a correction the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBaseUrl {
    /// The cleaned URL.
    pub url: BaseUrl,
    /// What was corrected (e.g. a pasted `/api/v1` stripped), for the response.
    pub notice: Option<String>,
}

impl BaseUrl {
    /// Parses a user-supplied base URL. Plain `http` is accepted only when `allow_insecure`
    /// (sandbox and tests). A pasted `/api/v1` suffix is stripped and reported.
    pub fn parse(field: &str, raw: &str, allow_insecure: bool) -> Result<ParsedBaseUrl, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        // `https:///api/v1` is the host "api" to a URL parser (it skips the extra slash): a URL
        // whose text has nothing between `://` and the path has no host, whatever it parses to.
        if let Some((_, rest)) = trimmed.split_once("://") {
            if rest.is_empty() || rest.starts_with(['/', '\\', '?', '#']) {
                return Err(format!(
                    "{field} has no host name: use e.g. https://it.yourmsp.com"
                ));
            }
        }
        let parsed = url::Url::parse(trimmed).map_err(|_| {
            format!("{field} must be a URL such as https://it.yourmsp.com, got {raw:?}")
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            _ => {
                return Err(format!(
                    "{field} must start with https:// (got {:?})",
                    parsed.scheme()
                ))
            }
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "{field} has no host name: use e.g. https://it.yourmsp.com"
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!("{field} must not contain a user name or password"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(format!("{field} must not contain ?query or #fragment"));
        }
        // The stored URL is rebuilt from what was parsed (scheme and host lower-cased, default
        // port dropped), so what the check saw is what is called (a host hidden behind extra
        // slashes was refused above, and nothing is cut from the text).
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        let mut path = parsed.path().trim_end_matches('/').to_owned();
        let mut notice = None;
        for suffix in ["/api/v1", "/api"] {
            if path.to_ascii_lowercase().ends_with(suffix) {
                path.truncate(path.len() - suffix.len());
                notice = Some(format!(
                    "{field}: removed {suffix:?} from the end; docsync appends /api/v1 itself"
                ));
                break;
            }
        }
        let path = path.trim_end_matches('/');
        Ok(ParsedBaseUrl {
            url: BaseUrl(format!("{}://{host}{port}{path}", parsed.scheme())),
            notice,
        })
    }

    /// Trusts a URL already checked (read back from the database or built by docsync).
    pub fn trusted(raw: impl Into<String>) -> Self {
        Self(raw.into().trim_end_matches('/').to_owned())
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name, for error messages.
    pub fn host(&self) -> String {
        url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a webhook is delivered: an `https` URL (plain `http` only when `allow_insecure`)
/// with a host, a path and query of the receiver's choosing, no user name, password or
/// fragment, at most 2,048 characters. Stored as parsed (scheme and host lower-cased), so the
/// address checked is the address called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The longest URL accepted.
    pub const MAX_LEN: usize = 2048;

    /// Parses a receiver's URL; the error names `field` and says what a good one looks like.
    pub fn parse(field: &str, raw: &str, allow_insecure: bool) -> Result<Self, String> {
        let example = "use e.g. https://hooks.yourmsp.com/docsync";
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(format!("{field} is empty: {example}"));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(format!(
                "{field} is longer than {} characters",
                Self::MAX_LEN
            ));
        }
        if let Some((_, rest)) = trimmed.split_once("://") {
            if rest.is_empty() || rest.starts_with(['/', '\\', '?', '#']) {
                return Err(format!("{field} has no host name: {example}"));
            }
        }
        let parsed =
            url::Url::parse(trimmed).map_err(|_| format!("{field} must be a URL: {example}"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            other => return Err(format!("{field} must start with https:// (got {other:?})")),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!("{field} has no host name: {example}"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "{field} must not contain a user name or password: the signature authenticates docsync"
            ));
        }
        if parsed.fragment().is_some() {
            return Err(format!("{field} must not contain a #fragment"));
        }
        Ok(Self(parsed.to_string()))
    }

    /// Trusts a URL already checked (read back from the database).
    pub fn trusted(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its scheme, host and port, for the public-address check.
    pub fn origin(&self) -> BaseUrl {
        match url::Url::parse(&self.0) {
            Ok(u) => BaseUrl::trusted(u.origin().ascii_serialization()),
            Err(_) => BaseUrl::trusted(self.0.clone()),
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod webhook_url_tests {
    use super::WebhookUrl;

    #[test]
    fn a_receiver_url_keeps_its_path_and_query() {
        let u = WebhookUrl::parse(
            "url",
            " HTTPS://Hooks.Example.com/docsync/in?team=ops ",
            false,
        )
        .unwrap();
        assert_eq!(u.as_str(), "https://hooks.example.com/docsync/in?team=ops");
        assert_eq!(u.origin().as_str(), "https://hooks.example.com");
    }

    #[test]
    fn bad_urls_name_the_field() {
        for (raw, says) in [
            ("", "url is empty"),
            ("http://hooks.example.com", "https://"),
            ("ftp://hooks.example.com", "https://"),
            ("https:///in", "no host"),
            ("https://user:pw@hooks.example.com", "user name"),
            ("https://hooks.example.com/#x", "fragment"),
            ("not a url", "must be a URL"),
        ] {
            let err = WebhookUrl::parse("url", raw, false).unwrap_err();
            assert!(
                err.starts_with("url ") && err.contains(says),
                "{raw:?}: {err}"
            );
        }
        assert!(WebhookUrl::parse("url", "http://127.0.0.1:9/x", true).is_ok());
        let long = format!("https://h.example.com/{}", "a".repeat(2048));
        assert!(WebhookUrl::parse("url", &long, false)
            .unwrap_err()
            .contains("longer"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_api_v1_is_stripped_and_reported() {
        let p = BaseUrl::parse("baseUrl", "https://it.msp.com/api/v1/", false).unwrap();
        assert_eq!(p.url.as_str(), "https://it.msp.com");
        assert!(p.notice.unwrap().contains("/api/v1"));
    }

    #[test]
    fn http_is_refused_unless_allowed() {
        assert!(BaseUrl::parse("baseUrl", "http://x.com", false)
            .unwrap_err()
            .contains("https://"));
        assert!(BaseUrl::parse("baseUrl", "http://127.0.0.1:9", true).is_ok());
    }

    #[test]
    fn the_stored_url_is_the_parsed_one() {
        let p = BaseUrl::parse("baseUrl", "HTTPS://IT.msp.com:443/Hudu/API/V1//", false).unwrap();
        assert_eq!(p.url.as_str(), "https://it.msp.com/Hudu");
        assert!(p.notice.is_some());
        // A URL parser reads `https:///api/v1` as the host "api"; its text has no host: refused.
        for raw in ["https:///api/v1", "https://?x", "http:///x", "https://#top"] {
            let err = BaseUrl::parse("baseUrl", raw, true).unwrap_err();
            assert!(err.contains("no host name"), "{raw}: {err}");
        }
        let p = BaseUrl::parse("baseUrl", "http://127.0.0.1:9400/", true).unwrap();
        assert_eq!(p.url.as_str(), "http://127.0.0.1:9400");
    }

    #[test]
    fn garbage_names_the_field() {
        let err = BaseUrl::parse("baseUrl", "it.msp.com", false).unwrap_err();
        assert!(err.starts_with("baseUrl must be a URL"), "{err}");
    }
}
