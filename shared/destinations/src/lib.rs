//! The one place that turns an account's stored integration into the destination that writes
//! it ([`SinkFactory`]: Hudu, IT Glue), and the fleet's pacer whose slots come from the
//! database ledger ([`fleet_pacer`]). The API (test connection), the publisher (pushes) and the
//! collector (PSA match suggestions) all build destinations here, so none of them depends on
//! another role's crate.

mod factory;
mod ledger;

pub use factory::{Providers, SinkFactory, ZoneCache, AUTOTASK_ZONE_URL};
pub use ledger::fleet_pacer;
