//! `GET /openapi.json`: the OpenAPI 3.0 document of the API, kept by hand in
//! `services/api/openapi.json`. Its test compares it with the router's table ([`crate::routes`]),
//! so a route added without documenting it fails the build's tests.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub(crate) const DOCUMENT: &str = include_str!("../openapi.json");

/// Serves the document (no token needed).
pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use axum::http::Method;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// `/a/{x}/b/{y}` → `/a/{}/b/{}`: parameter names may differ between the router and the
    /// document (`tenant_id`, `tenantId`); their places may not.
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn served() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (method, path) in crate::routes() {
            let providers: Vec<&str> = if path.contains("{provider}") {
                docsync_domain::Provider::ALL
                    .iter()
                    .map(|p| p.as_str())
                    .collect()
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

    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if method != "parameters" {
                    out.insert((method.clone(), shape(path)));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_of_the_router_is_documented_and_nothing_else() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
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
        let public = ["/health", "/ready", "/openapi.json"];
        let with_body = [Method::POST, Method::PUT, Method::PATCH];
        let bodiless_posts = ["/test", "/push-all", "/push/{tenantId}"];
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
                let mut params: Vec<&Value> =
                    path_params.iter().map(|p| resolve(&doc, p)).collect();
                if let Some(own) = op["parameters"].as_array() {
                    params.extend(own.iter().map(|p| resolve(&doc, p)));
                }
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = segment.trim_matches(|c| c == '{' || c == '}');
                    assert!(
                        params.iter().any(|p| p["name"] == name
                            && p["in"] == "path"
                            && p["required"] == true),
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

    #[test]
    fn request_bodies_list_the_fields_the_handlers_accept() {
        let doc = document();
        let fields = |schema: &str| -> BTreeSet<String> {
            doc["components"]["schemas"][schema]["properties"]
                .as_object()
                .expect(schema)
                .keys()
                .cloned()
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
                "rateLimit"
            ])
        );
        assert_eq!(
            fields("ItGlueIntegrationPut"),
            set(&[
                "region",
                "apiKey",
                "organizationIdByTenantId",
                "schedule",
                "rateLimit"
            ])
        );
        assert_eq!(fields("Schedule"), set(&["mode", "at", "timeZone"]));
        assert_eq!(fields("RateLimit"), set(&["requests", "perSeconds"]));
        assert_eq!(fields("ReplayRequest"), set(&["ids"]));
    }
}
