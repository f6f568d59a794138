//! The documentation providers docsync publishes to, and their request budgets.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A documentation platform docsync writes snapshots to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// Hudu: one article per tenant.
    #[serde(rename = "hudu")]
    Hudu,
    /// IT Glue: one flexible asset per tenant.
    #[serde(rename = "it-glue")]
    ItGlue,
}

impl Provider {
    /// Every provider, in display order.
    pub const ALL: [Provider; 2] = [Provider::Hudu, Provider::ItGlue];

    /// The provider's name as used in URLs and the database (`hudu`, `it-glue`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Hudu => "hudu",
            Provider::ItGlue => "it-glue",
        }
    }

    /// The budget a provider key gets unless the integration overrides it.
    pub fn default_rate_limit(self) -> RateLimit {
        match self {
            Provider::Hudu => RateLimit {
                requests: 300,
                per_seconds: 60,
            },
            Provider::ItGlue => RateLimit {
                requests: 10,
                per_seconds: 1,
            },
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hudu" => Ok(Provider::Hudu),
            "it-glue" | "itglue" => Ok(Provider::ItGlue),
            other => Err(format!(
                "unknown provider {other:?}: use \"hudu\" or \"it-glue\""
            )),
        }
    }
}

/// A request budget: at most `requests` calls in any `per_seconds` window, per rate-limit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window (1 or more).
    pub requests: u32,
    /// Window length in seconds (1 or more).
    pub per_seconds: u32,
}

impl RateLimit {
    /// Checks both numbers are positive; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 {
            return Err("rateLimit.requests must be 1 or more".into());
        }
        if self.per_seconds == 0 {
            return Err("rateLimit.perSeconds must be 1 or more".into());
        }
        Ok(())
    }

    /// The steady spacing between two requests under this budget.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.per_seconds) / f64::from(self.requests.max(1)))
    }
}

/// The rate-limit key of one provider credential of one account: every call made with that
/// credential is paced under one budget.
pub fn rate_limit_key(provider: Provider, account_id: crate::AccountId) -> String {
    format!("{provider}:{account_id}")
}
