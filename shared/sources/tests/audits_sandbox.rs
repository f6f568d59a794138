//! Reading the directory audit log from the sandbox: the filter by time and category, paging
//! through `@odata.nextLink`, the change hooks (Sandbox methods and `POST /_sandbox/changes`)
//! that change a tenant and log it, throttling, and a token of the wrong tenant.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use docsync_domain::ApiKey;
use docsync_sandbox::{fixtures, Faults, Sandbox, SandboxConfig, TenantChange};
use docsync_sources::{
    ChangeKind, GraphSource, GraphSourceConfig, MicrosoftBudgets, MicrosoftCredentials,
};
use serde_json::{json, Value};

const CLIENT_ID: &str = "5a4db0c1-d0c5-4c1e-8a7e-000000000001";
const SECRET: &str = "sandbox-client-secret-0123456789";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 12,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn config(sb: &Sandbox) -> GraphSourceConfig {
    GraphSourceConfig {
        graph_url: sb.graph_url.clone(),
        login_url: sb.login_url.clone(),
        exchange_url: sb.exchange_url.clone(),
        max_concurrency: 4,
        hedge_after: None,
        request_timeout: std::time::Duration::from_secs(10),
        max_retries: 5,
        budgets: MicrosoftBudgets::default(),
    }
}

fn source(sb: &Sandbox) -> GraphSource {
    GraphSource::new(config(sb)).unwrap()
}

fn creds() -> MicrosoftCredentials {
    MicrosoftCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: ApiKey::parse("clientSecret", SECRET).unwrap(),
    }
}

#[tokio::test]
async fn changes_are_logged_with_their_category_and_read_back_filtered_and_paged() {
    let sb = sandbox().await;
    let src = source(&sb);
    let tid = fixtures::microsoft_tenant_id(3);
    // History: a user update three days ago, company information a day ago, a Conditional
    // Access update five minutes ago.
    let history = sb.directory_audits(3);
    assert_eq!(history.len(), 3, "{history:#?}");
    for e in &history {
        for field in [
            "id",
            "category",
            "activityDisplayName",
            "activityDateTime",
            "loggedByService",
            "operationType",
            "result",
            "targetResources",
            "initiatedBy",
        ] {
            assert!(!e[field].is_null(), "{field} missing: {e}");
        }
    }
    let hour_ago = Utc::now() - Duration::hours(1);
    let recent = src
        .directory_audits_since(&creds(), &tid, hour_ago)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1, "only the recent Policy entry: {recent:?}");
    assert_eq!(recent[0].change(), Some(ChangeKind::ConditionalAccess));

    let before = sb.tenant_fixture(3).unwrap().ca_policies.len();
    let added = sb
        .change_tenant(
            3,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: "Contractors need MFA".into(),
            },
        )
        .unwrap();
    assert_eq!(added["category"], "Policy");
    assert_eq!(
        added["activityDisplayName"],
        "Add conditional access policy"
    );
    assert_eq!(
        added["targetResources"][0]["displayName"],
        "Contractors need MFA"
    );
    assert_eq!(sb.tenant_fixture(3).unwrap().ca_policies.len(), before + 1);
    sb.change_tenant(
        3,
        &TenantChange::SetAuthenticationMethodState {
            method_id: "Sms".into(),
            state: "enabled".into(),
        },
    )
    .unwrap();
    sb.change_tenant(
        3,
        &TenantChange::AddDomain {
            name: "contoso-new.example".into(),
        },
    )
    .unwrap();
    sb.change_tenant(3, &TenantChange::UpdateUser).unwrap();
    assert!(sb
        .tenant_fixture(3)
        .unwrap()
        .domains
        .contains(&"contoso-new.example".to_owned()));

    // One entry a page: four pages of Policy / DirectoryManagement entries, the user update
    // filtered out by Graph.
    let paged = src
        .directory_audits_paged(&creds(), &tid, hour_ago, 1)
        .await
        .unwrap();
    let kinds: Vec<Option<ChangeKind>> = paged.iter().map(|e| e.change()).collect();
    assert_eq!(paged.len(), 4, "{paged:?}");
    assert!(kinds.contains(&Some(ChangeKind::AuthenticationMethods)));
    assert!(kinds.contains(&Some(ChangeKind::Domains)));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == Some(ChangeKind::ConditionalAccess))
            .count(),
        2
    );
    // Newest first, as Graph answers.
    assert!(paged
        .windows(2)
        .all(|w| w[0].activity_date_time >= w[1].activity_date_time));
    // The other tenants' logs are untouched.
    assert_eq!(sb.directory_audits(4).len(), 3);
}

#[tokio::test]
async fn the_http_hook_changes_a_policy_and_refuses_what_the_tenant_lacks() {
    let sb = sandbox().await;
    let fixture = sb.tenant_fixture(1).unwrap();
    let policy = fixture.ca_policies.first().unwrap().clone();
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/_sandbox/changes", sb.graph_url))
            .json(&body)
            .send()
    };
    let r = post(json!({"tenantId": fixture.microsoft_tenant_id,
                        "change": {"kind": "setConditionalAccessPolicyState", "policyId": policy.id, "state": "disabled"}}))
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["entry"]["activityDisplayName"],
        "Update conditional access policy"
    );
    let now = sb.tenant_fixture(1).unwrap();
    assert_eq!(
        now.ca_policies
            .iter()
            .find(|p| p.id == policy.id)
            .unwrap()
            .state,
        "disabled"
    );
    let r = post(json!({"tenantId": fixture.microsoft_tenant_id,
                        "change": {"kind": "setConditionalAccessPolicyState", "policyId": "nope", "state": "disabled"}}))
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(json!({"tenantId": "00000000-0000-0000-0000-000000000000", "change": {"kind": "updateUser"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = post(
        json!({"tenantId": fixture.microsoft_tenant_id, "change": {"kind": "deleteEverything"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_bad_filter_or_missing_token_is_refused() {
    let sb = sandbox().await;
    let src = source(&sb);
    let tid = fixtures::microsoft_tenant_id(2);
    sb.set_faults(Faults {
        graph_429_every_nth: Some(2),
        ..Faults::default()
    });
    let entries = src
        .directory_audits_paged(&creds(), &tid, Utc::now() - Duration::days(7), 1)
        .await
        .unwrap();
    assert_eq!(
        entries.len(),
        2,
        "Policy + DirectoryManagement history: {entries:?}"
    );
    assert!(sb.graph_stats().throttled_429 > 0);
    sb.set_faults(Faults::default());

    let http = reqwest::Client::new();
    let url = format!("{}/v1.0/auditLogs/directoryAudits", sb.graph_url);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let token: Value = http
        .post(format!("{}/{tid}/oauth2/v2.0/token", sb.login_url))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap();
    let r = http
        .get(&url)
        .bearer_auth(bearer)
        .query(&[("$filter", "activityDateTime ge 'yesterday'")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    let r = http
        .get(&url)
        .bearer_auth(bearer)
        .query(&[("$top", "2000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn audit_pages_are_read_under_the_tenants_graph_budget() {
    let sb = sandbox().await;
    let tid = fixtures::microsoft_tenant_id(5);
    for _ in 0..5 {
        sb.change_tenant(
            5,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: "Paged".into(),
            },
        )
        .unwrap();
    }
    // Graph allows 2 requests a second for the tenant; one entry a page is 6 pages.
    sb.set_graph_rate_limit(Some(docsync_sandbox::WindowLimit {
        requests: 2,
        window_secs: 1,
        send_retry_after: true,
    }));
    let src = GraphSource::new(GraphSourceConfig {
        budgets: MicrosoftBudgets {
            graph: docsync_domain::RateLimit {
                requests: 2,
                per_seconds: 1,
            },
            ..MicrosoftBudgets::default()
        },
        ..config(&sb)
    })
    .unwrap();
    let paged = src
        .directory_audits_paged(&creds(), &tid, Utc::now() - Duration::hours(1), 1)
        .await
        .unwrap();
    assert_eq!(paged.len(), 6, "{paged:?}");
    let stats = sb.graph_stats();
    assert_eq!(stats.throttled_429, 0, "{stats:?}");
    assert!(stats.max_requests_in_any_window <= 2, "{stats:?}");
}
