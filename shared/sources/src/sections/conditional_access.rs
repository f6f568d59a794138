//! Conditional Access: per-state counts, each policy in brief, and the key gaps an MSP should
//! close (legacy authentication, MFA for everyone, MFA for admins, risk-based policies).

use crate::wire::ConditionalAccessPolicy;
use docsync_domain::snapshot::{CaPolicy, ConditionalAccessSummary};

/// Gap: no enabled policy blocks legacy authentication.
pub const GAP_LEGACY_AUTH: &str =
    "No enabled policy blocks legacy authentication (client apps Exchange ActiveSync / other clients with Block access)";
/// Gap: no enabled policy requires MFA for all users.
pub const GAP_MFA_ALL_USERS: &str = "No enabled policy requires MFA for all users";
/// Gap: no enabled policy requires MFA for admin roles.
pub const GAP_MFA_ADMINS: &str = "No enabled policy requires MFA for administrator roles";
/// Gap: no enabled sign-in risk policy.
pub const GAP_SIGN_IN_RISK: &str =
    "No enabled sign-in risk policy (Entra ID P2: require MFA or block on medium/high sign-in risk)";
/// Gap: no enabled user risk policy.
pub const GAP_USER_RISK: &str =
    "No enabled user risk policy (Entra ID P2: require a secure password change or block on high user risk)";

/// State of an enforced policy.
pub const STATE_ENABLED: &str = "enabled";
/// State of a report-only policy.
pub const STATE_REPORT_ONLY: &str = "enabledForReportingButNotEnforced";

/// Builds the Conditional Access section from every policy.
pub(crate) fn summarise(policies: &[ConditionalAccessPolicy]) -> ConditionalAccessSummary {
    let mut brief: Vec<CaPolicy> = policies.iter().map(to_policy).collect();
    brief.sort_by_key(|p| p.name.to_lowercase());
    let count = |state: &str| brief.iter().filter(|p| p.state == state).count() as u64;
    let enabled = count(STATE_ENABLED);
    let report_only = count(STATE_REPORT_ONLY);
    let disabled = count("disabled");
    let key_gaps = key_gaps(&brief);
    ConditionalAccessSummary {
        policy_count: brief.len() as u64,
        enabled,
        report_only,
        disabled,
        policies: brief,
        key_gaps,
    }
}

fn to_policy(p: &ConditionalAccessPolicy) -> CaPolicy {
    let users = &p.conditions.users;
    let all_users = users
        .include_users
        .iter()
        .any(|u| u.eq_ignore_ascii_case("All"));
    let mut grant_controls = p.grant_controls.built_in_controls.clone();
    if p.grant_controls
        .authentication_strength
        .as_ref()
        .is_some_and(|v| !v.is_null())
    {
        grant_controls.push("authenticationStrength".to_owned());
    }
    CaPolicy {
        name: p.display_name.clone(),
        state: p.state.clone(),
        target_users: describe_targets(
            &users.include_users,
            &users.include_roles,
            &users.include_groups,
            users.exclude_users.len() + users.exclude_groups.len(),
        ),
        all_users,
        include_roles: users.include_roles.clone(),
        client_app_types: p.conditions.client_app_types.clone(),
        sign_in_risk_levels: p.conditions.sign_in_risk_levels.clone(),
        user_risk_levels: p.conditions.user_risk_levels.clone(),
        grant_controls,
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// "All users", "3 roles", "2 groups, 1 user", "No users"; exclusions appended.
pub(crate) fn describe_targets(
    users: &[String],
    roles: &[String],
    groups: &[String],
    exclusions: usize,
) -> String {
    let mut parts = Vec::new();
    if users.iter().any(|u| u.eq_ignore_ascii_case("All")) {
        parts.push("All users".to_owned());
    } else {
        if users.iter().any(|u| u == "GuestsOrExternalUsers") {
            parts.push("guests and external users".to_owned());
        }
        let named = users
            .iter()
            .filter(|u| !matches!(u.as_str(), "None" | "GuestsOrExternalUsers"))
            .count();
        if !roles.is_empty() {
            parts.push(plural(roles.len(), "role"));
        }
        if !groups.is_empty() {
            parts.push(plural(groups.len(), "group"));
        }
        if named > 0 {
            parts.push(plural(named, "user"));
        }
    }
    let mut text = if parts.is_empty() {
        "No users".to_owned()
    } else {
        parts.join(", ")
    };
    if exclusions > 0 {
        text.push_str(&format!(
            " (excluding {})",
            plural(exclusions, "user or group")
        ));
    }
    text
}

fn grants(p: &CaPolicy, control: &str) -> bool {
    p.grant_controls
        .iter()
        .any(|c| c.eq_ignore_ascii_case(control))
}

/// Requires MFA, directly or through an authentication strength.
pub(crate) fn requires_mfa(p: &CaPolicy) -> bool {
    grants(p, "mfa") || grants(p, "authenticationStrength")
}

fn is_enabled(p: &CaPolicy) -> bool {
    p.state == STATE_ENABLED
}

/// An enabled policy blocks Exchange ActiveSync or other (legacy) clients.
pub(crate) fn blocks_legacy_auth(p: &CaPolicy) -> bool {
    is_enabled(p)
        && grants(p, "block")
        && p.client_app_types
            .iter()
            .any(|t| t == "exchangeActiveSync" || t == "other")
}

/// An enabled policy requires MFA of all users on every sign-in (no risk condition).
pub(crate) fn mfa_for_all_users(p: &CaPolicy) -> bool {
    is_enabled(p)
        && p.all_users
        && requires_mfa(p)
        && p.sign_in_risk_levels.is_empty()
        && p.user_risk_levels.is_empty()
}

/// An enabled policy requires MFA of administrator roles (or of everyone).
pub(crate) fn mfa_for_admins(p: &CaPolicy) -> bool {
    is_enabled(p)
        && requires_mfa(p)
        && (p.all_users || !p.include_roles.is_empty())
        && p.sign_in_risk_levels.is_empty()
        && p.user_risk_levels.is_empty()
}

/// An enabled policy acts on sign-in risk.
pub(crate) fn sign_in_risk_policy(p: &CaPolicy) -> bool {
    is_enabled(p) && !p.sign_in_risk_levels.is_empty() && (requires_mfa(p) || grants(p, "block"))
}

/// An enabled policy acts on user risk.
pub(crate) fn user_risk_policy(p: &CaPolicy) -> bool {
    is_enabled(p)
        && !p.user_risk_levels.is_empty()
        && (grants(p, "passwordChange") || grants(p, "block") || requires_mfa(p))
}

/// A test that one policy covers a gap.
type Covers = fn(&CaPolicy) -> bool;

/// The gaps, in a fixed order.
pub(crate) fn key_gaps(policies: &[CaPolicy]) -> Vec<String> {
    let checks: [(Covers, &str); 5] = [
        (blocks_legacy_auth, GAP_LEGACY_AUTH),
        (mfa_for_all_users, GAP_MFA_ALL_USERS),
        (mfa_for_admins, GAP_MFA_ADMINS),
        (sign_in_risk_policy, GAP_SIGN_IN_RISK),
        (user_risk_policy, GAP_USER_RISK),
    ];
    let mut gaps: Vec<String> = Vec::new();
    if !policies.iter().any(is_enabled) {
        let report_only = policies
            .iter()
            .filter(|p| p.state == STATE_REPORT_ONLY)
            .count();
        gaps.push(format!(
            "No Conditional Access policy is enforced ({} in report-only)",
            report_only
        ));
    }
    gaps.extend(
        checks
            .iter()
            .filter(|(covered, _)| !policies.iter().any(covered))
            .map(|(_, gap)| (*gap).to_owned()),
    );
    gaps
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::Page;

    const REAL: &str = r#"{"value":[
      {"id":"1","displayName":"Block legacy authentication","state":"enabled",
       "conditions":{"clientAppTypes":["exchangeActiveSync","other"],"signInRiskLevels":[],"userRiskLevels":[],
         "applications":{"includeApplications":["All"]},
         "users":{"includeUsers":["All"],"excludeUsers":[],"includeGroups":[],"excludeGroups":["g1"],"includeRoles":[],"excludeRoles":[]}},
       "grantControls":{"operator":"OR","builtInControls":["block"],"customAuthenticationFactors":[],"termsOfUse":[],"authenticationStrength":null},
       "sessionControls":null},
      {"id":"2","displayName":"Require MFA for admins","state":"enabled",
       "conditions":{"clientAppTypes":["all"],"signInRiskLevels":[],"userRiskLevels":[],
         "users":{"includeUsers":[],"includeGroups":[],"includeRoles":["62e90394-69f5-4237-9190-012177145e10","194ae4cb-b126-40b2-bd5b-6091b380977d"]}},
       "grantControls":{"operator":"OR","builtInControls":["mfa"]}},
      {"id":"3","displayName":"Require MFA for all users","state":"enabledForReportingButNotEnforced",
       "conditions":{"clientAppTypes":["all"],"users":{"includeUsers":["All"]}},
       "grantControls":{"operator":"OR","builtInControls":["mfa"]}},
      {"id":"4","displayName":"Risky sign-ins <pilot>","state":"disabled",
       "conditions":{"clientAppTypes":["all"],"signInRiskLevels":["high","medium"],"users":{"includeUsers":["a","b"],"includeGroups":["g"]}},
       "grantControls":null}
    ]}"#;

    fn parsed() -> ConditionalAccessSummary {
        let page: Page<ConditionalAccessPolicy> = serde_json::from_str(REAL).unwrap();
        summarise(&page.value)
    }

    #[test]
    fn counts_per_state_and_targets() {
        let s = parsed();
        assert_eq!(
            (s.policy_count, s.enabled, s.report_only, s.disabled),
            (4, 2, 1, 1)
        );
        let by_name = |n: &str| s.policies.iter().find(|p| p.name == n).unwrap();
        assert_eq!(
            by_name("Block legacy authentication").target_users,
            "All users (excluding 1 user or group)"
        );
        assert_eq!(by_name("Require MFA for admins").target_users, "2 roles");
        assert_eq!(
            by_name("Risky sign-ins <pilot>").target_users,
            "1 group, 2 users"
        );
        assert!(by_name("Risky sign-ins <pilot>").grant_controls.is_empty());
    }

    #[test]
    fn gaps_ignore_policies_that_are_not_enforced() {
        let s = parsed();
        assert_eq!(
            s.key_gaps,
            vec![GAP_MFA_ALL_USERS, GAP_SIGN_IN_RISK, GAP_USER_RISK]
        );
    }

    #[test]
    fn no_policies_is_every_gap() {
        let gaps = key_gaps(&[]);
        assert_eq!(gaps.len(), 6);
        assert!(gaps[0].starts_with("No Conditional Access policy is enforced"));
    }

    #[test]
    fn authentication_strength_counts_as_mfa() {
        let page: Page<ConditionalAccessPolicy> = serde_json::from_str(
            r#"{"value":[{"displayName":"Phishing-resistant MFA","state":"enabled",
               "conditions":{"users":{"includeUsers":["All"]}},
               "grantControls":{"builtInControls":[],"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000004"}}}]}"#,
        )
        .unwrap();
        let s = summarise(&page.value);
        assert!(!s.key_gaps.iter().any(|g| g == GAP_MFA_ALL_USERS));
        assert!(!s.key_gaps.iter().any(|g| g == GAP_MFA_ADMINS));
    }

    #[test]
    fn legacy_block_needs_legacy_client_types() {
        let page: Page<ConditionalAccessPolicy> = serde_json::from_str(
            r#"{"value":[{"displayName":"Block all browsers","state":"enabled",
               "conditions":{"clientAppTypes":["browser"],"users":{"includeUsers":["All"]}},
               "grantControls":{"builtInControls":["block"]}}]}"#,
        )
        .unwrap();
        assert!(summarise(&page.value)
            .key_gaps
            .iter()
            .any(|g| g == GAP_LEGACY_AUTH));
    }
}
