//! HaloPSA into Hudu, end to end through the real RabbitMQ and PostgreSQL, against the
//! sandbox's Halo emulator with its rolling rate limit on (and, in [`autotask`], Autotask
//! against its emulator: one test binary for both). What the Halo tests prove:
//!
//! - A first sync with nothing matched fills the company list (the inactive client included,
//!   the namesakes of Hudu companies suggested) and writes nothing to Hudu. After match-all,
//!   one asset per Halo record lands in its company and layout (exact counts per layout, a
//!   sort rule sending Server assets to a hand-made layout), inactive users and assets are
//!   archived, only active contracts come in, created companies carry Halo's details and the
//!   inactive client arrives archived, and hand-made assets of the same name are adopted.
//! - An unchanged re-sync writes nothing and reads each kind once per client; every token
//!   expiring in the middle of a sync costs one 401 and one new token, and the sync still
//!   succeeds without a write.
//! - A rename, a deactivated user, an expired contract and a new user land in place on the
//!   next sync; a reactivated user is unarchived; a client of 154 assets is read page by page
//!   (Halo silently cuts unpaged lists at 100) and each new asset is written exactly once.
//! - The test connection answers 200 and explains in words a wrong tenant, a wrong secret
//!   and an agent without asset-group access; a bad PUT names every bad field; the client
//!   secret is masked, never appears in an answer, and a masked view PUT back keeps it.

use docsync_e2e::{hudu_write_key, spawn_with, TestApp};
use docsync_sandbox::{HaloEntity, HuduAsset, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

const HALO: &str = "halopsa";

/// `/integrations/{psa}{tail}`.
fn route(psa: &str, tail: &str) -> String {
    format!("/integrations/{psa}{tail}")
}

/// The sandbox with Halo's rolling limit low enough to matter (200 per 10 s per client id)
/// yet above docsync's budget for the key (15 per second, 150 per 10 s).
fn halo_sandbox() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.halo.rate_limit = Some((200, 10));
    config
}

/// `extra`'s top-level fields over `body`'s.
fn merged(mut body: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    body
}

/// Halo's PUT body for the sandbox's full agent (manual schedule, 15 requests/s), `extra`
/// over it.
fn halo_body(app: &TestApp, extra: Value) -> Value {
    let d = SandboxConfig::default().halo;
    merged(
        json!({"resourceServer": app.sandbox.halo_api_url(), "tenant": d.tenant, "clientId": d.client_id,
               "clientSecret": d.client_secret, "schedule": {"mode": "manual"},
               "rateLimit": {"requests": 15, "perSeconds": 1}}),
        extra,
    )
}

/// Configures Hudu (the sandbox's write key, 40 requests/s) and then `psa` with `body`;
/// returns the PSA's config view.
async fn configure_psa(app: &TestApp, psa: &str, body: Value) -> Value {
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_write_key(), "companyIdByTenantId": {},
                        "rateLimit": {"requests": 40, "perSeconds": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, view) = app.call(Method::PUT, &route(psa, ""), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

/// Starts a sync of `psa`; returns the run id.
async fn start_sync(app: &TestApp, psa: &str) -> String {
    let (status, body) = app.call(Method::POST, &route(psa, "/sync"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["runId"].as_str().expect("runId").to_owned()
}

/// Polls `GET /runs/:id` until the run finished (4 minutes at most).
async fn finished(app: &TestApp, id: &str) -> Value {
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

/// `POST /integrations/{psa}/test`, answered 200.
async fn test_connection(app: &TestApp, psa: &str) -> Value {
    let (status, test) = app.call(Method::POST, &route(psa, "/test"), None).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    test
}

/// A sync of `psa`, finished and succeeded.
async fn sync(app: &TestApp, psa: &str) -> Value {
    let id = start_sync(app, psa).await;
    let run = finished(app, &id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["provider"], psa, "{run}");
    run
}

/// The run's `counts` as numbers, e.g. `counts(&run)["created"]`.
fn counts(run: &Value) -> BTreeMap<String, i64> {
    run["counts"]
        .as_object()
        .expect("counts")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().expect("a count")))
        .collect()
}

/// `GET /integrations/{psa}/companies`, by PSA id.
async fn companies(app: &TestApp, psa: &str) -> BTreeMap<i64, Value> {
    let (status, list) = app.call(Method::GET, &route(psa, "/companies"), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["companies"]
        .as_array()
        .expect("companies")
        .iter()
        .map(|c| (c["psaId"].as_i64().expect("psaId"), c.clone()))
        .collect()
}

fn layout_id(app: &TestApp, name: &str) -> u64 {
    let ids: Vec<u64> = app
        .sandbox
        .hudu_layouts()
        .into_iter()
        .filter(|l| l.name == name)
        .map(|l| l.id)
        .collect();
    assert_eq!(ids.len(), 1, "one Hudu layout named {name}: {ids:?}");
    ids[0]
}

fn named<'a>(assets: &'a [HuduAsset], company: u64, layout: u64, name: &str) -> Vec<&'a HuduAsset> {
    assets
        .iter()
        .filter(|a| a.company_id == company && a.asset_layout_id == layout && a.name == name)
        .collect()
}

fn by_id(assets: &[HuduAsset], id: u64) -> &HuduAsset {
    assets
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no Hudu asset {id}"))
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_u64().expect("id")
}

/// Halo's records of `entity` for client `client`, by id.
fn records_of(app: &TestApp, entity: HaloEntity, client: u64) -> Vec<Value> {
    app.sandbox
        .halo_records(entity)
        .into_iter()
        .filter(|r| r["client_id"].as_u64() == Some(client))
        .collect()
}

fn user_name(u: &Value) -> String {
    format!("{} {}", text(u, "firstname"), text(u, "surname"))
}

#[tokio::test]
async fn halo_clients_and_records_land_in_hudu_once_and_follow_every_change() {
    let app = spawn_with(halo_sandbox()).await;
    let d = SandboxConfig::default().halo;
    let servers = app
        .sandbox
        .create_hudu_layout("Servers", &[("Notes", "Text")]);
    configure_psa(
        &app,
        HALO,
        halo_body(
            &app,
            json!({"sortRules": [{"type": "Server", "layoutId": servers}]}),
        ),
    )
    .await;
    let clients = app.sandbox.halo_records(HaloEntity::Client);
    assert_eq!(clients.len(), d.clients);

    // A first sync with nothing matched fills the company list and writes nothing.
    let before = app.sandbox.hudu_stats();
    let run = sync(&app, HALO).await;
    assert_eq!(run["kind"], "sync");
    assert!(run["tenantId"].is_null(), "{run}");
    assert_eq!(counts(&run)["created"], 0, "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        before.writes,
        "nothing matched: no Hudu writes"
    );
    let list = companies(&app, HALO).await;
    assert_eq!(
        list.len(),
        d.clients,
        "every client, inactive ones too: {list:?}"
    );
    for (k, client) in clients.iter().enumerate() {
        let listed = &list[&(id_of(client) as i64)];
        assert_eq!(listed["name"], client["name"], "{listed}");
        assert_eq!(
            listed["active"],
            !client["inactive"].as_bool().expect("inactive"),
            "{listed}"
        );
        assert_eq!(listed["match"]["state"], "unmatched", "{listed}");
        // Even positions are named like Hudu company k + 1; the others like none.
        let expected = (k % 2 == 0).then_some(k as i64 + 1);
        assert_eq!(
            listed["match"]["suggestedCompanyId"].as_i64(),
            expected,
            "{listed}"
        );
    }
    assert_eq!(list[&17]["active"], false, "client 17 is the inactive one");

    // Hand-made assets of the same names as client 12's server and laptop, in the layouts
    // they will land in: the sort rule's, and the one the default name finds.
    let assets_12 = records_of(&app, HaloEntity::Asset, 12);
    let (server, laptop) = (&assets_12[0], &assets_12[1]);
    assert_eq!(server["assettype_name"], "Server");
    assert_eq!(laptop["assettype_name"], "Laptop");
    let configurations = app
        .sandbox
        .create_hudu_layout("Configurations", &[("Notes", "Text")]);
    let hand_made_server =
        app.sandbox
            .create_hudu_asset(1, servers, &text(server, "key_field"), None);
    let hand_made_laptop =
        app.sandbox
            .create_hudu_asset(1, configurations, &text(laptop, "key_field"), None);

    let (status, matched) = app
        .call(Method::POST, &route(HALO, "/companies/match-all"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{matched}");
    assert_eq!(matched, json!({"matched": 3, "create": 3}));

    let run = sync(&app, HALO).await;
    let list = companies(&app, HALO).await;
    let hudu_of: HashMap<u64, u64> = list
        .iter()
        .map(|(psa_id, c)| {
            assert_eq!(c["match"]["state"], "matched", "{c}");
            (
                *psa_id as u64,
                c["match"]["companyId"].as_u64().expect("companyId"),
            )
        })
        .collect();
    assert_eq!(
        (hudu_of[&12], hudu_of[&14], hudu_of[&16]),
        (1, 3, 5),
        "matched to their suggestions"
    );
    let hudu_companies = app.sandbox.hudu_companies();
    for client in &clients {
        let created = hudu_of[&id_of(client)];
        let company = hudu_companies
            .iter()
            .find(|c| c.id == created)
            .expect("the Hudu company");
        assert_eq!(company.name, text(client, "name"));
        assert_eq!(
            company.archived,
            client["inactive"] == true,
            "only the inactive client is archived: {company:?}"
        );
        if id_of(client) % 2 == 1 {
            // Created from Halo: its details, the address from its main site.
            let site = &records_of(&app, HaloEntity::Site, id_of(client))[0];
            assert!(created > SandboxConfig::default().hudu_companies as u64);
            assert_eq!(
                hudu_companies
                    .iter()
                    .filter(|c| c.name == company.name)
                    .count(),
                1,
                "created once"
            );
            assert_eq!(
                company.phone_number.as_deref(),
                client["phonenumber"].as_str()
            );
            assert_eq!(company.website.as_deref(), client["website"].as_str());
            assert_eq!(
                company.address_line_1.as_deref(),
                site["delivery_address"]["line1"].as_str()
            );
            assert_eq!(company.city.as_deref(), Some("Manchester"));
        }
    }

    // One asset per record, in its company and layout; the inactive ones archived.
    let assets = app.sandbox.hudu_assets();
    let layouts = [
        ("Contacts", layout_id(&app, "Contacts")),
        ("Servers", servers),
        ("Configurations", configurations),
        ("Agreements", layout_id(&app, "Agreements")),
        ("Sites", layout_id(&app, "Sites")),
    ];
    let in_layout = |layout: u64| {
        assets
            .iter()
            .filter(|a| a.asset_layout_id == layout)
            .count()
    };
    let per_layout: Vec<(&str, usize)> =
        layouts.iter().map(|(n, id)| (*n, in_layout(*id))).collect();
    assert_eq!(
        per_layout,
        [
            ("Contacts", d.clients * d.users_per_client),
            ("Servers", d.clients),
            ("Configurations", d.clients * (d.assets_per_client - 1)),
            ("Agreements", d.clients),
            ("Sites", d.clients * d.sites_per_client),
        ],
        "{run}"
    );
    assert_eq!(assets.len(), d.clients * 9, "nothing else: {run}");
    let (contacts, agreements, sites) = (layouts[0].1, layouts[3].1, layouts[4].1);
    for user in app.sandbox.halo_records(HaloEntity::User) {
        let found = named(
            &assets,
            hudu_of[&user["client_id"].as_u64().expect("client")],
            contacts,
            &user_name(&user),
        );
        assert_eq!(found.len(), 1, "user {user}");
        assert_eq!(found[0].archived, user["inactive"] == true, "user {user}");
        assert_eq!(
            found[0].primary_mail.as_deref(),
            user["emailaddress"].as_str()
        );
    }
    for asset in app.sandbox.halo_records(HaloEntity::Asset) {
        let layout = if asset["assettype_name"] == "Server" {
            servers
        } else {
            configurations
        };
        let found = named(
            &assets,
            hudu_of[&asset["client_id"].as_u64().expect("client")],
            layout,
            &text(&asset, "key_field"),
        );
        assert_eq!(found.len(), 1, "asset {asset}");
        assert_eq!(
            found[0].archived,
            asset["inactive"] == true,
            "asset {asset}"
        );
        assert_eq!(
            found[0].primary_serial,
            Some(format!("HSN-{}", id_of(&asset)))
        );
    }
    for contract in app.sandbox.halo_records(HaloEntity::Contract) {
        let found = named(
            &assets,
            hudu_of[&contract["client_id"].as_u64().expect("client")],
            agreements,
            &text(&contract, "ref"),
        );
        let wanted = usize::from(contract["active"] == true);
        assert_eq!(found.len(), wanted, "only active contracts: {contract}");
    }
    for site in app.sandbox.halo_records(HaloEntity::Site) {
        let found = named(
            &assets,
            hudu_of[&site["client_id"].as_u64().expect("client")],
            sites,
            &text(&site, "name"),
        );
        assert_eq!(found.len(), 1, "site {site}");
    }
    assert_eq!(
        assets.iter().filter(|a| a.archived).count(),
        2 * d.clients,
        "each client's inactive user and inactive asset"
    );
    // Adopted in place, not duplicated, and written with Halo's facts.
    assert_eq!(
        by_id(&assets, hand_made_server).name,
        text(server, "key_field")
    );
    assert_eq!(
        by_id(&assets, hand_made_server).primary_serial,
        Some(format!("HSN-{}", id_of(server)))
    );
    assert_eq!(
        by_id(&assets, hand_made_laptop).name,
        text(laptop, "key_field")
    );
    assert_eq!(
        by_id(&assets, hand_made_laptop).primary_serial,
        Some(format!("HSN-{}", id_of(laptop)))
    );
    let c = counts(&run);
    assert_eq!(
        c["created"],
        (assets.len() - 2 + 3) as i64,
        "every asset but the two adopted, and the three created companies: {run}"
    );
    assert_eq!(
        c["updated"],
        2 + 3,
        "the adopted assets and the matched companies: {run}"
    );
    assert_eq!((c["failed"], c["unchanged"]), (0, 0), "{run}");
    let halo = app.sandbox.halo_stats();
    assert_eq!(
        halo.rejected_429, 0,
        "docsync stays within Halo's limit: {halo:?}"
    );

    // Re-sync of unchanged data: zero Hudu writes, each kind read once per client.
    let writes = app.sandbox.hudu_stats().writes;
    app.sandbox.reset_halo_stats();
    let run = sync(&app, HALO).await;
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        writes,
        "an unchanged re-sync writes nothing: {run}"
    );
    let c = counts(&run);
    assert_eq!(
        (
            c["created"],
            c["updated"],
            c["archived"],
            c["unarchived"],
            c["unchanged"]
        ),
        (0, 0, 0, 0, (assets.len() + d.clients) as i64),
        "{run}"
    );
    let halo = app.sandbox.halo_stats();
    println!(
        "unchanged re-sync: {} Halo requests, {} token requests ({:?})",
        halo.requests, halo.token_requests, halo.by_path
    );
    let per_client = d.clients as u64;
    assert_eq!(
        halo.by_path,
        BTreeMap::from([
            ("/api/Client".to_owned(), 1),
            ("/api/Site".to_owned(), per_client),
            ("/api/Users".to_owned(), per_client),
            ("/api/Asset".to_owned(), per_client),
            ("/api/ClientContract".to_owned(), per_client),
        ]),
        "the client list, then one page of each kind per client"
    );
    assert_eq!(
        (halo.token_requests, halo.rejected_401, halo.rejected_429),
        (1, 0, 0),
        "{halo:?}"
    );

    // Every token expires, and again in the middle of a sync: one 401 per request in flight,
    // one new token, still no writes. (Each sync run starts with a token of its own, so only
    // an expiry during the run reaches the renewal on a 401; the pacer's 15 per second holds
    // the run's 26 requests back well after its first 3.)
    app.sandbox.reset_halo_stats();
    app.sandbox.halo_expire_tokens();
    let id = start_sync(&app, HALO).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.sandbox.halo_stats().requests < 3 {
        assert!(Instant::now() < deadline, "the sync never read Halo");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    app.sandbox.halo_expire_tokens();
    let run = finished(&app, &id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        writes,
        "still nothing to write: {run}"
    );
    let halo = app.sandbox.halo_stats();
    println!("tokens expired mid-sync: {halo:?}");
    assert!(
        halo.rejected_401 >= 1,
        "the expired token was refused: {halo:?}"
    );
    assert_eq!(
        halo.tokens_issued, 2,
        "one token to start, one after the 401: {halo:?}"
    );
    assert_eq!(
        halo.requests,
        1 + 4 * per_client + halo.rejected_401,
        "each refused request repeated once with the new token: {halo:?}"
    );
    assert_eq!(
        counts(&run)["unchanged"],
        (assets.len() + d.clients) as i64,
        "{run}"
    );

    // Changes: a rename, a deactivated user, an expired contract, a new user.
    let users_12 = records_of(&app, HaloEntity::User, 12);
    let user = &users_12[0];
    let contract = &records_of(&app, HaloEntity::Contract, 12)[0];
    assert_eq!(contract["active"], true);
    let user_asset = named(&assets, 1, contacts, &user_name(user))[0].id;
    let contract_asset = named(&assets, 1, agreements, &text(contract, "ref"))[0].id;
    assert!(app.sandbox.halo_update(
        HaloEntity::Asset,
        id_of(laptop),
        json!({"key_field": "LT-RENAMED-12"})
    ));
    assert!(app
        .sandbox
        .halo_update(HaloEntity::User, id_of(user), json!({"inactive": true})));
    assert!(app.sandbox.halo_update(
        HaloEntity::Contract,
        id_of(contract),
        json!({"active": false, "expired": true, "contract_status": "Expired", "end_date": "2025-12-31T00:00:00"})
    ));
    app.sandbox.halo_insert(
        HaloEntity::User,
        json!({"firstname": "Grace", "surname": "Hopper", "emailaddress": "grace.hopper@example.com",
               "client_id": 12, "site_id": users_12[1]["site_id"]}),
    );
    let run = sync(&app, HALO).await;
    let after = app.sandbox.hudu_assets();
    assert_eq!(
        after.len(),
        assets.len() + 1,
        "only the new user is created: {run}"
    );
    let renamed = by_id(&after, hand_made_laptop);
    assert_eq!(
        (renamed.name.as_str(), renamed.company_id, renamed.archived),
        ("LT-RENAMED-12", 1, false),
        "renamed in place"
    );
    assert!(named(&after, 1, configurations, &text(laptop, "key_field")).is_empty());
    assert!(
        by_id(&after, user_asset).archived,
        "the deactivated user is archived"
    );
    assert!(
        by_id(&after, contract_asset).archived,
        "the expired contract is archived"
    );
    let grace = named(&after, 1, contacts, "Grace Hopper");
    assert_eq!(grace.len(), 1, "the new user, once");
    assert!(!grace[0].archived);
    assert_eq!(
        grace[0].primary_mail.as_deref(),
        Some("grace.hopper@example.com")
    );
    let unchanged_ones = after.iter().filter(|a| {
        a.id != hand_made_laptop
            && a.id != user_asset
            && a.id != contract_asset
            && a.id != grace[0].id
    });
    for a in unchanged_ones {
        assert_eq!(Some(a), assets.iter().find(|b| b.id == a.id), "untouched");
    }
    let c = counts(&run);
    assert_eq!(
        (c["created"], c["updated"], c["archived"], c["unarchived"]),
        (1, 1, 2, 0),
        "{run}"
    );

    // Reactivated: unarchived in place.
    assert!(app
        .sandbox
        .halo_update(HaloEntity::User, id_of(user), json!({"inactive": false})));
    let run = sync(&app, HALO).await;
    let c = counts(&run);
    assert_eq!(
        (c["created"], c["updated"], c["archived"], c["unarchived"]),
        (0, 0, 0, 1),
        "{run}"
    );
    let after = app.sandbox.hudu_assets();
    assert!(!by_id(&after, user_asset).archived, "unarchived");
    assert_eq!(after.len(), assets.len() + 1);

    // 150 more assets of client 12: 154 in all, more than one page and more than Halo's
    // unpaged cap of 100; every one written once.
    let added = app.sandbox.halo_add_assets(12, 150);
    assert_eq!(added.len(), 150);
    app.sandbox.reset_halo_stats();
    let hudu_before = app.sandbox.hudu_stats();
    let run = sync(&app, HALO).await;
    let halo = app.sandbox.halo_stats();
    assert_eq!(
        halo.by_path.get("/api/Asset").copied(),
        Some(per_client + 1),
        "client 12's assets take two pages: {halo:?}"
    );
    assert_eq!(halo.rejected_429, 0, "{halo:?}");
    let hudu_after = app.sandbox.hudu_stats();
    assert_eq!(
        hudu_after.asset_writes - hudu_before.asset_writes,
        150,
        "each new asset written once, nothing else: {run}"
    );
    assert_eq!(hudu_after.company_writes, hudu_before.company_writes);
    let c = counts(&run);
    assert_eq!(
        (c["created"], c["updated"], c["archived"]),
        (150, 0, 0),
        "{run}"
    );
    let all = app.sandbox.hudu_assets();
    assert_eq!(all.len(), assets.len() + 1 + 150);
    let records: HashMap<u64, Value> = app
        .sandbox
        .halo_records(HaloEntity::Asset)
        .into_iter()
        .map(|a| (id_of(&a), a))
        .collect();
    let mut names = HashSet::new();
    for id in &added {
        let asset = &records[id];
        let layout = if asset["assettype_name"] == "Server" {
            servers
        } else {
            configurations
        };
        let found = named(&all, 1, layout, &text(asset, "key_field"));
        assert_eq!(found.len(), 1, "asset {asset}");
        assert!(!found[0].archived);
        names.insert(found[0].id);
    }
    assert_eq!(names.len(), 150, "150 distinct Hudu assets");
    // And not again.
    let writes = app.sandbox.hudu_stats().writes;
    let run = sync(&app, HALO).await;
    assert_eq!(app.sandbox.hudu_stats().writes, writes, "{run}");
    assert_eq!(app.sandbox.halo_stats().rejected_429, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_halo_client_of_many_pages_is_written_from_its_first_pages_on() {
    // Client 12 with 1,200 more assets (13 pages of 100), every Halo request 300 ms late: its
    // first assets are written while the later pages are read, and every one lands once.
    let mut config = halo_sandbox();
    config.hudu_rate_limit = None;
    let app = spawn_with(config).await;
    configure_psa(&app, HALO, halo_body(&app, json!({}))).await;
    docsync_e2e::configure_hudu(&app, 400).await;
    sync(&app, HALO).await;
    let (status, _) = app
        .call(
            Method::PUT,
            &route(HALO, "/companies"),
            Some(json!({"matches": [{"psaId": 12, "action": "match", "companyId": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let added = app.sandbox.halo_add_assets(12, 1_200);
    assert_eq!(added.len(), 1_200);
    app.sandbox.set_faults(docsync_sandbox::Faults {
        rules: vec![docsync_sandbox::FaultRule::new(
            docsync_sandbox::FaultProvider::Halo,
            docsync_sandbox::FaultKind::LatencyMs(300),
        )],
        ..docsync_sandbox::Faults::default()
    });
    let run = sync(&app, HALO).await;
    let read_at = docsync_e2e::event_at(&run, "read 1 companies");
    let assets: Vec<HuduAsset> = app
        .sandbox
        .hudu_assets()
        .into_iter()
        .filter(|a| a.company_id == 1)
        .collect();
    let ids: HashSet<(u64, &str)> = assets
        .iter()
        .map(|a| (a.asset_layout_id, a.name.as_str()))
        .collect();
    assert_eq!(ids.len(), assets.len(), "no asset twice: {run}");
    assert_eq!(counts(&run)["failed"], 0, "{run}");
    let configurations = layout_id(&app, "Configurations");
    let halo_assets: HashMap<u64, Value> = app
        .sandbox
        .halo_records(HaloEntity::Asset)
        .into_iter()
        .map(|a| (id_of(&a), a))
        .collect();
    for id in &added {
        let name = text(&halo_assets[id], "key_field");
        assert_eq!(
            named(&assets, 1, configurations, &name).len(),
            1,
            "Halo asset {id} ({name}) written once: {run}"
        );
    }
    let first_write = assets.iter().map(|a| a.created_at).min().expect("assets");
    let ahead = (read_at - first_write).num_milliseconds();
    println!("first asset created {ahead} ms before the client was read whole");
    assert!(
        ahead >= 1_000,
        "the first asset was created {ahead} ms before the client was read whole: {run}"
    );
    assert_eq!(app.sandbox.halo_stats().rejected_429, 0);
    // Nothing is written again on the next sync.
    app.sandbox.set_faults(docsync_sandbox::Faults::default());
    let writes = app.sandbox.hudu_stats().writes;
    sync(&app, HALO).await;
    assert_eq!(app.sandbox.hudu_stats().writes, writes);
    app.cleanup().await;
}

#[tokio::test]
async fn halo_test_connection_explains_credentials_tenant_and_asset_access_and_bad_input_is_named()
{
    let app = spawn_with(halo_sandbox()).await;
    let d = SandboxConfig::default().halo;
    // Every answer, searched for a secret at the end.
    let mut answers: Vec<String> = Vec::new();

    // Bad input: every bad field named, nothing stored, the bad secret not echoed.
    let (status, body) = app
        .call(
            Method::PUT,
            &route(HALO, ""),
            Some(json!({"resourceServer": "ftp://x", "authServer": 7, "tenant": "a b", "clientId": "",
                        "clientSecret": "shortSECRET1", "knowledgeBase": {"enabled": "yes"}, "bogus": true})),
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
        "resourceServer",
        "authServer",
        "tenant",
        "clientId",
        "clientSecret",
        "knowledgeBase.enabled",
        "bogus",
    ] {
        assert!(fields.contains(&expected), "{expected} not named: {body}");
    }
    assert!(!body.to_string().contains("shortSECRET1"), "{body}");
    let (status, body) = app.call(Method::GET, &route(HALO, ""), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored: {body}");

    // Good config: masked, and the connection test reads clients and assets.
    let view = configure_psa(&app, HALO, halo_body(&app, json!({}))).await;
    answers.push(view.to_string());
    let masked = text(&view, "clientSecret");
    assert!(
        masked.starts_with("••••") && masked != d.client_secret,
        "{view}"
    );
    assert_eq!(
        view["authServer"],
        format!("{}/auth", app.sandbox.halo_url),
        "the default: {view}"
    );
    assert_eq!(view["tenant"], "mymsp");
    let (status, got) = app.call(Method::GET, &route(HALO, ""), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["clientSecret"], masked.as_str(), "{got}");
    answers.push(got.to_string());

    let asset_access = |test: &Value| -> Value {
        test["layouts"]
            .as_array()
            .expect("layouts")
            .iter()
            .find(|l| {
                l["kind"] == "configurations"
                    && l["id"].is_null()
                    && l["message"].as_str().is_some_and(|m| m.contains("asset"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no asset access entry: {test}"))
    };
    let good = test_connection(&app, HALO).await;
    answers.push(good.to_string());
    assert_eq!(
        (&good["credentialsValid"], &good["reachable"]),
        (&json!(true), &json!(true)),
        "{good}"
    );
    let first: Vec<(i64, String)> = good["firstCompanies"]
        .as_array()
        .expect("firstCompanies")
        .iter()
        .map(|c| (c["id"].as_i64().expect("id"), text(c, "name")))
        .collect();
    let clients = app.sandbox.halo_records(HaloEntity::Client);
    let active: Vec<(i64, String)> = clients
        .iter()
        .filter(|c| c["inactive"] == false)
        .map(|c| (id_of(c) as i64, text(c, "name")))
        .collect();
    assert_eq!(
        first, active,
        "Halo's first clients, as it lists them: {good}"
    );
    assert_eq!(asset_access(&good)["ok"], true, "{good}");
    assert!(text(&good, "message").contains("mymsp"), "{good}");

    // An agent without access to any asset group: connected, and told what to grant.
    let limited = halo_body(
        &app,
        json!({"clientId": d.limited_client_id, "clientSecret": d.limited_client_secret}),
    );
    let view = configure_psa(&app, HALO, limited).await;
    answers.push(view.to_string());
    let t = test_connection(&app, HALO).await;
    answers.push(t.to_string());
    assert_eq!(t["credentialsValid"], true, "{t}");
    let access = asset_access(&t);
    assert_eq!(access["ok"], false, "{t}");
    assert!(
        text(&access, "message")
            .to_lowercase()
            .contains("asset group"),
        "{t}"
    );

    // A tenant Halo does not know: 200, explained.
    let view = configure_psa(&app, HALO, halo_body(&app, json!({"tenant": "othermsp"}))).await;
    answers.push(view.to_string());
    let refused_before = app.sandbox.halo_stats().token_refused;
    let t = test_connection(&app, HALO).await;
    answers.push(t.to_string());
    assert_eq!(
        (&t["credentialsValid"], &t["reachable"]),
        (&json!(false), &json!(true)),
        "{t}"
    );
    let message = text(&t, "message");
    assert!(
        message.contains("tenant") && message.contains("othermsp"),
        "{t}"
    );
    assert_eq!(t["firstCompanies"], json!([]), "{t}");
    assert!(app.sandbox.halo_stats().token_refused > refused_before);

    // A wrong secret: explained as the client id or secret.
    let view = configure_psa(
        &app,
        HALO,
        halo_body(
            &app,
            json!({"clientSecret": "wrong-secret-0123456789abcdef0123"}),
        ),
    )
    .await;
    answers.push(view.to_string());
    let t = test_connection(&app, HALO).await;
    answers.push(t.to_string());
    assert_eq!(t["credentialsValid"], false, "{t}");
    let message = text(&t, "message");
    assert!(
        message.contains("client id or secret") && message.contains("clientSecret"),
        "{t}"
    );
    assert!(!message.contains("tenant"), "not blamed on the tenant: {t}");

    // The good secret again, then the masked view sent back as it is: the secret is kept.
    configure_psa(&app, HALO, halo_body(&app, json!({}))).await;
    let (status, got) = app.call(Method::GET, &route(HALO, ""), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    answers.push(got.to_string());
    let (status, back) = app
        .call(Method::PUT, &route(HALO, ""), Some(got.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    answers.push(back.to_string());
    assert_eq!(back["clientSecret"], got["clientSecret"], "{back}");
    let t = test_connection(&app, HALO).await;
    answers.push(t.to_string());
    assert_eq!(
        t["credentialsValid"], true,
        "the stored secret was kept: {t}"
    );
    let run = sync(&app, HALO).await;
    answers.push(run.to_string());
    let (status, runs) = app.call(Method::GET, &route(HALO, "/runs"), None).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    answers.push(runs.to_string());
    assert_eq!(
        companies(&app, HALO).await.len(),
        d.clients,
        "the sync read Halo"
    );

    for answer in &answers {
        for secret in [
            d.client_secret.as_str(),
            d.limited_client_secret.as_str(),
            "wrong-secret-0123456789abcdef0123",
        ] {
            assert!(!answer.contains(secret), "a secret in an answer: {answer}");
        }
    }
    app.cleanup().await;
}

#[tokio::test]
async fn hudu_articles_go_into_halos_knowledge_base_once_and_are_updated_in_place() {
    let app = spawn_with(halo_sandbox()).await;
    configure_psa(
        &app,
        HALO,
        halo_body(&app, json!({"knowledgeBase": {"enabled": true}})),
    )
    .await;
    // Global articles, one of them titled like a fixture article of Halo's (adopted, not
    // duplicated); an article of Hudu company 1 (client 12 matches it); one of company 2,
    // which no client is matched to (left out).
    let runbook = app
        .sandbox
        .create_hudu_article(0, "Backup runbook", "<p>Nightly at 02:00.</p>");
    app.sandbox
        .create_hudu_article(0, "VPN setup", "<p>Use the new gateway.</p>");
    app.sandbox
        .create_hudu_article(1, "Network overview", "<p>Core switch in rack 2.</p>");
    app.sandbox
        .create_hudu_article(2, "Unmatched notes", "<p>Not for Halo.</p>");
    let halo_before = app.sandbox.halo_kb_articles();
    let vpn_id = halo_before
        .iter()
        .find(|a| a["name"] == "VPN setup")
        .map(id_of)
        .expect("Halo's fixture article VPN setup");
    sync(&app, HALO).await;
    let (status, _) = app
        .call(
            Method::PUT,
            &route(HALO, "/companies"),
            Some(json!({"matches": [{"psaId": 12, "action": "match", "companyId": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = sync(&app, HALO).await;
    let articles = app.sandbox.halo_kb_articles();
    let titled = |name: &str| -> Vec<Value> {
        articles
            .iter()
            .filter(|a| a["name"] == name)
            .cloned()
            .collect()
    };
    assert_eq!(titled("Backup runbook").len(), 1, "{articles:?}");
    assert_eq!(
        titled("Backup runbook")[0]["description"],
        "<p>Nightly at 02:00.</p>"
    );
    let vpn = titled("VPN setup");
    assert_eq!(
        vpn.len(),
        1,
        "the same-titled Halo article is adopted: {articles:?}"
    );
    assert_eq!(id_of(&vpn[0]), vpn_id);
    assert_eq!(
        vpn[0]["description"], "<p>Use the new gateway.</p>",
        "and overwritten (one-way)"
    );
    let company_titles: Vec<&Value> = articles
        .iter()
        .filter(|a| {
            a["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(": Network overview"))
        })
        .collect();
    assert_eq!(
        company_titles.len(),
        1,
        "the matched company's article, titled with its company: {articles:?}"
    );
    assert!(
        titled("Unmatched notes").is_empty()
            && !articles
                .iter()
                .any(|a| a["name"].as_str().is_some_and(|n| n.contains("Unmatched"))),
        "an unmatched company's article stays out"
    );
    assert_eq!(
        articles.len(),
        halo_before.len() + 2,
        "two created, one adopted: {articles:?}"
    );
    assert!(counts(&run)["created"] >= 3, "{run}");

    // Unchanged: nothing written. Changed: written in place, once.
    let writes = app.sandbox.halo_stats().kb_writes;
    sync(&app, HALO).await;
    assert_eq!(
        app.sandbox.halo_stats().kb_writes,
        writes,
        "unchanged articles are not written again"
    );
    assert!(app
        .sandbox
        .update_hudu_article(runbook, "Backup runbook", "<p>Nightly at 03:00.</p>"));
    sync(&app, HALO).await;
    assert_eq!(
        app.sandbox.halo_stats().kb_writes,
        writes + 1,
        "one changed article, one write"
    );
    let articles = app.sandbox.halo_kb_articles();
    let runbooks: Vec<&Value> = articles
        .iter()
        .filter(|a| a["name"] == "Backup runbook")
        .collect();
    assert_eq!(runbooks.len(), 1, "updated in place, never duplicated");
    assert_eq!(runbooks[0]["description"], "<p>Nightly at 03:00.</p>");
    app.cleanup().await;
}

/// Autotask into Hudu, end to end through the real RabbitMQ and PostgreSQL against the
/// sandbox's Autotask (zone discovery, header credentials, JSON query filters, `nextPageUrl`
/// paging, the thread limit per endpoint and the database's shared request threshold): exact
/// assets per layout with configuration items laid out by their category, adoption by serial,
/// zero writes on an unchanged re-sync with incremental reads, changes landing in place, no
/// request over the thread limit, and a database that other integrations have nearly used up
/// never taken past 90% of its threshold.
mod autotask {

    use docsync_domain::RunId;
    use docsync_e2e::{spawn_with, TestApp};
    use docsync_sandbox::{AtEntity, HuduAsset, SandboxConfig};
    use reqwest::{Method, StatusCode};
    use serde_json::{json, Value};
    use std::time::{Duration, Instant};

    const AT: &str = "/integrations/autotask";

    /// Hudu, then Autotask with the sandbox's API user (manual schedule, 40 requests/s),
    /// `extra` over it.
    async fn configure(app: &TestApp, extra: Value) -> Value {
        let d = SandboxConfig::default().autotask;
        let body = super::merged(
            json!({"username": d.username, "secret": d.secret, "integrationCode": d.integration_code,
                   "schedule": {"mode": "manual"}, "rateLimit": {"requests": 40, "perSeconds": 1}}),
            extra,
        );
        super::configure_psa(app, "autotask", body).await
    }

    /// A sync of Autotask, finished and succeeded.
    async fn sync(app: &TestApp) -> Value {
        super::sync(app, "autotask").await
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
    async fn an_autotask_company_of_many_pages_is_written_from_its_first_pages_on() {
        // Company 500 with 1,200 more configuration items (pages of 100), every answer 300 ms
        // late: its first items are written while the later pages are read, each item once.
        let mut sandbox = SandboxConfig::default();
        sandbox.autotask.latency_ms = 300;
        sandbox.autotask.page_size = 100;
        sandbox.hudu_rate_limit = None;
        let app = spawn_with(sandbox).await;
        configure(&app, json!({})).await;
        docsync_e2e::configure_hudu(&app, 400).await;
        sync(&app).await;
        let (status, _) = app
            .call(
                Method::PUT,
                &format!("{AT}/companies"),
                Some(json!({"matches": [{"psaId": 500, "action": "create"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let added: Vec<String> = (0..1_200)
            .map(|i| {
                let title = format!("bulk-item-{i:04}");
                app.sandbox.at_insert(
                    AtEntity::ConfigurationItem,
                    json!({"companyID": 500, "referenceTitle": title, "serialNumber": format!("BULK{i:04}")}),
                );
                title
            })
            .collect();
        let run = sync(&app).await;
        let read_at = docsync_e2e::event_at(&run, "read 1 companies");
        let assets = app.sandbox.hudu_assets();
        for title in &added {
            assert_eq!(
                named(&assets, title).len(),
                1,
                "{title} written once: {run}"
            );
        }
        let first_write = assets.iter().map(|a| a.created_at).min().expect("assets");
        let ahead = (read_at - first_write).num_milliseconds();
        println!("first asset created {ahead} ms before the company was read whole");
        assert!(
            ahead >= 1_000,
            "the first asset was created {ahead} ms before the company was read whole: {run}"
        );
        // Nothing is written again on the next sync.
        let writes = app.sandbox.hudu_stats().writes;
        sync(&app).await;
        assert_eq!(app.sandbox.hudu_stats().writes, writes);
        app.cleanup().await;
    }

    #[tokio::test]
    async fn autotask_companies_and_records_land_in_hudu_within_the_thread_limit_and_follow_changes(
    ) {
        let mut sandbox = SandboxConfig::default();
        // Each answer takes a while inside the emulator's thread slot, so a client that sends
        // more than three at once to one endpoint is refused and seen.
        sandbox.autotask.latency_ms = 300;
        // Pages of 2 (Autotask's are 500): every listing of 3 or more follows nextPageUrl.
        sandbox.autotask.page_size = 2;
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
        // In pages of 2: the threshold once, companies (6: 3 pages), categories (4: 2 pages), and
        // per company locations (1 page), contacts and items each an id listing (2 pages) plus
        // the changed ones (none: 1 page).
        assert!(
            stats.requests <= 1 + 3 + 2 + (at.companies as u64) * 7,
            "what an unchanged re-sync reads: {stats:?}"
        );
        assert!(
            stats
                .requests_by_endpoint
                .get("Contacts")
                .copied()
                .unwrap_or_default()
                <= (at.companies as u64) * 3,
            "{stats:?}"
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
}
