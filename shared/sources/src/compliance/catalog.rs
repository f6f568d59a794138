//! The baseline catalogue: every check's id, requirement, the facts it reads, and its
//! framework mappings; and every framework control those mappings name, with its title (the
//! unit a framework score counts, each once). `docs/compliance-mapping.md` mirrors both tables.

use super::checks as c;
use super::checks::Verdict;
use super::PostureFacts;

/// One baseline check as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineCheck {
    /// Stable id, `DS-01` ...
    pub id: &'static str,
    /// What the baseline requires.
    pub title: &'static str,
    /// Which collected facts (and so which endpoints) it reads.
    pub evaluates: &'static str,
    /// Essential Eight mitigation strategies it evidences.
    pub essential_eight: &'static [&'static str],
    /// APRA CPS 234 paragraphs it evidences.
    pub apra_cps234: &'static [&'static str],
    /// CIS Microsoft 365 Foundations Benchmark v3 recommendations it evidences.
    pub cis_m365: &'static [&'static str],
}

/// A check and the function that evaluates it.
pub(super) struct Entry {
    pub(super) check: BaselineCheck,
    pub(super) evaluate: fn(&PostureFacts<'_>) -> Verdict,
}

const E8_MFA: &str = "E8: Multi-factor authentication";
const E8_ADMIN: &str = "E8: Restrict administrative privileges";
const E8_HARDENING: &str = "E8: User application hardening";
const CPS_21: &str = "CPS 234 ¶21";
const CPS_23: &str = "CPS 234 ¶23";
const CPS_24: &str = "CPS 234 ¶24";
const CPS_27: &str = "CPS 234 ¶27";

/// Every framework control a check references, `(id, title)`, in the order reports list them.
static CONTROLS: [(&str, &str); 17] = [
    (E8_MFA, "Multi-factor authentication"),
    (E8_ADMIN, "Restrict administrative privileges"),
    (E8_HARDENING, "User application hardening"),
    (CPS_21, "Information security controls"),
    (CPS_23, "Incident detection and response mechanisms"),
    (CPS_24, "Information security response plans"),
    (CPS_27, "Systematic testing of control effectiveness"),
    (
        "CIS 1.1.3",
        "Ensure that between two and four global admins are designated",
    ),
    (
        "CIS 2.1.7",
        "Ensure that an anti-phishing policy has been created",
    ),
    (
        "CIS 2.1.9",
        "Ensure that DKIM is enabled for all Exchange Online domains",
    ),
    (
        "CIS 3.1.1",
        "Ensure Microsoft 365 audit log search is enabled",
    ),
    (
        "CIS 5.2.2.1",
        "Ensure multifactor authentication is enabled for all users in administrative roles",
    ),
    (
        "CIS 5.2.2.2",
        "Ensure multifactor authentication is enabled for all users",
    ),
    (
        "CIS 5.2.2.3",
        "Enable Conditional Access policies to block legacy authentication",
    ),
    (
        "CIS 5.2.2.6",
        "Enable Identity Protection user risk policies",
    ),
    (
        "CIS 5.2.2.7",
        "Enable Identity Protection sign-in risk policies",
    ),
    ("CIS 5.2.3.4", "Ensure all member users are 'MFA capable'"),
];

/// Every framework control docsync evidences, `(id, title)`, in report order.
pub fn framework_controls() -> &'static [(&'static str, &'static str)] {
    &CONTROLS
}

/// The title of a framework control (the id itself when it is not in the table).
pub fn control_title(id: &str) -> &str {
    CONTROLS
        .iter()
        .find(|(known, _)| *known == id)
        .map_or(id, |(_, title)| title)
}

static ENTRIES: [Entry; 17] = [
    Entry {
        check: BaselineCheck {
            id: "DS-01",
            title: "Every administrator is registered for MFA",
            evaluates: "MFA section: admins vs admins registered (GET /reports/authenticationMethods/userRegistrationDetails, isAdmin + isMfaRegistered)",
            essential_eight: &[E8_MFA, E8_ADMIN],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 5.2.2.1"],
        },
        evaluate: c::admins_mfa_registered,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-02",
            title: "At least 95% of member users are registered for MFA",
            evaluates: "MFA section: registered / member users (userRegistrationDetails, isMfaRegistered; userType guest reported apart)",
            essential_eight: &[E8_MFA],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 5.2.3.4"],
        },
        evaluate: c::users_mfa_registered,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-03",
            title: "An enabled Conditional Access policy requires MFA for all users",
            evaluates: "Conditional Access: an enabled policy with includeUsers All, includeApplications All and a grant that requires mfa or an authentication strength (OR with a non-MFA control is not MFA), no risk condition (GET /identity/conditionalAccess/policies)",
            essential_eight: &[E8_MFA],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 5.2.2.2"],
        },
        evaluate: c::ca_mfa_all_users,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-04",
            title: "Legacy authentication is blocked by an enabled Conditional Access policy",
            evaluates: "Conditional Access: an enabled policy for all users and all apps with clientAppTypes exchangeActiveSync or other and grant block",
            essential_eight: &[E8_MFA, E8_HARDENING],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 5.2.2.3"],
        },
        evaluate: c::ca_blocks_legacy_auth,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-05",
            title: "An enabled Conditional Access policy requires MFA for administrator roles",
            evaluates: "Conditional Access: an enabled policy with includeRoles (or All users), includeApplications All and a grant that requires mfa or an authentication strength",
            essential_eight: &[E8_MFA, E8_ADMIN],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 5.2.2.1"],
        },
        evaluate: c::ca_mfa_admins,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-06",
            title: "A sign-in risk policy is enabled",
            evaluates: "Conditional Access: an enabled policy for all users and all apps with signInRiskLevels and grant mfa or block",
            essential_eight: &[E8_MFA],
            apra_cps234: &[CPS_21, CPS_23],
            cis_m365: &["CIS 5.2.2.7"],
        },
        evaluate: c::ca_sign_in_risk,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-07",
            title: "A user risk policy is enabled",
            evaluates: "Conditional Access: an enabled policy for all users and all apps with userRiskLevels and grant passwordChange, block or mfa",
            essential_eight: &[],
            apra_cps234: &[CPS_21, CPS_23],
            cis_m365: &["CIS 5.2.2.6"],
        },
        evaluate: c::ca_user_risk,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-08",
            title: "At least one Conditional Access policy is enforced",
            evaluates: "Conditional Access: count of policies in state enabled",
            essential_eight: &[E8_MFA],
            apra_cps234: &[CPS_21],
            cis_m365: &[],
        },
        evaluate: c::ca_any_enforced,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-09",
            title: "Between 2 and 4 administrator accounts",
            evaluates: "MFA section: accounts with isAdmin in the registration report",
            essential_eight: &[E8_ADMIN],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 1.1.3"],
        },
        evaluate: c::admin_count,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-10",
            title: "DKIM signing is enabled on every custom domain",
            evaluates: "Exchange: Get-DkimSigningConfig Enabled per domain (and every verified domain from GET /organization), *.onmicrosoft.com excluded; not applicable without a custom domain",
            essential_eight: &[],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 2.1.9"],
        },
        evaluate: c::dkim_everywhere,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-11",
            title: "An enabled anti-phish policy has mailbox intelligence or impersonation protection",
            evaluates: "Exchange: Get-AntiPhishPolicy Enabled with EnableMailboxIntelligence, EnableTargetedUserProtection or EnableOrganizationDomainsProtection",
            essential_eight: &[],
            apra_cps234: &[CPS_21],
            cis_m365: &["CIS 2.1.7"],
        },
        evaluate: c::anti_phish,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-12",
            title: "Unified audit logging is on",
            evaluates: "Exchange: Get-AdminAuditLogConfig UnifiedAuditLogIngestionEnabled",
            essential_eight: &[E8_ADMIN, E8_MFA],
            apra_cps234: &[CPS_21, CPS_23],
            cis_m365: &["CIS 3.1.1"],
        },
        evaluate: c::unified_audit,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-13",
            title: "No active high-severity Defender incidents",
            evaluates: "Defender: GET /security/incidents?$filter=severity eq 'high' and status eq 'active'",
            essential_eight: &[],
            apra_cps234: &[CPS_23, CPS_24],
            cis_m365: &[],
        },
        evaluate: c::no_high_incidents,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-14",
            title: "Microsoft Secure Score is at least 60% of the maximum",
            evaluates: "Defender: currentScore / maxScore of GET /security/secureScores?$top=1",
            essential_eight: &[],
            apra_cps234: &[CPS_21, CPS_27],
            cis_m365: &[],
        },
        evaluate: c::secure_score,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-15",
            title: "No more than 20% of assigned Copilot seats are idle",
            evaluates: "Copilot: idle seats / assigned (subscribedSkus Copilot SKUs + Copilot usage report, 30 days); not applicable when no Copilot seats are assigned",
            essential_eight: &[],
            apra_cps234: &[],
            cis_m365: &[],
        },
        evaluate: c::copilot_idle,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-16",
            title: "Copilot prompts and responses are audited",
            evaluates: "Copilot + Exchange: unified audit on wherever Copilot is licensed; not applicable when there is no Copilot",
            essential_eight: &[],
            apra_cps234: &[CPS_21, CPS_23],
            cis_m365: &["CIS 3.1.1"],
        },
        evaluate: c::copilot_prompt_audit,
    },
    Entry {
        check: BaselineCheck {
            id: "DS-17",
            title: "No Conditional Access policy is left in report-only mode",
            evaluates: "Conditional Access: policies in state enabledForReportingButNotEnforced; not applicable when there is no policy",
            essential_eight: &[],
            apra_cps234: &[CPS_21, CPS_27],
            cis_m365: &[],
        },
        evaluate: c::ca_no_report_only,
    },
];

/// Every check with its evaluator.
pub(super) fn entries() -> &'static [Entry] {
    &ENTRIES
}

/// Every baseline check docsync applies, in id order.
pub fn baseline_catalog() -> Vec<BaselineCheck> {
    ENTRIES.iter().map(|e| e.check).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sequential_and_unique() {
        for (i, check) in baseline_catalog().iter().enumerate() {
            assert_eq!(check.id, format!("DS-{:02}", i + 1));
        }
        assert!(baseline_catalog().len() >= 15);
    }

    #[test]
    fn every_reference_is_a_known_control_listed_once() {
        for check in baseline_catalog() {
            for r in check
                .essential_eight
                .iter()
                .chain(check.apra_cps234)
                .chain(check.cis_m365)
            {
                assert!(
                    framework_controls().iter().any(|(id, _)| id == r),
                    "{} references {r}, which has no title",
                    check.id
                );
            }
        }
        let mut ids: Vec<&str> = framework_controls().iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), framework_controls().len());
    }
}
