//! The Autotask emulator: zone discovery, header credentials, JSON query filters,
//! `IncludeFields`, `nextPageUrl` paging, counts, reads by id, the request threshold (with
//! other integrations' use, its rollover and the slowdown above half), the thread limit, the
//! in-process mutation API, the counters and the fault rules.
#![allow(clippy::unwrap_used)]

use docsync_sandbox::{
    AtEntity, AutotaskConfig, FaultKind, FaultProvider, FaultRule, Faults, Sandbox, SandboxConfig,
};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USER: &str = "sandbox-api@mymsp.example";
const SECRET: &str = "sandbox-autotask-secret-0123456789";
const CODE: &str = "SANDBOXTRACKINGID0123456789";

async fn sandbox_with(config: AutotaskConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        tenants: 2,
        autotask: config,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn sandbox() -> Sandbox {
    sandbox_with(AutotaskConfig::default()).await
}

fn authed(req: RequestBuilder) -> RequestBuilder {
    req.header("ApiIntegrationCode", CODE)
        .header("UserName", USER)
        .header("Secret", SECRET)
        .header("Content-Type", "application/json")
}

fn url(sb: &Sandbox, path: &str) -> String {
    format!("{}V1.0/{path}", sb.autotask_api_url())
}

async fn post(sb: &Sandbox, path: &str, body: Value) -> reqwest::Response {
    authed(Client::new().post(url(sb, path)))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(sb: &Sandbox, path: &str) -> reqwest::Response {
    authed(Client::new().get(url(sb, path)))
        .send()
        .await
        .unwrap()
}

/// The items of a one-page query (asserting there is no next page).
async fn query(sb: &Sandbox, entity: &str, filter: Value) -> Vec<Value> {
    let r = post(sb, &format!("{entity}/query"), json!({ "filter": filter })).await;
    assert_eq!(r.status(), StatusCode::OK, "{entity} {filter}");
    let body: Value = r.json().await.unwrap();
    assert!(body["pageDetails"]["nextPageUrl"].is_null(), "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn count(sb: &Sandbox, entity: &str, filter: Value) -> u64 {
    let r = post(
        sb,
        &format!("{entity}/query/count"),
        json!({ "filter": filter }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{entity} {filter}");
    r.json::<Value>().await.unwrap()["queryCount"]
        .as_u64()
        .unwrap()
}

fn ids(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

fn all() -> Value {
    json!([{"op": "gte", "field": "id", "value": 0}])
}

/// The first error message of an `{"errors": [...]}` answer, after checking its status.
async fn error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    body["errors"][0].as_str().unwrap().to_string()
}

/// Waits until at least `needed_ms` of the current `secs`-second window remain.
async fn early_in_window(secs: u64, needed_ms: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let window_ms = secs * 1000;
    let into = u64::try_from(now.as_millis()).unwrap() % window_ms;
    if window_ms - into < needed_ms {
        tokio::time::sleep(Duration::from_millis(window_ms - into + 20)).await;
    }
}

// The tests sit in a module named after the emulator so that `cargo test autotask` selects
// them all.
mod autotask {
    use super::*;

    #[tokio::test]
    async fn zone_discovery_names_the_zone_url_without_credentials() {
        let sb = sandbox().await;
        assert_eq!(
            sb.autotask_zone_discovery_url(),
            format!("{}/atservicesrest", sb.autotask_url)
        );
        let zone = |user: Option<&str>| {
            let mut req = Client::new().get(format!(
                "{}/v1.0/zoneInformation",
                sb.autotask_zone_discovery_url()
            ));
            if let Some(u) = user {
                req = req.query(&[("user", u)]);
            }
            req.send()
        };
        let r = zone(Some("Sandbox-API@MyMSP.example")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let info: Value = r.json().await.unwrap();
        assert_eq!(
            info,
            json!({
                "zoneName": "Sandbox Zone",
                "url": format!("{}/zone5/ATServicesRest/", sb.autotask_url),
                "webUrl": format!("{}/ww5/", sb.autotask_url),
                "ci": 5,
            })
        );
        assert_eq!(info["url"], sb.autotask_api_url());
        for user in [Some("nobody@elsewhere.example"), None] {
            let message = error(zone(user).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await;
            assert!(message.contains("Zone information"), "{message}");
        }
        // The path ignores case, as on the real service.
        let r = Client::new()
            .get(format!(
                "{}/ATServicesRest/V1.0/ZoneInformation",
                sb.autotask_url
            ))
            .query(&[("user", USER)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // The API is not under the discovery root.
        let r = authed(Client::new().post(format!(
            "{}/v1.0/Companies/query",
            sb.autotask_zone_discovery_url()
        )))
        .json(&json!({"filter": all()}))
        .send()
        .await
        .unwrap();
        assert!(error(r, StatusCode::NOT_FOUND).await.contains("zone URL"));
        let stats = sb.autotask_stats();
        assert_eq!(stats.zone_lookups, 4);
        assert_eq!(stats.requests, 0);
    }

    #[tokio::test]
    async fn credentials_are_checked_like_autotask() {
        let sb = sandbox().await;
        let q = url(&sb, "Companies/query");
        let send = |code: Option<&str>, user: Option<&str>, secret: Option<&str>| {
            let mut req = Client::new().post(&q).json(&json!({"filter": all()}));
            for (name, value) in [
                ("ApiIntegrationCode", code),
                ("UserName", user),
                ("Secret", secret),
            ] {
                if let Some(v) = value {
                    req = req.header(name, v);
                }
            }
            req.send()
        };
        // A missing header or a wrong secret: 401.
        for (i, (code, user, secret)) in [
            (None, None, None),
            (None, Some(USER), Some(SECRET)),
            (Some(CODE), None, Some(SECRET)),
            (Some(CODE), Some(USER), None),
            (Some(CODE), Some(USER), Some("wrong")),
        ]
        .into_iter()
        .enumerate()
        {
            let r = send(code, user, secret).await.unwrap();
            let message = error(r, StatusCode::UNAUTHORIZED).await;
            assert!(message.starts_with("Unauthorized"), "case {i}: {message}");
        }
        let r = send(None, Some(USER), Some(SECRET)).await.unwrap();
        assert!(error(r, StatusCode::UNAUTHORIZED)
            .await
            .contains("ApiIntegrationCode"));
        // An unknown user name or integration code: 500, as the real service answers.
        let r = send(Some(CODE), Some("nobody@mymsp.example"), Some(SECRET))
            .await
            .unwrap();
        assert!(error(r, StatusCode::INTERNAL_SERVER_ERROR)
            .await
            .contains("nobody@mymsp.example"));
        let r = send(Some("OTHERCODE"), Some(USER), Some(SECRET))
            .await
            .unwrap();
        assert!(error(r, StatusCode::INTERNAL_SERVER_ERROR)
            .await
            .contains("IntegrationCode is invalid"));
        // Header names are case-insensitive, the user name too.
        let r = Client::new()
            .post(&q)
            .header("apiintegrationcode", CODE)
            .header("USERNAME", USER.to_uppercase())
            .header("secret", SECRET)
            .json(&json!({"filter": all()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let stats = sb.autotask_stats();
        assert_eq!(stats.requests, 9);
        assert_eq!(stats.rejected_401, 6);
        assert_eq!(stats.rejected_credentials, 2);
        // Only authenticated requests count against the threshold.
        assert_eq!(stats.current_window_count, 1);
        assert_eq!(stats.requests_by_endpoint["Companies"], 9);
    }

    #[tokio::test]
    async fn filters_select_and_include_fields_trims() {
        let sb = sandbox().await;
        let active = query(
            &sb,
            "Companies",
            json!([{"op": "eq", "field": "isActive", "value": true}]),
        )
        .await;
        assert_eq!(ids(&active), vec![500, 501, 502, 503, 504]);
        assert_eq!(active[0].as_object().unwrap().len(), 18);
        assert!(active[0]["address2"].is_null());
        let leads = query(
            &sb,
            "Companies",
            json!([{"op": "eq", "field": "companyType", "value": 2}]),
        )
        .await;
        assert_eq!(ids(&leads), vec![501]);
        assert_eq!(leads[0]["companyName"], "Great Lakes Freight 1");

        // IncludeFields: those fields and the id; field names and paths ignore case.
        let r = post(
            &sb,
            "companies/QUERY",
            json!({"Filter": [{"op": "EQ", "field": "ISACTIVE", "value": false}],
            "includeFields": ["CompanyName", "isActive"]}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["items"],
            json!([{"id": 505, "companyName": "Ironbridge Surveyors 5", "isActive": false}])
        );
        assert_eq!(
            body["pageDetails"],
            json!({"count": 1, "requestCount": 500, "prevPageUrl": null, "nextPageUrl": null})
        );

        // GET with a URL-encoded search.
        let search = json!({"filter": [{"op": "beginsWith", "field": "referenceTitle", "value": "greatlakes"}],
        "IncludeFields": ["referenceTitle"]});
        let r = authed(Client::new().get(url(&sb, "ConfigurationItems/query")))
            .query(&[("search", search.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            ids(body["items"].as_array().unwrap()),
            vec![70_004, 70_005, 70_006, 70_007]
        );
        assert_eq!(body["items"][0]["referenceTitle"], "GREATLAKES1-SRV01");

        // Text ignores case; a datetime compares as one.
        let c = query(
            &sb,
            "Contacts",
            json!([
        {"op": "contains", "field": "emailAddress", "value": "GREATLAKES"},
        {"op": "lt", "field": "lastModifiedDate", "value": "2026-01-01T00:00:01Z"}]),
        )
        .await;
        assert_eq!(ids(&c), vec![30_003, 30_004, 30_005]);
    }

    #[tokio::test]
    async fn bad_queries_are_refused_with_500() {
        let sb = sandbox().await;
        for body in [
            json!({}),
            json!({"filter": []}),
            json!({"filter": null, "MaxRecords": 5}),
        ] {
            let r = post(&sb, "Companies/query", body.clone()).await;
            let message = error(r, StatusCode::INTERNAL_SERVER_ERROR).await;
            assert!(message.contains("requires a filter"), "{body}: {message}");
        }
        let r = authed(Client::new().get(url(&sb, "Companies/query")))
            .send()
            .await
            .unwrap();
        assert!(error(r, StatusCode::INTERNAL_SERVER_ERROR)
            .await
            .contains("requires a filter"));
        let r = post(&sb, "Companies/query/count", json!({"filter": []})).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

        let r = post(
            &sb,
            "Companies/query",
            json!({"filter": [{"op": "eq", "field": "projectID", "value": 1}]}),
        )
        .await;
        assert_eq!(
            error(r, StatusCode::INTERNAL_SERVER_ERROR).await,
            "Unable to find projectID in the Company Entity."
        );
        let r = post(
            &sb,
            "Contacts/query",
            json!({"filter": all(), "IncludeFields": ["name"]}),
        )
        .await;
        assert_eq!(
            error(r, StatusCode::INTERNAL_SERVER_ERROR).await,
            "Unable to find name in the Contact Entity."
        );
        let nested = json!({"filter": [{"op": "or", "items": [
        {"op": "eq", "field": "id", "value": 1}, {"op": "eq", "field": "nope", "value": 1}]}]});
        let r = post(&sb, "ConfigurationItems/query", nested).await;
        assert_eq!(
            error(r, StatusCode::INTERNAL_SERVER_ERROR).await,
            "Unable to find nope in the ConfigurationItem Entity."
        );
        for (body, expected) in [
            (
                json!({"filter": [{"op": "ne", "field": "id", "value": 1}]}),
                "operator",
            ),
            (
                json!({"filter": [{"op": "in", "field": "id", "value": 1}]}),
                "array",
            ),
            (
                json!({"filter": [{"op": "eq", "field": "isActive", "value": "yes"}]}),
                "value",
            ),
            (json!({"filter": all(), "MaxRecords": 501}), "MaxRecords"),
            (json!({"filter": all(), "MaxRecords": 0}), "MaxRecords"),
        ] {
            let r = post(&sb, "Companies/query", body.clone()).await;
            let message = error(r, StatusCode::INTERNAL_SERVER_ERROR).await;
            assert!(message.contains(expected), "{body}: {message}");
        }
        let r = authed(Client::new().post(url(&sb, "Companies/query")))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert!(error(r, StatusCode::INTERNAL_SERVER_ERROR)
            .await
            .contains("JSON"));
        let r = post(&sb, "Tickets/query", json!({"filter": all()})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = authed(Client::new().patch(url(&sb, "Companies")))
            .json(&json!({"id": 500}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn in_not_in_and_groups() {
        let sb = sandbox().await;
        let categories = query(&sb, "ConfigurationItemCategories", all()).await;
        let names: Vec<&str> = categories
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Workstation", "Server", "Network Device", "Printer"]
        );
        assert_eq!(ids(&categories), vec![101, 102, 103, 104]);
        assert!(categories.iter().all(|c| c["isActive"] == true));

        // 24 items: per company SRV (102), WKS (101), FW (103), PRN (104).
        let f = |op: &str| json!([{"op": op, "field": "configurationItemCategoryID", "value": [101, 102]}]);
        assert_eq!(count(&sb, "ConfigurationItems", f("in")).await, 12);
        assert_eq!(count(&sb, "ConfigurationItems", f("notIn")).await, 12);
        let items = query(&sb, "ConfigurationItems", f("notIn")).await;
        assert!(items
            .iter()
            .all(|i| [103, 104].contains(&i["configurationItemCategoryID"].as_u64().unwrap())));
        // The last item of each company (a printer) is inactive.
        let inactive = query(
            &sb,
            "ConfigurationItems",
            json!([{"op": "eq", "field": "isActive", "value": false}]),
        )
        .await;
        assert_eq!(
            ids(&inactive),
            vec![70_003, 70_007, 70_011, 70_015, 70_019, 70_023]
        );
        assert!(inactive
            .iter()
            .all(|i| i["configurationItemCategoryID"] == 104));
        // (company 500 or 501) and active, or any server of company 505.
        let grouped = query(
            &sb,
            "ConfigurationItems",
            json!([{"op": "or", "items": [
        {"op": "and", "items": [
            {"op": "in", "field": "companyID", "value": [500, 501]},
            {"op": "eq", "field": "isActive", "value": true}]},
        {"op": "and", "items": [
            {"op": "eq", "field": "companyID", "value": 505},
            {"op": "eq", "field": "configurationItemCategoryID", "value": 102}]}]}]),
        )
        .await;
        assert_eq!(
            ids(&grouped),
            vec![70_000, 70_001, 70_002, 70_004, 70_005, 70_006, 70_020]
        );
        // Top-level expressions are ANDed; exist / notExist.
        let r = query(
            &sb,
            "Companies",
            json!([
        {"op": "exist", "field": "address2"},
        {"op": "notExist", "field": "fax"}]),
        )
        .await;
        assert_eq!(ids(&r), vec![502, 505]);
    }

    #[tokio::test]
    async fn paging_follows_next_page_url() {
        let sb = sandbox_with(AutotaskConfig {
            page_size: 5,
            ..AutotaskConfig::default()
        })
        .await;
        let r = post(
            &sb,
            "Contacts/query",
            json!({"filter": all(), "MaxRecords": 500}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut body: Value = r.json().await.unwrap();
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        loop {
            let details = &body["pageDetails"];
            assert_eq!(details["requestCount"], 5);
            assert_eq!(details["count"], body["items"].as_array().unwrap().len());
            seen.extend(ids(body["items"].as_array().unwrap()));
            pages.push(body.clone());
            let Some(next) = details["nextPageUrl"].as_str().map(str::to_string) else {
                break;
            };
            assert!(
                next.starts_with(&format!(
                    "{}V1.0/Contacts/query/next?paging=",
                    sb.autotask_api_url()
                )),
                "{next}"
            );
            let r = authed(Client::new().get(&next)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            body = r.json().await.unwrap();
        }
        let sizes: Vec<usize> = pages
            .iter()
            .map(|p| p["items"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![5, 5, 5, 3]);
        assert_eq!(seen, (30_000..30_018).collect::<Vec<u64>>());
        assert!(pages[0]["pageDetails"]["prevPageUrl"].is_null());
        // prevPageUrl leads back to the page before.
        let prev = pages[2]["pageDetails"]["prevPageUrl"].as_str().unwrap();
        let r = authed(Client::new().get(prev)).send().await.unwrap();
        let back: Value = r.json().await.unwrap();
        assert_eq!(back["items"], pages[1]["items"]);
        // The next URL needs credentials, and a token is bound to its entity.
        let next = pages[0]["pageDetails"]["nextPageUrl"].as_str().unwrap();
        let r = Client::new().get(next).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = authed(Client::new().get(next.replace("/Contacts/", "/Companies/")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = get(&sb, "Contacts/query/next?paging=garbage").await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

        // MaxRecords below the page size is the page size; filters and IncludeFields carry over.
        let r = post(
            &sb,
            "Contacts/query",
            json!({"filter": [{"op": "eq", "field": "isActive", "value": 1}],
        "IncludeFields": ["firstName"], "MaxRecords": 2}),
        )
        .await;
        let mut body: Value = r.json().await.unwrap();
        let mut active = Vec::new();
        loop {
            assert!(body["items"].as_array().unwrap().len() <= 2);
            for i in body["items"].as_array().unwrap() {
                assert_eq!(i.as_object().unwrap().len(), 2, "{i}");
            }
            active.extend(ids(body["items"].as_array().unwrap()));
            let Some(next) = body["pageDetails"]["nextPageUrl"]
                .as_str()
                .map(str::to_string)
            else {
                break;
            };
            body = authed(Client::new().get(&next))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        }
        assert_eq!(active.len(), 12);
        assert_eq!(active.iter().collect::<BTreeSet<_>>().len(), 12);
        assert!(!active.contains(&30_002));
    }

    #[tokio::test]
    async fn counts_reads_by_id_and_contacts_integer_is_active() {
        let sb = sandbox().await;
        assert_eq!(count(&sb, "Companies", all()).await, 6);
        assert_eq!(count(&sb, "Contacts", all()).await, 18);
        assert_eq!(count(&sb, "CompanyLocations", all()).await, 6);
        let active = |v: Value| json!([{"op": "eq", "field": "isActive", "value": v}]);
        assert_eq!(count(&sb, "Contacts", active(json!(1))).await, 12);
        assert_eq!(count(&sb, "Contacts", active(json!(0))).await, 6);
        let inactive = query(&sb, "Contacts", active(json!(0))).await;
        assert_eq!(
            ids(&inactive),
            vec![30_002, 30_005, 30_008, 30_011, 30_014, 30_017]
        );
        assert!(inactive.iter().all(|c| c["isActive"] == 0));
        // Contacts take 1 / 0, not true / false.
        let r = post(
            &sb,
            "Contacts/query",
            json!({"filter": active(json!(true))}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        // A GET count with a search parameter.
        let r = authed(Client::new().get(url(&sb, "ConfigurationItems/query/count")))
            .query(&[(
                "search",
                json!({"filter": [{"op": "eq", "field": "companyID", "value": 503}]}).to_string(),
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"queryCount": 4}));

        let r = get(&sb, "Companies/503").await;
        assert_eq!(r.status(), StatusCode::OK);
        let item: Value = r.json().await.unwrap();
        assert_eq!(item["item"]["id"], 503);
        assert_eq!(item["item"]["companyName"], "Hilltop Veterinary 3");
        assert_eq!(
            item["item"]["lastTrackedModifiedDateTime"],
            "2026-01-01T00:00:00.000Z"
        );
        let r = get(&sb, "CompanyLocations/2003").await;
        let loc: Value = r.json().await.unwrap();
        assert_eq!(loc["item"]["companyID"], 503);
        assert_eq!(loc["item"]["isPrimary"], true);
        assert_eq!(loc["item"]["name"], "Main");
        let r = get(&sb, "Contacts/1").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"item": null}));
        assert_eq!(
            get(&sb, "Contacts/abc").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn mutations_show_and_bump_modified_dates() {
        let sb = sandbox().await;
        let since = json!([{"op": "gt", "field": "lastTrackedModifiedDateTime", "value": "2026-01-01T00:00:00Z"}]);
        assert!(query(&sb, "Companies", since.clone()).await.is_empty());
        assert!(sb.at_update(
            AtEntity::Company,
            502,
            json!({"companyName": "Renamed Ltd", "isactive": false})
        ));
        let changed = query(&sb, "Companies", since.clone()).await;
        assert_eq!(ids(&changed), vec![502]);
        assert_eq!(changed[0]["companyName"], "Renamed Ltd");
        assert_eq!(changed[0]["isActive"], false);
        assert!(!sb.at_update(AtEntity::Company, 9, json!({})));

        let id = sb.at_insert(
        AtEntity::ConfigurationItem,
        json!({"companyID": 500, "referenceTitle": "NEW-SRV", "configurationItemCategoryID": 102}),
    );
        assert_eq!(id, 70_024);
        let fresh = query(
            &sb,
            "ConfigurationItems",
            json!([
        {"op": "gt", "field": "lastModifiedTime", "value": "2026-01-01T00:00:00Z"}]),
        )
        .await;
        assert_eq!(ids(&fresh), vec![id]);
        assert_eq!(fresh[0]["isActive"], true);
        assert!(sb.at_update(AtEntity::Contact, 30_000, json!({"isActive": false})));
        assert_eq!(sb.at_records(AtEntity::Contact)[0]["isActive"], 0);
        assert_eq!(
            count(
                &sb,
                "Contacts",
                json!([{"op": "eq", "field": "isActive", "value": 0}])
            )
            .await,
            7
        );
        assert!(sb.at_remove(AtEntity::ConfigurationItem, id));
        assert!(!sb.at_remove(AtEntity::ConfigurationItem, id));
        assert_eq!(sb.at_records(AtEntity::ConfigurationItem).len(), 24);
        let cat = sb.at_insert(
            AtEntity::ConfigurationItemCategory,
            json!({"name": "Phone"}),
        );
        assert_eq!(cat, 105);
        assert_eq!(count(&sb, "ConfigurationItemCategories", all()).await, 5);
        // In-process mutations are not requests.
        assert_eq!(sb.autotask_stats().current_window_count, 5);
    }

    #[tokio::test]
    async fn threshold_information_counts_itself_and_the_threshold_refuses() {
        let sb = sandbox_with(AutotaskConfig {
            threshold: 5,
            ..AutotaskConfig::default()
        })
        .await;
        early_in_window(3600, 30_000).await;
        let r = get(&sb, "ThresholdInformation").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"externalRequestThreshold": 5, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": 1})
        );
        for _ in 0..3 {
            assert_eq!(count(&sb, "Companies", all()).await, 6);
        }
        let r = get(&sb, "thresholdinformation").await;
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["currentTimeframeRequestCount"], 5);
        // The sixth request of the window is refused, unprocessed and uncounted.
        let r = get(&sb, "ThresholdInformation").await;
        let message = error(r, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(
            message.contains("exceeded the request threshold"),
            "{message}"
        );
        let r = post(&sb, "Companies/query", json!({"filter": all()})).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let stats = sb.autotask_stats();
        assert_eq!(stats.threshold_refusals, 2);
        assert_eq!(stats.threshold_info_calls, 2);
        assert_eq!(stats.current_window_count, 5);
        assert_eq!(stats.requests, 7);
        // Raising the threshold keeps the window's count.
        sb.set_autotask_threshold(7, 3600);
        let r = get(&sb, "ThresholdInformation").await;
        assert_eq!(
            r.json::<Value>().await.unwrap()["currentTimeframeRequestCount"],
            6
        );
        sb.reset_autotask_stats();
        let stats = sb.autotask_stats();
        assert_eq!((stats.requests, stats.current_window_count), (0, 6));
    }

    #[tokio::test]
    async fn other_integrations_share_the_threshold() {
        let sb = sandbox().await;
        early_in_window(3600, 30_000).await;
        sb.autotask_consume(9_998);
        let r = get(&sb, "ThresholdInformation").await;
        let info: Value = r.json().await.unwrap();
        assert_eq!(
            info,
            json!({"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": 9999})
        );
        assert_eq!(count(&sb, "Contacts", all()).await, 18);
        let r = post(&sb, "Contacts/query/count", json!({"filter": all()})).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(sb.autotask_stats().current_window_count, 10_000);
    }

    #[tokio::test]
    async fn the_window_rolls_over() {
        let sb = sandbox_with(AutotaskConfig {
            threshold: 3,
            threshold_timeframe_secs: 2,
            ..AutotaskConfig::default()
        })
        .await;
        early_in_window(2, 1500).await;
        for _ in 0..3 {
            assert_eq!(get(&sb, "Companies/500").await.status(), StatusCode::OK);
        }
        assert_eq!(
            get(&sb, "Companies/500").await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let r = get(&sb, "Companies/500").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        // The next clock-aligned window starts afresh.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let left = 2000 - u64::try_from(now.as_millis()).unwrap() % 2000;
        tokio::time::sleep(Duration::from_millis(left + 50)).await;
        let r = get(&sb, "ThresholdInformation").await;
        assert_eq!(r.status(), StatusCode::OK);
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["currentTimeframeRequestCount"], 1);
        assert_eq!(info["requestThresholdTimeframe"], 1);
        assert_eq!(sb.autotask_stats().threshold_refusals, 2);
    }

    #[tokio::test]
    async fn requests_slow_down_above_half_the_threshold() {
        let sb = sandbox_with(AutotaskConfig {
            threshold: 10,
            slow_above_half_ms: 600,
            ..AutotaskConfig::default()
        })
        .await;
        early_in_window(3600, 30_000).await;
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(get(&sb, "Companies/500").await.status(), StatusCode::OK);
            assert!(
                t.elapsed() < Duration::from_millis(400),
                "{:?}",
                t.elapsed()
            );
        }
        let t = Instant::now();
        assert_eq!(get(&sb, "Companies/500").await.status(), StatusCode::OK);
        assert!(
            t.elapsed() >= Duration::from_millis(600),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(sb.autotask_stats().slowed_requests, 1);
    }

    #[tokio::test]
    async fn the_thread_limit_is_per_endpoint() {
        let sb = sandbox_with(AutotaskConfig {
            latency_ms: 300,
            ..AutotaskConfig::default()
        })
        .await;
        let client = Client::new();
        let send = |entity: &str| {
            authed(client.post(url(&sb, &format!("{entity}/query"))))
                .json(&json!({"filter": all(), "MaxRecords": 1}))
                .send()
        };
        // Five at once on one endpoint: three run, two are refused unprocessed.
        let answers = futures::future::join_all((0..5).map(|_| send("Companies"))).await;
        let mut statuses: Vec<u16> = answers
            .iter()
            .map(|r| r.as_ref().unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 200, 200, 500, 500]);
        for r in answers {
            let r = r.unwrap();
            if r.status() == StatusCode::INTERNAL_SERVER_ERROR {
                let message = error(r, StatusCode::INTERNAL_SERVER_ERROR).await;
                assert!(
                    message.starts_with("Thread Threshold Exceeded"),
                    "{message}"
                );
                assert!(message.contains("Companies"), "{message}");
            }
        }
        let stats = sb.autotask_stats();
        assert_eq!(stats.thread_refusals, 2);
        assert_eq!(stats.max_in_flight_per_endpoint, 4);
        assert_eq!(stats.max_in_flight_by_endpoint["Companies"], 4);
        // Refused requests still count against the threshold.
        assert_eq!(stats.current_window_count, 5);

        // Three on each of two endpoints at once: all run.
        sb.reset_autotask_stats();
        let t = Instant::now();
        let answers = futures::future::join_all(
            ["Companies", "Contacts"]
                .iter()
                .flat_map(|e| std::iter::repeat_n(*e, 3))
                .map(send),
        )
        .await;
        assert!(answers
            .iter()
            .all(|r| r.as_ref().unwrap().status() == StatusCode::OK));
        assert!(t.elapsed() >= Duration::from_millis(300));
        let stats = sb.autotask_stats();
        assert_eq!(stats.thread_refusals, 0);
        assert_eq!(stats.max_in_flight_per_endpoint, 3);
        assert_eq!(stats.max_in_flight_by_endpoint["Companies"], 3);
        assert_eq!(stats.max_in_flight_by_endpoint["Contacts"], 3);

        // The refusal status is configurable, and so is the limit.
        sb.set_autotask_thread_limit(1);
        let answers = futures::future::join_all((0..2).map(|_| send("Contacts"))).await;
        let mut statuses: Vec<u16> = answers
            .iter()
            .map(|r| r.as_ref().unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 500]);
        let sb = sandbox_with(AutotaskConfig {
            latency_ms: 300,
            thread_limit: 1,
            thread_refusal_status: 429,
            ..AutotaskConfig::default()
        })
        .await;
        let client = Client::new();
        let answers = futures::future::join_all(
            (0..2).map(|_| authed(client.get(url(&sb, "Companies/500"))).send()),
        )
        .await;
        let mut statuses: Vec<u16> = answers
            .iter()
            .map(|r| r.as_ref().unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 429]);
    }

    #[tokio::test]
    async fn faults_and_stats_on_the_port() {
        let sb = sandbox().await;
        sb.set_faults(Faults {
            rules: vec![
                FaultRule::new(FaultProvider::Autotask, FaultKind::ErrorRate(1.0)).on("/Contacts"),
            ],
            ..Faults::default()
        });
        let r = post(&sb, "Contacts/query", json!({"filter": all()})).await;
        assert!(r.status().is_server_error());
        assert!(r.text().await.unwrap().contains("<html>"));
        assert_eq!(count(&sb, "Companies", all()).await, 6);
        // The emulator never saw the faulted request.
        assert_eq!(sb.autotask_stats().requests, 1);
        let r = Client::new()
            .get(format!("{}/_sandbox/faults", sb.autotask_url))
            .send()
            .await
            .unwrap();
        let faults: Value = r.json().await.unwrap();
        assert_eq!(faults["rules"][0]["provider"], "autotask");
        let r = Client::new()
            .get(format!("{}/_sandbox/stats", sb.autotask_url))
            .send()
            .await
            .unwrap();
        let stats: Value = r.json().await.unwrap();
        assert_eq!(stats["autotask"]["requests"], 1);
        assert_eq!(stats["autotask"]["requests_by_endpoint"]["Companies"], 1);
        assert_eq!(stats["autotask"]["current_window_count"], 1);
    }
}
