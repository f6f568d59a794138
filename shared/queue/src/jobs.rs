//! The messages on the fleet's queues. They carry ids only: the run row is the truth.

use docsync_domain::{RunId, SnapshotId};
use serde::{Deserialize, Serialize};

/// Collect a snapshot for a run's tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectJob {
    /// The run to work on.
    pub run_id: RunId,
    /// Retries so far after transient faults (0 on the first try).
    #[serde(default)]
    pub retry: u32,
}

impl CollectJob {
    /// The first try of collecting for `run_id`.
    pub fn new(run_id: RunId) -> Self {
        Self { run_id, retry: 0 }
    }
}

/// Publish a run's snapshot to its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishJob {
    /// The run to work on.
    pub run_id: RunId,
    /// The snapshot to write.
    pub snapshot_id: SnapshotId,
    /// The rate-limit key the call is paced under (one provider credential of one account).
    pub rate_limit_key: String,
    /// Retries so far after transient faults (0 on the first try).
    #[serde(default)]
    pub retry: u32,
    /// For a sync run: the batch to write (its `snapshot_id` is then the nil id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_batch: Option<SyncBatch>,
}

/// Where a sync run's next publish batch starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncBatch {
    /// The payload (company) index.
    pub company: u32,
    /// That company's existing assets were matched against the plan already.
    #[serde(default)]
    pub adopted: bool,
}

impl PublishJob {
    /// The publish job of a sync run's batch, on the partition of the destination's key.
    pub fn sync(run_id: RunId, rate_limit_key: String, batch: SyncBatch) -> Self {
        Self {
            run_id,
            snapshot_id: SnapshotId(uuid::Uuid::nil()),
            rate_limit_key,
            retry: 0,
            sync_batch: Some(batch),
        }
    }
}

/// The publish partition of a rate-limit key: FNV-1a, stable across processes and versions.
pub fn partition_of(rate_limit_key: &str, partitions: u16) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in rate_limit_key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(partitions.max(1))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_partition() {
        let a = partition_of("hudu:acc-1", 8);
        assert_eq!(a, partition_of("hudu:acc-1", 8));
        assert!(a < 8);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let used: std::collections::HashSet<u16> = (0..200)
            .map(|i| partition_of(&format!("it-glue:{i}"), 8))
            .collect();
        assert_eq!(used.len(), 8);
    }
}
