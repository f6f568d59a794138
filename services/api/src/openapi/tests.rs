use super::document_text;
use axum::http::Method;
use serde_json::Value;
use std::collections::BTreeSet;

fn document() -> Value {
    serde_json::from_str(document_text()).expect("openapi.json is JSON")
}

/// `/a/{x}/b/{y}` → `/a/{}/b/{}`: parameter names may differ between the router and the
/// document (`tenant_id`, `tenantId`); their places may not.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The providers a `{provider}` route answers for (other than with a 404): the
/// documentation providers (`hudu`, `it-glue`) for the posture routes, every PSA with a
/// module ([`docsync_domain::psa::PsaConfig::is_built`]) for the PSA routes, both for the
/// routes they share. A new route must be placed here.
fn providers_of(path: &str) -> Vec<&'static str> {
    let posture = docsync_domain::Provider::ALL.map(|p| p.as_str());
    let psa: Vec<&'static str> = docsync_domain::psa::PsaKind::ALL
        .into_iter()
        .filter(|k| docsync_domain::psa::PsaConfig::is_built(*k))
        .map(|k| k.as_str())
        .collect();
    match path.strip_prefix("/integrations/{provider}") {
        Some("" | "/test" | "/runs") => posture.iter().chain(&psa).copied().collect(),
        Some("/push/{tenant_id}" | "/push-all" | "/preview/{tenant_id}") => posture.to_vec(),
        Some("/companies" | "/companies/match-all" | "/sync") => psa,
        _ => panic!("{path}: say in providers_of which providers it serves"),
    }
}

fn served() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (method, path) in crate::routes() {
        let providers: Vec<&str> = if path.contains("{provider}") {
            providers_of(path)
        } else {
            vec![""]
        };
        for p in providers {
            out.insert((
                method.as_str().to_ascii_lowercase(),
                shape(&path.replace("{provider}", p)),
            ));
        }
    }
    out
}

/// The values of an operation's `{provider}` path parameter (its schema's enum).
fn provider_values(doc: &Value, op: &Value) -> Vec<String> {
    let param = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .find(|p| p["name"] == "provider" && p["in"] == "path")
        .expect("a {provider} parameter");
    resolve(doc, &param["schema"])["enum"]
        .as_array()
        .expect("{provider} is an enum")
        .iter()
        .map(|v| v.as_str().expect("a provider name").to_owned())
        .collect()
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            if path.contains("{provider}") {
                for p in provider_values(doc, op) {
                    out.insert((method.clone(), shape(&path.replace("{provider}", &p))));
                }
            } else {
                out.insert((method.clone(), shape(path)));
            }
        }
    }
    out
}

/// `DOCSYNC_OPENAPI_OUT=path cargo test -p docsync-api document_is_written` writes the
/// document to a file, to read or to hand to a tool.
#[test]
fn document_is_written_when_asked() {
    if let Ok(path) = std::env::var("DOCSYNC_OPENAPI_OUT") {
        std::fs::write(path, document_text()).expect("written");
    }
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let served = served();
    let documented = documented(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
}

/// Resolves a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => v,
    }
}

#[test]
fn operations_declare_their_parameters_bodies_security_and_errors() {
    let doc = document();
    let public = super::PUBLIC;
    let with_body = [Method::POST, Method::PUT, Method::PATCH];
    let bodiless_posts = [
        "/test",
        "/push-all",
        "/push/{tenantId}",
        "/preview/{tenantId}",
        "/companies/match-all",
        "/sync",
    ];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path_params: Vec<&Value> = item["parameters"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for (method, op) in item.as_object().expect("item") {
            if method == "parameters" {
                continue;
            }
            let what = format!("{method} {path}");
            let mut params: Vec<&Value> = path_params.iter().map(|p| resolve(&doc, p)).collect();
            if let Some(own) = op["parameters"].as_array() {
                params.extend(own.iter().map(|p| resolve(&doc, p)));
            }
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{what}: path parameter {name} not declared"
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{what}: no success response"
            );
            for r in responses.values() {
                let r = resolve(&doc, r);
                assert!(
                    r["description"].is_string(),
                    "{what}: response without description"
                );
            }
            if public.contains(&path.as_str()) {
                assert_eq!(op["security"], serde_json::json!([]), "{what}: public");
                continue;
            }
            assert_eq!(
                op["security"],
                serde_json::json!([{"bearerAuth": []}]),
                "{what}: bearer security"
            );
            for code in ["401", "403", "429", "503"] {
                assert!(responses.contains_key(code), "{what}: no {code} response");
            }
            let m: Method = method.to_ascii_uppercase().parse().expect("method");
            let bodiless = bodiless_posts.iter().any(|s| path.ends_with(s));
            if with_body.contains(&m) && !bodiless {
                let schema = resolve(
                    &doc,
                    &op["requestBody"]["content"]["application/json"]["schema"],
                );
                assert_eq!(schema["type"], "object", "{what}: request body");
                assert_eq!(
                    schema["additionalProperties"], false,
                    "{what}: unknown fields are refused"
                );
                assert!(responses.contains_key("400"), "{what}: no 400 response");
            }
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        serde_json::json!({"type": "http", "scheme": "bearer", "description": "an API token from `docsync token create`"})
    );
    let retry = &doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"];
    assert_eq!(retry["schema"]["type"], "integer");
}

/// The property names of a schema of the document.
fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema}: properties"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

#[test]
fn psa_views_have_the_documented_fields() {
    use docsync_domain::psa::PsaCredentials as _;
    let doc = document();
    let parsed = docsync_domain::psa::parse_connectwise(
        &serde_json::json!({
            "site": "na.myconnectwise.net",
            "companyId": "mymsp",
            "publicKey": "Ab12Cd34Ef56Gh78",
            "privateKey": "Zy98Xw76Vu54Ts32",
            "clientId": "5e3b8c1a-0d2f-4e6a-9b7c-1a2b3c4d5e6f",
        }),
        None,
        false,
    )
    .expect("a valid body");
    // The masked config, and `notices` in the answer to PUT.
    let mut view = keys(&parsed.config.masked_json(&parsed.options));
    view.insert("notices".to_owned());
    assert_eq!(properties(&doc, "ConnectWiseManageIntegration"), view);
    for (kind, schema, body) in [
        (
            docsync_domain::psa::PsaKind::HaloPsa,
            "HaloPsaIntegration",
            serde_json::json!({"resourceServer": "https://mymsp.halopsa.com/api", "clientId": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
                               "clientSecret": "0123456789abcdef-0123456789abcdef-secret"}),
        ),
        (
            docsync_domain::psa::PsaKind::Autotask,
            "AutotaskIntegration",
            serde_json::json!({"username": "api@mymsp.com", "secret": "secret-0123456789",
                               "integrationCode": "TRACKING0123456789ABCDEFG"}),
        ),
    ] {
        let parsed =
            docsync_domain::psa::PsaConfig::parse(kind, &body, None, false).expect("a valid body");
        let mut view = keys(&parsed.config.masked_json(&parsed.options));
        view.insert("notices".to_owned());
        assert_eq!(properties(&doc, schema), view, "{schema}");
        let put: BTreeSet<String> = doc["components"]["schemas"][format!("{schema}Put")]
            ["properties"]
            .as_object()
            .expect("a PUT schema")
            .keys()
            .cloned()
            .collect();
        let mut accepted = keys(&parsed.config.masked_json(&parsed.options));
        accepted.remove("notices");
        assert_eq!(put, accepted, "{schema}Put lists what the PUT takes");
    }

    let now = chrono::Utc::now();
    let run = docsync_store::SyncRun {
        id: docsync_domain::RunId::new(),
        account_id: docsync_domain::AccountId::new(),
        psa: docsync_domain::psa::PsaKind::ConnectWiseManage,
        trigger: docsync_domain::Trigger::Manual,
        state: docsync_domain::RunState::Queued,
        attempts: 0,
        error: None,
        counts: docsync_store::SyncCounts::default(),
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let listed = serde_json::to_value(crate::psa::run_view(&run)).expect("json");
    assert_eq!(properties(&doc, "SyncCountsView"), keys(&listed["counts"]));
    let mut detail = keys(&listed);
    detail.insert("events".into());
    assert_eq!(properties(&doc, "SyncRunView"), detail);
}

#[test]
fn request_bodies_list_the_fields_the_handlers_accept() {
    let doc = document();
    // An object's properties, or those of every branch of a oneOf.
    let fields = |schema: &str| -> BTreeSet<String> {
        let s = &doc["components"]["schemas"][schema];
        let branches: Vec<&Value> = match s["oneOf"].as_array() {
            Some(b) => b.iter().collect(),
            None => vec![s],
        };
        branches
            .iter()
            .flat_map(|b| b["properties"].as_object().expect(schema).keys().cloned())
            .collect()
    };
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        fields("TenantCreate"),
        set(&["name", "primaryDomain", "microsoftTenantId"])
    );
    assert_eq!(fields("TenantUpdate"), set(&["name", "primaryDomain"]));
    assert_eq!(
        fields("MicrosoftConnectionPut"),
        set(&["clientId", "clientSecret"])
    );
    assert_eq!(
        fields("HuduIntegrationPut"),
        set(&[
            "baseUrl",
            "apiKey",
            "companyIdByTenantId",
            "schedule",
            "rateLimit",
            "sections",
            "writeUnchanged",
            "template"
        ])
    );
    assert_eq!(
        fields("ItGlueIntegrationPut"),
        set(&[
            "region",
            "apiKey",
            "organizationIdByTenantId",
            "schedule",
            "rateLimit",
            "sections",
            "writeUnchanged"
        ])
    );
    assert_eq!(
        fields("Schedule"),
        set(&["mode", "at", "timeZone", "hours", "onChange"])
    );
    assert_eq!(
        fields("PsaSchedule"),
        set(&["mode", "at", "timeZone", "hours"])
    );
    // ConnectWise Manage's own fields, the read-only apiHost (accepted, ignored) and the
    // options every PSA shares.
    let mut connectwise = set(&[
        "site",
        "companyId",
        "publicKey",
        "privateKey",
        "clientId",
        "apiHost",
    ]);
    connectwise.extend(set(&docsync_domain::psa::PsaOptions::FIELDS));
    assert_eq!(fields("ConnectWiseManageIntegrationPut"), connectwise);
    assert_eq!(
        fields("PsaLayouts"),
        set(&["contacts", "sites", "configurations", "agreements"])
    );
    assert_eq!(fields("SortRule"), set(&["type", "layoutId"]));
    assert_eq!(
        fields("PsaSkip"),
        set(&[
            "inactiveCompanies",
            "contacts",
            "agreements",
            "configurations",
            "inactiveConfigurations",
            "sites",
            "companyTypes",
            "configurationTypes"
        ])
    );
    assert_eq!(fields("PsaKnowledgeBase"), set(&["enabled"]));
    assert_eq!(fields("CompanyMatchesPut"), set(&["matches"]));
    assert_eq!(
        fields("CompanyMatch"),
        set(&["psaId", "action", "companyId"])
    );
    assert_eq!(fields("RateLimit"), set(&["requests", "perSeconds"]));
    assert_eq!(fields("ReplayRequest"), set(&["ids"]));
}

#[test]
fn every_schema_written_as_json_was_read() {
    let text = document_text();
    assert!(!text.contains("schema error"), "a schema did not parse");
    let doc = document();
    assert_eq!(
        doc["components"]["schemas"]["HuduIntegrationPut"]["properties"]["companyIdByTenantId"]
            ["propertyNames"]["format"],
        "uuid"
    );
}

#[test]
fn every_link_leads_to_an_operation_and_its_parameters() {
    let doc = document();
    let mut ops = std::collections::BTreeMap::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            if let Some(id) = op["operationId"].as_str() {
                ops.insert(id.to_owned(), op.clone());
            }
        }
    }
    for (from, _, name, to, params) in super::LINKS {
        let target = ops
            .get(*to)
            .unwrap_or_else(|| panic!("{name}: no operation {to}"));
        let source = ops
            .get(*from)
            .unwrap_or_else(|| panic!("{name}: no operation {from}"));
        assert!(
            source["responses"]
                .as_object()
                .expect("responses")
                .values()
                .any(|r| r["links"][*name].is_object()),
            "{from}: link {name} not added"
        );
        for (param, _) in *params {
            assert!(
                target["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == *param),
                "{name}: {to} has no parameter {param}"
            );
        }
    }
}
