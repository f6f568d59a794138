//! `docsync demo`: the whole product on one machine. Starts the provider sandbox and every
//! role, creates an account with 25 tenants and the Hudu and IT Glue integrations through the
//! API, pushes all to both, shows progress, and prints a table of tenants, their documents
//! and the requests made. Then the PSA syncs: ConnectWise Manage (the sandbox's) configured
//! through the API, a first sync that fills the company list, match-all, a second sync that
//! writes the companies and their records into Hudu, and a table of each ConnectWise company,
//! the Hudu company it landed in and its asset counts, with the run's counts; then HaloPSA
//! (its knowledge base included) and Autotask the same way, with their counts and requests.

use crate::fleet::{Fleet, Roles};
use crate::settings::Settings;
use anyhow::Context;
use docsync_domain::crypto::MasterKey;
use docsync_sandbox::{fixtures, Sandbox, SandboxConfig};
use docsync_store::Permission;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TENANTS: usize = 25;

/// The ConnectWise Manage integration's routes.
const CW: &str = "/integrations/connectwise-manage";

/// Runs the demo end to end; with `stay`, keeps the fleet running afterwards (the status
/// page's address printed) until Ctrl-C or SIGTERM. `log` is where the logs go, to say so.
pub async fn run(
    mut settings: Settings,
    log: Option<&std::path::Path>,
    stay: bool,
) -> anyhow::Result<()> {
    if let Some(log) = log {
        println!("Logs: {}", log.display());
    }
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    println!("Provider sandbox:");
    println!("  Graph     {}", sandbox.graph_url);
    println!("  Login     {}", sandbox.login_url);
    println!("  Exchange  {}", sandbox.exchange_url);
    println!("  Hudu      {}", sandbox.hudu_url);
    println!("  IT Glue   {} (us)", sandbox.itglue_us_url);
    println!("  ConnectWise Manage {}", sandbox.connectwise_url);
    settings.itglue_hosts.us = sandbox.itglue_us_url.clone();
    settings.itglue_hosts.eu = sandbox.itglue_eu_url.clone();
    settings.itglue_hosts.au = sandbox.itglue_au_url.clone();
    settings.autotask_zone_url = sandbox.autotask_zone_discovery_url();
    settings.graph_url = sandbox.graph_url.clone();
    settings.login_url = sandbox.login_url.clone();
    settings.exchange_url = sandbox.exchange_url.clone();
    settings.allow_private_provider_urls = true;
    settings.queue_prefix = format!("{}-demo", settings.queue_prefix);
    // A database of its own: the demo's account, tenants and runs never mix with a fleet's.
    settings.database_url = demo_database_url(&settings.database_url);
    if settings.master_key.is_none() {
        settings.master_key = Some(MasterKey::generate_b64().into());
    }
    if std::net::TcpListener::bind(settings.api_addr).is_err() {
        settings.api_addr = "127.0.0.1:0".parse()?;
    }
    let fleet = Fleet::start(&settings, Roles::all()).await?;
    let api = format!(
        "http://{}",
        fleet.api_addr.context("the API did not start")?
    );
    println!("docsync API  {api}\n");

    let result = drive(&fleet, &api, &sandbox).await;
    if let (Ok((_, token)), true) = (&result, stay) {
        println!("\nThe fleet keeps running. Status page (the token is read once, then cleared):");
        println!("  {api}/ui#token={token}");
        if let Some(addr) = fleet.metrics_addr {
            println!("Metrics: http://{addr}/metrics");
        }
        println!("Ctrl-C stops it.");
        crate::fleet::signal().await;
    }
    // The demo leaves nothing behind in its database: its account goes, with all it owns.
    if let Ok((account, _)) = &result {
        if let Err(e) = fleet.store.delete_account(*account).await {
            tracing::warn!(error = %e, "the demo account could not be removed");
        }
    }
    fleet.stop().await;
    sandbox.shutdown();
    result.map(|_| ())
}

/// The demo's own database beside the configured one: `…/docsync` becomes `…/docsync_demo`
/// (the query, e.g. `?sslmode=require`, kept).
fn demo_database_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let with_db = match base[authority_start..].find('/') {
        Some(slash) => {
            let (head, name) = base.split_at(authority_start + slash + 1);
            let name = if name.is_empty() { "docsync" } else { name };
            format!("{head}{name}_demo")
        }
        None => format!("{base}/docsync_demo"),
    };
    match query {
        Some(q) => format!("{with_db}?{q}"),
        None => with_db,
    }
}

/// Drives the product through its API; returns the demo account and its token.
async fn drive(
    fleet: &Fleet,
    api: &str,
    sandbox: &Sandbox,
) -> anyhow::Result<(docsync_domain::AccountId, String)> {
    let account = fleet.store.create_account("Demo MSP").await?;
    let token = crate::admin::create_token(&fleet.store, account, &Permission::ALL).await?;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{api}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let value: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                anyhow::bail!("{status}: {value}");
            }
            Ok::<Value, anyhow::Error>(value)
        }
    };
    println!("Account {account}: connecting the Microsoft app and creating {TENANTS} tenants");
    let defaults = SandboxConfig::default();
    call(
        reqwest::Method::PUT,
        "/connections/microsoft",
        Some(json!({"clientId": defaults.graph_client_id, "clientSecret": defaults.graph_client_secret})),
    )
    .await?;
    let mut mapping = serde_json::Map::new();
    let mut names = HashMap::new();
    for i in 0..TENANTS {
        let f = fixtures::tenant(i);
        let t = call(
            reqwest::Method::POST,
            "/tenants",
            Some(json!({"name": f.display_name, "primaryDomain": f.default_domain(), "microsoftTenantId": f.microsoft_tenant_id})),
        )
        .await?;
        let id = t["id"].as_str().unwrap_or_default().to_owned();
        mapping.insert(id.clone(), json!(i + 1));
        names.insert(id, f.display_name.clone());
    }
    let hudu_key = defaults
        .hudu_keys
        .first()
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    call(
        reqwest::Method::PUT,
        "/integrations/hudu",
        Some(json!({"baseUrl": sandbox.hudu_url, "apiKey": hudu_key, "companyIdByTenantId": mapping})),
    )
    .await?;
    let test = call(reqwest::Method::POST, "/integrations/hudu/test", None).await?;
    println!(
        "Hudu test connection: key valid {}, first companies: {}",
        test["keyValid"],
        test["firstCompanies"]
            .as_array()
            .map(|a| a
                .iter()
                .take(3)
                .filter_map(|c| c["name"].as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );

    let itglue_key = defaults
        .itglue_keys
        .first()
        .map(|k| k.key.clone())
        .unwrap_or_default();
    call(
        reqwest::Method::PUT,
        "/integrations/it-glue",
        Some(json!({"apiKey": itglue_key, "region": "us", "organizationIdByTenantId": mapping})),
    )
    .await?;
    let test = call(reqwest::Method::POST, "/integrations/it-glue/test", None).await?;
    println!(
        "IT Glue test connection: key valid {}, rate-limit headers {}",
        test["keyValid"], test["rateLimitHeaders"]
    );

    let started = Instant::now();
    let mut total = 0;
    for provider in ["hudu", "it-glue"] {
        let pushed = call(
            reqwest::Method::POST,
            &format!("/integrations/{provider}/push-all"),
            None,
        )
        .await?;
        total += pushed["runIds"].as_array().map_or(0, Vec::len);
    }
    println!("push-all to Hudu and IT Glue accepted {total} runs (one snapshot per tenant serves both)\n");
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  {bar:40} {pos}/{len} finished  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let runs = loop {
        let mut list = Vec::new();
        for provider in ["hudu", "it-glue"] {
            let runs = call(
                reqwest::Method::GET,
                &format!("/integrations/{provider}/runs?limit=1000"),
                None,
            )
            .await?;
            list.extend(runs["runs"].as_array().cloned().unwrap_or_default());
        }
        let count = |s: &str| list.iter().filter(|r| r["state"] == s).count();
        let done = count("succeeded") + count("failed");
        bar.set_position(done as u64);
        bar.set_message(format!(
            "queued {}  collecting {}  publishing {}  failed {}",
            count("queued"),
            count("collecting"),
            count("publishing"),
            count("failed")
        ));
        if done >= total {
            bar.finish();
            break list;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bar.abandon();
            anyhow::bail!("runs did not finish within 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!(
        "\nAll {total} pushes finished in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<34} {:<8} {:<10} {:>8}  error",
        "tenant", "provider", "state", "document"
    );
    for r in &runs {
        let name = names
            .get(r["tenantId"].as_str().unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        println!(
            "{:<34} {:<8} {:<10} {:>8}  {}",
            name,
            r["provider"].as_str().unwrap_or_default(),
            r["state"].as_str().unwrap_or_default(),
            r["remoteId"].as_str().unwrap_or("-"),
            r["error"].as_str().unwrap_or("")
        );
    }
    let hudu = sandbox.hudu_stats();
    let graph = sandbox.graph_stats();
    println!(
        "\nRequests made: Hudu {} ({} writes, {} answered 429), Graph {} (+{} Exchange, {} tokens)",
        hudu.requests,
        hudu.writes,
        hudu.rejected_429,
        graph.requests,
        graph.exchange_requests,
        graph.tokens_issued
    );
    let itglue = sandbox.itglue_key_stats(&itglue_key).unwrap_or_default();
    println!(
        "IT Glue {} requests ({} writes, {} answered 429, busiest second {} of 10 allowed)",
        itglue.requests, itglue.writes, itglue.rejected_429, itglue.max_requests_in_any_second
    );
    println!(
        "Articles in the Hudu sandbox: {}; M365 Posture assets in the IT Glue sandbox: {}",
        sandbox.hudu_articles().len(),
        sandbox.itglue_assets(&itglue_key).len()
    );

    // The PSA sync: ConnectWise Manage companies and records into Hudu.
    let cw = &defaults.connectwise;
    call(
        reqwest::Method::PUT,
        CW,
        Some(json!({"site": sandbox.connectwise_url, "companyId": cw.company_id, "publicKey": cw.public_key,
                    "privateKey": cw.private_key, "clientId": cw.client_id, "schedule": {"mode": "manual"}})),
    )
    .await?;
    println!(
        "\nConnectWise Manage {} (company {}): first sync, to fill the company list",
        sandbox.connectwise_url, cw.company_id
    );
    let sync_once = || async {
        let started = Instant::now();
        let accepted = call(reqwest::Method::POST, &format!("{CW}/sync"), None).await?;
        let id = accepted["runId"].as_str().unwrap_or_default().to_owned();
        loop {
            let run = call(reqwest::Method::GET, &format!("/runs/{id}"), None).await?;
            if run["state"] == "succeeded" || run["state"] == "failed" {
                return Ok::<(Value, f64), anyhow::Error>((run, started.elapsed().as_secs_f64()));
            }
            if started.elapsed() > Duration::from_secs(300) {
                anyhow::bail!("sync {id} did not finish within 5 minutes: {run}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let (run, took) = sync_once().await?;
    anyhow::ensure!(
        run["state"] == "succeeded",
        "the first sync failed: {}",
        run["error"]
    );
    let list = call(reqwest::Method::GET, &format!("{CW}/companies"), None).await?;
    let companies = list["companies"].as_array().cloned().unwrap_or_default();
    let suggested = companies
        .iter()
        .filter(|c| c["match"]["suggestedCompanyId"].is_i64())
        .count();
    println!(
        "  {} companies listed in {took:.1} s, {suggested} with a Hudu company of the same name",
        companies.len()
    );
    let matched = call(
        reqwest::Method::POST,
        &format!("{CW}/companies/match-all"),
        None,
    )
    .await?;
    println!(
        "match-all: {} matched to their Hudu company, {} to be created",
        matched["matched"], matched["create"]
    );
    println!("Second sync: companies and records into Hudu (paced at the Hudu key's budget)");
    let (run, took) = sync_once().await?;
    anyhow::ensure!(
        run["state"] == "succeeded",
        "the second sync failed: {}",
        run["error"]
    );
    let list = call(reqwest::Method::GET, &format!("{CW}/companies"), None).await?;
    let assets = sandbox.hudu_assets();
    println!(
        "\n{:>6}  {:<34} {:<9} {:>12} {:>7} {:>9}",
        "CW id", "ConnectWise company", "match", "Hudu company", "assets", "archived"
    );
    for c in list["companies"].as_array().into_iter().flatten() {
        let hudu_id = c["match"]["companyId"].as_u64();
        let of_company: Vec<_> = assets
            .iter()
            .filter(|a| Some(a.company_id) == hudu_id)
            .collect();
        println!(
            "{:>6}  {:<34} {:<9} {:>12} {:>7} {:>9}",
            c["psaId"].as_i64().unwrap_or_default(),
            c["name"].as_str().unwrap_or_default(),
            c["match"]["state"].as_str().unwrap_or_default(),
            hudu_id.map_or_else(|| "-".to_owned(), |id| id.to_string()),
            of_company.len(),
            of_company.iter().filter(|a| a.archived).count()
        );
    }
    let counts = &run["counts"];
    println!(
        "\nSync run {} {} in {took:.1} s: created {}, updated {}, unchanged {}, archived {}, unarchived {}, skipped {}, failed {}",
        run["id"].as_str().unwrap_or_default(),
        run["state"].as_str().unwrap_or_default(),
        counts["created"],
        counts["updated"],
        counts["unchanged"],
        counts["archived"],
        counts["unarchived"],
        counts["skipped"],
        counts["failed"]
    );
    let cw_stats = sandbox.cw_stats();
    let hudu = sandbox.hudu_stats();
    println!(
        "ConnectWise {} requests ({} answered 429); Hudu now {} requests in all ({} asset writes, {} company writes, {} answered 429); {} assets in the Hudu sandbox",
        cw_stats.requests,
        cw_stats.rejected_429,
        hudu.requests,
        hudu.asset_writes,
        hudu.company_writes,
        hudu.rejected_429,
        assets.len()
    );

    // HaloPSA (with its knowledge base) and Autotask, the same way: list, match-all, sync.
    let halo = &defaults.halo;
    let at = &defaults.autotask;
    let others = [
        (
            "halopsa",
            // The demo's few dozen requests fit Halo's 300 per 5 minutes at 5 a second.
            json!({"resourceServer": sandbox.halo_api_url(), "tenant": halo.tenant, "clientId": halo.client_id,
                   "clientSecret": halo.client_secret, "schedule": {"mode": "manual"},
                   "rateLimit": {"requests": 5, "perSeconds": 1}, "knowledgeBase": {"enabled": true}}),
        ),
        (
            "autotask",
            json!({"username": at.username, "secret": at.secret, "integrationCode": at.integration_code,
                   "schedule": {"mode": "manual"}, "rateLimit": {"requests": 20, "perSeconds": 1}}),
        ),
    ];
    for (psa, body) in others {
        let route = format!("/integrations/{psa}");
        call(reqwest::Method::PUT, &route, Some(body)).await?;
        let mut last = Value::Null;
        for step in ["sync", "companies/match-all", "sync"] {
            let started = Instant::now();
            let answer = call(reqwest::Method::POST, &format!("{route}/{step}"), None).await?;
            let Some(id) = answer["runId"].as_str().map(str::to_owned) else {
                continue;
            };
            last = loop {
                let run = call(reqwest::Method::GET, &format!("/runs/{id}"), None).await?;
                if run["state"] == "succeeded" || run["state"] == "failed" {
                    break run;
                }
                if started.elapsed() > Duration::from_secs(300) {
                    anyhow::bail!("{psa} sync {id} did not finish within 5 minutes: {run}");
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            };
            anyhow::ensure!(
                last["state"] == "succeeded",
                "the {psa} sync failed: {}",
                last["error"]
            );
        }
        let counts = &last["counts"];
        println!(
            "{psa}: created {}, updated {}, unchanged {}, archived {}",
            counts["created"], counts["updated"], counts["unchanged"], counts["archived"]
        );
    }
    let halo_stats = sandbox.halo_stats();
    let at_stats = sandbox.autotask_stats();
    println!(
        "HaloPSA {} requests ({} tokens, {} answered 429, {} knowledge-base writes); Autotask {} requests (at most {} in flight on one endpoint, {} refused); {} assets in the Hudu sandbox",
        halo_stats.requests,
        halo_stats.tokens_issued,
        halo_stats.rejected_429,
        halo_stats.kb_writes,
        at_stats.requests,
        at_stats.max_in_flight_per_endpoint,
        at_stats.threshold_refusals + at_stats.thread_refusals,
        sandbox.hudu_assets().len()
    );
    Ok((account, token))
}

#[cfg(test)]
mod tests {
    use super::demo_database_url;

    #[test]
    fn the_demo_uses_a_database_of_its_own() {
        assert_eq!(
            demo_database_url("postgres://postgres@127.0.0.1:5432/docsync"),
            "postgres://postgres@127.0.0.1:5432/docsync_demo"
        );
        assert_eq!(
            demo_database_url("postgres://u:p@db/fleet?sslmode=require"),
            "postgres://u:p@db/fleet_demo?sslmode=require"
        );
        assert_eq!(
            demo_database_url("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432/docsync_demo"
        );
    }
}
