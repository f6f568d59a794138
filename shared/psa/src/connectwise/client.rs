//! The ConnectWise Manage client: the codebase from `/login/companyinfo/{companyId}`, Basic
//! `company+public:private` with the `clientId` header on every call, forward-only paging
//! through `Link: rel="next"` in pages of 1000 (the server's cap), all on the one outbound
//! HTTP stack, paced by the integration's PSA key.

use crate::{CallError, PermissionCheck, SourceCheck};
use base64::Engine;
use docsync_domain::psa::ConnectWiseConfig;
use docsync_domain::RateLimit;
use docsync_outbound::http::{backoff, snippet, Answer, PacedClient};
use docsync_outbound::Pacer;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::OnceCell;

/// Tries per call while ConnectWise answers 429 or faults.
const ATTEMPTS: u32 = 8;
/// Pages per listing at most (1000 rows each): a safety cap, not a limit anyone meets.
const MAX_PAGES: usize = 1_000;
/// The server's page size cap.
const PAGE_SIZE: &str = "1000";

/// One ConnectWise Manage integration's client.
pub struct ConnectWiseClient {
    config: ConnectWiseConfig,
    client: PacedClient,
    authorization: SecretString,
    codebase: OnceCell<String>,
    requests: std::sync::atomic::AtomicU32,
}

impl ConnectWiseClient {
    /// A client for one integration; `pacer` and `http` are the process-wide ones.
    pub fn new(
        config: ConnectWiseConfig,
        rate_limit: RateLimit,
        rate_limit_key: String,
        pacer: Pacer,
        http: reqwest::Client,
    ) -> Self {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}+{}:{}",
            config.company_id(),
            config.public_key().expose(),
            config.private_key().expose()
        ));
        let client = PacedClient {
            http,
            pacer,
            key: rate_limit_key,
            limit: rate_limit,
            provider: "ConnectWise Manage",
            host: config.site().api_host(),
            throttle_wait: backoff,
            attempts: ATTEMPTS,
        };
        Self {
            config,
            client,
            authorization: SecretString::from(format!("Basic {basic}")),
            codebase: OnceCell::new(),
            requests: Default::default(),
        }
    }

    /// Provider requests made so far.
    pub fn requests_made(&self) -> u32 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn send(
        &self,
        url: &str,
        query: &[(&str, String)],
        authorized: bool,
    ) -> Result<Answer, CallError> {
        let mut requests = 0;
        let answer = self
            .client
            .send(
                || {
                    let mut req = self
                        .client
                        .http
                        .get(url)
                        .header("accept", "application/json")
                        .query(query);
                    if authorized {
                        req = req
                            .header("authorization", self.authorization.expose_secret())
                            .header("clientId", self.config.client_id())
                            .header("pagination-type", "forward-only");
                    }
                    req
                },
                &mut requests,
            )
            .await;
        self.requests
            .fetch_add(requests, std::sync::atomic::Ordering::Relaxed);
        answer
    }

    /// The API root, asking companyinfo for the codebase once per client.
    async fn api_root(&self) -> Result<String, CallError> {
        let codebase = self
            .codebase
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/login/companyinfo/{}",
                    self.config.site().login_url(),
                    self.config.company_id()
                );
                let answer = self.send(&url, &[], false).await?;
                if !answer.status.is_success() {
                    return Err(CallError::Permanent(format!(
                        "ConnectWise at {} answered {} to companyinfo: check site",
                        self.config.site().host(),
                        answer.status
                    )));
                }
                let info: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
                match info.get("Codebase").and_then(Value::as_str) {
                    Some(codebase) => Ok(codebase.to_owned()),
                    None => Err(CallError::Permanent(format!(
                        "ConnectWise at {} does not know the company {:?}: check companyId (the company name you log in with)",
                        self.config.site().host(),
                        self.config.company_id()
                    ))),
                }
            })
            .await?;
        Ok(self.config.site().api_root(codebase))
    }

    fn refused(&self, what: &str, answer: &Answer) -> CallError {
        let host = self.config.site().api_host();
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => "ConnectWise rejected the credentials: check companyId, publicKey and privateKey (System > Members > API Members > API Keys) and clientId (developer.connectwise.com)".to_owned(),
            StatusCode::FORBIDDEN => format!("the API member's security role may not read {what}: give it Inquire level All on {what} (System > Security Roles)"),
            _ => snippet(&answer.body),
        };
        CallError::Permanent(format!(
            "ConnectWise at {host} refused reading {what} ({}): {hint}",
            answer.status
        ))
    }

    /// One GET of the API, as JSON.
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, CallError> {
        let url = format!("{}{path}", self.api_root().await?);
        let answer = self.send(&url, query, true).await?;
        if !answer.status.is_success() {
            return Err(self.refused(path, &answer));
        }
        unreadable(&answer, path)
    }

    /// Every row of a listing, following forward-only pages to the end.
    pub async fn list_all(
        &self,
        path: &str,
        conditions: &[String],
        fields: Option<&str>,
    ) -> Result<Vec<Value>, CallError> {
        let mut pages = self.pages(path, conditions, fields).await?;
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await? {
            rows.extend(page);
        }
        Ok(rows)
    }

    /// A listing to read page by page ([`Pages::next`]).
    pub async fn pages<'a>(
        &'a self,
        path: &'a str,
        conditions: &[String],
        fields: Option<&str>,
    ) -> Result<Pages<'a>, CallError> {
        let mut query: Vec<(&'static str, String)> = vec![("pageSize", PAGE_SIZE.into())];
        if !conditions.is_empty() {
            query.push(("conditions", conditions.join(" and ")));
        }
        if let Some(fields) = fields {
            query.push(("fields", fields.into()));
        }
        Ok(Pages {
            client: self,
            path,
            next: Some(format!("{}{path}", self.api_root().await?)),
            query,
            read: 0,
        })
    }

    /// Read-only check: companyinfo, the keys (`/system/info`), the first companies, and
    /// whether configurations may be read.
    pub(crate) async fn check_connection(&self) -> SourceCheck {
        let mut check = SourceCheck::default();
        if let Err(e) = self.api_root().await {
            check.reachable = !e.to_string().contains("could not be reached")
                && !e.to_string().contains("timed out");
            check.message = e.to_string();
            return check;
        }
        check.reachable = true;
        match self.get_json("/system/info", &[]).await {
            Ok(_) => check.credentials_valid = true,
            Err(e) => {
                check.message = e.to_string();
                return check;
            }
        }
        match self
            .get_json(
                "/company/companies",
                &[("pageSize", "10".into()), ("fields", "id,name".into())],
            )
            .await
        {
            Ok(rows) => {
                check.first_companies = rows
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        Some((r.get("id")?.as_i64()?, r.get("name")?.as_str()?.to_owned()))
                    })
                    .collect();
            }
            Err(e) => {
                check.message = e.to_string();
                return check;
            }
        }
        match self
            .get_json(
                "/company/configurations",
                &[("pageSize", "1".into()), ("fields", "id".into())],
            )
            .await
        {
            Ok(_) => check.permissions.push(PermissionCheck {
                kind: "configurations",
                ok: true,
                message: "the API member may read configurations".into(),
            }),
            Err(e) => {
                check.permissions.push(PermissionCheck {
                    kind: "configurations",
                    ok: false,
                    message: "the API member's security role lacks Inquire on Configurations: \
                              give it Inquire level All (System > Security Roles > Companies > \
                              Configurations)"
                        .into(),
                });
                check.message = e.to_string();
                return check;
            }
        }
        check.message = format!(
            "connected to ConnectWise Manage at {} as {}",
            self.config.site().api_host(),
            self.config.company_id()
        );
        check
    }
}

/// A listing read one forward-only page at a time.
pub struct Pages<'a> {
    client: &'a ConnectWiseClient,
    path: &'a str,
    /// The next page's URL; None once the last page was read.
    next: Option<String>,
    /// The query of the first page (the next links carry it after that).
    query: Vec<(&'static str, String)>,
    read: usize,
}

impl Pages<'_> {
    /// The next page's rows; None after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, CallError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let answer = self.client.send(&url, &self.query, true).await?;
        if !answer.status.is_success() {
            return Err(self.client.refused(self.path, &answer));
        }
        let page = unreadable(&answer, self.path)?;
        self.read += 1;
        if self.read < MAX_PAGES {
            // The next link carries the whole query.
            self.next = next_link(&answer);
            self.query.clear();
        }
        Ok(Some(match page {
            Value::Array(rows) => rows,
            _ => Vec::new(),
        }))
    }

    /// Whether another page follows.
    pub fn more(&self) -> bool {
        self.next.is_some()
    }
}

fn unreadable(answer: &Answer, path: &str) -> Result<Value, CallError> {
    serde_json::from_str(&answer.body).map_err(|e| {
        CallError::Transient(format!(
            "ConnectWise answered {path} with JSON docsync cannot read: {e}"
        ))
    })
}

/// The `rel="next"` target of a `Link` header.
fn next_link(answer: &Answer) -> Option<String> {
    let link = answer.headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}
