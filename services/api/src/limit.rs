//! Per-token request limits: an API token may make at most N requests in any 60 seconds.
//!
//! Counted after authentication, keyed by the token's id (never the token), in this API
//! process's memory: each API replica counts on its own, so with R replicas behind a load
//! balancer a token may make up to R × N. A sliding log of the last minute's request times per
//! token gives an exact answer and the exact wait (`Retry-After`); refused requests are not
//! logged, so a client that keeps knocking gets in as soon as the window allows.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The window the limit counts over.
const WINDOW: Duration = Duration::from_secs(60);

/// Tokens tracked before idle ones are swept out.
const SWEEP_AT: usize = 1024;

/// Requests of each token in the last minute.
#[derive(Debug)]
pub(crate) struct TokenLimiter {
    per_minute: u32,
    seen: Mutex<HashMap<Uuid, VecDeque<Instant>>>,
}

/// A refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Whole seconds until the token may make another request (at least 1).
    pub retry_after_secs: u64,
}

impl TokenLimiter {
    /// At most `per_minute` requests per token in any 60 seconds (0 is taken as 1).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The limit.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Counts a request by `token` now, or refuses it with the wait.
    pub fn check(&self, token: Uuid) -> Result<(), Refused> {
        self.check_at(token, Instant::now())
    }

    fn check_at(&self, token: Uuid, now: Instant) -> Result<(), Refused> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= SWEEP_AT && !seen.contains_key(&token) {
            seen.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        let times = seen.entry(token).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Refused {
                retry_after_secs: secs.max(1),
            });
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_limit_then_waits_for_the_oldest_request_to_leave_the_window() {
        let limiter = TokenLimiter::new(3);
        let token = Uuid::new_v4();
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(
                limiter.check_at(token, start + Duration::from_secs(i * 10)),
                Ok(())
            );
        }
        // 25 s in: the first request (at 0 s) leaves the window at 60 s.
        assert_eq!(
            limiter.check_at(token, start + Duration::from_secs(25)),
            Err(Refused {
                retry_after_secs: 35
            })
        );
        // Refused requests are not counted: at 60 s one slot is free again.
        assert_eq!(
            limiter.check_at(token, start + Duration::from_secs(60)),
            Ok(())
        );
        assert!(limiter
            .check_at(token, start + Duration::from_secs(61))
            .is_err());
    }

    #[test]
    fn tokens_are_counted_apart() {
        let limiter = TokenLimiter::new(1);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Instant::now();
        assert!(limiter.check_at(a, now).is_ok());
        assert!(limiter.check_at(a, now).is_err());
        assert!(limiter.check_at(b, now).is_ok());
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_a_second() {
        let limiter = TokenLimiter::new(1);
        let token = Uuid::new_v4();
        let start = Instant::now();
        assert!(limiter.check_at(token, start).is_ok());
        let refused = limiter
            .check_at(token, start + Duration::from_millis(59_999))
            .unwrap_err();
        assert_eq!(refused.retry_after_secs, 1);
        let refused = limiter
            .check_at(token, start + Duration::from_millis(500))
            .unwrap_err();
        assert_eq!(refused.retry_after_secs, 60);
    }

    #[test]
    fn idle_tokens_are_swept_out() {
        let limiter = TokenLimiter::new(5);
        let start = Instant::now();
        for _ in 0..SWEEP_AT {
            assert!(limiter.check_at(Uuid::new_v4(), start).is_ok());
        }
        assert!(limiter
            .check_at(Uuid::new_v4(), start + WINDOW + Duration::from_secs(1))
            .is_ok());
        let tracked = limiter.seen.lock().map(|s| s.len()).unwrap_or_default();
        assert_eq!(tracked, 1);
    }
}
