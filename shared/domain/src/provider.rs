//! The documentation providers docsync publishes to, their request budgets and the rules their
//! API keys meet; and [`IntegrationKind`], the one parser of the provider name in an
//! `/integrations/{name}` path (documentation providers and PSAs).

use crate::psa::PsaKind;
use crate::secret::{KeyRule, KeyShape};
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

    /// What the provider's API key (`apiKey`) must look like when it is configured.
    ///
    /// Hudu's keys are 24 letters and digits. IT Glue's start with `ITG.` and run to about 100
    /// characters; the prefix is named in the hint but not required, as nothing IT Glue
    /// documents promises it.
    pub fn api_key_rule(self) -> &'static KeyRule {
        const HUDU: KeyRule = KeyRule {
            what: "a Hudu API key",
            min_len: 20,
            shape: KeyShape::Any,
            hint: "a Hudu API key is 24 letters and digits, created under Admin > API Keys \
                   (https://your.hudu.domain/admin/api_keys) and shown once",
        };
        const IT_GLUE: KeyRule = KeyRule {
            what: "an IT Glue API key",
            min_len: 32,
            shape: KeyShape::Any,
            hint: "an IT Glue API key starts with ITG. and is about 100 characters, generated \
                   under Account > Settings > API Keys (by an Administrator) and shown once; \
                   it works only in its own region",
        };
        match self {
            Provider::Hudu => &HUDU,
            Provider::ItGlue => &IT_GLUE,
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
            "it-glue" => Ok(Provider::ItGlue),
            other => Err(format!(
                "unknown provider {other:?}: use \"hudu\" or \"it-glue\""
            )),
        }
    }
}

/// What an `/integrations/{name}` path names: a documentation provider or a PSA. Its
/// [`FromStr`] is the one parser of that name for every route: canonical names only
/// ([`IntegrationKind::NAMES`]), so a name is either known on every route or unknown on every
/// route, and the error for an unknown one lists the valid names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    /// Hudu or IT Glue: posture snapshots are pushed to it.
    Docs(Provider),
    /// A PSA: companies and records are synced from it.
    Psa(PsaKind),
}

impl IntegrationKind {
    /// Every integration, documentation providers first.
    pub const ALL: [IntegrationKind; 5] = [
        IntegrationKind::Docs(Provider::Hudu),
        IntegrationKind::Docs(Provider::ItGlue),
        IntegrationKind::Psa(PsaKind::ConnectWiseManage),
        IntegrationKind::Psa(PsaKind::HaloPsa),
        IntegrationKind::Psa(PsaKind::Autotask),
    ];

    /// The name in URLs: `hudu`, `it-glue`, `connectwise-manage`, `halopsa`, `autotask`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Docs(p) => p.as_str(),
            IntegrationKind::Psa(k) => k.as_str(),
        }
    }

    /// The valid names, for messages: "hudu, it-glue, connectwise-manage, halopsa or autotask".
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntegrationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "no integration {s:?}: the integrations are {}",
                    Self::names()
                )
            })
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
#[allow(clippy::unwrap_used)]
mod region_tests {
    use super::*;
    use crate::ApiKey;

    #[test]
    fn integration_names_parse_canonically_and_unknown_ones_list_the_choices() {
        for kind in IntegrationKind::ALL {
            assert_eq!(kind.as_str().parse::<IntegrationKind>(), Ok(kind));
        }
        assert_eq!(
            "it-glue".parse::<IntegrationKind>(),
            Ok(IntegrationKind::Docs(Provider::ItGlue))
        );
        for bad in ["itglue", "IT-Glue", "Hudu", "connectwise", "halo", ""] {
            let err = bad.parse::<IntegrationKind>().unwrap_err();
            assert!(
                err.ends_with("hudu, it-glue, connectwise-manage, halopsa or autotask"),
                "{err}"
            );
            assert!(bad.parse::<Provider>().is_err(), "{bad}");
        }
        // Every provider's and PSA's own name is its integration name.
        for p in Provider::ALL {
            assert_eq!(
                p.as_str().parse::<IntegrationKind>(),
                Ok(IntegrationKind::Docs(p))
            );
        }
        for k in PsaKind::ALL {
            assert_eq!(
                k.as_str().parse::<IntegrationKind>(),
                Ok(IntegrationKind::Psa(k))
            );
        }
    }

    #[test]
    fn api_keys_are_refused_when_too_short_for_their_provider() {
        let err = ApiKey::parse_with("apiKey", "x", Provider::Hudu.api_key_rule()).unwrap_err();
        assert!(
            err.starts_with("apiKey is shorter than 20 characters, too short for a Hudu API key"),
            "{err}"
        );
        assert!(err.contains("24 letters and digits"), "{err}");
        let err =
            ApiKey::parse_with("apiKey", "ITG.abc", Provider::ItGlue.api_key_rule()).unwrap_err();
        assert!(err.contains("too short for an IT Glue API key"), "{err}");
        assert!(err.contains("starts with ITG."), "{err}");
        for (provider, real) in [
            (Provider::Hudu, "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
            (
                Provider::ItGlue,
                "ITG.0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWx",
            ),
            // The sandbox's keys, which do not start with ITG.
            (Provider::ItGlue, "sandbox-itglue-key-us-0123456789abcdef"),
        ] {
            let key = ApiKey::parse_with("apiKey", real, provider.api_key_rule()).unwrap();
            assert_eq!(key.expose(), real);
        }
    }

    #[test]
    fn regions_parse_and_refuse_others_with_the_choices() {
        assert_eq!("AU".parse::<ItGlueRegion>(), Ok(ItGlueRegion::Au));
        assert_eq!("us".parse::<ItGlueRegion>(), Ok(ItGlueRegion::Us));
        let err = "uk".parse::<ItGlueRegion>().unwrap_err();
        assert!(err.contains("\"us\", \"eu\" or \"au\""), "{err}");
    }
}
