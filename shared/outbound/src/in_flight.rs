//! How much of a key's work is under way at once, following its budget and its provider's
//! latency: a fixed number of calls in flight starves a slow provider's budget (3 at 500 ms a
//! call is 6 calls a second of 10 allowed), so the limit is what the pacer says keeps the
//! budget busy ([`Pacer::calls_in_flight_wanted`]: rate × the 95th percentile of recent answer
//! times) plus a floor for the work around the calls, within bounds.
//!
//! Invariant: an [`InFlight`] never lets more holders in than the limit at the moment each
//! came in. More in flight never means more calls than the budget: the pacer spaces every
//! call.
//!
//! [`Pacer::calls_in_flight_wanted`]: crate::Pacer::calls_in_flight_wanted

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often a waiter looks again at the limit (it rises as latency grows).
const RECHECK: Duration = Duration::from_millis(500);

/// The bounds of a limit: at least `min`, at most `max`, `first` before the key's provider has
/// answered at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightBounds {
    /// The floor, added to what the pacer wants for the work around the calls.
    pub min: usize,
    /// The guess before any answer.
    pub first: usize,
    /// The ceiling.
    pub max: usize,
}

impl InFlightBounds {
    /// The limit when the pacer wants `wanted` calls under way (`None`: no answer seen yet).
    pub fn limit(&self, wanted: Option<usize>) -> usize {
        let min = self.min.max(1);
        wanted
            .map_or(self.first, |w| w.saturating_add(min))
            .clamp(min, self.max.max(min))
    }
}

/// Holders of one key's places.
#[derive(Debug, Default)]
pub struct InFlight {
    in_flight: AtomicUsize,
    freed: Notify,
}

/// A place in an [`InFlight`]; given back when dropped.
#[derive(Debug)]
pub struct Place(Arc<InFlight>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

impl InFlight {
    /// Holders now.
    pub fn holders(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits for a place while fewer than `limit()` hold one (asked again whenever a place
    /// is given back, and every half second).
    pub async fn enter(self: &Arc<Self>, limit: impl Fn() -> usize) -> Place {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let limit = limit();
            let current = self.in_flight.load(Ordering::SeqCst);
            if current < limit
                && self
                    .in_flight
                    .compare_exchange(current, current + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                if current + 1 < limit {
                    self.freed.notify_one(); // room for another waiter too
                }
                return Place(Arc::clone(self));
            }
            tokio::select! {
                _ = &mut freed => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_follows_what_the_pacer_wants_within_bounds() {
        let b = InFlightBounds {
            min: 3,
            first: 13,
            max: 64,
        };
        assert_eq!(b.limit(None), 13, "no answer yet: the first guess");
        assert_eq!(b.limit(Some(0)), 3);
        assert_eq!(b.limit(Some(10)), 13);
        assert_eq!(b.limit(Some(1000)), 64);
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_hold_a_place() {
        let gate = Arc::new(InFlight::default());
        let a = gate.enter(|| 2).await;
        let _b = gate.enter(|| 2).await;
        let third = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.enter(|| 2).await }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(gate.holders(), 2, "the third waits");
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .unwrap_or_else(|_| panic!("a freed place lets the next one in"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gate.holders(), 2);
    }
}
