//! The database as the pacing ledger, so every process calling a provider with one key
//! (publisher replicas, the API's connection tests, a restarted process) shares its budget.

use docsync_sinks::{Pacer, SharedSlot, SlotLedger};
use docsync_store::Store;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

struct StoreLedger(Store);

impl SlotLedger for StoreLedger {
    fn take_slots<'a>(
        &'a self,
        key: &'a str,
        interval: Duration,
        count: u32,
    ) -> BoxFuture<'a, Result<SharedSlot, String>> {
        Box::pin(async move {
            let taken = self
                .0
                .take_rate_limit_slots(key, interval, count)
                .await
                .map_err(|e| e.to_string())?;
            Ok(SharedSlot {
                wait: taken.wait,
                measured_no_sooner_than: taken.measured_no_sooner_than(),
            })
        })
    }

    fn pause<'a>(&'a self, key: &'a str, wait: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .pause_rate_limit_key(key, wait)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// A pacer whose slots come from the database, shared with the whole fleet.
pub fn fleet_pacer(store: Store) -> Pacer {
    Pacer::shared(Arc::new(StoreLedger(store)))
}
