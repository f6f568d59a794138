//! The operator's status page (`GET /ui`) in a real headless browser: Debian's chromium
//! driven through chromedriver (WebDriver) against the fleet on the real RabbitMQ and
//! PostgreSQL. Without a token (or with a refused one) it shows the token prompt and no data;
//! with a token it shows the tenants and run states of a real push, clears the token from the
//! URL, and its Push now and dead-letter Replay buttons really push and replay. Screenshots of
//! each state are kept under `<target dir>/ui-screenshots/` (their paths are printed).
//!
//! chromium and chromedriver must be installed (`apt-get install -y chromium
//! chromium-driver`, which `deploy/local/services.sh` does when they are missing): without them
//! these tests fail, naming the command.

use docsync_domain::{Provider, Trigger};
use docsync_e2e::{spawn_app, TestApp, TestTenant};
use docsync_queue::CollectJob;
use docsync_store::NewRun;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const INSTALL: &str = "install them with `apt-get install -y chromium chromium-driver` (as root), or run `bash deploy/local/services.sh`, which installs them when missing";

/// How long the page may take to show something the API already has.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// The first of `names` that is an executable on PATH (or in Debian's own places).
fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin".into(), "/usr/lib/chromium".into()]);
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// chromedriver started by this test, and a headless chromium session through it.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
}

impl Browser {
    async fn start() -> Browser {
        let chromium = find_binary(&["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("chromium is not installed: {INSTALL}"));
        let chromedriver = find_binary(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is not installed: {INSTALL}"));
        let port = free_port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} could not start ({e}): {INSTALL}",
                    chromedriver.display()
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{url}/status")).await;
            if let Ok(answer) = ready {
                let status: Value = answer.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Value::Object(capabilities) = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--no-first-run", "--no-default-browser-check",
                         "--disable-extensions", "--disable-background-networking"],
            }
        }) else {
            unreachable!("an object")
        };
        let client = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("no chromium session through chromedriver: {e}; {INSTALL}"));
        Browser { client, driver }
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}

/// Runs `scenario` with a fresh browser and always closes it (chromium included), then
/// passes on the scenario's panic if it had one.
async fn with_browser<F, Fut>(scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let browser = Browser::start().await;
    let outcome = AssertUnwindSafe(scenario(browser.client.clone()))
        .catch_unwind()
        .await;
    browser.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `<target dir>/ui-screenshots` (the test binary lives in `<target dir>/debug/deps`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// A PNG of the whole page (the window grown to the page's height), kept as `name`.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let height = client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(1000)
        .clamp(800, 6000);
    let _ = client.set_window_size(1400, height as u32 + 120).await;
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("the screenshot written");
    println!("screenshot: {}", path.display());
    path
}

/// Evaluates `condition` (a JS expression) in the page until it is truthy, pressing the
/// page's Refresh button now and then; returns its value.
async fn wait_for(client: &Client, what: &str, condition: &str) -> Value {
    let deadline = Instant::now() + PAGE_WAIT;
    let script = format!("return ({condition}) || null;");
    let mut last_refresh = Instant::now();
    loop {
        let value = client.execute(&script, vec![]).await.unwrap_or_else(|e| {
            panic!("the page could not evaluate {condition}: {e}");
        });
        if !value.is_null() {
            return value;
        }
        if Instant::now() > deadline {
            let text = body_text(client).await;
            panic!("the page never showed {what} ({condition}); it shows:\n{text}");
        }
        if last_refresh.elapsed() > Duration::from_millis(1500) {
            let _ = client
                .execute(
                    "const b = document.getElementById('refresh'); if (b && b.offsetParent) b.click();",
                    vec![],
                )
                .await;
            last_refresh = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn body_text(client: &Client) -> String {
    client
        .execute("return document.body.innerText;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn count(client: &Client, selector: &str) -> usize {
    client
        .find_all(Locator::Css(selector))
        .await
        .expect("the query")
        .len()
}

/// The JS for "the text of the first element matching `selector`" (null when none).
fn text_of(selector: &str) -> String {
    format!(
        "(document.querySelector({}) || {{}}).textContent",
        json!(selector)
    )
}

/// The page's sessionStorage token (None when it holds none).
async fn stored_token(client: &Client) -> Option<String> {
    client
        .execute("return sessionStorage.getItem('docsync.token');", vec![])
        .await
        .expect("sessionStorage")
        .as_str()
        .map(str::to_owned)
}

/// Asserts the page shows the token prompt and none of the account's data.
async fn assert_prompt_and_no_data(client: &Client, tenants: &[TestTenant]) {
    wait_for(
        client,
        "the token prompt",
        "!document.getElementById('signin').hidden && document.getElementById('dashboard').hidden",
    )
    .await;
    assert!(client
        .find(Locator::Id("token"))
        .await
        .expect("the token field")
        .is_displayed()
        .await
        .expect("displayed"));
    assert_eq!(count(client, "#tenants-body tr").await, 0, "tenant rows");
    assert_eq!(count(client, "tr[data-run-id]").await, 0, "run rows");
    assert_eq!(
        count(client, "#dashboard td").await,
        0,
        "no data cells at all"
    );
    let source = client.source().await.expect("the page source");
    for t in tenants {
        assert!(
            !source.contains(&t.fixture.display_name) && !source.contains(&t.id),
            "the page shows tenant {} without a token",
            t.fixture.display_name
        );
    }
}

#[tokio::test]
async fn without_a_token_or_with_a_refused_one_the_page_shows_the_token_prompt_and_no_data() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[2]).await;
    let ui = format!("{}/ui", app.api);
    let (app_ref, tenants) = (&app, &tenants);
    with_browser(|client| async move {
        let app = app_ref;
        // No token at all.
        client.goto(&ui).await.expect("the page");
        assert_prompt_and_no_data(&client, tenants).await;
        assert_eq!(stored_token(&client).await, None);
        screenshot(&client, "1-no-token.png").await;

        // A token the API refuses: taken from the fragment, which is cleared, then dropped.
        // (A new document: a change of fragment alone would not load the page again.)
        client.goto("about:blank").await.expect("a blank page");
        client
            .goto(&format!("{ui}#token=dsk_not-a-token-of-this-api"))
            .await
            .expect("the page");
        wait_for(
            &client,
            "the refusal",
            &format!("({}||'').includes('refused')", text_of("#signin-error")),
        )
        .await;
        assert_prompt_and_no_data(&client, tenants).await;
        let url = client.current_url().await.expect("url");
        assert_eq!(url.fragment(), None, "{url}");
        assert_eq!(
            stored_token(&client).await,
            None,
            "a refused token is not kept"
        );
        screenshot(&client, "2-refused-token.png").await;

        // The prompt itself signs in; Sign out forgets the token and every value shown.
        let field = client.find(Locator::Id("token")).await.expect("the field");
        field.send_keys(&app.token).await.expect("typed");
        client
            .find(Locator::Id("signin-button"))
            .await
            .expect("the button")
            .click()
            .await
            .expect("clicked");
        wait_for(
            &client,
            "the tenant's row",
            &format!(
                "document.querySelector('tr[data-tenant-id=\"{}\"]')",
                tenants[0].id
            ),
        )
        .await;
        assert_eq!(
            stored_token(&client).await.as_deref(),
            Some(app.token.as_str())
        );
        assert!(!client
            .current_url()
            .await
            .expect("url")
            .as_str()
            .contains(&app.token));
        client
            .find(Locator::Id("signout"))
            .await
            .expect("sign out")
            .click()
            .await
            .expect("clicked");
        assert_prompt_and_no_data(&client, tenants).await;
        assert_eq!(stored_token(&client).await, None, "signed out");
    })
    .await;
    app.cleanup().await;
}

#[tokio::test]
async fn with_a_token_the_page_shows_the_tenants_and_runs_of_a_real_push_and_push_now_pushes() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[0, 1]).await;
    let mut pushed = Vec::new();
    for t in &tenants {
        pushed.push(app.push(t).await);
    }
    for run in app.wait_for_runs(&pushed, Duration::from_secs(120)).await {
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    let api = app.api.clone();
    let token = app.token.clone();
    let (app_ref, tenants, pushed) = (&app, &tenants, &pushed);
    with_browser(|client| async move {
        let app = app_ref;
        client
            .goto(&format!("{api}/ui#token={token}"))
            .await
            .expect("the page");
        // Both tenants, each with the state of its real push.
        for t in tenants {
            wait_for(
                &client,
                &format!("{} pushed to Hudu", t.fixture.display_name),
                &format!(
                    "{} === 'succeeded'",
                    text_of(&format!(
                        "tr[data-tenant-id=\"{}\"] td[data-provider=\"hudu\"] .state",
                        t.id
                    ))
                ),
            )
            .await;
            let row = client
                .find(Locator::Css(&format!("tr[data-tenant-id=\"{}\"]", t.id)))
                .await
                .expect("the tenant's row");
            let text = row.text().await.expect("its text");
            assert!(text.contains(&t.fixture.display_name), "{text}");
            assert!(text.contains(t.fixture.default_domain()), "{text}");
            assert!(text.contains("last push"), "{text}");
        }
        assert_eq!(count(&client, "#tenants-body tr[data-tenant-id]").await, 2);
        for run in pushed {
            wait_for(
                &client,
                &format!("run {run} succeeded"),
                &format!(
                    "{} === 'succeeded'",
                    text_of(&format!("tr[data-run-id=\"{run}\"] .state"))
                ),
            )
            .await;
        }
        wait_for(
            &client,
            "2 runs of the last 24 h that succeeded",
            &format!(
                "{} === '2'",
                text_of("#summary-body .card[data-state=\"succeeded\"] .n")
            ),
        )
        .await;
        // The token left the address bar at once and stays in the tab's session storage.
        let url = client.current_url().await.expect("url");
        assert_eq!(url.fragment(), None, "{url}");
        assert!(!url.as_str().contains(&token), "{url}");
        assert_eq!(stored_token(&client).await.as_deref(), Some(token.as_str()));
        // Nothing was loaded from anywhere but the API, and no secret is on the page.
        let loaded = client
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name);",
                vec![],
            )
            .await
            .expect("resource timings");
        let loaded: Vec<String> = serde_json::from_value(loaded).expect("names");
        assert!(!loaded.is_empty(), "the page called the API");
        for name in &loaded {
            assert!(name.starts_with(&format!("{api}/")), "loaded {name}");
        }
        let source = client.source().await.expect("source");
        let sandbox = docsync_sandbox::SandboxConfig::default();
        for secret in [
            docsync_e2e::hudu_write_key(),
            sandbox.graph_client_secret.clone(),
            token.clone(),
        ] {
            assert!(!source.contains(&secret), "a secret is on the page");
        }
        screenshot(&client, "3-tenants-and-runs.png").await;

        // Push now on the second tenant: a new run of that tenant, which succeeds.
        let tenant = &tenants[1];
        client
            .find(Locator::Css(&format!(
                "button.push-now[data-provider=\"hudu\"][data-tenant-id=\"{}\"]",
                tenant.id
            )))
            .await
            .expect("the Push now button")
            .click()
            .await
            .expect("clicked");
        let notice = wait_for(
            &client,
            "the push notice",
            "(() => { const t = document.getElementById('notice').textContent; return t.includes('queued: run') ? t : null; })()",
        )
        .await;
        let notice = notice.as_str().expect("the notice").to_owned();
        let (status, runs) = app
            .call(
                Method::GET,
                &format!("/integrations/hudu/runs?tenantId={}", tenant.id),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{runs}");
        let new: Vec<String> = runs["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .filter(|id| !pushed.iter().any(|p| p == id))
            .map(str::to_owned)
            .collect();
        assert_eq!(new.len(), 1, "one new run for the tenant: {runs}");
        let run_id = &new[0];
        assert!(notice.contains(run_id.as_str()), "{notice}");
        let run = app.wait_for_run(run_id).await;
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["trigger"], "manual", "{run}");
        assert_eq!(run["tenantId"], tenant.id.as_str(), "{run}");
        assert_eq!(
            app.articles_in(TestApp::company_of(tenant)).len(),
            1,
            "updated in place"
        );
        // The page follows it to succeeded and shows its events.
        wait_for(
            &client,
            "the new run succeeded",
            &format!(
                "{} === 'succeeded'",
                text_of(&format!("tr[data-run-id=\"{run_id}\"] .state"))
            ),
        )
        .await;
        client
            .find(Locator::Css(&format!(
                "tr[data-run-id=\"{run_id}\"] button.events-toggle"
            )))
            .await
            .expect("the Events button")
            .click()
            .await
            .expect("clicked");
        let events = wait_for(
            &client,
            "the run's events",
            &format!(
                "Array.from(document.querySelectorAll('tr[data-events-of=\"{run_id}\"] .state')).map(e => e.textContent).join(' ')"
            ),
        )
        .await;
        let history: Vec<&str> = run["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["state"].as_str())
            .collect();
        assert!(history.len() >= 3, "{run}");
        assert_eq!(events, history.join(" "), "the run's history as GET /runs/:id has it");
        screenshot(&client, "4-push-now.png").await;
    })
    .await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_dead_letter_replayed_from_the_page_goes_back_to_its_queue_and_its_run_succeeds() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[5]).await;
    // A push whose job was parked (it ran out of deliveries during an outage, say).
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
    let run_id = ids[0].to_string();
    app.broker()
        .dead_letter(
            &app.broker().collect_queue(),
            serde_json::to_vec(&CollectJob::new(ids[0])).expect("json"),
            "delivered 20 times without being finished",
        )
        .await
        .expect("parked");
    let (_, listed) = app.call(Method::GET, "/dlq", None).await;
    assert_eq!(
        listed["deadLetters"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    let ui = format!("{}/ui#token={}", app.api, app.token);
    let app_ref = &app;
    let run = &run_id;
    with_browser(|client| async move {
        client.goto(&ui).await.expect("the page");
        wait_for(
            &client,
            "the dead letter",
            &format!("document.querySelector('#dlq-body tr[data-run-id=\"{run}\"]')"),
        )
        .await;
        let row = client
            .find(Locator::Css(&format!(
                "#dlq-body tr[data-run-id=\"{run}\"]"
            )))
            .await
            .expect("the row");
        let text = row.text().await.expect("its text");
        assert!(text.contains("delivered 20 times"), "{text}");
        assert_eq!(count(&client, "#dlq-body tr[data-dead-letter-id]").await, 1);
        screenshot(&client, "5-dead-letter.png").await;

        row.find(Locator::Css("button.replay"))
            .await
            .expect("the Replay button")
            .click()
            .await
            .expect("clicked");
        wait_for(
            &client,
            "the replay notice",
            &format!("({}||'').includes('Replayed 1 of 1')", text_of("#notice")),
        )
        .await;
        // Out of the dead-letter queue, through the fleet, and pushed.
        let (_, listed) = app_ref.call(Method::GET, "/dlq", None).await;
        assert_eq!(listed["deadLetters"], json!([]), "{listed}");
        let done = app_ref.wait_for_run(run).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(
            app_ref.articles_in(TestApp::company_of(&tenants[0])).len(),
            1
        );
        wait_for(
            &client,
            "the empty dead-letter list",
            "document.querySelector('#dlq-body [data-empty=\"dlq\"]')",
        )
        .await;
        wait_for(
            &client,
            "the replayed run succeeded",
            &format!(
                "{} === 'succeeded'",
                text_of(&format!("#runs-body tr[data-run-id=\"{run}\"] .state"))
            ),
        )
        .await;
        screenshot(&client, "6-replayed.png").await;
    })
    .await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_psa_integration_shows_its_last_sync_counts_and_company_matches() {
    let app = spawn_app().await;
    app.setup_hudu(&[]).await;
    let cw = docsync_sandbox::SandboxConfig::default().connectwise;
    let (status, view) = app
        .call(
            Method::PUT,
            "/integrations/connectwise-manage",
            Some(
                json!({"site": app.sandbox.connectwise_url, "companyId": cw.company_id,
                        "publicKey": cw.public_key, "privateKey": cw.private_key,
                        "clientId": cw.client_id, "schedule": {"mode": "manual"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    // A first sync with nothing matched: the company list fills, every company unmatched.
    let (status, accepted) = app
        .call(Method::POST, "/integrations/connectwise-manage/sync", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let run_id = accepted["runId"].as_str().expect("runId").to_owned();
    let run = app.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");

    let ui = format!("{}/ui#token={}", app.api, app.token);
    let (run_id, companies, private_key) = (&run_id, cw.companies, cw.private_key.clone());
    with_browser(|client| async move {
        client.goto(&ui).await.expect("the page");
        let psa = "#psa-body [data-psa=\"connectwise-manage\"]";
        wait_for(
            &client,
            "ConnectWise Manage's last sync",
            &format!("{} === 'succeeded'", text_of(&format!("{psa} .state"))),
        )
        .await;
        let text = client
            .find(Locator::Css(psa))
            .await
            .expect("the section")
            .text()
            .await
            .expect("its text");
        assert!(
            text.contains(&format!("{companies} companies")),
            "{text}"
        );
        assert_eq!(
            count(&client, &format!("{psa} tr[data-psa-id]")).await,
            companies.min(100)
        );
        let unmatched = client
            .execute(
                &format!(
                    "return Array.from(document.querySelectorAll('{psa} tr[data-psa-id] .state')).filter(e => e.textContent === 'unmatched').length;"
                ),
                vec![],
            )
            .await
            .expect("the match states");
        assert_eq!(unmatched, json!(companies.min(100)), "{text}");
        for kind in ["created", "updated", "unchanged", "failed"] {
            assert!(
                count(&client, &format!("{psa} [data-count=\"{kind}\"]")).await == 1,
                "the {kind} count is shown: {text}"
            );
        }
        // The other PSAs are not configured, and the sync is among the recent runs.
        for other in ["halopsa", "autotask"] {
            let shown = wait_for(
                &client,
                &format!("{other} not configured"),
                &text_of(&format!("#psa-body [data-psa=\"{other}\"] [data-configured=\"false\"]")),
            )
            .await;
            assert_eq!(shown, "not configured");
        }
        wait_for(
            &client,
            "the sync run",
            &format!(
                "{} === 'succeeded'",
                text_of(&format!("#runs-body tr[data-run-id=\"{run_id}\"] .state"))
            ),
        )
        .await;
        let source = client.source().await.expect("source");
        assert!(!source.contains(&private_key), "a PSA secret is on the page");
        screenshot(&client, "7-psa.png").await;
    })
    .await;
    app.cleanup().await;
}
