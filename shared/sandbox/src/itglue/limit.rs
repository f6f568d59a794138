//! IT Glue's per-key budget: at most `per_second` admitted requests in any sliding one-second
//! window and `per_five_minutes` in each clock-aligned five-minute window. Refused requests
//! consume no budget. Beside the limit, every authenticated arrival is recorded (refused ones
//! included) so the statistics can tell whether a client ever sent more than it was allowed, or
//! came back before a `Retry-After` it was given had run out.

pub(crate) use crate::ratelimit::Verdict;
use crate::ItGlueLimit;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Length of the sliding window.
const SECOND: Duration = Duration::from_secs(1);
/// Requests arriving this soon after a `Retry-After` was sent are not held against the
/// client: they left before it could have read the answer (calls already on the wire).
const REACTION: Duration = Duration::from_millis(300);
/// Length of the fixed window, in seconds.
const FIVE_MINUTES: u64 = 300;

/// One key's windows and arrival statistics.
#[derive(Debug, Default)]
pub(crate) struct KeyWindows {
    /// Verdict times of the last second (admitted requests only).
    admitted: VecDeque<Instant>,
    /// Arrival times of the last second (every authenticated request).
    arrivals: VecDeque<Instant>,
    /// `(five-minute window number, admitted requests in it)`.
    five_minutes: (u64, u32),
    /// When the running `Retry-After` was first sent to this key, and until when it runs.
    retry_until: Option<(Instant, Instant)>,
    /// The most arrivals seen in one sliding second.
    max_in_second: u32,
    /// Arrivals while a `Retry-After` was running.
    during_retry_after: u64,
    /// When the statistics were last reset (None: never).
    since: Option<Instant>,
    /// The first and the last arrival since then.
    first_and_last: Option<(Instant, Instant)>,
}

/// When a key's requests came, in milliseconds after its statistics were last reset (after
/// the first request, when they never were).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ActiveSpan {
    /// The first request.
    pub(crate) first_ms: u64,
    /// The last request.
    pub(crate) last_ms: u64,
}

/// Drops the instants at least one second older than `now`.
fn trim(q: &mut VecDeque<Instant>, now: Instant) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= SECOND)
    {
        q.pop_front();
    }
}

/// Adds `at` keeping `q` oldest first: requests are judged in the order the emulator gets to
/// them, which may differ by a few milliseconds from the order they arrived in.
fn insert_in_order(q: &mut VecDeque<Instant>, at: Instant) {
    let place = q.partition_point(|t| *t <= at);
    q.insert(place, at);
}

impl KeyWindows {
    /// Records one authenticated arrival at `now` for the statistics.
    pub(crate) fn arrive(&mut self, now: Instant) {
        trim(&mut self.arrivals, now);
        insert_in_order(&mut self.arrivals, now);
        self.first_and_last = Some(match self.first_and_last {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
        let n = u32::try_from(self.arrivals.len()).unwrap_or(u32::MAX);
        self.max_in_second = self.max_in_second.max(n);
        if self
            .retry_until
            .is_some_and(|(told, until)| now < until && now >= told + REACTION)
        {
            self.during_retry_after += 1;
        }
    }

    /// Remembers that the key was told to wait `secs` seconds from `now`.
    pub(crate) fn told_to_wait(&mut self, now: Instant, secs: u64) {
        let until = now + Duration::from_secs(secs);
        self.retry_until = Some(match self.retry_until {
            Some((told, u)) if u > now => (told, u.max(until)),
            _ => (now, until),
        });
    }

    /// Judges one request at `now` (`unix_secs` places it in a five-minute window); an
    /// admitted request consumes budget, a refused one does not.
    pub(crate) fn admit(
        &mut self,
        limit: Option<ItGlueLimit>,
        now: Instant,
        unix_secs: u64,
    ) -> Verdict {
        let Some(limit) = limit else {
            return Verdict::Unlimited;
        };
        trim(&mut self.admitted, now);
        let window = unix_secs / FIVE_MINUTES;
        if self.five_minutes.0 != window {
            self.five_minutes = (window, 0);
        }
        let second_full = self.admitted.len() >= limit.per_second as usize;
        let window_full = self.five_minutes.1 >= limit.per_five_minutes;
        if second_full || window_full {
            let mut wait = 0;
            if second_full {
                // The oldest admission leaves the window within a second.
                let oldest = self.admitted.front().copied().unwrap_or(now);
                let left = SECOND.saturating_sub(now.saturating_duration_since(oldest));
                wait = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            }
            if window_full {
                wait = wait.max((window + 1) * FIVE_MINUTES - unix_secs);
            }
            let wait = wait.max(1);
            if limit.send_retry_after {
                self.told_to_wait(now, wait);
            }
            return Verdict::Refused {
                retry_after: limit.send_retry_after.then_some(wait),
            };
        }
        insert_in_order(&mut self.admitted, now);
        self.five_minutes.1 += 1;
        Verdict::Allowed {
            limit: limit.per_five_minutes,
            remaining: limit.per_five_minutes - self.five_minutes.1,
        }
    }

    /// `(most arrivals in one sliding second, arrivals during a Retry-After)`.
    pub(crate) fn stats(&self) -> (u32, u64) {
        (self.max_in_second, self.during_retry_after)
    }

    /// When the key's requests came since the statistics were reset, if any came.
    pub(crate) fn active_span(&self) -> Option<ActiveSpan> {
        let (first, last) = self.first_and_last?;
        let since = self.since.unwrap_or(first);
        let ms = |t: Instant| {
            u64::try_from(t.saturating_duration_since(since).as_millis()).unwrap_or(u64::MAX)
        };
        Some(ActiveSpan {
            first_ms: ms(first),
            last_ms: ms(last),
        })
    }

    /// Zeroes the statistics (and forgets recent arrivals); budgets and the running
    /// `Retry-After` are kept.
    pub(crate) fn reset_stats(&mut self) {
        self.arrivals.clear();
        self.max_in_second = 0;
        self.during_retry_after = 0;
        self.since = Some(Instant::now());
        self.first_and_last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, per_five_minutes: u32, send_retry_after: bool) -> ItGlueLimit {
        ItGlueLimit {
            per_second,
            per_five_minutes,
            send_retry_after,
        }
    }

    #[test]
    fn the_second_window_slides_and_refusals_cost_nothing() {
        let l = Some(limit(3, 100, true));
        let mut w = KeyWindows::default();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        for n in [0, 400, 800] {
            w.arrive(ms(n));
            assert!(matches!(w.admit(l, ms(n), 600), Verdict::Allowed { .. }));
        }
        w.arrive(ms(900));
        assert_eq!(
            w.admit(l, ms(900), 600),
            Verdict::Refused {
                retry_after: Some(1)
            }
        );
        // The first admission has aged out; the refusal consumed nothing.
        w.arrive(ms(1250));
        assert_eq!(
            w.admit(l, ms(1250), 601),
            Verdict::Allowed {
                limit: 100,
                remaining: 96
            }
        );
        w.arrive(ms(1300));
        assert!(matches!(w.admit(l, ms(1300), 601), Verdict::Refused { .. }));
        // 1250 and 1300 arrived while the Retry-After of the refusal at 900 ran
        // (past the allowance for a client still reading the 429).
        assert_eq!(w.stats(), (5, 2));
        assert_eq!(
            w.active_span(),
            Some(ActiveSpan {
                first_ms: 0,
                last_ms: 1300
            })
        );
        w.reset_stats();
        assert_eq!(w.stats(), (0, 0));
        assert_eq!(w.active_span(), None);
    }

    #[test]
    fn the_five_minute_window_is_clock_aligned() {
        let l = Some(limit(100, 2, false));
        let mut w = KeyWindows::default();
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        assert!(matches!(
            w.admit(l, s(0), 590),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            w.admit(l, s(2), 592),
            Verdict::Allowed { remaining: 0, .. }
        ));
        assert_eq!(
            w.admit(l, s(5), 595),
            Verdict::Refused { retry_after: None }
        );
        assert!(matches!(
            w.admit(l, s(10), 600),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert_eq!(w.admit(None, s(10), 600), Verdict::Unlimited);
        // Without Retry-After nothing is "running".
        w.arrive(s(11));
        assert_eq!(w.stats(), (1, 0));
    }
}
