//! Autotask into Hudu, end to end through the real RabbitMQ and PostgreSQL against the
//! sandbox's Autotask (zone discovery, header credentials, JSON query filters, `nextPageUrl`
//! paging, the thread limit per endpoint and the database's shared request threshold): exact
//! assets per layout with configuration items laid out by their category, adoption by serial,
//! zero writes on an unchanged re-sync with incremental reads, changes landing in place, no
//! request over the thread limit, and a database that other integrations have nearly used up
//! never taken past 90% of its threshold.

use docsync_domain::RunId;
use docsync_e2e::{hudu_write_key, spawn_with, TestApp};
use docsync_sandbox::{AtEntity, HuduAsset, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const AT: &str = "/integrations/autotask";

async fn configure(app: &TestApp, extra: Value) -> Value {
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(), "companyIdByTenantId": {},
                        "rateLimit": {"requests": 40, "perSeconds": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let d = SandboxConfig::default().autotask;
    let mut body = json!({"username": d.username, "secret": d.secret, "integrationCode": d.integration_code,
                          "schedule": {"mode": "manual"}, "rateLimit": {"requests": 40, "perSeconds": 1}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, view) = app.call(Method::PUT, AT, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

async fn sync(app: &TestApp) -> Value {
    let (status, body) = app.call(Method::POST, &format!("{AT}/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["runId"].as_str().expect("runId").to_owned();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (status, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        if run["state"] == "succeeded" || run["state"] == "failed" {
            return run;
        }
        assert!(Instant::now() < deadline, "sync did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn layout_id(app: &TestApp, name: &str) -> u64 {
    app.sandbox
        .hudu_layouts()
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.id)
        .unwrap_or_else(|| panic!("no layout {name}"))
}

fn named<'a>(assets: &'a [HuduAsset], name: &str) -> Vec<&'a HuduAsset> {
    assets.iter().filter(|a| a.name == name).collect()
}

#[tokio::test]
async fn autotask_companies_and_records_land_in_hudu_within_the_thread_limit_and_follow_changes() {
    let mut sandbox = SandboxConfig::default();
    // Each answer takes a while inside the emulator's thread slot, so a client that sends
    // more than three at once to one endpoint is refused and seen.
    sandbox.autotask.latency_ms = 300;
    let app = spawn_with(sandbox).await;
    let at = SandboxConfig::default().autotask;
    let servers = app
        .sandbox
        .create_hudu_layout("Servers", &[("Notes", "Text")]);
    configure(
        &app,
        json!({"sortRules": [{"type": "server", "layoutId": servers}], "matchOnSerial": true}),
    )
    .await;

    // The test reports the database's threshold use.
    let (status, test) = app.call(Method::POST, &format!("{AT}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], true, "{test}");
    assert_eq!(
        test["rateLimit"]["reported"]["threshold"], at.threshold,
        "{test}"
    );
    assert!(
        test["firstCompanies"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{test}"
    );

    // First sync: the company list only.
    let before = app.sandbox.hudu_stats().writes;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        before,
        "nothing matched: no writes"
    );
    let (_, list) = app
        .call(Method::GET, &format!("{AT}/companies"), None)
        .await;
    let companies = list["companies"].as_array().expect("companies").clone();
    assert_eq!(companies.len(), at.companies, "{list}");
    let lead = companies
        .iter()
        .find(|c| c["psaId"] == 501)
        .expect("company 501");
    assert_eq!(lead["type"], "Lead", "the company type is named: {list}");
    let contoso = companies
        .iter()
        .find(|c| c["psaId"] == 500)
        .expect("company 500");
    let contoso_hudu = contoso["match"]["suggestedCompanyId"]
        .as_u64()
        .expect("500 shares a Hudu company's name");

    // A hand-made server in Contoso's Servers layout with another name but the item's serial:
    // adopted (and renamed) by serial before any name match.
    let item = app
        .sandbox
        .at_records(AtEntity::ConfigurationItem)
        .into_iter()
        .find(|c| c["id"] == 70000)
        .expect("item 70000");
    let serial = item["serialNumber"].as_str().expect("serial").to_owned();
    let title = item["referenceTitle"].as_str().expect("title").to_owned();
    let hand_made =
        app.sandbox
            .create_hudu_asset(contoso_hudu, servers, "old-server-name", Some(&serial));

    let (status, counts) = app
        .call(Method::POST, &format!("{AT}/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["matched"], 3, "{counts}");
    app.sandbox.reset_autotask_stats();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let stats = app.sandbox.autotask_stats();
    println!("first full sync: {stats:?}");
    assert!(
        stats.max_in_flight_per_endpoint <= 3,
        "never more than 3 requests in flight on one endpoint: {stats:?}"
    );
    assert_eq!(stats.thread_refusals, 0, "{stats:?}");
    assert_eq!(stats.threshold_refusals, 0, "{stats:?}");

    let assets = app.sandbox.hudu_assets();
    let per_company =
        at.contacts_per_company + at.configuration_items_per_company + at.locations_per_company;
    assert_eq!(
        assets.len(),
        at.companies * per_company,
        "one asset per record: {run}"
    );
    let in_layout = |id: u64| assets.iter().filter(|a| a.asset_layout_id == id).count();
    assert_eq!(
        in_layout(servers),
        at.companies,
        "one Server-category item per company, by its category"
    );
    assert_eq!(
        in_layout(layout_id(&app, "Configurations")),
        at.companies * 3
    );
    assert_eq!(
        in_layout(layout_id(&app, "Contacts")),
        at.companies * at.contacts_per_company
    );
    assert_eq!(in_layout(layout_id(&app, "Sites")), at.companies);
    assert_eq!(
        assets.iter().filter(|a| a.archived).count(),
        at.companies * 2,
        "each company's inactive contact and inactive item are archived"
    );
    let adopted = named(&assets, &title);
    assert_eq!(adopted.len(), 1, "adopted by serial, not duplicated");
    assert_eq!(adopted[0].id, hand_made, "the hand-made asset was adopted");
    assert!(named(&assets, "old-server-name").is_empty(), "and renamed");
    let created = app
        .sandbox
        .hudu_companies()
        .into_iter()
        .find(|c| c.name.starts_with("Ironbridge Surveyors"))
        .expect("the inactive company 505 was created");
    assert!(created.archived, "an inactive company arrives archived");

    // Unchanged re-sync: zero Hudu writes, incremental reads.
    let writes = app.sandbox.hudu_stats().writes;
    app.sandbox.reset_autotask_stats();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        writes,
        "an unchanged re-sync writes nothing: {run}"
    );
    let stats = app.sandbox.autotask_stats();
    println!(
        "unchanged re-sync: {} Autotask requests {:?}",
        stats.requests, stats.requests_by_endpoint
    );
    // Per company: locations, and for contacts and items an id listing plus the changed ones.
    assert!(
        stats.requests <= 3 + 1 + (at.companies as u64) * 5,
        "threshold, companies, categories and 5 per company: {stats:?}"
    );

    // Changes land in place: a rename, a deactivation, a deletion, a new contact.
    assert!(app.sandbox.at_update(
        AtEntity::ConfigurationItem,
        70000,
        json!({"referenceTitle": "SRV-RENAMED"})
    ));
    assert!(app
        .sandbox
        .at_update(AtEntity::Contact, 30000, json!({"isActive": 0})));
    assert!(app.sandbox.at_remove(AtEntity::ConfigurationItem, 70001));
    app.sandbox.at_insert(
        AtEntity::Contact,
        json!({"companyID": 500, "firstName": "Grace", "lastName": "Hopper", "isActive": 1, "emailAddress": "grace@example.com"}),
    );
    let count = app.sandbox.hudu_assets().len();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(
        assets.len(),
        count + 1,
        "only the new contact is created: {run}"
    );
    let renamed = named(&assets, "SRV-RENAMED");
    assert_eq!(renamed.len(), 1, "renamed in place");
    assert_eq!(renamed[0].id, hand_made);
    let grace = named(&assets, "Grace Hopper");
    assert_eq!(grace.len(), 1);
    assert_eq!(grace[0].primary_mail.as_deref(), Some("grace@example.com"));
    assert_eq!(run["counts"]["created"], 1, "{run}");
    assert_eq!(
        run["counts"]["archived"], 2,
        "the deactivated contact and the deleted item: {run}"
    );
    assert_eq!(run["counts"]["updated"], 1, "the rename: {run}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_database_other_integrations_nearly_used_up_is_never_taken_past_ninety_percent() {
    let mut sandbox = SandboxConfig::default();
    // A small threshold with a short clock-aligned timeframe, so the test sees it roll over.
    sandbox.autotask.threshold = 100;
    sandbox.autotask.threshold_timeframe_secs = 20;
    let app = spawn_with(sandbox).await;
    configure(&app, json!({})).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let (status, _) = app
        .call(Method::POST, &format!("{AT}/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Wait for a fresh timeframe with room for a few requests only, then let the MSP's other
    // integrations use it up to 85%.
    let timeframe = 20u64;
    loop {
        let into = chrono::Utc::now().timestamp() as u64 % timeframe;
        if into < 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let used = app.sandbox.autotask_stats().current_window_count;
    app.sandbox.autotask_consume(85u32.saturating_sub(used));

    // Watch the window's count while the sync runs: within one timeframe it must stay <= 90.
    let (status, body) = app.call(Method::POST, &format!("{AT}/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run_id = body["runId"].as_str().expect("runId").to_owned();
    let mut peaks: std::collections::BTreeMap<u64, u32> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(240);
    let run = loop {
        let window = chrono::Utc::now().timestamp() as u64 / timeframe;
        let count = app.sandbox.autotask_stats().current_window_count;
        let peak = peaks.entry(window).or_default();
        *peak = (*peak).max(count);
        let (_, run) = app
            .call(Method::GET, &format!("/runs/{run_id}"), None)
            .await;
        if run["state"] == "succeeded" || run["state"] == "failed" {
            break run;
        }
        assert!(Instant::now() < deadline, "sync did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(run["state"], "succeeded", "{run}");
    println!("window peaks while syncing: {peaks:?}");
    assert!(
        peaks.values().all(|p| *p <= 90),
        "no timeframe went past 90% of the threshold: {peaks:?}"
    );
    assert!(
        peaks.len() >= 2,
        "the sync had to wait for the timeframe to roll over: {peaks:?}"
    );
    let stats = app.sandbox.autotask_stats();
    assert_eq!(
        stats.threshold_refusals, 0,
        "no request was refused for the threshold: {stats:?}"
    );
    let id = RunId(uuid::Uuid::parse_str(&run_id).expect("a run id"));
    let events = app.store().run_events(id).await.expect("events");
    let waited = events
        .iter()
        .filter_map(|e| e.detail.as_deref())
        .find(|d| d.contains("waiting: the Autotask database"));
    assert!(
        waited.is_some(),
        "the run's events say why it waited: {events:?}"
    );
    assert!(
        stats.requests > 5,
        "the sync needed more requests than the first timeframe had room for: {stats:?}"
    );
    app.cleanup().await;
}
