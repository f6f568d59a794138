//! Table-driven tests: every check passes on a well-run tenant, fails on a neglected one and
//! is unknown when nothing was collected; edge cases, not-applicable controls, what a
//! Conditional Access policy really enforces, and the evidence each result keeps follow.

use super::*;
use docsync_domain::snapshot::{AntiPhishPolicy, CaPolicy, DkimDomain, Incident, LicenceLine};
use CheckOutcome::{Fail, NotApplicable, Pass, Unknown};

struct Owned {
    metadata: Section<TenantMetadata>,
    mfa: Section<MfaAdoption>,
    ca: Section<ConditionalAccessSummary>,
    defender: Section<DefenderSurface>,
    exchange: Section<ExchangePosture>,
    copilot: Section<CopilotSummary>,
}

impl Owned {
    fn facts(&self) -> PostureFacts<'_> {
        PostureFacts {
            metadata: &self.metadata,
            mfa: &self.mfa,
            conditional_access: &self.ca,
            defender: &self.defender,
            exchange: &self.exchange,
            copilot: &self.copilot,
        }
    }

    fn outcome(&self, id: &str) -> CheckOutcome {
        self.result(id).outcome
    }

    fn result(&self, id: &str) -> BaselineResult {
        let (status, _) = evaluate(&self.facts());
        status
            .baselines
            .into_iter()
            .find(|b| b.id == id)
            .unwrap_or_else(|| panic!("no check {id}"))
    }

    fn set_policies(&mut self, policies: Vec<CaPolicy>) {
        self.ca = Section::collected(ca_summary(policies));
    }
}

#[allow(clippy::too_many_arguments)]
fn policy(
    name: &str,
    state: &str,
    all: bool,
    roles: usize,
    apps: &[&str],
    sign_in: bool,
    user: bool,
    grant: &[&str],
) -> CaPolicy {
    CaPolicy {
        name: name.into(),
        state: state.into(),
        target_users: String::new(),
        all_users: all,
        all_applications: true,
        include_applications: vec!["All".into()],
        include_roles: (0..roles).map(|i| format!("role-{i}")).collect(),
        exclude_users: vec![],
        exclude_groups: vec![],
        exclude_roles: vec![],
        client_app_types: apps.iter().map(|s| (*s).to_owned()).collect(),
        sign_in_risk_levels: if sign_in { vec!["high".into()] } else { vec![] },
        user_risk_levels: if user { vec!["high".into()] } else { vec![] },
        grant_controls: grant.iter().map(|s| (*s).to_owned()).collect(),
        grant_operator: "OR".into(),
    }
}

/// An enabled MFA policy for all users and all apps (change it to test a rule).
fn mfa_everyone() -> CaPolicy {
    policy(
        "MFA everyone",
        "enabled",
        true,
        0,
        &["all"],
        false,
        false,
        &["mfa"],
    )
}

/// An enabled MFA policy for admin roles on all apps.
fn mfa_admins() -> CaPolicy {
    policy(
        "MFA admins",
        "enabled",
        false,
        14,
        &["all"],
        false,
        false,
        &["mfa"],
    )
}

/// Only one app (Exchange Online) instead of every cloud app.
fn one_app(mut p: CaPolicy) -> CaPolicy {
    p.all_applications = false;
    p.include_applications = vec!["00000002-0000-0ff1-ce00-000000000000".into()];
    p
}

fn ca_summary(policies: Vec<CaPolicy>) -> ConditionalAccessSummary {
    let n = |s: &str| policies.iter().filter(|p| p.state == s).count() as u64;
    ConditionalAccessSummary {
        policy_count: policies.len() as u64,
        enabled: n("enabled"),
        report_only: n("enabledForReportingButNotEnforced"),
        disabled: n("disabled"),
        key_gaps: crate::sections::conditional_access::key_gaps(&policies),
        policies,
    }
}

fn mfa(users: u64, registered: u64, admins: u64, admins_registered: u64) -> MfaAdoption {
    MfaAdoption {
        users,
        registered,
        percent: crate::sections::mfa::percent_one_decimal(registered, users),
        admins,
        admins_registered,
        admins_without_mfa: vec![],
        guests: 0,
        guests_registered: 0,
    }
}

fn metadata() -> TenantMetadata {
    TenantMetadata {
        display_name: "Contoso".into(),
        primary_domain: "contoso.com".into(),
        verified_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
        licences: vec![LicenceLine {
            sku_part_number: "Microsoft_365_Copilot".into(),
            consumed: 10,
            enabled: 10,
        }],
        user_count: 100,
    }
}

fn copilot(assigned: u64, idle: u64, audit: Option<bool>) -> CopilotSummary {
    CopilotSummary {
        licences: assigned,
        assigned,
        active_users: assigned - idle,
        idle_seats: idle,
        prompt_audit_enabled: audit,
    }
}

fn well_run() -> Owned {
    Owned {
        metadata: Section::collected(metadata()),
        mfa: Section::collected(mfa(100, 96, 3, 3)),
        ca: Section::collected(ca_summary(vec![
            policy(
                "Block legacy",
                "enabled",
                true,
                0,
                &["exchangeActiveSync", "other"],
                false,
                false,
                &["block"],
            ),
            policy(
                "MFA everyone",
                "enabled",
                true,
                0,
                &["all"],
                false,
                false,
                &["mfa"],
            ),
            policy(
                "MFA admins",
                "enabled",
                false,
                14,
                &["all"],
                false,
                false,
                &["mfa"],
            ),
            policy(
                "Risky sign-in",
                "enabled",
                true,
                0,
                &["all"],
                true,
                false,
                &["mfa"],
            ),
            policy(
                "Risky user",
                "enabled",
                true,
                0,
                &["all"],
                false,
                true,
                &["passwordChange", "mfa"],
            ),
        ])),
        defender: Section::collected(DefenderSurface {
            active_high_incidents: vec![],
            secure_score: 70.0,
            secure_score_max: 100.0,
            open_recommendations: vec![],
            open_recommendation_count: 0,
        }),
        exchange: Section::collected(ExchangePosture {
            dkim: vec![
                DkimDomain {
                    domain: "contoso.com".into(),
                    enabled: true,
                },
                DkimDomain {
                    domain: "contoso.onmicrosoft.com".into(),
                    enabled: false,
                },
            ],
            anti_phish_policies: vec![AntiPhishPolicy {
                name: "Default".into(),
                enabled: true,
                impersonation_protection: true,
            }],
            unified_audit_enabled: true,
        }),
        copilot: Section::collected(copilot(10, 2, Some(true))),
    }
}

fn neglected() -> Owned {
    Owned {
        metadata: Section::collected(metadata()),
        mfa: Section::collected(mfa(100, 50, 6, 5)),
        ca: Section::collected(ca_summary(vec![
            policy(
                "MFA everyone (pilot)",
                "enabledForReportingButNotEnforced",
                true,
                0,
                &["all"],
                false,
                false,
                &["mfa"],
            ),
            policy(
                "Old block",
                "disabled",
                true,
                0,
                &["other"],
                false,
                false,
                &["block"],
            ),
        ])),
        defender: Section::collected(DefenderSurface {
            active_high_incidents: vec![Incident {
                id: "7".into(),
                title: "Ransomware".into(),
                created: "2024-06-01".into(),
            }],
            secure_score: 30.0,
            secure_score_max: 100.0,
            open_recommendations: vec![],
            open_recommendation_count: 40,
        }),
        exchange: Section::collected(ExchangePosture {
            dkim: vec![DkimDomain {
                domain: "contoso.com".into(),
                enabled: false,
            }],
            anti_phish_policies: vec![AntiPhishPolicy {
                name: "Default".into(),
                enabled: true,
                impersonation_protection: false,
            }],
            unified_audit_enabled: false,
        }),
        copilot: Section::collected(copilot(10, 5, Some(false))),
    }
}

fn nothing() -> Owned {
    let gone = || "Graph answered 403";
    Owned {
        metadata: Section::unavailable(gone()),
        mfa: Section::unavailable(gone()),
        ca: Section::unavailable(gone()),
        defender: Section::unavailable(gone()),
        exchange: Section::unavailable(gone()),
        copilot: Section::unavailable(gone()),
    }
}

#[test]
fn every_check_passes_fails_and_is_unknown() {
    let (good, bad, none) = (well_run(), neglected(), nothing());
    for check in baseline_catalog() {
        assert_eq!(
            good.outcome(check.id),
            Pass,
            "{} on a well-run tenant",
            check.id
        );
        assert_eq!(
            bad.outcome(check.id),
            Fail,
            "{} on a neglected tenant",
            check.id
        );
        assert_eq!(
            none.outcome(check.id),
            Unknown,
            "{} with nothing collected",
            check.id
        );
    }
}

#[test]
fn totals_and_scores_follow_the_outcomes() {
    let (status, scores) = evaluate(&well_run().facts());
    assert_eq!(status.applied as usize, baseline_catalog().len());
    assert!(status.open_drift.is_empty());
    assert!(scores.frameworks.iter().all(|f| f.percent == Some(100.0)));

    let (status, scores) = evaluate(&neglected().facts());
    assert_eq!(status.open_drift.len(), baseline_catalog().len());
    assert_eq!(status.open_drift[0], "DS-01");
    assert!(scores.frameworks.iter().all(|f| f.percent == Some(0.0)));

    let (status, scores) = evaluate(&nothing().facts());
    assert_eq!(status.unknown as usize, baseline_catalog().len());
    assert!(scores.frameworks.iter().all(|f| f.percent.is_none()));
    let names: Vec<&str> = scores
        .frameworks
        .iter()
        .map(|f| f.framework.as_str())
        .collect();
    assert_eq!(names, [FRAMEWORK_E8, FRAMEWORK_APRA, FRAMEWORK_CIS]);
}

#[test]
fn every_check_maps_to_a_framework_or_is_documented_hygiene() {
    for check in baseline_catalog() {
        let mapped = !check.essential_eight.is_empty()
            || !check.apra_cps234.is_empty()
            || !check.cis_m365.is_empty();
        assert!(mapped || check.id == "DS-15", "{} has no mapping", check.id);
    }
}

/// A change to a well-run tenant.
type Change = Box<dyn Fn(&mut Owned)>;

#[test]
fn edge_cases() {
    let cases: Vec<(&str, Change, CheckOutcome)> = vec![
        (
            "DS-01",
            Box::new(|o| o.mfa = Section::collected(mfa(10, 10, 0, 0))),
            Unknown,
        ),
        (
            "DS-02",
            Box::new(|o| o.mfa = Section::collected(mfa(1000, 950, 3, 3))),
            Pass,
        ),
        (
            "DS-02",
            Box::new(|o| o.mfa = Section::collected(mfa(1000, 949, 3, 3))),
            Fail,
        ),
        (
            "DS-02",
            Box::new(|o| o.mfa = Section::collected(mfa(0, 0, 0, 0))),
            Unknown,
        ),
        (
            "DS-09",
            Box::new(|o| o.mfa = Section::collected(mfa(10, 10, 1, 1))),
            Fail,
        ),
        (
            "DS-09",
            Box::new(|o| o.mfa = Section::collected(mfa(10, 10, 2, 2))),
            Pass,
        ),
        (
            "DS-09",
            Box::new(|o| o.mfa = Section::collected(mfa(10, 10, 4, 4))),
            Pass,
        ),
        (
            "DS-09",
            Box::new(|o| o.mfa = Section::collected(mfa(10, 10, 5, 5))),
            Fail,
        ),
        // A verified custom domain with no DKIM configuration at all is not signing.
        (
            "DS-10",
            Box::new(|o| {
                if let Section::Collected { data } = &mut o.metadata {
                    data.verified_domains.push("fabrikam.com".into());
                }
            }),
            Fail,
        ),
        // Only *.onmicrosoft.com: nothing to sign.
        (
            "DS-10",
            Box::new(|o| {
                o.metadata = Section::unavailable("x");
                if let Section::Collected { data } = &mut o.exchange {
                    data.dkim.retain(|d| d.domain.ends_with(".onmicrosoft.com"));
                }
            }),
            NotApplicable,
        ),
        (
            "DS-14",
            Box::new(|o| {
                if let Section::Collected { data } = &mut o.defender {
                    data.secure_score_max = 0.0;
                }
            }),
            Unknown,
        ),
        (
            "DS-14",
            Box::new(|o| {
                if let Section::Collected { data } = &mut o.defender {
                    data.secure_score = 60.0;
                }
            }),
            Pass,
        ),
        (
            "DS-15",
            Box::new(|o| o.copilot = Section::collected(copilot(0, 0, None))),
            NotApplicable,
        ),
        (
            "DS-15",
            Box::new(|o| o.copilot = Section::collected(copilot(10, 3, Some(true)))),
            Fail,
        ),
        (
            "DS-16",
            Box::new(|o| o.copilot = Section::collected(copilot(0, 0, None))),
            NotApplicable,
        ),
        (
            "DS-16",
            Box::new(|o| o.copilot = Section::collected(copilot(10, 0, None))),
            Unknown,
        ),
        // A risk-conditioned MFA policy is not "MFA for all users".
        (
            "DS-03",
            Box::new(|o| {
                o.ca = Section::collected(ca_summary(vec![policy(
                    "Risky",
                    "enabled",
                    true,
                    0,
                    &["all"],
                    true,
                    false,
                    &["mfa"],
                )]));
            }),
            Fail,
        ),
        (
            "DS-05",
            Box::new(|o| {
                o.ca = Section::collected(ca_summary(vec![policy(
                    "Everyone",
                    "enabled",
                    true,
                    0,
                    &["all"],
                    false,
                    false,
                    &["authenticationStrength"],
                )]));
            }),
            Pass,
        ),
        (
            "DS-08",
            Box::new(|o| o.ca = Section::collected(ca_summary(vec![]))),
            Fail,
        ),
        (
            "DS-17",
            Box::new(|o| o.ca = Section::collected(ca_summary(vec![]))),
            NotApplicable,
        ),
    ];
    for (id, change, expected) in cases {
        let mut o = well_run();
        change(&mut o);
        assert_eq!(o.outcome(id), expected, "{id}");
    }
}

#[test]
fn the_documented_mapping_matches_the_catalogue() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/compliance-mapping.md"
    );
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    assert!(!doc.is_empty(), "docs/compliance-mapping.md is missing");
    for check in baseline_catalog() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", check.id)))
            .unwrap_or_else(|| panic!("{} is not documented", check.id));
        assert!(row.contains(check.title), "{} title differs", check.id);
        for reference in check
            .essential_eight
            .iter()
            .chain(check.apra_cps234)
            .chain(check.cis_m365)
        {
            assert!(row.contains(reference), "{} lacks {reference}", check.id);
        }
    }
}

// --- Not applicable is not a pass ---------------------------------------------------------

/// A well-run tenant without Copilot and without a custom domain.
fn no_copilot_no_domain() -> Owned {
    let mut o = well_run();
    o.copilot = Section::collected(copilot(0, 0, None));
    if let Section::Collected { data } = &mut o.metadata {
        data.verified_domains = vec!["contoso.onmicrosoft.com".into()];
    }
    if let Section::Collected { data } = &mut o.exchange {
        data.dkim.retain(|d| d.domain.ends_with(".onmicrosoft.com"));
    }
    o
}

#[test]
fn controls_that_do_not_apply_are_not_applicable_and_outside_the_scores() {
    let o = no_copilot_no_domain();
    for id in ["DS-10", "DS-15", "DS-16"] {
        assert_eq!(o.outcome(id), NotApplicable, "{id}");
    }
    let (status, scores) = evaluate(&o.facts());
    assert_eq!(status.not_applicable, 3);
    assert_eq!(status.applied as usize, baseline_catalog().len() - 3);
    assert!(!status.open_drift.iter().any(|id| id == "DS-10"));
    let cis = &scores.frameworks[2];
    // CIS 2.1.9 (DKIM) has only DS-10: not applicable, outside the score. CIS 3.1.1 has DS-12
    // (pass) and DS-16 (n/a): one pass.
    let dkim = cis.controls.iter().find(|c| c.id == "CIS 2.1.9").unwrap();
    assert_eq!(dkim.result, NotApplicable);
    let audit = cis.controls.iter().find(|c| c.id == "CIS 3.1.1").unwrap();
    assert_eq!((audit.result, audit.checks.len()), (Pass, 2));
    assert_eq!(cis.not_applicable, 1);
    assert_eq!(
        cis.passed + cis.failed + cis.unknown + cis.not_applicable,
        10
    );
    assert_eq!(cis.percent, Some(100.0));

    // The same tenant failing the audit check: one CIS failure (3.1.1), not two.
    let mut o = no_copilot_no_domain();
    o.copilot = Section::collected(copilot(10, 1, Some(false)));
    if let Section::Collected { data } = &mut o.exchange {
        data.unified_audit_enabled = false;
    }
    let (_, scores) = evaluate(&o.facts());
    let cis = &scores.frameworks[2];
    assert_eq!((cis.failed, cis.passed), (1, 8));
    assert_eq!(cis.percent, Some(88.9));
}

#[test]
fn every_framework_counts_each_control_once() {
    for tenant in [well_run(), neglected(), nothing(), no_copilot_no_domain()] {
        let (_, scores) = evaluate(&tenant.facts());
        for f in &scores.frameworks {
            let mut ids: Vec<&str> = f.controls.iter().map(|c| c.id.as_str()).collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "{} lists a control twice", f.framework);
            assert_eq!(
                (f.passed + f.failed + f.unknown + f.not_applicable) as usize,
                n,
                "{}",
                f.framework
            );
        }
    }
    let (_, scores) = evaluate(&well_run().facts());
    let sizes: Vec<usize> = scores.frameworks.iter().map(|f| f.controls.len()).collect();
    assert_eq!(sizes, [3, 4, 10]);
}

// --- What Conditional Access really enforces ----------------------------------------------

#[test]
fn a_policy_for_one_app_is_not_mfa_for_all_users_nor_for_admins() {
    let mut o = well_run();
    o.set_policies(vec![one_app(mfa_everyone()), one_app(mfa_admins())]);
    assert_eq!(o.outcome("DS-03"), Fail);
    assert_eq!(o.outcome("DS-05"), Fail);
    let r = o.result("DS-03");
    assert!(
        r.detail
            .contains("MFA everyone: does not cover all cloud apps"),
        "{}",
        r.detail
    );
    assert!(r.evidence.iter().any(|e| e
        .value
        .contains("apps 00000002-0000-0ff1-ce00-000000000000")));
    o.set_policies(vec![mfa_everyone()]);
    assert_eq!(o.outcome("DS-03"), Pass);
    assert_eq!(o.outcome("DS-05"), Pass, "all users include the admins");
}

#[test]
fn mfa_or_compliant_device_is_not_mfa_but_mfa_and_compliant_device_is() {
    let mut either = mfa_everyone();
    either.grant_controls = vec!["mfa".into(), "compliantDevice".into()];
    either.grant_operator = "OR".into();
    let mut o = well_run();
    o.set_policies(vec![either.clone()]);
    assert_eq!(o.outcome("DS-03"), Fail);
    assert_eq!(o.outcome("DS-05"), Fail);
    assert!(o
        .result("DS-03")
        .detail
        .contains("grant is mfa OR compliantDevice: MFA is not required"));
    let mut both = either;
    both.grant_operator = "AND".into();
    o.set_policies(vec![both]);
    assert_eq!(o.outcome("DS-03"), Pass);
    assert_eq!(o.outcome("DS-05"), Pass);
}

#[test]
fn report_only_policies_enforce_nothing() {
    let mut everyone = mfa_everyone();
    everyone.state = "enabledForReportingButNotEnforced".into();
    let mut admins = mfa_admins();
    admins.state = "enabledForReportingButNotEnforced".into();
    let mut o = well_run();
    o.set_policies(vec![everyone, admins]);
    for id in ["DS-03", "DS-05", "DS-08", "DS-17"] {
        assert_eq!(o.outcome(id), Fail, "{id}");
    }
    assert!(o
        .result("DS-03")
        .detail
        .contains("MFA everyone: report-only, not enforced"));
}

#[test]
fn exclusions_are_noted_in_the_detail_and_the_evidence() {
    let mut p = mfa_everyone();
    p.exclude_users = vec!["GuestsOrExternalUsers".into(), "break-glass-id".into()];
    p.exclude_roles = vec!["role-x".into()];
    let mut o = well_run();
    o.set_policies(vec![p]);
    let r = o.result("DS-03");
    assert_eq!(r.outcome, Pass);
    assert!(
        r.detail
            .contains("MFA everyone (excludes guests and external users, 1 user, 1 role)"),
        "{}",
        r.detail
    );
    assert!(r.evidence[0]
        .value
        .ends_with("excludes guests and external users, 1 user, 1 role"));
}

#[test]
fn legacy_block_and_risk_policies_need_all_users_and_all_apps() {
    let block = policy(
        "Block legacy",
        "enabled",
        true,
        0,
        &["exchangeActiveSync", "other"],
        false,
        false,
        &["block"],
    );
    let sign_in = policy(
        "Risky sign-in",
        "enabled",
        true,
        0,
        &["all"],
        true,
        false,
        &["mfa"],
    );
    let mut o = well_run();
    o.set_policies(vec![one_app(block.clone()), one_app(sign_in.clone())]);
    assert_eq!(o.outcome("DS-04"), Fail);
    assert_eq!(o.outcome("DS-06"), Fail);
    let mut pilot_block = block;
    pilot_block.all_users = false;
    pilot_block.target_users = "1 group".into();
    o.set_policies(vec![pilot_block, sign_in]);
    assert_eq!(o.outcome("DS-04"), Fail);
    assert!(o
        .result("DS-04")
        .detail
        .contains("targets 1 group, not all users"));
    assert_eq!(o.outcome("DS-06"), Pass);
}

// --- Anti-phish and MFA adoption --------------------------------------------------------------

#[test]
fn anti_phish_fails_without_an_enabled_protected_policy() {
    let mut o = well_run();
    if let Section::Collected { data } = &mut o.exchange {
        data.anti_phish_policies = vec![
            AntiPhishPolicy {
                name: "Default".into(),
                enabled: true,
                impersonation_protection: false,
            },
            AntiPhishPolicy {
                name: "Executives".into(),
                enabled: false,
                impersonation_protection: true,
            },
        ];
    }
    let r = o.result("DS-11");
    assert_eq!(r.outcome, Fail);
    assert_eq!(r.evidence.len(), 2);
    assert!(r.evidence[1].value.starts_with("Enabled false"));
    assert_eq!(r.evidence[1].source, checks::source::ANTI_PHISH);
}

#[test]
fn mfa_adoption_counts_members_and_reports_guests_apart() {
    let mut o = well_run();
    let mut m = mfa(100, 96, 3, 3);
    m.guests = 40;
    m.guests_registered = 2;
    o.mfa = Section::collected(m);
    let r = o.result("DS-02");
    assert_eq!(
        r.outcome, Pass,
        "40 unregistered guests do not fail members"
    );
    assert!(
        r.detail.contains("40 guests reported apart (2 registered)"),
        "{}",
        r.detail
    );
    assert!(r
        .evidence
        .iter()
        .any(|e| e.fact.starts_with("guest users") && e.value == "2 of 40"));
}

// --- Evidence -----------------------------------------------------------------------------

#[test]
fn every_result_keeps_its_facts_and_their_sources() {
    for tenant in [well_run(), neglected(), nothing(), no_copilot_no_domain()] {
        let (status, _) = evaluate(&tenant.facts());
        for b in &status.baselines {
            assert!(!b.evidence.is_empty(), "{} has no evidence", b.id);
            for e in &b.evidence {
                assert!(
                    e.source.starts_with("GET /") || e.source.starts_with("Exchange Online "),
                    "{}: {e:?}",
                    b.id
                );
                assert!(!e.fact.is_empty() && !e.value.is_empty(), "{}: {e:?}", b.id);
            }
        }
    }
    let r = well_run().result("DS-01");
    assert_eq!(r.evidence[0].fact, "administrators registered for MFA");
    assert_eq!(r.evidence[0].value, "3 of 3");
    assert_eq!(r.evidence[0].source, checks::source::REGISTRATION);
    let r = nothing().result("DS-12");
    assert_eq!(r.evidence[0].value, "not collected: Graph answered 403");
}

#[test]
fn snapshots_stored_before_evidence_still_read() {
    let old = r#"{"id":"DS-10","title":"t","outcome":"pass","detail":"d",
        "essentialEight":[],"apraCps234":["CPS 234 ¶21 (information security controls)"],"cisM365":["CIS 2.1.9"]}"#;
    let b: BaselineResult = serde_json::from_str(old).unwrap();
    assert!(b.evidence.is_empty());
    let score: docsync_domain::snapshot::FrameworkScore = serde_json::from_str(
        r#"{"framework":"CIS M365","passed":1,"failed":0,"unknown":0,"percent":100.0}"#,
    )
    .unwrap();
    assert!(score.controls.is_empty() && score.not_applicable == 0);
    let na = serde_json::to_string(&NotApplicable).unwrap();
    assert_eq!(na, r#""notApplicable""#);
    assert_eq!(
        serde_json::from_str::<CheckOutcome>(&na).unwrap(),
        NotApplicable
    );
}
