//! kill -9 at the worst moments, with the real `docsync` binary as a child process: the
//! publisher after the provider wrote the document but before it was recorded and the message
//! acknowledged, the collector in the middle of a run. After a restart: one document, the run
//! succeeded; a collect job whose collector dies every time is parked after the delivery
//! limit, its run failing saying so. And a role started before RabbitMQ answers waits for it
//! instead of exiting.
//! The same for a PSA sync: a publisher dying right after it created a Hudu company or asset,
//! or killed in the middle of a company's configurations, leaves each record in Hudu once.

use docsync::fleet::Roles;
use docsync_e2e::{hudu_write_key, spawn_adjusted, spawn_roles, TestApp};
use docsync_sandbox::{CwEntity, HuduAsset, SandboxConfig};
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};
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

/// Runs of `ids` in state `state` now.
async fn count_in(app: &TestApp, ids: &[String], state: &str) -> usize {
    let (_, body) = app
        .call(
            reqwest::Method::GET,
            &format!("/runs?ids={}", ids.join(",")),
            None,
        )
        .await;
    body["runs"]
        .as_array()
        .map(|runs| runs.iter().filter(|r| r["state"] == state).count())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_asked_to_stop_starts_nothing_new_and_another_finishes_the_rest() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    let indices: Vec<usize> = (0..12).collect();
    let tenants = app.setup_hudu(&indices).await;
    // A slow Hudu: each push takes seconds, so most deliveries wait for their key's turn.
    app.sandbox.set_faults(docsync_sandbox::Faults {
        hudu_latency_ms: 1500,
        ..Default::default()
    });
    let publisher = docsync(&app, "publisher", None);
    let runs = app.push_all("hudu").await;
    assert_eq!(runs.len(), 12);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.sandbox.hudu_stats().requests == 0 {
        assert!(Instant::now() < deadline, "the publisher never called Hudu");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM while at most 3 pushes of the key are under way (the per-key limit).
    let done_before = count_in(&app, &runs, "succeeded").await;
    let asked = Instant::now();
    let pid = publisher.id().expect("running");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await;
    // What the publisher had started by then (arrivals are counted before the latency).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started_by_then = app.sandbox.hudu_stats().arrivals;
    stop(publisher).await;
    let drained_in = asked.elapsed();
    assert_eq!(
        app.sandbox.hudu_stats().arrivals,
        started_by_then,
        "no Hudu request started after SIGTERM"
    );
    let done_at_exit = count_in(&app, &runs, "succeeded").await;
    assert!(
        done_at_exit <= done_before + 3,
        "after SIGTERM only the pushes under way finished: {done_before} before, {done_at_exit} at exit"
    );
    assert!(
        done_at_exit < runs.len(),
        "the stopping publisher left work for another ({done_at_exit} done in {drained_in:?})"
    );
    // Another publisher finishes the rest, each document once.
    app.sandbox.set_faults(docsync_sandbox::Faults::default());
    let other = docsync(&app, "publisher", None);
    let finished = app.wait_for_runs(&runs, Duration::from_secs(120)).await;
    for run in &finished {
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    for t in &tenants {
        assert_eq!(app.articles_in(TestApp::company_of(t)).len(), 1, "{}", t.id);
    }
    stop(other).await;
    app.cleanup().await;
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
async fn a_collect_job_whose_collector_dies_every_time_is_parked_after_the_delivery_limit() {
    const LIMIT: u32 = 3;
    let app = spawn_adjusted(
        SandboxConfig::default(),
        Roles {
            api: true,
            publisher: true,
            ..Roles::default()
        },
        |s| s.delivery_limit = LIMIT,
    )
    .await;
    let tenants = app.setup_hudu(&[8]).await;
    let run_id = app.push(&tenants[0]).await;
    // Every collector dies in the middle of the run: its delivery goes back to the queue
    // when the connection drops, and the broker delivers it to the next collector.
    for n in 0..LIMIT {
        let collector = docsync(&app, "collector", Some("collector-mid-run"));
        assert!(
            crashed(collector).await,
            "collector {n} should have died at its failpoint"
        );
    }
    // The next one (the same failpoint armed) gets the delivery after the limit: it parks
    // the job instead of running it, and the run fails saying where and after how many.
    let collector = docsync(&app, "collector", Some("collector-mid-run"));
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "failed", "{run}");
    let broker = app.broker();
    let expected = format!(
        "{} {} after {LIMIT} deliveries",
        docsync_queue::worker::PARKED,
        broker.dead_letter_queue()
    );
    assert!(
        run["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&expected),
        "{run}"
    );
    assert_eq!(
        run["attempts"], LIMIT,
        "one attempt per collector that died: {run}"
    );
    let letters = broker.dead_letters(10).await.expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].origin, broker.collect_queue());
    assert!(letters[0].body.contains(&run_id), "{letters:?}");
    assert_eq!(
        broker
            .ready_count(&broker.collect_queue())
            .await
            .expect("count"),
        0
    );
    assert!(app.articles_in(TestApp::company_of(&tenants[0])).is_empty());
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

const CW: &str = "/integrations/connectwise-manage";

/// Hudu (the sandbox's write key, docsync's budget `per_second`) and ConnectWise (the sandbox's
/// member, manual schedule, and the options in `extra`) for a PSA sync.
async fn configure_psa_sync(app: &TestApp, per_second: u32, extra: serde_json::Value) {
    let (status, view) = app
        .call(
            reqwest::Method::PUT,
            "/integrations/hudu",
            Some(
                serde_json::json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(), "companyIdByTenantId": {},
                                   "rateLimit": {"requests": per_second, "perSeconds": 1}}),
            ),
        )
        .await;
    assert!(status.is_success(), "{view}");
    let d = SandboxConfig::default().connectwise;
    let mut body = serde_json::json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id,
                                      "publicKey": d.public_key, "privateKey": d.private_key,
                                      "clientId": d.client_id, "schedule": {"mode": "manual"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, view) = app.call(reqwest::Method::PUT, CW, Some(body)).await;
    assert!(status.is_success(), "{view}");
}

/// Starts a sync; returns its run id.
async fn start_sync(app: &TestApp) -> String {
    let (status, body) = app
        .call(reqwest::Method::POST, &format!("{CW}/sync"), None)
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    body["runId"].as_str().expect("runId").to_owned()
}

/// A first sync with nothing matched (the in-process collector finishes it alone) fills the
/// company list. Then the companies with a suggested Hudu company get `suggested` ("match"
/// it, or "ignore"), the others `unsuggested` ("create", "ignore"); returns the ConnectWise
/// ids of the companies the next sync writes.
async fn match_companies(app: &TestApp, suggested: &str, unsuggested: &str) -> Vec<u64> {
    let run = app.wait_for_run(&start_sync(app).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let (status, list) = app
        .call(reqwest::Method::GET, &format!("{CW}/companies"), None)
        .await;
    assert!(status.is_success(), "{list}");
    let mut chosen = Vec::new();
    let matches: Vec<serde_json::Value> = list["companies"]
        .as_array()
        .expect("companies")
        .iter()
        .map(|c| {
            let psa_id = c["psaId"].as_u64().expect("psaId");
            match c["match"]["suggestedCompanyId"].as_u64() {
                Some(company) if suggested == "match" => {
                    chosen.push(psa_id);
                    serde_json::json!({"psaId": psa_id, "action": "match", "companyId": company})
                }
                Some(_) => serde_json::json!({"psaId": psa_id, "action": suggested}),
                None => {
                    if unsuggested != "ignore" {
                        chosen.push(psa_id);
                    }
                    serde_json::json!({"psaId": psa_id, "action": unsuggested})
                }
            }
        })
        .collect();
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("{CW}/companies"),
            Some(serde_json::json!({ "matches": matches })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    chosen
}

/// The assets a crash must never leave behind: two of one company, layout and name.
fn duplicated(assets: &[HuduAsset]) -> Vec<(u64, u64, String)> {
    let mut seen: HashMap<(u64, u64, String), usize> = HashMap::new();
    for a in assets {
        *seen
            .entry((a.company_id, a.asset_layout_id, a.name.clone()))
            .or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(key, _)| key)
        .collect()
}

/// The names of the configurations ConnectWise lists for `companies`.
fn configuration_names(app: &TestApp, companies: &[u64]) -> HashSet<String> {
    app.sandbox
        .cw_records(CwEntity::Configuration)
        .iter()
        .filter(|c| {
            c["company"]["id"]
                .as_u64()
                .is_some_and(|id| companies.contains(&id))
        })
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

/// Synced records per ConnectWise company of the default sandbox: contacts, configurations,
/// the active agreement and sites.
fn records_per_company() -> usize {
    let cw = SandboxConfig::default().connectwise;
    cw.contacts_per_company + cw.configurations_per_company + 1 + cw.sites_per_company
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_publisher_crashing_after_creating_a_company_is_replaced_and_nothing_is_duplicated()
{
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    configure_psa_sync(&app, 40, serde_json::json!({})).await;
    // Only the companies Hudu has no namesake of, each to be created: the first write of the
    // sync is a company create, whichever company comes first.
    let created = match_companies(&app, "ignore", "create").await;
    assert_eq!(created.len(), 3, "{created:?}");
    let companies_before = app.sandbox.hudu_companies().len();
    let publisher = docsync(&app, "publisher", Some("publisher-after-provider-write"));
    let run_id = start_sync(&app).await;
    assert!(
        crashed(publisher).await,
        "the publisher should have died at its failpoint"
    );
    // Hudu created the company (and any other company create the write window had in
    // flight when the first answer came back); docsync holds only their pending records.
    let interrupted = app.sandbox.hudu_companies().len() - companies_before;
    assert!(
        (1..=created.len()).contains(&interrupted),
        "{interrupted} interrupted company creates"
    );
    assert!(app.sandbox.hudu_assets().is_empty());
    let publisher = docsync(&app, "publisher", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let hudu_companies = app.sandbox.hudu_companies();
    assert_eq!(
        hudu_companies.len(),
        companies_before + created.len(),
        "the interrupted create was adopted by name: {run}"
    );
    let cw_companies = app.sandbox.cw_records(CwEntity::Company);
    let mut hudu_ids = Vec::new();
    for psa_id in &created {
        let name = cw_companies
            .iter()
            .find(|c| c["id"].as_u64() == Some(*psa_id))
            .and_then(|c| c["name"].as_str())
            .expect("the ConnectWise company");
        let named: Vec<u64> = hudu_companies
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.id)
            .collect();
        assert_eq!(named.len(), 1, "one Hudu company named {name}");
        hudu_ids.push(named[0]);
    }
    let assets = app.sandbox.hudu_assets();
    assert_eq!(
        assets.len(),
        created.len() * records_per_company(),
        "one asset per record: {run}"
    );
    for id in &hudu_ids {
        assert_eq!(
            assets.iter().filter(|a| a.company_id == *id).count(),
            records_per_company(),
            "company {id}"
        );
    }
    assert_eq!(duplicated(&assets), Vec::new());
    let names: HashSet<String> = assets.iter().map(|a| a.name.clone()).collect();
    assert!(names.is_superset(&configuration_names(&app, &created)));
    assert_eq!(
        run["counts"]["created"].as_u64(),
        Some((assets.len() + created.len()) as u64),
        "{run}"
    );
    assert_eq!(run["counts"]["failed"], 0, "{run}");
    stop(publisher).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_publisher_crashing_after_creating_an_asset_is_replaced_and_nothing_is_duplicated() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    // Matched companies keep their details: the first write of the sync is an asset create.
    configure_psa_sync(&app, 40, serde_json::json!({"updateCompanyDetails": false})).await;
    let matched = match_companies(&app, "match", "ignore").await;
    assert_eq!(matched.len(), 3, "{matched:?}");
    let companies_before = app.sandbox.hudu_companies().len();
    let publisher = docsync(&app, "publisher", Some("publisher-after-provider-write"));
    let run_id = start_sync(&app).await;
    assert!(
        crashed(publisher).await,
        "the publisher should have died at its failpoint"
    );
    // Hudu created the asset (and any other the write window had in flight when the first
    // answer came back); docsync holds only their pending records.
    let interrupted = app.sandbox.hudu_assets().len();
    assert!(
        interrupted >= 1,
        "the asset create that crashed the publisher"
    );
    assert!(
        interrupted < matched.len() * records_per_company(),
        "the crash came before the sync was done: {interrupted} assets"
    );
    let publisher = docsync(&app, "publisher", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(
        assets.len(),
        matched.len() * records_per_company(),
        "one asset per record, the interrupted create adopted: {run}"
    );
    assert_eq!(duplicated(&assets), Vec::new());
    let names: HashSet<String> = assets.iter().map(|a| a.name.clone()).collect();
    assert!(names.is_superset(&configuration_names(&app, &matched)));
    assert_eq!(
        app.sandbox.hudu_companies().len(),
        companies_before,
        "no company created"
    );
    assert_eq!(
        run["counts"]["created"].as_u64(),
        Some(assets.len() as u64),
        "{run}"
    );
    assert_eq!(run["counts"]["failed"], 0, "{run}");
    stop(publisher).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_publisher_killed_mid_company_is_replaced_and_every_configuration_lands_once() {
    let mut config = SandboxConfig::default();
    config.connectwise.companies = 1;
    config.hudu_rate_limit = None;
    let configurations = 300;
    let app = spawn_roles(
        config,
        Roles {
            collector: true,
            ..Roles::default()
        },
    )
    .await;
    // 50 writes a second: the company's 300 configurations take about six seconds.
    configure_psa_sync(
        &app,
        50,
        serde_json::json!({"skip": {"contacts": true, "agreements": true, "sites": true}}),
    )
    .await;
    let matched = match_companies(&app, "match", "create").await;
    assert_eq!(matched, vec![250]);
    let defaults = SandboxConfig::default().connectwise;
    app.sandbox
        .cw_add_configurations(250, configurations - defaults.configurations_per_company);
    let companies_before = app.sandbox.hudu_companies().len();
    let mut first = docsync(&app, "publisher", None);
    let run_id = start_sync(&app).await;
    // kill -9 once some, not all, of the assets exist.
    let deadline = Instant::now() + Duration::from_secs(90);
    while app.sandbox.hudu_assets().len() < configurations / 4 {
        assert!(Instant::now() < deadline, "the sync did not start writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await.expect("SIGKILL the publisher");
    let written = app.sandbox.hudu_assets().len();
    assert!(
        written < configurations,
        "the kill came mid-sync: {written} of {configurations} written"
    );
    let (_, run) = app
        .call(reqwest::Method::GET, &format!("/runs/{run_id}"), None)
        .await;
    assert_eq!(run["state"], "publishing", "{run}");
    let second = docsync(&app, "publisher", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    println!("killed with {written} of {configurations} assets written: {run}");
    assert_eq!(
        assets.len(),
        configurations,
        "one asset per configuration: {run}"
    );
    assert_eq!(duplicated(&assets), Vec::new());
    let names: HashSet<String> = assets.iter().map(|a| a.name.clone()).collect();
    assert_eq!(names, configuration_names(&app, &matched));
    assert_eq!(app.sandbox.hudu_companies().len(), companies_before);
    assert_eq!(
        run["counts"]["created"].as_u64(),
        Some(configurations as u64),
        "{run}"
    );
    assert_eq!(run["counts"]["failed"], 0, "{run}");
    stop(second).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_collector_killed_mid_reads_is_replaced_and_reads_only_what_was_left() {
    // The publisher runs in this process and starts on the first companies while the
    // collector (a child) reads the rest; the collector dies once three companies are stored.
    let mut config = SandboxConfig::default();
    config.connectwise.companies = 10;
    config.hudu_rate_limit = None;
    let app = spawn_roles(
        config,
        Roles {
            publisher: true,
            ..Roles::default()
        },
    )
    .await;
    configure_psa_sync(&app, 40, serde_json::json!({})).await;
    // The listing sync reads no company, so it passes the failpoint.
    let mut collector = docsync(&app, "collector", Some("collector-mid-reads"));
    let matched = match_companies(&app, "match", "create").await;
    assert_eq!(matched.len(), 10);
    let run_id = start_sync(&app).await;
    assert!(
        crashed(collector).await,
        "the collector should have died at its failpoint"
    );
    let cw_requests = app.sandbox.cw_stats().requests;
    collector = docsync(&app, "collector", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    println!("{} assets: {run}", assets.len());
    assert_eq!(duplicated(&assets), Vec::new());
    assert_eq!(
        assets.len(),
        matched.len() * records_per_company(),
        "every record of every company once: {run}"
    );
    let names: HashSet<String> = assets.iter().map(|a| a.name.clone()).collect();
    assert!(
        configuration_names(&app, &matched).is_subset(&names),
        "{run}"
    );
    let left = run["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|e| {
            e["detail"]
                .as_str()
                .filter(|d| d.ends_with("companies left to read"))
        })
        .unwrap_or_else(|| panic!("the second collector says what it read: {run}"))
        .to_owned();
    let left_count: usize = left
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(
        (1..=7).contains(&left_count),
        "the three stored companies are not read again: {left}"
    );
    // The company list once more, and each company left at most once per kind read.
    let second_requests = app.sandbox.cw_stats().requests - cw_requests;
    assert!(
        second_requests <= 3 + 5 * left_count as u64,
        "{second_requests} ConnectWise requests to read {left_count} companies"
    );
    stop(collector).await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_company_create_is_recovered_as_the_new_company_not_an_older_namesake() {
    let app = in_process(Roles {
        collector: true,
        ..Roles::default()
    })
    .await;
    // Two Hudu companies already share the name: no suggestion, so the company is created.
    let older = [
        app.sandbox.create_hudu_company("Dup Co"),
        app.sandbox.create_hudu_company("Dup Co"),
    ];
    assert!(app.sandbox.cw_update(
        CwEntity::Company,
        251,
        serde_json::json!({"name": "Dup Co"})
    ));
    configure_psa_sync(&app, 40, serde_json::json!({})).await;
    let run = app.wait_for_run(&start_sync(&app).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let (_, list) = app
        .call(reqwest::Method::GET, &format!("{CW}/companies"), None)
        .await;
    let matches: Vec<serde_json::Value> = list["companies"]
        .as_array()
        .expect("companies")
        .iter()
        .map(|c| {
            let action = if c["psaId"] == 251 {
                "create"
            } else {
                "ignore"
            };
            serde_json::json!({"psaId": c["psaId"], "action": action})
        })
        .collect();
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("{CW}/companies"),
            Some(serde_json::json!({ "matches": matches })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let publisher = docsync(&app, "publisher", Some("publisher-after-provider-write"));
    let run_id = start_sync(&app).await;
    assert!(
        crashed(publisher).await,
        "the publisher should have died at its failpoint"
    );
    let new = app
        .sandbox
        .hudu_companies()
        .into_iter()
        .filter(|c| c.name == "Dup Co")
        .map(|c| c.id)
        .max()
        .expect("the company created before the crash");
    assert!(!older.contains(&new));
    let publisher = docsync(&app, "publisher", None);
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(assets.len(), records_per_company(), "{run}");
    assert!(
        assets.iter().all(|a| a.company_id == new),
        "the records went into the company docsync created, not an older namesake"
    );
    assert_eq!(
        app.sandbox
            .hudu_companies()
            .iter()
            .filter(|c| c.name == "Dup Co")
            .count(),
        3,
        "no fourth company"
    );
    let (_, list) = app
        .call(reqwest::Method::GET, &format!("{CW}/companies"), None)
        .await;
    let c251 = list["companies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["psaId"] == 251)
        .cloned()
        .expect("251");
    assert_eq!(c251["match"]["companyId"], new, "{c251}");
    stop(publisher).await;
    app.cleanup().await;
}

/// Three API processes take slots of one IT Glue key from the ledger at once (test
/// connections, which are paced like every provider call), one of them with its wall clock
/// 2 s ahead (libfaketime): the key's budget holds in every second, no 429. The ledger's
/// arithmetic is on the database's clock alone; a host comparing the database's time with its
/// own would call 2 s early.
///
/// A request that would leave more than 20 ms after its shared slot (the ledger's answer
/// delayed under load, a late wake-up) gives the slot up and takes another: before that rule,
/// 1 run in 4 on this 2-core machine saw 11 arrivals in one second, with or without the
/// skewed clock. The slots given up are printed (`docsync_pacing_late_slots_total`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_share_one_keys_ledger_with_one_clock_two_seconds_off() {
    let faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    assert!(
        std::path::Path::new(faketime).exists(),
        "{faketime} is needed (bash deploy/local/services.sh installs Debian's faketime)"
    );
    let app = in_process(Roles::default()).await;
    let tenants = app.setup_itglue(&[0]).await;
    assert_eq!(tenants.len(), 1);
    let http = reqwest::Client::new();
    let mut apis = Vec::new();
    let mut metrics = Vec::new();
    let mut children = Vec::new();
    for i in 0..3 {
        let port = docsync::harness::free_port().expect("a free port");
        let metrics_port = docsync::harness::free_port().expect("a free port");
        let mut env = app.child_env();
        env.push(("DOCSYNC_API_ADDR".into(), format!("127.0.0.1:{port}")));
        env.push((
            "DOCSYNC_METRICS_ADDR".into(),
            format!("127.0.0.1:{metrics_port}"),
        ));
        metrics.push(format!("http://127.0.0.1:{metrics_port}/metrics"));
        if i == 0 {
            env.push(("LD_PRELOAD".into(), faketime.into()));
            env.push(("FAKETIME".into(), "+2s".into()));
            // Only the wall clock: timers and timeouts run on the monotonic one.
            env.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
        }
        children.push(docsync_with(env, "api", None));
        let api = format!("http://127.0.0.1:{port}");
        docsync::harness::wait_for_api(&http, &api, Duration::from_secs(60))
            .await
            .expect("the API process answers");
        apis.push(api);
    }
    // The skewed process really runs 2 s ahead: its HTTP Date header says so.
    let date = http
        .get(format!("{}/health", apis[0]))
        .send()
        .await
        .expect("health")
        .headers()
        .get("date")
        .and_then(|d| d.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .expect("a Date header");
    let ahead = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ahead.num_milliseconds() >= 1000,
        "the clock is off by {ahead}"
    );

    app.sandbox.reset_itglue_stats();
    let calls = apis
        .iter()
        .flat_map(|api| std::iter::repeat_n(api.clone(), 15))
        .map(|api| {
            let http = http.clone();
            let token = app.token.clone();
            async move {
                let resp = http
                    .post(format!("{api}/integrations/it-glue/test"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("the API answers");
                resp.status()
            }
        });
    let statuses = futures::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| s.is_success()), "{statuses:?}");
    let stats = app
        .sandbox
        .itglue_key_stats(&docsync_e2e::itglue_us_key())
        .unwrap_or_default();
    assert!(
        stats.requests >= 45,
        "every test connection called IT Glue: {stats:?}"
    );
    assert!(
        stats.max_requests_in_any_second <= 10,
        "a one-second window held {} requests: {stats:?}",
        stats.max_requests_in_any_second
    );
    assert_eq!(stats.rejected_429, 0, "{stats:?}");
    // Only IT Glue is called here: every provider's count is IT Glue's.
    let mut late = 0.0;
    for url in &metrics {
        late += docsync::harness::late_slots(&http, url)
            .await
            .expect("the API's metrics");
    }
    println!(
        "{} IT Glue requests from 3 processes, busiest second {}, 429s {}, shared slots given up for lateness {late}",
        stats.requests, stats.max_requests_in_any_second, stats.rejected_429
    );
    for child in children {
        stop(child).await;
    }
    app.cleanup().await;
}
