//! The publish step of a sync run: each company's payload projected onto Hudu and written in
//! place through the map of remote objects, the company and each asset by the one loop of
//! [`docsync_sinks::in_place`]: by the recorded id; else adopted (the first sync of a company
//! matches existing assets by layout and exact name, or serial first with `matchOnSerial`; an
//! interrupted create is looked up by name); else created. An object
//! whose fingerprint and archive state match the map is not written. Records gone from the
//! PSA are archived (`autoArchive`), never deleted; so is what docsync wrote for a company
//! into the destination company it was matched to before a re-match or unmatch (the map's
//! left objects, never an asset docsync did not write or adopt). A record the destination
//! refuses (a 4xx) counts as failed; a refused create leaves no pending create to recover,
//! and the company keeps its read cursor, so the next sync reads the record and tries again.
//!
//! A company whose read is stored in parts is written part by part as they come (its
//! adoption pass too, over one listing); only its whole read archives what the PSA no longer
//! lists and moves its read cursor.
//!
//! A batch works several companies at once, their asset writes sharing one window of calls in
//! flight sized by the Hudu key's budget and Hudu's latency; the key's pacer spaces every
//! call, so the budget holds however many are in flight. The next batch starts at the first
//! company not finished, and every write is recorded before its company counts as done.

use super::collect::options_fingerprint;
use super::{BatchCursor, Step, SyncContext};
use crate::payload::{CompanyPayload, COMPANY_PAYLOAD};
use crate::projection::{project_hudu, source_key, HuduLayouts, PlannedObject, COMPANY_KIND};
use crate::CallError;
use chrono::{DateTime, Utc};
use docsync_domain::locks::KeyedLocks;
use docsync_domain::psa::PsaOptions;
use docsync_outbound::in_flight::{InFlight, InFlightBounds};
use docsync_sinks::hudu_objects::{HuduAssetRef, HuduObjects};
use docsync_sinks::in_place::{self, InPlace, Via, Written};
use docsync_store::{
    MatchState, ObjectAction, ObjectKey, PayloadBody, PlannedPayloadState, RemoteObject,
    StoredPayload, SyncCounts, SyncRun,
};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The destination's name in the map of remote objects.
pub(super) const DESTINATION: &str = "hudu";
/// Destination writes of one sync in flight at once, at least, and while Hudu has answered
/// none of the key's calls yet (its latency unknown).
const MIN_IN_FLIGHT: usize = 8;
/// Destination writes of one sync in flight at once, at most. Between the two the window
/// follows the key's budget and Hudu's latency ([`HuduObjects::calls_in_flight_wanted`]: rate x
/// the 95th percentile of recent answer times) plus [`MIN_IN_FLIGHT`] for the database work
/// around each call. More in flight never means more calls than the budget: the key's pacer
/// spaces every call.
const MAX_IN_FLIGHT: usize = 64;
/// Companies of one batch worked at once, begun in order: while some wait for their company
/// write, their adoption listing or their slowest answers (a few seconds at a few hundred
/// milliseconds an answer behind the key's queue), the others' writes keep the budget busy.
const COMPANIES_IN_FLIGHT: usize = 16;
/// How far Hudu's clock may lag ours when an interrupted create is recovered by its time.
const RECOVERY_SKEW: chrono::Duration = chrono::Duration::minutes(2);

/// How a company's part of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompanyEnd {
    /// Everything written, archived and marked seen.
    Done,
    /// Stopped at the batch's share of writes (or another company's failure) before the end;
    /// `adopted`: its adoption pass was done.
    Cut { adopted: bool },
    /// Its records (or the rest of them) are still being read: the batch ends there.
    Waiting { adopted: bool },
    /// Not begun: the batch had stopped already.
    NotBegun,
}

/// A company's payload, as the batch found it.
enum Read {
    /// Read: its body, whole (`part` None) or the `part`-th part of a read still under way.
    Body { body: Value, part: Option<i32> },
    /// Dropped from the plan unread (the company is gone from the PSA): nothing to write.
    Dropped,
    /// Not read within [`READ_WAIT`], or the run stopped publishing: the batch ends here.
    NotYet,
}

/// How often a company whose records the collector is still reading is looked for.
const READ_POLL: std::time::Duration = std::time::Duration::from_millis(100);
/// How long a batch waits for one company's records before it ends there (the next batch
/// takes it up): a collector that died is replaced within this, and a batch never holds its
/// place on the partition for long while nothing comes.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A batch's share of destination writes: what the key's budget allows in `time`, at least
/// `min_writes` (a few more when writes in flight finish after the share was reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchShare {
    /// Writes per batch at least, however small the budget.
    pub min_writes: usize,
    /// How long a batch's writes take at the key's full budget.
    pub time: std::time::Duration,
}

impl BatchShare {
    /// The writes of one batch under `limit`.
    pub fn writes(&self, limit: docsync_domain::RateLimit) -> usize {
        let per_second = f64::from(limit.requests) / f64::from(limit.per_seconds.max(1));
        ((per_second * self.time.as_secs_f64()) as usize).max(self.min_writes)
    }
}

/// Writes one batch (its [`BatchShare`] of destination writes) starting at `cursor`. Several companies are
/// written at once ([`COMPANIES_IN_FLIGHT`]), their writes sharing one window of calls in
/// flight; the cursor of the next batch is the first company not finished, so a company cut
/// short, or finished after one that was cut, is taken up again there (its written objects
/// are in the map, so nothing is written twice).
pub async fn publish_batch(
    ctx: &SyncContext,
    run: &SyncRun,
    cursor: BatchCursor,
    share: BatchShare,
) -> anyhow::Result<Step> {
    let store = &ctx.store;
    let Some(integration) = store.psa_integration(run.account_id, run.psa).await? else {
        return Ok(Step::Failed(format!(
            "the {} integration was removed",
            run.psa
        )));
    };
    let options = &integration.options;
    let hudu = match ctx.destinations.hudu_objects(run.account_id).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Step::Failed(reason)),
    };
    let layouts = match ctx.layouts.resolve(run.account_id, options, &hudu).await {
        Ok(l) => l,
        Err(e) => return Ok(e.into()),
    };
    let payloads = store.payloads(run.id, COMPANY_PAYLOAD).await?;
    let fp = options_fingerprint(options);
    let max_writes = share.writes(hudu.rate_limit());
    // Where each company is matched now: one matched elsewhere (or unmatched) since it was
    // read is left for the next sync, so its records never land in the company it left.
    let matches: HashMap<i64, (MatchState, Option<i64>)> = store
        .psa_companies(run.account_id, run.psa)
        .await?
        .into_iter()
        .map(|c| (c.psa_id, (c.state, c.destination_company_id)))
        .collect();
    let writer = Writer {
        ctx,
        run,
        hudu: &hudu,
        options,
        writes: AtomicUsize::new(0),
        refused: Mutex::new(Vec::new()),
        refused_in: Mutex::default(),
        matches,
        max_writes,
        stopped: AtomicBool::new(false),
        window: Arc::default(),
        company_names: KeyedLocks::default(),
    };
    // The cursor names a payload by its place in the run's plan (`seq`); past the last one,
    // only what follows the companies is left.
    let first = cursor.company as i32;
    let past_last = payloads.last().map_or(0, |p| p.seq + 1) as u32;
    let layouts = &layouts;
    let (writer, fp) = (&writer, fp.as_str());
    let mut companies = Vec::with_capacity(payloads.len());
    for stored in payloads.iter().filter(|p| p.seq >= first) {
        companies.push(async move {
            let seq = stored.seq;
            if writer.should_stop() {
                return (seq, Ok(Ok(CompanyEnd::NotBegun)));
            }
            let adopted = seq == first && cursor.adopted;
            let end = match writer.read_payload(stored).await {
                Ok(Read::Body { body, part }) => {
                    writer
                        .company_records(stored, body, part, adopted, layouts, fp)
                        .await
                }
                Ok(Read::Dropped) => Ok(Ok(CompanyEnd::Done)),
                Ok(Read::NotYet) => Ok(Ok(CompanyEnd::Waiting { adopted })),
                Err(e) => Err(e),
            };
            if !matches!(end, Ok(Ok(CompanyEnd::Done))) {
                writer.stop();
            }
            (seq, end)
        });
    }
    let ends: Vec<(i32, anyhow::Result<Result<CompanyEnd, CallError>>)> =
        futures::stream::iter(companies)
            .buffer_unordered(COMPANIES_IN_FLIGHT)
            .collect()
            .await;
    writer.note_failures().await?;
    let mut next: Option<(i32, CompanyEnd)> = None;
    let mut failure = None;
    for (seq, end) in ends {
        match end? {
            Ok(CompanyEnd::Done) => {}
            Ok(end) => {
                if next.is_none_or(|(at, _)| seq < at) {
                    next = Some((seq, end));
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failure {
        return Ok(e.into());
    }
    if let Some((seq, end)) = next {
        let adopted = match end {
            CompanyEnd::Cut { adopted } | CompanyEnd::Waiting { adopted } => adopted,
            _ => seq == first && cursor.adopted,
        };
        let next = BatchCursor {
            company: seq as u32,
            adopted,
        };
        return Ok(match end {
            CompanyEnd::Waiting { .. } => Step::Wait(next),
            _ => Step::Continue(next),
        });
    }
    // What companies matched elsewhere since (or unmatched) left in their old company.
    match writer.archive_left().await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(Step::Continue(BatchCursor {
                company: past_last,
                adopted: true,
            }))
        }
        Err(e) => return Ok(e.into()),
    }
    // Hudu's articles into the PSA's knowledge base, once the records are written.
    if options.knowledge_base.enabled {
        let source = match crate::spec::source(ctx, &integration, Some(run.id)) {
            Ok(s) => s,
            Err(reason) => return Ok(Step::Failed(reason)),
        };
        if let Some(kb) = source.knowledge_base() {
            let budget = max_writes.saturating_sub(writer.writes()).max(1);
            match super::knowledge::sync_articles(ctx, run, &hudu, kb, budget).await {
                Ok(outcome) if outcome.more => {
                    return Ok(Step::Continue(BatchCursor {
                        company: past_last,
                        adopted: true,
                    }))
                }
                Ok(_) => {}
                Err(super::knowledge::KbError::Call(e)) => return Ok(e.into()),
                Err(super::knowledge::KbError::Store(e)) => return Err(e.into()),
            }
        }
    }
    // Counts from the map, so redelivered batches never count twice; every company was read
    // (each one's records were written), so every payload has its body now.
    let mut counts = store.object_counts(run.id).await?;
    for stored in store.payloads(run.id, COMPANY_PAYLOAD).await? {
        let PayloadBody::Whole(body) = stored.body else {
            continue;
        };
        let payload: CompanyPayload = serde_json::from_value(body)?;
        counts.skipped += project_hudu(run.psa, &payload, options, layouts).skipped;
    }
    let SyncCounts {
        created,
        updated,
        unchanged,
        archived,
        unarchived,
        skipped,
        failed,
    } = counts;
    Ok(Step::Finished(
        counts,
        format!(
            "{created} created, {updated} updated, {unchanged} unchanged, {archived} archived, {unarchived} unarchived, {skipped} skipped, {failed} failed"
        ),
    ))
}

/// The writes of a batch in flight at once when the key's pacer wants `wanted` calls under
/// way to keep its budget busy (`None`: Hudu has not answered yet).
fn in_flight_for(wanted: Option<usize>) -> usize {
    InFlightBounds {
        min: MIN_IN_FLIGHT,
        first: MIN_IN_FLIGHT,
        max: MAX_IN_FLIGHT,
    }
    .limit(wanted)
}

/// Whether a company's read needs an adoption pass: its first full read into a matched
/// company, unless the pass was done already.
fn adoption_due(payload: &CompanyPayload, adopted: bool) -> bool {
    payload.full && !adopted && payload.destination_company_id.is_some()
}

/// One company's read as a batch writes it.
struct CompanyRead<'a> {
    stored: &'a StoredPayload,
    /// The records read: whole, or a part.
    payload: &'a CompanyPayload,
    /// Its adoption pass was done already.
    adopted: bool,
    /// Hudu's assets of the company, once listed (for the adoption pass of every part).
    listing: &'a mut Option<Vec<HuduAssetRef>>,
}

struct Writer<'a> {
    ctx: &'a SyncContext,
    run: &'a SyncRun,
    hudu: &'a HuduObjects,
    options: &'a PsaOptions,
    writes: AtomicUsize,
    /// The records the destination refused since they were last noted on the run.
    refused: Mutex<Vec<ObjectKey>>,
    /// The companies (scopes) with a record the destination refused in this batch: their
    /// read cursor stays where it was, so the next sync reads those records again.
    refused_in: Mutex<HashSet<String>>,
    /// Where each of the PSA's companies is matched now.
    matches: HashMap<i64, (MatchState, Option<i64>)>,
    /// The batch's share of writes.
    max_writes: usize,
    /// Set when the batch stops early: no new write starts.
    stopped: AtomicBool,
    /// The batch's writes in flight ([`in_flight_for`] of them at once).
    window: Arc<InFlight>,
    /// One company write at a time per name: an interrupted create is recovered as the
    /// newest company of its name, so two of one name must never be pending at once.
    company_names: KeyedLocks<String>,
}

impl Writer<'_> {
    /// Whether no new write may start: the batch's share is written, or it stopped.
    fn should_stop(&self) -> bool {
        self.stopped.load(Ordering::SeqCst) || self.writes() >= self.max_writes
    }

    /// No new write starts from now on (the ones in flight finish).
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// The company's payload: stored already (whole or a part), or waited for while the
    /// collector reads it.
    async fn read_payload(&self, stored: &StoredPayload) -> anyhow::Result<Read> {
        match &stored.body {
            PayloadBody::Whole(body) => Ok(Read::Body {
                body: body.clone(),
                part: None,
            }),
            PayloadBody::Part { part, body } => Ok(Read::Body {
                body: body.clone(),
                part: Some(*part),
            }),
            PayloadBody::Unread => self.more_of(stored.seq, 0).await,
        }
    }

    /// The company's payload `seq` once it is whole or a part newer than `after_part` is
    /// stored (the run still publishing), waited for at most [`READ_WAIT`] before the batch
    /// ends there.
    async fn more_of(&self, seq: i32, after_part: i32) -> anyhow::Result<Read> {
        let waited = tokio::time::Instant::now();
        loop {
            match self
                .ctx
                .store
                .planned_payload(self.run.id, seq, after_part)
                .await?
            {
                PlannedPayloadState::Read(body) => return Ok(Read::Body { body, part: None }),
                PlannedPayloadState::Part { part, body } => {
                    return Ok(Read::Body {
                        body,
                        part: Some(part),
                    })
                }
                PlannedPayloadState::Dropped => return Ok(Read::Dropped),
                PlannedPayloadState::RunGone => return Ok(Read::NotYet),
                PlannedPayloadState::Unread if waited.elapsed() >= READ_WAIT => {
                    return Ok(Read::NotYet)
                }
                PlannedPayloadState::Unread => tokio::time::sleep(READ_POLL).await,
            }
        }
    }

    /// One company's records, as its payload is read: each part's records are written as it
    /// comes, then the whole read's ([`Writer::company_part`]); a first full read's adoption
    /// pass goes part by part over one listing of the company's Hudu assets.
    async fn company_records(
        &self,
        stored: &StoredPayload,
        body: Value,
        part: Option<i32>,
        adopted: bool,
        layouts: &HuduLayouts,
        fp: &str,
    ) -> anyhow::Result<Result<CompanyEnd, CallError>> {
        let (mut body, mut part) = (body, part);
        let mut first = true;
        // Hudu's assets of the company, listed once for the adoption passes of every part.
        let mut listing = None;
        loop {
            let payload: CompanyPayload = serde_json::from_value(body)?;
            if first && !self.still_matched(&payload).await? {
                return Ok(Ok(CompanyEnd::Done));
            }
            first = false;
            let written = CompanyRead {
                stored,
                payload: &payload,
                adopted,
                listing: &mut listing,
            };
            let Some(written_part) = part else {
                return self.company_part(written, false, layouts, fp).await;
            };
            match self.company_part(written, true, layouts, fp).await? {
                // The batch's share is written: the next batch takes the company up (and
                // adopts again unless no adoption pass is due), rather than this one waiting.
                Ok(CompanyEnd::Done) if self.should_stop() => {
                    return Ok(Ok(CompanyEnd::Cut {
                        adopted: !adoption_due(&payload, adopted),
                    }))
                }
                Ok(CompanyEnd::Done) => {}
                end => return Ok(end),
            }
            match self.more_of(stored.seq, written_part).await? {
                Read::Body {
                    body: more,
                    part: now,
                } => (body, part) = (more, now),
                Read::Dropped => return Ok(Ok(CompanyEnd::Done)),
                Read::NotYet => return Ok(Ok(CompanyEnd::Waiting { adopted })),
            }
        }
    }

    /// Whether the company read is still matched where it was when read; one matched
    /// elsewhere (or unmatched) since is said so on the run and left for the next sync.
    async fn still_matched(&self, payload: &CompanyPayload) -> anyhow::Result<bool> {
        let run = self.run;
        let still = match (
            self.matches.get(&payload.company.psa_id),
            payload.destination_company_id,
        ) {
            (Some((MatchState::Matched, now)), Some(read)) => *now == Some(read),
            (Some((MatchState::Create, _)), None) => true,
            // Created by an earlier delivery of this batch.
            (Some((MatchState::Matched, Some(now))), None) => {
                let scope = source_key(run.psa, payload.company.psa_id);
                let company_key = ObjectKey {
                    kind: COMPANY_KIND.into(),
                    source_key: scope.clone(),
                };
                self.ctx
                    .store
                    .objects_in_scope(run.account_id, DESTINATION, &scope)
                    .await?
                    .get(&company_key)
                    .is_some_and(|c| c.remote_id == now.to_string())
            }
            _ => false,
        };
        if !still {
            self.ctx
                .store
                .sync_event(
                    run.id,
                    &format!(
                        "{} {} was matched again since it was read: its records are written on the next sync",
                        run.psa, payload.company.psa_id
                    ),
                )
                .await?;
        }
        Ok(still)
    }

    /// What is read of one company (`part`: the first records of a read still under way):
    /// the company itself, the adoption of its existing assets on a first full read (unless
    /// `adopted` already), interrupted creates, every asset through the batch's window; then,
    /// once the read is whole, what the PSA no longer lists archived and the company marked
    /// synced.
    async fn company_part(
        &self,
        CompanyRead {
            stored,
            payload,
            adopted,
            listing,
        }: CompanyRead<'_>,
        part: bool,
        layouts: &HuduLayouts,
        fp: &str,
    ) -> anyhow::Result<Result<CompanyEnd, CallError>> {
        let (run, store, options) = (self.run, &self.ctx.store, self.options);
        // A first full read adopts the assets already there, part by part as they come
        // (records in read order, so each claims what it would have claimed in one pass).
        let adoption_due = adoption_due(payload, adopted);
        // Cut short: whether the next batch may leave the adoption pass out.
        let cut = CompanyEnd::Cut {
            adopted: !(adoption_due && part),
        };
        let plan = project_hudu(run.psa, payload, options, layouts);
        let mut known = store
            .objects_in_scope(run.account_id, DESTINATION, &plan.scope)
            .await?;
        // The company itself: created for `create`, its details kept current otherwise.
        let company_key = ObjectKey {
            kind: COMPANY_KIND.into(),
            source_key: plan.scope.clone(),
        };
        let company_id = match (&plan.company, payload.destination_company_id) {
            (Some(company), destination) => {
                let _name = self
                    .company_names
                    .lock(&company.title.trim().to_lowercase())
                    .await;
                match self
                    .company(company, destination, known.get(&company_key), &plan.scope)
                    .await
                {
                    Ok(id) => id,
                    Err(e) => return Ok(Err(e)),
                }
            }
            (None, Some(id)) => id,
            (None, None) => return Ok(Ok(CompanyEnd::Done)),
        };
        if payload.destination_company_id.is_none() {
            store
                .psa_company_created(run.account_id, run.psa, payload.company.psa_id, company_id)
                .await?;
        }
        if adoption_due {
            if let Err(e) = self
                .adopt(&plan.assets, &mut known, company_id, &plan.scope, listing)
                .await
            {
                return Ok(Err(e));
            }
        }
        // Interrupted creates first, one at a time: two records of one name must not both
        // recover the same asset.
        for object in &plan.assets {
            let key = ObjectKey {
                kind: object.kind.clone(),
                source_key: object.source_key.clone(),
            };
            let Some(pending) = known.get(&key).filter(|k| k.remote_id.is_empty()) else {
                continue;
            };
            if let Err(e) = self
                .asset(object, &key, Some(pending), company_id, &plan.scope)
                .await
            {
                return Ok(Err(e));
            }
        }
        let known = store
            .objects_in_scope(run.account_id, DESTINATION, &plan.scope)
            .await?;
        // Every asset through the batch's window (the key's pacer spaces the calls under its
        // budget); none starts once the batch's share is written.
        let (known, scope) = (&known, plan.scope.as_str());
        let mut writes = Vec::with_capacity(plan.assets.len());
        for object in &plan.assets {
            writes.push(async move {
                let _place = self
                    .window
                    .enter(|| in_flight_for(self.hudu.calls_in_flight_wanted()))
                    .await;
                if self.should_stop() {
                    return Ok(false);
                }
                let key = ObjectKey {
                    kind: object.kind.clone(),
                    source_key: object.source_key.clone(),
                };
                self.asset(object, &key, known.get(&key), company_id, scope)
                    .await
                    .map(|()| true)
            });
        }
        let written: Vec<Result<bool, CallError>> = futures::stream::iter(writes)
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;
        let mut all_written = true;
        for result in written {
            match result {
                Ok(true) => {}
                Ok(false) => all_written = false,
                Err(e) => return Ok(Err(e)),
            }
        }
        if !all_written {
            return Ok(Ok(cut));
        }
        if part {
            return Ok(Ok(CompanyEnd::Done));
        }
        // What the PSA no longer lists is archived.
        let mut seen: Vec<ObjectKey> = vec![company_key];
        for (kind, ids) in &payload.present {
            let listed: HashSet<String> = ids.iter().map(|id| source_key(run.psa, *id)).collect();
            for id in &listed {
                seen.push(ObjectKey {
                    kind: kind.as_str().into(),
                    source_key: id.clone(),
                });
            }
            if !options.auto_archive {
                continue;
            }
            for (key, object) in known {
                if key.kind != kind.as_str()
                    || listed.contains(&key.source_key)
                    || object.archived
                    || object.remote_id.is_empty()
                {
                    continue;
                }
                if self.should_stop() {
                    return Ok(Ok(CompanyEnd::Cut { adopted: true }));
                }
                if let Err(e) = self.archive_gone(key, object, company_id, scope).await {
                    return Ok(Err(e));
                }
            }
        }
        store
            .mark_objects_seen(run.account_id, DESTINATION, run.id, &seen)
            .await?;
        // A company with refused records keeps its cursor: unchanged in the PSA, they would
        // not be read (nor written) again otherwise.
        let refused = self
            .refused_in
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&plan.scope);
        if !refused {
            store
                .psa_company_synced(
                    run.account_id,
                    run.psa,
                    payload.company.psa_id,
                    stored.read_started_at,
                    fp,
                )
                .await?;
        }
        Ok(Ok(CompanyEnd::Done))
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// Notes the records the destination refused on the run (each once per run, however
    /// often its batch is delivered).
    async fn note_failures(&self) -> anyhow::Result<()> {
        let refused = std::mem::take(&mut *self.refused.lock().unwrap_or_else(|e| e.into_inner()));
        self.ctx
            .store
            .record_sync_failures(self.run.id, &refused)
            .await?;
        Ok(())
    }

    async fn record(
        &self,
        key: &ObjectKey,
        scope: &str,
        object: RemoteObject,
        action: ObjectAction,
    ) -> anyhow::Result<()> {
        docsync_domain::failpoint::crash_here("publisher-after-provider-write");
        self.ctx
            .store
            .record_object(
                self.run.account_id,
                DESTINATION,
                key,
                scope,
                &object,
                self.run.id,
                action,
            )
            .await?;
        Ok(())
    }

    /// The company: written when its fingerprint changed; returns its destination id.
    async fn company(
        &self,
        planned: &PlannedObject,
        destination: Option<i64>,
        known: Option<&RemoteObject>,
        scope: &str,
    ) -> Result<i64, CallError> {
        let key = ObjectKey {
            kind: COMPANY_KIND.into(),
            source_key: scope.into(),
        };
        let recorded = known
            .filter(|k| !k.remote_id.is_empty())
            .and_then(|k| k.remote_id.parse::<i64>().ok());
        if let (Some(id), Some(k)) = (destination.or(recorded), known) {
            if k.remote_id == id.to_string()
                && k.fingerprint.as_deref() == Some(planned.fingerprint.as_str())
                && k.archived == planned.archived
            {
                return Ok(id);
            }
        }
        let mut fields = planned.body.clone();
        fields["name"] = json!(planned.title);
        let id = destination.or(recorded);
        let mut action = ObjectAction::Updated;
        if let Some(existing) = id {
            if known.is_some_and(|k| k.archived) && !planned.archived {
                self.hudu.set_company_archived(existing, false).await?;
                self.wrote();
                action = ObjectAction::Unarchived;
            }
        }
        let write = CompanyWrite {
            record: Record::new(self, &key, scope, &planned.title, known),
            fields: &fields,
        };
        let written = self.in_place(&write, id, write.record.recover()).await?;
        if written.via != Via::Recorded {
            action = ObjectAction::Created;
        }
        let id = written.remote_id;
        if planned.archived && !known.is_some_and(|k| k.archived && k.remote_id == id.to_string()) {
            self.hudu.set_company_archived(id, true).await?;
            self.wrote();
            if action != ObjectAction::Created {
                action = ObjectAction::Archived;
            }
        }
        let object = RemoteObject {
            remote_id: id.to_string(),
            parent_id: None,
            title: planned.title.clone(),
            fingerprint: Some(planned.fingerprint.clone()),
            archived: planned.archived,
            recorded_at: None,
        };
        self.record(&key, scope, object, action)
            .await
            .map_err(store_fault)?;
        Ok(id)
    }

    /// The remote ids the map holds in this company's scope.
    async fn held_in_scope(&self, scope: &str) -> Result<HashSet<String>, CallError> {
        Ok(self
            .ctx
            .store
            .objects_in_scope(self.run.account_id, DESTINATION, scope)
            .await
            .map_err(|e| store_fault(e.into()))?
            .into_values()
            .map(|o| o.remote_id)
            .filter(|id| !id.is_empty())
            .collect())
    }

    /// One object through the one write-in-place loop: over `recorded`, else (`recover`: the
    /// planned name of an interrupted create) the object that create made, else a new one; the
    /// loop's writes counted in the batch's share.
    async fn in_place<D: InPlace>(
        &self,
        write: &D,
        recorded: Option<D::Id>,
        recover: Option<&str>,
    ) -> Result<Written<D::Id>, CallError> {
        let titles: Vec<&str> = recover.into_iter().collect();
        let mut writes = 0;
        let written = in_place::write_in_place(write, recorded, &titles, &mut writes).await;
        self.writes.fetch_add(writes as usize, Ordering::Relaxed);
        written
    }

    async fn pending(&self, key: &ObjectKey, scope: &str, title: &str) -> Result<(), CallError> {
        self.ctx
            .store
            .record_pending_object(self.run.account_id, DESTINATION, key, scope, title)
            .await
            .map_err(|e| store_fault(e.into()))
    }

    /// The destination refused the create of `key` (a 4xx, not a passing fault): its pending
    /// create leaves the map, so the next attempt creates it instead of looking for it.
    async fn forget_pending(&self, key: &ObjectKey) -> Result<(), CallError> {
        self.ctx
            .store
            .forget_pending_object(self.run.account_id, DESTINATION, key)
            .await
            .map_err(|e| store_fault(e.into()))
    }

    /// Matches the company's existing assets (`listing`, listed here unless it was already)
    /// to planned ones that the map does not know (by layout and exact name; by serial first
    /// with `matchOnSerial`), recording them without a fingerprint so the next step writes
    /// them in place.
    async fn adopt(
        &self,
        planned: &[PlannedObject],
        known: &mut HashMap<ObjectKey, RemoteObject>,
        company_id: i64,
        scope: &str,
        listing: &mut Option<Vec<HuduAssetRef>>,
    ) -> Result<(), CallError> {
        let unknown: Vec<&PlannedObject> = planned
            .iter()
            .filter(|p| {
                !known.contains_key(&ObjectKey {
                    kind: p.kind.clone(),
                    source_key: p.source_key.clone(),
                })
            })
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let existing = match listing {
            Some(listed) => listed,
            None => listing.insert(self.hudu.company_assets(company_id).await?),
        };
        let claimed: HashSet<String> = known.values().map(|k| k.remote_id.clone()).collect();
        let mut taken: HashSet<i64> = HashSet::new();
        for p in unknown {
            let free = |a: &&HuduAssetRef| {
                a.asset_layout_id == p.layout_id
                    && !taken.contains(&a.id)
                    && !claimed.contains(&a.id.to_string())
            };
            let by_serial = if self.options.match_on_serial {
                p.serial.as_deref().and_then(|s| {
                    existing
                        .iter()
                        .filter(free)
                        .find(|a| a.primary_serial.as_deref() == Some(s))
                })
            } else {
                None
            };
            let found =
                by_serial.or_else(|| existing.iter().filter(free).find(|a| a.name == p.title));
            if let Some(asset) = found {
                taken.insert(asset.id);
                let key = ObjectKey {
                    kind: p.kind.clone(),
                    source_key: p.source_key.clone(),
                };
                let object = RemoteObject {
                    remote_id: asset.id.to_string(),
                    parent_id: Some(company_id),
                    title: asset.name.clone(),
                    fingerprint: None,
                    archived: asset.archived,
                    recorded_at: None,
                };
                self.ctx
                    .store
                    .record_object(
                        self.run.account_id,
                        DESTINATION,
                        &key,
                        scope,
                        &object,
                        self.run.id,
                        ObjectAction::Updated,
                    )
                    .await
                    .map_err(|e| store_fault(e.into()))?;
                known.insert(key, object);
            }
        }
        Ok(())
    }

    /// One asset written in place when it changed.
    async fn asset(
        &self,
        planned: &PlannedObject,
        key: &ObjectKey,
        known: Option<&RemoteObject>,
        company_id: i64,
        scope: &str,
    ) -> Result<(), CallError> {
        if let Some(k) = known {
            if !k.remote_id.is_empty()
                && k.fingerprint.as_deref() == Some(planned.fingerprint.as_str())
                && k.archived == planned.archived
                && k.parent_id == Some(company_id)
            {
                return Ok(());
            }
        }
        let keep_name =
            !self.options.auto_update_names && known.is_some_and(|k| !k.remote_id.is_empty());
        let title = if keep_name {
            known.map(|k| k.title.clone()).unwrap_or_default()
        } else {
            planned.title.clone()
        };
        let mut body = planned.body.clone();
        body["name"] = Value::String(title.clone());
        let was_archived = known.is_some_and(|k| k.archived);
        let mut recorded = known
            .filter(|k| !k.remote_id.is_empty() && k.parent_id == Some(company_id))
            .and_then(|k| k.remote_id.parse::<i64>().ok())
            .map(|id| AssetAt {
                id,
                archived: was_archived,
            });
        let mut action = ObjectAction::Updated;
        if let Some(existing) = &mut recorded {
            if was_archived && !planned.archived {
                self.write(
                    self.hudu
                        .set_asset_archived(company_id, existing.id, false)
                        .await,
                )?;
                // Unarchived now: the update in place below needs no second unarchive.
                existing.archived = false;
                action = ObjectAction::Unarchived;
            }
        }
        let write = AssetWrite {
            record: Record::new(self, key, scope, &planned.title, known),
            body: &body,
            company_id,
            layout_id: planned.layout_id,
        };
        let recover = write.record.recover();
        let written = match self.in_place(&write, recorded, recover).await {
            Ok(written) => written,
            Err(CallError::Rejected(reason)) => return self.rejected(key, scope, &reason).await,
            Err(e) => return Err(e),
        };
        if written.via != Via::Recorded {
            action = ObjectAction::Created;
        }
        let AssetAt {
            id,
            archived: archived_now,
        } = written.remote_id;
        if planned.archived != archived_now {
            self.write(
                self.hudu
                    .set_asset_archived(company_id, id, planned.archived)
                    .await,
            )?;
            if action != ObjectAction::Created {
                action = if planned.archived {
                    ObjectAction::Archived
                } else {
                    ObjectAction::Unarchived
                };
            }
        }
        let object = RemoteObject {
            remote_id: id.to_string(),
            parent_id: Some(company_id),
            title,
            fingerprint: Some(planned.fingerprint.clone()),
            archived: planned.archived,
            recorded_at: None,
        };
        self.record(key, scope, object, action)
            .await
            .map_err(store_fault)
    }

    /// Archives the objects left in the destination companies of `psa`'s companies that were
    /// matched elsewhere or unmatched, while the batch has writes left: true when none is
    /// left to archive.
    async fn archive_left(&self) -> Result<bool, CallError> {
        let store = &self.ctx.store;
        loop {
            let left = store
                .left_objects(
                    self.run.account_id,
                    DESTINATION,
                    self.run.psa,
                    MIN_IN_FLIGHT as i64,
                )
                .await
                .map_err(|e| store_fault(e.into()))?;
            if left.is_empty() {
                return Ok(true);
            }
            for object in &left {
                if self.should_stop() {
                    return Ok(false);
                }
                // An asset deleted by hand since (a 404) has nothing left to archive.
                if let Ok(id) = object.remote_id.parse::<i64>() {
                    self.write(
                        self.hudu
                            .set_asset_archived(object.parent_id, id, true)
                            .await,
                    )?;
                }
                store
                    .left_object_archived(
                        self.run.account_id,
                        DESTINATION,
                        &object.remote_id,
                        self.run.id,
                    )
                    .await
                    .map_err(|e| store_fault(e.into()))?;
            }
        }
    }

    /// An object whose record the PSA no longer lists: archived.
    async fn archive_gone(
        &self,
        key: &ObjectKey,
        known: &RemoteObject,
        company_id: i64,
        scope: &str,
    ) -> Result<(), CallError> {
        let Ok(id) = known.remote_id.parse::<i64>() else {
            return Ok(());
        };
        let parent = known.parent_id.unwrap_or(company_id);
        self.write(self.hudu.set_asset_archived(parent, id, true).await)?;
        let object = RemoteObject {
            archived: true,
            ..known.clone()
        };
        self.record(key, scope, object, ObjectAction::Archived)
            .await
            .map_err(store_fault)
    }

    fn write(&self, result: Result<Option<()>, CallError>) -> Result<(), CallError> {
        match result {
            Ok(_) => {
                self.wrote();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn rejected(&self, key: &ObjectKey, scope: &str, reason: &str) -> Result<(), CallError> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key.clone());
        self.refused_in
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.to_owned());
        let _ = self
            .ctx
            .store
            .sync_event(
                self.run.id,
                &format!("{} {} not written: {reason}", key.kind, key.source_key),
            )
            .await;
        Ok(())
    }
}

/// A record written through the write-in-place loop: where its create is noted as pending,
/// and when an interrupted create of it was noted (to be recovered), if one was.
struct Record<'a> {
    writer: &'a Writer<'a>,
    key: &'a ObjectKey,
    scope: &'a str,
    /// The planned name, noted with a pending create and looked up to recover one.
    title: &'a str,
    noted: Option<DateTime<Utc>>,
}

impl<'a> Record<'a> {
    fn new(
        writer: &'a Writer<'a>,
        key: &'a ObjectKey,
        scope: &'a str,
        title: &'a str,
        known: Option<&RemoteObject>,
    ) -> Self {
        let noted = known
            .filter(|k| k.remote_id.is_empty())
            .and_then(|k| k.recorded_at);
        Self {
            writer,
            key,
            scope,
            title,
            noted,
        }
    }

    /// The name to look an interrupted create up by: none without one, so a namesake is never
    /// adopted (the first sync's adoption is its own pass).
    fn recover(&self) -> Option<&'a str> {
        self.noted.map(|_| self.title)
    }

    /// Whether an object Hudu made at `created_at` may be the interrupted create: made since
    /// it was noted (give or take Hudu's clock), never one that was there before.
    fn made_since_noted(&self, created_at: Option<DateTime<Utc>>) -> bool {
        self.noted
            .zip(created_at)
            .is_some_and(|(noted, t)| t >= noted - RECOVERY_SKEW)
    }

    /// `create` (a call not begun until awaited) noted as pending first; a refusal (Hudu
    /// made nothing) forgets it, so the next attempt creates the object instead of looking
    /// for it.
    async fn create<T>(
        &self,
        create: impl std::future::Future<Output = Result<T, CallError>>,
        writes: &mut u32,
    ) -> Result<T, CallError> {
        self.writer
            .pending(self.key, self.scope, self.title)
            .await?;
        let created = create.await;
        match &created {
            Ok(_) => *writes += 1,
            Err(e) if !e.is_transient() => self.writer.forget_pending(self.key).await?,
            Err(_) => {}
        }
        created
    }
}

/// A company's calls for the write-in-place loop, counting its writes.
struct CompanyWrite<'a> {
    record: Record<'a>,
    fields: &'a Value,
}

impl InPlace for CompanyWrite<'_> {
    type Id = i64;

    async fn update(&self, id: &i64, writes: &mut u32) -> Result<Option<i64>, CallError> {
        let hudu = self.record.writer.hudu;
        let updated = hudu.update_company(*id, self.fields).await?;
        *writes += u32::from(updated.is_some());
        Ok(updated.map(|()| *id))
    }

    /// An interrupted create: the newest company of the exact name Hudu made since.
    async fn find(&self, title: &str, _writes: &mut u32) -> Result<Option<i64>, CallError> {
        let companies = self.record.writer.hudu.companies().await?;
        Ok(companies
            .into_iter()
            .filter(|c| c.name == title && self.record.made_since_noted(c.created_at))
            .map(|c| c.id)
            .max())
    }

    async fn create(&self, writes: &mut u32) -> Result<i64, CallError> {
        let hudu = self.record.writer.hudu;
        self.record
            .create(hudu.create_company(self.fields), writes)
            .await
    }
}

/// An asset as the write-in-place loop reached it: its id, and whether it is in the archive.
#[derive(Debug, Clone, Copy)]
struct AssetAt {
    id: i64,
    archived: bool,
}

/// An asset's calls for the write-in-place loop, counting its writes.
struct AssetWrite<'a> {
    record: Record<'a>,
    body: &'a Value,
    company_id: i64,
    layout_id: Option<i64>,
}

impl InPlace for AssetWrite<'_> {
    type Id = AssetAt;

    async fn update(&self, at: &AssetAt, writes: &mut u32) -> Result<Option<AssetAt>, CallError> {
        let hudu = self.record.writer.hudu;
        let updated = hudu.update_asset(self.company_id, at.id, self.body).await?;
        *writes += u32::from(updated.is_some());
        Ok(updated.map(|()| *at))
    }

    /// An interrupted create: the newest asset of the layout and exact name Hudu made since
    /// that no other record holds.
    async fn find(&self, title: &str, _writes: &mut u32) -> Result<Option<AssetAt>, CallError> {
        let filters = [
            (
                "asset_layout_id",
                self.layout_id.unwrap_or_default().to_string(),
            ),
            ("name", title.to_owned()),
        ];
        let writer = self.record.writer;
        let held = writer.held_in_scope(self.record.scope).await?;
        let assets = writer.hudu.find_assets(self.company_id, &filters).await?;
        Ok(assets
            .into_iter()
            .filter(|a| !held.contains(&a.id.to_string()))
            .filter(|a| self.record.made_since_noted(a.created_at))
            .max_by_key(|a| a.id)
            .map(|a| AssetAt {
                id: a.id,
                archived: a.archived,
            }))
    }

    async fn create(&self, writes: &mut u32) -> Result<AssetAt, CallError> {
        let hudu = self.record.writer.hudu;
        let id = self
            .record
            .create(hudu.create_asset(self.company_id, self.body), writes)
            .await?;
        Ok(AssetAt {
            id,
            archived: false,
        })
    }
}

fn store_fault(e: anyhow::Error) -> CallError {
    CallError::Transient(format!("the database failed while recording a write: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use docsync_domain::RateLimit;
    use std::time::Duration;

    #[test]
    fn the_window_follows_the_budget_times_the_latency_within_bounds() {
        assert_eq!(in_flight_for(None), MIN_IN_FLIGHT, "Hudu not answered yet");
        assert_eq!(in_flight_for(Some(0)), MIN_IN_FLIGHT);
        // 50 per second at a p95 of 0.9 s: 45 under way, + 8 for the database work.
        assert_eq!(in_flight_for(Some(45)), 53);
        assert_eq!(
            in_flight_for(Some(500)),
            MAX_IN_FLIGHT,
            "never above the maximum"
        );
    }

    #[test]
    fn a_batch_is_two_minutes_of_the_budget_and_never_tiny() {
        let share = BatchShare {
            min_writes: 200,
            time: Duration::from_secs(120),
        };
        let limit = |requests, per_seconds| RateLimit {
            requests,
            per_seconds,
        };
        assert_eq!(share.writes(limit(300, 60)), 600);
        assert_eq!(share.writes(limit(3000, 60)), 6000);
        assert_eq!(share.writes(limit(1, 60)), 200, "at least the minimum");
    }
}
