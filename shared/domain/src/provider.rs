//! The documentation providers docsync publishes to, and their request budgets.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A documentation platform docsync writes snapshots to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
///
/// In the API: the provider key's budget, at most `requests` calls in any `perSeconds` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window (1 or more).
    #[schema(minimum = 1, maximum = 1_000_000, example = 60)]
    pub requests: u32,
    /// Window length in seconds (1 or more).
    #[schema(minimum = 1, maximum = 86_400, example = 60)]
    pub per_seconds: u32,
}

impl RateLimit {
    /// The most requests a budget may allow per window.
    pub const MAX_REQUESTS: u32 = 1_000_000;
    /// The longest window a budget may have: a day.
    pub const MAX_PER_SECONDS: u32 = 86_400;

    /// Checks both numbers are within their range; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_REQUESTS).contains(&self.requests) {
            return Err(format!(
                "rateLimit.requests must be from 1 to {}, got {}",
                Self::MAX_REQUESTS,
                self.requests
            ));
        }
        if !(1..=Self::MAX_PER_SECONDS).contains(&self.per_seconds) {
            return Err(format!(
                "rateLimit.perSeconds must be from 1 to {} (a day), got {}",
                Self::MAX_PER_SECONDS,
                self.per_seconds
            ));
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

/// The IT Glue data centre an account lives in; each has its own API host, and a key works
/// only against its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItGlueRegion {
    /// `https://api.itglue.com`.
    Us,
    /// `https://api.eu.itglue.com`.
    Eu,
    /// `https://api.au.itglue.com`.
    Au,
}

impl ItGlueRegion {
    /// The region's name as configured (`us`, `eu`, `au`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItGlueRegion::Us => "us",
            ItGlueRegion::Eu => "eu",
            ItGlueRegion::Au => "au",
        }
    }

    /// IT Glue's own API host for the region.
    pub fn default_url(self) -> &'static str {
        match self {
            ItGlueRegion::Us => "https://api.itglue.com",
            ItGlueRegion::Eu => "https://api.eu.itglue.com",
            ItGlueRegion::Au => "https://api.au.itglue.com",
        }
    }
}

impl fmt::Display for ItGlueRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItGlueRegion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(ItGlueRegion::Us),
            "eu" => Ok(ItGlueRegion::Eu),
            "au" => Ok(ItGlueRegion::Au),
            _ => Err(format!(
                "must be \"us\", \"eu\" or \"au\" (the data centre of your IT Glue account: api.au.itglue.com is \"au\"), got {s:?}"
            )),
        }
    }
}

#[cfg(test)]
mod region_tests {
    use super::*;

    #[test]
    fn regions_parse_and_refuse_others_with_the_choices() {
        assert_eq!("AU".parse::<ItGlueRegion>(), Ok(ItGlueRegion::Au));
        assert_eq!("us".parse::<ItGlueRegion>(), Ok(ItGlueRegion::Us));
        let err = "uk".parse::<ItGlueRegion>().unwrap_err();
        assert!(err.contains("\"us\", \"eu\" or \"au\""), "{err}");
    }
}
