//! Identifiers of the things docsync owns: accounts, tenants, push runs and snapshots.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| format!("{} must be a UUID such as 3f2b8c1e-9d4a-4e57-8a0b-1c2d3e4f5a6b, got {:?}", $what, s))
            }
        }
    };
}

uuid_id!(
    /// An MSP account: the unit of isolation. Every tenant, integration and run belongs to one.
    AccountId,
    "account id"
);
uuid_id!(
    /// A customer tenant managed by an MSP account (docsync's own id, not Microsoft's).
    TenantId,
    "tenant id"
);
uuid_id!(
    /// One push run: one tenant pushed to one provider once.
    RunId,
    "run id"
);
uuid_id!(
    /// One stored posture snapshot of a tenant.
    SnapshotId,
    "snapshot id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_tenant_id_names_the_field_and_the_fix() {
        let err = "not-a-uuid".parse::<TenantId>().unwrap_err();
        assert!(err.contains("tenant id must be a UUID"), "{err}");
    }

    #[test]
    fn ids_round_trip() {
        let id = TenantId::new();
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
    }
}
