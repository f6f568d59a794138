//! The fleet's Prometheus metrics ([`Metrics`]): one registry per process (per test fleet in
//! the tests), handed to whatever records into it: the pacer and the one outbound HTTP stack
//! (provider requests, their latency, pacing waits, budget use), Microsoft's caller, the
//! workers (stage durations) and the run table's transitions (finished runs). Encoded in the
//! Prometheus text format by [`Metrics::encode`] for `GET /metrics`.
//!
//! Invariant: labels are bounded: provider, trigger, state, stage, queue, status class. No
//! account, tenant or key id ever becomes a label; budget use per key is summarised as the
//! busiest key's share of its budget (one gauge per provider).

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The window budget use is measured over.
const BUDGET_WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    provider: String,
    trigger: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    provider: String,
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn long_histogram() -> Histogram {
    // 50 ms to about 14 minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 15))
}

/// Calls of one rate-limit key over the last [`BUDGET_WINDOW`], and what its budget allows
/// there.
struct KeyWindow {
    allowed: f64,
    calls: VecDeque<Instant>,
}

struct Inner {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    run_duration: Histograms<StageLabels>,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<ProviderLabel>,
    pacing_wait: Histograms<ProviderLabel>,
    late_slots: Family<ProviderLabel, Counter>,
    hedged_requests: Counter,
    budget_used: Family<ProviderLabel, Gauge<f64, AtomicU64>>,
    key_budget: Histograms<ProviderLabel>,
    queue_messages: Family<QueueLabel, Gauge>,
    queue_consumers: Family<QueueLabel, Gauge>,
    dead_letters: Gauge,
    webhook_attempts: Family<OutcomeLabel, Counter>,
    windows: Mutex<HashMap<String, KeyWindow>>,
}

/// One process's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The provider part of a rate-limit key (`hudu:<account>` -> `hudu`).
pub fn provider_of_key(key: &str) -> &str {
    key.split(':').next().unwrap_or(key)
}

/// A status class for the requests counter: `2xx`, `3xx`, `4xx`, `429`, `5xx`, or `error`
/// (no answer).
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "error",
    }
}

impl Metrics {
    /// A fresh registry with every series docsync exposes.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("docsync");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "runs",
            "Finished runs (pushes and syncs) by provider, trigger and final state",
            runs.clone(),
        );
        let run_duration: Histograms<StageLabels> = Family::new_with_constructor(long_histogram);
        registry.register_with_unit(
            "run_duration",
            "Time per stage of a run (collect, publish: one job's work; total: from creation to its end)",
            Unit::Seconds,
            run_duration.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "provider_requests",
            "Requests sent to providers (Graph, Exchange, login, Hudu, IT Glue, the PSAs) by status class",
            requests.clone(),
        );
        let request_duration: Histograms<ProviderLabel> =
            Family::new_with_constructor(seconds_histogram);
        registry.register_with_unit(
            "provider_request_duration",
            "Time from sending a provider request to its answer",
            Unit::Seconds,
            request_duration.clone(),
        );
        let pacing_wait: Histograms<ProviderLabel> =
            Family::new_with_constructor(seconds_histogram);
        registry.register_with_unit(
            "pacing_wait",
            "Time a provider call waited for its rate-limit slot",
            Unit::Seconds,
            pacing_wait.clone(),
        );
        let late_slots = Family::<ProviderLabel, Counter>::default();
        registry.register(
            "pacing_late_slots",
            "Shared rate-limit slots given up because the call could not go out on time (a late call would crowd the next window); the call took a new slot",
            late_slots.clone(),
        );
        let hedged_requests = Counter::default();
        registry.register(
            "microsoft_hedged_requests",
            "Microsoft reads sent a second time because the first had not been answered in time (the first usable answer wins)",
            hedged_requests.clone(),
        );
        let budget_used = Family::<ProviderLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "rate_limit_budget_used_ratio",
            "The busiest rate-limit key's share of its budget used over the last minute, per provider",
            budget_used.clone(),
        );
        let key_budget: Histograms<ProviderLabel> =
            Family::new_with_constructor(|| Histogram::new([0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0]));
        registry.register(
            "rate_limit_key_budget_used_ratio",
            "Every active rate-limit key's share of its budget over the last minute, observed at each scrape (the spread across keys, without one series per key)",
            key_budget.clone(),
        );
        let queue_messages = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "queue_messages",
            "Messages ready in each queue (from the broker)",
            queue_messages.clone(),
        );
        let queue_consumers = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "queue_consumers",
            "Consumers of each queue (from the broker)",
            queue_consumers.clone(),
        );
        let dead_letters = Gauge::default();
        registry.register(
            "dead_letters",
            "Messages parked in the dead-letter queue",
            dead_letters.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_delivery_attempts",
            "Webhook delivery attempts by outcome (delivered, retrying, failed: given up after 24 h, dropped: the run was removed)",
            webhook_attempts.clone(),
        );
        Self(Arc::new(Inner {
            webhook_attempts,
            registry,
            runs,
            run_duration,
            requests,
            request_duration,
            pacing_wait,
            late_slots,
            hedged_requests,
            budget_used,
            key_budget,
            queue_messages,
            queue_consumers,
            dead_letters,
            windows: Mutex::default(),
        }))
    }

    /// A run ended in `state` (`succeeded` or `failed`).
    pub fn run_finished(&self, provider: &str, trigger: &str, state: &str) {
        self.0
            .runs
            .get_or_create(&RunLabels {
                provider: provider.to_owned(),
                trigger: trigger.to_owned(),
                state: state.to_owned(),
            })
            .inc();
    }

    /// A webhook delivery attempt ended: `delivered`, `retrying`, `failed` or `dropped`.
    pub fn webhook_attempt(&self, outcome: &str) {
        self.0
            .webhook_attempts
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A stage of a run took `took`.
    pub fn stage(&self, provider: &str, stage: &str, took: Duration) {
        self.0
            .run_duration
            .get_or_create(&StageLabels {
                provider: provider.to_owned(),
                stage: stage.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A provider request was answered with `status` (None: no answer) after `took`.
    pub fn provider_request(&self, provider: &str, status: Option<u16>, took: Duration) {
        self.0
            .requests
            .get_or_create(&RequestLabels {
                provider: provider.to_owned(),
                status: status_class(status).to_owned(),
            })
            .inc();
        self.0
            .request_duration
            .get_or_create(&ProviderLabel {
                provider: provider.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A call of rate-limit `key` gave up its shared slot for being late and took another.
    pub fn late_slot(&self, key: &str) {
        self.0
            .late_slots
            .get_or_create(&ProviderLabel {
                provider: provider_of_key(key).to_owned(),
            })
            .inc();
    }

    /// A Microsoft read was sent a second time, its first copy being slow.
    pub fn hedged_request(&self) {
        self.0.hedged_requests.inc();
    }

    /// A call of rate-limit `key` waited `waited` for its slot; its budget allows
    /// `per_minute` calls a minute.
    pub fn paced(&self, key: &str, waited: Duration, per_minute: f64) {
        let provider = provider_of_key(key);
        self.0
            .pacing_wait
            .get_or_create(&ProviderLabel {
                provider: provider.to_owned(),
            })
            .observe(waited.as_secs_f64());
        let now = Instant::now();
        let mut windows = self.0.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(key.to_owned()).or_insert_with(|| KeyWindow {
            allowed: per_minute,
            calls: VecDeque::new(),
        });
        window.allowed = per_minute;
        window.calls.push_back(now);
        while window
            .calls
            .front()
            .is_some_and(|t| now.duration_since(*t) > BUDGET_WINDOW)
        {
            window.calls.pop_front();
        }
    }

    /// What the broker says of a queue (its name without the fleet's prefix).
    pub fn queue(&self, queue: &str, messages: u32, consumers: u32) {
        let label = QueueLabel {
            queue: queue.to_owned(),
        };
        self.0
            .queue_messages
            .get_or_create(&label)
            .set(i64::from(messages));
        self.0
            .queue_consumers
            .get_or_create(&label)
            .set(i64::from(consumers));
    }

    /// Messages in the dead-letter queue.
    pub fn dead_letters(&self, messages: u32) {
        self.0.dead_letters.set(i64::from(messages));
    }

    /// The busiest key's share of its budget per provider, over the last minute.
    fn refresh_budget_use(&self) {
        let now = Instant::now();
        let mut busiest: HashMap<String, f64> = HashMap::new();
        let mut windows = self.0.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|key, window| {
            while window
                .calls
                .front()
                .is_some_and(|t| now.duration_since(*t) > BUDGET_WINDOW)
            {
                window.calls.pop_front();
            }
            let share = if window.allowed > 0.0 {
                (window.calls.len() as f64 / window.allowed).min(1.0)
            } else {
                0.0
            };
            let provider = provider_of_key(key).to_owned();
            self.0
                .key_budget
                .get_or_create(&ProviderLabel {
                    provider: provider.clone(),
                })
                .observe(share);
            let entry = busiest.entry(provider).or_insert(0.0);
            *entry = entry.max(share);
            !window.calls.is_empty()
        });
        drop(windows);
        for (provider, share) in busiest {
            self.0
                .budget_used
                .get_or_create(&ProviderLabel { provider })
                .set(share);
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn encode(&self) -> String {
        self.refresh_budget_use();
        let mut out = String::new();
        if encode(&mut out, &self.0.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn series_follow_prometheus_naming_and_carry_no_ids() {
        let m = Metrics::new();
        m.run_finished("hudu", "manual", "succeeded");
        m.run_finished("hudu", "manual", "succeeded");
        m.stage("hudu", "publish", Duration::from_millis(120));
        m.provider_request("hudu", Some(200), Duration::from_millis(30));
        m.provider_request("hudu", Some(429), Duration::from_millis(30));
        m.paced(
            "hudu:8f14e45f-ceea-467f-a8f5-3c0e1a2b4c5d",
            Duration::from_millis(5),
            60.0,
        );
        m.queue("collect", 3, 1);
        m.dead_letters(2);
        let text = m.encode();
        assert!(
            text.contains(
                "docsync_runs_total{provider=\"hudu\",trigger=\"manual\",state=\"succeeded\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("docsync_run_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains("docsync_provider_requests_total{provider=\"hudu\",status=\"429\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("docsync_provider_request_duration_seconds_count{provider=\"hudu\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("docsync_pacing_wait_seconds_count{provider=\"hudu\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("docsync_queue_messages{queue=\"collect\"} 3"),
            "{text}"
        );
        assert!(text.contains("docsync_dead_letters 2"), "{text}");
        let ratio = text
            .lines()
            .find(|l| l.starts_with("docsync_rate_limit_budget_used_ratio{provider=\"hudu\"}"))
            .unwrap();
        let value: f64 = ratio.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((value - 1.0 / 60.0).abs() < 1e-9, "{ratio}");
        assert!(
            text.contains("docsync_rate_limit_key_budget_used_ratio_count{provider=\"hudu\"} 1"),
            "{text}"
        );
        assert!(!text.contains("8f14e45f"), "no key id in a label: {text}");
    }

    #[test]
    fn status_classes_are_bounded() {
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(429)), "429");
        assert_eq!(status_class(Some(404)), "4xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(None), "error");
    }
}
