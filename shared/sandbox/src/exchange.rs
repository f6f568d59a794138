//! The Exchange Online admin REST endpoint (`InvokeCommand`) for the three read cmdlets docsync
//! runs: DKIM signing, anti-phishing policies and the admin audit log configuration.

use crate::graph::graph_error;
use crate::state::{Audience, State};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Routes of the Exchange port.
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
        .with_state(state)
}

async fn invoke(
    AxState(state): AxState<Arc<State>>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    state.exchange_requests.fetch_add(1, Ordering::Relaxed);
    let index = match state.authorize(&headers, Audience::Exchange) {
        Ok(index) => index,
        Err(e) => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                e.message(),
            )
        }
    };
    if state.tenant_index(&tenant_id) != Some(index) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            &format!("The token was issued for another tenant than '{tenant_id}'."),
        );
    }
    let Some(tenant) = state.tenant(index) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Unknown tenant.",
        );
    };
    if tenant.is_denied("exchange") {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The user or application is not assigned an Exchange administrator role (Exchange.ManageAsApp).",
        );
    }
    let Ok(Json(body)) = body else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body is not valid JSON.",
        );
    };
    let cmdlet = body["CmdletInput"]["CmdletName"]
        .as_str()
        .unwrap_or_default();
    let value: Vec<Value> = match cmdlet {
        "Get-DkimSigningConfig" => tenant
            .dkim
            .iter()
            .map(|d| {
                let host = d.domain.replace('.', "-");
                json!({
                    "Domain": d.domain,
                    "Name": d.domain,
                    "Identity": d.domain,
                    "Enabled": d.enabled,
                    "Status": if d.enabled { "Valid" } else { "CnameMissing" },
                    "Selector1CNAME": format!("selector1-{host}._domainkey.{}", tenant.domains.last().map(String::as_str).unwrap_or_default()),
                    "Selector2CNAME": format!("selector2-{host}._domainkey.{}", tenant.domains.last().map(String::as_str).unwrap_or_default()),
                    "KeySize": 2048,
                })
            })
            .collect(),
        "Get-AntiPhishPolicy" => tenant
            .anti_phish_policies
            .iter()
            .map(|p| {
                json!({
                    "Name": p.name,
                    "Identity": p.name,
                    "Enabled": p.enabled,
                    "EnableMailboxIntelligence": p.mailbox_intelligence,
                    "EnableMailboxIntelligenceProtection": p.mailbox_intelligence && !p.is_default,
                    "EnableTargetedUserProtection": p.targeted_user_protection,
                    "EnableOrganizationDomainsProtection": p.organization_domains_protection,
                    "EnableSpoofIntelligence": true,
                    "PhishThresholdLevel": if p.is_default { 1 } else { 2 },
                    "IsDefault": p.is_default,
                })
            })
            .collect(),
        "Get-AdminAuditLogConfig" => vec![json!({
            "Identity": "Admin Audit Log Settings",
            "UnifiedAuditLogIngestionEnabled": tenant.unified_audit_enabled,
            "AdminAuditLogEnabled": true,
            "AdminAuditLogAgeLimit": "90.00:00:00",
        })],
        other => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("The term '{other}' is not recognized as a name of a cmdlet available in this session."),
            )
        }
    };
    Json(json!({
        "@odata.context": format!("https://outlook.office365.com/adminapi/beta/{}/$metadata#Collection(Exchange.GenericHashTable)", tenant.microsoft_tenant_id),
        "adminapi.warnings@odata.type": "#Collection(String)",
        "adminapi.warnings": [],
        "value": value,
    }))
    .into_response()
}
