//! The one outbound HTTP stack of every provider call, sources and destinations alike: the
//! client (timeouts, no redirects), pacing by rate-limit key, 429 policy and Retry-After,
//! retries of transient faults (never a blind re-POST), and provider answers turned into
//! errors a person can act on (never echoing a key).

use crate::pacer::Pacer;
use crate::resolve::PublicOnly;
use crate::CallError;
use docsync_domain::RateLimit;
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use std::time::Duration;
use tracing::Instrument;

/// A provider's answer, read whole.
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub body: String,
}

/// How long to pause a key after a 429 that named no wait, given how many came in a row.
pub type ThrottleWait = fn(u32) -> Duration;

/// Calls one provider with one key: every attempt takes a paced slot; a 429 pauses the whole
/// key (for Retry-After, else for `throttle_wait`) and tries again, up to `attempts`; 5xx
/// answers and network failures back off with jitter and try again up to 3 times, except a
/// create (POST), which is never repeated blindly. Then it gives up as transient and the job is
/// retried later through the delay queues.
pub struct PacedClient {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The process's pacer.
    pub pacer: Pacer,
    /// The rate-limit key.
    pub key: String,
    /// Its budget.
    pub limit: RateLimit,
    /// "Hudu", "IT Glue".
    pub provider: &'static str,
    /// The provider host, for messages.
    pub host: String,
    /// The pause after a 429 without Retry-After.
    pub throttle_wait: ThrottleWait,
    /// Tries per call while the provider answers 429 (the pacing slows down meanwhile).
    pub attempts: u32,
}

/// Tries per call while the provider answers 5xx or cannot be reached; after that the job is
/// retried later through the delay queues rather than holding its place here.
const FAULT_ATTEMPTS: u32 = 3;

/// What one attempt of a call came to (for callers with a retry policy of their own, such as
/// Microsoft's reads, which hedge and retry by their own budget).
pub enum Attempt {
    /// The provider answered (not 429, not 5xx).
    Answered(Answer),
    /// 429: the key is paused; try again.
    Throttled,
    /// 5xx, a network error or an unreadable answer: the call may or may not have happened.
    Fault(String),
    /// Not sent: the process is stopping.
    Stopping,
}

impl PacedClient {
    /// Sends the request `build` makes (once per attempt) and reads the answer.
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        requests: &mut u32,
    ) -> Result<Answer, CallError> {
        let mut last = String::new();
        let mut faults = 0;
        // A create (POST) whose answer was lost may have happened: it is not sent again
        // here, the job is retried later and first looks the document up by name.
        let repeatable = build()
            .build()
            .map(|r| r.method() != reqwest::Method::POST)
            .unwrap_or(true);
        let give_up = |last: &str| {
            CallError::Transient(format!(
                "{last} (a create is not repeated blindly: the retry looks the document up first)"
            ))
        };
        for _ in 0..self.attempts {
            match self.attempt(&build, requests).await {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Throttled => {
                    last = format!(
                        "{} at {} kept answering 429 Too Many Requests after {} attempts; the key's budget may be shared with another tool: lower rateLimit in the integration",
                        self.provider, self.host, self.attempts
                    );
                }
                Attempt::Stopping => {
                    return Err(CallError::Transient(format!(
                        "this process is stopping: the call to {} was not started; another process takes the job over",
                        self.provider
                    )))
                }
                Attempt::Fault(why) => {
                    // A 5xx may come after the provider did the work, as may a lost answer.
                    if !repeatable {
                        return Err(give_up(&why));
                    }
                    last = why;
                    faults += 1;
                    if faults >= FAULT_ATTEMPTS {
                        break;
                    }
                    tokio::time::sleep(backoff(faults - 1)).await;
                }
            }
        }
        Err(CallError::Transient(last))
    }

    /// One attempt: a paced slot under the key, the request, and what its answer means. A 429
    /// has paused the key (for Retry-After, else `throttle_wait`) before this returns.
    pub async fn attempt(
        &self,
        build: &impl Fn() -> RequestBuilder,
        requests: &mut u32,
    ) -> Attempt {
        let sent = self.pacer.until_ready(&self.key, self.limit).await;
        // Checked after the wait for the slot too: a stop may come while waiting.
        if self.pacer.is_stopping() {
            return Attempt::Stopping;
        }
        *requests += 1;
        let request = build();
        let method = request
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| r.method().to_string())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "provider_request",
            provider = %docsync_telemetry::metrics::provider_of_key(&self.key),
            method = %method,
            host = %self.host,
            attempt = *requests,
            status = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let resp = request.send().instrument(span.clone()).await;
        if let Ok(r) = &resp {
            span.record("status", r.status().as_u16());
        }
        // The provider counted the call by now, whenever it reached it.
        self.pacer.answered(&self.key, sent);
        if let Some(m) = self.pacer.metrics() {
            let status = resp.as_ref().ok().map(|r| r.status().as_u16());
            let provider = docsync_telemetry::metrics::provider_of_key(&self.key);
            m.provider_request(provider, status, started.elapsed());
        }
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Attempt::Fault(network(self.provider, &self.host, &e).to_string()),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Pause the key on the headers, before reading the body: calls about to go out
            // must see the pause.
            let streak = self.pacer.throttled(&self.key);
            let wait = retry_after(&headers).unwrap_or_else(|| (self.throttle_wait)(streak));
            tracing::warn!(key = %self.key, wait_ms = wait.as_millis() as u64, streak, "{} answered 429; pausing the key", self.provider);
            self.pacer.pause(&self.key, wait).await;
            return Attempt::Throttled;
        }
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => return Attempt::Fault(network(self.provider, &self.host, &e).to_string()),
        };
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Attempt::Fault(format!(
                "{} at {} answered {status}: {}",
                self.provider,
                self.host,
                snippet(&body)
            ));
        }
        self.pacer.succeeded(&self.key);
        Attempt::Answered(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 30 s, plus up to a quarter.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6)).min(30_000);
    let jitter = rand::rng().random_range(0..=base / 4);
    Duration::from_millis(base + jitter)
}

/// The HTTP client for provider calls could not be built (the TLS backend or the system's
/// resolver configuration is unusable): a process fails at start-up rather than calling
/// providers with a client that follows redirects or waits forever.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP client for provider calls could not be built: {0}")]
pub struct ClientError(String);

/// A client for provider calls, shared by every caller of a process so connections are kept
/// alive between calls: bounded timeouts, no redirects (a redirect to another host would
/// carry the API key there). With `public_only`, host names are resolved by [`PublicOnly`]:
/// a name that resolves to a non-public address is refused when the connection is made.
pub fn client(timeout: Duration, public_only: bool) -> Result<reqwest::Client, ClientError> {
    client_with(timeout, public_only.then(PublicOnly::system))
}

/// [`client`] with a resolver of the caller's (tests).
pub fn client_with(
    timeout: Duration,
    resolver: Option<PublicOnly>,
) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("docsync/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(50));
    let builder = match resolver {
        Some(resolver) => builder.dns_resolver(resolver),
        None => builder,
    };
    builder.build().map_err(|e| ClientError(e.to_string()))
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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
pub fn rate_limit_headers(headers: &HeaderMap) -> Vec<(String, String)> {
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
pub fn network(provider: &str, host: &str, err: &reqwest::Error) -> CallError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    CallError::Transient(format!("{provider} at {host} {what}: {}", strip_url(err)))
}

fn strip_url(err: &reqwest::Error) -> String {
    // reqwest puts the URL in its messages; ours never carry secrets, but keep it short.
    let text = err.to_string();
    text.split(" for url").next().unwrap_or(&text).to_owned()
}

/// The first 300 characters of a provider's error body, single line.
pub fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) < Duration::from_millis(700));
        assert!(backoff(3) >= Duration::from_millis(4000));
        assert!(backoff(10) <= Duration::from_millis(37_500));
    }
}
