//! The Hudu emulator's companies, asset layouts, assets and global articles.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{fixtures, Sandbox, SandboxConfig};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const RW: &str = "sandbox-hudu-key-0123456789abcdef";
const RO: &str = "sandbox-hudu-readonly-0123456789";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        hudu_rate_limit: None,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn call(
    sb: &Sandbox,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new()
        .request(method, format!("{}/api/v1{path}", sb.hudu_url))
        .header("x-api-key", key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(sb: &Sandbox, path: &str) -> (StatusCode, Value) {
    call(sb, RW, Method::GET, path, None).await
}

async fn post(sb: &Sandbox, path: &str, body: Value) -> (StatusCode, Value) {
    call(sb, RW, Method::POST, path, Some(body)).await
}

async fn put(sb: &Sandbox, path: &str, body: Value) -> (StatusCode, Value) {
    call(sb, RW, Method::PUT, path, Some(body)).await
}

fn ids(body: &Value, key: &str) -> Vec<u64> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn seeded_companies_keep_their_json() {
    let sb = sandbox().await;
    let (status, body) = get(&sb, "/companies/7").await;
    assert_eq!(status, StatusCode::OK);
    let c = &body["company"];
    assert_eq!(c["name"], fixtures::hudu_company_name(7).as_str());
    assert_eq!(c["id_number"], "C00007");
    assert_eq!(c["address_line_1"], "17 Collins Street");
    assert_eq!(c["phone_number"], "+61 3 9000 0007");
    assert_eq!(c["company_type"], "Customer");
    assert_eq!(c["notes"], "");
    assert_eq!(c["website"], Value::Null);
    assert_eq!(c["archived"], false);
    assert_eq!(c["created_at"], "2022-07-01T00:00:00.000Z");
    assert_eq!(c["updated_at"], "2024-02-01T00:00:00.000Z");
    assert!(c["slug"].as_str().unwrap().ends_with("-7"));
    assert_eq!(
        c["full_url"],
        format!("{}{}", sb.hudu_url, c["url"].as_str().unwrap()).as_str()
    );
    let (_, body) = get(&sb, "/companies?id_number=C00042").await;
    assert_eq!(ids(&body, "companies"), [42]);
    let (status, body) = get(&sb, "/companies/0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    let snapshot = sb.hudu_companies();
    assert_eq!(snapshot.len(), 120);
    assert_eq!(snapshot[6].city.as_deref(), Some("Melbourne"));
}

#[tokio::test]
async fn companies_are_created_updated_archived_and_unarchived() {
    let sb = sandbox().await;
    let (status, _) = post(&sb, "/companies", json!({"company": {"name": "  "}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(&sb, "/companies", json!({"name": "Acme"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post(
        &sb,
        "/companies",
        json!({"company": {"name": "Acme Pty Ltd", "city": "Sydney", "zip": 2000,
            "id_number": "CW-42", "website": "https://acme.example", "fax_number": "+61 2 5555"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let c = &body["company"];
    assert_eq!(c["id"], 121, "new ids follow the seeded ones");
    assert_eq!(
        (&c["city"], &c["zip"], &c["archived"]),
        (&json!("Sydney"), &json!("2000"), &json!(false))
    );
    assert_eq!(c["fax_number"], "+61 2 5555");

    let (status, body) = put(
        &sb,
        "/companies/121",
        json!({"company": {"phone_number": "+61 2 1234 5678", "website": null}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let c = &body["company"];
    assert_eq!(c["name"], "Acme Pty Ltd");
    assert_eq!(c["city"], "Sydney");
    assert_eq!(c["phone_number"], "+61 2 1234 5678");
    assert_eq!(c["website"], Value::Null);
    let (status, body) = put(&sb, "/companies/999", json!({"company": {"name": "x"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    let (status, _) = put(&sb, "/companies/121", json!({"company": {"name": ""}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, body) = get(&sb, "/companies?id_number=CW-42").await;
    assert_eq!(ids(&body, "companies"), [121]);
    let (_, body) = get(&sb, "/companies?search=acme").await;
    assert_eq!(ids(&body, "companies"), [121]);

    let (status, body) = put(&sb, "/companies/121/archive", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["company"]["archived"], true);
    let (status, body) = put(&sb, "/companies/5/archive", json!({})).await;
    assert_eq!(
        (status, &body["company"]["archived"]),
        (StatusCode::OK, &json!(true))
    );
    // Unarchived only by default; archived=true lists the archived ones only.
    let (_, body) = get(&sb, "/companies?page=2&page_size=100").await;
    assert_eq!(ids(&body, "companies"), (102..=120).collect::<Vec<_>>());
    let (_, body) = get(&sb, "/companies?archived=false&page_size=10").await;
    assert_eq!(ids(&body, "companies"), [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    let (_, body) = get(&sb, "/companies?archived=true").await;
    assert_eq!(ids(&body, "companies"), [5, 121]);
    let (_, body) = get(&sb, "/companies?archived=true&name=acme").await;
    assert_eq!(ids(&body, "companies"), [121]);
    // A single archived company is still served.
    let (status, _) = get(&sb, "/companies/121").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = put(&sb, "/companies/121/unarchive", json!({})).await;
    assert_eq!(
        (status, &body["company"]["archived"]),
        (StatusCode::OK, &json!(false))
    );
    let (_, body) = get(&sb, "/companies?archived=true").await;
    assert_eq!(ids(&body, "companies"), [5]);
    let (status, _) = put(&sb, "/companies/999/archive", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let snapshot = sb.hudu_companies();
    let acme = snapshot.iter().find(|c| c.id == 121).unwrap();
    assert_eq!(acme.name, "Acme Pty Ltd");
    assert_eq!(acme.id_number.as_deref(), Some("CW-42"));
    assert!(!acme.archived);
    assert!(snapshot.iter().find(|c| c.id == 5).unwrap().archived);
    let stats = sb.hudu_stats();
    assert_eq!((stats.company_writes, stats.writes), (5, 5));
    assert_eq!((stats.asset_writes, stats.layout_writes), (0, 0));
    // Seeding is not counted.
    assert_eq!(sb.create_hudu_company("Seeded Co"), 122);
    assert_eq!(sb.hudu_stats().writes, 5);
}

#[tokio::test]
async fn layouts_validate_names_and_field_types_and_put_matches_fields_by_label() {
    let sb = sandbox().await;
    let body = json!({"asset_layout": {"name": "Network Device", "icon": "fas fa-network-wired",
    "fields": [
        {"label": "IP Address", "field_type": "Text", "show_in_list": true},
        {"label": "Notes", "field_type": "RichText", "hint": "free text"},
    ]}});
    let (status, created) = post(&sb, "/asset_layouts", body).await;
    assert_eq!(status, StatusCode::OK);
    let l = &created["asset_layout"];
    let id = l["id"].as_u64().unwrap();
    assert_eq!(l["name"], "Network Device");
    assert_eq!(l["active"], true, "active by default");
    assert_eq!(l["icon"], "fas fa-network-wired");
    assert_eq!(l["fields"][0]["label"], "IP Address");
    assert_eq!(l["fields"][0]["show_in_list"], true);
    assert_eq!(l["fields"][0]["required"], false);
    assert_eq!(l["fields"][1]["position"], 2);
    assert_eq!(l["fields"][1]["hint"], "free text");
    let ip_id = l["fields"][0]["id"].as_u64().unwrap();

    let (status, body) = post(
        &sb,
        "/asset_layouts",
        json!({"asset_layout": {"name": "network device", "fields": []}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("taken"));
    let (status, body) = post(
        &sb,
        "/asset_layouts",
        json!({"asset_layout": {"name": "Contacts",
            "fields": [{"label": "Email", "field_type": "text"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("\"text\""),
        "{body}"
    );
    let (status, _) = post(
        &sb,
        "/asset_layouts",
        json!({"asset_layout": {"icon": "x"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, body) = put(
        &sb,
        &format!("/asset_layouts/{id}"),
        json!({"asset_layout": {"fields": [
            {"label": "IP Address", "field_type": "Text"},
            {"label": "Notes", "field_type": "RichText"},
            {"label": "Location", "field_type": "Text", "required": true},
        ]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let fields = body["asset_layout"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 3);
    assert_eq!(fields[0]["id"].as_u64(), Some(ip_id), "matched by label");
    assert_eq!(
        fields[0]["show_in_list"], true,
        "attributes left out are kept"
    );
    assert_eq!(fields[2]["label"], "Location");
    assert!(fields[2]["id"].as_u64().unwrap() > ip_id);
    let (status, _) = put(
        &sb,
        &format!("/asset_layouts/{id}"),
        json!({"asset_layout": {"fields": [{"label": "X", "field_type": "Bogus"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = put(
        &sb,
        "/asset_layouts/999",
        json!({"asset_layout": {"name": "x"}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let other = sb.create_hudu_layout("Printers", &[("Toner", "Text")]);
    let (status, _) = put(
        &sb,
        &format!("/asset_layouts/{other}"),
        json!({"asset_layout": {"name": "Network Device"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, body) = get(&sb, "/asset_layouts?name=Network%20Device").await;
    assert_eq!(ids(&body, "asset_layouts"), [id]);
    let (_, body) = get(&sb, "/asset_layouts").await;
    assert_eq!(ids(&body, "asset_layouts"), [id, other]);
    let (status, body) = get(&sb, &format!("/asset_layouts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["asset_layout"]["fields"][2]["required"], true);
    assert_eq!(
        get(&sb, "/asset_layouts/999").await.0,
        StatusCode::NOT_FOUND
    );

    let layouts = sb.hudu_layouts();
    assert_eq!(layouts.len(), 2);
    assert_eq!(layouts[0].fields.len(), 3);
    assert_eq!(layouts[0].fields[2].field_type, "Text");
    assert_eq!(layouts[1].name, "Printers");
    let stats = sb.hudu_stats();
    assert_eq!((stats.layout_writes, stats.writes), (2, 2));
}

#[tokio::test]
async fn assets_take_custom_fields_by_snake_case_label() {
    let sb = sandbox().await;
    let layout = sb.create_hudu_layout(
        "Computer",
        &[
            ("IP Address", "Text"),
            ("Warranty Expiry", "Date"),
            ("Managed?", "CheckBox"),
        ],
    );
    let (status, body) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "PC-01", "asset_layout_id": layout, "primary_serial": "SN1",
            "primary_manufacturer": "Lenovo",
            "custom_fields": [{"ip_address": "10.0.0.5"}, {"warranty_expiry": "2026/01/31"},
                {"managed_": true}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = &body["asset"];
    let id = a["id"].as_u64().unwrap();
    assert_eq!(a["company_id"], 3);
    assert_eq!(a["company_name"], fixtures::hudu_company_name(3).as_str());
    assert_eq!(a["asset_layout_id"], layout);
    assert_eq!(a["asset_type"], "Computer");
    assert_eq!(a["primary_serial"], "SN1");
    assert_eq!(a["primary_manufacturer"], "Lenovo");
    assert_eq!(a["primary_mail"], Value::Null);
    assert_eq!(a["archived"], false);
    assert_eq!(a["fields"][0]["label"], "IP Address");
    assert_eq!(a["fields"][0]["value"], "10.0.0.5");
    assert_eq!(a["fields"][2]["value"], "true");
    assert!(a["url"].as_str().unwrap().starts_with(&sb.hudu_url));

    // Unknown keys, layouts and companies.
    let bad = |custom: Value| {
        json!({"asset": {"name": "PC-02", "asset_layout_id": layout,
        "custom_fields": custom}})
    };
    let (status, body) = post(&sb, "/companies/3/assets", bad(json!([{"ip": "1"}]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("\"ip\""), "{body}");
    let (status, _) = post(
        &sb,
        "/companies/3/assets",
        bad(json!([{"IP Address": "1"}])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "PC-02", "asset_layout_id": 999}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "PC-02"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "", "asset_layout_id": layout}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &sb,
        "/companies/999/assets",
        json!({"asset": {"name": "PC-02", "asset_layout_id": layout}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A required layout field.
    let (_, body) = post(
        &sb,
        "/asset_layouts",
        json!({"asset_layout": {"name": "Contacts", "fields": [
            {"label": "Email", "field_type": "Email", "required": true},
            {"label": "Title", "field_type": "Text"}]}}),
    )
    .await;
    let contacts = body["asset_layout"]["id"].as_u64().unwrap();
    let (status, body) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "Ann", "asset_layout_id": contacts,
            "custom_fields": [{"title": "CEO"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("Email"));
    let (status, _) = post(
        &sb,
        "/companies/3/assets",
        json!({"asset": {"name": "Ann", "asset_layout_id": contacts,
            "custom_fields": [{"email": "ann@example.com"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A partial update: given fields change, the others stay.
    let (status, body) = put(
        &sb,
        &format!("/companies/3/assets/{id}"),
        json!({"asset": {"primary_model": "T14", "custom_fields": [{"ip_address": "10.0.0.6"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = &body["asset"];
    assert_eq!(a["name"], "PC-01");
    assert_eq!(a["primary_serial"], "SN1");
    assert_eq!(a["primary_model"], "T14");
    assert_eq!(a["fields"][0]["value"], "10.0.0.6");
    assert_eq!(a["fields"][1]["value"], "2026/01/31");
    let (status, _) = put(
        &sb,
        &format!("/companies/3/assets/{id}"),
        json!({"asset": {"custom_fields": [{"nope": "x"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another company's asset is not found.
    assert_eq!(
        get(&sb, &format!("/companies/4/assets/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = put(
        &sb,
        &format!("/companies/4/assets/{id}"),
        json!({"asset": {"name": "stolen"}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&sb, &format!("/companies/3/assets/{id}")).await;
    assert_eq!(
        (status, &body["asset"]["name"]),
        (StatusCode::OK, &json!("PC-01"))
    );

    let assets = sb.hudu_assets();
    assert_eq!(assets.len(), 2);
    let pc = &assets[0];
    assert_eq!(pc.versions, 2);
    assert_eq!(pc.primary_model.as_deref(), Some("T14"));
    assert_eq!(
        pc.fields,
        [
            ("IP Address".to_string(), "10.0.0.6".to_string()),
            ("Warranty Expiry".to_string(), "2026/01/31".to_string()),
            ("Managed?".to_string(), "true".to_string()),
        ]
    );
    let stats = sb.hudu_stats();
    assert_eq!(
        (stats.asset_writes, stats.layout_writes, stats.writes),
        (3, 1, 4)
    );
}

#[tokio::test]
async fn assets_filter_page_and_archive() {
    let sb = sandbox().await;
    let a = sb.create_hudu_layout("Computers", &[("Notes", "Text")]);
    let b = sb.create_hudu_layout("Printers", &[("Toner", "Text")]);
    let mut in_five = Vec::new();
    for i in 0..120 {
        let serial = format!("SN-{i}");
        in_five.push(sb.create_hudu_asset(5, a, &format!("Device {i}"), Some(&serial)));
    }
    for i in 0..10 {
        sb.create_hudu_asset(6, b, &format!("Printer {i}"), None);
    }
    let count = |body: &Value| body["assets"].as_array().unwrap().len();

    let (_, body) = get(&sb, "/assets?company_id=5").await;
    assert_eq!(ids(&body, "assets"), in_five[..25]);
    let (_, body) = get(&sb, "/assets?company_id=5&page=5").await;
    assert_eq!(ids(&body, "assets"), in_five[100..]);
    let (_, body) = get(&sb, "/assets?company_id=5&page=6").await;
    assert_eq!(count(&body), 0);
    let (_, body) = get(&sb, "/assets?company_id=5&page_size=500").await;
    assert_eq!(count(&body), 100, "page_size is capped at 100");
    let (_, body) = get(&sb, "/assets?company_id=5&page=2&page_size=100").await;
    assert_eq!(count(&body), 20);
    let (_, body) = get(&sb, "/assets?page_size=100&page=2").await;
    assert_eq!(count(&body), 30);
    let (_, body) = get(&sb, &format!("/assets?asset_layout_id={b}")).await;
    assert_eq!(count(&body), 10);
    assert_eq!(body["assets"][0]["asset_type"], "Printers");
    let (_, body) = get(&sb, &format!("/companies/6/assets?asset_layout_id={a}")).await;
    assert_eq!(count(&body), 0);
    let (_, body) = get(&sb, "/assets?name=Device%207").await;
    assert_eq!(ids(&body, "assets"), [in_five[7]], "name is exact");
    let (_, body) = get(&sb, "/assets?primary_serial=SN-11").await;
    assert_eq!(ids(&body, "assets"), [in_five[11]]);
    let (_, body) = get(&sb, "/companies/6/assets?primary_serial=SN-11").await;
    assert_eq!(count(&body), 0);
    let (_, body) = get(&sb, "/assets?company_id=abc").await;
    assert_eq!(
        count(&body),
        0,
        "a filter that is not a number matches nothing"
    );
    assert_eq!(
        get(&sb, "/companies/999/assets").await.0,
        StatusCode::NOT_FOUND
    );

    // Archive and unarchive: the museum.
    let id = in_five[3];
    let (status, body) = put(&sb, &format!("/companies/5/assets/{id}/archive"), json!({})).await;
    assert_eq!(
        (status, &body["asset"]["archived"]),
        (StatusCode::OK, &json!(true))
    );
    let (_, body) = get(&sb, "/assets?primary_serial=SN-3").await;
    assert_eq!(count(&body), 0, "unarchived only by default");
    let (_, body) = get(&sb, "/assets?primary_serial=SN-3&archived=false").await;
    assert_eq!(count(&body), 0);
    let (_, body) = get(&sb, "/companies/5/assets?archived=true").await;
    assert_eq!(ids(&body, "assets"), [id]);
    let (status, _) = get(&sb, &format!("/companies/5/assets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = put(&sb, &format!("/companies/6/assets/{id}/archive"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = put(
        &sb,
        &format!("/companies/5/assets/{id}/unarchive"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &body["asset"]["archived"]),
        (StatusCode::OK, &json!(false))
    );
    let (_, body) = get(&sb, "/assets?archived=true").await;
    assert_eq!(count(&body), 0);
    let stored = sb.hudu_assets();
    assert_eq!(stored.len(), 130);
    assert_eq!(stored.iter().find(|s| s.id == id).unwrap().versions, 1);
    assert_eq!(sb.hudu_stats().asset_writes, 2);

    // An archived company still takes assets.
    put(&sb, "/companies/6/archive", json!({})).await;
    let (status, _) = post(
        &sb,
        "/companies/6/assets",
        json!({"asset": {"name": "Printer X", "asset_layout_id": b}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ten_thousand_assets_in_one_company_list_quickly() {
    let sb = sandbox().await;
    let layout = sb.create_hudu_layout("Computers", &[("Notes", "Text")]);
    for i in 0..10_000 {
        sb.create_hudu_asset(1, layout, &format!("Device {i}"), Some(&format!("SN-{i}")));
    }
    sb.create_hudu_asset(2, layout, "Elsewhere", Some("SN-X"));
    let started = Instant::now();
    for page in [1, 200, 400] {
        let (status, body) = get(&sb, &format!("/companies/1/assets?page={page}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["assets"].as_array().unwrap().len(), 25);
    }
    for _ in 0..10 {
        let (_, body) = get(&sb, "/assets?company_id=1&primary_serial=SN-9999").await;
        assert_eq!(body["assets"][0]["name"], "Device 9999");
    }
    let (_, body) = get(&sb, "/assets?company_id=2").await;
    assert_eq!(body["assets"][0]["name"], "Elsewhere");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn read_only_keys_cannot_write_and_every_route_is_gated() {
    let sb = sandbox().await;
    let layout = sb.create_hudu_layout("Computers", &[("Notes", "Text")]);
    let asset = sb.create_hudu_asset(1, layout, "PC", None);
    let writes = [
        (
            Method::POST,
            "/companies".to_string(),
            json!({"company": {"name": "x"}}),
        ),
        (
            Method::PUT,
            "/companies/1".to_string(),
            json!({"company": {"name": "x"}}),
        ),
        (Method::PUT, "/companies/1/archive".to_string(), json!({})),
        (Method::PUT, "/companies/1/unarchive".to_string(), json!({})),
        (
            Method::POST,
            "/asset_layouts".to_string(),
            json!({"asset_layout": {"name": "x"}}),
        ),
        (
            Method::PUT,
            format!("/asset_layouts/{layout}"),
            json!({"asset_layout": {"name": "x"}}),
        ),
        (
            Method::POST,
            "/companies/1/assets".to_string(),
            json!({"asset": {"name": "x", "asset_layout_id": layout}}),
        ),
        (
            Method::PUT,
            format!("/companies/1/assets/{asset}"),
            json!({"asset": {"name": "x"}}),
        ),
        (
            Method::PUT,
            format!("/companies/1/assets/{asset}/archive"),
            json!({}),
        ),
        (
            Method::POST,
            "/articles".to_string(),
            json!({"article": {"name": "x", "content": ""}}),
        ),
    ];
    for (method, path, body) in writes {
        let (status, _) = call(&sb, RO, method, &path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(sb.hudu_stats().writes, 0);
    assert_eq!(sb.hudu_companies()[0].name, fixtures::hudu_company_name(1));
    assert_eq!(sb.hudu_layouts()[0].name, "Computers");
    assert_eq!(sb.hudu_assets()[0].name, "PC");
    assert!(!sb.hudu_assets()[0].archived);
    for path in ["/assets", "/asset_layouts", "/companies/1/assets"] {
        assert_eq!(
            call(&sb, RO, Method::GET, path, None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&sb, "nope", Method::GET, path, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // 10 writes + 3 reads + 3 refusals, all counted.
    assert_eq!(sb.hudu_stats().requests, 16);
    let stats: Value = Client::new()
        .get(format!("{}/_sandbox/stats", sb.hudu_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["hudu"]["asset_writes"], 0);
    assert_eq!(stats["hudu"]["company_writes"], 0);
    assert_eq!(stats["hudu"]["layout_writes"], 0);
}

#[tokio::test]
async fn global_articles_have_no_company() {
    let sb = sandbox().await;
    sb.create_hudu_article(2, "Company doc", "<p>c</p>");
    let (status, body) = post(
        &sb,
        "/articles",
        json!({"article": {"name": "Global doc", "content": "<p>g</p>"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["article"]["company_id"], Value::Null);
    let global = body["article"]["id"].as_u64().unwrap();
    let (status, body) = post(
        &sb,
        "/articles",
        json!({"article": {"name": "Also global", "content": "", "company_id": null}}),
    )
    .await;
    assert_eq!(
        (status, &body["article"]["company_id"]),
        (StatusCode::OK, &json!(null))
    );
    let (status, _) = post(
        &sb,
        "/articles",
        json!({"article": {"name": "Nowhere", "company_id": 999}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A company created over the API can own articles.
    let (_, body) = post(&sb, "/companies", json!({"company": {"name": "New Co"}})).await;
    let new_co = body["company"]["id"].as_u64().unwrap();
    let (status, _) = post(
        &sb,
        "/articles",
        json!({"article": {"name": "New Co doc", "company_id": new_co}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (_, body) = get(&sb, "/articles").await;
    assert_eq!(body["articles"].as_array().unwrap().len(), 4);
    let (_, body) = get(&sb, "/articles?company_id=2").await;
    assert_eq!(body["articles"].as_array().unwrap().len(), 1);
    assert_eq!(body["articles"][0]["name"], "Company doc");
    let (_, body) = get(&sb, &format!("/articles/{global}")).await;
    assert_eq!(body["article"]["company_id"], Value::Null);
    // Moving an article to a company, and back to global.
    let (_, body) = put(
        &sb,
        &format!("/articles/{global}"),
        json!({"article": {"company_id": 3}}),
    )
    .await;
    assert_eq!(body["article"]["company_id"], 3);
    let (_, body) = put(
        &sb,
        &format!("/articles/{global}"),
        json!({"article": {"company_id": null}}),
    )
    .await;
    assert_eq!(body["article"]["company_id"], Value::Null);
    let stored = sb.hudu_articles();
    assert_eq!(stored.iter().filter(|a| a.company_id == 0).count(), 2);
    let stats = sb.hudu_stats();
    assert_eq!((stats.writes, stats.company_writes), (6, 1));
}
