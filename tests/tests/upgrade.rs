//! An upgrade from the V5 schema (one `remote_documents` row per provider and tenant) to the
//! current one creates no second document: the migration carries every recorded document into
//! the map of remote objects, and the first push after the upgrade writes the same Hudu
//! article and IT Glue asset in place, by their recorded ids.

use chrono::{DateTime, TimeZone, Utc};
use docsync_domain::{AccountId, Schedule, ScheduleMode};
use docsync_e2e::{hudu_write_key, itglue_us_key, stage_with, TestTenant};
use docsync_sandbox::{fixtures, SandboxConfig};
use docsync_store::Store;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// The schema the last release before the remote-object map left.
const BEFORE: u32 = 5;

/// The tenant's name when docsync last wrote its documents before the upgrade: neither its
/// current title nor its current name finds them, so only the carried-over map can.
const OLD_NAME: &str = "Old Name Ltd";

async fn sql(database_url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("the test database answers");
    tokio::spawn(conn);
    client
}

async fn table_exists(db: &tokio_postgres::Client, table: &str) -> bool {
    db.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .expect("to_regclass")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_with_recorded_documents_updates_them_in_place_and_creates_no_second_one() {
    let staged = stage_with(SandboxConfig::default()).await;
    let database_url = staged.settings.database_url.clone();
    let master = staged.master_key();
    let fixture = fixtures::tenant(2);
    let company = fixture.index as u64 + 1;
    let organization = company;
    let old_title = format!("M365 Posture — {OLD_NAME}");

    // The documents docsync wrote before the upgrade, under the tenant's old name.
    let article_id = staged.sandbox.create_hudu_article(
        company,
        &old_title,
        "<p>written before the upgrade</p>",
    );
    let asset_type = staged
        .sandbox
        .create_itglue_asset_type(
            &itglue_us_key(),
            &docsync_sinks::itglue::asset_type_document(),
        )
        .expect("asset type");
    let mut traits = serde_json::Map::new();
    traits.insert(docsync_sinks::itglue::name_key("Tenant"), json!(OLD_NAME));
    let asset_id = staged
        .sandbox
        .create_itglue_asset(&itglue_us_key(), organization, asset_type.id, traits)
        .expect("asset");

    // The database as a V5 install left it: written with V5's own columns, not today's code.
    let store = Store::connect(&database_url, 2).expect("pool");
    store.migrate_to(BEFORE).await.expect("migrate to V5");
    let db = sql(&database_url).await;
    assert!(
        table_exists(&db, "remote_documents").await,
        "V5 has remote_documents"
    );
    assert!(
        !table_exists(&db, "remote_objects").await,
        "V5 has no remote_objects yet"
    );

    let account = Uuid::new_v4();
    let tenant = Uuid::new_v4();
    let written_at: DateTime<Utc> = Utc
        .with_ymd_and_hms(2025, 3, 14, 2, 0, 0)
        .single()
        .expect("a valid instant");
    let graph = SandboxConfig::default();
    let schedule = Schedule {
        mode: ScheduleMode::Manual,
        ..Schedule::default()
    }
    .to_json();
    let hudu_run = Uuid::new_v4();
    let itglue_run = Uuid::new_v4();
    let article = article_id.to_string();
    let asset = asset_id.to_string();
    let (company_id, organization_id) = (company as i64, organization as i64);
    db.execute(
        "INSERT INTO accounts (id, name) VALUES ($1, 'Upgraded MSP')",
        &[&account],
    )
    .await
    .expect("account");
    db.execute(
        "INSERT INTO tenants (id, account_id, name, primary_domain, microsoft_tenant_id)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &tenant,
            &account,
            &fixture.display_name,
            &fixture.default_domain(),
            &fixture.microsoft_tenant_id,
        ],
    )
    .await
    .expect("tenant");
    db.execute(
        "INSERT INTO microsoft_connections (account_id, client_id, client_secret_sealed)
         VALUES ($1, $2, $3)",
        &[
            &account,
            &graph.graph_client_id,
            &master.seal_unbound(&graph.graph_client_secret),
        ],
    )
    .await
    .expect("microsoft connection");
    db.execute(
        "INSERT INTO integrations (account_id, provider, base_url, region, api_key_sealed, schedule)
         VALUES ($1, 'hudu', $2, NULL, $3, $5), ($1, 'it-glue', NULL, 'us', $4, $5)",
        &[
            &account,
            &staged.sandbox.hudu_url,
            &master.seal_unbound(&hudu_write_key()),
            &master.seal_unbound(&itglue_us_key()),
            &schedule,
        ],
    )
    .await
    .expect("integrations");
    db.execute(
        "INSERT INTO tenant_mappings (account_id, provider, tenant_id, remote_parent_id)
         VALUES ($1, 'hudu', $2, $3), ($1, 'it-glue', $2, $4)",
        &[&account, &tenant, &company_id, &organization_id],
    )
    .await
    .expect("mappings");
    db.execute(
        "INSERT INTO push_runs (id, account_id, tenant_id, provider, trigger, state, attempts,
                                remote_id, created_at, updated_at, finished_at, enqueued_at)
         VALUES ($1, $3, $4, 'hudu', 'manual', 'succeeded', 1, $5, $7, $7, $7, $7),
                ($2, $3, $4, 'it-glue', 'manual', 'succeeded', 1, $6, $7, $7, $7, $7)",
        &[
            &hudu_run,
            &itglue_run,
            &account,
            &tenant,
            &article,
            &asset,
            &written_at,
        ],
    )
    .await
    .expect("runs");
    db.execute(
        "INSERT INTO remote_documents (provider, tenant_id, account_id, remote_id,
                                       remote_parent_id, title, updated_at)
         VALUES ('hudu', $1, $2, $3, $4, $5, $8), ('it-glue', $1, $2, $6, $7, $9, $8)",
        &[
            &tenant,
            &account,
            &article,
            &company_id,
            &old_title,
            &asset,
            &organization_id,
            &written_at,
            &OLD_NAME,
        ],
    )
    .await
    .expect("remote documents");

    // The upgrade: every recorded document is now in the map, under its object kind and the
    // tenant id as source key, with its id, parent, title and time.
    store.migrate().await.expect("migrate to the latest schema");
    assert!(
        !table_exists(&db, "remote_documents").await,
        "V6 replaces remote_documents"
    );
    let rows = db
        .query(
            "SELECT destination, object_kind, source_key, remote_id, remote_parent_id, title,
                    tenant_id, updated_at, scope, archived
               FROM remote_objects WHERE account_id = $1 ORDER BY destination",
            &[&account],
        )
        .await
        .expect("remote objects");
    let carried: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, Option<i64>>(4),
                r.get::<_, String>(5),
                r.get::<_, Option<Uuid>>(6),
                r.get::<_, DateTime<Utc>>(7),
                r.get::<_, Option<String>>(8),
                r.get::<_, bool>(9),
            )
        })
        .collect();
    let key = tenant.to_string();
    assert_eq!(
        carried,
        [
            (
                "hudu".to_owned(),
                "posture-article".to_owned(),
                key.clone(),
                article.clone(),
                Some(company_id),
                old_title.clone(),
                Some(tenant),
                written_at,
                None,
                false,
            ),
            (
                "it-glue".to_owned(),
                "posture-asset".to_owned(),
                key.clone(),
                asset.clone(),
                Some(organization_id),
                OLD_NAME.to_owned(),
                Some(tenant),
                written_at,
                None,
                false,
            ),
        ],
        "every remote_documents row is carried into remote_objects"
    );
    let kinds: Vec<String> = db
        .query(
            "SELECT kind FROM push_runs WHERE account_id = $1 ORDER BY provider",
            &[&account],
        )
        .await
        .expect("runs after the upgrade")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["push", "push"], "earlier runs are pushes");
    drop(db);
    drop(store);

    // This release's fleet on the upgraded database.
    let app = staged.start(AccountId(account)).await;
    let tenant = TestTenant {
        id: tenant.to_string(),
        fixture,
    };
    for (run, remote) in [(hudu_run, &article), (itglue_run, &asset)] {
        let (status, body) = app.call(Method::GET, &format!("/runs/{run}"), None).await;
        assert_eq!(status, 200, "a run from before the upgrade reads: {body}");
        assert_eq!(body["state"], "succeeded", "{body}");
        assert_eq!(body["remoteId"], remote.as_str(), "{body}");
    }

    // Hudu: the recorded article is written in place by its id (one PUT, no search, no
    // create) and renamed to the tenant's current name; the company holds only it.
    let before = app.sandbox.hudu_stats().requests;
    let run = app.wait_for_run(&app.push_to("hudu", &tenant).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["remoteId"], article.as_str(), "{run}");
    assert_eq!(
        app.sandbox.hudu_stats().requests - before,
        1,
        "an update by the carried-over id is one request"
    );
    let articles = app.articles_in(company);
    assert_eq!(
        articles.len(),
        1,
        "no second article after the upgrade: {articles:?}"
    );
    assert_eq!(articles[0].id, article_id);
    assert_eq!(articles[0].versions, 2, "updated once, in place");
    assert_eq!(
        articles[0].name,
        format!("M365 Posture — {}", tenant.fixture.display_name)
    );
    assert!(articles[0].content.contains("<h2>Tenant metadata</h2>"));

    // IT Glue: the recorded asset is PATCHed in place, renamed; the account holds only it.
    let run = app
        .wait_for_run(&app.push_to("it-glue", &tenant).await)
        .await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["remoteId"], asset.as_str(), "{run}");
    let assets = app.sandbox.itglue_assets(&itglue_us_key());
    assert_eq!(
        assets.len(),
        1,
        "no second asset after the upgrade: {assets:?}"
    );
    assert_eq!(assets[0].id, asset_id);
    assert_eq!(assets[0].organization_id, organization);
    assert_eq!(assets[0].versions, 2, "updated once, in place");
    assert_eq!(assets[0].name, tenant.fixture.display_name);

    // The map follows the documents' new titles and still holds one row per provider.
    let db = sql(&database_url).await;
    let titles: Vec<(String, String, String)> = db
        .query(
            "SELECT destination, remote_id, title FROM remote_objects
              WHERE account_id = $1 ORDER BY destination",
            &[&account],
        )
        .await
        .expect("remote objects after the pushes")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        titles,
        [
            (
                "hudu".to_owned(),
                article.clone(),
                format!("M365 Posture — {}", tenant.fixture.display_name)
            ),
            (
                "it-glue".to_owned(),
                asset.clone(),
                tenant.fixture.display_name.clone()
            ),
        ]
    );
    drop(db);
    app.cleanup().await;
}

#[tokio::test]
async fn migrating_to_a_version_with_no_migration_is_refused() {
    let staged = stage_with(SandboxConfig::default()).await;
    let store = Store::connect(&staged.settings.database_url, 1).expect("pool");
    let error = store
        .migrate_to(999)
        .await
        .expect_err("V999 does not exist");
    assert!(error.to_string().contains("V999"), "{error}");
    let db = sql(&staged.settings.database_url).await;
    assert!(!table_exists(&db, "accounts").await, "nothing was migrated");
    drop(db);
    drop(store);
    staged.discard().await;
}
