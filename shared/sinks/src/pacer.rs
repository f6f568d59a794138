//! Pacing per rate-limit key: every provider call waits for its slot under the key's budget,
//! and a 429 pauses the whole key until the provider's wait is over.
//!
//! Slots are spaced evenly (`window / requests`, burst of one) with a small safety margin,
//! so no window of the provider's length ever holds more than the budget, whichever way the
//! provider aligns its windows. With a [`SlotLedger`] (the database, in the fleet) the slots
//! are taken from one schedule shared by every process that calls the provider with the key:
//! publisher replicas, the API's connection tests, and a process restarted mid-window. When
//! the ledger cannot be reached the pacer keeps pacing from its own memory, which is exact as
//! long as one process holds the key (the publish partitions see to that).

use docsync_domain::RateLimit;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Share of the interval added as a margin against jitter between processes sharing a key.
const MARGIN: f64 = 0.03;

/// Transit jitter a whole window must absorb: a provider counts arrivals, and a request sent
/// on time may arrive tens of milliseconds late while the next one arrives on time. The
/// budget's requests are spread over the window plus this much, so `requests + 1` arrivals
/// never fit in one window unless they are squeezed by more than this.
const WINDOW_JITTER: Duration = Duration::from_millis(50);

/// How far the process's own delays widen the transit allowed for: a call recorded as sent
/// now goes out only when the runtime gets to it, and a process that wakes its timers late
/// (a busy host) writes its requests late too. Twice the recent lateness of the pacer's own
/// wake-ups is added to [`WINDOW_JITTER`] for the calls admitted meanwhile.
const LAG_FACTOR: u32 = 2;

/// A wake-up later than this means the process was held up (see [`Pacer::woke`]).
const STALL: Duration = Duration::from_millis(5);

/// How late a call may go out after the earliest moment its shared slot can have begun. A slot
/// from the ledger is known only to within the ledger's round trip, and a process under load
/// wakes late; a call that would go out later than this takes a new slot instead, because
/// a call sent late lands in the next window beside the calls of other processes that went
/// on time (one late call of three publishers put 11 requests in a provider's second).
const LATE_TOLERANCE: Duration = Duration::from_millis(20);

/// Slots in a row a call may give up for being late before it goes out anyway (a process so
/// starved that it can never keep a slot still makes progress; each such call is logged).
const LATE_RETAKES: u32 = 5;

/// The spacing of a key's calls under `limit`: the steady interval plus its margin, and never
/// less than the window plus [`WINDOW_JITTER`] spread over the budget.
fn spacing(limit: RateLimit) -> Duration {
    let per_slot = limit.interval().mul_f64(1.0 + MARGIN);
    let per_window =
        (Duration::from_secs(u64::from(limit.per_seconds)) + WINDOW_JITTER) / limit.requests.max(1);
    per_slot.max(per_window)
}

/// A schedule of slots per rate-limit key shared beyond this process.
pub trait SlotLedger: Send + Sync {
    /// Takes the key's next slot `interval` after the previous one (never in the past, never
    /// inside a pause) and returns how long after the ledger's own now it is. Only the
    /// ledger's clock is read: no host's wall clock enters the arithmetic, so a host whose
    /// clock is off cannot call early. Counted from when the answer arrives, the wait errs
    /// late (by the answer's transit), never early.
    fn take_slot<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
    ) -> BoxFuture<'a, Result<Duration, String>>;

    /// Hands out no slot of the key for `wait` from now.
    fn pause<'a>(&'a self, key: &'a str, wait: Duration) -> BoxFuture<'a, Result<(), String>>;
}

/// One call of the last window as the pacer accounts for it.
#[derive(Debug, Clone, Copy)]
struct Counted {
    /// When it was let go.
    sent: Instant,
    /// The latest moment the provider can have counted it.
    by: Instant,
    /// When its answer came, if it did (the provider had counted it by then).
    answered: Option<Instant>,
}

#[derive(Debug)]
struct KeyState {
    next_slot: Instant,
    paused_until: Option<Instant>,
    /// 429s in a row without a success in between (drives the backoff when the provider
    /// names no wait).
    throttled_streak: u32,
    /// The calls of the last window: when each went out, and the latest moment the provider
    /// can have counted it (its arrival: at most [`WINDOW_JITTER`] of transit after it went
    /// out, or its answer if that came sooner).
    sent: Vec<Counted>,
    /// The key's budget as last asked for.
    limit: Option<RateLimit>,
    /// How long the key's last answers took (at most [`LATENCY_SAMPLES`]), newest last.
    latencies: std::collections::VecDeque<Duration>,
}

/// Answers per key whose latency is remembered for [`Pacer::calls_in_flight_wanted`].
const LATENCY_SAMPLES: usize = 100;

/// A call's place in its key's record of calls; hand it back through [`Pacer::answered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentCall(Instant);

impl KeyState {
    fn new(now: Instant) -> Self {
        Self {
            next_slot: now,
            paused_until: None,
            throttled_streak: 0,
            sent: Vec::new(),
            limit: None,
            latencies: std::collections::VecDeque::new(),
        }
    }

    fn paused_at(&self, at: Instant) -> Option<Instant> {
        self.paused_until.filter(|until| *until > at)
    }

    /// Records a call going out now unless `limit.requests` calls may already have been
    /// counted by the provider in the last window (slots came late and squeezed together):
    /// then the moment it may go. A provider counts a request when it arrives, and an
    /// arrival is at most [`WINDOW_JITTER`] after the request went out (the transit the
    /// window's margin absorbs), so each call is recorded as counted at that latest moment,
    /// or at its answer when the answer came sooner. The time a provider takes to answer
    /// after counting is not part of it: with answers of 300 ms a key still makes its whole
    /// budget, and no window as the provider sees it holds more than the budget.
    fn admit(
        &mut self,
        now: Instant,
        limit: RateLimit,
        transit: Duration,
    ) -> Result<SentCall, Instant> {
        let budget = limit.requests.max(1) as usize;
        let window = Duration::from_secs(u64::from(limit.per_seconds));
        self.sent.retain(|c| c.by + window > now);
        if self.sent.len() >= budget {
            let oldest = self.sent.iter().map(|c| c.by).min().unwrap_or(now);
            return Err(oldest + window);
        }
        self.sent.push(Counted {
            sent: now,
            by: now + transit,
            answered: None,
        });
        Ok(SentCall(now))
    }
}

/// A call not started because the process is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopping;

/// Per-key pacing shared by every sink of a process.
#[derive(Clone, Default)]
pub struct Pacer {
    keys: Arc<Mutex<HashMap<String, KeyState>>>,
    /// Set when the process stops: no new provider call is started.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    ledger: Option<Arc<dyn SlotLedger>>,
    metrics: Option<docsync_telemetry::Metrics>,
    /// How late the pacer's wake-ups came recently (microseconds, a decaying maximum).
    lag_micros: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("shared", &self.ledger.is_some())
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer that keeps its schedule in this process only.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on no call paced here starts (the process is stopping): calls already sent
    /// finish; the next one fails as [`Stopping`] and its job goes to another process.
    pub fn stop_starting(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Pacer::stop_starting`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A pacer that takes its slots from `ledger`, shared with every other process.
    pub fn shared(ledger: Arc<dyn SlotLedger>) -> Self {
        Self {
            keys: Arc::default(),
            stopping: Arc::default(),
            ledger: Some(ledger),
            metrics: None,
            lag_micros: Arc::default(),
        }
    }

    /// The same pacer, recording pacing waits, budget use and (through the one outbound HTTP
    /// stack) every provider request in `metrics`.
    pub fn with_metrics(mut self, metrics: docsync_telemetry::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Where the calls paced here are counted, if anywhere.
    pub fn metrics(&self) -> Option<&docsync_telemetry::Metrics> {
        self.metrics.as_ref()
    }

    /// Remembers that a wake-up meant for `due` came now: the recent lateness is the largest
    /// seen, decaying by an eighth per wake-up (a busy spell is forgotten within a few dozen
    /// calls once the host is quiet again).
    ///
    /// A wake-up late by more than [`STALL`] means the process was held up: a call let go
    /// before it and not yet answered may have been written only now, so it is accounted as
    /// arriving up to [`WINDOW_JITTER`] from now (its answer, when it comes, caps that); a
    /// call let go during the hold-up and answered since counts at its answer, as if the
    /// transit bound had never been assumed.
    fn woke(&self, due: Instant) {
        use std::sync::atomic::Ordering;
        let now = Instant::now();
        let lateness = now.saturating_duration_since(due);
        if lateness > STALL {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            for state in keys.values_mut() {
                // The process was held up from `due` to now: a call let go since shortly before
                // then may have been written only after the hold-up, so its transit bound is
                // void. It counts at its answer (which the provider had counted it by) or, if
                // none came yet, as arriving up to WINDOW_JITTER from now.
                let held_from = due.checked_sub(WINDOW_JITTER).unwrap_or(due);
                for c in state.sent.iter_mut().filter(|c| c.sent >= held_from) {
                    c.by = c.by.max(c.answered.unwrap_or(now + WINDOW_JITTER));
                }
                for c in state.sent.iter_mut().filter(|c| c.answered.is_none()) {
                    c.by = c.by.max(now + WINDOW_JITTER);
                }
            }
        }
        let late = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .lag_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |lag| {
                Some(late.max(lag - lag / 8))
            });
    }

    /// The transit a call admitted now is allowed for: the network's jitter and the process's
    /// own recent lateness (see [`LAG_FACTOR`]).
    fn transit(&self) -> Duration {
        let lag = self.lag_micros.load(std::sync::atomic::Ordering::Relaxed);
        WINDOW_JITTER + Duration::from_micros(lag) * LAG_FACTOR
    }

    fn with_key<T>(&self, key: &str, f: impl FnOnce(&mut KeyState, Instant) -> T) -> T {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let state = keys
            .entry(key.to_owned())
            .or_insert_with(|| KeyState::new(now));
        f(state, now)
    }

    /// Waits until the key may make its next call under `limit`, and takes that slot. A
    /// pause that began while waiting is waited out too. Hand the returned call back through
    /// [`Pacer::answered`] once the provider answered (or the call failed).
    pub async fn until_ready(&self, key: &str, limit: RateLimit) -> SentCall {
        let asked = Instant::now();
        let call = self.take_slot(key, limit).await;
        if let Some(m) = &self.metrics {
            let per_minute = f64::from(limit.requests) * 60.0 / f64::from(limit.per_seconds.max(1));
            m.paced(key, asked.elapsed(), per_minute);
        }
        call
    }

    async fn take_slot(&self, key: &str, limit: RateLimit) -> SentCall {
        let interval = spacing(limit);
        let mut late_retakes = 0;
        loop {
            let local = self.with_key(key, |state, now| {
                state.limit = Some(limit);
                let slot = state
                    .next_slot
                    .max(now)
                    .max(state.paused_at(now).unwrap_or(now));
                state.next_slot = slot + interval;
                slot
            });
            // `earliest`: the soonest the slot can have begun on the ledger's clock; a shared
            // slot is waited for from the answer (never early) and kept only if the call goes
            // out within LATE_TOLERANCE of `earliest`.
            let (slot, earliest) = match &self.ledger {
                None => (local, None),
                Some(ledger) => {
                    let asked = Instant::now();
                    match ledger.take_slot(key, interval).await {
                        Ok(wait) => {
                            let shared = Instant::now() + wait;
                            // Keep the local schedule at least as late, for when the ledger fails.
                            self.with_key(key, |state, _| {
                                state.next_slot = state.next_slot.max(shared + interval);
                            });
                            (shared, Some(asked + wait))
                        }
                        Err(e) => {
                            tracing::warn!(%key, error = %e, "pacing ledger unavailable; pacing from this process's schedule");
                            (local, None)
                        }
                    }
                }
            };
            tokio::time::sleep_until(slot).await;
            self.woke(slot);
            loop {
                let transit = self.transit();
                let verdict = self.with_key(key, |state, now| match state.paused_at(now) {
                    Some(_) => None,
                    None if earliest.is_some_and(|e| now > e + LATE_TOLERANCE)
                        && late_retakes < LATE_RETAKES =>
                    {
                        Some(Err(None))
                    }
                    None => Some(state.admit(now, limit, transit).map_err(Some)),
                });
                match verdict {
                    Some(Ok(call)) => {
                        if late_retakes >= LATE_RETAKES {
                            tracing::warn!(%key, "calling on a late slot: this process missed {LATE_RETAKES} slots in a row");
                        }
                        return call;
                    }
                    Some(Err(Some(later))) => {
                        tokio::time::sleep_until(later).await;
                        self.woke(later);
                    }
                    // Too late for the shared slot: give it up and take a new one.
                    Some(Err(None)) => {
                        late_retakes += 1;
                        if let Some(m) = &self.metrics {
                            m.late_slot(key);
                        }
                        break;
                    }
                    None => break, // paused meanwhile: take a new slot after the pause
                }
            }
        }
    }

    /// Pauses every call of the key for `wait` (a 429 answer), in this process at once and
    /// in every other through the ledger. Callers already waiting for a slot inside the
    /// pause wait it out before calling.
    pub async fn pause(&self, key: &str, wait: Duration) {
        self.with_key(key, |state, now| {
            let until = now + wait;
            state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
            state.next_slot = state.next_slot.max(until);
        });
        if let Some(ledger) = &self.ledger {
            if let Err(e) = ledger.pause(key, wait).await {
                tracing::warn!(%key, error = %e, "pacing ledger unavailable; the pause holds in this process only");
            }
        }
    }

    /// The provider answered `call` (or it failed): it was counted by now at the latest, and
    /// how long the answer took is remembered.
    pub fn answered(&self, key: &str, call: SentCall) {
        self.with_key(key, |state, now| {
            if let Some(c) = state.sent.iter_mut().find(|c| c.sent == call.0) {
                c.by = c.by.min(now);
                c.answered = Some(now);
            }
            if state.latencies.len() >= LATENCY_SAMPLES {
                state.latencies.pop_front();
            }
            state
                .latencies
                .push_back(now.saturating_duration_since(call.0));
        });
    }

    /// How many calls of `key` must be under way at once for it to use its whole budget at
    /// the latency its provider shows: the budget's rate times the 95th percentile of the
    /// recent answer times (Little's law, with the slow tail counted), rounded up. `None`
    /// until the key was called and answered.
    pub fn calls_in_flight_wanted(&self, key: &str) -> Option<usize> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let state = keys.get(key)?;
        let limit = state.limit?;
        if state.latencies.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = state.latencies.iter().copied().collect();
        sorted.sort_unstable();
        let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
        let per_second = f64::from(limit.requests) / f64::from(limit.per_seconds.max(1));
        Some((per_second * p95.as_secs_f64()).ceil() as usize)
    }

    /// Counts a 429 of the key; returns how many came in a row (1 for the first).
    pub fn throttled(&self, key: &str) -> u32 {
        self.with_key(key, |state, _| {
            state.throttled_streak = state.throttled_streak.saturating_add(1);
            state.throttled_streak
        })
    }

    /// A call of the key succeeded: the next 429 starts a new streak.
    pub fn succeeded(&self, key: &str) {
        self.with_key(key, |state, _| state.throttled_streak = 0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEN_PER_SECOND: RateLimit = RateLimit {
        requests: 10,
        per_seconds: 1,
    };

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_budget() {
        let pacer = Pacer::new();
        let start = Instant::now();
        for _ in 0..21 {
            pacer.until_ready("k", TEN_PER_SECOND).await;
        }
        let took = start.elapsed();
        // 21 calls at 10/s: the 21st starts after 20 intervals of (1 s + 50 ms jitter) / 10.
        assert!(took >= Duration::from_millis(2100), "{took:?}");
        assert!(took < Duration::from_millis(2150), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_whole_key_but_not_others() {
        let pacer = Pacer::new();
        pacer.until_ready("a", TEN_PER_SECOND).await;
        pacer.pause("a", Duration::from_secs(5)).await;
        let start = Instant::now();
        pacer.until_ready("b", TEN_PER_SECOND).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        pacer.until_ready("a", TEN_PER_SECOND).await;
        assert!(start.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_already_holding_a_slot_waits_out_a_later_pause() {
        let pacer = Pacer::new();
        // Take ten slots ahead, as ten concurrent publishes would.
        let start = Instant::now();
        let waiting: Vec<_> = (0..10)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    p.until_ready("k", TEN_PER_SECOND).await;
                    Instant::now()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        pacer.pause("k", Duration::from_secs(3)).await;
        for w in waiting {
            let called = w.await.unwrap();
            let at = called - start;
            assert!(
                at < Duration::from_millis(50) || at >= Duration::from_millis(3050),
                "a call at {at:?} fell inside the pause"
            );
        }
    }

    #[test]
    fn a_call_squeezed_against_the_window_waits_for_the_first_calls_latest_arrival() {
        let start = Instant::now();
        let mut state = KeyState::new(start);
        let ms = Duration::from_millis;
        // Ten calls on squeezed slots (103 ms apart: a late wake-up took the jitter margin).
        for i in 0..10 {
            assert!(state
                .admit(start + ms(103 * i), TEN_PER_SECOND, WINDOW_JITTER)
                .is_ok());
        }
        // The first may have arrived up to 50 ms after it went out: the 11th (1030 ms) would
        // share a second with it, so it waits until a second after that latest arrival.
        assert_eq!(
            state.admit(start + ms(1030), TEN_PER_SECOND, WINDOW_JITTER),
            Err(start + ms(1050))
        );
        assert!(state
            .admit(start + ms(1050), TEN_PER_SECOND, WINDOW_JITTER)
            .is_ok());
    }

    #[test]
    fn a_late_wake_up_widens_the_transit_allowed_for_until_the_host_is_quiet() {
        let pacer = Pacer::new();
        assert_eq!(pacer.transit(), WINDOW_JITTER);
        // A wake-up 100 ms late: calls admitted now may reach the provider that much later.
        pacer.woke(Instant::now() - Duration::from_millis(100));
        let widened = pacer.transit();
        assert!(
            widened >= WINDOW_JITTER + Duration::from_millis(200),
            "{widened:?}"
        );
        // A call admitted then is counted as arriving that late: the 11th call of the
        // window waits for it.
        let start = Instant::now();
        let mut state = KeyState::new(start);
        let ms = Duration::from_millis;
        for i in 0..10 {
            assert!(state
                .admit(start + ms(105 * i), TEN_PER_SECOND, widened)
                .is_ok());
        }
        assert!(state
            .admit(start + ms(1050), TEN_PER_SECOND, widened)
            .is_err());
        // On-time wake-ups: the lateness is forgotten.
        for _ in 0..60 {
            pacer.woke(Instant::now() + Duration::from_millis(1));
        }
        assert!(
            pacer.transit() < WINDOW_JITTER + Duration::from_millis(5),
            "{:?}",
            pacer.transit()
        );
    }

    #[tokio::test]
    async fn a_call_in_flight_through_a_stall_is_counted_as_arriving_after_it() {
        let pacer = Pacer::new();
        let answered = pacer.until_ready("k", TEN_PER_SECOND).await;
        pacer.answered("k", answered);
        let in_flight = pacer.until_ready("k", TEN_PER_SECOND).await;
        let bound = |p: &Pacer, call: SentCall| {
            p.with_key("k", |state, _| {
                state.sent.iter().find(|c| c.sent == call.0).map(|c| c.by)
            })
        };
        let before = bound(&pacer, in_flight);
        let answered_by = bound(&pacer, answered);
        // 100 ms on, a wake-up shows the process was held up: the unanswered call may only
        // go out now.
        tokio::time::sleep(Duration::from_millis(100)).await;
        pacer.woke(Instant::now() - Duration::from_millis(80));
        let after = bound(&pacer, in_flight);
        assert!(
            after
                .zip(before)
                .is_some_and(|(a, b)| a >= b + Duration::from_millis(90)),
            "{before:?} -> {after:?}"
        );
        // An answered call was counted before its answer: it stays where it was.
        assert_eq!(bound(&pacer, answered), answered_by);
    }

    #[tokio::test]
    async fn a_call_answered_across_a_stall_counts_at_its_answer() {
        let pacer = Pacer::new();
        let call = pacer.until_ready("k", TEN_PER_SECOND).await;
        let due = Instant::now();
        // The process is held up for 120 ms (the call may have been written only at its end),
        // and the answer comes before any wake-up shows it.
        tokio::time::sleep(Duration::from_millis(120)).await;
        pacer.answered("k", call);
        let answered_at = Instant::now();
        let by = |p: &Pacer| {
            p.with_key("k", |state, _| {
                state.sent.iter().find(|c| c.sent == call.0).map(|c| c.by)
            })
        };
        // Until the hold-up is seen, the call counts at its transit bound (sent + 50 ms)...
        assert!(by(&pacer).is_some_and(|b| b + Duration::from_millis(50) < answered_at));
        // ...and once a wake-up due then comes late, at its answer.
        pacer.woke(due);
        assert!(
            by(&pacer).is_some_and(|b| b + Duration::from_millis(1) >= answered_at),
            "{:?} vs {answered_at:?}",
            by(&pacer)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_answers_do_not_hold_the_budget_back() {
        let pacer = Pacer::new();
        let start = Instant::now();
        // Fifty calls at once, each answered after 900 ms (counted on arrival, long before).
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    let call = p.until_ready("k", TEN_PER_SECOND).await;
                    let went = Instant::now();
                    tokio::time::sleep(Duration::from_millis(900)).await;
                    p.answered("k", call);
                    went - start
                })
            })
            .collect();
        let mut went = Vec::new();
        for c in calls {
            went.push(c.await.unwrap());
        }
        went.sort();
        // On their slots, 105 ms apart: the 50th after 49 slots, not held until answers
        // came (that would be 10 calls per 1.9 s).
        let last = went[49];
        assert!(last < Duration::from_millis(5200), "{last:?}");
        for (i, t) in went.iter().enumerate().skip(10) {
            assert!(
                *t >= went[i - 10] + Duration::from_millis(1000),
                "11 calls within a second: {:?} and {t:?}",
                went[i - 10]
            );
        }
    }

    /// A ledger whose answers take as long as the next entry of `delays` (then none).
    struct SlowLedger {
        delays: Mutex<Vec<Duration>>,
        taken: std::sync::atomic::AtomicU32,
    }

    impl SlotLedger for SlowLedger {
        fn take_slot<'a>(
            &'a self,
            _key: &'a str,
            _interval: Duration,
        ) -> BoxFuture<'a, Result<Duration, String>> {
            Box::pin(async move {
                self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let delay = {
                    let mut d = self.delays.lock().unwrap();
                    if d.is_empty() {
                        Duration::ZERO
                    } else {
                        d.remove(0)
                    }
                };
                tokio::time::sleep(delay).await;
                Ok(Duration::ZERO) // the slot is "now" on the ledger's clock when it answers
            })
        }

        fn pause<'a>(
            &'a self,
            _key: &'a str,
            _wait: Duration,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_slot_known_too_late_is_given_up_for_a_new_one() {
        let ms = Duration::from_millis;
        let ledger = Arc::new(SlowLedger {
            delays: Mutex::new(vec![ms(60), ms(5)]),
            taken: Default::default(),
        });
        let pacer = Pacer::shared(ledger.clone());
        pacer.until_ready("k", TEN_PER_SECOND).await;
        // The first answer took 60 ms: the slot may have begun 60 ms before the call could
        // go out, so it was given up; the second (5 ms) was kept.
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 2);
        pacer.until_ready("k", TEN_PER_SECOND).await;
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_that_is_always_late_still_calls_after_a_few_slots() {
        let ledger = Arc::new(SlowLedger {
            delays: Mutex::new(vec![Duration::from_millis(100); 20]),
            taken: Default::default(),
        });
        let pacer = Pacer::shared(ledger.clone());
        pacer.until_ready("k", TEN_PER_SECOND).await;
        assert_eq!(
            ledger.taken.load(std::sync::atomic::Ordering::SeqCst),
            LATE_RETAKES + 1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_calls_wanted_in_flight_follow_the_budget_and_the_slow_answers() {
        let pacer = Pacer::new();
        assert_eq!(pacer.calls_in_flight_wanted("k"), None, "never called");
        // 100 answers: 90 of 200 ms, 10 of 1.2 s; the 95th percentile is 1.2 s.
        for i in 0..100 {
            let call = pacer.until_ready("k", TEN_PER_SECOND).await;
            let took = if i % 10 == 9 { 1200 } else { 200 };
            tokio::time::sleep(Duration::from_millis(took)).await;
            pacer.answered("k", call);
        }
        // 10 per second x 1.2 s: 12 calls under way keep the budget busy.
        assert_eq!(pacer.calls_in_flight_wanted("k"), Some(12));
        // The same answers under a budget of 300 a minute (5/s): 6.
        let slow = RateLimit {
            requests: 300,
            per_seconds: 60,
        };
        let call = pacer.until_ready("k", slow).await;
        pacer.answered("k", call);
        assert_eq!(pacer.calls_in_flight_wanted("k"), Some(6));
    }

    #[test]
    fn the_throttle_streak_resets_on_success() {
        let pacer = Pacer::new();
        assert_eq!(pacer.throttled("k"), 1);
        assert_eq!(pacer.throttled("k"), 2);
        pacer.succeeded("k");
        assert_eq!(pacer.throttled("k"), 1);
    }
}
