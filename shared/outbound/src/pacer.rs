//! Pacing per rate-limit key: every provider call waits for its slot under the key's budget,
//! and a 429 pauses the whole key until the provider's wait is over.
//!
//! Slots are spaced evenly (`window / requests`, burst of one) with a small safety margin,
//! so no window of the provider's length ever holds more than the budget, whichever way the
//! provider aligns its windows. With a [`SlotLedger`] (the database, in the fleet) the slots
//! are taken from one schedule shared by every process that calls the provider with the key:
//! publisher replicas, the API's connection tests, and a process restarted mid-window. When
//! the ledger cannot be reached the pacer keeps pacing from its own memory, which is exact as
//! long as one process holds the key (the publish partitions see to that). A process has one
//! ledger request per key under way at a time; the callers who arrive meanwhile take their
//! slots together in the next one, so a burst costs one round trip instead of a queue of
//! statements behind the key's row.

use docsync_domain::RateLimit;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Share of a window added as a margin against jitter between processes sharing a key
/// (calls that go out a little late, answers and ledger round trips of different lengths):
/// a window's budget is spread over the window plus this share of it, at least
/// [`WINDOW_JITTER`] and at most [`MAX_WINDOW_MARGIN`].
const MARGIN: f64 = 0.03;

/// The margin of a long window, at most. Jitter is tens of milliseconds whatever the window's
/// length: 3% of a 60 s window (1.8 s) would leave 3% of a 3,000-a-minute budget unused,
/// while this is still more than [`WINDOW_JITTER`] plus [`LATE_TOLERANCE`] over again.
const MAX_WINDOW_MARGIN: Duration = Duration::from_millis(250);

/// Transit jitter a whole window must absorb: a provider counts arrivals, and a request sent
/// on time may arrive tens of milliseconds late while the next one arrives on time. The
/// budget's requests are spread over the window plus at least this much, so `requests + 1`
/// arrivals never fit in one window unless they are squeezed by more than this.
const WINDOW_JITTER: Duration = Duration::from_millis(50);

/// How late a call may go out after the earliest moment its shared slot can have begun. A slot
/// from the ledger is known only to within the ledger's round trip, and a process under load
/// wakes late; a call that would go out later than this takes a new slot instead, because
/// a call sent late lands in the next window beside the calls of other processes that went
/// on time (one late call of three publishers put 11 requests in a provider's second).
const LATE_TOLERANCE: Duration = Duration::from_millis(20);

/// Slots in a row a call may give up for being late before it goes out anyway (a process so
/// starved that it can never keep a slot still makes progress; each such call is logged).
const LATE_RETAKES: u32 = 5;

/// The spacing of a key's calls under `limit`: the window plus its margin ([`MARGIN`] of it,
/// from [`WINDOW_JITTER`] to [`MAX_WINDOW_MARGIN`]) spread over the budget.
fn spacing(limit: RateLimit) -> Duration {
    let window = Duration::from_secs(u64::from(limit.per_seconds));
    let margin = window
        .mul_f64(MARGIN)
        .clamp(WINDOW_JITTER, MAX_WINDOW_MARGIN);
    // Rounded up to the nanosecond, so the budget's slots never span less than the window
    // and its margin.
    let nanos = (window + margin)
        .as_nanos()
        .div_ceil(u128::from(limit.requests.max(1)));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A slot taken from a [`SlotLedger`].
#[derive(Debug, Clone, Copy)]
pub struct SharedSlot {
    /// How long after the ledger's now (when it answered) the slot begins.
    pub wait: Duration,
    /// The soonest moment on this process's clock the ledger's now can have been: when the
    /// request went out (after any wait for a connection, which the ledger cannot have
    /// seen) plus how long the ledger says it worked on it.
    pub measured_no_sooner_than: Instant,
}

/// A schedule of slots per rate-limit key shared beyond this process.
pub trait SlotLedger: Send + Sync {
    /// Takes the key's next `count` slots, `interval` apart and `interval` after the
    /// previous one (never in the past, never inside a pause), and says how long after the
    /// ledger's own now the first is (the others follow it `interval` apart). Only the
    /// ledger's clock is read: no host's wall clock enters the arithmetic, so a host whose
    /// clock is off cannot call early. Counted from when the answer arrives, the wait errs
    /// late (by the answer's transit), never early.
    fn take_slots<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
        count: u32,
    ) -> BoxFuture<'a, Result<SharedSlot, String>>;

    /// Hands out no slot of the key for `wait` from now.
    fn pause<'a>(&'a self, key: &'a str, wait: Duration) -> BoxFuture<'a, Result<(), String>>;
}

#[derive(Debug)]
struct KeyState {
    next_slot: Instant,
    paused_until: Option<Instant>,
    /// 429s in a row without a success in between (drives the backoff when the provider
    /// names no wait).
    throttled_streak: u32,
    /// The calls of the last window: when each went out, replaced by when its answer came
    /// (the provider counted it at some moment in between).
    sent: Vec<Instant>,
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

    /// Records a call going out now unless `limit.requests` calls are already recorded in
    /// the last window (a slot came late, or an answer took long): then the moment it may go.
    /// Recorded times are answer times, which are never before the provider counted the call,
    /// so no window as the provider sees it ever holds more than the budget.
    fn admit(&mut self, now: Instant, limit: RateLimit) -> Result<SentCall, Instant> {
        let budget = limit.requests.max(1) as usize;
        let window = Duration::from_secs(u64::from(limit.per_seconds));
        self.sent.retain(|t| *t + window > now);
        if self.sent.len() >= budget {
            let oldest = self.sent.iter().min().copied().unwrap_or(now);
            return Err(oldest + window);
        }
        self.sent.push(now);
        Ok(SentCall(now))
    }
}

/// The callers of one key waiting for the ledger in this process. One request for the key is
/// under way at a time; callers who arrive meanwhile share the next one (a burst of callers
/// costs one ledger round trip, and they never queue behind each other for the key's row).
#[derive(Default)]
struct LedgerLane {
    /// Callers waiting for their slot, in arrival order.
    riders: Mutex<Vec<tokio::sync::oneshot::Sender<Result<SharedSlot, String>>>>,
    /// Held while the key's request is under way.
    turn: tokio::sync::Mutex<()>,
}

/// A call not started because the process is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopping;

/// Per-key pacing shared by every sink of a process.
#[derive(Clone, Default)]
pub struct Pacer {
    keys: Arc<Mutex<HashMap<String, KeyState>>>,
    lanes: Arc<Mutex<HashMap<String, Arc<LedgerLane>>>>,
    /// Set when the process stops: no new provider call is started.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    ledger: Option<Arc<dyn SlotLedger>>,
    metrics: Option<docsync_telemetry::Metrics>,
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
            lanes: Arc::default(),
            stopping: Arc::default(),
            ledger: Some(ledger),
            metrics: None,
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
            // out within LATE_TOLERANCE of `earliest`. A wait for the ledger's connection
            // does not count against the slot: the ledger measured after it.
            let (slot, earliest) = match &self.ledger {
                None => (local, None),
                Some(ledger) => {
                    let asked = Instant::now();
                    match self.shared_slot(ledger.as_ref(), key, interval).await {
                        Ok(taken) => {
                            let shared = Instant::now() + taken.wait;
                            // Keep the local schedule at least as late, for when the ledger fails.
                            self.with_key(key, |state, _| {
                                state.next_slot = state.next_slot.max(shared + interval);
                            });
                            let measured = taken.measured_no_sooner_than.max(asked);
                            (shared, Some(measured + taken.wait))
                        }
                        Err(e) => {
                            tracing::warn!(%key, error = %e, "pacing ledger unavailable; pacing from this process's schedule");
                            (local, None)
                        }
                    }
                }
            };
            tokio::time::sleep_until(slot).await;
            loop {
                let verdict = self.with_key(key, |state, now| match state.paused_at(now) {
                    Some(_) => None,
                    None if earliest.is_some_and(|e| now > e + LATE_TOLERANCE)
                        && late_retakes < LATE_RETAKES =>
                    {
                        Some(Err(None))
                    }
                    None => Some(state.admit(now, limit).map_err(Some)),
                });
                match verdict {
                    Some(Ok(call)) => {
                        if late_retakes >= LATE_RETAKES {
                            tracing::warn!(%key, "calling on a late slot: this process missed {LATE_RETAKES} slots in a row");
                        }
                        return call;
                    }
                    Some(Err(Some(later))) => tokio::time::sleep_until(later).await,
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

    /// The key's next slot from the ledger, taken together with those of every other caller
    /// of the key in this process who is waiting for the ledger at the same time.
    async fn shared_slot(
        &self,
        ledger: &dyn SlotLedger,
        key: &str,
        interval: Duration,
    ) -> Result<SharedSlot, String> {
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.entry(key.to_owned()).or_default().clone()
        };
        loop {
            let (slot, mut answer) = tokio::sync::oneshot::channel();
            lane.riders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(slot);
            // Our slot comes from whoever has the turn when we are queued, or from us if we
            // get the turn first; an answer that came is read at once, not after the turn.
            let taken = tokio::select! {
                biased;
                taken = &mut answer => taken,
                turn = lane.turn.lock() => {
                    let riders = std::mem::take(
                        &mut *lane.riders.lock().unwrap_or_else(|p| p.into_inner()),
                    );
                    if !riders.is_empty() {
                        let count = u32::try_from(riders.len()).unwrap_or(u32::MAX);
                        let first = ledger.take_slots(key, interval, count).await;
                        for (i, rider) in (0u32..).zip(riders) {
                            // A rider that gave up meanwhile leaves its slot unused.
                            let _ = rider.send(first.clone().map(|f| SharedSlot {
                                wait: f.wait + interval * i,
                                ..f
                            }));
                        }
                    }
                    drop(turn);
                    answer.await
                }
            };
            match taken {
                Ok(taken) => return taken,
                // The caller that took it for us was cancelled mid-request: ask again.
                Err(_) => continue,
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

    /// The provider answered `call` (or it failed): its record moves to now, and how long
    /// the answer took is remembered.
    pub fn answered(&self, key: &str, call: SentCall) {
        self.with_key(key, |state, now| {
            if let Some(t) = state.sent.iter_mut().find(|t| **t == call.0) {
                *t = now;
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

    #[test]
    fn a_window_of_slots_always_spans_the_window_and_its_jitter_and_wastes_little_of_a_long_one() {
        let ms = Duration::from_millis;
        for (requests, per_seconds) in [(1, 1), (2, 1), (10, 1), (40, 1), (300, 60), (3000, 60)] {
            let limit = RateLimit {
                requests,
                per_seconds,
            };
            let window = Duration::from_secs(u64::from(per_seconds));
            // `requests + 1` calls on consecutive slots span `requests` intervals: never
            // inside one window, even squeezed by the transit jitter and a late call.
            let span = spacing(limit) * requests;
            assert!(
                span >= window + WINDOW_JITTER,
                "{requests}/{per_seconds}s: {span:?}"
            );
            assert!(
                span >= window + window.mul_f64(MARGIN).min(MAX_WINDOW_MARGIN),
                "{requests}/{per_seconds}s: {span:?}"
            );
        }
        // Short windows keep their spacing: 10 a second, (1 s + 50 ms) / 10.
        assert_eq!(spacing(TEN_PER_SECOND), ms(105));
        // A long window gives up at most 250 ms of it: 3,000 a minute at 49.8 a second, not
        // at 3% below the budget.
        let per_minute = spacing(RateLimit {
            requests: 3000,
            per_seconds: 60,
        });
        assert!(
            per_minute <= Duration::from_micros(20_084),
            "{per_minute:?}"
        );
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
    fn a_slow_answer_holds_back_the_call_a_window_later() {
        let start = Instant::now();
        let mut state = KeyState::new(start);
        let ms = Duration::from_millis;
        // Ten calls on their slots; the first one's answer took 80 ms (a new connection).
        let first = state.admit(start, TEN_PER_SECOND).unwrap();
        for i in 1..10 {
            assert!(state.admit(start + ms(103 * i), TEN_PER_SECOND).is_ok());
        }
        if let Some(t) = state.sent.iter_mut().find(|t| **t == first.0) {
            *t = start + ms(80);
        }
        // The 11th slot (1030 ms) is within a window of that answer: it waits for it.
        assert_eq!(
            state.admit(start + ms(1030), TEN_PER_SECOND),
            Err(start + ms(1080))
        );
        assert!(state.admit(start + ms(1080), TEN_PER_SECOND).is_ok());
    }

    /// A ledger whose answers take as long as the next entry of `delays` (then none), of
    /// which the first `queued` are spent waiting for a connection, before the request goes
    /// out (a pool's queue), and the rest on the way to and from the ledger.
    struct SlowLedger {
        delays: Mutex<Vec<(Duration, Duration)>>,
        taken: std::sync::atomic::AtomicU32,
        next: Mutex<Option<Instant>>,
    }

    impl SlowLedger {
        fn new(delays: Vec<Duration>) -> Arc<Self> {
            Self::queued_then(delays.into_iter().map(|d| (Duration::ZERO, d)).collect())
        }

        fn queued_then(delays: Vec<(Duration, Duration)>) -> Arc<Self> {
            Arc::new(Self {
                delays: Mutex::new(delays),
                taken: Default::default(),
                next: Mutex::new(None),
            })
        }
    }

    impl SlotLedger for SlowLedger {
        fn take_slots<'a>(
            &'a self,
            _key: &'a str,
            interval: Duration,
            count: u32,
        ) -> BoxFuture<'a, Result<SharedSlot, String>> {
            Box::pin(async move {
                self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // The ledger's schedule: the first of the slots after the last one taken.
                let first = {
                    let mut next = self.next.lock().unwrap();
                    let now = Instant::now();
                    let first = next.map_or(now, |n: Instant| n.max(now));
                    *next = Some(first + interval * count);
                    first
                };
                let (queued, transit) = {
                    let mut d = self.delays.lock().unwrap();
                    if d.is_empty() {
                        (Duration::ZERO, Duration::ZERO)
                    } else {
                        d.remove(0)
                    }
                };
                tokio::time::sleep(queued).await;
                let sent = Instant::now();
                tokio::time::sleep(transit).await;
                // Measured on the ledger's clock when it answers, which may have been as
                // soon as the request went out.
                Ok(SharedSlot {
                    wait: first.saturating_duration_since(Instant::now()),
                    measured_no_sooner_than: sent,
                })
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
        let ledger = SlowLedger::new(vec![ms(60), ms(5)]);
        let pacer = Pacer::shared(ledger.clone());
        pacer.until_ready("k", TEN_PER_SECOND).await;
        // The first answer took 60 ms: the slot may have begun 60 ms before the call could
        // go out, so it was given up; the second (5 ms) was kept.
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 2);
        pacer.until_ready("k", TEN_PER_SECOND).await;
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_for_the_ledgers_connection_does_not_make_a_slot_late() {
        let ms = Duration::from_millis;
        // 200 ms in the pool's queue, then 5 ms to the ledger and back: the ledger measured
        // its now after the queue, so the slot is kept.
        let ledger = SlowLedger::queued_then(vec![(ms(200), ms(5))]);
        let pacer = Pacer::shared(ledger.clone());
        pacer.until_ready("k", TEN_PER_SECOND).await;
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 1);
        // 5 ms in the queue, then 60 ms on the way: the slot may have begun 60 ms before the
        // call could go out, so it is given up.
        let ledger = SlowLedger::queued_then(vec![(ms(5), ms(60)), (ms(5), ms(5))]);
        let pacer = Pacer::shared(ledger.clone());
        pacer.until_ready("k", TEN_PER_SECOND).await;
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_waiting_for_the_ledger_at_once_share_one_request_and_keep_their_spacing() {
        let ms = Duration::from_millis;
        // Every request takes 2 ms to the ledger and back.
        let ledger = SlowLedger::new(vec![ms(2); 100]);
        let pacer = Pacer::shared(ledger.clone());
        let start = Instant::now();
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    p.until_ready("k", TEN_PER_SECOND).await;
                    Instant::now() - start
                })
            })
            .collect();
        let mut called = Vec::new();
        for c in callers {
            called.push(c.await.unwrap());
        }
        called.sort();
        // The first caller's request, then one for the 19 who arrived meanwhile.
        let requests = ledger.taken.load(std::sync::atomic::Ordering::SeqCst);
        assert!(requests <= 2, "{requests} ledger requests for 20 callers");
        // Every caller on a slot of its own, none before it: the i-th a whole interval after
        // the one before (the first went out 2 ms late, when the answer came).
        for (i, at) in (0u32..).zip(&called) {
            assert!(*at >= ms(105) * i, "{called:?}");
        }
        assert!(called[19] < ms(105 * 19 + 20), "{called:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_whose_slot_came_does_not_wait_for_the_next_ledger_request() {
        let ms = Duration::from_millis;
        // The first request takes 5 ms, the second (for the five who queued meanwhile)
        // 50 ms, the third (for a caller who came during the second) 100 ms, the last two
        // waiting for a connection (so their own slots are not late).
        let ledger =
            SlowLedger::queued_then(vec![(ms(0), ms(5)), (ms(50), ms(0)), (ms(100), ms(0))]);
        let pacer = Pacer::shared(ledger.clone());
        let mut callers: Vec<_> = (0..6)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move { p.until_ready("k", TEN_PER_SECOND).await })
            })
            .collect();
        tokio::time::sleep(ms(10)).await;
        let p = pacer.clone();
        callers.push(tokio::spawn(async move {
            p.until_ready("k", TEN_PER_SECOND).await
        }));
        for c in callers {
            c.await.unwrap();
        }
        // Three requests: had the five of the second waited for the third to end before
        // reading their slots, they would have been 100 ms late and taken new ones.
        assert_eq!(ledger.taken.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_that_is_always_late_still_calls_after_a_few_slots() {
        let ledger = SlowLedger::new(vec![Duration::from_millis(100); 20]);
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
