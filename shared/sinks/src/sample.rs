//! An example snapshot of made-up facts (every kind of section, one unavailable): templates
//! are checked against it when an integration is saved, and the README's example is rendered
//! from it. Never written anywhere.

use docsync_domain::snapshot::{
    AntiPhishPolicy, AuthenticationMethod, AuthenticationMethods, BaselineResult, CaPolicy,
    CheckOutcome, ComplianceScores, ConditionalAccessSummary, CopilotSummary, DkimDomain,
    ExchangePosture, FrameworkScore, LicenceLine, MfaAdoption, Section, StandardsStatus,
    TenantMetadata,
};
use docsync_domain::{Snapshot, TenantId};

/// The example snapshot (tenant "Contoso", collected 2024-06-01 08:00 UTC, Defender not
/// collected).
pub fn sample_snapshot() -> Snapshot {
    Snapshot {
        tenant_id: TenantId::new(),
        tenant_name: "Contoso".into(),
        microsoft_tenant_id: "0b6f5c1e-1111-2222-3333-444455556666".into(),
        collected_at: chrono::DateTime::from_timestamp(1_717_228_800, 0).unwrap_or_default(),
        metadata: Section::collected(TenantMetadata {
            display_name: "Contoso".into(),
            primary_domain: "contoso.com.au".into(),
            verified_domains: vec!["contoso.com.au".into(), "contoso.onmicrosoft.com".into()],
            licences: vec![LicenceLine {
                sku_part_number: "SPE_E3".into(),
                consumed: 48,
                enabled: 50,
            }],
            user_count: 2637,
        }),
        mfa: Section::collected(MfaAdoption {
            users: 2637,
            registered: 2187,
            percent: 82.9,
            admins: 3,
            admins_registered: 2,
            admins_without_mfa: vec!["bob@contoso.com.au".into()],
            guests: 12,
            guests_registered: 4,
        }),
        conditional_access: Section::collected(ConditionalAccessSummary {
            policy_count: 1,
            enabled: 1,
            report_only: 0,
            disabled: 0,
            policies: vec![CaPolicy {
                name: "Block <legacy> & co".into(),
                state: "enabled".into(),
                target_users: "All users".into(),
                all_users: true,
                all_applications: true,
                include_applications: vec!["All".into()],
                include_roles: vec![],
                exclude_users: vec![],
                exclude_groups: vec![],
                exclude_roles: vec![],
                client_app_types: vec!["exchangeActiveSync".into(), "other".into()],
                sign_in_risk_levels: vec![],
                user_risk_levels: vec![],
                grant_controls: vec!["block".into()],
                grant_operator: "OR".into(),
            }],
            key_gaps: vec!["No enabled policy requires MFA for all users".into()],
        }),
        authentication_methods: Section::collected(AuthenticationMethods {
            methods: vec![
                AuthenticationMethod { id: "MicrosoftAuthenticator".into(), state: "enabled".into() },
                AuthenticationMethod { id: "Sms".into(), state: "disabled".into() },
            ],
        }),
        defender: Section::unavailable(
            "Graph answered 403 Forbidden for /v1.0/security/incidents: grant SecurityIncident.Read.All",
        ),
        exchange: Section::collected(ExchangePosture {
            dkim: vec![DkimDomain {
                domain: "contoso.com.au".into(),
                enabled: true,
            }],
            anti_phish_policies: vec![AntiPhishPolicy {
                name: "Office365 AntiPhish Default".into(),
                enabled: true,
                impersonation_protection: true,
            }],
            unified_audit_enabled: true,
        }),
        copilot: Section::collected(CopilotSummary {
            licences: 10,
            assigned: 8,
            active_users: 5,
            idle_seats: 3,
            prompt_audit_enabled: Some(true),
        }),
        standards: StandardsStatus {
            baselines: vec![BaselineResult {
                id: "DS-03".into(),
                title: "An enabled Conditional Access policy requires MFA for all users".into(),
                outcome: CheckOutcome::Fail,
                detail: "No enabled policy requires MFA for all users".into(),
                essential_eight: vec!["E8: Multi-factor authentication".into()],
                apra_cps234: vec![],
                cis_m365: vec!["CIS 5.2.2.2".into()],
                evidence: Vec::new(),
            }],
            applied: 0,
            open_drift: vec!["DS-03".into()],
            unknown: 0,
            not_applicable: 0,
        },
        compliance: ComplianceScores {
            frameworks: vec![FrameworkScore {
                framework: "Essential Eight".into(),
                passed: 3,
                failed: 1,
                unknown: 0,
                percent: Some(75.0),
                not_applicable: 0,
                controls: Vec::new(),
            }],
        },
        transient_gaps: Vec::new(),
    }
}
