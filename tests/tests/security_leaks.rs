//! The secret-leak search: pushes run with distinctive secrets (a Hudu API key, an IT Glue API
//! key and a Graph client secret registered in the sandbox, and wrong ones of each so the error
//! paths run too: failed sign-in, rejected keys, failed test connections, transient faults and
//! retries, a poison message), then everything the fleet wrote is searched for them: every
//! column of every table of the test's database except the sealed ciphertext (`*_sealed`),
//! every API answer, the messages of every queue of the test's prefix (the dead-letter queue
//! included), the logs and span fields at debug level, and the documents written to Hudu and
//! IT Glue. None may hold a secret; the masked form (`••••` and the last 4) must be found, to
//! show the search looked at real data.
//!
//! A second search does the same for the ConnectWise Manage keys of a PSA sync (configure,
//! test with wrong keys and right ones, sync, match-all, sync).
//!
//! The tests of this file share the process's tracing subscriber (installed once): each
//! searches the logs of the whole process.

use base64::Engine;
use docsync::fleet::{Fleet, Roles};
use docsync_e2e::{hudu_write_key, spawn_roles, TestApp, TestTenant};
use docsync_sandbox::{fixtures, Faults, ItGlueKey, ItGlueRegion, KeyScope, SandboxConfig};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HUDU_KEY: &str = "hudu-LEAKCANARY-7Qx2mZ9pR4vT8wK1";
const HUDU_WRONG: &str = "hudu-LEAKCANARY-wrong-N5bJ3cH6yF0d";
const ITGLUE_KEY: &str = "ITG.LEAKCANARY.us.4Hq8Lm2Vx7Rc9Tz5";
const ITGLUE_WRONG: &str = "ITG.LEAKCANARY.us.wrong.P3kW6nB1sD8g";
const GRAPH_SECRET: &str = "graph~LEAKCANARY~Zr5Yu1Ia9Ob3Pc7Qd";
const GRAPH_WRONG: &str = "graph~LEAKCANARY~wrong~Ee2Ff4Gg6Hh8";
/// A webhook's signing secret: never shown, not even masked.
const WEBHOOK_SECRET: &str = "whsec-LEAKCANARY-Jt4Np8Rw2Xy6Bv0Q";
const SECRETS: [&str; 6] = [
    HUDU_KEY,
    HUDU_WRONG,
    ITGLUE_KEY,
    ITGLUE_WRONG,
    GRAPH_SECRET,
    GRAPH_WRONG,
];

/// Log output of the whole test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Logs every event at debug level and above from every crate, with span fields, and every
/// span's creation and close with its fields (what an OTLP exporter would send).
/// Installed once for the whole test binary; every test gets the same capture.
fn capture_logs() -> Captured {
    use tracing_subscriber::fmt::format::FmtSpan;
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the only subscriber of this test binary");
            captured
        })
        .clone()
}

/// Everything read, by where it came from.
#[derive(Default)]
struct Corpus {
    api: Vec<String>,
    queues: Vec<String>,
}

/// Calls the API with the app's token and keeps the answer for the search.
async fn call(
    app: &TestApp,
    corpus: &mut Corpus,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, answer) = app.call(method.clone(), path, body).await;
    corpus
        .api
        .push(format!("{method} {path} → {status} {answer}"));
    (status, answer)
}

/// Reads every message of every queue of the test's prefix without taking it: the channel
/// closes unacknowledged, so each goes back. Publish partitions are single-active-consumer
/// queues, which refuse `basic.get`: they are read by a consumer of their own (the fleet's
/// publishers must be stopped, or that consumer would only stand by). Returns how many were
/// read.
async fn read_queues(app: &TestApp, corpus: &mut Corpus) -> usize {
    let broker = app.broker();
    let mut queues = vec![broker.collect_queue(), broker.dead_letter_queue()];
    queues.extend(
        app.settings
            .retry_delays
            .iter()
            .map(|d| format!("{}.delay.{}ms", app.settings.queue_prefix, d.as_millis())),
    );
    let connection = lapin::Connection::connect(
        &app.settings.amqp_url,
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("broker");
    let mut read = 0;
    for n in 0..app.settings.publish_partitions {
        let queue = broker.publish_queue(n);
        let channel = connection.create_channel().await.expect("channel");
        channel
            .basic_qos(1000, lapin::options::BasicQosOptions::default())
            .await
            .expect("qos");
        let mut consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "leak-search".into(),
                lapin::options::BasicConsumeOptions::default(),
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("consume {queue}: {e}"));
        while let Ok(Some(delivery)) =
            tokio::time::timeout(Duration::from_millis(500), consumer.next()).await
        {
            let delivery = delivery.expect("delivery");
            read += 1;
            corpus.queues.push(format!(
                "{queue}: {} {:?}",
                String::from_utf8_lossy(&delivery.data),
                delivery.properties
            ));
        }
        let _ = channel.close(200, "read".into()).await;
    }
    for queue in queues {
        let channel = connection.create_channel().await.expect("channel");
        while let Some(message) = channel
            .basic_get(
                queue.as_str().into(),
                lapin::options::BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap_or_else(|e| panic!("basic_get {queue}: {e}"))
        {
            read += 1;
            corpus.queues.push(format!(
                "{queue}: {} {:?}",
                String::from_utf8_lossy(&message.delivery.data),
                message.delivery.properties
            ));
        }
        let _ = channel.close(200, "read".into()).await;
    }
    let _ = connection.close(200, "read".into()).await;
    for letter in broker.dead_letters(1000).await.expect("dead letters") {
        corpus.queues.push(format!("{letter:?}"));
    }
    read
}

/// Every column of every table, as text, except the sealed ciphertext.
async fn database_text(app: &TestApp) -> (String, usize) {
    let (client, connection) =
        tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
            .await
            .expect("database");
    tokio::spawn(connection);
    let columns = client
        .query(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
             ORDER BY table_schema, table_name, ordinal_position",
            &[],
        )
        .await
        .expect("columns");
    let mut tables: Vec<(String, String, Vec<String>)> = Vec::new();
    for row in &columns {
        let (schema, table, column): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        if column.ends_with("_sealed") {
            continue;
        }
        match tables.last_mut() {
            Some((s, t, cols)) if *s == schema && *t == table => cols.push(column),
            _ => tables.push((schema, table, vec![column])),
        }
    }
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut text = String::new();
    let mut rows = 0;
    for (schema, table, cols) in &tables {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| format!("coalesce({}::text, '')", quote(c)))
            .collect();
        let sql = format!(
            "SELECT concat_ws(' | ', {}) FROM {}.{}",
            cells.join(", "),
            quote(schema),
            quote(table)
        );
        for row in client.query(&sql, &[]).await.expect(&sql) {
            let line: String = row.get(0);
            text.push_str(&format!("{table}: {line}\n"));
            rows += 1;
        }
    }
    (text, rows)
}

/// The forms a secret could leak in: whole, whole but for the 4 characters a mask shows,
/// form- or URL-encoded, and base64.
fn leaked_forms(secret: &str) -> Vec<String> {
    let visible_tail = secret.chars().count() - 4;
    let hidden: String = secret.chars().take(visible_tail).collect();
    let mut forms = vec![secret.to_owned(), hidden];
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    forms.push(encoded);
    forms.push(base64::engine::general_purpose::STANDARD.encode(secret));
    forms.sort();
    forms.dedup();
    forms
}

async fn wait_for_state(app: &TestApp, run: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = app.call(Method::GET, &format!("/runs/{run}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if states.iter().any(|s| body["state"] == *s) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} did not reach {states:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Puts both integrations with these bodies; their test connection must find the keys
/// valid or not as `keys_valid` says.
async fn configure_both(
    app: &TestApp,
    corpus: &mut Corpus,
    hudu: Value,
    itglue: Value,
    keys_valid: bool,
) {
    for (provider, body) in [("hudu", hudu), ("it-glue", itglue)] {
        let path = format!("/integrations/{provider}");
        let (status, answer) = call(app, corpus, Method::PUT, &path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for provider in ["hudu", "it-glue"] {
        let path = format!("/integrations/{provider}/test");
        let (status, answer) = call(app, corpus, Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["keyValid"], keys_valid, "{provider}: {answer}");
    }
}

async fn push(app: &TestApp, corpus: &mut Corpus, provider: &str, tenant: &TestTenant) -> String {
    let (status, body) = call(
        app,
        corpus,
        Method::POST,
        &format!("/integrations/{provider}/push/{}", tenant.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["runId"].as_str().expect("runId").to_owned()
}

async fn member(app: &TestApp, roles: Roles) -> Fleet {
    app.start_member(roles).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_the_database_the_api_the_queues_the_logs_or_the_documents() {
    let logs = capture_logs();
    let sandbox = SandboxConfig {
        graph_client_secret: GRAPH_SECRET.into(),
        hudu_keys: vec![(HUDU_KEY.into(), KeyScope::ReadWrite)],
        itglue_keys: vec![ItGlueKey {
            key: ITGLUE_KEY.into(),
            region: ItGlueRegion::Us,
        }],
        ..SandboxConfig::default()
    };
    let client_id = sandbox.graph_client_id.clone();
    // The API alone first: jobs wait in their queues until the collector and the publisher
    // are started, so the search sees them there.
    let app = spawn_roles(sandbox, Roles::default()).await;
    let mut corpus = Corpus::default();
    let c = &mut corpus;
    // Every finished run (failed ones too) is delivered to a webhook that refuses each
    // delivery once, so the retry path runs.
    let receiver = docsync_e2e::WebhookReceiver::start(1).await;
    let (status, body) = call(
        &app,
        c,
        Method::POST,
        "/webhooks",
        Some(json!({"url": receiver.url, "secret": WEBHOOK_SECRET})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Wrong secrets everywhere.
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        "/connections/microsoft",
        Some(json!({"clientId": client_id, "clientSecret": GRAPH_WRONG})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut tenants = Vec::new();
    for i in [0, 1] {
        let f = fixtures::tenant(i);
        let (status, body) = call(&app, c, Method::POST, "/tenants",
            Some(json!({"name": f.display_name, "primaryDomain": f.default_domain(), "microsoftTenantId": f.microsoft_tenant_id}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tenants.push(TestTenant {
            id: body["id"].as_str().expect("id").to_owned(),
            fixture: f,
        });
    }
    let mapping: serde_json::Map<String, Value> = tenants
        .iter()
        .map(|t| (t.id.clone(), json!(TestApp::company_of(t))))
        .collect();
    let hudu = |key: &str| json!({"baseUrl": app.sandbox.hudu_url, "apiKey": key, "companyIdByTenantId": mapping});
    let itglue =
        |key: &str| json!({"region": "us", "apiKey": key, "organizationIdByTenantId": mapping});
    configure_both(&app, c, hudu(HUDU_WRONG), itglue(ITGLUE_WRONG), false).await;
    // A bad key sent once more is refused with its field named, and not echoed.
    let (status, body) = call(&app, c, Method::PUT, "/integrations/hudu",
        Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": format!("{HUDU_KEY} x"), "companyIdByTenantId": {}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // 1. Collection with the wrong Graph secret fails.
    let failed_signin = [
        push(&app, c, "hudu", &tenants[0]).await,
        push(&app, c, "it-glue", &tenants[0]).await,
    ];
    let read = read_queues(&app, c).await;
    assert!(
        read >= 2,
        "the collect jobs wait in their queue ({read} read)"
    );
    let collector = member(
        &app,
        Roles {
            collector: true,
            ..Roles::default()
        },
    )
    .await;
    for run in &failed_signin {
        let run = wait_for_state(&app, run, &["failed"]).await;
        c.api.push(run.to_string());
    }

    // 2. Publishing with the wrong provider keys fails.
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        "/connections/microsoft",
        Some(json!({"clientId": client_id, "clientSecret": GRAPH_SECRET})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rejected = [
        push(&app, c, "hudu", &tenants[0]).await,
        push(&app, c, "it-glue", &tenants[0]).await,
    ];
    for run in &rejected {
        wait_for_state(&app, run, &["publishing"]).await;
    }
    let read = read_queues(&app, c).await;
    assert!(
        read >= 2,
        "the publish jobs wait in their queues ({read} read)"
    );
    let publisher = member(
        &app,
        Roles {
            publisher: true,
            ..Roles::default()
        },
    )
    .await;
    for run in &rejected {
        let run = wait_for_state(&app, run, &["failed"]).await;
        c.api.push(run.to_string());
    }

    // 3. The right keys; a transient fault retried through the delay queues, then success.
    configure_both(&app, c, hudu(HUDU_KEY), itglue(ITGLUE_KEY), true).await;
    // Every other Hudu call answers 502: the publisher retries (its error paths run).
    app.sandbox.set_faults(Faults {
        hudu_5xx_every_nth: Some(2),
        ..Faults::default()
    });
    let retried = push(&app, c, "hudu", &tenants[1]).await;
    let run = wait_for_state(&app, &retried, &["failed", "succeeded"]).await;
    c.api.push(run.to_string());
    app.sandbox.set_faults(Faults::default());
    let mut good = Vec::new();
    for provider in ["hudu", "it-glue"] {
        let (status, body) = call(
            &app,
            c,
            Method::POST,
            &format!("/integrations/{provider}/push-all"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        good.extend(
            body["runIds"]
                .as_array()
                .expect("runIds")
                .iter()
                .map(|v| v.as_str().expect("id").to_owned()),
        );
    }
    for run in &good {
        let run = wait_for_state(&app, run, &["failed", "succeeded"]).await;
        assert_eq!(run["state"], "succeeded", "{run}");
    }

    // 4. A poison message is parked in the dead-letter queue with its reason.
    app.broker()
        .enqueue_raw(
            &app.broker().collect_queue(),
            b"{\"runId\": \"poison-LEAKSEARCH\"}".to_vec(),
        )
        .await
        .expect("poison enqueued");
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.broker().dead_letters(10).await.expect("dlq").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the poison message was not parked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 5. Read everything back through the API.
    let all_runs: Vec<&String> = failed_signin
        .iter()
        .chain(&rejected)
        .chain(&good)
        .chain([&retried])
        .collect();
    for run in &all_runs {
        call(&app, c, Method::GET, &format!("/runs/{run}"), None).await;
    }
    for path in [
        "/tenants",
        "/connections/microsoft",
        "/integrations/hudu",
        "/integrations/it-glue",
        "/integrations/hudu/runs",
        "/integrations/it-glue/runs",
        "/audit",
        "/dlq",
        "/webhooks",
    ] {
        let (status, body) = call(&app, c, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    call(
        &app,
        c,
        Method::GET,
        &format!("/tenants/{}", tenants[0].id),
        None,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.accepted().len() < all_runs.len() {
        assert!(
            Instant::now() < deadline,
            "every finished run is delivered ({} of {})",
            receiver.accepted().len(),
            all_runs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector.stop().await;
    publisher.stop().await;
    let read = read_queues(&app, c).await;
    assert!(read >= 1, "the dead-letter queue holds the poison message");

    // The search.
    let (database, rows) = database_text(&app).await;
    let documents: Vec<String> = app
        .sandbox
        .hudu_articles()
        .into_iter()
        .map(|a| format!("{} {}", a.name, a.content))
        .chain(
            app.sandbox
                .itglue_assets(ITGLUE_KEY)
                .into_iter()
                .map(|a| format!("{} {:?}", a.name, a.traits)),
        )
        .chain(receiver.received().into_iter().map(|r| {
            format!(
                "{} {} {}",
                r.delivery,
                r.signature,
                String::from_utf8_lossy(&r.body)
            )
        }))
        .collect();
    let logs = logs.text();
    eprintln!(
        "searched {rows} database rows ({} bytes), {} API answers, {} queue messages, {} log lines, {} documents",
        database.len(),
        corpus.api.len(),
        corpus.queues.len(),
        logs.lines().count(),
        documents.len()
    );
    let api = corpus.api.join("\n");
    let queues = corpus.queues.join("\n");
    let documents = documents.join("\n");
    let places = [
        ("the database", &database),
        ("API answers", &api),
        ("queue messages", &queues),
        ("logs and spans", &logs),
        (
            "documents written to the providers and webhook deliveries",
            &documents,
        ),
    ];
    for secret in SECRETS.into_iter().chain([WEBHOOK_SECRET]) {
        for form in leaked_forms(secret) {
            for (place, text) in places {
                if let Some(at) = text.find(&form) {
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(200)
                        .map_or(0, |(i, _)| i);
                    let context: String = text[from..].chars().take(400).collect();
                    panic!("{place} holds the secret {secret:?} (as {form:?}): …{context}…");
                }
            }
        }
    }

    // The search looked at real data: what it read holds the masked keys, the runs, the
    // failures, the documents.
    for secret in SECRETS {
        let masked = docsync_domain::mask(secret);
        assert_eq!(masked.chars().count(), 8, "{masked}");
        assert!(api.contains(&masked), "the API answers show {masked}");
    }
    assert!(rows >= 20, "only {rows} rows read");
    for run in &all_runs {
        assert!(
            database.contains(run.as_str()),
            "the database holds run {run}"
        );
        assert!(
            documents.contains(run.as_str()),
            "a webhook delivery carried run {run}"
        );
    }
    assert!(database.contains(&tenants[0].fixture.display_name));
    assert!(
        database.contains("changed"),
        "the audit trail's secret changes"
    );
    assert!(
        queues.contains(&failed_signin[0]),
        "a collect job was read: {queues}"
    );
    assert!(
        queues.contains(&rejected[0]) || queues.contains(&rejected[1]),
        "a publish job was read"
    );
    assert!(
        queues.contains("poison-LEAKSEARCH"),
        "the dead-letter queue was read"
    );
    assert!(
        logs.lines().count() > 100,
        "{} log lines",
        logs.lines().count()
    );
    assert!(logs.contains("DEBUG"), "debug events were captured");
    assert!(
        documents.contains(&tenants[0].fixture.display_name),
        "documents were written"
    );
    app.cleanup().await;
}

const CW_PUBLIC: &str = "cwPUB-LEAKCANARY-8Tn4Vz";
const CW_PRIVATE: &str = "cwPRIV-LEAKCANARY-3Ks9Wd6Qe1";
const CW_PUBLIC_WRONG: &str = "cwPUBx-LEAKCANARY-wrong-Jm5R";
const CW_PRIVATE_WRONG: &str = "cwPRIVx-LEAKCANARY-wrong-Hx2Lb7";
const CW_SECRETS: [&str; 4] = [CW_PUBLIC, CW_PRIVATE, CW_PUBLIC_WRONG, CW_PRIVATE_WRONG];
const CW: &str = "/integrations/connectwise-manage";

/// The forms the ConnectWise keys could leak in: each key's [`leaked_forms`], and the Basic
/// credentials of a key pair (`company+public:private`) plain and base64 (the header's).
fn cw_leaked_forms(company: &str) -> Vec<(String, String)> {
    let mut forms: Vec<(String, String)> = CW_SECRETS
        .iter()
        .flat_map(|s| leaked_forms(s).into_iter().map(|f| ((*s).to_owned(), f)))
        .collect();
    for (public, private) in [(CW_PUBLIC, CW_PRIVATE), (CW_PUBLIC_WRONG, CW_PRIVATE_WRONG)] {
        let basic = format!("{company}+{public}:{private}");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&basic);
        forms.push((basic.clone(), encoded));
        forms.push((basic.clone(), basic));
    }
    forms
}

/// Panics with the context of the first form of a secret found in any place.
fn assert_no_form_in(forms: &[(String, String)], places: &[(&str, &str)]) {
    for (secret, form) in forms {
        for (place, text) in places {
            if let Some(at) = text.find(form.as_str()) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let context: String = text[from..].chars().take(400).collect();
                panic!("{place} holds the secret {secret:?} (as {form:?}): …{context}…");
            }
        }
    }
}

async fn cw_sync(app: &TestApp, corpus: &mut Corpus) -> String {
    let (status, body) = call(app, corpus, Method::POST, &format!("{CW}/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["runId"].as_str().expect("runId").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connectwise_keys_never_reach_the_api_the_database_the_queues_or_the_logs() {
    let logs = capture_logs();
    let mut sandbox = SandboxConfig::default();
    sandbox.connectwise.public_key = CW_PUBLIC.into();
    sandbox.connectwise.private_key = CW_PRIVATE.into();
    sandbox.connectwise.companies = 3;
    let cw = sandbox.connectwise.clone();
    // The API alone first: the sync's jobs wait in their queues for the search.
    let app = spawn_roles(sandbox, Roles::default()).await;
    let mut corpus = Corpus::default();
    let c = &mut corpus;
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        "/integrations/hudu",
        Some(
            json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(),
                    "companyIdByTenantId": {}, "rateLimit": {"requests": 40, "perSeconds": 1}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cw_body = |public: &str, private: &str| {
        json!({"site": app.sandbox.connectwise_url, "companyId": cw.company_id,
               "publicKey": public, "privateKey": private, "clientId": cw.client_id,
               "schedule": {"mode": "manual"}})
    };

    // 1. Wrong keys: the test connection says so in words, without echoing them; a sync
    // with them fails.
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        CW,
        Some(cw_body(CW_PUBLIC_WRONG, CW_PRIVATE_WRONG)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, test) = call(&app, c, Method::POST, &format!("{CW}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], false, "{test}");
    let message = test["message"].as_str().expect("message").to_owned();
    assert!(message.contains("publicKey"), "{test}");
    assert_no_form_in(
        &cw_leaked_forms(&cw.company_id),
        &[("the wrong-key test's message", &message)],
    );
    let refused = cw_sync(&app, c).await;
    let read = read_queues(&app, c).await;
    assert!(
        read >= 1,
        "the collect job waits in its queue ({read} read)"
    );
    let collector = member(
        &app,
        Roles {
            collector: true,
            ..Roles::default()
        },
    )
    .await;
    let run = wait_for_state(&app, &refused, &["failed", "succeeded"]).await;
    assert_eq!(run["state"], "failed", "{run}");
    c.api.push(run.to_string());
    // A bad key is refused with its field named, and not echoed.
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        CW,
        Some(cw_body(CW_PUBLIC, &format!("{CW_PRIVATE} x"))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("privateKey"), "{body}");

    // 2. The right keys; the masked view sent back keeps them.
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        CW,
        Some(cw_body(CW_PUBLIC, CW_PRIVATE)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, view) = call(&app, c, Method::GET, CW, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, body) = call(&app, c, Method::PUT, CW, Some(view)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, test) = call(&app, c, Method::POST, &format!("{CW}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], true, "{test}");

    // 3. A full sync: the company list, match-all, the records written by the publisher.
    let listed = cw_sync(&app, c).await;
    let run = wait_for_state(&app, &listed, &["failed", "succeeded"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let (status, body) = call(&app, c, Method::GET, &format!("{CW}/companies"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, counts) = call(
        &app,
        c,
        Method::POST,
        &format!("{CW}/companies/match-all"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    let written = cw_sync(&app, c).await;
    wait_for_state(&app, &written, &["publishing"]).await;
    let read = read_queues(&app, c).await;
    assert!(
        read >= 1,
        "the publish job waits in its queue ({read} read)"
    );
    let publisher = member(
        &app,
        Roles {
            publisher: true,
            ..Roles::default()
        },
    )
    .await;
    let run = wait_for_state(&app, &written, &["failed", "succeeded"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(
        !app.sandbox.hudu_assets().is_empty(),
        "the sync wrote assets: {run}"
    );
    let again = cw_sync(&app, c).await;
    let run = wait_for_state(&app, &again, &["failed", "succeeded"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");

    // 4. Read everything back through the API.
    let all_runs = [&refused, &listed, &written, &again];
    for run in all_runs {
        call(&app, c, Method::GET, &format!("/runs/{run}"), None).await;
    }
    for path in [
        CW,
        &format!("{CW}/companies"),
        &format!("{CW}/runs"),
        &format!("{CW}/runs?state=failed"),
        "/integrations/hudu",
        "/audit",
        "/dlq",
    ] {
        let (status, body) = call(&app, c, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    collector.stop().await;
    publisher.stop().await;
    read_queues(&app, c).await;

    // The search.
    let (database, rows) = database_text(&app).await;
    let logs = logs.text();
    let api = corpus.api.join("\n");
    let queues = corpus.queues.join("\n");
    eprintln!(
        "searched {rows} database rows ({} bytes), {} API answers, {} queue messages, {} log lines",
        database.len(),
        corpus.api.len(),
        corpus.queues.len(),
        logs.lines().count()
    );
    assert_no_form_in(
        &cw_leaked_forms(&cw.company_id),
        &[
            ("the database", &database),
            ("API answers", &api),
            ("queue messages", &queues),
            ("logs and spans", &logs),
        ],
    );

    // The search looked at real data.
    for key in [CW_PUBLIC, CW_PRIVATE, CW_PUBLIC_WRONG, CW_PRIVATE_WRONG] {
        let masked = docsync_domain::mask(key);
        assert_eq!(masked.chars().count(), 8, "{masked}");
        assert!(api.contains(&masked), "the API answers show {masked}");
    }
    for run in all_runs {
        assert!(
            database.contains(run.as_str()),
            "the database holds run {run}"
        );
        assert!(api.contains(run.as_str()), "the API showed run {run}");
    }
    assert!(
        database.contains("changed"),
        "the audit trail's key changes"
    );
    let company_name = app.sandbox.cw_records(docsync_sandbox::CwEntity::Company)[0]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    assert!(
        database.contains(&company_name),
        "the company list and payloads"
    );
    assert!(
        queues.contains(&refused),
        "a collect job was read: {queues}"
    );
    assert!(
        queues.contains(&written),
        "a publish job was read: {queues}"
    );
    assert!(
        logs.contains("sync failed") && logs.contains("sync published"),
        "the sync's own log lines were captured"
    );
    app.cleanup().await;
}

const HALO_SECRET: &str = "haloSECRET-LEAKCANARY-7Qw2Ze9Rt4Yu";
const HALO_WRONG: &str = "haloSECRET-LEAKCANARY-wrong-Bn5Mk8";
const AT_SECRET: &str = "atSECRET-LEAKCANARY-5Jd8Kf2L";
const AT_CODE: &str = "ATCODE-LEAKCANARY-1Vx6Pn3Qs";
const AT_CODE_WRONG: &str = "ATCODE-LEAKCANARY-wrong-9Tg4";

/// The HaloPSA client secret and the Autotask secret and tracking identifier, right and wrong:
/// the wrong ones run the error paths (a refused token; Autotask answering a bad tracking
/// identifier with an error that echoes it), then syncs run with the right ones, and the
/// database, every API answer and the logs are searched for every form of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn halo_and_autotask_secrets_never_reach_the_api_the_database_or_the_logs() {
    let logs = capture_logs();
    let mut sandbox = SandboxConfig::default();
    sandbox.halo.client_secret = HALO_SECRET.into();
    sandbox.halo.rate_limit = Some((200, 10));
    sandbox.halo.clients = 2;
    sandbox.autotask.secret = AT_SECRET.into();
    sandbox.autotask.integration_code = AT_CODE.into();
    sandbox.autotask.companies = 2;
    let (halo, at) = (sandbox.halo.clone(), sandbox.autotask.clone());
    let app = docsync_e2e::spawn_with(sandbox).await;
    let mut corpus = Corpus::default();
    let c = &mut corpus;
    let (status, body) = call(
        &app,
        c,
        Method::PUT,
        "/integrations/hudu",
        Some(
            json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(),
                    "companyIdByTenantId": {}, "rateLimit": {"requests": 40, "perSeconds": 1}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let halo_body = |secret: &str| {
        json!({"resourceServer": app.sandbox.halo_api_url(), "tenant": halo.tenant, "clientId": halo.client_id,
               "clientSecret": secret, "schedule": {"mode": "manual"}, "rateLimit": {"requests": 15, "perSeconds": 1},
               "knowledgeBase": {"enabled": true}})
    };
    let at_body = |code: &str| {
        json!({"username": at.username, "secret": AT_SECRET, "integrationCode": code,
               "schedule": {"mode": "manual"}, "rateLimit": {"requests": 40, "perSeconds": 1}})
    };
    let mut runs = Vec::new();
    for (psa, wrong, right) in [
        ("halopsa", halo_body(HALO_WRONG), halo_body(HALO_SECRET)),
        ("autotask", at_body(AT_CODE_WRONG), at_body(AT_CODE)),
    ] {
        let route = format!("/integrations/{psa}");
        // Wrong: the test explains it, a sync fails, and neither echoes the secret.
        let (status, body) = call(&app, c, Method::PUT, &route, Some(wrong)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, test) = call(&app, c, Method::POST, &format!("{route}/test"), None).await;
        assert_eq!(status, StatusCode::OK, "{test}");
        assert_eq!(test["credentialsValid"], false, "{psa}: {test}");
        let (status, body) = call(&app, c, Method::POST, &format!("{route}/sync"), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let failed = body["runId"].as_str().expect("runId").to_owned();
        let run = wait_for_state(&app, &failed, &["failed", "succeeded"]).await;
        assert_eq!(run["state"], "failed", "{psa}: {run}");
        c.api.push(run.to_string());
        runs.push(failed);
        // Right, and the masked view PUT back keeps it: list, match all, sync.
        let (status, body) = call(&app, c, Method::PUT, &route, Some(right)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, view) = call(&app, c, Method::GET, &route, None).await;
        let (status, body) = call(&app, c, Method::PUT, &route, Some(view)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for step in ["sync", "companies/match-all", "sync"] {
            let (status, body) =
                call(&app, c, Method::POST, &format!("{route}/{step}"), None).await;
            assert!(status.is_success(), "{psa} {step}: {body}");
            if let Some(id) = body["runId"].as_str() {
                let run = wait_for_state(&app, id, &["failed", "succeeded"]).await;
                assert_eq!(run["state"], "succeeded", "{psa}: {run}");
                c.api.push(run.to_string());
                runs.push(id.to_owned());
            }
        }
        for path in [
            route.clone(),
            format!("{route}/companies"),
            format!("{route}/runs"),
        ] {
            let (status, body) = call(&app, c, Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    for run in &runs {
        call(&app, c, Method::GET, &format!("/runs/{run}"), None).await;
    }
    call(&app, c, Method::GET, "/audit", None).await;
    assert!(!app.sandbox.halo_kb_articles().is_empty());

    let (database, rows) = database_text(&app).await;
    let logs = logs.text();
    let api = corpus.api.join("\n");
    eprintln!(
        "searched {rows} database rows, {} API answers, {} log lines",
        corpus.api.len(),
        logs.lines().count()
    );
    let forms: Vec<(String, String)> = [HALO_SECRET, HALO_WRONG, AT_SECRET, AT_CODE, AT_CODE_WRONG]
        .iter()
        .flat_map(|s| leaked_forms(s).into_iter().map(|f| ((*s).to_owned(), f)))
        .collect();
    assert_no_form_in(
        &forms,
        &[
            ("the database", &database),
            ("API answers", &api),
            ("logs and spans", &logs),
        ],
    );
    // The search looked at real data: the masks, the runs, and the provider's own words.
    for secret in [HALO_SECRET, AT_SECRET, AT_CODE] {
        assert!(
            api.contains(&docsync_domain::mask(secret)),
            "the API shows the mask of {secret}"
        );
    }
    for run in &runs {
        assert!(
            database.contains(run.as_str()),
            "the database holds run {run}"
        );
    }
    assert!(
        database.contains("tracking identifier") || database.contains("integrationCode"),
        "the refused Autotask sync says why"
    );
    app.cleanup().await;
}
