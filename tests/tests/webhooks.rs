//! Webhooks end to end: a subscriber that refuses the first two attempts of every delivery
//! still receives every finished run exactly once accepted, each signature verifies, every
//! retry is the same signed body, and a restart of the fleet while deliveries wait loses none.
//! Also the subscription's lifecycle: bad input named field by field, the secret never shown
//! again, another account's subscriptions out of reach, a deleted one sent nothing more.

use docsync_api::webhooks::signature::verify;
use docsync_e2e::{spawn_app, WebhookReceiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec-8f3a1c9e7b2d4f6a0c5e9b1d3f7a2c4e";

/// Waits until `done` holds for the receiver (30 s at most).
async fn until(receiver: &WebhookReceiver, what: &str, done: impl Fn(&WebhookReceiver) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(receiver) {
        assert!(
            Instant::now() < deadline,
            "{what}: the receiver got {:#?}",
            receiver
                .received()
                .iter()
                .map(|r| (r.delivery.clone(), r.answered))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The run id a delivery's body names.
fn run_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("a delivery body is JSON");
    v["run"]["id"].as_str().expect("run.id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusing_subscriber_receives_every_finished_run_across_a_restart() {
    let mut app = spawn_app().await;
    let tenants = app.setup_hudu(&[0, 1, 2]).await;
    // Refuses (503, then 500) the first two attempts of every delivery.
    let receiver = WebhookReceiver::start(2).await;
    let (status, created) = app
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({"url": receiver.url, "secret": SECRET, "events": ["run.finished"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["url"], json!(receiver.url));
    assert_eq!(created["events"], json!(["run.finished"]));
    assert!(!created.to_string().contains(SECRET), "{created}");

    // A first wave of pushes, finished while the receiver refuses.
    let mut runs = app.push_all("hudu").await;
    assert_eq!(runs.len(), 3);
    app.wait_for_runs(&runs, Duration::from_secs(60)).await;
    until(&receiver, "a first attempt of every delivery", |r| {
        r.received()
            .iter()
            .map(|x| x.delivery.clone())
            .collect::<BTreeSet<_>>()
            .len()
            == 3
    })
    .await;
    let accepted_before = receiver.accepted().len();
    assert!(
        accepted_before < 3,
        "some deliveries still wait when the fleet restarts ({accepted_before} accepted)"
    );

    // The fleet restarts (every role, its connections and its tasks) with deliveries waiting.
    app.restart().await;
    // A run finished after the restart is delivered too.
    let late = app.push(&tenants[0]).await;
    app.wait_for_run(&late).await;
    runs.push(late);

    until(&receiver, "every run accepted", |r| r.accepted().len() >= 4).await;
    // Nothing more arrives: every delivery is settled.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let received = receiver.received();
    let accepted = receiver.accepted();
    let delivered_runs: BTreeSet<String> = accepted.iter().map(|r| run_of(&r.body)).collect();
    assert_eq!(
        delivered_runs,
        runs.iter().cloned().collect::<BTreeSet<_>>(),
        "every finished run, and only those, was delivered"
    );
    assert_eq!(accepted.len(), 4, "each run accepted once");

    let mut by_delivery: BTreeMap<String, Vec<&docsync_e2e::Received>> = BTreeMap::new();
    for r in &received {
        by_delivery.entry(r.delivery.clone()).or_default().push(r);
    }
    assert_eq!(by_delivery.len(), 4, "one delivery id per run");
    for (id, attempts) in &by_delivery {
        let answers: Vec<u16> = attempts.iter().map(|a| a.answered).collect();
        assert_eq!(
            answers,
            [503, 500, 204],
            "delivery {id}: refused twice, then accepted"
        );
        for a in attempts {
            assert_eq!(a.event, "run.finished");
            assert!(
                verify(SECRET, &a.body, &a.signature),
                "delivery {id}: the signature {} verifies",
                a.signature
            );
            assert!(!verify("another-secret-0123456789", &a.body, &a.signature));
            assert_eq!(a.body, attempts[0].body, "every retry sends the same bytes");
        }
    }

    // The body is the run as GET /runs/:id shows it.
    for r in &accepted {
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["event"], "run.finished");
        let id = body["run"]["id"].as_str().expect("id");
        let (status, shown) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["run"], shown, "the delivered run is GET /runs/{id}");
        assert_eq!(body["run"]["state"], "succeeded");
    }

    let (status, list) = app.call(Method::GET, "/webhooks", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let hook = &list["webhooks"][0];
    assert_eq!(
        hook["deliveries"],
        json!({"pending": 0, "delivered": 4, "failed": 0, "dropped": 0}),
        "{list}"
    );
    assert_eq!(hook["lastAttempt"]["status"], 204, "{list}");
    assert!(!list.to_string().contains(SECRET), "{list}");
    for run in &runs {
        let rows = app
            .store()
            .deliveries_of_run(run.parse().expect("run id"))
            .await
            .expect("deliveries");
        assert_eq!(rows.len(), 1, "run {run}: one delivery row");
        assert_eq!((rows[0].1.as_str(), rows[0].2), ("delivered", 3));
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriptions_are_checked_kept_to_their_account_and_removed_with_their_deliveries() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[0]).await;
    let receiver = WebhookReceiver::start(0).await;

    // Bad input: each field named, with what a good value looks like.
    for (body, field, says) in [
        (json!({"secret": SECRET}), "url", "is required"),
        (
            json!({"url": "ftp://hooks.example.com", "secret": SECRET}),
            "url",
            "https://",
        ),
        (
            json!({"url": "https://u:p@hooks.example.com", "secret": SECRET}),
            "url",
            "user name",
        ),
        (json!({"url": receiver.url}), "secret", "is required"),
        (
            json!({"url": receiver.url, "secret": "short"}),
            "secret",
            "shorter than 16",
        ),
        (
            json!({"url": receiver.url, "secret": "has spaces in it 0123"}),
            "secret",
            "spaces",
        ),
        (
            json!({"url": receiver.url, "secret": SECRET, "events": []}),
            "events",
            "at least one",
        ),
        (
            json!({"url": receiver.url, "secret": SECRET, "events": ["run.started"]}),
            "events[0]",
            "run.finished",
        ),
        (
            json!({"url": receiver.url, "secret": SECRET, "event": "run.finished"}),
            "event",
            "unknown field",
        ),
    ] {
        let (status, answer) = app
            .call(Method::POST, "/webhooks", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let named = answer["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["field"] == field)
            .unwrap_or_else(|| panic!("{body}: {answer} names {field}"));
        assert!(
            named["message"].as_str().unwrap_or_default().contains(says),
            "{body}: {answer}"
        );
    }
    let (status, list) = app.call(Method::GET, "/webhooks", None).await;
    assert_eq!(
        (status, list),
        (StatusCode::OK, json!({"webhooks": []})),
        "nothing was kept"
    );

    // Created (events default to run.finished); the same url twice is a conflict.
    let (status, created) = app
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({"url": receiver.url, "secret": SECRET})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["events"], json!(["run.finished"]));
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, again) = app
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({"url": receiver.url, "secret": SECRET})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // The audit trail records the secret as changed, never its value.
    let (_, audit) = app.call(Method::GET, "/audit", None).await;
    let entry = audit["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["entityType"] == "webhook")
        .unwrap_or_else(|| panic!("the creation is audited: {audit}"));
    assert_eq!(entry["entityId"], json!(id), "{entry}");
    assert!(entry.to_string().contains("changed"), "{entry}");
    assert!(!audit.to_string().contains(SECRET));

    // Another account neither sees nor removes it.
    let other = app.other_account_token().await;
    let (status, theirs) = app
        .call_as(Some(&other), Method::GET, "/webhooks", None)
        .await;
    assert_eq!((status, theirs), (StatusCode::OK, json!({"webhooks": []})));
    let (status, answer) = app
        .call_as(
            Some(&other),
            Method::DELETE,
            &format!("/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = app.call(Method::DELETE, "/webhooks/not-an-id", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // Delivered while subscribed ...
    let run = app.push(&tenants[0]).await;
    app.wait_for_run(&run).await;
    until(&receiver, "the run delivered", |r| r.accepted().len() == 1).await;
    // Dashboards see it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scraped = app.scrape().await;
        if scraped.contains("docsync_webhook_delivery_attempts_total{outcome=\"delivered\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no delivered attempt counted: {scraped}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // ... and nothing after it is removed.
    let (status, _) = app
        .call(Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "removed once");
    let run = app.push(&tenants[0]).await;
    app.wait_for_run(&run).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a removed subscription is sent nothing"
    );
    let rows = app
        .store()
        .deliveries_of_run(run.parse().expect("run id"))
        .await
        .expect("deliveries");
    assert!(rows.is_empty(), "{rows:?}");
    app.cleanup().await;
}
