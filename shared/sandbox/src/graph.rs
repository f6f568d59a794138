//! Microsoft Graph: the posture endpoints docsync reads and the directory audit log, under
//! `/v1.0` and `/beta`, with bearer tokens bound to a tenant, `@odata.nextLink` paging, `$count`
//! rules, permission denials and injected throttling; `POST /_sandbox/changes` changes a tenant
//! and logs it ([`changes`]).

mod audit_filter;
pub(crate) mod audits;
pub(crate) mod changes;
mod data;

use crate::faults::GraphFault;
use crate::fixtures::TenantFixture;
use crate::ratelimit::Verdict;
use crate::state::{Audience, State};
use axum::extract::{Query, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Routes of the Graph port (one dispatcher: Graph paths hold `$` and parentheses).
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/_sandbox/changes", axum::routing::post(changes::post))
        .fallback(dispatch)
        .with_state(state)
}

/// A Graph-style error answer.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": uuid::Uuid::new_v4().to_string(),
            "client-request-id": uuid::Uuid::new_v4().to_string(),
        }
    }});
    (status, Json(body)).into_response()
}

/// Decodes `%XX` escapes in a URL path.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The section a path belongs to, for permission denials.
fn section(path: &str) -> &'static str {
    if path.starts_with("/security/") {
        "defender"
    } else if path.starts_with("/identity/conditionalAccess") || path.starts_with("/policies/") {
        "conditional_access"
    } else if path.starts_with("/reports/authenticationMethods") {
        "mfa"
    } else if path.starts_with("/reports/getMicrosoft365Copilot") {
        "copilot"
    } else if path.to_ascii_lowercase().starts_with("/auditlogs/") {
        "audit"
    } else {
        "tenant"
    }
}

async fn dispatch(
    AxState(state): AxState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.graph_requests.fetch_add(1, Ordering::Relaxed);
    let index = match state.authorize(&headers, Audience::Graph) {
        Ok(index) => index,
        Err(e) => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                e.message(),
            )
        }
    };
    let Some(tenant) = state.tenant(index) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Unknown tenant.",
        );
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    if let Verdict::Refused { retry_after } = state.graph_limiter.check(&index.to_string(), now) {
        state.graph_throttled.fetch_add(1, Ordering::Relaxed);
        let mut r = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests. Please retry after the time specified in the Retry-After header.",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.unwrap_or(1)),
        );
        return r;
    }
    match state.faults.next_graph() {
        Some(GraphFault::Throttle) => {
            state.graph_throttled.fetch_add(1, Ordering::Relaxed);
            let mut r = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests. Please retry after the time specified in the Retry-After header.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Some(GraphFault::Unavailable) => {
            return graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry.",
            );
        }
        None => {}
    }
    let full = percent_decode(uri.path());
    let (version, path) = match full.split_once('/').map(|(_, rest)| rest.split_once('/')) {
        Some(Some((v @ ("v1.0" | "beta"), rest))) => {
            (v, format!("/{}", rest.trim_end_matches('/')))
        }
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Invalid version: {full}"),
            )
        }
    };
    if method != Method::GET {
        return graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        );
    }
    if tenant.is_denied(section(&path)) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let ctx = Ctx {
        state: &state,
        tenant: &tenant,
        version,
        query: &query,
    };
    match path.as_str() {
        "/organization" => ctx.ok("organization", vec![data::organization(&tenant)]),
        "/subscribedSkus" => ctx.ok("subscribedSkus", data::skus(&tenant)),
        "/users/$count" => count(&headers, &tenant),
        "/reports/authenticationMethods/userRegistrationDetails" => ctx.registration_details(),
        "/policies/authenticationMethodsPolicy" => ctx.authentication_methods_policy(),
        "/identity/conditionalAccess/policies" => ctx.ok(
            "identity/conditionalAccess/policies",
            data::ca_policies(&tenant),
        ),
        "/security/incidents" => {
            match data::incidents(&tenant, query.get("$filter").map(String::as_str)) {
                Ok(items) => ctx.ok("security/incidents", items),
                Err(msg) => graph_error(StatusCode::BAD_REQUEST, "BadRequest", &msg),
            }
        }
        "/security/secureScores" => {
            let top = query
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(usize::MAX);
            ctx.ok("security/secureScores", data::secure_scores(&tenant, top))
        }
        "/security/secureScoreControlProfiles" => ctx.ok(
            "security/secureScoreControlProfiles",
            data::control_profiles(&tenant),
        ),
        p if p.starts_with("/reports/getMicrosoft365CopilotUsageUserDetail(") => ctx.copilot(p),
        // Graph's paths are case-insensitive; Microsoft's own examples write both spellings.
        p if p.eq_ignore_ascii_case("/auditLogs/directoryAudits") => ctx.directory_audits(),
        other => {
            let segment = other.rsplit('/').next().unwrap_or_default();
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{segment}'."),
            )
        }
    }
}

fn count(headers: &HeaderMap, tenant: &TenantFixture) -> Response {
    let eventual = headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    if !eventual {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported.",
        );
    }
    (
        [(header::CONTENT_TYPE, "text/plain")],
        tenant.user_count().to_string(),
    )
        .into_response()
}

struct Ctx<'a> {
    state: &'a State,
    tenant: &'a TenantFixture,
    version: &'a str,
    query: &'a HashMap<String, String>,
}

impl Ctx<'_> {
    fn context(&self, what: &str) -> String {
        format!("{}/{}/$metadata#{what}", self.state.graph_url, self.version)
    }

    /// `GET /policies/authenticationMethodsPolicy`: one object (no `value`), its method
    /// configurations expanded, each with its derived `@odata.type`.
    fn authentication_methods_policy(&self) -> Response {
        let methods: Vec<Value> = self
            .tenant
            .auth_methods
            .iter()
            .map(|(id, state)| {
                let mut kind = id.clone();
                if let Some(first) = kind.get_mut(0..1) {
                    first.make_ascii_lowercase();
                }
                json!({
                    "@odata.type": format!("#microsoft.graph.{kind}AuthenticationMethodConfiguration"),
                    "id": id,
                    "state": state,
                    "excludeTargets": [],
                })
            })
            .collect();
        Json(json!({
            "@odata.context": self.context("authenticationMethodsPolicy"),
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
            "lastModifiedDateTime": "2026-01-15T09:30:00Z",
            "policyVersion": "1.5",
            "policyMigrationState": "migrationComplete",
            "authenticationMethodConfigurations": methods,
        }))
        .into_response()
    }

    fn ok(&self, what: &str, value: Vec<Value>) -> Response {
        Json(json!({"@odata.context": self.context(what), "value": value})).into_response()
    }

    /// Paged by `graph_page_size` (or a smaller `$top`); the skip token encodes the offset and
    /// the tenant, so a token from another tenant is refused.
    fn registration_details(&self) -> Response {
        let max = self.state.config.graph_page_size.max(1);
        let top = self.query.get("$top").and_then(|t| t.parse::<usize>().ok());
        let page = top.map_or(max, |t| t.clamp(1, max));
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
        let users = &self.tenant.users;
        let end = (offset + page).min(users.len());
        let value: Vec<Value> = users
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(data::registration)
            .collect();
        let mut body = json!({
            "@odata.context": self.context("reports/authenticationMethods/userRegistrationDetails"),
            "value": value,
        });
        if end < users.len() {
            let top = top.map(|t| format!("$top={t}&")).unwrap_or_default();
            body["@odata.nextLink"] = Value::String(format!(
                "{}/{}/reports/authenticationMethods/userRegistrationDetails?{top}$skiptoken={}",
                self.state.graph_url,
                self.version,
                encode_skiptoken(end, self.tenant.index)
            ));
        }
        Json(body).into_response()
    }

    fn copilot(&self, path: &str) -> Response {
        let period = path
            .trim_start_matches("/reports/getMicrosoft365CopilotUsageUserDetail(")
            .trim_end_matches(')')
            .trim_start_matches("period=")
            .trim_matches('\'');
        if !["D7", "D30", "D90", "D180", "ALL"].contains(&period) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Invalid period '{period}'. Use D7, D30, D90, D180 or ALL."),
            );
        }
        let rows = data::copilot_rows(self.tenant);
        if self.query.get("$format").map(String::as_str) == Some("application/json") {
            return self.ok("Collection(microsoft.graph.copilotUsageUserDetail)", rows);
        }
        let mut csv = String::from(
            "\u{feff}Report Refresh Date,User Principal Name,Display Name,Last Activity Date\r\n",
        );
        for r in rows {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            csv.push_str(&format!(
                "{},{},{},{}\r\n",
                s("reportRefreshDate"),
                s("userPrincipalName"),
                s("displayName"),
                s("lastActivityDate")
            ));
        }
        ([(header::CONTENT_TYPE, "application/octet-stream")], csv).into_response()
    }
}

fn encode_skiptoken(offset: usize, tenant: usize) -> String {
    format!(
        "RFNwdAIA{:08x}{:08x}",
        offset ^ 0x5A5A_5A5A,
        tenant ^ 0x00C0_FFEE
    )
}

fn decode_skiptoken(token: &str, tenant: usize) -> Option<usize> {
    let hex = token.strip_prefix("RFNwdAIA")?;
    if hex.len() != 16 {
        return None;
    }
    let offset = usize::from_str_radix(hex.get(..8)?, 16).ok()? ^ 0x5A5A_5A5A;
    let owner = usize::from_str_radix(hex.get(8..)?, 16).ok()? ^ 0x00C0_FFEE;
    (owner == tenant).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_are_bound_to_the_tenant() {
        let t = encode_skiptoken(1500, 7);
        assert_eq!(decode_skiptoken(&t, 7), Some(1500));
        assert_eq!(decode_skiptoken(&t, 8), None);
        assert_eq!(decode_skiptoken("garbage", 7), None);
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(
            percent_decode("/beta/x(period=%27D30%27)"),
            "/beta/x(period='D30')"
        );
        assert_eq!(percent_decode("/a%2"), "/a%2");
    }
}
