//! Pacing per rate-limit key: every provider call waits for its slot under the key's budget,
//! and a 429 pauses the whole key until the provider's wait is over.
//!
//! Slots are spaced evenly (`window / requests`, burst of one) with a small safety margin,
//! so no window of the provider's length ever holds more than the budget, whichever way the
//! provider aligns its windows.

use docsync_domain::RateLimit;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Share of the interval added as a margin against clock and network jitter.
const MARGIN: f64 = 0.02;

#[derive(Debug)]
struct KeyState {
    interval: Duration,
    next_slot: Instant,
    paused_until: Option<Instant>,
}

/// Per-key pacing shared by every sink of a process.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    keys: Arc<Mutex<HashMap<String, KeyState>>>,
}

impl Pacer {
    /// A pacer with no keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until the key may make its next call under `limit`, and takes that slot.
    pub async fn until_ready(&self, key: &str, limit: RateLimit) {
        let slot = self.reserve(key, limit);
        tokio::time::sleep_until(slot).await;
    }

    fn reserve(&self, key: &str, limit: RateLimit) -> Instant {
        let interval = limit.interval().mul_f64(1.0 + MARGIN);
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let state = keys.entry(key.to_owned()).or_insert(KeyState {
            interval,
            next_slot: now,
            paused_until: None,
        });
        state.interval = interval;
        let mut slot = state.next_slot.max(now);
        if let Some(until) = state.paused_until {
            if until > slot {
                slot = until;
            } else if until <= now {
                state.paused_until = None;
            }
        }
        state.next_slot = slot + interval;
        slot
    }

    /// Pauses every call of the key for `wait` (a 429 answer); slots already handed out
    /// that fall inside the pause are not revoked, so callers retry through `until_ready`.
    pub fn pause(&self, key: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = keys.get_mut(key) {
            state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
            state.next_slot = state.next_slot.max(until);
        } else {
            keys.insert(
                key.to_owned(),
                KeyState {
                    interval: Duration::ZERO,
                    next_slot: until,
                    paused_until: Some(until),
                },
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_budget() {
        let pacer = Pacer::new();
        let limit = RateLimit {
            requests: 10,
            per_seconds: 1,
        };
        let start = Instant::now();
        for _ in 0..21 {
            pacer.until_ready("k", limit).await;
        }
        let took = start.elapsed();
        // 21 calls at 10/s: the 21st starts after 20 intervals of >= 100 ms.
        assert!(took >= Duration::from_millis(2000), "{took:?}");
        assert!(took < Duration::from_millis(2100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_whole_key_but_not_others() {
        let pacer = Pacer::new();
        let limit = RateLimit {
            requests: 10,
            per_seconds: 1,
        };
        pacer.until_ready("a", limit).await;
        pacer.pause("a", Duration::from_secs(5));
        let start = Instant::now();
        pacer.until_ready("b", limit).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        pacer.until_ready("a", limit).await;
        assert!(start.elapsed() >= Duration::from_secs(5));
    }
}
