//! Graph, token endpoint and Exchange emulators, exercised over HTTP like docsync uses them.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{fixtures, Faults, Sandbox, SandboxConfig};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const GRAPH: &str = "https://graph.microsoft.com/.default";
const EXCHANGE: &str = "https://outlook.office365.com/.default";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 12,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn token_response(
    sb: &Sandbox,
    tenant: &str,
    secret: &str,
    scope: &str,
) -> reqwest::Response {
    Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sb.login_url))
        .form(&[
            ("client_id", "5a4db0c1-d0c5-4c1e-8a7e-000000000001"),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

async fn token(sb: &Sandbox, index: usize, scope: &str) -> String {
    let r = token_response(
        sb,
        &fixtures::microsoft_tenant_id(index),
        "sandbox-client-secret-0123456789",
        scope,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    body["access_token"].as_str().unwrap().to_string()
}

async fn graph_get(sb: &Sandbox, token: &str, path: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{}{path}", sb.graph_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_endpoint_checks_secret_tenant_and_scope() {
    let sb = sandbox().await;
    let tid = fixtures::microsoft_tenant_id(1);
    let r = token_response(&sb, &tid, "wrong-secret", GRAPH).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));

    let r = token_response(
        &sb,
        "00000000-0000-0000-0000-000000000001",
        "sandbox-client-secret-0123456789",
        GRAPH,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("AADSTS90002"));

    let r = token_response(
        &sb,
        &tid,
        "sandbox-client-secret-0123456789",
        "https://graph.microsoft.com/User.Read",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sb.graph_stats().tokens_issued, 0);
    token(&sb, 1, GRAPH).await;
    assert_eq!(sb.graph_stats().tokens_issued, 1);
}

#[tokio::test]
async fn graph_rejects_missing_and_unknown_tokens() {
    let sb = sandbox().await;
    let r = Client::new()
        .get(format!("{}/v1.0/organization", sb.graph_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let r = graph_get(&sb, "made-up", "/v1.0/organization").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // An Exchange-audience token is not a Graph token.
    let exo = token(&sb, 1, EXCHANGE).await;
    assert_eq!(
        graph_get(&sb, &exo, "/v1.0/organization").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn organization_answers_for_the_tokens_tenant() {
    let sb = sandbox().await;
    let t = fixtures::tenant(3);
    let tok = token(&sb, 3, GRAPH).await;
    let body: Value = graph_get(&sb, &tok, "/v1.0/organization")
        .await
        .json()
        .await
        .unwrap();
    let org = &body["value"][0];
    assert_eq!(org["id"], t.microsoft_tenant_id.as_str());
    assert_eq!(org["displayName"], t.display_name.as_str());
    assert_eq!(org["verifiedDomains"][0]["name"], t.default_domain());
    assert_eq!(org["verifiedDomains"][0]["isDefault"], true);
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#organization"));
}

#[tokio::test]
async fn user_count_needs_consistency_level() {
    let sb = sandbox().await;
    let tok = token(&sb, 2, GRAPH).await;
    let r = graph_get(&sb, &tok, "/v1.0/users/$count").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_BadRequest");
    let r = Client::new()
        .get(format!("{}/v1.0/users/$count", sb.graph_url))
        .bearer_auth(&tok)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        fixtures::tenant(2).user_count().to_string()
    );
}

#[tokio::test]
async fn registration_details_page_through_a_large_tenant() {
    let sb = sandbox().await;
    let t = fixtures::tenant(10);
    assert!(t.users.len() >= 2600);
    let tok = token(&sb, 10, GRAPH).await;
    let mut url = format!(
        "{}/v1.0/reports/authenticationMethods/userRegistrationDetails",
        sb.graph_url
    );
    let (mut upns, mut registered, mut pages) = (Vec::new(), 0usize, 0);
    loop {
        let body: Value = Client::new()
            .get(&url)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = body["value"].as_array().unwrap();
        pages += 1;
        for item in items {
            upns.push(item["userPrincipalName"].as_str().unwrap().to_string());
            registered += usize::from(item["isMfaRegistered"].as_bool().unwrap());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), 500);
                assert!(next.starts_with(&sb.graph_url));
                url = next.to_string();
            }
            None => break,
        }
    }
    let expected: Vec<String> = t.users.iter().map(|u| u.upn.clone()).collect();
    assert_eq!(upns, expected);
    assert_eq!(pages, t.users.len().div_ceil(500));
    assert_eq!(
        registered,
        t.users.iter().filter(|u| u.is_mfa_registered).count()
    );
    // A skip token from this tenant is refused for another tenant.
    let other = token(&sb, 1, GRAPH).await;
    assert!(url.contains("$skiptoken="));
    let r = graph_get(&sb, &other, &url[sb.graph_url.len()..]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn incidents_filter_and_denied_sections() {
    let sb = sandbox().await;
    let t = fixtures::tenant(3);
    let tok = token(&sb, 3, GRAPH).await;
    let path =
        "/v1.0/security/incidents?$filter=severity%20eq%20'high'%20and%20status%20eq%20'active'";
    let body: Value = graph_get(&sb, &tok, path).await.json().await.unwrap();
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        t.high_active_incidents as usize
    );
    let all: Value = graph_get(&sb, &tok, "/v1.0/security/incidents")
        .await
        .json()
        .await
        .unwrap();
    assert!(all["value"].as_array().unwrap().len() > t.high_active_incidents as usize);
    let bad = graph_get(
        &sb,
        &tok,
        "/v1.0/security/incidents?$filter=severity%20gt%201",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    assert!(fixtures::tenant(5).is_denied("defender"));
    let denied = token(&sb, 5, GRAPH).await;
    let r = graph_get(&sb, &denied, "/v1.0/security/secureScores?$top=1").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
}

#[tokio::test]
async fn secure_score_and_copilot_report_match_the_fixture() {
    let sb = sandbox().await;
    let t = fixtures::tenant(1);
    let tok = token(&sb, 1, GRAPH).await;
    let body: Value = graph_get(&sb, &tok, "/v1.0/security/secureScores?$top=1")
        .await
        .json()
        .await
        .unwrap();
    let scores = body["value"].as_array().unwrap();
    assert_eq!(scores.len(), 1);
    assert_eq!(
        scores[0]["currentScore"].as_f64().unwrap(),
        t.secure_score.0
    );
    assert_eq!(
        scores[0]["controlScores"].as_array().unwrap().len(),
        t.control_scores.len()
    );

    let path = "/beta/reports/getMicrosoft365CopilotUsageUserDetail(period='D30')?$format=application/json";
    let r = graph_get(&sb, &tok, path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let rows = body["value"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        t.users.iter().filter(|u| u.copilot_licensed).count()
    );
    let idle = rows
        .iter()
        .filter(|r| r["lastActivityDate"].is_null())
        .count();
    assert_eq!(idle, t.copilot_idle_seats());
}

#[tokio::test]
async fn injected_faults_throttle_every_nth_request() {
    let sb = sandbox().await;
    let tok = token(&sb, 1, GRAPH).await;
    sb.set_faults(Faults {
        graph_429_every_nth: Some(3),
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = graph_get(&sb, &tok, "/v1.0/subscribedSkus").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    assert_eq!(sb.graph_stats().throttled_429, 2);
}

async fn invoke(sb: &Sandbox, token: &str, tenant: &str, cmdlet: &str) -> reqwest::Response {
    Client::new()
        .post(format!(
            "{}/adminapi/beta/{tenant}/InvokeCommand",
            sb.exchange_url
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": {}}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn exchange_checks_audience_tenant_and_cmdlet() {
    let sb = sandbox().await;
    let t = fixtures::tenant(2);
    let graph = token(&sb, 2, GRAPH).await;
    let exo = token(&sb, 2, EXCHANGE).await;
    let r = invoke(&sb, &graph, &t.microsoft_tenant_id, "Get-DkimSigningConfig").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let other = fixtures::microsoft_tenant_id(3);
    assert_eq!(
        invoke(&sb, &exo, &other, "Get-DkimSigningConfig")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        invoke(&sb, &exo, &t.microsoft_tenant_id, "Remove-Mailbox")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    let body: Value = invoke(&sb, &exo, &t.microsoft_tenant_id, "Get-DkimSigningConfig")
        .await
        .json()
        .await
        .unwrap();
    let rows = body["value"].as_array().unwrap();
    assert_eq!(rows.len(), t.dkim.len());
    let enabled = rows.iter().filter(|r| r["Enabled"] == true).count();
    assert_eq!(enabled, t.dkim.iter().filter(|d| d.enabled).count());
    let body: Value = invoke(&sb, &exo, &t.microsoft_tenant_id, "Get-AdminAuditLogConfig")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["value"][0]["UnifiedAuditLogIngestionEnabled"],
        t.unified_audit_enabled
    );

    assert!(fixtures::tenant(4).is_denied("exchange"));
    let denied = token(&sb, 4, EXCHANGE).await;
    let r = invoke(
        &sb,
        &denied,
        &fixtures::microsoft_tenant_id(4),
        "Get-AntiPhishPolicy",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sb = sandbox().await;
    let url = format!("{}/v1.0/organization", sb.graph_url);
    assert_eq!(
        Client::new().get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    sb.shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(Client::new().get(&url).send().await.is_err());
}
