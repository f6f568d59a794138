//! RabbitMQ stopped and started again while 200 pushes are in flight: every one completes,
//! once, without a manual step. (This file is its own test binary, so no other test shares
//! the broker while it restarts.)

use docsync_e2e::{spawn_with, TestApp};
use docsync_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl runs (RabbitMQ is installed on this machine)");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_in_flight_completes_after_rabbitmq_restarts() {
    let app = spawn_with(SandboxConfig {
        tenants: 200,
        hudu_companies: 200,
        hudu_rate_limit: None,
        ..SandboxConfig::default()
    })
    .await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&(0..200).collect::<Vec<_>>()).await;
    let view = app.configure_hudu_with(&tenants, None).await;
    let mapping = view["companyIdByTenantId"].clone();
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(
                json!({"baseUrl": app.sandbox.hudu_url, "companyIdByTenantId": mapping,
                        "rateLimit": {"requests": 100, "perSeconds": 1}}),
            ),
        )
        .await;
    assert!(status.is_success(), "{body}");

    let runs = app.push_all("hudu").await;
    assert_eq!(runs.len(), 200);
    // Let some of them get under way, then take the broker away for a few seconds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rabbitmqctl(&["stop_app"]);
    // While it is away a new push is refused, not accepted and lost.
    let (status, refused) = app
        .call(
            Method::POST,
            &format!("/integrations/hudu/push/{}", tenants[0].id),
            None,
        )
        .await;
    assert_eq!(status.as_u16(), 503, "{refused}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut states: HashMap<String, String> = HashMap::new();
    for id in &runs {
        loop {
            let (_, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
            let state = run["state"].as_str().unwrap_or_default().to_owned();
            if state == "succeeded" || state == "failed" {
                assert_eq!(state, "succeeded", "{run}");
                states.insert(id.clone(), state);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} stuck after the restart: {run}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(states.len(), 200);
    for t in &tenants {
        assert_eq!(
            app.articles_in(TestApp::company_of(t)).len(),
            1,
            "one article for {}",
            t.fixture.display_name
        );
    }
    app.cleanup().await;
}
