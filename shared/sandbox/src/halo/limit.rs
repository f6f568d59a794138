//! Halo's budget per API application (client id): at most `requests` admitted requests in any
//! rolling window of `window_secs` (a sliding log, as hosted Halo's "300 requests per rolling
//! 5 minutes"; refusals consume nothing). Every authenticated arrival is also logged, refused
//! ones included, so the statistics show the most requests one client sent within one window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The window the arrival statistics use while no limit is set: hosted Halo's five minutes.
const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// The limiter's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admitted (or no limit is set).
    Admitted,
    /// Over the budget: the oldest admission in the window frees a slot in this many whole
    /// seconds (at least 1).
    Refused {
        /// Seconds until a slot frees, rounded up.
        retry_after_secs: u64,
    },
}

/// One client's logs.
#[derive(Debug, Default)]
struct ClientLog {
    /// Admission times within the current window.
    admitted: VecDeque<Instant>,
    /// Arrival times within the current window.
    arrivals: VecDeque<Instant>,
    /// The most arrivals seen within one rolling window.
    max_in_window: u32,
}

fn trim(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
}

/// Rolling windows per client id.
#[derive(Debug, Default)]
pub(crate) struct RollingLimiter {
    /// `(requests, window_secs)`; `None`: unlimited.
    limit: Option<(u32, u64)>,
    clients: HashMap<String, ClientLog>,
}

impl RollingLimiter {
    /// A limiter with this limit.
    pub(crate) fn new(limit: Option<(u32, u64)>) -> Self {
        RollingLimiter {
            limit,
            clients: HashMap::new(),
        }
    }

    /// The limit in force.
    pub(crate) fn limit(&self) -> Option<(u32, u64)> {
        self.limit
    }

    /// Changes the limit; the logs are kept.
    pub(crate) fn set_limit(&mut self, limit: Option<(u32, u64)>) {
        self.limit = limit;
    }

    fn window(&self) -> Duration {
        self.limit
            .map_or(DEFAULT_WINDOW, |(_, secs)| Duration::from_secs(secs.max(1)))
    }

    /// Logs one arrival of `client` at `now` and judges it.
    pub(crate) fn admit(&mut self, client: &str, now: Instant) -> Verdict {
        let window = self.window();
        let limit = self.limit;
        let log = self.clients.entry(client.to_string()).or_default();
        trim(&mut log.arrivals, now, window);
        log.arrivals.push_back(now);
        let n = u32::try_from(log.arrivals.len()).unwrap_or(u32::MAX);
        log.max_in_window = log.max_in_window.max(n);
        let Some((requests, _)) = limit else {
            return Verdict::Admitted;
        };
        trim(&mut log.admitted, now, window);
        if log.admitted.len() < requests as usize {
            log.admitted.push_back(now);
            return Verdict::Admitted;
        }
        // The slot the oldest admission holds frees when it leaves the window.
        let frees_in = log.admitted.front().map_or(Duration::ZERO, |t| {
            window.saturating_sub(now.saturating_duration_since(*t))
        });
        let millis = u64::try_from(frees_in.as_millis()).unwrap_or(u64::MAX);
        Verdict::Refused {
            retry_after_secs: millis.div_ceil(1000).max(1),
        }
    }

    /// The most arrivals of one client within one rolling window.
    pub(crate) fn max_in_window(&self) -> u32 {
        self.clients
            .values()
            .map(|l| l.max_in_window)
            .max()
            .unwrap_or(0)
    }

    /// Forgets the arrival statistics (the admissions, hence the budgets, are kept).
    pub(crate) fn reset_stats(&mut self) {
        for log in self.clients.values_mut() {
            log.arrivals.clear();
            log.max_in_window = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_rolls_and_refusals_cost_nothing() {
        let mut l = RollingLimiter::new(Some((2, 10)));
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(l.admit("a", s(0)), Verdict::Admitted);
        assert_eq!(l.admit("a", s(4_000)), Verdict::Admitted);
        assert_eq!(
            l.admit("a", s(6_000)),
            Verdict::Refused {
                retry_after_secs: 4
            }
        );
        // Another client has its own budget.
        assert_eq!(l.admit("b", s(6_000)), Verdict::Admitted);
        assert_eq!(
            l.admit("a", s(9_500)),
            Verdict::Refused {
                retry_after_secs: 1
            }
        );
        // The first admission left the window; the refusals consumed nothing.
        assert_eq!(l.admit("a", s(10_000)), Verdict::Admitted);
        assert_eq!(
            l.admit("a", s(10_001)),
            Verdict::Refused {
                retry_after_secs: 4
            }
        );
        assert_eq!(l.admit("a", s(14_000)), Verdict::Admitted);
        // Arrivals in the window ending at 10.001 s: 4.0, 6.0, 9.5, 10.0, 10.001.
        assert_eq!(l.max_in_window(), 5);
        l.set_limit(None);
        assert_eq!(l.admit("a", s(14_001)), Verdict::Admitted);
        l.reset_stats();
        assert_eq!(l.max_in_window(), 0);
        assert_eq!(l.limit(), None);
    }
}
