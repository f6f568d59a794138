//! Scheduled pushes: exactly one per tenant per slot across scheduler replicas and outages,
//! with an injected clock (no sleeping until 02:00); scheduled PSA syncs: one per slot of an
//! `every` schedule.

use chrono::{DateTime, Duration, Timelike, Utc};
use docsync_domain::psa::PsaKind;
use docsync_e2e::{hudu_write_key, spawn_app, TestApp, TestTenant};
use docsync_sandbox::SandboxConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn schedule_hudu(app: &TestApp, tenants: &[TestTenant], schedule: Value) -> Value {
    app.configure_hudu_with(tenants, Some(schedule)).await
}

async fn scheduled_runs(app: &TestApp) -> Vec<Value> {
    let (_, body) = app
        .call(Method::GET, "/integrations/hudu/runs?limit=1000", None)
        .await;
    body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["trigger"] == "schedule")
        .cloned()
        .collect()
}

/// A whole hour comfortably after the integration was created.
fn future_hour(days: i64) -> DateTime<Utc> {
    let t = Utc::now() + Duration::days(days);
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("hour")
}

#[tokio::test]
async fn two_schedulers_enqueue_each_slot_once_and_the_pushes_land() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[12, 13, 14, 15, 17]).await;
    schedule_hudu(
        &app,
        &tenants,
        json!({"mode": "hourly", "at": "00:05", "timeZone": "Australia/Sydney"}),
    )
    .await;

    // A second scheduler process: its own database pool and broker connection.
    let (store_b, broker_b) = docsync::fleet::connect(&app.settings)
        .await
        .expect("second scheduler");
    let now = future_hour(2) + Duration::minutes(7);
    let (a, b) = tokio::join!(
        docsync_scheduler::tick(app.store(), app.broker(), now),
        docsync_scheduler::tick(&store_b, &broker_b, now),
    );
    let (a, b) = (a.expect("tick a"), b.expect("tick b"));
    assert_eq!(
        a.enqueued + b.enqueued,
        5,
        "each tenant's slot enqueued once: {a:?} {b:?}"
    );
    // Ticking again within the same slot, on either scheduler, adds nothing.
    for _ in 0..3 {
        let later = now + Duration::minutes(20);
        assert_eq!(
            docsync_scheduler::tick(&store_b, &broker_b, later)
                .await
                .expect("tick")
                .enqueued,
            0
        );
        assert_eq!(
            docsync_scheduler::tick(app.store(), app.broker(), later)
                .await
                .expect("tick")
                .enqueued,
            0
        );
    }
    let runs = scheduled_runs(&app).await;
    assert_eq!(runs.len(), 5);
    for run in &runs {
        let done = app.wait_for_run(run["id"].as_str().expect("id")).await;
        assert_eq!(done["state"], "succeeded", "{done}");
    }
    for t in &tenants {
        assert_eq!(app.articles_in(TestApp::company_of(t)).len(), 1);
    }
    broker_b.close().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_scheduler_back_from_a_five_hour_outage_runs_one_catch_up_slot_per_tenant() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[18, 19, 21]).await;
    schedule_hudu(
        &app,
        &tenants,
        json!({"mode": "hourly", "at": "00:00", "timeZone": "UTC"}),
    )
    .await;

    let t0 = future_hour(1) + Duration::minutes(1);
    let first = docsync_scheduler::tick(app.store(), app.broker(), t0)
        .await
        .expect("tick");
    assert_eq!(first.enqueued, 3);
    // Down for five hours: five hourly slots were missed; only the latest one runs.
    let back = t0 + Duration::hours(5);
    let catch_up = docsync_scheduler::tick(app.store(), app.broker(), back)
        .await
        .expect("tick");
    assert_eq!(
        catch_up.enqueued, 3,
        "one catch-up slot per tenant, not five"
    );
    assert_eq!(
        docsync_scheduler::tick(app.store(), app.broker(), back)
            .await
            .expect("tick")
            .enqueued,
        0
    );
    assert_eq!(scheduled_runs(&app).await.len(), 6);
    app.cleanup().await;
}

#[tokio::test]
async fn nightly_runs_once_a_night_manual_never_and_the_next_time_is_visible() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[22, 23]).await;
    let view = schedule_hudu(
        &app,
        &tenants[..1],
        json!({"mode": "nightly", "at": "02:00", "timeZone": "Australia/Sydney"}),
    )
    .await;

    // The next refresh is visible in the integration and tenant views.
    let next: DateTime<Utc> = view["nextScheduledAt"]
        .as_str()
        .expect("next")
        .parse()
        .expect("time");
    assert!(
        next > Utc::now() && next <= Utc::now() + Duration::hours(25),
        "{next}"
    );
    let (_, tenant) = app
        .call(Method::GET, &format!("/tenants/{}", tenants[0].id), None)
        .await;
    assert_eq!(
        tenant["providers"]["hudu"]["nextScheduledAt"],
        view["nextScheduledAt"]
    );
    let (_, unmapped) = app
        .call(Method::GET, &format!("/tenants/{}", tenants[1].id), None)
        .await;
    assert_eq!(
        unmapped["providers"]["hudu"]["nextScheduledAt"],
        Value::Null
    );

    // Through a whole day of ticks every 30 minutes: exactly one slot.
    let mut total = 0;
    let mut t = next - Duration::hours(1);
    for _ in 0..48 {
        total += docsync_scheduler::tick(app.store(), app.broker(), t)
            .await
            .expect("tick")
            .enqueued;
        t += Duration::minutes(30);
    }
    assert_eq!(total, 1, "one nightly push in a day");

    // Manual: no slots, no next time.
    let view = schedule_hudu(&app, &tenants[..1], json!({"mode": "manual"})).await;
    assert_eq!(view["nextScheduledAt"], Value::Null);
    let later = docsync_scheduler::tick(app.store(), app.broker(), next + Duration::days(3))
        .await
        .expect("tick");
    assert_eq!(later.enqueued, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn accepted_runs_whose_message_was_lost_are_relayed() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[24]).await;
    // A run accepted (row written) but never published, as after a crash between the two.
    let run = app
        .store()
        .create_runs(
            app.account,
            &[docsync_store::NewRun {
                tenant_id: tenants[0].id.parse().expect("id"),
                provider: docsync_domain::Provider::Hudu,
                trigger: docsync_domain::Trigger::Manual,
            }],
        )
        .await
        .expect("run")[0];
    let relayed =
        docsync_scheduler::relay_stale(app.store(), app.broker(), std::time::Duration::ZERO)
            .await
            .expect("relay");
    assert_eq!(relayed, 1);
    let done = app.wait_for_run(&run.to_string()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[0])).len(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn runs_whose_message_was_confirmed_are_not_sent_again() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[20]).await;
    // Accepted through the API: the broker confirmed the message, so however long the run
    // waits in the queue, the relay leaves it alone.
    let run = app.push(&tenants[0]).await;
    let relayed =
        docsync_scheduler::relay_stale(app.store(), app.broker(), std::time::Duration::ZERO)
            .await
            .expect("relay");
    assert_eq!(relayed, 0);
    let done = app.wait_for_run(&run).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    app.cleanup().await;
}

const CW: &str = "/integrations/connectwise-manage";

/// Hudu (the sync's destination, no tenants mapped) and ConnectWise Manage with `schedule`.
async fn schedule_connectwise(app: &TestApp, schedule: Value) -> Value {
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(
                json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(),
                        "companyIdByTenantId": {}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let d = SandboxConfig::default().connectwise;
    let (status, view) = app
        .call(
            Method::PUT,
            CW,
            Some(
                json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id,
                        "publicKey": d.public_key, "privateKey": d.private_key,
                        "clientId": d.client_id, "schedule": schedule}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

/// Every sync run of the ConnectWise integration, newest first.
async fn sync_runs(app: &TestApp) -> Vec<Value> {
    let (status, body) = app
        .call(Method::GET, &format!("{CW}/runs?limit=1000"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["runs"].as_array().expect("runs").clone()
}

/// The first UTC multiple of `hours` hours since the epoch strictly after `t`.
fn next_boundary(t: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    let period = hours * 3600;
    let start = t.timestamp().div_euclid(period) * period + period;
    DateTime::from_timestamp(start, 0).expect("boundary")
}

#[tokio::test]
async fn a_psa_sync_every_three_hours_starts_once_per_slot_across_two_schedulers() {
    let app = spawn_app().await;
    let view = schedule_connectwise(&app, json!({"mode": "every", "hours": 3})).await;
    assert_eq!(view["schedule"]["mode"], "every", "{view}");
    assert_eq!(view["schedule"]["hours"], 3, "{view}");
    let created_at = app
        .store()
        .psa_integration(app.account, PsaKind::ConnectWiseManage)
        .await
        .expect("store")
        .expect("integration")
        .created_at;
    let slot = next_boundary(created_at, 3);
    assert_eq!(slot.timestamp() % (3 * 3600), 0);
    assert!(slot > created_at && slot <= created_at + Duration::hours(3));

    // A second scheduler process: its own database pool and broker connection.
    let (store_b, broker_b) = docsync::fleet::connect(&app.settings)
        .await
        .expect("second scheduler");

    // Just before the first boundary the latest slot is older than the integration: none.
    let early = docsync_scheduler::tick(app.store(), app.broker(), slot - Duration::minutes(1))
        .await
        .expect("tick");
    assert_eq!(early.enqueued, 0, "no slot before the integration existed");
    assert!(sync_runs(&app).await.is_empty());

    // Both replicas tick together just after the boundary: one run for the slot.
    let now = slot + Duration::minutes(1);
    let (a, b) = tokio::join!(
        docsync_scheduler::tick(app.store(), app.broker(), now),
        docsync_scheduler::tick(&store_b, &broker_b, now),
    );
    let (a, b) = (a.expect("tick a"), b.expect("tick b"));
    assert_eq!(
        a.enqueued + b.enqueued,
        1,
        "the slot's sync enqueued once: {a:?} {b:?}"
    );
    assert_eq!(a.integrations + b.integrations, 1, "{a:?} {b:?}");
    let runs = sync_runs(&app).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["kind"], "sync", "{}", runs[0]);
    assert_eq!(runs[0]["trigger"], "schedule", "{}", runs[0]);
    assert_eq!(runs[0]["provider"], "connectwise-manage", "{}", runs[0]);
    assert!(runs[0]["tenantId"].is_null(), "{}", runs[0]);
    let first = runs[0]["id"].as_str().expect("id").to_owned();

    // Ticking again within the same slot, on either replica, adds nothing.
    for later in [
        now,
        now + Duration::minutes(20),
        slot + Duration::minutes(179),
    ] {
        for (store, broker) in [(app.store(), app.broker()), (&store_b, &*broker_b)] {
            let report = docsync_scheduler::tick(store, broker, later)
                .await
                .expect("tick");
            assert_eq!(report.enqueued, 0, "{later}: {report:?}");
        }
    }
    assert_eq!(sync_runs(&app).await.len(), 1);
    let done = app.wait_for_run(&first).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // The next slot, 3 hours later: one more, again whichever replicas tick.
    let next = now + Duration::hours(3);
    let (a, b) = tokio::join!(
        docsync_scheduler::tick(app.store(), app.broker(), next),
        docsync_scheduler::tick(&store_b, &broker_b, next),
    );
    let (a, b) = (a.expect("tick a"), b.expect("tick b"));
    assert_eq!(a.enqueued + b.enqueued, 1, "{a:?} {b:?}");
    let runs = sync_runs(&app).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.iter()
            .all(|r| r["trigger"] == "schedule" && r["kind"] == "sync"),
        "{runs:?}"
    );
    let second = runs
        .iter()
        .filter_map(|r| r["id"].as_str())
        .find(|id| *id != first)
        .expect("a second run")
        .to_owned();
    let done = app.wait_for_run(&second).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // Manual: no slots at all, however late the ticks.
    let view = schedule_connectwise(&app, json!({"mode": "manual"})).await;
    assert_eq!(view["schedule"]["mode"], "manual", "{view}");
    for hours in [6, 9, 24] {
        let later = now + Duration::hours(hours);
        let (a, b) = tokio::join!(
            docsync_scheduler::tick(app.store(), app.broker(), later),
            docsync_scheduler::tick(&store_b, &broker_b, later),
        );
        let (a, b) = (a.expect("tick a"), b.expect("tick b"));
        assert_eq!(a.enqueued + b.enqueued, 0, "manual: {a:?} {b:?}");
    }
    assert_eq!(sync_runs(&app).await.len(), 2);
    broker_b.close().await;
    app.cleanup().await;
}
