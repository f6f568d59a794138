//! The HaloPSA client: OAuth2 client credentials (`POST {authServer}/token`, `?tenant=` when
//! set), the token cached and renewed a minute before it expires and again when Halo answers
//! 401 mid-sync; every list read with Halo's paging (`pageinate=true&page_size&page_no`: an
//! unpaged list is silently capped); all on the one outbound HTTP stack, paced by the
//! integration's PSA key (300 requests per 5 minutes by default, token requests included).

use crate::{CallError, PermissionCheck, SourceCheck};
use docsync_domain::psa::HaloConfig;
use docsync_domain::RateLimit;
use docsync_outbound::http::{backoff, snippet, Answer, PacedClient};
use docsync_outbound::Pacer;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Tries per call while Halo answers 429 or faults.
const ATTEMPTS: u32 = 8;
/// Rows per page (Halo's hosted instances cap pages at 100).
pub(crate) const PAGE_SIZE: usize = 100;
/// Pages per listing at most: a safety cap, not a limit anyone meets.
const MAX_PAGES: usize = 2_000;
/// A token is renewed this long before Halo says it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

struct Token {
    bearer: SecretString,
    renew_at: Instant,
}

/// One HaloPSA integration's client.
pub struct HaloClient {
    config: HaloConfig,
    client: PacedClient,
    token: Mutex<Option<Token>>,
    requests: AtomicU32,
    tokens: AtomicU32,
}

impl HaloClient {
    /// A client for one integration; `pacer` and `http` are the process-wide ones.
    pub fn new(
        config: HaloConfig,
        rate_limit: RateLimit,
        rate_limit_key: String,
        pacer: Pacer,
        http: reqwest::Client,
    ) -> Self {
        let host = url::Url::parse(config.resource_server())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let client = PacedClient {
            http,
            pacer,
            key: rate_limit_key,
            limit: rate_limit,
            provider: "HaloPSA",
            host,
            throttle_wait: backoff,
            attempts: ATTEMPTS,
        };
        Self {
            config,
            client,
            token: Mutex::new(None),
            requests: AtomicU32::new(0),
            tokens: AtomicU32::new(0),
        }
    }

    /// Provider requests made so far (token requests included).
    pub fn requests_made(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Tokens obtained so far.
    pub fn tokens_obtained(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    fn host(&self) -> &str {
        &self.client.host
    }

    /// A valid bearer token: the cached one, else a new one.
    async fn bearer(&self) -> Result<SecretString, CallError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.bearer.clone());
        }
        let url = self.config.token_url();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id()),
            ("client_secret", self.config.client_secret().expose()),
            ("scope", "all"),
        ];
        let mut requests = 0;
        let answer = self
            .client
            .send(
                || {
                    self.client
                        .http
                        .post(&url)
                        .header("accept", "application/json")
                        .form(&form)
                },
                &mut requests,
            )
            .await;
        self.requests.fetch_add(requests, Ordering::Relaxed);
        let answer = answer?;
        if !answer.status.is_success() {
            return Err(self.token_refused(&answer));
        }
        let body: Value = serde_json::from_str(&answer.body).map_err(|e| {
            CallError::Transient(format!(
                "HaloPSA answered the token request with JSON docsync cannot read: {e}"
            ))
        })?;
        let Some(access) = body.get("access_token").and_then(Value::as_str) else {
            return Err(CallError::Permanent(format!(
                "HaloPSA at {} answered the token request without an access_token: check authServer",
                self.host()
            )));
        };
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map_or(Duration::from_secs(3600), Duration::from_secs);
        let bearer = SecretString::from(format!("Bearer {access}"));
        *slot = Some(Token {
            bearer: bearer.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2)),
        });
        self.tokens.fetch_add(1, Ordering::Relaxed);
        Ok(bearer)
    }

    /// `text` with the client secret masked (provider text goes into run errors and logs).
    fn scrub(&self, text: &str) -> String {
        self.config.client_secret().masked_in(text)
    }

    fn token_refused(&self, answer: &Answer) -> CallError {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hint = if description.to_ascii_lowercase().contains("tenant") {
            match self.config.tenant() {
                Some(t) => format!("Halo does not know the tenant {t:?}: check tenant (the name in your hosted Halo's URL, or leave it out for a self-hosted Halo)"),
                None => "Halo asks for a tenant: set tenant (hosted Halo: the name in your instance's URL)".to_owned(),
            }
        } else if error == "invalid_client" || answer.status == StatusCode::UNAUTHORIZED {
            "Halo rejected the client id or secret: check clientId and clientSecret (Configuration > Integrations > Halo PSA API > View Applications; authentication method Client ID and Secret)".to_owned()
        } else if answer.status == StatusCode::NOT_FOUND {
            "there is no token endpoint there: check authServer (e.g. https://mymsp.halopsa.com/auth)".to_owned()
        } else {
            self.scrub(&snippet(&answer.body))
        };
        CallError::Permanent(format!(
            "HaloPSA at {} refused the token request ({}): {hint}",
            self.host(),
            answer.status
        ))
    }

    /// One request with the current token; returns the answer and the token it carried.
    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(Answer, SecretString), CallError> {
        let bearer = self.bearer().await?;
        let mut requests = 0;
        let answer = self
            .client
            .send(
                || {
                    let mut req = self
                        .client
                        .http
                        .request(method.clone(), url)
                        .header("accept", "application/json")
                        .header("authorization", bearer.expose_secret())
                        .query(query);
                    if let Some(body) = body {
                        req = req.json(body);
                    }
                    req
                },
                &mut requests,
            )
            .await;
        self.requests.fetch_add(requests, Ordering::Relaxed);
        Ok((answer?, bearer))
    }

    /// One call of the API; a 401 (the token expired or was revoked) renews the token once.
    /// Only the refused token is dropped: calls in flight refused with the same token share
    /// one renewal instead of each discarding the token another just obtained.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let url = format!("{}{path}", self.config.resource_server());
        let (answer, refused) = self.send_once(method.clone(), &url, query, body).await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        {
            let mut slot = self.token.lock().await;
            if slot
                .as_ref()
                .is_some_and(|t| t.bearer.expose_secret() == refused.expose_secret())
            {
                *slot = None;
            }
        }
        Ok(self.send_once(method, &url, query, body).await?.0)
    }

    fn refused(&self, what: &str, answer: &Answer) -> CallError {
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => "Halo refused a fresh token: check the API application's permissions (read:customers, read:assets) and that it is active".to_owned(),
            StatusCode::FORBIDDEN => format!("the API application may not read {what}: give it the permissions read:customers and read:assets (read:kb and edit:kb for the knowledge base), and its agent access to every client and asset group"),
            StatusCode::NOT_FOUND => format!("Halo has no {what} there: check resourceServer (e.g. https://mymsp.halopsa.com/api)"),
            _ => self.scrub(&snippet(&answer.body)),
        };
        CallError::Permanent(format!(
            "HaloPSA at {} refused {what} ({}): {hint}",
            self.host(),
            answer.status
        ))
    }

    /// One GET of the API, as JSON.
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, CallError> {
        let answer = self.call(reqwest::Method::GET, path, query, None).await?;
        if !answer.status.is_success() {
            return Err(self.refused(path, &answer));
        }
        readable(&answer, path)
    }

    /// `POST {path}` with a JSON array, as JSON (Halo answers the object for one item).
    pub async fn post_json(&self, path: &str, items: &[Value]) -> Result<Value, CallError> {
        let body = Value::Array(items.to_vec());
        let answer = self
            .call(reqwest::Method::POST, path, &[], Some(&body))
            .await?;
        if !answer.status.is_success() {
            return Err(self.refused(path, &answer));
        }
        readable(&answer, path)
    }

    /// Every row of a listing under `key`, page by page until `record_count` rows came (or a
    /// short page).
    pub async fn list_all(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, String)],
    ) -> Result<Vec<Value>, CallError> {
        let mut pages = self.pages(path, key, filters);
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await? {
            rows.extend(page);
        }
        Ok(rows)
    }

    /// A listing under `key` to read page by page ([`Pages::next`]).
    pub fn pages<'a>(
        &'a self,
        path: &'a str,
        key: &'a str,
        filters: &[(&'a str, String)],
    ) -> Pages<'a> {
        Pages {
            client: self,
            path,
            key,
            filters: filters.to_vec(),
            page: 0,
            rows: 0,
            done: false,
        }
    }

    /// Read-only check: a token, the first clients, and whether assets can be seen.
    pub(crate) async fn check_connection(&self) -> SourceCheck {
        let mut check = SourceCheck::default();
        if let Err(e) = self.bearer().await {
            let text = e.to_string();
            check.reachable = !text.contains("could not be reached") && !text.contains("timed out");
            check.message = text;
            return check;
        }
        check.reachable = true;
        check.credentials_valid = true;
        let first = self
            .get_json(
                "/Client",
                &[
                    ("pageinate", "true".into()),
                    ("page_size", "10".into()),
                    ("page_no", "1".into()),
                ],
            )
            .await;
        match first {
            Ok(body) => {
                check.first_companies = body
                    .get("clients")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        Some((c.get("id")?.as_i64()?, c.get("name")?.as_str()?.to_owned()))
                    })
                    .collect();
            }
            Err(e) => {
                check.message = e.to_string();
                return check;
            }
        }
        let assets = self
            .get_json(
                "/Asset",
                &[
                    ("pageinate", "true".into()),
                    ("page_size", "1".into()),
                    ("page_no", "1".into()),
                    ("includeinactive", "true".into()),
                ],
            )
            .await;
        let access_hint = "give the API application's agent access to every asset group (Asset Group > Access Control), or Halo hides their assets from the sync";
        match assets {
            Ok(body) if body.get("record_count").and_then(Value::as_u64) == Some(0) => {
                check.permissions.push(PermissionCheck {
                    kind: "configurations",
                    ok: false,
                    message: format!(
                        "the API agent sees no assets at all: if Halo holds assets, {access_hint}"
                    ),
                });
            }
            Ok(_) => check.permissions.push(PermissionCheck {
                kind: "configurations",
                ok: true,
                message: "the API agent may read assets".into(),
            }),
            Err(e) => {
                check.permissions.push(PermissionCheck {
                    kind: "configurations",
                    ok: false,
                    message: format!("the API agent may not read assets: {access_hint}"),
                });
                check.message = e.to_string();
                return check;
            }
        }
        check.message = format!(
            "connected to HaloPSA at {} as client {}{}",
            self.host(),
            self.config.client_id(),
            self.config
                .tenant()
                .map(|t| format!(" (tenant {t})"))
                .unwrap_or_default()
        );
        check
    }
}

fn readable(answer: &Answer, path: &str) -> Result<Value, CallError> {
    if answer.body.trim().is_empty() {
        return Ok(json!(null));
    }
    serde_json::from_str(&answer.body).map_err(|e| {
        CallError::Transient(format!(
            "HaloPSA answered {path} with JSON docsync cannot read: {e}"
        ))
    })
}

/// A listing read one page at a time, until `record_count` rows came (or a short page).
pub struct Pages<'a> {
    client: &'a HaloClient,
    path: &'a str,
    key: &'a str,
    filters: Vec<(&'a str, String)>,
    /// Pages read.
    page: usize,
    /// Rows read.
    rows: usize,
    done: bool,
}

impl Pages<'_> {
    /// The next page's rows; None after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, CallError> {
        if self.done {
            return Ok(None);
        }
        self.page += 1;
        let mut query: Vec<(&str, String)> = vec![
            ("pageinate", "true".into()),
            ("page_size", PAGE_SIZE.to_string()),
            ("page_no", self.page.to_string()),
        ];
        query.extend(self.filters.iter().cloned());
        let body = self.client.get_json(self.path, &query).await?;
        let got = body
            .get(self.key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = body
            .get("record_count")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        self.rows += got.len();
        self.done = got.len() < PAGE_SIZE
            || total.is_some_and(|t| self.rows >= t)
            || self.page >= MAX_PAGES;
        Ok(Some(got))
    }

    /// Whether another page follows.
    pub fn more(&self) -> bool {
        !self.done
    }
}
