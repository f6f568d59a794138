//! `DOCSYNC_API_RATE_LIMIT` reaches the real binary's API: `docsync api` with a limit of 3
//! answers the fourth request of a token within a minute with 429 and Retry-After, and a
//! malformed value stops it with a message naming the variable.

use docsync_e2e::spawn_app;
use docsync_store::Permission;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reads_the_limit_from_the_environment() {
    let app = spawn_app().await;
    let token = app.token_with(&Permission::ALL).await;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut api = Command::new(env!("CARGO_BIN_EXE_docsync"))
        .arg("api")
        .envs(app.child_env())
        .env("DOCSYNC_API_ADDR", &addr)
        .env("DOCSYNC_API_RATE_LIMIT", "3")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the docsync binary starts");
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app
        .http
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "docsync api did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let call = || {
        app.http
            .get(format!("{base}/tenants"))
            .bearer_auth(&token)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(call().await.expect("api").status().as_u16(), 200);
    }
    let refused = call().await.expect("api");
    assert_eq!(refused.status().as_u16(), 429);
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry));
    let _ = api.kill().await;

    let bad = Command::new(env!("CARGO_BIN_EXE_docsync"))
        .arg("api")
        .envs(app.child_env())
        .env("DOCSYNC_API_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("DOCSYNC_API_RATE_LIMIT", "lots")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), bad)
        .await
        .expect("exits at once")
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DOCSYNC_API_RATE_LIMIT") && stderr.contains("\"lots\""),
        "{stderr}"
    );
    app.cleanup().await;
}
