//! Push runs: what started them and where they are.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What asked for a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// `POST /integrations/{provider}/push/{tenantId}`.
    Manual,
    /// `POST /integrations/{provider}/push-all`.
    PushAll,
    /// The scheduler, on the integration's cadence.
    Schedule,
    /// The scheduler, after the tenant's directory audit log showed a change to Conditional
    /// Access, authentication methods or domains (`schedule.onChange`).
    Change,
}

impl Trigger {
    /// The trigger as stored and shown (`manual`, `push-all`, `schedule`, `change`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::PushAll => "push-all",
            Trigger::Schedule => "schedule",
            Trigger::Change => "change",
        }
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "manual" => Ok(Trigger::Manual),
            "push-all" => Ok(Trigger::PushAll),
            "schedule" => Ok(Trigger::Schedule),
            "change" => Ok(Trigger::Change),
            other => Err(format!("unknown trigger {other:?}")),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a push run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Accepted and on the collect queue.
    Queued,
    /// A collector is building the snapshot.
    Collecting,
    /// A publisher is writing the snapshot to the provider.
    Publishing,
    /// The provider holds the latest snapshot.
    Succeeded,
    /// Gave up; `error` says why.
    Failed,
}

impl RunState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Collecting => "collecting",
            RunState::Publishing => "publishing",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    /// True once the run can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed)
    }
}

impl FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(RunState::Queued),
            "collecting" => Ok(RunState::Collecting),
            "publishing" => Ok(RunState::Publishing),
            "succeeded" => Ok(RunState::Succeeded),
            "failed" => Ok(RunState::Failed),
            other => Err(format!(
                "unknown state {other:?}: use queued, collecting, publishing, succeeded or failed"
            )),
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
