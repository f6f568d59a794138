//! The collect step of a sync run: the company list (recorded with match states and the
//! destination company each could be matched to), then every matched company's records.

use super::{Step, SyncContext};
use crate::payload::COMPANY_PAYLOAD;
use crate::projection::source_key;
use crate::spec::source;
use docsync_domain::psa::PsaOptions;
use docsync_store::{ListedCompany, MatchState, StoredPayload, SyncCounts, SyncRun};
use futures::StreamExt;
use std::collections::HashMap;

/// Companies whose records are read at once: at a few hundred milliseconds an answer, enough
/// to keep a PSA budget of 10 a second busy (its pacer spaces the requests).
const READS_IN_FLIGHT: usize = 8;
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

/// Reads the company list and the matched companies' records into payloads.
pub async fn collect(ctx: &SyncContext, run: &SyncRun) -> anyhow::Result<Step> {
    let store = &ctx.store;
    let Some(integration) = store.psa_integration(run.account_id, run.psa).await? else {
        return Ok(Step::Failed(format!(
            "the {} integration is not configured: PUT /integrations/{}",
            run.psa, run.psa
        )));
    };
    let source = match source(ctx, &integration, Some(run.id)) {
        Ok(s) => s,
        Err(reason) => return Ok(Step::Failed(reason)),
    };
    let hudu = match ctx.destinations.hudu_objects(run.account_id).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Step::Failed(reason)),
    };
    let options = &integration.options;
    let read_started = chrono::Utc::now();
    // The PSA's companies and the destination's at once (two providers, two budgets).
    let (companies, destination_companies) =
        futures::future::join(source.companies(), hudu.companies()).await;
    let companies = match companies {
        Ok(c) => c,
        Err(e) => return Ok(e.into()),
    };
    let destination_companies = match destination_companies {
        Ok(c) => c,
        Err(e) => return Ok(e.into()),
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
    let facts: HashMap<i64, _> = companies.iter().map(|c| (c.psa_id, c)).collect();
    let fp = options_fingerprint(options);
    let skip_types: Vec<String> = options
        .skip
        .company_types
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    // What to read: each company to sync, with where its last read left off.
    let mut wanted = Vec::new();
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
        let since = company
            .synced_through
            .filter(|_| company.synced_options.as_deref() == Some(fp.as_str()));
        let destination = match company.state {
            MatchState::Matched => company.destination_company_id,
            _ => None,
        };
        wanted.push((company.psa_id, *facts, destination, since));
    }
    // A few companies read at once, each starting as another ends (the PSA key's pacer still
    // spaces the requests); stored in the company list's order.
    let source = &*source;
    let mut reads = Vec::with_capacity(wanted.len());
    for (n, (_, facts, destination, since)) in wanted.iter().enumerate() {
        reads.push(async move {
            let read = source.company_payload(facts, *destination, *since, options);
            (n, read.await)
        });
    }
    let reads = futures::stream::iter(reads)
        .buffer_unordered(READS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let mut read: Vec<Option<_>> = (0..wanted.len()).map(|_| None).collect();
    for (n, payload) in reads {
        match payload {
            Ok(p) => read[n] = Some(p),
            Err(e) => return Ok(e.into()),
        }
    }
    let mut payloads = Vec::with_capacity(wanted.len());
    for ((psa_id, ..), payload) in wanted.iter().zip(read.into_iter().flatten()) {
        payloads.push(StoredPayload {
            kind: COMPANY_PAYLOAD.into(),
            source_key: source_key(run.psa, *psa_id),
            seq: payloads.len() as i32,
            read_started_at: read_started - CURSOR_MARGIN,
            body: serde_json::to_value(&payload)?,
        });
    }
    store
        .store_payloads(run.account_id, run.id, &payloads)
        .await?;
    let detail = format!(
        "read {} companies ({} to sync) with {} {} requests",
        stored.len(),
        payloads.len(),
        source.requests(),
        run.psa
    );
    // Objects left in the old company of a company matched elsewhere or unmatched are
    // archived by the publishers even when nothing else is to be written.
    let left = store
        .left_objects(run.account_id, super::publish::DESTINATION, run.psa, 1)
        .await?;
    if payloads.is_empty() && left.is_empty() {
        let counts = SyncCounts {
            skipped,
            ..SyncCounts::default()
        };
        return Ok(Step::Finished(
            counts,
            format!("{detail}; no company is matched: match them with PUT /integrations/{}/companies and sync again", run.psa),
        ));
    }
    Ok(Step::Publish {
        companies: payloads.len(),
        detail,
    })
}
