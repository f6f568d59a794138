//! Why a whole collection failed (a single section failing is not an error: it is recorded in
//! the snapshot as unavailable).

/// A collection that produced no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No token could be obtained: wrong client secret or id, tenant not found, or the app is
    /// not consented in the tenant. Retrying will not help until someone fixes it.
    #[error("sign-in to Microsoft tenant {tenant} failed: {reason}")]
    SignIn {
        /// The Microsoft tenant id.
        tenant: String,
        /// What Microsoft said and what to fix.
        reason: String,
    },
    /// Microsoft refused a read that retrying will not fix (the app lacks a permission, the
    /// tenant lacks the licence the endpoint needs), with what to do about it.
    #[error("{reason}")]
    Refused {
        /// What Microsoft said and what to fix.
        reason: String,
    },
    /// Microsoft could not be reached for any call (network down, every call timed out or
    /// throttled past the retry budget). Retrying later may help.
    #[error("Microsoft 365 could not be reached: {reason}")]
    Transient {
        /// What failed.
        reason: String,
    },
}

impl SourceError {
    /// True when retrying the collection later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }
}
