//! HTTP plumbing shared by the sinks: the client, Retry-After, and turning provider answers
//! into errors a person can act on (never echoing the API key).

use crate::SinkError;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// A client for provider calls: bounded timeouts, no redirects (a redirect to another host
/// would carry the API key there).
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("docsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

/// Rate-limit related headers, for connection tests.
pub(crate) fn rate_limit_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n.contains("ratelimit") || n.contains("rate-limit") || n == "retry-after"
        })
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}

/// A network-level failure, as a transient error.
pub(crate) fn network(provider: &str, host: &str, err: &reqwest::Error) -> SinkError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    SinkError::Transient(format!("{provider} at {host} {what}: {}", strip_url(err)))
}

fn strip_url(err: &reqwest::Error) -> String {
    // reqwest puts the URL in its messages; ours never carry secrets, but keep it short.
    let text = err.to_string();
    text.split(" for url").next().unwrap_or(&text).to_owned()
}

/// The first 300 characters of a provider's error body, single line.
pub(crate) fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}
