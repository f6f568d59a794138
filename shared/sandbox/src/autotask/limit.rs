//! Autotask's two limits: the request threshold of the database (every integration of the MSP
//! shares it) and the thread limit per (integration code, entity endpoint).
//!
//! The threshold counts requests per clock-aligned window (window `w` covers the Unix seconds
//! `w·timeframe .. (w+1)·timeframe`), so it rolls over at the window's end. A refused request
//! adds nothing. The thread limit counts requests being processed; the emulator also records,
//! per endpoint, the most requests that were in flight at once, counting each arrival with the
//! admitted ones it found in flight (so a refused arrival shows as `thread_limit + 1`).

use std::collections::{BTreeMap, HashMap};

/// The database's request window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Requests admitted per window.
    pub(crate) threshold: u32,
    /// Window length in seconds (at least 1).
    pub(crate) timeframe_secs: u64,
    /// The current window's index.
    window: u64,
    /// Requests counted in it.
    count: u32,
}

impl Budget {
    /// A budget of `threshold` requests per `timeframe_secs` (0 is taken as 1).
    pub(crate) fn new(threshold: u32, timeframe_secs: u64) -> Self {
        Budget {
            threshold,
            timeframe_secs: timeframe_secs.max(1),
            window: 0,
            count: 0,
        }
    }

    fn roll(&mut self, now_secs: u64) {
        let w = now_secs / self.timeframe_secs;
        if w != self.window {
            self.window = w;
            self.count = 0;
        }
    }

    /// Counts one request at `now_secs`; `Some(count in the window, this one included)` when
    /// admitted, `None` when the window is already at the threshold.
    pub(crate) fn admit(&mut self, now_secs: u64) -> Option<u32> {
        self.roll(now_secs);
        if self.count >= self.threshold {
            return None;
        }
        self.count += 1;
        Some(self.count)
    }

    /// Adds `n` requests made by other integrations to the current window.
    pub(crate) fn consume(&mut self, n: u32, now_secs: u64) {
        self.roll(now_secs);
        self.count = self.count.saturating_add(n);
    }

    /// The requests counted in the current window.
    pub(crate) fn count(&mut self, now_secs: u64) -> u32 {
        self.roll(now_secs);
        self.count
    }

    /// Changes the threshold and the timeframe; the current window's count is kept (and taken
    /// as the count of the window `now_secs` falls in under the new timeframe).
    pub(crate) fn set(&mut self, threshold: u32, timeframe_secs: u64, now_secs: u64) {
        self.roll(now_secs);
        self.threshold = threshold;
        self.timeframe_secs = timeframe_secs.max(1);
        self.window = now_secs / self.timeframe_secs;
    }
}

/// Requests in flight per (integration code, endpoint), and the peaks per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Threads {
    in_flight: HashMap<(String, String), u32>,
    peaks: BTreeMap<String, u32>,
}

impl Threads {
    /// Records an arrival; true when it may run (fewer than `limit` in flight before it), in
    /// which case the caller must [`Threads::leave`] when done.
    pub(crate) fn enter(&mut self, code: &str, endpoint: &str, limit: u32) -> bool {
        let n = self
            .in_flight
            .entry((code.to_string(), endpoint.to_string()))
            .or_default();
        let attempted = n.saturating_add(1);
        let peak = self.peaks.entry(endpoint.to_string()).or_default();
        *peak = (*peak).max(attempted);
        if attempted > limit {
            return false;
        }
        *n = attempted;
        true
    }

    /// Ends a request [`Threads::enter`] admitted.
    pub(crate) fn leave(&mut self, code: &str, endpoint: &str) {
        let k = (code.to_string(), endpoint.to_string());
        if let Some(n) = self.in_flight.get_mut(&k) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&k);
            }
        }
    }

    /// The most requests in flight at once, per endpoint.
    pub(crate) fn peaks(&self) -> &BTreeMap<String, u32> {
        &self.peaks
    }

    /// Forgets the peaks (requests in flight stay counted).
    pub(crate) fn reset_peaks(&mut self) {
        self.peaks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_clock_aligned_and_refusals_cost_nothing() {
        let mut b = Budget::new(2, 10);
        assert_eq!(b.admit(100), Some(1));
        assert_eq!(b.admit(105), Some(2));
        assert_eq!(b.admit(109), None);
        assert_eq!(b.count(109), 2);
        // 110 starts the next window.
        assert_eq!(b.admit(110), Some(1));
        b.consume(5, 111);
        assert_eq!(b.count(111), 6);
        assert_eq!(b.admit(111), None);
        b.set(10, 60, 112);
        assert_eq!(b.count(112), 6);
        assert_eq!(b.admit(119), Some(7));
        assert_eq!(b.admit(120), Some(1));
        assert_eq!(Budget::new(1, 0).timeframe_secs, 1);
    }

    #[test]
    fn threads_are_limited_per_code_and_endpoint() {
        let mut t = Threads::default();
        assert!(t.enter("A", "Companies", 2));
        assert!(t.enter("A", "Companies", 2));
        assert!(!t.enter("A", "Companies", 2));
        assert!(t.enter("B", "Companies", 2));
        assert!(t.enter("A", "Contacts", 2));
        assert_eq!(t.peaks()["Companies"], 3);
        assert_eq!(t.peaks()["Contacts"], 1);
        t.leave("A", "Companies");
        assert!(t.enter("A", "Companies", 2));
        t.reset_peaks();
        assert!(t.peaks().is_empty());
    }
}
