//! The HTTP API's contract: 401 without a token, 403 without the permission, 404 for another
//! account's things, 400 naming every bad field, and secrets masked in every response.

use docsync_e2e::{hudu_write_key, spawn_app};
use docsync_sandbox::SandboxConfig;
use docsync_store::Permission;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_endpoint_needs_a_valid_token() {
    let app = spawn_app().await;
    let tenant = uuid::Uuid::new_v4();
    let endpoints = [
        (Method::GET, "/tenants".to_owned()),
        (Method::POST, "/tenants".to_owned()),
        (Method::GET, format!("/tenants/{tenant}")),
        (Method::PATCH, format!("/tenants/{tenant}")),
        (Method::DELETE, format!("/tenants/{tenant}")),
        (Method::GET, "/connections/microsoft".to_owned()),
        (Method::PUT, "/connections/microsoft".to_owned()),
        (Method::GET, "/integrations/hudu".to_owned()),
        (Method::PUT, "/integrations/hudu".to_owned()),
        (Method::POST, "/integrations/hudu/test".to_owned()),
        (Method::POST, format!("/integrations/hudu/push/{tenant}")),
        (Method::POST, "/integrations/hudu/push-all".to_owned()),
        (Method::GET, "/integrations/hudu/runs".to_owned()),
        (Method::GET, format!("/runs/{tenant}")),
    ];
    for (method, path) in &endpoints {
        let (status, body) = app
            .call_as(None, method.clone(), path, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        let (status, _) = app
            .call_as(
                Some("dsk_not-a-real-token"),
                method.clone(),
                path,
                Some(json!({})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a bad token"
        );
    }
    let (status, _) = app.call_as(None, Method::GET, "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call_as(None, Method::GET, "/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"database": true, "broker": true}));
    app.cleanup().await;
}

#[tokio::test]
async fn each_endpoint_enforces_its_permission() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[0]).await;
    let t = &tenants[0].id;
    let cases = [
        (Method::GET, "/tenants".to_owned(), Permission::TenantsRead),
        (
            Method::POST,
            "/tenants".to_owned(),
            Permission::TenantsManage,
        ),
        (
            Method::GET,
            format!("/tenants/{t}"),
            Permission::TenantsRead,
        ),
        (
            Method::PATCH,
            format!("/tenants/{t}"),
            Permission::TenantsManage,
        ),
        (
            Method::DELETE,
            format!("/tenants/{t}"),
            Permission::TenantsManage,
        ),
        (
            Method::GET,
            "/connections/microsoft".to_owned(),
            Permission::IntegrationsRead,
        ),
        (
            Method::PUT,
            "/connections/microsoft".to_owned(),
            Permission::IntegrationsManage,
        ),
        (
            Method::GET,
            "/integrations/hudu".to_owned(),
            Permission::IntegrationsRead,
        ),
        (
            Method::PUT,
            "/integrations/hudu".to_owned(),
            Permission::IntegrationsManage,
        ),
        (
            Method::POST,
            "/integrations/hudu/test".to_owned(),
            Permission::IntegrationsRead,
        ),
        (
            Method::POST,
            format!("/integrations/hudu/push/{t}"),
            Permission::IntegrationsManage,
        ),
        (
            Method::POST,
            "/integrations/hudu/push-all".to_owned(),
            Permission::IntegrationsManage,
        ),
        (
            Method::GET,
            "/integrations/hudu/runs".to_owned(),
            Permission::IntegrationsRead,
        ),
    ];
    for (method, path, needed) in &cases {
        // A token with every permission but the one needed is refused.
        let others: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| p != needed)
            .collect();
        let token = app.token_with(&others).await;
        let (status, body) = app
            .call_as(Some(&token), method.clone(), path, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needed.as_str()),
            "{body}"
        );
    }
    // Nothing was changed by the refused calls.
    let (status, _) = app.call(Method::GET, &format!("/tenants/{t}"), None).await;
    assert_eq!(status, StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test]
async fn another_accounts_tenants_and_runs_are_not_found() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[2]).await;
    let t = &tenants[0].id;
    let run = app.push(&tenants[0]).await;
    app.wait_for_run(&run).await;

    let other = app.other_account_token().await;
    for (method, path) in [
        (Method::GET, format!("/tenants/{t}")),
        (Method::PATCH, format!("/tenants/{t}")),
        (Method::DELETE, format!("/tenants/{t}")),
        (Method::GET, format!("/runs/{run}")),
        (Method::POST, format!("/integrations/hudu/push/{t}")),
        (Method::GET, "/integrations/hudu".to_owned()),
        (Method::GET, "/connections/microsoft".to_owned()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "x"}));
        let (status, answer) = app.call_as(Some(&other), method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, list) = app
        .call_as(Some(&other), Method::GET, "/tenants", None)
        .await;
    assert_eq!(list["tenants"], json!([]));
    // The first account still has its tenant.
    let (status, _) = app.call(Method::GET, &format!("/tenants/{t}"), None).await;
    assert_eq!(status, StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test]
async fn bad_input_gets_a_400_naming_every_bad_field() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[3]).await;

    let (status, body) = app
        .call(Method::POST, "/tenants", Some(json!({"name": "", "primaryDomain": "not a domain", "microsoftTenantId": "123", "colour": "red"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mut f = fields(&body);
    f.sort();
    assert_eq!(
        f,
        ["colour", "microsoftTenantId", "name", "primaryDomain"],
        "{body}"
    );

    let (status, body) = app.call(Method::POST, "/tenants", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body).len(), 3, "{body}");

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({
                "baseUrl": "it.msp.example",
                "apiKey": "",
                "companyIdByTenantId": {"not-a-uuid": 4, unknown.to_string(): 5, tenants[0].id.clone(): -1},
                "schedule": {"mode": "weekly", "at": "25:61", "timeZone": "Mars/Olympus"},
                "rateLimit": {"requests": 0, "perSeconds": 1},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let f = fields(&body);
    for expected in [
        "baseUrl".to_owned(),
        "apiKey".to_owned(),
        "companyIdByTenantId.not-a-uuid".to_owned(),
        format!("companyIdByTenantId.{unknown}"),
        format!("companyIdByTenantId.{}", tenants[0].id),
        "schedule.mode".to_owned(),
        "schedule.at".to_owned(),
        "schedule.timeZone".to_owned(),
        "rateLimit".to_owned(),
    ] {
        assert!(f.contains(&expected), "{expected} not reported in {body}");
    }
    let unknown_msg = body["fields"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|x| x["field"] == format!("companyIdByTenantId.{unknown}"))
        })
        .and_then(|x| x["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        unknown_msg.contains("no tenant with this id"),
        "{unknown_msg}"
    );
    // Well formed but for a tenant this account does not have: still bad input, named alone.
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({
                "baseUrl": "https://docs.msp.example",
                "apiKey": "abcdefghij0123456789abcd",
                "companyIdByTenantId": {unknown.to_string(): 5},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        fields(&body),
        [format!("companyIdByTenantId.{unknown}")],
        "{body}"
    );
    // Nothing was stored by the refused requests.
    let (status, _) = app.call(Method::GET, "/integrations/hudu", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A pasted /api/v1 is stripped and reported; http is allowed only in sandbox mode.
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": format!("{}/api/v1", app.sandbox.hudu_url), "apiKey": hudu_write_key(), "companyIdByTenantId": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["baseUrl"], app.sandbox.hudu_url);
    assert!(
        body["notices"][0]
            .as_str()
            .unwrap_or_default()
            .contains("/api/v1"),
        "{body}"
    );
    assert_eq!(
        body["schedule"],
        json!({"mode": "nightly", "at": "02:00", "timeZone": "Australia/Sydney"})
    );

    // Not JSON at all.
    let resp = app
        .http
        .post(format!("{}/tenants", app.api))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("api");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Bad ids and filters.
    let (status, body) = app.call(Method::GET, "/tenants/nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["tenantId"]);
    let (status, body) = app
        .call(
            Method::GET,
            "/integrations/hudu/runs?state=done&limit=0",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["state", "limit"]);
    app.cleanup().await;
}

#[tokio::test]
async fn pushing_an_unknown_or_unmapped_tenant_is_refused_clearly() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[5, 6]).await;
    app.configure_hudu(&tenants[..1]).await;

    let (status, body) = app
        .call(
            Method::POST,
            &format!("/integrations/hudu/push/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/integrations/hudu/push/{}", tenants[1].id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not mapped"),
        "{body}"
    );
    let (_, runs) = app.call(Method::GET, "/integrations/hudu/runs", None).await;
    assert_eq!(
        runs["runs"],
        json!([]),
        "refused pushes leave no run behind"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn secrets_are_masked_in_every_response() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[7]).await;
    let client_secret = SandboxConfig::default().graph_client_secret;
    let hudu_key = hudu_write_key();

    let (_, conn) = app.call(Method::GET, "/connections/microsoft", None).await;
    let shown = conn["clientSecret"].as_str().expect("masked secret");
    assert!(
        shown.starts_with("••••") && shown.chars().count() <= 8,
        "{conn}"
    );
    let (_, hudu) = app.call(Method::GET, "/integrations/hudu", None).await;
    let shown = hudu["apiKey"].as_str().expect("masked key");
    assert!(
        shown.starts_with("••••") && shown.chars().count() <= 8,
        "{hudu}"
    );

    // Sending the masked key back keeps the stored one working.
    let mut again = hudu.clone();
    let obj = again.as_object_mut().expect("object");
    for k in ["provider", "updatedAt", "notices", "nextScheduledAt"] {
        obj.remove(k);
    }
    let (status, body) = app
        .call(Method::PUT, "/integrations/hudu", Some(again))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");

    let mut seen = String::new();
    for path in [
        "/connections/microsoft".to_owned(),
        "/integrations/hudu".to_owned(),
        "/tenants".to_owned(),
        "/integrations/hudu/runs".to_owned(),
        format!("/runs/{}", run["id"].as_str().unwrap_or_default()),
    ] {
        let (_, body) = app.call(Method::GET, &path, None).await;
        seen.push_str(&body.to_string());
    }
    let (_, test) = app
        .call(Method::POST, "/integrations/hudu/test", None)
        .await;
    seen.push_str(&test.to_string());
    assert!(!seen.contains(&client_secret), "client secret leaked");
    assert!(!seen.contains(&hudu_key), "Hudu key leaked");

    // Stored secrets are sealed, not plain text.
    let (client, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("db");
    tokio::spawn(conn);
    let row = client
        .query_one("SELECT (SELECT client_secret_sealed FROM microsoft_connections), (SELECT api_key_sealed FROM integrations)", &[])
        .await
        .expect("row");
    let (a, b): (String, String) = (row.get(0), row.get(1));
    assert!(!a.contains(&client_secret) && !b.contains(&hudu_key));
    app.cleanup().await;
}

/// The message of the bad field `field` in a 400's body.
fn message_of(body: &Value, field: &str) -> String {
    body["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["field"] == field))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn implausibly_short_secrets_are_400s_naming_the_field_and_what_a_real_one_looks_like() {
    let app = spawn_app().await;
    let d = SandboxConfig::default();

    // A one-character Entra client secret, and a client id that is not a GUID.
    let (status, body) = app
        .call(
            Method::PUT,
            "/connections/microsoft",
            Some(json!({"clientId": d.graph_client_id, "clientSecret": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["clientSecret"], "{body}");
    let m = message_of(&body, "clientSecret");
    assert!(m.contains("shorter than 32 characters"), "{m}");
    assert!(
        m.contains("40 characters") && m.contains("Certificates & secrets"),
        "{m}"
    );
    // The Secret ID pasted instead of the secret's value.
    let (status, body) = app
        .call(
            Method::PUT,
            "/connections/microsoft",
            Some(json!({"clientId": "sandbox-client-id", "clientSecret": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["clientId", "clientSecret"], "{body}");
    assert!(message_of(&body, "clientId").contains("a GUID"), "{body}");
    assert!(
        message_of(&body, "clientSecret").contains("Secret ID"),
        "{body}"
    );
    assert!(!body.to_string().contains("9b1deb4d"), "{body}");
    let (status, _) = app.call(Method::GET, "/connections/microsoft", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    app.connect_microsoft().await;

    // A one-character Hudu or IT Glue key.
    for (path, body) in [
        (
            "/integrations/hudu",
            json!({"baseUrl": app.sandbox.hudu_url, "apiKey": "k", "companyIdByTenantId": {}}),
        ),
        (
            "/integrations/it-glue",
            json!({"apiKey": "k", "region": "us", "organizationIdByTenantId": {}}),
        ),
    ] {
        let (status, body) = app.call(Method::PUT, path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(fields(&body), ["apiKey"], "{path}: {body}");
        let m = message_of(&body, "apiKey");
        assert!(m.contains("too short for a"), "{path}: {m}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_provider_name_gets_one_answer_on_every_route() {
    let app = spawn_app().await;
    let tenant = uuid::Uuid::new_v4();
    // `itglue` is not a name of IT Glue (`it-glue` is): a 404 listing the names, on every
    // route, the same words each time.
    let mut answers = Vec::new();
    for (method, path) in [
        (Method::GET, "/integrations/itglue".to_owned()),
        (Method::GET, "/integrations/itglue/runs".to_owned()),
        (Method::POST, "/integrations/itglue/test".to_owned()),
        (Method::POST, "/integrations/itglue/push-all".to_owned()),
        (Method::POST, format!("/integrations/itglue/push/{tenant}")),
        (Method::GET, "/integrations/itglue/companies".to_owned()),
        (Method::POST, "/integrations/itglue/sync".to_owned()),
    ] {
        let (status, body) = app.call(method.clone(), &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        answers.push(body["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        answers[0].contains("hudu, it-glue, connectwise-manage, halopsa or autotask"),
        "{}",
        answers[0]
    );
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    // The canonical name works on the runs route and is "not configured yet" on the config one.
    let (status, body) = app
        .call(Method::GET, "/integrations/it-glue/runs", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(Method::GET, "/integrations/it-glue", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_ne!(body["message"], json!(answers[0]), "{body}");
    app.cleanup().await;
}
