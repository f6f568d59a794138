//! Nothing lost: transient provider faults are retried later through the delay queues, a
//! permanent one fails the run at once with its reason, and a poison message is parked in the
//! dead-letter queue, from where it can be replayed once the cause is fixed.

use docsync_domain::{Provider, Trigger};
use docsync_e2e::{hudu_read_only_key, itglue_us_key, spawn_app, TestApp};
use docsync_queue::CollectJob;
use docsync_sandbox::{FaultKind, FaultProvider, FaultRule, Faults};
use docsync_store::NewRun;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn event_details(run: &Value) -> Vec<String> {
    run["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn run_json(app: &TestApp, id: &str) -> Value {
    let (status, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    run
}

/// Waits until the run has been put off for a later retry (it must not fail meanwhile);
/// returns the retry's reason.
async fn wait_for_retry(app: &TestApp, run_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = run_json(app, run_id).await;
        assert_ne!(run["state"], "failed", "{run}");
        if let Some(reason) = event_details(&run)
            .into_iter()
            .find(|d| d.starts_with("retrying"))
        {
            return reason;
        }
        assert!(Instant::now() < deadline, "no retry was scheduled: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_provider_down_for_a_while_is_retried_later_and_the_push_succeeds() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[2]).await;
    // Every Hudu call fails until the run has been put off for a later retry.
    app.sandbox.set_faults(Faults {
        hudu_5xx_every_nth: Some(1),
        ..Faults::default()
    });
    let run_id = app.push(&tenants[0]).await;
    wait_for_retry(&app, &run_id).await;
    app.sandbox.set_faults(Faults::default());
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let retries: Vec<String> = event_details(&run)
        .into_iter()
        .filter(|d| d.starts_with("retrying"))
        .collect();
    assert!(!retries.is_empty(), "{run}");
    assert!(
        retries[0].contains("502"),
        "the reason names the answer: {retries:?}"
    );
    assert!(run["attempts"].as_i64().unwrap_or_default() >= 2, "{run}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_create_the_provider_wrote_but_answered_5xx_is_found_and_not_made_twice() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[1]).await;
    app.configure_itglue(&tenants, "us", &itglue_us_key(), None)
        .await;
    // Every create is written, then answered 502 or 504, as a gateway that gave up waiting.
    let written_then_5xx =
        |provider| FaultRule::new(provider, FaultKind::ErrorAfterWriteRate(1.0)).for_method("POST");
    app.sandbox.set_faults(Faults {
        rules: vec![
            written_then_5xx(FaultProvider::Hudu),
            written_then_5xx(FaultProvider::ItGlue),
        ],
        ..Faults::default()
    });
    let runs = [
        app.push_to("hudu", &tenants[0]).await,
        app.push_to("it-glue", &tenants[0]).await,
    ];
    for run in &runs {
        let reason = wait_for_retry(&app, run).await;
        assert!(
            reason.contains("a create is not repeated blindly"),
            "{reason}"
        );
    }
    app.sandbox.set_faults(Faults::default());
    for run in &runs {
        let run = app.wait_for_run(run).await;
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    // The retries found what the first tries wrote: one article, one type, one asset.
    let articles = app.articles_in(TestApp::company_of(&tenants[0]));
    assert_eq!(articles.len(), 1, "{articles:?}");
    let types = app.sandbox.itglue_asset_types(&itglue_us_key());
    let posture = types.iter().filter(|t| t.name == "M365 Posture").count();
    assert_eq!(posture, 1, "{types:?}");
    let assets = app.sandbox.itglue_assets(&itglue_us_key());
    assert_eq!(assets.len(), 1, "{assets:?}");
    assert_eq!(assets[0].name, tenants[0].fixture.display_name);
    app.cleanup().await;
}

#[tokio::test]
async fn a_section_lost_to_a_passing_graph_fault_is_collected_again_before_publishing() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[3]).await;
    // The MFA registration report answers 5xx to every try.
    app.sandbox.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Graph, FaultKind::ErrorRate(1.0)).on("/v1.0/reports"),
        ],
        ..Faults::default()
    });
    let run_id = app.push(&tenants[0]).await;
    let reason = wait_for_retry(&app, &run_id).await;
    assert!(reason.contains("not collected"), "{reason}");
    assert!(
        app.articles_in(TestApp::company_of(&tenants[0])).is_empty(),
        "nothing is published while the snapshot is incomplete"
    );
    app.sandbox.set_faults(Faults::default());
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let articles = app.articles_in(TestApp::company_of(&tenants[0]));
    assert_eq!(articles.len(), 1);
    let fixture = &tenants[0].fixture;
    let mfa = format!(
        "{} of {}",
        fixture.users.iter().filter(|u| u.is_mfa_registered).count(),
        fixture.user_count()
    );
    assert!(
        articles[0].content.contains(&mfa),
        "the article carries the MFA figures ({mfa})"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_forbidden_write_fails_at_once_with_the_reason_and_is_not_retried() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[3]).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(
                json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_read_only_key(),
                        "companyIdByTenantId": {tenants[0].id.clone(): 4}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap_or_default().contains("403"),
        "{run}"
    );
    assert_eq!(
        run["attempts"], 2,
        "one collect and one publish attempt: {run}"
    );
    assert!(
        !event_details(&run)
            .iter()
            .any(|d| d.starts_with("retrying")),
        "{run}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_poison_message_is_parked_with_its_reason_and_a_parked_job_can_be_replayed() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[5]).await;
    let broker = app.broker();
    let collect = broker.collect_queue();

    // Another producer's garbage: parked, with the reason, and the fleet goes on.
    broker
        .enqueue_raw(&collect, b"{\"run\": 42".to_vec())
        .await
        .expect("enqueue");
    let deadline = Instant::now() + Duration::from_secs(30);
    let poison = loop {
        let letters = broker.dead_letters(10).await.expect("dead letters");
        if let Some(l) = letters.into_iter().next() {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "the poison message was not parked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(poison.origin, collect);
    assert!(poison.reason.contains("undecodable"), "{poison:?}");
    assert_eq!(poison.body, "{\"run\": 42");

    // A job that ran out of deliveries during an outage: parked too. Once the outage is over
    // the operator replays it and the push completes.
    let tenant_id = tenants[0].id.parse().expect("tenant id");
    let ids = app
        .store()
        .create_runs(
            app.account,
            &[NewRun {
                tenant_id,
                provider: Provider::Hudu,
                trigger: Trigger::Manual,
            }],
        )
        .await
        .expect("run");
    broker
        .dead_letter(
            &collect,
            serde_json::to_vec(&CollectJob::new(ids[0])).expect("json"),
            "delivered 20 times without being finished",
        )
        .await
        .expect("park");

    // The account sees its own parked job, not the poison nobody owns; others see nothing.
    let (status, listed) = app.call(Method::GET, "/dlq", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let mine = listed["deadLetters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(mine.len(), 1, "{listed}");
    assert_eq!(mine[0]["runId"], ids[0].to_string());
    let other = app.other_account_token().await;
    let (_, theirs) = app.call_as(Some(&other), Method::GET, "/dlq", None).await;
    assert_eq!(theirs["deadLetters"], json!([]), "{theirs}");
    let (status, nothing) = app
        .call_as(Some(&other), Method::POST, "/dlq/replay", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nothing["replayed"], 0);

    let (status, replayed) = app
        .call(
            Method::POST,
            "/dlq/replay",
            Some(json!({"ids": [mine[0]["id"].clone()]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 1);
    let run = app.wait_for_run(&ids[0].to_string()).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    // The poison stays parked for an operator to look at.
    let left = broker.dead_letters(10).await.expect("dead letters");
    assert_eq!(left.len(), 1);
    assert!(left[0].reason.contains("undecodable"));
    app.cleanup().await;
}

#[tokio::test]
async fn a_run_whose_message_was_lost_is_handed_on_again_and_completes() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[6]).await;
    // A run a collector claimed and whose message then vanished (a broker crash while it
    // was dead-lettered between queues): nothing would ever touch it again.
    let ids = app
        .store()
        .create_runs(
            app.account,
            &[NewRun {
                tenant_id: tenants[0].id.parse().expect("tenant id"),
                provider: Provider::Hudu,
                trigger: Trigger::Manual,
            }],
        )
        .await
        .expect("run");
    app.store()
        .begin_collecting(ids[0])
        .await
        .expect("claim")
        .expect("collecting");
    let revived = docsync_scheduler::revive_stalled(app.store(), app.broker(), Duration::ZERO)
        .await
        .expect("revive");
    assert_eq!(revived, 1);
    let run = app.wait_for_run(&ids[0].to_string()).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(
        event_details(&run)
            .iter()
            .any(|d| d.contains("handed to the collectors again")),
        "{run}"
    );
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_ten_thousand_user_tenant_over_flaky_graph_pages_is_collected_whole() {
    use docsync_sandbox::{FaultKind, FaultProvider, FaultRule, SandboxConfig};
    let app = docsync_e2e::spawn_with(SandboxConfig {
        tenant_users: vec![(0, 10_000)],
        ..SandboxConfig::default()
    })
    .await;
    let tenants = app.setup_hudu(&[0]).await;
    let fixture = docsync_sandbox::fixtures::tenant_sized(0, Some(10_000));
    assert_eq!(fixture.user_count(), 10_000);
    // One page in five of the registration report fails, and every one is slow.
    app.sandbox.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Graph, FaultKind::ErrorRate(0.2)).on("/v1.0/reports"),
            FaultRule::new(FaultProvider::Graph, FaultKind::LatencyMs(50)).on("/v1.0/reports"),
        ],
        seed: 7,
        ..Faults::default()
    });
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let articles = app.articles_in(TestApp::company_of(&tenants[0]));
    assert_eq!(articles.len(), 1);
    let registered = fixture.users.iter().filter(|u| u.is_mfa_registered).count();
    let mfa = format!(
        "{registered} of 10000 ({}%)",
        docsync_e2e::shown(fixture.mfa_percent())
    );
    assert!(
        articles[0].content.contains(&mfa),
        "every one of the 20 pages was read: {mfa}"
    );
    app.cleanup().await;
}
