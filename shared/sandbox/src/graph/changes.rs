//! Test hooks that change a tenant the way an admin would, and log it: each [`TenantChange`]
//! edits the fixture Graph serves (Conditional Access policies, the authentication methods
//! policy, domains), and appends the matching directory audit entry, with the category,
//! activity and service Entra logs for it. `POST /_sandbox/changes` on the Graph port takes
//! `{"tenantId": "<Entra tenant id>", "change": {"kind": "...", ...}}` and answers 201 with the
//! entry.

use super::audits::Entry;
use crate::fixtures::FixtureCaPolicy;
use crate::state::State;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// A change to a sandbox tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum TenantChange {
    /// Adds an enabled Conditional Access policy requiring MFA for all users
    /// (`Add conditional access policy`, category `Policy`).
    #[serde(rename_all = "camelCase")]
    AddConditionalAccessPolicy {
        /// The new policy's name.
        display_name: String,
    },
    /// Sets an existing policy's state, `enabled`, `disabled` or
    /// `enabledForReportingButNotEnforced` (`Update conditional access policy`).
    #[serde(rename_all = "camelCase")]
    SetConditionalAccessPolicyState {
        /// The policy's id.
        policy_id: String,
        /// Its new state.
        state: String,
    },
    /// Turns one method of the authentication methods policy on or off (`enabled` or
    /// `disabled`), e.g. SMS (`Sms`) (`Authentication Methods Policy Update`, category
    /// `Policy`).
    #[serde(rename_all = "camelCase")]
    SetAuthenticationMethodState {
        /// The method's id in the policy (`Sms`, `Fido2`, ...; any case).
        method_id: String,
        /// Its new state.
        state: String,
    },
    /// Adds and verifies a domain (`Verify domain`, category `DirectoryManagement`).
    #[serde(rename_all = "camelCase")]
    AddDomain {
        /// The domain name.
        name: String,
    },
    /// An unrelated change: a user's attribute (`Update user`, category `UserManagement`).
    UpdateUser,
}

/// Why a change could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// No fixture at that index.
    #[error("no sandbox tenant {0}")]
    UnknownTenant(String),
    /// The change names something the tenant does not have, or a bad value.
    #[error("{0}")]
    Invalid(String),
}

/// Applies `change` to fixture `index` and logs it; returns the audit entry.
pub(crate) fn apply(
    state: &State,
    index: usize,
    change: &TenantChange,
) -> Result<Value, ChangeError> {
    let tenant = state
        .tenant(index)
        .ok_or_else(|| ChangeError::UnknownTenant(index.to_string()))?;
    let mut changed = (*tenant).clone();
    let entry = match change {
        TenantChange::AddConditionalAccessPolicy { display_name } => {
            let policy = FixtureCaPolicy {
                id: uuid::Uuid::new_v4().to_string(),
                display_name: display_name.clone(),
                state: "enabled".into(),
                include_users: vec!["All".into()],
                exclude_users: vec![],
                include_roles: vec![],
                exclude_roles: vec![],
                include_applications: vec!["All".into()],
                grant_operator: "OR".into(),
                client_app_types: vec!["all".into()],
                built_in_controls: vec!["mfa".into()],
                sign_in_risk_levels: vec![],
                user_risk_levels: vec![],
            };
            let new_value =
                json!({"displayName": policy.display_name, "state": policy.state}).to_string();
            changed.ca_policies.push(policy.clone());
            state.replace_tenant(changed);
            state.audits.append(
                &tenant,
                &Entry {
                    category: "Policy",
                    activity: "Add conditional access policy",
                    service: "Conditional Access",
                    operation: "Add",
                    target: (&policy.id, &policy.display_name, "Policy"),
                    modified: vec![json!({"displayName": "ConditionalAccessPolicy", "oldValue": null, "newValue": new_value})],
                },
            )
        }
        TenantChange::SetConditionalAccessPolicyState {
            policy_id,
            state: to,
        } => {
            if !["enabled", "disabled", "enabledForReportingButNotEnforced"].contains(&to.as_str())
            {
                return Err(ChangeError::Invalid(format!(
                    "state must be enabled, disabled or enabledForReportingButNotEnforced, got {to:?}"
                )));
            }
            let Some(policy) = changed.ca_policies.iter_mut().find(|p| &p.id == policy_id) else {
                return Err(ChangeError::Invalid(format!(
                    "the tenant has no Conditional Access policy {policy_id}"
                )));
            };
            let old = json!({"state": policy.state}).to_string();
            policy.state = to.clone();
            let (id, name) = (policy.id.clone(), policy.display_name.clone());
            state.replace_tenant(changed);
            state.audits.append(
                &tenant,
                &Entry {
                    category: "Policy",
                    activity: "Update conditional access policy",
                    service: "Conditional Access",
                    operation: "Update",
                    target: (&id, &name, "Policy"),
                    modified: vec![json!({"displayName": "ConditionalAccessPolicy", "oldValue": old, "newValue": json!({"state": to}).to_string()})],
                },
            )
        }
        TenantChange::SetAuthenticationMethodState {
            method_id,
            state: to,
        } => {
            if !["enabled", "disabled"].contains(&to.as_str()) {
                return Err(ChangeError::Invalid(format!(
                    "state must be enabled or disabled, got {to:?}"
                )));
            }
            let Some(method) = changed
                .auth_methods
                .iter_mut()
                .find(|(id, _)| id.eq_ignore_ascii_case(method_id))
            else {
                return Err(ChangeError::Invalid(format!(
                    "the authentication methods policy has no method {method_id}"
                )));
            };
            let old = json!({"id": method.0, "state": method.1}).to_string();
            method.1 = to.clone();
            let new_value = json!({"id": method.0, "state": to}).to_string();
            state.replace_tenant(changed);
            state.audits.append(
                &tenant,
                &Entry {
                    category: "Policy",
                    activity: "Authentication Methods Policy Update",
                    service: "Authentication Methods",
                    operation: "Update",
                    target: (
                        "authenticationMethodsPolicy",
                        "Authentication Methods Policy",
                        "Policy",
                    ),
                    modified: vec![json!({"displayName": "AuthenticationMethodConfigurations", "oldValue": old, "newValue": new_value})],
                },
            )
        }
        TenantChange::AddDomain { name } => {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || !name.contains('.') || changed.domains.contains(&name) {
                return Err(ChangeError::Invalid(format!(
                    "the domain must be a new name such as example.com, got {name:?}"
                )));
            }
            // Before the onmicrosoft.com domain, which stays last.
            let at = changed.domains.len().saturating_sub(1);
            changed.domains.insert(at, name.clone());
            state.replace_tenant(changed);
            state.audits.append(
                &tenant,
                &Entry {
                    category: "DirectoryManagement",
                    activity: "Verify domain",
                    service: "Core Directory",
                    operation: "Update",
                    target: (&name, &name, "Other"),
                    modified: vec![],
                },
            )
        }
        TenantChange::UpdateUser => {
            let user = tenant.users.last().or(tenant.users.first());
            let (id, upn) = user.map_or((String::new(), String::new()), |u| {
                (u.id.clone(), u.upn.clone())
            });
            state.audits.append(
                &tenant,
                &Entry {
                    category: "UserManagement",
                    activity: "Update user",
                    service: "Core Directory",
                    operation: "Update",
                    target: (&id, &upn, "User"),
                    modified: vec![json!({"displayName": "JobTitle", "oldValue": "[]", "newValue": "[\"Accountant\"]"})],
                },
            )
        }
    };
    Ok(entry)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChangeRequest {
    tenant_id: String,
    change: TenantChange,
}

/// `POST /_sandbox/changes`.
pub(crate) async fn post(
    AxState(state): AxState<Arc<State>>,
    body: Result<Json<ChangeRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.body_text()})),
            )
                .into_response()
        }
    };
    let Some(index) = state.tenant_index(&request.tenant_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no sandbox tenant {}", request.tenant_id)})),
        )
            .into_response();
    };
    match apply(&state, index, &request.change) {
        Ok(entry) => (StatusCode::CREATED, Json(json!({"entry": entry}))).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}
