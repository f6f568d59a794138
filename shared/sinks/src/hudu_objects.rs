//! Hudu as the destination of PSA records: companies, asset layouts and assets, written with
//! the integration's own key and budget (the one [`PacedClient`] every provider call uses, so
//! a sync and posture pushes of one account share the Hudu key's budget).
//!
//! Each call is one provider request (plus paced retries); a `None` answer means Hudu no
//! longer has the object (404), so the caller can adopt or create instead.

use crate::http::{snippet, Answer, PacedClient};
use crate::hudu::{next_five_minute_boundary, HuduConfig};
use crate::pacer::Pacer;
use crate::SinkError;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// Tries per call while Hudu answers 429 or faults (as for articles).
const ATTEMPTS: u32 = 6;
/// Rows asked for per page of a listing; Hudu may answer fewer, so listings stop at an empty page.
const PAGE_SIZE: u32 = 100;
/// Safety cap on pages followed in one listing.
const MAX_PAGES: u32 = 2_000;

/// A Hudu company as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HuduCompanyRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// In the archive.
    #[serde(default)]
    pub archived: bool,
    /// When Hudu created it.
    #[serde(default)]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A Hudu asset layout: its id, name and field labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuduLayoutRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Field labels, in order.
    pub fields: Vec<String>,
    /// The fields as Hudu answered them (kept whole when fields are added).
    pub raw_fields: Vec<Value>,
}

/// A Hudu asset as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HuduAssetRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its layout.
    #[serde(default)]
    pub asset_layout_id: Option<i64>,
    /// Serial.
    #[serde(default)]
    pub primary_serial: Option<String>,
    /// In the archive.
    #[serde(default)]
    pub archived: bool,
    /// When Hudu created it.
    #[serde(default)]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A Hudu knowledge-base article as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HuduArticleRef {
    /// Id.
    pub id: i64,
    /// Its company; None for a global article.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// Title.
    pub name: String,
    /// HTML body.
    #[serde(default)]
    pub content: Option<String>,
}

/// Hudu's companies, layouts and assets through one integration's key.
pub struct HuduObjects {
    config: HuduConfig,
    client: PacedClient,
    requests: std::sync::atomic::AtomicU32,
}

impl HuduObjects {
    /// A writer for one integration; `pacer` and `http` are the process-wide ones.
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
        Self {
            config,
            client,
            requests: Default::default(),
        }
    }

    /// Provider requests made so far.
    pub fn requests(&self) -> u32 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key's budget (requests per window).
    pub fn rate_limit(&self) -> docsync_domain::RateLimit {
        self.config.rate_limit
    }

    /// How many calls of the key must be under way at once to keep its budget busy at the
    /// latency Hudu shows ([`Pacer::calls_in_flight_wanted`]); `None` before any answer.
    pub fn calls_in_flight_wanted(&self) -> Option<usize> {
        self.client
            .pacer
            .calls_in_flight_wanted(&self.config.rate_limit_key)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, SinkError> {
        let mut requests = 0;
        let answer = crate::hudu::call(
            &self.client,
            &self.config,
            method,
            path,
            query,
            body,
            &mut requests,
        )
        .await;
        self.requests
            .fetch_add(requests, std::sync::atomic::Ordering::Relaxed);
        answer
    }

    /// A call whose 404 means "gone"; other failures are errors a person can act on.
    async fn call_ok(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, SinkError> {
        let answer = self.call(method, path, query, body).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.refused(what, &answer));
        }
        serde_json::from_str(&answer.body).map(Some).map_err(|e| {
            SinkError::Transient(format!(
                "Hudu at {} answered {what} with JSON docsync cannot read: {e}",
                self.config.base_url.host()
            ))
        })
    }

    fn refused(&self, what: &str, answer: &Answer) -> SinkError {
        let host = self.config.base_url.host();
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => "Hudu rejected the API key: check apiKey in the Hudu integration (Hudu → Admin → API Keys)".to_owned(),
            StatusCode::FORBIDDEN => "the API key may not do this: it is read-only or limited to other companies; issue a Hudu key with write access to companies and assets".to_owned(),
            _ => snippet(&answer.body),
        };
        let message = format!("{what} at {host} failed with {}: {hint}", answer.status);
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
            SinkError::Rejected(message)
        } else {
            SinkError::Permanent(message)
        }
    }

    /// Follows pages of `path` until an empty one, collecting the array under `key`.
    async fn list(
        &self,
        what: &str,
        path: &str,
        key: &str,
        filters: &[(&str, String)],
    ) -> Result<Vec<Value>, SinkError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut query: Vec<(&str, String)> = filters.to_vec();
            query.push(("page", page.to_string()));
            query.push(("page_size", PAGE_SIZE.to_string()));
            let Some(body) = self.call_ok(what, Method::GET, path, &query, None).await? else {
                break;
            };
            let rows = body
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if rows.is_empty() {
                break;
            }
            all.extend(rows);
        }
        Ok(all)
    }

    /// Every knowledge-base article, global and per company (Hudu answers 25 a page).
    pub async fn articles(&self) -> Result<Vec<HuduArticleRef>, SinkError> {
        let rows = self
            .list("listing articles", "/articles", "articles", &[])
            .await?;
        let mut all: Vec<HuduArticleRef> = rows
            .into_iter()
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect();
        all.sort_by_key(|a| a.id);
        all.dedup_by_key(|a| a.id);
        Ok(all)
    }

    /// Every company (archived ones too).
    pub async fn companies(&self) -> Result<Vec<HuduCompanyRef>, SinkError> {
        // The active and the archived listing at once (each waits a provider's answer).
        let (active, archived) = (
            [("archived", "false".to_owned())],
            [("archived", "true".to_owned())],
        );
        let (active, archived) = futures::future::try_join(
            self.list("listing companies", "/companies", "companies", &active),
            self.list("listing companies", "/companies", "companies", &archived),
        )
        .await?;
        let mut all: Vec<HuduCompanyRef> = active
            .into_iter()
            .chain(archived)
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect();
        all.sort_by_key(|c| c.id);
        all.dedup_by_key(|c| c.id);
        Ok(all)
    }

    /// Creates a company from `fields` (Hudu's company attributes); returns its id.
    pub async fn create_company(&self, fields: &Value) -> Result<i64, SinkError> {
        let body = json!({"company": fields});
        let answer = self
            .call_ok(
                "creating a company",
                Method::POST,
                "/companies",
                &[],
                Some(&body),
            )
            .await?
            .ok_or_else(|| {
                SinkError::Permanent(
                    "Hudu answered 404 to creating a company: check baseUrl".into(),
                )
            })?;
        id_of(&answer, "company")
    }

    /// Updates a company; None when Hudu no longer has it.
    pub async fn update_company(&self, id: i64, fields: &Value) -> Result<Option<()>, SinkError> {
        let body = json!({"company": fields});
        self.put(
            "updating a company",
            &format!("/companies/{id}"),
            Some(&body),
        )
        .await
    }

    /// Archives or unarchives a company; None when Hudu no longer has it.
    pub async fn set_company_archived(
        &self,
        id: i64,
        archived: bool,
    ) -> Result<Option<()>, SinkError> {
        let verb = if archived { "archive" } else { "unarchive" };
        self.put(
            &format!("{verb} of a company"),
            &format!("/companies/{id}/{verb}"),
            None,
        )
        .await
    }

    /// A PUT whose answer only matters as done (`Some`) or gone (`None`, a 404).
    async fn put(
        &self,
        what: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<()>, SinkError> {
        Ok(self
            .call_ok(what, Method::PUT, path, &[], body)
            .await?
            .map(|_| ()))
    }

    /// The layout of exactly `name`, if any.
    pub async fn layout_named(&self, name: &str) -> Result<Option<HuduLayoutRef>, SinkError> {
        let rows = self
            .list(
                "listing asset layouts",
                "/asset_layouts",
                "asset_layouts",
                &[("name", name.to_owned())],
            )
            .await?;
        Ok(rows.iter().filter_map(layout_of).find(|l| l.name == name))
    }

    /// The layout `id`; None when Hudu has none.
    pub async fn layout(&self, id: i64) -> Result<Option<HuduLayoutRef>, SinkError> {
        Ok(self
            .call_ok(
                "reading an asset layout",
                Method::GET,
                &format!("/asset_layouts/{id}"),
                &[],
                None,
            )
            .await?
            .and_then(|b| b.get("asset_layout").and_then(layout_of)))
    }

    /// Creates a layout with Text fields of `labels`.
    pub async fn create_layout(
        &self,
        name: &str,
        labels: &[&str],
    ) -> Result<HuduLayoutRef, SinkError> {
        let fields: Vec<Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| json!({"label": l, "field_type": "Text", "show_in_list": i < 3, "required": false, "position": i + 1}))
            .collect();
        let body = json!({"asset_layout": {"name": name, "icon": "fas fa-sitemap", "color": "#2b6cb0", "icon_color": "#ffffff", "active": true, "fields": fields}});
        let answer = self
            .call_ok(
                "creating an asset layout",
                Method::POST,
                "/asset_layouts",
                &[],
                Some(&body),
            )
            .await?
            .ok_or_else(|| {
                SinkError::Permanent("Hudu answered 404 to creating an asset layout".into())
            })?;
        answer
            .get("asset_layout")
            .and_then(layout_of)
            .ok_or_else(|| {
                SinkError::Transient(
                    "Hudu's answer to creating an asset layout has no layout".into(),
                )
            })
    }

    /// Adds Text fields of `labels` to the layout, keeping its fields.
    pub async fn add_layout_fields(
        &self,
        layout: &HuduLayoutRef,
        labels: &[&str],
    ) -> Result<HuduLayoutRef, SinkError> {
        let mut fields = layout.raw_fields.clone();
        let start = fields.len();
        for (i, l) in labels.iter().enumerate() {
            fields.push(json!({"label": l, "field_type": "Text", "show_in_list": false, "required": false, "position": start + i + 1}));
        }
        let body = json!({"asset_layout": {"fields": fields}});
        let answer = self
            .call_ok(
                "adding fields to an asset layout",
                Method::PUT,
                &format!("/asset_layouts/{}", layout.id),
                &[],
                Some(&body),
            )
            .await?
            .ok_or_else(|| {
                SinkError::Permanent(format!(
                    "asset layout {} is gone from Hudu: choose another in layouts",
                    layout.id
                ))
            })?;
        answer
            .get("asset_layout")
            .and_then(layout_of)
            .ok_or_else(|| {
                SinkError::Transient("Hudu's answer to a layout update has no layout".into())
            })
    }

    /// Every asset of a company (archived ones too).
    pub async fn company_assets(&self, company_id: i64) -> Result<Vec<HuduAssetRef>, SinkError> {
        self.find_assets(company_id, &[]).await
    }

    /// Assets of a company matching Hudu's exact filters (`asset_layout_id`, `name`,
    /// `primary_serial`), archived ones too.
    pub async fn find_assets(
        &self,
        company_id: i64,
        filters: &[(&str, String)],
    ) -> Result<Vec<HuduAssetRef>, SinkError> {
        // The active and the archived listing at once (each waits a provider's answer).
        let query = |archived: &str| {
            let mut query: Vec<(&str, String)> = filters.to_vec();
            query.push(("company_id", company_id.to_string()));
            query.push(("archived", archived.to_owned()));
            query
        };
        let (active, archived) = (query("false"), query("true"));
        let (active, archived) = futures::future::try_join(
            self.list("listing assets", "/assets", "assets", &active),
            self.list("listing assets", "/assets", "assets", &archived),
        )
        .await?;
        Ok(active
            .into_iter()
            .chain(archived)
            .filter_map(|row| serde_json::from_value(row).ok())
            .collect())
    }

    /// Creates an asset in a company; returns its id. A create is never repeated blindly.
    pub async fn create_asset(&self, company_id: i64, asset: &Value) -> Result<i64, SinkError> {
        let body = json!({"asset": asset});
        let answer = self
            .call_ok(
                "creating an asset",
                Method::POST,
                &format!("/companies/{company_id}/assets"),
                &[],
                Some(&body),
            )
            .await?
            .ok_or_else(|| {
                SinkError::Permanent(format!(
                    "Hudu has no company {company_id}: match the PSA company again"
                ))
            })?;
        id_of(&answer, "asset")
    }

    /// Updates an asset; None when Hudu no longer has it.
    pub async fn update_asset(
        &self,
        company_id: i64,
        id: i64,
        asset: &Value,
    ) -> Result<Option<()>, SinkError> {
        let body = json!({"asset": asset});
        self.put(
            "updating an asset",
            &format!("/companies/{company_id}/assets/{id}"),
            Some(&body),
        )
        .await
    }

    /// Archives or unarchives an asset; None when Hudu no longer has it.
    pub async fn set_asset_archived(
        &self,
        company_id: i64,
        id: i64,
        archived: bool,
    ) -> Result<Option<()>, SinkError> {
        let verb = if archived { "archive" } else { "unarchive" };
        self.put(
            &format!("{verb} of an asset"),
            &format!("/companies/{company_id}/assets/{id}/{verb}"),
            None,
        )
        .await
    }
}

fn id_of(answer: &Value, key: &str) -> Result<i64, SinkError> {
    answer
        .get(key)
        .and_then(|o| o.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| SinkError::Transient(format!("Hudu's answer has no {key} id")))
}

fn layout_of(v: &Value) -> Option<HuduLayoutRef> {
    let raw_fields = v
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Some(HuduLayoutRef {
        id: v.get("id")?.as_i64()?,
        name: v.get("name")?.as_str()?.to_owned(),
        fields: raw_fields
            .iter()
            .filter_map(|f| f.get("label").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        raw_fields,
    })
}

/// Hudu's key for a custom field: the label in snake case (`IP Address` -> `ip_address`).
pub fn field_key(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keys_are_snake_case_labels() {
        assert_eq!(field_key("IP Address"), "ip_address");
        assert_eq!(field_key("Start Date"), "start_date");
        assert_eq!(field_key(" OS "), "os");
    }
}
