//! Reading one Microsoft endpoint for one collection: bearer token, paging through
//! `@odata.nextLink`, Exchange `InvokeCommand`, and the reason a person can act on when an
//! endpoint refuses.

use crate::auth::AccessToken;
use crate::http::{CallError, Caller};
use crate::wire::Page;
use serde::de::DeserializeOwned;

/// Most pages followed for one collection endpoint (a guard against nextLink loops).
pub(crate) const MAX_PAGES: usize = 1000;

/// A Microsoft endpoint docsync reads, with the permission it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    /// Path under the Graph version root (`/organization`) or the cmdlet name.
    pub(crate) path: &'static str,
    /// The Graph version (`v1.0`, `beta`), or empty for Exchange cmdlets.
    pub(crate) version: &'static str,
    /// What to grant when it answers 401/403.
    pub(crate) permission: &'static str,
}

/// Reads Graph and Exchange for one collection.
pub(crate) struct Reader<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) caller: &'a Caller,
    pub(crate) graph_url: &'a str,
    pub(crate) exchange_url: &'a str,
    pub(crate) microsoft_tenant_id: &'a str,
}

impl Reader<'_> {
    fn graph_root(&self) -> String {
        self.graph_url.trim_end_matches('/').to_owned()
    }

    fn url(&self, ep: Endpoint) -> String {
        format!("{}/{}{}", self.graph_root(), ep.version, ep.path)
    }

    /// Every item of a Graph collection, following `@odata.nextLink`.
    pub(crate) async fn all<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        ep: Endpoint,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, CallError> {
        let mut items = Vec::new();
        let mut page = self.page::<T>(token, &self.url(ep), query).await?;
        let mut pages = 1;
        loop {
            items.append(&mut page.value);
            let Some(next) = page.next_link.take() else {
                return Ok(items);
            };
            if pages >= MAX_PAGES {
                return Err(CallError::Malformed {
                    reason: format!("more than {MAX_PAGES} pages; stopped to avoid a paging loop"),
                });
            }
            if !same_origin(&next, self.graph_url) {
                return Err(CallError::Malformed {
                    reason: "a nextLink pointed outside Microsoft Graph; not followed".to_owned(),
                });
            }
            page = self.page::<T>(token, &next, &[]).await?;
            pages += 1;
        }
    }

    /// The first page only (e.g. `$top=1`, where a nextLink would page through history).
    pub(crate) async fn first_page<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        ep: Endpoint,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, CallError> {
        Ok(self.page::<T>(token, &self.url(ep), query).await?.value)
    }

    /// A single Graph object (e.g. `/policies/authenticationMethodsPolicy`), not a collection.
    pub(crate) async fn object<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        ep: Endpoint,
    ) -> Result<T, CallError> {
        let bearer = token.bearer();
        let url = self.url(ep);
        let answer = self
            .caller
            .send(|| {
                self.http
                    .get(&url)
                    .header(reqwest::header::AUTHORIZATION, &bearer)
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await?;
        serde_json::from_str(&answer.body).map_err(|e| CallError::Malformed {
            reason: format!("the answer was not the expected JSON ({e})"),
        })
    }

    async fn page<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Page<T>, CallError> {
        let bearer = token.bearer();
        let answer = self
            .caller
            .send(|| {
                let mut req = self
                    .http
                    .get(url)
                    .header(reqwest::header::AUTHORIZATION, &bearer)
                    .header(reqwest::header::ACCEPT, "application/json");
                if !query.is_empty() {
                    req = req.query(query);
                }
                req
            })
            .await?;
        serde_json::from_str(&answer.body).map_err(|e| CallError::Malformed {
            reason: format!("the answer was not the expected JSON ({e})"),
        })
    }

    /// A plain-text Graph answer (`/users/$count` with `ConsistencyLevel: eventual`).
    pub(crate) async fn count(&self, token: &AccessToken, ep: Endpoint) -> Result<u64, CallError> {
        let bearer = token.bearer();
        let url = self.url(ep);
        let answer = self
            .caller
            .send(|| {
                self.http
                    .get(&url)
                    .header(reqwest::header::AUTHORIZATION, &bearer)
                    .header("ConsistencyLevel", "eventual")
                    .header(reqwest::header::ACCEPT, "text/plain")
            })
            .await?;
        crate::sections::metadata::parse_count(&answer.body).ok_or_else(|| CallError::Malformed {
            reason: "the answer was not a plain number".to_owned(),
        })
    }

    /// Runs an Exchange Online cmdlet through the admin API and returns its `value` items.
    pub(crate) async fn cmdlet<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        cmdlet: &str,
    ) -> Result<Vec<T>, CallError> {
        let url = format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            self.exchange_url.trim_end_matches('/'),
            self.microsoft_tenant_id
        );
        let body = serde_json::json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": {}}});
        let bearer = token.bearer();
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = match &next {
                None => {
                    self.caller
                        .send(|| {
                            self.http
                                .post(&url)
                                .header(reqwest::header::AUTHORIZATION, &bearer)
                                .json(&body)
                        })
                        .await?
                }
                Some(link) => {
                    self.caller
                        .send(|| {
                            self.http
                                .get(link)
                                .header(reqwest::header::AUTHORIZATION, &bearer)
                        })
                        .await?
                }
            };
            let mut page: Page<T> =
                serde_json::from_str(&answer.body).map_err(|e| CallError::Malformed {
                    reason: format!("the answer was not the expected JSON ({e})"),
                })?;
            items.append(&mut page.value);
            match page.next_link {
                Some(link) if same_origin(&link, self.exchange_url) => next = Some(link),
                _ => return Ok(items),
            }
        }
        Ok(items)
    }
}

/// True when `link` has the scheme, host and port of `base`.
fn same_origin(link: &str, base: &str) -> bool {
    match (url::Url::parse(link), url::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Which service answered, for the reason text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    /// Microsoft Graph.
    Graph,
    /// The Exchange Online admin API.
    Exchange,
}

/// A reason a person can act on, for a section that could not be collected.
pub(crate) fn unavailable_reason(service: Service, ep: Endpoint, err: &CallError) -> String {
    let (who, what) = match service {
        Service::Graph => ("Graph", format!("/{}{}", ep.version, ep.path)),
        Service::Exchange => ("Exchange Online", ep.path.to_owned()),
    };
    match err {
        CallError::Status {
            status,
            code,
            message,
        } => {
            let code = if code.is_empty() {
                String::new()
            } else {
                format!(" {code}")
            };
            let said = if message.is_empty() {
                String::new()
            } else {
                format!(" ({})", truncate(message, 200))
            };
            let fix = match status {
                401 | 403 => format!(
                    "grant {} to the docsync app and re-consent in this tenant",
                    ep.permission
                ),
                404 => "the tenant does not have this feature or licence (or the endpoint is not available in its cloud)".to_owned(),
                400 => "Microsoft rejected the request; the tenant may not support this report yet".to_owned(),
                _ => "check the tenant in the Microsoft admin centre".to_owned(),
            };
            format!("{who} answered {status}{code} for {what}{said}: {fix}")
        }
        CallError::Transient { reason } => {
            format!("{who} did not answer {what}: {reason}; the next sync will try again")
        }
        CallError::Malformed { reason } => {
            format!("{who} answered {what} with something docsync could not read: {reason}")
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: Endpoint = Endpoint {
        path: "/identity/conditionalAccess/policies",
        version: "v1.0",
        permission: "Policy.Read.All",
    };

    #[test]
    fn a_403_names_the_permission_to_grant() {
        let reason = unavailable_reason(
            Service::Graph,
            CA,
            &CallError::Status {
                status: 403,
                code: "Authorization_RequestDenied".into(),
                message: String::new(),
            },
        );
        assert_eq!(
            reason,
            "Graph answered 403 Authorization_RequestDenied for /v1.0/identity/conditionalAccess/policies: grant Policy.Read.All to the docsync app and re-consent in this tenant"
        );
    }

    #[test]
    fn next_links_must_stay_on_graph() {
        assert!(same_origin(
            "https://graph.microsoft.com/v1.0/users?$skiptoken=x",
            "https://graph.microsoft.com"
        ));
        assert!(!same_origin(
            "https://evil.example/v1.0",
            "https://graph.microsoft.com"
        ));
        assert!(same_origin(
            "http://127.0.0.1:4000/v1.0/x",
            "http://127.0.0.1:4000/"
        ));
    }
}
