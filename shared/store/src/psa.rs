//! PSA integrations of an account: the typed options and the config without its secrets
//! (JSONB, read back as their types), the sealed secrets, and the company list a sync reads
//! with each company's match state and read cursor.

use crate::audit::{self, AuditEvent};
use crate::prepared::Prepared;
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use docsync_domain::psa::{PsaKind, PsaOptions};
use docsync_domain::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A PSA integration as stored.
#[derive(Debug, Clone)]
pub struct PsaIntegration {
    /// The owning account.
    pub account_id: AccountId,
    /// Which PSA.
    pub psa: PsaKind,
    /// The PSA's own config without secrets (its module's stored form).
    pub config: serde_json::Value,
    /// What every PSA shares, typed.
    pub options: PsaOptions,
    /// Secret name -> sealed secret.
    pub secrets_sealed: BTreeMap<String, String>,
    /// Created (no schedule slot before it fires).
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a PSA company's records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchState {
    /// Brings nothing in.
    Unmatched,
    /// The next sync creates the company in the destination, then it is matched.
    Create,
    /// Synced into its destination company.
    Matched,
    /// Left out on purpose.
    Ignored,
}

impl MatchState {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchState::Unmatched => "unmatched",
            MatchState::Create => "create",
            MatchState::Matched => "matched",
            MatchState::Ignored => "ignored",
        }
    }
}

impl std::str::FromStr for MatchState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unmatched" => Ok(MatchState::Unmatched),
            "create" => Ok(MatchState::Create),
            "matched" => Ok(MatchState::Matched),
            "ignored" => Ok(MatchState::Ignored),
            other => Err(format!("unknown match state {other:?}")),
        }
    }
}

/// A PSA company as the last sync read it, with its match.
#[derive(Debug, Clone, PartialEq)]
pub struct PsaCompany {
    /// The PSA's id.
    pub psa_id: i64,
    /// Its name in the PSA.
    pub name: String,
    /// Active in the PSA.
    pub active: bool,
    /// Deleted in the PSA (or gone from its list).
    pub deleted: bool,
    /// The PSA's company type.
    pub company_type: Option<String>,
    /// Its match.
    pub state: MatchState,
    /// The destination company, once matched.
    pub destination_company_id: Option<i64>,
    /// The destination company of exactly its name, when there is exactly one.
    pub suggested_company_id: Option<i64>,
    /// Its records were last read whole and written through this time.
    pub synced_through: Option<DateTime<Utc>>,
    /// The options fingerprint that cursor was earned under.
    pub synced_options: Option<String>,
}

/// One company of the PSA's list, as a collector read it.
#[derive(Debug, Clone)]
pub struct ListedCompany {
    /// The PSA's id.
    pub psa_id: i64,
    /// Name.
    pub name: String,
    /// Active.
    pub active: bool,
    /// Deleted (soft) in the PSA.
    pub deleted: bool,
    /// Company type.
    pub company_type: Option<String>,
    /// The destination company of exactly its name, when exactly one.
    pub suggested_company_id: Option<i64>,
}

/// A change of one company's match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchChange {
    /// Sync into this destination company.
    Match(i64),
    /// Create the company in the destination on the next sync.
    Create,
    /// Leave it out.
    Ignore,
    /// Back to unmatched.
    Unmatch,
}

/// A payload a collector stored for a run: what one source read, tagged by kind.
#[derive(Debug, Clone)]
pub struct StoredPayload {
    /// Its kind, e.g. `psa-company`.
    pub kind: String,
    /// What it is of, e.g. `connectwise-manage:250`.
    pub source_key: String,
    /// Its order within the run.
    pub seq: i32,
    /// When the read began (the next incremental read starts there).
    pub read_started_at: DateTime<Utc>,
    /// What is stored of it so far.
    pub body: PayloadBody,
}

/// What a planned payload holds.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadBody {
    /// Nothing: its records are not read yet.
    Unread,
    /// The first records of a read still under way: the `part`-th stored (1, 2, ...). More
    /// follow, so nothing may be concluded from what it lacks.
    Part {
        /// Parts stored so far.
        part: i32,
        /// The records read so far.
        body: serde_json::Value,
    },
    /// The whole read.
    Whole(serde_json::Value),
}

impl PayloadBody {
    fn from_row(body: Option<serde_json::Value>, part: Option<i32>) -> Self {
        match (body, part) {
            (None, _) => PayloadBody::Unread,
            (Some(body), Some(part)) => PayloadBody::Part { part, body },
            (Some(body), None) => PayloadBody::Whole(body),
        }
    }

    /// Whether the read is whole (not planned only, not a part).
    pub fn is_whole(&self) -> bool {
        matches!(self, PayloadBody::Whole(_))
    }
}

/// A payload planned before its records are read (see [`Store::plan_payloads`]).
#[derive(Debug, Clone)]
pub struct PlannedPayload {
    /// Its kind, e.g. `psa-company`.
    pub kind: String,
    /// What it is of, e.g. `connectwise-manage:250`.
    pub source_key: String,
    /// Its order within the run.
    pub seq: i32,
    /// When the read began (the next incremental read starts there).
    pub read_started_at: DateTime<Utc>,
}

/// Where a planned payload stands (see [`Store::planned_payload`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedPayloadState {
    /// Read whole: its body.
    Read(serde_json::Value),
    /// A part newer than the one asked after (see [`PayloadBody::Part`]).
    Part {
        /// Parts stored so far.
        part: i32,
        /// The records read so far.
        body: serde_json::Value,
    },
    /// Nothing newer than asked after: not read yet, or no newer part.
    Unread,
    /// Dropped unread: its company is gone from the PSA.
    Dropped,
    /// The run is no longer publishing (finished, failed, or gone).
    RunGone,
}

fn company(row: &tokio_postgres::Row) -> StoreResult<PsaCompany> {
    let state: String = row.get(5);
    Ok(PsaCompany {
        psa_id: row.get(0),
        name: row.get(1),
        active: row.get(2),
        deleted: row.get(3),
        company_type: row.get(4),
        state: state.parse().map_err(StoreError::Corrupt)?,
        destination_company_id: row.get(6),
        suggested_company_id: row.get(7),
        synced_through: row.get(8),
        synced_options: row.get(9),
    })
}

const COMPANY_COLUMNS: &str = "psa_id, name, active, deleted, company_type, match_state, destination_company_id, suggested_company_id, synced_through, synced_options";

/// Moves the objects written for PSA company `$3` out of the map into `left_objects` when
/// it is matched to a destination company (`$1` account, `$2` PSA) other than `$4` (None:
/// none). Archived objects stay archived where they are; the company object is forgotten,
/// never archived.
const LEAVE_OLD_COMPANY: &str = "
    WITH old AS (
        SELECT 1 FROM psa_companies
         WHERE account_id = $1 AND psa = $2 AND psa_id = $3
           AND destination_company_id IS NOT NULL AND destination_company_id IS DISTINCT FROM $4),
     left_map AS (
        DELETE FROM remote_objects o
         WHERE o.account_id = $1 AND o.scope = $2 || ':' || $3::bigint::text AND EXISTS (SELECT 1 FROM old)
         RETURNING o.destination, o.remote_id, o.remote_parent_id, o.object_kind, o.source_key, o.title, o.archived)
    INSERT INTO left_objects (account_id, destination, psa, remote_id, remote_parent_id, object_kind, source_key, title)
    SELECT $1, destination, $2, remote_id, remote_parent_id, object_kind, source_key, title FROM left_map
     WHERE object_kind <> 'company' AND remote_id <> '' AND NOT archived AND remote_parent_id IS NOT NULL
    ON CONFLICT (account_id, destination, remote_id) DO UPDATE SET
        psa = excluded.psa, remote_parent_id = excluded.remote_parent_id, object_kind = excluded.object_kind,
        source_key = excluded.source_key, title = excluded.title, left_at = now(), archived_run = NULL";

impl Store {
    /// Creates or replaces the account's integration of `psa`, recording `audit` with it.
    pub async fn upsert_psa_integration(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        config: &serde_json::Value,
        options: &PsaOptions,
        secrets_sealed: &BTreeMap<String, String>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let options =
            serde_json::to_value(options).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let secrets =
            serde_json::to_value(secrets_sealed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_prepared(
            "INSERT INTO psa_integrations (account_id, psa, config, options, secrets_sealed)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, psa) DO UPDATE SET config = $3, options = $4, secrets_sealed = $5, updated_at = now()",
            &[&account_id.0, &psa.as_str(), config, &options, &secrets],
        )
        .await?;
        audit::record(&tx, account_id, audit, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's integration of `psa`.
    pub async fn psa_integration(
        &self,
        account_id: AccountId,
        psa: PsaKind,
    ) -> StoreResult<Option<PsaIntegration>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT config, options, secrets_sealed, created_at, updated_at
                   FROM psa_integrations WHERE account_id = $1 AND psa = $2",
                &[&account_id.0, &psa.as_str()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        Ok(Some(PsaIntegration {
            account_id,
            psa,
            config: row.get(0),
            options: serde_json::from_value(row.get(1)).map_err(corrupt)?,
            secrets_sealed: serde_json::from_value(row.get(2)).map_err(corrupt)?,
            created_at: row.get(3),
            updated_at: row.get(4),
        }))
    }

    /// Every PSA integration whose schedule may fire (the scheduler's list).
    pub async fn scheduled_psa_integrations(&self) -> StoreResult<Vec<PsaIntegration>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT account_id, psa, config, options, secrets_sealed, created_at, updated_at
                   FROM psa_integrations WHERE options->'schedule'->>'mode' IS DISTINCT FROM 'manual'",
                &[],
            )
            .await?;
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        rows.iter()
            .map(|row| {
                let psa: String = row.get(1);
                Ok(PsaIntegration {
                    account_id: AccountId(row.get(0)),
                    psa: crate::parse(&psa)?,
                    config: row.get(2),
                    options: serde_json::from_value(row.get(3)).map_err(corrupt)?,
                    secrets_sealed: serde_json::from_value(row.get(4)).map_err(corrupt)?,
                    created_at: row.get(5),
                    updated_at: row.get(6),
                })
            })
            .collect()
    }

    /// Claims the schedule slot `slot_at` of the account's `psa` and creates its run, once
    /// across scheduler replicas: Some(run) for the replica that got it. A slot older than one
    /// already claimed is never claimed (a replica whose clock lags cannot start syncs out of
    /// order).
    pub async fn claim_psa_slot(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        slot_at: DateTime<Utc>,
    ) -> StoreResult<Option<docsync_domain::RunId>> {
        let run_id = uuid::Uuid::new_v4();
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "WITH slot AS (
                    INSERT INTO psa_schedule_slots (account_id, psa, slot_at, run_id)
                    SELECT $1::uuid, $2::text, $3::timestamptz, $4::uuid
                     WHERE NOT EXISTS (SELECT 1 FROM psa_schedule_slots
                                        WHERE account_id = $1 AND psa = $2 AND slot_at >= $3)
                    ON CONFLICT DO NOTHING RETURNING run_id)
                 INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state, kind)
                 SELECT run_id, $1, NULL, $2, 'schedule', 'queued', 'sync' FROM slot RETURNING id",
                &[&account_id.0, &psa.as_str(), &slot_at, &run_id],
            )
            .await?;
        Ok(row.map(|r| docsync_domain::RunId(r.get(0))))
    }

    /// The company list of the account's `psa`, by name.
    pub async fn psa_companies(
        &self,
        account_id: AccountId,
        psa: PsaKind,
    ) -> StoreResult<Vec<PsaCompany>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                &format!("SELECT {COMPANY_COLUMNS} FROM psa_companies WHERE account_id = $1 AND psa = $2 ORDER BY lower(name), psa_id"),
                &[&account_id.0, &psa.as_str()],
            )
            .await?;
        rows.iter().map(company).collect()
    }

    /// Records the company list a sync read: new companies arrive unmatched, known ones get
    /// their name, state and suggestion refreshed, companies no longer listed are marked
    /// deleted. Matches are kept. Returns the list as stored.
    pub async fn record_psa_companies(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        listed: &[ListedCompany],
    ) -> StoreResult<Vec<PsaCompany>> {
        let ids: Vec<i64> = listed.iter().map(|c| c.psa_id).collect();
        let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
        let active: Vec<bool> = listed.iter().map(|c| c.active).collect();
        let deleted: Vec<bool> = listed.iter().map(|c| c.deleted).collect();
        let types: Vec<Option<&str>> = listed.iter().map(|c| c.company_type.as_deref()).collect();
        let suggested: Vec<Option<i64>> = listed.iter().map(|c| c.suggested_company_id).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_prepared(
            "INSERT INTO psa_companies (account_id, psa, psa_id, name, active, deleted, company_type, suggested_company_id)
             SELECT $1, $2, c.id, c.name, c.active, c.deleted, c.kind, c.suggested
               FROM unnest($3::bigint[], $4::text[], $5::bool[], $6::bool[], $7::text[], $8::bigint[])
                    AS c(id, name, active, deleted, kind, suggested)
             ON CONFLICT (account_id, psa, psa_id) DO UPDATE SET name = excluded.name, active = excluded.active,
                 deleted = excluded.deleted, company_type = excluded.company_type,
                 suggested_company_id = excluded.suggested_company_id, seen_at = now()",
            &[&account_id.0, &psa.as_str(), &ids, &names, &active, &deleted, &types, &suggested],
        )
        .await?;
        tx.execute_prepared(
            "UPDATE psa_companies SET deleted = true WHERE account_id = $1 AND psa = $2 AND NOT (psa_id = ANY($3))",
            &[&account_id.0, &psa.as_str(), &ids],
        )
        .await?;
        tx.commit().await?;
        self.psa_companies(account_id, psa).await
    }

    /// Applies match changes in one transaction; Err lists the PSA ids that are not in the
    /// company list (nothing is changed then). A company matched elsewhere than before (to
    /// another company, to one to create) or unmatched leaves what docsync wrote for it in its
    /// old company: those objects leave the map (its records are written to the new match)
    /// and become [`crate::LeftObject`]s for the next sync to archive there.
    pub async fn set_psa_matches(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        changes: &[(i64, MatchChange)],
    ) -> StoreResult<Result<(), Vec<i64>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let ids: Vec<i64> = changes.iter().map(|(id, _)| *id).collect();
        let known: std::collections::HashSet<i64> = tx
            .query_prepared(
                "SELECT psa_id FROM psa_companies WHERE account_id = $1 AND psa = $2 AND psa_id = ANY($3)",
                &[&account_id.0, &psa.as_str(), &ids],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let unknown: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !known.contains(id))
            .collect();
        if !unknown.is_empty() {
            return Ok(Err(unknown));
        }
        for (id, change) in changes {
            let (state, company) = match change {
                MatchChange::Match(c) => (MatchState::Matched, Some(*c)),
                MatchChange::Create => (MatchState::Create, None),
                MatchChange::Ignore => (MatchState::Ignored, None),
                MatchChange::Unmatch => (MatchState::Unmatched, None),
            };
            if !matches!(change, MatchChange::Ignore) {
                tx.execute_prepared(
                    LEAVE_OLD_COMPANY,
                    &[&account_id.0, &psa.as_str(), id, &company],
                )
                .await?;
            }
            // A new destination company means a full read next time.
            tx.execute_prepared(
                "UPDATE psa_companies SET match_state = $4, destination_company_id = $5,
                        synced_through = CASE WHEN destination_company_id IS NOT DISTINCT FROM $5 THEN synced_through END
                  WHERE account_id = $1 AND psa = $2 AND psa_id = $3",
                &[&account_id.0, &psa.as_str(), id, &state.as_str(), &company],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A `create` company now exists in the destination as `company_id`: it is matched.
    pub async fn psa_company_created(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        psa_id: i64,
        company_id: i64,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "UPDATE psa_companies SET match_state = 'matched', destination_company_id = $4
                  WHERE account_id = $1 AND psa = $2 AND psa_id = $3",
                &[&account_id.0, &psa.as_str(), &psa_id, &company_id],
            )
            .await?;
        Ok(())
    }

    /// Every record of the company read since `through` has been written under `options`.
    pub async fn psa_company_synced(
        &self,
        account_id: AccountId,
        psa: PsaKind,
        psa_id: i64,
        through: DateTime<Utc>,
        options: &str,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "UPDATE psa_companies SET synced_through = $4, synced_options = $5
                  WHERE account_id = $1 AND psa = $2 AND psa_id = $3",
                &[&account_id.0, &psa.as_str(), &psa_id, &through, &options],
            )
            .await?;
        Ok(())
    }

    /// Plans a run's payloads: one row per company to read, in order, with no body yet
    /// (replacing any an earlier attempt of the run planned or stored). Each is filled by
    /// [`Store::fill_payload`] when its records are read.
    pub async fn plan_payloads(
        &self,
        account_id: AccountId,
        run_id: docsync_domain::RunId,
        planned: &[PlannedPayload],
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute_prepared("DELETE FROM payloads WHERE run_id = $1", &[&run_id.0])
            .await?;
        let kinds: Vec<&str> = planned.iter().map(|p| p.kind.as_str()).collect();
        let keys: Vec<&str> = planned.iter().map(|p| p.source_key.as_str()).collect();
        let seqs: Vec<i32> = planned.iter().map(|p| p.seq).collect();
        let started: Vec<DateTime<Utc>> = planned.iter().map(|p| p.read_started_at).collect();
        tx.execute_prepared(
            "INSERT INTO payloads (id, account_id, run_id, kind, source_key, seq, read_started_at)
             SELECT gen_random_uuid(), $1, $2, k, s, q, r
               FROM unnest($3::text[], $4::text[], $5::int[], $6::timestamptz[]) AS t(k, s, q, r)",
            &[&account_id.0, &run_id.0, &kinds, &keys, &seqs, &started],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the whole body of the run's planned payload `seq` (its records were read).
    pub async fn fill_payload(
        &self,
        run_id: docsync_domain::RunId,
        seq: i32,
        body: &serde_json::Value,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "UPDATE payloads SET body = $3, part = NULL WHERE run_id = $1 AND seq = $2",
                &[&run_id.0, &seq, body],
            )
            .await?;
        Ok(())
    }

    /// Stores the records read so far of the run's planned payload `seq` as its next part,
    /// unless the payload is whole already; returns the part's number (None: whole).
    pub async fn fill_payload_part(
        &self,
        run_id: docsync_domain::RunId,
        seq: i32,
        body: &serde_json::Value,
    ) -> StoreResult<Option<i32>> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "UPDATE payloads SET body = $3, part = coalesce(part, 0) + 1
                  WHERE run_id = $1 AND seq = $2 AND (body IS NULL OR part IS NOT NULL)
                  RETURNING part",
                &[&run_id.0, &seq, body],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Drops the run's planned payload `seq` before it is whole (its company is gone from
    /// the PSA).
    pub async fn drop_payload(&self, run_id: docsync_domain::RunId, seq: i32) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "DELETE FROM payloads WHERE run_id = $1 AND seq = $2 AND (body IS NULL OR part IS NOT NULL)",
                &[&run_id.0, &seq],
            )
            .await?;
        Ok(())
    }

    /// A run's payloads of `kind`, in order, as stored so far.
    pub async fn payloads(
        &self,
        run_id: docsync_domain::RunId,
        kind: &str,
    ) -> StoreResult<Vec<StoredPayload>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT kind, source_key, seq, read_started_at, body, part FROM payloads
                  WHERE run_id = $1 AND kind = $2 ORDER BY seq",
                &[&run_id.0, &kind],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredPayload {
                kind: r.get(0),
                source_key: r.get(1),
                seq: r.get(2),
                read_started_at: r.get(3),
                body: PayloadBody::from_row(r.get(4), r.get(5)),
            })
            .collect())
    }

    /// Where the run's planned payload `seq` stands, for a publisher waiting for it (or,
    /// `after_part` > 0, for more than the part it wrote): the body only when it is whole or
    /// a newer part, so a wait costs no body's transfer.
    pub async fn planned_payload(
        &self,
        run_id: docsync_domain::RunId,
        seq: i32,
        after_part: i32,
    ) -> StoreResult<PlannedPayloadState> {
        let row = self
            .client()
            .await?
            .query_opt_prepared(
                "SELECT r.state = 'publishing', p.seq IS NOT NULL,
                        CASE WHEN p.part IS NULL OR p.part > $3 THEN p.body END, p.part
                   FROM push_runs r LEFT JOIN payloads p ON p.run_id = r.id AND p.seq = $2
                  WHERE r.id = $1",
                &[&run_id.0, &seq, &after_part],
            )
            .await?;
        Ok(match row {
            None => PlannedPayloadState::RunGone,
            Some(r) if !r.get::<_, bool>(0) => PlannedPayloadState::RunGone,
            Some(r) if !r.get::<_, bool>(1) => PlannedPayloadState::Dropped,
            Some(r) => match PayloadBody::from_row(r.get(2), r.get(3)) {
                PayloadBody::Unread => PlannedPayloadState::Unread,
                PayloadBody::Part { part, body } => PlannedPayloadState::Part { part, body },
                PayloadBody::Whole(body) => PlannedPayloadState::Read(body),
            },
        })
    }

    /// Drops the payloads of finished runs older than a day, keeping the store small.
    pub async fn prune_payloads(&self) -> StoreResult<u64> {
        Ok(self
            .client()
            .await?
            .execute_prepared(
                "DELETE FROM payloads p USING push_runs r
                  WHERE p.run_id = r.id AND r.state IN ('succeeded', 'failed') AND r.finished_at < now() - interval '1 day'",
                &[],
            )
            .await?)
    }
}
