//! The baseline checks themselves: each reads the sections it needs and returns pass, fail,
//! unknown or not applicable, the evidence in words, and the facts behind it with the endpoint
//! each came from. A control that does not apply (no custom domain, no Copilot) is never a pass.

use super::PostureFacts;
use crate::sections::conditional_access as ca;
use docsync_domain::snapshot::{CaPolicy, CheckOutcome, Evidence, Section};
use CheckOutcome::{Fail, NotApplicable, Pass, Unknown};

/// An outcome, its evidence in words and the facts behind it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Verdict {
    pub(super) outcome: CheckOutcome,
    pub(super) detail: String,
    pub(super) evidence: Vec<Evidence>,
}

/// Minimum share of users registered for MFA (DS-02).
pub(crate) const MIN_MFA_PERCENT: f64 = 95.0;
/// Minimum secure score as a share of the maximum (DS-14).
pub(crate) const MIN_SECURE_SCORE_PERCENT: f64 = 60.0;
/// Maximum idle share of assigned Copilot seats (DS-15).
pub(crate) const MAX_COPILOT_IDLE_PERCENT: f64 = 20.0;

/// Where each fact is read.
pub(crate) mod source {
    /// The MFA registration report.
    pub const REGISTRATION: &str =
        "GET /v1.0/reports/authenticationMethods/userRegistrationDetails";
    /// Conditional Access policies.
    pub const CA: &str = "GET /v1.0/identity/conditionalAccess/policies";
    /// The organisation and its verified domains.
    pub const ORGANIZATION: &str = "GET /v1.0/organization";
    /// Subscribed SKUs.
    pub const SKUS: &str = "GET /v1.0/subscribedSkus";
    /// Copilot usage.
    pub const COPILOT_USAGE: &str =
        "GET /beta/reports/getMicrosoft365CopilotUsageUserDetail(period='D30')";
    /// Active high-severity incidents.
    pub const INCIDENTS: &str =
        "GET /v1.0/security/incidents?$filter=severity eq 'high' and status eq 'active'";
    /// The latest secure score.
    pub const SECURE_SCORE: &str = "GET /v1.0/security/secureScores?$top=1";
    /// DKIM signing per domain.
    pub const DKIM: &str = "Exchange Online InvokeCommand Get-DkimSigningConfig";
    /// Anti-phishing policies.
    pub const ANTI_PHISH: &str = "Exchange Online InvokeCommand Get-AntiPhishPolicy";
    /// Unified audit ingestion.
    pub const AUDIT: &str = "Exchange Online InvokeCommand Get-AdminAuditLogConfig";
}

/// One fact.
pub(super) fn fact(fact: impl Into<String>, value: impl Into<String>, source: &str) -> Evidence {
    Evidence {
        fact: fact.into(),
        value: value.into(),
        source: source.to_owned(),
    }
}

fn v(outcome: CheckOutcome, detail: impl Into<String>, evidence: Vec<Evidence>) -> Verdict {
    Verdict {
        outcome,
        detail: detail.into(),
        evidence,
    }
}

fn with<T>(section: &Section<T>, name: &str, src: &str, f: impl FnOnce(&T) -> Verdict) -> Verdict {
    match section {
        Section::Collected { data } => f(data),
        Section::Unavailable { reason } => v(
            Unknown,
            format!("{name} was not collected"),
            vec![fact(name, format!("not collected: {reason}"), src)],
        ),
    }
}

fn verdict(pass: bool, detail: String, evidence: Vec<Evidence>) -> Verdict {
    v(if pass { Pass } else { Fail }, detail, evidence)
}

fn policy_fact(p: &CaPolicy) -> Evidence {
    let mut value = ca::describe(p);
    if let Some(excluded) = ca::exclusions(p) {
        value.push_str(&format!("; excludes {excluded}"));
    }
    fact(format!("policy '{}'", p.name), value, source::CA)
}

/// A Conditional Access check: passes when an enabled policy covers the requirement, noting
/// its exclusions; a failure names the policies that come close and why they fall short.
fn ca_policy_check(
    facts: &PostureFacts<'_>,
    covered: fn(&CaPolicy) -> bool,
    near: fn(&CaPolicy) -> bool,
    shortfall: fn(&CaPolicy) -> Vec<String>,
    missing: &str,
) -> Verdict {
    with(
        facts.conditional_access,
        "Conditional Access",
        source::CA,
        |s| {
            let found: Vec<&CaPolicy> = s.policies.iter().filter(|p| covered(p)).collect();
            if found.is_empty() {
                let close: Vec<&CaPolicy> = s.policies.iter().filter(|p| near(p)).collect();
                let mut detail = missing.to_owned();
                for p in &close {
                    let why = shortfall(p);
                    if !why.is_empty() {
                        detail.push_str(&format!("; {}: {}", p.name, why.join(", ")));
                    }
                }
                let mut evidence = vec![fact(
                    "policies",
                    format!("{} ({} enabled)", s.policy_count, s.enabled),
                    source::CA,
                )];
                evidence.extend(close.iter().map(|p| policy_fact(p)));
                return v(Fail, detail, evidence);
            }
            let names: Vec<String> = found
                .iter()
                .map(|p| match ca::exclusions(p) {
                    Some(excluded) => format!("{} (excludes {excluded})", p.name),
                    None => p.name.clone(),
                })
                .collect();
            v(
                Pass,
                format!("Enforced by: {}", names.join(", ")),
                found.iter().map(|p| policy_fact(p)).collect(),
            )
        },
    )
}

fn asks_mfa(p: &CaPolicy) -> bool {
    p.grant_controls
        .iter()
        .any(|c| c.eq_ignore_ascii_case("mfa") || c.eq_ignore_ascii_case("authenticationStrength"))
}

fn asks_block(p: &CaPolicy) -> bool {
    p.grant_controls
        .iter()
        .any(|c| c.eq_ignore_ascii_case("block"))
}

fn general_shortfall(p: &CaPolicy) -> Vec<String> {
    let mut why = Vec::new();
    if p.state == ca::STATE_REPORT_ONLY {
        why.push("report-only, not enforced".to_owned());
    } else if !ca::is_enabled(p) {
        why.push(format!("state {}", p.state));
    }
    if !p.all_users {
        why.push(format!("targets {}, not all users", p.target_users));
    }
    if !p.all_applications {
        why.push("does not cover all cloud apps".to_owned());
    }
    why
}

/// DS-01.
pub(super) fn admins_mfa_registered(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", source::REGISTRATION, |m| {
        let evidence = vec![
            fact(
                "administrators registered for MFA",
                format!("{} of {}", m.admins_registered, m.admins),
                source::REGISTRATION,
            ),
            fact(
                "administrators without MFA",
                if m.admins_without_mfa.is_empty() {
                    "none".to_owned()
                } else {
                    m.admins_without_mfa.join(", ")
                },
                source::REGISTRATION,
            ),
        ];
        if m.admins == 0 {
            return v(
                Unknown,
                "the registration report lists no administrators",
                evidence,
            );
        }
        let mut detail = format!(
            "{} of {} admins registered for MFA",
            m.admins_registered, m.admins
        );
        if !m.admins_without_mfa.is_empty() {
            detail.push_str(&format!(
                "; without MFA: {}",
                m.admins_without_mfa.join(", ")
            ));
        }
        verdict(m.admins_registered == m.admins, detail, evidence)
    })
}

/// DS-02: member users only; guests are reported apart.
pub(super) fn users_mfa_registered(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", source::REGISTRATION, |m| {
        let mut evidence = vec![fact(
            "member users registered for MFA",
            format!("{} of {} ({}%)", m.registered, m.users, m.percent),
            source::REGISTRATION,
        )];
        if m.guests > 0 {
            evidence.push(fact(
                "guest users registered for MFA (not counted)",
                format!("{} of {}", m.guests_registered, m.guests),
                source::REGISTRATION,
            ));
        }
        if m.users == 0 {
            return v(
                Unknown,
                "the registration report lists no member users",
                evidence,
            );
        }
        let mut detail = format!(
            "{}% of member users registered for MFA ({} of {}; baseline {MIN_MFA_PERCENT}%)",
            m.percent, m.registered, m.users
        );
        if m.guests > 0 {
            detail.push_str(&format!(
                "; {} guests reported apart ({} registered)",
                m.guests, m.guests_registered
            ));
        }
        verdict(m.percent >= MIN_MFA_PERCENT, detail, evidence)
    })
}

/// DS-03.
pub(super) fn ca_mfa_all_users(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(
        f,
        ca::mfa_for_all_users,
        asks_mfa,
        |p| ca::mfa_shortfalls(p, true),
        ca::GAP_MFA_ALL_USERS,
    )
}

/// DS-04.
pub(super) fn ca_blocks_legacy_auth(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(
        f,
        ca::blocks_legacy_auth,
        asks_block,
        general_shortfall,
        ca::GAP_LEGACY_AUTH,
    )
}

/// DS-05.
pub(super) fn ca_mfa_admins(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(
        f,
        ca::mfa_for_admins,
        |p| asks_mfa(p) && (p.all_users || !p.include_roles.is_empty()),
        |p| ca::mfa_shortfalls(p, false),
        ca::GAP_MFA_ADMINS,
    )
}

/// DS-06.
pub(super) fn ca_sign_in_risk(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(
        f,
        ca::sign_in_risk_policy,
        |p| !p.sign_in_risk_levels.is_empty(),
        general_shortfall,
        ca::GAP_SIGN_IN_RISK,
    )
}

/// DS-07.
pub(super) fn ca_user_risk(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(
        f,
        ca::user_risk_policy,
        |p| !p.user_risk_levels.is_empty(),
        general_shortfall,
        ca::GAP_USER_RISK,
    )
}

/// DS-08.
pub(super) fn ca_any_enforced(f: &PostureFacts<'_>) -> Verdict {
    with(
        f.conditional_access,
        "Conditional Access",
        source::CA,
        |s| {
            verdict(
                s.enabled > 0,
                format!(
                    "{} of {} policies enforced ({} report-only, {} disabled)",
                    s.enabled, s.policy_count, s.report_only, s.disabled
                ),
                vec![
                    fact("policies", s.policy_count.to_string(), source::CA),
                    fact(
                        "policies in state enabled",
                        s.enabled.to_string(),
                        source::CA,
                    ),
                    fact(
                        "policies in state enabledForReportingButNotEnforced",
                        s.report_only.to_string(),
                        source::CA,
                    ),
                ],
            )
        },
    )
}

/// DS-09.
pub(super) fn admin_count(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", source::REGISTRATION, |m| {
        verdict(
            (2..=4).contains(&m.admins),
            format!("{} administrator accounts (baseline 2 to 4)", m.admins),
            vec![fact(
                "accounts with isAdmin",
                m.admins.to_string(),
                source::REGISTRATION,
            )],
        )
    })
}

/// DS-10: not applicable without a custom domain.
pub(super) fn dkim_everywhere(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", source::DKIM, |e| {
        let custom = |d: &str| !d.to_ascii_lowercase().ends_with(".onmicrosoft.com");
        let mut domains: Vec<(String, bool, &str)> = e
            .dkim
            .iter()
            .filter(|d| custom(&d.domain))
            .map(|d| (d.domain.to_ascii_lowercase(), d.enabled, source::DKIM))
            .collect();
        if let Some(meta) = f.metadata.data() {
            for d in meta.verified_domains.iter().filter(|d| custom(d)) {
                let d = d.to_ascii_lowercase();
                if !domains.iter().any(|(name, _, _)| *name == d) {
                    domains.push((d, false, source::ORGANIZATION));
                }
            }
        }
        let evidence: Vec<Evidence> = domains
            .iter()
            .map(|(d, on, src)| {
                let value = if *src == source::DKIM {
                    if *on {
                        "Enabled"
                    } else {
                        "Disabled"
                    }
                } else {
                    "verified, no DKIM signing configuration"
                };
                fact(format!("DKIM signing for {d}"), value, src)
            })
            .collect();
        if domains.is_empty() {
            return v(
                NotApplicable,
                "no custom domains (only *.onmicrosoft.com): not applicable",
                vec![fact("custom domains", "none", source::ORGANIZATION)],
            );
        }
        let off: Vec<&str> = domains
            .iter()
            .filter(|(_, on, _)| !on)
            .map(|(d, _, _)| d.as_str())
            .collect();
        let detail = format!(
            "DKIM on {} of {} custom domains",
            domains.len() - off.len(),
            domains.len()
        );
        if off.is_empty() {
            v(Pass, detail, evidence)
        } else {
            v(
                Fail,
                format!("{detail}; not signing: {}", off.join(", ")),
                evidence,
            )
        }
    })
}

/// DS-11.
pub(super) fn anti_phish(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", source::ANTI_PHISH, |e| {
        let evidence: Vec<Evidence> = e
            .anti_phish_policies
            .iter()
            .map(|p| {
                fact(
                    format!("anti-phish policy '{}'", p.name),
                    format!(
                        "Enabled {}; mailbox intelligence or impersonation protection {}",
                        p.enabled, p.impersonation_protection
                    ),
                    source::ANTI_PHISH,
                )
            })
            .collect();
        let good: Vec<&str> = e
            .anti_phish_policies
            .iter()
            .filter(|p| p.enabled && p.impersonation_protection)
            .map(|p| p.name.as_str())
            .collect();
        if good.is_empty() {
            v(
                Fail,
                format!(
                    "none of {} anti-phish policies is enabled with mailbox intelligence or impersonation protection",
                    e.anti_phish_policies.len()
                ),
                evidence,
            )
        } else {
            v(Pass, format!("Protected by: {}", good.join(", ")), evidence)
        }
    })
}

/// DS-12.
pub(super) fn unified_audit(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", source::AUDIT, |e| {
        verdict(
            e.unified_audit_enabled,
            format!(
                "unified audit log ingestion is {}",
                if e.unified_audit_enabled { "on" } else { "off" }
            ),
            vec![fact(
                "UnifiedAuditLogIngestionEnabled",
                e.unified_audit_enabled.to_string(),
                source::AUDIT,
            )],
        )
    })
}

/// DS-13.
pub(super) fn no_high_incidents(f: &PostureFacts<'_>) -> Verdict {
    with(f.defender, "Defender", source::INCIDENTS, |d| {
        let n = d.active_high_incidents.len();
        let mut evidence = vec![fact(
            "active high-severity incidents",
            n.to_string(),
            source::INCIDENTS,
        )];
        evidence.extend(d.active_high_incidents.iter().map(|i| {
            fact(
                format!("incident {}", i.id),
                format!("{} (created {})", i.title, i.created),
                source::INCIDENTS,
            )
        }));
        verdict(
            n == 0,
            format!("{n} active high-severity incidents"),
            evidence,
        )
    })
}

/// DS-14.
pub(super) fn secure_score(f: &PostureFacts<'_>) -> Verdict {
    with(f.defender, "Defender", source::SECURE_SCORE, |d| {
        let evidence = vec![fact(
            "secure score (currentScore of maxScore)",
            format!("{} of {}", d.secure_score, d.secure_score_max),
            source::SECURE_SCORE,
        )];
        if d.secure_score_max <= 0.0 {
            return v(
                Unknown,
                "no secure score has been computed for this tenant yet",
                evidence,
            );
        }
        let pct = (d.secure_score * 1000.0 / d.secure_score_max).round() / 10.0;
        verdict(
            pct >= MIN_SECURE_SCORE_PERCENT,
            format!(
                "secure score {} of {} ({pct}%; baseline {MIN_SECURE_SCORE_PERCENT}%)",
                d.secure_score, d.secure_score_max
            ),
            evidence,
        )
    })
}

/// DS-15: not applicable without assigned Copilot seats.
pub(super) fn copilot_idle(f: &PostureFacts<'_>) -> Verdict {
    with(f.copilot, "Copilot", source::SKUS, |c| {
        let mut evidence = vec![fact(
            "Copilot seats assigned",
            c.assigned.to_string(),
            source::SKUS,
        )];
        if c.assigned == 0 {
            return v(
                NotApplicable,
                "no Copilot seats assigned: not applicable",
                evidence,
            );
        }
        evidence.push(fact(
            "assigned seats idle for 30 days",
            c.idle_seats.to_string(),
            source::COPILOT_USAGE,
        ));
        let pct = (c.idle_seats as f64 * 1000.0 / c.assigned as f64).round() / 10.0;
        verdict(
            pct <= MAX_COPILOT_IDLE_PERCENT,
            format!(
                "{} of {} assigned Copilot seats idle for 30 days ({pct}%; baseline at most {MAX_COPILOT_IDLE_PERCENT}%)",
                c.idle_seats, c.assigned
            ),
            evidence,
        )
    })
}

/// DS-16: not applicable without Copilot licences.
pub(super) fn copilot_prompt_audit(f: &PostureFacts<'_>) -> Verdict {
    with(f.copilot, "Copilot", source::SKUS, |c| {
        let mut evidence = vec![fact(
            "Copilot seats (enabled, assigned)",
            format!("{}, {}", c.licences, c.assigned),
            source::SKUS,
        )];
        if c.licences == 0 && c.assigned == 0 {
            return v(
                NotApplicable,
                "no Copilot licences: not applicable",
                evidence,
            );
        }
        evidence.push(fact(
            "UnifiedAuditLogIngestionEnabled",
            c.prompt_audit_enabled
                .map_or_else(|| "not collected".to_owned(), |on| on.to_string()),
            source::AUDIT,
        ));
        match c.prompt_audit_enabled {
            Some(true) => v(
                Pass,
                "unified audit is on: Copilot interactions are audited",
                evidence,
            ),
            Some(false) => v(
                Fail,
                "unified audit is off: Copilot prompts and responses are not audited",
                evidence,
            ),
            None => v(
                Unknown,
                "Exchange Online was not collected, so audit state is unknown",
                evidence,
            ),
        }
    })
}

/// DS-17: not applicable when the tenant has no Conditional Access policy at all (DS-08 fails
/// then); nothing left in report-only is not a pass on an empty list.
pub(super) fn ca_no_report_only(f: &PostureFacts<'_>) -> Verdict {
    with(
        f.conditional_access,
        "Conditional Access",
        source::CA,
        |s| {
            if s.policies.is_empty() {
                return v(
                    NotApplicable,
                    "no Conditional Access policies: not applicable",
                    vec![fact("policies", "0", source::CA)],
                );
            }
            let pending: Vec<&CaPolicy> = s
                .policies
                .iter()
                .filter(|p| p.state == ca::STATE_REPORT_ONLY)
                .collect();
            let names: Vec<&str> = pending.iter().map(|p| p.name.as_str()).collect();
            let mut evidence = vec![fact(
                "policies in state enabledForReportingButNotEnforced",
                pending.len().to_string(),
                source::CA,
            )];
            evidence.extend(pending.iter().map(|p| policy_fact(p)));
            if pending.is_empty() {
                v(Pass, "no policy in report-only mode", evidence)
            } else {
                v(
                    Fail,
                    format!("{} in report-only: {}", pending.len(), names.join(", ")),
                    evidence,
                )
            }
        },
    )
}
