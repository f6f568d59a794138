//! kill -9 at the worst moments, with the real `docsync` binary as a child process: the
//! publisher after the provider wrote the document but before it was recorded and the message
//! acknowledged, the collector in the middle of a run. After a restart: one document, the run
//! succeeded. And a role started before RabbitMQ answers waits for it instead of exiting.

use docsync::fleet::Roles;
use docsync_e2e::{spawn_roles, TestApp};
use docsync_sandbox::SandboxConfig;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn docsync(app: &TestApp, role: &str, failpoint: Option<&str>) -> Child {
    docsync_with(app.child_env(), role, failpoint)
}

fn docsync_with(env: Vec<(String, String)>, role: &str, failpoint: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docsync"));
    command
        .arg(role)
        .envs(env)
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if let Some(point) = failpoint {
        command.env("DOCSYNC_FAILPOINT", point);
    }
    command.spawn().expect("the docsync binary starts")
}

/// Waits for a child that is meant to crash at its failpoint; true when it died abnormally.
async fn crashed(mut child: Child) -> bool {
    match tokio::time::timeout(Duration::from_secs(90), child.wait()).await {
        Ok(Ok(status)) => !status.success(),
        _ => {
            let _ = child.kill().await;
            false
        }
    }
}

/// A test fleet running `roles` in this process (the API always): the role under test runs
/// as a child process beside it.
async fn in_process(roles: Roles) -> TestApp {
    spawn_roles(SandboxConfig::default(), roles).await
}

async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_killed_between_the_provider_write_and_the_ack_leaves_one_article() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    let tenants = app.setup_hudu(&[7]).await;
    let publisher = docsync(&app, "publisher", Some("publisher-after-provider-write"));
    let run_id = app.push(&tenants[0]).await;
    assert!(
        crashed(publisher).await,
        "the publisher should have died at its failpoint"
    );
    // The article was written, the run not finished.
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    let publisher = docsync(&app, "publisher", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let articles = app.articles_in(TestApp::company_of(&tenants[0]));
    assert_eq!(articles.len(), 1, "the redelivered job adopted the article");
    assert_eq!(run["remoteId"], articles[0].id.to_string());
    assert_eq!(articles[0].versions, 2, "written, then updated in place");
    stop(publisher).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_killed_mid_run_is_replaced_and_the_run_completes() {
    let app = in_process(Roles {
        publisher: true,
        ..Roles::default()
    })
    .await;
    let tenants = app.setup_hudu(&[8]).await;
    let collector = docsync(&app, "collector", Some("collector-mid-run"));
    let run_id = app.push(&tenants[0]).await;
    assert!(
        crashed(collector).await,
        "the collector should have died at its failpoint"
    );
    let (_, run) = app
        .call(reqwest::Method::GET, &format!("/runs/{run_id}"), None)
        .await;
    assert_eq!(run["state"], "collecting", "{run}");
    let collector = docsync(&app, "collector", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    stop(collector).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_publishes_and_leaves_the_rest_for_the_next_publisher() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    let tenants = app.setup_hudu(&(10..22).collect::<Vec<_>>()).await;
    // A slow key: 2 requests a second, so most pushes are still waiting at SIGTERM.
    let mapping: serde_json::Map<String, serde_json::Value> = tenants
        .iter()
        .map(|t| (t.id.clone(), serde_json::json!(TestApp::company_of(t))))
        .collect();
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/integrations/hudu",
            Some(
                serde_json::json!({"baseUrl": app.sandbox.hudu_url, "companyIdByTenantId": mapping,
                                     "rateLimit": {"requests": 2, "perSeconds": 1}}),
            ),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let first = docsync(&app, "publisher", None);
    let runs = app.push_all("hudu").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pid = first.id().expect("pid");
    let started = std::time::Instant::now();
    let mut first = first;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await;
    let status = tokio::time::timeout(Duration::from_secs(45), first.wait())
        .await
        .expect("the publisher stops within its drain deadline")
        .expect("exit status");
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(40));
    let second = docsync(&app, "publisher", None);
    let done = app.wait_for_runs(&runs, Duration::from_secs(120)).await;
    assert!(done.iter().all(|r| r["state"] == "succeeded"), "{done:?}");
    for t in &tenants {
        assert_eq!(app.articles_in(TestApp::company_of(t)).len(), 1);
    }
    stop(second).await;
    app.cleanup().await;
}

/// Forwards every connection to `listener` to `target`, until the test ends.
fn forward(listener: tokio::net::TcpListener, target: String) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_started_before_rabbitmq_answers_waits_for_it_and_then_publishes() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    let tenants = app.setup_hudu(&[9]).await;
    // A port where nothing listens yet: the publisher's RabbitMQ.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut rabbitmq = String::new();
    let env: Vec<(String, String)> = app
        .child_env()
        .into_iter()
        .map(|(name, value)| {
            if name != "DOCSYNC_AMQP_URL" {
                return (name, value);
            }
            let mut url = reqwest::Url::parse(&value).expect("DOCSYNC_AMQP_URL");
            rabbitmq = format!(
                "{}:{}",
                url.host_str().unwrap_or("127.0.0.1"),
                url.port().unwrap_or(5672)
            );
            url.set_host(Some("127.0.0.1")).expect("host");
            url.set_port(Some(port)).expect("port");
            (name, url.to_string())
        })
        .collect();
    let mut publisher = docsync_with(env, "publisher", None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        publisher.try_wait().expect("child status").is_none(),
        "the publisher must wait for RabbitMQ, not exit"
    );
    // RabbitMQ comes up (behind a forwarder on that port).
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port again");
    forward(listener, rabbitmq);
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    stop(publisher).await;
    app.cleanup().await;
}
