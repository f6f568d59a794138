//! Evidence export end to end: tenants pushed into the sandbox's Hudu, then
//! `GET /tenants/{id}/evidence` and `GET /evidence` in JSON and CSV. The two formats agree with
//! each other and with the scores the Hudu article shows; not-applicable controls are outside
//! the score; a failing anti-phish configuration (fixture 5) fails DS-11 and CIS 2.1.7 with the
//! facts behind it; permissions and bad query values are enforced.

use docsync_e2e::{shown, spawn_app, TestApp, TestTenant};
use docsync_store::Permission;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// GET `path` with the all-permissions token, answering status and raw body text.
async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let resp = app
        .http
        .get(format!("{}{path}", app.api))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("api reachable");
    let status = resp.status();
    let kind = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, resp.text().await.unwrap_or_default())
}

/// The CSV's rows as maps from column name to cell.
fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a well-formed row");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Every control of the tenant's evidence as (framework, control id, result).
fn controls(evidence: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for f in evidence["frameworks"].as_array().expect("frameworks") {
        for c in f["controls"].as_array().expect("controls") {
            out.push((
                f["framework"].as_str().unwrap_or_default().to_owned(),
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["result"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

async fn evidence_of(app: &TestApp, t: &TestTenant) -> Value {
    let (status, body) = app
        .call(Method::GET, &format!("/tenants/{}/evidence", t.id), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn json_and_csv_agree_with_each_other_and_with_the_hudu_article() {
    let app = spawn_app().await;
    // 5: the default anti-phish policy has nothing on (DS-11 fails), no Defender permission
    // (unknowns). 16: no custom domain and no Copilot (not applicable).
    let tenants = app.setup_hudu(&[5, 16]).await;
    let unpushed = app.create_tenants(&[7]).await.remove(0);
    assert!(!tenants[0].fixture.anti_phish_protected());

    // Before any push there is nothing to export, and the answer says what to do.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/tenants/{}/evidence", tenants[0].id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no posture snapshot yet"),
        "{body}"
    );

    for t in &tenants {
        let run = app.wait_for_run(&app.push(t).await).await;
        assert_eq!(run["state"], "succeeded", "{run}");
    }

    for t in &tenants {
        let evidence = evidence_of(&app, t).await;
        assert_eq!(evidence["tenantId"], json!(t.id));
        assert!(evidence["snapshotId"].is_string() && evidence["collectedAt"].is_string());
        let frameworks = evidence["frameworks"].as_array().expect("frameworks");
        let slugs: Vec<&str> = frameworks
            .iter()
            .filter_map(|f| f["framework"].as_str())
            .collect();
        assert_eq!(slugs, ["essential-eight", "apra-cps-234", "cis-m365"]);

        let article = app
            .articles_in(TestApp::company_of(t))
            .pop()
            .expect("the pushed article");
        for f in frameworks {
            // The score is passes / (passes + fails) of the listed controls: unknown and not
            // applicable ones are outside it.
            let results: Vec<&str> = f["controls"]
                .as_array()
                .expect("controls")
                .iter()
                .filter_map(|c| c["result"].as_str())
                .collect();
            let n = |r: &str| results.iter().filter(|x| **x == r).count() as u64;
            let (pass, fail, unknown, na) =
                (n("pass"), n("fail"), n("unknown"), n("notApplicable"));
            assert_eq!(pass + fail + unknown + na, results.len() as u64);
            assert_eq!(f["passed"], json!(pass), "{f}");
            assert_eq!(f["failed"], json!(fail), "{f}");
            assert_eq!(f["unknown"], json!(unknown), "{f}");
            assert_eq!(f["notApplicable"], json!(na), "{f}");
            let score = f["score"].as_f64();
            if pass + fail == 0 {
                assert_eq!(score, None);
            } else {
                let expected = (pass as f64 * 1000.0 / (pass + fail) as f64).round() / 10.0;
                assert_eq!(score, Some(expected), "{f}");
            }
            // The same figures in the article's compliance table.
            let row = format!(
                "<tr><td>{}</td><td>{}</td><td>{pass}</td><td>{fail}</td><td>{unknown}</td><td>{na}</td></tr>",
                f["name"].as_str().unwrap_or_default(),
                score.map_or_else(|| "n/a".to_owned(), |s| format!("{}%", shown(s))),
            );
            assert!(
                article.content.contains(&row),
                "the article lacks {row}: {}",
                article.content
            );
        }

        // The CSV says the same, row for row.
        let (status, kind, text) =
            get_text(&app, &format!("/tenants/{}/evidence?format=csv", t.id)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(kind.starts_with("text/csv"), "{kind}");
        let rows = csv_rows(&text);
        let from_csv: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["framework"].clone(),
                    r["controlId"].clone(),
                    r["result"].clone(),
                )
            })
            .collect();
        assert_eq!(from_csv, controls(&evidence));
        for r in &rows {
            assert_eq!(r["tenantId"], t.id);
            assert_eq!(
                r["snapshotId"],
                evidence["snapshotId"].as_str().unwrap_or_default()
            );
            let f = frameworks
                .iter()
                .find(|f| f["framework"] == json!(r["framework"]))
                .expect("the row's framework");
            assert_eq!(
                r["score"],
                f["score"]
                    .as_f64()
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
        }
    }

    // Fixture 5: DS-11 fails end to end, with the policy facts from Get-AntiPhishPolicy.
    let evidence = evidence_of(&app, &tenants[0]).await;
    let cis = &evidence["frameworks"][2];
    let phish = cis["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == "CIS 2.1.7")
        .expect("CIS 2.1.7");
    assert_eq!(phish["result"], "fail", "{phish}");
    assert_eq!(phish["checks"][0]["id"], "DS-11");
    let fact = &phish["evidence"][0];
    assert_eq!(fact["check"], "DS-11");
    assert_eq!(
        fact["source"],
        "Exchange Online InvokeCommand Get-AntiPhishPolicy"
    );
    assert_eq!(
        fact["value"],
        "Enabled true; mailbox intelligence or impersonation protection false"
    );
    let article = app.articles_in(TestApp::company_of(&tenants[0])).remove(0);
    assert!(article.content.contains("<td>DS-11</td>"));
    assert!(article
        .content
        .contains("DS-11: An enabled anti-phish policy"));

    // Fixture 16: DKIM does not apply; CIS 2.1.9 is N/A and outside the CIS score.
    let evidence = evidence_of(&app, &tenants[1]).await;
    let cis = &evidence["frameworks"][2];
    let dkim = cis["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .find(|c| c["id"] == "CIS 2.1.9")
        .expect("CIS 2.1.9");
    assert_eq!(dkim["result"], "notApplicable", "{dkim}");
    assert!(cis["notApplicable"].as_u64().unwrap_or_default() >= 1);
    let article = app.articles_in(TestApp::company_of(&tenants[1])).remove(0);
    assert!(article.content.contains("<td>N/A</td>"));

    // One framework only.
    let (status, only_cis) = app
        .call(
            Method::GET,
            &format!("/tenants/{}/evidence?framework=cis-m365", tenants[1].id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{only_cis}");
    assert_eq!(only_cis["frameworks"].as_array().map(Vec::len), Some(1));
    assert_eq!(only_cis["frameworks"][0], evidence["frameworks"][2]);

    // Every tenant of the account at once: the per-tenant answers together, the unpushed
    // tenant listed apart; the CSV has one row per tenant x control, cells guarded.
    let (status, renamed) = app
        .call(
            Method::PATCH,
            &format!("/tenants/{}", tenants[1].id),
            Some(json!({"name": "=HYPERLINK(\"http://x\")"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (status, all) = app.call(Method::GET, "/evidence", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["tenantsWithoutSnapshot"], json!([unpushed.id]));
    let listed = all["tenants"].as_array().expect("tenants");
    assert_eq!(listed.len(), 2);
    let (status, _, text) = get_text(&app, "/evidence?format=csv&framework=cis-m365").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let rows = csv_rows(&text);
    let mut expected = 0;
    for t in &tenants {
        let e = listed
            .iter()
            .find(|e| e["tenantId"] == json!(t.id))
            .expect("each pushed tenant");
        let cis: Vec<(String, String, String)> = controls(e)
            .into_iter()
            .filter(|(f, _, _)| f == "cis-m365")
            .collect();
        let mine: Vec<(String, String, String)> = rows
            .iter()
            .filter(|r| r["tenantId"] == t.id)
            .map(|r| {
                (
                    r["framework"].clone(),
                    r["controlId"].clone(),
                    r["result"].clone(),
                )
            })
            .collect();
        assert_eq!(mine, cis);
        expected += cis.len();
    }
    assert_eq!(rows.len(), expected);
    assert!(rows
        .iter()
        .filter(|r| r["tenantId"] == tenants[1].id)
        .all(|r| r["tenantName"] == "'=HYPERLINK(\"http://x\")"));
    app.cleanup().await;
}

#[tokio::test]
async fn evidence_needs_tenants_read_and_names_bad_query_values() {
    let app = spawn_app().await;
    let tenants = app.setup_hudu(&[3]).await;
    let run = app.wait_for_run(&app.push(&tenants[0]).await).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let path = format!("/tenants/{}/evidence", tenants[0].id);

    let integrations_only = app.token_with(&[Permission::IntegrationsRead]).await;
    for p in [path.as_str(), "/evidence"] {
        let (status, body) = app
            .call_as(Some(&integrations_only), Method::GET, p, None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}: {body}");
        assert!(body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("TENANTS_READ"));
        let (status, _) = app.call_as(None, Method::GET, p, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{p}");
    }
    let reader = app.token_with(&[Permission::TenantsRead]).await;
    let (status, body) = app.call_as(Some(&reader), Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another account sees neither the tenant nor its evidence.
    let other = app.other_account_token().await;
    let (status, _) = app.call_as(Some(&other), Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call_as(Some(&other), Method::GET, "/evidence", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenants"], json!([]));

    let field_errors = |body: &Value| -> Vec<String> {
        body["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (query, fields) in [
        ("?framework=iso-27001", vec!["framework"]),
        ("?format=xlsx", vec!["format"]),
        ("?framework=nist&format=pdf", vec!["format", "framework"]),
        ("?tenant=x", vec!["tenant"]),
    ] {
        for base in [path.as_str(), "/evidence"] {
            let (status, body) = app.call(Method::GET, &format!("{base}{query}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{base}{query}: {body}");
            let mut got = field_errors(&body);
            got.sort();
            assert_eq!(got, fields, "{base}{query}: {body}");
        }
    }
    let (status, body) = app
        .call(Method::GET, "/tenants/not-a-uuid/evidence", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_errors(&body), ["tenantId"]);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/tenants/{}/evidence", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.cleanup().await;
}
