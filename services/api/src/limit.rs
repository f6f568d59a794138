//! Request limits, on `governor`'s keyed GCRA limiters (in this API process's memory: with R
//! replicas a client may make up to R times as many requests).
//!
//! - Per token: an API token may make N requests a minute (bursts of up to N), counted after
//!   authentication and keyed by the token's id (never the token).
//! - Per client address, for guessing: each request whose token is missing or unknown counts
//!   against its address (M a minute, bursts of up to M). An address over that limit is
//!   blocked until the limiter lets it in again, and while blocked its requests are answered
//!   429 *before* their token is looked at, so guessing costs the guesser time whatever it
//!   sends, and a flood of unknown tokens does not reach the database.
//!
//! Refused requests are answered 429 with `Retry-After` (whole seconds, at least 1).

use governor::clock::{Clock, DefaultClock, Reference};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// Keys tracked before idle ones are swept out.
const SWEEP_AT: usize = 1024;

type Keyed<K, C> = RateLimiter<
    K,
    DashMapStateStore<K>,
    C,
    governor::middleware::NoOpMiddleware<<C as Clock>::Instant>,
>;

/// A refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Whole seconds until the client may try again (at least 1).
    pub retry_after_secs: u64,
}

/// The API's request limits (see the module documentation).
pub(crate) struct RequestLimiter<C: Clock = DefaultClock> {
    per_minute: u32,
    tokens: Keyed<Uuid, C>,
    guesses_per_minute: u32,
    guesses: Keyed<IpAddr, C>,
    blocked: Mutex<HashMap<IpAddr, C::Instant>>,
    clock: C,
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl RequestLimiter<DefaultClock> {
    /// `per_minute` requests per token, `guesses_per_minute` requests with a missing or
    /// unknown token per client address (0 is taken as 1).
    pub fn new(per_minute: u32, guesses_per_minute: u32) -> Self {
        Self::with_clock(per_minute, guesses_per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RequestLimiter<C> {
    fn with_clock(per_minute_limit: u32, guesses_per_minute: u32, clock: C) -> Self {
        Self {
            per_minute: per_minute_limit.max(1),
            tokens: RateLimiter::dashmap_with_clock(per_minute(per_minute_limit), clock.clone()),
            guesses_per_minute: guesses_per_minute.max(1),
            guesses: RateLimiter::dashmap_with_clock(per_minute(guesses_per_minute), clock.clone()),
            blocked: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The per-token limit.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// The per-address limit of requests with a missing or unknown token.
    pub fn guesses_per_minute(&self) -> u32 {
        self.guesses_per_minute
    }

    /// Counts a request by `token`, or refuses it with the wait.
    pub fn check(&self, token: Uuid) -> Result<(), Refused> {
        if self.tokens.len() >= SWEEP_AT {
            self.tokens.retain_recent();
        }
        self.tokens.check_key(&token).map_err(|not_until| Refused {
            retry_after_secs: whole_seconds(not_until.wait_time_from(self.clock.now())),
        })
    }

    /// Before a token is looked at: refuses a request from an address that is blocked for
    /// guessing.
    pub fn admit(&self, client: IpAddr) -> Result<(), Refused> {
        let now = self.clock.now();
        let mut blocked = self
            .blocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match blocked.get(&client) {
            Some(until) if *until > now => Err(Refused {
                retry_after_secs: whole_seconds(until.duration_since(now).into()),
            }),
            Some(_) => {
                blocked.remove(&client);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A request from `client` had a missing or unknown token: counted against the address;
    /// over the limit, the address is blocked until the limiter lets it in again and the
    /// request is refused.
    pub fn missed(&self, client: IpAddr) -> Result<(), Refused> {
        if self.guesses.len() >= SWEEP_AT {
            self.guesses.retain_recent();
        }
        let Err(not_until) = self.guesses.check_key(&client) else {
            return Ok(());
        };
        let until = not_until.earliest_possible();
        let now = self.clock.now();
        let mut blocked = self
            .blocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if blocked.len() >= SWEEP_AT {
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(client, until);
        Err(Refused {
            retry_after_secs: whole_seconds(until.duration_since(now).into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limiter(
        per_minute: u32,
        guesses: u32,
    ) -> (RequestLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            RequestLimiter::with_clock(per_minute, guesses, clock.clone()),
            clock,
        )
    }

    #[test]
    fn a_token_gets_its_burst_then_one_request_per_interval() {
        let (limiter, clock) = limiter(3, 10);
        let token = Uuid::new_v4();
        for _ in 0..3 {
            assert_eq!(limiter.check(token), Ok(()));
        }
        // 3 a minute: the next cell is free 20 s after the burst.
        assert_eq!(
            limiter.check(token),
            Err(Refused {
                retry_after_secs: 20
            })
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            limiter.check(token),
            Err(Refused {
                retry_after_secs: 15
            }),
            "refused requests are not counted"
        );
        clock.advance(Duration::from_secs(15));
        assert_eq!(limiter.check(token), Ok(()));
        assert!(limiter.check(token).is_err());
    }

    #[test]
    fn tokens_are_counted_apart() {
        let (limiter, _) = limiter(1, 10);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
        assert!(limiter.check(b).is_ok());
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_a_second() {
        let (limiter, clock) = limiter(1, 10);
        let token = Uuid::new_v4();
        assert!(limiter.check(token).is_ok());
        clock.advance(Duration::from_millis(59_999));
        assert_eq!(limiter.check(token).unwrap_err().retry_after_secs, 1);
    }

    #[test]
    fn a_guessing_address_is_blocked_before_its_tokens_are_looked_at() {
        let (limiter, clock) = limiter(100, 2);
        let guesser: IpAddr = "203.0.113.7".parse().unwrap();
        let neighbour: IpAddr = "203.0.113.8".parse().unwrap();
        assert!(limiter.admit(guesser).is_ok());
        assert!(limiter.missed(guesser).is_ok());
        assert!(limiter.missed(guesser).is_ok());
        // The third miss in a minute blocks the address for the 30 s its next cell needs ...
        assert_eq!(
            limiter.missed(guesser),
            Err(Refused {
                retry_after_secs: 30
            })
        );
        // ... and every request from it is refused before its token is checked.
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            limiter.admit(guesser),
            Err(Refused {
                retry_after_secs: 20
            })
        );
        assert!(
            limiter.admit(neighbour).is_ok(),
            "other addresses are not affected"
        );
        clock.advance(Duration::from_secs(20));
        assert!(limiter.admit(guesser).is_ok(), "the block ends");
        assert!(limiter.missed(guesser).is_ok());
        assert!(limiter.missed(guesser).is_err());
    }

    #[test]
    fn idle_keys_are_swept_out() {
        let (limiter, clock) = limiter(5, 5);
        for _ in 0..SWEEP_AT {
            assert!(limiter.check(Uuid::new_v4()).is_ok());
        }
        clock.advance(Duration::from_secs(61));
        assert!(limiter.check(Uuid::new_v4()).is_ok());
        assert!(limiter.tokens.len() <= 2, "{}", limiter.tokens.len());
    }
}
