//! The IT Glue emulator: region-bound keys, JSON:API documents and validation, trait
//! replacement on PATCH, paging past 1000, the sliding one-second budget and its statistics.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{
    fixtures, itglue_key, Faults, ItGlueLimit, ItGlueRegion, Sandbox, SandboxConfig,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const US: &str = "sandbox-itglue-key-us-0123456789abcdef";
const EU: &str = "sandbox-itglue-key-eu-0123456789abcdef";
const AU: &str = "sandbox-itglue-key-au-0123456789abcdef";
const JSON_API: &str = "application/vnd.api+json";

async fn sandbox(limit: Option<ItGlueLimit>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        itglue_rate_limit: limit,
        itglue_generated_keys: 2,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn get_on(base: &str, key: &str, path: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}

async fn get(sb: &Sandbox, key: &str, path: &str) -> reqwest::Response {
    get_on(&sb.itglue_us_url, key, path).await
}

async fn send(
    sb: &Sandbox,
    method: Method,
    key: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    Client::new()
        .request(method, format!("{}{path}", sb.itglue_us_url))
        .header("x-api-key", key)
        .header("content-type", JSON_API)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

fn type_doc(name: &str) -> Value {
    let field = |order: u32, name: &str, kind: &str, required: bool, title: bool| {
        json!({"type": "flexible_asset_fields", "attributes": {
            "order": order, "name": name, "kind": kind, "required": required,
            "use-for-title": title, "show-in-list": title,
        }})
    };
    json!({"data": {
        "type": "flexible_asset_types",
        "attributes": {"name": name, "description": "M365 posture", "icon": "shield",
            "show-in-menu": true},
        "relationships": {"flexible-asset-fields": {"data": [
            field(1, "Tenant", "Text", true, true),
            field(2, "MFA adoption", "Percent", false, false),
            field(3, "Notes", "Textbox", false, false),
        ]}},
    }})
}

fn asset_doc(organization_id: u64, type_id: u64, traits: Value) -> Value {
    json!({"data": {"type": "flexible-assets", "attributes": {
        "organization-id": organization_id,
        "flexible-asset-type-id": type_id,
        "traits": traits,
    }}})
}

fn assert_error(body: &Value, status: &str) {
    let e = &body["errors"][0];
    assert_eq!(e["status"], status, "{body}");
    assert!(e["title"].is_string(), "{body}");
    assert!(e["detail"].is_string(), "{body}");
}

#[tokio::test]
async fn keys_are_bound_to_their_region() {
    let sb = sandbox(SandboxConfig::default().itglue_rate_limit).await;
    assert_eq!(sb.itglue_url("us"), Some(sb.itglue_us_url.as_str()));
    assert_eq!(sb.itglue_url("EU"), Some(sb.itglue_eu_url.as_str()));
    assert_eq!(sb.itglue_url("au"), Some(sb.itglue_au_url.as_str()));
    assert_eq!(sb.itglue_url("ca"), None);

    let r = Client::new()
        .get(format!("{}/organizations", sb.itglue_us_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], JSON_API);
    let body = json_of(r).await;
    assert_error(&body, "401");
    assert_eq!(body["errors"][0]["title"], "Unauthorized");
    for (base, key) in [
        (&sb.itglue_us_url, "nope"),
        (&sb.itglue_us_url, EU),
        (&sb.itglue_eu_url, US),
        (&sb.itglue_au_url, EU),
    ] {
        let r = get_on(base, key, "/organizations").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{key} on {base}");
        assert_error(&json_of(r).await, "401");
    }
    for (region, key) in [("us", US), ("eu", EU), ("au", AU)] {
        let base = sb.itglue_url(region).unwrap();
        let r = get_on(base, key, "/organizations").await;
        assert_eq!(r.status(), StatusCode::OK, "{region}");
        assert_eq!(r.headers()["content-type"], JSON_API);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3000");
    }
    let generated = itglue_key(ItGlueRegion::Au, 1);
    assert_eq!(generated, "sandbox-itglue-key-au-0001-0123456789abcdef");
    let r = get_on(&sb.itglue_au_url, &generated, "/organizations").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_on(
        &sb.itglue_au_url,
        &itglue_key(ItGlueRegion::Au, 2),
        "/organizations",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Unauthenticated requests count overall but belong to no key.
    assert_eq!(sb.itglue_stats().requests, 10);
    assert_eq!(sb.itglue_key_stats(US).unwrap().requests, 1);
    assert_eq!(sb.itglue_key_stats("nope"), None);
}

#[tokio::test]
async fn organizations_page_and_filter_exactly() {
    let sb = sandbox(None).await;
    let body = json_of(get(&sb, US, "/organizations").await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    assert_eq!(body["meta"]["current-page"], 1);
    assert_eq!(body["meta"]["next-page"], 2);
    assert_eq!(body["meta"]["prev-page"], Value::Null);
    assert_eq!(body["meta"]["total-pages"], 3);
    assert_eq!(body["meta"]["total-count"], 120);
    let first = &body["data"][0];
    assert_eq!(first["id"], "1");
    assert_eq!(first["type"], "organizations");
    assert_eq!(first["attributes"]["name"], fixtures::hudu_company_name(1));
    assert_eq!(fixtures::hudu_company_name(1), fixtures::display_name(0));
    let next = body["links"]["next"].as_str().unwrap();
    assert!(next.starts_with(&sb.itglue_us_url), "{next}");
    let body = json_of(get_on(next, US, "").await).await;
    assert_eq!(body["meta"]["current-page"], 2);
    assert_eq!(body["data"][0]["id"], "51");

    let body = json_of(get(&sb, US, "/organizations?page[number]=3&page[size]=50").await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 20);
    assert_eq!(body["meta"]["next-page"], Value::Null);
    assert_eq!(body["meta"]["prev-page"], 2);
    assert!(body["links"].get("next").is_none());

    let name = fixtures::hudu_company_name(7);
    let q = name.replace(' ', "%20");
    let body = json_of(get(&sb, US, &format!("/organizations?filter[name]={q}")).await).await;
    assert_eq!(body["meta"]["total-count"], 1);
    assert_eq!(body["data"][0]["id"], "7");
    let partial = &q[..q.len() - 2];
    let body = json_of(get(&sb, US, &format!("/organizations?filter[name]={partial}")).await).await;
    assert_eq!(body["meta"]["total-count"], 0, "filters match exactly");
    let body = json_of(get(&sb, US, "/organizations?filter%5Bid%5D=9").await).await;
    assert_eq!(body["data"][0]["id"], "9");
    let body = json_of(get(&sb, US, "/organizations/12").await).await;
    assert_eq!(
        body["data"]["attributes"]["name"],
        fixtures::hudu_company_name(12)
    );
    let r = get(&sb, US, "/organizations/121").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_error(&json_of(r).await, "404");
}

#[tokio::test]
async fn asset_types_are_validated_and_names_are_unique_per_account() {
    let sb = sandbox(None).await;
    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_asset_types",
        &type_doc("M365 Security"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], JSON_API);
    let body = json_of(r).await;
    assert_eq!(body["data"]["type"], "flexible-asset-types");
    assert_eq!(body["data"]["attributes"]["name"], "M365 Security");
    let type_id = body["data"]["id"].as_str().unwrap().to_string();

    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_asset_types",
        &type_doc("M365 Security"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_of(r).await;
    assert_error(&body, "422");
    assert_eq!(body["errors"][0]["detail"], "Name has already been taken");
    assert_eq!(
        body["errors"][0]["source"]["pointer"],
        "/data/attributes/name"
    );

    // Another account (another key of the same region) has its own types.
    let other = itglue_key(ItGlueRegion::Us, 0);
    let r = send(
        &sb,
        Method::POST,
        &other,
        "/flexible_asset_types",
        &type_doc("M365 Security"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(sb.itglue_asset_types(US).len(), 1);
    assert_eq!(sb.itglue_asset_types(&other).len(), 1);

    let mut bad_kind = type_doc("Bad kind");
    bad_kind["data"]["relationships"]["flexible-asset-fields"]["data"][0]["attributes"]["kind"] =
        json!("text");
    let r = send(&sb, Method::POST, US, "/flexible_asset_types", &bad_kind).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_of(r).await;
    assert!(body["errors"][0]["source"]["pointer"]
        .as_str()
        .unwrap()
        .ends_with("/kind"));

    let mut hidden = type_doc("Hidden");
    hidden["data"]["relationships"]["flexible-asset-fields"]["data"][0]["attributes"]
        ["show-in-list"] = json!(false);
    let r = send(&sb, Method::POST, US, "/flexible_asset_types", &hidden).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let mut blank = type_doc("");
    blank["data"]["attributes"]["name"] = json!("  ");
    let r = send(&sb, Method::POST, US, "/flexible_asset_types", &blank).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Media type and JSON syntax are checked.
    let r = Client::new()
        .post(format!("{}/flexible_asset_types", sb.itglue_us_url))
        .header("x-api-key", US)
        .json(&type_doc("Plain JSON"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&json_of(r).await, "415");
    let r = Client::new()
        .post(format!("{}/flexible_asset_types", sb.itglue_us_url))
        .header("x-api-key", US)
        .header("content-type", JSON_API)
        .body("{\"data\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_error(&json_of(r).await, "400");
    assert_eq!(sb.itglue_asset_types(US).len(), 1);
    assert_eq!(sb.itglue_key_stats(US).unwrap().writes, 1);

    let body = json_of(
        get(
            &sb,
            US,
            "/flexible_asset_types?filter[name]=M365%20Security",
        )
        .await,
    )
    .await;
    assert_eq!(body["meta"]["total-count"], 1);
    assert_eq!(body["data"][0]["id"], type_id.as_str());
    let body = json_of(get(&sb, US, "/flexible_asset_types?filter[name]=M365").await).await;
    assert_eq!(body["meta"]["total-count"], 0);

    for path in [
        format!("/flexible_asset_fields?filter[flexible_asset_type_id]={type_id}"),
        format!("/flexible_asset_types/{type_id}/relationships/flexible_asset_fields"),
    ] {
        let body = json_of(get(&sb, US, &path).await).await;
        let fields = body["data"].as_array().unwrap();
        assert_eq!(fields.len(), 3, "{path}");
        let a = &fields[1]["attributes"];
        assert_eq!(fields[1]["type"], "flexible-asset-fields");
        assert_eq!(a["name"], "MFA adoption");
        assert_eq!(a["name-key"], "mfa-adoption");
        assert_eq!(a["kind"], "Percent");
        assert_eq!(a["required"], false);
        assert_eq!(a["order"], 2);
        assert_eq!(fields[0]["attributes"]["use-for-title"], true);
        assert_eq!(fields[0]["attributes"]["show-in-list"], true);
    }
    let r = get(&sb, US, "/flexible_asset_types/999999").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_are_validated_and_patch_replaces_the_traits() {
    let sb = sandbox(None).await;
    let t = sb
        .create_itglue_asset_type(US, &type_doc("M365 Security"))
        .unwrap();
    assert_eq!(t.fields[1].name_key, "mfa-adoption");

    let r = get(&sb, US, "/flexible_assets").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = json_of(r).await;
    assert_error(&body, "400");
    assert_eq!(
        body["errors"][0]["detail"],
        "filter[flexible_asset_type_id] is required"
    );

    let traits = json!({"tenant": "contoso.com", "mfa-adoption": 87.5, "notes": "ok"});
    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_assets",
        &asset_doc(2, t.id, traits),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = json_of(r).await;
    let a = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "flexible-assets");
    assert_eq!(a["name"], "contoso.com");
    assert_eq!(a["organization-id"], 2);
    assert_eq!(a["organization-name"], fixtures::hudu_company_name(2));
    assert_eq!(a["flexible-asset-type-id"], t.id);
    assert_eq!(a["flexible-asset-type-name"], "M365 Security");
    assert_eq!(a["traits"]["mfa-adoption"], 87.5);
    let id = body["data"]["id"].as_str().unwrap().to_string();

    // PATCH without "notes": the trait is deleted.
    let patch = asset_doc(
        2,
        t.id,
        json!({"tenant": "contoso.com", "mfa-adoption": 90}),
    );
    let r = send(
        &sb,
        Method::PATCH,
        US,
        &format!("/flexible_assets/{id}"),
        &patch,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json_of(r).await;
    assert!(body["data"]["attributes"]["traits"].get("notes").is_none());
    let stored = sb.itglue_assets(US);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].versions, 2);
    assert!(!stored[0].traits.contains_key("notes"));
    assert_eq!(stored[0].traits["mfa-adoption"], 90);

    // Validation.
    for (doc, pointer) in [
        (
            asset_doc(2, t.id, json!({"tenant": "x", "colour": "red"})),
            "/data/attributes/traits/colour",
        ),
        (
            asset_doc(2, t.id, json!({"mfa-adoption": 1})),
            "/data/attributes/traits/tenant",
        ),
        (
            asset_doc(2, t.id, json!({"tenant": ""})),
            "/data/attributes/traits/tenant",
        ),
        (
            asset_doc(500, t.id, json!({"tenant": "x"})),
            "/data/attributes/organization-id",
        ),
        (
            asset_doc(2, 999_999, json!({"tenant": "x"})),
            "/data/attributes/flexible-asset-type-id",
        ),
    ] {
        let r = send(&sb, Method::POST, US, "/flexible_assets", &doc).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
        let body = json_of(r).await;
        assert_error(&body, "422");
        assert_eq!(body["errors"][0]["source"]["pointer"], pointer, "{body}");
    }
    let patch = asset_doc(2, t.id, json!({"notes": "tenant left out"}));
    let r = send(
        &sb,
        Method::PATCH,
        US,
        &format!("/flexible_assets/{id}"),
        &patch,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(&sb, Method::PATCH, US, "/flexible_assets/42", &patch).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_error(&json_of(r).await, "404");
    assert_eq!(sb.itglue_assets(US)[0].versions, 2);

    // Lists filter exactly; reads by id.
    sb.create_itglue_asset(
        US,
        3,
        t.id,
        json!({"tenant": "fabrikam.com"})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    let path = format!("/flexible_assets?filter[flexible_asset_type_id]={}", t.id);
    let body = json_of(get(&sb, US, &path).await).await;
    assert_eq!(body["meta"]["total-count"], 2);
    let body = json_of(get(&sb, US, &format!("{path}&filter[organization_id]=3")).await).await;
    assert_eq!(body["meta"]["total-count"], 1);
    assert_eq!(body["data"][0]["attributes"]["name"], "fabrikam.com");
    let body = json_of(get(&sb, US, &format!("{path}&filter[name]=contoso.com")).await).await;
    assert_eq!(body["data"][0]["id"], id.as_str());
    let body = json_of(get(&sb, US, &format!("{path}&filter[name]=contoso")).await).await;
    assert_eq!(body["meta"]["total-count"], 0);
    let r = get(&sb, US, &format!("/flexible_assets/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        get(&sb, US, "/flexible_assets/7").await.status(),
        StatusCode::NOT_FOUND
    );
    // Another account sees none of it.
    let other = itglue_key(ItGlueRegion::Us, 1);
    let body = json_of(get(&sb, &other, &path).await).await;
    assert_eq!(body["meta"]["total-count"], 0);
    assert_eq!(sb.itglue_key_stats(US).unwrap().writes, 2);

    let r = Client::new()
        .get(format!("{}/_sandbox/assets?key={US}", sb.itglue_us_url))
        .send()
        .await
        .unwrap();
    let assets: Value = r.json().await.unwrap();
    assert_eq!(assets.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pages_of_1000_reach_every_asset() {
    let sb = sandbox(None).await;
    let t = sb
        .create_itglue_asset_type(US, &type_doc("M365 Security"))
        .unwrap();
    for i in 0..1001u64 {
        let traits = json!({"tenant": format!("tenant{i}.example")});
        sb.create_itglue_asset(US, 1 + i % 100, t.id, traits.as_object().unwrap().clone())
            .unwrap();
    }
    let base = format!("/flexible_assets?filter[flexible_asset_type_id]={}", t.id);
    let body = json_of(get(&sb, US, &format!("{base}&page[size]=1000")).await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1000);
    assert_eq!(body["meta"]["next-page"], 2);
    assert_eq!(body["meta"]["total-pages"], 2);
    assert_eq!(body["meta"]["total-count"], 1001);
    let next = body["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("filter%5Bflexible_asset_type_id%5D="),
        "{next}"
    );
    let body = json_of(get_on(next, US, "").await).await;
    let page = body["data"].as_array().unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["attributes"]["name"], "tenant1000.example");
    assert_eq!(body["meta"]["next-page"], Value::Null);
    assert_eq!(body["meta"]["prev-page"], 1);
    // Over the maximum is treated as the maximum.
    let body = json_of(get(&sb, US, &format!("{base}&page[size]=5000")).await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1000);
    assert_eq!(body["meta"]["total-pages"], 2);
    // The default page is 50.
    let body = json_of(get(&sb, US, &base).await).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    assert_eq!(body["meta"]["total-pages"], 21);
    // Seeding is not counted.
    let stats = sb.itglue_key_stats(US).unwrap();
    assert_eq!((stats.requests, stats.writes), (4, 0));
}

#[tokio::test]
async fn the_eleventh_request_within_a_second_is_refused() {
    let sb = sandbox(Some(ItGlueLimit {
        per_second: 10,
        per_five_minutes: 3000,
        send_retry_after: false,
    }))
    .await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..11 {
        let r = get(&sb, US, "/organizations?page[size]=1").await;
        statuses.push(r.status());
        last = Some(r);
    }
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let r = last.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_none());
    assert_error(&json_of(r).await, "429");
    let stats = sb.itglue_stats();
    assert_eq!(stats.rejected_429, 1);
    assert_eq!(stats.max_requests_in_any_second, 11);
    assert_eq!(stats.requests_during_retry_after, 0);
    assert_eq!(sb.itglue_key_stats(US).unwrap().rejected_429, 1);
    // Other keys have their own budget.
    let r = get_on(&sb.itglue_eu_url, EU, "/organizations").await;
    assert_eq!(r.status(), StatusCode::OK);

    // A second later the budget is back (the refusal consumed none of it).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get(&sb, US, "/organizations").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "2989");

    // With Retry-After configured, a request before it runs out is counted.
    sb.reset_itglue_stats();
    assert_eq!(sb.itglue_stats(), Default::default());
    sb.set_itglue_rate_limit(Some(ItGlueLimit {
        per_second: 1,
        per_five_minutes: 3000,
        send_retry_after: true,
    }));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(&sb, US, "/organizations").await.status(),
        StatusCode::OK
    );
    let r = get(&sb, US, "/organizations").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    // Past the reaction allowance (300 ms), well inside the second.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = get(&sb, US, "/organizations").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let stats = sb.itglue_key_stats(US).unwrap();
    assert_eq!(stats.requests_during_retry_after, 1);
    assert_eq!(stats.rejected_429, 2);
    sb.set_itglue_rate_limit(None);
    assert_eq!(
        get(&sb, US, "/organizations").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_paced_client_stays_within_the_budget() {
    let sb = sandbox(Some(ItGlueLimit {
        per_second: 10,
        per_five_minutes: 3000,
        send_retry_after: false,
    }))
    .await;
    let mut tick = tokio::time::interval(Duration::from_millis(110));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..15 {
        tick.tick().await;
        let r = get(&sb, US, "/organizations?page[size]=1").await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let stats = sb.itglue_stats();
    assert_eq!(stats.rejected_429, 0);
    assert!(stats.max_requests_in_any_second <= 10, "{stats:?}");
}

#[tokio::test]
async fn injected_faults_and_early_retries_are_counted() {
    let sb = sandbox(None).await;
    sb.set_faults(Faults {
        itglue_429_every_nth: Some(2),
        itglue_429_retry_after: Some(30),
        ..Faults::default()
    });
    assert_eq!(
        get(&sb, US, "/organizations").await.status(),
        StatusCode::OK
    );
    let r = get(&sb, US, "/organizations").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "30");
    assert_error(&json_of(r).await, "429");
    // Retrying 400 ms later is an early retry, whatever the answer (calls that arrive within
    // the first 300 ms were on the wire before the client could read the 429).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(&sb, US, "/organizations").await.status(),
        StatusCode::OK
    );
    let stats = sb.itglue_stats();
    assert_eq!(stats.rejected_429, 1);
    assert_eq!(stats.requests_during_retry_after, 1);
    // Other keys are not affected by that Retry-After.
    assert_eq!(
        get_on(&sb.itglue_eu_url, EU, "/organizations")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sb.itglue_key_stats(EU).unwrap().requests_during_retry_after,
        0
    );

    sb.set_faults(Faults {
        itglue_5xx_every_nth: Some(1),
        itglue_latency_ms: 50,
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = std::time::Instant::now();
    let r = get_on(&sb.itglue_eu_url, EU, "/organizations").await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() >= Duration::from_millis(50));

    let stats: Value = Client::new()
        .get(format!("{}/_sandbox/stats", sb.itglue_au_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["itglue"]["rejected_429"], 2);
    // The 502 reached the eu key while its Retry-After of 30 s ran.
    assert_eq!(stats["itglue"]["requests_during_retry_after"], 2);
    sb.reset_itglue_stats();
    assert_eq!(sb.itglue_stats().requests_during_retry_after, 0);
}

fn field_doc(type_id: Value, name: &str, kind: &str, required: bool) -> Value {
    json!({"data": {"type": "flexible_asset_fields", "attributes": {
        "flexible-asset-type-id": type_id, "name": name, "kind": kind, "required": required,
        "show-in-list": false, "use-for-title": false,
    }}})
}

#[tokio::test]
async fn fields_are_added_to_an_existing_type_with_the_validation_of_type_creation() {
    let sb = sandbox(None).await;
    let t = sb
        .create_itglue_asset_type(US, &type_doc("M365 Security"))
        .unwrap();
    let id = json!(t.id);

    // Without an order the field goes after the existing ones; the answer is the field as
    // the field lists show it.
    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_asset_fields",
        &field_doc(id.clone(), "Secure score", "Textbox", false),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], JSON_API);
    let body = json_of(r).await;
    let created = &body["data"];
    assert_eq!(created["type"], "flexible-asset-fields");
    let a = &created["attributes"];
    assert_eq!(a["name"], "Secure score");
    assert_eq!(a["name-key"], "secure-score");
    assert_eq!(a["kind"], "Textbox");
    assert_eq!(a["order"], 4);
    assert_eq!(a["required"], false);
    assert_eq!(a["show-in-list"], false);
    assert_eq!(a["use-for-title"], false);
    assert_eq!(a["flexible-asset-type-id"], t.id);
    let path = format!(
        "/flexible_asset_types/{}/relationships/flexible_asset_fields",
        t.id
    );
    let listed = json_of(get(&sb, US, &path).await).await;
    let fields = listed["data"].as_array().unwrap();
    assert_eq!(fields.len(), 4);
    assert_eq!(&fields[3], created, "the same document as the field list");
    let body = json_of(get(&sb, US, &format!("/flexible_asset_types/{}", t.id)).await).await;
    let related = body["data"]["relationships"]["flexible-asset-fields"]["data"]
        .as_array()
        .unwrap();
    assert_eq!(related.len(), 4);
    // The new field takes traits at once.
    let traits = json!({"tenant": "contoso.com", "secure-score": "<p>61%</p>"});
    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_assets",
        &asset_doc(2, t.id, traits),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // An explicit order is kept, and fields stay listed by order.
    let mut ordered = field_doc(id.clone(), "Header", "Header", false);
    ordered["data"]["attributes"]["order"] = json!(0);
    let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &ordered).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored = &sb.itglue_asset_types(US)[0];
    let names: Vec<&str> = stored.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["Header", "Tenant", "MFA adoption", "Notes", "Secure score"]
    );
    assert_eq!(sb.itglue_key_stats(US).unwrap().writes, 3);

    // Validation: 422 JSON:API errors pointing into the document.
    let mut not_a_number = field_doc(id.clone(), "Order", "Text", false);
    not_a_number["data"]["attributes"]["order"] = json!("first");
    for (doc, pointer, detail) in [
        (
            field_doc(id.clone(), "mfa adoption!", "Text", false),
            "/data/attributes/name",
            "Name has already been taken",
        ),
        (
            field_doc(id.clone(), "  ", "Text", false),
            "/data/attributes/name",
            "Name can't be blank",
        ),
        (
            field_doc(id.clone(), "Score", "textbox", false),
            "/data/attributes/kind",
            "Kind 'textbox' is not included in the list",
        ),
        (not_a_number, "/data/attributes/order", "must be an integer"),
        (
            // The type has an asset, which would lack a required field.
            field_doc(id.clone(), "Owner", "Text", true),
            "/data/attributes/required",
            "A required field can't be added to a flexible asset type that has flexible assets",
        ),
        (
            field_doc(Value::Null, "Owner", "Text", false),
            "/data/attributes/flexible-asset-type-id",
            "Flexible asset type must exist",
        ),
    ] {
        let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &doc).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
        let body = json_of(r).await;
        assert_error(&body, "422");
        assert_eq!(body["errors"][0]["source"]["pointer"], pointer, "{body}");
        assert_eq!(body["errors"][0]["detail"], detail, "{body}");
    }
    let mut wrong_type = field_doc(id.clone(), "Owner", "Text", false);
    wrong_type["data"]["type"] = json!("flexible_assets");
    let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &wrong_type).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(
        &sb,
        Method::POST,
        US,
        "/flexible_asset_fields",
        &json!({"data": {"type": "flexible_asset_fields"}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_error(&json_of(r).await, "400");
    // An unknown type, or another account's: 404.
    let other = itglue_key(ItGlueRegion::Us, 0);
    for (key, type_id) in [(US, json!(999_999)), (other.as_str(), id.clone())] {
        let doc = field_doc(type_id, "Owner", "Text", false);
        let r = send(&sb, Method::POST, key, "/flexible_asset_fields", &doc).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{key}");
        assert_error(&json_of(r).await, "404");
    }
    // A required field is fine on a type without assets (given as a numeric string here).
    let empty = sb
        .create_itglue_asset_type(US, &type_doc("Empty type"))
        .unwrap();
    let doc = field_doc(json!(empty.id.to_string()), "Owner", "Text", true);
    let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &doc).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(json_of(r).await["data"]["attributes"]["required"], true);
    assert_eq!(
        sb.itglue_key_stats(US).unwrap().writes,
        4,
        "refusals are not writes"
    );
    assert_eq!(sb.itglue_asset_types(US)[0].fields.len(), 5);

    // The gate: key, media type, injected faults.
    let doc = field_doc(id.clone(), "Gated", "Text", false);
    let r = send(&sb, Method::POST, "nope", "/flexible_asset_fields", &doc).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = Client::new()
        .post(format!("{}/flexible_asset_fields", sb.itglue_us_url))
        .header("x-api-key", US)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = Client::new()
        .post(format!("{}/flexible_asset_fields", sb.itglue_eu_url))
        .header("x-api-key", US)
        .header("content-type", JSON_API)
        .body(doc.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a key of another region"
    );
    sb.set_faults(Faults {
        itglue_429_every_nth: Some(1),
        ..Faults::default()
    });
    let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &doc).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    sb.set_faults(Faults::default());
    assert_eq!(sb.itglue_key_stats(US).unwrap().rejected_429, 1);
    assert_eq!(sb.itglue_key_stats(US).unwrap().writes, 4);
    assert_eq!(sb.itglue_asset_types(US)[0].fields.len(), 5);
}

#[tokio::test]
async fn adding_fields_counts_against_the_rate_limit() {
    let sb = sandbox(Some(ItGlueLimit {
        per_second: 2,
        per_five_minutes: 3000,
        send_retry_after: false,
    }))
    .await;
    let t = sb
        .create_itglue_asset_type(US, &type_doc("M365 Security"))
        .unwrap();
    let mut statuses = Vec::new();
    for name in ["One", "Two", "Three"] {
        let doc = field_doc(json!(t.id), name, "Text", false);
        let r = send(&sb, Method::POST, US, "/flexible_asset_fields", &doc).await;
        statuses.push(r.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let stats = sb.itglue_key_stats(US).unwrap();
    assert_eq!((stats.writes, stats.rejected_429), (2, 1));
    assert_eq!(sb.itglue_asset_types(US)[0].fields.len(), 5);
}
