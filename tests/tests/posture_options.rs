//! Posture options beyond the seed: a section subset, the MSP's own Hudu template, the preview
//! of the next push and `writeUnchanged: false`, through the real RabbitMQ and PostgreSQL and
//! the sandbox's Hudu and IT Glue.

use docsync_e2e::{itglue_us_key, spawn_app, TestApp, TestTenant};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The Hudu PUT body mapping `tenant`, with `extra` fields.
fn hudu_body(app: &TestApp, tenant: &TestTenant, extra: Value) -> Value {
    let mut body = json!({
        "baseUrl": app.sandbox.hudu_url,
        "apiKey": docsync_e2e::hudu_write_key(),
        "companyIdByTenantId": {tenant.id.clone(): TestApp::company_of(tenant)},
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// The IT Glue PUT body (us region) mapping `tenant`, with `extra` fields.
fn itglue_body(tenant: &TestTenant, extra: Value) -> Value {
    let mut body = json!({
        "region": "us",
        "apiKey": itglue_us_key(),
        "organizationIdByTenantId": {tenant.id.clone(): TestApp::company_of(tenant)},
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

async fn put(app: &TestApp, provider: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/integrations/{provider}"),
        Some(body),
    )
    .await
}

/// The one article in the tenant's company.
fn article(app: &TestApp, tenant: &TestTenant) -> docsync_sandbox::HuduArticle {
    let articles = app.articles_in(TestApp::company_of(tenant));
    assert_eq!(articles.len(), 1, "one article in the mapped company");
    articles[0].clone()
}

/// The one posture asset of the tenant's organization.
fn asset(app: &TestApp, tenant: &TestTenant) -> docsync_sandbox::ItGlueAsset {
    let assets: Vec<_> = app
        .sandbox
        .itglue_assets(&itglue_us_key())
        .into_iter()
        .filter(|a| a.organization_id == TestApp::company_of(tenant))
        .collect();
    assert_eq!(assets.len(), 1, "one asset in the mapped organization");
    assets[0].clone()
}

/// The text without its two timestamp rows (the last sync and the last push).
fn timeless(html: &str) -> String {
    html.lines()
        .filter(|l| {
            !l.starts_with("<tr><th>Last sync</th>") && !l.starts_with("<tr><th>Last push</th>")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes the tenant's snapshots older than the collector's reuse window, so the next push
/// collects afresh (new collection time, the tenant's current facts).
async fn age_snapshots(app: &TestApp) {
    let (client, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("database");
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE snapshots SET collected_at = collected_at - interval '1 hour'",
            &[],
        )
        .await
        .expect("aged");
}

fn first_error(body: &Value) -> (String, String) {
    let e = &body["fields"][0];
    (
        e["field"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

const HEADINGS: [&str; 9] = [
    "Last sync and push",
    "Tenant metadata",
    "MFA adoption",
    "Conditional Access",
    "Standards status",
    "Compliance scores",
    "Defender",
    "Exchange Online",
    "Copilot",
];

#[tokio::test]
async fn a_section_subset_appears_alone_in_the_hudu_article_and_the_it_glue_asset() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenant = app.create_tenants(&[1]).await.remove(0);

    // An unknown section is named by its index; nothing is stored.
    let (status, body) = put(
        &app,
        "hudu",
        hudu_body(&app, &tenant, json!({"sections": ["metadata", "mfa"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(first_error(&body).0, "sections[1]", "{body}");

    let (status, view) = put(
        &app,
        "hudu",
        hudu_body(
            &app,
            &tenant,
            json!({"sections": ["copilot", "conditionalAccess"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["sections"], json!(["conditionalAccess", "copilot"]));
    assert_eq!(view["writeUnchanged"], true);
    let (status, view) = put(
        &app,
        "it-glue",
        itglue_body(&tenant, json!({"sections": ["defender"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["sections"], json!(["defender"]));

    let hudu = app.wait_for_run(&app.push_to("hudu", &tenant).await).await;
    let itglue = app
        .wait_for_run(&app.push_to("it-glue", &tenant).await)
        .await;
    assert_eq!(hudu["state"], "succeeded", "{hudu}");
    assert_eq!(itglue["state"], "succeeded", "{itglue}");

    let content = article(&app, &tenant).content;
    for heading in HEADINGS {
        let shown = content.contains(&format!("<h2>{heading}</h2>"));
        let wanted = matches!(
            heading,
            "Last sync and push" | "Conditional Access" | "Copilot"
        );
        assert_eq!(shown, wanted, "{heading} in the article: {content}");
    }

    // IT Glue: every field is still written (a PATCH drops what it leaves out), the unchosen
    // ones empty.
    let traits = asset(&app, &tenant).traits;
    for heading in HEADINGS {
        let key = docsync_sinks::itglue::name_key(heading);
        let value = traits
            .get(&key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("trait {key} is written: {traits:?}"));
        let wanted = matches!(heading, "Last sync and push" | "Defender");
        assert_eq!(!value.is_empty(), wanted, "{key} = {value:?}");
    }
    assert_eq!(traits["tenant"], tenant.fixture.display_name);
    app.cleanup().await;
}

#[tokio::test]
async fn a_template_renders_the_documented_variables_and_bad_ones_are_400s_naming_the_line() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenant = app.create_tenants(&[1]).await.remove(0);
    let template = "<h1>{{ title }}</h1>\n\
        <p>{{ tenant.name }} · {{ tenant.primaryDomain }} · {{ tenant.microsoftTenantId }}</p>\n\
        <p>users {{ metadata.userCount }}, MFA {{ mfa.registered }} of {{ mfa.users }}</p>\n\
        <p>CA policies {{ conditionalAccess.policyCount }}</p>\n\
        <ul>{% for f in compliance.frameworks %}<li>{{ f.framework }}: {{ f.passed }}/{{ f.failed }}</li>{% endfor %}</ul>\n\
        <p>sections {{ sections|join(',') }}; synced {{ collectedAt }}</p>\n\
        {% if exchange %}<p>audit {{ exchange.unifiedAuditEnabled }}</p>{% endif %}\n\
        <p>{{ '<script>' }}</p>";

    // Errors first: each is a 400 naming template with its line, and nothing is stored.
    for (bad, line, words) in [
        ("<p>ok</p>\n<p>{% for x in %}</p>", "line 2, column ", "syntax"),
        (
            "<p>a</p>\n\n{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}",
            "line 3: ",
            "too much work",
        ),
        ("{% include '/etc/passwd' %}", "line 1, column ", "include"),
    ] {
        let (status, body) = put(&app, "hudu", hudu_body(&app, &tenant, json!({"template": bad}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let (field, message) = first_error(&body);
        assert_eq!(field, "template", "{body}");
        assert!(message.starts_with(line), "{bad}: {message}");
        assert!(message.contains(words), "{bad}: {message}");
    }
    let (status, _) = app.call(Method::GET, "/integrations/hudu", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no bad PUT stored anything");

    let (status, view) = put(
        &app,
        "hudu",
        hudu_body(&app, &tenant, json!({"template": template})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["template"], template);

    let run = app.wait_for_run(&app.push(&tenant).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let content = article(&app, &tenant).content;
    let f = &tenant.fixture;
    let registered = f.users.iter().filter(|u| u.is_mfa_registered).count();
    for expected in [
        format!("<h1>M365 Posture — {}</h1>", f.display_name),
        format!(
            "<p>{} · {} · {}</p>",
            f.display_name,
            f.default_domain(),
            f.microsoft_tenant_id
        ),
        format!(
            "<p>users {}, MFA {registered} of {}</p>",
            f.user_count(),
            f.users.len()
        ),
        format!("<p>CA policies {}</p>", f.ca_policies.len()),
        "<li>Essential Eight: ".to_owned(),
        "<p>sections metadata,conditionalAccess,standards,compliance,defender,exchange,copilot; synced 20".to_owned(),
        // Booleans print as minijinja (Jinja) prints them.
        format!(
            "<p>audit {}</p>",
            if f.unified_audit_enabled { "True" } else { "False" }
        ),
        "<p>&lt;script&gt;</p>".to_owned(),
    ] {
        assert!(content.contains(&expected), "missing {expected:?} in {content}");
    }
    assert!(
        !content.contains("<h2>"),
        "the template replaces the built-in layout"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_preview_is_what_the_next_push_writes_and_writes_nothing() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenant = app.create_tenants(&[1]).await.remove(0);
    let template = "<h1>{{ title }}</h1>{% for p in conditionalAccess.policies %}<p>{{ p.name }}: {{ p.state }}</p>{% endfor %}{{ unavailable|length }}";
    let (status, body) = put(
        &app,
        "hudu",
        hudu_body(&app, &tenant, json!({"template": template})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = put(
        &app,
        "it-glue",
        itglue_body(&tenant, json!({"sections": ["metadata", "exchange"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let path = |provider: &str| format!("/integrations/{provider}/preview/{}", tenant.id);
    let (status, body) = app.call(Method::POST, &path("hudu"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no snapshot yet: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no snapshot"),
        "{body}"
    );

    // A first push of each gives the tenant a snapshot.
    for provider in ["hudu", "it-glue"] {
        let run = app
            .wait_for_run(&app.push_to(provider, &tenant).await)
            .await;
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    let hudu_writes = app.sandbox.hudu_stats().writes;
    let itglue_writes = app.sandbox.itglue_stats().writes;

    let (status, hudu) = app.call(Method::POST, &path("hudu"), None).await;
    assert_eq!(status, StatusCode::OK, "{hudu}");
    let (status, itglue) = app.call(Method::POST, &path("it-glue"), None).await;
    assert_eq!(status, StatusCode::OK, "{itglue}");
    assert_eq!(
        app.sandbox.hudu_stats().writes,
        hudu_writes,
        "a preview writes nothing"
    );
    assert_eq!(
        app.sandbox.itglue_stats().writes,
        itglue_writes,
        "a preview writes nothing"
    );

    // The next push writes exactly the preview (its template shows no time).
    for provider in ["hudu", "it-glue"] {
        let run = app
            .wait_for_run(&app.push_to(provider, &tenant).await)
            .await;
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    let written = article(&app, &tenant);
    assert_eq!(hudu["title"], written.name);
    assert_eq!(hudu["content"].as_str(), Some(written.content.as_str()));
    assert!(
        written.content.contains("<h1>M365 Posture — "),
        "{}",
        written.content
    );

    // IT Glue's default layout shows the times: everything else is byte for byte the same.
    let asset = asset(&app, &tenant);
    assert_eq!(itglue["name"], asset.name);
    let previewed = itglue["traits"].as_object().expect("traits");
    assert_eq!(previewed.len(), asset.traits.len(), "{previewed:?}");
    for (key, value) in previewed {
        let value = value.as_str().expect("text trait");
        let stored = asset.traits[key].as_str().expect("text trait");
        if key == "last-sync-and-push" {
            assert_eq!(timeless(value), timeless(stored));
            assert!(value.contains("<tr><th>Last push</th>"), "{value}");
        } else {
            assert_eq!(value, stored, "trait {key}");
        }
    }
    assert_eq!(previewed["defender"], "", "an unchosen section is empty");

    // A PSA has no preview; a bad tenant id is a 400.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/integrations/halopsa/preview/{}", tenant.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call(Method::POST, "/integrations/hudu/preview/not-a-uuid", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.cleanup().await;
}

#[tokio::test]
async fn write_unchanged_false_writes_nothing_for_an_unchanged_tenant_and_once_after_a_change() {
    let app = spawn_app().await;
    app.connect_microsoft().await;
    let tenant = app.create_tenants(&[1]).await.remove(0);
    let off = json!({"writeUnchanged": false});
    let (status, view) = put(&app, "hudu", hudu_body(&app, &tenant, off.clone())).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["writeUnchanged"], false);
    let (status, view) = put(&app, "it-glue", itglue_body(&tenant, off)).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    let writes = |app: &TestApp| {
        (
            app.sandbox.hudu_stats().writes,
            app.sandbox.itglue_stats().writes,
        )
    };
    let push_both = || async {
        age_snapshots(&app).await;
        let mut runs = Vec::new();
        for provider in ["hudu", "it-glue"] {
            let run = app
                .wait_for_run(&app.push_to(provider, &tenant).await)
                .await;
            assert_eq!(run["state"], "succeeded", "{run}");
            runs.push(run);
        }
        runs
    };
    let unchanged = |run: &Value| {
        run["events"].as_array().expect("events").iter().any(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("unchanged, not written"))
        })
    };

    let first = push_both().await;
    assert!(first.iter().all(|r| !unchanged(r)), "{first:?}");
    let after_first = writes(&app);
    let before = article(&app, &tenant).content;

    // The same facts again: no provider write, and the runs say so.
    let second = push_both().await;
    assert!(second.iter().all(unchanged), "{second:?}");
    assert_eq!(
        writes(&app),
        after_first,
        "an unchanged tenant is not written"
    );
    assert_eq!(second[0]["remoteId"], first[0]["remoteId"]);
    assert_eq!(
        article(&app, &tenant).content,
        before,
        "the article is left as it was"
    );

    // A fact changes in the tenant: each document is written once.
    let index = tenant.fixture.index;
    assert!(app.sandbox.edit_tenant(index, |f| f.unified_audit_enabled =
        !f.unified_audit_enabled));
    let third = push_both().await;
    assert!(third.iter().all(|r| !unchanged(r)), "{third:?}");
    assert_eq!(
        writes(&app),
        (after_first.0 + 1, after_first.1 + 1),
        "a change writes each document once"
    );
    assert_ne!(article(&app, &tenant).content, before);

    // And the changed facts are not written again.
    let fourth = push_both().await;
    assert!(fourth.iter().all(unchanged), "{fourth:?}");
    assert_eq!(writes(&app), (after_first.0 + 1, after_first.1 + 1));
    app.cleanup().await;
}
