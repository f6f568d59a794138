//! PostgreSQL restarted while pushes are under way: the fleet recovers by itself and every
//! push completes. (Its own test binary, so no other test shares the database server while
//! it restarts.)

use docsync_e2e::{spawn_with, TestApp};
use docsync_sandbox::SandboxConfig;
use reqwest::{Method, StatusCode};
use std::process::Command;
use std::time::{Duration, Instant};

fn postgres(action: &str) {
    let versions = std::fs::read_dir("/etc/postgresql").expect("PostgreSQL is installed here");
    let version = versions
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .max()
        .expect("a PostgreSQL cluster");
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "PostgreSQL did not {action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_recovers_from_a_database_restart_without_a_manual_step() {
    let app = spawn_with(SandboxConfig {
        tenants: 60,
        hudu_rate_limit: None,
        ..SandboxConfig::default()
    })
    .await;
    let tenants = app.setup_hudu(&(0..40).collect::<Vec<_>>()).await;
    let runs = app.push_all("hudu").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    postgres("stop");
    // While it is away the API says so: 503 with Retry-After, never a 500, and no push is
    // accepted that could be lost.
    let (status, body) = app
        .call(Method::GET, &format!("/runs/{}", runs[0]), None)
        .await;
    let pushed = app
        .call(
            Method::POST,
            &format!("/integrations/hudu/push/{}", tenants[0].id),
            None,
        )
        .await;
    postgres("start");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_eq!(pushed.0, StatusCode::SERVICE_UNAVAILABLE, "{}", pushed.1);

    // The API itself answers errors while the database is away; keep asking.
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in &runs {
        loop {
            let (status, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
            if status.is_success() {
                let state = run["state"].as_str().unwrap_or_default();
                if state == "succeeded" {
                    break;
                }
                assert_ne!(state, "failed", "{run}");
            }
            assert!(
                Instant::now() < deadline,
                "run {id} stuck after the restart: {run}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for t in &tenants {
        assert_eq!(app.articles_in(TestApp::company_of(t)).len(), 1);
    }
    // New pushes are accepted again too.
    let after = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(after["state"], "succeeded", "{after}");
    app.cleanup().await;
}
