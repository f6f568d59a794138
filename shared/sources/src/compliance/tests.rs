//! Table-driven tests: every check passes on a well-run tenant, fails on a neglected one and
//! is unknown when nothing was collected; edge cases follow.

use super::*;
use docsync_domain::snapshot::{AntiPhishPolicy, CaPolicy, DkimDomain, Incident, LicenceLine};
use CheckOutcome::{Fail, Pass, Unknown};

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
        let (status, _) = evaluate(&self.facts());
        status
            .baselines
            .iter()
            .find(|b| b.id == id)
            .map(|b| b.outcome)
            .unwrap_or_else(|| panic!("no check {id}"))
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
        include_roles: (0..roles).map(|i| format!("role-{i}")).collect(),
        client_app_types: apps.iter().map(|s| (*s).to_owned()).collect(),
        sign_in_risk_levels: if sign_in { vec!["high".into()] } else { vec![] },
        user_risk_levels: if user { vec!["high".into()] } else { vec![] },
        grant_controls: grant.iter().map(|s| (*s).to_owned()).collect(),
    }
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
            Pass,
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
            Pass,
        ),
        (
            "DS-15",
            Box::new(|o| o.copilot = Section::collected(copilot(10, 3, Some(true)))),
            Fail,
        ),
        (
            "DS-16",
            Box::new(|o| o.copilot = Section::collected(copilot(0, 0, None))),
            Pass,
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
            Pass,
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
