//! Change-triggered pushes (`schedule.onChange`): with a one-second poll, a Conditional Access
//! change in a tenant is pushed (trigger `change`) and the Hudu article then shows it; a
//! user change, a tenant's old history and an integration without `onChange` push nothing;
//! two scheduler replicas push one burst of changes once; each tenant is polled on a fixed
//! cadence (slow polls do not drift it, missed slots are skipped, not caught up) and a fleet's
//! first due times are spread over the interval; the tenants API shows each watch; turning
//! an authentication method on is pushed and the documents show it on.

use docsync::fleet::Roles;
use docsync_domain::TenantId;
use docsync_e2e::{spawn_adjusted, spawn_app, TestApp, TestTenant};
use docsync_sandbox::{FaultKind, FaultProvider, FaultRule, Faults, SandboxConfig, TenantChange};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// API, collector, publisher and scheduler in this process, polling audit logs every second.
async fn watching_app() -> TestApp {
    spawn_adjusted(
        SandboxConfig::default(),
        Roles {
            api: true,
            collector: true,
            publisher: true,
            scheduler: true,
        },
        |s| s.change_poll = Duration::from_secs(1),
    )
    .await
}

fn tenant_id(t: &TestTenant) -> TenantId {
    TenantId(t.id.parse().expect("a uuid"))
}

async fn change_runs(app: &TestApp, provider: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/integrations/{provider}/runs?limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["trigger"] == "change")
        .cloned()
        .collect()
}

/// Waits until the tenant's audit log has been read (at least) once after `after`.
async fn polled_after(app: &TestApp, t: &TestTenant, after: chrono::DateTime<chrono::Utc>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let watch = app
            .store()
            .change_watch(app.account, tenant_id(t))
            .await
            .expect("store");
        if let Some(w) = &watch {
            assert_eq!(w.last_error, None, "the audit log could not be read");
            if w.polled_at.is_some_and(|p| p > after) && w.cursor_at.is_some() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "tenant {} not polled after {after}: {watch:?}",
            t.id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two whole polls after now: anything a change would enqueue is enqueued by then.
async fn two_polls_later(app: &TestApp, t: &TestTenant) {
    let now = chrono::Utc::now();
    polled_after(app, t, now).await;
    polled_after(app, t, chrono::Utc::now()).await;
}

async fn wait_for_change_run(app: &TestApp, provider: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(run) = change_runs(app, provider).await.first() {
            return app.wait_for_run(run["id"].as_str().expect("run id")).await;
        }
        assert!(Instant::now() < deadline, "no change run was enqueued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_conditional_access_change_is_pushed_with_trigger_change_and_shown() {
    let app = watching_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[3]).await;
    let t = &tenants[0];
    let view = app
        .configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    assert_eq!(view["schedule"]["onChange"], true, "{view}");
    let first = app.wait_for_run(&app.push(t).await).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    let company = TestApp::company_of(t);
    let policy = "Contractors must use MFA (added by change test)";
    assert!(!app.articles_in(company)[0].content.contains(policy));

    // The first poll only sets the cursor: the history's Conditional Access update from five
    // minutes ago is no change to push.
    two_polls_later(&app, t).await;
    assert!(change_runs(&app, "hudu").await.is_empty());

    app.sandbox
        .change_tenant(
            t.fixture.index,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: policy.into(),
            },
        )
        .expect("the sandbox changes the tenant");
    let run = wait_for_change_run(&app, "hudu").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "change");
    assert_eq!(run["tenantId"], t.id.as_str());
    let events = run["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Add conditional access policy"))),
        "the run says what changed: {events:?}"
    );
    let articles = app.articles_in(company);
    assert_eq!(articles.len(), 1, "written in place");
    assert!(
        articles[0].content.contains(policy),
        "the article shows the new policy"
    );
    assert_eq!(articles[0].versions, 2);

    // The same entry is not pushed again on later polls.
    two_polls_later(&app, t).await;
    assert_eq!(change_runs(&app, "hudu").await.len(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn a_user_change_pushes_nothing_and_nor_does_an_integration_without_on_change() {
    let app = watching_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[5, 6]).await;
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    for t in &tenants {
        polled_after(&app, t, chrono::Utc::now()).await;
    }
    app.sandbox
        .change_tenant(tenants[0].fixture.index, &TenantChange::UpdateUser)
        .expect("change");
    two_polls_later(&app, &tenants[0]).await;
    assert!(
        change_runs(&app, "hudu").await.is_empty(),
        "a user change is no posture change"
    );

    // onChange off: the tenants are no longer watched, and a Conditional Access change
    // pushes nothing.
    let view = app
        .configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": false})))
        .await;
    assert!(view["schedule"].get("onChange").is_none(), "{view}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .store()
        .change_watch(app.account, tenant_id(&tenants[1]))
        .await
        .expect("store")
        .is_some()
    {
        assert!(Instant::now() < deadline, "the watch was not dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.sandbox
        .change_tenant(
            tenants[1].fixture.index,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: "Unwatched policy".into(),
            },
        )
        .expect("change");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(change_runs(&app, "hudu").await.is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn schedule_on_change_must_be_a_boolean() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[7]).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(
                json!({"baseUrl": app.sandbox.hudu_url, "apiKey": docsync_e2e::hudu_write_key(),
                        "companyIdByTenantId": {tenants[0].id.clone(): 8},
                        "schedule": {"mode": "nightly", "onChange": "yes"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("schedule.onChange"), "{body}");
    app.cleanup().await;
}

#[tokio::test]
async fn two_scheduler_replicas_push_one_burst_once() {
    // The watch interval of both replicas.
    const EVERY: Duration = Duration::from_secs(2);
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[8]).await;
    let t = &tenants[0];
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    let watcher = |store, broker| watcher_on(&app, store, broker, EVERY);
    let (store_b, broker_b) = docsync::fleet::connect(&app.settings)
        .await
        .expect("a second scheduler");
    let (store_a, broker_a) = docsync::fleet::connect(&app.settings)
        .await
        .expect("a first scheduler");
    let a = watcher(store_a, broker_a.clone());
    let b = watcher(store_b, broker_b.clone());

    // Watching starts at the tenant's phase of the interval: wait until it is due.
    app.store()
        .sync_change_watches(EVERY)
        .await
        .expect("watches");
    let due = due_at(&app, t).await.expect("watched");
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let (ra, rb) = tokio::join!(a.poll_due(), b.poll_due());
    let (ra, rb) = (ra.expect("poll a"), rb.expect("poll b"));
    assert_eq!(ra.first_polls + rb.first_polls, 1, "{ra:?} {rb:?}");
    assert_eq!(ra.enqueued + rb.enqueued, 0);

    // A burst: two policy changes and the authentication methods policy.
    let index = t.fixture.index;
    let policy = t.fixture.ca_policies[0].id.clone();
    for change in [
        TenantChange::SetConditionalAccessPolicyState {
            policy_id: policy,
            state: "disabled".into(),
        },
        TenantChange::AddConditionalAccessPolicy {
            display_name: "Burst policy".into(),
        },
        TenantChange::SetAuthenticationMethodState {
            method_id: "Sms".into(),
            state: "enabled".into(),
        },
    ] {
        app.sandbox.change_tenant(index, &change).expect("change");
    }
    // One slot later, and not two even if the polls before were slow on a loaded machine.
    tokio::time::sleep(EVERY + Duration::from_millis(200)).await;
    let (ra, rb) = tokio::join!(a.poll_due(), b.poll_due());
    let (ra, rb) = (ra.expect("poll a"), rb.expect("poll b"));
    assert_eq!(
        ra.polled + rb.polled,
        1,
        "one replica polled: {ra:?} {rb:?}"
    );
    assert_eq!(ra.enqueued + rb.enqueued, 1, "one push for the burst");
    let runs = change_runs(&app, "hudu").await;
    assert_eq!(runs.len(), 1);
    let done = app.wait_for_run(runs[0]["id"].as_str().expect("id")).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(app.articles_in(TestApp::company_of(t))[0]
        .content
        .contains("Burst policy"));

    // Nothing new: the next round pushes nothing.
    // One slot later, and not two even if the polls before were slow on a loaded machine.
    tokio::time::sleep(EVERY + Duration::from_millis(200)).await;
    let (ra, rb) = tokio::join!(a.poll_due(), b.poll_due());
    let (ra, rb) = (ra.expect("poll a"), rb.expect("poll b"));
    assert_eq!(ra.enqueued + rb.enqueued, 0, "{ra:?} {rb:?}");
    broker_a.close().await;
    broker_b.close().await;
    app.cleanup().await;
}

/// A change watcher of its own on `app`'s fleet, polling every `every`.
async fn own_watcher(app: &TestApp, every: Duration) -> docsync_scheduler::ChangeWatcher {
    let (store, broker) = docsync::fleet::connect(&app.settings)
        .await
        .expect("a scheduler");
    watcher_on(app, store, broker, every)
}

/// A change watcher on `store` and `broker` reading the sandbox's Graph, polling every `every`.
fn watcher_on(
    app: &TestApp,
    store: docsync_store::Store,
    broker: std::sync::Arc<docsync_queue::Broker>,
    every: Duration,
) -> docsync_scheduler::ChangeWatcher {
    let source = docsync_sources::GraphSource::new(docsync_sources::GraphSourceConfig {
        graph_url: app.sandbox.graph_url.clone(),
        login_url: app.sandbox.login_url.clone(),
        exchange_url: app.sandbox.exchange_url.clone(),
        ..docsync_sources::GraphSourceConfig::microsoft_defaults()
    })
    .expect("an HTTP client");
    docsync_scheduler::ChangeWatcher::new(
        store,
        broker,
        app.settings.master_key().expect("master key"),
        source,
        docsync_scheduler::ChangeConfig::every(every),
    )
}

async fn due_at(app: &TestApp, t: &TestTenant) -> Option<chrono::DateTime<chrono::Utc>> {
    app.store()
        .change_watch(app.account, tenant_id(t))
        .await
        .expect("store")
        .map(|w| w.next_poll_at)
}

/// Microseconds of `d` past a whole number of `every`s.
fn off_grid(d: chrono::TimeDelta, every: Duration) -> i64 {
    let every = i64::try_from(every.as_micros()).expect("small");
    d.num_microseconds().expect("small").rem_euclid(every)
}

#[tokio::test]
async fn slow_polls_keep_the_cadence_of_due_times() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[9]).await;
    let t = &tenants[0];
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    // Every audit log read takes 400 ms: a cadence counted from the end of each poll would
    // drift by that much each time.
    app.sandbox.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Graph, FaultKind::LatencyMs(400)).on("/v1.0/auditLogs"),
        ],
        ..Faults::default()
    });
    let every = Duration::from_secs(1);
    let watcher = own_watcher(&app, every).await;
    let shutdown = docsync_domain::Shutdown::new();
    let running = tokio::spawn(watcher.run(shutdown.clone()));
    let mut dues: Vec<chrono::DateTime<chrono::Utc>> = Vec::new();
    let until = Instant::now() + Duration::from_millis(6500);
    while Instant::now() < until {
        if let Some(due) = due_at(&app, t).await {
            if dues.last() != Some(&due) {
                dues.push(due);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.trigger();
    running.await.expect("joined").expect("the watcher ran");
    let watch = app
        .store()
        .change_watch(app.account, tenant_id(t))
        .await
        .expect("store")
        .expect("watched");
    assert_eq!(watch.last_error, None);
    assert!(dues.len() >= 5, "polled at the cadence: due times {dues:?}");
    for pair in dues.windows(2) {
        let step = pair[1] - pair[0];
        assert!(step >= chrono::TimeDelta::seconds(1), "{dues:?}");
        assert_eq!(
            off_grid(step, every),
            0,
            "each due time is a whole number of intervals after the last, whatever the poll took: {dues:?}"
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn missed_slots_are_skipped_without_a_burst() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[10]).await;
    let t = &tenants[0];
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    let every = Duration::from_secs(1);
    let watcher = own_watcher(&app, every).await;
    // The first round starts watching; the tenant's first due time is its phase of a second.
    watcher.poll_due().await.expect("round");
    let first = due_at(&app, t).await.expect("watched");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = watcher.poll_due().await.expect("round");
    assert_eq!(r.polled, 1, "{r:?}");
    let second = due_at(&app, t).await.expect("watched");
    assert_eq!(off_grid(second - first, every), 0, "{first} -> {second}");

    // Nobody polls for three and a half intervals: the next round polls once and the tenant
    // is due at the next slot of its own grid, not at each missed one.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let before = chrono::Utc::now();
    let r = watcher.poll_due().await.expect("round");
    assert_eq!(r.polled, 1, "one poll for the missed slots: {r:?}");
    let after = chrono::Utc::now();
    let third = due_at(&app, t).await.expect("watched");
    assert_eq!(off_grid(third - first, every), 0, "{first} -> {third}");
    assert!(
        third - second >= chrono::TimeDelta::seconds(3),
        "{second} -> {third}"
    );
    assert!(
        third > before && third <= after + chrono::TimeDelta::seconds(1),
        "due at the next slot after the poll ({before} .. {after}): {third}"
    );
    let r = watcher.poll_due().await.expect("round");
    assert_eq!(r.polled, 0, "not due again at once: {r:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_fleets_first_due_times_are_spread_over_the_interval() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let indices: Vec<usize> = (0..120).collect();
    let tenants = app.create_tenants(&indices).await;
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    let every = Duration::from_secs(300);
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    app.store()
        .sync_change_watches(every)
        .await
        .expect("watches");
    let mut buckets = [0usize; 6];
    for t in &tenants {
        let due = due_at(&app, t).await.expect("watched");
        let offset = (due - before).num_milliseconds();
        assert!(
            (0..=302_000).contains(&offset),
            "first due within the interval: {due} vs {before}"
        );
        let bucket = usize::try_from(offset / 50_000).expect("positive").min(5);
        buckets[bucket] += 1;
    }
    // 120 tenants over six 50-second slices: 20 each on average, never all at once.
    assert!(
        buckets.iter().all(|&n| (4..=45).contains(&n)),
        "first due times spread over the interval: {buckets:?}"
    );
    app.cleanup().await;
}

async fn tenant_view(app: &TestApp, t: &TestTenant) -> Value {
    // A poll may land between the two reads: they must agree within a few tries.
    for _ in 0..5 {
        let (status, one) = app
            .call(Method::GET, &format!("/tenants/{}", t.id), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{one}");
        let (status, all) = app.call(Method::GET, "/tenants", None).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        let listed = all["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .find(|v| v["id"] == t.id.as_str())
            .cloned()
            .expect("listed");
        if listed["changeWatch"] == one["changeWatch"] {
            return one;
        }
    }
    panic!("GET /tenants and GET /tenants/{{id}} never agreed on the change watch");
}

fn time_of(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a time: {v}"))
}

#[tokio::test]
async fn the_tenants_api_shows_each_change_watch() {
    let app = watching_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[11, 12]).await;
    let (t, unwatched) = (&tenants[0], &tenants[1]);
    app.configure_hudu(&tenants).await;
    let before = tenant_view(&app, t).await;
    assert_eq!(before["changeWatch"], Value::Null, "not watched: {before}");

    app.configure_hudu_with(
        std::slice::from_ref(t),
        Some(json!({"mode": "manual", "onChange": true})),
    )
    .await;
    let started = chrono::Utc::now();
    polled_after(&app, t, started).await;
    let watch = tenant_view(&app, t).await["changeWatch"].clone();
    assert!(time_of(&watch["polledAt"]) > started, "{watch}");
    assert!(
        time_of(&watch["nextPollAt"]) > time_of(&watch["polledAt"]) - chrono::TimeDelta::seconds(1),
        "{watch}"
    );
    assert!(time_of(&watch["readUpTo"]) > started, "{watch}");
    assert_eq!(watch["lastChangeAt"], Value::Null, "{watch}");
    assert_eq!(watch["lastPushAt"], Value::Null, "{watch}");
    assert_eq!(watch["lastError"], Value::Null, "{watch}");
    assert_eq!(
        tenant_view(&app, unwatched).await["changeWatch"],
        Value::Null,
        "a tenant no onChange integration maps"
    );

    let changed = chrono::Utc::now();
    app.sandbox
        .change_tenant(
            t.fixture.index,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: "Status policy".into(),
            },
        )
        .expect("change");
    let run = wait_for_change_run(&app, "hudu").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let watch = tenant_view(&app, t).await["changeWatch"].clone();
    let change_at = time_of(&watch["lastChangeAt"]);
    assert!(
        (change_at - changed).num_seconds().abs() < 5,
        "the change's time: {watch}"
    );
    assert!(time_of(&watch["lastPushAt"]) >= change_at, "{watch}");

    // The audit log cannot be read: the watch says why, and shows no secret.
    app.sandbox.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::Graph, FaultKind::ErrorRate(1.0)).on("/v1.0/auditLogs"),
        ],
        ..Faults::default()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let watch = tenant_view(&app, t).await["changeWatch"].clone();
        if let Some(e) = watch["lastError"].as_str() {
            break e.to_owned();
        }
        assert!(Instant::now() < deadline, "no error shown: {watch}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let secret = SandboxConfig::default().graph_client_secret;
    assert!(!error.is_empty() && !error.contains(&secret), "{error}");
    app.cleanup().await;
}

#[tokio::test]
async fn an_authentication_methods_change_is_pushed_and_shown_in_hudu_and_it_glue() {
    let app = watching_app().await;
    app.connect_microsoft().await;
    // Fixture 4 has SMS off (every fifth tenant from 3 has it on).
    let tenants = app.create_tenants(&[4]).await;
    let t = &tenants[0];
    assert!(t
        .fixture
        .auth_methods
        .iter()
        .any(|(id, state)| id == "Sms" && state == "disabled"));
    let on_change = json!({"mode": "manual", "onChange": true});
    app.configure_hudu_with(&tenants, Some(on_change.clone()))
        .await;
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/it-glue",
            Some(
                json!({"apiKey": docsync_e2e::itglue_us_key(), "region": "us",
                        "organizationIdByTenantId": {t.id.clone(): TestApp::company_of(t)},
                        "schedule": on_change}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let first = app.wait_for_run(&app.push(t).await).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    let company = TestApp::company_of(t);
    let article = &app.articles_in(company)[0].content;
    assert!(
        article.contains("<h3>Authentication methods</h3>"),
        "{article}"
    );
    assert!(article.contains("<li>SMS: Off</li>"), "{article}");
    assert!(
        article.contains("<li>Microsoft Authenticator: On</li>"),
        "{article}"
    );
    two_polls_later(&app, t).await;
    assert!(change_runs(&app, "hudu").await.is_empty());

    app.sandbox
        .change_tenant(
            t.fixture.index,
            &TenantChange::SetAuthenticationMethodState {
                method_id: "Sms".into(),
                state: "enabled".into(),
            },
        )
        .expect("the sandbox changes the tenant");
    let run = wait_for_change_run(&app, "hudu").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "change");
    let events = run["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("authentication methods"))),
        "the run says what changed: {events:?}"
    );
    let articles = app.articles_in(company);
    assert_eq!(articles.len(), 1, "written in place");
    assert!(
        articles[0].content.contains("<li>SMS: On</li>"),
        "the article shows SMS on: {}",
        articles[0].content
    );
    let run = wait_for_change_run(&app, "it-glue").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.itglue_assets(&docsync_e2e::itglue_us_key());
    let traits = assets
        .iter()
        .map(|a| Value::Object(a.traits.clone()).to_string())
        .find(|t| t.contains("Authentication methods"))
        .expect("an IT Glue asset with the authentication methods");
    assert!(traits.contains("SMS: On"), "{traits}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_change_made_before_the_first_poll_is_pushed_by_it() {
    // Watched from the moment its watch row is made: a policy added before the tenant's first
    // poll is pushed by that poll, while the older history in a log (each fixture's holds a
    // Conditional Access update of minutes before) is not a change: the other tenant, which
    // did not change, is not pushed.
    const EVERY: Duration = Duration::from_secs(2);
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[9, 10]).await;
    let (t, unchanged) = (&tenants[0], &tenants[1]);
    app.configure_hudu_with(&tenants, Some(json!({"mode": "manual", "onChange": true})))
        .await;
    let (store, broker) = docsync::fleet::connect(&app.settings)
        .await
        .expect("a scheduler");
    let watcher = watcher_on(&app, store, broker.clone(), EVERY);
    app.store()
        .sync_change_watches(EVERY)
        .await
        .expect("watches");
    app.sandbox
        .change_tenant(
            t.fixture.index,
            &TenantChange::AddConditionalAccessPolicy {
                display_name: "Before the first poll".into(),
            },
        )
        .expect("change");
    let due = due_at(&app, t)
        .await
        .expect("watched")
        .max(due_at(&app, unchanged).await.expect("watched"));
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let report = watcher.poll_due().await.expect("poll");
    assert_eq!(report.polled, 2, "{report:?}");
    assert_eq!(report.first_polls, 1, "the unchanged tenant: {report:?}");
    assert_eq!(report.enqueued, 1, "one push, for the change: {report:?}");
    let runs = change_runs(&app, "hudu").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["tenantId"], json!(t.id), "{runs:?}");
    let done = app.wait_for_run(runs[0]["id"].as_str().expect("id")).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(app.articles_in(TestApp::company_of(t))[0]
        .content
        .contains("Before the first poll"));
    broker.close().await;
    app.cleanup().await;
}
