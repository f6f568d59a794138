//! Property tests at the fleet's edges: the API's JSON body validation through the real router
//! (PUT /integrations/hudu, PUT /integrations/it-glue, POST /tenants with arbitrary JSON
//! objects: never a panic, never a 5xx, every 400 names at least one field) and the decoding
//! of queue messages from arbitrary bytes (no panic; errors are errors).

use docsync_e2e::{spawn_app, TestApp};
use docsync_queue::{CollectJob, PublishJob};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        Just(Value::from("\u{0}")),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object whose keys come from `fields` (each with its own value strategy) and a few
/// unknown names, so most cases reach the field checks rather than only "unknown field".
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .into_iter()
        .map(|(name, values)| {
            prop::option::weighted(0.8, values.prop_map(move |v| (name.to_owned(), v))).boxed()
        })
        .collect();
    let unknown = prop::option::weighted(0.15, (".{1,10}", any_json()));
    (parts, unknown)
        .prop_map(|(parts, unknown)| {
            let mut m = Map::new();
            for (k, v) in parts.into_iter().flatten().chain(unknown) {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

fn text_values(good: Vec<&'static str>) -> BoxedStrategy<Value> {
    let good: Vec<Value> = good.into_iter().map(Value::from).collect();
    prop_oneof![
        3 => prop::sample::select(good),
        1 => "[ -~]{0,30}".prop_map(Value::from),
        1 => any::<String>().prop_map(Value::from),
        1 => any_json(),
    ]
    .boxed()
}

fn schedule_values() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => (
            prop::sample::select(vec!["nightly", "hourly", "manual", "weekly"]),
            prop::sample::select(vec!["02:00", "23:59", "24:00", "+1:00", "7", ""]),
            prop::sample::select(vec!["Australia/Sydney", "UTC", "Nowhere/Else", "\u{0}"]),
        )
            .prop_map(|(m, a, z)| json!({"mode": m, "at": a, "timeZone": z})),
        1 => any_json(),
    ]
    .boxed()
}

fn rate_limit_values() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => (any::<i64>(), any::<u32>()).prop_map(|(r, s)| json!({"requests": r, "perSeconds": s})),
        2 => (1u32..100, 1u32..100).prop_map(|(r, s)| json!({"requests": r, "perSeconds": s})),
        1 => any_json(),
    ]
    .boxed()
}

fn mapping_values(tenant: String) -> BoxedStrategy<Value> {
    let key = prop_oneof![
        3 => Just(tenant),
        1 => Just(uuid::Uuid::new_v4().to_string()),
        1 => ".{0,12}",
    ];
    let id = prop_oneof![
        3 => (1i64..200).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::from(1.5)),
        1 => any_json(),
    ];
    prop_oneof![
        4 => prop::collection::btree_map(key, id, 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => any_json(),
    ]
    .boxed()
}

fn api_key_values() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => "[A-Za-z0-9]{12,40}".prop_map(Value::from),
        1 => Just(Value::from("••••cdef")),
        1 => Just(Value::from("has a space")),
        1 => "[ -~]{0,600}".prop_map(Value::from),
        1 => any_json(),
    ]
    .boxed()
}

/// The provider-independent part of a good integration body (the mapping under "mapping").
fn good_settings(tenant: &str) -> impl Strategy<Value = Value> {
    let tenant = tenant.to_owned();
    (
        "[A-Za-z0-9]{12,40}",
        1i64..200,
        prop::option::of(prop::sample::select(vec!["nightly", "hourly", "manual"])),
        prop::option::of((1u32..1000, 1u32..3600)),
    )
        .prop_map(move |(key, company, mode, limit)| {
            let mut v = json!({"apiKey": key, "mapping": {tenant.clone(): company}});
            if let Some(mode) = mode {
                v["schedule"] = json!({"mode": mode, "at": "03:30", "timeZone": "Europe/London"});
            }
            if let Some((requests, per)) = limit {
                v["rateLimit"] = json!({"requests": requests, "perSeconds": per});
            }
            v
        })
}

/// Sends `body` and checks the answer; returns the status.
async fn check(app: &TestApp, method: Method, path: &str, body: &Value) -> StatusCode {
    let (status, answer) = app.call(method.clone(), path, Some(body.clone())).await;
    let what = format!("{method} {path} {body}");
    assert!(!status.is_server_error(), "{what} → {status} {answer}");
    match status {
        StatusCode::BAD_REQUEST => {
            let fields = answer["fields"].as_array().expect("fields");
            assert!(!fields.is_empty(), "{what} → 400 naming no field: {answer}");
            for f in fields {
                let field = f["field"].as_str().expect("field");
                let message = f["message"].as_str().expect("message");
                assert!(
                    !field.is_empty() && !message.trim().is_empty(),
                    "{what} → {answer}"
                );
            }
            assert_eq!(answer["error"], "invalid_request", "{what} → {answer}");
        }
        StatusCode::OK | StatusCode::CREATED => {
            // A key that was accepted is never shown back whole.
            if let Some(key) = body["apiKey"].as_str().filter(|k| k.trim().len() >= 12) {
                let shown = answer.to_string();
                assert!(!shown.contains(key.trim()), "{what} → {answer}");
                assert!(
                    answer["apiKey"]
                        .as_str()
                        .is_some_and(|k| k.starts_with("••••")),
                    "{what} → {answer}"
                );
            }
        }
        StatusCode::CONFLICT => assert_eq!(path, "/tenants", "{what} → {answer}"),
        other => panic!("{what} → unexpected {other} {answer}"),
    }
    status
}

/// Runs `cases` bodies from `strategy` against `method path`; returns the statuses seen.
fn fuzz(
    runtime: &tokio::runtime::Runtime,
    app: &TestApp,
    cases: u32,
    method: Method,
    path: &str,
    strategy: BoxedStrategy<Value>,
) -> Vec<StatusCode> {
    let seen = std::sync::Mutex::new(Vec::new());
    let mut runner = TestRunner::new(config(cases));
    runner
        .run(&strategy, |body| {
            let status = runtime.block_on(check(app, method.clone(), path, &body));
            seen.lock().expect("lock").push(status);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    seen.into_inner().expect("lock")
}

#[test]
fn request_bodies_of_any_shape_get_a_clear_answer_never_a_5xx() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(spawn_app());
    let tenant = runtime.block_on(app.create_tenants(&[0]))[0].id.clone();

    let tenants = object(vec![
        (
            "name",
            text_values(vec!["Contoso", "  Fabrikam  ", "", "a\u{7}b"]),
        ),
        (
            "primaryDomain",
            text_values(vec!["contoso.com", "CONTOSO.COM", "not a domain", "-a.com"]),
        ),
        (
            "microsoftTenantId",
            prop_oneof![
                3 => Just(()).prop_map(|_| Value::from(uuid::Uuid::new_v4().to_string())),
                1 => text_values(vec!["not-a-uuid", "00000000-0000-0000-0000-000000000000"]),
            ]
            .boxed(),
        ),
    ]);
    let good_tenant = ("[A-Za-z][A-Za-z ]{0,19}", "[a-z]{1,10}\\.(com|com\\.au)")
        .prop_map(|(name, domain)| {
            json!({"name": name, "primaryDomain": domain, "microsoftTenantId": uuid::Uuid::new_v4()})
        });
    let tenants = prop_oneof![1 => good_tenant, 3 => tenants].boxed();
    let created = fuzz(&runtime, &app, 64, Method::POST, "/tenants", tenants);

    let hudu = object(vec![
        (
            "baseUrl",
            text_values(vec![
                "https://it.msp.com",
                "https://it.msp.com/api/v1/",
                "http://127.0.0.1:9",
                "ftp://x",
                "https://user:pw@x.com",
                "https:///api/v1",
                "it.msp.com",
            ]),
        ),
        ("apiKey", api_key_values()),
        ("companyIdByTenantId", mapping_values(tenant.clone())),
        ("schedule", schedule_values()),
        ("rateLimit", rate_limit_values()),
    ]);
    let good_hudu = (
        good_settings(&tenant),
        "https://[a-z]{1,10}\\.com(/api/v1)?",
    )
        .prop_map(|(mut v, url)| {
            v["baseUrl"] = json!(url);
            v["companyIdByTenantId"] = v
                .as_object_mut()
                .and_then(|m| m.remove("mapping"))
                .unwrap_or_default();
            v
        });
    let hudu = prop_oneof![1 => good_hudu, 3 => hudu].boxed();
    let hudu_seen = fuzz(&runtime, &app, 64, Method::PUT, "/integrations/hudu", hudu);

    let itglue = object(vec![
        ("region", text_values(vec!["us", "EU", "au", "uk", ""])),
        ("apiKey", api_key_values()),
        ("organizationIdByTenantId", mapping_values(tenant.clone())),
        ("schedule", schedule_values()),
        ("rateLimit", rate_limit_values()),
    ]);
    let good_itglue = (
        good_settings(&tenant),
        prop::sample::select(vec!["us", "eu", "au"]),
    )
        .prop_map(|(mut v, region)| {
            v["region"] = json!(region);
            v["organizationIdByTenantId"] = v
                .as_object_mut()
                .and_then(|m| m.remove("mapping"))
                .unwrap_or_default();
            v
        });
    let itglue = prop_oneof![1 => good_itglue, 3 => itglue].boxed();
    let itglue_seen = fuzz(
        &runtime,
        &app,
        64,
        Method::PUT,
        "/integrations/it-glue",
        itglue,
    );

    // The search reached past validation too, not only 400s.
    for (what, seen) in [
        ("POST /tenants", &created),
        ("PUT /integrations/hudu", &hudu_seen),
        ("PUT /integrations/it-glue", &itglue_seen),
    ] {
        assert!(
            seen.contains(&StatusCode::BAD_REQUEST),
            "{what}: no 400 in {seen:?}"
        );
        assert!(
            seen.iter().any(|s| s.is_success()),
            "{what}: nothing accepted in {seen:?}"
        );
    }
    runtime.block_on(app.cleanup());
}

/// Bytes that are often nearly a job: real jobs, cut, spliced and mutated, and noise.
fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    let run = uuid::Uuid::new_v4();
    let collect = json!({"runId": run, "retry": 2}).to_string().into_bytes();
    let publish = json!({"runId": run, "snapshotId": uuid::Uuid::new_v4(), "rateLimitKey": "hudu:acc", "retry": 0})
        .to_string()
        .into_bytes();
    let base = prop::sample::select(vec![collect, publish]);
    prop_oneof![
        any::<Vec<u8>>(),
        (base.clone(), any::<prop::sample::Index>())
            .prop_map(|(b, i)| b[..i.index(b.len() + 1)].to_vec()),
        (base.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut b, i, x)| {
            let at = i.index(b.len());
            b[at] = x;
            b
        }),
        (any_json(), any_json(), any_json()).prop_map(|(r, s, k)| {
            json!({"runId": r, "snapshotId": s, "rateLimitKey": k})
                .to_string()
                .into_bytes()
        }),
        any_json().prop_map(|v| v.to_string().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn queue_messages_decode_from_any_bytes_without_panicking(bytes in message_bytes()) {
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        match serde_json::from_slice::<CollectJob>(&bytes) {
            Ok(job) => {
                let obj = value.as_ref().and_then(Value::as_object).expect("a job is an object");
                prop_assert!(obj.keys().all(|k| k == "runId" || k == "retry"), "{obj:?}");
                let again: CollectJob = serde_json::from_slice(&serde_json::to_vec(&job).expect("encode")).expect("decode");
                prop_assert_eq!(again, job);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        match serde_json::from_slice::<PublishJob>(&bytes) {
            Ok(job) => {
                let obj = value.as_ref().and_then(Value::as_object).expect("a job is an object");
                prop_assert!(obj.keys().all(|k| matches!(k.as_str(), "runId" | "snapshotId" | "rateLimitKey" | "retry" | "syncBatch")), "{obj:?}");
                prop_assert!(obj["rateLimitKey"].is_string());
                let again: PublishJob = serde_json::from_slice(&serde_json::to_vec(&job).expect("encode")).expect("decode");
                prop_assert_eq!(again, job);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn real_jobs_round_trip() {
    let job = CollectJob::new(docsync_domain::RunId(uuid::Uuid::new_v4()));
    let bytes = serde_json::to_vec(&job).expect("encode");
    assert_eq!(
        serde_json::from_slice::<CollectJob>(&bytes).expect("decode"),
        job
    );
    let err = serde_json::from_slice::<CollectJob>(br#"{"runId": "x"}"#).unwrap_err();
    assert!(
        err.to_string().contains("UUID") || err.to_string().contains("uuid"),
        "{err}"
    );
}
