//! Baseline checks and framework scores, computed by docsync from the collected facts.
//!
//! Every check (`DS-01` ...) reads one or two snapshot sections and passes, fails, is unknown
//! when a section it needs was not collected, or is not applicable when the tenant lacks what
//! it is about (never a pass); each result keeps the facts behind it and their endpoints. Each
//! check is mapped to the Essential Eight mitigation strategies, APRA CPS 234 paragraphs and
//! CIS Microsoft 365 Foundations Benchmark v3 recommendations it evidences; a framework's score
//! counts each of its controls once (a control fails when any check mapped to it fails) and is
//! passes / (passes + fails). `docs/compliance-mapping.md` is the human-readable table.

mod catalog;
mod checks;
mod scores;

pub use catalog::{baseline_catalog, control_title, framework_controls, BaselineCheck};
pub use scores::{score_frameworks, FRAMEWORK_APRA, FRAMEWORK_CIS, FRAMEWORK_E8};

use docsync_domain::snapshot::{
    BaselineResult, CheckOutcome, ComplianceScores, ConditionalAccessSummary, CopilotSummary,
    DefenderSurface, ExchangePosture, MfaAdoption, Section, StandardsStatus, TenantMetadata,
};
use docsync_domain::Snapshot;

/// The collected sections the checks read.
#[derive(Debug, Clone, Copy)]
pub struct PostureFacts<'a> {
    /// Organisation, domains, licences, user count.
    pub metadata: &'a Section<TenantMetadata>,
    /// MFA registration.
    pub mfa: &'a Section<MfaAdoption>,
    /// Conditional Access.
    pub conditional_access: &'a Section<ConditionalAccessSummary>,
    /// Defender.
    pub defender: &'a Section<DefenderSurface>,
    /// Exchange Online.
    pub exchange: &'a Section<ExchangePosture>,
    /// Copilot.
    pub copilot: &'a Section<CopilotSummary>,
}

impl<'a> PostureFacts<'a> {
    /// The facts of a snapshot (to re-evaluate a stored snapshot).
    pub fn of(snapshot: &'a Snapshot) -> Self {
        Self {
            metadata: &snapshot.metadata,
            mfa: &snapshot.mfa,
            conditional_access: &snapshot.conditional_access,
            defender: &snapshot.defender,
            exchange: &snapshot.exchange,
            copilot: &snapshot.copilot,
        }
    }
}

/// Evaluates every baseline check on the facts and scores each framework.
pub fn evaluate(facts: &PostureFacts<'_>) -> (StandardsStatus, ComplianceScores) {
    let baselines: Vec<BaselineResult> = catalog::entries()
        .iter()
        .map(|entry| {
            let verdict = (entry.evaluate)(facts);
            let check = &entry.check;
            BaselineResult {
                id: check.id.to_owned(),
                title: check.title.to_owned(),
                outcome: verdict.outcome,
                detail: verdict.detail,
                evidence: verdict.evidence,
                essential_eight: strings(check.essential_eight),
                apra_cps234: strings(check.apra_cps234),
                cis_m365: strings(check.cis_m365),
            }
        })
        .collect();
    let scores = score_frameworks(&baselines);
    let applied = baselines
        .iter()
        .filter(|b| b.outcome == CheckOutcome::Pass)
        .count() as u64;
    let unknown = baselines
        .iter()
        .filter(|b| b.outcome == CheckOutcome::Unknown)
        .count() as u64;
    let not_applicable = baselines
        .iter()
        .filter(|b| b.outcome == CheckOutcome::NotApplicable)
        .count() as u64;
    let open_drift = baselines
        .iter()
        .filter(|b| b.outcome == CheckOutcome::Fail)
        .map(|b| b.id.clone())
        .collect();
    (
        StandardsStatus {
            baselines,
            applied,
            open_drift,
            unknown,
            not_applicable,
        },
        scores,
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests;
