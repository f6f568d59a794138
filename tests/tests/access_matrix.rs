//! Every route the API serves, from its own route table: no token is a 401, a token without
//! the route's permission is a 403 (even with every other permission), and another account's
//! tenant or run is a 404 that does not confirm it exists. A new route without an expectation
//! here fails the test.

use docsync_e2e::spawn_app;
use docsync_store::Permission;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The permission a route needs; None for the public ones.
fn needs(method: &Method, path: &str) -> Option<Option<Permission>> {
    use Permission::*;
    let read_or_manage = |read, manage| {
        if *method == Method::GET {
            Some(Some(read))
        } else {
            Some(Some(manage))
        }
    };
    match path {
        "/health" | "/ready" | "/openapi.json" | "/ui" => Some(None),
        "/tenants" | "/tenants/{id}" => read_or_manage(TenantsRead, TenantsManage),
        // The evidence export reads tenants' posture: TENANTS_READ.
        "/tenants/{id}/evidence" | "/evidence" => Some(Some(TenantsRead)),
        "/connections/microsoft"
        | "/integrations/{provider}"
        | "/integrations/{provider}/push/{tenant_id}"
        | "/integrations/{provider}/push-all"
        | "/integrations/{provider}/companies"
        | "/integrations/{provider}/companies/match-all"
        | "/integrations/{provider}/sync"
        | "/dlq"
        | "/dlq/replay" => read_or_manage(IntegrationsRead, IntegrationsManage),
        // Read-only calls made with POST or GET.
        "/integrations/{provider}/test"
        | "/integrations/{provider}/preview/{tenant_id}"
        | "/integrations/{provider}/runs"
        | "/runs/{id}"
        | "/runs"
        | "/audit"
        | "/ui/summary" => Some(Some(IntegrationsRead)),
        // Subscriptions hold a signing secret: every call needs MANAGE.
        "/webhooks" | "/webhooks/{id}" => Some(Some(IntegrationsManage)),
        _ => None,
    }
}

#[tokio::test]
async fn every_route_answers_401_403_and_404_as_the_contract_says() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[1]).await;
    let mine = tenants[0].id.clone();
    let my_run = app.push(&tenants[0]).await;
    app.wait_for_run(&my_run).await;

    // Another account with a tenant and a run of its own.
    let other = app.other_account_token().await;
    let d = docsync_sandbox::SandboxConfig::default();
    let f = docsync_sandbox::fixtures::tenant(2);
    let (_, t) = app
        .call_as(
            Some(&other),
            Method::POST,
            "/tenants",
            Some(json!({"name": f.display_name, "primaryDomain": f.default_domain(), "microsoftTenantId": f.microsoft_tenant_id})),
        )
        .await;
    let theirs = t["id"].as_str().expect("their tenant").to_owned();
    app.call_as(
        Some(&other),
        Method::PUT,
        "/connections/microsoft",
        Some(json!({"clientId": d.graph_client_id, "clientSecret": d.graph_client_secret})),
    )
    .await;
    let (status, body) = app
        .call_as(
            Some(&other),
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": docsync_e2e::hudu_write_key(), "companyIdByTenantId": {theirs.clone(): 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, pushed) = app
        .call_as(
            Some(&other),
            Method::POST,
            &format!("/integrations/hudu/push/{theirs}"),
            None,
        )
        .await;
    let their_run = pushed["runId"].as_str().expect("their run").to_owned();

    let mut checked = 0;
    for (method, route) in docsync_api::routes() {
        let expectation = needs(&method, route)
            .unwrap_or_else(|| panic!("no access expectation for {method} {route}: add one"));
        let Some(permission) = expectation else {
            continue;
        };
        // The PSA-only routes are checked on ConnectWise Manage, the rest on Hudu.
        let provider = if route.ends_with("/companies")
            || route.ends_with("/match-all")
            || route.ends_with("/sync")
        {
            "connectwise-manage"
        } else {
            "hudu"
        };
        let fill = |tenant: &str, run: &str| {
            route
                .replace("{provider}", provider)
                .replace("{tenant_id}", tenant)
                .replace(
                    "{id}",
                    if route.starts_with("/runs") {
                        run
                    } else {
                        tenant
                    },
                )
        };
        let path = fill(&mine, &my_run);
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));

        let (status, answer) = app.call_as(None, method.clone(), &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token: {answer}"
        );

        let others: Vec<Permission> = Permission::ALL
            .iter()
            .copied()
            .filter(|p| *p != permission)
            .collect();
        let lacking = app.token_with(&others).await;
        let (status, answer) = app
            .call_as(Some(&lacking), method.clone(), &path, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} without {permission:?}: {answer}"
        );
        assert!(
            answer.to_string().contains(permission.as_str()),
            "the 403 names the permission: {answer}"
        );

        if route.contains("{id}") || route.contains("{tenant_id}") {
            let foreign = fill(&theirs, &their_run);
            // A valid body, so only the id can be the problem.
            let valid = (method == Method::PATCH).then(|| json!({"name": "Renamed"}));
            let (status, answer) = app.call(method.clone(), &foreign, valid).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{method} {foreign} (another account's) must be a 404: {answer}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} routes checked");
    app.cleanup().await;
}

#[tokio::test]
async fn many_runs_are_read_in_one_request_and_only_the_accounts_own() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[0, 1]).await;
    let first = app.push(&tenants[0]).await;
    let second = app.push(&tenants[1]).await;
    app.wait_for_run(&first).await;
    app.wait_for_run(&second).await;
    let unknown = uuid::Uuid::new_v4().to_string();

    // In the order asked, repeats once, unknown ids left out, each as GET /runs/:id.
    let path = format!("/runs?ids={second},{unknown}, {first},{second}");
    let (status, body) = app.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs = body["runs"].as_array().expect("runs");
    let ids: Vec<&str> = runs.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "{body}");
    for run in runs {
        let (_, one) = app
            .call(
                Method::GET,
                &format!("/runs/{}", run["id"].as_str().expect("id")),
                None,
            )
            .await;
        assert_eq!(run, &one, "the same view as GET /runs/:id");
        assert_eq!(run["state"], "succeeded");
    }

    // Another account sees none of them.
    let other = app.other_account_token().await;
    let (status, body) = app.call_as(Some(&other), Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["runs"],
        json!([]),
        "another account's runs are left out"
    );

    // Bad input names ids.
    let too_many: Vec<String> = (0..501).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for bad in [
        "/runs".to_owned(),
        "/runs?ids=".to_owned(),
        format!("/runs?ids={first},not-a-run"),
        format!("/runs?ids={}", too_many.join(",")),
        "/runs?id=x".to_owned(),
    ] {
        let (status, body) = app.call(Method::GET, &bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body.to_string().contains("ids"),
            "{bad}: the 400 names ids: {body}"
        );
    }
    app.cleanup().await;
}
