//! Fault rules over HTTP: error rates, latency, resets, lost answers, malformed bodies, hangs
//! and 429s per provider and endpoint, and switching them with `/_sandbox/faults`.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{
    fixtures, FaultKind, FaultProvider, FaultRule, Faults, Sandbox, SandboxConfig,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HUDU: &str = "sandbox-hudu-key-0123456789abcdef";
const ITGLUE: &str = "sandbox-itglue-key-us-0123456789abcdef";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        hudu_rate_limit: None,
        itglue_rate_limit: None,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn rules(rules: Vec<FaultRule>) -> Faults {
    Faults {
        rules,
        seed: 7,
        ..Faults::default()
    }
}

async fn hudu_get(sb: &Sandbox, path: &str) -> reqwest::Result<reqwest::Response> {
    Client::new()
        .get(format!("{}/api/v1{path}", sb.hudu_url))
        .header("x-api-key", HUDU)
        .send()
        .await
}

async fn hudu_create(sb: &Sandbox, name: &str) -> reqwest::Result<reqwest::Response> {
    Client::new()
        .post(format!("{}/api/v1/articles", sb.hudu_url))
        .header("x-api-key", HUDU)
        .json(&json!({"article": {"name": name, "content": "<p>x</p>", "company_id": 1}}))
        .send()
        .await
}

async fn itglue_get(sb: &Sandbox, path: &str) -> reqwest::Result<reqwest::Response> {
    itglue_get_with(&Client::new(), sb, path).await
}

async fn itglue_get_with(
    client: &Client,
    sb: &Sandbox,
    path: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .get(format!("{}{path}", sb.itglue_us_url))
        .header("x-api-key", ITGLUE)
        .send()
        .await
}

#[tokio::test]
async fn error_rate_answers_5xx_on_the_endpoint_and_writes_nothing() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Hudu,
        FaultKind::ErrorRate(1.0),
    )
    .on("/articles")]));
    let mut statuses = Vec::new();
    for n in 0..3 {
        let r = hudu_create(&sb, &format!("A{n}")).await.unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [500, 502, 503]);
    assert!(sb.hudu_articles().is_empty());
    // Another endpoint of the same provider and other providers are untouched.
    assert_eq!(
        hudu_get(&sb, "/companies").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        itglue_get(&sb, "/organizations").await.unwrap().status(),
        StatusCode::OK
    );
    // Control routes are never faulted.
    let stats = Client::new()
        .get(format!("{}/_sandbox/stats", sb.hudu_url))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_fractional_error_rate_hits_about_that_share_of_requests() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::ItGlue,
        FaultKind::ErrorRate(0.25),
    )]));
    let http = Client::new();
    let mut failed = 0;
    for _ in 0..200 {
        if itglue_get_with(&http, &sb, "/organizations")
            .await
            .unwrap()
            .status()
            .is_server_error()
        {
            failed += 1;
        }
    }
    assert!((25..=75).contains(&failed), "{failed} of 200 failed");
    // The same seed gives the same sequence.
    let first = error_sequence(&sb).await;
    assert_eq!(first, error_sequence(&sb).await);
}

async fn error_sequence(sb: &Sandbox) -> Vec<StatusCode> {
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::ItGlue,
        FaultKind::ErrorRate(0.25),
    )]));
    let http = Client::new();
    let mut v = Vec::new();
    for _ in 0..20 {
        v.push(
            itglue_get_with(&http, sb, "/organizations")
                .await
                .unwrap()
                .status(),
        );
    }
    v
}

#[tokio::test]
async fn latency_delays_only_the_matching_endpoint() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::ItGlue,
        FaultKind::LatencyMs(400),
    )
    .on("/flexible_asset_types")]));
    let started = Instant::now();
    let r = itglue_get(&sb, "/flexible_asset_types").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(400));
    // The answer itself is intact.
    let body: Value = r.json().await.unwrap();
    assert!(body["data"].is_array());
}

#[tokio::test]
async fn resets_close_the_connection_before_the_emulator_sees_the_request() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Hudu,
        FaultKind::ResetRate(1.0),
    )]));
    let err = hudu_create(&sb, "Reset").await.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none(), "no answer at all: {err:?}");
    assert!(sb.hudu_articles().is_empty());
    assert_eq!(sb.hudu_stats().requests, 0);
    // Switched off, the same client works again.
    sb.set_faults(Faults::default());
    assert_eq!(
        hudu_create(&sb, "Reset").await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn lost_answers_apply_the_write_then_close_the_connection() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Hudu,
        FaultKind::LostAnswerRate(1.0),
    )
    .on("/articles")]));
    let err = hudu_create(&sb, "Written").await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    let articles = sb.hudu_articles();
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].name, "Written");
}

#[tokio::test]
async fn malformed_bodies_are_truncated_json_with_status_200() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::ItGlue,
        FaultKind::MalformedRate(1.0),
    )
    .on("/organizations")]));
    let r = itglue_get(&sb, "/organizations").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.starts_with('{'), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    // Even an error answer comes back as a 200 with a cut body.
    let r = Client::new()
        .get(format!("{}/organizations", sb.itglue_us_url))
        .header("x-api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err());
    // Writes behind a malformed answer take effect.
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Hudu,
        FaultKind::MalformedRate(1.0),
    )]));
    let r = hudu_create(&sb, "Cut").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err());
    assert_eq!(sb.hudu_articles().len(), 1);
}

#[tokio::test]
async fn hangs_last_until_the_client_gives_up() {
    let sb = sandbox().await;
    let graph_token = {
        let r = Client::new()
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                sb.login_url,
                fixtures::microsoft_tenant_id(0)
            ))
            .form(&[
                ("client_id", "5a4db0c1-d0c5-4c1e-8a7e-000000000001"),
                ("client_secret", "sandbox-client-secret-0123456789"),
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Graph,
        FaultKind::HangRate(1.0),
    )
    .on("/v1.0/organization")]));
    let client = Client::builder()
        .timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .get(format!("{}/v1.0/organization", sb.graph_url))
        .bearer_auth(&graph_token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    // Another Graph endpoint answers.
    let r = client
        .get(format!("{}/v1.0/subscribedSkus", sb.graph_url))
        .bearer_auth(&graph_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn throttle_rate_answers_429_with_retry_after() {
    let sb = sandbox().await;
    sb.set_faults(rules(vec![FaultRule::new(
        FaultProvider::Exchange,
        FaultKind::ThrottleRate(1.0),
    )]));
    let r = Client::new()
        .post(format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            sb.exchange_url,
            fixtures::microsoft_tenant_id(0)
        ))
        .json(&json!({"CmdletInput": {"CmdletName": "Get-DkimSigningConfig"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(sb.graph_stats().exchange_requests, 0);
}

#[tokio::test]
async fn faults_are_switched_over_http_on_any_port() {
    let sb = sandbox().await;
    let http = Client::new();
    // Set on the Graph port, in force on the IT Glue port, read back on the Hudu port.
    let body = json!({
        "hudu_5xx_every_nth": 2,
        "seed": 3,
        "rules": [
            {"provider": "itglue", "path_prefix": "/organizations", "kind": {"error_rate": 1.0}},
            {"provider": "hudu", "kind": {"latency_ms": 1}},
        ],
    });
    let r = http
        .put(format!("{}/_sandbox/faults", sb.graph_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(itglue_get(&sb, "/organizations")
        .await
        .unwrap()
        .status()
        .is_server_error());
    let current: Value = http
        .get(format!("{}/_sandbox/faults", sb.hudu_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["hudu_5xx_every_nth"], 2);
    assert_eq!(current["rules"][0]["kind"]["error_rate"], 1.0);
    assert_eq!(current["rules"][1]["kind"]["latency_ms"], 1);
    assert_eq!(sb.faults().rules.len(), 2);
    // The existing switches keep working when set over HTTP.
    assert_eq!(
        hudu_get(&sb, "/companies").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        hudu_get(&sb, "/companies").await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );
    // Bad input is refused and names the problem; the faults in force stay.
    for bad in [
        json!({"rules": [{"provider": "hudu", "kind": {"error_rate": 1.5}}]}),
        json!({"rules": [{"provider": "hudu", "path_prefix": "articles", "kind": {"hang_rate": 0.1}}]}),
        json!({"rules": [{"provider": "nowhere", "kind": {"error_rate": 0.1}}]}),
        json!({"hudu_latency": 5}),
    ] {
        let r = http
            .put(format!("{}/_sandbox/faults", sb.itglue_eu_url))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let answer: Value = r.json().await.unwrap();
        assert!(!answer["problems"][0].as_str().unwrap().is_empty());
    }
    assert_eq!(sb.faults().seed, 3);
    // An empty object switches every fault off.
    let r = http
        .put(format!("{}/_sandbox/faults", sb.login_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.faults(), Faults::default());
    assert_eq!(
        itglue_get(&sb, "/organizations").await.unwrap().status(),
        StatusCode::OK
    );
}
