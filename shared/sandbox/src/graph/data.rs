//! Graph JSON shapes built from a fixture: organization, SKUs, registration details,
//! Conditional Access, incidents, secure scores and Copilot usage.

use crate::fixtures::{FixtureUser, TenantFixture};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// `GET /organization` item.
pub(super) fn organization(t: &TenantFixture) -> Value {
    let domains: Vec<Value> = t
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let initial = d.ends_with(".onmicrosoft.com");
            json!({"capabilities": if initial { "Email, OfficeCommunicationsOnline" } else { "Email" },
                   "isDefault": i == 0, "isInitial": initial, "name": d, "type": "Managed"})
        })
        .collect();
    json!({
        "id": t.microsoft_tenant_id,
        "displayName": t.display_name,
        "countryLetterCode": "AU",
        "preferredLanguage": "en-AU",
        "tenantType": "AAD",
        "createdDateTime": "2019-03-14T02:11:45Z",
        "verifiedDomains": domains,
    })
}

/// `GET /subscribedSkus` items.
pub(super) fn skus(t: &TenantFixture) -> Vec<Value> {
    t.skus
        .iter()
        .map(|s| {
            json!({
                "id": format!("{}_{}", t.microsoft_tenant_id, s.sku_id),
                "accountId": t.microsoft_tenant_id,
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": s.consumed,
                "skuId": s.sku_id,
                "skuPartNumber": s.sku_part_number,
                "prepaidUnits": {"enabled": s.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
                "servicePlans": [],
            })
        })
        .collect()
}

/// One `userRegistrationDetails` item.
pub(super) fn registration(u: &FixtureUser) -> Value {
    let methods: Vec<&str> = if u.is_mfa_registered {
        vec!["microsoftAuthenticatorPush", "softwareOneTimePasscode"]
    } else if u.is_mfa_capable {
        vec!["mobilePhone"]
    } else {
        vec![]
    };
    json!({
        "id": u.id,
        "userPrincipalName": u.upn,
        "userDisplayName": u.display_name,
        "userType": if u.is_guest { "guest" } else { "member" },
        "isAdmin": u.is_admin,
        "isSsprRegistered": u.is_mfa_registered,
        "isSsprEnabled": true,
        "isSsprCapable": u.is_mfa_registered,
        "isMfaRegistered": u.is_mfa_registered,
        "isMfaCapable": u.is_mfa_capable,
        "isPasswordlessCapable": false,
        "isSystemPreferredAuthenticationMethodEnabled": false,
        "methodsRegistered": methods,
        "defaultMfaMethod": if u.is_mfa_registered { "microsoftAuthenticatorPush" } else { "none" },
        "lastUpdatedDateTime": (Utc::now() - Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// `GET /identity/conditionalAccess/policies` items.
pub(super) fn ca_policies(t: &TenantFixture) -> Vec<Value> {
    t.ca_policies
        .iter()
        .map(|p| {
            let operator = &p.grant_operator;
            json!({
                "id": p.id,
                "displayName": p.display_name,
                "state": p.state,
                "createdDateTime": "2023-05-02T04:12:09.1234567Z",
                "modifiedDateTime": null,
                "conditions": {
                    "users": {
                        "includeUsers": p.include_users,
                        "excludeUsers": p.exclude_users,
                        "includeGroups": [],
                        "excludeGroups": [],
                        "includeRoles": p.include_roles,
                        "excludeRoles": p.exclude_roles,
                    },
                    "applications": {"includeApplications": p.include_applications, "excludeApplications": []},
                    "clientAppTypes": p.client_app_types,
                    "signInRiskLevels": p.sign_in_risk_levels,
                    "userRiskLevels": p.user_risk_levels,
                    "platforms": null,
                    "locations": null,
                },
                "grantControls": {
                    "operator": operator,
                    "builtInControls": p.built_in_controls,
                    "customAuthenticationFactors": [],
                    "termsOfUse": [],
                },
                "sessionControls": null,
            })
        })
        .collect()
}

/// `GET /security/incidents`, filtered by an OData `$filter` of `eq` clauses on `severity`
/// and `status` joined by `and`.
pub(super) fn incidents(t: &TenantFixture, filter: Option<&str>) -> Result<Vec<Value>, String> {
    let mut clauses = Vec::new();
    if let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) {
        for clause in filter.split(" and ") {
            let parts: Vec<&str> = clause.split_whitespace().collect();
            match parts.as_slice() {
                [field @ ("severity" | "status"), "eq", value]
                    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') =>
                {
                    clauses.push((*field, value.trim_matches('\'').to_string()));
                }
                _ => return Err(format!("Invalid filter clause: '{}'.", clause.trim())),
            }
        }
    }
    let mut all: Vec<(&str, &str, String)> = (0..t.high_active_incidents)
        .map(|i| {
            (
                "high",
                "active",
                format!(
                    "Multi-stage incident involving credential access on {} endpoints",
                    i + 2
                ),
            )
        })
        .collect();
    all.push((
        "medium",
        "active",
        "Suspicious inbox forwarding rule".into(),
    ));
    all.push(("low", "active", "Unfamiliar sign-in properties".into()));
    all.push((
        "high",
        "resolved",
        "Ransomware activity on one endpoint".into(),
    ));
    // An incident was created once: its times are the same on every read (counted back from
    // when this process first served incidents, to the second).
    static ANCHOR: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let now = *ANCHOR.get_or_init(|| {
        chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default()
    });
    Ok(all
        .into_iter()
        .enumerate()
        .filter(|(_, (sev, status, _))| {
            clauses.iter().all(|(f, v)| if *f == "severity" { sev == v } else { status == v })
        })
        .map(|(i, (severity, status, name))| {
            let id = 1000 + t.index * 100 + i;
            json!({
                "id": id.to_string(),
                "tenantId": t.microsoft_tenant_id,
                "displayName": name,
                "severity": severity,
                "status": status,
                "classification": "unknown",
                "determination": "unknown",
                "assignedTo": null,
                "createdDateTime": (now - Duration::days(i64::try_from(i).unwrap_or(0) + 1)).to_rfc3339(),
                "lastUpdateDateTime": now.to_rfc3339(),
                "incidentWebUrl": format!("https://security.microsoft.com/incidents/{id}?tid={}", t.microsoft_tenant_id),
                "tags": [],
                "comments": [],
            })
        })
        .collect())
}

/// `GET /security/secureScores`: the latest first, at most `top`.
pub(super) fn secure_scores(t: &TenantFixture, top: usize) -> Vec<Value> {
    let (current, max) = t.secure_score;
    let controls: Vec<Value> = t
        .control_scores
        .iter()
        .map(|c| {
            json!({
                "controlCategory": c.control_category,
                "controlName": c.control_name,
                "description": c.title,
                "score": c.score,
                "scoreInPercentage": if c.max_score > 0.0 { (c.score / c.max_score * 10000.0).round() / 100.0 } else { 0.0 },
                "implementationStatus": if c.score >= c.max_score { "Implemented" } else { "Not implemented" },
                "lastSynced": Utc::now().format("%Y-%m-%dT00:00:00Z").to_string(),
            })
        })
        .collect();
    (0..3i64)
        .take(top)
        .map(|day| {
            let date = Utc::now() - Duration::days(day);
            let score = (current - day as f64).max(0.0);
            json!({
                "id": format!("{}_{}", t.microsoft_tenant_id, date.format("%Y-%m-%d")),
                "azureTenantId": t.microsoft_tenant_id,
                "activeUserCount": t.users.len(),
                "licensedUserCount": t.users.len(),
                "createdDateTime": date.format("%Y-%m-%dT00:00:00Z").to_string(),
                "currentScore": score,
                "maxScore": max,
                "enabledServices": ["HasExchange", "HasSharePoint", "HasOD4B"],
                "averageComparativeScores": [{"basis": "AllTenants", "averageScore": 44.5}],
                "controlScores": controls,
                "vendorInformation": {"provider": "SecureScore", "vendor": "Microsoft", "providerVersion": null, "subProvider": null},
            })
        })
        .collect()
}

/// `GET /security/secureScoreControlProfiles` items.
pub(super) fn control_profiles(t: &TenantFixture) -> Vec<Value> {
    t.control_scores
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            json!({
                "id": c.control_name,
                "azureTenantId": t.microsoft_tenant_id,
                "title": c.title,
                "maxScore": c.max_score,
                "controlCategory": c.control_category,
                "actionType": "Config",
                "service": if c.control_category == "Identity" { "AzureAD" } else { "MDO" },
                "tier": "Core",
                "userImpact": "Low",
                "implementationCost": "Low",
                "rank": rank + 1,
                "deprecated": false,
                "remediation": format!("<p>{}</p>", c.title),
                "actionUrl": "https://security.microsoft.com/securescore",
                "controlStateUpdates": [],
                "vendorInformation": {"provider": "SecureScore", "vendor": "Microsoft"},
            })
        })
        .collect()
}

/// Copilot usage rows: one per licensed user; active users have a date in the last 30 days.
pub(super) fn copilot_rows(t: &TenantFixture) -> Vec<Value> {
    let refresh = Utc::now().date_naive() - Duration::days(1);
    t.users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.copilot_licensed)
        .map(|(i, u)| {
            let last = u.copilot_active_last_30d.then(|| {
                (refresh - Duration::days(i64::try_from(i % 20).unwrap_or(0) + 1)).to_string()
            });
            json!({
                "reportRefreshDate": refresh.to_string(),
                "userPrincipalName": u.upn,
                "displayName": u.display_name,
                "lastActivityDate": last,
                "copilotChatLastActivityDate": last,
                "microsoftTeamsCopilotLastActivityDate": last,
                "wordCopilotLastActivityDate": null,
                "excelCopilotLastActivityDate": null,
                "powerPointCopilotLastActivityDate": null,
                "outlookCopilotLastActivityDate": last,
                "oneNoteCopilotLastActivityDate": null,
                "loopCopilotLastActivityDate": null,
                "copilotActivityUserDetailsByPeriod": [{"reportPeriod": 30}],
            })
        })
        .collect()
}
