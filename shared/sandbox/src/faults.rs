//! Switchable faults: every-nth-request 429s and 5xx answers, and added latency.

use crate::Faults;
use std::sync::Mutex;

/// What an injected fault turns a Graph request into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GraphFault {
    /// 429 with `Retry-After: 1`.
    Throttle,
    /// 503.
    Unavailable,
}

#[derive(Debug, Default)]
struct Inner {
    faults: Faults,
    graph_seen: u64,
    hudu_seen: u64,
}

/// The current faults and the request counts they are applied to.
#[derive(Debug, Default)]
pub(crate) struct FaultSwitch(Mutex<Inner>);

fn hits(every: Option<u32>, n: u64) -> bool {
    matches!(every, Some(k) if k > 0 && n.is_multiple_of(u64::from(k)))
}

impl FaultSwitch {
    /// Replaces the faults and restarts the counts.
    pub(crate) fn set(&self, faults: Faults) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *inner = Inner {
            faults,
            ..Inner::default()
        };
    }

    /// Counts one authenticated Graph data request; returns the fault it gets, if any.
    pub(crate) fn next_graph(&self) -> Option<GraphFault> {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.graph_seen += 1;
        let n = inner.graph_seen;
        if hits(inner.faults.graph_429_every_nth, n) {
            Some(GraphFault::Throttle)
        } else if hits(inner.faults.graph_5xx_every_nth, n) {
            Some(GraphFault::Unavailable)
        } else {
            None
        }
    }

    /// Counts one authenticated Hudu request; true when it must answer 502.
    pub(crate) fn next_hudu_fails(&self) -> bool {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.hudu_seen += 1;
        hits(inner.faults.hudu_5xx_every_nth, inner.hudu_seen)
    }

    /// Delay to add before every Hudu answer.
    pub(crate) fn hudu_latency_ms(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults
            .hudu_latency_ms
    }
}
