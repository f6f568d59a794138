//! One push is one trace: the API, a collector and a publisher run as separate `docsync`
//! processes exporting OTLP/HTTP (JSON) to a receiver in this test; a push-now through that
//! API gives spans from docsync-api, docsync-collector and docsync-publisher that share one
//! trace id and connect parent to child (the trace context travels in the AMQP headers), down
//! to the provider requests.

use docsync::fleet::Roles;
use docsync_e2e::spawn_roles;
use docsync_sandbox::SandboxConfig;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
}

/// An OTLP/HTTP JSON receiver on a free port: every span posted to `/v1/traces`.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let store = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut got = Vec::new();
                for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                    let service = rs["resource"]["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|a| a["key"] == "service.name")
                        .and_then(|a| a["value"]["stringValue"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        for s in ss["spans"].as_array().into_iter().flatten() {
                            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                            got.push(Received {
                                service: service.clone(),
                                name: text("name"),
                                trace: text("traceId"),
                                id: text("spanId"),
                                parent: text("parentSpanId"),
                            });
                        }
                    }
                }
                store.lock().unwrap_or_else(|p| p.into_inner()).extend(got);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, spans)
}

fn role(env: &[(String, String)], role: &str, log: &std::path::Path) -> Child {
    let file = std::fs::File::create(log.join(format!("{role}.log"))).expect("a log file");
    Command::new(env!("CARGO_BIN_EXE_docsync"))
        .arg(role)
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("the docsync binary starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_now_is_one_trace_from_the_api_through_both_queues_to_the_provider_writes() {
    let (otlp, spans) = receiver().await;
    // The in-process API only prepares the account; the push goes through the child API.
    let app = spawn_roles(
        SandboxConfig::default(),
        Roles {
            api: true,
            ..Roles::default()
        },
    )
    .await;
    let tenants = app.setup_hudu(&[0]).await;
    let api_addr = format!("127.0.0.1:{}", free_port());
    let mut env = app.child_env();
    env.extend([
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), otlp.clone()),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
            "http/json".to_owned(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
        ("DOCSYNC_API_ADDR".to_owned(), api_addr.clone()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    let logs = std::env::temp_dir().join(format!("docsync-traces-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&logs).expect("a log directory");
    let _children: Vec<Child> = ["api", "collector", "publisher"]
        .iter()
        .map(|r| role(&env, r, &logs))
        .collect();
    let api = format!("http://{api_addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app
        .http
        .get(format!("{api}/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the child API did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = app
        .http
        .post(format!("{api}/integrations/hudu/push/{}", tenants[0].id))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("push now");
    assert_eq!(answer.status(), reqwest::StatusCode::ACCEPTED);
    let body: Value = answer.json().await.expect("json");
    let run_id = body["runId"].as_str().expect("runId").to_owned();
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");

    // Wait for the three services' spans of one trace.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (trace, of_trace) = loop {
        let all = spans.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let publish = all
            .iter()
            .find(|s| s.service == "docsync-publisher" && s.name == "publish");
        if let Some(publish) = publish {
            let of_trace: Vec<Received> = all
                .iter()
                .filter(|s| s.trace == publish.trace)
                .cloned()
                .collect();
            let services: HashSet<&str> = of_trace.iter().map(|s| s.service.as_str()).collect();
            let writes = of_trace
                .iter()
                .any(|s| s.service == "docsync-publisher" && s.name == "provider_request");
            if services.len() == 3 && writes {
                break (publish.trace.clone(), of_trace);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no trace with spans of all three services: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("trace {trace}: {} spans", of_trace.len());
    let by_id: HashMap<&str, &Received> = of_trace.iter().map(|s| (s.id.as_str(), s)).collect();
    let roots: Vec<&Received> = of_trace.iter().filter(|s| s.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(
        roots[0].service, "docsync-api",
        "the trace starts at the API request"
    );
    for s in &of_trace {
        if !s.parent.is_empty() {
            assert!(
                by_id.contains_key(s.parent.as_str()),
                "{} ({}) hangs off a span outside the trace: {of_trace:#?}",
                s.name,
                s.service
            );
        }
    }
    // Parent to child across the processes: the collect job under the API request, the
    // publish job under the collect job.
    let parent_service = |name: &str, service: &str| -> String {
        let s = of_trace
            .iter()
            .find(|s| s.name == name && s.service == service)
            .unwrap_or_else(|| panic!("no {name} span of {service}"));
        by_id[s.parent.as_str()].service.clone()
    };
    assert_eq!(
        parent_service("collect", "docsync-collector"),
        "docsync-api"
    );
    assert_eq!(
        parent_service("publish", "docsync-publisher"),
        "docsync-collector"
    );
    // The log lines name the trace.
    let publisher_log = std::fs::read_to_string(logs.join("publisher.log")).unwrap_or_default();
    assert!(
        publisher_log
            .lines()
            .any(|l| l.contains("published") && l.contains(&format!("trace_id={trace}"))),
        "the publisher's log line names the trace {trace}:\n{publisher_log}"
    );
    let _ = std::fs::remove_dir_all(&logs);
    app.cleanup().await;
}
