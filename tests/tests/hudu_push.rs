//! A tenant's live posture lands as exactly one Hudu article, updated in place, through the
//! real RabbitMQ and PostgreSQL.

use docsync_e2e::{shown, spawn_app, TestApp};
use docsync_queue::{CollectJob, PublishJob};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn push_now_writes_one_article_with_every_section_and_the_tenants_real_figures() {
    let app = spawn_app().await;
    // Fixture 0 has 2,600+ users, so the MFA figure needs every registration page.
    let tenants = app.setup_hudu(&[0]).await;
    let tenant = &tenants[0];
    assert!(tenant.fixture.user_count() > 2500);

    let run = app.wait_for_run(&app.push(tenant).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "manual");
    let states: Vec<&str> = run["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert_eq!(
        states,
        [
            "queued",
            "collecting",
            "publishing",
            "publishing",
            "succeeded"
        ],
        "{run}"
    );

    let articles = app.articles_in(TestApp::company_of(tenant));
    assert_eq!(
        articles.len(),
        1,
        "exactly one article in the mapped company"
    );
    let article = &articles[0];
    assert_eq!(
        article.name,
        format!("M365 Posture — {}", tenant.fixture.display_name)
    );
    assert_eq!(run["remoteId"], article.id.to_string());
    for heading in [
        "Last sync and push",
        "Tenant metadata",
        "MFA adoption",
        "Conditional Access",
        "Standards status",
        "Compliance scores",
        "Defender",
        "Exchange Online",
        "Copilot",
    ] {
        assert!(
            article.content.contains(&format!("<h2>{heading}</h2>")),
            "missing section {heading}"
        );
    }
    let users = tenant.fixture.users.len();
    let registered = tenant
        .fixture
        .users
        .iter()
        .filter(|u| u.is_mfa_registered)
        .count();
    let mfa = format!(
        "{registered} of {users} ({}%)",
        shown(tenant.fixture.mfa_percent())
    );
    assert!(
        article.content.contains(&mfa),
        "article lacks the MFA figure {mfa}"
    );
    assert!(article
        .content
        .contains(&tenant.fixture.microsoft_tenant_id));
    assert!(article.content.contains(tenant.fixture.default_domain()));
    assert!(
        !article.content.contains("Not collected"),
        "every section of fixture 0 is collectable"
    );

    // The tenant view shows the last sync and the last push.
    let (_, view) = app
        .call(Method::GET, &format!("/tenants/{}", tenant.id), None)
        .await;
    assert!(view["lastSyncAt"].is_string(), "{view}");
    assert_eq!(
        view["providers"]["hudu"]["lastRunState"], "succeeded",
        "{view}"
    );
    assert!(
        view["providers"]["hudu"]["lastPushAt"].is_string(),
        "{view}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_section_that_cannot_be_collected_is_shown_with_its_reason_and_the_push_still_succeeds() {
    let app = spawn_app().await;
    // Fixture 4: the app lacks Exchange permission in that tenant.
    let tenants = app.setup_hudu(&[4]).await;
    assert!(tenants[0].fixture.denied.contains(&"exchange"));
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let article = &app.articles_in(TestApp::company_of(&tenants[0]))[0];
    let exchange = article
        .content
        .split("<h2>Exchange Online</h2>")
        .nth(1)
        .expect("Exchange section present");
    assert!(
        exchange.contains("Not collected"),
        "Exchange section should say why it is missing"
    );
    assert!(exchange.contains("403"), "the reason names the refusal");
    assert!(article.content.contains("<h2>MFA adoption</h2>"));
    app.cleanup().await;
}

#[tokio::test]
async fn a_second_push_updates_the_same_article_and_a_rename_renames_it_in_place() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[1]).await;
    let tenant = &tenants[0];
    let company = TestApp::company_of(tenant);

    let first = app.wait_for_run(&app.push(tenant).await).await;
    let second = app.wait_for_run(&app.push(tenant).await).await;
    assert_eq!(second["state"], "succeeded", "{second}");
    assert_eq!(first["remoteId"], second["remoteId"]);
    let articles = app.articles_in(company);
    assert_eq!(articles.len(), 1);
    assert_eq!(
        articles[0].versions, 2,
        "the second push updated the article"
    );

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/tenants/{}", tenant.id),
            Some(json!({"name": "Renamed Client Ltd"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = app.wait_for_run(&app.push(tenant).await).await;
    assert_eq!(third["state"], "succeeded", "{third}");
    assert_eq!(third["remoteId"], first["remoteId"]);
    let articles = app.articles_in(company);
    assert_eq!(
        articles.len(),
        1,
        "a rename must not leave a second article"
    );
    assert_eq!(articles[0].name, "M365 Posture — Renamed Client Ltd");
    assert!(articles[0].content.contains("Renamed Client Ltd"));
    app.cleanup().await;
}

#[tokio::test]
async fn push_all_covers_every_mapped_tenant_and_reports_the_skipped_ones() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenants = app.create_tenants(&[2, 3, 6, 7]).await;
    let (mapped, unmapped) = tenants.split_at(3);
    app.configure_hudu(mapped).await;

    let (status, body) = app
        .call(Method::POST, "/integrations/hudu/push-all", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run_ids: Vec<String> = body["runIds"]
        .as_array()
        .expect("runIds")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    assert_eq!(run_ids.len(), 3);
    let skipped = body["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["tenantId"], unmapped[0].id);

    for id in &run_ids {
        let run = app.wait_for_run(id).await;
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["trigger"], "push-all");
    }
    for t in mapped {
        let articles = app.articles_in(TestApp::company_of(t));
        assert_eq!(articles.len(), 1, "{}", t.fixture.display_name);
        assert!(articles[0].name.ends_with(&t.fixture.display_name));
    }
    assert!(app
        .articles_in(TestApp::company_of(&unmapped[0]))
        .is_empty());
    assert_eq!(app.sandbox.hudu_articles().len(), 3);
    app.cleanup().await;
}

#[tokio::test]
async fn messages_delivered_twice_still_leave_one_article() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[8]).await;
    let tenant = &tenants[0];
    let run_id = app.push(tenant).await;
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded");

    // Deliver the same collect and publish messages again, as a broker would after a lost ack.
    let id = run_id.parse().expect("run id");
    let snapshot = run["snapshotId"]
        .as_str()
        .expect("snapshot")
        .parse()
        .expect("uuid");
    app.broker()
        .enqueue_collect(&[CollectJob::new(id)])
        .await
        .expect("enqueue");
    app.broker()
        .enqueue_publish(&PublishJob::push(
            id,
            snapshot,
            docsync_domain::rate_limit_key(docsync_domain::Provider::Hudu, app.account),
        ))
        .await
        .expect("enqueue");
    // And a fresh push right behind them: every message is handled in order on the partition.
    let after = app.wait_for_run(&app.push(tenant).await).await;
    assert_eq!(after["state"], "succeeded");
    let again = app.wait_for_run(&run_id).await;
    assert_eq!(
        again["attempts"], run["attempts"],
        "a finished run is not worked again"
    );
    let articles = app.articles_in(TestApp::company_of(tenant));
    assert_eq!(articles.len(), 1);
    assert_eq!(
        articles[0].id.to_string(),
        run["remoteId"].as_str().expect("remote id")
    );
    app.cleanup().await;
}

#[tokio::test]
async fn the_first_push_adopts_an_existing_article_of_the_exact_title() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[9]).await;
    let tenant = &tenants[0];
    let company = TestApp::company_of(tenant);
    // A near-miss title (substring match at Hudu) and the exact title, made by hand earlier.
    let title = format!("M365 Posture — {}", tenant.fixture.display_name);
    app.sandbox
        .create_hudu_article(company, &format!("{title} (old)"), "<p>old</p>");
    let existing = app
        .sandbox
        .create_hudu_article(company, &title, "<p>by hand</p>");

    let run = app.wait_for_run(&app.push(tenant).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["remoteId"], existing.to_string());
    let articles = app.articles_in(company);
    assert_eq!(
        articles.len(),
        2,
        "nothing created beside the two that existed"
    );
    let adopted = articles.iter().find(|a| a.id == existing).expect("adopted");
    assert!(adopted.content.contains("<h2>Tenant metadata</h2>"));
    app.cleanup().await;
}

#[tokio::test]
async fn a_read_only_hudu_key_fails_the_run_with_a_reason_a_person_can_act_on() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[11]).await;
    let mapping = json!({ tenants[0].id.clone(): TestApp::company_of(&tenants[0]) });
    let (status, body) = app
        .call(
            Method::PUT,
            "/integrations/hudu",
            Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": docsync_e2e::hudu_read_only_key(), "companyIdByTenantId": mapping})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The read-only key passes the connection test (the seed's pitfall) ...
    let (_, test) = app
        .call(Method::POST, "/integrations/hudu/test", None)
        .await;
    assert_eq!(test["keyValid"], true, "{test}");
    assert!(
        test["firstCompanies"]
            .as_array()
            .is_some_and(|c| c.len() == 10),
        "{test}"
    );
    // ... but the push fails, saying why.
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "failed");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("403") && error.contains("write access"),
        "{error}"
    );
    assert!(
        !error.contains(&docsync_e2e::hudu_read_only_key()),
        "the key never appears in errors"
    );
    app.cleanup().await;
}
