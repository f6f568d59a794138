//! `GET /auditLogs/directoryAudits`: each tenant's Entra directory audit log, in Graph's
//! `directoryAudit` shape, newest first (or `$orderby=activityDateTime asc`), filtered by
//! [`Filter`], paged by `$top` (1 to 1000, [100]) through `@odata.nextLink` with a skip token
//! bound to the tenant.
//!
//! Every tenant starts with a little history, dated relative to the moment its log was first
//! read: unrelated entries days old and one Conditional Access update five minutes old (a
//! watcher's first look must take none of it for a new change). [`AuditLog::append`] adds the
//! entries that the test hooks' changes make.

use super::audit_filter::Filter;
use super::{decode_skiptoken, encode_skiptoken, graph_error, Ctx};
use crate::fixtures::TenantFixture;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Default and largest page of directory audits.
const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 1000;

/// Every tenant's audit log (entries oldest first).
#[derive(Debug, Default)]
pub(crate) struct AuditLog {
    entries: Mutex<HashMap<usize, Vec<Value>>>,
}

/// What one audit entry records.
pub(crate) struct Entry<'a> {
    pub(crate) category: &'a str,
    pub(crate) activity: &'a str,
    pub(crate) service: &'a str,
    pub(crate) operation: &'a str,
    /// `(id, displayName, type)` of the target.
    pub(crate) target: (&'a str, &'a str, &'a str),
    /// `modifiedProperties` of the target.
    pub(crate) modified: Vec<Value>,
}

/// The JSON of one `directoryAudit`, initiated by the tenant's first admin.
pub(crate) fn entry_json(t: &TenantFixture, e: &Entry<'_>, at: DateTime<Utc>) -> Value {
    let admin = t.users.first();
    let (target_id, target_name, target_type) = e.target;
    json!({
        "id": format!("Directory_{}", uuid::Uuid::new_v4().simple()),
        "category": e.category,
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": e.activity,
        // Graph writes seven fraction digits (chrono formats at most nine, in steps of three).
        "activityDateTime": format!("{}0Z", at.format("%Y-%m-%dT%H:%M:%S%.6f")),
        "loggedByService": e.service,
        "operationType": e.operation,
        "initiatedBy": {
            "app": null,
            "user": {
                "id": admin.map(|u| u.id.clone()),
                "displayName": null,
                "userPrincipalName": admin.map(|u| u.upn.clone()),
                "ipAddress": "203.0.113.10",
                "userType": null,
                "homeTenantId": null,
                "homeTenantName": null,
            },
        },
        "targetResources": [{
            "id": target_id,
            "displayName": target_name,
            "type": target_type,
            "userPrincipalName": if target_type == "User" { Value::String(target_name.to_owned()) } else { Value::Null },
            "groupType": null,
            "modifiedProperties": e.modified,
        }],
        "additionalDetails": [],
    })
}

/// The history a tenant's log starts with, dated before `now`.
fn history(t: &TenantFixture, now: DateTime<Utc>) -> Vec<Value> {
    let user = t.users.get(1).or(t.users.first());
    let (user_id, upn) = user.map_or(("", ""), |u| (u.id.as_str(), u.upn.as_str()));
    let mut out = vec![
        entry_json(
            t,
            &Entry {
                category: "UserManagement",
                activity: "Update user",
                service: "Core Directory",
                operation: "Update",
                target: (user_id, upn, "User"),
                modified: vec![],
            },
            now - Duration::days(3),
        ),
        entry_json(
            t,
            &Entry {
                category: "DirectoryManagement",
                activity: "Set company information",
                service: "Core Directory",
                operation: "Update",
                target: (&t.microsoft_tenant_id, &t.display_name, "Directory"),
                modified: vec![],
            },
            now - Duration::days(1),
        ),
    ];
    if let Some(p) = t.ca_policies.first() {
        out.push(entry_json(
            t,
            &Entry {
                category: "Policy",
                activity: "Update conditional access policy",
                service: "Conditional Access",
                operation: "Update",
                target: (&p.id, &p.display_name, "Policy"),
                modified: vec![],
            },
            now - Duration::minutes(5),
        ));
    }
    out
}

impl AuditLog {
    fn with_log<R>(&self, t: &TenantFixture, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let log = map.entry(t.index).or_insert_with(|| history(t, Utc::now()));
        f(log)
    }

    /// Appends an entry dated now; returns it.
    pub(crate) fn append(&self, t: &TenantFixture, e: &Entry<'_>) -> Value {
        let value = entry_json(t, e, Utc::now());
        self.with_log(t, |log| log.push(value.clone()));
        value
    }

    /// Every entry of the tenant, newest first.
    pub(crate) fn all(&self, t: &TenantFixture) -> Vec<Value> {
        self.with_log(t, |log| log.iter().rev().cloned().collect())
    }
}

impl Ctx<'_> {
    /// One page of the tenant's directory audits.
    pub(super) fn directory_audits(&self) -> Response {
        let filter = match self.query.get("$filter") {
            None => None,
            Some(text) => match Filter::parse(text) {
                Ok(f) => Some(f),
                Err(msg) => return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &msg),
            },
        };
        let ascending = match self
            .query
            .get("$orderby")
            .map(|o| o.trim().to_ascii_lowercase())
        {
            None => false,
            // OData's default direction is ascending.
            Some(o) if o == "activitydatetime" || o == "activitydatetime asc" => true,
            Some(o) if o == "activitydatetime desc" => false,
            Some(o) => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Invalid $orderby: {o}"),
                )
            }
        };
        let top = match self.query.get("$top") {
            None => DEFAULT_TOP,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => n,
                _ => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        &format!("Invalid $top: {t} (1 to {MAX_TOP})"),
                    )
                }
            },
        };
        let offset = match self.query.get("$skiptoken") {
            None => 0,
            Some(token) => match decode_skiptoken(token, self.tenant.index) {
                Some(offset) => offset,
                None => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_BadRequest",
                        "Invalid $skiptoken.",
                    )
                }
            },
        };
        let mut matching: Vec<Value> = self
            .state
            .audits
            .all(self.tenant)
            .into_iter()
            .filter(|e| filter.as_ref().is_none_or(|f| f.matches(e)))
            .collect();
        if ascending {
            matching.reverse();
        }
        let end = (offset + top).min(matching.len());
        let value: Vec<Value> = matching.get(offset..end).unwrap_or_default().to_vec();
        let mut body = json!({
            "@odata.context": self.context("auditLogs/directoryAudits"),
            "value": value,
        });
        if end < matching.len() {
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            for key in ["$filter", "$orderby"] {
                if let Some(v) = self.query.get(key) {
                    next.append_pair(key, v);
                }
            }
            next.append_pair("$top", &top.to_string());
            next.append_pair("$skiptoken", &encode_skiptoken(end, self.tenant.index));
            body["@odata.nextLink"] = Value::String(format!(
                "{}/{}/auditLogs/directoryAudits?{}",
                self.state.graph_url,
                self.version,
                next.finish()
            ));
        }
        Json(body).into_response()
    }
}
