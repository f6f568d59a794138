//! Evidence export: `GET /tenants/{id}/evidence` and `GET /evidence`, each framework's
//! controls with their results, the facts behind them and where those came from, read from the
//! latest stored snapshot (so the scores are exactly those its Hudu article and IT Glue asset
//! show). JSON, or CSV for an auditor's spreadsheet (one row per tenant x control, every cell
//! guarded against formula injection).

use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::tenants::parse_tenant_id;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use docsync_domain::snapshot::{BaselineResult, ControlResult, FrameworkScore};
use docsync_store::{Permission, StoredSnapshot};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The frameworks, as the query names them and as snapshots store them.
const FRAMEWORKS: [(&str, &str); 3] = [
    ("essential-eight", "Essential Eight"),
    ("apra-cps-234", "APRA CPS 234"),
    ("cis-m365", "CIS M365"),
];

/// The query of both evidence routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct EvidenceQuery {
    /// Only this framework (every framework when left out).
    #[param(value_type = Option<FrameworkSlug>, nullable = false)]
    framework: Option<String>,
    /// `json` (when left out) or `csv`.
    #[param(value_type = Option<EvidenceFormat>, nullable = false)]
    format: Option<String>,
}

/// A framework as the query names it.
#[derive(Debug, Clone, Copy, ToSchema)]
#[allow(dead_code)]
pub(crate) enum FrameworkSlug {
    /// ACSC Essential Eight.
    #[serde(rename = "essential-eight")]
    EssentialEight,
    /// APRA CPS 234.
    #[serde(rename = "apra-cps-234")]
    ApraCps234,
    /// CIS Microsoft 365 Foundations Benchmark.
    #[serde(rename = "cis-m365")]
    CisM365,
}

/// The answer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EvidenceFormat {
    /// JSON.
    Json,
    /// CSV (`text/csv`), one row per control.
    Csv,
}

/// One fact behind a control, from one of its checks.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvidenceFact {
    /// The baseline check that read it (`DS-01` ...).
    check: String,
    /// What was read.
    fact: String,
    /// Its value.
    value: String,
    /// The endpoint it came from.
    source: String,
}

/// A baseline check that evidences a control.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvidenceCheck {
    /// `DS-01` ...
    id: String,
    /// What the baseline requires.
    title: String,
    /// Its outcome.
    #[schema(value_type = String, example = "pass")]
    result: &'static str,
    /// The evidence in words.
    detail: String,
}

/// One control of a framework.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvidenceControl {
    /// The framework's reference (`CIS 5.2.2.1`, `E8: Multi-factor authentication`).
    id: String,
    /// What the control asks.
    title: String,
    /// `pass`, `fail`, `unknown` or `notApplicable` (fails when any of its checks fails).
    #[schema(value_type = String, example = "fail")]
    result: &'static str,
    /// The checks behind it.
    checks: Vec<EvidenceCheck>,
    /// The facts behind it and where each came from.
    evidence: Vec<EvidenceFact>,
}

/// One framework's score and controls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvidenceFramework {
    /// `essential-eight`, `apra-cps-234` or `cis-m365`.
    framework: &'static str,
    /// Its display name.
    name: String,
    /// passes / (passes + fails) in percent, one decimal; null when nothing was evaluated.
    score: Option<f64>,
    /// Controls that pass.
    passed: u64,
    /// Controls that fail.
    failed: u64,
    /// Controls that could not be evaluated.
    unknown: u64,
    /// Controls that do not apply (outside the score).
    not_applicable: u64,
    /// Every control docsync evidences (empty for snapshots collected before docsync kept
    /// per-control results: push the tenant again).
    controls: Vec<EvidenceControl>,
}

/// A tenant's evidence.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantEvidence {
    /// The docsync tenant id.
    tenant_id: Uuid,
    /// The tenant's name when the snapshot was collected.
    tenant_name: String,
    /// The snapshot read.
    snapshot_id: Uuid,
    /// When it was collected.
    collected_at: DateTime<Utc>,
    /// Each framework asked for.
    frameworks: Vec<EvidenceFramework>,
}

/// Every tenant's evidence.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountEvidence {
    /// Each tenant with a snapshot, by name.
    tenants: Vec<TenantEvidence>,
    /// Tenants of the account with no snapshot yet (nothing to export).
    tenants_without_snapshot: Vec<Uuid>,
}

/// What the query asks for.
struct Wanted {
    frameworks: Vec<(&'static str, &'static str)>,
    format: EvidenceFormat,
}

fn wanted(query: &HashMap<String, String>) -> Result<Wanted, ApiError> {
    let mut bad = Vec::new();
    for key in query
        .keys()
        .filter(|k| !matches!(k.as_str(), "framework" | "format"))
    {
        bad.push(FieldError {
            field: key.clone(),
            message: "unknown query parameter: the parameters are framework and format".into(),
        });
    }
    let frameworks = match query.get("framework") {
        None => FRAMEWORKS.to_vec(),
        Some(raw) => match FRAMEWORKS.iter().find(|(slug, _)| *slug == raw.trim()) {
            Some(f) => vec![*f],
            None => {
                bad.push(FieldError {
                    field: "framework".into(),
                    message: format!(
                        "must be essential-eight, apra-cps-234 or cis-m365 (or left out for all), got {raw:?}"
                    ),
                });
                Vec::new()
            }
        },
    };
    let format = match query.get("format").map(|f| f.trim()) {
        None | Some("json") => EvidenceFormat::Json,
        Some("csv") => EvidenceFormat::Csv,
        Some(raw) => {
            bad.push(FieldError {
                field: "format".into(),
                message: format!("must be json or csv, got {raw:?}"),
            });
            EvidenceFormat::Json
        }
    };
    if bad.is_empty() {
        Ok(Wanted { frameworks, format })
    } else {
        Err(ApiError::Invalid(bad))
    }
}

fn control(c: &ControlResult, baselines: &[BaselineResult]) -> EvidenceControl {
    let checks: Vec<&BaselineResult> = c
        .checks
        .iter()
        .filter_map(|id| baselines.iter().find(|b| &b.id == id))
        .collect();
    EvidenceControl {
        id: c.id.clone(),
        title: c.title.clone(),
        result: c.result.as_str(),
        evidence: checks
            .iter()
            .flat_map(|b| {
                b.evidence.iter().map(|e| EvidenceFact {
                    check: b.id.clone(),
                    fact: e.fact.clone(),
                    value: e.value.clone(),
                    source: e.source.clone(),
                })
            })
            .collect(),
        checks: checks
            .iter()
            .map(|b| EvidenceCheck {
                id: b.id.clone(),
                title: b.title.clone(),
                result: b.outcome.as_str(),
                detail: b.detail.clone(),
            })
            .collect(),
    }
}

fn framework(
    slug: &'static str,
    score: &FrameworkScore,
    baselines: &[BaselineResult],
) -> EvidenceFramework {
    EvidenceFramework {
        framework: slug,
        name: score.framework.clone(),
        score: score.percent,
        passed: score.passed,
        failed: score.failed,
        unknown: score.unknown,
        not_applicable: score.not_applicable,
        controls: score
            .controls
            .iter()
            .map(|c| control(c, baselines))
            .collect(),
    }
}

fn tenant_evidence(stored: &StoredSnapshot, wanted: &Wanted) -> TenantEvidence {
    let s = &stored.snapshot;
    TenantEvidence {
        tenant_id: s.tenant_id.0,
        tenant_name: s.tenant_name.clone(),
        snapshot_id: stored.id.0,
        collected_at: s.collected_at,
        frameworks: wanted
            .frameworks
            .iter()
            .filter_map(|(slug, name)| {
                s.compliance
                    .frameworks
                    .iter()
                    .find(|f| f.framework == *name)
                    .map(|f| framework(slug, f, &s.standards.baselines))
            })
            .collect(),
    }
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'`.
pub(crate) fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The CSV columns, one row per tenant x framework control.
const CSV_HEADER: [&str; 12] = [
    "tenantId",
    "tenantName",
    "snapshotId",
    "collectedAt",
    "framework",
    "score",
    "controlId",
    "controlTitle",
    "result",
    "checks",
    "detail",
    "evidence",
];

fn csv_rows(t: &TenantEvidence) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for f in &t.frameworks {
        for c in &f.controls {
            let checks = c
                .checks
                .iter()
                .map(|k| format!("{} {}", k.id, k.result))
                .collect::<Vec<_>>()
                .join("; ");
            let detail = c
                .checks
                .iter()
                .map(|k| format!("{}: {}", k.id, k.detail))
                .collect::<Vec<_>>()
                .join("\n");
            let evidence = c
                .evidence
                .iter()
                .map(|e| format!("{}: {} = {} ({})", e.check, e.fact, e.value, e.source))
                .collect::<Vec<_>>()
                .join("\n");
            rows.push(vec![
                t.tenant_id.to_string(),
                t.tenant_name.clone(),
                t.snapshot_id.to_string(),
                t.collected_at.to_rfc3339(),
                f.framework.to_owned(),
                f.score.map(|s| s.to_string()).unwrap_or_default(),
                c.id.clone(),
                c.title.clone(),
                c.result.to_owned(),
                checks,
                detail,
                evidence,
            ]);
        }
    }
    rows
}

fn csv_response(tenants: &[TenantEvidence], filename: &str) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    writer.write_record(CSV_HEADER).map_err(internal)?;
    for t in tenants {
        for row in csv_rows(t) {
            writer
                .write_record(row.iter().map(|cell| guard(cell)))
                .map_err(internal)?;
        }
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/tenants/{id}/evidence",
    operation_id = "getTenantEvidence",
    tag = "tenants",
    summary = "The evidence behind a tenant's compliance scores",
    description = "Needs the TENANTS_READ permission. From the tenant's latest snapshot: per framework its score (passes / (passes + fails), the one its Hudu article and IT Glue asset show), and every control with its result (pass, fail, unknown, notApplicable), the baseline checks behind it and the facts they read with the endpoint each came from. `format=csv` gives one row per control. Any other query parameter is a 400 naming it.",
    params(crate::tenants::TenantIdPath, EvidenceQuery),
    responses(
        (status = 200, description = "the evidence", content(
            (TenantEvidence = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, description = "no such tenant in this account, or no snapshot of it yet (push it first)", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = caller.require(Permission::TenantsRead)?;
    let id = parse_tenant_id(&id);
    let wanted = wanted(&query);
    let (id, wanted) = match (id, wanted) {
        (Ok(id), Ok(w)) => (id, w),
        (Err(ApiError::Invalid(mut a)), Err(ApiError::Invalid(b))) => {
            a.extend(b);
            return Err(ApiError::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    state
        .store
        .tenant(account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no tenant {id} in this account")))?;
    let stored = state.store.latest_snapshot(account, id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "tenant {id} has no posture snapshot yet: push it (POST /integrations/{{provider}}/push/{id}) and try again"
        ))
    })?;
    let evidence = tenant_evidence(&stored, &wanted);
    match wanted.format {
        EvidenceFormat::Json => Ok(Json(evidence).into_response()),
        EvidenceFormat::Csv => csv_response(
            std::slice::from_ref(&evidence),
            &format!("docsync-evidence-{id}.csv"),
        ),
    }
}

#[utoipa::path(
    get,
    path = "/evidence",
    operation_id = "getAccountEvidence",
    tag = "tenants",
    summary = "The evidence of every tenant of the account, for an auditor's spreadsheet",
    description = "Needs the TENANTS_READ permission. Like `GET /tenants/{id}/evidence` for every tenant of the account with a snapshot, from each one's latest; tenants not collected yet are listed apart (JSON) and have no rows (CSV). `format=csv` gives one CSV with one row per tenant x control. Any other query parameter is a 400 naming it.",
    params(EvidenceQuery),
    responses(
        (status = 200, description = "the evidence", content(
            (AccountEvidence = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::openapi::BadRequest),
    )
)]
pub(crate) async fn account(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = caller.require(Permission::TenantsRead)?;
    let wanted = wanted(&query)?;
    let tenants = state.store.tenants(account).await?;
    let snapshots: HashMap<Uuid, StoredSnapshot> = state
        .store
        .latest_snapshots(account)
        .await?
        .into_iter()
        .map(|s| (s.snapshot.tenant_id.0, s))
        .collect();
    let mut found: Vec<TenantEvidence> = Vec::new();
    let mut missing = Vec::new();
    for t in &tenants {
        match snapshots.get(&t.id.0) {
            Some(stored) => {
                let mut e = tenant_evidence(stored, &wanted);
                e.tenant_name = t.name.clone();
                found.push(e);
            }
            None => missing.push(t.id.0),
        }
    }
    found.sort_by(|a, b| {
        a.tenant_name
            .to_lowercase()
            .cmp(&b.tenant_name.to_lowercase())
            .then(a.tenant_id.cmp(&b.tenant_id))
    });
    match wanted.format {
        EvidenceFormat::Json => Ok(Json(AccountEvidence {
            tenants: found,
            tenants_without_snapshot: missing,
        })
        .into_response()),
        EvidenceFormat::Csv => csv_response(&found, "docsync-evidence.csv"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for risky in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"] {
            assert!(guard(risky).starts_with('\''), "{risky}");
        }
        assert_eq!(guard("CIS 2.1.7"), "CIS 2.1.7");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn the_query_names_each_bad_field() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let fields = |r: Result<Wanted, ApiError>| match r {
            Err(ApiError::Invalid(f)) => {
                let mut names: Vec<String> = f.into_iter().map(|f| f.field).collect();
                names.sort();
                names
            }
            _ => vec![],
        };
        assert_eq!(
            fields(wanted(&q(&[("framework", "iso-27001"), ("format", "xml")]))),
            ["format", "framework"]
        );
        assert_eq!(fields(wanted(&q(&[("tenant", "x")]))), ["tenant"]);
        let w = wanted(&q(&[("framework", "cis-m365"), ("format", "csv")])).ok();
        assert!(w.is_some_and(
            |w| w.frameworks == [("cis-m365", "CIS M365")] && w.format == EvidenceFormat::Csv
        ));
        assert!(wanted(&q(&[])).is_ok_and(|w| w.frameworks.len() == 3));
    }
}
