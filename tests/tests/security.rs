//! Security of the fleet through its real API and admin commands: revoked tokens are refused
//! at once, master-key rotation re-encrypts every secret, provider URLs into private networks
//! are refused, and configuration changes leave an audit trail without secrets.

use docsync::admin::{self, KeyRotation, Revocation, TokenRef};
use docsync::fleet::{Fleet, Roles};
use docsync_domain::crypto::{Binding, MasterKey};
use docsync_domain::{mask, Provider};
use docsync_e2e::{hudu_read_only_key, hudu_write_key, spawn_app, TestApp};
use docsync_sandbox::SandboxConfig;
use docsync_store::Permission;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Calls `api` (another fleet member's API) with the app's all-permissions token.
async fn call_at(
    app: &TestApp,
    api: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .request(method, format!("{api}{path}"))
        .bearer_auth(&app.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("api reachable");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Starts an API-only fleet member with `settings` changed by `change`; returns it and its
/// base URL.
async fn api_member(app: &TestApp, change: impl FnOnce(&mut docsync::Settings)) -> (Fleet, String) {
    let mut settings = app.settings.clone();
    settings.api_addr = "127.0.0.1:0".parse().expect("addr");
    change(&mut settings);
    let fleet = Fleet::start(
        &settings,
        Roles {
            api: true,
            ..Roles::default()
        },
    )
    .await
    .expect("api member starts");
    let api = format!("http://{}", fleet.api_addr.expect("api address"));
    (fleet, api)
}

fn field_messages(body: &Value, field: &str) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["field"] == field)
                .filter_map(|f| f["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_every_endpoint_at_once() {
    let app = spawn_app().await;
    let token = app.token_with(&Permission::ALL).await;
    let (status, body) = app
        .call_as(Some(&token), Method::GET, "/tenants", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let tokens = admin::list_tokens(app.store(), app.account)
        .await
        .expect("list");
    assert_eq!(tokens.len(), 2, "the harness token and this one");
    let id = tokens.last().expect("newest").id;
    let table = admin::token_table(&tokens);
    assert!(
        table.contains(&id.to_string()) && table.contains("TENANTS_MANAGE"),
        "{table}"
    );
    assert!(
        !table.contains(&token) && !table.contains(&docsync_store::hash_token(&token)),
        "{table}"
    );

    match admin::revoke_token(app.store(), &TokenRef::Id(id))
        .await
        .expect("revoke")
    {
        Revocation::Revoked(t) => assert_eq!(t.id, id),
        other => panic!("expected a revocation, got {other:?}"),
    }
    let tenant = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, "/tenants".to_owned()),
        (Method::POST, "/tenants".to_owned()),
        (Method::DELETE, format!("/tenants/{tenant}")),
        (Method::GET, "/connections/microsoft".to_owned()),
        (Method::PUT, "/integrations/hudu".to_owned()),
        (Method::POST, "/integrations/hudu/push-all".to_owned()),
        (Method::GET, "/integrations/hudu/runs".to_owned()),
        (Method::GET, "/audit".to_owned()),
    ] {
        let (status, body) = app
            .call_as(Some(&token), method.clone(), &path, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
    }
    // The other token of the account still works.
    let (status, _) = app.call(Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK);

    // Revoking again changes nothing; the list shows when it was revoked.
    let again = admin::revoke_token(app.store(), &TokenRef::Id(id))
        .await
        .expect("revoke again");
    assert!(matches!(again, Revocation::AlreadyRevoked(_)), "{again:?}");
    let tokens = admin::list_tokens(app.store(), app.account)
        .await
        .expect("list");
    assert!(tokens
        .iter()
        .find(|t| t.id == id)
        .and_then(|t| t.revoked_at)
        .is_some());
    assert!(tokens
        .iter()
        .filter(|t| t.id != id)
        .all(|t| t.revoked_at.is_none()));

    // A token can be revoked by presenting it, too.
    let second = app.token_with(&[Permission::TenantsRead]).await;
    let (status, _) = app
        .call_as(Some(&second), Method::GET, "/tenants", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let done = admin::revoke_token(app.store(), &TokenRef::Token(second.clone().into()))
        .await
        .expect("revoke by token");
    assert!(matches!(done, Revocation::Revoked(_)), "{done:?}");
    let (status, _) = app
        .call_as(Some(&second), Method::GET, "/tenants", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let unknown = admin::revoke_token(app.store(), &TokenRef::Id(uuid::Uuid::new_v4())).await;
    assert!(unknown
        .unwrap_err()
        .to_string()
        .contains("no token with id"));
    app.cleanup().await;
}

#[tokio::test]
async fn rotate_key_re_encrypts_every_secret_and_can_be_run_again() {
    let app = spawn_app().await;
    app.setup_hudu(&[0]).await;
    let key_a = app.settings.master_key().expect("key A");
    let key_b_b64 = MasterKey::generate_b64();
    let key_b = MasterKey::parse(&key_b_b64).expect("key B");

    let (status, hook) = app
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hooks", "secret": "whsec-rotation-0123456789abcdef"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");

    // The Microsoft connection as a release before bindings stored it (`v1:`, unbound).
    app.store()
        .put_microsoft_connection(
            app.account,
            &SandboxConfig::default().graph_client_id,
            &key_a.seal_unbound(&SandboxConfig::default().graph_client_secret),
        )
        .await
        .expect("an unbound secret");

    let same = admin::rotate_key(app.store(), &key_a, &key_a).await;
    assert!(same.unwrap_err().to_string().contains("same key"));

    let rotation = admin::rotate_key(app.store(), &key_a, &key_b)
        .await
        .expect("rotate");
    assert_eq!(
        rotation,
        KeyRotation {
            microsoft_client_secrets: 1,
            integration_api_keys: 1,
            webhook_secrets: 1,
            already_rotated: 0
        }
    );
    assert!(
        rotation.to_string().contains("re-encrypted 3 secrets"),
        "{rotation}"
    );
    // Re-running (an interrupted rotation) skips what is already under the new key.
    let again = admin::rotate_key(app.store(), &key_a, &key_b)
        .await
        .expect("rotate again");
    assert_eq!(
        again,
        KeyRotation {
            microsoft_client_secrets: 0,
            integration_api_keys: 0,
            webhook_secrets: 0,
            already_rotated: 3
        }
    );

    // Key A no longer opens the rows; key B does.
    let integration = app
        .store()
        .integration(app.account, Provider::Hudu)
        .await
        .expect("read")
        .expect("integration");
    let hudu_place = Binding::integration_api_key(app.account, Provider::Hudu);
    assert!(key_a
        .open(&integration.api_key_sealed, &hudu_place)
        .is_err());
    assert_eq!(
        key_b
            .open(&integration.api_key_sealed, &hudu_place)
            .expect("B opens"),
        hudu_write_key()
    );
    let connection = app
        .store()
        .microsoft_connection(app.account)
        .await
        .expect("read")
        .expect("connection");
    let microsoft_place = Binding::microsoft_client_secret(app.account);
    assert!(key_a
        .open(&connection.client_secret_sealed, &microsoft_place)
        .is_err());
    assert_eq!(
        key_b
            .open(&connection.client_secret_sealed, &microsoft_place)
            .expect("B opens"),
        SandboxConfig::default().graph_client_secret
    );
    // The value stored before bindings (below) came out bound to its place.
    assert!(MasterKey::is_bound(&connection.client_secret_sealed));
    assert!(key_b
        .open(
            &connection.client_secret_sealed,
            &Binding::microsoft_client_secret(docsync_domain::AccountId(uuid::Uuid::new_v4()))
        )
        .is_err());

    // A secret under neither key stops the rotation before anything changes.
    let key_c = MasterKey::parse(&MasterKey::generate_b64()).expect("key C");
    let err = admin::rotate_key(app.store(), &key_a, &key_c)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nothing was changed") && err.contains("hudu integration apiKey"),
        "{err}"
    );
    let unchanged = app
        .store()
        .integration(app.account, Provider::Hudu)
        .await
        .expect("read")
        .expect("integration");
    assert_eq!(unchanged.api_key_sealed, integration.api_key_sealed);

    // A fleet started with key B reads the integration and uses its key.
    let (member, api) = api_member(&app, |s| s.master_key = Some(key_b_b64.clone().into())).await;
    let (status, hudu) = call_at(&app, &api, Method::GET, "/integrations/hudu", None).await;
    assert_eq!(status, StatusCode::OK, "{hudu}");
    assert_eq!(hudu["apiKey"], json!(mask(&hudu_write_key())), "{hudu}");
    let (status, conn) = call_at(&app, &api, Method::GET, "/connections/microsoft", None).await;
    assert_eq!(status, StatusCode::OK, "{conn}");
    assert!(
        !conn["clientSecret"]
            .as_str()
            .unwrap_or("unreadable")
            .contains("unreadable"),
        "{conn}"
    );
    let (status, test) = call_at(&app, &api, Method::POST, "/integrations/hudu/test", None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["keyValid"], json!(true), "{test}");
    assert_eq!(test["reachable"], json!(true), "{test}");
    // The fleet still on key A cannot read it any more (and says so, without the secret).
    let (_, stale) = app.call(Method::GET, "/integrations/hudu", None).await;
    assert!(
        stale["apiKey"]
            .as_str()
            .unwrap_or_default()
            .contains("unreadable"),
        "{stale}"
    );
    member.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn provider_urls_into_private_networks_are_refused_by_default() {
    let app = spawn_app().await;
    let (member, api) = api_member(&app, |s| s.allow_private_provider_urls = false).await;
    let put = |base_url: &str| json!({"baseUrl": base_url, "apiKey": hudu_write_key(), "companyIdByTenantId": {}});
    for (url, why) in [
        ("https://127.0.0.1", "127.0.0.1, a loopback address"),
        ("https://10.0.0.1", "10.0.0.1, a private network address"),
        (
            "https://169.254.169.254",
            "169.254.169.254, a link-local address",
        ),
        ("https://localhost:8443", "host localhost resolves to"),
        ("https://[::1]", "::1, a loopback address"),
        ("https://100.64.1.2", "carrier-grade NAT"),
        ("https://no-such-host.invalid", "could not be resolved"),
    ] {
        let (status, body) = call_at(
            &app,
            &api,
            Method::PUT,
            "/integrations/hudu",
            Some(put(url)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        let messages = field_messages(&body, "baseUrl");
        assert!(messages.iter().any(|m| m.contains(why)), "{url}: {body}");
    }
    let (status, body) = call_at(&app, &api, Method::GET, "/integrations/hudu", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored: {body}");

    // A public address passes the check.
    let (status, body) = call_at(
        &app,
        &api,
        Method::PUT,
        "/integrations/hudu",
        Some(put("https://1.1.1.1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The fleet that allows private URLs (sandbox and tests) still accepts the sandbox.
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(put(&app.sandbox.hudu_url)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    member.stop().await;
    app.cleanup().await;
}

fn events(body: &Value) -> Vec<Value> {
    body["events"].as_array().cloned().unwrap_or_default()
}

fn fields_of(event: &Value) -> Vec<String> {
    event["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn configuration_changes_leave_an_audit_trail_without_secrets() {
    let app = spawn_app().await;
    let token_id = admin::list_tokens(app.store(), app.account)
        .await
        .expect("list")[0]
        .id;
    let tenants = app.setup_hudu(&[0, 1]).await;
    let (a, b) = (&tenants[0].id, &tenants[1].id);

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/tenants/{a}"),
            Some(json!({"name": "Renamed Pty Ltd"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // New key, tenant b moved to company 42, rate limit set; baseUrl unchanged.
    let mut mapping = serde_json::Map::new();
    mapping.insert(a.clone(), json!(TestApp::company_of(&tenants[0])));
    mapping.insert(b.clone(), json!(42));
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_read_only_key(), "companyIdByTenantId": mapping, "rateLimit": {"requests": 100, "perSeconds": 60}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same configuration again (key sent back masked) changes nothing and records nothing.
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": body["apiKey"], "companyIdByTenantId": mapping, "rateLimit": {"requests": 100, "perSeconds": 60}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .call(Method::DELETE, &format!("/tenants/{b}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = app.call(Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = events(&body);
    let what: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e["entityType"].as_str().unwrap_or_default().to_owned(),
                e["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("tenant", "deleted"),
        ("integration", "updated"),
        ("tenant", "updated"),
        ("integration", "created"),
        ("tenant", "created"),
        ("tenant", "created"),
        ("microsoftConnection", "created"),
    ];
    assert_eq!(
        what,
        expected.map(|(t, a)| (t.to_owned(), a.to_owned())).to_vec(),
        "newest first: {body}"
    );
    for e in &all {
        assert_eq!(e["tokenId"], json!(token_id), "{e}");
        assert!(e["at"].is_string() && e["id"].is_string(), "{e}");
    }
    let ats: Vec<&str> = all.iter().filter_map(|e| e["at"].as_str()).collect();
    let parsed: Vec<chrono::DateTime<chrono::Utc>> =
        ats.iter().map(|t| t.parse().expect("timestamp")).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");

    assert_eq!(all[0]["entityId"], json!(b));
    assert_eq!(all[0]["changes"][0]["field"], "name");
    assert!(all[0]["changes"][0]["to"].is_null());
    assert_eq!(all[1]["entityId"], "hudu");
    assert_eq!(
        fields_of(&all[1]),
        vec![
            "apiKey".to_owned(),
            format!("companyIdByTenantId.{b}"),
            "rateLimit".to_owned()
        ]
    );
    assert_eq!(
        all[1]["changes"][0],
        json!({"field": "apiKey", "change": "changed"})
    );
    assert_eq!(
        all[1]["changes"][1]["from"],
        json!(TestApp::company_of(&tenants[1]))
    );
    assert_eq!(all[1]["changes"][1]["to"], json!(42));
    assert_eq!(all[2]["entityId"], json!(a));
    assert_eq!(
        all[2]["changes"],
        json!([{"field": "name", "from": tenants[0].fixture.display_name, "to": "Renamed Pty Ltd"}])
    );
    let created = fields_of(&all[3]);
    for f in ["baseUrl", "apiKey", "schedule"] {
        assert!(created.contains(&f.to_owned()), "{created:?}");
    }
    assert_eq!(fields_of(&all[6]), vec!["clientId", "clientSecret"]);
    assert_eq!(
        all[6]["changes"][1],
        json!({"field": "clientSecret", "change": "changed"})
    );

    // No secret, token or sealed value anywhere in the trail.
    let text = body.to_string();
    for secret in [
        hudu_write_key(),
        hudu_read_only_key(),
        SandboxConfig::default().graph_client_secret,
        app.token.clone(),
    ] {
        assert!(
            !text.contains(&secret),
            "a secret leaked into the audit trail"
        );
    }
    assert!(
        !text.contains("v1:"),
        "a sealed value leaked into the audit trail"
    );

    let (status, body) = app.call(Method::GET, "/audit?limit=2", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(events(&body), all[..2].to_vec());
    let (status, body) = app.call(Method::GET, "/audit?limit=0&since=x", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        !field_messages(&body, "limit").is_empty() && !field_messages(&body, "since").is_empty(),
        "{body}"
    );

    // Another account sees none of it; reading needs INTEGRATIONS_READ.
    let other = app.other_account_token().await;
    let (status, body) = app.call_as(Some(&other), Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"events": []}));
    let tenants_only = app
        .token_with(&[Permission::TenantsRead, Permission::TenantsManage])
        .await;
    let (status, _) = app
        .call_as(Some(&tenants_only), Method::GET, "/audit", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call_as(None, Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.cleanup().await;
}

/// A sealed secret is bound to its place: copied into another account's row (by someone with
/// write access to the database, say) it does not open there, and the API says so.
#[tokio::test]
async fn a_sealed_key_copied_into_another_accounts_row_does_not_open() {
    let app = spawn_app().await;
    app.setup_hudu(&[0]).await;
    let other = app.other_account_token().await;
    let (status, body) = app
        .call_as(
            Some(&other),
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_read_only_key(), "companyIdByTenantId": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["apiKey"], json!(mask(&hudu_read_only_key())));

    let (client, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("the test's database");
    tokio::spawn(conn);
    let copied = client
        .execute(
            "UPDATE integrations SET api_key_sealed =
                    (SELECT api_key_sealed FROM integrations WHERE account_id = $1 AND provider = 'hudu')
              WHERE account_id <> $1 AND provider = 'hudu'",
            &[&app.account.0],
        )
        .await
        .expect("copy");
    assert_eq!(copied, 1);

    let (status, body) = app
        .call_as(Some(&other), Method::GET, "/integrations/hudu", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown = body["apiKey"].as_str().expect("apiKey");
    assert!(shown.contains("unreadable"), "{body}");
    assert!(
        !shown.contains(&hudu_write_key()[hudu_write_key().len() - 4..]),
        "{body}"
    );
    let (_, tested) = app
        .call_as(Some(&other), Method::POST, "/integrations/hudu/test", None)
        .await;
    assert!(
        tested.to_string().contains("could not be decrypted"),
        "the test connection says why: {tested}"
    );
    // The owner's row still opens where it belongs.
    let (status, mine) = app.call(Method::GET, "/integrations/hudu", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["apiKey"], json!(mask(&hudu_write_key())), "{mine}");
    app.cleanup().await;
}
