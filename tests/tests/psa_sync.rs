//! ConnectWise Manage into Hudu, end to end through the real RabbitMQ and PostgreSQL: the
//! company list and matching, exact asset counts per layout, adoption of hand-made assets,
//! created companies (inactive ones archived), zero writes on an unchanged re-sync, every
//! kind of change landing in place on the next sync, records Hudu refused created once it
//! takes them, and re-matches (away, and back to the old company).

use docsync::fleet::Roles;
use docsync_e2e::{hudu_write_key, spawn_roles, spawn_with, TestApp};
use docsync_sandbox::{CwEntity, HuduAsset, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CW: &str = "/integrations/connectwise-manage";
/// A fleet member of collectors only (with the API): a sync's publish batches wait on their
/// queue until [`PUBLISHERS`] start.
const COLLECTORS: Roles = Roles {
    api: false,
    scheduler: false,
    collector: true,
    publisher: false,
};
/// A fleet member of publishers only.
const PUBLISHERS: Roles = Roles {
    api: false,
    scheduler: false,
    collector: false,
    publisher: true,
};

fn sandbox() -> SandboxConfig {
    // Hudu's own limit stays on (300 per minute); docsync's budget for the key is lower.
    SandboxConfig::default()
}

/// Records synced per ConnectWise company of `cw`: contacts, configurations, the active
/// agreement and sites.
fn records_per_company(cw: &docsync_sandbox::ConnectWiseConfig) -> usize {
    cw.contacts_per_company + cw.configurations_per_company + 1 + cw.sites_per_company
}

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
    let d = SandboxConfig::default().connectwise;
    let mut body = json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id, "publicKey": d.public_key,
                          "privateKey": d.private_key, "clientId": d.client_id, "schedule": {"mode": "manual"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, view) = app.call(Method::PUT, CW, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

/// Starts a sync; returns its run id.
async fn start_sync(app: &TestApp) -> String {
    let (status, body) = app.call(Method::POST, &format!("{CW}/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["runId"].as_str().expect("runId").to_owned()
}

/// Waits until the run is in one of `states` (240 s at most) and returns it.
async fn wait_for_state(app: &TestApp, id: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (status, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        if states.iter().any(|s| run["state"] == *s) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "sync did not reach {states:?}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sync(app: &TestApp) -> Value {
    let id = start_sync(app).await;
    wait_for_state(app, &id, &["succeeded", "failed"]).await
}

/// A first sync fills the company list; then every company is matched to its suggestion or
/// created. Returns the match-all answer.
async fn list_and_match_all(app: &TestApp) -> Value {
    let run = sync(app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let (status, body) = app
        .call(Method::POST, &format!("{CW}/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `PUT /integrations/connectwise-manage/companies` with `matches`, answered 200.
async fn set_matches(app: &TestApp, matches: Value) {
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{CW}/companies"),
            Some(json!({ "matches": matches })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// ConnectWise company 250 matched to Hudu company `company`.
async fn match_250_to(app: &TestApp, company: i64) {
    set_matches(
        app,
        json!([{"psaId": 250, "action": "match", "companyId": company}]),
    )
    .await;
}

/// Configures both integrations and fills the company list, then makes two Hudu companies
/// of their own for ConnectWise company 250 and matches it to the first: `(old, new)`.
async fn company_250_with_two_homes(app: &TestApp) -> (i64, i64) {
    configure(app, json!({})).await;
    let run = sync(app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let old = app.sandbox.create_hudu_company("Old Home") as i64;
    let new = app.sandbox.create_hudu_company("New Home") as i64;
    match_250_to(app, old).await;
    (old, new)
}

/// The Hudu assets of one company (archived ones too).
fn assets_in(app: &TestApp, company: i64) -> Vec<HuduAsset> {
    app.sandbox
        .hudu_assets()
        .into_iter()
        .filter(|a| a.company_id as i64 == company)
        .collect()
}

fn assets_named<'a>(assets: &'a [HuduAsset], company: u64, name: &str) -> Vec<&'a HuduAsset> {
    assets
        .iter()
        .filter(|a| a.company_id == company && a.name == name)
        .collect()
}

fn layout_id(app: &TestApp, name: &str) -> u64 {
    app.sandbox
        .hudu_layouts()
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.id)
        .unwrap_or_else(|| panic!("no layout {name}"))
}

#[tokio::test]
async fn connectwise_companies_and_records_land_in_hudu_once_and_follow_every_change() {
    let app = spawn_with(sandbox()).await;
    let cw = SandboxConfig::default().connectwise;
    configure(&app, json!({})).await;

    // A first sync with nothing matched fills the company list and writes nothing.
    let before = app.sandbox.hudu_stats();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["kind"], "sync");
    assert!(run["tenantId"].is_null());
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        before.writes,
        "nothing matched: no writes"
    );
    let (status, list) = app
        .call(Method::GET, &format!("{CW}/companies"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let companies = list["companies"].as_array().expect("companies").clone();
    assert_eq!(companies.len(), cw.companies, "{list}");
    assert!(
        companies.iter().all(|c| c["match"]["state"] == "unmatched"),
        "{list}"
    );
    let suggested: Vec<&Value> = companies
        .iter()
        .filter(|c| c["match"]["suggestedCompanyId"].is_i64())
        .collect();
    assert_eq!(
        suggested.len(),
        cw.companies.div_ceil(2),
        "even companies share a Hudu company's name: {list}"
    );

    // A hand-made asset of the same name as a CW configuration, in a layout of the default name.
    let configurations = app.sandbox.cw_records(CwEntity::Configuration);
    let first = configurations
        .iter()
        .find(|c| c["company"]["id"] == 250)
        .expect("a configuration of company 250");
    let first_name = first["name"].as_str().expect("name").to_owned();
    let layout = app
        .sandbox
        .create_hudu_layout("Configurations", &[("Notes", "Text")]);
    let hand_made = app.sandbox.create_hudu_asset(1, layout, &first_name, None);

    let (status, counts) = app
        .call(Method::POST, &format!("{CW}/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["matched"], suggested.len());
    assert_eq!(counts["create"], cw.companies - suggested.len());

    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    let per_company = records_per_company(&cw);
    assert_eq!(
        assets.len(),
        cw.companies * per_company,
        "one asset per record: {run}"
    );
    let in_layout = |name: &str| {
        let id = layout_id(&app, name);
        assets.iter().filter(|a| a.asset_layout_id == id).count()
    };
    assert_eq!(
        in_layout("Contacts"),
        cw.companies * cw.contacts_per_company
    );
    assert_eq!(
        in_layout("Configurations"),
        cw.companies * cw.configurations_per_company
    );
    assert_eq!(
        in_layout("Agreements"),
        cw.companies,
        "only active agreements"
    );
    assert_eq!(in_layout("Sites"), cw.companies * cw.sites_per_company);
    let adopted = assets_named(&assets, 1, &first_name);
    assert_eq!(
        adopted.len(),
        1,
        "the hand-made asset is adopted, not duplicated"
    );
    assert_eq!(adopted[0].id, hand_made);
    assert!(
        adopted[0]
            .fields
            .iter()
            .any(|(label, _)| label == "Serial Number"),
        "missing layout fields were added"
    );
    assert_eq!(
        assets.iter().filter(|a| a.archived).count(),
        cw.companies,
        "each company's inactive configuration is archived"
    );
    // Created companies: the unsuggested ones, the inactive last one archived.
    let hudu_companies = app.sandbox.hudu_companies();
    let cw_companies = app.sandbox.cw_records(CwEntity::Company);
    let last = cw_companies
        .iter()
        .max_by_key(|c| c["id"].as_i64())
        .expect("companies");
    let created = hudu_companies
        .iter()
        .find(|c| Some(c.name.as_str()) == last["name"].as_str())
        .expect("the inactive company was created");
    assert!(created.archived, "an inactive company arrives archived");
    assert_eq!(
        run["counts"]["created"].as_i64().unwrap_or_default() as usize,
        assets.len() - 1 + (cw.companies - suggested.len()),
        "{run}"
    );

    // Re-sync of unchanged data: zero Hudu writes.
    let writes = app.sandbox.hudu_stats().writes;
    app.sandbox.reset_cw_stats();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        writes,
        "an unchanged re-sync writes nothing: {run}"
    );
    assert_eq!(run["counts"]["created"], 0);
    assert_eq!(run["counts"]["updated"], 0);
    let cw_requests = app.sandbox.cw_stats();
    println!(
        "unchanged re-sync: {} ConnectWise requests ({:?})",
        cw_requests.requests, cw_requests.by_path
    );
    assert!(
        cw_requests.requests <= 3 + (cw.companies as u64) * 4,
        "one listing per kind per company plus the company list: {cw_requests:?}"
    );

    // Changes: a rename, a deactivation, a deletion, a new record.
    let configs_250: Vec<&Value> = configurations
        .iter()
        .filter(|c| c["company"]["id"] == 250)
        .collect();
    let renamed_id = configs_250[1]["id"].as_u64().expect("id");
    let removed_id = configs_250[2]["id"].as_u64().expect("id");
    assert!(app.sandbox.cw_update(
        CwEntity::Configuration,
        renamed_id,
        json!({"name": "SRV-RENAMED"})
    ));
    assert!(app.sandbox.cw_remove(CwEntity::Configuration, removed_id));
    let contact = app
        .sandbox
        .cw_records(CwEntity::Contact)
        .into_iter()
        .find(|c| c["company"]["id"] == 250)
        .expect("contact");
    let contact_id = contact["id"].as_u64().expect("id");
    assert!(app
        .sandbox
        .cw_update(CwEntity::Contact, contact_id, json!({"inactiveFlag": true})));
    app.sandbox.cw_insert(CwEntity::Contact, json!({"firstName": "Grace", "lastName": "Hopper", "company": {"id": 250}, "inactiveFlag": false}));
    let asset_count = app.sandbox.hudu_assets().len();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(
        assets.len(),
        asset_count + 1,
        "only the new contact is created: {run}"
    );
    assert_eq!(
        assets_named(&assets, 1, "SRV-RENAMED").len(),
        1,
        "renamed in place"
    );
    assert_eq!(assets_named(&assets, 1, "Grace Hopper").len(), 1);
    let contact_name = format!(
        "{} {}",
        contact["firstName"].as_str().unwrap_or(""),
        contact["lastName"].as_str().unwrap_or("")
    );
    assert!(
        assets_named(&assets, 1, contact_name.trim())
            .iter()
            .all(|a| a.archived),
        "deactivated contact archived"
    );
    let removed_name = configs_250[2]["name"].as_str().expect("name");
    assert!(
        assets_named(&assets, 1, removed_name)
            .iter()
            .all(|a| a.archived),
        "deleted configuration archived"
    );
    assert_eq!(run["counts"]["created"], 1, "{run}");
    assert_eq!(run["counts"]["archived"], 2, "{run}");

    // Reactivated: unarchived in place.
    assert!(app.sandbox.cw_update(
        CwEntity::Contact,
        contact_id,
        json!({"inactiveFlag": false})
    ));
    let writes = app.sandbox.hudu_stats().writes;
    let run = sync(&app).await;
    assert_eq!(run["counts"]["unarchived"], 1, "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes - writes,
        2,
        "one unarchive and one update in place, nothing else: {run}"
    );
    let assets = app.sandbox.hudu_assets();
    assert!(assets_named(&assets, 1, contact_name.trim())
        .iter()
        .all(|a| !a.archived));
    assert_eq!(assets.len(), asset_count + 1);

    // autoUpdateNames false: a rename keeps the name, other fields still update.
    configure(&app, json!({"autoUpdateNames": false})).await;
    assert!(app.sandbox.cw_update(
        CwEntity::Configuration,
        renamed_id,
        json!({"name": "SRV-AGAIN", "serialNumber": "SN-NEW"})
    ));
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    let kept = assets_named(&assets, 1, "SRV-RENAMED");
    assert_eq!(kept.len(), 1, "the name is kept");
    assert_eq!(
        kept[0].primary_serial.as_deref(),
        Some("SN-NEW"),
        "other fields update"
    );
    assert!(assets_named(&assets, 1, "SRV-AGAIN").is_empty());
    assert_eq!(
        assets.len(),
        asset_count + 1,
        "nothing duplicated after an options change"
    );
    app.cleanup().await;
}

/// ConnectWise company 250 alone with `configurations` configurations (its contacts,
/// agreements and sites skipped), matched to its namesake in Hudu; Hudu's budget 400 a
/// second (the sandbox's own limit off), ConnectWise's 50.
async fn one_company_of_configurations(configurations: usize) -> TestApp {
    let mut config = sandbox();
    config.connectwise.companies = 1;
    config.hudu_rate_limit = None;
    let app = spawn_with(config).await;
    docsync_e2e::configure_hudu(&app, 400).await;
    let d = SandboxConfig::default().connectwise;
    let (status, view) = app
        .call(
            Method::PUT,
            CW,
            Some(json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id, "publicKey": d.public_key,
                        "privateKey": d.private_key, "clientId": d.client_id, "schedule": {"mode": "manual"},
                        "skip": {"contacts": true, "agreements": true, "sites": true},
                        "rateLimit": {"requests": 50, "perSeconds": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    app.sandbox
        .cw_add_configurations(250, configurations - d.configurations_per_company);
    list_and_match_all(&app).await;
    app
}

#[tokio::test]
async fn one_company_with_1200_configurations_is_read_and_written_whole() {
    let app = one_company_of_configurations(1_200).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(assets.len(), 1_200, "every configuration written: {run}");
    let names: std::collections::HashSet<&str> = assets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names.len(),
        app.sandbox
            .cw_records(CwEntity::Configuration)
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    assert!(app.sandbox.hudu_stats().rejected_429 == 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_company_of_many_pages_is_written_from_its_first_page_on_and_adopts_on_every_page() {
    // One matched company of 2,500 configurations (3 pages of 1,000), every ConnectWise
    // request 400 ms late: the first records are written while the later pages are read, and
    // the adoption pass of its first sync still takes the hand-made assets of the first and
    // of the last page (a pass over the first part only would duplicate the last one).
    let app = one_company_of_configurations(2_500).await;
    let mut configurations: Vec<Value> = app
        .sandbox
        .cw_records(CwEntity::Configuration)
        .into_iter()
        .filter(|c| c["company"]["id"] == 250)
        .collect();
    configurations.sort_by_key(|c| c["id"].as_u64());
    let name = |c: &Value| c["name"].as_str().expect("name").to_owned();
    let (first_name, last_name) = (name(&configurations[0]), name(&configurations[2_499]));
    let layout = app
        .sandbox
        .create_hudu_layout("Configurations", &[("Notes", "Text")]);
    let first_made = app.sandbox.create_hudu_asset(1, layout, &first_name, None);
    let last_made = app.sandbox.create_hudu_asset(1, layout, &last_name, None);
    app.sandbox.set_faults(docsync_sandbox::Faults {
        rules: vec![docsync_sandbox::FaultRule::new(
            docsync_sandbox::FaultProvider::ConnectWise,
            docsync_sandbox::FaultKind::LatencyMs(400),
        )],
        ..docsync_sandbox::Faults::default()
    });
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let read_at = docsync_e2e::event_at(&run, "read 1 companies");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(assets.len(), 2_500, "every configuration once: {run}");
    for (made, name) in [(first_made, &first_name), (last_made, &last_name)] {
        let named = assets_named(&assets, 1, name);
        assert_eq!(named.len(), 1, "{name} adopted, not duplicated: {run}");
        assert_eq!(named[0].id, made, "{name}: the hand-made asset was adopted");
    }
    let first_write = assets
        .iter()
        .filter(|a| a.id != first_made && a.id != last_made)
        .map(|a| a.created_at)
        .min()
        .expect("assets");
    let ahead = (read_at - first_write).num_milliseconds();
    println!("first asset created {ahead} ms before the company's last page was read");
    assert!(
        ahead >= 500,
        "the first asset was created {ahead} ms before the company was read whole: {run}"
    );
    assert_eq!(app.sandbox.hudu_stats().rejected_429, 0);
    // Nothing is written twice on the next sync, and nothing was archived for being unlisted.
    app.sandbox.set_faults(docsync_sandbox::Faults::default());
    let again = sync(&app).await;
    assert_eq!(again["counts"]["created"], 0, "{again}");
    assert_eq!(again["counts"]["archived"], 0, "{again}");
    assert_eq!(app.sandbox.hudu_assets().len(), 2_500);
    app.cleanup().await;
}

/// A ConnectWise sync run of the account, collecting, that no collector works on.
async fn collecting_sync_run(app: &TestApp) -> docsync_domain::RunId {
    let store = app.store();
    let run = store
        .create_sync_run(
            app.account,
            docsync_domain::psa::PsaKind::ConnectWiseManage,
            docsync_domain::Trigger::Manual,
        )
        .await
        .expect("run");
    store.begin_collecting(run).await.expect("collecting");
    run
}

#[tokio::test]
async fn a_part_of_a_read_is_stored_until_the_read_is_whole_and_never_over_it() {
    use docsync_store::{PayloadBody, PlannedPayload, PlannedPayloadState};
    let app = spawn_with(sandbox()).await;
    let store = app.store();
    let run = collecting_sync_run(&app).await;
    let planned = PlannedPayload {
        kind: "psa-company".into(),
        source_key: "connectwise-manage:250".into(),
        seq: 0,
        read_started_at: chrono::Utc::now(),
    };
    let gone = PlannedPayload {
        source_key: "connectwise-manage:251".into(),
        seq: 1,
        ..planned.clone()
    };
    store
        .plan_payloads(app.account, run, &[planned, gone])
        .await
        .expect("plan");
    store
        .sync_collected(run, "planned")
        .await
        .expect("publishing");
    let state =
        |after: i32| async move { store.planned_payload(run, 0, after).await.expect("state") };
    assert_eq!(state(0).await, PlannedPayloadState::Unread);
    // Parts are numbered as stored; a publisher that wrote part 1 hears of part 2, not 1.
    let part = |n: i32| json!({ "records": n });
    assert_eq!(
        store
            .fill_payload_part(run, 0, &part(1))
            .await
            .expect("part"),
        Some(1)
    );
    assert_eq!(
        state(0).await,
        PlannedPayloadState::Part {
            part: 1,
            body: part(1)
        }
    );
    assert_eq!(
        state(1).await,
        PlannedPayloadState::Unread,
        "nothing newer than part 1"
    );
    assert_eq!(
        store
            .fill_payload_part(run, 0, &part(2))
            .await
            .expect("part"),
        Some(2)
    );
    assert_eq!(
        state(1).await,
        PlannedPayloadState::Part {
            part: 2,
            body: part(2)
        }
    );
    // A part's company gone from the PSA is dropped like an unread one.
    store
        .fill_payload_part(run, 1, &part(1))
        .await
        .expect("part");
    store.drop_payload(run, 1).await.expect("drop");
    assert_eq!(
        store.planned_payload(run, 1, 0).await.expect("state"),
        PlannedPayloadState::Dropped
    );
    // The whole read, whatever part was seen; a late part never replaces it.
    store.fill_payload(run, 0, &part(3)).await.expect("whole");
    assert_eq!(state(2).await, PlannedPayloadState::Read(part(3)));
    assert_eq!(state(i32::MAX).await, PlannedPayloadState::Read(part(3)));
    assert_eq!(
        store
            .fill_payload_part(run, 0, &part(4))
            .await
            .expect("late part"),
        None
    );
    store.drop_payload(run, 0).await.expect("drop");
    let stored = store.payloads(run, "psa-company").await.expect("payloads");
    assert_eq!(stored.len(), 1, "a whole read is never dropped");
    assert_eq!(stored[0].body, PayloadBody::Whole(part(3)));
    app.cleanup().await;
}

#[tokio::test]
async fn a_batch_waiting_for_a_company_still_being_read_says_so_once_while_it_lasts() {
    let app = spawn_with(sandbox()).await;
    let store = app.store();
    let run = collecting_sync_run(&app).await;
    let waiting = "waiting for company 3 of the run: its records are still being read";
    for _ in 0..3 {
        store
            .sync_event_unless_last(run, waiting)
            .await
            .expect("event");
    }
    store
        .sync_event(run, "retrying in 10 s")
        .await
        .expect("event");
    store
        .sync_event_unless_last(run, waiting)
        .await
        .expect("event");
    let (status, body) = app.call(Method::GET, &format!("/runs/{run}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let said: Vec<&str> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .filter(|d| *d == waiting || d.starts_with("retrying"))
        .collect();
    assert_eq!(said, [waiting, "retrying in 10 s", waiting], "{body}");
    app.cleanup().await;
}

#[tokio::test]
async fn bad_input_names_every_field_and_secrets_stay_masked() {
    let app = spawn_with(sandbox()).await;
    let (status, body) = app
        .call(
            Method::PUT,
            CW,
            Some(json!({"site": "", "companyId": "my msp", "publicKey": "x", "clientId": "not-a-guid",
                        "layouts": {"contacts": -1}, "sortRules": [{"type": "", "layoutId": 0}],
                        "skip": {"companyTypes": [""], "bogus": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for expected in [
        "site",
        "companyId",
        "publicKey",
        "privateKey",
        "clientId",
        "layouts.contacts",
        "sortRules[0].type",
        "sortRules[0].layoutId",
        "skip.bogus",
    ] {
        assert!(fields.contains(&expected), "{expected} not named: {body}");
    }
    let view = configure(&app, json!({})).await;
    let d = SandboxConfig::default().connectwise;
    let text = view.to_string();
    assert!(
        !text.contains(&d.private_key) && !text.contains(&d.public_key),
        "{view}"
    );
    assert!(
        view["privateKey"]
            .as_str()
            .is_some_and(|k| k.starts_with("••••")),
        "{view}"
    );
    let (status, test) = app.call(Method::POST, &format!("{CW}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], true, "{test}");
    assert_eq!(
        test["firstCompanies"].as_array().map(Vec::len),
        Some(d.companies.min(10)),
        "{test}"
    );
    // Wrong keys: explained in words, still 200.
    let (status, _) = app
        .call(
            Method::PUT,
            CW,
            Some(
                json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id,
        "publicKey": "wrongpublic01234", "privateKey": "wrongprivate0123", "clientId": d.client_id}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, test) = app.call(Method::POST, &format!("{CW}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], false, "{test}");
    assert!(
        test["message"]
            .as_str()
            .is_some_and(|m| m.contains("publicKey")),
        "{test}"
    );
    let (status, body) = app
        .call(Method::PUT, &format!("{CW}/companies"), Some(json!({"matches": [{"psaId": 999999, "action": "create"}, {"psaId": 1, "action": "merge"}]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("matches[1].action"), "{body}");
    // A psaId that is not in the company list: bad input too, named, nothing changed.
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{CW}/companies"),
            Some(json!({"matches": [{"psaId": 999999, "action": "create"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"][0]["field"], "matches[0].psaId", "{body}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_sync_and_a_posture_push_all_share_the_hudu_key_under_a_strict_limit() {
    let mut config = sandbox();
    // Strict: 60 requests per 10 s window per key, refusals counted.
    config.hudu_rate_limit = Some(docsync_sandbox::WindowLimit {
        requests: 60,
        window_secs: 10,
        send_retry_after: false,
    });
    config.connectwise.companies = 2;
    let app = spawn_with(config).await;
    let tenants = app.setup_hudu(&[1, 2, 3, 4]).await;
    // docsync's budget for the key: 5 per second (50 per 10 s), under the sandbox's 60.
    let mapping: serde_json::Map<String, Value> = tenants
        .iter()
        .map(|t| (t.id.clone(), json!(TestApp::company_of(t))))
        .collect();
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(
                json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(),
              "companyIdByTenantId": mapping, "rateLimit": {"requests": 5, "perSeconds": 1}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let d = SandboxConfig::default().connectwise;
    let (status, view) = app
        .call(Method::PUT, CW, Some(json!({"site": app.sandbox.connectwise_url, "companyId": d.company_id, "publicKey": d.public_key,
              "privateKey": d.private_key, "clientId": d.client_id, "schedule": {"mode": "manual"}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let first = sync(&app).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    app.call(Method::POST, &format!("{CW}/companies/match-all"), None)
        .await;

    // Both at once: the sync's writes and the pushes' writes draw on one budget.
    let (status, body) = app.call(Method::POST, &format!("{CW}/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let sync_id = body["runId"].as_str().expect("runId").to_owned();
    let pushes = app.push_all("hudu").await;
    assert_eq!(pushes.len(), tenants.len());
    let finished = app.wait_for_runs(&pushes, Duration::from_secs(240)).await;
    assert!(
        finished.iter().all(|r| r["state"] == "succeeded"),
        "{finished:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(240);
    let run = loop {
        let (_, run) = app
            .call(Method::GET, &format!("/runs/{sync_id}"), None)
            .await;
        if run["state"] == "succeeded" || run["state"] == "failed" {
            break run;
        }
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["state"], "succeeded", "{run}");
    let stats = app.sandbox.hudu_stats();
    assert_eq!(
        stats.rejected_429, 0,
        "no request over the budget: {stats:?}"
    );
    assert!(stats.max_requests_in_any_window <= 60, "{stats:?}");
    let per_company = records_per_company(&d);
    assert_eq!(
        app.sandbox.hudu_assets().len(),
        2 * per_company,
        "nothing lost"
    );
    for t in &tenants {
        assert_eq!(app.articles_in(TestApp::company_of(t)).len(), 1);
    }
    // ConnectWise calls were paced by the PSA key's own budget (10 per second).
    assert!(
        app.sandbox.cw_stats().max_requests_in_any_second <= 10,
        "{:?}",
        app.sandbox.cw_stats()
    );
    app.cleanup().await;
}

#[tokio::test]
async fn company_changes_follow_the_options_and_the_test_names_a_missing_role() {
    let mut config = sandbox();
    config.connectwise.companies = 3;
    let app = spawn_with(config).await;
    let cw = SandboxConfig::default().connectwise;
    configure(&app, json!({"updateCompanyDetails": false})).await;
    sync(&app).await;
    // Company 251 has no Hudu namesake: created; 250 matches Hudu company 1.
    let (status, list) = app
        .call(Method::PUT, &format!("{CW}/companies"), Some(json!({"matches": [
            {"psaId": 250, "action": "match", "companyId": 1}, {"psaId": 251, "action": "create"}, {"psaId": 252, "action": "ignore"}]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let hudu_1 = app
        .sandbox
        .hudu_companies()
        .into_iter()
        .find(|c| c.id == 1)
        .expect("company 1");
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let after = app.sandbox.hudu_companies();
    assert_eq!(
        after.iter().find(|c| c.id == 1),
        Some(&hudu_1),
        "updateCompanyDetails false: the matched company is untouched"
    );
    let name_251 = app
        .sandbox
        .cw_records(CwEntity::Company)
        .into_iter()
        .find(|c| c["id"] == 251)
        .expect("251")["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let created: Vec<_> = after.iter().filter(|c| c.name == name_251).collect();
    assert_eq!(created.len(), 1, "a create company is created once");
    let created_id = created[0].id;
    let ignored_assets = app
        .sandbox
        .hudu_assets()
        .iter()
        .filter(|a| a.company_id != 1 && a.company_id != created_id)
        .count();
    assert_eq!(ignored_assets, 0, "an ignored company brings nothing in");
    let (_, list) = app
        .call(Method::GET, &format!("{CW}/companies"), None)
        .await;
    let c251 = list["companies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["psaId"] == 251)
        .expect("251")
        .clone();
    assert_eq!(c251["match"]["state"], "matched", "{c251}");
    assert_eq!(c251["match"]["companyId"], created_id);

    // The created company is renamed and deactivated in the PSA: in place, then archived.
    configure(&app, json!({"updateCompanyDetails": true})).await;
    assert!(app.sandbox.cw_update(
        CwEntity::Company,
        251,
        json!({"name": "Renamed Pty Ltd", "status": {"id": 2, "name": "Inactive"}})
    ));
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let company = app
        .sandbox
        .hudu_companies()
        .into_iter()
        .find(|c| c.id == created_id)
        .expect("same company");
    assert_eq!(company.name, "Renamed Pty Ltd");
    assert!(company.archived);
    // Active again: unarchived in place.
    assert!(app.sandbox.cw_update(
        CwEntity::Company,
        251,
        json!({"status": {"id": 1, "name": "Active"}})
    ));
    sync(&app).await;
    let company = app
        .sandbox
        .hudu_companies()
        .into_iter()
        .find(|c| c.id == created_id)
        .expect("same company");
    assert!(!company.archived);
    assert_eq!(
        app.sandbox
            .hudu_companies()
            .iter()
            .filter(|c| c.name == "Renamed Pty Ltd")
            .count(),
        1
    );

    // An API member whose role lacks Inquire on Configurations: the test says what to grant.
    let (status, _) = app
        .call(Method::PUT, CW, Some(json!({"site": app.sandbox.connectwise_url, "companyId": cw.company_id,
              "publicKey": cw.limited_public_key, "privateKey": cw.limited_private_key, "clientId": cw.client_id})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, test) = app.call(Method::POST, &format!("{CW}/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["credentialsValid"], true, "{test}");
    let layouts = test["layouts"].as_array().expect("layouts");
    assert!(
        layouts.iter().any(|l| l["kind"] == "configurations"
            && l["ok"] == false
            && l["message"].as_str().is_some_and(|m| m.contains("Inquire"))),
        "{test}"
    );
    // An unknown company id: named.
    let (status, _) = app
        .call(
            Method::PUT,
            CW,
            Some(
                json!({"site": app.sandbox.connectwise_url, "companyId": "nosuchmsp",
              "publicKey": cw.public_key, "privateKey": cw.private_key, "clientId": cw.client_id}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, test) = app.call(Method::POST, &format!("{CW}/test"), None).await;
    assert!(
        test["message"]
            .as_str()
            .is_some_and(|m| m.contains("companyId")),
        "{test}"
    );
    assert_eq!(test["credentialsValid"], false);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_hudu_answers_keep_the_budget_busy_across_companies_without_a_429() {
    // 8 companies of 40 configurations, every Hudu request 500 ms late, a strict limit of 600
    // per 30 s window per key and the same budget for docsync (20 per second; a long window,
    // so that counting each call at its answer costs little of it): at 500 ms a request the
    // budget needs 10 writes under way, and companies one after another, each waiting for its
    // company write, its adoption listing and its slowest answers, would leave it idle.
    let mut config = sandbox();
    config.connectwise.companies = 8;
    config.connectwise.configurations_per_company = 40;
    config.hudu_rate_limit = Some(docsync_sandbox::WindowLimit {
        requests: 600,
        window_secs: 30,
        send_retry_after: false,
    });
    let app = spawn_with(config).await;
    configure(
        &app,
        json!({"skip": {"contacts": true, "agreements": true, "sites": true}}),
    )
    .await;
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(), "companyIdByTenantId": {},
                        "rateLimit": {"requests": 600, "perSeconds": 30}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let listed = sync(&app).await;
    assert_eq!(listed["state"], "succeeded", "{listed}");
    let (status, body) = app
        .call(Method::POST, &format!("{CW}/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.sandbox.set_faults(docsync_sandbox::Faults {
        rules: vec![docsync_sandbox::FaultRule::new(
            docsync_sandbox::FaultProvider::Hudu,
            docsync_sandbox::FaultKind::LatencyMs(500),
        )],
        ..docsync_sandbox::Faults::default()
    });
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let assets = app.sandbox.hudu_assets();
    assert_eq!(assets.len(), 8 * 40, "every configuration written: {run}");
    let stats = app.sandbox.hudu_stats();
    assert_eq!(
        stats.rejected_429, 0,
        "no request over the budget: {stats:?}"
    );
    assert!(stats.max_requests_in_any_window <= 600, "{stats:?}");
    // The asset creates went out at the budget's pace: from the first to the last no longer
    // than the budget needs for them and a few answers (one at a time per company, or 8 at
    // a time waiting for the slowest, takes twice as long or more).
    let first = assets.iter().map(|a| a.created_at).min().expect("assets");
    let last = assets.iter().map(|a| a.created_at).max().expect("assets");
    let span = (last - first).num_milliseconds() as f64 / 1000.0;
    let at_budget = assets.len() as f64 / 20.0;
    println!(
        "{} creates in {span:.1} s (the budget's pace: {at_budget:.1} s); {stats:?}",
        assets.len()
    );
    assert!(
        span <= 1.3 * at_budget + 2.0,
        "creates took {span:.1} s, the budget allows them in {at_budget:.1} s: {stats:?}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_redelivered_sync_batch_counts_the_records_hudu_refused_once() {
    let mut config = sandbox();
    config.hudu_rate_limit = None;
    let cw = config.connectwise.clone();
    // Collectors only at first: the run's first publish batch waits on its queue.
    let app = spawn_roles(config, COLLECTORS).await;
    configure(&app, json!({})).await;
    list_and_match_all(&app).await;
    // Hudu refuses every contact: its layout requires a field docsync does not fill.
    app.sandbox
        .create_hudu_layout_requiring("Contacts", &[("Badge", "Text")], &["Badge"]);
    // More writes than one batch holds, so the run is still publishing after its first.
    app.sandbox.cw_add_configurations(250, 250);
    let id = start_sync(&app).await;
    wait_for_state(&app, &id, &["publishing"]).await;
    // The first batch delivered twice, as RabbitMQ does when a publisher's ack is lost.
    let batch = docsync_queue::PublishJob::sync(
        id.parse().expect("run id"),
        docsync_domain::rate_limit_key(docsync_domain::Provider::Hudu, app.account),
        docsync_queue::SyncBatch::default(),
    );
    app.broker().enqueue_publish(&batch).await.expect("enqueue");
    let publisher = app.start_member(PUBLISHERS).await;
    let run = wait_for_state(&app, &id, &["succeeded", "failed"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let contacts = cw.companies * cw.contacts_per_company;
    assert_eq!(
        run["counts"]["failed"].as_u64(),
        Some(contacts as u64),
        "each refused contact counted once: {run}"
    );
    let contacts_layout = layout_id(&app, "Contacts");
    assert!(
        app.sandbox
            .hudu_assets()
            .iter()
            .all(|a| a.asset_layout_id != contacts_layout),
        "Hudu refused every contact"
    );
    publisher.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn records_hudu_refused_count_as_failed_only_and_are_created_once_when_hudu_takes_them() {
    let mut config = sandbox();
    config.hudu_rate_limit = None;
    let cw = config.connectwise.clone();
    let app = spawn_with(config).await;
    configure(&app, json!({})).await;
    list_and_match_all(&app).await;
    // Hudu refuses every contact's create (a 422): its layout requires a field docsync does
    // not fill. Nothing was made, so nothing is left to recover: no create stays pending.
    let contacts_layout =
        app.sandbox
            .create_hudu_layout_requiring("Contacts", &[("Badge", "Text")], &["Badge"]);
    let contacts = (cw.companies * cw.contacts_per_company) as u64;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["failed"].as_u64(), Some(contacts), "{run}");
    assert_eq!(
        run["counts"]["unchanged"], 0,
        "a refused record is failed, not unchanged: {run}"
    );
    let contact_assets = |app: &TestApp| -> Vec<HuduAsset> {
        app.sandbox
            .hudu_assets()
            .into_iter()
            .filter(|a| a.asset_layout_id == contacts_layout)
            .collect()
    };
    assert!(
        contact_assets(&app).is_empty(),
        "Hudu refused every contact"
    );
    let (db, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("the test's database");
    tokio::spawn(conn);
    let pending: i64 = db
        .query_one(
            "SELECT count(*) FROM remote_objects WHERE remote_id = ''",
            &[],
        )
        .await
        .expect("pending creates")
        .get(0);
    assert_eq!(pending, 0, "no create Hudu refused is left to recover");

    // The layout no longer requires the field: the next sync creates each contact once.
    assert!(app
        .sandbox
        .set_hudu_field_required(contacts_layout, "Badge", false));
    let before = app.sandbox.hudu_stats();
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let after = app.sandbox.hudu_stats();
    assert_eq!(run["counts"]["failed"], 0, "{run}");
    assert_eq!(run["counts"]["created"].as_u64(), Some(contacts), "{run}");
    let written = contact_assets(&app);
    assert_eq!(
        written.len() as u64,
        contacts,
        "one asset per contact: {run}"
    );
    let mut names: Vec<(u64, &str)> = written
        .iter()
        .map(|a| (a.company_id, a.name.as_str()))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len() as u64,
        contacts,
        "nothing duplicated: {written:?}"
    );
    assert_eq!(
        after.asset_writes - before.asset_writes,
        contacts,
        "one write per contact: {run}"
    );

    // Nothing left to write.
    let writes = app.sandbox.hudu_stats().writes;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.sandbox.hudu_stats().writes, writes, "{run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert_eq!(contact_assets(&app).len() as u64, contacts);
    app.cleanup().await;
}

#[tokio::test]
async fn push_and_sync_runs_share_one_state_machine_that_only_moves_forward() {
    use docsync_domain::psa::PsaKind;
    use docsync_domain::{Provider, RunState, Trigger};
    use docsync_store::{AnyRun, NewRun, SyncCounts};
    // No workers: the test moves the runs itself, as the collector and publisher would.
    let app = spawn_roles(sandbox(), Roles::default()).await;
    let store = app.store();
    let sync = store
        .create_sync_run(app.account, PsaKind::ConnectWiseManage, Trigger::Manual)
        .await
        .expect("sync run");
    let tenant = app.create_tenants(&[1]).await.remove(0);
    let push = store
        .create_runs(
            app.account,
            &[NewRun {
                tenant_id: tenant.id.parse().expect("tenant id"),
                provider: Provider::Hudu,
                trigger: Trigger::Manual,
            }],
        )
        .await
        .expect("push run")[0];

    // One claim serves both kinds and says which the run is.
    match store.begin_collecting(sync).await.expect("claim") {
        Some(AnyRun::Sync(run)) => {
            assert_eq!((run.state, run.attempts), (RunState::Collecting, 1));
        }
        other => panic!("a sync run claimed as {other:?}"),
    }
    match store.begin_collecting(push).await.expect("claim") {
        Some(AnyRun::Push(run)) => {
            assert_eq!((run.state, run.attempts), (RunState::Collecting, 1));
        }
        other => panic!("a push run claimed as {other:?}"),
    }
    // A redelivered collect job claims it again (counting the attempt).
    assert!(matches!(
        store.begin_collecting(sync).await.expect("claim"),
        Some(AnyRun::Sync(r)) if r.attempts == 2
    ));
    // Each kind's own steps move only runs of that kind.
    assert!(store
        .sync_collected(push, "read")
        .await
        .expect("step")
        .is_none());
    assert!(store.begin_publishing(sync).await.expect("step").is_none());

    // The sync moves forward to its end.
    let run = store
        .sync_collected(sync, "read 1 company")
        .await
        .expect("step")
        .expect("publishing");
    assert_eq!(run.state, RunState::Publishing);
    assert!(store.begin_collecting(sync).await.expect("claim").is_none());
    assert!(store
        .begin_sync_publishing(sync)
        .await
        .expect("claim")
        .is_some());
    let counts = SyncCounts {
        created: 3,
        failed: 1,
        ..SyncCounts::default()
    };
    let done = store
        .sync_succeeded(sync, &counts, "3 created")
        .await
        .expect("step")
        .expect("succeeded");
    assert_eq!((done.state, done.counts), (RunState::Succeeded, counts));
    assert!(done.finished_at.is_some());
    let events = store.run_events(sync).await.expect("events").len();

    // Redelivered messages never reopen or change a finished run of either kind.
    let failed = store
        .failed_any(push, "the tenant was deleted")
        .await
        .expect("step");
    assert!(matches!(failed, Some(AnyRun::Push(r)) if r.state == RunState::Failed));
    for id in [sync, push] {
        assert!(store.begin_collecting(id).await.expect("claim").is_none());
        assert!(store
            .begin_sync_publishing(id)
            .await
            .expect("claim")
            .is_none());
        assert!(store.begin_publishing(id).await.expect("claim").is_none());
        assert!(store.failed_any(id, "late").await.expect("step").is_none());
        assert!(!store.retry_or_fail(id, "late", None).await.expect("step"));
    }
    assert!(store
        .sync_succeeded(sync, &SyncCounts::default(), "again")
        .await
        .expect("step")
        .is_none());
    let after = store
        .sync_run_for_worker(sync)
        .await
        .expect("read")
        .expect("the run");
    assert_eq!((after.state, after.counts), (RunState::Succeeded, counts));
    assert_eq!(after.error, None);
    assert_eq!(store.run_events(sync).await.expect("events").len(), events);
    match store.any_run_for_worker(push).await.expect("read") {
        Some(AnyRun::Push(r)) => {
            assert_eq!(r.state, RunState::Failed);
            assert_eq!(r.error.as_deref(), Some("the tenant was deleted"));
        }
        other => panic!("the push run read as {other:?}"),
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_rematched_company_leaves_its_assets_archived_in_the_old_company_and_unmatching_archives_them_too(
) {
    let app = spawn_with(sandbox()).await;
    let cw = SandboxConfig::default().connectwise;
    let (old, new) = company_250_with_two_homes(&app).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let per_company = records_per_company(&cw);
    let written = assets_in(&app, old);
    assert_eq!(written.len(), per_company, "{run}");
    let active_before = written.iter().filter(|a| !a.archived).count();
    // A hand-made asset in the old company, in a layout of its own: never touched.
    let layout = app
        .sandbox
        .create_hudu_layout("Printers", &[("Notes", "Text")]);
    let hand_made = app
        .sandbox
        .create_hudu_asset(old as u64, layout, "Front desk printer", None);

    // Re-matched to another company: written there, archived in the old one.
    match_250_to(&app, new).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let left = assets_in(&app, old);
    let moved = assets_in(&app, new);
    assert_eq!(left.len(), per_company + 1, "nothing deleted: {run}");
    assert!(
        left.iter()
            .filter(|a| a.id != hand_made)
            .all(|a| a.archived),
        "every asset docsync wrote in the old company is archived: {left:?}"
    );
    let untouched = left.iter().find(|a| a.id == hand_made).expect("hand-made");
    assert!(!untouched.archived, "the hand-made asset is untouched");
    assert_eq!(moved.len(), per_company, "one asset per record: {run}");
    let mut names: Vec<(u64, &str)> = moved
        .iter()
        .map(|a| (a.asset_layout_id, a.name.as_str()))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), per_company, "nothing duplicated: {moved:?}");
    assert_eq!(
        moved.iter().filter(|a| !a.archived).count(),
        active_before,
        "the same records active in the new company"
    );
    assert_eq!(
        run["counts"]["archived"].as_u64(),
        Some(active_before as u64),
        "the old company's assets counted as archived: {run}"
    );
    assert_eq!(
        run["counts"]["created"].as_u64(),
        Some(per_company as u64),
        "{run}"
    );

    // The next sync has nothing left to archive and nothing to write.
    let writes = app.sandbox.hudu_stats().writes;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["archived"], 0, "{run}");
    assert_eq!(app.sandbox.hudu_stats().writes, writes, "{run}");

    // Unmatched: the next sync archives them in the company it was matched to.
    set_matches(&app, json!([{"psaId": 250, "action": "unmatch"}])).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(
        assets_in(&app, new).iter().all(|a| a.archived),
        "unmatched: archived where they were: {run}"
    );
    assert_eq!(
        run["counts"]["archived"].as_u64(),
        Some(active_before as u64),
        "{run}"
    );
    assert!(
        !assets_in(&app, old)
            .iter()
            .find(|a| a.id == hand_made)
            .expect("hand-made")
            .archived
    );
    app.cleanup().await;
}

/// The rows of `left_objects` (what docsync left in an old company, still to archive there).
async fn left_rows(app: &TestApp) -> i64 {
    let (db, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("the test's database");
    tokio::spawn(conn);
    db.query_one("SELECT count(*) FROM left_objects", &[])
        .await
        .expect("left objects")
        .get(0)
}

#[tokio::test]
async fn a_company_matched_back_to_its_old_company_gets_its_own_assets_back_once() {
    let app = spawn_with(sandbox()).await;
    let cw = SandboxConfig::default().connectwise;
    let (a, b) = company_250_with_two_homes(&app).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let per_company = records_per_company(&cw);
    let first: Vec<HuduAsset> = assets_in(&app, a);
    assert_eq!(first.len(), per_company, "{run}");
    let active: Vec<u64> = first.iter().filter(|x| !x.archived).map(|x| x.id).collect();
    // Hand-made assets in both companies, in a layout of their own: never touched.
    let layout = app
        .sandbox
        .create_hudu_layout("Printers", &[("Notes", "Text")]);
    let hand_made = [
        app.sandbox
            .create_hudu_asset(a as u64, layout, "Front desk printer", None),
        app.sandbox
            .create_hudu_asset(b as u64, layout, "Back office printer", None),
    ];

    // Away to B: archived in A, written in B; nothing is left to archive after the sync.
    match_250_to(&app, b).await;
    assert!(left_rows(&app).await > 0, "A's assets wait to be archived");
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        run["counts"]["archived"].as_u64(),
        Some(active.len() as u64),
        "{run}"
    );
    assert_eq!(left_rows(&app).await, 0, "archived, the left rows are gone");
    assert!(assets_in(&app, a)
        .iter()
        .filter(|x| !hand_made.contains(&x.id))
        .all(|x| x.archived));

    // Back to A: its own assets again, unarchived in place; B's archived.
    match_250_to(&app, a).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let back = assets_in(&app, a);
    let docsync_in_a: Vec<&HuduAsset> =
        back.iter().filter(|x| !hand_made.contains(&x.id)).collect();
    assert_eq!(
        docsync_in_a.len(),
        per_company,
        "nothing created twice: {run}"
    );
    let mut active_again: Vec<u64> = docsync_in_a
        .iter()
        .filter(|x| !x.archived)
        .map(|x| x.id)
        .collect();
    active_again.sort();
    assert_eq!(active_again, active, "the same assets active again: {run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert_eq!(
        run["counts"]["unarchived"].as_u64(),
        Some(active.len() as u64),
        "{run}"
    );
    let in_b = assets_in(&app, b);
    assert_eq!(in_b.len(), per_company + 1, "nothing deleted: {run}");
    assert!(
        in_b.iter()
            .filter(|x| !hand_made.contains(&x.id))
            .all(|x| x.archived),
        "what docsync wrote in B is archived: {in_b:?}"
    );
    assert_eq!(
        run["counts"]["archived"].as_u64(),
        Some(active.len() as u64),
        "{run}"
    );
    for id in hand_made {
        let asset = app
            .sandbox
            .hudu_assets()
            .into_iter()
            .find(|x| x.id == id)
            .expect("hand-made");
        assert!(!asset.archived, "hand-made assets are untouched");
    }
    assert_eq!(left_rows(&app).await, 0, "{run}");

    // Settled: the next sync writes nothing.
    let writes = app.sandbox.hudu_stats().writes;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.sandbox.hudu_stats().writes, writes, "{run}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_company_matched_away_and_back_before_a_sync_keeps_its_assets_active() {
    let app = spawn_with(sandbox()).await;
    let (a, b) = company_250_with_two_homes(&app).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let active: Vec<u64> = assets_in(&app, a)
        .iter()
        .filter(|x| !x.archived)
        .map(|x| x.id)
        .collect();
    // Matched to B by mistake, and back to A before any sync.
    match_250_to(&app, b).await;
    match_250_to(&app, a).await;
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let mut still: Vec<u64> = assets_in(&app, a)
        .iter()
        .filter(|x| !x.archived)
        .map(|x| x.id)
        .collect();
    still.sort();
    assert_eq!(still, active, "A's assets stay active: {run}");
    assert_eq!(run["counts"]["archived"], 0, "{run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert!(assets_in(&app, b).is_empty(), "{run}");
    assert_eq!(left_rows(&app).await, 0, "{run}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_company_rematched_while_its_records_are_being_written_never_lands_in_the_old_company() {
    let config = sandbox();
    let cw = config.connectwise.clone();
    // Collectors only at first: the sync's first publish batch waits on its queue.
    let app = spawn_roles(config, COLLECTORS).await;
    let (old, new) = company_250_with_two_homes(&app).await;
    let id = start_sync(&app).await;
    wait_for_state(&app, &id, &["publishing"]).await;
    // Matched elsewhere after its records were read for the old company.
    match_250_to(&app, new).await;
    let publisher = app.start_member(PUBLISHERS).await;
    let run = wait_for_state(&app, &id, &["succeeded", "failed"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(
        assets_in(&app, old).is_empty(),
        "nothing written to the company it left: {run}"
    );
    // The next sync writes it where it is matched now.
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let per_company = records_per_company(&cw);
    assert_eq!(assets_in(&app, new).len(), per_company, "{run}");
    assert!(assets_in(&app, old).is_empty(), "{run}");
    publisher.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn the_first_companies_are_written_while_the_later_ones_are_still_read() {
    // 12 companies, every ConnectWise request 300 ms late: reading them (8 at a time, at the
    // ConnectWise budget of 10 a second) takes seconds, and the publishers write each company
    // as soon as its records are stored instead of after the last one.
    let mut config = sandbox();
    config.connectwise.companies = 12;
    config.connectwise.configurations_per_company = 5;
    let app = spawn_with(config).await;
    configure(&app, json!({})).await;
    list_and_match_all(&app).await;
    app.sandbox.set_faults(docsync_sandbox::Faults {
        rules: vec![docsync_sandbox::FaultRule::new(
            docsync_sandbox::FaultProvider::ConnectWise,
            docsync_sandbox::FaultKind::LatencyMs(300),
        )],
        ..docsync_sandbox::Faults::default()
    });
    let run = sync(&app).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let read_at = docsync_e2e::event_at(&run, "read 12 companies");
    let assets = app.sandbox.hudu_assets();
    let cw = SandboxConfig::default().connectwise;
    let per_company = records_per_company(&docsync_sandbox::ConnectWiseConfig {
        configurations_per_company: 5,
        ..cw
    });
    assert_eq!(
        assets.len(),
        12 * per_company,
        "every record written once: {run}"
    );
    let first_write = assets.iter().map(|a| a.created_at).min().expect("assets");
    let last_write = assets.iter().map(|a| a.created_at).max().expect("assets");
    let ahead = (read_at - first_write).num_milliseconds();
    println!(
        "first asset {ahead} ms before the last company was read; last asset {} ms after",
        (last_write - read_at).num_milliseconds()
    );
    assert!(
        ahead >= 1_000,
        "the first asset was written {ahead} ms before the last company was read: {run}"
    );
    // Nothing is written twice on the next sync.
    app.sandbox.set_faults(docsync_sandbox::Faults::default());
    let again = sync(&app).await;
    assert_eq!(again["counts"]["created"], 0, "{again}");
    assert_eq!(app.sandbox.hudu_assets().len(), 12 * per_company);
    app.cleanup().await;
}

#[tokio::test]
async fn a_read_that_fails_for_a_while_after_the_run_went_to_the_publishers_is_retried_and_nothing_is_lost(
) {
    // Every configurations read fails (500s) once the run is with the publishers: the
    // collector's job is retried later, the publisher waits for the companies, and once
    // ConnectWise answers again the retry reads every company still unread.
    let app = spawn_with(sandbox()).await;
    configure(&app, json!({})).await;
    list_and_match_all(&app).await;
    app.sandbox.set_faults(docsync_sandbox::Faults {
        rules: vec![docsync_sandbox::FaultRule::new(
            docsync_sandbox::FaultProvider::ConnectWise,
            docsync_sandbox::FaultKind::ErrorRate(1.0),
        )
        .on("/company/configurations")],
        ..docsync_sandbox::Faults::default()
    });
    let id = start_sync(&app).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, run) = app.call(Method::GET, &format!("/runs/{id}"), None).await;
        let retrying = run["events"].as_array().is_some_and(|events| {
            events.iter().any(|e| {
                e["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("retrying"))
            })
        });
        if retrying {
            assert_eq!(run["state"], "publishing", "{run}");
            break;
        }
        assert!(Instant::now() < deadline, "the read never failed: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.sandbox.set_faults(docsync_sandbox::Faults::default());
    let run = wait_for_state(&app, &id, &["succeeded", "failed"]).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let cw = SandboxConfig::default().connectwise;
    let per_company = records_per_company(&cw);
    let assets = app.sandbox.hudu_assets();
    assert_eq!(
        assets.len(),
        cw.companies * per_company,
        "every record once: {run}"
    );
    assert!(
        run["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["detail"]
                .as_str()
                .is_some_and(|d| d.ends_with("companies left to read")))),
        "the retry read what was left: {run}"
    );
    let again = sync(&app).await;
    assert_eq!(again["counts"]["created"], 0, "{again}");
    assert_eq!(app.sandbox.hudu_assets().len(), cw.companies * per_company);
    app.cleanup().await;
}
