//! The Autotask client: the zone from `zoneInformation` (asked once per API user and process,
//! through `DOCSYNC_AUTOTASK_ZONE_URL`), the `ApiIntegrationCode` / `UserName` / `Secret`
//! headers on every call, queries as `GET {Entity}/query?search={json}` with a filter (Autotask
//! refuses an empty one) and `IncludeFields`, pages of 500 followed through `nextPageUrl`; all
//! on the one outbound HTTP stack, paced by the integration's PSA key.
//!
//! Two budgets besides the key's pace, both Autotask's own:
//! - the thread limit: at most [`THREADS_PER_ENDPOINT`] requests in flight per entity
//!   endpoint from this client (Autotask refuses the fourth, "Thread Threshold Exceeded");
//! - the database's request threshold, which every integration of the MSP shares:
//!   `ThresholdInformation` is read before the sync and again as the headroom shrinks, and no
//!   request goes out once the database is at [`THRESHOLD_SHARE`] of it, less what the reads
//!   of a whole timeframe's wait cost ([`Threshold::headroom`]): the client waits for the
//!   timeframe to roll over (saying so in the run's events), and gives the job back as a
//!   passing fault when that would outlast [`MAX_THRESHOLD_WAIT`].

use crate::{CallError, SourceCheck};
use docsync_destinations::ZoneCache;
use docsync_domain::psa::AutotaskConfig;
use docsync_domain::RateLimit;
use docsync_outbound::http::{backoff, snippet, Answer, PacedClient};
use docsync_outbound::Pacer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Tries per call while Autotask answers 429 or faults.
const ATTEMPTS: u32 = 8;
/// Autotask's page size (and its cap).
pub(crate) const PAGE_SIZE: usize = 500;
/// Pages per query at most: a safety cap, not a limit anyone meets.
const MAX_PAGES: usize = 2_000;
/// Requests in flight per entity endpoint at most (Autotask's thread limit for newer
/// integrations).
pub const THREADS_PER_ENDPOINT: usize = 3;
/// The share of the database's threshold docsync never takes it past.
pub const THRESHOLD_SHARE: f64 = 0.9;
/// The longest one job waits for the threshold's timeframe to roll over; past it the job is
/// retried later through the delay queues.
pub const MAX_THRESHOLD_WAIT: Duration = Duration::from_secs(300);

/// What the database's threshold looked like at the last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// `externalRequestThreshold`.
    pub limit: u64,
    /// `requestThresholdTimeframe`, in minutes.
    pub timeframe_minutes: u64,
    /// `currentTimeframeRequestCount` (every integration of the database).
    pub used: u64,
}

impl Threshold {
    /// How often the threshold is read again while waiting for the timeframe to roll over.
    pub fn poll(&self) -> Duration {
        Duration::from_secs((self.timeframe_minutes * 60 / 12).clamp(1, 60))
    }

    /// The requests docsync may still make before the database reaches its share, keeping
    /// back what the threshold reads of a whole timeframe's wait would cost (they count too),
    /// so even a wait never takes the database past its share.
    pub fn headroom(&self) -> u64 {
        let reserve = (self.timeframe_minutes * 60).div_ceil(self.poll().as_secs().max(1));
        ((self.limit as f64 * THRESHOLD_SHARE) as u64).saturating_sub(self.used + reserve)
    }
}

#[derive(Default)]
struct ThresholdState {
    last: Option<Threshold>,
    /// Requests made since `last` was read.
    since: u64,
}

/// Says something in the run's events (the collect step passes one; a test connection none).
pub type RunNote = Arc<dyn Fn(String) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// One Autotask integration's client.
pub struct AutotaskClient {
    config: AutotaskConfig,
    client: PacedClient,
    discovery_url: String,
    zones: ZoneCache,
    threads: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    threshold: Mutex<ThresholdState>,
    note: Option<RunNote>,
    requests: AtomicU32,
    waited: std::sync::Mutex<Duration>,
}

impl AutotaskClient {
    /// A client for one integration; `pacer` and `http` are the process-wide ones,
    /// `discovery_url` is `DOCSYNC_AUTOTASK_ZONE_URL` and `zones` the process's zone cache.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: AutotaskConfig,
        rate_limit: RateLimit,
        rate_limit_key: String,
        pacer: Pacer,
        http: reqwest::Client,
        discovery_url: String,
        zones: ZoneCache,
        note: Option<RunNote>,
    ) -> Self {
        let host = url::Url::parse(&discovery_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let client = PacedClient {
            http,
            pacer,
            key: rate_limit_key,
            limit: rate_limit,
            provider: "Autotask",
            host,
            throttle_wait: backoff,
            attempts: ATTEMPTS,
        };
        Self {
            config,
            client,
            discovery_url: discovery_url.trim_end_matches('/').to_owned(),
            zones,
            threads: Default::default(),
            threshold: Mutex::new(ThresholdState::default()),
            note,
            requests: AtomicU32::new(0),
            waited: Default::default(),
        }
    }

    /// Provider requests made so far (zone discovery and threshold reads included).
    pub fn requests_made(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// How long this client waited for the database's threshold.
    pub fn threshold_waited(&self) -> Duration {
        self.waited.lock().map(|w| *w).unwrap_or_default()
    }

    /// The threshold as last read.
    pub async fn last_threshold(&self) -> Option<Threshold> {
        self.threshold.lock().await.last
    }

    async fn raw_get(
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
                            .header(
                                "ApiIntegrationCode",
                                self.config.integration_code().expose(),
                            )
                            .header("UserName", self.config.username())
                            .header("Secret", self.config.secret().expose())
                            .header("Content-Type", "application/json");
                    }
                    req
                },
                &mut requests,
            )
            .await;
        self.requests.fetch_add(requests, Ordering::Relaxed);
        if authorized {
            self.threshold.lock().await.since += u64::from(requests);
        }
        answer.map_err(|e| self.scrub_error(e))
    }

    /// The zone's API root, e.g. `https://webservices5.autotask.net/ATServicesRest/V1.0`.
    async fn api_root(&self) -> Result<String, CallError> {
        let user = self.config.username().to_ascii_lowercase();
        if let Some(root) = self.zones.lock().ok().and_then(|z| z.get(&user).cloned()) {
            return Ok(root);
        }
        let url = format!("{}/v1.0/zoneInformation", self.discovery_url);
        let answer = self
            .raw_get(&url, &[("user", self.config.username().to_owned())], false)
            .await
            .map_err(|e| match e {
                CallError::Transient(m) if m.contains("500") => CallError::Permanent(format!(
                    "Autotask does not know the API user {:?}: check username (the API user's user name, an e-mail address)",
                    self.config.username()
                )),
                other => other,
            })?;
        if !answer.status.is_success() {
            return Err(CallError::Permanent(format!(
                "Autotask's zone discovery answered {} for {:?}: check username ({})",
                answer.status,
                self.config.username(),
                self.scrub(&snippet(&answer.body))
            )));
        }
        let info: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let Some(zone) = info.get("url").and_then(Value::as_str) else {
            return Err(CallError::Permanent(format!(
                "Autotask's zone discovery did not name a zone for {:?}: check username",
                self.config.username()
            )));
        };
        let root = format!("{}/V1.0", zone.trim_end_matches('/'));
        if let Ok(mut zones) = self.zones.lock() {
            zones.insert(user, root.clone());
        }
        Ok(root)
    }

    fn endpoint_threads(&self, entity: &str) -> Arc<Semaphore> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        threads
            .entry(entity.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(THREADS_PER_ENDPOINT)))
            .clone()
    }

    /// `text` with the secret and the tracking identifier masked: Autotask echoes a bad
    /// integration code in its error, and provider text goes into run errors and logs.
    fn scrub(&self, text: &str) -> String {
        let text = self.config.secret().masked_in(text);
        self.config.integration_code().masked_in(&text)
    }

    fn scrub_error(&self, e: CallError) -> CallError {
        match e {
            CallError::Transient(m) => CallError::Transient(self.scrub(&m)),
            CallError::Permanent(m) => CallError::Permanent(self.scrub(&m)),
            CallError::Rejected(m) => CallError::Rejected(self.scrub(&m)),
        }
    }

    fn refused(&self, what: &str, answer: &Answer) -> CallError {
        let body = self.scrub(&snippet(&answer.body));
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => "Autotask rejected the credentials: check username and secret (Admin > Resources (Users) > the API user)".to_owned(),
            StatusCode::FORBIDDEN => format!("the API user's security level may not read {what}: give it the API User (system) security level"),
            _ if body.contains("IntegrationCode") => "Autotask rejected the tracking identifier: check integrationCode (the API user's Integration Vendor tracking identifier)".to_owned(),
            _ if body.contains("authenticate") => "Autotask does not know this API user: check username".to_owned(),
            _ => body,
        };
        CallError::Permanent(format!(
            "Autotask refused {what} ({}): {hint}",
            answer.status
        ))
    }

    /// One authorized GET on the zone (`path` after `/V1.0`, or an absolute `nextPageUrl`),
    /// holding one of the endpoint's threads and minding the database's threshold.
    async fn get(
        &self,
        entity: &str,
        path_or_url: &str,
        query: &[(&str, String)],
    ) -> Result<Value, CallError> {
        self.mind_threshold().await?;
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.api_root().await?)
        };
        let threads = self.endpoint_threads(entity);
        let _thread = threads
            .acquire()
            .await
            .map_err(|_| CallError::Transient("the Autotask client is shutting down".into()))?;
        let answer = self
            .raw_get(&url, query, true)
            .await
            .map_err(|e| self.credentials_error(e))?;
        if !answer.status.is_success() {
            return Err(self.refused(entity, &answer));
        }
        serde_json::from_str(&answer.body).map_err(|e| {
            CallError::Transient(format!(
                "Autotask answered {entity} with JSON docsync cannot read: {e}"
            ))
        })
    }

    /// A 500 is what Autotask answers for an unknown user or a bad tracking identifier too:
    /// those are said in words and not retried.
    fn credentials_error(&self, e: CallError) -> CallError {
        match e {
            CallError::Transient(m) if m.contains("IntegrationCode is invalid") => CallError::Permanent(
                "Autotask rejected the tracking identifier: check integrationCode (the API user's Integration Vendor tracking identifier)".into(),
            ),
            CallError::Transient(m) if m.contains("Unable to authenticate") => CallError::Permanent(format!(
                "Autotask does not know the API user {:?}: check username", self.config.username()
            )),
            other => other,
        }
    }

    /// Reads `ThresholdInformation` (the call counts against the threshold itself).
    pub async fn read_threshold(&self) -> Result<Threshold, CallError> {
        let url = format!("{}/ThresholdInformation", self.api_root().await?);
        let answer = self
            .raw_get(&url, &[], true)
            .await
            .map_err(|e| self.credentials_error(e))?;
        if !answer.status.is_success() {
            return Err(self.refused("ThresholdInformation", &answer));
        }
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let num = |k: &str| v.get(k).and_then(Value::as_u64);
        let threshold = Threshold {
            limit: num("externalRequestThreshold").unwrap_or(10_000),
            timeframe_minutes: num("requestThresholdTimeframe").unwrap_or(60).max(1),
            used: num("currentTimeframeRequestCount").unwrap_or(0),
        };
        let mut state = self.threshold.lock().await;
        state.last = Some(threshold);
        state.since = 0;
        Ok(threshold)
    }

    /// Before a request: re-reads the threshold once a quarter of the last headroom was used,
    /// and waits while the database is at its share.
    async fn mind_threshold(&self) -> Result<(), CallError> {
        let started = Instant::now();
        let mut said = false;
        loop {
            let (last, since) = {
                let s = self.threshold.lock().await;
                (s.last, s.since)
            };
            let fresh = match last {
                Some(t) if since < (t.headroom() / 4).max(1) => t,
                _ => self.read_threshold().await?,
            };
            if fresh.headroom() > 0 {
                return Ok(());
            }
            // At the share: wait for the timeframe to roll over, reading again now and then.
            let poll = fresh.poll();
            if started.elapsed() + poll > MAX_THRESHOLD_WAIT {
                return Err(CallError::Transient(format!(
                    "the Autotask database is at {} of its {} requests per {} minute(s) ({}% or more, shared by every integration of the MSP): docsync waited {} s and tries again later",
                    fresh.used, fresh.limit, fresh.timeframe_minutes, (THRESHOLD_SHARE * 100.0) as u32, started.elapsed().as_secs()
                )));
            }
            if !said {
                said = true;
                let text = format!(
                    "waiting: the Autotask database has used {} of its {} requests per {} minute(s), shared by every integration of the MSP; docsync never takes it past {}% and goes on when the timeframe rolls over",
                    fresh.used, fresh.limit, fresh.timeframe_minutes, (THRESHOLD_SHARE * 100.0) as u32
                );
                tracing::info!(user = %self.config.username(), "{text}");
                if let Some(note) = &self.note {
                    note(text).await;
                }
            }
            tokio::time::sleep(poll).await;
            if let Ok(mut w) = self.waited.lock() {
                *w += poll;
            }
            // Read again after the pause.
            self.threshold.lock().await.last = None;
        }
    }

    /// Every item of `entity` matching `filter` (at least one item), with only
    /// `include` fields (empty: all), following `nextPageUrl` to the end.
    pub async fn query(
        &self,
        entity: &str,
        filter: Value,
        include: &[&str],
    ) -> Result<Vec<Value>, CallError> {
        let mut pages = self.query_pages(entity, filter, include);
        let mut items = Vec::new();
        while let Some(page) = pages.next().await? {
            items.extend(page);
        }
        Ok(items)
    }

    /// The items of a query to read page by page ([`Pages::next`]).
    pub fn query_pages<'a>(
        &'a self,
        entity: &'a str,
        filter: Value,
        include: &[&str],
    ) -> Pages<'a> {
        let mut search = json!({"filter": filter, "MaxRecords": PAGE_SIZE});
        if !include.is_empty() {
            search["IncludeFields"] = json!(include);
        }
        Pages {
            client: self,
            entity,
            next: Some((format!("/{entity}/query"), Some(search.to_string()))),
            read: 0,
        }
    }

    /// Read-only check: the zone, the credentials (the threshold), the first companies, and
    /// whether configuration items may be read.
    pub(crate) async fn check_connection(&self) -> SourceCheck {
        let mut check = SourceCheck::default();
        if let Err(e) = self.api_root().await {
            let text = e.to_string();
            check.reachable = !text.contains("could not be reached") && !text.contains("timed out");
            check.message = text;
            return check;
        }
        check.reachable = true;
        match self.read_threshold().await {
            Ok(t) => {
                check.credentials_valid = true;
                check.reported_limit = Some(json!({
                    "threshold": t.limit,
                    "timeframeMinutes": t.timeframe_minutes,
                    "used": t.used,
                    "share": if t.limit > 0 { t.used as f64 / t.limit as f64 } else { 0.0 },
                }));
            }
            Err(e) => {
                check.message = match e {
                    CallError::Transient(m) if m.contains("IntegrationCode") => {
                        "Autotask rejected the tracking identifier: check integrationCode".into()
                    }
                    CallError::Transient(m) if m.contains("authenticate") => format!(
                        "Autotask does not know the API user {:?}: check username",
                        self.config.username()
                    ),
                    other => other.to_string(),
                };
                return check;
            }
        }
        match self.first_companies().await {
            Ok(first) => check.first_companies = first,
            Err(e) => {
                check.message = e.to_string();
                return check;
            }
        }
        match self
            .query(
                "ConfigurationItems",
                json!([{"op": "gte", "field": "id", "value": 0}]),
                &["id"],
            )
            .await
        {
            Ok(_) => check.permissions.push(crate::PermissionCheck {
                kind: "configurations",
                ok: true,
                message: "the API user may read configuration items".into(),
            }),
            Err(e) => {
                check.permissions.push(crate::PermissionCheck {
                    kind: "configurations",
                    ok: false,
                    message: format!("the API user may not read configuration items: {e}"),
                });
            }
        }
        check.message = format!("connected to Autotask as {}", self.config.username());
        check
    }

    async fn first_companies(&self) -> Result<Vec<(i64, String)>, CallError> {
        let search = json!({"filter": [{"op": "gte", "field": "id", "value": 0}], "IncludeFields": ["id", "companyName"], "MaxRecords": 10});
        let page = self
            .get(
                "Companies",
                "/Companies/query",
                &[("search", search.to_string())],
            )
            .await?;
        Ok(page
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c.get("id")?.as_i64()?,
                    c.get("companyName")?.as_str()?.to_owned(),
                ))
            })
            .collect())
    }
}

/// A query's items read one page at a time, following `nextPageUrl`.
pub struct Pages<'a> {
    client: &'a AutotaskClient,
    entity: &'a str,
    /// The next page: its path or URL, and the search of the first page (the next URLs
    /// carry it after that); None once the last page was read.
    next: Option<(String, Option<String>)>,
    read: usize,
}

impl Pages<'_> {
    /// The next page's items; None after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, CallError> {
        let Some((path, search)) = self.next.take() else {
            return Ok(None);
        };
        let query: Vec<(&str, String)> = search.into_iter().map(|s| ("search", s)).collect();
        let page = self.client.get(self.entity, &path, &query).await?;
        self.read += 1;
        if self.read < MAX_PAGES {
            self.next = page
                .pointer("/pageDetails/nextPageUrl")
                .and_then(Value::as_str)
                .filter(|next| !next.is_empty())
                .map(|next| (next.to_owned(), None));
        }
        Ok(Some(
            page.get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        ))
    }

    /// Whether another page follows.
    pub fn more(&self) -> bool {
        self.next.is_some()
    }
}
