//! How many publishes of one rate-limit key run at once in this process.
//!
//! A publish holds its key's turn across its provider calls, so with a fixed number of turns a
//! slow provider starves its own budget (3 turns at 500 ms a call: 6 calls a second of 10
//! allowed). The turns of a key follow its budget and the latency its provider shows: at least
//! `min`, else what the pacer says keeps the budget busy ([`Pacer::calls_in_flight_wanted`]:
//! rate x the 95th percentile of recent answer times) plus `min` for the database work around
//! the calls, never more than `max`; `first` before the key's provider has answered at all.
//! More turns never mean more calls than the budget: the pacer spaces every call. Invariant: a key never has more publishes under way than its limit
//! at the moment each began.

use docsync_sinks::Pacer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How often a waiting publish looks again at its key's limit (it rises as latency grows).
const RECHECK: Duration = Duration::from_millis(500);

/// The turns of every key.
pub(crate) struct KeyGates {
    min: usize,
    first: usize,
    max: usize,
    pacer: Pacer,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

#[derive(Default)]
struct Gate {
    in_flight: AtomicUsize,
    freed: Notify,
}

/// A publish's turn; ends when dropped.
pub(crate) struct Turn(Arc<Gate>);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

impl KeyGates {
    /// Turns per key from `min` to `max`, sized from what `pacer` has seen of each key
    /// (`first` while it has seen no answer of the key).
    pub(crate) fn new(min: usize, first: usize, max: usize, pacer: Pacer) -> Self {
        let min = min.max(1);
        Self {
            min,
            first,
            max: max.max(min),
            pacer,
            gates: Mutex::default(),
        }
    }

    /// The number of publishes of `key` that may run at once now.
    pub(crate) fn limit(&self, key: &str) -> usize {
        self.pacer
            .calls_in_flight_wanted(key)
            .map_or(self.first, |wanted| wanted.saturating_add(self.min))
            .clamp(self.min, self.max)
    }

    /// Waits for a turn of `key`.
    pub(crate) async fn turn(&self, key: &str) -> Turn {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        loop {
            let freed = gate.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let limit = self.limit(key);
            let current = gate.in_flight.load(Ordering::SeqCst);
            if current < limit
                && gate
                    .in_flight
                    .compare_exchange(current, current + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                if current + 1 < limit {
                    gate.freed.notify_one(); // room for another waiter too
                }
                return Turn(Arc::clone(&gate));
            }
            tokio::select! {
                _ = &mut freed => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use docsync_domain::RateLimit;

    const TEN_PER_SECOND: RateLimit = RateLimit {
        requests: 10,
        per_seconds: 1,
    };

    #[tokio::test(start_paused = true)]
    async fn turns_grow_with_the_providers_latency_within_bounds() {
        let pacer = Pacer::new();
        let gates = KeyGates::new(3, 13, 64, pacer.clone());
        assert_eq!(gates.limit("k"), 13, "nothing seen yet: the first guess");
        // Answers of 800 ms under 10/s: 8 calls under way keep the budget busy, + 3.
        for _ in 0..20 {
            let call = pacer.until_ready("k", TEN_PER_SECOND).await;
            tokio::time::sleep(Duration::from_millis(800)).await;
            pacer.answered("k", call);
        }
        assert_eq!(gates.limit("k"), 11);
        let small = KeyGates::new(3, 13, 5, pacer);
        assert_eq!(small.limit("k"), 5, "never above the maximum");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_turns_are_out_than_the_limit() {
        let gates = Arc::new(KeyGates::new(2, 2, 2, Pacer::new()));
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (gates, peak, now) = (gates.clone(), peak.clone(), now.clone());
                tokio::spawn(async move {
                    let _turn = gates.turn("k").await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let started = tokio::time::Instant::now();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        // Ten publishes of 100 ms two at a time: five rounds, each starting as a turn ends.
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
    }
}
