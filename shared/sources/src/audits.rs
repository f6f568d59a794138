//! Reading a tenant's Entra directory audit log since a moment, for change-triggered pushes:
//! `GET /v1.0/auditLogs/directoryAudits` filtered by time and by the two categories that hold
//! the changes docsync documents (`Policy`, `DirectoryManagement`), paged through
//! `@odata.nextLink`, with the same sign-in, token cache and retry policy (429 honours
//! `Retry-After`) as a collection. [`DirectoryAudit::change`] says which entries are changes to
//! Conditional Access, authentication methods or domains; everything else is unrelated.

use crate::auth::GRAPH_SCOPE;
use crate::fetch::{unavailable_reason, Endpoint, Reader, Service};
use crate::http::CallError;
use crate::{GraphSource, MicrosoftCredentials, SourceError};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Entries asked for per page.
pub const AUDIT_PAGE_SIZE: usize = 200;

const DIRECTORY_AUDITS: Endpoint = Endpoint {
    path: "/auditLogs/directoryAudits",
    version: "v1.0",
    permission: "AuditLog.Read.All",
};

/// What kind of documented fact an audit entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A Conditional Access policy was added, updated or deleted.
    ConditionalAccess,
    /// The authentication methods policy changed.
    AuthenticationMethods,
    /// A domain was added, verified, updated or removed.
    Domains,
}

impl ChangeKind {
    /// As shown in run events: `conditional access`, `authentication methods`, `domains`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::ConditionalAccess => "conditional access",
            ChangeKind::AuthenticationMethods => "authentication methods",
            ChangeKind::Domains => "domains",
        }
    }
}

/// One `directoryAudit`, as much of it as docsync reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// Entry id.
    pub id: String,
    /// Resource category (`Policy`, `DirectoryManagement`, `UserManagement`, ...).
    #[serde(default)]
    pub category: Option<String>,
    /// The activity (`Update conditional access policy`, `Verify domain`, ...).
    #[serde(default)]
    pub activity_display_name: Option<String>,
    /// When it happened.
    pub activity_date_time: DateTime<Utc>,
    /// The service that logged it (`Conditional Access`, `Core Directory`, ...).
    #[serde(default)]
    pub logged_by_service: Option<String>,
    /// `success`, `failure`, `timeout`.
    #[serde(default)]
    pub result: Option<String>,
}

impl DirectoryAudit {
    /// The documented fact this entry changed, if any: a failed attempt changed nothing, and
    /// entries outside Conditional Access, authentication methods and domains are unrelated.
    pub fn change(&self) -> Option<ChangeKind> {
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().to_ascii_lowercase();
        if self
            .result
            .as_deref()
            .is_some_and(|r| !r.eq_ignore_ascii_case("success"))
        {
            return None;
        }
        let (category, activity, service) = (
            text(&self.category),
            text(&self.activity_display_name),
            text(&self.logged_by_service),
        );
        match category.as_str() {
            "policy"
                if service == "conditional access" || activity.contains("conditional access") =>
            {
                Some(ChangeKind::ConditionalAccess)
            }
            "policy"
                if service == "authentication methods"
                    || activity.contains("authentication method") =>
            {
                Some(ChangeKind::AuthenticationMethods)
            }
            "directorymanagement" if activity.contains("domain") => Some(ChangeKind::Domains),
            _ => None,
        }
    }
}

/// The `$filter` of a poll: entries at or after `since` in the categories that can hold a
/// documented change.
pub fn audit_filter(since: DateTime<Utc>) -> String {
    format!(
        "activityDateTime ge {} and (category eq 'Policy' or category eq 'DirectoryManagement')",
        since.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

impl GraphSource {
    /// The tenant's directory audit entries in `Policy` and `DirectoryManagement` at or after
    /// `since`, every page of them. A refused sign-in or a refused read (the app lacks
    /// AuditLog.Read.All, the tenant has no Entra ID P1) is [`SourceError::SignIn`] /
    /// [`SourceError::Refused`]; Graph out of reach past the retries is
    /// [`SourceError::Transient`].
    pub async fn directory_audits_since(
        &self,
        creds: &MicrosoftCredentials,
        microsoft_tenant_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DirectoryAudit>, SourceError> {
        self.directory_audits_paged(creds, microsoft_tenant_id, since, AUDIT_PAGE_SIZE)
            .await
    }

    /// [`GraphSource::directory_audits_since`] asking for `page_size` entries a page.
    pub async fn directory_audits_paged(
        &self,
        creds: &MicrosoftCredentials,
        microsoft_tenant_id: &str,
        since: DateTime<Utc>,
        page_size: usize,
    ) -> Result<Vec<DirectoryAudit>, SourceError> {
        let cfg = self.config();
        let ms_tenant = microsoft_tenant_id.trim();
        let token_caller = self.caller(ms_tenant, 2);
        let caller = self.caller(ms_tenant, 1);
        let token = self
            .sign_in(&token_caller, creds, ms_tenant, GRAPH_SCOPE)
            .await?;
        let reader = Reader {
            http: self.http(),
            caller: &caller,
            graph_url: &cfg.graph_url,
            exchange_url: &cfg.exchange_url,
            microsoft_tenant_id: ms_tenant,
        };
        let filter = audit_filter(since);
        let top = page_size.clamp(1, 1000).to_string();
        reader
            .all::<DirectoryAudit>(
                &token,
                DIRECTORY_AUDITS,
                &[("$filter", filter.as_str()), ("$top", top.as_str())],
            )
            .await
            .map_err(|e| {
                let reason = unavailable_reason(Service::Graph, DIRECTORY_AUDITS, &e);
                match e {
                    CallError::Transient { .. } => SourceError::Transient { reason },
                    CallError::Status { .. } | CallError::Malformed { .. } => {
                        SourceError::Refused { reason }
                    }
                }
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn audit(category: &str, activity: &str, service: &str, result: &str) -> DirectoryAudit {
        DirectoryAudit {
            id: "x".into(),
            category: Some(category.into()),
            activity_display_name: Some(activity.into()),
            activity_date_time: Utc::now(),
            logged_by_service: Some(service.into()),
            result: Some(result.into()),
        }
    }

    #[test]
    fn only_ca_auth_methods_and_domain_changes_count() {
        let ca = audit(
            "Policy",
            "Update conditional access policy",
            "Conditional Access",
            "success",
        );
        assert_eq!(ca.change(), Some(ChangeKind::ConditionalAccess));
        let methods = audit(
            "Policy",
            "Authentication Methods Policy Update",
            "Authentication Methods",
            "success",
        );
        assert_eq!(methods.change(), Some(ChangeKind::AuthenticationMethods));
        let domain = audit(
            "DirectoryManagement",
            "Verify domain",
            "Core Directory",
            "success",
        );
        assert_eq!(domain.change(), Some(ChangeKind::Domains));
        for unrelated in [
            audit("UserManagement", "Update user", "Core Directory", "success"),
            audit(
                "DirectoryManagement",
                "Set company information",
                "Core Directory",
                "success",
            ),
            audit("Policy", "Add policy", "Core Directory", "success"),
            audit(
                "Policy",
                "Update conditional access policy",
                "Conditional Access",
                "failure",
            ),
        ] {
            assert_eq!(unrelated.change(), None, "{unrelated:?}");
        }
    }

    #[test]
    fn the_filter_names_the_time_and_both_categories() {
        let since: DateTime<Utc> = "2026-03-01T10:20:30.5Z".parse().unwrap();
        assert_eq!(
            audit_filter(since),
            "activityDateTime ge 2026-03-01T10:20:30Z and (category eq 'Policy' or category eq 'DirectoryManagement')"
        );
    }
}
