//! One HTTP call to Microsoft with the retry policy: 429 honours `Retry-After`, 5xx, timeouts
//! and connection resets back off exponentially with jitter, all bounded by `max_retries`;
//! requests in flight are bounded by the collection's semaphore.
//!
//! Every call here is a read (Graph GETs, the read-only Exchange cmdlets, a client-credentials
//! sign-in), so a slow one may be hedged: when no answer has come `hedge_after` after it went
//! out, the same request is sent once more and the first usable answer wins ("The Tail at
//! Scale"). A collection waits for its slowest of a dozen calls, so one slow answer in the
//! provider's tail would otherwise set its time; the cost is the share of calls slower than
//! `hedge_after` (about 4 % at 1 s for answers of 250 ms median, 1.5 s p99).

use rand::Rng;
use reqwest::{RequestBuilder, StatusCode};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Longest wait docsync accepts from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// First backoff step; doubled per attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(400);
/// Longest backoff step.
const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// A call that did not succeed.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// Microsoft answered with an error status that retrying will not fix (403, 404, 400...).
    Status {
        /// HTTP status.
        status: u16,
        /// The error code from the body (`Authorization_RequestDenied`), when present.
        code: String,
        /// The error message from the body, when present.
        message: String,
    },
    /// No usable answer after every retry: network, timeouts, 429 or 5xx.
    Transient {
        /// What happened on the last attempt.
        reason: String,
    },
    /// An answer docsync could not read.
    Malformed {
        /// What was wrong.
        reason: String,
    },
}

impl CallError {
    /// True when the failure is the network or Microsoft being busy, not a refusal.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, CallError::Transient { .. })
    }
}

/// A successful answer.
pub(crate) struct Answer {
    /// The body as text.
    pub(crate) body: String,
}

/// Sends the requests of one collection, at most `max_concurrency` at a time.
pub(crate) struct Caller {
    semaphore: Semaphore,
    max_retries: u32,
    metrics: Option<docsync_telemetry::Metrics>,
    hedge_after: Option<Duration>,
}

impl Caller {
    /// A caller with at most `max_concurrency` requests in flight.
    pub(crate) fn new(
        max_concurrency: usize,
        max_retries: u32,
        metrics: Option<docsync_telemetry::Metrics>,
    ) -> Self {
        Self {
            semaphore: Semaphore::new(max_concurrency.max(1)),
            max_retries,
            metrics,
            hedge_after: None,
        }
    }

    /// The same caller, sending a second copy of a request not answered `after` it went out
    /// (None: never).
    pub(crate) fn hedged(mut self, after: Option<Duration>) -> Self {
        self.hedge_after = after.filter(|d| !d.is_zero());
        self
    }

    /// One attempt: the request, and its copy if it is slow; the first usable outcome wins
    /// (a failure that might be retried waits for the other copy's outcome).
    async fn attempt(&self, build: &impl Fn() -> RequestBuilder) -> Attempt {
        let first = attempt_once(build(), self.metrics.as_ref());
        let Some(after) = self.hedge_after else {
            return first.await;
        };
        tokio::pin!(first);
        tokio::select! {
            done = &mut first => return done,
            _ = tokio::time::sleep(after) => {}
        }
        if let Some(m) = &self.metrics {
            m.hedged_request();
        }
        let second = attempt_once(build(), self.metrics.as_ref());
        tokio::pin!(second);
        let (winner, other) = tokio::select! {
            a = &mut first => (a, Either::Second(second)),
            b = &mut second => (b, Either::First(first)),
        };
        match winner {
            Attempt::Retry { .. } => match other {
                Either::First(f) => f.await,
                Either::Second(s) => s.await,
            },
            settled => settled,
        }
    }

    /// Sends the request `build` makes, retrying as the policy says. `build` is called once per
    /// attempt.
    pub(crate) async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, CallError> {
        let mut attempt: u32 = 0;
        loop {
            let outcome = {
                let _permit = self
                    .semaphore
                    .acquire()
                    .await
                    .map_err(|_| CallError::Transient {
                        reason: "the collection was shut down".to_owned(),
                    })?;
                self.attempt(&build).await
            };
            match outcome {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Fatal(err) => return Err(err),
                Attempt::Retry { reason, wait } => {
                    if attempt >= self.max_retries {
                        return Err(CallError::Transient {
                            reason: format!("{reason} (gave up after {} retries)", attempt),
                        });
                    }
                    let wait = wait.unwrap_or_else(|| backoff(attempt));
                    tracing::debug!(attempt, ?wait, %reason, "retrying Microsoft call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The copy of a hedged request still under way once the other answered.
enum Either<A, B> {
    First(A),
    Second(B),
}

enum Attempt {
    Done(Answer),
    Fatal(CallError),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
}

/// Which Microsoft service a request is for, by its path (the metrics' provider label).
fn service_of(path: &str) -> &'static str {
    if path.contains("/oauth2/") {
        "login"
    } else if path.contains("/adminapi/") {
        "exchange"
    } else {
        "graph"
    }
}

async fn attempt_once(
    request: RequestBuilder,
    metrics: Option<&docsync_telemetry::Metrics>,
) -> Attempt {
    let built = request.try_clone().and_then(|r| r.build().ok());
    let service = built
        .as_ref()
        .map_or("graph", |r| service_of(r.url().path()));
    let span = tracing::info_span!(
        "provider_request",
        provider = service,
        method = %built.as_ref().map(|r| r.method().to_string()).unwrap_or_default(),
        host = %built.as_ref().and_then(|r| r.url().host_str().map(str::to_owned)).unwrap_or_default(),
        status = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let sent = tracing::Instrument::instrument(request.send(), span.clone()).await;
    if let Ok(r) = &sent {
        span.record("status", r.status().as_u16());
    }
    if let Some(m) = metrics {
        let status = sent.as_ref().ok().map(|r| r.status().as_u16());
        m.provider_request(service, status, started.elapsed());
    }
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "connection failed"
            };
            return Attempt::Retry {
                reason: format!("request {what}"),
                wait: None,
            };
        }
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "was cut off"
            };
            return Attempt::Retry {
                reason: format!("reading the answer {what}"),
                wait: None,
            };
        }
    };
    if status.is_success() {
        return Attempt::Done(Answer { body });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Retry {
            reason: "throttled (429)".to_owned(),
            wait: retry_after,
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Attempt::Retry {
            reason: format!("server error {}", status.as_u16()),
            wait: retry_after,
        };
    }
    let (code, message) = error_code_and_message(&body);
    Attempt::Fatal(CallError::Status {
        status: status.as_u16(),
        code,
        message,
    })
}

/// Reads `Retry-After` in seconds (the form Graph sends), capped.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER))
}

/// Exponential backoff with up to 50 % jitter.
fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(BACKOFF_CAP);
    let jitter_ms = rand::rng().random_range(0..=step.as_millis() as u64 / 2);
    step + Duration::from_millis(jitter_ms)
}

/// Extracts `error.code` / `error.message` (Graph) or `error` / `error_description` (token
/// endpoint) from an error body.
pub(crate) fn error_code_and_message(body: &str) -> (String, String) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return (String::new(), String::new());
    };
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match value.get("error") {
        Some(serde_json::Value::Object(obj)) => (text(obj.get("code")), text(obj.get("message"))),
        Some(serde_json::Value::String(code)) => {
            (code.clone(), text(value.get("error_description")))
        }
        _ => (String::new(), text(value.get("message"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_and_token_error_bodies_are_read() {
        let graph = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#;
        assert_eq!(
            error_code_and_message(graph),
            (
                "Authorization_RequestDenied".to_owned(),
                "Insufficient privileges".to_owned()
            )
        );
        let token = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        let (code, msg) = error_code_and_message(token);
        assert_eq!(code, "invalid_client");
        assert!(msg.starts_with("AADSTS7000215"));
        assert_eq!(
            error_code_and_message("<html>"),
            (String::new(), String::new())
        );
    }

    /// A server whose first request is never answered and whose later ones are answered at
    /// once; its URL and how many requests it got.
    async fn first_request_hangs() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let url = format!(
            "http://{}/",
            listener
                .local_addr()
                .unwrap_or_else(|e| panic!("address: {e}"))
        );
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    if n == 0 {
                        // Never answered: held open until the test ends.
                        std::future::pending::<()>().await;
                    }
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                });
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn a_slow_read_is_hedged_and_the_first_answer_wins() {
        let (url, seen) = first_request_hangs().await;
        let http = reqwest::Client::new();
        let caller = Caller::new(4, 0, None).hedged(Some(Duration::from_millis(100)));
        let answer = tokio::time::timeout(Duration::from_secs(5), caller.send(|| http.get(&url)))
            .await
            .unwrap_or_else(|_| panic!("no copy was sent: the read waits for the hung request"))
            .unwrap_or_else(|_| panic!("the copy was answered"));
        assert_eq!(answer.body, "ok");
        // The first is never answered: the answer is the copy's.
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_hedging_a_slow_read_is_waited_for() {
        let (url, seen) = first_request_hangs().await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        let caller = Caller::new(4, 0, None);
        let outcome = caller.send(|| http.get(&url)).await;
        assert!(
            matches!(outcome, Err(CallError::Transient { .. })),
            "the only copy timed out"
        );
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) >= BACKOFF_BASE && backoff(0) <= BACKOFF_BASE * 3 / 2);
        assert!(backoff(30) <= BACKOFF_CAP * 3 / 2);
    }

    #[test]
    fn retry_after_is_seconds_and_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            "3".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "99999".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(retry_after(&h), None);
    }
}
