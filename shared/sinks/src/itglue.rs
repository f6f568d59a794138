//! The IT Glue sink: a flexible asset type `M365 Posture` once per account (adopted by name
//! if it exists, and then given the fields docsync writes that it lacks), then one flexible
//! asset per tenant in the mapped organization, created once and PATCHed in place with the
//! full trait set (IT Glue deletes the traits a PATCH leaves out). JSON:API bodies; lists are
//! followed page by page (1000 a page) to the end.

use crate::html::{self, RenderedSection};
use crate::http::{rate_limit_headers, snippet, Answer, PacedClient};
use crate::in_place::{write_document, InPlace, Via};
use crate::pacer::Pacer;
use crate::{
    ConnectionReport, KnownDocument, NamedRemote, PublishOutcome, PublishRequest, Sink, SinkError,
};
use docsync_domain::{ApiKey, BaseUrl, ItGlueRegion, Provider, RateLimit, Snapshot};
use futures::future::BoxFuture;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The flexible asset type docsync writes.
pub const ASSET_TYPE_NAME: &str = "M365 Posture";
/// How many times one call is tried on 429s and transient faults.
const ATTEMPTS: u32 = 10;
/// IT Glue's largest page.
const PAGE_SIZE: u32 = 1000;
/// Safety cap on pages followed.
const MAX_PAGES: u32 = 1000;
/// JSON:API's media type, which IT Glue requires on bodies.
const JSON_API: &str = "application/vnd.api+json";

/// IT Glue's API host of each region (`DOCSYNC_ITGLUE_URL_*` override them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItGlueHosts {
    /// us.
    pub us: String,
    /// eu.
    pub eu: String,
    /// au.
    pub au: String,
}

impl Default for ItGlueHosts {
    fn default() -> Self {
        Self {
            us: ItGlueRegion::Us.default_url().into(),
            eu: ItGlueRegion::Eu.default_url().into(),
            au: ItGlueRegion::Au.default_url().into(),
        }
    }
}

impl ItGlueHosts {
    /// The API root of `region`.
    pub fn url(&self, region: ItGlueRegion) -> &str {
        match region {
            ItGlueRegion::Us => &self.us,
            ItGlueRegion::Eu => &self.eu,
            ItGlueRegion::Au => &self.au,
        }
    }
}

/// One IT Glue integration's connection settings.
#[derive(Debug, Clone)]
pub struct ItGlueConfig {
    /// The region's API root.
    pub base_url: BaseUrl,
    /// The region, for messages.
    pub region: ItGlueRegion,
    /// The API key.
    pub api_key: ApiKey,
    /// The budget of this key.
    pub rate_limit: RateLimit,
    /// The rate-limit key (provider credential of one account).
    pub rate_limit_key: String,
}

/// The `M365 Posture` type id per account, found or created once per process (one lock per
/// key, so concurrent first pushes never create it twice).
#[derive(Debug, Clone, Default)]
pub struct AssetTypeCache(Arc<Mutex<HashMap<String, TypeSlot>>>);

/// One account's type id, behind the lock its first lookup holds.
type TypeSlot = Arc<tokio::sync::Mutex<Option<i64>>>;

impl AssetTypeCache {
    fn slot(&self, key: &str) -> TypeSlot {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }
}

/// A field of the `M365 Posture` type.
#[derive(Debug, Clone, Copy)]
struct FieldSpec {
    name: &'static str,
    kind: &'static str,
    title: bool,
    in_list: bool,
}

/// The fields before the snapshot's sections.
const HEAD_FIELDS: [FieldSpec; 3] = [
    FieldSpec {
        name: "Tenant",
        kind: "Text",
        title: true,
        in_list: true,
    },
    FieldSpec {
        name: "Primary domain",
        kind: "Text",
        title: false,
        in_list: true,
    },
    FieldSpec {
        name: "Microsoft tenant ID",
        kind: "Text",
        title: false,
        in_list: false,
    },
];

/// IT Glue's name-key of a field: lower case, runs of other characters as one `-`.
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Every field of the type: the head fields, then one Textbox per snapshot section.
fn field_specs() -> Vec<FieldSpec> {
    let mut fields = HEAD_FIELDS.to_vec();
    fields.extend(html::SECTION_TITLES.iter().map(|title| FieldSpec {
        name: title,
        kind: "Textbox",
        title: false,
        in_list: false,
    }));
    fields
}

/// The JSON:API document that creates the `M365 Posture` flexible asset type.
pub fn asset_type_document() -> Value {
    let fields: Vec<Value> = field_specs()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({"type": "flexible_asset_fields", "attributes": {
                "order": i + 1, "name": f.name, "kind": f.kind, "required": f.title,
                "use-for-title": f.title, "show-in-list": f.in_list,
            }})
        })
        .collect();
    json!({"data": {"type": "flexible_asset_types", "attributes": {
            "name": ASSET_TYPE_NAME,
            "description": "Microsoft 365 posture of a customer tenant, mirrored by docsync on every push. Edits are overwritten.",
            "icon": "cloud", "show-in-menu": true,
        },
        "relationships": {"flexible-asset-fields": {"data": fields}}}})
}

/// The full trait set of a tenant's asset.
pub fn traits(snapshot: &Snapshot, sections: &[RenderedSection]) -> Map<String, Value> {
    let mut traits = Map::new();
    let domain = snapshot
        .metadata
        .data()
        .map_or_else(|| "not collected".to_owned(), |m| m.primary_domain.clone());
    traits.insert(name_key("Tenant"), json!(snapshot.tenant_name));
    traits.insert(name_key("Primary domain"), json!(domain));
    traits.insert(
        name_key("Microsoft tenant ID"),
        json!(snapshot.microsoft_tenant_id),
    );
    for section in sections {
        traits.insert(name_key(section.title), json!(section.html));
    }
    traits
}

#[derive(Debug, Deserialize)]
struct Resource {
    id: String,
    #[serde(default)]
    attributes: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Single {
    data: Resource,
}

#[derive(Debug, Deserialize)]
struct List {
    data: Vec<Resource>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(rename = "next-page", default)]
    next_page: Option<Value>,
}

impl Resource {
    fn id(&self) -> Result<i64, SinkError> {
        self.id.parse().map_err(|_| {
            SinkError::Transient(format!(
                "IT Glue answered an id that is not a number: {:?}",
                self.id
            ))
        })
    }

    fn text(&self, attribute: &str) -> Option<&str> {
        self.attributes.get(attribute).and_then(Value::as_str)
    }

    fn number(&self, attribute: &str) -> Option<i64> {
        let v = self.attributes.get(attribute)?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }
}

/// Publishes snapshots to one IT Glue account with one key.
pub struct ItGlueSink {
    config: ItGlueConfig,
    client: PacedClient,
    types: AssetTypeCache,
}

impl ItGlueSink {
    /// A sink for one integration; `pacer`, `types` and `http` are the process-wide ones.
    pub fn new(
        config: ItGlueConfig,
        pacer: Pacer,
        types: AssetTypeCache,
        http: reqwest::Client,
    ) -> Self {
        let client = PacedClient {
            http,
            pacer,
            key: config.rate_limit_key.clone(),
            limit: config.rate_limit,
            provider: "IT Glue",
            host: config.base_url.host(),
            throttle_wait: throttle_backoff,
            attempts: ATTEMPTS,
        };
        Self {
            config,
            client,
            types,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        requests: &mut u32,
    ) -> Result<Answer, SinkError> {
        let url = format!("{}{path}", self.config.base_url);
        self.client
            .send(
                || {
                    let req = self
                        .client
                        .http
                        .request(method.clone(), &url)
                        .header("x-api-key", self.config.api_key.expose())
                        .header("accept", JSON_API)
                        .query(query);
                    match body {
                        Some(b) => req.header("content-type", JSON_API).body(b.to_string()),
                        None => req,
                    }
                },
                requests,
            )
            .await
    }

    fn failure(&self, what: &str, answer: &Answer) -> SinkError {
        let host = self.config.base_url.host();
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                "IT Glue rejected the API key: a bad key, or a key from another region (this integration uses region {}, {host}); check apiKey and region",
                self.config.region
            ),
            StatusCode::NOT_FOUND => {
                "not found: check the organization id in organizationIdByTenantId".to_owned()
            }
            _ => errors_detail(&answer.body),
        };
        SinkError::Permanent(format!(
            "{what} at {host} failed with {}: {hint}",
            answer.status
        ))
    }

    /// Every resource of a list, following `meta.next-page` to the end.
    async fn list_all(
        &self,
        path: &str,
        filters: &[(&str, String)],
        what: &str,
        requests: &mut u32,
        mut stop: impl FnMut(&Resource) -> bool,
    ) -> Result<Option<Resource>, SinkError> {
        for page in 1..=MAX_PAGES {
            let mut query: Vec<(&str, String)> = filters.to_vec();
            query.push(("page[size]", PAGE_SIZE.to_string()));
            query.push(("page[number]", page.to_string()));
            let answer = self.call(Method::GET, path, &query, None, requests).await?;
            if !answer.status.is_success() {
                return Err(self.failure(what, &answer));
            }
            let list: List = serde_json::from_str(&answer.body).map_err(|e| {
                SinkError::Transient(format!(
                    "IT Glue answered an unreadable list while {what}: {e}"
                ))
            })?;
            let empty = list.data.is_empty();
            if let Some(found) = list.data.into_iter().find(|r| stop(r)) {
                return Ok(Some(found));
            }
            let more = list
                .meta
                .and_then(|m| m.next_page)
                .is_some_and(|n| !n.is_null());
            if empty || !more {
                break;
            }
        }
        Ok(None)
    }

    /// The account's `M365 Posture` type: cached, else found by name (and given the fields it
    /// lacks), else created.
    async fn asset_type(&self, requests: &mut u32) -> Result<i64, SinkError> {
        let cache_key = format!("{}|{}", self.config.rate_limit_key, self.config.base_url);
        let slot = self.types.slot(&cache_key);
        let mut cached = slot.lock().await;
        if let Some(id) = *cached {
            return Ok(id);
        }
        let id = match self.find_type(requests).await? {
            Some(id) => {
                self.ensure_fields(id, requests).await?;
                id
            }
            None => match self.create_type(requests).await? {
                Some(id) => id,
                // Created meanwhile by another process: adopt it.
                None => self.find_type(requests).await?.ok_or_else(|| {
                    SinkError::Transient(format!(
                        "IT Glue refused to create the {ASSET_TYPE_NAME:?} flexible asset type and none exists yet"
                    ))
                })?,
            },
        };
        *cached = Some(id);
        Ok(id)
    }

    fn forget_type(&self) {
        let cache_key = format!("{}|{}", self.config.rate_limit_key, self.config.base_url);
        if let Ok(mut cached) = self.types.slot(&cache_key).try_lock() {
            *cached = None;
        }
    }

    async fn find_type(&self, requests: &mut u32) -> Result<Option<i64>, SinkError> {
        let found = self
            .list_all(
                "/flexible_asset_types",
                &[("filter[name]", ASSET_TYPE_NAME.to_owned())],
                "looking up the flexible asset type",
                requests,
                |r| r.text("name") == Some(ASSET_TYPE_NAME),
            )
            .await?;
        found.map(|r| r.id()).transpose()
    }

    /// Adds to a hand-made type the fields docsync writes and it lacks (a PATCH with their
    /// traits would be refused otherwise): each missing field is POSTed, not required, with
    /// its kind, after the existing ones. Only a refusal a person must act on is an error.
    async fn ensure_fields(&self, type_id: i64, requests: &mut u32) -> Result<(), SinkError> {
        let path = format!("/flexible_asset_types/{type_id}/relationships/flexible_asset_fields");
        let mut have: Vec<String> = Vec::new();
        let mut last_order = 0;
        let mut has_title = false;
        self.list_all(
            &path,
            &[],
            "reading the flexible asset type's fields",
            requests,
            |r| {
                if let Some(key) = r.text("name-key") {
                    have.push(key.to_owned());
                }
                last_order = last_order.max(r.number("order").unwrap_or(0));
                has_title |= r.attributes.get("use-for-title") == Some(&Value::Bool(true));
                false
            },
        )
        .await?;
        let missing: Vec<FieldSpec> = field_specs()
            .into_iter()
            .filter(|s| !have.contains(&name_key(s.name)))
            .collect();
        for (spec, order) in missing.iter().zip(last_order + 1..) {
            // The title field names the asset (and adoption finds it by that name), unless the
            // type already has a title field of its own.
            let title = spec.title && !has_title;
            let body = json!({"data": {"type": "flexible_asset_fields", "attributes": {
                "flexible-asset-type-id": type_id, "order": order, "name": spec.name,
                "kind": spec.kind, "required": false, "show-in-list": spec.in_list,
                "use-for-title": title,
            }}});
            let answer = self
                .call(
                    Method::POST,
                    "/flexible_asset_fields",
                    &[],
                    Some(&body),
                    requests,
                )
                .await?;
            self.field_added(type_id, spec, &answer)?;
            has_title |= title;
            tracing::info!(
                type_id,
                field = spec.name,
                "added a missing field to the IT Glue flexible asset type"
            );
        }
        Ok(())
    }

    /// What the answer to adding `spec` to type `type_id` means.
    fn field_added(
        &self,
        type_id: i64,
        spec: &FieldSpec,
        answer: &Answer,
    ) -> Result<(), SinkError> {
        let status = answer.status;
        if status.is_success() {
            return Ok(());
        }
        let detail = errors_detail(&answer.body);
        let field = spec.name;
        match status {
            // Added meanwhile (another process, or a person): it is there.
            StatusCode::UNPROCESSABLE_ENTITY if detail.to_ascii_lowercase().contains("taken") => {
                Ok(())
            }
            // Deleted meanwhile: the retry finds or creates the type again.
            StatusCode::NOT_FOUND => Err(SinkError::Transient(format!(
                "the IT Glue flexible asset type {ASSET_TYPE_NAME:?} (id {type_id}) was gone when docsync added its field {field:?}"
            ))),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(self.failure(&format!("adding the field {field:?} to the flexible asset type"), answer))
            }
            s if s.is_client_error() && s != StatusCode::REQUEST_TIMEOUT => {
                Err(SinkError::Permanent(format!(
                    "IT Glue at {} refused to add the field {field:?} ({}) to the flexible asset type {ASSET_TYPE_NAME:?} (id {type_id}) with {s}: {detail}; add it in IT Glue (Account → Flexible Asset Types) or rename that type so docsync creates its own",
                    self.config.base_url.host(),
                    spec.kind,
                )))
            }
            s => Err(SinkError::Transient(format!(
                "IT Glue at {} answered {s} while docsync added the field {field:?} to the flexible asset type: {detail}",
                self.config.base_url.host()
            ))),
        }
    }

    /// Creates the type; `None` when IT Glue says the name is taken.
    async fn create_type(&self, requests: &mut u32) -> Result<Option<i64>, SinkError> {
        let body = asset_type_document();
        let answer = self
            .call(
                Method::POST,
                "/flexible_asset_types",
                &[],
                Some(&body),
                requests,
            )
            .await?;
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && answer.body.to_ascii_lowercase().contains("taken")
        {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.failure("creating the flexible asset type", &answer));
        }
        parse_single(&answer.body)?.id().map(Some)
    }

    async fn find_asset(
        &self,
        type_id: i64,
        organization_id: i64,
        name: &str,
        requests: &mut u32,
    ) -> Result<Option<i64>, SinkError> {
        let found = self
            .list_all(
                "/flexible_assets",
                &[
                    ("filter[flexible_asset_type_id]", type_id.to_string()),
                    ("filter[organization_id]", organization_id.to_string()),
                    ("filter[name]", name.to_owned()),
                ],
                "looking up the tenant's flexible asset",
                requests,
                |r| {
                    r.text("name") == Some(name)
                        && r.number("organization-id")
                            .is_none_or(|o| o == organization_id)
                },
            )
            .await?;
        found.map(|r| r.id()).transpose()
    }

    /// PATCHes the asset with the full trait set; `None` when it no longer exists.
    async fn update(
        &self,
        id: i64,
        body: &Value,
        requests: &mut u32,
    ) -> Result<Option<i64>, SinkError> {
        let answer = self
            .call(
                Method::PATCH,
                &format!("/flexible_assets/{id}"),
                &[],
                Some(body),
                requests,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
            // The type may have been changed by hand: look it up again next time.
            self.forget_type();
        }
        if !answer.status.is_success() {
            return Err(self.failure("updating the flexible asset", &answer));
        }
        parse_single(&answer.body)?.id().map(Some)
    }

    async fn publish_inner(
        &self,
        request: PublishRequest<'_>,
    ) -> Result<PublishOutcome, SinkError> {
        let mut requests = 0;
        let asset =
            crate::posture::itglue_asset(request.snapshot, request.options, request.pushed_at);
        let type_id = self.asset_type(&mut requests).await?;
        let name = asset.name;
        let organization_id = request.parent_id;
        let body = json!({"data": {"type": "flexible-assets", "attributes": {
            "organization-id": organization_id,
            "flexible-asset-type-id": type_id,
            "traits": asset.traits,
        }}});
        let asset = AssetWrite {
            sink: self,
            body: &body,
            type_id,
            organization_id,
        };
        let written = write_document(
            &asset,
            &name,
            organization_id,
            request.known.as_ref(),
            &mut requests,
        )
        .await?;
        Ok(PublishOutcome {
            document: KnownDocument {
                remote_id: written.remote_id,
                parent_id: organization_id,
                title: name,
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
                "/organizations",
                &[
                    ("page[size]", "10".to_owned()),
                    ("page[number]", "1".to_owned()),
                ],
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
                    message: format!("{e}: check region ({})", self.config.region),
                }
            }
        };
        let headers = rate_limit_headers(&answer.headers);
        if !answer.status.is_success() {
            let message = match answer.status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                    "IT Glue at {host} rejected the API key ({}): a bad key, or a key from another region. This integration uses region {}: an AU account needs region au, an EU account eu. Otherwise create a new key in IT Glue → Account → API Keys.",
                    answer.status, self.config.region
                ),
                s => format!("IT Glue at {host} answered {s}: {}", errors_detail(&answer.body)),
            };
            return ConnectionReport {
                key_valid: false,
                reachable: true,
                first_companies: vec![],
                rate_limit_headers: headers,
                message,
            };
        }
        match serde_json::from_str::<List>(&answer.body) {
            Ok(list) => ConnectionReport {
                key_valid: true,
                reachable: true,
                first_companies: list
                    .data
                    .iter()
                    .take(10)
                    .filter_map(|r| {
                        Some(NamedRemote {
                            id: r.id.parse().ok()?,
                            name: r.text("name").unwrap_or_default().to_owned(),
                        })
                    })
                    .collect(),
                rate_limit_headers: headers,
                message: format!(
                    "Key accepted and IT Glue ({} region) reachable. Cross-check organizationIdByTenantId against these organizations.",
                    self.config.region
                ),
            },
            Err(_) => ConnectionReport {
                key_valid: false,
                reachable: true,
                first_companies: vec![],
                rate_limit_headers: headers,
                message: format!("{host} answered, but not like IT Glue's API: check region and DOCSYNC_ITGLUE_URL_*"),
            },
        }
    }
}

/// The IT Glue flexible asset's calls for the one write-in-place loop.
struct AssetWrite<'a> {
    sink: &'a ItGlueSink,
    body: &'a Value,
    type_id: i64,
    organization_id: i64,
}

impl InPlace for AssetWrite<'_> {
    type Id = String;

    async fn update(
        &self,
        remote_id: &String,
        requests: &mut u32,
    ) -> Result<Option<String>, SinkError> {
        // An id IT Glue cannot have made is as good as gone: adopt or create instead.
        let Ok(id) = remote_id.parse::<i64>() else {
            return Ok(None);
        };
        let written = self.sink.update(id, self.body, requests).await?;
        Ok(written.map(|id| id.to_string()))
    }

    async fn find(&self, title: &str, requests: &mut u32) -> Result<Option<String>, SinkError> {
        let found = self
            .sink
            .find_asset(self.type_id, self.organization_id, title, requests)
            .await?;
        Ok(found.map(|id| id.to_string()))
    }

    async fn create(&self, requests: &mut u32) -> Result<String, SinkError> {
        let answer = self
            .sink
            .call(
                Method::POST,
                "/flexible_assets",
                &[],
                Some(self.body),
                requests,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self.sink.failure("creating the flexible asset", &answer));
        }
        Ok(parse_single(&answer.body)?.id()?.to_string())
    }
}

fn parse_single(body: &str) -> Result<Resource, SinkError> {
    serde_json::from_str::<Single>(body)
        .map(|s| s.data)
        .map_err(|e| SinkError::Transient(format!("IT Glue answered an unreadable resource: {e}")))
}

/// The `errors[].detail` (or title) of a JSON:API error body, else its first characters.
fn errors_detail(body: &str) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.get("errors")?.as_array().map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    e.get("detail")
                        .or_else(|| e.get("title"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
    });
    match parsed {
        Some(details) if !details.is_empty() => snippet(&details.join("; ")),
        _ => snippet(body),
    }
}

/// IT Glue names no wait on 429: back off exponentially with jitter, by 429s in a row
/// (1 s, 2 s, 4 s ... capped at 60 s, plus up to half again).
fn throttle_backoff(streak: u32) -> Duration {
    let base = 1000u64
        .saturating_mul(1 << streak.saturating_sub(1).min(6))
        .min(60_000);
    let jitter = rand::rng().random_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

impl Sink for ItGlueSink {
    fn provider(&self) -> Provider {
        Provider::ItGlue
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
    fn name_keys_follow_it_glue() {
        assert_eq!(name_key("Tenant"), "tenant");
        assert_eq!(name_key("MFA adoption"), "mfa-adoption");
        assert_eq!(name_key("Last sync and push"), "last-sync-and-push");
        assert_eq!(name_key("Microsoft tenant ID"), "microsoft-tenant-id");
    }

    #[test]
    fn throttle_backoff_grows_with_the_streak() {
        assert!(throttle_backoff(1) <= Duration::from_millis(1500));
        assert!(throttle_backoff(3) >= Duration::from_secs(4));
        assert!(throttle_backoff(20) <= Duration::from_secs(90));
    }

    #[test]
    fn error_details_come_from_the_errors_array() {
        let body = r#"{"errors":[{"status":"422","title":"Unprocessable","detail":"Name has already been taken"}]}"#;
        assert_eq!(errors_detail(body), "Name has already been taken");
        assert_eq!(errors_detail("plain"), "plain");
    }
}
