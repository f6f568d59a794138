//! The ConnectWise Manage emulator: codebase discovery, Basic auth with `clientId`, a member
//! without Configurations, paging (navigable and forward-only), `conditions`, `orderBy`,
//! `fields`, `/count`, the per-member budget, the in-process mutation API and the counters.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{
    fixtures, ConnectWiseConfig, CwEntity, FaultKind, FaultProvider, FaultRule, Faults, Sandbox,
    SandboxConfig,
};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USER: &str = "mymsp+sandboxpublic016";
const PRIVATE: &str = "sandboxprivate0123456789";
const LIMITED_USER: &str = "mymsp+sandboxlimited01";
const LIMITED_PRIVATE: &str = "sandboxlimitedpriv0123456";
const CLIENT_ID: &str = "0f3c2b7e-5d1a-4c3b-9e8f-7a6b5c4d3e2f";

async fn sandbox_with(rate: Option<u32>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        connectwise: ConnectWiseConfig {
            rate_limit_per_second: rate,
            ..ConnectWiseConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn sandbox() -> Sandbox {
    sandbox_with(None).await
}

fn request(sb: &Sandbox, path: &str) -> RequestBuilder {
    Client::new()
        .get(format!("{}{path}", sb.cw_api_url()))
        .basic_auth(USER, Some(PRIVATE))
        .header("clientId", CLIENT_ID)
}

async fn get(sb: &Sandbox, path: &str) -> reqwest::Response {
    request(sb, path).send().await.unwrap()
}

async fn get_q(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    request(sb, path).query(query).send().await.unwrap()
}

async fn list(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let r = get_q(sb, path, query).await;
    assert_eq!(r.status(), StatusCode::OK, "{path} {query:?}");
    r.json().await.unwrap()
}

async fn count(sb: &Sandbox, path: &str, conditions: &str) -> u64 {
    let r = get_q(sb, &format!("{path}/count"), &[("conditions", conditions)]).await;
    assert_eq!(r.status(), StatusCode::OK, "{path} {conditions}");
    r.json::<Value>().await.unwrap()["count"].as_u64().unwrap()
}

fn ids(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn companyinfo_names_the_codebase_without_auth() {
    let sb = sandbox().await;
    let r = Client::new()
        .get(format!("{}/login/companyinfo/MyMSP", sb.connectwise_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["Codebase"], "v2025_1/");
    assert_eq!(info["CompanyName"], "My MSP");
    assert_eq!(info["CompanyID"], "mymsp");
    assert_eq!(info["VersionCode"], "v2025.1");
    assert_eq!(info["VersionNumber"], "v4.6.98765");
    assert_eq!(info["IsCloud"], true);
    assert!(info["SiteUrl"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        sb.cw_api_url(),
        format!("{}/v2025_1/apis/3.0", sb.connectwise_url)
    );

    let r = Client::new()
        .get(format!("{}/login/companyinfo/nobody", sb.connectwise_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "null");

    let r = get(&sb, "/system/info").await;
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(
        info,
        json!({"version": "v2025.1.98765", "isCloud": true, "serverTimeZone": "Eastern Standard Time"})
    );
    let stats = sb.cw_stats();
    assert_eq!(stats.companyinfo_requests, 2);
    assert_eq!(stats.requests, 1);
}

#[tokio::test]
async fn bad_credentials_and_missing_client_id_are_401() {
    let sb = sandbox().await;
    let url = format!("{}/company/companies", sb.cw_api_url());
    let cases = [
        Client::new().get(&url).header("clientId", CLIENT_ID),
        Client::new()
            .get(&url)
            .basic_auth(USER, Some("wrong"))
            .header("clientId", CLIENT_ID),
        Client::new()
            .get(&url)
            .basic_auth("othermsp+sandboxpublic016", Some(PRIVATE))
            .header("clientId", CLIENT_ID),
        Client::new()
            .get(&url)
            .basic_auth("sandboxpublic016", Some(PRIVATE))
            .header("clientId", CLIENT_ID),
        Client::new()
            .get(&url)
            .bearer_auth(PRIVATE)
            .header("clientId", CLIENT_ID),
    ];
    for (i, req) in cases.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "case {i}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "Unauthorized", "case {i}");
    }
    for client_id in [None, Some("not-a-guid"), Some("")] {
        let mut req = Client::new().get(&url).basic_auth(USER, Some(PRIVATE));
        if let Some(c) = client_id {
            req = req.header("clientId", c);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{client_id:?}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("clientId is required"),
            "{body}"
        );
    }
    // The header name is case-insensitive and any GUID will do.
    let r = Client::new()
        .get(&url)
        .basic_auth(USER, Some(PRIVATE))
        .header("CLIENTID", "9b2e6a1c-0d4f-4e3a-8b7c-6d5e4f3a2b1c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.cw_stats().requests, 9);
}

#[tokio::test]
async fn the_limited_member_cannot_read_configurations() {
    let sb = sandbox().await;
    let limited = |path: &str| {
        Client::new()
            .get(format!("{}{path}", sb.cw_api_url()))
            .basic_auth(LIMITED_USER, Some(LIMITED_PRIVATE))
            .header("clientId", CLIENT_ID)
            .send()
    };
    for path in [
        "/company/configurations",
        "/company/configurations/count",
        "/company/configurations/types",
        "/company/configurations/5000",
    ] {
        let r = limited(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("Configurations"));
    }
    for path in ["/company/companies", "/company/contacts", "/system/info"] {
        assert_eq!(
            limited(path).await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(
        get(&sb, "/company/configurations").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn fixtures_match_the_documented_shapes() {
    let sb = sandbox().await;
    let companies = list(&sb, "/company/companies", &[]).await;
    assert_eq!(ids(&companies), (250..256).collect::<Vec<_>>());
    assert_eq!(
        companies[0]["name"].as_str().unwrap(),
        fixtures::hudu_company_name(1)
    );
    assert_eq!(
        companies[2]["name"].as_str().unwrap(),
        fixtures::hudu_company_name(3)
    );
    assert_eq!(companies[1]["name"], "Northwind Traders 1");
    assert_eq!(
        companies[1]["types"],
        json!([{"id": 2, "name": "Prospect"}])
    );
    assert_eq!(companies[0]["types"], json!([{"id": 1, "name": "Client"}]));
    assert_eq!(companies[5]["status"], json!({"id": 2, "name": "Inactive"}));
    assert_eq!(companies[0]["status"], json!({"id": 1, "name": "Active"}));
    assert_eq!(companies[0]["_info"]["lastUpdated"], "2026-01-01T00:00:00Z");
    for key in [
        "identifier",
        "addressLine1",
        "city",
        "state",
        "zip",
        "country",
        "phoneNumber",
        "website",
        "deletedFlag",
    ] {
        assert!(companies[0].get(key).is_some(), "{key}");
    }

    let statuses = list(&sb, "/company/companies/statuses", &[]).await;
    assert_eq!(statuses.len(), 3);
    assert_eq!(statuses[1]["name"], "Inactive");
    assert_eq!(statuses[1]["inactiveFlag"], true);
    assert_eq!(statuses[2]["name"], "Not-Approved");
    let types = list(&sb, "/company/companies/types", &[]).await;
    let names: Vec<_> = types.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Client", "Prospect", "Vendor"]);
    let ctypes = list(&sb, "/company/configurations/types", &[]).await;
    let names: Vec<_> = ctypes.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Managed Server",
            "Managed Workstation",
            "Network Device",
            "Printer"
        ]
    );

    let contacts = list(&sb, "/company/contacts", &[]).await;
    assert_eq!(contacts.len(), 18);
    let c = &contacts[0];
    assert_eq!(c["company"]["id"], 250);
    assert!(c["company"]["identifier"].is_string());
    let email = &c["communicationItems"][0];
    assert_eq!(email["type"]["name"], "Email");
    assert_eq!(email["communicationType"], "Email");
    assert_eq!(email["defaultFlag"], true);
    assert!(email["value"].as_str().unwrap().contains('@'));

    let configs = list(&sb, "/company/configurations", &[]).await;
    assert_eq!(configs.len(), 24);
    let serials: std::collections::HashSet<_> =
        configs.iter().map(|c| c["serialNumber"].clone()).collect();
    assert_eq!(serials.len(), 24);
    assert_eq!(configs[1]["type"]["name"], "Managed Workstation");
    assert_eq!(configs[3]["activeFlag"], false);
    assert_eq!(configs[0]["site"]["name"], "Main");

    let agreements = list(&sb, "/finance/agreements", &[]).await;
    assert_eq!(agreements.len(), 12);
    assert_eq!(agreements[0]["agreementStatus"], "Active");
    assert_eq!(agreements[1]["agreementStatus"], "Cancelled");
    assert_eq!(agreements[1]["cancelledFlag"], true);
    assert_eq!(agreements[0]["startDate"], "2025-01-01T00:00:00Z");

    let sites = list(&sb, "/company/companies/251/sites", &[]).await;
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["company"]["id"], 251);
    assert_eq!(sites[0]["stateReference"]["identifier"], "FL");
    let one = get(
        &sb,
        &format!("/company/companies/251/sites/{}", sites[0]["id"]),
    )
    .await;
    assert_eq!(one.status(), StatusCode::OK);
    let other = get(
        &sb,
        &format!("/company/companies/250/sites/{}", sites[0]["id"]),
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let missing = get(&sb, "/company/companies/999/sites").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], "NotFound");

    let company = get(&sb, "/company/companies/252").await;
    assert_eq!(company.json::<Value>().await.unwrap()["id"], 252);
    assert_eq!(
        get(&sb, "/company/contacts/1").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&sb, "/company/nothing").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pages_default_to_25_and_cap_at_1000() {
    let sb = sandbox().await;
    let added = sb.cw_add_configurations(250, 1200);
    assert_eq!(added.len(), 1200);
    let all = 1224;
    let first = list(&sb, "/company/configurations", &[]).await;
    assert_eq!(ids(&first), (5000..5025).collect::<Vec<_>>());
    let big = list(&sb, "/company/configurations", &[("pageSize", "5000")]).await;
    assert_eq!(big.len(), 1000);
    let rest = list(
        &sb,
        "/company/configurations",
        &[("pageSize", "5000"), ("page", "2")],
    )
    .await;
    assert_eq!(rest.len(), all - 1000);
    let beyond = list(
        &sb,
        "/company/configurations",
        &[("pageSize", "1000"), ("page", "3")],
    )
    .await;
    assert!(beyond.is_empty());
    let third = list(
        &sb,
        "/company/configurations",
        &[("pageSize", "10"), ("page", "3")],
    )
    .await;
    assert_eq!(ids(&third), (5020..5030).collect::<Vec<_>>());
    // Navigable paging names the next and last pages.
    let r = get_q(&sb, "/company/configurations", &[("pageSize", "500")]).await;
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    assert_eq!(
        count(&sb, "/company/configurations", "id > 0").await,
        all as u64
    );
}

#[tokio::test]
async fn forward_only_paging_follows_link_to_the_end() {
    let sb = sandbox().await;
    sb.cw_add_configurations(252, 1200);
    let mut url = format!(
        "{}/company/configurations?pageSize=100&conditions=activeFlag%3Dtrue",
        sb.cw_api_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = Client::new()
            .get(&url)
            .basic_auth(USER, Some(PRIVATE))
            .header("clientId", CLIENT_ID)
            .header("pagination-type", "forward-only")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        pages += 1;
        let next = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let rows: Vec<Value> = r.json().await.unwrap();
        seen.extend(ids(&rows));
        let Some(link) = next else { break };
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        url = link
            .strip_prefix('<')
            .and_then(|l| l.split_once('>'))
            .map(|(u, _)| u.to_string())
            .unwrap();
        assert!(url.starts_with(&sb.connectwise_url), "{url}");
        assert!(url.contains("conditions="), "{url}");
        assert!(pages < 100, "runaway paging");
    }
    // 24 fixtures, 6 inactive, plus 1200 active.
    assert_eq!(seen.len(), 1218);
    assert_eq!(pages, 13);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // pageId continues after an id; an exact multiple ends without a Link.
    let r = request(&sb, "/company/configurations")
        .query(&[("pageSize", "23"), ("pageId", "6200")])
        .header("pagination-type", "forward-only")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_none());
    let rows: Vec<Value> = r.json().await.unwrap();
    assert_eq!(ids(&rows), (6201..6224).collect::<Vec<_>>());
}

#[tokio::test]
async fn conditions_filter_like_the_real_service() {
    let sb = sandbox().await;
    let configs = "/company/configurations";
    assert_eq!(count(&sb, configs, "company/id=250").await, 4);
    assert_eq!(
        count(&sb, configs, "company/id = 250 and activeFlag = true").await,
        3
    );
    assert_eq!(count(&sb, configs, "activeFlag=false").await, 6);
    assert_eq!(
        count(&sb, configs, "company/id in (250, 251, 999)").await,
        8
    );
    assert_eq!(
        count(&sb, configs, "company/id not in (250, 251)").await,
        16
    );
    assert_eq!(count(&sb, configs, r#"type/name = "printer""#).await, 6);
    assert_eq!(count(&sb, configs, r#"name like "*-SRV*""#).await, 6);
    assert_eq!(
        count(&sb, configs, r#"serialNumber contains "SN-500""#).await,
        10
    );
    assert_eq!(
        count(
            &sb,
            configs,
            "(company/id = 250 or company/id = 251) and activeFlag = false"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &sb,
            configs,
            "company/id = 250 or company/id = 251 and activeFlag = false"
        )
        .await,
        5
    );
    assert_eq!(
        count(&sb, configs, "lastUpdated > [2026-01-01T00:00:00Z]").await,
        0
    );
    assert_eq!(
        count(&sb, configs, "lastUpdated >= [2026-01-01T00:00:00Z]").await,
        24
    );
    assert_eq!(
        count(&sb, "/company/companies", r#"status/name = "Active""#).await,
        5
    );
    assert_eq!(
        count(&sb, "/company/companies", "deletedFlag = false").await,
        6
    );
    assert_eq!(
        count(&sb, "/company/companies", "addressLine2 = null").await,
        4
    );
    assert_eq!(
        count(
            &sb,
            "/finance/agreements",
            r#"agreementStatus = "Cancelled""#
        )
        .await,
        6
    );
    assert_eq!(
        count(&sb, "/company/companies/statuses", "inactiveFlag = true").await,
        1
    );
    // childConditions reach into collections.
    let r = get_q(
        &sb,
        "/company/companies/count",
        &[("childConditions", r#"types/name = "Prospect""#)],
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["count"], 1);
    let rows = list(
        &sb,
        configs,
        &[("conditions", "company/id=253"), ("orderBy", "id desc")],
    )
    .await;
    assert_eq!(ids(&rows), [5015, 5014, 5013, 5012]);
    let rows = list(&sb, "/company/companies", &[("orderBy", "name asc")]).await;
    let names: Vec<String> = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn unknown_fields_and_bad_syntax_are_invalid_objects() {
    let sb = sandbox().await;
    for (conditions, field) in [
        ("nosuchField = 1", "nosuchField"),
        ("company/nope = 1", "company/nope"),
        ("company = 250", "company"),
        ("id = ", "conditions"),
        ("id = 'x'", "conditions"),
        ("(id = 1", "conditions"),
        ("lastUpdated > [soon]", "conditions"),
    ] {
        let r = get_q(
            &sb,
            "/company/configurations",
            &[("conditions", conditions)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{conditions}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "InvalidObject", "{conditions}");
        assert_eq!(body["errors"][0]["code"], "InvalidField", "{conditions}");
        assert_eq!(body["errors"][0]["field"], field, "{conditions}");
        assert!(body["message"].is_string());
    }
    let r = get_q(&sb, "/company/contacts", &[("orderBy", "name asc")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get_q(&sb, "/company/contacts/count", &[("conditions", "bogus=1")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A URL past 2000 characters fails.
    let long: Vec<String> = (0..500).map(|i| (10_000 + i).to_string()).collect();
    let conditions = format!("id in ({})", long.join(","));
    let r = get_q(
        &sb,
        "/company/configurations",
        &[("conditions", &conditions)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn fields_keep_only_what_is_asked() {
    let sb = sandbox().await;
    let rows = list(
        &sb,
        "/company/contacts",
        &[
            (
                "fields",
                "id,firstName,company/id,communicationItems/value,nonsense",
            ),
            ("pageSize", "2"),
        ],
    )
    .await;
    assert_eq!(rows.len(), 2);
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{}", rows[0]);
    assert_eq!(rows[0]["company"], json!({"id": 250}));
    let items = rows[0]["communicationItems"].as_array().unwrap();
    assert!(items
        .iter()
        .all(|i| i.as_object().unwrap().keys().collect::<Vec<_>>() == ["value"]));
    let one: Value = get_q(
        &sb,
        "/company/companies/250",
        &[("fields", "id,_info/lastUpdated")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        one,
        json!({"id": 250, "_info": {"lastUpdated": "2026-01-01T00:00:00Z"}})
    );
}

#[tokio::test]
async fn over_the_budget_answers_429_with_retry_after() {
    let sb = sandbox_with(Some(5)).await;
    let sends = (0..20).map(|_| request(&sb, "/system/info").send());
    let answers = futures::future::join_all(sends).await;
    let mut refused = 0;
    for r in answers {
        let r = r.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            assert_eq!(r.headers()["retry-after"], "1");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], "TooManyRequests");
            assert!(body["message"].is_string());
        } else {
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    assert!(refused >= 15, "{refused} refused");
    let stats = sb.cw_stats();
    assert_eq!(stats.rejected_429, refused);
    assert_eq!(stats.requests, 20);
    assert!(stats.max_requests_in_any_second >= 20);
    // The limited member has its own budget.
    let r = Client::new()
        .get(format!("{}/system/info", sb.cw_api_url()))
        .basic_auth(LIMITED_USER, Some(LIMITED_PRIVATE))
        .header("clientId", CLIENT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // After a second the budget is back; lifting it admits everything.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(get(&sb, "/system/info").await.status(), StatusCode::OK);
    sb.set_cw_rate_limit(None);
    for _ in 0..10 {
        assert_eq!(get(&sb, "/system/info").await.status(), StatusCode::OK);
    }
    sb.reset_cw_stats();
    assert_eq!(sb.cw_stats().max_requests_in_any_second, 0);
}

#[tokio::test]
async fn the_mutation_api_stamps_last_updated() {
    let sb = sandbox().await;
    let since = "lastUpdated > [2026-01-02T00:00:00Z]";
    let id = sb.cw_insert(
        CwEntity::Configuration,
        json!({"name": "NEW-SRV01", "type": {"id": 1, "name": "Managed Server"},
            "company": {"id": 251}, "serialNumber": "SN-NEW"}),
    );
    assert_eq!(id, 5024);
    let rows = list(&sb, "/company/configurations", &[("conditions", since)]).await;
    assert_eq!(ids(&rows), [id]);
    assert_eq!(rows[0]["company"]["name"], "Northwind Traders 1");
    assert_eq!(rows[0]["activeFlag"], true);
    let stamp = rows[0]["_info"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(stamp.ends_with('Z') && stamp.as_str() > "2026-01-01T00:00:00Z");

    assert!(sb.cw_update(CwEntity::Contact, 1001, json!({"title": "CTO"})));
    assert!(!sb.cw_update(CwEntity::Contact, 1, json!({"title": "CTO"})));
    let rows = list(&sb, "/company/contacts", &[("conditions", since)]).await;
    assert_eq!(ids(&rows), [1001]);
    assert_eq!(rows[0]["title"], "CTO");
    assert!(rows[0]["firstName"].is_string());

    // Companies are soft-deleted.
    assert!(sb.cw_update(CwEntity::Company, 253, json!({"deletedFlag": true})));
    assert_eq!(
        count(&sb, "/company/companies", "deletedFlag = true").await,
        1
    );
    assert_eq!(list(&sb, "/company/companies", &[]).await.len(), 6);

    assert!(sb.cw_remove(CwEntity::Configuration, 5000));
    assert!(!sb.cw_remove(CwEntity::Configuration, 5000));
    assert_eq!(
        get(&sb, "/company/configurations/5000").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(&sb, "/company/configurations", "id > 0").await, 24);
    let records = sb.cw_records(CwEntity::Configuration);
    assert_eq!(records.len(), 24);
    assert!(records.iter().all(|r| r["id"] != 5000));
    // Ids are never reused.
    assert_eq!(
        sb.cw_insert(
            CwEntity::Site,
            json!({"name": "Annex", "company": {"id": 250}})
        ),
        16
    );
    let sites = list(&sb, "/company/companies/250/sites", &[]).await;
    assert_eq!(ids(&sites), [10, 16]);
    // The mutation API is not counted.
    assert_eq!(sb.cw_stats().requests, 7);
}

#[tokio::test]
async fn filtering_ten_thousand_records_is_cheap() {
    let sb = sandbox().await;
    let started = Instant::now();
    let added = sb.cw_add_configurations(251, 10_000);
    assert_eq!(added.len(), 10_000);
    let insert = started.elapsed();
    assert!(
        insert < Duration::from_secs(2),
        "bulk insert took {insert:?}"
    );
    // Warm up the connection, then time the filtered list and count.
    assert_eq!(
        count(&sb, "/company/configurations", "company/id=250").await,
        4
    );
    let started = Instant::now();
    for _ in 0..5 {
        let rows = list(
            &sb,
            "/company/configurations",
            &[("conditions", "company/id=250"), ("pageSize", "1000")],
        )
        .await;
        assert_eq!(rows.len(), 4);
    }
    let per_request = started.elapsed() / 5;
    assert!(
        per_request < Duration::from_millis(250),
        "a filtered list took {per_request:?}"
    );
    assert_eq!(
        count(&sb, "/company/configurations", "company/id=251").await,
        10_004
    );
}

#[tokio::test]
async fn counters_and_faults_apply_to_the_port() {
    let sb = sandbox().await;
    get(&sb, "/company/companies/250/sites").await;
    get(&sb, "/company/companies/251/sites/count").await;
    get(&sb, "/company/companies/count").await;
    let stats = sb.cw_stats();
    assert_eq!(stats.by_path["/company/companies/{id}/sites"], 1);
    assert_eq!(stats.by_path["/company/companies/{id}/sites/count"], 1);
    assert_eq!(stats.by_path["/company/companies/count"], 1);
    let over_http: Value = Client::new()
        .get(format!("{}/_sandbox/stats", sb.connectwise_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["connectwise"]["requests"], 3);

    sb.set_faults(Faults {
        rules: vec![
            FaultRule::new(FaultProvider::ConnectWise, FaultKind::ErrorRate(1.0))
                .on("/company/contacts"),
        ],
        ..Faults::default()
    });
    assert!(get(&sb, "/company/contacts")
        .await
        .status()
        .is_server_error());
    assert_eq!(
        get(&sb, "/company/companies").await.status(),
        StatusCode::OK
    );
    let faults: Value = Client::new()
        .get(format!("{}/_sandbox/faults", sb.connectwise_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["rules"][0]["provider"], "connectwise");
    sb.reset_cw_stats();
    assert_eq!(sb.cw_stats().requests, 0);
}
