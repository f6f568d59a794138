//! The HaloPSA / HaloITSM emulator: tenant-bound client-credentials tokens, bearer auth and
//! expiry, `pageinate` paging and the silent cap of unpaged lists, `includeinactive` and
//! `client_id` filters, the restricted agent's Asset Group Access Control, knowledge-base
//! upserts, the rolling per-client budget, faults, the mutation API and the counters.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{
    FaultKind, FaultProvider, FaultRule, Faults, HaloConfig, HaloEntity, Sandbox, SandboxConfig,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "sandbox-halo-client-0123456789";
const SECRET: &str = "sandbox-halo-secret-0123456789abcdef";
const LIMITED_ID: &str = "sandbox-halo-limited-client-0123456789";
const LIMITED_SECRET: &str = "sandbox-halo-limited-secret-0123456789abcdef";

async fn sandbox_with(halo: HaloConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 1,
        halo,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn sandbox() -> Sandbox {
    sandbox_with(HaloConfig {
        rate_limit: None,
        ..HaloConfig::default()
    })
    .await
}

/// A token request with `tenant` in the query (none when `None`).
async fn token_request(
    sb: &Sandbox,
    tenant: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut r = Client::new().post(format!("{}/token", sb.halo_auth_url()));
    if let Some(t) = tenant {
        r = r.query(&[("tenant", t)]);
    }
    r.form(form).send().await.unwrap()
}

async fn token_as(sb: &Sandbox, id: &str, secret: &str) -> String {
    let r = token_request(
        sb,
        Some("mymsp"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn token(sb: &Sandbox) -> String {
    token_as(sb, CLIENT_ID, SECRET).await
}

async fn get(sb: &Sandbox, token: &str, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    Client::new()
        .get(format!("{}{path}", sb.halo_api_url()))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn get_json(sb: &Sandbox, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let r = get(sb, token, path, query).await;
    assert_eq!(r.status(), StatusCode::OK, "{path} {query:?}");
    r.json().await.unwrap()
}

async fn post_kb(sb: &Sandbox, token: &str, body: &Value) -> reqwest::Response {
    Client::new()
        .post(format!("{}/KBArticle", sb.halo_api_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn ids(rows: &Value) -> Vec<u64> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn halo_a_token_for_the_tenant_opens_the_api() {
    let sb = sandbox().await;
    assert_eq!(sb.halo_api_url(), format!("{}/api", sb.halo_url));
    let r = token_request(
        &sb,
        Some("MyMSP"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "all"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "all");
    let token = body["access_token"].as_str().unwrap();
    let clients = get_json(&sb, token, "/Client", &[]).await;
    assert_eq!(clients["record_count"], 5);
    assert_eq!(ids(&clients["clients"]), [12, 13, 14, 15, 16]);
    let c = &clients["clients"][0];
    assert_eq!(c["name"], docsync_sandbox::fixtures::hudu_company_name(1));
    assert_eq!(c["inactive"], false);
    assert_eq!(c["main_site_id"], 2000);
    assert!(c["website"].as_str().unwrap().starts_with("https://www."));
    let stats = sb.halo_stats();
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.by_path["/api/Client"], 1);
}

#[tokio::test]
async fn halo_a_wrong_or_missing_tenant_is_400_and_bad_credentials_401() {
    let sb = sandbox().await;
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
        ("scope", "all"),
    ];
    let r = token_request(&sb, Some("othermsp"), &good).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "Tenant 'othermsp' was not found");
    let r = token_request(&sb, None, &good).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_description"], "Tenant '' was not found");

    let r = token_request(
        &sb,
        Some("mymsp"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].as_str().is_some());

    let r = token_request(
        &sb,
        Some("mymsp"),
        &[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");

    // Credentials in a Basic header are accepted too (RFC 6749 section 2.3.1).
    let r = Client::new()
        .post(format!("{}/token?tenant=mymsp", sb.halo_auth_url()))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stats = sb.halo_stats();
    assert_eq!(stats.token_requests, 5);
    assert_eq!(stats.token_refused, 4);
    assert_eq!(stats.tokens_issued, 1);
}

#[tokio::test]
async fn halo_without_a_configured_tenant_none_is_asked_for() {
    let sb = sandbox_with(HaloConfig {
        tenant: None,
        ..HaloConfig::default()
    })
    .await;
    let r = token_request(
        &sb,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn halo_missing_unknown_and_expired_tokens_are_401_and_a_new_token_works() {
    let sb = sandbox().await;
    let r = Client::new()
        .get(format!("{}/Client", sb.halo_api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = get(&sb, "not-a-token", "/Client", &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    let old = token(&sb).await;
    assert_eq!(
        get(&sb, &old, "/Client", &[]).await.status(),
        StatusCode::OK
    );
    sb.halo_expire_tokens();
    let r = get(&sb, &old, "/Client", &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("expired"));
    assert!(r.text().await.unwrap().is_empty());
    let new = token(&sb).await;
    assert_eq!(
        get(&sb, &new, "/Client", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(sb.halo_stats().rejected_401, 3);
}

#[tokio::test]
async fn halo_tokens_run_out_after_their_lifetime() {
    let sb = sandbox_with(HaloConfig {
        token_ttl_secs: 1,
        rate_limit: None,
        ..HaloConfig::default()
    })
    .await;
    let t = token(&sb).await;
    assert_eq!(get(&sb, &t, "/Site", &[]).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(&sb, &t, "/Site", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn halo_pages_cover_every_record_and_unpaged_lists_are_cut_silently() {
    let sb = sandbox_with(HaloConfig {
        clients: 25,
        assets_per_client: 10,
        rate_limit: None,
        unpaged_cap: 100,
        max_page_size: 40,
        ..HaloConfig::default()
    })
    .await;
    let t = token(&sb).await;
    // 250 assets, the last of each client inactive: 225 active.
    let mut seen = Vec::new();
    for page in 1.. {
        let p = page.to_string();
        let body = get_json(
            &sb,
            &t,
            "/Asset",
            &[("pageinate", "true"), ("page_size", "30"), ("page_no", &p)],
        )
        .await;
        assert_eq!(body["record_count"], 225);
        assert_eq!(body["page_no"], page);
        assert_eq!(body["page_size"], 30);
        let rows = ids(&body["assets"]);
        if rows.is_empty() {
            break;
        }
        seen.extend(rows);
    }
    assert_eq!(seen.len(), 225);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 225);

    // page_size is clamped to max_page_size.
    let body = get_json(
        &sb,
        &t,
        "/Asset",
        &[("pageinate", "true"), ("page_size", "1000")],
    )
    .await;
    assert_eq!(body["page_size"], 40);
    assert_eq!(body["assets"].as_array().unwrap().len(), 40);

    // Without pageinate=true: 100 records, record_count still the total.
    let body = get_json(&sb, &t, "/Asset", &[("page_size", "30")]).await;
    assert_eq!(body["record_count"], 225);
    assert_eq!(body["assets"].as_array().unwrap().len(), 100);
    assert!(body.get("page_no").is_none());

    // Unknown parameters are ignored; entity names match ignoring case.
    let body = get_json(&sb, &t, "/asset", &[("frobnicate", "1")]).await;
    assert_eq!(body["record_count"], 225);
}

#[tokio::test]
async fn halo_inactive_records_show_only_when_asked_for() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let all = [("includeinactive", "true")];
    let count = |v: &Value| v["record_count"].as_u64().unwrap();
    assert_eq!(count(&get_json(&sb, &t, "/Client", &[]).await), 5);
    let clients = get_json(&sb, &t, "/Client", &all).await;
    assert_eq!(count(&clients), 6);
    assert_eq!(clients["clients"][5]["inactive"], true);
    assert_eq!(clients["clients"][5]["id"], 17);
    assert_eq!(count(&get_json(&sb, &t, "/Users", &[]).await), 12);
    assert_eq!(count(&get_json(&sb, &t, "/Users", &all).await), 18);
    assert_eq!(count(&get_json(&sb, &t, "/Asset", &[]).await), 18);
    assert_eq!(count(&get_json(&sb, &t, "/Asset", &all).await), 24);
    // Contracts are never hidden: even positions active, odd ones expired.
    let contracts = get_json(&sb, &t, "/ClientContract", &[]).await;
    assert_eq!(count(&contracts), 12);
    let rows = contracts["contracts"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|c| c["expired"] == true).count(), 6);
    assert_eq!(rows[0]["active"], true);
    assert_eq!(rows[0]["ref"], "Managed Services");
    assert_eq!(rows[1]["end_date"], "2025-06-30T00:00:00");
    // A single record is served whatever its state.
    let one = get_json(&sb, &t, "/Client/17", &[]).await;
    assert_eq!(one["inactive"], true);
    let r = get(&sb, &t, "/Client/999", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn halo_client_id_filters_users_assets_sites_and_contracts() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let q = [("client_id", "13"), ("includeinactive", "true")];
    let users = get_json(&sb, &t, "/Users", &q).await;
    assert_eq!(ids(&users["users"]), [3003, 3004, 3005]);
    let u = &users["users"][0];
    assert_eq!(u["client_id"], 13);
    assert_eq!(u["client_name"], "Munson's Pickles 1");
    assert_eq!(u["site_id"], 2001);
    assert_eq!(u["site_name"], "Main");
    assert_eq!(
        u["name"],
        format!(
            "{} {}",
            u["firstname"].as_str().unwrap(),
            u["surname"].as_str().unwrap()
        )
    );
    assert!(u["emailaddress"].as_str().unwrap().contains('@'));
    let assets = get_json(&sb, &t, "/Asset", &q).await;
    assert_eq!(ids(&assets["assets"]), [10_004, 10_005, 10_006, 10_007]);
    let a = &assets["assets"][0];
    assert_eq!(a["assettype_name"], "Server");
    assert_eq!(a["key_field"], "MUNSONS13-SRV01");
    assert_eq!(a["inventory_number"], "INV-010004");
    let fields: Vec<&str> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["Serial Number", "Model", "Manufacturer", "IP Address"]
    );
    let sites = get_json(&sb, &t, "/Site", &[("client_id", "13")]).await;
    assert_eq!(ids(&sites["sites"]), [2001]);
    assert_eq!(sites["sites"][0]["delivery_address"]["line3"], "Manchester");
    let contracts = get_json(&sb, &t, "/ClientContract", &[("client_id", "13")]).await;
    assert_eq!(ids(&contracts["contracts"]), [7002, 7003]);
    let types = get_json(&sb, &t, "/AssetType", &[]).await;
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Laptop", "Desktop", "Server", "Firewall", "Switch", "Printer"]
    );
}

#[tokio::test]
async fn halo_the_restricted_agent_sees_no_asset() {
    let sb = sandbox().await;
    let t = token_as(&sb, LIMITED_ID, LIMITED_SECRET).await;
    let assets = get_json(&sb, &t, "/Asset", &[("includeinactive", "true")]).await;
    assert_eq!(assets["record_count"], 0);
    assert_eq!(assets["assets"], json!([]));
    assert_eq!(
        get(&sb, &t, "/Asset/10000", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    // Everything else it sees.
    assert_eq!(get_json(&sb, &t, "/Client", &[]).await["record_count"], 5);
    assert_eq!(
        get_json(&sb, &t, "/AssetType", &[])
            .await
            .as_array()
            .unwrap()
            .len(),
        6
    );

    let sb = sandbox_with(HaloConfig {
        limited_assets_forbidden: true,
        ..HaloConfig::default()
    })
    .await;
    let t = token_as(&sb, LIMITED_ID, LIMITED_SECRET).await;
    let r = get(&sb, &t, "/Asset", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("asset group"));
    assert_eq!(
        get(&sb, &t, "/Asset/10000", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(sb.halo_stats().rejected_403, 2);
    let full = token(&sb).await;
    assert_eq!(
        get_json(&sb, &full, "/Asset", &[]).await["record_count"],
        18
    );
}

#[tokio::test]
async fn halo_kb_posts_create_then_update_in_place() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    assert_eq!(sb.halo_kb_articles().len(), 2);
    let r = post_kb(
        &sb,
        &t,
        &json!([{"name": "Backups", "description": "<p>Nightly</p>"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(id, 502);
    assert_eq!(created["name"], "Backups");
    let r = post_kb(
        &sb,
        &t,
        &json!([{"id": id, "name": "Backups", "description": "<p>Hourly</p>"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["id"], id);
    assert_eq!(updated["description"], "<p>Hourly</p>");
    let articles = sb.halo_kb_articles();
    assert_eq!(articles.len(), 3);
    assert_eq!(
        articles.iter().filter(|a| a["name"] == "Backups").count(),
        1
    );
    let listed = get_json(&sb, &t, "/KBArticle", &[]).await;
    assert_eq!(listed["record_count"], 3);
    assert_eq!(ids(&listed["articles"]), [500, 501, 502]);
    let one = get_json(&sb, &t, &format!("/KBArticle/{id}"), &[]).await;
    assert_eq!(one["description"], "<p>Hourly</p>");

    // Several at once: an array back.
    let r = post_kb(
        &sb,
        &t,
        &json!([{"id": 500, "name": "Renamed"}, {"name": "New"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(ids(&saved), [500, 503]);

    for bad in [
        json!({"name": "not an array"}),
        json!([]),
        json!([{"name": ""}]),
        json!([{"id": 9999, "name": "unknown"}]),
    ] {
        let r = post_kb(&sb, &t, &bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"].as_str().is_some());
    }
    assert_eq!(sb.halo_kb_articles().len(), 4);
    let stats = sb.halo_stats();
    assert_eq!(stats.kb_writes, 4);
    assert_eq!(stats.kb_creates, 2);
    assert_eq!(stats.kb_updates, 2);

    let r = Client::new()
        .post(format!("{}/Client", sb.halo_api_url()))
        .bearer_auth(&t)
        .json(&json!([{"name": "x"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn halo_the_rolling_budget_answers_429_past_it() {
    let sb = sandbox_with(HaloConfig {
        rate_limit: Some((5, 2)),
        ..HaloConfig::default()
    })
    .await;
    let t = token(&sb).await;
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(get(&sb, &t, "/Site", &[]).await.status(), StatusCode::OK);
    }
    let r = get(&sb, &t, "/Site", &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // The other application has its own budget.
    let other = token_as(&sb, LIMITED_ID, LIMITED_SECRET).await;
    assert_eq!(
        get(&sb, &other, "/Site", &[]).await.status(),
        StatusCode::OK
    );
    // Once the first requests leave the window, slots free again.
    tokio::time::sleep(
        Duration::from_secs(2).saturating_sub(start.elapsed()) + Duration::from_millis(100),
    )
    .await;
    assert_eq!(get(&sb, &t, "/Site", &[]).await.status(), StatusCode::OK);
    let stats = sb.halo_stats();
    assert_eq!(stats.rejected_429, 1);
    assert!(stats.max_requests_in_any_window >= 6);
    sb.set_halo_rate_limit(None);
    for _ in 0..10 {
        assert_eq!(get(&sb, &t, "/Site", &[]).await.status(), StatusCode::OK);
    }
    sb.reset_halo_stats();
    assert_eq!(sb.halo_stats().requests, 0);
}

#[tokio::test]
async fn halo_the_mutation_api_shows_in_the_answers() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let id = sb.halo_insert(
        HaloEntity::Asset,
        json!({"key_field": "NEW-FW", "client_id": 12, "assettype_id": 4,
            "fields": [{"id": 1, "name": "Serial Number", "value": "X1"}]}),
    );
    let a = get_json(&sb, &t, &format!("/Asset/{id}"), &[]).await;
    assert_eq!(
        a["client_name"],
        sb.halo_records(HaloEntity::Client)[0]["name"]
    );
    assert_eq!(a["assettype_name"], "Firewall");
    assert!(sb.halo_update(HaloEntity::Asset, id, json!({"inactive": true})));
    let q = [("client_id", "12")];
    assert!(!ids(&get_json(&sb, &t, "/Asset", &q).await["assets"]).contains(&id));
    assert!(sb.halo_update(HaloEntity::Client, 12, json!({"name": "Renamed Ltd"})));
    let users = get_json(&sb, &t, "/Users", &q).await;
    assert_eq!(users["users"][0]["client_name"], "Renamed Ltd");
    assert!(sb.halo_remove(HaloEntity::Asset, id));
    assert_eq!(
        get(&sb, &t, &format!("/Asset/{id}"), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    let added = sb.halo_add_assets(14, 3);
    assert_eq!(added.len(), 3);
    let q = [("client_id", "14")];
    assert_eq!(get_json(&sb, &t, "/Asset", &q).await["record_count"], 6);

    let stats: Value = Client::new()
        .get(format!("{}/_sandbox/stats", sb.halo_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["halo"]["by_path"]["/api/Asset/{id}"], 2);
    assert_eq!(stats["halo"]["requests"], 5);
}

#[tokio::test]
async fn halo_fault_rules_apply_to_the_port() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    sb.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Halo, FaultKind::ErrorRate(1.0)).on("/kbarticle"),
            FaultRule::new(FaultProvider::Halo, FaultKind::LatencyMs(300)).on("/Site"),
        ],
        ..Faults::default()
    });
    let r = post_kb(&sb, &t, &json!([{"name": "never saved"}])).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sb.halo_kb_articles().len(), 2);
    let start = Instant::now();
    assert_eq!(get(&sb, &t, "/Site", &[]).await.status(), StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(get(&sb, &t, "/Client", &[]).await.status(), StatusCode::OK);
    // The faults are switchable over HTTP on the Halo port too.
    let r = Client::new()
        .put(format!("{}/_sandbox/faults", sb.halo_url))
        .json(&json!({"rules": [{"provider": "halo", "kind": {"throttle_rate": 1.0}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(&sb, &t, "/Client", &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}
