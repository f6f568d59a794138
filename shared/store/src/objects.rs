//! The one map of remote objects: (account, destination, object kind, source key) -> the
//! destination's id, parent, title, content fingerprint and archive state. Every write in
//! place goes through it, posture documents (see [`crate::documents`]) and PSA records alike:
//! an object is recorded as soon as the destination answered its create, before the message
//! is acknowledged, so a redelivery updates it instead of creating a second one.
//!
//! A sync run marks what it saw (`last_seen_run`) and what it wrote (`last_written_run`,
//! `last_action`), so its counts can be computed from the map however often its batches
//! were delivered.
//!
//! When a PSA company is matched to another destination company (or unmatched), the objects
//! written for it leave the map ([`Store::set_psa_matches`]) and wait as [`LeftObject`]s
//! until a sync archives them where they are; each counts once, for the run that did, and
//! its row goes with the archive. One recorded in the map again (adopted when its company is
//! matched back before a sync archived it) is no longer left.

use crate::prepared::Prepared;
use crate::{Store, StoreResult, SyncCounts};
use docsync_domain::psa::PsaKind;
use docsync_domain::{AccountId, RunId};
use std::collections::HashMap;

/// What the map knows of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// The destination's id.
    pub remote_id: String,
    /// The company / organization it is in (None for a top-level object such as a company).
    pub parent_id: Option<i64>,
    /// Its title when last written.
    pub title: String,
    /// The fingerprint of the content last written.
    pub fingerprint: Option<String>,
    /// Archived in the destination.
    pub archived: bool,
    /// When the map last recorded it (read back only; for a pending create, when the create
    /// was about to be sent, so recovery looks only at objects made since).
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a write did to an object, for the run's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAction {
    /// Created (or adopted and written).
    Created,
    /// Written in place.
    Updated,
    /// Archived.
    Archived,
    /// Brought back from the archive.
    Unarchived,
}

impl ObjectAction {
    fn as_str(self) -> &'static str {
        match self {
            ObjectAction::Created => "created",
            ObjectAction::Updated => "updated",
            ObjectAction::Archived => "archived",
            ObjectAction::Unarchived => "unarchived",
        }
    }
}

/// An object's identity in the map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// e.g. `company`, `contact`, `configuration`, `posture-article`.
    pub kind: String,
    /// The source's id, e.g. `connectwise-manage:4711`.
    pub source_key: String,
}

/// An object written for a PSA company into the destination company it was matched to
/// before, waiting to be archived there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftObject {
    /// Its identity in the map when it was left.
    pub key: ObjectKey,
    /// The destination's id.
    pub remote_id: String,
    /// The destination company it is in.
    pub parent_id: i64,
    /// Its title when last written.
    pub title: String,
}

impl Store {
    /// Up to `limit` objects of `psa`'s companies left at `destination` that no sync has
    /// archived yet.
    pub async fn left_objects(
        &self,
        account_id: AccountId,
        destination: &str,
        psa: PsaKind,
        limit: i64,
    ) -> StoreResult<Vec<LeftObject>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT object_kind, source_key, remote_id, remote_parent_id, title FROM left_objects
                  WHERE account_id = $1 AND destination = $2 AND psa = $3 AND archived_run IS NULL
                  ORDER BY left_at, remote_id LIMIT $4",
                &[&account_id.0, &destination, &psa.as_str(), &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LeftObject {
                key: ObjectKey {
                    kind: r.get(0),
                    source_key: r.get(1),
                },
                remote_id: r.get(2),
                parent_id: r.get(3),
                title: r.get(4),
            })
            .collect())
    }

    /// `run` archived the left object `remote_id`: its row goes and the run's `archived`
    /// count so far (in its stored counts, which [`Store::object_counts`] adds to) grows by
    /// one, in one statement (a redelivered batch archiving it again changes nothing: it
    /// counts for the first run only).
    pub async fn left_object_archived(
        &self,
        account_id: AccountId,
        destination: &str,
        remote_id: &str,
        run: RunId,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "WITH archived AS (
                    DELETE FROM left_objects
                     WHERE account_id = $1 AND destination = $2 AND remote_id = $3 AND archived_run IS NULL
                    RETURNING 1)
                 UPDATE push_runs SET counts = jsonb_set(coalesce(counts, '{}'::jsonb), '{archived}',
                        to_jsonb(coalesce((counts->>'archived')::bigint, 0) + (SELECT count(*) FROM archived)))
                  WHERE id = $4 AND kind = 'sync'",
                &[&account_id.0, &destination, &remote_id, &run.0],
            )
            .await?;
        Ok(())
    }

    /// Every object of `scope` (one PSA company's records, the company itself included)
    /// at `destination`.
    pub async fn objects_in_scope(
        &self,
        account_id: AccountId,
        destination: &str,
        scope: &str,
    ) -> StoreResult<HashMap<ObjectKey, RemoteObject>> {
        let rows = self
            .client()
            .await?
            .query_prepared(
                "SELECT object_kind, source_key, remote_id, remote_parent_id, title, fingerprint, archived, updated_at
                   FROM remote_objects WHERE account_id = $1 AND destination = $2 AND scope = $3",
                &[&account_id.0, &destination, &scope],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    ObjectKey {
                        kind: r.get(0),
                        source_key: r.get(1),
                    },
                    RemoteObject {
                        remote_id: r.get(2),
                        parent_id: r.get(3),
                        title: r.get(4),
                        fingerprint: r.get(5),
                        archived: r.get(6),
                        recorded_at: Some(r.get(7)),
                    },
                )
            })
            .collect())
    }

    /// Records an object as the destination now has it, and what `run` did to it; in the map
    /// again, it is no longer a left object (the same id in the same parent: never a company,
    /// whose ids are not asset ids).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_object(
        &self,
        account_id: AccountId,
        destination: &str,
        key: &ObjectKey,
        scope: &str,
        object: &RemoteObject,
        run: RunId,
        action: ObjectAction,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "WITH back AS (
                    DELETE FROM left_objects
                     WHERE account_id = $1 AND destination = $2 AND remote_id = $6 AND remote_parent_id = $7)
                 INSERT INTO remote_objects (account_id, destination, object_kind, source_key, scope, remote_id,
                        remote_parent_id, title, fingerprint, archived, last_seen_run, last_written_run, last_action, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, now())
                 ON CONFLICT (account_id, destination, object_kind, source_key) DO UPDATE SET
                        scope = $5, remote_id = $6, remote_parent_id = $7, title = $8, fingerprint = $9,
                        archived = $10, last_seen_run = $11, last_written_run = $11,
                        last_action = CASE WHEN remote_objects.last_written_run = $11 AND remote_objects.last_action = 'created'
                                           THEN 'created' ELSE $12 END,
                        last_seen_at = now(), updated_at = now()",
                &[
                    &account_id.0,
                    &destination,
                    &key.kind,
                    &key.source_key,
                    &scope,
                    &object.remote_id,
                    &object.parent_id,
                    &object.title,
                    &object.fingerprint,
                    &object.archived,
                    &run.0,
                    &action.as_str(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Notes, before a create is sent, that the object may come to exist (remote id empty):
    /// if the process dies between the destination's answer and [`Store::record_object`],
    /// the next attempt looks the object up by name instead of creating a second one.
    pub async fn record_pending_object(
        &self,
        account_id: AccountId,
        destination: &str,
        key: &ObjectKey,
        scope: &str,
        title: &str,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "INSERT INTO remote_objects (account_id, destination, object_kind, source_key, scope, remote_id, title)
                 VALUES ($1, $2, $3, $4, $5, '', $6) ON CONFLICT DO NOTHING",
                &[&account_id.0, &destination, &key.kind, &key.source_key, &scope, &title],
            )
            .await?;
        Ok(())
    }

    /// Forgets the pending create of `key` ([`Store::record_pending_object`]) that the
    /// destination refused: it made nothing, so there is nothing to recover and the next
    /// attempt simply creates the object. An object the map holds (a remote id) is kept.
    pub async fn forget_pending_object(
        &self,
        account_id: AccountId,
        destination: &str,
        key: &ObjectKey,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_prepared(
                "DELETE FROM remote_objects
                  WHERE account_id = $1 AND destination = $2 AND object_kind = $3 AND source_key = $4
                    AND remote_id = ''",
                &[&account_id.0, &destination, &key.kind, &key.source_key],
            )
            .await?;
        Ok(())
    }

    /// Marks the objects of `keys` as seen by `run` (their records exist in the source).
    pub async fn mark_objects_seen(
        &self,
        account_id: AccountId,
        destination: &str,
        run: RunId,
        keys: &[ObjectKey],
    ) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // One statement per kind (a sync writes at most five), each planned for its own keys
        // (not a cached generic plan): an index scan of the kind's objects with the keys
        // hashed, linear in them. The join with the keys unnested that this replaces was
        // planned, once its statement's plan went generic over a table not analyzed yet, as a
        // nested loop over every key for every object: 2.4 s for 3,000 keys, quadratic.
        let mut by_kind: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for key in keys {
            by_kind
                .entry(key.kind.as_str())
                .or_default()
                .push(key.source_key.as_str());
        }
        let client = self.client().await?;
        for (kind, sources) in &by_kind {
            client
                .execute(
                    "UPDATE remote_objects SET last_seen_run = $3, last_seen_at = now()
                      WHERE account_id = $1 AND destination = $2 AND object_kind = $4
                        AND source_key = ANY($5::text[]) AND last_seen_run IS DISTINCT FROM $3",
                    &[&account_id.0, &destination, &run.0, kind, sources],
                )
                .await?;
        }
        Ok(())
    }

    /// What `run` did, from the map, however often its batches were delivered: every count
    /// but `skipped` (the objects it archived in a company's old match among `archived`, from
    /// the run's stored counts; the records the destination refused each once in `failed`).
    pub async fn object_counts(&self, run: RunId) -> StoreResult<SyncCounts> {
        let row = self
            .client()
            .await?
            .query_one_prepared(
                "SELECT count(*) FILTER (WHERE last_written_run = $1 AND last_action = 'created'),
                        count(*) FILTER (WHERE last_written_run = $1 AND last_action = 'updated'),
                        count(*) FILTER (WHERE last_written_run = $1 AND last_action = 'archived'),
                        count(*) FILTER (WHERE last_written_run = $1 AND last_action = 'unarchived'),
                        count(*) FILTER (WHERE last_written_run IS DISTINCT FROM $1),
                        coalesce((SELECT (counts->>'archived')::bigint FROM push_runs WHERE id = $1), 0),
                        (SELECT count(*) FROM sync_failures WHERE run_id = $1)
                   FROM remote_objects WHERE last_seen_run = $1",
                &[&run.0],
            )
            .await?;
        let left: i64 = row.get(5);
        Ok(SyncCounts {
            created: row.get(0),
            updated: row.get(1),
            archived: row.get::<_, i64>(2) + left,
            unarchived: row.get(3),
            unchanged: row.get(4),
            skipped: 0,
            failed: row.get(6),
        })
    }
}
