//! Fixed-window rate limiting per API key, windows aligned to clock boundaries (like
//! Rack::Attack's throttle, which counts every request, refused ones included).

use crate::WindowLimit;
use std::collections::HashMap;
use std::sync::Mutex;

/// The limiter's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No limit configured.
    Unlimited,
    /// Allowed; `remaining` requests left in the window.
    Allowed {
        /// The window's budget.
        limit: u32,
        /// Requests left.
        remaining: u32,
    },
    /// Over the limit; `retry_after` is set when the limit sends it.
    Refused {
        /// Seconds the client is told to wait, when the limit is configured to send it.
        retry_after: Option<u64>,
    },
}

#[derive(Debug, Default)]
struct Inner {
    limit: Option<WindowLimit>,
    windows: HashMap<String, (u64, u32)>,
    max_in_window: u32,
    refused: u64,
}

/// Per-key fixed windows.
#[derive(Debug, Default)]
pub(crate) struct WindowLimiter(Mutex<Inner>);

impl WindowLimiter {
    /// A limiter with this limit.
    pub(crate) fn new(limit: Option<WindowLimit>) -> Self {
        WindowLimiter(Mutex::new(Inner {
            limit,
            ..Inner::default()
        }))
    }

    /// Changes the limit; counts in current windows are kept.
    pub(crate) fn set_limit(&self, limit: Option<WindowLimit>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).limit = limit;
    }

    /// Counts one request of `key` at `now_secs` (Unix seconds) and judges it.
    pub(crate) fn check(&self, key: &str, now_secs: u64) -> Verdict {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(limit) = inner.limit else {
            return Verdict::Unlimited;
        };
        let window_secs = limit.window_secs.max(1);
        let window = now_secs / window_secs;
        let entry = inner.windows.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let count = entry.1;
        inner.max_in_window = inner.max_in_window.max(count);
        if count > limit.requests {
            inner.refused += 1;
            let retry = (window + 1) * window_secs - now_secs;
            Verdict::Refused {
                retry_after: limit.send_retry_after.then_some(retry),
            }
        } else {
            Verdict::Allowed {
                limit: limit.requests,
                remaining: limit.requests - count,
            }
        }
    }

    /// `(refused requests, most requests one key made in one window)`.
    pub(crate) fn counts(&self) -> (u64, u32) {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (inner.refused, inner.max_in_window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_clock_boundaries() {
        let l = WindowLimiter::new(Some(WindowLimit {
            requests: 2,
            window_secs: 300,
            send_retry_after: true,
        }));
        assert!(matches!(
            l.check("k", 600),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            l.check("k", 700),
            Verdict::Allowed { remaining: 0, .. }
        ));
        assert_eq!(
            l.check("k", 890),
            Verdict::Refused {
                retry_after: Some(10)
            }
        );
        assert!(matches!(l.check("other", 890), Verdict::Allowed { .. }));
        assert!(matches!(
            l.check("k", 900),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert_eq!(l.counts(), (1, 3));
    }
}
