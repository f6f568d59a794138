//! The Hudu emulator: keys and scopes, paging quirks, writes and versions, the rate limit.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{fixtures, Faults, Sandbox, SandboxConfig, WindowLimit};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const RW: &str = "sandbox-hudu-key-0123456789abcdef";
const RO: &str = "sandbox-hudu-readonly-0123456789";

async fn sandbox(limit: Option<WindowLimit>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        hudu_rate_limit: limit,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn get(sb: &Sandbox, key: &str, path: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{}/api/v1{path}", sb.hudu_url))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}

async fn post_article(sb: &Sandbox, key: &str, body: Value) -> reqwest::Response {
    Client::new()
        .post(format!("{}/api/v1/articles", sb.hudu_url))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_are_checked_and_read_only_keys_cannot_write() {
    let sb = sandbox(None).await;
    let r = Client::new()
        .get(format!("{}/api/v1/companies", sb.hudu_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&sb, "nope", "/companies").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&sb, RO, "/companies").await.status(), StatusCode::OK);
    let body = json!({"article": {"name": "x", "content": "<p>x</p>", "company_id": 1}});
    let r = post_article(&sb, RO, body.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(sb.hudu_articles().is_empty());
    assert_eq!(post_article(&sb, RW, body).await.status(), StatusCode::OK);
    assert_eq!(sb.hudu_articles().len(), 1);
    assert_eq!(sb.hudu_stats().writes, 1);
}

#[tokio::test]
async fn companies_page_and_filter() {
    let sb = sandbox(None).await;
    let body: Value = get(&sb, RW, "/companies?page=2&page_size=50")
        .await
        .json()
        .await
        .unwrap();
    let rows = body["companies"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0]["id"], 51);
    assert_eq!(rows[0]["name"], fixtures::hudu_company_name(51).as_str());
    let body: Value = get(&sb, RW, "/companies?page=3&page_size=500")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["companies"].as_array().unwrap().is_empty(),
        "page_size is capped at 100"
    );
    let body: Value = get(&sb, RW, "/companies/7").await.json().await.unwrap();
    assert_eq!(
        body["company"]["name"],
        fixtures::hudu_company_name(7).as_str()
    );
    assert_eq!(
        get(&sb, RW, "/companies/999").await.status(),
        StatusCode::NOT_FOUND
    );
    let needle = fixtures::hudu_company_name(5).to_uppercase();
    let body: Value = Client::new()
        .get(format!("{}/api/v1/companies", sb.hudu_url))
        .header("x-api-key", RW)
        .query(&[("name", needle.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["companies"][0]["id"], 5);
}

#[tokio::test]
async fn articles_page_at_25_ignoring_page_size_and_match_substrings() {
    let sb = sandbox(None).await;
    for i in 0..30 {
        sb.create_hudu_article(3, &format!("M365 Posture — Contoso {i}"), "<p></p>");
    }
    sb.create_hudu_article(4, "M365 Posture — Contoso 0", "<p></p>");
    let body: Value = get(&sb, RW, "/articles?company_id=3&page_size=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["articles"].as_array().unwrap().len(), 25);
    let body: Value = get(&sb, RW, "/articles?company_id=3&page=2&page_size=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["articles"].as_array().unwrap().len(), 5);
    let body: Value = get(&sb, RW, "/articles?company_id=3&page=3")
        .await
        .json()
        .await
        .unwrap();
    assert!(body["articles"].as_array().unwrap().is_empty());
    // `name` is a case-insensitive substring match: "contoso 1" also finds 10..19.
    let body: Value = get(&sb, RW, "/articles?company_id=3&name=contoso%201")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["articles"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn articles_are_validated_and_updated_in_place() {
    let sb = sandbox(None).await;
    let r = post_article(&sb, RW, json!({"article": {"name": " ", "company_id": 1}})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_article(
        &sb,
        RW,
        json!({"article": {"name": "a", "company_id": 500}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_article(&sb, RW, json!({"name": "a"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = post_article(
        &sb,
        RW,
        json!({"article": {"name": "Doc", "content": "v1", "company_id": 2, "folder_id": null}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = body["article"]["id"].as_u64().unwrap();
    assert!(id >= 1000);
    assert_eq!(body["article"]["draft"], false);
    let r = Client::new()
        .put(format!("{}/api/v1/articles/{id}", sb.hudu_url))
        .header("x-api-key", RW)
        .json(&json!({"article": {"name": "Doc", "content": "v2", "company_id": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stored = sb.hudu_articles();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].content.as_str(), stored[0].versions), ("v2", 2));
    let body: Value = get(&sb, RW, &format!("/articles/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["article"]["content"], "v2");
    assert_eq!(
        get(&sb, RW, "/articles/5").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rate_limit_answers_429_past_the_budget_and_counts() {
    // A window of ~31 years: no boundary falls inside the test.
    let limit = WindowLimit {
        requests: 5,
        window_secs: 1_000_000_000,
        send_retry_after: true,
    };
    let sb = sandbox(Some(limit)).await;
    let mut statuses = Vec::new();
    for i in 0..7u32 {
        let r = get(&sb, RW, "/companies").await;
        let status = r.status().as_u16();
        if status == 200 {
            assert_eq!(r.headers()["x-ratelimit-limit"], "5");
            assert_eq!(
                r.headers()["x-ratelimit-remaining"],
                (4 - i).to_string().as_str()
            );
        } else {
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(wait > 0 && wait <= 1_000_000_000);
            assert_eq!(r.text().await.unwrap().trim(), "Retry later");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    let stats = sb.hudu_stats();
    assert_eq!(
        (
            stats.requests,
            stats.rejected_429,
            stats.max_requests_in_any_window
        ),
        (7, 2, 7)
    );
    // Another key has its own budget.
    assert_eq!(get(&sb, RO, "/companies").await.status(), StatusCode::OK);
    // No Retry-After unless configured.
    sb.set_hudu_rate_limit(Some(WindowLimit {
        send_retry_after: false,
        ..limit
    }));
    let r = get(&sb, RW, "/companies").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_none());
    // Lifting the limit lets requests through again.
    sb.set_hudu_rate_limit(None);
    assert_eq!(get(&sb, RW, "/companies").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn faults_answer_502_and_control_surface_reports() {
    let sb = sandbox(None).await;
    sb.set_faults(Faults {
        hudu_5xx_every_nth: Some(2),
        ..Faults::default()
    });
    assert_eq!(get(&sb, RW, "/companies").await.status(), StatusCode::OK);
    assert_eq!(
        get(&sb, RW, "/companies").await.status(),
        StatusCode::BAD_GATEWAY
    );
    sb.create_hudu_article(1, "Seeded", "<p>hi</p>");
    let list: Value = Client::new()
        .get(format!("{}/_sandbox/articles", sb.hudu_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "Seeded");
    let stats: Value = Client::new()
        .get(format!("{}/_sandbox/stats", sb.hudu_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["hudu"]["requests"], 2);
}
