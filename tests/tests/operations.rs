//! Operations, through the real fleet, RabbitMQ and PostgreSQL: the `/metrics` listener's
//! counters equal what happened (runs finished, requests the sandbox's providers received,
//! exactly), a failed run moves the failed counter by one, the queue gauges come from the
//! broker, no label holds an id, and `/health` and `/ready` answer.

use docsync_e2e::{hudu_read_only_key, spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// The sum of `metric`'s samples whose labels include every `(name, value)` of `with`.
fn sum(text: &str, metric: &str, with: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (name == metric).then_some(())?;
            let wanted = with
                .iter()
                .all(|(k, v)| labels.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            wanted.then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

async fn wait(app: &TestApp, runs: &[String]) -> Vec<serde_json::Value> {
    app.wait_for_runs(runs, Duration::from_secs(120)).await
}

#[tokio::test]
async fn scraped_counters_equal_the_runs_and_provider_requests_made() {
    let app = spawn_app().await;
    let health = reqwest::get(format!("{}/health", app.metrics_url()))
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = reqwest::get(format!("{}/ready", app.metrics_url()))
        .await
        .expect("ready");
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "PostgreSQL and RabbitMQ answer"
    );
    let tenants = app.setup_hudu(&[0, 1, 2, 3]).await;

    let before = app.scrape().await;
    let (hudu0, graph0) = (app.sandbox.hudu_stats(), app.sandbox.graph_stats());
    let runs = app.push_all("hudu").await;
    assert_eq!(runs.len(), tenants.len());
    let done = wait(&app, &runs).await;
    assert!(done.iter().all(|r| r["state"] == "succeeded"), "{done:?}");
    let after = app.scrape().await;
    let (hudu1, graph1) = (app.sandbox.hudu_stats(), app.sandbox.graph_stats());

    let delta = |metric: &str, with: &[(&str, &str)]| {
        sum(&after, metric, with) - sum(&before, metric, with)
    };
    assert_eq!(
        delta(
            "docsync_runs_total",
            &[
                ("provider", "hudu"),
                ("trigger", "push-all"),
                ("state", "succeeded")
            ]
        ),
        tenants.len() as f64,
        "one succeeded run per tenant:\n{after}"
    );
    assert_eq!(delta("docsync_runs_total", &[("state", "failed")]), 0.0);
    assert_eq!(
        delta("docsync_provider_requests_total", &[("provider", "hudu")]),
        (hudu1.requests - hudu0.requests) as f64,
        "every Hudu request the sandbox received, counted once"
    );
    assert_eq!(
        delta("docsync_provider_requests_total", &[("provider", "graph")]),
        (graph1.requests - graph0.requests) as f64,
        "every Graph request"
    );
    assert_eq!(
        delta(
            "docsync_provider_requests_total",
            &[("provider", "exchange")]
        ),
        (graph1.exchange_requests - graph0.exchange_requests) as f64,
        "every Exchange request"
    );
    assert_eq!(
        delta("docsync_provider_requests_total", &[("provider", "login")]),
        (graph1.tokens_issued - graph0.tokens_issued) as f64,
        "every token request (each issued one)"
    );
    assert!(
        delta(
            "docsync_provider_request_duration_seconds_count",
            &[("provider", "hudu")]
        ) >= 1.0
    );
    assert!(delta("docsync_pacing_wait_seconds_count", &[("provider", "hudu")]) >= 1.0);
    assert_eq!(
        delta(
            "docsync_run_duration_seconds_count",
            &[("provider", "hudu"), ("stage", "total")]
        ),
        tenants.len() as f64
    );
    for stage in ["collect", "publish"] {
        assert_eq!(
            delta(
                "docsync_run_duration_seconds_count",
                &[("provider", "hudu"), ("stage", stage)]
            ),
            tenants.len() as f64,
            "one {stage} job per run"
        );
    }
    let used = sum(
        &after,
        "docsync_rate_limit_budget_used_ratio",
        &[("provider", "hudu")],
    );
    assert!(
        used > 0.0 && used <= 1.0,
        "the Hudu key's budget use: {used}"
    );
    assert!(
        after.contains("docsync_queue_messages{queue=\"collect\"}")
            && after.contains("docsync_queue_consumers{queue=\"publish.0\"}")
            && after.contains("docsync_dead_letters"),
        "queue gauges from the broker:\n{after}"
    );
    assert!(
        sum(&after, "docsync_queue_consumers", &[("queue", "collect")]) >= 1.0,
        "the collector consumes"
    );

    // A failed run moves the failed counter by exactly one.
    let mapping = json!({tenants[0].id.clone(): TestApp::company_of(&tenants[0])});
    let (status, body) = app
        .call(Method::PUT, "/integrations/hudu",
              Some(json!({"baseUrl": app.sandbox.hudu_url, "apiKey": hudu_read_only_key(), "companyIdByTenantId": mapping})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let failing = app.push(&tenants[0]).await;
    let done = wait(&app, std::slice::from_ref(&failing)).await;
    assert_eq!(
        done[0]["state"], "failed",
        "a read-only key cannot write: {done:?}"
    );
    let last = app.scrape().await;
    assert_eq!(
        sum(
            &last,
            "docsync_runs_total",
            &[("provider", "hudu"), ("state", "failed")]
        ) - sum(
            &after,
            "docsync_runs_total",
            &[("provider", "hudu"), ("state", "failed")]
        ),
        1.0
    );

    // No label holds an id: not the account's, a tenant's, a run's.
    let mut ids = vec![app.account.0.to_string(), failing.clone()];
    ids.extend(tenants.iter().map(|t| t.id.clone()));
    ids.extend(runs.iter().cloned());
    for id in ids {
        assert!(!last.contains(&id), "an id in the metrics: {id}");
    }
    for line in last.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.len() < 200, "labels stay short and bounded: {line}");
    }
    app.cleanup().await;
}
