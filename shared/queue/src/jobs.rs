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

/// Publish a run's work to its destination, on the partition of the key it is paced under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PublishJobWire", into = "PublishJobWire")]
pub struct PublishJob {
    /// The run to work on.
    pub run_id: RunId,
    /// The rate-limit key the calls are paced under (one provider credential of one account).
    pub rate_limit_key: String,
    /// Retries so far after transient faults (0 on the first try).
    pub retry: u32,
    /// What to write: a push run's snapshot, or a batch of a sync run.
    pub work: PublishWork,
}

/// What a publish job writes, by the kind of its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishWork {
    /// A push run: its tenant's snapshot.
    Push {
        /// The snapshot to write.
        snapshot_id: SnapshotId,
    },
    /// A sync run: the batch of its records starting here.
    Sync {
        /// Where the batch starts.
        batch: SyncBatch,
    },
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
    /// The first try of publishing a push run's snapshot.
    pub fn push(run_id: RunId, snapshot_id: SnapshotId, rate_limit_key: String) -> Self {
        Self {
            run_id,
            rate_limit_key,
            retry: 0,
            work: PublishWork::Push { snapshot_id },
        }
    }

    /// The publish job of a sync run's batch, on the partition of the destination's key.
    pub fn sync(run_id: RunId, rate_limit_key: String, batch: SyncBatch) -> Self {
        Self {
            run_id,
            rate_limit_key,
            retry: 0,
            work: PublishWork::Sync { batch },
        }
    }
}

/// A publish job on the queue: a push job names its `snapshotId`, a sync job its
/// `syncBatch`. Jobs queued by earlier versions still read: those gave every sync job the
/// nil `snapshotId` beside its batch.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PublishJobWire {
    run_id: RunId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot_id: Option<SnapshotId>,
    rate_limit_key: String,
    #[serde(default)]
    retry: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sync_batch: Option<SyncBatch>,
}

impl TryFrom<PublishJobWire> for PublishJob {
    type Error = String;

    fn try_from(w: PublishJobWire) -> Result<Self, String> {
        let work =
            match (w.snapshot_id, w.sync_batch) {
                (Some(snapshot_id), None) => PublishWork::Push { snapshot_id },
                (None, Some(batch)) => PublishWork::Sync { batch },
                (Some(nil), Some(batch)) if nil.0.is_nil() => PublishWork::Sync { batch },
                (Some(_), Some(_)) => return Err(
                    "a publish job names a snapshotId (a push) or a syncBatch (a sync), not both"
                        .into(),
                ),
                (None, None) => {
                    return Err(
                        "a publish job names a snapshotId (a push) or a syncBatch (a sync)".into(),
                    )
                }
            };
        Ok(Self {
            run_id: w.run_id,
            rate_limit_key: w.rate_limit_key,
            retry: w.retry,
            work,
        })
    }
}

impl From<PublishJob> for PublishJobWire {
    fn from(j: PublishJob) -> Self {
        let (snapshot_id, sync_batch) = match j.work {
            PublishWork::Push { snapshot_id } => (Some(snapshot_id), None),
            PublishWork::Sync { batch } => (None, Some(batch)),
        };
        Self {
            run_id: j.run_id,
            snapshot_id,
            rate_limit_key: j.rate_limit_key,
            retry: j.retry,
            sync_batch,
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

    const RUN: &str = "6f1c1b1e-8f0a-4c53-9a3e-2b7d5c4e3f21";
    const SNAPSHOT: &str = "0b9d6c1a-3e2f-4a5b-8c7d-1e2f3a4b5c6d";

    fn run() -> RunId {
        RunId(RUN.parse().expect("uuid"))
    }

    #[test]
    fn a_push_job_queued_by_the_previous_version_decodes_as_a_push() {
        let old = format!(
            r#"{{"runId":"{RUN}","snapshotId":"{SNAPSHOT}","rateLimitKey":"hudu:acc-1","retry":1}}"#
        );
        let job: PublishJob = serde_json::from_str(&old).expect("decodes");
        let snapshot_id = SnapshotId(SNAPSHOT.parse().expect("uuid"));
        assert_eq!(
            job,
            PublishJob {
                retry: 1,
                ..PublishJob::push(run(), snapshot_id, "hudu:acc-1".into())
            }
        );
        // And it is written the same way.
        let again: serde_json::Value = serde_json::to_value(&job).expect("encodes");
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(&old).expect("json")
        );
    }

    #[test]
    fn a_sync_job_queued_by_the_previous_version_decodes_as_a_sync_without_a_snapshot() {
        let nil = uuid::Uuid::nil();
        let old = format!(
            r#"{{"runId":"{RUN}","snapshotId":"{nil}","rateLimitKey":"hudu:acc-1","retry":0,"syncBatch":{{"company":3,"adopted":true}}}}"#
        );
        let job: PublishJob = serde_json::from_str(&old).expect("decodes");
        let batch = SyncBatch {
            company: 3,
            adopted: true,
        };
        assert_eq!(job, PublishJob::sync(run(), "hudu:acc-1".into(), batch));
        let written = serde_json::to_value(&job).expect("encodes");
        assert!(written.get("snapshotId").is_none(), "{written}");
        assert_eq!(
            serde_json::from_value::<PublishJob>(written).expect("decodes"),
            job
        );
    }

    #[test]
    fn a_job_naming_both_a_snapshot_and_a_batch_or_neither_is_refused() {
        let both = format!(
            r#"{{"runId":"{RUN}","snapshotId":"{SNAPSHOT}","rateLimitKey":"k","syncBatch":{{"company":0}}}}"#
        );
        let err = serde_json::from_str::<PublishJob>(&both).expect_err("refused");
        assert!(err.to_string().contains("not both"), "{err}");
        let neither = format!(r#"{{"runId":"{RUN}","rateLimitKey":"k"}}"#);
        assert!(serde_json::from_str::<PublishJob>(&neither).is_err());
        let unknown =
            format!(r#"{{"runId":"{RUN}","snapshotId":"{SNAPSHOT}","rateLimitKey":"k","x":1}}"#);
        assert!(serde_json::from_str::<PublishJob>(&unknown).is_err());
    }

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
