//! The docsync domain: identifiers, validated configuration values, secrets and the posture
//! snapshot that flows from sources (Microsoft Graph) to sinks (Hudu, IT Glue).
//!
//! Types here are parsed, not validated: a value of `BaseUrl`, `TenantId` or `ApiKey` cannot
//! hold a bad value, so the rest of the fleet never re-checks them.

pub mod address;
pub mod crypto;
pub mod failpoint;
pub mod ids;
pub mod microsoft;
pub mod posture_options;
pub mod provider;
pub mod psa;
pub mod run;
pub mod secret;
pub mod snapshot;
pub mod url;

pub use ids::{AccountId, RunId, SnapshotId, TenantId};
pub use posture_options::{PostureOptions, PostureSection};
pub use provider::{rate_limit_key, IntegrationKind, ItGlueRegion, Provider, RateLimit};
pub use psa::{ConnectWiseConfig, CwSite, Parsed, PsaKind, PsaOptions};
pub use run::{RunState, Trigger};
pub use secret::{mask, parse_guid, redacted_url, ApiKey, KeyRule, KeyShape};
pub use snapshot::Snapshot;
pub use url::{BaseUrl, WebhookUrl};
pub mod schedule;
pub mod shutdown;
pub use schedule::{Schedule, ScheduleMode};
pub use shutdown::Shutdown;
pub mod locks;
