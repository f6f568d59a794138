//! The one outbound HTTP stack of every provider call, sources (Graph, Exchange, Entra
//! sign-in, the PSAs) and destinations (Hudu, IT Glue) alike: the client (timeouts, no
//! redirects, public addresses only where a host is user-given), pacing by rate-limit key
//! ([`Pacer`], with the fleet's database ledger behind [`SlotLedger`]), each provider's 429
//! policy and Retry-After, and retries of transient faults that never repeat a create blindly.
//!
//! Invariant: no request to a provider leaves a docsync process except through
//! [`http::PacedClient`], so every one of them has taken a slot under its key's budget.

pub mod http;
pub mod in_flight;
pub mod pacer;
pub mod resolve;

pub use http::{client, client_with, ClientError, PacedClient};
pub use pacer::{Pacer, SharedSlot, SlotLedger};

/// A provider call that did not succeed, as the caller should treat it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Worth retrying later (5xx, timeouts, resets, 429 after the attempts allowed).
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help until a person fixes something (401, 403, 404, 422).
    #[error("{0}")]
    Permanent(String),
    /// The provider refused this one object (422: its content); other objects go on.
    #[error("{0}")]
    Rejected(String),
}

impl CallError {
    /// True for faults worth retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, CallError::Transient(_))
    }
}
