//! The posture snapshot: one tenant's Microsoft 365 posture at one moment, the same content for
//! every provider. Sources fill it; sinks render it (Hudu HTML, IT Glue traits).
//!
//! Every collected section is a [`Section`]: either the data, or the reason it could not be
//! collected (missing permission, API error). A missing section never blanks the document.

use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One section of a snapshot: collected, or unavailable with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Section<T> {
    /// The section was collected.
    Collected {
        /// The facts.
        data: T,
    },
    /// The section could not be collected.
    Unavailable {
        /// Why, in words a person can act on (e.g. "Graph answered 403: grant
        /// Policy.Read.All to the docsync app in this tenant").
        reason: String,
    },
}

impl<T> Section<T> {
    /// The data, when collected.
    pub fn data(&self) -> Option<&T> {
        match self {
            Section::Collected { data } => Some(data),
            Section::Unavailable { .. } => None,
        }
    }

    /// Wraps collected data.
    pub fn collected(data: T) -> Self {
        Section::Collected { data }
    }

    /// Marks the section unavailable.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Section::Unavailable {
            reason: reason.into(),
        }
    }
}

/// A tenant's posture snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// docsync's tenant id.
    pub tenant_id: TenantId,
    /// The tenant's name in docsync at collection time (used in document titles).
    pub tenant_name: String,
    /// The Microsoft (Entra) tenant id.
    pub microsoft_tenant_id: String,
    /// When collection finished: the "last sync" time.
    pub collected_at: DateTime<Utc>,
    /// Organisation, domains, licences, user count.
    pub metadata: Section<TenantMetadata>,
    /// MFA registration across users and admins.
    pub mfa: Section<MfaAdoption>,
    /// Conditional Access policies and their gaps.
    pub conditional_access: Section<ConditionalAccessSummary>,
    /// The authentication methods policy: which methods are on (shown with Conditional
    /// Access). Snapshots taken before docsync read it have it unavailable.
    #[serde(default = "authentication_methods_not_read")]
    pub authentication_methods: Section<AuthenticationMethods>,
    /// Defender incidents and secure-score recommendations.
    pub defender: Section<DefenderSurface>,
    /// Exchange Online DKIM, anti-phish and audit configuration.
    pub exchange: Section<ExchangePosture>,
    /// Microsoft 365 Copilot licences and use.
    pub copilot: Section<CopilotSummary>,
    /// docsync's baseline checks evaluated on the facts above.
    pub standards: StandardsStatus,
    /// Framework scores computed from the baseline checks.
    pub compliance: ComplianceScores,
    /// Why sections were not collected when the cause was passing (timeouts, 5xx, resets
    /// after the in-place retries), one reason each. While a run has retries left, a collector
    /// tries again later rather than overwrite good documentation with "not collected".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transient_gaps: Vec<String>,
}

fn authentication_methods_not_read() -> Section<AuthenticationMethods> {
    Section::unavailable("not collected by this version of docsync; the next sync reads it")
}

/// The tenant's authentication methods policy (`GET /policies/authenticationMethodsPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethods {
    /// Every method the policy configures, in the policy's order.
    pub methods: Vec<AuthenticationMethod>,
}

/// One method of the authentication methods policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethod {
    /// Its id in the policy: `Fido2`, `MicrosoftAuthenticator`, `Sms`, ...
    pub id: String,
    /// `enabled` or `disabled`.
    pub state: String,
}

/// Organisation facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantMetadata {
    /// The organisation's display name in Microsoft 365.
    pub display_name: String,
    /// The default verified domain.
    pub primary_domain: String,
    /// Every verified domain.
    pub verified_domains: Vec<String>,
    /// Subscribed SKUs.
    pub licences: Vec<LicenceLine>,
    /// Number of user objects (`/users/$count`).
    pub user_count: u64,
}

/// One subscribed SKU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceLine {
    /// e.g. `SPE_E3`.
    pub sku_part_number: String,
    /// Seats assigned.
    pub consumed: u64,
    /// Seats bought and enabled.
    pub enabled: u64,
}

/// MFA registration (from the authentication-methods registration report). Adoption counts
/// member users; guests (`userType` guest) are counted apart and never in the percentage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaAdoption {
    /// Member users in the report.
    pub users: u64,
    /// Member users with `isMfaRegistered`.
    pub registered: u64,
    /// `registered / users` in percent, one decimal (0 when there are no users).
    pub percent: f64,
    /// Admins in the report.
    pub admins: u64,
    /// Admins with MFA registered.
    pub admins_registered: u64,
    /// Up to 20 admin UPNs without MFA, for the runbook.
    pub admins_without_mfa: Vec<String>,
    /// Guest users in the report (not in `users` nor in the percentage).
    #[serde(default)]
    pub guests: u64,
    /// Guests with `isMfaRegistered`.
    #[serde(default)]
    pub guests_registered: u64,
}

/// Conditional Access summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessSummary {
    /// Number of policies.
    pub policy_count: u64,
    /// Policies in state `enabled`.
    pub enabled: u64,
    /// Policies in `enabledForReportingButNotEnforced`.
    pub report_only: u64,
    /// Policies in `disabled`.
    pub disabled: u64,
    /// Every policy, briefly.
    pub policies: Vec<CaPolicy>,
    /// Gaps found (e.g. "No enabled policy blocks legacy authentication").
    pub key_gaps: Vec<String>,
}

/// One Conditional Access policy, as much as the checks need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaPolicy {
    /// Display name.
    pub name: String,
    /// enabled | disabled | enabledForReportingButNotEnforced.
    pub state: String,
    /// Who it targets, in words ("All users", "3 roles", "2 groups, 1 user").
    pub target_users: String,
    /// `conditions.users.includeUsers` contains `All`.
    pub all_users: bool,
    /// `conditions.applications.includeApplications` contains `All` (every cloud app).
    #[serde(default)]
    pub all_applications: bool,
    /// `conditions.applications.includeApplications` as served (`All`, app ids, `Office365`).
    #[serde(default)]
    pub include_applications: Vec<String>,
    /// Included directory role template ids.
    pub include_roles: Vec<String>,
    /// `conditions.users.excludeUsers` (ids, or `GuestsOrExternalUsers`).
    #[serde(default)]
    pub exclude_users: Vec<String>,
    /// `conditions.users.excludeGroups`.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    /// `conditions.users.excludeRoles` (role template ids).
    #[serde(default)]
    pub exclude_roles: Vec<String>,
    /// `conditions.clientAppTypes`.
    pub client_app_types: Vec<String>,
    /// `conditions.signInRiskLevels`.
    pub sign_in_risk_levels: Vec<String>,
    /// `conditions.userRiskLevels`.
    pub user_risk_levels: Vec<String>,
    /// `grantControls.builtInControls` (mfa, block, compliantDevice, ...).
    pub grant_controls: Vec<String>,
    /// `grantControls.operator`: `OR` (any one control satisfies the grant) or `AND`.
    #[serde(default)]
    pub grant_operator: String,
}

/// Defender surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderSurface {
    /// Active high-severity incidents.
    pub active_high_incidents: Vec<Incident>,
    /// Latest secure score.
    pub secure_score: f64,
    /// Maximum secure score.
    pub secure_score_max: f64,
    /// Controls not at full score, worst first (at most 25).
    pub open_recommendations: Vec<Recommendation>,
    /// Number of controls not at full score.
    pub open_recommendation_count: u64,
}

/// One Defender incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Incident id.
    pub id: String,
    /// Display name.
    pub title: String,
    /// When it was created.
    pub created: String,
}

/// One open secure-score recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// Control name (`controlName`).
    pub control: String,
    /// Title from the control profile.
    pub title: String,
    /// Points still to gain.
    pub score_gap: f64,
}

/// Exchange Online posture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangePosture {
    /// DKIM signing configuration per domain.
    pub dkim: Vec<DkimDomain>,
    /// Anti-phish policies.
    pub anti_phish_policies: Vec<AntiPhishPolicy>,
    /// `UnifiedAuditLogIngestionEnabled` from `Get-AdminAuditLogConfig`.
    pub unified_audit_enabled: bool,
}

/// DKIM for one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DkimDomain {
    /// The domain.
    pub domain: String,
    /// Signing enabled.
    pub enabled: bool,
}

/// One anti-phish policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AntiPhishPolicy {
    /// Policy name.
    pub name: String,
    /// Enabled.
    pub enabled: bool,
    /// Mailbox intelligence / impersonation protection on.
    pub impersonation_protection: bool,
}

/// Copilot licences and use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopilotSummary {
    /// Copilot seats bought (enabled units of Copilot SKUs).
    pub licences: u64,
    /// Copilot seats assigned.
    pub assigned: u64,
    /// Assigned users active in the last 30 days.
    pub active_users: u64,
    /// Assigned users with no activity in the last 30 days.
    pub idle_seats: u64,
    /// Unified audit on (Copilot prompts and responses are audited through it).
    pub prompt_audit_enabled: Option<bool>,
}

/// The outcome of one baseline check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    /// The tenant meets the baseline.
    Pass,
    /// The tenant deviates from the baseline (open drift).
    Fail,
    /// The facts needed were not collected.
    Unknown,
    /// The control does not apply to this tenant (no Copilot, no custom domain, ...): neither a
    /// pass nor a fail, and outside every score.
    #[serde(rename = "notApplicable", alias = "notapplicable")]
    NotApplicable,
}

impl CheckOutcome {
    /// The wire name: `pass`, `fail`, `unknown`, `notApplicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Pass => "pass",
            CheckOutcome::Fail => "fail",
            CheckOutcome::Unknown => "unknown",
            CheckOutcome::NotApplicable => "notApplicable",
        }
    }
}

/// One fact behind a check's outcome, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// What was read ("admins registered for MFA", "policy 'Require MFA' includeApplications").
    pub fact: String,
    /// Its value as read ("3 of 4", "All", "enabledForReportingButNotEnforced").
    pub value: String,
    /// The endpoint it came from (`GET /v1.0/identity/conditionalAccess/policies`,
    /// `Exchange InvokeCommand Get-AntiPhishPolicy`).
    pub source: String,
}

/// One baseline check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineResult {
    /// Stable id, e.g. `DS-01`.
    pub id: String,
    /// What the baseline requires.
    pub title: String,
    /// Pass, fail or unknown.
    pub outcome: CheckOutcome,
    /// The evidence in words ("4 of 5 admins registered for MFA").
    pub detail: String,
    /// The facts behind the outcome, each with its source (empty in snapshots collected before
    /// evidence was kept).
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Essential Eight controls it evidences.
    pub essential_eight: Vec<String>,
    /// APRA CPS 234 paragraphs it evidences.
    pub apra_cps234: Vec<String>,
    /// CIS Microsoft 365 Foundations recommendations it evidences.
    pub cis_m365: Vec<String>,
}

/// Standards status: the baselines docsync applies and where the tenant drifts from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandardsStatus {
    /// Every baseline check and its outcome.
    pub baselines: Vec<BaselineResult>,
    /// Checks that pass.
    pub applied: u64,
    /// Ids of checks that fail (open drift).
    pub open_drift: Vec<String>,
    /// Checks that could not be evaluated.
    pub unknown: u64,
    /// Checks that do not apply to the tenant.
    #[serde(default)]
    pub not_applicable: u64,
}

/// One framework's score, counted over the framework's own controls (each once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameworkScore {
    /// "Essential Eight", "APRA CPS 234" or "CIS M365".
    pub framework: String,
    /// Controls that pass.
    pub passed: u64,
    /// Controls that fail.
    pub failed: u64,
    /// Controls that could not be evaluated.
    pub unknown: u64,
    /// Controls that do not apply to the tenant (outside the percentage).
    #[serde(default)]
    pub not_applicable: u64,
    /// passed / (passed + failed) in percent, one decimal; None when nothing was evaluated.
    pub percent: Option<f64>,
    /// Every control of the framework docsync evidences, with its result (empty in snapshots
    /// collected before controls were kept).
    #[serde(default)]
    pub controls: Vec<ControlResult>,
}

/// One framework control's result, from the baseline checks mapped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlResult {
    /// The framework's reference ("CIS 5.2.2.1", "E8: Multi-factor authentication").
    pub id: String,
    /// What the control asks.
    pub title: String,
    /// Fail when a mapped check fails; else unknown when one is unknown; else pass when one
    /// passes; else not applicable.
    pub result: CheckOutcome,
    /// The ids of the baseline checks that evidence it (`DS-01` ...).
    pub checks: Vec<String>,
}

/// Compliance scores for every framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceScores {
    /// One score per framework.
    pub frameworks: Vec<FrameworkScore>,
}

impl Snapshot {
    /// The Hudu article title for this tenant.
    pub fn hudu_title(&self) -> String {
        format!("M365 Posture — {}", self.tenant_name)
    }
}
