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
    let include_applications = p.conditions.applications.include_applications.clone();
    let all_applications = include_applications
        .iter()
        .any(|a| a.eq_ignore_ascii_case("All"));
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
            users.exclude_users.len() + users.exclude_groups.len() + users.exclude_roles.len(),
        ),
        all_users,
        all_applications,
        include_applications,
        include_roles: users.include_roles.clone(),
        exclude_users: users.exclude_users.clone(),
        exclude_groups: users.exclude_groups.clone(),
        exclude_roles: users.exclude_roles.clone(),
        client_app_types: p.conditions.client_app_types.clone(),
        sign_in_risk_levels: p.conditions.sign_in_risk_levels.clone(),
        user_risk_levels: p.conditions.user_risk_levels.clone(),
        grant_controls,
        grant_operator: p.grant_controls.operator.clone(),
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
            plural(exclusions, "user, group or role")
        ));
    }
    text
}

fn grants(p: &CaPolicy, control: &str) -> bool {
    p.grant_controls
        .iter()
        .any(|c| c.eq_ignore_ascii_case(control))
}

fn is_mfa_control(control: &str) -> bool {
    control.eq_ignore_ascii_case("mfa") || control.eq_ignore_ascii_case("authenticationStrength")
}

/// Requires MFA, directly or through an authentication strength, whatever else the grant
/// offers: with the operator `OR` every control must be MFA (`mfa` OR `compliantDevice` lets a
/// compliant device in without MFA); with `AND` one MFA control is enough.
pub(crate) fn requires_mfa(p: &CaPolicy) -> bool {
    let any_mfa = p.grant_controls.iter().any(|c| is_mfa_control(c));
    if p.grant_operator.eq_ignore_ascii_case("AND") {
        any_mfa
    } else {
        any_mfa && p.grant_controls.iter().all(|c| is_mfa_control(c))
    }
}

/// The state `enabled` (report-only and disabled policies enforce nothing).
pub(crate) fn is_enabled(p: &CaPolicy) -> bool {
    p.state == STATE_ENABLED
}

fn no_risk_condition(p: &CaPolicy) -> bool {
    p.sign_in_risk_levels.is_empty() && p.user_risk_levels.is_empty()
}

/// An enabled policy for all users and every cloud app blocks Exchange ActiveSync or other
/// (legacy) clients.
pub(crate) fn blocks_legacy_auth(p: &CaPolicy) -> bool {
    is_enabled(p)
        && p.all_users
        && p.all_applications
        && grants(p, "block")
        && p.client_app_types
            .iter()
            .any(|t| t == "exchangeActiveSync" || t == "other")
}

/// An enabled policy requires MFA of all users on every cloud app and every sign-in (no risk
/// condition).
pub(crate) fn mfa_for_all_users(p: &CaPolicy) -> bool {
    is_enabled(p) && p.all_users && p.all_applications && requires_mfa(p) && no_risk_condition(p)
}

/// An enabled policy requires MFA of administrator roles (or of everyone) on every cloud app.
pub(crate) fn mfa_for_admins(p: &CaPolicy) -> bool {
    is_enabled(p)
        && requires_mfa(p)
        && p.all_applications
        && (p.all_users || !p.include_roles.is_empty())
        && no_risk_condition(p)
}

/// An enabled policy for all users and every cloud app acts on sign-in risk.
pub(crate) fn sign_in_risk_policy(p: &CaPolicy) -> bool {
    is_enabled(p)
        && p.all_users
        && p.all_applications
        && !p.sign_in_risk_levels.is_empty()
        && (requires_mfa(p) || grants(p, "block"))
}

/// An enabled policy for all users and every cloud app acts on user risk.
pub(crate) fn user_risk_policy(p: &CaPolicy) -> bool {
    is_enabled(p)
        && p.all_users
        && p.all_applications
        && !p.user_risk_levels.is_empty()
        && (grants(p, "passwordChange") || grants(p, "block") || requires_mfa(p))
}

/// The policy's exclusions in words ("guests and external users, 2 users, 1 role"), if any.
pub(crate) fn exclusions(p: &CaPolicy) -> Option<String> {
    let mut parts = Vec::new();
    if p.exclude_users.iter().any(|u| u == "GuestsOrExternalUsers") {
        parts.push("guests and external users".to_owned());
    }
    let named = p
        .exclude_users
        .iter()
        .filter(|u| u.as_str() != "GuestsOrExternalUsers")
        .count();
    if named > 0 {
        parts.push(plural(named, "user"));
    }
    if !p.exclude_groups.is_empty() {
        parts.push(plural(p.exclude_groups.len(), "group"));
    }
    if !p.exclude_roles.is_empty() {
        parts.push(plural(p.exclude_roles.len(), "role"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// What the policy enforces, in one line: state, users, apps, conditions, grant.
pub(crate) fn describe(p: &CaPolicy) -> String {
    let apps = if p.all_applications {
        "All".to_owned()
    } else if p.include_applications.is_empty() {
        "none".to_owned()
    } else {
        p.include_applications.join(", ")
    };
    let operator = if p.grant_operator.is_empty() {
        "OR"
    } else {
        p.grant_operator.as_str()
    };
    let grant = if p.grant_controls.is_empty() {
        "none".to_owned()
    } else {
        p.grant_controls.join(&format!(" {operator} "))
    };
    let mut text = format!(
        "state {}; users {}; apps {apps}; grant {grant}",
        p.state, p.target_users
    );
    if !p.client_app_types.is_empty() {
        text.push_str(&format!("; client apps {}", p.client_app_types.join(", ")));
    }
    if !p.sign_in_risk_levels.is_empty() {
        text.push_str(&format!(
            "; sign-in risk {}",
            p.sign_in_risk_levels.join(", ")
        ));
    }
    if !p.user_risk_levels.is_empty() {
        text.push_str(&format!("; user risk {}", p.user_risk_levels.join(", ")));
    }
    text
}

/// Why a policy that asks for MFA does not enforce it for everyone on every app (none when it
/// does): report-only or disabled, not every app, an `OR` with a non-MFA control, a risk
/// condition, not all users.
pub(crate) fn mfa_shortfalls(p: &CaPolicy, need_all_users: bool) -> Vec<String> {
    let mut why = Vec::new();
    if p.state == STATE_REPORT_ONLY {
        why.push("report-only, not enforced".to_owned());
    } else if !is_enabled(p) {
        why.push(format!("state {}", p.state));
    }
    if !p.all_applications {
        why.push("does not cover all cloud apps".to_owned());
    }
    if !requires_mfa(p) {
        let others: Vec<&str> = p
            .grant_controls
            .iter()
            .filter(|c| !is_mfa_control(c))
            .map(String::as_str)
            .collect();
        why.push(format!(
            "grant is mfa OR {}: MFA is not required",
            others.join(", ")
        ));
    }
    if !no_risk_condition(p) {
        why.push("only on risky sign-ins or users".to_owned());
    }
    if need_all_users && !p.all_users {
        why.push(format!("targets {}, not all users", p.target_users));
    }
    why
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
         "applications":{"includeApplications":["All"]},
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
            "All users (excluding 1 user, group or role)"
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
               "conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]}},
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
