//! The Hudu sink: one article `M365 Posture — <tenant>` per tenant in the mapped company,
//! written in place (stored id, else adopted by exact title, else created).

use crate::http::{rate_limit_headers, snippet, Answer, PacedClient};
use crate::in_place::{write_document, InPlace, Via};
use crate::pacer::Pacer;
use crate::{
    ConnectionReport, KnownDocument, NamedRemote, PublishOutcome, PublishRequest, Sink, SinkError,
};
use docsync_domain::{ApiKey, BaseUrl, Provider, RateLimit};
use futures::future::BoxFuture;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// How many times one call is tried when Hudu answers 429 or a transient fault.
const ATTEMPTS: u32 = 6;
/// Safety cap on article pages followed while searching.
const MAX_PAGES: u32 = 400;

/// One Hudu integration's connection settings.
#[derive(Debug, Clone)]
pub struct HuduConfig {
    /// Instance root (docsync appends `/api/v1`).
    pub base_url: BaseUrl,
    /// The API key.
    pub api_key: ApiKey,
    /// The budget of this key.
    pub rate_limit: RateLimit,
    /// The rate-limit key (provider credential of one account).
    pub rate_limit_key: String,
}

/// Publishes snapshots to one Hudu instance with one key.
pub struct HuduSink {
    config: HuduConfig,
    client: PacedClient,
}

#[derive(Debug, Deserialize)]
struct Article {
    id: i64,
    name: String,
    #[serde(default)]
    company_id: Option<i64>,
}

impl HuduSink {
    /// A sink for one integration; `pacer` and `http` are the process-wide ones.
    pub fn new(config: HuduConfig, pacer: Pacer, http: reqwest::Client) -> Self {
        let client = PacedClient {
            http,
            pacer,
            key: config.rate_limit_key.clone(),
            limit: config.rate_limit,
            provider: "Hudu",
            host: config.base_url.host(),
            throttle_wait: |_| next_five_minute_boundary(),
            attempts: ATTEMPTS,
        };
        Self { config, client }
    }

    /// One paced call through the key's budget (429s and 5xx retried, see [`PacedClient`]).
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        requests: &mut u32,
    ) -> Result<Answer, SinkError> {
        call(
            &self.client,
            &self.config,
            method,
            path,
            query,
            body,
            requests,
        )
        .await
    }

    fn permanent(&self, what: &str, answer: &Answer) -> SinkError {
        let host = self.config.base_url.host();
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => {
                "Hudu rejected the API key: check apiKey in the Hudu integration (Hudu → Admin → API Keys)".to_owned()
            }
            StatusCode::FORBIDDEN => {
                "the API key may not do this: it is read-only or limited to other companies; issue a Hudu key with write access to articles in this company".to_owned()
            }
            StatusCode::NOT_FOUND => {
                "not found: check the company id in companyIdByTenantId".to_owned()
            }
            _ => snippet(&answer.body),
        };
        SinkError::Permanent(format!(
            "{what} at {host} failed with {}: {hint}",
            answer.status
        ))
    }

    fn article_body(title: &str, content: &str, company_id: i64) -> Value {
        json!({"article": {"name": title, "content": content, "company_id": company_id, "folder_id": null}})
    }

    async fn update(
        &self,
        id: &str,
        body: &Value,
        requests: &mut u32,
    ) -> Result<Option<Article>, SinkError> {
        let answer = self
            .call(
                Method::PUT,
                &format!("/articles/{id}"),
                &[],
                Some(body),
                requests,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.permanent("updating the Hudu article", &answer));
        }
        parse_article(&answer.body).map(Some)
    }

    /// Finds an article of exactly `title` in the company, following every page.
    async fn find_by_title(
        &self,
        company_id: i64,
        title: &str,
        requests: &mut u32,
    ) -> Result<Option<Article>, SinkError> {
        for page in 1..=MAX_PAGES {
            let answer = self
                .call(
                    Method::GET,
                    "/articles",
                    &[
                        ("company_id", company_id.to_string()),
                        ("name", title.to_owned()),
                        ("page", page.to_string()),
                        ("page_size", "100".to_owned()),
                    ],
                    None,
                    requests,
                )
                .await?;
            if !answer.status.is_success() {
                return Err(self.permanent("searching Hudu articles", &answer));
            }
            #[derive(Deserialize)]
            struct Page {
                articles: Vec<Article>,
            }
            let parsed: Page = serde_json::from_str(&answer.body).map_err(|e| {
                SinkError::Transient(format!("Hudu answered an unreadable article list: {e}"))
            })?;
            // Stop at an empty page only: some endpoints ignore page_size and page at 25.
            if parsed.articles.is_empty() {
                break;
            }
            if let Some(found) = parsed
                .articles
                .into_iter()
                .find(|a| a.name == title && a.company_id.is_none_or(|c| c == company_id))
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn publish_inner(
        &self,
        request: PublishRequest<'_>,
    ) -> Result<PublishOutcome, SinkError> {
        let mut requests = 0;
        let article =
            crate::posture::hudu_article(request.snapshot, request.options, request.pushed_at)
                .map_err(|e| {
                    SinkError::Permanent(format!(
                        "the Hudu integration's template failed: {e}; fix template with PUT /integrations/hudu"
                    ))
                })?;
        let title = article.title;
        let body = Self::article_body(&title, &article.content, request.parent_id);
        let article = ArticleWrite {
            sink: self,
            body: &body,
            company_id: request.parent_id,
        };
        let written = write_document(
            &article,
            &title,
            request.parent_id,
            request.known.as_ref(),
            &mut requests,
        )
        .await?;
        Ok(PublishOutcome {
            document: KnownDocument {
                remote_id: written.remote_id,
                parent_id: request.parent_id,
                title,
            },
            created: written.via == Via::Create,
            requests,
        })
    }

    async fn test_inner(&self) -> ConnectionReport {
        let mut requests = 0;
        let host = self.config.base_url.host();
        let answer = self
            .call(
                Method::GET,
                "/companies",
                &[("page", "1".to_owned()), ("page_size", "10".to_owned())],
                None,
                &mut requests,
            )
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                return ConnectionReport {
                    key_valid: false,
                    reachable: false,
                    first_companies: vec![],
                    rate_limit_headers: vec![],
                    message: format!("{e}: check baseUrl"),
                }
            }
        };
        let headers = rate_limit_headers(&answer.headers);
        if !answer.status.is_success() {
            let message = match answer.status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                    "Hudu at {host} rejected the API key ({}): paste a current key from Hudu → Admin → API Keys",
                    answer.status
                ),
                s => format!("Hudu at {host} answered {s}: {}", snippet(&answer.body)),
            };
            return ConnectionReport {
                key_valid: false,
                reachable: true,
                first_companies: vec![],
                rate_limit_headers: headers,
                message,
            };
        }
        #[derive(Deserialize)]
        struct Companies {
            companies: Vec<Company>,
        }
        #[derive(Deserialize)]
        struct Company {
            id: i64,
            name: String,
        }
        match serde_json::from_str::<Companies>(&answer.body) {
            Ok(c) => ConnectionReport {
                key_valid: true,
                reachable: true,
                first_companies: c
                    .companies
                    .into_iter()
                    .take(10)
                    .map(|c| NamedRemote { id: c.id, name: c.name })
                    .collect(),
                rate_limit_headers: headers,
                message: "Key accepted and Hudu reachable. A read-only key also passes this check: make sure the key has write access to articles.".into(),
            },
            Err(_) => ConnectionReport {
                key_valid: false,
                reachable: true,
                first_companies: vec![],
                rate_limit_headers: headers,
                message: format!("{host} answered, but not like Hudu's API: check baseUrl is your Hudu instance root"),
            },
        }
    }
}

/// The Hudu article's calls for the one write-in-place loop.
struct ArticleWrite<'a> {
    sink: &'a HuduSink,
    body: &'a Value,
    company_id: i64,
}

impl InPlace for ArticleWrite<'_> {
    type Id = String;

    async fn update(
        &self,
        remote_id: &String,
        requests: &mut u32,
    ) -> Result<Option<String>, SinkError> {
        let written = self.sink.update(remote_id, self.body, requests).await?;
        Ok(written.map(|a| a.id.to_string()))
    }

    async fn find(&self, title: &str, requests: &mut u32) -> Result<Option<String>, SinkError> {
        let found = self
            .sink
            .find_by_title(self.company_id, title, requests)
            .await?;
        Ok(found.map(|a| a.id.to_string()))
    }

    async fn create(&self, requests: &mut u32) -> Result<String, SinkError> {
        let answer = self
            .sink
            .call(Method::POST, "/articles", &[], Some(self.body), requests)
            .await?;
        if !answer.status.is_success() {
            return Err(self.sink.permanent("creating the Hudu article", &answer));
        }
        Ok(parse_article(&answer.body)?.id.to_string())
    }
}

fn parse_article(body: &str) -> Result<Article, SinkError> {
    #[derive(Deserialize)]
    struct Wrapped {
        article: Article,
    }
    serde_json::from_str::<Wrapped>(body)
        .map(|w| w.article)
        .map_err(|e| SinkError::Transient(format!("Hudu answered an unreadable article: {e}")))
}

/// Hudu's window resets on 5-minute clock boundaries: wait for the next one plus 1-5 s.
/// One paced Hudu call with an integration's key: `/api/v1{path}`, the key header, JSON. Every
/// Hudu request of docsync (articles, companies, layouts, assets) is made here.
pub(crate) async fn call(
    client: &PacedClient,
    config: &HuduConfig,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
    requests: &mut u32,
) -> Result<Answer, SinkError> {
    let url = format!("{}/api/v1{path}", config.base_url);
    client
        .send(
            || {
                let req = client
                    .http
                    .request(method.clone(), &url)
                    .header("x-api-key", config.api_key.expose())
                    .header("accept", "application/json")
                    .query(query);
                match body {
                    Some(b) => req.json(b),
                    None => req,
                }
            },
            requests,
        )
        .await
}

pub(crate) fn next_five_minute_boundary() -> Duration {
    let now = chrono::Utc::now().timestamp_millis();
    let window = 300_000i64;
    let until = window - now.rem_euclid(window);
    let jitter = rand::rng().random_range(1_000..=5_000);
    Duration::from_millis((until + jitter) as u64)
}

impl Sink for HuduSink {
    fn provider(&self) -> Provider {
        Provider::Hudu
    }

    fn publish<'a>(
        &'a self,
        request: PublishRequest<'a>,
    ) -> BoxFuture<'a, Result<PublishOutcome, SinkError>> {
        Box::pin(self.publish_inner(request))
    }

    fn test_connection(&self) -> BoxFuture<'_, ConnectionReport> {
        Box::pin(self.test_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_minute_wait_lands_after_the_boundary() {
        let wait = next_five_minute_boundary();
        assert!(wait >= Duration::from_secs(1));
        assert!(wait <= Duration::from_secs(305));
    }
}
