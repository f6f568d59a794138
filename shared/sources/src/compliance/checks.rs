//! The baseline checks themselves: each reads the sections it needs and returns pass, fail or
//! unknown with the evidence in words.

use super::PostureFacts;
use crate::sections::conditional_access as ca;
use docsync_domain::snapshot::{CaPolicy, CheckOutcome, Section};
use CheckOutcome::{Fail, Pass, Unknown};

/// An outcome and its evidence.
pub(super) type Verdict = (CheckOutcome, String);

/// Minimum share of users registered for MFA (DS-02).
pub(crate) const MIN_MFA_PERCENT: f64 = 95.0;
/// Minimum secure score as a share of the maximum (DS-14).
pub(crate) const MIN_SECURE_SCORE_PERCENT: f64 = 60.0;
/// Maximum idle share of assigned Copilot seats (DS-15).
pub(crate) const MAX_COPILOT_IDLE_PERCENT: f64 = 20.0;

fn with<T>(section: &Section<T>, name: &str, f: impl FnOnce(&T) -> Verdict) -> Verdict {
    match section {
        Section::Collected { data } => f(data),
        Section::Unavailable { .. } => (Unknown, format!("{name} was not collected")),
    }
}

fn verdict(pass: bool, detail: String) -> Verdict {
    (if pass { Pass } else { Fail }, detail)
}

fn names(policies: &[CaPolicy], keep: impl Fn(&CaPolicy) -> bool) -> Vec<String> {
    policies
        .iter()
        .filter(|p| keep(p))
        .map(|p| p.name.clone())
        .collect()
}

fn ca_policy_check(
    facts: &PostureFacts<'_>,
    covered: fn(&CaPolicy) -> bool,
    missing: &str,
) -> Verdict {
    with(facts.conditional_access, "Conditional Access", |s| {
        let found = names(&s.policies, covered);
        if found.is_empty() {
            (Fail, missing.to_owned())
        } else {
            (Pass, format!("Enforced by: {}", found.join(", ")))
        }
    })
}

/// DS-01.
pub(super) fn admins_mfa_registered(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", |m| {
        if m.admins == 0 {
            return (
                Unknown,
                "the registration report lists no administrators".to_owned(),
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
        verdict(m.admins_registered == m.admins, detail)
    })
}

/// DS-02.
pub(super) fn users_mfa_registered(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", |m| {
        if m.users == 0 {
            return (Unknown, "the registration report lists no users".to_owned());
        }
        verdict(
            m.percent >= MIN_MFA_PERCENT,
            format!(
                "{}% of users registered for MFA ({} of {}; baseline {MIN_MFA_PERCENT}%)",
                m.percent, m.registered, m.users
            ),
        )
    })
}

/// DS-03.
pub(super) fn ca_mfa_all_users(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(f, ca::mfa_for_all_users, ca::GAP_MFA_ALL_USERS)
}

/// DS-04.
pub(super) fn ca_blocks_legacy_auth(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(f, ca::blocks_legacy_auth, ca::GAP_LEGACY_AUTH)
}

/// DS-05.
pub(super) fn ca_mfa_admins(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(f, ca::mfa_for_admins, ca::GAP_MFA_ADMINS)
}

/// DS-06.
pub(super) fn ca_sign_in_risk(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(f, ca::sign_in_risk_policy, ca::GAP_SIGN_IN_RISK)
}

/// DS-07.
pub(super) fn ca_user_risk(f: &PostureFacts<'_>) -> Verdict {
    ca_policy_check(f, ca::user_risk_policy, ca::GAP_USER_RISK)
}

/// DS-08.
pub(super) fn ca_any_enforced(f: &PostureFacts<'_>) -> Verdict {
    with(f.conditional_access, "Conditional Access", |s| {
        verdict(
            s.enabled > 0,
            format!(
                "{} of {} policies enforced ({} report-only, {} disabled)",
                s.enabled, s.policy_count, s.report_only, s.disabled
            ),
        )
    })
}

/// DS-09.
pub(super) fn admin_count(f: &PostureFacts<'_>) -> Verdict {
    with(f.mfa, "MFA registration", |m| {
        verdict(
            (2..=4).contains(&m.admins),
            format!("{} administrator accounts (baseline 2 to 4)", m.admins),
        )
    })
}

/// DS-10.
pub(super) fn dkim_everywhere(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", |e| {
        let custom = |d: &str| !d.to_ascii_lowercase().ends_with(".onmicrosoft.com");
        let mut domains: Vec<(String, bool)> = e
            .dkim
            .iter()
            .filter(|d| custom(&d.domain))
            .map(|d| (d.domain.to_ascii_lowercase(), d.enabled))
            .collect();
        if let Some(meta) = f.metadata.data() {
            for d in meta.verified_domains.iter().filter(|d| custom(d)) {
                let d = d.to_ascii_lowercase();
                if !domains.iter().any(|(name, _)| *name == d) {
                    domains.push((d, false));
                }
            }
        }
        if domains.is_empty() {
            return (
                Pass,
                "no custom domains (only *.onmicrosoft.com)".to_owned(),
            );
        }
        let off: Vec<&str> = domains
            .iter()
            .filter(|(_, on)| !on)
            .map(|(d, _)| d.as_str())
            .collect();
        let detail = format!(
            "DKIM on {} of {} custom domains",
            domains.len() - off.len(),
            domains.len()
        );
        if off.is_empty() {
            (Pass, detail)
        } else {
            (Fail, format!("{detail}; not signing: {}", off.join(", ")))
        }
    })
}

/// DS-11.
pub(super) fn anti_phish(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", |e| {
        let good: Vec<&str> = e
            .anti_phish_policies
            .iter()
            .filter(|p| p.enabled && p.impersonation_protection)
            .map(|p| p.name.as_str())
            .collect();
        if good.is_empty() {
            (
                Fail,
                format!(
                    "none of {} anti-phish policies is enabled with mailbox intelligence or impersonation protection",
                    e.anti_phish_policies.len()
                ),
            )
        } else {
            (Pass, format!("Protected by: {}", good.join(", ")))
        }
    })
}

/// DS-12.
pub(super) fn unified_audit(f: &PostureFacts<'_>) -> Verdict {
    with(f.exchange, "Exchange Online", |e| {
        verdict(
            e.unified_audit_enabled,
            format!(
                "unified audit log ingestion is {}",
                if e.unified_audit_enabled { "on" } else { "off" }
            ),
        )
    })
}

/// DS-13.
pub(super) fn no_high_incidents(f: &PostureFacts<'_>) -> Verdict {
    with(f.defender, "Defender", |d| {
        let n = d.active_high_incidents.len();
        verdict(n == 0, format!("{n} active high-severity incidents"))
    })
}

/// DS-14.
pub(super) fn secure_score(f: &PostureFacts<'_>) -> Verdict {
    with(f.defender, "Defender", |d| {
        if d.secure_score_max <= 0.0 {
            return (
                Unknown,
                "no secure score has been computed for this tenant yet".to_owned(),
            );
        }
        let pct = (d.secure_score * 1000.0 / d.secure_score_max).round() / 10.0;
        verdict(
            pct >= MIN_SECURE_SCORE_PERCENT,
            format!(
                "secure score {} of {} ({pct}%; baseline {MIN_SECURE_SCORE_PERCENT}%)",
                d.secure_score, d.secure_score_max
            ),
        )
    })
}

/// DS-15.
pub(super) fn copilot_idle(f: &PostureFacts<'_>) -> Verdict {
    with(f.copilot, "Copilot", |c| {
        if c.assigned == 0 {
            return (
                Pass,
                "no Copilot seats assigned (not applicable)".to_owned(),
            );
        }
        let pct = (c.idle_seats as f64 * 1000.0 / c.assigned as f64).round() / 10.0;
        verdict(
            pct <= MAX_COPILOT_IDLE_PERCENT,
            format!(
                "{} of {} assigned Copilot seats idle for 30 days ({pct}%; baseline at most {MAX_COPILOT_IDLE_PERCENT}%)",
                c.idle_seats, c.assigned
            ),
        )
    })
}

/// DS-16.
pub(super) fn copilot_prompt_audit(f: &PostureFacts<'_>) -> Verdict {
    with(f.copilot, "Copilot", |c| {
        if c.licences == 0 && c.assigned == 0 {
            return (Pass, "no Copilot licences (not applicable)".to_owned());
        }
        match c.prompt_audit_enabled {
            Some(true) => (
                Pass,
                "unified audit is on: Copilot interactions are audited".to_owned(),
            ),
            Some(false) => (
                Fail,
                "unified audit is off: Copilot prompts and responses are not audited".to_owned(),
            ),
            None => (
                Unknown,
                "Exchange Online was not collected, so audit state is unknown".to_owned(),
            ),
        }
    })
}

/// DS-17.
pub(super) fn ca_no_report_only(f: &PostureFacts<'_>) -> Verdict {
    with(f.conditional_access, "Conditional Access", |s| {
        let pending = names(&s.policies, |p| p.state == ca::STATE_REPORT_ONLY);
        if pending.is_empty() {
            (Pass, "no policy in report-only mode".to_owned())
        } else {
            (
                Fail,
                format!("{} in report-only: {}", pending.len(), pending.join(", ")),
            )
        }
    })
}
