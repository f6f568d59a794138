//! ConnectWise's per-API-member budget: at most `per_second` admitted requests in any
//! sliding one-second window (refusals consume nothing). Every authenticated arrival is also
//! recorded, refused ones included, so the statistics show the most requests a member sent
//! within one second.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);

/// One member's window and arrival statistics.
#[derive(Debug, Default)]
pub(crate) struct MemberWindow {
    /// Admission times within the last second.
    admitted: VecDeque<Instant>,
    /// Arrival times within the last second.
    arrivals: VecDeque<Instant>,
    /// The most arrivals seen within one sliding second.
    max_in_second: u32,
}

fn trim(q: &mut VecDeque<Instant>, now: Instant) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= SECOND)
    {
        q.pop_front();
    }
}

impl MemberWindow {
    /// Records one arrival at `now` and judges it against `per_second` (`None`: unlimited);
    /// true when admitted.
    pub(crate) fn admit(&mut self, now: Instant, per_second: Option<u32>) -> bool {
        trim(&mut self.arrivals, now);
        self.arrivals.push_back(now);
        let n = u32::try_from(self.arrivals.len()).unwrap_or(u32::MAX);
        self.max_in_second = self.max_in_second.max(n);
        let Some(limit) = per_second else {
            return true;
        };
        trim(&mut self.admitted, now);
        if self.admitted.len() >= limit as usize {
            return false;
        }
        self.admitted.push_back(now);
        true
    }

    /// The most arrivals within one sliding second.
    pub(crate) fn max_in_second(&self) -> u32 {
        self.max_in_second
    }

    /// Forgets the arrival statistics (the budget is kept).
    pub(crate) fn reset_stats(&mut self) {
        self.arrivals.clear();
        self.max_in_second = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_refusals_cost_nothing() {
        let mut w = MemberWindow::default();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert!(w.admit(ms(0), Some(2)));
        assert!(w.admit(ms(300), Some(2)));
        assert!(!w.admit(ms(600), Some(2)));
        assert!(!w.admit(ms(900), Some(2)));
        // The first admission aged out; the refusals consumed nothing.
        assert!(w.admit(ms(1000), Some(2)));
        assert!(!w.admit(ms(1100), Some(2)));
        assert!(w.admit(ms(1300), Some(2)));
        assert_eq!(w.max_in_second(), 5);
        assert!(w.admit(ms(1301), None));
        w.reset_stats();
        assert_eq!(w.max_in_second(), 0);
    }
}
