//! The collect step of a sync run, in two parts: [`plan`] reads the company list (recorded
//! with match states and the destination company each could be matched to) and plans one
//! payload per company to sync; [`read`] then reads each company's records into its payload.
//! Between the two the run goes to the publishers, who write each company as soon as its
//! payload is read (a long read's first records as soon as a part of it is stored), so
//! collection and publication overlap.
//!
//! Invariant: a planned payload holds at most parts of its company's read (records read so
//! far, in read order) until the company is read whole, and then the whole read; a run's plan
//! is replaced only by a new collect attempt; a collector that takes over a run half-read
//! reads again only what is not read whole ([`unread`]).

use super::{Step, SyncContext};
use crate::payload::{CompanyFacts, CompanyPayload, COMPANY_PAYLOAD};
use crate::projection::source_key;
use crate::source::{PsaSource, ReadSoFar};
use crate::spec::source;
use docsync_domain::psa::PsaOptions;
use docsync_store::{
    ListedCompany, MatchState, PlannedPayload, PsaCompany, PsaIntegration, StoredPayload,
    SyncCounts, SyncRun,
};
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Companies whose records are read at once: at a few hundred milliseconds an answer, enough
/// to keep a PSA budget of 10 a second busy (its pacer spaces the requests).
const READS_IN_FLIGHT: usize = 8;
/// Records a company's whole read has at least before what is read so far is stored as a
/// part (the publishers write a part's records while the rest are read).
const PART_MIN_RECORDS: usize = 500;
/// Records changed this close before a read began are read again next time (the PSA's
/// clock and ours may disagree a little).
const CURSOR_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The options that shape what is read and written: a change means a full read.
pub(crate) fn options_fingerprint(options: &PsaOptions) -> String {
    let shaping = serde_json::json!({
        "layouts": options.layouts,
        "sortRules": options.sort_rules,
        "skip": options.skip,
        "autoUpdateNames": options.auto_update_names,
        "autoArchive": options.auto_archive,
        "updateCompanyDetails": options.update_company_details,
    });
    crate::projection::fingerprint(None, &shaping, false, None)
}

/// What the first step of a collect came to.
pub enum Planned {
    /// The companies to read are planned as payloads: hand the run to the publishers, then
    /// [`read`] them.
    Read(Box<ReadPlan>),
    /// Nothing to read: the run's end (or a fault).
    Done(Step),
}

/// The companies of a run still to read, each with the payload row it fills.
pub struct ReadPlan {
    source: Box<dyn PsaSource>,
    options: PsaOptions,
    reads: Vec<PlannedRead>,
    /// What the run's events should say of the plan.
    pub detail: String,
}

/// One company to read into its planned payload.
struct PlannedRead {
    seq: i32,
    facts: CompanyFacts,
    destination: Option<i64>,
    since: Option<chrono::DateTime<chrono::Utc>>,
}

/// The stored integration and its source, or the step that ends the run without them.
fn integration_source(
    ctx: &SyncContext,
    run: &SyncRun,
    integration: Option<PsaIntegration>,
) -> Result<(PsaIntegration, Box<dyn PsaSource>), Step> {
    let Some(integration) = integration else {
        return Err(Step::Failed(format!(
            "the {} integration is not configured: PUT /integrations/{}",
            run.psa, run.psa
        )));
    };
    let source = source(ctx, &integration, Some(run.id)).map_err(Step::Failed)?;
    Ok((integration, source))
}

/// Reads the company list (recording it with match states and suggestions) and plans one
/// payload per matched company to read, in the list's order.
pub async fn plan(ctx: &SyncContext, run: &SyncRun) -> anyhow::Result<Planned> {
    let store = &ctx.store;
    let integration = store.psa_integration(run.account_id, run.psa).await?;
    let (integration, source) = match integration_source(ctx, run, integration) {
        Ok(found) => found,
        Err(step) => return Ok(Planned::Done(step)),
    };
    let hudu = match ctx.destinations.hudu_objects(run.account_id).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Planned::Done(Step::Failed(reason))),
    };
    let options = &integration.options;
    let read_started = chrono::Utc::now();
    // The PSA's companies and the destination's at once (two providers, two budgets).
    let (companies, destination_companies) =
        futures::future::join(source.companies(), hudu.companies()).await;
    let companies = match companies {
        Ok(c) => c,
        Err(e) => return Ok(Planned::Done(e.into())),
    };
    let destination_companies = match destination_companies {
        Ok(c) => c,
        Err(e) => return Ok(Planned::Done(e.into())),
    };
    let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
    for c in &destination_companies {
        by_name
            .entry(c.name.trim().to_lowercase())
            .or_default()
            .push(c.id);
    }
    let listed: Vec<ListedCompany> = companies
        .iter()
        .map(|c| ListedCompany {
            psa_id: c.psa_id,
            name: c.name.clone(),
            active: c.active,
            deleted: c.deleted,
            company_type: c.company_type.clone(),
            suggested_company_id: by_name
                .get(&c.name.trim().to_lowercase())
                .filter(|ids| ids.len() == 1)
                .map(|ids| ids[0]),
        })
        .collect();
    let stored = store
        .record_psa_companies(run.account_id, run.psa, &listed)
        .await?;
    let facts: HashMap<i64, &CompanyFacts> = companies.iter().map(|c| (c.psa_id, c)).collect();
    let fp = options_fingerprint(options);
    let skip_types: Vec<String> = options
        .skip
        .company_types
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    // What to read: each company to sync, with where its last read left off.
    let mut reads = Vec::new();
    let mut skipped = 0;
    for company in &stored {
        if !matches!(company.state, MatchState::Matched | MatchState::Create) {
            continue;
        }
        let Some(facts) = facts.get(&company.psa_id) else {
            continue;
        };
        let typed_out = facts
            .company_type
            .as_deref()
            .is_some_and(|t| skip_types.contains(&t.trim().to_lowercase()));
        if (options.skip.inactive_companies && !facts.active) || typed_out {
            skipped += 1;
            continue;
        }
        reads.push(PlannedRead::of(reads.len() as i32, facts, company, &fp));
    }
    let planned: Vec<PlannedPayload> = reads
        .iter()
        .map(|r| PlannedPayload {
            kind: COMPANY_PAYLOAD.into(),
            source_key: source_key(run.psa, r.facts.psa_id),
            seq: r.seq,
            read_started_at: read_started - CURSOR_MARGIN,
        })
        .collect();
    store
        .plan_payloads(run.account_id, run.id, &planned)
        .await?;
    let detail = format!(
        "listed {} companies ({} to sync) with {} {} requests",
        stored.len(),
        reads.len(),
        source.requests(),
        run.psa
    );
    // Objects left in the old company of a company matched elsewhere or unmatched are
    // archived by the publishers even when nothing else is to be written.
    let left = store
        .left_objects(run.account_id, super::publish::DESTINATION, run.psa, 1)
        .await?;
    if reads.is_empty() && left.is_empty() {
        let counts = SyncCounts {
            skipped,
            ..SyncCounts::default()
        };
        return Ok(Planned::Done(Step::Finished(
            counts,
            format!("{detail}; no company is matched: match them with PUT /integrations/{}/companies and sync again", run.psa),
        )));
    }
    Ok(Planned::Read(Box::new(ReadPlan {
        source,
        options: integration.options.clone(),
        reads,
        detail,
    })))
}

impl PlannedRead {
    /// The read of `company` into payload `seq`: into its matched destination company (none
    /// for one to create), from where its last read left off (none, a full read, when it was
    /// never synced or the options `fp` that shape what is read changed since).
    fn of(seq: i32, facts: &CompanyFacts, company: &PsaCompany, fp: &str) -> Self {
        Self {
            seq,
            facts: facts.clone(),
            destination: match company.state {
                MatchState::Matched => company.destination_company_id,
                _ => None,
            },
            since: company
                .synced_through
                .filter(|_| company.synced_options.as_deref() == Some(fp)),
        }
    }
}

/// The planned payloads of a run that are not read yet (a collector took over a run whose
/// reading was cut short): the company list is read again for their facts; a company gone
/// from the PSA since is dropped from the plan. `None` when every payload is read.
pub async fn unread(ctx: &SyncContext, run: &SyncRun) -> anyhow::Result<Option<Planned>> {
    let store = &ctx.store;
    let unread: Vec<StoredPayload> = store
        .payloads(run.id, COMPANY_PAYLOAD)
        .await?
        .into_iter()
        .filter(|p| !p.body.is_whole())
        .collect();
    if unread.is_empty() {
        return Ok(None);
    }
    let integration = store.psa_integration(run.account_id, run.psa).await?;
    let (integration, source) = match integration_source(ctx, run, integration) {
        Ok(found) => found,
        Err(step) => return Ok(Some(Planned::Done(step))),
    };
    let companies = match source.companies().await {
        Ok(c) => c,
        Err(e) => return Ok(Some(Planned::Done(e.into()))),
    };
    let states: HashMap<i64, PsaCompany> = store
        .psa_companies(run.account_id, run.psa)
        .await?
        .into_iter()
        .map(|c| (c.psa_id, c))
        .collect();
    let fp = options_fingerprint(&integration.options);
    let mut reads = Vec::new();
    for payload in unread {
        let found = companies
            .iter()
            .find(|c| source_key(run.psa, c.psa_id) == payload.source_key);
        let (Some(facts), Some(company)) = (found, found.and_then(|c| states.get(&c.psa_id)))
        else {
            store.drop_payload(run.id, payload.seq).await?;
            continue;
        };
        reads.push(PlannedRead::of(payload.seq, facts, company, &fp));
    }
    let detail = format!("{} companies left to read", reads.len());
    Ok(Some(Planned::Read(Box::new(ReadPlan {
        source,
        options: integration.options,
        reads,
        detail,
    }))))
}

/// Reads the planned companies' records, a few at once (the PSA key's pacer still spaces
/// the requests), storing each payload as soon as it is read: the publishers write the first
/// companies while the rest are read.
pub async fn read(ctx: &SyncContext, run: &SyncRun, plan: Box<ReadPlan>) -> anyhow::Result<Step> {
    let store = &ctx.store;
    let ReadPlan {
        source,
        options,
        reads,
        ..
    } = *plan;
    let (source, options) = (&*source, &options);
    let mut pending = Vec::with_capacity(reads.len());
    for read in &reads {
        pending.push(async move {
            let parts = StoredParts {
                store,
                run: run.id,
                seq: read.seq,
                stored: AtomicUsize::new(0),
            };
            let payload = source
                .company_payload(&read.facts, read.destination, read.since, options, &parts)
                .await;
            let payload = match payload {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            store
                .fill_payload(run.id, read.seq, &serde_json::to_value(&payload)?)
                .await?;
            anyhow::Ok(Ok(()))
        });
    }
    let mut stream = futures::stream::iter(pending).buffer_unordered(READS_IN_FLIGHT);
    let mut stored = 0;
    while let Some(done) = stream.next().await {
        if let Err(e) = done? {
            return Ok(e.into());
        }
        stored += 1;
        if stored == 3 {
            docsync_domain::failpoint::crash_here("collector-mid-reads");
        }
    }
    Ok(Step::Publish {
        companies: reads.len(),
        detail: format!(
            "read {} companies with {} {} requests",
            reads.len(),
            source.requests(),
            run.psa
        ),
    })
}

/// Stores what a company's whole read has read so far as the next part of its planned
/// payload, once it holds [`PART_MIN_RECORDS`] and then each time it doubled: the parts of
/// a read cost at most about twice its records in stored bodies, and a company of a few
/// pages is written from its first page on.
struct StoredParts<'a> {
    store: &'a docsync_store::Store,
    run: docsync_domain::RunId,
    seq: i32,
    /// Records in the last part stored.
    stored: AtomicUsize,
}

impl ReadSoFar for StoredParts<'_> {
    fn read_so_far<'a>(&'a self, payload: &'a CompanyPayload) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let records = payload.records.len();
            let last = self.stored.load(Ordering::Relaxed);
            if records < PART_MIN_RECORDS.max(2 * last) {
                return;
            }
            self.stored.store(records, Ordering::Relaxed);
            // A part only lets the writes start early; the whole read is stored after it, so
            // a part that cannot be stored is left out.
            let stored = match serde_json::to_value(payload) {
                Ok(body) => self
                    .store
                    .fill_payload_part(self.run, self.seq, &body)
                    .await
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = stored {
                tracing::warn!(run = %self.run, seq = self.seq, error = %e, "a part of a company's read was not stored; the whole read follows");
            }
        })
    }
}
