//! The API's contract with its clients: per-token request limits (429 with Retry-After in the
//! usual error shape) and the OpenAPI document at /openapi.json, checked against the live API.

use docsync::fleet::{Fleet, Roles};
use docsync_e2e::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::Value;

/// Starts an API-only fleet member of `app` allowing `per_minute` requests per token.
async fn api_with_limit(app: &TestApp, per_minute: u32) -> (Fleet, String) {
    api_with(app, |s| s.api_rate_limit = per_minute).await
}

/// Starts an API-only fleet member of `app` with its settings changed by `change`.
async fn api_with(app: &TestApp, change: impl FnOnce(&mut docsync::Settings)) -> (Fleet, String) {
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

async fn get(app: &TestApp, url: &str, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut req = app.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("api reachable");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_token_over_its_limit_gets_429_with_retry_after_and_other_tokens_do_not() {
    let app = spawn_app().await;
    let (member, api) = api_with_limit(&app, 5).await;
    let busy = app.token_with(&docsync_store::Permission::ALL).await;
    let other = app.token_with(&docsync_store::Permission::ALL).await;
    let reader = app
        .token_with(&[docsync_store::Permission::IntegrationsRead])
        .await;

    // Requests without a known token are refused before counting: they use up nobody's budget.
    for token in [None, Some("not-a-token")] {
        for _ in 0..8 {
            let (status, _, _) = get(&app, &format!("{api}/tenants"), token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    for i in 0..5 {
        let (status, retry, body) = get(&app, &format!("{api}/tenants"), Some(&busy)).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
        assert!(retry.is_none());
    }
    let (status, retry, body) = get(&app, &format!("{api}/tenants"), Some(&busy)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds: u64 = retry
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(body["fields"], serde_json::json!([]), "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("5 requests") && message.contains("Retry-After"),
        "{message}"
    );
    // Every endpoint behind a token is limited, whatever it would have answered.
    let (status, _, _) = get(&app, &format!("{api}/audit"), Some(&busy)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // No token: still 401, not 429 (the limit is counted per token, after authentication).
    let (status, _, _) = get(&app, &format!("{api}/tenants"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The unauthenticated routes are not limited.
    let (status, _, _) = get(&app, &format!("{api}/health"), Some(&busy)).await;
    assert_eq!(status, StatusCode::OK);

    // Another token of the same account has its own budget.
    for _ in 0..5 {
        let (status, _, body) = get(&app, &format!("{api}/tenants"), Some(&other)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A request refused for a missing permission still counts: the token was known.
    for _ in 0..5 {
        let (status, _, _) = get(&app, &format!("{api}/tenants"), Some(&reader)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _, _) = get(&app, &format!("{api}/tenants"), Some(&reader)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // The limit is counted by each API process: the harness's API (a high limit) serves the
    // busy token.
    let (status, _, _) = get(&app, &format!("{}/tenants", app.api), Some(&busy)).await;
    assert_eq!(status, StatusCode::OK);
    member.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn an_address_guessing_tokens_is_blocked_before_its_tokens_are_looked_at() {
    let app = spawn_app().await;
    // Behind one trusted proxy: the client is the last X-Forwarded-For entry.
    let (member, api) = api_with(&app, |s| {
        s.api_unknown_token_limit = 4;
        s.api_forwarded_hops = 1;
    })
    .await;
    let valid = app.token_with(&docsync_store::Permission::ALL).await;
    let send = |from: &'static str, token: Option<String>| {
        let mut req = app
            .http
            .get(format!("{api}/tenants"))
            .header("x-forwarded-for", format!("198.51.100.99, {from}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.expect("api reachable");
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or_default();
            (status, retry, body)
        }
    };
    let guesser = "203.0.113.7";
    // Four guesses (a missing token counts as one) are answered 401 ...
    for token in [
        None,
        Some("guess-1".to_owned()),
        Some("guess-2".into()),
        Some("guess-3".into()),
    ] {
        let (status, _, body) = send(guesser, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // ... the fifth blocks the address, with how long for ...
    let (status, retry, body) = send(guesser, Some("guess-4".into())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds: u64 = retry.expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=15).contains(&seconds), "Retry-After {seconds}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("without a valid API token"),
        "{body}"
    );
    // ... and while blocked even a valid token from it is refused before it is looked at, so
    // a lucky guess would not be recognised.
    let (status, _, body) = send(guesser, Some(valid.clone())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Other clients behind the same proxy are not affected.
    let (status, _, body) = send("203.0.113.8", Some(valid.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send("203.0.113.8", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The API of the harness (no proxy, a high limit) knows nothing of it.
    let (status, _, _) = get(&app, &format!("{}/tenants", app.api), Some(&valid)).await;
    assert_eq!(status, StatusCode::OK);
    member.stop().await;
    app.cleanup().await;
}

/// Follows a `$ref` inside the document.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).expect("known $ref"),
        None => v,
    }
}

/// Checks `body` against `schema` shallowly: the type, and required properties present.
fn conforms(doc: &Value, schema: &Value, body: &Value, what: &str) {
    let schema = resolve(doc, schema);
    if schema["type"] == "object" {
        assert!(body.is_object(), "{what}: expected an object, got {body}");
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("required name");
            assert!(
                body.get(name).is_some(),
                "{what}: required property {name} missing in {body}"
            );
            if let Some(prop) = schema["properties"].get(name) {
                let prop = resolve(doc, prop);
                if prop["type"] == "array" {
                    for item in body[name].as_array().expect("array") {
                        conforms(doc, &prop["items"], item, &format!("{what}.{name}[]"));
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_live_api() {
    let app = spawn_app().await;
    let (status, _, served) = get(&app, &format!("{}/openapi.json", app.api), None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(docsync_api::openapi_document()).expect("json");
    assert_eq!(served, doc, "the served document is the one in the crate");

    // Real things to look at, so the GETs answer 200 as well as 400/404.
    let tenants = app.setup_hudu(&[3]).await;
    let run = app.push(&tenants[0]).await;
    app.wait_for_run(&run).await;
    let tenant = tenants[0].id.clone();

    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(op) = item.get("get") else { continue };
        let mut params: Vec<&Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(&doc, p))
            .collect();
        params.extend(
            op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(&doc, p)),
        );
        // `{provider}`: every value of its enum.
        let providers: Vec<String> = params
            .iter()
            .find(|p| p["name"] == "provider" && p["in"] == "path")
            .map(|p| {
                resolve(&doc, &p["schema"])["enum"]
                    .as_array()
                    .expect("{provider} is an enum")
                    .iter()
                    .map(|v| v.as_str().expect("provider").to_owned())
                    .collect()
            })
            .unwrap_or_else(|| vec![String::new()]);
        // One request with the documented examples, one with real ids, one with valid query
        // parameters.
        let example = |name: &str| -> String {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "path")
                .and_then(|p| p["example"].as_str())
                .unwrap_or_else(|| panic!("GET {path}: no example for {name}"))
                .to_owned()
        };
        let real = |name: &str| -> String {
            match (path.as_str(), name) {
                ("/runs/{id}", "id") => run.clone(),
                (_, "id" | "tenantId") => tenant.clone(),
                _ => panic!("GET {path}: unknown parameter {name}"),
            }
        };
        let fill = |provider: &str, value: &dyn Fn(&str) -> String| -> String {
            path.split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some("provider") => provider.to_owned(),
                        Some(name) => value(name),
                        None => s.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("/")
        };
        let query: Vec<String> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| {
                let name = p["name"].as_str().expect("name");
                let schema = resolve(&doc, &p["schema"]);
                let value = if let Some(first) = schema["enum"].get(0) {
                    first.as_str().expect("enum").to_owned()
                } else if name == "ids" {
                    run.clone()
                } else if schema["format"] == "uuid" {
                    tenant.clone()
                } else {
                    schema["minimum"].as_i64().unwrap_or(1).to_string()
                };
                format!("{name}={value}")
            })
            .collect();
        let mut urls = Vec::new();
        for provider in &providers {
            urls.push(fill(provider, &example));
            urls.push(fill(provider, &real));
            if !query.is_empty() {
                urls.push(format!("{}?{}", fill(provider, &real), query.join("&")));
            }
        }
        for url in urls {
            let (status, _, body) = get(&app, &format!("{}{url}", app.api), Some(&app.token)).await;
            let what = format!("GET {url} ({path})");
            assert!(!status.is_server_error(), "{what}: {status} {body}");
            let documented = &op["responses"][status.as_str()];
            assert!(
                documented.is_object(),
                "{what}: {status} is not documented: {body}"
            );
            let documented = resolve(&doc, documented);
            if let Some(schema) = documented["content"]["application/json"].get("schema") {
                conforms(&doc, schema, &body, &what);
            }
            checked += 1;
        }
        // And without a token, where one is needed: the documented 401.
        if op["security"] != serde_json::json!([]) {
            let (status, _, _) = get(
                &app,
                &format!("{}{}", app.api, fill(&providers[0], &real)),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "GET {path}");
            assert!(op["responses"]["401"].is_object(), "GET {path}: 401");
        }
    }
    assert!(checked >= 15, "only {checked} GET requests were checked");
    app.cleanup().await;
}
