//! How many publishes of one rate-limit key run at once in this process.
//!
//! A publish holds its key's turn across its provider calls, so with a fixed number of turns a
//! slow provider starves its own budget (3 turns at 500 ms a call: 6 calls a second of 10
//! allowed). The turns of a key follow its budget and the latency its provider shows: at least
//! `min`, else what the pacer says keeps the budget busy ([`Pacer::calls_in_flight_wanted`]:
//! rate x the 95th percentile of recent answer times) plus `min` for the database work around
//! the calls, never more than `max`; `first` before the key's provider has answered at all.
//! More turns never mean more calls than the budget: the pacer spaces every call. The gate
//! itself is the outbound stack's [`InFlight`], as for a PSA sync's writes. Invariant: a key
//! never has more publishes under way than its limit at the moment each began.

use docsync_outbound::in_flight::{InFlight, InFlightBounds, Place};
use docsync_sinks::Pacer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The turns of every key.
pub(crate) struct KeyGates {
    bounds: InFlightBounds,
    pacer: Pacer,
    gates: Mutex<HashMap<String, Arc<InFlight>>>,
}

/// A publish's turn; ends when dropped.
pub(crate) type Turn = Place;

impl KeyGates {
    /// Turns per key from `min` to `max`, sized from what `pacer` has seen of each key
    /// (`first` while it has seen no answer of the key).
    pub(crate) fn new(min: usize, first: usize, max: usize, pacer: Pacer) -> Self {
        Self {
            bounds: InFlightBounds { min, first, max },
            pacer,
            gates: Mutex::default(),
        }
    }

    /// The number of publishes of `key` that may run at once now.
    pub(crate) fn limit(&self, key: &str) -> usize {
        self.bounds.limit(self.pacer.calls_in_flight_wanted(key))
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
        gate.enter(|| self.limit(key)).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use docsync_domain::RateLimit;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

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
