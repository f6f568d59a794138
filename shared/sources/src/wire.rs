//! Microsoft's JSON shapes, as much of them as docsync reads. Every field is optional or
//! defaulted (`null` included), so a new or missing field never fails a section.

use serde::{Deserialize, Deserializer};

/// `null` or missing becomes the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A number that may arrive as a JSON number or a string.
fn flex_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A count that may arrive as a JSON number or a string.
fn flex_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(flex_f64(d)?.map_or(0, |f| if f > 0.0 { f as u64 } else { 0 }))
}

/// A bool that may arrive as `true`, `"True"` or `null`.
fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Bool(b)) => b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// One page of a Graph collection.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct Page<T> {
    /// The items.
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
    pub(crate) value: Vec<T>,
    /// The next page's full URL.
    #[serde(rename = "@odata.nextLink", default)]
    pub(crate) next_link: Option<String>,
}

/// `GET /organization` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Organization {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) display_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) verified_domains: Vec<VerifiedDomain>,
}

/// A verified domain.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifiedDomain {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) is_default: bool,
}

/// `GET /subscribedSkus` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscribedSku {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) sku_part_number: String,
    #[serde(default, deserialize_with = "flex_u64")]
    pub(crate) consumed_units: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) prepaid_units: PrepaidUnits,
}

/// Seats of a SKU.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrepaidUnits {
    #[serde(default, deserialize_with = "flex_u64")]
    pub(crate) enabled: u64,
}

/// `GET /reports/authenticationMethods/userRegistrationDetails` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationDetail {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) user_principal_name: String,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) is_admin: bool,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) is_mfa_registered: bool,
    /// `member` or `guest`.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) user_type: String,
}

/// `GET /policies/authenticationMethodsPolicy`: one object, its methods expanded.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthenticationMethodsPolicy {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) authentication_method_configurations: Vec<AuthenticationMethodConfiguration>,
}

/// An item of `authenticationMethodConfigurations`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthenticationMethodConfiguration {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) id: String,
    /// `enabled` or `disabled`.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) state: String,
}

/// `GET /identity/conditionalAccess/policies` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConditionalAccessPolicy {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) display_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) conditions: Conditions,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) grant_controls: GrantControls,
}

/// A policy's conditions.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conditions {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) users: UserConditions,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) applications: ApplicationConditions,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) client_app_types: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) sign_in_risk_levels: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) user_risk_levels: Vec<String>,
}

/// Which cloud apps a policy applies to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationConditions {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) include_applications: Vec<String>,
}

/// Who a policy applies to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserConditions {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) include_users: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) include_roles: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) include_groups: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) exclude_users: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) exclude_groups: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) exclude_roles: Vec<String>,
}

/// A policy's grant controls.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrantControls {
    /// `OR` or `AND`.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) operator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) built_in_controls: Vec<String>,
    #[serde(default)]
    pub(crate) authentication_strength: Option<serde_json::Value>,
}

/// `GET /security/incidents` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Incident {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) display_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) severity: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) status: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) created_date_time: String,
}

/// `GET /security/secureScores` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecureScore {
    #[serde(default, deserialize_with = "flex_f64")]
    pub(crate) current_score: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    pub(crate) max_score: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) control_scores: Vec<ControlScore>,
}

/// One control's points in a secure score.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ControlScore {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) control_name: String,
    #[serde(default, deserialize_with = "flex_f64")]
    pub(crate) score: Option<f64>,
}

/// `GET /security/secureScoreControlProfiles` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ControlProfile {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) title: String,
    #[serde(default, deserialize_with = "flex_f64")]
    pub(crate) max_score: Option<f64>,
}

/// `getMicrosoft365CopilotUsageUserDetail` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CopilotUsage {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) user_principal_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) last_activity_date: String,
}

/// `Get-DkimSigningConfig` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DkimSigningConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) domain: String,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) enabled: bool,
}

/// `Get-AntiPhishPolicy` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AntiPhishPolicy {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) enabled: bool,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) enable_mailbox_intelligence: bool,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) enable_targeted_user_protection: bool,
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) enable_organization_domains_protection: bool,
}

/// `Get-AdminAuditLogConfig` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AdminAuditLogConfig {
    #[serde(default, deserialize_with = "flex_bool")]
    pub(crate) unified_audit_log_ingestion_enabled: bool,
}
