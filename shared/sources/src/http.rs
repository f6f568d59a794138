//! One HTTP call to Microsoft on the one outbound stack ([`docsync_outbound::PacedClient`]):
//! every attempt takes a paced slot under the tenant's key for its service (`graph:`,
//! `exchange:`, `login:` + the Microsoft tenant), and a 429 pauses that key for `Retry-After`
//! (else an exponential step). On top of it Microsoft's own retry policy: 429, 5xx, 408,
//! timeouts and resets are tried again, bounded by `max_retries`; other statuses are refusals.
//! Requests in flight are bounded by the collection's semaphore.
//!
//! Every call here is a read (Graph GETs, the read-only Exchange cmdlets, a client-credentials
//! sign-in), so a slow one may be hedged: when no answer has come `hedge_after` after it went
//! out, the same request is sent once more (taking a slot of its own) and the first usable
//! answer wins ("The Tail at Scale"). A collection waits for its slowest of a dozen calls, so
//! one slow answer in the provider's tail would otherwise set its time; the cost is the share
//! of calls slower than `hedge_after` (about 4 % at 1 s for answers of 250 ms median, 1.5 s
//! p99).

use crate::config::MicrosoftBudgets;
use docsync_outbound::http::{Attempt as Sent, PacedClient};
use docsync_outbound::Pacer;
use rand::Rng;
use reqwest::{RequestBuilder, StatusCode};
use std::time::Duration;
use tokio::sync::Semaphore;

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

/// Where a collection's calls are paced: the process's pacer and Microsoft's budgets per
/// tenant, with the HTTP client every request is built on.
#[derive(Clone)]
pub(crate) struct Pacing {
    /// The pacer (the source's own; keys are per tenant, so one collection holds them).
    pub(crate) pacer: Pacer,
    /// The budgets of a tenant's services.
    pub(crate) budgets: MicrosoftBudgets,
    /// The client the requests are built on.
    pub(crate) http: reqwest::Client,
    /// The services' hosts, for messages.
    pub(crate) hosts: Hosts,
}

/// The hosts of Microsoft's services, as configured (for messages).
#[derive(Clone, Default)]
pub(crate) struct Hosts {
    pub(crate) login: String,
    pub(crate) graph: String,
    pub(crate) exchange: String,
}

impl Hosts {
    /// The hosts of the configured roots.
    pub(crate) fn of(config: &crate::GraphSourceConfig) -> Self {
        let host = |root: &str| {
            url::Url::parse(root)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| root.to_owned())
        };
        Self {
            login: host(&config.login_url),
            graph: host(&config.graph_url),
            exchange: host(&config.exchange_url),
        }
    }
}

/// The three Microsoft services a collection calls, each under its own key and budget.
struct Services {
    login: PacedClient,
    graph: PacedClient,
    exchange: PacedClient,
}

/// Sends the requests of one collection for one tenant, at most `max_concurrency` at a time.
pub(crate) struct Caller {
    semaphore: Semaphore,
    max_retries: u32,
    metrics: Option<docsync_telemetry::Metrics>,
    hedge_after: Option<Duration>,
    services: Services,
}

/// The pause after a 429 without `Retry-After`, given how many came in a row.
fn throttle_wait(streak: u32) -> Duration {
    backoff(streak.saturating_sub(1))
}

impl Caller {
    /// A caller for `microsoft_tenant`'s calls with at most `max_concurrency` requests in
    /// flight, each retried up to `max_retries` times.
    pub(crate) fn new(
        pacing: &Pacing,
        microsoft_tenant: &str,
        max_concurrency: usize,
        max_retries: u32,
    ) -> Self {
        let service = |name: &str, provider: &'static str, host: &str, limit| PacedClient {
            http: pacing.http.clone(),
            pacer: pacing.pacer.clone(),
            key: format!("{name}:{microsoft_tenant}"),
            limit,
            provider,
            host: host.to_owned(),
            throttle_wait,
            attempts: max_retries + 1,
        };
        let hosts = &pacing.hosts;
        let budgets = &pacing.budgets;
        Self {
            semaphore: Semaphore::new(max_concurrency.max(1)),
            max_retries,
            metrics: pacing.pacer.metrics().cloned(),
            hedge_after: None,
            services: Services {
                login: service("login", "Entra sign-in", &hosts.login, budgets.sign_in),
                graph: service("graph", "Microsoft Graph", &hosts.graph, budgets.graph),
                exchange: service(
                    "exchange",
                    "Exchange Online",
                    &hosts.exchange,
                    budgets.exchange,
                ),
            },
        }
    }

    /// The same caller, sending a second copy of a request not answered `after` it went out
    /// (None: never).
    pub(crate) fn hedged(mut self, after: Option<Duration>) -> Self {
        self.hedge_after = after.filter(|d| !d.is_zero());
        self
    }

    /// The paced client of the service a request is for, by its path.
    fn service(&self, request: &RequestBuilder) -> &PacedClient {
        let path = request
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| r.url().path().to_owned())
            .unwrap_or_default();
        if path.contains("/oauth2/") {
            &self.services.login
        } else if path.contains("/adminapi/") {
            &self.services.exchange
        } else {
            &self.services.graph
        }
    }

    /// One attempt: the request, and its copy if it is slow; the first usable outcome wins
    /// (a failure that might be retried waits for the other copy's outcome).
    async fn attempt(&self, build: &impl Fn() -> RequestBuilder) -> Attempt {
        let client = self.service(&build());
        let first = attempt_once(client, build);
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
        let second = attempt_once(client, build);
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
                Attempt::Retry { reason, throttled } => {
                    if attempt >= self.max_retries {
                        return Err(CallError::Transient {
                            reason: format!("{reason} (gave up after {} retries)", attempt),
                        });
                    }
                    // After a 429 the key's pause was waited out in the attempt; the next
                    // attempt's slot comes after it.
                    if !throttled {
                        let wait = backoff(attempt);
                        tracing::debug!(attempt, ?wait, %reason, "retrying Microsoft call");
                        tokio::time::sleep(wait).await;
                    }
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
    Retry { reason: String, throttled: bool },
}

/// One paced attempt, and what its answer means to a Microsoft read.
async fn attempt_once(client: &PacedClient, build: &impl Fn() -> RequestBuilder) -> Attempt {
    let mut requests = 0;
    match client.attempt(build, &mut requests).await {
        Sent::Answered(answer) if answer.status.is_success() => {
            Attempt::Done(Answer { body: answer.body })
        }
        Sent::Answered(answer) => {
            let (code, message) = error_code_and_message(&answer.body);
            Attempt::Fatal(CallError::Status {
                status: answer.status.as_u16(),
                code,
                message,
            })
        }
        Sent::Throttled => Attempt::Retry {
            reason: format!("throttled ({})", StatusCode::TOO_MANY_REQUESTS.as_u16()),
            throttled: true,
        },
        Sent::Fault(reason) => Attempt::Retry {
            reason,
            throttled: false,
        },
        Sent::Stopping => Attempt::Fatal(CallError::Transient {
            reason: "this process is stopping: the call was not started".to_owned(),
        }),
    }
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

    fn pacing(http: &reqwest::Client) -> Pacing {
        Pacing {
            pacer: Pacer::new(),
            budgets: MicrosoftBudgets::default(),
            http: http.clone(),
            hosts: Hosts::default(),
        }
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
        let caller =
            Caller::new(&pacing(&http), "t", 4, 0).hedged(Some(Duration::from_millis(100)));
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
        let caller = Caller::new(&pacing(&http), "t", 4, 0);
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
}
